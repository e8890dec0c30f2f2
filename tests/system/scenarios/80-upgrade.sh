# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator upgrades portd to the new build while programs keep looking services up:
# the daemon restarts onto the new binary, portd.socket never stops listening (connections
# queue in it while the daemon restarts), no lookup fails, and the services: line stays as it
# was.

getent services http >/dev/null
old_pid=$(unit_prop portd.service MainPID)
socket_since=$(unit_prop portd.socket ActiveEnterTimestampMonotonic)
line=$(services_line)
# http is in /etc/services; fleet-api only in a drop-in, which only portd serves.
mkdir -p /etc/services.d
echo "fleet-api 8443/tcp" >/etc/services.d/50-fleet.conf
wait_until 5 getent services fleet-api
lookups_start http/tcp fleet-api/tcp 8443/tcp
check "dpkg -i upgrades both packages to the new build" \
        dpkg -i /in/debs/portd.deb /in/debs/libnss-portd.deb
sleep 0.5
check "no lookup failed during the upgrade ($(lookups_stop))" lookups_stop
check_eq "portd is the new build" "$(dpkg-deb -f /in/debs/portd.deb Version)" \
        "$(dpkg-query -W -f '${Version}' portd)"
new_pid=$(unit_prop portd.service MainPID)
if [ "$new_pid" != 0 ] && [ "$new_pid" != "$old_pid" ]; then
        ok "portd.service restarted onto the new binary (pid $old_pid, now $new_pid)"
else
        not_ok "portd.service was not restarted (pid $old_pid, now $new_pid)"
fi
check_eq "portd.socket kept listening (not restarted)" "$socket_since" \
        "$(unit_prop portd.socket ActiveEnterTimestampMonotonic)"
check_eq "the services: line is as it was" "$line" "$(services_line)"
check "the new daemon answers for the drop-in" getent services fleet-api
rm -f /etc/services.d/50-fleet.conf
