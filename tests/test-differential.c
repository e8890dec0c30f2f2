/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential test of the parser and catalog against glibc itself: the data file is bound
 * over /etc/services in a private mount namespace, glibc's files backend answers every
 * lookup, and the catalog must answer the same, byte for byte, enumeration included.
 * Usage: test-differential FILE [STRIDE]  (STRIDE > 1 samples every STRIDE-th name). */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "catalog.h"
#include "util.h"

extern int __nss_configure_lookup(const char *db, const char *service_line);

static unsigned long checks, failures;

static bool same_entry(const struct servent *g, const ServiceEntry *e)
{
        if (!g || !e)
                return !g && !e;
        if (!streq(g->s_name, e->name) || !streq(g->s_proto, e->protocol) || ntohs((uint16_t) g->s_port) != e->port)
                return false;
        size_t n = 0;
        for (char **a = g->s_aliases; *a; a++, n++)
                if (n >= e->n_aliases || !streq(*a, e->aliases[n]))
                        return false;
        return n == e->n_aliases;
}

static void describe(const char *who, const struct servent *g, const ServiceEntry *e)
{
        if (g) {
                fprintf(stderr, "  %s: %s %d/%s", who, g->s_name, ntohs((uint16_t) g->s_port), g->s_proto);
                for (char **a = g->s_aliases; *a; a++)
                        fprintf(stderr, " %s", *a);
        } else if (e) {
                fprintf(stderr, "  %s: %s %u/%s", who, e->name, e->port, e->protocol);
                for (size_t i = 0; i < e->n_aliases; i++)
                        fprintf(stderr, " %s", e->aliases[i]);
        } else
                fprintf(stderr, "  %s: (none)", who);
        fputc('\n', stderr);
}

static void check(const char *what, const char *key, const char *proto, const struct servent *g,
                const ServiceEntry *e)
{
        checks++;
        if (same_entry(g, e))
                return;
        if (++failures <= 20) {
                fprintf(stderr, "DIFF %s '%s' proto %s%s%s\n", what, key, proto ? "'" : "", proto ?: "any",
                                proto ? "'" : "");
                describe("glibc  ", g, NULL);
                describe("catalog", NULL, e);
        }
}

int main(int argc, char **argv)
{
        Catalog *c = NULL;
        ServicesFile *f = NULL;
        char *data = NULL;
        size_t size = 0;
        unsigned stride = argc > 2 ? (unsigned) atoi(argv[2]) : 1;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE [STRIDE]\n", argv[0]);
                return 2;
        }
        if (stride == 0)
                stride = 1;

        FILE *in = fopen(argv[1], "re");
        if (!in) {
                fprintf(stderr, "cannot open %s: %m\n", argv[1]);
                return 1;
        }
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), in)) > 0) {
                data = realloc(data, size + k);
                memcpy(data + size, buf, k);
                size += k;
        }
        fclose(in);

        r = services_file_parse("/etc/services", CATALOG_LAYER_BASE, data, size, &f);
        if (r < 0 || catalog_build(&f, 1, &c) < 0) {
                fprintf(stderr, "cannot build the catalog: %s\n", strerror(-r));
                return 1;
        }

        /* The truth: glibc reading this very file as /etc/services, in a mount namespace of our own
         * so the machine's file is never touched. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                printf("1..0 # SKIP no private mount namespace (needs root or user namespaces): %m\n");
                return 77;
        }
        if (mount(argv[1], "/etc/services", NULL, MS_BIND, NULL) < 0) {
                fprintf(stderr, "cannot bind %s over /etc/services: %m\n", argv[1]);
                return 1;
        }
        __nss_configure_lookup("services", "files");

        /* Every protocol in the file, "any", and one no line uses. */
        const char *protocols[64];
        size_t n_protocols = 0;
        for (size_t i = 0; i < c->n_entries; i++) {
                bool seen = false;
                for (size_t j = 0; j < n_protocols; j++)
                        seen = seen || streq(protocols[j], c->entries[i].protocol);
                if (!seen && n_protocols < ELEMENTSOF(protocols) - 2)
                        protocols[n_protocols++] = c->entries[i].protocol;
        }
        protocols[n_protocols++] = "no-such-proto";
        protocols[n_protocols++] = NULL;

        /* Keep the file open between lookups as a long-running program would; the answers are the
         * same, the test is faster. */
        setservent(1);

        unsigned counter = 0;
        for (size_t i = 0; i < c->n_entries; i++) {
                const ServiceEntry *e = &c->entries[i];
                for (size_t a = 0; a <= e->n_aliases; a++) {
                        const char *name = a == 0 ? e->name : e->aliases[a - 1];
                        if (counter++ % stride != 0)
                                continue;
                        for (size_t p = 0; p < n_protocols; p++)
                                check("name", name, protocols[p], getservbyname(name, protocols[p]),
                                                catalog_lookup_by_name(c, name, protocols[p]));
                }
                if (i % stride == 0)
                        for (size_t p = 0; p < n_protocols; p++) {
                                char key[16];
                                snprintf(key, sizeof(key), "%u", e->port);
                                check("port", key, protocols[p], getservbyport(htons(e->port), protocols[p]),
                                                catalog_lookup_by_port(c, e->port, protocols[p]));
                        }
        }

        /* Misses, and names that differ from real ones only in case. */
        static const char *const misses[] = { "no-such-service", "", "HTTP", "Ssh", "tcp", "80" };
        for (size_t m = 0; m < ELEMENTSOF(misses); m++)
                for (size_t p = 0; p < n_protocols; p++)
                        check("name", misses[m], protocols[p], getservbyname(misses[m], protocols[p]),
                                        catalog_lookup_by_name(c, misses[m], protocols[p]));
        static const uint16_t miss_ports[] = { 0, 1, 65535, 64999, 4464 };
        for (size_t m = 0; m < ELEMENTSOF(miss_ports); m++)
                for (size_t p = 0; p < n_protocols; p++) {
                        char key[16];
                        snprintf(key, sizeof(key), "%u", miss_ports[m]);
                        check("port", key, protocols[p], getservbyport(htons(miss_ports[m]), protocols[p]),
                                        catalog_lookup_by_port(c, miss_ports[m], protocols[p]));
                }
        endservent();

        /* The whole enumeration, in order. */
        setservent(0);
        size_t i = 0;
        struct servent *g;
        while ((g = getservent())) {
                char key[16];
                snprintf(key, sizeof(key), "#%zu", i);
                check("getservent", key, NULL, g, i < c->n_entries ? &c->entries[i] : NULL);
                i++;
        }
        endservent();
        check("getservent-end", "count", NULL, NULL, i < c->n_entries ? &c->entries[i] : NULL);

        printf("1..1\n%s 1 - %s: %lu checks, %lu differences\n", failures ? "not ok" : "ok", argv[1], checks,
                        failures);

        catalog_free(c);
        services_file_free(f);
        free(data);
        return failures ? 1 : 0;
}
