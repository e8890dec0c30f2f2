#!/bin/sh
# Installs what building and testing portd needs on Debian 12. Used by tools/run-dev.sh and .ci/run.
set -eu
if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: run as root (apt-get install)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q -o DPkg::Lock::Timeout=300
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
        meson ninja-build gcc clang pkg-config \
        libsystemd-dev libjson-c-dev libcmocka-dev \
        valgrind libclang-rt-14-dev \
        mandoc systemd iproute2 util-linux procps psmisc lsof \
        varlink-go python3 hyperfine strace \
        dpkg-dev debhelper build-essential dh-nss systemd-container git
