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
        dpkg-dev debhelper build-essential dh-nss systemd-container git linux-perf

# nscd is a peer in bench/ (bench-nss), started there only inside a private mount namespace with
# its own /run/nscd.  Installed, the package would start the machine's own nscd, and every process
# here would then talk to it (passwd, hosts, services): forbid that start while it installs, and
# keep the unit disabled.
policy=/usr/sbin/policy-rc.d
if [ -e "$policy" ]; then
        apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 nscd
else
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 nscd || { rm -f "$policy"; exit 1; }
        rm -f "$policy"
fi
if [ -d /run/systemd/system ]; then
        systemctl disable --now nscd.service >/dev/null 2>&1 || true
fi
