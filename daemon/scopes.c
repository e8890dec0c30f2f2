/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scopes in the daemon: reading every NAME.scope and NAME.d/ with the other sources (sources.c),
 * building one CatalogImage per scope over the host's parsed files (image.c; again only when
 * something under it changed), and finding the scope of each connection's peer from its
 * credentials. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>

#include "caller.h"
#include "daemon.h"
#include "log.h"

static bool scope_definition_same(const ScopeDefinition *a, const ScopeDefinition *b)
{
        return a && b && file_stamp_equal(&a->stamp, &b->stamp);
}

static int scope_state_compare(const void *key, const void *s)
{
        return strcmp(key, ((const ScopeState *) s)->name);
}

static const ScopeState *scope_states_find(const ScopeState *scopes, size_t n, const char *name)
{
        return n > 0 ? bsearch(name, scopes, n, sizeof(ScopeState), scope_state_compare) : NULL;
}

void scope_states_free(ScopeState *scopes, size_t n, const ScopeState *keep, size_t n_keep)
{
        for (size_t i = 0; i < n; i++) {
                ScopeState *s = &scopes[i];
                const ScopeState *k = scope_states_find(keep, n_keep, s->name);

                if (!k || k->definition != s->definition)
                        scope_definition_free(s->definition);
                source_states_free(s->sources, s->n_sources, k ? k->sources : NULL, k ? k->n_sources : 0);
                /* As for the host's image: processes that mapped it ask for the new one. */
                catalog_image_done(&s->image);
                free(s->name);
        }
        free(scopes);
}

static void scope_definition_log(const ScopeDefinition *d)
{
        for (size_t i = 0; i < d->n_diagnostics; i++) {
                const ScopeDiagnostic *x = &d->diagnostics[i];
                if (x->level == DIAGNOSTIC_ERROR)
                        log_warning("%s:%" PRIu32 ": %s.", d->path, x->line, x->message);
                else
                        log_notice("%s:%" PRIu32 ": %s.", d->path, x->line, x->message);
        }
}

/* The drop-ins of a scope as they are listed now; if the directories cannot be listed, the ones
 * the old state had (read again), as sources_load() does for the host's. */
static int scope_list_dropins(
        Manager *m, const ScopeState *old, const char *name, DropinFile **ret, size_t *ret_n)
{
        DropinFile *found = NULL;
        size_t n = 0;
        int r;

        r = scope_discover_dropins(m->root, name, ret, ret_n);
        if (r >= 0 || r == -ENOMEM)
                return r;
        log_warning_errno(r,
                "Failed to list the drop-in directories of scope '%s': %m, keeping its previous list.",
                name);
        found = calloc(old ? old->n_sources + 1 : 1, sizeof(DropinFile));
        if (!found)
                return -ENOMEM;
        for (; old && n < old->n_sources; n++) {
                found[n] = (DropinFile){
                        .path = strdup(old->sources[n].path),
                        .layer = CATALOG_LAYER_SCOPE,
                        .masked = old->sources[n].masked,
                };
                if (!found[n].path) {
                        dropin_files_free(found, n);
                        return -ENOMEM;
                }
        }
        *ret = found;
        *ret_n = n;
        return 0;
}

/* Fills s for the scope file f; leaves s->definition NULL when the scope is not to be served
 * (its file vanished, or was never readable). */
static int scope_state_load(Manager *m, const ScopeState *old, const DropinFile *f, bool host_changed,
        bool explicit, ScopeState *s)
{
        ScopeDefinition *d = NULL;
        DropinFile *dropins = NULL;
        size_t n_dropins = 0;
        int r;

        r = scope_definition_load(m->root, f->name, f->path, &d);
        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT)
                return 0; /* gone between listing and reading */
        if (r < 0) {
                s->error = r;
                if (!old || !old->definition) {
                        log_warning_errno(r, "Failed to read '%s': %m, ignoring the scope.", f->path);
                        return 0;
                }
                /* Borrowed from the old state: freeing decides by comparing pointers. */
                s->definition = old->definition;
                log_warning_errno(r, "Failed to read '%s': %m, keeping its last good state.", f->path);
        } else {
                if (explicit || !old || !scope_definition_same(old->definition, d))
                        scope_definition_log(d);
                s->definition = d;
        }

        r = scope_list_dropins(m, old, f->name, &dropins, &n_dropins);
        if (r < 0)
                return r;
        s->sources = calloc(n_dropins + 1, sizeof(SourceState));
        if (!s->sources) {
                dropin_files_free(dropins, n_dropins);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_dropins; i++) {
                const SourceState *o =
                        old ? source_states_find(old->sources, old->n_sources, dropins[i].path) : NULL;
                r = source_load(m->root, o, dropins[i].path, CATALOG_LAYER_SCOPE, dropins[i].masked,
                        explicit, &s->sources[s->n_sources]);
                if (r < 0)
                        break;
                s->n_sources++;
        }
        dropin_files_free(dropins, n_dropins);
        if (r < 0)
                return r;

        /* Nothing under this scope's catalog changed: it carries over (if it was built), and so
         * does the snapshot its processes have mapped, which they can keep using. */
        if (!host_changed && old &&
                source_states_equal(s->sources, s->n_sources, old->sources, old->n_sources))
                s->reuse = (ScopeState *) old;
        return 0;
}

/* Builds the catalog and snapshot of a scope on the first call of a caller it matches: a catalog
 * costs about as much memory as the host's (a few MiB with the IANA registry), and most scopes of
 * a big host have no caller most of the time.  The sources are the current ones, so the image
 * belongs to the current generation. */
static int scope_state_build(Manager *m, ScopeState *s)
{
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        if (!s->image.catalog) {
                _cleanup_free_ SourceState *all =
                        calloc(m->n_sources + s->n_sources + 1, sizeof(SourceState));
                Catalog *c = NULL;

                if (!all)
                        return -ENOMEM;
                /* Shallow copies: the same parsed host files serve every scope. */
                memcpy(all, m->sources, m->n_sources * sizeof(SourceState));
                memcpy(all + m->n_sources, s->sources, s->n_sources * sizeof(SourceState));
                r = sources_build_catalog(all, m->n_sources + s->n_sources, &c);
                if (r < 0)
                        return r;
                r = catalog_image_set_catalog(&s->image, c);
                if (r < 0)
                        return r;
        }
        if (!s->image.snapshot) {
                r = catalog_image_write_snapshot(&s->image, m->generation);
                if (r < 0)
                        return r;
        }
        log_debug("Built scope '%s': %zu services, %zu own sources, snapshot of %zu bytes, in %" PRIu64
                  " us.",
                s->name, s->image.catalog->n_entries, s->n_sources, s->image.snapshot->size,
                now_usec(CLOCK_MONOTONIC) - start);
        return 0;
}

int scopes_load(Manager *m, const SourceState *states, size_t n_states, bool explicit, ScopeState **ret,
        size_t *ret_n)
{
        ScopeState *scopes = NULL;
        DropinFile *found = NULL;
        size_t n_found = 0, n = 0, n_kept = 0;
        bool host_changed;
        int r;

        assert(m);
        assert(ret);
        assert(ret_n);

        host_changed = !source_states_equal(states, n_states, m->sources, m->n_sources);

        r = scope_discover(m->root, &found, &n_found);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning_errno(
                        r, "Failed to list the scope directories: %m, keeping the previous scopes.");
                found = calloc(m->n_scopes + 1, sizeof(DropinFile));
                if (!found)
                        return -ENOMEM;
                for (; n_found < m->n_scopes; n_found++) {
                        found[n_found] = (DropinFile){
                                .name = strdup(m->scopes[n_found].name),
                                .path = strdup(m->scopes[n_found].definition->path),
                                .layer = CATALOG_LAYER_SCOPE,
                        };
                        if (!found[n_found].name || !found[n_found].path) {
                                n_found++;
                                r = -ENOMEM;
                                goto out;
                        }
                }
        }
        if (n_found > SCOPES_MAX)
                log_warning("%zu scopes found, serving the first %d: '%s' and the %zu after it are ignored.",
                        n_found, SCOPES_MAX, found[SCOPES_MAX].name, n_found - SCOPES_MAX - 1);

        scopes = calloc(MIN(n_found, (size_t) SCOPES_MAX) + 1, sizeof(ScopeState));
        if (!scopes) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n_found && n < SCOPES_MAX; i++) {
                const ScopeState *old = scope_states_find(m->scopes, m->n_scopes, found[i].name);
                ScopeState *s = &scopes[n];

                if (found[i].masked) {
                        if (old)
                                log_info("Scope '%s' is masked.", found[i].name);
                        continue;
                }
                s->name = strdup(found[i].name);
                if (!s->name) {
                        r = -ENOMEM;
                        goto out;
                }
                n++;
                r = scope_state_load(m, old, &found[i], host_changed, explicit, s);
                if (r < 0)
                        goto out;
                if (!s->definition) {
                        /* Not served: drop it again (nothing of it is borrowed). */
                        source_states_free(s->sources, s->n_sources, old ? old->sources : NULL,
                                old ? old->n_sources : 0);
                        free(s->name);
                        *s = (ScopeState){};
                        n--;
                        continue;
                }
                if (!old)
                        log_info("New scope '%s' (%s).", s->name, s->definition->path);
                n_kept += s->reuse && s->reuse->image.catalog;
        }
        for (size_t i = 0; i < m->n_scopes; i++)
                if (!scope_states_find(scopes, n, m->scopes[i].name))
                        log_info("Scope '%s' is gone.", m->scopes[i].name);
        if (n > 0)
                log_debug("%zu scopes, %zu built catalogs carried over.", n, n_kept);

        *ret = TAKE_PTR(scopes);
        *ret_n = n;
        r = 0;
out:
        if (scopes)
                scope_states_free(scopes, n, m->scopes, m->n_scopes);
        dropin_files_free(found, n_found);
        return r;
}

static bool strv_equal(char *const *a, size_t n_a, char *const *b, size_t n_b)
{
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* Whether some process may now get another scope than before: a scope came, went, or matches
 * differently. */
static bool scopes_matching_changed(const ScopeState *a, size_t n_a, const ScopeState *b, size_t n_b)
{
        if (n_a != n_b)
                return true;
        for (size_t i = 0; i < n_a; i++) {
                const ScopeDefinition *x = a[i].definition, *y = b[i].definition;
                if (!streq(a[i].name, b[i].name) ||
                        !strv_equal(x->cgroups, x->n_cgroups, y->cgroups, y->n_cgroups) ||
                        !strv_equal(x->netns, x->n_netns, y->netns, y->n_netns))
                        return true;
        }
        return false;
}

void scopes_commit(Manager *m, ScopeState *scopes, size_t n_scopes)
{
        assert(m);

        /* A process that mapped its scope's image keeps answering from it until the image is
         * flagged superseded.  When matching changed, it may belong to another scope now: then
         * every image is replaced (built again on the next GetSnapshot), the catalogs stay. */
        bool matching_changed = scopes_matching_changed(m->scopes, m->n_scopes, scopes, n_scopes);

        for (size_t i = 0; i < n_scopes; i++) {
                ScopeState *s = &scopes[i], *old = s->reuse;
                if (!old)
                        continue;
                s->image = old->image;
                old->image = (CatalogImage){};
                /* The old snapshot then goes with the old state, flagged superseded. */
                if (matching_changed)
                        old->image.snapshot = TAKE_PTR(s->image.snapshot);
                s->reuse = NULL;
        }
        scope_states_free(m->scopes, m->n_scopes, scopes, n_scopes);
        m->scopes = scopes;
        m->n_scopes = n_scopes;
        m->scopes_generation++;
}

/* What a connection knows about its peer: read once, matched again when the scopes change. */
typedef struct ConnectionScope {
        Caller caller;
        uint64_t scopes_generation; /* of the match below; 0: never matched */
        ScopeState *scope;
        bool placed; /* with the match: whether the caller could be told apart for these scopes */
} ConnectionScope;

static void connection_scope_free(void *p)
{
        ConnectionScope *cs = p;

        caller_done(&cs->caller);
        free(cs);
}

static int connection_scope_get(Manager *m, VarlinkConnection *conn, ConnectionScope **ret)
{
        ConnectionScope *cs = varlink_connection_get_userdata(conn);
        int r;

        if (!cs) {
                cs = calloc(1, sizeof(ConnectionScope));
                if (!cs)
                        return -ENOMEM;
                r = caller_identify(conn, m->namespaces_fd, &cs->caller);
                if (r < 0) {
                        free(cs);
                        return r;
                }
                if (cs->caller.where.cgroup_unbounded)
                        log_debug("PID %d is in a cgroup deeper than %d levels or longer than %d bytes: it "
                                  "matches no scope, answering from the host's catalog.",
                                (int) cs->caller.ucred.pid, SCOPE_CGROUP_DEPTH_MAX, SCOPE_CGROUP_PATH_MAX);
                varlink_connection_set_userdata(conn, cs, connection_scope_free);
        }
        *ret = cs;
        return 0;
}

/* Whether what is known of the caller decides its scope.  A caller that matches no scope gets the
 * host's answers, so "matches none" must be known, not guessed: a process that exited before it
 * could be read (connect, fork, exit: its child calls), or whose cgroup or network namespace cannot
 * be read while some scope matches on it, might belong to a scope, and gets an error instead (the
 * NSS module answers UNAVAIL, files answers from the caller's own /etc/services). */
static bool caller_placed(const Manager *m, const Caller *c)
{
        bool by_cgroup = false, by_netns = false;

        if (c->error < 0)
                return false;
        for (size_t i = 0; i < m->n_scopes; i++) {
                by_cgroup = by_cgroup || m->scopes[i].definition->n_cgroups > 0;
                by_netns = by_netns || m->scopes[i].definition->n_netns > 0;
        }
        /* A cgroup beyond the bounds was read, and is known to match no scope. */
        if (by_cgroup && !c->where.cgroup && !c->where.cgroup_unbounded)
                return false;
        if (by_netns && !c->where.has_netns)
                return false;
        return true;
}

int scopes_for_connection(Manager *m, VarlinkConnection *conn, ScopeState **ret)
{
        ConnectionScope *cs;
        int r;

        assert(m);

        assert(conn);
        assert(ret);

        /* Without scopes nobody needs to know who is asking: no /proc reads on the fast path. */
        if (m->n_scopes == 0) {
                *ret = NULL;
                return 0;
        }

        r = connection_scope_get(m, conn, &cs);
        if (r < 0)
                return r;

        if (cs->scopes_generation != m->scopes_generation) {
                cs->scope = NULL;
                cs->placed = caller_placed(m, &cs->caller);
                for (size_t i = 0; i < m->n_scopes && !cs->scope && cs->placed; i++)
                        if (scope_definition_matches(m->scopes[i].definition, &cs->caller.where))
                                cs->scope = &m->scopes[i];
                cs->scopes_generation = m->scopes_generation;
                if (cs->placed)
                        log_debug("Caller in cgroup '%s' gets scope '%s'.", cs->caller.where.cgroup ?: "?",
                                cs->scope ? cs->scope->name : "(host)");
                else
                        log_debug("Caller PID %d (uid %u) cannot be placed in or out of the scopes, "
                                  "answering with an error.",
                                (int) cs->caller.ucred.pid, (unsigned) cs->caller.ucred.uid);
        }
        if (!cs->placed)
                return -ESRCH;

        ScopeState *s = cs->scope;
        if (s && (!s->image.catalog || !s->image.snapshot)) {
                /* A build that failed is not tried again for every call: callers of the scope fail
                 * (and fall back to their next source) until the back-off ends. */
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (s->build_error < 0 && now < s->build_retry_usec)
                        return s->build_error;
                r = scope_state_build(m, s);
                if (r < 0) {
                        s->build_error = r;
                        s->build_retry_usec = now + 1000000u;
                        return log_error_errno(
                                r, "Failed to build scope '%s': %m, not trying again for 1 s.", s->name);
                }
                s->build_error = 0;
        }
        *ret = s;
        return 0;
}

int scopes_check_host_caller(Manager *m, VarlinkConnection *conn)
{
        CallerNamespaces ns;
        struct ucred ucred = {};
        ScopeState *scope = NULL;
        int pidfd, r;

        assert(m);
        assert(conn);

        /* In a scope: a container's caller, whatever its namespaces. */
        r = scopes_for_connection(m, conn, &scope);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || scope)
                return -EPERM;

        /* Root in a container that sees our socket (a bind mount of /run/portd) is root in its own
         * user or PID namespace, not the host's administrator.  Looked at only here, on the few
         * methods that change state, with a pidfd of its own (the lookups' one is closed). */
        (void) varlink_connection_get_peer_credentials(conn, &ucred);
        pidfd = caller_peer_pidfd(conn);
        if (pidfd == -EMFILE || pidfd == -ENFILE)
                return pidfd; /* not known now: neither allowed nor denied */
        if (pidfd < 0)
                return -EPERM;
        /* Asked of the monitor: the kernel shows them only to a process that may ptrace the
         * caller, and this one holds no capability (caller-namespaces.c). */
        r = caller_namespaces_ask(m->namespaces_fd, pidfd, &ns);
        safe_close(pidfd);
        if (r >= 0)
                r = caller_namespaces_are_own(&ns);
        if (r < 0)
                log_debug_errno(r, "Cannot read the namespaces of PID %d: %m, refusing its change.",
                        (int) ucred.pid);
        return r > 0 ? 0 : -EPERM;
}
