/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl: every cross-file prototype of the command line, by file. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

typedef struct PortctlContext {
        const char *socket_path; /* --socket, else $PORTD_SOCKET, else the default */
        const char *root;        /* --root, NULL for / */
        bool json;               /* --json */
        bool numeric_ports;      /* -P: ports as numbers (who) */
        bool all;                /* -a/--all: established sockets too (who) */
        const char *netns;       /* --netns NAME|PID|all (who) */
        bool runtime;            /* --runtime (set, unset): /run, not /etc */
        const char *format;      /* --format table|json|services (list); NULL: table, or json with --json */
} PortctlContext;

/* Exit codes, as getent: found, error, not found. */
enum {
        PORTCTL_EXIT_OK = 0,
        PORTCTL_EXIT_ERROR = 1,
        PORTCTL_EXIT_NOT_FOUND = 2,
};

/* portctl.c */
void portctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cmd-verify.c: offline, reads the files below --root */
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

/* nscd-check.c: nscd's services cache hides portd's changes from programs */
int nscd_conf_caches_services(FILE *f);
void nscd_warn_if_caching(const PortctlContext *ctx);

/* cmd-who.c: io.portd.Sockets via the daemon */
int verb_who(int argc, char **argv, const PortctlContext *ctx);
