/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink calls from inside an arbitrary process: no logging, no threads, close-on-exec, one
 * deadline for the whole exchange, signals blocked so a caller's handler never runs (or makes
 * us restart) in the middle of a call, and errno left to the entry points. */

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "nss-client.h"
#include "nss-servent.h"
#include "util.h"
#include "varlink-wire.h"

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

/* One exchange with the daemon.  The client's timeouts apply per operation, so each operation
 * gets what is left of the session's deadline. */
typedef struct NssSession {
        VarlinkClient *client;
        uint64_t deadline;
        sigset_t saved_mask;
} NssSession;

static int session_open(const NssConfig *cfg, NssSession *s)
{
        sigset_t all;
        int r;

        if (cfg->bypass)
                return -ENOENT; /* treated as unreachable: the daemon must not call itself */

        /* Every asynchronous signal waits until the exchange (bounded by the deadline) is over;
         * the synchronous ones stay deliverable, blocked they would kill rather than report. */
        sigfillset(&all);
        static const int synchronous[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS };
        for (size_t i = 0; i < ELEMENTSOF(synchronous); i++)
                sigdelset(&all, synchronous[i]);
        (void) pthread_sigmask(SIG_BLOCK, &all, &s->saved_mask);

        s->deadline = now_usec(CLOCK_MONOTONIC) + NSS_CLIENT_TIMEOUT_USEC;
        r = varlink_client_connect(cfg->socket, NSS_CLIENT_TIMEOUT_USEC, &s->client);
        if (r < 0) {
                s->client = NULL;
                (void) pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
        }
        return r;
}

static void session_close(NssSession *s)
{
        s->client = varlink_client_free(s->client);
        (void) pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
}

/* Gives the next operation what is left of the deadline; -ETIMEDOUT when nothing is. */
static int session_arm(NssSession *s)
{
        uint64_t n = now_usec(CLOCK_MONOTONIC);

        if (n >= s->deadline)
                return -ETIMEDOUT;
        varlink_client_set_timeout(s->client, s->deadline - n);
        return 0;
}

static int error_to_errno(const char *error)
{
        if (streq(error, VARLINK_ERROR_METHOD_NOT_FOUND) ||
                streq(error, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED) ||
                streq(error, VARLINK_ERROR_INTERFACE_NOT_FOUND))
                return -EOPNOTSUPP;
        return -EREMOTEIO;
}

int nss_client_get_snapshot(const NssConfig *cfg, int *ret_fd, uint64_t *ret_size)
{
        NssSession s;
        struct json_object *params, *size;
        const char *error;
        int r;

        r = session_open(cfg, &s);
        if (r < 0)
                return r;

        r = session_arm(&s);
        if (r >= 0)
                r = varlink_client_call(
                        s.client, SERVICES_INTERFACE ".GetSnapshot", NULL, 0, &params, &error);
        if (r > 0)
                r = -EPROTO;
        else if (r == 0 && error)
                r = error_to_errno(error);
        else if (r == 0) {
                if (!json_object_object_get_ex(params, "size", &size) ||
                        !json_object_is_type(size, json_type_int) || json_object_get_int64(size) <= 0)
                        r = -EBADMSG;
                else {
                        int fd = varlink_client_take_fd(s.client);
                        if (fd < 0)
                                r = -EBADMSG;
                        else {
                                *ret_fd = fd;
                                *ret_size = (uint64_t) json_object_get_int64(size);
                        }
                }
        }

        session_close(&s);
        return r;
}

static int take_service(struct json_object *params, struct json_object **ret_service)
{
        struct json_object *service;

        if (!json_object_object_get_ex(params, "service", &service) ||
                !json_object_is_type(service, json_type_object))
                return -EBADMSG;
        *ret_service = json_object_get(service);
        return 0;
}

static int lookup(const NssConfig *cfg, const char *method, struct json_object *params,
        struct json_object **ret_service)
{
        NssSession s;
        struct json_object *reply;
        const char *error;
        int r;

        r = session_open(cfg, &s);
        if (r < 0)
                return r;

        r = session_arm(&s);
        if (r >= 0)
                r = varlink_client_call(s.client, method, params, 0, &reply, &error);
        if (r > 0)
                r = -EPROTO;
        else if (r == 0 && !error)
                r = take_service(reply, ret_service) < 0 ? -EBADMSG : 1;
        else if (r == 0 && streq(error, ERROR_SERVICE_NOT_FOUND)) {
                *ret_service = NULL;
                r = 0;
        } else if (r == 0)
                r = error_to_errno(error);

        session_close(&s);
        return r;
}

static int build_params(
        const char *protocol, const char *key, struct json_object *value, struct json_object **ret)
{
        struct json_object *p = json_object_new_object();

        if (!p || !value || json_object_object_add(p, key, value) < 0) {
                json_object_put(value);
                json_object_put(p);
                return -ENOMEM;
        }
        if (protocol) {
                struct json_object *v = json_object_new_string(protocol);
                if (!v || json_object_object_add(p, "protocol", v) < 0) {
                        json_object_put(v);
                        json_object_put(p);
                        return -ENOMEM;
                }
        }
        *ret = p;
        return 0;
}

int nss_client_lookup_name(
        const NssConfig *cfg, const char *name, const char *protocol, struct json_object **ret_service)
{
        struct json_object *params;
        int r;

        r = build_params(protocol, "name", json_object_new_string(name), &params);
        if (r < 0)
                return r;
        r = lookup(cfg, SERVICES_INTERFACE ".GetServiceByName", params, ret_service);
        json_object_put(params);
        return r;
}

int nss_client_lookup_port(
        const NssConfig *cfg, uint16_t port, const char *protocol, struct json_object **ret_service)
{
        struct json_object *params;
        int r;

        r = build_params(protocol, "port", json_object_new_int(port), &params);
        if (r < 0)
                return r;
        r = lookup(cfg, SERVICES_INTERFACE ".GetServiceByPort", params, ret_service);
        json_object_put(params);
        return r;
}

int nss_client_list(const NssConfig *cfg, struct json_object **ret_services)
{
        NssSession s;
        struct json_object *list, *reply, *service;
        const char *error;
        int r;

        list = json_object_new_array();
        if (!list)
                return -ENOMEM;
        uint64_t start = now_usec(CLOCK_MONOTONIC);

        r = session_open(cfg, &s);
        if (r < 0) {
                json_object_put(list);
                return r;
        }

        r = session_arm(&s);
        if (r >= 0)
                r = varlink_client_call(
                        s.client, SERVICES_INTERFACE ".List", NULL, VARLINK_CALL_MORE, &reply, &error);
        for (;;) {
                if (r < 0)
                        break;
                if (error) {
                        /* The daemon answers an empty database with ServiceNotFound. */
                        if (streq(error, ERROR_SERVICE_NOT_FOUND) && json_object_array_length(list) == 0)
                                r = 0;
                        else
                                r = error_to_errno(error);
                        break;
                }
                bool more = r > 0;
                r = take_service(reply, &service);
                if (r < 0)
                        break;
                if (json_object_array_add(list, service) < 0) {
                        json_object_put(service);
                        r = -ENOMEM;
                        break;
                }
                if (!more)
                        break;
                /* A long list (the IANA registry is 11,700 replies) may take longer than one
                 * deadline on a busy machine: each reply buys another, as long as the whole
                 * stream ends within NSS_CLIENT_LIST_MAX_USEC. */
                if (now_usec(CLOCK_MONOTONIC) + NSS_CLIENT_TIMEOUT_USEC < start + NSS_CLIENT_LIST_MAX_USEC)
                        s.deadline = now_usec(CLOCK_MONOTONIC) + NSS_CLIENT_TIMEOUT_USEC;
                r = session_arm(&s);
                if (r >= 0)
                        r = varlink_client_next(s.client, &reply, &error);
        }

        session_close(&s);
        if (r < 0) {
                json_object_put(list);
                return r;
        }
        *ret_services = list;
        return 0;
}

static const char *json_alias(const void *userdata, size_t i)
{
        struct json_object *a = json_object_array_get_idx((struct json_object *) userdata, i);

        return json_object_is_type(a, json_type_string) ? json_object_get_string(a) : NULL;
}

int nss_service_fill(struct json_object *service, struct servent *result, char *buffer, size_t buflen)
{
        struct json_object *name, *port, *protocol, *aliases;

        if (!json_object_object_get_ex(service, "name", &name) ||
                !json_object_is_type(name, json_type_string) ||
                !json_object_object_get_ex(service, "port", &port) ||
                !json_object_is_type(port, json_type_int) ||
                !json_object_object_get_ex(service, "protocol", &protocol) ||
                !json_object_is_type(protocol, json_type_string))
                return -EBADMSG;
        int64_t p = json_object_get_int64(port);
        if (p < 0 || p > UINT16_MAX)
                return -EBADMSG;
        /* aliases is required by the interface, but an entry without them is still an entry. */
        if (!json_object_object_get_ex(service, "aliases", &aliases) || !aliases)
                aliases = NULL;
        else if (!json_object_is_type(aliases, json_type_array))
                return -EBADMSG;

        return servent_fill(result, buffer, buflen, json_object_get_string(name),
                json_object_get_string(protocol), (uint16_t) p,
                aliases ? json_object_array_length(aliases) : 0, json_alias, aliases);
}
