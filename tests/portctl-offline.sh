#!/bin/sh
# portctl verify and explain against real files below --root, with no daemon: exit codes,
# FILE:LINE messages, and JSON that parses and names the right entries.
set -eu
# Under meson's valgrind setup the shell itself is started by valgrind: hand over to a fresh
# shell (valgrind does not follow exec) and put portctl, not the shell, under valgrind.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTCTL_OFFLINE_REEXEC:-}" ]; then
        PORTCTL_OFFLINE_REEXEC=1 exec /bin/sh "$0" "$@"
fi
real_portctl=$1
if [ -n "${PORTD_UNDER_VALGRIND:-}" ]; then
        portctl() { valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet "$real_portctl" "$@"; }
else
        portctl() { "$real_portctl" "$@"; }
fi
root=$(mktemp -d /tmp/portctl-offline-XXXXXX)
trap 'rm -rf "$root"' EXIT
fail() { echo "not ok - $*"; exit 1; }

mkdir -p "$root/etc/services.d" "$root/usr/lib/services.d"
printf 'ssh 22/tcp\nhttp 80/tcp www\nhttp 80/udp www\n' > "$root/etc/services"
printf 'web 8080/tcp\n' > "$root/usr/lib/services.d/50-web.conf"
printf 'http 8443/tcp\n!http/udp\n' > "$root/etc/services.d/60-web.conf"

echo "1..6"

# a clean tree: warnings only, exit 0
out=$(portctl verify --root "$root") || fail "verify of a clean tree exited $?"
echo "$out" | grep -q "^$root/etc/services.d/60-web.conf:1: warning: 'http/tcp' replaces the definition at /etc/services:2" \
        || fail "shadowing warning missing: $out"
echo "ok 1 - verify: clean tree passes, shadowing is a warning"

# a bad line: FILE:LINE, exit 1, the rest still parsed
printf 'good 9000/tcp\nbad 90x0/tcp\n' > "$root/etc/services.d/70-bad.conf"
set +e
out=$(portctl --root "$root" verify)
rc=$?
set -e
[ $rc -eq 1 ] || fail "verify with a bad line exited $rc"
echo "$out" | grep -q "^$root/etc/services.d/70-bad.conf:2: error: junk after the port number" || fail "no file:line: $out"
echo "ok 2 - verify: a bad line is an error with file:line"

portctl verify --json --root "$root" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["errors"] == 1, d
bad = [x for x in d["diagnostics"] if x["level"] == "error"][0]
assert bad["file"] == "/etc/services.d/70-bad.conf" and bad["line"] == 2, bad
' || fail "verify --json"
echo "ok 3 - verify --json"

out=$(portctl explain http --root "$root")
echo "$out" | grep -q "^wins *http 8443/tcp" || fail "explain winner: $out"
echo "$out" | grep -q "^replaced *http 80/tcp www" || fail "explain replaced: $out"
echo "$out" | grep -q "^removed *http 80/udp www" || fail "explain removed: $out"
echo "ok 4 - explain shows the winner, what it replaced and what was removed"

portctl --json explain http/udp --root "$root" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["winner"] is None, d
assert len(d["replaced"]) == 1 and d["replaced"][0]["removed"] is True, d
assert d["replaced"][0]["by"] == {"file": "/etc/services.d/60-web.conf", "line": 2}, d
' || fail "explain --json"
echo "ok 5 - explain --json NAME/PROTO"

set +e
portctl explain no-such-service --root "$root" 2>/dev/null
rc=$?
set -e
[ $rc -eq 2 ] || fail "explain of an unknown name exited $rc"
echo "ok 6 - explain: exit 2 when nothing is found"
