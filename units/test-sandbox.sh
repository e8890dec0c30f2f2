#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that the directories portd.service makes writable are the ones the daemon writes, and
# enough: the daemon runs in a mount namespace where, as under ProtectSystem=strict, every file
# system is read-only, but for the directories RuntimeDirectory=, ConfigurationDirectory= (and
# any StateDirectory= or ReadWritePaths=) name, with ReadOnlyPaths= read-only again inside them.
# Every io.portd.Services method, overrides of both kinds and the snapshot it publishes must
# work there; with the ConfigurationDirectory= one read-only too, persistent overrides must fail
# (so it is needed). The daemon runs on --root, so the unit's paths are taken below that root.
# The namespace belongs to a new user namespace: a mistake cannot make the host's mounts
# read-only, the kernel refuses it.
# Usage: test-sandbox.sh SOURCE_DIR PORTD PORTCTL NSS_DIR
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check bash;
# exec leaves valgrind behind. The daemon's memory is checked by the integration tests.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_UNITS_REEXEC:-}" ]; then
        PORTD_UNITS_REEXEC=1 exec /bin/bash "$0" "$@"
fi

srcdir=$1
portd=$2
portctl=$3
nss_dir=$4
unit=$srcdir/portd.service.in

skip() {
        echo "SKIP: $*"
        exit 77
}
# A missing tool or build product is a failure, never a skip: CI installs and builds everything.
missing() {
        echo "FAIL: missing: $*"
        exit 1
}

command -v unshare >/dev/null 2>&1 || missing "unshare is not installed"
[ -x "$portd" ] || missing "the daemon is not built yet ($portd is missing)"
[ -x "$portctl" ] || missing "portctl is not built yet ($portctl is missing)"
unshare -U -r -m --propagation private true 2>/dev/null ||
        skip "cannot create a user and mount namespace here (unshare -U -r -m)"

grep -qx 'ProtectSystem=strict' "$unit" || { echo "not ok: portd.service has no ProtectSystem=strict"; exit 1; }

tmp=$(mktemp -d) || exit 1
chmod 0755 "$tmp"
daemon_pid=""
cleanup() {
        [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

# The writable and the read-only paths of the unit, as systemd places them.
values() { sed -n "s/^$1=//p" "$unit" | tr ' ' '\n' | grep -v '^$'; }
writable=$( {
        values RuntimeDirectory | sed 's|^|/run/|'
        values ConfigurationDirectory | sed 's|^|/etc/|'
        values StateDirectory | sed 's|^|/var/lib/|'
        values CacheDirectory | sed 's|^|/var/cache/|'
        values LogsDirectory | sed 's|^|/var/log/|'
        values ReadWritePaths | sed 's|^-||'
} | sort -u)
readonly_paths=$(values ReadOnlyPaths | sed 's|^-||' | sort -u)
config_dir=$(values ConfigurationDirectory | sed 's|^|/etc/|' | head -n1)
runtime_dir=$(values RuntimeDirectory | sed 's|^|/run/|' | head -n1)
[ -n "$runtime_dir" ] || { echo "not ok: portd.service has no RuntimeDirectory="; exit 1; }
[ -n "$config_dir" ] || { echo "not ok: portd.service has no ConfigurationDirectory="; exit 1; }
echo "writable: $(echo "$writable" | tr '\n' ' '); read-only inside them: $(echo "$readonly_paths" | tr '\n' ' ')"

root=$tmp/root
mkdir -p "$root/etc/services.d" || exit 1
cp /etc/services "$root/etc/services" 2>/dev/null || echo "http 80/tcp www" >"$root/etc/services"
echo "fleet-api 8443/tcp api" >"$root/etc/services.d/50-fleet.conf"
# systemd creates the directories before the daemon starts; the read-only ones are what an
# administrator or a container manager put there.
for d in $writable; do
        mkdir -p "$root$d" || exit 1
done
for d in $readonly_paths; do
        case $d in
        */*.*) ;;
        *) mkdir -p "$root$d" ;;
        esac
done

# Runs the daemon in the sandbox; $@ are the writable paths (below the root).
start_daemon() {
        sock=$root$runtime_dir/io.portd.Services
        rm -f "$sock"
        : >"$tmp/portd.log"
        unshare -U -r -m --propagation private bash -c '
                set -e
                root=$1 readonly_paths=$2 portd=$3 sock=$4
                shift 4
                # Every file system read-only but the kernel API ones (ProtectSystem=strict);
                # already read-only mounts are left as they are.
                while read -r _ _ _ _ point opts _; do
                        case $point in /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;; esac
                        case ,$opts, in *,ro,*) continue ;; esac
                        mount -o "remount,bind,ro${opts#rw}" "$(printf "%b" "$point")"
                done </proc/self/mountinfo
                for d in "$@"; do
                        mount --bind "$root$d" "$root$d"
                        mount -o remount,bind,rw "$root$d"
                done
                for d in $readonly_paths; do
                        [ -e "$root$d" ] || continue
                        mount --bind "$root$d" "$root$d"
                        mount -o remount,bind,ro "$root$d"
                done
                if touch "$root/etc/portd-sandbox-probe" 2>/dev/null; then
                        echo "the sandbox left $root/etc writable" >&2
                        exit 1
                fi
                exec "$portd" --root "$root" --socket "$sock"
        ' sandbox "$root" "$readonly_paths" "$portd" "$sock" "$@" 2>>"$tmp/portd.log" &
        daemon_pid=$!
        for _ in $(seq 100); do
                [ -S "$sock" ] && break
                kill -0 "$daemon_pid" 2>/dev/null || break
                sleep 0.05
        done
        [ -S "$sock" ] || { echo "not ok: the daemon did not start in the sandbox:"; cat "$tmp/portd.log"; exit 1; }
}

stop_daemon() {
        kill "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_pid=""
}

failed=0
ok() { echo "ok: $*"; }
not_ok() {
        echo "not ok: $*"
        failed=1
}
# From inside the daemon's user namespace: portd takes changes (set, unset, reload) only from callers
# in its own user and PID namespaces, and here it runs in a user namespace of its own.
pc() { nsenter --user --target "$daemon_pid" "$portctl" --socket "$sock" "$@"; }
check() {
        local what=$1
        shift
        if "$@" >"$tmp/out" 2>&1; then
                ok "$what"
        else
                not_ok "$what: $(cat "$tmp/out")"
        fi
}

# shellcheck disable=SC2086 # one path per word
start_daemon $writable
check "lookup" pc lookup api tcp
check "list" pc list
check "status" pc status
check "reload" pc reload
check "set --runtime" pc set --runtime x-runtime 9998/tcp
check "set --persistent" pc set --persistent x-persistent 9999/tcp xp
check "the runtime override is served" pc lookup x-runtime tcp
check "the persistent override is served" pc lookup xp tcp
grep -q '^x-persistent' "$root$config_dir/overrides.conf" 2>/dev/null &&
        ok "the persistent override is in $config_dir/overrides.conf" ||
        not_ok "no persistent override in $config_dir/overrides.conf"
grep -q '^x-runtime' "$root$runtime_dir/overrides.conf" 2>/dev/null &&
        ok "the runtime override is in $runtime_dir/overrides.conf" ||
        not_ok "no runtime override in $runtime_dir/overrides.conf"
check "unset --runtime" pc unset --runtime x-runtime
check "unset --persistent" pc unset --persistent x-persistent
if [ -e "$nss_dir/libnss_portd.so.2" ] && command -v getent >/dev/null 2>&1; then
        check "getent through the module" env LD_LIBRARY_PATH="$nss_dir" PORTD_SOCKET="$sock" \
                getent -s services:portd services api
fi
if grep -qi 'read-only file system' "$tmp/portd.log"; then
        not_ok "the daemon hit a read-only file system:"
        grep -i 'read-only file system' "$tmp/portd.log"
else
        ok "the daemon never hit a read-only file system"
fi
stop_daemon

# Without the configuration directory writable, persistent overrides cannot work.
rest=$(printf '%s\n' $writable | grep -vx "$config_dir")
# shellcheck disable=SC2086
start_daemon $rest
if pc set --persistent x-persistent 9999/tcp >"$tmp/out" 2>&1; then
        not_ok "set --persistent works with $config_dir read-only: ConfigurationDirectory= is not needed"
else
        ok "with $config_dir read-only, set --persistent fails: $(head -1 "$tmp/out")"
fi
check "with $config_dir read-only, set --runtime still works" pc set --runtime x-runtime 9998/tcp
stop_daemon

exit $failed
