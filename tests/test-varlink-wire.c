/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of common/varlink-wire.c: framing across arbitrary reads, strict message checks,
 * and the blocking client against a socketpair whose other end the test plays by hand. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink-wire.h"

/* ---- framing ---- */

static void test_framing_partial_reads(void **state)
{
        static const char wire[] = "{\"a\": 1}\0{\"b\": \"x\"}";
        VarlinkBuffer b;
        struct json_object *o = NULL, *v;
        int got = 0;

        varlink_buffer_init(&b, 0);
        /* One byte per "read": nothing comes out before a NUL, each message exactly once. */
        for (size_t i = 0; i < sizeof(wire); i++) {
                assert_int_equal(varlink_buffer_append(&b, wire + i, 1), 0);
                int r = varlink_buffer_next_object(&b, &o);
                assert_true(r >= 0);
                if (r == 0)
                        continue;
                if (got == 0) {
                        assert_int_equal(i, strlen("{\"a\": 1}"));
                        assert_true(json_object_object_get_ex(o, "a", &v));
                        assert_int_equal(json_object_get_int(v), 1);
                } else {
                        assert_int_equal(i, sizeof(wire) - 1);
                        assert_true(json_object_object_get_ex(o, "b", &v));
                        assert_string_equal(json_object_get_string(v), "x");
                }
                got++;
                json_object_put(o);
        }
        assert_int_equal(got, 2);
        assert_int_equal(varlink_buffer_pending(&b), 0);
        assert_int_equal(b.position, sizeof(wire));
        varlink_buffer_done(&b);
}

static void test_framing_several_in_one_read(void **state)
{
        static const char wire[] = "{\"n\":1}\0{\"n\":2}\0{\"n\":3}\0{\"n\":";
        VarlinkBuffer b;
        struct json_object *o, *v;

        varlink_buffer_init(&b, 0);
        assert_int_equal(varlink_buffer_append(&b, wire, sizeof(wire) - 1), 0);
        for (int n = 1; n <= 3; n++) {
                assert_int_equal(varlink_buffer_next_object(&b, &o), 1);
                assert_true(json_object_object_get_ex(o, "n", &v));
                assert_int_equal(json_object_get_int(v), n);
                json_object_put(o);
        }
        /* The incomplete fourth message stays until the rest arrives. */
        assert_int_equal(varlink_buffer_next_object(&b, &o), 0);
        assert_int_equal(varlink_buffer_pending(&b), strlen("{\"n\":"));
        assert_int_equal(varlink_buffer_append(&b, "4}", 3), 0);
        assert_int_equal(varlink_buffer_next_object(&b, &o), 1);
        assert_true(json_object_object_get_ex(o, "n", &v));
        assert_int_equal(json_object_get_int(v), 4);
        json_object_put(o);
        assert_int_equal(varlink_buffer_next_object(&b, &o), 0);
        varlink_buffer_done(&b);
}

static void test_framing_prepare_commit(void **state)
{
        VarlinkBuffer b;
        char *p;
        size_t avail;
        const char *m;
        size_t n;

        varlink_buffer_init(&b, 0);
        /* Many messages through a small window: compaction must keep the bytes in order. */
        for (int i = 0; i < 10000; i++) {
                char msg[32];
                int l = snprintf(msg, sizeof(msg), "{\"i\":%d}", i);

                assert_int_equal(varlink_buffer_prepare(&b, (size_t) l + 1, &p, &avail), 0);
                assert_true(avail >= (size_t) l + 1);
                memcpy(p, msg, (size_t) l + 1);
                varlink_buffer_commit(&b, (size_t) l + 1);
                assert_int_equal(varlink_buffer_next(&b, &m, &n), 1);
                assert_int_equal(n, (size_t) l);
                assert_memory_equal(m, msg, n);
        }
        assert_true(b.allocated < 64 * 1024);
        varlink_buffer_done(&b);
}

static void test_framing_oversize(void **state)
{
        VarlinkBuffer b;
        const char *m;
        size_t n;

        /* Exactly the maximum is fine. */
        varlink_buffer_init(&b, 16);
        assert_int_equal(varlink_buffer_append(&b, "{\"a\":\"12345678\"}", 17), 0);
        assert_int_equal(varlink_buffer_next(&b, &m, &n), 1);
        assert_int_equal(n, 16);
        varlink_buffer_done(&b);

        /* One byte more, complete in one read. */
        varlink_buffer_init(&b, 16);
        assert_int_equal(varlink_buffer_append(&b, "{\"a\":\"123456789\"}", 18), 0);
        assert_int_equal(varlink_buffer_next(&b, &m, &n), -EMSGSIZE);
        varlink_buffer_done(&b);

        /* Growing without a NUL is refused as soon as it passes the bound, not at the NUL. */
        varlink_buffer_init(&b, 16);
        assert_int_equal(varlink_buffer_append(&b, "{\"a\":\"1234567", 13), 0);
        assert_int_equal(varlink_buffer_next(&b, &m, &n), 0);
        assert_int_equal(varlink_buffer_append(&b, "89\"}", 4), 0);
        assert_int_equal(varlink_buffer_next(&b, &m, &n), -EMSGSIZE);
        varlink_buffer_done(&b);

        /* The default is VARLINK_MESSAGE_MAX. */
        varlink_buffer_init(&b, 0);
        assert_int_equal(b.message_max, VARLINK_MESSAGE_MAX);
        char *big = malloc(VARLINK_MESSAGE_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', VARLINK_MESSAGE_MAX + 1);
        assert_int_equal(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX + 1), 0);
        assert_int_equal(varlink_buffer_next(&b, &m, &n), -EMSGSIZE);
        free(big);
        varlink_buffer_done(&b);
}

static void test_parse_garbage(void **state)
{
        static const char *const bad[] = {
                "",
                " ",
                "[]",
                "[1]",
                "1",
                "\"s\"",
                "null",
                "true",
                "{",
                "}",
                "{\"a\"}",
                "{\"a\":}",
                "{} x",
                "{}{}",
                "{'a': 1}",
                "{\"a\": 01}",
                "{\"a\": NaN}",
                "{\"a\": 1,}",
                "{\"a\": Infinity}",
                "{\"a\": -Infinity}",
                "{\"a\": nan}",
                "{\"a\": tRue}",
                "{\"a\": \"\xff\"}",
                "{\"a\": \"\xc0\x80\"}",
                "{\"a\": \"\xed\xa0\x80\"}",
                "{\"a\": \"\xf4\x90\x80\x80\"}",
                "{\"a\": \"\xe2\x82\"}",
                "{\"a\": \"tab\there\"}",
                "/* c */ {}",
                "{\"a\": [1, 2}",
        };
        static const char *const good[] = {
                "{}",
                " {} ",
                "{\"a\": {\"b\": [1, 2.5e-3, \"x\", null, true, false]}}",
                "{\"s\": \"\\u00e9\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\\" \\\\\"}",
        };
        struct json_object *o;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = NULL;
                if (varlink_message_parse(bad[i], strlen(bad[i]), &o) != -EBADMSG)
                        fail_msg("accepted: '%s'", bad[i]);
                assert_null(o);
        }
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (varlink_message_parse(good[i], strlen(good[i]), &o) != 0)
                        fail_msg("refused: '%s'", good[i]);
                json_object_put(o);
        }

        /* Deep nesting must fail cleanly, not recurse without bound. */
        char deep[4096];
        memset(deep, '[', sizeof(deep));
        deep[0] = '{';
        assert_int_equal(varlink_message_parse(deep, sizeof(deep), &o), -EBADMSG);
}

static void test_garbage_in_stream(void **state)
{
        VarlinkBuffer b;
        struct json_object *o;

        varlink_buffer_init(&b, 0);
        assert_int_equal(varlink_buffer_append(&b, "{}\0xyz\0{}", 10), 0);
        assert_int_equal(varlink_buffer_next_object(&b, &o), 1);
        json_object_put(o);
        assert_int_equal(varlink_buffer_next_object(&b, &o), -EBADMSG);
        varlink_buffer_done(&b);
}

/* ---- names and messages ---- */

static void test_names(void **state)
{
        assert_true(varlink_interface_name_is_valid("org.varlink.service"));
        assert_true(varlink_interface_name_is_valid("io.portd.Services"));
        assert_true(varlink_interface_name_is_valid("a-b.c--d.0e"));
        assert_false(varlink_interface_name_is_valid("org"));
        assert_false(varlink_interface_name_is_valid("org."));
        assert_false(varlink_interface_name_is_valid(".org.x"));
        assert_false(varlink_interface_name_is_valid("org..x"));
        assert_false(varlink_interface_name_is_valid("0rg.x"));
        assert_false(varlink_interface_name_is_valid("org-.x"));
        assert_false(varlink_interface_name_is_valid("org.x-"));
        assert_false(varlink_interface_name_is_valid("org.x_y"));
        assert_false(varlink_interface_name_is_valid(""));
        assert_false(varlink_interface_name_is_valid(NULL));

        assert_true(varlink_method_name_is_valid("org.varlink.service.GetInfo"));
        assert_true(varlink_method_name_is_valid("io.portd.Services.List2"));
        assert_false(varlink_method_name_is_valid("GetInfo"));
        assert_false(varlink_method_name_is_valid("org.GetInfo")); /* interface needs two labels */
        assert_false(varlink_method_name_is_valid("org.varlink.service.getInfo"));
        assert_false(varlink_method_name_is_valid("org.varlink.service.Get_Info"));
        assert_false(varlink_method_name_is_valid("org.varlink.service."));
        assert_false(varlink_method_name_is_valid("org.varlink.service.Get-Info"));
        assert_int_equal(varlink_method_interface_length("org.varlink.service.GetInfo"),
                strlen("org.varlink.service"));
}

static struct json_object *parse(const char *s)
{
        struct json_object *o = NULL;
        assert_int_equal(varlink_message_parse(s, strlen(s), &o), 0);
        return o;
}

static void test_call_parse(void **state)
{
        static const char *const bad[] = {
                "{}",
                "{\"method\": 1}",
                "{\"method\": \"GetInfo\"}",
                "{\"method\": \"org.varlink.service.getInfo\"}",
                "{\"method\": \"org.varlink.service.GetInfo\\u0000x\"}",
                "{\"method\": \"org.varlink.service.GetInfo\", \"parameters\": []}",
                "{\"method\": \"org.varlink.service.GetInfo\", \"parameters\": \"x\"}",
                "{\"method\": \"org.varlink.service.GetInfo\", \"parameters\": null}",
                "{\"method\": \"org.varlink.service.GetInfo\", \"oneway\": 1}",
                "{\"method\": \"org.varlink.service.GetInfo\", \"more\": \"true\"}",
        };
        struct json_object *o;
        VarlinkCall call;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = parse(bad[i]);
                if (varlink_call_parse(o, &call) != -EBADMSG)
                        fail_msg("accepted call: %s", bad[i]);
                json_object_put(o);
        }

        o = parse("{\"method\": \"org.varlink.service.GetInfo\"}");
        assert_int_equal(varlink_call_parse(o, &call), 0);
        assert_string_equal(call.method, "org.varlink.service.GetInfo");
        assert_null(call.parameters);
        assert_int_equal(call.flags, 0);
        json_object_put(o);

        /* Unknown keys are ignored, as the specification allows for extensions. */
        o = parse("{\"method\": \"a.b.C\", \"parameters\": {\"x\": 1}, \"more\": true, \"oneway\": false, "
                  "\"foo\": []}");
        assert_int_equal(varlink_call_parse(o, &call), 0);
        assert_non_null(call.parameters);
        assert_int_equal(call.flags, VARLINK_CALL_MORE);
        json_object_put(o);
}

static void test_build_and_reply_parse(void **state)
{
        struct json_object *m, *p, *v;
        VarlinkReply reply;
        VarlinkCall call;
        char *s;
        size_t n;

        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string("http/1"));
        assert_int_equal(varlink_message_build_call("io.portd.Services.Get", p, VARLINK_CALL_MORE, &m), 0);
        assert_int_equal(varlink_message_serialize(m, &s, &n), 0);
        assert_int_equal(s[n - 1], 0);
        assert_int_equal(strlen(s), n - 1);
        assert_null(strstr(s, "\\/")); /* slashes stay readable */
        json_object_put(m);
        m = parse(s);
        free(s);
        assert_int_equal(varlink_call_parse(m, &call), 0);
        assert_string_equal(call.method, "io.portd.Services.Get");
        assert_int_equal(call.flags, VARLINK_CALL_MORE);
        assert_true(json_object_object_get_ex(call.parameters, "name", &v));
        assert_string_equal(json_object_get_string(v), "http/1");
        json_object_put(m);

        assert_int_equal(varlink_message_build_call("bad", NULL, 0, &m), -EINVAL);

        assert_int_equal(varlink_message_build_reply(p, true, NULL, &m), 0);
        assert_int_equal(varlink_reply_parse(m, &reply), 0);
        assert_true(reply.continues);
        assert_null(reply.error);
        assert_ptr_equal(reply.parameters, p);
        json_object_put(m);

        assert_int_equal(varlink_message_build_reply(NULL, false, VARLINK_ERROR_EXPECTED_MORE, &m), 0);
        assert_int_equal(varlink_reply_parse(m, &reply), 0);
        assert_false(reply.continues);
        assert_string_equal(reply.error, VARLINK_ERROR_EXPECTED_MORE);
        assert_true(json_object_is_type(reply.parameters, json_type_object));
        json_object_put(m);

        assert_int_equal(varlink_message_build_reply(NULL, false, "NotAnError", &m), -EINVAL);
        json_object_put(p);

        static const char *const bad[] = {
                "{\"parameters\": []}",
                "{\"continues\": 1}",
                "{\"error\": 5}",
                "{\"error\": \"nodots\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                m = parse(bad[i]);
                if (varlink_reply_parse(m, &reply) != -EBADMSG)
                        fail_msg("accepted reply: %s", bad[i]);
                json_object_put(m);
        }
        m = parse("{\"parameters\": null}");
        assert_int_equal(varlink_reply_parse(m, &reply), 0);
        assert_null(reply.parameters);
        json_object_put(m);
}

/* ---- client against a socketpair ---- */

typedef struct Pair {
        VarlinkClient *client;
        int peer;
        VarlinkBuffer seen; /* what the client sent */
} Pair;

static int pair_setup(void **state)
{
        Pair *p = calloc(1, sizeof(Pair));
        int sv[2];

        assert_non_null(p);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(varlink_client_connect_fd(sv[0], 200 * 1000, &p->client), 0);
        p->peer = sv[1];
        varlink_buffer_init(&p->seen, 0);
        *state = p;
        return 0;
}

static int pair_teardown(void **state)
{
        Pair *p = *state;

        varlink_client_free(p->client);
        safe_close(p->peer);
        varlink_buffer_done(&p->seen);
        free(p);
        return 0;
}

static void peer_write(Pair *p, const char *s, size_t n)
{
        assert_int_equal(write(p->peer, s, n), (ssize_t) n);
}

#define PEER_WRITE(p, s) peer_write((p), (s), sizeof(s) - 1)

/* Reads the next call the client sent (it is already in the socket). */
static struct json_object *peer_read_call(Pair *p, VarlinkCall *ret)
{
        struct json_object *o = NULL;
        char buf[4096];

        for (;;) {
                int r = varlink_buffer_next_object(&p->seen, &o);
                assert_true(r >= 0);
                if (r > 0)
                        break;
                ssize_t k = recv(p->peer, buf, sizeof(buf), MSG_DONTWAIT);
                assert_true(k > 0);
                assert_int_equal(varlink_buffer_append(&p->seen, buf, (size_t) k), 0);
        }
        assert_int_equal(varlink_call_parse(o, ret), 0);
        return o;
}

static void test_client_call(void **state)
{
        Pair *p = *state;
        struct json_object *reply, *params, *v, *call_msg;
        const char *error;
        VarlinkCall call;

        /* The reply may wait in the socket before the call is even sent. */
        PEER_WRITE(p, "{\"parameters\": {\"port\": 80}}");
        peer_write(p, "", 1);
        params = json_object_new_object();
        json_object_object_add(params, "name", json_object_new_string("http"));
        assert_int_equal(varlink_client_call(
                                 p->client, "io.portd.Services.GetServiceByName", params, 0, &reply, &error),
                0);
        json_object_put(params);
        assert_null(error);
        assert_true(json_object_object_get_ex(reply, "port", &v));
        assert_int_equal(json_object_get_int(v), 80);
        assert_int_equal(varlink_client_take_fd(p->client), -ENOENT);

        call_msg = peer_read_call(p, &call);
        assert_string_equal(call.method, "io.portd.Services.GetServiceByName");
        assert_int_equal(call.flags, 0);
        assert_true(json_object_object_get_ex(call.parameters, "name", &v));
        assert_string_equal(json_object_get_string(v), "http");
        json_object_put(call_msg);

        /* An error reply; without parameters the client still hands out an object. */
        PEER_WRITE(p, "{\"error\": \"io.portd.Services.NotFound\"}");
        peer_write(p, "", 1);
        assert_int_equal(varlink_client_call(
                                 p->client, "io.portd.Services.GetServiceByName", NULL, 0, &reply, &error),
                0);
        assert_string_equal(error, "io.portd.Services.NotFound");
        assert_true(json_object_is_type(reply, json_type_object));
        json_object_put(peer_read_call(p, &call));

        /* Without ret_error an error reply is an error return. */
        PEER_WRITE(p, "{\"error\": \"io.portd.Services.NotFound\", \"parameters\": {}}");
        peer_write(p, "", 1);
        assert_int_equal(
                varlink_client_call(p->client, "io.portd.Services.GetServiceByName", NULL, 0, &reply, NULL),
                -EREMOTEIO);
        json_object_put(peer_read_call(p, &call));

        /* Oneway: nothing to read back, the connection stays usable. */
        assert_int_equal(varlink_client_call(p->client, "io.portd.Services.Reload", NULL,
                                 VARLINK_CALL_ONEWAY, &reply, &error),
                0);
        assert_null(reply);
        json_object_put(peer_read_call(p, &call));
        assert_int_equal(call.flags, VARLINK_CALL_ONEWAY);
}

static void test_client_more(void **state)
{
        Pair *p = *state;
        struct json_object *reply, *v;
        const char *error;
        VarlinkCall call;

        /* Three replies arriving in one read, the last without "continues". */
        static const char wire[] = "{\"parameters\": {\"i\": 0}, \"continues\": true}\0"
                                   "{\"parameters\": {\"i\": 1}, \"continues\": true}\0"
                                   "{\"parameters\": {\"i\": 2}}";
        peer_write(p, wire, sizeof(wire));

        assert_int_equal(varlink_client_call(p->client, "io.portd.Services.List", NULL, VARLINK_CALL_MORE,
                                 &reply, &error),
                1);
        assert_true(json_object_object_get_ex(reply, "i", &v));
        assert_int_equal(json_object_get_int(v), 0);
        /* Another call while the stream is open would mix replies. */
        assert_int_equal(
                varlink_client_call(p->client, "io.portd.Services.List", NULL, 0, &reply, &error), -EBUSY);
        assert_int_equal(varlink_client_next(p->client, &reply, &error), 1);
        assert_true(json_object_object_get_ex(reply, "i", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_int_equal(varlink_client_next(p->client, &reply, &error), 0);
        assert_true(json_object_object_get_ex(reply, "i", &v));
        assert_int_equal(json_object_get_int(v), 2);
        assert_int_equal(varlink_client_next(p->client, &reply, &error), -ENOMSG);

        json_object_put(peer_read_call(p, &call));
        assert_int_equal(call.flags, VARLINK_CALL_MORE);
}

/* A reader that takes replies whose text starts with a marker, as who's row reader takes rows. */
typedef struct Taken {
        unsigned n;
        int fail; /* returned instead, when not 0 */
} Taken;

static int take_marked(const char *message, size_t size, bool *continues, void *userdata)
{
        Taken *t = userdata;

        assert_int_equal(strlen(message), size); /* NUL-terminated, whole */
        if (t->fail)
                return t->fail;
        if (strncmp(message, "{\"parameters\":{\"taken\"", 22) != 0)
                return 0;
        t->n++;
        *continues = strstr(message, "\"continues\":true") != NULL;
        return 1;
}

/* varlink_client_next_with(): the reader sees each reply first; what it declines is parsed as
 * varlink_client_next() would, errors included; its "continues" ends the stream as a parsed one. */
static void test_client_next_with(void **state)
{
        Pair *p = *state;
        struct json_object *reply, *v;
        const char *error;
        VarlinkCall call;
        Taken t = {};

        static const char wire[] = "{\"parameters\": {\"i\": 0}, \"continues\": true}\0"
                                   "{\"parameters\":{\"taken\":1},\"continues\":true}\0"
                                   "{\"parameters\": {\"i\": 2}, \"continues\": true}\0"
                                   "{\"parameters\":{\"taken\":3}}";
        peer_write(p, wire, sizeof(wire));
        assert_int_equal(varlink_client_call(p->client, "io.portd.Sockets.List", NULL, VARLINK_CALL_MORE,
                                 &reply, &error),
                1);
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), 1);
        assert_int_equal(t.n, 1);
        assert_null(reply);
        assert_null(error);
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), 1);
        assert_int_equal(t.n, 1);
        assert_true(json_object_object_get_ex(reply, "i", &v));
        assert_int_equal(json_object_get_int(v), 2);
        /* The reader's last reply ends the stream. */
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), 0);
        assert_int_equal(t.n, 2);
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), -ENOMSG);
        json_object_put(peer_read_call(p, &call));

        /* An error ends a stream through the parsed path; the connection stays usable. */
        static const char wire2[] = "{\"parameters\":{\"taken\":0},\"continues\":true}\0"
                                    "{\"error\": \"io.portd.Sockets.QueryFailed\"}";
        peer_write(p, wire2, sizeof(wire2));
        assert_int_equal(varlink_client_call(p->client, "io.portd.Sockets.List", NULL, VARLINK_CALL_MORE,
                                 &reply, &error),
                1);
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), 0);
        assert_string_equal(error, "io.portd.Sockets.QueryFailed");
        json_object_put(peer_read_call(p, &call));

        /* Garbage the reader declines is garbage still; a reader's failure is the caller's. */
        static const char wire3[] = "{\"parameters\":{\"taken\":0},\"continues\":true}\0"
                                    "{\"parameters\":{\"i\":1},\"continues\":true}\0"
                                    "{\"parameters\": nope}";
        peer_write(p, wire3, sizeof(wire3));
        assert_int_equal(varlink_client_call(p->client, "io.portd.Sockets.List", NULL, VARLINK_CALL_MORE,
                                 &reply, &error),
                1);
        t.fail = -ENOMEM;
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), -ENOMEM);
        t.fail = 0;
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), -EBADMSG);
        assert_int_equal(varlink_client_next_with(p->client, take_marked, &t, &reply, &error), -ENOTCONN);
}

/* Replies read along with an earlier one wait in the client, where poll() on its socket cannot see
 * them: varlink_client_has_input() says so (portctl who --follow polls several clients). */
static void test_client_has_input(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;
        VarlinkCall call;

        static const char wire[] = "{\"parameters\": {\"i\": 0}, \"continues\": true}\0"
                                   "{\"parameters\": {\"i\": 1}, \"continues\": true}\0";
        assert_false(varlink_client_has_input(p->client));
        peer_write(p, wire, sizeof(wire) - 1);
        assert_int_equal(varlink_client_call(p->client, "io.portd.Sockets.Follow", NULL, VARLINK_CALL_MORE,
                                 &reply, &error),
                1);
        assert_true(varlink_client_has_input(p->client));
        assert_int_equal(varlink_client_next(p->client, &reply, &error), 1);
        assert_false(varlink_client_has_input(p->client));
        PEER_WRITE(p, "{\"parameters\": {\"i\": 2}}");
        peer_write(p, "", 1);
        assert_int_equal(varlink_client_next(p->client, &reply, &error), 0);
        assert_false(varlink_client_has_input(p->client));
        json_object_put(peer_read_call(p, &call));
}

static void test_client_continues_without_more(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;

        static const char wire[] = "{\"parameters\": {}, \"continues\": true}";
        peer_write(p, wire, sizeof(wire));
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -EPROTO);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -ENOTCONN);
}

static void send_with_fd(int sock, const char *data, size_t n, const int *fds, size_t n_fds)
{
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) data, .iov_len = n };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t) n);
}

static void test_client_fd_passing(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;
        struct stat a, b;
        int fd, devnull, fds[2];

        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(devnull >= 0);
        fds[0] = devnull;
        fds[1] = devnull;

        /* A plain stream reply first and then, in one sendmsg, the reply the fd belongs to: both
         * arrive in one read, and the fd must go to the second reply only.  A second fd in the
         * same message is closed by the client. */
        static const char first[] = "{\"parameters\": {\"n\": 1}, \"continues\": true}";
        static const char second[] = "{\"parameters\": {\"n\": 2}}";
        peer_write(p, first, sizeof(first));
        send_with_fd(p->peer, second, sizeof(second), fds, 2);

        assert_int_equal(varlink_client_call(p->client, "io.portd.Services.Snapshot", NULL,
                                 VARLINK_CALL_MORE, &reply, &error),
                1);
        assert_int_equal(varlink_client_take_fd(p->client), -ENOENT);
        assert_int_equal(varlink_client_next(p->client, &reply, &error), 0);
        fd = varlink_client_take_fd(p->client);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &a), 0);
        assert_int_equal(fstat(devnull, &b), 0);
        assert_int_equal(a.st_rdev, b.st_rdev);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(varlink_client_take_fd(p->client), -ENOENT);
        close(fd);

        /* An fd nobody takes is closed with the next call: a reply comes with one, is ignored. */
        send_with_fd(p->peer, second, sizeof(second), fds, 1);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), 0);
        close(devnull);
}

static void test_client_garbage(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;

        PEER_WRITE(p, "\x01\x02garbage");
        peer_write(p, "", 1);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -EBADMSG);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -ENOTCONN);
}

static void test_client_reply_shape(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;

        static const char wire[] = "{\"parameters\": [1], \"error\": 3}";
        peer_write(p, wire, sizeof(wire));
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -EBADMSG);
}

static void test_client_oversize(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;
        char big[2048];

        assert_int_equal(varlink_client_set_reply_max(p->client, 1024), 0);
        memset(big, ' ', sizeof(big));
        peer_write(p, big, sizeof(big));
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -EMSGSIZE);
        assert_int_equal(varlink_client_set_reply_max(p->client, 4096), -EBUSY);
}

static void test_client_timeout(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;

        /* Half a reply and then silence: the deadline (200 ms in setup) ends the wait. */
        PEER_WRITE(p, "{\"parameters\": {");
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -ETIMEDOUT);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -ENOTCONN);
}

static void test_client_eof(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;

        assert_int_equal(shutdown(p->peer, SHUT_WR), 0);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -ECONNRESET);
}

static void test_client_peer_gone(void **state)
{
        Pair *p = *state;
        struct json_object *reply;
        const char *error;

        /* Writing to a closed peer must not raise SIGPIPE (it would kill the test). */
        p->peer = safe_close(p->peer);
        assert_int_equal(varlink_client_call(p->client, "a.b.C", NULL, 0, &reply, &error), -ECONNRESET);
}

static void test_client_connect_errors(void **state)
{
        VarlinkClient *c = NULL;
        char longpath[200];

        assert_int_equal(varlink_client_connect("/nonexistent/portd.sock", 0, &c), -ENOENT);
        assert_int_equal(varlink_client_connect("relative", 0, &c), -EINVAL);
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        assert_int_equal(varlink_client_connect(longpath, 0, &c), -ENAMETOOLONG);
        assert_null(c);
        assert_null(varlink_client_free(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_framing_partial_reads),
                cmocka_unit_test(test_framing_several_in_one_read),
                cmocka_unit_test(test_framing_prepare_commit),
                cmocka_unit_test(test_framing_oversize),
                cmocka_unit_test(test_parse_garbage),
                cmocka_unit_test(test_garbage_in_stream),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_call_parse),
                cmocka_unit_test(test_build_and_reply_parse),
                cmocka_unit_test_setup_teardown(test_client_call, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_more, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_has_input, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_next_with, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(
                        test_client_continues_without_more, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_fd_passing, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_garbage, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_reply_shape, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_oversize, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_timeout, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_eof, pair_setup, pair_teardown),
                cmocka_unit_test_setup_teardown(test_client_peer_gone, pair_setup, pair_teardown),
                cmocka_unit_test(test_client_connect_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
