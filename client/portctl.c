/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl: option parsing and dispatch to the verbs. Options may stand before or after the verb,
 * so they are parsed over the whole command line with GNU getopt's permutation. */

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "portctl.h"
#include "util.h"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv, const PortctlContext *ctx);
        const char *usage;
} Verb;

static const Verb verbs[] = {
        { "verify", verb_verify, "verify                   check the configuration files (no daemon needed)" },
        { "explain", verb_explain, "explain NAME[/PROTO]     the winning entry and what it replaced" },
        { "lookup", verb_lookup, "lookup NAME [PROTO]      the service named NAME (or an alias)" },
        { "port", verb_port, "port PORT[/PROTO]        the service on PORT" },
        { "list", verb_list, "list                     every service, in getservent order (--format services: as a file)" },
        { "status", verb_status, "status                   the daemon's generation, sources and digest" },
        { "reload", verb_reload, "reload                   make the daemon read its sources again (root)" },
        { "set", verb_set, "set NAME PORT/PROTO [ALIAS...]\n"
                           "                           override an entry at once, persistently (root or a\n"
                           "                           group of portd.conf; --runtime)" },
        { "unset", verb_unset, "unset NAME[/PROTO]       drop an override again (as set; --runtime)" },
        { "who", verb_who, "who [SPEC...]            which processes own a port (SPEC: tcp:22, :80, @HOST:PORT, NAME)" },
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
               "     --root DIR           read configuration files below DIR (verify, explain, lookup, port, list)\n"
               "  -j --json               print JSON for scripts\n"
               "  -P --numeric-ports      show port numbers, not service names (who)\n"
               "  -a --all                include established sockets (who)\n"
               "     --netns NAME|PID|all network namespace to look in (who; root only for others)\n"
               "     --format FORMAT      list as 'table', 'json' or 'services' (a services(5) file)\n"
               "     --runtime            an override in /run, gone at reboot (set, unset)\n"
               "     --persistent         an override in /etc, kept across reboots: the default (set, unset)\n",
               PORTD_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
        enum { ARG_VERSION = 0x100, ARG_SOCKET, ARG_ROOT, ARG_NETNS, ARG_PERSISTENT, ARG_RUNTIME, ARG_FORMAT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "root", required_argument, NULL, ARG_ROOT },
                { "json", no_argument, NULL, 'j' },
                { "numeric-ports", no_argument, NULL, 'P' },
                { "all", no_argument, NULL, 'a' },
                { "netns", required_argument, NULL, ARG_NETNS },
                { "persistent", no_argument, NULL, ARG_PERSISTENT },
                { "runtime", no_argument, NULL, ARG_RUNTIME },
                { "format", required_argument, NULL, ARG_FORMAT },
                {}
        };
        PortctlContext ctx = {};
        int c;

        while ((c = getopt_long(argc, argv, "hjPa", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return PORTCTL_EXIT_OK;
                case ARG_VERSION:
                        printf("portctl %s\n", PORTD_VERSION);
                        return PORTCTL_EXIT_OK;
                case ARG_SOCKET:
                        ctx.socket_path = optarg;
                        break;
                case ARG_ROOT:
                        ctx.root = optarg;
                        break;
                case 'j':
                        ctx.json = true;
                        break;
                case 'P':
                        ctx.numeric_ports = true;
                        break;
                case 'a':
                        ctx.all = true;
                        break;
                case ARG_NETNS:
                        ctx.netns = optarg;
                        break;
                case ARG_PERSISTENT:
                        ctx.runtime = false;
                        break;
                case ARG_RUNTIME:
                        ctx.runtime = true;
                        break;
                case ARG_FORMAT:
                        if (!streq(optarg, "table") && !streq(optarg, "json") && !streq(optarg, "services")) {
                                portctl_error("unknown format '%s': expected table, json or services", optarg);
                                return PORTCTL_EXIT_ERROR;
                        }
                        ctx.format = optarg;
                        break;
                default:
                        return PORTCTL_EXIT_ERROR;
                }

        if (!ctx.socket_path)
                ctx.socket_path = secure_getenv("PORTD_SOCKET");
        if (!ctx.socket_path || !*ctx.socket_path)
                ctx.socket_path = PORTD_DEFAULT_SOCKET;

        if (optind >= argc) {
                portctl_error("missing command; see 'portctl --help'");
                return PORTCTL_EXIT_ERROR;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name))
                        return verbs[i].run(argc - optind, argv + optind, &ctx);

        portctl_error("unknown command '%s'; see 'portctl --help'", argv[optind]);
        return PORTCTL_EXIT_ERROR;
}
