#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The short load test: 200 clients for 3 s against the real portd on the IANA file (bench/load.c),
# every answer checked; passes on zero errors, zero wrong answers and a clean exit of the daemon,
# whatever the timing.  Under the valgrind test setup the daemon runs under valgrind instead.
# Usage: integration-load.sh LOAD PORTD SERVICES_FILE

set -u

# Under the valgrind setup the library's re-exec leaves valgrind behind, and load puts the daemon
# under valgrind instead (its answers, not the load generator, are under test).
. "$(dirname "$0")/integration-lib.sh"

load=${1:?usage: integration-load.sh LOAD PORTD SERVICES_FILE}
portd=${2:?}
data=${3:?}
[ -r "$data" ] || missing "no data file '$data'"

extra=()
if [ -n "${PORTD_UNDER_VALGRIND:-}" ]; then
        need_tool valgrind
        # A daemon under valgrind serves some fifty times slower: the same clients, longer deadlines.
        extra=(--valgrind --timeout 120)
fi
exec "$load" --clients 200 --seconds 3 "${extra[@]}" "$portd" "$data"
