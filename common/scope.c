/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scopes: the NAME.scope parser, the discovery of scopes and their NAME.d drop-ins with UAPI.6
 * precedence, what identifies a caller (cgroup paths, network namespace) and the matching of one
 * against a scope.  No logging here: bad lines become diagnostics that the daemon logs. */

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/stat.h>

#include "scope.h"
#include "root-path.h"
#include "util.h"

/* A .scope file is a handful of lines; anything this large is not one. */
#define SCOPE_FILE_MAX (1024u * 1024u)
/* /proc/PID/cgroup: one line per hierarchy, each at most a path. */
#define PROC_CGROUP_MAX (256u * 1024u)

const char *const scope_dirs[] = {
        "/run/portd/scopes",
        "/etc/portd/scopes",
        NULL,
};

static void strv_free_n(char **l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
}

ScopeDefinition *scope_definition_free(ScopeDefinition *s)
{
        if (!s)
                return NULL;
        free(s->name);
        free(s->path);
        strv_free_n(s->cgroups, s->n_cgroups);
        free(s->cgroup_slashes);
        strv_free_n(s->netns, s->n_netns);
        for (size_t i = 0; i < s->n_diagnostics; i++)
                free(s->diagnostics[i].message);
        free(s->diagnostics);
        return mfree(s);
}

static void scope_definition_freep(ScopeDefinition **s)
{
        scope_definition_free(*s);
}

static int _printf_(4, 5)
        scope_diagnose(ScopeDefinition *s, DiagnosticLevel level, uint32_t line, const char *fmt, ...)
{
        ScopeDiagnostic *d;
        va_list ap;
        char *m;
        int k;

        d = realloc(s->diagnostics, (s->n_diagnostics + 1) * sizeof(ScopeDiagnostic));
        if (!d)
                return -ENOMEM;
        s->diagnostics = d;
        va_start(ap, fmt);
        k = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        s->diagnostics[s->n_diagnostics++] = (ScopeDiagnostic){ .level = level, .line = line, .message = m };
        return 0;
}

/* Appends a copy of value to a NULL-terminated list. */
static int list_push(char ***l, size_t *n, const char *value)
{
        char **p = realloc(*l, (*n + 2) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        *l = p;
        p[*n] = strdup(value);
        if (!p[*n])
                return -ENOMEM;
        p[++*n] = NULL;
        return 0;
}

/* "Key=" with nothing after it empties the list, so that a later line (or, in a future drop-in
 * for .scope files, a later file) can replace what came before instead of adding to it, as in
 * systemd's unit files. */
static void list_reset(char ***l, size_t *n)
{
        strv_free_n(*l, *n);
        *l = NULL;
        *n = 0;
}

static char *strip(char *s)
{
        while (*s && isspace((unsigned char) *s))
                s++;
        size_t l = strlen(s);
        while (l > 0 && isspace((unsigned char) s[l - 1]))
                s[--l] = '\0';
        return s;
}

static int scope_parse_assignment(ScopeDefinition *s, uint32_t line, char *key, char *value)
{
        char ***list;
        size_t *n;

        if (streq(key, "Cgroup")) {
                list = &s->cgroups;
                n = &s->n_cgroups;
        } else if (streq(key, "NetworkNamespace")) {
                list = &s->netns;
                n = &s->n_netns;
        } else
                return scope_diagnose(
                        s, DIAGNOSTIC_WARNING, line, "unknown key '%s' in [Match], ignoring it", key);

        if (*value == '\0') {
                list_reset(list, n);
                return 0;
        }
        /* Cgroup paths as /proc/PID/cgroup shows them, and namespace files, are absolute: a
         * relative value is a mistake, and matching it anyway would match nothing or the wrong
         * thing. */
        if (value[0] != '/')
                return scope_diagnose(s, DIAGNOSTIC_ERROR, line,
                        "%s= takes an absolute path, not '%s', line skipped", key, value);
        return list_push(list, n, value);
}

int scope_definition_parse(
        const char *name, const char *path, const char *data, size_t size, ScopeDefinition **ret)
{
        assert(path);
        assert(ret);

        _cleanup_(scope_definition_freep) ScopeDefinition *s = NULL;
        enum { SECTION_NONE, SECTION_MATCH, SECTION_UNKNOWN } section = SECTION_NONE;
        uint32_t line = 0;
        int r;

        s = calloc(1, sizeof(ScopeDefinition));
        if (!s)
                return -ENOMEM;
        s->name = strdup(name);
        s->path = strdup(path);
        if (!s->name || !s->path)
                return -ENOMEM;

        for (const char *p = data, *end = data + size; p < end;) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((eol ?: end) - p);
                _cleanup_free_ char *buf = strndup(p, len);

                p += len + 1;
                line++;
                if (!buf)
                        return -ENOMEM;
                if (strlen(buf) != len) {
                        r = scope_diagnose(s, DIAGNOSTIC_ERROR, line, "contains a NUL byte, line skipped");
                        if (r < 0)
                                return r;
                        continue;
                }

                char *l = strip(buf);
                if (*l == '\0' || *l == '#' || *l == ';')
                        continue;

                if (*l == '[') {
                        size_t n = strlen(l);
                        if (n < 3 || l[n - 1] != ']') {
                                section = SECTION_UNKNOWN;
                                r = scope_diagnose(s, DIAGNOSTIC_ERROR, line,
                                        "invalid section header '%s', ignoring the lines up to the next "
                                        "section",
                                        l);
                        } else if (n == strlen("[Match]") && strneq(l, "[Match]", n)) {
                                section = SECTION_MATCH;
                                r = 0;
                        } else {
                                section = SECTION_UNKNOWN;
                                r = scope_diagnose(
                                        s, DIAGNOSTIC_WARNING, line, "unknown section '%s', ignoring it", l);
                        }
                        if (r < 0)
                                return r;
                        continue;
                }

                if (section == SECTION_UNKNOWN)
                        continue; /* reported once, at its header */

                char *eq = strchr(l, '=');
                if (!eq)
                        r = scope_diagnose(s, DIAGNOSTIC_ERROR, line,
                                "'%s' is not a Key=Value assignment, line skipped", l);
                else if (section == SECTION_NONE)
                        r = scope_diagnose(s, DIAGNOSTIC_WARNING, line,
                                "assignment outside of a section, ignoring it (keys belong in [Match])");
                else {
                        *eq = '\0';
                        r = scope_parse_assignment(s, line, strip(l), strip(eq + 1));
                }
                if (r < 0)
                        return r;
        }

        /* Counted once here, so that matching a caller costs one fnmatch() per glob. */
        if (s->n_cgroups > 0) {
                s->cgroup_slashes = calloc(s->n_cgroups, sizeof(size_t));
                if (!s->cgroup_slashes)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_cgroups; i++)
                        s->cgroup_slashes[i] = scope_cgroup_glob_slashes(s->cgroups[i]);
        }

        if (s->n_cgroups == 0 && s->n_netns == 0) {
                r = scope_diagnose(s, DIAGNOSTIC_WARNING, 0,
                        "no Cgroup= or NetworkNamespace= in [Match]: the scope applies to no caller");
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

int scope_definition_load(const char *root, const char *name, const char *path, ScopeDefinition **ret)
{
        _cleanup_free_ char *data = NULL;
        ScopeDefinition *s;
        struct stat st = {};
        size_t size = 0;
        int r;

        assert(name);
        assert(path);
        assert(ret);

        r = read_file_at_root(root, path, SCOPE_FILE_MAX, &data, &size, &st);
        if (r < 0)
                return r;
        r = scope_definition_parse(name, path, data, size, &s);
        if (r < 0)
                return r;
        s->stamp = file_stamp(&st);
        *ret = s;
        return 0;
}

int scope_dropin_dirs(const char *name, char ***ret)
{
        size_t n = 0, total = 0;

        assert(name);
        assert(ret);

        for (const char *const *d = scope_dirs; *d; d++, n++)
                total += strlen(*d) + 1 + strlen(name) + strlen(".d") + 1;

        /* One block: the pointers, then the strings they point to. */
        char **l = malloc((n + 1) * sizeof(char *) + total);
        if (!l)
                return -ENOMEM;
        char *p = (char *) (l + n + 1);
        for (size_t i = 0; i < n; i++) {
                l[i] = p;
                p += sprintf(p, "%s/%s.d", scope_dirs[i], name) + 1;
        }
        l[n] = NULL;
        *ret = l;
        return 0;
}

int scope_discover(const char *root, DropinFile **ret, size_t *ret_n)
{
        DropinFile *found = NULL;
        size_t n = 0;
        int r;

        assert(ret);
        assert(ret_n);

        r = catalog_discover_files(root, scope_dirs, SCOPE_SUFFIX, CATALOG_LAYER_SCOPE, &found, &n);
        if (r < 0)
                return r;
        /* Sorted by file name already; "a.scope" < "a-b.scope" would differ from "a" < "a-b"
         * only if the suffix took part, so sort again by the names themselves. */
        for (size_t i = 0; i < n; i++)
                found[i].name[strlen(found[i].name) - strlen(SCOPE_SUFFIX)] = '\0';
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(found[j - 1].name, found[j].name) > 0; j--) {
                        DropinFile t = found[j];
                        found[j] = found[j - 1];
                        found[j - 1] = t;
                }
        *ret = found;
        *ret_n = n;
        return 0;
}

int scope_discover_dropins(const char *root, const char *name, DropinFile **ret, size_t *ret_n)
{
        _cleanup_free_ char **dirs = NULL;
        int r;

        assert(name);
        assert(ret);
        assert(ret_n);

        r = scope_dropin_dirs(name, &dirs);
        if (r < 0)
                return r;
        return catalog_discover_files(
                root, (const char *const *) dirs, ".conf", CATALOG_LAYER_SCOPE, ret, ret_n);
}

void scope_caller_done(ScopeCaller *c)
{
        assert(c);

        free(c->cgroup);
        free(c->cgroup_named);
        *c = (ScopeCaller){};
}

int scope_caller_set_cgroup_text(ScopeCaller *c, const char *text)
{
        assert(c);

        for (const char *l = text; l && *l;) {
                const char *eol = strchrnul(l, '\n');
                const char *c1 = memchr(l, ':', (size_t) (eol - l));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (eol - c1 - 1)) : NULL;
                char **target = NULL;

                if (c2) {
                        size_t cn = (size_t) (c2 - c1 - 1);
                        if (cn == 0 && c1 - l == 1 && l[0] == '0')
                                target = &c->cgroup;
                        else if (cn == strlen("name=systemd") && strneq(c1 + 1, "name=systemd", cn))
                                target = &c->cgroup_named;
                }
                if (target && c2[1] == '/') {
                        size_t len = (size_t) (eol - c2 - 1), depth = 0;
                        for (size_t i = 0; i < len; i++)
                                depth += c2[1 + i] == '/';
                        /* Not kept: nothing may match it (see SCOPE_CGROUP_PATH_MAX). */
                        if (len > SCOPE_CGROUP_PATH_MAX || depth > SCOPE_CGROUP_DEPTH_MAX) {
                                c->cgroup_unbounded = true;
                                *target = mfree(*target);
                                l = *eol ? eol + 1 : NULL;
                                continue;
                        }
                        char *s = strndup(c2 + 1, len);
                        if (!s)
                                return -ENOMEM;
                        free(*target);
                        *target = s;
                }
                l = *eol ? eol + 1 : NULL;
        }
        return 0;
}

int scope_caller_from_pid(int pid, int pidfd, ScopeCaller *ret)
{
        _cleanup_close_ int dir = -1, fd = -1;
        _cleanup_free_ char *text = NULL;
        ScopeCaller c = {};
        char path[64];
        size_t size;
        int r;

        assert(ret);

        if (pid <= 0)
                return -ESRCH;
        (void) snprintf(path, sizeof(path), "/proc/%d", pid);
        dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;

        fd = openat(dir, "cgroup", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read_full_fd(fd, PROC_CGROUP_MAX, &text, &size) >= 0) {
                r = scope_caller_set_cgroup_text(&c, text);
                if (r < 0)
                        goto fail;
        }

        /* The PID was the caller's when it connected, but it may have exited and the number been
         * given to another process before /proc was read.  The pidfd pins the original process:
         * if it is still alive now, it was alive all along, and what we read is its own. */
        if (pidfd_process_gone(pidfd)) {
                r = -ESRCH;
                goto fail;
        }

        *ret = c;
        return 0;
fail:
        scope_caller_done(&c);
        return r;
}

size_t scope_cgroup_glob_slashes(const char *glob)
{
        const char *bracket;
        size_t n = 0;

        assert(glob);

        bracket = strchr(glob, '[');
        /* Whether such a '[' opens a bracket expression (that never matches '/') or stands for
         * itself is fnmatch()'s business: not guessed here. */
        if (bracket && strchr(bracket, '/'))
                return SIZE_MAX;
        for (const char *p = glob; *p; p++)
                n += *p == '/';
        return n;
}

bool scope_cgroup_path_is_bounded(const char *path)
{
        size_t depth = 0, len;

        assert(path);

        len = strnlen(path, SCOPE_CGROUP_PATH_MAX + 1);
        if (len > SCOPE_CGROUP_PATH_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                depth += path[i] == '/';
        return depth <= SCOPE_CGROUP_DEPTH_MAX;
}

/* glob (with slashes '/' in it) against path and its ancestors: the cgroup itself, then each
 * ancestor up to "/", since a scope for a container's cgroup is also for the processes in the
 * cgroups below it (nspawn's payload, podman's container/).  path is within the bounds. */
static bool cgroup_glob_matches_slashes(const char *glob, size_t slashes, const char *path)
{
        char p[SCOPE_CGROUP_PATH_MAX + 1];
        size_t cut, n = 0;

        if (slashes == SIZE_MAX) {
                size_t len = strnlen(path, sizeof(p));
                if (len >= sizeof(p))
                        return false;
                memcpy(p, path, len + 1);
                for (;;) {
                        if (fnmatch(glob, p, FNM_PATHNAME) == 0)
                                return true;
                        char *slash = strrchr(p, '/');
                        if (!slash || (slash == p && p[1] == '\0'))
                                return false;
                        if (slash == p)
                                p[1] = '\0';
                        else
                                *slash = '\0';
                }
        }

        /* With FNM_PATHNAME a '/' of the path is matched by a '/' of the glob and by nothing
         * else: only the ancestor with as many '/' as the glob can match, the path cut before its
         * next '/'.  Every path is absolute, so a glob without '/' matches none. */
        if (slashes == 0)
                return false;
        for (cut = 0; path[cut] && cut < sizeof(p); cut++)
                if (path[cut] == '/' && ++n > slashes)
                        break;
        if (n < slashes || cut >= sizeof(p))
                return false;
        memcpy(p, path, cut);
        p[cut] = '\0';
        if (fnmatch(glob, p, FNM_PATHNAME) == 0)
                return true;
        /* "/" has one '/' as its children have: a one-'/' glob ("/", "/x*") may match it too. */
        return slashes == 1 && cut > 1 && fnmatch(glob, "/", FNM_PATHNAME) == 0;
}

bool scope_cgroup_glob_matches(const char *glob, const char *path)
{
        assert(glob);
        assert(path);

        return scope_cgroup_path_is_bounded(path) &&
               cgroup_glob_matches_slashes(glob, scope_cgroup_glob_slashes(glob), path);
}

static bool scope_cgroups_match(const ScopeDefinition *s, const ScopeCaller *c)
{
        for (size_t i = 0; i < s->n_cgroups; i++) {
                const char *g = s->cgroups[i];
                size_t slashes = s->cgroup_slashes ? s->cgroup_slashes[i] : scope_cgroup_glob_slashes(g);
                if ((c->cgroup && cgroup_glob_matches_slashes(g, slashes, c->cgroup)) ||
                        (c->cgroup_named && cgroup_glob_matches_slashes(g, slashes, c->cgroup_named)))
                        return true;
        }
        return false;
}

static bool scope_netns_match(const ScopeDefinition *s, const ScopeCaller *c)
{
        if (!c->has_netns)
                return false;
        for (size_t i = 0; i < s->n_netns; i++) {
                struct stat st;
                if (stat(s->netns[i], &st) < 0)
                        continue; /* not created yet, or gone: matches nobody */
                if ((uint64_t) st.st_dev == c->netns_dev && (uint64_t) st.st_ino == c->netns_inode)
                        return true;
        }
        return false;
}

bool scope_definition_matches(const ScopeDefinition *s, const ScopeCaller *caller)
{
        assert(caller);

        if (!s || (s->n_cgroups == 0 && s->n_netns == 0) || caller->cgroup_unbounded)
                return false;
        /* The cheap test first: the namespace one costs a stat() per file. */
        if (s->n_cgroups > 0 && !scope_cgroups_match(s, caller))
                return false;
        if (s->n_netns > 0 && !scope_netns_match(s, caller))
                return false;
        return true;
}

void scope_sources_free(ScopeSources *s, size_t n)
{
        if (!s)
                return;
        for (size_t i = 0; i < n; i++) {
                free(s[i].found.name);
                free(s[i].found.path);
                for (char **h = s[i].found.hidden; h && *h; h++)
                        free(*h);
                free(s[i].found.hidden);
                scope_definition_free(s[i].definition);
                services_files_free(s[i].files, s[i].n_files);
        }
        free(s);
}

int scope_sources_load(const char *root, ScopeSources **ret, size_t *ret_n, size_t *ret_n_ignored)
{
        DropinFile *found = NULL;
        ScopeSources *scopes = NULL;
        size_t n_found = 0, n = 0;
        int r;

        assert(ret);
        assert(ret_n);

        r = scope_discover(root, &found, &n_found);
        if (r < 0)
                return r;

        scopes = calloc(MIN(n_found, (size_t) SCOPES_MAX) + 1, sizeof(ScopeSources));
        if (!scopes) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n_found && n < SCOPES_MAX; i++) {
                ScopeSources *s = &scopes[n++];
                DropinFile *dropins = NULL;
                size_t n_dropins = 0;

                s->found = found[i];
                found[i] = (DropinFile){};

                if (!s->found.masked) {
                        r = scope_definition_load(root, s->found.name, s->found.path, &s->definition);
                        if (r == -ENOMEM)
                                goto out;
                        if (r < 0)
                                s->error = r;
                }

                r = scope_discover_dropins(root, s->found.name, &dropins, &n_dropins);
                if (r < 0)
                        goto out;
                r = catalog_load_listed(root, dropins, n_dropins, &s->files, &s->n_files);
                dropin_files_free(dropins, n_dropins);
                if (r < 0)
                        goto out;
        }

        *ret = TAKE_PTR(scopes);
        *ret_n = n;
        *ret_n_ignored = n_found > SCOPES_MAX ? n_found - SCOPES_MAX : 0;
        r = 0;
out:
        scope_sources_free(scopes, n);
        dropin_files_free(found, n_found);
        return r;
}

int scope_catalog_build(
        ServicesFile *const *host, size_t n_host, ServicesFile *const *scope, size_t n_scope, Catalog **ret)
{
        _cleanup_free_ ServicesFile **all = calloc(n_host + n_scope + 1, sizeof(ServicesFile *));

        assert(host);
        assert(scope);
        assert(ret);

        if (!all)
                return -ENOMEM;
        if (n_host > 0)
                memcpy(all, host, n_host * sizeof(ServicesFile *));
        if (n_scope > 0)
                memcpy(all + n_host, scope, n_scope * sizeof(ServicesFile *));
        return catalog_build(all, n_host + n_scope, ret);
}

void scope_findings_free(ScopeFinding *f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(f[i].file);
                free(f[i].message);
        }
        free(f);
}

static int _printf_(6, 7) finding_add(ScopeFinding **f, size_t *n, DiagnosticLevel level, const char *file,
        uint32_t line, const char *fmt, ...)
{
        ScopeFinding *p = realloc(*f, (*n + 1) * sizeof(ScopeFinding));
        va_list ap;
        char *m;
        int k;

        if (!p)
                return -ENOMEM;
        *f = p;
        va_start(ap, fmt);
        k = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        p[*n] = (ScopeFinding){ .level = level, .file = strdup(file), .line = line, .message = m };
        if (!p[*n].file) {
                free(m);
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

/* A NAME.d/ with no NAME.scope (in either directory) is never used: usually a typo or a scope
 * file that was removed alone. */
static int orphan_dropin_dirs(const char *root, const ScopeSources *scopes, size_t n_scopes,
        size_t n_ignored, ScopeFinding **f, size_t *n)
{
        for (const char *const *dir = scope_dirs; *dir; dir++) {
                struct dirent *de;
                DIR *d;
                int r = 0;

                d = opendir_at_root(root, *dir);
                if (!d)
                        continue;
                while (r >= 0 && (de = readdir(d))) {
                        size_t l = strlen(de->d_name);
                        struct stat st;
                        bool known = n_ignored > 0; /* it may belong to an ignored scope */

                        if (de->d_name[0] == '.' || l <= 2 || !streq(de->d_name + l - 2, ".d") ||
                                fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                                continue;
                        for (size_t i = 0; i < n_scopes && !known; i++)
                                known = strlen(scopes[i].found.name) == l - 2 &&
                                        strneq(scopes[i].found.name, de->d_name, l - 2);
                        if (!known)
                                r = finding_add(f, n, DIAGNOSTIC_NOTICE, *dir, 0,
                                        "'%s' has no %.*s" SCOPE_SUFFIX ": its drop-ins are not used",
                                        de->d_name, (int) (l - 2), de->d_name);
                }
                closedir(d);
                if (r < 0)
                        return r;
        }
        return 0;
}

int scopes_verify(const char *root, ScopeFinding **ret, size_t *ret_n)
{
        ServicesFile **host = NULL;
        ScopeSources *scopes = NULL;
        ScopeFinding *f = NULL;
        size_t n_host = 0, n_scopes = 0, n_ignored = 0, n = 0;
        int r;

        assert(ret);
        assert(ret_n);

        r = scope_sources_load(root, &scopes, &n_scopes, &n_ignored);
        if (r < 0)
                return r;
        if (n_scopes > 0) {
                r = catalog_load_files(root, &host, &n_host);
                if (r < 0)
                        goto out;
        }

        for (size_t i = 0; i < n_scopes && r >= 0; i++) {
                const ScopeSources *s = &scopes[i];
                const ScopeDefinition *d = s->definition;
                Catalog *c = NULL;

                if (s->found.masked)
                        continue;
                if (s->error < 0) {
                        r = finding_add(&f, &n, DIAGNOSTIC_ERROR, s->found.path, 0, "cannot be read: %s",
                                strerror(-s->error));
                        continue;
                }
                for (size_t j = 0; d && j < d->n_diagnostics && r >= 0; j++)
                        r = finding_add(&f, &n, d->diagnostics[j].level, d->path, d->diagnostics[j].line,
                                "%s", d->diagnostics[j].message);
                if (r < 0)
                        break;

                /* The scope's files as they merge over the host's: what the catalog finds about
                 * them (bad lines, removals that remove nothing, what they replace). */
                r = scope_catalog_build(host, n_host, s->files, s->n_files, &c);
                for (size_t j = 0; r >= 0 && j < c->n_diagnostics; j++) {
                        const CatalogDiagnostic *x = &c->diagnostics[j];
                        if (x->source < n_host)
                                continue;
                        r = finding_add(
                                &f, &n, x->level, c->sources[x->source].path, x->line, "%s", x->message);
                }
                catalog_free(c);
        }
        if (r >= 0)
                r = orphan_dropin_dirs(root, scopes, n_scopes, n_ignored, &f, &n);
        if (r >= 0 && n_ignored > 0)
                r = finding_add(&f, &n, DIAGNOSTIC_WARNING, scopes[n_scopes - 1].found.path, 0,
                        "%zu more scopes after this one are ignored: at most %d are served", n_ignored,
                        SCOPES_MAX);
        if (r < 0)
                goto out;

        *ret = TAKE_PTR(f);
        *ret_n = n;
        n = 0;
        r = 0;
out:
        scope_findings_free(f, n);
        services_files_free(host, n_host);
        scope_sources_free(scopes, n_scopes);
        return r;
}
