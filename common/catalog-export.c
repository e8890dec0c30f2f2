/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The catalog as a services(5) file (portctl list --format services) and the digest Status
 * reports, computed over that very text: `portctl list --format services | sha256sum` gives it
 * again, on any host, from any file layout that merges to the same entries. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "catalog-export.h"
#include "sha256.h"
#include "util.h"

int service_line_write(FILE *f, const char *name, uint16_t port, const char *protocol,
        const char *const *aliases, size_t n_aliases)
{
        assert(f);
        assert(name);

        /* Always "port/": an entry whose line named no protocol then reads back with an empty
         * protocol, as it was parsed ("80/" and "80" both give one). */
        if (fprintf(f, "%s\t%u/%s", name, (unsigned) port, protocol) < 0)
                return -EIO;
        for (size_t i = 0; i < n_aliases; i++)
                if (fputc(i == 0 ? '\t' : ' ', f) == EOF || fputs(aliases[i], f) == EOF)
                        return -EIO;
        if (fputc('\n', f) == EOF)
                return -EIO;
        return 0;
}

int catalog_export(const Catalog *c, char **ret, size_t *ret_size)
{
        char *buf = NULL;
        size_t size = 0;
        int r = 0;

        assert(c);
        assert(ret);
        assert(ret_size);

        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_entries && r >= 0; i++) {
                const ServiceEntry *e = &c->entries[i];
                r = service_line_write(
                        f, e->name, e->port, e->protocol, (const char *const *) e->aliases, e->n_aliases);
        }
        /* open_memstream fails only for want of memory. */
        if (fclose(f) != 0 || r < 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

int catalog_digest(const Catalog *c, char ret[CATALOG_DIGEST_SIZE])
{
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        assert(c);

        r = catalog_export(c, &text, &size);
        if (r < 0)
                return r;
        sha256_hex(text, size, ret);
        return 0;
}
