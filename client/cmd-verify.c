/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl verify and explain: read the configuration files directly, with no daemon, so that a
 * fleet can check a change in the CI of its configuration repository before it ships. */

#include <json-c/json.h>
#include <stdio.h>

#include "catalog-json.h"
#include "catalog.h"
#include "portctl.h"
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

int verb_verify(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(catalog_freep) Catalog *c = NULL;
        size_t errors = 0;

        if (argc > 1) {
                portctl_error("verify takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        if (load(ctx, &c) < 0)
                return PORTCTL_EXIT_ERROR;

        for (size_t i = 0; i < c->n_diagnostics; i++)
                errors += c->diagnostics[i].level == DIAGNOSTIC_ERROR;

        if (ctx->json) {
                if (print_json(catalog_diagnostics_to_json(c)) != 0)
                        return PORTCTL_EXIT_ERROR;
        } else
                for (size_t i = 0; i < c->n_diagnostics; i++) {
                        const CatalogDiagnostic *d = &c->diagnostics[i];
                        _cleanup_free_ char *p = shown_path(ctx, c->sources[d->source].path);
                        printf("%s:%u: %s: %s\n", p ?: c->sources[d->source].path, d->line,
                                        diagnostic_level_to_string(d->level), d->message);
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
