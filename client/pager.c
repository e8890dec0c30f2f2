/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Long output through a pager on a terminal, as systemctl does: $PAGER (none when it is empty or
 * "cat"), else less, else more, with LESS=FRSXMK so that output shorter than a screen is simply
 * printed.  Never for a pipe or a file, and never with --no-pager. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portctl.h"
#include "util.h"

static pid_t pager_pid = 0;

/* When every pager fails to start, the child copies its input through, so nothing is lost. */
static _Noreturn void pager_copy_through(void)
{
        char buf[8192];
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || write_full_fd(STDOUT_FILENO, buf, (size_t) n) < 0)
                        _exit(EXIT_SUCCESS);
        }
}

void pager_open(const PortctlContext *ctx)
{
        int fds[2];

        if (!ctx->pager || !isatty(STDOUT_FILENO))
                return;
        const char *pager = secure_getenv("PAGER");
        if (pager && (!*pager || streq(pager, "cat")))
                return;

        fflush(stdout);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return; /* unpaged output is still output */
        pid_t pid = fork();
        if (pid < 0) {
                safe_close(fds[0]);
                safe_close(fds[1]);
                return;
        }
        if (pid == 0) {
                if (dup2(fds[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                /* F: quit when it fits one screen, R: colours, S: no wrapping of long rows, X: no
                 * screen clearing, M: a verbose prompt, K: quit on ^C. */
                (void) setenv("LESS", "FRSXMK", 0);
                if (pager)
                        execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
                else {
                        execlp("less", "less", (char *) NULL);
                        execlp("more", "more", (char *) NULL);
                }
                pager_copy_through();
        }
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
                /* Nothing was redirected: the pager reads EOF at once and exits. */
                safe_close(fds[0]);
                safe_close(fds[1]);
                (void) waitpid(pid, NULL, 0);
                return;
        }
        safe_close(fds[0]);
        safe_close(fds[1]);
        /* A pager the user quits early closes the pipe: the rest of the output is not wanted. */
        (void) signal(SIGPIPE, SIG_IGN);
        pager_pid = pid;
}

int pager_close(int status)
{
        if (pager_pid <= 0)
                return status;
        /* Closing stdout is the pager's end of input. */
        (void) fflush(stdout);
        (void) fclose(stdout);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
        return status;
}
