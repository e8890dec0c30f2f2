/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of scopes (common/scope.c): the .scope parser, the matching of callers by cgroup
 * path and network namespace, discovery with UAPI.6 precedence, and a scope's catalog layered over
 * the host's, whose lookups and enumeration are compared with glibc's files backend. */

#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "catalog.h"
#include "nss-test-util.h"
#include "scope.h"
#include "util.h"

static char root[] = "/tmp/test-scope-XXXXXX";

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

static int setup(void **state)
{
        strcpy(root, "/tmp/test-scope-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static ScopeDefinition *parse(const char *text)
{
        ScopeDefinition *s = NULL;
        assert_int_equal(
                scope_definition_parse("web", "/etc/portd/scopes/web.scope", text, strlen(text), &s), 0);
        assert_non_null(s);
        return s;
}

static const ScopeDiagnostic *find_diagnostic(const ScopeDefinition *s, uint32_t line)
{
        for (size_t i = 0; i < s->n_diagnostics; i++)
                if (s->diagnostics[i].line == line)
                        return &s->diagnostics[i];
        return NULL;
}

/* ---- parsing ---- */

static void test_parse_keys(void **state)
{
        ScopeDefinition *s = parse("# a comment\n"
                                   "; another\n"
                                   "\n"
                                   "[Match]\n"
                                   "  Cgroup = /system.slice/docker-*.scope  \n"
                                   "Cgroup=/machine.slice/libpod-*.scope\n"
                                   "NetworkNamespace=/run/netns/blue\n");
        assert_string_equal(s->name, "web");
        assert_int_equal(s->n_cgroups, 2);
        assert_string_equal(s->cgroups[0], "/system.slice/docker-*.scope");
        assert_string_equal(s->cgroups[1], "/machine.slice/libpod-*.scope");
        assert_null(s->cgroups[2]);
        assert_int_equal(s->n_netns, 1);
        assert_string_equal(s->netns[0], "/run/netns/blue");
        assert_int_equal(s->n_diagnostics, 0);
        scope_definition_free(s);
}

static void test_parse_reset(void **state)
{
        ScopeDefinition *s = parse("[Match]\n"
                                   "Cgroup=/a\n"
                                   "Cgroup=/b\n"
                                   "NetworkNamespace=/run/netns/x\n"
                                   "Cgroup=\n"
                                   "Cgroup=/c\n"
                                   "NetworkNamespace=\n");
        assert_int_equal(s->n_cgroups, 1);
        assert_string_equal(s->cgroups[0], "/c");
        assert_int_equal(s->n_netns, 0);
        assert_null(s->netns);
        assert_int_equal(s->n_diagnostics, 0);
        scope_definition_free(s);

        /* Everything reset: a scope for nobody, and said so. */
        s = parse("[Match]\nCgroup=/a\nCgroup=\n");
        assert_int_equal(s->n_cgroups, 0);
        assert_int_equal(s->n_diagnostics, 1);
        assert_int_equal(s->diagnostics[0].line, 0);
        assert_int_equal(s->diagnostics[0].level, DIAGNOSTIC_WARNING);
        assert_non_null(strstr(s->diagnostics[0].message, "no caller"));
        scope_definition_free(s);
}

static void test_parse_bad_lines(void **state)
{
        static const char text[] = "Cgroup=/early\n"         /* 1: outside a section */
                                   "[Match]\n"               /* 2 */
                                   "Cgroup=relative/*\n"     /* 3: not absolute */
                                   "just words\n"            /* 4: no '=' */
                                   "Cgroups=/typo\n"         /* 5: unknown key */
                                   "[Service]\n"             /* 6: unknown section */
                                   "ExecStart=/bin/true\n"   /* 7: ignored with its section */
                                   "[Match\n"                /* 8: bad header */
                                   "Cgroup=/lost\n"          /* 9: under a bad header: ignored */
                                   "[Match]\n"               /* 10 */
                                   "NetworkNamespace=blue\n" /* 11: not absolute */
                                   "Cgroup=/kept\n";         /* 12 */
        ScopeDefinition *s = parse(text);
        const ScopeDiagnostic *d;

        assert_int_equal(s->n_cgroups, 1);
        assert_string_equal(s->cgroups[0], "/kept");
        assert_int_equal(s->n_netns, 0);

        assert_non_null(d = find_diagnostic(s, 1));
        assert_int_equal(d->level, DIAGNOSTIC_WARNING);
        assert_non_null(strstr(d->message, "outside of a section"));
        assert_non_null(d = find_diagnostic(s, 3));
        assert_int_equal(d->level, DIAGNOSTIC_ERROR);
        assert_non_null(strstr(d->message, "'relative/*'"));
        assert_non_null(d = find_diagnostic(s, 4));
        assert_int_equal(d->level, DIAGNOSTIC_ERROR);
        assert_non_null(d = find_diagnostic(s, 5));
        assert_int_equal(d->level, DIAGNOSTIC_WARNING);
        assert_non_null(strstr(d->message, "'Cgroups'"));
        assert_non_null(d = find_diagnostic(s, 6));
        assert_int_equal(d->level, DIAGNOSTIC_WARNING);
        assert_non_null(strstr(d->message, "[Service]"));
        assert_null(find_diagnostic(s, 7));
        assert_non_null(d = find_diagnostic(s, 8));
        assert_int_equal(d->level, DIAGNOSTIC_ERROR);
        assert_null(find_diagnostic(s, 9));
        assert_non_null(d = find_diagnostic(s, 11));
        assert_int_equal(d->level, DIAGNOSTIC_ERROR);
        assert_null(find_diagnostic(s, 12));
        assert_int_equal(s->n_diagnostics, 7);
        scope_definition_free(s);

        /* A NUL byte: that line is skipped, the next one counts. */
        static const char nul[] = "[Match]\nCgroup=/a\0b\nCgroup=/c\n";
        assert_int_equal(scope_definition_parse("x", "/x.scope", nul, sizeof(nul) - 1, &s), 0);
        assert_int_equal(s->n_cgroups, 1);
        assert_string_equal(s->cgroups[0], "/c");
        assert_non_null(d = find_diagnostic(s, 2));
        assert_int_equal(d->level, DIAGNOSTIC_ERROR);
        scope_definition_free(s);

        /* No newline at the end, CRLF line ends. */
        s = parse("[Match]\r\nCgroup=/a\r\nCgroup=/b");
        assert_int_equal(s->n_cgroups, 2);
        assert_string_equal(s->cgroups[0], "/a");
        assert_string_equal(s->cgroups[1], "/b");
        assert_int_equal(s->n_diagnostics, 0);
        scope_definition_free(s);
}

/* ---- matching ---- */

static void test_glob(void **state)
{
        assert_true(
                scope_cgroup_glob_matches("/system.slice/docker-*.scope", "/system.slice/docker-abc.scope"));
        /* Below the matching cgroup: an ancestor matches. */
        assert_true(scope_cgroup_glob_matches(
                "/machine.slice/libpod-*.scope", "/machine.slice/libpod-0123.scope/container"));
        assert_true(scope_cgroup_glob_matches("/machine.slice/systemd-nspawn@web.service",
                "/machine.slice/systemd-nspawn@web.service/payload/system.slice/sshd.service"));
        assert_true(scope_cgroup_glob_matches("/machine.slice/systemd-nspawn@web.service/*",
                "/machine.slice/systemd-nspawn@web.service/payload/system.slice/sshd.service"));
        /* '*' stays within one component. */
        assert_false(scope_cgroup_glob_matches("/system.slice/*.scope", "/system.slice/a/b.scope"));
        assert_false(scope_cgroup_glob_matches(
                "/system.slice/docker-*.scope", "/system.slice/docker-abc.service"));
        /* A parent does not match a glob for its child. */
        assert_false(scope_cgroup_glob_matches("/system.slice/docker-*.scope", "/system.slice"));
        assert_false(scope_cgroup_glob_matches("/a/b", "/a/bc"));
        assert_true(scope_cgroup_glob_matches("/a/b", "/a/b/c"));
        assert_true(scope_cgroup_glob_matches("/", "/"));
        assert_true(scope_cgroup_glob_matches("/", "/anything/below"));
        assert_true(scope_cgroup_glob_matches("/web-[0-9]", "/web-7/x"));
        assert_false(scope_cgroup_glob_matches("/web-[0-9]", "/web-x"));
}

/* The matching as it was first written: fnmatch() on the path and on each ancestor in turn.  The
 * one-fnmatch() matching must agree with it on every bounded path. */
static bool reference_glob_matches(const char *glob, const char *path)
{
        char *p = strdup(path);
        bool found = false;

        assert_non_null(p);
        for (;;) {
                if (fnmatch(glob, p, FNM_PATHNAME) == 0) {
                        found = true;
                        break;
                }
                char *slash = strrchr(p, '/');
                if (!slash || (slash == p && p[1] == '\0'))
                        break;
                if (slash == p)
                        p[1] = '\0';
                else
                        *slash = '\0';
        }
        free(p);
        return found;
}

/* Globs and paths made of a few pieces in every combination up to a length: '/', names, '*', '?',
 * brackets (also with a '/' inside, and unterminated), escapes, empty components. */
/* Writes "/" followed by every sequence of up to 4 of the n pieces into out (at most max, 64
 * bytes each); returns how many. */
static size_t compose_pieces(const char *const *pieces, size_t n, char (*out)[64], size_t max)
{
        size_t count = 0;

        for (size_t len = 1; len <= 5; len++) {
                size_t total = 1;
                for (size_t k = 0; k + 1 < len; k++)
                        total *= n;
                for (size_t x = 0; x < total && count < max; x++) {
                        char t[64] = "/";
                        for (size_t k = 0, y = x; k + 1 < len; k++, y /= n)
                                strcat(t, pieces[y % n]);
                        strcpy(out[count++], t);
                }
        }
        return count;
}

static void test_glob_equivalence(void **state)
{
        static const char *const glob_pieces[] = { "/", "a", "b", "*", "?", "[ab]", "[!a]", "[/a]", "\\/",
                "\\*", "[", "a*b", "//" };
        static const char *const path_pieces[] = { "/", "a", "b", "ab", "ba", "*", "[", "aab", "//" };
        const size_t n_gp = ELEMENTSOF(glob_pieces), n_pp = ELEMENTSOF(path_pieces);
        size_t n_globs = 0, n_paths = 0, n_checked = 0, n_matched = 0;
        typedef char Text[64];
        Text *globs = calloc(40000, sizeof(Text)), *paths = calloc(20000, sizeof(Text));

        assert_non_null(globs);
        assert_non_null(paths);
        /* Every absolute glob of "/" and up to 4 pieces, every absolute path of "/" and up to 4. */
        n_globs = compose_pieces(glob_pieces, n_gp, globs, 40000);
        n_paths = compose_pieces(path_pieces, n_pp, paths, 20000);
        for (size_t i = 0; i < n_globs; i++)
                for (size_t step = 193 + i % 97, j = i % step; j < n_paths; j += step) {
                        bool want = reference_glob_matches(globs[i], paths[j]);
                        if (scope_cgroup_glob_matches(globs[i], paths[j]) != want)
                                fail_msg("glob '%s' on '%s': expected %s", globs[i], paths[j],
                                        want ? "a match" : "no match");
                        n_checked++;
                        n_matched += want;
                }
        print_message("# %zu glob/path pairs agree, %zu of them match\n", n_checked, n_matched);
        assert_true(n_matched > 1000);
        free(globs);
        free(paths);

        /* The components counted at parse time, as matching uses them. */
        ScopeDefinition *s = parse("[Match]\nCgroup=/a/*/c\nCgroup=/x[/]y\nCgroup=/\n");
        assert_int_equal(s->cgroup_slashes[0], 3);
        assert_int_equal(s->cgroup_slashes[1], SIZE_MAX);
        assert_int_equal(s->cgroup_slashes[2], 1);
        scope_definition_free(s);
}

/* A cgroup path beyond 1 KiB or 64 components matches no scope, whatever the globs, and costs
 * nothing to reject. */
static void test_glob_bound(void **state)
{
        char text[8192], path[4100];
        ScopeCaller c = {};
        ScopeDefinition *s = parse("[Match]\nCgroup=/\nCgroup=/user.slice/*\nCgroup=/u/*/*\n");

        /* 64 components and 1024 bytes: still matched. */
        memset(path, 0, sizeof(path));
        for (int i = 0; i < 64; i++)
                strcat(path, "/u");
        assert_true(scope_cgroup_path_is_bounded(path));
        assert_true(scope_cgroup_glob_matches("/u/*/*", path));
        snprintf(text, sizeof(text), "0::%s\n", path);
        assert_int_equal(scope_caller_set_cgroup_text(&c, text), 0);
        assert_false(c.cgroup_unbounded);
        assert_true(scope_definition_matches(s, &c));
        scope_caller_done(&c);

        /* 65 components. */
        strcat(path, "/u");
        assert_false(scope_cgroup_path_is_bounded(path));
        assert_false(scope_cgroup_glob_matches("/", path));
        assert_true(reference_glob_matches("/", path));
        snprintf(text, sizeof(text), "0::%s\n", path);
        assert_int_equal(scope_caller_set_cgroup_text(&c, text), 0);
        assert_true(c.cgroup_unbounded);
        assert_null(c.cgroup);
        assert_false(scope_definition_matches(s, &c));
        scope_caller_done(&c);

        /* 1025 bytes in one component, and 4,000 bytes in 40. */
        path[0] = '/';
        memset(path + 1, 'x', 1024);
        path[1025] = '\0';
        assert_false(scope_cgroup_path_is_bounded(path));
        assert_false(scope_cgroup_glob_matches("/*", path));
        for (int i = 0; i < 40; i++) {
                path[i * 100] = '/';
                memset(path + i * 100 + 1, 'u', 99);
        }
        path[4000] = '\0';
        snprintf(text, sizeof(text), "1:name=systemd:/user.slice/x\n0::%s\n", path);
        assert_int_equal(scope_caller_set_cgroup_text(&c, text), 0);
        assert_true(c.cgroup_unbounded);
        /* Even where another hierarchy's path would match: the caller as a whole gets no scope. */
        assert_string_equal(c.cgroup_named, "/user.slice/x");
        assert_false(scope_definition_matches(s, &c));
        scope_caller_done(&c);
        scope_definition_free(s);
}

static void test_caller_cgroup_text(void **state)
{
        ScopeCaller c = {};

        /* Hybrid: unified at its root, the container's cgroup in the named hierarchy. */
        assert_int_equal(scope_caller_set_cgroup_text(&c, "12:pids:/a\n"
                                                          "1:name=systemd:/system.slice/docker-1.scope\n"
                                                          "0::/\n"),
                0);
        assert_string_equal(c.cgroup, "/");
        assert_string_equal(c.cgroup_named, "/system.slice/docker-1.scope");
        scope_caller_done(&c);

        /* Unified only, no final newline. */
        assert_int_equal(scope_caller_set_cgroup_text(&c, "0::/machine.slice/libpod-2.scope/container"), 0);
        assert_string_equal(c.cgroup, "/machine.slice/libpod-2.scope/container");
        assert_null(c.cgroup_named);
        scope_caller_done(&c);

        /* Lines that are not cgroup paths are not taken for one. */
        assert_int_equal(scope_caller_set_cgroup_text(&c, "garbage\n0::\n10:cpu:/x\n"), 0);
        assert_null(c.cgroup);
        assert_null(c.cgroup_named);
        scope_caller_done(&c);
}

static void stat_ns(const char *path, uint64_t *dev, uint64_t *ino)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        *dev = (uint64_t) st.st_dev;
        *ino = (uint64_t) st.st_ino;
}

static void test_matches(void **state)
{
        ScopeCaller c = { .has_netns = true };
        ScopeDefinition *s;

        assert_int_equal(
                scope_caller_set_cgroup_text(&c, "1:name=systemd:/system.slice/docker-1.scope\n0::/\n"), 0);
        stat_ns("/proc/self/ns/net", &c.netns_dev, &c.netns_inode);

        /* Several Cgroup= lines: any of them; the named hierarchy counts on hybrid hosts. */
        s = parse("[Match]\nCgroup=/user.slice\nCgroup=/system.slice/docker-*.scope\n");
        assert_true(scope_definition_matches(s, &c));
        scope_definition_free(s);
        s = parse("[Match]\nCgroup=/user.slice\n");
        assert_false(scope_definition_matches(s, &c));
        scope_definition_free(s);

        /* NetworkNamespace= by the namespace's inode, whatever path names it; several: any. */
        s = parse("[Match]\nNetworkNamespace=/nonexistent/netns\nNetworkNamespace=/proc/self/ns/net\n");
        assert_true(scope_definition_matches(s, &c));
        scope_definition_free(s);
        s = parse("[Match]\nNetworkNamespace=/proc/self/ns/mnt\nNetworkNamespace=/nonexistent\n");
        assert_false(scope_definition_matches(s, &c));
        scope_definition_free(s);

        /* Both kinds: both must match. */
        s = parse("[Match]\nCgroup=/system.slice/*\nNetworkNamespace=/proc/self/ns/net\n");
        assert_true(scope_definition_matches(s, &c));
        scope_definition_free(s);
        s = parse("[Match]\nCgroup=/user.slice/*\nNetworkNamespace=/proc/self/ns/net\n");
        assert_false(scope_definition_matches(s, &c));
        scope_definition_free(s);
        s = parse("[Match]\nCgroup=/system.slice/*\nNetworkNamespace=/proc/self/ns/mnt\n");
        assert_false(scope_definition_matches(s, &c));
        scope_definition_free(s);

        /* A caller whose namespace is unknown matches no NetworkNamespace= scope. */
        c.has_netns = false;
        s = parse("[Match]\nNetworkNamespace=/proc/self/ns/net\n");
        assert_false(scope_definition_matches(s, &c));
        scope_definition_free(s);

        /* No key at all: nobody. */
        s = parse("[Match]\n");
        assert_false(scope_definition_matches(s, &c));
        scope_definition_free(s);
        assert_false(scope_definition_matches(NULL, &c));
        scope_caller_done(&c);
}

static void test_caller_from_pid(void **state)
{
        ScopeCaller c = {}, expected = {};
        char *text = NULL;
        size_t size;
        int fd, pidfd;

        fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1 << 20, &text, &size), 0);
        close(fd);
        assert_int_equal(scope_caller_set_cgroup_text(&expected, text), 0);
        free(text);

        pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        assert_int_equal(scope_caller_from_pid(getpid(), pidfd, &c), 0);
        assert_true(streq_ptr(c.cgroup, expected.cgroup));
        assert_true(streq_ptr(c.cgroup_named, expected.cgroup_named));
        /* The network namespace is the daemon's monitor's to read (daemon/caller-namespaces.c). */
        assert_false(c.has_netns);
        scope_caller_done(&c);
        scope_caller_done(&expected);

        /* A process that is gone (and reaped) is not identified, with or without its pidfd. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        int child_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_true(scope_caller_from_pid(pid, child_pidfd, &c) < 0);
        assert_true(scope_caller_from_pid(pid, -1, &c) < 0);
        if (child_pidfd >= 0)
                close(child_pidfd);
        if (pidfd >= 0)
                close(pidfd);
        assert_true(scope_caller_from_pid(0, -1, &c) < 0);
}

/* ---- discovery ---- */

static void test_discover(void **state)
{
        DropinFile *found = NULL;
        size_t n = 0;
        char full[512];

        write_file("/run/portd/scopes/b.scope", "[Match]\nCgroup=/run-b\n");
        write_file("/etc/portd/scopes/b.scope", "[Match]\nCgroup=/etc-b\n");
        write_file("/run/portd/scopes/a-x.scope", "[Match]\nCgroup=/a-x\n");
        write_file("/etc/portd/scopes/a.scope", "[Match]\nCgroup=/a\n");
        write_file("/run/portd/scopes/c.scope", "[Match]\nCgroup=/c\n");
        write_file("/etc/portd/scopes/not-a-scope.conf", "[Match]\nCgroup=/\n");
        snprintf(full, sizeof(full), "%s/etc/portd/scopes/c.scope", root);
        assert_int_equal(symlink("/dev/null", full), 0);

        assert_int_equal(scope_discover(root, &found, &n), 0);
        assert_int_equal(n, 4);
        /* Lexical by name: "a" before "a-x", though "a-x.scope" < "a.scope". */
        assert_string_equal(found[0].name, "a");
        assert_string_equal(found[1].name, "a-x");
        assert_string_equal(found[1].path, "/run/portd/scopes/a-x.scope");
        assert_string_equal(found[2].name, "b");
        assert_string_equal(found[2].path, "/etc/portd/scopes/b.scope");
        assert_non_null(found[2].hidden);
        assert_string_equal(found[2].hidden[0], "/run/portd/scopes/b.scope");
        assert_string_equal(found[3].name, "c");
        assert_true(found[3].masked);
        dropin_files_free(found, n);

        write_file("/run/portd/scopes/b.d/10-x.conf", "x 1/tcp\n");
        write_file("/etc/portd/scopes/b.d/10-x.conf", "x 2/tcp\n");
        write_file("/run/portd/scopes/b.d/05-y.conf", "y 3/tcp\n");
        write_file("/etc/portd/scopes/b.d/README", "not a drop-in\n");
        assert_int_equal(scope_discover_dropins(root, "b", &found, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(found[0].path, "/run/portd/scopes/b.d/05-y.conf");
        assert_string_equal(found[1].path, "/etc/portd/scopes/b.d/10-x.conf");
        assert_int_equal(found[1].layer, CATALOG_LAYER_SCOPE);
        dropin_files_free(found, n);

        /* The whole set, read: a masked scope has no definition, a hidden one is not read. */
        ScopeSources *scopes = NULL;
        size_t n_scopes = 0, n_ignored = 0;
        assert_int_equal(scope_sources_load(root, &scopes, &n_scopes, &n_ignored), 0);
        assert_int_equal(n_scopes, 4);
        assert_int_equal(n_ignored, 0);
        assert_string_equal(scopes[2].definition->cgroups[0], "/etc-b");
        assert_int_equal(scopes[2].n_files, 2);
        assert_null(scopes[3].definition);
        scope_sources_free(scopes, n_scopes);
}

/* ---- a scope's catalog ---- */

static const char host_services[] = "ssh 22/tcp\n"
                                    "http 80/tcp www www-http\n"
                                    "http 80/udp www\n"
                                    "domain 53/tcp\n"
                                    "domain 53/udp\n"
                                    "ftp 21/tcp\n"
                                    "ftp 21/udp\n"
                                    "smtp 25/tcp mail\n";
static const char host_dropin[] = "metrics 9100/tcp node-exporter\n";
static const char scope_dropin[] = "# the container's own names\n"
                                   "http 8080/tcp web\n" /* replaces http/tcp, aliases with it */
                                   "myapp 9000/tcp\n"    /* adds */
                                   "!ftp\n"              /* removes every protocol */
                                   "!domain/udp\n"       /* removes one */
                                   "metrics 9200/tcp\n"; /* replaces a drop-in's entry */
/* What the scope's callers must see, as one services file: the scope's entries first, then the
 * host drop-in's and the base's that were neither replaced nor removed.  glibc reads it. */
static const char expected_services[] = "http 8080/tcp web\n"
                                        "myapp 9000/tcp\n"
                                        "metrics 9200/tcp\n"
                                        "ssh 22/tcp\n"
                                        "http 80/udp www\n"
                                        "domain 53/tcp\n"
                                        "smtp 25/tcp mail\n";

static Catalog *load_scope_catalog(const char *name)
{
        ServicesFile **host = NULL;
        ScopeSources *scopes = NULL;
        size_t n_host = 0, n_scopes = 0, n_ignored = 0;
        Catalog *c = NULL;

        assert_int_equal(catalog_load_files(root, &host, &n_host), 0);
        assert_int_equal(scope_sources_load(root, &scopes, &n_scopes, &n_ignored), 0);
        for (size_t i = 0; i < n_scopes; i++)
                if (streq(scopes[i].found.name, name))
                        assert_int_equal(
                                scope_catalog_build(host, n_host, scopes[i].files, scopes[i].n_files, &c),
                                0);
        services_files_free(host, n_host);
        scope_sources_free(scopes, n_scopes);
        assert_non_null(c);
        return c;
}

static void entry_format(FILE *f, const ServiceEntry *e)
{
        if (!e) {
                fputs("-", f);
                return;
        }
        fprintf(f, "%s %u/%s", e->name, e->port, e->protocol);
        for (size_t i = 0; i < e->n_aliases; i++)
                fprintf(f, "%s%s", i == 0 ? " " : ",", e->aliases[i]);
}

typedef struct Comparison {
        const Catalog *catalog;
        const char *services_file;
} Comparison;

static bool same_answer(const char *what, const char *key, const char *proto, const struct servent *se,
        const ServiceEntry *e)
{
        char *a = NULL, *b = NULL;
        size_t la, lb;
        FILE *fa = open_memstream(&a, &la), *fb = open_memstream(&b, &lb);
        servent_format(fa, se);
        entry_format(fb, e);
        fclose(fa);
        fclose(fb);
        bool same = streq(a, b);
        if (!same)
                printf("# %s %s/%s: glibc '%s', scope catalog '%s'\n", what, key, proto ?: "*", a, b);
        free(a);
        free(b);
        return same;
}

/* In a child: glibc's files backend on the expected file against the scope's catalog. */
static int compare_with_glibc(void *userdata)
{
        const Comparison *cmp = userdata;
        static const char *const names[] = { "http", "www", "web", "www-http", "myapp", "ftp", "domain",
                "ssh", "smtp", "mail", "metrics", "node-exporter", "nothing" };
        static const char *const protos[] = { NULL, "tcp", "udp", "sctp" };
        static const int ports[] = { 80, 8080, 9000, 21, 53, 22, 25, 9100, 9200, 1 };
        unsigned failures = 0, n = 0;
        int r;

        r = files_namespace_enter(cmp->services_file);
        if (r < 0) {
                printf("# cannot bind the expected file over /etc/services: %s\n", strerror(-r));
                return 100;
        }
        nss_use_source("files");

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                for (size_t j = 0; j < ELEMENTSOF(protos); j++, n++)
                        failures +=
                                !same_answer("name", names[i], protos[j], getservbyname(names[i], protos[j]),
                                        catalog_lookup_by_name(cmp->catalog, names[i], protos[j]));
        for (size_t i = 0; i < ELEMENTSOF(ports); i++)
                for (size_t j = 0; j < ELEMENTSOF(protos); j++, n++) {
                        char key[16];
                        snprintf(key, sizeof(key), "%d", ports[i]);
                        failures += !same_answer("port", key, protos[j],
                                getservbyport(htons(ports[i]), protos[j]),
                                catalog_lookup_by_port(cmp->catalog, (uint16_t) ports[i], protos[j]));
                }

        /* The getservent sequence is the catalog's merged order. */
        struct servent *se;
        size_t k = 0;
        setservent(0);
        while ((se = getservent())) {
                failures += !same_answer("enumeration", "#", NULL, se,
                        k < cmp->catalog->n_entries ? &cmp->catalog->entries[k] : NULL);
                k++;
        }
        endservent();
        if (k != cmp->catalog->n_entries) {
                printf("# glibc enumerates %zu entries, the scope catalog has %zu\n", k,
                        cmp->catalog->n_entries);
                failures++;
        }
        printf("# %u lookups and %zu enumerated entries compared with glibc\n", n, k);
        return failures > 99 ? 99 : (int) failures;
}

static void test_scope_catalog(void **state)
{
        char expected[600];
        Catalog *c;
        const ServiceEntry *e;

        write_file("/etc/services", host_services);
        write_file("/etc/services.d/50-metrics.conf", host_dropin);
        write_file("/etc/portd/scopes/web.scope", "[Match]\nCgroup=/system.slice/web.service\n");
        write_file("/etc/portd/scopes/web.d/10-web.conf", scope_dropin);

        c = load_scope_catalog("web");

        /* Provenance: the scope's file and line, in the scope layer. */
        assert_non_null(e = catalog_lookup_by_name(c, "web", "tcp"));
        assert_int_equal(e->port, 8080);
        assert_string_equal(c->sources[e->source].path, "/etc/portd/scopes/web.d/10-web.conf");
        assert_int_equal(c->sources[e->source].layer, CATALOG_LAYER_SCOPE);
        assert_int_equal(e->line, 2);

        /* What the scope replaced and removed is explained, with the line that did it. */
        const ServiceEntry *winner;
        const CatalogShadow **shadows = NULL;
        size_t n;
        assert_int_equal(catalog_explain(c, "ftp", NULL, &winner, &shadows, &n), 0);
        assert_null(winner);
        assert_int_equal(n, 2);
        assert_true(shadows[0]->removed);
        assert_string_equal(c->sources[shadows[0]->by_source].path, "/etc/portd/scopes/web.d/10-web.conf");
        assert_int_equal(shadows[0]->by_line, 4);
        free(shadows);

        /* The truth for every lookup: glibc on the merged file. */
        snprintf(expected, sizeof(expected), "%s/expected-services", root);
        write_file("/expected-services", expected_services);
        if (!files_namespace_available()) {
                /* Without a private mount namespace glibc cannot be pointed at the file; the
                 * integration test compares through getent instead. */
                print_message("# glibc comparison not possible here (no private mount namespace)\n");
        } else {
                Comparison cmp = { .catalog = c, .services_file = expected };
                assert_int_equal(run_child(compare_with_glibc, &cmp), 0);
        }
        catalog_free(c);

        /* The same files without the scope: the host's catalog is untouched by it. */
        assert_int_equal(catalog_load(root, &c), 0);
        assert_non_null(e = catalog_lookup_by_name(c, "http", "tcp"));
        assert_int_equal(e->port, 80);
        assert_non_null(catalog_lookup_by_name(c, "ftp", NULL));
        assert_null(catalog_lookup_by_name(c, "myapp", NULL));
        catalog_free(c);
}

static void test_scope_above_overrides(void **state)
{
        write_file("/etc/services", host_services);
        write_file("/run/portd/overrides.conf", "ssh 2222/tcp\n");
        write_file("/etc/portd/scopes/s.scope", "[Match]\nCgroup=/s\n");
        write_file("/etc/portd/scopes/s.d/x.conf", "ssh 22022/tcp\n");

        Catalog *c = load_scope_catalog("s");
        const ServiceEntry *e = catalog_lookup_by_name(c, "ssh", "tcp");
        assert_non_null(e);
        assert_int_equal(e->port, 22022);
        catalog_free(c);
}

static void test_verify(void **state)
{
        ScopeFinding *f = NULL;
        size_t n = 0;
        bool bad_scope_line = false, bad_dropin_line = false, removes_nothing = false;

        write_file("/etc/services", host_services);
        write_file("/etc/services.d/bad.conf", "host-bad\n");
        write_file("/etc/portd/scopes/v.scope", "[Match]\nCgroup=/v\nOops\n");
        write_file("/etc/portd/scopes/v.d/10-v.conf", "good 1/tcp\nbad\n!nothing-here\n");

        write_file("/run/portd/scopes/gone.d/10-x.conf", "x 1/tcp\n");
        bool orphan = false;

        assert_int_equal(scopes_verify(root, &f, &n), 0);
        for (size_t i = 0; i < n; i++) {
                if (f[i].level == DIAGNOSTIC_NOTICE && streq(f[i].file, "/run/portd/scopes") &&
                        strstr(f[i].message, "'gone.d' has no gone.scope"))
                        orphan = true;
                if (streq(f[i].file, "/etc/portd/scopes/v.scope") && f[i].line == 3 &&
                        f[i].level == DIAGNOSTIC_ERROR)
                        bad_scope_line = true;
                if (streq(f[i].file, "/etc/portd/scopes/v.d/10-v.conf") && f[i].line == 2 &&
                        f[i].level == DIAGNOSTIC_ERROR)
                        bad_dropin_line = true;
                if (streq(f[i].file, "/etc/portd/scopes/v.d/10-v.conf") && f[i].line == 3 &&
                        f[i].level == DIAGNOSTIC_WARNING)
                        removes_nothing = true;
                /* Findings about the host's own files are verify's, not repeated per scope. */
                assert_false(streq(f[i].file, "/etc/services.d/bad.conf"));
        }
        scope_findings_free(f, n);
        assert_true(bad_scope_line);
        assert_true(bad_dropin_line);
        assert_true(removes_nothing);
        assert_true(orphan);
}

static void test_bound(void **state)
{
        ScopeSources *scopes = NULL;
        ScopeFinding *f = NULL;
        size_t n = 0, n_ignored = 0;
        bool warned = false;

        for (unsigned i = 0; i < SCOPES_MAX + 3; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/etc/portd/scopes/s%05u.scope", i);
                write_file(path, "[Match]\nCgroup=/x\n");
        }
        assert_int_equal(scope_sources_load(root, &scopes, &n, &n_ignored), 0);
        assert_int_equal(n, SCOPES_MAX);
        assert_int_equal(n_ignored, 3);
        /* The first ones in lexical order are kept. */
        assert_string_equal(scopes[0].found.name, "s00000");
        assert_string_equal(scopes[SCOPES_MAX - 1].found.name, "s04095");
        scope_sources_free(scopes, n);

        assert_int_equal(scopes_verify(root, &f, &n), 0);
        for (size_t i = 0; i < n; i++)
                warned = warned ||
                         (f[i].level == DIAGNOSTIC_WARNING && strstr(f[i].message, "3 more scopes"));
        scope_findings_free(f, n);
        assert_true(warned);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_keys),
                cmocka_unit_test(test_parse_reset),
                cmocka_unit_test(test_parse_bad_lines),
                cmocka_unit_test(test_glob),
                cmocka_unit_test(test_glob_equivalence),
                cmocka_unit_test(test_glob_bound),
                cmocka_unit_test(test_caller_cgroup_text),
                cmocka_unit_test(test_matches),
                cmocka_unit_test(test_caller_from_pid),
                cmocka_unit_test_setup_teardown(test_discover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scope_catalog, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scope_above_overrides, setup, teardown),
                cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
