/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's snapshot as this process maps it: fetched once, shared by every thread, replaced
 * when the daemon marks it superseded, unmapped once no thread holds it any more (a thread holds
 * the image of its last lookup until its next one or its exit). */
#pragma once

#include <stdint.h>

#include "nss-client.h"
#include "snapshot.h"

typedef struct SnapshotMapping SnapshotMapping;

/* A reference to the current, validated snapshot, fetching or refreshing it first if needed.
 * Returns 0 with *ret set, 0 with *ret NULL when there is no usable snapshot (the caller asks
 * the daemon with a varlink call instead), or a negative errno when the daemon cannot be
 * reached (the caller answers UNAVAIL at once).  Release with mapping_unref(). */
int mapping_acquire(SnapshotMapping **ret);
void mapping_unref(SnapshotMapping *m);

/* The same for a lookup, as the calling thread's: *ret stays valid until the thread's next call
 * of this function or its exit (in a process with one thread: until the next call of this
 * function by any thread), and is not released.  The thread keeps its reader on the mapping
 * between lookups, so that a lookup adds and removes none (see nss-mapping.c). */
int mapping_acquire_thread(const Snapshot **ret);
const Snapshot *mapping_snapshot(const SnapshotMapping *m);

/* Maps size bytes of fd read-only, validates them and makes them the current snapshot,
 * retiring the previous one.  -EBADMSG for anything but a sealed memfd holding a valid image.
 * The fd is not consumed. */
int mapping_install_fd(int fd, uint64_t size);

/* Retires the current snapshot, if any: later lookups fetch a new one. */
void mapping_drop(void);

#ifdef NSS_TEST_HOOKS
/* Only in the implementation library the tests link (never in libnss_portd.so.2): called by the
 * thread that unmaps a retired image between taking it and munmap(), to widen that window. */
extern void (*mapping_test_unmap_hook)(void);
#endif
