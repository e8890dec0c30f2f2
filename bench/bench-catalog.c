/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Catalog build time and peak memory for a large base file plus 100 drop-ins, and the
 * in-process lookup cost of the catalog's hash indexes.
 * Usage: bench-catalog SERVICES-FILE [DROPINS] */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "catalog.h"
#include "util.h"

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
        qsort(v, n, sizeof(uint64_t), cmp_u64);
        return v[n / 2];
}

/* A realistic fleet: 100 drop-ins of 10 lines each, some new services, some replacing base
 * entries, a few removals. */
static void make_root(const char *root, const char *base, unsigned n_dropins)
{
        char path[4096];
        snprintf(path, sizeof(path), "mkdir -p '%s/etc/services.d' && cp '%s' '%s/etc/services'", root, base, root);
        if (system(path) != 0) {
                fprintf(stderr, "cannot prepare %s\n", root);
                exit(1);
        }
        for (unsigned i = 0; i < n_dropins; i++) {
                snprintf(path, sizeof(path), "%s/etc/services.d/%03u-app.conf", root, i);
                FILE *f = fopen(path, "we");
                if (!f)
                        exit(1);
                for (unsigned j = 0; j < 8; j++)
                        fprintf(f, "app%u-%u %u/tcp app%u-%u-alias\n", i, j, 20000 + i * 10 + j, i, j);
                fprintf(f, "http %u/tcp www\n", 8000 + i);
                fprintf(f, "!app%u-0/tcp\n", i > 0 ? i - 1 : 99);
                fclose(f);
        }
}

static long child_peak_kib(const char *root)
{
        pid_t pid = fork();
        if (pid == 0) {
                Catalog *c;
                _exit(catalog_load(root, &c) < 0 ? 1 : 0);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -1;
        return ru.ru_maxrss;
}

static long baseline_kib(void)
{
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0)
                return 0;
        return ru.ru_maxrss;
}

#define LOOKUPS 200000

static void bench_lookup(const Catalog *c, const char *what, const char *name, const char *proto, int port)
{
        uint64_t samples[25];
        volatile const ServiceEntry *sink;

        for (size_t s = 0; s < ELEMENTSOF(samples); s++) {
                uint64_t t0 = now_ns();
                for (int i = 0; i < LOOKUPS / 25; i++)
                        sink = port >= 0 ? catalog_lookup_by_port(c, (uint16_t) port, proto)
                                         : catalog_lookup_by_name(c, name, proto);
                samples[s] = (now_ns() - t0) / (LOOKUPS / 25);
        }
        (void) sink;
        printf("| lookup %-28s | %6llu ns |\n", what, (unsigned long long) median(samples, ELEMENTSOF(samples)));
}

int main(int argc, char **argv)
{
        char root[] = "/tmp/bench-catalog-XXXXXX";
        unsigned n_dropins = argc > 2 ? (unsigned) atoi(argv[2]) : 100;
        uint64_t t[21];
        Catalog *c = NULL;

        if (argc < 2) {
                fprintf(stderr, "usage: %s SERVICES-FILE [DROPINS]\n", argv[0]);
                return 2;
        }
        if (!mkdtemp(root))
                return 1;
        make_root(root, argv[1], n_dropins);

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint64_t t0 = now_ns();
                if (catalog_load(root, &c) < 0)
                        return 1;
                t[i] = now_ns() - t0;
                if (i + 1 < ELEMENTSOF(t))
                        c = catalog_free(c);
        }

        printf("| catalog (%s + %u drop-ins, %zu entries) | |\n|---|---|\n", argv[1], n_dropins, c->n_entries);
        printf("| build, median of %zu | %6.2f ms |\n", ELEMENTSOF(t), median(t, ELEMENTSOF(t)) / 1e6);
        printf("| peak RSS of a process that builds it | %6ld KiB (+%ld over an empty process) |\n",
                        child_peak_kib(root), child_peak_kib(root) - baseline_kib());
        printf("| index image size | %6zu KiB |\n", c->index_size / 1024);

        const ServiceEntry *first = &c->entries[0], *last = &c->entries[c->n_entries - 1];
        bench_lookup(c, "first entry by name/proto", first->name, first->protocol, -1);
        bench_lookup(c, "last entry by name/proto", last->name, last->protocol, -1);
        bench_lookup(c, "last entry by name, any", last->name, NULL, -1);
        bench_lookup(c, "miss by name", "no-such-service", "tcp", -1);
        bench_lookup(c, "port/proto (last entry)", NULL, last->protocol, last->port);
        bench_lookup(c, "port, any proto", NULL, NULL, 80);
        bench_lookup(c, "miss by port", NULL, "tcp", 1);

        catalog_free(c);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : 1;
}
