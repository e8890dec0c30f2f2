/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 validation, checked byte by byte against the ranges of RFC 3629's table: the second byte's
 * range is what excludes overlong forms, surrogates and code points above U+10FFFF. */

#include <stdint.h>

#include "utf8.h"

size_t utf8_sequence_length(const char *s, size_t n)
{
        const unsigned char *u = (const unsigned char *) s;
        unsigned char c = u[0], lo = 0x80, hi = 0xBF;
        size_t len;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                if (c == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (c == 0xED)
                        hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                if (c == 0xF0)
                        lo = 0x90; /* overlong */
                else if (c == 0xF4)
                        hi = 0x8F; /* above U+10FFFF */
        } else
                return 0;
        if (n < len || u[1] < lo || u[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (u[i] < 0x80 || u[i] > 0xBF)
                        return 0;
        return len;
}

bool utf8_is_valid(const char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                size_t k = utf8_sequence_length(s + i, n - i);
                if (k == 0)
                        return false;
                i += k;
        }
        return true;
}
