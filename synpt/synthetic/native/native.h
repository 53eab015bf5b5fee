/* Shared pieces of the synthetic-data kernels (`synpt.synthetic._native`, wrapped by synpt/synthetic/native.py):
 *   sample(name, seed: bytes[32], count, lo, hi, pool: int32[], balanced=0) -> (v1, l1, v2, l2): `count` samples
 *             of the sampler `name` (module.c's table), arg1 = (int32 values, int64 lengths), arg2 likewise or
 *             (None, None) for a unary sampler; LIME's samplers give whole examples (inputs, targets);
 *   target(name, v1, l1, v2, l2, set_order) -> (tv, tl): the target `name` of every sample (module.c's table: the set
 *             operations of setops.c, and sort);
 *   format_pairs, assemble: writing examples (format.c).
 * Arrays come in through the buffer protocol and go out as bytearrays (no numpy headers). Kernels run without the
 * GIL (so `generate --workers K` threads work in parallel): they allocate with PyMem_Raw* and report a failure with
 * kernel_fail() / kernel_no_memory(), which the driver raises once it holds the GIL again. */
#ifndef SYNPT_NATIVE_H
#define SYNPT_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* xoshiro256**, seeded with the block generator's `rng.bytes(32)`. Every draw defines the generated files: changing
 * how many outputs a step uses changes every later byte. */
typedef struct {
    uint64_t s[4];
} Rng;


static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(Rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* Lemire's multiply-shift: uniform in [0, n), 1 <= n < 2^32, from the random `word`; while the product falls in
 * the biased low zone, the word is replaced by the upper half of the next output. */
static inline uint32_t below_from(Rng *r, uint32_t word, uint32_t n) {
    uint64_t m = (uint64_t)word * n;
    if ((uint32_t)m < n) {
        const uint32_t threshold = (uint32_t)(-n) % n;
        while ((uint32_t)m < threshold) m = (rng_next(r) >> 32) * (uint64_t)n;
    }
    return (uint32_t)(m >> 32);
}

/* Uniform in [0, n) from the upper half of the next output. */
static inline uint32_t rng_below(Rng *r, uint32_t n) { return below_from(r, (uint32_t)(rng_next(r) >> 32), n); }

/* Uniform in [lo, hi] (like random.randint); needs hi - lo < 2^32 - 1. */
static inline int64_t rng_between(Rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Uniform double in [0, 1) with 53 random bits (like random.random). */
static inline double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* `n` uniform draws with replacement from src[0..size) into dst: two draws per output, its upper half then its
 * lower half; an odd last draw takes the upper half of a fresh output. */
static inline void draw_from(Rng *r, const int32_t *src, uint32_t size, int32_t *dst, int64_t n) {
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
        const uint64_t word = rng_next(r);
        dst[j] = src[below_from(r, (uint32_t)(word >> 32), size)];
        dst[j + 1] = src[below_from(r, (uint32_t)word, size)];
    }
    if (j < n) dst[j] = src[rng_below(r, size)];
}

/* Fisher-Yates: a uniform permutation of v[0..n), like random.shuffle. */
static inline void shuffle_ids(Rng *r, int32_t *v, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = rng_below(r, (uint32_t)(i + 1));
        const int32_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* Partial Fisher-Yates: v[0..k) becomes a uniform ordered k-subset of v[0..n); the rest keeps the other entries. */
static inline void partial_shuffle(Rng *r, int32_t *v, int64_t n, int64_t k) {
    for (int64_t j = 0; j < k; j++) {
        const int64_t pick = j + rng_below(r, (uint32_t)(n - j));
        const int32_t t = v[j];
        v[j] = v[pick];
        v[pick] = t;
    }
}

int kernel_fail(PyObject *type, const char *format, ...); /* record an error for this thread; returns -1 */
int kernel_no_memory(void);                               /* record a MemoryError; returns -1 */
PyObject *raise_kernel_error(void); /* with the GIL: raise what this thread recorded; returns NULL */

/* Raw memory used as a growable array of `itemsize`-byte items; starts zeroed but for the itemsize. */
typedef struct {
    char *data;
    Py_ssize_t len, cap, itemsize;
} Vec;

int vec_reserve(Vec *v, Py_ssize_t extra); /* room for `extra` more items (`data` may move); -1: kernel_no_memory */
PyObject *vec_finish(Vec *v);              /* with the GIL: the items as a bytearray; frees the Vec */
void vec_clear(Vec *v);                    /* free (error paths); safe to call twice */

#define VEC_I32(v) ((int32_t *)(v)->data)
#define VEC_I64(v) ((int64_t *)(v)->data)

/* A ragged result being built: int32 values and one int64 length per row; starts as RAGGED_OUT. */
typedef struct {
    Vec values, lengths;
} RaggedOut;

#define RAGGED_OUT {.values = {.itemsize = 4}, .lengths = {.itemsize = 8}}
PyObject *ragged_out_finish(RaggedOut *o); /* (values, lengths) as vec_finish bytearrays */
static inline void ragged_out_clear(RaggedOut *o) {
    vec_clear(&o->values);
    vec_clear(&o->lengths);
}

/* Room for a row of n values at the end of `o` (valid until `o` grows), or NULL; end_row() closes the row. */
static inline int32_t *row_room(RaggedOut *o, int64_t n) {
    if (vec_reserve(&o->values, n) < 0 || vec_reserve(&o->lengths, 1) < 0) return NULL;
    return VEC_I32(&o->values) + o->values.len;
}

static inline void end_row(RaggedOut *o, int64_t n) {
    o->values.len += n;
    VEC_I64(&o->lengths)[o->lengths.len++] = n;
}

/* A read-only view of a ragged argument; `present` is 0 when both objects were None. */
typedef struct {
    const int32_t *values;
    const int64_t *lengths;
    int64_t *offsets; /* start of every row in `values` */
    Py_ssize_t count, total;
    int present;
    Py_buffer vview, lview;
} RaggedIn;

int ragged_in(PyObject *values, PyObject *lengths, RaggedIn *r); /* checks dtypes and sum(lengths) */
void ragged_release(RaggedIn *r);
/* Two ragged arguments, the second with as many rows as the first or (may_lack) None; -1 with a Python error. */
int two_ragged(PyObject *v1, PyObject *l1, PyObject *v2, PyObject *l2, RaggedIn *a, RaggedIn *b, int may_lack);

#define RAGGED_ROW(in, r) ((in)->values + (in)->offsets[r])

/* `work` (a zeroed Vec) grown to hold `bytes`, contents not kept; NULL after kernel_no_memory. */
static inline void *scratch_get(Vec *work, size_t bytes) {
    work->itemsize = 1;
    return vec_reserve(work, (Py_ssize_t)bytes + 1) < 0 ? NULL : work->data;
}

static inline int compare_i32(const void *p, const void *q) { /* for qsort: ascending */
    const int32_t a = *(const int32_t *)p, b = *(const int32_t *)q;
    return (a > b) - (a < b);
}

typedef struct {
    Rng rng;
    Py_ssize_t count;
    int64_t lo, hi;
    const int32_t *pool;
    uint32_t pool_size;
    int variant;  /* from module.c's table: which variant of a kernel shared by several samplers */
    int balanced; /* the caller's flag (delete/search keep the branch through the length rejection) */
    Py_buffer pool_view;
    Vec work; /* the kernel's work buffer (scratch_get), freed with the arguments */
} SamplerArgs;

/* One uniform draw from the pool, and n of them (draw_from). */
static inline int32_t draw_token(SamplerArgs *a) { return a->pool[rng_below(&a->rng, a->pool_size)]; }
static inline void draw_tokens(SamplerArgs *a, int32_t *dst, int64_t n) {
    draw_from(&a->rng, a->pool, a->pool_size, dst, n);
}

/* A sampler kernel fills `a->count` rows of arg1 (and of arg2, NULL for a unary sampler) and returns 0, or -1 after
 * kernel_fail / kernel_no_memory; `sample` (module.c) parses the arguments, runs it without the GIL and builds the
 * Python result. */
typedef int SamplerKernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2);
SamplerKernel uniform_kernel, runs_kernel, words_kernel, count_kernel, replace_kernel, sort_kernel, query_kernel,
    two_sets_kernel, lime_kernel;

/* A target's row function: appends the target of sample r (a's row r, and b's) to `out` and returns 0, or -1 after
 * kernel_fail / kernel_no_memory; `variant` comes from module.c's table of targets (for set_op_row, the operation:
 * list(set(x)), set(x) | set(y), &, x - y, y - x), `set_order` from the caller. */
typedef int TargetRow(int variant, int set_order, const RaggedIn *a, const RaggedIn *b, Py_ssize_t r, RaggedOut *out);
TargetRow set_op_row, sort_row;
enum { LIST_SET_X, UNION, INTERSECT, X_MINUS_Y, Y_MINUS_X };
enum { SET_ORDER_CPYTHON, SET_ORDER_SORTED, SET_ORDER_FIRST_APPEARANCE };

/* The writers of format.c (module.c's method table names them). */
PyObject *format_pairs(PyObject *self, PyObject *args);
PyObject *assemble(PyObject *self, PyObject *args);

/* Each id's text and ", " (str(list)'s items) from p on; returns the end. Needs 13 bytes per id + 8 (format.c). */
char *put_ids(char *p, const int32_t *ids, int64_t n);
void format_init(void);

#endif
