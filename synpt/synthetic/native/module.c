/* The module `synpt.synthetic._native`: the shared helpers of native.h, the drivers of the samplers and targets, and
 * the method table. */
#include "native.h"

#include <stdarg.h>

/* The generator state from a 32-byte bytes-like object; -1 with a Python error. */
static int rng_seed(Rng *r, PyObject *seed) {
    Py_buffer view;
    if (PyObject_GetBuffer(seed, &view, PyBUF_SIMPLE) < 0) return -1;
    const int ok = view.len == (Py_ssize_t)sizeof(r->s);
    if (ok) memcpy(r->s, view.buf, sizeof(r->s));
    else PyErr_Format(PyExc_ValueError, "seed must be %zd bytes, got %zd", (Py_ssize_t)sizeof(r->s), view.len);
    PyBuffer_Release(&view);
    if (ok && !(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* the one state xoshiro cannot leave */
    return ok ? 0 : -1;
}

static _Thread_local struct {
    PyObject *type; /* NULL: nothing recorded */
    char message[512];
} pending;

int kernel_fail(PyObject *type, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(pending.message, sizeof(pending.message), format, args);
    va_end(args);
    pending.type = type;
    return -1;
}

int kernel_no_memory(void) { return kernel_fail(PyExc_MemoryError, "out of memory in a synpt data kernel"); }

PyObject *raise_kernel_error(void) {
    if (!PyErr_Occurred()) PyErr_SetString(pending.type ? pending.type : PyExc_SystemError, pending.message);
    pending.type = NULL;
    return NULL;
}

int vec_reserve(Vec *v, Py_ssize_t extra) {
    if (v->data && v->len + extra <= v->cap) return 0;
    Py_ssize_t cap = v->cap ? v->cap * 2 : 1024; /* data is never NULL after a success */
    if (cap < v->len + extra) cap = v->len + extra;
    char *data = PyMem_RawRealloc(v->data, (size_t)(cap * v->itemsize));
    if (!data) return kernel_no_memory();
    v->data = data;
    v->cap = cap;
    return 0;
}

void vec_clear(Vec *v) {
    PyMem_RawFree(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

PyObject *vec_finish(Vec *v) {
    PyObject *array = PyByteArray_FromStringAndSize(v->data, v->len * v->itemsize);
    vec_clear(v);
    return array;
}

PyObject *ragged_out_finish(RaggedOut *o) {
    PyObject *values = vec_finish(&o->values), *lengths = vec_finish(&o->lengths);
    if (values && lengths) return Py_BuildValue("(NN)", values, lengths);
    Py_XDECREF(values);
    Py_XDECREF(lengths);
    return NULL;
}

/* A contiguous array of `itemsize`-byte integers (numpy's native-order int formats). */
static int get_view(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char type = view->format ? view->format[strspn(view->format, "<=@")] : 0;
    if (view->itemsize == itemsize && type && strchr("bhilq", type)) return 0;
    PyErr_Format(PyExc_TypeError, "%s must be a contiguous int%zd array", what, itemsize * 8);
    PyBuffer_Release(view);
    return -1;
}

int ragged_in(PyObject *values, PyObject *lengths, RaggedIn *r) {
    memset(r, 0, sizeof(*r));
    if (values == Py_None && lengths == Py_None) return 0;
    if (get_view(values, &r->vview, 4, "values") < 0) return -1;
    if (get_view(lengths, &r->lview, 8, "lengths") < 0) {
        PyBuffer_Release(&r->vview);
        return -1;
    }
    r->present = 1;
    r->values = r->vview.buf;
    r->lengths = r->lview.buf;
    r->count = r->lview.len / 8;
    r->total = r->vview.len / 4;
    if (!(r->offsets = PyMem_Malloc((r->count + 1) * sizeof(int64_t)))) PyErr_NoMemory();
    int64_t sum = 0;
    for (Py_ssize_t i = 0; r->offsets && i < r->count && !PyErr_Occurred(); i++) {
        if (r->lengths[i] < 0) PyErr_Format(PyExc_ValueError, "row %zd has a negative length", i);
        r->offsets[i] = sum;
        sum += r->lengths[i];
    }
    if (!PyErr_Occurred() && sum != r->total)
        PyErr_Format(PyExc_ValueError, "lengths sum to %lld but there are %zd values", (long long)sum, r->total);
    if (!PyErr_Occurred()) return 0;
    ragged_release(r);
    return -1;
}

void ragged_release(RaggedIn *r) {
    if (r->vview.obj) PyBuffer_Release(&r->vview);
    if (r->lview.obj) PyBuffer_Release(&r->lview);
    PyMem_Free(r->offsets);
    memset(r, 0, sizeof(*r));
}

int two_ragged(PyObject *v1, PyObject *l1, PyObject *v2, PyObject *l2, RaggedIn *a, RaggedIn *b, int may_lack) {
    if (ragged_in(v1, l1, a) < 0) return -1;
    if (ragged_in(v2, l2, b) < 0) {
        ragged_release(a);
        return -1;
    }
    if (a->present && (b->present ? b->count == a->count : may_lack)) return 0;
    PyErr_SetString(PyExc_ValueError, "needs two arguments, ragged arrays with as many rows");
    ragged_release(a);
    ragged_release(b);
    return -1;
}

/* The samplers by name: the kernel, whether it gives a second argument, and its `variant`. */
static const struct {
    const char *name;
    SamplerKernel *kernel;
    int binary, variant;
} samplers[] = {
    {"uniform", uniform_kernel, 0, 0},       /* copy & co: L ~ U{lo..hi} uniform pool tokens */
    {"runs", runs_kernel, 0, 0},             /* deduplicate: runs of pool tokens */
    {"shuffled_runs", runs_kernel, 0, 1},    /* set: the same, shuffled */
    {"words", words_kernel, 0, 0},           /* longest_word: words of pool tokens joined by 32098 */
    {"count", count_kernel, 1, 0},           /* copies of a query token among fillers; arg2 = [query] */
    {"replace", replace_kernel, 1, 0},       /* tokens; arg2 = [key from the tokens, fresh value] */
    {"sort", sort_kernel, 1, 0},             /* shuffled runs over an order; arg2 = the order */
    {"delete", query_kernel, 1, 75},         /* query present (branch A) with probability 75 %, else absent */
    {"search", query_kernel, 1, 50},         /* the same with 50 % */
    {"two_sets", two_sets_kernel, 1, 0},     /* union & co: two lists over a local pool */
    {"lime_induct", lime_kernel, 1, 0},      /* LIME examples (inputs, targets) of one mode */
    {"lime_deduct", lime_kernel, 1, 1},
    {"lime_abduct", lime_kernel, 1, 2},
};

static PyObject *sample(PyObject *self, PyObject *args) {
    const char *name;
    PyObject *seed, *pool, *result = NULL;
    long long lo, hi;
    int k = 0, n = sizeof(samplers) / sizeof(samplers[0]), rc;
    SamplerArgs a = {.balanced = 0};
    if (!PyArg_ParseTuple(args, "sOnLLO|p", &name, &seed, &a.count, &lo, &hi, &pool, &a.balanced)) return NULL;
    while (k < n && strcmp(samplers[k].name, name) != 0) k++;
    if (k == n) return PyErr_Format(PyExc_ValueError, "unknown sampler %R", PyTuple_GET_ITEM(args, 0));
    if (a.count < 0 || lo < 0 || hi < lo || hi >= (1LL << 31))
        return PyErr_Format(PyExc_ValueError, "bad sampler arguments: count %zd, length range (%lld, %lld)", a.count,
                            lo, hi);
    if (rng_seed(&a.rng, seed) < 0 || get_view(pool, &a.pool_view, 4, "pool") < 0) return NULL;
    a.lo = lo;
    a.hi = hi;
    a.variant = samplers[k].variant;
    a.pool = a.pool_view.buf;
    a.pool_size = (uint32_t)(a.pool_view.len / 4);
    RaggedOut one = RAGGED_OUT, other = RAGGED_OUT;
    if (a.pool_view.len == 0 || a.pool_view.len / 4 >= (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "the token pool must have between 1 and 2^32 - 1 tokens");
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = samplers[k].kernel(&a, &one, samplers[k].binary ? &other : NULL);
        Py_END_ALLOW_THREADS
        PyObject *first = rc < 0 ? raise_kernel_error() : ragged_out_finish(&one), *second = NULL;
        if (first) second = samplers[k].binary ? ragged_out_finish(&other) : Py_BuildValue("(OO)", Py_None, Py_None);
        if (second) result = PySequence_Concat(first, second); /* (v1, l1, v2, l2) */
        Py_XDECREF(first);
        Py_XDECREF(second);
    }
    ragged_out_clear(&one);
    ragged_out_clear(&other);
    PyBuffer_Release(&a.pool_view);
    vec_clear(&a.work);
    return result;
}

/* The targets by name: the row function and its `variant` (which set operation). */
static const struct {
    const char *name;
    TargetRow *row;
    int variant;
} targets[] = {
    {"list_set", set_op_row, LIST_SET_X}, /* list(set(x)): for tests of the set emulation */
    {"union", set_op_row, UNION},
    {"intersect", set_op_row, INTERSECT},
    {"set_1_minus_2", set_op_row, X_MINUS_Y},
    {"set_2_minus_1", set_op_row, Y_MINUS_X},
    {"sort", sort_row, 0},
};

static PyObject *target(PyObject *self, PyObject *args) {
    const char *name;
    PyObject *v1, *l1, *v2, *l2, *result = NULL;
    int set_order, k = 0, n = sizeof(targets) / sizeof(targets[0]), rc = 0;
    RaggedIn a, b;
    if (!PyArg_ParseTuple(args, "sOOOOi", &name, &v1, &l1, &v2, &l2, &set_order)) return NULL;
    while (k < n && strcmp(targets[k].name, name) != 0) k++;
    if (k == n || set_order < SET_ORDER_CPYTHON || set_order > SET_ORDER_FIRST_APPEARANCE)
        return PyErr_Format(PyExc_ValueError, "unknown target %R or set order %d", PyTuple_GET_ITEM(args, 0),
                            set_order);
    if (two_ragged(v1, l1, v2, l2, &a, &b, 0) < 0) return NULL;
    RaggedOut out = RAGGED_OUT;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < a.count && rc == 0; r++)
        rc = targets[k].row(targets[k].variant, set_order, &a, &b, r, &out);
    Py_END_ALLOW_THREADS
    result = rc < 0 ? raise_kernel_error() : ragged_out_finish(&out);
    ragged_out_clear(&out);
    ragged_release(&a);
    ragged_release(&b);
    return result;
}

static PyMethodDef methods[] = {
    {"sample", sample, METH_VARARGS,
     "sample(name, seed, count, lo, hi, pool, balanced=0) -> (v1, l1, v2, l2): `count` samples of a sampler"},
    {"target", target, METH_VARARGS,
     "target(name, v1, l1, v2, l2, set_order) -> (tv, tl): the target of every sample; a set operation's members in "
     "set_order 0 (CPython 3.11's iteration order), 1 (sorted) or 2 (first appearance)"},
    {"format_pairs", format_pairs, METH_VARARGS,
     "format_pairs(buffer, iv, il, tv, tl) -> (nbytes, line_lengths, digests); the text goes into the bytearray"},
    {"assemble", assemble, METH_VARARGS, "assemble(head, v1, l1, v2, l2, divider) -> (values, lengths)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "Synthetic-data kernels of synpt (see synpt/synthetic/native/native.h).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    format_init();
    return PyModule_Create(&native_module);
}
