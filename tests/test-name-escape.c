/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of common/name-escape.c: what is escaped and what is not, and that unescaping gives
 * every string of bytes back exactly (the NSS module's answers over varlink depend on it). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "name-escape.h"

typedef struct Case {
        const char *bytes, *escaped;
} Case;

static const Case cases[] = {
        { "ssh", "ssh" },
        { "", "" },
        { "cl/1", "cl/1" },
        { "caf\xc3\xa9", "caf\xc3\xa9" },                 /* valid UTF-8 stays */
        { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },       /* four bytes, U+1F600 */
        { "caf\xe9", "caf\\xe9" },                        /* Latin-1 */
        { "al\xff" "ias", "al\\xffias" },
        { "esc\x1b[31m", "esc\\x1b[31m" },                /* C0 control */
        { "del\x7f", "del\\x7f" },
        { "c1\xc2\x9b" "x", "c1\\xc2\\x9bx" },            /* C1 control (CSI), valid UTF-8 */
        { "back\\x41", "back\\x5cx41" },                  /* the backslash itself */
        { "\xc0\xaf", "\\xc0\\xaf" },                     /* overlong '/' */
        { "\xed\xa0\x80", "\\xed\\xa0\\x80" },            /* a surrogate */
        { "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },   /* beyond U+10FFFF */
        { "\xe2\x82", "\\xe2\\x82" },                     /* cut short */
        { "\xe2\x82" "a", "\\xe2\\x82" "a" },
};

static void test_cases(void **state)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const Case *c = &cases[i];
                char *e = name_escape(c->bytes, NAME_ESCAPE_BACKSLASH), back[64];

                assert_non_null(e);
                assert_string_equal(e, c->escaped);
                assert_int_equal(name_escaped_length(c->bytes, NAME_ESCAPE_BACKSLASH), strlen(c->escaped));
                assert_int_equal(name_is_plain(c->bytes, NAME_ESCAPE_BACKSLASH), strcmp(c->bytes, c->escaped) == 0);
                *name_unescape_to(back, e) = 0;
                assert_string_equal(back, c->bytes);
                free(e);
        }
}

static void test_messages_keep_backslashes(void **state)
{
        char *e = name_escape("a\\b \xe9", 0);

        assert_string_equal(e, "a\\b \\xe9");
        assert_true(name_is_plain("C:\\x", 0));
        assert_false(name_is_plain("C:\\x", NAME_ESCAPE_BACKSLASH));
        free(e);
}

static void test_unescape_leaves_the_rest(void **state)
{
        char b[64];

        /* Not an escape: stands for itself.  \x00 is never made, and would cut the name short. */
        name_unescape_to(b, "a\\b\\x\\x4\\xg1\\x00\\");
        assert_string_equal(b, "a\\b\\x\\x4\\xg1\\x00\\");
        name_unescape_to(b, "\\x41\\X41\\x4a\\x4A");
        assert_string_equal(b, "A\\X41JJ");
        /* In place. */
        strcpy(b, "x\\x5cy");
        name_unescape_to(b, b);
        assert_string_equal(b, "x\\y");
}

/* Every string of bytes (but NUL) comes back exactly, and its escaped form is UTF-8 without control
 * characters. */
static void test_round_trip(void **state)
{
        unsigned seed = 12345;

        for (int round = 0; round < 20000; round++) {
                char bytes[24], back[24];
                size_t n = (size_t) (rand_r(&seed) % 20);

                for (size_t i = 0; i < n; i++) {
                        int r = rand_r(&seed);
                        /* Mostly the interesting bytes: leads, continuations, '\\', 'x', digits. */
                        static const char pick[] = "\\x0a9f\xc2\xc3\xe2\xf0\x80\xbf\x9b\x1b\xff";
                        bytes[i] = (r & 1) ? pick[(r >> 1) % (sizeof(pick) - 1)] : (char) (1 + (r >> 1) % 255);
                }
                bytes[n] = 0;
                char *e = name_escape(bytes, NAME_ESCAPE_BACKSLASH);
                assert_non_null(e);
                assert_true(name_is_plain(e, 0));
                assert_null(strchr(e, '\x7f'));
                *name_unescape_to(back, e) = 0;
                assert_memory_equal(back, bytes, n + 1);
                free(e);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_messages_keep_backslashes),
                cmocka_unit_test(test_unescape_leaves_the_rest),
                cmocka_unit_test(test_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
