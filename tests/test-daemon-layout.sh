#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon's layout as docs/ARCHITECTURE.md ("Inside the daemon") describes it, checked as text:
# no declared function that nothing calls, the Manager's functions in manager.c only, parameters
# read through the one dispatcher, no stray merge leftovers tracked.
# Usage: test-daemon-layout.sh SOURCE_ROOT
set -u
cd "$1" || { echo "Bail out! no source tree at '$1'"; exit 1; }
for tool in grep sed sort; do
        command -v "$tool" >/dev/null 2>&1 || { echo "Bail out! $tool is needed"; exit 1; }
done
echo "1..4"
N=0
result() { # result WHAT FOUND...
        local what=$1
        shift
        N=$((N + 1))
        if [ $# -eq 0 ]; then echo "ok $N - $what"; else echo "not ok $N - $what: $*"; fi
}

# Every function a header of daemon/ or common/ declares is named again somewhere beyond its
# declaration and its definition (a call, a macro, a table, a test): otherwise it is dead.
unused=()
for f in $(grep -ohE '^[A-Za-z_][A-Za-z0-9_ *]*[ *][a-z_][a-z0-9_]*\(' daemon/*.h common/*.h |
        grep -vE '^(typedef|return|static) ' | sed -E 's/.*[ *]([a-z_][a-z0-9_]*)\($/\1/' | sort -u); do
        n=$(grep -rhw --include='*.c' --include='*.h' -- "$f" daemon common nss client tests bench | grep -c .)
        [ "$n" -ge 3 ] || unused+=("$f")
done
result "every declared function is used" "${unused[@]}"

# A function's prefix says where it lives: manager_ is manager.c's.
misplaced=$(grep -lE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]manager_[a-z0-9_]*\(' daemon/*.c | grep -vx 'daemon/manager.c')
result "manager_* functions are defined in daemon/manager.c only" $misplaced

# The interfaces' parameters are declared in tables for varlink_dispatch(), not read by hand
# (varlink-server.c's own org.varlink.service is the generic server's, and stays as it is).
by_hand=$(grep -lE 'json_object_object_(get_ex|foreach)\(parameters' daemon/*.c |
        grep -vxE 'daemon/varlink-(dispatch|server)\.c')
result "method parameters are read through varlink-dispatch.c only" $by_hand

strays=$(git ls-files 2>/dev/null | grep -E '\.(orig|rej)$|~$')
result "no merge leftovers (*.orig, *.rej, *~) are tracked" $strays
exit 0
