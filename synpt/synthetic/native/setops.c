/* Set-operation tasks (reference §2.6.2, §2.7): the sampler `two_sets`, the targets union, intersect,
 * set_1_minus_2 and set_2_minus_1 in the three orders of `set_order`, and `set_operation_generate`, which does
 * both in one pass for `synpt generate` and the training stream.
 *
 * The cpython order (the reference's bytes) builds the result the way the reference does, `set(x) OP set(y)`, with
 * the CPython 3.11 emulation in cpyset.h, and lists the emulated table's slots. The sorted and first_appearance
 * orders need only which tokens are in the result, written in order of first appearance in x + y or ascending.
 * Which arguments hold a token comes from the sampler's local masks, or (rows given from outside) from per-row
 * membership stamps; rows with ids outside the stamp table build emulated sets in every order. */
#include "cpyset.h"
#include "stamps.h"

/* ---- per-row membership ----------------------------------------------------------------------------------- */

enum { UNION, INTERSECT, X_MINUS_Y, Y_MINUS_X };

/* Which sides (IN_X | IN_Y, 0..3) put a key in each operation's result, as a bit per sides value. */
#define IN_X 1u
#define IN_Y 2u
static const unsigned RESULT_SIDES[] = {
    [UNION] = 1u << 1 | 1u << 2 | 1u << 3, [INTERSECT] = 1u << 3, [X_MINUS_Y] = 1u << 1, [Y_MINUS_X] = 1u << 2};

/* Draws from a local pool of at most 128 tokens are also local indices, so the sampler sees the first occurrences
 * and the sides of every token in two 128-bit masks, in registers, without a lookup per token. */
#define LOCAL_BITS 128
typedef struct {
    uint64_t half[2]; /* local indices 0..63, 64..127 */
} LocalMask;

/* The per-row state: each argument's first occurrences as set keys (why: a set's CPython layout depends only on
 * the order of first occurrences, and which sides hold a key is known without a lookup, so every insertion is a
 * probe for a free slot, with no comparisons), and room for a set's slot order. Which sides hold a key comes from
 * the local masks when the sampler drew local indices (`local`: each key carries its local index in its upper 32
 * bits, see cpyset.h), else from the membership stamps. */
typedef struct {
    RowStamps marks;
    int local;
    LocalMask in_x, in_y;
    int64_t *first_x, *first_y, *order;
    int32_t *plain; /* the stamps' first occurrences, before they become keys (rows given from outside) */
    Py_ssize_t kx, ky; /* how many first_x / first_y hold */
} RowScratch;

/* `local`: the sampler gives each key its local index, so no stamps are needed. */
static int row_scratch_init(RowScratch *s, int64_t longest, int local) {
    memset(s, 0, sizeof(*s));
    s->local = local;
    const size_t room = (size_t)(longest > 0 ? longest : 1);
    s->first_x = PyMem_RawMalloc(3 * room * sizeof(int64_t));
    if (!s->first_x) return kernel_no_memory();
    if (!local && (stamps_init(&s->marks) < 0 || !(s->plain = PyMem_RawMalloc(room * sizeof(int32_t)))))
        return kernel_no_memory();
    s->first_y = s->first_x + room;
    s->order = s->first_y + room;
    return 0;
}

static void row_scratch_free(RowScratch *s) {
    stamps_free(&s->marks);
    PyMem_RawFree(s->first_x);
    PyMem_RawFree(s->plain);
}

static inline uint32_t local_bit(const LocalMask *m, uint64_t i) { return (m->half[i >> 6] >> (i & 63)) & 1; }

/* Which sides (IN_X | IN_Y) hold a key of this row. */
static inline uint32_t sides(const RowScratch *s, int64_t key) {
    if (s->local) {
        const uint64_t i = (uint64_t)key >> 32;
        return local_bit(&s->in_x, i) * IN_X | local_bit(&s->in_y, i) * IN_Y;
    }
    return stamp_sides(&s->marks, (int32_t)key);
}

/* ---- sampler ----------------------------------------------------------------------------------------------- */

/* Local index i as a mask (filled by setops_init): a table lookup is cheaper than building a two-word bit. */
static LocalMask LOCAL_BIT[LOCAL_BITS];

void setops_init(void) {
    for (int i = 0; i < LOCAL_BITS; i++) LOCAL_BIT[i].half[i >> 6] = (uint64_t)1 << (i & 63);
}

/* One drawn local index: its token into *dst; with `track`, its key into first[*kf] and *kf advanced when it is
 * the index's first draw (track 1: indices below 64, one mask word; track 2: two words, via LOCAL_BIT). */
static inline void take_local(uint32_t idx, const int32_t *local, int32_t *dst, int track, uint64_t *lo,
                              uint64_t *hi, int64_t *first, Py_ssize_t *kf) {
    const int32_t token = local[idx];
    *dst = token;
    if (!track) return;
    const uint64_t bit_lo = track == 1 ? (uint64_t)1 << idx : LOCAL_BIT[idx].half[0];
    const uint64_t bit_hi = track == 1 ? 0 : LOCAL_BIT[idx].half[1];
    first[*kf] = (int64_t)(uint32_t)token | (int64_t)idx << 32;
    *kf += !((*lo & bit_lo) | (*hi & bit_hi));
    *lo |= bit_lo;
    *hi |= bit_hi;
}

/* n draws with replacement from local[0..k) into dst, two per 64-bit random word (a last odd draw takes a word's
 * upper half). With `track` (a constant, so the loop is compiled once per value), also the keys of first
 * occurrence (token and local index) into first (returns how many) and their local indices into *seen
 * (k <= LOCAL_BITS): track 1 for k <= 64, track 2 for larger k. */
static inline Py_ssize_t draw_local(Rng *r, const int32_t *local, uint32_t k, int32_t *dst, int64_t n, int track,
                                    LocalMask *seen, int64_t *first) {
    Rng state = *r, *rng = &state; /* a local copy stays in registers (see native.h) */
    uint64_t lo = track ? seen->half[0] : 0, hi = track ? seen->half[1] : 0;
    Py_ssize_t kf = 0;
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
        const uint64_t word = rng_next(rng);
        const uint32_t first_idx = below_from(rng, (uint32_t)(word >> 32), k);
        const uint32_t second_idx = below_from(rng, (uint32_t)word, k);
        take_local(first_idx, local, dst + j, track, &lo, &hi, first, &kf);
        take_local(second_idx, local, dst + j + 1, track, &lo, &hi, first, &kf);
    }
    if (j < n) take_local(below_from(rng, (uint32_t)(rng_next(rng) >> 32), k), local, dst + j, track, &lo, &hi, first, &kf);
    if (track) {
        seen->half[0] = lo;
        seen->half[1] = hi;
    }
    *r = state;
    return kf;
}

static int set_op_row(int op, int set_order, const int32_t *x, int64_t nx, const int32_t *y, int64_t ny,
                      RowScratch *s, int firsts_known, RaggedOut *out);

/* Where two_sets writes: the plain sampler's two arguments, or (the generator) whole model inputs
 * `head + x + [divider] + y` and the target `op` of each, in `set_order`, with `empty` standing in for an empty
 * target. */
typedef struct {
    RaggedOut *arg1, *arg2;
    RaggedOut *inputs, *targets;
    const int32_t *head;
    Py_ssize_t head_len;
    int32_t divider, empty;
    int op, set_order;
} TwoSetsOut;

/* Per example: T ~ U{max(lo-1, 1)..hi-1} tokens, split n1 ~ U{0..T} / T - n1 (either side may be empty); a local
 * pool of max(T // 2, 1) distinct pool tokens; both arguments are draws with replacement from the local pool.
 * The total length T + 1 is always within [lo, hi], so no example is ever rejected.
 *
 * The distinct tokens come from a partial Fisher-Yates shuffle of a private copy of the pool that is *not* undone
 * between examples: the first k slots after k swap steps are a uniform k-subset whatever order the array was in
 * before (the order is independent of the new draws), so each example costs k draws and no rejection, and it works
 * for any k up to the pool size. */
static int two_sets_rows(SamplerArgs *a, const TwoSetsOut *o) {
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
    /* Local first occurrences need local indices that fit the masks. */
    const int track = o->targets && k_max <= LOCAL_BITS;
    RowScratch scratch = {0};
    int32_t *perm = PyMem_RawMalloc((size_t)a->pool_size * sizeof(int32_t));
    if (!perm || (o->targets && row_scratch_init(&scratch, t_hi, track) < 0)) {
        PyMem_RawFree(perm);
        row_scratch_free(&scratch);
        return kernel_no_memory();
    }
    memcpy(perm, a->pool, (size_t)a->pool_size * sizeof(int32_t));
    int rc = 0;
    for (Py_ssize_t i = 0; i < a->count && rc == 0; i++) {
        const int64_t total = rng_between(&a->rng, t_lo, t_hi);
        const int64_t n1 = rng_between(&a->rng, 0, total), n2 = total - n1;
        const uint32_t k = total / 2 > 1 ? (uint32_t)(total / 2) : 1;
        partial_shuffle(&a->rng, perm, a->pool_size, k);
        int32_t *x, *y;
        if (o->inputs) {
            int32_t *row = row_room(o->inputs, o->head_len + total + 1);
            if (!row) {
                rc = -1;
                break;
            }
            memcpy(row, o->head, (size_t)o->head_len * sizeof(int32_t));
            x = row + o->head_len;
            x[n1] = o->divider;
            y = x + n1 + 1;
            end_row(o->inputs, o->head_len + total + 1);
        } else {
            x = row_room(o->arg1, n1);
            y = x ? row_room(o->arg2, n2) : NULL;
            if (!y) {
                rc = -1;
                break;
            }
            end_row(o->arg1, n1);
            end_row(o->arg2, n2);
        }
        if (track) {
            LocalMask *in_x = &scratch.in_x, *in_y = &scratch.in_y;
            *in_x = *in_y = (LocalMask){{0, 0}};
            if (k <= 64) {
                scratch.kx = draw_local(&a->rng, perm, k, x, n1, 1, in_x, scratch.first_x);
                scratch.ky = draw_local(&a->rng, perm, k, y, n2, 1, in_y, scratch.first_y);
            } else {
                scratch.kx = draw_local(&a->rng, perm, k, x, n1, 2, in_x, scratch.first_x);
                scratch.ky = draw_local(&a->rng, perm, k, y, n2, 2, in_y, scratch.first_y);
            }
        } else {
            draw_local(&a->rng, perm, k, x, n1, 0, NULL, NULL);
            draw_local(&a->rng, perm, k, y, n2, 0, NULL, NULL);
        }
        if (o->targets) {
            rc = set_op_row(o->op, o->set_order, x, n1, y, n2, &scratch, track, o->targets);
            if (rc == 0 && VEC_I64(&o->targets->lengths)[o->targets->lengths.len - 1] == 0) {
                rc = vec_reserve(&o->targets->values, 1);
                if (rc == 0) {
                    vec_push_i32(&o->targets->values, o->empty);
                    VEC_I64(&o->targets->lengths)[o->targets->lengths.len - 1] = 1;
                }
            }
        }
    }
    PyMem_RawFree(perm);
    row_scratch_free(&scratch);
    return rc;
}

static int two_sets_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    const TwoSetsOut out = {.arg1 = arg1, .arg2 = arg2};
    return two_sets_rows(a, &out);
}

SAMPLER_FUNCTION(two_sets, two_sets_kernel, 1)

/* ---- targets ----------------------------------------------------------------------------------------------- */

/* Adds to `result` the keys of `it` (in its slot order) whose sides masked by `side` equal `want`. */
static int add_listed(RowScratch *s, const CSet *it, uint32_t side, uint32_t want, CSet *result) {
    const Py_ssize_t n = cset_keys(it, s->order);
    Py_ssize_t k = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        const int64_t key = s->order[j];
        s->order[k] = key;
        k += (sides(s, key) & side) == want;
    }
    return cset_add_absent(result, s->order, k);
}

/* The row in CPython order: CPython's set methods on `set(x)` and `set(y)`, given their first occurrences,
 * with membership from `sides`. Only the tables an operation iterates are built: union reads both, an
 * intersection the smaller set (y on a tie), a difference its left side, except on CPython's copy-and-discard
 * path (left side over four times the right), which runs the general code. */
static CSet *keyed_op(int op, RowScratch *s, CSet *sx, CSet *sy, CSet *result) {
    const int64_t *fx = s->first_x, *fy = s->first_y;
    const Py_ssize_t kx = s->kx, ky = s->ky;
    if (op == UNION) { /* set_or: copy x (in place: x is not needed after), one presize, add y's keys x lacks */
        if (cset_add_absent(sx, fx, kx) < 0 || cset_add_absent(sy, fy, ky) < 0) return NULL;
        if (sx->used == 0) return cset_copy(result, sy) < 0 ? NULL : result; /* set_merge's copy paths for y */
        if (cset_become_copy(sx) < 0 || cset_presize(sx, sy->used) < 0 || add_listed(s, sy, IN_X, 0, sx) < 0)
            return NULL;
        return sx;
    }
    /* Which set is iterated (`it`) and which side must hold (or lack) its keys. */
    const int x_first = op == INTERSECT ? ky > kx : op == X_MINUS_Y;
    const int64_t *first = x_first ? fx : fy;
    const Py_ssize_t k_first = x_first ? kx : ky, k_other = x_first ? ky : kx;
    CSet *it = x_first ? sx : sy;
    const uint32_t other_side = x_first ? IN_Y : IN_X, want = op == INTERSECT ? other_side : 0;
    int rc;
    if (op != INTERSECT && (k_first >> 2) > k_other) { /* set_copy_and_difference */
        rc = cset_add_absent(sx, fx, kx);
        if (rc == 0) rc = cset_add_absent(sy, fy, ky);
        if (rc == 0) rc = x_first ? cset_difference(result, sx, sy) : cset_difference(result, sy, sx);
    } else {
        rc = cset_add_absent(it, first, k_first);
        if (rc == 0) rc = add_listed(s, it, other_side, want, result);
    }
    return rc < 0 ? NULL : result;
}

/* The row's result into dst (room for kx + ky); returns its size, or -1. The sorted and first_appearance
 * orders need no table: the result's members in order of first appearance are the first occurrences of x, then
 * those of y that x lacks, each kept when its sides put it in the result. */
static Py_ssize_t keyed_row(int op, int set_order, RowScratch *s, int32_t *dst) {
    if (set_order == SET_ORDER_CPYTHON) {
        CSet sx, sy, result;
        cset_init(&sx);
        cset_init(&sy);
        cset_init(&result);
        const CSet *out = keyed_op(op, s, &sx, &sy, &result);
        const Py_ssize_t n = out ? cset_list(out, dst) : -1;
        cset_free(&sx);
        cset_free(&sy);
        cset_free(&result);
        return n;
    }
    const unsigned members = RESULT_SIDES[op];
    Py_ssize_t n = 0;
    for (Py_ssize_t j = 0; j < s->kx; j++) {
        dst[n] = (int32_t)s->first_x[j];
        n += (members >> sides(s, s->first_x[j])) & 1;
    }
    for (Py_ssize_t j = 0; j < s->ky; j++) {
        const uint32_t held = sides(s, s->first_y[j]);
        dst[n] = (int32_t)s->first_y[j];
        n += (held & IN_X) == 0 && ((members >> held) & 1);
    }
    if (set_order == SET_ORDER_SORTED) sort_i32(dst, n);
    return n;
}

/* The general row (ids outside the stamp table): real emulated sets for x, y and the result. */
static int general_row(int op, int set_order, const int32_t *x, int64_t nx, const int32_t *y, int64_t ny,
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
    int32_t *dst = failed < 0 ? NULL : row_room(out, result.used);
    if (!dst) goto done;
    if (set_order == SET_ORDER_FIRST_APPEARANCE) { /* the result's members in order of first appearance in x + y */
        const Py_ssize_t from_x = cset_add_new(&seen, x, nx, &result, dst);
        if (from_x < 0 || cset_add_new(&seen, y, ny, &result, dst + from_x) < 0) goto done;
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

/* Side `side`'s first occurrences of v as keys without a payload (their sides come from the stamps); returns how
 * many. */
static Py_ssize_t stamped_keys(RowScratch *s, const int32_t *v, int64_t n, uint32_t side, int64_t *dst) {
    const Py_ssize_t k = first_occurrences(&s->marks, v, n, side, s->plain);
    for (Py_ssize_t j = 0; j < k; j++) dst[j] = s->plain[j];
    return k;
}

/* One row: `set(x) OP set(y)` in `set_order`. `firsts_known`: the caller (the fused sampler) already filled the
 * row's keyed first occurrences and local masks; otherwise they come from the tokens and the stamps. */
static int set_op_row(int op, int set_order, const int32_t *x, int64_t nx, const int32_t *y, int64_t ny,
                      RowScratch *s, int firsts_known, RaggedOut *out) {
    if (!firsts_known) {
        if (!stamped(x, nx) || !stamped(y, ny)) return general_row(op, set_order, x, nx, y, ny, out);
        stamps_next_row(&s->marks);
        s->kx = stamped_keys(s, x, nx, IN_X, s->first_x);
        s->ky = stamped_keys(s, y, ny, IN_Y, s->first_y);
    }
    int32_t *dst = row_room(out, s->kx + s->ky);
    const Py_ssize_t n = dst ? keyed_row(op, set_order, s, dst) : -1;
    if (n < 0) return -1;
    end_row(out, n);
    return 0;
}

static int set_op(const TargetArgs *t, RaggedOut *out, int op) {
    int64_t longest = 1;
    for (Py_ssize_t r = 0; r < t->a.count; r++) {
        if (t->a.lengths[r] > longest) longest = t->a.lengths[r];
        if (t->b.lengths[r] > longest) longest = t->b.lengths[r];
    }
    RowScratch scratch;
    int rc = row_scratch_init(&scratch, longest, 0);
    for (Py_ssize_t r = 0; r < t->a.count && rc == 0; r++) {
        rc = set_op_row(op, t->set_order, RAGGED_ROW(&t->a, r), t->a.lengths[r], RAGGED_ROW(&t->b, r),
                        t->b.lengths[r], &scratch, 0, out);
    }
    row_scratch_free(&scratch);
    return rc;
}

static int union_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, UNION); }
static int intersect_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, INTERSECT); }
static int set_1_minus_2_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, X_MINUS_Y); }
static int set_2_minus_1_kernel(const TargetArgs *t, RaggedOut *out) { return set_op(t, out, Y_MINUS_X); }

/* set_operation_generate(seed, count, lo, hi, pool, head: int32[], divider, empty, op, set_order)
 *   -> (iv, il, tv, tl)
 * The generator of the set-operation tasks: the rows of sample_two_sets (same seed, same draws) written as model
 * inputs, and their targets computed in the same pass. Why: the sampler draws local-pool indices, from which the
 * first occurrences and the sides of every token come almost free (see draw_local), and the arguments are written
 * once, where they end up. */
static int set_operation_kernel(SamplerArgs *a, const void *options, RaggedOut *inputs, RaggedOut *targets) {
    TwoSetsOut out = *(const TwoSetsOut *)options;
    out.inputs = inputs;
    out.targets = targets;
    return two_sets_rows(a, &out);
}

static PyObject *set_operation_generate(PyObject *self, PyObject *args) {
    PyObject *seed, *pool, *head_obj;
    Py_ssize_t count;
    long long lo, hi;
    int divider, empty, op, set_order;
    if (!PyArg_ParseTuple(args, "OnLLOOiiii", &seed, &count, &lo, &hi, &pool, &head_obj, &divider, &empty, &op,
                          &set_order))
        return NULL;
    if (op < UNION || op > Y_MINUS_X || set_order < SET_ORDER_CPYTHON || set_order > SET_ORDER_FIRST_APPEARANCE) {
        PyErr_Format(PyExc_ValueError, "unknown set operation %d or set order %d", op, set_order);
        return NULL;
    }
    Py_buffer head;
    if (PyObject_GetBuffer(head_obj, &head, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    SamplerArgs a;
    PyObject *result = NULL;
    if (head.len % 4) {
        PyErr_SetString(PyExc_ValueError, "head must be an int32 array");
    } else if (sampler_args_from(seed, count, lo, hi, pool, &a) == 0) {
        const Py_ssize_t head_len = head.len / 4, mean_total = (a.lo + a.hi) / 2;
        const TwoSetsOut options = {.head = head.buf, .head_len = head_len, .divider = divider, .empty = empty,
                                    .op = op, .set_order = set_order};
        result = run_generator(&a, set_operation_kernel, &options, a.count * (head_len + mean_total + 1),
                               a.count * (mean_total / 2 + 1));
    }
    PyBuffer_Release(&head);
    return result;
}

#define TARGET(name) TARGET_FUNCTION(name, name##_kernel, 1)
TARGET(union)
TARGET(intersect)
TARGET(set_1_minus_2)
TARGET(set_2_minus_1)

PyMethodDef synpt_setops_methods[] = {
    {"sample_two_sets", sample_two_sets, METH_VARARGS,
     "union & co: T ~ U{max(lo-1,1)..hi-1} tokens split n1 ~ U{0..T} / T-n1, drawn from max(T//2, 1) distinct tokens"},
    {"set_operation_generate", set_operation_generate, METH_VARARGS,
     "set_operation_generate(seed, count, lo, hi, pool, head, divider, empty, op, set_order) -> (iv, il, tv, tl): "
     "the two_sets samples as model inputs head + x + [divider] + y and their targets (op 0 union, 1 intersect, "
     "2 set_1_minus_2, 3 set_2_minus_1; an empty target is [empty])"},
    {"target_union", target_union, METH_VARARGS, "set(x) | set(y) in the set order"},
    {"target_intersect", target_intersect, METH_VARARGS, "set(x) & set(y) in the set order"},
    {"target_set_1_minus_2", target_set_1_minus_2, METH_VARARGS, "set(x) - set(y) in the set order"},
    {"target_set_2_minus_1", target_set_2_minus_1, METH_VARARGS, "set(y) - set(x) in the set order"},
    {NULL, NULL, 0, NULL},
};
