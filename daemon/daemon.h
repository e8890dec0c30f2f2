/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portd: every cross-file prototype of the daemon, under the file that defines it; a function's
 * prefix names its file (manager_ manager.c, source_ sources.c, scopes_ scopes.c, settings_
 * settings.c, ...).  See docs/ARCHITECTURE.md for which file calls which. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager.h"
#include "owner.h"

struct json_object;

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

/* sources.c */
/* Reads one source into ret.  A file that cannot be read keeps what old held (its last good
 * state, borrowed: see source_states_free()); a file that is gone contributes nothing.  Paths are
 * read below root (NULL for /).  Only -ENOMEM fails. */
int source_load(const char *root, const SourceState *old, const char *path, CatalogLayer layer, bool masked,
        bool explicit, SourceState *ret);
/* The host's sources as they are on disk now (/etc/services, the drop-ins, the local overrides),
 * each read against its state in current; a directory that cannot be listed keeps current's list. */
int sources_load(const char *root, const SourceState *current, size_t n_current, bool explicit,
        SourceState **ret, size_t *ret_n);
const SourceState *source_states_find(const SourceState *states, size_t n, const char *path);
/* Whether two lists would build the same catalog (paths, layers, errors and parsed contents). */
bool source_states_equal(const SourceState *a, size_t n_a, const SourceState *b, size_t n_b);
/* Frees states, except the parsed files that keep also references. */
void source_states_free(SourceState *states, size_t n, const SourceState *keep, size_t n_keep);
/* The catalog of states in their order, the later winning. */
int sources_build_catalog(const SourceState *states, size_t n, Catalog **ret);

/* image.c */
/* Writes the image of c into a sealed memfd. */
int snapshot_image_new(const Catalog *c, uint64_t generation, SnapshotImage **ret);
SnapshotImage *snapshot_image_free(SnapshotImage *s);
/* Flags the image superseded, for the processes that mapped it; takes NULL. */
void snapshot_image_supersede(SnapshotImage *s);
CatalogHold *catalog_hold_new(Catalog *c);
/* Drops a reference; frees a replaced catalog with its last one.  Takes NULL, returns NULL. */
CatalogHold *catalog_hold_unref(CatalogHold *h);
/* Takes c (also on failure) as ci's catalog, which has none yet. */
int catalog_image_set_catalog(CatalogImage *ci, Catalog *c);
/* Writes the snapshot of ci's catalog, which has none yet. */
int catalog_image_write_snapshot(CatalogImage *ci, uint64_t generation);
/* Drops the lookup replies built from ci's catalog. */
void catalog_image_flush_replies(CatalogImage *ci);
/* Lets ci go: its snapshot flagged superseded and freed, its replies dropped, its catalog freed
 * with the last reference; ci is empty after. */
void catalog_image_done(CatalogImage *ci);

/* scopes.c */
/* Reads every scope (its NAME.scope and NAME.d/).  A scope whose sources and the host's (states,
 * the ones about to be served) did not change carries its catalog over at commit; the others get
 * theirs built when a caller first needs it.  Nothing of the current state is changed. */
int scopes_load(Manager *m, const SourceState *states, size_t n_states, bool explicit, ScopeState **ret,
        size_t *ret_n);
/* Swaps the new scopes in (the reload's swap); old images are flagged superseded.  NULL, 0 at exit. */
void scopes_commit(Manager *m, ScopeState *scopes, size_t n_scopes);
/* Frees scopes that were not committed; what they borrowed from keep stays. */
void scope_states_free(ScopeState *scopes, size_t n, const ScopeState *keep, size_t n_keep);
/* The scope whose answers the peer of conn gets (NULL: the host's), found from its credentials
 * once per connection and matched again after every reload.  Fails with -ENOMEM, or with the error
 * of building its scope's catalog (logged; not tried again for 1 s). */
int scopes_for_connection(Manager *m, VarlinkConnection *conn, ScopeState **ret);
/* 0 when the peer of conn may change the daemon's state (overrides, Reload) as far as where it runs
 * goes: in our user and PID namespaces, identified race-free, and in no scope; -EPERM otherwise;
 * -ENOMEM, and -EMFILE/-ENFILE when out of descriptors to tell.  Who it is (root, a group) is
 * checked separately. */
int scopes_check_host_caller(Manager *m, VarlinkConnection *conn);

/* watch.c */
/* (Re)creates the inotify watches on every source file and directory (or the nearest existing
 * parent of a directory that does not exist yet). */
int watch_setup(Manager *m);
void watch_done(Manager *m);

/* varlink-sockets.c (in the owner-query worker) */
/* Serves io.portd.Sockets on server: owner queries on a thread, bounded, fair across users. */
typedef struct SocketsWorker SocketsWorker;
int varlink_sockets_register(sd_event *event, VarlinkServer *server, SocketsWorker **ret);
/* Stops the thread (a query in progress finishes first); before the server goes. */
void varlink_sockets_stop(SocketsWorker *w);
/* After the server: takes NULL, returns NULL. */
SocketsWorker *varlink_sockets_free(SocketsWorker *w);
/* What Follow shares with List: the parameters, the caller, a row. */
typedef struct ListParameters {
        OwnerFilter filter;
        const char *netns;
} ListParameters;
int parse_list_parameters(
        struct json_object *parameters, bool listening_only, ListParameters *ret, const char **ret_bad);
/* Who asks, and where: the caller from the connection's credentials (with its capabilities,
 * for the ptrace rule), the namespace from the netns parameter, and for the caller's own one its
 * descriptor in *ret_netns_fd (else -1).  -EINVAL for a bad netns parameter, -EMFILE/-ENFILE
 * for the dispatch to retry; when the caller's own namespace cannot be had (it is gone), 0 with
 * the error to answer in *ret_netns_error. */
int sockets_caller_setup(VarlinkConnection *conn, const char *netns_parameter, OwnerCaller *ret_caller,
        OwnerNetns *ret_ns, int *ret_netns_fd, int *ret_netns_error);
struct JsonWriter;
/* The member "owner": Owner, for socket s and process p (NULL: the socket alone), written into
 * the object w has open. */
int owner_row_member(const OwnerSocket *s, const OwnerProcess *p, struct JsonWriter *w);

/* varlink-follow.c (in the owner-query worker) */
/* io.portd.Sockets.Follow: listening sockets watched on a thread of their own, an event per
 * socket that starts or stops listening. */
typedef struct SocketsFollow SocketsFollow;
int sockets_follow_register(sd_event *event, VarlinkServer *server, SocketsFollow **ret);
/* Stops the thread (a poll in progress finishes first); before the server goes. */
void sockets_follow_stop(SocketsFollow *f);
/* After the server: takes NULL, returns NULL. */
SocketsFollow *sockets_follow_free(SocketsFollow *f);

/* owner-handoff.c (in the main process) */
/* Starts the owner-query process with the io.portd.Sockets sockets (m->sockets and
 * m->root_sockets, which it takes) and drops the capabilities only it needs. */
int owner_handoff_start(Manager *m);
void owner_handoff_stop(Manager *m);

/* owner-worker.c (portd --owner-worker) */
/* The monitor (standby_delay < 0; parent: the main process): keeps the worker and a standby
 * running, restarting them when they die, and answers the namespace questions; returns when the
 * main process is gone.  A standby (standby_delay >= 0; parent: its monitor) takes over when the
 * monitor dies, after twice standby_delay if that monitor died young. */
int owner_worker_main(pid_t parent, int64_t standby_delay);
/* A monitor that only answers the main process's namespace questions (caller-namespaces.c) on
 * fd 4, for a daemon that has no executable to start the whole monitor from (inside a test
 * program); it ends when the main process does. */
__attribute__((noreturn)) void owner_monitor_namespaces_only(void);

/* varlink-services.c */
int varlink_services_register(Manager *m);
/* Tells every Monitor call of the generation just built; cause as Monitor's reply names it. */
void varlink_services_notify_monitors(Manager *m, const char *cause, bool scopes_changed);
/* Ends every Monitor call (the daemon stops). */
void varlink_services_monitors_done(Manager *m);

/* settings.c */
typedef struct Settings Settings;
/* Reads /etc/portd/portd.conf (below --root) again; logs what it ignores; an unreadable file keeps
 * the previous settings, a missing one means root only. */
void settings_load(Manager *m, bool explicit);
Settings *settings_free(Settings *s);
/* 0 when the peer may edit local overrides (root, or a member of a group portd.conf names, by its
 * credentials at connect()), -EPERM when not; the peer's credentials in ret_ucred. */
int settings_check_override_access(Manager *m, VarlinkConnection *conn, struct ucred *ret_ucred);
/* The groups that may edit overrides besides root, for messages ("'a', 'b'"); NULL for none. */
const char *settings_override_groups(const Manager *m);

/* snapshot-file.c */
typedef struct SnapshotFile SnapshotFile;
/* Publishes image as SOCKET.snapshot (atomically, mode 0444, write-locked while we live). */
int snapshot_file_publish(const char *socket_path, const void *image, size_t size, SnapshotFile **ret);
/* Removes the temporary files beside socket_path that a daemon killed in the middle of
 * snapshot_file_publish() left (those nobody holds locked). Returns how many went. */
int snapshot_file_remove_temporaries(const char *socket_path);
/* The published file a daemon that died without withdrawing it left beside socket_path, if
 * nobody holds it, opened for writing: 1 with *ret_fd set, 0 when there is none, -EPERM for one
 * of another owner.  snapshot_file_flag_stale() then flags it superseded, once we serve: the
 * processes that map it learn that a new daemon serves. */
int snapshot_file_open_stale(const char *socket_path, int *ret_fd);
int snapshot_file_flag_stale(int fd);
/* Flags it superseded and lets it go; remove: also unlinks it, if the path still names it. */
SnapshotFile *snapshot_file_withdraw(SnapshotFile *f, bool remove);
