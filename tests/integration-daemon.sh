#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Integration tests of portd: the real daemon on a temporary --root and socket, asked through real
# glibc (getent, getservbyname via ctypes) and portctl, with glibc's files backend as the truth.
# Usage: integration-daemon.sh SCENARIO [ARGS]; PORTD, PORTCTL, NSS_DIR and DATA_DIR in the environment.
# Exit 0 pass, 1 fail, 77 skip (a privilege the machine lacks; a missing tool or file fails).

set -u

. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?usage: integration-daemon.sh SCENARIO}
shift

: "${PORTD:?}" "${PORTCTL:?}" "${DATA_DIR:?}"
NSS_DIR=${NSS_DIR:-}

make_test_dir it

# Every name, alias and port of a services file, alone and with its protocol, plus misses;
# every step-th valid line only.
make_queries() {
        local file=$1 step=$2
        awk -v step="$step" '
                { sub(/#.*/, "") }
                NF >= 2 {
                        n++
                        if ((n - 1) % step) next
                        split($2, pp, "/")
                        port = pp[1]; proto = pp[2]
                        print $1
                        if (proto != "") print $1 "/" proto
                        if (port ~ /^[0-9]+$/) { print port; if (proto != "") print port "/" proto }
                        for (i = 3; i <= NF; i++) { print $i; if (proto != "") print $i "/" proto }
                }
                END {
                        print "no-such-service"; print "no-such-service/tcp"; print "http/no-such-proto"
                        print "65001"; print "65001/udp"; print "0"; print "65535/tcp"
                }' "$file" | awk '!seen[$0]++'
}

# ---- scenarios ----

# Every answer and the getservent sequence equal glibc's files backend on the same file.
scenario_differential() {
        local name=$1 step=${2:-1}
        local data=$DATA_DIR/services.$name
        need_mount_ns
        need_nss
        need_tool getent
        [ -r "$data" ] || missing "no data file '$data'"

        cp "$data" "$ROOT/etc/services"
        start_daemon

        make_queries "$data" "$step" >"$TMP/queries"
        say "# $(wc -l <"$TMP/queries") queries from $name (every ${step}th line)"

        in_files_ns "$data" bash -c "$(declare -f getent_queries); getent_queries files '$TMP/queries'" >"$TMP/files.out"
        with_nss getent_queries portd "$TMP/queries" >"$TMP/portd.out"
        if diff -u "$TMP/files.out" "$TMP/portd.out" >"$TMP/diff"; then
                pass "$name: every lookup through getent -s services:portd equals services:files"
        else
                fail "$name: lookups differ from the files backend"
                head -40 "$TMP/diff"
        fi
        if grep -q '^rc=0' "$TMP/files.out" && grep -q '^rc=2' "$TMP/files.out"; then
                pass "$name: the queries include hits and misses"
        else
                fail "$name: the queries do not include both hits and misses"
        fi

        in_files_ns "$data" getent -s services:files services >"$TMP/files.enum"
        with_nss getent -s services:portd services >"$TMP/portd.enum"
        if cmp -s "$TMP/files.enum" "$TMP/portd.enum" && [ -s "$TMP/files.enum" ]; then
                pass "$name: the getservent sequence ($(wc -l <"$TMP/files.enum") entries) equals the files backend"
        else
                fail "$name: the getservent sequence differs"
                diff -u "$TMP/files.enum" "$TMP/portd.enum" | head -20
        fi

        # portctl list mirrors the same sequence.
        local n_list
        n_list=$(portctl list --json | grep -c '"name"')
        if [ "$n_list" -eq "$(wc -l <"$TMP/files.enum")" ]; then
                pass "$name: portctl list has as many entries as getservent"
        else
                fail "$name: portctl list has $n_list entries, getservent $(wc -l <"$TMP/files.enum")"
        fi
        finish
}

# Drop-ins added, changed, masked and removed are seen within a second, without a restart.
scenario_dropins() {
        local pid gen0 gen1
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        start_daemon
        pid=$DAEMON_PID
        gen0=$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')

        # /etc/services.d does not exist yet: the watch on /etc must notice its creation.
        mkdir -p "$ROOT/etc/services.d"
        printf 'xsvc 40000/tcp xalias\n' >"$ROOT/etc/services.d/50-x.conf"
        if wait_for_output 1000 'xsvc +40000/tcp' portctl lookup xsvc; then
                pass "a drop-in in a new /etc/services.d is seen after ${ELAPSED_MS} ms"
        else
                fail "a new drop-in is not seen within 1 s"
        fi

        printf 'xsvc 40001/tcp xalias\n' >"$ROOT/etc/services.d/50-x.conf"
        if wait_for_output 1000 'xsvc +40001/tcp' portctl lookup xalias tcp; then
                pass "a changed drop-in is seen after ${ELAPSED_MS} ms"
        else
                fail "a changed drop-in is not seen within 1 s"
        fi

        # A drop-in replaces a base entry of the same name and protocol.
        printf 'http 8080/tcp webcache\n' >"$ROOT/etc/services.d/60-http.conf"
        if wait_for_output 1000 'http +8080/tcp' portctl lookup http tcp; then
                pass "a drop-in overrides /etc/services after ${ELAPSED_MS} ms"
        else
                fail "a drop-in does not override /etc/services within 1 s"
        fi

        # Written the way editors do: a temporary file renamed over the old one.
        printf 'http 8081/tcp\n' >"$ROOT/etc/services.d/.60-http.conf.tmp"
        mv "$ROOT/etc/services.d/.60-http.conf.tmp" "$ROOT/etc/services.d/60-http.conf"
        if wait_for_output 1000 'http +8081/tcp' portctl lookup http tcp; then
                pass "a drop-in replaced by rename is seen after ${ELAPSED_MS} ms"
        else
                fail "a drop-in replaced by rename is not seen within 1 s"
        fi

        ln -sf /dev/null "$ROOT/etc/services.d/60-http.conf"
        if wait_for_output 1000 'http +80/tcp' portctl lookup http tcp; then
                pass "a drop-in masked with /dev/null is dropped after ${ELAPSED_MS} ms"
        else
                fail "a masked drop-in still applies after 1 s"
        fi

        rm "$ROOT/etc/services.d/50-x.conf"
        if wait_for_output 1000 "^portctl: no service 'xsvc'$" portctl lookup xsvc && [ "$(portctl lookup xsvc >/dev/null 2>&1; echo $?)" = 2 ]; then
                pass "a removed drop-in is gone after ${ELAPSED_MS} ms (portctl exits 2)"
        else
                fail "a removed drop-in is still served after 1 s"
        fi

        # /usr/lib/services.d and its parents do not exist: the nearest existing parent is watched.
        mkdir -p "$ROOT/usr/lib/services.d"
        printf 'ysvc 40002/udp\n' >"$ROOT/usr/lib/services.d/70-y.conf"
        if wait_for_output 1000 'ysvc +40002/udp' portctl lookup ysvc; then
                pass "a drop-in in a new /usr/lib/services.d is seen after ${ELAPSED_MS} ms"
        else
                fail "a drop-in in a new /usr/lib/services.d is not seen within 1 s"
        fi

        # An empty same-named file in /etc masks the one in /usr/lib.
        : >"$ROOT/etc/services.d/70-y.conf"
        if wait_for_output 1000 "^portctl: no service 'ysvc'$" portctl lookup ysvc; then
                pass "an empty file in /etc masks the /usr/lib drop-in after ${ELAPSED_MS} ms"
        else
                fail "an empty /etc file does not mask the /usr/lib drop-in within 1 s"
        fi
        rm "$ROOT/etc/services.d/70-y.conf"
        if wait_for_output 1000 'ysvc +40002/udp' portctl lookup ysvc; then
                pass "removing the mask brings the /usr/lib drop-in back after ${ELAPSED_MS} ms"
        else
                fail "removing the mask does not bring the drop-in back within 1 s"
        fi

        mkdir -p "$ROOT/run/services.d"
        printf '!ssh\n' >"$ROOT/run/services.d/80-nossh.conf"
        if wait_for_output 1000 "^portctl: no service 'ssh'$" portctl lookup ssh; then
                pass "a '!ssh' line in /run/services.d removes ssh after ${ELAPSED_MS} ms"
        else
                fail "a '!ssh' line does not remove ssh within 1 s"
        fi

        # Local override files sit above every drop-in; their directories do not exist yet.
        mkdir -p "$ROOT/etc/portd"
        printf 'ysvc 40003/udp\n' >"$ROOT/etc/portd/overrides.conf"
        if wait_for_output 1000 'ysvc +40003/udp' portctl lookup ysvc; then
                pass "a persistent override beats the drop-ins after ${ELAPSED_MS} ms"
        else
                fail "a persistent override is not applied within 1 s"
        fi
        mkdir -p "$ROOT/run/portd"
        printf 'ysvc 40004/udp\n' >"$ROOT/run/portd/overrides.conf"
        if wait_for_output 1000 'ysvc +40004/udp' portctl lookup ysvc; then
                pass "a runtime override beats the persistent one after ${ELAPSED_MS} ms"
        else
                fail "a runtime override is not applied within 1 s"
        fi
        rm "$ROOT/run/portd/overrides.conf" "$ROOT/etc/portd/overrides.conf"
        if wait_for_output 1000 'ysvc +40002/udp' portctl lookup ysvc; then
                pass "removing the overrides brings the drop-in back after ${ELAPSED_MS} ms"
        else
                fail "removing the overrides does not bring the drop-in back within 1 s"
        fi

        # The same through glibc, when the module is there.
        if [ -n "$NSS_DIR" ] && [ -e "$NSS_DIR/libnss_portd.so.2" ]; then
                local out
                out=$(with_nss getent -s services:portd services ysvc)
                if [[ "$out" =~ ysvc\ +40002/udp ]] &&
                        ! with_nss getent -s services:portd services ssh >/dev/null; then
                        pass "getent -s services:portd sees the drop-ins"
                else
                        fail "getent -s services:portd does not see the drop-ins: '$out'"
                fi
        fi

        gen1=$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
        if [ "$DAEMON_PID" = "$pid" ] && kill -0 "$pid" && [ "${gen1:-0}" -gt "${gen0:-0}" ]; then
                pass "one daemon process throughout, generation $gen0 -> $gen1"
        else
                fail "the daemon restarted or did not reload (generation '$gen0' -> '$gen1')"
        fi

        # A drop-in that is a symlink to a file elsewhere: a change of that file counts.  The
        # absolute link resolves inside --root, as on a system whose root that is.
        mkdir -p "$ROOT/srv"
        printf 'linked 42000/tcp\n' >"$ROOT/srv/elsewhere.conf"
        ln -s /srv/elsewhere.conf "$ROOT/etc/services.d/95-linked.conf"
        if wait_for_output 1000 'linked +42000/tcp' portctl lookup linked; then
                pass "a symlinked drop-in is seen after ${ELAPSED_MS} ms"
        else
                fail "a symlinked drop-in is not seen within 1 s"
        fi
        printf 'linked 42001/tcp\n' >"$ROOT/srv/elsewhere.conf"
        if wait_for_output 1000 'linked +42001/tcp' portctl lookup linked; then
                pass "a change of the file behind a symlinked drop-in is seen after ${ELAPSED_MS} ms"
        else
                fail "a change behind a symlinked drop-in is not seen within 1 s"
        fi

        # /etc/services itself replaced by rename, as package managers do.
        { cat "$DATA_DIR/services.netbase"; printf 'basenew 42002/udp\n'; } >"$ROOT/etc/services.new"
        mv "$ROOT/etc/services.new" "$ROOT/etc/services"
        if wait_for_output 1000 'basenew +42002/udp' portctl lookup basenew; then
                pass "/etc/services replaced by rename is seen after ${ELAPSED_MS} ms"
        else
                fail "/etc/services replaced by rename is not seen within 1 s"
        fi

        # A burst of writes is applied once it settles.
        local i
        for ((i = 0; i < 50; i++)); do
                printf 'burst 41%03d/tcp\n' "$i" >"$ROOT/etc/services.d/90-burst.conf"
        done
        if wait_for_output 1000 'burst +41049/tcp' portctl lookup burst; then
                pass "the last of a burst of 50 writes is served after ${ELAPSED_MS} ms"
        else
                fail "the last of a burst of writes is not served within 1 s"
        fi
        finish
}

# A bad line is reported with file:line (daemon log, portctl verify, Verify) and the rest is served.
scenario_badline() {
        printf 'good1 1001/tcp\nbad1 99x/tcp\ngood2 1002/tcp\n' >"$ROOT/etc/services"
        mkdir -p "$ROOT/etc/services.d"
        printf 'dgood 2001/udp\nonlyname\ndgood2 2002/udp\n' >"$ROOT/etc/services.d/10-bad.conf"
        # As journald would run it: stderr is the stream JOURNAL_STREAM names, so lines carry
        # their priority (integration-portctl.sh checks that a plain stderr gets none).
        : >>"$LOG"
        JOURNAL_STREAM=$(stat -c '%d:%i' "$LOG") start_daemon

        if grep -q '/etc/services:2:' "$LOG" && grep -q '/etc/services.d/10-bad.conf:2:' "$LOG"; then
                pass "the daemon logs both bad lines as file:line"
        else
                fail "the daemon log does not name the bad lines"
        fi
        if grep -q '^<4>/etc/services:2:' "$LOG"; then
                pass "bad lines are logged at warning priority (<4>)"
        else
                fail "bad lines are not logged with a <4> prefix"
        fi
        if portctl lookup good2 >/dev/null && portctl lookup dgood2 >/dev/null && portctl port 2001/udp >/dev/null; then
                pass "the lines around the bad ones are served"
        else
                fail "lines around a bad line are not served"
        fi

        local out rc
        out=$("$PORTCTL" verify --root "$ROOT")
        rc=$?
        if [ "$rc" -eq 1 ] && [[ "$out" == *"/etc/services.d/10-bad.conf:2:"* ]]; then
                pass "portctl verify reports the bad drop-in line and exits 1"
        else
                fail "portctl verify: exit $rc, output '$out'"
        fi

        out=$("$PYTHON" - "$SOCK" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.portd.Services.Verify"}).encode() + b"\0")
buf = b""
while not buf.endswith(b"\0"):
    buf += s.recv(65536)
for d in json.loads(buf[:-1])["parameters"]["diagnostics"]:
    print("%s:%d: %s" % (d["file"], d["line"], d["level"]))
EOF
        )
        if [[ "$out" == *"/etc/services:2: error"* && "$out" == *"/etc/services.d/10-bad.conf:2: error"* ]]; then
                pass "io.portd.Services.Verify lists both bad lines"
        else
                fail "Verify does not list the bad lines: '$out'"
        fi

        # Fixing the file clears the report.
        printf 'dgood 2001/udp\ndgood2 2002/udp\n' >"$ROOT/etc/services.d/10-bad.conf"
        if wait_for_output 1000 '"errors":1[,}]' portctl status --json; then
                pass "fixing the drop-in leaves one error after ${ELAPSED_MS} ms"
        else
                fail "the error count does not drop after the fix"
        fi
        finish
}

# A source that cannot be read keeps its last good state (the daemon runs unprivileged, so that
# chmod 000 denies it).
scenario_unreadable() {
        need_tool setpriv
        [ "$(id -u)" -eq 0 ] || skip "needs root to start the daemon as another user"
        chmod -R a+rX "$ROOT"
        mkdir -p "$ROOT/etc/services.d"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        printf 'keep 43000/tcp\n' >"$ROOT/etc/services.d/10-keep.conf"
        chmod 644 "$ROOT/etc/services" "$ROOT/etc/services.d/10-keep.conf"
        chmod 777 "$TMP"
        valgrind_wrap=(setpriv --reuid=65534 --regid=65534 --clear-groups "${valgrind_wrap[@]}")
        start_daemon

        portctl lookup keep >/dev/null || fail "the drop-in is not served at start"
        chmod 000 "$ROOT/etc/services.d/10-keep.conf"
        touch "$ROOT/etc/services.d/10-other.conf" # an empty file: a mask of nothing, but an event
        if wait_for_output 1000 'cannot be read' portctl status; then
                pass "status shows the unreadable drop-in after ${ELAPSED_MS} ms"
        else
                fail "status does not show the unreadable drop-in"
        fi
        if portctl lookup keep | grep -q 'keep *43000/tcp'; then
                pass "the unreadable drop-in keeps its last good state"
        else
                fail "the unreadable drop-in's entries are gone"
        fi
        if grep -q "Failed to read '/etc/services.d/10-keep.conf'.*keeping its last good state" "$LOG"; then
                pass "the daemon logs that it keeps the last good state"
        else
                fail "the daemon does not log the unreadable file"
        fi
        chmod 644 "$ROOT/etc/services.d/10-keep.conf"
        rm "$ROOT/etc/services.d/10-keep.conf"
        if wait_for_output 1000 "^portctl: no service 'keep'$" portctl lookup keep; then
                pass "once deleted, the drop-in is dropped"
        else
                fail "a deleted drop-in is still served"
        fi
        finish
}

# SIGHUP and Reload reread the sources; Reload is for root only.
scenario_reload() {
        need_tool setpriv
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        start_daemon

        local g1 g2 g3 out rc
        g1=$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
        kill -HUP "$DAEMON_PID"
        wait_for_output 2000 '"generation":'$((g1 + 1)) portctl status --json && pass "SIGHUP reloads (generation $g1 -> $((g1 + 1)))" ||
                fail "SIGHUP does not reload"
        g2=$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
        portctl reload && g3=$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
        if [ "${g3:-0}" -eq $((g2 + 1)) ]; then
                pass "portctl reload as root reloads"
        else
                fail "portctl reload as root: generation $g2 -> ${g3:-?}"
        fi
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --socket "$SOCK" reload 2>&1)
        rc=$?
        if [ "$rc" -eq 1 ] && [[ "$out" == *"permission denied"* ]]; then
                pass "portctl reload as nobody is refused: $out"
        else
                fail "portctl reload as nobody: exit $rc, '$out'"
        fi
        # nobody may still look up.
        if setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --socket "$SOCK" lookup ssh >/dev/null; then
                pass "nobody may look up"
        else
                fail "nobody cannot look up"
        fi
        out=$(stat -c %a "$SOCK")
        [ "$out" = 666 ] && pass "the socket has mode 0666" || fail "the socket has mode $out"
        finish
}

# --socket in a directory that does not exist yet: created 0755; a stale socket is replaced.
scenario_socket() {
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        # Only the default socket's directory is the daemon's to make (integration-portctl.sh
        # daemon checks it, and that a --socket elsewhere makes none).
        SOCK=$TMP/run/portd/io.portd.Services
        mkdir -p "$TMP/run/portd"
        start_daemon
        kill -KILL "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
        [ -S "$SOCK" ] || fail "no stale socket left after SIGKILL"
        start_daemon
        portctl lookup ssh >/dev/null && pass "a new daemon replaces the stale socket" || fail "no answer after restart"
        # Root's owner-query socket was left stale too: replaced by a listening one.
        "$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
                "$TMP/run/portd/io.portd.Sockets.root" 2>"$TMP/connect" &&
                pass "a new daemon replaces root's stale owner-query socket" ||
                fail "root's owner-query socket is not listening after restart: $(cat "$TMP/connect")"
        stop_daemon
        [ -e "$SOCK" ] && fail "the socket is left behind after a clean exit" || pass "a clean exit removes the socket"
        [ -e "$TMP/run/portd/io.portd.Sockets" ] && fail "the io.portd.Sockets socket is left behind after a clean exit" ||
                pass "a clean exit removes the io.portd.Sockets socket"
        [ -e "$TMP/run/portd/io.portd.Sockets.root" ] && fail "root's owner-query socket is left behind after a clean exit" ||
                pass "a clean exit removes root's owner-query socket"
        "$PORTD" --version | grep -q '^portd ' && pass "--version" || fail "--version"
        "$PORTD" --help | grep -q -- '--socket' && pass "--help" || fail "--help"
        "$PORTD" --bogus 2>/dev/null && fail "an unknown option is accepted" || pass "an unknown option is refused"
        finish
}

# With "services: portd files", a daemon killed with SIGKILL in the middle of lookups loses no
# answer: processes that are running and processes that start afterwards all get glibc's answers.
scenario_sigkill() {
        local data=$DATA_DIR/services.netbase
        need_mount_ns
        need_nss
        need_tool "$PYTHON"
        cp "$data" "$ROOT/etc/services"
        start_daemon

        make_queries "$data" 3 >"$TMP/queries"
        printf 'services: files\n' >"$TMP/nsswitch.files"
        printf 'services: portd files\n' >"$TMP/nsswitch.portd"
        cat >"$TMP/lookups.py" <<'EOF'
# Looks up every query through glibc (getservbyname/getservbyport, as nsswitch.conf says) for
# the given number of seconds, or once; prints each answer (first pass) or checks it.
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class Servent(ctypes.Structure):
    _fields_ = [("s_name", ctypes.c_char_p), ("s_aliases", ctypes.POINTER(ctypes.c_char_p)),
                ("s_port", ctypes.c_int), ("s_proto", ctypes.c_char_p)]
libc.getservbyname.restype = ctypes.POINTER(Servent)
libc.getservbyport.restype = ctypes.POINTER(Servent)
def ask(q):
    key, _, proto = q.partition("/")
    p = proto.encode() if proto else None
    if key.isdigit():
        r = libc.getservbyport(socket.htons(int(key) & 0xffff), p)
    else:
        r = libc.getservbyname(key.encode(), p)
    if not r:
        return "-"
    s = r.contents
    aliases, i = [], 0
    while s.s_aliases[i]:
        aliases.append(s.s_aliases[i].decode()); i += 1
    return "%s %d/%s %s" % (s.s_name.decode(), socket.ntohs(s.s_port & 0xffff), s.s_proto.decode(), " ".join(aliases))
queries = [l.rstrip("\n") for l in open(sys.argv[1])]
mode = sys.argv[2]
if mode == "truth":
    for q in queries:
        print(ask(q))
    sys.exit(0)
truth = [l.rstrip("\n") for l in open(sys.argv[3])]
marker, seconds = sys.argv[4], float(sys.argv[5])
bad = rounds = n = 0
end = None
while True:
    for q, t in zip(queries, truth):
        a = ask(q); n += 1
        if a != t:
            bad += 1
            if bad < 10: print("MISMATCH %r: %r != %r" % (q, a, t), file=sys.stderr)
    rounds += 1
    if rounds == 1:
        open(marker, "w").close()
        end = time.monotonic() + seconds
    if time.monotonic() > end:
        break
print("%d lookups in %d rounds, %d wrong" % (n, rounds, bad))
sys.exit(1 if bad else 0)
EOF
        # nsswitch.conf bound in the namespace too: glibc's own configuration, no -s override.
        ns_run() {
                local nsswitch=$1
                shift
                unshare -m --propagation private sh -c \
                        'mount --bind "$0" /etc/services && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"' \
                        "$data" "$nsswitch" "$@"
        }
        ns_run "$TMP/nsswitch.files" "$PYTHON" "$TMP/lookups.py" "$TMP/queries" truth >"$TMP/truth"
        if ! grep -q -- '^-$' "$TMP/truth" || ! grep -q '/tcp' "$TMP/truth"; then
                fail "the truth has no hits or no misses"
        fi

        # Two long-running processes and a stream of fresh ones.
        local i
        for i in 1 2; do
                with_nss ns_run "$TMP/nsswitch.portd" \
                        "$PYTHON" "$TMP/lookups.py" "$TMP/queries" check "$TMP/truth" "$TMP/marker$i" 1.5 \
                        >"$TMP/check$i.out" 2>&1 &
                eval "checker$i=\$!"
        done
        (
                while [ ! -e "$TMP/stop" ]; do
                        [ -e "$TMP/killed" ] && echo "run after the kill"
                        with_nss ns_run "$TMP/nsswitch.portd" \
                                "$PYTHON" "$TMP/lookups.py" "$TMP/queries" check "$TMP/truth" "$TMP/marker-fresh" 0 ||
                                echo FRESH-FAILED
                done
        ) >"$TMP/fresh.out" 2>&1 &
        local fresh=$!

        for ((i = 0; i < 500 * scale; i++)); do
                [ -e "$TMP/marker1" ] && [ -e "$TMP/marker2" ] && break
                sleep 0.01
        done
        sleep 0.2
        kill -KILL "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
        : >"$TMP/killed"
        say "# daemon killed with SIGKILL"
        # Let the long-running processes go on, and at least two fresh ones start after the kill.
        sleep 1
        for ((i = 0; i < 1000 * scale; i++)); do
                [ "$(grep -c 'after the kill' "$TMP/fresh.out")" -ge 3 ] && break
                sleep 0.01
        done
        : >"$TMP/stop"

        for i in 1 2; do
                local pid_var=checker$i
                if wait "${!pid_var}"; then
                        pass "long-running process $i: $(tail -1 "$TMP/check$i.out")"
                else
                        fail "long-running process $i lost answers: $(cat "$TMP/check$i.out")"
                fi
        done
        wait "$fresh"
        local runs after
        runs=$(grep -c lookups "$TMP/fresh.out")
        after=$(grep -c 'after the kill' "$TMP/fresh.out")
        if grep -q 'FRESH-FAILED\|MISMATCH' "$TMP/fresh.out"; then
                fail "fresh processes lost answers: $(head -5 "$TMP/fresh.out")"
        elif [ "$runs" -le "$after" ] || [ "$after" -lt 2 ]; then
                fail "too few fresh processes ran before and after the kill ($runs, $after after)"
        else
                pass "fresh processes across the kill: $runs runs ($after started after it), no wrong answer"
        fi

        # With the daemon gone, getent with portd alone says unavailable, portd+files answers.
        local out
        out=$(with_nss in_files_ns "$data" getent -s 'services:portd files' services ssh)
        [[ "$out" =~ ssh\ +22/tcp ]] && pass "getent falls back to files without the daemon" ||
                fail "no fallback to files: '$out'"
        finish
}

# Hostile clients leave the daemon serving everyone else.
scenario_hostile() {
        need_tool "$PYTHON"
        need_tool setpriv
        [ "$(id -u)" -eq 0 ] || skip "needs root to act as several users"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        start_daemon

        cat >"$TMP/hostile.py" <<'EOF'
import json, os, socket, sys, time
path, what = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); return s
def closed_within(s, seconds):
    s.settimeout(seconds)
    try:
        while True:
            d = s.recv(65536)
            if not d: return True
    except (ConnectionResetError, BrokenPipeError): return True
    except socket.timeout: return False
if what == "garbage":
    s = conn(); s.sendall(b"\x01\x02garbage{{{\xff\xfe\x00")
    print("closed" if closed_within(s, 5) else "open")
elif what == "notjson":
    s = conn(); s.sendall(b'{"method": 12}\x00')
    print("closed" if closed_within(s, 5) else "open")
elif what == "oversized":
    s = conn()
    try:
        s.sendall(b'{"method":"io.portd.Services.GetServiceByName","parameters":{"name":"' + b"a" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError): pass
    print("closed" if closed_within(s, 5) else "open")
elif what == "idle":
    n, marker = int(sys.argv[3]), sys.argv[4]
    held = []
    for i in range(n):
        try: held.append(conn())
        except OSError as e: pass
    with open(marker, "w") as f: f.write("%d\n" % len(held))
    time.sleep(float(sys.argv[5]))
    alive = 0
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(1) == b"": continue
        except BlockingIOError: alive += 1
        except OSError: continue
    print("opened %d, %d still open" % (len(held), alive))
elif what == "halfclose":
    s = conn()
    s.sendall(json.dumps({"method": "io.portd.Services.GetServiceByName", "parameters": {"name": "ssh"}}).encode() + b"\0")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    buf = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            buf += d
    except OSError: pass
    print("answered" if b'"ssh"' in buf else "no answer")
elif what == "noread":
    # Streams that are never read: the output queue must stay bounded, the daemon must not block.
    s = conn()
    msg = json.dumps({"method": "io.portd.Services.List", "more": True}).encode() + b"\0"
    try:
        s.setblocking(False)
        for i in range(2000): s.send(msg)
    except OSError: pass
    time.sleep(float(sys.argv[3]))
    print("done")
elif what == "uids":
    # n_uids users (from 60000) open per connections each and hold them until SIGTERM.
    import signal
    n_uids, per, marker = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    r, w = os.pipe()
    kids = []
    for k in range(n_uids):
        pid = os.fork()
        if pid == 0:
            os.setgid(60000 + k); os.setuid(60000 + k)
            held = []
            for i in range(per):
                try: held.append(conn())
                except OSError: break
            os.write(w, b"x"); time.sleep(600); os._exit(0)
        kids.append(pid)
    def stop(*a):
        for p in kids: os.kill(p, signal.SIGKILL)
        for p in kids: os.waitpid(p, 0)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    for k in range(n_uids): os.read(r, 1)
    open(marker, "w").write("ready\n")
    time.sleep(600)
elif what == "trickle":
    # One byte of a call every 0.2 s, never completing it: how long until the daemon closes?
    s = conn(); s.setblocking(False); t = time.time()
    s.send(b"{"); time.sleep(0.2)
    open(sys.argv[3], "w").write("connected\n")
    msg = b'{"method":"io.portd.Services.GetServiceByName","parameters":{"name":"' + b"x" * 1000
    for b in msg:
        try:
            if s.recv(1) == b"": break
        except BlockingIOError: pass
        except OSError: break
        try: s.send(bytes([b]))
        except OSError: break
        time.sleep(0.2)
    print("closed after %.0f s" % (time.time() - t))
elif what == "fdbomb":
    # Pipelined GetSnapshot, never read: each reply carries a descriptor.
    s = conn(); s.setblocking(False)
    call = json.dumps({"method": "io.portd.Services.GetSnapshot"}).encode() + b"\0"
    t = time.time(); state = "open"
    while time.time() - t < float(sys.argv[3]):
        try: s.send(call * 10)
        except BlockingIOError: time.sleep(0.002)
        except OSError: state = "closed"; break
    try:
        if s.recv(1, socket.MSG_PEEK) == b"": state = "closed"
    except BlockingIOError: pass
    except OSError: state = "closed"
    print(state)
elif what == "listpin":
    # n connections that ask for the whole catalog and never read.
    held = []
    for i in range(int(sys.argv[3])):
        try:
            s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024); s.connect(path)
            s.sendall(json.dumps({"method": "io.portd.Services.List", "more": True}).encode() + b"\0"); held.append(s)
        except OSError: pass
    open(sys.argv[4], "w").write("%d\n" % len(held))
    time.sleep(float(sys.argv[5]))
EOF
        local out
        out=$("$PYTHON" "$TMP/hostile.py" "$SOCK" garbage)
        [ "$out" = closed ] && pass "garbage bytes: the connection is closed" || fail "garbage bytes: connection $out"
        out=$("$PYTHON" "$TMP/hostile.py" "$SOCK" notjson)
        [ "$out" = closed ] && pass "a malformed call: the connection is closed" || fail "malformed call: connection $out"
        out=$("$PYTHON" "$TMP/hostile.py" "$SOCK" oversized)
        [ "$out" = closed ] && pass "an oversized message: the connection is closed" || fail "oversized message: connection $out"
        out=$("$PYTHON" "$TMP/hostile.py" "$SOCK" halfclose)
        [ "$out" = answered ] && pass "a half-closed socket still gets its answer" || fail "half-closed socket: $out"

        "$PYTHON" "$TMP/hostile.py" "$SOCK" noread 3 >/dev/null &
        local noread=$!
        sleep 0.3
        portctl lookup ssh >/dev/null && pass "a client that never reads its replies blocks nobody" ||
                fail "a client that never reads blocks the daemon"

        chmod 777 "$TMP"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON" "$TMP/hostile.py" "$SOCK" idle 500 "$TMP/idle.marker" 3 \
                >"$TMP/idle.out" 2>&1 &
        local idle=$!
        local i
        for ((i = 0; i < 500; i++)); do
                [ -s "$TMP/idle.marker" ] && break
                sleep 0.01
        done
        local opened
        opened=$(cat "$TMP/idle.marker" 2>/dev/null)
        if [ "${opened:-0}" -ge 128 ]; then
                pass "nobody opened $opened connections (up to its per-user cap, then refused or closed)"
        else
                fail "nobody could not open its idle connections: '$opened' $(cat "$TMP/idle.out")"
        fi
        portctl lookup ssh >/dev/null && pass "root is served while nobody holds hundreds of idle connections" ||
                fail "root is not served while nobody holds idle connections"
        setpriv --reuid=65533 --regid=65533 --clear-groups "$PORTCTL" --socket "$SOCK" lookup ssh >/dev/null &&
                pass "another unprivileged user is served meanwhile" ||
                fail "another unprivileged user is starved by nobody's connections"
        wait "$idle"
        say "# idle client: $(cat "$TMP/idle.out")"
        wait "$noread"

        if kill -0 "$DAEMON_PID" && portctl lookup ssh >/dev/null; then
                pass "the daemon still serves after all hostile clients"
        else
                fail "the daemon died or stopped serving"
        fi

        # Under systemd's default soft limit of 1024 descriptors: many users together cannot take
        # the slots (or descriptors) that root needs.
        stop_daemon quiet
        cp "$DATA_DIR/services.iana" "$ROOT/etc/services"
        : >>"$LOG"
        prlimit --nofile=1024:1024 "${valgrind_wrap[@]}" "$PORTD" --root "$ROOT" --socket "$SOCK" 2>>"$LOG" &
        DAEMON_PID=$!
        wait_for_daemon

        # A message trickled byte by byte is closed at its deadline (5 s), not kept forever.
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON" "$TMP/hostile.py" "$SOCK" trickle \
                "$TMP/trickle.marker" >"$TMP/trickle.out" 2>&1 &
        local trickle=$!
        # Connected (and accepted) before the users below fill their share of the slots.
        for ((i = 0; i < 500 * scale; i++)); do
                [ -s "$TMP/trickle.marker" ] && break
                sleep 0.01
        done

        rm -f "$TMP/uids.marker"
        "$PYTHON" "$TMP/hostile.py" "$SOCK" uids 20 64 "$TMP/uids.marker" >/dev/null 2>&1 &
        local uids=$!
        for ((i = 0; i < 500 * scale; i++)); do
                [ -s "$TMP/uids.marker" ] && break
                sleep 0.01
        done
        portctl lookup ssh >/dev/null && pass "root is served while 20 users hold all the connections they can" ||
                fail "20 users with 64 connections each lock root out"
        kill -TERM "$uids"
        wait "$uids"

        # Pipelined calls that answer with a descriptor, never read: the daemon holds at most one.
        local fds_before fds_max=0 n
        fds_before=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON" "$TMP/hostile.py" "$SOCK" fdbomb 2 \
                >"$TMP/fdbomb.out" 2>&1 &
        local fdbomb=$!
        while kill -0 "$fdbomb" 2>/dev/null; do
                n=$(ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l)
                [ "$n" -gt "$fds_max" ] && fds_max=$n
                sleep 0.05
        done
        wait "$fdbomb"
        if [ "$fds_max" -le $((fds_before + 8)) ] && [ "$(cat "$TMP/fdbomb.out")" = open ]; then
                pass "a client pipelining GetSnapshot holds at most $((fds_max - fds_before)) extra descriptors, and stays connected"
        else
                fail "a client pipelining GetSnapshot made the daemon hold $((fds_max - fds_before)) descriptors; connection $(cat "$TMP/fdbomb.out")"
        fi

        # 128 connections asking for the whole IANA catalog and never reading pin little memory.
        local rss_before rss_during k listpins=()
        rss_before=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
        for k in 0 1 2 3; do
                setpriv --reuid=$((60100 + k)) --regid=$((60100 + k)) --clear-groups "$PYTHON" "$TMP/hostile.py" \
                        "$SOCK" listpin 32 "$TMP/listpin.marker.$k" $((5 * scale)) &
                listpins+=($!)
        done
        for ((i = 0; i < 500 * scale; i++)); do
                [ -s "$TMP/listpin.marker.0" ] && [ -s "$TMP/listpin.marker.1" ] &&
                        [ -s "$TMP/listpin.marker.2" ] && [ -s "$TMP/listpin.marker.3" ] && break
                sleep 0.01
        done
        rss_during=0
        for ((i = 0; i < 30; i++)); do
                n=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
                [ "$n" -gt "$rss_during" ] && rss_during=$n
                sleep 0.1
        done
        if [ -n "${PORTD_UNDER_VALGRIND:-}" ] || [[ "${LD_PRELOAD:-}" == *asan* ]]; then
                # Their allocators keep freed memory aside: the resident size says nothing here.
                say "# 128 unread List streams: RSS +$(((rss_during - rss_before) / 1024)) MiB (not checked under a memory checker)"
        elif [ $((rss_during - rss_before)) -lt $((64 * 1024)) ]; then
                pass "128 unread List streams of the IANA catalog pin $(((rss_during - rss_before) / 1024)) MiB"
        else
                fail "128 unread List streams of the IANA catalog pin $(((rss_during - rss_before) / 1024)) MiB"
        fi
        wait "${listpins[@]}"
        portctl list >/dev/null && pass "a full List of the IANA catalog completes" || fail "a full List fails"

        wait "$trickle"
        local seconds
        seconds=$(sed -n 's/^closed after \([0-9]*\) s$/\1/p' "$TMP/trickle.out")
        # Under a sanitizer the loop is slower, and the machine may be loaded: the bound then only
        # has to tell the 5 s message deadline from the 60 s idle timeout.
        local upper=8
        [[ "${LD_PRELOAD:-}" == *asan* ]] && upper=30
        if [ -n "$seconds" ] && [ "$seconds" -ge 4 ] && { [ "$seconds" -le "$upper" ] || [ "$scale" -gt 1 ]; }; then
                pass "a call trickled byte by byte is closed at its 5 s deadline (after $seconds s)"
        else
                fail "a call trickled byte by byte: $(cat "$TMP/trickle.out")"
        fi
        finish
}

# Socket activation: systemd-socket-activate binds the socket and passes it with LISTEN_FDS.
scenario_activation() {
        need_tool systemd-socket-activate
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        : >>"$LOG"
        systemd-socket-activate -l "$SOCK" "${valgrind_wrap[@]}" "$PORTD" --root "$ROOT" 2>>"$LOG" &
        DAEMON_PID=$!
        local i
        for ((i = 0; i < 500; i++)); do
                [ -S "$SOCK" ] && break
                sleep 0.01
        done
        local out
        out=$(portctl lookup ssh 2>&1)
        if [[ "$out" =~ ssh\ +22/tcp ]]; then
                pass "the socket passed by systemd-socket-activate answers"
        else
                fail "no answer through the activated socket: '$out'"
        fi
        grep -q 'passed by the service manager' "$LOG" && pass "portd says it serves the passed socket" ||
                fail "portd did not use the passed socket"
        if [ -n "$NSS_DIR" ] && [ -e "$NSS_DIR/libnss_portd.so.2" ]; then
                out=$(with_nss getent -s services:portd services 53/udp)
                [[ "$out" =~ domain\ +53/udp ]] && pass "getent through the activated daemon" || fail "getent: '$out'"
        fi
        # Only the Services socket passed (a unit from before io.portd.Sockets had its own): the
        # daemon binds that one itself, beside it.  Exit 2 from who is "nobody owns :1", an answer.
        portctl who :1 >/dev/null 2>&1
        [ $? -ne 1 ] && [ -S "$SOCKETS" ] && pass "io.portd.Sockets is bound beside the passed socket" ||
                fail "no io.portd.Sockets beside the passed socket"
        stop_daemon quiet
        # Both passed, as portd.socket passes them: the one whose path ends in io.portd.Sockets
        # goes to the owner-query worker (systemd names every socket of a unit alike).
        rm -f "$SOCK" "$SOCKETS"
        systemd-socket-activate -l "$SOCK" -l "$SOCKETS" "${valgrind_wrap[@]}" "$PORTD" --root "$ROOT" 2>>"$LOG" &
        DAEMON_PID=$!
        for ((i = 0; i < 500; i++)); do
                [ -S "$SOCK" ] && [ -S "$SOCKETS" ] && break
                sleep 0.01
        done
        out=$(portctl lookup ssh 2>&1)
        [[ "$out" =~ ssh\ +22/tcp ]] && pass "with both sockets passed, lookups answer" || fail "lookup: '$out'"
        portctl who :1 >/dev/null 2>&1
        [ $? -ne 1 ] && pass "with both sockets passed, owner queries answer on io.portd.Sockets" ||
                fail "no owner query answers with both sockets passed"
        finish
}

# sd_notify: READY=1 once it serves, RELOADING=1 and READY=1 around a reload, STOPPING=1 at the end.
scenario_notify() {
        need_tool "$PYTHON"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        cat >"$TMP/notify.py" <<'EOF'
import socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
with open(out, "w", buffering=1) as f:
    while True:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write(m.replace("\n", " ") + "\n")
        if "STOPPING=1" in m:
            break
EOF
        "$PYTHON" "$TMP/notify.py" "$TMP/notify.sock" "$TMP/notify.out" &
        local listener=$! i
        for ((i = 0; i < 500; i++)); do
                [ -S "$TMP/notify.sock" ] && break
                sleep 0.01
        done
        NOTIFY_SOCKET=$TMP/notify.sock start_daemon
        for ((i = 0; i < 200 * scale; i++)); do
                grep -q 'READY=1' "$TMP/notify.out" && break
                sleep 0.01
        done
        if grep -q 'READY=1' "$TMP/notify.out"; then
                pass "READY=1 once serving: $(head -1 "$TMP/notify.out")"
        else
                fail "no READY=1: '$(cat "$TMP/notify.out")'"
        fi
        kill -HUP "$DAEMON_PID"
        for ((i = 0; i < 200 * scale; i++)); do
                [ "$(grep -c 'READY=1' "$TMP/notify.out")" -ge 2 ] && break
                sleep 0.01
        done
        if grep -q 'RELOADING=1 MONOTONIC_USEC=[0-9]' "$TMP/notify.out" &&
                [ "$(grep -c 'READY=1' "$TMP/notify.out")" -ge 2 ]; then
                pass "SIGHUP sends RELOADING=1 with MONOTONIC_USEC, then READY=1"
        else
                fail "reload notifications missing: '$(cat "$TMP/notify.out")'"
        fi
        stop_daemon
        wait "$listener"
        if tail -1 "$TMP/notify.out" | grep -q 'STOPPING=1'; then
                pass "STOPPING=1 on SIGTERM"
        else
                fail "no STOPPING=1: '$(cat "$TMP/notify.out")'"
        fi
        finish
}

# portctl set/unset: local overrides apply at once (portctl and glibc), the runtime file wins over
# the persistent one, both outlive a restart of the daemon, and only root may edit them.
scenario_overrides() {
        need_tool setpriv
        need_tool "$PYTHON"
        [ "$(id -u)" -eq 0 ] || skip "setting overrides needs root (and an unprivileged user to refuse)"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        mkdir -p "$ROOT/etc/services.d"
        printf 'ovsvc 40010/tcp ovalias\n' >"$ROOT/etc/services.d/50-ov.conf"
        chmod 777 "$TMP"
        start_daemon

        local out rc gen0 gen1 gen2 nss=
        [ -n "$NSS_DIR" ] && [ -e "$NSS_DIR/libnss_portd.so.2" ] && command -v getent >/dev/null && nss=1
        generation() { portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p'; }

        gen0=$(generation)
        out=$(portctl set --runtime ovsvc 40011/tcp ovalias2)
        rc=$?
        if [ "$rc" -eq 0 ] && [[ "$out" =~ ovsvc\ +40011/tcp\ +ovalias2\ +/run/portd/overrides.conf:[0-9]+ ]]; then
                pass "portctl set answers the new entry and its runtime source"
        else
                fail "portctl set: exit $rc, '$out'"
        fi
        # No polling: the reply comes after the rebuild.
        out=$(portctl lookup ovalias2 tcp)
        [[ "$out" =~ ovsvc\ +40011/tcp ]] && pass "portctl lookup sees the override at once" ||
                fail "the override is not served right after set: '$out'"
        if [ -n "$nss" ]; then
                out=$(with_nss getent -s services:portd services ovsvc)
                [[ "$out" =~ ^ovsvc\ +40011/tcp\ +ovalias2$ ]] && pass "getent -s services:portd answers the override at once" ||
                        fail "getent does not see the override at once: '$out'"
                with_nss getent -s services:portd services ovalias >/dev/null
                rc=$?
                [ "$rc" -eq 2 ] && pass "the override replaces the drop-in's aliases too" ||
                        fail "the drop-in's alias still answers (getent exit $rc)"
        fi
        gen1=$(generation)
        # Longer than the watch's debounce (at most 250 ms): a reload it scheduled would have run.
        sleep $((scale > 1 ? 5 : 0)).5
        gen2=$(generation)
        if [ "$gen1" -eq $((gen0 + 1)) ] && [ "$gen2" -eq "$gen1" ]; then
                pass "one set, one generation ($gen0 -> $gen1; the file watch adds none)"
        else
                fail "generations after one set: $gen0 -> $gen1 -> $gen2"
        fi

        out=$(portctl set --persistent ovsvc 40012/tcp --json)
        rc=$?
        if [ "$rc" -eq 0 ] && [[ "$out" == *'"port":40012'* && "$out" == *'"file":"/etc/portd/overrides.conf"'* ]]; then
                pass "portctl set --persistent --json answers the entry in the persistent file"
        else
                fail "portctl set --persistent: exit $rc, '$out'"
        fi
        out=$(portctl lookup ovsvc tcp)
        [[ "$out" =~ ovsvc\ +40011/tcp ]] && pass "the runtime override wins over the persistent one" ||
                fail "the runtime override does not win: '$out'"

        # Both files are below --root: both survive a restart of the daemon (a reboot clears /run).
        portctl set --runtime ovrun 40020/udp >/dev/null || fail "portctl set ovrun failed"
        stop_daemon quiet
        start_daemon
        out=$(portctl lookup ovsvc tcp)$(portctl lookup ovrun udp)
        [[ "$out" =~ ovsvc\ +40011/tcp && "$out" =~ ovrun\ +40020/udp ]] &&
                pass "the overrides are served again after a restart of the daemon" ||
                fail "the overrides are lost by a restart: '$out'"

        out=$(portctl unset --runtime ovsvc/tcp)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" == *"Removed 1 override"* ]] && pass "portctl unset NAME/PROTO removes the runtime override" ||
                fail "portctl unset: exit $rc, '$out'"
        if [ -n "$nss" ]; then
                out=$(with_nss getent -s services:portd services ovsvc)
        else
                out=$(portctl lookup ovsvc)
        fi
        [[ "$out" =~ ovsvc\ +40012/tcp ]] && pass "after unset the persistent override answers" ||
                fail "after unset: '$out'"
        portctl unset --runtime ovsvc >/dev/null 2>&1
        rc=$?
        [ "$rc" -eq 2 ] && pass "unset of an override that is not there exits 2" || fail "unset of nothing: exit $rc"
        out=$(portctl unset --persistent ovsvc --json)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" == *'"removed":1'* ]] && pass "portctl unset --persistent --json counts the removed line" ||
                fail "portctl unset --persistent: exit $rc, '$out'"
        if [ -n "$nss" ]; then
                out=$(with_nss getent -s services:portd services ovalias)
        else
                out=$(portctl lookup ovalias)
        fi
        [[ "$out" =~ ovsvc\ +40010/tcp ]] && pass "with both overrides gone the drop-in answers again, alias included" ||
                fail "the drop-in does not answer again: '$out'"
        portctl unset --runtime ovrun >/dev/null || fail "portctl unset ovrun failed"
        out=$(portctl lookup ovrun)
        rc=$?
        [ "$rc" -eq 2 ] && pass "an override of a new name is gone after unset (exit 2)" || fail "ovrun after unset: exit $rc, '$out'"

        # Only root edits: an unprivileged caller is refused and changes nothing.
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --socket "$SOCK" set ovsvc 1/tcp 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"permission denied"* ]] && pass "an unprivileged set gets PermissionDenied, exit 1" ||
                fail "unprivileged set: exit $rc, '$out'"
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --socket "$SOCK" unset ovsvc 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"permission denied"* ]] && pass "an unprivileged unset gets PermissionDenied, exit 1" ||
                fail "unprivileged unset: exit $rc, '$out'"
        out=$(portctl lookup ovsvc tcp)
        [[ "$out" =~ ovsvc\ +40010/tcp ]] && pass "the refused calls changed nothing" || fail "a refused call changed the answer: '$out'"

        # Invalid names: portctl refuses them itself, and the daemon refuses them from any client.
        local bad accepted=
        for bad in 'two words:1/tcp' '#hash:1/tcp' '!bang:1/tcp' ':1/tcp' 'okname:1/t/cp' 'okname:65536/tcp' \
                'okname:-1/tcp' 'okname:1' 'okname:1/'; do
                portctl set "${bad%%:*}" "${bad#*:}" >/dev/null 2>&1
                rc=$?
                [ "$rc" -eq 1 ] || accepted="$accepted '$bad' (exit $rc)"
        done
        [ -z "$accepted" ] && pass "portctl set refuses bad names, protocols and ports (exit 1)" ||
                fail "portctl set accepts:$accepted"
        portctl set okname 1/tcp 'bad alias' >/dev/null 2>&1
        rc=$?
        [ "$rc" -eq 1 ] && pass "portctl set refuses a bad alias (exit 1)" || fail "portctl set with a bad alias: exit $rc"
        out=$("$PYTHON" - "$SOCK" <<'PY'
import json, socket, sys
def call(method, params):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(json.dumps({"method": "io.portd.Services." + method, "parameters": params}).encode() + b"\0")
    buf = b""
    while not buf.endswith(b"\0"):
        d = s.recv(65536)
        if not d: break
        buf += d
    m = json.loads(buf[:-1])
    return "%s:%s" % (m.get("error", "ok"), m.get("parameters", {}).get("parameter", ""))
cases = [
    ("SetOverride", {"name": "two words", "protocol": "tcp", "port": 1}, "name"),
    ("SetOverride", {"name": "x\nother 2/tcp", "protocol": "tcp", "port": 1}, "name"),
    ("SetOverride", {"name": "!x", "protocol": "tcp", "port": 1}, "name"),
    ("SetOverride", {"name": "x", "protocol": "t/cp", "port": 1}, "protocol"),
    ("SetOverride", {"name": "x", "protocol": "tcp", "port": 65536}, "port"),
    ("SetOverride", {"name": "x", "protocol": "tcp", "port": 1, "aliases": ["a#b"]}, "aliases"),
    ("SetOverride", {"name": "x", "protocol": "tcp", "port": 1, "aliases": ["a%d" % i for i in range(33)]}, "aliases"),
    ("SetOverride", {"name": "x", "protocol": "tcp", "port": 1, "persistent": "yes"}, "persistent"),
    ("UnsetOverride", {"name": "x y"}, "name"),
    ("UnsetOverride", {"name": "x", "protocol": ""}, "protocol"),
]
for method, params, parameter in cases:
    got = call(method, params)
    want = "org.varlink.service.InvalidParameter:" + parameter
    print(("ok " if got == want else "BAD ") + method + " " + json.dumps(params)[:60] + " -> " + got)
PY
        )
        if [ -n "$out" ] && ! grep -q '^BAD' <<<"$out"; then
                pass "the daemon answers InvalidParameter naming the parameter ($(grep -c '^ok' <<<"$out") cases)"
        else
                fail "the daemon accepts or misreports invalid overrides: $(grep '^BAD' <<<"$out")"
        fi
        if ! cat "$ROOT/run/portd/overrides.conf" "$ROOT/etc/portd/overrides.conf" 2>/dev/null | grep -q 'two\|other\|^x '; then
                pass "nothing invalid reached the override files"
        else
                fail "the override files hold invalid lines: $(cat "$ROOT/run/portd/overrides.conf" "$ROOT/etc/portd/overrides.conf")"
        fi
        finish
}

# The snapshot published beside the socket: a fresh process maps it without connecting; a
# reload replaces it; a file anyone may write, or one a killed daemon left, is not used; a
# clean stop removes it.
scenario_published() {
        local data=$DATA_DIR/services.netbase snap=$SOCK.snapshot out want inode rc
        need_mount_ns
        need_nss
        need_tool strace
        cp "$data" "$ROOT/etc/services"
        start_daemon

        # connects LOG CMD...: whether CMD connected to the daemon's socket (strace's record);
        # a trace that failed, or that does not show the module looking for the published file,
        # proves nothing either way and fails the test.
        connects() {
                local log=$1
                shift
                if ! strace -f -qq -e trace=connect,openat -o "$log" "$@" >/dev/null 2>&1 ||
                        ! grep -q "openat(.*\"$snap\"" "$log"; then
                        fail "strace could not show what '$*' did: $(head -3 "$log" 2>&1)"
                        return 2
                fi
                grep -q "connect(.*\"$SOCK\"" "$log"
        }

        if [ -f "$snap" ] && [ "$(stat -c '%a %u' "$snap")" = "444 0" ]; then
                pass "the snapshot is published as $snap, mode 0444, owned by root"
        else
                fail "no snapshot file, or a wrong mode or owner: $(stat -c '%a %u %F' "$snap" 2>&1)"
        fi

        want=$(in_files_ns "$data" getent -s services:files services ssh/tcp)
        out=$(with_nss getent -s services:portd services ssh/tcp)
        connects "$TMP/strace.1" env LD_LIBRARY_PATH="$NSS_DIR" PORTD_SOCKET="$SOCK" getent -s services:portd services ssh/tcp
        rc=$?
        if [ -n "$want" ] && [ "$out" = "$want" ] && [ "$rc" -eq 1 ]; then
                pass "a fresh process answers from the published file without connecting ('$out')"
        else
                fail "fresh lookup: '$out' (files: '$want'), connects: $(grep -c connect "$TMP/strace.1" 2>/dev/null)"
        fi

        inode=$(stat -c %i "$snap")
        printf 'portd-published 4999/tcp\n' >"$TMP/new.conf"
        mkdir -p "$ROOT/etc/services.d"
        mv "$TMP/new.conf" "$ROOT/etc/services.d/50-published.conf"
        if wait_for_output 3000 'portd-published' with_nss getent -s services:portd services portd-published &&
                [ "$(stat -c %i "$snap")" != "$inode" ] && [ -z "$(find "$(dirname "$snap")" -name "$(basename "$snap").*")" ]; then
                pass "a reload publishes a new file in ${ELAPSED_MS} ms, no temporary left behind"
        else
                fail "after a reload the published file did not change (inode $inode -> $(stat -c %i "$snap"))"
        fi

        # Writable by others: not to be trusted, the module asks over the socket instead.
        chmod 0666 "$snap"
        out=$(with_nss getent -s services:portd services portd-published)
        if [[ "$out" == portd-published* ]] && connects "$TMP/strace.2" env LD_LIBRARY_PATH="$NSS_DIR" \
                PORTD_SOCKET="$SOCK" getent -s services:portd services portd-published; then
                pass "a published file others may write is ignored, the socket answers"
        else
                fail "a world-writable published file was used, or no answer ('$out')"
        fi
        chmod 0444 "$snap"

        # A killed daemon's file stays behind, its lock does not: a fresh process must not use it.
        kill -KILL "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
        out=$(with_nss getent -s services:portd services portd-published)
        rc=$?
        if [ -f "$snap" ] && [ "$rc" -eq 2 ] && [ -z "$out" ]; then
                pass "a killed daemon's file is left alone: the lookup is UNAVAIL, for files to answer"
        else
                fail "after SIGKILL a fresh lookup answered '$out' (exit $rc) from the stale file"
        fi

        # What a crash in the middle of a write leaves: temporaries nobody holds go at the next start;
        # one a live writer holds locked, and names that are not ours, stay.
        printf 'stale' >"$snap.Ab12Cd"
        printf 'busy' >"$snap.Ef34Gh"
        mkdir -p "$ROOT/etc/portd" "$ROOT/run/portd"
        printf 'stale 1/tcp\n' >"$ROOT/etc/portd/.overrides.conf.Xy12Zw"
        printf 'stale 1/tcp\n' >"$ROOT/run/portd/.overrides.conf.Qq11Rr"
        printf 'keep\n' >"$ROOT/etc/portd/.overrides.conf.notours"
        mkdir "$ROOT/etc/portd/.overrides.conf.Dir123"
        ln -s "$ROOT/etc/services" "$ROOT/etc/portd/.overrides.conf.Sym123"
        python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)' "$snap.Ef34Gh" >"$TMP/locker.out" &
        local locker=$!
        wait_for_output 10000 locked cat "$TMP/locker.out" >/dev/null || fail "python3 could not lock $snap.Ef34Gh"
        start_daemon
        if [ ! -e "$snap.Ab12Cd" ] && [ ! -e "$ROOT/etc/portd/.overrides.conf.Xy12Zw" ] &&
                [ ! -e "$ROOT/run/portd/.overrides.conf.Qq11Rr" ] && [ -e "$snap.Ef34Gh" ] &&
                [ -e "$ROOT/etc/portd/.overrides.conf.notours" ] && [ -d "$ROOT/etc/portd/.overrides.conf.Dir123" ] &&
                [ -L "$ROOT/etc/portd/.overrides.conf.Sym123" ] && [ -s "$ROOT/etc/services" ] &&
                grep -q "Removed 1 temporary snapshot file" "$LOG" && grep -q "Removed 2 temporary override file" "$LOG"; then
                pass "a start removes the temporary files a crash left, and only those (not a directory, a symlink or another name)"
        else
                fail "temporaries after a start: $(ls -A "$(dirname "$snap")" "$ROOT/etc/portd" "$ROOT/run/portd" | tr '\n' ' ')"
                dump_log
        fi
        # The killed daemon's file, still mapped by the processes that used it, is flagged
        # superseded by the next daemon (nss-mapping.c reads no clock to ask again).
        if grep -q "Flagged the snapshot a stopped daemon left beside '$SOCK' superseded" "$LOG"; then
                pass "a start flags the file the killed daemon left superseded"
        else
                fail "the killed daemon's file was not flagged superseded at the next start"
                dump_log
        fi
        kill "$locker" 2>/dev/null
        wait "$locker" 2>/dev/null
        rm -rf "$snap.Ef34Gh" "$ROOT/etc/portd/.overrides.conf.notours" "$ROOT/etc/portd/.overrides.conf.Dir123" \
                "$ROOT/etc/portd/.overrides.conf.Sym123"

        out=$(with_nss getent -s services:portd services portd-published)
        connects "$TMP/strace.3" env LD_LIBRARY_PATH="$NSS_DIR" PORTD_SOCKET="$SOCK" getent -s services:portd services portd-published
        rc=$?
        if [[ "$out" == portd-published* ]] && [ "$rc" -eq 1 ]; then
                pass "a restarted daemon publishes again over the stale file"
        else
                fail "after a restart: '$out', connects: $(grep -c connect "$TMP/strace.3" 2>/dev/null)"
        fi

        stop_daemon
        if [ ! -e "$snap" ]; then
                pass "a clean stop removes the published file"
        else
                fail "the published file outlives a clean stop"
        fi
        finish
}

case "$scenario" in
differential) scenario_differential "$@" ;;
dropins) scenario_dropins ;;
badline) scenario_badline ;;
unreadable) scenario_unreadable ;;
reload) scenario_reload ;;
socket) scenario_socket ;;
sigkill) scenario_sigkill ;;
hostile) scenario_hostile ;;
activation) scenario_activation ;;
notify) scenario_notify ;;
overrides) scenario_overrides ;;
published) scenario_published ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
