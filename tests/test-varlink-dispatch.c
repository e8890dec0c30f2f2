/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of daemon/varlink-dispatch.c: parameters parsed as the server parses them (strict JSON,
 * varlink_message_parse()) and dispatched into a struct; what is missing, mistyped, unknown,
 * duplicated or out of range is named, and nothing allocated outlives a failure (valgrind). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink-dispatch.h"
#include "varlink-wire.h"

typedef struct TestParameters {
        char *name;
        char *protocol;
        const char *netns;
        int64_t port;
        bool runtime;
        char **aliases;
} TestParameters;

static const VarlinkParameter table[] = {
        { "name", VARLINK_PARAMETER_NAME, offsetof(TestParameters, name), VARLINK_PARAMETER_REQUIRED, 1,
                16 },
        { "protocol", VARLINK_PARAMETER_NAME, offsetof(TestParameters, protocol), 0, 0, 8 },
        { "netns", VARLINK_PARAMETER_STRING, offsetof(TestParameters, netns), 0, 1, 8 },
        { "port", VARLINK_PARAMETER_INT, offsetof(TestParameters, port), 0, 0, 65535 },
        { "runtime", VARLINK_PARAMETER_BOOLEAN, offsetof(TestParameters, runtime), 0, 0, 0 },
        { "aliases", VARLINK_PARAMETER_NAMES, offsetof(TestParameters, aliases), 0, 1, 16, 3 },
};

/* Dispatches json into *p (defaults: port -1); returns what varlink_dispatch() did, the name of a
 * bad parameter copied into bad. */
static int dispatch(const char *json, TestParameters *p, char *bad, size_t n_bad)
{
        struct json_object *o = NULL;
        const char *b = NULL;
        int r;

        *p = (TestParameters){ .port = -1 };
        assert_int_equal(varlink_message_parse(json, strlen(json), &o), 0);
        r = varlink_dispatch(o, table, ELEMENTSOF(table), p, &b);
        if (bad) {
                (void) snprintf(bad, n_bad, "%s", r == -EINVAL && b ? b : "");
        }
        /* Borrowed strings die with the object: only check them before. */
        if (r >= 0 && p->netns)
                p->netns = strcmp(p->netns, "net1") == 0 ? "net1" : "other";
        json_object_put(o);
        return r;
}

static void assert_bad(const char *json, const char *name)
{
        TestParameters p;
        char bad[64];

        assert_int_equal(dispatch(json, &p, bad, sizeof(bad)), -EINVAL);
        assert_string_equal(bad, name);
        /* Nothing owned is left behind on failure. */
        assert_null(p.name);
        assert_null(p.protocol);
        assert_null(p.aliases);
}

static void test_all_parameters(void **state)
{
        TestParameters p;

        assert_int_equal(dispatch("{\"name\": \"a\\\\x01b\", \"protocol\": \"tcp\", \"netns\": \"net1\", "
                                  "\"port\": 65535, \"runtime\": true, \"aliases\": [\"x\", \"y\\\\xff\"]}",
                                 &p, NULL, 0),
                0);
        /* Names come back as the bytes the files have. */
        assert_string_equal(p.name, "a\x01"
                                    "b");
        assert_string_equal(p.protocol, "tcp");
        assert_string_equal(p.netns, "net1");
        assert_int_equal(p.port, 65535);
        assert_true(p.runtime);
        assert_non_null(p.aliases);
        assert_string_equal(p.aliases[0], "x");
        assert_string_equal(p.aliases[1], "y\xff");
        assert_null(p.aliases[2]);
        varlink_dispatch_done(table, ELEMENTSOF(table), &p);
        assert_null(p.name);
        assert_null(p.aliases);
}

static void test_optional_defaults(void **state)
{
        TestParameters p;

        /* Absent and null alike leave the caller's default. */
        assert_int_equal(dispatch("{\"name\": \"a\", \"port\": null, \"protocol\": null}", &p, NULL, 0), 0);
        assert_string_equal(p.name, "a");
        assert_null(p.protocol);
        assert_null(p.netns);
        assert_int_equal(p.port, -1);
        assert_false(p.runtime);
        assert_null(p.aliases);
        varlink_dispatch_done(table, ELEMENTSOF(table), &p);
}

static void test_missing_required(void **state)
{
        assert_bad("{}", "name");
        assert_bad("{\"name\": null}", "name");
        assert_bad("{\"port\": 1}", "name");

        /* No parameters at all is no object at all. */
        TestParameters p = { .port = -1 };
        const char *bad = NULL;
        assert_int_equal(varlink_dispatch(NULL, table, ELEMENTSOF(table), &p, &bad), -EINVAL);
        assert_string_equal(bad, "name");
}

static void test_wrong_type(void **state)
{
        assert_bad("{\"name\": 1}", "name");
        assert_bad("{\"name\": [\"a\"]}", "name");
        assert_bad("{\"name\": \"a\", \"port\": \"80\"}", "port");
        assert_bad("{\"name\": \"a\", \"port\": 80.0}", "port");
        assert_bad("{\"name\": \"a\", \"port\": true}", "port");
        assert_bad("{\"name\": \"a\", \"runtime\": 1}", "runtime");
        assert_bad("{\"name\": \"a\", \"runtime\": \"true\"}", "runtime");
        assert_bad("{\"name\": \"a\", \"netns\": 5}", "netns");
        assert_bad("{\"name\": \"a\", \"aliases\": \"b\"}", "aliases");
        assert_bad("{\"name\": \"a\", \"aliases\": [\"b\", 2]}", "aliases");
        assert_bad("{\"name\": \"a\", \"aliases\": [null]}", "aliases");
        /* A failure after an owned field was filled frees it again (assert_bad checks NULL). */
        assert_bad("{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": \"x\"}", "port");
}

static void test_bounds(void **state)
{
        assert_bad("{\"name\": \"\"}", "name");
        assert_bad("{\"name\": \"0123456789abcdefX\"}", "name");
        /* The bound is on the bytes a name stands for: 16 escaped bytes fit, 17 do not. */
        TestParameters p;
        char sixteen[16 * 5 + 32] = "{\"name\": \"", seventeen[sizeof(sixteen) + 5];
        for (int i = 0; i < 16; i++)
                strcat(sixteen, "\\\\xff");
        strcpy(seventeen, sixteen);
        strcat(seventeen, "\\\\xff\"}");
        strcat(sixteen, "\"}");
        assert_int_equal(dispatch(sixteen, &p, NULL, 0), 0);
        assert_int_equal(strlen(p.name), 16);
        varlink_dispatch_done(table, ELEMENTSOF(table), &p);
        assert_bad(seventeen, "name");
        /* "\u0000" would cut a string short behind our back. */
        assert_bad("{\"name\": \"a\\u0000b\"}", "name");
        assert_bad("{\"name\": \"a\", \"netns\": \"n\\u0000\"}", "netns");
        assert_bad("{\"name\": \"a\", \"netns\": \"\"}", "netns");
        assert_bad("{\"name\": \"a\", \"netns\": \"123456789\"}", "netns");
        assert_bad("{\"name\": \"a\", \"port\": -1}", "port");
        assert_bad("{\"name\": \"a\", \"port\": 65536}", "port");
        assert_bad("{\"name\": \"a\", \"aliases\": [\"a\", \"b\", \"c\", \"d\"]}", "aliases");
        assert_bad("{\"name\": \"a\", \"aliases\": [\"\"]}", "aliases");
}

static void test_overflowing_integers(void **state)
{
        /* INT64_MAX + 1 (json-c: unsigned), UINT64_MAX, beyond 64 bits (json-c: a double), and the
         * negative ones: none may wrap into the range. */
        assert_bad("{\"name\": \"a\", \"port\": 9223372036854775808}", "port");
        assert_bad("{\"name\": \"a\", \"port\": 18446744073709551615}", "port");
        assert_bad("{\"name\": \"a\", \"port\": 18446744073709551696}", "port");
        assert_bad("{\"name\": \"a\", \"port\": 340282366920938463463374607431768211536}", "port");
        assert_bad("{\"name\": \"a\", \"port\": -9223372036854775808}", "port");
        assert_bad("{\"name\": \"a\", \"port\": -9223372036854775809}", "port");
        assert_bad("{\"name\": \"a\", \"port\": 1e3}", "port");

        /* A table that allows the whole of int64 still refuses what is beyond it. */
        static const VarlinkParameter wide[] = {
                { "n", VARLINK_PARAMETER_INT, 0, VARLINK_PARAMETER_REQUIRED, INT64_MIN, INT64_MAX },
        };
        struct json_object *o = NULL;
        const char *bad = NULL;
        int64_t n = 0;
        const char *max = "{\"n\": 9223372036854775807}", *over = "{\"n\": 9223372036854775808}";
        assert_int_equal(varlink_message_parse(max, strlen(max), &o), 0);
        assert_int_equal(varlink_dispatch(o, wide, ELEMENTSOF(wide), &n, &bad), 0);
        assert_true(n == INT64_MAX);
        json_object_put(o);
        assert_int_equal(varlink_message_parse(over, strlen(over), &o), 0);
        assert_int_equal(varlink_dispatch(o, wide, ELEMENTSOF(wide), &n, &bad), -EINVAL);
        assert_string_equal(bad, "n");
        json_object_put(o);
}

static void test_unknown(void **state)
{
        /* Refused, not ignored: "proto" for "protocol" would widen a lookup to every protocol. */
        assert_bad("{\"name\": \"a\", \"proto\": \"tcp\"}", "proto");
        assert_bad("{\"name\": \"a\", \"Name\": \"b\"}", "Name");
        /* Checked also where nothing is declared. */
        struct json_object *o = NULL;
        const char *bad = NULL, *json = "{\"x\": 1}";
        assert_int_equal(varlink_message_parse(json, strlen(json), &o), 0);
        assert_int_equal(varlink_dispatch(o, NULL, 0, NULL, &bad), -EINVAL);
        assert_string_equal(bad, "x");
        json_object_put(o);
        assert_int_equal(varlink_dispatch(NULL, NULL, 0, NULL, &bad), 0);
}

static void test_duplicate(void **state)
{
        TestParameters p;

        /* On the wire: the parser keeps the last of a duplicated key, so the dispatcher sees one
         * value, checked like any other; a bad last one is refused whatever came before. */
        assert_int_equal(dispatch("{\"name\": \"a\", \"port\": 70000, \"port\": 7}", &p, NULL, 0), 0);
        assert_int_equal(p.port, 7);
        varlink_dispatch_done(table, ELEMENTSOF(table), &p);
        assert_bad("{\"name\": \"a\", \"port\": 7, \"port\": 70000}", "port");

        /* In a table: a programming error, which fails where it is made (an assertion). */
#ifdef NDEBUG
        skip();
#else
        static const VarlinkParameter twice[] = {
                { "port", VARLINK_PARAMETER_INT, offsetof(TestParameters, port), 0, 0, 65535 },
                { "port", VARLINK_PARAMETER_INT, offsetof(TestParameters, port), 0, 0, 65535 },
        };
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                const char *bad = NULL;
                TestParameters q = {};
                /* The abort's message would look like a failure in the TAP output. */
                (void) freopen("/dev/null", "w", stderr);
                (void) varlink_dispatch(NULL, twice, ELEMENTSOF(twice), &q, &bad);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
#endif
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_all_parameters),
                cmocka_unit_test(test_optional_defaults),
                cmocka_unit_test(test_missing_required),
                cmocka_unit_test(test_wrong_type),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_overflowing_integers),
                cmocka_unit_test(test_unknown),
                cmocka_unit_test(test_duplicate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
