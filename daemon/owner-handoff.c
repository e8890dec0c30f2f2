/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Privilege separation, the main process's side: it starts the owner-query process (ourselves,
 * exec'd through the descriptor opened at start, with --owner-worker; owner-worker.c) with the
 * io.portd.Sockets listening socket and drops every capability; from then on the channel to it
 * only tells each side that the other is there.  No owner-query connection ever reaches this
 * process: a flood of them cannot delay a lookup. */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* The main process keeps no capability.  Everything it does (read the configuration as root,
 * write the override files, serve the socket) needs none; what it needs to know of a caller's
 * namespaces, which the kernel shows only to a process that may ptrace it, it asks the monitor
 * (caller-namespaces.c).  Were it to keep CAP_SYS_PTRACE for that, a compromised main process,
 * uid 0, could write the worker's memory through /proc/PID/mem and so take the worker's
 * capabilities: CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH. */

/* Empties the effective, permitted and inheritable sets, and the bounding set.  Without
 * CAP_SETPCAP (systemd leaves it out of the bounding set) the bounding set stays as it is, which
 * is harmless once no_new_privs is set here (not left to the unit: a daemon started by hand has
 * none): an exec by uid 0 then gets no more than what is permitted now. */
static int drop_capabilities(void)
{
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};

        /* The bounding set first, while CAP_SETPCAP may still be there to allow it. */
        for (unsigned long cap = 0; cap <= CAP_LAST_CAP; cap++)
                (void) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (syscall(SYS_capset, &header, data) < 0)
                return -errno;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

static int on_owner_process_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        Manager *m = userdata;

        /* Only the first monitor is our child.  Its standby, which holds the other ends of the
         * channels and the io.portd.Sockets sockets too, takes over (owner-worker.c); we keep our
         * channels open for it.  Were there none, nothing would listen on io.portd.Sockets. */
        log_error("The owner-query monitor (PID %d) exited (%s %d); its standby takes over.",
                (int) si->si_pid, si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        m->owner_child = sd_event_source_disable_unref(m->owner_child);
        return 0;
}

static int on_owner_channel(sd_event_source *s, int fd, uint32_t revents, void *userdata);

int owner_handoff_start(Manager *m)
{
        char parent[32];
        int pair[2], ask[2];
        sigset_t mask;
        pid_t pid;
        int r;

        if (m->owner_exe_fd < 0)
                /* A daemon inside a test program: owner queries answer QueryFailed, and a forked
                 * child of ours answers the namespace questions alone. */
                log_debug("No owner-query executable, owner queries are unavailable.");
        (void) snprintf(parent, sizeof(parent), "--owner-worker=%d", (int) getpid());

        /* Its end of file tells the worker that we are gone, its hang-up tells us that the
         * monitor, its standby and the worker are. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return log_error_errno(errno, "Failed to create the owner-query channel: %m");
        /* The main process's questions about callers' namespaces: blocking on our side, asked
         * one at a time with a deadline (caller-namespaces.c). */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ask) < 0) {
                r = -errno;
                safe_close(pair[0]);
                safe_close(pair[1]);
                return log_error_errno(r, "Failed to create the namespace channel: %m");
        }

        /* sd_event_add_child() wants SIGCHLD blocked before the child exists. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(pair[0]);
                safe_close(pair[1]);
                safe_close(ask[0]);
                safe_close(ask[1]);
                return log_error_errno(r, "Failed to start the owner-query process: %m");
        }
        if (pid == 0) {
                /* Only the channels go along, as fds 3 and 4, our executable as fd 5 (the
                 * monitor execs its standby through it), the io.portd.Sockets socket as fd 6 and
                 * root's as fd 7 (each number closed when it has none); nothing else of systemd's
                 * is for it.  Each is moved out of the way first, should it be one of those
                 * numbers. */
                int a = fcntl(ask[1], F_DUPFD, 10);
                int e = m->owner_exe_fd >= 0 ? fcntl(m->owner_exe_fd, F_DUPFD, 10) : -1;
                int l = m->sockets.fd >= 0 ? fcntl(m->sockets.fd, F_DUPFD, 10) : -1;
                int rl = m->root_sockets.fd >= 0 ? fcntl(m->root_sockets.fd, F_DUPFD, 10) : -1;
                if (a < 0 || dup2(pair[1], 3) < 0 || dup2(a, 4) < 0 || fcntl(3, F_SETFD, 0) < 0 ||
                        fcntl(4, F_SETFD, 0) < 0 || (e >= 0 && dup2(e, 5) < 0) || (l >= 0 && dup2(l, 6) < 0) ||
                        (rl >= 0 && dup2(rl, 7) < 0))
                        _exit(EXIT_FAILURE);
                if (l < 0)
                        (void) close(6);
                if (rl < 0)
                        (void) close(7);
                (void) syscall(SYS_close_range, 8U, ~0U, 0U);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDNAMES");
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                sigset_t none;
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                if (e < 0)
                        owner_monitor_namespaces_only();
                char *argv[] = { (char *) "portd", parent, NULL };
                (void) execveat(5, "", argv, environ, AT_EMPTY_PATH);
                _exit(EXIT_FAILURE);
        }
        safe_close(pair[1]);
        safe_close(ask[1]);
        /* The monitor's now: we never accept on it. */
        m->sockets.fd = safe_close(m->sockets.fd);
        m->root_sockets.fd = safe_close(m->root_sockets.fd);
        if (m->owner_exe_fd < 0)
                pair[0] = safe_close(pair[0]);
        m->owner_channel_fd = pair[0];
        m->namespaces_fd = ask[0];
        if (m->owner_channel_fd >= 0) {
                r = sd_event_add_io(
                        m->event, &m->owner_channel, m->owner_channel_fd, EPOLLIN, on_owner_channel, m);
                if (r < 0)
                        log_warning_errno(r, "Cannot hear the owner-query processes go, ignoring: %m");
        }

        r = sd_event_add_child(m->event, &m->owner_child, pid, WEXITED, on_owner_process_exit, m);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the owner-query process, ignoring: %m");
        log_debug("Owner queries are served by PID %d.", (int) pid);

        r = drop_capabilities();
        if (r < 0)
                return log_error_errno(r, "Failed to drop the owner queries' capabilities: %m");
        return 0;
}

void owner_handoff_stop(Manager *m)
{
        pid_t pid = 0;

        if (m->owner_child)
                (void) sd_event_source_get_child_pid(m->owner_child, &pid);
        /* EOF on the channel ends the worker; the monitor follows its parent's death signal. */
        m->owner_channel = sd_event_source_disable_unref(m->owner_channel);
        m->owner_channel_fd = safe_close(m->owner_channel_fd);
        m->namespaces_fd = safe_close(m->namespaces_fd);
        if (pid > 0) {
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
        }
        m->owner_child = sd_event_source_disable_unref(m->owner_child);
}

/* The channel's hang-up: monitor, standby and worker all gone (nothing is sent on it; the worker
 * takes no data from us, and the clients name the ports of its rows). */
static int on_owner_channel(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        char buf[16];

        for (unsigned i = 0; i < 16; i++) {
                ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (k > 0 || (k < 0 && errno == EINTR))
                        continue;
                if (k == 0 || (k < 0 && errno != EAGAIN)) {
                        /* Monitor, standby and worker all gone: nothing can start them again
                         * without the capabilities we dropped. */
                        log_error("The owner-query processes are gone; owner queries fail until portd "
                                  "restarts.");
                        m->owner_channel = sd_event_source_disable_unref(m->owner_channel);
                        m->owner_channel_fd = safe_close(m->owner_channel_fd);
                        m->namespaces_fd = safe_close(m->namespaces_fd);
                        return 0;
                }
                break;
        }
        return 0;
}
