/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A JSON writer for replies produced in bulk (see json-writer.h): appends runs of bytes to one
 * buffer that grows by doubling and is reused from message to message. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"
#include "utf8.h"
#include "util.h"

void json_writer_clear(JsonWriter *w)
{
        assert(w);

        w->size = 0;
        w->error = 0;
        w->comma = false;
        if (w->data)
                w->data[0] = 0;
}

void json_writer_done(JsonWriter *w)
{
        assert(w);

        free(w->data);
        *w = (JsonWriter){};
}

static void append(JsonWriter *w, const char *s, size_t n)
{
        if (w->error < 0)
                return;
        if (w->allocated - w->size < n + 1) {
                if (n + 1 > SIZE_MAX / 2 - w->size) {
                        w->error = -ENOMEM;
                        return;
                }
                size_t a = MAX(w->allocated * 2, MAX(w->size + n + 1, (size_t) 256));
                char *d = realloc(w->data, a);
                if (!d) {
                        w->error = -ENOMEM;
                        return;
                }
                w->data = d;
                w->allocated = a;
        }
        memcpy(w->data + w->size, s, n);
        w->size += n;
        w->data[w->size] = 0;
}

static void key(JsonWriter *w, const char *k)
{
        if (w->comma)
                append(w, ",", 1);
        w->comma = true;
        if (!k)
                return;
        append(w, "\"", 1);
        append(w, k, strlen(k));
        append(w, "\":", 2);
}

void json_writer_object_begin(JsonWriter *w, const char *k)
{
        assert(w);

        key(w, k);
        append(w, "{", 1);
        w->comma = false;
}

void json_writer_object_end(JsonWriter *w)
{
        assert(w);

        append(w, "}", 1);
        w->comma = true;
}

void json_writer_string(JsonWriter *w, const char *k, const char *value)
{
        static const char hex[] = "0123456789abcdef";

        assert(w);
        assert(k);
        if (!value)
                return;
        size_t n = strlen(value);
        if (!utf8_is_valid(value, n)) {
                if (w->error >= 0)
                        w->error = -EINVAL;
                return;
        }
        key(w, k);
        append(w, "\"", 1);
        size_t run = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) value[i];
                if (c != '"' && c != '\\' && c >= 0x20)
                        continue;
                append(w, value + run, i - run);
                run = i + 1;
                if (c == '"' || c == '\\') {
                        char e[2] = { '\\', (char) c };
                        append(w, e, 2);
                } else {
                        char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                        append(w, e, 6);
                }
        }
        append(w, value + run, n - run);
        append(w, "\"", 1);
}

void json_writer_integer(JsonWriter *w, const char *k, int64_t value)
{
        char buf[24], *p = buf + sizeof(buf);
        uint64_t u = value < 0 ? -(uint64_t) value : (uint64_t) value;

        assert(w);
        assert(k);
        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) != 0);
        if (value < 0)
                *--p = '-';
        key(w, k);
        append(w, p, (size_t) (buf + sizeof(buf) - p));
}
