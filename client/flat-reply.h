/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One varlink reply of a known flat shape, {"parameters":{"KEY":{...}},"continues":BOOL}, read
 * straight from its text into a caller's struct: `portctl who` reads a hundred thousand rows, and
 * json-c (its tokenizer, a hash table per object, the frees) was half of its time.  It reads
 * strings and plain integers; whatever else it meets (another shape, a \u escape, a member twice
 * or unknown, a fraction) it declines, for json-c to read, so that only the cost differs.  It
 * accepts nothing that varlink-wire.c's strict reading refuses.  Pure: no I/O, for the unit test
 * and the fuzzer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct FlatMember {
        const char *key;
        bool integer; /* int64_t at offset; else a const char * (NUL-terminated, in the scratch) */
        size_t offset;
} FlatMember;

/* Where the strings go, unescaped: grown to the message's size, reused from one reply to the next. */
typedef struct FlatScratch {
        char *data;
        size_t allocated;
} FlatScratch;

void flat_scratch_done(FlatScratch *s);

/* Reads message (size bytes) into base: 1 when it has the shape (the members it has written to
 * base, the others left alone; *ret_continues set), 0 when not (base may be half written), -ENOMEM.
 * At most 32 members. */
int flat_reply_read(const char *message, size_t size, const char *key, const FlatMember *members,
        size_t n_members, void *base, FlatScratch *scratch, bool *ret_continues);
