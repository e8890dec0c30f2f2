#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""CI's proof that the tests ran: reads a meson test log (BUILDDIR/meson-logs/testlog.json) and
fails when any test was skipped, whole (exit 77) or in part (a TAP plan of 0, "# SKIP" lines).
A test skips only for what a machine cannot do, and CI's machine can do everything.
Usage: check-test-log.py BUILDDIR [ALLOWED_NAME ...]  (ALLOWED_NAME: tests whose skip is expected
in this pass, with the reason in .ci/run)."""
import json
import re
import sys


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1] + "/meson-logs/testlog.json"
    allowed = set(sys.argv[2:])
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"check-test-log: cannot read '{path}': {e.strerror}", file=sys.stderr)
        return 1
    ran = 0
    bad = []
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        ran += 1
        name = t.get("name", "?")
        if name in allowed:
            continue
        out = t.get("stdout") or ""
        if t.get("result") == "SKIP":
            reason = next((l for l in out.splitlines() if "SKIP" in l), "no reason printed")
            bad.append(f"{name}: skipped ({reason.strip()})")
        elif re.search(r"^(ok|not ok)\b.*#\s*SKIP", out, re.M | re.I):
            bad.append(f"{name}: TAP cases skipped")
    if ran == 0:
        print(f"check-test-log: '{path}' lists no test", file=sys.stderr)
        return 1
    for b in bad:
        print(f"check-test-log: {b}", file=sys.stderr)
    if bad:
        print(f"check-test-log: {len(bad)} of {ran} tests did not fully run", file=sys.stderr)
        return 1
    print(f"check-test-log: {ran} tests, none skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
