/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* services(5) parser that reads a file exactly as glibc 2.36's files backend does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ServiceRecordKind {
        SERVICE_RECORD_ENTRY,   /* "name port[/proto] aliases..." */
        SERVICE_RECORD_REMOVAL, /* "!name" or "!name/proto", drop-ins only */
        _SERVICE_RECORD_KIND_MAX,
        _SERVICE_RECORD_KIND_INVALID = -1,
} ServiceRecordKind;

/* One parsed line. Strings point into the parser's line buffer and are valid only
 * during the callback. */
typedef struct ServiceRecord {
        ServiceRecordKind kind;
        unsigned line;
        const char *name;
        const char *protocol; /* "" when the line has none; NULL in a removal of every protocol */
        uint16_t port;        /* host byte order */
        const char *const *aliases;
        size_t n_aliases;
} ServiceRecord;

typedef enum ServicesParseFlags {
        SERVICES_PARSE_REMOVALS = 1 << 0, /* accept "!name[/proto]" lines (drop-ins) */
} ServicesParseFlags;

typedef struct ServicesParseCallbacks {
        /* Both return 0 to go on, or a negative errno to stop the parse with it. */
        int (*record)(void *userdata, const ServiceRecord *record);
        int (*invalid)(void *userdata, unsigned line, const char *reason);
} ServicesParseCallbacks;

/* Parses size bytes of services(5) text. Returns 0, or the first negative errno a callback
 * returned, or -ENOMEM. */
int services_parse_buffer(const char *data, size_t size, ServicesParseFlags flags,
                const ServicesParseCallbacks *callbacks, void *userdata);

/* Parses one line in place (no newline needed); aliases are stored in *aliases, grown as needed.
 * Returns 1 and fills *ret, 0 when the line is empty or a comment, or -EINVAL with *ret_reason
 * set to a static message when glibc would skip the line. */
int services_parse_line(char *line, ServicesParseFlags flags, ServiceRecord *ret, const char ***aliases,
                size_t *n_aliases_allocated, const char **ret_reason);
