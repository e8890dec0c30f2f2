/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of common/json-writer.c: what it writes is JSON that json-c reads back to the same
 * values (escapes, integers at their limits, nesting, optional members), and a string that is not
 * UTF-8 fails the message instead of making it invalid. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <string.h>

#include "json-writer.h"

static struct json_object *parse(const JsonWriter *w)
{
        assert_int_equal(w->error, 0);
        assert_int_equal(strlen(w->data), w->size);
        struct json_tokener *tok = json_tokener_new();
        assert_non_null(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        struct json_object *o = json_tokener_parse_ex(tok, w->data, (int) w->size);
        assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
        assert_int_equal(json_tokener_get_parse_end(tok), w->size);
        json_tokener_free(tok);
        assert_non_null(o);
        return o;
}

static const char *member_string(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, json_type_string));
        return json_object_get_string(v);
}

static int64_t member_int(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, json_type_int));
        return json_object_get_int64(v);
}

static void test_round_trip(void **state)
{
        static const char *const strings[] = {
                "",
                "ssh",
                "quote\"d",
                "back\\slash",
                "new\nline",
                "tab\tand\x01\x1f",
                "del\x7f",
                "caf\xc3\xa9",
                "\xf0\x9f\x98\x80",
                "esc\\x1b[31m",
                "/slash/",
        };
        static const int64_t integers[] = { 0, 1, -1, 65535, 4294967295LL, INT64_MAX, INT64_MIN };
        JsonWriter w = {};
        char key[16];

        for (int pass = 0; pass < 2; pass++) { /* the second reuses the buffer */
                json_writer_clear(&w);
                json_writer_object_begin(&w, NULL);
                json_writer_object_begin(&w, "inner");
                for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                        snprintf(key, sizeof(key), "s%zu", i);
                        json_writer_string(&w, key, strings[i]);
                }
                json_writer_string(&w, "absent", NULL);
                json_writer_object_end(&w);
                for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
                        snprintf(key, sizeof(key), "i%zu", i);
                        json_writer_integer(&w, key, integers[i]);
                }
                json_writer_object_begin(&w, "empty");
                json_writer_object_end(&w);
                json_writer_object_end(&w);

                struct json_object *o = parse(&w), *inner = NULL, *empty = NULL;
                assert_true(json_object_object_get_ex(o, "inner", &inner));
                for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                        snprintf(key, sizeof(key), "s%zu", i);
                        assert_string_equal(member_string(inner, key), strings[i]);
                }
                assert_false(json_object_object_get_ex(inner, "absent", NULL));
                for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
                        snprintf(key, sizeof(key), "i%zu", i);
                        assert_true(member_int(o, key) == integers[i]);
                }
                assert_true(json_object_object_get_ex(o, "empty", &empty));
                assert_int_equal(json_object_object_length(empty), 0);
                assert_int_equal(json_object_object_length(o), 2 + sizeof(integers) / sizeof(integers[0]));
                json_object_put(o);
        }
        json_writer_done(&w);
}

/* Control characters as \u00XX, nothing else escaped: the exact text matters to the clients'
 * standard-token check as much as to json-c. */
static void test_exact_text(void **state)
{
        JsonWriter w = {};

        json_writer_object_begin(&w, NULL);
        json_writer_string(&w, "a", "x\"\\\x1b/\xc3\xa9");
        json_writer_integer(&w, "b", -42);
        json_writer_object_end(&w);
        assert_int_equal(w.error, 0);
        assert_string_equal(w.data, "{\"a\":\"x\\\"\\\\\\u001b/\xc3\xa9\",\"b\":-42}");
        json_writer_done(&w);
}

static void test_invalid_utf8(void **state)
{
        JsonWriter w = {};

        json_writer_object_begin(&w, NULL);
        json_writer_string(&w, "ok", "fine");
        json_writer_string(&w, "bad", "caf\xe9");
        json_writer_string(&w, "later", "fine");
        json_writer_object_end(&w);
        assert_int_equal(w.error, -EINVAL);

        /* Cleared, the writer is usable again. */
        json_writer_clear(&w);
        json_writer_object_begin(&w, NULL);
        json_writer_object_end(&w);
        assert_int_equal(w.error, 0);
        assert_string_equal(w.data, "{}");
        json_writer_done(&w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_exact_text),
                cmocka_unit_test(test_invalid_utf8),
        };
        return cmocka_run_group_tests_name("json-writer", tests, NULL, NULL);
}
