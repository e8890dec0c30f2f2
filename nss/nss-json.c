/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A strict JSON reader and writer small enough to live in the NSS module: the module must not
 * load a JSON library into every process that resolves a service (its symbols could be
 * interposed by the application's, and loading it costs the first lookup). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nss-json.h"
#include "utf8.h"
#include "util.h"

static int hex4(const char *p, const char *end, uint32_t *ret)
{
        uint32_t v = 0;

        if (end - p < 4)
                return -EBADMSG;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t) (c - 'A' + 10);
                else
                        return -EBADMSG;
        }
        *ret = v;
        return 0;
}

static char *utf8_put(char *w, uint32_t cp)
{
        if (cp < 0x80)
                *w++ = (char) cp;
        else if (cp < 0x800) {
                *w++ = (char) (0xC0 | (cp >> 6));
                *w++ = (char) (0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
                *w++ = (char) (0xE0 | (cp >> 12));
                *w++ = (char) (0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char) (0x80 | (cp & 0x3F));
        } else {
                *w++ = (char) (0xF0 | (cp >> 18));
                *w++ = (char) (0x80 | ((cp >> 12) & 0x3F));
                *w++ = (char) (0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char) (0x80 | (cp & 0x3F));
        }
        return w;
}

/* *pp at the opening quote.  The decoded string is written over the encoded one: every escape is
 * at least as long as what it stands for, and the closing quote makes room for the NUL, so the
 * write position never passes the read position. */
static int parse_string(char **pp, const char *end, const char **ret)
{
        char *r = *pp + 1, *w = r, *start = r;

        for (;;) {
                if (r >= end)
                        return -EBADMSG;
                unsigned char c = (unsigned char) *r;
                if (c == '"') {
                        *w = 0;
                        *pp = r + 1;
                        *ret = start;
                        return 0;
                }
                if (c < 0x20)
                        return -EBADMSG;
                if (c >= 0x80) {
                        size_t k = utf8_sequence_length(r, (size_t) (end - r));
                        if (k == 0)
                                return -EBADMSG;
                        memmove(w, r, k);
                        w += k;
                        r += k;
                        continue;
                }
                if (c != '\\') {
                        *w++ = *r++;
                        continue;
                }
                if (++r >= end)
                        return -EBADMSG;
                switch (*r) {
                case '"':
                case '\\':
                case '/':
                        *w++ = *r++;
                        continue;
                case 'b':
                        *w++ = '\b';
                        r++;
                        continue;
                case 'f':
                        *w++ = '\f';
                        r++;
                        continue;
                case 'n':
                        *w++ = '\n';
                        r++;
                        continue;
                case 'r':
                        *w++ = '\r';
                        r++;
                        continue;
                case 't':
                        *w++ = '\t';
                        r++;
                        continue;
                case 'u':
                        break;
                default:
                        return -EBADMSG;
                }

                uint32_t cp, low;
                if (hex4(r + 1, end, &cp) < 0)
                        return -EBADMSG;
                r += 5;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                        return -EBADMSG; /* a low surrogate first */
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (end - r < 2 || r[0] != '\\' || r[1] != 'u' || hex4(r + 2, end, &low) < 0 ||
                                low < 0xDC00 || low > 0xDFFF)
                                return -EBADMSG; /* a high surrogate alone */
                        r += 6;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                if (cp == 0)
                        return -EBADMSG; /* would cut the C string short */
                w = utf8_put(w, cp);
        }
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: an INTEGER when it has neither fraction nor
 * exponent and fits, else a NUMBER. */
static int parse_number(char **pp, const char *end, NssJsonToken *t)
{
        char *p = *pp;
        bool negative = false, integer = true, overflow = false;
        uint64_t v = 0;

        if (*p == '-') {
                negative = true;
                p++;
        }
        if (p >= end || *p < '0' || *p > '9')
                return -EBADMSG;
        if (*p == '0')
                p++;
        else
                for (; p < end && *p >= '0' && *p <= '9'; p++) {
                        unsigned d = (unsigned) (*p - '0');
                        if (v > (UINT64_MAX - d) / 10)
                                overflow = true;
                        else
                                v = v * 10 + d;
                }
        if (p < end && *p == '.') {
                integer = false;
                p++;
                if (p >= end || *p < '0' || *p > '9')
                        return -EBADMSG;
                while (p < end && *p >= '0' && *p <= '9')
                        p++;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                integer = false;
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                if (p >= end || *p < '0' || *p > '9')
                        return -EBADMSG;
                while (p < end && *p >= '0' && *p <= '9')
                        p++;
        }
        if (integer && !overflow && (negative ? v <= (uint64_t) INT64_MAX + 1 : v <= (uint64_t) INT64_MAX)) {
                t->type = NSS_JSON_INTEGER;
                t->integer = negative ? (int64_t) (0 - v) : (int64_t) v;
        } else
                t->type = NSS_JSON_NUMBER;
        *pp = p;
        return 0;
}

static int literal(char **pp, const char *end, const char *word)
{
        size_t n = string_length(word);

        if ((size_t) (end - *pp) < n || memcmp(*pp, word, n) != 0)
                return -EBADMSG;
        *pp += n;
        return 0;
}

static NssJsonToken *token_add(NssJson *j, NssJsonType type)
{
        if (j->n_tokens >= UINT32_MAX)
                return NULL;
        if (j->n_tokens == j->allocated) {
                size_t n = j->allocated ? j->allocated * 2 : 32;
                NssJsonToken *t = realloc(j->tokens, n * sizeof(*t));
                if (!t)
                        return NULL;
                j->tokens = t;
                j->allocated = n;
        }
        NssJsonToken *t = &j->tokens[j->n_tokens++];
        *t = (NssJsonToken){ .type = type, .size = 1 };
        return t;
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

typedef enum State {
        STATE_VALUE,        /* a value must come */
        STATE_ARRAY_FIRST,  /* just after '[': a value or ']' */
        STATE_KEY,          /* just after ',' in an object: a key */
        STATE_OBJECT_FIRST, /* just after '{': a key or '}' */
        STATE_AFTER,        /* after a value: ',' or the container's end (or the document's) */
} State;

static int parse(char *text, size_t n, NssJson *j)
{
        char *p = text;
        const char *end = text + n;
        size_t stack[NSS_JSON_DEPTH_MAX];
        unsigned depth = 0;
        State state = STATE_VALUE;
        NssJsonToken *t;
        int r;

        for (;;) {
                while (p < end && is_space(*p))
                        p++;

                if (state == STATE_AFTER) {
                        if (depth == 0)
                                return p == end ? 0 : -EBADMSG;
                        if (p >= end)
                                return -EBADMSG;
                        NssJsonToken *top = &j->tokens[stack[depth - 1]];
                        char close = top->type == NSS_JSON_ARRAY ? ']' : '}';
                        if (*p == ',') {
                                p++;
                                state = top->type == NSS_JSON_ARRAY ? STATE_VALUE : STATE_KEY;
                                continue;
                        }
                        if (*p != close)
                                return -EBADMSG;
                        p++;
                        top->size = (uint32_t) (j->n_tokens - stack[--depth]);
                        continue;
                }

                if (p >= end)
                        return -EBADMSG;

                if (state == STATE_OBJECT_FIRST || state == STATE_KEY) {
                        if (state == STATE_OBJECT_FIRST && *p == '}') {
                                p++;
                                state = STATE_AFTER;
                                j->tokens[stack[depth - 1]].size = (uint32_t) (j->n_tokens - stack[depth - 1]);
                                depth--;
                                continue;
                        }
                        if (*p != '"')
                                return -EBADMSG;
                        j->tokens[stack[depth - 1]].count++;
                        t = token_add(j, NSS_JSON_STRING);
                        if (!t)
                                return -ENOMEM;
                        r = parse_string(&p, end, &t->string);
                        if (r < 0)
                                return r;
                        while (p < end && is_space(*p))
                                p++;
                        if (p >= end || *p != ':')
                                return -EBADMSG;
                        p++;
                        state = STATE_VALUE;
                        continue;
                }

                if (state == STATE_ARRAY_FIRST && *p == ']') {
                        p++;
                        state = STATE_AFTER;
                        j->tokens[stack[depth - 1]].size = (uint32_t) (j->n_tokens - stack[depth - 1]);
                        depth--;
                        continue;
                }

                /* A value. */
                if (depth > 0 && j->tokens[stack[depth - 1]].type == NSS_JSON_ARRAY)
                        j->tokens[stack[depth - 1]].count++;
                switch (*p) {
                case '{':
                case '[':
                        if (depth >= NSS_JSON_DEPTH_MAX)
                                return -EBADMSG;
                        t = token_add(j, *p == '{' ? NSS_JSON_OBJECT : NSS_JSON_ARRAY);
                        if (!t)
                                return -ENOMEM;
                        state = *p == '{' ? STATE_OBJECT_FIRST : STATE_ARRAY_FIRST;
                        stack[depth++] = j->n_tokens - 1;
                        p++;
                        continue;
                case '"':
                        t = token_add(j, NSS_JSON_STRING);
                        if (!t)
                                return -ENOMEM;
                        r = parse_string(&p, end, &t->string);
                        break;
                case 't':
                        r = token_add(j, NSS_JSON_TRUE) ? literal(&p, end, "true") : -ENOMEM;
                        break;
                case 'f':
                        r = token_add(j, NSS_JSON_FALSE) ? literal(&p, end, "false") : -ENOMEM;
                        break;
                case 'n':
                        r = token_add(j, NSS_JSON_NULL) ? literal(&p, end, "null") : -ENOMEM;
                        break;
                default:
                        t = token_add(j, NSS_JSON_NUMBER);
                        r = t ? parse_number(&p, end, t) : -ENOMEM;
                }
                if (r < 0)
                        return r;
                state = STATE_AFTER;
        }
}

int nss_json_parse(char *text, size_t n, NssJson *ret)
{
        NssJson j = {};
        int r;

        r = parse(text, n, &j);
        if (r < 0) {
                nss_json_done(&j);
                return r;
        }
        *ret = j;
        return 0;
}

void nss_json_done(NssJson *j)
{
        free(j->tokens);
        *j = (NssJson){};
}

int nss_json_object_get(const NssJson *j, size_t object, const char *key)
{
        const NssJsonToken *o = &j->tokens[object];
        int found = -ENOENT;

        if (o->type != NSS_JSON_OBJECT)
                return -EBADMSG;
        size_t i = object + 1;
        for (uint32_t m = 0; m < o->count; m++) {
                size_t value = i + 1;
                if (strcmp(j->tokens[i].string, key) == 0) {
                        if (found >= 0)
                                return -EBADMSG;
                        found = (int) value;
                }
                i = nss_json_next(j, value);
        }
        return found;
}

static void writer_append(NssJsonWriter *w, const char *s, size_t n)
{
        if (w->error < 0)
                return;
        if (w->allocated - w->size < n + 1) {
                size_t want = w->size + n + 1, a = w->allocated ? w->allocated : 128;
                while (a < want)
                        a *= 2;
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
}

void nss_json_write_raw(NssJsonWriter *w, const char *s)
{
        writer_append(w, s, string_length(s));
}

void nss_json_write_string(NssJsonWriter *w, const char *s)
{
        size_t n = string_length(s);

        if (!utf8_is_valid(s, n)) {
                if (w->error >= 0)
                        w->error = -EINVAL;
                return;
        }
        writer_append(w, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                char esc[8];
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) c;
                        writer_append(w, esc, 2);
                } else if (c < 0x20) {
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        writer_append(w, esc, 6);
                } else
                        writer_append(w, s + i, 1);
        }
        writer_append(w, "\"", 1);
}

void nss_json_write_integer(NssJsonWriter *w, int64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%lld", (long long) v);
        nss_json_write_raw(w, buf);
}

int nss_json_write_finish(NssJsonWriter *w, char **ret, size_t *ret_size)
{
        int r;

        writer_append(w, "", 1);
        r = w->error;
        if (r >= 0) {
                *ret = w->data;
                *ret_size = w->size;
        } else
                free(w->data);
        *w = (NssJsonWriter){};
        return r;
}
