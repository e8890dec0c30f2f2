#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The NSS module carries only what it runs: nm must find in libnss_portd.so.2 none of the code
# that only the daemon and its tools run (the snapshot writer, the catalog, json-c, the varlink
# server), whose presence would mean the module links common/ whole again.
# Usage: test-nss-symbols.sh path/to/libnss_portd.so.2
set -u
so=$1
if ! command -v nm >/dev/null 2>&1; then
        echo "Bail out! nm (binutils) is needed to list the module's symbols"
        exit 1
fi
# Every symbol nm sees, local ones included (the module is not stripped in the build tree).
symbols=$(nm --defined-only "$so" | awk '{ print $3 }') || {
        echo "Bail out! nm cannot read '$so'"
        exit 1
}
if [ -z "$symbols" ]; then
        echo "Bail out! '$so' has no symbol table to check"
        exit 1
fi
echo "1..3"
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
