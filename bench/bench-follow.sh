#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What following costs (issue 16): the owner-query worker's CPU time while followers watch, on a
# host with 10,000 established TCP sockets and 1,000 listening ones, for 1 follower of the
# listeners' range, 1 of every port, and 20 of every port (16 root's, 4 nobody's); against it,
# one `ss -ltn` and one `ss -tan`, what a poller built on ss would pay per look; and how long a
# listener takes to show up.  As root:
#   bench/bench-follow.sh [BUILDDIR] [SECONDS]
set -u
build=${1:-build}
seconds=${2:-20}
portd=$build/daemon/portd
portctl=$build/client/portctl
for f in "$portd" "$portctl"; do
        [ -x "$f" ] || {
                echo "bench-follow: $f is not built"
                exit 1
        }
done
[ "$(id -u)" -eq 0 ] || {
        echo "bench-follow: needs root (followers of other users, every process's sockets)"
        exit 1
}
command -v ss >/dev/null || {
        echo "bench-follow: ss (iproute2) is missing"
        exit 1
}

tmp=$(mktemp -d /tmp/portd-bench-follow.XXXXXX) || exit 1
chmod 755 "$tmp"
mkdir -p "$tmp/root/etc"
cp /etc/services "$tmp/root/etc/services"
sock=$tmp/sock
pids=""
followers=""
cleanup() {
        for p in $followers $pids; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

"$portd" --root "$tmp/root" --socket "$sock" 2>"$tmp/portd.log" &
main=$!
pids="$pids $main"
for _ in $(seq 100); do "$portctl" --socket "$sock" status >/dev/null 2>&1 && break; sleep 0.05; done
monitor=$(pgrep -P "$main" -x portd-monitor)
worker=$(pgrep -P "$monitor" -x portd-owner)

# The scene: 1,000 listeners on 42000-42999, and 5,000 connections to one more (10,000 sockets).
cat >"$tmp/scene.py" <<'EOF'
import socket, sys, time
listeners = []
for p in range(42000, 43000):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p)); s.listen(8); listeners.append(s)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 43500)); srv.listen(4096)
conns = []
for _ in range(5000):
    c = socket.create_connection(("127.0.0.1", 43500))
    a, _ = srv.accept()
    conns += [c, a]
print("ready", flush=True)
time.sleep(3600)
EOF
prlimit --nofile=20000:20000 python3 "$tmp/scene.py" >"$tmp/scene" &
pids="$pids $!"
for _ in $(seq 600); do grep -q ready "$tmp/scene" 2>/dev/null && break; sleep 0.1; done
echo "host: $(ss -Htan | wc -l) TCP sockets, $(ss -Htln | wc -l) listening"

ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ms() {
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        echo "scale=1; ($t1 - $t0) / 1000000" | bc
}
best() { printf '%s\n' "$@" | sort -n | head -n 1; }

# measure LABEL: the worker's CPU over the run, in ms per second of wall time.
measure() {
        local label=$1 c0 c1
        sleep 2 # the first looks, which name every listener's process
        c0=$(cpu "$worker")
        sleep "$seconds"
        c1=$(cpu "$worker")
        printf '%-44s %6s ms CPU per s (%s%%)\n' "$label" \
                "$(echo "scale=1; ($c1 - $c0) * 1000 / $ticks / $seconds" | bc)" \
                "$(echo "scale=2; ($c1 - $c0) * 100 / $ticks / $seconds" | bc)"
}
stop_followers() {
        for p in $followers; do kill "$p" 2>/dev/null; done
        wait $followers 2>/dev/null
        followers=""
}
follow() {
        "$@" >/dev/null 2>&1 &
        followers="$followers $!"
}

measure "no follower"
follow "$portctl" --socket "$sock" who --follow tcp:42000-42999
measure "1 follower, tcp:42000-42999 (1,000 sockets)"
stop_followers
follow "$portctl" --socket "$sock" who --follow
measure "1 follower, every port"
stop_followers
for _ in $(seq 16); do follow "$portctl" --socket "$sock" who --follow; done
for _ in $(seq 4); do follow setpriv --reuid=65534 --regid=65534 --clear-groups "$portctl" --socket "$sock" who --follow; done
measure "20 followers, every port (16 root, 4 nobody)"
stop_followers

l=() a=()
for _ in $(seq 5); do l+=("$(ms ss -Htln)"); a+=("$(ms ss -Htan)"); done
echo "ss -ltn (one look, as a poller over ss): best $(best "${l[@]}") ms; ss -tan: best $(best "${a[@]}") ms"

# Detection: a listener on a followed port, until its line.
"$portctl" --socket "$sock" --json=short who --follow tcp:43999 >"$tmp/events" &
followers="$followers $!"
for _ in $(seq 100); do grep -q following "$tmp/events" && break; sleep 0.05; done
lat=()
for i in 1 2 3 4 5; do
        n=$(grep -c started "$tmp/events")
        t0=$(date +%s%N)
        python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 43999)); s.listen(1); time.sleep(2.5)' &
        lp=$!
        while [ "$(grep -c started "$tmp/events")" -le "$n" ]; do sleep 0.005; done
        t1=$(date +%s%N)
        lat+=("$(((t1 - t0) / 1000000))")
        wait "$lp"
        sleep 1.2
done
echo "a listener's started line after: $(printf '%s ' "${lat[@]}")ms (a look a second)"
