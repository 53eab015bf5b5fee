/* Set-operation tasks (reference §2.6.2, §2.7): the sampler `two_sets` and the targets union, intersect,
 * set_1_minus_2 and set_2_minus_1 (and list(set(x)), for tests of the emulation). Every target builds
 * `set(x) OP set(y)` as the reference does, with cpyset.c's emulation; the cpython order lists the result's table,
 * sorted sorts it, and first_appearance writes its members in order of first appearance in x + y. */
#include "cpyset.h"

/* Per example: T ~ U{max(lo-1, 1)..hi-1} tokens, split n1 ~ U{0..T} / T - n1 (either side may be empty); a local
 * pool of k = max(T // 2, 1) distinct pool tokens; both arguments are draws with replacement from the local pool.
 * The total length T + 1 is always within [lo, hi], so no example is ever rejected.
 *
 * The k distinct tokens come from a partial Fisher-Yates shuffle of a private copy of the pool that is *not* undone
 * between examples: the first k slots after k swap steps are a uniform k-subset whatever order the array was in
 * before, so each example costs k draws and no rejection. */
int two_sets_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
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

/* One row: `set(x) OP set(y)` (or list(set(x))) in `set_order`. */
int set_op_row(int op, int set_order, const RaggedIn *a, const RaggedIn *b, Py_ssize_t r, RaggedOut *out) {
    const int32_t *x = RAGGED_ROW(a, r), *y = RAGGED_ROW(b, r);
    const int64_t nx = a->lengths[r], ny = b->lengths[r];
    CSet sx, sy, result, seen;
    cset_init(&sx);
    cset_init(&sy);
    cset_init(&result);
    cset_init(&seen);
    int rc = -1, failed = 0;
    if (cset_from_list(&sx, x, nx) < 0 || cset_from_list(&sy, y, ny) < 0) goto done;
    switch (op) {
    case LIST_SET_X: failed = cset_from_list(&result, x, nx); break;
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
