#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that portd serves WatchdogSec= of portd.service: run as systemd runs it, with
# WATCHDOG_USEC, WATCHDOG_PID and NOTIFY_SOCKET set, it sends WATCHDOG=1 on a datagram socket
# again and again, each ping well within the interval; with WATCHDOG_PID naming another process
# (the variables were meant for someone else) it sends none.
# Usage: test-watchdog.sh PORTD
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check the
# shell; exec leaves valgrind behind. The daemon's memory is checked by the integration tests.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_UNITS_REEXEC:-}" ]; then
        PORTD_UNITS_REEXEC=1 exec /bin/sh "$0" "$@"
fi

portd=$1

skip() {
        echo "SKIP: $*"
        exit 77
}
# A missing tool or build product is a failure, never a skip: CI installs and builds everything.
missing() {
        echo "FAIL: missing: $*"
        exit 1
}

command -v python3 >/dev/null 2>&1 || missing "python3 is not installed"
[ -x "$portd" ] || missing "the daemon is not built yet ($portd is missing)"

tmp=$(mktemp -d) || exit 1
daemon_pid=""
cleanup() {
        [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/root/etc" || exit 1
echo "http 80/tcp www" >"$tmp/root/etc/services"

# Binds the notification socket, signals readiness by creating it, and for SECONDS seconds
# writes one line per message: its arrival time in microseconds and its text.
cat >"$tmp/receive.py" <<'EOF'
import socket, sys, time
path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.monotonic() + seconds
with open(out, "w", buffering=1) as f:
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write("%d %s\n" % (time.monotonic_ns() // 1000, m.replace("\n", " ")))
EOF

# 1 s: a quarter of a second of slack (pings come at most 750 ms apart) for a machine busy
# with other tests, and still four or more pings in 4 s.
interval_usec=1000000
listen_seconds=4

# Runs the daemon for one listening period. $1: "self" (WATCHDOG_PID is the daemon's own
# pid, as systemd sets it) or "other" (the pid of this shell).
run() {
        rm -f "$tmp/notify.sock" "$tmp/notify.out" "$tmp/portd.sock"
        python3 "$tmp/receive.py" "$tmp/notify.sock" "$tmp/notify.out" "$listen_seconds" &
        receiver=$!
        i=0
        while [ ! -S "$tmp/notify.sock" ] && [ $i -lt 100 ]; do
                sleep 0.05
                i=$((i + 1))
        done
        [ -S "$tmp/notify.sock" ] || { echo "the notification receiver did not start"; exit 1; }
        if [ "$1" = self ]; then
                # exec keeps the pid: $$ of this sh is the daemon's.
                NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=$interval_usec \
                        sh -c 'WATCHDOG_PID=$$ exec "$@"' sh \
                        "$portd" --root "$tmp/root" --socket "$tmp/portd.sock" 2>>"$tmp/portd.log" &
        else
                NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=$interval_usec WATCHDOG_PID=$$ \
                        "$portd" --root "$tmp/root" --socket "$tmp/portd.sock" 2>>"$tmp/portd.log" &
        fi
        daemon_pid=$!
        wait "$receiver"
        kill "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_pid=""
}

failed=0

run self
if ! grep -q 'READY=1' "$tmp/notify.out"; then
        echo "not ok: no READY=1 from the daemon; it did not start:"
        cat "$tmp/portd.log"
        exit 1
fi
pings=$(grep -c ' WATCHDOG=1' "$tmp/notify.out")
# The longest gap between two pings, and from READY=1 to the first one.
max_gap=$(awk '/READY=1|WATCHDOG=1/ { if (last) { g = $1 - last; if (g > max) max = g } }
               / WATCHDOG=1/ { last = $1 } /READY=1/ && !last { last = $1 }
               END { print max + 0 }' "$tmp/notify.out")
echo "WATCHDOG_USEC=$interval_usec: $pings pings in ${listen_seconds} s, longest gap $max_gap us"
# sd-event pings between half and three quarters of the interval: at least 4 s / 750 ms,
# less one for the start.
if [ "$pings" -ge 4 ]; then
        echo "ok: WATCHDOG=1 arrives again and again"
else
        echo "not ok: only $pings WATCHDOG=1 in ${listen_seconds} s with a ${interval_usec} us watchdog"
        failed=1
fi
if [ "$max_gap" -gt 0 ] && [ "$max_gap" -lt $interval_usec ]; then
        echo "ok: no gap between pings reaches the interval"
else
        echo "not ok: a gap of $max_gap us between pings, the interval is $interval_usec us"
        failed=1
fi

run other
if grep -q 'WATCHDOG=1' "$tmp/notify.out"; then
        echo "not ok: WATCHDOG=1 sent although WATCHDOG_PID names another process"
        failed=1
elif grep -q 'READY=1' "$tmp/notify.out"; then
        echo "ok: no WATCHDOG=1 when WATCHDOG_PID names another process"
else
        echo "not ok: no READY=1 from the daemon in the second run"
        cat "$tmp/portd.log"
        failed=1
fi

if [ $failed -ne 0 ]; then
        echo "--- notifications"
        cat "$tmp/notify.out"
fi
exit $failed
