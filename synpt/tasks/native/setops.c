/* Set-operation tasks (reference §2.6.2, §2.7): the sampler `two_sets` and the targets union, intersect,
 * set_1_minus_2 and set_2_minus_1, in the three orders of `set_order`.
 *
 * Every target first builds the result *set* the way the reference does (`set(x) OP set(y)`, with the CPython 3.11
 * emulation in cpyset.h), then writes its members in the requested order: the emulated table's slot order
 * (cpython), ascending (sorted), or the order of first appearance in x + y (first_appearance). One construction for
 * all orders keeps the three orders' member sets identical by construction. */
#include "cpyset.h"

/* ---- sampler ----------------------------------------------------------------------------------------------- */

/* Per example: T ~ U{max(lo-1, 1)..hi-1} tokens, split n1 ~ U{0..T} / T - n1 (either side may be empty); a local
 * pool of max(T // 2, 1) distinct pool tokens; both arguments are draws with replacement from the local pool.
 *
 * The distinct tokens come from a partial Fisher-Yates shuffle of a private copy of the pool that is *not* undone
 * between examples: the first k slots after k swap steps are a uniform k-subset whatever order the array was in
 * before (the order is independent of the new draws), so each example costs k draws and no rejection, and it works
 * for any k up to the pool size. */
static int two_sets_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    const int64_t t_lo = a->lo - 1 > 1 ? a->lo - 1 : 1, t_hi = a->hi - 1;
    if (t_hi < t_lo) {
        kernel_fail(PyExc_ValueError, "two_sets: length range (%lld, %lld) leaves no total length T in [%lld, %lld]",
                     (long long)a->lo, (long long)a->hi, (long long)t_lo, (long long)t_hi);
        return -1;
    }
    const int64_t k_max = t_hi / 2 > 1 ? t_hi / 2 : 1;
    if (k_max > (int64_t)a->pool_size) {
        /* The reference's random.sample raises here; the numpy version looped forever. */
        kernel_fail(PyExc_ValueError,
                     "two_sets: a local pool of up to %lld distinct tokens (half the longest total length %lld) "
                     "needs a token pool at least that large, got %u tokens; raise pool_size or lower length_range",
                     (long long)k_max, (long long)t_hi, a->pool_size);
        return -1;
    }
    int32_t *perm = PyMem_RawMalloc((size_t)a->pool_size * sizeof(int32_t));
    if (!perm) {
        kernel_no_memory();
        return -1;
    }
    memcpy(perm, a->pool, (size_t)a->pool_size * sizeof(int32_t));
    int rc = 0;
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const int64_t total = rng_between(&a->rng, t_lo, t_hi);
        const int64_t n1 = rng_between(&a->rng, 0, total);
        const uint32_t k = total / 2 > 1 ? (uint32_t)(total / 2) : 1;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t pick = j + rng_below(&a->rng, a->pool_size - j);
            int32_t swap = perm[j];
            perm[j] = perm[pick];
            perm[pick] = swap;
        }
        RaggedOut *args[2] = {arg1, arg2};
        const int64_t sizes[2] = {n1, total - n1};
        for (int side = 0; side < 2 && rc == 0; side++) {
            int32_t *dst = row_room(args[side], sizes[side]);
            if (!dst) {
                rc = -1;
                break;
            }
            int64_t j = 0;
            for (; j + 2 <= sizes[side]; j += 2) { /* two picks per 64-bit random word */
                const uint64_t word = rng_next(&a->rng);
                dst[j] = perm[below_from(&a->rng, (uint32_t)(word >> 32), k)];
                dst[j + 1] = perm[below_from(&a->rng, (uint32_t)word, k)];
            }
            if (j < sizes[side]) dst[j] = perm[rng_below(&a->rng, k)];
            end_row(args[side], sizes[side]);
        }
        if (rc < 0) break;
    }
    PyMem_RawFree(perm);
    return rc;
}

SAMPLER_FUNCTION(two_sets, two_sets_kernel, 1)

/* ---- targets ----------------------------------------------------------------------------------------------- */

enum { UNION, INTERSECT, X_MINUS_Y, Y_MINUS_X };

static int compare_i32(const void *p, const void *q) {
    int32_t a = *(const int32_t *)p, b = *(const int32_t *)q;
    return (a > b) - (a < b);
}

/* Ascending. Results here are short (<= ~110 members for the paper's lengths), where an inlined insertion sort
 * beats qsort's indirect comparisons; long rows (direct calls) keep qsort's O(n log n). */
static void sort_i32(int32_t *v, Py_ssize_t n) {
    if (n > 128) {
        qsort(v, (size_t)n, sizeof(int32_t), compare_i32);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        const int32_t key = v[i];
        Py_ssize_t j = i;
        for (; j > 0 && v[j - 1] > key; j--) v[j] = v[j - 1];
        v[j] = key;
    }
}

/* The members of `result` in order of first appearance in x + y, into dst; `seen` is an empty set used as
 * scratch. A token is new to `seen` exactly when adding it grows `used`. */
static int first_appearance(const CSet *result, CSet *seen, const int32_t *x, int64_t nx, const int32_t *y,
                            int64_t ny, int32_t *dst) {
    Py_ssize_t n = 0;
    const int32_t *parts[2] = {x, y};
    const int64_t sizes[2] = {nx, ny};
    for (int p = 0; p < 2; p++) {
        for (int64_t j = 0; j < sizes[p] && n < result->used; j++) {
            const int32_t key = parts[p][j];
            if (!cset_contains(result, key)) continue;
            const Py_ssize_t before = seen->used;
            if (cset_add(seen, key) < 0) return -1;
            if (seen->used > before) dst[n++] = key;
        }
    }
    return 0;
}

/* ---- the rows ---------------------------------------------------------------------------------------------- */

/* Membership stamps for ids 0..STAMP_IDS-1: which of the current row's arguments hold the id. A stamp is
 * (row tag << 2) | side bits (1 = x, 2 = y); an older tag means "in neither", so the table is never cleared
 * between rows. Why: a set's CPython layout depends only on the order of first occurrences, and whether a key is
 * already in a set is known from the stamps, so every insertion becomes a probe for a free slot (no comparisons)
 * and duplicates cost one load. Rows with ids outside the table take the general path. */
#define STAMP_IDS 65536
#define IN_X 1u
#define IN_Y 2u

typedef struct {
    uint32_t *stamp;
    uint32_t tag;
    int32_t *first_x, *first_y, *order; /* scratch: each argument's distinct ids, a set's slot order */
} RowScratch;

static int stamped(const int32_t *v, int64_t n) {
    uint32_t outside = 0;
    for (int64_t j = 0; j < n; j++) outside |= (uint32_t)v[j] >= STAMP_IDS;
    return !outside;
}

static inline uint32_t sides(const RowScratch *s, int32_t key) {
    const uint32_t stamp = s->stamp[key];
    return (stamp >> 2) == s->tag ? stamp & 3 : 0;
}

/* The ids of v in order of first occurrence, into dst (branch-free); marks them as held by `side`. */
static Py_ssize_t first_occurrences(RowScratch *s, const int32_t *v, int64_t n, uint32_t side, int32_t *dst) {
    Py_ssize_t k = 0;
    for (int64_t j = 0; j < n; j++) {
        const int32_t key = v[j];
        const uint32_t held = sides(s, key);
        dst[k] = key;
        k += !(held & side);
        s->stamp[key] = (s->tag << 2) | held | side;
    }
    return k;
}

static int set_of_distinct(CSet *set, const int32_t *keys, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        if (cset_add_absent(set, keys[j]) < 0) return -1;
    }
    return 0;
}

/* The stamped row: CPython's set methods on `set(x)` and `set(y)`, given their first occurrences (fx, fy), with
 * membership read from the stamps. Only the tables an operation iterates are built: union reads both, an
 * intersection the smaller set (y on a tie), a difference its left side, except on CPython's copy-and-discard
 * path (left side over four times the right), which runs the general code. */
static int stamped_op(int op, RowScratch *s, const int32_t *fx, Py_ssize_t kx, const int32_t *fy, Py_ssize_t ky,
                      CSet *sx, CSet *sy, CSet *result) {
    if (op == UNION) { /* set_or: copy x, one presize, then add y's keys (slot order) that x lacks */
        if (set_of_distinct(sx, fx, kx) < 0 || set_of_distinct(sy, fy, ky) < 0 || cset_copy(result, sx) < 0) return -1;
        if (result->fill == 0) return cset_copy(result, sy); /* x was empty: set_merge's copy paths for y */
        if (cset_presize(result, sy->used) < 0) return -1;
        const Py_ssize_t n = cset_list(sy, s->order);
        for (Py_ssize_t j = 0; j < n; j++) {
            if (!(sides(s, s->order[j]) & IN_X) && cset_add_absent(result, s->order[j]) < 0) return -1;
        }
        return 0;
    }
    /* Which set is iterated (`it`) and which side must hold (or lack) its keys. */
    const int x_first = op == INTERSECT ? ky > kx : op == X_MINUS_Y;
    const int32_t *first = x_first ? fx : fy;
    const Py_ssize_t k_first = x_first ? kx : ky, k_other = x_first ? ky : kx;
    CSet *it = x_first ? sx : sy;
    const uint32_t other_side = x_first ? IN_Y : IN_X, want = op == INTERSECT ? other_side : 0;
    if (op != INTERSECT && (k_first >> 2) > k_other) { /* set_copy_and_difference */
        if (set_of_distinct(sx, fx, kx) < 0 || set_of_distinct(sy, fy, ky) < 0) return -1;
        return x_first ? cset_difference(result, sx, sy) : cset_difference(result, sy, sx);
    }
    if (set_of_distinct(it, first, k_first) < 0) return -1;
    const Py_ssize_t n = cset_list(it, s->order);
    for (Py_ssize_t j = 0; j < n; j++) {
        if ((sides(s, s->order[j]) & other_side) == want && cset_add_absent(result, s->order[j]) < 0) return -1;
    }
    return 0;
}

/* One row: build set(x), set(y), apply the operation and write the members in `set_order`. */
static int set_op_row(int op, int set_order, const int32_t *x, int64_t nx, const int32_t *y, int64_t ny,
                      RowScratch *scratch, RaggedOut *out) {
    CSet sx, sy, result, seen;
    cset_init(&sx);
    cset_init(&sy);
    cset_init(&result);
    cset_init(&seen);
    int rc = -1, failed;
    if (stamped(x, nx) && stamped(y, ny)) {
        if (++scratch->tag >= (1u << 30)) { /* tags wrapped: forget every stamp */
            memset(scratch->stamp, 0, STAMP_IDS * sizeof(uint32_t));
            scratch->tag = 1;
        }
        const Py_ssize_t kx = first_occurrences(scratch, x, nx, IN_X, scratch->first_x);
        const Py_ssize_t ky = first_occurrences(scratch, y, ny, IN_Y, scratch->first_y);
        failed = stamped_op(op, scratch, scratch->first_x, kx, scratch->first_y, ky, &sx, &sy, &result);
    } else {
        if (cset_from_list(&sx, x, nx) < 0 || cset_from_list(&sy, y, ny) < 0) goto done;
        switch (op) {
        case UNION: failed = cset_union(&result, &sx, &sy); break;
        case INTERSECT: failed = cset_intersection(&result, &sx, &sy); break;
        case X_MINUS_Y: failed = cset_difference(&result, &sx, &sy); break;
        default: failed = cset_difference(&result, &sy, &sx); break;
        }
    }
    int32_t *dst = failed < 0 ? NULL : row_room(out, result.used);
    if (!dst) goto done;
    if (set_order == SET_ORDER_FIRST_APPEARANCE) {
        if (first_appearance(&result, &seen, x, nx, y, ny, dst) < 0) goto done;
    } else {
        cset_list(&result, dst);
        if (set_order == SET_ORDER_SORTED) sort_i32(dst, result.used);
    }
    end_row(out, result.used);
    rc = 0;
done:
    cset_free(&sx);
    cset_free(&sy);
    cset_free(&result);
    cset_free(&seen);
    return rc;
}

static int set_op(const TargetArgs *t, RaggedOut *out, int op) {
    int64_t longest = 1;
    for (Py_ssize_t r = 0; r < t->a.count; r++) {
        if (t->a.lengths[r] > longest) longest = t->a.lengths[r];
        if (t->b.lengths[r] > longest) longest = t->b.lengths[r];
    }
    RowScratch scratch = {.tag = 0};
    scratch.stamp = PyMem_RawCalloc(STAMP_IDS, sizeof(uint32_t));
    int32_t *buffers = PyMem_RawMalloc(3 * (size_t)longest * sizeof(int32_t));
    int rc = 0;
    if (!scratch.stamp || !buffers) {
        kernel_no_memory();
        rc = -1;
    } else {
        scratch.first_x = buffers;
        scratch.first_y = buffers + longest;
        scratch.order = buffers + 2 * longest;
        for (Py_ssize_t r = 0; r < t->a.count && rc == 0; r++) {
            rc = set_op_row(op, t->set_order, t->a.values + t->a.offsets[r], t->a.lengths[r],
                            t->b.values + t->b.offsets[r], t->b.lengths[r], &scratch, out);
        }
    }
    PyMem_RawFree(scratch.stamp);
    PyMem_RawFree(buffers);
    return rc;
}

static int union_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, UNION); }
static int intersect_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, INTERSECT); }
static int set_1_minus_2_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, X_MINUS_Y); }
static int set_2_minus_1_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, Y_MINUS_X); }

#define TARGET(name) TARGET_FUNCTION(name, name##_kernel, 1)
TARGET(union)
TARGET(intersect)
TARGET(set_1_minus_2)
TARGET(set_2_minus_1)

PyMethodDef synpt_setops_methods[] = {
    {"sample_two_sets", sample_two_sets, METH_VARARGS,
     "union & co: T ~ U{max(lo-1,1)..hi-1} tokens split n1 ~ U{0..T} / T-n1, drawn from max(T//2, 1) distinct tokens"},
    {"target_union", target_union, METH_VARARGS, "set(x) | set(y) in the set order"},
    {"target_intersect", target_intersect, METH_VARARGS, "set(x) & set(y) in the set order"},
    {"target_set_1_minus_2", target_set_1_minus_2, METH_VARARGS, "set(x) - set(y) in the set order"},
    {"target_set_2_minus_1", target_set_2_minus_1, METH_VARARGS, "set(y) - set(x) in the set order"},
    {NULL, NULL, 0, NULL},
};
