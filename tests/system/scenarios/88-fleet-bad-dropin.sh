# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator pushes a change in which one drop-in has a bad line, beside a good change to
# another, with the role (86-fleet applied it before): the play fails naming the file and line,
# neither file lands, and the host is exactly as it was.

vars=/tmp/fleet-vars-bad.json
. /in/fleet-lib.sh

# A bad line in one drop-in, beside a good change to another: neither lands.
before=$(host_state)
cat >"$vars" <<EOV
{"portd_deb_files": ["/in/debs/portd.deb", "/in/debs/libnss-portd.deb"],
 "portd_dropins": [
   {"name": "50-fleet.conf", "content": "fleet-api 8444/tcp api\n"},
   {"name": "70-broken.conf", "content": "good-one 7001/tcp\nbroken-line 70x1/tcp\n"}]}
EOV
if play "$vars"; then
        not_ok "a drop-in with a bad line fails the play" "$(tail -40 "$fleet_log")"
else
        ok "a drop-in with a bad line fails the play"
fi
check "the failure names the file and line" \
        grep -q '/etc/services.d/70-broken.conf:2: junk after the port number' "$fleet_log"
grep -q '70-broken.conf:2' "$fleet_log" || diag "$(tail -30 "$fleet_log")"
check_eq "the failed run changed nothing" 0 "$(recap changed)"
after=$(host_state)
if [ "$before" = "$after" ]; then
        ok "the host is exactly as it was (files, modes, packages, what portd serves)"
else
        not_ok "the host is exactly as it was (files, modes, packages, what portd serves)" \
                "$(diff <(echo "$before") <(echo "$after"))"
fi
check_eq "portd still serves the good state" "fleet-api             8443/tcp api" \
        "$(getent services fleet-api/tcp)"
rm -f "$vars" "$fleet_log"
