/* Set-operation tasks (reference §2.6.2, §2.7): the sampler `two_sets` and the targets union, intersect,
 * set_1_minus_2 and set_2_minus_1. Every target builds `set(x) OP set(y)` as the reference does, with cpyset.c's
 * emulation; the cpython order lists the result's table, sorted sorts it, and first_appearance writes its members
 * in order of first appearance in x + y. */
#include "cpyset.h"

/* Per example: T ~ U{max(lo-1, 1)..hi-1} tokens, split n1 ~ U{0..T} / T - n1 (either side may be empty); a local
 * pool of k = max(T // 2, 1) distinct pool tokens; both arguments are draws with replacement from the local pool.
 * The total length T + 1 is always within [lo, hi], so no example is ever rejected.
 *
 * The k distinct tokens come from a partial Fisher-Yates shuffle of a private copy of the pool that is *not* undone
 * between examples: the first k slots after k swap steps are a uniform k-subset whatever order the array was in
 * before, so each example costs k draws and no rejection. */
static int two_sets_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    const int64_t t_lo = a->lo - 1 > 1 ? a->lo - 1 : 1, t_hi = a->hi - 1;
    if (t_hi < t_lo) {
        return kernel_fail(PyExc_ValueError,
                           "two_sets: length range (%lld, %lld) leaves no total length T in [%lld, %lld]",
                           (long long)a->lo, (long long)a->hi, (long long)t_lo, (long long)t_hi);
    }
    const int64_t k_max = t_hi / 2 > 1 ? t_hi / 2 : 1;
    if (k_max > (int64_t)a->pool_size) { /* the reference's random.sample raises here */
        return kernel_fail(PyExc_ValueError,
                           "two_sets: a local pool of up to %lld distinct tokens (half the longest total length "
                           "%lld) needs a token pool at least that large, got %u tokens; raise pool_size or lower "
                           "length_range",
                           (long long)k_max, (long long)t_hi, a->pool_size);
    }
    int32_t *perm = scratch_get(&a->work, (size_t)a->pool_size * sizeof(int32_t));
    if (!perm) return -1;
    memcpy(perm, a->pool, (size_t)a->pool_size * sizeof(int32_t));
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const int64_t total = rng_between(&a->rng, t_lo, t_hi);
        const int64_t n1 = rng_between(&a->rng, 0, total), n2 = total - n1;
        const uint32_t k = total / 2 > 1 ? (uint32_t)(total / 2) : 1;
        partial_shuffle(&a->rng, perm, a->pool_size, k);
        int32_t *x = row_room(arg1, n1), *y = x ? row_room(arg2, n2) : NULL;
        if (!y) return -1;
        draw_from(&a->rng, perm, k, x, n1);
        draw_from(&a->rng, perm, k, y, n2);
        end_row(arg1, n1);
        end_row(arg2, n2);
    }
    return 0;
}

SAMPLER_FUNCTION(two_sets, two_sets_kernel, 1)

enum { UNION, INTERSECT, X_MINUS_Y, Y_MINUS_X };

/* One row: `set(x) OP set(y)` in `set_order`. */
static int set_op_row(int op, int set_order, const int32_t *x, int64_t nx, const int32_t *y, int64_t ny,
                      RaggedOut *out) {
    CSet sx, sy, result, seen;
    cset_init(&sx);
    cset_init(&sy);
    cset_init(&result);
    cset_init(&seen);
    int rc = -1, failed;
    if (cset_from_list(&sx, x, nx) < 0 || cset_from_list(&sy, y, ny) < 0) goto done;
    switch (op) {
    case UNION: failed = cset_union(&result, &sx, &sy); break;
    case INTERSECT: failed = cset_intersection(&result, &sx, &sy); break;
    case X_MINUS_Y: failed = cset_difference(&result, &sx, &sy); break;
    default: failed = cset_difference(&result, &sy, &sx); break;
    }
    int32_t *dst = failed < 0 ? NULL : row_room(out, result.mask + 1); /* cset_list's room */
    if (!dst) goto done;
    if (set_order == SET_ORDER_FIRST_APPEARANCE) {
        const Py_ssize_t from_x = cset_add_new(&seen, x, nx, &result, dst);
        if (from_x < 0 || cset_add_new(&seen, y, ny, &result, dst + from_x) < 0) goto done;
    } else {
        cset_list(&result, dst);
        if (set_order == SET_ORDER_SORTED) qsort(dst, (size_t)result.used, sizeof(int32_t), compare_i32);
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
    for (Py_ssize_t r = 0; r < t->a.count; r++) {
        if (set_op_row(op, t->set_order, RAGGED_ROW(&t->a, r), t->a.lengths[r], RAGGED_ROW(&t->b, r),
                       t->b.lengths[r], out) < 0)
            return -1;
    }
    return 0;
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
