/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A method's parameters declared as a table (name, JSON type, offset into the method's struct,
 * required or not, bounds) and checked in one place, as systemd's JSON dispatch tables do: every
 * interface the daemon serves reads its parameters through varlink_dispatch(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

typedef enum VarlinkParameterType {
        VARLINK_PARAMETER_BOOLEAN, /* bool */
        VARLINK_PARAMETER_INT,     /* int64_t, within min..max */
        /* const char *, borrowed from the parameters (valid while they are): min..max bytes, no
         * NUL inside ("\u0000" would cut it short behind our back). */
        VARLINK_PARAMETER_STRING,
        /* char *, owned: a name as it travels (name-escape.h), its \xNN escapes turned back into
         * the bytes the files have; min..max bounds those bytes, no NUL inside. */
        VARLINK_PARAMETER_NAME,
        /* char **, owned, NULL-terminated: an array of at most max_items names, each as NAME. */
        VARLINK_PARAMETER_NAMES,
        _VARLINK_PARAMETER_TYPE_MAX,
} VarlinkParameterType;

typedef enum VarlinkParameterFlags {
        VARLINK_PARAMETER_REQUIRED = 1 << 0, /* absent or null is invalid */
} VarlinkParameterFlags;

typedef struct VarlinkParameter {
        const char *name;
        VarlinkParameterType type;
        size_t offset; /* offsetof() the field in the method's struct */
        VarlinkParameterFlags flags;
        int64_t min, max; /* INT: of the value; STRING, NAME, NAMES: of each string's bytes */
        size_t max_items; /* NAMES */
} VarlinkParameter;

/* Fills the fields of ret that table names from parameters (an object, or NULL for none).  An
 * optional parameter that is absent or null leaves its field as the caller set it (its default);
 * owned fields (NAME, NAMES) must be NULL on entry.  A parameter the table does not name is
 * refused, not ignored: a typo ("proto") would otherwise silently widen a query.  On a missing,
 * mistyped or out-of-bounds parameter, or an unknown one, returns -EINVAL and sets *ret_bad to its
 * name (borrowed from table or parameters) for InvalidParameter; -ENOMEM.  On failure what it
 * allocated is freed again.  JSON objects cannot carry a name twice here: json-c keeps the last
 * of duplicated keys while parsing, so a table sees each once. */
int varlink_dispatch(struct json_object *parameters, const VarlinkParameter table[], size_t n_table,
        void *ret, const char **ret_bad);
/* Frees the owned fields (NAME, NAMES) of p and sets them to NULL. */
void varlink_dispatch_done(const VarlinkParameter table[], size_t n_table, void *p);
