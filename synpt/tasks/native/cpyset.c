/* CPython 3.11's set algorithm for int keys (see cpyset.h). The function names and every constant follow
 * Objects/setobject.c, so each step can be checked against it: set_add_entry, set_insert_clean,
 * set_table_resize, set_merge (copy and |), set_intersection (&), set_difference and set_copy_and_difference (-).
 * Only keys are stored: an int's hash is a function of its value, so comparing keys is comparing (hash, key). */
#include "cpyset.h"

#define LINEAR_PROBES 9
#define PERTURB_SHIFT 5

static inline size_t key_hash(int64_t key) { return (size_t)(key == -1 ? -2 : key); }

void cset_init(CSet *s) {
    s->table = s->small;
    s->mask = CSET_MINSIZE - 1;
    s->fill = s->used = 0;
    for (int i = 0; i < CSET_MINSIZE; i++) s->small[i] = CSET_EMPTY;
}

void cset_free(CSet *s) {
    if (s->table != s->small) PyMem_Free(s->table);
    s->table = s->small;
}

/* set_insert_clean: place a key known to be absent into a table without dummies. */
static void insert_clean(int64_t *table, size_t mask, int64_t key) {
    size_t hash = key_hash(key), perturb = hash, i = hash & mask;
    while (1) {
        int64_t *entry = &table[i];
        if (*entry == CSET_EMPTY) {
            *entry = key;
            return;
        }
        if (i + LINEAR_PROBES <= mask) {
            for (int j = 0; j < LINEAR_PROBES; j++) {
                entry++;
                if (*entry == CSET_EMPTY) {
                    *entry = key;
                    return;
                }
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* set_table_resize: the smallest power-of-two table (>= 8) larger than `minused`, actives re-inserted in slot
 * order, dummies dropped. */
static int table_resize(CSet *s, Py_ssize_t minused) {
    size_t newsize = CSET_MINSIZE;
    while (newsize <= (size_t)minused) newsize <<= 1;
    int64_t *oldtable = s->table, small_copy[CSET_MINSIZE];
    const size_t oldmask = s->mask;
    const int old_malloced = oldtable != s->small;
    int64_t *newtable;
    if (newsize == CSET_MINSIZE) {
        newtable = s->small;
        if (newtable == oldtable) {
            if (s->fill == s->used) return 0;
            memcpy(small_copy, oldtable, sizeof(small_copy));
            oldtable = small_copy;
        }
    } else {
        newtable = PyMem_Malloc(newsize * sizeof(int64_t));
        if (!newtable) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (size_t i = 0; i < newsize; i++) newtable[i] = CSET_EMPTY;
    s->mask = newsize - 1;
    s->table = newtable;
    s->fill = s->used;
    for (size_t i = 0; i <= oldmask; i++) {
        if (oldtable[i] != CSET_EMPTY && oldtable[i] != CSET_DUMMY) insert_clean(newtable, s->mask, oldtable[i]);
    }
    if (old_malloced) PyMem_Free(oldtable);
    return 0;
}

int cset_add(CSet *s, int64_t key) {
    const size_t hash = key_hash(key), mask = s->mask;
    size_t perturb = hash, i = hash & mask;
    int64_t *freeslot = NULL;
    while (1) {
        int64_t *entry = &s->table[i];
        int probes = (i + LINEAR_PROBES <= mask) ? LINEAR_PROBES : 0;
        do {
            if (*entry == CSET_EMPTY) {
                if (freeslot) { /* found_unused_or_dummy: reuse the first dummy on the probe path */
                    *freeslot = key;
                    s->used++;
                    return 0;
                }
                *entry = key; /* found_unused */
                s->fill++;
                s->used++;
                if ((size_t)s->fill * 5 < mask * 3) return 0;
                return table_resize(s, s->used > 50000 ? s->used * 2 : s->used * 4);
            }
            if (*entry == key) return 0; /* found_active */
            if (*entry == CSET_DUMMY && !freeslot) freeslot = entry;
            entry++;
        } while (probes--);
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

int cset_from_list(CSet *s, const int32_t *keys, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        if (cset_add(s, keys[j]) < 0) return -1;
    }
    return 0;
}

/* set_lookkey: the same probe sequence, stopping at an empty slot. */
int cset_contains(const CSet *s, int64_t key) {
    const size_t hash = key_hash(key), mask = s->mask;
    size_t perturb = hash, i = hash & mask;
    while (1) {
        const int64_t *entry = &s->table[i];
        int probes = (i + LINEAR_PROBES <= mask) ? LINEAR_PROBES : 0;
        do {
            if (*entry == CSET_EMPTY) return 0;
            if (*entry == key) return 1;
            entry++;
        } while (probes--);
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* set_merge(so, other): `so.update(other)` for a set `other`; the copy of a set is a merge into an empty one. */
static int merge(CSet *so, const CSet *other) {
    if (other->used == 0) return 0;
    if ((size_t)(so->fill + other->used) * 5 >= so->mask * 3) {
        if (table_resize(so, (so->used + other->used) * 2) < 0) return -1;
    }
    if (so->fill == 0 && so->mask == other->mask && other->fill == other->used) {
        memcpy(so->table, other->table, (other->mask + 1) * sizeof(int64_t)); /* same table, same slots */
        so->fill = other->fill;
        so->used = other->used;
        return 0;
    }
    if (so->fill == 0) {
        so->fill = so->used = other->used;
        for (size_t i = 0; i <= other->mask; i++) {
            int64_t key = other->table[i];
            if (key != CSET_EMPTY && key != CSET_DUMMY) insert_clean(so->table, so->mask, key);
        }
        return 0;
    }
    for (size_t i = 0; i <= other->mask; i++) {
        int64_t key = other->table[i];
        if (key != CSET_EMPTY && key != CSET_DUMMY && cset_add(so, key) < 0) return -1;
    }
    return 0;
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
    for (size_t i = 0; i <= other->mask; i++) {
        int64_t key = other->table[i];
        if (key != CSET_EMPTY && key != CSET_DUMMY && cset_contains(so, key) && cset_add(out, key) < 0) return -1;
    }
    return 0;
}

/* set_discard_entry: mark the key's slot as a dummy. */
static void discard(CSet *s, int64_t key) {
    const size_t hash = key_hash(key), mask = s->mask;
    size_t perturb = hash, i = hash & mask;
    while (1) {
        int64_t *entry = &s->table[i];
        int probes = (i + LINEAR_PROBES <= mask) ? LINEAR_PROBES : 0;
        do {
            if (*entry == CSET_EMPTY) return;
            if (*entry == key) {
                *entry = CSET_DUMMY;
                s->used--;
                return;
            }
            entry++;
        } while (probes--);
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

int cset_difference(CSet *out, const CSet *a, const CSet *b) {
    if ((a->used >> 2) > b->used) {
        /* set_copy_and_difference: copy a, discard b's keys, resize away the dummies if over a quarter */
        if (merge(out, a) < 0) return -1;
        for (size_t i = 0; i <= b->mask; i++) {
            int64_t key = b->table[i];
            if (key != CSET_EMPTY && key != CSET_DUMMY) discard(out, key);
        }
        if ((size_t)(out->fill - out->used) <= out->mask / 4) return 0;
        return table_resize(out, out->used > 50000 ? out->used * 2 : out->used * 4);
    }
    for (size_t i = 0; i <= a->mask; i++) {
        int64_t key = a->table[i];
        if (key != CSET_EMPTY && key != CSET_DUMMY && !cset_contains(b, key) && cset_add(out, key) < 0) return -1;
    }
    return 0;
}

Py_ssize_t cset_list(const CSet *s, int32_t *out) {
    Py_ssize_t n = 0;
    for (size_t i = 0; i <= s->mask; i++) {
        if (s->table[i] != CSET_EMPTY && s->table[i] != CSET_DUMMY) out[n++] = (int32_t)s->table[i];
    }
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
    if (cset_from_list(&a, x.buf, x.len / 4) < 0 || cset_from_list(&b, y.buf, y.len / 4) < 0) goto done;
    const CSet *shown = &a;
    if (op > 0) {
        int (*apply[])(CSet *, const CSet *, const CSet *) = {cset_union, cset_intersection, cset_difference};
        if (apply[op - 1](&out, &a, &b) < 0) goto done;
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
