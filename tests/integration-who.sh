#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# portctl who against a real portd: listeners of every protocol and family attributed to their
# pid and command, a listener in another network namespace, an unprivileged caller, a port that
# changes hands, and the full listing compared with ss -ltnupH.
# Usage: integration-who.sh PORTD PORTCTL
set -u

PORTD=$(realpath "$1")
PORTCTL=$(realpath "$2")
# The system's python, which setpriv'd users can run too.
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

skip() { echo "1..0 # SKIP $*"; exit 77; }
# A tool the test needs is missing: a failure, never a skip (CI installs everything).
missing() { echo "Bail out! missing: $*"; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (sock_diag of every process, setpriv, network namespaces)"
command -v python3 >/dev/null || missing "python3 (for the listeners)"
command -v ss >/dev/null || missing "ss (iproute2)"
command -v setpriv >/dev/null || missing "setpriv (util-linux)"

T=$(mktemp -d /tmp/portd-who.XXXXXX)
chmod 755 "$T"
PIDS=()
NETNS=
cleanup() {
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

export PORTD_SOCKET=$T/portd.sock
# io.portd.Sockets has a socket of its own beside the Services one (portd(8)).
SOCKETS_SOCKET=$T/io.portd.Sockets
mkdir -p "$T/root/etc"
# portd-test's port lies below ip_local_port_range (32768 by default), so that no connection's
# ephemeral local port can hold it when the test listens on it.
cat > "$T/root/etc/services" <<'EOF'
ssh             22/tcp
domain          53/tcp
domain          53/udp
portd-test      29170/tcp
portd-test      29170/udp
EOF
"$PORTD" --root "$T/root" --socket "$PORTD_SOCKET" 2>"$T/portd.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$PORTD_SOCKET" ] && break; sleep 0.05; done
[ -S "$PORTD_SOCKET" ] || { cat "$T/portd.log"; echo "Bail out! portd did not start"; exit 1; }

cat > "$T/listen.py" <<'EOF'
import ctypes, socket, sys, time
proto, family, addr, port, name, out = sys.argv[1:7]
uid = int(sys.argv[7]) if len(sys.argv) > 7 else 0
fam = socket.AF_INET6 if family == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, int(port)))
if proto == "tcp":
    s.listen(16)
libc = ctypes.CDLL(None)
report = open(out, "w")  # before dropping privileges
if uid:
    # as a daemon that drops privileges after binding; dumpable again, as such daemons are
    import os
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
    libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME: the command portctl must show
with report as f:
    f.write(str(s.getsockname()[1]))  # one short write: the reader never sees half of it
time.sleep(3600)
EOF

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
absent() { ! grep -q -- "$1" <<<"$2"; }

# listen PROTO FAMILY ADDR PORT NAME [WRAPPER...]: starts a listener, sets LPID and LPORT.
listen() {
        local proto=$1 family=$2 addr=$3 port=$4 name=$5 uid=${UID_AFTER:-0}
        shift 5
        local out=$T/port.$name.$RANDOM
        "$@" python3 "$T/listen.py" "$proto" "$family" "$addr" "$port" "$name" "$out" "$uid" &
        LPID=$!
        PIDS+=($LPID)
        for _ in $(seq 200); do [ -s "$out" ] && break; sleep 0.02; done
        LPORT=$(cat "$out" 2>/dev/null)
}

# owner_of PORTCTL-ARGS...: "pid command" of every row, one per line.
owner_of() {
        "$PORTCTL" --json who "$@" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r.get("pid", "-"), r.get("command", "-"), r["protocol"], r["address"], r["port"])'
}

for spec in "tcp 4 127.0.0.1" "tcp 6 ::1" "udp 4 0.0.0.0" "udp 6 ::"; do
        set -- $spec
        listen "$1" "$2" "$3" 0 "who-$1$2"
        # Only the rows of this address: the same port number may be bound on another address
        # (an ephemeral port is unique per address, and another program's may be anything).
        got=$(owner_of "$1:$LPORT" | awk -v a="$3" '$4 == a {print $1, $2}')
        check "$1/IPv$2 listener on $LPORT is pid $LPID who-$1$2" test "$got" = "$LPID who-$1$2"
        [ "$got" = "$LPID who-$1$2" ] || echo "# got: $(tr '\n' ';' <<<"$got") from: $(owner_of "$1:$LPORT" | tr '\n' ';')"
done

# A service name from the catalog means its ports.
listen tcp 4 127.0.0.1 29170 who-named
check "'portd-test' means port 29170: pid $LPID" grep -q "^$LPID who-named tcp" <(owner_of portd-test)
check "-P shows the port number" grep -q "127.0.0.1:29170 (LISTEN)" <("$PORTCTL" -P who tcp:29170)
check "without -P the service name" grep -q "127.0.0.1:portd-test (LISTEN)" <("$PORTCTL" who tcp:29170)
# --json's rows are the interface's Owner as the daemon once sent them whole: the service (named
# by portctl now, from the caller's catalog) where Owner had it, after the port, and each row of
# --json=short byte for byte what it was.
check "--json: the service right after the port, as in Owner" grep -q '"port":29170,"service":"portd-test","state":"LISTEN",' \
        <("$PORTCTL" --json=short who tcp:29170)
check "@127.0.0.1:29170 finds it" grep -q "^$LPID " <(owner_of @127.0.0.1:29170)
"$PORTCTL" who @127.0.0.2:29170 >/dev/null
check "@127.0.0.2:29170 finds nothing: exit 2" test $? = 2
"$PORTCTL" who no-such-service-here >/dev/null 2>&1
check "an unknown service name: exit 1" test $? = 1
NAMED_PID=$LPID

# The unprivileged caller sees the row, not root's process.
got=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --json who tcp:29170)
check "nobody sees the socket row" grep -q '"inode"' <<<"$got"
check "nobody does not see root's pid" absent '"pid"' "$got"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" who --netns all >/dev/null 2>&1
check "nobody may not ask for every namespace: exit 1" test $? = 1
# ...and its own process, yes.
UID_AFTER=65534 listen tcp 4 127.0.0.1 0 who-nobody
got=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --json who tcp:$LPORT)
check "nobody sees its own process" grep -q "\"command\":\"who-nobody\"" <<<"${got//[[:space:]]/}"

# Another network namespace: found only when asked for.
if unshare -n true 2>/dev/null; then
        listen tcp 4 0.0.0.0 0 who-netns unshare -n
        check "a listener in another namespace is not in ours" absent "^$LPID " "$(owner_of "tcp:$LPORT")"
        check "--netns $LPID finds it" grep -q "^$LPID who-netns" <(owner_of --netns "$LPID" "tcp:$LPORT")
        check "--netns all finds it" grep -q "^$LPID who-netns" <(owner_of --netns all "tcp:$LPORT")
        if ip netns add "portd-who-$$" 2>/dev/null; then
                NETNS=portd-who-$$
                listen tcp 4 0.0.0.0 0 who-named-ns ip netns exec "$NETNS"
                check "--netns $NETNS finds it" grep -q "^$LPID who-named-ns" <(owner_of --netns "$NETNS" "tcp:$LPORT")
                # Without --netns, a caller's own namespace: the daemon opens it through the
                # caller's pidfd (PIDFD_GET_NET_NAMESPACE, Linux 6.11)...
                check "a caller in $NETNS finds it without --netns" \
                        grep -q "^$LPID who-named-ns" <(ip netns exec "$NETNS" bash -c "$(declare -f owner_of); PORTCTL=$PORTCTL owner_of tcp:$LPORT")
                # ...or, where that ioctl fails (Linux 6.5 to 6.10), through /proc/PID pinned by
                # the pidfd: a second daemon whose every ioctl() fails with ENOTTY.
                if strace -f -qq -o /dev/null true 2>/dev/null; then
                        # In a directory of its own: its io.portd.Sockets socket goes beside.
                        mkdir -p "$T/noioctl"
                        strace -f -qq -o "$T/strace.ioctl" -e trace=ioctl -e inject=ioctl:error=ENOTTY \
                                "$PORTD" --root "$T/root" --socket "$T/noioctl/portd.sock" 2>"$T/noioctl.log" &
                        traced=$!
                        # Ready once it says so (the socket exists a moment before it listens).
                        for _ in $(seq 600); do grep -q "Listening on" "$T/noioctl.log" 2>/dev/null && break; sleep 0.05; done
                        check "the daemon under strace started" grep -q "Listening on" "$T/noioctl.log"
                        got=$(ip netns exec "$NETNS" bash -c "$(declare -f owner_of); PORTCTL=$PORTCTL PORTD_SOCKET=$T/noioctl/portd.sock owner_of tcp:$LPORT")
                        check "without the pidfd ioctl, a caller in $NETNS still finds it" grep -q "^$LPID who-named-ns" <<<"$got"
                        # SO_PEERPIDFD is Linux 6.5: before it there is no pidfd to try the ioctl on.
                        if printf '6.5\n%s\n' "$(uname -r)" | sort -V -C; then
                                check "...and the daemon did try the ioctl" grep -Eq "ioctl\(.*(0xff, 0x4|PIDFD_GET_NET_NAMESPACE).*ENOTTY" "$T/strace.ioctl"
                        fi
                        got=$(PORTD_SOCKET=$T/noioctl/portd.sock owner_of "tcp:$LPORT")
                        check "...and a caller in ours does not" absent "^$LPID " "$got"
                        # The daemon, not strace: a killed strace would leave it running, detached.
                        # (Not pkill: under the ASan setup's LD_PRELOAD it hangs.)
                        kill -TERM $(cat "/proc/$traced/task/$traced/children")
                        wait "$traced" 2>/dev/null
                else
                        echo "# strace cannot trace here, skipping the check without the pidfd ioctl"
                fi
        fi
else
        echo "# cannot create network namespaces here, skipping those checks"
fi

# A process exits and another takes its port: never the dead one.
listen tcp 4 127.0.0.1 0 who-first
FIRST=$LPID
PORT=$LPORT
check "first owner of $PORT" grep -q "^$FIRST who-first" <(owner_of "tcp:$PORT")
kill "$FIRST"; wait "$FIRST" 2>/dev/null
"$PORTCTL" who "tcp:$PORT" >/dev/null
check "nobody on $PORT once it exited: exit 2" test $? = 2
listen tcp 4 127.0.0.1 "$PORT" who-second
got=$(owner_of "tcp:$PORT")
check "second owner of $PORT is $LPID" test "$(echo "$got" | awk '{print $1, $2}')" = "$LPID who-second"
check "the dead pid $FIRST is never named" absent "^$FIRST " "$got"

# lsof's habits (issue 16): its options, its table details, its selections.
listen tcp 4 127.0.0.1 0 who-opts
OPTS_PID=$LPID OPTS_PORT=$LPORT
NAMED_PORT=29170
"$PORTCTL" who -n -P "tcp:$OPTS_PORT" >/dev/null 2>&1
check "-n is accepted (portd resolves no host names anyway)" test $? = 0
got=$(owner_of -i "tcp:$OPTS_PORT" -i "tcp:$NAMED_PORT")
check "-i SPEC is repeatable: both ports" grep -q "^$OPTS_PID who-opts" <<<"$got"
check "...the second one too" grep -q "^$NAMED_PID who-named" <<<"$got"
check "-i :PORT with a space, as lsof takes it" grep -q "^$OPTS_PID who-opts" <(owner_of -i ":$OPTS_PORT")
check "the FD column carries the mode, as lsof's (3u)" \
        grep -Eq "^who-opts +$OPTS_PID +root +[0-9]+u +IPv4" <("$PORTCTL" who -P "tcp:$OPTS_PORT")
got=$(owner_of -p "$OPTS_PID")
check "-p PID: that process's sockets only" test "$(awk '{print $1}' <<<"$got" | sort -u)" = "$OPTS_PID"
check "-c COMMAND: by the beginning of the command" test "$(owner_of -c who-op | awk '{print $2}' | sort -u)" = who-opts
check "-c /REGEX/" test "$(owner_of -c '/^who-(opts|named)$/' | awk '{print $2}' | sort -u | tr '\n' ' ')" = "who-named who-opts "
"$PORTCTL" who "tcp:$OPTS_PORT" -p "^$OPTS_PID" >/dev/null 2>&1
check "-p ^PID excludes, whatever else selects: exit 2" test $? = 2
got=$(owner_of "tcp:$NAMED_PORT" -p "$OPTS_PID")
check "without -a, a SPEC and -p select what either does (lsof ORs)" \
        test "$(awk '{print $2}' <<<"$got" | sort -u | tr '\n' ' ')" = "who-named who-opts "
err=$("$PORTCTL" who -a "tcp:$NAMED_PORT" -p "$OPTS_PID" 2>&1 >/dev/null)
check "with -a they must all hold (lsof ANDs): exit 2" test $? = 2
check "...and a failed who says so on stderr in one line" test "$err" = "portctl: who: no socket matches"
"$PORTCTL" -q who -a "tcp:$NAMED_PORT" -p "$OPTS_PID" 2>"$T/q.err"
check "-q: the same exit status, nothing on stderr" test $? = 2 -a ! -s "$T/q.err"
check "-u USER: nobody's process, not root's" test "$(owner_of -a -u nobody -c who- | awk '{print $2}' | sort -u)" = who-nobody
check "-u UID works as the name" test "$(owner_of -a -u 65534 -c who- | awk '{print $2}' | sort -u)" = who-nobody
"$PORTCTL" who -u no-such-user-here >/dev/null 2>&1
check "-u of an unknown user: exit 1" test $? = 1

# A client connected to the port: lsof -i lists its socket too, by the remote end (with -a).
"$PYTHON" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
time.sleep(3600)' "$OPTS_PORT" "$T/client.port" &
CLIENT_PID=$!
PIDS+=($CLIENT_PID)
for _ in $(seq 200); do [ -s "$T/client.port" ] && break; sleep 0.02; done
table=$("$PORTCTL" who -a -P "tcp:$OPTS_PORT")
check "who -a lists the connected client's socket (the remote end matches)" \
        grep -Eq "^python3 +$CLIENT_PID .*127.0.0.1:$(cat "$T/client.port")->127.0.0.1:$OPTS_PORT \(ESTABLISHED\)" <<<"$table"
check "states as lsof names them: (ESTABLISHED), not (ESTAB)" absent "(ESTAB)" "$table"
check "without -a, who still answers who listens" absent "ESTABLISHED" "$("$PORTCTL" who -P "tcp:$OPTS_PORT")"
check "--no-legend drops the header" absent "COMMAND" "$("$PORTCTL" who --no-legend "tcp:$OPTS_PORT")"
got=$("$PORTCTL" --json=short who "tcp:$OPTS_PORT")
check "--json=short: one line" test "$(wc -l <<<"$got")" = 1
check "...that parses" "$PYTHON" -c 'import json, sys; json.loads(sys.argv[1])' "$got"

# USER is a name: a row whose process the caller may not see shows the socket's owner by name.
got=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" who -P "tcp:$NAMED_PORT")
check "nobody sees root's socket with USER root, not 0" grep -Eq "^- +- +root +- +IPv4 +TCP +127.0.0.1:$NAMED_PORT " <<<"$got"

# Linear: the client no longer checks every row against every earlier one.  CPU time of
# portctl who over 2,000 and then 16,000 listeners in a namespace of their own (so that the
# host's ephemeral ports stay free): 8 times the rows may cost about 8 times, not 64.
if unshare -n true 2>/dev/null; then
        cat > "$T/many.py" <<'PYEOF'
import resource, socket, sys, time
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
keep = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    keep.append(s)
open(sys.argv[2], "w").write("ready")
time.sleep(3600)
PYEOF
        cpu_of_who() {
                "$PYTHON" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f" % (r.ru_utime + r.ru_stime))' "$PORTCTL" who --netns "$1"
        }
        for n in 2000 16000; do
                rm -f "$T/many.ready"
                unshare -n "$PYTHON" "$T/many.py" "$n" "$T/many.ready" &
                MANY=$!
                PIDS+=($MANY)
                for _ in $(seq 1500); do [ -s "$T/many.ready" ] && break; sleep 0.02; done
                # the best of three, against a loaded machine's noise
                best=
                for _ in 1 2 3; do
                        t=$(cpu_of_who "$MANY") || t=999
                        best=$("$PYTHON" -c 'import sys; print(min(float(x) for x in sys.argv[1:] if x))' $best "$t")
                done
                eval "CPU_$n=$best"
                kill "$MANY"; wait "$MANY" 2>/dev/null
        done
        echo "# portctl who CPU time: 2,000 sockets ${CPU_2000}s, 16,000 sockets ${CPU_16000}s"
        check "16,000 sockets cost less than 20 times what 2,000 do (${CPU_16000}s against ${CPU_2000}s)" \
                "$PYTHON" -c 'import sys; sys.exit(not float(sys.argv[1]) < 20 * max(float(sys.argv[2]), 0.005))' "$CPU_16000" "$CPU_2000"
fi

# The interface itself, as any varlink client sees it.
varlink() {
        python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\0")
buf = b""
while not buf.endswith(b"\0"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(json.loads(buf.split(b"\0")[0]).get("error", "ok"))' "${2:-$SOCKETS_SOCKET}" "$1"
}
LIST='"method":"io.portd.Sockets.List"'
check "List without more: ExpectedMore" \
        test "$(varlink "{$LIST,\"parameters\":{}}")" = org.varlink.service.ExpectedMore
check "port 0: InvalidParameter" \
        test "$(varlink "{$LIST,\"parameters\":{\"port\":0},\"more\":true}")" = org.varlink.service.InvalidParameter
check "port_max below port: InvalidParameter" \
        test "$(varlink "{$LIST,\"parameters\":{\"port\":90,\"port_max\":80},\"more\":true}")" = org.varlink.service.InvalidParameter
check "an unknown parameter: InvalidParameter" \
        test "$(varlink "{$LIST,\"parameters\":{\"pid\":1},\"more\":true}")" = org.varlink.service.InvalidParameter
check "a netns with a slash: InvalidParameter" \
        test "$(varlink "{$LIST,\"parameters\":{\"netns\":\"../x\"},\"more\":true}")" = org.varlink.service.InvalidParameter
check "no SCTP socket on port 9: NoSocketFound" \
        test "$(varlink "{$LIST,\"parameters\":{\"port\":9,\"protocol\":\"sctp\"},\"more\":true}")" = io.portd.Sockets.NoSocketFound
check "GetInterfaceDescription serves io.portd.Sockets" \
        test "$(varlink '{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.portd.Sockets"}}')" = ok
# The Services socket no longer answers io.portd.Sockets (the main process never takes an owner
# query), and the Sockets socket answers nothing of io.portd.Services.
check "the Services socket: io.portd.Sockets.List is InterfaceNotFound" \
        test "$(varlink "{$LIST,\"parameters\":{\"port\":22},\"more\":true}" "$PORTD_SOCKET")" = org.varlink.service.InterfaceNotFound
check "the Sockets socket: io.portd.Services.GetSnapshot is InterfaceNotFound" \
        test "$(varlink '{"method":"io.portd.Services.GetSnapshot","parameters":{}}')" = org.varlink.service.InterfaceNotFound
check "portctl who names the Sockets socket when it is missing" \
        grep -q "$T/none/io.portd.Sockets" <("$PORTCTL" --socket "$T/none/io.portd.Services" who :22 2>&1)

# Differential: every listening TCP/UDP socket of the machine, as ss sees it. Other programs
# open and close sockets meanwhile; compare what two ss runs around ours agree on.
rows_ss() { ss -ltnupHe | python3 -c '
import re, sys
for l in sys.stdin:
    f = l.split()
    m = re.search(r"ino:(\d+)", l)
    if not m: continue
    addr, port = f[4].rsplit(":", 1)
    addr = addr.strip("[]").split("%")[0]
    if addr in ("*", "0.0.0.0", "::"): addr = "*"
    print(f[0], addr, port, m.group(1))' | sort -u; }
rows_portd() { "$PORTCTL" --json who | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    a = r["address"]
    if a in ("0.0.0.0", "::"): a = "*"
    if r["protocol"] in ("tcp", "udp"): print(r["protocol"], a, r["port"], r["inode"])' | sort -u; }
same=no
for attempt in 1 2 3 4 5; do
        rows_ss > "$T/ss1"; rows_portd > "$T/portd"; rows_ss > "$T/ss2"
        comm -12 "$T/ss1" "$T/ss2" > "$T/stable"
        cat "$T/ss1" "$T/ss2" | sort -u > "$T/any"
        # everything stable in ss is in ours, and everything of ours was in ss at least once
        if [ -z "$(comm -23 "$T/stable" "$T/portd")" ] && [ -z "$(comm -13 "$T/any" "$T/portd")" ]; then
                same=yes
                break
        fi
done
if [ $same = no ]; then
        echo "# ss only:"; comm -23 "$T/stable" "$T/portd" | sed 's/^/#   /'
        echo "# portd only:"; comm -13 "$T/any" "$T/portd" | sed 's/^/#   /'
fi
check "same protocol/address/port/inode set as ss -ltnupH ($(wc -l < "$T/portd") sockets)" test $same = yes

echo "1..$N"
[ $FAILED = 0 ]
