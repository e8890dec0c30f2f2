/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl who: which processes own a port, asked from portd's io.portd.Sockets and printed with
 * lsof's columns (plus the service, unit and container), or as the interface's rows with --json.
 * SPECs are lsof -i's: [PROTO][@HOST][:PORT[-PORT]], or a service name for its ports (who-spec.c);
 * -p, -u, -c and -a select as lsof's do.  Linear in the rows: one hash set removes duplicates. */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <pwd.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flat-reply.h"
#include "portctl.h"
#include "util.h"
#include "varlink-wire.h"
#include "who-names.h"
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

/* One SPEC as List queries: a service name stands for its ports in the daemon's catalog, asked
 * of io.portd.Services (ctx->socket_path; *services is connected the first time). */
static int parse_spec(const PortctlContext *ctx, VarlinkClient **services, const char *spec, WhoQueries *out)
{
        bool all = ctx->all;
        WhoSpec w;
        int r;

        if (!*spec) /* a bare -i */
                return queries_add(out, &(WhoQuery){});
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
        /* lsof -i reads an unspecified address (0.0.0.0, ::) as no address at all: with -a, as lsof. */
        struct in6_addr a6 = {};
        if (all && (inet_pton(AF_INET, q.address, &a6) == 1 || inet_pton(AF_INET6, q.address, &a6) == 1) &&
                memcmp(&a6, &in6addr_any, sizeof(a6)) == 0)
                q.address[0] = '\0';
        if (!w.service)
                return queries_add(out, &q);

        if (!*services) {
                r = varlink_client_connect(ctx->socket_path, 0, services);
                if (r < 0) {
                        portctl_error("cannot reach portd at '%s': %s", ctx->socket_path, strerror(-r));
                        return r;
                }
        }
        r = resolve_service(*services, w.service, &q, out);
        if (r == -ENOENT)
                portctl_error("'%s': no port or known service '%s'", spec, w.service);
        else if (r < 0)
                portctl_error("'%s': cannot look up service '%s': %s", spec, w.service, strerror(-r));
        return r;
}

/* One row: the fields of the daemon's owner object, read once into the rows' arena; the object
 * itself only for --json, which prints it as it came.  A table of a busy host's hundred thousand
 * rows would otherwise keep as many json-c objects (a hash table each) alive to the end. */
typedef struct Row {
        struct json_object *owner; /* referenced, with --json only */
        int64_t pid, fd, inode, port, uid, remote_port;
        const char *netns, *command, *user, *protocol, *address, *service, *state, *remote_address, *unit,
                *container;
        bool by_spec;    /* came from a SPEC's query, not from the listing the other selections need */
        bool closed_tcp; /* a TCP socket bound but not listening, or closed */
} Row;

/* Strings that stay where they are until the end: blocks that are never moved. */
typedef struct ArenaBlock {
        struct ArenaBlock *next;
        size_t used, size;
        char data[];
} ArenaBlock;

#define ARENA_BLOCK_SIZE (64U * 1024U)

static void arena_free(ArenaBlock *b)
{
        while (b) {
                ArenaBlock *next = b->next;
                free(b);
                b = next;
        }
}

/* A copy of s in the arena; NULL stays NULL.  -ENOMEM in *error (sticky). */
static const char *arena_strdup(ArenaBlock **arena, const char *s, int *error)
{
        if (!s)
                return NULL;
        size_t n = strlen(s) + 1;
        ArenaBlock *b = *arena;
        if (!b || b->size - b->used < n) {
                size_t size = MAX((size_t) ARENA_BLOCK_SIZE, n);
                b = malloc(sizeof(ArenaBlock) + size);
                if (!b) {
                        *error = -ENOMEM;
                        return NULL;
                }
                *b = (ArenaBlock){ .next = *arena, .size = size };
                *arena = b;
        }
        char *p = memcpy(b->data + b->used, s, n);
        b->used += n;
        return p;
}

/* The rows, and an open-addressing set over them (slot = index + 1, 0 empty): overlapping SPECs
 * (":22" and "ssh") must not print a row twice, and a check against every earlier row made a
 * busy host's listing quadratic. */
typedef struct Rows {
        Row *items;
        size_t n, allocated;
        size_t *slots;
        size_t n_slots; /* a power of two, at least twice n */
        ArenaBlock *arena;
        bool keep_objects; /* --json */
        WhoNames *names;   /* the caller's catalog, borrowed; NULL: rows name no service */
} Rows;

static void rows_done(Rows *r)
{
        for (size_t i = 0; i < r->n; i++)
                json_object_put(r->items[i].owner);
        free(r->items);
        free(r->slots);
        arena_free(r->arena);
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

static uint64_t mix(uint64_t h, uint64_t v)
{
        h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
        return h * UINT64_C(0xff51afd7ed558ccd);
}

static uint64_t row_hash(const Row *r)
{
        uint64_t h = mix(mix(mix(mix(0, (uint64_t) r->inode), (uint64_t) r->pid), (uint64_t) r->fd),
                (uint64_t) r->port);
        for (const char *c = r->netns; c && *c; c++)
                h = mix(h, (unsigned char) *c);
        return h;
}

static bool row_same(const Row *a, const Row *b)
{
        return a->inode == b->inode && a->pid == b->pid && a->fd == b->fd && a->port == b->port &&
               streq_ptr(a->netns, b->netns);
}

/* The slot that holds a row equal to r, or the empty one where it would go. */
static size_t *rows_slot(const Rows *rows, const Row *r)
{
        size_t mask = rows->n_slots - 1;
        for (size_t i = row_hash(r) & mask;; i = (i + 1) & mask)
                if (rows->slots[i] == 0 || row_same(&rows->items[rows->slots[i] - 1], r))
                        return &rows->slots[i];
}

static int rows_rehash(Rows *rows, size_t n_slots)
{
        size_t *slots = calloc(n_slots, sizeof(size_t));
        if (!slots)
                return -ENOMEM;
        free(rows->slots);
        rows->slots = slots;
        rows->n_slots = n_slots;
        for (size_t i = 0; i < rows->n; i++)
                *rows_slot(rows, &rows->items[i]) = i + 1;
        return 0;
}

/* Owner's members that may follow "port", at most (io.portd.Sockets.varlink's has 15 in all). */
#define OWNER_MEMBERS_MAX 32U

/* Sets owner's "service" to name, where the interface's Owner had it (a daemon sent it until
 * portctl named the ports itself): right after "port", so that --json's rows read byte for byte
 * as they did.  json-c appends what it adds: the members after "port" are taken out and put back
 * behind it.  Without "port" (or with more members than Owner has) it goes last. */
static int owner_set_service(struct json_object *owner, const char *name)
{
        struct {
                char *key;
                struct json_object *value;
        } tail[OWNER_MEMBERS_MAX];
        size_t n = 0;
        bool after_port = false, move = true;
        int r = 0;

        json_object_object_del(owner, "service");
        json_object_object_foreach(owner, key, value) {
                if (!after_port) {
                        after_port = streq(key, "port");
                        continue;
                }
                if (n == ELEMENTSOF(tail)) {
                        move = false;
                        break;
                }
                tail[n].key = strdup(key);
                if (!tail[n].key) {
                        r = -ENOMEM;
                        move = false;
                        break;
                }
                tail[n++].value = json_object_get(value);
        }
        for (size_t i = 0; move && i < n; i++)
                json_object_object_del(owner, tail[i].key);
        struct json_object *v = r >= 0 ? json_object_new_string(name) : NULL;
        if (r >= 0 && (!v || json_object_object_add(owner, "service", v) < 0)) {
                json_object_put(v);
                r = -ENOMEM;
        }
        /* Put back in their order, each value's reference handed to owner (or dropped). */
        for (size_t i = 0; i < n; i++) {
                if (!move || json_object_object_add(owner, tail[i].key, tail[i].value) < 0) {
                        json_object_put(tail[i].value);
                        if (move)
                                r = -ENOMEM;
                }
                free(tail[i].key);
        }
        return r;
}

/* The row's service: its port's name in the caller's own catalog (who-names.c), borrowed from
 * rows->names, whatever the daemon's row said (an older daemon's named the host's); --json's
 * object (owner, when kept) carries the same. */
static int row_name_port(const Rows *rows, Row *r, struct json_object *owner)
{
        const char *name = NULL;
        int k;

        if (rows->names && r->port >= 0 && r->port <= UINT16_MAX) {
                k = who_names_lookup(rows->names, (uint16_t) r->port, r->protocol, &name);
                if (k < 0)
                        return k;
        }
        r->service = name;
        if (!rows->keep_objects || !owner)
                return 0;
        if (!name) {
                json_object_object_del(owner, "service");
                return 0;
        }
        return owner_set_service(owner, name);
}

/* Adds r (its strings anyone's: they are copied) unless an equal row is there; owner is the
 * object it came from, kept with --json. */
static int rows_insert(Rows *rows, Row *r, struct json_object *owner, bool by_spec)
{
        int error = 0;

        /* The fields that identify it first: a duplicate is dropped before anything is copied. */
        if ((rows->n + 1) * 2 > rows->n_slots &&
                rows_rehash(rows, rows->n_slots ? rows->n_slots * 2 : 1024) < 0)
                return -ENOMEM;
        size_t *slot = rows_slot(rows, r);
        if (*slot != 0)
                return 0;
        if (GROW(rows->items, rows->allocated, rows->n + 1) < 0)
                return -ENOMEM;

        r->netns = arena_strdup(&rows->arena, r->netns, &error);
        r->command = arena_strdup(&rows->arena, r->command, &error);
        r->user = arena_strdup(&rows->arena, r->user, &error);
        r->protocol = arena_strdup(&rows->arena, r->protocol, &error);
        r->address = arena_strdup(&rows->arena, r->address, &error);
        r->state = arena_strdup(&rows->arena, r->state, &error);
        r->remote_address = arena_strdup(&rows->arena, r->remote_address, &error);
        r->unit = arena_strdup(&rows->arena, r->unit, &error);
        r->container = arena_strdup(&rows->arena, r->container, &error);
        if (error < 0)
                return error;
        r->by_spec = by_spec;
        r->closed_tcp = streq_ptr(r->protocol, "tcp") && streq_ptr(r->state, "UNCONN");
        error = row_name_port(rows, r, owner);
        if (error < 0)
                return error;
        if (rows->keep_objects)
                r->owner = json_object_get(owner);
        rows->items[rows->n++] = *r;
        *slot = rows->n;
        return 0;
}

static int rows_add(Rows *rows, struct json_object *reply, bool by_spec)
{
        struct json_object *owner = NULL;

        if (!json_object_object_get_ex(reply, "owner", &owner) ||
                !json_object_is_type(owner, json_type_object))
                return -EBADMSG;

        Row r = {
                .pid = int_field(owner, "pid"),
                .fd = int_field(owner, "fd"),
                .inode = int_field(owner, "inode"),
                .port = int_field(owner, "port"),
                .uid = int_field(owner, "uid"),
                .remote_port = int_field(owner, "remote_port"),
                .netns = string_field(owner, "netns"),
                .command = string_field(owner, "command"),
                .user = string_field(owner, "user"),
                .protocol = string_field(owner, "protocol"),
                .address = string_field(owner, "address"),
                .service = string_field(owner, "service"),
                .state = string_field(owner, "state"),
                .remote_address = string_field(owner, "remote_address"),
                .unit = string_field(owner, "unit"),
                .container = string_field(owner, "container"),
        };
        return rows_insert(rows, &r, owner, by_spec);
}

/* A row's reply read without json-c (flat-reply.h), into the Row that rows_add() would make of
 * it: the daemon writes these members, strings and integers (io.portd.Sockets.varlink's Owner). */
typedef struct RowReader {
        Rows *rows;
        bool by_spec;
        FlatScratch scratch;
} RowReader;

static void row_reader_done(RowReader *rr)
{
        flat_scratch_done(&rr->scratch);
}

static int row_reader(const char *message, size_t size, bool *ret_continues, void *userdata)
{
        static const FlatMember members[] = {
                { "protocol", false, offsetof(Row, protocol) },
                { "address", false, offsetof(Row, address) },
                { "port", true, offsetof(Row, port) },
                { "service", false, offsetof(Row, service) },
                { "state", false, offsetof(Row, state) },
                { "inode", true, offsetof(Row, inode) },
                { "uid", true, offsetof(Row, uid) },
                { "remote_address", false, offsetof(Row, remote_address) },
                { "remote_port", true, offsetof(Row, remote_port) },
                { "netns", false, offsetof(Row, netns) },
                { "pid", true, offsetof(Row, pid) },
                { "command", false, offsetof(Row, command) },
                { "user", false, offsetof(Row, user) },
                { "fd", true, offsetof(Row, fd) },
                { "unit", false, offsetof(Row, unit) },
                { "container", false, offsetof(Row, container) },
        };
        RowReader *rr = userdata;
        /* As int_field() and string_field() read what is absent. */
        Row r = { .pid = -1, .fd = -1, .inode = -1, .port = -1, .uid = -1, .remote_port = -1 };

        int k = flat_reply_read(
                message, size, "owner", members, ELEMENTSOF(members), &r, &rr->scratch, ret_continues);
        if (k <= 0)
                return k;
        k = rows_insert(rr->rows, &r, NULL, rr->by_spec);
        return k < 0 ? k : 1;
}

/* ---- lsof's -p, -u, -c: inclusions ORed within an option, exclusions ('^') always applied ---- */

typedef struct IdItem {
        uint32_t id;
        const char *name; /* -u: the user's name, NULL when the uid has none */
        bool exclude;
} IdItem;

typedef struct CommandItem {
        const char *prefix; /* NULL: a regular expression */
        regex_t re;
        bool exclude;
} CommandItem;

typedef struct Selection {
        IdItem *pids, *users;
        size_t n_pids, n_users;
        CommandItem *commands;
        size_t n_commands;
        size_t include_pids, include_users, include_commands; /* counts of the inclusions */
        bool specs;                                           /* SPECs were given: a class too */
        bool and;                                             /* -a */
} Selection;

static void selection_done(Selection *s)
{
        free(s->pids);
        free(s->users);
        for (size_t i = 0; i < s->n_commands; i++)
                if (!s->commands[i].prefix)
                        regfree(&s->commands[i].re);
        free(s->commands);
}

static void free_user_names(IdItem *items, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free((char *) items[i].name);
}

/* "1,2,^3" or "root,^1000": each comma-separated item of every value of the option. */
static int parse_ids(const PortctlList *values, bool users, IdItem **ret, size_t *ret_n, size_t *ret_include)
{
        size_t n = 0, allocated = 0, include = 0, bad = 0;
        IdItem *items = NULL;

        for (size_t v = 0; v < values->n; v++) {
                const char *p = values->items[v];
                bad = v;
                for (;;) {
                        size_t len = strcspn(p, ",");
                        char item[256];
                        IdItem it = {};

                        if (len >= sizeof(item)) {
                                if (!users)
                                        goto invalid;
                                portctl_error("who: invalid user list '%s'", values->items[v]);
                                free_user_names(items, n);
                                free(items);
                                return -EINVAL;
                        }
                        memcpy(item, p, len);
                        item[len] = '\0';
                        const char *s = item;
                        if (*s == '^') {
                                it.exclude = true;
                                s++;
                        }
                        char *end = NULL;
                        errno = 0;
                        unsigned long id = strtoul(s, &end, 10);
                        bool numeric = *s >= '0' && *s <= '9' && !*end && errno == 0 && id <= UINT32_MAX;
                        if (users) {
                                /* As lsof: a login name or a uid; the name is what rows carry. */
                                struct passwd *pw = numeric ? getpwuid((uid_t) id) : getpwnam(s);
                                if (!pw && !numeric) {
                                        portctl_error("who: no user '%s'", s);
                                        free_user_names(items, n);
                                        free(items);
                                        return -ENOENT;
                                }
                                it.id = pw ? (uint32_t) pw->pw_uid : (uint32_t) id;
                                it.name = pw ? strdup(pw->pw_name) : NULL;
                                if (pw && !it.name) {
                                        free_user_names(items, n);
                                        free(items);
                                        return -ENOMEM;
                                }
                        } else if (!numeric || id == 0 || id > INT32_MAX)
                                goto invalid;
                        else
                                it.id = (uint32_t) id;
                        if (GROW(items, allocated, n + 1) < 0) {
                                free((char *) it.name);
                                free_user_names(items, n);
                                free(items);
                                return -ENOMEM;
                        }
                        items[n++] = it;
                        include += !it.exclude;
                        if (!p[len])
                                break;
                        p += len + 1;
                }
        }
        *ret = items;
        *ret_n = n;
        *ret_include = include;
        return 0;
invalid:
        portctl_error("who: invalid %s list '%s'", users ? "user" : "process ID", values->items[bad]);
        free(items); /* only -p gets here: no user names to free */
        return -EINVAL;
}

static int parse_commands(const PortctlList *values, Selection *sel)
{
        sel->commands = calloc(values->n ?: 1, sizeof(CommandItem));
        if (!sel->commands)
                return -ENOMEM;
        for (size_t v = 0; v < values->n; v++) {
                const char *s = values->items[v];
                CommandItem *it = &sel->commands[sel->n_commands];

                if (*s == '^') {
                        it->exclude = true;
                        s++;
                }
                size_t len = strlen(s);
                if (len >= 2 && s[0] == '/' && s[len - 1] == '/') {
                        _cleanup_free_ char *pattern = strndup(s + 1, len - 2);
                        if (!pattern)
                                return -ENOMEM;
                        if (regcomp(&it->re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
                                portctl_error("who: invalid regular expression '%s'", s);
                                return -EINVAL;
                        }
                } else if (!*s) {
                        portctl_error("who: -c needs a command");
                        return -EINVAL;
                } else
                        it->prefix = s;
                sel->n_commands++;
                sel->include_commands += !it->exclude;
        }
        return 0;
}

static int selection_parse(const PortctlContext *ctx, bool specs, Selection *ret)
{
        Selection sel = { .specs = specs, .and = ctx->all };
        int r;

        r = parse_ids(&ctx->pids, false, &sel.pids, &sel.n_pids, &sel.include_pids);
        if (r >= 0)
                r = parse_ids(&ctx->users, true, &sel.users, &sel.n_users, &sel.include_users);
        if (r >= 0)
                r = parse_commands(&ctx->commands, &sel);
        if (r < 0) {
                free_user_names(sel.users, sel.n_users);
                selection_done(&sel);
                return r;
        }
        *ret = sel;
        return 0;
}

/* The other selections than SPECs, which need every socket to choose from unless -a ANDs them. */
static bool selection_needs_listing(const Selection *sel)
{
        return !sel->and &&(sel->include_pids || sel->include_users || sel->include_commands);
}

static bool command_matches(const CommandItem *it, const char *command)
{
        if (!command)
                return false;
        if (it->prefix)
                return strncmp(command, it->prefix, strlen(it->prefix)) == 0;
        return regexec(&it->re, command, 0, NULL, 0) == 0;
}

/* A row's process user: by name where the daemon named it, else by the socket's uid (a process
 * the caller may not see, or a uid without a name). */
static bool user_matches(const IdItem *it, const Row *row)
{
        if (row->user)
                return it->name && streq(it->name, row->user);
        return row->uid >= 0 && (uint32_t) row->uid == it->id;
}

/* As lsof: exclusions drop a row whatever else holds; then, of the options given with inclusions
 * (SPECs, -p, -u, -c), one must select the row, or with -a every one. */
static bool row_selected(const Selection *sel, const Row *row)
{
        bool pid_in = false, user_in = false, command_in = false;

        /* A TCP socket only bound (or closed) is in none of the kernel's tables that lsof and
         * netstat read: lsof -i does not list it, and neither do we. */
        if (row->closed_tcp)
                return false;

        for (size_t i = 0; i < sel->n_pids; i++)
                if (row->pid >= 0 && (uint32_t) row->pid == sel->pids[i].id) {
                        if (sel->pids[i].exclude)
                                return false;
                        pid_in = true;
                }
        for (size_t i = 0; i < sel->n_users; i++)
                if (user_matches(&sel->users[i], row)) {
                        if (sel->users[i].exclude)
                                return false;
                        user_in = true;
                }
        for (size_t i = 0; i < sel->n_commands; i++)
                if (command_matches(&sel->commands[i], row->command)) {
                        if (sel->commands[i].exclude)
                                return false;
                        command_in = true;
                }

        bool classes[] = { sel->specs, sel->include_pids > 0, sel->include_users > 0,
                sel->include_commands > 0 };
        bool matched[] = { row->by_spec, pid_in, user_in, command_in };
        bool any_class = false, any = false, all = true;
        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                if (classes[i]) {
                        any_class = true;
                        any = any || matched[i];
                        all = all && matched[i];
                }
        if (!any_class)
                return true;
        return sel->and ? all : any;
}

/* Keeps the selected rows, in order. */
static void rows_select(Rows *rows, const Selection *sel)
{
        size_t k = 0;
        for (size_t i = 0; i < rows->n; i++) {
                if (row_selected(sel, &rows->items[i]))
                        rows->items[k++] = rows->items[i];
                else
                        json_object_put(rows->items[i].owner);
        }
        rows->n = k; /* the set is not used after this */
}

/* A query's parameters, for List or (follow: listening sockets only) Follow. */
static struct json_object *query_parameters(const WhoQuery *q, const PortctlContext *ctx, bool follow)
{
        _cleanup_json_ struct json_object *p = json_object_new_object();
        bool all = ctx->all && !follow;

        if (!p)
                return NULL;
        if ((q->port && (json_object_object_add(p, "port", json_object_new_int((int) q->port)) < 0 ||
                                (q->port_max != q->port &&
                                        json_object_object_add(p, "port_max",
                                                json_object_new_int((int) q->port_max)) < 0))) ||
                (q->protocol &&
                        json_object_object_add(p, "protocol", json_object_new_string(q->protocol)) < 0) ||
                (q->address[0] &&
                        json_object_object_add(p, "address", json_object_new_string(q->address)) < 0) ||
                /* lsof -a: every state, and a SPEC names the local or the remote end, as lsof -i */
                (all && json_object_object_add(p, "established", json_object_new_boolean(true)) < 0) ||
                (all && (q->port || q->address[0]) &&
                        json_object_object_add(p, "either_end", json_object_new_boolean(true)) < 0) ||
                (ctx->netns && json_object_object_add(p, "netns", json_object_new_string(ctx->netns)) < 0))
                return NULL;
        return TAKE_PTR(p);
}

/* A List or Follow call's error, in one line. */
static void report_error(const char *error, struct json_object *reply, const PortctlContext *ctx)
{
        struct json_object *v = NULL;

        if (streq(error, SOCKETS_INTERFACE ".PermissionDenied"))
                /* Non-root callers see only their own namespace; root can be refused too, by the
                 * kernel or an LSM. */
                portctl_error("who: permission denied for network namespace '%s'", ctx->netns ?: "");
        else if (streq(error, SOCKETS_INTERFACE ".NetworkNamespaceNotFound"))
                portctl_error("who: no network namespace '%s'", ctx->netns ?: "");
        else if (streq(error, VARLINK_ERROR_INVALID_PARAMETER) && reply &&
                 json_object_object_get_ex(reply, "parameter", &v))
                portctl_error("who: invalid parameter '%s'", json_object_get_string(v));
        else if (streq(error, SOCKETS_INTERFACE ".TooManyFollowers"))
                portctl_error("who: too many followers already, for this user or in all");
        else if (streq(error, SOCKETS_INTERFACE ".QueryFailed") && reply &&
                 json_object_object_get_ex(reply, "message", &v) && json_object_is_type(v, json_type_string))
                portctl_error("who: %s", json_object_get_string(v));
        else
                portctl_error("who: %s", error);
}

/* One List call, every reply of its stream. 0, or 2 for NoSocketFound, or 1 after a message. */
static int run_query(
        VarlinkClient *client, const WhoQuery *q, const PortctlContext *ctx, bool by_spec, Rows *rows)
{
        _cleanup_json_ struct json_object *p = query_parameters(q, ctx, false);
        _cleanup_(row_reader_done) RowReader reader = { .rows = rows, .by_spec = by_spec };
        struct json_object *reply = NULL;
        const char *error = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = varlink_client_call(client, SOCKETS_INTERFACE ".List", p, VARLINK_CALL_MORE, &reply, &error);
        for (;;) {
                if (r < 0) {
                        portctl_error("who: %s", strerror(-r));
                        return PORTCTL_EXIT_ERROR;
                }
                if (error) {
                        if (streq(error, SOCKETS_INTERFACE ".NoSocketFound"))
                                return PORTCTL_EXIT_NOT_FOUND;
                        report_error(error, reply, ctx);
                        return PORTCTL_EXIT_ERROR;
                }
                /* A reply the reader took is in rows already. */
                int k = reply ? rows_add(rows, reply, by_spec) : 0;
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        portctl_error("who: bad reply from the daemon");
                        return PORTCTL_EXIT_ERROR;
                }
                if (r == 0)
                        return PORTCTL_EXIT_OK;
                /* With --json the rows keep json-c's objects: no reader then. */
                r = rows->keep_objects
                            ? varlink_client_next(client, &reply, &error)
                            : varlink_client_next_with(client, row_reader, &reader, &reply, &error);
                if (r == -ENOMEM)
                        return r;
        }
}

/* lsof's TCP state names (ss writes ESTAB, FIN-WAIT-1, ...).  A TCP socket that is bound or
 * closed but not listening is lsof's CLOSED; UDP has no state in lsof's NAME. */
static const char *lsof_state(const char *protocol, const char *state)
{
        static const char *const names[][2] = {
                { "ESTAB", "ESTABLISHED" },
                { "SYN-SENT", "SYN_SENT" },
                { "SYN-RECV", "SYN_RECV" },
                { "FIN-WAIT-1", "FIN_WAIT1" },
                { "FIN-WAIT-2", "FIN_WAIT2" },
                { "TIME-WAIT", "TIME_WAIT" },
                { "CLOSE-WAIT", "CLOSE_WAIT" },
                { "LAST-ACK", "LAST_ACK" },
                { "UNCONN", "CLOSED" },
        };

        if (!state || !*state || streq_ptr(protocol, "udp"))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(state, names[i][0]))
                        return names[i][1];
        return state;
}

/* Text appended to a buffer and cut at its size, as snprintf() cuts: the table's cells of a
 * hundred thousand rows, where snprintf()'s format parsing was a sixth of portctl's time. */
typedef struct Text {
        char *p;
        size_t n, size; /* size >= 1; p[n] is the NUL */
} Text;

static void text_add(Text *t, const char *s, size_t len)
{
        len = MIN(len, t->size - 1 - t->n);
        memcpy(t->p + t->n, s, len);
        t->n += len;
        t->p[t->n] = '\0';
}

static void text_str(Text *t, const char *s)
{
        text_add(t, s, strlen(s));
}

static void text_int(Text *t, int64_t v)
{
        char buf[24], *p = buf + sizeof(buf);
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;

        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) != 0);
        if (v < 0)
                *--p = '-';
        text_add(t, p, (size_t) (buf + sizeof(buf) - p));
}

/* lsof's NAME: "*:ssh (LISTEN)", "[::1]:53", "10.0.0.1:ssh->10.0.0.2:51234 (ESTABLISHED)", written
 * to buf (truncated to its size, which holds any valid row's; the port to 15 characters and the
 * remote end to 61, as they always were). */
static void name_cell(const Row *row, bool numeric, char *buf, size_t size)
{
        const char *address = row->address ?: "?";
        const char *state = lsof_state(row->protocol, row->state);
        bool v6 = strchr(address, ':');
        bool any = streq(address, "0.0.0.0") || streq(address, "::");
        char port_buf[16], remote_buf[INET6_ADDRSTRLEN + 16];
        Text port = { port_buf, 0, sizeof(port_buf) }, remote = { remote_buf, 0, sizeof(remote_buf) };
        Text out = { buf, 0, size };

        port_buf[0] = remote_buf[0] = '\0';
        if (!numeric && row->service)
                text_str(&port, row->service);
        else
                text_int(&port, row->port);
        if (row->remote_address) {
                bool remote_v6 = strchr(row->remote_address, ':');
                text_str(&remote, remote_v6 ? "->[" : "->");
                text_str(&remote, row->remote_address);
                text_str(&remote, remote_v6 ? "]:" : ":");
                text_int(&remote, row->remote_port);
        }
        buf[0] = '\0';
        text_str(&out, v6 && !any ? "[" : "");
        text_str(&out, any ? "*" : address);
        text_str(&out, v6 && !any ? "]:" : ":");
        text_add(&out, port_buf, port.n);
        text_add(&out, remote_buf, remote.n);
        if (state) {
                text_str(&out, " (");
                text_str(&out, state);
                text_str(&out, ")");
        }
}

/* A uid's name, as lsof's USER shows it; the number where it has none.  Rows of one host have few
 * distinct uids: a small cache keeps the listing linear without a passwd lookup per row. */
typedef struct UserCache {
        struct {
                int64_t uid;
                char *name;
        } items[64];
        size_t n;
} UserCache;

static void user_cache_done(UserCache *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->items[i].name);
}

/* The name is the row's or the cache's; buf holds the number when there is no name. */
static const char *user_cell(UserCache *c, const Row *row, char *buf, size_t size)
{
        if (row->user)
                return row->user;
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].uid == row->uid)
                        return c->items[i].name;
        struct passwd *pw = row->uid >= 0 ? getpwuid((uid_t) row->uid) : NULL;
        const char *name = buf;
        if (pw)
                name = pw->pw_name;
        else
                snprintf(buf, size, "%" PRId64, row->uid);
        if (c->n < ELEMENTSOF(c->items)) {
                c->items[c->n].uid = row->uid;
                c->items[c->n].name = strdup(name);
                if (c->items[c->n].name)
                        return c->items[c->n++].name;
        }
        return name;
}

/* NETNS, the last, only when every namespace was asked for. */
#define N_COLUMNS 11

/* Every cell of the table in one growing buffer, each at an offset: a busy host's listing has a
 * hundred thousand rows, and a malloc()ed string per cell was most of the printing time. */
typedef struct Cells {
        char *text;
        size_t size, allocated;
        size_t (*offsets)[N_COLUMNS];
} Cells;

static int cells_add(Cells *c, size_t row, size_t column, const char *s, size_t *width)
{
        size_t n = strlen(s);
        if (c->allocated - c->size < n + 1) {
                size_t a = MAX(c->allocated * 2, c->size + n + 1);
                char *t = realloc(c->text, a);
                if (!t)
                        return -ENOMEM;
                c->text = t;
                c->allocated = a;
        }
        memcpy(c->text + c->size, s, n + 1);
        c->offsets[row][column] = c->size;
        c->size += n + 1;
        *width = MAX(*width, n);
        return 0;
}

/* s padded to width, on the left for numbers as lsof does; the last column unpadded. */
static void put_cell(const char *s, size_t width, bool right, bool last)
{
        size_t n = strlen(s);
        static const char spaces[] = "                                                                ";

        for (size_t pad = width - MIN(width, n); right && pad > 0;) {
                size_t k = MIN(pad, sizeof(spaces) - 1);
                fwrite_unlocked(spaces, 1, k, stdout);
                pad -= k;
        }
        fwrite_unlocked(s, 1, n, stdout);
        if (last) {
                fputc_unlocked('\n', stdout);
                return;
        }
        for (size_t pad = right ? 1 : width - MIN(width, n) + 1; pad > 0;) {
                size_t k = MIN(pad, sizeof(spaces) - 1);
                fwrite_unlocked(spaces, 1, k, stdout);
                pad -= k;
        }
}

static int print_table(const Rows *rows, const PortctlContext *ctx)
{
        static const char *const header[N_COLUMNS] = { "COMMAND", "PID", "USER", "FD", "TYPE", "NODE",
                "NAME", "SERVICE", "UNIT", "CONTAINER", "NETNS" };
        _cleanup_(user_cache_done) UserCache users = {};
        size_t width[N_COLUMNS];
        Cells cells = { .offsets = calloc(rows->n ?: 1, sizeof(*cells.offsets)) };
        int r = PORTCTL_EXIT_OK;
        size_t n_columns = N_COLUMNS - 1;

        if (!cells.offsets)
                goto oom;
        for (size_t i = 0; i < rows->n; i++)
                if (rows->items[i].netns)
                        n_columns = N_COLUMNS;
        for (size_t j = 0; j < N_COLUMNS; j++)
                width[j] = ctx->legend ? strlen(header[j]) : 0;
        for (size_t i = 0; i < rows->n; i++) {
                const Row *row = &rows->items[i];
                const char *protocol = row->protocol ?: "?";
                const char *address = row->address ?: "";
                char node[8], pid[24] = "-", fd[24] = "-", uid[24], name[512];
                const char *cell[N_COLUMNS];

                Text node_text = { node, 0, sizeof(node) };
                text_str(&node_text, protocol);
                for (char *c = node; *c; c++)
                        *c = (char) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
                if (row->pid >= 0) {
                        Text t = { pid, 0, sizeof(pid) };
                        text_int(&t, row->pid);
                        /* lsof's FD with its mode: a socket is always open for reading and
                         * writing ('u'), whatever was done with it since. */
                        t = (Text){ fd, 0, sizeof(fd) };
                        text_int(&t, row->fd);
                        text_str(&t, "u");
                }
                name_cell(row, ctx->numeric_ports, name, sizeof(name));
                cell[0] = row->command ?: "-";
                cell[1] = pid;
                /* USER: the process's; without a visible process, the socket's owner as ss
                 * shows it, by name where it has one. */
                cell[2] = user_cell(&users, row, uid, sizeof(uid));
                cell[3] = fd;
                cell[4] = strchr(address, ':') ? "IPv6" : "IPv4";
                cell[5] = node;
                cell[6] = name;
                cell[7] = row->service ?: "-";
                cell[8] = row->unit ?: "-";
                cell[9] = row->container ?: "-";
                cell[10] = row->netns ?: "-";
                for (size_t j = 0; j < N_COLUMNS; j++)
                        if (cells_add(&cells, i, j, cell[j], &width[j]) < 0)
                                goto oom;
        }

        if (ctx->legend)
                for (size_t j = 0; j < n_columns; j++)
                        put_cell(header[j], width[j], false, j + 1 == n_columns);
        for (size_t i = 0; i < rows->n; i++)
                for (size_t j = 0; j < n_columns; j++)
                        put_cell(cells.text + cells.offsets[i][j], width[j], j == 1 || j == 3,
                                j + 1 == n_columns);
        if (fflush(stdout) != 0) {
                portctl_error("who: cannot write the output: %s", strerror(errno));
                r = PORTCTL_EXIT_ERROR;
        }
        goto finish;
oom:
        portctl_error("out of memory");
        r = PORTCTL_EXIT_ERROR;
finish:
        free(cells.text);
        free(cells.offsets);
        return r;
}

static int print_json_rows(const Rows *rows, const PortctlContext *ctx)
{
        _cleanup_json_ struct json_object *a =
                json_object_new_array_ext((int) MIN(rows->n, (size_t) INT32_MAX));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < rows->n; i++)
                if (json_object_array_add(a, json_object_get(rows->items[i].owner)) < 0)
                        return -ENOMEM;
        return portctl_print_json(ctx, a) == PORTCTL_EXIT_OK ? 0 : -EIO;
}

/* ---- --follow: io.portd.Sockets.Follow, a line per socket that starts or stops listening ---- */

/* Followers per user the daemon keeps (io.portd.Sockets.varlink): more SPECs than that cannot be
 * followed at once anyway. */
#define FOLLOW_CALLS_MAX 4U
/* follow_next(): the stream goes on (every other value is an exit status). */
#define FOLLOW_CONTINUE (-1)

static int follow_start(const WhoQuery *q, const PortctlContext *ctx, VarlinkClient **ret)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        _cleanup_json_ struct json_object *p = query_parameters(q, ctx, true);
        struct json_object *reply = NULL, *v = NULL;
        const char *error = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = portctl_connect_sockets(ctx, &client);
        if (r < 0)
                return PORTCTL_EXIT_ERROR;
        r = varlink_client_call(client, SOCKETS_INTERFACE ".Follow", p, VARLINK_CALL_MORE, &reply, &error);
        if (r < 0) {
                portctl_error("who: %s", strerror(-r));
                return PORTCTL_EXIT_ERROR;
        }
        if (error) {
                report_error(error, reply, ctx);
                return PORTCTL_EXIT_ERROR;
        }
        if (r == 0 || !json_object_object_get_ex(reply, "event", &v) ||
                !streq_ptr(json_object_get_string(v), "following")) {
                portctl_error("who: bad reply from the daemon");
                return PORTCTL_EXIT_ERROR;
        }
        if (ctx->json && portctl_print_json(ctx, reply) != PORTCTL_EXIT_OK)
                return PORTCTL_EXIT_ERROR;
        /* Events may be hours apart: wait for the next one without a deadline. */
        varlink_client_set_timeout(client, UINT64_MAX);
        *ret = TAKE_PTR(client);
        return PORTCTL_EXIT_OK;
}

/* TIME EVENT, then who's columns but SERVICE (NAME shows it unless -P): widths fixed, as a line
 * is printed when its event comes. */
static int print_follow_event(struct json_object *reply, const char *event, const Row *row, UserCache *users,
        const PortctlContext *ctx)
{
        struct json_object *v = NULL;
        int64_t usec = json_object_object_get_ex(reply, "usec", &v) ? json_object_get_int64(v) : 0;
        const char *protocol = row->protocol ?: "?";
        const char *address = row->address ?: "";
        char when[32] = "-", pid[24] = "-", fd[24] = "-", node[8], uid[24], name[512];
        const char *user = user_cell(users, row, uid, sizeof(uid));
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        name_cell(row, ctx->numeric_ports, name, sizeof(name));
        if (usec > 0 && localtime_r(&t, &tm))
                (void) strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        if (row->pid >= 0) {
                snprintf(pid, sizeof(pid), "%" PRId64, row->pid);
                snprintf(fd, sizeof(fd), "%" PRId64 "u", row->fd);
        }
        snprintf(node, sizeof(node), "%s", protocol);
        for (char *c = node; *c; c++)
                *c = (char) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        printf("%-19s %-7s %-15s %7s %-8s %4s %-4s %-4s %-24s %s %s%s%s\n", when, event, row->command ?: "-",
                pid, user, fd, strchr(address, ':') ? "IPv6" : "IPv4", node, name,
                row->unit ?: "-", row->container ?: "-",
                row->netns ? " " : "", row->netns ?: "");
        return 0;
}

/* The next reply of a follower: FOLLOW_CONTINUE, else the exit status. */
static int follow_next(VarlinkClient *client, const Selection *sel, WhoNames *names, UserCache *users,
        const PortctlContext *ctx)
{
        struct json_object *reply = NULL;
        const char *error = NULL, *event;
        Rows one = { .keep_objects = ctx->json, .names = names };
        int r = varlink_client_next(client, &reply, &error);

        if (r < 0) {
                portctl_error(
                        "who: %s", r == -ECONNRESET ? "the daemon closed the connection" : strerror(-r));
                return PORTCTL_EXIT_ERROR;
        }
        if (error) {
                report_error(error, reply, ctx);
                return PORTCTL_EXIT_ERROR;
        }
        event = string_field(reply, "event");
        if (!streq_ptr(event, "started") && !streq_ptr(event, "stopped")) {
                portctl_error("who: bad reply from the daemon");
                return PORTCTL_EXIT_ERROR;
        }
        /* A catalog changed since the last event names this one's port (the image says so; only
         * then is the daemon asked).  While the new one cannot be had, the event names none. */
        if (names)
                (void) who_names_refresh(names);
        r = rows_add(&one, reply, true);
        if (r < 0 || one.n != 1) {
                rows_done(&one);
                portctl_error(r == -ENOMEM ? "out of memory" : "who: bad reply from the daemon");
                return PORTCTL_EXIT_ERROR;
        }
        if (row_selected(sel, &one.items[0])) {
                if (ctx->json)
                        r = portctl_print_json(ctx, reply) == PORTCTL_EXIT_OK ? 0 : -EIO;
                else
                        r = print_follow_event(reply, event, &one.items[0], users, ctx);
        }
        rows_done(&one);
        if (r == -ENOMEM) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        if (r < 0 || fflush(stdout) != 0)
                return PORTCTL_EXIT_ERROR; /* the reader is gone */
        return FOLLOW_CONTINUE;
}

/* A Follow call per query, each on its own connection, read as their events come.  Returns only
 * on an error: the daemon's, or the reader's going. */
static int who_follow(
        const WhoQueries *queries, const Selection *sel, WhoNames *names, const PortctlContext *ctx)
{
        VarlinkClient *clients[FOLLOW_CALLS_MAX] = {};
        struct pollfd fds[FOLLOW_CALLS_MAX];
        _cleanup_(user_cache_done) UserCache users = {};
        int r = PORTCTL_EXIT_ERROR;

        if (queries->n > FOLLOW_CALLS_MAX) {
                portctl_error("who: --follow takes at most %u ports or ranges (the SPECs name %zu)",
                        FOLLOW_CALLS_MAX, queries->n);
                return PORTCTL_EXIT_ERROR;
        }
        for (size_t i = 0; i < queries->n; i++) {
                r = follow_start(&queries->items[i], ctx, &clients[i]);
                if (r == -ENOMEM) {
                        portctl_error("out of memory");
                        r = PORTCTL_EXIT_ERROR;
                }
                if (r != PORTCTL_EXIT_OK)
                        goto finish;
        }
        if (!ctx->json && ctx->legend) {
                printf("%-19s %-7s %-15s %7s %-8s %4s %-4s %-4s %-24s %s %s%s\n", "TIME", "EVENT", "COMMAND",
                        "PID", "USER", "FD", "TYPE", "NODE", "NAME", "UNIT", "CONTAINER",
                        ctx->netns && streq(ctx->netns, "all") ? " NETNS" : "");
        }
        if (fflush(stdout) != 0)
                goto finish;

        for (;;) {
                /* What a client read already first: poll() sees only the sockets. */
                for (size_t i = 0; i < queries->n; i++)
                        while (varlink_client_has_input(clients[i])) {
                                r = follow_next(clients[i], sel, names, &users, ctx);
                                if (r != FOLLOW_CONTINUE)
                                        goto finish;
                        }
                for (size_t i = 0; i < queries->n; i++)
                        fds[i] =
                                (struct pollfd){ .fd = varlink_client_get_fd(clients[i]), .events = POLLIN };
                if (poll(fds, queries->n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        portctl_error("who: %s", strerror(errno));
                        r = PORTCTL_EXIT_ERROR;
                        goto finish;
                }
                for (size_t i = 0; i < queries->n; i++) {
                        if (fds[i].revents == 0)
                                continue;
                        r = follow_next(clients[i], sel, names, &users, ctx);
                        if (r != FOLLOW_CONTINUE)
                                goto finish;
                }
        }
finish:
        for (size_t i = 0; i < queries->n; i++)
                varlink_client_free(clients[i]);
        return r == FOLLOW_CONTINUE ? PORTCTL_EXIT_ERROR : r;
}

/* The caller's catalog, to name the rows' ports: the one its lookups see, which only the
 * Services socket knows (the owner-query worker does not decide scopes).  Without it the rows
 * name no service, and a line says why: never another view's names. */
static int names_open(const PortctlContext *ctx, WhoNames **ret)
{
        _cleanup_free_ char *error = NULL;
        int r = who_names_new(ctx->socket_path, ret, &error);

        if (r == -ENOMEM)
                return r;
        if (r == -EREMOTEIO && streq_ptr(error, SERVICES_INTERFACE ".CallerUnidentified"))
                portctl_error("who: ports are not named: portd cannot tell this caller's scope");
        else if (r == -EREMOTEIO)
                portctl_error("who: ports are not named: %s", error ?: "error");
        else if (r < 0)
                portctl_error("who: ports are not named: cannot get the catalog from '%s': %s",
                        ctx->socket_path, strerror(-r));
        if (r < 0)
                *ret = NULL;
        return 0;
}

/* The SPECs of -i and of the arguments, in that order.  A bare -i ("") means every socket, as
 * lsof's does, but only alone: "-i :80" reaches us as a bare -i and the SPEC ":80" after it. */
static int collect_specs(int argc, char **argv, const PortctlContext *ctx, PortctlList *ret)
{
        bool bare = false;

        for (size_t i = 0; i < ctx->specs.n + (size_t) MAX(argc - 1, 0); i++) {
                const char *spec = i < ctx->specs.n ? ctx->specs.items[i] : argv[1 + i - ctx->specs.n];
                if (!*spec) {
                        bare = true;
                        continue;
                }
                if (GROW(ret->items, ret->allocated, ret->n + 1) < 0)
                        return -ENOMEM;
                ret->items[ret->n++] = spec;
        }
        if (bare && ret->n == 0) {
                if (GROW(ret->items, ret->allocated, 1) < 0)
                        return -ENOMEM;
                ret->items[ret->n++] = "";
        }
        return 0;
}

int verb_who(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL, *services = NULL;
        WhoNames *names = NULL;
        WhoQueries queries = {};
        PortctlList specs = {};
        Selection sel = {};
        Rows rows = { .keep_objects = ctx->json };
        int r, ret = PORTCTL_EXIT_ERROR;

        if (ctx->follow && ctx->all) {
                portctl_error("who: --follow watches listening sockets; -a does not apply");
                return PORTCTL_EXIT_ERROR;
        }
        if (collect_specs(argc, argv, ctx, &specs) < 0)
                goto oom;
        r = selection_parse(ctx, specs.n > 0, &sel);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0)
                goto finish;

        r = portctl_connect_sockets(ctx, &client);
        if (r < 0)
                goto finish;
        /* A full listing of a busy machine is a long stream. */
        (void) varlink_client_set_reply_max(client, 1024 * 1024);

        for (size_t i = 0; i < specs.n; i++)
                if (parse_spec(ctx, &services, specs.items[i], &queries) < 0)
                        goto finish;
        size_t n_spec_queries = queries.n;
        r = names_open(ctx, &names);
        if (r == -ENOMEM)
                goto oom;
        rows.names = names;
        /* Without SPECs every socket; with SPECs and an ORed -p, -u or -c, every socket too, from
         * which those choose theirs. */
        if (!ctx->follow && (specs.n == 0 || selection_needs_listing(&sel))) {
                WhoQuery all = {};
                if (queries_add(&queries, &all) < 0)
                        goto oom;
        }

        if (ctx->follow) {
                /* -p, -u, -c narrow what the SPECs' ports show, as with -a. */
                sel.and = true;
                if (queries.n == 0 && queries_add(&queries, &(WhoQuery){}) < 0)
                        goto oom;
                ret = who_follow(&queries, &sel, names, ctx);
                goto finish;
        }
        for (size_t i = 0; i < queries.n; i++) {
                r = run_query(client, &queries.items[i], ctx, i < n_spec_queries || specs.n == 0, &rows);
                if (r == -ENOMEM)
                        goto oom;
                if (r == PORTCTL_EXIT_ERROR)
                        goto finish;
        }
        rows_select(&rows, &sel);

        if (ctx->json) {
                r = print_json_rows(&rows, ctx);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0)
                        goto finish;
        } else if (rows.n > 0 && print_table(&rows, ctx) != PORTCTL_EXIT_OK)
                goto finish;
        if (rows.n == 0) {
                ret = portctl_not_found(ctx, "who: no socket matches");
                goto finish;
        }
        ret = PORTCTL_EXIT_OK;
        goto finish;
oom:
        portctl_error("out of memory");
        ret = PORTCTL_EXIT_ERROR;
finish:
        free_user_names(sel.users, sel.n_users);
        selection_done(&sel);
        rows_done(&rows);
        who_names_free(names);
        free(queries.items);
        free(specs.items);
        return ret;
}
