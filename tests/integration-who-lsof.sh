#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lsof as the oracle of portctl who -a: one scene (who-lsof-scene.py: TCP and UDP, IPv4 and IPv6,
# listening, bound, connected and accepted sockets, shared with a forked child), and for every SPEC
# form lsof -i takes, the (pid, fd) pairs of `portctl who -a SPEC` against `lsof -i SPEC -P -n`.
# Rows of other processes on the machine are left out on both sides.  A service name comes from a
# services file both read: the daemon's --root, and /etc/services bound over in lsof's mount
# namespace.
# Usage: integration-who-lsof.sh (PORTD and PORTCTL in the environment)
. "$(dirname "$0")/integration-lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (every process's sockets, for both tools; a mount namespace)"
for tool in lsof unshare; do
        command -v "$tool" >/dev/null || { say "not ok - '$tool' is missing (tools/install-deps.sh installs it)"; exit 1; }
done
unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace"

make_test_dir who-lsof
SCENE_PIDS=
cleanup() {
        [ -n "$SCENE_PIDS" ] && kill $SCENE_PIDS 2>/dev/null
        stop_daemon quiet
        rm -rf "$TMP"
}

"$PYTHON" "$(dirname "$0")/who-lsof-scene.py" "$TMP/scene.json" &
for _ in $(seq 500); do [ -s "$TMP/scene.json" ] && break; sleep 0.02; done
[ -s "$TMP/scene.json" ] || { say "Bail out! the scene did not start"; exit 1; }
read -r SCENE_PIDS < <("$PYTHON" -c 'import json,sys; print(*json.load(open(sys.argv[1]))["pids"])' "$TMP/scene.json")
port() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ports"][sys.argv[2]])' "$TMP/scene.json" "$1"; }
TCP4=$(port tcp4) TCP6=$(port tcp6) UDP4=$(port udp4) UDP6=$(port udp6) BOUND=$(port tcp_bound)
SVC=$(port service) CHILD_OWN=$(port child_own) TCP4_CLIENT=$(port tcp4_client) UDP4_CLIENT=$(port udp4_client)

printf 'lsof-oracle\t%s/tcp\nlsof-oracle\t%s/udp\n' "$SVC" "$SVC" > "$ROOT/etc/services"
start_daemon

# (pid fd) pairs of the scene's processes, sorted.
scene_only() { awk -v pids=" $SCENE_PIDS " 'index(pids, " " $1 " ")' | sort -u; }
rows_lsof() {
        in_files_ns "$ROOT/etc/services" lsof -i "$1" -P -n -F pf 2>/dev/null |
                awk '/^p/ { pid = substr($0, 2) } /^f/ { print pid, substr($0, 2) }' | scene_only
}
rows_portctl() {
        portctl --json=short who -a "$1" 2>/dev/null |
                "$PYTHON" -c 'import json,sys
for r in (json.loads(sys.stdin.read() or "[]")):
    if "pid" in r: print(r["pid"], r["fd"])' | scene_only
}

lo=$((TCP4 < UDP4 ? TCP4 : UDP4)) hi=$((TCP4 < UDP4 ? UDP4 : TCP4))
specs=(
        ":$TCP4" "tcp:$TCP4" "udp:$TCP4" "@127.0.0.1:$TCP4" "tcp@127.0.0.1:$TCP4" "@127.0.0.2:$TCP4"
        ":$TCP4_CLIENT" ":$TCP6" "tcp:$TCP6" "@[::1]:$TCP6" "tcp@[::1]:$TCP6" "@127.0.0.1:$TCP6"
        ":$UDP4" "udp:$UDP4" "tcp:$UDP4" "udp@127.0.0.1:$UDP4" "@0.0.0.0:$UDP4" ":$UDP4_CLIENT"
        ":$UDP6" "udp@[::1]:$UDP6" ":$BOUND" "tcp:$BOUND" ":$CHILD_OWN"
        ":$lo-$hi" "tcp:$lo-$hi" "udp:$lo-$hi"
        ":lsof-oracle" "tcp:lsof-oracle" "udp:lsof-oracle" "@127.0.0.1:lsof-oracle"
        "tcp" "udp" "@127.0.0.1" "@[::1]"
)
for spec in "${specs[@]}"; do
        rows_lsof "$spec" > "$TMP/lsof"
        rows_portctl "$spec" > "$TMP/portctl"
        if cmp -s "$TMP/lsof" "$TMP/portctl"; then
                pass "who -a '$spec' names lsof's $(wc -l < "$TMP/lsof") (pid, fd) pairs"
        else
                fail "who -a '$spec' differs from lsof -i '$spec' -P -n"
                diff "$TMP/lsof" "$TMP/portctl" | sed 's/^/#   /; s/</lsof only:/; s/>/portctl only:/'
        fi
done

# The oracle saw something: the inherited sockets are there twice (parent and child).
rows_lsof ":$TCP4" > "$TMP/lsof"
if [ "$(wc -l < "$TMP/lsof")" -ge 6 ]; then
        pass "the scene's port $TCP4 has its listening, connected and accepted sockets in both processes"
else
        fail "lsof found only $(wc -l < "$TMP/lsof") pairs on :$TCP4; the scene is not what it should be"
fi

finish
