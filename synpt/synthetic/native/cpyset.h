/* An exact emulation of CPython 3.11's `set` of ints (Objects/setobject.c), for the iteration order the reference
 * writes into its data: `list(set(x) | set(y))` and friends (reference §2.7, quirk 6), and LIME's variable order.
 *
 * Why emulate: an int hashes to itself (except -1, which hashes to -2), so a set's order is a pure function of its
 * construction sequence (table size, linear probes, perturbed probing, resizes). Reproducing that sequence in C
 * gives the reference's bytes without building Python objects, and the same bytes under every Python version
 * (real sets of 3.12+ may differ). Only what the tasks use is emulated: set(list), add, |, &, -, `in`, list(). */
#ifndef SYNPT_CPYSET_H
#define SYNPT_CPYSET_H

#include "native.h"

#define PySet_MINSIZE 8

/* PySetObject, keeping only the keys (an int's hash is a function of its value). Holds its first table inside
 * itself (smalltable): never copy one by value. */
typedef struct {
    Py_ssize_t fill; /* active + dummy slots */
    Py_ssize_t used; /* active slots */
    size_t mask;     /* table size - 1 */
    int64_t *table;  /* one key per slot, or CSET_EMPTY / CSET_DUMMY */
    int64_t smalltable[PySet_MINSIZE];
} CSet;

#define CSET_EMPTY INT64_MIN       /* CPython's NULL key; never a key here, keys are int32 ids */
#define CSET_DUMMY (INT64_MIN + 1) /* CPython's `dummy`: a discarded slot */

/* The functions that can fail return -1 after kernel_no_memory (they run without the GIL). */
void cset_init(CSet *s);                                        /* set() */
void cset_free(CSet *s);                                        /* frees a grown table; then s is set() again */
int cset_from_list(CSet *s, const int32_t *keys, Py_ssize_t n); /* s = set(keys), s empty */
int cset_union(CSet *out, const CSet *a, const CSet *b);        /* out = a | b   (out empty) */
int cset_intersection(CSet *out, const CSet *a, const CSet *b); /* out = a & b   (out empty) */
int cset_difference(CSet *out, const CSet *a, const CSet *b);   /* out = a - b   (out empty) */
/* list(s) into out, which needs room for the whole table (s->mask + 1 ids); returns s->used. */
Py_ssize_t cset_list(const CSet *s, int32_t *out);
/* Adds every key to `seen` and writes to dst, in order, those that were new to it (and, with `within`, are in
 * `within`): the first occurrences. Returns how many, or -1. */
Py_ssize_t cset_add_new(CSet *seen, const int32_t *keys, Py_ssize_t n, const CSet *within, int32_t *dst);

#endif
