/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink on the wire (UAPI.20 / varlink.org): NUL-terminated JSON framing, strict checks of
 * calls and replies, and the blocking client with deadlines that portctl, the benchmarks and the
 * tests use (no logging, no global state, close-on-exec, MSG_NOSIGNAL).  The server lives in
 * daemon/; the NSS module has its own libc-only client (nss/nss-client.c) and links none of this. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct json_object;
struct json_tokener;
struct sockaddr_un;

/* Largest message (without its NUL) the server accepts from a client. */
#define VARLINK_MESSAGE_MAX (64U * 1024U)
/* Largest reply the client accepts from a server. */
#define VARLINK_REPLY_MAX (16U * 1024U * 1024U)

/* Flags of a call; the same values are passed to server method callbacks. */
typedef enum VarlinkCallFlags {
        VARLINK_CALL_ONEWAY = 1U << 0, /* the server sends no reply */
        VARLINK_CALL_MORE =
                1U << 1, /* the server may reply many times, "continues": true on all but the last */
} VarlinkCallFlags;

/* The standard errors of org.varlink.service. */
#define VARLINK_ERROR_INTERFACE_NOT_FOUND    "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_FOUND       "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_INVALID_PARAMETER      "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_EXPECTED_MORE          "org.varlink.service.ExpectedMore"
#define VARLINK_ERROR_PERMISSION_DENIED      "org.varlink.service.PermissionDenied"

/* ---- names ---- */

/* "org.example.foo": reverse-domain, at least two labels, as the varlink grammar says. */
bool varlink_interface_name_is_valid(const char *name);
/* "org.example.foo.Method" (also the shape of error names): a valid interface name, a dot,
 * then [A-Z][A-Za-z0-9]*. */
bool varlink_method_name_is_valid(const char *name);
/* Length of the interface part of a valid method or error name (the part before the last dot). */
size_t varlink_method_interface_length(const char *name);

/* ---- framing ---- */

/* Accumulates bytes from any number of reads and cuts them into NUL-terminated messages.
 * Fields are read-only for users; use the functions. */
typedef struct VarlinkBuffer {
        char *data;
        size_t allocated;
        size_t begin;       /* first byte not yet handed out */
        size_t end;         /* one past the last byte received */
        size_t scanned;     /* bytes after begin already known to hold no NUL */
        size_t message_max; /* longest message allowed, NUL excluded */
        uint64_t position;  /* stream offset of data[begin]: bytes handed out so far */
        struct json_tokener *tokener;
} VarlinkBuffer;

/* message_max == 0 means VARLINK_MESSAGE_MAX. */
void varlink_buffer_init(VarlinkBuffer *b, size_t message_max);
/* Frees everything; the buffer may be initialised again. */
void varlink_buffer_done(VarlinkBuffer *b);
/* Room to read into: at least min bytes (compacting or growing as needed); ret_size gets what is
 * available, which may be more.  Follow with varlink_buffer_commit(). */
int varlink_buffer_prepare(VarlinkBuffer *b, size_t min, char **ret_ptr, size_t *ret_size);
/* Declares that n bytes were written at the pointer varlink_buffer_prepare() returned. */
void varlink_buffer_commit(VarlinkBuffer *b, size_t n);
/* Copies bytes in (prepare + memcpy + commit). */
int varlink_buffer_append(VarlinkBuffer *b, const void *data, size_t n);
/* Bytes received and not handed out yet. */
size_t varlink_buffer_pending(const VarlinkBuffer *b);
/* The next complete message, NUL excluded from ret_size; the pointer stays valid until the next
 * call on the buffer.  Returns 1 with a message, 0 when none is complete yet, -EMSGSIZE when the
 * message being received is longer than message_max (the stream cannot be trusted after that). */
int varlink_buffer_next(VarlinkBuffer *b, const char **ret_message, size_t *ret_size);
/* varlink_buffer_next() + varlink_message_parse(), reusing one tokener.  Returns 1 and a new
 * reference, 0 when incomplete, -EMSGSIZE, or -EBADMSG when the message is not a JSON object. */
int varlink_buffer_next_object(VarlinkBuffer *b, struct json_object **ret);

/* Parses exactly n bytes of strict JSON (UTF-8 checked, nothing after the value) that must be an
 * object.  Returns 0 and a new reference, -EBADMSG otherwise, -ENOMEM. */
int varlink_message_parse(const char *s, size_t n, struct json_object **ret);
/* The wire form of a message: JSON followed by NUL.  *ret_size counts the NUL.  Returns a
 * malloc()ed string. */
int varlink_message_serialize(struct json_object *m, char **ret, size_t *ret_size);

/* ---- messages ---- */

/* {"method": ..., "parameters": ..., "oneway": true, "more": true}; parameters may be NULL (sent as
 * {}), it is borrowed (a reference is taken).  -EINVAL for an invalid method name. */
int varlink_message_build_call(
        const char *method, struct json_object *parameters, unsigned flags, struct json_object **ret);
/* {"parameters": ..., "continues": true, "error": ...}; parameters may be NULL (sent as {}) and
 * is borrowed; error NULL for a successful reply.  -EINVAL for an invalid error name. */
int varlink_message_build_reply(
        struct json_object *parameters, bool continues, const char *error, struct json_object **ret);

/* A call as received; pointers borrow from the message object. */
typedef struct VarlinkCall {
        const char *method;
        struct json_object *parameters; /* an object, NULL when absent */
        unsigned flags;                 /* VarlinkCallFlags */
} VarlinkCall;

/* Strict shape check of a call: "method" a valid method name, "parameters" an object if present,
 * "oneway"/"more" booleans if present; other keys ignored.  0 or -EBADMSG. */
int varlink_call_parse(struct json_object *m, VarlinkCall *ret);

/* A reply as received; pointers borrow from the message object. */
typedef struct VarlinkReply {
        struct json_object *parameters; /* an object, NULL when absent or null */
        const char *error;              /* NULL for success */
        bool continues;
} VarlinkReply;

/* Shape check of a reply: "parameters" object or null if present, "continues" boolean if
 * present, "error" a valid error name if present.  0 or -EBADMSG. */
int varlink_reply_parse(struct json_object *m, VarlinkReply *ret);

/* ---- blocking client ----
 *
 * One connection, one call at a time (a "more" call is finished when its last reply has been
 * read).  Every operation runs against an absolute CLOCK_MONOTONIC deadline, now + timeout at its
 * start.  The socket is SOCK_CLOEXEC|SOCK_NONBLOCK and waited on with poll(); sends use
 * MSG_NOSIGNAL; file descriptors arrive with MSG_CMSG_CLOEXEC.  Nothing here logs, touches
 * global state, or blocks signals: blocking signals and saving errno are the caller's job.
 * After any error other than a varlink error reply, the client is dead: later calls return
 * -ENOTCONN. */

typedef struct VarlinkClient VarlinkClient;

/* Fills sa with an absolute filesystem path (abstract names not supported) and ret_len with the
 * address length for bind()/connect(); -EINVAL for a relative path, -ENAMETOOLONG when it does
 * not fit. */
int sockaddr_un_set(struct sockaddr_un *sa, const char *path, socklen_t *ret_len);

/* Connects to the Unix socket at path (abstract names not supported).  timeout_usec 0 means the
 * default of 5 s; it also becomes the per-operation timeout.  -ENAMETOOLONG, -ETIMEDOUT, or the
 * errno of socket()/connect() (-ENOENT, -ECONNREFUSED, -EACCES ...). */
int varlink_client_connect(const char *path, uint64_t timeout_usec, VarlinkClient **ret);
/* Wraps an already connected stream socket (for tests with socketpair()); takes the fd, also on
 * failure.  The fd is switched to non-blocking mode. */
int varlink_client_connect_fd(int fd, uint64_t timeout_usec, VarlinkClient **ret);
/* Closes the socket and any received fd not taken; returns NULL. */
VarlinkClient *varlink_client_free(VarlinkClient *c);

void varlink_client_set_timeout(VarlinkClient *c, uint64_t timeout_usec);
/* Largest reply accepted (default VARLINK_REPLY_MAX); a longer one kills the client with
 * -EMSGSIZE.  Only before the first call. */
int varlink_client_set_reply_max(VarlinkClient *c, size_t reply_max);
/* The socket, for callers that want to poll it themselves. */
int varlink_client_get_fd(VarlinkClient *c);
/* Whether bytes of a reply were read from the socket already and wait here: a caller that polls
 * the socket reads those first (varlink_client_next()), for poll() cannot see them. */
bool varlink_client_has_input(VarlinkClient *c);

/* Sends a call and, unless VARLINK_CALL_ONEWAY, reads the (first) reply.
 *   parameters: may be NULL (sent as {}); borrowed.
 *   ret_parameters: the reply's parameters, never NULL on success (an empty object when the reply
 *     had none), borrowed: valid until the next call/next/free on this client; take a reference
 *     to keep it.  May be NULL.  Set to NULL for a oneway call.
 *   ret_error: the error name if the server replied with an error, else NULL; borrowed like
 *     ret_parameters.  If ret_error is NULL and the server replied with an error, the call
 *     returns -EREMOTEIO (ret_parameters is still set to the error's parameters).
 * Returns 1 when more replies follow (VARLINK_CALL_MORE and "continues": true: read them with
 * varlink_client_next()), 0 for the final reply or a sent oneway call; negative errno:
 * -EBUSY when a "more" stream is still open, -ETIMEDOUT, -ECONNRESET when the server closed the
 * connection, -EBADMSG for garbage, -EMSGSIZE for an oversized reply, -EPROTO for a reply with
 * "continues" to a call without "more", -ENOTCONN on a dead client. */
int varlink_client_call(VarlinkClient *c, const char *method, struct json_object *parameters, unsigned flags,
        struct json_object **ret_parameters, const char **ret_error);
/* Reads the next reply of an open "more" stream; same outputs and return values as
 * varlink_client_call() (-EBUSY becomes -ENOMSG: no stream is open). */
int varlink_client_next(VarlinkClient *c, struct json_object **ret_parameters, const char **ret_error);
/* What reads a reply's text itself: 1 when it took the message (a reply without error, *continues
 * as its "continues" said), 0 when the message is not of the shape it knows (it is then parsed as
 * varlink_client_next() would), negative errno to fail.  The message is NUL-terminated and valid
 * only during the call. */
typedef int (*VarlinkReplyReader)(const char *message, size_t size, bool *continues, void *userdata);
/* varlink_client_next() for a stream of many small replies of one shape (who's rows): reader sees
 * each first, without json-c, which costs more than everything else the caller does with a reply.
 * For a reply reader took, *ret_parameters and *ret_error are NULL. */
int varlink_client_next_with(VarlinkClient *c, VarlinkReplyReader reader, void *userdata,
        struct json_object **ret_parameters, const char **ret_error);
/* The file descriptor that arrived (SCM_RIGHTS) together with the last reply returned, handed to
 * the caller, who must close it.  -ENOENT when that reply carried none.  Extra fds in one message
 * are closed on arrival.  A server must send an fd together with the first byte of the reply it
 * belongs to, in a sendmsg() that carries no other message's bytes (the server in daemon/ does). */
int varlink_client_take_fd(VarlinkClient *c);
