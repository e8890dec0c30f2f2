/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-c helpers for building replies: a cleanup attribute, and adders that consume the value
 * also on failure, so that a chain of them needs no error path per field. */
#pragma once

#include <errno.h>

#include <json-c/json.h>

#include "name-escape.h"
#include "util.h"

static inline void json_object_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Adds value (consumed, also on failure) under key; a NULL value means its allocation failed. */
static inline int json_add(struct json_object *o, const char *key, struct json_object *value)
{
        if (!value)
                return -ENOMEM;
        if (json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

/* Appends value (consumed, also on failure) to the array a. */
static inline int json_append(struct json_object *a, struct json_object *value)
{
        if (!value)
                return -ENOMEM;
        if (json_object_array_add(a, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

/* A JSON string of s made safe (see name-escape.h): with NAME_ESCAPE_BACKSLASH for names, which
 * clients turn back into their bytes, without for file names and messages shown to people.  NULL
 * when out of memory.  Every text that came from a file or a client goes out through this: json-c
 * would copy bytes that are not UTF-8 into the reply as they are, and the reply would not be JSON. */
static inline struct json_object *json_string_escaped(const char *s, NameEscapeFlags flags)
{
        if (name_is_plain(s, flags))
                return json_object_new_string(s);
        char *e = name_escape(s, flags);
        if (!e)
                return NULL;
        struct json_object *o = json_object_new_string(e);
        free(e);
        return o;
}
