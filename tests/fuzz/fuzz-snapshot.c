/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: arbitrary bytes as a snapshot image, read the way the NSS module reads a mapped
 * one: opened, then every entry, alias and lookup it leads to, copied into a servent.  Each input
 * runs three times: as it is (opened whole and lazily); with its checksums made right, so that
 * mutations get past them into the structural checks behind; and opened lazily with every page
 * taken as already checked and then every byte of the image, header included, changed under the
 * reader, as bytes can change under a shared mapping after they were checked: the reader of an
 * unchecksummed image, which must stay inside it on the bounds it took when it opened it. */

#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>

#include "nss-servent.h"
#include "snapshot.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *image_alias(const void *userdata, size_t i, size_t *ret_len)
{
        const void *const *p = userdata;
        uint32_t len;
        const char *a = snapshot_entry_alias_len(p[0], p[1], (uint32_t) i, &len);

        *ret_len = len;
        return a;
}

static void copy_out(const Snapshot *s, const SnapshotEntry *e)
{
        static char buffer[4096];
        const void *userdata[2] = { s, e };
        struct servent se;

        if (servent_fill_len(&se, buffer, sizeof(buffer), e->name, e->name_len, e->protocol, e->protocol_len,
                    e->port, e->n_aliases, image_alias, userdata) == 0 &&
                strlen(se.s_name) + strlen(se.s_proto) >= sizeof(buffer))
                abort();
}

static void exercise(const Snapshot *s)
{
        static const char *const probes[] = { "http", "", "tcp", "a" };
        SnapshotEntry e, l;

        /* Bounded, so that a hostile count cannot make one input run for minutes. */
        uint32_t n = MIN(snapshot_n_entries(s), 2048u);
        for (uint32_t i = 0; i < n; i++) {
                if (snapshot_entry(s, i, &e) < 0)
                        continue;
                copy_out(s, &e);
                for (uint32_t a = 0; a < MIN(e.n_aliases, 16u); a++) {
                        const char *alias = snapshot_entry_alias(s, &e, a);
                        if (alias && snapshot_lookup_name(s, alias, NULL, &l) == 0)
                                copy_out(s, &l);
                }
                if (snapshot_lookup_name(s, e.name, e.protocol, &l) == 0)
                        copy_out(s, &l);
                if (snapshot_lookup_name(s, e.name, NULL, &l) == 0)
                        copy_out(s, &l);
                if (snapshot_lookup_port(s, e.port, e.protocol, &l) == 0)
                        copy_out(s, &l);
                if (snapshot_lookup_port(s, e.port, NULL, &l) == 0)
                        copy_out(s, &l);
        }
        for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
                (void) snapshot_lookup_name(s, probes[i], NULL, &l);
                (void) snapshot_lookup_name(s, probes[i], "tcp", &l);
        }
        (void) snapshot_lookup_port(s, 80, NULL, &l);
        (void) snapshot_lookup_port(s, 0, "udp", &l);
        (void) snapshot_entry(s, UINT32_MAX, &l);
        (void) snapshot_is_superseded(s);
}

static void open_and_exercise(const void *base, size_t size)
{
        SnapshotChecks *checks = calloc(1, snapshot_checks_size(size));
        Snapshot s;

        if (snapshot_open(base, size, &s) >= 0)
                exercise(&s);
        if (checks && snapshot_open_lazy(base, size, checks, &s) >= 0)
                exercise(&s);
        free(checks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* A heap copy of exactly this size, 8-byte aligned as a mapping is: a read past the end
         * is then caught by ASan or valgrind. */
        uint8_t *copy = malloc(size ? size : 1);
        SnapshotChecks *checks = calloc(1, snapshot_checks_size(size));
        Snapshot s;

        if (!copy || !checks)
                goto out;
        memcpy(copy, data, size);
        open_and_exercise(copy, size);
        if (snapshot_sign(copy, size) < 0)
                goto out;
        open_and_exercise(copy, size);

        if (snapshot_open_lazy(copy, size, checks, &s) >= 0) {
                /* Every page taken as found right, as after a process's first few hundred
                 * lookups: no page check stands between the reader and the bytes. */
                checks->all = 1;
                /* Every byte changed after the open: the input reversed. */
                for (size_t i = 0; i < size; i++)
                        copy[i] = data[size - 1 - i];
                exercise(&s);
        }
out:
        free(checks);
        free(copy);
        return 0;
}
