/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Calls per second through portd's varlink server and client, on a trivial method (GetInfo) over a
 * persistent connection: the ceiling that every io.portd method's own cost adds to.
 * Usage: bench-varlink [SECONDS] [PIPELINE_DEPTH] [CLIENTS] */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "util.h"
#include "varlink-server.h"
#include "varlink-wire.h"

#include "bench-util.h"

static void report(const char *what, double rate, double seconds, double server_cpu)
{
        double calls = rate * seconds;

        printf("%-48s %9.0f calls/s  server CPU %5.2f us/call (%7.0f calls/s per core)\n", what, rate,
                server_cpu * 1e6 / calls, calls / server_cpu);
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The server process: GetInfo only, as the daemon would serve it. */
static int serve(const char *path, int ready_fd)
{
        sd_event *e = NULL;
        VarlinkServer *s = NULL;
        int r;

        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_term, NULL);
        if (r >= 0)
                r = varlink_server_new(e, NULL, "bench", "0", "", &s);
        if (r >= 0)
                r = varlink_server_listen_path(s, path, 0600);
        if (r < 0) {
                fprintf(stderr, "server: %s\n", strerror(-r));
                return 1;
        }
        (void) write(ready_fd, "x", 1);
        close(ready_fd);
        r = sd_event_loop(e);
        varlink_server_free(s);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}

static int bench_sequential(const char *path, double seconds, double *ret_rate)
{
        VarlinkClient *c = NULL;
        unsigned long n = 0;
        double start, end;
        int r;

        r = varlink_client_connect(path, 0, &c);
        if (r < 0)
                return r;
        start = now_seconds();
        end = start + seconds;
        for (;;) {
                struct json_object *reply;
                const char *error;

                /* Check the clock every 256 calls: clock_gettime is cheap but not free. */
                for (int i = 0; i < 256; i++) {
                        r = varlink_client_call(c, "org.varlink.service.GetInfo", NULL, 0, &reply, &error);
                        if (r < 0 || error) {
                                varlink_client_free(c);
                                return r < 0 ? r : -EREMOTEIO;
                        }
                }
                n += 256;
                if (now_seconds() >= end)
                        break;
        }
        *ret_rate = (double) n / (now_seconds() - start);
        varlink_client_free(c);
        return 0;
}

/* depth calls written at once, then depth replies read: measures the server without the
 * client's round-trip wait. */
static int bench_pipelined(const char *path, double seconds, unsigned depth, double *ret_rate)
{
        VarlinkClient *c = NULL;
        VarlinkBuffer in;
        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        char *batch;
        unsigned long n = 0;
        double start, end;
        int fd, r;

        r = varlink_client_connect(path, 0, &c);
        if (r < 0)
                return r;
        fd = varlink_client_get_fd(c);
        batch = malloc(sizeof(call) * depth);
        if (!batch) {
                varlink_client_free(c);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < depth; i++)
                memcpy(batch + i * sizeof(call), call, sizeof(call));
        varlink_buffer_init(&in, VARLINK_REPLY_MAX);

        start = now_seconds();
        end = start + seconds;
        while (now_seconds() < end) {
                size_t off = 0, total = sizeof(call) * depth;
                unsigned got = 0;

                while (off < total) {
                        ssize_t k = send(fd, batch + off, total - off, MSG_NOSIGNAL);
                        if (k < 0 && errno != EAGAIN && errno != EINTR) {
                                r = -errno;
                                goto finish;
                        }
                        if (k > 0)
                                off += (size_t) k;
                        /* Read while writing so neither side's buffer fills up for good. */
                        char *p;
                        size_t avail;
                        if (varlink_buffer_prepare(&in, 65536, &p, &avail) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        k = recv(fd, p, avail, MSG_DONTWAIT);
                        if (k > 0)
                                varlink_buffer_commit(&in, (size_t) k);
                        const char *m;
                        size_t l;
                        while (varlink_buffer_next(&in, &m, &l) > 0)
                                got++;
                }
                while (got < depth) {
                        char *p;
                        size_t avail;
                        const char *m;
                        size_t l;

                        if (varlink_buffer_prepare(&in, 65536, &p, &avail) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        ssize_t k = recv(fd, p, avail, 0);
                        if (k < 0 && errno == EAGAIN) {
                                struct timespec ts = { .tv_nsec = 1000 };
                                nanosleep(&ts, NULL);
                                continue;
                        }
                        if (k <= 0) {
                                r = k < 0 ? -errno : -ECONNRESET;
                                goto finish;
                        }
                        varlink_buffer_commit(&in, (size_t) k);
                        while (varlink_buffer_next(&in, &m, &l) > 0)
                                got++;
                }
                n += depth;
        }
        *ret_rate = (double) n / (now_seconds() - start);
        r = 0;
finish:
        varlink_buffer_done(&in);
        free(batch);
        varlink_client_free(c);
        return r;
}

/* clients processes, each calling one after the other on its own connection. */
static int bench_parallel(const char *path, double seconds, unsigned clients, double *ret_rate)
{
        pid_t pids[64];
        int fds[64];
        double sum = 0;
        int r = 0;

        clients = MIN(clients, (unsigned) ELEMENTSOF(pids));
        for (unsigned i = 0; i < clients; i++) {
                int p[2];

                if (pipe(p) < 0)
                        return -errno;
                pids[i] = fork();
                if (pids[i] < 0)
                        return -errno;
                if (pids[i] == 0) {
                        double rate = 0;
                        close(p[0]);
                        if (bench_sequential(path, seconds, &rate) < 0)
                                rate = -1;
                        (void) write(p[1], &rate, sizeof(rate));
                        _exit(0);
                }
                close(p[1]);
                fds[i] = p[0];
        }
        for (unsigned i = 0; i < clients; i++) {
                double rate = -1;
                int status;

                if (read(fds[i], &rate, sizeof(rate)) != (ssize_t) sizeof(rate) || rate < 0)
                        r = -EIO;
                sum += rate;
                close(fds[i]);
                (void) waitpid(pids[i], &status, 0);
        }
        *ret_rate = sum;
        return r;
}

int main(int argc, char **argv)
{
        char dir[] = "/tmp/portd-bench-varlink-XXXXXX";
        _cleanup_free_ char *path = NULL;
        double seconds = argc > 1 ? atof(argv[1]) : 3.0;
        unsigned depth = argc > 2 ? (unsigned) atoi(argv[2]) : 64;
        unsigned clients = argc > 3 ? (unsigned) atoi(argv[3]) : 4;
        double rate;
        int ready[2], status, r, ret = 0;
        pid_t pid;
        char x;

        if (seconds <= 0 || depth == 0 || clients == 0) {
                fprintf(stderr, "Usage: %s [SECONDS] [PIPELINE_DEPTH] [CLIENTS]\n", argv[0]);
                return 2;
        }
        if (!mkdtemp(dir) || asprintf(&path, "%s/bench.sock", dir) < 0 || pipe(ready) < 0) {
                perror("setup");
                return 1;
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0) {
                close(ready[0]);
                _exit(serve(path, ready[1]));
        }
        close(ready[1]);
        if (read(ready[0], &x, 1) != 1) {
                fprintf(stderr, "server did not start\n");
                return 1;
        }
        close(ready[0]);

        char what[64];
        double cpu;

        cpu = process_cpu_seconds(pid);
        r = bench_sequential(path, seconds, &rate);
        if (r < 0) {
                fprintf(stderr, "sequential: %s\n", strerror(-r));
                ret = 1;
        } else
                report("GetInfo, 1 connection, call after call", rate, seconds,
                        process_cpu_seconds(pid) - cpu);

        cpu = process_cpu_seconds(pid);
        r = bench_pipelined(path, seconds, depth, &rate);
        if (r < 0) {
                fprintf(stderr, "pipelined: %s\n", strerror(-r));
                ret = 1;
        } else {
                snprintf(what, sizeof(what), "GetInfo, 1 connection, %u calls in flight", depth);
                report(what, rate, seconds, process_cpu_seconds(pid) - cpu);
        }

        cpu = process_cpu_seconds(pid);
        r = bench_parallel(path, seconds, clients, &rate);
        if (r < 0) {
                fprintf(stderr, "parallel: %s\n", strerror(-r));
                ret = 1;
        } else {
                snprintf(what, sizeof(what), "GetInfo, %u connections, call after call", clients);
                report(what, rate, seconds, process_cpu_seconds(pid) - cpu);
        }

        kill(pid, SIGTERM);
        (void) waitpid(pid, &status, 0);
        (void) unlink(path);
        (void) rmdir(dir);
        return ret;
}
