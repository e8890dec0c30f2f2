# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator runs `systemctl reload portd`: it returns only once the new generation
# serves (ExecReload= is `portctl reload`, which waits for the daemon's answer; a signal would
# return at once), so a script may look up what it just configured. With a daemon that cannot
# answer for a moment, systemctl reload waits for it.

check_eq "ExecReload= is portctl reload" "/usr/bin/portctl reload" \
        "$(systemctl show -P ExecReload portd.service | sed -nE 's/.*argv\[\]=([^;]*[^ ]) *;.*/\1/p')"
# A database large enough that a reload takes a while (60,000 entries), so that returning early
# would show: the snapshot programs map (published beside the socket, replaced by a rename) must
# be the new one when systemctl returns, and the daemon must report the next generation.
awk 'BEGIN { for (p = 20000; p < 50000; p++) printf "bulk-%d %d/tcp\nbulk-%d %d/udp\n", p, p, p, p }' \
        >/etc/services.d/90-bulk.conf
wait_until 10 getent services bulk-49999
snapshot=/run/portd/io.portd.Services.snapshot
generation() {
        portctl status | awk '/Generation:/ { print $2 }'
}
late=0
start=$(date +%s%N)
for i in $(seq 20); do
        before=$(generation)
        inode=$(stat -c %i "$snapshot")
        systemctl reload portd.service || not_ok "systemctl reload portd failed (round $i)"
        [ "$(stat -c %i "$snapshot")" != "$inode" ] || late=$((late + 1))
        [ "$(generation)" = $((before + 1)) ] || late=$((late + 1))
done
diag "20 reloads of 60,000 entries: $((($(date +%s%N) - start) / 20000000)) ms each, with the checks"
check_eq "after each of 20 reloads, the new generation and its snapshot serve when systemctl returns" \
        0 "$late"

# A daemon that cannot answer (stopped here for a second) holds systemctl reload until it can.
pid=$(unit_prop portd.service MainPID)
before=$(generation)
kill -STOP "$pid"
systemctl reload portd.service &
reload=$!
sleep 1
if kill -0 "$reload" 2>/dev/null; then
        ok "systemctl reload waits while the daemon cannot reload"
else
        not_ok "systemctl reload returned while the daemon was stopped"
fi
kill -CONT "$pid"
wait "$reload"
check_eq "and succeeds once it has, with the next generation serving" "0 $((before + 1))" "$? $(generation)"
rm -f /etc/services.d/90-bulk.conf

echo "site-backup 9102/tcp" >/etc/services.d/61-backup.conf
systemctl reload portd.service
check "what was just configured is served after systemctl reload" getent services site-backup
rm -f /etc/services.d/61-backup.conf
systemctl reload portd.service
