/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A caller's namespaces, which only a process allowed to ptrace it may read (the kernel's check on
 * /proc/PID/ns/).  The main process holds no capability, so it asks the monitor, which does: it
 * passes the caller's pidfd over a SOCK_SEQPACKET channel and reads back the namespaces' identities
 * (device and inode), nothing more.  Both ends of that question are here. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caller.h"
#include "util.h"

#define NAMESPACES_MAGIC_ASK    UINT32_C(0x6e736131) /* "nsa1" */
#define NAMESPACES_MAGIC_ANSWER UINT32_C(0x6e737231) /* "nsr1" */
/* How long the main process waits for the monitor.  It answers from a few stat() calls; only a
 * monitor that is stopped or gone is slower, and then the caller is unidentified (an error when
 * scopes exist) rather than the lookups held up. */
#define NAMESPACES_ASK_TIMEOUT_MSEC   500
#define NAMESPACES_PROBE_USEC         (5ULL * 1000ULL * 1000ULL)
#define NAMESPACES_ANSWERS_PER_WAKEUP 64U
#define FDINFO_MAX                    4096

typedef struct NamespacesAsk {
        uint32_t magic;
        uint32_t seq;
} NamespacesAsk;

typedef struct NamespacesAnswer {
        uint32_t magic;
        uint32_t seq;
        CallerNamespaces namespaces;
} NamespacesAnswer;

static const char *const namespace_names[_CALLER_NAMESPACE_MAX] = {
        [CALLER_NAMESPACE_NET] = "net",
        [CALLER_NAMESPACE_USER] = "user",
        [CALLER_NAMESPACE_PID] = "pid",
};

/* The PID a pidfd names, in our PID namespace, from its fdinfo: -ESRCH once the process is gone. */
static int pidfd_get_pid(int pidfd)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        char path[64];
        size_t size;
        int r;

        (void) snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, FDINFO_MAX, &text, &size);
        if (r < 0)
                return r;
        for (const char *l = text; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                int pid;
                if (sscanf(l, "Pid:\t%d", &pid) == 1)
                        return pid > 0 ? pid : -ESRCH;
        }
        return -EBADF; /* not a pidfd */
}

int caller_namespaces_read(int pidfd, CallerNamespaces *ret)
{
        CallerNamespaces ns = {};
        char path[64];
        int pid;

        pid = pidfd_get_pid(pidfd);
        if (pid < 0)
                return pid;
        for (CallerNamespace t = 0; t < _CALLER_NAMESPACE_MAX; t++) {
                struct stat st;
                (void) snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, namespace_names[t]);
                if (stat(path, &st) < 0) {
                        ns.id[t].error = -errno;
                        continue;
                }
                ns.id[t].dev = (uint64_t) st.st_dev;
                ns.id[t].inode = (uint64_t) st.st_ino;
        }
        /* The PID was the caller's when the pidfd was taken; alive now means it still is, and
         * what was read is its own, not a process's that took its number since. */
        if (pidfd_process_gone(pidfd))
                return -ESRCH;
        *ret = ns;
        return 0;
}

/* A question given up on: until its late answer comes, new questions are not waited for, or
 * every connection would hold the main loop up for the whole deadline while the monitor is gone
 * or a standby is taking over; one is still tried every NAMESPACES_PROBE_USEC, should that
 * answer never come (a monitor killed with the question read). */
static struct {
        uint32_t seq, late_seq;
        bool behind;
        uint64_t probed_usec;
} asking;

/* Reads answers until the one to question want (0: none, only what is there now) or the
 * deadline; a late one clears asking.behind. */
static int receive_answer(int channel_fd, uint32_t want, uint64_t deadline, CallerNamespaces *ret)
{
        for (;;) {
                NamespacesAnswer a;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                int msec = now >= deadline ? 0 : (int) ((deadline - now + 999) / 1000);
                struct pollfd p = { .fd = channel_fd, .events = POLLIN };
                int k = poll(&p, 1, msec);
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k <= 0) {
                        if (now_usec(CLOCK_MONOTONIC) >= deadline)
                                return -ETIMEDOUT;
                        continue;
                }
                ssize_t n = recv(channel_fd, &a, sizeof(a), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ECONNRESET; /* the monitor is gone */
                if ((size_t) n != sizeof(a) || a.magic != NAMESPACES_MAGIC_ANSWER)
                        return -EBADMSG;
                if (asking.behind && a.seq == asking.late_seq)
                        asking.behind = false;
                if (want == 0 || a.seq != want)
                        continue;
                if (a.namespaces.error < 0)
                        return a.namespaces.error == -ESRCH ? -ESRCH : -EIO;
                *ret = a.namespaces;
                return 0;
        }
}

int caller_namespaces_ask(int channel_fd, int pidfd, CallerNamespaces *ret)
{
        NamespacesAsk ask = { .magic = NAMESPACES_MAGIC_ASK };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { &ask, sizeof(ask) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        uint64_t now;
        int r;

        /* No monitor (a daemon inside a test program): read them here, which works for the
         * callers this process may ptrace, and for no other. */
        if (channel_fd < 0)
                return caller_namespaces_read(pidfd, ret);
        if (pidfd < 0)
                return -EBADF;

        now = now_usec(CLOCK_MONOTONIC);
        if (asking.behind) {
                r = receive_answer(channel_fd, 0, now, NULL);
                if (r != -ETIMEDOUT && r < 0)
                        return r;
                if (asking.behind && now < asking.probed_usec + NAMESPACES_PROBE_USEC)
                        return -ETIMEDOUT;
        }

        /* Numbered, never 0: an answer that comes after its question was given up on has an older
         * number and is passed over. */
        ask.seq = ++asking.seq ?: ++asking.seq;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &pidfd, sizeof(int));
        if (sendmsg(channel_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return errno == EPIPE ? -ECONNRESET : -errno;

        r = receive_answer(channel_fd, ask.seq, now + NAMESPACES_ASK_TIMEOUT_MSEC * 1000ULL, ret);
        if (r == -ETIMEDOUT) {
                asking.behind = true;
                asking.late_seq = ask.seq;
                asking.probed_usec = now_usec(CLOCK_MONOTONIC);
        } else if (r >= 0 || r == -ESRCH || r == -EIO)
                asking.behind = false; /* it answers */
        return r;
}

static void answer_one(int channel_fd, const NamespacesAsk *ask, int pidfd)
{
        NamespacesAnswer a = { .magic = NAMESPACES_MAGIC_ANSWER, .seq = ask->seq };
        int r;

        r = caller_namespaces_read(pidfd, &a.namespaces);
        if (r < 0)
                a.namespaces = (CallerNamespaces){ .error = r };
        (void) send(channel_fd, &a, sizeof(a), MSG_DONTWAIT | MSG_NOSIGNAL);
}

int caller_namespaces_answer(int channel_fd)
{
        for (unsigned i = 0; i < NAMESPACES_ANSWERS_PER_WAKEUP; i++) {
                NamespacesAsk ask;
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int) * 4)];
                } control;
                struct iovec iov = { &ask, sizeof(ask) };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                _cleanup_close_ int pidfd = -1;
                size_t n_fds = 0;

                ssize_t k = recvmsg(channel_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                if (k == 0 && mh.msg_controllen == 0)
                        return -ECONNRESET;
                /* Whatever came along is closed; only a well-formed question with exactly one
                 * descriptor is answered (the main process is trusted no further than that). */
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                                continue;
                        size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t j = 0; j < m; j++) {
                                int f;
                                memcpy(&f, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
                                if (n_fds++ == 0)
                                        pidfd = f;
                                else
                                        safe_close(f);
                        }
                }
                if ((size_t) k != sizeof(ask) || ask.magic != NAMESPACES_MAGIC_ASK || n_fds != 1 ||
                        (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                        continue;
                answer_one(channel_fd, &ask, pidfd);
        }
        return 0;
}

int caller_namespaces_are_own(const CallerNamespaces *ns)
{
        static const CallerNamespace checked[] = { CALLER_NAMESPACE_USER, CALLER_NAMESPACE_PID };
        char path[64];

        for (size_t i = 0; i < ELEMENTSOF(checked); i++) {
                CallerNamespace t = checked[i];
                struct stat own;
                if (ns->id[t].error < 0)
                        return ns->id[t].error;
                (void) snprintf(path, sizeof(path), "/proc/self/ns/%s", namespace_names[t]);
                if (stat(path, &own) < 0)
                        return -errno;
                if (ns->id[t].dev != (uint64_t) own.st_dev || ns->id[t].inode != (uint64_t) own.st_ino)
                        return 0;
        }
        return 1;
}
