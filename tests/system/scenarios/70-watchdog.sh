# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon hangs (here: SIGSTOP). systemd's watchdog notices within WatchdogSec=, kills it
# and starts it again. Programs keep getting answers throughout: from the snapshot they mapped,
# or from files when the daemon does not answer within the NSS module's deadline.
# The administrator shortens WatchdogSec= for the test, as a drop-in would.

mkdir -p /etc/systemd/system/portd.service.d
printf '[Service]\nWatchdogSec=3s\n' >/etc/systemd/system/portd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart portd.service
getent services http >/dev/null
pid=$(unit_prop portd.service MainPID)
restarted() {
        local now
        now=$(unit_prop portd.service MainPID)
        [ "$now" != 0 ] && [ "$now" != "$pid" ] && [ "$(systemctl is-active portd.service)" = active ]
}
lookups_start http/tcp ssh/tcp fleet-api/tcp
start=$(date +%s%N)
kill -STOP "$pid"
wait_until 20 restarted
took=$((($(date +%s%N) - start) / 1000000))
sleep 0.5
check "no lookup failed while the daemon hung and restarted ($(lookups_stop))" lookups_stop
check "the hung daemon was replaced (pid $pid, now $(unit_prop portd.service MainPID))" restarted
diag "SIGSTOP to a new daemon serving: $took ms (WatchdogSec=3s)"
check "within WatchdogSec= and a few seconds to restart (${took} ms)" test "$took" -lt 8000
check "the journal says the watchdog fired" \
        sh -c 'journalctl -u portd.service -o cat | grep -q "Watchdog timeout"'

rm -r /etc/systemd/system/portd.service.d
systemctl daemon-reload
systemctl restart portd.service
