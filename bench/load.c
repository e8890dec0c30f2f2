/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load test of the real portd: N client threads, each with its own persistent varlink connection,
 * look services up by name and by port for a while, and now and then open a fresh connection for
 * a GetSnapshot or a whole List, as new processes do.  Every answer is checked: each kind of call
 * is made once first and its reply compared with glibc's files backend on the same file (as root;
 * else taken as it comes), and every later reply must be that reply byte for byte, a comparison
 * cheap enough that the clients' own work does not hide the daemon's.  Any error, refusal or wrong
 * answer makes the exit status 1.  Prints latency percentiles, the
 * rate, and the daemon's peak RSS and CPU.
 * Usage: load [--clients N] [--seconds S] [--snapshot-every N] [--list-every N] [--timeout S]
 *             [--valgrind] PORTD SERVICES_FILE */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink-wire.h"

#include "bench-util.h"

/* glibc: what getent -s does; selects the files backend whatever nsswitch.conf says. */
extern int __nss_configure_lookup(const char *db, const char *service_line);

#define QUERIES_MAX  4096
#define ERRORS_SHOWN 10

static unsigned arg_clients = 200;
static double arg_seconds = 30;
static unsigned arg_snapshot_every = 100;
static unsigned arg_list_every = 2000;
static double arg_timeout = 5;
static bool arg_valgrind;

typedef struct Query {
        char *name;     /* NULL: by port */
        int port;       /* host order */
        char *protocol; /* NULL: any */
        char *expected; /* "name port/proto alias..." or "-" for not found */
        char *call;     /* the call on the wire, NUL included */
        size_t call_size;
        char *reply; /* the reply on the wire, checked against expected once, NUL included */
        size_t reply_size;
} Query;

static Query queries[QUERIES_MAX];
static size_t n_queries;
static const char *socket_path;

static atomic_bool stop;
static atomic_uint errors_shown;
static pthread_barrier_t start_barrier;

typedef struct Samples {
        uint32_t *usec;
        size_t n, allocated;
} Samples;

typedef struct Worker {
        pthread_t thread;
        unsigned index;
        Samples lookups, snapshots, lists;
        unsigned long errors, wrong;
} Worker;

static void samples_add(Samples *s, uint64_t usec)
{
        if (GROW(s->usec, s->allocated, s->n + 1) < 0)
                abort();
        s->usec[s->n++] = (uint32_t) MIN(usec, (uint64_t) UINT32_MAX);
}

static void *memdup_or_die(const void *p, size_t n)
{
        void *q = malloc(n);

        if (!q)
                abort();
        return memcpy(q, p, n);
}

static void report_error(Worker *w, const char *what, int r, const char *error)
{
        w->errors++;
        if (atomic_fetch_add(&errors_shown, 1) < ERRORS_SHOWN)
                fprintf(stderr, "client %u: %s: %s\n", w->index, what, error ?: strerror(-r));
}

static char *servent_string(
        const char *name, int port, const char *protocol, char **aliases, size_t n_aliases)
{
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                abort();
        fprintf(f, "%s %d/%s", name, port, protocol);
        for (size_t i = 0; i < n_aliases; i++)
                fprintf(f, " %s", aliases[i]);
        fclose(f);
        return s;
}

static char *reply_string(struct json_object *reply)
{
        struct json_object *s, *name, *port, *protocol, *aliases;
        char *a[256];
        size_t n;

        if (!json_object_object_get_ex(reply, "service", &s) ||
                !json_object_object_get_ex(s, "name", &name) ||
                !json_object_object_get_ex(s, "port", &port) ||
                !json_object_object_get_ex(s, "protocol", &protocol) ||
                !json_object_object_get_ex(s, "aliases", &aliases) ||
                !json_object_is_type(aliases, json_type_array))
                return NULL;
        n = MIN(json_object_array_length(aliases), ELEMENTSOF(a));
        for (size_t i = 0; i < n; i++)
                a[i] = (char *) json_object_get_string(json_object_array_get_idx(aliases, i));
        return servent_string(json_object_get_string(name), json_object_get_int(port),
                json_object_get_string(protocol), a, n);
}

static struct json_object *query_parameters(const Query *q)
{
        struct json_object *p = json_object_new_object();

        if (!p)
                abort();
        if (q->name)
                json_object_object_add(p, "name", json_object_new_string(q->name));
        else
                json_object_object_add(p, "port", json_object_new_int(q->port));
        if (q->protocol)
                json_object_object_add(p, "protocol", json_object_new_string(q->protocol));
        return p;
}

static int connect_raw(void)
{
        struct sockaddr_un sa;
        struct timeval tv = { .tv_sec = (time_t) arg_timeout,
                .tv_usec = (suseconds_t) ((arg_timeout - (double) (time_t) arg_timeout) * 1e6) };
        socklen_t l;
        int fd, r;

        r = sockaddr_un_set(&sa, socket_path, &l);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A blocking socket with deadlines: a stuck daemon shows up as an error, not a hang. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
                connect(fd, (struct sockaddr *) &sa, l) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

/* One call, one reply, on a raw socket: the reply (NUL included) in *buf, its size returned. */
static ssize_t call_raw(int fd, const Query *q, char **buf, size_t *allocated)
{
        size_t n = 0;

        for (size_t w = 0; w < q->call_size;) {
                ssize_t k = send(fd, q->call + w, q->call_size - w, MSG_NOSIGNAL);
                if (k < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                w += (size_t) k;
        }
        for (;;) {
                if (n == *allocated) {
                        size_t a = MAX(*allocated * 2, (size_t) 4096);
                        if (a > VARLINK_MESSAGE_MAX * 4)
                                return -EMSGSIZE;
                        char *p = realloc(*buf, a);
                        if (!p)
                                return -ENOMEM;
                        *buf = p;
                        *allocated = a;
                }
                ssize_t k = recv(fd, *buf + n, *allocated - n, 0);
                if (k < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                if (k == 0)
                        return -ECONNRESET;
                /* One call at a time: the reply's NUL is the last byte received. */
                n += (size_t) k;
                if ((*buf)[n - 1] == 0)
                        return (ssize_t) n;
        }
}

static VarlinkClient *connect_client(Worker *w)
{
        VarlinkClient *c = NULL;
        int r = varlink_client_connect(socket_path, (uint64_t) (arg_timeout * 1e6), &c);

        if (r < 0)
                report_error(w, "connect", r, NULL);
        return c;
}

/* A fresh connection, as a new process's first lookup makes: the snapshot's descriptor. */
static void fresh_snapshot(Worker *w)
{
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        VarlinkClient *c = connect_client(w);
        struct json_object *reply = NULL, *size = NULL;
        const char *error = NULL;
        int r, fd;

        if (!c)
                return;
        r = varlink_client_call(c, "io.portd.Services.GetSnapshot", NULL, 0, &reply, &error);
        if (r < 0)
                report_error(w, "GetSnapshot", r, error);
        else if ((fd = varlink_client_take_fd(c)) < 0)
                report_error(w, "GetSnapshot", fd, "no descriptor with the reply");
        else {
                struct stat st;
                if (fstat(fd, &st) < 0 || !json_object_object_get_ex(reply, "size", &size) ||
                        st.st_size < json_object_get_int64(size))
                        report_error(
                                w, "GetSnapshot", -EBADMSG, "the descriptor is smaller than the snapshot");
                safe_close(fd);
                samples_add(&w->snapshots, now_usec(CLOCK_MONOTONIC) - t0);
        }
        varlink_client_free(c);
}

/* A fresh connection streaming the whole catalog. */
static void fresh_list(Worker *w, size_t expected_entries)
{
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        VarlinkClient *c = connect_client(w);
        struct json_object *reply = NULL;
        const char *error = NULL;
        size_t n = 0;
        int r;

        if (!c)
                return;
        for (r = varlink_client_call(c, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &reply, &error);
                r > 0; r = varlink_client_next(c, &reply, &error))
                n++;
        if (r < 0)
                report_error(w, "List", r, error);
        else if (n + 1 != expected_entries) /* the last reply is not counted above */
                report_error(w, "List", -EBADMSG, "a List of another length than the catalog's");
        else
                samples_add(&w->lists, now_usec(CLOCK_MONOTONIC) - t0);
        varlink_client_free(c);
}

static size_t n_entries;

static void *worker_run(void *userdata)
{
        Worker *w = userdata;
        unsigned seed = w->index * 7919u + 1, k = 0;
        _cleanup_free_ char *buf = NULL;
        size_t allocated = 0;
        int fd = connect_raw();

        if (fd < 0)
                report_error(w, "connect", fd, NULL);
        pthread_barrier_wait(&start_barrier);
        while (fd >= 0 && !atomic_load_explicit(&stop, memory_order_relaxed)) {
                const Query *q = &queries[rand_r(&seed) % n_queries];
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                ssize_t n = call_raw(fd, q, &buf, &allocated);
                if (n < 0) {
                        report_error(w, q->name ?: "port lookup", (int) n, NULL);
                        /* A new connection, as a client would make. */
                        safe_close(fd);
                        fd = connect_raw();
                        if (fd < 0)
                                report_error(w, "connect", fd, NULL);
                        continue;
                }
                samples_add(&w->lookups, now_usec(CLOCK_MONOTONIC) - t0);
                if ((size_t) n != q->reply_size || memcmp(buf, q->reply, q->reply_size) != 0) {
                        w->wrong++;
                        if (atomic_fetch_add(&errors_shown, 1) < ERRORS_SHOWN)
                                fprintf(stderr, "client %u: %s %d/%s: got '%.*s', expected '%s'\n", w->index,
                                        q->name ?: "port", q->port, q->protocol ?: "*", (int) n, buf,
                                        q->reply);
                }
                k++;
                /* Offset per client, so that the fresh connections are spread over time. */
                if (arg_snapshot_every && (k + w->index) % arg_snapshot_every == 0)
                        fresh_snapshot(w);
                if (arg_list_every && (k + w->index * 13) % arg_list_every == 0)
                        fresh_list(w, n_entries);
        }
        safe_close(fd);
        return NULL;
}

/* Each query's call on the wire, made once on a connection of its own; its reply must say what
 * the truth says (when there is one yet: unprivileged, the first answer is the truth), and
 * becomes the bytes every later reply is compared with. */
static int prepare_calls(void)
{
        _cleanup_free_ char *buf = NULL;
        size_t allocated = 0;
        _cleanup_close_ int fd = connect_raw();
        int r;

        if (fd < 0)
                return fd;
        for (size_t i = 0; i < n_queries; i++) {
                Query *q = &queries[i];
                struct json_object *m = NULL, *p = query_parameters(q), *v;
                r = varlink_message_build_call(q->name ? "io.portd.Services.GetServiceByName"
                                                       : "io.portd.Services.GetServiceByPort",
                        p, 0, &m);
                json_object_put(p);
                if (r < 0 || (r = varlink_message_serialize(m, &q->call, &q->call_size)) < 0)
                        return r;
                json_object_put(m);

                ssize_t n = call_raw(fd, q, &buf, &allocated);
                if (n < 0)
                        return (int) n;
                if (varlink_message_parse(buf, (size_t) n - 1, &m) < 0)
                        return -EBADMSG;
                _cleanup_free_ char *got = NULL;
                if (json_object_object_get_ex(m, "error", &v))
                        got = strdup(streq(json_object_get_string(v), "io.portd.Services.ServiceNotFound")
                                             ? "-"
                                             : "error");
                else if (json_object_object_get_ex(m, "parameters", &v))
                        got = reply_string(v);
                json_object_put(m);
                if (!got)
                        return -EBADMSG;
                if (!q->expected)
                        q->expected = strdup(got);
                else if (!streq(got, q->expected)) {
                        fprintf(stderr, "%s %d/%s: the daemon answers '%s', glibc's files backend '%s'\n",
                                q->name ?: "port", q->port, q->protocol ?: "*", got, q->expected);
                        return -EBADMSG;
                }
                q->reply = memdup_or_die(buf, (size_t) n);
                q->reply_size = (size_t) n;
        }
        return 0;
}

/* ---- the truth ---- */

static void add_query(const char *name, int port, const char *protocol)
{
        if (n_queries >= QUERIES_MAX)
                return;
        queries[n_queries++] = (Query){
                .name = name ? strdup(name) : NULL,
                .port = port,
                .protocol = protocol ? strdup(protocol) : NULL,
        };
}

/* glibc's files backend reading file as /etc/services: in a private mount namespace of this
 * process (before any thread exists), with "services: files" whatever nsswitch.conf says. */
static int truth_from_glibc(const char *file)
{
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
                mount(file, "/etc/services", "none", MS_BIND, NULL) < 0)
                return -errno;
        if (__nss_configure_lookup("services", "files") < 0)
                return -EINVAL;

        struct servent se, *res;
        char buf[8192];
        unsigned seed = 4242;
        size_t all = 0;

        /* Every name, name/protocol, alias, port/protocol and port of a sample of the entries. */
        setservent(0);
        while (getservent_r(&se, buf, sizeof(buf), &res) == 0 && res) {
                all++;
                if (!se.s_proto[0])
                        continue;
                if (rand_r(&seed) % 8 != 0 && all > 64)
                        continue;
                add_query(se.s_name, 0, NULL);
                add_query(se.s_name, 0, se.s_proto);
                if (se.s_aliases[0])
                        add_query(se.s_aliases[0], 0, se.s_proto);
                add_query(NULL, ntohs((uint16_t) se.s_port), se.s_proto);
                add_query(NULL, ntohs((uint16_t) se.s_port), NULL);
        }
        endservent();
        n_entries = all;
        for (int i = 0; i < 32; i++) {
                char name[32];
                snprintf(name, sizeof(name), "no-such-service-%d", i);
                add_query(name, 0, i % 2 ? "tcp" : NULL);
                add_query(NULL, 65535 - i, i % 2 ? "udp" : NULL);
        }

        for (size_t i = 0; i < n_queries; i++) {
                Query *q = &queries[i];
                int r;
                if (q->name)
                        r = getservbyname_r(q->name, q->protocol, &se, buf, sizeof(buf), &res);
                else
                        r = getservbyport_r(
                                (int) htons((uint16_t) q->port), q->protocol, &se, buf, sizeof(buf), &res);
                if (r != 0)
                        return -r;
                size_t n_aliases = 0;
                while (res && se.s_aliases[n_aliases])
                        n_aliases++;
                q->expected = res ? servent_string(se.s_name, ntohs((uint16_t) se.s_port), se.s_proto,
                                            se.s_aliases, n_aliases)
                                  : strdup("-");
        }
        return 0;
}

/* Unprivileged: the queries from the daemon's List; prepare_calls() takes its first answers. */
static int truth_from_daemon(void)
{
        Worker w = { .index = 0 };
        VarlinkClient *c = connect_client(&w);
        struct json_object *reply = NULL, *s, *v;
        const char *error = NULL;
        unsigned seed = 4242;
        int r;

        if (!c)
                return -ECONNREFUSED;
        for (r = varlink_client_call(c, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &reply, &error);;
                r = varlink_client_next(c, &reply, &error)) {
                if (r < 0)
                        return r;
                n_entries++;
                if ((rand_r(&seed) % 8 == 0 || n_entries <= 64) &&
                        json_object_object_get_ex(reply, "service", &s)) {
                        const char *name = NULL, *protocol = NULL;
                        int port = 0;
                        if (json_object_object_get_ex(s, "name", &v))
                                name = json_object_get_string(v);
                        if (json_object_object_get_ex(s, "protocol", &v))
                                protocol = json_object_get_string(v);
                        if (json_object_object_get_ex(s, "port", &v))
                                port = json_object_get_int(v);
                        add_query(name, 0, NULL);
                        add_query(name, 0, protocol);
                        add_query(NULL, port, protocol);
                        add_query(NULL, port, NULL);
                }
                if (r == 0)
                        break;
        }
        for (int i = 0; i < 32; i++) {
                char name[32];
                snprintf(name, sizeof(name), "no-such-service-%d", i);
                add_query(name, 0, i % 2 ? "tcp" : NULL);
        }
        varlink_client_free(c);
        return 0;
}

/* ---- the daemon ---- */

static long status_kib(pid_t pid, const char *field)
{
        char path[64], line[256];
        long v = -1;
        size_t l = strlen(field);

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strneq(line, field, l) && line[l] == ':')
                        v = strtol(line + l + 1, NULL, 10);
        fclose(f);
        return v;
}

static int compare_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* Merges every worker's samples of one kind (at offset), sorted. */
static Samples merge(Worker *workers, size_t offset)
{
        Samples all = {};

        for (unsigned i = 0; i < arg_clients; i++) {
                Samples *s = (Samples *) ((char *) &workers[i] + offset);
                for (size_t j = 0; j < s->n; j++)
                        samples_add(&all, s->usec[j]);
        }
        if (all.n)
                qsort(all.usec, all.n, sizeof(uint32_t), compare_u32);
        return all;
}

static double percentile_ms(const Samples *s, double p)
{
        if (s->n == 0)
                return 0;
        size_t i = (size_t) (p * (double) (s->n - 1) + 0.5);
        return s->usec[MIN(i, s->n - 1)] / 1000.0;
}

static void print_latency(const char *what, const Samples *s, double seconds)
{
        printf("%-34s %9zu  %8.0f/s   p50 %7.3f ms   p99 %7.3f ms   max %8.3f ms\n", what, s->n,
                (double) s->n / seconds, percentile_ms(s, 0.5), percentile_ms(s, 0.99),
                percentile_ms(s, 1.0));
}

static void help(void)
{
        printf("usage: load [--clients N] [--seconds S] [--snapshot-every N] [--list-every N] [--timeout "
               "S]\n"
               "            [--valgrind] PORTD SERVICES_FILE\n");
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                { "clients", required_argument, NULL, 'c' },
                { "seconds", required_argument, NULL, 's' },
                { "snapshot-every", required_argument, NULL, 'S' },
                { "list-every", required_argument, NULL, 'L' },
                { "timeout", required_argument, NULL, 't' },
                { "valgrind", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        char dir[] = "/tmp/portd-load.XXXXXX", path[256], sock[256], log[256];
        const char *truth;
        int c, r, status;
        pid_t pid;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_clients = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        arg_seconds = atof(optarg);
                        break;
                case 'S':
                        arg_snapshot_every = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'L':
                        arg_list_every = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        arg_timeout = atof(optarg);
                        break;
                case 'V':
                        arg_valgrind = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (argc - optind != 2 || arg_clients == 0 || arg_seconds <= 0 || arg_timeout <= 0) {
                help();
                return 2;
        }

        /* Each client holds one socket, and a fresh one now and then with a snapshot's memfd. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 3 * arg_clients + 64) {
                fprintf(stderr, "RLIMIT_NOFILE %lu is too low for %u clients\n", (unsigned long) rl.rlim_cur,
                        arg_clients);
                return 1;
        }

        if (!mkdtemp(dir))
                return perror("mkdtemp"), 1;
        snprintf(path, sizeof(path), "%s/etc", dir);
        (void) mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/services", dir);
        if ((r = copy_file(argv[optind + 1], path)) < 0)
                return fprintf(stderr, "cannot copy '%s': %s\n", argv[optind + 1], strerror(-r)), 1;
        snprintf(sock, sizeof(sock), "%s/sock", dir);
        snprintf(log, sizeof(log), "%s/portd.log", dir);
        socket_path = sock;

        r = truth_from_glibc(argv[optind + 1]);
        truth = "glibc's files backend on the same file";
        if (r < 0) {
                fprintf(stderr,
                        "# no private mount namespace (%s): answers are checked for consistency only\n",
                        strerror(-r));
                truth = NULL;
        }

        pid = fork();
        if (pid < 0)
                return perror("fork"), 1;
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0)
                        dup2(fd, STDERR_FILENO);
                if (arg_valgrind)
                        execlp("valgrind", "valgrind", "--error-exitcode=99", "--leak-check=full",
                                "--errors-for-leak-kinds=definite", "--quiet", argv[optind], "--root", dir,
                                "--socket", sock, (char *) NULL);
                else
                        execl(argv[optind], argv[optind], "--root", dir, "--socket", sock, (char *) NULL);
                _exit(127);
        }

        VarlinkClient *probe = NULL;
        for (int i = 0; i < 100 * 60; i++) {
                if (varlink_client_connect(sock, 0, &probe) >= 0)
                        break;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        fprintf(stderr, "portd exited before it served\n");
                        return 1;
                }
                usleep(10000);
        }
        if (!probe) {
                fprintf(stderr, "portd did not come up\n");
                kill(pid, SIGKILL);
                return 1;
        }
        varlink_client_free(probe);

        if (!truth) {
                r = truth_from_daemon();
                if (r < 0) {
                        fprintf(stderr, "cannot take the daemon's answers: %s\n", strerror(-r));
                        kill(pid, SIGTERM);
                        return 1;
                }
                truth = "the daemon's first answers (consistency)";
        }
        r = prepare_calls();
        if (r < 0) {
                fprintf(stderr, "the first pass of lookups fails: %s\n", strerror(-r));
                kill(pid, SIGTERM);
                return 1;
        }

        Worker *workers = calloc(arg_clients, sizeof(Worker));
        pthread_attr_t attr;
        if (!workers || pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 256 * 1024) != 0 ||
                pthread_barrier_init(&start_barrier, NULL, arg_clients + 1) != 0)
                return fprintf(stderr, "out of memory\n"), 1;
        for (unsigned i = 0; i < arg_clients; i++) {
                workers[i].index = i;
                if (pthread_create(&workers[i].thread, &attr, worker_run, &workers[i]) != 0)
                        return fprintf(stderr, "cannot start client %u\n", i), 1;
        }
        pthread_barrier_wait(&start_barrier);

        double cpu0 = process_cpu_seconds(pid), t0 = now_seconds();
        long rss_start = status_kib(pid, "VmRSS");
        while (now_seconds() - t0 < arg_seconds)
                usleep(20000);
        atomic_store(&stop, true);
        for (unsigned i = 0; i < arg_clients; i++)
                pthread_join(workers[i].thread, NULL);
        double elapsed = now_seconds() - t0, cpu = process_cpu_seconds(pid) - cpu0;
        long hwm = status_kib(pid, "VmHWM"), rss_end = status_kib(pid, "VmRSS");

        /* SIGTERM must end the daemon cleanly after the load (valgrind's 99 on a leak or an error). */
        kill(pid, SIGTERM);
        bool daemon_ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;

        unsigned long errors = 0, wrong = 0;
        for (unsigned i = 0; i < arg_clients; i++) {
                errors += workers[i].errors;
                wrong += workers[i].wrong;
        }
        Samples lookups = merge(workers, offsetof(Worker, lookups));
        Samples snapshots = merge(workers, offsetof(Worker, snapshots));
        Samples lists = merge(workers, offsetof(Worker, lists));

        printf("load: %u clients x %.0f s against portd%s on %s (%zu entries, %zu query kinds; answers "
               "checked against %s)\n",
                arg_clients, arg_seconds, arg_valgrind ? " under valgrind" : "", argv[optind + 1], n_entries,
                n_queries, truth);
        print_latency("lookups (persistent connections)", &lookups, elapsed);
        print_latency("GetSnapshot (fresh connections)", &snapshots, elapsed);
        print_latency("List of everything (fresh conn.)", &lists, elapsed);
        printf("errors %lu, wrong answers %lu\n", errors, wrong);
        printf("daemon: peak RSS (VmHWM) %.1f MiB, RSS %.1f MiB at start of load and %.1f MiB at end; "
               "CPU %.1f s in %.1f s (%.0f%% of one core)%s\n",
                hwm / 1024.0, rss_start / 1024.0, rss_end / 1024.0, cpu, elapsed, 100.0 * cpu / elapsed,
                daemon_ok ? "; exit 0 on SIGTERM" : "");
        if (!daemon_ok) {
                fprintf(stderr, "portd did not exit 0 on SIGTERM (status 0x%x); its log:\n",
                        (unsigned) status);
                FILE *f = fopen(log, "re");
                char line[1024];
                for (int i = 0; f && i < 60 && fgets(line, sizeof(line), f); i++)
                        fputs(line, stderr);
                if (f)
                        fclose(f);
        }

        for (unsigned i = 0; i < arg_clients; i++) {
                free(workers[i].lookups.usec);
                free(workers[i].snapshots.usec);
                free(workers[i].lists.usec);
        }
        free(workers);
        free(lookups.usec);
        free(snapshots.usec);
        free(lists.usec);
        for (size_t i = 0; i < n_queries; i++) {
                free(queries[i].name);
                free(queries[i].protocol);
                free(queries[i].expected);
                free(queries[i].call);
                free(queries[i].reply);
        }
        pthread_barrier_destroy(&start_barrier);
        pthread_attr_destroy(&attr);
        unlink(sock);
        unlink(log);
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc", dir);
        rmdir(path);
        rmdir(dir);

        return errors == 0 && wrong == 0 && daemon_ok && lookups.n > 0 ? 0 : 1;
}
