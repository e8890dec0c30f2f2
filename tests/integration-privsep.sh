#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Owner queries must never hurt lookups (issue 12): one case per finding, each against the real
# portd, with user nobody (65534) as the attacker and root as the victim.
#   flood      connect+List+close from nobody on the io.portd.Sockets socket: the main process
#              does not take part (its CPU time stays flat while the worker's grows), the
#              daemon's descriptors stay bounded, root's lookups, portctl set and portctl who keep
#              working, all back to baseline after
#   rootlane   the same flood fills the shared socket's accept queue: root's portctl who (root's
#              own socket, 0600) answers within 5x its idle median + 100 ms, and in under half
#              the time a GetInfo on the shared socket waits behind that queue (root's who waited
#              there too before: never less)
#   leak       answers to clients that left: no row leaks (valgrind, or LeakSanitizer in an ASan
#              build), in every process of the daemon
#   badname    a listener named "ev\xffil" and one with an escape sequence: root's who works,
#              names are escaped as \xNN, no control byte reaches the terminal
#   starve     nobody's 19,000 sockets and 32 busy connections: root's who :PORT is prompt
#   noread     32 connections that never read, over 19,000 sockets: the daemon grows < 24 MiB
#   unread     16 connections that never read, over 4,000 sockets: what the kernel holds for
#              them (their receive queues) stays within two results' default send buffers
#   caps       a same-uid process with a capability the caller lacks is not shown with its pid
#   oracle     netns=PID answers alike for a missing PID and another user's
#   crash      SIGKILL of the owner-query worker: lookups go on, the worker comes back
#   monitor    SIGKILL of the monitor: its standby takes over, owner queries come back, at a
#              bounded rate (a second takeover soon after waits twice as long)
#   exe        the binary replaced on disk (an upgrade): a restarted standby is still the one running
#   channel    the worker takes nothing from the main process: a catalog image sent on the
#              channel names no port
# Usage: integration-privsep.sh CASE   (PORTD, PORTCTL and FLOOD in the environment)
set -u
. "$(dirname "$0")/integration-lib.sh"

case=${1:-}
[ "$(id -u)" -eq 0 ] || skip "needs root (the attacker runs as user nobody)"
need_tool setpriv
[ -x "${FLOOD:-}" ] || missing "the flood helper is not built (FLOOD='${FLOOD:-}')"

make_test_dir "privsep-$case"
cp "${DATA_DIR:-/etc}/services" "$ROOT/etc/services" 2>/dev/null || cp /etc/services "$ROOT/etc/services"

helpers=""
cleanup() {
        for p in $helpers; do
                kill "$p" 2>/dev/null
        done
        wait $helpers 2>/dev/null
        stop_daemon quiet
        rm -rf "$TMP"
}

# An array, not a function: "$!" of a background job must be the process itself.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# child_named PID NAME: the child of PID whose comm is NAME (not pgrep: it hangs under the ASan
# setup's LD_PRELOAD).
child_named() {
        local c
        for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
                if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = "$2" ]; then
                        echo "$c"
                        return 0
                fi
        done
        return 1
}
monitor_pid() { child_named "$DAEMON_PID" portd-monitor; }
worker_pid() {
        local m
        m=$(monitor_pid) && child_named "$m" portd-owner
}
fd_count() { [ -n "$1" ] && ls "/proc/$1/fd" 2>/dev/null | wc -l || echo 0; }
# CPU time (user + system) of a process, in clock ticks.
cpu_ticks() { [ -n "$1" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { [ -n "$1" ] && awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# A listener of root's, on a free port; sets ROOT_PORT and adds it to the helpers.
root_listener() {
        "$FLOOD" listen 1 "$1" >"$TMP/root.port" &
        helpers="$helpers $!"
        ROOT_PORT=$1
        wait_for_output 5000 'listen: 1 sockets' cat "$TMP/root.port" || fail "root's listener on $1 did not start"
}

# ms_of CMD...: runs CMD, sets MS to its wall time and RC to its status.
ms_of() {
        local t0 t1
        t0=$(date +%s%N)
        "$@" >"$TMP/out" 2>&1
        RC=$?
        t1=$(date +%s%N)
        MS=$(((t1 - t0) / 1000000))
}

case_flood() {
        start_daemon_wrapped prlimit --nofile=4096:4096 --
        root_listener 29311
        local main_base worker_base main_max=0 worker_max=0 lookups=0 lookup_failures=0 n
        sleep 0.5
        main_base=$(fd_count "$DAEMON_PID")
        worker_base=$(fd_count "$(worker_pid)")
        # First 3 s of the flood alone: nothing else asks the main process anything, so whatever
        # CPU time it takes is the flood's.  Before io.portd.Sockets had a socket of its own the
        # main process accepted, read and handed over every one of these connections.
        local worker main_cpu worker_cpu hz
        hz=$(getconf CLK_TCK)
        worker=$(worker_pid)
        main_cpu=$(cpu_ticks "$DAEMON_PID")
        worker_cpu=$(cpu_ticks "$worker")
        "${NOBODY[@]}" "$FLOOD" flood "$SOCKETS" 8 10 >"$TMP/flood.out" 2>&1 &
        local flood=$!
        helpers="$helpers $flood"
        sleep 3
        main_cpu=$(($(cpu_ticks "$DAEMON_PID") - main_cpu))
        worker_cpu=$(($(cpu_ticks "$worker") - worker_cpu))
        say "# 3 s of flood alone: main process ${main_cpu}, worker ${worker_cpu} clock ticks of CPU (${hz}/s)"
        [ "$worker_cpu" -ge $((hz / 10)) ] && pass "the flood reached the worker (${worker_cpu} ticks)" ||
                fail "the flood did not reach the worker (${worker_cpu} ticks in 3 s): $(cat "$TMP/flood.out")"
        [ "$main_cpu" -le $((hz / 10)) ] && pass "the main process took no part in the flood (${main_cpu} ticks)" ||
                fail "the main process spent ${main_cpu} ticks (${hz}/s) on nobody's owner queries"
        local end=$(($(date +%s) + 6)) set_ok=0 who_ok=0 who_slow=0
        while [ "$(date +%s)" -lt "$end" ]; do
                n=$(fd_count "$DAEMON_PID")
                [ "$n" -gt "$main_max" ] && main_max=$n
                n=$(fd_count "$(worker_pid)")
                [ "$n" -gt "$worker_max" ] && worker_max=$n
                lookups=$((lookups + 1))
                portctl port 22/tcp >/dev/null 2>&1 || lookup_failures=$((lookup_failures + 1))
                if portctl set --runtime "flood$lookups" "$((20000 + lookups))/tcp" >/dev/null 2>&1; then
                        set_ok=$((set_ok + 1))
                fi
                ms_of portctl who ":$ROOT_PORT"
                if [ "$RC" -eq 0 ] && grep -q "$ROOT_PORT" "$TMP/out"; then
                        who_ok=$((who_ok + 1))
                        [ "$MS" -gt $((3000 * scale)) ] && who_slow=$((who_slow + 1))
                fi
                sleep 0.2
        done
        wait "$flood"
        say "# main: $main_base fds at rest, at most $main_max in the flood; worker: $worker_base, at most $worker_max"
        say "# root: $lookups rounds, $lookup_failures failed lookups, $set_ok sets, $who_ok whos ($who_slow over 3 s)"
        [ "$lookup_failures" -eq 0 ] && pass "root's lookups all answered during the flood" ||
                fail "$lookup_failures of root's $lookups lookups failed during the flood"
        [ "$set_ok" -eq "$lookups" ] && pass "root's portctl set worked throughout" ||
                fail "root's portctl set worked $set_ok times of $lookups"
        [ "$who_ok" -eq "$lookups" ] && [ "$who_slow" -eq 0 ] && pass "root's portctl who answered promptly throughout" ||
                fail "root's portctl who answered $who_ok times of $lookups ($who_slow over $((3 * scale)) s)"
        [ "$main_max" -le $((main_base + 64)) ] && pass "the main process's descriptors stay bounded ($main_max)" ||
                fail "the main process held $main_max descriptors (at rest $main_base)"
        [ "$worker_max" -gt 0 ] && [ "$worker_max" -le 256 ] && pass "the worker's descriptors stay bounded ($worker_max)" ||
                fail "the worker held $worker_max descriptors"
        # Back to baseline within 5 s.
        local back=0
        for _ in $(seq 50); do
                if [ "$(fd_count "$DAEMON_PID")" -le $((main_base + 2)) ] &&
                        [ "$(fd_count "$(worker_pid)")" -le $((worker_base + 2)) ]; then
                        back=1
                        break
                fi
                sleep 0.1
        done
        [ "$back" -eq 1 ] && pass "descriptors back to baseline within 5 s" ||
                fail "descriptors not back within 5 s: main $(fd_count "$DAEMON_PID"), worker $(fd_count "$(worker_pid)")"
}

# median of the numbers given
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

case_rootlane() {
        need_tool ss
        start_daemon_wrapped prlimit --nofile=4096:4096 --
        root_listener 29312
        local root_sockets=$TMP/io.portd.Sockets.root
        # Root's own socket: only root may queue there.
        [ -S "$root_sockets" ] && [ "$(stat -c '%a %u' "$root_sockets")" = "600 0" ] &&
                pass "root's owner-query socket is root's, mode 0600" ||
                fail "no root-only owner-query socket: $(ls -l "$TMP" | grep Sockets)"
        "${NOBODY[@]}" "$FLOOD" who "$root_sockets" "$ROOT_PORT" >"$TMP/nobody-root" 2>&1 &&
                fail "nobody queried on root's socket: $(cat "$TMP/nobody-root")" ||
                pass "nobody cannot connect to root's socket ($(cat "$TMP/nobody-root"))"

        local idle=() i
        portctl who ":$ROOT_PORT" >/dev/null 2>&1
        for i in $(seq 7); do
                ms_of portctl who ":$ROOT_PORT"
                [ "$RC" -eq 0 ] || fail "root's idle who failed: $(cat "$TMP/out")"
                idle+=("$MS")
        done
        "${NOBODY[@]}" "$FLOOD" flood "$SOCKETS" 8 12 >"$TMP/flood.out" 2>&1 &
        local flood=$!
        helpers="$helpers $flood"
        # The flood's point: the shared socket's accept queue full of nobody's connections
        # (ss: Recv-Q of a listener is its queue), which a call made now waits behind.
        local queue=0 q
        for i in $(seq 40); do
                # Bound under a temporary name and renamed into place: ss shows "PATH.XXXXXXXX".
                q=$(ss -xlnH | awk -v p="$SOCKETS." 'index($5, p) == 1 && length($5) == length(p) + 8 { print $3 }')
                [ "${q:-0}" -gt "$queue" ] && queue=$q
                [ "$queue" -ge 1024 ] && break
                sleep 0.1
        done
        [ "$queue" -ge 1024 ] && pass "nobody's flood queues $queue connections on the shared socket" ||
                fail "the flood queued only $queue connections on the shared socket: $(cat "$TMP/flood.out")"
        # Root's who, and in turn the time a new connection to the shared socket waits to be
        # answered at all (GetInfo, no query: the queue alone), 7 of each.
        local rooted=() other=()
        for i in $(seq 7); do
                ms_of portctl who ":$ROOT_PORT"
                [ "$RC" -eq 0 ] && grep -q "$ROOT_PORT" "$TMP/out" || fail "root's who failed in the flood: $(cat "$TMP/out")"
                rooted+=("$MS")
                "$FLOOD" ping "$SOCKETS" >"$TMP/ping" 2>&1 || fail "GetInfo on the shared socket failed: $(cat "$TMP/ping")"
                other+=("$(awk '/^ping: [0-9]/ { print int($2) }' "$TMP/ping")")
        done
        kill "$flood" 2>/dev/null
        wait "$flood" 2>/dev/null
        local idle_ms root_ms other_ms
        idle_ms=$(median "${idle[@]}") root_ms=$(median "${rooted[@]}") other_ms=$(median "${other[@]}")
        say "# medians: root's who :$ROOT_PORT idle ${idle_ms} ms (${idle[*]}), in the flood ${root_ms} ms (${rooted[*]}); GetInfo on the shared socket in the flood ${other_ms} ms (${other[*]})"
        # Generous bounds, for a loaded machine: the flood's 8 processes also take the CPUs
        # portctl itself runs on (the worker answers root in 3 ms of portctl's 10 here), and at a
        # load average of 29 root's median reached 108 ms against 16 idle.  Behind the queue (the
        # old code) root took 145-291 ms against 4-10 idle, never less than the queue alone takes
        # (who = portctl's start + the queue + the query): the comparison with the queue
        # calibrates itself to the machine's speed and load.
        [ "$root_ms" -le $((5 * idle_ms + 100 * scale)) ] && pass "root's who in the flood: ${root_ms} ms, idle ${idle_ms} ms" ||
                fail "root's who took ${root_ms} ms in the flood, ${idle_ms} ms idle"
        [ $((2 * root_ms)) -le "$other_ms" ] &&
                pass "root's who does not wait behind nobody's queue (${root_ms} ms, the queue ${other_ms} ms)" ||
                fail "root's who waits as long as nobody's queue takes (${root_ms} ms, the queue ${other_ms} ms)"
}

case_leak() {
        local asan=0 vg=()
        if ldd "$PORTD" 2>/dev/null | grep -q libasan; then
                # LeakSanitizer reports at the exit of each process, into the log; CI's ASan pass
                # turns it off for the other tests.
                asan=1
                export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
        else
                need_tool valgrind
                vg=(valgrind --trace-children=yes --leak-check=full --errors-for-leak-kinds=definite
                        --error-exitcode=99 --log-file="$TMP/vg.%p")
        fi
        # Our own valgrind, which follows the monitor and the worker too, not the library's.
        valgrind_wrap=()
        scale=$((scale * 10))
        start_daemon_wrapped "${vg[@]}" --
        "${NOBODY[@]}" "$FLOOD" listen 40 29400 >"$TMP/listen.out" &
        helpers="$helpers $!"
        wait_for_output 5000 'listen: 40 sockets' cat "$TMP/listen.out" || fail "nobody's listeners did not start"
        # Clients that leave right after asking: their replies (many rows each) find them gone.
        "${NOBODY[@]}" "$FLOOD" flood "$SOCKETS" 2 5 >/dev/null 2>&1
        "$FLOOD" flood "$SOCKETS" 2 3 >/dev/null 2>&1
        # Under valgrind the worker takes a while over the flood's backlog; then it answers.
        wait_for_output 30000 29400 "$PORTCTL" --socket "$SOCK" who :29400 || fail "who after the flood failed"
        stop_daemon quiet
        sleep 1
        if [ $asan -eq 1 ]; then
                if grep -q "LeakSanitizer" "$LOG"; then
                        fail "LeakSanitizer found leaks"
                        grep -A12 "LeakSanitizer" "$LOG" | head -40
                else
                        pass "no leaks (LeakSanitizer)"
                fi
        elif [ ${#vg[@]} -gt 0 ]; then
                if grep -l "definitely lost: [1-9]" "$TMP"/vg.* >/dev/null 2>&1; then
                        fail "valgrind found definite leaks"
                        grep -B2 -A14 "definitely lost in" "$TMP"/vg.* | head -60
                else
                        pass "no definite leaks in any process (valgrind, $(ls "$TMP"/vg.* | wc -l) processes)"
                fi
        fi
}

case_badname() {
        start_daemon
        local py=/usr/bin/python3
        [ -x $py ] || need_tool python3
        for name in 'ev\xffil' '\x1b[31mred\x07'; do
                $py -c "
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b'$name', 0, 0, 0)
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(600)" >>"$TMP/ports" &
                helpers="$helpers $!"
        done
        wait_for_output 5000 '[0-9]+[^0-9]+[0-9]+' cat "$TMP/ports" || fail "the listeners did not start"
        local p1 p2
        p1=$(sed -n 1p "$TMP/ports")
        p2=$(sed -n 2p "$TMP/ports")
        if portctl who --json "tcp:$p1" "tcp:$p2" >"$TMP/who.json" 2>"$TMP/who.err" &&
                $py -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/who.json" 2>/dev/null; then
                pass "root's who --json answers valid JSON with both listeners"
        else
                fail "root's who --json failed: $(cat "$TMP/who.err")"
        fi
        if grep -qF 'ev\\xffil' "$TMP/who.json" && grep -qF '\\x1b[31mred\\x07' "$TMP/who.json"; then
                pass 'the names come escaped as \xNN'
        else
                fail "the names are not escaped: $(grep -a command "$TMP/who.json")"
        fi
        portctl who "tcp:$p1" "tcp:$p2" >"$TMP/who.txt" 2>&1
        if grep -q 'ev\\xffil' "$TMP/who.txt" && ! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f\xff]' "$TMP/who.txt"; then
                pass "root's who prints them without a control byte"
        else
                fail "root's who printed: $(od -c "$TMP/who.txt" | head -5)"
        fi
        "${NOBODY[@]}" "$PORTCTL" --socket "$SOCK" who "tcp:$p1" "tcp:$p2" >/dev/null 2>&1 && pass "nobody's who works too" ||
                fail "nobody's who fails"
}

case_starve() {
        start_daemon
        root_listener 29322
        ms_of portctl who ":$ROOT_PORT"
        local idle=$MS
        prlimit --nofile=19500:19500 "${NOBODY[@]}" "$FLOOD" listen 19000 30000 >"$TMP/listen.out" &
        helpers="$helpers $!"
        wait_for_output 20000 'listen: [0-9]+ sockets' cat "$TMP/listen.out" || fail "nobody's listeners did not start"
        "${NOBODY[@]}" "$FLOOD" busy "$SOCKETS" 32 15 >/dev/null 2>&1 &
        local busy=$!
        helpers="$helpers $busy"
        sleep 2
        local worst=0 failed=0
        for _ in 1 2 3 4 5; do
                ms_of portctl who ":$ROOT_PORT"
                [ "$RC" -eq 0 ] && grep -q "$ROOT_PORT" "$TMP/out" || failed=$((failed + 1))
                [ "$MS" -gt "$worst" ] && worst=$MS
                sleep 0.5
        done
        say "# root's who: $idle ms idle, at worst $worst ms beside $(cat "$TMP/listen.out") and 32 busy connections"
        [ "$failed" -eq 0 ] && pass "root's who answered every time" || fail "root's who failed $failed times"
        # An ASan build's worker builds its rows several times slower (1.7 s seen).
        local bound=$((2000 * scale))
        ldd "$PORTD" 2>/dev/null | grep -q libasan && bound=$((bound * 3))
        [ "$worst" -le "$bound" ] && pass "root's who within $bound ms ($worst ms)" ||
                fail "root's who took $worst ms (bound $bound ms)"
        "${NOBODY[@]}" "$PORTCTL" --socket "$SOCK" port 22/tcp >/dev/null 2>&1 && pass "lookups answered meanwhile" ||
                fail "lookups failed meanwhile"
        kill "$busy" 2>/dev/null
}

case_noread() {
        # ASan keeps freed memory in quarantine (256 MiB by default), which would count here.
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4
        start_daemon
        prlimit --nofile=19500:19500 "${NOBODY[@]}" "$FLOOD" listen 19000 30000 >"$TMP/listen.out" &
        helpers="$helpers $!"
        wait_for_output 20000 'listen: [0-9]+ sockets' cat "$TMP/listen.out" || fail "nobody's listeners did not start"
        # Once, so that the cache is warm and the baseline includes what one reply costs.
        "${NOBODY[@]}" "$FLOOD" busy "$SOCKETS" 1 1 >/dev/null 2>&1
        local base=$(($(rss_kib "$DAEMON_PID") + $(rss_kib "$(worker_pid)")))
        "${NOBODY[@]}" "$FLOOD" hold "$SOCKETS" 32 16 >"$TMP/hold.out" 2>&1 &
        helpers="$helpers $!"
        local max=0 n
        for _ in $(seq 70); do
                n=$(($(rss_kib "$DAEMON_PID") + $(rss_kib "$(worker_pid)")))
                [ "$n" -gt "$max" ] && max=$n
                sleep 0.2
        done
        say "# $(cat "$TMP/hold.out"); RSS of main and worker: $base KiB before, at most $max KiB"
        # Two results of nobody's are held at a time (RESULTS_PER_UID_MAX), a few MiB each here.
        [ "$max" -le $((base + 24576)) ] && pass "32 never-reading clients cost less than 24 MiB ($(((max - base) / 1024)) MiB)" ||
                fail "32 never-reading clients took the daemon from $base to $max KiB"
        ms_of portctl port 22/tcp
        [ "$RC" -eq 0 ] && pass "lookups answered meanwhile" || fail "lookups failed meanwhile"
}

# The rows a user's never-reading connections hold in the kernel: a listing that fits the
# connection's send buffer is all written there, its job done, and the next one of the user's runs,
# so only a buffer the kernel's default size keeps what a user pins to the results bound (two
# held at a time, RESULTS_PER_UID_MAX).  Review of whostream: a user's buffer raised to 1 MiB let
# each of nobody's 16 connections hold a whole listing (8 x 820 KB = 6.5 MB here, one uid; ~790 MB
# with a subordinate range's uids filling the worker's 960 users' connections).
case_unread() {
        need_tool ss
        start_daemon
        prlimit --nofile=4500:4500 "${NOBODY[@]}" "$FLOOD" listen 4000 31000 >"$TMP/listen.out" &
        helpers="$helpers $!"
        wait_for_output 20000 'listen: [0-9]+ sockets' cat "$TMP/listen.out" || fail "nobody's listeners did not start"
        "${NOBODY[@]}" "$FLOOD" hold "$SOCKETS" 16 30 >"$TMP/hold.out" 2>&1 &
        local hold=$!
        helpers="$helpers $hold"
        wait_for_output 10000 'hold: 16 ' cat "$TMP/hold.out" || fail "nobody's 16 calls were not made: $(cat "$TMP/hold.out")"
        # The most the receive queues of the holder's connections reach while it sleeps.
        local max=0 n i default
        default=$(cat /proc/sys/net/core/wmem_default)
        for i in $(seq 30); do
                n=$(ss -xpH | awk -v p="pid=$hold," 'index($0, p) { s += $3 } END { print s + 0 }')
                [ "$n" -gt "$max" ] && max=$n
                sleep 0.2
        done
        say "# nobody's 16 never-reading connections hold at most $max bytes in the kernel (wmem_default $default)"
        [ "$max" -gt 0 ] || fail "no rows reached nobody's connections: $(cat "$TMP/hold.out")"
        [ "$max" -le $((2 * default + 131072)) ] &&
                pass "nobody's never-reading connections hold $max bytes in the kernel, within two default send buffers" ||
                fail "nobody's never-reading connections hold $max bytes in the kernel (two default send buffers: $((2 * default)))"
}

# Many UIDs (as one person's subordinate range gives) fill every user's job slot with queries
# whose replies they never read: root's owner queries are still answered (review of the
# privilege separation: JOBS_MAX counted root's with everybody's, and held results never expire).
case_manyuids() {
        local uid n=64
        start_daemon
        prlimit --nofile=4500:4500 "${NOBODY[@]}" "$FLOOD" listen 4000 31000 >"$TMP/listen.out" &
        helpers="$helpers $!"
        wait_for_output 20000 'listen: [0-9]+ sockets' cat "$TMP/listen.out" || fail "nobody's listeners did not start"
        root_listener 29335
        for uid in $(seq 70000 $((70000 + n - 1))); do
                setpriv --reuid="$uid" --regid="$uid" --clear-groups "$FLOOD" hold "$SOCKETS" 8 30 \
                        >"$TMP/hold.$uid" 2>&1 &
                helpers="$helpers $!"
        done
        # Every holder has its 8 calls in: 512 jobs, as many as users may have.
        local t
        for t in $(seq 200); do
                [ "$(cat "$TMP"/hold.* 2>/dev/null | grep -c 'hold: 8 ')" -eq $n ] && break
                sleep 0.1
        done
        say "# $(cat "$TMP"/hold.* | grep -c 'hold: 8 ') of $n users hold 8 queries that never read"
        sleep 1
        if "$PORTCTL" --socket "$SOCK" who ":$ROOT_PORT" >"$TMP/portctl.out" 2>&1 &&
                grep -q "127.0.0.1:$ROOT_PORT" "$TMP/portctl.out"; then
                pass "root's portctl who :$ROOT_PORT is answered while $n users hold every user's slot"
        else
                fail "root's portctl who :$ROOT_PORT while $n users hold every user's slot: $(head -3 "$TMP/portctl.out")"
        fi
}

case_caps() {
        start_daemon
        # A same-uid listener that holds CAP_NET_BIND_SERVICE, which the caller lacks.
        "${NOBODY[@]}" --inh-caps=+net_bind_service --ambient-caps=+net_bind_service "$FLOOD" listen 1 29333 >"$TMP/capped" &
        helpers="$helpers $!"
        local capped=$!
        "${NOBODY[@]}" "$FLOOD" listen 1 29334 >"$TMP/plain" &
        helpers="$helpers $!"
        wait_for_output 5000 'listen: 1' cat "$TMP/capped" || fail "the capable listener did not start"
        wait_for_output 5000 'listen: 1' cat "$TMP/plain" || fail "the plain listener did not start"
        grep -q '^CapPrm:.*[1-9a-f]' "/proc/$capped/status" || skip "setpriv could not give the listener an ambient capability"
        "${NOBODY[@]}" "$PORTCTL" --socket "$SOCK" who --json :29333 >"$TMP/capped.json" 2>&1
        "${NOBODY[@]}" "$PORTCTL" --socket "$SOCK" who --json :29334 >"$TMP/plain.json" 2>&1
        if grep -q '"pid"' "$TMP/capped.json"; then
                fail "nobody sees the pid of its process with a capability it lacks: $(cat "$TMP/capped.json")"
        else
                pass "nobody does not see its process with a capability it lacks (as ptrace, lsof, ss -p)"
        fi
        grep -q '"pid"' "$TMP/plain.json" && pass "nobody still sees its own plain process" ||
                fail "nobody no longer sees its own plain process: $(cat "$TMP/plain.json")"
        portctl who --json :29333 | grep -q '"pid"' && pass "root sees both" || fail "root does not see the capable one"
}

case_oracle() {
        start_daemon
        local missing=4194000
        while [ -d "/proc/$missing" ]; do missing=$((missing + 1)); done
        "${NOBODY[@]}" "$PORTCTL" --socket "$SOCK" who --netns 1 :22 >"$TMP/exists" 2>&1
        local rc_exists=$?
        "${NOBODY[@]}" "$PORTCTL" --socket "$SOCK" who --netns "$missing" :22 >"$TMP/missing" 2>&1
        local rc_missing=$?
        say "# PID 1: $rc_exists $(cat "$TMP/exists"); PID $missing: $rc_missing $(cat "$TMP/missing")"
        if [ "$rc_exists" -eq "$rc_missing" ] &&
                [ "$(sed "s/$missing/PID/" "$TMP/missing")" = "$(sed "s/\b1\b/PID/" "$TMP/exists")" ]; then
                pass "netns=PID answers alike for another user's process and a missing one"
        else
                fail "netns=PID tells a missing PID from another user's"
        fi
        portctl who --netns "$missing" :22 >/dev/null 2>&1
        [ $? -ne 0 ] && pass "root still learns that the PID does not exist" || fail "root's netns=missing succeeded"
}

case_crash() {
        start_daemon
        root_listener 29344
        local w1 w2
        w1=$(worker_pid)
        [ -n "$w1" ] || {
                fail "no owner-query worker (portd-owner) under portd"
                return
        }
        pass "owner queries run in their own process ($w1)"
        # The main process holds no capability (permitted nor effective); the worker all three.
        local main_caps main_prm worker_caps
        main_caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$DAEMON_PID/status")
        main_prm=$(awk '/^CapPrm:/ { print $2 }' "/proc/$DAEMON_PID/status")
        worker_caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$w1/status")
        [ "$main_caps" = 0000000000000000 ] && [ "$main_prm" = 0000000000000000 ] &&
                pass "the main process holds no capability" ||
                fail "the main process holds CapEff $main_caps CapPrm $main_prm"
        [ $((0x$worker_caps & 0x280004)) -eq $((0x280004)) ] && pass "the worker holds the owner queries' capabilities" ||
                fail "the worker holds $worker_caps"
        "$PORTCTL" --socket "$SOCK" port 22/tcp >/dev/null || fail "lookup before the crash"
        kill -KILL "$w1"
        local failures_before=$failures i ok=0
        for i in $(seq 50); do
                portctl port 22/tcp >/dev/null 2>&1 || fail "lookup $i after the crash failed"
        done
        [ $failures -eq "$failures_before" ] && pass "lookups unaffected by the crash"
        if wait_for_output 5000 "$ROOT_PORT" "$PORTCTL" --socket "$SOCK" who ":$ROOT_PORT"; then
                pass "who answers again ${ELAPSED_MS} ms after the crash"
                ok=1
        else
                fail "who does not answer after the crash"
        fi
        w2=$(worker_pid)
        [ $ok -eq 1 ] && [ -n "$w2" ] && [ "$w2" != "$w1" ] && pass "a new worker ($w2) took over" ||
                fail "no new worker (was $w1, now '${w2}')"
        grep -q "died of signal 9" "$LOG" && pass "the crash is logged" || fail "the crash is not logged"
}

# monitor_after OLD: the monitor that took over from monitor OLD (its standby's command line names
# its parent; after the takeover it is no longer the main process's child).
monitor_after() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = portd-monitor ] || continue
                tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--owner-worker=$1 " && echo "${p#/proc/}" && return 0
        done
        return 1
}

case_monitor() {
        start_daemon
        root_listener 29377
        local m1 m2 m3 i failures_before=$failures
        m1=$(monitor_pid)
        [ -n "$m1" ] || {
                fail "no monitor (portd-monitor) under portd"
                return
        }
        portctl who ":$ROOT_PORT" >/dev/null || fail "who before the monitor's death"
        kill -KILL "$m1"
        for i in $(seq 50); do
                portctl port 22/tcp >/dev/null 2>&1 || fail "lookup $i after the monitor's death failed"
        done
        [ $failures -eq "$failures_before" ] && pass "lookups unaffected by the monitor's death"
        if wait_for_output 5000 "$ROOT_PORT" "$PORTCTL" --socket "$SOCK" who ":$ROOT_PORT"; then
                pass "who answers again ${ELAPSED_MS} ms after the monitor's death"
        else
                fail "who does not answer after the monitor's death"
                return
        fi
        m2=$(monitor_after "$m1")
        [ -n "$m2" ] && pass "the standby took over as monitor ($m2)" || fail "no monitor took over from $m1"
        grep -q "monitor (PID $m1) is gone, taking over" "$LOG" && pass "the takeover is logged" ||
                fail "the takeover is not logged"
        # A monitor that dies young is replaced after twice the delay: 200 ms, then 400 ms.
        [ -n "$m2" ] || return
        for i in $(seq 100); do
                child_named "$m2" portd-standby >/dev/null && break
                sleep 0.05
        done
        child_named "$m2" portd-standby >/dev/null || fail "monitor $m2 has no standby"
        kill -KILL "$m2"
        if wait_for_output 5000 "$ROOT_PORT" "$PORTCTL" --socket "$SOCK" who ":$ROOT_PORT"; then
                [ "$ELAPSED_MS" -ge 400 ] && pass "a second takeover soon after waits ${ELAPSED_MS} ms (>= 400)" ||
                        fail "a second takeover soon after came in ${ELAPSED_MS} ms, not after 400 ms"
        else
                fail "who does not answer after the second monitor's death"
        fi
        m3=$(monitor_after "$m2")
        [ -n "$m3" ] && pass "and its standby took over ($m3)" || fail "no monitor took over from $m2"
        # Everything ends with the main process, though the new monitor is not its child.
        stop_daemon
        for i in $(seq 50); do
                [ -d "/proc/$m3" ] || break
                sleep 0.1
        done
        [ -d "/proc/$m3" ] && fail "monitor $m3 outlives the main process" || pass "the new monitor ends with the main process"
}

# An upgrade renames a new binary over the old one while portd runs. Whatever the monitor starts
# later (its standby) must be the program already running, not whatever the path names now: the
# main process opens its own executable at start and everything is exec'd through that.
case_exe() {
        cp "$PORTD" "$TMP/portd-copy" || {
                fail "cannot copy $PORTD"
                return
        }
        PORTD="$TMP/portd-copy" start_daemon
        local m s1 s2="" i
        m=$(monitor_pid)
        s1=$(child_named "$m" portd-standby)
        [ -n "$s1" ] || {
                fail "no standby (portd-standby) under the monitor"
                return
        }
        printf '#!/bin/sh\ntouch "%s/replaced-ran"\nexec sleep 30\n' "$TMP" >"$TMP/portd-new"
        chmod 0755 "$TMP/portd-new"
        mv -f "$TMP/portd-new" "$TMP/portd-copy"
        kill -KILL "$s1"
        for i in $(seq 100); do
                [ -e "$TMP/replaced-ran" ] && break
                s2=$(child_named "$m" portd-standby)
                [ -n "$s2" ] && [ "$s2" != "$s1" ] && break
                s2=""
                sleep 0.05
        done
        if [ -e "$TMP/replaced-ran" ]; then
                fail "the restarted standby ran the binary now on disk, not the one running"
        elif [ -n "$s2" ]; then
                pass "the standby restarted from the running binary ($s2: $(readlink "/proc/$s2/exe"))"
        else
                fail "no standby came back after its death"
        fi
        # The script, if it ran, sleeps as the monitor's child: the monitor ends it.
}

# The worker takes no data from the main process: the ports of its rows are named by the clients,
# from the caller's own catalog (io.portd.Services decides scopes).  A compromised main process,
# played by fake-main.py (it starts a real monitor), sends it the catalog image it once named
# ports from: the rows still name nothing, and the worker goes on answering.
case_channel() {
        printf 'sealtest 29366/tcp\n' >>"$ROOT/etc/services"
        start_daemon
        root_listener 29366
        [ -s "$SOCK.snapshot" ] || {
                fail "no published snapshot at $SOCK.snapshot"
                return
        }
        "$PYTHON" "$(dirname "$0")/fake-main.py" "$PORTD" "$SOCK.snapshot" 29366 >"$TMP/channel" 2>&1
        if grep -qx sealtest "$TMP/channel"; then
                fail "the worker named a port from an image the main process sent: $(cat "$TMP/channel")"
        elif [ "$(grep -cx -- - "$TMP/channel")" -eq 2 ]; then
                pass "a catalog image on the channel is not used: both calls' rows come without a service name"
        else
                fail "not one row without a name per call for the port: $(cat "$TMP/channel")"
        fi
}

case "$case" in
flood | rootlane | leak | badname | starve | noread | unread | manyuids | caps | oracle | crash | monitor | exe | channel) "case_$case" ;;
*)
        say "unknown case '$case'"
        exit 2
        ;;
esac
finish
