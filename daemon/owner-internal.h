/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of the owner-query library share and nobody else sees: the context, the inode
 * cache, the lists, and the functions one file offers the others, under its name.  owner.h is
 * the library's interface. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "owner.h"
#include "util.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef TCP_NEW_SYN_RECV
#define TCP_NEW_SYN_RECV 12
#endif
#define FILEID_KERNFS 0xfe

/* A socket that no process we can see holds (kernel sockets, processes in another pid namespace)
 * would otherwise cost a full scan on every query. */
#define NEGATIVE_TTL_USEC (30ULL * 1000000ULL)
/* Unprivileged scans: a burst, then one per second, per uid. */
#define SCAN_BURST              10
#define SCAN_REFILL_USEC        (1000000ULL)
#define SOCKET_UNITS_TTL_USEC   (10ULL * 1000000ULL)
#define CACHE_MAX_ENTRIES       (1U << 20)
#define USER_CACHE_MAX          256
#define OWNER_QUERY_SOCKETS_MAX (256U * 1024U)

typedef struct Holder {
        pid_t pid;
        int fd;
        uint64_t starttime;
} Holder;

typedef enum DescribeResult {
        HOLDER_GONE,   /* exited, pid reused, or fd closed: drop it from the cache */
        HOLDER_HIDDEN, /* there, but the caller may not see it */
        HOLDER_SHOWN,
} DescribeResult;

/* A process as one query met it: its /proc/PID opened and its start time read once, and, once
 * asked for, whether the caller may see it and its names.  A process holding thousands of sockets
 * costs its status, comm and cgroup reads once per query instead of once per socket, and each of
 * its sockets one readlinkat through the open directory (which stays bound to that process, so a
 * reused pid makes the reads fail rather than describe another).  Only a few are kept, as each
 * holds two descriptors: owner_query() visits the sockets in the order of their holders' pids, so the
 * one in use is nearly always the last one opened.  Dropped when the query ends: what a caller
 * may see is decided per query. */
#define PROCESS_MEMO_MAX 8

typedef struct ProcessInfo {
        pid_t pid; /* 0: a free slot */
        int pid_fd;
        int fd_dir; /* its fd/, -1 until a socket of it is checked */
        uint64_t starttime;
        /* Its command from the same read of stat as the start time: a read of comm less per
         * process.  comm_len SIZE_MAX: it did not fit, comm is read when it is described. */
        char comm[128];
        size_t comm_len;
        uint64_t last_used;
        bool described;
        DescribeResult seen; /* once described: for this query's caller */
        OwnerProcess names;  /* once described and seen: uid, command, user, unit, container */
        char *children;      /* task/PID/children as read, NULL until asked for */
} ProcessInfo;

typedef struct CacheEntry {
        uint64_t inode; /* 0: free slot */
        uint64_t negative_until;
        Holder *holders;
        uint32_t n_holders;
} CacheEntry;

typedef struct Cache {
        CacheEntry *slots;
        size_t n_slots; /* a power of two */
        size_t n_used;
} Cache;

typedef struct ScanBudget {
        uid_t uid;
        double tokens;
        uint64_t last;
} ScanBudget;

typedef struct UserName {
        uid_t uid;
        char *name; /* NULL: no such user */
} UserName;

typedef struct SocketUnit {
        char *type, *listen, *unit;
} SocketUnit;

struct OwnerContext {
        int proc_fd;
        int netlink_fd; /* in our own network namespace */
        uint64_t netns_inode, netns_dev;
        int cgroup_fd; /* the cgroup2 mount, for open_by_handle_at; -1 when absent */
        uint32_t seq;
        Cache cache;
        ScanBudget *budgets;
        size_t n_budgets, n_budgets_allocated;
        UserName users[USER_CACHE_MAX];
        size_t n_users;
        SocketUnit *socket_units;
        size_t n_socket_units;
        uint64_t socket_units_time;
        ProcessInfo processes[PROCESS_MEMO_MAX];
        uint64_t process_tick;
        OwnerStats stats;
};

typedef struct Wanted {
        uint64_t *inodes; /* sorted */
        size_t n;
        bool *found;
} Wanted;

typedef struct PidList {
        pid_t *pids;
        size_t n, allocated;
} PidList;

typedef struct SocketList {
        OwnerSocket *sockets;
        size_t n, allocated;
} SocketList;

typedef struct Netns {
        int fd; /* -1: our own, use c->netlink_fd */
        dev_t dev;
        ino_t ino;
        char *name;
} Netns;

typedef struct NetnsList {
        Netns *items;
        size_t n, allocated;
} NetnsList;

/* owner.c */
void owner_process_done(OwnerProcess *p);

/* owner-proc.c */
void cache_done(Cache *t);
CacheEntry *cache_find(const Cache *t, uint64_t inode);
int cache_add_holder(Cache *t, uint64_t inode, const Holder *h);
void cache_drop_holder(Cache *t, uint64_t inode, pid_t pid, int fd);
ssize_t read_at(int dir_fd, const char *name, char *buf, size_t size);
int read_stat(int pid_fd, uint64_t *ret_starttime, char *ret_comm, size_t comm_size, size_t *ret_comm_len);
int read_starttime(int pid_fd, uint64_t *ret);
int process_euid(int pid_fd, uid_t *ret);
int parse_id_line(const char *status, const char *key, unsigned ret[4]);
int parse_cap_line(const char *status, const char *key, uint64_t *ret);
int list_pids(OwnerContext *c, bool by_uid, uid_t uid, PidList *ret);
int list_cgroup_pids(OwnerContext *c, uint64_t cgroup_id, PidList *ret);
int scan_pids(OwnerContext *c, Cache *t, const PidList *l, Wanted *w, pid_t *skip, size_t n_skip);
bool scan_allowed(OwnerContext *c, uid_t uid);
int full_scan(OwnerContext *c, Wanted *w);
size_t wanted_missing(const Wanted *w);
int resolve_from_cache(OwnerContext *c, OwnerSocket *s, const OwnerCaller *caller);
int process_get(OwnerContext *c, pid_t pid, ProcessInfo **ret);
bool process_holds(ProcessInfo *pi, int fd, uint64_t inode);
void process_memo_clear(OwnerContext *c);

/* owner-name.c */
int holder_describe(OwnerContext *c, const Holder *h, const OwnerSocket *s, const OwnerCaller *caller,
        OwnerProcess *ret);
void socket_units_clear(OwnerContext *c);

/* owner-diag.c */
int netlink_open(void);
int netlink_open_in(int netns_fd);
int dump_namespace(OwnerContext *c, int fd, const OwnerFilter *f, const char *netns, SocketList *l);

/* owner-netns.c */
void netns_list_done(NetnsList *l);
int resolve_netns(OwnerContext *c, const OwnerNetns *ns, const OwnerCaller *caller, NetnsList *l);
