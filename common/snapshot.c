/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot images: the catalog flattened into one position-independent blob with hash
 * indexes, built by the daemon, read by the NSS module straight from a read-only mapping.
 * Everything read from an image is bounds-checked first; nothing here allocates on the
 * lookup path. */

#include <stddef.h>

#include "catalog.h"
#include "snapshot.h"
#include "util.h"

typedef struct SnapshotEntryRecord {
        uint32_t name;     /* string offset */
        uint32_t protocol; /* string offset */
        uint32_t aliases;  /* index of the first alias in the alias table */
        uint16_t n_aliases;
        uint16_t port;
        uint32_t source; /* index into the source table */
        uint32_t line;
} SnapshotEntryRecord;

/* A bucket of either index: the full key hash and the entry it leads to, plus one. Zero is an
 * empty bucket. The top bit marks keys with "any protocol". */
typedef struct SnapshotBucket {
        uint32_t hash;
        uint32_t value;
} SnapshotBucket;

#define BUCKET_ANY 0x80000000u
#define BUCKET_ENTRY_MASK 0x7fffffffu

_Static_assert(sizeof(SnapshotHeader) % 8 == 0, "header must keep 8-byte alignment");
_Static_assert(sizeof(SnapshotEntryRecord) == 24, "entry record layout is part of the format");

static inline uint32_t mix32(uint32_t h)
{
        h ^= h >> 16;
        h *= 0x85ebca6bu;
        h ^= h >> 13;
        h *= 0xc2b2ae35u;
        h ^= h >> 16;
        return h;
}

static inline uint32_t fnv_bytes(uint32_t h, const char *s)
{
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                h = (h ^ *p) * 16777619u;
        return h;
}

/* Keys hash as the byte string name, then 0x00 and the protocol, or 0x01 for "any": no two
 * keys give the same byte string because names hold no NUL. */
static uint32_t hash_name_key(const char *name, const char *protocol)
{
        uint32_t h = fnv_bytes(2166136261u, name);
        if (protocol)
                h = fnv_bytes(h * 16777619u, protocol);
        else
                h = (h ^ 1u) * 16777619u;
        return mix32(h) | 1u; /* never 0, so a zero bucket is empty whatever the value */
}

static uint32_t hash_port_key(uint16_t port, const char *protocol)
{
        uint32_t h = 2166136261u;
        h = (h ^ (port & 0xffu)) * 16777619u;
        h = (h ^ (port >> 8)) * 16777619u;
        if (protocol)
                h = fnv_bytes(h * 16777619u, protocol);
        else
                h = (h ^ 1u) * 16777619u;
        return mix32(h) | 1u;
}

static inline uint32_t bucket_start(uint32_t hash, uint32_t n_buckets)
{
        /* Multiply-shift maps the hash onto any table size without a division. */
        return (uint32_t) (((uint64_t) hash * n_buckets) >> 32);
}

/* -------- reader -------- */

static inline const char *snapshot_string(const Snapshot *s, uint32_t off)
{
        /* snapshot_open() checked that the pool ends in NUL, so any in-bounds offset is a
         * terminated string within the image. */
        if (off >= s->header->strings_size)
                return NULL;
        return (const char *) s->base + s->header->strings_offset + off;
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

int snapshot_entry(const Snapshot *s, uint32_t index, SnapshotEntry *ret)
{
        const SnapshotEntryRecord *r = entry_record(s, index);
        if (!r)
                return -ENOENT;

        const char *name = snapshot_string(s, r->name), *protocol = snapshot_string(s, r->protocol);
        if (!name || !protocol || (uint64_t) r->aliases + r->n_aliases > s->header->n_aliases)
                return -EBADMSG;

        const char *source = "";
        if (r->source < s->header->n_sources) {
                const uint32_t *sources = (const uint32_t *) (s->base + s->header->sources_offset);
                source = snapshot_string(s, sources[r->source]) ?: "";
        }

        *ret = (SnapshotEntry) {
                .name = name,
                .protocol = protocol,
                .port = r->port,
                .n_aliases = r->n_aliases,
                .aliases_index = r->aliases,
                .source = source,
                .line = r->line,
                .index = index,
        };
        return 0;
}

const char *snapshot_entry_alias(const Snapshot *s, const SnapshotEntry *e, uint32_t i)
{
        if (i >= e->n_aliases || (uint64_t) e->aliases_index + i >= s->header->n_aliases)
                return NULL;
        const uint32_t *aliases = (const uint32_t *) (s->base + s->header->aliases_offset);
        return snapshot_string(s, aliases[e->aliases_index + i]);
}

static bool entry_has_name(const Snapshot *s, const SnapshotEntry *e, const char *name)
{
        if (streq(e->name, name))
                return true;
        for (uint32_t i = 0; i < e->n_aliases; i++) {
                const char *a = snapshot_entry_alias(s, e, i);
                if (a && streq(a, name))
                        return true;
        }
        return false;
}

int snapshot_lookup_name(const Snapshot *s, const char *name, const char *protocol, SnapshotEntry *ret)
{
        const SnapshotHeader *h = s->header;
        const SnapshotBucket *buckets = (const SnapshotBucket *) (s->base + h->name_index_offset);
        uint32_t hash = hash_name_key(name, protocol), n = h->n_name_buckets;
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
                if (snapshot_entry(s, (bk->value & BUCKET_ENTRY_MASK) - 1, &e) < 0)
                        return -EBADMSG;
                if ((!protocol || streq(e.protocol, protocol)) && entry_has_name(s, &e, name)) {
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
        uint32_t hash = hash_port_key(port, protocol), n = h->n_port_buckets;
        uint32_t any = protocol ? 0 : BUCKET_ANY;

        for (uint32_t i = 0, b = bucket_start(hash, n); i < n; i++, b = b + 1 == n ? 0 : b + 1) {
                const SnapshotBucket *bk = &buckets[b];
                if (bk->value == 0)
                        return -ENOENT;
                if (bk->hash != hash || (bk->value & BUCKET_ANY) != any)
                        continue;
                SnapshotEntry e;
                if (snapshot_entry(s, (bk->value & BUCKET_ENTRY_MASK) - 1, &e) < 0)
                        return -EBADMSG;
                if (e.port == port && (!protocol || streq(e.protocol, protocol))) {
                        *ret = e;
                        return 0;
                }
        }
        return -ENOENT;
}

/* -------- writer -------- */

typedef struct StringPool {
        char *data;
        size_t size, allocated;
        uint32_t *slots; /* open addressing: offset + 1, 0 is empty */
        size_t n_slots, n_used;
} StringPool;

static uint32_t pool_hash(const char *s)
{
        return mix32(fnv_bytes(2166136261u, s));
}

static int pool_rehash(StringPool *p, size_t n)
{
        uint32_t *slots = calloc(n, sizeof(uint32_t));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_slots; i++) {
                if (!p->slots[i])
                        continue;
                size_t j = pool_hash(p->data + p->slots[i] - 1) & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = p->slots[i];
        }
        free(p->slots);
        p->slots = slots;
        p->n_slots = n;
        return 0;
}

/* Interns s and returns its offset; equal strings share one copy, which keeps the IANA
 * image small (most entries share "tcp" or "udp"). */
static int pool_add(StringPool *p, const char *s, uint32_t *ret)
{
        size_t len = strlen(s);

        if ((p->n_used + 1) * 2 > p->n_slots && pool_rehash(p, p->n_slots ? p->n_slots * 2 : 1024) < 0)
                return -ENOMEM;

        size_t i = pool_hash(s) & (p->n_slots - 1);
        for (; p->slots[i]; i = (i + 1) & (p->n_slots - 1))
                if (streq(p->data + p->slots[i] - 1, s)) {
                        *ret = p->slots[i] - 1;
                        return 0;
                }

        if (p->size + len + 1 >= UINT32_MAX || GROW(p->data, p->allocated, p->size + len + 1) < 0)
                return -ENOMEM;
        memcpy(p->data + p->size, s, len + 1);
        *ret = (uint32_t) p->size;
        p->slots[i] = (uint32_t) p->size + 1;
        p->size += len + 1;
        p->n_used++;
        return 0;
}

static void pool_done(StringPool *p)
{
        free(p->data);
        free(p->slots);
}

static uint32_t table_size(size_t n_keys)
{
        /* At most two thirds full: misses end at an empty bucket after a probe or two. */
        return (uint32_t) (n_keys + n_keys / 2 + 1);
}

/* Inserts unless an equal key is already there: the entries are added in the merged order, so
 * the bucket that stays is glibc's first match. */
static void index_insert_name(SnapshotBucket *buckets, uint32_t n, const Catalog *c, uint32_t entry,
                const char *name, bool any)
{
        const ServiceEntry *e = &c->entries[entry];
        uint32_t hash = hash_name_key(name, any ? NULL : e->protocol);
        uint32_t b = bucket_start(hash, n);

        for (;; b = b + 1 == n ? 0 : b + 1) {
                SnapshotBucket *bk = &buckets[b];
                if (bk->value == 0) {
                        *bk = (SnapshotBucket) { .hash = hash, .value = (entry + 1) | (any ? BUCKET_ANY : 0) };
                        return;
                }
                if (bk->hash != hash || !!(bk->value & BUCKET_ANY) != any)
                        continue;
                const ServiceEntry *o = &c->entries[(bk->value & BUCKET_ENTRY_MASK) - 1];
                if (!any && !streq(o->protocol, e->protocol))
                        continue;
                if (streq(o->name, name))
                        return;
                for (size_t i = 0; i < o->n_aliases; i++)
                        if (streq(o->aliases[i], name))
                                return;
        }
}

static void index_insert_port(SnapshotBucket *buckets, uint32_t n, const Catalog *c, uint32_t entry, bool any)
{
        const ServiceEntry *e = &c->entries[entry];
        uint32_t hash = hash_port_key(e->port, any ? NULL : e->protocol);
        uint32_t b = bucket_start(hash, n);

        for (;; b = b + 1 == n ? 0 : b + 1) {
                SnapshotBucket *bk = &buckets[b];
                if (bk->value == 0) {
                        *bk = (SnapshotBucket) { .hash = hash, .value = (entry + 1) | (any ? BUCKET_ANY : 0) };
                        return;
                }
                if (bk->hash != hash || !!(bk->value & BUCKET_ANY) != any)
                        continue;
                const ServiceEntry *o = &c->entries[(bk->value & BUCKET_ENTRY_MASK) - 1];
                if (o->port == e->port && (any || streq(o->protocol, e->protocol)))
                        return;
        }
}

static size_t align8(size_t n)
{
        return (n + 7) & ~(size_t) 7;
}

int snapshot_build(const Catalog *c, uint64_t generation, void **ret, size_t *ret_size)
{
        StringPool pool = {};
        SnapshotEntryRecord *records = NULL;
        uint32_t *aliases = NULL, *sources = NULL;
        size_t n_aliases = 0, n_names = 0;
        uint8_t *image = NULL;
        int r = -ENOMEM;

        if (c->n_entries >= BUCKET_ENTRY_MASK - 1)
                return -E2BIG;

        for (size_t i = 0; i < c->n_entries; i++) {
                if (c->entries[i].n_aliases > UINT16_MAX)
                        return -E2BIG;
                n_aliases += c->entries[i].n_aliases;
        }
        n_names = c->n_entries + n_aliases;
        if (n_names > UINT32_MAX / 4)
                return -E2BIG;

        records = calloc(c->n_entries ?: 1, sizeof(SnapshotEntryRecord));
        aliases = calloc(n_aliases ?: 1, sizeof(uint32_t));
        sources = calloc(c->n_sources ?: 1, sizeof(uint32_t));
        if (!records || !aliases || !sources)
                goto out;

        /* Offset 0 is the empty string, the protocol of lines that have none. */
        uint32_t empty;
        if (pool_add(&pool, "", &empty) < 0)
                goto out;

        for (size_t i = 0; i < c->n_sources; i++)
                if (pool_add(&pool, c->sources[i].path, &sources[i]) < 0)
                        goto out;

        size_t a = 0;
        for (size_t i = 0; i < c->n_entries; i++) {
                const ServiceEntry *e = &c->entries[i];
                SnapshotEntryRecord *rec = &records[i];

                *rec = (SnapshotEntryRecord) {
                        .aliases = (uint32_t) a,
                        .n_aliases = (uint16_t) e->n_aliases,
                        .port = e->port,
                        .source = e->source,
                        .line = e->line,
                };
                if (pool_add(&pool, e->name, &rec->name) < 0 || pool_add(&pool, e->protocol, &rec->protocol) < 0)
                        goto out;
                for (size_t j = 0; j < e->n_aliases; j++)
                        if (pool_add(&pool, e->aliases[j], &aliases[a++]) < 0)
                                goto out;
        }

        uint32_t n_name_buckets = table_size(2 * n_names), n_port_buckets = table_size(2 * c->n_entries);
        size_t off_entries = sizeof(SnapshotHeader);
        size_t off_aliases = align8(off_entries + c->n_entries * sizeof(SnapshotEntryRecord));
        size_t off_names = align8(off_aliases + n_aliases * sizeof(uint32_t));
        size_t off_ports = align8(off_names + (size_t) n_name_buckets * sizeof(SnapshotBucket));
        size_t off_sources = align8(off_ports + (size_t) n_port_buckets * sizeof(SnapshotBucket));
        size_t off_strings = align8(off_sources + c->n_sources * sizeof(uint32_t));
        size_t size = align8(off_strings + pool.size);
        if (size > UINT32_MAX) {
                r = -E2BIG;
                goto out;
        }

        /* 8-byte alignment of the malloc'ed image matters: snapshot_open() insists on it. */
        image = calloc(1, size);
        if (!image)
                goto out;

        SnapshotBucket *names = (SnapshotBucket *) (image + off_names);
        SnapshotBucket *ports = (SnapshotBucket *) (image + off_ports);
        for (uint32_t i = 0; i < c->n_entries; i++) {
                const ServiceEntry *e = &c->entries[i];
                index_insert_name(names, n_name_buckets, c, i, e->name, false);
                index_insert_name(names, n_name_buckets, c, i, e->name, true);
                for (size_t j = 0; j < e->n_aliases; j++) {
                        index_insert_name(names, n_name_buckets, c, i, e->aliases[j], false);
                        index_insert_name(names, n_name_buckets, c, i, e->aliases[j], true);
                }
                index_insert_port(ports, n_port_buckets, c, i, false);
                index_insert_port(ports, n_port_buckets, c, i, true);
        }

        memcpy(image + off_entries, records, c->n_entries * sizeof(SnapshotEntryRecord));
        memcpy(image + off_aliases, aliases, n_aliases * sizeof(uint32_t));
        memcpy(image + off_sources, sources, c->n_sources * sizeof(uint32_t));
        memcpy(image + off_strings, pool.data, pool.size);

        SnapshotHeader *h = (SnapshotHeader *) image;
        *h = (SnapshotHeader) {
                .version = SNAPSHOT_VERSION,
                .header_size = sizeof(SnapshotHeader),
                .size = size,
                .generation = generation,
                .n_entries = (uint32_t) c->n_entries,
                .entries_offset = (uint32_t) off_entries,
                .n_aliases = (uint32_t) n_aliases,
                .aliases_offset = (uint32_t) off_aliases,
                .n_name_buckets = n_name_buckets,
                .name_index_offset = (uint32_t) off_names,
                .n_port_buckets = n_port_buckets,
                .port_index_offset = (uint32_t) off_ports,
                .n_sources = (uint32_t) c->n_sources,
                .sources_offset = (uint32_t) off_sources,
                .strings_size = (uint32_t) pool.size,
                .strings_offset = (uint32_t) off_strings,
        };
        memcpy(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic));
        h->checksum = snapshot_checksum(image, size);

        *ret = TAKE_PTR(image);
        *ret_size = size;
        r = 0;
out:
        free(image);
        free(records);
        free(aliases);
        free(sources);
        pool_done(&pool);
        return r;
}
