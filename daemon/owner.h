/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner queries: which sockets match a port (NETLINK_SOCK_DIAG, filtered in the kernel) and which
 * processes hold them (/proc/PID/fd, narrowed and cached). A library, so that tests use it without
 * a daemon; the varlink layer (varlink-sockets.c) only translates. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum OwnerProtocol {
        OWNER_PROTOCOL_TCP,
        OWNER_PROTOCOL_UDP,
        OWNER_PROTOCOL_SCTP,
        _OWNER_PROTOCOL_MAX,
        _OWNER_PROTOCOL_INVALID = -1,
} OwnerProtocol;

const char *owner_protocol_to_string(OwnerProtocol p);
OwnerProtocol owner_protocol_from_string(const char *s);

/* ss's names: "LISTEN", "ESTAB", "UNCONN" (an unconnected UDP socket), ... */
const char *owner_state_to_string(OwnerProtocol p, uint8_t state);

typedef union OwnerAddress {
        struct in_addr in;
        struct in6_addr in6;
        uint8_t bytes[16];
} OwnerAddress;

typedef struct OwnerFilter {
        uint16_t port_min, port_max; /* local port range, inclusive; both 0: every port */
        unsigned protocols;          /* mask of 1u << OwnerProtocol; 0: all of them */
        int family;                  /* AF_UNSPEC, AF_INET or AF_INET6 */
        int address_family;          /* AF_UNSPEC: any local address, else match address exactly */
        OwnerAddress address;
        bool established; /* every state; otherwise listening TCP and unconnected UDP only, as ss -l */
        bool either_end;  /* port and address match the local or the remote end, as lsof -i does */
} OwnerFilter;

typedef enum OwnerNetnsKind {
        OWNER_NETNS_CALLER, /* the caller's (by OwnerCaller.pid), the default */
        OWNER_NETNS_PID,    /* the namespace of a given process */
        OWNER_NETNS_NAME,   /* /run/netns/NAME, as ip-netns names them */
        OWNER_NETNS_ALL,    /* every namespace some process or /run/netns holds */
        OWNER_NETNS_FD,     /* the caller's, as an fd its trusted front end resolved (a pidfd's) */
        _OWNER_NETNS_KIND_MAX,
        _OWNER_NETNS_KIND_INVALID = -1,
} OwnerNetnsKind;

typedef struct OwnerNetns {
        OwnerNetnsKind kind;
        pid_t pid;        /* OWNER_NETNS_PID */
        const char *name; /* OWNER_NETNS_NAME */
        int fd;           /* OWNER_NETNS_FD, borrowed */
} OwnerNetns;

/* Who asks, from the peer's credentials. Only uid 0 sees every process and namespace. */
typedef struct OwnerCaller {
        uid_t uid;
        gid_t gid;
        pid_t pid;              /* 0: this process */
        uint64_t cap_permitted; /* CapPrm: a process holding more is hidden from it, as ptrace does */
        bool cap_known;         /* false: taken as none */
        /* CLOCK_MONOTONIC; 0: none.  Past it the remaining sockets are listed without their
         * processes, so that one query cannot hold the others up. */
        uint64_t deadline_usec;
} OwnerCaller;

typedef struct OwnerProcess {
        pid_t pid;
        int fd;
        uid_t uid;       /* effective uid */
        char *command;   /* /proc/PID/comm */
        char *user;      /* NULL when the uid has no name */
        char *unit;      /* systemd unit, NULL when none */
        char *container; /* "docker:ID", "podman:ID", "machine:NAME", "lxc:NAME", "kubepods:POD/ID" */
} OwnerProcess;

typedef struct OwnerSocket {
        OwnerProtocol protocol;
        int family;
        OwnerAddress local, remote;
        uint16_t local_port, remote_port; /* host byte order */
        uint8_t state;                    /* TCP_* as the kernel reports it */
        uid_t uid;
        uint64_t inode;
        uint64_t cgroup_id; /* cgroup v2 id, 0 when the kernel did not say */
        char *netns;        /* only for OWNER_NETNS_ALL: /run/netns name or "net:[INODE]" */
        OwnerProcess *processes;
        size_t n_processes;
} OwnerSocket;

void owner_sockets_free(OwnerSocket *s, size_t n);
/* Frees what one socket holds (its processes, its netns name), not the socket itself. */
void owner_socket_done(OwnerSocket *s);

typedef struct OwnerStats {
        uint64_t queries;
        uint64_t cache_hits;     /* sockets whose holders came from the cache, verified */
        uint64_t cache_misses;   /* sockets that needed a scan */
        uint64_t narrowed_scans; /* scans over a cgroup's or a uid's processes only */
        uint64_t full_scans;     /* scans over every process */
        uint64_t scans_limited;  /* full scans refused by the per-uid rate limit */
        uint64_t processes_scanned;
        uint64_t processes_described; /* status, comm and cgroup read: once per process and query */
} OwnerStats;

/* The cache and the per-uid scan budgets. Not thread-safe: one thread at a time (the daemon
 * gives it to its owner-query worker thread). */
typedef struct OwnerContext OwnerContext;

int owner_context_new(OwnerContext **ret);
OwnerContext *owner_context_free(OwnerContext *c);
void owner_context_get_stats(const OwnerContext *c, OwnerStats *ret);

/* The sockets that match filter in the namespace(s) ns asks for, with the processes that hold
 * them as far as caller may see them. -EPERM when an unprivileged caller asks for a namespace
 * other than its own, -ENOENT when a named namespace or pid does not exist. */
int owner_query(OwnerContext *c, const OwnerFilter *filter, const OwnerNetns *ns, const OwnerCaller *caller,
        OwnerSocket **ret, size_t *ret_n);

/* owner_query() in two halves, for a caller that wants the processes of some sockets only (a
 * follower names those that appeared since its last look): the sockets alone, unsorted, and then
 * the processes of those among them that have none yet, within caller's deadline. */
int owner_list_sockets(OwnerContext *c, const OwnerFilter *filter, const OwnerNetns *ns,
        const OwnerCaller *caller, OwnerSocket **ret, size_t *ret_n);
int owner_resolve_processes(OwnerContext *c, OwnerSocket *sockets, size_t n, const OwnerCaller *caller);

/* A name read from a process, a cgroup or a file, made safe to show and to put in JSON: invalid
 * UTF-8, control characters (C0, DEL, C1) become \xNN, as lsof writes them. */
int owner_name_make_safe(const char *s, size_t n, char **ret);

/* cgroup-name.c */

/* The systemd unit (innermost .service/.scope/...) and the container a cgroup path names; either
 * may come back NULL. Pure string work, no I/O. */
int cgroup_path_names(const char *path, char **ret_unit, char **ret_container);

/* The cgroup path of one process from the text of /proc/PID/cgroup: the unified hierarchy's
 * line, or the name=systemd one where the unified one is only "/" (hybrid setups). */
int cgroup_path_from_proc_text(const char *text, char **ret);

/* Whether a systemd socket unit's Listen= value ("0.0.0.0:80", "[::]:53", "8080") and type
 * ("Stream", "Datagram", "SequentialPacket") describe the given socket. */
bool socket_unit_listen_matches(const char *type, const char *listen, const OwnerSocket *s);
