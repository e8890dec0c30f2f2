/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a getservbyname()/getservbyport() call costs through real glibc, per source: portd's NSS
 * module on its mapped snapshot, the same module in varlink-only mode, glibc's files backend
 * reading the same file as /etc/services (private mount namespace), nscd (glibc's own cache,
 * started for the run in a private mount namespace of its own), and a module that does nothing
 * (the NSS dispatch floor); plus the first lookup of a fresh process, in µs and in minor page
 * faults, beside the floor any module pays there (the do-nothing module loaded by glibc).  All in
 * one mount namespace where nscd runs, the backends interleaved round by round; medians with
 * quartiles.
 * Usage: bench-nss PORTD [SERVICES-FILE...]   (run as root for the files and nscd columns) */

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <netdb.h>
#include <nss.h>
#include <stdio.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "nss-test-util.h"
#include "util.h"

/* Per call: N_ROUNDS rounds, each one batch of every query by every backend in turn (about
 * BATCH_NSEC each): a disturbance from the rest of this shared machine then lands on all backends
 * alike instead of on whichever ran at that moment, and the spread over the rounds shows how far
 * a median can be trusted.  First lookups: N_FRESH fresh processes of each kind, in turn too. */
#define N_ROUNDS   61
#define BATCH_NSEC 400000u
#define N_FRESH    81

typedef enum Backend {
        BACKEND_PORTD,
        BACKEND_FILES,
        BACKEND_NULL,
        BACKEND_VARLINK,
        BACKEND_NSCD,
        _BACKEND_MAX,
} Backend;

static const char *backend_name(Backend b)
{
        static const char *const names[_BACKEND_MAX] = {
                [BACKEND_PORTD] = "portd",
                [BACKEND_FILES] = "files",
                [BACKEND_NULL] = "null",
                [BACKEND_VARLINK] = "varlink",
                [BACKEND_NSCD] = "nscd",
        };
        return names[b];
}

/* nscd's socket and database live here; glibc's clients find it at /var/run/nscd/socket. */
#define NSCD_RUN_DIR         "/run/nscd"
#define NSCD_CACHE_DIR       "/var/cache/nscd"
#define NSCD_SOCKET          NSCD_RUN_DIR "/socket"
#define NSCD_CONF            NSCD_RUN_DIR "/bench-nscd.conf"
#define NSCD_NSSWITCH        NSCD_RUN_DIR "/bench-nsswitch.conf"
#define NSCD_CLIENT_NSSWITCH NSCD_RUN_DIR "/bench-client-nsswitch.conf"
/* The nsswitch.conf a program started afresh reads, per backend: written into nscd's run directory
 * (a tmpfs of the session's mount namespace) and bound over /etc/nsswitch.conf in each program's
 * own namespace.  nscd's clients have theirs already (configure()). */
#define EXEC_NSSWITCH_PORTD NSCD_RUN_DIR "/bench-portd-nsswitch.conf"
#define EXEC_NSSWITCH_NULL  NSCD_RUN_DIR "/bench-null-nsswitch.conf"

typedef struct Query {
        char label[40];
        char name[128]; /* empty: by port */
        int port;       /* network byte order */
        char protocol[32];
        bool any;
        bool hit; /* the files backend answers it */
} Query;

static Query queries[8];
static size_t n_queries;
static const char *arg_file;
static PortdInstance portd;

static uint64_t now_nsec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* The q-quantile of the n values at v (sorted in place), NaNs left out. */
static double quantile(double *v, size_t n, double q)
{
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
                if (!isnan(v[i]))
                        v[m++] = v[i];
        if (m == 0)
                return NAN;
        qsort(v, m, sizeof(double), compare_double);
        return v[(size_t) (q * (double) (m - 1) + 0.5)];
}

static double median(double *v, size_t n)
{
        return quantile(v, n, 0.5);
}

static void *volatile sink;

static void call(const Query *q)
{
        const char *protocol = q->any ? NULL : q->protocol;

        sink = q->name[0] ? getservbyname(q->name, protocol) : getservbyport(q->port, protocol);
}

/* Whether a backend's answer to q is the files backend's: found or not as there, with the
 * protocol asked for and, by port, that port (by name and any protocol, the first line of the name
 * may be another port's).  A lookup that fails fast must not be timed as one that answers. */
static bool answer_right(const Query *q)
{
        const char *protocol = q->any ? NULL : q->protocol;
        const struct servent *se = q->name[0] ? getservbyname(q->name, protocol)
                                              : getservbyport(q->port, protocol);

        if (!se || !q->hit)
                return !se == !q->hit;
        if (protocol && !streq(se->s_proto, protocol))
                return false;
        return (q->name[0] && q->any) || se->s_port == q->port;
}

/* ns per call over one batch of n calls. */
static double measure_batch(const Query *q, uint64_t n)
{
        uint64_t t = now_nsec();

        for (uint64_t i = 0; i < n; i++)
                call(q);
        return (double) (now_nsec() - t) / (double) n;
}

static int configure(Backend b)
{
        setenv("PORTD_SOCKET", portd.socket, 1);
        switch (b) {
        case BACKEND_PORTD:
                nss_use_source("portd");
                break;
        case BACKEND_VARLINK:
                setenv("PORTD_NSS_NO_SNAPSHOT", "1", 1);
                nss_use_source("portd");
                break;
        case BACKEND_NULL:
                nss_use_source("portdnull");
                break;
        case BACKEND_FILES:
                if (files_namespace_enter(arg_file) < 0)
                        return -EPERM;
                nss_use_source("files");
                break;
        case BACKEND_NSCD:
                /* In nscd's namespace (nscd_session()).  No __nss_configure_lookup(): glibc skips
                 * nscd for a database configured that way.  Instead the client's own view of
                 * nsswitch.conf names only the do-nothing module, so that an answer can only have
                 * come from nscd, and a fallback shows as a failed lookup. */
                if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_PRIVATE | MS_REC, "") < 0 ||
                        mount(NSCD_CLIENT_NSSWITCH, "/etc/nsswitch.conf", "none", MS_BIND, "") < 0)
                        return -EPERM;
                break;
        default:
                abort();
        }
        return 0;
}

/* A process per backend, alive for the whole session, so that every backend starts from a
 * process that never loaded an NSS module and the backends can take turns batch by batch: the
 * session sends a query's index, the worker answers with ns per call over one batch of about
 * BATCH_NSEC (sized once per query, after a warm-up). */
typedef struct Worker {
        pid_t pid;
        int to, from;
} Worker;

static void worker_run(Backend b, int in, int out)
{
        uint64_t batch[ELEMENTSOF(queries)];
        uint8_t i;

        if (configure(b) < 0)
                _exit(1);
        /* Twice: the first round pays the module's loading and the first calls' set-up, which
         * would leave a batch too small to hide the cold caches every turn starts with. */
        for (unsigned pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < n_queries; k++) {
                        uint64_t calls = 0, start = now_nsec();
                        while (now_nsec() - start < BATCH_NSEC)
                                call(&queries[k]), calls++;
                        batch[k] = MAX(calls, (uint64_t) 1);
                }
        /* The do-nothing module answers nothing; every other backend must answer as files does,
         * or its figures for that query are left out (NaN) rather than shown. */
        bool right[ELEMENTSOF(queries)];
        for (size_t k = 0; k < n_queries; k++) {
                right[k] = b == BACKEND_NULL || answer_right(&queries[k]);
                if (!right[k])
                        fprintf(stderr, "bench-nss: %s answers '%s' wrongly; its figures are left out\n",
                                backend_name(b), queries[k].label);
        }
        while (read(in, &i, 1) == 1 && i < n_queries) {
                double ns = right[i] ? measure_batch(&queries[i], batch[i]) : NAN;
                if (write(out, &ns, sizeof(ns)) != sizeof(ns))
                        break;
        }
        _exit(0);
}

static int worker_start(Backend b, Worker *ret)
{
        int to[2], from[2];

        if (pipe2(to, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(from, O_CLOEXEC) < 0) {
                close(to[0]), close(to[1]);
                return -errno;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(to[1]), close(from[0]);
                worker_run(b, to[0], from[1]);
        }
        close(to[0]), close(from[1]);
        if (pid < 0) {
                close(to[1]), close(from[0]);
                return -errno;
        }
        *ret = (Worker){ .pid = pid, .to = to[1], .from = from[0] };
        return 0;
}

static double worker_measure(const Worker *w, size_t query)
{
        uint8_t i = (uint8_t) query;
        double ns;

        if (w->pid <= 0 || write(w->to, &i, 1) != 1 || read(w->from, &ns, sizeof(ns)) != sizeof(ns))
                return NAN;
        return ns;
}

static void worker_stop(Worker *w)
{
        uint8_t stop = UINT8_MAX;

        if (w->pid <= 0)
                return;
        /* Told, not left to see its pipe closed: the workers forked after it hold its other end. */
        (void) write(w->to, &stop, 1);
        close(w->to), close(w->from);
        (void) waitpid(w->pid, NULL, 0);
        w->pid = -1;
}

/* A first lookup: how long it took and how many minor page faults it took.  In a forked child
 * nearly all of a first lookup's time is page faults: fork() copies no page table entries for
 * the file mappings (libc's code, the module), so each window of them touched first faults. */
typedef struct FreshSample {
        double usec, faults;
} FreshSample;

static long minor_faults(void)
{
        struct rusage ru;

        return getrusage(RUSAGE_SELF, &ru) < 0 ? 0 : ru.ru_minflt;
}

/* What passed since the clock read t and the fault count read faults (in that order: the clock
 * is read last before and first after). */
static FreshSample fresh_sample_since(uint64_t t, long faults)
{
        uint64_t elapsed = now_nsec() - t;

        return (FreshSample){ (double) elapsed / 1000.0, (double) (minor_faults() - faults) };
}

/* In a fresh child: the first lookup, or a negative time when it failed.  With the module still
 * to be loaded, or already loaded (then it is the connect or published file, the descriptor, map
 * and validation alone); direct: _nss_portd_getservbyname_r called without glibc, so without
 * glibc's first-call set-up (which the null module's figures show). */
static FreshSample first_lookup(Backend b, bool preload, bool direct)
{
        static const FreshSample failed = { -1, -1 };
        typedef enum nss_status (*GetServByName)(
                const char *, const char *, struct servent *, char *, size_t, int *);
        const char *module = b == BACKEND_NULL ? "libnss_portdnull.so.2" : "libnss_portd.so.2";
        void *h = NULL;

        if (configure(b) < 0)
                return failed;
        if ((preload || direct) && b != BACKEND_FILES && !(h = dlopen(module, RTLD_NOW)))
                return failed;

        if (direct) {
                GetServByName f = (GetServByName) dlsym(h, "_nss_portd_getservbyname_r");
                struct servent se;
                char buffer[1024];
                int e;
                if (!f)
                        return failed;
                long faults = minor_faults();
                uint64_t t = now_nsec();
                enum nss_status status = f(queries[0].name, queries[0].protocol, &se, buffer, sizeof(buffer), &e);
                FreshSample s = fresh_sample_since(t, faults);
                return status == NSS_STATUS_SUCCESS ? s : failed;
        }

        /* Read before the clock, so that the first getrusage() (a fault of its own in this fresh
         * process) is timed by neither. */
        long faults = minor_faults();
        uint64_t t = now_nsec();
        call(&queries[0]);
        FreshSample s = fresh_sample_since(t, faults);
        return sink || b == BACKEND_NULL ? s : failed;
}

static int write_text(const char *path, const char *text)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

        if (fd < 0)
                return -errno;
        return write_full_fd(fd, text, strlen(text));
}

/* Starts nscd in the calling process's new, private mount namespace: tmpfs on its run and cache
 * directories, arg_file bound over /etc/services, an nsswitch.conf reading files, and a
 * configuration that caches services only.  Nothing outside this namespace can reach its socket.
 * Returns nscd's pid. */
static pid_t nscd_start(void)
{
        static const char conf[] = "paranoia no\n"
                                   "enable-cache passwd no\n"
                                   "enable-cache group no\n"
                                   "enable-cache hosts no\n"
                                   "enable-cache netgroup no\n"
                                   "enable-cache services yes\n"
                                   "positive-time-to-live services 28800\n"
                                   "negative-time-to-live services 28800\n"
                                   "suggested-size services 30011\n"
                                   "check-files services yes\n"
                                   "persistent services no\n"
                                   "shared services yes\n"
                                   "max-db-size services 67108864\n";

        /* /run/nscd usually does not exist (the package's service is never started): an empty
         * directory is all that this leaves behind outside the namespace. */
        if (mkdir(NSCD_RUN_DIR, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_PRIVATE | MS_REC, "") < 0 ||
                mount("tmpfs", NSCD_RUN_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
                mount("tmpfs", NSCD_CACHE_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return -errno;
        if (write_text(NSCD_CONF, conf) < 0 || write_text(NSCD_NSSWITCH, "services: files\n") < 0 ||
                write_text(NSCD_CLIENT_NSSWITCH, "services: portdnull\n") < 0 ||
                write_text(EXEC_NSSWITCH_PORTD, "services: portd\n") < 0 ||
                write_text(EXEC_NSSWITCH_NULL, "services: portdnull\n") < 0)
                return -EIO;
        if (mount(arg_file, "/etc/services", "none", MS_BIND, "") < 0 ||
                mount(NSCD_NSSWITCH, "/etc/nsswitch.conf", "none", MS_BIND, "") < 0)
                return -errno;

        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDOUT_FILENO), (void) dup2(null, STDERR_FILENO);
                execlp("nscd", "nscd", "-F", "-f", NSCD_CONF, (char *) NULL);
                _exit(127);
        }
        for (unsigned i = 0; i < 1000; i++) {
                struct stat st;
                if (stat(NSCD_SOCKET, &st) >= 0)
                        return pid;
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        break;
                (void) usleep(10000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        return -ESRCH;
}


/* The kinds of first lookup, each timed in fresh processes. */
typedef struct FreshKind {
        const char *label;
        Backend backend;
        bool preload, direct;
        bool exec; /* a program started afresh, reading its nsswitch.conf (first_lookup_exec()) */
} FreshKind;

/* Compared below, by index. */
enum { FRESH_PORTD, FRESH_NSCD, FRESH_FILES, FRESH_NULL, FRESH_EXEC_PORTD, FRESH_EXEC_NSCD, FRESH_EXEC_NULL };
static const FreshKind fresh_kinds[] = {
        [FRESH_PORTD] = { "portd", BACKEND_PORTD, false, false },
        [FRESH_NSCD] = { "nscd", BACKEND_NSCD, false, false },
        [FRESH_FILES] = { "files", BACKEND_FILES, false, false },
        /* The floor under any module's first lookup: glibc's own set-up, its dlopen() of a
         * module and that module's first call, which does nothing. */
        [FRESH_NULL] = { "null module, loaded by glibc", BACKEND_NULL, false, false },
        /* The same three in a program just exec()ed, as any program that resolves a service
         * starts: nothing of libc touched yet but what the program's start-up touched, and
         * nsswitch.conf read from the file (bound over /etc/nsswitch.conf in a namespace of its
         * own), not set with __nss_configure_lookup(); nscd's client answers before glibc
         * reads it. */
        [FRESH_EXEC_PORTD] = { "portd, program started afresh", BACKEND_PORTD, false, false, true },
        [FRESH_EXEC_NSCD] = { "nscd, program started afresh", BACKEND_NSCD, false, false, true },
        [FRESH_EXEC_NULL] = { "null module, program started afresh", BACKEND_NULL, false, false, true },
        { "null module, loaded first", BACKEND_NULL, true, false },
        { "portd, module loaded first", BACKEND_PORTD, true, false },
        { "varlink-only, module loaded first", BACKEND_VARLINK, true, false },
        { "portd's own first call, no glibc", BACKEND_PORTD, true, true },
};
#define N_FRESH_KINDS ELEMENTSOF(fresh_kinds)

static char self_exe[PATH_MAX];

/* In a forked child: the namespace and environment of a program started afresh for backend b,
 * then exec() of this program as such, which writes its sample to fd.  Returns only on failure. */
static int first_lookup_exec_start(Backend b, int fd)
{
        const Query *q = &queries[0];
        char fd_arg[16], port_arg[16];

        if (b == BACKEND_NSCD) {
                if (configure(BACKEND_NSCD) < 0)
                        return -EPERM;
        } else if (b == BACKEND_PORTD || b == BACKEND_NULL) {
                setenv("PORTD_SOCKET", portd.socket, 1);
                /* glibc asks nscd before it reads nsswitch.conf: no nscd socket in this namespace,
                 * as on a host without nscd (the failed connect() is what such a host pays). */
                if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_PRIVATE | MS_REC, "") < 0 ||
                        mount(b == BACKEND_PORTD ? EXEC_NSSWITCH_PORTD : EXEC_NSSWITCH_NULL, "/etc/nsswitch.conf",
                                "none", MS_BIND, "") < 0 ||
                        mount("tmpfs", NSCD_RUN_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                        return -EPERM;
        } else
                return -EINVAL;
        /* The pipe's end is close-on-exec: a copy that is not. */
        int keep = dup(fd);
        if (keep < 0)
                return -errno;
        snprintf(fd_arg, sizeof(fd_arg), "%d", keep);
        snprintf(port_arg, sizeof(port_arg), "%d", q->port);
        execl(self_exe, "bench-nss", "--first-lookup", fd_arg, q->name, port_arg, q->any ? "" : q->protocol,
                backend_name(b), (char *) NULL);
        return -errno;
}

/* The program started afresh (argv: --first-lookup FD NAME PORT PROTOCOL SOURCE): its first
 * lookup, before anything else, as FreshSample to FD.  NAME empty: by PORT (network order);
 * PROTOCOL empty: any.  SOURCE (portd, null or nscd) must be what answered: the module it names
 * loaded, or for nscd none, so that an answer from another source is never counted. */
static int first_lookup_exec(int argc, char *argv[])
{
        Query q = {};

        if (argc != 7)
                return 2;
        int fd = atoi(argv[2]);
        snprintf(q.name, sizeof(q.name), "%s", argv[3]);
        q.port = atoi(argv[4]);
        snprintf(q.protocol, sizeof(q.protocol), "%s", argv[5]);
        q.any = !argv[5][0];

        long faults = minor_faults();
        uint64_t t = now_nsec();
        call(&q);
        FreshSample s = fresh_sample_since(t, faults);

        const char *source = argv[6];
        bool portd_loaded = dlopen("libnss_portd.so.2", RTLD_LAZY | RTLD_NOLOAD),
             null_loaded = dlopen("libnss_portdnull.so.2", RTLD_LAZY | RTLD_NOLOAD);
        bool right = streq(source, "portd")  ? portd_loaded && !null_loaded && sink :
                     streq(source, "null")   ? null_loaded && !portd_loaded :
                     streq(source, "nscd")   ? !null_loaded && !portd_loaded && sink :
                                               false;
        if (!right) {
                fprintf(stderr, "a program started afresh for %s was answered by another source\n", source);
                return 1;
        }
        return write(fd, &s, sizeof(s)) == (ssize_t) sizeof(s) ? 0 : 1;
}

/* first_lookup() in one forked process; NaNs when it failed. */
static FreshSample fresh_one(const FreshKind *kind)
{
        FreshSample s = { NAN, NAN };
        Backend b = kind->backend;
        bool preload = kind->preload, direct = kind->direct;
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return s;
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                if (kind->exec)
                        _exit(first_lookup_exec_start(b, p[1]) < 0 ? 1 : 0);
                FreshSample v = first_lookup(b, preload, direct);
                if (v.usec < 0)
                        _exit(1);
                (void) write(p[1], &v, sizeof(v));
                _exit(0);
        }
        close(p[1]);
        if (pid > 0 && read(p[0], &s, sizeof(s)) != sizeof(s))
                s = (FreshSample){ NAN, NAN };
        close(p[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        return s;
}


typedef struct Results {
        double per_call[_BACKEND_MAX][ELEMENTSOF(queries)][N_ROUNDS]; /* per round: median ns */
        double fresh[N_FRESH_KINDS][N_FRESH];                          /* µs */
        double fresh_faults[N_FRESH_KINDS][N_FRESH];                   /* minor faults */
} Results;

/* Everything, in a child that starts nscd in a mount namespace of its own and measures there,
 * round after round, every backend in turn (so that nscd runs beside the others the whole time,
 * and a round's disturbance hits all of them), then stops nscd.  Results go back through fd. */
static int session(int fd)
{
        static Results res;
        pid_t nscd = nscd_start();

        if (nscd < 0) {
                fprintf(stderr,
                        "cannot start nscd (Debian package nscd, see tools/install-deps.sh) in a "
                        "private mount namespace: %s\n",
                        strerror((int) -nscd));
                return -1;
        }
        /* Every key into nscd's cache first, by a process of its own: a client that maps the cache
         * while nscd still grows it can miss in its mapping and ask over the socket on every call
         * (seen as 15 µs per call), which is not nscd's fast path. */
        pid_t warm = fork();
        if (warm == 0) {
                if (configure(BACKEND_NSCD) < 0)
                        _exit(1);
                for (unsigned k = 0; k < 2; k++)
                        for (size_t i = 0; i < n_queries; i++)
                                call(&queries[i]);
                _exit(0);
        }
        if (warm > 0)
                (void) waitpid(warm, NULL, 0);
        (void) usleep(200000);

        Worker workers[_BACKEND_MAX];
        for (Backend b = 0; b < _BACKEND_MAX; b++)
                if (worker_start(b, &workers[b]) < 0)
                        workers[b].pid = -1;
        /* Per call: round by round, each query, each backend in turn, in an order that rotates. */
        for (size_t round = 0; round < N_ROUNDS; round++)
                for (size_t i = 0; i < n_queries; i++)
                        for (size_t k = 0; k < _BACKEND_MAX; k++) {
                                Backend b = (Backend) ((k + round + i) % _BACKEND_MAX);
                                res.per_call[b][i][round] = worker_measure(&workers[b], i);
                        }
        for (Backend b = 0; b < _BACKEND_MAX; b++)
                worker_stop(&workers[b]);

        /* First lookups: fresh processes, one of each kind in turn. */
        for (size_t j = 0; j < N_FRESH; j++)
                for (size_t k = 0; k < N_FRESH_KINDS; k++) {
                        size_t kind = (k + j) % N_FRESH_KINDS;
                        const FreshKind *f = &fresh_kinds[kind];
                        FreshSample s = fresh_one(f);
                        res.fresh[kind][j] = s.usec;
                        res.fresh_faults[kind][j] = s.faults;
                }
        (void) kill(nscd, SIGTERM);
        (void) waitpid(nscd, NULL, 0);
        return write_full_fd(fd, &res, sizeof(res));
}

static void add_query(const char *label, const ServiceEntry *e, bool by_port, bool any)
{
        Query *q = &queries[n_queries++];

        snprintf(q->label, sizeof(q->label), "%s", label);
        if (!by_port)
                snprintf(q->name, sizeof(q->name), "%s", e ? e->name : "no-such-service");
        q->port = e ? htons(e->port) : 0;
        snprintf(q->protocol, sizeof(q->protocol), "%s", e ? e->protocol : "tcp");
        q->any = any;
        q->hit = e != NULL;
}

/* "median [q1-q3]" of n values, into buf. */
static const char *format_spread(char *buf, size_t size, const double *values, size_t n, int decimals)
{
        double v[N_FRESH > N_ROUNDS ? N_FRESH : N_ROUNDS];
        char m[16], lo[16], hi[16];

        memcpy(v, values, n * sizeof(double));
        snprintf(m, sizeof(m), "%.*f", decimals, median(v, n));
        snprintf(lo, sizeof(lo), "%.*f", decimals, quantile(v, n, 0.25));
        snprintf(hi, sizeof(hi), "%.*f", decimals, quantile(v, n, 0.75));
        snprintf(buf, size, "%s [%s-%s]", m, lo, hi);
        return buf;
}

/* In how many of the n pairs a <= b (pairs with a NaN left out), as "k/m". */
static const char *format_wins(char *buf, size_t size, const double *a, const double *b, size_t n)
{
        size_t k = 0, m = 0;

        for (size_t i = 0; i < n; i++)
                if (!isnan(a[i]) && !isnan(b[i])) {
                        m++;
                        k += a[i] <= b[i];
                }
        snprintf(buf, size, "%zu/%zu", k, m);
        return buf;
}

static int bench_file(const char *portd_path, const char *file)
{
        static Results res;
        ServicesFile *f = NULL;
        Catalog *c = NULL;
        int r;

        arg_file = file;
        r = services_file_load("/", file, CATALOG_LAYER_BASE, &f);
        if (r >= 0)
                r = catalog_build(&f, 1, &c);
        services_file_free(f);
        if (r < 0 || c->n_entries == 0) {
                fprintf(stderr, "cannot read '%s': %s\n", file, strerror(r < 0 ? -r : ENOENT));
                return 1;
        }
        const ServiceEntry *first = &c->entries[0], *last = &c->entries[c->n_entries - 1],
                           *middle = &c->entries[c->n_entries / 2];
        n_queries = 0;
        add_query("first entry, name/proto", first, false, false);
        add_query("last entry, name/proto", last, false, false);
        add_query("miss, name/tcp", NULL, false, false);
        add_query("middle, name/proto", middle, false, false);
        add_query("middle, name, any proto", middle, false, true);
        add_query("middle, port/proto", middle, true, false);
        add_query("last entry, port/proto", last, true, false);
        add_query("last entry, port, any", last, true, true);
        /* The queries hold copies: the catalog goes before anything is forked.  The fresh
         * processes below are forked from this one, and with the IANA catalog's heap (about
         * 10 MiB of small blocks) still in it every first lookup there took about 10 µs more, for
         * any backend that allocates (copy-on-write faults on a large heap), which a process
         * started afresh never pays. */
        size_t n_entries = c->n_entries;
        catalog_free(c);
        c = NULL;
        (void) malloc_trim(0);

        r = portd_start(portd_path, file, &portd);
        if (r < 0) {
                fprintf(stderr, "cannot start '%s': %s\n", portd_path, strerror(-r));
                return 1;
        }
        /* The daemon publishes its image (written and synced) after its socket listens: let it
         * finish before anything is timed, so that it does not compete for the CPUs. */
        char published[sizeof(portd.socket) + 16];
        snprintf(published, sizeof(published), "%s.snapshot", portd.socket);
        for (unsigned i = 0; i < 200 && access(published, F_OK) < 0; i++)
                (void) usleep(10000);

        int p[2];
        bool ok = false;
        fflush(stdout);
        fflush(stderr);
        if (pipe2(p, O_CLOEXEC) >= 0) {
                pid_t pid = fork();
                if (pid == 0) {
                        close(p[0]);
                        _exit(session(p[1]) < 0 ? 1 : 0);
                }
                close(p[1]);
                _cleanup_free_ char *data = NULL;
                size_t n = 0;
                if (pid > 0 && read_full_fd(p[0], sizeof(res), &data, &n) >= 0 && n == sizeof(res)) {
                        memcpy(&res, data, sizeof(res));
                        ok = true;
                }
                close(p[0]);
                if (pid > 0)
                        waitpid(pid, NULL, 0);
        }
        portd_stop(&portd);
        if (!ok) {
                fprintf(stderr, "the measuring session failed\n");
                return 1;
        }

        char cell[_BACKEND_MAX][48], wins[16];
        printf("\n%s: %zu entries; ns per call through glibc getservbyname()/getservbyport(): median "
               "[quartiles] of %d rounds (a batch of ~%u µs each), the backends taking turns\n",
                file, n_entries, N_ROUNDS, BATCH_NSEC / 1000);
        printf("%-25s %-15s %-15s %-24s %-15s %-24s %9s %10s\n", "query", "portd", "nscd", "files", "null",
                "varlink", "portd<=nscd", "portd-null");
        for (size_t i = 0; i < n_queries; i++) {
                for (Backend b = 0; b < _BACKEND_MAX; b++)
                        format_spread(cell[b], sizeof(cell[b]), res.per_call[b][i], N_ROUNDS, 0);
                double own[N_ROUNDS];
                for (size_t k = 0; k < N_ROUNDS; k++)
                        own[k] = res.per_call[BACKEND_PORTD][i][k] - res.per_call[BACKEND_NULL][i][k];
                printf("%-25s %-15s %-15s %-24s %-15s %-24s %9s %10.0f\n", queries[i].label, cell[BACKEND_PORTD],
                        cell[BACKEND_NSCD], cell[BACKEND_FILES], cell[BACKEND_NULL], cell[BACKEND_VARLINK],
                        format_wins(wins, sizeof(wins), res.per_call[BACKEND_PORTD][i], res.per_call[BACKEND_NSCD][i], N_ROUNDS),
                        median(own, N_ROUNDS));
        }
        printf("first lookup in a fresh process: median [quartiles] of %d processes per kind, the kinds "
               "interleaved\n", N_FRESH);
        printf("  %-36s %-23s %s\n", "kind", "µs", "minor faults"); /* µ: two bytes, one column */
        for (size_t k = 0; k < N_FRESH_KINDS; k++) {
                char us[64], faults[64];
                printf("  %-36s %-22s %s\n", fresh_kinds[k].label,
                        format_spread(us, sizeof(us), res.fresh[k], N_FRESH, 1),
                        format_spread(faults, sizeof(faults), res.fresh_faults[k], N_FRESH, 0));
        }
        /* Paired by position: the k-th portd process and the k-th nscd or null one ran within the
         * same few milliseconds. */
        double margin[N_FRESH], margin_faults[N_FRESH];
        for (size_t j = 0; j < N_FRESH; j++) {
                margin[j] = res.fresh[FRESH_PORTD][j] - res.fresh[FRESH_NULL][j];
                margin_faults[j] = res.fresh_faults[FRESH_PORTD][j] - res.fresh_faults[FRESH_NULL][j];
        }
        printf("  portd's own share, over the null module loaded by glibc: %.1f µs, %.0f minor faults "
               "(medians of the pairs run side by side)\n",
                median(margin, N_FRESH), median(margin_faults, N_FRESH));
        printf("  portd <= nscd in %s of the pairs run side by side\n",
                format_wins(wins, sizeof(wins), res.fresh[FRESH_PORTD], res.fresh[FRESH_NSCD], N_FRESH));
        for (size_t j = 0; j < N_FRESH; j++)
                margin[j] = res.fresh[FRESH_EXEC_PORTD][j] - res.fresh[FRESH_EXEC_NULL][j];
        printf("  programs started afresh: portd's own share over the null module %.1f µs; portd <= nscd in %s "
               "of the pairs\n",
                median(margin, N_FRESH),
                format_wins(wins, sizeof(wins), res.fresh[FRESH_EXEC_PORTD], res.fresh[FRESH_EXEC_NSCD], N_FRESH));
        return 0;
}

/* Copies the file at from to the new file to (mode 0755). */
static int copy_module(const char *from, const char *to)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r;

        if (in < 0)
                return -errno;
        r = read_full_fd(in, 64u << 20, &data, &n);
        if (r < 0)
                return r;
        _cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
        if (out < 0)
                return -errno;
        return write_full_fd(out, data, n);
}

static const char *const modules[] = { "libnss_portd.so.2", "libnss_portdnull.so.2" };

/* Both modules, copied from the build tree (dir_nss and dir_bench) into one new directory, whose
 * path goes to ret (PATH_MAX bytes): glibc then finds each with its first open(), as it finds an
 * installed module through ld.so.cache, and not the do-nothing module only after a failed open()
 * in portd's directory (about 1 µs of every fresh process, which the floor would have carried). */
static int modules_dir_make(const char *dir_nss, const char *dir_bench, char *ret)
{
        const char *from_dirs[ELEMENTSOF(modules)] = { dir_nss, dir_bench };
        char from[PATH_MAX + 64], to[PATH_MAX + 64];
        int r;

        snprintf(ret, PATH_MAX, "/tmp/portd-bench-nss-XXXXXX");
        if (!mkdtemp(ret))
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(modules); i++) {
                snprintf(from, sizeof(from), "%s/%s", from_dirs[i], modules[i]);
                snprintf(to, sizeof(to), "%s/%s", ret, modules[i]);
                r = copy_module(from, to);
                if (r < 0) {
                        fprintf(stderr, "cannot copy '%s' to '%s': %s\n", from, to, strerror(-r));
                        return r;
                }
        }
        return 0;
}

static void modules_dir_remove(const char *dir)
{
        char path[PATH_MAX + 64];

        for (size_t i = 0; i < ELEMENTSOF(modules); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, modules[i]);
                (void) unlink(path);
        }
        (void) rmdir(dir);
}

int main(int argc, char *argv[])
{
        static const char *const defaults[] = { "services.netbase", "services.iana" };
        char self[PATH_MAX], data[PATH_MAX];
        int r = 0;

        /* First of all: a program started afresh, whose first lookup is the thing timed. */
        if (argc >= 2 && streq(argv[1], "--first-lookup"))
                return first_lookup_exec(argc, argv);
        if (argc < 2) {
                fprintf(stderr, "usage: %s PORTD [SERVICES-FILE...]\n", argv[0]);
                return 2;
        }

        /* glibc finds NSS modules on the library path, read once at start: point it at copies of
         * the build tree's modules and start again; the new process removes them at the end. */
        ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (l <= 0)
                return 1;
        self[l] = 0;
        memcpy(self_exe, self, sizeof(self_exe));
        const char *modules_dir = getenv("PORTD_BENCH_NSS_MODULES");
        if (!modules_dir) {
                char dir_bench[PATH_MAX], dir_nss[PATH_MAX + 8], dir[PATH_MAX];
                snprintf(dir_bench, sizeof(dir_bench), "%s", self);
                snprintf(dir_nss, sizeof(dir_nss), "%s/../nss", dirname(dir_bench));
                if (modules_dir_make(dir_nss, dir_bench, dir) < 0) {
                        modules_dir_remove(dir);
                        return 1;
                }
                setenv("LD_LIBRARY_PATH", dir, 1);
                setenv("PORTD_BENCH_NSS_MODULES", dir, 1);
                execv(self, argv);
                modules_dir_remove(dir);
                return 1;
        }
        if (!files_namespace_available())
                fprintf(stderr, "the files column needs root (a private mount namespace): it shows nan\n");

        if (argc == 2)
                for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
                        snprintf(data, sizeof(data), "%s/%s", PORTD_DATA_DIR, defaults[i]);
                        r |= bench_file(argv[1], data);
                }
        for (int i = 2; i < argc; i++)
                r |= bench_file(argv[1], argv[i]);
        modules_dir_remove(modules_dir);
        return r;
}
