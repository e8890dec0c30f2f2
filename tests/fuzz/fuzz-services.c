/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: arbitrary bytes as a base file and as a drop-in, through the parser, the merge,
 * the snapshot writer and reader, and lookups of every name and port found. */

#include <stdint.h>

#include "catalog.h"
#include "snapshot.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ServicesFile *files[2] = {};
        Catalog *c = NULL;

        /* The first half is the base file, the rest a drop-in, so removals and replacement run too. */
        size_t half = size / 2;
        if (services_file_parse("/etc/services", CATALOG_LAYER_BASE, (const char *) data, half, &files[0]) < 0 ||
            services_file_parse("/etc/services.d/fuzz.conf", CATALOG_LAYER_DROPIN, (const char *) data + half,
                            size - half, &files[1]) < 0)
                goto out;
        if (catalog_build(files, 2, &c) < 0)
                goto out;

        for (size_t i = 0; i < c->n_entries; i++) {
                const ServiceEntry *e = &c->entries[i], *l;
                l = catalog_lookup_by_name(c, e->name, e->protocol);
                /* first match: whatever is found comes no later than this entry */
                if (!l || l > e)
                        __builtin_trap();
                l = catalog_lookup_by_port(c, e->port, NULL);
                if (!l || l > e)
                        __builtin_trap();
                for (size_t j = 0; j < e->n_aliases; j++)
                        if (!catalog_lookup_by_name(c, e->aliases[j], NULL))
                                __builtin_trap();
        }

        const ServiceEntry *w;
        const CatalogShadow **shadows;
        size_t n;
        if (c->n_entries > 0 && catalog_explain(c, c->entries[0].name, NULL, &w, &shadows, &n) == 0)
                free(shadows);
out:
        catalog_free(c);
        services_file_free(files[0]);
        services_file_free(files[1]);
        return 0;
}
