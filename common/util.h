/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by every part of portd: cleanup attributes and macros, inline here; the
 * functions with real work (file reading, temporaries, array growth) live in util.c, of which the
 * NSS module keeps only what it calls (it is linked with --gc-sections). */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _unused_ __attribute__((unused))
#define _public_ __attribute__((visibility("default")))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _nonnull_(...) __attribute__((nonnull(__VA_ARGS__)))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

/* Writes all of p to fd, going on after short writes and EINTR. */
int write_full_fd(int fd, const void *p, size_t n);

/* What a read of a file saw, to tell later whether it changed: modification time, size and
 * inode (a rename over it changes the inode even when the other two stay). */
typedef struct FileStamp {
        uint64_t mtime_nsec, size, inode;
} FileStamp;

static inline FileStamp file_stamp(const struct stat *st)
{
        return (FileStamp){
                .mtime_nsec = (uint64_t) st->st_mtim.tv_sec * 1000000000u + (uint64_t) st->st_mtim.tv_nsec,
                .size = (uint64_t) st->st_size,
                .inode = (uint64_t) st->st_ino,
        };
}

static inline bool file_stamp_equal(const FileStamp *a, const FileStamp *b)
{
        return a->mtime_nsec == b->mtime_nsec && a->size == b->size && a->inode == b->inode;
}

/* strlen() for the NSS module, inlined where it is used: a name or a protocol is a word or two,
 * and a call into libc's vector strlen() through the GOT cost more than scanning them here; the
 * module then imports no strlen() either, whose IFUNC resolver every process's dlopen() of it
 * would run (a page of libc faulted in).  Eight bytes at a time from the aligned word holding s,
 * as libc's own generic strlen() does: an aligned word never crosses a page, so the bytes after
 * the NUL in its word are read but can never fault, and they do not change the result (only the
 * lowest zero byte counts, and no borrow runs towards lower bytes).  A test per byte measured
 * faster in a loop of direct calls but slower through glibc's getservbyname(), by up to 4 ns on
 * a 15-byte name: a branch per byte, which glibc's own branches between two lookups leave the
 * CPU unable to predict.  ASan would report the bytes read past an allocation, hence
 * no_sanitize_address (instrumented code calls this instead of inlining it); valgrind accepts
 * such aligned partial loads. */
typedef uint64_t __attribute__((may_alias)) StringWord;

static inline __attribute__((no_sanitize_address)) size_t string_length(const char *s)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
        /* The word trick below finds the lowest-addressed zero byte only on little-endian. */
        size_t n = 0;
        while (s[n])
                n++;
        return n;
#else
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
        const StringWord *w = (const StringWord *) (const void *) ((uintptr_t) s & ~(uintptr_t) 7);
        unsigned skip = (unsigned) ((uintptr_t) s & 7) * 8;
        /* The bytes of the first word before s read as 0xff, never as a NUL. */
        uint64_t x = *w | ((UINT64_C(1) << skip) - 1), zeros;

        while ((zeros = (x - ones) & ~x & highs) == 0)
                x = *++w;
        return (size_t) ((const char *) w - s) + (size_t) (__builtin_ctzll(zeros) / 8);
#endif
}

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -1;
}

static inline void freep(void *p)
{
        free(*(void **) p);
}

static inline void closep(int *fd)
{
        safe_close(*fd);
}

static inline void fclosep(FILE **f)
{
        if (*f)
                (void) fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Returns fd and leaves -1 behind, for handing an fd out of a _cleanup_close_ variable. */
#define TAKE_FD(fd)                                                                                           \
        ({                                                                                                    \
                int _fd_ = (fd);                                                                              \
                (fd) = -1;                                                                                    \
                _fd_;                                                                                         \
        })

#define TAKE_PTR(p)                                                                                           \
        ({                                                                                                    \
                __typeof__(p) _p_ = (p);                                                                      \
                (p) = NULL;                                                                                   \
                _p_;                                                                                          \
        })

/* Grows *array so that it holds at least need elements of size each; doubling, overflow-checked. */
int grow_array(void **array, size_t *allocated, size_t need, size_t size);

/* Microseconds on the given clock; 0 if the clock cannot be read (it always can on Linux).  Inline:
 * the NSS module reads the clock on its lookup path. */
static inline uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;
        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Reads fd to its end into a malloc()ed, NUL-terminated buffer of at most max bytes (-EFBIG
 * beyond). ret_size excludes the NUL. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

#define GROW(array, allocated, need) grow_array((void **) &(array), &(allocated), (need), sizeof(*(array)))

/* Joins root and path ("/" or NULL root means none); returns NULL on OOM. */
char *path_join_root(const char *root, const char *path);

/* Removes the temporary files an interrupted replace-by-rename left in dir: regular files named
 * prefix and the six characters mkostemp() adds.  in_use (may be NULL) spares a file that is
 * still being written (it gets dir's fd and the name).  Returns how many went, or -errno when dir
 * cannot be read (-ENOENT when it does not exist). */
int unlink_temporaries(const char *dir, const char *prefix, bool (*in_use)(int dfd, const char *name));

/* Whether the process behind pidfd has exited (-1 pidfd: not known, false).  Used after reading
 * /proc/PID: a process alive after the read was alive all along, so what was read is its own and
 * not that of a process that took over a reused PID. */
bool pidfd_process_gone(int pidfd);

/* io.portd.Sockets has a socket of its own, served by the privileged owner-query process alone,
 * so that no owner query reaches the process that answers lookups.  It is named this, in the
 * directory of the io.portd.Services socket it goes with. */
#define SOCKETS_SOCKET_NAME "io.portd.Sockets"
/* The same interface on a socket only root may connect to (mode 0600): the kernel queues a
 * listener's connections first come, first served, whoever makes them, so on the shared socket
 * root's call would wait behind every connection a flooding user queued before it (4,096). */
#define ROOT_SOCKETS_SOCKET_NAME "io.portd.Sockets.root"
/* The io.portd.Sockets socket (root: root's own) beside the io.portd.Services socket at
 * services_path: "/run/portd/io.portd.Services" gives "/run/portd/io.portd.Sockets", "x" gives
 * "io.portd.Sockets".  -EINVAL for an empty path. */
int sockets_socket_path(const char *services_path, bool root, char **ret);
