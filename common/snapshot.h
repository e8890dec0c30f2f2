/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The snapshot: an immutable, position-independent image of one catalog with hash indexes,
 * written by the daemon (snapshot-build.h) and mapped read-only by the NSS module. The reader
 * trusts nothing: every offset is checked against the image's size before it is followed, and
 * the layout it checks them against is its own copy of the header, taken when it opened the
 * image, so that bytes changing under a shared mapping cannot move a bound. */
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
/* 2: keys hash word by word (snapshot-format.h).  3: a checksum per page, so that a reader checks
 * only the pages it reads (snapshot_open_lazy()).  4: key and protocol hash on chains of their
 * own; an entry's record holds the lengths of its name and protocol. */
#define SNAPSHOT_VERSION 4u

/* The unit of the page checksums: a part of the format, not the machine's page size. */
#define SNAPSHOT_PAGE_SIZE 4096u

typedef struct SnapshotHeader {
        char magic[8];
        uint32_t version;
        uint32_t header_size;
        uint64_t size; /* of the whole image */
        uint64_t generation;
        uint64_t checksum; /* over this header, with this field and superseded read as zero, and
                            * the page checksum table */
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
        /* The table of page checksums, right behind the header (this offset is its size): one
         * uint64_t for each SNAPSHOT_PAGE_SIZE page of the image, over the page's bytes other
         * than the header and the table (covered by the checksum above).  The sections follow
         * the table. */
        uint32_t page_sums_offset;
} SnapshotHeader;

/* Which pages of a lazily opened image were found right; shared by the threads reading it.
 * Zeroed memory of snapshot_checks_size() bytes. */
typedef struct SnapshotChecks {
        uint32_t all;    /* every page was found right: the lookups check none any more */
        uint32_t next;   /* the next page checks_sweep() checks */
        uint64_t bits[]; /* one per page, set once the page was found right */
} SnapshotChecks;

/* A validated view of an image; plain pointers into it. */
typedef struct Snapshot {
        const uint8_t *base;
        size_t size;
        const SnapshotHeader *header; /* in the image: only its superseded word is read there */
        SnapshotHeader layout;        /* the header as it was checked, which every bound comes from */
        SnapshotChecks *checks; /* NULL when every page was checked when the image was opened */
        uint32_t n_pages;
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
        uint32_t source_index; /* read with snapshot_entry_source() */
        uint32_t line;
        uint32_t index; /* position in the enumeration order */
} SnapshotEntry;

/* Checks magic, version, sizes, section bounds, the header's checksum and every page's.
 * -EBADMSG when it is not an image this code can read. */
int snapshot_open(const void *base, size_t size, Snapshot *ret);

/* The same, but each page's checksum is checked only when a lookup first reads from the page,
 * and each lookup that checked pages checks one more, in order, until all were found right:
 * opening a large image then costs the header, not a pass over all of it, and a process that
 * looks up a few hundred times ends up with the lookups of an image checked whole.  checks:
 * zeroed memory of snapshot_checks_size(size) bytes, which must outlive *ret.  A page found
 * wrong makes the read that needed it fail with -EBADMSG. */
int snapshot_open_lazy(const void *base, size_t size, SnapshotChecks *checks, Snapshot *ret);
size_t snapshot_checks_size(size_t size);
/* Checks every page of a lazily opened image not checked yet: for a reader about to read all of
 * it.  0, or -EBADMSG when a page is wrong. */
int snapshot_verify_all(const Snapshot *s);

/* Fills in the page checksums and the header's checksum of an image whose header and sections
 * are written: for the writer (snapshot-build.c), the tests and the fuzzer.  size must be the
 * header's size, a multiple of 8, with page_sums_offset sizeof(SnapshotHeader); -EINVAL
 * otherwise. */
int snapshot_sign(void *base, size_t size);
/* Where the sections of an image of size bytes may begin: behind the header and its table of
 * page checksums. */
size_t snapshot_body_offset(size_t size);

static inline bool snapshot_is_superseded(const Snapshot *s)
{
        return __atomic_load_n(&s->header->superseded, __ATOMIC_ACQUIRE) != 0;
}

static inline uint32_t snapshot_n_entries(const Snapshot *s)
{
        return s->layout.n_entries;
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
/* The path of the file the entry came from, or "". */
const char *snapshot_entry_source(const Snapshot *s, const SnapshotEntry *e);
