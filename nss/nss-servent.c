/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A bump allocator over the caller's buffer: every piece of a struct servent is carved from it
 * in order, so "does not fit" is one -ERANGE path, whatever piece ran out. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "nss-servent.h"
#include "util.h"

typedef struct BumpBuffer {
        char *next;
        size_t left;
} BumpBuffer;

static inline __attribute__((always_inline)) void *bump_alloc(BumpBuffer *b, size_t size, size_t align)
{
        size_t pad = (align - (uintptr_t) b->next % align) % align;

        if (pad > b->left || size > b->left - pad)
                return NULL;
        void *p = b->next + pad;
        b->next += pad + size;
        b->left -= pad + size;
        return p;
}

/* s and a NUL: len is s's length as its source states it.  The NUL is written here, not copied:
 * s may be in a shared mapping whose bytes can change after the reader checked them (the
 * published snapshot file), and the copy must end where len says whatever the source holds now. */
static inline __attribute__((always_inline)) char *bump_copy(BumpBuffer *b, const char *s, size_t len)
{
        char *p = bump_alloc(b, len + 1, 1);

        if (p) {
                if (len > 0)
                        servent_copy_bytes(p, s, len);
                p[len] = '\0';
        }
        return p;
}

int servent_fill(struct servent *result, char *buffer, size_t buflen, const char *name, const char *protocol,
        uint16_t port, size_t n_aliases, ServentAliasFunc alias, const void *userdata)
{
        return servent_fill_len(result, buffer, buflen, name, string_length(name), protocol, string_length(protocol), port,
                n_aliases, alias, userdata);
}

int servent_fill_len(struct servent *result, char *buffer, size_t buflen, const char *name, size_t name_len,
        const char *protocol, size_t protocol_len, uint16_t port, size_t n_aliases, ServentAliasFunc alias,
        const void *userdata)
{
        BumpBuffer b = { .next = buffer, .left = buffer ? buflen : 0 };
        char **aliases;

        if (n_aliases == 0 && buffer)
                return servent_fill_plain(result, buffer, buflen, name, name_len, protocol, protocol_len, port);

        /* The pointer array first: it is the only piece that needs alignment, and placing it
         * before the strings wastes at most one alignment's worth of the buffer. */
        if (n_aliases >= b.left / sizeof(char *))
                return -ERANGE;
        aliases = bump_alloc(&b, (n_aliases + 1) * sizeof(char *), alignof(char *));
        if (!aliases)
                return -ERANGE;

        for (size_t i = 0; i < n_aliases; i++) {
                size_t len;
                const char *a = alias(userdata, i, &len);
                if (!a)
                        return -EBADMSG;
                aliases[i] = bump_copy(&b, a, len);
                if (!aliases[i])
                        return -ERANGE;
        }
        aliases[n_aliases] = NULL;

        char *n = bump_copy(&b, name, name_len), *p = bump_copy(&b, protocol, protocol_len);
        if (!n || !p)
                return -ERANGE;

        *result = (struct servent){
                .s_name = n,
                .s_aliases = aliases,
                .s_port = (int) htons(port),
                .s_proto = p,
        };
        return 0;
}
