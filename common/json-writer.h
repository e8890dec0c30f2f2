/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON written straight into one reusable buffer, for replies sent by the thousand (the rows of
 * io.portd.Sockets.List): no json-c object per field to allocate, serialize and free.  Objects
 * and their string and integer members only; the first failure sticks, so a row is written
 * without an error path per field and checked once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct JsonWriter {
        char *data; /* NUL-terminated while error is 0 */
        size_t size, allocated;
        int error;  /* -ENOMEM, or -EINVAL for a string that is not valid UTF-8 */
        bool comma; /* the current object has a member already */
} JsonWriter;

/* Empties w for the next message, keeping its memory. */
void json_writer_clear(JsonWriter *w);
void json_writer_done(JsonWriter *w);

/* Keys are the caller's literals, written as they are: letters, digits and '_' only. */
void json_writer_object_begin(JsonWriter *w, const char *key); /* key NULL: a top-level value */
void json_writer_object_end(JsonWriter *w);
/* value quoted and escaped ('"', '\\' and control characters); it must be valid UTF-8, as every
 * name is once made safe (name-escape.h, owner_name_make_safe()), else -EINVAL sticks.  NULL
 * writes nothing: an optional member left out. */
void json_writer_string(JsonWriter *w, const char *key, const char *value);
void json_writer_integer(JsonWriter *w, const char *key, int64_t value);
