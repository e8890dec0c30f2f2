/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copies one service into the caller's struct servent and buffer, as glibc's NSS interface
 * wants it: everything the struct points to lives in the caller's buffer. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Returns alias i of an entry and its strlen() in *ret_len, NULL when the source holding it is
 * inconsistent. */
typedef const char *(*ServentAliasFunc)(const void *userdata, size_t i, size_t *ret_len);

/* Fills *result with the entry, its strings and its alias array placed in buffer.  Returns 0,
 * -ERANGE when buffer is too small (result is left untouched, so the caller may retry with a
 * larger one), or -EBADMSG when alias() returned NULL. port is in host byte order; s_port is set
 * in network byte order. */
int servent_fill(struct servent *result, char *buffer, size_t buflen, const char *name, const char *protocol,
        uint16_t port, size_t n_aliases, ServentAliasFunc alias, const void *userdata);
/* The same with the lengths of name and protocol (their strlen()) known. */
int servent_fill_len(struct servent *result, char *buffer, size_t buflen, const char *name, size_t name_len,
        const char *protocol, size_t protocol_len, uint16_t port, size_t n_aliases, ServentAliasFunc alias,
        const void *userdata);

/* n bytes (at least one), up to 16 as two overlapping words from each end, without a call:
 * names and protocols are short. */
static inline void servent_copy_bytes(char *d, const char *s, size_t n)
{
        if (n >= 8 && n <= 16) {
                uint64_t a, b;
                memcpy(&a, s, 8);
                memcpy(&b, s + n - 8, 8);
                memcpy(d, &a, 8);
                memcpy(d + n - 8, &b, 8);
        } else if (n >= 4 && n < 8) {
                uint32_t a, b;
                memcpy(&a, s, 4);
                memcpy(&b, s + n - 4, 4);
                memcpy(d, &a, 4);
                memcpy(d + n - 4, &b, 4);
        } else if (n < 4) {
                d[0] = s[0];
                d[n / 2] = s[n / 2];
                d[n - 1] = s[n - 1];
        } else
                memcpy(d, s, n);
}

/* servent_fill_len() of an entry without aliases (most of them) into a buffer that is not NULL:
 * one bound check, and inline, so that a lookup's answer goes into the caller's buffer without
 * a call that passes eleven arguments.  The layout servent_fill_len() makes: a NULL pointer, the
 * name, the protocol.  0 or -ERANGE. */
static inline int servent_fill_plain(struct servent *result, char *buffer, size_t buflen, const char *name,
        size_t name_len, const char *protocol, size_t protocol_len, uint16_t port)
{
        size_t pad = (alignof(char *) - (uintptr_t) buffer % alignof(char *)) % alignof(char *);

        if (pad > buflen || buflen - pad < sizeof(char *) + name_len + 1 + protocol_len + 1)
                return -ERANGE;

        char **aliases = (char **) (void *) (buffer + pad);
        char *n = (char *) (aliases + 1), *p = n + name_len + 1;

        aliases[0] = NULL;
        /* The NULs are written, not copied: name and protocol may be in a shared mapping whose
         * bytes can change after the reader checked them (the published snapshot file), and
         * each copy must end where its length says whatever the source holds now. */
        if (name_len > 0)
                servent_copy_bytes(n, name, name_len);
        n[name_len] = '\0';
        if (protocol_len > 0)
                servent_copy_bytes(p, protocol, protocol_len);
        p[protocol_len] = '\0';
        *result = (struct servent){
                .s_name = n,
                .s_aliases = aliases,
                .s_port = (int) htons(port),
                .s_proto = p,
        };
        return 0;
}
