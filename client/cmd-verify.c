/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl verify and explain: read the configuration files directly, with no daemon, so that a
 * fleet can check a change in the CI of its configuration repository before it ships. */

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <unistd.h>

#include "catalog-json.h"
#include "catalog.h"
#include "portctl.h"
#include "scope.h"
#include "util.h"

static void catalog_freep(Catalog **c)
{
        catalog_free(*c);
}

static int load(const PortctlContext *ctx, Catalog **ret)
{
        int r = catalog_load(ctx->root, ret);
        if (r < 0)
                portctl_error("cannot read the configuration below '%s': %s", ctx->root ?: "/", strerror(-r));
        return r;
}

static int print_json(struct json_object *o)
{
        if (!o) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return 0;
}

/* The file as it is on disk, so that an editor or CI annotation can open it. */
static char *shown_path(const PortctlContext *ctx, const char *path)
{
        return path_join_root(ctx->root, path);
}

/* A configuration repository often holds only its drop-ins (etc/services.d/ *.conf): that is no
 * error, glibc too reads a missing /etc/services as empty.  But the drop-ins are then checked on
 * their own, and a removal or replacement of a distribution entry cannot be, so say so once. */
#define NO_BASE_NOTICE                                                                                   \
        "does not exist: the drop-ins are checked on their own, over an empty base, so removals of "      \
        "its entries remove nothing and replacements add"

static bool base_missing(const PortctlContext *ctx)
{
        _cleanup_free_ char *p = path_join_root(ctx->root, CATALOG_BASE_PATH);
        return p && access(p, F_OK) < 0 && errno == ENOENT;
}

static struct json_object *verify_to_json(const Catalog *c, bool no_base)
{
        struct json_object *o = catalog_diagnostics_to_json(c), *diagnostics = NULL, *d = NULL;

        if (!o || !no_base)
                return o;
        if (!json_object_object_get_ex(o, "diagnostics", &diagnostics) || !(d = json_object_new_object()) ||
                json_object_object_add(d, "level", json_object_new_string("notice")) < 0 ||
                json_object_object_add(d, "file", json_object_new_string(CATALOG_BASE_PATH)) < 0 ||
                json_object_object_add(d, "line", json_object_new_int(0)) < 0 ||
                json_object_object_add(d, "message", json_object_new_string(NO_BASE_NOTICE)) < 0 ||
                json_object_array_put_idx(diagnostics, json_object_array_length(diagnostics), d) < 0) {
                json_object_put(d);
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* Adds the scopes' findings to a {diagnostics, errors, warnings} object; consumes o. */
static struct json_object *scope_findings_to_json(struct json_object *o, const ScopeFinding *f, size_t n)
{
        struct json_object *diagnostics = NULL, *count = NULL;

        if (!o || !json_object_object_get_ex(o, "diagnostics", &diagnostics))
                goto fail;
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_new_object();
                const char *key = f[i].level == DIAGNOSTIC_ERROR     ? "errors"
                                  : f[i].level == DIAGNOSTIC_WARNING ? "warnings"
                                                                     : NULL;
                if (!d || json_object_array_add(diagnostics, d) < 0) {
                        json_object_put(d);
                        goto fail;
                }
                if (json_object_object_add(d, "file", json_object_new_string(f[i].file)) < 0 ||
                        json_object_object_add(d, "line", json_object_new_int64(f[i].line)) < 0 ||
                        json_object_object_add(d, "level",
                                json_object_new_string(diagnostic_level_to_string(f[i].level))) < 0 ||
                        json_object_object_add(d, "message", json_object_new_string(f[i].message)) < 0)
                        goto fail;
                if (key && json_object_object_get_ex(o, key, &count))
                        json_object_set_int64(count, json_object_get_int64(count) + 1);
        }
        return o;
fail:
        json_object_put(o);
        return NULL;
}

typedef struct ScopeFindings {
        ScopeFinding *f;
        size_t n;
} ScopeFindings;

static void scope_findings_done(ScopeFindings *s)
{
        scope_findings_free(s->f, s->n);
}

int verb_verify(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(scope_findings_done) ScopeFindings scopes = {};
        _cleanup_(catalog_freep) Catalog *c = NULL;
        size_t errors = 0;
        bool no_base;

        if (argc > 1) {
                portctl_error("verify takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        if (load(ctx, &c) < 0)
                return PORTCTL_EXIT_ERROR;

        for (size_t i = 0; i < c->n_diagnostics; i++)
                errors += c->diagnostics[i].level == DIAGNOSTIC_ERROR;
        /* The scopes' .scope files and NAME.d/ drop-ins are configuration too (services.d(5), SCOPES). */
        int r = scopes_verify(ctx->root, &scopes.f, &scopes.n);
        if (r < 0) {
                portctl_error("cannot read the scopes below '%s': %s", ctx->root ?: "/", strerror(-r));
                return PORTCTL_EXIT_ERROR;
        }
        for (size_t i = 0; i < scopes.n; i++)
                errors += scopes.f[i].level == DIAGNOSTIC_ERROR;
        no_base = base_missing(ctx);
        nscd_warn_if_caching(ctx);

        if (ctx->json) {
                if (print_json(scope_findings_to_json(verify_to_json(c, no_base), scopes.f, scopes.n)) != 0)
                        return PORTCTL_EXIT_ERROR;
        } else {
                if (no_base) {
                        _cleanup_free_ char *p = shown_path(ctx, CATALOG_BASE_PATH);
                        printf("%s:0: notice: %s\n", p ?: CATALOG_BASE_PATH, NO_BASE_NOTICE);
                }
                for (size_t i = 0; i < c->n_diagnostics; i++) {
                        const CatalogDiagnostic *d = &c->diagnostics[i];
                        _cleanup_free_ char *p = shown_path(ctx, c->sources[d->source].path);
                        printf("%s:%u: %s: %s\n", p ?: c->sources[d->source].path, d->line,
                                        diagnostic_level_to_string(d->level), d->message);
                }
                for (size_t i = 0; i < scopes.n; i++) {
                        _cleanup_free_ char *p = shown_path(ctx, scopes.f[i].file);
                        printf("%s:%u: %s: %s\n", p ?: scopes.f[i].file, scopes.f[i].line,
                                        diagnostic_level_to_string(scopes.f[i].level), scopes.f[i].message);
                }
        }

        return errors > 0 ? PORTCTL_EXIT_ERROR : PORTCTL_EXIT_OK;
}

static void print_entry_line(const PortctlContext *ctx, const Catalog *c, const char *what, const ServiceEntry *e)
{
        _cleanup_free_ char *p = shown_path(ctx, c->sources[e->source].path);

        printf("%-9s %s %u/%s", what, e->name, e->port, e->protocol);
        for (size_t i = 0; i < e->n_aliases; i++)
                printf(" %s", e->aliases[i]);
        printf("\t%s:%u\n", p ?: c->sources[e->source].path, e->line);
}

int verb_explain(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(catalog_freep) Catalog *c = NULL;
        _cleanup_free_ char *name = NULL;
        _cleanup_free_ const CatalogShadow **shadows = NULL;
        const ServiceEntry *winner;
        const char *protocol = NULL;
        size_t n;

        if (argc != 2) {
                portctl_error("explain takes one argument, NAME[/PROTO]");
                return PORTCTL_EXIT_ERROR;
        }
        if (load(ctx, &c) < 0)
                return PORTCTL_EXIT_ERROR;

        name = strdup(argv[1]);
        if (!name || catalog_explain(c, name, NULL, &winner, &shadows, &n) < 0) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        /* Names may contain slashes ("cl/1"): only when the whole argument names nothing is the
         * part after the last slash taken as the protocol. */
        char *slash = strrchr(name, '/');
        if (!winner && n == 0 && slash) {
                *slash = '\0';
                protocol = slash + 1;
                shadows = mfree(shadows);
                if (catalog_explain(c, name, protocol, &winner, &shadows, &n) < 0) {
                        portctl_error("out of memory");
                        return PORTCTL_EXIT_ERROR;
                }
        }

        if (!winner && n == 0) {
                if (ctx->json)
                        print_json(catalog_explain_to_json(c, name, protocol));
                else
                        portctl_error("no service '%s'%s%s%s", name, protocol ? " over '" : "", protocol ?: "",
                                        protocol ? "'" : "");
                return PORTCTL_EXIT_NOT_FOUND;
        }

        if (ctx->json)
                return print_json(catalog_explain_to_json(c, name, protocol)) == 0 ? PORTCTL_EXIT_OK
                                                                                  : PORTCTL_EXIT_ERROR;

        if (winner)
                print_entry_line(ctx, c, "wins", winner);
        else
                printf("%-9s nothing: every definition was removed\n", "wins");
        for (size_t i = 0; i < n; i++) {
                const CatalogShadow *s = shadows[i];
                _cleanup_free_ char *by = shown_path(ctx, c->sources[s->by_source].path);
                print_entry_line(ctx, c, s->removed ? "removed" : "replaced", &s->entry);
                printf("%-9s   by %s:%u\n", "", by ?: c->sources[s->by_source].path, s->by_line);
        }
        return PORTCTL_EXIT_OK;
}
