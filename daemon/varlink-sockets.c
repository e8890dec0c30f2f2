/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.portd.Sockets (daemon/io.portd.Sockets.varlink): owner.c's queries over varlink, run on a
 * worker thread. Here: parameters, rows, and who the caller is (peer credentials, network
 * namespace); the access rules themselves live in owner.c. */

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

#include "daemon.h"
#include "json-util.h"
#include "log.h"
#include "owner.h"
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

static int json_add_string_maybe(struct json_object *o, const char *key, const char *value)
{
        return value ? json_add(o, key, json_object_new_string(value)) : 0;
}

typedef struct ListParameters {
        OwnerFilter filter;
        const char *netns;
} ListParameters;

/* Strict, as io.portd.Services is: an unknown or mistyped parameter is named back to the caller. */
static int parse_list_parameters(struct json_object *parameters, ListParameters *ret, const char **ret_bad)
{
        ListParameters p = {};
        bool have_port = false, have_port_max = false;
        int64_t port = 0, port_max = 0;

        json_object_object_foreach(parameters, key, value)
        {
                *ret_bad = key;
                bool null = !value || json_object_is_type(value, json_type_null);

                if (streq(key, "port") || streq(key, "port_max")) {
                        if (null)
                                continue;
                        if (!json_object_is_type(value, json_type_int))
                                return -EINVAL;
                        int64_t v = json_object_get_int64(value);
                        if (v < 1 || v > 65535)
                                return -EINVAL;
                        if (streq(key, "port")) {
                                port = v;
                                have_port = true;
                        } else {
                                port_max = v;
                                have_port_max = true;
                        }
                } else if (streq(key, "protocol")) {
                        if (null)
                                continue;
                        if (!json_object_is_type(value, json_type_string))
                                return -EINVAL;
                        OwnerProtocol proto = owner_protocol_from_string(json_object_get_string(value));
                        if (proto < 0)
                                return -EINVAL;
                        p.filter.protocols = 1U << proto;
                } else if (streq(key, "address")) {
                        if (null)
                                continue;
                        if (!json_object_is_type(value, json_type_string))
                                return -EINVAL;
                        const char *a = json_object_get_string(value);
                        if (inet_pton(AF_INET, a, &p.filter.address.in) == 1)
                                p.filter.address_family = AF_INET;
                        else if (inet_pton(AF_INET6, a, &p.filter.address.in6) == 1)
                                p.filter.address_family = AF_INET6;
                        else
                                return -EINVAL;
                } else if (streq(key, "established")) {
                        if (null)
                                continue;
                        if (!json_object_is_type(value, json_type_boolean))
                                return -EINVAL;
                        p.filter.established = json_object_get_boolean(value);
                } else if (streq(key, "either_end")) {
                        if (null)
                                continue;
                        if (!json_object_is_type(value, json_type_boolean))
                                return -EINVAL;
                        p.filter.either_end = json_object_get_boolean(value);
                } else if (streq(key, "netns")) {
                        if (null)
                                continue;
                        if (!json_object_is_type(value, json_type_string))
                                return -EINVAL;
                        p.netns = json_object_get_string(value);
                        if (!*p.netns || strlen(p.netns) > NETNS_LENGTH_MAX)
                                return -EINVAL;
                } else
                        return -EINVAL;
        }

        if (have_port_max) {
                *ret_bad = "port_max";
                if (!have_port || port_max < port)
                        return -EINVAL;
        }
        if (have_port) {
                p.filter.port_min = (uint16_t) port;
                p.filter.port_max = (uint16_t) (have_port_max ? port_max : port);
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

/* The caller's own namespace through its pidfd: unlike /proc/PID it cannot name a process that
 * took over a dead caller's pid.  Kernels with SO_PEERPIDFD but without the ioctl (6.5 to 6.10)
 * go through /proc/PID, pinned by the pidfd: if the caller is still alive after the open, the
 * PID was still its own.  -EOPNOTSUPP (no pidfd at all, before 6.5) sends us to /proc/PID/ns/net
 * unpinned, as ss and lsof read it; -ESRCH when the caller is gone. */
static int peer_netns_fd(VarlinkConnection *conn)
{
        _cleanup_close_ int pidfd = varlink_connection_get_peer_pidfd(conn);
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
        if (!inet_ntop(family, a->bytes, buf, (socklen_t) size))
                return -errno;
        return 0;
}

static int owner_row(
        const Catalog *catalog, const OwnerSocket *s, const OwnerProcess *p, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object(), *reply = NULL;
        char addr[INET6_ADDRSTRLEN];
        const char *proto = owner_protocol_to_string(s->protocol);
        int r;

        if (!o)
                return -ENOMEM;
        r = address_string(s->family, &s->local, addr, sizeof(addr));
        if (r < 0)
                return r;

        const ServiceEntry *e = catalog ? catalog_lookup_by_port(catalog, s->local_port, proto) : NULL;
        r = json_add(o, "protocol", json_object_new_string(proto));
        if (r >= 0)
                r = json_add(o, "address", json_object_new_string(addr));
        if (r >= 0)
                r = json_add(o, "port", json_object_new_int(s->local_port));
        if (r >= 0 && e)
                r = json_add(o, "service", json_object_new_string(e->name));
        if (r >= 0)
                r = json_add(
                        o, "state", json_object_new_string(owner_state_to_string(s->protocol, s->state)));
        if (r >= 0)
                r = json_add(o, "inode", json_object_new_int64((int64_t) s->inode));
        if (r >= 0)
                r = json_add(o, "uid", json_object_new_int64(s->uid));
        if (r >= 0 && s->remote_port != 0) {
                r = address_string(s->family, &s->remote, addr, sizeof(addr));
                if (r >= 0)
                        r = json_add(o, "remote_address", json_object_new_string(addr));
                if (r >= 0)
                        r = json_add(o, "remote_port", json_object_new_int(s->remote_port));
        }
        if (r >= 0)
                r = json_add_string_maybe(o, "netns", s->netns);
        if (r >= 0 && p) {
                r = json_add(o, "pid", json_object_new_int(p->pid));
                if (r >= 0)
                        r = json_add_string_maybe(o, "command", p->command);
                if (r >= 0)
                        r = json_add_string_maybe(o, "user", p->user);
                if (r >= 0)
                        r = json_add(o, "fd", json_object_new_int(p->fd));
                if (r >= 0)
                        r = json_add_string_maybe(o, "unit", p->unit);
                if (r >= 0)
                        r = json_add_string_maybe(o, "container", p->container);
        }
        if (r < 0)
                return r;

        reply = json_object_new_object();
        if (!reply)
                return -ENOMEM;
        r = json_add(reply, "owner", TAKE_PTR(o));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reply);
        return 0;
}

/* Owner queries run on one worker thread: a cold scan of a big machine takes a good part of a
 * second, and the event loop must keep answering services lookups meanwhile. The thread owns the
 * OwnerContext; replies are built back on the event loop, where the catalog lives. */
typedef struct SocketsJob {
        struct SocketsJob *next;
        VarlinkConnection *conn; /* referenced until answered */
        OwnerFilter filter;
        OwnerNetns ns;
        char *netns_parameter; /* as the caller wrote it; ns.name points into it */
        int netns_fd;          /* ns.fd, owned */
        OwnerCaller caller;
        /* The catalog that names the rows' ports: the caller's scope's, as the Services methods
         * answer it, taken when the call came (the worker never touches it). */
        CatalogHold *hold;
        int result;
        OwnerSocket *sockets;
        size_t n_sockets;
} SocketsJob;

struct SocketsWorker {
        Manager *manager;
        OwnerContext *owner;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        SocketsJob *queue, **queue_tail; /* waiting, oldest first */
        SocketsJob *done, **done_tail;   /* answered by the thread, not yet by us */
        bool quit, started;
        pthread_t thread;
        int event_fd;
        sd_event_source *event_source;
};

static SocketsJob *sockets_job_free(SocketsJob *j)
{
        if (!j)
                return NULL;
        varlink_connection_unref(j->conn);
        free(j->netns_parameter);
        safe_close(j->netns_fd);
        catalog_hold_unref(j->hold);
        owner_sockets_free(j->sockets, j->n_sockets);
        return mfree(j);
}

static void *sockets_worker_thread(void *userdata)
{
        SocketsWorker *w = userdata;

        pthread_mutex_lock(&w->lock);
        while (!w->quit) {
                SocketsJob *j = w->queue;
                if (!j) {
                        pthread_cond_wait(&w->wake, &w->lock);
                        continue;
                }
                w->queue = j->next;
                if (!w->queue)
                        w->queue_tail = &w->queue;
                j->next = NULL;
                pthread_mutex_unlock(&w->lock);

                j->result =
                        owner_query(w->owner, &j->filter, &j->ns, &j->caller, &j->sockets, &j->n_sockets);

                pthread_mutex_lock(&w->lock);
                *w->done_tail = j;
                w->done_tail = &j->next;
                uint64_t one = 1;
                (void) !write(w->event_fd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static int job_answer(Manager *m, SocketsJob *j)
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
        if (j->n_sockets == 0)
                return varlink_connection_error(conn, ERROR_NO_SOCKET_FOUND, NULL);

        /* Rows are built one ahead so that the last one goes out as the final reply. */
        _cleanup_json_ struct json_object *pending = NULL;
        for (size_t i = 0; i < j->n_sockets; i++) {
                const OwnerSocket *s = &j->sockets[i];
                for (size_t k = 0; k < MAX(s->n_processes, (size_t) 1); k++) {
                        struct json_object *row = NULL;
                        r = owner_row(j->hold ? j->hold->catalog : NULL, s,
                                s->n_processes > 0 ? &s->processes[k] : NULL, &row);
                        if (r < 0)
                                return r;
                        if (pending) {
                                r = varlink_connection_notify(conn, pending);
                                json_object_put(pending);
                                pending = NULL;
                                if (r < 0)
                                        return r;
                        }
                        pending = row;
                }
        }
        return varlink_connection_reply(conn, pending);
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
        pthread_mutex_unlock(&w->lock);

        while (done) {
                SocketsJob *j = done;
                done = j->next;
                int r = job_answer(w->manager, j);
                if (r == -ENOMEM) {
                        log_oom();
                        /* Nothing sensible reaches the client now; an error it can act on. */
                        (void) varlink_connection_error(j->conn, ERROR_QUERY_FAILED, NULL);
                } else if (r < 0 && r != -ENOTCONN)
                        log_debug_errno(r, "Failed to answer an owner query, ignoring: %m");
                sockets_job_free(j);
        }
        return 0;
}

static int sockets_worker_submit(SocketsWorker *w, SocketsJob *j)
{
        if (!w->started) {
                int r = pthread_create(&w->thread, NULL, sockets_worker_thread, w);
                if (r != 0)
                        return -r;
                w->started = true;
        }
        pthread_mutex_lock(&w->lock);
        *w->queue_tail = j;
        w->queue_tail = &j->next;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        return 0;
}

static int method_list(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        Manager *m = userdata;
        ListParameters p;
        struct ucred ucred;
        const char *bad = NULL;
        int r;

        r = parse_list_parameters(parameters, &p, &bad);
        if (r < 0)
                return varlink_connection_error_invalid_parameter(conn, bad ?: "parameters");
        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(conn, VARLINK_ERROR_EXPECTED_MORE, NULL);
        r = varlink_connection_get_peer_credentials(conn, &ucred);
        if (r < 0)
                return r;

        SocketsJob *j = calloc(1, sizeof(SocketsJob));
        if (!j)
                return log_oom();
        j->netns_fd = -1;
        j->filter = p.filter;
        j->caller = (OwnerCaller){ .uid = ucred.uid, .gid = ucred.gid, .pid = ucred.pid };
        ScopeState *scope = NULL;
        r = manager_scope_for_connection(m, conn, &scope);
        if (r < 0) {
                sockets_job_free(j);
                return r == -ENOMEM ? log_oom() : r;
        }
        j->hold = scope ? scope->hold : m->catalog_hold;
        if (j->hold)
                j->hold->n_ref++;
        if (p.netns && !(j->netns_parameter = strdup(p.netns))) {
                sockets_job_free(j);
                return log_oom();
        }
        if (parse_netns(j->netns_parameter, &j->ns) < 0) {
                sockets_job_free(j);
                return varlink_connection_error_invalid_parameter(conn, "netns");
        }
        j->conn = varlink_connection_ref(conn);
        if (j->ns.kind == OWNER_NETNS_CALLER) {
                r = peer_netns_fd(conn);
                if (r >= 0) {
                        j->netns_fd = r;
                        j->ns = (OwnerNetns){ .kind = OWNER_NETNS_FD, .fd = j->netns_fd };
                } else if (r == -EMFILE || r == -ENFILE) {
                        sockets_job_free(j);
                        return r; /* dispatch retries the call when descriptors free up */
                } else if (r != -EOPNOTSUPP) {
                        /* Lost (the caller is gone) or not ours to read: answered as the query
                         * would have been, without it. */
                        j->result = r;
                        r = job_answer(m, j);
                        sockets_job_free(j);
                        return r;
                }
        }

        r = sockets_worker_submit(m->sockets, j);
        if (r < 0) {
                sockets_job_free(j);
                return log_error_errno(r, "Failed to start the owner-query thread: %m");
        }
        return 0; /* answered from on_jobs_done() */
}

int varlink_sockets_register(Manager *m)
{
        SocketsWorker *w;
        int r;

        if (!m->sockets) {
                w = calloc(1, sizeof(SocketsWorker));
                if (!w)
                        return -ENOMEM;
                w->manager = m;
                w->event_fd = -1;
                w->queue_tail = &w->queue;
                w->done_tail = &w->done;
                pthread_mutex_init(&w->lock, NULL);
                pthread_cond_init(&w->wake, NULL);
                m->sockets = w;

                r = owner_context_new(&w->owner);
                if (r < 0)
                        return r;
                w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (w->event_fd < 0)
                        return -errno;
                r = sd_event_add_io(m->event, &w->event_source, w->event_fd, EPOLLIN, on_jobs_done, w);
                if (r < 0)
                        return r;
        }
        r = varlink_server_add_interface(m->server, io_portd_sockets_varlink);
        if (r < 0)
                return r;
        return varlink_server_add_method(m->server, SOCKETS_INTERFACE ".List", method_list, m);
}

void varlink_sockets_done(Manager *m)
{
        SocketsWorker *w = m->sockets;

        if (!w)
                return;
        if (w->started) {
                /* A query in progress finishes first: it holds no lock the loop could wait on. */
                pthread_mutex_lock(&w->lock);
                w->quit = true;
                pthread_cond_signal(&w->wake);
                pthread_mutex_unlock(&w->lock);
                (void) pthread_join(w->thread, NULL);
        }
        for (SocketsJob *j = w->queue, *next; j; j = next) {
                next = j->next;
                sockets_job_free(j);
        }
        for (SocketsJob *j = w->done, *next; j; j = next) {
                next = j->next;
                sockets_job_free(j);
        }
        sd_event_source_disable_unref(w->event_source);
        safe_close(w->event_fd);
        owner_context_free(w->owner);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        m->sockets = mfree(w);
}
