/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential test of libnss_portd.so.2 through real glibc: every name, alias and port of a
 * services file under each protocol and "any", misses, and the whole getservent sequence, asked
 * with services: portd (fast path, and varlink only) against a real portd, and with services:
 * files reading the same file as /etc/services in a private mount namespace.  The answers must be
 * identical, line for line. */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "nss-test-util.h"
#include "util.h"

static const char *arg_portd, *arg_services;
static unsigned arg_stride = 1;

typedef struct Query {
        char *name; /* NULL: by port */
        int port;   /* as passed to getservbyport(): network byte order, or deliberately out of range */
        const char *protocol;
} Query;

static Query *queries;
static size_t n_queries, n_queries_allocated;
static FILE *files_transcript;
static size_t n_files_entries;
static PortdInstance portd;

static const char *const protocols[] = { NULL, "tcp", "udp", "sctp", "dccp", "ddp", "", "TCP" };

static void add_query(const char *name, int port, const char *protocol)
{
        assert_int_equal(GROW(queries, n_queries_allocated, n_queries + 1), 0);
        queries[n_queries++] =
                (Query){ .name = name ? strdup(name) : NULL, .port = port, .protocol = protocol };
}

#define BUFFER_SIZE (64 * 1024)

/* A lookup this slow waited for the daemon. */
#define SLOW_USEC (200 * 1000)

/* Writes every query's answer and then the enumeration to out, through whatever services source
 * this process was configured with.  max_usec gets the slowest single lookup after the first,
 * n_slow the number of those slower than SLOW_USEC. */
static void write_transcript(FILE *out, void (*after_first)(void), uint64_t *max_usec, unsigned *n_slow)
{
        char *buffer = malloc(BUFFER_SIZE);
        struct servent se, *res;

        *max_usec = 0;
        *n_slow = 0;
        for (size_t i = 0; i < n_queries; i++) {
                const Query *q = &queries[i];
                struct timespec a, b;
                clock_gettime(CLOCK_MONOTONIC, &a);
                if (q->name)
                        getservbyname_r(q->name, q->protocol, &se, buffer, BUFFER_SIZE, &res);
                else
                        getservbyport_r(q->port, q->protocol, &se, buffer, BUFFER_SIZE, &res);
                clock_gettime(CLOCK_MONOTONIC, &b);
                uint64_t usec = (uint64_t) (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
                if (i > 0 && usec > *max_usec)
                        *max_usec = usec;
                if (i > 0 && usec > SLOW_USEC)
                        (*n_slow)++;
                if (q->name)
                        fprintf(out, "name '%s' %s: ", q->name, q->protocol ?: "(any)");
                else
                        fprintf(out, "port %d %s: ", q->port, q->protocol ?: "(any)");
                servent_format(out, res);
                fputc('\n', out);
                if (i == 0 && after_first)
                        after_first();
        }

        /* The enumeration twice: glibc starts one without setservent() too. */
        for (unsigned round = 0; round < 2; round++) {
                if (round == 1)
                        setservent(0);
                while (getservent_r(&se, buffer, BUFFER_SIZE, &res) == 0 && res) {
                        fputs("ent: ", out);
                        servent_format(out, res);
                        fputc('\n', out);
                }
                endservent();
        }
        fflush(out);
        free(buffer);
}

static int files_enumerate(void *userdata)
{
        FILE *out = userdata;
        char *buffer = malloc(BUFFER_SIZE);
        struct servent se, *res;

        if (files_namespace_enter(arg_services) < 0)
                return 1;
        nss_use_source("files");
        setservent(0);
        while (getservent_r(&se, buffer, BUFFER_SIZE, &res) == 0 && res) {
                fprintf(out, "%s\t%d", se.s_name, se.s_port);
                for (char **a = se.s_aliases; *a; a++)
                        fprintf(out, "\t%s", *a);
                fputc('\n', out);
        }
        endservent();
        fflush(out);
        free(buffer);
        return 0;
}

static int files_transcribe(void *userdata)
{
        uint64_t max_usec;
        unsigned n_slow;

        if (files_namespace_enter(arg_services) < 0)
                return 1;
        nss_use_source("files");
        write_transcript(userdata, NULL, &max_usec, &n_slow);
        return 0;
}

static void build_queries(FILE *entries)
{
        char *line = NULL;
        size_t allocated = 0, n_lines = 0;
        ssize_t l;

        rewind(entries);
        while (getline(&line, &allocated, entries) > 0)
                n_lines++;
        n_files_entries = n_lines;

        rewind(entries);
        for (size_t i = 0; (l = getline(&line, &allocated, entries)) > 0; i++) {
                if (i % arg_stride != 0 && i >= 3 && i + 3 < n_lines)
                        continue;
                line[l - 1] = 0;
                char *save = NULL, *name = strtok_r(line, "\t", &save);
                int port = atoi(strtok_r(NULL, "\t", &save));
                for (size_t p = 0; p < ELEMENTSOF(protocols); p++) {
                        add_query(name, 0, protocols[p]);
                        add_query(NULL, port, protocols[p]);
                }
                for (char *a; (a = strtok_r(NULL, "\t", &save));)
                        for (size_t p = 0; p < ELEMENTSOF(protocols); p++)
                                add_query(a, 0, protocols[p]);
        }
        free(line);

        static const char *const miss_names[] = { "no-such-service", "", "http/tcp", "HTTP" };
        static const int miss_ports[] = { 0, 0xffff, 0x2823 /* 9000 */, -1, 0x10000, 0x10050, INT32_MAX };
        for (size_t p = 0; p < ELEMENTSOF(protocols); p++) {
                for (size_t i = 0; i < ELEMENTSOF(miss_names); i++)
                        add_query(miss_names[i], 0, protocols[p]);
                for (size_t i = 0; i < ELEMENTSOF(miss_ports); i++)
                        add_query(NULL, miss_ports[i], protocols[p]);
        }
}

static int group_setup(void **state)
{
        FILE *entries = tmpfile();

        if (!entries || run_child(files_enumerate, entries) != 0)
                return -1;
        build_queries(entries);
        fclose(entries);

        files_transcript = tmpfile();
        if (!files_transcript || run_child(files_transcribe, files_transcript) != 0)
                return -1;
        printf("# %s: %zu entries through files, %zu queries (every %u)\n", arg_services, n_files_entries,
                n_queries, arg_stride);

        int r = portd_start(arg_portd, arg_services, &portd);
        if (r < 0) {
                printf("# starting '%s' failed: %s\n", arg_portd, strerror(-r));
                return -1;
        }
        return 0;
}

static int group_teardown(void **state)
{
        portd_stop(&portd);
        if (files_transcript)
                fclose(files_transcript);
        for (size_t i = 0; i < n_queries; i++)
                free(queries[i].name);
        free(queries);
        return 0;
}

static void stop_daemon(void)
{
        /* From here on a varlink call would hang until its deadline: only the mapping answers. */
        kill(portd.pid, SIGSTOP);
}

typedef struct PortdRun {
        FILE *out;
        bool snapshot;
} PortdRun;

static int portd_transcribe(void *userdata)
{
        PortdRun *run = userdata;
        uint64_t max_usec;
        unsigned n_slow;

        setenv("PORTD_SOCKET", portd.socket, 1);
        if (!run->snapshot)
                setenv("PORTD_NSS_NO_SNAPSHOT", "1", 1);
        nss_use_source("portd");
        time_t start = time(NULL);
        write_transcript(run->out, run->snapshot ? stop_daemon : NULL, &max_usec, &n_slow);
        kill(portd.pid, SIGCONT);
        time_t seconds = time(NULL) - start;
        printf("# slowest lookup after the first: %llu us; %u slower than %d ms in %lld s\n",
                (unsigned long long) max_usec, n_slow, SLOW_USEC / 1000, (long long) seconds);
        /* In the fast path no lookup may have waited for the (stopped) daemon, but for the one
         * re-check every 5 s (nss-mapping.c's MAPPING_RECHECK_USEC) that a slow run, under
         * valgrind, lives long enough to make. */
        return run->snapshot && n_slow > seconds / 5 + 1 ? 2 : 0;
}

static void compare_with_files(bool snapshot)
{
        FILE *out = tmpfile();
        PortdRun run = { .out = out, .snapshot = snapshot };
        char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0, lines = 0, differences = 0;

        assert_non_null(out);
        assert_int_equal(run_child(portd_transcribe, &run), 0);

        rewind(out);
        rewind(files_transcript);
        for (;;) {
                ssize_t la = getline(&a, &na, files_transcript), lb = getline(&b, &nb, out);
                if (la < 0 && lb < 0)
                        break;
                lines++;
                if (la < 0 || lb < 0 || !streq(a, b)) {
                        if (differences++ < 10)
                                printf("# line %zu:\n#   files: %s#   portd: %s", lines,
                                        la < 0 ? "(end)\n" : a, lb < 0 ? "(end)\n" : b);
                }
        }
        printf("# %zu lines compared, %zu differ\n", lines, differences);
        free(a);
        free(b);
        fclose(out);
        assert_true(lines > n_queries);
        assert_int_equal(differences, 0);
}

static void test_glibc_fast_path_equals_files(void **state)
{
        compare_with_files(true);
}

static void test_glibc_varlink_only_equals_files(void **state)
{
        compare_with_files(false);
}

int main(int argc, char *argv[])
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_glibc_fast_path_equals_files),
                cmocka_unit_test(test_glibc_varlink_only_equals_files),
        };

        if (argc < 3) {
                fprintf(stderr, "usage: %s PORTD SERVICES-FILE [STRIDE]\n", argv[0]);
                return 2;
        }
        arg_portd = argv[1];
        arg_services = argv[2];
        if (argc > 3)
                arg_stride = (unsigned) MAX(atoi(argv[3]), 1);
        /* A sampled file is sampled more thinly under valgrind, where the files backend's scans
         * of a large file take minutes. */
        if (arg_stride > 1 && getenv("PORTD_UNDER_VALGRIND"))
                arg_stride *= 8;
        if (!files_namespace_available()) {
                /* A TAP skip: meson reads the plan, not exit status 77, for TAP tests. */
                printf("1..0 # SKIP needs a private mount namespace to show glibc the file as "
                       "/etc/services\n");
                return 0;
        }
        return cmocka_run_group_tests_name("nss/glibc", tests, group_setup, group_teardown);
}
