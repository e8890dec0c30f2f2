/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Proves portd's varlink code against an implementation nobody here wrote: serves
 * org.varlink.certification on daemon/varlink-server.c for varlink-go-certification's client, and
 * drives varlink-go-certification's server with common/varlink-wire.c's client.  A third mode
 * checks that our service catches a wrong client, so that the Go client's verdict means something. */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "org.varlink.certification.h"
#include "util.h"
#include "varlink-server.h"
#include "varlink-wire.h"

#define CERT                "org.varlink.certification."
#define CERTIFICATION_ERROR CERT "CertificationError"
#define CLIENT_ID_ERROR     CERT "ClientIdError"
#define GO_CERTIFICATION    "varlink-go-certification"
#define RUN_TIMEOUT_USEC    (60ULL * 1000ULL * 1000ULL)
#define CLIENTS_MAX         100

/* The certification is a chain: what call N returns is what call N+1 must be given. */
enum {
        STEP_START,
        STEP_TEST01,
        STEP_TEST02,
        STEP_TEST03,
        STEP_TEST04,
        STEP_TEST05,
        STEP_TEST06,
        STEP_TEST07,
        STEP_TEST08,
        STEP_TEST09,
        STEP_TEST10,
        STEP_TEST11,
        STEP_END,
        _STEP_MAX,
};

static const char *const step_name[_STEP_MAX] = {
        "Start",
        "Test01",
        "Test02",
        "Test03",
        "Test04",
        "Test05",
        "Test06",
        "Test07",
        "Test08",
        "Test09",
        "Test10",
        "Test11",
        "End",
};

#define STRUCT_FOUR                                                                                         \
        "{\"bool\": false, \"int\": 2, \"float\": 3.141592653589793, \"string\": \"a lot of string\"}"
#define MYTYPE                                                                                              \
        "{\"object\": {\"method\": \"org.varlink.certification.Test09\","                                   \
        " \"parameters\": {\"map\": {\"foo\": \"Foo\", \"bar\": \"Bar\"}}},"                                \
        " \"enum\": \"two\", \"struct\": {\"first\": 1, \"second\": \"2\"},"                                \
        " \"array\": [\"one\", \"two\", \"three\"], \"dictionary\": {\"foo\": \"Foo\", \"bar\": \"Bar\"},"  \
        " \"stringset\": {\"one\": {}, \"two\": {}, \"three\": {}},"                                        \
        " \"interface\": {\"foo\": [null, {\"foo\": \"foo\", \"bar\": \"bar\"}, null,"                      \
        " {\"one\": \"foo\", \"two\": \"bar\"}], \"anon\": {\"foo\": true, \"bar\": false}}}"

/* The parameters each call must carry besides client_id. */
static const char *const step_arguments[_STEP_MAX] = {
        [STEP_START] = "{}",
        [STEP_TEST01] = "{}",
        [STEP_TEST02] = "{\"bool\": true}",
        [STEP_TEST03] = "{\"int\": 1}",
        [STEP_TEST04] = "{\"float\": 1.0}",
        [STEP_TEST05] = "{\"string\": \"ping\"}",
        [STEP_TEST06] = STRUCT_FOUR,
        [STEP_TEST07] = "{\"struct\": " STRUCT_FOUR "}",
        [STEP_TEST08] = "{\"map\": {\"foo\": \"Foo\", \"bar\": \"Bar\"}}",
        [STEP_TEST09] = "{\"set\": {\"one\": {}, \"two\": {}, \"three\": {}}}",
        [STEP_TEST10] = "{\"mytype\": " MYTYPE "}",
        [STEP_TEST11] =
                "{\"last_more_replies\": [\"Reply number 1\", \"Reply number 2\", \"Reply number 3\","
                " \"Reply number 4\", \"Reply number 5\", \"Reply number 6\", \"Reply number 7\","
                " \"Reply number 8\", \"Reply number 9\", \"Reply number 10\"]}",
        [STEP_END] = "{}",
};

#define TEST10_REPLIES 10

static struct json_object *step_object(int step)
{
        struct json_object *o = json_tokener_parse(step_arguments[step]);
        if (!o)
                abort(); /* the table above is constant: only a typo can get here */
        return o;
}

/* JSON equality as varlink means it: numbers by value (1 and 1.0 are one float), and a missing
 * member equal to null, since clients may omit a nullable field. */
static bool json_same(struct json_object *a, struct json_object *b)
{
        json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

        if ((ta == json_type_int || ta == json_type_double) &&
                (tb == json_type_int || tb == json_type_double))
                return json_object_get_double(a) == json_object_get_double(b);
        if (ta != tb)
                return false;

        switch (ta) {
        case json_type_null:
                return true;
        case json_type_boolean:
                return json_object_get_boolean(a) == json_object_get_boolean(b);
        case json_type_string:
                return json_object_get_string_len(a) == json_object_get_string_len(b) &&
                       memcmp(json_object_get_string(a), json_object_get_string(b),
                               (size_t) json_object_get_string_len(a)) == 0;
        case json_type_array:
                if (json_object_array_length(a) != json_object_array_length(b))
                        return false;
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        if (!json_same(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                                return false;
                return true;
        case json_type_object: {
                json_object_object_foreach(a, ka, va)
                {
                        struct json_object *vb = NULL;
                        (void) json_object_object_get_ex(b, ka, &vb);
                        if (!json_same(va, vb))
                                return false;
                }
                json_object_object_foreach(b, kb, vb)
                {
                        if (!json_object_object_get_ex(a, kb, NULL) && !json_same(NULL, vb))
                                return false;
                }
                return true;
        }
        default:
                return false;
        }
}

/* ---- the service ---- */

typedef struct CertClient {
        char id[37];
        int next; /* the step expected next */
        bool ok;
} CertClient;

typedef struct Certification {
        CertClient clients[CLIENTS_MAX];
        size_t n_clients;
} Certification;

typedef struct StepMethod {
        Certification *cert;
        int step;
} StepMethod;

static int new_client_id(char ret[static 37])
{
        uint8_t b[16];

        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                return -errno;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

static CertClient *find_client(Certification *cert, struct json_object *parameters)
{
        struct json_object *v;

        if (!json_object_object_get_ex(parameters, "client_id", &v) ||
                !json_object_is_type(v, json_type_string))
                return NULL;
        for (size_t i = 0; i < cert->n_clients; i++)
                if (streq(cert->clients[i].id, json_object_get_string(v)))
                        return cert->clients + i;
        return NULL;
}

static int reply_certification_error(
        VarlinkConnection *c, struct json_object *wants, struct json_object *got)
{
        struct json_object *p = json_object_new_object();
        int r;

        if (!p)
                return -ENOMEM;
        json_object_object_add(p, "wants", json_object_get(wants));
        json_object_object_add(p, "got", json_object_get(got));
        r = varlink_connection_error(c, CERTIFICATION_ERROR, p);
        json_object_put(p);
        return r;
}

static int method_start(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        Certification *cert = userdata;
        struct json_object *p;
        CertClient *cl;
        int r;

        if (cert->n_clients >= CLIENTS_MAX)
                return varlink_connection_error(c, CLIENT_ID_ERROR, NULL);
        cl = cert->clients + cert->n_clients;
        *cl = (CertClient){ .next = STEP_TEST01, .ok = true };
        r = new_client_id(cl->id);
        if (r < 0)
                return r;
        cert->n_clients++;

        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        json_object_object_add(p, "client_id", json_object_new_string(cl->id));
        r = varlink_connection_reply(c, p);
        json_object_put(p);
        return r;
}

static int method_step(VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        const StepMethod *m = userdata;
        struct json_object *wants, *got, *reply = NULL;
        CertClient *cl;
        int r;

        cl = find_client(m->cert, parameters);
        if (!cl)
                return varlink_connection_error(c, CLIENT_ID_ERROR, NULL);

        /* Compare everything but client_id with what this step must be given. */
        got = json_object_new_object();
        if (!got)
                return -ENOMEM;
        json_object_object_foreach(parameters, k, v) if (!streq(k, "client_id"))
                json_object_object_add(got, k, json_object_get(v));
        wants = step_object(m->step);

        /* End always gives the verdict, so a client that went wrong learns all_ok false. */
        if (m->step == STEP_END && cl->next != STEP_END)
                cl->ok = false;
        else if (cl->next != m->step) {
                struct json_object *w = json_object_new_object(), *g = json_object_new_object();
                json_object_object_add(w, "method", json_object_new_string(step_name[cl->next]));
                json_object_object_add(g, "method", json_object_new_string(step_name[m->step]));
                cl->ok = false;
                r = reply_certification_error(c, w, g);
                json_object_put(w);
                json_object_put(g);
                goto finish;
        }
        cl->next = m->step + 1;

        if (!json_same(wants, got) || (m->step == STEP_TEST11) != !!(flags & VARLINK_CALL_ONEWAY)) {
                cl->ok = false;
                r = reply_certification_error(c, wants, got);
                goto finish;
        }

        switch (m->step) {
        case STEP_TEST10:
                if (!(flags & VARLINK_CALL_MORE)) {
                        cl->ok = false;
                        r = varlink_connection_error(c, VARLINK_ERROR_EXPECTED_MORE, NULL);
                        goto finish;
                }
                for (int i = 1; i <= TEST10_REPLIES; i++) {
                        char s[32];
                        struct json_object *p = json_object_new_object();

                        snprintf(s, sizeof(s), "Reply number %d", i);
                        json_object_object_add(p, "string", json_object_new_string(s));
                        r = i < TEST10_REPLIES ? varlink_connection_notify(c, p)
                                               : varlink_connection_reply(c, p);
                        json_object_put(p);
                        if (r < 0)
                                goto finish;
                }
                break;
        case STEP_TEST11:
                r = varlink_connection_reply(c, NULL);
                break;
        case STEP_END:
                reply = json_object_new_object();
                json_object_object_add(reply, "all_ok", json_object_new_boolean(cl->ok));
                *cl = m->cert->clients[--m->cert->n_clients];
                r = varlink_connection_reply(c, reply);
                break;
        default:
                reply = step_object(m->step + 1);
                r = varlink_connection_reply(c, reply);
                break;
        }

finish:
        json_object_put(reply);
        json_object_put(wants);
        json_object_put(got);
        return r;
}

static int certification_register(
        VarlinkServer *s, Certification *cert, StepMethod methods[static _STEP_MAX])
{
        int r;

        r = varlink_server_add_interface(s, org_varlink_certification_varlink);
        if (r < 0)
                return r;
        r = varlink_server_add_method(s, CERT "Start", method_start, cert);
        if (r < 0)
                return r;
        for (int i = STEP_TEST01; i < _STEP_MAX; i++) {
                char name[64];

                methods[i] = (StepMethod){ .cert = cert, .step = i };
                snprintf(name, sizeof(name), CERT "%s", step_name[i]);
                r = varlink_server_add_method(s, name, method_step, methods + i);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- helpers for running the Go program ---- */

static bool go_certification_available(void)
{
        const char *path = getenv("PATH") ?: "/usr/bin:/bin";
        _cleanup_free_ char *copy = strdup(path);
        char *saveptr = NULL;

        if (!copy)
                return false;
        for (char *dir = strtok_r(copy, ":", &saveptr); dir; dir = strtok_r(NULL, ":", &saveptr)) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/" GO_CERTIFICATION, dir) < 0)
                        return false;
                if (access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

static pid_t spawn_go(bool client, const char *address, int stdout_fd)
{
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        if (stdout_fd >= 0 && dup2(stdout_fd, STDOUT_FILENO) < 0)
                _exit(127);
        if (client)
                execlp(GO_CERTIFICATION, GO_CERTIFICATION, "-client", "-varlink", address, (char *) NULL);
        else
                execlp(GO_CERTIFICATION, GO_CERTIFICATION, "-varlink", address, (char *) NULL);
        _exit(127);
}

/* ---- mode 1: our server, Go client ---- */

typedef struct ServeRun {
        char output[64 * 1024];
        size_t n_output;
        int exit_status;
} ServeRun;

static int on_go_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        ServeRun *run = userdata;
        ssize_t k = read(fd, run->output + run->n_output, sizeof(run->output) - 1 - run->n_output);

        if (k <= 0)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        run->n_output += (size_t) k;
        run->output[run->n_output] = 0;
        return 0;
}

static int on_go_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        ServeRun *run = userdata;

        run->exit_status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        fprintf(stderr, "timed out\n");
        return sd_event_exit(sd_event_source_get_event(s), -ETIMEDOUT);
}

static int run_server_for_go_client(const char *dir)
{
        _cleanup_free_ char *path = NULL, *address = NULL;
        sd_event *e = NULL;
        VarlinkServer *server = NULL;
        Certification cert = {};
        StepMethod methods[_STEP_MAX];
        ServeRun run = { .exit_status = -1 };
        sd_event_source *out_source = NULL, *child_source = NULL;
        int pipefd[2] = { -1, -1 }, r;
        sigset_t mask;
        pid_t pid;

        if (asprintf(&path, "%s/cert.sock", dir) < 0 || asprintf(&address, "unix:%s", path) < 0)
                return -ENOMEM;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&e);
        if (r < 0)
                return r;
        r = varlink_server_new(
                e, NULL, "portd certification", PORTD_VERSION, "https://portd.invalid", &server);
        if (r >= 0)
                r = certification_register(server, &cert, methods);
        if (r >= 0)
                r = varlink_server_listen_path(server, path, 0600);
        if (r < 0)
                goto finish;

        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }
        pid = spawn_go(true, address, pipefd[1]);
        if (pid < 0) {
                r = -errno;
                goto finish;
        }
        pipefd[1] = safe_close(pipefd[1]);

        r = sd_event_add_io(e, &out_source, pipefd[0], EPOLLIN, on_go_output, &run);
        if (r >= 0)
                r = sd_event_add_child(e, &child_source, pid, WEXITED, on_go_exit, &run);
        if (r >= 0)
                r = sd_event_add_time_relative(
                        e, NULL, CLOCK_MONOTONIC, RUN_TIMEOUT_USEC, 0, on_timeout, NULL);
        if (r < 0) {
                kill(pid, SIGKILL);
                goto finish;
        }
        r = sd_event_loop(e);
        if (r < 0) {
                kill(pid, SIGKILL);
                goto finish;
        }

        /* The child is gone; what it wrote may still sit in the pipe. */
        for (;;) {
                ssize_t k =
                        read(pipefd[0], run.output + run.n_output, sizeof(run.output) - 1 - run.n_output);
                if (k <= 0)
                        break;
                run.n_output += (size_t) k;
                run.output[run.n_output] = 0;
        }

        fputs(run.output, stdout);
        printf("# %s exited with %d\n", GO_CERTIFICATION, run.exit_status);

        /* The Go client exits 0 even when a test failed; only its last line tells. */
        const char *tail = "End: 'true'\n";
        size_t lt = strlen(tail);
        r = run.n_output >= lt && memcmp(run.output + run.n_output - lt, tail, lt) == 0 ? 0 : -EBADMSG;

finish:
        sd_event_source_disable_unref(out_source);
        sd_event_source_disable_unref(child_source);
        safe_close(pipefd[0]);
        safe_close(pipefd[1]);
        varlink_server_free(server);
        sd_event_unref(e);
        if (path)
                (void) unlink(path);
        return r;
}

/* ---- mode 2: Go server, our client ---- */

static int expect(bool ok, const char *what)
{
        printf("%s %s\n", ok ? "ok" : "not ok", what);
        return ok ? 0 : -EBADMSG;
}

static int run_client_sequence(VarlinkClient *c)
{
        struct json_object *reply = NULL, *args = NULL, *v;
        _cleanup_free_ char *client_id = NULL;
        const char *error = NULL;
        char method[64];
        int r, failures = 0;

        r = varlink_client_call(c, "org.varlink.service.GetInfo", NULL, 0, &reply, &error);
        if (r < 0)
                return r;
        failures += expect(!error && json_object_object_get_ex(reply, "interfaces", &v) &&
                                    json_object_is_type(v, json_type_array),
                            "GetInfo lists interfaces") < 0;

        args = json_object_new_object();
        json_object_object_add(args, "interface", json_object_new_string("org.varlink.certification"));
        r = varlink_client_call(c, "org.varlink.service.GetInterfaceDescription", args, 0, &reply, &error);
        json_object_put(args);
        if (r < 0)
                return r;
        failures += expect(!error && json_object_object_get_ex(reply, "description", &v) &&
                                    strstr(json_object_get_string(v), "interface org.varlink.certification"),
                            "GetInterfaceDescription") < 0;

        r = varlink_client_call(c, "org.varlink.service.Nonexistent", NULL, 0, &reply, &error);
        if (r < 0)
                return r;
        failures += expect(streq_ptr(error, VARLINK_ERROR_METHOD_NOT_FOUND), "MethodNotFound") < 0;

        r = varlink_client_call(c, CERT "Start", NULL, 0, &reply, &error);
        if (r < 0)
                return r;
        if (error || !json_object_object_get_ex(reply, "client_id", &v) ||
                !json_object_is_type(v, json_type_string))
                return expect(false, "Start returns a client_id");
        client_id = strdup(json_object_get_string(v));
        if (!client_id)
                return -ENOMEM;
        printf("ok Start: %s\n", client_id);

        /* Each reply becomes the next call's parameters, as the certification says. */
        args = json_object_new_object();
        for (int step = STEP_TEST01; step < _STEP_MAX; step++) {
                unsigned flags = step == STEP_TEST10   ? VARLINK_CALL_MORE
                                 : step == STEP_TEST11 ? VARLINK_CALL_ONEWAY
                                                       : 0;
                struct json_object *next;

                json_object_object_add(args, "client_id", json_object_new_string(client_id));
                snprintf(method, sizeof(method), CERT "%s", step_name[step]);
                r = varlink_client_call(c, method, args, flags, &reply, &error);
                json_object_put(args);
                args = NULL;
                if (r < 0) {
                        printf("not ok %s: %s\n", step_name[step], strerror(-r));
                        return r;
                }
                if (error) {
                        printf("not ok %s: %s %s\n", step_name[step], error,
                                json_object_to_json_string(reply));
                        return -EBADMSG;
                }

                if (step == STEP_TEST10) {
                        /* Collect the stream into Test11's last_more_replies. */
                        struct json_object *list = json_object_new_array();
                        int n = 0;
                        for (;;) {
                                if (!json_object_object_get_ex(reply, "string", &v))
                                        return expect(false, "Test10 replies carry a string");
                                json_object_array_add(list, json_object_get(v));
                                n++;
                                if (r == 0)
                                        break;
                                r = varlink_client_next(c, &reply, &error);
                                if (r < 0 || error) {
                                        json_object_put(list);
                                        return expect(false, "Test10 stream");
                                }
                        }
                        failures += expect(n > 1, "Test10 streams several replies") < 0;
                        next = json_object_new_object();
                        json_object_object_add(next, "last_more_replies", list);
                } else if (step == STEP_TEST11) {
                        failures += expect(r == 0 && !reply, "Test11 oneway sends and returns") < 0;
                        next = json_object_new_object();
                } else if (step == STEP_END) {
                        failures += expect(json_object_object_get_ex(reply, "all_ok", &v) &&
                                                    json_object_get_boolean(v),
                                            "End: all_ok") < 0;
                        break;
                } else {
                        /* Test09's mytype differs between reference servers; the rest is fixed. */
                        if (step != STEP_TEST09) {
                                struct json_object *want = step_object(step + 1);
                                bool same = json_same(want, reply);
                                json_object_put(want);
                                if (!same)
                                        printf("# %s replied %s\n", step_name[step],
                                                json_object_to_json_string(reply));
                                failures += expect(same, step_name[step]) < 0;
                        } else
                                failures += expect(json_object_object_get_ex(reply, "mytype", &v) &&
                                                            json_object_is_type(v, json_type_object),
                                                    step_name[step]) < 0;
                        /* The reply is borrowed from the client; a copy lets us add client_id. */
                        next = NULL;
                        if (json_object_deep_copy(reply, &next, NULL) < 0)
                                return -ENOMEM;
                }
                args = next;
        }

        return failures > 0 ? -EBADMSG : 0;
}

static int run_client_against_go_server(const char *dir)
{
        _cleanup_free_ char *path = NULL, *address = NULL;
        VarlinkClient *c = NULL;
        pid_t pid;
        int r, status;

        if (asprintf(&path, "%s/go.sock", dir) < 0 || asprintf(&address, "unix:%s", path) < 0)
                return -ENOMEM;

        pid = spawn_go(false, address, -1);
        if (pid < 0)
                return -errno;

        /* The Go server creates its socket a moment after starting. */
        for (int i = 0; i < 500; i++) {
                struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                r = varlink_client_connect(path, 5ULL * 1000 * 1000, &c);
                if (r >= 0 || (r != -ENOENT && r != -ECONNREFUSED))
                        break;
                nanosleep(&ts, NULL);
        }
        if (r >= 0) {
                r = run_client_sequence(c);
                varlink_client_free(c);
        } else
                printf("not ok connect %s: %s\n", path, strerror(-r));

        kill(pid, SIGTERM);
        (void) waitpid(pid, &status, 0);
        (void) unlink(path);
        return r;
}

/* ---- mode 3: our server, our client, including the failures the server must catch ---- */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int serve_until_sigterm(const char *path)
{
        sd_event *e = NULL;
        VarlinkServer *server = NULL;
        Certification cert = {};
        StepMethod methods[_STEP_MAX];
        int r;

        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_sigterm, NULL);
        if (r >= 0)
                r = varlink_server_new(
                        e, NULL, "portd certification", PORTD_VERSION, "https://portd.invalid", &server);
        if (r >= 0)
                r = certification_register(server, &cert, methods);
        if (r >= 0)
                r = varlink_server_listen_path(server, path, 0600);
        if (r >= 0)
                r = sd_event_loop(e);
        varlink_server_free(server);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}

static int call_with_client_id(VarlinkClient *c, const char *step, const char *client_id, const char *json,
        struct json_object **ret_reply, const char **ret_error)
{
        struct json_object *p = json_tokener_parse(json);
        char method[64];
        int r;

        if (!p)
                return -EINVAL;
        json_object_object_add(p, "client_id", json_object_new_string(client_id));
        snprintf(method, sizeof(method), CERT "%s", step);
        r = varlink_client_call(c, method, p, 0, ret_reply, ret_error);
        json_object_put(p);
        return r;
}

/* A client that gets things wrong must hear about it, and End must then say all_ok false: else
 * the Go client's "End: 'true'" against our server would prove nothing. */
static int run_negative_sequence(VarlinkClient *c)
{
        struct json_object *reply, *v;
        _cleanup_free_ char *client_id = NULL;
        const char *error;
        int r, failures = 0;

        r = call_with_client_id(c, "Test01", "no-such-client", "{}", &reply, &error);
        if (r < 0)
                return r;
        failures += expect(streq_ptr(error, CLIENT_ID_ERROR), "unknown client_id: ClientIdError") < 0;

        r = varlink_client_call(c, CERT "Start", NULL, 0, &reply, &error);
        if (r < 0)
                return r;
        if (error || !json_object_object_get_ex(reply, "client_id", &v))
                return expect(false, "Start");
        client_id = strdup(json_object_get_string(v));
        if (!client_id)
                return -ENOMEM;

        r = call_with_client_id(c, "Test01", client_id, "{}", &reply, &error);
        if (r < 0)
                return r;
        failures += expect(!error, "Test01 right") < 0;
        r = call_with_client_id(c, "Test02", client_id, "{\"bool\": false}", &reply, &error);
        if (r < 0)
                return r;
        failures += expect(streq_ptr(error, CERTIFICATION_ERROR) &&
                                    json_object_object_get_ex(reply, "wants", &v) &&
                                    json_object_object_get_ex(reply, "got", &v),
                            "Test02 with a wrong value: CertificationError with wants and got") < 0;
        r = call_with_client_id(c, "Test05", client_id, "{\"string\": \"ping\"}", &reply, &error);
        if (r < 0)
                return r;
        failures +=
                expect(streq_ptr(error, CERTIFICATION_ERROR), "Test05 out of order: CertificationError") < 0;
        r = call_with_client_id(c, "End", client_id, "{}", &reply, &error);
        if (r < 0)
                return r;
        failures += expect(json_object_object_get_ex(reply, "all_ok", &v) &&
                                    json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v),
                            "End after failures: all_ok false") < 0;
        return failures > 0 ? -EBADMSG : 0;
}

static int run_self(const char *dir)
{
        _cleanup_free_ char *path = NULL;
        VarlinkClient *c = NULL;
        sigset_t mask;
        pid_t pid;
        int r, status;

        if (asprintf(&path, "%s/self.sock", dir) < 0)
                return -ENOMEM;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                _exit(serve_until_sigterm(path));

        for (int i = 0; i < 500; i++) {
                struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                r = varlink_client_connect(path, 5ULL * 1000 * 1000, &c);
                if (r >= 0 || (r != -ENOENT && r != -ECONNREFUSED))
                        break;
                nanosleep(&ts, NULL);
        }
        if (r >= 0) {
                r = run_client_sequence(c);
                if (r >= 0)
                        r = run_negative_sequence(c);
                varlink_client_free(c);
        } else
                printf("not ok connect %s: %s\n", path, strerror(-r));

        kill(pid, SIGTERM);
        if (waitpid(pid, &status, 0) == pid && (!WIFEXITED(status) || WEXITSTATUS(status) != 0) && r >= 0)
                r = expect(false, "server exits cleanly");
        (void) unlink(path);
        return r;
}

int main(int argc, char **argv)
{
        char dir[] = "/tmp/portd-varlink-cert-XXXXXX";
        int r;

        if (argc != 2 ||
                (!streq(argv[1], "server") && !streq(argv[1], "client") && !streq(argv[1], "self"))) {
                fprintf(stderr,
                        "Usage: %s server|client|self\n"
                        "  server: serve org.varlink.certification for varlink-go-certification -client\n"
                        "  client: drive varlink-go-certification's server with portd's client\n"
                        "  self:   portd's client against portd's server, failures included\n",
                        argv[0]);
                return 2;
        }
        if (!streq(argv[1], "self") && !go_certification_available()) {
                fprintf(stderr, GO_CERTIFICATION " not found: install Debian's varlink-go\n");
                return 1;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }

        if (streq(argv[1], "server"))
                r = run_server_for_go_client(dir);
        else if (streq(argv[1], "client"))
                r = run_client_against_go_server(dir);
        else
                r = run_self(dir);
        (void) rmdir(dir);

        if (r < 0) {
                fprintf(stderr, "certification %s failed: %s\n", argv[1], strerror(-r));
                return 1;
        }
        printf("certification %s passed\n", argv[1]);
        return 0;
}
