/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading snapshot images: the catalog flattened into one position-independent blob with hash
 * indexes, read by the NSS module straight from a read-only mapping.  Everything read from an
 * image is bounds-checked first; nothing here allocates.  The writer is snapshot-build.c, which
 * the module does not link. */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "snapshot-format.h"
#include "snapshot.h"
#include "util.h"

static inline const char *snapshot_string(const Snapshot *s, uint32_t off)
{
        /* snapshot_open() checked that the pool ends in NUL, so any in-bounds offset is a
         * terminated string within the image. */
        if (off >= s->header->strings_size)
                return NULL;
        return (const char *) s->base + s->header->strings_offset + off;
}

/* The string at off with the length stored before it, checked: the length must end at a NUL
 * inside the pool.  Then a compare and a copy need no strlen(). */
static inline const char *snapshot_string_len(const Snapshot *s, uint32_t off, uint32_t *ret_len)
{
        const uint8_t *pool = s->base + s->header->strings_offset;
        uint32_t len;

        if (off < SNAPSHOT_STRING_PREFIX || off >= s->header->strings_size)
                return NULL;
        len = pool[off - 2] | (uint32_t) pool[off - 1] << 8;
        if ((uint64_t) off + len >= s->header->strings_size || pool[off + len] != '\0')
                return NULL;
        *ret_len = len;
        return (const char *) pool + off;
}

static bool section_ok(uint64_t size, uint32_t offset, uint64_t count, uint64_t elem)
{
        if (offset % 4 != 0 || offset < sizeof(SnapshotHeader))
                return false;
        if (count > UINT32_MAX)
                return false;
        return (uint64_t) offset + count * elem <= size;
}

#define CHECKSUM_P 0x9e3779b97f4a7c15ull
#define CHECKSUM_Q 0xc2b2ae3d27d4eb4full
#define CHECKSUM_LANES 8

/* Fletcher-style sums over 8-byte words in eight independent lanes: additions only, which the
 * compiler turns into vector code, so a whole IANA-sized image is checked in tens of
 * microseconds. A flipped bit changes the first sum of its lane; a moved word changes the
 * second. */
static void checksum_words(uint64_t s1[static CHECKSUM_LANES], uint64_t s2[static CHECKSUM_LANES],
                const uint8_t *p, size_t n_words)
{
        /* Local copies: the compiler keeps them in vector registers, which it cannot do through
         * pointers that might alias p. */
        uint64_t a[CHECKSUM_LANES], b[CHECKSUM_LANES];
        size_t n_blocks = n_words / CHECKSUM_LANES;

        memcpy(a, s1, sizeof(a));
        memcpy(b, s2, sizeof(b));
        for (size_t k = 0; k < n_blocks; k++) {
                uint64_t w[CHECKSUM_LANES];
                memcpy(w, p + k * sizeof(w), sizeof(w));
                for (size_t l = 0; l < CHECKSUM_LANES; l++) {
                        a[l] += w[l];
                        b[l] += a[l];
                }
        }
        for (size_t k = n_blocks * CHECKSUM_LANES; k < n_words; k++) {
                uint64_t w;
                memcpy(&w, p + k * 8, 8);
                a[0] += w;
                b[0] += a[0];
        }
        memcpy(s1, a, sizeof(a));
        memcpy(s2, b, sizeof(b));
}

uint64_t snapshot_checksum(const void *base, size_t size)
{
        /* The checksum and superseded fields are read as zero, the first because it holds the
         * result, the second because the daemon flips it in place after the image is published. */
        uint64_t s1[CHECKSUM_LANES] = { 1, 2, 3, 4, 5, 6, 7, 8 }, s2[CHECKSUM_LANES] = { 0 };
        const uint8_t *p = base;
        SnapshotHeader h;
        uint64_t tail = 0;

        if (size < sizeof(h))
                return 0;
        memcpy(&h, base, sizeof(h));
        h.checksum = 0;
        h.superseded = 0;
        checksum_words(s1, s2, (const uint8_t *) &h, sizeof(h) / 8);
        checksum_words(s1, s2, p + sizeof(h), (size - sizeof(h)) / 8);
        memcpy(&tail, p + size - size % 8, size % 8);

        uint64_t r = size ^ tail;
        /* Mixed between the two sums, so that equal differences in both cannot cancel. */
        for (size_t l = 0; l < CHECKSUM_LANES; l++) {
                r = (r ^ s1[l]) * CHECKSUM_P;
                r ^= r >> 31;
                r = (r ^ s2[l]) * CHECKSUM_Q;
                r ^= r >> 29;
        }
        return r;
}

int snapshot_open(const void *base, size_t size, Snapshot *ret)
{
        const SnapshotHeader *h = base;

        if (!base || size < sizeof(SnapshotHeader) || ((uintptr_t) base % 8) != 0)
                return -EBADMSG;
        if (memcmp(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic)) != 0 || h->version != SNAPSHOT_VERSION ||
            h->header_size != sizeof(SnapshotHeader) || h->size != size || size > UINT32_MAX)
                return -EBADMSG;
        if (!section_ok(size, h->entries_offset, h->n_entries, sizeof(SnapshotEntryRecord)) ||
            !section_ok(size, h->aliases_offset, h->n_aliases, sizeof(uint32_t)) ||
            !section_ok(size, h->name_index_offset, h->n_name_buckets, sizeof(SnapshotBucket)) ||
            !section_ok(size, h->port_index_offset, h->n_port_buckets, sizeof(SnapshotBucket)) ||
            !section_ok(size, h->sources_offset, h->n_sources, sizeof(uint32_t)) ||
            !section_ok(size, h->strings_offset, h->strings_size, 1))
                return -EBADMSG;
        if (h->n_entries > BUCKET_ENTRY_MASK - 1 || h->n_name_buckets == 0 || h->n_port_buckets == 0 ||
            h->strings_size == 0 || ((const char *) base)[h->strings_offset + h->strings_size - 1] != '\0')
                return -EBADMSG;
        if (snapshot_checksum(base, size) != h->checksum)
                return -EBADMSG;

        *ret = (Snapshot) { .base = base, .size = size, .header = h };
        return 0;
}

static const SnapshotEntryRecord *entry_record(const Snapshot *s, uint32_t index)
{
        if (index >= s->header->n_entries)
                return NULL;
        return (const SnapshotEntryRecord *) (s->base + s->header->entries_offset) + index;
}

/* Inlined into both lookups: it runs once per probe that meets the key's hash. */
static inline __attribute__((always_inline)) int entry_read(
        const Snapshot *s, uint32_t index, SnapshotEntry *ret)
{
        const SnapshotEntryRecord *r = entry_record(s, index);
        if (!r)
                return -ENOENT;

        uint32_t name_len = 0, protocol_len = 0;
        const char *name = snapshot_string_len(s, r->name, &name_len),
                   *protocol = snapshot_string_len(s, r->protocol, &protocol_len);
        if (!name || !protocol || (uint64_t) r->aliases + r->n_aliases > s->header->n_aliases)
                return -EBADMSG;

        const char *source = "";
        if (r->source < s->header->n_sources) {
                const uint32_t *sources = (const uint32_t *) (s->base + s->header->sources_offset);
                source = snapshot_string(s, sources[r->source]) ?: "";
        }

        *ret = (SnapshotEntry){
                .name = name,
                .protocol = protocol,
                .name_len = name_len,
                .protocol_len = protocol_len,
                .port = r->port,
                .n_aliases = r->n_aliases,
                .aliases_index = r->aliases,
                .source = source,
                .line = r->line,
                .index = index,
        };
        return 0;
}

int snapshot_entry(const Snapshot *s, uint32_t index, SnapshotEntry *ret)
{
        return entry_read(s, index, ret);
}

const char *snapshot_entry_alias_len(
        const Snapshot *s, const SnapshotEntry *e, uint32_t i, uint32_t *ret_len)
{
        if (i >= e->n_aliases || (uint64_t) e->aliases_index + i >= s->header->n_aliases)
                return NULL;
        const uint32_t *aliases = (const uint32_t *) (s->base + s->header->aliases_offset);
        return snapshot_string_len(s, aliases[e->aliases_index + i], ret_len);
}

const char *snapshot_entry_alias(const Snapshot *s, const SnapshotEntry *e, uint32_t i)
{
        if (i >= e->n_aliases || (uint64_t) e->aliases_index + i >= s->header->n_aliases)
                return NULL;
        const uint32_t *aliases = (const uint32_t *) (s->base + s->header->aliases_offset);
        return snapshot_string(s, aliases[e->aliases_index + i]);
}

/* Names and protocols are short: up to 16 bytes they are compared as two overlapping words from
 * each end (nothing outside the n bytes is read), without a call. */
static inline bool bytes_equal(const char *a, const char *b, size_t n)
{
        if (n >= 8 && n <= 16) {
                uint64_t a0, a1, b0, b1;
                memcpy(&a0, a, 8);
                memcpy(&a1, a + n - 8, 8);
                memcpy(&b0, b, 8);
                memcpy(&b1, b + n - 8, 8);
                return ((a0 ^ b0) | (a1 ^ b1)) == 0;
        }
        if (n >= 4 && n < 8) {
                uint32_t a0, a1, b0, b1;
                memcpy(&a0, a, 4);
                memcpy(&a1, a + n - 4, 4);
                memcpy(&b0, b, 4);
                memcpy(&b1, b + n - 4, 4);
                return ((a0 ^ b0) | (a1 ^ b1)) == 0;
        }
        if (n < 4) /* 0 to 3 bytes: the first, middle and last cover them all */
                return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
        return memcmp(a, b, n) == 0;
}

static inline bool string_equal(const char *a, uint32_t a_len, const char *b, size_t b_len)
{
        return a_len == b_len && bytes_equal(a, b, b_len);
}

static inline bool entry_has_name(
        const Snapshot *s, const SnapshotEntry *e, const char *name, size_t name_len)
{
        if (_likely_(string_equal(e->name, e->name_len, name, name_len)))
                return true;
        for (uint32_t i = 0; i < e->n_aliases; i++) {
                const uint32_t *aliases = (const uint32_t *) (s->base + s->header->aliases_offset);
                uint32_t len;
                /* entry_read() checked that the entry's aliases are inside the alias table. */
                const char *a = snapshot_string_len(s, aliases[e->aliases_index + i], &len);
                if (a && string_equal(a, len, name, name_len))
                        return true;
        }
        return false;
}

int snapshot_lookup_name(const Snapshot *s, const char *name, const char *protocol, SnapshotEntry *ret)
{
        const SnapshotHeader *h = s->header;
        const SnapshotBucket *buckets = (const SnapshotBucket *) (s->base + h->name_index_offset);
        size_t name_len = strlen(name), protocol_len = protocol ? strlen(protocol) : 0;
        uint32_t hash = hash_name_key(name, name_len, protocol, protocol_len), n = h->n_name_buckets;
        uint32_t any = protocol ? 0 : BUCKET_ANY;

        /* Linear probing, bounded by the table size so that a hostile table without an empty
         * bucket still ends. */
        for (uint32_t i = 0, b = bucket_start(hash, n); i < n; i++, b = b + 1 == n ? 0 : b + 1) {
                const SnapshotBucket *bk = &buckets[b];
                if (bk->value == 0)
                        return -ENOENT;
                if (bk->hash != hash || (bk->value & BUCKET_ANY) != any)
                        continue;
                SnapshotEntry e;
                if (entry_read(s, (bk->value & BUCKET_ENTRY_MASK) - 1, &e) < 0)
                        return -EBADMSG;
                if ((!protocol || string_equal(e.protocol, e.protocol_len, protocol, protocol_len)) &&
                        entry_has_name(s, &e, name, name_len)) {
                        *ret = e;
                        return 0;
                }
        }
        return -ENOENT;
}

int snapshot_lookup_port(const Snapshot *s, uint16_t port, const char *protocol, SnapshotEntry *ret)
{
        const SnapshotHeader *h = s->header;
        const SnapshotBucket *buckets = (const SnapshotBucket *) (s->base + h->port_index_offset);
        size_t protocol_len = protocol ? strlen(protocol) : 0;
        uint32_t hash = hash_port_key(port, protocol, protocol_len), n = h->n_port_buckets;
        uint32_t any = protocol ? 0 : BUCKET_ANY;

        for (uint32_t i = 0, b = bucket_start(hash, n); i < n; i++, b = b + 1 == n ? 0 : b + 1) {
                const SnapshotBucket *bk = &buckets[b];
                if (bk->value == 0)
                        return -ENOENT;
                if (bk->hash != hash || (bk->value & BUCKET_ANY) != any)
                        continue;
                SnapshotEntry e;
                if (entry_read(s, (bk->value & BUCKET_ENTRY_MASK) - 1, &e) < 0)
                        return -EBADMSG;
                if (e.port == port &&
                        (!protocol || string_equal(e.protocol, e.protocol_len, protocol, protocol_len))) {
                        *ret = e;
                        return 0;
                }
        }
        return -ENOENT;
}
