/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scopes: per-container layers of the services database.  A NAME.scope file says which callers
 * a scope is for (by cgroup path, by network namespace); NAME.d/ holds its services(5) drop-ins,
 * applied above every host source for those callers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* Lowest precedence first: a NAME.scope (or NAME.d/x.conf) in /etc hides the same-named one in
 * /run, where a container runtime's hook writes runtime scopes. */
extern const char *const scope_dirs[];

/* At most this many scopes are served; the ones after it in lexical order are ignored (each has
 * a catalog and a snapshot of its own). */
#define SCOPES_MAX 4096

#define SCOPE_SUFFIX ".scope"

typedef struct ScopeDiagnostic {
        DiagnosticLevel level;
        uint32_t line; /* 0: the file as a whole */
        char *message;
} ScopeDiagnostic;

/* One parsed NAME.scope file. */
typedef struct ScopeDefinition {
        char *name;     /* "web", from the file name */
        char *path;     /* "/etc/portd/scopes/web.scope", without --root */
        char **cgroups; /* Cgroup= globs, NULL-terminated; NULL when none */
        size_t n_cgroups;
        size_t *cgroup_slashes; /* per glob, scope_cgroup_glob_slashes() of it */
        char **netns;           /* NetworkNamespace= paths, NULL-terminated; NULL when none */
        size_t n_netns;
        ScopeDiagnostic *diagnostics;
        size_t n_diagnostics;
        FileStamp stamp; /* what was read */
} ScopeDefinition;

ScopeDefinition *scope_definition_free(ScopeDefinition *s);
/* Parses data as the .scope file at path (no I/O).  Bad lines become diagnostics, never errors:
 * only -ENOMEM fails. */
int scope_definition_parse(
        const char *name, const char *path, const char *data, size_t size, ScopeDefinition **ret);
/* Reads root+path and parses it; -ENOENT when absent. */
int scope_definition_load(const char *root, const char *name, const char *path, ScopeDefinition **ret);
/* The two directories of a scope's drop-ins, lowest precedence first, NULL-terminated: free with
 * free() (one allocation). */
int scope_dropin_dirs(const char *name, char ***ret);
/* The scopes below root in the order they are tried (lexical by name), masked ones included
 * (a NAME.scope symlinked to /dev/null or empty disables NAME, in /run too). */
int scope_discover(const char *root, DropinFile **ret, size_t *ret_n);
/* The drop-ins of scope name below root, in the order they apply (layer CATALOG_LAYER_SCOPE). */
int scope_discover_dropins(const char *root, const char *name, DropinFile **ret, size_t *ret_n);

/* A caller whose cgroup path is longer or deeper than this matches no scope (it gets the host's
 * answers): any user may nest cgroups in its delegated subtree, and matching must not cost that
 * user's callers more than a bounded amount of the event loop. */
#define SCOPE_CGROUP_PATH_MAX  1024
#define SCOPE_CGROUP_DEPTH_MAX 64

/* Who is asking: what a scope's [Match] section is compared with. */
typedef struct ScopeCaller {
        char *cgroup;          /* the cgroup-v2 path ("0::" line); NULL when unknown */
        char *cgroup_named;    /* the name=systemd hierarchy's path (hybrid and v1 hosts); NULL if none */
        bool cgroup_unbounded; /* a path beyond SCOPE_CGROUP_PATH_MAX/DEPTH_MAX: matches no scope */
        bool has_netns;
        uint64_t netns_dev, netns_inode; /* of /proc/PID/ns/net (which the daemon's monitor reads) */
} ScopeCaller;

void scope_caller_done(ScopeCaller *c);
/* Fills the cgroup paths from the text of /proc/PID/cgroup; a path beyond the bounds above is not
 * kept, and sets cgroup_unbounded. */
int scope_caller_set_cgroup_text(ScopeCaller *c, const char *text);
/* Reads /proc/PID/cgroup (the network namespace is not readable without ptrace access: the
 * daemon asks its privileged side, see daemon/caller-namespaces.c).  With a pidfd (>= 0) of the
 * same process, checks afterwards that it is still alive, so that what was read cannot belong to
 * a process that reused its PID: -ESRCH then.  Parts that cannot be read stay unknown (and match
 * nothing). */
int scope_caller_from_pid(int pid, int pidfd, ScopeCaller *ret);

/* Whether s is for caller: one of its Cgroup= globs matches the caller's cgroup or an ancestor
 * of it (if it has any), and one of its NetworkNamespace= files is the caller's network
 * namespace (if it has any).  A scope without either key matches nobody.  The namespace files
 * are looked at now, on the real system (they name kernel objects, --root does not apply). */
bool scope_definition_matches(const ScopeDefinition *s, const ScopeCaller *caller);
/* Cgroup= semantics alone: fnmatch() with FNM_PATHNAME on the path and each of its ancestors
 * (false for a path beyond the bounds above).  Only the ancestor with as many '/' as the glob can
 * match, so one fnmatch() decides (two for a glob with one '/', which "/" may match too). */
bool scope_cgroup_glob_matches(const char *glob, const char *path);
/* How many '/' a path matched by glob has (with FNM_PATHNAME only a '/' of the glob matches one);
 * SIZE_MAX when that is not known from the text (a '/' after a '['), and every ancestor is tried. */
size_t scope_cgroup_glob_slashes(const char *glob);
/* Whether path is within SCOPE_CGROUP_PATH_MAX and SCOPE_CGROUP_DEPTH_MAX. */
bool scope_cgroup_path_is_bounded(const char *path);

/* A scope with everything it needs to be checked or merged offline (portctl verify). */
typedef struct ScopeSources {
        DropinFile found;            /* the NAME.scope that applies */
        ScopeDefinition *definition; /* NULL when masked or unreadable */
        int error;                   /* negative errno when the .scope could not be read */
        ServicesFile **files;        /* its NAME.d/ *.conf, in order (masked and unreadable ones included) */
        size_t n_files;
} ScopeSources;

void scope_sources_free(ScopeSources *s, size_t n);
/* Discovers and reads every scope below root (at most SCOPES_MAX; *ret_n_ignored counts the rest). */
int scope_sources_load(const char *root, ScopeSources **ret, size_t *ret_n, size_t *ret_n_ignored);
/* The catalog a scope's callers see: the host files (lowest first) and then the scope's. */
int scope_catalog_build(
        ServicesFile *const *host, size_t n_host, ServicesFile *const *scope, size_t n_scope, Catalog **ret);

/* A finding of scopes_verify(), with its file (without root) and line (0: the whole file). */
typedef struct ScopeFinding {
        DiagnosticLevel level;
        char *file;
        uint32_t line;
        char *message;
} ScopeFinding;

void scope_findings_free(ScopeFinding *f, size_t n);
/* What portctl verify reports about the scopes below root: each NAME.scope's bad and unknown
 * lines, and what merging its NAME.d/ over the host's files finds about them. */
int scopes_verify(const char *root, ScopeFinding **ret, size_t *ret_n);
