#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# portctl against a real portd, as users of getent, systemctl and journalctl expect it (issue 16):
#   lookup      a number is a port (as getent services 110); a failed lookup is one line, exit 2
#   answers     explain and verify ask the daemon, and say so; files only with --root or no daemon
#   status      the daemon's version, PID and socket; --json=short is one line
#   pager       long output through $PAGER on a terminal, not with --no-pager or into a pipe
#   monitor     a line per generation: current, reload, override, files; at most 128 at a time
#   daemon      log lines carry <N> only into the journal's stream; --socket makes no directory
# Usage: integration-portctl.sh SCENARIO (PORTD and PORTCTL in the environment)
. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?scenario}
make_test_dir "portctl-$scenario"

services() {
        printf 'ssh\t22/tcp\npop3\t110/tcp\tpop-3\npop3\t110/udp\tpop-3\nhttp\t80/tcp\twww\n' >"$ROOT/etc/services"
}

scenario_lookup() {
        services
        start_daemon
        local out err rc
        out=$(portctl lookup 110)
        rc=$?
        [ $rc -eq 0 ] && [[ "$out" == *"pop3"*"110/tcp"* ]] && pass "lookup 110 finds pop3, as getent services 110 does" ||
                fail "lookup 110: exit $rc, '$out'"
        out=$(portctl lookup 110/udp)
        [[ "$out" == *"pop3"*"110/udp"* ]] && pass "lookup 110/udp" || fail "lookup 110/udp: '$out'"
        out=$(portctl lookup 110 udp)
        [[ "$out" == *"110/udp"* ]] && pass "lookup 110 udp" || fail "lookup 110 udp: '$out'"
        # getent's own answer over the same file, where a mount namespace can put it there
        if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
                out=$(in_files_ns "$ROOT/etc/services" getent -s services:files services 110)
                [[ "$out" == pop3* ]] && pass "getent services 110 says pop3 over the same file" || fail "getent: '$out'"
        fi

        for args in "lookup nope" "lookup nope udp" "port 9" "port 9/udp" "lookup 9" "explain nope"; do
                out=$(portctl $args 2>"$TMP/err")
                rc=$?
                err=$(cat "$TMP/err")
                if [ $rc -eq 2 ] && [ -z "$out" ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ "$err" == "portctl: no service"* ]]; then
                        pass "$args: exit 2, one line on stderr ('$err')"
                else
                        fail "$args: exit $rc, stdout '$out', stderr '$err'"
                fi
        done
        out=$(portctl -q lookup nope 2>&1)
        rc=$?
        [ $rc -eq 2 ] && [ -z "$out" ] && pass "-q: exit 2 and silence" || fail "-q lookup nope: exit $rc, '$out'"
        out=$(portctl lookup http --no-legend)
        [[ "$out" != *NAME* ]] && [[ "$out" == http* ]] && pass "--no-legend: no header" || fail "--no-legend: '$out'"
        finish
}

scenario_answers() {
        services
        mkdir -p "$ROOT/etc/services.d"
        # Readable by root only: the daemon serves it, an unprivileged caller cannot read it.
        printf 'private-svc\t4711/tcp\n' >"$ROOT/etc/services.d/50-private.conf"
        chmod 0600 "$ROOT/etc/services.d/50-private.conf"
        printf 'broken 99x/tcp\n' >"$ROOT/etc/services.d/60-broken.conf"
        start_daemon
        local out rc nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

        out=$("${nobody[@]}" "$PORTCTL" --socket "$SOCK" lookup private-svc)
        [[ "$out" == *private-svc* ]] && pass "nobody looks private-svc up through the daemon" || fail "lookup as nobody: '$out'"
        out=$("${nobody[@]}" "$PORTCTL" --socket "$SOCK" explain private-svc)
        rc=$?
        if [ $rc -eq 0 ] && [[ "$out" == *"wins"*"private-svc 4711/tcp"* ]] && [[ "$out" == *"(answered by portd at '$SOCK')"* ]]; then
                pass "nobody's explain private-svc is the daemon's answer, and says so"
        else
                fail "explain as nobody: exit $rc, '$out'"
        fi
        out=$(portctl verify)
        rc=$?
        if [ $rc -eq 1 ] && [[ "$out" == *"/etc/services.d/60-broken.conf:1: error:"* ]] && [[ "$out" == *"answered by portd"* ]]; then
                pass "verify shows the error the daemon (started with --root) sees, exit 1"
        else
                fail "verify against the daemon: exit $rc, '$out'"
        fi
        out=$(portctl status)
        [[ "$out" == *"1 error"* ]] && pass "status counts the same error" || fail "status: '$out'"
        out=$(portctl --json=short verify)
        [[ "$out" == *'"answered_by":"portd"'* ]] && [[ "$out" == *'"errors":1'* ]] && pass "verify --json says who answered" ||
                fail "verify --json: '$out'"
        out=$(portctl --json=short explain private-svc)
        [[ "$out" == *'"answered_by":"portd"'* ]] && pass "explain --json says who answered" || fail "explain --json: '$out'"
        # --root: the files, and it says so
        out=$(portctl --root "$ROOT" explain http)
        [[ "$out" == *"(read from the files below '$ROOT')"* ]] && pass "explain --root reads the files and says so" ||
                fail "explain --root: '$out'"
        # a socket named but dead: an error, not a silent switch to other files
        out=$("$PORTCTL" --socket "$TMP/nothing-here" verify 2>&1)
        rc=$?
        [ $rc -eq 1 ] && [[ "$out" == *"cannot reach portd"* ]] && pass "verify with a --socket nobody answers on: exit 1" ||
                fail "verify --socket dead: exit $rc, '$out'"
        finish
}

scenario_status() {
        services
        start_daemon
        local out
        out=$(portctl status)
        [[ "$out" =~ Version:\ portd\ [0-9] ]] && pass "status: the daemon's version" || fail "status version: '$out'"
        [[ "$out" == *"PID: $DAEMON_PID"* ]] && pass "status: the daemon's PID" || fail "status PID (want $DAEMON_PID): '$out'"
        [[ "$out" == *"Socket: $SOCK"* ]] && pass "status: the socket" || fail "status socket: '$out'"
        out=$(portctl --json=short status)
        if [ "$(wc -l <<<"$out")" -eq 1 ] && "$PYTHON" -c 'import json, sys
d = json.loads(sys.argv[1]); assert d["pid"] == int(sys.argv[2]) and d["socket"] == sys.argv[3] and d["version"]' \
                "$out" "$DAEMON_PID" "$SOCK"; then
                pass "status --json=short: one line with version, pid and socket"
        else
                fail "status --json=short: '$out'"
        fi
        out=$(portctl --json=pretty status)
        [ "$(wc -l <<<"$out")" -gt 5 ] && pass "--json=pretty indents" || fail "--json=pretty: '$out'"
        portctl --json=long status >/dev/null 2>&1
        [ $? -eq 1 ] && pass "--json=long: exit 1" || fail "--json=long accepted"
        finish
}

scenario_pager() {
        services
        start_daemon
        command -v script >/dev/null || { fail "'script' (util-linux) is missing"; finish; }
        local out
        # script(1) gives portctl a terminal; the pager marks every line it shows.
        out=$(PAGER='sed s/^/PAGED:/' script -qec "'$PORTCTL' --socket '$SOCK' list" /dev/null)
        [[ "$out" == *"PAGED:ssh"* ]] && pass "list on a terminal goes through \$PAGER" || fail "no pager: '$out'"
        out=$(PAGER='sed s/^/PAGED:/' script -qec "'$PORTCTL' --socket '$SOCK' --no-pager list" /dev/null)
        [[ "$out" == *ssh* ]] && [[ "$out" != *PAGED:* ]] && pass "--no-pager: not paged" || fail "--no-pager: '$out'"
        out=$(PAGER='sed s/^/PAGED:/' portctl list)
        [[ "$out" == *ssh* ]] && [[ "$out" != *PAGED:* ]] && pass "into a pipe: not paged" || fail "pipe: '$out'"
        out=$(PAGER=cat script -qec "'$PORTCTL' --socket '$SOCK' list" /dev/null)
        [[ "$out" == *ssh* ]] && pass "PAGER=cat: printed directly" || fail "PAGER=cat: '$out'"
        out=$(PAGER='exit 3; ' script -qec "'$PORTCTL' --socket '$SOCK' list; echo rc=\$?" /dev/null)
        [[ "$out" == *rc=0* ]] && pass "a pager that fails does not change the exit status" || fail "failing pager: '$out'"
        finish
}

scenario_monitor() {
        services
        start_daemon
        local out
        "$PORTCTL" --socket "$SOCK" --json=short monitor >"$TMP/monitor" 2>"$TMP/monitor.err" &
        local mon=$!
        wait_for_output 5000 '"cause":"current"' cat "$TMP/monitor" >/dev/null ||
                fail "monitor printed no current generation"
        portctl reload
        wait_for_output 5000 '"cause":"reload"' cat "$TMP/monitor" >/dev/null && pass "monitor: a reload is a line" ||
                fail "monitor after reload: '$(cat "$TMP/monitor")'"
        portctl set mon-svc 4999/tcp >/dev/null
        wait_for_output 5000 '"cause":"override"' cat "$TMP/monitor" >/dev/null && pass "monitor: an override is a line" ||
                fail "monitor after set: '$(cat "$TMP/monitor")'"
        mkdir -p "$ROOT/etc/services.d"
        printf 'file-svc 5999/tcp\n' >"$ROOT/etc/services.d/70-file.conf"
        wait_for_output 10000 '"cause":"files"' cat "$TMP/monitor" >/dev/null && pass "monitor: a changed file is a line" ||
                fail "monitor after a file change: '$(cat "$TMP/monitor")'"
        mkdir -p "$ROOT/etc/portd/scopes"
        printf '[Match]\nNetworkNamespace=/run/netns/portd-monitor-none\n' >"$ROOT/etc/portd/scopes/mon.scope"
        wait_for_output 10000 '"scopes_changed":true' cat "$TMP/monitor" >/dev/null && pass "monitor: a new scope is a line that says so" ||
                fail "monitor after a new scope: '$(cat "$TMP/monitor")'"
        # generations only grow, one line each
        if "$PYTHON" -c 'import json, sys
g = [json.loads(l)["generation"] for l in open(sys.argv[1])]
assert g == sorted(g) and len(set(g)) == len(g), g' "$TMP/monitor"; then
                pass "monitor: one line per generation, in order"
        else
                fail "monitor generations: '$(cat "$TMP/monitor")'"
        fi
        kill "$mon" 2>/dev/null
        wait "$mon" 2>/dev/null

        # The text form.
        timeout 2 "$PORTCTL" --socket "$SOCK" monitor >"$TMP/monitor.txt"
        grep -Eq '^[0-9-]+ [0-9:]+ generation [0-9]+ \(current\): [0-9]+ services, digest [0-9a-f]{12}' "$TMP/monitor.txt" &&
                pass "monitor: the text line" || fail "monitor text: '$(cat "$TMP/monitor.txt")'"

        # Bounded: 128 open calls, the next is refused; a closed one frees its place.
        "$PYTHON" - "$SOCK" <<'PYEOF' && pass "monitor: the 129th open call is refused (TooManyMonitors), a freed one is taken again" || fail "monitor bound"
import json, socket, sys
def monitor():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(json.dumps({"method": "io.portd.Services.Monitor", "more": True}).encode() + b"\0")
    buf = b""
    while not buf.endswith(b"\0"):
        buf += s.recv(4096)
    return s, json.loads(buf[:-1])
held = [monitor() for _ in range(128)]
assert all("error" not in m for _, m in held), held[0][1]
s, m = monitor()
assert m.get("error") == "io.portd.Services.TooManyMonitors", m
held[0][0].close()
import time
for _ in range(600):  # the daemon sees the close on its next turn, under valgrind too
    s, m = monitor()
    if "error" not in m:
        break
    time.sleep(0.05)
assert "error" not in m, m
PYEOF
        finish
}

scenario_daemon() {
        services
        : >"$LOG"
        start_daemon
        if grep -q '^<[0-7]>' "$LOG"; then
                fail "a stderr that is not the journal gets <N> prefixes: '$(head -1 "$LOG")'"
        else
                pass "plain log lines where stderr is no journal stream"
        fi
        stop_daemon
        : >"$LOG"
        # JOURNAL_STREAM of another file: still not the journal
        JOURNAL_STREAM=$(stat -c '%d:%i' "$ROOT/etc/services") start_daemon
        ! grep -q '^<[0-7]>' "$LOG" && pass "a JOURNAL_STREAM that is not stderr: no prefixes" || fail "prefixes for a foreign JOURNAL_STREAM"
        stop_daemon
        : >"$LOG"
        JOURNAL_STREAM=$(stat -c '%d:%i' "$LOG") start_daemon
        grep -q '^<6>Listening on' "$LOG" && pass "stderr is the journal stream: <6> prefixes" || fail "no prefix into the journal: '$(cat "$LOG")'"
        stop_daemon

        # (the old daemon made the directories and served: timeout ends it, a failure too)
        timeout 10 "$PORTD" --root "$ROOT" --socket "$TMP/missing/dir/sock" 2>"$TMP/missing.log"
        local rc=$?
        if [ $rc -ne 0 ] && [ ! -e "$TMP/missing" ] && grep -q "Failed to listen on '$TMP/missing/dir/" "$TMP/missing.log"; then
                pass "--socket in a missing directory: an error, and no directory made"
        else
                fail "--socket in a missing directory: exit $rc, $(ls -d "$TMP/missing" 2>&1), '$(cat "$TMP/missing.log")'"
        fi
        # The default socket's directory is made, 0755: in a mount namespace of our own, over a
        # private /run, so that the host's is never touched.
        local default mode
        default=$("$PORTD" --help | grep -o '/[^ )]*io\.portd\.Services' | head -1)
        if [ "$(id -u)" = 0 ] && [ -n "$default" ] && unshare -m --propagation private true 2>/dev/null; then
                mode=$(unshare -m --propagation private bash -c '
                        mount -t tmpfs tmpfs "$(dirname "$(dirname "$2")")" || exit 1
                        "$0" --root "$1" 2>/dev/null &
                        p=$!
                        for _ in $(seq 200); do [ -S "$2" ] && break; sleep 0.05; done
                        stat -c %a "$(dirname "$2")"
                        kill $p
                        wait $p' "$PORTD" "$ROOT" "$default")
                [ "$mode" = 755 ] && pass "the default socket's directory is made, mode 0755" || fail "default directory: '$mode'"
        fi
        finish
}

case "$scenario" in
lookup) scenario_lookup ;;
answers) scenario_answers ;;
status) scenario_status ;;
pager) scenario_pager ;;
monitor) scenario_monitor ;;
daemon) scenario_daemon ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
