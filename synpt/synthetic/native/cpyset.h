/* An exact emulation of CPython 3.11's `set` of ints (Objects/setobject.c), for the iteration order the reference
 * writes into its data: `list(set(x) | set(y))` and friends (reference §2.7, quirk 6). Never copy a CSet by value:
 * small tables live inside the struct.
 *
 * Why emulate: an int hashes to itself (except -1, which hashes to -2), so a set's order is a pure function of its
 * construction sequence (table size, linear probes, perturbed probing, resizes). Reproducing that sequence in C
 * gives the reference's bytes without building Python objects, and the same bytes under every Python version
 * (real sets of 3.12+ may differ).
 * Only what the tasks use is emulated: set(list), add, copy, |, &, -, membership and list().
 *
 * A key is an int32 id in the low 32 bits of an int64; the upper 32 bits may carry a caller's payload (the set
 * operations store a token's local index there), which hashing ignores and copies keep. Keys with a payload
 * compare equal only with the same payload, so one id must always carry the same payload within a set and the
 * sets it meets. */
#ifndef SYNPT_CPYSET_H
#define SYNPT_CPYSET_H

#include "native.h"

#define CSET_MINSIZE 8 /* PySet_MINSIZE */
#define CSET_ARENA 512 /* tables up to this size live inside the CSet (every table of the paper's lengths) */

/* Which slots are occupied is kept in a bitmap beside the keys, so resizing, copying and listing visit only the
 * occupied slots (in slot order, via count-trailing-zeros) and an empty table is a few zeroed words. */
typedef struct {
    int64_t *keys;   /* key per slot, meaningful where `bits` is set; CSET_DUMMY marks a discarded slot */
    uint64_t *bits;  /* occupancy (active or dummy), one bit per slot */
    size_t mask;     /* table size - 1 */
    Py_ssize_t fill; /* active + dummy slots */
    Py_ssize_t used; /* active slots */
    int arena;       /* which arena holds the table: 0 or 1, or -1 (small table or heap) */
    int64_t small_keys[CSET_MINSIZE];
    uint64_t small_bits[1];
    int64_t arena_keys[2][CSET_ARENA];
    uint64_t arena_bits[2][CSET_ARENA / 64];
} CSet;

#define CSET_DUMMY INT64_MIN /* never a key: keys are int32 ids */

void cset_init(CSet *s);                                    /* set() */
void cset_free(CSet *s);                                    /* frees a grown table; s may be reused after init */
int cset_from_list(CSet *s, const int32_t *keys, Py_ssize_t n); /* s = set(keys), s initialised by the caller */
int cset_contains(const CSet *s, int64_t key);              /* key in s */
/* Adds every key to `seen` and writes to dst, in order, those that were new to it (and, with `within`, are in
 * `within`): first occurrences by the set's own bookkeeping (a key is new exactly when adding it grows `used`).
 * Returns how many, or -1 after kernel_no_memory. */
Py_ssize_t cset_add_new(CSet *seen, const int32_t *keys, Py_ssize_t n, const CSet *within, int32_t *dst);
int cset_union(CSet *out, const CSet *a, const CSet *b);    /* out = a | b   (out initialised, empty) */
int cset_intersection(CSet *out, const CSet *a, const CSet *b); /* out = a & b */
int cset_difference(CSet *out, const CSet *a, const CSet *b);   /* out = a - b */
Py_ssize_t cset_list(const CSet *s, int32_t *out);          /* list(s) into out (room for s->used); returns used */

/* The same operations for callers that already know membership (e.g. from a stamp table), which skips the probing
 * comparisons: adding a key that is not in the set is CPython's set_add_entry walking to the first free slot. */
int cset_add_absent(CSet *s, const int64_t *keys, Py_ssize_t n); /* s.add(k) for each k of keys, none in s, no dummies */
Py_ssize_t cset_keys(const CSet *s, int64_t *out);          /* the stored keys, payloads included, in slot order */
int cset_copy(CSet *out, const CSet *a);                    /* out = set(a) (set_copy), out initialised, empty */
int cset_become_copy(CSet *s);                              /* s = set(s): the table set_copy would build */
int cset_presize(CSet *so, Py_ssize_t other_used);          /* set_merge's one resize before adding `other` */

#endif
