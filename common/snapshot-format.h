/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layout of a snapshot image below its header, and the key hashes of its indexes: what the
 * reader (snapshot.c, linked into the NSS module) and the writer (snapshot-build.c, the daemon's)
 * must agree on.  Internal to those two files. */
#pragma once

#include <stdint.h>

#include "snapshot.h"

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
static inline uint32_t hash_name_key(const char *name, const char *protocol)
{
        uint32_t h = fnv_bytes(2166136261u, name);
        if (protocol)
                h = fnv_bytes(h * 16777619u, protocol);
        else
                h = (h ^ 1u) * 16777619u;
        return mix32(h) | 1u; /* never 0, so a zero bucket is empty whatever the value */
}

static inline uint32_t hash_port_key(uint16_t port, const char *protocol)
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

