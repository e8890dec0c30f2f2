/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who owns a port, the query: sockets from NETLINK_SOCK_DIAG (owner-diag.c) in the namespaces
 * asked for (owner-netns.c), their holders from /proc/PID/fd (owner-proc.c), named and checked
 * against the caller (owner-name.c). Unlike ss -p and lsof, which read every fd table per query,
 * a verified cache answers; a miss scans the cgroup, the uid, then everything. */

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "owner-internal.h"

static const char *const protocol_table[_OWNER_PROTOCOL_MAX] = {
        [OWNER_PROTOCOL_TCP] = "tcp",
        [OWNER_PROTOCOL_UDP] = "udp",
        [OWNER_PROTOCOL_SCTP] = "sctp",
};

const char *owner_protocol_to_string(OwnerProtocol p)
{
        return p >= 0 && p < _OWNER_PROTOCOL_MAX ? protocol_table[p] : NULL;
}

OwnerProtocol owner_protocol_from_string(const char *s)
{
        for (int i = 0; s && i < _OWNER_PROTOCOL_MAX; i++)
                if (streq(s, protocol_table[i]))
                        return i;
        return _OWNER_PROTOCOL_INVALID;
}

const char *owner_state_to_string(OwnerProtocol p, uint8_t state)
{
        static const char *const names[] = {
                [TCP_ESTABLISHED] = "ESTAB",
                [TCP_SYN_SENT] = "SYN-SENT",
                [TCP_SYN_RECV] = "SYN-RECV",
                [TCP_FIN_WAIT1] = "FIN-WAIT-1",
                [TCP_FIN_WAIT2] = "FIN-WAIT-2",
                [TCP_TIME_WAIT] = "TIME-WAIT",
                [TCP_CLOSE] = "UNCONN",
                [TCP_CLOSE_WAIT] = "CLOSE-WAIT",
                [TCP_LAST_ACK] = "LAST-ACK",
                [TCP_LISTEN] = "LISTEN",
                [TCP_CLOSING] = "CLOSING",
                [TCP_NEW_SYN_RECV] = "NEW-SYN-RECV",
        };
        if (state < ELEMENTSOF(names) && names[state])
                return names[state];
        return "UNKNOWN";
}

void owner_process_done(OwnerProcess *p)
{
        free(p->command);
        free(p->user);
        free(p->unit);
        free(p->container);
}

void owner_socket_done(OwnerSocket *s)
{
        for (size_t j = 0; j < s->n_processes; j++)
                owner_process_done(&s->processes[j]);
        free(s->processes);
        free(s->netns);
        s->processes = NULL;
        s->n_processes = 0;
        s->netns = NULL;
}

void owner_sockets_free(OwnerSocket *s, size_t n)
{
        if (!s)
                return;
        for (size_t i = 0; i < n; i++)
                owner_socket_done(&s[i]);
        free(s);
}

/* ---- the query ---- */

static int compare_sockets(const void *a, const void *b)
{
        const OwnerSocket *x = a, *y = b;
        int r;

        if (x->netns || y->netns) {
                r = strcmp(x->netns ?: "", y->netns ?: "");
                if (r != 0)
                        return r;
        }
        if (x->local_port != y->local_port)
                return x->local_port < y->local_port ? -1 : 1;
        if (x->protocol != y->protocol)
                return x->protocol < y->protocol ? -1 : 1;
        if (x->family != y->family)
                return x->family == AF_INET ? -1 : 1;
        r = memcmp(x->local.bytes, y->local.bytes, sizeof(x->local.bytes));
        if (r != 0)
                return r;
        if (x->remote_port != y->remote_port)
                return x->remote_port < y->remote_port ? -1 : 1;
        return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int compare_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The sockets the cache could not answer: their cgroups' processes first, then those of their
 * uids (for an unprivileged caller: only its own processes, all it may see anyway), then, for
 * root, everything. */
static int scan_for_misses(
        OwnerContext *c, const SocketList *l, const bool *resolved, const OwnerCaller *caller)
{
        Wanted w = {};
        PidList scanned = {};
        int r = 0;

        for (size_t i = 0; i < l->n; i++)
                if (!resolved[i] && l->sockets[i].inode != 0)
                        w.n++;
        if (w.n == 0)
                return 0;
        w.inodes = malloc(w.n * sizeof(uint64_t));
        w.found = calloc(w.n, sizeof(bool));
        if (!w.inodes || !w.found) {
                r = -ENOMEM;
                goto finish;
        }
        w.n = 0;
        for (size_t i = 0; i < l->n; i++)
                if (!resolved[i] && l->sockets[i].inode != 0)
                        w.inodes[w.n++] = l->sockets[i].inode;
        qsort(w.inodes, w.n, sizeof(uint64_t), compare_u64);
        c->stats.cache_misses += w.n;

        if (!scan_allowed(c, caller->uid)) {
                c->stats.scans_limited++;
                goto finish;
        }

        if (caller->uid != 0) {
                r = list_pids(c, true, caller->uid, &scanned);
                if (r >= 0)
                        r = scan_pids(c, &c->cache, &scanned, &w, NULL, 0);
                c->stats.narrowed_scans++;
                goto finish;
        }

        uint64_t cgroups[8];
        size_t n_cgroups = 0;
        uid_t uids[8];
        size_t n_uids = 0;
        for (size_t i = 0; i < l->n; i++) {
                const OwnerSocket *s = &l->sockets[i];
                if (resolved[i] || s->inode == 0)
                        continue;
                bool dup = false;
                for (size_t j = 0; j < n_cgroups; j++)
                        dup = dup || cgroups[j] == s->cgroup_id;
                if (!dup && s->cgroup_id != 0 && n_cgroups < ELEMENTSOF(cgroups))
                        cgroups[n_cgroups++] = s->cgroup_id;
                dup = false;
                for (size_t j = 0; j < n_uids; j++)
                        dup = dup || uids[j] == s->uid;
                if (!dup && n_uids < ELEMENTSOF(uids))
                        uids[n_uids++] = s->uid;
        }

        bool narrowed = false;
        for (size_t i = 0; i < n_cgroups && wanted_missing(&w) > 0; i++) {
                PidList pl = {};
                if (list_cgroup_pids(c, cgroups[i], &pl) >= 0) {
                        r = scan_pids(c, &c->cache, &pl, &w, scanned.pids, scanned.n);
                        narrowed = true;
                        for (size_t j = 0; r >= 0 && j < pl.n; j++) {
                                if (GROW(scanned.pids, scanned.allocated, scanned.n + 1) < 0)
                                        r = -ENOMEM;
                                else
                                        scanned.pids[scanned.n++] = pl.pids[j];
                        }
                }
                free(pl.pids);
                if (r < 0)
                        goto finish;
        }
        /* The uid step pays off only while few processes were tried; past that a full scan,
         * which also refreshes the whole cache, costs about the same. */
        for (size_t i = 0; i < n_uids && wanted_missing(&w) > 0 && scanned.n < 64; i++) {
                if (uids[i] == 0)
                        continue; /* most processes are root's: that is the full scan, twice */
                PidList pl = {};
                r = list_pids(c, true, uids[i], &pl);
                if (r >= 0)
                        r = scan_pids(c, &c->cache, &pl, &w, scanned.pids, scanned.n);
                narrowed = true;
                free(pl.pids);
                if (r < 0)
                        goto finish;
        }
        if (narrowed)
                c->stats.narrowed_scans++;
        if (wanted_missing(&w) > 0)
                r = full_scan(c, &w);

finish:
        free(w.inodes);
        free(w.found);
        free(scanned.pids);
        return r;
}

typedef struct ResolveKey {
        pid_t pid; /* the first holder the cache knows, 0 when none */
        size_t index;
} ResolveKey;

static int compare_resolve_keys(const void *a, const void *b)
{
        const ResolveKey *x = a, *y = b;
        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* The order in which to check the cache's answers: by holder, so that each process is opened and
 * named once (ProcessInfo) however many sockets it holds. */
static int resolve_order(OwnerContext *c, const SocketList *l, size_t **ret)
{
        _cleanup_free_ ResolveKey *keys = malloc((l->n ?: 1) * sizeof(ResolveKey));
        size_t *order = malloc((l->n ?: 1) * sizeof(size_t));

        if (!keys || !order) {
                free(order);
                return -ENOMEM;
        }
        for (size_t i = 0; i < l->n; i++) {
                const CacheEntry *e = cache_find(&c->cache, l->sockets[i].inode);
                keys[i] = (ResolveKey){ .pid = e && e->n_holders > 0 ? e->holders[0].pid : 0, .index = i };
        }
        qsort(keys, l->n, sizeof(ResolveKey), compare_resolve_keys);
        for (size_t i = 0; i < l->n; i++)
                order[i] = keys[i].index;
        *ret = order;
        return 0;
}

static bool past_deadline(const OwnerCaller *caller)
{
        return caller->deadline_usec != 0 && now_usec(CLOCK_MONOTONIC) >= caller->deadline_usec;
}

int owner_list_sockets(OwnerContext *c, const OwnerFilter *filter, const OwnerNetns *ns,
        const OwnerCaller *caller, OwnerSocket **ret, size_t *ret_n)
{
        OwnerCaller self = { .uid = geteuid(), .gid = getegid(), .pid = 0 };
        OwnerFilter any = {};
        NetnsList namespaces = {};
        SocketList l = {};
        int r;

        if (!c || !ret || !ret_n)
                return -EINVAL;
        if (!filter)
                filter = &any;
        if (!caller)
                caller = &self;
        if (filter->port_min > filter->port_max)
                return -EINVAL;

        r = resolve_netns(c, ns, caller, &namespaces);
        if (r < 0)
                goto fail;
        bool named = ns && ns->kind == OWNER_NETNS_ALL;
        for (size_t i = 0; i < namespaces.n; i++) {
                Netns *n = &namespaces.items[i];
                _cleanup_close_ int fd = -1;
                if (n->fd >= 0) {
                        fd = netlink_open_in(n->fd);
                        if (fd < 0) {
                                r = fd;
                                goto fail;
                        }
                }
                r = dump_namespace(c, fd >= 0 ? fd : c->netlink_fd, filter, named ? n->name : NULL, &l);
                if (r < 0)
                        goto fail;
        }
        netns_list_done(&namespaces);
        *ret = l.sockets;
        *ret_n = l.n;
        return 0;

fail:
        netns_list_done(&namespaces);
        owner_sockets_free(l.sockets, l.n);
        return r;
}

/* Names the processes of the sockets that have none yet.  The sockets are taken in holder order
 * (resolve_order()) so that each process is opened, checked and named once per call (the memo),
 * not once per socket. */
static int resolve_processes(OwnerContext *c, SocketList *l, const OwnerCaller *caller)
{
        _cleanup_free_ bool *resolved = NULL;
        _cleanup_free_ size_t *order = NULL;
        int r;

        resolved = calloc(l->n ?: 1, sizeof(bool));
        if (!resolved)
                return -ENOMEM;
        r = resolve_order(c, l, &order);
        if (r < 0)
                return r;
        for (size_t k = 0; k < l->n; k++) {
                size_t i = order[k];
                if (l->sockets[i].inode == 0 || l->sockets[i].n_processes > 0 || past_deadline(caller)) {
                        /* TIME-WAIT and friends: nobody holds them; past the budget: listed
                         * without processes, as sockets the caller may not attribute. */
                        resolved[i] = true;
                        continue;
                }
                r = resolve_from_cache(c, &l->sockets[i], caller);
                if (r < 0)
                        return r;
                resolved[i] = r > 0;
                c->stats.cache_hits += r > 0;
        }

        size_t missed = 0;
        for (size_t i = 0; i < l->n; i++)
                missed += !resolved[i];
        r = past_deadline(caller) || missed == 0 ? 0 : scan_for_misses(c, l, resolved, caller);
        if (r < 0)
                return r;
        if (missed == 0)
                return 0;
        order = mfree(order);
        /* The scan filled the cache: its answers for the sockets it missed, in holder order. */
        r = resolve_order(c, l, &order);
        if (r < 0)
                return r;
        for (size_t k = 0; k < l->n; k++) {
                size_t i = order[k];
                if (resolved[i] || past_deadline(caller))
                        continue;
                r = resolve_from_cache(c, &l->sockets[i], caller);
                if (r < 0)
                        return r;
        }
        return 0;
}

int owner_resolve_processes(OwnerContext *c, OwnerSocket *sockets, size_t n, const OwnerCaller *caller)
{
        OwnerCaller self = { .uid = geteuid(), .gid = getegid(), .pid = 0 };
        SocketList l = { .sockets = sockets, .n = n, .allocated = n };
        int r;

        if (!c || (!sockets && n > 0))
                return -EINVAL;
        if (!caller)
                caller = &self;
        process_memo_clear(c);
        r = resolve_processes(c, &l, caller);
        process_memo_clear(c);
        return r;
}

int owner_query(OwnerContext *c, const OwnerFilter *filter, const OwnerNetns *ns, const OwnerCaller *caller,
        OwnerSocket **ret, size_t *ret_n)
{
        OwnerSocket *sockets = NULL;
        size_t n = 0;
        int r;

        if (!c || !ret || !ret_n)
                return -EINVAL;
        c->stats.queries++;
        r = owner_list_sockets(c, filter, ns, caller, &sockets, &n);
        if (r < 0)
                return r;
        r = owner_resolve_processes(c, sockets, n, caller);
        if (r < 0) {
                owner_sockets_free(sockets, n);
                return r;
        }
        if (n > 1)
                qsort(sockets, n, sizeof(OwnerSocket), compare_sockets);
        *ret = sockets;
        *ret_n = n;
        return 0;
}

/* ---- the context ---- */

static int open_cgroup2_mount(void)
{
        static const char *const paths[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                struct statfs sfs;
                int fd = open(paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (fstatfs(fd, &sfs) >= 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
                        return fd;
                safe_close(fd);
        }
        return -ENOENT;
}

int owner_context_new(OwnerContext **ret)
{
        _cleanup_free_ OwnerContext *c = calloc(1, sizeof(OwnerContext));
        struct stat st;

        if (!c)
                return -ENOMEM;
        c->proc_fd = c->netlink_fd = c->cgroup_fd = -1;

        c->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->proc_fd < 0)
                return -errno;
        c->netlink_fd = netlink_open();
        if (c->netlink_fd < 0) {
                int r = c->netlink_fd;
                safe_close(c->proc_fd);
                return r;
        }
        if (fstatat(c->proc_fd, "self/ns/net", &st, 0) >= 0) {
                c->netns_inode = st.st_ino;
                c->netns_dev = st.st_dev;
        }
        c->cgroup_fd = open_cgroup2_mount();
        *ret = TAKE_PTR(c);
        return 0;
}

OwnerContext *owner_context_free(OwnerContext *c)
{
        if (!c)
                return NULL;
        safe_close(c->proc_fd);
        safe_close(c->netlink_fd);
        safe_close(c->cgroup_fd);
        process_memo_clear(c);
        cache_done(&c->cache);
        free(c->budgets);
        for (size_t i = 0; i < c->n_users; i++)
                free(c->users[i].name);
        socket_units_clear(c);
        free(c);
        return NULL;
}

void owner_context_get_stats(const OwnerContext *c, OwnerStats *ret)
{
        *ret = c->stats;
}
