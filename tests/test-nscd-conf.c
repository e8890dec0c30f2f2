/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of nscd_conf_caches_services() (client/nscd-check.c): whether an nscd.conf turns on
 * nscd's services cache, read as nscd 2.36 reads it (keyword, database, value; '#' starts a
 * comment; the last line for a database wins; off when no line says). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "portctl.h"

static int caches(const char *conf)
{
        FILE *f = fmemopen((void *) conf, strlen(conf), "r");
        assert_non_null(f);
        int r = nscd_conf_caches_services(f);
        fclose(f);
        return r;
}

static void test_debian_default(void **state)
{
        (void) state;
        /* The lines of Debian 12's /etc/nscd.conf that concern services. */
        assert_int_equal(caches("#\n# /etc/nscd.conf\n#\n"
                                "\tenable-cache\t\tpasswd\t\tyes\n"
                                "\tenable-cache\t\tservices\tyes\n"
                                "\tpositive-time-to-live\tservices\t28800\n"
                                "\tcheck-files\t\tservices\tyes\n"),
                1);
}

static void test_off(void **state)
{
        (void) state;
        assert_int_equal(caches(""), 0); /* nscd's default */
        assert_int_equal(caches("enable-cache services no\n"), 0);
        assert_int_equal(caches("enable-cache hosts yes\nenable-cache passwd yes\n"), 0);
        assert_int_equal(caches("#enable-cache services yes\n"), 0);
        assert_int_equal(caches("  # enable-cache services yes\n"), 0);
        assert_int_equal(caches("enable-cache services\n"), 0); /* no value */
        assert_int_equal(caches("enable-cache servicesyes\n"), 0);
        assert_int_equal(caches("check-files services yes\n"), 0);
}

static void test_last_line_wins(void **state)
{
        (void) state;
        assert_int_equal(caches("enable-cache services yes\nenable-cache services no\n"), 0);
        assert_int_equal(caches("enable-cache services no\nenable-cache services yes\n"), 1);
        /* A value nscd does not know leaves the earlier one standing. */
        assert_int_equal(caches("enable-cache services yes\nenable-cache services maybe\n"), 1);
}

static void test_shapes(void **state)
{
        (void) state;
        assert_int_equal(caches("enable-cache services yes # cache it\n"), 1);
        assert_int_equal(caches("enable-cache services yes"), 1); /* no newline at the end */
        assert_int_equal(caches("enable-cache services yes\r\n"), 1);
        /* A line longer than the reader's bound is read in pieces; the line after it still counts. */
        char long_line[3000];
        memset(long_line, 'x', sizeof long_line - 1);
        long_line[sizeof long_line - 1] = '\0';
        char conf[4000];
        snprintf(conf, sizeof conf, "%s\nenable-cache services yes\n", long_line);
        assert_int_equal(caches(conf), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_debian_default),
                cmocka_unit_test(test_off),
                cmocka_unit_test(test_last_line_wins),
                cmocka_unit_test(test_shapes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
