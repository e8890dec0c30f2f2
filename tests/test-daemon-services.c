/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.portd.Services as the daemon serves it: parameter checks, List, the sealed snapshot hand-off
 * and its superseded word, Status, Explain, Verify, Reload and the override edits.  The daemon code
 * (daemon/) runs in a forked child on a temporary --root; the test talks to it with the project's
 * varlink client. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "catalog.h"
#include "daemon.h"
#include "log.h"
#include "overrides.h"
#include "snapshot.h"
#include "varlink-wire.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define BASE_TEXT                                                                                           \
        "# a small base\n"                                                                                  \
        "ssh\t\t22/tcp\n"                                                                                   \
        "domain\t\t53/tcp\n"                                                                                \
        "domain\t\t53/udp\n"                                                                                \
        "http\t\t80/tcp\t\twww\n"                                                                           \
        "bad\t\t99x/tcp\n"                                                                                  \
        "noproto\t\t1004\n"                                                                                 \
        "top\t\t65535/udp\n"

typedef struct Fixture {
        char dir[64];
        char root[96];
        char socket[128];
        pid_t pid;
        VarlinkClient *client;
} Fixture;

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* The daemon, as portd's main runs it, in a child process. */
static int daemon_child(const char *root, const char *socket_path)
{
        Manager *m = NULL;
        int r;

        /* Only errors: the bad line's warning is expected. */
        log_set_max_level(LOG_ERR);
        r = manager_new(root, &m);
        if (r >= 0)
                r = manager_startup(m, socket_path);
        if (r >= 0)
                r = sd_event_loop(m->event);
        manager_free(m);
        return r < 0 ? 1 : 0;
}

static int setup(void **state)
{
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);

        strcpy(f->dir, "/tmp/portd-test-services.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(chmod(f->dir, 0755), 0);
        snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
        snprintf(f->socket, sizeof(f->socket), "%s/socket", f->dir);

        char path[256];
        assert_int_equal(mkdir(f->root, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc", f->root);
        assert_int_equal(mkdir(path, 0755), 0);
        write_file(path, "services", BASE_TEXT);
        snprintf(path, sizeof(path), "%s/etc/services.d", f->root);
        assert_int_equal(mkdir(path, 0755), 0);
        write_file(path, "50-web.conf", "http 8080/tcp webcache\n");

        fflush(stdout);
        f->pid = fork();
        assert_true(f->pid >= 0);
        if (f->pid == 0)
                _exit(daemon_child(f->root, f->socket));

        for (int i = 0; i < 1000 && !f->client; i++) {
                if (varlink_client_connect(f->socket, 0, &f->client) < 0)
                        usleep(10000);
        }
        assert_non_null(f->client);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;
        int status;
        char cmd[256];

        bool running = f->pid > 0; /* not yet stopped by the test */

        varlink_client_free(f->client);
        if (running) {
                assert_int_equal(kill(f->pid, SIGTERM), 0);
                assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        (void) system(cmd);
        free(f);
        if (running) {
                /* SIGTERM ends the daemon cleanly. */
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        return 0;
}

/* Calls method with parameters built from a JSON text; returns the error name or NULL, and the
 * reply's parameters (borrowed). */
static const char *call(Fixture *f, const char *method, const char *json, struct json_object **ret)
{
        struct json_object *p = json ? json_tokener_parse(json) : NULL, *reply = NULL;
        const char *error = NULL;
        int r;

        if (json)
                assert_non_null(p);
        r = varlink_client_call(f->client, method, p, 0, &reply, &error);
        json_object_put(p);
        assert_int_equal(r, 0);
        if (ret)
                *ret = reply;
        return error;
}

static void assert_invalid(Fixture *f, const char *method, const char *json, const char *parameter)
{
        struct json_object *reply = NULL, *p = NULL;
        const char *error = call(f, method, json, &reply);

        if (!error || !streq(error, VARLINK_ERROR_INVALID_PARAMETER))
                fail_msg("%s %s: expected InvalidParameter, got %s", method, json, error ?: "success");
        assert_true(json_object_object_get_ex(reply, "parameter", &p));
        assert_string_equal(json_object_get_string(p), parameter);
}

static const char *string_field(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, key, &v));
        return json_object_get_string(v);
}

static int64_t int_field(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, json_type_int));
        return json_object_get_int64(v);
}

static void test_parameters_invalid(void **state)
{
        Fixture *f = *state;
        const char *by_port = "io.portd.Services.GetServiceByPort",
                   *by_name = "io.portd.Services.GetServiceByName";
        char long_name[1100 + 32];

        assert_invalid(f, by_port, "{\"port\": -1}", "port");
        assert_invalid(f, by_port, "{\"port\": 65536}", "port");
        assert_invalid(f, by_port, "{\"port\": 9223372036854775807}", "port");
        assert_invalid(f, by_port, "{\"port\": \"80\"}", "port");
        assert_invalid(f, by_port, "{\"port\": 80.5}", "port");
        assert_invalid(f, by_port, "{\"port\": null}", "port");
        assert_invalid(f, by_port, "{}", "port");
        assert_invalid(f, by_port, "{\"port\": 80, \"protocol\": 6}", "protocol");
        assert_invalid(f, by_port, "{\"port\": 80, \"proto\": \"tcp\"}", "proto");

        assert_invalid(f, by_name, "{\"name\": \"\"}", "name");
        assert_invalid(f, by_name, "{\"name\": 22}", "name");
        assert_invalid(f, by_name, "{\"name\": [\"ssh\"]}", "name");
        assert_invalid(f, by_name, "{\"name\": \"ss\\u0000h\"}", "name");
        assert_invalid(f, by_name, "{\"name\": \"ssh\", \"protocol\": \"t\\u0000cp\"}", "protocol");
        memset(long_name, 0, sizeof(long_name));
        strcpy(long_name, "{\"name\": \"");
        memset(long_name + strlen(long_name), 'a', 1025);
        strcat(long_name, "\"}");
        assert_invalid(f, by_name, long_name, "name");

        assert_invalid(f, "io.portd.Services.Status", "{\"verbose\": true}", "verbose");
}

static void test_lookups(void **state)
{
        Fixture *f = *state;
        struct json_object *reply = NULL, *service = NULL, *source = NULL, *aliases = NULL;

        /* The drop-in replaces http/tcp, aliases included. */
        assert_null(call(f, "io.portd.Services.GetServiceByName", "{\"name\": \"webcache\"}", &reply));
        assert_true(json_object_object_get_ex(reply, "service", &service));
        assert_string_equal(string_field(service, "name"), "http");
        assert_int_equal(int_field(service, "port"), 8080);
        assert_string_equal(string_field(service, "protocol"), "tcp");
        assert_true(json_object_object_get_ex(service, "aliases", &aliases));
        assert_int_equal(json_object_array_length(aliases), 1);
        assert_true(json_object_object_get_ex(service, "source", &source));
        assert_string_equal(string_field(source, "file"), "/etc/services.d/50-web.conf");
        assert_int_equal(int_field(source, "line"), 1);

        assert_null(call(
                f, "io.portd.Services.GetServiceByPort", "{\"port\": 53, \"protocol\": \"udp\"}", &reply));
        assert_true(json_object_object_get_ex(reply, "service", &service));
        assert_string_equal(string_field(service, "name"), "domain");
        assert_string_equal(string_field(service, "protocol"), "udp");

        /* The bounds themselves are valid; "" is the protocol of a line that named none; null is any. */
        assert_null(call(
                f, "io.portd.Services.GetServiceByPort", "{\"port\": 65535, \"protocol\": null}", &reply));
        assert_string_equal(call(f, "io.portd.Services.GetServiceByPort", "{\"port\": 0}", NULL),
                "io.portd.Services.ServiceNotFound");
        assert_null(call(f, "io.portd.Services.GetServiceByName",
                "{\"name\": \"noproto\", \"protocol\": \"\"}", &reply));
        assert_string_equal(call(f, "io.portd.Services.GetServiceByName",
                                    "{\"name\": \"ssh\", \"protocol\": \"udp\"}", NULL),
                "io.portd.Services.ServiceNotFound");
        /* The bad line is skipped, the rest served. */
        assert_string_equal(call(f, "io.portd.Services.GetServiceByName", "{\"name\": \"bad\"}", NULL),
                "io.portd.Services.ServiceNotFound");
}

static void test_list(void **state)
{
        Fixture *f = *state;
        struct json_object *reply = NULL, *service = NULL;
        const char *error = NULL;
        Catalog *c = NULL;
        size_t n = 0;
        int r;

        assert_string_equal(call(f, "io.portd.Services.List", NULL, NULL), VARLINK_ERROR_EXPECTED_MORE);

        /* The same order as the catalog the library builds from the same files. */
        assert_int_equal(catalog_load(f->root, &c), 0);
        for (r = varlink_client_call(
                     f->client, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &reply, &error);
                ; r = varlink_client_next(f->client, &reply, &error)) {
                assert_true(r >= 0);
                assert_null(error);
                assert_true(n < c->n_entries);
                assert_true(json_object_object_get_ex(reply, "service", &service));
                assert_string_equal(string_field(service, "name"), c->entries[n].name);
                assert_string_equal(string_field(service, "protocol"), c->entries[n].protocol);
                assert_int_equal(int_field(service, "port"), c->entries[n].port);
                n++;
                if (r == 0)
                        break;
        }
        assert_int_equal(n, c->n_entries);
        catalog_free(c);

        /* A oneway call gets no reply, and the connection goes on. */
        assert_int_equal(varlink_client_call(f->client, "io.portd.Services.Status", NULL,
                                 VARLINK_CALL_ONEWAY, NULL, NULL),
                0);
        assert_null(call(f, "io.portd.Services.GetServiceByName", "{\"name\": \"ssh\"}", NULL));
}

static void get_snapshot(Fixture *f, int *ret_fd, int64_t *ret_generation, int64_t *ret_size)
{
        struct json_object *reply = NULL;

        assert_null(call(f, "io.portd.Services.GetSnapshot", NULL, &reply));
        *ret_generation = int_field(reply, "generation");
        *ret_size = int_field(reply, "size");
        *ret_fd = varlink_client_take_fd(f->client);
        assert_true(*ret_fd >= 0);
}

static void test_snapshot(void **state)
{
        Fixture *f = *state;
        int64_t generation, size, generation2, size2;
        struct stat st;
        Snapshot s;
        SnapshotEntry e;
        int fd, fd2;

        get_snapshot(f, &fd, &generation, &size);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, size);

        /* Sealed: nobody but the daemon's own mapping can change it. */
        int seals = fcntl(fd, F_GET_SEALS);
        assert_true(seals >= 0);
        assert_true(seals & F_SEAL_SHRINK);
        assert_true(seals & F_SEAL_GROW);
        assert_true(seals & F_SEAL_FUTURE_WRITE);
        assert_true(seals & F_SEAL_SEAL);
        assert_ptr_equal(mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
        assert_true(write(fd, "x", 1) < 0);
        assert_true(ftruncate(fd, 0) < 0);
        assert_true(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0);

        void *map = mmap(NULL, (size_t) size, PROT_READ, MAP_SHARED, fd, 0);
        assert_ptr_not_equal(map, MAP_FAILED);
        assert_int_equal(snapshot_open(map, (size_t) size, &s), 0);
        assert_int_equal(s.header->generation, (uint64_t) generation);
        assert_false(snapshot_is_superseded(&s));
        assert_int_equal(snapshot_lookup_name(&s, "webcache", "tcp", &e), 0);
        assert_int_equal(e.port, 8080);

        /* Asking again without a change gives the same generation. */
        get_snapshot(f, &fd2, &generation2, &size2);
        assert_int_equal(generation2, generation);
        close(fd2);

        /* A change on disk supersedes it: the flag appears in the mapping we hold (no system call
         * needed to notice), and the image itself stays valid. */
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/etc/services.d", f->root);
        write_file(dir, "60-new.conf", "brandnew 40000/tcp\n");
        for (int i = 0; i < 200 && !snapshot_is_superseded(&s); i++)
                usleep(10000);
        assert_true(snapshot_is_superseded(&s));
        assert_int_equal(snapshot_open(map, (size_t) size, &s), 0);
        assert_int_equal(snapshot_lookup_name(&s, "ssh", NULL, &e), 0);

        get_snapshot(f, &fd2, &generation2, &size2);
        assert_int_equal(generation2, generation + 1);
        void *map2 = mmap(NULL, (size_t) size2, PROT_READ, MAP_SHARED, fd2, 0);
        assert_ptr_not_equal(map2, MAP_FAILED);
        Snapshot s2;
        assert_int_equal(snapshot_open(map2, (size_t) size2, &s2), 0);
        assert_false(snapshot_is_superseded(&s2));

        munmap(map, (size_t) size);
        munmap(map2, (size_t) size2);
        close(fd);
        close(fd2);
}

static void test_status_explain_verify(void **state)
{
        Fixture *f = *state;
        struct json_object *reply = NULL, *sources = NULL, *replaced = NULL, *winner = NULL, *d = NULL;

        assert_null(call(f, "io.portd.Services.Status", NULL, &reply));
        assert_true(int_field(reply, "generation") >= 1);
        assert_int_equal(int_field(reply, "entries"), 6);
        assert_int_equal(strlen(string_field(reply, "digest")), 64);
        assert_int_equal(int_field(reply, "errors"), 1);
        assert_true(int_field(reply, "snapshot_size") > 0);
        assert_true(json_object_object_get_ex(reply, "sources", &sources));
        assert_int_equal(json_object_array_length(sources), 2);
        assert_string_equal(string_field(json_object_array_get_idx(sources, 0), "file"), "/etc/services");
        assert_string_equal(string_field(json_object_array_get_idx(sources, 0), "layer"), "base");
        assert_int_equal(int_field(json_object_array_get_idx(sources, 0), "skipped"), 1);
        assert_string_equal(string_field(json_object_array_get_idx(sources, 1), "layer"), "dropin");

        assert_null(
                call(f, "io.portd.Services.Explain", "{\"name\": \"http\", \"protocol\": \"tcp\"}", &reply));
        assert_true(json_object_object_get_ex(reply, "winner", &winner));
        assert_int_equal(int_field(winner, "port"), 8080);
        assert_true(json_object_object_get_ex(reply, "replaced", &replaced));
        assert_int_equal(json_object_array_length(replaced), 1);
        struct json_object *shadow = json_object_array_get_idx(replaced, 0), *service = NULL, *by = NULL;
        assert_true(json_object_object_get_ex(shadow, "service", &service));
        assert_int_equal(int_field(service, "port"), 80);
        assert_true(json_object_object_get_ex(shadow, "by", &by));
        assert_string_equal(string_field(by, "file"), "/etc/services.d/50-web.conf");
        assert_string_equal(call(f, "io.portd.Services.Explain", "{\"name\": \"nothing-here\"}", NULL),
                "io.portd.Services.ServiceNotFound");

        assert_null(call(f, "io.portd.Services.Verify", NULL, &reply));
        assert_true(json_object_object_get_ex(reply, "diagnostics", &d));
        bool found = false;
        for (size_t i = 0; i < json_object_array_length(d); i++) {
                struct json_object *x = json_object_array_get_idx(d, i);
                if (streq(string_field(x, "file"), "/etc/services") && int_field(x, "line") == 6 &&
                        streq(string_field(x, "level"), "error"))
                        found = true;
        }
        assert_true(found);
}

static struct json_object *reply_service(struct json_object *reply)
{
        struct json_object *service = NULL;
        assert_true(json_object_object_get_ex(reply, "service", &service));
        return service;
}

static const char *reply_source_file(struct json_object *reply)
{
        struct json_object *source = NULL;
        assert_true(json_object_object_get_ex(reply_service(reply), "source", &source));
        return string_field(source, "file");
}

static void test_overrides(void **state)
{
        Fixture *f = *state;
        const char *set = "io.portd.Services.SetOverride", *unset = "io.portd.Services.UnsetOverride",
                   *by_name = "io.portd.Services.GetServiceByName";
        struct json_object *reply = NULL, *aliases = NULL;
        char path[256];
        int64_t generation;

        if (geteuid() != 0) {
                /* The test's own user is no root: the edit is refused, whatever it says. */
                assert_string_equal(
                        call(f, set, "{\"name\": \"x\", \"protocol\": \"tcp\", \"port\": 1}", NULL),
                        "io.portd.Services.PermissionDenied");
                skip();
        }

        assert_invalid(f, set, "{\"protocol\": \"tcp\", \"port\": 1}", "name");
        assert_invalid(f, set, "{\"name\": \"a b\", \"protocol\": \"tcp\", \"port\": 1}", "name");
        assert_invalid(f, set, "{\"name\": \"a\\tb\", \"protocol\": \"tcp\", \"port\": 1}", "name");
        assert_invalid(f, set, "{\"name\": \"!a\", \"protocol\": \"tcp\", \"port\": 1}", "name");
        assert_invalid(f, set, "{\"name\": \"a\", \"port\": 1}", "protocol");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"\", \"port\": 1}", "protocol");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"tcp/x\", \"port\": 1}", "protocol");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"tcp\"}", "port");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": 65536}", "port");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": 1, \"aliases\": \"b\"}",
                "aliases");
        assert_invalid(f, set,
                "{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": 1, \"aliases\": [\"b#\"]}", "aliases");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": 1, \"runtime\": 1}",
                "runtime");
        assert_invalid(f, set, "{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": 1, \"persistent\": true}",
                "persistent");
        /* One alias more than a services(5) line may carry. */
        char many[64 + (SERVICE_ALIASES_MAX + 1) * 8];
        int n = snprintf(
                many, sizeof(many), "{\"name\": \"a\", \"protocol\": \"tcp\", \"port\": 1, \"aliases\": [");
        for (int i = 0; i <= SERVICE_ALIASES_MAX; i++)
                n += snprintf(many + n, sizeof(many) - (size_t) n, "%s\"a%d\"", i ? "," : "", i);
        snprintf(many + n, sizeof(many) - (size_t) n, "]}");
        assert_invalid(f, set, many, "aliases");
        assert_invalid(f, unset, "{}", "name");
        assert_invalid(f, unset, "{\"name\": \"a\", \"protocol\": \"\"}", "protocol");
        /* Nothing of that reached a file. */
        snprintf(path, sizeof(path), "%s/run/portd/overrides.conf", f->root);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/etc/portd/overrides.conf", f->root);
        assert_int_equal(access(path, F_OK), -1);

        assert_null(call(f, "io.portd.Services.Status", NULL, &reply));
        generation = int_field(reply, "generation");

        /* Persistent by default; the reply is the entry as set, and the next lookup already sees it,
         * aliases replaced along with the port. */
        assert_null(call(f, set,
                "{\"name\": \"http\", \"protocol\": \"tcp\", \"port\": 8443, \"aliases\": [\"alt\"]}",
                &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 8443);
        assert_string_equal(reply_source_file(reply), "/etc/portd/overrides.conf");
        assert_true(json_object_object_get_ex(reply_service(reply), "aliases", &aliases));
        assert_int_equal(json_object_array_length(aliases), 1);
        assert_null(call(f, by_name, "{\"name\": \"alt\", \"protocol\": \"tcp\"}", &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 8443);
        assert_string_equal(
                call(f, by_name, "{\"name\": \"webcache\"}", NULL), "io.portd.Services.ServiceNotFound");
        assert_null(call(f, "io.portd.Services.Status", NULL, &reply));
        assert_int_equal(int_field(reply, "generation"), generation + 1);
        assert_int_equal(access(path, F_OK), 0);

        /* Runtime, above the persistent one: it wins at once. */
        assert_null(call(f, set,
                "{\"name\": \"http\", \"protocol\": \"tcp\", \"port\": 9000, \"runtime\": true}",
                &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 9000);
        assert_string_equal(reply_source_file(reply), "/run/portd/overrides.conf");
        assert_null(call(f, by_name, "{\"name\": \"http\", \"protocol\": \"tcp\"}", &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 9000);

        /* Setting again replaces, not adds; the persistent entry is answered as set although the
         * runtime one hides it. */
        assert_null(call(f, set, "{\"name\": \"http\", \"protocol\": \"tcp\", \"port\": 8444}", &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 8444);
        assert_string_equal(reply_source_file(reply), "/etc/portd/overrides.conf");

        assert_null(call(f, unset, "{\"name\": \"http\", \"protocol\": \"tcp\"}", &reply));
        assert_int_equal(int_field(reply, "removed"), 1);
        assert_null(call(f, by_name, "{\"name\": \"http\", \"protocol\": \"tcp\"}", &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 9000);
        assert_null(call(f, unset, "{\"name\": \"http\"}", &reply));
        assert_int_equal(int_field(reply, "removed"), 0);
        assert_null(call(f, unset, "{\"name\": \"http\", \"runtime\": true}", &reply));
        assert_int_equal(int_field(reply, "removed"), 1);
        /* Back to the drop-in's entry. */
        assert_null(call(f, by_name, "{\"name\": \"webcache\"}", &reply));
        assert_int_equal(int_field(reply_service(reply), "port"), 8080);
        assert_string_equal(reply_source_file(reply), "/etc/services.d/50-web.conf");
}

static void test_reload_permission(void **state)
{
        Fixture *f = *state;
        int status;

        if (geteuid() != 0)
                skip();

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                VarlinkClient *c = NULL;
                struct json_object *reply;
                const char *error = NULL;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(10);
                if (varlink_client_connect(f->socket, 0, &c) < 0)
                        _exit(11);
                if (varlink_client_call(c, "io.portd.Services.Reload", NULL, 0, &reply, &error) < 0)
                        _exit(12);
                if (!error || !streq(error, "io.portd.Services.PermissionDenied"))
                        _exit(13);
                /* So are the override edits, before any check of what they would write. */
                struct json_object *o =
                        json_tokener_parse("{\"name\": \"ssh\", \"protocol\": \"tcp\", \"port\": 2}");
                if (varlink_client_call(c, "io.portd.Services.SetOverride", o, 0, &reply, &error) < 0 ||
                        !error || !streq(error, "io.portd.Services.PermissionDenied"))
                        _exit(15);
                json_object_put(o);
                o = json_tokener_parse("{\"name\": \"ssh\"}");
                if (varlink_client_call(c, "io.portd.Services.UnsetOverride", o, 0, &reply, &error) < 0 ||
                        !error || !streq(error, "io.portd.Services.PermissionDenied"))
                        _exit(16);
                json_object_put(o);
                /* Lookups stay open to everyone. */
                struct json_object *p = json_tokener_parse("{\"port\": 22}");
                int r = varlink_client_call(c, "io.portd.Services.GetServiceByPort", p, 0, &reply, &error);
                json_object_put(p);
                if (r < 0 || error)
                        _exit(14);
                varlink_client_free(c);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* The daemon stopped cleanly flags its last image superseded: a process that mapped it must not
 * go on answering from it. */
static void test_superseded_on_stop(void **state)
{
        Fixture *f = *state;
        int64_t generation, size;
        int fd, status;

        get_snapshot(f, &fd, &generation, &size);
        const SnapshotHeader *h = mmap(NULL, (size_t) size, PROT_READ, MAP_SHARED, fd, 0);
        assert_true(h != MAP_FAILED);
        close(fd);
        assert_int_equal(__atomic_load_n(&h->superseded, __ATOMIC_ACQUIRE), 0);

        assert_int_equal(kill(f->pid, SIGTERM), 0);
        assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        f->pid = -1;
        assert_int_equal(__atomic_load_n(&h->superseded, __ATOMIC_ACQUIRE), 1);
        munmap((void *) h, (size_t) size);
}

static int64_t status_generation(Fixture *f)
{
        struct json_object *reply = NULL;
        assert_null(call(f, "io.portd.Services.Status", NULL, &reply));
        return int_field(reply, "generation");
}

/* A List that is still being read when a reload swaps the catalog goes on with the catalog it
 * started from, to its end. */
static void test_list_across_reload(void **state)
{
        Fixture *f = *state;
        VarlinkClient *lister = NULL;
        struct json_object *reply = NULL, *service = NULL;
        const char *error = NULL;
        char path[256];
        const size_t n_entries = 20000;
        size_t n = 0;
        int r;

        /* Big enough that the replies cannot all sit in the socket buffers. */
        snprintf(path, sizeof(path), "%s/etc/services", f->root);
        FILE *out = fopen(path, "we");
        assert_non_null(out);
        for (size_t i = 0; i < n_entries; i++)
                fprintf(out, "old%zu\t%zu/%s\n", i, 1 + i / 2, i % 2 ? "udp" : "tcp");
        assert_int_equal(fclose(out), 0);
        snprintf(path, sizeof(path), "%s/etc/services.d/50-web.conf", f->root);
        assert_int_equal(unlink(path), 0);
        assert_null(call(f, "io.portd.Services.Reload", NULL, NULL));
        int64_t generation = status_generation(f);

        assert_int_equal(varlink_client_connect(f->socket, 0, &lister), 0);
        r = varlink_client_call(lister, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &reply, &error);
        assert_int_equal(r, 1);

        write_file(f->root, "etc/services", "new\t1/tcp\n");
        assert_null(call(f, "io.portd.Services.Reload", NULL, NULL));
        assert_true(status_generation(f) > generation);

        for (;; r = varlink_client_next(lister, &reply, &error)) {
                char name[32];
                assert_true(r >= 0);
                assert_null(error);
                assert_true(json_object_object_get_ex(reply, "service", &service));
                snprintf(name, sizeof(name), "old%zu", n);
                assert_string_equal(string_field(service, "name"), name);
                n++;
                if (r == 0)
                        break;
        }
        assert_int_equal(n, n_entries);
        varlink_client_free(lister);

        /* A new enumeration sees the new catalog. */
        assert_int_equal(varlink_client_connect(f->socket, 0, &lister), 0);
        assert_int_equal(varlink_client_call(
                                 lister, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &reply, &error),
                0);
        assert_true(json_object_object_get_ex(reply, "service", &service));
        assert_string_equal(string_field(service, "name"), "new");
        varlink_client_free(lister);
}

/* A reload that fails (here: the daemon is out of descriptors) is retried on its own, without
 * another change or request: its own failure may have taken the file watches with it. */
static void test_reload_retry(void **state)
{
        Fixture *f = *state;
        struct json_object *reply = NULL;
        struct rlimit old, low = { .rlim_cur = 3 };
        const char *error;

        /* Our connection is accepted (and its timer set up) before descriptors run out. */
        (void) status_generation(f);
        assert_int_equal(prlimit(f->pid, RLIMIT_NOFILE, NULL, &old), 0);
        low.rlim_max = old.rlim_max;
        assert_int_equal(prlimit(f->pid, RLIMIT_NOFILE, &low, NULL), 0);

        write_file(f->root, "etc/services", BASE_TEXT "retried\t4242/tcp\n");
        error = call(f, "io.portd.Services.Reload", NULL, NULL);
        assert_non_null(error);
        assert_string_equal(error, "io.portd.Services.ReloadFailed");
        assert_string_equal(call(f, "io.portd.Services.GetServiceByName", "{\"name\": \"retried\"}", NULL),
                "io.portd.Services.ServiceNotFound");

        assert_int_equal(prlimit(f->pid, RLIMIT_NOFILE, &old, NULL), 0);
        for (int i = 0; i < 300; i++) {
                error = call(f, "io.portd.Services.GetServiceByName", "{\"name\": \"retried\"}", &reply);
                if (!error)
                        break;
                usleep(10000);
        }
        assert_null(error);
        assert_int_equal(int_field(json_object_object_get(reply, "service"), "port"), 4242);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_parameters_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_explain_verify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_permission, setup, teardown),
                cmocka_unit_test_setup_teardown(test_superseded_on_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_across_reload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_retry, setup, teardown),
        };

        /* The forked daemon must not see the test's SIGTERM handling. */
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
