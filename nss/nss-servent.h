/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copies one service into the caller's struct servent and buffer, as glibc's NSS interface
 * wants it: everything the struct points to lives in the caller's buffer. */
#pragma once

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

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
