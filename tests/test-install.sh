#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks what "meson install" puts where: installed into a scratch DESTDIR, the tree must hold
# exactly the NSS module (libnss_portd.so.2, no .so symlink), the daemon in libexecdir, portctl
# in bindir, the two units in systemd's unit directory with ExecStart= naming the installed
# daemon, the man pages and portctl's bash and zsh completion, and nothing else; the installed programs must run from there and
# answer through the installed module. A second, configured-only build directory checks that
# the unit directory follows --prefix and -Dsystemdsystemunitdir=.
# Usage: test-install.sh SOURCE_ROOT BUILD_ROOT BINDIR LIBDIR LIBEXECDIR MANDIR UNITDIR BASHCOMPDIR ZSHCOMPDIR PAGE...
# (directories absolute, as configured, a completion directory "no" for none; PAGE the man pages
# docs/meson.build installs).
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check bash;
# exec leaves valgrind behind.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_INSTALL_REEXEC:-}" ]; then
        PORTD_INSTALL_REEXEC=1 exec /bin/bash "$0" "$@"
fi

srcroot=$1
buildroot=$2
bindir=$3
libdir=$4
libexecdir=$5
mandir=$6
unitdir=$7
bashcompdir=$8
zshcompdir=$9
shift 9
# The rest: man pages by name, portd.8 and so on.
pages=("$@")

skip() {
        echo "SKIP: $*"
        exit 77
}

command -v meson >/dev/null 2>&1 || { echo "FAIL: meson is not on PATH"; exit 1; }

tmp=$(mktemp -d) || exit 1
chmod 0755 "$tmp"
daemon_pid=""
cleanup() {
        [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
ok() { echo "ok: $*"; }
not_ok() {
        echo "not ok: $*"
        failed=1
}

dest=$tmp/dest
# --no-rebuild: meson test built everything already, and a second ninja in the same build
# directory would wait on the first one's lock.
if ! meson install -C "$buildroot" --no-rebuild --destdir "$dest" --quiet >"$tmp/install.log" 2>&1; then
        cat "$tmp/install.log"
        echo "not ok: meson install failed"
        exit 1
fi

# The whole installed tree, files and symbolic links, against what it must be.
(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/installed"
grep -v '^$' <<EOF | sort >"$tmp/expected"
$bindir/portctl
$libdir/libnss_portd.so.2
$libexecdir/portd
$unitdir/portd.service
$unitdir/portd.socket
$([ "$bashcompdir" = no ] || echo "$bashcompdir/portctl")
$([ "$zshcompdir" = no ] || echo "$zshcompdir/_portctl")
$(for page in "${pages[@]}"; do echo "$mandir/man${page##*.}/$page"; done)
EOF
if cmp -s "$tmp/installed" "$tmp/expected"; then
        ok "meson install installs exactly the $(wc -l <"$tmp/expected") expected files"
else
        not_ok "the installed files differ from the expected ones (- expected, + installed):"
        diff -u "$tmp/expected" "$tmp/installed" | sed -n '3,$p'
fi

module=$dest$libdir/libnss_portd.so.2
if [ -f "$module" ] && [ ! -L "$module" ]; then
        ok "libnss_portd.so.2 is a regular file in $libdir"
else
        not_ok "libnss_portd.so.2 is missing from $libdir or is a symbolic link"
fi
links=$(find "$dest" -name 'libnss_portd.so*' ! -name 'libnss_portd.so.2')
if [ -z "$links" ]; then
        ok "no libnss_portd.so development link or other variant"
else
        not_ok "unexpected module files: $links"
fi
for exe in "$libexecdir/portd" "$bindir/portctl"; do
        if [ -f "$dest$exe" ] && [ -x "$dest$exe" ]; then
                ok "$exe is an executable file"
        else
                not_ok "$exe is not an executable file"
        fi
done

# Install strips the build tree's run path; nothing installed may point back into it.
if command -v readelf >/dev/null 2>&1; then
        for f in "$libexecdir/portd" "$bindir/portctl" "$libdir/libnss_portd.so.2"; do
                if readelf -d "$dest$f" 2>/dev/null | grep -E 'RPATH|RUNPATH' | grep -q "$buildroot"; then
                        not_ok "$f keeps a run path into the build directory"
                else
                        ok "$f has no run path into the build directory"
                fi
        done
fi

exec_start=$(sed -n 's/^ExecStart=//p' "$dest$unitdir/portd.service")
if [ "$exec_start" = "$libexecdir/portd" ]; then
        ok "portd.service starts the installed daemon, $exec_start"
else
        not_ok "portd.service has ExecStart=$exec_start, the daemon is installed as $libexecdir/portd"
fi
if grep -n '@[a-z_]*@' "$dest$unitdir/portd.service"; then
        not_ok "unsubstituted placeholder in the installed portd.service"
fi
# The installed programs, as installed: --version, --help, and one lookup answered by the
# installed daemon through the installed portctl and, with glibc, the installed module.
if out=$("$dest$libexecdir/portd" --version 2>&1) && [[ $out == portd\ * ]]; then
        ok "installed portd --version: $out"
else
        not_ok "installed portd --version: '$out'"
fi
if "$dest$bindir/portctl" --help 2>&1 | grep -q '^Usage: portctl'; then
        ok "installed portctl --help"
else
        not_ok "installed portctl --help prints no usage"
fi
mkdir -p "$tmp/root/etc" || exit 1
printf 'fleet-api\t8443/tcp\tapi\n' >"$tmp/root/etc/services"
sock=$tmp/portd.sock
"$dest$libexecdir/portd" --root "$tmp/root" --socket "$sock" 2>"$tmp/portd.log" &
daemon_pid=$!
for _ in $(seq 100); do
        [ -S "$sock" ] && break
        sleep 0.05
done
out=$("$dest$bindir/portctl" --socket "$sock" lookup api tcp 2>&1)
if [[ $out =~ fleet-api\ +8443/tcp ]]; then
        ok "installed portctl asks the installed portd"
else
        not_ok "installed portctl lookup: '$out'"
        cat "$tmp/portd.log"
fi
if command -v getent >/dev/null 2>&1; then
        out=$(LD_LIBRARY_PATH=$dest$libdir PORTD_SOCKET=$sock getent -s services:portd services api 2>&1)
        if [[ $out =~ fleet-api\ +8443/tcp ]]; then
                ok "getent answers through the installed libnss_portd.so.2"
        else
                not_ok "getent -s services:portd through the installed module: '$out'"
        fi
fi
kill "$daemon_pid" 2>/dev/null
wait "$daemon_pid" 2>/dev/null
daemon_pid=""

# The unit directory follows the prefix, and -Dsystemdsystemunitdir= wins; configuring is
# enough to see where meson would install them.
unit_dest() {
        meson introspect "$1" --installed 2>/dev/null |
                python3 -c 'import json, sys; print(" ".join(sorted(v for v in json.load(sys.stdin).values() if v.endswith("/portd.socket"))))'
}
if command -v python3 >/dev/null 2>&1; then
        if meson setup --prefix=/opt/portd-test "$tmp/b1" "$srcroot" >"$tmp/setup.log" 2>&1; then
                where=$(unit_dest "$tmp/b1")
                case $where in
                /opt/portd-test/*/systemd/system/portd.socket) ok "--prefix=/opt/portd-test puts the units in $where" ;;
                *) not_ok "--prefix=/opt/portd-test puts the units in '$where'" ;;
                esac
        else
                not_ok "meson setup --prefix=/opt/portd-test failed: $(tail -5 "$tmp/setup.log")"
        fi
        if meson setup --prefix=/usr -Dsystemdsystemunitdir=/lib/systemd/system "$tmp/b2" "$srcroot" \
                >"$tmp/setup.log" 2>&1; then
                where=$(unit_dest "$tmp/b2")
                if [ "$where" = /lib/systemd/system/portd.socket ]; then
                        ok "-Dsystemdsystemunitdir=/lib/systemd/system puts the units there"
                else
                        not_ok "-Dsystemdsystemunitdir=/lib/systemd/system puts the units in '$where'"
                fi
        else
                not_ok "meson setup -Dsystemdsystemunitdir= failed: $(tail -5 "$tmp/setup.log")"
        fi
fi

exit $failed
