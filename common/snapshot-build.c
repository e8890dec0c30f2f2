/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing snapshot images: the daemon flattens a catalog into the position-independent blob that
 * snapshot.c reads, strings interned, both hash indexes built, the checksums stored. */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "snapshot-build.h"
#include "snapshot-format.h"
#include "util.h"

typedef struct StringPool {
        char *data;
        size_t size, allocated;
        uint32_t *slots; /* open addressing: offset + 1, 0 is empty */
        size_t n_slots, n_used;
} StringPool;

static uint32_t pool_hash(const char *s)
{
        return (uint32_t) key_hash_bytes(KEY_HASH_SEED, s, strlen(s));
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
 * image small (most entries share "tcp" or "udp").  Each string is stored after its length, two
 * bytes little-endian (snapshot-format.h). */
static int pool_add(StringPool *p, const char *s, uint32_t *ret)
{
        size_t len = strlen(s);

        if (len > SNAPSHOT_STRING_MAX)
                return -E2BIG;
        if ((p->n_used + 1) * 2 > p->n_slots && pool_rehash(p, p->n_slots ? p->n_slots * 2 : 1024) < 0)
                return -ENOMEM;

        size_t i = pool_hash(s) & (p->n_slots - 1);
        for (; p->slots[i]; i = (i + 1) & (p->n_slots - 1))
                if (streq(p->data + p->slots[i] - 1, s)) {
                        *ret = p->slots[i] - 1;
                        return 0;
                }

        size_t need = p->size + SNAPSHOT_STRING_PREFIX + len + 1;
        if (need >= UINT32_MAX || GROW(p->data, p->allocated, need) < 0)
                return -ENOMEM;
        p->data[p->size] = (char) (len & 0xff);
        p->data[p->size + 1] = (char) (len >> 8);
        p->size += SNAPSHOT_STRING_PREFIX;
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

/* Whether entry o already holds the key being inserted for entry e (name NULL: e's port). */
static bool same_key(const ServiceEntry *o, const ServiceEntry *e, const char *name, bool any)
{
        if (!any && !streq(o->protocol, e->protocol))
                return false;
        if (!name)
                return o->port == e->port;
        if (streq(o->name, name))
                return true;
        for (size_t i = 0; i < o->n_aliases; i++)
                if (streq(o->aliases[i], name))
                        return true;
        return false;
}

/* How far bucket b is from where the key hashed to go (its home). */
static uint32_t bucket_distance(const SnapshotBucket *bk, uint32_t b, uint32_t n)
{
        uint32_t home = bucket_start(bk->hash, n);

        return b >= home ? b - home : b + n - home;
}

/* Inserts the key (name, or the entry's port when name is NULL; with its protocol unless any)
 * unless an equal key is already there: the entries are added in the merged order, so the bucket
 * that stays is glibc's first match.
 *
 * Robin Hood order: a key that has come further from its home than the key in its way takes that
 * bucket and the other moves on.  Lookups probe exactly as with plain linear probing, but the
 * longest probe sequence shrinks: plain linear probing left keys 20-50 buckets from home at this
 * fill (the last line of Debian's file, fido/tcp by port, at 20), each bucket a compare of its
 * own on every lookup of that key.  Equal keys share a home, and homes stay in order along a run,
 * so an equal key already in the table lies before the first bucket whose key is nearer its home
 * than ours: the search for it ends there, as the displacing begins. */
static void index_insert(SnapshotBucket *buckets, uint32_t n, const Catalog *c, uint32_t entry,
        const char *name, bool any)
{
        const ServiceEntry *e = &c->entries[entry];
        const char *protocol = any ? NULL : e->protocol;
        size_t protocol_len = protocol ? strlen(protocol) : 0;
        uint32_t hash = name ? hash_name_key(name, strlen(name), protocol, protocol_len)
                             : hash_port_key(e->port, protocol, protocol_len);
        SnapshotBucket carry = { .hash = hash, .value = (entry + 1) | (any ? BUCKET_ANY : 0) };
        bool ours = true; /* carry is still the key being inserted, not one it displaced */

        for (uint32_t b = bucket_start(hash, n), d = 0;; b = b + 1 == n ? 0 : b + 1, d++) {
                SnapshotBucket *bk = &buckets[b];
                if (bk->value == 0) {
                        *bk = carry;
                        return;
                }
                if (ours && bk->hash == hash && !!(bk->value & BUCKET_ANY) == any &&
                        same_key(&c->entries[(bk->value & BUCKET_ENTRY_MASK) - 1], e, name, any))
                        return;
                uint32_t bd = bucket_distance(bk, b, n);
                if (bd < d) {
                        SnapshotBucket t = *bk;
                        *bk = carry;
                        carry = t;
                        d = bd;
                        ours = false;
                }
        }
}

static size_t align8(size_t n)
{
        return (n + 7) & ~(size_t) 7;
}

static size_t align32(size_t n)
{
        return (n + 31) & ~(size_t) 31;
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

        /* The first string is the empty one, the protocol of lines that have none. */
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

                *rec = (SnapshotEntryRecord){
                        .aliases = (uint32_t) a,
                        .n_aliases = (uint16_t) e->n_aliases,
                        .port = e->port,
                        .source = e->source,
                        .line = e->line,
                };
                if (pool_add(&pool, e->name, &rec->name) < 0 ||
                        pool_add(&pool, e->protocol, &rec->protocol) < 0)
                        goto out;
                /* pool_add() refused anything longer than SNAPSHOT_STRING_MAX. */
                rec->name_len = (uint16_t) strlen(e->name);
                rec->protocol_len = (uint16_t) strlen(e->protocol);
                for (size_t j = 0; j < e->n_aliases; j++)
                        if (pool_add(&pool, e->aliases[j], &aliases[a++]) < 0)
                                goto out;
        }

        uint32_t n_name_buckets = table_size(2 * n_names), n_port_buckets = table_size(2 * c->n_entries);
        /* The sections go behind the header and the page checksum table, whose length depends
         * on the image's size: grown until it fits (twice at most, each page adds 8 bytes).  The
         * string pool comes first: its start holds the protocols ("tcp", "udp" are interned with
         * the first entries), which nearly every lookup compares, and there it shares the first
         * 64 KiB with the header, which the kernel maps at a first lookup's first page fault
         * (fault-around): one page fault less for a fresh process (the reader takes the sections
         * in any order).  The records start on a multiple of their 32 bytes, so that none lies
         * across a page. */
        size_t body = sizeof(SnapshotHeader), size = 0;
        size_t off_strings, off_sources, off_entries, off_aliases, off_names, off_ports;
        for (;;) {
                off_strings = body;
                off_sources = align8(off_strings + pool.size);
                off_entries = align32(off_sources + c->n_sources * sizeof(uint32_t));
                off_aliases = align8(off_entries + c->n_entries * sizeof(SnapshotEntryRecord));
                off_names = align8(off_aliases + n_aliases * sizeof(uint32_t));
                off_ports = align8(off_names + (size_t) n_name_buckets * sizeof(SnapshotBucket));
                size = align8(off_ports + (size_t) n_port_buckets * sizeof(SnapshotBucket));
                if (snapshot_body_offset(size) <= body)
                        break;
                body = snapshot_body_offset(size);
        }
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
                index_insert(names, n_name_buckets, c, i, e->name, false);
                index_insert(names, n_name_buckets, c, i, e->name, true);
                for (size_t j = 0; j < e->n_aliases; j++) {
                        index_insert(names, n_name_buckets, c, i, e->aliases[j], false);
                        index_insert(names, n_name_buckets, c, i, e->aliases[j], true);
                }
                index_insert(ports, n_port_buckets, c, i, NULL, false);
                index_insert(ports, n_port_buckets, c, i, NULL, true);
        }

        memcpy(image + off_entries, records, c->n_entries * sizeof(SnapshotEntryRecord));
        memcpy(image + off_aliases, aliases, n_aliases * sizeof(uint32_t));
        memcpy(image + off_sources, sources, c->n_sources * sizeof(uint32_t));
        memcpy(image + off_strings, pool.data, pool.size);

        SnapshotHeader *h = (SnapshotHeader *) image;
        *h = (SnapshotHeader){
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
                .page_sums_offset = (uint32_t) sizeof(SnapshotHeader),
        };
        memcpy(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic));
        r = snapshot_sign(image, size);
        if (r < 0)
                goto out;

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
