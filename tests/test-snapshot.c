/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the snapshot image: lookups equal the catalog's, and a truncated, bit-flipped
 * or hostile image is refused instead of followed; opened lazily, a flipped bit in the body is
 * refused on the first read of its page, and every answer is either right or -EBADMSG. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "catalog.h"
#include "snapshot-build.h"
#include "snapshot-format.h"
#include "snapshot.h"
#include "util.h"

/* The services files given on the command line (tests/meson.build: netbase and IANA). */
static char **arg_files;
static int arg_n_files;

static const char text[] = "ssh 22/tcp\n"
                           "http 80/tcp www www-http\n"
                           "http 80/udp www\n"
                           "noproto 1004\n"
                           "domain 53/tcp\n"
                           "domain 53/udp\n";

static Catalog *build(void)
{
        ServicesFile *f;
        Catalog *c;
        assert_int_equal(services_file_parse("/etc/services", CATALOG_LAYER_BASE, text, sizeof(text) - 1, &f), 0);
        assert_int_equal(catalog_build(&f, 1, &c), 0);
        services_file_free(f);
        return c;
}

static void test_roundtrip(void **state)
{
        Catalog *c = build();
        void *image;
        size_t size;
        Snapshot s;
        SnapshotEntry e;

        assert_int_equal(snapshot_build(c, 42, &image, &size), 0);
        assert_int_equal(snapshot_open(image, size, &s), 0);
        assert_int_equal(s.header->generation, 42);
        assert_int_equal(snapshot_n_entries(&s), c->n_entries);
        assert_false(snapshot_is_superseded(&s));

        for (uint32_t i = 0; i < c->n_entries; i++) {
                assert_int_equal(snapshot_entry(&s, i, &e), 0);
                assert_string_equal(e.name, c->entries[i].name);
                assert_string_equal(e.protocol, c->entries[i].protocol);
                assert_int_equal(e.port, c->entries[i].port);
                assert_int_equal(e.n_aliases, c->entries[i].n_aliases);
                for (uint32_t j = 0; j < e.n_aliases; j++)
                        assert_string_equal(snapshot_entry_alias(&s, &e, j), c->entries[i].aliases[j]);
                assert_null(snapshot_entry_alias(&s, &e, e.n_aliases));
                assert_string_equal(snapshot_entry_source(&s, &e), "/etc/services");
        }
        assert_int_equal(snapshot_entry(&s, (uint32_t) c->n_entries, &e), -ENOENT);

        assert_int_equal(snapshot_lookup_name(&s, "www", "udp", &e), 0);
        assert_int_equal(e.index, 2);
        assert_int_equal(snapshot_lookup_name(&s, "www", NULL, &e), 0);
        assert_int_equal(e.index, 1);
        assert_int_equal(snapshot_lookup_name(&s, "noproto", "", &e), 0);
        assert_int_equal(snapshot_lookup_name(&s, "noproto", "tcp", &e), -ENOENT);
        assert_int_equal(snapshot_lookup_name(&s, "missing", NULL, &e), -ENOENT);
        assert_int_equal(snapshot_lookup_port(&s, 53, "udp", &e), 0);
        assert_int_equal(e.index, 5);
        assert_int_equal(snapshot_lookup_port(&s, 53, NULL, &e), 0);
        assert_int_equal(e.index, 4);
        assert_int_equal(snapshot_lookup_port(&s, 1004, "", &e), 0);
        assert_int_equal(snapshot_lookup_port(&s, 54, NULL, &e), -ENOENT);

        /* the daemon flips superseded in place: the image stays valid */
        ((SnapshotHeader *) image)->superseded = 1;
        assert_true(snapshot_is_superseded(&s));
        assert_int_equal(snapshot_open(image, size, &s), 0);

        free(image);
        catalog_free(c);
}

static void test_truncated(void **state)
{
        Catalog *c = build();
        void *image;
        size_t size;
        Snapshot s;

        assert_int_equal(snapshot_build(c, 1, &image, &size), 0);
        for (size_t n = 0; n < size; n += 8)
                assert_int_equal(snapshot_open(image, n, &s), -EBADMSG);
        assert_int_equal(snapshot_open(NULL, size, &s), -EBADMSG);
        free(image);
        catalog_free(c);
}

static void test_every_bit_flip(void **state)
{
        Catalog *c = build();
        uint8_t *image;
        size_t size;
        Snapshot s;

        assert_int_equal(snapshot_build(c, 1, (void **) &image, &size), 0);
        size_t superseded = offsetof(SnapshotHeader, superseded);
        for (size_t byte = 0; byte < size; byte++) {
                /* the superseded word is the one field outside the checksum, by design */
                if (byte >= superseded && byte < superseded + sizeof(uint32_t))
                        continue;
                for (int bit = 0; bit < 8; bit++) {
                        image[byte] ^= (uint8_t) (1u << bit);
                        assert_int_equal(snapshot_open(image, size, &s), -EBADMSG);
                        image[byte] ^= (uint8_t) (1u << bit);
                }
        }
        assert_int_equal(snapshot_open(image, size, &s), 0);
        free(image);
        catalog_free(c);
}

/* A hostile image with correct checksums: every offset must still be checked. */
static void reseal(uint8_t *image, size_t size)
{
        assert_int_equal(snapshot_sign(image, size), 0);
}

/* Many pages: n entries "sNNNN PORT/tcp aNNNN". */
static Catalog *build_large(size_t n)
{
        char *lines = malloc(n * 40 + 1), *p = lines;
        ServicesFile *f;
        Catalog *c;

        assert_non_null(lines);
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "s%zu %zu/tcp a%zu\n", i, 1000 + i, i);
        assert_int_equal(services_file_parse("/etc/services", CATALOG_LAYER_BASE, lines, (size_t) (p - lines), &f), 0);
        assert_int_equal(catalog_build(&f, 1, &c), 0);
        services_file_free(f);
        free(lines);
        return c;
}

static void test_lazy_pages(void **state)
{
        const size_t n = 1500;
        Catalog *c = build_large(n);
        uint8_t *image;
        size_t size;
        Snapshot s;
        SnapshotEntry e;
        char name[32];

        assert_int_equal(snapshot_build(c, 1, (void **) &image, &size), 0);
        const SnapshotHeader *h = (const SnapshotHeader *) image;
        size_t body = snapshot_body_offset(size);
        size_t checks_size = snapshot_checks_size(size);
        SnapshotChecks *checks = calloc(1, checks_size);
        assert_non_null(checks);
        assert_true(size / SNAPSHOT_PAGE_SIZE >= 8);
        assert_int_equal(h->page_sums_offset, sizeof(SnapshotHeader));

        /* Intact, opened lazily: every answer right, and the pages read are marked. */
        assert_int_equal(snapshot_open_lazy(image, size, checks, &s), 0);
        assert_int_equal(checks->bits[0], 0);
        assert_int_equal(snapshot_lookup_name(&s, "a7", "tcp", &e), 0);
        assert_int_equal(e.port, 1007);
        assert_true(checks->bits[0] != 0);
        /* Each lookup checks one more page: after as many as there are pages, all are checked,
         * and the lookups check none any more. */
        for (uint32_t i = 1; i < s.n_pages; i++) {
                assert_false(checks->all);
                assert_int_equal(snapshot_lookup_port(&s, 1007, NULL, &e), 0);
        }
        assert_true(checks->all);
        for (uint32_t k = 0; k < s.n_pages; k++)
                assert_true(checks->bits[k / 64] & (UINT64_C(1) << (k % 64)));

        /* The header and the page checksum table are checked when the image is opened. */
        for (size_t byte = 0; byte < body; byte++) {
                if (byte >= offsetof(SnapshotHeader, superseded) &&
                    byte < offsetof(SnapshotHeader, superseded) + sizeof(uint32_t))
                        continue;
                image[byte] ^= 0x10;
                memset(checks, 0, checks_size);
                assert_int_equal(snapshot_open_lazy(image, size, checks, &s), -EBADMSG);
                image[byte] ^= 0x10;
        }

        /* A bit flipped in the body: the image opens, every lookup answers right or -EBADMSG,
         * and the page with the flip is never marked right. */
        for (size_t byte = body; byte < size; byte += 911) {
                uint32_t page = (uint32_t) (byte / SNAPSHOT_PAGE_SIZE);
                image[byte] ^= 0x04;
                memset(checks, 0, checks_size);
                assert_int_equal(snapshot_open_lazy(image, size, checks, &s), 0);
                for (size_t i = 0; i < n; i++) {
                        int r;
                        snprintf(name, sizeof(name), "s%zu", i);
                        r = snapshot_lookup_name(&s, name, "tcp", &e);
                        if (r == 0)
                                assert_true(e.port == 1000 + i && streq(e.name, name));
                        else
                                assert_int_equal(r, -EBADMSG);
                        snprintf(name, sizeof(name), "a%zu", i);
                        r = snapshot_lookup_name(&s, name, NULL, &e);
                        if (r == 0)
                                assert_true(e.port == 1000 + i);
                        else
                                assert_int_equal(r, -EBADMSG);
                        r = snapshot_lookup_port(&s, (uint16_t) (1000 + i), "tcp", &e);
                        if (r == 0) {
                                snprintf(name, sizeof(name), "s%zu", i);
                                uint32_t len;
                                const char *alias = snapshot_entry_alias_len(&s, &e, 0, &len);
                                assert_true(streq(e.name, name) && e.n_aliases == 1);
                                if (alias)
                                        assert_int_equal(alias[0], 'a');
                        } else
                                assert_int_equal(r, -EBADMSG);
                        r = snapshot_entry(&s, (uint32_t) i, &e);
                        if (r == 0)
                                assert_true(e.port == 1000 + i);
                        else
                                assert_int_equal(r, -EBADMSG);
                }
                /* The sweep went over every page, and the flipped one was never taken: the
                 * lookups still check, and refuse what lies on it. */
                assert_false(checks->bits[page / 64] & (UINT64_C(1) << (page % 64)));
                assert_false(checks->all);
                assert_int_equal(snapshot_verify_all(&s), -EBADMSG);
                image[byte] ^= 0x04;
        }

        free(checks);
        free(image);
        catalog_free(c);
}

/* A page is checksummed once; bytes of it changed in place afterwards (root writing into the
 * published file a process has mapped) are then read unchecked.  A string whose bytes changed
 * but whose NUL stayed must not pass for the entry's name: the length stored before it must
 * agree with the record's too.  Every answer is right or -EBADMSG. */
static void test_changed_after_check(void **state)
{
        const size_t n = 300;
        Catalog *c = build_large(n);
        uint8_t *image;
        size_t size;
        Snapshot s;
        SnapshotEntry e;
        char name[32];

        assert_int_equal(snapshot_build(c, 1, (void **) &image, &size), 0);
        SnapshotChecks *checks = calloc(1, snapshot_checks_size(size));
        assert_non_null(checks);
        assert_int_equal(snapshot_open_lazy(image, size, checks, &s), 0);
        assert_int_equal(snapshot_verify_all(&s), 0);
        assert_true(checks->all);

        /* Every byte of the string pool but its NULs overwritten. */
        uint8_t *pool = image + s.layout.strings_offset;
        for (uint32_t i = 0; i < s.layout.strings_size; i++)
                if (pool[i] != 0)
                        pool[i] = 'x';

        size_t refused = 0;
        for (size_t i = 0; i < n; i++) {
                int r = snapshot_lookup_port(&s, (uint16_t) (1000 + i), "tcp", &e);
                snprintf(name, sizeof(name), "s%zu", i);
                if (r == 0)
                        assert_string_equal(e.name, name);
                else {
                        assert_int_equal(r, -EBADMSG);
                        refused++;
                }
        }
        assert_int_equal(refused, n);

        free(checks);
        free(image);
        catalog_free(c);
}

/* The NUL after an entry's name or protocol overwritten in place after every page was checked:
 * each lookup that meets the entry, whatever path it takes (a name compared with its NUL, an
 * alias, a protocol of "any", by port, the enumeration), refuses it as a doubt, and the entries
 * around it still answer. */
static void test_nul_changed_after_check(void **state)
{
        Catalog *c = build_large(50);
        uint8_t *image;
        size_t size;
        Snapshot s;
        SnapshotEntry e;
        SnapshotEntryRecord rec;

        assert_int_equal(snapshot_build(c, 1, (void **) &image, &size), 0);
        SnapshotChecks *checks = calloc(1, snapshot_checks_size(size));
        assert_non_null(checks);
        assert_int_equal(snapshot_open_lazy(image, size, checks, &s), 0);
        assert_int_equal(snapshot_verify_all(&s), 0);

        uint8_t *pool = image + s.layout.strings_offset;
        memcpy(&rec, image + s.layout.entries_offset + 7 * sizeof(rec), sizeof(rec));
        assert_memory_equal(pool + rec.name, "s7", 3);
        assert_memory_equal(pool + rec.protocol, "tcp", 4);

        for (int which = 0; which < 2; which++) {
                uint8_t *nul = which == 0 ? pool + rec.name + rec.name_len : pool + rec.protocol + rec.protocol_len;
                *nul = 'x';
                assert_int_equal(snapshot_lookup_name(&s, "s7", "tcp", &e), -EBADMSG);
                assert_int_equal(snapshot_lookup_name(&s, "s7", NULL, &e), -EBADMSG);
                assert_int_equal(snapshot_lookup_name(&s, "a7", "tcp", &e), -EBADMSG);
                assert_int_equal(snapshot_lookup_name(&s, "a7", NULL, &e), -EBADMSG);
                assert_int_equal(snapshot_lookup_port(&s, 1007, "tcp", &e), -EBADMSG);
                assert_int_equal(snapshot_lookup_port(&s, 1007, NULL, &e), -EBADMSG);
                assert_int_equal(snapshot_entry(&s, 7, &e), -EBADMSG);
                if (which == 0) {
                        /* Only s7's name lost its NUL: its neighbours are intact. */
                        assert_int_equal(snapshot_lookup_name(&s, "s8", "tcp", &e), 0);
                        assert_int_equal(e.port, 1008);
                        assert_int_equal(snapshot_lookup_name(&s, "s6", NULL, &e), 0);
                        assert_int_equal(e.port, 1006);
                }
                *nul = '\0';
                assert_int_equal(snapshot_lookup_name(&s, "s7", "tcp", &e), 0);
                assert_int_equal(snapshot_lookup_name(&s, "s7", NULL, &e), 0);
                assert_int_equal(e.port, 1007);
        }

        free(checks);
        free(image);
        catalog_free(c);
}

static void test_hostile_offsets(void **state)
{
        Catalog *c = build();
        uint8_t *image, *copy;
        size_t size;
        Snapshot s;
        SnapshotEntry e;

        assert_int_equal(snapshot_build(c, 1, (void **) &image, &size), 0);
        copy = malloc(size);

        static const size_t fields[] = {
                offsetof(SnapshotHeader, entries_offset), offsetof(SnapshotHeader, n_entries),
                offsetof(SnapshotHeader, aliases_offset), offsetof(SnapshotHeader, n_aliases),
                offsetof(SnapshotHeader, name_index_offset), offsetof(SnapshotHeader, n_name_buckets),
                offsetof(SnapshotHeader, port_index_offset), offsetof(SnapshotHeader, n_port_buckets),
                offsetof(SnapshotHeader, sources_offset), offsetof(SnapshotHeader, n_sources),
                offsetof(SnapshotHeader, strings_offset), offsetof(SnapshotHeader, strings_size),
        };
        static const uint32_t values[] = { 0, 1, 3, 0x7fffffff, 0xffffffff, 0xfffffff0 };
        for (size_t f = 0; f < ELEMENTSOF(fields); f++)
                for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                        memcpy(copy, image, size);
                        memcpy(copy + fields[f], &values[v], sizeof(uint32_t));
                        reseal(copy, size);
                        if (snapshot_open(copy, size, &s) < 0)
                                continue;
                        /* accepted: then every access must stay in bounds (ASan/valgrind watch) */
                        (void) snapshot_lookup_name(&s, "www", NULL, &e);
                        (void) snapshot_lookup_name(&s, "missing", "tcp", &e);
                        (void) snapshot_lookup_port(&s, 80, NULL, &e);
                        for (uint32_t i = 0; i < snapshot_n_entries(&s) && i < 64; i++)
                                if (snapshot_entry(&s, i, &e) == 0)
                                        for (uint32_t j = 0; j < e.n_aliases && j < 64; j++)
                                                (void) snapshot_entry_alias(&s, &e, j);
                }

        /* entry records pointing anywhere */
        SnapshotHeader *h = (SnapshotHeader *) image;
        for (uint32_t i = 0; i < h->n_entries * 32; i += 4) {
                static const uint32_t junk = 0xfffffff7u;
                memcpy(copy, image, size);
                memcpy(copy + h->entries_offset + i, &junk, sizeof(junk));
                reseal(copy, size);
                assert_int_equal(snapshot_open(copy, size, &s), 0);
                (void) snapshot_lookup_name(&s, "www", NULL, &e);
                (void) snapshot_lookup_port(&s, 53, "udp", &e);
                for (uint32_t k = 0; k < snapshot_n_entries(&s); k++)
                        if (snapshot_entry(&s, k, &e) == 0)
                                for (uint32_t j = 0; j < e.n_aliases && j < 64; j++)
                                        (void) snapshot_entry_alias(&s, &e, j);
        }

        /* a full index with no empty bucket: lookups still end */
        memcpy(copy, image, size);
        h = (SnapshotHeader *) copy;
        for (uint32_t b = 0; b < h->n_name_buckets; b++) {
                uint32_t bucket[2] = { 0x12345679u, 1 };
                memcpy(copy + h->name_index_offset + b * 8, bucket, sizeof(bucket));
        }
        reseal(copy, size);
        assert_int_equal(snapshot_open(copy, size, &s), 0);
        assert_int_equal(snapshot_lookup_name(&s, "nothing-here", NULL, &e), -ENOENT);

        free(copy);
        free(image);
        catalog_free(c);
}

static void test_empty(void **state)
{
        ServicesFile *f;
        Catalog *c;
        Snapshot s;
        SnapshotEntry e;

        assert_int_equal(services_file_parse("/etc/services", CATALOG_LAYER_BASE, "", 0, &f), 0);
        assert_int_equal(catalog_build(&f, 1, &c), 0);
        assert_int_equal(snapshot_open(c->index_image, c->index_size, &s), 0);
        assert_int_equal(snapshot_lookup_name(&s, "ssh", NULL, &e), -ENOENT);
        assert_int_equal(snapshot_lookup_port(&s, 22, "tcp", &e), -ENOENT);
        assert_int_equal(snapshot_entry(&s, 0, &e), -ENOENT);
        catalog_free(c);
        services_file_free(f);
}

/* The longest probe sequence of either index of n buckets at offset: how far the farthest key lies
 * from the bucket it hashed to. */
static uint32_t longest_probe(const uint8_t *image, uint32_t offset, uint32_t n)
{
        uint32_t longest = 0;

        for (uint32_t b = 0; b < n; b++) {
                SnapshotBucket bk;
                memcpy(&bk, image + offset + (size_t) b * sizeof(bk), sizeof(bk));
                if (bk.value == 0)
                        continue;
                uint32_t home = bucket_start(bk.hash, n), d = b >= home ? b - home : b + n - home;
                longest = MAX(longest, d + 1);
        }
        return longest;
}

/* Every key of the real files within a few buckets of its home: with plain linear probing the
 * last line of Debian's file (fido 60179/tcp) was 20 buckets from home in the port index, 20
 * compares on every lookup of it (Robin Hood insertion, snapshot-build.c). */
static void test_probe_lengths(void **state)
{
        assert_true(arg_n_files > 0);
        for (int i = 0; i < arg_n_files; i++) {
                ServicesFile *f;
                Catalog *c;
                void *image;
                size_t size;
                assert_int_equal(services_file_load("/", arg_files[i], CATALOG_LAYER_BASE, &f), 0);
                assert_int_equal(catalog_build(&f, 1, &c), 0);
                services_file_free(f);
                assert_int_equal(snapshot_build(c, 1, &image, &size), 0);
                const SnapshotHeader *h = image;
                uint32_t names = longest_probe(image, h->name_index_offset, h->n_name_buckets),
                         ports = longest_probe(image, h->port_index_offset, h->n_port_buckets);
                print_message("# %s: longest probe %u (names), %u (ports)\n", arg_files[i], names, ports);
                assert_true(names <= 12);
                assert_true(ports <= 12);
                free(image);
                catalog_free(c);
        }
}

/* The first entry, in the catalog's order, that getservbyname()/getservbyport() of the files
 * backend would return: a linear scan, the oracle of the indexes. */
static ssize_t scan_name(const Catalog *c, const char *name, const char *protocol)
{
        for (size_t i = 0; i < c->n_entries; i++) {
                const ServiceEntry *e = &c->entries[i];
                if (protocol && !streq(e->protocol, protocol))
                        continue;
                if (streq(e->name, name))
                        return (ssize_t) i;
                for (size_t j = 0; j < e->n_aliases; j++)
                        if (streq(e->aliases[j], name))
                                return (ssize_t) i;
        }
        return -1;
}

static ssize_t scan_port(const Catalog *c, uint16_t port, const char *protocol)
{
        for (size_t i = 0; i < c->n_entries; i++)
                if (c->entries[i].port == port && (!protocol || streq(c->entries[i].protocol, protocol)))
                        return (ssize_t) i;
        return -1;
}

/* Random catalogs crowded with equal keys (few names, ports and protocols, names that are also
 * other lines' aliases, lines repeated): every key of the Robin Hood indexes, with and without
 * its protocol, leads to the entry the scan finds first, and a key absent from the catalog to
 * none. */
static void test_random_first_match(void **state)
{
        static const char *const protocols[] = { "tcp", "udp", "ddp", "sctp", "tc", "u" };
        unsigned seed = 1;

        for (int round = 0; round < 200; round++) {
                char text_buf[16384];
                size_t at = 0, n_lines = 1 + rand_r(&seed) % 120, n_names = 2 + rand_r(&seed) % 40;
                for (size_t l = 0; l < n_lines; l++) {
                        int k = snprintf(text_buf + at, sizeof(text_buf) - at, "n%u %u/%s",
                                rand_r(&seed) % (unsigned) n_names, rand_r(&seed) % 30,
                                protocols[rand_r(&seed) % ELEMENTSOF(protocols)]);
                        assert_true(k > 0 && (size_t) k < sizeof(text_buf) - at);
                        at += (size_t) k;
                        for (unsigned a = 0, n = rand_r(&seed) % 4; a < n; a++) {
                                k = snprintf(text_buf + at, sizeof(text_buf) - at, " n%u",
                                        rand_r(&seed) % (unsigned) n_names);
                                assert_true(k > 0 && (size_t) k < sizeof(text_buf) - at);
                                at += (size_t) k;
                        }
                        text_buf[at++] = '\n';
                }

                ServicesFile *f;
                Catalog *c;
                void *image;
                size_t size;
                Snapshot s;
                SnapshotEntry e;
                assert_int_equal(services_file_parse("/etc/services", CATALOG_LAYER_BASE, text_buf, at, &f), 0);
                assert_int_equal(catalog_build(&f, 1, &c), 0);
                services_file_free(f);
                assert_int_equal(snapshot_build(c, 1, &image, &size), 0);
                assert_int_equal(snapshot_open(image, size, &s), 0);

                for (unsigned n = 0; n < n_names + 2; n++) {
                        char name[16];
                        snprintf(name, sizeof(name), "n%u", n);
                        for (size_t p = 0; p <= ELEMENTSOF(protocols); p++) {
                                const char *protocol = p < ELEMENTSOF(protocols) ? protocols[p] : NULL;
                                ssize_t want = scan_name(c, name, protocol);
                                int r = snapshot_lookup_name(&s, name, protocol, &e);
                                if (want < 0)
                                        assert_int_equal(r, -ENOENT);
                                else {
                                        assert_int_equal(r, 0);
                                        assert_int_equal(e.index, want);
                                }
                        }
                }
                for (uint16_t port = 0; port < 32; port++)
                        for (size_t p = 0; p <= ELEMENTSOF(protocols); p++) {
                                const char *protocol = p < ELEMENTSOF(protocols) ? protocols[p] : NULL;
                                ssize_t want = scan_port(c, port, protocol);
                                int r = snapshot_lookup_port(&s, port, protocol, &e);
                                if (want < 0)
                                        assert_int_equal(r, -ENOENT);
                                else {
                                        assert_int_equal(r, 0);
                                        assert_int_equal(e.index, want);
                                }
                        }
                free(image);
                catalog_free(c);
        }
}

/* A daemon of the previous release (format 3: the same header, records without the lengths,
 * other key hashes) may still publish its image while the module of this one is loaded: a
 * signed image of another version is refused before anything in it is followed, whole or lazily,
 * so that the module asks the daemon instead of misreading it. */
static void test_other_version(void **state)
{
        Catalog *c = build();
        void *image;
        size_t size;
        Snapshot s;
        SnapshotChecks *checks;

        assert_int_equal(snapshot_build(c, 1, &image, &size), 0);
        checks = calloc(1, snapshot_checks_size(size));
        assert_non_null(checks);
        for (uint32_t v = 0; v < 8; v++) {
                ((SnapshotHeader *) image)->version = v;
                assert_int_equal(snapshot_sign(image, size), 0);
                int want = v == SNAPSHOT_VERSION ? 0 : -EBADMSG;
                assert_int_equal(snapshot_open(image, size, &s), want);
                assert_int_equal(snapshot_open_lazy(image, size, checks, &s), want);
        }
        free(checks);
        free(image);
        catalog_free(c);
}

int main(int argc, char *argv[])
{
        arg_files = argv + 1;
        arg_n_files = argc - 1;

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_every_bit_flip),
                cmocka_unit_test(test_hostile_offsets),
                cmocka_unit_test(test_lazy_pages),
                cmocka_unit_test(test_changed_after_check),
                cmocka_unit_test(test_nul_changed_after_check),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_probe_lengths),
                cmocka_unit_test(test_random_first_match),
                cmocka_unit_test(test_other_version),
        };
        return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
