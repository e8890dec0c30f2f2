/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner queries, /proc: the verified cache of socket inode -> (pid, fd, start time), the small
 * readers of /proc/PID files, and the scans of /proc/PID/fd (a cgroup's, a uid's, everything). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owner-internal.h"

/* ---- the inode cache ---- */

void cache_done(Cache *t)
{
        for (size_t i = 0; i < t->n_slots; i++)
                free(t->slots[i].holders);
        free(t->slots);
        *t = (Cache){};
}

static size_t cache_hash(uint64_t inode, size_t n_slots)
{
        return (size_t) ((inode * 0x9E3779B97F4A7C15ULL) >> 17) & (n_slots - 1);
}

CacheEntry *cache_find(const Cache *t, uint64_t inode)
{
        if (t->n_slots == 0 || inode == 0)
                return NULL;
        for (size_t i = cache_hash(inode, t->n_slots);; i = (i + 1) & (t->n_slots - 1)) {
                if (t->slots[i].inode == inode)
                        return &t->slots[i];
                if (t->slots[i].inode == 0)
                        return NULL;
        }
}

static int cache_grow(Cache *t)
{
        size_t n = t->n_slots ? t->n_slots * 2 : 1024;
        CacheEntry *slots = calloc(n, sizeof(CacheEntry));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_slots; i++) {
                if (t->slots[i].inode == 0)
                        continue;
                size_t j = cache_hash(t->slots[i].inode, n);
                while (slots[j].inode != 0)
                        j = (j + 1) & (n - 1);
                slots[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->n_slots = n;
        return 0;
}

/* Entries are never removed one by one (a stale holder list just empties); a full scan builds a
 * fresh table, which is how closed sockets leave. */
static int cache_get(Cache *t, uint64_t inode, CacheEntry **ret)
{
        CacheEntry *e = cache_find(t, inode);
        int r;

        if (!e) {
                if (t->n_used >= CACHE_MAX_ENTRIES)
                        return -ENOSPC;
                if ((t->n_used + 1) * 2 > t->n_slots) {
                        r = cache_grow(t);
                        if (r < 0)
                                return r;
                }
                size_t i = cache_hash(inode, t->n_slots);
                while (t->slots[i].inode != 0)
                        i = (i + 1) & (t->n_slots - 1);
                e = &t->slots[i];
                *e = (CacheEntry){ .inode = inode };
                t->n_used++;
        }
        *ret = e;
        return 0;
}

int cache_add_holder(Cache *t, uint64_t inode, const Holder *h)
{
        CacheEntry *e;
        int r = cache_get(t, inode, &e);
        if (r < 0)
                return r;
        e->negative_until = 0;
        for (uint32_t i = 0; i < e->n_holders; i++)
                if (e->holders[i].pid == h->pid && e->holders[i].fd == h->fd) {
                        e->holders[i].starttime = h->starttime;
                        return 0;
                }
        Holder *n = realloc(e->holders, (e->n_holders + 1) * sizeof(Holder));
        if (!n)
                return -ENOMEM;
        e->holders = n;
        e->holders[e->n_holders++] = *h;
        return 0;
}

void cache_drop_holder(Cache *t, uint64_t inode, pid_t pid, int fd)
{
        CacheEntry *e = cache_find(t, inode);
        if (!e)
                return;
        for (uint32_t i = 0; i < e->n_holders; i++)
                if (e->holders[i].pid == pid && e->holders[i].fd == fd) {
                        e->holders[i] = e->holders[--e->n_holders];
                        return;
                }
}

/* ---- small /proc readers ---- */

ssize_t read_at(int dir_fd, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t n = 0;
        while (n + 1 < size) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                n += (size_t) k;
                /* A /proc file (seq_file) fills a read as far as it has text: a short one is its
                 * end, and the read that would say so costs a system call per file of each of a
                 * listing's thousands of processes. */
                if (k == 0 || (size_t) k < size - 1 - (n - (size_t) k))
                        break;
        }
        buf[n] = 0;
        return (ssize_t) n;
}

/* Field 22 of /proc/PID/stat, in clock ticks since boot: with the pid it names one process for
 * the machine's lifetime, so a reused pid never inherits a cached answer.  With ret_comm, also
 * field 2, the command between the first '(' and the last ')', the very text /proc/PID/comm has
 * (without its newline): *ret_comm_len is SIZE_MAX when it does not fit comm_size. */
int read_stat(int pid_fd, uint64_t *ret_starttime, char *ret_comm, size_t comm_size, size_t *ret_comm_len)
{
        char buf[1024];
        ssize_t n = read_at(pid_fd, "stat", buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        const char *open = strchr(buf, '('), *p = strrchr(buf, ')');
        if (!open || !p || p < open)
                return -EBADMSG;
        if (ret_comm) {
                size_t len = (size_t) (p - open - 1);
                *ret_comm_len = len < comm_size ? len : SIZE_MAX;
                if (len < comm_size) {
                        memcpy(ret_comm, open + 1, len);
                        ret_comm[len] = 0;
                }
        }
        p++;
        for (int field = 2; field < 21; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno != 0 || end == p + 1)
                return -EBADMSG;
        *ret_starttime = v;
        return 0;
}

/* The effective uid of the process whose /proc/PID pid_fd is: the directory's owner, which the
 * kernel gives it whatever the dumpable flag (for exactly this use), a stat instead of reading and
 * parsing status, the dearest of a process's files.  -ESRCH when it is gone: the stat of a reaped
 * process's directory still succeeds, as root's, so root's answer is checked by a lookup in it,
 * which fails once the process is gone. */
int process_euid(int pid_fd, uid_t *ret)
{
        struct stat st;

        if (fstat(pid_fd, &st) < 0)
                return -errno;
        if (st.st_uid == 0 && faccessat(pid_fd, "stat", F_OK, 0) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        *ret = st.st_uid;
        return 0;
}

int read_starttime(int pid_fd, uint64_t *ret)
{
        return read_stat(pid_fd, ret, NULL, 0, NULL);
}

int parse_id_line(const char *status, const char *key, unsigned ret[4])
{
        const char *p = strstr(status, key);
        if (!p)
                return -EBADMSG;
        p += strlen(key);
        for (int i = 0; i < 4; i++) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(p, &end, 10);
                if (errno != 0 || end == p)
                        return -EBADMSG;
                ret[i] = (unsigned) v;
                p = end;
        }
        return 0;
}

int parse_cap_line(const char *status, const char *key, uint64_t *ret)
{
        const char *p = strstr(status, key);
        char *end;

        if (!p)
                return -EBADMSG;
        p += strlen(key);
        errno = 0;
        unsigned long long v = strtoull(p, &end, 16);
        if (errno != 0 || end == p)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool parse_pid(const char *s, pid_t *ret)
{
        if (*s < '1' || *s > '9')
                return false;
        long v = 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > 100000000)
                        return false;
                v = v * 10 + (*s - '0');
        }
        *ret = (pid_t) v;
        return true;
}

static bool parse_socket_link(const char *link, size_t n, uint64_t *ret)
{
        if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
                return false;
        uint64_t v = 0;
        for (size_t i = 8; i < n - 1; i++) {
                if (link[i] < '0' || link[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (link[i] - '0');
        }
        *ret = v;
        return v != 0;
}

/* ---- scanning /proc/PID/fd ---- */

static int wanted_index(const Wanted *w, uint64_t inode)
{
        size_t lo = 0, hi = w->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (w->inodes[mid] == inode)
                        return (int) mid;
                if (w->inodes[mid] < inode)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

size_t wanted_missing(const Wanted *w)
{
        size_t n = 0;
        for (size_t i = 0; i < w->n; i++)
                n += !w->found[i];
        return n;
}

/* Records every socket one process holds, so later queries for other ports hit the cache too. */
static int scan_process(OwnerContext *c, Cache *t, pid_t pid, Wanted *w)
{
        char name[32], link[64];
        _cleanup_close_ int pid_fd = -1, fd_dir = -1;
        uint64_t starttime = 0;
        bool have_starttime = false;
        int r;

        snprintf(name, sizeof(name), "%d", (int) pid);
        pid_fd = openat(c->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_fd < 0)
                return 0; /* gone, or not ours to read */
        fd_dir = openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_dir < 0)
                return 0;
        c->stats.processes_scanned++;

        for (;;) {
                char buf[8192];
                ssize_t n = getdents64(fd_dir, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *) (buf + off);
                        off += de->d_reclen;
                        if (de->d_name[0] < '0' || de->d_name[0] > '9')
                                continue;
                        ssize_t k = readlinkat(fd_dir, de->d_name, link, sizeof(link));
                        uint64_t inode;
                        if (k <= 0 || (size_t) k >= sizeof(link) ||
                                !parse_socket_link(link, (size_t) k, &inode))
                                continue;
                        if (!have_starttime) {
                                if (read_starttime(pid_fd, &starttime) < 0)
                                        return 0;
                                have_starttime = true;
                        }
                        Holder h = { .pid = pid, .fd = atoi(de->d_name), .starttime = starttime };
                        r = cache_add_holder(t, inode, &h);
                        if (r < 0 && r != -ENOSPC)
                                return r;
                        int i = w ? wanted_index(w, inode) : -1;
                        if (i >= 0)
                                w->found[i] = true;
                }
        }
        return 0;
}

/* Every process, or those whose /proc/PID belongs to uid (the effective uid of a dumpable
 * process: exactly the ones an unprivileged caller could look at). */
int list_pids(OwnerContext *c, bool by_uid, uid_t uid, PidList *ret)
{
        if (lseek(c->proc_fd, 0, SEEK_SET) < 0)
                return -errno;
        for (;;) {
                char buf[16384];
                ssize_t n = getdents64(c->proc_fd, buf, sizeof(buf));
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *) (buf + off);
                        pid_t pid;
                        off += de->d_reclen;
                        if (!parse_pid(de->d_name, &pid))
                                continue;
                        if (by_uid) {
                                struct stat st;
                                if (fstatat(c->proc_fd, de->d_name, &st, 0) < 0 || st.st_uid != uid)
                                        continue;
                        }
                        if (GROW(ret->pids, ret->allocated, ret->n + 1) < 0)
                                return -ENOMEM;
                        ret->pids[ret->n++] = pid;
                }
        }
        return 0;
}

/* The processes of one cgroup v2 by id, through the id's file handle: no walk of the tree. */
int list_cgroup_pids(OwnerContext *c, uint64_t cgroup_id, PidList *ret)
{
        struct {
                struct file_handle fh;
                uint64_t id;
        } h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
        _cleanup_close_ int dir = -1, fd = -1;
        _cleanup_fclose_ FILE *f = NULL;

        if (c->cgroup_fd < 0 || cgroup_id == 0)
                return -EOPNOTSUPP;
        memcpy(h.fh.f_handle, &cgroup_id, sizeof(cgroup_id));
        dir = open_by_handle_at(c->cgroup_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f)
                return -errno;
        TAKE_FD(fd);
        int pid;
        while (fscanf(f, "%d", &pid) == 1) {
                if (GROW(ret->pids, ret->allocated, ret->n + 1) < 0)
                        return -ENOMEM;
                ret->pids[ret->n++] = pid;
        }
        return 0;
}

int scan_pids(OwnerContext *c, Cache *t, const PidList *l, Wanted *w, pid_t *skip, size_t n_skip)
{
        for (size_t i = 0; i < l->n && wanted_missing(w) > 0; i++) {
                bool seen = false;
                for (size_t j = 0; j < n_skip && !seen; j++)
                        seen = skip[j] == l->pids[i];
                if (seen)
                        continue;
                int r = scan_process(c, t, l->pids[i], w);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool scan_allowed(OwnerContext *c, uid_t uid)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        ScanBudget *b = NULL;

        if (uid == 0)
                return true;
        for (size_t i = 0; i < c->n_budgets; i++)
                if (c->budgets[i].uid == uid)
                        b = &c->budgets[i];
        if (!b) {
                if (GROW(c->budgets, c->n_budgets_allocated, c->n_budgets + 1) < 0)
                        return false;
                b = &c->budgets[c->n_budgets++];
                *b = (ScanBudget){ .uid = uid, .tokens = SCAN_BURST, .last = now };
        }
        b->tokens = MIN((double) SCAN_BURST, b->tokens + (double) (now - b->last) / SCAN_REFILL_USEC);
        b->last = now;
        if (b->tokens < 1.0)
                return false;
        b->tokens -= 1.0;
        return true;
}

/* A full scan rebuilds the cache so that holders of closed sockets leave it; negative entries
 * that have not expired survive. */
int full_scan(OwnerContext *c, Wanted *w)
{
        Cache fresh = {};
        PidList all = {};
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        r = list_pids(c, false, 0, &all);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < all.n; i++) {
                r = scan_process(c, &fresh, all.pids[i], w);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < c->cache.n_slots; i++) {
                CacheEntry *e = &c->cache.slots[i], *n;
                if (e->inode == 0 || e->negative_until <= now || cache_find(&fresh, e->inode))
                        continue;
                if (cache_get(&fresh, e->inode, &n) >= 0)
                        n->negative_until = e->negative_until;
        }
        for (size_t i = 0; i < w->n; i++) {
                CacheEntry *e;
                if (!w->found[i] && cache_get(&fresh, w->inodes[i], &e) >= 0)
                        e->negative_until = now + NEGATIVE_TTL_USEC;
        }
        cache_done(&c->cache);
        c->cache = fresh;
        fresh = (Cache){};
        c->stats.full_scans++;
        r = 0;
finish:
        cache_done(&fresh);
        free(all.pids);
        return r;
}

/* ---- the processes of one query ---- */

static void process_info_done(ProcessInfo *pi)
{
        safe_close(pi->pid_fd);
        safe_close(pi->fd_dir);
        owner_process_done(&pi->names);
        free(pi->children);
        *pi = (ProcessInfo){ .pid_fd = -1, .fd_dir = -1 };
}

void process_memo_clear(OwnerContext *c)
{
        for (size_t i = 0; i < ELEMENTSOF(c->processes); i++)
                if (c->processes[i].pid != 0)
                        process_info_done(&c->processes[i]);
}

/* -ESRCH (or what openat said) when pid is gone or unreadable; the slot it would have taken
 * stays free. */
int process_get(OwnerContext *c, pid_t pid, ProcessInfo **ret)
{
        ProcessInfo *slot = NULL;
        char name[32];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(c->processes); i++) {
                ProcessInfo *pi = &c->processes[i];
                if (pi->pid == pid) {
                        pi->last_used = ++c->process_tick;
                        *ret = pi;
                        return 0;
                }
                if (!slot || (slot->pid != 0 && (pi->pid == 0 || pi->last_used < slot->last_used)))
                        slot = pi;
        }
        if (slot->pid != 0)
                process_info_done(slot);

        snprintf(name, sizeof(name), "%d", (int) pid);
        int fd = openat(c->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        uint64_t starttime;
        size_t comm_len;
        char comm[sizeof(slot->comm)];
        r = read_stat(fd, &starttime, comm, sizeof(comm), &comm_len);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        *slot = (ProcessInfo){ .pid = pid,
                .pid_fd = fd,
                .fd_dir = -1,
                .starttime = starttime,
                .comm_len = comm_len,
                .last_used = ++c->process_tick };
        if (comm_len != SIZE_MAX)
                memcpy(slot->comm, comm, comm_len + 1);
        *ret = slot;
        return 0;
}

/* Whether pi's process holds the socket inode at fd: one readlinkat per socket, relative to its
 * fd/ opened once (a path through /proc/PID/fd/N costs two more lookups each time). */
bool process_holds(ProcessInfo *pi, int fd, uint64_t inode)
{
        char name[16], link[64];
        uint64_t found;

        if (pi->fd_dir < 0) {
                pi->fd_dir = openat(pi->pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pi->fd_dir < 0)
                        return false;
        }
        snprintf(name, sizeof(name), "%d", fd);
        ssize_t k = readlinkat(pi->fd_dir, name, link, sizeof(link));
        return k > 0 && (size_t) k < sizeof(link) && parse_socket_link(link, (size_t) k, &found) &&
               found == inode;
}

/* 1 when pid holds the socket inode at fd, with ret filled in; 0 when not. */
static int probe_holder(OwnerContext *c, pid_t pid, int fd, uint64_t inode, Holder *ret)
{
        ProcessInfo *pi;

        if (process_get(c, pid, &pi) < 0 || !process_holds(pi, fd, inode))
                return 0;
        *ret = (Holder){ .pid = pid, .fd = fd, .starttime = pi->starttime };
        return 1;
}

/* Prefork servers (nginx, apache, gunicorn) fork workers after the scan that cached the master;
 * the workers hold the socket at the same fd number. Looking at the children of each known
 * holder finds them without a scan. */
#define FORKED_HOLDERS_MAX 256

static int add_forked_holders(OwnerContext *c, size_t index, uint64_t inode, Holder **list, size_t *n,
        size_t *allocated, size_t *added)
{
        char path[64], buf[4096];
        const Holder parent = (*list)[index]; /* a copy: the list moves when it grows */
        ProcessInfo *pi;

        /* The parent's children, read once per query: a master holding many sockets would
         * otherwise be asked once for each of them. */
        if (process_get(c, parent.pid, &pi) < 0 || pi->starttime != parent.starttime)
                return 0;
        if (!pi->children) {
                snprintf(path, sizeof(path), "task/%d/children", (int) parent.pid);
                if (read_at(pi->pid_fd, path, buf, sizeof(buf)) < 0)
                        buf[0] = 0;
                pi->children = strdup(buf);
                if (!pi->children)
                        return -ENOMEM;
        }
        if (!*pi->children)
                return 0; /* no children: nearly every process */
        /* A copy: probing the children may take the parent's slot.  Only the text, not the
         * whole buffer (strncpy() pads it), once per socket of a process that has children. */
        size_t len = MIN(strlen(pi->children), sizeof(buf) - 1);
        memcpy(buf, pi->children, len);
        buf[len] = 0;
        for (const char *p = buf; *p && *added < FORKED_HOLDERS_MAX;) {
                char *end;
                long child = strtol(p, &end, 10);
                if (end == p || child <= 0)
                        break;
                p = end;
                bool known = false;
                for (size_t i = 0; i < *n && !known; i++)
                        known = (*list)[i].pid == (pid_t) child;
                Holder ch;
                if (known || probe_holder(c, (pid_t) child, parent.fd, inode, &ch) <= 0)
                        continue;
                if (GROW(*list, *allocated, *n + 1) < 0)
                        return -ENOMEM;
                (*list)[(*n)++] = ch;
                (*added)++;
                int r = cache_add_holder(&c->cache, inode, &ch);
                if (r < 0 && r != -ENOSPC)
                        return r;
        }
        return 0;
}

/* Describes what the cache holds for s. Returns 1 when at least one holder still holds it (or the
 * entry is a live negative one), 0 when the cache has nothing valid. */
int resolve_from_cache(OwnerContext *c, OwnerSocket *s, const OwnerCaller *caller)
{
        CacheEntry *e = cache_find(&c->cache, s->inode);
        bool valid = false;
        size_t added = 0;

        if (!e)
                return 0;
        if (e->n_holders == 0)
                return e->negative_until > now_usec(CLOCK_MONOTONIC);

        /* Copy: describing may drop holders from the entry, and forked ones join the list. */
        size_t n = e->n_holders, allocated = n;
        _cleanup_free_ Holder *holders = malloc(n * sizeof(Holder));
        if (!holders)
                return -ENOMEM;
        memcpy(holders, e->holders, n * sizeof(Holder));

        for (size_t i = 0; i < n; i++) {
                OwnerProcess p;
                int r = add_forked_holders(c, i, s->inode, &holders, &n, &allocated, &added);
                if (r < 0)
                        return r;
                r = holder_describe(c, &holders[i], s, caller, &p);
                if (r < 0)
                        return r;
                if (r == HOLDER_GONE) {
                        cache_drop_holder(&c->cache, s->inode, holders[i].pid, holders[i].fd);
                        continue;
                }
                valid = true;
                if (r == HOLDER_HIDDEN)
                        continue;
                OwnerProcess *np = realloc(s->processes, (s->n_processes + 1) * sizeof(OwnerProcess));
                if (!np) {
                        owner_process_done(&p);
                        return -ENOMEM;
                }
                s->processes = np;
                s->processes[s->n_processes++] = p;
        }
        return valid;
}
