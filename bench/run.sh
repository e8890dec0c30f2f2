#!/bin/sh
# Builds portd and runs its benchmarks: bench/run.sh [BUILDDIR]  (as root, on an idle machine).
# Each benchmark prints its own table; docs/BENCHMARKS.md keeps the figures and this command.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ -d "$build" ] || meson setup "$build"
meson compile -C "$build"

echo "== NSS lookups through glibc: portd's module, the files backend, a do-nothing module (bench-nss)"
"$build/bench/bench-nss" "$build/daemon/portd"
