# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the scenario scripts of the test bed (tests/system/scenarios/), sourced by
# inside.sh before each one. A check is one TAP line in /out/tap, named "SCENARIO: what";
# a failed one carries the output of what failed as diagnostics.

# ok WHAT / not_ok WHAT [DETAIL...]: record a check's result.
ok() {
        echo "ok - $TESTBED_SCENARIO: $1" >>/out/tap
}
not_ok() {
        local what=$1
        shift
        echo "not ok - $TESTBED_SCENARIO: $what" >>/out/tap
        [ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/#   /' >>/out/tap
}

# check WHAT COMMAND...: ok when COMMAND succeeds; otherwise not ok with its output.
check() {
        local what=$1 out
        shift
        if out=$("$@" 2>&1); then
                ok "$what"
        else
                not_ok "$what" "$ $*" "$out"
        fi
}

# check_eq WHAT EXPECTED ACTUAL: ok when the two strings are equal.
check_eq() {
        if [ "$2" = "$3" ]; then
                ok "$1"
        else
                not_ok "$1" "expected: $2" "got:      $3"
        fi
}

# check_same WHAT FILE1 FILE2: ok when the two files are equal; otherwise their diff.
check_same() {
        if cmp -s "$2" "$3"; then
                ok "$1"
        else
                not_ok "$1" "$(diff -u "$2" "$3" | head -40)"
        fi
}

# diag TEXT...: a comment in the TAP stream (measurements, what a scenario saw).
diag() {
        printf '%s\n' "$@" | sed 's/^/# /' >>/out/tap
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time is up.
wait_until() {
        local deadline=$(($(date +%s%N) + $1 * 1000000000))
        shift
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s%N)" -lt $deadline ] || return 1
                sleep 0.1
        done
}

# The services: line of an nsswitch.conf (the running system's by default).
services_line() {
        grep -E '^services:' "${1:-/etc/nsswitch.conf}"
}

# unit_prop UNIT PROPERTY: one property of a unit, as systemctl show prints its value.
unit_prop() {
        systemctl show -P "$2" "$1"
}

# Lookups in a loop, to show none fails while something happens to the daemon:
# lookups_start NAME/PROTO... starts it, lookups_stop prints "N lookups, M failed" and returns
# non-zero if any failed (the failures are in $TESTBED_LOOKUPS_LOG).
lookups_start() {
        TESTBED_LOOKUPS_LOG=$(mktemp)
        (
                trap 'exit 0' TERM
                while :; do
                        for entry in "$@"; do
                                if getent services "$entry" >/dev/null; then
                                        echo ok
                                else
                                        echo "failed $entry $(date +%T.%N)"
                                fi
                        done
                done
        ) >"$TESTBED_LOOKUPS_LOG" 2>&1 &
        TESTBED_LOOKUPS_PID=$!
}
lookups_stop() {
        kill "$TESTBED_LOOKUPS_PID"
        wait "$TESTBED_LOOKUPS_PID" 2>/dev/null
        local total failed
        total=$(wc -l <"$TESTBED_LOOKUPS_LOG")
        failed=$(grep -c '^failed' "$TESTBED_LOOKUPS_LOG")
        echo "$total lookups, $failed failed"
        [ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
}

# portd_journal [JOURNALCTL-ARGS...]: what portd.service logged this boot, a message a line.
# Scenarios count lines to find what is new: journalctl --after-cursor with -u or -p skips the
# first matching entry when the cursor's own entry does not match.
portd_journal() {
        journalctl -b -u portd.service -o cat "$@"
}
