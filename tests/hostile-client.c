/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hostile clients of portd for tests/integration-hostile.sh, and the root client whose service
 * they must not hold up.  Each mode prints one line saying what happened; the script judges.
 *   big SOCKET BYTES nul|nonul     one call of BYTES bytes (a NUL at the end or none)
 *   idle SOCKET N MARKER SECONDS   N connections held idle; MARKER written once they are open
 *   uids SOCKET UID0 N_UIDS PER MARKER SECONDS   PER connections from each of N_UIDS users
 *   churn SOCKET SECONDS           reconnects as fast as the daemon closes (refuses) it
 *   garbage SOCKET SEED            random bytes with NULs in them
 *   halfclose SOCKET N             N pipelined calls, then shutdown(SHUT_WR), then read
 *   probe SOCKET N fresh|persistent   N lookups; latency percentiles; exit 1 on any failure */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
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

static int connect_socket(void)
{
        struct sockaddr_un sa;
        socklen_t l;
        int fd, r;

        r = sockaddr_un_set(&sa, socket_path, &l);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, l) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

/* The daemon closed its end (a refusal, a limit, a timeout): EOF or a reset is waiting. */
static bool closed_by_peer(int fd)
{
        char c;
        ssize_t k = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

        return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int write_marker(const char *path, const char *text)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                return -EIO;
        return 0;
}

static volatile sig_atomic_t terminate;

static void on_term(int sig)
{
        terminate = 1;
}

/* Sleeps up to seconds, less on SIGTERM. */
static void hold(double seconds)
{
        uint64_t end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (seconds * 1e6);

        while (!terminate && now_usec(CLOCK_MONOTONIC) < end)
                usleep(20000);
}

/* Opens n connections; how many the daemon kept after a settling pause in *ret_kept. */
static int open_idle(unsigned n, int **ret_fds, unsigned *ret_opened, unsigned *ret_kept)
{
        int *fds = calloc(n ?: 1, sizeof(int));
        unsigned opened = 0, kept = 0;

        if (!fds)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                int fd = connect_socket();
                if (fd < 0)
                        continue;
                fds[opened++] = fd;
        }
        /* Refused connections are accepted and closed at once; let the backlog drain. */
        usleep(500000);
        for (unsigned i = 0; i < opened; i++)
                if (!closed_by_peer(fds[i]))
                        kept++;
        *ret_fds = fds;
        *ret_opened = opened;
        *ret_kept = kept;
        return 0;
}

static int mode_idle(unsigned n, const char *marker, double seconds)
{
        unsigned opened, kept;
        int *fds;
        char text[64];

        raise_nofile();
        if (open_idle(n, &fds, &opened, &kept) < 0)
                return 1;
        snprintf(text, sizeof(text), "%u %u\n", opened, kept);
        if (write_marker(marker, text) < 0)
                return 1;
        hold(seconds);
        unsigned alive = 0;
        for (unsigned i = 0; i < opened; i++) {
                alive += !closed_by_peer(fds[i]);
                safe_close(fds[i]);
        }
        free(fds);
        printf("opened %u, kept %u by the daemon, %u still open at the end\n", opened, kept, alive);
        return 0;
}

/* One child per user, each opening per connections; the parent sums what the daemon kept. */
static int mode_uids(unsigned uid0, unsigned n_uids, unsigned per, const char *marker, double seconds)
{
        pid_t *kids = calloc(n_uids, sizeof(pid_t));
        int p[2];
        unsigned opened = 0, kept = 0;

        if (!kids || pipe2(p, O_CLOEXEC) < 0)
                return 1;
        for (unsigned k = 0; k < n_uids; k++) {
                kids[k] = fork();
                if (kids[k] < 0)
                        return 1;
                if (kids[k] == 0) {
                        unsigned o, kk;
                        int *fds;
                        safe_close(p[0]);
                        if (setgroups(0, NULL) < 0 || setgid(uid0 + k) < 0 || setuid(uid0 + k) < 0)
                                _exit(1);
                        if (open_idle(per, &fds, &o, &kk) < 0)
                                _exit(1);
                        unsigned report[2] = { o, kk };
                        if (write(p[1], report, sizeof(report)) != sizeof(report))
                                _exit(1);
                        signal(SIGTERM, on_term);
                        hold(seconds + 5);
                        _exit(0);
                }
        }
        safe_close(p[1]);
        for (unsigned k = 0; k < n_uids; k++) {
                unsigned report[2];
                if (read(p[0], report, sizeof(report)) != sizeof(report))
                        return 1;
                opened += report[0];
                kept += report[1];
        }
        char text[64];
        snprintf(text, sizeof(text), "%u %u\n", opened, kept);
        if (write_marker(marker, text) < 0)
                return 1;
        hold(seconds);
        for (unsigned k = 0; k < n_uids; k++)
                kill(kids[k], SIGTERM);
        for (unsigned k = 0; k < n_uids; k++)
                waitpid(kids[k], NULL, 0);
        free(kids);
        printf("%u users opened %u connections, the daemon kept %u\n", n_uids, opened, kept);
        return 0;
}

/* A client that comes straight back whenever it is refused: a busy accept loop's worst case. */
static int mode_churn(double seconds)
{
        uint64_t end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (seconds * 1e6);
        unsigned long connects = 0, refused = 0;
        int held[64];
        unsigned n_held = 0;

        raise_nofile();
        while (!terminate && now_usec(CLOCK_MONOTONIC) < end) {
                int fd = connect_socket();
                if (fd < 0) {
                        usleep(1000);
                        continue;
                }
                connects++;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                /* Refused: EOF within a moment.  Kept: hold it, up to a point. */
                if (poll(&pfd, 1, 20) > 0 && closed_by_peer(fd)) {
                        refused++;
                        safe_close(fd);
                } else if (n_held < ELEMENTSOF(held))
                        held[n_held++] = fd;
                else
                        safe_close(fd);
        }
        for (unsigned i = 0; i < n_held; i++)
                safe_close(held[i]);
        printf("%lu connections, %lu refused\n", connects, refused);
        return 0;
}

/* One call of size bytes: the prefix of a real call, then 'a's; a NUL at the end if nul.  The
 * daemon must close the connection once the message passes its bound, without reading (and
 * keeping) the rest. */
static int mode_big(size_t size, bool nul)
{
        static const char prefix[] =
                "{\"method\":\"io.portd.Services.GetServiceByName\",\"parameters\":{\"name\":\"";
        static const char suffix[] = "\"}}";
        char chunk[65536];
        size_t sent = 0;
        int fd = connect_socket();
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        const char *how = "sent whole";

        if (fd < 0) {
                printf("cannot connect: %s\n", strerror(-fd));
                return 1;
        }
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return 1;
        memset(chunk, 'a', sizeof(chunk));
        while (sent < size) {
                /* Byte i of the message, whatever chunk it falls in. */
                size_t n = MIN(sizeof(chunk), size - sent);
                char buf[sizeof(chunk)];
                memcpy(buf, chunk, n);
                for (size_t i = 0; i < n; i++) {
                        size_t at = sent + i;
                        if (at < sizeof(prefix) - 1)
                                buf[i] = prefix[at];
                        else if (nul && at == size - 1)
                                buf[i] = 0;
                        else if (nul && at >= size - sizeof(suffix) && at < size - 1)
                                buf[i] = suffix[at - (size - sizeof(suffix))];
                }
                ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        /* Neither reading nor closing for 5 s: the daemon stalls on us. */
                        if (poll(&pfd, 1, 5000) == 0) {
                                how = "stalled";
                                break;
                        }
                        continue;
                }
                if (k < 0) {
                        how = "closed";
                        break;
                }
                sent += (size_t) k;
        }
        /* Sent whole: an answer or a close must follow. */
        char reply[4096];
        ssize_t got = 0;
        if (sent == size) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, 5000) > 0) {
                        got = recv(fd, reply, sizeof(reply) - 1, 0);
                        how = got > 0 ? "answered" : "closed";
                }
        }
        if (got > 0) {
                reply[got] = 0;
                printf("answered after %zu bytes in %.0f ms: %.80s\n", sent,
                        (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0, reply);
        } else
                printf("%s after %zu bytes in %.0f ms\n", how, sent,
                        (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);
        safe_close(fd);
        return 0;
}

static int mode_garbage(unsigned seed)
{
        char buf[8192];
        int fd = connect_socket();

        if (fd < 0)
                return 1;
        /* Bytes with NULs among them: "messages" that are no JSON, some of them empty. */
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = rand_r(&seed) % 16 == 0 ? 0 : (char) rand_r(&seed);
        (void) send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        bool closed = false;
        while (poll(&pfd, 1, 5000) > 0) {
                char r[4096];
                ssize_t k = recv(fd, r, sizeof(r), 0);
                if (k <= 0) {
                        closed = true;
                        break;
                }
        }
        printf("%s\n", closed ? "closed" : "open");
        safe_close(fd);
        return 0;
}

static int mode_halfclose(unsigned n)
{
        static const char call[] =
                "{\"method\":\"io.portd.Services.GetServiceByName\",\"parameters\":{\"name\":\"ssh\"}}";
        int fd = connect_socket();
        unsigned replies = 0;
        bool eof = false;

        if (fd < 0)
                return 1;
        for (unsigned i = 0; i < n; i++)
                if (send(fd, call, sizeof(call), MSG_NOSIGNAL) != (ssize_t) sizeof(call))
                        return 1;
        shutdown(fd, SHUT_WR);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        while (poll(&pfd, 1, 5000) > 0) {
                char buf[65536];
                ssize_t k = recv(fd, buf, sizeof(buf), 0);
                if (k <= 0) {
                        eof = k == 0;
                        break;
                }
                for (ssize_t i = 0; i < k; i++)
                        replies += buf[i] == 0;
        }
        printf("%u of %u answered%s\n", replies, n, eof ? ", then EOF" : ", no EOF");
        safe_close(fd);
        return 0;
}

static int compare_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Root's lookups while others do their worst: each on a fresh connection (as a new process's
 * first one) or all on one.  Any failure counts; prints p50/p99/max in ms. */
static int mode_probe(unsigned n, bool fresh)
{
        uint64_t *lat = calloc(n, sizeof(uint64_t));
        VarlinkClient *c = NULL;
        unsigned failed = 0;

        if (!lat)
                return 1;
        for (unsigned i = 0; i < n; i++) {
                struct json_object *p = json_object_new_object(), *reply = NULL, *v, *name;
                const char *error = NULL;
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                int r = 0;

                json_object_object_add(p, "name", json_object_new_string("ssh"));
                json_object_object_add(p, "protocol", json_object_new_string("tcp"));
                if (!c)
                        r = varlink_client_connect(socket_path, 10 * 1000 * 1000, &c);
                if (r >= 0)
                        r = varlink_client_call(
                                c, "io.portd.Services.GetServiceByName", p, 0, &reply, &error);
                json_object_put(p);
                if (r < 0 || !json_object_object_get_ex(reply, "service", &v) ||
                        !json_object_object_get_ex(v, "name", &name) ||
                        !streq(json_object_get_string(name), "ssh")) {
                        if (failed++ < 5)
                                fprintf(stderr, "lookup %u failed: %s\n", i,
                                        error ?: strerror(r < 0 ? -r : EBADMSG));
                        c = varlink_client_free(c);
                }
                lat[i] = now_usec(CLOCK_MONOTONIC) - t0;
                if (fresh)
                        c = varlink_client_free(c);
                usleep(2000);
        }
        varlink_client_free(c);
        qsort(lat, n, sizeof(uint64_t), compare_u64);
        printf("%u lookups (%s connection%s), %u failed: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", n,
                fresh ? "fresh" : "one", fresh ? "s" : "", failed, lat[n / 2] / 1000.0,
                lat[(size_t) ((n - 1) * 0.99)] / 1000.0, lat[n - 1] / 1000.0);
        free(lat);
        return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: hostile-client MODE SOCKET ARGS...\n");
                return 2;
        }
        socket_path = argv[2];
        signal(SIGTERM, on_term);
        signal(SIGPIPE, SIG_IGN);

        const char *mode = argv[1];
        if (streq(mode, "big") && argc == 5)
                return mode_big(strtoull(argv[3], NULL, 10), streq(argv[4], "nul"));
        if (streq(mode, "idle") && argc == 6)
                return mode_idle((unsigned) atoi(argv[3]), argv[4], atof(argv[5]));
        if (streq(mode, "uids") && argc == 8)
                return mode_uids((unsigned) atoi(argv[3]), (unsigned) atoi(argv[4]),
                        (unsigned) atoi(argv[5]), argv[6], atof(argv[7]));
        if (streq(mode, "churn") && argc == 4)
                return mode_churn(atof(argv[3]));
        if (streq(mode, "garbage") && argc == 4)
                return mode_garbage((unsigned) atoi(argv[3]));
        if (streq(mode, "halfclose") && argc == 4)
                return mode_halfclose((unsigned) atoi(argv[3]));
        if (streq(mode, "probe") && argc == 5 && atoi(argv[3]) > 0)
                return mode_probe((unsigned) atoi(argv[3]), streq(argv[4], "fresh"));
        fprintf(stderr, "unknown mode or wrong arguments: %s\n", mode);
        return 2;
}
