# SPDX-License-Identifier: LGPL-2.1-or-later
# An administrator installs portd on a Debian 12 system: the daemon and the NSS module, as apt
# would (dpkg -i of both). The socket listens at once; the daemon waits for its first caller.
# This is the previous build; 80-upgrade upgrades it to this tree's.

check_eq "Debian's own services: line, before" "services:       db files" "$(services_line)"
check "dpkg -i installs portd and libnss-portd" dpkg -i /in/debs/portd-previous.deb /in/debs/libnss-portd-previous.deb
check_eq "libnss-portd puts portd before files" \
        "services:       db portd [!UNAVAIL=return] files" "$(services_line)"
check "portd.socket is enabled" systemctl is-enabled portd.socket
check "portd.socket listens" systemctl is-active portd.socket
check "/run/portd/io.portd.Services is a socket" test -S /run/portd/io.portd.Services
check "/run/portd/io.portd.Sockets is a socket" test -S /run/portd/io.portd.Sockets
check_eq "portd.service waits for the first lookup" inactive "$(systemctl is-active portd.service)"
check "the documentation is in /usr/share/doc/portd" \
        sh -c 'test -f /usr/share/doc/portd/README.md && ls /usr/share/doc/portd/ARCHITECTURE.md*'
check "/etc/services.d is there, with a README saying what goes in it" \
        grep -q 'NAME.conf' /etc/services.d/README
