#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The short load test: 200 clients for 3 s against the real portd on the IANA file (bench/load.c),
# every answer checked; passes on zero errors, zero wrong answers and a clean exit of the daemon,
# whatever the timing.  Under the valgrind test setup the daemon runs under valgrind instead.
# Usage: integration-load.sh LOAD PORTD SERVICES_FILE

set -u

# Under the valgrind setup this script starts under valgrind; exec leaves it behind, and load
# puts the daemon under valgrind instead (its answers, not the load generator, are under test).
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_INTEGRATION_REEXEC:-}" ]; then
        PORTD_INTEGRATION_REEXEC=1 exec /bin/bash "$0" "$@"
fi

load=${1:?usage: integration-load.sh LOAD PORTD SERVICES_FILE}
portd=${2:?}
data=${3:?}
[ -r "$data" ] || { echo "SKIP: no data file '$data'"; exit 77; }

extra=()
if [ -n "${PORTD_UNDER_VALGRIND:-}" ]; then
        command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
        # A daemon under valgrind serves some fifty times slower: the same clients, longer deadlines.
        extra=(--valgrind --timeout 120)
fi
exec "$load" --clients 200 --seconds 3 "${extra[@]}" "$portd" "$data"
