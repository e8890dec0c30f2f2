/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON forms of catalog objects: the one place that names the fields of a Service, a shadow
 * and a diagnostic, for the daemon's varlink replies and for portctl --json alike.  Names are
 * escaped (name-escape.h), so that any bytes glibc accepts in a file still make valid JSON. */

#include <assert.h>

#include "catalog-json.h"
#include "json-util.h"
#include "util.h"

static struct json_object *source_to_json(const char *file, uint32_t line)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "file", json_string_escaped(file, 0));
        json_object_object_add(o, "line", json_object_new_int64(line));
        return o;
}

struct json_object *service_entry_to_json(const Catalog *c, const ServiceEntry *e)
{
        struct json_object *o = json_object_new_object(), *aliases = json_object_new_array();

        assert(c);
        assert(e);

        if (!o || !aliases) {
                json_object_put(o);
                json_object_put(aliases);
                return NULL;
        }
        for (size_t i = 0; i < e->n_aliases; i++)
                json_object_array_add(aliases, json_string_escaped(e->aliases[i], NAME_ESCAPE_BACKSLASH));

        json_object_object_add(o, "name", json_string_escaped(e->name, NAME_ESCAPE_BACKSLASH));
        json_object_object_add(o, "port", json_object_new_int(e->port));
        json_object_object_add(o, "protocol", json_string_escaped(e->protocol, NAME_ESCAPE_BACKSLASH));
        json_object_object_add(o, "aliases", aliases);
        json_object_object_add(o, "source",
                        source_to_json(e->source < c->n_sources ? c->sources[e->source].path : "", e->line));
        return o;
}

struct json_object *snapshot_entry_to_json(const Snapshot *s, const SnapshotEntry *e)
{
        struct json_object *o = json_object_new_object(), *aliases = json_object_new_array();

        assert(s);
        assert(e);

        if (!o || !aliases) {
                json_object_put(o);
                json_object_put(aliases);
                return NULL;
        }
        for (uint32_t i = 0; i < e->n_aliases; i++) {
                const char *a = snapshot_entry_alias(s, e, i);
                if (a)
                        json_object_array_add(aliases, json_string_escaped(a, NAME_ESCAPE_BACKSLASH));
        }
        json_object_object_add(o, "name", json_string_escaped(e->name, NAME_ESCAPE_BACKSLASH));
        json_object_object_add(o, "port", json_object_new_int(e->port));
        json_object_object_add(o, "protocol", json_string_escaped(e->protocol, NAME_ESCAPE_BACKSLASH));
        json_object_object_add(o, "aliases", aliases);
        json_object_object_add(o, "source", source_to_json(e->source, e->line));
        return o;
}

struct json_object *catalog_explain_to_json(const Catalog *c, const char *name, const char *protocol)
{
        const ServiceEntry *winner;
        const CatalogShadow **shadows = NULL;
        size_t n = 0;

        assert(c);
        assert(name);

        if (catalog_explain(c, name, protocol, &winner, &shadows, &n) < 0)
                return NULL;

        struct json_object *o = json_object_new_object(), *replaced = json_object_new_array();
        if (!o || !replaced) {
                json_object_put(o);
                json_object_put(replaced);
                free(shadows);
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                struct json_object *r = json_object_new_object();
                if (!r)
                        continue;
                json_object_object_add(r, "service", service_entry_to_json(c, &shadows[i]->entry));
                json_object_object_add(r, "by",
                                source_to_json(shadows[i]->by_source < c->n_sources
                                                               ? c->sources[shadows[i]->by_source].path
                                                               : "",
                                                shadows[i]->by_line));
                json_object_object_add(r, "removed", json_object_new_boolean(shadows[i]->removed));
                json_object_array_add(replaced, r);
        }
        free(shadows);

        json_object_object_add(o, "winner", winner ? service_entry_to_json(c, winner) : NULL);
        json_object_object_add(o, "replaced", replaced);
        return o;
}

struct json_object *catalog_diagnostics_to_json(const Catalog *c)
{
        struct json_object *o = json_object_new_object(), *list = json_object_new_array();
        size_t errors = 0, warnings = 0;

        assert(c);

        if (!o || !list) {
                json_object_put(o);
                json_object_put(list);
                return NULL;
        }
        for (size_t i = 0; i < c->n_diagnostics; i++) {
                const CatalogDiagnostic *d = &c->diagnostics[i];
                struct json_object *j = json_object_new_object();
                if (!j)
                        continue;
                json_object_object_add(j, "file",
                                json_string_escaped(d->source < c->n_sources ? c->sources[d->source].path : "", 0));
                json_object_object_add(j, "line", json_object_new_int64(d->line));
                json_object_object_add(j, "level", json_object_new_string(diagnostic_level_to_string(d->level)));
                json_object_object_add(j, "message", json_string_escaped(d->message, 0));
                json_object_array_add(list, j);
                errors += d->level == DIAGNOSTIC_ERROR;
                warnings += d->level == DIAGNOSTIC_WARNING;
        }
        json_object_object_add(o, "diagnostics", list);
        json_object_object_add(o, "errors", json_object_new_int64((int64_t) errors));
        json_object_object_add(o, "warnings", json_object_new_int64((int64_t) warnings));
        return o;
}
