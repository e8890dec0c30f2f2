#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the nsswitch.conf editing of libnss-portd's postinst and postrm (debian/nsswitch-edit.sh)
# on copies of realistic files, never on the machine's own: the exact result of adding portd
# and of taking it off again, that adding twice changes nothing, that removing restores the
# file, and the maintainer scripts' own rules (first installation only, the last of several
# architectures, mode and symbolic links kept). Prints TAP.
# Usage: test-debian-nsswitch.sh SOURCE_ROOT
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check bash;
# exec leaves valgrind behind.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_NSSWITCH_REEXEC:-}" ]; then
        PORTD_NSSWITCH_REEXEC=1 exec /bin/bash "$0" "$@"
fi

srcroot=$1
edit=$srcroot/debian/nsswitch-edit.sh
[ -f "$edit" ] || { echo "Bail out! $edit is missing"; exit 1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() {
        n=$((n + 1))
        echo "ok $n - $*"
}
not_ok() {
        n=$((n + 1))
        echo "not ok $n - $*"
        failed=1
}

# Runs one of the functions in a shell of its own, as a maintainer script would.
nss() {
        sh -c '. "$1"; shift; "$@"' sh "$edit" "$@"
}

same() {
        # $1 name, $2 file, $3 expected content (printf format, so \t is a tab)
        # shellcheck disable=SC2059
        printf "$3" >"$tmp/expected"
        if cmp -s "$2" "$tmp/expected"; then
                ok "$1"
        else
                not_ok "$1"
                diff -u "$tmp/expected" "$2" | sed -n '3,$s/^/# /p'
        fi
}

# case NAME INPUT AFTER_ADD AFTER_REMOVE: INPUT and the expectations are printf formats;
# AFTER_REMOVE "=" means the input again, byte for byte.
case_() {
        local name=$1 input=$2 added=$3 removed=$4 f=$tmp/nsswitch.conf
        # shellcheck disable=SC2059
        printf "$input" >"$f"
        nss portd_nss_add "$f" || not_ok "$name: add failed"
        same "$name: add" "$f" "$added"
        nss portd_nss_add "$f" || not_ok "$name: second add failed"
        same "$name: adding again changes nothing" "$f" "$added"
        nss portd_nss_remove "$f" || not_ok "$name: remove failed"
        [ "$removed" = "=" ] && removed=$input
        same "$name: remove" "$f" "$removed"
        nss portd_nss_remove "$f" || not_ok "$name: second remove failed"
        same "$name: removing again changes nothing" "$f" "$removed"
}

entry='portd [!UNAVAIL=return]'

# Debian 12's own file (base-files and libc-bin, with libnss-systemd).
debian_head='# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.
# If you have the `glibc-doc-reference'"'"' and `info'"'"' packages installed, try:
# `info libc "Name Service Switch"'"'"' for information about this file.

passwd:         files systemd
group:          files systemd
shadow:         files
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
'
debian_tail='ethers:         db files
rpc:            db files

netgroup:       nis
'
case_ "Debian 12 default" \
        "${debian_head}services:       db files\n${debian_tail}" \
        "${debian_head}services:       db $entry files\n${debian_tail}" \
        "="

case_ "files only" \
        "services: files\n" \
        "services: $entry files\n" \
        "="

case_ "no blank after the colon" \
        "services:files\n" \
        "services:$entry files\n" \
        "="

case_ "tabs" \
        "hosts:\tfiles dns\nservices:\tdb\tfiles\n" \
        "hosts:\tfiles dns\nservices:\tdb\t$entry files\n" \
        "="

case_ "an action before files" \
        "services:       sss [NOTFOUND=return] files\n" \
        "services:       sss [NOTFOUND=return] $entry files\n" \
        "="

case_ "an action after files" \
        "services: files [NOTFOUND=return] db\n" \
        "services: $entry files [NOTFOUND=return] db\n" \
        "="

case_ "a comment after the sources, naming portd" \
        "services: files # portd would go here\n" \
        "services: $entry files # portd would go here\n" \
        "="

case_ "commented-out lines are left alone" \
        "#services: portd files\n# services: files\nservices: db files\n" \
        "#services: portd files\n# services: files\nservices: db $entry files\n" \
        "="

case_ "a token that only contains files" \
        "services: extrafiles files\n" \
        "services: extrafiles $entry files\n" \
        "="

case_ "no files source: portd goes last" \
        "services: sss\n" \
        "services: sss $entry\n" \
        "="

case_ "no files source and a comment" \
        "services: sss # central\n" \
        "services: sss $entry # central\n" \
        "="

# Glibc uses "files" when there is no services: line; the line added keeps that behind portd,
# and taking portd off leaves that default written out.
case_ "no services line" \
        "passwd: files\nhosts: files dns\n" \
        "passwd: files\nhosts: files dns\nservices:       $entry files\n" \
        "passwd: files\nhosts: files dns\nservices:       files\n"

case_ "portd already there, without an action" \
        "services: portd files\n" \
        "services: portd files\n" \
        "services: files\n"

case_ "portd already there, with another action" \
        "services:\tportd [NOTFOUND=return] files\n" \
        "services:\tportd [NOTFOUND=return] files\n" \
        "services:\tfiles\n"

case_ "portd already there, after files" \
        "services: files portd\n" \
        "services: files portd\n" \
        "services: files\n"

case_ "no newline at the end" \
        "hosts: files\nservices: files" \
        "hosts: files\nservices: $entry files\n" \
        "hosts: files\nservices: files\n"

# Mode and owner stay; a symbolic link stays a link and its target is edited.
f=$tmp/mode.conf
printf 'services: files\n' >"$f"
chmod 0640 "$f"
nss portd_nss_add "$f"
[ "$(stat -c %a "$f")" = 640 ] && ok "the file keeps its mode" || not_ok "mode is now $(stat -c %a "$f")"
printf 'services: files\n' >"$tmp/target.conf"
ln -s target.conf "$tmp/link.conf"
nss portd_nss_add "$tmp/link.conf"
if [ -L "$tmp/link.conf" ] && grep -qxF "services: $entry files" "$tmp/target.conf"; then
        ok "a symbolic link stays one and its target gets portd"
else
        not_ok "symbolic link: $(ls -l "$tmp/link.conf"), target: $(cat "$tmp/target.conf")"
fi
ls "$tmp"/*.portd-new >/dev/null 2>&1 && not_ok "temporary files left behind" || ok "no temporary file left behind"

# A missing file is not created.
if nss portd_nss_add "$tmp/missing.conf" 2>/dev/null && [ ! -e "$tmp/missing.conf" ]; then
        ok "a missing nsswitch.conf is not created"
else
        not_ok "portd_nss_add on a missing file failed or created it"
fi

# NSSWITCH names the file when no argument does.
printf 'services: files\n' >"$tmp/env.conf"
NSSWITCH=$tmp/env.conf nss portd_nss_add
grep -qxF "services: $entry files" "$tmp/env.conf" && ok "NSSWITCH names the file" ||
        not_ok "NSSWITCH was not used: $(cat "$tmp/env.conf")"

# The maintainer scripts as dh_installdeb makes them: the functions in place of the token,
# debhelper's own snippets (none for this package) left out.
for script in postinst postrm; do
        sed -e "/^#NSSWITCH_EDIT#\$/{r $edit" -e 'd}' -e '/^#DEBHELPER#$/d' \
                "$srcroot/debian/libnss-portd.$script" >"$tmp/$script"
done
conf=$tmp/scripts.conf
printf 'services:       db files\n' >"$conf"
NSSWITCH=$conf sh "$tmp/postinst" configure "" &&
        same "postinst configure (first installation) adds portd" "$conf" "services:       db $entry files\n" ||
        not_ok "postinst configure failed"
printf 'services: files\n' >"$conf"
NSSWITCH=$conf sh "$tmp/postinst" configure 0.1 &&
        same "postinst configure on upgrade leaves the line alone" "$conf" "services: files\n" ||
        not_ok "postinst upgrade failed"
printf "services: $entry files\n" >"$conf"
NSSWITCH=$conf sh "$tmp/postinst" abort-upgrade 0.1 &&
        same "postinst abort-upgrade leaves the line alone" "$conf" "services: $entry files\n" ||
        not_ok "postinst abort-upgrade failed"
NSSWITCH=$conf DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=2 sh "$tmp/postrm" remove &&
        same "postrm remove keeps portd while another architecture's module stays" "$conf" "services: $entry files\n" ||
        not_ok "postrm remove (refcount 2) failed"
NSSWITCH=$conf sh "$tmp/postrm" upgrade 0.2 &&
        same "postrm upgrade leaves the line alone" "$conf" "services: $entry files\n" ||
        not_ok "postrm upgrade failed"
NSSWITCH=$conf DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 sh "$tmp/postrm" remove &&
        same "postrm remove takes portd off" "$conf" "services: files\n" ||
        not_ok "postrm remove failed"
printf "services: $entry files\n" >"$conf"
NSSWITCH=$conf sh "$tmp/postrm" purge &&
        same "postrm purge takes portd off" "$conf" "services: files\n" ||
        not_ok "postrm purge failed"
NSSWITCH=$tmp/missing.conf sh "$tmp/postrm" remove && ok "postrm remove with no nsswitch.conf succeeds" ||
        not_ok "postrm remove failed without nsswitch.conf"

echo "1..$n"
exit $failed
