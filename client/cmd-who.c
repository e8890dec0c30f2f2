/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl who: which processes own a port, asked from portd's io.portd.Sockets and printed with
 * lsof's columns (plus the service, unit and container), or as the interface's rows with --json.
 * SPECs are lsof -i's: [PROTO][@HOST][:PORT[-PORT]], or a service name for its ports (who-spec.c). */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portctl.h"
#include "util.h"
#include "varlink-wire.h"
#include "who-spec.h"

#define SOCKETS_INTERFACE  "io.portd.Sockets"
#define SERVICES_INTERFACE "io.portd.Services"

static void varlink_client_freep(VarlinkClient **c)
{
        varlink_client_free(*c);
}

static void json_object_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* One List call's parameters. */
typedef struct WhoQuery {
        const char *protocol; /* NULL: all */
        char address[INET6_ADDRSTRLEN];
        unsigned port, port_max; /* 0: any */
} WhoQuery;

typedef struct WhoQueries {
        WhoQuery *items;
        size_t n, allocated;
} WhoQueries;

static int queries_add(WhoQueries *q, const WhoQuery *item)
{
        if (GROW(q->items, q->allocated, q->n + 1) < 0)
                return -ENOMEM;
        q->items[q->n++] = *item;
        return 0;
}

/* A service name's ports, as the daemon's catalog has them, for the protocol asked or for TCP
 * and UDP. 0 when the name is known, -ENOENT when not. */
static int resolve_service(VarlinkClient *client, const char *name, const WhoQuery *base, WhoQueries *out)
{
        static const char *const protocols[] = { "tcp", "udp", "sctp" };
        bool found = false;

        for (size_t i = 0; i < ELEMENTSOF(protocols); i++) {
                _cleanup_json_ struct json_object *p = json_object_new_object();
                struct json_object *reply = NULL, *service = NULL, *port = NULL;
                const char *error = NULL;

                if (base->protocol && !streq(base->protocol, protocols[i]))
                        continue;
                if (!p || json_object_object_add(p, "name", json_object_new_string(name)) < 0 ||
                        json_object_object_add(p, "protocol", json_object_new_string(protocols[i])) < 0)
                        return -ENOMEM;
                int r = varlink_client_call(
                        client, SERVICES_INTERFACE ".GetServiceByName", p, 0, &reply, &error);
                if (r < 0)
                        return r;
                if (error)
                        continue;
                if (!json_object_object_get_ex(reply, "service", &service) ||
                        !json_object_object_get_ex(service, "port", &port))
                        return -EBADMSG;
                WhoQuery q = *base;
                q.protocol = protocols[i];
                q.port = q.port_max = (unsigned) json_object_get_int(port);
                if (queries_add(out, &q) < 0)
                        return -ENOMEM;
                found = true;
        }
        return found ? 0 : -ENOENT;
}

/* One SPEC as List queries: a service name stands for its ports in the daemon's catalog. */
static int parse_spec(VarlinkClient *client, const char *spec, WhoQueries *out)
{
        WhoSpec w;
        int r;

        r = who_spec_parse(spec, &w);
        if (r == -EADDRNOTAVAIL)
                portctl_error("'%s': the address is not a numeric IPv4 or IPv6 address", spec);
        else if (r == -ERANGE)
                portctl_error("'%s': a port is 1 to 65535, a range runs from low to high", spec);
        else if (r < 0)
                portctl_error("'%s': expected [tcp|udp|sctp][@HOST][:PORT[-PORT]] or a service name", spec);
        if (r < 0)
                return r;

        WhoQuery q = { .protocol = w.protocol, .port = w.port, .port_max = w.port_max };
        memcpy(q.address, w.address, sizeof(q.address));
        if (!w.service)
                return queries_add(out, &q);

        r = resolve_service(client, w.service, &q, out);
        if (r == -ENOENT)
                portctl_error("'%s': no port or known service '%s'", spec, w.service);
        else if (r < 0)
                portctl_error("'%s': cannot look up service '%s': %s", spec, w.service, strerror(-r));
        return r;
}

typedef struct Rows {
        struct json_object **items; /* owner objects, referenced */
        size_t n, allocated;
} Rows;

static void rows_done(Rows *r)
{
        for (size_t i = 0; i < r->n; i++)
                json_object_put(r->items[i]);
        free(r->items);
}

static int64_t int_field(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -1;
        return json_object_get_int64(v);
}

static const char *string_field(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* Overlapping SPECs (":22" and "ssh") must not print a row twice. */
static bool rows_contain(const Rows *rows, struct json_object *o)
{
        for (size_t i = 0; i < rows->n; i++)
                if (int_field(rows->items[i], "inode") == int_field(o, "inode") &&
                        int_field(rows->items[i], "pid") == int_field(o, "pid") &&
                        int_field(rows->items[i], "fd") == int_field(o, "fd") &&
                        streq_ptr(string_field(rows->items[i], "netns"), string_field(o, "netns")) &&
                        int_field(rows->items[i], "port") == int_field(o, "port"))
                        return true;
        return false;
}

static int rows_add(Rows *rows, struct json_object *reply)
{
        struct json_object *owner = NULL;
        if (!json_object_object_get_ex(reply, "owner", &owner) ||
                !json_object_is_type(owner, json_type_object))
                return -EBADMSG;
        if (rows_contain(rows, owner))
                return 0;
        if (GROW(rows->items, rows->allocated, rows->n + 1) < 0)
                return -ENOMEM;
        rows->items[rows->n++] = json_object_get(owner);
        return 0;
}

/* One List call, every reply of its stream. 0, or 2 for NoSocketFound, or 1 after a message. */
static int run_query(VarlinkClient *client, const WhoQuery *q, const PortctlContext *ctx, Rows *rows)
{
        _cleanup_json_ struct json_object *p = json_object_new_object();
        struct json_object *reply = NULL;
        const char *error = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        if ((q->port && (json_object_object_add(p, "port", json_object_new_int((int) q->port)) < 0 ||
                                (q->port_max != q->port &&
                                        json_object_object_add(p, "port_max",
                                                json_object_new_int((int) q->port_max)) < 0))) ||
                (q->protocol &&
                        json_object_object_add(p, "protocol", json_object_new_string(q->protocol)) < 0) ||
                (q->address[0] &&
                        json_object_object_add(p, "address", json_object_new_string(q->address)) < 0) ||
                (ctx->all && json_object_object_add(p, "established", json_object_new_boolean(true)) < 0) ||
                (ctx->netns && json_object_object_add(p, "netns", json_object_new_string(ctx->netns)) < 0))
                return -ENOMEM;

        r = varlink_client_call(client, SOCKETS_INTERFACE ".List", p, VARLINK_CALL_MORE, &reply, &error);
        for (;;) {
                if (r < 0) {
                        portctl_error("who: %s", strerror(-r));
                        return PORTCTL_EXIT_ERROR;
                }
                if (error) {
                        struct json_object *v = NULL;
                        if (streq(error, SOCKETS_INTERFACE ".NoSocketFound"))
                                return PORTCTL_EXIT_NOT_FOUND;
                        if (streq(error, SOCKETS_INTERFACE ".PermissionDenied"))
                                /* Non-root callers see only their own namespace; root can be
                                 * refused too, by the kernel or an LSM. */
                                portctl_error("who: permission denied for network namespace '%s'",
                                        ctx->netns ?: "");
                        else if (streq(error, SOCKETS_INTERFACE ".NetworkNamespaceNotFound"))
                                portctl_error("who: no network namespace '%s'", ctx->netns ?: "");
                        else if (streq(error, VARLINK_ERROR_INVALID_PARAMETER) && reply &&
                                 json_object_object_get_ex(reply, "parameter", &v))
                                portctl_error("who: invalid parameter '%s'", json_object_get_string(v));
                        else
                                portctl_error("who: %s", error);
                        return PORTCTL_EXIT_ERROR;
                }
                if (rows_add(rows, reply) < 0) {
                        portctl_error("who: bad reply from the daemon");
                        return PORTCTL_EXIT_ERROR;
                }
                if (r == 0)
                        return PORTCTL_EXIT_OK;
                r = varlink_client_next(client, &reply, &error);
        }
}

/* lsof's NAME: "*:ssh (LISTEN)", "[::1]:53", "10.0.0.1:ssh->10.0.0.2:51234 (ESTAB)". */
static char *name_cell(struct json_object *o, bool numeric)
{
        const char *address = string_field(o, "address") ?: "?", *service = string_field(o, "service");
        const char *state = string_field(o, "state") ?: "", *remote = string_field(o, "remote_address");
        bool v6 = strchr(address, ':');
        bool any = streq(address, "0.0.0.0") || streq(address, "::");
        char port[16], remote_part[INET6_ADDRSTRLEN + 16] = "", *s = NULL;

        if (!numeric && service)
                snprintf(port, sizeof(port), "%.15s", service);
        else
                snprintf(port, sizeof(port), "%" PRId64, int_field(o, "port"));
        if (remote)
                snprintf(remote_part, sizeof(remote_part),
                        strchr(remote, ':') ? "->[%s]:%" PRId64 : "->%s:%" PRId64, remote,
                        int_field(o, "remote_port"));
        /* lsof prints UDP's state only for connected sockets; ss's UNCONN says nothing more. */
        bool show_state = *state && !streq(state, "UNCONN");
        if (asprintf(&s, "%s%s%s:%s%s%s%s%s", v6 && !any ? "[" : "", any ? "*" : address,
                    v6 && !any ? "]" : "", port, remote_part, show_state ? " (" : "",
                    show_state ? state : "", show_state ? ")" : "") < 0)
                return NULL;
        return s;
}

/* NETNS, the last, only when every namespace was asked for. */
#define N_COLUMNS 11

static int print_table(const Rows *rows, const PortctlContext *ctx)
{
        static const char *const header[N_COLUMNS] = { "COMMAND", "PID", "USER", "FD", "TYPE", "NODE",
                "NAME", "SERVICE", "UNIT", "CONTAINER", "NETNS" };
        size_t width[N_COLUMNS];
        char *(*cells)[N_COLUMNS] = calloc(rows->n ?: 1, sizeof(*cells));
        int r = PORTCTL_EXIT_OK;
        size_t n_columns = N_COLUMNS - 1;

        if (!cells)
                goto oom;
        for (size_t i = 0; i < rows->n; i++)
                if (string_field(rows->items[i], "netns"))
                        n_columns = N_COLUMNS;
        for (size_t j = 0; j < N_COLUMNS; j++)
                width[j] = strlen(header[j]);
        for (size_t i = 0; i < rows->n; i++) {
                struct json_object *o = rows->items[i];
                const char *protocol = string_field(o, "protocol") ?: "?";
                const char *address = string_field(o, "address") ?: "";
                bool has_pid = int_field(o, "pid") >= 0;
                char node[8];

                snprintf(node, sizeof(node), "%s", protocol);
                for (char *c = node; *c; c++)
                        *c = (char) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
                cells[i][0] = strdup(string_field(o, "command") ?: "-");
                if (has_pid) {
                        if (asprintf(&cells[i][1], "%" PRId64, int_field(o, "pid")) < 0)
                                cells[i][1] = NULL;
                        if (asprintf(&cells[i][3], "%" PRId64, int_field(o, "fd")) < 0)
                                cells[i][3] = NULL;
                } else {
                        cells[i][1] = strdup("-");
                        cells[i][3] = strdup("-");
                }
                /* USER: the process's; without a visible process, the socket's uid as ss shows it. */
                const char *user = string_field(o, "user");
                if (user)
                        cells[i][2] = strdup(user);
                else if (asprintf(&cells[i][2], "%" PRId64, int_field(o, "uid")) < 0)
                        cells[i][2] = NULL;
                cells[i][4] = strdup(strchr(address, ':') ? "IPv6" : "IPv4");
                cells[i][5] = strdup(node);
                cells[i][6] = name_cell(o, ctx->numeric_ports);
                cells[i][7] = strdup(string_field(o, "service") ?: "-");
                cells[i][8] = strdup(string_field(o, "unit") ?: "-");
                cells[i][9] = strdup(string_field(o, "container") ?: "-");
                cells[i][10] = strdup(string_field(o, "netns") ?: "-");
                for (size_t j = 0; j < N_COLUMNS; j++) {
                        if (!cells[i][j])
                                goto oom;
                        width[j] = MAX(width[j], strlen(cells[i][j]));
                }
        }

        for (size_t j = 0; j + 1 < n_columns; j++)
                printf("%-*s ", (int) width[j], header[j]);
        printf("%s\n", header[n_columns - 1]);
        for (size_t i = 0; i < rows->n; i++) {
                for (size_t j = 0; j + 1 < n_columns; j++)
                        /* numbers right-aligned, as lsof does */
                        printf(j == 1 || j == 3 ? "%*s " : "%-*s ", (int) width[j], cells[i][j]);
                printf("%s\n", cells[i][n_columns - 1]);
        }
        goto finish;
oom:
        portctl_error("out of memory");
        r = PORTCTL_EXIT_ERROR;
finish:
        for (size_t i = 0; cells && i < rows->n; i++)
                for (size_t j = 0; j < N_COLUMNS; j++)
                        free(cells[i][j]);
        free(cells);
        return r;
}

static int print_json_rows(const Rows *rows)
{
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < rows->n; i++)
                if (json_object_array_add(a, json_object_get(rows->items[i])) < 0)
                        return -ENOMEM;
        const char *s =
                json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        puts(s);
        return 0;
}

int verb_who(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        WhoQueries queries = {};
        Rows rows = {};
        int r, ret = PORTCTL_EXIT_ERROR;

        r = varlink_client_connect(ctx->socket_path, 0, &client);
        if (r < 0) {
                portctl_error("cannot reach portd at '%s': %s", ctx->socket_path, strerror(-r));
                return PORTCTL_EXIT_ERROR;
        }
        /* A full listing of a busy machine is a long stream. */
        (void) varlink_client_set_reply_max(client, 1024 * 1024);

        if (argc <= 1) {
                WhoQuery all = {};
                if (queries_add(&queries, &all) < 0)
                        goto oom;
        }
        for (int i = 1; i < argc; i++)
                if (parse_spec(client, argv[i], &queries) < 0)
                        goto finish;

        bool found = false;
        for (size_t i = 0; i < queries.n; i++) {
                r = run_query(client, &queries.items[i], ctx, &rows);
                if (r == -ENOMEM)
                        goto oom;
                if (r == PORTCTL_EXIT_ERROR)
                        goto finish;
                found = found || r == PORTCTL_EXIT_OK;
        }

        if (ctx->json) {
                if (print_json_rows(&rows) < 0)
                        goto oom;
        } else if (found && print_table(&rows, ctx) != PORTCTL_EXIT_OK)
                goto finish;
        ret = found ? PORTCTL_EXIT_OK : PORTCTL_EXIT_NOT_FOUND;
        goto finish;
oom:
        portctl_error("out of memory");
        ret = PORTCTL_EXIT_ERROR;
finish:
        rows_done(&rows);
        free(queries.items);
        return ret;
}
