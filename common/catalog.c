/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The catalog: reads /etc/services and the services.d drop-ins, merges them as
 * docs/ARCHITECTURE.md "Sources and how they merge" says, keeps the provenance of every
 * entry and of every definition that lost, and indexes the result for lookups. */

#include <assert.h>
#include <dirent.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "catalog.h"
#include "name-escape.h"
#include "catalog-export.h"
#include "overrides.h"
#include "root-path.h"
#include "snapshot-build.h"
#include "util.h"

/* A services file larger than this is refused rather than read into memory: the IANA
 * registry in services(5) form is under 1 MiB. */
#define SERVICES_FILE_MAX (64u * 1024u * 1024u)

const char *const catalog_dropin_dirs[] = {
        "/usr/lib/services.d",
        "/run/services.d",
        "/etc/services.d",
        NULL,
};

/* As io.portd.Services declares the enum: its values are identifiers, "dropin" and not
 * "drop-in".  Status shows them, and so does portctl status. */
static const char *const layer_names[_CATALOG_LAYER_MAX] = {
        [CATALOG_LAYER_BASE] = "base",
        [CATALOG_LAYER_DROPIN] = "dropin",
        [CATALOG_LAYER_OVERRIDE] = "override",
        [CATALOG_LAYER_SCOPE] = "scope",
};

const char *catalog_layer_to_string(CatalogLayer l)
{
        return l >= 0 && l < _CATALOG_LAYER_MAX ? layer_names[l] : NULL;
}

static const char *const level_names[_DIAGNOSTIC_LEVEL_MAX] = {
        [DIAGNOSTIC_ERROR] = "error",
        [DIAGNOSTIC_WARNING] = "warning",
        [DIAGNOSTIC_NOTICE] = "notice",
};

const char *catalog_source_error_to_string(int error)
{
        switch (error < 0 ? -error : error) {
        case ENOLINK:
                return "a symbolic link to nothing";
        case ELOOP:
                return "a symbolic link in a loop, or too many levels of them";
        case EISDIR:
                return "a directory";
        case EBADFD:
                return "not a regular file (a FIFO, socket or device)";
        default:
                return strerror(error < 0 ? -error : error);
        }
}

const char *diagnostic_level_to_string(DiagnosticLevel l)
{
        return l >= 0 && l < _DIAGNOSTIC_LEVEL_MAX ? level_names[l] : NULL;
}

static void strv_free(char **l)
{
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

static void service_entry_done(ServiceEntry *e)
{
        free(e->name);
        free(e->protocol);
        strv_free(e->aliases);
}

static int service_entry_copy(ServiceEntry *dst, const char *name, const char *protocol, uint16_t port,
                const char *const *aliases, size_t n_aliases)
{
        *dst = (ServiceEntry) { .port = port, .n_aliases = n_aliases };
        dst->name = strdup(name);
        dst->protocol = strdup(protocol);
        dst->aliases = calloc(n_aliases + 1, sizeof(char *));
        if (!dst->name || !dst->protocol || !dst->aliases)
                goto fail;
        for (size_t i = 0; i < n_aliases; i++) {
                dst->aliases[i] = strdup(aliases[i]);
                if (!dst->aliases[i])
                        goto fail;
        }
        return 0;
fail:
        service_entry_done(dst);
        *dst = (ServiceEntry) {};
        return -ENOMEM;
}

ServicesFile *services_file_free(ServicesFile *f)
{
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_entries; i++)
                service_entry_done(&f->entries[i]);
        free(f->entries);
        for (size_t i = 0; i < f->n_removals; i++) {
                free(f->removals[i].name);
                free(f->removals[i].protocol);
        }
        free(f->removals);
        for (size_t i = 0; i < f->n_diagnostics; i++)
                free(f->diagnostics[i].message);
        free(f->diagnostics);
        free(f->path);
        return mfree(f);
}

static void services_file_freep(ServicesFile **f)
{
        services_file_free(*f);
}

typedef struct FileParseState {
        ServicesFile *file;
        size_t entries_allocated, removals_allocated, diagnostics_allocated;
} FileParseState;

static int file_add_invalid(void *userdata, unsigned line, const char *reason)
{
        FileParseState *st = userdata;
        ServicesFile *f = st->file;

        if (GROW(f->diagnostics, st->diagnostics_allocated, f->n_diagnostics + 1) < 0)
                return -ENOMEM;
        char *m;
        if (asprintf(&m, "%s, line skipped", reason) < 0)
                return -ENOMEM;
        f->diagnostics[f->n_diagnostics++] = (FileDiagnostic) { .line = line, .message = m };
        return 0;
}

static int file_add_record(void *userdata, const ServiceRecord *rec)
{
        FileParseState *st = userdata;
        ServicesFile *f = st->file;

        if (rec->kind == SERVICE_RECORD_REMOVAL) {
                if (GROW(f->removals, st->removals_allocated, f->n_removals + 1) < 0)
                        return -ENOMEM;
                ServiceRemoval *rm = &f->removals[f->n_removals];
                *rm = (ServiceRemoval) { .line = rec->line };
                rm->name = strdup(rec->name);
                rm->protocol = rec->protocol ? strdup(rec->protocol) : NULL;
                if (!rm->name || (rec->protocol && !rm->protocol)) {
                        free(rm->name);
                        free(rm->protocol);
                        return -ENOMEM;
                }
                f->n_removals++;
                return 0;
        }

        /* The snapshot counts an entry's aliases in 16 bits.  glibc would serve such a line (its
         * buffer grows); we cannot, and one line must not fail the whole merge (every other file's
         * changes would be held back, and status would show nothing): it is skipped, and reported. */
        if (rec->n_aliases > SERVICE_ALIASES_SERVED_MAX) {
                char reason[96];
                (void) snprintf(reason, sizeof(reason), "%zu aliases, more than the %u that can be served",
                        rec->n_aliases, SERVICE_ALIASES_SERVED_MAX);
                return file_add_invalid(userdata, rec->line, reason);
        }

        if (GROW(f->entries, st->entries_allocated, f->n_entries + 1) < 0)
                return -ENOMEM;
        ServiceEntry *e = &f->entries[f->n_entries];
        if (service_entry_copy(e, rec->name, rec->protocol, rec->port, rec->aliases, rec->n_aliases) < 0)
                return -ENOMEM;
        e->line = rec->line;
        f->n_entries++;
        return 0;
}

int services_file_new_empty(const char *path, CatalogLayer layer, bool masked, int error, ServicesFile **ret)
{
        assert(path);
        assert(ret);

        ServicesFile *f = calloc(1, sizeof(ServicesFile));
        if (!f)
                return -ENOMEM;
        f->path = strdup(path);
        if (!f->path) {
                free(f);
                return -ENOMEM;
        }
        f->layer = layer;
        f->masked = masked;
        f->error = error;
        *ret = f;
        return 0;
}

int services_file_parse(const char *path, CatalogLayer layer, const char *data, size_t size,
                ServicesFile **ret)
{
        _cleanup_(services_file_freep) ServicesFile *f = NULL;
        int r;

        assert(path);
        assert(ret);

        r = services_file_new_empty(path, layer, false, 0, &f);
        if (r < 0)
                return r;

        FileParseState st = { .file = f };
        static const ServicesParseCallbacks callbacks = {
                .record = file_add_record,
                .invalid = file_add_invalid,
        };
        /* "!" removals mean something only above the base file: in /etc/services glibc reads
         * "!name 1/tcp" as a service called "!name", and so do we. */
        r = services_parse_buffer(data, size, layer == CATALOG_LAYER_BASE ? 0 : SERVICES_PARSE_REMOVALS,
                        &callbacks, &st);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(f);
        return 0;
}

int services_file_load(const char *root, const char *path, CatalogLayer layer, ServicesFile **ret)
{
        _cleanup_free_ char *data = NULL;
        ServicesFile *f;
        struct stat st = {};
        size_t size = 0;
        int r;

        assert(path);
        assert(ret);

        r = read_file_at_root(root, path, SERVICES_FILE_MAX, &data, &size, &st);
        /* Absent, or a symbolic link to nothing: only the first is a file that went away. */
        if (r == -ENOENT && stat_at_root(root, path, false, &st) >= 0)
                return -ENOLINK;
        if (r < 0)
                return r;

        r = services_file_parse(path, layer, data, size, &f);
        if (r < 0)
                return r;

        f->stamp = file_stamp(&st);
        *ret = f;
        return 0;
}

void dropin_files_free(DropinFile *d, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(d[i].name);
                free(d[i].path);
                strv_free(d[i].hidden);
        }
        free(d);
}

static int dropin_compare(const void *a, const void *b)
{
        return strcmp(((const DropinFile *) a)->name, ((const DropinFile *) b)->name);
}

static bool dropin_is_masked(int dirfd, const char *name, const struct stat *st)
{
        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX];
                ssize_t k = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (k < 0)
                        return false;
                target[k] = '\0';
                return streq(target, "/dev/null");
        }
        return S_ISREG(st->st_mode) && st->st_size == 0;
}

static int strv_push(char ***l, const char *s)
{
        size_t n = 0;
        if (*l)
                while ((*l)[n])
                        n++;
        char **p = realloc(*l, (n + 2) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        *l = p;
        p[n] = strdup(s);
        if (!p[n])
                return -ENOMEM;
        p[n + 1] = NULL;
        return 0;
}

int catalog_discover_files(const char *root, const char *const *dirs, const char *suffix, CatalogLayer layer,
                DropinFile **ret, size_t *ret_n)
{
        DropinFile *files = NULL;
        size_t n = 0, allocated = 0, suffix_len = strlen(suffix);
        int r = 0;

        assert(suffix);
        assert(ret);
        assert(ret_n);

        /* Lowest precedence first: a same-named file found later hides the one found earlier. */
        for (const char *const *dir = dirs; *dir; dir++) {
                DIR *d = opendir_at_root(root, *dir);
                if (!d) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        r = -errno;
                        goto fail;
                }

                struct dirent *de;
                while ((de = readdir(d))) {
                        size_t len = strlen(de->d_name);
                        struct stat st;

                        if (de->d_name[0] == '.' || len <= suffix_len || !streq(de->d_name + len - suffix_len, suffix))
                                continue;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue; /* gone since readdir() */
                        /* Whatever else has the name of a drop-in is one, of whatever type: a
                         * FIFO, a directory, a symbolic link that leads nowhere or in a loop is a
                         * file that cannot be read, which keeps its last good state and is
                         * reported, not one that silently went away.  The link is not followed
                         * here: reading it does, inside --root (open_at_root()). */
                        bool masked = dropin_is_masked(dirfd(d), de->d_name, &st);

                        char *path;
                        if (asprintf(&path, "%s/%s", *dir, de->d_name) < 0) {
                                closedir(d);
                                r = -ENOMEM;
                                goto fail;
                        }

                        DropinFile *existing = NULL;
                        for (size_t i = 0; i < n; i++)
                                if (streq(files[i].name, de->d_name))
                                        existing = &files[i];
                        if (existing) {
                                r = strv_push(&existing->hidden, existing->path);
                                if (r < 0) {
                                        free(path);
                                        closedir(d);
                                        goto fail;
                                }
                                free(existing->path);
                                existing->path = path;
                                existing->masked = masked;
                                continue;
                        }

                        if (GROW(files, allocated, n + 1) < 0) {
                                free(path);
                                closedir(d);
                                r = -ENOMEM;
                                goto fail;
                        }
                        files[n] = (DropinFile) {
                                .name = strdup(de->d_name), .path = path, .masked = masked,
                                .layer = layer,
                        };
                        if (!files[n].name) {
                                free(path);
                                closedir(d);
                                r = -ENOMEM;
                                goto fail;
                        }
                        n++;
                }
                closedir(d);
        }

        if (n > 0)
                qsort(files, n, sizeof(DropinFile), dropin_compare);
        *ret = files;
        *ret_n = n;
        return 0;
fail:
        dropin_files_free(files, n);
        return r;
}

int catalog_discover_dropins(const char *root, DropinFile **ret, size_t *ret_n)
{
        assert(ret);
        assert(ret_n);

        return catalog_discover_files(root, catalog_dropin_dirs, ".conf", CATALOG_LAYER_DROPIN, ret, ret_n);
}

/* A small open-addressing map from (string, string-or-NULL) to a (source, line) pair, used
 * only while merging. The strings are borrowed from the files being merged. */
typedef struct KeySlot {
        const char *a, *b;
        uint32_t num; /* a third key part: the port, for the port map */
        uint32_t source, line;
        bool used;
} KeySlot;

typedef struct KeyMap {
        KeySlot *slots;
        size_t n_slots, n_used;
} KeyMap;

static uint64_t key_hash(const char *a, const char *b, uint32_t num)
{
        uint64_t h = 1469598103934665603ull ^ ((uint64_t) num << 20);
        for (const unsigned char *p = (const unsigned char *) a; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        h = (h ^ (b ? 0u : 1u)) * 1099511628211ull;
        if (b)
                for (const unsigned char *p = (const unsigned char *) b; *p; p++)
                        h = (h ^ *p) * 1099511628211ull;
        return h ^ (h >> 29);
}

static KeySlot *keymap_find_num(const KeyMap *m, const char *a, const char *b, uint32_t num)
{
        if (m->n_slots == 0)
                return NULL;
        for (size_t i = key_hash(a, b, num) & (m->n_slots - 1);; i = (i + 1) & (m->n_slots - 1)) {
                KeySlot *s = &m->slots[i];
                if (!s->used)
                        return NULL;
                if (s->num == num && streq(s->a, a) && streq_ptr(s->b, b))
                        return s;
        }
}

static KeySlot *keymap_find(const KeyMap *m, const char *a, const char *b)
{
        return keymap_find_num(m, a, b, 0);
}

/* Adds the key unless present; the first (source, line) stays. */
static int keymap_put_num(KeyMap *m, const char *a, const char *b, uint32_t num, uint32_t source, uint32_t line)
{
        if ((m->n_used + 1) * 2 > m->n_slots) {
                size_t n = m->n_slots ? m->n_slots * 2 : 64;
                KeySlot *slots = calloc(n, sizeof(KeySlot));
                if (!slots)
                        return -ENOMEM;
                for (size_t i = 0; i < m->n_slots; i++) {
                        KeySlot *s = &m->slots[i];
                        if (!s->used)
                                continue;
                        size_t j = key_hash(s->a, s->b, s->num) & (n - 1);
                        while (slots[j].used)
                                j = (j + 1) & (n - 1);
                        slots[j] = *s;
                }
                free(m->slots);
                m->slots = slots;
                m->n_slots = n;
        }

        size_t i = key_hash(a, b, num) & (m->n_slots - 1);
        for (; m->slots[i].used; i = (i + 1) & (m->n_slots - 1))
                if (m->slots[i].num == num && streq(m->slots[i].a, a) && streq_ptr(m->slots[i].b, b))
                        return 0;
        m->slots[i] = (KeySlot) { .a = a, .b = b, .num = num, .source = source, .line = line, .used = true };
        m->n_used++;
        return 1;
}

static int keymap_put(KeyMap *m, const char *a, const char *b, uint32_t source, uint32_t line)
{
        return keymap_put_num(m, a, b, 0, source, line);
}

static void keymap_done(KeyMap *m)
{
        free(m->slots);
        *m = (KeyMap) {};
}

Catalog *catalog_free(Catalog *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_sources; i++)
                free(c->sources[i].path);
        free(c->sources);
        for (size_t i = 0; i < c->n_entries; i++)
                service_entry_done(&c->entries[i]);
        free(c->entries);
        for (size_t i = 0; i < c->n_shadows; i++)
                service_entry_done(&c->shadows[i].entry);
        free(c->shadows);
        for (size_t i = 0; i < c->n_diagnostics; i++)
                free(c->diagnostics[i].message);
        free(c->diagnostics);
        free(c->index_image);
        return mfree(c);
}

static void catalog_freep(Catalog **c)
{
        catalog_free(*c);
}

typedef struct CatalogBuilder {
        Catalog *c;
        size_t entries_allocated, shadows_allocated, diagnostics_allocated;
} CatalogBuilder;

static int _printf_(5, 6) builder_diagnose(CatalogBuilder *b, DiagnosticLevel level, uint32_t source,
                uint32_t line, const char *fmt, ...)
{
        Catalog *c = b->c;
        va_list ap;
        char *m;
        int k;

        if (GROW(c->diagnostics, b->diagnostics_allocated, c->n_diagnostics + 1) < 0)
                return -ENOMEM;
        va_start(ap, fmt);
        k = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        c->diagnostics[c->n_diagnostics++] = (CatalogDiagnostic) {
                .level = level, .source = source, .line = line, .message = m
        };
        return 0;
}

/* glibc takes any bytes but white space as a name, and so do we (the snapshot carries them as they
 * are), but varlink is JSON: there such a name is escaped (name-escape.h), which whoever reads it
 * there must know.  A warning, with the line, not an error: the entry is served. */
static int builder_diagnose_unplain(CatalogBuilder *b, uint32_t source, const ServiceEntry *e)
{
        const char *what = NULL;

        if (!name_is_plain(e->name, NAME_ESCAPE_BACKSLASH))
                what = e->name;
        else if (!name_is_plain(e->protocol, NAME_ESCAPE_BACKSLASH))
                what = e->protocol;
        for (size_t i = 0; !what && i < e->n_aliases; i++)
                if (!name_is_plain(e->aliases[i], NAME_ESCAPE_BACKSLASH))
                        what = e->aliases[i];
        if (!what)
                return 0;

        _cleanup_free_ char *shown = name_escape(what, NAME_ESCAPE_BACKSLASH);
        if (!shown)
                return -ENOMEM;
        return builder_diagnose(b, DIAGNOSTIC_WARNING, source, e->line,
                "'%s' is not plain UTF-8 (bytes that are not, control characters or a backslash): "
                "served as it is through the NSS module, with those bytes as \\xNN over varlink",
                shown);
}

static int builder_add_shadow(CatalogBuilder *b, const ServiceEntry *e, uint32_t source, uint32_t by_source,
                uint32_t by_line, bool removed)
{
        Catalog *c = b->c;

        if (GROW(c->shadows, b->shadows_allocated, c->n_shadows + 1) < 0)
                return -ENOMEM;
        CatalogShadow *s = &c->shadows[c->n_shadows];
        *s = (CatalogShadow) { .by_source = by_source, .by_line = by_line, .removed = removed };
        if (service_entry_copy(&s->entry, e->name, e->protocol, e->port, (const char *const *) e->aliases,
                            e->n_aliases) < 0)
                return -ENOMEM;
        s->entry.source = source;
        s->entry.line = e->line;
        c->n_shadows++;
        return 0;
}

static int builder_add_entry(CatalogBuilder *b, const ServiceEntry *e, uint32_t source)
{
        Catalog *c = b->c;

        if (GROW(c->entries, b->entries_allocated, c->n_entries + 1) < 0)
                return -ENOMEM;
        ServiceEntry *d = &c->entries[c->n_entries];
        if (service_entry_copy(d, e->name, e->protocol, e->port, (const char *const *) e->aliases,
                            e->n_aliases) < 0)
                return -ENOMEM;
        d->source = source;
        d->line = e->line;
        c->n_entries++;
        c->sources[source].n_entries++;
        return 0;
}

/* Warns where two files name one port/protocol differently: a lookup by port answers only the
 * first of them, which is rarely what both authors meant. */
static int builder_warn_port_conflicts(CatalogBuilder *b)
{
        Catalog *c = b->c;
        KeyMap seen = {};
        int r = 0;

        for (size_t i = 0; i < c->n_entries; i++) {
                const ServiceEntry *e = &c->entries[i];
                KeySlot *s = keymap_find_num(&seen, "", e->protocol, e->port);
                if (!s) {
                        r = keymap_put_num(&seen, "", e->protocol, e->port, (uint32_t) i, 0);
                        if (r < 0)
                                break;
                        continue;
                }
                const ServiceEntry *first = &c->entries[s->source];
                if (first->source == e->source || streq(first->name, e->name))
                        continue;
                r = builder_diagnose(b, DIAGNOSTIC_WARNING, e->source, e->line,
                                "port %u/%s is also named '%s' by %s:%u, which lookups by port answer", e->port,
                                e->protocol, first->name, c->sources[first->source].path, first->line);
                if (r < 0)
                        break;
        }
        keymap_done(&seen);
        return r < 0 ? r : 0;
}

int catalog_build(ServicesFile *const *files, size_t n_files, Catalog **ret)
{
        _cleanup_(catalog_freep) Catalog *c = NULL;
        KeyMap claimed = {}, removed = {}, used_removals = {};
        CatalogBuilder b = {};
        int r;

        assert(ret);

        c = calloc(1, sizeof(Catalog));
        if (!c)
                return -ENOMEM;
        b.c = c;

        c->sources = calloc(n_files ? n_files : 1, sizeof(CatalogSource));
        if (!c->sources)
                return -ENOMEM;
        for (size_t i = 0; i < n_files; i++) {
                c->sources[i] = (CatalogSource) {
                        .path = strdup(files[i]->path),
                        .layer = files[i]->layer,
                        .masked = files[i]->masked,
                        .error = files[i]->error,
                };
                c->n_sources++;
                if (!c->sources[i].path)
                        return -ENOMEM;
        }

        /* Skipped lines and unreadable files, in file order. */
        for (size_t i = 0; i < n_files; i++) {
                const ServicesFile *f = files[i];
                if (f->error < 0) {
                        r = builder_diagnose(&b, DIAGNOSTIC_ERROR, (uint32_t) i, 0, "cannot be read: %s",
                                        catalog_source_error_to_string(f->error));
                        if (r < 0)
                                goto out;
                }
                for (size_t j = 0; j < f->n_diagnostics; j++) {
                        r = builder_diagnose(&b, DIAGNOSTIC_ERROR, (uint32_t) i, f->diagnostics[j].line, "%s",
                                        f->diagnostics[j].message);
                        if (r < 0)
                                goto out;
                }
                for (size_t j = 0; j < f->n_entries; j++) {
                        r = builder_diagnose_unplain(&b, (uint32_t) i, &f->entries[j]);
                        if (r < 0)
                                goto out;
                }
        }

        /* Walk from the highest layer down. Each file keeps what no higher file replaced or
         * removed, in its own line order; the files' survivors follow each other top-down, so a
         * higher layer also wins lookups by port and by alias. */
        for (size_t k = n_files; k-- > 0;) {
                const ServicesFile *f = files[k];
                KeyMap local = {};
                r = 0;

                for (size_t j = 0; j < f->n_entries; j++) {
                        const ServiceEntry *e = &f->entries[j];
                        KeySlot *s = keymap_find(&claimed, e->name, e->protocol);

                        if (s) {
                                r = builder_add_shadow(&b, e, (uint32_t) k, s->source, s->line, false);
                                if (r >= 0)
                                        r = builder_diagnose(&b, DIAGNOSTIC_WARNING, s->source, s->line,
                                                        "'%s/%s' replaces the definition at %s:%u", e->name,
                                                        e->protocol, f->path, e->line);
                                if (r < 0)
                                        break;
                                continue;
                        }

                        s = keymap_find(&removed, e->name, e->protocol);
                        if (!s)
                                s = keymap_find(&removed, e->name, NULL);
                        if (s) {
                                r = builder_add_shadow(&b, e, (uint32_t) k, s->source, s->line, true);
                                if (r >= 0)
                                        r = keymap_put(&used_removals, s->a, s->b, s->source, s->line);
                                if (r < 0)
                                        break;
                                continue;
                        }

                        /* A second line of the same file: glibc's first line wins lookups by name,
                         * but the later line is still enumerated, so it stays in the catalog and
                         * explain lists it as shadowed. */
                        s = keymap_find(&local, e->name, e->protocol);
                        if (s)
                                r = builder_add_shadow(&b, e, (uint32_t) k, s->source, s->line, false);
                        else
                                r = keymap_put(&local, e->name, e->protocol, (uint32_t) k, e->line);
                        if (r >= 0)
                                r = builder_add_entry(&b, e, (uint32_t) k);
                        if (r < 0)
                                break;
                }
                keymap_done(&local);
                if (r < 0)
                        goto out;

                /* Only now: a file's own entries and removals do not act on itself. Nothing lies
                 * below the lowest file, so its keys need no claiming. */
                if (k == 0)
                        break;
                for (size_t j = 0; j < f->n_entries; j++) {
                        r = keymap_put(&claimed, f->entries[j].name, f->entries[j].protocol, (uint32_t) k,
                                        f->entries[j].line);
                        if (r < 0)
                                goto out;
                }
                for (size_t j = 0; j < f->n_removals; j++) {
                        r = keymap_put(&removed, f->removals[j].name, f->removals[j].protocol, (uint32_t) k,
                                        f->removals[j].line);
                        if (r < 0)
                                goto out;
                }
        }

        for (size_t k = 0; k < n_files; k++)
                for (size_t j = 0; j < files[k]->n_removals; j++) {
                        const ServiceRemoval *rm = &files[k]->removals[j];
                        if (keymap_find(&used_removals, rm->name, rm->protocol))
                                continue;
                        r = builder_diagnose(&b, DIAGNOSTIC_WARNING, (uint32_t) k, rm->line,
                                        "'!%s%s%s' removes nothing from the files below it", rm->name,
                                        rm->protocol ? "/" : "", rm->protocol ?: "");
                        if (r < 0)
                                goto out;
                }

        r = builder_warn_port_conflicts(&b);
        if (r < 0)
                goto out;

        /* Over the merged entries as lookups see them, so two daemons serving the same answers
         * report the same digest whatever files they came from. */
        r = catalog_digest(c, c->digest);
        if (r < 0)
                goto out;

        r = snapshot_build(c, 0, &c->index_image, &c->index_size);
        if (r < 0)
                goto out;
        r = snapshot_open(c->index_image, c->index_size, &c->index);
        if (r < 0)
                goto out;

        *ret = TAKE_PTR(c);
        r = 0;
out:
        keymap_done(&claimed);
        keymap_done(&removed);
        keymap_done(&used_removals);
        return r;
}

int catalog_discover_sources(const char *root, DropinFile **ret, size_t *ret_n)
{
        DropinFile *dropins = NULL, *all = NULL;
        size_t n_dropins = 0, n = 0;
        int r;

        assert(ret);
        assert(ret_n);

        r = catalog_discover_dropins(root, &dropins, &n_dropins);
        if (r < 0)
                return r;

        all = calloc(n_dropins + 3, sizeof(DropinFile)); /* base, drop-ins, two override files */
        if (!all) {
                dropin_files_free(dropins, n_dropins);
                return -ENOMEM;
        }

        all[n++] = (DropinFile) { .name = strdup("services"), .path = strdup(CATALOG_BASE_PATH) };
        if (n_dropins > 0)
                memcpy(all + n, dropins, n_dropins * sizeof(DropinFile));
        n += n_dropins;
        free(dropins);

        for (const char *const *p = overrides_paths; *p; p++) {
                struct stat st;
                if (stat_at_root(root, *p, false, &st) < 0)
                        continue;
                all[n++] = (DropinFile) {
                        .name = strdup(strrchr(*p, '/') + 1), .path = strdup(*p), .layer = CATALOG_LAYER_OVERRIDE
                };
        }

        for (size_t i = 0; i < n; i++)
                if (!all[i].name || !all[i].path) {
                        r = -ENOMEM;
                        goto fail;
                }

        *ret = all;
        *ret_n = n;
        return 0;
fail:
        dropin_files_free(all, n);
        return r;
}

void services_files_free(ServicesFile **files, size_t n)
{
        for (size_t i = 0; i < n; i++)
                services_file_free(files[i]);
        free(files);
}

int catalog_load_listed(const char *root, const DropinFile *sources, size_t n_sources, ServicesFile ***ret,
                size_t *ret_n)
{
        ServicesFile **files = NULL;
        size_t n_files = 0;
        int r = 0;

        assert(ret);
        assert(ret_n);

        files = calloc(n_sources ? n_sources : 1, sizeof(ServicesFile *));
        if (!files)
                return -ENOMEM;

        for (size_t i = 0; i < n_sources; i++) {
                const DropinFile *s = &sources[i];
                if (s->masked)
                        r = services_file_new_empty(s->path, s->layer, true, 0, &files[n_files]);
                else {
                        r = services_file_load(root, s->path, s->layer, &files[n_files]);
                        /* A missing /etc/services is an empty base, as glibc sees it; any other
                         * failure is reported against the file. */
                        if (r < 0 && r != -ENOMEM)
                                r = services_file_new_empty(s->path, s->layer, false, r == -ENOENT ? 0 : r,
                                                &files[n_files]);
                }
                if (r < 0) {
                        services_files_free(files, n_files);
                        return r;
                }
                n_files++;
        }

        *ret = files;
        *ret_n = n_files;
        return 0;
}

int catalog_load_files(const char *root, ServicesFile ***ret, size_t *ret_n)
{
        DropinFile *sources = NULL;
        size_t n_sources = 0;
        int r;

        assert(ret);
        assert(ret_n);

        r = catalog_discover_sources(root, &sources, &n_sources);
        if (r < 0)
                return r;
        r = catalog_load_listed(root, sources, n_sources, ret, ret_n);
        dropin_files_free(sources, n_sources);
        return r;
}

int catalog_load(const char *root, Catalog **ret)
{
        ServicesFile **files = NULL;
        size_t n_files = 0;
        int r;

        assert(ret);

        r = catalog_load_files(root, &files, &n_files);
        if (r < 0)
                return r;
        r = catalog_build(files, n_files, ret);
        services_files_free(files, n_files);
        return r;
}

const ServiceEntry *catalog_lookup_by_name(const Catalog *c, const char *name, const char *protocol)
{
        SnapshotEntry e;

        assert(c);
        assert(name);

        if (snapshot_lookup_name(&c->index, name, protocol, &e) < 0 || e.index >= c->n_entries)
                return NULL;
        return &c->entries[e.index];
}

const ServiceEntry *catalog_lookup_by_port(const Catalog *c, uint16_t port, const char *protocol)
{
        SnapshotEntry e;

        assert(c);

        if (snapshot_lookup_port(&c->index, port, protocol, &e) < 0 || e.index >= c->n_entries)
                return NULL;
        return &c->entries[e.index];
}

int catalog_explain(const Catalog *c, const char *name, const char *protocol, const ServiceEntry **ret_winner,
                const CatalogShadow ***ret_shadows, size_t *ret_n_shadows)
{
        const CatalogShadow **list = NULL;
        size_t n = 0;

        assert(c);
        assert(name);

        /* Explain is for people, not the lookup path: a scan of the losers is fine here. */
        for (size_t i = 0; i < c->n_shadows; i++) {
                const CatalogShadow *s = &c->shadows[i];
                if (!streq(s->entry.name, name) || (protocol && !streq(s->entry.protocol, protocol)))
                        continue;
                const CatalogShadow **p = realloc(list, (n + 1) * sizeof(*list));
                if (!p) {
                        free(list);
                        return -ENOMEM;
                }
                list = p;
                list[n++] = s;
        }

        *ret_winner = catalog_lookup_by_name(c, name, protocol);
        *ret_shadows = list;
        *ret_n_shadows = n;
        return 0;
}
