/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl: every cross-file prototype of the command line, by file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json_object;
struct VarlinkClient;

typedef enum PortctlJson {
        PORTCTL_JSON_OFF,
        PORTCTL_JSON_PRETTY, /* -j, --json, --json=pretty: indented, as before */
        PORTCTL_JSON_SHORT,  /* --json=short: one line per document, as systemd tools print it */
} PortctlJson;

/* A repeatable option's values, in the order given (pointers into argv). */
typedef struct PortctlList {
        const char **items;
        size_t n, allocated;
} PortctlList;

typedef struct PortctlContext {
        const char *socket_path; /* --socket, else $PORTD_SOCKET, else the default */
        bool socket_given;       /* --socket or $PORTD_SOCKET: no fallback to the files without it */
        const char *root;        /* --root, NULL for / */
        bool json;               /* --json in any form */
        PortctlJson json_mode;
        bool numeric_ports;      /* -P: ports as numbers (who) */
        bool all;                /* -a/--all: lsof's -a (who): every state, either end, filters ANDed */
        PortctlList specs;       /* -i SPEC (who), before the positional SPECs */
        PortctlList pids;        /* -p PID[,PID...] (who), '^' excludes */
        PortctlList users;       /* -u USER[,USER...] (who), '^' excludes */
        PortctlList commands;    /* -c COMMAND (who): a prefix, /REGEX/, '^' excludes */
        const char *netns;       /* --netns NAME|PID|all (who) */
        bool follow;             /* -f/--follow (who): a line per socket that starts or stops listening */
        bool runtime;            /* --runtime (set, unset): /run, not /etc */
        const char *format;      /* --format table|json|services (list); NULL: table, or json with --json */
        bool legend;             /* column headers and notes; --no-legend clears it */
        bool quiet;              /* -q: no "not found" line, no notes */
        bool pager;              /* page on a terminal; --no-pager clears it */
} PortctlContext;

/* Exit codes, as getent: found, error, not found. */
enum {
        PORTCTL_EXIT_OK = 0,
        PORTCTL_EXIT_ERROR = 1,
        PORTCTL_EXIT_NOT_FOUND = 2,
};

/* portctl.c */
void portctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A lookup that found nothing: one line on stderr (unless -q), and the status to exit with. */
int portctl_not_found(const PortctlContext *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One JSON document on stdout as --json asked; takes no reference. PORTCTL_EXIT_*. */
int portctl_print_json(const PortctlContext *ctx, struct json_object *o);
/* Connects to portd's io.portd.Sockets socket, which is the one beside ctx->socket_path
 * (sockets_socket_path()), root's own for root where the daemon has one; on failure says so on
 * stderr, naming it, and returns -errno. */
int portctl_connect_sockets(const PortctlContext *ctx, struct VarlinkClient **ret);

/* cmd-verify.c: the daemon's Verify and Explain, or the files themselves with --root or when no
 * daemon answers */
int verb_verify(int argc, char **argv, const PortctlContext *ctx);
int verb_explain(int argc, char **argv, const PortctlContext *ctx);

/* cmd-services.c: io.portd.Services calls to the running daemon */
int verb_lookup(int argc, char **argv, const PortctlContext *ctx);
int verb_port(int argc, char **argv, const PortctlContext *ctx);
int verb_list(int argc, char **argv, const PortctlContext *ctx);
int verb_status(int argc, char **argv, const PortctlContext *ctx);
int verb_reload(int argc, char **argv, const PortctlContext *ctx);
int verb_set(int argc, char **argv, const PortctlContext *ctx);
int verb_unset(int argc, char **argv, const PortctlContext *ctx);
int verb_monitor(int argc, char **argv, const PortctlContext *ctx);

/* nscd-check.c: nscd's services cache hides portd's changes from programs */
int nscd_conf_caches_services(FILE *f);
void nscd_warn_if_caching(const PortctlContext *ctx);

/* cmd-who.c: io.portd.Sockets via the daemon */
int verb_who(int argc, char **argv, const PortctlContext *ctx);

/* pager.c: long output through $PAGER or less on a terminal, as systemctl does */
void pager_open(const PortctlContext *ctx);
/* Waits for the pager to exit; stdout is then closed.  Returns the exit status to use. */
int pager_close(int status);
