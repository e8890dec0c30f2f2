/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a libFuzzer target over files given on the command line, without libFuzzer: the
 * regular test suite replays the corpus (and any crash found before) under ASan and valgrind. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
        printf("1..%d\n", argc - 1);
        for (int i = 1; i < argc; i++) {
                FILE *f = fopen(argv[i], "re");
                if (!f) {
                        printf("not ok %d - %s: cannot open\n", i, argv[i]);
                        return 1;
                }
                uint8_t *buf = NULL;
                size_t size = 0, k;
                uint8_t chunk[65536];
                while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
                        uint8_t *p = realloc(buf, size + k);
                        if (!p)
                                return 1;
                        buf = p;
                        for (size_t j = 0; j < k; j++)
                                buf[size + j] = chunk[j];
                        size += k;
                }
                fclose(f);
                LLVMFuzzerTestOneInput(buf, size);
                free(buf);
                printf("ok %d - %s\n", i, argv[i]);
        }
        return 0;
}
