#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian packages (dpkg-buildpackage -us -uc -b) from a copy of the source tree and
# checks what they hold: each file where it belongs and nothing else, no libnss_portd.so link,
# the fields that matter, the units enabled by portd's postinst, and libnss-portd's postinst and
# postrm editing copies of nsswitch.conf (never the machine's) as installing and removing would.
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
/usr/share/bash-completion/completions/portctl
/usr/share/zsh/vendor-completions/_portctl
/etc/services.d/README
/usr/share/doc/portd/changelog.gz
/usr/share/doc/portd/copyright
$(cd "$srcroot" && for doc in README.md docs/*.md; do
        # dh_compress compresses documents larger than 4 KiB.
        [ "$(stat -c %s "$doc")" -gt 4096 ] && doc=$doc.gz
        echo "/usr/share/doc/portd/${doc##*/}"
done)
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

# libnss-portd's maintainer scripts, as built by dh_installnss, on copies of nsswitch.conf below
# DPKG_ROOT (never the machine's): first installation, upgrade, removal of one architecture's
# copy and of the last, on the shapes of services: line an administrator may have.
for script in preinst postinst postrm; do
        [ -f "$tmp/nss.control/$script" ] || not_ok "libnss-portd has no $script"
done
entry='portd [!UNAVAIL=return]'
nss_root=$tmp/root
mkdir -p "$nss_root/etc"
maintscript() {
        DPKG_ROOT=$nss_root DPKG_MAINTSCRIPT_PACKAGE=libnss-portd sh "$tmp/nss.control/$1" "${@:2}"
}
# install_remove NAME LINE EXPECTED [REMOVED]: LINE in a Debian 12 file, installed, then
# removed, which gives LINE back (or REMOVED).
install_remove() {
        local name=$1 line=$2 expected=$3 conf=$nss_root/etc/nsswitch.conf
        local nss_head='passwd:         files systemd\nhosts:          files dns\n' nss_tail='netgroup:       nis\n'
        printf "$nss_head%s\n$nss_tail" "${4:-$line}" >"$tmp/nsswitch.orig"
        printf "$nss_head%s\n$nss_tail" "$line" >"$conf"
        maintscript preinst install && maintscript postinst configure ""
        if [ "$(grep '^services:' "$conf")" = "$expected" ]; then
                ok "$name: installing gives '$expected'"
        else
                not_ok "$name: installing gives '$(grep '^services:' "$conf")', not '$expected'"
        fi
        [ -e "$conf.nss.libnss-portd-will-install" ] && not_ok "$name: the preinst's mark stays"
        DPKG_MAINTSCRIPT_PACKAGE_INSTCOUNT=1 maintscript postrm remove
        [ "$(grep '^services:' "$conf")" = "$expected" ] && ok "$name: removing one of two architectures' copies keeps portd" ||
                not_ok "$name: removing one of two copies changed the line to '$(grep '^services:' "$conf")'"
        DPKG_MAINTSCRIPT_PACKAGE_INSTCOUNT=0 maintscript postrm remove
        cmp -s "$conf" "$tmp/nsswitch.orig" && ok "$name: removing the last copy gives '${4:-$line}'" ||
                not_ok "$name: removing left '$(grep '^services:' "$conf")'"
        DPKG_MAINTSCRIPT_PACKAGE_INSTCOUNT=0 maintscript postrm purge
        cmp -s "$conf" "$tmp/nsswitch.orig" && ok "$name: purging after removal changes nothing" ||
                not_ok "$name: purging changed the file"
}
install_remove "Debian 12's line" "services:       db files" "services:       db $entry files"
install_remove "files only" "services: files" "services: $entry files"
# dh-nss takes portd off with the blank before it: the tab before files becomes a space.
install_remove "tabs" "$(printf 'services:\tdb\tfiles')" "$(printf 'services:\tdb\t%s files' "$entry")" \
        "$(printf 'services:\tdb files')"
install_remove "an action after files" "services: files [NOTFOUND=return] db" \
        "services: $entry files [NOTFOUND=return] db"
install_remove "a comment" "services: files # local" "services: $entry files # local"
install_remove "no files source" "services: sss" "services: sss $entry"
# An upgrade (no preinst "install") leaves the line as the administrator has it.
printf 'services: files\n' >"$nss_root/etc/nsswitch.conf"
maintscript preinst upgrade "$version" && maintscript postinst configure "$version"
[ "$(cat "$nss_root/etc/nsswitch.conf")" = "services: files" ] && ok "an upgrade leaves the line alone" ||
        not_ok "an upgrade changed the line: '$(cat "$nss_root/etc/nsswitch.conf")'"

exit $failed
