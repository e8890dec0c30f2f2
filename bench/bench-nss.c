/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a getservbyname()/getservbyport() call costs through real glibc, per source: portd's NSS
 * module on its mapped snapshot, the same module in varlink-only mode, glibc's files backend
 * reading the same file as /etc/services (private mount namespace), nscd (glibc's own cache,
 * started for the run in a private mount namespace of its own), and a module that does nothing
 * (the NSS dispatch floor); plus the first lookup of a fresh process.  Medians.
 * Usage: bench-nss PORTD [SERVICES-FILE...]   (run as root for the files and nscd columns) */

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <nss.h>
#include <stdio.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "nss-test-util.h"
#include "util.h"

#define N_BATCHES 31
#define N_FRESH   21

typedef enum Backend {
        BACKEND_PORTD,
        BACKEND_FILES,
        BACKEND_NULL,
        BACKEND_VARLINK,
        BACKEND_NSCD,
        _BACKEND_MAX,
} Backend;

static const char *const backend_names[_BACKEND_MAX] = {
        [BACKEND_PORTD] = "portd",
        [BACKEND_FILES] = "files",
        [BACKEND_NULL] = "null",
        [BACKEND_VARLINK] = "varlink",
        [BACKEND_NSCD] = "nscd",
};

/* nscd's socket and database live here; glibc's clients find it at /var/run/nscd/socket. */
#define NSCD_RUN_DIR         "/run/nscd"
#define NSCD_CACHE_DIR       "/var/cache/nscd"
#define NSCD_SOCKET          NSCD_RUN_DIR "/socket"
#define NSCD_CONF            NSCD_RUN_DIR "/bench-nscd.conf"
#define NSCD_NSSWITCH        NSCD_RUN_DIR "/bench-nsswitch.conf"
#define NSCD_CLIENT_NSSWITCH NSCD_RUN_DIR "/bench-client-nsswitch.conf"

typedef struct Query {
        char label[40];
        char name[128]; /* empty: by port */
        int port;       /* network byte order */
        char protocol[32];
        bool any;
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

static double median(double *v, size_t n)
{
        qsort(v, n, sizeof(double), compare_double);
        return v[n / 2];
}

static void *volatile sink;

static void call(const Query *q)
{
        const char *protocol = q->any ? NULL : q->protocol;

        sink = q->name[0] ? getservbyname(q->name, protocol) : getservbyport(q->port, protocol);
}

/* Median ns per call over N_BATCHES batches of about a millisecond each. */
static double measure(const Query *q)
{
        double per_call[N_BATCHES];
        uint64_t calls = 0, start = now_nsec();

        while (now_nsec() - start < 3000000)
                call(q), calls++;
        uint64_t batch = MAX(calls / 3, (uint64_t) 1);

        for (size_t b = 0; b < N_BATCHES; b++) {
                uint64_t t = now_nsec();
                for (uint64_t i = 0; i < batch; i++)
                        call(q);
                per_call[b] = (double) (now_nsec() - t) / (double) batch;
        }
        return median(per_call, N_BATCHES);
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

/* In a child, so every backend starts from a process that never loaded an NSS module. */
static void measure_backend(Backend b, double results[])
{
        int p[2];

        for (size_t i = 0; i < n_queries; i++)
                results[i] = NAN;
        if (pipe2(p, O_CLOEXEC) < 0)
                return;
        pid_t pid = fork();
        if (pid == 0) {
                double r[ELEMENTSOF(queries)];
                close(p[0]);
                if (configure(b) < 0)
                        _exit(1);
                for (size_t i = 0; i < n_queries; i++)
                        r[i] = measure(&queries[i]);
                (void) write(p[1], r, sizeof(double) * n_queries);
                _exit(0);
        }
        close(p[1]);
        if (pid > 0 &&
                read(p[0], results, sizeof(double) * n_queries) != (ssize_t) (sizeof(double) * n_queries))
                for (size_t i = 0; i < n_queries; i++)
                        results[i] = NAN;
        close(p[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
}

/* In a fresh child: the first lookup, in µs, or a negative number when it failed.  With the
 * module still to be loaded, or already loaded (then it is the connect or published file, the
 * descriptor, map and validation alone); direct: _nss_portd_getservbyname_r called without
 * glibc, so without glibc's first-call set-up (which the null module's figure shows). */
static double first_lookup_usec(Backend b, bool preload, bool direct)
{
        typedef enum nss_status (*GetServByName)(
                const char *, const char *, struct servent *, char *, size_t, int *);
        const char *module = b == BACKEND_NULL ? "libnss_portdnull.so.2" : "libnss_portd.so.2";
        void *h = NULL;

        if (configure(b) < 0)
                return -1;
        if ((preload || direct) && b != BACKEND_FILES && !(h = dlopen(module, RTLD_NOW)))
                return -1;

        if (direct) {
                GetServByName f = (GetServByName) dlsym(h, "_nss_portd_getservbyname_r");
                struct servent se;
                char buffer[1024];
                int e;
                if (!f)
                        return -1;
                uint64_t t = now_nsec();
                enum nss_status status = f(queries[0].name, queries[0].protocol, &se, buffer, sizeof(buffer), &e);
                double us = (double) (now_nsec() - t) / 1000.0;
                return status == NSS_STATUS_SUCCESS ? us : -1;
        }

        uint64_t t = now_nsec();
        call(&queries[0]);
        double us = (double) (now_nsec() - t) / 1000.0;
        return sink || b == BACKEND_NULL ? us : -1;
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
                write_text(NSCD_CLIENT_NSSWITCH, "services: portdnull\n") < 0)
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

/* The median of first_lookup_usec() over N_FRESH forked processes. */
static double measure_fresh(Backend b, bool preload, bool direct)
{
        double v[N_FRESH];
        size_t n = 0;

        for (size_t i = 0; i < N_FRESH; i++) {
                int p[2];
                if (pipe2(p, O_CLOEXEC) < 0)
                        break;
                pid_t pid = fork();
                if (pid == 0) {
                        close(p[0]);
                        double us = first_lookup_usec(b, preload, direct);
                        if (us < 0)
                                _exit(1);
                        (void) write(p[1], &us, sizeof(us));
                        _exit(0);
                }
                close(p[1]);
                if (pid > 0 && read(p[0], &v[n], sizeof(double)) == sizeof(double))
                        n++;
                close(p[0]);
                if (pid > 0)
                        waitpid(pid, NULL, 0);
        }
        return n > 0 ? median(v, n) : NAN;
}

/* nscd's per-call column and first-lookup figure, measured in a child that starts nscd in its
 * own mount namespace, forks the measuring processes there and stops nscd again. */
static void nscd_session(double results[], double *ret_fresh)
{
        int p[2];
        size_t n = sizeof(double) * (n_queries + 1);

        for (size_t i = 0; i < n_queries; i++)
                results[i] = NAN;
        if (pipe2(p, O_CLOEXEC) < 0)
                return;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
                double r[ELEMENTSOF(queries) + 1];
                close(p[0]);
                pid_t nscd = nscd_start();
                if (nscd < 0) {
                        fprintf(stderr,
                                "cannot start nscd (Debian package nscd, see tools/install-deps.sh) in a "
                                "private mount namespace: %s\n",
                                strerror((int) -nscd));
                        _exit(1);
                }
                /* Every key into nscd's cache first, by a process of its own: a client that maps
                 * the cache while nscd still grows it can miss in its mapping and ask over the
                 * socket on every call (seen as 15 µs per call), which is not nscd's fast path. */
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
                measure_backend(BACKEND_NSCD, r);
                r[n_queries] = measure_fresh(BACKEND_NSCD, false, false);
                (void) kill(nscd, SIGTERM);
                (void) waitpid(nscd, NULL, 0);
                (void) write(p[1], r, n);
                _exit(0);
        }
        close(p[1]);
        double r[ELEMENTSOF(queries) + 1];
        if (pid > 0 && read(p[0], r, n) == (ssize_t) n) {
                memcpy(results, r, sizeof(double) * n_queries);
                *ret_fresh = r[n_queries];
        }
        close(p[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
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
}

static int bench_file(const char *portd_path, const char *file)
{
        ServicesFile *f = NULL;
        Catalog *c = NULL;
        double results[_BACKEND_MAX][ELEMENTSOF(queries)];
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

        r = portd_start(portd_path, file, &portd);
        if (r < 0) {
                fprintf(stderr, "cannot start '%s': %s\n", portd_path, strerror(-r));
                catalog_free(c);
                return 1;
        }
        /* The daemon publishes its image (written and synced) after its socket listens: let it
         * finish before anything is timed, so that it does not compete for the CPUs. */
        char published[sizeof(portd.socket) + 16];
        snprintf(published, sizeof(published), "%s.snapshot", portd.socket);
        for (unsigned i = 0; i < 200 && access(published, F_OK) < 0; i++)
                (void) usleep(10000);
        for (Backend b = 0; b < BACKEND_NSCD; b++)
                measure_backend(b, results[b]);
        double fresh_nscd = NAN;
        nscd_session(results[BACKEND_NSCD], &fresh_nscd);
        double fresh = measure_fresh(BACKEND_PORTD, false, false),
               fresh_loaded = measure_fresh(BACKEND_PORTD, true, false),
               fresh_varlink = measure_fresh(BACKEND_VARLINK, true, false),
               fresh_files = measure_fresh(BACKEND_FILES, false, false),
               fresh_null = measure_fresh(BACKEND_NULL, true, false),
               module_first = measure_fresh(BACKEND_PORTD, true, true);
        portd_stop(&portd);

        printf("\n%s: %zu entries; median ns per call through glibc getservbyname()/getservbyport()\n", file,
                c->n_entries);
        printf("%-26s %9s %9s %9s %9s %9s %12s %11s\n", "query", backend_names[0], backend_names[1],
                backend_names[2], backend_names[3], backend_names[4], "nscd/portd", "portd-null");
        for (size_t i = 0; i < n_queries; i++) {
                printf("%-26s", queries[i].label);
                for (Backend b = 0; b < _BACKEND_MAX; b++)
                        printf(" %9.0f", results[b][i]);
                printf(" %11.2fx %11.0f\n", results[BACKEND_NSCD][i] / results[BACKEND_PORTD][i],
                        results[BACKEND_PORTD][i] - results[BACKEND_NULL][i]);
        }
        printf("first lookup in a fresh process (µs): portd %.1f (module loaded first: %.1f), "
               "varlink-only %.1f, files %.1f, nscd %.1f, null %.1f (glibc's own first-call set-up)\n",
                fresh, fresh_loaded, fresh_varlink, fresh_files, fresh_nscd, fresh_null);
        printf("the module's own first call (published file or connect and GetSnapshot, map, validate, lookup; µs): %.1f\n",
                module_first);
        catalog_free(c);
        return 0;
}

int main(int argc, char *argv[])
{
        static const char *const defaults[] = { "services.netbase", "services.iana" };
        char self[PATH_MAX], data[PATH_MAX];
        int r = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s PORTD [SERVICES-FILE...]\n", argv[0]);
                return 2;
        }

        /* glibc finds NSS modules on the library path, read once at start: point it at the build
         * tree's modules and start again. */
        ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (l <= 0)
                return 1;
        self[l] = 0;
        if (!getenv("PORTD_BENCH_NSS_REEXEC")) {
                char path[PATH_MAX * 2 + 16], dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%s", self);
                snprintf(path, sizeof(path), "%s/../nss:%s", dirname(dir), dir);
                setenv("LD_LIBRARY_PATH", path, 1);
                setenv("PORTD_BENCH_NSS_REEXEC", "1", 1);
                execv(self, argv);
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
        return r;
}
