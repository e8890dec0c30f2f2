/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of /etc/portd/portd.conf: the INI parser's rules, what it reports and ignores, and
 * the resolution of Group= words into GIDs. */

#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "portd-conf.h"
#include "util.h"

static PortdConf *parse(const char *text, size_t size)
{
        PortdConf *c = NULL;
        assert_int_equal(portd_conf_parse(text, size, &c), 0);
        assert_non_null(c);
        return c;
}

#define PARSE(s) parse((s), sizeof(s) - 1)

static void assert_groups(const PortdConf *c, const char *const *want)
{
        size_t n = 0;
        for (; want[n]; n++) {
                assert_true(n < c->n_override_groups);
                assert_string_equal(c->override_groups[n], want[n]);
        }
        assert_int_equal(c->n_override_groups, n);
        if (n > 0)
                assert_null(c->override_groups[n]);
}

static void test_groups(void **state)
{
        PortdConf *c = PARSE("# who may edit overrides\n"
                             "; another comment\n"
                             "\n"
                             "[Overrides]\n"
                             "Group=portd-admin staff\n"
                             "  Group =  50\tstaff  \n");
        assert_groups(c, (const char *const[]){ "portd-admin", "staff", "50", NULL });
        assert_int_equal(c->n_diagnostics, 0);
        portd_conf_free(c);

        /* An empty assignment clears the list, as in systemd; no trailing newline is needed. */
        c = PARSE("[Overrides]\nGroup=a b\nGroup=\nGroup=c");
        assert_groups(c, (const char *const[]){ "c", NULL });
        portd_conf_free(c);

        c = PARSE("");
        assert_groups(c, (const char *const[]){ NULL });
        assert_int_equal(c->n_diagnostics, 0);
        portd_conf_free(c);
}

static void test_diagnostics(void **state)
{
        PortdConf *c = PARSE("Group=early\n"          /* 1: outside any section */
                             "[Overrides]\n"          /* 2 */
                             "Grop=typo\n"            /* 3: unknown key */
                             "just words\n"           /* 4: no '=' */
                             "Group=ok bad,name -x\n" /* 5: two invalid words */
                             "[Future]\n"             /* 6: unknown section */
                             "Anything=goes\n"        /* 7: not reported again */
                             "[Overrides\n"           /* 8: bad header */
                             "Group=lost\n"           /* 9: in a bad section: ignored */
                             "[Overrides]\n"          /* 10 */
                             "Group=ok2\n");          /* 11 */
        static const struct {
                unsigned line;
                const char *needle;
        } want[] = {
                { 1, "'Group=' outside of any section" },
                { 3, "unknown key 'Grop' in section [Overrides]" },
                { 4, "missing '='" },
                { 5, "invalid group 'bad,name'" },
                { 5, "invalid group '-x'" },
                { 6, "unknown section '[Future]'" },
                { 8, "invalid section header '[Overrides'" },
        };

        assert_int_equal(c->n_diagnostics, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_int_equal(c->diagnostics[i].line, want[i].line);
                assert_non_null(strstr(c->diagnostics[i].message, want[i].needle));
                assert_non_null(strstr(c->diagnostics[i].message, "ignoring"));
        }
        assert_groups(c, (const char *const[]){ "ok", "ok2", NULL });
        portd_conf_free(c);
}

static void test_nul_byte(void **state)
{
        /* A NUL cannot hide the rest of the file, nor the line it is in. */
        static const char text[] = "[Overrides]\nGroup=a\0b\nGroup=c\n";
        PortdConf *c = parse(text, sizeof(text) - 1);
        assert_int_equal(c->n_diagnostics, 1);
        assert_int_equal(c->diagnostics[0].line, 2);
        assert_groups(c, (const char *const[]){ "c", NULL });
        portd_conf_free(c);
}

static void test_resolve(void **state)
{
        gid_t gid = 12345;
        struct group *root = getgrgid(0);

        assert_int_equal(portd_conf_resolve_group("0", &gid), 0);
        assert_int_equal(gid, 0);
        assert_int_equal(portd_conf_resolve_group("65534", &gid), 0);
        assert_int_equal(gid, 65534);
        if (root) {
                assert_int_equal(portd_conf_resolve_group(root->gr_name, &gid), 0);
                assert_int_equal(gid, 0);
        }
        assert_int_equal(portd_conf_resolve_group("no-such-group-portd-test", &gid), -ENOENT);
        /* (gid_t) -1 is "no group" to the kernel; longer numbers do not fit. */
        assert_int_equal(portd_conf_resolve_group("4294967295", &gid), -EINVAL);
        assert_int_equal(portd_conf_resolve_group("99999999999999999999", &gid), -EINVAL);
        assert_int_equal(portd_conf_resolve_group("", &gid), -EINVAL);
}

static void test_load(void **state)
{
        char root[] = "/tmp/test-portd-conf-XXXXXX", path[256];
        PortdConf *c = NULL;

        assert_non_null(mkdtemp(root));
        assert_int_equal(portd_conf_load(root, &c), -ENOENT);

        snprintf(path, sizeof(path), "%s/etc", root);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc/portd", root);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s%s", root, PORTD_CONF_PATH);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(portd_conf_load(root, &c), -EISDIR);
        assert_int_equal(rmdir(path), 0);

        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs("[Overrides]\nGroup=portd-admin\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(portd_conf_load(root, &c), 0);
        assert_groups(c, (const char *const[]){ "portd-admin", NULL });
        portd_conf_free(c);

        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/etc/portd", root);
        assert_int_equal(rmdir(path), 0);
        snprintf(path, sizeof(path), "%s/etc", root);
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(rmdir(root), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_groups),
                cmocka_unit_test(test_diagnostics),
                cmocka_unit_test(test_nul_byte),
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_load),
        };
        return cmocka_run_group_tests_name("portd-conf", tests, NULL, NULL);
}
