/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is calling: the one place that decides the identity of a connection's peer, for scopes,
 * for the checks on state changes, and for anything else that answers by who asks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scope.h"
#include "varlink-server.h"

typedef struct Caller {
        struct ucred ucred; /* as the kernel recorded it at connect() */
        /* 0: the process that connected was read while it provably lived; else why it was not
         * (-ESRCH: it has exited, the connection was inherited by a child, say). */
        int error;
        ScopeCaller where; /* its cgroup and network namespace; parts may be unknown */
} Caller;

/* caller-namespaces.c: the namespaces of a process, read by the monitor for the main process. */
typedef enum CallerNamespace {
        CALLER_NAMESPACE_NET,
        CALLER_NAMESPACE_USER,
        CALLER_NAMESPACE_PID,
        _CALLER_NAMESPACE_MAX,
} CallerNamespace;
typedef struct CallerNamespaceId {
        uint64_t dev, inode; /* of /proc/PID/ns/TYPE */
        int error;           /* < 0: that one could not be read */
} CallerNamespaceId;
typedef struct CallerNamespaces {
        int error; /* on the wire only: why none was read */
        CallerNamespaceId id[_CALLER_NAMESPACE_MAX];
} CallerNamespaces;
/* Reads them for the process pidfd pins, through /proc (the kernel's ptrace check applies);
 * -ESRCH when it is gone, before or while they were read. */
int caller_namespaces_read(int pidfd, CallerNamespaces *ret);
/* The main process's side: asks the monitor on channel_fd (< 0: none, read here), passing pidfd.
 * -ESRCH when the process is gone; other errors (-ETIMEDOUT, -ECONNRESET: the monitor did not
 * answer) say nothing about it. */
int caller_namespaces_ask(int channel_fd, int pidfd, CallerNamespaces *ret);
/* The monitor's side: answers the questions waiting on channel_fd, a bounded batch of them.
 * -ECONNRESET when the main process is gone. */
int caller_namespaces_answer(int channel_fd);
/* Whether ns are this process's user and PID namespaces: 1 yes, 0 no, negative errno when one of
 * them is not known. */
int caller_namespaces_are_own(const CallerNamespaces *ns);

/* A pidfd of the process that connected: SO_PEERPIDFD, which the kernel took at connect() (Linux
 * 6.5+); on older kernels pidfd_open() of the PID SO_PEERCRED gave, which pins that PID's process
 * as it is now.  -ESRCH when that process is gone, -EMFILE/-ENFILE when out of descriptors. */
int caller_peer_pidfd(VarlinkConnection *conn);
/* Reads who the peer of conn is (see Caller); its network namespace is asked of the monitor on
 * namespaces_fd (caller_namespaces_ask()).  Fails only with -ENOMEM, -EMFILE or -ENFILE (not
 * known now: ask again later); every other failure is the answer, in ret->error.  Release with
 * caller_done(). */
int caller_identify(VarlinkConnection *conn, int namespaces_fd, Caller *ret);
void caller_done(Caller *c);
