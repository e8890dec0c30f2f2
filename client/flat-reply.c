/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A flat varlink reply read without json-c (flat-reply.h). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flat-reply.h"
#include "utf8.h"
#include "util.h"

void flat_scratch_done(FlatScratch *s)
{
        free(s->data);
        *s = (FlatScratch){};
}

typedef struct Cursor {
        const char *p, *end;
        char *out; /* where the next string goes in the scratch */
} Cursor;

static void skip_space(Cursor *c)
{
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
                c->p++;
}

static bool take(Cursor *c, char ch)
{
        skip_space(c);
        if (c->p >= c->end || *c->p != ch)
                return false;
        c->p++;
        return true;
}

static bool take_word(Cursor *c, const char *w)
{
        size_t n = strlen(w);

        skip_space(c);
        if ((size_t) (c->end - c->p) < n || memcmp(c->p, w, n) != 0)
                return false;
        c->p += n;
        return true;
}

/* A string into the scratch, which has room: each string's text is shorter than its quoted form. */
static const char *take_string(Cursor *c)
{
        static const char escapes[][2] = { { '"', '"' }, { '\\', '\\' }, { '/', '/' }, { 'b', '\b' },
                { 'f', '\f' }, { 'n', '\n' }, { 'r', '\r' }, { 't', '\t' } };

        if (!take(c, '"'))
                return NULL;
        char *start = c->out;
        while (c->p < c->end && *c->p != '"') {
                unsigned char u = (unsigned char) *c->p;
                if (u == '\\') {
                        bool known = false;
                        for (size_t i = 0; c->p + 1 < c->end && i < ELEMENTSOF(escapes) && !known; i++)
                                if (c->p[1] == escapes[i][0]) {
                                        *c->out++ = escapes[i][1];
                                        known = true;
                                }
                        if (!known)
                                return NULL; /* \u (or worse): json-c's */
                        c->p += 2;
                } else if (u < 0x20)
                        return NULL;
                else if (u < 0x80)
                        *c->out++ = *c->p++;
                else {
                        size_t l = utf8_sequence_length(c->p, (size_t) (c->end - c->p));
                        if (l == 0)
                                return NULL;
                        memcpy(c->out, c->p, l);
                        c->out += l;
                        c->p += l;
                }
        }
        if (c->p >= c->end)
                return NULL;
        c->p++;
        *c->out++ = '\0';
        return start;
}

static bool is_digit(const Cursor *c)
{
        return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* -?(0|[1-9][0-9]*), at most 18 digits (no overflow), not followed by a fraction or exponent. */
static bool take_integer(Cursor *c, int64_t *ret)
{
        int64_t v = 0;
        size_t digits = 0;

        skip_space(c);
        bool negative = c->p < c->end && *c->p == '-';
        c->p += negative;
        if (!is_digit(c) || (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9'))
                return false;
        for (; is_digit(c) && digits < 18; c->p++, digits++)
                v = v * 10 + (*c->p - '0');
        if (is_digit(c) || (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')))
                return false;
        *ret = negative ? -v : v;
        return true;
}

/* The object's members into base: each a known one, once, of its type. */
static bool take_object(Cursor *c, const FlatMember *members, size_t n_members, void *base)
{
        uint32_t seen = 0;
        size_t next = 0;

        if (n_members == 0 || n_members > 32 || !take(c, '{'))
                return false;
        if (take(c, '}'))
                return true;
        do {
                /* The key as it stands (one with an escape is json-c's), looked for from the
                 * member after the last one: a writer keeps its order. */
                if (!take(c, '"'))
                        return false;
                const char *key = c->p;
                while (c->p < c->end && *c->p != '"' && *c->p != '\\')
                        c->p++;
                if (c->p >= c->end || *c->p != '"')
                        return false;
                size_t len = (size_t) (c->p++ - key), i = next, k = 0;
                for (; k < n_members; k++, i = (i + 1) % n_members)
                        if (strncmp(members[i].key, key, len) == 0 && members[i].key[len] == '\0')
                                break;
                if (k >= n_members || (seen & (1U << i)) || !take(c, ':'))
                        return false;
                seen |= 1U << i;
                next = (i + 1) % n_members;
                void *field = (char *) base + members[i].offset;
                if (members[i].integer) {
                        int64_t v;
                        if (!take_integer(c, &v))
                                return false;
                        memcpy(field, &v, sizeof(v));
                } else {
                        const char *v = take_string(c);
                        if (!v)
                                return false;
                        memcpy(field, &v, sizeof(v));
                }
        } while (take(c, ','));
        return take(c, '}');
}

int flat_reply_read(const char *message, size_t size, const char *key, const FlatMember *members,
        size_t n_members, void *base, FlatScratch *scratch, bool *ret_continues)
{
        bool continues = false, have_continues = false, have_parameters = false;

        if (size >= SIZE_MAX - 1)
                return 0;
        if (scratch->allocated < size + 1) {
                char *p = realloc(scratch->data, size + 1);
                if (!p)
                        return -ENOMEM;
                scratch->data = p;
                scratch->allocated = size + 1;
        }
        Cursor c = { .p = message, .end = message + size, .out = scratch->data };
        if (!take(&c, '{'))
                return 0;
        do {
                if (!have_parameters && take_word(&c, "\"parameters\"")) {
                        have_parameters = true;
                        /* "KEY" as the key, with its quotes */
                        if (!take(&c, ':') || !take(&c, '{') || !take(&c, '"'))
                                return 0;
                        size_t n = strlen(key);
                        if ((size_t) (c.end - c.p) < n + 1 || memcmp(c.p, key, n) != 0 || c.p[n] != '"')
                                return 0;
                        c.p += n + 1;
                        if (!take(&c, ':') || !take_object(&c, members, n_members, base) || !take(&c, '}'))
                                return 0;
                } else if (!have_continues && take_word(&c, "\"continues\"")) {
                        have_continues = true;
                        if (!take(&c, ':'))
                                return 0;
                        if (take_word(&c, "true"))
                                continues = true;
                        else if (!take_word(&c, "false"))
                                return 0;
                } else
                        return 0;
        } while (take(&c, ','));
        if (!take(&c, '}') || !have_parameters)
                return 0;
        skip_space(&c);
        if (c.p != c.end)
                return 0;
        *ret_continues = continues;
        return 1;
}
