/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The \xNN escaping of names for varlink (JSON) and terminals, and its exact reverse.  libc only:
 * the NSS module links it too. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "name-escape.h"

/* The length of the valid UTF-8 sequence at s that is not a control character, or 0. */
static size_t utf8_plain_length(const unsigned char *s)
{
        uint32_t c;
        size_t n;

        if (s[0] >= 0x20 && s[0] < 0x7f)
                return 1;
        if (s[0] < 0xc2 || s[0] > 0xf4)
                return 0; /* control, DEL, continuation, overlong lead, beyond U+10FFFF */
        n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
        c = s[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0; /* also stops at the NUL */
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
                (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f))
                return 0; /* overlong, out of range, a surrogate, a C1 control */
        return n;
}

static size_t plain_length(const char *s, NameEscapeFlags flags)
{
        if (*s == '\\' && (flags & NAME_ESCAPE_BACKSLASH))
                return 0;
        return utf8_plain_length((const unsigned char *) s);
}

bool name_is_plain(const char *s, NameEscapeFlags flags)
{
        while (*s) {
                size_t n = plain_length(s, flags);
                if (n == 0)
                        return false;
                s += n;
        }
        return true;
}

size_t name_escaped_length(const char *s, NameEscapeFlags flags)
{
        size_t l = 0;

        while (*s) {
                size_t n = plain_length(s, flags);
                l += n ? n : 4;
                s += n ? n : 1;
        }
        return l;
}

char *name_escape_to(char *dst, const char *s, NameEscapeFlags flags)
{
        static const char hex[] = "0123456789abcdef";
        char *p = dst;

        while (*s) {
                size_t n = plain_length(s, flags);
                if (n > 0) {
                        memcpy(p, s, n);
                        p += n;
                        s += n;
                        continue;
                }
                unsigned char b = (unsigned char) *s++;
                *p++ = '\\';
                *p++ = 'x';
                *p++ = hex[b >> 4];
                *p++ = hex[b & 15];
        }
        *p = '\0';
        return dst;
}

char *name_escape(const char *s, NameEscapeFlags flags)
{
        char *d = malloc(name_escaped_length(s, flags) + 1);

        return d ? name_escape_to(d, s, flags) : NULL;
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *name_unescape_to(char *dst, const char *src)
{
        while (*src) {
                int hi, lo;

                if (src[0] == '\\' && src[1] == 'x' && (hi = hex_value(src[2])) >= 0 &&
                        (lo = hex_value(src[3])) >= 0 && (hi | lo) != 0) {
                        *dst++ = (char) (hi << 4 | lo);
                        src += 4;
                } else
                        *dst++ = *src++;
        }
        *dst = '\0';
        return dst;
}
