/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watching the configuration: inotify on /etc (for services), on each drop-in directory and the
 * override files' directories, or the nearest existing parent of one that does not exist yet, and
 * on files reached through symlinks; events are debounced so that a burst of writes leads to one
 * reload. */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "overrides.h"
#include "scope.h"
#include "portd-conf.h"
#include "root-path.h"

/* A change is applied once events have been quiet this long... */
#define WATCH_QUIET_USEC (30 * UINT64_C(1000))
/* ...or this long after the first of them, so that a constant stream still gets applied. */
#define WATCH_MAX_DELAY_USEC (250 * UINT64_C(1000))

#define WATCH_DIR_MASK                                                                                      \
        (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB |     \
                IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define WATCH_FILE_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

typedef enum WatchKind {
        WATCH_ANY,  /* a file watched itself: every event counts */
        WATCH_CONF, /* a drop-in directory: events on *.conf count */
        WATCH_NAME, /* a parent directory: events on one name count */
        WATCH_SCOPES, /* a scopes directory: events on *.scope and *.d count */
} WatchKind;

struct WatchEntry {
        int wd;
        WatchKind kind;
        char *name; /* WATCH_NAME */
};

void watch_done(Manager *m)
{
        assert(m);

        m->inotify_event_source = sd_event_source_disable_unref(m->inotify_event_source);
        m->inotify_fd = safe_close(m->inotify_fd);
        for (size_t i = 0; i < m->n_watches; i++)
                free(m->watches[i].name);
        m->watches = mfree(m->watches);
        m->n_watches = m->n_watches_allocated = 0;
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        m->debounce_first_usec = 0;
        log_debug("Configuration changed, reloading.");
        (void) manager_reload(m, false);
        return 0;
}

static void watch_schedule_reload(Manager *m)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC), deadline;
        int r;

        if (m->debounce_first_usec == 0)
                m->debounce_first_usec = now;
        deadline = MIN(now + WATCH_QUIET_USEC, m->debounce_first_usec + WATCH_MAX_DELAY_USEC);

        if (!m->debounce_event_source) {
                /* The default accuracy of 250 ms would eat the whole budget of "within 100 ms". */
                r = sd_event_add_time(m->event, &m->debounce_event_source, CLOCK_MONOTONIC, deadline, 1000,
                        on_debounce, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->debounce_event_source, "reload-debounce");
        } else {
                r = sd_event_source_set_time(m->debounce_event_source, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->debounce_event_source, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                /* Without a timer, apply the change right away rather than never. */
                log_warning_errno(r, "Failed to arm the reload timer: %m, reloading now.");
                m->debounce_first_usec = 0;
                (void) manager_reload(m, false);
        }
}

static bool name_has_suffix(const char *name, const char *suffix)
{
        size_t l = strlen(name), k = strlen(suffix);
        return l > k && streq(name + l - k, suffix);
}

static bool watch_event_matters(Manager *m, const struct inotify_event *e)
{
        const char *name = e->len > 0 ? e->name : NULL;

        if (e->mask & IN_Q_OVERFLOW)
                return true; /* events were lost: assume the worst */

        for (size_t i = 0; i < m->n_watches; i++) {
                const WatchEntry *w = &m->watches[i];

                if (w->wd != e->wd)
                        continue;
                /* The watched thing itself was deleted, moved or unmounted. */
                if (!name)
                        return true;
                switch (w->kind) {
                case WATCH_ANY:
                        return true;
                case WATCH_CONF: {
                        size_t l = strlen(name);
                        if (name[0] != '.' && l > 5 && streq(name + l - 5, ".conf"))
                                return true;
                        break;
                }
                case WATCH_NAME:
                        if (streq(name, w->name))
                                return true;
                        break;
                case WATCH_SCOPES:
                        if (name[0] != '.' && (name_has_suffix(name, SCOPE_SUFFIX) || name_has_suffix(name, ".d")))
                                return true;
                        break;
                }
        }
        return false;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        bool changed = false;
        union {
                struct inotify_event e;
                char raw[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
        } buf;

        for (;;) {
                ssize_t n = read(fd, &buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "Failed to read inotify events: %m, ignoring.");
                        break;
                }
                if (n == 0)
                        break;

                for (const char *p = buf.raw; p < buf.raw + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        if (!changed && watch_event_matters(m, e))
                                changed = true;
                        p += sizeof(struct inotify_event) + e->len;
                }
        }

        if (changed)
                watch_schedule_reload(m);
        return 0;
}

static int watch_add(Manager *m, const char *full, uint32_t mask, WatchKind kind, const char *name)
{
        int wd = inotify_add_watch(m->inotify_fd, full, mask);
        if (wd < 0)
                return -errno;

        if (GROW(m->watches, m->n_watches_allocated, m->n_watches + 1) < 0)
                return -ENOMEM;
        WatchEntry *w = &m->watches[m->n_watches];
        *w = (WatchEntry){ .wd = wd, .kind = kind };
        if (name) {
                w->name = strdup(name);
                if (!w->name)
                        return -ENOMEM;
        }
        m->n_watches++;
        log_debug("Watching '%s'%s%s%s.", full, name ? " for '" : "", name ?: "", name ? "'" : "");
        return 0;
}

/* Watches a directory itself (when it exists and is_dir), and the nearest existing directory above
 * it for the name on the way down to it, so that its creation, removal or replacement is seen. */
static int watch_path(Manager *m, const char *path, bool is_dir)
{
        _cleanup_free_ char *full = path_join_root(m->root, path);
        struct stat st;
        int r;

        if (!full)
                return -ENOMEM;

        if (is_dir && stat(full, &st) >= 0 && S_ISDIR(st.st_mode)) {
                r = watch_add(m, full, WATCH_DIR_MASK, WATCH_CONF, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_debug_errno(r, "Cannot watch '%s', ignoring: %m", full);
        }

        for (;;) {
                char *slash = strrchr(full, '/');
                if (!slash || slash[1] == '\0')
                        return 0;
                _cleanup_free_ char *child = strdup(slash + 1);
                if (!child)
                        return -ENOMEM;
                if (slash == full)
                        slash[1] = '\0'; /* the parent is "/" */
                else
                        *slash = '\0';

                if (stat(full, &st) >= 0 && S_ISDIR(st.st_mode)) {
                        r = watch_add(m, full, WATCH_DIR_MASK, WATCH_NAME, child);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                log_debug_errno(r, "Cannot watch '%s', ignoring: %m", full);
                        return 0;
                }
                if (streq(full, "/"))
                        return 0;
        }
}

/* A source that is a symlink changes where the link points, which no directory watch sees;
 * watch the regular file behind it (never a device: /dev/null would wake us on every write). */
static int watch_file_behind_symlink(Manager *m, const char *path)
{
        _cleanup_close_ int fd = -1;
        char proc[64];
        struct stat st;
        int r;

        if (stat_at_root(m->root, path, false, &st) < 0 || !S_ISLNK(st.st_mode))
                return 0;
        /* The file the link leads to as reading it resolves the link: inside --root. */
        fd = open_at_root(m->root, path, O_PATH);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;

        (void) snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        r = watch_add(m, proc, WATCH_FILE_MASK, WATCH_ANY, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_debug_errno(r, "Cannot watch the file behind '%s', ignoring: %m", path);
        return 0;
}

/* The scope directories (for NAME.scope files and NAME.d directories coming and going), each
 * existing NAME.d directory, and the files behind symlinks among them. */
static int watch_scopes(Manager *m)
{
        DropinFile *scopes = NULL;
        size_t n_scopes = 0;
        int r;

        for (const char *const *dir = scope_dirs; *dir; dir++) {
                _cleanup_free_ char *full = path_join_root(m->root, *dir);
                struct stat st;

                if (!full)
                        return -ENOMEM;
                r = watch_path(m, *dir, false);
                if (r < 0)
                        return r;
                if (stat(full, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                r = watch_add(m, full, WATCH_DIR_MASK, WATCH_SCOPES, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_debug_errno(r, "Cannot watch '%s', ignoring: %m", full);
        }

        r = scope_discover(m->root, &scopes, &n_scopes);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0; /* the reload that follows says why */

        for (size_t i = 0; i < n_scopes && i < SCOPES_MAX && r >= 0; i++) {
                _cleanup_free_ char **dirs = NULL;
                DropinFile *dropins = NULL;
                size_t n_dropins = 0;

                if (!scopes[i].masked)
                        r = watch_file_behind_symlink(m, scopes[i].path);
                if (r < 0)
                        break;
                r = scope_dropin_dirs(scopes[i].name, &dirs);
                for (char **d = dirs; r >= 0 && *d; d++) {
                        _cleanup_free_ char *full = path_join_root(m->root, *d);
                        struct stat st;
                        if (!full)
                                r = -ENOMEM;
                        else if (stat(full, &st) >= 0 && S_ISDIR(st.st_mode))
                                r = watch_path(m, *d, true);
                }
                if (r < 0)
                        break;
                if (scope_discover_dropins(m->root, scopes[i].name, &dropins, &n_dropins) >= 0) {
                        for (size_t j = 0; j < n_dropins && r >= 0; j++)
                                if (!dropins[j].masked)
                                        r = watch_file_behind_symlink(m, dropins[j].path);
                        dropin_files_free(dropins, n_dropins);
                }
        }
        dropin_files_free(scopes, n_scopes);
        return r < 0 ? r : 0;
}

int watch_setup(Manager *m)
{
        DropinFile *sources = NULL;
        size_t n_sources = 0;
        int r;

        assert(m);

        /* A fresh inotify instance each time: simpler than pruning watches on paths that changed
         * kind, and the caller rereads everything right after, so events dropped here do not matter. */
        watch_done(m);

        m->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (m->inotify_fd < 0)
                return -errno;

        r = sd_event_add_io(m->event, &m->inotify_event_source, m->inotify_fd, EPOLLIN, on_inotify, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(m->inotify_event_source, "inotify");

        r = watch_path(m, CATALOG_BASE_PATH, false);
        if (r < 0)
                goto fail;
        r = watch_file_behind_symlink(m, CATALOG_BASE_PATH);
        if (r < 0)
                goto fail;

        for (const char *const *dir = catalog_dropin_dirs; *dir; dir++) {
                r = watch_path(m, *dir, true);
                if (r < 0)
                        goto fail;
        }

        /* The override files: their directories may not exist until the first "portctl set". */
        for (const char *const *p = overrides_paths; *p; p++) {
                r = watch_path(m, *p, false);
                if (r < 0)
                        goto fail;
        }

        /* portd.conf: who may edit the overrides. */
        r = watch_path(m, PORTD_CONF_PATH, false);
        if (r < 0)
                goto fail;

        r = watch_scopes(m);
        if (r < 0)
                goto fail;

        r = catalog_discover_sources(m->root, &sources, &n_sources);
        if (r == -ENOMEM)
                goto fail;
        if (r >= 0) {
                for (size_t i = 0; i < n_sources && r >= 0; i++)
                        if (!sources[i].masked && !streq(sources[i].path, CATALOG_BASE_PATH))
                                r = watch_file_behind_symlink(m, sources[i].path);
                dropin_files_free(sources, n_sources);
                if (r < 0)
                        goto fail;
        }

        return 0;
fail:
        watch_done(m);
        return r;
}
