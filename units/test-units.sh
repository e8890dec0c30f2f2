#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs systemd-analyze verify on portd.socket and portd.service as they would be installed,
# with ExecStart pointing at the built daemon. Any diagnostic is a failure: verify returns 0
# on unknown keys and unparsable values ("..., ignoring"), which are exactly the mistakes
# a unit file makes.
# Usage: test-units.sh SOURCE_DIR PORTD_BINARY PORTCTL_BINARY
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check the
# shell; exec leaves valgrind behind. The daemon's memory is checked by the integration tests.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_UNITS_REEXEC:-}" ]; then
        PORTD_UNITS_REEXEC=1 exec /bin/sh "$0" "$@"
fi

srcdir=$1
portd=$2
portctl=$3

if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "FAIL: systemd-analyze is not installed (Debian package systemd)"
        exit 1
fi
if [ ! -x "$portd" ]; then
        echo "FAIL: the daemon is not built yet ($portd is missing)"
        exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

cp "$srcdir/portd.socket" "$tmp/portd.socket" || exit 1
sed -e "s|@libexecdir@/portd|$portd|g" -e "s|@bindir@/portctl|$portctl|g" "$srcdir/portd.service.in" >"$tmp/portd.service" || exit 1
if grep -n '@[a-z_]*@' "$tmp/portd.service"; then
        echo "unsubstituted placeholder in portd.service.in"
        exit 1
fi

# --man=no: the pages are not installed where man(1) would find them during the build.
# --recursive-errors=no: only our two units count, not what the host's units say.
# --generators=no keeps the host's fstab and friends out of it.
out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no --generators=no \
        --recursive-errors=no "$tmp/portd.socket" "$tmp/portd.service" 2>&1)
rc=$?
if [ -n "$out" ]; then
        printf '%s\n' "$out"
fi
if [ $rc -ne 0 ]; then
        echo "systemd-analyze verify failed with exit status $rc"
        exit 1
fi
if [ -n "$out" ]; then
        echo "systemd-analyze verify printed diagnostics"
        exit 1
fi
echo "systemd-analyze verify: portd.socket and portd.service are clean"

# One socket per interface, in one directory: the daemon gives the one whose name is
# io.portd.Sockets to its owner-query worker, and clients find it beside io.portd.Services.
# FileDescriptorName= would name both alike, which the daemon must not be told to rely on.
listen=$(sed -n 's/^ListenStream=//p' "$tmp/portd.socket")
if [ "$listen" != "/run/portd/io.portd.Services
/run/portd/io.portd.Sockets" ]; then
        echo "portd.socket listens on '$listen', not io.portd.Services and io.portd.Sockets in /run/portd"
        exit 1
fi
if grep -q '^FileDescriptorName=' "$tmp/portd.socket"; then
        echo "portd.socket names its sockets: FileDescriptorName= applies to both alike"
        exit 1
fi
echo "portd.socket: io.portd.Services and io.portd.Sockets, side by side"
exit 0
