#!/bin/sh
# Runs every portd benchmark in one go against its peers and prints the tables with ratios:
#   bench/run.sh [BUILDDIR]      (as root; on an otherwise idle machine for stable figures)
# docs/BENCHMARKS.md keeps the latest figures and names this command.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ -d "$build" ] || meson setup "$build"
meson compile -C "$build"
data=tests/data

echo "== machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "== catalog: build time, peak memory, in-process lookups (services.iana + 100 drop-ins)"
"$build/bench/bench-catalog" "$data/services.iana" 100
echo
echo "== NSS lookups through glibc: portd's module, the files backend, nscd, a do-nothing module (bench-nss)"
# On one CPU (the last): a measuring process that migrates mid-batch measures the migration.
taskset -c "$(($(nproc) - 1))" "$build/bench/bench-nss" "$build/daemon/portd"
echo
echo "== daemon varlink path: lookups/s over one persistent connection (bench-varlink-lookup)"
for f in netbase iana; do
        "$build/bench/bench-varlink-lookup" "$build/daemon/portd" "$data/services.$f" 3 64
done
echo
echo "== who owns a port: portctl who against ss -p, lsof, fuser (bench-who.sh)"
bench/bench-who.sh "$build"
echo
echo "== load: 200 clients on persistent connections for 30 s, fresh GetSnapshot and List mixed in (load)"
"$build/bench/load" --clients 200 --seconds 30 "$build/daemon/portd" "$data/services.iana"
echo
echo "== owner-query flood: nobody floods io.portd.Sockets for 30 s beside 12,000 sockets, root looks up (bench-flood.sh)"
bench/bench-flood.sh "$build" 30
echo
echo "== following: the worker's CPU while followers watch 10,000 connections and 1,000 listeners (bench-follow.sh)"
bench/bench-follow.sh "$build" 20
