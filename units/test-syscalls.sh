#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that portd.service's SystemCallFilter= lets the daemon do its work. Under systemd a
# filtered system call fails with EPERM, which nothing but a booted system would show; here the
# daemon runs under strace through every io.portd.Services method (overrides written to both
# files included), the NSS snapshot hand-over, a reload by signal and by file change, and owner
# queries in its own and in another network namespace, and every system call it made must be
# in the set the unit's filter allows.
# Usage: test-syscalls.sh SOURCE_DIR PORTD PORTCTL [NSS_DIR]
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check the
# shell; exec leaves valgrind behind. The daemon's memory is checked by the integration tests.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_UNITS_REEXEC:-}" ]; then
        PORTD_UNITS_REEXEC=1 exec /bin/bash "$0" "$@"
fi

srcdir=$1
portd=$2
portctl=$3
nss_dir=${4:-}

skip() {
        echo "SKIP: $*"
        exit 77
}
# A missing tool or build product is a failure, never a skip: CI installs and builds everything.
missing() {
        echo "FAIL: missing: $*"
        exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (owner queries as root, in another network namespace)"
for tool in strace systemd-analyze setpriv unshare perl ip; do
        command -v "$tool" >/dev/null 2>&1 || missing "$tool is not installed"
done
[ -x "$portd" ] || missing "the daemon is not built yet ($portd is missing)"
[ -x "$portctl" ] || missing "portctl is not built yet ($portctl is missing)"
unshare -n true 2>/dev/null || skip "cannot create a network namespace here (unshare -n)"
strace -f -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here"

tmp=$(mktemp -d) || exit 1
chmod 0755 "$tmp"
pids=()
cleanup() {
        for p in "${pids[@]}"; do
                kill "$p" 2>/dev/null
        done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

# The allowed set: the unit's SystemCallFilter= lines applied in order, as systemd does (the
# first, without "~", makes an allow list; later ones add, or remove with "~"), with every
# @group expanded by systemd-analyze itself.
expand() {
        local item
        for item in "$@"; do
                if [[ $item == @* ]]; then
                        local members
                        members=$(systemd-analyze syscall-filter "$item" 2>/dev/null | sed -e 's/#.*//' -e 's/^ *//' | sed '1d' | grep -v '^$')
                        if [ -z "$members" ]; then
                                echo "unknown group $item" >&2
                                return 1
                        fi
                        # shellcheck disable=SC2086 # one name per word
                        expand $members || return 1
                else
                        echo "$item"
                fi
        done
}

: >"$tmp/allowed"
first=1
while IFS= read -r value; do
        if [[ $value == \~* ]]; then
                [ $first -eq 0 ] || { echo "the first SystemCallFilter= is a deny list; this test expects an allow list"; exit 1; }
                # shellcheck disable=SC2086
                expand ${value#\~} | sort -u >"$tmp/remove" || exit 1
                sort -u "$tmp/allowed" | comm -23 - "$tmp/remove" >"$tmp/next"
                mv "$tmp/next" "$tmp/allowed"
        else
                # shellcheck disable=SC2086
                expand $value >>"$tmp/allowed" || exit 1
        fi
        first=0
done < <(sed -n 's/^SystemCallFilter=//p' "$srcdir/portd.service.in")
sort -u "$tmp/allowed" -o "$tmp/allowed"
if [ ! -s "$tmp/allowed" ]; then
        echo "no SystemCallFilter= in portd.service.in"
        exit 1
fi

mkdir -p "$tmp/root/etc/services.d" || exit 1
cp /etc/services "$tmp/root/etc/services" 2>/dev/null || echo "http 80/tcp www" >"$tmp/root/etc/services"
echo "fleet-api 8443/tcp api" >"$tmp/root/etc/services.d/50-fleet.conf"

listener='$| = 1;
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 5) or die "listen: $!";
print $s->sockport, "\n";
sleep 600;'
setpriv --reuid=65534 --regid=65534 --clear-groups perl -e "$listener" >"$tmp/user.port" &
user_pid=$!
pids+=("$user_pid")
unshare -n sh -c 'ip link set lo up && exec perl -e "$1"' sh "$listener" >"$tmp/netns.port" &
netns_pid=$!
pids+=("$netns_pid")

sock="$tmp/portd.sock"
# --seccomp-bpf keeps the traced daemon fast enough for the clients' deadlines.
strace -f -qq --seccomp-bpf -o "$tmp/trace" "$portd" --root "$tmp/root" --socket "$sock" 2>"$tmp/portd.log" &
strace_pid=$!
pids+=("$strace_pid")
for _ in $(seq 100); do
        [ -S "$sock" ] && [ -s "$tmp/user.port" ] && [ -s "$tmp/netns.port" ] && break
        sleep 0.1
done
[ -S "$sock" ] || { echo "the daemon did not start:"; cat "$tmp/portd.log"; exit 1; }
user_port=$(cat "$tmp/user.port")
netns_port=$(cat "$tmp/netns.port")

failed=0
run() {
        if ! "$@" >/dev/null 2>>"$tmp/clients.log"; then
                echo "not ok: $*"
                failed=1
        fi
}
pc=("$portctl" --socket "$sock")
run "${pc[@]}" lookup http tcp
run "${pc[@]}" port 80 tcp
run "${pc[@]}" list
run "${pc[@]}" status
run "${pc[@]}" reload
run "${pc[@]}" set --runtime x-runtime 9998/tcp xr
run "${pc[@]}" set --persistent x-persistent 9999/tcp xp
run "${pc[@]}" unset --runtime x-runtime
run "${pc[@]}" unset --persistent x-persistent/tcp
run "${pc[@]}" set --runtime x-override 1/tcp x-alias
run "${pc[@]}" set --persistent x-override 2/tcp
run "${pc[@]}" unset --runtime x-override/tcp
run "${pc[@]}" unset --persistent x-override
run "${pc[@]}" who "tcp:$user_port"
run "${pc[@]}" who --netns "$netns_pid" "tcp:$netns_port"
run "${pc[@]}" who --netns all "tcp:$netns_port"
run setpriv --reuid=65534 --regid=65534 --clear-groups "${pc[@]}" who "tcp:$user_port"
if [ -n "$nss_dir" ] && [ -e "$nss_dir/libnss_portd.so.2" ]; then
        run env LD_LIBRARY_PATH="$nss_dir" PORTD_SOCKET="$sock" getent -s services:portd services api
fi
# Explain and Verify have no portctl command that asks the daemon; a raw call keeps them in.
for method in Explain Verify; do
        params='{}'
        [ "$method" = Explain ] && params='{"name":"http"}'
        perl -MIO::Socket::UNIX -e '
                my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
                print $s "{\"method\":\"io.portd.Services.$ARGV[1]\",\"parameters\":$ARGV[2]}\0";
                local $/ = "\0";
                my $r = <$s>;
                exit($r =~ /"error"/ ? 1 : 0);' "$sock" "$method" "$params" 2>>"$tmp/clients.log" ||
                { echo "not ok: io.portd.Services.$method"; failed=1; }
done
echo "x-test 1/tcp" >"$tmp/root/etc/services.d/60-x.conf"
sleep 0.5
daemon_pid=$(pgrep -P "$strace_pid" -x portd | head -n1)
if [ -n "$daemon_pid" ]; then
        kill -HUP "$daemon_pid"
        sleep 0.3
        kill -TERM "$daemon_pid"
fi
wait "$strace_pid" 2>/dev/null

# "1234  name(args) = ..." and "1234  name(args <unfinished ...>"; resumed halves and signal
# lines name no new call.
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$tmp/trace" | sort -u >"$tmp/used"
if [ ! -s "$tmp/used" ]; then
        echo "strace recorded nothing"
        exit 1
fi
comm -23 "$tmp/used" "$tmp/allowed" >"$tmp/denied"

echo "$(wc -l <"$tmp/used") distinct system calls used, $(wc -l <"$tmp/allowed") allowed by the unit"
if [ -s "$tmp/denied" ]; then
        echo "not ok: the daemon used system calls that portd.service filters out (EPERM under systemd):"
        sed 's/^/  /' "$tmp/denied"
        failed=1
else
        echo "ok: every system call the daemon made is allowed by SystemCallFilter="
fi
if [ $failed -ne 0 ] && [ -s "$tmp/clients.log" ]; then
        echo "--- client messages"
        cat "$tmp/clients.log"
fi
exit $failed
