/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A catalog as the daemon serves it (CatalogImage): the catalog, held by reference so that a List
 * stream outlives a reload; its snapshot image in a sealed memfd; the lookup replies built from it.
 * The host's view and every scope's are one of these.  A leaf of the daemon, like sources.c. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon.h"
#include "log.h"
#include "snapshot-build.h"
#include "snapshot.h"

SnapshotImage *snapshot_image_free(SnapshotImage *s)
{
        if (!s)
                return NULL;
        if (s->map)
                (void) munmap(s->map, s->size);
        if (s->ro_fd != s->fd)
                safe_close(s->ro_fd);
        safe_close(s->fd);
        return mfree(s);
}

static void snapshot_image_freep(SnapshotImage **s)
{
        snapshot_image_free(*s);
}

/* Writes the image of c into a sealed memfd.  The seals are what lets clients map it without
 * trusting each other: nobody can grow, shrink or write it any more, except through the shared
 * mapping the daemon took before sealing, which it uses only to set the superseded word. */
int snapshot_image_new(const Catalog *c, uint64_t generation, SnapshotImage **ret)
{
        _cleanup_(snapshot_image_freep) SnapshotImage *s = NULL;
        _cleanup_free_ void *image = NULL;
        size_t size;
        int r;

        assert(c);
        assert(ret);

        r = snapshot_build(c, generation, &image, &size);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(SnapshotImage));
        if (!s)
                return -ENOMEM;
        s->fd = s->ro_fd = -1;
        s->generation = generation;

        s->fd = memfd_create("portd-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (s->fd < 0)
                return -errno;
        s->ro_fd = s->fd;
        if (ftruncate(s->fd, (off_t) size) < 0)
                return -errno;

        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        s->map = p;
        s->size = size;
        memcpy(s->map, image, size);

        if (fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
                return -errno;

        /* Clients get a file description of their own, opened read-only, so their lseek()s do not
         * move ours.  That alone does not stop writes: a client can open /proc/self/fd/N again
         * read-write (a memfd has mode 0777).  The seals above are what refuse every write,
         * mapping or truncation, whichever description it comes through. */
        char proc[64];
        (void) snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->fd);
        int fd = open(proc, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                s->ro_fd = fd;
        else
                log_debug_errno(
                        errno, "Cannot reopen the snapshot read-only, handing out the memfd itself: %m");

        *ret = TAKE_PTR(s);
        return 0;
}

CatalogHold *catalog_hold_new(Catalog *c)
{
        assert(c);

        CatalogHold *h = calloc(1, sizeof(CatalogHold));
        if (!h)
                return NULL;
        h->n_ref = 1;
        h->catalog = c;
        return h;
}

CatalogHold *catalog_hold_unref(CatalogHold *h)
{
        if (!h || --h->n_ref > 0)
                return NULL;
        catalog_free(h->catalog);
        return mfree(h);
}

void snapshot_image_supersede(SnapshotImage *s)
{
        /* Processes that mapped the image learn from this word, without a system call, that they
         * should ask for the new one (nss/nss-mapping.c). */
        if (s && s->map)
                __atomic_store_n(&((SnapshotHeader *) s->map)->superseded, 1u, __ATOMIC_RELEASE);
}

int catalog_image_set_catalog(CatalogImage *ci, Catalog *c)
{
        assert(ci);
        assert(c);
        assert(!ci->catalog && !ci->hold);

        ci->hold = catalog_hold_new(c);
        if (!ci->hold) {
                catalog_free(c);
                return -ENOMEM;
        }
        ci->catalog = c;
        return 0;
}

int catalog_image_write_snapshot(CatalogImage *ci, uint64_t generation)
{
        assert(ci);
        assert(ci->catalog);
        assert(!ci->snapshot);

        return snapshot_image_new(ci->catalog, generation, &ci->snapshot);
}

void catalog_image_flush_replies(CatalogImage *ci)
{
        assert(ci);

        for (size_t i = 0; i < ci->n_reply_cache; i++)
                if (ci->reply_cache[i])
                        json_object_put(ci->reply_cache[i]);
        ci->reply_cache = mfree(ci->reply_cache);
        ci->n_reply_cache = 0;
}

void catalog_image_done(CatalogImage *ci)
{
        assert(ci);

        catalog_image_flush_replies(ci);
        snapshot_image_supersede(ci->snapshot);
        snapshot_image_free(ci->snapshot);
        /* Freed now unless a List stream still enumerates it. */
        catalog_hold_unref(ci->hold);
        *ci = (CatalogImage){};
}
