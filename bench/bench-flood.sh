#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Owner-query flood (issue 12): user nobody floods io.portd.Sockets.List (connect, ask for every
# socket, close) from 8 processes for 30 s on a host with 12,000 extra listening sockets, while
# root looks services up over the socket (fresh connections, every answer checked) and runs
# "portctl who :PORT" every half second.  Prints root's lookup percentiles and errors, who's
# times against its idle time, the descriptors and RSS of the main process and the worker during
# the flood, and how long they take to come back to baseline.  Root's portctl goes through root's
# own socket (io.portd.Sockets.root) where there is one; another user's who (uid 65533, the shared
# socket, behind nobody's queued connections) is timed alongside.  As root:
#   bench/bench-flood.sh [BUILDDIR] [SECONDS]
set -u
build=${1:-build}
seconds=${2:-30}
portd=$build/daemon/portd
portctl=$build/client/portctl
flood=$build/tests/owner-flood
probe=$build/tests/hostile-client
for f in "$portd" "$portctl" "$flood" "$probe"; do
        [ -x "$f" ] || {
                echo "bench-flood: $f is not built"
                exit 1
        }
done
[ "$(id -u)" -eq 0 ] || {
        echo "bench-flood: needs root (the attacker runs as nobody)"
        exit 1
}

tmp=$(mktemp -d /tmp/portd-bench-flood.XXXXXX) || exit 1
chmod 755 "$tmp"
mkdir -p "$tmp/root/etc"
cp /etc/services "$tmp/root/etc/services"
sock=$tmp/sock
# io.portd.Sockets has a socket of its own beside io.portd.Services (portd(8)); a build from
# before that served it on the Services socket, where the flood then goes.
sockets=$tmp/io.portd.Sockets
pids=""
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

"$portd" --root "$tmp/root" --socket "$sock" 2>"$tmp/portd.log" &
main=$!
pids="$pids $main"
for _ in $(seq 100); do "$portctl" --socket "$sock" status >/dev/null 2>&1 && break; sleep 0.05; done
# The owner-query worker, none before privilege separation (the figures of the old code).
worker_pid() {
        local m
        m=$(pgrep -P "$main" -x portd-monitor)
        [ -n "$m" ] && pgrep -P "$m" -x portd-owner
}
worker=$(worker_pid)
flood_sock=$sockets
[ -S "$sockets" ] || flood_sock=$sock

prlimit --nofile=19500:19500 "${nobody[@]}" "$flood" listen 12000 30000 >"$tmp/listen" &
pids="$pids $!"
"$flood" listen 1 29500 >"$tmp/root-listen" &
pids="$pids $!"
for _ in $(seq 200); do grep -q sockets "$tmp/listen" 2>/dev/null && grep -q sockets "$tmp/root-listen" && break; sleep 0.1; done
echo "host: $(ss -Htan | wc -l) TCP sockets ($(cat "$tmp/listen") of nobody's)"

ms() {
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        local rc=$?
        t1=$(date +%s%N)
        echo "$(((t1 - t0) / 1000000)) $rc"
}
fds() { if [ -n "$1" ]; then ls "/proc/$1/fd" 2>/dev/null | wc -l; else echo 0; fi; }
rss() { if [ -n "$1" ]; then awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; else echo 0; fi; }

"$portctl" --socket "$sock" who :29500 >/dev/null
idle=()
for _ in $(seq 10); do idle+=("$(ms "$portctl" --socket "$sock" who :29500 | cut -d' ' -f1)"); done
idle_median=$(printf '%s\n' "${idle[@]}" | sort -n | sed -n 5p)
base_main_fds=$(fds "$main") base_worker_fds=$(fds "$worker")
base_main_rss=$(rss "$main") base_worker_rss=$(rss "$worker")
echo "idle: who :29500 median $idle_median ms; main $base_main_fds fds $base_main_rss KiB, worker $base_worker_fds fds $base_worker_rss KiB"

# The same lookups without the flood: the machine's own noise.
"$probe" probe "$sock" 2000 fresh >"$tmp/probe-idle" 2>&1
echo "idle: root's lookups: $(cat "$tmp/probe-idle")"

# CPU time (user + system, clock ticks) and involuntary context switches of the main process.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
nvcsw() { awk '/^nonvoluntary_ctxt_switches:/ { print $2 }' "/proc/$1/status"; }
main_cpu0=$(cpu "$main") main_nvcsw0=$(nvcsw "$main")
"${nobody[@]}" "$flood" flood "$flood_sock" 8 "$seconds" >/dev/null 2>&1 &
attacker=$!
pids="$pids $attacker"
# 2 ms apart: about as many lookups as fit in the flood.
"$probe" probe "$sock" $((seconds * 400)) fresh >"$tmp/probe" 2>&1 &
prober=$!
max_main_fds=0 max_worker_fds=0 max_main_rss=0 max_worker_rss=0 who_n=0 who_fail=0 who_worst=0
whos=() others=()
other=(setpriv --reuid=65533 --regid=65533 --clear-groups)
load=
while kill -0 "$attacker" 2>/dev/null; do
        w=$(worker_pid)
        for v in "main_fds $(fds "$main")" "worker_fds $(fds "$w")" "main_rss $(rss "$main")" "worker_rss $(rss "$w")"; do
                set -- $v
                eval "[ \"\${2:-0}\" -gt \"\$max_$1\" ] && max_$1=${2:-0}"
        done
        read -r t rc < <(ms "$portctl" --socket "$sock" who :29500)
        who_n=$((who_n + 1))
        [ "$rc" -ne 0 ] && who_fail=$((who_fail + 1))
        whos+=("$t")
        read -r t rc < <(ms "${other[@]}" "$portctl" --socket "$sock" who :29500)
        others+=("$t")
        sleep 0.5
        # The 1-minute load average as the flood ends: how busy the machine was meanwhile.
        load=$(cut -d' ' -f1 /proc/loadavg)
done
end=$(date +%s%N)
main_cpu=$(($(cpu "$main") - main_cpu0)) main_nvcsw=$(($(nvcsw "$main") - main_nvcsw0))
back=""
for _ in $(seq 100); do
        w=$(worker_pid)
        if [ "$(fds "$main")" -le $((base_main_fds + 2)) ] && [ "$(fds "$w")" -le $((base_worker_fds + 2)) ] &&
                [ "$(rss "$w")" -le $((base_worker_rss + 8192)) ]; then
                back=$((($(date +%s%N) - end) / 1000000))
                break
        fi
        sleep 0.05
done
wait "$prober"
who_median=$(printf '%s\n' "${whos[@]}" | sort -n | sed -n "$(((${#whos[@]} + 1) / 2))p")
who_worst=$(printf '%s\n' "${whos[@]}" | sort -n | tail -n1)
other_median=$(printf '%s\n' "${others[@]}" | sort -n | sed -n "$(((${#others[@]} + 1) / 2))p")
echo "flood: 8 processes of nobody for $seconds s on $(nproc) CPUs, load average $load at its end"
echo "root's lookups: $(cat "$tmp/probe")"
echo "main process during the flood (root's lookups included): $main_cpu clock ticks of CPU ($(getconf CLK_TCK)/s), $main_nvcsw involuntary context switches"
echo "root's who :29500: $who_n runs, $who_fail failed, median $who_median ms, worst $who_worst ms (idle $idle_median ms)"
echo "another user's who :29500 (uid 65533, shared socket): median $other_median ms"
echo "main process: at most $max_main_fds fds, $max_main_rss KiB; worker: at most $max_worker_fds fds, $max_worker_rss KiB"
echo "back to baseline (fds, worker RSS within 8 MiB): ${back:-not within 5 s} ms after the flood"
