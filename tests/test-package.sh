#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian packages (dpkg-buildpackage -us -uc -b) from a copy of the source tree and
# checks what they hold: each file where it belongs and nothing else, no libnss_portd.so link,
# the fields that matter, the units enabled by portd's postinst, and libnss-portd's postinst and
# postrm editing a copy of nsswitch.conf (never the machine's) as installing and removing would.
# Nothing is installed. Slow (a whole build): suite 'package'.
# Usage: test-package.sh SOURCE_ROOT
set -u

skip() {
        echo "SKIP: $*"
        exit 77
}

# debian/rules exports this: a test run inside the package build must not start another one.
[ -z "${PORTD_PACKAGE_BUILD:-}" ] || skip "already inside a package build"
# Under the valgrind setup nothing here would run under valgrind but the shell (which exec
# leaves behind); the build itself is the same as without it.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ]; then
        exec /bin/sh -c 'echo "SKIP: the package build has nothing for valgrind to check"; exit 77'
fi

srcroot=$1

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

failed=0
ok() { echo "ok: $*"; }
not_ok() {
        echo "not ok: $*"
        failed=1
}

echo "building the packages (dpkg-buildpackage -us -uc -b) ..."
debs=$("$srcroot/tests/debian-build.sh" "$srcroot" "$tmp")
case $? in
0) ;;
*)
        echo "not ok: dpkg-buildpackage failed"
        exit 1
        ;;
esac
ok "dpkg-buildpackage -us -uc -b builds the packages"
portd_deb=$(printf '%s\n' "$debs" | grep '/portd_')
nss_deb=$(printf '%s\n' "$debs" | grep '/libnss-portd_')
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(dpkg-deb -f "$portd_deb" Version)

# Files and symbolic links each package holds, as dpkg -c lists them.
contents() {
        dpkg -c "$1" | awk '$1 !~ /^d/ { p = $6; sub(/^\.\//, "/", p); print p }' | sort
}
check_contents() {
        local deb=$1
        contents "$deb" >"$tmp/got"
        sort >"$tmp/want"
        if cmp -s "$tmp/got" "$tmp/want"; then
                ok "${deb##*/} holds exactly its $(wc -l <"$tmp/want") files"
        else
                not_ok "${deb##*/} differs from what it should hold (- expected, + in the package):"
                diff -u "$tmp/want" "$tmp/got" | sed -n '3,$p'
        fi
}
check_contents "$portd_deb" <<EOF
/lib/systemd/system/portd.service
/lib/systemd/system/portd.socket
/usr/bin/portctl
/usr/libexec/portd
/usr/share/doc/portd/changelog.gz
/usr/share/doc/portd/copyright
$(cd "$srcroot/docs" && for page in *.[1-8]; do
        [ "$page" = nss-portd.8 ] || echo "/usr/share/man/man${page##*.}/$page.gz"
done)
EOF
check_contents "$nss_deb" <<EOF
/usr/lib/$multiarch/libnss_portd.so.2
/usr/share/doc/libnss-portd/changelog.gz
/usr/share/doc/libnss-portd/copyright
/usr/share/man/man8/nss-portd.8.gz
EOF
if { dpkg -c "$nss_deb" && dpkg -c "$portd_deb"; } | grep -q 'libnss_portd\.so\( \|$\)'; then
        not_ok "a package ships the libnss_portd.so development link"
else
        ok "no libnss_portd.so development link"
fi

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$nss_deb" Multi-Arch)" = same ] && ok "libnss-portd is Multi-Arch: same" ||
        not_ok "libnss-portd Multi-Arch: '$(field "$nss_deb" Multi-Arch)'"
[ "$(field "$portd_deb" Multi-Arch)" = foreign ] && ok "portd is Multi-Arch: foreign" ||
        not_ok "portd Multi-Arch: '$(field "$portd_deb" Multi-Arch)'"
# dh_shlibdeps read the real dependencies off the binaries.
for dep in libc6 libsystemd0 libjson-c; do
        field "$portd_deb" Depends | grep -q "$dep" && ok "portd depends on $dep" ||
                not_ok "portd does not depend on $dep: '$(field "$portd_deb" Depends)'"
done
nss_depends=$(field "$nss_deb" Depends)
if [[ $nss_depends == *libc6* && $nss_depends != *libsystemd* && $nss_depends != *json-c* ]]; then
        ok "libnss-portd depends on libc6 only: $nss_depends"
else
        not_ok "libnss-portd depends on '$nss_depends' (the module must need nothing but libc)"
fi

dpkg-deb -e "$portd_deb" "$tmp/portd.control" || exit 1
dpkg-deb -e "$nss_deb" "$tmp/nss.control" || exit 1
if grep -q 'deb-systemd-helper.*enable.*portd\.socket' "$tmp/portd.control/postinst" 2>/dev/null; then
        ok "portd's postinst enables portd.socket"
else
        not_ok "portd's postinst does not enable portd.socket"
fi

# libnss-portd's maintainer scripts, as built, on a copy of a Debian 12 nsswitch.conf.
for script in postinst postrm; do
        f=$tmp/nss.control/$script
        if [ ! -f "$f" ]; then
                not_ok "libnss-portd has no $script"
                continue
        fi
        if grep -q '#NSSWITCH_EDIT#\|#DEBHELPER#' "$f"; then
                not_ok "libnss-portd's $script keeps an unsubstituted token"
        fi
        # Run them only if they do nothing else (no snippets debhelper added that would act on
        # this machine).
        if grep -q 'Automatically added by' "$f"; then
                not_ok "libnss-portd's $script has debhelper snippets; not running it here"
                sed -n '/Automatically added by/,/End automatically added/p' "$f"
        fi
done
if [ $failed -eq 0 ]; then
        conf=$tmp/nsswitch.conf
        cat >"$conf" <<'EOF'
passwd:         files systemd
group:          files systemd
hosts:          files dns
services:       db files
netgroup:       nis
EOF
        cp "$conf" "$tmp/nsswitch.orig"
        NSSWITCH=$conf sh "$tmp/nss.control/postinst" configure ""
        if grep -qx 'services:       db portd \[!UNAVAIL=return\] files' "$conf"; then
                ok "postinst configure puts portd before files"
        else
                not_ok "postinst configure: '$(grep services: "$conf")'"
        fi
        # An upgrade leaves the line as the administrator has it.
        printf 'services: files\n' >"$tmp/upgraded"
        NSSWITCH=$tmp/upgraded sh "$tmp/nss.control/postinst" configure "$version"
        [ "$(cat "$tmp/upgraded")" = "services: files" ] && ok "postinst on upgrade leaves the line alone" ||
                not_ok "postinst on upgrade changed the line: '$(cat "$tmp/upgraded")'"
        # Another architecture's copy stays installed: the line keeps portd.
        cp "$conf" "$tmp/before-remove"
        NSSWITCH=$conf DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=2 sh "$tmp/nss.control/postrm" remove
        cmp -s "$conf" "$tmp/before-remove" && ok "postrm remove keeps portd while another architecture's module stays" ||
                not_ok "postrm remove with a reference count of 2 changed the file"
        NSSWITCH=$conf DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 sh "$tmp/nss.control/postrm" remove
        cmp -s "$conf" "$tmp/nsswitch.orig" && ok "postrm remove restores the file byte for byte" ||
                not_ok "postrm remove left: '$(grep services: "$conf")'"
        NSSWITCH=$conf sh "$tmp/nss.control/postrm" purge
        cmp -s "$conf" "$tmp/nsswitch.orig" && ok "postrm purge after remove changes nothing" ||
                not_ok "postrm purge changed the file"
fi

exit $failed
