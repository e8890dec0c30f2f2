/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writer of snapshot images (snapshot-build.c): the daemon's side, never the module's. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

struct Catalog;

/* Builds an image of c's entries (and its sources) in malloc'ed memory. */
int snapshot_build(const struct Catalog *c, uint64_t generation, void **ret, size_t *ret_size);
