/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-c helpers for building replies: a cleanup attribute, and adders that consume the value
 * also on failure, so that a chain of them needs no error path per field. */
#pragma once

#include <errno.h>

#include <json-c/json.h>

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
