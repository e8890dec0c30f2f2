/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one UTF-8 validator of the tree (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), used by both JSON readers and writers (common/varlink-wire.c, nss/nss-json.c) and by
 * whatever must decide whether a name can go into JSON as it is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at the start of the n bytes at s (n >= 1), 0 when
 * there is none. */
size_t utf8_sequence_length(const char *s, size_t n);

/* Whether the n bytes at s are well-formed UTF-8 (NUL bytes count as U+0000). */
bool utf8_is_valid(const char *s, size_t n);
