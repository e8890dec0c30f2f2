/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The varlink server on sd-event.  Every client is untrusted: input and output are bounded,
 * idle connections expire, connection slots are shared fairly among UIDs (however many one person
 * has), and a client that speaks anything but varlink loses its own connection without disturbing
 * the others. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink-server.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define OUTPUT_MAX_DEFAULT              (16U * 1024U * 1024U)
#define IDLE_TIMEOUT_DEFAULT_USEC       (60ULL * 1000ULL * 1000ULL)
#define MESSAGE_TIMEOUT_DEFAULT_USEC    (5ULL * 1000ULL * 1000ULL)
#define CONNECTIONS_MAX_DEFAULT         4096U
#define CONNECTIONS_PER_UID_MAX_DEFAULT 32U
/* Descriptors kept free of connections for everything else the daemon opens: snapshot memfds,
 * inotify, sock_diag netlink, /proc scans, the files it parses. */
#define FD_RESERVE 64U
/* Above this many unsent bytes a connection stops taking new calls until the client reads:
 * back-pressure for pipelining clients, long before output_max disconnects them. */
#define OUTPUT_HIGH_WATER (256U * 1024U)
/* A stream produces more replies only while less than this is unsent. */
#define STREAM_LOW_WATER    (64U * 1024U)
#define READ_MIN            4096U
#define ACCEPT_BACKOFF_USEC (100ULL * 1000ULL)
/* How long a call that ran out of descriptors waits before it is dispatched again. */
#define RETRY_USEC (50ULL * 1000ULL)

static const char service_interface_description[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information\n"
        "# about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the requested method, but the service does not\n"
        "# implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n"
        "\n"
        "# Client is denied access\n"
        "error PermissionDenied ()\n"
        "\n"
        "# Method is expected to be called with 'more' set to true, but wasn't\n"
        "error ExpectedMore ()\n";

typedef struct Interface {
        char *name;
        char *description;
} Interface;

typedef struct Method {
        char *name;
        VarlinkMethodCallback callback;
        void *userdata;
} Method;

typedef struct Listener {
        VarlinkServer *server;
        int fd;
        int64_t priority; /* its connections'; the listener's own is one lower */
        sd_event_source *io;
        sd_event_source *backoff;
} Listener;

typedef struct UidCount {
        uid_t uid;
        unsigned count;
} UidCount;

/* An fd to send with the reply occupying [start, end) of the output stream. */
typedef struct OutputFd {
        int fd;
        uint64_t start;
        uint64_t end;
} OutputFd;

struct VarlinkServer {
        sd_event *event;
        VarlinkServerLimits limits;
        char *product, *version, *url;

        Interface *interfaces;
        size_t n_interfaces, allocated_interfaces;
        Method *methods;
        size_t n_methods, allocated_methods;
        Listener **listeners;
        size_t n_listeners, allocated_listeners;
        UidCount *uids;
        size_t n_uids, allocated_uids;

        VarlinkConnection *connections;
        unsigned n_connections;
};

struct VarlinkConnection {
        unsigned n_ref;
        VarlinkServer *server; /* NULL once disconnected */
        VarlinkConnection *prev, *next;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        sd_event_source *defer;
        uint32_t io_events;
        int64_t priority; /* of every event source of the connection: its listener's */

        struct ucred ucred;
        uint64_t last_activity;
        /* When the first byte of the incomplete message in the input arrived; 0 when there is
         * none.  Unlike last_activity, trickling more bytes does not move it. */
        uint64_t partial_since;

        VarlinkBuffer input;
        bool input_eof;
        bool dispatching;

        /* The call being answered. */
        bool call_open;
        bool call_answered; /* something (a notify) went out for it already */
        unsigned call_flags;

        /* A call that ran out of descriptors, dispatched again when retry fires. */
        struct json_object *retry_message;
        sd_event_source *retry;

        VarlinkStreamCallback stream;
        bool stream_waiting; /* the producer said -EAGAIN: nothing until varlink_connection_stream_resume() */
        void *stream_userdata;
        void (*stream_destroy)(void *);

        char *out;
        size_t out_begin, out_end, out_allocated;
        uint64_t out_position; /* stream offset of out[out_begin] */
        OutputFd *out_fds;
        size_t n_out_fds, allocated_out_fds;

        void *userdata;
        void (*userdata_destroy)(void *);
};

static void connection_disconnect(VarlinkConnection *c);
static void connection_process(VarlinkConnection *c);
static int connection_on_retry(sd_event_source *source, uint64_t usec, void *userdata);

/* ---- per-UID accounting ---- */

static UidCount *uid_find(VarlinkServer *s, uid_t uid)
{
        for (size_t i = 0; i < s->n_uids; i++)
                if (s->uids[i].uid == uid)
                        return s->uids + i;
        return NULL;
}

static int uid_ref(VarlinkServer *s, uid_t uid)
{
        UidCount *u = uid_find(s, uid);

        if (!u) {
                if (GROW(s->uids, s->allocated_uids, s->n_uids + 1) < 0)
                        return -ENOMEM;
                u = s->uids + s->n_uids++;
                *u = (UidCount){ .uid = uid };
        }
        u->count++;
        return 0;
}

static void uid_unref(VarlinkServer *s, uid_t uid)
{
        UidCount *u = uid_find(s, uid);

        if (!u)
                return;
        if (--u->count == 0)
                *u = s->uids[--s->n_uids];
}

/* ---- connections ---- */

static void connection_stream_end(VarlinkConnection *c)
{
        void (*destroy)(void *) = c->stream_destroy;
        void *userdata = c->stream_userdata;

        c->stream = NULL;
        c->stream_waiting = false;
        c->stream_userdata = NULL;
        c->stream_destroy = NULL;
        if (destroy)
                destroy(userdata);
}

static VarlinkConnection *connection_free(VarlinkConnection *c)
{
        connection_stream_end(c);
        json_object_put(c->retry_message);
        varlink_buffer_done(&c->input);
        free(c->out);
        for (size_t i = 0; i < c->n_out_fds; i++)
                safe_close(c->out_fds[i].fd);
        free(c->out_fds);
        if (c->userdata_destroy)
                c->userdata_destroy(c->userdata);
        free(c);
        return NULL;
}

VarlinkConnection *varlink_connection_ref(VarlinkConnection *c)
{
        if (c)
                c->n_ref++;
        return c;
}

VarlinkConnection *varlink_connection_unref(VarlinkConnection *c)
{
        if (!c)
                return NULL;
        if (--c->n_ref > 0)
                return NULL;
        return connection_free(c);
}

VarlinkServer *varlink_connection_get_server(VarlinkConnection *c)
{
        assert(c);

        return c->server;
}

int varlink_connection_get_fd(VarlinkConnection *c)
{
        assert(c);

        return c->server ? c->fd : -ENOTCONN;
}

void varlink_connection_set_userdata(VarlinkConnection *c, void *userdata, void (*destroy)(void *))
{
        if (c->userdata_destroy && c->userdata != userdata)
                c->userdata_destroy(c->userdata);
        c->userdata = userdata;
        c->userdata_destroy = destroy;
}

void *varlink_connection_get_userdata(VarlinkConnection *c)
{
        assert(c);

        return c->userdata;
}

int varlink_connection_get_peer_credentials(VarlinkConnection *c, struct ucred *ret)
{
        assert(c);
        assert(ret);

        *ret = c->ucred;
        return 0;
}

int varlink_connection_get_peer_pidfd(VarlinkConnection *c)
{
        int pidfd = -1;
        socklen_t l = sizeof(pidfd);

        assert(c);

        if (!c->server)
                return -ENOTCONN;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &l) < 0)
                return errno == ENOPROTOOPT || errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno;
        return pidfd;
}

static void connection_set_events(VarlinkConnection *c)
{
        uint32_t events = 0;

        if (!c->server)
                return;
        /* Read only while no call is being answered and the client keeps up with its replies:
         * a client cannot make us buffer more than one read ahead, nor hold more than one
         * duplicated descriptor (a reply with an fd blocks reading until it is sent). */
        if (!c->input_eof && !c->call_open && !c->retry_message && c->n_out_fds == 0 &&
                c->out_end - c->out_begin < OUTPUT_HIGH_WATER)
                events |= EPOLLIN;
        if (c->out_end > c->out_begin)
                events |= EPOLLOUT;
        if (events != c->io_events) {
                if (sd_event_source_set_io_events(c->io, events) < 0) {
                        connection_disconnect(c);
                        return;
                }
                c->io_events = events;
        }
}

static void connection_touch(VarlinkConnection *c)
{
        if (c->server)
                (void) sd_event_now(c->server->event, CLOCK_MONOTONIC, &c->last_activity);
}

static void connection_disconnect(VarlinkConnection *c)
{
        VarlinkServer *s = c->server;

        if (!s)
                return;

        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_connections--;
        uid_unref(s, c->ucred.uid);

        c->io = sd_event_source_disable_unref(c->io);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->defer = sd_event_source_disable_unref(c->defer);
        c->retry = sd_event_source_disable_unref(c->retry);
        json_object_put(TAKE_PTR(c->retry_message));
        c->fd = safe_close(c->fd);
        c->server = NULL;
        c->call_open = false;
        /* What a stream holds (a whole catalog, say) goes with the client, not with the last
         * reference to the connection. */
        connection_stream_end(c);
        varlink_connection_unref(c);
}

/* Writes queued output; an fd goes out with the first byte of its reply and nothing after that
 * reply, which is how the client attaches it to the right message. */
static int connection_flush(VarlinkConnection *c)
{
        while (c->server && c->out_end > c->out_begin) {
                size_t n = c->out_end - c->out_begin;
                OutputFd *f = c->n_out_fds > 0 ? c->out_fds : NULL;
                ssize_t k;

                if (f && f->start > c->out_position)
                        n = MIN(n, (size_t) (f->start - c->out_position));
                else if (f) {
                        union {
                                struct cmsghdr h;
                                char buf[CMSG_SPACE(sizeof(int))];
                        } control = {};
                        struct iovec iov = {
                                .iov_base = c->out + c->out_begin,
                                .iov_len = MIN(n, (size_t) (f->end - c->out_position)),
                        };
                        struct msghdr mh = {
                                .msg_iov = &iov,
                                .msg_iovlen = 1,
                                .msg_control = &control,
                                .msg_controllen = sizeof(control),
                        };
                        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_RIGHTS;
                        cm->cmsg_len = CMSG_LEN(sizeof(int));
                        memcpy(CMSG_DATA(cm), &f->fd, sizeof(int));

                        k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (k >= 0) {
                                safe_close(f->fd);
                                memmove(c->out_fds, c->out_fds + 1, (c->n_out_fds - 1) * sizeof(OutputFd));
                                c->n_out_fds--;
                        }
                        goto sent;
                }

                k = send(c->fd, c->out + c->out_begin, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        sent:
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                c->out_begin += (size_t) k;
                c->out_position += (uint64_t) k;
                connection_touch(c);
        }

        if (c->out_begin == c->out_end)
                c->out_begin = c->out_end = 0;
        return 0;
}

/* A stream produces more replies only while less than this is unsent: well below output_max, so
 * that one more batch never overflows it. */
static size_t stream_low_water(const VarlinkConnection *c)
{
        return MIN((size_t) STREAM_LOW_WATER, c->server->limits.output_max / 4);
}

static void connection_schedule(VarlinkConnection *c);

/* Flushes, then decides what to wait for; outside of dispatch, the answer goes out at once. */
static void connection_kick(VarlinkConnection *c)
{
        if (!c->server)
                return;
        if (connection_flush(c) < 0) {
                connection_disconnect(c);
                return;
        }
        /* A stream paused on its low-water mark waits for EPOLLOUT, but this flush may just have
         * sent what was left (the client read meanwhile): with nothing queued, no event would ever
         * come, and the stream would stall.  It goes on at the next turn of the loop instead. */
        if (!c->dispatching && c->stream && c->call_open && !c->stream_waiting &&
                c->out_end - c->out_begin < stream_low_water(c)) {
                connection_schedule(c);
                connection_set_events(c);
                return;
        }
        /* After EOF, a connection with nothing left to answer goes; an incomplete last message
         * can never be completed. */
        if (c->input_eof && !c->call_open && !c->retry_message && c->out_begin == c->out_end &&
                (varlink_buffer_pending(&c->input) == 0 ||
                        !memchr(c->input.data + c->input.begin, 0, varlink_buffer_pending(&c->input)))) {
                connection_disconnect(c);
                return;
        }
        connection_set_events(c);
}

/* One message, given in pieces (a reply whose parameters were written as text comes in three),
 * queued with its NUL. */
static int connection_enqueue_parts(VarlinkConnection *c, const struct iovec *parts, size_t n_parts, int fd)
{
        size_t n = 0, need;

        for (size_t i = 0; i < n_parts; i++)
                n += parts[i].iov_len;
        need = c->out_end - c->out_begin + n + 1;
        if (need > c->server->limits.output_max) {
                /* The client does not read what it asked for: it goes, others keep their memory. */
                connection_disconnect(c);
                return -ENOBUFS;
        }

        if (c->out_allocated - c->out_end < n + 1) {
                if (c->out_begin > 0) {
                        memmove(c->out, c->out + c->out_begin, c->out_end - c->out_begin);
                        c->out_end -= c->out_begin;
                        c->out_begin = 0;
                }
                if (c->out_allocated - c->out_end < n + 1) {
                        size_t a = MAX(c->out_end + n + 1, MAX(c->out_allocated * 2, (size_t) 4096));
                        char *p = realloc(c->out, a);
                        if (!p)
                                return -ENOMEM;
                        c->out = p;
                        c->out_allocated = a;
                }
        }

        if (fd >= 0) {
                int copy;

                if (GROW(c->out_fds, c->allocated_out_fds, c->n_out_fds + 1) < 0)
                        return -ENOMEM;
                /* EMFILE/ENFILE reach the method, which passes them back to dispatch: the call is
                 * then retried, and the connection lives. */
                copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (copy < 0)
                        return -errno;
                uint64_t start = c->out_position + (c->out_end - c->out_begin);
                c->out_fds[c->n_out_fds++] = (OutputFd){ .fd = copy, .start = start, .end = start + n + 1 };
        }

        /* The client's clock for reading starts when it has something to read: a reply that
         * comes long after the call must not find the connection already past its idle time. */
        if (c->out_end == c->out_begin)
                connection_touch(c);
        for (size_t i = 0; i < n_parts; i++) {
                memcpy(c->out + c->out_end, parts[i].iov_base, parts[i].iov_len);
                c->out_end += parts[i].iov_len;
        }
        c->out[c->out_end++] = 0;
        return 0;
}

static int connection_enqueue(VarlinkConnection *c, struct json_object *m, int fd)
{
        size_t n;
        const char *s = json_object_to_json_string_length(
                m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!s)
                return -ENOMEM;
        return connection_enqueue_parts(c, &(struct iovec){ .iov_base = (void *) s, .iov_len = n }, 1, fd);
}

static int connection_on_defer(sd_event_source *source, void *userdata);

/* Processes the connection on the next turn of the loop, outside the caller's stack.  Most
 * connections never need this (only asynchronous answers and streams do), so the source is
 * made on first use. */
static void connection_schedule(VarlinkConnection *c)
{
        if (!c->server)
                return;
        if (c->defer) {
                if (sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT) >= 0)
                        return;
        } else if (sd_event_add_defer(c->server->event, &c->defer, connection_on_defer, c) >= 0) {
                (void) sd_event_source_set_priority(c->defer, c->priority);
                return; /* a new defer source fires once: SD_EVENT_ONESHOT */
        }
        /* Without it the connection would wait for an event that may never come. */
        connection_disconnect(c);
}

/* Whether a reply may go out now: 1 yes, 0 when the call wants none (oneway: taken as sent). */
static int connection_reply_check(VarlinkConnection *c, bool continues)
{
        if (!c->server)
                return -ENOTCONN;
        if (!c->call_open)
                return -EBADMSG;
        if (c->call_flags & VARLINK_CALL_ONEWAY) {
                if (!continues)
                        c->call_open = false;
                return 0;
        }
        if (continues && !(c->call_flags & VARLINK_CALL_MORE))
                return -EPROTO;
        return 1;
}

static void connection_reply_queued(VarlinkConnection *c, bool continues);

static int connection_send_reply(
        VarlinkConnection *c, struct json_object *parameters, bool continues, const char *error, int fd)
{
        struct json_object *m = NULL;
        int r;

        r = connection_reply_check(c, continues);
        if (r <= 0)
                return r;
        r = varlink_message_build_reply(parameters, continues, error, &m);
        if (r < 0)
                return r;
        r = connection_enqueue(c, m, fd);
        json_object_put(m);
        if (r < 0)
                return r;
        connection_reply_queued(c, continues);
        return 0;
}

/* Streams of thousands of replies write their parameters as text (json-writer.h): the message
 * around them is the same as varlink_message_build_reply() makes, "parameters" then
 * "continues". */
static int connection_send_reply_json(VarlinkConnection *c, const char *parameters, size_t n, bool continues)
{
        static const char head[] = "{\"parameters\":", more[] = ",\"continues\":true}", last[] = "}";
        int r;

        r = connection_reply_check(c, continues);
        if (r <= 0)
                return r;
        struct iovec parts[] = {
                { .iov_base = (void *) head, .iov_len = sizeof(head) - 1 },
                { .iov_base = (void *) parameters, .iov_len = n },
                { .iov_base = (void *) (continues ? more : last),
                        .iov_len = continues ? sizeof(more) - 1 : sizeof(last) - 1 },
        };
        r = connection_enqueue_parts(c, parts, ELEMENTSOF(parts), -1);
        if (r < 0)
                return r;
        connection_reply_queued(c, continues);
        return 0;
}

int varlink_connection_reply_json(VarlinkConnection *c, const char *parameters, size_t n)
{
        assert(c);
        assert(parameters);

        return connection_send_reply_json(c, parameters, n, false);
}

int varlink_connection_notify_json(VarlinkConnection *c, const char *parameters, size_t n)
{
        assert(c);
        assert(parameters);

        return connection_send_reply_json(c, parameters, n, true);
}

static void connection_reply_queued(VarlinkConnection *c, bool continues)
{
        if (!continues)
                c->call_open = false;
        else
                c->call_answered = true;

        if (!c->dispatching) {
                /* An asynchronous answer: send it now, and pick up calls that waited behind it. */
                connection_kick(c);
                if (c->server && !c->call_open)
                        connection_schedule(c);
        }
}

int varlink_connection_reply(VarlinkConnection *c, struct json_object *parameters)
{
        assert(c);

        return connection_send_reply(c, parameters, false, NULL, -1);
}

int varlink_connection_reply_fd(VarlinkConnection *c, struct json_object *parameters, int fd)
{
        assert(c);

        if (fd < 0)
                return -EBADF;
        return connection_send_reply(c, parameters, false, NULL, fd);
}

int varlink_connection_notify(VarlinkConnection *c, struct json_object *parameters)
{
        assert(c);

        return connection_send_reply(c, parameters, true, NULL, -1);
}

int varlink_connection_stream(
        VarlinkConnection *c, VarlinkStreamCallback produce, void *userdata, void (*destroy)(void *))
{
        if (!c->server)
                return -ENOTCONN;
        if (!c->call_open || c->stream)
                return -EBADMSG;
        if (!(c->call_flags & VARLINK_CALL_MORE))
                return -EPROTO;
        if (!produce)
                return -EINVAL;
        c->stream = produce;
        c->stream_userdata = userdata;
        c->stream_destroy = destroy;
        if (!c->dispatching)
                connection_schedule(c);
        return 0;
}

void varlink_connection_stream_resume(VarlinkConnection *c)
{
        assert(c);

        if (!c->server || !c->stream || !c->stream_waiting)
                return;
        c->stream_waiting = false;
        if (!c->dispatching)
                connection_schedule(c);
}

int varlink_connection_error(VarlinkConnection *c, const char *error, struct json_object *parameters)
{
        assert(c);

        if (!varlink_method_name_is_valid(error))
                return -EINVAL;
        return connection_send_reply(c, parameters, false, error, -1);
}

static int connection_error_with_string(
        VarlinkConnection *c, const char *error, const char *key, const char *value)
{
        struct json_object *p = json_object_new_object(), *v;
        int r;

        if (!p)
                return -ENOMEM;
        v = json_object_new_string(value);
        if (!v || json_object_object_add(p, key, v) < 0) {
                json_object_put(v);
                json_object_put(p);
                return -ENOMEM;
        }
        r = varlink_connection_error(c, error, p);
        json_object_put(p);
        return r;
}

int varlink_connection_error_invalid_parameter(VarlinkConnection *c, const char *parameter)
{
        assert(c);
        assert(parameter);

        return connection_error_with_string(c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

/* ---- dispatch ---- */

static const Method *server_find_method(VarlinkServer *s, const char *name)
{
        for (size_t i = 0; i < s->n_methods; i++)
                if (streq(s->methods[i].name, name))
                        return s->methods + i;
        return NULL;
}

static const Interface *server_find_interface_n(VarlinkServer *s, const char *name, size_t n)
{
        for (size_t i = 0; i < s->n_interfaces; i++)
                if (strlen(s->interfaces[i].name) == n && strneq(s->interfaces[i].name, name, n))
                        return s->interfaces + i;
        return NULL;
}

/* Whether the description has a "method NAME" line: such a method exists in the interface even
 * if nobody registered it, which the client learns as MethodNotImplemented, not MethodNotFound. */
static bool interface_declares_method(const Interface *iface, const char *name)
{
        size_t l = strlen(name);

        const char *line = iface->description;

        while (line) {
                const char *p = line + strspn(line, " \t");

                if (strneq(p, "method", 6) && (p[6] == ' ' || p[6] == '\t')) {
                        p += 6 + strspn(p + 6, " \t");
                        if (strneq(p, name, l) && (p[l] == '(' || p[l] == ' ' || p[l] == '\t'))
                                return true;
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return false;
}

/* Handles one message; < 0 means the connection must go. */
static int connection_dispatch(VarlinkConnection *c, struct json_object *m)
{
        VarlinkServer *s = c->server;
        struct json_object *empty = NULL;
        const Method *method;
        VarlinkCall call;
        int r;

        if (varlink_call_parse(m, &call) < 0)
                return -EBADMSG;

        c->call_open = true;
        c->call_answered = false;
        c->call_flags = call.flags;

        method = server_find_method(s, call.method);
        if (!method) {
                size_t n = varlink_method_interface_length(call.method);
                const Interface *iface = server_find_interface_n(s, call.method, n);
                if (!iface) {
                        _cleanup_free_ char *name = strndup(call.method, n);
                        if (!name)
                                return -ENOMEM;
                        r = connection_error_with_string(
                                c, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", name);
                } else
                        /* The bare method name, as the reference implementations send it. */
                        r = connection_error_with_string(c,
                                interface_declares_method(iface, call.method + n + 1)
                                        ? VARLINK_ERROR_METHOD_NOT_IMPLEMENTED
                                        : VARLINK_ERROR_METHOD_NOT_FOUND,
                                "method", call.method + n + 1);
                if (r < 0 && r != -ENOTCONN)
                        return r;
                c->call_open = false;
                return 0;
        }

        if (!call.parameters) {
                empty = json_object_new_object();
                if (!empty)
                        return -ENOMEM;
        }

        r = method->callback(c, call.parameters ?: empty, call.flags, method->userdata);
        json_object_put(empty);
        if (!c->server)
                return 0; /* gone */
        if ((r == -EMFILE || r == -ENFILE || r == -EAGAIN) && c->call_open && !c->call_answered && !c->stream) {
                /* Out of descriptors is the daemon's state, not the client's fault: the call
                 * waits, like a full socket makes a reply wait, and this client sends nothing
                 * else meanwhile.  So does a call whose method must wait for something else
                 * (-EAGAIN). */
                if (!c->retry) {
                        r = sd_event_add_time_relative(
                                s->event, &c->retry, CLOCK_MONOTONIC, RETRY_USEC, 0, connection_on_retry, c);
                        if (r < 0)
                                return r;
                        (void) sd_event_source_set_priority(c->retry, c->priority);
                } else {
                        r = sd_event_source_set_time_relative(c->retry, RETRY_USEC);
                        if (r >= 0)
                                r = sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
                        if (r < 0)
                                return r;
                }
                c->retry_message = json_object_get(m);
                c->call_open = false;
                return 0;
        }
        if (r < 0 && c->call_open)
                return r;
        /* A oneway call is over when its callback returns, answered or not. */
        if (call.flags & VARLINK_CALL_ONEWAY)
                c->call_open = false;
        if (!c->call_open && c->stream)
                connection_stream_end(c);
        return 0;
}

static bool connection_input_incomplete(VarlinkConnection *c)
{
        size_t n = varlink_buffer_pending(&c->input);

        return n > 0 && !memchr(c->input.data + c->input.begin, 0, n);
}

/* Arms the connection's timer for the earlier of its idle and its message deadline. */
static void connection_arm_timer(VarlinkConnection *c)
{
        VarlinkServer *s = c->server;
        uint64_t t;

        if (!s || !c->timer)
                return;
        t = c->last_activity + s->limits.idle_timeout_usec;
        if (c->partial_since > 0)
                t = MIN(t, c->partial_since + s->limits.message_timeout_usec);
        if (sd_event_source_set_time(c->timer, t) < 0 ||
                sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0)
                connection_disconnect(c);
}

static void connection_process(VarlinkConnection *c)
{
        varlink_connection_ref(c);
        c->dispatching = true;

        while (c->server) {
                struct json_object *m = NULL;
                int r;

                if (c->stream) {
                        if (!c->call_open) {
                                connection_stream_end(c);
                                continue;
                        }
                        size_t low_water = stream_low_water(c);
                        if (c->out_end - c->out_begin >= low_water) {
                                if (connection_flush(c) < 0) {
                                        connection_disconnect(c);
                                        break;
                                }
                                if (c->out_end - c->out_begin >= low_water)
                                        break; /* EPOLLOUT brings us back */
                        }
                        if (c->stream_waiting)
                                break;
                        size_t before = c->out_end - c->out_begin;
                        r = c->stream(c, c->stream_userdata);
                        if (r == -EAGAIN && c->call_open && c->out_end - c->out_begin == before) {
                                /* Nothing to send yet: the producer resumes the stream itself. */
                                c->stream_waiting = true;
                                break;
                        }
                        if (r < 0 || (c->call_open && c->out_end - c->out_begin <= before)) {
                                /* A producer that fails or adds nothing would never end. */
                                connection_disconnect(c);
                                break;
                        }
                        continue;
                }
                if (c->call_open)
                        break;

                if (c->out_end - c->out_begin >= OUTPUT_HIGH_WATER || c->n_out_fds > 0) {
                        /* Stop taking calls only if the socket really is full, or while a reply
                         * with a descriptor waits: EPOLLOUT resumes. */
                        if (connection_flush(c) < 0) {
                                connection_disconnect(c);
                                break;
                        }
                        if (c->out_end - c->out_begin >= OUTPUT_HIGH_WATER || c->n_out_fds > 0)
                                break;
                }

                if (c->retry_message) {
                        if (sd_event_source_get_enabled(c->retry, NULL) > 0)
                                break; /* still waiting for descriptors */
                        m = TAKE_PTR(c->retry_message);
                        r = 1;
                } else
                        r = varlink_buffer_next_object(&c->input, &m);
                if (r == 0)
                        break;
                if (r > 0) {
                        c->partial_since = 0;
                        r = connection_dispatch(c, m);
                        json_object_put(m);
                }
                if (r < 0) {
                        connection_disconnect(c);
                        break;
                }
        }

        /* Start the message clock when an incomplete message is left behind. */
        if (c->server && c->partial_since == 0 && connection_input_incomplete(c)) {
                (void) sd_event_now(c->server->event, CLOCK_MONOTONIC, &c->partial_since);
                connection_arm_timer(c);
        }

        c->dispatching = false;
        connection_kick(c);
        varlink_connection_unref(c);
}

static int connection_on_retry(sd_event_source *source, uint64_t usec, void *userdata)
{
        connection_process(userdata);
        return 0;
}

static int connection_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        VarlinkConnection *c = userdata;

        if (revents & EPOLLIN) {
                char *p;
                size_t avail;
                ssize_t k;

                if (varlink_buffer_prepare(&c->input, READ_MIN, &p, &avail) < 0) {
                        connection_disconnect(c);
                        return 0;
                }
                k = recv(fd, p, avail, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno != EAGAIN && errno != EINTR) {
                                connection_disconnect(c);
                                return 0;
                        }
                } else if (k == 0)
                        c->input_eof = true;
                else {
                        varlink_buffer_commit(&c->input, (size_t) k);
                        connection_touch(c);
                }
        } else if (revents & (EPOLLHUP | EPOLLERR)) {
                /* Both directions are shut: no answer can reach the peer any more, and epoll would
                 * keep reporting this until the fd is closed. */
                connection_disconnect(c);
                return 0;
        }

        connection_process(c);
        return 0;
}

static int connection_on_defer(sd_event_source *source, void *userdata)
{
        connection_process(userdata);
        return 0;
}

static int connection_on_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
        VarlinkConnection *c = userdata;
        uint64_t timeout = c->server->limits.idle_timeout_usec;
        uint64_t message_timeout = c->server->limits.message_timeout_usec;
        uint64_t next;

        /* A message must be complete within its deadline however its bytes trickle in: each byte
         * counts as activity, so the idle timeout alone would let a client hold a slot forever. */
        if (c->partial_since > 0 && !connection_input_incomplete(c))
                c->partial_since = 0;
        /* While we hold off reading (back-pressure), the rest of the message may be waiting in
         * the socket: the client gets its full deadline again once we read. */
        if (c->partial_since > 0 && !(c->io_events & EPOLLIN))
                c->partial_since = usec;
        if (c->partial_since > 0 && usec >= c->partial_since + message_timeout) {
                connection_disconnect(c);
                return 0;
        }
        /* Checking the stamp here instead of re-arming on every message keeps the hot path free
         * of timer updates.  Idle is: nothing received or sent for the timeout, and either no call
         * in progress or replies waiting that the client does not read (a stream's producer waits
         * for the client, so a client that never reads would otherwise hold its slot forever). */
        if (usec >= c->last_activity + timeout && !c->retry_message &&
                (!c->call_open || c->out_end > c->out_begin)) {
                connection_disconnect(c);
                return 0;
        }
        next = MAX(c->last_activity + timeout, usec + 1);
        if (c->partial_since > 0)
                next = MIN(next, c->partial_since + message_timeout);
        if (sd_event_source_set_time(source, next) < 0 ||
                sd_event_source_set_enabled(source, SD_EVENT_ONESHOT) < 0)
                connection_disconnect(c);
        return 0;
}

/* The users' slots are full and a connection of a UID holding `count` of them arrives.  A cap
 * per UID alone cannot protect the users from each other: one person owns many UIDs (a
 * subordinate range of 65,536 for containers; root in a user namespace can switch between them),
 * and 126 UIDs at 32 each filled every slot.  Grouping UIDs by owner (/etc/subuid) would miss the
 * ranges that are not listed there (a container manager's own), and a per-UID cap small enough
 * for 65,536 UIDs would leave none for a busy one.  So the slots are shared max-min fairly instead:
 * a newcomer takes the slot of the UID that holds the most, if it holds more than the newcomer,
 * closing that UID's connection with the oldest activity.  Whatever the number of UIDs, a UID with
 * fewer connections than the heaviest always gets in; a flood only evicts its own connections
 * (they are the heaviest and the oldest: a lookup's connection lives for one call), and many UIDs
 * flooding share the slots among themselves and the UIDs that arrive.  Equal holders do not evict
 * each other, so the slots settle instead of churning.  Both scans are linear in the connections
 * (at most 4096) and happen only when the users' slots are full. */
static bool server_make_room(VarlinkServer *s, unsigned count)
{
        VarlinkConnection *victim = NULL;
        const UidCount *heaviest = NULL;

        for (size_t i = 0; i < s->n_uids; i++)
                if (s->uids[i].uid != 0 && (!heaviest || s->uids[i].count > heaviest->count))
                        heaviest = s->uids + i;
        if (!heaviest || heaviest->count <= count)
                return false;
        for (VarlinkConnection *c = s->connections; c; c = c->next)
                if (c->ucred.uid == heaviest->uid && (!victim || c->last_activity < victim->last_activity))
                        victim = c;
        if (!victim)
                return false;
        connection_disconnect(victim);
        return true;
}

static int server_add_connection(VarlinkServer *s, int fd, int64_t priority)
{
        VarlinkConnection *c;
        struct ucred ucred = {};
        socklen_t l = sizeof(ucred);
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &l) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }

        /* Over a cap the connection is closed at once: the client sees EOF and the backlog
         * keeps moving.  Root is bound only by the total, and the last slots are root's, so that
         * users cannot lock it out however many UIDs they have. */
        if (s->n_connections >= s->limits.connections_max) {
                safe_close(fd);
                return -EBUSY;
        }
        if (ucred.uid != 0) {
                UidCount *u = uid_find(s, ucred.uid);
                if ((u && u->count >= s->limits.connections_per_uid_max) ||
                        (s->n_connections >= s->limits.connections_max - s->limits.connections_root_reserve &&
                                !server_make_room(s, u ? u->count : 0))) {
                        safe_close(fd);
                        return -EBUSY;
                }
        }

        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->n_ref = 1;
        c->fd = fd;
        c->ucred = ucred;
        c->priority = priority;
        varlink_buffer_init(&c->input, s->limits.message_max);

        r = uid_ref(s, ucred.uid);
        if (r < 0) {
                safe_close(fd);
                connection_free(c);
                return r;
        }
        c->server = s;
        c->next = s->connections;
        if (c->next)
                c->next->prev = c;
        s->connections = c;
        s->n_connections++;
        connection_touch(c);

        r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, connection_on_io, c);
        if (r >= 0) {
                c->io_events = EPOLLIN;
                r = sd_event_add_time(s->event, &c->timer, CLOCK_MONOTONIC,
                        c->last_activity + s->limits.idle_timeout_usec,
                        MIN(s->limits.idle_timeout_usec / 10, 1000000ULL), connection_on_timer, c);
        }
        if (r >= 0)
                r = sd_event_source_set_priority(c->io, priority);
        if (r >= 0)
                r = sd_event_source_set_priority(c->timer, priority);
        if (r < 0) {
                connection_disconnect(c);
                return r;
        }

        /* A client sends its call right after connect(), usually before we get to accept() it:
         * read now rather than after another turn of the event loop.  This is most of a fresh
         * process's first lookup (GetSnapshot).  Nothing there yet costs one EAGAIN. */
        connection_on_io(c->io, fd, EPOLLIN, c);
        return 0;
}

void varlink_connection_forget(VarlinkConnection *c)
{
        assert(c);

        connection_disconnect(c);
}

static int listener_on_backoff(sd_event_source *source, uint64_t usec, void *userdata)
{
        Listener *l = userdata;

        (void) sd_event_source_set_enabled(l->io, SD_EVENT_ON);
        l->backoff = sd_event_source_disable_unref(l->backoff);
        return 0;
}

static int listener_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Listener *l = userdata;

        /* A bounded batch per wake-up keeps a connection flood from starving the clients that
         * are already connected. */
        for (unsigned i = 0; i < 64; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* The listening socket would stay readable and spin the loop:
                                 * pause accepting until descriptors may be free again. */
                                if (!l->backoff && sd_event_add_time_relative(l->server->event, &l->backoff,
                                                           CLOCK_MONOTONIC, ACCEPT_BACKOFF_USEC, 0,
                                                           listener_on_backoff, l) >= 0)
                                        (void) sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
                        }
                        break;
                }
                (void) server_add_connection(l->server, cfd, l->priority);
        }
        return 0;
}

/* ---- built-in org.varlink.service ---- */

static int method_get_info(
        VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        VarlinkServer *s = c->server;
        struct json_object *p, *list;
        int r = -ENOMEM;

        p = json_object_new_object();
        list = json_object_new_array_ext((int) s->n_interfaces);
        if (!p || !list)
                goto finish;
        for (size_t i = 0; i < s->n_interfaces; i++) {
                struct json_object *v = json_object_new_string(s->interfaces[i].name);
                if (!v || json_object_array_add(list, v) < 0) {
                        json_object_put(v);
                        goto finish;
                }
        }
        if (json_object_object_add(p, "vendor", json_object_new_string("portd")) < 0 ||
                json_object_object_add(p, "product", json_object_new_string(s->product)) < 0 ||
                json_object_object_add(p, "version", json_object_new_string(s->version)) < 0 ||
                json_object_object_add(p, "url", json_object_new_string(s->url)) < 0 ||
                json_object_object_add(p, "interfaces", list) < 0)
                goto finish;
        list = NULL;
        r = varlink_connection_reply(c, p);
finish:
        json_object_put(list);
        json_object_put(p);
        return r;
}

static int method_get_interface_description(
        VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata)
{
        VarlinkServer *s = c->server;
        struct json_object *v, *p;
        const Interface *iface;
        const char *name;
        int r;

        if (!json_object_object_get_ex(parameters, "interface", &v) ||
                !json_object_is_type(v, json_type_string))
                return varlink_connection_error_invalid_parameter(c, "interface");
        name = json_object_get_string(v);
        iface = server_find_interface_n(s, name, strlen(name));
        if (!iface)
                return connection_error_with_string(c, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", name);

        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        if (json_object_object_add(p, "description", json_object_new_string(iface->description)) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        r = varlink_connection_reply(c, p);
        json_object_put(p);
        return r;
}

/* ---- server ---- */

/* With more connections than descriptors, accept() fails with EMFILE for everyone, root
 * included; each connection may hold two (its socket, one fd queued with a reply). */
static unsigned connections_max_from_rlimit(void)
{
        struct rlimit rl;
        rlim_t n;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return CONNECTIONS_MAX_DEFAULT;
        n = rl.rlim_cur > 2 * FD_RESERVE ? (rl.rlim_cur - FD_RESERVE) / 2 : FD_RESERVE / 2;
        return (unsigned) MIN(n, (rlim_t) CONNECTIONS_MAX_DEFAULT);
}

int varlink_server_new(sd_event *event, const VarlinkServerLimits *limits, const char *product,
        const char *version, const char *url, VarlinkServer **ret)
{
        VarlinkServer *s;
        int r;

        assert(ret);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        if (limits)
                s->limits = *limits;
        if (s->limits.message_max == 0)
                s->limits.message_max = VARLINK_MESSAGE_MAX;
        if (s->limits.output_max == 0)
                s->limits.output_max = OUTPUT_MAX_DEFAULT;
        if (s->limits.idle_timeout_usec == 0)
                s->limits.idle_timeout_usec = IDLE_TIMEOUT_DEFAULT_USEC;
        if (s->limits.message_timeout_usec == 0)
                s->limits.message_timeout_usec = MESSAGE_TIMEOUT_DEFAULT_USEC;
        if (s->limits.connections_max == 0)
                s->limits.connections_max = connections_max_from_rlimit();
        if (s->limits.connections_root_reserve == 0)
                s->limits.connections_root_reserve = MAX(1U, MIN(64U, s->limits.connections_max / 8));
        if (s->limits.connections_root_reserve >= s->limits.connections_max)
                s->limits.connections_root_reserve = s->limits.connections_max - 1;
        if (s->limits.connections_per_uid_max == 0)
                s->limits.connections_per_uid_max = CONNECTIONS_PER_UID_MAX_DEFAULT;

        s->product = strdup(product ?: "portd");
        s->version = strdup(version ?: "");
        s->url = strdup(url ?: "");
        if (!s->product || !s->version || !s->url) {
                varlink_server_free(s);
                return -ENOMEM;
        }

        r = varlink_server_add_interface(s, service_interface_description);
        if (r >= 0)
                r = varlink_server_add_method(s, "org.varlink.service.GetInfo", method_get_info, NULL);
        if (r >= 0)
                r = varlink_server_add_method(s, "org.varlink.service.GetInterfaceDescription",
                        method_get_interface_description, NULL);
        if (r < 0) {
                varlink_server_free(s);
                return r;
        }

        *ret = s;
        return 0;
}

VarlinkServer *varlink_server_free(VarlinkServer *s)
{
        if (!s)
                return NULL;

        while (s->connections)
                connection_disconnect(s->connections);
        for (size_t i = 0; i < s->n_listeners; i++) {
                Listener *l = s->listeners[i];
                sd_event_source_disable_unref(l->io);
                sd_event_source_disable_unref(l->backoff);
                safe_close(l->fd);
                free(l);
        }
        free(s->listeners);
        for (size_t i = 0; i < s->n_interfaces; i++) {
                free(s->interfaces[i].name);
                free(s->interfaces[i].description);
        }
        free(s->interfaces);
        for (size_t i = 0; i < s->n_methods; i++)
                free(s->methods[i].name);
        free(s->methods);
        free(s->uids);
        free(s->product);
        free(s->version);
        free(s->url);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

/* The name from the first line that is neither blank nor a comment: "interface NAME". */
static char *interface_name_from_description(const char *d)
{
        const char *p = d;

        while (*p) {
                p += strspn(p, " \t\r\n");
                if (*p == '#') {
                        p += strcspn(p, "\n");
                        continue;
                }
                if (!strneq(p, "interface", 9) || !strchr(" \t", p[9]))
                        return NULL;
                p += 9;
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t\r\n");
                char *name = strndup(p, n);
                if (!name || !varlink_interface_name_is_valid(name))
                        return mfree(name);
                return name;
        }
        return NULL;
}

int varlink_server_add_interface(VarlinkServer *s, const char *description)
{
        _cleanup_free_ char *name = NULL, *d = NULL;

        assert(s);

        name = interface_name_from_description(description);
        if (!name)
                return -EINVAL;
        if (server_find_interface_n(s, name, strlen(name)))
                return -EEXIST;
        d = strdup(description);
        if (!d)
                return -ENOMEM;
        if (GROW(s->interfaces, s->allocated_interfaces, s->n_interfaces + 1) < 0)
                return -ENOMEM;
        s->interfaces[s->n_interfaces++] = (Interface){ .name = TAKE_PTR(name), .description = TAKE_PTR(d) };
        return 0;
}

int varlink_server_add_method(
        VarlinkServer *s, const char *method, VarlinkMethodCallback callback, void *userdata)
{
        char *name;

        assert(s);
        assert(method);

        if (!varlink_method_name_is_valid(method) || !callback)
                return -EINVAL;
        if (!server_find_interface_n(s, method, varlink_method_interface_length(method)))
                return -ENOENT;
        if (server_find_method(s, method))
                return -EEXIST;
        if (GROW(s->methods, s->allocated_methods, s->n_methods + 1) < 0)
                return -ENOMEM;
        name = strdup(method);
        if (!name)
                return -ENOMEM;
        s->methods[s->n_methods++] = (Method){ .name = name, .callback = callback, .userdata = userdata };
        return 0;
}

int varlink_server_listen_fd(VarlinkServer *s, int fd)
{
        return varlink_server_listen_fd_priority(s, fd, SD_EVENT_PRIORITY_NORMAL);
}

int varlink_server_listen_fd_priority(VarlinkServer *s, int fd, int64_t priority)
{
        Listener *l;
        int r;

        assert(s);

        if (fd < 0)
                return -EBADF;
        if (GROW(s->listeners, s->allocated_listeners, s->n_listeners + 1) < 0) {
                safe_close(fd);
                return -ENOMEM;
        }
        l = calloc(1, sizeof(*l));
        if (!l) {
                safe_close(fd);
                return -ENOMEM;
        }
        l->server = s;
        l->fd = fd;
        l->priority = priority;

        /* A passed socket may be blocking; accept() must never block the loop. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                r = -errno;
                safe_close(fd);
                free(l);
                return r;
        }

        r = sd_event_add_io(s->event, &l->io, fd, EPOLLIN, listener_on_io, l);
        if (r < 0) {
                safe_close(fd);
                free(l);
                return r;
        }
        /* Connections already here go before new ones: a flood of connects then delays only
         * other connects, never a call on a connection that is open. */
        (void) sd_event_source_set_priority(l->io, priority + 1);
        s->listeners[s->n_listeners++] = l;
        return 0;
}

/* A non-blocking stream socket and the address of path, for bind() or connect(). */
static int unix_socket_new(const char *path, struct sockaddr_un *ret_sa, socklen_t *ret_len)
{
        int r = sockaddr_un_set(ret_sa, path, ret_len);

        if (r < 0)
                return r;
        r = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        return r < 0 ? -errno : r;
}

int varlink_socket_probe(const char *path)
{
        struct sockaddr_un sa;
        _cleanup_close_ int fd = -1;
        socklen_t sa_len;

        assert(path);

        fd = unix_socket_new(path, &sa, &sa_len);
        if (fd < 0)
                return fd;
        if (connect(fd, (struct sockaddr *) &sa, sa_len) >= 0)
                return 1;
        /* A full backlog (EAGAIN) is a live daemon that is busy, not a stale socket. */
        if (errno == EAGAIN || errno == EINPROGRESS)
                return 1;
        if (errno == ECONNREFUSED || errno == ENOENT)
                return 0;
        return -errno;
}

/* Puts the listening socket bound at tmp in place at path.  It appears there already listening: a
 * client that waits for the file and connects at once is never refused.  RENAME_NOREPLACE, so
 * that a live daemon's socket is never replaced, and only a stale one (nobody listens: a daemon
 * that was killed) is removed first; any other kind of file is left alone. */
static int socket_rename_into_place(const char *tmp, const char *path)
{
        struct stat st;
        int r;

        for (unsigned attempt = 0; attempt < 2; attempt++) {
                if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) >= 0)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
                if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                        return -EADDRINUSE;
                r = varlink_socket_probe(path);
                if (r != 0)
                        return r > 0 ? -EADDRINUSE : r;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        }
        return -EADDRINUSE;
}

int varlink_socket_listen_path(const char *path, mode_t mode)
{
        _cleanup_free_ char *tmp = NULL;
        struct sockaddr_un sa;
        _cleanup_close_ int fd = -1;
        socklen_t sa_len;
        mode_t old_umask;
        int r;

        assert(path);

        /* Bound under a name of its own beside path, listening, then renamed into place. */
        if (asprintf(&tmp, "%s.%08x", path, (unsigned) getpid() ^ (unsigned) now_usec(CLOCK_MONOTONIC)) < 0)
                return -ENOMEM;
        fd = unix_socket_new(tmp, &sa, &sa_len);
        if (fd < 0)
                return fd;

        /* The socket inode gets its mode at creation, from the umask: a chmod() after bind() would
         * follow a symlink someone put at the path in between. */
        old_umask = umask(~mode & 0777);
        r = bind(fd, (struct sockaddr *) &sa, sa_len) < 0 ? -errno : 0;
        (void) umask(old_umask);
        if (r < 0)
                return r;
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        r = socket_rename_into_place(tmp, path);
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return TAKE_FD(fd);
}

int varlink_server_listen_path(VarlinkServer *s, const char *path, mode_t mode)
{
        assert(s);

        int fd = varlink_socket_listen_path(path, mode);
        if (fd < 0)
                return fd;
        return varlink_server_listen_fd(s, fd);
}

unsigned varlink_server_n_connections(VarlinkServer *s)
{
        assert(s);

        return s->n_connections;
}
