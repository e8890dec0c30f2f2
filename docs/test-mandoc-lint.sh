#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks one hand-written mdoc page with mandoc's linter: any warning or error fails, and the
# page must render to text with a NAME section.
# Usage: test-mandoc-lint.sh PAGE
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check the
# shell; exec leaves valgrind behind.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_DOCS_REEXEC:-}" ]; then
        PORTD_DOCS_REEXEC=1 exec /bin/sh "$0" "$@"
fi

page=$1

if ! command -v mandoc >/dev/null 2>&1; then
        echo "FAIL: mandoc is not installed (Debian package mandoc)"
        exit 1
fi

out=$(mandoc -T lint -W warning "$page" 2>&1)
rc=$?
if [ -n "$out" ]; then
        printf '%s\n' "$out"
fi
# mandoc exits 0 when clean, 2 for warnings, 3 and above for errors and worse.
if [ $rc -ne 0 ] || [ -n "$out" ]; then
        echo "mandoc -T lint -W warning: $page is not clean (exit status $rc)"
        exit 1
fi

# Off a terminal mandoc marks bold by overstriking (N, backspace, N); strip that first.
if ! mandoc -T utf8 "$page" | sed 's/.\x08//g' | grep -q '^NAME$'; then
        echo "mandoc -T utf8: $page does not render a NAME section"
        exit 1
fi

echo "$page: clean"
exit 0
