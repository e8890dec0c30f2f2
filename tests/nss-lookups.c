/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A process that looks services up through glibc with "services: portd files", set with
 * __nss_configure_lookup() (as getent -s does) rather than in /etc/nsswitch.conf, and checks each
 * answer against glibc's files backend on the same file, bound over /etc/services in a private
 * mount namespace of its own.  For tests/integration-faults.sh: whatever happens to the daemon,
 * no answer may be wrong or missing.
 * Usage: nss-lookups [--require-portd] SERVICES_FILE SECONDS [MARKER]   (root; 0 s: one round)
 * The module is found through LD_LIBRARY_PATH, the daemon through PORTD_SOCKET; --require-portd
 * first checks that "services: portd" alone answers, so that a module that is not loaded (and
 * files answering everything) cannot pass for one that never fails. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util.h"

extern int __nss_configure_lookup(const char *db, const char *service_line);

typedef struct Query {
        char *name; /* NULL: by port */
        int port;
        char *protocol;
        char *expected;
} Query;

static Query *queries;
static size_t n_queries, allocated_queries;

static int add_query(const char *name, int port, const char *protocol)
{
        if (GROW(queries, allocated_queries, n_queries + 1) < 0)
                return -ENOMEM;
        queries[n_queries++] = (Query){
                .name = name ? strdup(name) : NULL,
                .port = port,
                .protocol = protocol ? strdup(protocol) : NULL,
        };
        return 0;
}

/* "name port/proto alias..." or "-", or NULL on an error other than not-found. */
static char *ask(const Query *q)
{
        struct servent se, *res = NULL;
        char buf[4096], *s = NULL;
        size_t size = 0;
        int r;

        if (q->name)
                r = getservbyname_r(q->name, q->protocol, &se, buf, sizeof(buf), &res);
        else
                r = getservbyport_r(
                        (int) htons((uint16_t) q->port), q->protocol, &se, buf, sizeof(buf), &res);
        if (r != 0)
                return NULL;
        if (!res)
                return strdup("-");
        FILE *f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        fprintf(f, "%s %d/%s", se.s_name, ntohs((uint16_t) se.s_port), se.s_proto);
        for (size_t i = 0; se.s_aliases[i]; i++)
                fprintf(f, " %s", se.s_aliases[i]);
        fclose(f);
        return s;
}

int main(int argc, char **argv)
{
        struct servent se, *res;
        char buf[4096];
        double seconds;
        unsigned long lookups = 0, wrong = 0, rounds = 0;
        bool require_portd = argc > 1 && streq(argv[1], "--require-portd");

        if (require_portd) {
                argv++;
                argc--;
        }
        if (argc < 3) {
                fprintf(stderr, "usage: nss-lookups [--require-portd] SERVICES_FILE SECONDS [MARKER]\n");
                return 2;
        }
        seconds = atof(argv[2]);

        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
                mount(argv[1], "/etc/services", "none", MS_BIND, NULL) < 0) {
                fprintf(stderr, "cannot bind '%s' over /etc/services in a mount namespace: %m\n", argv[1]);
                return 77;
        }

        /* The truth: every name, alias and port of the file, with and without protocol, and misses. */
        if (__nss_configure_lookup("services", "files") < 0)
                return 1;
        setservent(0);
        while (getservent_r(&se, buf, sizeof(buf), &res) == 0 && res) {
                int port = ntohs((uint16_t) se.s_port), r = 0;
                r |= add_query(se.s_name, 0, NULL);
                r |= add_query(se.s_name, 0, se.s_proto);
                for (size_t i = 0; se.s_aliases[i]; i++)
                        r |= add_query(se.s_aliases[i], 0, se.s_proto);
                r |= add_query(NULL, port, se.s_proto);
                r |= add_query(NULL, port, NULL);
                if (r < 0)
                        return 1;
        }
        endservent();
        if (add_query("no-such-service", 0, NULL) < 0 || add_query("no-such-service", 0, "tcp") < 0 ||
                add_query("ssh", 0, "no-such-protocol") < 0 || add_query(NULL, 65001, NULL) < 0 ||
                add_query(NULL, 65001, "udp") < 0)
                return 1;
        for (size_t i = 0; i < n_queries; i++)
                if (!(queries[i].expected = ask(&queries[i]))) {
                        fprintf(stderr, "the files backend fails\n");
                        return 1;
                }

        /* The module must really be in the game: alone, it answers a name of the file. */
        if (__nss_configure_lookup("services", "portd") < 0)
                return 1;
        for (size_t i = 0; require_portd && i < n_queries; i++)
                if (!streq(queries[i].expected, "-")) {
                        char *got = ask(&queries[i]);
                        if (!got || !streq(got, queries[i].expected)) {
                                fprintf(stderr,
                                        "'services: portd' alone does not answer (LD_LIBRARY_PATH, "
                                        "PORTD_SOCKET?): %s\n",
                                        got ?: "error");
                                return 1;
                        }
                        free(got);
                        break;
                }

        if (__nss_configure_lookup("services", "portd files") < 0)
                return 1;
        uint64_t end = 0;
        for (;;) {
                for (size_t i = 0; i < n_queries; i++) {
                        _cleanup_free_ char *got = ask(&queries[i]);
                        lookups++;
                        if (!got || !streq(got, queries[i].expected)) {
                                if (wrong++ < 10)
                                        fprintf(stderr, "%s %d/%s: got '%s', expected '%s'\n",
                                                queries[i].name ?: "port", queries[i].port,
                                                queries[i].protocol ?: "*", got ?: "(error)",
                                                queries[i].expected);
                        }
                }
                rounds++;
                if (rounds == 1) {
                        if (argc > 3) {
                                int fd = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                                safe_close(fd);
                        }
                        end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (seconds * 1e6);
                }
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
        }
        printf("%lu lookups in %lu rounds, %lu wrong\n", lookups, rounds, wrong);

        for (size_t i = 0; i < n_queries; i++) {
                free(queries[i].name);
                free(queries[i].protocol);
                free(queries[i].expected);
        }
        free(queries);
        return wrong ? 1 : 0;
}
