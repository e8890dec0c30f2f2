/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl: option parsing and dispatch to the verbs. Options may stand before or after the verb,
 * so they are parsed over the whole command line with GNU getopt's permutation. */

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "portctl.h"
#include "util.h"
#include "varlink-wire.h"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv, const PortctlContext *ctx);
        const char *usage;
        bool pager; /* its output may be long: paged on a terminal */
} Verb;

static const Verb verbs[] = {
        { "verify", verb_verify,
                "verify                   the configuration's problems (the daemon's, or the files')",
                true },
        { "explain", verb_explain, "explain NAME[/PROTO]     the winning entry and what it replaced", true },
        { "lookup", verb_lookup, "lookup NAME|PORT [PROTO] the service named NAME (or an alias), or on PORT",
                false },
        { "port", verb_port, "port PORT[/PROTO]        the service on PORT", false },
        { "list", verb_list,
                "list                     every service, in getservent order (--format services: as a file)",
                true },
        { "status", verb_status,
                "status                   the daemon's version, PID, socket, generation, sources", true },
        { "reload", verb_reload, "reload                   make the daemon read its sources again (root)" },
        { "set", verb_set,
                "set NAME PORT/PROTO [ALIAS...]\n"
                "                           override an entry at once, persistently (root or a\n"
                "                           group of portd.conf; --runtime)" },
        { "unset", verb_unset, "unset NAME[/PROTO]       drop an override again (as set; --runtime)" },
        { "who", verb_who,
                "who [-f] [SPEC...]       which processes own a port (SPEC: tcp:22, :80, NAME...);\n"
                "                           -f: stay, a line per socket that starts or stops listening",
                true },
        { "monitor", verb_monitor,
                "monitor                  a line per new catalog generation (reloads, scopes, overrides)",
                false },
};

void portctl_error(const char *fmt, ...)
{
        va_list ap;

        fputs("portctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int portctl_connect_sockets(const PortctlContext *ctx, VarlinkClient **ret)
{
        _cleanup_free_ char *path = NULL, *root_path = NULL;
        int r;

        r = sockets_socket_path(ctx->socket_path, false, &path);
        if (r >= 0 && geteuid() == 0)
                r = sockets_socket_path(ctx->socket_path, true, &root_path);
        if (r < 0) {
                portctl_error("cannot name portd's io.portd.Sockets socket beside '%s': %s",
                        ctx->socket_path, strerror(-r));
                return r;
        }
        /* Root's own socket first: on the shared one root's call would wait behind every
         * connection a flooding user queued before it.  A daemon from before it, one not started
         * yet (socket activation starts it on the shared socket), or one that could not bind it
         * has none: the shared one then, but after a timeout, which it would only repeat. */
        if (root_path) {
                r = varlink_client_connect(root_path, 0, ret);
                if (r >= 0 || r == -ETIMEDOUT) {
                        if (r < 0)
                                portctl_error("cannot reach portd at '%s': %s", root_path, strerror(-r));
                        return r;
                }
        }
        r = varlink_client_connect(path, 0, ret);
        if (r < 0)
                portctl_error("cannot reach portd at '%s': %s", path, strerror(-r));
        return r;
}

int portctl_not_found(const PortctlContext *ctx, const char *fmt, ...)
{
        va_list ap;

        if (ctx->quiet)
                return PORTCTL_EXIT_NOT_FOUND;
        fputs("portctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return PORTCTL_EXIT_NOT_FOUND;
}

int portctl_print_json(const PortctlContext *ctx, struct json_object *o)
{
        int flags =
                JSON_C_TO_STRING_NOSLASHESCAPE |
                (ctx->json_mode == PORTCTL_JSON_SHORT ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY);
        const char *s = o ? json_object_to_json_string_ext(o, flags) : NULL;

        if (!s) {
                portctl_error("out of memory");
                return PORTCTL_EXIT_ERROR;
        }
        if (puts(s) < 0 || fflush(stdout) != 0) {
                portctl_error("cannot write the output: %s", strerror(errno));
                return PORTCTL_EXIT_ERROR;
        }
        return PORTCTL_EXIT_OK;
}

static int list_add(PortctlList *l, const char *value)
{
        if (GROW(l->items, l->allocated, l->n + 1) < 0)
                return -ENOMEM;
        l->items[l->n++] = value;
        return 0;
}

static void context_done(PortctlContext *ctx)
{
        free(ctx->specs.items);
        free(ctx->pids.items);
        free(ctx->users.items);
        free(ctx->commands.items);
}

static void help(void)
{
        printf("Usage: portctl [OPTIONS] COMMAND [ARGS...]\n\n"
               "Query and manage the services database served by portd.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %s\n", verbs[i].usage);
        printf("\nOptions:\n"
               "  -h --help               show this help\n"
               "     --version            show the version\n"
               "     --socket PATH        the daemon's socket (default $PORTD_SOCKET, else %s)\n"
               "     --root DIR           read configuration files below DIR (verify, explain, lookup, "
               "port, list)\n"
               "  -j --json[=pretty|short] print JSON for scripts (short: one line per document)\n"
               "     --no-legend          no column headers, no note of where an answer came from\n"
               "     --no-pager           do not page long output on a terminal\n"
               "  -q --quiet              no message when a lookup finds nothing (exit status 2)\n"
               "  -P --numeric-ports      show port numbers, not service names (who)\n"
               "  -n                      numeric host addresses, as lsof: always so (who)\n"
               "  -i SPEC                 a SPEC, as lsof -i; repeatable (who)\n"
               "  -p PID[,PID...]         sockets of these processes; ^PID excludes (who)\n"
               "  -u USER[,USER...]       sockets of these users' processes; ^USER excludes (who)\n"
               "  -c COMMAND              processes whose command begins so, or matches /REGEX/ (who)\n"
               "  -a --all                as lsof -a: every state, a SPEC matching either end, the\n"
               "                          selections ANDed (who; without it: listeners, ORed)\n"
               "     --netns NAME|PID|all network namespace to look in (who; root only for others)\n"
               "  -f --follow             stay, and print a line per socket that starts or stops\n"
               "                          listening (who)\n"
               "     --format FORMAT      list as 'table', 'json' or 'services' (a services(5) file)\n"
               "     --runtime            an override in /run, gone at reboot (set, unset)\n"
               "     --persistent         an override in /etc, kept across reboots: the default (set, "
               "unset)\n",
                PORTD_DEFAULT_SOCKET);
}

static int parse_argv(int argc, char **argv, PortctlContext *ctx)
{
        enum {
                ARG_VERSION = 0x100,
                ARG_SOCKET,
                ARG_ROOT,
                ARG_NETNS,
                ARG_PERSISTENT,
                ARG_RUNTIME,
                ARG_FORMAT,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_NO_PAGER,
        };
        static const struct option options[] = { { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "root", required_argument, NULL, ARG_ROOT }, { "json", optional_argument, NULL, ARG_JSON },
                { "numeric-ports", no_argument, NULL, 'P' }, { "all", no_argument, NULL, 'a' },
                { "follow", no_argument, NULL, 'f' }, { "quiet", no_argument, NULL, 'q' },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "netns", required_argument, NULL, ARG_NETNS },
                { "persistent", no_argument, NULL, ARG_PERSISTENT },
                { "runtime", no_argument, NULL, ARG_RUNTIME },
                { "format", required_argument, NULL, ARG_FORMAT }, {} };
        int c;

        /* "i::": lsof's "-i :80" leaves ":80" a positional SPEC, which means the same; "-i:80" and
         * a bare "-i" (every socket) work as in lsof too. */
        while ((c = getopt_long(argc, argv, "hjPafqni::p:u:c:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("portctl %s\n", PORTD_VERSION);
                        return 0;
                case ARG_SOCKET:
                        ctx->socket_path = optarg;
                        break;
                case ARG_ROOT:
                        ctx->root = optarg;
                        break;
                case 'j':
                        ctx->json = true;
                        ctx->json_mode = PORTCTL_JSON_PRETTY;
                        break;
                case ARG_JSON:
                        if (!optarg || streq(optarg, "pretty"))
                                ctx->json_mode = PORTCTL_JSON_PRETTY;
                        else if (streq(optarg, "short"))
                                ctx->json_mode = PORTCTL_JSON_SHORT;
                        else if (streq(optarg, "off"))
                                ctx->json_mode = PORTCTL_JSON_OFF;
                        else {
                                portctl_error(
                                        "unknown JSON format '%s': expected pretty, short or off", optarg);
                                return -EINVAL;
                        }
                        ctx->json = ctx->json_mode != PORTCTL_JSON_OFF;
                        break;
                case 'P':
                        ctx->numeric_ports = true;
                        break;
                case 'a':
                        ctx->all = true;
                        break;
                case 'f':
                        ctx->follow = true;
                        break;
                case 'q':
                        ctx->quiet = true;
                        break;
                case 'n':
                        /* lsof's "no host names": portd never resolves any. */
                        break;
                case 'i':
                        /* bare: every socket, a selection of its own as lsof's bare -i */
                        if (list_add(&ctx->specs, optarg ?: "") < 0)
                                return -ENOMEM;
                        break;
                case 'p':
                        if (list_add(&ctx->pids, optarg) < 0)
                                return -ENOMEM;
                        break;
                case 'u':
                        if (list_add(&ctx->users, optarg) < 0)
                                return -ENOMEM;
                        break;
                case 'c':
                        if (list_add(&ctx->commands, optarg) < 0)
                                return -ENOMEM;
                        break;
                case ARG_NO_LEGEND:
                        ctx->legend = false;
                        break;
                case ARG_NO_PAGER:
                        ctx->pager = false;
                        break;
                case ARG_NETNS:
                        ctx->netns = optarg;
                        break;
                case ARG_PERSISTENT:
                        ctx->runtime = false;
                        break;
                case ARG_RUNTIME:
                        ctx->runtime = true;
                        break;
                case ARG_FORMAT:
                        if (!streq(optarg, "table") && !streq(optarg, "json") && !streq(optarg, "services")) {
                                portctl_error("unknown format '%s': expected table, json or services", optarg);
                                return -EINVAL;
                        }
                        ctx->format = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

int main(int argc, char **argv)
{
        PortctlContext ctx = { .legend = true, .pager = true };
        int r;

        r = parse_argv(argc, argv, &ctx);
        if (r <= 0) {
                if (r == -ENOMEM)
                        portctl_error("out of memory");
                context_done(&ctx);
                return r < 0 ? PORTCTL_EXIT_ERROR : PORTCTL_EXIT_OK;
        }

        /* Where the caller named a daemon, a daemon that does not answer is an error; the default
         * socket's absence lets verify and explain read the files instead. */
        ctx.socket_given = ctx.socket_path != NULL;
        if (!ctx.socket_path) {
                ctx.socket_path = secure_getenv("PORTD_SOCKET");
                ctx.socket_given = ctx.socket_path && *ctx.socket_path;
        }
        if (!ctx.socket_path || !*ctx.socket_path)
                ctx.socket_path = PORTD_DEFAULT_SOCKET;

        if (optind >= argc) {
                portctl_error("missing command; see 'portctl --help'");
                context_done(&ctx);
                return PORTCTL_EXIT_ERROR;
        }

        r = -1;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name)) {
                        /* A stream that follows is never paged: the pager would hold it back. */
                        if (verbs[i].pager && !ctx.json && !ctx.follow)
                                pager_open(&ctx);
                        r = pager_close(verbs[i].run(argc - optind, argv + optind, &ctx));
                        break;
                }
        if (r < 0) {
                portctl_error("unknown command '%s'; see 'portctl --help'", argv[optind]);
                r = PORTCTL_EXIT_ERROR;
        }
        context_done(&ctx);
        return r;
}
