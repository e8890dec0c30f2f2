#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Integration tests of what a hostile or careless local user, or a broken configuration, must not
# achieve against portd (issue 12, the services side): taking a live daemon's socket over, escaping
# a scope by exiting, starving others of connections with many UIDs, unreadable drop-ins dropping
# entries, --root escaping its tree, names that are not UTF-8.  The real daemon, real glibc.
# Usage: integration-hardening.sh SCENARIO; PORTD, PORTCTL, NSS_DIR and DATA_DIR in the environment.
# Exit 0 pass, 1 fail, 77 skip (a privilege or a tool is missing).

set -u

. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?usage: integration-hardening.sh SCENARIO}
shift

: "${PORTD:?}" "${PORTCTL:?}" "${DATA_DIR:?}"
NSS_DIR=${NSS_DIR:-}

make_test_dir hard

# ---- scenarios ----

# A second portd on a live daemon's path refuses with one line and exit 1, and leaves the socket
# alone; a stale socket (its daemon killed) is replaced; a file that is not a socket is not.
scenario_second_daemon() {
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        start_daemon
        local ino_before ino_after out rc sockets_before sockets_after
        ino_before=$(stat -c %i "$SOCK")
        sockets_before=$(stat -c %i "$SOCKETS")
        out=$(timeout $((10 * scale)) "$PORTD" --root "$ROOT" --socket "$SOCK" 2>&1)
        rc=$?
        ino_after=$(stat -c %i "$SOCK" 2>/dev/null)
        sockets_after=$(stat -c %i "$SOCKETS" 2>/dev/null)
        if [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ "$out" == *"refusing"* ]]; then
                pass "a second daemon on a live socket refuses: $out"
        else
                fail "a second daemon on a live socket: exit $rc, output '$out'"
        fi
        if [ "$ino_before" = "$ino_after" ] && portctl lookup ssh >/dev/null; then
                pass "the live daemon keeps its socket and answers"
        else
                fail "the live daemon's socket was replaced ($ino_before -> ${ino_after:-none})"
        fi
        # Exit 2 is "nobody owns :1", an answer; 1 would be no io.portd.Sockets to ask.
        portctl who :1 >/dev/null 2>&1
        rc=$?
        if [ "$sockets_before" = "$sockets_after" ] && [ "$rc" -ne 1 ]; then
                pass "the live daemon keeps its io.portd.Sockets socket too"
        else
                fail "the live daemon's io.portd.Sockets socket was replaced ($sockets_before -> ${sockets_after:-none})"
        fi

        kill -KILL "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
        [ -S "$SOCK" ] || fail "no stale socket left after SIGKILL"
        start_daemon
        portctl lookup ssh >/dev/null && pass "a stale socket is replaced" || fail "no answer over a stale socket"
        stop_daemon quiet

        : >"$SOCK"
        out=$(timeout $((10 * scale)) "$PORTD" --root "$ROOT" --socket "$SOCK" 2>&1)
        rc=$?
        if [ "$rc" -eq 1 ] && [ -f "$SOCK" ]; then
                pass "a regular file at the socket's path is left alone: $out"
        else
                fail "a regular file at the socket's path: exit $rc, '$out'"
        fi
        rm -f "$SOCK"
        # The socket is bound under a temporary name and renamed into place, listening: a refusal
        # leaves no such name behind.
        local left
        left=$(find "$TMP" -maxdepth 1 -name "${SOCK##*/}.*" ! -name '*.snapshot')
        [ -z "$left" ] && pass "no temporary socket is left beside the path" || fail "left behind: $left"
        finish
}

# scope_call CGROUP_DIR MODE METHOD PARAMS: one varlink call from a process in CGROUP_DIR; MODE
# "live" calls from the process that connected, "orphan" connects, forks, lets the connecting
# process exit (and be reaped) and calls from the child.  Prints the reply.
scope_call() {
        local dir=$1
        shift
        (echo "$BASHPID" >"$dir/cgroup.procs" && exec "$PYTHON" -c '
import json, os, socket, sys, time
sock, mode, method, params = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
if mode == "orphan":
    parent = os.getpid()
    if os.fork() > 0:
        os._exit(0)
    for _ in range(500):
        if not os.path.exists("/proc/%d" % parent):
            break
        time.sleep(0.01)
    else:
        print("the connecting process was not reaped")
        sys.exit(1)
s.sendall(json.dumps({"method": method, "parameters": json.loads(params)}).encode() + b"\0")
buf = b""
while not buf.endswith(b"\0"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.rstrip(b"\0").decode() or "EOF")
' "$SOCK" "$@")
}

# A caller whose connecting process has exited (connect, fork, exit: the child calls) cannot be
# placed in or out of the scopes: it gets an error, never the host's catalog.
scenario_exiting_caller() {
        [ "$(id -u)" -eq 0 ] || skip "moving a process into a cgroup needs root"
        local mount dir path out
        mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
        [ -n "$mount" ] || skip "no cgroup2 hierarchy"
        dir=$mount/portd-hard-$$
        mkdir "$dir" 2>/dev/null || skip "cannot create a cgroup below '$mount'"
        CGROUP_DIR=$dir
        cleanup() {
                stop_daemon quiet
                rmdir "$CGROUP_DIR" 2>/dev/null
                rm -rf "$TMP"
        }
        path=$( (echo "$BASHPID" >"$dir/cgroup.procs" && sed -n 's/^0:://p' "/proc/$BASHPID/cgroup"))
        [ -n "$path" ] || skip "cannot move a process into '$dir'"

        printf 'ssh 22/tcp\nhttp 80/tcp www\n' >"$ROOT/etc/services"
        mkdir -p "$ROOT/etc/portd/scopes/red.d"
        printf '[Match]\nCgroup=%s\n' "$path" >"$ROOT/etc/portd/scopes/red.scope"
        printf 'ssh 2222/tcp\n' >"$ROOT/etc/portd/scopes/red.d/10-red.conf"
        start_daemon

        local by_name='{"name":"ssh","protocol":"tcp"}'
        out=$(scope_call "$dir" live io.portd.Services.GetServiceByName "$by_name")
        [[ "$out" == *'"port":2222'* ]] && pass "a live caller in the scope gets the scope's answer" ||
                fail "a live caller in the scope: $out"
        out=$(portctl --json lookup ssh tcp)
        [[ "$out" == *'"port":22'* ]] && pass "a caller outside the scopes gets the host's answer" ||
                fail "outside the scopes: $out"
        for method in GetServiceByName GetServiceByPort GetSnapshot Status Verify; do
                local params='{}'
                [ "$method" = GetServiceByName ] && params=$by_name
                [ "$method" = GetServiceByPort ] && params='{"port":22,"protocol":"tcp"}'
                out=$(scope_call "$dir" orphan "io.portd.Services.$method" "$params")
                if [[ "$out" == *'"error":"io.portd.Services.CallerUnidentified"'* ]]; then
                        pass "$method from a caller whose connecting process exited: CallerUnidentified"
                else
                        fail "$method from a caller whose connecting process exited: ${out:0:200}"
                fi
        done
        # Without scopes nobody needs to be identified: the same caller gets the host's answer.
        rm -r "$ROOT/etc/portd/scopes"
        portctl reload
        out=$(scope_call "$dir" orphan io.portd.Services.GetServiceByName "$by_name")
        [[ "$out" == *'"port":22'* ]] && pass "without scopes, the same caller gets the host's answer" ||
                fail "without scopes: $out"
        finish
}

# Finding 6: one person with many UIDs (a subordinate range) fills every users' slot, at the full
# scale of the default limits: 130 UIDs x 32 connections for 4,032 slots.  A new UID's lookups,
# through portctl and through glibc with the NSS module over varlink, are all answered.
scenario_many_uids() {
        [ "$(id -u)" -eq 0 ] || skip "connecting as 130 users needs root"
        need_tool setpriv
        need_tool prlimit
        need_nss
        : "${HOSTILE:?}"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        # 2 x 4096 + 64 descriptors: the default 4096 connections, of which 64 are root's.
        start_daemon_wrapped prlimit --nofile=16384:16384 --
        local marker=$TMP/uids.marker opened kept out i ok=0 nss_ok=0 fds
        "$HOSTILE" uids "$SOCK" 300000 130 32 "$marker" $((60 * scale)) >"$TMP/uids.out" 2>&1 &
        local flood=$!
        for ((i = 0; i < 3000 * scale; i++)); do
                [ -s "$marker" ] && break
                sleep 0.01
        done
        read -r opened kept <"$marker"
        # The backlog takes the connections at once; the daemon accepts them at its pace (slower
        # under a memory checker).
        for ((i = 0; i < 500 * scale; i++)); do
                fds=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
                [ "$fds" -ge 4032 ] && break
                sleep 0.02
        done
        if [ "${opened:-0}" -ge 4100 ] && [ "$fds" -ge 4032 ]; then
                pass "130 users opened $opened connections; the daemon holds $fds descriptors (every users' slot)"
        else
                fail "the flood did not fill the slots: opened ${opened:-?}, kept ${kept:-?}, $fds descriptors"
        fi
        for ((i = 0; i < 20; i++)); do
                setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --socket "$SOCK" lookup ssh                         >/dev/null 2>"$TMP/err" && ok=$((ok + 1))
                out=$(PORTD_NSS_NO_SNAPSHOT=1 with_nss setpriv --reuid=65534 --regid=65534 --clear-groups \
                        getent -s services:portd services ssh 2>&1) && [[ "$out" =~ ^ssh\ +22/tcp ]] &&
                        nss_ok=$((nss_ok + 1))
        done
        [ "$ok" -eq 20 ] && pass "a new user's 20 lookups through portctl are all answered" ||
                fail "a new user's lookups through portctl: $ok of 20 answered ($(cat "$TMP/err"))"
        [ "$nss_ok" -eq 20 ] && pass "a new user's 20 lookups through glibc and the NSS module over varlink are all answered" ||
                fail "a new user's lookups through glibc over varlink: $nss_ok of 20 answered (last: '$out')"
        fds=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
        [ "$fds" -le 4200 ] && pass "the daemon still holds at most its cap ($fds descriptors)" ||
                fail "the daemon holds $fds descriptors"
        kill -TERM "$flood"
        wait "$flood"
        finish
}

# Finding 3: names that are not UTF-8, or hold control characters or a backslash (glibc takes any
# bytes but white space).  glibc's files backend on the merged file is the truth for the NSS module
# (over varlink and from the snapshot, byte for byte); portctl list, port and lookup work and print
# them escaped (\xNN), --format services gives the bytes back, verify and status warn with file:line.
scenario_bad_names() {
        need_mount_ns
        need_nss
        need_tool getent
        mkdir -p "$ROOT/etc/services.d"
        printf 'ssh 22/tcp\nhttp 80/tcp www\n' >"$ROOT/etc/services"
        printf 'caf\xe9 1234/tcp al\xffias\nesc\x1b[31m 1235/udp\nback\\x41slash 1236/tcp b\\\\\nc1\xc2\x9bx 1237/tcp\nok 1238/tcp caf\xc3\xa9\n' \
                >"$ROOT/etc/services.d/50-bytes.conf"
        cat "$ROOT/etc/services.d/50-bytes.conf" "$ROOT/etc/services" >"$TMP/expected"
        {
                printf 'caf\xe9\ncaf\xe9/tcp\nal\xffias\nesc\x1b[31m\nback\\x41slash\nbackAslash\nb\\\\\nc1\xc2\x9bx\ncaf\xc3\xa9\n'
                printf '%s\n' 1234 1235/udp 1236 1237 1238 ssh 80 no-such
        } >"$TMP/queries"
        start_daemon

        local mode out rc
        in_files_ns "$TMP/expected" bash -c "$(declare -f getent_queries); getent_queries files '$TMP/queries';
                printf '== (enumeration)\n'; getent -s services:files services" >"$TMP/files.out"
        grep -q "^caf$(printf '\xe9')" "$TMP/files.out" && grep -q '^rc=2' "$TMP/files.out" ||
                fail "glibc's files backend does not answer the test's names"
        local nss_queries="$(declare -f getent_queries); getent_queries portd '$TMP/queries';
                printf '== (enumeration)\n'; getent -s services:portd services"
        PORTD_NSS_NO_SNAPSHOT=1 with_nss bash -c "$nss_queries" >"$TMP/varlink.out"
        with_nss bash -c "$nss_queries" >"$TMP/snapshot.out"
        for mode in varlink snapshot; do
                if cmp -s "$TMP/files.out" "$TMP/$mode.out"; then
                        pass "the NSS module ($mode) answers every lookup and the enumeration as glibc, byte for byte"
                else
                        fail "the NSS module ($mode) differs from glibc"
                        diff "$TMP/files.out" "$TMP/$mode.out" | cat -v | head -20
                fi
        done

        out=$(portctl list 2>&1)
        rc=$?
        if [ "$rc" -eq 0 ] && [[ "$out" == *'caf\xe9'*'al\xffias'* ]] && [[ "$out" == *'esc\x1b[31m'* ]] &&
                [[ "$out" == *'back\x5cx41slash'* ]] && [[ "$out" == *'caf\xc3\xa9'* || "$out" == *"caf$(printf '\xc3\xa9')"* ]] &&
                printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 && ! printf '%s' "$out" | grep -q "$(printf '\x1b')"; then
                pass "portctl list shows the names escaped, as UTF-8 without control characters"
        else
                fail "portctl list: exit $rc, $(printf '%s' "$out" | grep -a 123 | cat -v)"
        fi
        portctl list --json | "$PYTHON" -c 'import json, sys; json.load(sys.stdin)' &&
                pass "portctl list --json is valid JSON" || fail "portctl list --json is not valid JSON"
        out=$(portctl port 1234)
        [[ "$out" == *'caf\xe9'* ]] && pass "portctl port 1234: $(printf '%s' "$out" | tail -1)" || fail "portctl port 1234: '$out'"
        out=$(portctl lookup "$(printf 'caf\xe9')" tcp)
        [[ "$out" == *'1234/tcp'* ]] && pass "portctl lookup of a name that is not UTF-8" || fail "portctl lookup caf\\xe9: '$out'"
        out=$(portctl lookup 'caf\xe9' tcp)
        [[ "$out" == *'1234/tcp'* ]] && pass "portctl lookup of that name as portctl prints it" || fail "portctl lookup 'caf\\xe9': '$out'"
        out=$(portctl lookup 'back\x5cx41slash')
        [[ "$out" == *'1236/tcp'* ]] && pass "portctl lookup of a name with a backslash, as printed" ||
                fail "portctl lookup 'back\\x5cx41slash': '$out'"
        portctl list --format services >"$TMP/exported"
        in_files_ns "$TMP/exported" bash -c "$(declare -f getent_queries); getent_queries files '$TMP/queries';
                printf '== (enumeration)\n'; getent -s services:files services" >"$TMP/exported.out"
        cmp -s "$TMP/files.out" "$TMP/exported.out" &&
                pass "portctl list --format services gives the bytes back: glibc answers the same from it" ||
                fail "glibc answers differently from portctl list --format services"

        # Owner rows name the port's service too: a listener on 1234/tcp is named caf\xe9, escaped,
        # and the reply stays JSON (the name went out raw before).
        local listener
        "$PYTHON" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 1234)); s.listen(); print("listening", flush=True); time.sleep(60)' >"$TMP/listener.out" 2>&1 &
        listener=$!
        local i
        for i in $(seq 100); do
                grep -q listening "$TMP/listener.out" && break
                sleep 0.05
        done
        grep -q listening "$TMP/listener.out" || fail "no listener on 127.0.0.1:1234: $(cat "$TMP/listener.out")"
        out=$(portctl who --json :1234 2>&1)
        if printf '%s' "$out" | "$PYTHON" -c 'import json, sys
rows = json.load(sys.stdin)
rows = rows if isinstance(rows, list) else [rows]
sys.exit(0 if any(r.get("service") == "caf\\xe9" for r in rows) else 1)'; then
                pass "portctl who --json names the listener's service escaped, in valid JSON"
        else
                fail "portctl who --json :1234: $(printf '%s' "$out" | cat -v | head -5)"
        fi
        kill "$listener" 2>/dev/null
        wait "$listener" 2>/dev/null

        out=$(portctl status)
        [[ "$out" == *"0 errors, 4 warnings"* ]] && pass "status counts the four names as warnings" ||
                fail "status: $(printf '%s' "$out" | grep -i problems)"
        out=$("$PORTCTL" verify --root "$ROOT" 2>&1)
        if [[ "$out" == *"50-bytes.conf:1"*"caf\xe9"* ]] && [[ "$out" == *"50-bytes.conf:3"* ]] &&
                ! printf '%s' "$out" | grep -q "$(printf '\x1b')"; then
                pass "verify names the file and line of each, escaped"
        else
                fail "verify: $(printf '%s' "$out" | cat -v)"
        fi
        finish
}

# Finding 11: a drop-in replaced by a FIFO, a directory, a symbolic link loop or a link to nothing
# keeps its last good state and is reported with its reason in status, verify and the log; a line
# with 70,000 aliases is skipped and reported, and the rest of the change applies.
scenario_unreadable_kinds() {
        local d=$ROOT/etc/services.d k out json
        mkdir -p "$d"
        printf 'ssh 22/tcp\n' >"$ROOT/etc/services"
        for k in a b c d e; do
                printf 'keep%s 400%s/tcp\n' "$k" "$(printf '%d' "'$k")" >"$d/10-$k.conf"
        done
        start_daemon
        portctl lookup keepd >/dev/null || fail "the drop-ins are not served at start"

        rm "$d/10-a.conf" && mkfifo "$d/10-a.conf"
        rm "$d/10-b.conf" && mkdir "$d/10-b.conf"
        rm "$d/10-c.conf" && ln -s 10-c.conf "$d/10-c.conf"
        rm "$d/10-d.conf" && ln -s /nonexistent/10-d.conf "$d/10-d.conf"
        printf 'marker 4200/tcp\n' >"$d/20-marker.conf"
        wait_for_output 3000 'marker +4200/tcp' portctl lookup marker || fail "the change is not applied"
        for k in a b c d; do
                portctl lookup "keep$k" >/dev/null && pass "10-$k.conf keeps its last good state" ||
                        fail "10-$k.conf's entries are gone"
        done
        "$PYTHON" -c 'import sys; print("big 4100/tcp " + " ".join("a%d" % i for i in range(70000))); print("keepe2 4101/tcp")' \
                >"$d/10-e.conf.tmp" && mv "$d/10-e.conf.tmp" "$d/10-e.conf"
        if wait_for_output 3000 'keepe2 +4101/tcp' portctl lookup keepe2; then
                pass "the change is applied after ${ELAPSED_MS} ms, the line with 70,000 aliases notwithstanding"
        else
                fail "the change with a line of 70,000 aliases is not applied"
        fi
        out=$(portctl status)
        local reasons=('10-a.conf.*not a regular file' '10-b.conf.*a directory' '10-c.conf.*symbolic link in a loop'
                '10-d.conf.*symbolic link to nothing')
        local reason
        for reason in "${reasons[@]}"; do
                grep -q "$reason" <<<"$out" && pass "status: ${reason/.\*/: }" || fail "status does not say '$reason'"
        done
        json=$(portctl status --json)
        if "$PYTHON" -c '
import json, sys
s = json.loads(sys.argv[1])
e = [x for x in s["sources"] if x["file"].endswith("10-e.conf")][0]
sys.exit(0 if not e["masked"] and e["skipped"] == 1 and s["errors"] >= 5 else 1)' "$json"; then
                pass "status: 10-e.conf is not masked, has 1 line skipped, and the errors are counted"
        else
                fail "status --json: $json"
        fi
        out=$("$PORTCTL" verify --root "$ROOT" 2>&1)
        for reason in "${reasons[@]}" '10-e.conf:1:.*70000 aliases'; do
                grep -q "$reason" <<<"$out" && pass "verify: ${reason/.\*/: }" || fail "verify does not say '$reason': $out"
        done
        for k in a b c d; do
                grep -q "Failed to read '/etc/services.d/10-$k.conf': .*keeping its last good state" "$LOG" &&
                        pass "the log names 10-$k.conf and its reason" || fail "the log does not name 10-$k.conf"
        done
        finish
}

# Finding 11: with --root, no path leads out of the tree: absolute and relative symbolic links,
# of files and of directories, resolve inside it (openat2() RESOLVE_IN_ROOT).
scenario_root_escape() {
        local outside=$TMP/outside out
        mkdir -p "$ROOT/etc/services.d" "$ROOT/run" "$outside"
        printf 'ssh 22/tcp\n' >"$ROOT/etc/services"
        printf 'escaped 6000/tcp\n' >"$outside/x.conf"
        ln -s "$outside/x.conf" "$ROOT/etc/services.d/50-absolute.conf"
        ln -s ../../../outside/x.conf "$ROOT/etc/services.d/51-relative.conf"
        ln -s "$outside" "$ROOT/run/services.d"
        mkdir -p "$ROOT/etc/portd"
        ln -s "$outside/x.conf" "$ROOT/etc/portd/overrides.conf"
        out=$("$PORTCTL" list --root "$ROOT" 2>&1; "$PORTCTL" verify --root "$ROOT" 2>&1;
                "$PORTCTL" explain --root "$ROOT" escaped 2>&1)
        if ! grep -q 'escaped.*6000\|outside/x.conf\|run/services.d/x.conf' <<<"$out"; then
                pass "portctl list, verify and explain --root read nothing outside the tree"
        else
                fail "portctl --root read a file outside the tree: $out"
        fi
        grep -q '50-absolute.conf:0: error: cannot be read: a symbolic link to nothing' <<<"$out" &&
                grep -q '51-relative.conf:0: error: cannot be read: a symbolic link to nothing' <<<"$out" &&
                pass "verify reports the links that lead out as links to nothing, with their files" ||
                fail "verify does not report the links that lead out: $out"
        start_daemon
        out=$(portctl list 2>&1)
        if ! grep -q escaped <<<"$out"; then
                pass "portd --root serves nothing from outside the tree"
        else
                fail "portd --root serves a file outside the tree: $out"
        fi
        finish
}

case "$scenario" in
second-daemon) scenario_second_daemon ;;
exiting-caller) scenario_exiting_caller ;;
many-uids) scenario_many_uids ;;
bad-names) scenario_bad_names ;;
unreadable-kinds) scenario_unreadable_kinds ;;
root-escape) scenario_root_escape ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
