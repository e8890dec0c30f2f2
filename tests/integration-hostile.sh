#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile clients against the real portd (with tests/hostile-client.c): 64 MiB messages, random
# bytes, half-closed sockets, 2,000 idle connections from one unprivileged user and 2,000 spread
# over 100 users (the global cap), and a client that reconnects as fast as it is refused.  In
# each case root's lookups must be served, fast; the daemon must neither grow nor stop.
# (integration-daemon.sh 'hostile' has the Python clients: never-reading readers, trickled calls,
# pipelined GetSnapshot, 20 users x 64 connections under 1024 descriptors.)
# Usage: integration-hostile.sh SCENARIO; PORTD, PORTCTL, HOSTILE and DATA_DIR in the environment.
# Exit 0 pass, 1 fail, 77 skip.

set -u

. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?usage: integration-hostile.sh SCENARIO}
: "${PORTD:?}" "${PORTCTL:?}" "${HOSTILE:?}" "${DATA_DIR:?}"

[ "$(id -u)" -eq 0 ] || skip "needs root to act as other users and to measure root's service"
command -v setpriv >/dev/null || missing "'setpriv' is not installed (util-linux)"
# 2,000 connections from one process: root may raise its own limit (the daemon raises its own).
[ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 4096 ] && ulimit -n 4096 2>/dev/null
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 2100 ] ||
        skip "RLIMIT_NOFILE's hard limit $(ulimit -Hn) is below 2,100 and cannot be raised"

# Timing and memory figures mean nothing under a memory checker: printed, not judged.
checker=
if [ -n "${PORTD_UNDER_VALGRIND:-}" ]; then
        checker=valgrind
elif [[ "${LD_PRELOAD:-}" == *asan* ]] || ldd "$PORTD" 2>/dev/null | grep -q libasan; then
        checker=ASan
fi
# Root's p99 while the flood holds; a fresh connection costs a few hundred microseconds.
P99_MAX_MS=50

DUMP_LOG_LINES=40
make_test_dir hostile
cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
chmod -R a+rX "$ROOT"

HELPERS=()
cleanup() {
        local p
        for p in "${HELPERS[@]}"; do
                kill -TERM "$p" 2>/dev/null
        done
        wait 2>/dev/null
        stop_daemon quiet
        rm -rf "$TMP"
}

kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$DAEMON_PID/status"; }

# wait_marker FILE: until a helper says it is in place.
wait_marker() {
        local i
        for ((i = 0; i < 3000 * scale; i++)); do
                [ -s "$1" ] && return 0
                sleep 0.01
        done
        return 1
}

# probe_root WHAT: root's lookups, fresh connections and one persistent one; served, and fast
# unless under a memory checker.
probe_root() {
        local what=$1 how out p99
        for how in fresh persistent; do
                out=$("$HOSTILE" probe "$SOCK" 200 "$how" 2>&1)
                if [ $? -ne 0 ]; then
                        fail "root's lookups ($how connections) fail $what: $out"
                        continue
                fi
                p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<<"$out")
                if [ -n "$checker" ]; then
                        pass "root is served $what ($how; under $checker, not timed): $out"
                elif [ -n "$p99" ] && awk -v p="$p99" -v m="$P99_MAX_MS" 'BEGIN { exit !(p < m) }'; then
                        pass "root is served $what, p99 below $P99_MAX_MS ms: $out"
                else
                        fail "root is held up $what: $out"
                fi
        done
}

# ---- scenarios ----

# 64 MiB calls, with and without a NUL at the end: closed once past 64 KiB, never buffered whole.
scenario_bigmsg() {
        local out hwm0 hwm1 bytes ms size
        start_daemon
        hwm0=$(kib VmHWM)
        for nul in nonul nul; do
                out=$("$HOSTILE" big "$SOCK" $((64 << 20)) "$nul")
                bytes=$(sed -n 's/^closed after \([0-9]*\) bytes.*/\1/p' <<<"$out")
                ms=$(sed -n 's/.* in \([0-9]*\) ms$/\1/p' <<<"$out")
                # What the kernel queues on both ends of the socket comes on top of 64 KiB.
                if [ -n "$bytes" ] && [ "$bytes" -lt $((4 << 20)) ] && [ "${ms:-99999}" -lt $((2000 * scale)) ]; then
                        pass "a 64 MiB call ($nul) is cut off: $out"
                else
                        fail "a 64 MiB call ($nul) is not cut off at the bound: $out"
                fi
        done
        hwm1=$(kib VmHWM)
        if [ -n "$checker" ]; then
                say "# peak RSS ${hwm0} -> ${hwm1} KiB (under $checker, not judged)"
        elif [ $((hwm1 - hwm0)) -lt 8192 ]; then
                pass "the daemon's peak RSS grows by $((hwm1 - hwm0)) KiB, not by 64 MiB ($hwm0 -> $hwm1 KiB)"
        else
                fail "the daemon's peak RSS grows by $((hwm1 - hwm0)) KiB with 64 MiB calls"
        fi

        # The bound exactly: a message of 65,536 bytes (NUL not counted) is read, one more is not.
        for size in $((65536 + 1)) $((65536 + 2)); do
                out=$("$HOSTILE" big "$SOCK" "$size" nul)
                if [ "$size" -eq $((65536 + 1)) ]; then
                        [[ "$out" == answered* ]] && pass "a call of exactly 64 KiB is answered: ${out:0:120}" ||
                                fail "a call of exactly 64 KiB: $out"
                else
                        [[ "$out" == closed* ]] && pass "a call of 64 KiB + 1 byte is refused: $out" ||
                                fail "a call of 64 KiB + 1 byte: $out"
                fi
        done
        portctl lookup ssh >/dev/null && pass "the daemon serves on after them" || fail "the daemon stopped serving"
        finish
}

# Random bytes with NULs (empty and non-JSON messages) and pipelined calls on a half-closed socket.
scenario_garbage() {
        local out seed closed=0
        start_daemon
        for seed in $(seq 1 20); do
                out=$("$HOSTILE" garbage "$SOCK" "$seed")
                [ "$out" = closed ] && closed=$((closed + 1))
        done
        [ "$closed" -eq 20 ] && pass "20 streams of random bytes: every connection is closed" ||
                fail "random bytes: only $closed of 20 connections closed"
        out=$("$HOSTILE" halfclose "$SOCK" 100)
        [ "$out" = "100 of 100 answered, then EOF" ] && pass "100 calls pipelined on a half-closed socket: $out" ||
                fail "half-closed socket: $out"
        probe_root "after them"
        finish
}

# 2,000 idle connections from one unprivileged user: the per-user cap keeps 32, the rest are
# refused at once; root and other users are served meanwhile.
scenario_idle() {
        local out opened kept
        start_daemon
        chmod 777 "$TMP"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$HOSTILE" idle "$SOCK" 2000 "$TMP/idle.marker" \
                $((10 * scale)) >"$TMP/idle.out" 2>&1 &
        HELPERS+=($!)
        wait_marker "$TMP/idle.marker" || fail "the idle client did not get its connections out"
        read -r opened kept <"$TMP/idle.marker"
        if [ "${opened:-0}" -eq 2000 ] && [ "${kept:-0}" -le 32 ] && [ "${kept:-0}" -ge 1 ]; then
                pass "nobody connected 2000 times; the daemon kept $kept (the per-user cap), refused the rest"
        else
                fail "nobody's 2000 connections: opened ${opened:-?}, kept ${kept:-?}"
        fi
        probe_root "while nobody holds its connections"
        out=$(setpriv --reuid=65533 --regid=65533 --clear-groups "$PORTCTL" --socket "$SOCK" lookup ssh 2>&1) &&
                pass "another unprivileged user is served meanwhile" ||
                fail "another unprivileged user is refused: $out"
        kill -TERM "${HELPERS[-1]}"
        wait "${HELPERS[-1]}"
        say "# $(cat "$TMP/idle.out")"
        finish
}

# 2,000 idle connections over 100 users under systemd's default 1024 descriptors: the global cap
# is reached, users beyond it are refused, root's reserve still serves it, even while a client
# reconnects as fast as it is refused.
scenario_uids() {
        local out opened kept
        start_daemon_wrapped prlimit --nofile=1024:1024 --
        "$HOSTILE" uids "$SOCK" 61000 100 20 "$TMP/uids.marker" $((10 * scale)) >"$TMP/uids.out" 2>&1 &
        HELPERS+=($!)
        local uids=$!
        wait_marker "$TMP/uids.marker" || fail "the users did not get their connections out"
        read -r opened kept <"$TMP/uids.marker"
        if [ "${opened:-0}" -eq 2000 ] && [ "${kept:-0}" -lt 2000 ] && [ "${kept:-0}" -ge 100 ]; then
                pass "100 users connected 2000 times; the daemon kept $kept, up to its global cap"
        else
                fail "100 users' 2000 connections: opened ${opened:-?}, kept ${kept:-?}"
        fi
        # One more user finds the users' share of the slots full: the cap is really reached.
        out=$(setpriv --reuid=65533 --regid=65533 --clear-groups "$PORTCTL" --socket "$SOCK" lookup ssh 2>&1)
        if [ $? -ne 0 ]; then
                pass "one more user is refused: the users' share of the connections is full"
        else
                fail "one more user is still served: the global cap is not reached ($kept kept)"
        fi
        probe_root "while 100 users hold every connection they may"

        setpriv --reuid=65534 --regid=65534 --clear-groups "$HOSTILE" churn "$SOCK" $((4 * scale)) \
                >"$TMP/churn.out" 2>&1 &
        local churn=$!
        HELPERS+=($churn)
        sleep 0.3
        probe_root "while a refused client reconnects without pause"
        wait "$churn"
        say "# reconnecting client: $(cat "$TMP/churn.out")"
        kill -TERM "$uids"
        wait "$uids"
        say "# $(cat "$TMP/uids.out")"
        # Refused and closed connections leave nothing behind.
        local i fds
        for ((i = 0; i < 100 * scale; i++)); do
                fds=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
                [ "$fds" -lt 64 ] && break
                sleep 0.05
        done
        [ "$fds" -lt 64 ] && pass "the daemon is back to $fds descriptors once they are gone" ||
                fail "the daemon still holds $fds descriptors after the users left"
        out=$(setpriv --reuid=65533 --regid=65533 --clear-groups "$PORTCTL" --socket "$SOCK" lookup ssh 2>&1) &&
                pass "users are served again" || fail "users are still refused after the flood: $out"
        finish
}

case "$scenario" in
bigmsg) scenario_bigmsg ;;
garbage) scenario_garbage ;;
idle) scenario_idle ;;
uids) scenario_uids ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
