/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner queries, namespaces: which network namespaces a query looks into (the caller's, a
 * process's, a /run/netns name, all of them) and who may ask for which. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "owner-internal.h"

/* ---- namespaces ---- */

void netns_list_done(NetnsList *l)
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

int resolve_netns(OwnerContext *c, const OwnerNetns *ns, const OwnerCaller *caller, NetnsList *l)
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
