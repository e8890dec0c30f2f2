/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NSS module's JSON reader and writer (nss/nss-json.c): what RFC 8259 allows is read, with
 * every escape decoded; everything else is refused; what the writer escapes reads back the same. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nss-json.h"
#include "util.h"

static int parse(const char *text, size_t n, char **ret_copy, NssJson *ret)
{
        char *copy = malloc(n + 1);

        assert_non_null(copy);
        memcpy(copy, text, n);
        copy[n] = 0;
        int r = nss_json_parse(copy, n, ret);
        if (r < 0 || !ret_copy)
                free(copy);
        else
                *ret_copy = copy;
        if (r >= 0 && !ret_copy)
                nss_json_done(ret);
        return r;
}

static int parse_str(const char *text)
{
        NssJson j;
        return parse(text, strlen(text), NULL, &j);
}

static void test_json_valid(void **state)
{
        static const char *const valid[] = {
                "{}", "[]", " \t\r\n{ \"a\" : [ 1 , -0 , 0.5 , -1.25e+10 , 1E3 ] } \n", "true", "false", "null",
                "0", "-1", "\"\"", "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\"\\u00e9\\ud83d\\ude00\"",
                "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "123456789012345678901234567890",
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", /* 32 levels */
        };
        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                if (parse_str(valid[i]) != 0)
                        fail_msg("refused: %s", valid[i]);
}

static void test_json_invalid(void **state)
{
        static const char *const invalid[] = {
                "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\":}", "01", "-", "1.", "1e", ".5",
                "+1", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\ud800\\u0041\"", "\"\\u0000\"", "\"\\x\"",
                "\"\\u12\"", "'x'", "tru", "nul", "{} {}", "[1 2]", "{\"a\" 1}", "{1:2}", "NaN", "Infinity",
                "\"unterminated", "\"\x01\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
                "\"\xff\"", "\"\xe2\x82\"", "{\"a\":\"\x80\"}", "[\"a\"\"b\"]", "[1,,2]", "[-]", "-01",
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", /* 33 levels */
        };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                if (parse_str(invalid[i]) != -EBADMSG)
                        fail_msg("accepted: %s", invalid[i]);
        /* A NUL inside the message is not JSON either. */
        NssJson j;
        assert_int_equal(parse("[1]\0", 4, NULL, &j), -EBADMSG);
        assert_int_equal(parse("\"a\0b\"", 5, NULL, &j), -EBADMSG);
}

static void test_json_tokens(void **state)
{
        static const char text[] = "{\"service\":{\"name\":\"a\\\"b\\u00e9\",\"port\":80,\"aliases\":[\"x\",\"y\"],"
                                   "\"n\":null},\"min\":-9223372036854775808,\"big\":9223372036854775808,"
                                   "\"f\":1.5,\"t\":true}";
        char *copy;
        NssJson j;

        assert_int_equal(parse(text, strlen(text), &copy, &j), 0);
        assert_int_equal(j.tokens[0].type, NSS_JSON_OBJECT);
        assert_int_equal(j.tokens[0].count, 5);
        assert_int_equal(j.tokens[0].size, j.n_tokens);

        int s = nss_json_object_get(&j, 0, "service");
        assert_true(s > 0);
        assert_int_equal(j.tokens[s].type, NSS_JSON_OBJECT);
        int name = nss_json_object_get(&j, s, "name");
        assert_true(name > 0);
        assert_string_equal(j.tokens[name].string, "a\"b\xc3\xa9");
        int port = nss_json_object_get(&j, s, "port");
        assert_int_equal(j.tokens[port].type, NSS_JSON_INTEGER);
        assert_int_equal(j.tokens[port].integer, 80);
        int aliases = nss_json_object_get(&j, s, "aliases");
        assert_int_equal(j.tokens[aliases].count, 2);
        assert_string_equal(j.tokens[aliases + 1].string, "x");
        assert_string_equal(j.tokens[nss_json_next(&j, aliases + 1)].string, "y");
        assert_int_equal(j.tokens[nss_json_object_get(&j, s, "n")].type, NSS_JSON_NULL);
        assert_int_equal(nss_json_object_get(&j, s, "missing"), -ENOENT);
        assert_int_equal(nss_json_object_get(&j, aliases, "x"), -EBADMSG);

        int min = nss_json_object_get(&j, 0, "min");
        assert_int_equal(j.tokens[min].type, NSS_JSON_INTEGER);
        assert_true(j.tokens[min].integer == INT64_MIN);
        assert_int_equal(j.tokens[nss_json_object_get(&j, 0, "big")].type, NSS_JSON_NUMBER);
        assert_int_equal(j.tokens[nss_json_object_get(&j, 0, "f")].type, NSS_JSON_NUMBER);
        assert_int_equal(j.tokens[nss_json_object_get(&j, 0, "t")].type, NSS_JSON_TRUE);
        nss_json_done(&j);
        free(copy);

        /* A key twice: which value would be the answer? */
        static const char dup[] = "{\"a\":1,\"b\":2,\"a\":3}";
        assert_int_equal(parse(dup, strlen(dup), &copy, &j), 0);
        assert_int_equal(nss_json_object_get(&j, 0, "a"), -EBADMSG);
        assert_true(nss_json_object_get(&j, 0, "b") > 0);
        nss_json_done(&j);
        free(copy);
}

static void test_json_writer(void **state)
{
        static const char *const strings[] = {
                "", "plain", "quote \" backslash \\ slash /", "\x01\x02\t\n\r\x1f\x7f", "\xc3\xa9\xf0\x9f\x98\x80",
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                NssJsonWriter w = {};
                char *out, *copy;
                size_t n;
                NssJson j;

                nss_json_write_raw(&w, "[");
                nss_json_write_string(&w, strings[i]);
                nss_json_write_raw(&w, ",");
                nss_json_write_integer(&w, INT64_MIN);
                nss_json_write_raw(&w, "]");
                assert_int_equal(nss_json_write_finish(&w, &out, &n), 0);
                assert_int_equal(out[n - 1], 0);
                assert_int_equal(parse(out, n - 1, &copy, &j), 0);
                assert_string_equal(j.tokens[1].string, strings[i]);
                assert_true(j.tokens[2].integer == INT64_MIN);
                nss_json_done(&j);
                free(copy);
                free(out);
        }

        /* Not UTF-8: nothing is sent. */
        NssJsonWriter w = {};
        char *out = NULL;
        size_t n;
        nss_json_write_raw(&w, "[");
        nss_json_write_string(&w, "\xff");
        nss_json_write_raw(&w, "]");
        assert_int_equal(nss_json_write_finish(&w, &out, &n), -EINVAL);
        assert_null(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_valid),
                cmocka_unit_test(test_json_invalid),
                cmocka_unit_test(test_json_tokens),
                cmocka_unit_test(test_json_writer),
        };

        return cmocka_run_group_tests_name("nss/json", tests, NULL, NULL);
}
