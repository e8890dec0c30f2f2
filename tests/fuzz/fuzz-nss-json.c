/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for the NSS module's own JSON reader and writer (nss/nss-json.c): the input is cut
 * at NULs into messages as the module's framing cuts a stream; each one that parses must give a
 * consistent token tree, survive being written back and parsed again unchanged, and go through
 * the Service extraction the module applies to replies. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss-client.h"
#include "nss-json.h"
#include "utf8.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks the subtree at i and returns the index after it. */
static size_t check_tree(const NssJson *j, size_t i, unsigned depth)
{
        const NssJsonToken *t = &j->tokens[i];

        if (depth > NSS_JSON_DEPTH_MAX || t->size < 1 || i + t->size > j->n_tokens)
                abort();
        switch (t->type) {
        case NSS_JSON_STRING:
                if (!t->string || !utf8_is_valid(t->string, strlen(t->string)) || t->size != 1)
                        abort();
                return i + 1;
        case NSS_JSON_ARRAY:
        case NSS_JSON_OBJECT: {
                size_t k = i + 1, per = t->type == NSS_JSON_OBJECT ? 2 : 1;
                for (uint32_t m = 0; m < t->count * per; m++) {
                        if (k >= i + t->size)
                                abort();
                        if (per == 2 && m % 2 == 0 && j->tokens[k].type != NSS_JSON_STRING)
                                abort();
                        k = check_tree(j, k, depth + 1);
                }
                if (k != i + t->size)
                        abort();
                return k;
        }
        default:
                if (t->size != 1)
                        abort();
                return i + 1;
        }
}

/* Writes the subtree at i back as JSON (a NUMBER, whose text the tokens do not keep, as 0). */
static size_t write_tree(const NssJson *j, size_t i, NssJsonWriter *w)
{
        const NssJsonToken *t = &j->tokens[i];

        switch (t->type) {
        case NSS_JSON_NULL:
                nss_json_write_raw(w, "null");
                return i + 1;
        case NSS_JSON_FALSE:
                nss_json_write_raw(w, "false");
                return i + 1;
        case NSS_JSON_TRUE:
                nss_json_write_raw(w, "true");
                return i + 1;
        case NSS_JSON_INTEGER:
                nss_json_write_integer(w, t->integer);
                return i + 1;
        case NSS_JSON_NUMBER:
                nss_json_write_raw(w, "0");
                return i + 1;
        case NSS_JSON_STRING:
                nss_json_write_string(w, t->string);
                return i + 1;
        default:
                break;
        }
        bool object = t->type == NSS_JSON_OBJECT;
        size_t k = i + 1;
        nss_json_write_raw(w, object ? "{" : "[");
        for (uint32_t m = 0; m < t->count; m++) {
                if (m > 0)
                        nss_json_write_raw(w, ",");
                if (object) {
                        k = write_tree(j, k, w);
                        nss_json_write_raw(w, ":");
                }
                k = write_tree(j, k, w);
        }
        nss_json_write_raw(w, object ? "}" : "]");
        return k;
}

static void check_same(const NssJson *a, const NssJson *b)
{
        if (a->n_tokens != b->n_tokens)
                abort();
        for (size_t i = 0; i < a->n_tokens; i++) {
                const NssJsonToken *x = &a->tokens[i], *y = &b->tokens[i];
                NssJsonType want = x->type == NSS_JSON_NUMBER ? NSS_JSON_INTEGER : x->type;
                if (y->type != want || x->size != y->size || x->count != y->count)
                        abort();
                if (x->type == NSS_JSON_STRING && !streq(x->string, y->string))
                        abort();
                if (x->type == NSS_JSON_INTEGER && x->integer != y->integer)
                        abort();
        }
}

static void one_message(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);
        NssJson j, again;

        if (!text)
                return;
        memcpy(text, data, size);
        text[size] = 0;
        if (nss_json_parse(text, size, &j) < 0) {
                free(text);
                return;
        }
        if (check_tree(&j, 0, 0) != j.n_tokens)
                abort();

        NssJsonWriter w = {};
        char *out;
        size_t n;
        write_tree(&j, 0, &w);
        if (nss_json_write_finish(&w, &out, &n) < 0)
                abort(); /* every parsed string is valid UTF-8, so it can be written */
        if (nss_json_parse(out, n - 1, &again) < 0)
                abort();
        check_same(&j, &again);
        nss_json_done(&again);
        free(out);

        /* What the module does with a reply: its Service, wherever one may be. */
        NssService *service;
        if (nss_service_from_json(&j, 0, &service) >= 0) {
                if (!service->name || !service->protocol || service->aliases[service->n_aliases])
                        abort();
                free(service);
        }
        if (j.tokens[0].type == NSS_JSON_OBJECT) {
                int p = nss_json_object_get(&j, 0, "parameters");
                int s = p >= 0 && j.tokens[p].type == NSS_JSON_OBJECT ? nss_json_object_get(&j, p, "service") : -1;
                if (s >= 0 && nss_service_from_json(&j, s, &service) >= 0)
                        free(service);
        }
        nss_json_done(&j);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Bounded as the module bounds a message. */
        if (size > NSS_CLIENT_MESSAGE_MAX)
                return 0;
        if (size == 0) {
                one_message((const uint8_t *) "", 0);
                return 0;
        }
        for (size_t start = 0; start <= size;) {
                const uint8_t *nul = memchr(data + start, 0, size - start);
                size_t end = nul ? (size_t) (nul - data) : size;
                one_message(data + start, end - start);
                start = end + 1;
        }
        return 0;
}
