/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mapping an image for reading, shared by the NSS module (the published file and the memfds of
 * GetSnapshot) and portctl who (the caller's catalog, to name ports): the rules that make the
 * mapping safe to read are the same for both, so they are in one place. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "snapshot-map.h"
#include "util.h"

int snapshot_map(int fd, const struct stat *st, uint64_t size, uint64_t size_max, bool sealed, SnapshotMap *ret)
{
        int seals;

        if (!S_ISREG(st->st_mode) || size < sizeof(SnapshotHeader) || size > size_max ||
                (uint64_t) st->st_size != size)
                return -EBADMSG;

        /* A memfd is mapped only when nobody can shrink it or write through a new mapping: a
         * shrink would turn our reads into SIGBUS, a write would change what was checked.  The
         * daemon's own earlier mapping can still write: it flips the superseded word, and it is
         * trusted to touch nothing else. */
        if (sealed) {
                seals = fcntl(fd, F_GET_SEALS);
                if (seals < 0 || !(seals & F_SEAL_SHRINK) || !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
                        return -EBADMSG;
        }

        /* Shared, not populated, and checked page by page as lookups first read them: a first
         * lookup costs the header and the few pages it reads, not a pass over the whole image
         * (969 KiB for the IANA registry).  The superseded word the daemon flips is seen through
         * this mapping. */
        _cleanup_free_ SnapshotChecks *checks = calloc(1, snapshot_checks_size(size));
        if (!checks)
                return -ENOMEM;
        void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        Snapshot s;
        if (snapshot_open_lazy(p, size, checks, &s) < 0) {
                (void) munmap(p, size);
                return -EBADMSG;
        }
        *ret = (SnapshotMap){
                .base = p,
                .size = size,
                .checks = TAKE_PTR(checks),
                .snapshot = s,
        };
        return 0;
}

void snapshot_map_done(SnapshotMap *m)
{
        if (m->base)
                (void) munmap(m->base, m->size);
        free(m->checks);
        *m = (SnapshotMap){};
}
