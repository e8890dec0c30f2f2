# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the integration scripts, sourced first thing with
#     . "$(dirname "$0")/integration-lib.sh"
# On sourcing: the re-exec that leaves valgrind behind under the valgrind test setup; failures,
# DAEMON_PID, scale and valgrind_wrap (deadlines stretch and the daemon runs under valgrind there);
# PYTHON.  Functions: say/pass/fail/skip/missing, make_test_dir (TMP, ROOT, SOCK, LOG and the EXIT trap
# calling cleanup, which a script may redefine), dump_log, portctl, wait_for_daemon, start_daemon,
# start_daemon_wrapped, stop_daemon, finish, need_tool, need_nss, with_nss, need_mount_ns,
# getent_queries, in_files_ns, wait_for_output.
# The caller sets PORTD and PORTCTL (NSS_DIR for the NSS helpers), and may set DUMP_LOG_LINES to
# show only the log's tail.

# Under the valgrind test setup the calling script itself starts under valgrind, which would check
# bash.  exec leaves valgrind behind (it does not trace children); the daemon is run under valgrind.
# Sourced without arguments, "$0" and "$@" are the script's own.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_INTEGRATION_REEXEC:-}" ]; then
        PORTD_INTEGRATION_REEXEC=1 exec /bin/bash "$0" "$@"
fi

failures=0
DAEMON_PID=

say() { printf '%s\n' "$*"; }
pass() { say "ok - $*"; }
fail() {
        say "not ok - $*"
        failures=$((failures + 1))
}
# skip: for what this machine truly cannot do (no root, no namespaces); CI fails on any skip.
skip() {
        say "SKIP: $*"
        exit 77
}
# missing: a tool, a data file or a build product the test needs is absent: that is a failure
# of the set-up, never a skip, so that a test that did not run cannot pass for one that did.
missing() {
        say "not ok - missing: $*"
        exit 1
}

# Under the valgrind test setup the daemon runs under valgrind too, and every deadline stretches.
scale=1
valgrind_wrap=()
if [ -n "${PORTD_UNDER_VALGRIND:-}" ]; then
        scale=20
        valgrind_wrap=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet)
fi

# The system's python, not a per-user shim that other users (setpriv --reuid) cannot run.
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

# make_test_dir NAME: a fresh /tmp/portd-NAME.XXXXXX as TMP, with ROOT (holding etc/), SOCK,
# SOCKETS (the io.portd.Sockets socket the daemon binds beside SOCK) and LOG below it, removed at
# exit by cleanup.
make_test_dir() {
        TMP=$(mktemp -d "/tmp/portd-$1.XXXXXX") || exit 1
        # Unprivileged clients (setpriv --reuid) must reach the socket below it.
        chmod 755 "$TMP"
        ROOT=$TMP/root
        SOCK=$TMP/sock
        SOCKETS=$TMP/io.portd.Sockets
        LOG=$TMP/portd.log
        mkdir -p "$ROOT/etc"
        trap cleanup EXIT
}

cleanup() {
        stop_daemon quiet
        rm -rf "$TMP"
}

dump_log() {
        say "--- portd log:"
        if [ -n "${DUMP_LOG_LINES:-}" ]; then
                sed 's/^/    /' "$LOG" 2>/dev/null | tail -n "$DUMP_LOG_LINES"
        else
                sed 's/^/    /' "$LOG" 2>/dev/null
        fi
}

portctl() {
        "$PORTCTL" --socket "$SOCK" "$@"
}

# wait_for_daemon [SOCK [PID]]: until the daemon answers Status, up to 5 s (times the valgrind
# factor); gives up early once PID is gone.  The test's own socket and daemon by default.
wait_for_daemon() {
        local sock=${1:-$SOCK} pid=${2:-$DAEMON_PID} i
        for ((i = 0; i < 250 * scale; i++)); do
                "$PORTCTL" --socket "$sock" status >/dev/null 2>&1 && return 0
                if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
                        break
                fi
                sleep 0.02
        done
        say "portd did not come up"
        dump_log
        exit 1
}

# start_daemon [ARG...]: portd on the test's root and socket with ARGs, once it answers.
start_daemon() {
        start_daemon_wrapped -- "$@"
}

# start_daemon_wrapped [WRAPPER...] -- [ARG...]: the same, run by a command prefix (setpriv, prlimit)
# that stays outside valgrind.
start_daemon_wrapped() {
        local wrapper=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do
                wrapper+=("$1")
                shift
        done
        [ $# -gt 0 ] && shift
        : >>"$LOG"
        "${wrapper[@]}" "${valgrind_wrap[@]}" "$PORTD" --root "$ROOT" --socket "$SOCK" "$@" 2>>"$LOG" &
        DAEMON_PID=$!
        wait_for_daemon
}

# stop_daemon [quiet]: SIGTERM must end the daemon cleanly (exit 0; valgrind's 99 on a leak or
# error), checked unless quiet.
stop_daemon() {
        local rc
        [ -n "$DAEMON_PID" ] || return 0
        kill -TERM "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID"
        rc=$?
        DAEMON_PID=
        [ "${1:-}" = quiet ] && return 0
        if [ "$rc" -eq 0 ]; then
                pass "portd exits 0 on SIGTERM"
        else
                fail "portd exited with status $rc on SIGTERM"
                dump_log
        fi
}

finish() {
        stop_daemon
        if [ "$failures" -gt 0 ]; then
                say "$failures check(s) failed"
                dump_log
                exit 1
        fi
        exit 0
}

need_tool() {
        command -v "$1" >/dev/null 2>&1 || missing "'$1' is not installed"
}

need_nss() {
        [ -n "${NSS_DIR:-}" ] && [ -e "$NSS_DIR/libnss_portd.so.2" ] ||
                missing "the NSS module is not built (NSS_DIR='${NSS_DIR:-}')"
}

# Runs a command whose glibc loads the module from the build, pointed at the test's daemon.  A
# sanitizer build of the module needs its runtime loaded first into programs built without it.
with_nss() {
        local preload
        preload=$(ldd "$NSS_DIR/libnss_portd.so.2" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { printf "%s:", $3 }')
        LD_LIBRARY_PATH=$NSS_DIR PORTD_SOCKET=$SOCK LD_PRELOAD=${preload%:} \
                ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0 "$@"
}

# need_mount_ns [WHY]: skips unless private mount namespaces can be made (WHY: what needs root).
need_mount_ns() {
        [ "$(id -u)" -eq 0 ] || skip "${1:-binding a file over /etc/services needs root}"
        need_tool unshare
        unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
}

# getent_queries SOURCE FILE: each query of FILE (one key a line) through getent with one nsswitch
# source, its answer and exit status.
getent_queries() {
        local source=$1 queries=$2 q
        while IFS= read -r q; do
                printf '== %s\n' "$q"
                getent -s "services:$source" services -- "$q"
                printf 'rc=%s\n' "$?"
        done <"$queries"
}

# in_files_ns FILE CMD...: runs CMD in a private mount namespace where glibc's files backend reads
# FILE as /etc/services.
in_files_ns() {
        local file=$1
        shift
        unshare -m --propagation private sh -c 'mount --bind "$0" /etc/services && exec "$@"' "$file" "$@"
}

# wait_for_output DEADLINE_MS REGEX CMD...: polls until CMD's output matches REGEX, within the
# deadline (times the valgrind factor).  Sets ELAPSED_MS.
wait_for_output() {
        local deadline_ms=$(($1 * scale)) regex=$2 start now out
        shift 2
        start=$(date +%s%N)
        while :; do
                out=$("$@" 2>&1)
                now=$(date +%s%N)
                ELAPSED_MS=$(((now - start) / 1000000))
                [[ "$out" =~ $regex ]] && return 0
                if [ "$ELAPSED_MS" -gt "$deadline_ms" ]; then
                        say "    last output: $out"
                        return 1
                fi
                sleep 0.01
        done
}
