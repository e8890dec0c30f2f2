# SPDX-License-Identifier: LGPL-2.1-or-later
# An image builder installs portd into a directory without chrooting into it, as mmdebstrap
# does (DPKG_ROOT=R dpkg --root=R --force-script-chrootless): the maintainer scripts must edit
# R's nsswitch.conf, and never the running system's.

root=$(mktemp -d)
mkdir -p "$root/etc" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
cp /etc/nsswitch.conf "$root/etc/nsswitch.conf"
cp /etc/nsswitch.conf /tmp/nsswitch.running
# R holds only these two packages: their dependencies (libc6 and so on) are not in R's database.
chrootless() {
        DPKG_ROOT=$root dpkg --root="$root" --force-script-chrootless --force-depends "$@"
}

check "a chrootless dpkg -i of both packages" chrootless -i /in/debs/portd.deb /in/debs/libnss-portd.deb
check_eq "R's services: line gets portd" \
        "services:       db portd [!UNAVAIL=return] files" "$(services_line "$root/etc/nsswitch.conf")"
check_same "the running system's nsswitch.conf is untouched" /tmp/nsswitch.running /etc/nsswitch.conf
check "a chrootless dpkg --purge of both" chrootless --purge libnss-portd portd
check_eq "R's services: line is Debian's again" \
        "services:       db files" "$(services_line "$root/etc/nsswitch.conf")"
check_same "the running system's nsswitch.conf is still untouched" /tmp/nsswitch.running /etc/nsswitch.conf
rm -rf "$root" /tmp/nsswitch.running
