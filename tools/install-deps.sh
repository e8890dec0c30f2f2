#!/bin/sh
# Installs what building and testing portd needs on Debian 12. Used by tools/run-dev.sh and .ci/run.
# The booted test bed (tests/system) needs systemd-container for systemd-nspawn, dh-nss to build
# the packages, and dbus for the system bus in it (owner queries name socket units over D-Bus).
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
        valgrind libclang-rt-14-dev bash-completion zsh \
        mandoc systemd iproute2 util-linux procps psmisc lsof \
        varlink-go python3 hyperfine strace \
        dpkg-dev debhelper build-essential dh-nss systemd-container dbus git ansible-core python3-apt

# nscd, for the test bed's nscd scenario (tests/system/scenarios/85-nscd.sh), which starts it
# inside the booted test bed only. Installed, the package would start the machine's own nscd, and
# every lookup here would then go through its caches: its start is forbidden while it installs
# (policy-rc.d), and it stays stopped.
if ! dpkg-query -W -f '${Status}' nscd 2>/dev/null | grep -q 'ok installed'; then
        policy=/usr/sbin/policy-rc.d
        if [ -e "$policy" ]; then
                apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 nscd
        else
                printf '#!/bin/sh\nexit 101\n' >"$policy"
                chmod 0755 "$policy"
                apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 nscd || { rm -f "$policy"; exit 1; }
                rm -f "$policy"
        fi
fi
