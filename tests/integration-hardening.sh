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
        local ino_before ino_after out rc
        ino_before=$(stat -c %i "$SOCK")
        out=$(timeout $((10 * scale)) "$PORTD" --root "$ROOT" --socket "$SOCK" 2>&1)
        rc=$?
        ino_after=$(stat -c %i "$SOCK" 2>/dev/null)
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
        finish
}

case "$scenario" in
second-daemon) scenario_second_daemon ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
