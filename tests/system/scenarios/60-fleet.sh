# An administrator manages portd across a fleet with the repository's Ansible role
# (contrib/ansible/site.yml, here with -c local on this one host): the role installs the packages
# from .deb files, checks the fleet's drop-ins with portctl verify before they land, names the
# override group and reports the digest. A second run changes nothing; a drop-in with a bad line
# fails the play and leaves the host exactly as it was (61-fleet-bad-dropin). The role's state
# stays for 61-fleet-bad-dropin and 62-fleet-digest, which removes it.

vars=/tmp/fleet-vars.json
. /in/fleet-lib.sh

# The role installs the packages itself: this host starts as one that never had them.
check "dpkg --purge takes portd and libnss-portd away" dpkg --purge libnss-portd portd
check "an on-call group and a member" sh -c 'groupadd oncall && useradd -M -G oncall alice'
# A vendor drop-in the fleet retires by masking it.
mkdir -p /usr/lib/services.d
printf 'vendor-thing\t6553/tcp\n' >/usr/lib/services.d/20-vendor.conf
cat >"$vars" <<EOV
{"portd_deb_files": ["/in/debs/portd.deb", "/in/debs/libnss-portd.deb"],
 "portd_masked_dropins": ["20-vendor.conf"]}
EOV

if play "$vars"; then ok "first run of site.yml succeeds"; else not_ok "first run of site.yml succeeds" "$(tail -40 "$fleet_log")"; fi
check_eq "first run: nothing failed" 0 "$(recap failed)"
[ "$(recap changed)" -gt 0 ] && ok "first run: changes the host" || not_ok "first run: changes the host" "$(grep '^localhost' "$fleet_log")"
check "first run: portd is installed" dpkg-query -W -f '${Status}' portd
check_eq "first run: libnss-portd is installed and on the services: line" \
        "services:       db portd [!UNAVAIL=return] files" "$(services_line)"
check_eq "first run: getent sees the fleet's entry" "fleet-api             8443/tcp api" \
        "$(getent services fleet-api/tcp)"
check_eq "first run: getent sees the team's entry" "payments-api          9443/tcp payments" \
        "$(getent services payments)"
check_eq "first run: the team's removal applies" 2 "$(getent services fleet-metrics/tcp >/dev/null; echo $?)"
check_eq "first run: the vendor drop-in is masked" /dev/null "$(readlink /etc/services.d/20-vendor.conf)"
check_eq "first run: its entry is gone" 2 "$(getent services vendor-thing >/dev/null; echo $?)"
check "first run: portd.conf names the on-call group" grep -qx 'Group=oncall' /etc/portd/portd.conf
check "first run: a member of the group may set an override" \
        runuser -u alice -- portctl set --runtime oncall-fix 7777/tcp
check "first run: and drop it" runuser -u alice -- portctl unset --runtime oncall-fix
check "first run: nobody else may" sh -c '! runuser -u nobody -- portctl set --runtime x 7778/tcp'
digest_a=$(digest_of)
check_eq "first run: the play reports portd's digest as the fact portd_digest" \
        "\"portd_digest\": \"$digest_a\"" "$(grep -o '"portd_digest": "[0-9a-f]*"' "$fleet_log")"

if play "$vars"; then ok "second run of site.yml succeeds"; else not_ok "second run of site.yml succeeds" "$(tail -40 "$fleet_log")"; fi
check_eq "second run: changed=0" 0 "$(recap changed)"
[ "$(recap changed)" = 0 ] || diag "$(grep -B3 '^changed:' "$fleet_log" | head -40)"
rm -f "$fleet_log"
