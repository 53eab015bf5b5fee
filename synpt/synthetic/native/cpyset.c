/* CPython 3.11's set algorithm for int keys (see cpyset.h). The function names and every constant follow
 * Objects/setobject.c, so each step can be checked against it: set_add_entry, set_insert_clean, set_lookkey,
 * set_table_resize, set_merge (copy and |), set_intersection (&), set_difference, set_copy_and_difference and
 * set_discard_entry (-). Only keys are stored: an int's hash is a function of its value, so comparing keys is
 * comparing (hash, key).
 *
 * Why a bitmap of occupied slots: CPython's tables stay at most 60 % full, so visiting every slot (to resize, copy
 * or list a table) costs more than the keys themselves; with the bitmap those passes touch only occupied slots, and
 * the ten slots of a linear probe are tested in one word operation. */
#include "cpyset.h"

#define LINEAR_PROBES 9
#define PERTURB_SHIFT 5
#define PROBE_SPAN (LINEAR_PROBES + 1) /* slots i..i+9 */

/* hash(int) for the int in a key's low 32 bits (the upper bits are a caller's payload, see cpyset.h). */
static inline size_t key_hash(int64_t key) {
    const int64_t id = (int32_t)key;
    return (size_t)(id == -1 ? -2 : id);
}

static inline int occupied(const uint64_t *bits, size_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }
static inline void occupy(uint64_t *bits, size_t i) { bits[i >> 6] |= (uint64_t)1 << (i & 63); }

/* Occupancy of slots i..i+9 as the low 10 bits; only called when i + 9 <= mask, so the next word exists. */
static inline uint64_t probe_window(const uint64_t *bits, size_t i) {
    const size_t w = i >> 6, b = i & 63;
    uint64_t window = bits[w] >> b;
    if (b > 64 - PROBE_SPAN) window |= bits[w + 1] << (64 - b);
    return window & ((1u << PROBE_SPAN) - 1);
}

static inline size_t words_for(size_t size) { return size < 64 ? 1 : size / 64; }

void cset_init(CSet *s) {
    s->keys = s->small_keys;
    s->bits = s->small_bits;
    s->small_bits[0] = 0;
    s->mask = CSET_MINSIZE - 1;
    s->fill = s->used = 0;
    s->arena = -1;
}

static inline int on_heap(const CSet *s) { return s->arena < 0 && s->keys != s->small_keys; }

void cset_free(CSet *s) {
    if (on_heap(s)) PyMem_RawFree(s->keys); /* keys and bits are one allocation */
    cset_init(s);
}

/* Runs the statement after it with `key` bound to each active key of a table, in slot order (what CPython's
 * set_next visits): empty slots are skipped a bitmap word at a time, dummies by the innermost loop, which runs
 * once or not at all. Why a loop header and not an iterator function: resizing and listing are most of a set's
 * work, and this is a few instructions per key. `break` inside leaves only the innermost loop: return instead. */
#define FOR_EACH_KEY(key, keys_, bits_, mask_)                                                                      \
    for (size_t w_ = 0, words_ = words_for((mask_) + 1); w_ < words_; w_++)                                       \
        for (uint64_t word_ = (bits_)[w_]; word_; word_ &= word_ - 1)                                              \
            for (int64_t key = (keys_)[w_ << 6 | (size_t)__builtin_ctzll(word_)], once_ = key != CSET_DUMMY;      \
                 once_; once_ = 0)
#define FOR_EACH_IN(key, set) FOR_EACH_KEY(key, (set)->keys, (set)->bits, (set)->mask)

/* set_insert_clean: place a key known to be absent into a table without dummies: the first free slot of each
 * probe (i, then i+1..i+9 when they exist), then the perturbed jump. */
static inline void insert_clean(int64_t *keys, uint64_t *bits, size_t mask, int64_t key) {
    const size_t hash = key_hash(key);
    size_t perturb = hash, i = hash & mask;
    while (1) {
        if (!occupied(bits, i)) { /* the usual case at CPython's load factors: the probe's first slot */
            occupy(bits, i);
            keys[i] = key;
            return;
        }
        if (i + LINEAR_PROBES <= mask) {
            const uint64_t free = ~probe_window(bits, i) & ((1u << PROBE_SPAN) - 1);
            if (free) {
                const size_t at = i + (size_t)__builtin_ctzll(free);
                occupy(bits, at);
                keys[at] = key;
                return;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* Points s at an empty table of `newsize` slots: the small table, the arena that is not `old_arena`, or the heap.
 * The old table is left as it was (the caller still reads it). */
static int use_empty_table(CSet *s, size_t newsize, int old_arena) {
    if (newsize == CSET_MINSIZE) {
        s->keys = s->small_keys;
        s->bits = s->small_bits;
        s->arena = -1;
    } else if (newsize <= CSET_ARENA) {
        s->arena = old_arena == 0 ? 1 : 0;
        s->keys = s->arena_keys[s->arena];
        s->bits = s->arena_bits[s->arena];
    } else {
        int64_t *block = PyMem_RawMalloc(newsize * sizeof(int64_t) + words_for(newsize) * sizeof(uint64_t));
        if (!block) return kernel_no_memory();
        s->keys = block;
        s->bits = (uint64_t *)(block + newsize);
        s->arena = -1;
    }
    memset(s->bits, 0, words_for(newsize) * sizeof(uint64_t));
    s->mask = newsize - 1;
    return 0;
}

/* set_table_resize's table size: the smallest power of two (>= 8) larger than `minused`. */
static inline size_t table_size_over(Py_ssize_t minused) {
    size_t size = CSET_MINSIZE;
    while (size <= (size_t)minused) size <<= 1;
    return size;
}

/* set_add_entry's growth rule: a table of mask + 1 slots is resized once `fill` reaches this many... */
static inline Py_ssize_t fill_limit(size_t mask) { return (Py_ssize_t)((3 * mask + 4) / 5); } /* ceil(3 mask / 5) */

/* ...to a table over this many slots. */
static inline Py_ssize_t growth_minused(Py_ssize_t used) { return used > 50000 ? used * 2 : used * 4; }

/* set_table_resize: the smallest power-of-two table (>= 8) larger than `minused`, the actives re-inserted in slot
 * order, dummies dropped. Tables up to CSET_ARENA slots alternate between the two arenas inside the CSet. */
static int table_resize(CSet *s, Py_ssize_t minused) {
    const size_t newsize = table_size_over(minused);
    const int64_t *old_keys = s->keys;
    const uint64_t *old_bits = s->bits;
    const size_t old_mask = s->mask;
    const int old_arena = s->arena, old_heap = on_heap(s);
    int64_t small_copy[CSET_MINSIZE];
    uint64_t small_bits_copy[1];
    if (s->keys == s->small_keys) { /* the new table may be the small one again: read from a copy */
        if (newsize == CSET_MINSIZE && s->fill == s->used) return 0; /* no dummies: nothing to do */
        memcpy(small_copy, s->small_keys, sizeof(small_copy));
        small_bits_copy[0] = s->small_bits[0];
        old_keys = small_copy;
        old_bits = small_bits_copy;
    }
    if (use_empty_table(s, newsize, old_arena) < 0) return -1;
    s->fill = s->used;
    FOR_EACH_KEY(key, old_keys, old_bits, old_mask) insert_clean(s->keys, s->bits, s->mask, key);
    if (old_heap) PyMem_RawFree((void *)old_keys);
    return 0;
}

/* After a new key took a never-used slot: set_add_entry's growth rule. */
static inline int after_insert(CSet *s) {
    s->fill++;
    s->used++;
    if (__builtin_expect(s->fill < fill_limit(s->mask), 1)) return 0;
    return table_resize(s, growth_minused(s->used));
}

/* set_add_entry in a table with dummies: the first dummy on the probe path is reused (found_unused_or_dummy). */
static int add_with_dummies(CSet *s, int64_t key) {
    const size_t hash = key_hash(key), mask = s->mask;
    size_t perturb = hash, i = hash & mask;
    int64_t *freeslot = NULL;
    while (1) {
        const size_t span = i + LINEAR_PROBES <= mask ? PROBE_SPAN : 1;
        for (size_t j = i; j < i + span; j++) {
            if (!occupied(s->bits, j)) {
                if (freeslot) {
                    *freeslot = key;
                    s->used++;
                    return 0;
                }
                occupy(s->bits, j);
                s->keys[j] = key;
                return after_insert(s);
            }
            if (s->keys[j] == key) return 0;
            if (s->keys[j] == CSET_DUMMY && !freeslot) freeslot = &s->keys[j];
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* The slot holding `key`, or the first free slot of its probe sequence (then *found is 0). Dummies are occupied
 * slots that match no key, as in set_lookkey. */
static inline size_t lookup(const CSet *s, int64_t key, int *found) {
    const size_t hash = key_hash(key), mask = s->mask;
    size_t perturb = hash, i = hash & mask;
    while (1) {
        if (i + LINEAR_PROBES <= mask) {
            const uint64_t taken = probe_window(s->bits, i);
            const size_t run = (size_t)__builtin_ctzll(~taken); /* occupied slots before the first free one */
            for (size_t j = 0; j < run && j < PROBE_SPAN; j++) {
                if (s->keys[i + j] == key) {
                    *found = 1;
                    return i + j;
                }
            }
            if (run < PROBE_SPAN) {
                *found = 0;
                return i + run;
            }
        } else {
            if (!occupied(s->bits, i)) {
                *found = 0;
                return i;
            }
            if (s->keys[i] == key) {
                *found = 1;
                return i;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

static inline int add_key(CSet *s, int64_t key) {
    if (__builtin_expect(s->fill != s->used, 0)) return add_with_dummies(s, key);
    int found;
    const size_t at = lookup(s, key, &found);
    if (found) return 0;
    occupy(s->bits, at);
    s->keys[at] = key;
    return after_insert(s);
}


/* Whether keys[0..n) have pairwise different home slots in a table of mask + 1 (at most 128) slots. */
static int distinct_homes(const int64_t *keys, Py_ssize_t n, size_t mask) {
    uint64_t seen[128 / 64] = {0}, clash = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        const size_t home = key_hash(keys[j]) & mask;
        const uint64_t bit = (uint64_t)1 << (home & 63);
        clash |= seen[home >> 6] & bit;
        seen[home >> 6] |= bit;
    }
    return !clash;
}

/* The first two growths of a set built key by key from empty: out of the 8-slot table (at the 5th key, into 32
 * slots) and out of the 32-slot one (at the 19th, into 128), largest first; from fill_limit and growth_minused,
 * by cpyset_init. The next one (77 keys into 512 slots) almost never has distinct home slots: it is not tried. */
static struct {
    Py_ssize_t keys;
    size_t size;
} GROWTH[2];

void cpyset_init(void) {
    size_t mask = CSET_MINSIZE - 1;
    for (int g = 1; g >= 0; g--) {
        GROWTH[g].keys = fill_limit(mask);
        GROWTH[g].size = table_size_over(growth_minused(GROWTH[g].keys));
        mask = GROWTH[g].size - 1;
    }
}

/* The start of cset_add_absent on an empty set that will grow: each growth re-inserts the keys so far in slot
 * order, and when the keys present at one have different home slots in the new table, each lands on its home
 * whatever that order, so the smaller tables before it need not be built. Returns how many keys it placed (0:
 * none; -1: no memory). */
static Py_ssize_t skip_small_tables(CSet *s, const int64_t *keys, Py_ssize_t n) {
    for (int g = 0; g < 2; g++) {
        const Py_ssize_t count = GROWTH[g].keys;
        if (count > n || !distinct_homes(keys, count, GROWTH[g].size - 1)) continue;
        if (use_empty_table(s, GROWTH[g].size, -1) < 0) return -1;
        for (Py_ssize_t j = 0; j < count; j++) {
            const size_t home = key_hash(keys[j]) & s->mask;
            occupy(s->bits, home);
            s->keys[home] = keys[j];
        }
        s->fill = s->used = count;
        return count;
    }
    return 0;
}

/* Runs of inserts between resizes: set_add_entry resizes after the insert that brings `fill` to
 * ceil(3 * mask / 5), so that many keys go in with the table in locals, then the resize. */
int cset_add_absent(CSet *s, const int64_t *keys, Py_ssize_t n) {
    if (s->fill == 0 && s->mask == CSET_MINSIZE - 1) {
        const Py_ssize_t placed = skip_small_tables(s, keys, n);
        if (placed < 0) return -1;
        keys += placed;
        n -= placed;
    }
    while (n > 0) {
        const Py_ssize_t until_resize = fill_limit(s->mask) - s->fill;
        const Py_ssize_t run = until_resize < n ? until_resize : n;
        int64_t *const table = s->keys;
        uint64_t *const bits = s->bits;
        const size_t mask = s->mask;
        for (Py_ssize_t j = 0; j < run; j++) insert_clean(table, bits, mask, keys[j]);
        s->fill += run;
        s->used += run;
        keys += run;
        n -= run;
        if (s->fill >= fill_limit(s->mask) && table_resize(s, growth_minused(s->used)) < 0) return -1;
    }
    return 0;
}

int cset_from_list(CSet *s, const int32_t *keys, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        if (add_key(s, keys[j]) < 0) return -1;
    }
    return 0;
}

int cset_contains(const CSet *s, int64_t key) {
    int found;
    lookup(s, key, &found);
    return found;
}

Py_ssize_t cset_add_new(CSet *seen, const int32_t *keys, Py_ssize_t n, const CSet *within, int32_t *dst) {
    Py_ssize_t k = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        if (within && !cset_contains(within, keys[j])) continue;
        const Py_ssize_t before = seen->used;
        if (add_key(seen, keys[j]) < 0) return -1;
        if (seen->used > before) dst[k++] = keys[j];
    }
    return k;
}

int cset_presize(CSet *so, Py_ssize_t other_used) {
    if (other_used == 0 || (size_t)(so->fill + other_used) * 5 < so->mask * 3) return 0;
    return table_resize(so, (so->used + other_used) * 2);
}

/* set_merge(so, other): `so.update(other)` for a set `other`; the copy of a set is a merge into an empty one. */
static int merge(CSet *so, const CSet *other) {
    if (other->used == 0) return 0;
    if (cset_presize(so, other->used) < 0) return -1;
    if (so->fill == 0 && so->mask == other->mask && other->fill == other->used) {
        /* same size, no dummies: the same slots (copy the occupied ones and the bitmap) */
        memcpy(so->bits, other->bits, words_for(other->mask + 1) * sizeof(uint64_t));
        size_t words = words_for(other->mask + 1);
        for (size_t w = 0; w < words; w++) {
            for (uint64_t word = other->bits[w]; word; word &= word - 1) {
                const size_t i = (w << 6) | (size_t)__builtin_ctzll(word);
                so->keys[i] = other->keys[i];
            }
        }
        so->fill = other->fill;
        so->used = other->used;
        return 0;
    }
    if (so->fill == 0) {
        so->fill = so->used = other->used;
        FOR_EACH_IN(key, other) insert_clean(so->keys, so->bits, so->mask, key);
        return 0;
    }
    FOR_EACH_IN(key, other) {
        if (add_key(so, key) < 0) return -1;
    }
    return 0;
}

int cset_copy(CSet *out, const CSet *a) { return merge(out, a); }

int cset_become_copy(CSet *s) {
    /* set_copy merges s into an empty 8-slot set, presized to the smallest table over 2 * used from 5 keys on */
    const Py_ssize_t minused = (size_t)s->used * 5 >= (CSET_MINSIZE - 1) * 3 ? s->used * 2 : 0;
    if (table_size_over(minused) == s->mask + 1 && s->fill == s->used) return 0; /* the copy's table is s's */
    return table_resize(s, minused);                          /* else s's keys in slot order into the copy's */
}

int cset_union(CSet *out, const CSet *a, const CSet *b) {
    if (merge(out, a) < 0) return -1; /* set_or: result = set_copy(a); result.update(b) */
    return merge(out, b);
}

int cset_intersection(CSet *out, const CSet *a, const CSet *b) {
    const CSet *so = a, *other = b; /* iterate over the smaller; on a tie over `b`, as CPython does */
    if (other->used > so->used) {
        so = b;
        other = a;
    }
    FOR_EACH_IN(key, other) {
        if (cset_contains(so, key) && add_key(out, key) < 0) return -1;
    }
    return 0;
}

int cset_difference(CSet *out, const CSet *a, const CSet *b) {
    if ((a->used >> 2) > b->used) {
        /* set_copy_and_difference: copy a, discard b's keys (set_discard_entry leaves a dummy), then resize the
         * dummies away if they are over a quarter of the table */
        if (merge(out, a) < 0) return -1;
        FOR_EACH_IN(key, b) {
            int found;
            const size_t at = lookup(out, key, &found);
            if (found) {
                out->keys[at] = CSET_DUMMY;
                out->used--;
            }
        }
        if ((size_t)(out->fill - out->used) <= out->mask / 4) return 0;
        return table_resize(out, growth_minused(out->used));
    }
    FOR_EACH_IN(key, a) {
        if (!cset_contains(b, key) && add_key(out, key) < 0) return -1;
    }
    return 0;
}

Py_ssize_t cset_keys(const CSet *s, int64_t *out) {
    Py_ssize_t n = 0;
    FOR_EACH_IN(key, s) out[n++] = key;
    return n;
}

Py_ssize_t cset_list(const CSet *s, int32_t *out) {
    Py_ssize_t n = 0;
    FOR_EACH_IN(key, s) out[n++] = (int32_t)key;
    return n;
}

/* cpython_set_order(op, x, y) -> list: list(set(x)) (op 0), list(set(x) | set(y)) (1), & (2), - (3), computed by
 * the emulation. For tests against the running interpreter, and for users who want to inspect an order. */
static PyObject *cpython_set_order(PyObject *self, PyObject *args) {
    int op;
    Py_buffer x, y;
    if (!PyArg_ParseTuple(args, "iy*y*", &op, &x, &y)) return NULL;
    PyObject *result = NULL;
    CSet a, b, out;
    cset_init(&a);
    cset_init(&b);
    cset_init(&out);
    int32_t *keys = NULL;
    if (op < 0 || op > 3 || x.len % 4 || y.len % 4) {
        PyErr_SetString(PyExc_ValueError, "op must be 0..3 and x, y int32 arrays");
        goto done;
    }
    if (cset_from_list(&a, x.buf, x.len / 4) < 0 || cset_from_list(&b, y.buf, y.len / 4) < 0) {
        raise_kernel_error();
        goto done;
    }
    const CSet *shown = &a;
    if (op > 0) {
        int (*apply[])(CSet *, const CSet *, const CSet *) = {cset_union, cset_intersection, cset_difference};
        if (apply[op - 1](&out, &a, &b) < 0) {
            raise_kernel_error();
            goto done;
        }
        shown = &out;
    }
    keys = PyMem_Malloc((shown->used + 1) * sizeof(int32_t));
    if (!keys) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = cset_list(shown, keys);
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result && i < n; i++) {
        PyObject *item = PyLong_FromLong(keys[i]);
        if (!item) Py_CLEAR(result);
        else PyList_SET_ITEM(result, i, item);
    }
done:
    PyMem_Free(keys);
    cset_free(&a);
    cset_free(&b);
    cset_free(&out);
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return result;
}

PyMethodDef synpt_cpyset_methods[] = {
    {"cpython_set_order", cpython_set_order, METH_VARARGS,
     "cpython_set_order(op, x, y) -> list: list(set(x)) (op 0), set(x) | set(y) (1), & (2), - (3), emulated"},
    {NULL, NULL, 0, NULL},
};
