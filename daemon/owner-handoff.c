/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Privilege separation, the main process's side: it starts the owner-query process (ourselves,
 * exec'd through the descriptor opened at start, with --owner-worker; owner-worker.c), drops every
 * capability, and hands every io.portd.Sockets call over to it with the connection itself, then
 * forgets it. */

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

#include <json-c/json.h>

#include "daemon.h"
#include "json-util.h"
#include "log.h"
#include "io.portd.Sockets.varlink.h"

#define ERROR_QUERY_FAILED "io.portd.Sockets.QueryFailed"

/* The main process keeps no capability.  Everything it does (read the configuration as root,
 * write the override files, serve the socket) needs none; what it needs to know of a caller's
 * namespaces, which the kernel shows only to a process that may ptrace it, it asks the monitor
 * (caller-namespaces.c).  Were it to keep CAP_SYS_PTRACE for that, a compromised main process,
 * uid 0, could write the worker's memory through /proc/PID/mem and so take the worker's
 * capabilities: CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH. */

int owner_handoff_message_check(const void *buf, size_t n, const OwnerHandoffHeader **ret)
{
        const OwnerHandoffHeader *h = buf;

        if (n < sizeof(*h) || h->magic != OWNER_HANDOFF_MAGIC || h->size != n - sizeof(*h) ||
                (h->flags & ~(uint32_t) OWNER_HANDOFF_SNAPSHOT) != 0)
                return -EBADMSG;
        *ret = h;
        return 0;
}

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
         * channels too, takes over (owner-worker.c); we keep ours open for it.  Were there none,
         * the channels hang up and owner queries answer QueryFailed (method_handoff()). */
        log_error("The owner-query monitor (PID %d) exited (%s %d); its standby takes over.",
                (int) si->si_pid, si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        m->owner_child = sd_event_source_disable_unref(m->owner_child);
        return 0;
}

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

        /* Datagrams with boundaries: a worker that dies leaves no half message behind, and what
         * it had not read yet waits for the next one in the buffer the monitor keeps open. */
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
                /* Only the channels go along, as fds 3 and 4, and our executable as fd 5 (the
                 * monitor execs its standby through it); nothing of systemd's is for it.  Each
                 * is moved out of the way first, should it be one of those numbers. */
                int a = fcntl(ask[1], F_DUPFD, 10);
                int e = m->owner_exe_fd >= 0 ? fcntl(m->owner_exe_fd, F_DUPFD, 10) : -1;
                if (a < 0 || dup2(pair[1], 3) < 0 || dup2(a, 4) < 0 || fcntl(3, F_SETFD, 0) < 0 ||
                        fcntl(4, F_SETFD, 0) < 0 || (e >= 0 && dup2(e, 5) < 0))
                        _exit(EXIT_FAILURE);
                (void) syscall(SYS_close_range, 6U, ~0U, 0U);
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
        if (m->owner_exe_fd < 0)
                pair[0] = safe_close(pair[0]);
        m->owner_channel_fd = pair[0];
        m->namespaces_fd = ask[0];

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
        m->owner_channel_fd = safe_close(m->owner_channel_fd);
        m->namespaces_fd = safe_close(m->namespaces_fd);
        if (pid > 0) {
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
        }
        m->owner_child = sd_event_source_disable_unref(m->owner_child);
}

static int query_failed(VarlinkConnection *conn, const char *message)
{
        _cleanup_json_ struct json_object *e = json_object_new_object();

        if (!e || json_add(e, "message", json_object_new_string(message)) < 0)
                return -ENOMEM;
        return varlink_connection_error(conn, ERROR_QUERY_FAILED, e);
}

/* io.portd.Sockets.*: the connection goes to the owner-query process with the call, what follows
 * it, and the caller's catalog image (its scope's: the rows name ports as its lookups would).
 * Who the caller is travels with the socket (SO_PEERCRED, SO_PEERPIDFD: fixed at connect()). */
static int method_handoff(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        Manager *m = userdata;
        _cleanup_free_ char *data = NULL;
        ScopeState *scope = NULL;
        size_t size;
        int r;

        if (m->owner_channel_fd < 0)
                return query_failed(conn, "Owner queries are unavailable.");
        r = varlink_connection_get_handoff(conn, &data, &size);
        if (r < 0)
                return r; /* -EAGAIN: dispatched again once earlier replies are out */

        r = scopes_for_connection(m, conn, &scope);
        if (r == -ENOMEM)
                return log_oom();
        /* Out of descriptors to tell the caller's scope: the server calls us again once some are
         * free, rather than handing the call over without the catalog its rows are named from. */
        if (r == -EMFILE || r == -ENFILE)
                return r;
        const SnapshotImage *image = r >= 0 ? (scope ? scope->image.snapshot : m->image.snapshot) : NULL;

        OwnerHandoffHeader h = { .magic = OWNER_HANDOFF_MAGIC, .size = (uint32_t) size };
        int fds[2] = { varlink_connection_get_fd(conn), image ? image->ro_fd : -1 };
        if (fds[0] < 0)
                return fds[0];
        if (fds[1] >= 0)
                h.flags |= OWNER_HANDOFF_SNAPSHOT;
        size_t n_fds = fds[1] >= 0 ? 2 : 1;

        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 2)];
        } control = {};
        struct iovec iov[2] = { { &h, sizeof(h) }, { data, size } };
        struct msghdr mh = {
                .msg_iov = iov,
                .msg_iovlen = 2,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);

        if (sendmsg(m->owner_channel_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                r = -errno;
                /* A full channel (the worker is behind, or restarting) is a wait, as for
                 * descriptors: the call is dispatched again shortly. */
                if (r == -EAGAIN || r == -ENOBUFS || r == -ETOOMANYREFS || r == -EMFILE || r == -ENFILE)
                        return -EAGAIN;
                if (r == -EMSGSIZE)
                        return query_failed(conn, "The call and what follows it are too long.");
                if (r == -EPIPE || r == -ECONNRESET) {
                        /* Monitor, standby and worker all gone: nothing can start them again
                         * without the capabilities we dropped. */
                        log_error("The owner-query processes are gone; owner queries fail until portd "
                                  "restarts.");
                        m->owner_channel_fd = safe_close(m->owner_channel_fd);
                        m->namespaces_fd = safe_close(m->namespaces_fd);
                        return query_failed(conn, "Owner queries are unavailable.");
                }
                log_warning_errno(r, "Failed to hand an owner query over: %m");
                return query_failed(conn, "Owner queries are unavailable.");
        }
        varlink_connection_forget(conn);
        return 0;
}

int owner_handoff_register(Manager *m)
{
        int r = varlink_server_add_interface(m->server, io_portd_sockets_varlink);
        if (r < 0)
                return r;
        r = varlink_server_add_method(m->server, "io.portd.Sockets.List", method_handoff, m);
        if (r < 0)
                return r;
        return varlink_server_add_method(m->server, "io.portd.Sockets.Follow", method_handoff, m);
}
