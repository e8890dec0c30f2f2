/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's settings from /etc/portd/portd.conf (read at start and on every reload, the file
 * is watched), and the access rule they feed: who besides root may edit local overrides.  Group
 * names are resolved when the file is read, in the host's group database; a group created later
 * counts from the next explicit reload (SIGHUP, portctl reload) or change of the file. */

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "daemon.h"
#include "log.h"
#include "portd-conf.h"

struct Settings {
        gid_t *override_gids; /* resolved when the file is read, so no request waits for NSS */
        size_t n_override_gids;
        char *override_groups_text; /* "'portd-admin', 'staff'" for messages; NULL when none */
        bool present;
        FileStamp stamp; /* what was read, to log its findings once per change */
};

Settings *settings_free(Settings *s)
{
        if (!s)
                return NULL;
        free(s->override_gids);
        free(s->override_groups_text);
        return mfree(s);
}

static void settings_freep(Settings **s)
{
        settings_free(*s);
}

static int settings_from_conf(const PortdConf *conf, bool log_findings, Settings *s)
{
        s->override_gids = calloc(conf->n_override_groups + 1, sizeof(gid_t));
        if (!s->override_gids)
                return -ENOMEM;

        for (size_t i = 0; i < conf->n_override_groups; i++) {
                const char *g = conf->override_groups[i];
                gid_t gid;
                int r = portd_conf_resolve_group(g, &gid);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (!log_findings)
                                continue;
                        if (r == -ENOENT)
                                log_warning("%s: [Overrides] Group=%s: no such group, ignoring.",
                                        PORTD_CONF_PATH, g);
                        else
                                log_warning_errno(r,
                                        "%s: [Overrides] Group=%s: cannot resolve it: %m, ignoring.",
                                        PORTD_CONF_PATH, g);
                        continue;
                }
                s->override_gids[s->n_override_gids++] = gid;

                char *t;
                if (asprintf(&t, "%s%s'%s'", s->override_groups_text ?: "",
                            s->override_groups_text ? ", " : "", g) < 0)
                        return -ENOMEM;
                free(s->override_groups_text);
                s->override_groups_text = t;
        }

        if (log_findings)
                for (size_t i = 0; i < conf->n_diagnostics; i++)
                        log_warning("%s:%u: %s.", PORTD_CONF_PATH, conf->diagnostics[i].line,
                                conf->diagnostics[i].message);
        return 0;
}

void settings_load(Manager *m, bool explicit)
{
        _cleanup_(settings_freep) Settings *s = NULL;
        _cleanup_free_ char *full = NULL;
        PortdConf *conf = NULL;
        struct stat st;
        int r;

        assert(m);

        s = calloc(1, sizeof(Settings));
        full = path_join_root(m->root, PORTD_CONF_PATH);
        if (!s || !full) {
                log_oom();
                return;
        }

        /* Unchanged since it was read: keep what was resolved then.  Resolving groups goes
         * through NSS (sssd, LDAP) and may take long; it is done again only when the file changes
         * or on an explicit reload (SIGHUP, Reload), never for a reload an edit of some other
         * source or an override caused. */
        const Settings *old = m->settings;
        bool stamped = stat(full, &st) >= 0;
        FileStamp stamp = stamped ? file_stamp(&st) : (FileStamp){};
        if (!explicit && old && old->present && stamped && file_stamp_equal(&old->stamp, &stamp))
                return;

        r = portd_conf_load(m->root, &conf);
        if (r == -ENOENT) {
                if (m->settings && m->settings->present)
                        log_info("'%s' is gone: only root may edit local overrides.", PORTD_CONF_PATH);
        } else if (r < 0) {
                /* As with a services file: an unreadable file keeps its last good state. */
                if (r == -ENOMEM)
                        log_oom();
                else
                        log_warning_errno(r, "Failed to read '%s': %m, keeping the previous settings.",
                                PORTD_CONF_PATH);
                return;
        } else {
                s->present = true;
                /* Stamped before the read: a change in between is seen as another change later. */
                s->stamp = stamp;
                bool changed = !old || !old->present || !file_stamp_equal(&old->stamp, &s->stamp);
                r = settings_from_conf(conf, explicit || changed, s);
                portd_conf_free(conf);
                if (r < 0) {
                        log_oom();
                        return;
                }
                if (explicit || changed)
                        log_info("Read '%s': local overrides may be edited by root%s%s.", PORTD_CONF_PATH,
                                s->override_groups_text ? " and the groups " : " only",
                                s->override_groups_text ?: "");
        }

        settings_free(m->settings);
        m->settings = TAKE_PTR(s);
}

const char *settings_override_groups(const Manager *m)
{
        assert(m);

        return m->settings ? m->settings->override_groups_text : NULL;
}

/* The peer's supplementary groups as the kernel recorded them at connect() (SO_PEERGROUPS, Linux
 * 4.13): race-free, unlike /proc/PID/status, whose PID may be reused by then. */
static int peer_groups(VarlinkConnection *conn, gid_t **ret, size_t *ret_n)
{
        int fd = varlink_connection_get_fd(conn);
        socklen_t len = 64 * sizeof(gid_t);

        for (;;) {
                _cleanup_free_ gid_t *groups = malloc(len ? len : sizeof(gid_t));
                if (!groups)
                        return -ENOMEM;
                socklen_t n = len;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &n) < 0) {
                        if (errno == ERANGE && n > len) {
                                len = n;
                                continue;
                        }
                        return -errno;
                }
                *ret = TAKE_PTR(groups);
                *ret_n = n / sizeof(gid_t);
                return 0;
        }
}

int settings_check_override_access(Manager *m, VarlinkConnection *conn, struct ucred *ret_ucred)
{
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        int r;

        assert(m);

        assert(conn);

        r = varlink_connection_get_peer_credentials(conn, ret_ucred);
        if (r < 0)
                return -EPERM;
        if (ret_ucred->uid == 0)
                return 0;
        if (!m->settings || m->settings->n_override_gids == 0)
                return -EPERM;

        r = peer_groups(conn, &groups, &n_groups);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                /* Without the list (a kernel before 4.13) the primary group still counts. */
                log_debug_errno(r, "Cannot read the peer's groups, checking its primary group only: %m");

        for (size_t i = 0; i < m->settings->n_override_gids; i++) {
                gid_t g = m->settings->override_gids[i];
                if (ret_ucred->gid == g)
                        return 0;
                for (size_t j = 0; j < n_groups; j++)
                        if (groups[j] == g)
                                return 0;
        }
        return -EPERM;
}
