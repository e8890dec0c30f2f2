/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* string_length() (util.h), the NSS module's strlen(): equal to strlen() at every start
 * alignment and length, and a string whose NUL ends the last readable page is measured without
 * a fault (the word holding the NUL is the last one read). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "util.h"

static void test_alignments(void **state)
{
        char buffer[128];

        for (size_t start = 0; start < 16; start++)
                for (size_t len = 0; len < 72; len++) {
                        /* Non-zero bytes all around, so that only the NUL placed here ends it. */
                        memset(buffer, 'a', sizeof(buffer));
                        buffer[start + len] = '\0';
                        assert_int_equal(string_length(buffer + start), len);
                        /* Bytes before the start that are NUL do not count. */
                        if (start > 0) {
                                memset(buffer, '\0', start);
                                assert_int_equal(string_length(buffer + start), len);
                        }
                }
}

static void test_page_end(void **state)
{
        long page = sysconf(_SC_PAGESIZE);
        char *map = mmap(NULL, 2 * (size_t) page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        assert_true(map != MAP_FAILED);
        assert_int_equal(mprotect(map + page, (size_t) page, PROT_NONE), 0);
        /* Every length up to 40 whose NUL is the page's last byte, from every alignment. */
        for (size_t len = 0; len <= 40; len++) {
                char *s = map + page - 1 - len;
                memset(s, 'x', len);
                s[len] = '\0';
                assert_int_equal(string_length(s), len);
        }
        assert_int_equal(munmap(map, 2 * (size_t) page), 0);
        /* A string starting a page whose predecessor is unmapped: no word before s is read. */
        map = mmap(NULL, 2 * (size_t) page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(map != MAP_FAILED);
        assert_int_equal(mprotect(map, (size_t) page, PROT_NONE), 0);
        for (size_t len = 0; len <= 40; len++) {
                memset(map + page, 'x', len);
                map[page + len] = '\0';
                assert_int_equal(string_length(map + page), len);
        }
        assert_int_equal(munmap(map, 2 * (size_t) page), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alignments),
                cmocka_unit_test(test_page_end),
        };
        return cmocka_run_group_tests_name("string-length", tests, NULL, NULL);
}
