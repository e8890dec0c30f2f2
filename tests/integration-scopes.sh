#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Integration test of scopes: the real portd on a temporary --root, asked through real glibc
# (getent with the NSS module from the build) and portctl from inside a network namespace
# (ip netns) and from inside a cgroup, each matched by a scope; glibc's files backend on the
# expected merged file is the truth, and outside the scopes the host's answers are.
# PORTD, PORTCTL and NSS_DIR in the environment.  Exit 0 pass, 1 fail, 77 skip.

set -u

. "$(dirname "$0")/integration-lib.sh"

: "${PORTD:?}" "${PORTCTL:?}"
NSS_DIR=${NSS_DIR:-}

NETNS=portd-test-$$
CGROUP_DIR=

[ "$(id -u)" -eq 0 ] || skip "network namespaces, cgroups and binding a file over /etc/services need root"
need_tool ip
need_tool getent
need_tool unshare
need_nss
unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
ip netns add "$NETNS" 2>/dev/null || skip "cannot create a network namespace with 'ip netns add'"

[ -n "${PORTD_UNDER_VALGRIND:-}" ] && say "# portd runs under valgrind"

make_test_dir scopes

cleanup() {
        # who's listeners and follower, should the script end before it stops them
        [ -n "${LISTENERS+x}" ] && stop_listeners
        [ -n "${FOLLOWER:-}" ] && kill "$FOLLOWER" 2>/dev/null
        stop_daemon quiet
        ip netns del "$NETNS" 2>/dev/null
        if [ -n "$CGROUP_DIR" ]; then
                rmdir "$CGROUP_DIR/inner" 2>/dev/null
                rmdir "$CGROUP_DIR" 2>/dev/null
        fi
        rm -rf "$TMP"
}

# The environment in which glibc loads the module from the build, pointed at the test's daemon (a
# sanitizer build of the module needs its runtime loaded first into programs built without it).
preload=$(ldd "$NSS_DIR/libnss_portd.so.2" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { printf "%s:", $3 }')
nss_env=(LD_LIBRARY_PATH="$NSS_DIR" PORTD_SOCKET="$SOCK" LD_PRELOAD="${preload%:}"
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0")

# getent_queries SOURCE FILE, then the whole enumeration through the same source.
getent_queries_enumeration() {
        getent_queries "$@"
        printf '== (enumeration)\n'
        getent -s "services:$1" services
}
export -f getent_queries getent_queries_enumeration

# The truth: glibc's files backend with FILE bound over /etc/services in a private mount namespace.
files_answers() {
        unshare -m --propagation private bash -c 'mount --bind "$0" /etc/services && exec "$@"' "$1" \
                bash -c 'getent_queries_enumeration files "$0"' "$TMP/queries"
}

# portd's answers through the NSS module, run by a command prefix (ip netns exec ..., or nothing).
portd_answers() {
        "$@" env "${nss_env[@]}" bash -c 'getent_queries_enumeration portd "$0"' "$TMP/queries"
}

# One varlink call on the daemon's socket, from wherever it runs: prints the reply's parameters.
varlink_call() {
        "$PYTHON" -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(json.dumps({"method": sys.argv[2], "parameters": json.loads(sys.argv[3])}).encode() + b"\0")
buf = b""
while not buf.endswith(b"\0"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(json.dumps(json.loads(buf.rstrip(b"\0")), sort_keys=True))
' "$SOCK" "$@"
}

compare() {
        local what=$1 expected=$2 actual=$3
        if diff -u "$expected" "$actual" >"$TMP/diff"; then
                pass "$what"
        else
                fail "$what"
                head -40 "$TMP/diff"
        fi
}

# ---- a writable cgroup hierarchy: cgroup2 (unified or hybrid), else the named systemd one ----

cgroup_mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
cgroup_key='^0::'
if [ -z "$cgroup_mount" ] || ! mkdir "$cgroup_mount/portd-test-$$" 2>/dev/null; then
        cgroup_mount=$(awk '$3 == "cgroup" && $4 ~ /name=systemd/ { print $2; exit }' /proc/self/mounts)
        cgroup_key='^[0-9]+:name=systemd:'
        if [ -z "$cgroup_mount" ] || ! mkdir "$cgroup_mount/portd-test-$$" 2>/dev/null; then
                skip "no writable cgroup hierarchy (cgroup2 or name=systemd) to move a process into"
        fi
fi
CGROUP_DIR=$cgroup_mount/portd-test-$$
mkdir "$CGROUP_DIR/inner" || skip "cannot create a child cgroup in '$CGROUP_DIR'"
# The path as /proc/PID/cgroup shows it (relative to the cgroup namespace, not the mount point).
cgroup_path=$(
        echo "$BASHPID" >"$CGROUP_DIR/cgroup.procs" || exit 1
        grep -E "$cgroup_key" "/proc/$BASHPID/cgroup" | sed -E "s/$cgroup_key//"
) || skip "cannot move a process into '$CGROUP_DIR'"
[ -n "$cgroup_path" ] || skip "no cgroup path in /proc/PID/cgroup for '$CGROUP_DIR'"
say "# cgroup '$CGROUP_DIR' is '$cgroup_path'; network namespace '$NETNS'"

# Runs a command in the test cgroup (or its child "inner").
in_cgroup() {
        local dir=$CGROUP_DIR
        if [ "$1" = inner ]; then
                dir=$CGROUP_DIR/inner
                shift
        fi
        (echo "$BASHPID" >"$dir/cgroup.procs" && exec "$@")
}

# ---- configuration ----

mkdir -p "$ROOT/etc/services.d" "$ROOT/etc/portd/scopes/blue.d" "$ROOT/run/portd/scopes/green.d"
cat >"$ROOT/etc/services" <<'EOF'
ssh 22/tcp
http 80/tcp www www-http
http 80/udp www
domain 53/tcp
domain 53/udp
ftp 21/tcp
ftp 21/udp
smtp 25/tcp mail
EOF
echo 'metrics 9100/tcp node-exporter' >"$ROOT/etc/services.d/50-metrics.conf"

# blue: by network namespace (resolved on the real system, not below --root).
printf '[Match]\nNetworkNamespace=/run/netns/%s\n' "$NETNS" >"$ROOT/etc/portd/scopes/blue.scope"
cat >"$ROOT/etc/portd/scopes/blue.d/10-blue.conf" <<'EOF'
http 8080/tcp web
myapp 9000/tcp
!ftp
!domain/udp
EOF
# green: a runtime scope by cgroup, with a glob; the processes of child cgroups belong to it too.
printf '[Match]\nCgroup=%s\n' "${cgroup_path%-$$}-*" >"$ROOT/run/portd/scopes/green.scope"
cat >"$ROOT/run/portd/scopes/green.d/10-green.conf" <<'EOF'
ssh 2222/tcp secure-shell
greenapp 7000/tcp
!smtp
EOF

# What each kind of caller must see, as one services file for glibc.
{
        echo 'metrics 9100/tcp node-exporter'
        cat "$ROOT/etc/services"
} >"$TMP/host.expected"
cat >"$TMP/blue.expected" <<'EOF'
http 8080/tcp web
myapp 9000/tcp
metrics 9100/tcp node-exporter
ssh 22/tcp
http 80/udp www
domain 53/tcp
smtp 25/tcp mail
EOF
cat >"$TMP/green.expected" <<'EOF'
ssh 2222/tcp secure-shell
greenapp 7000/tcp
metrics 9100/tcp node-exporter
http 80/tcp www www-http
http 80/udp www
domain 53/tcp
domain 53/udp
ftp 21/tcp
ftp 21/udp
EOF
printf '%s\n' http www web www-http myapp ftp domain ssh secure-shell smtp mail metrics node-exporter greenapp \
        http/tcp http/udp www/udp domain/udp domain/tcp ftp/udp ssh/tcp \
        80 8080 9000 21 53 22 2222 25 7000 9100 53/udp 80/tcp 80/udp 21/tcp no-such-service >"$TMP/queries"

for s in host blue green; do
        files_answers "$TMP/$s.expected" >"$TMP/$s.files" || fail "glibc's files backend on $s.expected"
done
# Otherwise a daemon that ignored the scopes would pass.
! cmp -s "$TMP/host.files" "$TMP/blue.files" && ! cmp -s "$TMP/host.files" "$TMP/green.files" &&
        grep -q '^rc=2' "$TMP/blue.files" && grep -q '^rc=0' "$TMP/blue.files" &&
        pass "the scopes' expected answers differ from the host's, with hits and misses" ||
        fail "the expected answers do not tell the scopes from the host"

: >"$LOG"
start_daemon

# ---- outside every scope: the host's answers ----

portd_answers >"$TMP/host.portd"
compare "outside the scopes: every lookup and the enumeration equal glibc on the host's files" \
        "$TMP/host.files" "$TMP/host.portd"
out=$(portctl status --json)
[[ "$out" == *'"scope":null'* ]] && pass "Status outside: scope null" || fail "Status outside: $out"

# ---- the network namespace scope ----

portd_answers ip netns exec "$NETNS" >"$TMP/blue.portd"
compare "in netns $NETNS (snapshot): additions, replacements and removals of scope blue" \
        "$TMP/blue.files" "$TMP/blue.portd"
nss_env+=(PORTD_NSS_NO_SNAPSHOT=1)
portd_answers ip netns exec "$NETNS" >"$TMP/blue.portd"
compare "in netns $NETNS (varlink, PORTD_NSS_NO_SNAPSHOT=1): the same" "$TMP/blue.files" "$TMP/blue.portd"
unset 'nss_env[${#nss_env[@]}-1]'

out=$(ip netns exec "$NETNS" "$PORTCTL" --socket "$SOCK" lookup myapp)
[[ "$out" == *"9000/tcp"*"/etc/portd/scopes/blue.d/10-blue.conf:2"* ]] &&
        pass "portctl lookup in the netns names the scope's file and line" || fail "portctl lookup in netns: $out"
out=$(ip netns exec "$NETNS" "$PORTCTL" --socket "$SOCK" status --json)
[[ "$out" == *'"scope":"blue"'* && "$out" == *'/etc/portd/scopes/blue.d/10-blue.conf'* ]] &&
        pass "Status in the netns: scope blue, with its source" || fail "Status in netns: $out"

# Explain and Verify through the daemon answer from the caller's scope too.
out=$(ip netns exec "$NETNS" bash -c "$(declare -f varlink_call); PYTHON=$PYTHON SOCK=$SOCK varlink_call io.portd.Services.Explain '{\"name\": \"ftp\"}'")
[[ "$out" == *'"winner": null'* && "$out" == *'"file": "/etc/portd/scopes/blue.d/10-blue.conf", "line": 3'* ]] &&
        pass "Explain in the netns: ftp removed by blue.d/10-blue.conf:3" || fail "Explain in netns: $out"
out=$(varlink_call io.portd.Services.Explain '{"name": "ftp"}')
[[ "$out" == *'"winner": {'*'"file": "/etc/services"'* && "$out" != *blue.d* ]] &&
        pass "Explain outside: ftp from /etc/services" || fail "Explain outside: $out"
echo 'broken line' >>"$ROOT/run/portd/scopes/green.d/10-green.conf"
wait_for_output 1000 '10-green.conf", "level": "error", "line": 4' varlink_call io.portd.Services.Verify '{}' &&
        pass "Verify on the host reports a scope's bad line with file:line" || fail "Verify on the host misses the scope's bad line"
grep -q "/run/portd/scopes/green.d/10-green.conf:4: " "$LOG" && pass "... and so does the log" ||
        fail "the log does not name the scope's bad line"
out=$(ip netns exec "$NETNS" bash -c "$(declare -f varlink_call); PYTHON=$PYTHON SOCK=$SOCK varlink_call io.portd.Services.Verify '{}'")
[[ "$out" != *green* ]] && pass "Verify in scope blue does not show scope green's files" || fail "Verify in netns: $out"
sed -i '$d' "$ROOT/run/portd/scopes/green.d/10-green.conf"

# ---- the cgroup scope ----

portd_answers in_cgroup >"$TMP/green.portd"
compare "in cgroup $cgroup_path (snapshot): additions, replacements and removals of scope green" \
        "$TMP/green.files" "$TMP/green.portd"
portd_answers in_cgroup inner >"$TMP/green.portd"
compare "in its child cgroup 'inner': scope green too" "$TMP/green.files" "$TMP/green.portd"
nss_env+=(PORTD_NSS_NO_SNAPSHOT=1)
portd_answers in_cgroup >"$TMP/green.portd"
compare "in cgroup $cgroup_path (varlink, PORTD_NSS_NO_SNAPSHOT=1): the same" "$TMP/green.files" "$TMP/green.portd"
unset 'nss_env[${#nss_env[@]}-1]'

out=$(in_cgroup "$PORTCTL" --socket "$SOCK" lookup ssh)
[[ "$out" == *"2222/tcp"*"/run/portd/scopes/green.d/10-green.conf:1"* ]] &&
        pass "portctl lookup in the cgroup: the runtime scope's entry" || fail "portctl lookup in cgroup: $out"
out=$(in_cgroup "$PORTCTL" --socket "$SOCK" lookup smtp 2>&1)
rc=$?
[ "$rc" -eq 2 ] && pass "portctl lookup in the cgroup: a removed entry is not found (exit 2)" ||
        fail "portctl lookup smtp in cgroup: exit $rc, $out"
out=$(in_cgroup "$PORTCTL" --socket "$SOCK" status --json)
[[ "$out" == *'"scope":"green"'* ]] && pass "Status in the cgroup: scope green" || fail "Status in cgroup: $out"
# In both the namespace and the cgroup: scopes are tried in lexical order, the first match wins.
out=$(in_cgroup ip netns exec "$NETNS" "$PORTCTL" --socket "$SOCK" status --json)
[[ "$out" == *'"scope":"blue"'* ]] && pass "in both: 'blue' sorts first and wins" || fail "in both: $out"

# ---- reload: an edit of a scope's drop-in reaches its callers within a second ----

echo 'late 7777/tcp' >>"$ROOT/etc/portd/scopes/blue.d/10-blue.conf"
if wait_for_output 1000 '^late +7777/tcp' ip netns exec "$NETNS" env "${nss_env[@]}" getent -s services:portd services late; then
        pass "an added line in blue.d is seen in the netns after ${ELAPSED_MS} ms"
else
        fail "an added line in blue.d is not seen in the netns within 1 s"
fi
out=$(portd_answers)
[[ "$out" != *"late"* ]] && pass "... and not outside it" || fail "the scope's line leaks to the host"

# A new scope file applies without a restart, also to a process that already mapped its old
# scope's snapshot; a bad line in it is reported with file:line.
in_cgroup env "${nss_env[@]}" "$PYTHON" -c '
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None)
libc.__nss_configure_lookup(b"services", b"portd")
def look(name):
    try:
        return socket.getservbyname(name, "tcp")
    except OSError:
        return None
print("before", look("ssh"), look("first"), flush=True)
open(sys.argv[1], "w").close()
deadline = time.monotonic() + 1.0 * int(sys.argv[3])
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline + 5:
    time.sleep(0.005)
start = time.monotonic()
while look("first") is None and time.monotonic() < deadline:
    time.sleep(0.005)
print("after", look("ssh"), look("first"), round((time.monotonic() - start) * 1000), flush=True)
' "$TMP/ready" "$TMP/go" "$((2 * scale))" >"$TMP/longrunning.out" 2>&1 &
LONG_PID=$!
for ((i = 0; i < 500 * scale; i++)); do
        [ -e "$TMP/ready" ] && break
        sleep 0.01
done
printf '[Match]\nCgroup=%s\nNetworkNamespace=relative\n' "$cgroup_path" >"$TMP/a.scope"
mkdir -p "$ROOT/etc/portd/scopes/a-first.d"
echo 'first 1111/tcp' >"$ROOT/etc/portd/scopes/a-first.d/x.conf"
mv "$TMP/a.scope" "$ROOT/etc/portd/scopes/a-first.scope"
touch "$TMP/go"
if wait_for_output 1000 '"scope":"a-first"' in_cgroup "$PORTCTL" --socket "$SOCK" status --json; then
        pass "a new scope that sorts first takes over the cgroup's callers after ${ELAPSED_MS} ms"
else
        fail "a new scope file is not picked up"
fi
wait "$LONG_PID"
out=$(cat "$TMP/longrunning.out")
if [[ "$out" == *"before 2222 None"*"after 22 1111 "* ]]; then
        pass "a running process in the cgroup moves from scope green to a-first: ${out##* } ms after the change"
else
        fail "a running process does not follow the new scope: $out"
fi
grep -q "/etc/portd/scopes/a-first.scope:3: NetworkNamespace= takes an absolute path" "$LOG" &&
        pass "its bad line is logged with file:line" || fail "no file:line in the log for the bad line"
out=$("$PORTCTL" verify --root "$ROOT" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && [[ "$out" == *"/etc/portd/scopes/a-first.scope:3: error:"* ]] &&
        pass "portctl verify reports it with file:line and exits 1" || fail "portctl verify: exit $rc, $out"

# Removing the scope gives its callers the next matching one back.
rm -r "$ROOT/etc/portd/scopes/a-first.scope" "$ROOT/etc/portd/scopes/a-first.d"
wait_for_output 1000 '"scope":"green"' in_cgroup "$PORTCTL" --socket "$SOCK" status --json &&
        pass "a removed scope is dropped after ${ELAPSED_MS} ms" || fail "a removed scope still answers"

# ---- state changes come from the host only; other scopes' findings are for root on the host ----

# Root in a container that was given the socket (a bind mount of /run/portd) is refused: in a PID
# namespace, in a user namespace, and in a scope (the netns one); root on the host is not.
in_pidns() { unshare --pid --fork --mount-proc "$@"; }
in_userns() { unshare --user --map-root-user "$@"; }
in_netns_scope() { ip netns exec "$NETNS" "$@"; }
for where in in_pidns in_userns in_netns_scope; do
        out=$($where "$PORTCTL" --socket "$SOCK" set --runtime boxed 4444/tcp 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"refused from containers"* ]] &&
                pass "set as root $where is refused: $out" || fail "set as root $where: exit $rc, $out"
        out=$($where "$PORTCTL" --socket "$SOCK" reload 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"refused from containers"* ]] &&
                pass "reload as root $where is refused" || fail "reload as root $where: exit $rc, $out"
done
out=$(portctl lookup boxed 2>&1)
[ $? -eq 2 ] && pass "... and nothing was set" || fail "an override from a container was applied: $out"
out=$(portctl set --runtime boxed 4444/tcp 2>&1) && [[ $(portctl lookup boxed 2>&1) == *4444/tcp* ]] &&
        pass "set as root on the host is allowed" || fail "set as root on the host: $out"
out=$(in_pidns "$PORTCTL" --socket "$SOCK" unset --runtime boxed 2>&1)
[ $? -eq 1 ] && [[ "$out" == *"refused from containers"* ]] &&
        pass "unset as root in a PID namespace is refused" || fail "unset in a PID namespace: $out"
out=$(portctl unset --runtime boxed 2>&1) && pass "unset as root on the host is allowed" ||
        fail "unset as root on the host: $out"
out=$(portctl reload 2>&1) && pass "reload as root on the host is allowed" || fail "reload on the host: $out"

# A bad line in scope green's drop-in: named to root on the host, to green's own callers, and only
# counted for everyone else (its files may be readable by root only).
echo 'secret-looking line' >>"$ROOT/run/portd/scopes/green.d/10-green.conf"
wait_for_output 1000 '10-green.conf", "level": "error", "line": 4' varlink_call io.portd.Services.Verify '{}' &&
        pass "Verify as root on the host names green's bad line" || fail "Verify as root on the host"
verify_as() { "$@" bash -c "$(declare -f varlink_call); PYTHON=$PYTHON SOCK=$SOCK varlink_call io.portd.Services.Verify '{}'"; }
out=$(verify_as in_cgroup)
[[ "$out" == *'10-green.conf", "level": "error", "line": 4'* ]] &&
        pass "Verify in scope green names its own bad line" || fail "Verify in scope green: $out"
if command -v setpriv >/dev/null; then
        out=$(verify_as setpriv --reuid=65534 --regid=65534 --clear-groups)
        [[ "$out" != *green* && "$out" != *secret-looking* && "$out" == *"1 error(s) and "*"in the scopes' files"* ]] &&
                pass "Verify as nobody on the host: only a count of the scopes' findings" ||
                fail "Verify as nobody on the host: $out"
fi
out=$(verify_as in_pidns)
[[ "$out" != *green* && "$out" == *"error(s) and"*"shown to root on the host only"* ]] &&
        pass "Verify as root in a PID namespace: only a count" || fail "Verify as root in a PID namespace: $out"
sed -i '$d' "$ROOT/run/portd/scopes/green.d/10-green.conf"

# ---- portctl who names ports from the caller's own catalog ----

# The owner-query worker does not decide scopes (portd(8)): portctl names the ports of its rows
# from the caller's catalog, so a row's service is what getservbyport() answers that caller
# through the NSS module.  In blue's netns 8080/tcp is http, 9000/tcp myapp and 80/tcp nothing;
# on the host 80/tcp is http and the others nothing; in green's cgroup 7000/tcp is greenapp.

# listen WHERE... PORT...: a TCP listener on 127.0.0.1 for each PORT, run by the command prefix
# WHERE (nothing for the host); its pid in LISTENERS once it listens (its own: in_cgroup's is not
# a child of ours), and stop_listeners ends them.
LISTENERS=()
listen() {
        local ports=() where=() i
        while [[ $# -gt 0 && $1 != [0-9]* ]]; do
                where+=("$1")
                shift
        done
        ports=("$@")
        rm -f "$TMP/listening" "$TMP/listening.tmp"
        "${where[@]}" "$PYTHON" -c '
import os, socket, sys, time
socks = []
for port in sys.argv[2:]:
    s = socket.socket()
    s.bind(("127.0.0.1", int(port)))
    s.listen()
    socks.append(s)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
' "$TMP/listening" "${ports[@]}" >/dev/null 2>&1 &
        for ((i = 0; i < 500 * scale; i++)); do
                if [ -e "$TMP/listening" ]; then
                        LISTENERS+=("$(cat "$TMP/listening")")
                        return 0
                fi
                sleep 0.01
        done
        fail "no listener on ${ports[*]} ${where[*]}"
}
stop_listeners() {
        local pid i
        for pid in "${LISTENERS[@]}"; do
                kill "$pid" 2>/dev/null
                for ((i = 0; i < 500 * scale; i++)); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.01
                done
        done
        LISTENERS=()
}

# expected_name WHERE... PORT: the name getservbyport(PORT, "tcp") answers the caller WHERE runs,
# through the NSS module alone ("-" for none): the truth the rows are held to.
expected_name() {
        local port=${*: -1} out
        out=$("${@:1:$#-1}" env "${nss_env[@]}" getent -s services:portd services "$port/tcp") || out=-
        printf '%s\n' "${out%% *}"
}

# who_names WHERE... -- WHO-ARGS...: "PORT NAME" per row of portctl who --json, sorted ("-" for a
# row without service), and the same from the table's NAME column (-P off, so the port's name).
who_names() {
        local where=()
        while [ "$1" != -- ]; do
                where+=("$1")
                shift
        done
        shift
        "${where[@]}" "$PORTCTL" --socket "$SOCK" who --json "$@" | "$PYTHON" -c '
import json, sys
rows = json.load(sys.stdin)
for r in sorted(rows, key=lambda r: r["port"]):
    print(r["port"], r.get("service", "-"))
'
}
who_table_names() {
        local where=()
        while [ "$1" != -- ]; do
                where+=("$1")
                shift
        done
        shift
        # NAME is 127.0.0.1:PORT-OR-SERVICE; SERVICE is the next column.
        "${where[@]}" "$PORTCTL" --socket "$SOCK" who --no-legend "$@" |
                awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^127\.0\.0\.1:/) { sub(/^127\.0\.0\.1:/, "", $i); print $i, $(i + 2) } }' |
                sort
}

listen ip netns exec "$NETNS" 80 8080 9000
listen in_cgroup 7000

# caller WHERE... -- PORTS... -- WHO-ARGS...: the rows WHERE's portctl who prints for PORTS name
# them as getservbyport() answers WHERE, in --json and in the table.
check_caller() {
        local what=$1 where=() ports=() port expected=() json table
        shift
        while [ "$1" != -- ]; do
                where+=("$1")
                shift
        done
        shift
        while [ "$1" != -- ]; do
                ports+=("$1")
                shift
        done
        shift
        for port in "${ports[@]}"; do
                expected+=("$port $(expected_name "${where[@]}" "$port")")
        done
        printf '%s\n' "${expected[@]}" | sort -n >"$TMP/who.expected"
        who_names "${where[@]}" -- "$@" >"$TMP/who.json" 2>"$TMP/who.err" ||
                fail "$what: portctl who --json: $(cat "$TMP/who.err")"
        compare "$what: who --json names each port as getservbyport() there ($(tr '\n' ' ' <"$TMP/who.expected"))" \
                "$TMP/who.expected" "$TMP/who.json"
        # The table: NAME shows the service (or the number) and SERVICE the same name.
        while read -r port name; do
                [ "$name" = - ] && printf '%s -\n' "$port" || printf '%s %s\n' "$name" "$name"
        done <"$TMP/who.expected" | sort >"$TMP/who.table.expected"
        who_table_names "${where[@]}" -- "$@" >"$TMP/who.table" 2>>"$TMP/who.err"
        compare "$what: who's table the same" "$TMP/who.table.expected" "$TMP/who.table"
        [ -s "$TMP/who.err" ] && fail "$what: portctl who wrote to stderr: $(cat "$TMP/who.err")"
}

check_caller "in netns $NETNS (scope blue)" ip netns exec "$NETNS" -- 80 8080 9000 -- tcp:80 tcp:8080 tcp:9000
check_caller "on the host, the same sockets (--netns)" -- 80 8080 9000 -- --netns "$NETNS" tcp:80 tcp:8080 tcp:9000
check_caller "in cgroup $cgroup_path (scope green)" in_cgroup -- 7000 -- tcp:7000
check_caller "on the host, green's listener" -- 7000 -- tcp:7000
# Otherwise a portctl that named nothing, or always the host's names, would pass.
[ "$(expected_name ip netns exec "$NETNS" 9000)" = myapp ] && [ "$(expected_name 80)" = http ] &&
        [ "$(expected_name ip netns exec "$NETNS" 80)" = - ] && [ "$(expected_name in_cgroup 7000)" = greenapp ] &&
        pass "the truth differs between the callers: blue's 9000/tcp is myapp, its 80/tcp nothing, the host's http" ||
        fail "getservbyport() does not tell the scopes apart"

stop_listeners

# --follow names its events' ports as well, and after the scope's catalog changes, from the new
# one (the image it holds says it was superseded).
ip netns exec "$NETNS" "$PORTCTL" --socket "$SOCK" who --follow --json=short tcp:9000 >"$TMP/follow.out" \
        2>"$TMP/follow.err" &
FOLLOWER=$!
if wait_for_output 5000 '"following"' cat "$TMP/follow.out"; then
        listen ip netns exec "$NETNS" 9000
        wait_for_output 5000 '"started".*"service":"myapp"' cat "$TMP/follow.out" &&
                pass "who --follow in netns $NETNS names the new listener's port myapp" ||
                fail "who --follow in the netns: $(cat "$TMP/follow.out" "$TMP/follow.err")"
        stop_listeners
        sed -i 's/^myapp 9000/renamed 9000/' "$ROOT/etc/portd/scopes/blue.d/10-blue.conf"
        wait_for_output 2000 '^renamed ' ip netns exec "$NETNS" env "${nss_env[@]}" getent -s services:portd services 9000/tcp ||
                fail "scope blue's change is not served"
        listen ip netns exec "$NETNS" 9000
        wait_for_output 5000 '"started".*"service":"renamed"' cat "$TMP/follow.out" &&
                pass "... and after the scope's change the new name, renamed" ||
                fail "who --follow after the change: $(cat "$TMP/follow.out" "$TMP/follow.err")"
        stop_listeners
        # A newer catalog that cannot be had must not leave the superseded one naming the ports:
        # the NSS module never answers from a superseded image either.  The follower finds no
        # io.portd.Services socket when it asks (moved aside: the daemon keeps serving on it, and
        # the follow goes on on io.portd.Sockets's).
        mv "$SOCK" "$SOCK.aside"
        sed -i 's/^renamed 9000/again 9000/' "$ROOT/etc/portd/scopes/blue.d/10-blue.conf"
        wait_for_output 2000 '^again ' ip netns exec "$NETNS" env "${nss_env[@]}" PORTD_SOCKET="$SOCK.aside" \
                getent -s services:portd services 9000/tcp || fail "scope blue's second change is not served"
        listen ip netns exec "$NETNS" 9000
        wait_for_output 5000 '^3$' grep -c '"started"' "$TMP/follow.out" || fail "the follower sees no event"
        mv "$SOCK.aside" "$SOCK"
        [ "$(grep -c '"started".*"service":"renamed"' "$TMP/follow.out")" = 1 ] &&
                pass "... and a newer catalog it cannot get names nothing, not the superseded one's renamed" ||
                fail "who --follow named a port from a superseded catalog: $(cat "$TMP/follow.out")"
else
        fail "who --follow in the netns does not start: $(cat "$TMP/follow.err")"
fi
stop_listeners
kill "$FOLLOWER" 2>/dev/null
wait "$FOLLOWER" 2>/dev/null

finish
