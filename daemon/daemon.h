/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portd: every cross-file prototype of the daemon, under the file that defines it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager.h"

/* manager.c */
int manager_new(const char *root, Manager **ret);
Manager *manager_free(Manager *m);
/* Loads the configuration, serves on socket_path (NULL: the socket systemd passed, else the
 * default path) and tells systemd READY=1. */
int manager_startup(Manager *m, const char *socket_path);
/* Reads every source again and swaps in a new catalog and snapshot; explicit (SIGHUP, the Reload
 * method) logs every skipped line again, not only those of files that changed.  On failure the
 * previous catalog stays in service. */
int manager_reload(Manager *m, bool explicit);
/* After a failed reload or watch setup: tries again in 1 s, 2 s, ... at most 60 s. */
void manager_schedule_retry(Manager *m);
/* A new reference to the current catalog (NULL before the first load); release it with
 * catalog_hold_unref(), which frees a replaced catalog with its last reference. */
CatalogHold *manager_catalog_ref(Manager *m);
CatalogHold *catalog_hold_unref(CatalogHold *h);
/* The current snapshot's memfd for clients and its generation. */
int manager_get_snapshot(Manager *m, int *ret_fd, uint64_t *ret_generation, size_t *ret_size);

/* watch.c */
/* (Re)creates the inotify watches on every source file and directory (or the nearest existing
 * parent of a directory that does not exist yet). */
int watch_setup(Manager *m);
void watch_done(Manager *m);

/* varlink-sockets.c */
/* Serves io.portd.Sockets (owner queries, on a worker thread); creates m->sockets. */
typedef struct SocketsWorker SocketsWorker;
int varlink_sockets_register(Manager *m);
/* Waits for a query in progress, drops queued ones; before the server and event loop go. */
void varlink_sockets_done(Manager *m);

/* varlink-services.c */
int varlink_services_register(Manager *m);
/* Drops the replies built from the catalog being replaced; before it is freed. */
void varlink_services_flush_cache(Manager *m);
