# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon crashes (SIGSEGV) and systemd restarts it (Restart=on-failure); later the
# administrator stops portd altogether, socket included, and starts it again. No lookup of a
# service in /etc/services fails at any point: the module steps aside (UNAVAIL) and files answers.

getent services http >/dev/null
pid=$(unit_prop portd.service MainPID)
restarts=$(unit_prop portd.service NRestarts)
lookups_start http/tcp ssh/tcp 443/tcp
kill -SEGV "$pid"
wait_until 10 sh -c "[ \"\$(systemctl show -P NRestarts portd.service)\" = $((restarts + 1)) ]"
wait_until 10 getent services fleet-api
check_eq "systemd restarted the crashed daemon" $((restarts + 1)) "$(unit_prop portd.service NRestarts)"
check "the new daemon serves the drop-ins again" getent services fleet-api

check "systemctl stop portd.service portd.socket" systemctl stop portd.service portd.socket
check "the socket is gone" test ! -e /run/portd/io.portd.Services
check "lookups go on from files" getent services http
check "systemctl start portd.socket" systemctl start portd.socket
check "the next lookup starts the daemon and gets its answer" getent services fleet-api
sleep 0.5
check "no lookup failed through the crash, the stop and the start ($(lookups_stop))" lookups_stop
