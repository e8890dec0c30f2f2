/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The snapshot: an immutable, position-independent image of one catalog with hash indexes,
 * written by the daemon (snapshot-build.h) and mapped read-only by the NSS module. The reader
 * trusts nothing: every offset is checked against the mapped size before it is followed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux 5.1; glibc 2.36's headers lack it. The daemon seals its images with it so that no
 * client can write them while its own earlier mapping still can flip "superseded". */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* Where the daemon publishes its image as a file, when every caller gets the same one: the
 * socket's path with this appended (/run/portd/io.portd.Services.snapshot). */
#define SNAPSHOT_PUBLISHED_SUFFIX ".snapshot"

#define SNAPSHOT_MAGIC "PORTDSNP"
/* 2: keys hash word by word (snapshot-format.h). */
#define SNAPSHOT_VERSION 2u

typedef struct SnapshotHeader {
        char magic[8];
        uint32_t version;
        uint32_t header_size;
        uint64_t size; /* of the whole image */
        uint64_t generation;
        uint64_t checksum; /* over the image with this field and superseded read as zero */
        uint32_t superseded; /* set by the daemon, in place, once a newer generation exists */
        uint32_t n_entries;
        uint32_t entries_offset;
        uint32_t n_aliases;
        uint32_t aliases_offset;
        uint32_t n_name_buckets;
        uint32_t name_index_offset;
        uint32_t n_port_buckets;
        uint32_t port_index_offset;
        uint32_t n_sources;
        uint32_t sources_offset;
        uint32_t strings_size;
        uint32_t strings_offset;
        uint32_t reserved;
} SnapshotHeader;

/* A validated view of an image; plain pointers into it. */
typedef struct Snapshot {
        const uint8_t *base;
        size_t size;
        const SnapshotHeader *header;
} Snapshot;

/* One entry as read from an image. aliases are read with snapshot_entry_alias(). */
typedef struct SnapshotEntry {
        const char *name;
        const char *protocol;
        uint32_t name_len; /* strlen() of each, as stored in the image */
        uint32_t protocol_len;
        uint16_t port; /* host byte order */
        uint32_t n_aliases;
        uint32_t aliases_index;
        const char *source; /* path, or "" */
        uint32_t line;
        uint32_t index; /* position in the enumeration order */
} SnapshotEntry;

/* Checks magic, version, sizes, section bounds and the checksum. -EBADMSG when it is not
 * an image this code can read. */
int snapshot_open(const void *base, size_t size, Snapshot *ret);

/* The checksum snapshot_build() (snapshot-build.h) stores; exposed for tests and the fuzzer. */
uint64_t snapshot_checksum(const void *base, size_t size);

static inline bool snapshot_is_superseded(const Snapshot *s)
{
        return __atomic_load_n(&s->header->superseded, __ATOMIC_ACQUIRE) != 0;
}

static inline uint32_t snapshot_n_entries(const Snapshot *s)
{
        return s->header->n_entries;
}

/* 0 and *ret on a match, -ENOENT when none, -EBADMSG when the image is inconsistent. */
int snapshot_lookup_name(const Snapshot *s, const char *name, const char *protocol, SnapshotEntry *ret);
int snapshot_lookup_port(const Snapshot *s, uint16_t port, const char *protocol, SnapshotEntry *ret);
int snapshot_entry(const Snapshot *s, uint32_t index, SnapshotEntry *ret);
/* NULL when out of bounds. */
const char *snapshot_entry_alias(const Snapshot *s, const SnapshotEntry *e, uint32_t i);
/* The same with its length as stored in the image. */
const char *snapshot_entry_alias_len(
        const Snapshot *s, const SnapshotEntry *e, uint32_t i, uint32_t *ret_len);
