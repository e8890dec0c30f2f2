# SPDX-License-Identifier: LGPL-2.1-or-later
# An administrator manages portd across a fleet with the repository's Ansible role
# (contrib/ansible/site.yml, here with -c local on this one host): the role installs the packages
# from .deb files, checks the fleet's drop-ins with portctl verify before they land, names the
# override group and reports the digest. The role's state and its variables stay for the next
# fleet scenarios (87-fleet-rerun, 88-fleet-bad-dropin, 89-fleet-digest, which removes them).

. /in/fleet-lib.sh

# The role installs the packages itself: this host starts as one that never had them.
check "dpkg --purge takes portd and libnss-portd away" dpkg --purge libnss-portd portd
check "an on-call group and a member" sh -c 'groupadd oncall && useradd -M -G oncall alice'
# A vendor drop-in the fleet retires by masking it.
mkdir -p /usr/lib/services.d
printf 'vendor-thing\t6553/tcp\n' >/usr/lib/services.d/20-vendor.conf
cat >"$fleet_vars" <<EOV
{"portd_deb_files": ["/in/debs/portd.deb", "/in/debs/libnss-portd.deb"],
 "portd_masked_dropins": ["20-vendor.conf"]}
EOV

if play "$fleet_vars"; then
        ok "first run of site.yml succeeds"
else
        not_ok "first run of site.yml succeeds" "$(tail -40 "$fleet_log")"
fi
check_eq "first run: nothing failed" 0 "$(recap failed)"
if [ "$(recap changed)" -gt 0 ]; then
        ok "first run: changes the host"
else
        not_ok "first run: changes the host" "$(grep '^localhost' "$fleet_log")"
fi
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
rm -f "$fleet_log"
