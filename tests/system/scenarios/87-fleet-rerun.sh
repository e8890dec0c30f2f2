# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator runs the fleet's playbook again with nothing changed (86-fleet ran it first,
# with the same variables): the role finds the host as it should be and changes nothing.

. /in/fleet-lib.sh

if play "$fleet_vars"; then
        ok "second run of site.yml succeeds"
else
        not_ok "second run of site.yml succeeds" "$(tail -40 "$fleet_log")"
fi
check_eq "second run: changed=0" 0 "$(recap changed)"
[ "$(recap changed)" = 0 ] || diag "$(grep -B3 '^changed:' "$fleet_log" | head -40)"
rm -f "$fleet_log"
