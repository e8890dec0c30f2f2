/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layout of a snapshot image below its header, and the key hashes of its indexes: what the
 * reader (snapshot.c, linked into the NSS module) and the writer (snapshot-build.c, the daemon's)
 * must agree on.  Internal to those two files. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snapshot.h"

/* The lengths of name and protocol are in the record too (their strings in the pool carry them
 * as well), so that a lookup reads the record and then the strings it compares, side by side,
 * rather than each string's length first and its bytes after. */
typedef struct SnapshotEntryRecord {
        uint32_t name;     /* string offset */
        uint32_t protocol; /* string offset */
        uint32_t aliases;  /* index of the first alias in the alias table */
        uint16_t n_aliases;
        uint16_t port;
        uint32_t source; /* index into the source table */
        uint32_t line;
        uint16_t name_len; /* strlen() of each */
        uint16_t protocol_len;
        uint32_t reserved; /* zero: the record is 32 bytes, two to a cache line, none across a page */
} SnapshotEntryRecord;

/* A bucket of either index: the full key hash and the entry it leads to, plus one. Zero is an
 * empty bucket. The top bit marks keys with "any protocol". */
typedef struct SnapshotBucket {
        uint32_t hash;
        uint32_t value;
} SnapshotBucket;

/* Every string of the pool is stored after its length (two bytes, little-endian, not counting the
 * NUL that ends it): a lookup compares and copies by length, without a strlen() over the image. */
#define SNAPSHOT_STRING_PREFIX 2u
#define SNAPSHOT_STRING_MAX    0xffffu

#define BUCKET_ANY        0x80000000u
#define BUCKET_ENTRY_MASK 0x7fffffffu

_Static_assert(sizeof(SnapshotHeader) % 8 == 0, "header must keep 8-byte alignment");
_Static_assert(sizeof(SnapshotEntryRecord) == 32, "entry record layout is part of the format");

#define KEY_HASH_SEED 0x9e3779b97f4a7c15ull
#define KEY_HASH_MUL  0xbf58476d1ce4e5b9ull

/* One step of the key hash: a multiply whose high half is folded back, so that every input bit
 * reaches the low 32 bits the tables use. */
static inline uint64_t key_mix(uint64_t h, uint64_t w)
{
        h = (h ^ w) * KEY_HASH_MUL;
        return h ^ (h >> 29);
}

/* The n bytes at s, eight at a time, on a chain of their own that starts from seed and the length
 * (so "a" and "a\0" hash apart): a multiply per word.  The last 1-7 bytes are read as two
 * overlapping 4-byte words or three single bytes, never beyond s + n (the strings are mapped up
 * to their NUL only). */
static inline uint64_t key_hash_bytes(uint64_t seed, const char *s, size_t n)
{
        uint64_t h = seed ^ (n * KEY_HASH_SEED), w = 0;

        for (; n > 8; s += 8, n -= 8) {
                memcpy(&w, s, 8);
                h = key_mix(h, w);
        }
        if (n == 8)
                memcpy(&w, s, 8);
        else if (n >= 4) {
                uint32_t a, b;
                memcpy(&a, s, 4);
                memcpy(&b, s + n - 4, 4);
                w = (uint64_t) a << 32 | b;
        } else if (n > 0)
                w = (uint64_t) (unsigned char) s[0] << 16 | (uint64_t) (unsigned char) s[n / 2] << 8 |
                    (unsigned char) s[n - 1];
        else
                w = 0;
        return key_mix(h, w);
}

/* The key and the protocol hash on two independent chains, joined by one last step: a short name
 * and its protocol cost the latency of two multiplies, not of four in a row.  A protocol of NULL
 * is "any" (length ~0, which no string has). */
static inline uint32_t key_hash_finish(uint64_t key, const char *protocol, size_t protocol_len)
{
        uint64_t p = protocol ? key_hash_bytes(KEY_HASH_MUL, protocol, protocol_len) : ~(uint64_t) 0;
        uint64_t h = key_mix(key, p ^ (p >> 32 | p << 32));

        return (uint32_t) (h ^ (h >> 32)) | 1u; /* never 0, so a zero bucket is empty whatever the value */
}

/* Keys hash word by word, not byte by byte: a lookup hashes its key once, and a multiply per
 * byte was the longest dependency chain of the whole lookup.  Collisions cost a string compare,
 * never a wrong answer: the lookups compare the strings of every entry the hash leads to.  The
 * lengths are strlen() of the strings, which the caller needs anyway. */
static inline uint32_t hash_name_key(
        const char *name, size_t name_len, const char *protocol, size_t protocol_len)
{
        return key_hash_finish(key_hash_bytes(KEY_HASH_SEED, name, name_len), protocol, protocol_len);
}

static inline uint32_t hash_port_key(uint16_t port, const char *protocol, size_t protocol_len)
{
        return key_hash_finish(key_mix(KEY_HASH_SEED, (uint64_t) port | 1u << 16), protocol, protocol_len);
}

static inline uint32_t bucket_start(uint32_t hash, uint32_t n_buckets)
{
        /* Multiply-shift maps the hash onto any table size without a division. */
        return (uint32_t) (((uint64_t) hash * n_buckets) >> 32);
}
