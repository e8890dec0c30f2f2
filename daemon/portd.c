/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portd: serves the services database over varlink and as a mapped snapshot.  main only parses
 * the command line; the Manager (manager.c) does the rest.  "portd --owner-worker=PID" is the
 * owner-query process the main process starts, and with --owner-standby=USEC its standby
 * (owner-worker.c), not for people to run. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

static const char *arg_root = NULL;
static const char *arg_socket = NULL;
static pid_t arg_owner_worker = 0;
static int64_t arg_owner_standby = -1;

static void help(void)
{
        printf("Usage: portd [OPTIONS]\n\n"
               "Serve the services database (/etc/services and services.d drop-ins) over varlink.\n\n"
               "  -h --help          show this help\n"
               "     --version       show the version\n"
               "     --root DIR      read every configuration file below DIR instead of /\n"
               "     --socket PATH   listen on PATH (default: the socket systemd passes, else %s)\n",
                PORTD_DEFAULT_SOCKET);
}

/* 1: run, 0: exit successfully (--help), <0: error. */
static int parse_argv(int argc, char **argv)
{
        enum { ARG_VERSION = 0x100, ARG_ROOT, ARG_SOCKET, ARG_OWNER_WORKER, ARG_OWNER_STANDBY };
        static const struct option options[] = { { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION }, { "root", required_argument, NULL, ARG_ROOT },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "owner-worker", required_argument, NULL, ARG_OWNER_WORKER },
                { "owner-standby", required_argument, NULL, ARG_OWNER_STANDBY }, {} };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("portd %s\n", PORTD_VERSION);
                        return 0;
                case ARG_ROOT:
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--root needs a directory.");
                        arg_root = optarg;
                        break;
                case ARG_SOCKET:
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--socket needs a path.");
                        arg_socket = optarg;
                        break;
                case ARG_OWNER_STANDBY: {
                        char *end;
                        errno = 0;
                        unsigned long long usec = strtoull(optarg, &end, 10);
                        if (*end || errno != 0 || usec > INT64_MAX)
                                return log_error_errno(
                                        EINVAL, "--owner-standby needs a delay in microseconds.");
                        arg_owner_standby = (int64_t) usec;
                        break;
                }
                case ARG_OWNER_WORKER: {
                        char *end;
                        long pid = strtol(optarg, &end, 10);
                        if (*end || pid <= 1 || pid > INT_MAX)
                                return log_error_errno(EINVAL, "--owner-worker needs the main process's PID.");
                        arg_owner_worker = (pid_t) pid;
                        break;
                }
                default:
                        return -EINVAL;
                }

        if (optind < argc)
                return log_error_errno(
                        EINVAL, "Unexpected argument '%s'; see 'portd --help'.", argv[optind]);
        return 1;
}

static int run(int argc, char **argv)
{
        Manager *m = NULL;
        int r;

        /* Before anything could look up a service: the NSS module answers UNAVAIL when it sees
         * this, so that the daemon never asks itself (and deadlocks). */
        if (setenv("PORTD_BYPASS", "1", 1) < 0)
                return log_error_errno(errno, "Failed to set PORTD_BYPASS: %m");

        log_parse_environment();

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        if (arg_owner_worker > 0)
                return owner_worker_main(arg_owner_worker, arg_owner_standby);

        /* The file the kernel started, whatever has become of its path since. */
        int exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        if (exe_fd < 0)
                return log_error_errno(errno, "Cannot open our own executable: %m");

        r = manager_new(arg_root, &m);
        if (r < 0) {
                safe_close(exe_fd);
                return r;
        }

        /* The owner-query process is this same program: the file the kernel ran, held open now
         * and exec'd through this descriptor (owner-handoff.c), so that a binary replaced on
         * disk since (an upgrade) is never what runs beside us. */
        m->owner_exe_fd = exe_fd;
        exe_fd = -1;

        r = manager_startup(m, arg_socket);
        if (r >= 0) {
                r = sd_event_loop(m->event);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
        }

        manager_free(m);
        return r;
}

int main(int argc, char **argv)
{
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
