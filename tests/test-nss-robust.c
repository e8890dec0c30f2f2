/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NSS module under stress, through real glibc, with glibc's files backend on the same file as
 * the truth: the daemon SIGKILLed in the middle of lookups ("services: portd files" loses no
 * answer, and its image keeps answering), the daemon stopped cleanly (its image withdrawn: files
 * answers), no daemon at all or PORTD_BYPASS (files answers), the daemon restarted with a new
 * drop-in (seen without restarting the caller), caller buffers too small (ERANGE, then success),
 * and 8 threads at once; each in the fast path and in the varlink-only mode. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "nss-test-util.h"
#include "util.h"

static const char *arg_portd, *arg_services;

#define CHECK(cond)                                                                                         \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
                        return 1;                                                                           \
                }                                                                                           \
        } while (0)

/* A lookup and what glibc's files backend answered to it. */
typedef struct Expectation {
        char *name; /* NULL: by port */
        int port;
        const char *protocol;
        char *answer; /* servent_format() of files' answer */
} Expectation;

static Expectation *expectations;
static size_t n_expectations;

static char *format_answer(const struct servent *se)
{
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        servent_format(f, se);
        fclose(f);
        return s;
}

static struct servent *ask(const Expectation *e, struct servent *se, char *buffer, size_t size, int *ret)
{
        struct servent *res = NULL;

        if (e->name)
                *ret = getservbyname_r(e->name, e->protocol, se, buffer, size, &res);
        else
                *ret = getservbyport_r(e->port, e->protocol, se, buffer, size, &res);
        return res;
}

static bool answer_is(const Expectation *e, const struct servent *res)
{
        char *s = format_answer(res);
        bool ok = streq(s, e->answer);

        if (!ok)
                fprintf(stderr, "'%s' %d %s: files says '%s', got '%s'\n", e->name ?: "", e->port,
                        e->protocol ?: "(any)", e->answer, s);
        free(s);
        return ok;
}

/* In the child: every name with "any" and its protocol, every port, and a miss, asked from the
 * files backend in the private namespace. */
static void collect_expectations(void)
{
        char buffer[4096];
        struct servent se, *res;
        size_t allocated = 0;
        int r;

        nss_use_source("files");
        setservent(0);
        while (getservent_r(&se, buffer, sizeof(buffer), &res) == 0 && res) {
                Expectation add[] = {
                        { .name = strdup(se.s_name), .protocol = NULL },
                        { .name = strdup(se.s_name), .protocol = strdup(se.s_proto) },
                        { .port = se.s_port, .protocol = strdup(se.s_proto) },
                        { .port = se.s_port, .protocol = NULL },
                };
                if (GROW(expectations, allocated, n_expectations + ELEMENTSOF(add)) < 0)
                        abort();
                memcpy(expectations + n_expectations, add, sizeof(add));
                n_expectations += ELEMENTSOF(add);
        }
        endservent();
        if (GROW(expectations, allocated, n_expectations + 1) < 0)
                abort();
        expectations[n_expectations++] =
                (Expectation){ .name = strdup("no-such-service"), .protocol = "tcp" };

        for (size_t i = 0; i < n_expectations; i++)
                expectations[i].answer =
                        format_answer(ask(&expectations[i], &se, buffer, sizeof(buffer), &r));
}

typedef struct Case {
        bool snapshot;
        const char *socket; /* instead of the daemon's: where none listens */
        bool bypass;
        const char *sources; /* the nsswitch line for the portd side */
        const char *dropin;  /* STOPTEST_LINE: written once the daemon runs */
        bool expect_kept;    /* run_stopped(): the image outlives the daemon (a crash) */
        int (*run)(struct Case *c);
        PortdInstance portd;
        int to_parent, from_parent;
} Case;

static int case_child(void *userdata)
{
        Case *c = userdata;

        if (files_namespace_enter(arg_services) < 0)
                return 1;
        collect_expectations();
        setenv("PORTD_SOCKET", c->socket ?: c->portd.socket, 1);
        if (c->bypass)
                setenv("PORTD_BYPASS", "1", 1);
        if (!c->snapshot)
                setenv("PORTD_NSS_NO_SNAPSHOT", "1", 1);
        nss_use_source(c->sources);
        int r = c->run(c);
        fflush(stdout);
        return r;
}

static int one_round(void)
{
        char buffer[4096];
        struct servent se;
        int r;

        for (size_t i = 0; i < n_expectations; i++)
                CHECK(answer_is(&expectations[i], ask(&expectations[i], &se, buffer, sizeof(buffer), &r)));
        return 0;
}

/* ---- the daemon killed mid-run ---- */

static int run_sigkill(Case *c)
{
        char byte = 'k';

        CHECK(one_round() == 0);
        /* Ask the parent to kill the daemon, and keep looking up while it does. */
        CHECK(write(c->to_parent, &byte, 1) == 1);
        for (unsigned round = 0; round < 20; round++) {
                CHECK(one_round() == 0);
                if (round == 0)
                        CHECK(read(c->from_parent, &byte, 1) == 1);
        }
        return 0;
}

/* ---- the daemon stopped cleanly, or crashed, with nothing else changed ----
 * The daemon serves a drop-in entry the files backend lacks, so each answer tells its source. */

#define STOPTEST_DROPIN "etc/services.d/50-stoptest.conf"
#define STOPTEST_LINE   "stoptest 31998/tcp\n"

/* Looks name/tcp up every step_usec until it is found, each lookup answered (found or not) and,
 * with check_http, http/tcp too: the seconds it took, or -1 after limit_s. */
static int wait_for_service(const char *name, unsigned limit_s, unsigned step_usec, bool check_http,
        struct servent *se, char *buffer, size_t size)
{
        struct servent *res, other;
        char other_buffer[1024];
        uint64_t start = (uint64_t) time(NULL);

        for (;;) {
                if (getservbyname_r(name, "tcp", se, buffer, size, &res) != 0)
                        return -1;
                if (res)
                        return (int) ((uint64_t) time(NULL) - start);
                if (check_http && (getservbyname_r("http", "tcp", &other, other_buffer, sizeof(other_buffer), &res) != 0 ||
                                          !res || ntohs((uint16_t) other.s_port) != 80))
                        return -1;
                if ((uint64_t) time(NULL) >= start + limit_s)
                        return -1;
                usleep(step_usec);
        }
}

static int run_stopped(Case *c)
{
        char buffer[4096], byte = 's';
        struct servent se, *res;
        int r;

        /* The drop-in was written after the daemon started: wait for its reload. */
        CHECK(wait_for_service("stoptest", 10, 1000, false, &se, buffer, sizeof(buffer)) >= 0);
        CHECK(ntohs((uint16_t) se.s_port) == 31998);
        CHECK(one_round() == 0);

        CHECK(write(c->to_parent, &byte, 1) == 1);
        CHECK(read(c->from_parent, &byte, 1) == 1);

        r = getservbyname_r("stoptest", "tcp", &se, buffer, sizeof(buffer), &res);
        if (c->expect_kept) {
                /* A crash withdraws nothing: the mapped image keeps answering. */
                CHECK(r == 0 && res && ntohs((uint16_t) se.s_port) == 31998);
        } else
                /* A clean stop withdraws the image: files answers, and lacks the entry. */
                CHECK(r == 0 && !res);
        CHECK(one_round() == 0);

        /* The module alone: UNAVAIL, errno saying why, or the kept image's answer. */
        nss_use_source("portd");
        for (unsigned i = 0; i < 3; i++) {
                r = getservbyname_r("http", "tcp", &se, buffer, sizeof(buffer), &res);
                if (c->expect_kept)
                        CHECK(r == 0 && res && ntohs((uint16_t) se.s_port) == 80);
                else
                        CHECK(!res && (r == ECONNREFUSED || r == ENOENT));
        }
        return 0;
}

/* ---- no daemon at all: UNAVAIL at once, files answers ----
 * The line is "portd [!UNAVAIL=return] files": files answers only if the module said UNAVAIL (a
 * NOTFOUND would end the lookup there). */

static int run_unavailable(Case *c)
{
        char buffer[4096];
        struct servent se, *res;

        for (unsigned round = 0; round < 3; round++)
                CHECK(one_round() == 0);

        /* With portd alone on the line, nothing answers, quickly, and errno says why. */
        nss_use_source("portd");
        time_t start = time(NULL);
        for (size_t i = 0; i < n_expectations; i += 50) {
                errno = 0;
                int r = getservbyname_r("http", "tcp", &se, buffer, sizeof(buffer), &res);
                CHECK(r != 0 || !res);
        }
        CHECK(time(NULL) - start < 5);
        return 0;
}

/* ---- the daemon restarted with a new configuration ---- */

static int run_restart(Case *c)
{
        char buffer[4096], byte = 'r';
        struct servent se, *res;
        int r;

        CHECK(one_round() == 0);
        r = getservbyname_r("restarttest", "tcp", &se, buffer, sizeof(buffer), &res);
        CHECK(r == 0 && !res);
        /* The parent kills the daemon, adds a drop-in and starts it again: the killed daemon never
         * marked our image superseded, yet the change must arrive without our restarting.  With the
         * published file, at once: the new daemon flags the file its predecessor left, where the
         * module's own re-check would wait until the image is 5 s old (as it did before). */
        CHECK(write(c->to_parent, &byte, 1) == 1);
        CHECK(read(c->from_parent, &byte, 1) == 1);
        int seconds = wait_for_service("restarttest", 15, 1000, true, &se, buffer, sizeof(buffer));
        CHECK(seconds >= 0);
        CHECK(ntohs((uint16_t) se.s_port) == 31999 && streq(se.s_proto, "tcp"));
        printf("# restart seen after about %d s\n", seconds);
        CHECK(seconds < 3);
        CHECK(one_round() == 0);
        return 0;
}

/* The same, but the killed daemon's file was removed before the new daemon started (by hand, or
 * by a crash between renaming a new file over it and flagging it): nothing can flag the inode
 * this process maps, and only asking again after a while brings the change. */
static int run_restart_unlinked(Case *c)
{
        char buffer[4096], byte = 'r';
        struct servent se;

        CHECK(one_round() == 0);
        CHECK(write(c->to_parent, &byte, 1) == 1);
        CHECK(read(c->from_parent, &byte, 1) == 1);
        int seconds = wait_for_service("restarttest", 12, 1000, false, &se, buffer, sizeof(buffer));
        CHECK(seconds >= 0);
        printf("# restart seen after about %d s\n", seconds);
        return 0;
}

/* ---- signals arriving all the time ---- */

static volatile sig_atomic_t n_alarms;

static void on_alarm(int sig)
{
        n_alarms++;
}

static int run_signals(Case *c)
{
        struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: EINTR would show */
        struct itimerval every = { .it_interval = { .tv_usec = 200 }, .it_value = { .tv_usec = 200 } };
        char buffer[4096];
        struct servent se;
        int r;

        CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
        CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0);
        for (unsigned round = 0; round < (c->snapshot ? 50 : 2); round++)
                for (size_t i = 0; i < n_expectations; i++)
                        CHECK(answer_is(
                                &expectations[i], ask(&expectations[i], &se, buffer, sizeof(buffer), &r)));
        every = (struct itimerval){};
        CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0);
        printf("# %d SIGALRM delivered during the lookups\n", (int) n_alarms);
        CHECK(n_alarms > 0);
        return 0;
}

/* ---- small buffers ---- */

static int run_tiny_buffers(Case *c)
{
        char buffer[4096];
        struct servent se, *res;
        int r;

        for (size_t i = 0; i < n_expectations; i += 7) {
                const Expectation *e = &expectations[i];
                bool fitted = false;
                size_t fitted_at = 0;
                /* Every size until it fits, and a few beyond. */
                for (size_t size = 0; size <= 512 && (!fitted || size < fitted_at + 9); size++) {
                        res = ask(e, &se, buffer, size, &r);
                        if (r == ERANGE) {
                                CHECK(!res && !fitted);
                                continue;
                        }
                        CHECK(r == 0);
                        CHECK(answer_is(e, res));
                        if (!fitted) {
                                CHECK(!res || size > 0);
                                fitted_at = size;
                        }
                        fitted = true;
                        if (!res)
                                break; /* a miss needs no room at all */
                }
                CHECK(fitted);
        }

        /* getservent_r: an entry that does not fit is handed out again once it does. */
        size_t n = 0, size = 1;
        setservent(0);
        for (;;) {
                res = NULL;
                r = getservent_r(&se, buffer, size, &res);
                if (r == ERANGE) {
                        CHECK(!res && size < sizeof(buffer));
                        size++;
                        continue;
                }
                if (!res)
                        break;
                /* Entry n of the sequence, the one files enumerated n-th. */
                CHECK(n * 4 + 2 < n_expectations);
                CHECK(streq(se.s_name, expectations[n * 4].name));
                CHECK(se.s_port == expectations[n * 4 + 2].port);
                n++;
                size = 1;
        }
        endservent();
        CHECK(n * 4 + 1 == n_expectations);

        /* The non-reentrant calls grow their own buffer behind ERANGE. */
        for (size_t i = 0; i < n_expectations; i += 13) {
                const Expectation *e = &expectations[i];
                res = e->name ? getservbyname(e->name, e->protocol) : getservbyport(e->port, e->protocol);
                CHECK(answer_is(e, res));
        }
        return 0;
}

/* ---- 8 threads ---- */

static unsigned thread_rounds;

static void *thread_main(void *userdata)
{
        for (unsigned i = 0; i < thread_rounds; i++)
                if (one_round() != 0)
                        return (void *) 1;
        return NULL;
}

static int run_threads(Case *c)
{
        pthread_t t[8];
        void *ret;
        int failed = 0;

        thread_rounds = c->snapshot ? 20 : 1;
        /* valgrind runs one thread at a time, and the cold start's varlink calls of seven threads
         * (the eighth fetches the snapshot) can then outlast the module's one-second deadline:
         * there, the snapshot is fetched before the threads start.  The cold start itself runs
         * in every other pass, and nss/mapping races refreshes against lookups. */
        if (c->snapshot && getenv("PORTD_UNDER_VALGRIND"))
                CHECK(one_round() == 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                CHECK(pthread_create(&t[i], NULL, thread_main, NULL) == 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                pthread_join(t[i], &ret);
                failed += ret != NULL;
        }
        CHECK(failed == 0);
        return 0;
}

/* ---- driver ---- */

typedef enum Action {
        ACTION_NONE,
        ACTION_KILL,
        ACTION_TERM,
        ACTION_RESTART,
        ACTION_RESTART_UNLINKED,
} Action;

/* The parent's side.  Nothing between starting and stopping the daemon may leave early (as a
 * failed assertion would), or the daemon would outlive the test: failures are noted first. */
static const char *drive(Case *c, Action action, pid_t *ret_child)
{
        int to_parent[2], from_parent[2];
        char byte;

        if (pipe2(to_parent, O_CLOEXEC) < 0 || pipe2(from_parent, O_CLOEXEC) < 0)
                return "pipe2";
        c->to_parent = to_parent[1];
        c->from_parent = from_parent[0];

        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return "fork";
        if (pid == 0)
                _exit(case_child(c));
        *ret_child = pid;
        close(to_parent[1]);
        close(from_parent[0]);

        const char *failed = NULL;
        if (action != ACTION_NONE) {
                if (read(to_parent[0], &byte, 1) != 1)
                        failed = "the child ended before asking for the daemon's end";
                else {
                        kill(c->portd.pid, action == ACTION_TERM ? SIGTERM : SIGKILL);
                        waitpid(c->portd.pid, NULL, 0);
                        c->portd.pid = -1;
                        if (action == ACTION_RESTART_UNLINKED) {
                                char path[sizeof(c->portd.socket) + 16];
                                snprintf(path, sizeof(path), "%s.snapshot", c->portd.socket);
                                (void) unlink(path);
                        }
                        if ((action == ACTION_RESTART || action == ACTION_RESTART_UNLINKED) &&
                                (portd_write_file(&c->portd, "etc/services.d/50-restart.conf",
                                         "restarttest 31999/tcp\n") < 0 ||
                                        portd_spawn(arg_portd, &c->portd) < 0))
                                failed = "restarting the daemon";
                }
                /* Lets the child go on (or, closed, fail) either way. */
                (void) write(from_parent[1], &byte, 1);
        }
        close(to_parent[0]);
        close(from_parent[1]);
        return failed;
}

static void run_case(Case *c, Action action)
{
        pid_t child = -1;
        int status = 0;

        assert_int_equal(portd_start(arg_portd, arg_services, &c->portd), 0);
        const char *failed = NULL;
        if (c->dropin && portd_write_file(&c->portd, STOPTEST_DROPIN, c->dropin) < 0)
                failed = "writing the drop-in";
        else
                failed = drive(c, action, &child);
        if (child > 0 && waitpid(child, &status, 0) != child)
                failed = "waitpid";
        portd_stop(&c->portd);
        if (failed)
                fail_msg("%s", failed);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_robust_sigkill_snapshot(void **state)
{
        Case c = { .snapshot = true, .sources = "portd files", .run = run_sigkill };
        run_case(&c, ACTION_KILL);
}

static void test_robust_sigkill_varlink(void **state)
{
        Case c = { .snapshot = false, .sources = "portd files", .run = run_sigkill };
        run_case(&c, ACTION_KILL);
}

static void test_robust_no_socket_snapshot(void **state)
{
        Case c = { .snapshot = true,
                .socket = "/nonexistent/portd/socket",
                .sources = "portd [!UNAVAIL=return] files",
                .run = run_unavailable };
        run_case(&c, ACTION_NONE);
}

static void test_robust_no_socket_varlink(void **state)
{
        Case c = { .snapshot = false,
                .socket = "/nonexistent/portd/socket",
                .sources = "portd [!UNAVAIL=return] files",
                .run = run_unavailable };
        run_case(&c, ACTION_NONE);
}

static void test_robust_bypass(void **state)
{
        /* The daemon's own setting: the module must not even ask, though a daemon is there. */
        Case c = { .snapshot = true,
                .bypass = true,
                .sources = "portd [!UNAVAIL=return] files",
                .run = run_unavailable };
        run_case(&c, ACTION_NONE);
}

static void test_robust_sigterm_snapshot(void **state)
{
        Case c = { .snapshot = true, .sources = "portd files", .dropin = STOPTEST_LINE, .run = run_stopped };
        run_case(&c, ACTION_TERM);
}

static void test_robust_sigterm_varlink(void **state)
{
        Case c = { .snapshot = false, .sources = "portd files", .dropin = STOPTEST_LINE, .run = run_stopped };
        run_case(&c, ACTION_TERM);
}

static void test_robust_crash_keeps_snapshot(void **state)
{
        Case c = { .snapshot = true,
                .sources = "portd files",
                .dropin = STOPTEST_LINE,
                .expect_kept = true,
                .run = run_stopped };
        run_case(&c, ACTION_KILL);
}

static void test_robust_restart_snapshot(void **state)
{
        Case c = { .snapshot = true, .sources = "portd", .run = run_restart };
        run_case(&c, ACTION_RESTART);
}

static void test_robust_restart_unlinked(void **state)
{
        Case c = { .snapshot = true, .sources = "portd", .run = run_restart_unlinked };
        run_case(&c, ACTION_RESTART_UNLINKED);
}

static void test_robust_restart_varlink(void **state)
{
        Case c = { .snapshot = false, .sources = "portd", .run = run_restart };
        run_case(&c, ACTION_RESTART);
}

static void test_robust_signals_snapshot(void **state)
{
        Case c = { .snapshot = true, .sources = "portd", .run = run_signals };
        run_case(&c, ACTION_NONE);
}

static void test_robust_signals_varlink(void **state)
{
        Case c = { .snapshot = false, .sources = "portd", .run = run_signals };
        run_case(&c, ACTION_NONE);
}

static void test_robust_tiny_buffers_snapshot(void **state)
{
        Case c = { .snapshot = true, .sources = "portd", .run = run_tiny_buffers };
        run_case(&c, ACTION_NONE);
}

static void test_robust_tiny_buffers_varlink(void **state)
{
        Case c = { .snapshot = false, .sources = "portd", .run = run_tiny_buffers };
        run_case(&c, ACTION_NONE);
}

static void test_robust_threads_snapshot(void **state)
{
        Case c = { .snapshot = true, .sources = "portd", .run = run_threads };
        run_case(&c, ACTION_NONE);
}

static void test_robust_threads_varlink(void **state)
{
        Case c = { .snapshot = false, .sources = "portd", .run = run_threads };
        run_case(&c, ACTION_NONE);
}

int main(int argc, char *argv[])
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_robust_sigkill_snapshot),
                cmocka_unit_test(test_robust_sigkill_varlink),
                cmocka_unit_test(test_robust_no_socket_snapshot),
                cmocka_unit_test(test_robust_no_socket_varlink),
                cmocka_unit_test(test_robust_bypass),
                cmocka_unit_test(test_robust_sigterm_snapshot),
                cmocka_unit_test(test_robust_sigterm_varlink),
                cmocka_unit_test(test_robust_crash_keeps_snapshot),
                cmocka_unit_test(test_robust_restart_snapshot),
                cmocka_unit_test(test_robust_restart_varlink),
                cmocka_unit_test(test_robust_restart_unlinked),
                cmocka_unit_test(test_robust_signals_snapshot),
                cmocka_unit_test(test_robust_signals_varlink),
                cmocka_unit_test(test_robust_tiny_buffers_snapshot),
                cmocka_unit_test(test_robust_tiny_buffers_varlink),
                cmocka_unit_test(test_robust_threads_snapshot),
                cmocka_unit_test(test_robust_threads_varlink),
        };

        if (argc != 3) {
                fprintf(stderr, "usage: %s PORTD SERVICES-FILE\n", argv[0]);
                return 2;
        }
        arg_portd = argv[1];
        arg_services = argv[2];
        if (!files_namespace_available()) {
                /* A TAP skip: meson reads the plan, not exit status 77, for TAP tests. */
                printf("1..0 # SKIP needs a private mount namespace to show glibc the file as "
                       "/etc/services\n");
                return 0;
        }
        return cmocka_run_group_tests_name("nss/robust", tests, NULL, NULL);
}
