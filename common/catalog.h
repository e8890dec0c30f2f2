/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The catalog: every services source parsed and merged into one ordered list of entries,
 * with provenance, diagnostics and what each winner replaced, and hash indexes over it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "services-parse.h"
#include "snapshot.h"
#include "util.h"

typedef enum CatalogLayer {
        CATALOG_LAYER_BASE,     /* /etc/services */
        CATALOG_LAYER_DROPIN,   /* services.d/ *.conf */
        CATALOG_LAYER_OVERRIDE, /* local overrides set at run time */
        CATALOG_LAYER_SCOPE,    /* per-container scope */
        _CATALOG_LAYER_MAX,
        _CATALOG_LAYER_INVALID = -1,
} CatalogLayer;

/* The layer as io.portd.Services names it ("dropin"); NULL for none. */
const char *catalog_layer_to_string(CatalogLayer l);

typedef struct ServiceEntry {
        char *name;
        char *protocol; /* "" when the line had none */
        uint16_t port;  /* host byte order */
        char **aliases; /* NULL-terminated */
        size_t n_aliases;
        uint32_t source; /* index into the sources of the file or catalog that holds it */
        uint32_t line;
} ServiceEntry;

typedef struct ServiceRemoval {
        char *name;
        char *protocol; /* NULL: every protocol */
        uint32_t line;
} ServiceRemoval;

typedef struct FileDiagnostic {
        uint32_t line;
        char *message;
} FileDiagnostic;

/* One parsed source file: what the daemon caches so that a file that fails to read keeps
 * its last good state. */
typedef struct ServicesFile {
        char *path; /* as the administrator knows it, without --root */
        CatalogLayer layer;
        ServiceEntry *entries;
        size_t n_entries;
        ServiceRemoval *removals;
        size_t n_removals;
        FileDiagnostic *diagnostics; /* skipped lines */
        size_t n_diagnostics;
        bool masked; /* a drop-in masked by a /dev/null symlink or an empty file */
        int error;   /* negative errno: the file could not be read, it contributes nothing */
        FileStamp stamp; /* what was read, to notice changes */
} ServicesFile;

ServicesFile *services_file_free(ServicesFile *f);
/* Parses data as the file at path (no I/O). */
int services_file_parse(const char *path, CatalogLayer layer, const char *data, size_t size,
                ServicesFile **ret);
/* Reads root+path and parses it. -ENOENT when absent. */
int services_file_load(const char *root, const char *path, CatalogLayer layer, ServicesFile **ret);
/* A ServicesFile that stands for a masked drop-in, or for a file that could not be read (error < 0). */
int services_file_new_empty(const char *path, CatalogLayer layer, bool masked, int error, ServicesFile **ret);

/* A drop-in directory entry after UAPI.6 precedence: the file that applies for one name. */
typedef struct DropinFile {
        char *name; /* "50-app.conf" */
        char *path; /* "/etc/services.d/50-app.conf", without root */
        bool masked; /* symlink to /dev/null or empty */
        CatalogLayer layer;
        char **hidden; /* NULL-terminated paths of same-named files it hides, may be NULL */
} DropinFile;

extern const char *const catalog_dropin_dirs[]; /* lowest to highest precedence, NULL-terminated */
#define CATALOG_BASE_PATH "/etc/services"

/* Lists the drop-ins below root in the order they apply (lexical by name), masked ones included. */
int catalog_discover_dropins(const char *root, DropinFile **ret, size_t *ret_n);
void dropin_files_free(DropinFile *d, size_t n);
/* The same for any set of directories (lowest precedence first) and file name suffix (".conf"),
 * with the given layer: the scopes' NAME.scope files and NAME.d drop-ins are found this way. */
int catalog_discover_files(const char *root, const char *const *dirs, const char *suffix, CatalogLayer layer,
                DropinFile **ret, size_t *ret_n);

/* Every source in the order they apply: /etc/services (even when absent), the drop-ins, then
 * the local override files that exist (overrides.h). */
int catalog_discover_sources(const char *root, DropinFile **ret, size_t *ret_n);

typedef enum DiagnosticLevel {
        DIAGNOSTIC_ERROR,
        DIAGNOSTIC_WARNING,
        DIAGNOSTIC_NOTICE,
        _DIAGNOSTIC_LEVEL_MAX,
        _DIAGNOSTIC_LEVEL_INVALID = -1,
} DiagnosticLevel;

/* The most aliases an entry may have (the snapshot counts them in 16 bits); a line with more is
 * skipped and reported. */
#define SERVICE_ALIASES_SERVED_MAX 65535u

const char *diagnostic_level_to_string(DiagnosticLevel l);
/* Why a source could not be read, for people: services_file_load()'s errors (-ENOLINK a dangling
 * symbolic link, -ELOOP a loop, -EISDIR, -EBADFD not a regular file, ...), else strerror(). */
const char *catalog_source_error_to_string(int error);

typedef struct CatalogDiagnostic {
        DiagnosticLevel level;
        uint32_t source; /* index into Catalog.sources */
        uint32_t line;   /* 0: the file as a whole */
        char *message;
} CatalogDiagnostic;

typedef struct CatalogSource {
        char *path;
        CatalogLayer layer;
        bool masked;
        int error; /* negative errno when it could not be read */
        size_t n_entries;
} CatalogSource;

/* A definition that lost: replaced by a higher layer, or removed by a "!" line. */
typedef struct CatalogShadow {
        ServiceEntry entry; /* the definition that lost, its source relative to the catalog */
        uint32_t by_source, by_line;
        bool removed;
} CatalogShadow;

#define CATALOG_DIGEST_SIZE 65 /* SHA-256 in hex and a NUL */

typedef struct Catalog {
        CatalogSource *sources;
        size_t n_sources;
        ServiceEntry *entries; /* merged order: the first match wins */
        size_t n_entries;
        CatalogShadow *shadows;
        size_t n_shadows;
        CatalogDiagnostic *diagnostics;
        size_t n_diagnostics;
        void *index_image; /* a snapshot image of the entries: the hash indexes lookups use */
        size_t index_size;
        Snapshot index;
        char digest[CATALOG_DIGEST_SIZE]; /* catalog-export.h: SHA-256 of the merged entries, hex */
} Catalog;

Catalog *catalog_free(Catalog *c);

/* Merges files, lowest precedence first (base, then drop-ins in order, then overrides, scopes).
 * Entries of a later file come before those of earlier ones in the merged order; a later file's
 * (name, protocol) replaces every earlier definition of it; "!" removes from earlier files. */
int catalog_build(ServicesFile *const *files, size_t n_files, Catalog **ret);

/* Discovers, reads and merges every source below root ("/" or NULL for the system). */
int catalog_load(const char *root, Catalog **ret);
/* The files catalog_load() merges, in that order, each read (or standing for a masked or unreadable
 * one); for building several catalogs (scopes) over the same parsed host files. */
int catalog_load_files(const char *root, ServicesFile ***ret, size_t *ret_n);
void services_files_free(ServicesFile **files, size_t n);
/* Reads the listed files below root into ServicesFile objects, in the same order. */
int catalog_load_listed(const char *root, const DropinFile *sources, size_t n_sources, ServicesFile ***ret,
                size_t *ret_n);

/* glibc's first-match semantics; protocol NULL means any. NULL when nothing matches. */
const ServiceEntry *catalog_lookup_by_name(const Catalog *c, const char *name, const char *protocol);
const ServiceEntry *catalog_lookup_by_port(const Catalog *c, uint16_t port, const char *protocol);

/* Lists the current winner (may be NULL) and every definition of name[/protocol] that lost. */
int catalog_explain(const Catalog *c, const char *name, const char *protocol, const ServiceEntry **ret_winner,
                const CatalogShadow ***ret_shadows, size_t *ret_n_shadows);
