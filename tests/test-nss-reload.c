/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One process keeps looking up through glibc while the test rewrites a drop-in 100 times: each
 * change must reach it without a restart, and no answer may ever be wrong or mixed (a port from
 * one generation with an alias from another, or an enumeration that is not one whole catalog). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "nss-test-util.h"
#include "util.h"

#define N_RELOADS         100
#define PORT_BASE         20000
#define RELOAD_TIMEOUT_MS 5000

static const char *arg_portd, *arg_services;
static bool arg_snapshot = true;
static PortdInstance portd;
static pid_t looker_pid = -1; /* killed by the teardown if a failed assertion left it running */

static const char *check_entry(const struct servent *se, int port)
{
        static char expected_alias[32];

        snprintf(expected_alias, sizeof(expected_alias), "rt-%d", port);
        if (!streq(se->s_name, "reloadtest") || !streq(se->s_proto, "tcp"))
                return "wrong name or protocol";
        if (!se->s_aliases[0] || !streq(se->s_aliases[0], expected_alias) || se->s_aliases[1])
                return "alias from another generation";
        return NULL;
}

/* The looking process: reports each new port it sees on out, and exits 1 on any wrong answer. */
static int looker(int out, size_t n_base)
{
        char buffer[4096];
        struct servent se, *res;
        int last = -1;
        uint64_t lookups = 0;

        setenv("PORTD_SOCKET", portd.socket, 1);
        if (!arg_snapshot)
                setenv("PORTD_NSS_NO_SNAPSHOT", "1", 1);
        nss_use_source("portd");

        for (;;) {
                const char *why = NULL;
                int port = -1;

                lookups++;
                if (getservbyname_r("reloadtest", "tcp", &se, buffer, sizeof(buffer), &res) == 0 && res) {
                        port = ntohs((uint16_t) se.s_port);
                        why = check_entry(&se, port);
                        /* The same generation's port index must agree (or, after another reload in
                         * between, name a later port: never an earlier one). */
                        if (!why &&
                                getservbyport_r(htons(port), "tcp", &se, buffer, sizeof(buffer), &res) ==
                                        0 &&
                                res)
                                why = check_entry(&se, port);
                }
                if (!why && (getservbyname_r("http", "tcp", &se, buffer, sizeof(buffer), &res) != 0 ||
                                    !res || ntohs((uint16_t) se.s_port) != 80))
                        why = "base entry lost";
                if (!why && port >= 0 && port < last)
                        why = "went back to an older generation";

                /* Now and then a whole enumeration: one catalog, the drop-in's entry once. */
                if (!why && lookups % 64 == 0) {
                        size_t n = 0, n_reload = 0;
                        setservent(0);
                        while (getservent_r(&se, buffer, sizeof(buffer), &res) == 0 && res) {
                                n++;
                                if (streq(se.s_name, "reloadtest")) {
                                        n_reload++;
                                        if (check_entry(&se, ntohs((uint16_t) se.s_port)))
                                                why = "enumeration mixes generations";
                                }
                        }
                        endservent();
                        if (n != n_base + n_reload || n_reload > 1)
                                why = "enumeration is not one catalog";
                }

                if (why) {
                        fprintf(stderr, "looker: %s (port %d, last %d, lookup %llu)\n", why, port, last,
                                (unsigned long long) lookups);
                        return 1;
                }
                if (port != last) {
                        last = port;
                        if (write(out, &port, sizeof(port)) != sizeof(port))
                                return 1;
                        if (port == PORT_BASE + N_RELOADS)
                                break;
                }
        }
        fprintf(stderr, "# looker: %llu lookups\n", (unsigned long long) lookups);
        return 0;
}

static size_t count_base_entries(void)
{
        /* What the daemon serves before any drop-in: the looker compares enumerations with it. */
        char buffer[4096];
        struct servent se, *res;
        size_t n = 0;
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("PORTD_SOCKET", portd.socket, 1);
                nss_use_source("portd");
                setservent(0);
                while (getservent_r(&se, buffer, sizeof(buffer), &res) == 0 && res)
                        n++;
                (void) write(p[1], &n, sizeof(n));
                _exit(0);
        }
        close(p[1]);
        assert_int_equal(read(p[0], &n, sizeof(n)), sizeof(n));
        close(p[0]);
        waitpid(pid, NULL, 0);
        return n;
}

static int compare_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void test_reload_100(void **state)
{
        uint64_t latency[N_RELOADS];
        int p[2], status, seen = -1;
        size_t n_base = count_base_entries();

        assert_true(n_base > 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                _exit(looker(p[1], n_base));
        }
        looker_pid = pid;
        close(p[1]);

        for (int i = 1; i <= N_RELOADS; i++) {
                char text[128];
                int port = PORT_BASE + i;

                snprintf(text, sizeof(text), "# reload %d\nreloadtest %d/tcp rt-%d\n", i, port, port);
                uint64_t start = now_usec(CLOCK_MONOTONIC);
                assert_int_equal(portd_write_file(&portd, "etc/services.d/50-reload.conf", text), 0);
                while (seen != port) {
                        struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                        if (poll(&pfd, 1, RELOAD_TIMEOUT_MS) <= 0 ||
                                read(p[0], &seen, sizeof(seen)) != sizeof(seen))
                                fail_msg("reload %d not seen within %d ms (last seen port %d)", i,
                                        RELOAD_TIMEOUT_MS, seen);
                        /* Only ports the test has written, in order. */
                        assert_true(seen <= port);
                }
                latency[i - 1] = now_usec(CLOCK_MONOTONIC) - start;
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        looker_pid = -1;
        close(p[0]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        qsort(latency, N_RELOADS, sizeof(latency[0]), compare_u64);
        printf("# %d reloads seen; write-to-answer latency median %llu ms, max %llu ms\n", N_RELOADS,
                (unsigned long long) latency[N_RELOADS / 2] / 1000,
                (unsigned long long) latency[N_RELOADS - 1] / 1000);
}

static int group_setup(void **state)
{
        int r = portd_start(arg_portd, arg_services, &portd);
        if (r < 0) {
                printf("# starting '%s' failed: %s\n", arg_portd, strerror(-r));
                return -1;
        }
        return 0;
}

static int group_teardown(void **state)
{
        if (looker_pid > 0) {
                kill(looker_pid, SIGKILL);
                waitpid(looker_pid, NULL, 0);
        }
        portd_stop(&portd);
        return 0;
}

int main(int argc, char *argv[])
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reload_100),
        };

        if (argc < 3) {
                fprintf(stderr, "usage: %s PORTD SERVICES-FILE [snapshot|varlink]\n", argv[0]);
                return 2;
        }
        arg_portd = argv[1];
        arg_services = argv[2];
        arg_snapshot = argc < 4 || !streq(argv[3], "varlink");
        return cmocka_run_group_tests_name(arg_snapshot ? "nss/reload/snapshot" : "nss/reload/varlink",
                tests, group_setup, group_teardown);
}
