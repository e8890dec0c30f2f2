/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "snapshot.h"

/* An image mapped from a descriptor, read-only and shared, its pages checked as they are first
 * read (snapshot_open_lazy()). */
typedef struct SnapshotMap {
        void *base;
        size_t size;
        SnapshotChecks *checks;
        Snapshot snapshot;
} SnapshotMap;

/* Maps the image of size bytes that fd holds; st is fd's fstat().  It must be a regular file of
 * exactly that size, at least a header and at most size_max; with sealed, a memfd sealed against
 * shrinking and against writes through new mappings.  -EBADMSG for anything else or an image that
 * does not open; -ENOMEM, or mmap()'s error.  Undone by snapshot_map_done(). */
int snapshot_map(int fd, const struct stat *st, uint64_t size, uint64_t size_max, bool sealed, SnapshotMap *ret);
void snapshot_map_done(SnapshotMap *m);
