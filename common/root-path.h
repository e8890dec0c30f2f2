/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Paths below --root, resolved as if that directory were "/": a configuration tree may come from
 * anyone (a repository CI checks), and none of its symbolic links, absolute or with "..", may lead
 * to a file outside it.  root NULL, "" or "/" is the real root, with plain open(). */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Whether root means the real root: NULL, "" or "/". */
bool root_is_host(const char *root);
/* Opens the absolute path below root (O_CLOEXEC added); -errno.  openat2() with RESOLVE_IN_ROOT
 * where the kernel has it (Linux 5.6), else each component in turn, never following a link out. */
int open_at_root(const char *root, const char *path, int flags);
/* open_at_root()'s resolution without openat2() (which valgrind and Linux before 5.6 lack), always;
 * for the tests, which hold it to the kernel's. */
int open_at_root_by_hand(const char *root, const char *path, int flags);
/* fstat() of path below root; follow: resolve a symbolic link in the last component too. */
int stat_at_root(const char *root, const char *path, bool follow, struct stat *ret);
/* opendir() of path below root; NULL with errno set. */
DIR *opendir_at_root(const char *root, const char *path);
/* Reads the file path below root whole, as read_full_fd() does.  Only a regular file is read:
 * -EISDIR for a directory, -EBADFD for anything else.  -EFBIG beyond max, refused from its size
 * before anything is read; open()'s errors as they are (-ENOENT when absent, -ELOOP).  ret_stat
 * (may be NULL) gets the file's stat, for change detection. */
int read_file_at_root(const char *root, const char *path, size_t max, char **ret, size_t *ret_size,
        struct stat *ret_stat);
