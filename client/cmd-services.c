/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl lookup, port, list, status, reload, set and unset: io.portd.Services calls to the running
 * daemon (lookup, port and list read the files themselves with --root), printed as tables for people
 * or, with --json, as the interface's own fields for scripts. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "catalog-export.h"
#include "catalog-json.h"
#include "catalog.h"
#include "json-util.h"
#include "overrides.h"
#include "portctl.h"
#include "util.h"
#include "varlink-wire.h"

#define SERVICES_INTERFACE "io.portd.Services"

static void varlink_client_freep(VarlinkClient **c)
{
        varlink_client_free(*c);
}

static int daemon_connect(const PortctlContext *ctx, VarlinkClient **ret)
{
        int r = varlink_client_connect(ctx->socket_path, 0, ret);
        if (r < 0)
                portctl_error("cannot reach portd at '%s': %s", ctx->socket_path, strerror(-r));
        return r;
}

/* Says what went wrong with a call in one line.  ServiceNotFound is no error: callers handle it. */
static int call_failed(const char *what, int r, const char *error, struct json_object *parameters)
{
        if (r >= 0 && error) {
                struct json_object *p = NULL;
                if (streq(error, VARLINK_ERROR_INVALID_PARAMETER) && parameters &&
                        json_object_object_get_ex(parameters, "parameter", &p))
                        portctl_error("%s: invalid parameter '%s'", what, json_object_get_string(p));
                else if (streq(error, SERVICES_INTERFACE ".PermissionDenied") && parameters &&
                        json_object_object_get_ex(parameters, "message", &p) && json_object_is_type(p, json_type_string))
                        portctl_error("%s: permission denied: %s", what, json_object_get_string(p));
                else if (streq(error, SERVICES_INTERFACE ".PermissionDenied"))
                        portctl_error("%s: permission denied (only root may do this)", what);
                else if (parameters && json_object_object_get_ex(parameters, "message", &p))
                        portctl_error("%s: %s: %s", what, error, json_object_get_string(p));
                else
                        portctl_error("%s: %s", what, error);
        } else
                portctl_error("%s: %s", what, strerror(-r));
        return PORTCTL_EXIT_ERROR;
}

static const char *json_string_field(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return "";
        return json_object_get_string(v);
}

static int64_t json_int_field(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -1;
        return json_object_get_int64(v);
}

/* One service as the table cells: NAME, PORT/PROTO, ALIASES, SOURCE. */
typedef struct ServiceRow {
        char *cells[4];
} ServiceRow;

static int service_row(struct json_object *service, ServiceRow *ret)
{
        struct json_object *aliases = NULL, *source = NULL;
        char *list = NULL;
        size_t n = 0;

        *ret = (ServiceRow){};
        const char *protocol = json_string_field(service, "protocol");
        if (asprintf(&ret->cells[1], "%" PRId64 "%s%s", json_int_field(service, "port"),
                    *protocol ? "/" : "", protocol) < 0)
                return -ENOMEM;
        ret->cells[0] = strdup(json_string_field(service, "name"));

        if (json_object_object_get_ex(service, "aliases", &aliases) &&
                json_object_is_type(aliases, json_type_array))
                n = json_object_array_length(aliases);
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(json_object_get_string(json_object_array_get_idx(aliases, i)) ?: "") + 1;
        list = calloc(1, len);
        if (list)
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                strcat(list, " ");
                        strcat(list, json_object_get_string(json_object_array_get_idx(aliases, i)) ?: "");
                }
        ret->cells[2] = list;

        (void) json_object_object_get_ex(service, "source", &source);
        if (asprintf(&ret->cells[3], "%s:%" PRId64, json_string_field(source, "file"),
                    json_int_field(source, "line")) < 0)
                ret->cells[3] = NULL;

        for (size_t i = 0; i < ELEMENTSOF(ret->cells); i++)
                if (!ret->cells[i])
                        return -ENOMEM;
        return 0;
}

static void service_rows_free(ServiceRow *rows, size_t n)
{
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < ELEMENTSOF(rows[i].cells); j++)
                        free(rows[i].cells[j]);
        free(rows);
}

static int print_service_table(const PortctlContext *ctx, struct json_object *const *services, size_t n)
{
        static const char *const header[4] = { "NAME", "PORT", "ALIASES", "SOURCE" };
        ServiceRow *rows = calloc(n ? n : 1, sizeof(ServiceRow));
        size_t width[4];

        if (!rows) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        for (size_t j = 0; j < 4; j++)
                width[j] = ctx->legend ? strlen(header[j]) : 0;
        for (size_t i = 0; i < n; i++) {
                if (service_row(services[i], &rows[i]) < 0) {
                        service_rows_free(rows, i + 1);
                        portctl_error("out of memory");
                        return PORTCTL_EXIT_ERROR;
                }
                for (size_t j = 0; j < 4; j++)
                        width[j] = MAX(width[j], strlen(rows[i].cells[j]));
        }

        if (ctx->legend)
                printf("%-*s  %-*s  %-*s  %s\n", (int) width[0], header[0], (int) width[1], header[1],
                        (int) width[2], header[2], header[3]);
        for (size_t i = 0; i < n; i++)
                printf("%-*s  %-*s  %-*s  %s\n", (int) width[0], rows[i].cells[0], (int) width[1],
                        rows[i].cells[1], (int) width[2], rows[i].cells[2], rows[i].cells[3]);

        service_rows_free(rows, n);
        return PORTCTL_EXIT_OK;
}

/* Output that did not reach its file (a full disk, a closed pipe) is an error: an export cut short
 * must not pass for a whole one. */
static int stdout_flush(const char *what)
{
        if (fflush(stdout) != 0 || ferror(stdout)) {
                portctl_error("%s: cannot write the output: %s", what, strerror(errno));
                return PORTCTL_EXIT_ERROR;
        }
        return PORTCTL_EXIT_OK;
}

/* The services as a services(5) file, each line as catalog_export() writes it, so that the text
 * hashes to the daemon's digest. */
static int print_services_file(struct json_object *services)
{
        for (size_t i = 0; i < json_object_array_length(services); i++) {
                struct json_object *s = json_object_array_get_idx(services, i), *aliases = NULL;
                _cleanup_free_ const char **list = NULL;
                size_t n = 0;
                int64_t port = json_int_field(s, "port");

                if (port < 0 || port > 65535) {
                        portctl_error("list: bad reply from the daemon");
                        return PORTCTL_EXIT_ERROR;
                }
                if (json_object_object_get_ex(s, "aliases", &aliases) && json_object_is_type(aliases, json_type_array))
                        n = json_object_array_length(aliases);
                list = calloc(n + 1, sizeof(char *));
                if (!list) {
                        portctl_error("out of memory");
                        return PORTCTL_EXIT_ERROR;
                }
                for (size_t j = 0; j < n; j++)
                        list[j] = json_object_get_string(json_object_array_get_idx(aliases, j)) ?: "";
                if (service_line_write(stdout, json_string_field(s, "name"), (uint16_t) port,
                            json_string_field(s, "protocol"), list, n) < 0)
                        break; /* reported below */
        }
        return stdout_flush("list");
}

static void catalog_freep(Catalog **c)
{
        catalog_free(*c);
}

/* With --root, the files below it are read directly, as verify and explain do: the answers the
 * daemon would give for that tree, to check a configuration before it ships. */
static int load_offline(const PortctlContext *ctx, Catalog **ret)
{
        int r = catalog_load(ctx->root, ret);
        if (r < 0)
                portctl_error("cannot read the configuration below '%s': %s", ctx->root, strerror(-r));
        return r;
}

/* A lookup that found nothing says so in one line, as explain and who do, and exits 2 as getent. */
static int lookup_not_found(const PortctlContext *ctx, struct json_object *parameters)
{
        struct json_object *name = NULL, *port = NULL, *protocol = NULL;
        const char *p = json_object_object_get_ex(parameters, "protocol", &protocol)
                                ? json_object_get_string(protocol)
                                : NULL;

        if (json_object_object_get_ex(parameters, "port", &port))
                return portctl_not_found(
                        ctx, "no service on port %d%s%s", json_object_get_int(port), p ? "/" : "", p ?: "");
        (void) json_object_object_get_ex(parameters, "name", &name);
        return portctl_not_found(ctx, "no service '%s'%s%s%s", json_object_get_string(name) ?: "",
                p ? " over '" : "", p ?: "", p ? "'" : "");
}

static int lookup_offline(const PortctlContext *ctx, struct json_object *parameters)
{
        _cleanup_(catalog_freep) Catalog *c = NULL;
        _cleanup_json_ struct json_object *service = NULL;
        struct json_object *name = NULL, *port = NULL, *protocol = NULL;
        const char *p = NULL;
        const ServiceEntry *e = NULL;

        if (load_offline(ctx, &c) < 0)
                return PORTCTL_EXIT_ERROR;

        if (json_object_object_get_ex(parameters, "protocol", &protocol))
                p = json_object_get_string(protocol);
        if (json_object_object_get_ex(parameters, "name", &name))
                e = catalog_lookup_by_name(c, json_object_get_string(name), p);
        else if (json_object_object_get_ex(parameters, "port", &port))
                e = catalog_lookup_by_port(c, (uint16_t) json_object_get_int(port), p);
        if (!e)
                return lookup_not_found(ctx, parameters);

        service = service_entry_to_json(c, e);
        if (!service) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        if (ctx->json)
                return portctl_print_json(ctx, service);
        return print_service_table(ctx, &service, 1);
}

/* A GetServiceBy* call and its answer: 0 found, 2 not found, 1 error. */
static int lookup_one(const PortctlContext *ctx, const char *method, struct json_object *parameters)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        struct json_object *reply = NULL, *service = NULL;
        const char *error = NULL;
        int r;

        if (ctx->root)
                return lookup_offline(ctx, parameters);
        if (daemon_connect(ctx, &client) < 0)
                return PORTCTL_EXIT_ERROR;

        r = varlink_client_call(client, method, parameters, 0, &reply, &error);
        if (r >= 0 && error && streq(error, SERVICES_INTERFACE ".ServiceNotFound"))
                return lookup_not_found(ctx, parameters);
        if (r < 0 || error)
                return call_failed("lookup", r, error, reply);
        if (!json_object_object_get_ex(reply, "service", &service) ||
                !json_object_is_type(service, json_type_object)) {
                portctl_error("lookup: the daemon's reply has no service");
                return PORTCTL_EXIT_ERROR;
        }

        if (ctx->json)
                return portctl_print_json(ctx, service);
        return print_service_table(ctx, &service, 1);
}

/* PORT[/PROTOCOL] [PROTOCOL] as GetServiceByPort's parameters; a message and -EINVAL otherwise. */
static int port_parameters(const char *arg, const char *protocol_arg, struct json_object **ret)
{
        _cleanup_json_ struct json_object *parameters = NULL;
        _cleanup_free_ char *port_arg = strdup(arg);
        char *protocol = NULL, *end = NULL;

        if (!port_arg)
                return -ENOMEM;
        /* "80/tcp" as well as "80 tcp": a port has no slash, so the split is unambiguous. */
        protocol = strchr(port_arg, '/');
        if (protocol)
                *protocol++ = '\0';
        if (protocol && protocol_arg) {
                portctl_error("give the protocol once: 'PORT/PROTOCOL' or 'PORT PROTOCOL'");
                return -EINVAL;
        }

        errno = 0;
        unsigned long port = strtoul(port_arg, &end, 10);
        if (errno != 0 || !*port_arg || *end || port > 65535 || port_arg[0] == '-' || port_arg[0] == '+') {
                portctl_error("invalid port '%s': expected a number from 0 to 65535", arg);
                return -EINVAL;
        }
        protocol = protocol ?: (char *) protocol_arg;

        parameters = json_object_new_object();
        if (!parameters || json_object_object_add(parameters, "port", json_object_new_int((int) port)) < 0 ||
                (protocol && json_object_object_add(
                                     parameters, "protocol", json_object_new_string(protocol)) < 0))
                return -ENOMEM;
        *ret = TAKE_PTR(parameters);
        return 0;
}

static int port_lookup(const PortctlContext *ctx, const char *arg, const char *protocol_arg)
{
        _cleanup_json_ struct json_object *parameters = NULL;
        int r = port_parameters(arg, protocol_arg, &parameters);

        if (r == -ENOMEM)
                portctl_error("out of memory");
        if (r < 0)
                return PORTCTL_EXIT_ERROR;
        return lookup_one(ctx, SERVICES_INTERFACE ".GetServiceByPort", parameters);
}

int verb_lookup(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_json_ struct json_object *parameters = NULL;

        if (argc < 2 || argc > 3) {
                portctl_error("usage: portctl lookup NAME|PORT [PROTOCOL]");
                return PORTCTL_EXIT_ERROR;
        }
        /* As getent services: a key that is a number (with or without "/PROTOCOL") is a port. */
        size_t digits = strspn(argv[1], "0123456789");
        if (digits > 0 && (argv[1][digits] == '\0' || argv[1][digits] == '/'))
                return port_lookup(ctx, argv[1], argc > 2 ? argv[2] : NULL);

        parameters = json_object_new_object();
        if (!parameters || json_object_object_add(parameters, "name", json_object_new_string(argv[1])) < 0 ||
                (argc > 2 && json_object_object_add(
                                     parameters, "protocol", json_object_new_string(argv[2])) < 0)) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        return lookup_one(ctx, SERVICES_INTERFACE ".GetServiceByName", parameters);
}

int verb_port(int argc, char **argv, const PortctlContext *ctx)
{
        if (argc < 2 || argc > 3) {
                portctl_error("usage: portctl port PORT[/PROTOCOL] [PROTOCOL]");
                return PORTCTL_EXIT_ERROR;
        }
        return port_lookup(ctx, argv[1], argc > 2 ? argv[2] : NULL);
}

int verb_list(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        _cleanup_(catalog_freep) Catalog *c = NULL;
        _cleanup_json_ struct json_object *services = NULL;
        struct json_object *reply = NULL, *service = NULL;
        const char *error = NULL;
        int r, ret;

        if (argc > 1) {
                portctl_error("list takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        const char *format = ctx->format ?: ctx->json ? "json" : "table";

        /* Offline, the export is the very text the digest is computed over. */
        if (ctx->root && streq(format, "services")) {
                _cleanup_free_ char *text = NULL;
                size_t size;
                if (load_offline(ctx, &c) < 0)
                        return PORTCTL_EXIT_ERROR;
                if (catalog_export(c, &text, &size) < 0) {
                        portctl_error("out of memory");
                        return PORTCTL_EXIT_ERROR;
                }
                (void) fwrite(text, 1, size, stdout);
                return stdout_flush("list");
        }

        services = json_object_new_array();
        if (!services) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }

        if (ctx->root) {
                if (load_offline(ctx, &c) < 0)
                        return PORTCTL_EXIT_ERROR;
                for (size_t i = 0; i < c->n_entries; i++) {
                        struct json_object *o = service_entry_to_json(c, &c->entries[i]);
                        if (!o || json_object_array_add(services, o) < 0) {
                                json_object_put(o);
                                portctl_error("out of memory");
                                return PORTCTL_EXIT_ERROR;
                        }
                }
        } else {
                if (daemon_connect(ctx, &client) < 0)
                        return PORTCTL_EXIT_ERROR;

                r = varlink_client_call(
                        client, SERVICES_INTERFACE ".List", NULL, VARLINK_CALL_MORE, &reply, &error);
                for (;;) {
                        if (r >= 0 && error && streq(error, SERVICES_INTERFACE ".ServiceNotFound"))
                                break; /* an empty database */
                        if (r < 0 || error)
                                return call_failed("list", r, error, reply);
                        if (!json_object_object_get_ex(reply, "service", &service) ||
                                json_object_array_add(services, json_object_get(service)) < 0) {
                                portctl_error("list: bad reply from the daemon");
                                return PORTCTL_EXIT_ERROR;
                        }
                        if (r == 0)
                                break;
                        r = varlink_client_next(client, &reply, &error);
                }
        }

        if (streq(format, "json"))
                return portctl_print_json(ctx, services);
        if (streq(format, "services"))
                return print_services_file(services);

        size_t n = json_object_array_length(services);
        struct json_object **list = calloc(n ? n : 1, sizeof(struct json_object *));
        if (!list) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        for (size_t i = 0; i < n; i++)
                list[i] = json_object_array_get_idx(services, i);
        ret = print_service_table(ctx, list, n);
        free(list);
        return ret;
}

static void format_usec(int64_t usec, bool zone, char *buf, size_t size)
{
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec <= 0 || !localtime_r(&t, &tm) ||
                (zone ? strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) : strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm)) == 0)
                (void) snprintf(buf, size, "-");
}

static void print_status(struct json_object *status)
{
        struct json_object *sources = NULL;
        char when[64];

        format_usec(json_int_field(status, "loaded_usec"), true, when, sizeof(when));

        printf("      Version: portd %s\n", json_string_field(status, "version"));
        if (json_int_field(status, "pid") > 0)
                printf("          PID: %" PRId64 "\n", json_int_field(status, "pid"));
        else
                printf("          PID: -\n");
        printf("       Socket: %s\n", json_string_field(status, "socket"));

        printf("   Generation: %" PRId64 "\n", json_int_field(status, "generation"));
        printf("     Services: %" PRId64 "\n", json_int_field(status, "entries"));
        printf("       Digest: %s\n", json_string_field(status, "digest"));
        printf("       Loaded: %s\n", when);
        printf("     Snapshot: %" PRId64 " bytes\n", json_int_field(status, "snapshot_size"));
        int64_t errors = json_int_field(status, "errors"), warnings = json_int_field(status, "warnings");
        printf("     Problems: %" PRId64 " error%s, %" PRId64 " warning%s%s\n", errors,
                errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
                errors > 0 || warnings > 0 ? " (see 'portctl verify')" : "");

        if (!json_object_object_get_ex(status, "sources", &sources) ||
                !json_object_is_type(sources, json_type_array))
                return;
        printf("      Sources:\n");
        for (size_t i = 0; i < json_object_array_length(sources); i++) {
                struct json_object *s = json_object_array_get_idx(sources, i), *masked = NULL, *error = NULL;
                bool is_masked =
                        json_object_object_get_ex(s, "masked", &masked) && json_object_get_boolean(masked);

                printf("        %-8s %s", json_string_field(s, "layer"), json_string_field(s, "file"));
                if (is_masked)
                        printf(" (masked)");
                else {
                        int64_t entries = json_int_field(s, "entries"),
                                skipped = json_int_field(s, "skipped");
                        printf(": %" PRId64 " entr%s", entries, entries == 1 ? "y" : "ies");
                        if (skipped > 0)
                                printf(", %" PRId64 " line%s skipped", skipped, skipped == 1 ? "" : "s");
                        int64_t mtime = json_int_field(s, "mtime_usec");
                        if (mtime > 0) {
                                char m[64];
                                format_usec(mtime, false, m, sizeof(m));
                                printf(", modified %s", m);
                        }
                }
                if (json_object_object_get_ex(s, "error", &error) &&
                        json_object_is_type(error, json_type_string))
                        printf(" [cannot be read: %s; serving its last good state]",
                                json_object_get_string(error));
                putchar('\n');
        }
}

/* Who answers: its version (org.varlink.service.GetInfo), its PID (the kernel's word for the
 * socket's peer, SO_PEERCRED) and the socket asked, added to status as version, pid, socket. */
static int daemon_identity(VarlinkClient *client, const PortctlContext *ctx, struct json_object *status)
{
        struct json_object *info = NULL, *version = NULL;
        const char *error = NULL;
        struct ucred ucred = {};
        socklen_t l = sizeof(ucred);

        int r = varlink_client_call(client, "org.varlink.service.GetInfo", NULL, 0, &info, &error);
        if (r < 0 || error || !json_object_object_get_ex(info, "version", &version) ||
                !json_object_is_type(version, json_type_string))
                return r < 0 ? r : -EBADMSG;
        if (json_add(status, "version", json_object_new_string(json_object_get_string(version))) < 0 ||
                json_add(status, "socket", json_object_new_string(ctx->socket_path)) < 0)
                return -ENOMEM;
        if (getsockopt(varlink_client_get_fd(client), SOL_SOCKET, SO_PEERCRED, &ucred, &l) >= 0 &&
                ucred.pid > 0 && json_add(status, "pid", json_object_new_int64(ucred.pid)) < 0)
                return -ENOMEM;
        return 0;
}

int verb_status(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        _cleanup_json_ struct json_object *status = NULL;
        struct json_object *reply = NULL;
        const char *error = NULL;
        int r;

        if (argc > 1) {
                portctl_error("status takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        if (ctx->root) {
                portctl_error("status asks the running daemon; --root does not apply");
                return PORTCTL_EXIT_ERROR;
        }
        if (daemon_connect(ctx, &client) < 0)
                return PORTCTL_EXIT_ERROR;

        r = varlink_client_call(client, SERVICES_INTERFACE ".Status", NULL, 0, &reply, &error);
        if (r < 0 || error)
                return call_failed("status", r, error, reply);
        status = json_object_get(reply);
        if (daemon_identity(client, ctx, status) < 0) {
                portctl_error("status: cannot read the daemon's version");
                return PORTCTL_EXIT_ERROR;
        }

        nscd_warn_if_caching(ctx);
        if (ctx->json)
                return portctl_print_json(ctx, status);
        print_status(status);
        return PORTCTL_EXIT_OK;
}

int verb_reload(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        struct json_object *reply = NULL;
        const char *error = NULL;
        int r;

        if (argc > 1) {
                portctl_error("reload takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        if (ctx->root) {
                portctl_error("reload asks the running daemon; --root does not apply");
                return PORTCTL_EXIT_ERROR;
        }
        if (daemon_connect(ctx, &client) < 0)
                return PORTCTL_EXIT_ERROR;

        /* A large configuration may take a while to read: allow more than the default. */
        varlink_client_set_timeout(client, 30 * UINT64_C(1000000));
        r = varlink_client_call(client, SERVICES_INTERFACE ".Reload", NULL, 0, &reply, &error);
        if (r < 0 || error)
                return call_failed("reload", r, error, reply);
        return PORTCTL_EXIT_OK;
}

/* ---- set, unset: local overrides, through the daemon (root only) ---- */

/* Refuses --root: overrides are the running daemon's, written by it so that it applies them at once. */
static int override_connect(const PortctlContext *ctx, const char *verb, VarlinkClient **ret)
{
        if (ctx->root) {
                portctl_error("%s asks the running daemon; --root does not apply", verb);
                return -EINVAL;
        }
        if (daemon_connect(ctx, ret) < 0)
                return -ENOTCONN;
        /* The daemon rebuilds its catalog before it answers: as long as a reload may take. */
        varlink_client_set_timeout(*ret, 30 * UINT64_C(1000000));
        return 0;
}

static int json_add_string(struct json_object *o, const char *key, const char *value)
{
        struct json_object *s = json_object_new_string(value);
        if (!s || json_object_object_add(o, key, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

int verb_set(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        _cleanup_json_ struct json_object *parameters = NULL;
        _cleanup_free_ char *port_arg = NULL;
        struct json_object *reply = NULL, *service = NULL, *aliases = NULL;
        const char *error = NULL;
        char *protocol, *end = NULL;
        int r;

        if (argc < 3) {
                portctl_error("usage: portctl set NAME PORT/PROTOCOL [ALIAS...] [--runtime]");
                return PORTCTL_EXIT_ERROR;
        }
        if (argc - 3 > SERVICE_ALIASES_MAX) {
                portctl_error("at most %d aliases", SERVICE_ALIASES_MAX);
                return PORTCTL_EXIT_ERROR;
        }

        /* Checked here too, to name what is wrong; the daemon checks the same again. */
        if (!service_name_is_valid(argv[1])) {
                portctl_error("invalid service name '%s'", argv[1]);
                return PORTCTL_EXIT_ERROR;
        }
        for (int i = 3; i < argc; i++)
                if (!service_name_is_valid(argv[i])) {
                        portctl_error("invalid alias '%s'", argv[i]);
                        return PORTCTL_EXIT_ERROR;
                }

        port_arg = strdup(argv[2]);
        if (!port_arg) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        /* An entry always has a protocol: services(5) has no line without one to write. */
        protocol = strchr(port_arg, '/');
        if (!protocol) {
                portctl_error("expected PORT/PROTOCOL, not '%s'", argv[2]);
                return PORTCTL_EXIT_ERROR;
        }
        *protocol++ = '\0';
        if (!service_protocol_is_valid(protocol)) {
                portctl_error("invalid protocol '%s'", protocol);
                return PORTCTL_EXIT_ERROR;
        }
        errno = 0;
        unsigned long port = strtoul(port_arg, &end, 10);
        if (errno != 0 || !*port_arg || *end || port > 65535 || port_arg[0] == '-' || port_arg[0] == '+') {
                portctl_error("invalid port '%s': expected a number from 0 to 65535", port_arg);
                return PORTCTL_EXIT_ERROR;
        }

        parameters = json_object_new_object();
        aliases = json_object_new_array();
        if (!parameters || !aliases || json_add_string(parameters, "name", argv[1]) < 0 ||
                json_add_string(parameters, "protocol", protocol) < 0 ||
                json_object_object_add(parameters, "port", json_object_new_int((int) port)) < 0) {
                json_object_put(aliases);
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        for (int i = 3; i < argc; i++)
                if (json_object_array_add(aliases, json_object_new_string(argv[i])) < 0) {
                        json_object_put(aliases);
                        portctl_error("out of memory");
                        return PORTCTL_EXIT_ERROR;
                }
        if (json_object_object_add(parameters, "aliases", aliases) < 0 ||
                json_object_object_add(parameters, "runtime", json_object_new_boolean(ctx->runtime)) <
                        0) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }

        r = override_connect(ctx, "set", &client);
        if (r < 0)
                return PORTCTL_EXIT_ERROR;
        r = varlink_client_call(client, SERVICES_INTERFACE ".SetOverride", parameters, 0, &reply, &error);
        if (r < 0 || error)
                return call_failed("set", r, error, reply);
        if (!json_object_object_get_ex(reply, "service", &service) ||
                !json_object_is_type(service, json_type_object)) {
                portctl_error("set: the daemon's reply has no service");
                return PORTCTL_EXIT_ERROR;
        }

        if (ctx->json)
                return portctl_print_json(ctx, service);
        return print_service_table(ctx, &service, 1);
}

/* One UnsetOverride call; returns the number of lines removed or a negative errno (reported). */
static int unset_call(VarlinkClient *client, const PortctlContext *ctx, const char *name,
        const char *protocol, struct json_object **ret_reply)
{
        _cleanup_json_ struct json_object *parameters = json_object_new_object();
        struct json_object *reply = NULL;
        const char *error = NULL;
        int r;

        if (!parameters || json_add_string(parameters, "name", name) < 0 ||
                (protocol && json_add_string(parameters, "protocol", protocol) < 0) ||
                json_object_object_add(parameters, "runtime", json_object_new_boolean(ctx->runtime)) <
                        0) {
                portctl_error("out of memory");
                return -ENOMEM;
        }
        r = varlink_client_call(client, SERVICES_INTERFACE ".UnsetOverride", parameters, 0, &reply, &error);
        if (r < 0 || error) {
                (void) call_failed("unset", r, error, reply);
                return r < 0 ? r : -EIO;
        }
        int64_t removed = json_int_field(reply, "removed");
        if (removed < 0) {
                portctl_error("unset: the daemon's reply has no count");
                return -EBADMSG;
        }
        *ret_reply = reply;
        return (int) MIN(removed, (int64_t) INT32_MAX);
}

int verb_unset(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        _cleanup_free_ char *name = NULL;
        struct json_object *reply = NULL;
        const char *protocol = NULL;
        int r;

        if (argc != 2) {
                portctl_error("usage: portctl unset NAME[/PROTOCOL] [--runtime]");
                return PORTCTL_EXIT_ERROR;
        }
        name = strdup(argv[1]);
        if (!name) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        char *slash = strrchr(name, '/');
        if (!service_name_is_valid(name) && !slash) {
                portctl_error("invalid service name '%s'", name);
                return PORTCTL_EXIT_ERROR;
        }

        if (override_connect(ctx, "unset", &client) < 0)
                return PORTCTL_EXIT_ERROR;

        /* Names may contain slashes, as explain allows: only when the whole argument names no
         * override is the part after the last slash taken as the protocol. */
        r = 0;
        if (service_name_is_valid(name))
                r = unset_call(client, ctx, name, NULL, &reply);
        if (r == 0 && slash) {
                *slash = '\0';
                protocol = slash + 1;
                if (!service_name_is_valid(name) || !service_protocol_is_valid(protocol)) {
                        portctl_error("invalid NAME/PROTOCOL '%s'", argv[1]);
                        return PORTCTL_EXIT_ERROR;
                }
                r = unset_call(client, ctx, name, protocol, &reply);
        }
        if (r < 0)
                return PORTCTL_EXIT_ERROR;

        if (ctx->json)
                (void) portctl_print_json(ctx, reply);
        else if (r > 0)
                printf("Removed %d override%s of '%s'%s%s%s (%s).\n", r, r == 1 ? "" : "s", name,
                        protocol ? " over '" : "", protocol ?: "", protocol ? "'" : "",
                        ctx->runtime ? "runtime" : "persistent");
        if (r == 0) {
                if (!ctx->json)
                        portctl_error("no %s override of '%s'%s", ctx->runtime ? "runtime" : "persistent",
                                argv[1], ctx->runtime ? "" : " (runtime ones need --runtime)");
                return PORTCTL_EXIT_NOT_FOUND;
        }
        return PORTCTL_EXIT_OK;
}
