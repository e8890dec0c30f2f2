# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator adds a drop-in for the fleet's API port. The first program that looks a
# service up starts the daemon through portd.socket and gets its answer from it, drop-in
# included; the daemon told systemd it is ready (Type=notify: the unit is "active" only after
# READY=1) and what it serves (STATUS=).  Owner queries go to /run/portd/io.portd.Sockets, which
# the owner-query worker accepts on: the main process holds no descriptor of it.

mkdir -p /etc/services.d
echo "fleet-api 8443/tcp api   # the fleet's API" >/etc/services.d/50-fleet.conf
check_eq "portd.service is not running before the first lookup" inactive \
        "$(systemctl is-active portd.service)"
check_eq "the first lookup is answered by portd, drop-in included" \
        "fleet-api             8443/tcp api" "$(getent services fleet-api)"
check_eq "the first lookup started portd.service" active "$(systemctl is-active portd.service)"
check_eq "portd.service is Type=notify" notify "$(unit_prop portd.service Type)"
check_eq "portd.service was activated by portd.socket" portd.socket \
        "$(unit_prop portd.service TriggeredBy)"
status=$(unit_prop portd.service StatusText)
check "its status text says what it serves: '$status'" \
        grep -Eq '^Serving [0-9]+ services from 2 sources \(generation [0-9]+\)$' <<<"$status"
check_eq "the daemon runs with the sandbox of the unit (NoNewPrivs)" 1 \
        "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$(unit_prop portd.service MainPID)/status")"
main=$(unit_prop portd.service MainPID)
# who :1 exits 2 when nobody owns the port: an answer; 1 is no answer.
check "portctl who answers over /run/portd/io.portd.Sockets" sh -c 'portctl who :1 >/dev/null 2>&1; [ $? -ne 1 ]'
holders=$(ss -xlpH | grep ' /run/portd/io.portd.Sockets ')
check "the owner-query worker listens on io.portd.Sockets: $holders" grep -q '"portd-owner"' <<<"$holders"
check "the main process (PID $main) holds no descriptor of it" sh -c 'case "$2" in *"pid=$1,"*) exit 1 ;; esac' sh "$main" "$holders"
# Root's owner queries have a socket of their own, so that no user's connections queue ahead of
# root's; the daemon binds it (only root may connect), and the worker alone accepts on it.
check_eq "/run/portd/io.portd.Sockets.root is root's alone" "socket 600 0" \
        "$(stat -c '%F %a %u' /run/portd/io.portd.Sockets.root 2>&1)"
# ss names a socket by the path it was bound to: the daemon binds a temporary name beside the
# socket and renames it into place.
root_holders=$(ss -xlpH | grep -E ' /run/portd/io\.portd\.Sockets\.root(\.[0-9a-f]+)? ')
check "the owner-query worker listens on io.portd.Sockets.root: $root_holders" grep -q '"portd-owner"' <<<"$root_holders"
check "the main process (PID $main) holds no descriptor of io.portd.Sockets.root" sh -c 'case "$2" in *"pid=$1,"*) exit 1 ;; esac' sh "$main" "$root_holders"
check "root's portctl who connects to io.portd.Sockets.root" sh -c \
        'strace -f -e trace=connect portctl who :1 2>&1 >/dev/null | grep -q "\"/run/portd/io.portd.Sockets.root\"}, [0-9]*) = 0"'
