#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian packages (dpkg-buildpackage -us -uc -b) from a copy of the source tree, for
# tests/test-package.sh, which checks what they hold, and tests/system/, which installs them in
# a booted test bed. The copy leaves out VCS data, build directories and earlier package builds
# (dpkg-buildpackage writes into debian/ and puts the packages beside the source directory).
# Prints the paths of portd_*.deb and libnss-portd_*.deb, one a line; the build log goes to
# OUTDIR/build.log, and its tail to stderr when the build fails.
# Exit status: 0 built, 1 the build failed or a tool or build dependency is missing (named on
# stderr: a failure, never a skip, since CI installs them all).
# Usage: debian-build.sh SOURCE_ROOT OUTDIR
set -u

srcroot=$1
out=$2

for tool in dpkg-buildpackage dpkg-checkbuilddeps dpkg-deb dh; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                echo "missing: $tool is not installed (dpkg-dev, debhelper)" >&2
                exit 1
        fi
done
if ! missing=$(cd "$srcroot" && dpkg-checkbuilddeps -B 2>&1); then
        echo "missing build dependencies: ${missing#*: }" >&2
        exit 1
fi

mkdir -p "$out/src/portd" || exit 1
tar -C "$srcroot" --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
        --exclude=./debian/.debhelper --exclude=./debian/files --exclude='./debian/*.substvars' \
        --exclude='./debian/*.debhelper.log' --exclude=./debian/portd --exclude=./debian/libnss-portd \
        --exclude=./debian/tmp -cf - . | tar -C "$out/src/portd" -xf - || exit 1

# The unit tests ran in the build that runs this already (meson test); "nocheck" keeps them out
# of this one. A sanitizer preload or meson's test settings must not leak into the build.
if ! (cd "$out/src/portd" && env -u LD_PRELOAD -u MAKEFLAGS -u MESON_TESTTHREADS \
        DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
        tail -40 "$out/build.log" >&2
        echo "dpkg-buildpackage failed" >&2
        exit 1
fi

arch=$(dpkg --print-architecture)
version=$(cd "$out/src/portd" && dpkg-parsechangelog -SVersion)
for package in portd libnss-portd; do
        deb=$out/src/${package}_${version}_$arch.deb
        if [ ! -f "$deb" ]; then
                echo "${deb##*/} was not built; there are: $(cd "$out/src" && echo *.deb)" >&2
                exit 1
        fi
        echo "$deb"
done
