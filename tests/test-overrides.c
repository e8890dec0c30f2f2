/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of local overrides: edits of the override files and their place above the
 * drop-ins in the catalog. */

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "catalog.h"
#include "overrides.h"
#include "util.h"

static char root[64];

static int setup(void **state)
{
        char path[256];
        strcpy(root, "/tmp/test-overrides-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        snprintf(path, sizeof(path), "%s/etc", root);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/services.d", root);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/services", root);
        FILE *f = fopen(path, "we");
        fputs("ssh 22/tcp\nhttp 80/tcp www\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/etc/services.d/90-web.conf", root);
        f = fopen(path, "we");
        fputs("http 8080/tcp\n", f);
        fclose(f);
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static const ServiceEntry *lookup(const char *name, const char *proto, Catalog **c)
{
        catalog_free(*c);
        assert_int_equal(catalog_load(root, c), 0);
        return catalog_lookup_by_name(*c, name, proto);
}

static void test_set_and_unset(void **state)
{
        Catalog *c = NULL;
        char *aliases[] = { "web", "www", NULL };

        assert_int_equal(lookup("http", "tcp", &c)->port, 8080);

        assert_int_equal(overrides_set(root, OVERRIDES_PERSISTENT_PATH, "http", "tcp", 8000, aliases), 0);
        const ServiceEntry *e = lookup("http", "tcp", &c);
        assert_int_equal(e->port, 8000);
        assert_int_equal(e->n_aliases, 2);
        assert_string_equal(c->sources[e->source].path, OVERRIDES_PERSISTENT_PATH);
        assert_int_equal(c->sources[e->source].layer, CATALOG_LAYER_OVERRIDE);

        /* set again: replaced, not added */
        assert_int_equal(overrides_set(root, OVERRIDES_PERSISTENT_PATH, "http", "tcp", 8001, NULL), 0);
        e = lookup("http", "tcp", &c);
        assert_int_equal(e->port, 8001);
        assert_int_equal(e->n_aliases, 0);
        size_t n = 0;
        for (size_t i = 0; i < c->n_entries; i++)
                n += c->entries[i].source == e->source;
        assert_int_equal(n, 1);

        /* the runtime file wins over the persistent one */
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "http", "tcp", 9000, NULL), 0);
        assert_int_equal(lookup("http", "tcp", &c)->port, 9000);
        assert_int_equal(overrides_unset(root, OVERRIDES_RUNTIME_PATH, "http", NULL), 1);
        assert_int_equal(lookup("http", "tcp", &c)->port, 8001);
        assert_int_equal(overrides_unset(root, OVERRIDES_PERSISTENT_PATH, "http", "tcp"), 1);
        assert_int_equal(lookup("http", "tcp", &c)->port, 8080);
        assert_int_equal(overrides_unset(root, OVERRIDES_PERSISTENT_PATH, "http", "tcp"), 0);

        /* no temporary file is left behind */
        char path[256];
        snprintf(path, sizeof(path), "%s/var/lib/portd", root);
        DIR *d = opendir(path);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d)))
                assert_true(de->d_name[0] == '.' || streq(de->d_name, "overrides.conf"));
        closedir(d);
        catalog_free(c);
}

static void test_unset_keeps_others(void **state)
{
        Catalog *c = NULL;

        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a", "tcp", 1, NULL), 0);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a", "udp", 1, NULL), 0);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "b", "tcp", 2, NULL), 0);
        assert_int_equal(overrides_unset(root, OVERRIDES_RUNTIME_PATH, "a", "udp"), 1);
        assert_non_null(lookup("a", "tcp", &c));
        assert_null(lookup("a", "udp", &c));
        assert_non_null(lookup("b", "tcp", &c));
        catalog_free(c);
}

static void test_invalid(void **state)
{
        char *bad_alias[] = { "ok", "has space", NULL };
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "", "tcp", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a b", "tcp", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a#b", "tcp", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "!a", "tcp", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a\nb 2/tcp", "tcp", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a", "t/cp", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a", "", 1, NULL), -EINVAL);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "a", "tcp", 1, bad_alias), -EINVAL);
        assert_true(service_name_is_valid("cl/1"));
        assert_false(service_protocol_is_valid("tcp/udp"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_set_and_unset),
                T(test_unset_keeps_others),
                T(test_invalid),
        };
        return cmocka_run_group_tests_name("overrides", tests, NULL, NULL);
}
