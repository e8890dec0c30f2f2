#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs in the booted test bed (portd-testbed.service, started after multi-user.target): each
# scenario in /in/scenarios in lexical order, each in a bash of its own with lib.sh's helpers,
# appending its TAP lines to /out/tap. A scenario starts from the system the ones before left:
# together they tell one story, from installing portd to removing it. When all have run, the
# journal goes to /out/journal.txt and /out/done says the runner reached its end; the unit's
# ExecStopPost= then powers the test bed off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8

: >/out/tap
for scenario in /in/scenarios/*.sh; do
        name=${scenario##*/}
        name=${name%.sh}
        # testbed.sh numbers the copies of the scenarios TESTBED_SCENARIOS names, to keep their order.
        [[ $name != [0-9][0-9][0-9]-* ]] || name=${name#???-}
        echo "=== $name ($(date +%T))"
        echo "# $name" >>/out/tap
        # A scenario that hangs must not take the others' time: two minutes each at most.
        TESTBED_SCENARIO=$name timeout --kill-after=5 120 \
                bash -c '. /in/lib.sh && . "$1"' "$name" "$scenario"
        rc=$?
        if [ $rc -ne 0 ]; then
                echo "not ok - $name: ran to its end (exit status $rc; 124: timed out)" >>/out/tap
        fi
done
journalctl -b --no-pager -o short-monotonic >/out/journal.txt 2>&1
touch /out/done
