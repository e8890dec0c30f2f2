# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator runs `systemctl reload portd`: it returns only once the new generation
# serves (ExecReload= is `portctl reload`, which waits for the daemon's answer; a signal would
# return at once), so a script may look up what it just configured.

check_eq "ExecReload= is portctl reload" "/usr/bin/portctl reload" \
        "$(systemctl show -P ExecReload portd.service | sed -nE 's/.*argv\[\]=([^;]*[^ ]) *;.*/\1/p')"
generation() {
        portctl status | awk '/Generation:/ { print $2 }'
}
late=0
for i in $(seq 20); do
        before=$(generation)
        systemctl reload portd.service || not_ok "systemctl reload portd failed (round $i)"
        after=$(generation)
        [ "$after" = $((before + 1)) ] || late=$((late + 1))
done
check_eq "after each of 20 reloads, the next generation serves when systemctl returns" 0 "$late"

echo "site-backup 9102/tcp" >/etc/services.d/61-backup.conf
systemctl reload portd.service
check "what was just configured is served after systemctl reload" getent services site-backup
rm -f /etc/services.d/61-backup.conf
systemctl reload portd.service
