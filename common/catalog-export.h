/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The merged catalog written back as a services(5) file, and its digest: the SHA-256 of that
 * text, so that two hosts that serve the same entries in the same order agree on it whatever
 * files the entries came from. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "catalog.h"

/* One line as netbase writes them: "name<TAB>port/protocol[<TAB>alias alias...]\n".  glibc's
 * files backend reads it back as the same entry. */
int service_line_write(FILE *f, const char *name, uint16_t port, const char *protocol,
        const char *const *aliases, size_t n_aliases);

/* Every entry of c in the merged (getservent) order, one line each, nothing else. */
int catalog_export(const Catalog *c, char **ret, size_t *ret_size);

/* The SHA-256 of catalog_export()'s text in lower-case hex: what Status reports as digest. */
int catalog_digest(const Catalog *c, char ret[CATALOG_DIGEST_SIZE]);
