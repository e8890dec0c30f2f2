/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of local overrides: edits of the override files and their place above the
 * drop-ins in the catalog. */

#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
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
        snprintf(path, sizeof(path), "%s/etc/portd", root);
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

static char *read_text(const char *rel)
{
        char path[256], *data = NULL;
        size_t size;
        snprintf(path, sizeof(path), "%s%s", root, rel);
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        assert_int_equal(read_full_fd(fileno(f), 1u << 20, &data, &size), 0);
        fclose(f);
        return data;
}

static size_t count_dir_entries(const char *rel)
{
        char path[256];
        size_t n = 0;
        snprintf(path, sizeof(path), "%s%s", root, rel);
        DIR *d = opendir(path);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
        closedir(d);
        return n;
}

/* The persistent file lives in /etc/portd, made 0755 when missing; an unset that removes nothing
 * writes nothing. */
static void test_persistent_path(void **state)
{
        char path[256];
        struct stat st;

        assert_string_equal(OVERRIDES_PERSISTENT_PATH, "/etc/portd/overrides.conf");
        assert_int_equal(overrides_unset(root, OVERRIDES_PERSISTENT_PATH, "nothing", NULL), 0);
        snprintf(path, sizeof(path), "%s/etc/portd", root);
        assert_int_equal(stat(path, &st), -1);

        mode_t old = umask(022);
        assert_int_equal(overrides_set(root, OVERRIDES_PERSISTENT_PATH, "a", "tcp", 1, NULL), 0);
        umask(old);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        snprintf(path, sizeof(path), "%s/etc/portd/overrides.conf", root);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
}

/* A write that fails half-way (here: the file size limit, as a full disk would) leaves the old
 * file byte for byte and no temporary file; the error says why. */
static void test_failed_write(void **state)
{
        char *many[SERVICE_ALIASES_MAX + 1] = {};
        char names[SERVICE_ALIASES_MAX][200];

        assert_int_equal(overrides_set(root, OVERRIDES_PERSISTENT_PATH, "keep", "tcp", 1, NULL), 0);
        _cleanup_free_ char *before = read_text(OVERRIDES_PERSISTENT_PATH);
        assert_non_null(before);
        for (int i = 0; i < SERVICE_ALIASES_MAX; i++) {
                memset(names[i], 'x', sizeof(names[i]) - 4);
                snprintf(names[i] + sizeof(names[i]) - 4, 4, "%03d", i);
                many[i] = names[i];
        }

        /* In a child: the limit and SIGXFSZ stay out of the test runner. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit rl = { .rlim_cur = strlen(before) + 64, .rlim_max = RLIM_INFINITY };
                signal(SIGXFSZ, SIG_IGN);
                if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                        _exit(10);
                int r = overrides_set(root, OVERRIDES_PERSISTENT_PATH, "big", "tcp", 2, many);
                _exit(r == -EFBIG ? 0 : 11);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        _cleanup_free_ char *after = read_text(OVERRIDES_PERSISTENT_PATH);
        assert_non_null(after);
        assert_string_equal(before, after);
        assert_int_equal(count_dir_entries("/etc/portd"), 1);

        /* A directory that cannot be made (a file stands in its way): an error, nothing written. */
        char path[256];
        snprintf(path, sizeof(path), "%s/run", root);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(overrides_set(root, OVERRIDES_RUNTIME_PATH, "x", "tcp", 1, NULL), -ENOTDIR);
        assert_int_equal(unlink(path), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_set_and_unset),
                T(test_unset_keeps_others),
                T(test_invalid),
                T(test_persistent_path),
                T(test_failed_write),
        };
        return cmocka_run_group_tests_name("overrides", tests, NULL, NULL);
}
