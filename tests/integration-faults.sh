#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults around the real portd: in each case the old state is kept (or glibc's files backend
# answers) and the error is clear.
#   sigkill     the daemon SIGKILLed again and again (once right after start) while 6 processes
#               and a stream of fresh ones look up through glibc with "services: portd files"
#               (tests/nss-lookups.c): no lookup fails or differs from the files backend
#   unreadable  a drop-in and /etc/services made unreadable (chmod 000, the daemon run as nobody):
#               last good state served, the error in 'portctl status --json' and the log, and
#               gone again once the files are readable
#   badfiles    as root: a drop-in grown past the 64 MiB bound, /etc/services replaced by a
#               directory and by a FIFO: last good state, error shown, the daemon never blocks
#   snapshot    the snapshot file the daemon publishes beside its socket damaged (bytes flipped in
#               its header and body, truncated, extended, replaced by an unlocked copy, made
#               writable by all, given to another owner; overwritten in place, replaced by a
#               shorter file and removed while a running process has it mapped): fresh and
#               running processes still get the files backend's answers, and none is killed
# Images handed over by the varlink call: tests/test-nss-mapping.c gives the module truncated,
# bit-flipped, unsealed and mis-sized ones from a scripted daemon (refused, or for a flip in the
# body only the flipped page, and varlink answers), and the fuzz/snapshot targets cover the
# reader, also of an image whose bytes change after they were checked.  A full disk while writing an override is tested
# with the overrides (ENOSPC/EROFS).
# Usage: integration-faults.sh SCENARIO; PORTD, PORTCTL, NSS_DIR, NSS_LOOKUPS, DATA_DIR in the
# environment.  Exit 0 pass, 1 fail, 77 skip.

set -u

. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?usage: integration-faults.sh SCENARIO}
: "${PORTD:?}" "${PORTCTL:?}" "${NSS_DIR:?}" "${NSS_LOOKUPS:?}" "${DATA_DIR:?}"

[ "$(id -u)" -eq 0 ] || skip "needs root (mount namespaces, acting as nobody, files root cannot be denied)"
command -v setpriv >/dev/null || missing "'setpriv' is not installed (util-linux)"
[ -x "$PYTHON" ] || missing "python3 is not installed"

DUMP_LOG_LINES=40
make_test_dir faults

# Stops the background lookups (they watch $TMP/stop) and kills the daemon outright.
cleanup() {
        : >"$TMP/stop" 2>/dev/null
        [ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$TMP"
}

kill_daemon() {
        kill -KILL "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
}

# source_error FILE: the "error" of that source in 'portctl status --json', "-" when it has none.
source_error() {
        portctl status --json | "$PYTHON" -c '
import json, sys
for s in json.load(sys.stdin)["sources"]:
    if s["file"] == sys.argv[1]:
        print(s.get("error") or "-")
        sys.exit(0)
print("(no such source)")' "$1"
}

# wait_for ms COMMAND...: until COMMAND succeeds, within ms (times the valgrind factor).
wait_for() {
        local ms=$(($1 * scale)) i
        shift
        for ((i = 0; i < ms / 20; i++)); do
                "$@" && return 0
                sleep 0.02
        done
        "$@"
}

# lookups ARGS: nss-lookups with the module from the build and the test's daemon; under the
# valgrind setup the lookups themselves run under valgrind, the module's crash paths included.
lookups() {
        local wrap=()
        [ -n "${PORTD_UNDER_VALGRIND:-}" ] && wrap=("${valgrind_wrap[@]}")
        with_nss "${wrap[@]}" "$NSS_LOOKUPS" "$@"
}

# ---- scenarios ----

scenario_sigkill() {
        local data=$DATA_DIR/services.netbase i n rc
        [ -e "$NSS_DIR/libnss_portd.so.2" ] || missing "the NSS module is not built"
        cp "$data" "$ROOT/etc/services"
        start_daemon

        lookups --require-portd "$data" 0 >"$TMP/first.out" 2>&1
        rc=$?
        [ "$rc" -eq 77 ] && skip "$(cat "$TMP/first.out")"
        [ "$rc" -eq 0 ] && pass "through 'services: portd files' every answer equals the files backend: $(cat "$TMP/first.out")" ||
                fail "lookups differ before any fault: $(cat "$TMP/first.out")"

        # Six long-running processes and a stream of fresh ones (first lookup while the daemon is
        # dead or starting); half of each on the module's mapped snapshot, which outlives the
        # daemon, half on its varlink path (PORTD_NSS_NO_SNAPSHOT), which must fall through to
        # files on every lookup the dead daemon cannot answer.
        local seconds=$((6 * scale)) checkers=() k=0
        for i in 1 2 3 4 5 6; do
                if [ "$i" -le 3 ]; then
                        lookups "$data" "$seconds" "$TMP/marker$i" >"$TMP/check$i.out" 2>&1 &
                else
                        PORTD_NSS_NO_SNAPSHOT=1 lookups "$data" "$seconds" "$TMP/marker$i" >"$TMP/check$i.out" 2>&1 &
                fi
                checkers+=($!)
        done
        (
                while [ ! -e "$TMP/stop" ]; do
                        k=$((k + 1))
                        if [ $((k % 2)) -eq 0 ]; then
                                lookups "$data" 0 || echo FRESH-FAILED
                        else
                                PORTD_NSS_NO_SNAPSHOT=1 lookups "$data" 0 || echo FRESH-FAILED
                        fi
                done
        ) >"$TMP/fresh.out" 2>&1 &
        local fresh=$!
        for i in 1 2 3 4 5 6; do
                wait_for 30000 test -e "$TMP/marker$i" || fail "checker $i did not start"
        done

        # Killed while serving, three times, each time restarted after a while without a daemon;
        # and once right after its start, before it may have served anyone.
        local kills=0
        for i in 1 2 3; do
                sleep 0.5
                kill_daemon
                kills=$((kills + 1))
                sleep 0.4
                start_daemon
        done
        kill_daemon
        start_daemon
        sleep 0.05
        kill_daemon
        kills=$((kills + 2))
        sleep 0.3
        start_daemon
        say "# daemon SIGKILLed $kills times"

        for i in "${!checkers[@]}"; do
                if wait "${checkers[$i]}"; then
                        pass "long-running process $((i + 1)): $(tail -1 "$TMP/check$((i + 1)).out")"
                else
                        fail "long-running process $((i + 1)) lost answers: $(head -12 "$TMP/check$((i + 1)).out")"
                fi
        done
        : >"$TMP/stop"
        wait "$fresh"
        n=$(grep -c 'lookups in' "$TMP/fresh.out")
        if grep -q 'FRESH-FAILED\|got' "$TMP/fresh.out"; then
                fail "fresh processes lost answers: $(grep -m5 'FRESH-FAILED\|got' "$TMP/fresh.out")"
        elif [ "$n" -lt 3 ]; then
                fail "too few fresh processes ran across the kills ($n)"
        else
                pass "$n fresh processes across the kills, every answer right"
        fi
        lookups --require-portd "$data" 0 >"$TMP/last.out" 2>&1 && pass "after the last restart: $(cat "$TMP/last.out")" ||
                fail "after the last restart: $(cat "$TMP/last.out")"
        finish
}

scenario_unreadable() {
        mkdir -p "$ROOT/etc/services.d"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        printf 'keep 43000/tcp keepalias\n' >"$ROOT/etc/services.d/10-keep.conf"
        chmod -R a+rX "$ROOT"
        chmod 777 "$TMP"
        # As nobody, so that chmod 000 denies it (root reads anything).
        start_daemon_wrapped setpriv --reuid=65534 --regid=65534 --clear-groups --
        local out

        chmod 000 "$ROOT/etc/services.d/10-keep.conf"
        touch "$ROOT/etc/services.d" # a directory event for the watch
        printf 'other 43001/tcp\n' >"$ROOT/etc/services.d/20-other.conf"
        if wait_for 2000 portctl lookup other >/dev/null 2>&1; then
                out=$(source_error /etc/services.d/10-keep.conf)
                [[ "$out" == *"ermission denied"* ]] && pass "status --json names the unreadable drop-in: '$out'" ||
                        fail "status --json has no error for the unreadable drop-in: '$out'"
        else
                fail "a new drop-in is not served while another is unreadable"
        fi
        out=$(portctl lookup keepalias tcp)
        [[ "$out" =~ keep\ +43000/tcp ]] && pass "the unreadable drop-in keeps its last good state" ||
                fail "the unreadable drop-in's entries are gone: '$out'"
        grep -q "Failed to read '/etc/services.d/10-keep.conf': Permission denied, keeping its last good state" "$LOG" &&
                pass "the log says the drop-in cannot be read and what is kept" ||
                fail "the log does not name the unreadable drop-in"

        # The base file itself.
        chmod 000 "$ROOT/etc/services"
        touch "$ROOT/etc"
        printf 'third 43002/tcp\n' >"$ROOT/etc/services.d/30-third.conf"
        wait_for 2000 portctl lookup third >/dev/null 2>&1 || fail "a new drop-in is not served while /etc/services is unreadable"
        out=$(source_error /etc/services)
        [[ "$out" == *"ermission denied"* ]] && pass "status --json names the unreadable /etc/services: '$out'" ||
                fail "status --json has no error for /etc/services: '$out'"
        out=$(portctl lookup ssh tcp)$(portctl port 53/udp)
        [[ "$out" =~ ssh\ +22/tcp && "$out" =~ domain\ +53/udp ]] && pass "the base keeps its last good state" ||
                fail "the base's entries are gone: '$out'"
        out=$(portctl status)
        [[ "$out" == *"cannot be read"*"serving its last good state"* ]] && pass "portctl status says so for people too" ||
                fail "portctl status does not show the error: '$out'"

        # Readable again: read, and the errors are gone.
        chmod 644 "$ROOT/etc/services" "$ROOT/etc/services.d/10-keep.conf"
        printf 'keep 43010/tcp keepalias\n' >"$ROOT/etc/services.d/10-keep.conf"
        touch "$ROOT/etc/services"
        if wait_for 2000 sh -c "'$PORTCTL' --socket '$SOCK' lookup keep | grep -q 43010"; then
                pass "once readable, the drop-in's new content is served"
        else
                fail "the drop-in's new content is not served once readable"
        fi
        wait_for 2000 sh -c "'$PORTCTL' --socket '$SOCK' status --json | grep -q '\"errors\":0'" &&
                [ "$(source_error /etc/services)" = - ] && [ "$(source_error /etc/services.d/10-keep.conf)" = - ] &&
                pass "and no error is left in status" || fail "errors left in status: $(portctl status --json)"
        finish
}

scenario_badfiles() {
        mkdir -p "$ROOT/etc/services.d"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        printf 'keep 43000/tcp\n' >"$ROOT/etc/services.d/10-keep.conf"
        start_daemon
        local out hwm0 hwm1
        hwm0=$(awk '/^VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status")

        # Past the bound on what one source may be (64 MiB): refused, not parsed.
        {
                printf 'keep 43099/tcp\n'
                head -c $((65 << 20)) /dev/zero | tr '\0' '#'
        } >"$TMP/huge.conf"
        mv "$TMP/huge.conf" "$ROOT/etc/services.d/10-keep.conf"
        if wait_for 5000 sh -c "'$PORTCTL' --socket '$SOCK' status --json | grep -q 'File too large'"; then
                pass "a drop-in grown past 64 MiB: '$(source_error /etc/services.d/10-keep.conf)' in status"
        else
                fail "no error for a drop-in past 64 MiB: $(source_error /etc/services.d/10-keep.conf)"
        fi
        out=$(portctl lookup keep)
        [[ "$out" =~ keep\ +43000/tcp ]] && pass "it keeps its last good state" || fail "too large a drop-in: '$out'"
        grep -q "Failed to read '/etc/services.d/10-keep.conf': File too large, keeping its last good state" "$LOG" &&
                pass "the log says so" || fail "the log does not say the drop-in is too large"
        hwm1=$(awk '/^VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status")
        if [ -n "${PORTD_UNDER_VALGRIND:-}" ] || [[ "${LD_PRELOAD:-}" == *asan* ]]; then
                say "# peak RSS $hwm0 -> $hwm1 KiB (not judged under a memory checker)"
        elif [ $((hwm1 - hwm0)) -lt 8192 ]; then
                pass "and is refused without being read: peak RSS $hwm0 -> $hwm1 KiB"
        else
                fail "the daemon read the oversized drop-in into memory: peak RSS $hwm0 -> $hwm1 KiB"
        fi

        # /etc/services replaced by a directory, then by a FIFO (which must not block the daemon).
        local kind previous=-
        for kind in directory fifo; do
                rm -rf "$ROOT/etc/services"
                if [ "$kind" = directory ]; then mkdir "$ROOT/etc/services"; else mkfifo "$ROOT/etc/services"; fi
                touch "$ROOT/etc/services.d/20-touch-$kind.conf"
                out=-
                for ((i = 0; i < 100 * scale; i++)); do
                        out=$(source_error /etc/services)
                        [ "$out" != "$previous" ] && break
                        sleep 0.02
                done
                if [ "$out" != "$previous" ]; then
                        pass "/etc/services replaced by a $kind: '$out' in status"
                else
                        fail "/etc/services replaced by a $kind: no new error in status ('$out')"
                fi
                previous=$out
                out=$(timeout 5 "$PORTCTL" --socket "$SOCK" lookup ssh tcp)
                [[ "$out" =~ ssh\ +22/tcp ]] && pass "the base keeps its last good state, the daemon answers" ||
                        fail "with /etc/services a $kind: '$out'"
        done
        rm -f "$ROOT/etc/services"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        printf 'keep 43001/tcp\n' >"$ROOT/etc/services.d/10-keep.conf"
        wait_for 2000 sh -c "'$PORTCTL' --socket '$SOCK' lookup keep | grep -q 43001" &&
                wait_for 2000 sh -c "'$PORTCTL' --socket '$SOCK' status --json | grep -q '\"errors\":0'" &&
                pass "both read again once they are files again, no error left" ||
                fail "no recovery: $(portctl status --json)"
        finish
}

scenario_snapshot() {
        local data=$DATA_DIR/services.netbase file=$SOCK.snapshot kind out i size
        [ -e "$NSS_DIR/libnss_portd.so.2" ] || missing "the NSS module is not built"
        cp "$data" "$ROOT/etc/services"
        for kind in flip-header flip-body truncated extended unlocked-copy world-writable foreign-owner \
                overwritten-while-mapped replaced-while-mapped removed-while-mapped; do
                start_daemon
                wait_for 2000 test -s "$file" || missing "the daemon published no snapshot file beside its socket within 2 s"
                case $kind in
                flip-header) printf '\377' | dd of="$file" bs=1 seek=9 conv=notrunc status=none ;;
                flip-body) printf '\377\377\377\377' | dd of="$file" bs=1 seek=$(($(stat -c %s "$file") / 2)) conv=notrunc status=none ;;
                truncated) truncate -s $(($(stat -c %s "$file") / 2)) "$file" ;;
                extended) head -c 5000 /dev/urandom >>"$file" ;;
                # A valid image, but not held by a live daemon (as a crashed one leaves it).
                unlocked-copy) cp -p "$file" "$file.new" && mv "$file.new" "$file" ;;
                world-writable) chmod 0666 "$file" ;;
                foreign-owner) chown 65534 "$file" ;;
                esac
                if [[ "$kind" == *-while-mapped ]]; then
                        rm -f "$TMP/mapped.marker"
                        lookups "$data" $((3 * scale)) "$TMP/mapped.marker" >"$TMP/mapped.out" 2>&1 &
                        i=$!
                        wait_for 30000 test -e "$TMP/mapped.marker"
                        # The module maps the file itself.  Reading a mapped page past the end of a
                        # file that shrank is SIGBUS, so what this covers is every way the file
                        # changes short of root truncating it in place under the live daemon (out
                        # of contract, as truncating a mapped shared library is; see
                        # nss/nss-mapping.c): a shorter file renamed over it (a new inode, as the
                        # daemon's own reload makes), its removal, and bytes overwritten in place.
                        if [ "$kind" = replaced-while-mapped ]; then
                                head -c 4096 "$file" >"$file.new" && mv -f "$file.new" "$file"
                        elif [ "$kind" = removed-while-mapped ]; then
                                rm -f "$file"
                        else
                                # Overwrite from byte 200 to 256 bytes before the end; a file too small
                                # for that is a failure of the test's premise, never a negative size.
                                size=$(stat -c %s "$file")
                                if [ "$size" -lt 1024 ]; then
                                        fail "the published snapshot is only $size bytes; expected an image over 1 KiB"
                                        size=1024
                                fi
                                head -c $((size - 456)) /dev/urandom | dd of="$file" bs=1 seek=200 conv=notrunc status=none
                        fi
                        if wait "$i"; then
                                pass "a running process while its snapshot file is ${kind%-while-mapped}: $(tail -1 "$TMP/mapped.out")"
                        else
                                fail "a running process while its snapshot file is ${kind%-while-mapped}: $(head -5 "$TMP/mapped.out")"
                        fi
                else
                        out=$(lookups --require-portd "$data" 0 2>&1) && pass "snapshot file $kind: a fresh process gets every answer right ($out)" ||
                                fail "snapshot file $kind: $out"
                fi
                stop_daemon
        done
        finish
}

case "$scenario" in
sigkill) scenario_sigkill ;;
unreadable) scenario_unreadable ;;
badfiles) scenario_badfiles ;;
snapshot) scenario_snapshot ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
