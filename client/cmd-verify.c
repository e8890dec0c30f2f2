/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl verify and explain: the running daemon's Verify and Explain, which see what it serves
 * (files the caller may not read, its own --root); or, with --root or when no daemon answers at
 * the default socket, the configuration files read directly, so that a fleet can check a change
 * in the CI of its configuration repository before it ships.  The output says which. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "catalog-json.h"
#include "catalog.h"
#include "portctl.h"
#include "scope.h"
#include "json-util.h"
#include "util.h"
#include "varlink-wire.h"

#define SERVICES_INTERFACE "io.portd.Services"

static void varlink_client_freep(VarlinkClient **c)
{
        varlink_client_free(*c);
}

/* Who answers: the daemon (1, *ret set), or the files (0): with --root, or when nothing answers
 * at the default socket (ret_reason says so).  A socket the caller named (--socket,
 * $PORTD_SOCKET) that does not answer is an error (< 0, reported): the files would answer for
 * another configuration than the one asked about. */
static int answerer(const PortctlContext *ctx, VarlinkClient **ret, const char **ret_reason)
{
        *ret_reason = NULL;
        if (ctx->root)
                return 0;
        int r = varlink_client_connect(ctx->socket_path, 0, ret);
        if (r >= 0)
                return 1;
        if (ctx->socket_given) {
                portctl_error("cannot reach portd at '%s': %s", ctx->socket_path, strerror(-r));
                return r;
        }
        *ret_reason = "no daemon answers";
        return 0;
}

/* The last line of the text output: where the answer came from. */
static void print_answered_by(const PortctlContext *ctx, bool daemon, const char *reason)
{
        if (ctx->quiet || !ctx->legend)
                return;
        if (daemon)
                printf("(answered by portd at '%s')\n", ctx->socket_path);
        else
                printf("(read from the files below '%s'%s%s)\n", ctx->root ?: "/", reason ? ": " : "",
                        reason ?: "");
}

static int add_answered_by(struct json_object *o, bool daemon)
{
        return json_add(o, "answered_by", json_object_new_string(daemon ? "portd" : "files"));
}

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

/* Prints o (consumed) as --json asked, with where it came from. */
static int print_json(const PortctlContext *ctx, struct json_object *o, bool daemon)
{
        if (!o || add_answered_by(o, daemon) < 0) {
                json_object_put(o);
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        int r = portctl_print_json(ctx, o);
        json_object_put(o);
        return r == PORTCTL_EXIT_OK ? 0 : -EIO;
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

static int verify_files(const PortctlContext *ctx, const char *reason)
{
        _cleanup_(scope_findings_done) ScopeFindings scopes = {};
        _cleanup_(catalog_freep) Catalog *c = NULL;
        size_t errors = 0;
        bool no_base;

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

        if (ctx->json) {
                if (print_json(ctx, scope_findings_to_json(verify_to_json(c, no_base), scopes.f, scopes.n),
                            false) != 0)
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
                print_answered_by(ctx, false, reason);
        }

        return errors > 0 ? PORTCTL_EXIT_ERROR : PORTCTL_EXIT_OK;
}

/* The daemon's Verify: what it serves, including files the caller may not read. */
static int verify_daemon(const PortctlContext *ctx, VarlinkClient *client)
{
        struct json_object *reply = NULL, *diagnostics = NULL;
        const char *error = NULL;
        int64_t errors = 0, warnings = 0;

        int r = varlink_client_call(client, SERVICES_INTERFACE ".Verify", NULL, 0, &reply, &error);
        if (r < 0 || error) {
                portctl_error("verify: %s", error ?: strerror(-r));
                return PORTCTL_EXIT_ERROR;
        }
        if (!json_object_object_get_ex(reply, "diagnostics", &diagnostics) ||
                !json_object_is_type(diagnostics, json_type_array)) {
                portctl_error("verify: the daemon's reply has no diagnostics");
                return PORTCTL_EXIT_ERROR;
        }
        for (size_t i = 0; i < json_object_array_length(diagnostics); i++) {
                struct json_object *d = json_object_array_get_idx(diagnostics, i), *v = NULL;
                const char *level =
                        json_object_object_get_ex(d, "level", &v) ? json_object_get_string(v) : "";
                errors += streq_ptr(level, "error");
                warnings += streq_ptr(level, "warning");
                if (ctx->json)
                        continue;
                const char *file =
                        json_object_object_get_ex(d, "file", &v) ? json_object_get_string(v) : "?";
                int64_t line = json_object_object_get_ex(d, "line", &v) ? json_object_get_int64(v) : 0;
                const char *message =
                        json_object_object_get_ex(d, "message", &v) ? json_object_get_string(v) : "";
                printf("%s:%" PRId64 ": %s: %s\n", file, line, level, message);
        }
        if (ctx->json) {
                /* The shape of the offline output: diagnostics, errors, warnings. */
                struct json_object *o = json_object_new_object();
                if (!o || json_add(o, "diagnostics", json_object_get(diagnostics)) < 0 ||
                        json_add(o, "errors", json_object_new_int64(errors)) < 0 ||
                        json_add(o, "warnings", json_object_new_int64(warnings)) < 0) {
                        json_object_put(o);
                        portctl_error("out of memory");
                        return PORTCTL_EXIT_ERROR;
                }
                if (print_json(ctx, o, true) < 0)
                        return PORTCTL_EXIT_ERROR;
        } else
                print_answered_by(ctx, true, NULL);
        return errors > 0 ? PORTCTL_EXIT_ERROR : PORTCTL_EXIT_OK;
}

int verb_verify(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        const char *reason = NULL;

        if (argc > 1) {
                portctl_error("verify takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        int r = answerer(ctx, &client, &reason);
        if (r < 0)
                return PORTCTL_EXIT_ERROR;
        /* Whoever answers, programs may not see it: nscd's services cache sits in front of portd. */
        nscd_warn_if_caching(ctx);
        return r > 0 ? verify_daemon(ctx, client) : verify_files(ctx, reason);
}

static void print_entry_line(const PortctlContext *ctx, const Catalog *c, const char *what, const ServiceEntry *e)
{
        _cleanup_free_ char *p = shown_path(ctx, c->sources[e->source].path);

        printf("%-9s %s %u/%s", what, e->name, e->port, e->protocol);
        for (size_t i = 0; i < e->n_aliases; i++)
                printf(" %s", e->aliases[i]);
        printf("\t%s:%u\n", p ?: c->sources[e->source].path, e->line);
}

static int explain_files(const PortctlContext *ctx, const char *arg, const char *reason)
{
        _cleanup_(catalog_freep) Catalog *c = NULL;
        _cleanup_free_ char *name = NULL;
        _cleanup_free_ const CatalogShadow **shadows = NULL;
        const ServiceEntry *winner;
        const char *protocol = NULL;
        size_t n;

        if (load(ctx, &c) < 0)
                return PORTCTL_EXIT_ERROR;

        name = strdup(arg);
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
                        (void) print_json(ctx, catalog_explain_to_json(c, name, protocol), false);
                else
                        (void) portctl_not_found(ctx, "no service '%s'%s%s%s", name,
                                protocol ? " over '" : "", protocol ?: "", protocol ? "'" : "");
                return PORTCTL_EXIT_NOT_FOUND;
        }

        if (ctx->json)
                return print_json(ctx, catalog_explain_to_json(c, name, protocol), false) == 0
                               ? PORTCTL_EXIT_OK
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
        print_answered_by(ctx, false, reason);
        return PORTCTL_EXIT_OK;
}

/* A Service object as print_entry_line() prints an entry. */
static void print_service_line(const char *what, struct json_object *service)
{
        struct json_object *v = NULL, *aliases = NULL, *source = NULL;

        printf("%-9s %s %" PRId64 "/%s", what,
                json_object_object_get_ex(service, "name", &v) ? json_object_get_string(v) : "?",
                json_object_object_get_ex(service, "port", &v) ? json_object_get_int64(v) : -1,
                json_object_object_get_ex(service, "protocol", &v) ? json_object_get_string(v) : "");
        if (json_object_object_get_ex(service, "aliases", &aliases) &&
                json_object_is_type(aliases, json_type_array))
                for (size_t i = 0; i < json_object_array_length(aliases); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(aliases, i)));
        (void) json_object_object_get_ex(service, "source", &source);
        printf("\t%s:%" PRId64 "\n",
                json_object_object_get_ex(source, "file", &v) ? json_object_get_string(v) : "?",
                json_object_object_get_ex(source, "line", &v) ? json_object_get_int64(v) : 0);
}

/* One Explain call: 0 with *ret set, -ENOENT for ServiceNotFound, other errors reported. */
static int explain_call(
        VarlinkClient *client, const char *name, const char *protocol, struct json_object **ret)
{
        _cleanup_json_ struct json_object *p = json_object_new_object();
        struct json_object *reply = NULL;
        const char *error = NULL;

        if (!p || json_add(p, "name", json_object_new_string(name)) < 0 ||
                (protocol && json_add(p, "protocol", json_object_new_string(protocol)) < 0))
                return -ENOMEM;
        int r = varlink_client_call(client, SERVICES_INTERFACE ".Explain", p, 0, &reply, &error);
        if (r >= 0 && error && streq(error, SERVICES_INTERFACE ".ServiceNotFound"))
                return -ENOENT;
        if (r < 0 || error) {
                portctl_error("explain: %s", error ?: strerror(-r));
                return r < 0 ? r : -EIO;
        }
        *ret = json_object_get(reply);
        return 0;
}

static int explain_daemon(const PortctlContext *ctx, VarlinkClient *client, const char *arg)
{
        _cleanup_json_ struct json_object *reply = NULL;
        _cleanup_free_ char *name = strdup(arg);
        struct json_object *winner = NULL, *replaced = NULL;
        const char *protocol = NULL;

        if (!name) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        int r = explain_call(client, name, NULL, &reply);
        /* As offline: only when the whole argument names nothing is the part after the last
         * slash taken as the protocol. */
        char *slash = strrchr(name, '/');
        if (r == -ENOENT && slash) {
                *slash = '\0';
                protocol = slash + 1;
                r = explain_call(client, name, protocol, &reply);
        }
        if (r == -ENOENT)
                return portctl_not_found(ctx, "no service '%s'%s%s%s", name, protocol ? " over '" : "",
                        protocol ?: "", protocol ? "'" : "");
        if (r == -ENOMEM)
                portctl_error("out of memory");
        if (r < 0)
                return PORTCTL_EXIT_ERROR;

        if (ctx->json)
                return print_json(ctx, TAKE_PTR(reply), true) == 0 ? PORTCTL_EXIT_OK : PORTCTL_EXIT_ERROR;

        if (json_object_object_get_ex(reply, "winner", &winner) &&
                json_object_is_type(winner, json_type_object))
                print_service_line("wins", winner);
        else
                printf("%-9s nothing: every definition was removed\n", "wins");
        if (json_object_object_get_ex(reply, "replaced", &replaced) &&
                json_object_is_type(replaced, json_type_array))
                for (size_t i = 0; i < json_object_array_length(replaced); i++) {
                        struct json_object *s = json_object_array_get_idx(replaced, i), *v = NULL,
                                           *by = NULL;
                        struct json_object *service = NULL;
                        bool removed =
                                json_object_object_get_ex(s, "removed", &v) && json_object_get_boolean(v);
                        (void) json_object_object_get_ex(s, "service", &service);
                        (void) json_object_object_get_ex(s, "by", &by);
                        print_service_line(removed ? "removed" : "replaced", service);
                        printf("%-9s   by %s:%" PRId64 "\n", "",
                                json_object_object_get_ex(by, "file", &v) ? json_object_get_string(v) : "?",
                                json_object_object_get_ex(by, "line", &v) ? json_object_get_int64(v) : 0);
                }
        print_answered_by(ctx, true, NULL);
        return PORTCTL_EXIT_OK;
}

int verb_explain(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        const char *reason = NULL;

        if (argc != 2) {
                portctl_error("explain takes one argument, NAME[/PROTO]");
                return PORTCTL_EXIT_ERROR;
        }
        int r = answerer(ctx, &client, &reason);
        if (r < 0)
                return PORTCTL_EXIT_ERROR;
        return r > 0 ? explain_daemon(ctx, client, argv[1]) : explain_files(ctx, argv[1], reason);
}
