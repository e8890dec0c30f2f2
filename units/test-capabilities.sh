#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that CapabilityBoundingSet= in portd.service is exactly what owner queries need: with
# that bounding set, root asking "portctl who" sees the process of a listener run by another
# user, and one in another network namespace; with any one of those capabilities taken away,
# one of the two is no longer seen. Also that only the owner-query side holds them: the main
# process, which serves the lookups, holds none at all. The daemon runs under setpriv with the unit's bounding set,
# as systemd would run it (root, no ambient or inheritable capabilities, no_new_privs).
# Usage: test-capabilities.sh SOURCE_DIR PORTD PORTCTL
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check the
# shell; exec leaves valgrind behind. The daemon's memory is checked by the integration tests.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_UNITS_REEXEC:-}" ]; then
        PORTD_UNITS_REEXEC=1 exec /bin/sh "$0" "$@"
fi

srcdir=$1
portd=$2
portctl=$3

skip() {
        echo "SKIP: $*"
        exit 77
}
# A missing tool or build product is a failure, never a skip: CI installs and builds everything.
missing() {
        echo "FAIL: missing: $*"
        exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (to run listeners as another user and in another network namespace)"
for tool in setpriv unshare perl ip; do
        command -v "$tool" >/dev/null 2>&1 || missing "$tool is not installed"
done
[ -x "$portd" ] || missing "the daemon is not built yet ($portd is missing)"
[ -x "$portctl" ] || missing "portctl is not built yet ($portctl is missing)"

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$srcdir/portd.service.in")
if [ -z "$caps" ]; then
        echo "no CapabilityBoundingSet= in portd.service.in"
        exit 1
fi

tmp=$(mktemp -d) || exit 1
chmod 0755 "$tmp"
pids=""
cleanup() {
        for p in $pids; do
                kill "$p" 2>/dev/null
        done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/root/etc" || exit 1
cp /etc/services "$tmp/root/etc/services" 2>/dev/null || : >"$tmp/root/etc/services"

# A TCP listener on a free loopback port; it prints the port. The shell opens the output file
# as root before the listener drops its privileges.
listener='$| = 1;
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 5) or die "listen: $!";
print $s->sockport, "\n";
sleep 600;'

wait_for_file() {
        i=0
        while [ ! -s "$1" ] && [ $i -lt 50 ]; do
                sleep 0.1
                i=$((i + 1))
        done
        [ -s "$1" ]
}

setpriv --reuid=65534 --regid=65534 --clear-groups perl -e "$listener" >"$tmp/user.port" &
user_pid=$!
pids="$pids $user_pid"

if ! unshare -n true 2>/dev/null; then
        skip "cannot create a network namespace here (unshare -n)"
fi
unshare -n sh -c 'ip link set lo up && exec perl -e "$1"' sh "$listener" >"$tmp/netns.port" &
netns_pid=$!
pids="$pids $netns_pid"

wait_for_file "$tmp/user.port" || { echo "the listener of user 65534 did not start"; exit 1; }
wait_for_file "$tmp/netns.port" || { echo "the listener in a new network namespace did not start"; exit 1; }
user_port=$(cat "$tmp/user.port")
netns_port=$(cat "$tmp/netns.port")

# setpriv's form: "-all,+sys_ptrace,+dac_read_search,..."
setpriv_caps() {
        out="-all"
        for c in "$@"; do
                out="$out,+$(echo "$c" | sed 's/^CAP_//' | tr '[:upper:]' '[:lower:]')"
        done
        echo "$out"
}

# Starts the daemon with the given bounding set, as systemd would run the unit, and waits for
# its socket; sets sock and daemon_pid.
start_daemon() {
        sock="$tmp/portd.sock"
        rm -f "$sock"
        setpriv --bounding-set="$(setpriv_caps "$@")" --inh-caps=-all --ambient-caps=-all --no-new-privs \
                "$portd" --root "$tmp/root" --socket "$sock" 2>>"$tmp/portd.log" &
        daemon_pid=$!
        i=0
        while [ ! -S "$sock" ] && [ $i -lt 50 ]; do
                sleep 0.1
                i=$((i + 1))
        done
}

# Runs the daemon with the given capabilities and prints which of the two owners root sees:
# "user" for the other user's listener, "netns" for the one in the other namespace.
probe() {
        start_daemon "$@"
        seen=""
        if "$portctl" --socket "$sock" who --json "tcp:$user_port" 2>>"$tmp/portctl.log" |
                grep -q "\"pid\": *$user_pid\\b"; then
                seen="$seen user"
        fi
        if "$portctl" --socket "$sock" who --json --netns "$netns_pid" "tcp:$netns_port" 2>>"$tmp/portctl.log" |
                grep -q "\"pid\": *$netns_pid\\b"; then
                seen="$seen netns"
        fi
        kill "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        echo "$seen"
}

failed=0
# verdict OK_MESSAGE NOT_OK_MESSAGE COMMAND...: one TAP-like line by COMMAND's exit status.
verdict() {
        ok=$1
        not_ok=$2
        shift 2
        if "$@"; then
                echo "ok: $ok"
        else
                echo "not ok: $not_ok"
                failed=1
        fi
}

# shellcheck disable=SC2086 # caps is a list
seen=$(probe $caps)
verdict "with $caps root sees both owners" "with $caps root sees only '$seen' of 'user netns'" \
        [ "$seen" = " user netns" ]

# Privilege separation: the main process, which serves the lookups, holds no capability (with
# CAP_SYS_PTRACE it could write the worker's memory); it asks the monitor for callers'
# namespaces. The monitor and the owner-query worker hold the whole set.
cap_mask() {
        mask=0
        for c in "$@"; do
                n=$(awk -v c="$c" '$2 == c { print $3 }' /usr/include/linux/capability.h 2>/dev/null | head -n1)
                [ -n "$n" ] && mask=$((mask | (1 << n)))
        done
        echo "$mask"
}
# shellcheck disable=SC2086
start_daemon $caps
monitor=$(pgrep -P "$daemon_pid" -x portd-monitor | head -n1)
worker=$( [ -n "$monitor" ] && pgrep -P "$monitor" -x portd-owner | head -n1)
main_eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null)
main_prm=$(awk '/^CapPrm:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null)
main_nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null)
monitor_eff=$( [ -n "$monitor" ] && awk '/^CapEff:/ { print $2 }' "/proc/$monitor/status" 2>/dev/null)
worker_eff=$( [ -n "$worker" ] && awk '/^CapEff:/ { print $2 }' "/proc/$worker/status" 2>/dev/null)
kill "$daemon_pid" 2>/dev/null
wait "$daemon_pid" 2>/dev/null
# shellcheck disable=SC2086
want_all=$(cap_mask $caps)
if [ "$want_all" -eq 0 ]; then
        echo "not ok: cannot read capability numbers from /usr/include/linux/capability.h"
        failed=1
elif [ -z "$worker" ]; then
        echo "not ok: no owner-query worker (portd-owner) under the daemon"
        failed=1
else
        # Its bounding set stays the unit's (dropping from it takes CAP_SETPCAP, which the unit
        # does not give): with nothing permitted and no_new_privs, nothing can be gained from it.
        verdict "the main process holds no capability (CapEff and CapPrm 0)" \
                "the main process holds CapEff $main_eff CapPrm $main_prm, not none" \
                [ $((0x${main_eff:-1})) -eq 0 -a $((0x${main_prm:-1})) -eq 0 ]
        verdict "the monitor holds $caps (CapEff $monitor_eff)" \
                "the monitor holds CapEff $monitor_eff, not $caps" \
                [ $((0x${monitor_eff:-0})) -eq "$want_all" ]
        # Set by the daemon itself, not only by the unit: started by hand, an exec of the main
        # process (as uid 0) would otherwise get every capability back.
        verdict "the main process has no_new_privs set (started outside systemd)" \
                "the main process has NoNewPrivs '$main_nnp' outside systemd" \
                [ "$main_nnp" = 1 ]
        verdict "the owner-query worker holds $caps (CapEff $worker_eff)" \
                "the owner-query worker holds CapEff $worker_eff, not $caps" \
                [ $((0x${worker_eff:-0})) -eq "$want_all" ]
fi

for drop in $caps; do
        rest=""
        for c in $caps; do
                [ "$c" = "$drop" ] || rest="$rest $c"
        done
        # shellcheck disable=SC2086
        seen=$(probe $rest)
        verdict "without $drop root sees only '$seen'" \
                "without $drop root still sees both owners: it is not needed" \
                [ "$seen" != " user netns" ]
done

if [ $failed -ne 0 ]; then
        echo "--- portd's log"
        cat "$tmp/portd.log"
        echo "--- portctl's messages"
        cat "$tmp/portctl.log"
fi
exit $failed
