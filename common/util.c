/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The helpers of util.h that do real work: writing and reading whole files, growing arrays,
 * joining paths below a root, removing a crash's temporaries, asking a pidfd whether its process
 * is gone. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

int write_full_fd(int fd, const void *p, size_t n)
{
        const uint8_t *b = p;

        while (n > 0) {
                ssize_t k = write(fd, b, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                b += k;
                n -= (size_t) k;
        }
        return 0;
}

int grow_array(void **array, size_t *allocated, size_t need, size_t size)
{
        if (need <= *allocated)
                return 0;
        size_t n = MAX(*allocated * 2, MAX(need, (size_t) 16));
        if (n > SIZE_MAX / size)
                return -ENOMEM;
        void *p = realloc(*array, n * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = n;
        return 0;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size)
{
        char *buf = NULL;
        size_t allocated = 0, n = 0;

        for (;;) {
                if (allocated - n < 4096) {
                        size_t a = allocated ? allocated * 2 : 65536;
                        char *p = realloc(buf, a + 1);
                        if (!p) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = p;
                        allocated = a;
                }
                ssize_t k = read(fd, buf + n, allocated - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        free(buf);
                        return r;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max) {
                        free(buf);
                        return -EFBIG;
                }
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[n] = '\0';
        *ret = buf;
        *ret_size = n;
        return 0;
}

char *path_join_root(const char *root, const char *path)
{
        char *p;
        if (!root || streq(root, "/") || !*root)
                root = "";
        size_t lr = strlen(root);
        while (lr > 0 && root[lr - 1] == '/')
                lr--;
        if (asprintf(&p, "%.*s%s%s", (int) lr, root, path[0] == '/' ? "" : "/", path) < 0)
                return NULL;
        return p;
}

int unlink_temporaries(const char *dir, const char *prefix, bool (*in_use)(int dfd, const char *name))
{
        size_t n = strlen(prefix);
        int removed = 0;
        DIR *d = opendir(dir);

        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;

                if (strlen(de->d_name) != n + 6 || !strneq(de->d_name, prefix, n))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (in_use && in_use(dirfd(d), de->d_name))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) >= 0)
                        removed++;
        }
        closedir(d);
        return removed;
}

bool pidfd_process_gone(int pidfd)
{
        return pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno == ESRCH;
}

int sockets_socket_path(const char *services_path, bool root, char **ret)
{
        const char *name = root ? ROOT_SOCKETS_SOCKET_NAME : SOCKETS_SOCKET_NAME;

        if (!services_path || !*services_path)
                return -EINVAL;
        const char *slash = strrchr(services_path, '/');
        size_t dir = slash ? (size_t) (slash - services_path) + 1 : 0;
        size_t n = strlen(name) + 1;
        char *p = malloc(dir + n);
        if (!p)
                return -ENOMEM;
        memcpy(p, services_path, dir);
        memcpy(p + dir, name, n);
        *ret = p;
        return 0;
}
