#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The booted test bed: builds portd's Debian packages, boots this machine's own systemd in a
# systemd-nspawn container over a copy-on-write overlay of the machine's root, runs the scenario
# scripts (tests/system/scenarios/NN-*.sh) inside it in order, and prints every check they made
# as TAP. The machine itself never changes: whatever dpkg, systemctl and the scenarios write
# lands in an upper directory under /var/tmp that is removed afterwards, and every mount lives in
# a private mount namespace that dies with the boot. See tests/system/README.md.
# Usage: testbed.sh SOURCE_ROOT GETSERV_PROGRAM
# TESTBED_SCENARIOS="10-install 20-activation" runs only those scenarios (in that order);
# TESTBED_KEEP=DIR copies what came out of the boot (TAP, console, journal) to DIR.
set -u

srcroot=$(cd "$1" && pwd) || exit 1
getserv=$2
here=$srcroot/tests/system

# The container must power off by itself well within meson's timeout (600 s, the package build
# included), so that this script, not meson's SIGKILL, ends it and removes what it made.
boot_timeout=${TESTBED_BOOT_TIMEOUT:-360}

skip() {
        echo "1..0 # SKIP $*"
        exit 77
}
bail() {
        echo "Bail out! $*"
        exit 1
}

# debian/rules exports this: a test run inside the package build must not start another one.
[ -z "${PORTD_PACKAGE_BUILD:-}" ] || skip "already inside a package build"
# The test bed installs packages built on their own, without valgrind or sanitizers; nothing of
# this build directory runs in it but getserv, a plain glibc client.
[ -z "${PORTD_UNDER_VALGRIND:-}" ] || skip "the test bed runs nothing under valgrind"
case ${LD_PRELOAD:-} in *asan* | *ubsan*) skip "the test bed installs packages built without sanitizers" ;; esac
[ "$(id -u)" -eq 0 ] || skip "booting a test bed needs root (mounts, systemd-nspawn)"

# Every tool this needs is installed by tools/install-deps.sh: a missing one is a failure.
for tool in systemd-nspawn:systemd-container unshare:util-linux timeout:coreutils \
        dpkg-deb:dpkg dpkg-buildpackage:dpkg-dev ansible-playbook:ansible-core ip:iproute2 \
        python3:python3 strace:strace; do
        command -v "${tool%%:*}" >/dev/null 2>&1 ||
                bail "${tool%%:*} is not installed (Debian package ${tool#*:}; tools/install-deps.sh installs it)"
done
[ -x "$getserv" ] || bail "$getserv is not built"

# Test beds of runs that were killed (meson's SIGKILL on a timeout leaves no time for the trap
# below): their mounts died with their mount namespace; their directories are removed here once
# the process that made them is gone. Each names its maker by pid and start time.
start_time() {
        # Field 22 of /proc/PID/stat; the command name (field 2) may hold blanks.
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        set -- $stat
        echo "${20}"
}
for old in /var/tmp/portd-testbed.*; do
        [ -f "$old/owner" ] || continue
        read -r old_pid old_start <"$old/owner" || continue
        [ "$(start_time "$old_pid")" = "$old_start" ] && continue
        rm -rf --one-file-system "$old"
done

work=$(mktemp -d /var/tmp/portd-testbed.XXXXXX) || bail "cannot make a directory under /var/tmp"
echo "$$ $(start_time $$)" >"$work/owner"
boot_pid=
cleanup() {
        if [ -n "$boot_pid" ]; then
                kill -TERM "$boot_pid" 2>/dev/null
                wait "$boot_pid" 2>/dev/null
        fi
        # Only the mount namespace of the boot held mounts; it is gone now. --one-file-system
        # keeps rm off anything that would still be mounted, whatever went wrong.
        rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mkdir -p "$work/upper" "$work/overlay-work" "$work/root" "$work/in/debs" "$work/out" || bail "mkdir failed"
chmod 0755 "$work" "$work/in" "$work/out"

# The packages: this tree's build, and the same build as a lower version ("the previous build")
# for the upgrade scenario.
echo "# building the packages (dpkg-buildpackage -us -uc -b)"
if ! debs=$("$srcroot/tests/debian-build.sh" "$srcroot" "$work/build"); then
        bail "the Debian packages did not build (dpkg-buildpackage; see above)"
fi
for deb in $debs; do
        package=$(dpkg-deb -f "$deb" Package)
        cp "$deb" "$work/in/debs/$package.deb" || bail "cp $deb failed"
        version=$(dpkg-deb -f "$deb" Version)
        dpkg-deb -R "$deb" "$work/repack" || bail "dpkg-deb -R $deb failed"
        sed -i "s/^Version: .*/Version: $version~previous/" "$work/repack/DEBIAN/control"
        dpkg-deb -b "$work/repack" "$work/in/debs/$package-previous.deb" >/dev/null ||
                bail "dpkg-deb -b of the previous $package failed"
        rm -rf "$work/repack"
done
rm -rf "$work/build"

# What the boot runs: the runner, the scenarios' helpers and the scenarios, and getserv.
cp "$here/inside.sh" "$here/lib.sh" "$work/in/" || bail "cp failed"
cp "$getserv" "$work/in/getserv" || bail "cp $getserv failed"
# The repository's Ansible role and playbook, and the helpers of the scenarios that apply them.
cp -r "$srcroot/contrib/ansible" "$work/in/ansible" || bail "cp contrib/ansible failed"
cp "$here/fleet-lib.sh" "$work/in/" || bail "cp fleet-lib.sh failed"
mkdir "$work/in/scenarios" || bail "mkdir failed"
if [ -n "${TESTBED_SCENARIOS:-}" ]; then
        n=0
        for name in $TESTBED_SCENARIOS; do
                n=$((n + 1))
                cp "$here/scenarios/$name.sh" "$work/in/scenarios/$(printf %03d $n)-$name.sh" ||
                        bail "no scenario $name"
        done
else
        cp "$here"/scenarios/[0-9]*.sh "$work/in/scenarios/" || bail "no scenarios"
fi


# The boot, inside a private mount namespace: nspawn refuses to clean its propagation directory
# on a /run that is not tmpfs, so a tmpfs covers it (or the nearest directory above it that
# exists; nothing is made on the machine); the overlay shows the machine's root with every
# write going to $work/upper.
boot() {
        set -e
        local dir=/run/systemd/nspawn
        while [ ! -d "$dir" ]; do dir=${dir%/*}; done
        mount -t tmpfs -o mode=0755 tmpfs "$dir"
        mkdir -p /run/systemd/nspawn
        mount -t overlay overlay \
                -o "lowerdir=/,upperdir=$work/upper,workdir=$work/overlay-work" "$work/root"
        # The booted system makes its own machine id, as a new machine would.
        rm -f "$work/root/etc/machine-id"
        # A container image's policy-rc.d (Docker's exits 101) forbids maintainer scripts to
        # start services; the test bed is a booted Debian system, as an administrator has one.
        rm -f "$work/root/usr/sbin/policy-rc.d"
        # The journal stays in memory: nothing of it is wanted after the boot but what the runner
        # copies to /out, and journal files of this machine's own never mix with the boot's.
        mkdir -p "$work/root/etc/systemd/journald.conf.d"
        printf '[Journal]\nStorage=volatile\n' >"$work/root/etc/systemd/journald.conf.d/testbed.conf"
        # nscd with its services cache answers in front of every NSS module: the test bed boots
        # with it masked (by the administrator's own means, so that 85-nscd can unmask it).
        [ ! -e /lib/systemd/system/nscd.service ] ||
                ln -sf /dev/null "$work/root/etc/systemd/system/nscd.service"
        install -m 0644 /dev/stdin "$work/root/etc/systemd/system/portd-testbed.service" <<EOF
[Unit]
Description=portd test bed scenarios
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash /in/inside.sh
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=append:/out/console.log
StandardError=append:/out/console.log
TimeoutStartSec=$((boot_timeout > 60 ? boot_timeout - 30 : boot_timeout))
EOF
        install -m 0644 /dev/stdin "$work/root/etc/systemd/system/portd-testbed.target" <<EOF
[Unit]
Description=portd test bed
Requires=multi-user.target portd-testbed.service
After=multi-user.target portd-testbed.service
AllowIsolate=yes
EOF
        exec systemd-nspawn --quiet -b --register=no --keep-unit --private-network \
                --console=passive -D "$work/root" \
                --bind-ro="$work/in:/in" --bind="$work/out:/out" \
                systemd.unit=portd-testbed.target
}
export work boot_timeout
export -f boot
started=$(date +%s)
echo "# booting the test bed"
# --foreground keeps timeout, and with it nspawn (unshare and bash exec it), in this
# process group, which meson kills on its own timeout.
timeout --foreground --kill-after=10 "$boot_timeout" unshare -m --propagation private bash -c boot \
        >"$work/nspawn.log" 2>&1 &
boot_pid=$!
wait "$boot_pid"
rc=$?
boot_pid=
echo "# the test bed ran for $(($(date +%s) - started)) s (systemd-nspawn exit status $rc)"

# The runner's TAP lines are unnumbered (each scenario appends its own); number them here.
n=0
failed=0
if [ -f "$work/out/tap" ]; then
        while IFS= read -r line; do
                case $line in
                "ok "* | "not ok "*)
                        n=$((n + 1))
                        [[ $line != "not ok "* ]] || failed=1
                        line=$(sed -E "s/^(not )?ok /\\1ok $n /" <<<"$line")
                        ;;
                esac
                printf '%s\n' "$line"
        done <"$work/out/tap"
fi
n=$((n + 1))
if [ -f "$work/out/done" ]; then
        echo "ok $n - the test bed booted, ran every scenario and powered off"
else
        echo "not ok $n - the test bed booted, ran every scenario and powered off"
        failed=1
        {
                echo "--- systemd-nspawn (exit status $rc; 124 is the timeout of $boot_timeout s):"
                tail -40 "$work/nspawn.log"
                if [ -f "$work/out/console.log" ]; then
                        echo "--- the runner's output:"
                        tail -40 "$work/out/console.log"
                fi
        } | sed 's/^/# /'
fi
# meson shows a failed test's stderr, not its TAP: repeat each failed check with its diagnostics
# there, so that a CI log says what failed without the test bed's files.
if [ $failed -ne 0 ] && [ -f "$work/out/tap" ]; then
        awk '/^not ok /{show=1; print; next} /^(ok|not ok) /{show=0} show && /^#/' "$work/out/tap" >&2
fi
if [ $failed -ne 0 ] && [ -f "$work/out/journal.txt" ]; then
        echo "# --- the journal of the boot, portd's units and the runner:"
        grep -E 'portd|testbed' "$work/out/journal.txt" | tail -80 | sed 's/^/# /'
fi
echo "1..$n"
if [ -n "${TESTBED_KEEP:-}" ]; then
        mkdir -p "$TESTBED_KEEP" && cp -r "$work/out/." "$TESTBED_KEEP/"
fi
exit $failed
