/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who owns a port: sockets from NETLINK_SOCK_DIAG, filtered by kernel bytecode, and their holders
 * from /proc/PID/fd. Unlike ss -p and lsof, which read every fd table per query, a verified cache
 * of inode -> (pid, fd, start time) answers; a miss scans the cgroup, the uid, then everything. */

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/inet_diag.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <systemd/sd-bus.h>
#include <time.h>

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
#define SCAN_BURST            10
#define SCAN_REFILL_USEC      (1000000ULL)
#define SOCKET_UNITS_TTL_USEC (10ULL * 1000000ULL)
#define CACHE_MAX_ENTRIES     (1U << 20)
#define USER_CACHE_MAX        256
#define OWNER_QUERY_SOCKETS_MAX (256U * 1024U)

typedef struct Holder {
        pid_t pid;
        int fd;
        uint64_t starttime;
} Holder;

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
        OwnerStats stats;
};

static const char *const protocol_table[_OWNER_PROTOCOL_MAX] = {
        [OWNER_PROTOCOL_TCP] = "tcp",
        [OWNER_PROTOCOL_UDP] = "udp",
        [OWNER_PROTOCOL_SCTP] = "sctp",
};

static const int protocol_number[_OWNER_PROTOCOL_MAX] = {
        [OWNER_PROTOCOL_TCP] = IPPROTO_TCP,
        [OWNER_PROTOCOL_UDP] = IPPROTO_UDP,
        [OWNER_PROTOCOL_SCTP] = IPPROTO_SCTP,
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

static void owner_process_done(OwnerProcess *p)
{
        free(p->command);
        free(p->user);
        free(p->unit);
        free(p->container);
}

void owner_sockets_free(OwnerSocket *s, size_t n)
{
        if (!s)
                return;
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < s[i].n_processes; j++)
                        owner_process_done(&s[i].processes[j]);
                free(s[i].processes);
                free(s[i].netns);
        }
        free(s);
}

/* ---- the inode cache ---- */

static void cache_done(Cache *t)
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

static CacheEntry *cache_find(const Cache *t, uint64_t inode)
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

static int cache_add_holder(Cache *t, uint64_t inode, const Holder *h)
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

static void cache_drop_holder(Cache *t, uint64_t inode, pid_t pid, int fd)
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

static ssize_t read_at(int dir_fd, const char *name, char *buf, size_t size)
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
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        return (ssize_t) n;
}

/* Field 22 of /proc/PID/stat, in clock ticks since boot: with the pid it names one process for
 * the machine's lifetime, so a reused pid never inherits a cached answer. */
static int read_starttime(int pid_fd, uint64_t *ret)
{
        char buf[1024];
        ssize_t n = read_at(pid_fd, "stat", buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        const char *p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
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
        *ret = v;
        return 0;
}

static int parse_id_line(const char *status, const char *key, unsigned ret[4])
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

static int parse_cap_line(const char *status, const char *key, uint64_t *ret)
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

typedef struct Wanted {
        uint64_t *inodes; /* sorted */
        size_t n;
        bool *found;
} Wanted;

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

static size_t wanted_missing(const Wanted *w)
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

typedef struct PidList {
        pid_t *pids;
        size_t n, allocated;
} PidList;

/* Every process, or those whose /proc/PID belongs to uid (the effective uid of a dumpable
 * process: exactly the ones an unprivileged caller could look at). */
static int list_pids(OwnerContext *c, bool by_uid, uid_t uid, PidList *ret)
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
static int list_cgroup_pids(OwnerContext *c, uint64_t cgroup_id, PidList *ret)
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

static int scan_pids(OwnerContext *c, Cache *t, const PidList *l, Wanted *w, pid_t *skip, size_t n_skip)
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

static bool scan_allowed(OwnerContext *c, uid_t uid)
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
static int full_scan(OwnerContext *c, Wanted *w)
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

/* ---- naming holders ---- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 when there is none; overlong forms,
 * surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
        uint32_t cp;
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
                (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        /* C1 controls (U+0080..U+009F): CSI and friends, as dangerous on a terminal as ESC. */
        if (cp >= 0x80 && cp <= 0x9f)
                return 0;
        return len;
}

int owner_name_make_safe(const char *s, size_t n, char **ret)
{
        const unsigned char *u = (const unsigned char *) s;
        char *out, *p;

        /* Names come from processes (comm), cgroups (made by users) and files: once here, invalid
         * UTF-8 and control characters become \xNN as lsof prints them, so that every JSON reply
         * is valid and nothing reaches a terminal raw. */
        if (n > SIZE_MAX / 4 - 1)
                return -ENOMEM;
        out = p = malloc(n * 4 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence_length(u + i, n - i);
                if (len == 0 || (len == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
                        p += sprintf(p, "\\x%02x", u[i]);
                        i++;
                        continue;
                }
                memcpy(p, u + i, len);
                p += len;
                i += len;
        }
        *p = 0;
        *ret = out;
        return 0;
}

static int name_make_safe_in_place(char **name)
{
        char *safe;

        if (!*name)
                return 0;
        int r = owner_name_make_safe(*name, strlen(*name), &safe);
        if (r < 0)
                return r;
        free(*name);
        *name = safe;
        return 0;
}

static const char *user_name(OwnerContext *c, uid_t uid)
{
        for (size_t i = 0; i < c->n_users; i++)
                if (c->users[i].uid == uid)
                        return c->users[i].name;

        /* passwd through NSS is fine here; only services lookups must not recurse into us. */
        char buf[4096];
        struct passwd pw, *result = NULL;
        char *name = NULL;
        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) == 0 && result)
                name = strdup(result->pw_name);

        if (c->n_users >= USER_CACHE_MAX) {
                for (size_t i = 0; i < c->n_users; i++)
                        free(c->users[i].name);
                c->n_users = 0;
        }
        c->users[c->n_users++] = (UserName){ .uid = uid, .name = name };
        return name;
}

static void socket_units_clear(OwnerContext *c)
{
        for (size_t i = 0; i < c->n_socket_units; i++) {
                free(c->socket_units[i].type);
                free(c->socket_units[i].listen);
                free(c->socket_units[i].unit);
        }
        c->socket_units = mfree(c->socket_units);
        c->n_socket_units = 0;
}

static int socket_unit_add(
        OwnerContext *c, size_t *allocated, const char *type, const char *listen, const char *unit)
{
        if (GROW(c->socket_units, *allocated, c->n_socket_units + 1) < 0)
                return -ENOMEM;
        SocketUnit *u = &c->socket_units[c->n_socket_units];
        *u = (SocketUnit){ strdup(type), strdup(listen), strdup(unit) };
        if (!u->type || !u->listen || !u->unit) {
                free(u->type);
                free(u->listen);
                free(u->unit);
                return -ENOMEM;
        }
        c->n_socket_units++;
        return 0;
}

/* systemd's socket units and what they listen on, asked from PID 1 over D-Bus, kept a while. */
static int socket_units_refresh(OwnerContext *c)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        size_t allocated = 0;
        const char *name, *path;
        int r;

        if (c->socket_units_time != 0 && now_usec(CLOCK_MONOTONIC) - c->socket_units_time < SOCKET_UNITS_TTL_USEC)
                return 0;
        socket_units_clear(c);
        c->socket_units_time = now_usec(CLOCK_MONOTONIC);

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        (void) sd_bus_set_method_call_timeout(bus, 1000000);
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", &error, &reply, "asas", 0, 1,
                "*.socket");
        if (r < 0)
                goto finish;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                goto finish;
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL, NULL, &path,
                        NULL, NULL, NULL)) > 0) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *listen = NULL;
                const char *type, *address;

                if (sd_bus_get_property(bus, "org.freedesktop.systemd1", path,
                            "org.freedesktop.systemd1.Socket", "Listen", NULL, &listen, "a(ss)") < 0)
                        continue;
                if (sd_bus_message_enter_container(listen, 'a', "(ss)") < 0)
                        continue;
                while (sd_bus_message_read(listen, "(ss)", &type, &address) > 0) {
                        r = socket_unit_add(c, &allocated, type, address, name);
                        if (r < 0)
                                goto finish;
                }
        }
finish:
        sd_bus_error_free(&error);
        return r < 0 ? r : 0;
}

/* PID 1 holds the listening sockets of socket-activated services; the socket unit is the answer
 * people want, not "init.scope". */
static char *socket_unit_for(OwnerContext *c, const OwnerSocket *s)
{
        (void) socket_units_refresh(c);
        for (size_t i = 0; i < c->n_socket_units; i++)
                if (socket_unit_listen_matches(c->socket_units[i].type, c->socket_units[i].listen, s))
                        return strdup(c->socket_units[i].unit);
        return NULL;
}

typedef enum DescribeResult {
        HOLDER_GONE,   /* exited, pid reused, or fd closed: drop it from the cache */
        HOLDER_HIDDEN, /* there, but the caller may not see it */
        HOLDER_SHOWN,
} DescribeResult;

/* Everything is read relative to one open /proc/PID: that directory stays bound to the process
 * it was opened for, so if the pid is reused meanwhile the reads fail instead of naming another. */
static int holder_describe(
        OwnerContext *c, const Holder *h, const OwnerSocket *s, const OwnerCaller *caller, OwnerProcess *ret)
{
        char name[64], link[64], expect[64], buf[4096];
        _cleanup_close_ int pid_fd = -1;
        _cleanup_free_ char *cgroup = NULL;
        unsigned uids[4], gids[4];
        uint64_t starttime;
        struct stat st;
        int r;

        snprintf(name, sizeof(name), "%d", (int) h->pid);
        pid_fd = openat(c->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_fd < 0)
                return HOLDER_GONE;
        if (read_starttime(pid_fd, &starttime) < 0 || starttime != h->starttime)
                return HOLDER_GONE;
        snprintf(name, sizeof(name), "fd/%d", h->fd);
        ssize_t k = readlinkat(pid_fd, name, link, sizeof(link) - 1);
        if (k <= 0)
                return HOLDER_GONE;
        link[k] = 0;
        snprintf(expect, sizeof(expect), "socket:[%" PRIu64 "]", s->inode);
        if (!streq(link, expect))
                return HOLDER_GONE;

        if (read_at(pid_fd, "status", buf, sizeof(buf)) < 0 || parse_id_line(buf, "\nUid:", uids) < 0 ||
                parse_id_line(buf, "\nGid:", gids) < 0)
                return HOLDER_GONE;

        /* As ptrace's access check for a caller without capabilities: all of the target's uids and
         * gids are the caller's, and it is dumpable (else /proc/PID/fd belongs to root; /proc/PID
         * itself keeps the euid whatever the dumpable flag). */
        if (caller->uid != 0) {
                if (fstatat(pid_fd, "fd", &st, 0) < 0 || st.st_uid != caller->uid)
                        return HOLDER_HIDDEN;
                for (int i = 0; i < 3; i++)
                        if (uids[i] != caller->uid || gids[i] != caller->gid)
                                return HOLDER_HIDDEN;
                /* ...and the kernel's capability subset test: a process that holds a
                 * capability the caller lacks (a setcap binary, a service given
                 * AmbientCapabilities=) is refused to it by ptrace, /proc/PID/fd, lsof and ss -p. */
                uint64_t target_caps;
                if (parse_cap_line(buf, "\nCapPrm:", &target_caps) < 0 ||
                        (target_caps & ~(caller->cap_known ? caller->cap_permitted : 0)) != 0)
                        return HOLDER_HIDDEN;
        }

        OwnerProcess p = { .pid = h->pid, .fd = h->fd, .uid = uids[1] };
        if (read_at(pid_fd, "comm", buf, sizeof(buf)) < 0)
                return HOLDER_GONE;
        /* comm ends in one newline the kernel adds; a newline of the name's own stays, escaped. */
        size_t comm_len = strlen(buf);
        if (comm_len > 0 && buf[comm_len - 1] == '\n')
                comm_len--;
        if (owner_name_make_safe(buf, comm_len, &p.command) < 0)
                return -ENOMEM;

        const char *user = user_name(c, p.uid);
        if (user && owner_name_make_safe(user, strlen(user), &p.user) < 0)
                goto oom;

        if (read_at(pid_fd, "cgroup", buf, sizeof(buf)) >= 0 &&
                cgroup_path_from_proc_text(buf, &cgroup) >= 0) {
                r = cgroup_path_names(cgroup, &p.unit, &p.container);
                if (r >= 0)
                        r = name_make_safe_in_place(&p.unit);
                if (r >= 0)
                        r = name_make_safe_in_place(&p.container);
                if (r < 0)
                        goto oom;
        }
        if (h->pid == 1 && streq(p.command, "systemd")) {
                char *unit = socket_unit_for(c, s);
                if (unit && name_make_safe_in_place(&unit) < 0) {
                        free(unit);
                        goto oom;
                }
                if (unit) {
                        free(p.unit);
                        p.unit = unit;
                }
        }

        *ret = p;
        return HOLDER_SHOWN;
oom:
        owner_process_done(&p);
        return -ENOMEM;
}

/* 1 when pid holds the socket inode at fd, with ret filled in; 0 when not. */
static int probe_holder(OwnerContext *c, pid_t pid, int fd, uint64_t inode, Holder *ret)
{
        char name[64], link[64];
        _cleanup_close_ int pid_fd = -1;
        uint64_t starttime, found;

        snprintf(name, sizeof(name), "%d", (int) pid);
        pid_fd = openat(c->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_fd < 0 || read_starttime(pid_fd, &starttime) < 0)
                return 0;
        snprintf(name, sizeof(name), "fd/%d", fd);
        ssize_t k = readlinkat(pid_fd, name, link, sizeof(link));
        if (k <= 0 || (size_t) k >= sizeof(link) || !parse_socket_link(link, (size_t) k, &found) ||
                found != inode)
                return 0;
        *ret = (Holder){ .pid = pid, .fd = fd, .starttime = starttime };
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

        snprintf(path, sizeof(path), "%d/task/%d/children", (int) parent.pid, (int) parent.pid);
        if (read_at(c->proc_fd, path, buf, sizeof(buf)) <= 0)
                return 0;
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
static int resolve_from_cache(OwnerContext *c, OwnerSocket *s, const OwnerCaller *caller)
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

/* ---- sock_diag ---- */

static int netlink_open(void)
{
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        return fd;
}

typedef struct NetnsOpen {
        int netns_fd;
        int result; /* fd or -errno */
} NetnsOpen;

static void *netns_open_thread(void *userdata)
{
        NetnsOpen *o = userdata;
        if (setns(o->netns_fd, CLONE_NEWNET) < 0)
                o->result = -errno;
        else
                o->result = netlink_open();
        return NULL;
}

/* A netlink socket answers for the namespace it was created in; create it from a short-lived
 * thread that entered the target namespace, so the daemon itself never changes namespace. */
static int netlink_open_in(int netns_fd)
{
        NetnsOpen o = { .netns_fd = netns_fd, .result = -EIO };
        pthread_t t;
        int r = pthread_create(&t, NULL, netns_open_thread, &o);
        if (r != 0)
                return -r;
        (void) pthread_join(t, NULL);
        return o.result;
}

/* Appends one bytecode op that jumps to the next op when it matches and past the end (reject)
 * when not; the kernel audits that "no" lands at most 4 bytes past the end. */
static void bc_op(uint8_t *bc, size_t *off, size_t total, uint8_t code, size_t size)
{
        struct inet_diag_bc_op op = {
                .code = code,
                .yes = (uint8_t) size,
                .no = (uint16_t) (total - *off + 4),
        };
        memcpy(bc + *off, &op, sizeof(op));
}

static size_t bytecode_build(const OwnerFilter *f, uint8_t *bc, size_t size)
{
        size_t total = 0, off = 0;
        bool ports = f->port_min != 0 || f->port_max != 0;
        size_t addr_len = f->address_family == AF_INET ? 4 : f->address_family == AF_INET6 ? 16 : 0;
        size_t cond_len = sizeof(struct inet_diag_bc_op) + sizeof(struct inet_diag_hostcond) + addr_len;

        if (ports)
                total += 4 * sizeof(struct inet_diag_bc_op);
        if (addr_len)
                total += cond_len;
        if (total == 0 || total > size)
                return 0;

        if (ports) {
                struct inet_diag_bc_op arg = {};
                bc_op(bc, &off, total, INET_DIAG_BC_S_GE, 2 * sizeof(arg));
                arg.no = f->port_min;
                memcpy(bc + off + sizeof(arg), &arg, sizeof(arg));
                off += 2 * sizeof(arg);
                bc_op(bc, &off, total, INET_DIAG_BC_S_LE, 2 * sizeof(arg));
                arg.no = f->port_max;
                memcpy(bc + off + sizeof(arg), &arg, sizeof(arg));
                off += 2 * sizeof(arg);
        }
        if (addr_len) {
                struct inet_diag_hostcond cond;
                /* memset, not an initializer: the padding goes to the kernel too. */
                memset(&cond, 0, sizeof(cond));
                cond.family = (uint8_t) f->address_family;
                cond.prefix_len = (uint8_t) (addr_len * 8);
                cond.port = -1;
                bc_op(bc, &off, total, INET_DIAG_BC_S_COND, cond_len);
                memcpy(bc + off + sizeof(struct inet_diag_bc_op), &cond, sizeof(cond));
                memcpy(bc + off + sizeof(struct inet_diag_bc_op) + sizeof(cond), f->address.bytes, addr_len);
                off += cond_len;
        }
        return total;
}

static bool address_matches(const OwnerFilter *f, int family, const OwnerAddress *a)
{
        static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (f->address_family == AF_UNSPEC)
                return true;
        if (f->address_family == family)
                return memcmp(a->bytes, f->address.bytes, family == AF_INET ? 4 : 16) == 0;
        if (f->address_family == AF_INET && family == AF_INET6)
                return memcmp(a->bytes, v4mapped, 12) == 0 &&
                       memcmp(a->bytes + 12, f->address.bytes, 4) == 0;
        return false;
}

static uint32_t states_for(const OwnerFilter *f, OwnerProtocol p)
{
        if (f->established)
                return ~(uint32_t) (1U << TCP_NEW_SYN_RECV);
        /* As ss -l: listening TCP/SCTP, and UDP sockets that are bound but not connected. */
        return p == OWNER_PROTOCOL_UDP ? 1U << TCP_CLOSE : 1U << TCP_LISTEN;
}

typedef struct SocketList {
        OwnerSocket *sockets;
        size_t n, allocated;
} SocketList;

static int diag_dump(OwnerContext *c, int fd, OwnerProtocol p, int family, const OwnerFilter *f,
        const char *netns, SocketList *l)
{
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
                struct rtattr rta;
                uint8_t bc[128];
        } msg = {};
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        uint32_t seq = ++c->seq;
        uint32_t states = states_for(f, p);

        size_t bc_len = bytecode_build(f, msg.bc, sizeof(msg.bc));
        msg.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(msg.req));
        msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        msg.nlh.nlmsg_seq = seq;
        msg.req.sdiag_family = (uint8_t) family;
        msg.req.sdiag_protocol = (uint8_t) protocol_number[p];
        msg.req.idiag_states = states;
        if (bc_len > 0) {
                msg.rta.rta_type = INET_DIAG_REQ_BYTECODE;
                msg.rta.rta_len = (unsigned short) RTA_LENGTH(bc_len);
                msg.nlh.nlmsg_len += RTA_ALIGN(msg.rta.rta_len);
        }

        if (sendto(fd, &msg, msg.nlh.nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;

        for (;;) {
                static __thread union {
                        struct nlmsghdr h;
                        uint8_t b[65536];
                } buf;
                struct sockaddr_nl from;
                socklen_t fromlen = sizeof(from);
                ssize_t n = recvfrom(fd, buf.b, sizeof(buf.b), 0, (struct sockaddr *) &from, &fromlen);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (from.nl_pid != 0)
                        continue;

                for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                return e->error == 0 ? 0 : e->error;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                                continue;

                        const struct inet_diag_msg *m = NLMSG_DATA(h);
                        if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
                                continue;
                        OwnerSocket s = {
                                .protocol = p,
                                .family = m->idiag_family,
                                .local_port = ntohs(m->id.idiag_sport),
                                .remote_port = ntohs(m->id.idiag_dport),
                                .state = m->idiag_state,
                                .uid = m->idiag_uid,
                                .inode = m->idiag_inode,
                        };
                        size_t alen = m->idiag_family == AF_INET ? 4 : 16;
                        memcpy(s.local.bytes, m->id.idiag_src, alen);
                        memcpy(s.remote.bytes, m->id.idiag_dst, alen);

                        int attrlen = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*m));
                        for (struct rtattr *a = (struct rtattr *) (m + 1); RTA_OK(a, attrlen);
                                a = RTA_NEXT(a, attrlen))
                                if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= sizeof(uint64_t))
                                        memcpy(&s.cgroup_id, RTA_DATA(a), sizeof(uint64_t));

                        /* The kernel filtered already; this also covers protocols whose dump
                         * ignores bytecode. */
                        if ((f->port_min || f->port_max) &&
                                (s.local_port < f->port_min || s.local_port > f->port_max))
                                continue;
                        if (!address_matches(f, s.family, &s.local))
                                continue;
                        if (s.state >= 32 || !(states & (1U << s.state)))
                                continue;

                        /* Bounded: the rows of one query are memory the worker holds until
                         * its client has read them. */
                        if (l->n >= OWNER_QUERY_SOCKETS_MAX)
                                continue;
                        if (netns && !(s.netns = strdup(netns)))
                                return -ENOMEM;
                        if (GROW(l->sockets, l->allocated, l->n + 1) < 0) {
                                free(s.netns);
                                return -ENOMEM;
                        }
                        l->sockets[l->n++] = s;
                }
        }
}

static int dump_namespace(OwnerContext *c, int fd, const OwnerFilter *f, const char *netns, SocketList *l)
{
        for (OwnerProtocol p = 0; p < _OWNER_PROTOCOL_MAX; p++) {
                if (f->protocols != 0 && !(f->protocols & (1U << p)))
                        continue;
                static const int families[] = { AF_INET, AF_INET6 };
                for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                        int family = families[i];
                        if (f->family != AF_UNSPEC && f->family != family)
                                continue;
                        /* An IPv4 address may also sit on an IPv6 socket, v4-mapped. */
                        if (f->address_family == AF_INET6 && family == AF_INET)
                                continue;
                        int r = diag_dump(c, fd, p, family, f, netns, l);
                        /* No diag module for this protocol (sctp_diag, udp_diag): nothing to list. */
                        if (r == -ENOENT || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP)
                                continue;
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- namespaces ---- */

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

static void netns_list_done(NetnsList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                safe_close(l->items[i].fd);
                free(l->items[i].name);
        }
        free(l->items);
}

static int netns_list_add(OwnerContext *c, NetnsList *l, int fd, const char *name)
{
        _cleanup_close_ int owned = fd;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].dev == st.st_dev && l->items[i].ino == st.st_ino)
                        return 0;
        if (GROW(l->items, l->allocated, l->n + 1) < 0)
                return -ENOMEM;
        Netns *n = &l->items[l->n];
        *n = (Netns){ .fd = -1, .dev = st.st_dev, .ino = st.st_ino };
        if (name && !(n->name = strdup(name)))
                return -ENOMEM;
        if (!(st.st_ino == c->netns_inode && st.st_dev == c->netns_dev))
                n->fd = TAKE_FD(owned);
        l->n++;
        return 0;
}

static int open_pid_netns(OwnerContext *c, pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "%d/ns/net", (int) pid);
        int fd = openat(c->proc_fd, path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int open_named_netns(const char *name)
{
        if (!name || !*name || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "/run/netns/%s", name) < 0)
                return -ENOMEM;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Every namespace: the named ones first, so that they keep their names, then each process's. */
static int list_all_netns(OwnerContext *c, NetnsList *l)
{
        PidList pids = {};
        int r;

        _cleanup_close_ int run = open("/run/netns", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (run >= 0) {
                DIR *d = fdopendir(run);
                if (d) {
                        TAKE_FD(run);
                        struct dirent *de;
                        while ((de = readdir(d))) {
                                if (de->d_name[0] == '.')
                                        continue;
                                int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
                                if (fd < 0)
                                        continue;
                                r = netns_list_add(c, l, fd, de->d_name);
                                if (r < 0) {
                                        closedir(d);
                                        return r;
                                }
                        }
                        closedir(d);
                }
        }

        r = list_pids(c, false, 0, &pids);
        for (size_t i = 0; r >= 0 && i < pids.n; i++) {
                int fd = open_pid_netns(c, pids.pids[i]);
                if (fd >= 0)
                        r = netns_list_add(c, l, fd, NULL);
        }
        free(pids.pids);
        if (r < 0)
                return r;

        for (size_t i = 0; i < l->n; i++)
                if (!l->items[i].name &&
                        asprintf(&l->items[i].name, "net:[%llu]", (unsigned long long) l->items[i].ino) < 0)
                        return -ENOMEM;
        return 0;
}

static int resolve_netns(OwnerContext *c, const OwnerNetns *ns, const OwnerCaller *caller, NetnsList *l)
{
        OwnerNetns def = { .kind = OWNER_NETNS_CALLER };
        int fd, r;

        if (!ns)
                ns = &def;
        if (ns->kind == OWNER_NETNS_ALL) {
                if (caller->uid != 0)
                        return -EPERM;
                return list_all_netns(c, l);
        }

        switch (ns->kind) {
        case OWNER_NETNS_CALLER:
                fd = caller->pid > 0 ? open_pid_netns(c, caller->pid)
                                     : open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
                if (fd < 0 && caller->pid <= 0)
                        fd = -errno;
                break;
        case OWNER_NETNS_PID:
                if (ns->pid <= 0)
                        return -EINVAL;
                /* To an unprivileged caller a process it may not look at and one that does not
                 * exist must look the same (hidepid=), whatever we could open ourselves: only
                 * its own processes (/proc/PID is the euid's while dumpable) are opened. */
                if (caller->uid != 0) {
                        char name[32];
                        struct stat st;
                        snprintf(name, sizeof(name), "%d", (int) ns->pid);
                        if (fstatat(c->proc_fd, name, &st, 0) < 0 || st.st_uid != caller->uid)
                                return -EPERM;
                }
                fd = open_pid_netns(c, ns->pid);
                if (fd < 0 && caller->uid != 0)
                        return -EPERM;
                break;
        case OWNER_NETNS_NAME:
                fd = open_named_netns(ns->name);
                break;
        case OWNER_NETNS_FD:
                fd = fcntl(ns->fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        fd = -errno;
                break;
        default:
                return -EINVAL;
        }
        if (fd < 0)
                return fd;

        /* Unprivileged callers may name their own namespace any way they like, and no other. */
        if (caller->uid != 0 && ns->kind != OWNER_NETNS_CALLER && ns->kind != OWNER_NETNS_FD) {
                struct stat mine, theirs;
                _cleanup_close_ int own = open_pid_netns(c, caller->pid > 0 ? caller->pid : getpid());
                if (own < 0 || fstat(own, &mine) < 0 || fstat(fd, &theirs) < 0 ||
                        mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev) {
                        safe_close(fd);
                        return -EPERM;
                }
        }
        r = netns_list_add(c, l, fd, NULL);
        return r;
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

static bool past_deadline(const OwnerCaller *caller)
{
        return caller->deadline_usec != 0 && now_usec(CLOCK_MONOTONIC) >= caller->deadline_usec;
}

int owner_query(OwnerContext *c, const OwnerFilter *filter, const OwnerNetns *ns, const OwnerCaller *caller,
        OwnerSocket **ret, size_t *ret_n)
{
        OwnerCaller self = { .uid = geteuid(), .gid = getegid(), .pid = 0 };
        OwnerFilter any = {};
        NetnsList namespaces = {};
        SocketList l = {};
        _cleanup_free_ bool *resolved = NULL;
        int r;

        if (!c || !ret || !ret_n)
                return -EINVAL;
        if (!filter)
                filter = &any;
        if (!caller)
                caller = &self;
        if (filter->port_min > filter->port_max)
                return -EINVAL;
        c->stats.queries++;

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

        resolved = calloc(l.n ?: 1, sizeof(bool));
        if (!resolved) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < l.n; i++) {
                if (l.sockets[i].inode == 0 || past_deadline(caller)) {
                        /* TIME-WAIT and friends: nobody holds them; past the budget: listed
                         * without processes, as sockets the caller may not attribute. */
                        resolved[i] = true;
                        continue;
                }
                r = resolve_from_cache(c, &l.sockets[i], caller);
                if (r < 0)
                        goto fail;
                resolved[i] = r > 0;
                c->stats.cache_hits += r > 0;
        }

        r = past_deadline(caller) ? 0 : scan_for_misses(c, &l, resolved, caller);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < l.n; i++) {
                if (resolved[i] || past_deadline(caller))
                        continue;
                r = resolve_from_cache(c, &l.sockets[i], caller);
                if (r < 0)
                        goto fail;
        }

        if (l.n > 1)
                qsort(l.sockets, l.n, sizeof(OwnerSocket), compare_sockets);
        netns_list_done(&namespaces);
        *ret = l.sockets;
        *ret_n = l.n;
        return 0;

fail:
        netns_list_done(&namespaces);
        owner_sockets_free(l.sockets, l.n);
        return r;
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
