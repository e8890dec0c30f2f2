/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lookups per second through the real portd over one persistent varlink connection: one call at a
 * time (round trips, as a blocking client does) and pipelined (DEPTH calls in flight).
 * Usage: bench-varlink-lookup PORTD SERVICES_FILE [SECONDS] [DEPTH]
 * It starts PORTD with --root on a temporary directory holding SERVICES_FILE as /etc/services. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink-wire.h"

#include "bench-util.h"

/* The queries: names and ports of the first and the last entry, and a miss, by name and port,
 * with and without protocol.  Taken from the daemon's List so they exist whatever the file is. */
typedef struct Query {
        const char *method;
        struct json_object *parameters;
        char *wire; /* the whole call message, NUL included */
        size_t wire_size;
} Query;

static int add_query(Query *q, size_t *n, const char *method, struct json_object *parameters)
{
        struct json_object *m = NULL;
        int r;

        r = varlink_message_build_call(method, parameters, 0, &m);
        if (r < 0)
                return r;
        r = varlink_message_serialize(m, &q[*n].wire, &q[*n].wire_size);
        json_object_put(m);
        if (r < 0)
                return r;
        q[*n].method = method;
        q[*n].parameters = parameters;
        (*n)++;
        return 0;
}

static struct json_object *name_parameters(const char *name, const char *protocol)
{
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(name));
        if (protocol)
                json_object_object_add(p, "protocol", json_object_new_string(protocol));
        return p;
}

static struct json_object *port_parameters(int port, const char *protocol)
{
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "port", json_object_new_int(port));
        if (protocol)
                json_object_object_add(p, "protocol", json_object_new_string(protocol));
        return p;
}

static int build_queries(VarlinkClient *c, Query *q, size_t *n)
{
        struct json_object *reply = NULL, *first = NULL, *last = NULL, *s = NULL;
        const char *error = NULL;
        int r;

        for (r = varlink_client_call(c, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &reply, &error);;
                r = varlink_client_next(c, &reply, &error)) {
                if (r < 0 || error)
                        return r < 0 ? r : -EIO;
                if (!json_object_object_get_ex(reply, "service", &s))
                        return -EBADMSG;
                if (!first)
                        first = json_object_get(s);
                json_object_put(last);
                last = json_object_get(s);
                if (r == 0)
                        break;
        }
        if (!first)
                return -ENODATA;

        struct json_object *ends[2] = { first, last };
        for (size_t i = 0; i < 2; i++) {
                struct json_object *name, *port, *protocol;
                json_object_object_get_ex(ends[i], "name", &name);
                json_object_object_get_ex(ends[i], "port", &port);
                json_object_object_get_ex(ends[i], "protocol", &protocol);
                add_query(q, n, "io.portd.Services.GetServiceByName",
                        name_parameters(json_object_get_string(name), NULL));
                add_query(q, n, "io.portd.Services.GetServiceByName",
                        name_parameters(json_object_get_string(name), json_object_get_string(protocol)));
                add_query(q, n, "io.portd.Services.GetServiceByPort",
                        port_parameters(json_object_get_int(port), json_object_get_string(protocol)));
        }
        add_query(q, n, "io.portd.Services.GetServiceByName", name_parameters("no-such-service", NULL));
        add_query(q, n, "io.portd.Services.GetServiceByPort", port_parameters(65001, "tcp"));
        json_object_put(first);
        json_object_put(last);
        return 0;
}

/* One call at a time through the project's blocking client: what the NSS module's varlink path does. */
static double bench_round_trips(VarlinkClient *c, const Query *q, size_t n_queries, double seconds)
{
        size_t n = 0;
        double start = now_seconds(), end = start + seconds, t;

        do {
                for (size_t i = 0; i < 1000; i++) {
                        struct json_object *reply;
                        const char *error;
                        const Query *x = &q[n % n_queries];
                        if (varlink_client_call(c, x->method, x->parameters, 0, &reply, &error) < 0) {
                                fprintf(stderr, "call failed\n");
                                exit(1);
                        }
                        n++;
                }
                t = now_seconds();
        } while (t < end);
        return (double) n / (t - start);
}

/* depth calls in flight on a raw socket; replies counted by their NUL terminators. */
static double bench_pipelined(
        const char *path, const Query *q, size_t n_queries, double seconds, size_t depth)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        size_t sent = 0, received = 0;
        char buf[65536];
        double start, end, t;

        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("connect");
                exit(1);
        }

        start = now_seconds();
        end = start + seconds;
        for (;;) {
                t = now_seconds();
                bool stop = t >= end;
                if (stop && received == sent)
                        break;
                /* Top the window up with one write of as many calls as fit. */
                char out[65536];
                size_t o = 0;
                while (!stop && sent - received < depth) {
                        const Query *x = &q[sent % n_queries];
                        if (o + x->wire_size > sizeof(out))
                                break;
                        memcpy(out + o, x->wire, x->wire_size);
                        o += x->wire_size;
                        sent++;
                }
                for (size_t w = 0; w < o;) {
                        ssize_t k = send(fd, out + w, o - w, MSG_NOSIGNAL);
                        if (k < 0) {
                                perror("send");
                                exit(1);
                        }
                        w += (size_t) k;
                }
                ssize_t k = recv(fd, buf, sizeof(buf), 0);
                if (k <= 0) {
                        fprintf(stderr, "recv: connection closed\n");
                        exit(1);
                }
                for (ssize_t i = 0; i < k; i++)
                        received += buf[i] == '\0';
        }
        return (double) received / (now_seconds() - start);
}

int main(int argc, char **argv)
{
        char dir[] = "/tmp/portd-bench.XXXXXX", path[256], sock[256];
        Query queries[16] = {};
        size_t n_queries = 0;
        VarlinkClient *c = NULL;
        double seconds = argc > 3 ? atof(argv[3]) : 2.0;
        size_t depth = argc > 4 ? (size_t) atol(argv[4]) : 32;
        pid_t pid;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s PORTD SERVICES_FILE [SECONDS] [DEPTH]\n", argv[0]);
                return 1;
        }
        if (!mkdtemp(dir))
                return perror("mkdtemp"), 1;
        snprintf(path, sizeof(path), "%s/etc", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/services", dir);
        if (copy_file(argv[2], path) < 0)
                return fprintf(stderr, "cannot copy '%s'\n", argv[2]), 1;
        snprintf(sock, sizeof(sock), "%s/sock", dir);

        pid = fork();
        if (pid < 0)
                return perror("fork"), 1;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDERR_FILENO);
                execl(argv[1], argv[1], "--root", dir, "--socket", sock, (char *) NULL);
                _exit(127);
        }

        for (int i = 0; i < 500; i++) {
                if (varlink_client_connect(sock, 0, &c) >= 0)
                        break;
                usleep(10000);
        }
        if (!c) {
                fprintf(stderr, "portd did not come up\n");
                kill(pid, SIGTERM);
                return 1;
        }

        r = build_queries(c, queries, &n_queries);
        if (r < 0) {
                fprintf(stderr, "cannot list the services: %s\n", strerror(-r));
                kill(pid, SIGTERM);
                return 1;
        }

        double cpu0 = process_cpu_seconds(pid), t0 = now_seconds();
        double rt = bench_round_trips(c, queries, n_queries, seconds);
        double cpu1 = process_cpu_seconds(pid), t1 = now_seconds();
        double pl = bench_pipelined(sock, queries, n_queries, seconds, depth);
        double cpu2 = process_cpu_seconds(pid), t2 = now_seconds();
        double rt_cpu = (cpu1 - cpu0) / (rt * (t1 - t0)), pl_cpu = (cpu2 - cpu1) / (pl * (t2 - t1));

        printf("file: %s, %zu query kinds (first/last entry by name, name+proto, port+proto; misses)\n",
                argv[2], n_queries);
        printf("varlink lookups, one persistent connection, one call at a time: %9.0f/s  (%.2f us per call; "
               "daemon CPU %.2f us per call)\n",
                rt, 1e6 / rt, 1e6 * rt_cpu);
        printf("varlink lookups, one persistent connection, %3zu calls in flight: %9.0f/s  (%.2f us per "
               "call; "
               "daemon CPU %.2f us per call, so %.0f/s per daemon core)\n",
                depth, pl, 1e6 / pl, 1e6 * pl_cpu, pl_cpu > 0 ? 1.0 / pl_cpu : 0.0);

        varlink_client_free(c);
        for (size_t i = 0; i < n_queries; i++) {
                free(queries[i].wire);
                json_object_put(queries[i].parameters);
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        unlink(sock);
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc", dir);
        rmdir(path);
        rmdir(dir);
        return 0;
}
