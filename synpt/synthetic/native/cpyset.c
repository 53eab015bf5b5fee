/* CPython 3.11's set algorithm for int keys (see cpyset.h). Names and constants follow Objects/setobject.c, so
 * each function can be read side by side with its original: set_add_entry, set_insert_clean, set_lookkey,
 * set_table_resize, set_merge (copy and |), set_intersection (&), set_difference, set_copy_and_difference and
 * set_discard_entry (-). Where CPython compares hashes before keys, this compares keys (same outcome for ints). */
#include "cpyset.h"

#define LINEAR_PROBES 9
#define PERTURB_SHIFT 5

/* hash(int) for an int32 id. */
static inline size_t set_hash(int64_t key) { return (size_t)(key == -1 ? -2 : key); }

static inline int is_active(int64_t key) { return key > CSET_DUMMY; } /* neither CSET_EMPTY nor CSET_DUMMY */

/* Iterating a set (set_next) visits the active keys in slot order. Here the active keys are first copied into an
 * array (keys: room for mask + 1; may be the table itself, which it then overwrites) by a loop without a branch,
 * as whether a slot is taken is a coin toss that a branch would mispredict every other slot. Returns how many. */
static Py_ssize_t table_keys(const int64_t *table, size_t mask, int64_t *keys) {
    Py_ssize_t n = 0;
    for (size_t i = 0; i <= mask; i++) {
        keys[n] = table[i];
        n += is_active(table[i]);
    }
    return n;
}

/* The active keys of s in a new array (free it with PyMem_RawFree), their count in *n; NULL if out of memory. */
static int64_t *set_keys(const CSet *s, Py_ssize_t *n) {
    int64_t *keys = PyMem_RawMalloc((s->mask + 1) * sizeof(int64_t));
    if (keys) *n = table_keys(s->table, s->mask, keys);
    else kernel_no_memory();
    return keys;
}

void cset_init(CSet *s) {
    s->fill = s->used = 0;
    s->mask = PySet_MINSIZE - 1;
    s->table = s->smalltable;
    for (int i = 0; i < PySet_MINSIZE; i++) s->smalltable[i] = CSET_EMPTY;
}

void cset_free(CSet *s) {
    if (s->table != s->smalltable) PyMem_RawFree(s->table);
    cset_init(s);
}

/* set_insert_clean: place a key known to be absent into a table without dummies. */
static void set_insert_clean(int64_t *table, size_t mask, int64_t key) {
    size_t hash = set_hash(key), perturb = hash, i = hash & mask;
    int64_t *entry;
    while (1) {
        entry = &table[i];
        if (*entry == CSET_EMPTY) goto found_null;
        if (i + LINEAR_PROBES <= mask) {
            for (int j = 0; j < LINEAR_PROBES; j++) {
                entry++;
                if (*entry == CSET_EMPTY) goto found_null;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
found_null:
    *entry = key;
}

/* set_table_resize: the smallest power-of-two table (>= 8) larger than `minused`; the active keys re-inserted in
 * slot order, dummies dropped. */
static int set_table_resize(CSet *so, Py_ssize_t minused) {
    size_t newsize = PySet_MINSIZE;
    while (newsize <= (size_t)minused) newsize <<= 1;
    int64_t *oldtable = so->table, *newtable, small_copy[PySet_MINSIZE];
    const size_t oldmask = so->mask;
    const int is_oldtable_malloced = oldtable != so->smalltable;
    if (newsize == PySet_MINSIZE) {
        newtable = so->smalltable;
        if (newtable == oldtable) {
            if (so->fill == so->used) return 0; /* no dummies: nothing to do */
            memcpy(small_copy, oldtable, sizeof(small_copy));
            oldtable = small_copy;
        }
    } else {
        newtable = PyMem_RawMalloc(newsize * sizeof(int64_t));
        if (!newtable) return kernel_no_memory();
    }
    for (size_t i = 0; i < newsize; i++) newtable[i] = CSET_EMPTY;
    so->mask = newsize - 1;
    so->table = newtable;
    so->fill = so->used;
    const Py_ssize_t n = table_keys(oldtable, oldmask, oldtable); /* the old table is dropped: reuse its memory */
    for (Py_ssize_t j = 0; j < n; j++) set_insert_clean(newtable, so->mask, oldtable[j]);
    if (is_oldtable_malloced) PyMem_RawFree(oldtable);
    return 0;
}

/* set_add_entry: probe slots i..i+9 (when they exist), then the perturbed jump; a new key takes the first dummy
 * met on the way, else the empty slot that ended the search, and the table grows once 5 * fill >= 3 * mask. */
static inline int set_add_entry(CSet *so, int64_t key) {
    const size_t hash = set_hash(key), mask = so->mask;
    size_t perturb = hash, i = hash & mask;
    int64_t *entry, *freeslot = NULL;
    while (1) {
        entry = &so->table[i];
        int probes = (i + LINEAR_PROBES <= mask) ? LINEAR_PROBES : 0;
        do {
            if (*entry == CSET_EMPTY) goto found_unused_or_dummy;
            if (*entry == key) return 0; /* found_active */
            if (*entry == CSET_DUMMY && freeslot == NULL) freeslot = entry;
            entry++;
        } while (probes--);
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
found_unused_or_dummy:
    if (freeslot != NULL) {
        so->used++;
        *freeslot = key;
        return 0;
    }
    so->fill++; /* found_unused */
    so->used++;
    *entry = key;
    if ((size_t)so->fill * 5 < mask * 3) return 0;
    return set_table_resize(so, so->used > 50000 ? so->used * 2 : so->used * 4);
}

int cset_from_list(CSet *s, const int32_t *keys, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        if (set_add_entry(s, keys[j]) < 0) return -1;
    }
    return 0;
}

/* set_lookkey: the slot holding `key`, or the empty slot that ends its probe sequence. */
static inline int64_t *set_lookkey(const CSet *so, int64_t key) {
    const size_t hash = set_hash(key), mask = so->mask;
    size_t perturb = hash, i = hash & mask;
    while (1) {
        int64_t *entry = &so->table[i];
        int probes = (i + LINEAR_PROBES <= mask) ? LINEAR_PROBES : 0;
        do {
            if (*entry == CSET_EMPTY || *entry == key) return entry;
            entry++;
        } while (probes--);
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* set_merge(so, other): `so.update(other)` for a set `other`; set_copy is a merge into an empty set. */
static int set_merge(CSet *so, const CSet *other) {
    if (other->used == 0) return 0;
    /* one big resize at the start rather than incremental ones */
    if ((size_t)(so->fill + other->used) * 5 >= so->mask * 3) {
        if (set_table_resize(so, (so->used + other->used) * 2) < 0) return -1;
    }
    /* empty, same size, no dummies in other: the same slots */
    if (so->fill == 0 && so->mask == other->mask && other->fill == other->used) {
        memcpy(so->table, other->table, (other->mask + 1) * sizeof(int64_t));
        so->fill = other->fill;
        so->used = other->used;
        return 0;
    }
    Py_ssize_t n;
    int64_t *keys = set_keys(other, &n);
    if (!keys) return -1;
    int rc = 0;
    if (so->fill == 0) { /* empty: set_insert_clean */
        so->fill = so->used = other->used;
        for (Py_ssize_t j = 0; j < n; j++) set_insert_clean(so->table, so->mask, keys[j]);
    } else {
        for (Py_ssize_t j = 0; j < n && rc == 0; j++) rc = set_add_entry(so, keys[j]);
    }
    PyMem_RawFree(keys);
    return rc;
}

int cset_union(CSet *out, const CSet *a, const CSet *b) {
    if (set_merge(out, a) < 0) return -1; /* set_or: result = set_copy(a); result.update(b) */
    return set_merge(out, b);
}

/* set_next over a set's table: `key` bound to each active key in slot order. */
#define FOR_EACH_KEY(key, set) \
    for (size_t i_ = 0; i_ <= (set)->mask; i_++) \
        for (int64_t key = (set)->table[i_], once_ = is_active(key); once_; once_ = 0)

int cset_intersection(CSet *out, const CSet *a, const CSet *b) {
    const CSet *so = a, *other = b; /* iterate over the smaller; on a tie over `b`, as CPython does */
    if (other->used > so->used) {
        so = b;
        other = a;
    }
    FOR_EACH_KEY(key, other) {
        if (*set_lookkey(so, key) == key && set_add_entry(out, key) < 0) return -1;
    }
    return 0;
}

int cset_difference(CSet *out, const CSet *a, const CSet *b) {
    if ((a->used >> 2) <= b->used) { /* the keys of a that b lacks, in a's slot order */
        FOR_EACH_KEY(key, a) {
            if (*set_lookkey(b, key) != key && set_add_entry(out, key) < 0) return -1;
        }
        return 0;
    }
    /* set_copy_and_difference: copy a, discard b's keys (set_discard_entry leaves a dummy), then resize the
     * dummies away if they are over a quarter of the table */
    if (set_merge(out, a) < 0) return -1;
    FOR_EACH_KEY(key, b) {
        int64_t *entry = set_lookkey(out, key);
        if (*entry == key) {
            *entry = CSET_DUMMY;
            out->used--;
        }
    }
    if ((size_t)(out->fill - out->used) <= out->mask / 4) return 0;
    return set_table_resize(out, out->used > 50000 ? out->used * 2 : out->used * 4);
}

Py_ssize_t cset_list(const CSet *s, int32_t *out) {
    Py_ssize_t n = 0;
    for (size_t i = 0; i <= s->mask; i++) { /* branch-free, as in table_keys */
        out[n] = (int32_t)s->table[i];
        n += is_active(s->table[i]);
    }
    return n;
}

Py_ssize_t cset_add_new(CSet *seen, const int32_t *keys, Py_ssize_t n, const CSet *within, int32_t *dst) {
    Py_ssize_t k = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        if (within && *set_lookkey(within, keys[j]) != keys[j]) continue;
        const Py_ssize_t before = seen->used;
        if (set_add_entry(seen, keys[j]) < 0) return -1;
        if (seen->used > before) dst[k++] = keys[j];
    }
    return k;
}
