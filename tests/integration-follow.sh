#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# portctl who --follow against a real portd (io.portd.Sockets.Follow, daemon/varlink-follow.c):
#   events   a listener that starts and stops is a "started" and a "stopped" line with its pid and
#            command, in text and in --json=short; other ports, other protocols are not; a
#            command with a control character is escaped as in who
#   access   an unprivileged follower sees root's sockets without their processes and its own
#            with them, as who shows them; it may not follow every namespace; the method checks
#            its parameters as List does
#   caps     four followers per user: the fifth is refused, root's are counted apart, and a
#            follower that goes frees its place; more than 16,384 sockets are refused
#   noread   a follower that never reads while events wait is dropped (in 10 s); the daemon
#            serves on
# Usage: integration-follow.sh SCENARIO (PORTD and PORTCTL in the environment)
. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?scenario}
make_test_dir "follow-$scenario"

[ "$(id -u)" = 0 ] || skip "needs root (setpriv to other users, every process's sockets)"
need_tool setpriv
need_tool "$PYTHON"
# The listeners' pid files, writable by the unprivileged ones too.
mkdir -m 1777 "$TMP/ready"

LISTENERS=()
cleanup() {
        local p
        for p in "${LISTENERS[@]}" $(jobs -p); do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        stop_daemon quiet
        rm -rf "$TMP"
}

cat >"$TMP/listen.py" <<'EOF'
# listen.py PROTO PORT NAME READY: binds (and for TCP listens) on 127.0.0.1:PORT, names itself
# NAME (what who shows as the command), writes its pid to READY, and waits to be killed.
import ctypes, os, socket, sys, time
proto, port, name, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
if proto == "tcp":
    s.listen(8)
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
time.sleep(3600)
EOF

# free_port [EXCLUDED...]: a TCP and UDP port nobody uses on 127.0.0.1 now, and none of EXCLUDED.
# Below the kernel's ephemeral range (ip_local_port_range), so that the connections other
# programs and tests open meanwhile cannot take it before this test's listener binds it.
free_port() {
        "$PYTHON" - "$@" <<'EOF'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
excluded = {int(a) for a in sys.argv[1:]}
while True:
    p = random.randrange(max(1024, low - 12000), low)
    if p in excluded:
        continue
    try:
        t = socket.socket(); t.bind(("127.0.0.1", p))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break
EOF
}

# listen PROTO PORT NAME [WRAPPER...]: a listener in the background; sets LPID once it listens.
listen() {
        local proto=$1 port=$2 name=$3 ready i
        shift 3
        ready=$TMP/ready/$RANDOM$RANDOM
        "$@" "$PYTHON" "$TMP/listen.py" "$proto" "$port" "$name" "$ready" &
        LISTENERS+=($!)
        for ((i = 0; i < 500; i++)); do
                [ -s "$ready" ] && break
                sleep 0.01
        done
        LPID=$(cat "$ready" 2>/dev/null) || { fail "listener $name did not start"; finish; }
}

unlisten() {
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null
}

# follow OUT ARG...: portctl who --follow ARG... in the background into OUT, once it follows (the
# header line, or the "following" document); sets FPID.
follow() {
        local out=$1
        shift
        "$PORTCTL" --socket "$SOCK" who --follow "$@" >"$out" 2>"$out.err" &
        FPID=$!
        wait_for_output 5000 'TIME|"following"|portctl:' cat "$out" "$out.err" >/dev/null ||
                fail "who --follow $* did not start following"
}

nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

scenario_events() {
        local port other out json
        port=$(free_port)
        other=$(free_port "$port")
        start_daemon
        follow "$TMP/text" tcp:"$port"
        local text_pid=$FPID
        follow "$TMP/json" --json=short tcp:"$port"
        local json_pid=$FPID
        follow "$TMP/udp" --json=short udp:"$port"
        local udp_pid=$FPID
        grep -q '"event":"following","usec":[0-9]*,"listening":0' "$TMP/json" &&
                pass "--json=short: the first line says it follows, nothing listening yet" ||
                fail "first line: '$(cat "$TMP/json")'"

        listen tcp "$other" fw-other
        local other_pid=$LPID
        listen tcp "$port" fw-listen
        local pid=$LPID
        if wait_for_output 5000 "started +fw-listen +$pid root +[0-9]+u IPv4 TCP +127\.0\.0\.1:$port \(LISTEN\)" \
                cat "$TMP/text"; then
                pass "text: a started line with the listener's command and pid ($ELAPSED_MS ms)"
        else
                fail "text after the listener started: '$(cat "$TMP/text")'"
        fi
        # Each follower looks once a second, each in its own phase: the listener stays until every
        # one has seen it (one that comes and goes between two looks is missed, by design).
        wait_for_output 5000 '"started"' cat "$TMP/json" >/dev/null || fail "no started event in JSON"
        unlisten "$pid"
        if wait_for_output 5000 "stopped +fw-listen +$pid root +[0-9]+u IPv4 TCP +127\.0\.0\.1:$port \(LISTEN\)" \
                cat "$TMP/text"; then
                pass "text: a stopped line with the command and pid that held it ($ELAPSED_MS ms)"
        else
                fail "text after the listener stopped: '$(cat "$TMP/text")'"
        fi
        wait_for_output 5000 '"stopped"' cat "$TMP/json" >/dev/null || fail "no stopped event in JSON"
        if "$PYTHON" - "$TMP/json" "$port" "$pid" <<'EOF'; then
import json, sys
lines = open(sys.argv[1]).read().splitlines()
port, pid = int(sys.argv[2]), int(sys.argv[3])
docs = [json.loads(l) for l in lines]  # one document per line
events = [(d["event"], d["owner"]["port"], d["owner"]["pid"], d["owner"]["command"], d["owner"]["state"])
          for d in docs[1:]]
assert docs[0]["event"] == "following", docs[0]
assert events == [("started", port, pid, "fw-listen", "LISTEN"), ("stopped", port, pid, "fw-listen", "LISTEN")], events
assert all(d["owner"]["protocol"] == "tcp" and d["owner"]["address"] == "127.0.0.1" and
           isinstance(d["usec"], int) for d in docs[1:]), docs
EOF
                pass "--json=short: started then stopped, one document a line, with pid and command"
        else
                fail "JSON events: '$(cat "$TMP/json")'"
        fi
        absent() { ! grep -q -- "$1" "$2"; }
        absent fw-other "$TMP/text" && absent fw-other "$TMP/json" &&
                pass "a listener on another port is no event" || fail "another port reported: '$(cat "$TMP/text")'"
        [ "$(grep -c '"event"' "$TMP/udp")" = 1 ] && pass "a TCP listener is no event for udp:PORT" ||
                fail "udp follower saw TCP: '$(cat "$TMP/udp")'"

        listen udp "$port" fw-udp
        pid=$LPID
        wait_for_output 5000 "\"started\".*\"protocol\":\"udp\".*\"state\":\"UNCONN\".*\"pid\":$pid,\"command\":\"fw-udp\"" \
                cat "$TMP/udp" >/dev/null && pass "udp:PORT: a bound UDP socket is a started event" ||
                fail "udp follower: '$(cat "$TMP/udp")'"
        unlisten "$pid"
        wait_for_output 5000 '"stopped".*"command":"fw-udp"' cat "$TMP/udp" >/dev/null &&
                pass "udp:PORT: and a stopped one when it closes" || fail "udp stop: '$(cat "$TMP/udp")'"

        # A name with a control character, escaped as who escapes it.
        listen tcp "$port" $'fw\001bad'
        pid=$LPID
        wait_for_output 5000 '"command":"fw\\\\x01bad"' cat "$TMP/json" >/dev/null &&
                pass "a command with a control character comes escaped (\\x01)" ||
                fail "escaped name: '$(tail -n 2 "$TMP/json")'"
        grep -q 'started fw\\x01bad' "$TMP/text" && pass "text: escaped too" || fail "text escaped name: '$(tail -n 2 "$TMP/text")'"
        unlisten "$pid"
        unlisten "$other_pid"

        kill "$json_pid" "$udp_pid" 2>/dev/null
        wait "$json_pid" "$udp_pid" 2>/dev/null
        # The daemon goes: the follower says so in one line and exits 1.
        stop_daemon
        local rc i
        for ((i = 0; i < 500 * scale; i++)); do
                kill -0 "$text_pid" 2>/dev/null || break
                sleep 0.01
        done
        if kill -0 "$text_pid" 2>/dev/null; then
                fail "the follower did not end with the daemon"
                kill "$text_pid"
        fi
        wait "$text_pid"
        rc=$?
        [ $rc = 1 ] && [ "$(wc -l <"$TMP/text.err")" = 1 ] && grep -q "closed the connection" "$TMP/text.err" &&
                pass "the daemon gone, the follower says so once and exits 1" ||
                fail "after the daemon: exit $rc, '$(head -c 300 "$TMP/text.err")'"
        finish
}

scenario_access() {
        local port own
        port=$(free_port)
        own=$(free_port "$port")
        start_daemon
        "${nobody[@]}" "$PORTCTL" --socket "$SOCK" --json=short who --follow tcp:"$port" tcp:"$own" >"$TMP/nobody" 2>&1 &
        local fpid=$!
        wait_for_output 5000 '"following".*"following"' cat "$TMP/nobody" >/dev/null ||
                fail "nobody's follower did not start: '$(cat "$TMP/nobody")'"

        listen tcp "$port" fw-root
        local root_pid=$LPID
        listen tcp "$own" fw-nobody "${nobody[@]}"
        local own_pid=$LPID
        wait_for_output 5000 '"started".*"command":"fw-nobody"' cat "$TMP/nobody" >/dev/null &&
                pass "nobody sees its own listener with pid and command" || fail "nobody's own: '$(cat "$TMP/nobody")'"
        wait_for_output 5000 "\"started\".*\"port\":$port" cat "$TMP/nobody" >/dev/null ||
                fail "nobody saw no event for root's listener: '$(cat "$TMP/nobody")'"
        if grep "\"port\":$port" "$TMP/nobody" | grep -q '"pid"\|fw-root'; then
                fail "nobody sees root's process: '$(cat "$TMP/nobody")'"
        else
                pass "nobody sees root's socket start, without its process (as who shows it)"
        fi
        # who, for the same caller, shows the same
        local who
        who=$("${nobody[@]}" "$PORTCTL" --socket "$SOCK" --json=short who tcp:"$own")
        [[ "$who" == *"\"pid\":$own_pid,\"command\":\"fw-nobody\""* ]] && pass "who agrees on nobody's own listener" ||
                fail "who as nobody: '$who'"
        unlisten "$root_pid"
        unlisten "$own_pid"
        wait_for_output 5000 '"stopped".*"command":"fw-nobody"' cat "$TMP/nobody" >/dev/null &&
                pass "nobody: its listener's stop names it" || fail "nobody stop: '$(cat "$TMP/nobody")'"
        kill "$fpid"
        wait "$fpid" 2>/dev/null

        "${nobody[@]}" timeout 5 "$PORTCTL" --socket "$SOCK" who --follow --netns all >"$TMP/all" 2>&1
        local rc=$?
        [ $rc = 1 ] && grep -q "permission denied" "$TMP/all" && pass "nobody may not follow every namespace (exit 1)" ||
                fail "nobody --netns all: exit $rc, '$(cat "$TMP/all")'"
        # The method checks what it is sent, as List does.
        local call bad want got
        for bad in '{}|org.varlink.service.ExpectedMore' \
                '{"established": true}|org.varlink.service.InvalidParameter' \
                '{"either_end": false}|org.varlink.service.InvalidParameter' \
                '{"port": 0}|org.varlink.service.InvalidParameter' \
                '{"port": 90, "port_max": 80}|org.varlink.service.InvalidParameter' \
                '{"netns": "../x"}|org.varlink.service.InvalidParameter' \
                '{"protocol": "icmp"}|org.varlink.service.InvalidParameter'; do
                want=${bad#*|}
                call="{\"method\":\"io.portd.Sockets.Follow\",\"parameters\":${bad%%|*}"
                [ "$want" = org.varlink.service.ExpectedMore ] || call="$call,\"more\":true"
                got=$("$PYTHON" -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + bytes(1))
buf = b""
while bytes(1) not in buf:
    k = s.recv(65536)
    if not k:
        break
    buf += k
print(json.loads(buf.split(bytes(1))[0]).get("error", "ok"))' "$SOCKETS" "$call}")
                [ "$got" = "$want" ] && pass "Follow ${bad%%|*}: $want" || fail "Follow ${bad%%|*}: '$got', want $want"
        done
        timeout 5 "$PORTCTL" --socket "$SOCK" who --follow -a >"$TMP/a" 2>&1
        rc=$?
        [ $rc = 1 ] && grep -q -- "-a does not apply" "$TMP/a" && pass "--follow with -a: refused with a reason" ||
                fail "--follow -a: exit $rc, '$(cat "$TMP/a")'"
        finish
}

scenario_caps() {
        local i rc
        start_daemon
        local pids=()
        for i in 1 2 3 4; do
                "${nobody[@]}" "$PORTCTL" --socket "$SOCK" who --follow :$((40000 + i)) >"$TMP/f$i" 2>&1 &
                pids+=($!)
        done
        for i in 1 2 3 4; do
                wait_for_output 5000 TIME cat "$TMP/f$i" >/dev/null || fail "follower $i did not start: '$(cat "$TMP/f$i")'"
        done
        "${nobody[@]}" timeout 10 "$PORTCTL" --socket "$SOCK" who --follow :40005 >"$TMP/f5" 2>&1
        rc=$?
        [ $rc = 1 ] && grep -q "too many followers" "$TMP/f5" &&
                pass "a fifth follower of one user is refused (exit 1: '$(cat "$TMP/f5")')" ||
                fail "fifth follower: exit $rc, '$(cat "$TMP/f5")'"
        # one SPEC too many for one command: refused before asking
        "${nobody[@]}" timeout 10 "$PORTCTL" --socket "$SOCK" who --follow :1 :2 :3 :4 :5 >"$TMP/many" 2>&1
        rc=$?
        [ $rc = 1 ] && grep -q "at most 4" "$TMP/many" && pass "more than four SPECs in one --follow: refused" ||
                fail "five SPECs: exit $rc, '$(cat "$TMP/many")'"
        # another user, and root, are not held back by nobody's
        setpriv --reuid=65533 --regid=65533 --clear-groups "$PORTCTL" --socket "$SOCK" who --follow :40006 >"$TMP/other" 2>&1 &
        pids+=($!)
        "$PORTCTL" --socket "$SOCK" who --follow :40007 >"$TMP/by-root" 2>&1 &
        pids+=($!)
        wait_for_output 5000 TIME cat "$TMP/other" >/dev/null && pass "another user still follows" ||
                fail "another user: '$(cat "$TMP/other")'"
        wait_for_output 5000 TIME cat "$TMP/by-root" >/dev/null && pass "root still follows" ||
                fail "root: '$(cat "$TMP/by-root")'"
        # a follower that goes frees its place
        kill "${pids[0]}"
        wait "${pids[0]}" 2>/dev/null
        local ok=
        for ((i = 0; i < 50 * scale; i++)); do
                "${nobody[@]}" timeout 3 "$PORTCTL" --socket "$SOCK" who --follow :40008 >"$TMP/again" 2>&1
                grep -q TIME "$TMP/again" && { ok=1; break; }
                sleep 0.1
        done
        [ -n "$ok" ] && pass "a follower that went freed its place" || fail "after one went: '$(cat "$TMP/again")'"
        kill "${pids[@]}" 2>/dev/null
        wait "${pids[@]}" 2>/dev/null

        # More sockets on one port than a follower watches (16,384): one address each in 127/8.
        local port
        port=$(free_port)
        "$PYTHON" - "$port" >"$TMP/many-listen" 2>&1 <<'EOF' &
import resource, socket, sys, time
port = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
socks = []
for i in range(16400):
    s = socket.socket()
    s.bind(("127.%d.%d.%d" % (1 + i // 62500, i // 250 % 250, i % 250 + 1), port))
    s.listen(1)
    socks.append(s)
print("listening", flush=True)
time.sleep(3600)
EOF
        local many=$!
        wait_for_output 30000 listening cat "$TMP/many-listen" >/dev/null || fail "the 16,400 listeners: '$(cat "$TMP/many-listen")'"
        timeout 30 "$PORTCTL" --socket "$SOCK" who --follow tcp:"$port" >"$TMP/too-many" 2>&1
        rc=$?
        [ $rc = 1 ] && grep -q "More than 16384 sockets match" "$TMP/too-many" &&
                pass "a follower of more than 16,384 sockets is refused (exit 1)" ||
                fail "16,400 sockets: exit $rc, '$(head -c 300 "$TMP/too-many")'"
        kill "$many"
        wait "$many" 2>/dev/null
        finish
}

scenario_noread() {
        local base=41000 n=1000
        start_daemon
        # A client that asks and never reads, and listeners on its ports that come and go in
        # bulk: the events pile up beyond what the connection holds, and the daemon drops it.
        if "$PYTHON" - "$SOCKETS" "$base" "$n" >"$TMP/noread" 2>&1 <<'EOF'; then
import json, resource, select, socket, sys, time
path, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
call = {"method": "io.portd.Sockets.Follow", "more": True,
        "parameters": {"protocol": "tcp", "port": base, "port_max": base + n - 1}}
c.sendall(json.dumps(call).encode() + b"\0")
time.sleep(1.5)  # the first look, with nothing listening
events = 0
start = time.monotonic()
for cycle in range(100):
    if time.monotonic() - start > 60:
        break
    socks = []
    for p in range(base, base + n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p)); s.listen(1); socks.append(s)
        except OSError:
            s.close()
    time.sleep(1.3)
    for s in socks:
        s.close()
    events += 2 * len(socks)
    time.sleep(1.3)
    # Dropped yet?  The daemon's end is closed (POLLRDHUP), with what it had sent still unread.
    po = select.poll()
    po.register(c, select.POLLRDHUP)
    if po.poll(0):
        c.settimeout(5)
        data = b""
        while True:
            k = c.recv(1 << 20)
            if not k:
                break
            data += k
        # Whole messages only: the daemon let go in the middle of one.
        replies = [json.loads(m) for m in data.split(bytes(1))[:-1]]
        # Dropped while following, not answered with an error and let go.
        if not replies or replies[0].get("parameters", {}).get("event") != "following" or \
                any("error" in m or not m.get("continues") for m in replies):
            print(f"not a follower's stream: {replies[:2]} ... {replies[-1:]}")
            sys.exit(1)
        print(f"dropped after {events} events, {len(replies)} replies had reached the client")
        sys.exit(0)
    print(f"cycle {cycle}: {events} events, still connected")
sys.exit(2)
EOF
                pass "a follower that never reads is dropped ($(tail -n 1 "$TMP/noread"))"
        else
                fail "never-reading follower: $(cat "$TMP/noread")"
        fi
        grep -q "Dropping a follower" "$LOG" && pass "the daemon says why" || fail "no log line about the drop"
        follow "$TMP/after" --json=short tcp:"$base"
        grep -q '"following"' "$TMP/after" && pass "the daemon follows for others after the drop" ||
                fail "after the drop: '$(cat "$TMP/after" "$TMP/after.err")'"
        kill "$FPID" 2>/dev/null
        wait "$FPID" 2>/dev/null
        finish
}

case "$scenario" in
events) scenario_events ;;
access) scenario_access ;;
caps) scenario_caps ;;
noread) scenario_noread ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
