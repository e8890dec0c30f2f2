/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink calls from inside an arbitrary process: no logging, no threads, close-on-exec, one
 * deadline for the whole exchange, signals blocked around each socket operation so a caller's
 * handler never runs (or makes us restart) in the middle of one, and errno left to the entry
 * points.  The module speaks the wire itself, with nothing but libc: a call is one JSON object
 * followed by a NUL, each reply likewise, and GetSnapshot's memfd comes with SCM_RIGHTS. */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "nss-client.h"
#include "name-escape.h"
#include "nss-json.h"
#include "nss-servent.h"
#include "util.h"

#define SERVICES_INTERFACE      "io.portd.Services"
#define ERROR_SERVICE_NOT_FOUND SERVICES_INTERFACE ".ServiceNotFound"

void nss_config_read(NssConfig *ret)
{
        const char *socket = secure_getenv("PORTD_SOCKET");

        *ret = (NssConfig){
                .socket = socket && socket[0] == '/' ? socket : PORTD_DEFAULT_SOCKET,
                .bypass = secure_getenv("PORTD_BYPASS") != NULL,
                .no_snapshot = secure_getenv("PORTD_NSS_NO_SNAPSHOT") != NULL,
        };
}

bool nss_client_error_is_unreachable(int r)
{
        switch (-r) {
        case ENOENT:
        case ECONNREFUSED:
        case EACCES:
        case EPERM:
        case ENOTDIR:
        case ENAMETOOLONG:
        case ETIMEDOUT:
        case ECONNRESET:
        case EPIPE:
        case ENOTCONN:
        case EAGAIN:
                return true;
        default:
                return false;
        }
}

/* One connection, one call (with all its replies), one deadline. */
typedef struct NssSession {
        int fd;
        uint64_t deadline;
        sigset_t saved_mask;
        char *buffer; /* bytes received; [begin, end) not handed out yet */
        size_t allocated, begin, end;
        int passed_fd; /* the first descriptor that arrived with SCM_RIGHTS, or -1 */
        bool signals_held; /* blocked from session_open() to session_close(), not per operation */
        bool awaiting_reply; /* a call went out and nothing came back yet */
} NssSession;

/* A reply, parsed; its strings live in the session's buffer until the next receive. */
typedef struct Reply {
        NssJson json;
        int parameters;    /* token index of the parameters object, -1 when absent or null */
        const char *error; /* NULL for success */
        bool continues;
} Reply;

/* Every asynchronous signal waits while one socket operation (connect, sending the call,
 * receiving one reply: each bounded by the deadline) runs, and no longer: between the replies of
 * a long List the caller's handlers run as usual.  The synchronous signals stay deliverable;
 * blocked, they would kill rather than report. */
static void block_signals(NssSession *s)
{
        sigset_t all;

        if (s->signals_held)
                return;
        sigfillset(&all);
        static const int synchronous[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS };
        for (size_t i = 0; i < ELEMENTSOF(synchronous); i++)
                sigdelset(&all, synchronous[i]);
        (void) pthread_sigmask(SIG_BLOCK, &all, &s->saved_mask);
}

static void restore_signals(NssSession *s)
{
        if (s->signals_held)
                return;
        (void) pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
}

/* Until fd is ready for events, or -ETIMEDOUT at the deadline.  Readiness includes POLLHUP and
 * POLLERR: the send or receive that follows reports them. */
static int session_wait(NssSession *s, short events)
{
        for (;;) {
                uint64_t n = now_usec(CLOCK_MONOTONIC);
                if (n >= s->deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = s->fd, .events = events };
                int r = poll(&p, 1, (int) MIN((s->deadline - n + 999) / 1000, (uint64_t) INT32_MAX));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

static int session_connect(NssSession *s, const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = string_length(path);

        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n + 1);
        socklen_t sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);

        /* Non-blocking from the start, so every wait is a poll() against the deadline. */
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return -errno;
        if (connect(s->fd, (struct sockaddr *) &sa, sa_len) >= 0)
                return 0;
        if (errno == EINPROGRESS) {
                int r = session_wait(s, POLLOUT), error = 0;
                socklen_t len = sizeof(error);
                if (r < 0)
                        return r;
                if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                        return -errno;
                return -error;
        }
        /* A full backlog: Linux does not queue a non-blocking connect to a Unix listener, it
         * refuses with EAGAIN; try again until the deadline. */
        while (errno == EAGAIN) {
                struct timespec ts = { .tv_nsec = 1000 * 1000 };
                if (now_usec(CLOCK_MONOTONIC) >= s->deadline)
                        return -ETIMEDOUT;
                (void) nanosleep(&ts, NULL);
                if (connect(s->fd, (struct sockaddr *) &sa, sa_len) >= 0 || errno == EISCONN)
                        return 0;
        }
        return -errno;
}

/* hold_signals: for a single short call (GetSnapshot), signals wait from the connect to the
 * end of the session, which saves two mask changes per socket operation on the first lookup. */
static int session_open(const NssConfig *cfg, NssSession *s, bool hold_signals)
{
        int r;

        *s = (NssSession){ .fd = -1, .passed_fd = -1 };
        if (cfg->bypass)
                return -ENOENT; /* treated as unreachable: the daemon must not call itself */

        s->deadline = now_usec(CLOCK_MONOTONIC) + NSS_CLIENT_TIMEOUT_USEC;
        block_signals(s);
        r = session_connect(s, cfg->socket);
        if (r >= 0 && hold_signals)
                s->signals_held = true;
        else
                restore_signals(s);
        if (r < 0)
                s->fd = safe_close(s->fd);
        return r;
}

static void session_close(NssSession *s)
{
        if (s->signals_held) {
                s->signals_held = false;
                restore_signals(s);
        }
        s->fd = safe_close(s->fd);
        s->passed_fd = safe_close(s->passed_fd);
        s->buffer = mfree(s->buffer);
}

static int session_send(NssSession *s, const char *m, size_t n)
{
        int r = 0;

        block_signals(s);
        while (n > 0) {
                ssize_t k = send(s->fd, m, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN) {
                                r = -errno;
                                break;
                        }
                        r = session_wait(s, POLLOUT);
                        if (r < 0)
                                break;
                        continue;
                }
                m += k;
                n -= (size_t) k;
        }
        if (r >= 0)
                s->awaiting_reply = true;
        restore_signals(s);
        return r;
}

/* Keeps the first descriptor that arrives (the daemon sends GetSnapshot's memfd with the first
 * byte of that reply, and it is the only call of its connection) and closes any other. */
static int take_fds(NssSession *s, struct msghdr *mh)
{
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (s->passed_fd < 0)
                                s->passed_fd = fd;
                        else
                                safe_close(fd);
                }
        }
        /* Descriptors the kernel had to drop for want of room: the reply cannot be trusted. */
        return mh->msg_flags & MSG_CTRUNC ? -EBADMSG : 0;
}

/* The next NUL-terminated message, NUL excluded from ret_size; valid until the next receive. */
static int session_receive_locked(NssSession *s, char **ret, size_t *ret_size)
{
        for (;;) {
                char *nul = s->end > s->begin ? memchr(s->buffer + s->begin, 0, s->end - s->begin) : NULL;
                if (nul) {
                        *ret = s->buffer + s->begin;
                        *ret_size = (size_t) (nul - *ret);
                        s->begin = (size_t) (nul - s->buffer) + 1;
                        return 0;
                }
                if (s->end - s->begin > NSS_CLIENT_MESSAGE_MAX)
                        return -EMSGSIZE;

                /* Make room: move what is pending to the front, grow when that is not enough. */
                if (s->begin > 0) {
                        memmove(s->buffer, s->buffer + s->begin, s->end - s->begin);
                        s->end -= s->begin;
                        s->begin = 0;
                }
                if (s->allocated - s->end < 4096) {
                        size_t a = MAX(s->allocated * 2, (size_t) 16384);
                        char *b = realloc(s->buffer, a);
                        if (!b)
                                return -ENOMEM;
                        s->buffer = b;
                        s->allocated = a;
                }

                /* The daemon cannot have answered in the instant since the call went out: wait
                 * before the first read instead of after a read that finds nothing. */
                if (s->awaiting_reply) {
                        s->awaiting_reply = false;
                        int r = session_wait(s, POLLIN);
                        if (r < 0)
                                return r;
                }

                union {
                        struct cmsghdr h;
                        uint8_t buf[CMSG_SPACE(4 * sizeof(int))];
                } control;
                struct iovec iov = { .iov_base = s->buffer + s->end, .iov_len = s->allocated - s->end };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                ssize_t k = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = session_wait(s, POLLIN);
                        if (r < 0)
                                return r;
                        continue;
                }
                int r = take_fds(s, &mh);
                if (r < 0)
                        return r;
                if (k == 0)
                        return -ECONNRESET; /* the daemon went away mid-call */
                s->end += (size_t) k;
        }
}

static void reply_done(Reply *r)
{
        nss_json_done(&r->json);
}

/* Receives and checks one reply: an object whose "parameters" is an object or null, "error" a
 * string and "continues" a boolean where present. */
static int session_receive(NssSession *s, Reply *ret)
{
        char *m = NULL;
        size_t n = 0;
        int r, i;

        block_signals(s);
        r = session_receive_locked(s, &m, &n);
        restore_signals(s);
        if (r < 0)
                return r;

        *ret = (Reply){ .parameters = -1 };
        r = nss_json_parse(m, n, &ret->json);
        if (r < 0)
                return r;
        const NssJsonToken *t = ret->json.tokens;
        if (t[0].type != NSS_JSON_OBJECT)
                goto bad;

        i = nss_json_object_get(&ret->json, 0, "parameters");
        if (i >= 0 && t[i].type == NSS_JSON_OBJECT)
                ret->parameters = i;
        else if (i != -ENOENT && !(i >= 0 && t[i].type == NSS_JSON_NULL))
                goto bad;

        i = nss_json_object_get(&ret->json, 0, "error");
        if (i >= 0 && t[i].type == NSS_JSON_STRING && t[i].string[0])
                ret->error = t[i].string;
        else if (i != -ENOENT)
                goto bad;

        i = nss_json_object_get(&ret->json, 0, "continues");
        if (i >= 0 && (t[i].type == NSS_JSON_TRUE || t[i].type == NSS_JSON_FALSE))
                ret->continues = t[i].type == NSS_JSON_TRUE;
        else if (i != -ENOENT)
                goto bad;
        return 0;

bad:
        reply_done(ret);
        return -EBADMSG;
}

/* Sends the call built in w and receives its first reply.  A reply that says more follow,
 * to a call that did not ask for more, is a protocol error. */
static int session_call(NssSession *s, NssJsonWriter *w, bool more, Reply *ret)
{
        _cleanup_free_ char *m = NULL;
        size_t n;
        int r;

        r = nss_json_write_finish(w, &m, &n);
        if (r < 0)
                return r;
        r = session_send(s, m, n);
        if (r < 0)
                return r;
        r = session_receive(s, ret);
        if (r >= 0 && ret->continues && !more) {
                reply_done(ret);
                return -EPROTO;
        }
        return r;
}

/* {"method":"io.portd.Services.<method>","parameters":{ — the caller adds the parameters and
 * closes with call_end(). */
static void call_begin(NssJsonWriter *w, const char *method)
{
        nss_json_write_raw(w, "{\"method\":\"" SERVICES_INTERFACE ".");
        nss_json_write_raw(w, method);
        nss_json_write_raw(w, "\",\"parameters\":{");
}

static void call_end(NssJsonWriter *w, bool more)
{
        nss_json_write_raw(w, more ? "},\"more\":true}" : "}}");
}

static int error_to_errno(const char *error)
{
        if (streq(error, "org.varlink.service.MethodNotFound") ||
                streq(error, "org.varlink.service.MethodNotImplemented") ||
                streq(error, "org.varlink.service.InterfaceNotFound"))
                return -EOPNOTSUPP;
        return -EREMOTEIO;
}

int nss_client_get_snapshot(const NssConfig *cfg, int *ret_fd, uint64_t *ret_size)
{
        NssJsonWriter w = {};
        NssSession s;
        Reply reply;
        int r;

        r = session_open(cfg, &s, true);
        if (r < 0)
                return r;

        call_begin(&w, "GetSnapshot");
        call_end(&w, false);
        r = session_call(&s, &w, false, &reply);
        if (r >= 0) {
                const NssJsonToken *t = reply.json.tokens;
                int size = reply.parameters >= 0 ? nss_json_object_get(&reply.json, reply.parameters, "size")
                                                 : -ENOENT;
                if (reply.error)
                        r = error_to_errno(reply.error);
                else if (size < 0 || t[size].type != NSS_JSON_INTEGER || t[size].integer <= 0 ||
                        s.passed_fd < 0)
                        r = -EBADMSG;
                else {
                        *ret_fd = TAKE_FD(s.passed_fd);
                        *ret_size = (uint64_t) t[size].integer;
                }
                reply_done(&reply);
        }

        session_close(&s);
        return r;
}

static const char *service_alias(const void *userdata, size_t i, size_t *ret_len)
{
        const NssService *service = userdata;

        *ret_len = string_length(service->aliases[i]);
        return service->aliases[i];
}

int nss_service_from_json(const NssJson *j, int object, NssService **ret)
{
        const NssJsonToken *t = j->tokens;
        int name, port, protocol, aliases;

        if (object < 0 || t[object].type != NSS_JSON_OBJECT)
                return -EBADMSG;
        name = nss_json_object_get(j, object, "name");
        port = nss_json_object_get(j, object, "port");
        protocol = nss_json_object_get(j, object, "protocol");
        if (name < 0 || t[name].type != NSS_JSON_STRING || port < 0 || t[port].type != NSS_JSON_INTEGER ||
                t[port].integer < 0 || t[port].integer > UINT16_MAX || protocol < 0 ||
                t[protocol].type != NSS_JSON_STRING)
                return -EBADMSG;

        /* aliases is required by the interface, but an entry without them is still an entry. */
        size_t n_aliases = 0, size = sizeof(NssService) + string_length(t[name].string) + 1 +
                                     string_length(t[protocol].string) + 1 + sizeof(char *);
        aliases = nss_json_object_get(j, object, "aliases");
        if (aliases == -EBADMSG || (aliases >= 0 && t[aliases].type != NSS_JSON_ARRAY &&
                                           t[aliases].type != NSS_JSON_NULL))
                return -EBADMSG;
        if (aliases >= 0 && t[aliases].type == NSS_JSON_ARRAY) {
                n_aliases = t[aliases].count;
                for (size_t i = (size_t) aliases + 1, k = 0; k < n_aliases; k++, i = nss_json_next(j, i)) {
                        if (t[i].type != NSS_JSON_STRING)
                                return -EBADMSG;
                        size += sizeof(char *) + string_length(t[i].string) + 1;
                }
        }

        NssService *service = malloc(size);
        if (!service)
                return -ENOMEM;
        const char **pointers = (const char **) (service + 1);
        char *strings = (char *) (pointers + n_aliases + 1);
        *service = (NssService){ .port = (uint16_t) t[port].integer, .n_aliases = n_aliases, .aliases = pointers };
        /* Names come escaped (name-escape.h): the bytes as the file has them, as glibc answers. */
        service->name = strings;
        strings = name_unescape_to(strings, t[name].string) + 1;
        service->protocol = strings;
        strings = name_unescape_to(strings, t[protocol].string) + 1;
        for (size_t i = (size_t) aliases + 1, k = 0; k < n_aliases; k++, i = nss_json_next(j, i)) {
                pointers[k] = strings;
                strings = name_unescape_to(strings, t[i].string) + 1;
        }
        pointers[n_aliases] = NULL;
        *ret = service;
        return 0;
}

static int lookup(const NssConfig *cfg, NssJsonWriter *w, NssService **ret_service)
{
        NssSession s;
        Reply reply;
        int r;

        r = session_open(cfg, &s, false);
        if (r < 0) {
                free(w->data);
                return r;
        }

        r = session_call(&s, w, false, &reply);
        if (r >= 0) {
                if (!reply.error) {
                        int service = reply.parameters >= 0
                                              ? nss_json_object_get(&reply.json, reply.parameters, "service")
                                              : -ENOENT;
                        r = nss_service_from_json(&reply.json, service, ret_service);
                        if (r >= 0)
                                r = 1;
                        else if (r != -ENOMEM)
                                r = -EBADMSG;
                } else if (streq(reply.error, ERROR_SERVICE_NOT_FOUND)) {
                        *ret_service = NULL;
                        r = 0;
                } else
                        r = error_to_errno(reply.error);
                reply_done(&reply);
        }

        session_close(&s);
        return r;
}

/* A name or protocol as the daemon takes it: escaped (name-escape.h), so that a name of any bytes
 * glibc accepts can be asked for, and the daemon looks up exactly those bytes. */
static void write_name(NssJsonWriter *w, const char *s)
{
        if (name_is_plain(s, NAME_ESCAPE_BACKSLASH)) {
                nss_json_write_string(w, s);
                return;
        }
        char *e = name_escape(s, NAME_ESCAPE_BACKSLASH);
        if (!e) {
                if (w->error >= 0)
                        w->error = -ENOMEM;
                return;
        }
        nss_json_write_string(w, e);
        free(e);
}

/* Ends a lookup call begun by the caller with the optional protocol, and sends it. */
static int lookup_with_protocol(const NssConfig *cfg, NssJsonWriter *w, const char *protocol,
                NssService **ret_service)
{
        if (protocol) {
                nss_json_write_raw(w, ",\"protocol\":");
                write_name(w, protocol);
        }
        call_end(w, false);
        if (w->error < 0) {
                int r = w->error;
                free(w->data);
                return r;
        }
        return lookup(cfg, w, ret_service);
}

int nss_client_lookup_name(const NssConfig *cfg, const char *name, const char *protocol, NssService **ret_service)
{
        NssJsonWriter w = {};

        call_begin(&w, "GetServiceByName");
        nss_json_write_raw(&w, "\"name\":");
        write_name(&w, name);
        return lookup_with_protocol(cfg, &w, protocol, ret_service);
}

int nss_client_lookup_port(const NssConfig *cfg, uint16_t port, const char *protocol, NssService **ret_service)
{
        NssJsonWriter w = {};

        call_begin(&w, "GetServiceByPort");
        nss_json_write_raw(&w, "\"port\":");
        nss_json_write_integer(&w, port);
        return lookup_with_protocol(cfg, &w, protocol, ret_service);
}

void nss_service_list_done(NssServiceList *l)
{
        for (size_t i = 0; i < l->n_services; i++)
                free(l->services[i]);
        free(l->services);
        *l = (NssServiceList){};
}

int nss_client_list(const NssConfig *cfg, NssServiceList *ret)
{
        NssServiceList list = {};
        NssJsonWriter w = {};
        NssSession s;
        Reply reply;
        int r;

        uint64_t start = now_usec(CLOCK_MONOTONIC);
        r = session_open(cfg, &s, false);
        if (r < 0)
                return r;

        call_begin(&w, "List");
        call_end(&w, true);
        r = session_call(&s, &w, true, &reply);
        while (r >= 0) {
                bool more = reply.continues;
                if (reply.error) {
                        /* The daemon answers an empty database with ServiceNotFound. */
                        if (streq(reply.error, ERROR_SERVICE_NOT_FOUND) && list.n_services == 0)
                                r = 0;
                        else
                                r = error_to_errno(reply.error);
                        reply_done(&reply);
                        break;
                }
                NssService *service;
                int service_index = reply.parameters >= 0
                                            ? nss_json_object_get(&reply.json, reply.parameters, "service")
                                            : -ENOENT;
                r = nss_service_from_json(&reply.json, service_index, &service);
                reply_done(&reply);
                if (r < 0)
                        break;
                if (GROW(list.services, list.allocated, list.n_services + 1) < 0) {
                        free(service);
                        r = -ENOMEM;
                        break;
                }
                list.services[list.n_services++] = service;
                if (!more)
                        break;
                /* A long list (the IANA registry is 11,700 replies) may take longer than one
                 * deadline on a busy machine: each reply buys another, as long as the whole
                 * stream ends within NSS_CLIENT_LIST_MAX_USEC. */
                uint64_t n = now_usec(CLOCK_MONOTONIC);
                if (n + NSS_CLIENT_TIMEOUT_USEC < start + NSS_CLIENT_LIST_MAX_USEC)
                        s.deadline = n + NSS_CLIENT_TIMEOUT_USEC;
                r = session_receive(&s, &reply);
        }

        session_close(&s);
        if (r < 0) {
                nss_service_list_done(&list);
                return r;
        }
        *ret = list;
        return 0;
}

int nss_service_fill(const NssService *service, struct servent *result, char *buffer, size_t buflen)
{
        return servent_fill(result, buffer, buflen, service->name, service->protocol, service->port,
                service->n_aliases, service_alias, service);
}
