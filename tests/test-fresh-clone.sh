#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The repository stands alone: a clone into an empty directory, with nothing beside it, runs the
# README's two commands.  The first (tools/run-dev.sh) must bring portd up on the system's
# /etc/services in its own ./run; the second (meson test) is run for the unit tests only: the
# whole suite runs in the checkout this test belongs to, and would run this test again.
# It also checks that no file of the repository names a path outside it.
# Usage: test-fresh-clone.sh SOURCE_ROOT          (TAP on stdout)
set -u

src=$1
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
bail() { echo "Bail out! $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP the README's first command installs packages as root"; exit 77; }
command -v git >/dev/null || bail "missing: git"
git -C "$src" rev-parse --git-dir >/dev/null 2>&1 || bail "'$src' is not a git checkout: nothing to clone"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
        echo "# note: the checkout has uncommitted changes; the clone tests HEAD ($(git -C "$src" rev-parse --short HEAD))"

# An empty directory with nothing beside the clone: no neighbouring folder can be read by mistake.
top=$(mktemp -d /var/tmp/portd-clone.XXXXXX) || bail "mktemp failed"
pid=
cleanup() {
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        rm -rf "$top"
}
trap cleanup EXIT
git clone -q "$src" "$top/portd" || bail "git clone '$src' failed"
cd "$top/portd" || bail "no clone"
[ "$(ls -A "$top")" = portd ] && ok "cloned into an empty directory ($top)" || not_ok "the clone's directory holds more than the clone"

# Nothing names the folder beside the checkout that development machines have and clones do not
# (the patterns are assembled so that this file does not match them itself).
up='\.\.'
if out=$(git grep -n -e "$up/shared" -e "'$up' / 'shared'"); then
        not_ok "files name a folder outside the repository: $(echo "$out" | head -3 | tr '\n' ' ')"
else
        ok "no file names a folder outside the repository"
fi

# Command 1: set up, build, run portd on the embedded default.  It stays in the foreground, so it
# runs in the background here, and is asked through its socket and through glibc.
sock=$top/portd/run/io.portd.Services
./tools/run-dev.sh >"$top/run-dev.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
        [ -S "$sock" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
done
if [ -S "$sock" ]; then
        ok "tools/run-dev.sh built portd and it listens on ./run/io.portd.Services"
else
        not_ok "tools/run-dev.sh: no socket after 300 s: $(tail -5 "$top/run-dev.log" | tr '\n' ' ')"
        echo "1..$n"
        exit 1
fi
# The answer must be the system's own: glibc's files backend on /etc/services.
want=$(getent -s services:files services ssh/tcp)
got=$(PORTD_SOCKET=$sock LD_LIBRARY_PATH=$top/portd/build/nss getent -s services:portd services ssh/tcp)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
        ok "getent -s services:portd answers as the files backend: $got"
else
        not_ok "getent through the module: '$got', files: '$want'"
fi
if PORTD_SOCKET=$sock build/client/portctl lookup ssh >"$top/lookup.out" 2>&1; then
        ok "portctl lookup ssh: $(head -1 "$top/lookup.out")"
else
        not_ok "portctl lookup ssh failed: $(cat "$top/lookup.out")"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=

# Command 2, for the unit tests: every suite but those that start daemons, build packages, boot
# a test bed or clone (this test itself).  "--suite portd" would select them all: it is the project's name.
if meson test -C build --num-processes 2 --no-suite integration --no-suite differential \
        --no-suite forking --no-suite units --no-suite install --no-suite package --no-suite docs \
        --no-suite clone --no-suite system >"$top/test.log" 2>&1; then
        ok "meson test (unit tests) in the clone: $(grep -E '^(Ok|Fail|Skipped):' "$top/test.log" | tr -s ' \n' ' ')"
else
        not_ok "meson test in the clone failed: $(grep -E ' (FAIL|ERROR|TIMEOUT) ' "$top/test.log" | head -5 | tr -s ' \n' ' ')"
        # What the failed tests printed, for the log of this test (TAP comments).
        python3 -c 'import json, sys
for line in open("build/meson-logs/testlog.json"):
    t = json.loads(line)
    if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(t["name"], t["result"])
        for out in ("stdout", "stderr"):
            print("\n".join((t.get(out) or "").splitlines()[-25:]))' 2>&1 | sed 's/^/# /' | tee /dev/stderr
fi
if grep -Eq '^Skipped: *[1-9]' "$top/test.log"; then
        not_ok "unit tests skipped in the clone: $(grep -E ' SKIP ' "$top/test.log" | head -5 | tr '\n' ' ')"
else
        ok "no unit test skipped in the clone"
fi
echo "1..$n"
exit $failed
