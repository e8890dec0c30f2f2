#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Integration tests of the fleet features against the real daemon on a temporary --root: who may
# edit local overrides (root, groups from portd.conf), where they are kept and for how long, what a
# failed write (disk full, read-only /etc) leaves behind, the digest across file layouts, the
# services(5) export checked against glibc's files backend, and portctl verify in a configuration
# repository's shape.
# Usage: integration-fleet.sh SCENARIO [ARGS]; PORTD, PORTCTL, NSS_DIR and DATA_DIR in the environment.
# Exit 0 pass, 1 fail, 77 skip (a privilege the machine lacks; a missing tool or file fails).

set -u

. "$(dirname "$0")/integration-lib.sh"

scenario=${1:?usage: integration-fleet.sh SCENARIO}
shift

: "${PORTD:?}" "${PORTCTL:?}" "${DATA_DIR:?}"
NSS_DIR=${NSS_DIR:-}

# The write-failure scenario mounts file systems below its --root: it runs in a mount namespace
# of its own, so that nothing it mounts outlives it or shows on the host.
if [ "$scenario" = write-failures ] && [ -z "${FLEET_IN_MOUNT_NS:-}" ]; then
        need_mount_ns "mounting a small tmpfs and a read-only bind mount needs root"
        FLEET_IN_MOUNT_NS=1 exec unshare -m --propagation private /bin/bash "$0" "$scenario" "$@"
fi

make_test_dir fleet
MOUNTS=()

cleanup() {
        stop_daemon quiet
        local m
        for m in "${MOUNTS[@]}"; do
                umount -l "$m" 2>/dev/null
        done
        rm -rf "$TMP"
}

need_root() {
        [ "$(id -u)" -eq 0 ] || skip "$1"
}

# portctl reading files itself (no daemon), under valgrind in the valgrind test setup.
offline_portctl() {
        "${valgrind_wrap[@]}" "$PORTCTL" "$@"
}

as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTCTL" --socket "$SOCK" "$@"
}

# As nobody, with one supplementary group.
as_member() {
        local gid=$1
        shift
        setpriv --reuid=65534 --regid=65534 --groups="$gid" "$PORTCTL" --socket "$SOCK" "$@"
}

# An existing group of the host that nobody (65534) is not in: portd.conf names it, the test gives
# it to an unprivileged process with setpriv.  Nothing is added to /etc/group.
pick_group() {
        local g
        for g in staff users adm; do
                if getent group "$g" >/dev/null; then
                        GROUP_NAME=$g
                        GROUP_GID=$(getent group "$g" | cut -d: -f3)
                        return 0
                fi
        done
        missing "a group 'staff', 'users' or 'adm' to test group access with"
}

# ---- scenarios ----

# Root edits; others are refused with a message that names what they need; the groups that
# portd.conf names may edit too, by name or by number, and a change of portd.conf applies without
# a restart; unknown keys are reported with file:line.
scenario_access() {
        need_root "testing access needs root (and an unprivileged user to refuse)"
        need_tool setpriv
        need_tool getent
        pick_group
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        start_daemon

        local out rc
        out=$(portctl set fleetsvc 41000/tcp)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" =~ fleetsvc\ +41000/tcp ]] && pass "root sets an override" || fail "root set: exit $rc, '$out'"

        out=$(as_nobody set fleetsvc 41001/tcp 2>&1)
        rc=$?
        if [ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ "$out" == *"permission denied"*"only root may edit local overrides"*"portd.conf"* ]]; then
                pass "an unprivileged set is refused in one line naming what is needed (exit 1)"
        else
                fail "unprivileged set: exit $rc, '$out'"
        fi
        out=$(as_member "$GROUP_GID" unset fleetsvc 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"permission denied"* ]] && pass "a group member is refused while portd.conf names no group" ||
                fail "member before portd.conf: exit $rc, '$out'"

        mkdir -p "$ROOT/etc/portd"
        printf '# test\n[Overrides]\nGroup=%s no-such-group-fleet\nGrup=typo\n' "$GROUP_NAME" >"$ROOT/etc/portd/portd.conf"
        if wait_for_output 2000 'fleetsvc +41002/tcp' as_member "$GROUP_GID" set fleetsvc 41002/tcp; then
                pass "a member of Group=$GROUP_NAME may set once portd.conf names it (no restart)"
        else
                fail "a member of the group named in portd.conf cannot set"
        fi
        out=$(portctl lookup fleetsvc)
        [[ "$out" =~ fleetsvc\ +41002/tcp ]] && pass "the member's override is served" || fail "after the member's set: '$out'"
        out=$(as_nobody set fleetsvc 41003/tcp 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"only root and members of the groups '$GROUP_NAME' may edit"* ]] &&
                pass "a non-member is refused with the groups named" || fail "non-member: exit $rc, '$out'"
        out=$(as_member "$GROUP_GID" unset fleetsvc)
        rc=$?
        [ "$rc" -eq 0 ] && pass "a member may unset" || fail "member unset: exit $rc, '$out'"
        grep -q "/etc/portd/portd.conf:4: unknown key 'Grup' in section \[Overrides\], ignoring" "$LOG" &&
                pass "an unknown key is logged with file:line" || fail "no file:line warning for the unknown key"
        grep -q "Group=no-such-group-fleet: no such group, ignoring" "$LOG" &&
                pass "an unknown group is logged" || fail "no warning for the unknown group"

        # By number, and taken away again.
        printf '[Overrides]\nGroup=%s\n' "$GROUP_GID" >"$ROOT/etc/portd/portd.conf"
        if wait_for_output 2000 'fleetsvc +41004/tcp' as_member "$GROUP_GID" set fleetsvc 41004/tcp; then
                pass "Group= takes a numeric GID"
        else
                fail "Group=$GROUP_GID does not let the member set"
        fi
        rm "$ROOT/etc/portd/portd.conf"
        # Probed with an unset of a name that has no override: allowed it changes nothing (exit 2).
        if wait_for_output 2000 'permission denied' as_member "$GROUP_GID" unset no-such-override; then
                pass "without portd.conf the member is refused again (no restart)"
        else
                fail "the member may still set after portd.conf is gone"
        fi
        out=$(portctl lookup fleetsvc)
        [[ "$out" =~ fleetsvc\ +41004/tcp ]] && pass "the refused calls changed nothing" || fail "after refusals: '$out'"

        # The primary group counts as well as the supplementary ones.
        printf '[Overrides]\nGroup=%s\n' "$GROUP_NAME" >"$ROOT/etc/portd/portd.conf"
        if wait_for_output 2000 'fleetsvc +41006/tcp' setpriv --reuid=65534 --regid="$GROUP_GID" --clear-groups \
                "$PORTCTL" --socket "$SOCK" set fleetsvc 41006/tcp; then
                pass "a caller whose primary group is named may set"
        else
                fail "the primary group does not count"
        fi
        finish
}

# Persistent by default, in /etc/portd, across restarts; --runtime in /run/portd only, and gone
# with /run (a reboot); explain shows both.
scenario_persistence() {
        need_root "setting overrides needs root"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        start_daemon

        local out rc before
        out=$(portctl set pers 42000/tcp palias --json)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" == *'"file":"/etc/portd/overrides.conf"'* ]] &&
                pass "set is persistent by default (/etc/portd/overrides.conf)" || fail "default set: exit $rc, '$out'"
        [ -f "$ROOT/etc/portd/overrides.conf" ] && [ ! -e "$ROOT/run/portd/overrides.conf" ] &&
                pass "the default set wrote /etc/portd and nothing in /run/portd" || fail "files after a default set: $(ls -R "$ROOT/etc/portd" "$ROOT/run/portd" 2>&1)"
        [ "$(stat -c %a "$ROOT/etc/portd")" = 755 ] && [ "$(stat -c %a "$ROOT/etc/portd/overrides.conf")" = 644 ] &&
                pass "/etc/portd is 0755, the file 0644" || fail "modes: $(stat -c '%n %a' "$ROOT/etc/portd" "$ROOT/etc/portd/overrides.conf")"

        before=$(cat "$ROOT/etc/portd/overrides.conf")
        out=$(portctl set --runtime pers 42001/tcp --json)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" == *'"file":"/run/portd/overrides.conf"'* ]] &&
                pass "set --runtime writes /run/portd/overrides.conf" || fail "runtime set: exit $rc, '$out'"
        [ "$(cat "$ROOT/etc/portd/overrides.conf")" = "$before" ] &&
                pass "--runtime left /etc/portd/overrides.conf untouched" || fail "--runtime changed the persistent file"
        ! grep -q 42001 "$ROOT/etc/portd/overrides.conf" && grep -q '^pers 42001/tcp$' "$ROOT/run/portd/overrides.conf" &&
                pass "the runtime entry is only under /run" || fail "runtime entry misplaced"
        out=$(portctl lookup pers tcp)
        [[ "$out" =~ pers\ +42001/tcp ]] && pass "the runtime override wins over the persistent one" || fail "lookup: '$out'"

        out=$("$PORTCTL" explain --root "$ROOT" pers/tcp)
        if [[ "$out" =~ wins\ +pers\ 42001/tcp.*$ROOT/run/portd/overrides.conf:[0-9]+ ]] &&
                [[ "$out" =~ replaced\ +pers\ 42000/tcp\ palias.*$ROOT/etc/portd/overrides.conf:[0-9]+ ]]; then
                pass "portctl explain shows the runtime override winning over the persistent one"
        else
                fail "explain: '$out'"
        fi

        stop_daemon quiet
        start_daemon
        out=$(portctl lookup pers tcp)
        [[ "$out" =~ pers\ +42001/tcp ]] && pass "both overrides survive a restart of the daemon" || fail "after restart: '$out'"

        # A reboot empties /run: only the persistent override is left.
        stop_daemon quiet
        rm -rf "$ROOT/run"
        start_daemon
        out=$(portctl lookup palias tcp)
        [[ "$out" =~ pers\ +42000/tcp\ +palias\ +/etc/portd/overrides.conf ]] &&
                pass "after /run is gone (a reboot) the persistent override answers" || fail "after 'reboot': '$out'"

        out=$(portctl unset pers)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" == *"Removed 1 override of 'pers' (persistent)"* ]] &&
                pass "unset removes the persistent override by default" || fail "unset: exit $rc, '$out'"
        portctl lookup pers >/dev/null
        rc=$?
        [ "$rc" -eq 2 ] && pass "the name is gone after unset (exit 2)" || fail "lookup after unset: exit $rc"
        portctl unset --runtime pers >/dev/null 2>&1
        rc=$?
        [ "$rc" -eq 2 ] && pass "unset --runtime of nothing exits 2" || fail "unset --runtime of nothing: exit $rc"
        finish
}

# Disk full and read-only /etc: the edit fails with the reason, the old file stays byte for byte,
# no temporary file is left, the daemon serves what it served.  (Runs in its own mount namespace.)
scenario_write_failures() {
        need_root "mounting needs root"
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        mkdir -p "$ROOT/etc/portd"
        mount -t tmpfs -o size=16k,mode=0755 portd-fleet-test "$ROOT/etc/portd" || skip "cannot mount a tmpfs"
        MOUNTS+=("$ROOT/etc/portd")
        start_daemon

        local out rc saved gen
        portctl set wf 43000/tcp wfalias >/dev/null || fail "the first set on the small tmpfs failed"
        saved=$TMP/overrides.saved
        cp "$ROOT/etc/portd/overrides.conf" "$saved"
        # Fill it up: dd stops at ENOSPC.  Without the sanitizer runtime an ASan build preloads: dd's
        # aligned_alloc() trips over it.
        env -u LD_PRELOAD dd if=/dev/zero of="$ROOT/etc/portd/filler" bs=1k 2>/dev/null
        [ "$(df --output=avail "$ROOT/etc/portd" | tail -1 | tr -d ' ')" = 0 ] || fail "could not fill the tmpfs: $(df "$ROOT/etc/portd")"
        gen=$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')

        out=$(portctl set wf 43001/tcp 2>&1)
        rc=$?
        if [ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ "$out" == *"No space left on device"* ]]; then
                pass "set on a full disk fails with ENOSPC in one line (exit 1)"
        else
                fail "set on a full disk: exit $rc, '$out'"
        fi
        out=$(portctl unset wf 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"No space left on device"* ]] && pass "unset on a full disk fails with ENOSPC" ||
                fail "unset on a full disk: exit $rc, '$out'"
        cmp -s "$saved" "$ROOT/etc/portd/overrides.conf" && pass "the override file is intact, byte for byte" ||
                fail "the override file changed: $(cat "$ROOT/etc/portd/overrides.conf")"
        out=$(ls -A "$ROOT/etc/portd" | tr '\n' ' ')
        [ "$out" = "filler overrides.conf " ] && pass "no temporary file is left" || fail "files left: $out"
        out=$(portctl lookup wfalias tcp)
        [[ "$out" =~ wf\ +43000/tcp ]] && pass "lookups answer as before" || fail "lookup after the failure: '$out'"
        [ "$(portctl status --json | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')" = "$gen" ] &&
                pass "the failures did not rebuild the catalog" || fail "the generation moved"
        grep -q "Failed to set the override wf/tcp in '/etc/portd/overrides.conf': No space left on device" "$LOG" &&
                pass "the daemon logs the failure" || fail "no log line for the failure"
        rm "$ROOT/etc/portd/filler"
        portctl set wf 43001/tcp >/dev/null && pass "with space again, set works" || fail "set after freeing space failed"
        cp "$ROOT/etc/portd/overrides.conf" "$saved"

        # Read-only: a read-only bind mount over the same directory.
        mount --bind "$ROOT/etc/portd" "$ROOT/etc/portd" && mount -o remount,bind,ro "$ROOT/etc/portd" ||
                skip "cannot make a read-only bind mount"
        MOUNTS+=("$ROOT/etc/portd")
        out=$(portctl set wf 43002/tcp 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"Read-only file system"* ]] && pass "set on a read-only /etc/portd fails with EROFS (exit 1)" ||
                fail "set on read-only: exit $rc, '$out'"
        cmp -s "$saved" "$ROOT/etc/portd/overrides.conf" && pass "the override file is intact on the read-only mount" ||
                fail "the override file changed on a read-only mount"
        out=$(portctl lookup wf tcp)
        [[ "$out" =~ wf\ +43001/tcp ]] && pass "lookups answer the last good override" || fail "lookup after EROFS: '$out'"
        # The runtime file is elsewhere and still works.
        out=$(portctl set --runtime wf 43003/tcp 2>&1)
        [[ "$out" =~ wf\ +43003/tcp ]] && pass "a runtime override still works while /etc/portd is read-only" ||
                fail "runtime set with a read-only /etc: '$out'"
        finish
}

# One digest for the same merged entries, whatever the layout; another one for other data; the
# digest is the SHA-256 of list --format services, online and offline.
scenario_digest() {
        need_root "two daemons with overrides need root"
        need_tool sha256sum
        local rootb=$TMP/rootb sockb=$TMP/b/sock pidb out da db dl doff
        # A directory of its own: the io.portd.Sockets socket goes beside the Services one.
        mkdir -p "$TMP/b"
        # Layout B: netbase, a drop-in that replaces http/tcp and adds two entries, an override.
        cp "$DATA_DIR/services.netbase" "$ROOT/etc/services"
        mkdir -p "$ROOT/etc/services.d" "$ROOT/usr/lib/services.d"
        printf 'http\t8080/tcp www\napp 9000/tcp\n' >"$ROOT/etc/services.d/50-app.conf"
        printf '# vendor\nvend 9100/udp v1 v2\n' >"$ROOT/usr/lib/services.d/40-vendor.conf"
        # Layout A: the same entries in the same merged order, all in one /etc/services.
        mkdir -p "$rootb/etc"
        {
                printf 'http 8080/tcp www\napp 9000/tcp\nvend 9100/udp v1 v2\n'
                awk '{ line = $0; sub(/#.*/, "") } !($1 == "http" && $2 == "80/tcp") { print line }' "$DATA_DIR/services.netbase"
        } >"$rootb/etc/services"
        start_daemon
        "${valgrind_wrap[@]}" "$PORTD" --root "$rootb" --socket "$sockb" 2>>"$LOG" &
        pidb=$!
        wait_for_daemon "$sockb" "$pidb"

        digest() { "$PORTCTL" --socket "$1" status --json | sed -n 's/.*"digest":"\([0-9a-f]*\)".*/\1/p'; }
        digest_changed() {
                local d
                d=$(digest "$1")
                [ "$d" != "$2" ] && echo "$d"
        }
        da=$(digest "$SOCK")
        db=$(digest "$sockb")
        if [ "${#da}" -eq 64 ] && [ "$da" = "$db" ]; then
                pass "two layouts of the same entries give one digest ($da)"
        else
                fail "digests differ across layouts: '$da' vs '$db'"
                diff <(portctl list --format services) <("$PORTCTL" --socket "$sockb" list --format services) | head -10
        fi
        dl=$(portctl list --format services | sha256sum | cut -d' ' -f1)
        doff=$("$PORTCTL" list --format services --root "$ROOT" | sha256sum | cut -d' ' -f1)
        [ "$dl" = "$da" ] && [ "$doff" = "$da" ] && pass "the digest is sha256sum of list --format services, online and with --root" ||
                fail "digest $da, sha256 of the export $dl, offline $doff"

        # An override on A, the same entry on top of B's file: equal again.
        portctl set top 7/tcp >/dev/null || fail "set on A failed"
        da=$(digest "$SOCK")
        [ "$da" != "$db" ] && pass "a change gives another digest" || fail "the digest did not change"
        { printf 'top 7/tcp\n'; cat "$rootb/etc/services"; } >"$rootb/etc/services.new"
        mv "$rootb/etc/services.new" "$rootb/etc/services"
        if wait_for_output 2000 "^$da\$" digest "$sockb"; then
                pass "the same change in B's layout (an override vs. a line in /etc/services) gives A's digest again"
        else
                fail "B's digest after the same change: $(digest "$sockb"), A's: $da"
        fi

        # Same entries, other order: another getservent sequence, so another digest.
        { sed -n 2p "$rootb/etc/services"; sed 2d "$rootb/etc/services"; } >"$rootb/etc/services.new"
        mv "$rootb/etc/services.new" "$rootb/etc/services"
        if wait_for_output 2000 '^[0-9a-f]{64}$' digest_changed "$sockb" "$da"; then
                pass "the same entries in another order give another digest"
        else
                fail "reordering did not change the digest"
        fi

        out=$(portctl status --json)
        if python3 - "$out" <<'PY'; then
import json, sys
s = json.loads(sys.argv[1])
for k in ("generation", "entries", "digest", "sources"):
    assert k in s, k
files = {x["file"]: x for x in s["sources"]}
for f in ("/etc/services", "/usr/lib/services.d/40-vendor.conf", "/etc/services.d/50-app.conf", "/etc/portd/overrides.conf"):
    assert f in files, f
    assert isinstance(files[f]["mtime_usec"], int) and files[f]["mtime_usec"] > 1500000000 * 10**6, files[f]
PY
                pass "status --json has generation, entries, digest and every source with mtime_usec"
        else
                fail "status --json: $out"
        fi
        local mt
        mt=$(stat -c %Y "$ROOT/etc/services.d/50-app.conf")
        [[ "$out" =~ \"file\":\"/etc/services.d/50-app.conf\"[^}]*\"mtime_usec\":$mt[0-9]{6} ]] &&
                pass "mtime_usec is the file's mtime in microseconds" || fail "mtime_usec does not match stat's $mt"

        kill -TERM "$pidb"
        wait "$pidb" || fail "the second daemon did not exit cleanly"
        finish
}

# portctl list --format services, written to a file and bound over /etc/services, gives glibc's
# files backend the answers and the getservent sequence portd gives through the NSS module.
scenario_export() {
        local name=$1 step=${2:-1}
        local data=$DATA_DIR/services.$name
        need_root "binding a file over /etc/services needs root"
        need_nss
        need_tool getent
        need_tool unshare
        unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
        [ -r "$data" ] || missing "no data file '$data'"

        # The data file, drop-ins that replace, add and remove, and an override.
        cp "$data" "$ROOT/etc/services"
        mkdir -p "$ROOT/etc/services.d" "$ROOT/usr/lib/services.d"
        printf 'http 8080/tcp www web\nnewsvc 44000/tcp ns1\nudponly 44001/udp\nbare 44002\n' >"$ROOT/etc/services.d/50-fleet.conf"
        printf '!ssh/udp\n!telnet\n' >"$ROOT/usr/lib/services.d/90-removals.conf"
        start_daemon
        portctl set ovr 44003/tcp ovralias >/dev/null || fail "set failed"

        portctl list --format services >"$TMP/export" || fail "list --format services failed"
        "$PORTCTL" list --format services --root "$ROOT" >"$TMP/export.offline" || fail "offline export failed"
        cmp -s "$TMP/export" "$TMP/export.offline" && pass "$name: the export with --root equals the daemon's" ||
                fail "$name: the offline export differs: $(diff "$TMP/export" "$TMP/export.offline" | head -5)"
        # The top-level "entries" of the pretty-printed reply, not those of the sources.
        [ "$(wc -l <"$TMP/export")" -eq "$(portctl status --json | sed -n 's/^  "entries":\([0-9]*\).*/\1/p')" ] &&
                pass "$name: one line per entry" || fail "$name: line count differs from the entry count"
        if awk -F'\t' 'NF < 2 || NF > 3 || $2 !~ /^[0-9]+\// { bad = 1 } END { exit bad }' "$TMP/export"; then
                pass "$name: every line is NAME<TAB>PORT/PROTO[<TAB>ALIASES]"
        else
                fail "$name: malformed export lines: $(awk -F'\t' 'NF < 2 || NF > 3' "$TMP/export" | head -3)"
        fi

        # Queries: every name, alias and port of the export, with and without protocol, and misses.
        awk -v step="$step" -F'\t' '
                { n++; if ((n - 1) % step) next
                  split($2, pp, "/"); print $1; print pp[1]
                  if (pp[2] != "") { print $1 "/" pp[2]; print pp[1] "/" pp[2] }
                  k = split($3, al, " "); for (i = 1; i <= k; i++) { print al[i]; if (pp[2] != "") print al[i] "/" pp[2] } }
                END { print "no-such-service"; print "65001/udp"; print "ssh/udp"; print "telnet" }' "$TMP/export" |
                awk '!seen[$0]++' >"$TMP/queries"
        queries() {
                local q
                while IFS= read -r q; do
                        printf '== %s\n' "$q"
                        getent -s "services:$1" services -- "$q"
                        printf 'rc=%s\n' "$?"
                done <"$2"
        }
        unshare -m --propagation private bash -c "$(declare -f queries)
mount --bind '$TMP/export' /etc/services && queries files '$TMP/queries'" >"$TMP/files.out"
        with_nss bash -c "$(declare -f queries); queries portd '$TMP/queries'" >"$TMP/portd.out"
        if cmp -s "$TMP/files.out" "$TMP/portd.out" && grep -q '^rc=0' "$TMP/files.out"; then
                pass "$name: $(wc -l <"$TMP/queries") lookups of the export through glibc's files backend equal portd's"
        else
                fail "$name: lookups differ"
                diff -u "$TMP/files.out" "$TMP/portd.out" | head -20
        fi
        unshare -m --propagation private sh -c "mount --bind '$TMP/export' /etc/services && getent -s services:files services" >"$TMP/files.enum"
        with_nss getent -s services:portd services >"$TMP/portd.enum"
        if [ -s "$TMP/files.enum" ] && cmp -s "$TMP/files.enum" "$TMP/portd.enum"; then
                pass "$name: the getservent sequence of the export ($(wc -l <"$TMP/files.enum") entries) equals portd's"
        else
                fail "$name: the getservent sequences differ"
                diff -u "$TMP/files.enum" "$TMP/portd.enum" | head -20
        fi
        finish
}

# A configuration repository holds only its drop-ins: verify passes with a notice about the missing
# base, fails on a bad line with the file as it is in the repository, and the export works offline.
scenario_verify_ci() {
        local repo=$TMP/repo out rc
        mkdir -p "$repo/etc/services.d"
        printf '# team A\napp 9000/tcp app-alt\n' >"$repo/etc/services.d/50-team-a.conf"
        printf '# team B\nmetrics 9100/tcp\n!telnet\n' >"$repo/etc/services.d/60-team-b.conf"

        out=$(offline_portctl verify --root "$repo")
        rc=$?
        if [ "$rc" -eq 0 ] && [[ "$out" == *"$repo/etc/services:0: notice: does not exist"* ]]; then
                pass "verify of drop-ins alone exits 0, with a notice that there is no base"
        else
                fail "verify of a drop-in repository: exit $rc, '$out'"
        fi
        [[ "$out" == *"$repo/etc/services.d/60-team-b.conf:3: warning:"* ]] &&
                pass "a removal with nothing below it is a warning, not an error" || fail "no warning for the removal: '$out'"
        out=$(offline_portctl verify --root "$repo" --json)
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" == *'"level":"notice"'* ]] && [[ "$out" == *'"errors":0'* ]] &&
                pass "verify --json carries the notice and 0 errors" || fail "verify --json: exit $rc, '$out'"

        out=$(offline_portctl list --format services --root "$repo")
        [ "$out" = $'metrics\t9100/tcp\napp\t9000/tcp\tapp-alt' ] && pass "list --format services --root on the repository" ||
                fail "offline export: '$out'"

        printf 'broken 90x0/tcp\n' >>"$repo/etc/services.d/50-team-a.conf"
        out=$(offline_portctl verify --root "$repo")
        rc=$?
        [ "$rc" -eq 1 ] && [[ "$out" == *"$repo/etc/services.d/50-team-a.conf:3: error: junk after the port number"* ]] &&
                pass "a bad line fails verify (exit 1) with its file:line in the repository" || fail "bad line: exit $rc, '$out'"

        # With the target's base copied in, removals are checked against it.
        sed -i '$d' "$repo/etc/services.d/50-team-a.conf"
        cp "$DATA_DIR/services.netbase" "$repo/etc/services"
        out=$(offline_portctl verify --root "$repo")
        rc=$?
        [ "$rc" -eq 0 ] && [[ "$out" != *"notice: does not exist"* ]] && [[ "$out" != *"removes nothing"* ]] &&
                pass "with a base in the repository, no notice and the removal applies" || fail "with a base: exit $rc, '$out'"
        exit $((failures > 0))
}

case "$scenario" in
access) scenario_access ;;
persistence) scenario_persistence ;;
write-failures) scenario_write_failures ;;
digest) scenario_digest ;;
export) scenario_export "$@" ;;
verify-ci) scenario_verify_ci ;;
*)
        say "unknown scenario '$scenario'"
        exit 1
        ;;
esac
