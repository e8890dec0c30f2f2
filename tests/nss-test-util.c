/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixtures for the NSS module's integration tests and benchmark: start and stop a real portd,
 * and show glibc's files backend any services file through a private bind mount. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nss-test-util.h"

static int copy_file(const char *from, const char *to)
{
        char buf[65536];
        int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
        ssize_t n;

        if (in < 0)
                return -errno;
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, n) != n) {
                        r = -EIO;
                        break;
                }
        if (n < 0)
                r = -errno;
        close(in);
        if (close(out) < 0 && r == 0)
                r = -errno;
        return r;
}

static int mkdir_parents(char *path)
{
        for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
                *p = 0;
                int r = mkdir(path, 0755);
                *p = '/';
                if (r < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

int portd_write_file(const PortdInstance *p, const char *path, const char *contents)
{
        char target[PATH_MAX * 2], tmp[PATH_MAX * 2 + 8];
        size_t n = strlen(contents);
        int fd, r;

        snprintf(target, sizeof(target), "%s/%s", p->dir, path);
        snprintf(tmp, sizeof(tmp), "%s.tmp~", target);
        r = mkdir_parents(target);
        if (r < 0)
                return r;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, contents, n) != (ssize_t) n) {
                close(fd);
                return -EIO;
        }
        close(fd);
        if (rename(tmp, target) < 0)
                return -errno;
        return 0;
}

static bool socket_ready(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

int portd_spawn(const char *portd, PortdInstance *p)
{
        p->pid = fork();
        if (p->pid < 0)
                return -errno;
        if (p->pid == 0) {
                /* Quiet unless the test is run by hand with PORTD_TEST_VERBOSE. */
                if (!getenv("PORTD_TEST_VERBOSE")) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        dup2(null, STDERR_FILENO);
                }
                unsetenv("NOTIFY_SOCKET");
                unsetenv("LISTEN_FDS");
                execl(portd, portd, "--root", p->dir, "--socket", p->socket, (char *) NULL);
                _exit(127);
        }

        for (unsigned i = 0; i < 1000; i++) {
                if (socket_ready(p->socket))
                        return 0;
                if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
                        p->pid = -1;
                        return -ECHILD;
                }
                struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return -ETIMEDOUT;
}

int portd_start(const char *portd, const char *services_file, PortdInstance *ret)
{
        char path[PATH_MAX + 32];
        int r;

        *ret = (PortdInstance){ .pid = -1 };
        /* Always /tmp: the socket path must fit in sun_path whatever $TMPDIR says. */
        snprintf(ret->dir, sizeof(ret->dir), "/tmp/portd-nss-test-XXXXXX");
        if (!mkdtemp(ret->dir))
                return -errno;
        snprintf(path, sizeof(path), "%s/etc", ret->dir);
        r = mkdir(path, 0755) < 0 ? -errno : 0;
        if (r >= 0) {
                snprintf(path, sizeof(path), "%s/etc/services", ret->dir);
                r = copy_file(services_file, path);
        }
        if (r < 0) {
                portd_stop(ret);
                return r;
        }
        snprintf(ret->socket, sizeof(ret->socket), "%.64s/socket", ret->dir);
        r = portd_spawn(portd, ret);
        if (r < 0)
                portd_stop(ret);
        return r;
}

static void remove_tree(const char *dir)
{
        pid_t pid = fork();
        if (pid == 0) {
                execlp("rm", "rm", "-rf", "--", dir, (char *) NULL);
                _exit(127);
        }
        if (pid > 0)
                waitpid(pid, NULL, 0);
}

void portd_stop(PortdInstance *p)
{
        if (p->pid > 0) {
                kill(p->pid, SIGCONT);
                kill(p->pid, SIGTERM);
                for (unsigned i = 0; i < 500; i++) {
                        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
                                p->pid = -1;
                                break;
                        }
                        struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
                if (p->pid > 0) {
                        kill(p->pid, SIGKILL);
                        waitpid(p->pid, NULL, 0);
                }
        }
        p->pid = -1;
        if (p->dir[0])
                remove_tree(p->dir);
        p->dir[0] = 0;
}

int files_namespace_enter(const char *services_file)
{
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount("none", "/", "none", MS_PRIVATE | MS_REC, "") < 0)
                return -errno;
        if (mount(services_file, "/etc/services", "none", MS_BIND, "") < 0)
                return -errno;
        return 0;
}

static int probe(void *userdata)
{
        int r = files_namespace_enter(userdata);
        if (r < 0) {
                printf("# cannot bind a file over /etc/services in a private mount namespace: %s\n",
                        strerror(-r));
                return 1;
        }
        return 0;
}

bool files_namespace_available(void)
{
        return run_child(probe, (void *) "/dev/null") == 0;
}

void nss_use_source(const char *source)
{
        if (__nss_configure_lookup("services", source) < 0) {
                fprintf(stderr, "__nss_configure_lookup(services, %s) failed\n", source);
                abort();
        }
}

void servent_format(FILE *f, const struct servent *se)
{
        if (!se) {
                fputs("-", f);
                return;
        }
        fprintf(f, "%s %u/%s", se->s_name, ntohs((uint16_t) se->s_port), se->s_proto);
        for (char **a = se->s_aliases; a && *a; a++)
                fprintf(f, "%s%s", a == se->s_aliases ? " " : ",", *a);
}

int run_child(int (*f)(void *userdata), void *userdata)
{
        int status;

        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int r = f(userdata);
                fflush(stdout);
                fflush(stderr);
                _exit(r);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
