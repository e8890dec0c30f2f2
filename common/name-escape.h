/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names made safe for JSON and terminals, reversibly.  glibc accepts any bytes but white space in
 * a services(5) name; varlink is JSON, which must be UTF-8.  Over varlink a name travels escaped:
 * every byte that is not part of valid UTF-8, every control character (C0, DEL, C1) and the
 * backslash itself become "\xNN" (as lsof shows such names), everything else stays as it is.
 * Unescaping gives the bytes back exactly, so the NSS module answers as glibc's files backend. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum NameEscapeFlags {
        /* Also escape '\\': for names, which must come back exactly.  Messages that only quote
         * names are for people, and keep their backslashes. */
        NAME_ESCAPE_BACKSLASH = 1 << 0,
} NameEscapeFlags;

/* Whether s needs no escaping (valid UTF-8, no control character, no backslash if flags say). */
bool name_is_plain(const char *s, NameEscapeFlags flags);
/* The length of s escaped, without the NUL: at most 4 * strlen(s). */
size_t name_escaped_length(const char *s, NameEscapeFlags flags);
/* Writes s escaped to dst, which holds name_escaped_length() + 1 bytes; returns dst. */
char *name_escape_to(char *dst, const char *s, NameEscapeFlags flags);
/* s escaped in a new malloc()ed string; NULL when out of memory. */
char *name_escape(const char *s, NameEscapeFlags flags);
/* Copies src to dst with every "\xNN" (NN two hex digits, not 00) turned back into its byte, and
 * anything else as it is; dst holds strlen(src) + 1 bytes (the result is never longer) and may be
 * src itself.  Returns a pointer to the NUL written, as stpcpy() does. */
char *name_unescape_to(char *dst, const char *src);
