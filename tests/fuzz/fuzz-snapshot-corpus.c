/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays the snapshot fuzz target without libFuzzer over a corpus made here: the images of the
 * services files given, every truncation of the smallest, every single-bit flip of its header and
 * a sample of its body, and seeded random byte corruptions of each, so the regular test suite
 * (and its valgrind and ASan runs) covers the reader against damaged images. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog.h"
#include "snapshot-build.h"
#include "snapshot.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int build_image(const char *path, void **ret, size_t *ret_size)
{
        ServicesFile *f = NULL;
        Catalog *c = NULL;
        int r;

        r = services_file_load("/", path, CATALOG_LAYER_BASE, &f);
        if (r < 0)
                return r;
        r = catalog_build(&f, 1, &c);
        services_file_free(f);
        if (r < 0)
                return r;
        r = snapshot_build(c, 1, ret, ret_size);
        catalog_free(c);
        return r;
}

int main(int argc, char *argv[])
{
        void *image[16];
        size_t size[16], smallest = 0;
        int n = argc - 1, test = 0;
        unsigned long inputs;

        if (n < 1 || n > 16) {
                fprintf(stderr, "usage: %s SERVICES-FILE...\n", argv[0]);
                return 2;
        }
        printf("1..%d\n", n + 3);
        for (int i = 0; i < n; i++) {
                int r = build_image(argv[i + 1], &image[i], &size[i]);
                if (r < 0) {
                        printf("not ok %d - %s: %s\n", ++test, argv[i + 1], strerror(-r));
                        return 1;
                }
                Snapshot s;
                if (snapshot_open(image[i], size[i], &s) < 0) {
                        printf("not ok %d - %s: the writer's image does not open\n", ++test, argv[i + 1]);
                        return 1;
                }
                LLVMFuzzerTestOneInput(image[i], size[i]);
                printf("ok %d - image of %s, %zu bytes\n", ++test, argv[i + 1], size[i]);
                if (size[i] < size[smallest])
                        smallest = i;
        }

        const uint8_t *small = image[smallest];
        size_t small_size = size[smallest];
        uint8_t *work = malloc(small_size);

        for (size_t l = 0; l < small_size; l++)
                LLVMFuzzerTestOneInput(small, l);
        printf("ok %d - %zu truncations\n", ++test, small_size);

        inputs = 0;
        for (size_t bit = 0; bit < small_size * 8;
                bit += bit < sizeof(SnapshotHeader) * 8 ? 1 : 7, inputs++) {
                memcpy(work, small, small_size);
                work[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                LLVMFuzzerTestOneInput(work, small_size);
        }
        printf("ok %d - %lu single-bit flips\n", ++test, inputs);

        /* A fixed seed: the same corpus on every run. */
        srandom(4242);
        inputs = 0;
        for (int i = 0; i < n; i++) {
                uint8_t *w = malloc(size[i]);
                for (unsigned round = 0; round < 200; round++, inputs++) {
                        memcpy(w, image[i], size[i]);
                        for (unsigned k = 0, m = 1 + random() % 8; k < m; k++) {
                                size_t at = (size_t) random() % size[i];
                                w[at] = (uint8_t) random();
                        }
                        LLVMFuzzerTestOneInput(w, size[i]);
                }
                free(w);
        }
        printf("ok %d - %lu random corruptions\n", ++test, inputs);

        free(work);
        for (int i = 0; i < n; i++)
                free(image[i]);
        return 0;
}
