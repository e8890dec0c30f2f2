/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading snapshot images: the catalog flattened into one position-independent blob with hash
 * indexes, read by the NSS module straight from a read-only mapping.  Everything read from an
 * image is bounds-checked first, against the reader's own copy of the header, and read once:
 * bytes that change under a shared mapping can make an answer wrong, never a read go outside
 * the image.  Checksums catch what changed before the read: the header's (with the table of page
 * checksums) when the image is opened, each page's either then (snapshot_open()) or when a
 * lookup first reads from it (snapshot_open_lazy(), which is how a large image is opened in the
 * time a small one takes).  Nothing here allocates.  The writer is snapshot-build.c, which the
 * module does not link. */

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "snapshot-format.h"
#include "snapshot.h"
#include "util.h"

#define CHECKSUM_P 0x9e3779b97f4a7c15ull
#define CHECKSUM_Q 0xc2b2ae3d27d4eb4full
#define CHECKSUM_LANES 8

/* Fletcher-style sums over 8-byte words in eight independent lanes: additions only, which the
 * compiler turns into vector code, so a page is checked in a few hundred nanoseconds. A flipped
 * bit changes the first sum of its lane; a moved word changes the second. */
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

/* Mixed between the two sums, so that equal differences in both cannot cancel; seed tells apart
 * equal bytes in different places (a page moved whole). */
static uint64_t checksum_finish(
        const uint64_t s1[static CHECKSUM_LANES], const uint64_t s2[static CHECKSUM_LANES], uint64_t seed)
{
        uint64_t r = seed;

        for (size_t l = 0; l < CHECKSUM_LANES; l++) {
                r = (r ^ s1[l]) * CHECKSUM_P;
                r ^= r >> 31;
                r = (r ^ s2[l]) * CHECKSUM_Q;
                r ^= r >> 29;
        }
        return r;
}

static uint32_t n_pages_of(uint64_t size)
{
        return (uint32_t) ((size + SNAPSHOT_PAGE_SIZE - 1) / SNAPSHOT_PAGE_SIZE);
}

/* Where the sections begin: after the header and the page checksum table right behind it, both
 * on the first page for any image under 16 MiB, which a first lookup reads anyway. */
static uint64_t body_start(uint64_t size)
{
        return sizeof(SnapshotHeader) + (uint64_t) n_pages_of(size) * sizeof(uint64_t);
}

/* The bytes of page k that its checksum covers: the page, less the header and the table (which
 * the header's checksum covers).  Whole 8-byte words: the image's size is a multiple of 8. */
static uint64_t page_sum(const uint8_t *base, uint64_t size, uint32_t k)
{
        uint64_t s1[CHECKSUM_LANES] = { 1, 2, 3, 4, 5, 6, 7, 8 }, s2[CHECKSUM_LANES] = { 0 };
        uint64_t from = MAX((uint64_t) k * SNAPSHOT_PAGE_SIZE, body_start(size)),
                 to = MIN((uint64_t) (k + 1) * SNAPSHOT_PAGE_SIZE, size);

        if (from < to)
                checksum_words(s1, s2, base + from, (size_t) (to - from) / 8);
        return checksum_finish(s1, s2, (uint64_t) k << 32 | (to > from ? to - from : 0));
}

/* Over the header as h holds it (checksum and superseded read as zero: the first holds the
 * result, the daemon flips the second in place after publishing) and the page checksum table,
 * whose bounds the caller checked. */
static uint64_t header_sum(const uint8_t *base, const SnapshotHeader *h)
{
        uint64_t s1[CHECKSUM_LANES] = { 1, 2, 3, 4, 5, 6, 7, 8 }, s2[CHECKSUM_LANES] = { 0 };
        SnapshotHeader c = *h;

        c.checksum = 0;
        c.superseded = 0;
        checksum_words(s1, s2, (const uint8_t *) &c, sizeof(c) / 8);
        checksum_words(s1, s2, base + h->page_sums_offset, n_pages_of(h->size));
        return checksum_finish(s1, s2, h->size);
}

/* count elements of elem bytes at offset, within [from, size). */
static bool section_ok(uint64_t from, uint64_t size, uint32_t offset, uint64_t count, uint64_t elem)
{
        if (offset % 4 != 0 || offset < from)
                return false;
        if (count > UINT32_MAX)
                return false;
        return (uint64_t) offset + count * elem <= size;
}

/* Where the writer and the checks of a signed image agree the table lies: right behind the
 * header, the image's size a multiple of 8 and large enough for both. */
static bool table_ok(const SnapshotHeader *h, size_t size)
{
        return h->size == size && size % 8 == 0 && h->page_sums_offset == sizeof(SnapshotHeader) &&
               body_start(size) <= size;
}

/* The header's own checks, on a copy h: magic, version, sizes, the table, and every section in
 * bounds behind it, so that every byte a lookup reads lies on a page that has a checksum. */
static bool layout_ok(const SnapshotHeader *h, const void *base, size_t size)
{
        if (!base || size < sizeof(SnapshotHeader) || ((uintptr_t) base % 8) != 0 || size > UINT32_MAX)
                return false;
        if (memcmp(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic)) != 0 || h->version != SNAPSHOT_VERSION ||
            h->header_size != sizeof(SnapshotHeader) || !table_ok(h, size))
                return false;
        uint64_t from = body_start(size);
        if (!section_ok(from, size, h->entries_offset, h->n_entries, sizeof(SnapshotEntryRecord)) ||
            !section_ok(from, size, h->aliases_offset, h->n_aliases, sizeof(uint32_t)) ||
            !section_ok(from, size, h->name_index_offset, h->n_name_buckets, sizeof(SnapshotBucket)) ||
            !section_ok(from, size, h->port_index_offset, h->n_port_buckets, sizeof(SnapshotBucket)) ||
            !section_ok(from, size, h->sources_offset, h->n_sources, sizeof(uint32_t)) ||
            !section_ok(from, size, h->strings_offset, h->strings_size, 1))
                return false;
        return h->n_entries <= BUCKET_ENTRY_MASK - 1 && h->n_name_buckets > 0 && h->n_port_buckets > 0 &&
               h->strings_size > 0;
}

int snapshot_sign(void *base, size_t size)
{
        SnapshotHeader *h = base;
        uint8_t *p = base;

        if (size < sizeof(SnapshotHeader) || size > UINT32_MAX || ((uintptr_t) base % 8) != 0 || !table_ok(h, size))
                return -EINVAL;
        for (uint32_t k = 0, n = n_pages_of(size); k < n; k++) {
                uint64_t sum = page_sum(p, size, k);
                memcpy(p + h->page_sums_offset + (size_t) k * sizeof(uint64_t), &sum, sizeof(sum));
        }
        h->checksum = header_sum(p, h);
        return 0;
}

size_t snapshot_body_offset(size_t size)
{
        return (size_t) body_start(size);
}

size_t snapshot_checks_size(size_t size)
{
        return offsetof(SnapshotChecks, bits) + (MIN(size, (size_t) UINT32_MAX) / SNAPSHOT_PAGE_SIZE + 1 + 63) / 64 * sizeof(uint64_t);
}

static bool page_right(const Snapshot *s, uint32_t k)
{
        uint64_t want;

        memcpy(&want, s->base + s->layout.page_sums_offset + (size_t) k * sizeof(uint64_t), sizeof(want));
        return page_sum(s->base, s->size, k) == want;
}

static int snapshot_open_internal(const void *base, size_t size, SnapshotChecks *checks, Snapshot *ret)
{
        SnapshotHeader h;

        if (!base || size < sizeof(SnapshotHeader))
                return -EBADMSG;
        /* One copy, checked and then used for every bound: the image's bytes may change under a
         * shared mapping, this copy cannot. */
        memcpy(&h, base, sizeof(h));
        if (!layout_ok(&h, base, size) || header_sum(base, &h) != h.checksum)
                return -EBADMSG;

        Snapshot s = {
                .base = base,
                .size = size,
                .header = base,
                .layout = h,
                .checks = checks,
                .n_pages = n_pages_of(size),
        };
        if (!checks)
                for (uint32_t k = 0; k < s.n_pages; k++)
                        if (!page_right(&s, k))
                                return -EBADMSG;
        *ret = s;
        return 0;
}

int snapshot_open(const void *base, size_t size, Snapshot *ret)
{
        return snapshot_open_internal(base, size, NULL, ret);
}

int snapshot_open_lazy(const void *base, size_t size, SnapshotChecks *checks, Snapshot *ret)
{
        if (!checks)
                return -EINVAL;
        return snapshot_open_internal(base, size, checks, ret);
}

static inline bool page_marked(const Snapshot *s, uint32_t k)
{
        return __atomic_load_n(&s->checks->bits[k / 64], __ATOMIC_RELAXED) & (UINT64_C(1) << (k % 64));
}

/* Out of line: it runs once per page and process. */
static __attribute__((noinline)) bool page_verify(const Snapshot *s, uint32_t k)
{
        if (!page_right(s, k))
                return false;
        (void) __atomic_fetch_or(&s->checks->bits[k / 64], UINT64_C(1) << (k % 64), __ATOMIC_RELAXED);
        return true;
}

/* Whether the reads of a lookup must check pages: not once all were found right. */
static inline bool checks_pending(const Snapshot *s)
{
        return s->checks && !__atomic_load_n(&s->checks->all, __ATOMIC_RELAXED);
}

/* After a lookup that checked pages: one more page of the image, in order, so that after as many
 * lookups as the image has pages every page was checked and the lookups stop checking (a page
 * found wrong keeps them checking for good).  Whoever takes the last page checks whatever is
 * still unmarked itself, so that "all" is never set while another thread's check is under way. */
static __attribute__((noinline)) void checks_sweep(const Snapshot *s)
{
        SnapshotChecks *c = s->checks;
        uint32_t k = __atomic_load_n(&c->next, __ATOMIC_RELAXED);

        if (k >= s->n_pages)
                return;
        k = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
        if (k >= s->n_pages)
                return;
        if (!page_marked(s, k))
                (void) page_verify(s, k);
        if (k + 1 < s->n_pages)
                return;
        for (uint32_t i = 0; i < s->n_pages; i++)
                if (!page_marked(s, i) && !page_verify(s, i))
                        return;
        __atomic_store_n(&c->all, 1u, __ATOMIC_RELAXED);
}

/* Out of line: a region on a page not checked yet, or on two pages. */
static __attribute__((noinline)) bool region_verify(const Snapshot *s, uint64_t off, uint64_t n)
{
        for (uint32_t k = (uint32_t) (off / SNAPSHOT_PAGE_SIZE), last = (uint32_t) ((off + n - 1) / SNAPSHOT_PAGE_SIZE);
                k <= last; k++)
                if (!page_marked(s, k) && !page_verify(s, k))
                        return false;
        return true;
}

/* Whether the n > 0 bytes at off, which the caller has checked lie before the page checksum
 * table, may be read: every page they touch was found right, now or earlier.  checked:
 * checks_pending() as the lookup found it, false when no page needs checking any more; the
 * lookups are inlined once for each, so the common case carries no test at all. */
static inline __attribute__((always_inline)) bool region_ok(const Snapshot *s, bool checked, uint64_t off, uint64_t n)
{
        if (!checked)
                return true;
        uint32_t k = (uint32_t) (off / SNAPSHOT_PAGE_SIZE);
        if (_likely_(k == (uint32_t) ((off + n - 1) / SNAPSHOT_PAGE_SIZE) && page_marked(s, k)))
                return true;
        return region_verify(s, off, n);
}

int snapshot_verify_all(const Snapshot *s)
{
        if (!checks_pending(s))
                return 0;
        for (uint32_t k = 0; k < s->n_pages; k++)
                if (!region_ok(s, true, (uint64_t) k * SNAPSHOT_PAGE_SIZE, 1))
                        return -EBADMSG;
        __atomic_store_n(&s->checks->all, 1u, __ATOMIC_RELAXED);
        return 0;
}

/* Whether the string of len bytes at off of the pool, with the length before it and the NUL
 * after it, lies inside the pool.  One comparison for both ends: off - 2 is taken in 32 bits, so
 * that an off below 2 wraps to more than any pool holds. */
static inline __attribute__((always_inline)) bool string_in_pool(const Snapshot *s, uint32_t off, uint32_t len)
{
        return (uint64_t) (uint32_t) (off - SNAPSHOT_STRING_PREFIX) + SNAPSHOT_STRING_PREFIX + len <
               s->layout.strings_size;
}

/* Whether the pages of that string, its length and its NUL (inside the pool: string_in_pool())
 * may be read (region_ok()). */
static inline __attribute__((always_inline)) bool string_region_ok(
        const Snapshot *s, bool checked, uint32_t off, uint32_t len)
{
        return region_ok(s, checked, (uint64_t) s->layout.strings_offset + off - SNAPSHOT_STRING_PREFIX,
                (uint64_t) len + 1 + SNAPSHOT_STRING_PREFIX);
}

/* The string at off with the length stored before it, checked: the length must end at a NUL
 * inside the pool, and its pages must be right.  Then a compare and a copy need no strlen(), and
 * nothing relies on a NUL that a changed byte could remove. */
static inline __attribute__((always_inline)) const char *string_at(
        const Snapshot *s, bool checked, uint32_t off, uint32_t *ret_len)
{
        const uint8_t *pool = s->base + s->layout.strings_offset;
        uint64_t at = (uint64_t) s->layout.strings_offset + off;
        uint32_t len;

        if (off < SNAPSHOT_STRING_PREFIX || off >= s->layout.strings_size || !region_ok(s, checked, at - 2, 2))
                return NULL;
        len = pool[off - 2] | (uint32_t) pool[off - 1] << 8;
        if (!string_in_pool(s, off, len))
                return NULL;
        /* Mostly on the page of its length, just checked. */
        if ((at - 2) / SNAPSHOT_PAGE_SIZE != (at + len) / SNAPSHOT_PAGE_SIZE && !string_region_ok(s, checked, off, len))
                return NULL;
        if (pool[off + len] != '\0')
                return NULL;
        *ret_len = len;
        return (const char *) pool + off;
}

/* Element i of the uint32_t section at offset with count elements; false when out of bounds or
 * on a page found wrong. */
static inline __attribute__((always_inline)) bool table_read(
        const Snapshot *s, bool checked, uint32_t offset, uint32_t count, uint64_t i, uint32_t *ret)
{
        if (i >= count || !region_ok(s, checked, offset + i * sizeof(uint32_t), sizeof(uint32_t)))
                return false;
        memcpy(ret, s->base + offset + i * sizeof(uint32_t), sizeof(uint32_t));
        return true;
}

/* Zero when the length stored before the string at off (inside the pool: string_in_pool()) is
 * len, and, with nul, when a NUL follows its len bytes.  Not a bound (no address waits for these
 * reads), but a page is checksummed once, and the bytes of a checked page changed in place
 * afterwards (root writing into the published file) must not pass for a string on the strength
 * of one byte that happens to be NUL.  Nonzero otherwise, so that the lookups test two strings
 * with one branch. */
static inline __attribute__((always_inline)) uint32_t string_misframed(
        const uint8_t *pool, uint32_t off, uint32_t len, bool nul)
{
        uint16_t stored;

        memcpy(&stored, pool + off - SNAPSHOT_STRING_PREFIX, sizeof(stored));
        return ((uint32_t) le16toh(stored) ^ len) | (nul ? pool[off + len] : 0);
}

/* Whether the NULs after the record's name and protocol are missing. */
static inline __attribute__((always_inline)) bool record_nuls_missing(
        const SnapshotEntryRecord *r, const char *name, const char *protocol)
{
        return (name[r->name_len] | protocol[r->protocol_len]) != '\0';
}

/* Inlined into both lookups: it runs once per probe that meets the key's hash.  The record is
 * read once, into *ret_record: what was checked is what is used.  Its name and protocol are
 * checked here (their bytes read without waiting for a length read from the pool first: the
 * record holds both lengths), the bounds of both and of its aliases with one branch, the lengths
 * stored before them, with nuls their NULs too, with one more; the lookups compare them before
 * anything else is made of the record, and build an entry (entry_make()) only for the one they
 * return.  Without nuls the caller checks the NULs itself (lookup_name(), whose compares
 * include them). */
static inline __attribute__((always_inline)) int record_read(const Snapshot *s, bool checked, bool nuls,
        uint32_t index, SnapshotEntryRecord *ret_record, const char **ret_name, const char **ret_protocol)
{
        const SnapshotHeader *h = &s->layout;
        const uint8_t *pool = s->base + h->strings_offset;
        uint64_t at = (uint64_t) h->entries_offset + (uint64_t) index * sizeof(SnapshotEntryRecord);

        if (index >= h->n_entries)
                return -ENOENT;
        if (!region_ok(s, checked, at, sizeof(SnapshotEntryRecord)))
                return -EBADMSG;
        memcpy(ret_record, s->base + at, sizeof(SnapshotEntryRecord));

        const SnapshotEntryRecord *r = ret_record;
        if (!((unsigned) string_in_pool(s, r->name, r->name_len) &
                    (unsigned) string_in_pool(s, r->protocol, r->protocol_len) &
                    (unsigned) ((uint64_t) r->aliases + r->n_aliases <= h->n_aliases)))
                return -EBADMSG;
        if (!string_region_ok(s, checked, r->name, r->name_len) ||
            !string_region_ok(s, checked, r->protocol, r->protocol_len))
                return -EBADMSG;
        if ((string_misframed(pool, r->name, r->name_len, nuls) |
                    string_misframed(pool, r->protocol, r->protocol_len, nuls)) != 0)
                return -EBADMSG;
        *ret_name = (const char *) pool + r->name;
        *ret_protocol = (const char *) pool + r->protocol;
        return 0;
}

/* The source is not read here: only listings want it (snapshot_entry_source()). */
static inline __attribute__((always_inline)) SnapshotEntry entry_make(
        const SnapshotEntryRecord *r, const char *name, const char *protocol, uint32_t index)
{
        return (SnapshotEntry){
                .name = name,
                .protocol = protocol,
                .name_len = r->name_len,
                .protocol_len = r->protocol_len,
                .port = r->port,
                .n_aliases = r->n_aliases,
                .aliases_index = r->aliases,
                .source_index = r->source,
                .line = r->line,
                .index = index,
        };
}

static inline __attribute__((always_inline)) int entry_read(
        const Snapshot *s, bool checked, uint32_t index, SnapshotEntry *ret)
{
        SnapshotEntryRecord r;
        const char *name, *protocol;
        int k = record_read(s, checked, true, index, &r, &name, &protocol);

        if (k < 0)
                return k;
        *ret = entry_make(&r, name, protocol, index);
        return 0;
}

int snapshot_entry(const Snapshot *s, uint32_t index, SnapshotEntry *ret)
{
        if (!checks_pending(s))
                return entry_read(s, false, index, ret);
        int r = entry_read(s, true, index, ret);
        checks_sweep(s);
        return r;
}

const char *snapshot_entry_source(const Snapshot *s, const SnapshotEntry *e)
{
        uint32_t off, len;
        const char *p = NULL;

        if (table_read(s, checks_pending(s), s->layout.sources_offset, s->layout.n_sources, e->source_index, &off))
                p = string_at(s, checks_pending(s), off, &len);
        return p ?: "";
}

/* Alias i of the n_aliases from the alias table's element first on. */
static inline __attribute__((always_inline)) const char *alias_at_index(
        const Snapshot *s, bool checked, uint32_t first, uint32_t n_aliases, uint32_t i, uint32_t *ret_len)
{
        uint32_t off;

        if (i >= n_aliases ||
            !table_read(s, checked, s->layout.aliases_offset, s->layout.n_aliases, (uint64_t) first + i, &off))
                return NULL;
        return string_at(s, checked, off, ret_len);
}

static inline __attribute__((always_inline)) const char *alias_at(
        const Snapshot *s, bool checked, const SnapshotEntry *e, uint32_t i, uint32_t *ret_len)
{
        return alias_at_index(s, checked, e->aliases_index, e->n_aliases, i, ret_len);
}

const char *snapshot_entry_alias_len(
        const Snapshot *s, const SnapshotEntry *e, uint32_t i, uint32_t *ret_len)
{
        return alias_at(s, checks_pending(s), e, i, ret_len);
}

const char *snapshot_entry_alias(const Snapshot *s, const SnapshotEntry *e, uint32_t i)
{
        uint32_t len;

        return snapshot_entry_alias_len(s, e, i, &len);
}

/* The n >= 1 bytes at a and b, up to 32 as overlapping words from each end (nothing outside the
 * n bytes is read), without a call: names and protocols are short. */
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
        if (n >= 2 && n < 4) {
                uint16_t a0, a1, b0, b1;
                memcpy(&a0, a, 2);
                memcpy(&a1, a + n - 2, 2);
                memcpy(&b0, b, 2);
                memcpy(&b1, b + n - 2, 2);
                return ((a0 ^ b0) | (a1 ^ b1)) == 0;
        }
        if (n == 1)
                return a[0] == b[0];
        if (n > 16 && n <= 32)
                return bytes_equal(a, b, 16) && bytes_equal(a + n - 16, b + n - 16, 16);
        return memcmp(a, b, n) == 0;
}

/* a is a string of the image whose a_len bytes and the byte after them lie inside the pool
 * (string_in_pool() or string_at() checked); b is the caller's C string of b_len bytes.  Equal
 * with their NULs: b has one at b[b_len], so a match also checks that a has one at a[a_len], and
 * lookup_name() reads no NUL of its own on a hit. */
static inline bool string_equal(const char *a, uint32_t a_len, const char *b, size_t b_len)
{
        return a_len == b_len && bytes_equal(a, b, b_len + 1);
}

/* 1 when name is the record r's name (at r_name) or one of its aliases, 0 when not, -EBADMSG when
 * an alias cannot be read: a key whose hash led here and that is unreadable is a doubt, not a
 * miss. */
static inline __attribute__((always_inline)) int entry_has_name(const Snapshot *s, bool checked,
        const SnapshotEntryRecord *r, const char *r_name, const char *name, size_t name_len)
{
        if (_likely_(string_equal(r_name, r->name_len, name, name_len)))
                return 1;
        for (uint32_t i = 0; i < r->n_aliases; i++) {
                uint32_t len;
                const char *a = alias_at_index(s, checked, r->aliases, r->n_aliases, i, &len);
                if (!a)
                        return -EBADMSG;
                if (string_equal(a, len, name, name_len))
                        return 1;
        }
        return 0;
}

static inline __attribute__((always_inline)) int lookup_name(
        const Snapshot *s, bool checked, const char *name, const char *protocol, SnapshotEntry *ret)
{
        const SnapshotHeader *h = &s->layout;
        uint32_t table = h->name_index_offset;
        size_t name_len = string_length(name), protocol_len = protocol ? string_length(protocol) : 0;
        uint32_t hash = hash_name_key(name, name_len, protocol, protocol_len), n = h->n_name_buckets;
        uint32_t any = protocol ? 0 : BUCKET_ANY;

        /* Linear probing, bounded by the table size so that a hostile table without an empty
         * bucket still ends. */
        for (uint32_t i = 0, b = bucket_start(hash, n); i < n; i++, b = b + 1 == n ? 0 : b + 1) {
                uint64_t at = table + (uint64_t) b * sizeof(SnapshotBucket);
                SnapshotBucket bk;
                if (!region_ok(s, checked, at, sizeof(bk)))
                        return -EBADMSG;
                memcpy(&bk, s->base + at, sizeof(bk));
                if (bk.value == 0)
                        return -ENOENT;
                if (bk.hash != hash || (bk.value & BUCKET_ANY) != any)
                        continue;
                uint32_t index = (bk.value & BUCKET_ENTRY_MASK) - 1;
                SnapshotEntryRecord rec;
                const char *e_name, *e_protocol;
                if (record_read(s, checked, false, index, &rec, &e_name, &e_protocol) < 0)
                        return -EBADMSG;
                bool protocol_equal = !protocol || string_equal(e_protocol, rec.protocol_len, protocol, protocol_len);
                /* The hit: both strings compared with their NULs, but for a protocol of "any". */
                if (_likely_(protocol_equal && string_equal(e_name, rec.name_len, name, name_len) &&
                             (protocol || e_protocol[rec.protocol_len] == '\0'))) {
                        *ret = entry_make(&rec, e_name, e_protocol, index);
                        return 0;
                }
                /* Anything else reads the NULs first, as record_read() does for the other lookups:
                 * a record whose strings lost theirs is a doubt, whatever it holds. */
                if (record_nuls_missing(&rec, e_name, e_protocol))
                        return -EBADMSG;
                if (!protocol_equal)
                        continue;
                int r = entry_has_name(s, checked, &rec, e_name, name, name_len);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = entry_make(&rec, e_name, e_protocol, index);
                        return 0;
                }
        }
        return -ENOENT;
}

static inline __attribute__((always_inline)) int lookup_port(
        const Snapshot *s, bool checked, uint16_t port, const char *protocol, SnapshotEntry *ret)
{
        const SnapshotHeader *h = &s->layout;
        uint32_t table = h->port_index_offset;
        size_t protocol_len = protocol ? string_length(protocol) : 0;
        uint32_t hash = hash_port_key(port, protocol, protocol_len), n = h->n_port_buckets;
        uint32_t any = protocol ? 0 : BUCKET_ANY;

        for (uint32_t i = 0, b = bucket_start(hash, n); i < n; i++, b = b + 1 == n ? 0 : b + 1) {
                uint64_t at = table + (uint64_t) b * sizeof(SnapshotBucket);
                SnapshotBucket bk;
                if (!region_ok(s, checked, at, sizeof(bk)))
                        return -EBADMSG;
                memcpy(&bk, s->base + at, sizeof(bk));
                if (bk.value == 0)
                        return -ENOENT;
                if (bk.hash != hash || (bk.value & BUCKET_ANY) != any)
                        continue;
                uint32_t index = (bk.value & BUCKET_ENTRY_MASK) - 1;
                SnapshotEntryRecord rec;
                const char *e_name, *e_protocol;
                if (record_read(s, checked, true, index, &rec, &e_name, &e_protocol) < 0)
                        return -EBADMSG;
                if (rec.port == port &&
                        (!protocol || string_equal(e_protocol, rec.protocol_len, protocol, protocol_len))) {
                        *ret = entry_make(&rec, e_name, e_protocol, index);
                        return 0;
                }
        }
        return -ENOENT;
}

/* Each lookup twice: without a page check once every page was found right, which is what a
 * process that looks up more than a few hundred times runs; with them until then. */
int snapshot_lookup_name(const Snapshot *s, const char *name, const char *protocol, SnapshotEntry *ret)
{
        if (_likely_(!checks_pending(s)))
                return lookup_name(s, false, name, protocol, ret);
        int r = lookup_name(s, true, name, protocol, ret);
        checks_sweep(s);
        return r;
}

int snapshot_lookup_port(const Snapshot *s, uint16_t port, const char *protocol, SnapshotEntry *ret)
{
        if (_likely_(!checks_pending(s)))
                return lookup_port(s, false, port, protocol, ret);
        int r = lookup_port(s, true, port, protocol, ret);
        checks_sweep(s);
        return r;
}
