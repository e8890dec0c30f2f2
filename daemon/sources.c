/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sources of a merge as the daemon last saw them: each file read (keeping its last good state
 * when it cannot be read), the host's list as discovered, and a catalog built from a list.  A leaf
 * of the daemon: it knows nothing of the Manager, scopes.c and manager.c build on it. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

static void source_state_done(SourceState *s)
{
        free(s->path);
        services_file_free(s->file);
        *s = (SourceState){};
}

/* Frees states, except the parsed files that keep also references (those moved on). */
void source_states_free(SourceState *states, size_t n, const SourceState *keep, size_t n_keep)
{
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; states[i].file && j < n_keep; j++)
                        if (keep[j].file == states[i].file)
                                states[i].file = NULL;
                source_state_done(&states[i]);
        }
        free(states);
}

const SourceState *source_states_find(const SourceState *states, size_t n, const char *path)
{
        assert(path);

        for (size_t i = 0; i < n; i++)
                if (streq(states[i].path, path))
                        return &states[i];
        return NULL;
}

static bool services_file_same(const ServicesFile *a, const ServicesFile *b)
{
        return a && b && file_stamp_equal(&a->stamp, &b->stamp);
}

/* Reads one source into ret.  A file that cannot be read keeps what old held (its last good
 * state); a file that is gone contributes nothing.  Only -ENOMEM fails. */
int source_load(const char *root, const SourceState *old, const char *path, CatalogLayer layer, bool masked,
        bool explicit, SourceState *ret)
{
        assert(path);
        assert(ret);

        ServicesFile *f = NULL;
        int r;

        *ret = (SourceState){ .layer = layer, .masked = masked };
        ret->path = strdup(path);
        if (!ret->path)
                return -ENOMEM;

        if (masked) {
                if (!old || !old->masked)
                        log_info("'%s' is masked.", path);
                return 0;
        }

        r = services_file_load(root, path, layer, &f);
        if (r == -ENOMEM)
                goto fail;
        if (r == -ENOENT) {
                /* Gone between listing and reading, or no /etc/services at all: nothing to serve. */
                if (old && old->file)
                        log_info("'%s' is gone, dropping its %zu entries.", path, old->file->n_entries);
                return 0;
        }
        if (r < 0) {
                ret->error = r;
                if (old && old->file) {
                        /* Borrowed: the commit decides who frees it. */
                        ret->file = old->file;
                        log_warning("Failed to read '%s': %s, keeping its last good state.", path,
                                catalog_source_error_to_string(r));
                } else
                        log_warning("Failed to read '%s': %s, ignoring.", path,
                                catalog_source_error_to_string(r));
                return 0;
        }

        /* Skipped lines are logged when a file is (re)read with new contents, or on request, not
         * on every rebuild that some other file caused. */
        if (explicit || !old || !services_file_same(old->file, f)) {
                for (size_t i = 0; i < f->n_diagnostics; i++)
                        log_warning("%s:%" PRIu32 ": %s.", path, f->diagnostics[i].line,
                                f->diagnostics[i].message);
                log_debug("Read '%s': %zu entries, %zu removals, %zu lines skipped.", path, f->n_entries,
                        f->n_removals, f->n_diagnostics);
        }
        ret->file = f;
        return 0;

fail:
        ret->path = mfree(ret->path);
        return r;
}

/* The new list of sources as catalog_discover_sources() orders them: /etc/services, the drop-ins,
 * the local override files.  Files that did not change are read again anyway: they are small, and
 * comparing stat data alone would miss a same-sized rewrite within one timestamp tick. */
int sources_load(const char *root, const SourceState *current, size_t n_current, bool explicit,
        SourceState **ret, size_t *ret_n)
{
        DropinFile *found = NULL;
        SourceState *states = NULL;
        size_t n_found = 0, n = 0;
        int r;

        assert(current || n_current == 0);
        assert(ret);
        assert(ret_n);

        r = catalog_discover_sources(root, &found, &n_found);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* A directory we cannot list: read again the sources we knew, and no others. */
                log_warning_errno(r,
                        "Failed to list the drop-in directories: %m, keeping the previous list of sources.");
                found = calloc(n_current ? n_current : 1, sizeof(DropinFile));
                if (!found)
                        return -ENOMEM;
                for (; n_found < n_current; n_found++) {
                        found[n_found] = (DropinFile){
                                .path = strdup(current[n_found].path),
                                .layer = current[n_found].layer,
                                .masked = current[n_found].masked,
                        };
                        if (!found[n_found].path) {
                                n_found++;
                                r = -ENOMEM;
                                goto out;
                        }
                }
        }

        states = calloc(n_found ? n_found : 1, sizeof(SourceState));
        if (!states) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n_found; i++) {
                r = source_load(root, source_states_find(current, n_current, found[i].path), found[i].path,
                        found[i].layer, found[i].masked, explicit, &states[n]);
                if (r < 0)
                        goto out;
                n++;
        }

        *ret = TAKE_PTR(states);
        *ret_n = n;
        r = 0;
out:
        if (states)
                /* Files borrowed from the current states stay with them. */
                source_states_free(states, n, current, n_current);
        dropin_files_free(found, n_found);
        return r;
}

int sources_build_catalog(const SourceState *states, size_t n, Catalog **ret)
{
        ServicesFile **files = NULL;
        bool *temporary = NULL;
        size_t n_files = 0;
        int r = 0;

        assert(ret);

        files = calloc(n ? n : 1, sizeof(ServicesFile *));
        temporary = calloc(n ? n : 1, sizeof(bool));
        if (!files || !temporary) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n; i++) {
                const SourceState *s = &states[i];

                if (s->file) {
                        files[n_files++] = s->file;
                        continue;
                }
                /* Masked drop-ins and unreadable files without a last good state still appear as
                 * sources, so that verify and explain can name them; a vanished drop-in does not. */
                if (!s->masked && s->error == 0 && s->layer != CATALOG_LAYER_BASE)
                        continue;
                r = services_file_new_empty(s->path, s->layer, s->masked, s->error, &files[n_files]);
                if (r < 0)
                        goto out;
                temporary[n_files++] = true;
        }

        r = catalog_build(files, n_files, ret);
out:
        for (size_t i = 0; i < n_files; i++)
                if (temporary && temporary[i])
                        services_file_free(files[i]);
        free(files);
        free(temporary);
        return r;
}

static bool service_entry_equal(const ServiceEntry *a, const ServiceEntry *b)
{
        if (!streq(a->name, b->name) || !streq(a->protocol, b->protocol) || a->port != b->port ||
                a->line != b->line || a->n_aliases != b->n_aliases)
                return false;
        for (size_t i = 0; i < a->n_aliases; i++)
                if (!streq(a->aliases[i], b->aliases[i]))
                        return false;
        return true;
}

/* Whether two parses of a file give the same catalog input.  Every reload reads every file again
 * (see sources_load()), so the objects differ each time even when nothing changed. */
static bool services_file_equal(const ServicesFile *a, const ServicesFile *b)
{
        if (a == b)
                return true;
        if (!a || !b || !streq(a->path, b->path) || a->layer != b->layer || a->masked != b->masked ||
                a->error != b->error || a->n_entries != b->n_entries || a->n_removals != b->n_removals ||
                a->n_diagnostics != b->n_diagnostics)
                return false;
        for (size_t i = 0; i < a->n_entries; i++)
                if (!service_entry_equal(&a->entries[i], &b->entries[i]))
                        return false;
        for (size_t i = 0; i < a->n_removals; i++)
                if (!streq(a->removals[i].name, b->removals[i].name) ||
                        !streq_ptr(a->removals[i].protocol, b->removals[i].protocol) ||
                        a->removals[i].line != b->removals[i].line)
                        return false;
        for (size_t i = 0; i < a->n_diagnostics; i++)
                if (a->diagnostics[i].line != b->diagnostics[i].line ||
                        !streq(a->diagnostics[i].message, b->diagnostics[i].message))
                        return false;
        return true;
}

bool source_states_equal(const SourceState *a, size_t n_a, const SourceState *b, size_t n_b)
{
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (!streq(a[i].path, b[i].path) || a[i].layer != b[i].layer || a[i].masked != b[i].masked ||
                        a[i].error != b[i].error || !services_file_equal(a[i].file, b[i].file))
                        return false;
        return true;
}
