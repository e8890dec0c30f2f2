/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening paths below --root without ever leaving it: openat2() with RESOLVE_IN_ROOT, and where the
 * kernel (or valgrind) lacks it, the same resolution by hand, one component at a time. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "root-path.h"
#include "util.h"

#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#endif
#ifndef RESOLVE_IN_ROOT
#define RESOLVE_IN_ROOT 0x10
#endif

/* As the kernel bounds them: links followed in one resolution, and how deep we go. */
#define LINKS_MAX 40
#define DEPTH_MAX 256

bool root_is_host(const char *root)
{
        return !root || !*root || streq(root, "/");
}

typedef struct Walk {
        int fds[DEPTH_MAX + 1]; /* fds[0] is root; fds[depth] the directory reached */
        unsigned depth;
} Walk;

static void walk_to_root(Walk *w)
{
        while (w->depth > 0)
                safe_close(w->fds[w->depth--]);
}

/* The resolution RESOLVE_IN_ROOT does, by hand: each component is opened O_PATH|O_NOFOLLOW
 * relative to the directory before it, so that nothing renamed or swapped in meanwhile is followed
 * unseen; a symbolic link is read and its target resolved from root (absolute) or from where it is;
 * ".." goes back to the directory that led here, and from root stays at root. */
static int open_in_root_fd_by_hand(int root_fd, const char *path, int flags)
{
        _cleanup_free_ char *todo = strdup(path);
        Walk w = { .fds = { root_fd } };
        unsigned links = 0;
        int r;

        if (!todo)
                return -ENOMEM;
        for (char *p = todo;;) {
                p += strspn(p, "/");
                if (!*p) {
                        /* The path named a directory (or root): open it as asked. */
                        r = openat(w.fds[w.depth], ".", flags | O_CLOEXEC);
                        r = r < 0 ? -errno : r;
                        break;
                }
                size_t n = strcspn(p, "/");
                char name[NAME_MAX + 1];
                if (n > NAME_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                memcpy(name, p, n);
                name[n] = '\0';
                p += n;
                bool last = p[strspn(p, "/")] == '\0', slash = *p == '/';

                if (streq(name, "."))
                        continue;
                if (streq(name, "..")) {
                        if (w.depth > 0)
                                safe_close(w.fds[w.depth--]);
                        continue;
                }

                int fd = openat(w.fds[w.depth], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        r = -errno;
                        safe_close(fd);
                        break;
                }
                if (S_ISLNK(st.st_mode) && (!last || !(flags & O_NOFOLLOW))) {
                        char target[PATH_MAX];
                        ssize_t k = readlinkat(fd, "", target, sizeof(target));
                        safe_close(fd);
                        if (k < 0 || (size_t) k >= sizeof(target)) {
                                r = k < 0 ? -errno : -ENAMETOOLONG;
                                break;
                        }
                        if (++links > LINKS_MAX) {
                                r = -ELOOP;
                                break;
                        }
                        /* The rest of the path goes on from where the link leads. */
                        char *next;
                        if (asprintf(&next, "%.*s%s%s", (int) k, target, *p ? "/" : "", p) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        if (target[0] == '/')
                                walk_to_root(&w);
                        free(todo);
                        todo = next;
                        p = todo;
                        continue;
                }
                if (last) {
                        safe_close(fd);
                        /* "file/" names a directory that is not there, as the kernel says. */
                        if (slash && !S_ISDIR(st.st_mode)) {
                                r = -ENOTDIR;
                                break;
                        }
                        /* O_NOFOLLOW: should a link have been swapped in since, it is refused
                         * (ELOOP), not followed. */
                        r = openat(w.fds[w.depth], name, flags | O_NOFOLLOW | O_CLOEXEC);
                        r = r < 0 ? -errno : r;
                        break;
                }
                if (!S_ISDIR(st.st_mode) || w.depth >= DEPTH_MAX) {
                        safe_close(fd);
                        r = S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
                        break;
                }
                w.fds[++w.depth] = fd;
        }
        walk_to_root(&w);
        return r;
}

int open_at_root(const char *root, const char *path, int flags)
{
        _cleanup_close_ int root_fd = -1;
        int fd;

        assert(path);

        if (root_is_host(root)) {
                fd = open(path, flags | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        }
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return -errno;

        struct {
                uint64_t flags, mode, resolve;
        } how = { .flags = (uint64_t) (flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
                if (fd >= 0)
                        return fd;
                /* EAGAIN: a rename below root raced the resolution of "..": try again. */
                if (errno != EAGAIN)
                        break;
        }
        /* ENOSYS: before Linux 5.6 or under valgrind; EPERM: a seccomp filter that does not know
         * openat2 (older container runtimes).  The resolution by hand gives the real error. */
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        return open_in_root_fd_by_hand(root_fd, path, flags);
}

int open_at_root_by_hand(const char *root, const char *path, int flags)
{
        _cleanup_close_ int root_fd = open(root_is_host(root) ? "/" : root, O_PATH | O_DIRECTORY | O_CLOEXEC);

        assert(path);

        if (root_fd < 0)
                return -errno;
        return open_in_root_fd_by_hand(root_fd, path, flags);
}

int stat_at_root(const char *root, const char *path, bool follow, struct stat *ret)
{
        _cleanup_close_ int fd = -1;

        assert(path);
        assert(ret);

        fd = open_at_root(root, path, O_PATH | (follow ? 0 : O_NOFOLLOW));
        if (fd < 0)
                return fd;
        return fstat(fd, ret) < 0 ? -errno : 0;
}

DIR *opendir_at_root(const char *root, const char *path)
{
        DIR *d;
        int fd;

        assert(path);

        fd = open_at_root(root, path, O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
                errno = -fd;
                return NULL;
        }
        d = fdopendir(fd);
        if (!d) {
                int e = errno;
                safe_close(fd);
                errno = e;
        }
        return d;
}

int read_file_at_root(const char *root, const char *path, size_t max, char **ret, size_t *ret_size,
        struct stat *ret_stat)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        assert(path);
        assert(ret);
        assert(ret_size);

        /* O_NONBLOCK: a FIFO put in place of the file must not hang the daemon in open(). */
        fd = open_at_root(root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;

        r = read_full_fd(fd, max, ret, ret_size);
        if (r < 0)
                return r;
        if (ret_stat)
                *ret_stat = st;
        return 0;
}
