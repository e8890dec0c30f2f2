/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a libFuzzer target over files given on the command line, without libFuzzer: the
 * regular test suite replays the corpus (and any crash found before) under ASan and valgrind.
 * A directory stands for every file in it, in name order, as libFuzzer takes a corpus dir. */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int add_path(char ***paths, size_t *n, const char *path)
{
        char **p = realloc(*paths, (*n + 1) * sizeof(char *));
        if (!p)
                return -1;
        *paths = p;
        p[*n] = strdup(path);
        if (!p[*n])
                return -1;
        (*n)++;
        return 0;
}

static int no_dot(const struct dirent *d)
{
        return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
        char **paths = NULL;
        size_t n = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                struct dirent **entries;
                int k;

                if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
                        if (add_path(&paths, &n, argv[i]) < 0)
                                return 1;
                        continue;
                }
                k = scandir(argv[i], &entries, no_dot, alphasort);
                if (k < 0) {
                        printf("Bail out! %s: cannot read the directory\n", argv[i]);
                        return 1;
                }
                for (int j = 0; j < k; j++) {
                        char *path = NULL;
                        if (asprintf(&path, "%s/%s", argv[i], entries[j]->d_name) < 0 ||
                                add_path(&paths, &n, path) < 0)
                                return 1;
                        free(path);
                        free(entries[j]);
                }
                free(entries);
        }

        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
                FILE *f = fopen(paths[i], "re");
                if (!f) {
                        printf("not ok %zu - %s: cannot open\n", i + 1, paths[i]);
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
                printf("ok %zu - %s\n", i + 1, paths[i]);
                free(paths[i]);
        }
        free(paths);
        return 0;
}
