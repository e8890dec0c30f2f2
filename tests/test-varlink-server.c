/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of daemon/varlink-server.c with the server running on its own thread and event loop:
 * org.varlink.service, streams, oneway, fd passing, asynchronous answers, and what hostile
 * clients get (garbage, oversize, idle, too many connections, not reading their replies). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "util.h"
#include "varlink-server.h"
#include "varlink-wire.h"

#define TIMEOUT_USEC (5ULL * 1000ULL * 1000ULL)
/* The short idle and message timeouts of the tests that measure them.  The machine running the
 * tests may stall a process for hundreds of milliseconds (CI runs them beside a booting test bed),
 * so a test that must stay active sends well within it (a tenth) and nothing else runs with it. */
#define IDLE_USEC    (1000ULL * 1000ULL)

static const char test_interface[] = "# Methods for exercising the server.\n"
                                     "interface org.example.test\n"
                                     "\n"
                                     "method Echo(value: ?object) -> (value: ?object)\n"
                                     "method Count(n: int) -> (i: int)\n"
                                     "method Flood(bytes: int) -> (data: string)\n"
                                     "method Later() -> (late: bool)\n"
                                     "method Open() -> ()\n"
                                     "method Whoami() -> (uid: int, gid: int, pid: int)\n"
                                     "method Fail() -> ()\n"
                                     "method Connections() -> (n: int)\n"
                                     "method Stream(bytes: int) -> (data: string, i: int)\n"
                                     "method Unimplemented() -> ()\n";

typedef struct Server {
        pthread_t thread;
        sd_event *event;
        VarlinkServer *server;
        int stop[2];
        char dir[64];
        char path[128];
        VarlinkConnection *later; /* call answered from a timer */
} Server;

static int method_echo(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        return varlink_connection_reply(c, parameters);
}

static int reply_int(VarlinkConnection *c, const char *key, int64_t v, bool more)
{
        struct json_object *p = json_object_new_object();
        int r;

        json_object_object_add(p, key, json_object_new_int64(v));
        r = more ? varlink_connection_notify(c, p) : varlink_connection_reply(c, p);
        json_object_put(p);
        return r;
}

static int method_count(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        struct json_object *v;
        int64_t n;

        if (!json_object_object_get_ex(parameters, "n", &v) || !json_object_is_type(v, json_type_int))
                return varlink_connection_error_invalid_parameter(c, "n");
        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(c, VARLINK_ERROR_EXPECTED_MORE, NULL);
        n = json_object_get_int64(v);
        for (int64_t i = 0; i < n - 1; i++) {
                int r = reply_int(c, "i", i, true);
                if (r < 0)
                        return r;
        }
        return reply_int(c, "i", n - 1, false);
}

static int method_flood(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        struct json_object *v, *p;
        char chunk[4096];
        int64_t bytes;
        int r = 0;

        if (!json_object_object_get_ex(parameters, "bytes", &v))
                return varlink_connection_error_invalid_parameter(c, "bytes");
        bytes = json_object_get_int64(v);
        memset(chunk, 'x', sizeof(chunk) - 1);
        chunk[sizeof(chunk) - 1] = 0;
        p = json_object_new_object();
        json_object_object_add(p, "data", json_object_new_string(chunk));
        for (int64_t sent = 0; sent < bytes; sent += (int64_t) sizeof(chunk)) {
                r = varlink_connection_notify(c, p);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = varlink_connection_reply(c, p);
        json_object_put(p);
        /* Being dropped for not reading is the expected outcome here, not a method failure. */
        return r == -ENOBUFS || r == -ENOTCONN ? 0 : r;
}

static int on_later(sd_event_source *s, uint64_t usec, void *userdata)
{
        Server *srv = userdata;
        struct json_object *p = json_object_new_object();

        json_object_object_add(p, "late", json_object_new_boolean(1));
        (void) varlink_connection_reply(srv->later, p);
        json_object_put(p);
        srv->later = varlink_connection_unref(srv->later);
        return 0;
}

static int method_later(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        Server *srv = userdata;

        if (srv->later)
                return varlink_connection_error(c, "org.example.test.Busy", NULL);
        srv->later = varlink_connection_ref(c);
        return sd_event_add_time_relative(srv->event, NULL, CLOCK_MONOTONIC, 50 * 1000, 0, on_later, srv);
}

static int method_open(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return varlink_connection_reply_fd(c, NULL, fd);
}

static int method_whoami(
        VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        struct json_object *p = json_object_new_object();
        struct ucred uc;
        int r;

        assert_int_equal(varlink_connection_get_peer_credentials(c, &uc), 0);
        json_object_object_add(p, "uid", json_object_new_int64(uc.uid));
        json_object_object_add(p, "gid", json_object_new_int64(uc.gid));
        json_object_object_add(p, "pid", json_object_new_int64(uc.pid));
        int pidfd = varlink_connection_get_peer_pidfd(c);
        json_object_object_add(p, "pidfd", json_object_new_boolean(pidfd >= 0));
        safe_close(pidfd);
        r = varlink_connection_reply(c, p);
        json_object_put(p);
        return r;
}

static int method_fail(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        return -EIO;
}

static int method_connections(
        VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        return reply_int(c, "n", varlink_server_n_connections(varlink_connection_get_server(c)), false);
}

/* Stream: as Flood, but produced as the client reads, through varlink_connection_stream(). */
typedef struct StreamState {
        int64_t remaining;
        int64_t i;
} StreamState;

static int stream_produce(VarlinkConnection *c, void *userdata)
{
        StreamState *st = userdata;
        char chunk[1024];
        struct json_object *p = json_object_new_object();
        int r;

        memset(chunk, 'x', sizeof(chunk) - 1);
        chunk[sizeof(chunk) - 1] = 0;
        json_object_object_add(p, "data", json_object_new_string(chunk));
        json_object_object_add(p, "i", json_object_new_int64(st->i++));
        st->remaining -= (int64_t) sizeof(chunk);
        r = st->remaining > 0 ? varlink_connection_notify(c, p) : varlink_connection_reply(c, p);
        json_object_put(p);
        return r == -ENOTCONN ? 0 : r;
}

static int method_stream(
        VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        struct json_object *v;
        StreamState *st;

        if (!json_object_object_get_ex(parameters, "bytes", &v))
                return varlink_connection_error_invalid_parameter(c, "bytes");
        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(c, VARLINK_ERROR_EXPECTED_MORE, NULL);
        st = calloc(1, sizeof(StreamState));
        assert_non_null(st);
        st->remaining = json_object_get_int64(v);
        assert_int_equal(varlink_connection_stream(c, stream_produce, st, free), 0);
        return 0;
}

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void *server_thread(void *userdata)
{
        Server *srv = userdata;
        (void) sd_event_loop(srv->event);
        return NULL;
}

static Server *server_start(const VarlinkServerLimits *limits)
{
        static const struct {
                const char *name;
                VarlinkMethodCallback cb;
        } methods[] = {
                { "Echo", method_echo },
                { "Count", method_count },
                { "Flood", method_flood },
                { "Later", method_later },
                { "Open", method_open },
                { "Whoami", method_whoami },
                { "Fail", method_fail },
                { "Connections", method_connections },
                { "Stream", method_stream },
        };
        Server *srv = calloc(1, sizeof(Server));

        assert_non_null(srv);
        strcpy(srv->dir, "/tmp/test-varlink-server-XXXXXX");
        assert_non_null(mkdtemp(srv->dir));
        assert_int_equal(chmod(srv->dir, 0755), 0); /* an unprivileged child connects too */
        snprintf(srv->path, sizeof(srv->path), "%s/sock", srv->dir);
        assert_int_equal(pipe2(srv->stop, O_CLOEXEC), 0);

        assert_int_equal(sd_event_new(&srv->event), 0);
        assert_int_equal(sd_event_add_io(srv->event, NULL, srv->stop[0], EPOLLIN, on_stop, NULL), 0);
        assert_int_equal(
                varlink_server_new(srv->event, limits, "test", "1", "https://example.org", &srv->server), 0);
        assert_int_equal(varlink_server_add_interface(srv->server, test_interface), 0);
        assert_int_equal(varlink_server_add_interface(srv->server, test_interface), -EEXIST);
        assert_int_equal(
                varlink_server_add_interface(srv->server, "# nothing\nmethod X() -> ()\n"), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                char name[64];
                snprintf(name, sizeof(name), "org.example.test.%s", methods[i].name);
                assert_int_equal(varlink_server_add_method(srv->server, name, methods[i].cb, srv), 0);
        }
        assert_int_equal(
                varlink_server_add_method(srv->server, "org.example.test.Echo", method_echo, srv), -EEXIST);
        assert_int_equal(
                varlink_server_add_method(srv->server, "org.example.other.Echo", method_echo, srv), -ENOENT);
        assert_int_equal(varlink_server_listen_path(srv->server, srv->path, 0666), 0);

        struct stat st;
        assert_int_equal(stat(srv->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0666);

        assert_int_equal(pthread_create(&srv->thread, NULL, server_thread, srv), 0);
        return srv;
}

static void server_stop(Server *srv)
{
        assert_int_equal(write(srv->stop[1], "x", 1), 1);
        assert_int_equal(pthread_join(srv->thread, NULL), 0);
        varlink_connection_unref(srv->later);
        varlink_server_free(srv->server);
        sd_event_unref(srv->event);
        close(srv->stop[0]);
        close(srv->stop[1]);
        unlink(srv->path);
        rmdir(srv->dir);
        free(srv);
}

static int setup_default(void **state)
{
        *state = server_start(NULL);
        return 0;
}

/* Small bounds with the default idle timeout: a stalled test process must not have its held
 * connections closed as idle, which would free slots and change what the caps let in. */
static int setup_small(void **state)
{
        VarlinkServerLimits limits = {
                .message_max = 1024,
                .output_max = 64 * 1024,
                .connections_max = 8,
                .connections_per_uid_max = 3,
        };
        *state = server_start(&limits);
        return 0;
}

/* setup_small's bounds with the short idle timeout, for the tests that measure it. */
static int setup_idle(void **state)
{
        VarlinkServerLimits limits = {
                .message_max = 1024,
                .output_max = 64 * 1024,
                .idle_timeout_usec = IDLE_USEC,
                .connections_max = 8,
                .connections_per_uid_max = 3,
        };
        *state = server_start(&limits);
        return 0;
}

/* The output bound of setup_small with the default idle timeout: for tests whose client may be
 * descheduled for a while on a loaded machine without meaning to be idle. */
static int setup_small_output(void **state)
{
        VarlinkServerLimits limits = {
                .output_max = 64 * 1024,
        };
        *state = server_start(&limits);
        return 0;
}

static int setup_reserve(void **state)
{
        VarlinkServerLimits limits = {
                .connections_max = 8,
                .connections_root_reserve = 2,
                .connections_per_uid_max = 3,
        };
        *state = server_start(&limits);
        return 0;
}

static int setup_trickle(void **state)
{
        VarlinkServerLimits limits = {
                .idle_timeout_usec = 5ULL * 1000ULL * 1000ULL,
                .message_timeout_usec = IDLE_USEC,
        };
        *state = server_start(&limits);
        return 0;
}

static int teardown(void **state)
{
        server_stop(*state);
        return 0;
}

static VarlinkClient *connect_client(Server *srv)
{
        VarlinkClient *c = NULL;
        assert_int_equal(varlink_client_connect(srv->path, TIMEOUT_USEC, &c), 0);
        return c;
}

static int raw_connect_or_fail(Server *srv)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        strcpy(sa.sun_path, srv->path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int raw_connect(Server *srv)
{
        int fd = raw_connect_or_fail(srv);
        assert_true(fd >= 0);
        return fd;
}

/* Reads until EOF or timeout_ms; returns bytes read before EOF, or -ETIMEDOUT. */
static ssize_t raw_read_to_eof(int fd, int timeout_ms, char *buf, size_t size)
{
        size_t n = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char scratch[65536];
                int r = poll(&p, 1, timeout_ms);
                if (r == 0)
                        return -ETIMEDOUT;
                ssize_t k = read(fd, scratch, sizeof(scratch));
                if (k < 0)
                        return errno == ECONNRESET ? (ssize_t) n : -errno;
                if (k == 0)
                        return (ssize_t) n;
                if (buf && n < size)
                        memcpy(buf + n, scratch, MIN((size_t) k, size - n));
                n += (size_t) k;
        }
}

static void test_service_interface(void **state)
{
        Server *srv = *state;
        VarlinkClient *c = connect_client(srv);
        struct json_object *reply, *v, *p;
        const char *error;

        assert_int_equal(varlink_client_call(c, "org.varlink.service.GetInfo", NULL, 0, &reply, &error), 0);
        assert_null(error);
        assert_true(json_object_object_get_ex(reply, "vendor", &v));
        assert_string_equal(json_object_get_string(v), "portd");
        assert_true(json_object_object_get_ex(reply, "product", &v));
        assert_string_equal(json_object_get_string(v), "test");
        assert_true(json_object_object_get_ex(reply, "url", &v));
        assert_string_equal(json_object_get_string(v), "https://example.org");
        assert_true(json_object_object_get_ex(reply, "interfaces", &v));
        assert_int_equal(json_object_array_length(v), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "org.varlink.service");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "org.example.test");

        /* Served exactly as registered. */
        p = json_object_new_object();
        json_object_object_add(p, "interface", json_object_new_string("org.example.test"));
        assert_int_equal(
                varlink_client_call(c, "org.varlink.service.GetInterfaceDescription", p, 0, &reply, &error),
                0);
        json_object_put(p);
        assert_null(error);
        assert_true(json_object_object_get_ex(reply, "description", &v));
        assert_string_equal(json_object_get_string(v), test_interface);

        p = json_object_new_object();
        json_object_object_add(p, "interface", json_object_new_string("org.example.nope"));
        assert_int_equal(
                varlink_client_call(c, "org.varlink.service.GetInterfaceDescription", p, 0, &reply, &error),
                0);
        json_object_put(p);
        assert_string_equal(error, VARLINK_ERROR_INTERFACE_NOT_FOUND);
        assert_true(json_object_object_get_ex(reply, "interface", &v));
        assert_string_equal(json_object_get_string(v), "org.example.nope");

        assert_int_equal(varlink_client_call(
                                 c, "org.varlink.service.GetInterfaceDescription", NULL, 0, &reply, &error),
                0);
        assert_string_equal(error, VARLINK_ERROR_INVALID_PARAMETER);
        assert_true(json_object_object_get_ex(reply, "parameter", &v));
        assert_string_equal(json_object_get_string(v), "interface");

        assert_int_equal(varlink_client_call(c, "org.example.nope.Foo", NULL, 0, &reply, &error), 0);
        assert_string_equal(error, VARLINK_ERROR_INTERFACE_NOT_FOUND);
        /* Declared in the interface but not registered, versus not declared at all. */
        assert_int_equal(
                varlink_client_call(c, "org.example.test.Unimplemented", NULL, 0, &reply, &error), 0);
        assert_string_equal(error, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED);
        assert_true(json_object_object_get_ex(reply, "method", &v));
        assert_string_equal(json_object_get_string(v), "Unimplemented");
        assert_int_equal(varlink_client_call(c, "org.example.test.Unimpl", NULL, 0, &reply, &error), 0);
        assert_string_equal(error, VARLINK_ERROR_METHOD_NOT_FOUND);
        assert_true(json_object_object_get_ex(reply, "method", &v));
        assert_string_equal(json_object_get_string(v), "Unimpl");

        varlink_client_free(c);
}

static void test_methods(void **state)
{
        Server *srv = *state;
        VarlinkClient *c = connect_client(srv);
        struct json_object *reply, *v, *p;
        const char *error;
        struct stat st;
        int r, fd;

        p = json_object_new_object();
        json_object_object_add(p, "value", json_object_new_string("a/b \xc3\xa9"));
        assert_int_equal(varlink_client_call(c, "org.example.test.Echo", p, 0, &reply, &error), 0);
        json_object_put(p);
        assert_true(json_object_object_get_ex(reply, "value", &v));
        assert_string_equal(json_object_get_string(v), "a/b \xc3\xa9");

        /* A stream. */
        p = json_object_new_object();
        json_object_object_add(p, "n", json_object_new_int(100));
        r = varlink_client_call(c, "org.example.test.Count", p, VARLINK_CALL_MORE, &reply, &error);
        for (int i = 0;; i++) {
                assert_true(r >= 0);
                assert_null(error);
                assert_true(json_object_object_get_ex(reply, "i", &v));
                assert_int_equal(json_object_get_int(v), i);
                if (r == 0) {
                        assert_int_equal(i, 99);
                        break;
                }
                r = varlink_client_next(c, &reply, &error);
        }
        /* The same without "more". */
        assert_int_equal(varlink_client_call(c, "org.example.test.Count", p, 0, &reply, &error), 0);
        assert_string_equal(error, VARLINK_ERROR_EXPECTED_MORE);
        json_object_put(p);

        /* Oneway: no reply, and the next call still gets the right answer. */
        assert_int_equal(
                varlink_client_call(c, "org.example.test.Echo", NULL, VARLINK_CALL_ONEWAY, &reply, &error),
                0);
        assert_int_equal(varlink_client_call(c, "org.example.test.Whoami", NULL, 0, &reply, &error), 0);
        assert_null(error);
        assert_true(json_object_object_get_ex(reply, "pid", &v));
        assert_int_equal(json_object_get_int(v), getpid());
        assert_true(json_object_object_get_ex(reply, "uid", &v));
        assert_int_equal(json_object_get_int(v), getuid());

        /* An fd with its reply. */
        assert_int_equal(varlink_client_call(c, "org.example.test.Open", NULL, 0, &reply, &error), 0);
        assert_null(error);
        fd = varlink_client_take_fd(c);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        close(fd);

        /* An asynchronous answer. */
        assert_int_equal(varlink_client_call(c, "org.example.test.Later", NULL, 0, &reply, &error), 0);
        assert_null(error);
        assert_true(json_object_object_get_ex(reply, "late", &v));
        assert_true(json_object_get_boolean(v));

        varlink_client_free(c);

        /* A method that fails without answering costs the caller its connection, nobody else's. */
        c = connect_client(srv);
        VarlinkClient *other = connect_client(srv);
        assert_int_equal(
                varlink_client_call(c, "org.example.test.Fail", NULL, 0, &reply, &error), -ECONNRESET);
        assert_int_equal(varlink_client_call(other, "org.example.test.Echo", NULL, 0, &reply, &error), 0);
        varlink_client_free(c);
        varlink_client_free(other);
}

static void test_pipelining_and_half_close(void **state)
{
        Server *srv = *state;
        int fd = raw_connect(srv);
        char buf[8192];
        VarlinkBuffer in;
        const char *m;
        size_t n;
        ssize_t k;

        /* Three calls in one write, then the write side shut: every reply comes, in order, then EOF. */
        static const char calls[] =
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"value\":1}}\0"
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"value\":2},\"oneway\":true}\0"
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"value\":3}}";
        assert_int_equal(write(fd, calls, sizeof(calls)), (ssize_t) sizeof(calls));
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        k = raw_read_to_eof(fd, 5000, buf, sizeof(buf));
        assert_true(k > 0);
        varlink_buffer_init(&in, 0);
        assert_int_equal(varlink_buffer_append(&in, buf, (size_t) k), 0);
        assert_int_equal(varlink_buffer_next(&in, &m, &n), 1);
        assert_non_null(strstr(m, "\"value\":1"));
        assert_int_equal(varlink_buffer_next(&in, &m, &n), 1);
        assert_non_null(strstr(m, "\"value\":3"));
        assert_int_equal(varlink_buffer_next(&in, &m, &n), 0);
        varlink_buffer_done(&in);
        close(fd);
}

static void test_pipelined_flood(void **state)
{
        Server *srv = *state;
        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        const size_t n_calls = 20000;
        size_t sent = 0, got = 0, off = 0;
        VarlinkBuffer in;
        int fd = raw_connect(srv);

        /* Far more replies than the server's high-water mark, written while we are still sending:
         * every call must be answered, in order, nothing lost or dropped. */
        char *batch = malloc(sizeof(call) * 1000);
        assert_non_null(batch);
        for (size_t i = 0; i < 1000; i++)
                memcpy(batch + i * sizeof(call), call, sizeof(call));
        assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        varlink_buffer_init(&in, 0);
        while (got < n_calls) {
                bool progress = false;

                /* Send until the socket is full, and only then read: the server's replies pile up
                 * on its side while we do not read. */
                while (sent < n_calls) {
                        /* Big writes, so the socket holds many calls rather than many skbs. */
                        size_t total = (n_calls - sent) * sizeof(call);
                        ssize_t k =
                                send(fd, batch + off, MIN(total, sizeof(call) * 1000) - off, MSG_NOSIGNAL);
                        if (k < 0) {
                                assert_int_equal(errno, EAGAIN);
                                break;
                        }
                        progress = true;
                        off += (size_t) k;
                        sent += off / sizeof(call);
                        off %= sizeof(call);
                }
                for (;;) {
                        char *buf;
                        size_t avail;
                        const char *m;
                        size_t n;

                        assert_int_equal(varlink_buffer_prepare(&in, 65536, &buf, &avail), 0);
                        ssize_t k = recv(fd, buf, avail, 0);
                        if (k < 0) {
                                assert_int_equal(errno, EAGAIN);
                                break;
                        }
                        assert_true(k > 0);
                        progress = true;
                        varlink_buffer_commit(&in, (size_t) k);
                        while (varlink_buffer_next(&in, &m, &n) > 0) {
                                assert_non_null(strstr(m, "\"vendor\":\"portd\""));
                                got++;
                        }
                }
                if (!progress) {
                        struct pollfd p = { .fd = fd, .events = POLLIN | (sent < n_calls ? POLLOUT : 0) };
                        assert_int_equal(poll(&p, 1, 5000), 1);
                }
        }
        assert_int_equal(got, n_calls);
        free(batch);
        varlink_buffer_done(&in);
        close(fd);
}

static void test_garbage(void **state)
{
        Server *srv = *state;
        VarlinkClient *good = connect_client(srv);
        struct json_object *reply;
        const char *error;

        static const char *const hostile[] = {
                "garbage",
                "[\"method\"]",
                "{\"method\": 42}",
                "{\"method\": \"nodots\"}",
                "{\"method\": \"org.example.test.Echo\", \"parameters\": [1]}",
                "{\"method\": \"org.example.test.Echo\", \"more\": \"yes\"}",
                "{\"method\": \"org.example.test.Echo\"",
                "\xff\xfe{}",
        };
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                int fd = raw_connect(srv);
                assert_int_equal(
                        write(fd, hostile[i], strlen(hostile[i]) + 1), (ssize_t) strlen(hostile[i]) + 1);
                /* Closed without an answer. */
                if (raw_read_to_eof(fd, 5000, NULL, 0) != 0)
                        fail_msg("no clean EOF after '%s'", hostile[i]);
                close(fd);
                assert_int_equal(
                        varlink_client_call(good, "org.example.test.Echo", NULL, 0, &reply, &error), 0);
                assert_null(error);
        }
        varlink_client_free(good);
}

static void test_oversize(void **state)
{
        Server *srv = *state;
        VarlinkClient *good = connect_client(srv);
        struct json_object *reply;
        const char *error;
        char big[2048];
        int fd;

        /* message_max is 1 KiB here: a longer message without a NUL yet is enough to be dropped. */
        fd = raw_connect(srv);
        memset(big, ' ', sizeof(big));
        memcpy(big, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"value\":\"", 56);
        assert_int_equal(write(fd, big, sizeof(big)), (ssize_t) sizeof(big));
        assert_int_equal(raw_read_to_eof(fd, 5000, NULL, 0), 0);
        close(fd);

        assert_int_equal(varlink_client_call(good, "org.example.test.Echo", NULL, 0, &reply, &error), 0);
        varlink_client_free(good);
}

static void test_idle_timeout(void **state)
{
        Server *srv = *state;
        struct json_object *reply;
        const char *error;
        VarlinkClient *c = connect_client(srv);
        struct timespec a, b;
        int fd;

        /* Active connections live on past the idle timeout... */
        for (int i = 0; i < 15; i++) {
                struct timespec ts = { .tv_nsec = IDLE_USEC * 1000 / 10 };
                assert_int_equal(
                        varlink_client_call(c, "org.example.test.Echo", NULL, 0, &reply, &error), 0);
                nanosleep(&ts, NULL);
        }
        varlink_client_free(c);

        /* ...idle ones are closed after it. */
        fd = raw_connect(srv);
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(raw_read_to_eof(fd, 5000, NULL, 0), 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t waited =
                (int64_t) (b.tv_sec - a.tv_sec) * 1000000 + (int64_t) (b.tv_nsec - a.tv_nsec) / 1000;
        assert_true(waited >= (int64_t) IDLE_USEC * 9 / 10);
        assert_true(waited < (int64_t) IDLE_USEC + 2000000);
        close(fd);
}

/* Waits until the server counts at most n connections, this probe's included: a close is seen by
 * the server thread some time after close() returns, and a loaded machine makes that time long. */
static void wait_for_connections(Server *srv, int n)
{
        for (int i = 0; i < 500; i++) {
                struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                struct json_object *reply, *v;
                VarlinkClient *c = NULL;
                const char *error;
                int64_t k = INT64_MAX;

                /* While the old connections still count, the probe itself may be turned away. */
                if (varlink_client_connect(srv->path, TIMEOUT_USEC, &c) == 0 &&
                        varlink_client_call(c, "org.example.test.Connections", NULL, 0, &reply, &error) == 0 &&
                        json_object_object_get_ex(reply, "n", &v))
                        k = json_object_get_int64(v);
                varlink_client_free(c);
                if (k <= n)
                        return;
                nanosleep(&ts, NULL);
        }
        fail_msg("the server still counts more than %d connections after 5 s", n);
}

/* In a forked child, after it changed its IDs (which clears the parent-death signal): a failed
 * assertion in the test must not leave the child holding the test's pipes. */
static void die_with_parent(pid_t parent)
{
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(1);
}

/* Opens n connections and returns how many of them are served. */
static int count_served(Server *srv, int n)
{
        int fds[16], served = 0;

        assert_true(n <= (int) ELEMENTSOF(fds));
        for (int i = 0; i < n; i++)
                fds[i] = raw_connect(srv);
        for (int i = 0; i < n; i++) {
                static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
                char buf[512];
                struct pollfd p = { .fd = fds[i], .events = POLLIN };

                if (send(fds[i], call, sizeof(call), MSG_NOSIGNAL) != (ssize_t) sizeof(call))
                        continue;
                if (poll(&p, 1, 5000) == 1 && read(fds[i], buf, sizeof(buf)) > 0)
                        served++;
        }
        for (int i = 0; i < n; i++)
                close(fds[i]);
        return served;
}

static void test_connection_caps(void **state)
{
        Server *srv = *state;

        if (geteuid() != 0) {
                /* Limit 3 per UID for us. */
                assert_int_equal(count_served(srv, 5), 3);
                return;
        }

        /* Root is bound only by the total of 8. */
        assert_int_equal(count_served(srv, 10), 8);
        wait_for_connections(srv, 1);

        /* An unprivileged UID gets 3, and root still gets in while it holds them. */
        int sync[2];
        assert_int_equal(pipe(sync), 0);
        pid_t parent = getpid(), pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(sync[0]);
                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(100);
                die_with_parent(parent);
                int fds[5], served = 0;
                for (int i = 0; i < 5; i++)
                        if ((fds[i] = raw_connect_or_fail(srv)) < 0)
                                _exit(101);
                for (int i = 0; i < 5; i++) {
                        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
                        char buf[512];
                        struct pollfd p = { .fd = fds[i], .events = POLLIN };
                        if (send(fds[i], call, sizeof(call), MSG_NOSIGNAL) == (ssize_t) sizeof(call) &&
                                poll(&p, 1, 5000) == 1 && read(fds[i], buf, sizeof(buf)) > 0)
                                served++;
                }
                /* Hold the connections while root tries. */
                (void) write(sync[1], &served, sizeof(served));
                pause();
                _exit(0);
        }
        close(sync[1]);
        int served = -1;
        assert_int_equal(read(sync[0], &served, sizeof(served)), (ssize_t) sizeof(served));
        assert_int_equal(served, 3);
        assert_int_equal(count_served(srv, 2), 2);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sync[0]);
}

static void test_slow_reader(void **state)
{
        Server *srv = *state;
        VarlinkClient *good = connect_client(srv);
        struct json_object *reply, *v;
        const char *error;
        int fd;

        /* Ask for 4 MiB of replies and never read: the 64 KiB output bound drops the connection. */
        fd = raw_connect(srv);
        static const char call[] =
                "{\"method\":\"org.example.test.Flood\",\"parameters\":{\"bytes\":4194304},\"more\":true}";
        assert_int_equal(write(fd, call, sizeof(call)), (ssize_t) sizeof(call));
        for (int i = 0; i < 500; i++) {
                struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                assert_int_equal(
                        varlink_client_call(good, "org.example.test.Connections", NULL, 0, &reply, &error),
                        0);
                assert_true(json_object_object_get_ex(reply, "n", &v));
                if (json_object_get_int(v) == 1)
                        break;
                nanosleep(&ts, NULL);
        }
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(raw_read_to_eof(fd, 5000, NULL, 0) >= 0);
        close(fd);
        varlink_client_free(good);
}

static int64_t elapsed_usec(const struct timespec *a)
{
        struct timespec b;
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (int64_t) (b.tv_sec - a->tv_sec) * 1000000 + (int64_t) (b.tv_nsec - a->tv_nsec) / 1000;
}

/* A child as uid that opens n connections, gets each served once, holds them, and reports how
 * many were served through sync. */
static pid_t hold_connections_as(Server *srv, uid_t uid, int n, int sync_fd)
{
        pid_t parent = getpid(), pid = fork();
        assert_true(pid >= 0);
        if (pid > 0)
                return pid;
        if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                _exit(100);
        die_with_parent(parent);
        int fds[16], served = 0;
        for (int i = 0; i < n; i++)
                fds[i] = raw_connect_or_fail(srv);
        for (int i = 0; i < n; i++) {
                static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
                char buf[512];
                struct pollfd p = { .fd = fds[i], .events = POLLIN };
                if (fds[i] >= 0 &&
                        send(fds[i], call, sizeof(call), MSG_NOSIGNAL) == (ssize_t) sizeof(call) &&
                        poll(&p, 1, 5000) == 1 && read(fds[i], buf, sizeof(buf)) > 0)
                        served++;
        }
        (void) write(sync_fd, &served, sizeof(served));
        pause();
        _exit(0);
}

static void test_root_reserve(void **state)
{
        Server *srv = *state;
        pid_t pids[3];
        int sync[2], total = 0;

        if (geteuid() != 0)
                skip();

        /* Three users with 3 connections each would take all 8 slots; the last 2 stay root's.  The
         * 6 users' slots are shared fairly: the third user takes one slot from each of the others
         * (3, 3 -> 2, 2) and is refused only its third, where all hold 2. */
        assert_int_equal(pipe(sync), 0);
        for (int k = 0; k < 3; k++) {
                int served = -1;
                pids[k] = hold_connections_as(srv, 65534 - (uid_t) k, 3, sync[1]);
                assert_int_equal(read(sync[0], &served, sizeof(served)), (ssize_t) sizeof(served));
                assert_int_equal(served, k < 2 ? 3 : 2);
                total += served;
        }
        assert_int_equal(total, 8);
        assert_int_equal(count_served(srv, 3), 2);
        for (int k = 0; k < 3; k++) {
                kill(pids[k], SIGKILL);
                waitpid(pids[k], NULL, 0);
        }
        close(sync[0]);
        close(sync[1]);
}

static void test_message_deadline(void **state)
{
        Server *srv = *state;
        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        struct timespec start;
        int fd = raw_connect(srv);
        bool closed = false;

        /* One byte every 20 ms keeps the connection active, but the message never completes: it
         * is closed at its 1 s deadline, long before the 5 s idle timeout. */
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (size_t i = 0; elapsed_usec(&start) < (int64_t) IDLE_USEC + 3000000; i = (i + 1) % (sizeof(call) - 1)) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (send(fd, call + i, 1, MSG_NOSIGNAL) < 0 ||
                        (poll(&p, 1, 20) == 1 && read(fd, &(char){ 0 }, 1) <= 0)) {
                        closed = true;
                        break;
                }
                /* Never complete it: wrap before the closing brace. */
                if (i == sizeof(call) - 3)
                        i = (size_t) -1;
        }
        assert_true(closed);
        assert_true(elapsed_usec(&start) >= (int64_t) IDLE_USEC * 9 / 10);
        assert_true(elapsed_usec(&start) < (int64_t) IDLE_USEC + 2000000);
        close(fd);

        /* Complete messages sent slowly are fine: each one restarts the clock. */
        VarlinkClient *c = connect_client(srv);
        for (int i = 0; i < 15; i++) {
                struct json_object *reply;
                const char *error;
                struct timespec ts = { .tv_nsec = IDLE_USEC * 1000 / 10 };
                assert_int_equal(
                        varlink_client_call(c, "org.example.test.Echo", NULL, 0, &reply, &error), 0);
                nanosleep(&ts, NULL);
        }
        varlink_client_free(c);
}

static unsigned count_own_fds(void)
{
        unsigned n = 0;
        for (int fd = 0; fd < 4096; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        n++;
        return n;
}

/* Reads n replies, each with one fd; returns how many came with their fd. */
static size_t read_fd_replies(int fd, size_t n)
{
        size_t replies = 0, fds = 0;

        while (replies < n) {
                char buf[65536];
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int) * 64)];
                } control;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr mh = { .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control) };
                struct pollfd p = { .fd = fd, .events = POLLIN };

                assert_int_equal(poll(&p, 1, 5000), 1);
                ssize_t k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
                assert_true(k > 0);
                for (ssize_t i = 0; i < k; i++)
                        if (buf[i] == 0)
                                replies++;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                                continue;
                        size_t m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t j = 0; j < m; j++) {
                                int got;
                                memcpy(&got, CMSG_DATA(cm) + j * sizeof(int), sizeof(int));
                                close(got);
                                fds++;
                        }
                }
        }
        return fds;
}

static void test_fd_pipeline(void **state)
{
        Server *srv = *state;
        static const char call[] = "{\"method\":\"org.example.test.Open\"}";
        const size_t n_calls = 500;
        char *batch = malloc(sizeof(call) * n_calls);
        struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };
        int fd = raw_connect(srv);

        /* The server runs in this process: its descriptors are ours to count.  500 pipelined
         * calls that each answer with an fd, never read: at most one duplicate waits. */
        assert_non_null(batch);
        for (size_t i = 0; i < n_calls; i++)
                memcpy(batch + i * sizeof(call), call, sizeof(call));
        unsigned before = count_own_fds();
        assert_int_equal(
                send(fd, batch, sizeof(call) * n_calls, MSG_NOSIGNAL), (ssize_t) (sizeof(call) * n_calls));
        nanosleep(&ts, NULL);
        unsigned during = count_own_fds();
        /* Allowance: the accepted socket, the one duplicate, a /dev/null being opened. */
        if (during > before + 3)
                fail_msg("%u descriptors queued for one client", during - before);
        /* Still every call answered, each with its fd. */
        assert_int_equal(read_fd_replies(fd, n_calls), n_calls);
        free(batch);
        close(fd);
}

static void test_fd_exhaustion(void **state)
{
        Server *srv = *state;
        static const char info[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        static const char call[] = "{\"method\":\"org.example.test.Open\"}";
        struct rlimit old, low;
        int fillers[256], n_fillers = 0, filled_errno = 0, polled = -1;
        int fd = raw_connect(srv);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[4096];

        /* Out of descriptors, a call that must send one waits instead of losing its connection,
         * and is answered once descriptors are free again.  First one answered call, so that the
         * server thread has accepted this connection and sits idle: a descriptor it held for a
         * moment while the table was being filled would free a slot, and the call be answered. */
        assert_int_equal(send(fd, info, sizeof(info), MSG_NOSIGNAL), (ssize_t) sizeof(info));
        for (size_t got = 0; got == 0 || buf[got - 1] != '\0';) {
                assert_int_equal(poll(&p, 1, 5000), 1);
                ssize_t k = read(fd, buf + got, sizeof(buf) - got);
                assert_true(k > 0);
                got += (size_t) k;
                assert_true(got < sizeof(buf));
        }

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        low = old;
        low.rlim_cur = 128;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        while (n_fillers < (int) ELEMENTSOF(fillers)) {
                int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (f < 0) {
                        filled_errno = errno;
                        break;
                }
                fillers[n_fillers++] = f;
        }
        if (filled_errno == EMFILE) {
                assert_int_equal(send(fd, call, sizeof(call), MSG_NOSIGNAL), (ssize_t) sizeof(call));
                polled = poll(&p, 1, 300); /* no answer, and no EOF either */
        }
        /* Give the descriptors and the limit back before any assertion can end the test: the
         * tests after this one share the process. */
        while (n_fillers > 0)
                close(fillers[--n_fillers]);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        assert_int_equal(filled_errno, EMFILE);
        assert_int_equal(polled, 0);
        assert_int_equal(read_fd_replies(fd, 1), 1);
        close(fd);
}

static void test_stream_slow_reader(void **state)
{
        Server *srv = *state;
        static const char call[] =
                "{\"method\":\"org.example.test.Stream\",\"parameters\":{\"bytes\":4194304},\"more\":true}";
        struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
        VarlinkBuffer in;
        int64_t expect = 0;
        bool done = false;
        int fd = raw_connect(srv);

        /* Timing-bound (a paused reader against the server's deadlines): under valgrind the server
         * thread runs many times slower and the test would measure valgrind, not the server. */
        if (getenv("PORTD_UNDER_VALGRIND")) {
                close(fd);
                return;
        }

        /* 4 MiB of replies with a 64 KiB output bound: produced as the client reads, the stream
         * survives a pause in reading and arrives whole, in order. */
        assert_int_equal(write(fd, call, sizeof(call)), (ssize_t) sizeof(call));
        nanosleep(&ts, NULL);
        varlink_buffer_init(&in, 0);
        while (!done) {
                char *buf;
                size_t avail, n;
                const char *m;
                struct pollfd p = { .fd = fd, .events = POLLIN };

                assert_int_equal(poll(&p, 1, 5000), 1);
                assert_int_equal(varlink_buffer_prepare(&in, 65536, &buf, &avail), 0);
                ssize_t k = recv(fd, buf, avail, 0);
                assert_true(k > 0);
                varlink_buffer_commit(&in, (size_t) k);
                while (varlink_buffer_next(&in, &m, &n) > 0) {
                        struct json_object *o = json_tokener_parse(m), *params, *v;
                        assert_non_null(o);
                        assert_true(json_object_object_get_ex(o, "parameters", &params));
                        assert_true(json_object_object_get_ex(params, "i", &v));
                        assert_int_equal(json_object_get_int64(v), expect++);
                        done = !json_object_object_get_ex(o, "continues", &v) || !json_object_get_boolean(v);
                        json_object_put(o);
                }
        }
        assert_int_equal(expect, 4096);
        varlink_buffer_done(&in);
        close(fd);
}

/* Reads a whole Stream of bytes, in reads of at most chunk bytes as fast as they come; returns the
 * number of replies, or -ETIMEDOUT when nothing came for 2 s (the stream stalled). */
static int64_t read_stream(int fd, size_t chunk)
{
        VarlinkBuffer in;
        int64_t n = 0;
        bool done = false;

        varlink_buffer_init(&in, 0);
        while (!done) {
                char *buf;
                size_t avail, len;
                const char *m;
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (poll(&p, 1, 2000) != 1) {
                        n = -ETIMEDOUT;
                        break;
                }
                assert_int_equal(varlink_buffer_prepare(&in, chunk, &buf, &avail), 0);
                ssize_t k = recv(fd, buf, MIN(avail, chunk), 0);
                assert_true(k > 0);
                varlink_buffer_commit(&in, (size_t) k);
                while (varlink_buffer_next(&in, &m, &len) > 0) {
                        n++;
                        done = !strstr(m, "\"continues\":true");
                }
        }
        varlink_buffer_done(&in);
        return n;
}

/* A reader that keeps up: the stream must never stall.  A client that read between the server's
 * two flushes (the loop's and the one after it) emptied the output while the stream was paused on
 * its low-water mark, and with nothing queued no event was asked for: the stream waited for ever
 * (seen as "portctl list: Connection timed out" on the IANA catalog under load). */
static void test_stream_fast_reader(void **state)
{
        Server *srv = *state;
        static const char call[] =
                "{\"method\":\"org.example.test.Stream\",\"parameters\":{\"bytes\":1048576},\"more\":true}";

        for (int i = 0; i < 40; i++) {
                int fd = raw_connect(srv);
                assert_int_equal(write(fd, call, sizeof(call)), (ssize_t) sizeof(call));
                int64_t n = read_stream(fd, 1 + (size_t) (i % 8) * 997);
                close(fd);
                if (n != 1024)
                        fail_msg("stream %d: %" PRId64 " replies of 1024 (%s)", i, n,
                                n == -ETIMEDOUT ? "it stalled" : "short");
        }
}

static void test_stream_never_read(void **state)
{
        Server *srv = *state;
        static const char call[] =
                "{\"method\":\"org.example.test.Stream\",\"parameters\":{\"bytes\":4194304},\"more\":true}";
        struct timespec start;
        int fd = raw_connect(srv);

        /* A stream waits for its reader, so the call stays open; replies that are never read are
         * idle all the same, and the connection goes at the idle timeout. */
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(write(fd, call, sizeof(call)), (ssize_t) sizeof(call));
        wait_for_connections(srv, 1);
        assert_true(elapsed_usec(&start) >= (int64_t) IDLE_USEC * 9 / 10);
        assert_true(raw_read_to_eof(fd, 5000, NULL, 0) > 0);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_service_interface, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_methods, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_pipelining_and_half_close, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_pipelined_flood, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_oversize, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_idle_timeout, setup_idle, teardown),
                cmocka_unit_test_setup_teardown(test_connection_caps, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_slow_reader, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_root_reserve, setup_reserve, teardown),
                cmocka_unit_test_setup_teardown(test_message_deadline, setup_trickle, teardown),
                cmocka_unit_test_setup_teardown(test_fd_pipeline, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_fd_exhaustion, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_stream_slow_reader, setup_small_output, teardown),
                cmocka_unit_test_setup_teardown(test_stream_never_read, setup_idle, teardown),
                cmocka_unit_test_setup_teardown(test_stream_fast_reader, setup_small_output, teardown),
        };

        signal(SIGPIPE, SIG_IGN);
        /* To run one test alone, e.g. in a loop on a loaded machine. */
        if (getenv("PORTD_TEST_FILTER"))
                cmocka_set_test_filter(getenv("PORTD_TEST_FILTER"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
