/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NSS module's snapshot handling against a scripted daemon: a good image answers every lookup
 * without a varlink call; a truncated, unsealed or mis-sized one, or one with a bit flipped in its
 * header, is refused and the varlink fallback answers the same; one with a bit flipped in its body
 * is mapped, and what lies on the flipped page is answered by the varlink fallback instead; a superseded image is replaced and its old mapping unmapped
 * once no reader holds it, also with 8 threads looking up through 50 swaps; a fork() while another
 * thread holds the locks leaves the child working. */

#include <arpa/inet.h>
#include <dlfcn.h>
#include <semaphore.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "catalog-json.h"
#include "catalog.h"
#include "nss-mapping.h"
#include "nss-portd.h"
#include "snapshot-build.h"
#include "snapshot.h"
#include "util.h"
#include "varlink-wire.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static const char *arg_data;

typedef struct Image {
        void *data;
        size_t size;
        Snapshot snapshot;
} Image;

typedef enum Corruption {
        CORRUPTION_NONE,
        CORRUPTION_TRUNCATED,
        CORRUPTION_BITFLIP,        /* in the body: only its page is refused */
        CORRUPTION_HEADER_BITFLIP, /* in the version: the whole image is refused */
        CORRUPTION_UNSEALED,
        CORRUPTION_WRONG_SIZE,
        CORRUPTION_NO_METHOD,
        CORRUPTION_SLOW, /* a good image, handed out after 300 ms */
        CORRUPTION_SLOW_LIST, /* no GetSnapshot, and List's first replies 50 ms apart */
} Corruption;

/* What the scripted daemon counted, in memory shared with the test. */
typedef struct Counters {
        unsigned get_snapshot, lookups, lists;
} Counters;

static Image images[2];
static Counters *counters;

static int image_from_text(const char *text, size_t size, uint64_t generation, Image *ret)
{
        ServicesFile *f = NULL;
        Catalog *c = NULL;
        int r;

        r = services_file_parse("/etc/services", CATALOG_LAYER_BASE, text, size, &f);
        if (r < 0)
                return r;
        r = catalog_build(&f, 1, &c);
        services_file_free(f);
        if (r < 0)
                return r;
        r = snapshot_build(c, generation, &ret->data, &ret->size);
        catalog_free(c);
        if (r < 0)
                return r;
        return snapshot_open(ret->data, ret->size, &ret->snapshot);
}

/* ---- the scripted daemon ---- */

typedef struct FakeDaemon {
        pid_t pid;
        int control; /* write 'S': supersede the served image and switch to the other one */
        int ack;
        char dir[64];
        char socket[96];
} FakeDaemon;

static int memfd_with(const Image *img, Corruption corruption, void **ret_rw)
{
        size_t size = corruption == CORRUPTION_TRUNCATED ? img->size - 8 : img->size;
        int fd = memfd_create("portd-test-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, size) < 0)
                abort();
        uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                abort();
        memcpy(p, img->data, size);
        if (corruption == CORRUPTION_BITFLIP)
                p[size / 2] ^= 0x10;
        if (corruption == CORRUPTION_HEADER_BITFLIP)
                p[offsetof(SnapshotHeader, version)] ^= 0x10;
        if (corruption != CORRUPTION_UNSEALED &&
                fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) < 0)
                abort();
        *ret_rw = p;
        return fd;
}

static void send_reply(
        int fd, struct json_object *parameters, bool continues, const char *error, int pass_fd)
{
        struct json_object *m;
        char *s;
        size_t n;

        if (varlink_message_build_reply(parameters, continues, error, &m) < 0 ||
                varlink_message_serialize(m, &s, &n) < 0)
                abort();
        json_object_put(m);

        struct iovec iov = { .iov_base = s, .iov_len = n };
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (pass_fd >= 0) {
                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        (void) sendmsg(fd, &mh, MSG_NOSIGNAL);
        free(s);
}

static void reply_service(int fd, const Snapshot *s, int r, const SnapshotEntry *e)
{
        if (r < 0) {
                send_reply(fd, NULL, false, "io.portd.Services.ServiceNotFound", -1);
                return;
        }
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "service", snapshot_entry_to_json(s, e));
        send_reply(fd, p, false, NULL, -1);
        json_object_put(p);
}

typedef struct Served {
        unsigned index; /* which image */
        int memfd;
        void *rw;
        size_t size;
} Served;

static void serve_call(int fd, struct json_object *m, Corruption corruption, Served *served)
{
        const Snapshot *s = &images[served->index].snapshot;
        struct json_object *v;
        VarlinkCall call;
        SnapshotEntry e;

        if (varlink_call_parse(m, &call) < 0)
                abort();
        const char *protocol = NULL;
        if (call.parameters && json_object_object_get_ex(call.parameters, "protocol", &v) && v)
                protocol = json_object_get_string(v);

        if (streq(call.method, "io.portd.Services.GetSnapshot")) {
                __atomic_fetch_add(&counters->get_snapshot, 1, __ATOMIC_SEQ_CST);
                if (corruption == CORRUPTION_SLOW) {
                        struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
                if (corruption == CORRUPTION_NO_METHOD || corruption == CORRUPTION_SLOW_LIST) {
                        send_reply(fd, NULL, false, VARLINK_ERROR_METHOD_NOT_FOUND, -1);
                        return;
                }
                struct json_object *p = json_object_new_object();
                size_t size = served->size + (corruption == CORRUPTION_WRONG_SIZE ? 8 : 0);
                json_object_object_add(p, "generation", json_object_new_int64(served->index));
                json_object_object_add(p, "size", json_object_new_int64(size));
                send_reply(fd, p, false, NULL, served->memfd);
                json_object_put(p);
        } else if (streq(call.method, "io.portd.Services.GetServiceByName")) {
                __atomic_fetch_add(&counters->lookups, 1, __ATOMIC_SEQ_CST);
                json_object_object_get_ex(call.parameters, "name", &v);
                reply_service(fd, s, snapshot_lookup_name(s, json_object_get_string(v), protocol, &e), &e);
        } else if (streq(call.method, "io.portd.Services.GetServiceByPort")) {
                __atomic_fetch_add(&counters->lookups, 1, __ATOMIC_SEQ_CST);
                json_object_object_get_ex(call.parameters, "port", &v);
                reply_service(
                        fd, s, snapshot_lookup_port(s, (uint16_t) json_object_get_int(v), protocol, &e), &e);
        } else if (streq(call.method, "io.portd.Services.List")) {
                __atomic_fetch_add(&counters->lists, 1, __ATOMIC_SEQ_CST);
                uint32_t n = snapshot_n_entries(s);
                for (uint32_t i = 0; i < n; i++) {
                        struct json_object *p = json_object_new_object();
                        if (snapshot_entry(s, i, &e) < 0)
                                abort();
                        json_object_object_add(p, "service", snapshot_entry_to_json(s, &e));
                        send_reply(fd, p, i + 1 < n, NULL, -1);
                        json_object_put(p);
                        if (corruption == CORRUPTION_SLOW_LIST && i < 10) {
                                struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
                                nanosleep(&ts, NULL);
                        }
                }
        } else
                send_reply(fd, NULL, false, VARLINK_ERROR_METHOD_NOT_FOUND, -1);
}

static void serve_connection(int fd, Corruption corruption, Served *served)
{
        VarlinkBuffer b;

        varlink_buffer_init(&b, 0);
        for (;;) {
                struct json_object *m;
                int r = varlink_buffer_next_object(&b, &m);
                if (r < 0)
                        break;
                if (r > 0) {
                        /* The module makes one call per connection; closing after it also means a
                         * copy of the socket that a fork() left in a child cannot stall us. */
                        serve_call(fd, m, corruption, served);
                        json_object_put(m);
                        break;
                }
                char *p;
                size_t n;
                if (varlink_buffer_prepare(&b, 4096, &p, &n) < 0)
                        break;
                ssize_t k = read(fd, p, n);
                if (k <= 0)
                        break;
                varlink_buffer_commit(&b, (size_t) k);
        }
        varlink_buffer_done(&b);
}

static void served_switch(Served *served, unsigned index, Corruption corruption, bool flag)
{
        if (served->rw && !flag) {
                munmap(served->rw, served->size);
                close(served->memfd);
        } else if (served->rw) {
                /* What the real daemon does: flip the word in its own writable mapping. */
                __atomic_store_n(&((SnapshotHeader *) served->rw)->superseded, 1, __ATOMIC_RELEASE);
                munmap(served->rw, served->size);
                close(served->memfd);
        }
        served->index = index;
        served->size = images[index].size - (corruption == CORRUPTION_TRUNCATED ? 8 : 0);
        served->memfd = memfd_with(&images[index], corruption, &served->rw);
}

static _Noreturn void fake_daemon_run(int listen_fd, int control, int ack, Corruption corruption)
{
        Served served = {};

        served_switch(&served, 0, corruption, true);
        for (;;) {
                struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN },
                        { .fd = control, .events = POLLIN } };
                if (poll(p, 2, -1) < 0)
                        continue;
                if (p[1].revents) {
                        char c;
                        if (read(control, &c, 1) != 1)
                                _exit(0);
                        if (c == 'T' || c == 'K') {
                                /* Stopped cleanly, the real daemon marks its image superseded
                                 * on the way out; a crash leaves it as it was. */
                                if (c == 'T')
                                        __atomic_store_n(&((SnapshotHeader *) served.rw)->superseded, 1,
                                                __ATOMIC_RELEASE);
                                (void) write(ack, "k", 1);
                                _exit(0);
                        }
                        /* 'U': another image without flagging the old one, as a daemon restarted after a
                         * crash hands out. */
                        served_switch(&served, served.index ^ 1, corruption, c != 'U');
                        (void) write(ack, "k", 1);
                        continue;
                }
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                serve_connection(fd, corruption, &served);
                close(fd);
        }
}

/* For the client side, which runs in a child and reports with its exit status. */
#define CHECK_RETURN(cond)                                                                                  \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
                        return -1;                                                                          \
                }                                                                                           \
        } while (0)

/* The daemon of the test in progress, stopped by the teardown if a failed assertion left it: a
 * copy, as the test's own lives on the stack of the test function the assertion left. */
static FakeDaemon *running, running_copy;
static void fake_daemon_stop(FakeDaemon *d);

static int stop_running(void **state)
{
        if (running)
                fake_daemon_stop(running);
        return 0;
}

static void fake_daemon_start(FakeDaemon *d, Corruption corruption)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int control[2], ack[2];

        strcpy(d->dir, "/tmp/test-nss-mapping-XXXXXX");
        assert_non_null(mkdtemp(d->dir));
        snprintf(d->socket, sizeof(d->socket), "%s/socket", d->dir);
        strcpy(sa.sun_path, d->socket);

        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 64), 0);
        assert_int_equal(pipe2(control, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ack, O_CLOEXEC), 0);

        *counters = (Counters){};
        d->pid = fork();
        running_copy = *d;
        running = &running_copy;
        assert_true(d->pid >= 0);
        if (d->pid == 0) {
                close(control[1]);
                close(ack[0]);
                fake_daemon_run(fd, control[0], ack[1], corruption);
        }
        close(fd);
        close(control[0]);
        close(ack[1]);
        d->control = control[1];
        d->ack = ack[0];
        running_copy = *d;
}

static void fake_daemon_supersede(FakeDaemon *d)
{
        char c;

        assert_int_equal(write(d->control, "S", 1), 1);
        assert_int_equal(read(d->ack, &c, 1), 1);
}

/* 'T' (a clean stop) or 'K' (a crash): returns once the daemon has exited. */
static int fake_daemon_end(const FakeDaemon *d, char how)
{
        char c;

        CHECK_RETURN(write(d->control, &how, 1) == 1);
        CHECK_RETURN(read(d->ack, &c, 1) == 1);
        /* The daemon holds the only writing end: end of file once it is gone. */
        CHECK_RETURN(read(d->ack, &c, 1) == 0);
        return 0;
}

static void fake_daemon_stop(FakeDaemon *d)
{
        running = NULL;
        close(d->control);
        close(d->ack);
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        unlink(d->socket);
        rmdir(d->dir);
}

/* ---- the client side, in a forked child so that each case starts with a fresh module ---- */

#define CHECK(cond)                                                                                         \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
                        return -1;                                                                          \
                }                                                                                           \
        } while (0)

/* Compares a module answer with the image's own. */
static int same_answer(
        enum nss_status st, const struct servent *se, const Snapshot *s, int r, const SnapshotEntry *e)
{
        if (r < 0) {
                CHECK(st == NSS_STATUS_NOTFOUND);
                return 0;
        }
        CHECK(st == NSS_STATUS_SUCCESS);
        CHECK(streq(se->s_name, e->name));
        CHECK(streq(se->s_proto, e->protocol));
        CHECK(ntohs((uint16_t) se->s_port) == e->port);
        for (uint32_t i = 0; i < e->n_aliases; i++)
                CHECK(se->s_aliases[i] && streq(se->s_aliases[i], snapshot_entry_alias(s, e, i)));
        CHECK(!se->s_aliases[e->n_aliases]);
        return 0;
}

static const char *const protocols[] = { NULL, "tcp", "udp", "" };

/* Every name, alias and port of the image under each protocol, plus misses and the whole
 * enumeration, answered by the module and compared with the image. */
static int check_all_answers(const Snapshot *s, bool with_enumeration)
{
        char buffer[1024];
        struct servent se;
        SnapshotEntry e, want;
        int err, r;

        for (uint32_t i = 0; i < snapshot_n_entries(s); i++) {
                CHECK(snapshot_entry(s, i, &e) == 0);
                for (size_t p = 0; p < ELEMENTSOF(protocols); p++) {
                        for (uint32_t a = 0; a <= e.n_aliases; a++) {
                                const char *name = a == 0 ? e.name : snapshot_entry_alias(s, &e, a - 1);
                                r = snapshot_lookup_name(s, name, protocols[p], &want);
                                if (same_answer(_nss_portd_getservbyname_r(name, protocols[p], &se, buffer,
                                                        sizeof(buffer), &err),
                                            &se, s, r, &want) < 0)
                                        return -1;
                        }
                        r = snapshot_lookup_port(s, e.port, protocols[p], &want);
                        if (same_answer(_nss_portd_getservbyport_r(htons(e.port), protocols[p], &se, buffer,
                                                sizeof(buffer), &err),
                                    &se, s, r, &want) < 0)
                                return -1;
                }
        }
        CHECK(_nss_portd_getservbyname_r("no-such-service-anywhere", NULL, &se, buffer, sizeof(buffer),
                      &err) == NSS_STATUS_NOTFOUND);
        CHECK(err == ENOENT);
        CHECK(_nss_portd_getservbyport_r(0x10000, NULL, &se, buffer, sizeof(buffer), &err) ==
                NSS_STATUS_NOTFOUND);
        CHECK(_nss_portd_getservbyport_r(-1, NULL, &se, buffer, sizeof(buffer), &err) ==
                NSS_STATUS_NOTFOUND);

        if (!with_enumeration)
                return 0;
        _nss_portd_setservent(0);
        for (uint32_t i = 0;; i++) {
                /* A buffer too small first: the same entry must come back once there is room. */
                enum nss_status st = _nss_portd_getservent_r(&se, buffer, 8, &err);
                if (i < snapshot_n_entries(s))
                        CHECK(st == NSS_STATUS_TRYAGAIN && err == ERANGE);
                st = _nss_portd_getservent_r(&se, buffer, sizeof(buffer), &err);
                r = snapshot_entry(s, i, &want);
                if (same_answer(st, &se, s, r, &want) < 0)
                        return -1;
                if (r < 0)
                        break;
        }
        _nss_portd_endservent();
        return 0;
}

/* glibc passes errno itself as errnop, and sets errno from the status afterwards; the module's
 * part is to leave it alone on success and to set it on failure. */
static int check_errno(void)
{
        char buffer[1024];
        struct servent se;

        errno = EL2HLT;
        CHECK(_nss_portd_getservbyname_r("http", "tcp", &se, buffer, sizeof(buffer), &errno) ==
                NSS_STATUS_SUCCESS);
        CHECK(errno == EL2HLT);
        CHECK(_nss_portd_getservbyport_r(htons(80), NULL, &se, buffer, sizeof(buffer), &errno) ==
                NSS_STATUS_SUCCESS);
        CHECK(errno == EL2HLT);
        CHECK(_nss_portd_getservbyname_r("no-such-service", NULL, &se, buffer, sizeof(buffer), &errno) ==
                NSS_STATUS_NOTFOUND);
        CHECK(errno == ENOENT);
        CHECK(_nss_portd_getservbyname_r("http", "tcp", &se, buffer, 4, &errno) == NSS_STATUS_TRYAGAIN);
        CHECK(errno == ERANGE);
        errno = EL2HLT;
        CHECK(_nss_portd_setservent(0) == NSS_STATUS_SUCCESS);
        CHECK(_nss_portd_getservent_r(&se, buffer, sizeof(buffer), &errno) == NSS_STATUS_SUCCESS);
        CHECK(_nss_portd_endservent() == NSS_STATUS_SUCCESS);
        CHECK(errno == EL2HLT);
        return 0;
}

static unsigned count_test_mappings(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/maps", "re");
        char line[512];
        unsigned n = 0;

        while (f && fgets(line, sizeof(line), f))
                if (strstr(line, "memfd:portd-test-snapshot"))
                        n++;
        return n;
}

static int run_in_child(const FakeDaemon *d, int (*f)(const FakeDaemon *d))
{
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("PORTD_SOCKET", d->socket, 1);
                _exit(f(d) < 0 ? 1 : 0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int client_snapshot_only(const FakeDaemon *d)
{
        CHECK(check_all_answers(&images[0].snapshot, true) == 0);
        CHECK(check_errno() == 0);
        CHECK(count_test_mappings() == 1);
        return 0;
}

static void test_mapping_good_image(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_snapshot_only), 0);
        /* One image fetched (again only by the 5 s re-check of a slow run), every answer read
         * from it: not a single varlink lookup. */
        assert_true(counters->get_snapshot >= 1 && counters->get_snapshot <= 3);
        assert_int_equal(counters->lookups, 0);
        assert_int_equal(counters->lists, 0);
        fake_daemon_stop(&d);
}

static int client_fallback(const FakeDaemon *d)
{
        CHECK(check_all_answers(&images[0].snapshot, true) == 0);
        CHECK(check_errno() == 0);
        CHECK(count_test_mappings() == 0);
        return 0;
}

static void check_refused(Corruption corruption)
{
        FakeDaemon d;

        fake_daemon_start(&d, corruption);
        assert_int_equal(run_in_child(&d, client_fallback), 0);
        /* Refused, and then the back-off keeps lookups on varlink instead of asking for an image
         * each time (once a second at most: slow runs, under valgrind, ask a few times). */
        assert_true(counters->get_snapshot >= 1);
        assert_true(counters->lookups > 100 * counters->get_snapshot);
        assert_int_equal(counters->lists, 2); /* check_all_answers() and check_errno() */
        fake_daemon_stop(&d);
}

static void test_mapping_truncated(void **state)
{
        check_refused(CORRUPTION_TRUNCATED);
}

static int client_bitflip(const FakeDaemon *d)
{
        CHECK(check_all_answers(&images[0].snapshot, true) == 0);
        CHECK(check_errno() == 0);
        CHECK(count_test_mappings() == 1);
        return 0;
}

/* The image is opened by its header; the page with the flipped bit is refused when a lookup
 * first reads it, and the lookup asks the daemon.  An enumeration checks every page first, and
 * reads the daemon's List when one is wrong. */
static void test_mapping_bitflip(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_BITFLIP);
        assert_int_equal(run_in_child(&d, client_bitflip), 0);
        assert_true(counters->get_snapshot >= 1 && counters->get_snapshot <= 3);
        assert_true(counters->lookups >= 1);
        assert_int_equal(counters->lists, 2); /* check_all_answers() and check_errno() */
        fake_daemon_stop(&d);
}

static void test_mapping_header_bitflip(void **state)
{
        check_refused(CORRUPTION_HEADER_BITFLIP);
}

static void test_mapping_unsealed(void **state)
{
        check_refused(CORRUPTION_UNSEALED);
}

static void test_mapping_wrong_size(void **state)
{
        check_refused(CORRUPTION_WRONG_SIZE);
}

static void test_mapping_no_method(void **state)
{
        check_refused(CORRUPTION_NO_METHOD);
}

/* Every name and port of want, looked up in the installed image: the entry want has, or
 * -EBADMSG. */
static void check_right_or_doubt(const Snapshot *want)
{
        SnapshotMapping *m;
        SnapshotEntry e, right, got;
        int r;

        assert_int_equal(mapping_acquire(&m), 0);
        assert_non_null(m);
        const Snapshot *s = mapping_snapshot(m);
        for (uint32_t i = 0; i < snapshot_n_entries(want); i++) {
                assert_int_equal(snapshot_entry(want, i, &e), 0);
                assert_int_equal(snapshot_lookup_name(want, e.name, e.protocol, &right), 0);
                r = snapshot_lookup_name(s, e.name, e.protocol, &got);
                if (r == 0)
                        assert_true(got.index == right.index && got.port == right.port &&
                                    streq(got.name, right.name) && streq(got.protocol, right.protocol));
                else
                        assert_int_equal(r, -EBADMSG);
                assert_int_equal(snapshot_lookup_port(want, e.port, e.protocol, &right), 0);
                r = snapshot_lookup_port(s, e.port, e.protocol, &got);
                if (r == 0)
                        assert_true(got.index == right.index && got.port == right.port &&
                                    streq(got.name, right.name) && streq(got.protocol, right.protocol));
                else
                        assert_int_equal(r, -EBADMSG);
        }
        mapping_unref(m);
}

static void test_mapping_install_rejects(void **state)
{
        const Image *img = &images[0];
        void *rw;

        /* Straight into mapping_install_fd(): every bit of the header and the page checksum table
         * flipped one at a time, and every truncation of the header, are refused; a bit of the
         * body (a sample of them) makes only its page refused, so every lookup answers right or
         * -EBADMSG (then the module asks the daemon), never wrong. */
        const size_t body = snapshot_body_offset(img->size);
        for (size_t bit = 0, n = 0; bit < img->size * 8;
                bit += bit < body * 8 ? 1 : 61) {
                int fd = memfd_create("portd-test-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                assert_true(fd >= 0);
                assert_int_equal(ftruncate(fd, img->size), 0);
                uint8_t *p = mmap(NULL, img->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                assert_true(p != MAP_FAILED);
                memcpy(p, img->data, img->size);
                p[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                munmap(p, img->size);
                assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), 0);
                int r = mapping_install_fd(fd, img->size);
                /* The superseded word is outside the checksum by design: flipping it is legal. */
                if (bit / 8 >= offsetof(SnapshotHeader, superseded) &&
                        bit / 8 < offsetof(SnapshotHeader, superseded) + sizeof(uint32_t)) {
                        assert_int_equal(r, 0);
                        mapping_drop();
                } else if (bit / 8 < body)
                        assert_int_equal(r, -EBADMSG);
                else {
                        assert_int_equal(r, 0);
                        if (n++ % 8 == 0)
                                check_right_or_doubt(&img->snapshot);
                        mapping_drop();
                }
                close(fd);
        }
        for (size_t size = 0; size < sizeof(SnapshotHeader) + 64; size++) {
                int fd = memfd_with(img, CORRUPTION_UNSEALED, &rw);
                munmap(rw, img->size);
                assert_int_equal(ftruncate(fd, size), 0);
                assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), 0);
                assert_int_equal(mapping_install_fd(fd, size), -EBADMSG);
                close(fd);
        }
        /* Not a memfd at all. */
        int fd = open(arg_data, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(mapping_install_fd(fd, lseek(fd, 0, SEEK_END)), -EBADMSG);
        close(fd);
        assert_int_equal(count_test_mappings(), 0);

        /* And the good one is taken, then unmapped once dropped. */
        fd = memfd_with(img, CORRUPTION_NONE, &rw);
        munmap(rw, img->size);
        assert_int_equal(mapping_install_fd(fd, img->size), 0);
        close(fd);
        assert_int_equal(count_test_mappings(), 1);
        mapping_drop();
        assert_int_equal(count_test_mappings(), 0);
}

static int client_supersede(const FakeDaemon *d)
{
        FakeDaemon *dd = (FakeDaemon *) d;

        for (unsigned round = 0; round < 6; round++) {
                CHECK(check_all_answers(&images[round % 2].snapshot, round == 0) == 0);
                /* The replaced image is unmapped as soon as it is replaced: nothing pins it. */
                CHECK(count_test_mappings() == 1);
                fake_daemon_supersede(dd);
        }
        return 0;
}

static void test_mapping_supersede(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_supersede), 0);
        /* One fetch per generation (more only if the run outlived the 5 s re-check). */
        assert_true(counters->get_snapshot >= 6);
        assert_int_equal(counters->lookups, 0);
        fake_daemon_stop(&d);
}

static int client_enumeration_pins(const FakeDaemon *d)
{
        char buffer[1024];
        struct servent se;
        SnapshotEntry want;
        int err;
        const Snapshot *old = &images[0].snapshot;

        /* A reload in the middle of getservent: the enumeration finishes on the image it began. */
        _nss_portd_setservent(0);
        for (uint32_t i = 0;; i++) {
                if (i == 3) {
                        fake_daemon_supersede((FakeDaemon *) d);
                        CHECK(check_all_answers(&images[1].snapshot, false) == 0);
                        CHECK(count_test_mappings() == 2);
                }
                enum nss_status st = _nss_portd_getservent_r(&se, buffer, sizeof(buffer), &err);
                int r = snapshot_entry(old, i, &want);
                if (same_answer(st, &se, old, r, &want) < 0)
                        return -1;
                if (r < 0)
                        break;
        }
        _nss_portd_endservent();
        CHECK(count_test_mappings() == 1);
        return 0;
}

static void test_mapping_enumeration_pins(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_enumeration_pins), 0);
        fake_daemon_stop(&d);
}

/* ---- the daemon going away ---- */

static enum nss_status lookup_http(struct servent *se, char *buffer, size_t size, int *err)
{
        return _nss_portd_getservbyname_r("http", "tcp", se, buffer, size, err);
}

/* ---- each thread's pin ---- */

static pthread_barrier_t pin_barrier;

static bool lookup_ok(void)
{
        struct servent se;
        char buffer[1024];
        int err;

        return lookup_http(&se, buffer, sizeof(buffer), &err) == NSS_STATUS_SUCCESS;
}

/* Looks up, then waits at the barrier before looking up again and again after it, as told. */
static void *looking_up_thread(void *userdata)
{
        unsigned lookups = *(unsigned *) userdata;

        for (unsigned i = 0; i < lookups; i++) {
                if (!lookup_ok())
                        return (void *) 1;
                pthread_barrier_wait(&pin_barrier);
                pthread_barrier_wait(&pin_barrier);
        }
        return NULL;
}

static int forked_child_drops_pins(const FakeDaemon *d)
{
        /* The parent's other thread is not in this process: its pin went at the fork, and the
         * replaced image it held with it. */
        CHECK(count_test_mappings() == 1);
        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 1);
        return 0;
}

static int client_thread_pins(const FakeDaemon *d)
{
        pthread_t t;
        unsigned two = 2, one = 1;
        void *ret;

        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 1);

        /* A thread keeps its reader on the image of its last lookup: replaced, that image stays
         * mapped until the thread's next lookup... */
        CHECK(pthread_barrier_init(&pin_barrier, NULL, 2) == 0);
        CHECK(pthread_create(&t, NULL, looking_up_thread, &two) == 0);
        pthread_barrier_wait(&pin_barrier);
        fake_daemon_supersede((FakeDaemon *) d);
        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 2);
        pthread_barrier_wait(&pin_barrier);
        pthread_barrier_wait(&pin_barrier);
        CHECK(count_test_mappings() == 1);
        pthread_barrier_wait(&pin_barrier);
        /* ... or its exit. */
        CHECK(pthread_join(t, &ret) == 0 && ret == NULL);
        fake_daemon_supersede((FakeDaemon *) d);
        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 1);

        /* A forked child lets go of the pins of the threads it does not have. */
        CHECK(pthread_create(&t, NULL, looking_up_thread, &one) == 0);
        pthread_barrier_wait(&pin_barrier);
        fake_daemon_supersede((FakeDaemon *) d);
        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 2);
        CHECK(run_in_child(d, forked_child_drops_pins) == 0);
        pthread_barrier_wait(&pin_barrier);
        CHECK(pthread_join(t, &ret) == 0 && ret == NULL);
        pthread_barrier_destroy(&pin_barrier);
        return 0;
}

/* A process with one thread keeps its pin without a thread-specific key, and sets up no key until
 * a second thread looks up; the solo pin's reader then goes, and the image it held with it. */
static int client_solo_pin(const FakeDaemon *d)
{
        pthread_key_t before, after, later;
        pthread_t t;
        unsigned one = 1;
        void *ret;

        CHECK(pthread_key_create(&before, NULL) == 0);
        CHECK(lookup_ok());
        fake_daemon_supersede((FakeDaemon *) d);
        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 1);
        CHECK(pthread_key_create(&after, NULL) == 0);
        CHECK(after == before + 1);

        CHECK(pthread_barrier_init(&pin_barrier, NULL, 2) == 0);
        CHECK(pthread_create(&t, NULL, looking_up_thread, &one) == 0);
        pthread_barrier_wait(&pin_barrier);
        CHECK(pthread_key_create(&later, NULL) == 0);
        CHECK(later == after + 2);
        /* The thread holds the image solo held too; ours moves on to the next. */
        fake_daemon_supersede((FakeDaemon *) d);
        CHECK(lookup_ok());
        CHECK(count_test_mappings() == 2);
        pthread_barrier_wait(&pin_barrier);
        CHECK(pthread_join(t, &ret) == 0 && ret == NULL);
        /* Had solo kept its reader, the thread's exit would not have unmapped it. */
        CHECK(count_test_mappings() == 1);
        pthread_barrier_destroy(&pin_barrier);
        return 0;
}

static void test_mapping_solo_pin(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_solo_pin), 0);
        fake_daemon_stop(&d);
}

static void test_mapping_thread_pins(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_thread_pins), 0);
        fake_daemon_stop(&d);
}

static int client_daemon_stopped(const FakeDaemon *d)
{
        char buffer[1024];
        struct servent se;
        int err;

        CHECK(check_all_answers(&images[0].snapshot, false) == 0);
        CHECK(count_test_mappings() == 1);
        CHECK(fake_daemon_end(d, 'T') == 0);
        /* Nothing else changed, but the image's daemon withdrew it: UNAVAIL, so the next source
         * of the nsswitch line answers, now and on later calls (the varlink fallback within the
         * back-off, a new GetSnapshot after it), and the image is unmapped. */
        for (unsigned i = 0; i < 3; i++) {
                err = 0;
                CHECK(lookup_http(&se, buffer, sizeof(buffer), &err) == NSS_STATUS_UNAVAIL);
                /* No socket, or refused; or reset, when the connection was queued just before
                 * the daemon (slow under valgrind) closed its listening socket. */
                CHECK(nss_client_error_is_unreachable(-err));
                CHECK(count_test_mappings() == 0);
                if (i == 1) {
                        struct timespec ts = { .tv_sec = 1, .tv_nsec = 100 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
        }
        CHECK(_nss_portd_getservent_r(&se, buffer, sizeof(buffer), &err) == NSS_STATUS_UNAVAIL);
        return 0;
}

static void test_mapping_daemon_stopped(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_daemon_stopped), 0);
        fake_daemon_stop(&d);
}

static int client_daemon_crashed(const FakeDaemon *d)
{
        char buffer[1024];
        struct servent se;
        int err;

        CHECK(lookup_http(&se, buffer, sizeof(buffer), &err) == NSS_STATUS_SUCCESS);
        CHECK(fake_daemon_end(d, 'K') == 0);
        /* A crash withdraws nothing: the image keeps answering, also past its 5 s re-check, which
         * finds no socket to ask. */
        CHECK(check_all_answers(&images[0].snapshot, true) == 0);
        struct timespec ts = { .tv_sec = 5, .tv_nsec = 300 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        for (unsigned i = 0; i < 3; i++) {
                CHECK(lookup_http(&se, buffer, sizeof(buffer), &err) == NSS_STATUS_SUCCESS);
                CHECK(ntohs((uint16_t) se.s_port) == 80);
        }
        CHECK(count_test_mappings() == 1);
        return 0;
}

static void test_mapping_daemon_crashed(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_daemon_crashed), 0);
        /* Only the first fetch: the re-check found no daemon to hand out another. */
        assert_int_equal(counters->get_snapshot, 1);
        fake_daemon_stop(&d);
}

/* A memfd image has no one to flag it after its daemon crashed: the one a restarted daemon hands
 * out is fetched once the old one is 5 s old, not before. */
static int client_memfd_recheck(const FakeDaemon *d)
{
        struct servent se;
        char buffer[1024], c;
        int err;

        CHECK(lookup_ok());
        CHECK(write(d->control, "U", 1) == 1 && read(d->ack, &c, 1) == 1);
        CHECK(_nss_portd_getservbyname_r("swapped-in", "tcp", &se, buffer, sizeof(buffer), &err) ==
                NSS_STATUS_NOTFOUND);
        struct timespec ts = { .tv_sec = 5, .tv_nsec = 300 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        CHECK(_nss_portd_getservbyname_r("swapped-in", "tcp", &se, buffer, sizeof(buffer), &err) ==
                NSS_STATUS_SUCCESS);
        CHECK(count_test_mappings() == 1);
        return 0;
}

static void test_mapping_memfd_recheck(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_memfd_recheck), 0);
        assert_int_equal(counters->get_snapshot, 2);
        fake_daemon_stop(&d);
}

/* ---- signals during a long List ---- */

static volatile uint64_t alarm_handled_usec;

static void on_alarm(int sig)
{
        alarm_handled_usec = now_usec(CLOCK_MONOTONIC);
}

static int client_signals_during_list(const FakeDaemon *d)
{
        struct sigaction sa = { .sa_handler = on_alarm };
        struct itimerval once = { .it_value = { .tv_usec = 100 * 1000 } };
        char buffer[1024];
        struct servent se;
        SnapshotEntry first;
        int err;

        CHECK(snapshot_entry(&images[0].snapshot, 0, &first) == 0);
        CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
        /* The first getservent_r reads the whole List, its first replies slowly (10 x 50 ms): a
         * signal sent 100 ms in is handled between two replies, not held back until the end. */
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        CHECK(setitimer(ITIMER_REAL, &once, NULL) == 0);
        enum nss_status st = _nss_portd_getservent_r(&se, buffer, sizeof(buffer), &err);
        uint64_t end = now_usec(CLOCK_MONOTONIC);
        CHECK(st == NSS_STATUS_SUCCESS && streq(se.s_name, first.name));
        _nss_portd_endservent();
        CHECK(alarm_handled_usec > 0);
        fprintf(stderr, "# SIGALRM handled after %llu ms, the List took %llu ms\n",
                (unsigned long long) (alarm_handled_usec - start) / 1000,
                (unsigned long long) (end - start) / 1000);
        CHECK(end - start >= 450 * 1000);
        CHECK(alarm_handled_usec + 200 * 1000 < end);
        return 0;
}

static void test_mapping_signals_during_list(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_SLOW_LIST);
        assert_int_equal(run_in_child(&d, client_signals_during_list), 0);
        assert_int_equal(counters->lists, 1);
        fake_daemon_stop(&d);
}

/* ---- fork while another thread holds the locks ---- */

static void *enumerate_thread(void *userdata)
{
        char buffer[1024];
        struct servent se;
        int err;

        /* The first getservent_r of the process: it holds the enumeration lock and the refresh
         * lock for as long as the (slow) daemon takes to hand out its image. */
        _nss_portd_setservent(0);
        (void) _nss_portd_getservent_r(&se, buffer, sizeof(buffer), &err);
        return NULL;
}

static int forked_child(void)
{
        const Snapshot *s = &images[0].snapshot;
        char buffer[1024];
        struct servent se;
        SnapshotEntry first;
        int err;

        /* A lock the parent's thread held at fork() would hang this: SIGALRM ends it instead. */
        alarm(20);
        CHECK(snapshot_entry(s, 0, &first) == 0);
        CHECK(_nss_portd_getservent_r(&se, buffer, sizeof(buffer), &err) == NSS_STATUS_SUCCESS);
        CHECK(streq(se.s_name, first.name));
        CHECK(_nss_portd_getservbyname_r(first.name, first.protocol, &se, buffer, sizeof(buffer), &err) ==
                NSS_STATUS_SUCCESS);
        /* The child fetched an image of its own: its refresh lock was free. */
        CHECK(count_test_mappings() == 1);
        return 0;
}

static int client_fork(const FakeDaemon *d)
{
        pthread_t t;
        int p[2];
        char verdict = 0;

        CHECK(pipe2(p, O_CLOEXEC) == 0);
        CHECK(pthread_create(&t, NULL, enumerate_thread, NULL) == 0);
        struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                /* The verdict goes through the pipe, not the exit status: the child inherits the
                 * allocations of the parent thread's call in progress, which none of its threads
                 * references, and valgrind rightly reports them lost when it exits. */
                (void) write(p[1], forked_child() < 0 ? "n" : "y", 1);
                _exit(0);
        }
        close(p[1]);
        (void) read(p[0], &verdict, 1);
        close(p[0]);
        CHECK(waitpid(pid, NULL, 0) == pid);
        pthread_join(t, NULL);
        CHECK(verdict == 'y');
        return 0;
}

static void test_mapping_fork_during_refresh(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_SLOW);
        assert_int_equal(run_in_child(&d, client_fork), 0);
        /* The parent's thread and the child each fetched one. */
        assert_int_equal(counters->get_snapshot, 2);
        fake_daemon_stop(&d);
}

/* ---- a fork() while another thread sets up the thread pins ---- */

/* Interposes libc's pthread_key_create() for the module's first multi-threaded lookup: while
 * fork_in_key_create is set, the calling thread lets another thread fork, and goes on only once
 * the fork is done, so the fork lands inside the module's set-up. */
static bool fork_in_key_create;
static sem_t key_create_entered, key_create_forked;

int pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
        static int (*real)(pthread_key_t *, void (*)(void *));

        if (!real)
                real = (int (*)(pthread_key_t *, void (*)(void *))) dlsym(RTLD_NEXT, "pthread_key_create");
        if (__atomic_exchange_n(&fork_in_key_create, false, __ATOMIC_ACQ_REL)) {
                sem_post(&key_create_entered);
                sem_wait(&key_create_forked);
        }
        return real(key, destructor);
}

static void *forking_thread(void *userdata)
{
        struct timespec deadline;
        int status = -1;

        /* The fork must land inside the set-up: a set-up never entered fails the test. */
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        bool entered = sem_timedwait(&key_create_entered, &deadline) == 0;
        pid_t pid = entered ? fork() : -1;
        if (pid == 0) {
                /* A lock the parent's other thread held at fork() hangs this: SIGALRM ends it. */
                alarm(5);
                _exit(lookup_ok() ? 0 : 1);
        }
        sem_post(&key_create_forked);
        if (pid > 0)
                (void) waitpid(pid, &status, 0);
        return (void *) (intptr_t) (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int client_fork_during_setup(const FakeDaemon *d)
{
        pthread_t t;
        void *ret;

        CHECK(sem_init(&key_create_entered, 0, 0) == 0 && sem_init(&key_create_forked, 0, 0) == 0);
        CHECK(lookup_ok());
        __atomic_store_n(&fork_in_key_create, true, __ATOMIC_RELEASE);
        CHECK(pthread_create(&t, NULL, forking_thread, NULL) == 0);
        /* The first lookup with two threads: the set-up of the thread pins, the fork inside it. */
        CHECK(lookup_ok());
        CHECK(pthread_join(t, &ret) == 0);
        CHECK(ret == (void *) 1);
        return 0;
}

static void test_mapping_fork_during_setup(void **state)
{
        FakeDaemon d;

        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_fork_during_setup), 0);
        fake_daemon_stop(&d);
}

/* ---- many threads through many swaps ---- */

static bool threads_stop;
static unsigned thread_failures, thread_lookups;

static void *lookup_thread(void *userdata)
{
        char buffer[256];
        struct servent se;
        int err;

        while (!__atomic_load_n(&threads_stop, __ATOMIC_ACQUIRE)) {
                /* Image 0 says "swap 5000/tcp swap-a", image 1 "swap 6000/tcp swap-b": an answer
                 * must be one or the other, whole. */
                enum nss_status st =
                        _nss_portd_getservbyname_r("swap", "tcp", &se, buffer, sizeof(buffer), &err);
                bool ok = st == NSS_STATUS_SUCCESS && se.s_aliases[0] && !se.s_aliases[1] &&
                          ((ntohs((uint16_t) se.s_port) == 5000 && streq(se.s_aliases[0], "swap-a")) ||
                                  (ntohs((uint16_t) se.s_port) == 6000 && streq(se.s_aliases[0], "swap-b")));
                st = _nss_portd_getservbyport_r(htons(7000), NULL, &se, buffer, sizeof(buffer), &err);
                ok = ok && st == NSS_STATUS_SUCCESS && streq(se.s_name, "steady");
                if (!ok)
                        __atomic_fetch_add(&thread_failures, 1, __ATOMIC_SEQ_CST);
                __atomic_fetch_add(&thread_lookups, 1, __ATOMIC_RELAXED);
        }
        return NULL;
}

static int client_threads(const FakeDaemon *d)
{
        pthread_t t[8];

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                CHECK(pthread_create(&t[i], NULL, lookup_thread, NULL) == 0);
        for (unsigned swap = 0; swap < 50; swap++) {
                struct timespec ts = { .tv_nsec = 2 * 1000 * 1000 };
                nanosleep(&ts, NULL);
                fake_daemon_supersede((FakeDaemon *) d);
        }
        struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        __atomic_store_n(&threads_stop, true, __ATOMIC_RELEASE);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                pthread_join(t[i], NULL);
        fprintf(stderr, "# %u lookups, %u wrong\n", thread_lookups, thread_failures);
        CHECK(thread_failures == 0);
        CHECK(thread_lookups > 1000);
        /* Every replaced image was unmapped once its last reader left. */
        CHECK(count_test_mappings() <= 1);
        return 0;
}

static void test_mapping_threads(void **state)
{
        FakeDaemon d;
        Image saved[2] = { images[0], images[1] };
        static const char a[] = "swap 5000/tcp swap-a\nsteady 7000/tcp\n";
        static const char b[] = "swap 6000/tcp swap-b\nsteady 7000/tcp\n";

        assert_int_equal(image_from_text(a, strlen(a), 1, &images[0]), 0);
        assert_int_equal(image_from_text(b, strlen(b), 2, &images[1]), 0);
        fake_daemon_start(&d, CORRUPTION_NONE);
        assert_int_equal(run_in_child(&d, client_threads), 0);
        assert_true(counters->get_snapshot >= 2);
        fake_daemon_stop(&d);
        free(images[0].data);
        free(images[1].data);
        images[0] = saved[0];
        images[1] = saved[1];
}

/* ---- the unmapper preempted between taking a retired image and munmap() ---- */

static bool race_stop;
static unsigned race_failures;
static unsigned long race_lookups;
static pthread_t race_installer;

static void slow_unmap(void)
{
        /* A reader that unmaps sleeps in the window, while the installer keeps publishing new
         * images: a slot reused under it would have the new current image unmapped. */
        if (!pthread_equal(pthread_self(), race_installer)) {
                struct timespec ts = { .tv_nsec = 2 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
}

static void *pin_thread(void *userdata)
{
        while (!__atomic_load_n(&race_stop, __ATOMIC_ACQUIRE)) {
                SnapshotMapping *m;
                SnapshotEntry e;
                if (mapping_acquire(&m) < 0 || !m)
                        continue;
                /* Reads the image: an unmapped one faults, a reused one answers wrong. */
                if (snapshot_lookup_name(mapping_snapshot(m), "http", "tcp", &e) < 0 || e.port != 80)
                        __atomic_fetch_add(&race_failures, 1, __ATOMIC_SEQ_CST);
                mapping_unref(m);
                __atomic_fetch_add(&race_lookups, 1, __ATOMIC_RELAXED);
        }
        return NULL;
}

static int client_unmap_race(const FakeDaemon *d)
{
        const Image *img = &images[0];
        pthread_t t[4];
        unsigned installs = 0;
        void *rw;

        int fd = memfd_with(img, CORRUPTION_NONE, &rw);
        munmap(rw, img->size);
        race_installer = pthread_self();
        mapping_test_unmap_hook = slow_unmap;
        CHECK(mapping_install_fd(fd, img->size) == 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                CHECK(pthread_create(&t[i], NULL, pin_thread, NULL) == 0);
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 1500 * 1000;
        while (installs < 3000 && now_usec(CLOCK_MONOTONIC) < end) {
                int r = mapping_install_fd(fd, img->size);
                CHECK(r == 0 || r == -EBUSY);
                installs += r == 0;
                struct timespec ts = { .tv_nsec = 100 * 1000 };
                nanosleep(&ts, NULL);
        }
        __atomic_store_n(&race_stop, true, __ATOMIC_RELEASE);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                pthread_join(t[i], NULL);
        mapping_test_unmap_hook = NULL;
        close(fd);
        fprintf(stderr, "# %u images installed, %lu lookups, %u wrong\n", installs, race_lookups,
                race_failures);
        CHECK(race_failures == 0);
        /* Enough swaps to have hit the window often. */
        CHECK(installs > 100U);
        /* Only the current image is still mapped. */
        CHECK(count_test_mappings() == 1);
        mapping_drop();
        CHECK(count_test_mappings() == 0);
        return 0;
}

static void test_mapping_unmap_race(void **state)
{
        /* No daemon: the images come straight from mapping_install_fd(); the socket named only
         * makes a 5 s re-check of a slow run fail fast and keep the image. */
        FakeDaemon d = { .socket = "/nonexistent/portd-test/socket" };

        /* A race needs threads that really run at once: valgrind runs them one at a time, so the
         * window is never hit and the swap count depends only on how slow the machine is. */
        if (getenv("PORTD_UNDER_VALGRIND"))
                skip();
        assert_int_equal(run_in_child(&d, client_unmap_race), 0);
}

static int setup(void **state)
{
        _cleanup_fclose_ FILE *f = fopen(arg_data, "re");
        _cleanup_free_ char *text = NULL;
        size_t size = 0;

        counters = mmap(NULL, sizeof(Counters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (counters == MAP_FAILED || !f)
                return -1;
        FILE *m = open_memstream(&text, &size);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                fwrite(buf, 1, n, m);
        fclose(m);
        if (image_from_text(text, size, 1, &images[0]) < 0)
                return -1;
        /* The second image: the same file with a line added at the top, so every answer that
         * differs tells which image it came from. */
        _cleanup_free_ char *text2 = NULL;
        if (asprintf(&text2, "swapped-in 4242/tcp swapped-alias\n%s", text) < 0)
                return -1;
        return image_from_text(text2, strlen(text2), 2, &images[1]);
}

int main(int argc, char *argv[])
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_mapping_good_image, stop_running),
                cmocka_unit_test_teardown(test_mapping_truncated, stop_running),
                cmocka_unit_test_teardown(test_mapping_bitflip, stop_running),
                cmocka_unit_test_teardown(test_mapping_header_bitflip, stop_running),
                cmocka_unit_test_teardown(test_mapping_unsealed, stop_running),
                cmocka_unit_test_teardown(test_mapping_wrong_size, stop_running),
                cmocka_unit_test_teardown(test_mapping_no_method, stop_running),
                cmocka_unit_test_teardown(test_mapping_install_rejects, stop_running),
                cmocka_unit_test_teardown(test_mapping_supersede, stop_running),
                cmocka_unit_test_teardown(test_mapping_solo_pin, stop_running),
                cmocka_unit_test_teardown(test_mapping_thread_pins, stop_running),
                cmocka_unit_test_teardown(test_mapping_enumeration_pins, stop_running),
                cmocka_unit_test_teardown(test_mapping_daemon_stopped, stop_running),
                cmocka_unit_test_teardown(test_mapping_daemon_crashed, stop_running),
                cmocka_unit_test_teardown(test_mapping_memfd_recheck, stop_running),
                cmocka_unit_test_teardown(test_mapping_fork_during_refresh, stop_running),
                cmocka_unit_test_teardown(test_mapping_fork_during_setup, stop_running),
                cmocka_unit_test_teardown(test_mapping_signals_during_list, stop_running),
                cmocka_unit_test_teardown(test_mapping_threads, stop_running),
                cmocka_unit_test_teardown(test_mapping_unmap_race, stop_running),
        };

        if (argc != 2) {
                fprintf(stderr, "usage: %s SERVICES-FILE\n", argv[0]);
                return 2;
        }
        arg_data = argv[1];
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("nss/mapping", tests, setup, NULL);
}
