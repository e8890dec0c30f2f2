# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator removes the NSS module, changes their mind and installs it again (the
# package was removed, not purged: dpkg state "rc"), then removes portd altogether and purges
# it. Each step leaves the services: line as the installed packages say, and lookups go on
# from /etc/services.

check "dpkg -r libnss-portd" dpkg -r libnss-portd
check_eq "removing the module takes portd off the services: line" \
        "services:       db files" "$(services_line)"
check "getent services http answers from files" getent services http
check "dpkg -i libnss-portd after its removal" dpkg -i /in/debs/libnss-portd.deb
check_eq "installing it again puts portd back" \
        "services:       db portd [!UNAVAIL=return] files" "$(services_line)"

check "dpkg -r libnss-portd portd" dpkg -r libnss-portd portd
check_eq "removing both leaves Debian's line" "services:       db files" "$(services_line)"
check "portd.socket is gone" test ! -e /run/portd/io.portd.Services
check "dpkg --purge libnss-portd portd (after their removal)" dpkg --purge libnss-portd portd
check_eq "purging leaves Debian's line" "services:       db files" "$(services_line)"
check_eq "no package state is left" "" \
        "$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' portd libnss-portd 2>/dev/null | grep -v '^un')"
check "getent services http answers from files" getent services http

# And the shortest path: install, then purge at once.
check "dpkg -i both again" dpkg -i /in/debs/portd.deb /in/debs/libnss-portd.deb
check_eq "portd is on the line again" \
        "services:       db portd [!UNAVAIL=return] files" "$(services_line)"
check "dpkg --purge both at once" dpkg --purge libnss-portd portd
check_eq "purging leaves Debian's line" "services:       db files" "$(services_line)"
check "nothing of the packages is left in /etc" \
        sh -c '! ls -d /etc/nsswitch.conf.nss.* /etc/services.d/README /etc/systemd/system/*/portd.* 2>/dev/null'
