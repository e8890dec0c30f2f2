/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's snapshot image published as a file beside the socket, so that a fresh process maps
 * it with one open() instead of a round trip (see nss/nss-mapping.c).  The daemon holds an open
 * file description write lock on it for as long as it lives: that is how the NSS module tells a
 * live daemon's file from one a crashed daemon left behind. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "snapshot.h"
#include "util.h"

struct SnapshotFile {
        char *path;
        int fd;    /* read-write, holding the lock */
        void *map; /* shared and writable: for the superseded word only */
        size_t size;
};

int snapshot_file_publish(const char *socket_path, const void *image, size_t size, SnapshotFile **ret)
{
        _cleanup_free_ char *path = NULL, *temporary = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        assert(image);
        assert(ret);

        if (asprintf(&path, "%s" SNAPSHOT_PUBLISHED_SUFFIX, socket_path) < 0 ||
                asprintf(&temporary, "%s.XXXXXX", path) < 0)
                return -ENOMEM;

        fd = mkostemp(temporary, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Locked before it is written: a temporary file without the lock is one a crash left
         * behind (snapshot_file_remove_temporaries()).  Readable by everyone, writable by nobody
         * but through the descriptor we hold. */
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_OFD_SETLK, &lock) < 0 || fchmod(fd, 0444) < 0)
                r = -errno;
        else
                r = write_full_fd(fd, image, size);
        void *map = MAP_FAILED;
        if (r >= 0) {
                map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (map == MAP_FAILED)
                        r = -errno;
        }
        if (r >= 0 && rename(temporary, path) < 0)
                r = -errno;
        if (r < 0) {
                if (map != MAP_FAILED)
                        (void) munmap(map, size);
                (void) unlink(temporary);
                return r;
        }

        SnapshotFile *f = calloc(1, sizeof(*f));
        if (!f) {
                /* Published but untracked would leave it current for ever: take it back. */
                (void) unlink(path);
                (void) munmap(map, size);
                return -ENOMEM;
        }
        *f = (SnapshotFile){ .path = TAKE_PTR(path), .fd = TAKE_FD(fd), .map = map, .size = size };
        *ret = f;
        return 0;
}

SnapshotFile *snapshot_file_withdraw(SnapshotFile *f, bool remove)
{
        struct stat a, b;

        if (!f)
                return NULL;
        /* Superseded first: a process that maps it from now on, or holds it, asks again. */
        __atomic_store_n(&((SnapshotHeader *) f->map)->superseded, 1u, __ATOMIC_RELEASE);
        /* Only while the path still names our file: a newer one may have been renamed over it. */
        if (remove && fstat(f->fd, &a) >= 0 && stat(f->path, &b) >= 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino)
                (void) unlink(f->path);
        (void) munmap(f->map, f->size);
        safe_close(f->fd);
        free(f->path);
        return mfree(f);
}

/* Whether a process holds the write lock on fd's file (the writer of a temporary file, or the
 * daemon of a published one): 1 or 0, or a negative errno. */
static int write_locked(int fd)
{
        struct flock lock = { .l_type = F_RDLCK, .l_whence = SEEK_SET };

        if (fcntl(fd, F_OFD_GETLK, &lock) < 0)
                return -errno;
        return lock.l_type != F_UNLCK;
}

/* A daemon that crashed (or was killed) left its file behind, unflagged: processes that mapped it
 * keep answering from it, and the NSS module reads the clock only every few hundred lookups to
 * ask again after a while (nss/nss-mapping.c).  So the next daemon flags it superseded, and they
 * fetch the new one at their next lookup; but only once it serves a snapshot of its own (a daemon
 * that fails to start leaves them answering from it): opened for writing here, while the path
 * still names it, and flagged by snapshot_file_flag_stale() after the new file took its name.
 * The file is 0444 and ours: its mode is opened up through the descriptor for the open() (no
 * CAP_DAC_OVERRIDE needed; write permission is checked at open() only), and closed again. */
int snapshot_file_open_stale(const char *socket_path, int *ret_fd)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1, wfd = -1;
        struct stat st, wst;
        SnapshotHeader h;
        int r = 0;

        assert(socket_path);
        assert(ret_fd);

        *ret_fd = -1;
        if (asprintf(&path, "%s" SNAPSHOT_PUBLISHED_SUFFIX, socket_path) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* Only a file of ours that nobody holds: a live daemon's is its own business. */
        if (fstat(fd, &st) < 0)
                return -errno;
        int locked = write_locked(fd);
        if (locked < 0)
                return locked;
        if (S_ISREG(st.st_mode) && !locked && st.st_uid != geteuid())
                return -EPERM; /* a file we cannot flag: said in the log, for whoever left it */
        if (!S_ISREG(st.st_mode) || locked ||
            st.st_size < (off_t) sizeof(h) || pread(fd, &h, sizeof(h), 0) != (ssize_t) sizeof(h) ||
            memcmp(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic)) != 0 || h.version == 0 ||
            h.version > SNAPSHOT_VERSION ||
            h.header_size < offsetof(SnapshotHeader, superseded) + sizeof(h.superseded))
                return 0;
        if (h.superseded != 0)
                return 0;

        /* Opened for writing now, while the path still names it: the write comes after the new
         * file took its name.  Write permission is checked at open() only. */
        if (fchmod(fd, 0644) < 0)
                return -errno;
        wfd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (wfd < 0)
                r = -errno;
        else if (fstat(wfd, &wst) < 0)
                r = -errno;
        else if (wst.st_dev != st.st_dev || wst.st_ino != st.st_ino)
                r = -ESTALE;
        else {
                *ret_fd = TAKE_FD(wfd);
                r = 1;
        }
        (void) fchmod(fd, st.st_mode & 07777);
        return r;
}

int snapshot_file_flag_stale(int fd)
{
        uint32_t one = 1;
        /* Through the page cache: every mapping of the file sees it. */
        ssize_t n = pwrite(fd, &one, sizeof(one), offsetof(SnapshotHeader, superseded));

        return n == (ssize_t) sizeof(one) ? 1 : n < 0 ? -errno : -EIO;
}

/* Whether dir/name is held (write_locked()). */
static bool temporary_in_use(int dfd, const char *name)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

        /* When in doubt, it stays. */
        return fd < 0 || write_locked(fd) != 0;
}

int snapshot_file_remove_temporaries(const char *socket_path)
{
        _cleanup_free_ char *dir = NULL, *prefix = NULL;
        const char *slash = strrchr(socket_path, '/');

        assert(socket_path);

        if (!slash)
                dir = strdup(".");
        else
                dir = strndup(socket_path, (size_t) MAX(slash - socket_path, 1));
        /* The names snapshot_file_publish() gives them: "SOCKET.snapshot.XXXXXX". */
        if (!dir || asprintf(&prefix, "%s" SNAPSHOT_PUBLISHED_SUFFIX ".", slash ? slash + 1 : socket_path) < 0)
                return -ENOMEM;
        return unlink_temporaries(dir, prefix, temporary_in_use);
}
