/* Shared pieces of the synthetic-data kernels (`synpt.synthetic._native`): random numbers, growable output arrays,
 * ragged-array arguments and the calling conventions every kernel follows.
 *
 * Why these conventions: Python passes numpy arrays through the buffer protocol and gets buffer objects back (the
 * output memory itself, see vec_finish), which `synpt/synthetic/native.py` wraps with `np.frombuffer` (no copy). So the extension needs no numpy headers, and one
 * Python wrapper per *kind* of kernel (sampler, target) serves every task.
 *
 *   sampler:  sample_NAME(seed: bytes[32], count, lo, hi, pool: int32[]) -> (v1, l1, v2, l2)
 *             `count` candidate samples; arg1 = (v1 int32 values, l1 int64 lengths); arg2 likewise, or
 *             (None, None) for a unary sampler. Whole-sample rejection on `length_range` is Python's `accepted`,
 *             except for delete/search, whose kernels reject per example (their branch choice is redrawn too).
 *   target:   target_NAME(v1, l1, v2, l2, set_order) -> (tv, tl)
 *             the target of every sample; v2/l2 are None for unary tasks. set_order: SET_ORDER_* below.
 *
 * Kernels (the per-example loops) run with the GIL released, so `synpt generate --workers K` threads make blocks in
 * parallel. A kernel therefore never touches Python: it allocates with PyMem_Raw*, and reports a failure with
 * kernel_fail() / kernel_no_memory(), which record it for the calling thread; the driver raises it once it holds
 * the GIL again. Argument parsing and result building (with the GIL) raise Python exceptions directly.
 * Kernels never write outside the arrays they reserved.
 */
#ifndef SYNPT_NATIVE_H
#define SYNPT_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- random numbers ---------------------------------------------------------------------------------------- */
/* xoshiro256** (Blackman & Vigna), seeded with 32 bytes the block's numpy Generator draws (`rng.bytes(32)`), so
 * a kernel's stream is a deterministic function of (task, seed, block) like everything else. */
typedef struct {
    uint64_t s[4];
} Rng;

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(Rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* Lemire's multiply-shift: a uniform integer in [0, n), 1 <= n < 2^32, from a 32-bit random word, exactly unbiased:
 * a word in the biased low zone is replaced by the upper half of the next 64-bit output until one is not. */
static inline uint32_t below_from(Rng *r, uint32_t word, uint32_t n) {
    uint64_t m = (uint64_t)word * n;
    if ((uint32_t)m < n) {
        const uint32_t threshold = (uint32_t)(-n) % n;
        while ((uint32_t)m < threshold) m = (rng_next(r) >> 32) * (uint64_t)n;
    }
    return (uint32_t)(m >> 32);
}

/* Uniform integer in [0, n) from the upper half of the next output. */
static inline uint32_t rng_below(Rng *r, uint32_t n) { return below_from(r, (uint32_t)(rng_next(r) >> 32), n); }

/* Uniform integer in [lo, hi] inclusive (like Python's random.randint); needs hi - lo < 2^32 - 1. */
static inline int64_t rng_between(Rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Uniform double in [0, 1) with 53 random bits (like random.random). */
static inline double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Seed from a 32-byte bytes-like object; -1 with a Python error on a wrong size. */
int rng_seed(Rng *r, PyObject *seed);

/* ---- failures inside kernels (no GIL) --------------------------------------------------------------------- */
int kernel_fail(PyObject *type, const char *format, ...); /* record an error for this thread; returns -1 */
int kernel_no_memory(void);                               /* record a MemoryError; returns -1 */
PyObject *raise_kernel_error(void); /* with the GIL: raise what this thread recorded; returns NULL */

/* ---- growable output arrays -------------------------------------------------------------------------------- */
/* Raw memory used as an array of `itemsize`-byte items (usable without the GIL); `data` moves on vec_reserve.
 * vec_init/vec_reserve fail through kernel_no_memory. */
typedef struct {
    char *data;
    Py_ssize_t len, cap, itemsize;
} Vec;

int vec_init(Vec *v, Py_ssize_t itemsize, Py_ssize_t cap);
int vec_reserve(Vec *v, Py_ssize_t extra); /* room for `extra` more items */
PyObject *vec_finish(Vec *v);              /* with the GIL: a buffer object owning the `len` items (no copy) */
void vec_clear(Vec *v);                    /* free it (error paths); safe to call twice */

#define VEC_I32(v) ((int32_t *)(v)->data)
#define VEC_I64(v) ((int64_t *)(v)->data)

/* Append without a capacity check: the caller reserved the room. */
static inline void vec_push_i32(Vec *v, int32_t x) { VEC_I32(v)[v->len++] = x; }
static inline void vec_push_i64(Vec *v, int64_t x) { VEC_I64(v)[v->len++] = x; }

/* ---- ragged arrays ----------------------------------------------------------------------------------------- */
/* A read-only view of a Ragged (int32 values, int64 lengths); `present` is 0 when both objects were None. */
typedef struct {
    const int32_t *values;
    const int64_t *lengths;
    const int64_t *offsets; /* computed: start of every row in `values` (count entries) */
    Py_ssize_t count, total;
    int present;
    Py_buffer vview, lview;
    int64_t *owned_offsets;
} RaggedIn;

int ragged_in(PyObject *values, PyObject *lengths, RaggedIn *r); /* checks dtypes and sum(lengths) */
void ragged_release(RaggedIn *r);

/* A ragged result being built: values (int32) and one length (int64) per row. */
typedef struct {
    Vec values, lengths;
} RaggedOut;

int ragged_out_init(RaggedOut *o, Py_ssize_t rows, Py_ssize_t values_cap); /* fails like vec_init */
/* Room for a row of n values at the end of `o`, or NULL (after kernel_no_memory); end_row() closes it. The
 * pointer stays valid until `o` grows again. */
static inline int32_t *row_room(RaggedOut *o, int64_t n) {
    if (vec_reserve(&o->values, n) < 0) return NULL;
    return VEC_I32(&o->values) + o->values.len;
}

static inline void end_row(RaggedOut *o, int64_t n) {
    o->values.len += n;
    vec_push_i64(&o->lengths, n);
}

/* Row r of a RaggedIn. */
#define RAGGED_ROW(in, r) ((in)->values + (in)->offsets[r])
PyObject *ragged_out_finish(RaggedOut *o); /* (values, lengths) as vec_finish buffers */
void ragged_out_clear(RaggedOut *o);

static inline int compare_i32(const void *p, const void *q) { /* for qsort: ascending int32 */
    int32_t a = *(const int32_t *)p, b = *(const int32_t *)q;
    return (a > b) - (a < b);
}

/* Partial Fisher-Yates: v[0..k) becomes a uniform ordered k-subset of v[0..n) (k <= n), with k draws. The rest of
 * v keeps the other entries, so the array can be reused for the next draw without being reset. */
static inline void partial_shuffle(Rng *r, int32_t *v, int64_t n, int64_t k) {
    for (int64_t j = 0; j < k; j++) {
        const int64_t pick = j + rng_below(r, (uint32_t)(n - j));
        const int32_t t = v[j];
        v[j] = v[pick];
        v[pick] = t;
    }
}

/* A work buffer that grows to the largest request of one kernel call (kernels keep no global mutable state). */
typedef struct {
    void *data;
    size_t size;
} Scratch;

/* Room for `bytes` bytes (the contents are not kept), or NULL after kernel_no_memory. */
static inline void *scratch_get(Scratch *s, size_t bytes) {
    if (bytes == 0) bytes = 1; /* a NULL result always means an error */
    if (bytes > s->size) {
        void *p = PyMem_RawRealloc(s->data, bytes);
        if (!p) {
            kernel_no_memory();
            return NULL;
        }
        s->data = p;
        s->size = bytes;
    }
    return s->data;
}

static inline void scratch_free(Scratch *s) {
    PyMem_RawFree(s->data);
    s->data = NULL;
    s->size = 0;
}

/* ---- the two kernel kinds ---------------------------------------------------------------------------------- */
typedef struct {
    Rng rng;
    Py_ssize_t count;
    int64_t lo, hi;
    const int32_t *pool;
    uint32_t pool_size;
    Py_buffer pool_view;
    Scratch work; /* a kernel's work buffer, freed with the arguments (sampler_args_release) */
} SamplerArgs;

int sampler_args(PyObject *args, SamplerArgs *a); /* parses (seed, count, lo, hi, pool) */
/* The same from values a kernel with more arguments parsed itself. */
int sampler_args_from(PyObject *seed, Py_ssize_t count, long long lo, long long hi, PyObject *pool, SamplerArgs *a);
void sampler_args_release(SamplerArgs *a);

/* One uniform draw with replacement from the pool. */
static inline int32_t draw_token(SamplerArgs *a) { return a->pool[rng_below(&a->rng, a->pool_size)]; }

/* `n` uniform draws with replacement from src[0..size) into dst. Two draws per 64-bit output, its upper half then its
 * lower half (both halves of xoshiro256** are full quality); an odd last draw takes the upper half of a fresh
 * output. This pairing is part of the random stream: it decides which tokens every generated file holds. */
static inline void draw_from(Rng *r, const int32_t *src, uint32_t size, int32_t *dst, int64_t n) {
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
        const uint64_t word = rng_next(r);
        dst[j] = src[below_from(r, (uint32_t)(word >> 32), size)];
        dst[j + 1] = src[below_from(r, (uint32_t)word, size)];
    }
    if (j < n) dst[j] = src[rng_below(r, size)];
}

/* `n` uniform draws with replacement from the pool (draw_from). */
static inline void draw_tokens(SamplerArgs *a, int32_t *dst, int64_t n) { draw_from(&a->rng, a->pool, a->pool_size, dst, n); }

/* Fisher-Yates: a uniform permutation of v[0..n), like random.shuffle. */
static inline void shuffle_ids(Rng *r, int32_t *v, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = rng_below(r, (uint32_t)(i + 1));
        const int32_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* The (v1, l1, v2, l2) result of a sampler; `arg2` NULL for a unary sampler. Clears both on return. */
PyObject *sampler_result(RaggedOut *arg1, RaggedOut *arg2);

enum { SET_ORDER_CPYTHON = 0, SET_ORDER_SORTED = 1, SET_ORDER_FIRST_APPEARANCE = 2 };

typedef struct {
    RaggedIn a, b; /* b.present == 0 for unary tasks */
    int set_order;
} TargetArgs;

int target_args(PyObject *args, TargetArgs *t, int binary); /* parses (v1, l1, v2, l2, set_order) */
void target_args_release(TargetArgs *t);

/* Drivers that parse the arguments, run a kernel without the GIL and build the Python result, so a kernel file
 * holds only logic.
 * A sampler kernel fills arg1 (and arg2 when `binary`) with `a->count` rows; a target kernel fills `out` with one
 * row per sample. Both start with room for about the expected size and must vec_reserve before writing more;
 * they return 0, or -1 after kernel_fail / kernel_no_memory. */
typedef int (*SamplerKernel)(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2);
typedef int (*TargetKernel)(const TargetArgs *t, RaggedOut *out);
PyObject *run_sampler(PyObject *args, SamplerKernel kernel, int binary);
PyObject *run_target(PyObject *args, TargetKernel kernel, int binary); /* binary: arg2 is required */

/* A generator kernel (LIME) samples and writes whole examples in one pass: model inputs and their targets,
 * `a->count` rows each (fewer only where the kernel documents it). `options` are its own parameters.
 * run_generator runs it without the GIL, releases `a`, and returns (iv, il, tv, tl); the capacities are a first
 * guess of the values all rows need. */
typedef int (*GeneratorKernel)(SamplerArgs *a, const void *options, RaggedOut *inputs, RaggedOut *targets);
PyObject *run_generator(SamplerArgs *a, GeneratorKernel kernel, const void *options, Py_ssize_t input_cap,
                        Py_ssize_t target_cap);

/* The Python functions `sample_NAME` / `target_NAME` of a kernel (binary: it has, or needs, a second argument). */
#define SAMPLER_FUNCTION(name, kernel, binary) \
    static PyObject *sample_##name(PyObject *self, PyObject *args) { return run_sampler(args, kernel, binary); }
#define TARGET_FUNCTION(name, kernel, binary) \
    static PyObject *target_##name(PyObject *self, PyObject *args) { return run_target(args, kernel, binary); }

/* Each id's text followed by ", " (Python's str(list) items), from p on; returns the new end. Needs 13 bytes per
 * id plus 8 of slack (format.c; its table is built when the module loads). */
char *put_ids(char *p, const int32_t *ids, int64_t n);
void format_init(void);

/* ---- the T5 ids of the numbers 0..N (length and count targets), registered once by synpt/synthetic/simple.py ---- */
/* The ids of str(n), or NULL (after kernel_fail) when n is outside the registered table. */
const int32_t *number_ids(int64_t n, Py_ssize_t *len);

/* ---- the method tables of the kernel files, added to the module by module.c ------------------------------- */
extern PyMethodDef synpt_module_methods[];
extern PyMethodDef synpt_format_methods[];
extern PyMethodDef synpt_cpyset_methods[];
extern PyMethodDef synpt_unary_methods[];
extern PyMethodDef synpt_binary_methods[];
extern PyMethodDef synpt_setops_methods[];
extern PyMethodDef synpt_lime_methods[];

#endif
