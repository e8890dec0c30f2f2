/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink framing, message checks and the blocking client of portctl, the benchmarks and the
 * tests.  The client keeps no global state, never logs, and bounds every wait by a deadline and
 * every reply by a size, so that a daemon that stalls or floods cannot hang or swell its caller. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "utf8.h"
#include "util.h"
#include "varlink-wire.h"

#define CLIENT_TIMEOUT_DEFAULT_USEC (5ULL * 1000ULL * 1000ULL)
#define READ_CHUNK                  (16U * 1024U)

/* ---- names ---- */

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
        return is_alpha(c) || (c >= '0' && c <= '9');
}

/* One label of an interface name: [A-Za-z0-9]([-]*[A-Za-z0-9])*, the first label must start with
 * a letter.  Returns the length consumed, 0 if invalid. */
static size_t interface_label_length(const char *s, size_t n, bool first)
{
        size_t i = 0;

        if (n == 0 || !(first ? is_alpha(s[0]) : is_alnum(s[0])))
                return 0;
        for (i = 1; i < n && (is_alnum(s[i]) || s[i] == '-'); i++)
                ;
        if (s[i - 1] == '-')
                return 0;
        return i;
}

static bool interface_name_is_valid_n(const char *s, size_t n)
{
        size_t labels = 0, i = 0;

        if (n == 0 || n > 255)
                return false;
        for (;;) {
                size_t l = interface_label_length(s + i, n - i, labels == 0);
                if (l == 0)
                        return false;
                labels++;
                i += l;
                if (i == n)
                        break;
                if (s[i] != '.')
                        return false;
                i++;
        }
        return labels >= 2;
}

bool varlink_interface_name_is_valid(const char *name)
{
        return name && interface_name_is_valid_n(name, strlen(name));
}

bool varlink_method_name_is_valid(const char *name)
{
        const char *dot;

        if (!name)
                return false;
        dot = strrchr(name, '.');
        if (!dot || !(dot[1] >= 'A' && dot[1] <= 'Z'))
                return false;
        for (const char *p = dot + 2; *p; p++)
                if (!is_alnum(*p))
                        return false;
        return interface_name_is_valid_n(name, (size_t) (dot - name));
}

size_t varlink_method_interface_length(const char *name)
{
        assert(name);

        const char *dot = strrchr(name, '.');
        return dot ? (size_t) (dot - name) : 0;
}

/* ---- framing ---- */

void varlink_buffer_init(VarlinkBuffer *b, size_t message_max)
{
        assert(b);

        *b = (VarlinkBuffer){
                .message_max = message_max > 0 ? message_max : VARLINK_MESSAGE_MAX,
        };
}
void varlink_buffer_done(VarlinkBuffer *b)
{
        size_t max = b->message_max;

        free(b->data);
        if (b->tokener)
                json_tokener_free(b->tokener);
        varlink_buffer_init(b, max);
}

int varlink_buffer_prepare(VarlinkBuffer *b, size_t min, char **ret_ptr, size_t *ret_size)
{
        assert(ret_ptr);
        assert(ret_size);

        if (min == 0)
                min = 1;

        /* Moving the unread tail to the front keeps the buffer from creeping forward forever;
         * it is cheap because it only happens when the free tail is too short. */
        if (b->allocated - b->end < min && b->begin > 0) {
                size_t pending = b->end - b->begin;
                memmove(b->data, b->data + b->begin, pending);
                b->begin = 0;
                b->end = pending;
        }

        if (b->allocated - b->end < min) {
                size_t need = b->end + MAX(min, (size_t) READ_CHUNK);
                if (need < b->end)
                        return -ENOMEM;
                char *p = realloc(b->data, need);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->allocated = need;
        }

        *ret_ptr = b->data + b->end;
        *ret_size = b->allocated - b->end;
        return 0;
}

void varlink_buffer_commit(VarlinkBuffer *b, size_t n)
{
        assert(b);

        b->end += MIN(n, b->allocated - b->end);
}
int varlink_buffer_append(VarlinkBuffer *b, const void *data, size_t n)
{
        char *p;
        size_t avail;
        int r;

        assert(b);

        if (n == 0)
                return 0;
        r = varlink_buffer_prepare(b, n, &p, &avail);
        if (r < 0)
                return r;
        memcpy(p, data, n);
        varlink_buffer_commit(b, n);
        return 0;
}

size_t varlink_buffer_pending(const VarlinkBuffer *b)
{
        assert(b);

        return b->end - b->begin;
}

int varlink_buffer_next(VarlinkBuffer *b, const char **ret_message, size_t *ret_size)
{
        const char *start, *nul;
        size_t pending = b->end - b->begin, len;

        assert(ret_message);
        assert(ret_size);

        if (pending == 0) {
                /* Nothing unread: start over at the front so the buffer does not need compaction. */
                b->begin = b->end = b->scanned = 0;
                return 0;
        }

        start = b->data + b->begin;
        nul = memchr(start + b->scanned, 0, pending - b->scanned);
        if (!nul) {
                b->scanned = pending;
                return pending > b->message_max ? -EMSGSIZE : 0;
        }

        len = (size_t) (nul - start);
        if (len > b->message_max)
                return -EMSGSIZE;

        b->begin += len + 1;
        b->position += len + 1;
        b->scanned = 0;
        *ret_message = start;
        *ret_size = len;
        return 1;
}

/* Structural characters and whitespace, and what a number may hold: a switch, as a strchr()
 * per byte of every message was a tenth of a long listing's client time. */
static bool is_structural(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' || c == '[' ||
               c == ']' || c == ':' || c == ',';
}

static bool is_number_char(char c)
{
        return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/* json-c's strict mode still takes 'single quotes', NaN and Infinity.  Checking the tokens outside
 * strings first keeps those out, so both ends see exactly RFC 8259 JSON. */
static bool json_tokens_are_standard(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                char c = s[i];

                if (is_structural(c)) {
                        i++;
                } else if (c == '"') {
                        for (i++; i < n && s[i] != '"';) {
                                size_t l;

                                if (s[i] == '\\')
                                        l = 2;
                                else if ((unsigned char) s[i] < 0x20)
                                        return false;
                                else if ((unsigned char) s[i] < 0x80)
                                        l = 1;
                                else {
                                        l = utf8_sequence_length(s + i, n - i);
                                        if (l == 0)
                                                return false;
                                }
                                i += l;
                        }
                        if (i >= n)
                                return false;
                        i++;
                } else if (c == '-' || (c >= '0' && c <= '9')) {
                        for (i++; i < n && is_number_char(s[i]); i++)
                                ;
                } else if (c >= 'a' && c <= 'z') {
                        size_t start = i;
                        while (i < n && s[i] >= 'a' && s[i] <= 'z')
                                i++;
                        size_t l = i - start;
                        if (!((l == 4 && (strneq(s + start, "true", 4) || strneq(s + start, "null", 4))) ||
                                    (l == 5 && strneq(s + start, "false", 5))))
                                return false;
                } else
                        return false;
        }
        return true;
}

static int parse_with(struct json_tokener **tokp, const char *s, size_t n, struct json_object **ret)
{
        struct json_object *o;

        if (n > INT32_MAX)
                return -EMSGSIZE;
        if (!json_tokens_are_standard(s, n))
                return -EBADMSG;
        if (!*tokp) {
                *tokp = json_tokener_new();
                if (!*tokp)
                        return -ENOMEM;
                json_tokener_set_flags(*tokp, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        } else
                json_tokener_reset(*tokp);

        o = json_tokener_parse_ex(*tokp, s, (int) n);
        /* A complete value must use up every byte: "{}x" or "{} {}" is not one message. */
        if (!o || json_tokener_get_error(*tokp) != json_tokener_success ||
                json_tokener_get_parse_end(*tokp) != n) {
                json_object_put(o);
                return -EBADMSG;
        }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

int varlink_message_parse(const char *s, size_t n, struct json_object **ret)
{
        struct json_tokener *tok = NULL;
        int r;

        assert(s);
        assert(ret);

        r = parse_with(&tok, s, n, ret);
        if (tok)
                json_tokener_free(tok);
        return r;
}

int varlink_buffer_next_object(VarlinkBuffer *b, struct json_object **ret)
{
        const char *m;
        size_t n;
        int r;

        assert(ret);

        r = varlink_buffer_next(b, &m, &n);
        if (r <= 0)
                return r;
        r = parse_with(&b->tokener, m, n, ret);
        if (r < 0)
                return r;
        return 1;
}

int varlink_message_serialize(struct json_object *m, char **ret, size_t *ret_size)
{
        const char *s;
        size_t n;
        char *p;

        assert(m);
        assert(ret);
        assert(ret_size);

        s = json_object_to_json_string_length(
                m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!s)
                return -ENOMEM;
        p = malloc(n + 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, s, n);
        p[n] = 0;
        *ret = p;
        *ret_size = n + 1;
        return 0;
}

/* ---- messages ---- */

static int add_parameters(struct json_object *m, struct json_object *parameters)
{
        struct json_object *p;

        if (parameters) {
                if (!json_object_is_type(parameters, json_type_object))
                        return -EINVAL;
                p = json_object_get(parameters);
        } else {
                p = json_object_new_object();
                if (!p)
                        return -ENOMEM;
        }
        if (json_object_object_add(m, "parameters", p) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return 0;
}

static int add_boolean(struct json_object *m, const char *key)
{
        struct json_object *v = json_object_new_boolean(1);

        if (!v || json_object_object_add(m, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_string(struct json_object *m, const char *key, const char *s)
{
        struct json_object *v = json_object_new_string(s);

        if (!v || json_object_object_add(m, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int varlink_message_build_call(
        const char *method, struct json_object *parameters, unsigned flags, struct json_object **ret)
{
        struct json_object *m;
        int r;

        assert(method);
        assert(ret);

        if (!varlink_method_name_is_valid(method))
                return -EINVAL;
        m = json_object_new_object();
        if (!m)
                return -ENOMEM;
        r = add_string(m, "method", method);
        if (r >= 0)
                r = add_parameters(m, parameters);
        if (r >= 0 && (flags & VARLINK_CALL_ONEWAY))
                r = add_boolean(m, "oneway");
        if (r >= 0 && (flags & VARLINK_CALL_MORE))
                r = add_boolean(m, "more");
        if (r < 0) {
                json_object_put(m);
                return r;
        }
        *ret = m;
        return 0;
}

int varlink_message_build_reply(
        struct json_object *parameters, bool continues, const char *error, struct json_object **ret)
{
        struct json_object *m;
        int r;

        assert(ret);

        if (error && !varlink_method_name_is_valid(error))
                return -EINVAL;
        m = json_object_new_object();
        if (!m)
                return -ENOMEM;
        r = add_parameters(m, parameters);
        if (r >= 0 && continues)
                r = add_boolean(m, "continues");
        if (r >= 0 && error)
                r = add_string(m, "error", error);
        if (r < 0) {
                json_object_put(m);
                return r;
        }
        *ret = m;
        return 0;
}

/* A boolean key: absent is false, anything but true/false makes the message invalid. */
static int get_flag(struct json_object *m, const char *key, bool *ret)
{
        struct json_object *v;

        if (!json_object_object_get_ex(m, key, &v)) {
                *ret = false;
                return 0;
        }
        if (!json_object_is_type(v, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

int varlink_call_parse(struct json_object *m, VarlinkCall *ret)
{
        struct json_object *method, *parameters = NULL;
        bool oneway, more;

        assert(m);
        assert(ret);

        if (!json_object_is_type(m, json_type_object))
                return -EBADMSG;
        if (!json_object_object_get_ex(m, "method", &method) ||
                !json_object_is_type(method, json_type_string))
                return -EBADMSG;
        /* json-c strings may hold NULs; a method name with one is not a name. */
        if (strlen(json_object_get_string(method)) != (size_t) json_object_get_string_len(method) ||
                !varlink_method_name_is_valid(json_object_get_string(method)))
                return -EBADMSG;
        if (json_object_object_get_ex(m, "parameters", &parameters) &&
                !json_object_is_type(parameters, json_type_object))
                return -EBADMSG;
        if (get_flag(m, "oneway", &oneway) < 0 || get_flag(m, "more", &more) < 0)
                return -EBADMSG;

        *ret = (VarlinkCall){
                .method = json_object_get_string(method),
                .parameters = parameters,
                .flags = (oneway ? VARLINK_CALL_ONEWAY : 0) | (more ? VARLINK_CALL_MORE : 0),
        };
        return 0;
}

int varlink_reply_parse(struct json_object *m, VarlinkReply *ret)
{
        struct json_object *parameters = NULL, *error = NULL;
        const char *e = NULL;
        bool continues;

        assert(m);
        assert(ret);

        if (!json_object_is_type(m, json_type_object))
                return -EBADMSG;
        if (json_object_object_get_ex(m, "parameters", &parameters) && parameters &&
                !json_object_is_type(parameters, json_type_object))
                return -EBADMSG;
        if (get_flag(m, "continues", &continues) < 0)
                return -EBADMSG;
        if (json_object_object_get_ex(m, "error", &error)) {
                if (!json_object_is_type(error, json_type_string))
                        return -EBADMSG;
                e = json_object_get_string(error);
                if (strlen(e) != (size_t) json_object_get_string_len(error) ||
                        !varlink_method_name_is_valid(e))
                        return -EBADMSG;
        }

        *ret = (VarlinkReply){
                .parameters = parameters,
                .error = e,
                .continues = continues,
        };
        return 0;
}

/* ---- blocking client ---- */

struct VarlinkClient {
        int fd;
        uint64_t timeout_usec;
        VarlinkBuffer input;
        bool dead;
        bool streaming; /* a "more" call whose last reply is still to come */
        bool used;

        /* The fd received with the chunk ending at stream offset fd_position (the offset of the
         * chunk's last byte): it belongs to the message that contains that byte. */
        int pending_fd;
        uint64_t pending_fd_position;

        struct json_object *reply; /* the last reply, owner of the borrowed outputs */
        struct json_object *empty; /* {} handed out for replies without parameters */
        int reply_fd;              /* fd attached to the last reply */
};

static uint64_t deadline_after(uint64_t timeout_usec)
{
        uint64_t n = now_usec(CLOCK_MONOTONIC);
        return n + timeout_usec < n ? UINT64_MAX : n + timeout_usec;
}

/* Waits for events until the deadline.  poll() sleeps in milliseconds, rounded up so it never
 * wakes before the deadline and spins. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t n = now_usec(CLOCK_MONOTONIC);
                int r;

                if (n >= deadline)
                        return -ETIMEDOUT;
                uint64_t left_ms = (deadline - n + 999) / 1000;
                r = poll(&p, 1, left_ms > INT32_MAX ? INT32_MAX : (int) left_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        continue;
                if (p.revents & POLLNVAL)
                        return -EBADF;
                /* POLLERR/POLLHUP: let the following read or write report what happened. */
                return 0;
        }
}

static void client_drop_reply(VarlinkClient *c)
{
        if (c->reply) {
                json_object_put(c->reply);
                c->reply = NULL;
        }
        c->reply_fd = safe_close(c->reply_fd);
}

static int client_kill(VarlinkClient *c, int r)
{
        c->dead = true;
        c->streaming = false;
        return r;
}

/* Wraps fd, which must already be non-blocking; takes it, also on failure. */
static int client_new(int fd, uint64_t timeout_usec, VarlinkClient **ret)
{
        VarlinkClient *c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->timeout_usec = timeout_usec > 0 ? timeout_usec : CLIENT_TIMEOUT_DEFAULT_USEC;
        c->pending_fd = -1;
        c->reply_fd = -1;
        varlink_buffer_init(&c->input, VARLINK_REPLY_MAX);
        *ret = c;
        return 0;
}

int varlink_client_connect_fd(int fd, uint64_t timeout_usec, VarlinkClient **ret)
{
        assert(ret);

        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        return client_new(fd, timeout_usec, ret);
}

int sockaddr_un_set(struct sockaddr_un *sa, const char *path, socklen_t *ret_len)
{
        size_t l;

        assert(sa);

        if (!path || path[0] != '/')
                return -EINVAL;
        l = strlen(path);
        if (l >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        memcpy(sa->sun_path, path, l + 1);
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1);
        return 0;
}

int varlink_client_connect(const char *path, uint64_t timeout_usec, VarlinkClient **ret)
{
        struct sockaddr_un sa;
        _cleanup_close_ int fd = -1;
        socklen_t sa_len;
        uint64_t deadline;
        int k;

        assert(path);
        assert(ret);

        k = sockaddr_un_set(&sa, path, &sa_len);
        if (k < 0)
                return k;

        if (timeout_usec == 0)
                timeout_usec = CLIENT_TIMEOUT_DEFAULT_USEC;
        deadline = deadline_after(timeout_usec);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;

        if (connect(fd, (struct sockaddr *) &sa, sa_len) < 0) {
                int r;
                socklen_t sl = sizeof(r);

                /* A full backlog makes a non-blocking connect() fail with EAGAIN on Unix sockets
                 * rather than EINPROGRESS; both mean "wait until writable". */
                if (errno != EINPROGRESS && errno != EAGAIN)
                        return -errno;
                if (errno == EAGAIN) {
                        /* Linux does not queue a non-blocking connect to a full Unix listener;
                         * retry until the deadline. */
                        for (;;) {
                                struct timespec ts = { .tv_nsec = 1000000 };
                                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                                        return -ETIMEDOUT;
                                (void) nanosleep(&ts, NULL);
                                if (connect(fd, (struct sockaddr *) &sa, sa_len) >= 0)
                                        break;
                                if (errno == EISCONN)
                                        break;
                                if (errno != EAGAIN && errno != EINPROGRESS && errno != EALREADY)
                                        return -errno;
                        }
                } else {
                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &sl) < 0)
                                return -errno;
                        if (r != 0)
                                return -r;
                }
        }

        /* Created non-blocking: no fcntl() round trips, which the NSS module's first lookup in
         * every process would pay. */
        return client_new(TAKE_FD(fd), timeout_usec, ret);
}

VarlinkClient *varlink_client_free(VarlinkClient *c)
{
        if (!c)
                return NULL;
        client_drop_reply(c);
        if (c->empty)
                json_object_put(c->empty);
        safe_close(c->pending_fd);
        safe_close(c->fd);
        varlink_buffer_done(&c->input);
        free(c);
        return NULL;
}

void varlink_client_set_timeout(VarlinkClient *c, uint64_t timeout_usec)
{
        assert(c);

        c->timeout_usec = timeout_usec > 0 ? timeout_usec : CLIENT_TIMEOUT_DEFAULT_USEC;
}

int varlink_client_set_reply_max(VarlinkClient *c, size_t reply_max)
{
        assert(c);

        if (c->used)
                return -EBUSY;
        c->input.message_max = reply_max > 0 ? reply_max : VARLINK_REPLY_MAX;
        return 0;
}

int varlink_client_get_fd(VarlinkClient *c)
{
        assert(c);

        return c->fd;
}

static int client_send(VarlinkClient *c, const char *p, size_t n, uint64_t deadline)
{
        while (n > 0) {
                ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = wait_fd(c->fd, POLLOUT, deadline);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return errno == EPIPE ? -ECONNRESET : -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Keeps the first fd of an SCM_RIGHTS message; a reply carries at most one, so the rest (and any
 * fd arriving while one is still unclaimed) are closed rather than leaked. */
static void client_take_cmsg(VarlinkClient *c, struct msghdr *mh, uint64_t last_byte_position)
{
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *) CMSG_DATA(cm);
                for (size_t i = 0; i < n; i++) {
                        int fd;
                        memcpy(&fd, fds + i, sizeof(int));
                        if (c->pending_fd < 0) {
                                c->pending_fd = fd;
                                c->pending_fd_position = last_byte_position;
                        } else
                                safe_close(fd);
                }
        }
}

static int client_read(VarlinkClient *c, uint64_t deadline, bool wait_first)
{
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control;

        /* Right after sending a call the reply cannot be there yet: waiting first saves a
         * recvmsg() that would only say EAGAIN. */
        if (wait_first) {
                int r = wait_fd(c->fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }

        for (;;) {
                char *p;
                size_t avail;
                int r;

                r = varlink_buffer_prepare(&c->input, READ_CHUNK, &p, &avail);
                if (r < 0)
                        return r;

                struct iovec iov = { .iov_base = p, .iov_len = avail };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                ssize_t k = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                r = wait_fd(c->fd, POLLIN, deadline);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return -errno;
                }

                /* Position of this chunk's last byte in the stream: the kernel ends a read at the
                 * segment that carried the fds, and that segment starts the reply they belong to. */
                uint64_t last = c->input.position + varlink_buffer_pending(&c->input) + (uint64_t) k - 1;
                if (mh.msg_controllen > 0)
                        client_take_cmsg(c, &mh, last);
                if (k == 0)
                        return -ECONNRESET;
                varlink_buffer_commit(&c->input, (size_t) k);
                return 0;
        }
}

/* Reads until one complete reply is available and makes it the current one. */
/* The next message of the stream, read from the socket as far as needed: its text in the input
 * buffer (NUL-terminated there), valid until the next read. *ret_start is its stream position. */
static int client_read_message(VarlinkClient *c, uint64_t deadline, bool just_sent, const char **ret_message,
        size_t *ret_size, uint64_t *ret_start)
{
        int r;

        for (;;) {
                *ret_start = c->input.position;
                r = varlink_buffer_next(&c->input, ret_message, ret_size);
                if (r < 0)
                        return client_kill(c, r);
                if (r > 0)
                        return 0;
                r = client_read(c, deadline, just_sent);
                if (r < 0)
                        return client_kill(c, r);
                just_sent = false;
        }
}

/* The fd that came with the message at start..position-1 (and its NUL) becomes the reply's. */
static void client_attach_fd(VarlinkClient *c, uint64_t start)
{
        if (c->pending_fd >= 0 && c->pending_fd_position < c->input.position) {
                if (c->pending_fd_position >= start)
                        c->reply_fd = c->pending_fd;
                else
                        safe_close(c->pending_fd); /* belonged to nothing we read: drop it */
                c->pending_fd = -1;
        }
}

static int client_take_reply(VarlinkClient *c, const char *s, size_t n, uint64_t start,
        struct json_object **ret_parameters, const char **ret_error)
{
        struct json_object *m = NULL;
        VarlinkReply reply;
        int r;

        r = parse_with(&c->input.tokener, s, n, &m);
        if (r < 0)
                return client_kill(c, r);
        if (varlink_reply_parse(m, &reply) < 0) {
                json_object_put(m);
                return client_kill(c, -EBADMSG);
        }
        if (reply.continues && !c->streaming) {
                json_object_put(m);
                return client_kill(c, -EPROTO);
        }
        client_attach_fd(c, start);

        c->reply = m;
        c->streaming = reply.continues;

        if (!reply.parameters) {
                if (!c->empty) {
                        c->empty = json_object_new_object();
                        if (!c->empty)
                                return client_kill(c, -ENOMEM);
                }
                reply.parameters = c->empty;
        }
        if (ret_parameters)
                *ret_parameters = reply.parameters;
        if (ret_error)
                *ret_error = reply.error;
        else if (reply.error)
                return -EREMOTEIO;
        return reply.continues ? 1 : 0;
}

static int client_read_reply(VarlinkClient *c, uint64_t deadline, bool just_sent,
        struct json_object **ret_parameters, const char **ret_error)
{
        const char *s;
        size_t n;
        uint64_t start;
        int r;

        r = client_read_message(c, deadline, just_sent, &s, &n, &start);
        if (r < 0)
                return r;
        return client_take_reply(c, s, n, start, ret_parameters, ret_error);
}

int varlink_client_call(VarlinkClient *c, const char *method, struct json_object *parameters, unsigned flags,
        struct json_object **ret_parameters, const char **ret_error)
{
        struct json_object *m = NULL;
        _cleanup_free_ char *s = NULL;
        size_t n;
        uint64_t deadline;
        int r;

        assert(method);

        if (c->dead)
                return -ENOTCONN;
        if (c->streaming)
                return -EBUSY;

        client_drop_reply(c);
        c->used = true;
        deadline = deadline_after(c->timeout_usec);

        r = varlink_message_build_call(method, parameters, flags, &m);
        if (r < 0)
                return r;
        r = varlink_message_serialize(m, &s, &n);
        json_object_put(m);
        if (r < 0)
                return r;

        r = client_send(c, s, n, deadline);
        if (r < 0)
                return client_kill(c, r);

        if (flags & VARLINK_CALL_ONEWAY) {
                if (ret_parameters)
                        *ret_parameters = NULL;
                if (ret_error)
                        *ret_error = NULL;
                return 0;
        }

        c->streaming = !!(flags & VARLINK_CALL_MORE);
        r = client_read_reply(c, deadline, true, ret_parameters, ret_error);
        if (r == 0)
                c->streaming = false;
        return r;
}

int varlink_client_next(VarlinkClient *c, struct json_object **ret_parameters, const char **ret_error)
{
        int r;

        assert(c);

        if (c->dead)
                return -ENOTCONN;
        if (!c->streaming)
                return -ENOMSG;

        client_drop_reply(c);
        r = client_read_reply(c, deadline_after(c->timeout_usec), false, ret_parameters, ret_error);
        if (r == 0)
                c->streaming = false;
        return r;
}

int varlink_client_next_with(VarlinkClient *c, VarlinkReplyReader reader, void *userdata,
        struct json_object **ret_parameters, const char **ret_error)
{
        const char *s;
        size_t n;
        uint64_t start;
        bool continues;
        int r;

        assert(c);
        assert(reader);

        if (c->dead)
                return -ENOTCONN;
        if (!c->streaming)
                return -ENOMSG;

        client_drop_reply(c);
        r = client_read_message(c, deadline_after(c->timeout_usec), false, &s, &n, &start);
        if (r < 0)
                return r;
        r = reader(s, n, &continues, userdata);
        if (r < 0)
                return r;
        if (r == 0) {
                r = client_take_reply(c, s, n, start, ret_parameters, ret_error);
                if (r == 0)
                        c->streaming = false;
                return r;
        }
        client_attach_fd(c, start);
        c->streaming = continues;
        if (ret_parameters)
                *ret_parameters = NULL;
        if (ret_error)
                *ret_error = NULL;
        return continues ? 1 : 0;
}

bool varlink_client_has_input(VarlinkClient *c)
{
        return c->input.end > c->input.begin;
}

int varlink_client_take_fd(VarlinkClient *c)
{
        assert(c);

        if (c->reply_fd < 0)
                return -ENOENT;
        return TAKE_FD(c->reply_fd);
}
