/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one parameter dispatcher of the daemon's varlink interfaces: a method names its parameters
 * in a table and gets them in a struct, checked for type, bounds and presence, or the name of the
 * first bad one for InvalidParameter.  What a value means (a valid service name, a protocol) is
 * still the method's to check. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "name-escape.h"
#include "util.h"
#include "varlink-dispatch.h"

static bool string_bytes_ok(struct json_object *v, size_t min, size_t max, bool escaped)
{
        const char *s = json_object_get_string(v);
        size_t l = (size_t) json_object_get_string_len(v);

        if (memchr(s, '\0', l))
                return false;
        /* An escaped byte takes four on the wire; the exact bound is on what it unescapes to. */
        return escaped ? l >= min && l <= 4 * max : l >= min && l <= max;
}

/* A name as it travels, turned back into its bytes: a new string, or NULL when out of bounds or
 * out of memory (*ret_oom tells which). */
static char *name_dispatch(struct json_object *v, const VarlinkParameter *p, bool *ret_oom)
{
        *ret_oom = false;
        if (!json_object_is_type(v, json_type_string) ||
                !string_bytes_ok(v, (size_t) p->min, (size_t) p->max, true))
                return NULL;

        const char *s = json_object_get_string(v);
        char *u = malloc((size_t) json_object_get_string_len(v) + 1);
        if (!u) {
                *ret_oom = true;
                return NULL;
        }
        size_t l = (size_t) (name_unescape_to(u, s) - u);
        if (l < (size_t) p->min || l > (size_t) p->max)
                return mfree(u);
        return u;
}

static void strv_free_n(char **v)
{
        for (char **i = v; i && *i; i++)
                free(*i);
        free(v);
}

/* -EINVAL for a bad value, -ENOMEM; 0 with the field filled. */
static int parameter_dispatch(struct json_object *v, const VarlinkParameter *p, void *field)
{
        bool oom;

        switch (p->type) {
        case VARLINK_PARAMETER_BOOLEAN:
                if (!json_object_is_type(v, json_type_boolean))
                        return -EINVAL;
                *(bool *) field = json_object_get_boolean(v);
                return 0;

        case VARLINK_PARAMETER_INT: {
                if (!json_object_is_type(v, json_type_int))
                        return -EINVAL;
                /* json-c keeps an integer above INT64_MAX as unsigned and clamps it here; one
                 * beyond 64 bits is a double, refused above as not an integer. */
                int64_t i = json_object_get_int64(v);
                if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t) INT64_MAX)
                        return -EINVAL;
                if (i < p->min || i > p->max)
                        return -EINVAL;
                *(int64_t *) field = i;
                return 0;
        }

        case VARLINK_PARAMETER_STRING:
                if (!json_object_is_type(v, json_type_string) ||
                        !string_bytes_ok(v, (size_t) p->min, (size_t) p->max, false))
                        return -EINVAL;
                *(const char **) field = json_object_get_string(v);
                return 0;

        case VARLINK_PARAMETER_NAME: {
                char *s = name_dispatch(v, p, &oom);
                if (!s)
                        return oom ? -ENOMEM : -EINVAL;
                *(char **) field = s;
                return 0;
        }

        case VARLINK_PARAMETER_NAMES: {
                if (!json_object_is_type(v, json_type_array))
                        return -EINVAL;
                size_t n = json_object_array_length(v);
                if (n > p->max_items)
                        return -EINVAL;
                char **strv = calloc(n + 1, sizeof(char *));
                if (!strv)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        strv[i] = name_dispatch(json_object_array_get_idx(v, i), p, &oom);
                        if (!strv[i]) {
                                strv_free_n(strv);
                                return oom ? -ENOMEM : -EINVAL;
                        }
                }
                *(char ***) field = strv;
                return 0;
        }

        default:
                assert(!"unknown parameter type");
                return -EINVAL;
        }
}

static bool table_has(const VarlinkParameter table[], size_t n_table, const char *name)
{
        for (size_t i = 0; i < n_table; i++)
                if (streq(table[i].name, name))
                        return true;
        return false;
}

int varlink_dispatch(struct json_object *parameters, const VarlinkParameter table[], size_t n_table,
        void *ret, const char **ret_bad)
{
        int r;

        assert(table || n_table == 0);
        assert(ret || n_table == 0);
        assert(ret_bad);
        assert(!parameters || json_object_is_type(parameters, json_type_object));

        for (size_t i = 0; i < n_table; i++) {
                const VarlinkParameter *p = &table[i];
                struct json_object *v = NULL;

                /* A table that names a parameter twice would fill one field and leave the other at
                 * its default, whichever the client meant. */
                assert(p->name && !table_has(table, i, p->name));
                assert(p->type >= 0 && p->type < _VARLINK_PARAMETER_TYPE_MAX);

                if (!parameters || !json_object_object_get_ex(parameters, p->name, &v) || !v) {
                        if (!(p->flags & VARLINK_PARAMETER_REQUIRED))
                                continue;
                        r = -EINVAL;
                } else
                        r = parameter_dispatch(v, p, (uint8_t *) ret + p->offset);
                if (r < 0) {
                        varlink_dispatch_done(table, i, ret);
                        if (r == -EINVAL)
                                *ret_bad = p->name;
                        return r;
                }
        }

        if (parameters) {
                json_object_object_foreach(parameters, key, val)
                {
                        (void) val;
                        if (!table_has(table, n_table, key)) {
                                varlink_dispatch_done(table, n_table, ret);
                                *ret_bad = key;
                                return -EINVAL;
                        }
                }
        }
        return 0;
}

void varlink_dispatch_done(const VarlinkParameter table[], size_t n_table, void *p)
{
        assert(table || n_table == 0);

        for (size_t i = 0; i < n_table; i++) {
                void *field = (uint8_t *) p + table[i].offset;

                if (table[i].type == VARLINK_PARAMETER_NAME)
                        *(char **) field = mfree(*(char **) field);
                else if (table[i].type == VARLINK_PARAMETER_NAMES) {
                        strv_free_n(*(char ***) field);
                        *(char ***) field = NULL;
                }
        }
}
