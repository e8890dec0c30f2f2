#!/bin/sh
# Sets up a fresh Debian 12 machine, builds portd and runs it on an embedded default: its own
# runtime directory (./run), the system's /etc/services, nothing installed. Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
./tools/install-deps.sh
[ -d build ] || meson setup build
meson compile -C build
mkdir -p run
sock="$top/run/io.portd.Services"
echo "portd: serving the system's /etc/services on $sock"
echo "try:   PORTD_SOCKET=$sock build/client/portctl lookup ssh"
echo "       LD_LIBRARY_PATH=$top/build/nss PORTD_SOCKET=$sock getent -s services:portd services http"
exec build/daemon/portd --socket "$sock"
