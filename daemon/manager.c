/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager: startup and shutdown, signals, systemd notification, and the reload that turns
 * the sources on disk into a new catalog and snapshot and swaps them in at once. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "overrides.h"
#include "snapshot-build.h"
#include "snapshot.h"

#define RETRY_FIRST_USEC (1000ULL * 1000ULL)
#define RETRY_MAX_USEC   (60ULL * 1000ULL * 1000ULL)

SnapshotImage *snapshot_image_free(SnapshotImage *s)
{
        if (!s)
                return NULL;
        if (s->map)
                (void) munmap(s->map, s->size);
        if (s->ro_fd != s->fd)
                safe_close(s->ro_fd);
        safe_close(s->fd);
        return mfree(s);
}

static void snapshot_image_freep(SnapshotImage **s)
{
        snapshot_image_free(*s);
}

/* Writes the image of c into a sealed memfd.  The seals are what lets clients map it without
 * trusting each other: nobody can grow, shrink or write it any more, except through the shared
 * mapping the daemon took before sealing, which it uses only to set the superseded word. */
int snapshot_image_new(const Catalog *c, uint64_t generation, SnapshotImage **ret)
{
        _cleanup_(snapshot_image_freep) SnapshotImage *s = NULL;
        _cleanup_free_ void *image = NULL;
        size_t size;
        int r;

        r = snapshot_build(c, generation, &image, &size);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(SnapshotImage));
        if (!s)
                return -ENOMEM;
        s->fd = s->ro_fd = -1;
        s->generation = generation;

        s->fd = memfd_create("portd-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (s->fd < 0)
                return -errno;
        s->ro_fd = s->fd;
        if (ftruncate(s->fd, (off_t) size) < 0)
                return -errno;

        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        s->map = p;
        s->size = size;
        memcpy(s->map, image, size);

        if (fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
                return -errno;

        /* Clients get a file description of their own, opened read-only, so their lseek()s do not
         * move ours.  That alone does not stop writes: a client can open /proc/self/fd/N again
         * read-write (a memfd has mode 0777).  The seals above are what refuse every write,
         * mapping or truncation, whichever description it comes through. */
        char proc[64];
        (void) snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->fd);
        int fd = open(proc, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                s->ro_fd = fd;
        else
                log_debug_errno(
                        errno, "Cannot reopen the snapshot read-only, handing out the memfd itself: %m");

        *ret = TAKE_PTR(s);
        return 0;
}

static void source_state_done(SourceState *s)
{
        free(s->path);
        services_file_free(s->file);
        *s = (SourceState){};
}

/* Frees states, except the parsed files that keep also references (those moved on). */
void source_states_free(SourceState *states, size_t n, const SourceState *keep, size_t n_keep)
{
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; states[i].file && j < n_keep; j++)
                        if (keep[j].file == states[i].file)
                                states[i].file = NULL;
                source_state_done(&states[i]);
        }
        free(states);
}

const SourceState *source_states_find(const SourceState *states, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (streq(states[i].path, path))
                        return &states[i];
        return NULL;
}

static bool services_file_same(const ServicesFile *a, const ServicesFile *b)
{
        return a && b && file_stamp_equal(&a->stamp, &b->stamp);
}

/* Reads one source into ret.  A file that cannot be read keeps what old held (its last good
 * state); a file that is gone contributes nothing.  Only -ENOMEM fails. */
int source_load(Manager *m, const SourceState *old, const char *path, CatalogLayer layer, bool masked,
        bool explicit, SourceState *ret)
{
        ServicesFile *f = NULL;
        int r;

        *ret = (SourceState){ .layer = layer, .masked = masked };
        ret->path = strdup(path);
        if (!ret->path)
                return -ENOMEM;

        if (masked) {
                if (!old || !old->masked)
                        log_info("'%s' is masked.", path);
                return 0;
        }

        r = services_file_load(m->root, path, layer, &f);
        if (r == -ENOMEM)
                goto fail;
        if (r == -ENOENT) {
                /* Gone between listing and reading, or no /etc/services at all: nothing to serve. */
                if (old && old->file)
                        log_info("'%s' is gone, dropping its %zu entries.", path, old->file->n_entries);
                return 0;
        }
        if (r < 0) {
                ret->error = r;
                if (old && old->file) {
                        /* Borrowed: the commit decides who frees it. */
                        ret->file = old->file;
                        log_warning("Failed to read '%s': %s, keeping its last good state.", path,
                                catalog_source_error_to_string(r));
                } else
                        log_warning("Failed to read '%s': %s, ignoring.", path, catalog_source_error_to_string(r));
                return 0;
        }

        /* Skipped lines are logged when a file is (re)read with new contents, or on request, not
         * on every rebuild that some other file caused. */
        if (explicit || !old || !services_file_same(old->file, f)) {
                for (size_t i = 0; i < f->n_diagnostics; i++)
                        log_warning("%s:%" PRIu32 ": %s.", path, f->diagnostics[i].line,
                                f->diagnostics[i].message);
                log_debug("Read '%s': %zu entries, %zu removals, %zu lines skipped.", path, f->n_entries,
                        f->n_removals, f->n_diagnostics);
        }
        ret->file = f;
        return 0;

fail:
        ret->path = mfree(ret->path);
        return r;
}

/* The new list of sources as catalog_discover_sources() orders them: /etc/services, the drop-ins,
 * the local override files.  Files that did not change are read again anyway: they are small, and
 * comparing stat data alone would miss a same-sized rewrite within one timestamp tick. */
static int manager_load_sources(Manager *m, bool explicit, SourceState **ret, size_t *ret_n)
{
        DropinFile *found = NULL;
        SourceState *states = NULL;
        size_t n_found = 0, n = 0;
        int r;

        r = catalog_discover_sources(m->root, &found, &n_found);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* A directory we cannot list: read again the sources we knew, and no others. */
                log_warning_errno(r,
                        "Failed to list the drop-in directories: %m, keeping the previous list of sources.");
                found = calloc(m->n_sources ? m->n_sources : 1, sizeof(DropinFile));
                if (!found)
                        return -ENOMEM;
                for (; n_found < m->n_sources; n_found++) {
                        found[n_found] = (DropinFile){
                                .path = strdup(m->sources[n_found].path),
                                .layer = m->sources[n_found].layer,
                                .masked = m->sources[n_found].masked,
                        };
                        if (!found[n_found].path) {
                                n_found++;
                                r = -ENOMEM;
                                goto out;
                        }
                }
        }

        states = calloc(n_found ? n_found : 1, sizeof(SourceState));
        if (!states) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n_found; i++) {
                r = source_load(m, source_states_find(m->sources, m->n_sources, found[i].path),
                        found[i].path, found[i].layer, found[i].masked, explicit, &states[n]);
                if (r < 0)
                        goto out;
                n++;
        }

        *ret = TAKE_PTR(states);
        *ret_n = n;
        r = 0;
out:
        if (states)
                /* Files borrowed from the current states stay with them. */
                source_states_free(states, n, m->sources, m->n_sources);
        dropin_files_free(found, n_found);
        return r;
}

int catalog_build_from_states(const SourceState *states, size_t n, Catalog **ret)
{
        ServicesFile **files = NULL;
        bool *temporary = NULL;
        size_t n_files = 0;
        int r = 0;

        files = calloc(n ? n : 1, sizeof(ServicesFile *));
        temporary = calloc(n ? n : 1, sizeof(bool));
        if (!files || !temporary) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n; i++) {
                const SourceState *s = &states[i];

                if (s->file) {
                        files[n_files++] = s->file;
                        continue;
                }
                /* Masked drop-ins and unreadable files without a last good state still appear as
                 * sources, so that verify and explain can name them; a vanished drop-in does not. */
                if (!s->masked && s->error == 0 && s->layer != CATALOG_LAYER_BASE)
                        continue;
                r = services_file_new_empty(s->path, s->layer, s->masked, s->error, &files[n_files]);
                if (r < 0)
                        goto out;
                temporary[n_files++] = true;
        }

        r = catalog_build(files, n_files, ret);
out:
        for (size_t i = 0; i < n_files; i++)
                if (temporary && temporary[i])
                        services_file_free(files[i]);
        free(files);
        free(temporary);
        return r;
}

CatalogHold *catalog_hold_new(Catalog *c)
{
        CatalogHold *h = calloc(1, sizeof(CatalogHold));
        if (!h)
                return NULL;
        h->n_ref = 1;
        h->catalog = c;
        return h;
}

CatalogHold *catalog_hold_unref(CatalogHold *h)
{
        if (!h || --h->n_ref > 0)
                return NULL;
        catalog_free(h->catalog);
        return mfree(h);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        log_info("Trying the failed reload again.");
        (void) manager_reload(m, false);
        return 0;
}

void manager_schedule_retry(Manager *m)
{
        int r;

        m->retry_delay_usec =
                m->retry_delay_usec == 0 ? RETRY_FIRST_USEC : MIN(m->retry_delay_usec * 2, RETRY_MAX_USEC);
        if (!m->retry_event_source) {
                r = sd_event_add_time_relative(m->event, &m->retry_event_source, CLOCK_MONOTONIC,
                        m->retry_delay_usec, 0, on_retry, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->retry_event_source, "reload-retry");
        } else {
                r = sd_event_source_set_time_relative(m->retry_event_source, m->retry_delay_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->retry_event_source, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                log_error_errno(r, "Failed to arm the reload retry timer: %m");
        else
                log_info("Retrying in %" PRIu64 " ms.", m->retry_delay_usec / 1000);
}

static void manager_notify_status(Manager *m)
{
        (void) sd_notifyf(false,
                "READY=1\n"
                "STATUS=Serving %zu services from %zu sources (generation %" PRIu64 ")",
                m->catalog ? m->catalog->n_entries : 0, m->n_sources, m->generation);
}

/* Keeps the published file in step with the host's snapshot.  With scopes, a caller's answers
 * depend on who it is, which only the socket can tell: no file then, every process asks. */
static void manager_publish_snapshot(Manager *m)
{
        SnapshotFile *f = NULL;
        int r;

        if (!m->publish_path)
                return;
        if (m->n_scopes > 0 || !m->snapshot) {
                m->published = snapshot_file_withdraw(m->published, true);
                return;
        }
        if (m->published && m->published_generation == m->snapshot->generation)
                return;

        r = snapshot_file_publish(m->publish_path, m->snapshot->map, m->snapshot->size, &f);
        if (r < 0)
                log_warning_errno(r, "Failed to publish the snapshot beside '%s', clients ask over the socket: %m",
                        m->publish_path);
        /* The old file: superseded either way; removed unless the new one took its name. */
        m->published = snapshot_file_withdraw(m->published, r < 0);
        if (r >= 0) {
                m->published = f;
                m->published_generation = m->snapshot->generation;
        }
}

int manager_reload(Manager *m, bool explicit)
{
        _cleanup_(snapshot_image_freep) SnapshotImage *image = NULL;
        SourceState *states = NULL;
        ScopeState *scopes = NULL;
        CatalogHold *hold = NULL;
        Catalog *c = NULL;
        size_t n_states = 0, n_scopes = 0;
        bool watching;
        int r;

        if (m->ready)
                (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));

        /* Everything is read again below: a reload the file watch scheduled for earlier events
         * (an override edit, SIGHUP, Reload came first) would only bump the generation again. */
        if (m->debounce_event_source)
                (void) sd_event_source_set_enabled(m->debounce_event_source, SD_EVENT_OFF);
        m->debounce_first_usec = 0;

        /* Watches first: a change made while we read is then seen by a later event and not lost. */
        r = watch_setup(m);
        if (r < 0)
                log_warning_errno(
                        r, "Failed to watch the configuration: %m, changes are only seen on reload.");
        watching = r >= 0;

        manager_load_settings(m, explicit);

        r = manager_load_sources(m, explicit, &states, &n_states);
        if (r < 0) {
                log_error_errno(r, "Failed to read the configuration: %m");
                goto fail;
        }

        r = catalog_build_from_states(states, n_states, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to merge the configuration: %m");
                goto fail;
        }

        r = snapshot_image_new(c, m->generation + 1, &image);
        if (r < 0) {
                log_error_errno(r, "Failed to write the snapshot: %m");
                goto fail;
        }

        r = scopes_load(m, states, n_states, explicit, &scopes, &n_scopes);
        if (r < 0) {
                log_error_errno(r, "Failed to read the scopes: %m");
                goto fail;
        }

        hold = catalog_hold_new(c);
        if (!hold) {
                r = log_oom();
                goto fail;
        }

        if (m->catalog) {
                for (size_t i = 0; i < n_states; i++)
                        if (!source_states_find(m->sources, m->n_sources, states[i].path))
                                log_info("New source '%s'.", states[i].path);
                for (size_t i = 0; i < m->n_sources; i++)
                        if (!source_states_find(states, n_states, m->sources[i].path))
                                log_info("Source '%s' is gone.", m->sources[i].path);
        }

        /* The swap: from here on every call sees the new catalog and GetSnapshot hands out the new
         * image.  Only then are the old ones released; clients keep their own mappings of the old
         * image and learn from its superseded word that they should fetch the new one. */
        CatalogHold *old_hold = m->catalog_hold;
        SnapshotImage *old_image = m->snapshot;
        SourceState *old_states = m->sources;
        size_t n_old_states = m->n_sources;

        /* For Monitor: a scope appeared, went, or its catalog was built again. */
        bool scopes_changed = n_scopes != m->n_scopes;
        for (size_t i = 0; i < n_scopes; i++)
                scopes_changed = scopes_changed || !scopes[i].reuse;

        varlink_services_flush_cache(m);
        m->catalog = c;
        m->catalog_hold = hold;
        m->snapshot = TAKE_PTR(image);
        m->sources = states;
        m->n_sources = n_states;
        m->generation++;
        m->loaded_usec = now_usec(CLOCK_REALTIME);
        m->n_reloads++;
        scopes_commit(m, TAKE_PTR(scopes), n_scopes);
        manager_publish_snapshot(m);

        if (old_image) {
                __atomic_store_n(&((SnapshotHeader *) old_image->map)->superseded, 1u, __ATOMIC_RELEASE);
                snapshot_image_free(old_image);
        }
        /* Freed now unless a List stream still enumerates it. */
        catalog_hold_unref(old_hold);
        source_states_free(old_states, n_old_states, m->sources, m->n_sources);

        /* Without watches no change on disk would ever reach us: keep trying to set them up. */
        if (watching) {
                m->retry_delay_usec = 0;
                if (m->retry_event_source)
                        (void) sd_event_source_set_enabled(m->retry_event_source, SD_EVENT_OFF);
        } else
                manager_schedule_retry(m);

        log_info("Loaded generation %" PRIu64
                 ": %zu services from %zu sources, %zu diagnostics, digest %s.",
                m->generation, c->n_entries, m->n_sources, c->n_diagnostics, c->digest);
        if (m->ready)
                manager_notify_status(m);
        const char *cause = m->rebuild_cause ?: (explicit ? "reload" : "files");
        varlink_services_notify_monitors(m, cause, scopes_changed);
        m->rebuild_cause = NULL;
        return 0;

fail:
        m->rebuild_cause = NULL;
        scope_states_free(scopes, n_scopes, m->scopes, m->n_scopes);
        catalog_free(c);
        if (states)
                source_states_free(states, n_states, m->sources, m->n_sources);
        /* Nothing on disk may change again to trigger another try (a failed watch setup sees no
         * events at all): retry on a timer. */
        manager_schedule_retry(m);
        if (m->ready)
                manager_notify_status(m);
        return r;
}

int manager_get_snapshot(Manager *m, int *ret_fd, uint64_t *ret_generation, size_t *ret_size)
{
        if (!m->snapshot)
                return -ENODATA;
        *ret_fd = m->snapshot->ro_fd;
        *ret_generation = m->snapshot->generation;
        *ret_size = m->snapshot->size;
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        log_info("Received SIG%s, exiting.", sigabbrev_np((int) si->ssi_signo) ?: "?");
        (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        log_info("Received SIGHUP, reloading.");
        (void) manager_reload(m, true);
        return 0;
}

/* The soft limit systemd leaves us (1024) would cap connections far below what the server is
 * configured for; every descriptor we open is poll()-free (epoll), so the hard limit is safe. */
static void rlimit_nofile_raise(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(errno, "Failed to raise the descriptor limit from %llu: %m",
                        (unsigned long long) old);
        else
                log_debug("Raised the descriptor limit from %llu to %llu.", (unsigned long long) old,
                        (unsigned long long) rl.rlim_cur);
}

int manager_new(const char *root, Manager **ret)
{
        Manager *m;
        sigset_t mask;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->inotify_fd = -1;
        m->owner_channel_fd = -1;

        rlimit_nofile_raise();

        if (root && *root && !streq(root, "/")) {
                m->root = strdup(root);
                if (!m->root) {
                        r = log_oom();
                        goto fail;
                }
        }

        r = sd_event_default(&m->event);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate the event loop: %m");
                goto fail;
        }

        /* sd-event takes signals through a signalfd, which sees only blocked signals. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = log_error_errno(errno, "Failed to block signals: %m");
                goto fail;
        }
        /* A client that goes away mid-write must not kill us; the server sends with MSG_NOSIGNAL,
         * this covers anything else. */
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload_signal, m);
        if (r < 0) {
                log_error_errno(r, "Failed to watch signals: %m");
                goto fail;
        }

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_debug_errno(r, "Failed to enable the watchdog, ignoring: %m");

        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;

        owner_handoff_stop(m);
        free(m->owner_worker_exe);
        varlink_services_monitors_done(m);
        m->server = varlink_server_free(m->server);
        watch_done(m);
        m->debounce_event_source = sd_event_source_unref(m->debounce_event_source);
        m->retry_event_source = sd_event_source_disable_unref(m->retry_event_source);

        /* Remove the socket we made, unless another instance has replaced it meanwhile. */
        struct stat st;
        if (m->socket_path && stat(m->socket_path, &st) >= 0 && st.st_ino == m->socket_inode &&
                st.st_dev == m->socket_dev)
                (void) unlink(m->socket_path);
        free(m->socket_path);

        varlink_services_flush_cache(m);
        m->published = snapshot_file_withdraw(m->published, true);
        free(m->publish_path);
        /* Processes that mapped this image must not keep answering from it once we are gone:
         * flagged like an image a reload replaced, they ask again (and fall back without us). */
        if (m->snapshot && m->snapshot->map)
                __atomic_store_n(&((SnapshotHeader *) m->snapshot->map)->superseded, 1u, __ATOMIC_RELEASE);
        snapshot_image_free(m->snapshot);
        m->catalog = NULL;
        m->catalog_hold = catalog_hold_unref(m->catalog_hold);
        source_states_free(m->sources, m->n_sources, NULL, 0);
        scopes_commit(m, NULL, 0);
        m->settings = manager_settings_free(m->settings);
        sd_event_unref(m->event);
        free(m->root);
        return mfree(m);
}

/* The default socket's directory (/run/portd), which is ours to create, and only that: a --socket
 * path whose directory is missing is a mistake to report, not a tree to make, and the default's
 * parent (/run) is the system's. */
static int mkdir_default_socket_dir(const char *path)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;

        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
                return 0;
        *slash = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* The file system path a passed socket is bound to; -ENOENT for an abstract or unnamed one. */
static int socket_path_of_fd(int fd, char **ret)
{
        struct sockaddr_un sa = {};
        socklen_t l = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                return -errno;
        if (sa.sun_family != AF_UNIX || l <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] != '/')
                return -ENOENT;
        char *p = strndup(sa.sun_path, l - offsetof(struct sockaddr_un, sun_path));
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int manager_listen(Manager *m, const char *socket_path)
{
        int r;

        if (!socket_path) {
                int n = sd_listen_fds(true);
                if (n < 0)
                        return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
                if (n > 0) {
                        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
                                        log_warning("Passed fd %d is not a listening Unix stream socket, "
                                                    "ignoring.",
                                                fd);
                                        safe_close(fd);
                                        continue;
                                }
                                r = varlink_server_listen_fd(m->server, fd);
                                if (r < 0)
                                        return log_error_errno(r, "Failed to serve on passed fd %d: %m", fd);
                                if (!m->publish_path)
                                        (void) socket_path_of_fd(fd, &m->publish_path);
                        }
                        log_info("Serving on %d socket(s) passed by the service manager.", n);
                        return 0;
                }
                socket_path = PORTD_DEFAULT_SOCKET;
        }

        if (streq(socket_path, PORTD_DEFAULT_SOCKET)) {
                r = mkdir_default_socket_dir(socket_path);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the directory of '%s': %m", socket_path);
        }

        r = varlink_server_listen_path(m->server, socket_path, 0666);
        if (r == -EADDRINUSE)
                return log_error_errno(r,
                        "Another daemon serves '%s' (or it is not a socket), refusing to take it over.",
                        socket_path);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on '%s': %m", socket_path);

        m->socket_path = strdup(socket_path);
        m->publish_path = strdup(socket_path);
        if (!m->socket_path || !m->publish_path)
                return log_oom();
        struct stat st;
        if (stat(socket_path, &st) >= 0) {
                m->socket_inode = st.st_ino;
                m->socket_dev = st.st_dev;
        }

        log_info("Listening on '%s'.", socket_path);
        return 0;
}

/* What a crash in the middle of a write left behind: we are the only writer of both kinds, and
 * no other daemon serves our socket. */
static void manager_remove_temporaries(Manager *m)
{
        int r;

        r = overrides_remove_temporaries(m->root);
        if (r < 0)
                log_warning_errno(r, "Failed to look for leftover temporary override files: %m");
        else if (r > 0)
                log_notice("Removed %d temporary override file(s) left by an interrupted write.", r);
        if (!m->publish_path)
                return;
        r = snapshot_file_remove_temporaries(m->publish_path);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to look for leftover temporary snapshot files beside '%s': %m",
                        m->publish_path);
        else if (r > 0)
                log_notice("Removed %d temporary snapshot file(s) beside '%s' left by an interrupted write.", r,
                        m->publish_path);
}

int manager_startup(Manager *m, const char *socket_path)
{
        int r;

        r = varlink_server_new(
                m->event, NULL, "portd", PORTD_VERSION, "https://github.com/portd/portd", &m->server);
        if (r < 0)
                return log_error_errno(r, "Failed to create the varlink server: %m");

        r = varlink_services_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register io.portd.Services: %m");

        r = owner_handoff_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register io.portd.Sockets: %m");

        /* Before reading anything: from here on the main process holds only what lookups need. */
        r = owner_handoff_start(m);
        if (r < 0)
                return r;

        /* The socket before the catalog: a daemon that would take over a live one's path stops
         * here, before it reads or writes anything (see varlink_server_listen_path()).  Clients
         * that connect meanwhile wait in the backlog until the loop runs, when the catalog is
         * there: the first client gets an answer, not an error. */
        r = manager_listen(m, socket_path);
        if (r < 0)
                return r;
        manager_remove_temporaries(m);

        r = manager_reload(m, true);
        if (r < 0)
                return r;
        manager_publish_snapshot(m);

        m->ready = true;
        manager_notify_status(m);
        return 0;
}
