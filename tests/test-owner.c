/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests the owner-query library against real sockets held by forked children: attribution to the
 * right pid and command, the kernel filter, the cache's verification, access rules, network
 * namespaces, and a differential against ss over every listening socket of the machine. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "owner-internal.h"
#include "owner.h"
#include "util.h"

typedef struct Listener {
        pid_t pid;
        uint16_t port;
} Listener;

typedef struct ListenerSpec {
        int family, type;
        const char *address; /* NULL: the wildcard */
        uint16_t port;       /* 0: an ephemeral one */
        const char *comm;
        bool new_netns;
        uid_t uid; /* 0: stay root */
        bool dumpable;
        bool fork_holder;   /* hand the socket to a child and exit: the holder changes */
        const char *cgroup; /* a cgroup v2 directory to move into first */
        unsigned extra;     /* more sockets of the same kind, on ephemeral ports */
} ListenerSpec;

static void child_fail(int pipe_fd)
{
        uint16_t zero = 0;
        (void) !write(pipe_fd, &zero, sizeof(zero));
        _exit(1);
}

/* A child that holds one bound socket (listening for streams) and reports its port. */
static Listener spawn_listener(const ListenerSpec *spec)
{
        int p[2];
        Listener l = { .pid = -1 };

        if (pipe2(p, O_CLOEXEC) < 0)
                return l;
        pid_t pid = fork();
        if (pid < 0)
                return l;
        if (pid == 0) {
                close(p[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (spec->new_netns && unshare(CLONE_NEWNET) < 0)
                        child_fail(p[1]);
                if (spec->cgroup) {
                        char path[PATH_MAX];
                        snprintf(path, sizeof(path), "%s/cgroup.procs", spec->cgroup);
                        int cg = open(path, O_WRONLY | O_CLOEXEC);
                        if (cg < 0 || write(cg, "0\n", 2) != 2)
                                child_fail(p[1]);
                        close(cg);
                }
                int fd = socket(spec->family, spec->type, 0);
                int one = 1;
                if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                        child_fail(p[1]);
                union {
                        struct sockaddr sa;
                        struct sockaddr_in in;
                        struct sockaddr_in6 in6;
                } a = {};
                socklen_t alen;
                if (spec->family == AF_INET) {
                        a.in.sin_family = AF_INET;
                        a.in.sin_port = htons(spec->port);
                        if (spec->address)
                                inet_pton(AF_INET, spec->address, &a.in.sin_addr);
                        alen = sizeof(a.in);
                } else {
                        a.in6.sin6_family = AF_INET6;
                        a.in6.sin6_port = htons(spec->port);
                        if (spec->address)
                                inet_pton(AF_INET6, spec->address, &a.in6.sin6_addr);
                        alen = sizeof(a.in6);
                }
                if (bind(fd, &a.sa, alen) < 0)
                        child_fail(p[1]);
                if (spec->type == SOCK_STREAM && listen(fd, 16) < 0)
                        child_fail(p[1]);
                if (getsockname(fd, &a.sa, &alen) < 0)
                        child_fail(p[1]);
                for (unsigned i = 0; i < spec->extra; i++) {
                        struct sockaddr_storage any = { .ss_family = spec->family };
                        int more = socket(spec->family, spec->type, 0);
                        if (more < 0 || bind(more, (struct sockaddr *) &any, alen) < 0 ||
                                (spec->type == SOCK_STREAM && listen(more, 16) < 0))
                                child_fail(p[1]);
                }
                if (spec->uid != 0) {
                        if (setgroups(0, NULL) < 0 || setresgid(spec->uid, spec->uid, spec->uid) < 0 ||
                                setresuid(spec->uid, spec->uid, spec->uid) < 0)
                                child_fail(p[1]);
                        (void) prctl(PR_SET_DUMPABLE, spec->dumpable ? 1 : 0);
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL); /* a credential change cleared it */
                }
                if (spec->fork_holder) {
                        pid_t grandchild = fork();
                        if (grandchild < 0)
                                child_fail(p[1]);
                        if (grandchild > 0)
                                _exit(0); /* the socket lives on in the grandchild */
                        setsid();
                }
                (void) prctl(PR_SET_NAME, spec->comm);
                uint16_t port = ntohs(spec->family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
                pid_t me = getpid();
                if (write(p[1], &port, sizeof(port)) != sizeof(port) ||
                        write(p[1], &me, sizeof(me)) != sizeof(me))
                        _exit(1);
                close(p[1]);
                for (;;)
                        pause();
        }
        close(p[1]);
        pid_t holder = pid;
        if (read(p[0], &l.port, sizeof(l.port)) != sizeof(l.port) || l.port == 0 ||
                read(p[0], &holder, sizeof(holder)) != sizeof(holder)) {
                close(p[0]);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                l.pid = -1;
                return l;
        }
        close(p[0]);
        if (holder != pid)
                (void) waitpid(pid, NULL, 0); /* the intermediate child exited; the grandchild holds it */
        l.pid = holder;
        return l;
}

static void stop_listener(Listener *l)
{
        if (l->pid <= 0)
                return;
        (void) kill(l->pid, SIGKILL);
        /* A grandchild is not ours to reap; wait until it is gone. */
        if (waitpid(l->pid, NULL, 0) < 0)
                for (int i = 0; i < 2000 && kill(l->pid, 0) == 0; i++) {
                        char path[64], state = 0;
                        snprintf(path, sizeof(path), "/proc/%d/stat", (int) l->pid);
                        FILE *f = fopen(path, "re");
                        if (!f || fscanf(f, "%*d %*s %c", &state) != 1 || state == 'Z') {
                                if (f)
                                        fclose(f);
                                break;
                        }
                        fclose(f);
                        usleep(1000);
                }
        l->pid = -1;
}

static int setup_context(void **state)
{
        OwnerContext *c = NULL;
        int r = owner_context_new(&c);
        if (r < 0) {
                fprintf(stderr, "# owner_context_new: %s\n", strerror(-r));
                return -1;
        }
        *state = c;
        return 0;
}

static int teardown_context(void **state)
{
        owner_context_free(*state);
        return 0;
}

static int query_port(OwnerContext *c, OwnerProtocol p, uint16_t port, const OwnerNetns *ns,
        const OwnerCaller *caller, OwnerSocket **ret, size_t *ret_n)
{
        OwnerFilter f = { .port_min = port, .port_max = port, .protocols = 1U << p };
        return owner_query(c, &f, ns, caller, ret, ret_n);
}

static bool holds(const OwnerSocket *s, pid_t pid, const char *comm)
{
        for (size_t i = 0; i < s->n_processes; i++)
                if (s->processes[i].pid == pid && streq_ptr(s->processes[i].command, comm))
                        return true;
        return false;
}

/* ---- pure naming rules ---- */

static void test_cgroup_names(void **state)
{
        static const struct {
                const char *path, *unit, *container;
        } cases[] = {
                { "/system.slice/nginx.service", "nginx.service", NULL },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service",
                        NULL },
                { "/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope", NULL },
                { "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", NULL },
                { "/system.slice/"
                  "docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
                        "docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
                        "docker:0123456789ab" },
                { "/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL,
                        "docker:0123456789ab" },
                { "/machine.slice/"
                  "libpod-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope/container",
                        "libpod-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope",
                        "podman:fedcba987654" },
                { "/machine.slice/machine-web\\x2d01.scope/payload/system.slice/sshd.service",
                        "sshd.service", "machine:web-01" },
                { "/machine.slice/systemd-nspawn@db.service/payload", "systemd-nspawn@db.service",
                        "machine:db" },
                { "/lxc.payload.c1/system.slice/cron.service", "cron.service", "lxc:c1" },
                { "/lxc/c2/init.scope", "init.scope", "lxc:c2" },
                { "/kubepods.slice/kubepods-burstable.slice/"
                  "kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice/"
                  "cri-containerd-aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999.scope",
                        "cri-containerd-aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999."
                        "scope",
                        "kubepods:pod1a2b3c4d-0000-1111-2222-333344445555/aaaabbbbcccc" },
                { "/kubepods/besteffort/pod1a2b3c4d-0000-1111-2222-333344445555/"
                  "aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999",
                        NULL, "kubepods:pod1a2b3c4d-0000-1111-2222-333344445555/aaaabbbbcccc" },
                { "/", NULL, NULL },
                { "/init.scope", "init.scope", NULL },
                { "/system.slice", NULL, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *unit = NULL, *container = NULL;
                assert_int_equal(cgroup_path_names(cases[i].path, &unit, &container), 0);
                if (!streq_ptr(unit, cases[i].unit) || !streq_ptr(container, cases[i].container))
                        fail_msg("%s: unit '%s' container '%s', expected '%s' '%s'", cases[i].path,
                                unit ?: "(null)", container ?: "(null)", cases[i].unit ?: "(null)",
                                cases[i].container ?: "(null)");
        }
}

static void test_cgroup_proc_text(void **state)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(cgroup_path_from_proc_text("0::/system.slice/sshd.service\n", &a), 0);
        assert_string_equal(a, "/system.slice/sshd.service");
        /* Hybrid: the unified hierarchy has nothing, name=systemd knows. */
        assert_int_equal(cgroup_path_from_proc_text(
                                 "12:memory:/x\n1:name=systemd:/system.slice/cron.service\n0::/\n", &b),
                0);
        assert_string_equal(b, "/system.slice/cron.service");
        assert_int_equal(cgroup_path_from_proc_text("3:cpu:/\n", &c), -ENODATA);
}

static void test_socket_unit_listen(void **state)
{
        OwnerSocket s = { .protocol = OWNER_PROTOCOL_TCP, .family = AF_INET, .local_port = 22 };
        OwnerSocket s6 = { .protocol = OWNER_PROTOCOL_UDP, .family = AF_INET6, .local_port = 53 };

        inet_pton(AF_INET, "127.0.0.1", &s.local.in);
        inet_pton(AF_INET6, "::1", &s6.local.in6);
        assert_true(socket_unit_listen_matches("Stream", "22", &s));
        assert_true(socket_unit_listen_matches("Stream", "127.0.0.1:22", &s));
        assert_false(socket_unit_listen_matches("Stream", "127.0.0.2:22", &s));
        assert_false(socket_unit_listen_matches("Datagram", "22", &s));
        assert_false(socket_unit_listen_matches("Stream", "2222", &s));
        assert_false(socket_unit_listen_matches("Stream", "/run/foo.sock", &s));
        assert_true(socket_unit_listen_matches("Datagram", "[::1]:53", &s6));
        assert_true(socket_unit_listen_matches("Datagram", "[::1%lo]:53", &s6));
        assert_false(socket_unit_listen_matches("Datagram", "[::2]:53", &s6));
        assert_false(socket_unit_listen_matches("Datagram", "[::1]:54", &s6));
}

static void test_strings(void **state)
{
        assert_string_equal(owner_protocol_to_string(OWNER_PROTOCOL_UDP), "udp");
        assert_int_equal(owner_protocol_from_string("sctp"), OWNER_PROTOCOL_SCTP);
        assert_int_equal(owner_protocol_from_string("icmp"), _OWNER_PROTOCOL_INVALID);
        assert_string_equal(owner_state_to_string(OWNER_PROTOCOL_TCP, 10), "LISTEN");
        assert_string_equal(owner_state_to_string(OWNER_PROTOCOL_UDP, 7), "UNCONN");
}

static void check_safe(const char *in, size_t n, const char *want)
{
        char *out = NULL;

        assert_int_equal(owner_name_make_safe(in, n, &out), 0);
        assert_string_equal(out, want);
        free(out);
}

/* Names from processes and cgroups: valid UTF-8 passes, everything else is \xNN (issue 12). */
static void test_name_make_safe(void **state)
{
        check_safe("sshd", 4, "sshd");
        check_safe("ev\xffil", 5, "ev\\xffil");
        check_safe("\x1b[31mred\x07", 9, "\\x1b[31mred\\x07");
        check_safe("tab\there\n", 9, "tab\\x09here\\x0a");
        check_safe("del\x7f", 4, "del\\x7f");
        check_safe("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        /* C1 controls, CSI among them, are as dangerous on a terminal as ESC. */
        check_safe("\xc2\x9b" "2J", 4, "\\xc2\\x9b2J");
        /* Overlong, surrogate, past U+10FFFF, truncated. */
        check_safe("\xc0\xaf", 2, "\\xc0\\xaf");
        check_safe("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
        check_safe("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");
        check_safe("\xe2\x82", 2, "\\xe2\\x82");
        /* An embedded NUL is a byte like any other. */
        check_safe("a\0b", 3, "a\\x00b");
        check_safe("", 0, "");
}

/* ---- real sockets ---- */

static void check_listener(OwnerContext *c, int family, int type, const char *address, const char *comm)
{
        ListenerSpec spec = { .family = family, .type = type, .address = address, .comm = comm };
        OwnerProtocol p = type == SOCK_STREAM ? OWNER_PROTOCOL_TCP : OWNER_PROTOCOL_UDP;
        Listener l = spawn_listener(&spec);
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_true(l.pid > 0);
        /* With its address where it has one: on a shared host another process may hold the same
         * port number on another address (IPv4 and IPv6 ephemeral ports are drawn apart). */
        OwnerFilter f = { .port_min = l.port, .port_max = l.port, .protocols = 1U << p };
        if (address) {
                f.address_family = family;
                assert_int_equal(inet_pton(family, address, f.address.bytes), 1);
        }
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].protocol, p);
        assert_int_equal(s[0].family, family);
        assert_int_equal(s[0].local_port, l.port);
        assert_int_equal(s[0].uid, geteuid());
        assert_true(s[0].inode != 0);
        assert_string_equal(owner_state_to_string(p, s[0].state), type == SOCK_STREAM ? "LISTEN" : "UNCONN");
        assert_int_equal(s[0].n_processes, 1);
        assert_int_equal(s[0].processes[0].pid, l.pid);
        assert_string_equal(s[0].processes[0].command, comm);
        assert_true(s[0].processes[0].fd >= 0);
        assert_int_equal(s[0].processes[0].uid, geteuid());
        if (address) {
                OwnerAddress want = {};
                inet_pton(family, address, want.bytes);
                assert_memory_equal(s[0].local.bytes, want.bytes, family == AF_INET ? 4 : 16);
        }
        owner_sockets_free(s, n);

        /* The other protocol on the same port is somebody else's business, usually nobody's. */
        assert_int_equal(query_port(c, p == OWNER_PROTOCOL_TCP ? OWNER_PROTOCOL_UDP : OWNER_PROTOCOL_TCP,
                                 l.port, NULL, NULL, &s, &n),
                0);
        for (size_t i = 0; i < n; i++)
                assert_false(holds(&s[i], l.pid, comm));
        owner_sockets_free(s, n);
        stop_listener(&l);
}

static void test_tcp4(void **state)
{
        check_listener(*state, AF_INET, SOCK_STREAM, "127.0.0.1", "owner-tcp4");
}

static void test_tcp6(void **state)
{
        check_listener(*state, AF_INET6, SOCK_STREAM, "::1", "owner-tcp6");
}

static void test_udp4(void **state)
{
        check_listener(*state, AF_INET, SOCK_DGRAM, NULL, "owner-udp4");
}

static void test_udp6(void **state)
{
        check_listener(*state, AF_INET6, SOCK_DGRAM, "::1", "owner-udp6");
}

static void test_address_and_range(void **state)
{
        OwnerContext *c = *state;
        ListenerSpec spec = {
                .family = AF_INET, .type = SOCK_STREAM, .address = "127.0.0.1", .comm = "owner-addr"
        };
        Listener a = spawn_listener(&spec);
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_true(a.pid > 0);
        spec.port = a.port == 65535 ? a.port - 1 : a.port + 1;
        spec.comm = "owner-next";
        Listener b = spawn_listener(&spec);

        OwnerFilter f = { .port_min = a.port, .port_max = a.port, .address_family = AF_INET };
        inet_pton(AF_INET, "127.0.0.1", &f.address.in);
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], a.pid, "owner-addr"));
        owner_sockets_free(s, n);

        inet_pton(AF_INET, "127.0.0.2", &f.address.in);
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 0);
        owner_sockets_free(s, n);

        if (b.pid > 0) { /* the neighbouring port may be taken; then only the single-port case runs */
                OwnerFilter range = { .port_min = MIN(a.port, b.port),
                        .port_max = MAX(a.port, b.port),
                        .protocols = 1U << OWNER_PROTOCOL_TCP };
                assert_int_equal(owner_query(c, &range, NULL, NULL, &s, &n), 0);
                assert_int_equal(n, 2);
                assert_true(holds(&s[0], s[0].local_port == a.port ? a.pid : b.pid,
                        s[0].local_port == a.port ? "owner-addr" : "owner-next"));
                assert_true(holds(&s[1], s[1].local_port == a.port ? a.pid : b.pid,
                        s[1].local_port == a.port ? "owner-addr" : "owner-next"));
                owner_sockets_free(s, n);
        }
        stop_listener(&a);
        stop_listener(&b);
}

/* lsof -i's matching: a client's socket connected to the port is found by its remote end, with
 * the port and address of that end together; without either_end only the local end counts. */
static void test_either_end(void **state)
{
        OwnerContext *c = *state;
        ListenerSpec spec = {
                .family = AF_INET, .type = SOCK_STREAM, .address = "127.0.0.1", .comm = "owner-server"
        };
        Listener a = spawn_listener(&spec);
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_true(a.pid > 0);
        _cleanup_close_ int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(a.port) };
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        assert_true(client >= 0);
        assert_int_equal(connect(client, (struct sockaddr *) &sa, sizeof(sa)), 0);

        OwnerFilter f = { .port_min = a.port,
                .port_max = a.port,
                .protocols = 1U << OWNER_PROTOCOL_TCP,
                .established = true };
        size_t ours = 0;
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        for (size_t i = 0; i < n; i++)
                ours += s[i].local_port != a.port;
        assert_int_equal(ours, 0);
        owner_sockets_free(s, n);

        f.either_end = true;
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (s[i].local_port != a.port) {
                        assert_int_equal(s[i].remote_port, a.port);
                        assert_int_equal(s[i].n_processes, 1);
                        assert_int_equal(s[i].processes[0].pid, getpid());
                        ours++;
                }
        assert_int_equal(ours, 1);
        owner_sockets_free(s, n);

        /* The address belongs to the end whose port matched: 127.0.0.2 is neither. */
        f.address_family = AF_INET;
        inet_pton(AF_INET, "127.0.0.2", &f.address.in);
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 0);
        owner_sockets_free(s, n);
        inet_pton(AF_INET, "127.0.0.1", &f.address.in);
        assert_int_equal(owner_query(c, &f, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 3); /* the listener, the accepted socket (queued) and ours */
        owner_sockets_free(s, n);
        stop_listener(&a);
}

static void test_cache_hit(void **state)
{
        OwnerContext *c = *state;
        ListenerSpec spec = { .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-cache" };
        Listener l = spawn_listener(&spec);
        OwnerStats before, after;
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_true(l.pid > 0);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], l.pid, "owner-cache"));
        owner_sockets_free(s, n);

        owner_context_get_stats(c, &before);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, NULL, NULL, &s, &n), 0);
        owner_context_get_stats(c, &after);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], l.pid, "owner-cache"));
        assert_int_equal(after.cache_hits, before.cache_hits + 1);
        assert_int_equal(after.full_scans, before.full_scans);
        assert_int_equal(after.narrowed_scans, before.narrowed_scans);
        assert_int_equal(after.processes_scanned, before.processes_scanned);
        owner_sockets_free(s, n);
        stop_listener(&l);
}

/* owner_query() in its two halves, as a follower uses them: the sockets alone, then the processes
 * of those that have none, once (a socket named already is left as it is). */
static void test_list_then_resolve(void **state)
{
        OwnerContext *c = *state;
        ListenerSpec spec = { .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-halves" };
        Listener l = spawn_listener(&spec);
        OwnerFilter f = { .protocols = 1U << OWNER_PROTOCOL_TCP };
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_true(l.pid > 0);
        f.port_min = f.port_max = l.port;
        assert_int_equal(owner_list_sockets(c, &f, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 0);
        assert_true(s[0].inode != 0);
        assert_int_equal(owner_resolve_processes(c, s, n, NULL), 0);
        assert_int_equal(s[0].n_processes, 1);
        assert_true(holds(&s[0], l.pid, "owner-halves"));
        assert_int_equal(owner_resolve_processes(c, s, n, NULL), 0);
        assert_int_equal(s[0].n_processes, 1);
        owner_socket_done(&s[0]);
        assert_int_equal(s[0].n_processes, 0);
        assert_null(s[0].processes);
        owner_sockets_free(s, n);
        stop_listener(&l);
}

/* A process exits, another takes its port: the answer names the new one, never the dead one. */
static void test_exit_and_reuse(void **state)
{
        OwnerContext *c = *state;
        ListenerSpec spec = { .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-first" };
        Listener a = spawn_listener(&spec);
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_true(a.pid > 0);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, a.port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], a.pid, "owner-first"));
        owner_sockets_free(s, n);

        pid_t dead = a.pid;
        stop_listener(&a);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, a.port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 0);
        owner_sockets_free(s, n);

        spec.port = a.port;
        spec.comm = "owner-second";
        Listener b = spawn_listener(&spec);
        assert_true(b.pid > 0);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, b.port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 1);
        assert_int_equal(s[0].processes[0].pid, b.pid);
        assert_string_equal(s[0].processes[0].command, "owner-second");
        assert_true(s[0].processes[0].pid != dead);
        owner_sockets_free(s, n);
        stop_listener(&b);
}

/* The socket outlives the process the cache remembers: verification drops it and a scan finds the
 * process that holds it now. */
static void test_holder_changes(void **state)
{
        OwnerContext *c = *state;
        int p[2];
        OwnerSocket *s = NULL;
        size_t n = 0;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t first = fork();
        assert_true(first >= 0);
        if (first == 0) {
                /* Listen, report, wait for the go, then hand the socket to a child and exit. */
                close(p[0]);
                (void) prctl(PR_SET_NAME, "owner-parent");
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in a = { .sin_family = AF_INET };
                socklen_t alen = sizeof(a);
                if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
                        getsockname(fd, (struct sockaddr *) &a, &alen) < 0)
                        _exit(1);
                uint16_t port = ntohs(a.sin_port);
                if (write(p[1], &port, sizeof(port)) != sizeof(port))
                        _exit(1);
                kill(getpid(), SIGSTOP);
                pid_t child = fork();
                if (child == 0) {
                        (void) prctl(PR_SET_NAME, "owner-child");
                        pid_t me = getpid();
                        if (write(p[1], &me, sizeof(me)) != sizeof(me))
                                _exit(1);
                        for (;;)
                                pause();
                }
                _exit(child > 0 ? 0 : 1);
        }
        close(p[1]);
        uint16_t port = 0;
        assert_int_equal(read(p[0], &port, sizeof(port)), sizeof(port));
        int status;
        assert_int_equal(waitpid(first, &status, WUNTRACED), first);
        assert_true(WIFSTOPPED(status));

        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], first, "owner-parent"));
        owner_sockets_free(s, n);

        kill(first, SIGCONT);
        pid_t second = 0;
        assert_int_equal(read(p[0], &second, sizeof(second)), sizeof(second));
        close(p[0]);
        assert_int_equal(waitpid(first, &status, 0), first);

        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 1);
        assert_int_equal(s[0].processes[0].pid, second);
        assert_string_equal(s[0].processes[0].command, "owner-child");
        owner_sockets_free(s, n);

        Listener l = { .pid = second };
        stop_listener(&l);
}

static void test_unprivileged(void **state)
{
        OwnerContext *c = *state;
        OwnerSocket *s = NULL;
        size_t n = 0;

        if (geteuid() != 0)
                skip();

        ListenerSpec spec = { .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-root" };
        Listener root = spawn_listener(&spec);
        assert_true(root.pid > 0);
        OwnerCaller nobody = { .uid = 65534, .gid = 65534, .pid = getpid() };

        /* The row, as ss shows it to anyone; not root's process. */
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, root.port, NULL, &nobody, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].uid, 0);
        assert_int_equal(s[0].n_processes, 0);
        owner_sockets_free(s, n);
        stop_listener(&root);

        /* Its own dumpable process, yes; a non-dumpable one (as after setuid), no. */
        spec = (ListenerSpec){ .family = AF_INET6,
                .type = SOCK_STREAM,
                .comm = "owner-nobody",
                .uid = 65534,
                .dumpable = true };
        Listener mine = spawn_listener(&spec);
        spec.comm = "owner-secret";
        spec.dumpable = false;
        Listener secret = spawn_listener(&spec);
        assert_true(mine.pid > 0 && secret.pid > 0);

        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, mine.port, NULL, &nobody, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 1);
        assert_true(holds(&s[0], mine.pid, "owner-nobody"));
        assert_string_equal(s[0].processes[0].user, "nobody");
        owner_sockets_free(s, n);

        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, secret.port, NULL, &nobody, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 0);
        owner_sockets_free(s, n);

        /* Root sees both, the non-dumpable one's user too (its /proc/PID is root's, its
         * directory's owner still its effective uid, which is what root's query reads). */
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, secret.port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], secret.pid, "owner-secret"));
        assert_int_equal(s[0].processes[0].uid, 65534);
        assert_string_equal(s[0].processes[0].user, "nobody");
        owner_sockets_free(s, n);

        /* Namespaces other than one's own, or all of them: root only. */
        OwnerNetns all = { .kind = OWNER_NETNS_ALL };
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, mine.port, &all, &nobody, &s, &n), -EPERM);
        stop_listener(&mine);
        stop_listener(&secret);
}

static void test_netns(void **state)
{
        OwnerContext *c = *state;
        OwnerSocket *s = NULL;
        size_t n = 0;

        if (geteuid() != 0)
                skip();
        ListenerSpec spec = {
                .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-netns", .new_netns = true
        };
        Listener l = spawn_listener(&spec);
        if (l.pid <= 0) {
                print_message("# cannot create a network namespace, skipping\n");
                skip();
        }

        /* Not in ours (a socket of ours on the same port would be a different inode and pid). */
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, NULL, NULL, &s, &n), 0);
        for (size_t i = 0; i < n; i++)
                assert_false(holds(&s[i], l.pid, "owner-netns"));
        owner_sockets_free(s, n);

        OwnerNetns by_pid = { .kind = OWNER_NETNS_PID, .pid = l.pid };
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, &by_pid, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], l.pid, "owner-netns"));
        assert_null(s[0].netns);
        owner_sockets_free(s, n);

        OwnerNetns all = { .kind = OWNER_NETNS_ALL };
        bool found = false;
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, &all, NULL, &s, &n), 0);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(s[i].netns);
                if (holds(&s[i], l.pid, "owner-netns")) {
                        found = true;
                        assert_true(strncmp(s[i].netns, "net:[", 5) == 0 || strchr(s[i].netns, '/') == NULL);
                }
        }
        assert_true(found);
        owner_sockets_free(s, n);

        OwnerCaller nobody = { .uid = 65534, .gid = 65534, .pid = getpid() };
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, &by_pid, &nobody, &s, &n), -EPERM);
        OwnerNetns missing = { .kind = OWNER_NETNS_NAME, .name = "portd-test-does-not-exist" };
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, &missing, NULL, &s, &n), -ENOENT);
        stop_listener(&l);
}

/* A full listing of a process that holds many sockets reads its /proc files once, not
 * once per socket: the per-socket /proc work made `portctl who` on a busy host several times
 * slower than ss -p. */
static void test_one_read_per_process(void **state)
{
        OwnerContext *c = *state;
        OwnerStats before, after;
        OwnerSocket *s = NULL;
        size_t n = 0;

        if (geteuid() != 0)
                skip();
        ListenerSpec spec = {
                .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-many", .new_netns = true, .extra = 63
        };
        Listener l = spawn_listener(&spec);
        if (l.pid <= 0) {
                print_message("# cannot create a network namespace, skipping\n");
                skip();
        }
        OwnerNetns by_pid = { .kind = OWNER_NETNS_PID, .pid = l.pid };
        OwnerFilter every = {};
        /* The first query finds them (a scan); the second answers from the cache, verified. */
        assert_int_equal(owner_query(c, &every, &by_pid, NULL, &s, &n), 0);
        assert_int_equal(n, 64);
        owner_sockets_free(s, n);

        owner_context_get_stats(c, &before);
        assert_int_equal(owner_query(c, &every, &by_pid, NULL, &s, &n), 0);
        owner_context_get_stats(c, &after);
        assert_int_equal(n, 64);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(s[i].n_processes, 1);
                assert_true(holds(&s[i], l.pid, "owner-many"));
        }
        assert_int_equal(after.cache_hits - before.cache_hits, 64);
        assert_int_equal(after.processes_described - before.processes_described, 1);
        owner_sockets_free(s, n);
        stop_listener(&l);
}

/* The command comes from the same read of /proc/PID/stat as the start time, between the first
 * '(' and the last ')': a name with parentheses, a space and control characters in it reads as
 * /proc/PID/comm has it, made safe. */
static void test_awkward_command(void **state)
{
        OwnerContext *c = *state;
        OwnerSocket *s = NULL;
        size_t n = 0;

        ListenerSpec spec = { .family = AF_INET, .type = SOCK_STREAM, .comm = "a) (b\n\x1b) 1 2" };
        Listener l = spawn_listener(&spec);
        assert_true(l.pid > 0);
        /* A scan first, then the cache's verified answer: both name it. */
        for (int i = 0; i < 2; i++) {
                assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, NULL, NULL, &s, &n), 0);
                assert_int_equal(n, 1);
                assert_int_equal(s[0].n_processes, 1);
                assert_true(holds(&s[0], l.pid, "a) (b\\x0a\\x1b) 1 2"));
                owner_sockets_free(s, n);
        }
        stop_listener(&l);
}

/* Root's view of a process's uid is its /proc/PID's owner (process_euid()): the effective one,
 * and no answer at all once the process is gone.  The kernel shows the directory of a process that
 * was reaped as root's: a holder that exits in the middle of a query was shown as root's. */
static void test_euid_of_gone_process(void **state)
{
        int ready[2];
        char c;
        uid_t uid = 12345;

        (void) state;
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setresuid(65534, 65534, 65534) < 0)
                        _exit(1);
                (void) write(ready[1], "x", 1);
                pause();
                _exit(0);
        }
        safe_close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        safe_close(ready[0]);
        char path[32];
        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(process_euid(fd, &uid), 0);
        assert_int_equal(uid, 65534);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        uid = 12345;
        assert_true(process_euid(fd, &uid) < 0);
        assert_int_equal(uid, 12345);
        safe_close(fd);
}

/* A prefork server: the master was cached, then forked workers that hold the same socket. They
 * show up without a scan, through the master's children. */
static void test_forked_workers(void **state)
{
        OwnerContext *c = *state;
        int up[2], go[2];
        OwnerSocket *s = NULL;
        size_t n = 0;
        OwnerStats before, after;

        assert_int_equal(pipe2(up, O_CLOEXEC), 0);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        pid_t master = fork();
        assert_true(master >= 0);
        if (master == 0) {
                close(up[0]);
                close(go[1]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void) prctl(PR_SET_NAME, "owner-master");
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in a = { .sin_family = AF_INET };
                socklen_t alen = sizeof(a);
                char byte;
                if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
                        getsockname(fd, (struct sockaddr *) &a, &alen) < 0)
                        _exit(1);
                uint16_t port = ntohs(a.sin_port);
                if (write(up[1], &port, sizeof(port)) != sizeof(port) || read(go[0], &byte, 1) != 1)
                        _exit(1);
                for (int i = 0; i < 2; i++) {
                        pid_t w = fork();
                        if (w == 0) {
                                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                                (void) prctl(PR_SET_NAME, "owner-worker");
                                for (;;)
                                        pause();
                        }
                        if (w < 0 || write(up[1], &w, sizeof(w)) != sizeof(w))
                                _exit(1);
                }
                for (;;)
                        pause();
        }
        close(up[1]);
        close(go[0]);
        uint16_t port = 0;
        assert_int_equal(read(up[0], &port, sizeof(port)), sizeof(port));

        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, port, NULL, NULL, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 1);
        assert_true(holds(&s[0], master, "owner-master"));
        owner_sockets_free(s, n);

        assert_int_equal(write(go[1], "x", 1), 1);
        pid_t workers[2];
        assert_int_equal(read(up[0], &workers[0], sizeof(pid_t)), sizeof(pid_t));
        assert_int_equal(read(up[0], &workers[1], sizeof(pid_t)), sizeof(pid_t));
        /* The workers name themselves after the fork: wait until they have. */
        for (int i = 0; i < 2; i++)
                for (int k = 0; k < 1000; k++) {
                        char path[64], comm[32] = "";
                        snprintf(path, sizeof(path), "/proc/%d/comm", (int) workers[i]);
                        FILE *f = fopen(path, "re");
                        bool named = f && fgets(comm, sizeof(comm), f) && strneq(comm, "owner-worker", 12);
                        if (f)
                                fclose(f);
                        if (named)
                                break;
                        usleep(1000);
                }

        owner_context_get_stats(c, &before);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, port, NULL, NULL, &s, &n), 0);
        owner_context_get_stats(c, &after);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].n_processes, 3);
        assert_true(holds(&s[0], master, "owner-master"));
        assert_true(holds(&s[0], workers[0], "owner-worker"));
        assert_true(holds(&s[0], workers[1], "owner-worker"));
        assert_int_equal(after.processes_scanned, before.processes_scanned);
        owner_sockets_free(s, n);

        close(up[0]);
        close(go[1]);
        Listener l = { .pid = master };
        stop_listener(&l); /* the workers die with it (PR_SET_PDEATHSIG) */
}

/* Unprivileged callers pay for their own scans, and only so often. */
static void test_rate_limit(void **state)
{
        OwnerContext *c = *state;
        OwnerStats st;
        OwnerSocket *s = NULL;
        size_t n = 0;

        if (geteuid() != 0)
                skip();
        ListenerSpec spec = { .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-limited" };
        Listener l = spawn_listener(&spec);
        assert_true(l.pid > 0);
        OwnerCaller nobody = { .uid = 65534, .gid = 65534, .pid = getpid() };

        /* root's socket: nobody's scans never find a holder, so every query is a miss */
        for (int i = 0; i < 20; i++) {
                assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, NULL, &nobody, &s, &n), 0);
                assert_int_equal(n, 1);
                assert_int_equal(s[0].n_processes, 0);
                owner_sockets_free(s, n);
        }
        owner_context_get_stats(c, &st);
        assert_int_equal(st.full_scans, 0);
        assert_true(st.narrowed_scans <= 12); /* the burst, and a refill or two if the loop was slow */
        assert_true(st.scans_limited >= 8);
        stop_listener(&l);
}

/* A miss looks at the socket's cgroup first: a listener in a cgroup of its own is found without
 * scanning every process. */
static void test_cgroup_narrowing(void **state)
{
        OwnerContext *c = *state;
        static const char *const mounts[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        char dir[PATH_MAX] = "";
        OwnerStats before, after;
        OwnerSocket *s = NULL;
        size_t n = 0;
        struct statfs sfs;
        struct stat st;

        if (geteuid() != 0)
                skip();
        for (size_t i = 0; i < ELEMENTSOF(mounts) && !dir[0]; i++)
                if (statfs(mounts[i], &sfs) >= 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
                        snprintf(dir, sizeof(dir), "%s/portd-test-owner-%d", mounts[i], (int) getpid());
        if (!dir[0] || mkdir(dir, 0755) < 0 || stat(dir, &st) < 0) {
                print_message("# no writable cgroup v2 hierarchy, skipping\n");
                skip();
        }

        ListenerSpec spec = {
                .family = AF_INET, .type = SOCK_STREAM, .comm = "owner-cgroup", .cgroup = dir
        };
        Listener l = spawn_listener(&spec);
        assert_true(l.pid > 0);

        owner_context_get_stats(c, &before);
        assert_int_equal(query_port(c, OWNER_PROTOCOL_TCP, l.port, NULL, NULL, &s, &n), 0);
        owner_context_get_stats(c, &after);
        assert_int_equal(n, 1);
        assert_true(holds(&s[0], l.pid, "owner-cgroup"));
        uint64_t cgroup_id = s[0].cgroup_id;
        owner_sockets_free(s, n);
        stop_listener(&l);
        (void) rmdir(dir);

        if (cgroup_id != (uint64_t) st.st_ino) {
                /* Sockets carry the v2 cgroup only while no net_cls/net_prio v1 hierarchy claims them. */
                print_message("# the kernel reports cgroup %" PRIu64 " for the socket, not %" PRIu64
                              ", skipping\n",
                        cgroup_id, (uint64_t) st.st_ino);
                skip();
        }
        assert_int_equal(after.full_scans, before.full_scans);
        assert_int_equal(after.narrowed_scans, before.narrowed_scans + 1);
        assert_int_equal(after.processes_scanned - before.processes_scanned, 1);
}

/* ---- differential against ss ---- */

typedef struct Row {
        char key[160]; /* proto/address/port/inode */
        pid_t pids[8];
        size_t n_pids;
} Row;

static int compare_rows(const void *a, const void *b)
{
        return strcmp(((const Row *) a)->key, ((const Row *) b)->key);
}

static int compare_pid(const void *a, const void *b)
{
        return *(const pid_t *) a - *(const pid_t *) b;
}

static void row_finish(Row *r)
{
        qsort(r->pids, r->n_pids, sizeof(pid_t), compare_pid);
}

/* ss prints "*" for a wildcard address and "addr%iface" for a device-bound socket; the key keeps
 * only the address. */
static bool ss_address(const char *field, char *addr, size_t size, unsigned *port)
{
        const char *colon = strrchr(field, ':');
        if (!colon || sscanf(colon + 1, "%u", port) != 1)
                return false;
        size_t n = (size_t) (colon - field);
        if (n >= 2 && field[0] == '[' && field[n - 1] == ']') {
                field++;
                n -= 2;
        }
        if (n >= size)
                return false;
        memcpy(addr, field, n);
        addr[n] = 0;
        addr[strcspn(addr, "%")] = 0;
        return true;
}

static size_t ss_rows(Row **ret)
{
        _cleanup_free_ char *line = NULL;
        size_t size = 0, n = 0, allocated = 0;
        Row *rows = NULL;

        FILE *f = popen("ss -ltnupeH 2>/dev/null", "re");
        if (!f)
                return SIZE_MAX;
        while (getline(&line, &size, f) > 0) {
                char proto[16], local[128], addr[96];
                unsigned port;
                unsigned long long ino = 0;
                const char *p = strstr(line, "ino:");
                if (sscanf(line, "%15s %*s %*s %*s %127s", proto, local) != 2 || !p ||
                        sscanf(p, "ino:%llu", &ino) != 1 || !ss_address(local, addr, sizeof(addr), &port))
                        continue;
                if (GROW(rows, allocated, n + 1) < 0)
                        break;
                Row *r = &rows[n++];
                *r = (Row){};
                snprintf(r->key, sizeof(r->key), "%s/%s/%u/%llu", proto, addr, port, ino);
                for (const char *q = strstr(line, "pid="); q && r->n_pids < ELEMENTSOF(r->pids);
                        q = strstr(q + 4, "pid="))
                        r->pids[r->n_pids++] = (pid_t) atoi(q + 4);
                row_finish(r);
        }
        pclose(f);
        qsort(rows, n, sizeof(Row), compare_rows);
        *ret = rows;
        return n;
}

static const Row *find_row(const Row *rows, size_t n, const char *key)
{
        Row k = {};
        snprintf(k.key, sizeof(k.key), "%s", key);
        return bsearch(&k, rows, n, sizeof(Row), compare_rows);
}

static void test_differential_ss(void **state)
{
        OwnerContext *c = *state;

        if (system("ss -V >/dev/null 2>&1") != 0)
                skip();

        /* Listeners of our own so that every protocol and family takes part. */
        ListenerSpec specs[] = {
                { .family = AF_INET, .type = SOCK_STREAM, .comm = "diff-tcp4" },
                { .family = AF_INET6, .type = SOCK_STREAM, .address = "::1", .comm = "diff-tcp6" },
                { .family = AF_INET, .type = SOCK_DGRAM, .address = "127.0.0.1", .comm = "diff-udp4" },
                { .family = AF_INET6, .type = SOCK_DGRAM, .comm = "diff-udp6" },
        };
        Listener ls[ELEMENTSOF(specs)];
        for (size_t i = 0; i < ELEMENTSOF(specs); i++) {
                ls[i] = spawn_listener(&specs[i]);
                assert_true(ls[i].pid > 0);
        }

        /* Other programs open and close sockets meanwhile: compare what both ss runs agree on,
         * and retry a few times before calling a difference a failure. */
        bool ok = false;
        for (int attempt = 0; attempt < 5 && !ok; attempt++) {
                Row *before = NULL, *after = NULL, *ours = NULL;
                size_t n_before = ss_rows(&before), n_ours = 0, allocated = 0;
                OwnerSocket *s = NULL;
                size_t n = 0;
                OwnerFilter any = {};
                assert_int_equal(owner_query(c, &any, NULL, NULL, &s, &n), 0);
                size_t n_after = ss_rows(&after);
                assert_true(n_before != SIZE_MAX && n_after != SIZE_MAX);

                for (size_t i = 0; i < n; i++) {
                        char addr[INET6_ADDRSTRLEN];
                        if (s[i].protocol == OWNER_PROTOCOL_SCTP)
                                continue; /* ss -tu does not list them */
                        assert_non_null(inet_ntop(s[i].family, s[i].local.bytes, addr, sizeof(addr)));
                        assert_int_equal(GROW(ours, allocated, n_ours + 1), 0);
                        Row *r = &ours[n_ours++];
                        *r = (Row){};
                        /* ss prints "*" for the wildcard address of either family */
                        bool any_addr = streq(addr, "0.0.0.0") || streq(addr, "::");
                        snprintf(r->key, sizeof(r->key), "%s/%s/%u/%llu",
                                owner_protocol_to_string(s[i].protocol), addr, s[i].local_port,
                                (unsigned long long) s[i].inode);
                        if (any_addr && !find_row(before, n_before, r->key) &&
                                !find_row(after, n_after, r->key))
                                snprintf(r->key, sizeof(r->key), "%s/*/%u/%llu",
                                        owner_protocol_to_string(s[i].protocol), s[i].local_port,
                                        (unsigned long long) s[i].inode);
                        for (size_t j = 0; j < s[i].n_processes && r->n_pids < ELEMENTSOF(r->pids); j++)
                                r->pids[r->n_pids++] = s[i].processes[j].pid;
                        row_finish(r);
                }
                owner_sockets_free(s, n);
                qsort(ours, n_ours, sizeof(Row), compare_rows);

                ok = true;
                for (size_t i = 0; i < n_before && ok; i++) {
                        const Row *b = &before[i], *a = find_row(after, n_after, b->key);
                        if (!a)
                                continue; /* came and went */
                        const Row *o = find_row(ours, n_ours, b->key);
                        if (!o) {
                                print_message("# attempt %d: ss has %s, portd does not\n", attempt, b->key);
                                ok = false;
                        } else if (a->n_pids == b->n_pids &&
                                   memcmp(a->pids, b->pids, a->n_pids * sizeof(pid_t)) == 0 &&
                                   (o->n_pids != b->n_pids ||
                                           memcmp(o->pids, b->pids, b->n_pids * sizeof(pid_t)) != 0)) {
                                print_message("# attempt %d: %s: ss and portd differ on the processes\n",
                                        attempt, b->key);
                                ok = false;
                        }
                }
                for (size_t i = 0; i < n_ours && ok; i++)
                        if (!find_row(before, n_before, ours[i].key) &&
                                !find_row(after, n_after, ours[i].key)) {
                                print_message(
                                        "# attempt %d: portd has %s, ss does not\n", attempt, ours[i].key);
                                ok = false;
                        }
                for (size_t i = 0; i < ELEMENTSOF(ls) && ok; i++) {
                        char pat[32];
                        snprintf(pat, sizeof(pat), "/%u/", ls[i].port);
                        bool seen = false;
                        for (size_t j = 0; j < n_ours; j++)
                                seen = seen || (strstr(ours[j].key, pat) && ours[j].n_pids == 1 &&
                                                       ours[j].pids[0] == ls[i].pid);
                        if (!seen) {
                                print_message("# attempt %d: our listener on %u is missing\n", attempt,
                                        ls[i].port);
                                ok = false;
                        }
                }
                free(before);
                free(after);
                free(ours);
        }
        for (size_t i = 0; i < ELEMENTSOF(ls); i++)
                stop_listener(&ls[i]);
        assert_true(ok);
}

int main(void)
{
        struct CMUnitTest tests[] = {
                { "owner/names/cgroup", test_cgroup_names, NULL, NULL, NULL },
                { "owner/names/proc-cgroup", test_cgroup_proc_text, NULL, NULL, NULL },
                { "owner/names/socket-unit-listen", test_socket_unit_listen, NULL, NULL, NULL },
                { "owner/names/strings", test_strings, NULL, NULL, NULL },
                { "owner/names/make-safe", test_name_make_safe, NULL, NULL, NULL },
                { "owner/query/tcp4", test_tcp4, setup_context, teardown_context, NULL },
                { "owner/query/tcp6", test_tcp6, setup_context, teardown_context, NULL },
                { "owner/query/udp4", test_udp4, setup_context, teardown_context, NULL },
                { "owner/query/udp6", test_udp6, setup_context, teardown_context, NULL },
                { "owner/query/address-and-range", test_address_and_range, setup_context, teardown_context,
                        NULL },
                { "owner/query/either-end", test_either_end, setup_context, teardown_context, NULL },
                { "owner/cache/hit", test_cache_hit, setup_context, teardown_context, NULL },
                { "owner/query/list-then-resolve", test_list_then_resolve, setup_context, teardown_context,
                        NULL },
                { "owner/cache/exit-and-reuse", test_exit_and_reuse, setup_context, teardown_context, NULL },
                { "owner/cache/holder-changes", test_holder_changes, setup_context, teardown_context, NULL },
                { "owner/cache/cgroup-narrowing", test_cgroup_narrowing, setup_context, teardown_context,
                        NULL },
                { "owner/names/awkward-command", test_awkward_command, setup_context, teardown_context,
                        NULL },
                { "owner/names/euid-of-gone-process", test_euid_of_gone_process, NULL, NULL, NULL },
                { "owner/cache/forked-workers", test_forked_workers, setup_context, teardown_context, NULL },
                { "owner/cache/one-read-per-process", test_one_read_per_process, setup_context,
                        teardown_context, NULL },
                { "owner/access/rate-limit", test_rate_limit, setup_context, teardown_context, NULL },
                { "owner/access/unprivileged", test_unprivileged, setup_context, teardown_context, NULL },
                { "owner/netns/pid-and-all", test_netns, setup_context, teardown_context, NULL },
                { "owner/differential/ss", test_differential_ss, setup_context, teardown_context, NULL },
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("owner", tests, NULL, NULL);
}
