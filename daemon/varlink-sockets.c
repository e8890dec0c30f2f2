/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.portd.Sockets (daemon/io.portd.Sockets.varlink) in the owner-query worker (owner-worker.c):
 * owner.c's queries on a thread, bounded per user and in total, taken in turn across users,
 * dropped with their connection, their rows streamed as the client reads.  Here: parameters,
 * rows, and who the caller is (Follow, varlink-follow.c, shares these); the access rules themselves
 * live in owner.c. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "caller.h"
#include "daemon.h"
#include "json-util.h"
#include "json-writer.h"
#include "name-escape.h"
#include "log.h"
#include "owner.h"
#include "varlink-dispatch.h"
#include "io.portd.Sockets.varlink.h"

#define SOCKETS_INTERFACE       "io.portd.Sockets"
#define ERROR_NO_SOCKET_FOUND   SOCKETS_INTERFACE ".NoSocketFound"
#define ERROR_PERMISSION_DENIED SOCKETS_INTERFACE ".PermissionDenied"
#define ERROR_NETNS_NOT_FOUND   SOCKETS_INTERFACE ".NetworkNamespaceNotFound"
#define ERROR_QUERY_FAILED      SOCKETS_INTERFACE ".QueryFailed"

/* linux/pidfd.h of Linux 6.11; Debian 12's headers predate it. */
#ifndef PIDFD_GET_NET_NAMESPACE
#define PIDFD_GET_NET_NAMESPACE _IO(0xFF, 4)
#endif

#define NETNS_LENGTH_MAX 255


/* Strict, as io.portd.Services is (varlink-dispatch.h): an unknown or mistyped parameter is named
 * back to the caller.  The table checks types and bounds, the rest what the values mean.  Follow
 * (listening only) takes all but the last two, which then are unknown parameters to it. */
int parse_list_parameters(
        struct json_object *parameters, bool listening_only, ListParameters *ret, const char **ret_bad)
{
        struct {
                int64_t port, port_max; /* 0: absent */
                const char *protocol, *address, *netns;
                bool established, either_end;
        } a = {};
        static const VarlinkParameter table[] = {
                { "port", VARLINK_PARAMETER_INT, offsetof(typeof(a), port), 0, 1, 65535 },
                { "port_max", VARLINK_PARAMETER_INT, offsetof(typeof(a), port_max), 0, 1, 65535 },
                { "protocol", VARLINK_PARAMETER_STRING, offsetof(typeof(a), protocol), 0, 0, INT64_MAX },
                { "address", VARLINK_PARAMETER_STRING, offsetof(typeof(a), address), 0, 0, INT64_MAX },
                { "netns", VARLINK_PARAMETER_STRING, offsetof(typeof(a), netns), 0, 1, NETNS_LENGTH_MAX },
                { "established", VARLINK_PARAMETER_BOOLEAN, offsetof(typeof(a), established), 0, 0, 0 },
                { "either_end", VARLINK_PARAMETER_BOOLEAN, offsetof(typeof(a), either_end), 0, 0, 0 },
        };
        ListParameters p = {};
        int r;

        r = varlink_dispatch(parameters, table, ELEMENTSOF(table) - (listening_only ? 2 : 0), &a, ret_bad);
        if (r < 0)
                return r;

        p.filter.established = a.established;
        p.filter.either_end = a.either_end;
        p.netns = a.netns;
        if (a.protocol) {
                OwnerProtocol proto = owner_protocol_from_string(a.protocol);
                if (proto < 0) {
                        *ret_bad = "protocol";
                        return -EINVAL;
                }
                p.filter.protocols = 1U << proto;
        }
        if (a.address) {
                if (inet_pton(AF_INET, a.address, &p.filter.address.in) == 1)
                        p.filter.address_family = AF_INET;
                else if (inet_pton(AF_INET6, a.address, &p.filter.address.in6) == 1)
                        p.filter.address_family = AF_INET6;
                else {
                        *ret_bad = "address";
                        return -EINVAL;
                }
        }
        if (a.port_max > 0 && (a.port == 0 || a.port_max < a.port)) {
                *ret_bad = "port_max";
                return -EINVAL;
        }
        if (a.port > 0) {
                p.filter.port_min = (uint16_t) a.port;
                p.filter.port_max = (uint16_t) (a.port_max > 0 ? a.port_max : a.port);
        }
        *ret_bad = NULL;
        *ret = p;
        return 0;
}

/* "all", a process id, or a /run/netns name. */
static int parse_netns(const char *s, OwnerNetns *ret)
{
        if (!s) {
                *ret = (OwnerNetns){ .kind = OWNER_NETNS_CALLER };
                return 0;
        }
        if (streq(s, "all")) {
                *ret = (OwnerNetns){ .kind = OWNER_NETNS_ALL };
                return 0;
        }
        if (s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 9) {
                *ret = (OwnerNetns){ .kind = OWNER_NETNS_PID, .pid = (pid_t) atoi(s) };
                return 0;
        }
        if (strchr(s, '/') || streq(s, ".") || streq(s, ".."))
                return -EINVAL;
        *ret = (OwnerNetns){ .kind = OWNER_NETNS_NAME, .name = s };
        return 0;
}

/* The caller's own namespace through its pidfd (caller.c pins it, as for every other question
 * about a caller): unlike /proc/PID it cannot name a process that took over a dead caller's pid.
 * Kernels without the ioctl (before 6.11) go through /proc/PID, pinned by the pidfd: if the caller
 * is still alive after the open, the PID was still its own.  -ESRCH when the caller is gone. */
static int peer_netns_fd(VarlinkConnection *conn)
{
        _cleanup_close_ int pidfd = caller_peer_pidfd(conn);
        struct ucred ucred;
        char path[64];
        int fd;

        if (pidfd < 0)
                return pidfd;
        fd = ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0);
        if (fd >= 0)
                return fd;
        if (varlink_connection_get_peer_credentials(conn, &ucred) < 0 || ucred.pid <= 0)
                return -ESRCH;
        (void) snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) ucred.pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (pidfd_process_gone(pidfd)) {
                safe_close(fd);
                return -ESRCH;
        }
        return fd;
}

static int address_string(int family, const OwnerAddress *a, char *buf, size_t size)
{
        /* IPv4 by hand, as inet_ntop() writes it: its sprintf() showed in the profile of every row. */
        if (family == AF_INET && size >= INET_ADDRSTRLEN) {
                char *p = buf;
                for (int i = 0; i < 4; i++) {
                        unsigned v = a->bytes[i];
                        if (v >= 100)
                                *p++ = (char) ('0' + v / 100);
                        if (v >= 10)
                                *p++ = (char) ('0' + v / 10 % 10);
                        *p++ = (char) ('0' + v % 10);
                        *p++ = i < 3 ? '.' : '\0';
                }
                return 0;
        }
        if (!inet_ntop(family, a->bytes, buf, (socklen_t) size))
                return -errno;
        return 0;
}

/* A name the row carries that did not come through owner_name_make_safe() (a /run/netns entry):
 * escaped as names are, so that the row stays JSON whatever the bytes. */
static void row_name(JsonWriter *w, const char *key, const char *value)
{
        if (!value || name_is_plain(value, NAME_ESCAPE_BACKSLASH)) {
                json_writer_string(w, key, value);
                return;
        }
        _cleanup_free_ char *e = name_escape(value, NAME_ESCAPE_BACKSLASH);
        if (!e) {
                w->error = -ENOMEM;
                return;
        }
        json_writer_string(w, key, e);
}

/* Written as text into w: a listing sends one row per socket and process, and building,
 * serializing and freeing json-c objects for each was a third of the worker's time.  The members
 * and their order are those of io.portd.Sockets.varlink's Owner. */
int owner_row_member(const OwnerSocket *s, const OwnerProcess *p, JsonWriter *w)
{
        char addr[INET6_ADDRSTRLEN];
        const char *proto = owner_protocol_to_string(s->protocol);
        int r;

        json_writer_object_begin(w, "owner");
        r = address_string(s->family, &s->local, addr, sizeof(addr));
        if (r < 0)
                return r;
        json_writer_string(w, "protocol", proto);
        json_writer_string(w, "address", addr);
        json_writer_integer(w, "port", s->local_port);
        json_writer_string(w, "state", owner_state_to_string(s->protocol, s->state));
        json_writer_integer(w, "inode", (int64_t) s->inode);
        json_writer_integer(w, "uid", s->uid);
        if (s->remote_port != 0) {
                r = address_string(s->family, &s->remote, addr, sizeof(addr));
                if (r < 0)
                        return r;
                json_writer_string(w, "remote_address", addr);
                json_writer_integer(w, "remote_port", s->remote_port);
        }
        row_name(w, "netns", s->netns);
        if (p) {
                json_writer_integer(w, "pid", p->pid);
                json_writer_string(w, "command", p->command);
                json_writer_string(w, "user", p->user);
                json_writer_integer(w, "fd", p->fd);
                json_writer_string(w, "unit", p->unit);
                json_writer_string(w, "container", p->container);
        }
        json_writer_object_end(w);
        return w->error;
}

/* One row of a listing, {"owner": {...}}, replacing what w held. */
static int owner_row(const OwnerSocket *s, const OwnerProcess *p, JsonWriter *w)
{
        int r;

        json_writer_clear(w);
        json_writer_object_begin(w, NULL);
        r = owner_row_member(s, p, w);
        if (r < 0)
                return r;
        json_writer_object_end(w);
        return w->error;
}

/* Jobs per user (queued, running, or streaming their rows), and in all: a connection has one call
 * open at a time, so these also bound the descriptors (one network namespace each while queued)
 * and the memory queries hold.  Root's jobs count apart, against a bound of their own: users,
 * however many UIDs they hold, can fill JOBS_MAX but never take root's owner queries away. */
#define JOBS_PER_UID_MAX 8U
#define JOBS_MAX         512U
#define ROOT_JOBS_MAX    64U
/* A user whose results wait for clients that do not read gets no new query run meanwhile:
 * results are what costs memory, and a reader that never reads holds its own back only.  Users'
 * results in all are bounded too, so that many UIDs cannot add up to the worker's memory limit. */
#define RESULTS_PER_UID_MAX 2U
#define RESULTS_MAX         32U
/* Rows built per turn of the stream: the rest waits until the client has read these. */
#define ROWS_PER_BATCH 64U
/* The time a user's query may spend on its per-socket work (cache checks, /proc reads, naming)
 * before the rest of its sockets are listed without their processes: other users' queries wait
 * behind it.  Root's queries have a thread of their own, where they hold up only root's. */
#define QUERY_BUDGET_USEC (250ULL * 1000ULL)

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_FINISHED, /* the thread is done, the loop has not seen it yet */
        JOB_DONE,     /* streaming its rows */
} JobState;

typedef struct SocketsJob {
        struct SocketsJob *next;
        SocketsWorker *worker;
        VarlinkConnection *conn; /* valid while the job is the connection's stream */
        JobState state;
        bool cancelled; /* the connection went while the thread had the job */
        OwnerFilter filter;
        OwnerNetns ns;
        char *netns_parameter; /* as the caller wrote it; ns.name points into it */
        int netns_fd;          /* ns.fd, owned; closed once the query ran */
        OwnerCaller caller;
        int result;
        OwnerSocket *sockets;
        size_t n_sockets;
        size_t next_socket, next_process; /* the next row to send */
        JsonWriter row;                   /* the row being sent, its buffer reused */
} SocketsJob;

typedef struct UserJobs {
        uid_t uid;
        SocketsJob *queue;  /* waiting, oldest first */
        unsigned n_jobs;    /* in every state */
        unsigned n_results; /* finished or streaming */
} UserJobs;

/* Two threads, each with its own OwnerContext (cache and scan budgets): one takes root's queries
 * only, the other everybody else's in turn.  However many queries users queue, root's `portctl who`
 * waits for none of them, as the last connection slots are root's. */
typedef struct QueryLane {
        SocketsWorker *worker;
        OwnerContext *owner;
        bool root;
        bool started;
        pthread_t thread;
} QueryLane;

struct SocketsWorker {
        QueryLane lanes[2];
        pthread_mutex_t lock;
        pthread_cond_t wake;
        UserJobs *users;
        size_t n_users, allocated_users;
        size_t next_user; /* where the round over users goes on */
        unsigned n_jobs;
        unsigned n_user_results; /* finished or streaming, of users other than root */
        SocketsJob *done, **done_tail; /* finished by the thread, not yet seen by the loop */
        SocketsFollow *follow;         /* the Follow calls, varlink-follow.c */
        bool quit;
        int event_fd;
        sd_event_source *event_source;
};

static UserJobs *user_jobs_find(SocketsWorker *w, uid_t uid)
{
        for (size_t i = 0; i < w->n_users; i++)
                if (w->users[i].uid == uid)
                        return &w->users[i];
        return NULL;
}

/* Called with the lock held: a result of u's appears (+1) or goes (-1). */
static void result_count(SocketsWorker *w, UserJobs *u, int delta)
{
        u->n_results += delta;
        if (u->uid != 0)
                w->n_user_results += delta;
}

/* Called with the lock held, for a job that leaves (freed, cancelled). */
static void user_jobs_release(SocketsWorker *w, const SocketsJob *j)
{
        UserJobs *u = user_jobs_find(w, j->caller.uid);

        w->n_jobs--;
        if (!u)
                return;
        if (j->state == JOB_FINISHED || j->state == JOB_DONE)
                result_count(w, u, -1);
        if (--u->n_jobs > 0) {
                pthread_cond_broadcast(&w->wake); /* its next query may run now */
                return;
        }
        size_t i = (size_t) (u - w->users);
        w->users[i] = w->users[--w->n_users];
        if (w->next_user > w->n_users)
                w->next_user = 0;
}

static SocketsJob *sockets_job_free(SocketsJob *j)
{
        if (!j)
                return NULL;
        free(j->netns_parameter);
        safe_close(j->netns_fd);
        owner_sockets_free(j->sockets, j->n_sockets);
        json_writer_done(&j->row);
        return mfree(j);
}

/* The next job for a lane: one per user in turn, skipping users whose results nobody reads. */
static SocketsJob *pick_job(SocketsWorker *w, bool root)
{
        for (size_t k = 0; k < w->n_users; k++) {
                size_t i = (w->next_user + k) % w->n_users;
                UserJobs *u = &w->users[i];
                SocketsJob *j = u->queue;
                if (!j || (u->uid == 0) != root || u->n_results >= RESULTS_PER_UID_MAX ||
                        (u->uid != 0 && w->n_user_results >= RESULTS_MAX))
                        continue;
                u->queue = j->next;
                j->next = NULL;
                w->next_user = (i + 1) % w->n_users;
                return j;
        }
        return NULL;
}

static void *sockets_worker_thread(void *userdata)
{
        QueryLane *lane = userdata;
        SocketsWorker *w = lane->worker;

        pthread_mutex_lock(&w->lock);
        while (!w->quit) {
                SocketsJob *j = pick_job(w, lane->root);
                if (!j) {
                        pthread_cond_wait(&w->wake, &w->lock);
                        continue;
                }
                j->state = JOB_RUNNING;
                pthread_mutex_unlock(&w->lock);

                if (!lane->root)
                        j->caller.deadline_usec = now_usec(CLOCK_MONOTONIC) + QUERY_BUDGET_USEC;
                j->result =
                        owner_query(lane->owner, &j->filter, &j->ns, &j->caller, &j->sockets, &j->n_sockets);
                j->netns_fd = safe_close(j->netns_fd);

                pthread_mutex_lock(&w->lock);
                j->state = JOB_FINISHED;
                UserJobs *u = user_jobs_find(w, j->caller.uid);
                if (u)
                        result_count(w, u, +1);
                *w->done_tail = j;
                w->done_tail = &j->next;
                uint64_t one = 1;
                (void) !write(w->event_fd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static int job_answer_error(SocketsJob *j)
{
        VarlinkConnection *conn = j->conn;
        int r = j->result;

        if (r == -EPERM || r == -EACCES)
                return varlink_connection_error(conn, ERROR_PERMISSION_DENIED, NULL);
        if (r == -ENOENT || r == -ESRCH || r == -EINVAL) {
                _cleanup_json_ struct json_object *e = json_object_new_object();
                if (!e || json_add(e, "netns", json_object_new_string(j->netns_parameter ?: "")) < 0)
                        return -ENOMEM;
                return varlink_connection_error(conn, ERROR_NETNS_NOT_FOUND, e);
        }
        if (r < 0) {
                _cleanup_json_ struct json_object *e = json_object_new_object();
                log_warning_errno(r, "Owner query from PID %d failed: %m", (int) j->caller.pid);
                if (!e || json_add(e, "message", json_object_new_string(strerror(-r))) < 0)
                        return -ENOMEM;
                return varlink_connection_error(conn, ERROR_QUERY_FAILED, e);
        }
        return varlink_connection_error(conn, ERROR_NO_SOCKET_FOUND, NULL);
}

/* The socket's send buffer for root's listing of n rows, as far as net.core.wmem_max lets it
 * grow: with the default (208 KiB) the rows of 10,000 sockets (2.3 MB) go out in a dozen refills,
 * each a wake-up of this thread after the client drained the socket, and on a loaded machine each
 * of those waits for a CPU while the client, done with what it had, waits too.  A user's keeps the
 * default: a listing that fits the buffer is all in the kernel, its job done and its result freed,
 * so the buffer, not RESULTS_PER_UID_MAX, would bound what a user's never-reading connections pin
 * (1 MiB each: 16 connections per uid, 960 in all). */
#define ROW_BYTES_ESTIMATE 256U
#define SNDBUF_ROOT_MAX    (8U * 1024U * 1024U)

static void job_size_send_buffer(VarlinkConnection *conn, const SocketsJob *j)
{
        int fd = varlink_connection_get_fd(conn), current = 0;
        socklen_t l = sizeof(current);
        size_t rows = 0;

        if (j->caller.uid != 0)
                return;
        for (size_t i = 0; i < j->n_sockets; i++)
                rows += MAX(j->sockets[i].n_processes, (size_t) 1);
        size_t want = MIN(rows * ROW_BYTES_ESTIMATE, SNDBUF_ROOT_MAX);
        /* The kernel doubles what it is given (its own bookkeeping) and reports the doubled size. */
        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &current, &l) < 0 || (size_t) current >= want)
                return;
        int half = (int) (want / 2);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof(half));
}

/* The stream's producer: nothing until the query ran, then a batch of rows per call, the last
 * one as the final reply.  Each row is built when the client has read the ones before. */
static int job_produce(VarlinkConnection *conn, void *userdata)
{
        SocketsJob *j = userdata;

        if (j->state != JOB_DONE)
                return -EAGAIN;
        if (j->result < 0 || j->n_sockets == 0)
                return job_answer_error(j);
        if (j->next_socket == 0 && j->next_process == 0)
                job_size_send_buffer(conn, j);

        for (unsigned n = 0; n < ROWS_PER_BATCH; n++) {
                const OwnerSocket *s = &j->sockets[j->next_socket];
                int r = owner_row(s, s->n_processes > 0 ? &s->processes[j->next_process] : NULL, &j->row);
                if (r < 0)
                        return r;
                if (++j->next_process >= MAX(s->n_processes, (size_t) 1)) {
                        j->next_process = 0;
                        j->next_socket++;
                }
                bool last = j->next_socket >= j->n_sockets;
                r = last ? varlink_connection_reply_json(conn, j->row.data, j->row.size)
                         : varlink_connection_notify_json(conn, j->row.data, j->row.size);
                if (r < 0 || last)
                        return r;
        }
        return 0;
}

/* The stream's destructor: the call was answered, or the connection went.  A job the thread has
 * is only marked: the loop frees it when the thread hands it back. */
static void job_detach(void *userdata)
{
        SocketsJob *j = userdata;
        SocketsWorker *w = j->worker;

        pthread_mutex_lock(&w->lock);
        j->conn = NULL;
        if (j->state == JOB_RUNNING || j->state == JOB_FINISHED) {
                j->cancelled = true;
                pthread_mutex_unlock(&w->lock);
                return;
        }
        if (j->state == JOB_QUEUED) {
                UserJobs *u = user_jobs_find(w, j->caller.uid);
                for (SocketsJob **p = u ? &u->queue : NULL; p && *p; p = &(*p)->next)
                        if (*p == j) {
                                *p = j->next;
                                break;
                        }
        }
        user_jobs_release(w, j);
        pthread_mutex_unlock(&w->lock);
        sockets_job_free(j);
}

static int on_jobs_done(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        SocketsWorker *w = userdata;
        uint64_t n;

        (void) !read(fd, &n, sizeof(n));
        pthread_mutex_lock(&w->lock);
        SocketsJob *done = w->done;
        w->done = NULL;
        w->done_tail = &w->done;
        for (SocketsJob *j = done; j; j = j->next)
                if (!j->cancelled)
                        j->state = JOB_DONE;
        pthread_mutex_unlock(&w->lock);

        while (done) {
                SocketsJob *j = done;
                done = j->next;
                j->next = NULL;
                if (j->cancelled) {
                        pthread_mutex_lock(&w->lock);
                        user_jobs_release(w, j);
                        pthread_mutex_unlock(&w->lock);
                        sockets_job_free(j);
                        continue;
                }
                varlink_connection_stream_resume(j->conn);
        }
        return 0;
}

/* Takes j, and answers from it now or once the thread ran it: -EBUSY over the bounds. */
static int sockets_worker_submit(SocketsWorker *w, VarlinkConnection *conn, SocketsJob *j)
{
        int r;

        QueryLane *lane = &w->lanes[j->caller.uid == 0];
        if (!lane->started) {
                r = pthread_create(&lane->thread, NULL, sockets_worker_thread, lane);
                if (r != 0) {
                        sockets_job_free(j);
                        return -r;
                }
                lane->started = true;
        }

        pthread_mutex_lock(&w->lock);
        UserJobs *u = user_jobs_find(w, j->caller.uid), *root = user_jobs_find(w, 0);
        unsigned root_jobs = root ? root->n_jobs : 0;
        if (j->caller.uid == 0 ? root_jobs >= ROOT_JOBS_MAX
                               : w->n_jobs - root_jobs >= JOBS_MAX || (u && u->n_jobs >= JOBS_PER_UID_MAX)) {
                pthread_mutex_unlock(&w->lock);
                sockets_job_free(j);
                return -EBUSY;
        }
        if (!u) {
                if (GROW(w->users, w->allocated_users, w->n_users + 1) < 0) {
                        pthread_mutex_unlock(&w->lock);
                        sockets_job_free(j);
                        return -ENOMEM;
                }
                u = &w->users[w->n_users++];
                *u = (UserJobs){ .uid = j->caller.uid };
        }
        u->n_jobs++;
        w->n_jobs++;
        j->worker = w;
        j->conn = conn;
        if (j->state == JOB_QUEUED) {
                SocketsJob **tail = &u->queue;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = j;
                pthread_cond_broadcast(&w->wake);
        } else
                result_count(w, u, +1); /* answered without a query: an error to send */
        pthread_mutex_unlock(&w->lock);

        r = varlink_connection_stream(conn, job_produce, j, job_detach);
        if (r < 0) {
                job_detach(j);
                return r;
        }
        return 0;
}

/* CapPrm of the caller, read through /proc/PID pinned by its pidfd: the kernel's ptrace rule shows
 * a process only to a caller that holds every capability it holds (owner.c). */
static void caller_read_capabilities(OwnerCaller *caller, int pidfd)
{
        char path[64], buf[4096];
        _cleanup_close_ int fd = -1;

        /* Without a pidfd the PID may be another process's by now: unknown, taken as none. */
        if (caller->pid <= 0 || pidfd < 0)
                return;
        (void) snprintf(path, sizeof(path), "/proc/%d/status", (int) caller->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return;
        buf[n] = 0;
        if (pidfd_process_gone(pidfd))
                return;
        const char *p = strstr(buf, "\nCapPrm:");
        if (!p)
                return;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p + 8, &end, 16);
        if (errno != 0 || end == p + 8)
                return;
        caller->cap_permitted = v;
        caller->cap_known = true;
}

int sockets_caller_setup(VarlinkConnection *conn, const char *netns_parameter, OwnerCaller *ret_caller,
        OwnerNetns *ret_ns, int *ret_netns_fd, int *ret_netns_error)
{
        OwnerCaller caller;
        OwnerNetns ns;
        struct ucred ucred;
        int r;

        r = varlink_connection_get_peer_credentials(conn, &ucred);
        if (r < 0)
                return r == -EINVAL ? -EIO : r;
        if (parse_netns(netns_parameter, &ns) < 0)
                return -EINVAL;
        caller = (OwnerCaller){ .uid = ucred.uid, .gid = ucred.gid, .pid = ucred.pid };
        if (ucred.uid != 0) {
                _cleanup_close_ int pidfd = caller_peer_pidfd(conn);
                if (pidfd == -EMFILE || pidfd == -ENFILE)
                        return pidfd;
                caller_read_capabilities(&caller, pidfd);
        }
        *ret_netns_fd = -1;
        *ret_netns_error = 0;
        if (ns.kind == OWNER_NETNS_CALLER) {
                r = peer_netns_fd(conn);
                if (r >= 0) {
                        *ret_netns_fd = r;
                        ns = (OwnerNetns){ .kind = OWNER_NETNS_FD, .fd = r };
                } else if (r == -EMFILE || r == -ENFILE)
                        return r;
                else
                        *ret_netns_error = r;
        }
        *ret_caller = caller;
        *ret_ns = ns;
        return 0;
}

static int method_list(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        SocketsWorker *w = userdata;
        ListParameters p;
        const char *bad = NULL;
        int r;

        r = parse_list_parameters(parameters, false, &p, &bad);
        if (r < 0)
                return varlink_connection_error_invalid_parameter(conn, bad ?: "parameters");
        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(conn, VARLINK_ERROR_EXPECTED_MORE, NULL);

        SocketsJob *j = calloc(1, sizeof(SocketsJob));
        if (!j)
                return log_oom();
        j->netns_fd = -1;
        j->filter = p.filter;
        if (p.netns && !(j->netns_parameter = strdup(p.netns))) {
                sockets_job_free(j);
                return log_oom();
        }
        r = sockets_caller_setup(conn, j->netns_parameter, &j->caller, &j->ns, &j->netns_fd, &j->result);
        if (r < 0) {
                sockets_job_free(j);
                if (r == -EINVAL)
                        return varlink_connection_error_invalid_parameter(conn, "netns");
                return r == -ENOMEM ? log_oom() : r; /* -EMFILE: dispatched again later */
        }
        if (j->result < 0)
                /* Lost (the caller is gone) or not ours to read: answered as the query would
                 * have been, without it. */
                j->state = JOB_DONE;

        r = sockets_worker_submit(w, conn, j);
        if (r == -EBUSY) {
                _cleanup_json_ struct json_object *e = json_object_new_object();
                if (!e || json_add(e, "message",
                                  json_object_new_string(
                                          "Too many owner queries in progress, try again later.")) < 0)
                        return log_oom();
                return varlink_connection_error(conn, ERROR_QUERY_FAILED, e);
        }
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to queue an owner query: %m");
        return 0; /* answered by the stream, job_produce() */
}

int varlink_sockets_register(sd_event *event, VarlinkServer *server, SocketsWorker **ret)
{
        SocketsWorker *w;
        int r;

        w = calloc(1, sizeof(SocketsWorker));
        if (!w)
                return -ENOMEM;
        w->event_fd = -1;
        w->done_tail = &w->done;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        *ret = w;

        for (size_t i = 0; i < ELEMENTSOF(w->lanes); i++) {
                w->lanes[i] = (QueryLane){ .worker = w, .root = i == 1 };
                r = owner_context_new(&w->lanes[i].owner);
                if (r < 0)
                        return r;
        }
        w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->event_fd < 0)
                return -errno;
        r = sd_event_add_io(event, &w->event_source, w->event_fd, EPOLLIN, on_jobs_done, w);
        if (r < 0)
                return r;
        /* Handing finished queries back is brief, and root's must not wait behind users'
         * connections (root's own go first too: owner-worker.c). */
        r = sd_event_source_set_priority(w->event_source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0)
                return r;
        r = varlink_server_add_interface(server, io_portd_sockets_varlink);
        if (r < 0)
                return r;
        r = varlink_server_add_method(server, SOCKETS_INTERFACE ".List", method_list, w);
        if (r < 0)
                return r;
        return sockets_follow_register(event, server, &w->follow);
}

/* Before the server goes: its connections' streams end through job_detach(). */
void varlink_sockets_stop(SocketsWorker *w)
{
        if (!w)
                return;
        /* A query in progress finishes first: it holds no lock the loop could wait on. */
        pthread_mutex_lock(&w->lock);
        w->quit = true;
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < ELEMENTSOF(w->lanes); i++)
                if (w->lanes[i].started) {
                        (void) pthread_join(w->lanes[i].thread, NULL);
                        w->lanes[i].started = false;
                }
        sockets_follow_stop(w->follow);
        /* What the thread finished: as the loop would see it. */
        on_jobs_done(NULL, w->event_fd, EPOLLIN, w);
}

SocketsWorker *varlink_sockets_free(SocketsWorker *w)
{
        if (!w)
                return NULL;
        varlink_sockets_stop(w);
        free(w->users);
        sockets_follow_free(w->follow);
        sd_event_source_disable_unref(w->event_source);
        safe_close(w->event_fd);
        for (size_t i = 0; i < ELEMENTSOF(w->lanes); i++)
                owner_context_free(w->lanes[i].owner);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        return mfree(w);
}
