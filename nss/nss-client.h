/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NSS module's side of io.portd.Services: short blocking varlink calls to the daemon, each
 * bounded by one deadline, with asynchronous signals blocked around each socket operation. */
#pragma once

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "nss-json.h"

/* The whole exchange with the daemon, connect included, must end within this. */
#define NSS_CLIENT_TIMEOUT_USEC (1000U * 1000U)
/* List: the deadline moves on with every reply, up to this for the whole stream. */
#define NSS_CLIENT_LIST_MAX_USEC (30U * 1000U * 1000U)
/* Longest reply message accepted (one Service, or GetSnapshot's few fields). */
#define NSS_CLIENT_MESSAGE_MAX (1024U * 1024U)

/* What the environment asks of the module; read with secure_getenv() each time the module is
 * about to talk to the daemon, never on the lookup hot path.  Pointers borrow from environ. */
typedef struct NssConfig {
        const char *socket; /* $PORTD_SOCKET, else PORTD_DEFAULT_SOCKET */
        bool bypass;        /* $PORTD_BYPASS set: never talk to the daemon (it is the daemon) */
        bool no_snapshot;   /* $PORTD_NSS_NO_SNAPSHOT set: varlink calls only (tests, benchmarks) */
} NssConfig;

void nss_config_read(NssConfig *ret);

/* True for errors that mean the daemon cannot be reached (no socket, refused, timed out, gone
 * mid-call): the caller answers UNAVAIL at once rather than trying another call. */
bool nss_client_error_is_unreachable(int r);

/* One io.portd.Services Service, in one allocation (free() it): strings NUL-terminated. */
typedef struct NssService {
        const char *name;
        const char *protocol;
        uint16_t port;
        size_t n_aliases;
        const char **aliases;
} NssService;

/* The whole List, in getservent order. */
typedef struct NssServiceList {
        NssService **services;
        size_t n_services, allocated;
} NssServiceList;

void nss_service_list_done(NssServiceList *l);

/* GetSnapshot: the memfd the reply carried and the image size the daemon announced.
 * -EOPNOTSUPP when the daemon does not offer snapshots, -EBADMSG for a malformed reply. */
int nss_client_get_snapshot(const NssConfig *cfg, int *ret_fd, uint64_t *ret_size);

/* GetServiceByName / GetServiceByPort; protocol NULL means any.  1 and the service (free() it),
 * 0 and NULL when nothing matches, or a negative errno (-ENOENT then means that the socket does
 * not exist; -EINVAL that the name cannot be sent, not being UTF-8). */
int nss_client_lookup_name(const NssConfig *cfg, const char *name, const char *protocol, NssService **ret_service);
int nss_client_lookup_port(const NssConfig *cfg, uint16_t port, const char *protocol, NssService **ret_service);

/* List with "more", read to its end (an empty list when the daemon has no entries). */
int nss_client_list(const NssConfig *cfg, NssServiceList *ret);

/* The Service object at token index object of a parsed reply, copied out into one allocation:
 * 0, -EBADMSG when it is not a Service (name, port 0..65535, protocol; aliases an array of
 * strings, or absent or null), or -ENOMEM. */
int nss_service_from_json(const NssJson *j, int object, NssService **ret);

/* Copies a service into result and buffer: 0 or -ERANGE. */
int nss_service_fill(const NssService *service, struct servent *result, char *buffer, size_t buflen);
