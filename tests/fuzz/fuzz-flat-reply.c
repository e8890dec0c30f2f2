/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for client/flat-reply.c, differential against json-c: whatever message the reader
 * takes, varlink-wire.c's strict json-c reading takes too and finds the same members with the same
 * values and the same "continues"; a member the reader did not write is absent there or not of its
 * type.  The reader may decline what json-c takes (it then reads it), never the other way round. */

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flat-reply.h"
#include "util.h"
#include "varlink-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Fields {
        int64_t a, b;
        const char *s, *t;
} Fields;

static const FlatMember members[] = {
        { "s", false, offsetof(Fields, s) },
        { "a", true, offsetof(Fields, a) },
        { "t", false, offsetof(Fields, t) },
        { "b", true, offsetof(Fields, b) },
};

static void check_integer(struct json_object *o, const char *key, int64_t v, bool written)
{
        struct json_object *m = NULL;
        bool there = json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_int);
        if (there != written || (written && json_object_get_int64(m) != v))
                __builtin_trap();
}

static void check_string(struct json_object *o, const char *key, const char *v)
{
        struct json_object *m = NULL;
        bool there = json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_string);
        if (there != (v != NULL))
                __builtin_trap();
        /* json-c's length too: a string with a NUL in it would compare equal up to the NUL. */
        if (v && (strlen(v) != (size_t) json_object_get_string_len(m) ||
                         !streq(v, json_object_get_string(m))))
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* A message is what comes before its NUL. */
        if (memchr(data, 0, size))
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;

        FlatScratch scratch = {};
        Fields f = { .a = INT64_MIN, .b = INT64_MIN };
        bool continues = false;
        int r = flat_reply_read(text, size, "owner", members, ELEMENTSOF(members), &f, &scratch, &continues);
        if (r < 0 && r != -ENOMEM)
                __builtin_trap();
        if (r > 0) {
                struct json_object *m = NULL, *parameters = NULL, *owner = NULL, *c = NULL;
                if (varlink_message_parse(text, size, &m) < 0)
                        __builtin_trap();
                if (!json_object_object_get_ex(m, "parameters", &parameters) ||
                        !json_object_object_get_ex(parameters, "owner", &owner) ||
                        !json_object_is_type(owner, json_type_object))
                        __builtin_trap();
                bool json_continues =
                        json_object_object_get_ex(m, "continues", &c) && json_object_get_boolean(c);
                if (json_continues != continues)
                        __builtin_trap();
                check_integer(owner, "a", f.a, f.a != INT64_MIN);
                check_integer(owner, "b", f.b, f.b != INT64_MIN);
                check_string(owner, "s", f.s);
                check_string(owner, "t", f.t);
                json_object_put(m);
        }
        flat_scratch_done(&scratch);
        free(text);
        return 0;
}
