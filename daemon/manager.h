/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state: the event loop, the varlink server, the parsed sources, the host's catalog
 * with its image and every scope's.  Everything the varlink methods read lives here; the types
 * are defined here, the functions in the files daemon.h names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "catalog.h"
#include "scope.h"
#include "varlink-server.h"

/* One source of the merge as the daemon last saw it. */
typedef struct SourceState {
        char *path; /* as administrators know it, without --root */
        CatalogLayer layer;
        bool masked;
        ServicesFile *file; /* the last good parse; NULL when masked or never read */
        int error;          /* negative errno of the last failed read, 0 after a good one */
} SourceState;

/* A catalog's snapshot image in a sealed memfd.  The daemon keeps a shared writable mapping
 * (taken before the seals) so it can flag the image superseded; clients only ever get ro_fd. */
typedef struct SnapshotImage {
        int fd;    /* the memfd itself, read-write */
        int ro_fd; /* a read-only reopening of it, handed to clients; fd where /proc is missing */
        void *map;
        size_t size;
        uint64_t generation;
} SnapshotImage;

/* A reference-counted catalog: a List stream keeps the catalog it started from alive across
 * reloads, so that an enumeration never mixes two generations. */
typedef struct CatalogHold {
        unsigned n_ref;
        Catalog *catalog;
} CatalogHold;

struct json_object;

/* A catalog as it is served (image.c): the host's, or a scope's.  Replaced whole by a rebuild. */
typedef struct CatalogImage {
        Catalog *catalog;        /* hold->catalog; NULL until built (a scope nobody asked for yet) */
        CatalogHold *hold;       /* one reference, the image's own */
        SnapshotImage *snapshot; /* NULL until written */
        struct json_object **reply_cache; /* varlink-services.c: lookup replies by entry index */
        size_t n_reply_cache;
} CatalogImage;
typedef struct WatchEntry WatchEntry;

/* A scope as the daemon serves it (scopes.c): its definition and drop-ins as last seen, and the
 * catalog and snapshot its callers get, built over the host's sources and its own. */
typedef struct ScopeState {
        char *name;
        ScopeDefinition *definition; /* the last good parse of NAME.scope */
        int error;                   /* negative errno of the last failed read of NAME.scope */
        SourceState *sources;        /* NAME.d/ *.conf in the order they apply */
        size_t n_sources;
        CatalogImage image;       /* built when a caller of the scope first asks */
        struct ScopeState *reuse; /* during a reload: the old state whose image carries over */
        int build_error;          /* of the last failed build; none is tried before build_retry_usec */
        uint64_t build_retry_usec; /* CLOCK_MONOTONIC */
} ScopeState;

/* A caller refused a kind of request (a string constant naming it), as logged. */
#define REFUSED_CALLERS_MAX 64
typedef struct RefusedCaller {
        uid_t uid;
        const char *what;
} RefusedCaller;

/* A listening socket of the owner-query side; path: what we bound ourselves (NULL for a passed
 * one), removed at exit unless another instance has replaced it meanwhile (dev, inode). */
typedef struct OwnerListener {
        int fd;
        char *path;
        dev_t dev;
        ino_t inode;
} OwnerListener;

typedef struct Manager {
        sd_event *event;
        char *root; /* NULL for / */

        VarlinkServer *server;
        char *socket_path; /* what we bound ourselves; NULL when systemd passed the socket */
        dev_t socket_dev;
        ino_t socket_inode;
        bool ready; /* READY=1 sent: reloads are announced to systemd from now on */

        /* Sources in the order they apply: /etc/services, then the drop-ins. */
        SourceState *sources;
        size_t n_sources;

        /* What every answer to a caller outside the scopes comes from. */
        CatalogImage image;
        /* The snapshot also as a file beside the socket (snapshot-file.c), while there are no
         * scopes; publish_path is the socket's path, NULL where it has none. */
        struct SnapshotFile *published;
        uint64_t published_generation;
        char *publish_path;
        uint64_t generation;
        uint64_t loaded_usec; /* CLOCK_REALTIME of the last rebuild */
        /* varlink-services.c: open Monitor calls, referenced, at most MONITORS_MAX; and what the
         * next rebuild is for ("override"), NULL for a reload or a change of the files */
        struct VarlinkConnection **monitors;
        size_t n_monitors;
        const char *rebuild_cause;

        /* scopes.c: in the order they are tried (lexical by name); the first that matches a caller
         * answers it.  scopes_generation changes with every new list, so that connections match
         * their caller again. */
        ScopeState *scopes;
        size_t n_scopes;
        uint64_t scopes_generation;

        /* watch.c */
        int inotify_fd;
        sd_event_source *inotify_event_source;
        sd_event_source *debounce_event_source;
        uint64_t debounce_first_usec; /* CLOCK_MONOTONIC of the first event since the last reload */
        WatchEntry *watches;
        size_t n_watches, n_watches_allocated;
        uint64_t n_reloads;
        /* A failed reload (or watch setup) is tried again after this back-off, doubling. */
        sd_event_source *retry_event_source;
        uint64_t retry_delay_usec;

        /* settings.c: what /etc/portd/portd.conf says (who may edit overrides) */
        struct Settings *settings;

        /* owner-handoff.c: the channel to the owner-query process, and that process; the
         * executable started as it (portd itself, opened at start) */
        int owner_exe_fd; /* our executable, O_PATH; -1 inside a test program */
        int owner_channel_fd;
        sd_event_source *owner_channel; /* its hang-up: the owner-query processes gone */
        /* To the monitor, which reads callers' namespaces for us (caller-namespaces.c). */
        int namespaces_fd;
        sd_event_source *owner_child;
        /* The io.portd.Sockets socket (SOCKETS_SOCKET_NAME) and root's own
         * (ROOT_SOCKETS_SOCKET_NAME), listening: the monitor gets them at its start and its worker
         * accepts on them, so that no owner-query connection is ever ours; fd -1 once passed. */
        OwnerListener sockets, root_sockets;

        /* varlink-services.c: callers whose refusal was logged, so that one retrying in a loop is
         * logged once; the oldest is forgotten first. */
        RefusedCaller refused[REFUSED_CALLERS_MAX];
        size_t n_refused, next_refused;
} Manager;
