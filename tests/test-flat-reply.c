/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of client/flat-reply.c, who's rows read without json-c: what it takes, with the values
 * json-c would give, and what it declines for json-c to read (or to refuse), case by case.  The
 * fuzz target (tests/fuzz/fuzz-flat-reply.c) checks every taken message against json-c. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "flat-reply.h"
#include "util.h"

typedef struct Fields {
        int64_t port, pid;
        const char *address, *command;
} Fields;

static const FlatMember members[] = {
        { "address", false, offsetof(Fields, address) },
        { "port", true, offsetof(Fields, port) },
        { "pid", true, offsetof(Fields, pid) },
        { "command", false, offsetof(Fields, command) },
};

static int read_one(const char *message, Fields *f, FlatScratch *scratch, bool *continues)
{
        *f = (Fields){ .port = -1, .pid = -1 };
        return flat_reply_read(
                message, strlen(message), "owner", members, ELEMENTSOF(members), f, scratch, continues);
}

static void test_taken(void **state)
{
        FlatScratch scratch = {};
        Fields f;
        bool continues = false;

        /* As the daemon writes a row, in its order. */
        assert_int_equal(read_one("{\"parameters\":{\"owner\":{\"address\":\"127.0.0.1\",\"port\":22,"
                                  "\"pid\":4711,\"command\":\"sshd\"}},\"continues\":true}",
                                 &f, &scratch, &continues),
                1);
        assert_true(continues);
        assert_string_equal(f.address, "127.0.0.1");
        assert_int_equal(f.port, 22);
        assert_int_equal(f.pid, 4711);
        assert_string_equal(f.command, "sshd");

        /* The last reply, members missing (left alone), in another order, with whitespace. */
        assert_int_equal(
                read_one(" { \"parameters\" : { \"owner\" : { \"port\" : 0 , \"address\" : \"::\" } } } ",
                        &f, &scratch, &continues),
                1);
        assert_false(continues);
        assert_int_equal(f.port, 0);
        assert_int_equal(f.pid, -1);
        assert_null(f.command);
        assert_string_equal(f.address, "::");

        /* "continues" first and false; negative and 18-digit integers. */
        assert_int_equal(read_one("{\"continues\":false,\"parameters\":{\"owner\":{\"port\":-1,"
                                  "\"pid\":999999999999999999}}}",
                                 &f, &scratch, &continues),
                1);
        assert_false(continues);
        assert_int_equal(f.port, -1);
        assert_int_equal(f.pid, 999999999999999999LL);

        /* Escapes other than \u, and UTF-8: a name made safe by the daemon reads "\x1b" as four
         * characters, sent as "\\x1b". */
        assert_int_equal(
                read_one("{\"parameters\":{\"owner\":{\"command\":\"a\\\"b\\\\x1b\\/\\n\\t\\r\\b\\f "
                         "caf\xc3\xa9 \xf0\x9f\x98\x80\"}}}",
                        &f, &scratch, &continues),
                1);
        assert_string_equal(f.command, "a\"b\\x1b/\n\t\r\b\f caf\xc3\xa9 \xf0\x9f\x98\x80");

        /* An empty owner. */
        assert_int_equal(
                read_one("{\"parameters\":{\"owner\":{}},\"continues\":true}", &f, &scratch, &continues), 1);
        assert_true(continues);
        flat_scratch_done(&scratch);
}

static void test_declined(void **state)
{
        static const char *const declined[] = {
                /* Shapes json-c reads (and portctl then takes or refuses as before). */
                "{\"error\":\"io.portd.Sockets.NoSocketFound\"}",
                "{\"parameters\":{\"owner\":{\"port\":22}},\"error\":\"x.Y\"}",
                "{\"parameters\":{}}",
                "{\"parameters\":{\"owner\":{\"port\":22},\"extra\":1}}",
                "{\"parameters\":{\"other\":{\"port\":22}}}",
                "{\"parameters\":{\"owner\":{\"port\":22,\"unknown\":1}}}",
                "{\"parameters\":{\"owner\":{\"port\":22,\"port\":23}}}",
                "{\"parameters\":{\"owner\":{\"port\":22}},\"parameters\":{\"owner\":{}}}",
                "{\"parameters\":{\"owner\":{\"port\":22}},\"continues\":true,\"continues\":false}",
                "{\"parameters\":{\"owner\":{\"port\":\"22\"}}}",
                "{\"parameters\":{\"owner\":{\"command\":22}}}",
                "{\"parameters\":{\"owner\":{\"command\":null}}}",
                "{\"parameters\":{\"owner\":{\"port\":22.0}}}",
                "{\"parameters\":{\"owner\":{\"port\":2e1}}}",
                "{\"parameters\":{\"owner\":{\"port\":1234567890123456789}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"\\u0041\"}}}",
                "{\"parameters\":{\"owner\":{\"comm\\u0061nd\":\"x\"}}}",
                "{\"parameters\":{\"owner\":{\"port\":22}},\"continues\":null}",
                "{\"parameters\":{\"owner\":[]}}",
                "{\"parameters\":null}",
                /* What json-c refuses too. */
                "",
                "[]",
                "{\"parameters\":{\"owner\":{\"port\":022}}}",
                "{\"parameters\":{\"owner\":{\"port\":-}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"\x01\"}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"\xff\"}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"\xc0\xaf\"}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"\xed\xa0\x80\"}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"open}}}",
                "{\"parameters\":{\"owner\":{\"command\":\"x\\\"}}}",
                "{\"parameters\":{\"owner\":{\"port\":22}}} x",
                "{\"parameters\":{\"owner\":{\"port\":22}}}{}",
                "{\"parameters\":{\"owner\":{\"port\":22,}}}",
                "{\"parameters\":{\"owner\":{\"port\":22}},}",
                "{\"parameters\":{\"owner\":{\"port\":22}},\"continues\":truex}",
                "{'parameters':{}}",
                "{\"parameters\":{\"owner\":{\"port\":NaN}}}",
        };
        FlatScratch scratch = {};

        for (size_t i = 0; i < ELEMENTSOF(declined); i++) {
                Fields f;
                bool continues = false;
                print_message("# %s\n", declined[i]);
                assert_int_equal(read_one(declined[i], &f, &scratch, &continues), 0);
        }
        flat_scratch_done(&scratch);
}

/* The strings live in the scratch, which grows to the largest message and is reused. */
static void test_scratch_reused(void **state)
{
        FlatScratch scratch = {};
        char big[8192];
        Fields f;
        bool continues;

        int n = snprintf(big, sizeof(big), "{\"parameters\":{\"owner\":{\"command\":\"%04000d\"}}}", 7);
        assert_true(n > 4000 && (size_t) n < sizeof(big));
        assert_int_equal(read_one(big, &f, &scratch, &continues), 1);
        assert_int_equal(strlen(f.command), 4000);
        size_t allocated = scratch.allocated;
        assert_true(allocated >= (size_t) n + 1);
        assert_int_equal(
                read_one("{\"parameters\":{\"owner\":{\"command\":\"x\"}}}", &f, &scratch, &continues), 1);
        assert_string_equal(f.command, "x");
        assert_int_equal(scratch.allocated, allocated);
        flat_scratch_done(&scratch);
        assert_null(scratch.data);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_taken),
                cmocka_unit_test(test_declined),
                cmocka_unit_test(test_scratch_reused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
