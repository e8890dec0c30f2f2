/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager: startup and shutdown, signals, systemd notification, and the reload that turns
 * the sources on disk (sources.c) into a new catalog with its image (image.c), reads the scopes
 * (scopes.c), and swaps them all in at once. */

#include <assert.h>
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

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        log_info("Trying the failed reload again.");
        (void) manager_reload(m, false);
        return 0;
}

/* After a failed reload or watch setup: tries again in 1 s, 2 s, ... at most 60 s. */
static void manager_schedule_retry(Manager *m)
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
                m->image.catalog ? m->image.catalog->n_entries : 0, m->n_sources, m->generation);
}

/* Keeps the published file in step with the host's snapshot.  With scopes, a caller's answers
 * depend on who it is, which only the socket can tell: no file then, every process asks. */
static void manager_publish_snapshot(Manager *m)
{
        SnapshotFile *f = NULL;
        int r;

        if (!m->publish_path)
                return;
        const SnapshotImage *image = m->image.snapshot;

        if (m->n_scopes > 0 || !image) {
                m->published = snapshot_file_withdraw(m->published, true);
                return;
        }
        if (m->published && m->published_generation == image->generation)
                return;

        r = snapshot_file_publish(m->publish_path, image->map, image->size, &f);
        if (r < 0)
                log_warning_errno(r, "Failed to publish the snapshot beside '%s', clients ask over the socket: %m",
                        m->publish_path);
        /* The old file: superseded either way; removed unless the new one took its name. */
        m->published = snapshot_file_withdraw(m->published, r < 0);
        if (r >= 0) {
                m->published = f;
                m->published_generation = image->generation;
        }
}

int manager_reload(Manager *m, bool explicit)
{
        CatalogImage image = {};
        SourceState *states = NULL;
        ScopeState *scopes = NULL;
        Catalog *c = NULL;
        size_t n_states = 0, n_scopes = 0;
        bool watching;
        int r;

        assert(m);

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

        settings_load(m, explicit);

        r = sources_load(m->root, m->sources, m->n_sources, explicit, &states, &n_states);
        if (r < 0) {
                log_error_errno(r, "Failed to read the configuration: %m");
                goto fail;
        }

        r = sources_build_catalog(states, n_states, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to merge the configuration: %m");
                goto fail;
        }
        r = catalog_image_set_catalog(&image, TAKE_PTR(c));
        if (r < 0) {
                log_oom();
                goto fail;
        }

        r = catalog_image_write_snapshot(&image, m->generation + 1);
        if (r < 0) {
                log_error_errno(r, "Failed to write the snapshot: %m");
                goto fail;
        }

        r = scopes_load(m, states, n_states, explicit, &scopes, &n_scopes);
        if (r < 0) {
                log_error_errno(r, "Failed to read the scopes: %m");
                goto fail;
        }

        if (m->image.catalog) {
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
        CatalogImage old_image = m->image;
        SourceState *old_states = m->sources;
        size_t n_old_states = m->n_sources;

        /* For Monitor: a scope appeared, went, or its catalog was built again. */
        bool scopes_changed = n_scopes != m->n_scopes;
        for (size_t i = 0; i < n_scopes; i++)
                scopes_changed = scopes_changed || !scopes[i].reuse;

        m->image = image;
        image = (CatalogImage){};
        m->sources = states;
        m->n_sources = n_states;
        m->generation++;
        m->loaded_usec = now_usec(CLOCK_REALTIME);
        m->n_reloads++;
        scopes_commit(m, TAKE_PTR(scopes), n_scopes);
        manager_publish_snapshot(m);

        catalog_image_done(&old_image);
        source_states_free(old_states, n_old_states, m->sources, m->n_sources);

        /* Without watches no change on disk would ever reach us: keep trying to set them up. */
        if (watching) {
                m->retry_delay_usec = 0;
                if (m->retry_event_source)
                        (void) sd_event_source_set_enabled(m->retry_event_source, SD_EVENT_OFF);
        } else
                manager_schedule_retry(m);

        log_info("Loaded generation %" PRIu64 ": %zu services from %zu sources, %zu diagnostics, digest %s.",
                m->generation, m->image.catalog->n_entries, m->n_sources, m->image.catalog->n_diagnostics,
                m->image.catalog->digest);
        if (m->ready)
                manager_notify_status(m);
        const char *cause = m->rebuild_cause ?: (explicit ? "reload" : "files");
        varlink_services_notify_monitors(m, cause, scopes_changed);
        m->rebuild_cause = NULL;
        return 0;

fail:
        m->rebuild_cause = NULL;
        scope_states_free(scopes, n_scopes, m->scopes, m->n_scopes);
        catalog_image_done(&image);
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

        assert(ret);

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->inotify_fd = -1;
        m->owner_channel_fd = -1;
        m->namespaces_fd = -1;
        m->owner_exe_fd = -1;
        m->sockets.fd = m->root_sockets.fd = -1;

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

static void owner_listener_done(OwnerListener *l)
{
        struct stat st;

        l->fd = safe_close(l->fd);
        if (l->path && stat(l->path, &st) >= 0 && st.st_ino == l->inode && st.st_dev == l->dev)
                (void) unlink(l->path);
        l->path = mfree(l->path);
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;

        owner_handoff_stop(m);
        m->owner_exe_fd = safe_close(m->owner_exe_fd);
        varlink_services_monitors_done(m);
        m->server = varlink_server_free(m->server);
        watch_done(m);
        m->debounce_event_source = sd_event_source_unref(m->debounce_event_source);
        m->retry_event_source = sd_event_source_disable_unref(m->retry_event_source);

        /* Remove the sockets we made, unless another instance has replaced them meanwhile. */
        struct stat st;
        if (m->socket_path && stat(m->socket_path, &st) >= 0 && st.st_ino == m->socket_inode &&
                st.st_dev == m->socket_dev)
                (void) unlink(m->socket_path);
        free(m->socket_path);
        owner_listener_done(&m->sockets);
        owner_listener_done(&m->root_sockets);

        m->published = snapshot_file_withdraw(m->published, true);
        free(m->publish_path);
        /* Processes that mapped this image must not keep answering from it once we are gone:
         * flagged like an image a reload replaced, they ask again (and fall back without us). */
        catalog_image_done(&m->image);
        source_states_free(m->sources, m->n_sources, NULL, 0);
        scopes_commit(m, NULL, 0);
        m->settings = settings_free(m->settings);
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

#define SOCKETS_ORPHAN_WAIT_USEC  (20U * 1000U)
#define SOCKETS_ORPHAN_WAIT_TRIES 100U

/* An owner-query socket beside services_path, bound by us under the same rules as the Services
 * socket: a live daemon's is refused, a stale one replaced.  Root's is bound after the shared
 * one, which refused a live daemon already: a live one there is an orphan, and failing to bind
 * it leaves root's calls to the shared socket rather than the daemon without owner queries. */
static int manager_listen_owner(const char *services_path, bool root, OwnerListener *l)
{
        struct stat st;
        int r;

        r = sockets_socket_path(services_path, root, &l->path);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to derive the io.portd.Sockets socket of '%s': %m", services_path);
        /* Root's: only root may connect, so that no user's connections queue ahead of root's. */
        mode_t mode = root ? 0600 : 0666;
        r = varlink_socket_listen_path(l->path, mode);
        /* Live, beside a Services socket nobody serves: the owner-query processes of a daemon
         * that was killed, which follow it (PR_SET_PDEATHSIG) within moments.  Not another
         * daemon: that one would answer on its Services socket too.  Root's is waited for even
         * while the Services socket answers (systemd holds it under socket activation). */
        for (unsigned i = 0; r == -EADDRINUSE && i < SOCKETS_ORPHAN_WAIT_TRIES &&
                             (root || varlink_socket_probe(services_path) == 0);
                i++) {
                (void) usleep(SOCKETS_ORPHAN_WAIT_USEC);
                r = varlink_socket_listen_path(l->path, mode);
        }
        if (r < 0 && root) {
                /* Root's calls then go through the shared socket, as with a daemon from before
                 * root had its own. */
                log_warning_errno(r, "Failed to listen on '%s', ignoring: %m", l->path);
                l->path = mfree(l->path);
                return 0;
        }
        if (r == -EADDRINUSE)
                return log_error_errno(r,
                        "Another daemon serves '%s' (or it is not a socket), refusing to take it over.",
                        l->path);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on '%s': %m", l->path);
        l->fd = r;
        if (stat(l->path, &st) >= 0) {
                l->inode = st.st_ino;
                l->dev = st.st_dev;
        }
        log_info("Owner queries on '%s'.", l->path);
        return 0;
}

/* Both owner-query sockets beside services_path, but the shared one when it was passed. */
static int manager_listen_sockets(Manager *m, const char *services_path)
{
        int r;

        if (m->sockets.fd < 0) {
                r = manager_listen_owner(services_path, false, &m->sockets);
                if (r < 0)
                        return r;
        }
        return manager_listen_owner(services_path, true, &m->root_sockets);
}

static void names_free(char **names)
{
        for (size_t i = 0; names && names[i]; i++)
                free(names[i]);
        free(names);
}

/* Whether a passed socket is the io.portd.Sockets one: named so (FileDescriptorName=, from a unit
 * of its own), or bound to a path whose last component is SOCKETS_SOCKET_NAME.  The path counts
 * too because systemd gives every socket of one unit the same name: portd.socket's two
 * ListenStream= cannot be told apart by it. */
static bool is_sockets_socket(int fd, const char *name)
{
        _cleanup_free_ char *path = NULL;

        if (name && streq(name, SOCKETS_SOCKET_NAME))
                return true;
        if (socket_path_of_fd(fd, &path) < 0)
                return false;
        const char *slash = strrchr(path, '/');
        return streq(slash ? slash + 1 : path, SOCKETS_SOCKET_NAME);
}

/* The sockets systemd passed (portd.socket): the io.portd.Sockets one (is_sockets_socket()) is for
 * the owner-query worker, every other one is served here.  0 when none was passed. */
static int manager_listen_passed(Manager *m)
{
        char **names = NULL;
        int n, r = 0;

        n = sd_listen_fds_with_names(true, &names);
        if (n <= 0) {
                names_free(names);
                return n < 0 ? log_error_errno(n, "Failed to read the sockets passed by systemd: %m") : 0;
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                if (r < 0 || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
                        if (r >= 0)
                                log_warning(
                                        "Passed fd %d is not a listening Unix stream socket, ignoring.", fd);
                        safe_close(fd);
                        continue;
                }
                if (m->sockets.fd < 0 && is_sockets_socket(fd, names ? names[i] : NULL)) {
                        m->sockets.fd = fd;
                        continue;
                }
                r = varlink_server_listen_fd(m->server, fd);
                if (r < 0)
                        log_error_errno(r, "Failed to serve on passed fd %d: %m", fd);
                else if (!m->publish_path)
                        (void) socket_path_of_fd(fd, &m->publish_path);
        }
        names_free(names);
        if (r < 0)
                return r;
        log_info("Serving on %d socket(s) passed by the service manager.", n);
        /* Root's is always ours to bind beside the Services one; the shared one too, from a unit
         * from before it had one. */
        if (m->publish_path) {
                r = manager_listen_sockets(m, m->publish_path);
                if (r < 0)
                        return r;
        }
        return 1;
}

static int manager_listen(Manager *m, const char *socket_path)
{
        int r;

        if (!socket_path) {
                r = manager_listen_passed(m);
                if (r != 0)
                        return r < 0 ? r : 0;
                socket_path = PORTD_DEFAULT_SOCKET;
        }

        if (streq(socket_path, PORTD_DEFAULT_SOCKET)) {
                r = mkdir_default_socket_dir(socket_path);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the directory of '%s': %m", socket_path);
        }

        /* io.portd.Sockets first: clients wait for the Services socket to appear, and find the
         * other beside it then. */
        r = manager_listen_sockets(m, socket_path);
        if (r < 0)
                return r;
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

        assert(m);

        r = varlink_server_new(
                m->event, NULL, "portd", PORTD_VERSION, "https://github.com/portd/portd", &m->server);
        if (r < 0)
                return log_error_errno(r, "Failed to create the varlink server: %m");

        r = varlink_services_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register io.portd.Services: %m");

        /* The sockets first: a daemon that would take over a live one's path stops here,
         * before it starts anything or reads or writes anything (see
         * varlink_server_listen_path()).  Clients that connect meanwhile wait in the backlog until
         * the loop runs, when the catalog is there: the first client gets an answer, not an
         * error. */
        r = manager_listen(m, socket_path);
        if (r < 0)
                return r;

        /* Before reading anything: from here on the main process holds only what lookups need.
         * The monitor takes the io.portd.Sockets socket along. */
        r = owner_handoff_start(m);
        if (r < 0)
                return r;
        manager_remove_temporaries(m);
        /* The file a stopped daemon left is flagged only once we serve a snapshot of our own: a
         * daemon that fails to start leaves the processes that map it answering from it. */
        _cleanup_close_ int stale = -1;
        int stale_r = m->publish_path ? snapshot_file_open_stale(m->publish_path, &stale) : 0;

        r = manager_reload(m, true);
        if (r < 0)
                return r;
        if (stale >= 0)
                stale_r = snapshot_file_flag_stale(stale);
        if (stale_r < 0)
                log_warning_errno(stale_r, "Failed to flag the snapshot a stopped daemon left beside '%s' superseded, "
                        "processes that map it see the new one only when they ask again "
                        "(5 s and up to 256 lookups of a thread later): %m", m->publish_path);
        else if (stale >= 0)
                log_notice("Flagged the snapshot a stopped daemon left beside '%s' superseded.", m->publish_path);
        manager_publish_snapshot(m);

        m->ready = true;
        manager_notify_status(m);
        return 0;
}
