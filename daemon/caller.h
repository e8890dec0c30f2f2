/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is calling: the one place that decides the identity of a connection's peer, for scopes,
 * for the checks on state changes, and for anything else that answers by who asks. */
#pragma once

#include <stdbool.h>
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

/* A pidfd of the process that connected: SO_PEERPIDFD, which the kernel took at connect() (Linux
 * 6.5+); on older kernels pidfd_open() of the PID SO_PEERCRED gave, which pins that PID's process
 * as it is now.  -ESRCH when that process is gone, -EMFILE/-ENFILE when out of descriptors. */
int caller_peer_pidfd(VarlinkConnection *conn);
/* Reads who the peer of conn is (see Caller).  Fails only with -ENOMEM, -EMFILE or -ENFILE (not
 * known now: ask again later); every other failure is the answer, in ret->error.  Release with
 * caller_done(). */
int caller_identify(VarlinkConnection *conn, Caller *ret);
void caller_done(Caller *c);
