/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Privilege separation, the owner-query side: "portd --owner-worker" is a small monitor that keeps
 * the capabilities owner queries need, answers the main process's questions about callers'
 * namespaces, and restarts with back-off the worker it forks and the standby it execs (which takes
 * over when the monitor dies); the worker has its own limits, accepts on the io.portd.Sockets
 * sockets itself (the main process passes them, and never sees a connection of them).  It takes
 * no data from the main process: the channel between them only tells each that the other is there. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "caller.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

#define CHANNEL_FD    3
#define NAMESPACES_FD 4
#define WAIT_FOREVER  UINT64_MAX

/* Our executable, opened by the main process at its start (O_PATH): the standby is exec'd
 * through it, so that a binary replaced on disk since is not what runs. */
#define EXE_FD 5
/* The io.portd.Sockets listening socket, when the main process had one to pass, and root's
 * (mode 0600): the kernel queues a listener's connections in their order, so on the shared one
 * root's call waits behind every connection users queued before it, up to the backlog's 4,096
 * (174 ms under bench-flood.sh's flood).  Nobody else can queue on root's, and its connections'
 * events go before the others' (varlink_server_listen_fd_priority()). */
#define SOCKETS_FD      6
#define ROOT_SOCKETS_FD 7

/* The worker's own limits.  Descriptors: each connection holds its socket and, while its query
 * waits, the caller's network namespace; the rest is /proc and netlink work. */
#define WORKER_NOFILE          4096U
#define WORKER_CONNECTIONS_MAX 1024U
#define WORKER_CONNECTIONS_UID 16U
#define WORKER_ROOT_RESERVE    64U
/* Memory: replies are streamed and results bounded (varlink-sockets.c); this is the backstop
 * against what slips through, and a worker that hits it dies alone and comes back. */
#define WORKER_DATA_MAX      (1024ULL * 1024ULL * 1024ULL)
#define RESTART_FIRST_USEC   (100ULL * 1000ULL)
#define RESTART_MAX_USEC     (10ULL * 1000ULL * 1000ULL)
#define RESTART_HEALTHY_USEC (10ULL * 1000ULL * 1000ULL)
#define MESSAGES_PER_WAKEUP  64U
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

typedef struct Worker {
        sd_event *event;
        VarlinkServer *server;
        SocketsWorker *sockets;
        int channel_fd;
        sd_event_source *channel;
} Worker;

/* Nothing comes on the channel (the ports of the rows are named by the clients, from the
 * caller's own catalog: io.portd.Services decides scopes, we do not): its end of file is the main
 * process gone, and so are we. */
static int on_channel(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Worker *w = userdata;
        char buf[16];

        for (unsigned i = 0; i < MESSAGES_PER_WAKEUP; i++) {
                ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k < 0)
                        return sd_event_exit(
                                w->event, log_error_errno(errno, "Reading the channel failed: %m"));
                if (k == 0)
                        return sd_event_exit(w->event, 0);
        }
        return 0;
}

static int on_worker_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void apply_limits(void)
{
        struct rlimit rl = { WORKER_NOFILE, WORKER_NOFILE };

        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(errno, "Failed to limit the worker's descriptors, ignoring: %m");
#ifndef UNDER_SANITIZER
        /* ASan reserves terabytes of shadow memory; its builds run without this backstop. */
        rl = (struct rlimit){ WORKER_DATA_MAX, WORKER_DATA_MAX };
        if (setrlimit(RLIMIT_DATA, &rl) < 0)
                log_warning_errno(errno, "Failed to limit the worker's memory, ignoring: %m");
#endif
        /* CPU: no nice value or scheduling class.  The unit's filter leaves @resources out, and a
         * lower priority would let a user's own busy processes starve root's queries.  What one
         * query may take is bounded by its budget, and root's run on a thread of their own
         * (varlink-sockets.c). */
}

static int worker_run(void)
{
        VarlinkServerLimits limits = {
                .connections_max = WORKER_CONNECTIONS_MAX,
                .connections_root_reserve = WORKER_ROOT_RESERVE,
                .connections_per_uid_max = WORKER_CONNECTIONS_UID,
        };
        Worker w = { .channel_fd = CHANNEL_FD };
        sigset_t mask;
        int r;

        apply_limits();

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&w.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the worker's event loop: %m");
        r = sd_event_add_signal(w.event, NULL, SIGTERM, on_worker_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(w.event, NULL, SIGINT, on_worker_signal, NULL);
        if (r >= 0)
                r = varlink_server_new(w.event, &limits, "portd", PORTD_VERSION,
                        "https://github.com/portd/portd", &w.server);
        if (r >= 0)
                r = varlink_sockets_register(w.event, w.server, &w.sockets);
        if (r >= 0)
                r = sd_event_add_io(w.event, &w.channel, w.channel_fd, EPOLLIN, on_channel, &w);
        if (r >= 0 && fcntl(SOCKETS_FD, F_GETFD) >= 0)
                r = varlink_server_listen_fd(w.server, SOCKETS_FD);
        if (r >= 0 && sd_is_socket_unix(ROOT_SOCKETS_FD, SOCK_STREAM, 1, NULL, 0) > 0)
                r = varlink_server_listen_fd_priority(w.server, ROOT_SOCKETS_FD, SD_EVENT_PRIORITY_IMPORTANT);
        if (r >= 0)
                r = sd_event_loop(w.event);
        if (r < 0)
                log_error_errno(r, "The owner-query worker failed: %m");

        /* The query thread first, then the connections (their jobs go with them), then the rest. */
        varlink_sockets_stop(w.sockets);
        w.server = varlink_server_free(w.server);
        varlink_sockets_free(w.sockets);
        sd_event_source_disable_unref(w.channel);
        safe_close(w.channel_fd);
        sd_event_unref(w.event);
        return r;
}

/* Waits up to timeout_usec (WAIT_FOREVER: for ever) for one of the signals signal_fd takes,
 * answering the main process's questions about callers' namespaces meanwhile.  The signal, 0 on
 * timeout, SIGTERM once the main process is gone (its end of the channel closed). */
static int monitor_wait(int signal_fd, uint64_t timeout_usec)
{
        uint64_t until =
                timeout_usec == WAIT_FOREVER ? WAIT_FOREVER : now_usec(CLOCK_MONOTONIC) + timeout_usec;

        for (;;) {
                struct pollfd p[2] = { { signal_fd, POLLIN, 0 }, { NAMESPACES_FD, POLLIN, 0 } };
                int msec = -1;
                if (until != WAIT_FOREVER) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        if (now >= until)
                                return 0;
                        msec = (int) MIN((until - now + 999) / 1000, (uint64_t) INT_MAX);
                }
                if (poll(p, 2, msec) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents && caller_namespaces_answer(NAMESPACES_FD) < 0)
                        return SIGTERM;
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                                return (int) si.ssi_signo;
                }
        }
}

__attribute__((noreturn)) void owner_monitor_namespaces_only(void)
{
        (void) prctl(PR_SET_NAME, "portd-monitor", 0, 0, 0);
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        for (;;) {
                struct pollfd p = { NAMESPACES_FD, POLLIN, 0 };
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        break;
                if (p.revents && caller_namespaces_answer(NAMESPACES_FD) < 0)
                        break;
        }
        _exit(EXIT_SUCCESS);
}

/* A child of the monitor's, restarted with back-off when it dies: 100 ms, doubling up to 10 s
 * while it keeps dying within 10 s of its start. */
typedef struct MonitorChild {
        const char *what;
        pid_t pid;
        uint64_t started, delay, restart_at;
} MonitorChild;

static void monitor_child_exited(MonitorChild *c, int status)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        c->delay = now - c->started >= RESTART_HEALTHY_USEC ? RESTART_FIRST_USEC
                                                            : MIN(c->delay * 2, RESTART_MAX_USEC);
        c->restart_at = now + c->delay;
        c->pid = 0;
        if (WIFSIGNALED(status))
                log_error("The owner-query %s died of signal %d, restarting it in %llu ms.", c->what,
                        WTERMSIG(status), (unsigned long long) (c->delay / 1000));
        else
                log_error("The owner-query %s exited with status %d, restarting it in %llu ms.", c->what,
                        WEXITSTATUS(status), (unsigned long long) (c->delay / 1000));
}

static void monitor_child_stop(MonitorChild *c)
{
        if (c->pid <= 0)
                return;
        (void) kill(c->pid, SIGTERM);
        (void) waitpid(c->pid, NULL, 0);
        c->pid = 0;
}

static int fork_worker(MonitorChild *c, int signal_fd, const sigset_t *mask)
{
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the owner-query worker: %m");
        if (pid == 0) {
                (void) prctl(PR_SET_NAME, "portd-owner", 0, 0, 0);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() == 1)
                        _exit(EXIT_FAILURE);
                /* The namespace questions are the monitor's to answer, not the worker's. */
                safe_close(NAMESPACES_FD);
                safe_close(EXE_FD);
                safe_close(signal_fd);
                (void) sigprocmask(SIG_UNBLOCK, mask, NULL);
                /* exit(), not _exit(): LeakSanitizer checks the worker at exit. */
                exit(worker_run() < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        c->pid = pid;
        c->started = now_usec(CLOCK_MONOTONIC);
        return 0;
}

/* The standby: ourselves again, exec'd (a clean image, as the monitor is) through EXE_FD, with
 * the channels on fds 3 and 4; it takes over when we die (owner_worker_main()).  delay: what our own
 * takeover waited, which a standby that takes over soon after doubles. */
static int start_standby(MonitorChild *c, int signal_fd, uint64_t delay)
{
        char self[32], standby[48];

        (void) snprintf(self, sizeof(self), "--owner-worker=%d", (int) getpid());
        (void) snprintf(standby, sizeof(standby), "--owner-standby=%llu", (unsigned long long) delay);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the owner-query standby: %m");
        if (pid == 0) {
                sigset_t none;
                safe_close(signal_fd);
                if (fcntl(CHANNEL_FD, F_SETFD, 0) < 0 || fcntl(NAMESPACES_FD, F_SETFD, 0) < 0 ||
                        (fcntl(SOCKETS_FD, F_GETFD) >= 0 && fcntl(SOCKETS_FD, F_SETFD, 0) < 0) ||
                        (fcntl(ROOT_SOCKETS_FD, F_GETFD) >= 0 && fcntl(ROOT_SOCKETS_FD, F_SETFD, 0) < 0))
                        _exit(EXIT_FAILURE);
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                char *argv[] = { (char *) "portd", self, standby, NULL };
                if (fcntl(EXE_FD, F_SETFD, 0) < 0)
                        _exit(EXIT_FAILURE);
                (void) execveat(EXE_FD, "", argv, environ, AT_EMPTY_PATH);
                _exit(EXIT_FAILURE);
        }
        c->pid = pid;
        c->started = now_usec(CLOCK_MONOTONIC);
        return 0;
}

/* The monitor's loop: keeps a worker and a standby running, answers the namespace questions. */
static int monitor_run(int signal_fd, const sigset_t *mask, uint64_t takeover_delay)
{
        MonitorChild worker = { .what = "worker", .delay = RESTART_FIRST_USEC },
                     standby = { .what = "standby", .delay = RESTART_FIRST_USEC };
        int r;

        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC), next = WAIT_FOREVER;

                if (worker.pid == 0 && now >= worker.restart_at) {
                        r = fork_worker(&worker, signal_fd, mask);
                        if (r < 0) {
                                monitor_child_stop(&standby);
                                return r;
                        }
                }
                if (standby.pid == 0 && now >= standby.restart_at &&
                        start_standby(&standby, signal_fd, takeover_delay) < 0)
                        standby.restart_at = now + RESTART_MAX_USEC;
                if (worker.pid == 0)
                        next = worker.restart_at;
                if (standby.pid == 0)
                        next = MIN(next, standby.restart_at);

                int sig = monitor_wait(signal_fd, next == WAIT_FOREVER ? WAIT_FOREVER
                                                  : next > now         ? next - now
                                                                       : 0);
                if (sig == SIGTERM || sig == SIGINT || sig < 0) {
                        monitor_child_stop(&worker);
                        monitor_child_stop(&standby);
                        return 0;
                }
                if (sig != SIGCHLD)
                        continue;
                for (;;) {
                        int status = 0;
                        pid_t pid = waitpid(-1, &status, WNOHANG);
                        if (pid <= 0)
                                break;
                        if (pid == worker.pid) {
                                if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SUCCESS) {
                                        /* The channel closed: the main process is gone. */
                                        monitor_child_stop(&standby);
                                        return 0;
                                }
                                monitor_child_exited(&worker, status);
                        } else if (pid == standby.pid)
                                monitor_child_exited(&standby, status);
                }
        }
}

/* The standby waits for the monitor, its parent, to die (its death signal, SIGHUP), then takes
 * over after a delay that doubles while monitors keep dying young.  1: take over, 0: end (told
 * to, or the main process is gone). */
static int standby_wait(int signal_fd, pid_t monitor, uint64_t *delay)
{
        uint64_t started = now_usec(CLOCK_MONOTONIC);

        if (getppid() == monitor)
                for (;;) {
                        /* Events 0: only the hang-up of the main process's end; the questions are
                         * the monitor's to read. */
                        struct pollfd p[2] = { { signal_fd, POLLIN, 0 }, { NAMESPACES_FD, 0, 0 } };
                        if (poll(p, 2, -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                return 0;
                        }
                        if (p[1].revents)
                                return 0;
                        struct signalfd_siginfo si;
                        if (!(p[0].revents & POLLIN) ||
                                read(signal_fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
                                continue;
                        if (si.ssi_signo == SIGHUP && getppid() != monitor)
                                break;
                        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                                return 0;
                }

        *delay = now_usec(CLOCK_MONOTONIC) - started >= RESTART_HEALTHY_USEC
                         ? RESTART_FIRST_USEC
                         : MIN(*delay * 2, RESTART_MAX_USEC);
        log_error("The owner-query monitor (PID %d) is gone, taking over in %llu ms.", (int) monitor,
                (unsigned long long) (*delay / 1000));
        int sig = monitor_wait(signal_fd, *delay);
        return sig == SIGTERM || sig == SIGINT || sig < 0 ? 0 : 1;
}

int owner_worker_main(pid_t parent, int64_t standby_delay)
{
        _cleanup_close_ int signal_fd = -1;
        uint64_t delay = RESTART_FIRST_USEC;
        sigset_t mask;
        int r;

        /* The first monitor lives and dies with the main process: SIGTERM when it goes, and if it
         * went before we asked, at once.  A standby hears of its monitor's death by SIGHUP. */
        (void) prctl(PR_SET_NAME, standby_delay >= 0 ? "portd-standby" : "portd-monitor", 0, 0, 0);
        if (prctl(PR_SET_PDEATHSIG, standby_delay >= 0 ? SIGHUP : SIGTERM, 0, 0, 0) < 0)
                return -errno;
        if (standby_delay < 0 && getppid() != parent)
                return -ESRCH;
        if (fcntl(CHANNEL_FD, F_GETFD) < 0 || fcntl(NAMESPACES_FD, F_GETFD) < 0)
                return log_error_errno(
                        EBADF, "No owner-query channels on fds %d and %d.", CHANNEL_FD, NAMESPACES_FD);
        /* Ours alone: the worker must not keep them past an exec (it never execs), nor the
         * standby but on purpose. */
        if (fcntl(CHANNEL_FD, F_SETFD, FD_CLOEXEC) < 0 || fcntl(NAMESPACES_FD, F_SETFD, FD_CLOEXEC) < 0)
                return -errno;
        if (fcntl(EXE_FD, F_SETFD, FD_CLOEXEC) < 0)
                return log_error_errno(errno, "No executable on fd %d: %m", EXE_FD);
        /* The worker accepts on it; a main process that had none to pass has no owner queries. */
        if (fcntl(SOCKETS_FD, F_SETFD, FD_CLOEXEC) < 0)
                log_warning(
                        "No io.portd.Sockets socket on fd %d, owner queries are unavailable.", SOCKETS_FD);
        /* Without root's, root's queries go through the shared one. */
        (void) fcntl(ROOT_SOCKETS_FD, F_SETFD, FD_CLOEXEC);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0)
                return log_error_errno(errno, "Failed to create the monitor's signalfd: %m");

        if (standby_delay >= 0) {
                delay = (uint64_t) standby_delay;
                r = standby_wait(signal_fd, parent, &delay);
                if (r <= 0)
                        return r;
                /* Our parent is gone; the main process's end of the channels tells us when it
                 * goes (monitor_wait()). */
                (void) prctl(PR_SET_NAME, "portd-monitor", 0, 0, 0);
                (void) prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        }
        return monitor_run(signal_fd, &mask, delay);
}
