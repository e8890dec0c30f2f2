/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A generic varlink server on sd-event: listening socket, connections with bounded buffers,
 * idle timeouts, per-UID caps and fair sharing of the slots, a method table, and
 * org.varlink.service built in.  The io.portd.* interfaces register their methods here; the wire
 * format is common/varlink-wire.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "varlink-wire.h"

struct json_object;

typedef struct VarlinkServer VarlinkServer;
typedef struct VarlinkConnection VarlinkConnection;

/* Limits; a zero field takes the default noted. */
typedef struct VarlinkServerLimits {
        size_t message_max;            /* longest call accepted: VARLINK_MESSAGE_MAX (64 KiB) */
        size_t output_max;             /* queued reply bytes per connection before it is dropped: 16 MiB */
        uint64_t idle_timeout_usec;    /* no traffic, and no call in progress or replies unread: 60 s */
        uint64_t message_timeout_usec; /* from the first byte of a message to its NUL: 5 s */
        /* All connections: half of what RLIMIT_NOFILE leaves after a reserve of 64 descriptors
         * (each connection may hold its socket and one fd queued for sending), at most 4096. */
        unsigned connections_max;
        unsigned connections_root_reserve; /* slots only UID 0 may take: connections_max / 8, 1..64 */
        /* per non-root UID: 32 (root is only bound by connections_max).  When the users' slots are
         * all taken, a UID holding fewer than the heaviest UID takes the oldest connection of that
         * one (max-min fair sharing: many UIDs of one person cannot starve the others). */
        unsigned connections_per_uid_max;
} VarlinkServerLimits;

/* A method.  parameters is the call's "parameters" object (an empty object when the call had
 * none), borrowed for the duration of the callback; flags are VarlinkCallFlags.
 *
 * The callback answers with exactly one of varlink_connection_reply(),
 * varlink_connection_reply_fd(), varlink_connection_error*(), optionally preceded by any number of
 * varlink_connection_notify() (only if flags has VARLINK_CALL_MORE; otherwise reply
 * VARLINK_ERROR_EXPECTED_MORE if the method needs it).  It may also return 0 without answering
 * and answer later (asynchronously): then it must hold a reference (varlink_connection_ref()) until
 * it has answered; the connection reads no further calls meanwhile.  For a oneway call the answer
 * functions do nothing and return 0, so callbacks need not check.
 *
 * Returning a negative errno without having answered closes the connection: the client sees EOF
 * (the NSS module then falls back to the next source).  Except -EMFILE and -ENFILE before any
 * answer (e.g. from varlink_connection_reply_fd()): that is back-pressure, and the same call is
 * dispatched again a little later.  The server does not log. */
typedef int (*VarlinkMethodCallback)(
        VarlinkConnection *c, struct json_object *parameters, unsigned flags, void *userdata);

/* product, version, url feed GetInfo (vendor is "portd").  All copied. */
int varlink_server_new(sd_event *event, const VarlinkServerLimits *limits, const char *product,
        const char *version, const char *url, VarlinkServer **ret);
/* Closes every connection and listening socket; returns NULL.  Takes NULL. */
VarlinkServer *varlink_server_free(VarlinkServer *s);

/* Registers an interface from its description, exactly as the .varlink file is written (served
 * verbatim by GetInterfaceDescription); the name is taken from its "interface NAME" line.  The
 * text is copied.  -EINVAL when there is no valid interface line, -EEXIST when registered twice. */
int varlink_server_add_interface(VarlinkServer *s, const char *description);
/* Registers a method by full name ("io.portd.Services.GetServiceByName"); its interface must be
 * registered first (-ENOENT otherwise).  -EEXIST when registered twice.  Calls to anything not
 * registered are answered by the server: InterfaceNotFound for an unknown interface,
 * MethodNotImplemented for a method the description declares, MethodNotFound otherwise. */
int varlink_server_add_method(
        VarlinkServer *s, const char *method, VarlinkMethodCallback callback, void *userdata);

/* Serves on a listening socket (e.g. from sd_listen_fds()); takes the fd, also on failure. */
int varlink_server_listen_fd(VarlinkServer *s, int fd);
/* The same, its connections' events handled at priority (sd-event's: lower goes first) and its
 * accepts one step after them, where varlink_server_listen_fd() has SD_EVENT_PRIORITY_NORMAL:
 * connections on a socket only a privileged client may reach go before everyone else's. */
int varlink_server_listen_fd_priority(VarlinkServer *s, int fd, int64_t priority);
/* Creates, binds and listens on a Unix socket at path, with the given access mode (0666 for a
 * public service); it appears at path already listening.  A socket already there is replaced only
 * if nobody listens on it (stale, from a daemon that was killed): -EADDRINUSE when a live server
 * answers there, or when path is some other kind of file.  path plus 9 bytes must fit in
 * sun_path (a temporary name beside it): -ENAMETOOLONG otherwise. */
int varlink_server_listen_path(VarlinkServer *s, const char *path, mode_t mode);
/* The same for a socket someone else serves: the listening fd (O_CLOEXEC), or -errno as above. */
int varlink_socket_listen_path(const char *path, mode_t mode);
/* Whether a server listens on the Unix socket at path: 1 if a connect() there succeeds (or finds
 * its backlog full), 0 if nothing is there or nobody listens (ENOENT, ECONNREFUSED), else -errno. */
int varlink_socket_probe(const char *path);

unsigned varlink_server_n_connections(VarlinkServer *s);

/* ---- connections (inside method callbacks) ---- */

VarlinkConnection *varlink_connection_ref(VarlinkConnection *c);
/* Takes NULL; returns NULL. */
VarlinkConnection *varlink_connection_unref(VarlinkConnection *c);
VarlinkServer *varlink_connection_get_server(VarlinkConnection *c);

/* Final successful reply; parameters borrowed, NULL means {}.  -ENOTCONN when the client is gone
 * (harmless: the answer is dropped), -EBADMSG when no call is waiting for an answer. */
int varlink_connection_reply(VarlinkConnection *c, struct json_object *parameters);
/* As varlink_connection_reply(), and fd (borrowed: it is duplicated) travels with the reply via
 * SCM_RIGHTS.  The connection reads no further calls until that reply is sent, so a client holds
 * at most one such duplicate in the server.  -EMFILE/-ENFILE when it cannot be duplicated now
 * (nothing is queued; see VarlinkMethodCallback). */
int varlink_connection_reply_fd(VarlinkConnection *c, struct json_object *parameters, int fd);
/* An intermediate reply ("continues": true) of a call with VARLINK_CALL_MORE; -EPROTO without it. */
int varlink_connection_notify(VarlinkConnection *c, struct json_object *parameters);
/* As varlink_connection_reply() and _notify(), with the parameters given as the text of one JSON
 * object (n bytes, no NUL needed), which the caller vouches for: written by json-writer.h, not
 * from anything a client sent. */
int varlink_connection_reply_json(VarlinkConnection *c, const char *parameters, size_t n);
int varlink_connection_notify_json(VarlinkConnection *c, const char *parameters, size_t n);
/* A lazily produced stream of replies for the open call with VARLINK_CALL_MORE (-EPROTO without
 * it): instead of answering, the method callback hands over produce and returns 0.  The server
 * calls produce whenever the connection's unsent output is small, and it adds a few
 * varlink_connection_notify() and, at the end, the final reply; a slow reader thus pins a bounded
 * amount of memory however long the stream.  produce returning < 0 closes the connection.
 * destroy (may be NULL) is called on userdata once the call is answered or the client is gone. */
typedef int (*VarlinkStreamCallback)(VarlinkConnection *c, void *userdata);
int varlink_connection_stream(
        VarlinkConnection *c, VarlinkStreamCallback produce, void *userdata, void (*destroy)(void *));
/* After a producer returned -EAGAIN without adding anything (its data is not ready yet), the
 * stream waits for this call; a disconnect meanwhile ends it as usual (destroy runs). */
void varlink_connection_stream_resume(VarlinkConnection *c);
/* Closes the connection and drops it without a word to the client (a follower that stopped
 * reading, say). */
void varlink_connection_forget(VarlinkConnection *c);
/* Final error reply; error must be a valid "interface.Name"; parameters borrowed, NULL means {}. */
int varlink_connection_error(VarlinkConnection *c, const char *error, struct json_object *parameters);
/* org.varlink.service.InvalidParameter {"parameter": name}. */
int varlink_connection_error_invalid_parameter(VarlinkConnection *c, const char *parameter);

/* The peer's credentials as the kernel recorded them at connect() (SO_PEERCRED); cached. */
int varlink_connection_get_peer_credentials(VarlinkConnection *c, struct ucred *ret);
/* A pidfd for the peer (SO_PEERPIDFD, race-free), owned by the caller; -EOPNOTSUPP on kernels
 * without it. */
int varlink_connection_get_peer_pidfd(VarlinkConnection *c);
/* The connection's socket (e.g. for the peer's network namespace); still owned by the server. */
int varlink_connection_get_fd(VarlinkConnection *c);

/* Opaque pointer for the method code, e.g. a scope resolved once per connection.  destroy (may be
 * NULL) is called on it when the connection is freed. */
void varlink_connection_set_userdata(VarlinkConnection *c, void *userdata, void (*destroy)(void *));
void *varlink_connection_get_userdata(VarlinkConnection *c);
