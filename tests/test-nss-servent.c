/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NSS module's copy into the caller's buffer: every size below what an entry needs takes the
 * one ERANGE path and leaves the result alone, any start alignment works, and varlink Service
 * objects of the wrong shape are refused rather than copied. */

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "nss-client.h"
#include "nss-servent.h"
#include "util.h"

static const char *const sample_aliases[] = { "www", "www-http", "a-rather-longer-alias-name" };

static const char *array_alias(const void *userdata, size_t i, size_t *ret_len)
{
        const char *a = ((const char *const *) userdata)[i];

        *ret_len = strlen(a);
        return a;
}

static const char *broken_alias(const void *userdata, size_t i, size_t *ret_len)
{
        *ret_len = 1;
        return i == 1 ? NULL : "x";
}

static void check_servent(const struct servent *se, const char *buffer, size_t buflen, const char *name,
        const char *protocol, uint16_t port, const char *const *aliases, size_t n_aliases)
{
        const char *end = buffer + buflen;

        assert_string_equal(se->s_name, name);
        assert_string_equal(se->s_proto, protocol);
        assert_int_equal(se->s_port, htons(port));
        assert_true((uintptr_t) se->s_aliases % alignof(char *) == 0);
        assert_true((const char *) se->s_aliases >= buffer && (const char *) se->s_aliases < end);
        assert_true(se->s_name >= buffer && se->s_name + strlen(se->s_name) < end);
        assert_true(se->s_proto >= buffer && se->s_proto + strlen(se->s_proto) < end);
        for (size_t i = 0; i < n_aliases; i++) {
                assert_non_null(se->s_aliases[i]);
                assert_true(se->s_aliases[i] >= buffer && se->s_aliases[i] < end);
                assert_string_equal(se->s_aliases[i], aliases[i]);
        }
        assert_null(se->s_aliases[n_aliases]);
}

static void test_servent_every_size(void **state)
{
        char storage[512];

        for (size_t n_aliases = 0; n_aliases <= ELEMENTSOF(sample_aliases); n_aliases++)
                for (size_t misalign = 0; misalign < alignof(char *); misalign++) {
                        char *buffer = storage + misalign;
                        bool fitted = false;
                        for (size_t len = 0; len <= sizeof(storage) - misalign; len++) {
                                struct servent se = { .s_port = -1 };
                                int r = servent_fill(&se, buffer, len, "http", "tcp", 80, n_aliases,
                                        array_alias, sample_aliases);
                                if (r == -ERANGE) {
                                        /* Once an entry fits, every larger buffer fits too. */
                                        assert_false(fitted);
                                        assert_int_equal(se.s_port, -1);
                                        assert_null(se.s_name);
                                        continue;
                                }
                                assert_int_equal(r, 0);
                                fitted = true;
                                check_servent(
                                        &se, buffer, len, "http", "tcp", 80, sample_aliases, n_aliases);
                        }
                        assert_true(fitted);
                }
}

static void test_servent_null_buffer(void **state)
{
        struct servent se = {};

        assert_int_equal(servent_fill(&se, NULL, 0, "a", "tcp", 1, 0, array_alias, NULL), -ERANGE);
        assert_int_equal(servent_fill(&se, NULL, 4096, "a", "tcp", 1, 0, array_alias, NULL), -ERANGE);
}

static void test_servent_huge_alias_count(void **state)
{
        char buffer[64];
        struct servent se = {};

        /* A count whose pointer array would overflow size_t must not wrap into a "fit". */
        assert_int_equal(servent_fill(&se, buffer, sizeof(buffer), "a", "tcp", 1, SIZE_MAX / 4, array_alias,
                                 sample_aliases),
                -ERANGE);
}

static void test_servent_broken_alias(void **state)
{
        char buffer[256];
        struct servent se = {};

        assert_int_equal(
                servent_fill(&se, buffer, sizeof(buffer), "a", "tcp", 1, 3, broken_alias, NULL), -EBADMSG);
        assert_null(se.s_name);
}

static const char *unterminated_alias(const void *userdata, size_t i, size_t *ret_len)
{
        *ret_len = 3;
        return "wwwQ";
}

/* Strings from a shared mapping may change after the reader checked their NUL: the copy ends
 * where the stated length says, and the NUL is the copy's own. */
static void test_servent_source_without_nul(void **state)
{
        char buffer[256];
        struct servent se = {};

        memset(buffer, 'Z', sizeof(buffer));
        assert_int_equal(servent_fill_len(&se, buffer, sizeof(buffer), "httpX", 4, "tcpYYYY", 3, 80, 2,
                                 unterminated_alias, NULL),
                0);
        assert_string_equal(se.s_name, "http");
        assert_string_equal(se.s_proto, "tcp");
        assert_string_equal(se.s_aliases[0], "www");
        assert_string_equal(se.s_aliases[1], "www");
        assert_null(se.s_aliases[2]);
}

static void test_servent_port_byte_order(void **state)
{
        char buffer[256];
        struct servent se = {};

        for (unsigned port = 0; port <= UINT16_MAX; port += 257) {
                assert_int_equal(
                        servent_fill(&se, buffer, sizeof(buffer), "p", "", port, 0, array_alias, NULL), 0);
                assert_int_equal(ntohs((uint16_t) se.s_port), port);
                assert_true(se.s_port >= 0 && se.s_port <= UINT16_MAX);
                assert_string_equal(se.s_proto, "");
        }
}

static int fill_json(const char *text, struct servent *se, char *buffer, size_t buflen)
{
        _cleanup_free_ char *copy = strdup(text);
        NssService *service;
        NssJson j;

        assert_non_null(copy);
        assert_int_equal(nss_json_parse(copy, strlen(copy), &j), 0);
        int r = nss_service_from_json(&j, 0, &service);
        nss_json_done(&j);
        if (r < 0)
                return r;
        r = nss_service_fill(service, se, buffer, buflen);
        free(service);
        return r;
}

static void test_service_json(void **state)
{
        char buffer[256];
        struct servent se = {};
        static const char *const aliases[] = { "www", "www-http" };

        assert_int_equal(fill_json("{\"name\":\"http\",\"port\":80,\"protocol\":\"tcp\",\"aliases\":["
                                   "\"www\",\"www-http\"],"
                                   "\"source\":{\"file\":\"/etc/services\",\"line\":3}}",
                                 &se, buffer, sizeof(buffer)),
                0);
        check_servent(&se, buffer, sizeof(buffer), "http", "tcp", 80, aliases, 2);

        assert_int_equal(fill_json("{\"name\":\"x\",\"port\":80,\"protocol\":\"tcp\",\"aliases\":[\"a\"]}",
                                 &se, buffer, 4),
                -ERANGE);
        assert_int_equal(fill_json("{\"name\":\"x\",\"port\":65536,\"protocol\":\"tcp\",\"aliases\":[]}",
                                 &se, buffer, sizeof(buffer)),
                -EBADMSG);
        assert_int_equal(fill_json("{\"name\":\"x\",\"port\":-1,\"protocol\":\"tcp\",\"aliases\":[]}", &se,
                                 buffer, sizeof(buffer)),
                -EBADMSG);
        assert_int_equal(fill_json("{\"name\":\"x\",\"port\":\"80\",\"protocol\":\"tcp\",\"aliases\":[]}",
                                 &se, buffer, sizeof(buffer)),
                -EBADMSG);
        assert_int_equal(fill_json("{\"name\":7,\"port\":80,\"protocol\":\"tcp\",\"aliases\":[]}", &se,
                                 buffer, sizeof(buffer)),
                -EBADMSG);
        assert_int_equal(
                fill_json("{\"name\":\"x\",\"port\":80,\"aliases\":[]}", &se, buffer, sizeof(buffer)),
                -EBADMSG);
        assert_int_equal(fill_json("{\"name\":\"x\",\"port\":80,\"protocol\":\"tcp\",\"aliases\":[1]}", &se,
                                 buffer, sizeof(buffer)),
                -EBADMSG);
        assert_int_equal(fill_json("{\"name\":\"x\",\"port\":80,\"protocol\":\"tcp\",\"aliases\":\"a\"}",
                                 &se, buffer, sizeof(buffer)),
                -EBADMSG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_servent_every_size),
                cmocka_unit_test(test_servent_null_buffer),
                cmocka_unit_test(test_servent_huge_alias_count),
                cmocka_unit_test(test_servent_broken_alias),
                cmocka_unit_test(test_servent_source_without_nul),
                cmocka_unit_test(test_servent_port_byte_order),
                cmocka_unit_test(test_service_json),
        };

        return cmocka_run_group_tests_name("nss/servent", tests, NULL, NULL);
}
