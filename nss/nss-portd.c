/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libnss_portd.so.2: glibc's "services" database answered by portd.  Lookups read the daemon's
 * snapshot mapped into this process; with any doubt about it they ask the daemon with a varlink
 * call, and when the daemon cannot be reached they answer UNAVAIL so the next source answers. */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <pthread.h>
#include <stdlib.h>

#include "nss-client.h"
#include "nss-mapping.h"
#include "nss-portd.h"
#include "nss-servent.h"
#include "snapshot.h"
#include "util.h"

/* The status of a lookup that got an answer (or none) as glibc wants it.  errnop is errno
 * itself when glibc calls us: put the caller's errno back first, then set it only where the
 * status needs an explanation. */
static enum nss_status finish(int r, int saved_errno, int *errnop)
{
        errno = saved_errno;
        if (r >= 0)
                return NSS_STATUS_SUCCESS;
        switch (r) {
        case -ENOENT:
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        case -ERANGE:
                /* glibc retries with a larger buffer on exactly TRYAGAIN + ERANGE. */
                *errnop = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        default:
                /* An answer we cannot trust: as if the daemon were not there. */
                *errnop = -r;
                return NSS_STATUS_UNAVAIL;
        }
}

/* The daemon cannot be reached (r says why; -ENOENT here is a missing socket, not a missing
 * entry): UNAVAIL lets the next source of the nsswitch.conf line, files, answer instead. */
static enum nss_status unavailable(int r, int saved_errno, int *errnop)
{
        errno = saved_errno;
        *errnop = -r;
        return NSS_STATUS_UNAVAIL;
}

static const char *snapshot_alias(const void *userdata, size_t i, size_t *ret_len)
{
        const void *const *p = userdata;
        uint32_t len;
        const char *a = snapshot_entry_alias_len(p[0], p[1], (uint32_t) i, &len);

        *ret_len = len;
        return a;
}

static int fill_from_snapshot(
        const Snapshot *s, const SnapshotEntry *e, struct servent *result, char *buffer, size_t buflen)
{
        if (e->n_aliases == 0 && buffer)
                return servent_fill_plain(
                        result, buffer, buflen, e->name, e->name_len, e->protocol, e->protocol_len, e->port);

        const void *userdata[2] = { s, e };

        return servent_fill_len(result, buffer, buflen, e->name, e->name_len, e->protocol, e->protocol_len,
                e->port, e->n_aliases, snapshot_alias, userdata);
}

/* Without a usable snapshot, or with one in doubt: the daemon answers with a varlink call, by
 * name when name is set, else by port (host byte order); protocol NULL is any.  Out of line, so
 * that the lookups on the snapshot keep a frame of their own size. */
static __attribute__((noinline)) enum nss_status lookup_by_call(const char *name, uint16_t port, const char *protocol,
        struct servent *result, char *buffer, size_t buflen, int saved_errno, int *errnop)
{
        NssConfig cfg;
        NssService *service;
        int r;

        nss_config_read(&cfg);
        r = name ? nss_client_lookup_name(&cfg, name, protocol, &service)
                 : nss_client_lookup_port(&cfg, port, protocol, &service);
        if (r < 0)
                return unavailable(r, saved_errno, errnop);
        if (r == 0)
                return finish(-ENOENT, saved_errno, errnop);
        r = nss_service_fill(service, result, buffer, buflen);
        free(service);
        return finish(r, saved_errno, errnop);
}

/* The same on the snapshot first.  Inlined into each entry point, where name being NULL or not is
 * a constant: by name or by port is no test, and the key stays in registers. */
static inline __attribute__((always_inline)) enum nss_status lookup(const char *name, uint16_t port,
        const char *protocol, struct servent *result, char *buffer, size_t buflen, int *errnop)
{
        int saved_errno = errno;
        const Snapshot *s;
        SnapshotEntry e;
        int r;

        r = mapping_acquire_thread(&s);
        if (r < 0)
                return unavailable(r, saved_errno, errnop);
        if (s) {
                r = name ? snapshot_lookup_name(s, name, protocol, &e) : snapshot_lookup_port(s, port, protocol, &e);
                if (r >= 0)
                        r = fill_from_snapshot(s, &e, result, buffer, buflen);
                /* A mapped image that contradicts itself is a doubt like any other: ask. */
                if (r != -EBADMSG)
                        return finish(r, saved_errno, errnop);
        }
        return lookup_by_call(name, port, protocol, result, buffer, buflen, saved_errno, errnop);
}

_public_ enum nss_status _nss_portd_getservbyname_r(const char *name, const char *protocol,
        struct servent *result, char *buffer, size_t buflen, int *errnop)
{
        return lookup(name, 0, protocol, result, buffer, buflen, errnop);
}

_public_ enum nss_status _nss_portd_getservbyport_r(
        int port, const char *protocol, struct servent *result, char *buffer, size_t buflen, int *errnop)
{
        /* glibc's files backend compares the int as given with 16-bit ports: anything outside
         * 0..65535 matches nothing. */
        if (port < 0 || port > UINT16_MAX) {
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        }
        return lookup(NULL, ntohs((uint16_t) port), protocol, result, buffer, buflen, errnop);
}

/* One enumeration per process, as glibc keeps one: a position in the snapshot the enumeration
 * started on (pinned, so a reload in the middle still yields the old sequence, whole), or the
 * daemon's List read in full when there is no snapshot. */
static pthread_mutex_t enumeration_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        bool started;
        SnapshotMapping *mapping;
        NssServiceList services;
        size_t position;
} enumeration;

static void after_fork_child(void);

static void register_fork_handler(void)
{
        (void) pthread_atfork(NULL, NULL, after_fork_child);
}

static void enumeration_lock_take(void);

static void enumeration_reset(void)
{
        if (enumeration.mapping)
                mapping_unref(enumeration.mapping);
        nss_service_list_done(&enumeration.services);
        enumeration.mapping = NULL;
        enumeration.position = 0;
        enumeration.started = false;
}

static int enumeration_start(void)
{
        int r;

        r = mapping_acquire(&enumeration.mapping);
        if (r < 0)
                return r;
        /* An enumeration reads every page of the image: all are checked first, and with one
         * found wrong the daemon's List is read instead, whole, rather than stopping halfway. */
        if (enumeration.mapping && snapshot_verify_all(mapping_snapshot(enumeration.mapping)) < 0) {
                mapping_unref(enumeration.mapping);
                enumeration.mapping = NULL;
        }
        if (!enumeration.mapping) {
                NssConfig cfg;
                nss_config_read(&cfg);
                r = nss_client_list(&cfg, &enumeration.services);
                if (r < 0)
                        return r;
        }
        enumeration.started = true;
        return 0;
}

static int enumeration_next(struct servent *result, char *buffer, size_t buflen)
{
        int r;

        if (enumeration.mapping) {
                const Snapshot *s = mapping_snapshot(enumeration.mapping);
                SnapshotEntry e;
                if (enumeration.position >= snapshot_n_entries(s))
                        return -ENOENT;
                r = snapshot_entry(s, (uint32_t) enumeration.position, &e);
                if (r >= 0)
                        r = fill_from_snapshot(s, &e, result, buffer, buflen);
        } else {
                if (enumeration.position >= enumeration.services.n_services)
                        return -ENOENT;
                r = nss_service_fill(enumeration.services.services[enumeration.position], result, buffer, buflen);
        }
        /* On ERANGE the position stays: glibc calls again for the same entry with more room. */
        if (r >= 0)
                enumeration.position++;
        return r;
}

/* setservent() and endservent() alike; called directly, not through the exported symbol, which
 * the dynamic linker would have to look up at load (through every object in the process's
 * scope before ours) and another object could interpose. */
static enum nss_status enumeration_clear(void)
{
        int saved_errno = errno;

        enumeration_lock_take();
        enumeration_reset();
        pthread_mutex_unlock(&enumeration_lock);
        errno = saved_errno;
        return NSS_STATUS_SUCCESS;
}

_public_ enum nss_status _nss_portd_setservent(int stayopen)
{
        return enumeration_clear();
}

_public_ enum nss_status _nss_portd_getservent_r(
        struct servent *result, char *buffer, size_t buflen, int *errnop)
{
        int saved_errno = errno;
        int r;

        enumeration_lock_take();
        /* glibc calls getservent_r without setservent when the program never called it: start
         * at the beginning then. */
        if (!enumeration.started) {
                r = enumeration_start();
                if (r < 0) {
                        enumeration_reset();
                        pthread_mutex_unlock(&enumeration_lock);
                        return unavailable(r, saved_errno, errnop);
                }
        }
        r = enumeration_next(result, buffer, buflen);
        pthread_mutex_unlock(&enumeration_lock);
        return finish(r, saved_errno, errnop);
}

_public_ enum nss_status _nss_portd_endservent(void)
{
        return enumeration_clear();
}

static void after_fork_child(void)
{
        /* Only this thread survives the fork: a lock another thread held is free now.  The
         * enumeration itself is plain memory and carries over, as glibc's own state does.  (The
         * mapping registers its own handler, nss-mapping.c.) */
        enumeration_lock = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
}

/* Registered before the enumeration lock is first taken: only a program that enumerates needs it,
 * and the lookups' first call does not pay for its pthread_once().  The module is linked with
 * -z nodelete, so the handler never outlives its code. */
static void enumeration_lock_take(void)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        (void) pthread_once(&once, register_fork_handler);
        pthread_mutex_lock(&enumeration_lock);
}
