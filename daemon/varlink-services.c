/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.portd.Services: the lookups, enumeration, snapshot hand-off, provenance and state of the
 * catalog, and the monitors of its generations, as daemon/io.portd.Services.varlink declares them.
 * Each method declares its parameters in a table for varlink-dispatch.c and answers from its
 * caller's CatalogImage (the scope's or the host's); the generic server (varlink-server.c) handles
 * framing and limits. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "catalog-json.h"
#include "json-util.h"
#include "daemon.h"
#include "log.h"
#include "overrides.h"
#include "varlink-dispatch.h"
#include "io.portd.Services.varlink.h"

#define SERVICES_INTERFACE      "io.portd.Services"
#define ERROR_SERVICE_NOT_FOUND SERVICES_INTERFACE ".ServiceNotFound"
#define ERROR_PERMISSION_DENIED SERVICES_INTERFACE ".PermissionDenied"
#define ERROR_RELOAD_FAILED     SERVICES_INTERFACE ".ReloadFailed"
#define ERROR_OVERRIDE_FAILED   SERVICES_INTERFACE ".OverrideFailed"
#define ERROR_CALLER_UNIDENTIFIED SERVICES_INTERFACE ".CallerUnidentified"

/* Far above any real name (the longest in the IANA registry has 74 bytes) and far below the
 * message limit. */
#define NAME_LENGTH_MAX     1024
#define PROTOCOL_LENGTH_MAX 255

/* Open Monitor calls: each holds a connection (within the server's per-UID and total limits) and
 * one reference here; this bounds what the list itself may grow to between two generations. */
#define MONITORS_MAX            128
#define ERROR_TOO_MANY_MONITORS SERVICES_INTERFACE ".TooManyMonitors"

/* {"service": ...} */
static int service_reply_parameters(const Catalog *c, const ServiceEntry *e, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = json_add(o, "service", service_entry_to_json(c, e));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* Whose catalog answers a connection: its scope's, or the host's. */
typedef struct CallerView {
        ScopeState *scope;   /* NULL: the host */
        CatalogImage *image; /* the scope's or the host's */
} CallerView;

static int caller_view(Manager *m, VarlinkConnection *conn, CallerView *ret)
{
        ScopeState *s;
        int r;

        r = scopes_for_connection(m, conn, &s);
        if (r < 0)
                return r;
        *ret = (CallerView){ .scope = s, .image = s ? &s->image : &m->image };
        return 0;
}

/* The reply to a lookup that found entry e of the current catalog.  Built once per entry and
 * catalog: constructing the object tree costs more than the lookup itself, and the same few
 * entries are asked for over and over.  The caller gets a new reference. */
static int service_reply_cached(CatalogImage *image, const ServiceEntry *e, struct json_object **ret)
{
        const Catalog *c = image->catalog;
        size_t i = (size_t) (e - c->entries);
        int r;

        if (i >= c->n_entries)
                return -EINVAL;
        if (!image->reply_cache) {
                image->reply_cache = calloc(c->n_entries ? c->n_entries : 1, sizeof(struct json_object *));
                if (!image->reply_cache)
                        return -ENOMEM;
                image->n_reply_cache = c->n_entries;
        }
        if (!image->reply_cache[i]) {
                r = service_reply_parameters(c, e, &image->reply_cache[i]);
                if (r < 0)
                        return r;
        }
        *ret = json_object_get(image->reply_cache[i]);
        return 0;
}

/* ---- parameters ---- */

/* Every method declares its parameters in a table (varlink-dispatch.h) and reads them from a struct
 * by name.  The struct is initialised with the defaults of the optional ones first. */
#define DISPATCH_OR_REPLY(conn, parameters, table, p)                                                       \
        do {                                                                                                \
                const char *_bad_ = NULL;                                                                   \
                int _r_ = varlink_dispatch((parameters), (table), ELEMENTSOF(table), (p), &_bad_);          \
                if (_r_ == -ENOMEM)                                                                         \
                        return reply_oom(conn);                                                             \
                if (_r_ < 0)                                                                                \
                        return varlink_connection_error_invalid_parameter((conn), _bad_);                   \
        } while (0)

/* For the methods that take none: any parameter is unknown. */
#define DISPATCH_NONE_OR_REPLY(conn, parameters)                                                            \
        do {                                                                                                \
                const char *_bad_ = NULL;                                                                   \
                if (varlink_dispatch((parameters), NULL, 0, NULL, &_bad_) < 0)                              \
                        return varlink_connection_error_invalid_parameter((conn), _bad_);                   \
        } while (0)

/* A lookup: GetServiceByName, GetServiceByPort, Explain. */
typedef struct LookupParameters {
        char *name;
        char *protocol; /* NULL: any */
        int64_t port;
} LookupParameters;

static const VarlinkParameter lookup_by_name_parameters[] = {
        { "name", VARLINK_PARAMETER_NAME, offsetof(LookupParameters, name), VARLINK_PARAMETER_REQUIRED, 1,
                NAME_LENGTH_MAX },
        { "protocol", VARLINK_PARAMETER_NAME, offsetof(LookupParameters, protocol), 0, 0,
                PROTOCOL_LENGTH_MAX },
};

static const VarlinkParameter lookup_by_port_parameters[] = {
        { "port", VARLINK_PARAMETER_INT, offsetof(LookupParameters, port), VARLINK_PARAMETER_REQUIRED, 0,
                65535 },
        { "protocol", VARLINK_PARAMETER_NAME, offsetof(LookupParameters, protocol), 0, 0,
                PROTOCOL_LENGTH_MAX },
};

static void lookup_parameters_done(LookupParameters *p)
{
        free(p->name);
        free(p->protocol);
}

/* SetOverride and UnsetOverride. */
typedef struct OverrideParameters {
        char *name;
        char *protocol; /* UnsetOverride: NULL for every protocol */
        int64_t port;
        char **aliases; /* NULL: none */
        bool runtime;   /* persistent unless asked otherwise */
} OverrideParameters;

static const VarlinkParameter set_override_parameters[] = {
        { "name", VARLINK_PARAMETER_NAME, offsetof(OverrideParameters, name), VARLINK_PARAMETER_REQUIRED, 1,
                SERVICE_NAME_MAX },
        { "protocol", VARLINK_PARAMETER_NAME, offsetof(OverrideParameters, protocol),
                VARLINK_PARAMETER_REQUIRED, 1, SERVICE_PROTOCOL_MAX },
        { "port", VARLINK_PARAMETER_INT, offsetof(OverrideParameters, port), VARLINK_PARAMETER_REQUIRED, 0,
                65535 },
        { "aliases", VARLINK_PARAMETER_NAMES, offsetof(OverrideParameters, aliases), 0, 1, SERVICE_NAME_MAX,
                SERVICE_ALIASES_MAX },
        { "runtime", VARLINK_PARAMETER_BOOLEAN, offsetof(OverrideParameters, runtime), 0, 0, 0 },
};

static const VarlinkParameter unset_override_parameters[] = {
        { "name", VARLINK_PARAMETER_NAME, offsetof(OverrideParameters, name), VARLINK_PARAMETER_REQUIRED, 1,
                SERVICE_NAME_MAX },
        { "protocol", VARLINK_PARAMETER_NAME, offsetof(OverrideParameters, protocol), 0, 1,
                SERVICE_PROTOCOL_MAX },
        { "runtime", VARLINK_PARAMETER_BOOLEAN, offsetof(OverrideParameters, runtime), 0, 0, 0 },
};

static void override_parameters_done(OverrideParameters *p)
{
        /* Every owned field, whichever of the two tables filled it. */
        varlink_dispatch_done(set_override_parameters, ELEMENTSOF(set_override_parameters), p);
}

static int reply_oom(VarlinkConnection *conn)
{
        log_oom();
        return -ENOMEM; /* closes the connection: the client falls back to its next source */
}

/* Only -ENOMEM is out of memory: a scope whose catalog cannot be built was logged with its own
 * error, and its callers are closed on (they fall back to their next source).  A caller that
 * cannot be placed in or out of the scopes (-ESRCH) is told so: never the host's view, which might
 * not be its own; the NSS module answers UNAVAIL on any error. */
#define CALLER_VIEW_OR_REPLY(m, conn, view)                                                                 \
        do {                                                                                                \
                int _r_ = caller_view((m), (conn), (view));                                                 \
                if (_r_ == -ENOMEM)                                                                         \
                        return reply_oom(conn);                                                             \
                if (_r_ == -ESRCH)                                                                          \
                        return varlink_connection_error(conn, ERROR_CALLER_UNIDENTIFIED, NULL);             \
                if (_r_ < 0)                                                                                \
                        return _r_;                                                                         \
        } while (0)

/* ---- methods ---- */

static int method_get_service_by_name(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_(lookup_parameters_done) LookupParameters p = {};
        _cleanup_json_ struct json_object *reply = NULL;
        Manager *m = userdata;
        CallerView view;

        DISPATCH_OR_REPLY(conn, parameters, lookup_by_name_parameters, &p);
        CALLER_VIEW_OR_REPLY(m, conn, &view);

        const ServiceEntry *e = catalog_lookup_by_name(view.image->catalog, p.name, p.protocol);
        if (!e)
                return varlink_connection_error(conn, ERROR_SERVICE_NOT_FOUND, NULL);
        if (service_reply_cached(view.image, e, &reply) < 0)
                return reply_oom(conn);
        return varlink_connection_reply(conn, reply);
}

static int method_get_service_by_port(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_(lookup_parameters_done) LookupParameters p = {};
        _cleanup_json_ struct json_object *reply = NULL;
        Manager *m = userdata;
        CallerView view;

        DISPATCH_OR_REPLY(conn, parameters, lookup_by_port_parameters, &p);
        CALLER_VIEW_OR_REPLY(m, conn, &view);

        const ServiceEntry *e = catalog_lookup_by_port(view.image->catalog, (uint16_t) p.port, p.protocol);
        if (!e)
                return varlink_connection_error(conn, ERROR_SERVICE_NOT_FOUND, NULL);
        if (service_reply_cached(view.image, e, &reply) < 0)
                return reply_oom(conn);
        return varlink_connection_reply(conn, reply);
}

/* Entries per call of the List producer: a few KiB of output, so that the server tops up the
 * queue in small steps. */
#define LIST_BATCH 32

/* An enumeration in progress: the catalog it started from (kept alive across reloads, so the
 * client sees one generation from first entry to last) and the next entry to send. */
typedef struct ListStream {
        CatalogHold *hold;
        size_t next;
} ListStream;

static void list_stream_free(void *userdata)
{
        ListStream *s = userdata;

        catalog_hold_unref(s->hold);
        free(s);
}

static int list_produce(VarlinkConnection *conn, void *userdata)
{
        ListStream *s = userdata;
        const Catalog *c = s->hold->catalog;
        int r;

        for (unsigned k = 0; k < LIST_BATCH && s->next < c->n_entries; k++) {
                _cleanup_json_ struct json_object *reply = NULL;
                size_t i = s->next++;

                if (service_reply_parameters(c, &c->entries[i], &reply) < 0)
                        return reply_oom(conn);
                if (i + 1 < c->n_entries)
                        r = varlink_connection_notify(conn, reply);
                else
                        r = varlink_connection_reply(conn, reply);
                if (r == -ENOTCONN)
                        return 0; /* the client left, or its output queue overflowed: nothing to answer */
                if (r < 0)
                        return r;
        }
        return 0;
}

static int method_list(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        Manager *m = userdata;
        ListStream *s;
        int r;

        CallerView view;

        DISPATCH_NONE_OR_REPLY(conn, parameters);

        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(conn, VARLINK_ERROR_EXPECTED_MORE, NULL);
        CALLER_VIEW_OR_REPLY(m, conn, &view);
        if (!view.image->catalog || view.image->catalog->n_entries == 0)
                return varlink_connection_error(conn, ERROR_SERVICE_NOT_FOUND, NULL);
        if (flags & VARLINK_CALL_ONEWAY)
                return 0; /* nobody would read the entries */

        /* Replies are produced as the client reads them, not queued all at once: a client that
         * never reads would otherwise pin a rendering of the whole catalog per connection. */
        s = calloc(1, sizeof(ListStream));
        if (!s)
                return reply_oom(conn);
        s->hold = view.image->hold;
        s->hold->n_ref++;
        r = varlink_connection_stream(conn, list_produce, s, list_stream_free);
        if (r < 0) {
                list_stream_free(s);
                return r;
        }
        return 0;
}

static int method_get_snapshot(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_json_ struct json_object *reply = NULL;
        Manager *m = userdata;
        int r;

        CallerView view;

        DISPATCH_NONE_OR_REPLY(conn, parameters);
        CALLER_VIEW_OR_REPLY(m, conn, &view);

        /* The caller's scope's image: through plain getservbyname() a container sees its scope. */
        const SnapshotImage *image = view.image->snapshot;
        if (!image)
                return -ENODATA;

        reply = json_object_new_object();
        if (!reply)
                return reply_oom(conn);
        r = json_add(reply, "generation", json_object_new_int64((int64_t) image->generation));
        if (r >= 0)
                r = json_add(reply, "size", json_object_new_int64((int64_t) image->size));
        if (r < 0)
                return reply_oom(conn);

        /* The server duplicates fd for the queue, so a reload that closes ours right after is fine. */
        return varlink_connection_reply_fd(conn, reply, image->ro_fd);
}

static int method_explain(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_(lookup_parameters_done) LookupParameters p = {};
        _cleanup_json_ struct json_object *reply = NULL;
        struct json_object *winner = NULL, *replaced = NULL;
        Manager *m = userdata;
        CallerView view;

        DISPATCH_OR_REPLY(conn, parameters, lookup_by_name_parameters, &p);
        CALLER_VIEW_OR_REPLY(m, conn, &view);

        reply = catalog_explain_to_json(view.image->catalog, p.name, p.protocol);
        if (!reply)
                return reply_oom(conn);

        (void) json_object_object_get_ex(reply, "winner", &winner);
        (void) json_object_object_get_ex(reply, "replaced", &replaced);
        if (!winner && (!replaced || json_object_array_length(replaced) == 0))
                return varlink_connection_error(conn, ERROR_SERVICE_NOT_FOUND, NULL);

        return varlink_connection_reply(conn, reply);
}

static int diagnostic_to_json(
        const char *level, const char *file, uint32_t line, const char *message, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = json_add(o, "level", json_object_new_string(level));
        if (r >= 0)
                r = json_add(o, "file", json_string_escaped(file, 0));
        if (r >= 0)
                r = json_add(o, "line", json_object_new_int64(line));
        if (r >= 0)
                r = json_add(o, "message", json_string_escaped(message, 0));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* Sources that could not be read but still serve their last good state: the catalog does not
 * know about those failures, the manager does. */
static int stale_source_diagnostics(const Manager *m, struct json_object *array, size_t *n_errors)
{
        for (size_t i = 0; i < m->n_sources; i++) {
                const SourceState *s = &m->sources[i];
                struct json_object *d = NULL;
                char message[256];
                int r;

                if (s->error >= 0 || !s->file)
                        continue;
                (void) snprintf(message, sizeof(message), "cannot be read (%s), serving its last good state",
                        strerror(-s->error));
                if (array) {
                        r = diagnostic_to_json("error", s->path, 0, message, &d);
                        if (r >= 0)
                                r = json_append(array, d);
                        if (r < 0)
                                return r;
                }
                (*n_errors)++;
        }
        return 0;
}

static int diagnostic_count(DiagnosticLevel level, struct json_object *array, const char *file,
        uint32_t line, const char *message, size_t *n_errors, size_t *n_warnings)
{
        struct json_object *d = NULL;
        int r;

        if (array) {
                r = diagnostic_to_json(diagnostic_level_to_string(level), file, line, message, &d);
                if (r >= 0)
                        r = json_append(array, d);
                if (r < 0)
                        return r;
        }
        if (level == DIAGNOSTIC_ERROR)
                (*n_errors)++;
        else if (level == DIAGNOSTIC_WARNING && n_warnings)
                (*n_warnings)++;
        return 0;
}

/* What a scope adds to the findings: its NAME.scope's lines, its drop-ins that cannot be read, and
 * with with_catalog (the host's view, where the scope's catalog is not the one reported) what its
 * catalog says about its own files. */
static int scope_diagnostics(const ScopeState *s, bool with_catalog, struct json_object *array,
        size_t *n_errors, size_t *n_warnings)
{
        const ScopeDefinition *d = s->definition;
        int r = 0;

        if (s->error < 0) {
                char message[256];
                (void) snprintf(message, sizeof(message), "cannot be read (%s), serving its last good state",
                        strerror(-s->error));
                r = diagnostic_count(DIAGNOSTIC_ERROR, array, d->path, 0, message, n_errors, n_warnings);
        }
        for (size_t i = 0; r >= 0 && i < d->n_diagnostics; i++)
                r = diagnostic_count(d->diagnostics[i].level, array, d->path, d->diagnostics[i].line,
                        d->diagnostics[i].message, n_errors, n_warnings);
        for (size_t i = 0; r >= 0 && i < s->n_sources; i++) {
                char message[256];
                if (s->sources[i].error >= 0 || !s->sources[i].file)
                        continue;
                (void) snprintf(message, sizeof(message), "cannot be read (%s), serving its last good state",
                        strerror(-s->sources[i].error));
                r = diagnostic_count(
                        DIAGNOSTIC_ERROR, array, s->sources[i].path, 0, message, n_errors, n_warnings);
        }
        for (size_t i = 0; with_catalog && s->image.catalog && r >= 0 && i < s->image.catalog->n_diagnostics;
                i++) {
                const CatalogDiagnostic *x = &s->image.catalog->diagnostics[i];
                if (x->source >= s->image.catalog->n_sources ||
                        s->image.catalog->sources[x->source].layer != CATALOG_LAYER_SCOPE)
                        continue;
                r = diagnostic_count(x->level, array, s->image.catalog->sources[x->source].path, x->line,
                        x->message, n_errors, n_warnings);
        }
        /* A scope no caller has asked for since the last change has no catalog yet: its files' bad
         * lines still count (what merging would add is for portctl verify to find). */
        for (size_t i = 0; with_catalog && !s->image.catalog && r >= 0 && i < s->n_sources; i++) {
                const ServicesFile *f = s->sources[i].file;
                for (size_t j = 0; f && r >= 0 && j < f->n_diagnostics; j++)
                        r = diagnostic_count(DIAGNOSTIC_ERROR, array, f->path, f->diagnostics[j].line,
                                f->diagnostics[j].message, n_errors, n_warnings);
        }
        return r;
}

/* A scoped caller hears about its own scope only; the host about every scope. */
static int caller_scope_diagnostics(
        Manager *m, const CallerView *v, struct json_object *array, size_t *n_errors, size_t *n_warnings)
{
        int r = 0;

        if (v->scope)
                return scope_diagnostics(v->scope, false, array, n_errors, n_warnings);
        for (size_t i = 0; r >= 0 && i < m->n_scopes; i++)
                r = scope_diagnostics(&m->scopes[i], true, array, n_errors, n_warnings);
        return r;
}

/* Other scopes' findings name their files and quote their lines (files that may be readable by
 * root only): root on the host sees them all, a scoped caller its own scope's (and the host's, as
 * everybody).  1 for every scope, 0 for the caller's own only, -ENOMEM. */
static int verify_shows_every_scope(Manager *m, VarlinkConnection *conn, const CallerView *v)
{
        struct ucred ucred;
        int r;

        if (v->scope || m->n_scopes == 0)
                return 1; /* caller_scope_diagnostics() keeps to its own scope */
        if (varlink_connection_get_peer_credentials(conn, &ucred) < 0 || ucred.uid != 0)
                return 0;
        r = scopes_check_host_caller(m, conn);
        if (r == -ENOMEM)
                return r;
        return r >= 0;
}

/* For everyone else, how many there are: enough to know that root should look. */
static int hidden_scope_diagnostics(Manager *m, struct json_object *array)
{
        size_t n_errors = 0, n_warnings = 0;
        char message[256];
        int r = 0;

        for (size_t i = 0; r >= 0 && i < m->n_scopes; i++)
                r = scope_diagnostics(&m->scopes[i], true, NULL, &n_errors, &n_warnings);
        if (r < 0 || n_errors + n_warnings == 0)
                return r;
        (void) snprintf(message, sizeof(message),
                "%zu error(s) and %zu warning(s) in the scopes' files, shown to root on the host only",
                n_errors, n_warnings);
        return diagnostic_count(n_errors > 0 ? DIAGNOSTIC_ERROR : DIAGNOSTIC_WARNING, array,
                "/etc/portd/scopes", 0, message, &(size_t){ 0 }, NULL);
}

static int method_verify(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_json_ struct json_object *all = NULL, *reply = NULL;
        struct json_object *diagnostics = NULL;
        Manager *m = userdata;
        size_t n_errors = 0;
        CallerView view;
        int r;

        DISPATCH_NONE_OR_REPLY(conn, parameters);
        CALLER_VIEW_OR_REPLY(m, conn, &view);

        all = catalog_diagnostics_to_json(view.image->catalog);
        reply = json_object_new_object();
        if (!all || !reply || !json_object_object_get_ex(all, "diagnostics", &diagnostics) || !diagnostics)
                return reply_oom(conn);
        if (stale_source_diagnostics(m, diagnostics, &n_errors) < 0)
                return reply_oom(conn);
        r = verify_shows_every_scope(m, conn, &view);
        if (r < 0)
                return reply_oom(conn);
        if (r > 0) {
                if (caller_scope_diagnostics(m, &view, diagnostics, &n_errors, NULL) < 0)
                        return reply_oom(conn);
        } else if (hidden_scope_diagnostics(m, diagnostics) < 0)
                return reply_oom(conn);
        /* Only the field the interface declares; the counts are in Status. */
        if (json_add(reply, "diagnostics", json_object_get(diagnostics)) < 0)
                return reply_oom(conn);

        return varlink_connection_reply(conn, reply);
}

static int source_status_to_json(const SourceState *s, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = json_add(o, "file", json_string_escaped(s->path, 0));
        if (r >= 0)
                r = json_add(o, "layer", json_object_new_string(catalog_layer_to_string(s->layer)));
        if (r >= 0)
                r = json_add(o, "masked", json_object_new_boolean(s->masked));
        if (r >= 0)
                r = json_add(
                        o, "entries", json_object_new_int64(s->file ? (int64_t) s->file->n_entries : 0));
        if (r >= 0)
                r = json_add(
                        o, "skipped", json_object_new_int64(s->file ? (int64_t) s->file->n_diagnostics : 0));
        /* When the content served was last modified, as fleets compare it: microseconds since the
         * epoch, as loaded_usec; absent for a source never read (masked, missing). */
        if (r >= 0 && s->file && s->file->stamp.mtime_nsec > 0)
                r = json_add(o, "mtime_usec", json_object_new_int64((int64_t) (s->file->stamp.mtime_nsec / 1000)));
        if (r >= 0 && s->error < 0)
                r = json_add(o, "error", json_object_new_string(catalog_source_error_to_string(s->error)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int method_status(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_json_ struct json_object *reply = NULL, *sources = NULL;
        Manager *m = userdata;
        const Catalog *c;
        size_t n_errors = 0, n_warnings = 0;
        CallerView view;
        int r;

        DISPATCH_NONE_OR_REPLY(conn, parameters);
        /* The caller's catalog: a scoped caller sees its scope's entries, digest and files. */
        CALLER_VIEW_OR_REPLY(m, conn, &view);
        c = view.image->catalog;

        reply = json_object_new_object();
        sources = json_object_new_array();
        if (!reply || !sources)
                return reply_oom(conn);

        for (size_t i = 0; i < m->n_sources; i++) {
                struct json_object *o = NULL;
                r = source_status_to_json(&m->sources[i], &o);
                if (r >= 0)
                        r = json_append(sources, o);
                if (r < 0)
                        return reply_oom(conn);
        }
        for (size_t i = 0; view.scope && i < view.scope->n_sources; i++) {
                struct json_object *o = NULL;
                r = source_status_to_json(&view.scope->sources[i], &o);
                if (r >= 0)
                        r = json_append(sources, o);
                if (r < 0)
                        return reply_oom(conn);
        }

        for (size_t i = 0; i < c->n_diagnostics; i++)
                if (c->diagnostics[i].level == DIAGNOSTIC_ERROR)
                        n_errors++;
                else if (c->diagnostics[i].level == DIAGNOSTIC_WARNING)
                        n_warnings++;
        (void) stale_source_diagnostics(m, NULL, &n_errors);
        (void) caller_scope_diagnostics(m, &view, NULL, &n_errors, &n_warnings);

        r = json_add(reply, "generation", json_object_new_int64((int64_t) m->generation));
        if (r >= 0)
                r = json_add(reply, "entries", json_object_new_int64((int64_t) c->n_entries));
        if (r >= 0)
                r = json_add(reply, "sources", TAKE_PTR(sources));
        if (r >= 0)
                r = json_add(reply, "digest", json_object_new_string(c->digest));
        if (r >= 0)
                r = json_add(reply, "loaded_usec", json_object_new_int64((int64_t) m->loaded_usec));
        if (r >= 0)
                r = json_add(reply, "snapshot_size",
                        json_object_new_int64(
                                view.image->snapshot ? (int64_t) view.image->snapshot->size : 0));
        if (r >= 0)
                r = view.scope ? json_add(reply, "scope", json_string_escaped(view.scope->name, 0))
                               : (json_object_object_add(reply, "scope", NULL) < 0 ? -ENOMEM : 0);
        if (r >= 0)
                r = json_add(reply, "errors", json_object_new_int64((int64_t) n_errors));
        if (r >= 0)
                r = json_add(reply, "warnings", json_object_new_int64((int64_t) n_warnings));
        if (r < 0)
                return reply_oom(conn);

        return varlink_connection_reply(conn, reply);
}

static int reply_error_message(VarlinkConnection *conn, const char *error, const char *fmt, ...)
        _printf_(3, 4);

/* A refusal is logged once per user and kind of request, not once per call: a script retrying in
 * a loop must not flood the journal, and the administrator still learns who tried what. */
static void log_refusal(Manager *m, VarlinkConnection *conn, const char *what)
{
        struct ucred ucred;

        if (varlink_connection_get_peer_credentials(conn, &ucred) < 0)
                return;
        for (size_t i = 0; i < m->n_refused; i++)
                if (m->refused[i].uid == ucred.uid && streq(m->refused[i].what, what))
                        return;
        m->refused[m->next_refused] = (RefusedCaller) { .uid = ucred.uid, .what = what };
        m->next_refused = (m->next_refused + 1) % ELEMENTSOF(m->refused);
        m->n_refused = MIN(m->n_refused + 1, ELEMENTSOF(m->refused));
        log_notice("Refused %s to UID %u (PID %d); further refusals of %s to this user are not logged.",
                what, (unsigned) ucred.uid, (int) ucred.pid, what);
}

/* Root in a container that was given our socket is not the host's administrator: state changes
 * come from the host only (scopes_check_host_caller()).  1 when allowed, else answered: out of
 * descriptors to tell, with failed (nothing changed, try again), not as a denial. */
static int check_host_caller(VarlinkConnection *conn, Manager *m, const char *what, const char *failed)
{
        int r = scopes_check_host_caller(m, conn);
        if (r == -ENOMEM)
                return reply_oom(conn);
        if (r >= 0)
                return 1;
        if (r == -EMFILE || r == -ENFILE)
                return reply_error_message(
                        conn, failed, "cannot tell where the caller runs: %s", strerror(-r));
        log_refusal(m, conn, what);
        return reply_error_message(conn, ERROR_PERMISSION_DENIED,
                "%s are refused from containers: only a caller in the host's user and PID namespaces, "
                "outside every scope, may make them",
                what);
}

static int method_reload(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        Manager *m = userdata;
        struct ucred ucred;
        int r;

        DISPATCH_NONE_OR_REPLY(conn, parameters);

        r = varlink_connection_get_peer_credentials(conn, &ucred);
        if (r < 0 || ucred.uid != 0) {
                log_refusal(m, conn, "reloads");
                return varlink_connection_error(conn, ERROR_PERMISSION_DENIED, NULL);
        }
        r = check_host_caller(conn, m, "reloads", ERROR_RELOAD_FAILED);
        if (r <= 0)
                return r;

        log_info("Reload requested by PID %d.", (int) ucred.pid);
        r = manager_reload(m, true);
        if (r < 0) {
                _cleanup_json_ struct json_object *e = json_object_new_object();
                if (!e || json_add(e, "message", json_object_new_string(strerror(-r))) < 0)
                        return reply_oom(conn);
                return varlink_connection_error(conn, ERROR_RELOAD_FAILED, e);
        }
        return varlink_connection_reply(conn, NULL);
}

/* ---- local overrides ---- */

static int reply_error_message(VarlinkConnection *conn, const char *error, const char *fmt, ...)
        _printf_(3, 4);
static int reply_error_message(VarlinkConnection *conn, const char *error, const char *fmt, ...)
{
        _cleanup_json_ struct json_object *e = json_object_new_object();
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (r < 0 || !e || json_add(e, "message", json_object_new_string(message)) < 0)
                return reply_oom(conn);
        return varlink_connection_error(conn, error, e);
}

/* An override changes what every program on the machine resolves: root, or the groups portd.conf
 * names, may edit them.  The refusal says what is needed, not only that it was refused. */
static int check_override_access(VarlinkConnection *conn, Manager *m, struct ucred *ret_ucred)
{
        int r = settings_check_override_access(m, conn, ret_ucred);
        if (r == -ENOMEM)
                return reply_oom(conn);
        if (r >= 0)
                return check_host_caller(conn, m, "changes to local overrides", ERROR_OVERRIDE_FAILED);
        log_refusal(m, conn, "changes to local overrides");
        const char *groups = settings_override_groups(m);
        if (groups)
                return reply_error_message(conn, ERROR_PERMISSION_DENIED,
                        "only root and members of the groups %s may edit local overrides", groups);
        return reply_error_message(conn, ERROR_PERMISSION_DENIED,
                "only root may edit local overrides (or members of a group named by Group= in the "
                "[Overrides] section of /etc/portd/portd.conf)");
}

static bool override_entry_matches(
        const Catalog *c, const ServiceEntry *e, const char *path, const char *name, const char *protocol)
{
        return e->source < c->n_sources && streq(c->sources[e->source].path, path) && streq(e->name, name) &&
               streq(e->protocol, protocol);
}

/* The entry just written, as the new catalog holds it: usually the winner, but a persistent
 * override that a runtime one hides is only among the losers, and is still what was set. */
static const ServiceEntry *override_entry_find(
        const Catalog *c, const char *path, const char *name, const char *protocol)
{
        for (size_t i = 0; i < c->n_entries; i++)
                if (override_entry_matches(c, &c->entries[i], path, name, protocol))
                        return &c->entries[i];
        for (size_t i = 0; i < c->n_shadows; i++)
                if (override_entry_matches(c, &c->shadows[i].entry, path, name, protocol))
                        return &c->shadows[i].entry;
        return NULL;
}

static int method_set_override(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_(override_parameters_done) OverrideParameters p = {};
        _cleanup_json_ struct json_object *reply = NULL;
        Manager *m = userdata;
        struct ucred ucred;
        int r;

        DISPATCH_OR_REPLY(conn, parameters, set_override_parameters, &p);

        r = check_override_access(conn, m, &ucred);
        if (r <= 0)
                return r;

        /* What the services(5) syntax can carry as one token, nothing else: the file must read
         * back as exactly this entry. */
        const char *name = p.name, *protocol = p.protocol;
        if (!service_name_is_valid(name))
                return varlink_connection_error_invalid_parameter(conn, "name");
        if (!service_protocol_is_valid(protocol))
                return varlink_connection_error_invalid_parameter(conn, "protocol");
        for (char **a = p.aliases; a && *a; a++)
                if (!service_name_is_valid(*a))
                        return varlink_connection_error_invalid_parameter(conn, "aliases");

        /* Persistent unless asked otherwise: an override is usually a decision that must outlive a
         * reboot; runtime ones are for experiments and emergencies. */
        const char *path = p.runtime ? OVERRIDES_RUNTIME_PATH : OVERRIDES_PERSISTENT_PATH;
        r = overrides_set(m->root, path, name, protocol, (uint16_t) p.port, p.aliases);
        if (r == -ENOMEM)
                return reply_oom(conn);
        if (r < 0) {
                log_warning_errno(r, "Failed to set the override %s/%s in '%s': %m", name, protocol, path);
                return reply_error_message(
                        conn, ERROR_OVERRIDE_FAILED, "cannot write '%s': %s", path, strerror(-r));
        }
        log_info("Override %s %" PRId64 "/%s set in '%s' by UID %u (PID %d).", name, p.port, protocol, path,
                (unsigned) ucred.uid, (int) ucred.pid);

        /* The catalog is rebuilt now rather than when the file watch fires, so that the reply and
         * every lookup after it see the change.  The rebuild starts a new inotify instance, which
         * drops the events of our own write: the change costs one generation, not two. */
        m->rebuild_cause = "override";
        r = manager_reload(m, false);
        if (r < 0)
                return reply_error_message(conn, ERROR_RELOAD_FAILED, "%s", strerror(-r));

        const ServiceEntry *e = override_entry_find(m->image.catalog, path, name, protocol);
        if (!e)
                /* Written but not read back: the file is unreadable now, and its last good state
                 * is served. */
                return reply_error_message(
                        conn, ERROR_OVERRIDE_FAILED, "'%s' was written but cannot be read back", path);
        r = service_reply_parameters(m->image.catalog, e, &reply);
        if (r < 0)
                return reply_oom(conn);
        return varlink_connection_reply(conn, reply);
}

static int method_unset_override(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_(override_parameters_done) OverrideParameters p = {};
        _cleanup_json_ struct json_object *reply = NULL;
        Manager *m = userdata;
        struct ucred ucred;
        int r;

        DISPATCH_OR_REPLY(conn, parameters, unset_override_parameters, &p);

        r = check_override_access(conn, m, &ucred);
        if (r <= 0)
                return r;

        const char *name = p.name, *protocol = p.protocol;
        if (!service_name_is_valid(name))
                return varlink_connection_error_invalid_parameter(conn, "name");
        if (protocol && !service_protocol_is_valid(protocol))
                return varlink_connection_error_invalid_parameter(conn, "protocol");

        const char *path = p.runtime ? OVERRIDES_RUNTIME_PATH : OVERRIDES_PERSISTENT_PATH;
        int removed = overrides_unset(m->root, path, name, protocol);
        if (removed == -ENOMEM)
                return reply_oom(conn);
        if (removed < 0) {
                log_warning_errno(removed, "Failed to drop the override %s%s%s from '%s': %m", name,
                        protocol ? "/" : "", protocol ?: "", path);
                return reply_error_message(
                        conn, ERROR_OVERRIDE_FAILED, "cannot edit '%s': %s", path, strerror(-removed));
        }
        if (removed > 0) {
                log_info("Override %s%s%s dropped from '%s' by UID %u (PID %d), %d line%s.", name,
                        protocol ? "/" : "", protocol ?: "", path, (unsigned) ucred.uid, (int) ucred.pid,
                        removed, removed == 1 ? "" : "s");
                /* Applied at once, as SetOverride does. */
                m->rebuild_cause = "override";
                r = manager_reload(m, false);
                if (r < 0)
                        return reply_error_message(conn, ERROR_RELOAD_FAILED, "%s", strerror(-r));
        }

        reply = json_object_new_object();
        if (!reply || json_add(reply, "removed", json_object_new_int(removed)) < 0)
                return reply_oom(conn);
        return varlink_connection_reply(conn, reply);
}

/* ---- Monitor: a reply per catalog generation, for as long as the client stays ---- */

static struct json_object *monitor_event(Manager *m, const char *cause, bool scopes_changed)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o || json_add(o, "generation", json_object_new_int64((int64_t) m->generation)) < 0 ||
                json_add(o, "cause", json_object_new_string(cause)) < 0 ||
                json_add(o, "entries", json_object_new_int64((int64_t) m->image.catalog->n_entries)) < 0 ||
                json_add(o, "digest", json_object_new_string(m->image.catalog->digest)) < 0 ||
                json_add(o, "loaded_usec", json_object_new_int64((int64_t) m->loaded_usec)) < 0 ||
                json_add(o, "scopes", json_object_new_int64((int64_t) m->n_scopes)) < 0 ||
                json_add(o, "scopes_changed", json_object_new_boolean(scopes_changed)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* Drops the monitors whose clients are gone (the server closed their sockets). */
static void monitors_prune(Manager *m)
{
        size_t k = 0;
        for (size_t i = 0; i < m->n_monitors; i++)
                if (varlink_connection_get_fd(m->monitors[i]) >= 0)
                        m->monitors[k++] = m->monitors[i];
                else
                        varlink_connection_unref(m->monitors[i]);
        m->n_monitors = k;
}

void varlink_services_notify_monitors(Manager *m, const char *cause, bool scopes_changed)
{
        _cleanup_json_ struct json_object *event = NULL;

        assert(m);

        assert(cause);

        monitors_prune(m);
        if (m->n_monitors == 0)
                return;
        event = monitor_event(m, cause, scopes_changed);
        if (!event) {
                log_oom();
                return;
        }
        size_t k = 0;
        for (size_t i = 0; i < m->n_monitors; i++)
                /* A client that reads too slowly is dropped by the server's output bound. */
                if (varlink_connection_notify(m->monitors[i], event) >= 0)
                        m->monitors[k++] = m->monitors[i];
                else
                        varlink_connection_unref(m->monitors[i]);
        m->n_monitors = k;
}

void varlink_services_monitors_done(Manager *m)
{
        assert(m);

        for (size_t i = 0; i < m->n_monitors; i++)
                varlink_connection_unref(m->monitors[i]);
        m->monitors = mfree(m->monitors);
        m->n_monitors = 0;
}

static int method_monitor(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        _cleanup_json_ struct json_object *event = NULL;
        Manager *m = userdata;
        int r;

        DISPATCH_NONE_OR_REPLY(conn, parameters);
        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(conn, VARLINK_ERROR_EXPECTED_MORE, NULL);

        monitors_prune(m);
        if (m->n_monitors >= MONITORS_MAX)
                return varlink_connection_error(conn, ERROR_TOO_MANY_MONITORS, NULL);
        if (!m->monitors) {
                m->monitors = calloc(MONITORS_MAX, sizeof(VarlinkConnection *));
                if (!m->monitors)
                        return reply_oom(conn);
        }

        /* The generation current now first, so that a watcher knows where it starts. */
        event = monitor_event(m, "current", false);
        if (!event)
                return reply_oom(conn);
        r = varlink_connection_notify(conn, event);
        if (r < 0)
                return r;
        /* Never answered: the call stays open until the client or the daemon goes. */
        m->monitors[m->n_monitors++] = varlink_connection_ref(conn);
        return 0;
}

int varlink_services_register(Manager *m)
{
        assert(m);

        static const struct {
                const char *name;
                VarlinkMethodCallback callback;
        } methods[] = {
                { SERVICES_INTERFACE ".GetServiceByName", method_get_service_by_name },
                { SERVICES_INTERFACE ".GetServiceByPort", method_get_service_by_port },
                { SERVICES_INTERFACE ".List", method_list },
                { SERVICES_INTERFACE ".GetSnapshot", method_get_snapshot },
                { SERVICES_INTERFACE ".Explain", method_explain },
                { SERVICES_INTERFACE ".Verify", method_verify },
                { SERVICES_INTERFACE ".Status", method_status },
                { SERVICES_INTERFACE ".Reload", method_reload },
                { SERVICES_INTERFACE ".SetOverride", method_set_override },
                { SERVICES_INTERFACE ".UnsetOverride", method_unset_override },
                { SERVICES_INTERFACE ".Monitor", method_monitor },
        };
        int r;

        r = varlink_server_add_interface(m->server, io_portd_services_varlink);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                r = varlink_server_add_method(m->server, methods[i].name, methods[i].callback, m);
                if (r < 0)
                        return r;
        }
        return 0;
}
