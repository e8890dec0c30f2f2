#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The NSS module carries only what it runs: nm must find in libnss_portd.so.2 none of the code
# that only the daemon and its tools run (the snapshot writer, the catalog, json-c, the varlink
# server), whose presence would mean the module links common/ whole again.  And its read-only data
# is not executable (-z separate-code, nss/meson.build): only .text and its stubs are; nor is it in
# a read-only segment of its own (nss/nss-portd.ld), which a fresh process's first lookup would
# fault on: it shares the first one with the headers and dynamic symbols that the loader reads.
# And it binds at load none of its own exports (each a lookup through every object before it,
# and a point another object could interpose), nor time() or strlen(), which it does without:
# their IFUNC resolvers would run in every process that loads it.
# Usage: test-nss-symbols.sh path/to/libnss_portd.so.2
set -u
so=$1
for tool in nm readelf; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                echo "Bail out! $tool (binutils) is needed to read the module"
                exit 1
        fi
done
# Every symbol nm sees, local ones included (the module is not stripped in the build tree).
symbols=$(nm --defined-only "$so" | awk '{ print $3 }') || {
        echo "Bail out! nm cannot read '$so'"
        exit 1
}
if [ -z "$symbols" ]; then
        echo "Bail out! '$so' has no symbol table to check"
        exit 1
fi
echo "1..6"
writer=$(printf '%s\n' "$symbols" |
        grep -E '^(snapshot_build|pool_add|pool_rehash|pool_hash|pool_done|index_insert_name|index_insert_port|table_size)(\.|$)')
if [ -z "$writer" ]; then
        echo "ok 1 - no snapshot writer symbol"
else
        echo "not ok 1 - snapshot writer symbols in the module:" $writer
fi
others=$(printf '%s\n' "$symbols" | grep -E '^(catalog_|services_file_|json_object_|varlink_server_|overrides_|scope_)')
if [ -z "$others" ]; then
        echo "ok 2 - no catalog, json-c, varlink server, overrides or scope symbol"
else
        echo "not ok 2 - daemon-only symbols in the module:" $others
fi
# And the reader it does run is there: the check would pass on an empty file otherwise.
if printf '%s\n' "$symbols" | grep -qx 'snapshot_lookup_name' &&
        printf '%s\n' "$symbols" | grep -qx '_nss_portd_getservbyname_r'; then
        echo "ok 3 - the snapshot reader and the entry points are there"
else
        echo "not ok 3 - snapshot_lookup_name or _nss_portd_getservbyname_r missing: is the module stripped?"
fi
# The LOAD segments' address ranges ("start size"), executable ones and read-only ones.  readelf
# prints the flags as separate words ("R E") between the sizes and the alignment.
load_ranges() {
        readelf -lW "$so" | awk -v want="$1" '$1 == "LOAD" {
                f = ""; for (i = 7; i < NF; i++) f = f $i
                if (f == want || (want == "E" && f ~ /E/)) print $3, $6 }'
}
# The sections of the list that lie in one of the ranges.
sections_in() {
        ranges=$1
        shift
        for section in "$@"; do
                addr=$(readelf -SW "$so" | sed 's/^ *\[ *[0-9]*\] *//' | awk -v s="$section" '$1 == s { print $3 }')
                [ -n "$addr" ] || continue
                while read -r start size; do
                        [ -n "$start" ] || continue
                        if [ $((0x$addr)) -ge $((start)) ] && [ $((0x$addr)) -lt $((start + size)) ]; then
                                printf ' %s' "$section"
                        fi
                done <<EOF2
$ranges
EOF2
        done
}
# The executable LOAD segments hold no .rodata, unwind table or dynamic symbols.
exec_ranges=$(load_ranges E)
data_in_exec=$(sections_in "$exec_ranges" .rodata .eh_frame .eh_frame_hdr .dynsym .dynstr .rela.dyn)
if [ -n "$exec_ranges" ] && [ -z "$data_in_exec" ]; then
        echo "ok 4 - the module's read-only data lies outside its executable segment"
else
        echo "not ok 4 - in the executable segment:$data_in_exec (executable LOADs: $(printf '%s' "$exec_ranges" | tr '\n' ';'))"
fi
# One read-only LOAD segment, holding the dynamic symbols, the read-only data and unwind tables.
ro_ranges=$(load_ranges R)
ro_count=$(printf '%s\n' "$ro_ranges" | grep -c .)
in_ro=$(sections_in "$ro_ranges" .dynsym .rodata .eh_frame_hdr .eh_frame)
if [ "$ro_count" -eq 1 ] && [ "$in_ro" = " .dynsym .rodata .eh_frame_hdr .eh_frame" ]; then
        echo "ok 5 - one read-only segment, with the dynamic symbols, .rodata and the unwind tables"
else
        echo "not ok 5 - $ro_count read-only LOAD segments ($(printf '%s' "$ro_ranges" | tr '\n' ';')), holding:$in_ro;" \
                "want one with .dynsym .rodata .eh_frame_hdr .eh_frame"
fi
# What the module has the dynamic linker bind at load.
bound=$(readelf -rW "$so" | awk '$3 ~ /^R_X86_64_(GLOB_DAT|JUMP_SLOT|64)$/ || $3 ~ /^R_(AARCH64|386|ARM)_/ { sub(/@.*/, "", $5); print $5 }')
unwanted=$(printf '%s\n' "$bound" | grep -E '^(_nss_portd_.*|time|strlen)$')
if [ -n "$bound" ] && [ -z "$unwanted" ]; then
        echo "ok 6 - no relocation binds the module's own exports, time() or strlen()"
else
        echo "not ok 6 - bound at load:" $unwanted "(of $(printf '%s\n' "$bound" | grep -c .) symbols)"
fi
