/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of common/root-path.c: a tree whose links lead out of it in every way (absolute,
 * "..", through a linked directory, in a loop, to nothing) is resolved inside it, by openat2() and
 * by the resolution by hand alike, which must give the kernel's answer for every path. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root-path.h"
#include "util.h"

static char top[64], root[96], outside[96];

static void put(const char *dir, const char *path, const char *text)
{
        char p[256];
        FILE *f;

        snprintf(p, sizeof(p), "%s%s", dir, path);
        assert_non_null(f = fopen(p, "we"));
        fputs(text, f);
        fclose(f);
}

static void link_at(const char *target, const char *path)
{
        char p[256];

        snprintf(p, sizeof(p), "%s%s", root, path);
        assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
        char p[256];

        strcpy(top, "/tmp/portd-root-path.XXXXXX");
        assert_non_null(mkdtemp(top));
        snprintf(root, sizeof(root), "%s/root", top);
        snprintf(outside, sizeof(outside), "%s/outside", top);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_int_equal(mkdir(outside, 0755), 0);
        snprintf(p, sizeof(p), "%s/etc", root);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/etc/d", root);
        assert_int_equal(mkdir(p, 0755), 0);
        put(root, "/etc/inside", "inside\n");
        put(root, "/x.conf", "root's x\n");
        put(outside, "/x.conf", "OUTSIDE\n");

        char target[256];
        snprintf(target, sizeof(target), "%s/x.conf", outside);
        link_at(target, "/etc/absolute");          /* absolute, to the host path: inside it is /tmp/... */
        link_at("../../../outside/x.conf", "/etc/dotdot"); /* ".." past root stays at root */
        link_at("/x.conf", "/etc/rooted");         /* absolute, resolved from root */
        link_at("../inside", "/etc/d/up");        /* relative, inside */
        link_at(outside, "/linkdir");              /* a directory link out */
        link_at("loop", "/etc/loop");
        link_at("/nonexistent", "/etc/dangling");
        link_at("/etc/inside", "/etc/chain1");
        link_at("chain1", "/etc/chain2");
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
        return system(cmd) == 0 ? 0 : -1;
}

/* The text of path as read below root, or "-errno". */
static void read_both(const char *path, int flags, char ret_kernel[64], char ret_hand[64])
{
        for (int k = 0; k < 2; k++) {
                char *out = k ? ret_hand : ret_kernel;
                int fd = k ? open_at_root_by_hand(root, path, flags) : open_at_root(root, path, flags);
                if (fd < 0) {
                        snprintf(out, 64, "%d", fd);
                        continue;
                }
                ssize_t n = (flags & O_PATH) ? 0 : read(fd, out, 63);
                out[n > 0 ? n : 0] = '\0';
                if (flags & O_PATH) {
                        struct stat st;
                        assert_int_equal(fstat(fd, &st), 0);
                        snprintf(out, 64, "mode %o", (unsigned) (st.st_mode & S_IFMT));
                }
                close(fd);
        }
}

static void test_links_stay_inside(void **state)
{
        static const struct {
                const char *path, *expect;
        } cases[] = {
                { "/etc/inside", "inside\n" },
                { "/x.conf", "root's x\n" },
                { "/etc/rooted", "root's x\n" },
                { "/etc/d/up", "inside\n" },
                { "/etc/d/../inside", "inside\n" },
                { "/../../etc/inside", "inside\n" },
                { "/etc/dotdot", "-2" },   /* root/outside/x.conf: none */
                { "/etc/absolute", "-2" }, /* root/tmp/...: none */
                { "/linkdir/x.conf", "-2" },
                { "/etc/loop", "-40" },
                { "/etc/dangling", "-2" },
                { "/etc/chain2", "inside\n" },
                { "/etc/inside/x", "-20" },
                /* A trailing slash asks for a directory, as the kernel has it. */
                { "/etc/inside/", "-20" },
                { "/etc/chain2/", "-20" },
        };
        char kernel[64], hand[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                read_both(cases[i].path, O_RDONLY, kernel, hand);
                /* openat2() may be missing (valgrind): then both are the resolution by hand. */
                assert_string_equal(hand, cases[i].expect);
                assert_string_equal(kernel, cases[i].expect);
        }
}

static void test_nofollow_and_dirs(void **state)
{
        char kernel[64], hand[64];

        read_both("/etc/dangling", O_PATH | O_NOFOLLOW, kernel, hand);
        assert_string_equal(hand, "mode 120000");
        assert_string_equal(kernel, hand);
        read_both("/etc/d", O_PATH, kernel, hand);
        assert_string_equal(hand, "mode 40000");
        assert_string_equal(kernel, hand);
        read_both("/", O_PATH, kernel, hand);
        assert_string_equal(hand, "mode 40000");

        struct stat st, want;
        char p[256];
        snprintf(p, sizeof(p), "%s/etc", root);
        assert_int_equal(stat(p, &want), 0);
        assert_int_equal(stat_at_root(root, "/etc/d/..", true, &st), 0);
        assert_true(st.st_ino == want.st_ino);

        DIR *d = opendir_at_root(root, "/linkdir");
        assert_null(d);
        assert_int_equal(errno, ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_links_stay_inside),
                cmocka_unit_test(test_nofollow_and_dirs),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
