/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The little JSON the NSS module speaks, without a JSON library in every process that resolves a
 * service: a strict, bounded, non-recursive parser of one message into a flat token array, and
 * the string escaping its calls need. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Containers nest at most this deep; a reply of io.portd.Services needs 4. */
#define NSS_JSON_DEPTH_MAX 32

typedef enum NssJsonType {
        NSS_JSON_NULL,
        NSS_JSON_FALSE,
        NSS_JSON_TRUE,
        NSS_JSON_INTEGER, /* fits an int64_t: .integer */
        NSS_JSON_NUMBER,  /* any other valid number (fraction, exponent, too large): no value */
        NSS_JSON_STRING,
        NSS_JSON_ARRAY,
        NSS_JSON_OBJECT,
} NssJsonType;

/* One value, in document order.  A container's members follow it directly (an object's as key,
 * value, key, value ...), so the value after this one at the same level is at index + size. */
typedef struct NssJsonToken {
        NssJsonType type;
        uint32_t size;      /* tokens of this value, itself and everything inside included */
        uint32_t count;     /* ARRAY: elements; OBJECT: members */
        const char *string; /* STRING (also keys): decoded UTF-8, NUL-terminated, no NUL inside */
        int64_t integer;
} NssJsonToken;

typedef struct NssJson {
        NssJsonToken *tokens; /* tokens[0] is the document */
        size_t n_tokens;
        size_t allocated;
} NssJson;

/* Parses exactly n bytes holding one JSON value (RFC 8259; whitespace around it allowed):
 * UTF-8 checked, \uXXXX escapes and surrogate pairs decoded, \u0000 and lone surrogates
 * refused, at most NSS_JSON_DEPTH_MAX levels.  The strings are decoded in place, so text is
 * modified and must outlive ret.  0, -EBADMSG for anything invalid, or -ENOMEM. */
int nss_json_parse(char *text, size_t n, NssJson *ret);
void nss_json_done(NssJson *j);

/* The index of key's value in the object at index object: -ENOENT when absent, -EBADMSG when
 * object is not an object or has key twice (which of two values to trust?). */
int nss_json_object_get(const NssJson *j, size_t object, const char *key);

/* Index of the element after the value at index i in the same container. */
static inline size_t nss_json_next(const NssJson *j, size_t i)
{
        return i + j->tokens[i].size;
}

/* A growing output buffer for a message; the first failure sticks. */
typedef struct NssJsonWriter {
        char *data;
        size_t size, allocated;
        int error;
} NssJsonWriter;

/* Appends s as it is (JSON the caller wrote). */
void nss_json_write_raw(NssJsonWriter *w, const char *s);
/* Appends s as a JSON string, quoted and escaped; -EINVAL (sticky) if s is not valid UTF-8. */
void nss_json_write_string(NssJsonWriter *w, const char *s);
void nss_json_write_integer(NssJsonWriter *w, int64_t v);
/* Appends the terminating NUL and hands the message over (ret_size counts the NUL); the error
 * if any append failed.  The writer is empty afterwards either way. */
int nss_json_write_finish(NssJsonWriter *w, char **ret, size_t *ret_size);
