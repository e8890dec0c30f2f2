/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is calling.  A connection's peer is its credentials (SO_PEERCRED) and the process they name,
 * pinned by a pidfd; what /proc says of that process counts only if the pidfd shows it alive after
 * the read.  A caller that cannot be read so is unidentified, and callers decide what that means
 * (scopes.c: an error, never the host's view). */

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caller.h"
#include "log.h"
#include "util.h"

int caller_peer_pidfd(VarlinkConnection *conn)
{
        struct ucred ucred = {};
        int pidfd;

        pidfd = varlink_connection_get_peer_pidfd(conn);
        if (pidfd != -EOPNOTSUPP)
                return pidfd;

        /* Before Linux 6.5 the kernel keeps no reference to the process that connected.  The PID
         * it recorded is pinned now: if the process exited and the number went to another one
         * in between, that one is read instead.  That needs the PID space to wrap around between
         * the peer's exit and this call, which comes right after accept(); a peer that has merely
         * exited is seen (ESRCH).  No more than that can be proved without SO_PEERPIDFD. */
        (void) varlink_connection_get_peer_credentials(conn, &ucred);
        if (ucred.pid <= 0)
                return -ESRCH;
        pidfd = (int) syscall(SYS_pidfd_open, ucred.pid, 0);
        if (pidfd < 0)
                return -errno;
        return pidfd;
}

int caller_identify(VarlinkConnection *conn, int namespaces_fd, Caller *ret)
{
        CallerNamespaces ns;
        _cleanup_close_ int pidfd = -1;
        Caller c = {};
        int r;

        (void) varlink_connection_get_peer_credentials(conn, &c.ucred);
        pidfd = caller_peer_pidfd(conn);
        /* Not known now, which says nothing about the caller: the call waits (see
         * VarlinkMethodCallback) rather than being refused. */
        if (pidfd == -ENOMEM || pidfd == -EMFILE || pidfd == -ENFILE)
                return pidfd;
        if (pidfd < 0)
                c.error = pidfd;
        else
                c.error = scope_caller_from_pid((int) c.ucred.pid, pidfd, &c.where);
        if (c.error >= 0) {
                /* Not readable here: this process holds no capability, and the kernel shows a
                 * process's namespaces only to who may ptrace it.  The monitor may. */
                r = caller_namespaces_ask(namespaces_fd, pidfd, &ns);
                if (r == -ESRCH)
                        c.error = r;
                else if (r >= 0 && ns.id[CALLER_NAMESPACE_NET].error == 0) {
                        c.where.has_netns = true;
                        c.where.netns_dev = ns.id[CALLER_NAMESPACE_NET].dev;
                        c.where.netns_inode = ns.id[CALLER_NAMESPACE_NET].inode;
                } else
                        log_debug_errno(r < 0 ? r : ns.id[CALLER_NAMESPACE_NET].error,
                                "Cannot learn the network namespace of PID %d: %m.", (int) c.ucred.pid);
        }
        if (c.error == -ENOMEM || c.error == -EMFILE || c.error == -ENFILE) {
                r = c.error;
                caller_done(&c);
                return r;
        }
        if (c.error < 0)
                log_debug_errno(c.error, "Cannot identify the process behind PID %d (uid %u): %m.",
                        (int) c.ucred.pid, (unsigned) c.ucred.uid);
        *ret = c;
        return 0;
}

void caller_done(Caller *c)
{
        scope_caller_done(&c->where);
        *c = (Caller){};
}
