#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the exposure score "systemd-analyze security" gives portd.service as it would be
# installed. --offline=true (systemd 250 and later) reads the unit file itself, so no running
# systemd is needed. The score must not rise above the one measured when the unit was written
# (2.3, "OK"; see SECURITY CONSIDERATIONS in portd(8)): a change that loosens the sandbox has
# to say so by changing this number.
# Usage: test-security.sh SOURCE_DIR PORTD_BINARY PORTCTL_BINARY
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check the
# shell; exec leaves valgrind behind.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_UNITS_REEXEC:-}" ]; then
        PORTD_UNITS_REEXEC=1 exec /bin/sh "$0" "$@"
fi

srcdir=$1
portd=$2
portctl=$3

# In tenths, as --threshold= takes it: 23 is 2.3.
max_exposure=23

skip() {
        echo "SKIP: $*"
        exit 77
}
# A missing tool or build product is a failure, never a skip: CI installs and builds everything.
missing() {
        echo "FAIL: missing: $*"
        exit 1
}

command -v systemd-analyze >/dev/null 2>&1 || missing "systemd-analyze is not installed"
systemd-analyze security --help 2>/dev/null | grep -q -- '--offline' ||
        skip "systemd-analyze security has no --offline (systemd older than 250)"
[ -x "$portd" ] || missing "the daemon is not built yet ($portd is missing)"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

cp "$srcdir/portd.socket" "$tmp/portd.socket" || exit 1
sed -e "s|@libexecdir@/portd|$portd|g" -e "s|@bindir@/portctl|$portctl|g" "$srcdir/portd.service.in" >"$tmp/portd.service" || exit 1

cd "$tmp" || exit 1
out=$(SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0 systemd-analyze security --offline=true --no-pager \
        --threshold=$max_exposure portd.service 2>&1)
rc=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for portd.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
if [ -z "$score" ]; then
        printf '%s\n' "$out"
        echo "not ok: systemd-analyze security printed no overall exposure level"
        exit 1
fi
if [ $rc -ne 0 ]; then
        # What counts against the unit: the lines marked with a cross, with their weight.
        printf '%s\n' "$out" | grep '✗'
        echo "not ok: exposure $score is above $((max_exposure / 10)).$((max_exposure % 10))"
        exit 1
fi
echo "ok: exposure of portd.service is $score, at most $((max_exposure / 10)).$((max_exposure % 10))"
exit 0
