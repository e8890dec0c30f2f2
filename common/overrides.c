/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Local overrides: edits of the override files, made atomically so that the daemon's file
 * watch only ever sees the old or the new file, and a failed write (disk full, read-only /etc)
 * leaves the old one in place. */

#include <assert.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "catalog.h"
#include "overrides.h"
#include "util.h"

const char *const overrides_paths[] = {
        OVERRIDES_PERSISTENT_PATH,
        OVERRIDES_RUNTIME_PATH,
        NULL,
};

static bool token_is_valid(const char *s, size_t max, bool slash_ok)
{
        size_t n = 0;

        if (!s || !*s || *s == '!')
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++, n++)
                if (*p <= ' ' || *p == 0x7f || *p == '#' || (!slash_ok && *p == '/') || n >= max)
                        return false;
        return true;
}

bool service_name_is_valid(const char *s)
{
        assert(s);

        return token_is_valid(s, SERVICE_NAME_MAX, true);
}

bool service_protocol_is_valid(const char *s)
{
        assert(s);

        return token_is_valid(s, SERVICE_PROTOCOL_MAX, false);
}

static int mkdir_parents(const char *path)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(p, 0755) >= 0) {
                        /* 0755 whatever the umask (the unit's is 0077): every user reads the
                         * overrides through the catalog, and portctl verify reads them too. */
                        if (chmod(p, 0755) < 0)
                                return -errno;
                } else if (errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

static void services_file_freep(ServicesFile **f)
{
        services_file_free(*f);
}

/* The file's new text, from what was parsed, in line order, removals where they stood. */
static int overrides_render(const ServicesFile *f, const bool *drop_entry, const bool *drop_removal,
                const char *add_line, char **ret, size_t *ret_size)
{
        char *buf = NULL;
        size_t size = 0;

        FILE *out = open_memstream(&buf, &size);
        if (!out)
                return -ENOMEM;

        fputs("# Local service overrides, managed by portd (portctl set/unset).\n"
              "# Lines are rewritten in order on every change; comments are not kept.\n", out);
        size_t e = 0, m = 0;
        while ((f && e < f->n_entries) || (f && m < f->n_removals)) {
                bool take_entry = m >= f->n_removals ||
                        (e < f->n_entries && f->entries[e].line < f->removals[m].line);
                if (take_entry) {
                        const ServiceEntry *x = &f->entries[e];
                        if (!drop_entry[e]) {
                                fprintf(out, "%s %u/%s", x->name, x->port, x->protocol);
                                for (size_t i = 0; i < x->n_aliases; i++)
                                        fprintf(out, " %s", x->aliases[i]);
                                fputc('\n', out);
                        }
                        e++;
                } else {
                        const ServiceRemoval *x = &f->removals[m];
                        if (!drop_removal[m])
                                fprintf(out, "!%s%s%s\n", x->name, x->protocol ? "/" : "", x->protocol ?: "");
                        m++;
                }
        }
        if (add_line)
                fputs(add_line, out);

        /* A memory stream fails only for want of memory. */
        if (ferror(out) | (fclose(out) != 0)) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

/* Replaces full with text, atomically and durably: a temporary file in the same directory,
 * written and fsync()ed, renamed over full, then the directory fsync()ed so that the rename
 * itself survives a crash.  On any failure (disk full, read-only file system) the temporary file
 * is removed and full is left exactly as it was. */
static int overrides_replace(const char *full, const char *text, size_t size)
{
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        int r;

        r = mkdir_parents(full);
        if (r < 0)
                return r;
        dir = strdup(full);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = '\0';
        dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;

        /* A dot name: nobody mistakes it for the overrides, and the catalog never reads it. */
        if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, strrchr(full, '/') + 1) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        r = write_full_fd(fd, text, size);
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno; /* NFS reports write errors only here */
        if (r >= 0 && rename(tmp, full) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        /* The new file is in place; a failed directory sync only weakens durability, and saying
         * the edit failed now would be wrong. */
        (void) fsync(dfd);
        return 0;
}

static int overrides_read(const char *root, const char *path, ServicesFile **ret)
{
        int r = services_file_load(root, path, CATALOG_LAYER_OVERRIDE, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

static int overrides_edit(const char *root, const char *path, const char *name, const char *protocol,
                bool removals_too, const char *add_line)
{
        _cleanup_(services_file_freep) ServicesFile *f = NULL;
        _cleanup_free_ bool *drop_entry = NULL, *drop_removal = NULL;
        _cleanup_free_ char *full = NULL;
        int r, dropped = 0;

        full = path_join_root(root, path);
        if (!full)
                return -ENOMEM;
        r = overrides_read(root, path, &f);
        if (r < 0)
                return r;

        size_t ne = f ? f->n_entries : 0, nr = f ? f->n_removals : 0;
        drop_entry = calloc(ne + 1, sizeof(bool));
        drop_removal = calloc(nr + 1, sizeof(bool));
        if (!drop_entry || !drop_removal)
                return -ENOMEM;
        for (size_t i = 0; i < ne; i++)
                if (streq(f->entries[i].name, name) && (!protocol || streq(f->entries[i].protocol, protocol))) {
                        drop_entry[i] = true;
                        dropped++;
                }
        for (size_t i = 0; removals_too && i < nr; i++)
                if (streq(f->removals[i].name, name) &&
                    (!protocol || streq_ptr(f->removals[i].protocol, protocol))) {
                        drop_removal[i] = true;
                        dropped++;
                }

        if (!add_line && dropped == 0)
                return 0;
        _cleanup_free_ char *text = NULL;
        size_t size;
        r = overrides_render(f, drop_entry, drop_removal, add_line, &text, &size);
        if (r < 0)
                return r;
        r = overrides_replace(full, text, size);
        return r < 0 ? r : dropped;
}

int overrides_set(const char *root, const char *path, const char *name, const char *protocol, uint16_t port,
                char *const *aliases)
{
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        assert(path);
        assert(name);

        if (!service_name_is_valid(name) || !service_protocol_is_valid(protocol))
                return -EINVAL;
        for (char *const *a = aliases; a && *a; a++, n++)
                if (!service_name_is_valid(*a) || n >= SERVICE_ALIASES_MAX)
                        return -EINVAL;

        if (asprintf(&line, "%s %u/%s", name, port, protocol) < 0)
                return -ENOMEM;
        for (char *const *a = aliases; a && *a; a++) {
                char *l;
                if (asprintf(&l, "%s %s", line, *a) < 0)
                        return -ENOMEM;
                free(line);
                line = l;
        }
        char *l;
        if (asprintf(&l, "%s\n", line) < 0)
                return -ENOMEM;
        free(line);
        line = l;

        int r = overrides_edit(root, path, name, protocol, false, line);
        return r < 0 ? r : 0;
}

int overrides_unset(const char *root, const char *path, const char *name, const char *protocol)
{
        assert(path);
        assert(name);

        if (!service_name_is_valid(name) || (protocol && !service_protocol_is_valid(protocol)))
                return -EINVAL;
        return overrides_edit(root, path, name, protocol, true, NULL);
}

int overrides_remove_temporaries(const char *root)
{
        int removed = 0;

        for (const char *const *p = overrides_paths; *p; p++) {
                _cleanup_free_ char *full = path_join_root(root, *p), *prefix = NULL;
                if (!full)
                        return -ENOMEM;
                char *slash = strrchr(full, '/');
                /* The names overrides_replace() gives them: ".overrides.conf.XXXXXX". */
                if (asprintf(&prefix, ".%s.", slash + 1) < 0)
                        return -ENOMEM;
                *slash = '\0';
                int r = unlink_temporaries(*full ? full : "/", prefix, NULL);
                if (r > 0)
                        removed += r;
        }
        return removed;
}
