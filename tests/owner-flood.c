/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner-query attackers for tests/integration-privsep.sh and bench/bench-flood.sh, run as an
 * unprivileged user.  Each mode prints one line saying what it did; the script judges.
 *   flood SOCKET PROCS SECONDS        connect, io.portd.Sockets.List {established}, close; in a loop
 *   hold SOCKET N SECONDS             N such calls that never read their replies
 *   busy SOCKET N SECONDS             N connections asking for every socket, reading it all, again
 *   listen N PORT0                    N TCP listeners on 127.0.0.1 from PORT0 on, held until killed
 *   who SOCKET PORT                   one io.portd.Sockets.List for PORT; prints ms and rows
 *   ping SOCKET                       one org.varlink.service.GetInfo, connecting as portctl does
 *                                     (varlink_client_connect()); prints ms: the wait for the
 *                                     daemon to get to a new connection, without any query */

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink-wire.h"

static const char *socket_path;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
        stop = 1;
}

static int connect_socket(void)
{
        struct sockaddr_un sa;
        socklen_t l;
        int fd;

        if (sockaddr_un_set(&sa, socket_path, &l) < 0)
                return -EINVAL;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, l) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static const char list_all[] =
        "{\"method\":\"io.portd.Sockets.List\",\"parameters\":{\"established\":true},\"more\":true}";

static int send_call(int fd, const char *call)
{
        size_t n = strlen(call) + 1;
        return send(fd, call, n, MSG_NOSIGNAL) == (ssize_t) n ? 0 : -errno;
}

static int mode_flood(unsigned procs, double seconds)
{
        uint64_t end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (seconds * 1e6);
        unsigned long total = 0;

        for (unsigned p = 0; p < procs; p++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        unsigned long n = 0;
                        while (!stop && now_usec(CLOCK_MONOTONIC) < end) {
                                int fd = connect_socket();
                                if (fd < 0) {
                                        usleep(1000);
                                        continue;
                                }
                                if (send_call(fd, list_all) >= 0)
                                        n++;
                                close(fd);
                        }
                        _exit(n > 255 ? 255 : (int) n);
                }
        }
        for (unsigned p = 0; p < procs; p++) {
                int status;
                if (wait(&status) > 0 && WIFEXITED(status))
                        total += (unsigned long) WEXITSTATUS(status);
        }
        printf("flood: %u processes for %.1f s\n", procs, seconds);
        return 0;
}

static int mode_hold(unsigned n, double seconds)
{
        unsigned open = 0;

        for (unsigned i = 0; i < n; i++) {
                int fd = connect_socket();
                if (fd < 0)
                        continue;
                /* A small receive buffer: what the daemon cannot send stays with the daemon. */
                int one = 4096;
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
                if (send_call(fd, list_all) >= 0)
                        open++;
        }
        printf("hold: %u connections that never read\n", open);
        fflush(stdout);
        uint64_t end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (seconds * 1e6);
        while (!stop && now_usec(CLOCK_MONOTONIC) < end)
                usleep(100 * 1000);
        return 0;
}

/* One call, every reply read; the number of rows, or -errno. */
static long list_and_read(int fd, const char *call)
{
        VarlinkBuffer b;
        long rows = 0;

        if (send_call(fd, call) < 0)
                return -EIO;
        varlink_buffer_init(&b, 0);
        for (;;) {
                const char *m;
                size_t n;
                int r = varlink_buffer_next(&b, &m, &n);
                if (r < 0)
                        break;
                if (r > 0) {
                        rows++;
                        if (!strstr(m, "\"continues\":true")) {
                                varlink_buffer_done(&b);
                                return strstr(m, "\"error\"") ? -(rows - 1) - 1 : rows;
                        }
                        continue;
                }
                char *p;
                size_t avail;
                if (varlink_buffer_prepare(&b, 65536, &p, &avail) < 0)
                        break;
                ssize_t k = recv(fd, p, avail, 0);
                if (k <= 0)
                        break;
                varlink_buffer_commit(&b, (size_t) k);
        }
        varlink_buffer_done(&b);
        return -EIO;
}

static int mode_busy(unsigned n, double seconds)
{
        uint64_t end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (seconds * 1e6);

        for (unsigned i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        while (!stop && now_usec(CLOCK_MONOTONIC) < end) {
                                int fd = connect_socket();
                                if (fd < 0) {
                                        usleep(10000);
                                        continue;
                                }
                                (void) list_and_read(fd, list_all);
                                close(fd);
                        }
                        _exit(0);
                }
        }
        while (wait(NULL) > 0)
                ;
        printf("busy: %u connections for %.1f s\n", n, seconds);
        return 0;
}

static int mode_listen(unsigned n, unsigned port0)
{
        struct rlimit rl;
        unsigned made = 0;

        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (unsigned i = 0; i < n && port0 + i < 65536; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        break;
                struct sockaddr_in sa = { .sin_family = AF_INET,
                        .sin_port = htons((uint16_t) (port0 + i)),
                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
                        close(fd);
                        continue;
                }
                made++;
        }
        printf("listen: %u sockets\n", made);
        fflush(stdout);
        while (!stop)
                pause();
        return 0;
}

static int mode_who(unsigned port)
{
        char call[256];
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int fd = connect_socket();

        if (fd < 0) {
                printf("who: connect failed: %s\n", strerror(-fd));
                return 1;
        }
        snprintf(call, sizeof(call),
                "{\"method\":\"io.portd.Sockets.List\",\"parameters\":{\"port\":%u},\"more\":true}", port);
        long rows = list_and_read(fd, call);
        close(fd);
        printf("who: %.3f ms, %ld rows\n", (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0, rows);
        return rows > 0 ? 0 : 1;
}

static int mode_ping(void)
{
        VarlinkClient *c = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r = varlink_client_connect(socket_path, 0, &c);

        if (r >= 0)
                r = varlink_client_call(c, "org.varlink.service.GetInfo", NULL, 0, NULL, NULL);
        varlink_client_free(c);
        if (r < 0) {
                printf("ping: failed: %s\n", strerror(-r));
                return 1;
        }
        printf("ping: %.3f ms\n", (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: owner-flood MODE ARGS...\n");
                return 2;
        }
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);

        const char *mode = argv[1];
        if (streq(mode, "listen") && argc == 4)
                return mode_listen((unsigned) atoi(argv[2]), (unsigned) atoi(argv[3]));
        socket_path = argv[2];
        if (streq(mode, "flood") && argc == 5)
                return mode_flood((unsigned) atoi(argv[3]), atof(argv[4]));
        if (streq(mode, "hold") && argc == 5)
                return mode_hold((unsigned) atoi(argv[3]), atof(argv[4]));
        if (streq(mode, "busy") && argc == 5)
                return mode_busy((unsigned) atoi(argv[3]), atof(argv[4]));
        if (streq(mode, "who") && argc == 4)
                return mode_who((unsigned) atoi(argv[3]));
        if (streq(mode, "ping") && argc == 3)
                return mode_ping();
        fprintf(stderr, "unknown mode or wrong arguments: %s\n", mode);
        return 2;
}
