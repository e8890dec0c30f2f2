/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of daemon/caller-namespaces.c: a process's namespaces read through its pidfd, and
 * the question the capability-less main process asks the monitor about them, over a real
 * SOCK_SEQPACKET pair with a real answering process. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caller.h"
#include "util.h"

static int pidfd_of(pid_t pid)
{
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        assert_true(fd >= 0);
        return fd;
}

static int own_pidfd(void)
{
        return pidfd_of(getpid());
}

static void assert_is(const CallerNamespaceId *id, const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(id->error, 0);
        assert_int_equal(id->dev, (uint64_t) st.st_dev);
        assert_int_equal(id->inode, (uint64_t) st.st_ino);
}

static void test_read_own(void **state)
{
        CallerNamespaces ns;
        int pidfd = own_pidfd();

        assert_int_equal(caller_namespaces_read(pidfd, &ns), 0);
        assert_is(&ns.id[CALLER_NAMESPACE_NET], "/proc/self/ns/net");
        assert_is(&ns.id[CALLER_NAMESPACE_USER], "/proc/self/ns/user");
        assert_is(&ns.id[CALLER_NAMESPACE_PID], "/proc/self/ns/pid");
        assert_int_equal(caller_namespaces_are_own(&ns), 1);
        /* Not a pidfd: nothing is read. */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(caller_namespaces_read(fd, &ns) < 0);
        close(fd);
        close(pidfd);
}

/* A process in a user namespace of its own is not in ours; once gone it is not identified. */
static void test_read_other(void **state)
{
        CallerNamespaces ns;
        int ready[2], done[2];
        char b;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(done, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Only the parent's ends: should it fail and go, the read below ends too. */
                close(ready[0]);
                close(done[1]);
                b = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
                (void) !write(ready[1], &b, 1);
                (void) !read(done[0], &b, 1);
                _exit(0);
        }
        int pidfd = pidfd_of(pid);
        assert_int_equal(read(ready[0], &b, 1), 1);
        assert_int_equal(caller_namespaces_read(pidfd, &ns), 0);
        if (b == 'y')
                assert_int_equal(caller_namespaces_are_own(&ns), 0);
        else
                print_message("# cannot create a user namespace here, that case is not checked\n");
        assert_int_equal(write(done[1], "x", 1), 1);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(caller_namespaces_read(pidfd, &ns), -ESRCH);
        close(pidfd);
        close(ready[0]);
        close(ready[1]);
        close(done[0]);
        close(done[1]);
}

/* A monitor: answers on fd until the other end (other, closed here) closes. */
static pid_t start_answerer(int fd, int other)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(other);
                for (;;) {
                        struct pollfd p = { fd, POLLIN, 0 };
                        if (poll(&p, 1, -1) < 0 || caller_namespaces_answer(fd) < 0)
                                _exit(0);
                }
        }
        return pid;
}

static void test_ask(void **state)
{
        CallerNamespaces ns = {};
        int pair[2], pidfd = own_pidfd();

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        pid_t answerer = start_answerer(pair[1], pair[0]);
        close(pair[1]);

        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), 0);
        assert_is(&ns.id[CALLER_NAMESPACE_NET], "/proc/self/ns/net");
        assert_int_equal(caller_namespaces_are_own(&ns), 1);

        /* A process that is gone is told apart from a monitor that does not answer. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        int child = pidfd_of(pid);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(caller_namespaces_ask(pair[0], child, &ns), -ESRCH);
        close(child);

        /* A question that is not well formed (two descriptors) is not answered; the next is. */
        int two[2] = { pidfd, pidfd };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(two))];
        } control = {};
        uint32_t bad[2] = { 0x6e736131, 99 };
        struct iovec iov = { bad, sizeof(bad) };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(two));
        memcpy(CMSG_DATA(cm), two, sizeof(two));
        assert_true(sendmsg(pair[0], &mh, 0) > 0);
        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), 0);

        /* The monitor gone: an error at once, not the host's view nor a wait. */
        kill(answerer, SIGKILL);
        assert_int_equal(waitpid(answerer, NULL, 0), answerer);
        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), -ECONNRESET);
        close(pair[0]);
        close(pidfd);
}

/* A monitor that does not answer holds the main process up for a bounded time only, and its late
 * answer is not taken for the next question's. */
static void test_ask_timeout(void **state)
{
        CallerNamespaces ns = {};
        int pair[2], pidfd = own_pidfd();

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        uint64_t t = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), -ETIMEDOUT);
        t = now_usec(CLOCK_MONOTONIC) - t;
        assert_true(t < 2 * 1000 * 1000);
        /* Until it answers, the next questions fail at once instead of waiting again: a monitor
         * that is gone must not hold the main loop up once per connection. */
        t = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), -ETIMEDOUT);
        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), -ETIMEDOUT);
        t = now_usec(CLOCK_MONOTONIC) - t;
        assert_true(t < 100 * 1000);
        /* Now it answers the old question, and the next one is asked again. */
        pid_t answerer = start_answerer(pair[1], pair[0]);
        close(pair[1]);
        (void) poll(&(struct pollfd){ .fd = pair[0], .events = POLLIN }, 1, 5000);
        assert_int_equal(caller_namespaces_ask(pair[0], pidfd, &ns), 0);
        assert_is(&ns.id[CALLER_NAMESPACE_PID], "/proc/self/ns/pid");
        close(pair[0]);
        assert_int_equal(waitpid(answerer, NULL, 0), answerer);
        close(pidfd);
}

int main(void)
{
        /* Where pidfd_open() does not exist (before Linux 5.3, and under valgrind 3.19, which does
         * not know the system call) the daemon cannot identify callers either. */
        int fd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (fd < 0 && errno == ENOSYS) {
                printf("1..0 # SKIP pidfd_open() is not available here\n");
                return 0;
        }
        close(fd);

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_own),
                cmocka_unit_test(test_read_other),
                cmocka_unit_test(test_ask),
                cmocka_unit_test(test_ask_timeout),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
