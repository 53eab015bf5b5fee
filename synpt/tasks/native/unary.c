/* Unary tasks (reference §2.6.1): the samplers `uniform` (copy, reverse, duplicate, first/last token, length),
 * and the targets that need no set logic. One example at a time, in the order the reference builds it. */
#include "native.h"

/* L ~ U{lo..hi} uniform pool tokens. */
static int uniform_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    for (Py_ssize_t i = 0; i < a->count; i++) {
        int64_t n = rng_between(&a->rng, a->lo, a->hi);
        if (vec_reserve(&arg1->values, n) < 0) return -1;
        draw_tokens(a, VEC_I32(&arg1->values) + arg1->values.len, n);
        arg1->values.len += n;
        vec_push_i64(&arg1->lengths, n);
    }
    return 0;
}

static PyObject *sample_uniform(PyObject *self, PyObject *args) { return run_sampler(args, uniform_kernel, 0); }

/* Targets that are a fixed rearrangement of each row. `mode`: which one (the four share the row loop). */
enum { COPY, REVERSE, DUPLICATE, FIRST, LAST };

static int rearrange(const TargetArgs *t, RaggedOut *out, int mode) {
    const RaggedIn *a = &t->a;
    for (Py_ssize_t r = 0; r < a->count; r++) {
        const int32_t *row = a->values + a->offsets[r];
        int64_t n = a->lengths[r];
        int64_t m = mode == DUPLICATE ? 2 * n : (mode == FIRST || mode == LAST) ? (n > 0) : n;
        if (vec_reserve(&out->values, m) < 0) return -1;
        int32_t *dst = VEC_I32(&out->values) + out->values.len;
        switch (mode) {
        case COPY: memcpy(dst, row, n * 4); break;
        case REVERSE: for (int64_t j = 0; j < n; j++) dst[j] = row[n - 1 - j]; break;
        case DUPLICATE: for (int64_t j = 0; j < n; j++) dst[2 * j] = dst[2 * j + 1] = row[j]; break;
        case FIRST: if (n) dst[0] = row[0]; break;
        case LAST: if (n) dst[0] = row[n - 1]; break;
        }
        out->values.len += m;
        vec_push_i64(&out->lengths, m);
    }
    return 0;
}

static int copy_kernel(const TargetArgs *t, RaggedOut *out) { return rearrange(t, out, COPY); }
static int reverse_kernel(const TargetArgs *t, RaggedOut *out) { return rearrange(t, out, REVERSE); }
static int duplicate_kernel(const TargetArgs *t, RaggedOut *out) { return rearrange(t, out, DUPLICATE); }
static int first_kernel(const TargetArgs *t, RaggedOut *out) { return rearrange(t, out, FIRST); }
static int last_kernel(const TargetArgs *t, RaggedOut *out) { return rearrange(t, out, LAST); }

/* length: the T5 ids of str(len(row)). */
static int length_kernel(const TargetArgs *t, RaggedOut *out) {
    for (Py_ssize_t r = 0; r < t->a.count; r++) {
        Py_ssize_t len;
        const int32_t *ids = number_ids(t->a.lengths[r], &len);
        if (!ids || vec_reserve(&out->values, len) < 0) return -1;
        memcpy(VEC_I32(&out->values) + out->values.len, ids, len * 4);
        out->values.len += len;
        vec_push_i64(&out->lengths, len);
    }
    return 0;
}

#define TARGET(name) \
    static PyObject *target_##name(PyObject *self, PyObject *args) { return run_target(args, name##_kernel); }
TARGET(copy)
TARGET(reverse)
TARGET(duplicate)
TARGET(first)
TARGET(last)
TARGET(length)

PyMethodDef synpt_unary_methods[] = {
    {"sample_uniform", sample_uniform, METH_VARARGS, "copy & co: L ~ U{lo..hi} uniform pool tokens"},
    {"target_copy", target_copy, METH_VARARGS, "the row itself"},
    {"target_reverse", target_reverse, METH_VARARGS, "the row reversed"},
    {"target_duplicate", target_duplicate, METH_VARARGS, "every token twice"},
    {"target_first", target_first, METH_VARARGS, "the first token"},
    {"target_last", target_last, METH_VARARGS, "the last token"},
    {"target_length", target_length, METH_VARARGS, "the T5 ids of the row's length"},
    {NULL, NULL, 0, NULL},
};
