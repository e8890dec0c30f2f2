/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the catalog's merge rules (docs/ARCHITECTURE.md "Sources and how they merge"), each
 * on a small tree of real files below a temporary --root. */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "catalog.h"
#include "util.h"

static char root[] = "/tmp/test-catalog-XXXXXX";

static void write_file(const char *path, const char *text)
{
        char full[512], dir[512];
        snprintf(full, sizeof(full), "%s%s", root, path);
        snprintf(dir, sizeof(dir), "%s", full);
        for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                (void) mkdir(dir, 0755);
                *p = '/';
        }
        FILE *f = fopen(full, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void symlink_file(const char *target, const char *path)
{
        char full[512];
        snprintf(full, sizeof(full), "%s%s", root, path);
        assert_int_equal(symlink(target, full), 0);
}

static int setup(void **state)
{
        strcpy(root, "/tmp/test-catalog-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        write_file("/etc/services", "ssh 22/tcp\n"
                                    "http 80/tcp www www-http\n"
                                    "http 80/udp www\n"
                                    "domain 53/tcp\n"
                                    "domain 53/udp\n"
                                    "dup 1009/tcp first\n"
                                    "dup 1010/tcp second\n");
        return 0;
}

static int teardown(void **state)
{
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static Catalog *load(void)
{
        Catalog *c = NULL;
        assert_int_equal(catalog_load(root, &c), 0);
        return c;
}

static void assert_name(const Catalog *c, const char *name, const char *proto, unsigned port, const char *winner)
{
        const ServiceEntry *e = catalog_lookup_by_name(c, name, proto);
        if (!winner) {
                assert_null(e);
                return;
        }
        assert_non_null(e);
        assert_string_equal(e->name, winner);
        assert_int_equal(e->port, port);
}

static void assert_port(const Catalog *c, unsigned port, const char *proto, const char *name)
{
        const ServiceEntry *e = catalog_lookup_by_port(c, (uint16_t) port, proto);
        if (!name) {
                assert_null(e);
                return;
        }
        assert_non_null(e);
        assert_string_equal(e->name, name);
}

static size_t count_level(const Catalog *c, DiagnosticLevel level)
{
        size_t n = 0;
        for (size_t i = 0; i < c->n_diagnostics; i++)
                n += c->diagnostics[i].level == level;
        return n;
}

static void test_base_only(void **state)
{
        Catalog *c = load();
        assert_int_equal(c->n_entries, 7);
        assert_string_equal(c->entries[0].name, "ssh");
        assert_name(c, "www", NULL, 80, "http");
        assert_name(c, "www", "udp", 80, "http");
        assert_string_equal(catalog_lookup_by_name(c, "www", "udp")->protocol, "udp");
        assert_name(c, "WWW", NULL, 0, NULL);
        assert_port(c, 53, NULL, "domain");
        assert_string_equal(catalog_lookup_by_port(c, 53, NULL)->protocol, "tcp");
        assert_port(c, 53, "sctp", NULL);
        /* within one file the first line wins, and the second is still listed */
        assert_name(c, "dup", "tcp", 1009, "dup");
        assert_port(c, 1010, "tcp", "dup");
        assert_int_equal(count_level(c, DIAGNOSTIC_ERROR), 0);
        assert_int_equal(c->n_sources, 1);
        catalog_free(c);
}

static void test_dropin_replaces_with_aliases(void **state)
{
        write_file("/etc/services.d/50-web.conf", "http 8080/tcp web\n");
        Catalog *c = load();
        assert_name(c, "http", "tcp", 8080, "http");
        /* the replaced line's aliases went with it; udp's line is another (name, protocol) */
        assert_name(c, "www", "tcp", 0, NULL);
        assert_name(c, "www", NULL, 80, "http");
        assert_string_equal(catalog_lookup_by_name(c, "www", NULL)->protocol, "udp");
        assert_name(c, "web", NULL, 8080, "http");
        /* the drop-in's entries come first in the merged order */
        assert_string_equal(c->entries[0].name, "http");
        assert_int_equal(c->entries[0].port, 8080);
        assert_string_equal(c->sources[c->entries[0].source].path, "/etc/services.d/50-web.conf");
        assert_int_equal(c->n_entries, 7);
        assert_port(c, 80, "tcp", NULL);
        catalog_free(c);
}

static void test_dropin_wins_port(void **state)
{
        write_file("/etc/services.d/10-alt.conf", "alt-ssh 22/tcp\n");
        Catalog *c = load();
        assert_port(c, 22, "tcp", "alt-ssh");
        assert_name(c, "ssh", "tcp", 22, "ssh");
        /* two names for one port from different files: a warning */
        assert_int_equal(count_level(c, DIAGNOSTIC_WARNING), 1);
        assert_int_equal(count_level(c, DIAGNOSTIC_ERROR), 0);
        catalog_free(c);
}

static void test_lexical_order(void **state)
{
        write_file("/usr/lib/services.d/20-b.conf", "svc 2000/tcp\n");
        write_file("/etc/services.d/10-a.conf", "svc 1000/tcp\n");
        Catalog *c = load();
        /* 20-b sorts after 10-a and wins, wherever it lives */
        assert_name(c, "svc", "tcp", 2000, "svc");
        assert_port(c, 1000, "tcp", NULL);
        catalog_free(c);
}

static void test_precedence_hides(void **state)
{
        write_file("/usr/lib/services.d/50-x.conf", "x 1/tcp\n");
        write_file("/run/services.d/50-x.conf", "x 2/tcp\n");
        Catalog *c = load();
        assert_name(c, "x", "tcp", 2, "x");
        assert_int_equal(c->n_sources, 2);
        catalog_free(c);

        write_file("/etc/services.d/50-x.conf", "x 3/tcp\n");
        c = load();
        assert_name(c, "x", "tcp", 3, "x");
        assert_port(c, 1, "tcp", NULL);
        assert_port(c, 2, "tcp", NULL);
        catalog_free(c);

        DropinFile *d;
        size_t n;
        assert_int_equal(catalog_discover_dropins(root, &d, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(d[0].path, "/etc/services.d/50-x.conf");
        assert_non_null(d[0].hidden);
        assert_string_equal(d[0].hidden[0], "/usr/lib/services.d/50-x.conf");
        assert_string_equal(d[0].hidden[1], "/run/services.d/50-x.conf");
        dropin_files_free(d, n);
}

static void test_masking(void **state)
{
        write_file("/usr/lib/services.d/60-vendor.conf", "vendor 6000/tcp\n");
        Catalog *c = load();
        assert_name(c, "vendor", NULL, 6000, "vendor");
        catalog_free(c);

        write_file("/etc/services.d/.keep", "");
        symlink_file("/dev/null", "/etc/services.d/60-vendor.conf");
        c = load();
        assert_name(c, "vendor", NULL, 0, NULL);
        catalog_free(c);

        write_file("/usr/lib/services.d/61-other.conf", "other 6001/tcp\n");
        write_file("/run/services.d/61-other.conf", "");
        c = load();
        assert_name(c, "other", NULL, 0, NULL);
        bool masked = false;
        for (size_t i = 0; i < c->n_sources; i++)
                masked = masked || (c->sources[i].masked && streq(c->sources[i].path, "/run/services.d/61-other.conf"));
        assert_true(masked);
        catalog_free(c);
}

static void test_removal(void **state)
{
        write_file("/etc/services.d/30-rm.conf", "!http/udp\n!domain\nnewsvc 7000/tcp\n");
        Catalog *c = load();
        assert_name(c, "http", "udp", 0, NULL);
        assert_name(c, "http", "tcp", 80, "http");
        assert_name(c, "domain", NULL, 0, NULL);
        assert_port(c, 53, NULL, NULL);
        assert_name(c, "www", "udp", 0, NULL);
        assert_name(c, "newsvc", "tcp", 7000, "newsvc");
        catalog_free(c);

        /* a removal does not act on its own file, nor on higher ones */
        write_file("/etc/services.d/30-rm.conf", "!newsvc\nnewsvc 7000/tcp\n");
        write_file("/etc/services.d/40-up.conf", "!nothing\n");
        write_file("/etc/services.d/20-low.conf", "lowsvc 7001/tcp\n");
        write_file("/etc/services.d/35-high.conf", "lowsvc 7002/tcp\n");
        write_file("/etc/services.d/31-rm.conf", "!lowsvc\n");
        c = load();
        assert_name(c, "newsvc", "tcp", 7000, "newsvc");
        assert_name(c, "lowsvc", "tcp", 7002, "lowsvc");
        assert_port(c, 7001, "tcp", NULL);
        /* "!nothing" removes nothing: a warning */
        bool warned = false;
        for (size_t i = 0; i < c->n_diagnostics; i++)
                warned = warned || (c->diagnostics[i].level == DIAGNOSTIC_WARNING &&
                                           strstr(c->diagnostics[i].message, "!nothing"));
        assert_true(warned);
        catalog_free(c);
}

static void test_removal_only_in_dropins(void **state)
{
        write_file("/etc/services", "!bang 5/tcp\n");
        Catalog *c = load();
        assert_name(c, "!bang", "tcp", 5, "!bang");
        catalog_free(c);
}

static void test_bad_lines(void **state)
{
        write_file("/etc/services.d/70-bad.conf", "good 7100/tcp\nbad 71x/tcp\n!\nalso-good 7101/udp\n");
        write_file("/etc/services.d/README", "not a drop-in 1/tcp\n");
        symlink_file("/nonexistent", "/etc/services.d/71-dangling.conf");
        Catalog *c = load();
        assert_name(c, "good", NULL, 7100, "good");
        assert_name(c, "also-good", NULL, 7101, "also-good");
        /* Two bad lines, and the link to nothing: a drop-in that cannot be read, not one that
         * is not there. */
        assert_int_equal(count_level(c, DIAGNOSTIC_ERROR), 3);
        const CatalogDiagnostic *d = &c->diagnostics[0];
        assert_string_equal(c->sources[d->source].path, "/etc/services.d/70-bad.conf");
        assert_int_equal(d->line, 2);
        assert_int_equal(c->diagnostics[1].line, 3);
        d = &c->diagnostics[2];
        assert_string_equal(c->sources[d->source].path, "/etc/services.d/71-dangling.conf");
        assert_string_equal(d->message, "cannot be read: a symbolic link to nothing");
        assert_name(c, "not", NULL, 0, NULL);
        catalog_free(c);
}

static void test_explain(void **state)
{
        write_file("/run/services.d/50-web.conf", "http 8080/tcp\n");
        write_file("/etc/services.d/60-web.conf", "http 8443/tcp\n");
        write_file("/etc/services.d/70-rm.conf", "!http/udp\n");
        Catalog *c = load();
        const ServiceEntry *w;
        const CatalogShadow **s;
        size_t n;
        assert_int_equal(catalog_explain(c, "http", NULL, &w, &s, &n), 0);
        assert_non_null(w);
        assert_int_equal(w->port, 8443);
        assert_int_equal(n, 3);
        size_t removed = 0, replaced = 0;
        for (size_t i = 0; i < n; i++) {
                removed += s[i]->removed;
                replaced += !s[i]->removed;
                if (s[i]->removed)
                        assert_string_equal(c->sources[s[i]->by_source].path, "/etc/services.d/70-rm.conf");
                else
                        assert_string_equal(c->sources[s[i]->by_source].path, "/etc/services.d/60-web.conf");
        }
        assert_int_equal(removed, 1);
        assert_int_equal(replaced, 2);
        free(s);
        catalog_free(c);
}

static void test_digest(void **state)
{
        Catalog *a = load(), *b = load();
        assert_string_equal(a->digest, b->digest);
        catalog_free(b);
        write_file("/etc/services.d/80-new.conf", "z 9/tcp\n");
        b = load();
        assert_string_not_equal(a->digest, b->digest);
        catalog_free(a);
        catalog_free(b);
}

static void test_missing_base(void **state)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/etc/services", root);
        assert_int_equal(unlink(path), 0);
        Catalog *c = load();
        assert_int_equal(c->n_entries, 0);
        assert_name(c, "ssh", NULL, 0, NULL);
        assert_port(c, 22, NULL, NULL);
        catalog_free(c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_base_only),
                T(test_dropin_replaces_with_aliases),
                T(test_dropin_wins_port),
                T(test_lexical_order),
                T(test_precedence_hides),
                T(test_masking),
                T(test_removal),
                T(test_removal_only_in_dropins),
                T(test_bad_lines),
                T(test_explain),
                T(test_digest),
                T(test_missing_base),
        };
        return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
