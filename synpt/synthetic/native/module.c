/* The module `synpt.synthetic._native`: the shared helpers of native.h and the module that gathers the method
 * tables of the kernel files. */
#include "native.h"

#include <stdarg.h>

int rng_seed(Rng *r, PyObject *seed) {
    Py_buffer view;
    if (PyObject_GetBuffer(seed, &view, PyBUF_SIMPLE) < 0) return -1;
    const int ok = view.len == (Py_ssize_t)sizeof(r->s);
    if (ok) memcpy(r->s, view.buf, sizeof(r->s));
    else PyErr_Format(PyExc_ValueError, "seed must be %zd bytes, got %zd", (Py_ssize_t)sizeof(r->s), view.len);
    PyBuffer_Release(&view);
    if (ok && !(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* the one state xoshiro cannot leave */
    return ok ? 0 : -1;
}

/* ---- failures inside kernels ------------------------------------------------------------------------------- */
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
    if (!PyErr_Occurred()) {
        if (pending.type) PyErr_SetString(pending.type, pending.message);
        else PyErr_SetString(PyExc_SystemError, "a synpt data kernel failed without saying why");
    }
    pending.type = NULL;
    return NULL;
}

/* ---- output arrays ----------------------------------------------------------------------------------------- */
int vec_init(Vec *v, Py_ssize_t itemsize, Py_ssize_t cap) {
    v->itemsize = itemsize;
    v->len = 0;
    v->cap = cap > 16 ? cap : 16;
    v->data = PyMem_RawMalloc((size_t)(v->cap * itemsize));
    return v->data ? 0 : kernel_no_memory();
}

int vec_reserve(Vec *v, Py_ssize_t extra) {
    if (v->len + extra <= v->cap) return 0;
    const Py_ssize_t cap = v->cap * 2 > v->len + extra ? v->cap * 2 : v->len + extra;
    char *data = PyMem_RawRealloc(v->data, (size_t)(cap * v->itemsize));
    if (!data) return kernel_no_memory();
    v->data = data;
    v->cap = cap;
    return 0;
}

void vec_clear(Vec *v) {
    PyMem_RawFree(v->data);
    v->data = NULL;
}

/* The items as a bytearray (numpy wraps it without copying again); frees the Vec. */
PyObject *vec_finish(Vec *v) {
    PyObject *array = PyByteArray_FromStringAndSize(v->data, v->len * v->itemsize);
    vec_clear(v);
    return array;
}

int ragged_out_init(RaggedOut *o, Py_ssize_t rows, Py_ssize_t values_cap) {
    o->lengths.data = NULL;
    if (vec_init(&o->values, 4, values_cap) < 0 || vec_init(&o->lengths, 8, rows) < 0) {
        ragged_out_clear(o);
        return -1;
    }
    return 0;
}

PyObject *ragged_out_finish(RaggedOut *o) {
    PyObject *values = vec_finish(&o->values), *lengths = vec_finish(&o->lengths);
    if (values && lengths) return Py_BuildValue("(NN)", values, lengths);
    Py_XDECREF(values);
    Py_XDECREF(lengths);
    return NULL;
}

void ragged_out_clear(RaggedOut *o) {
    vec_clear(&o->values);
    vec_clear(&o->lengths);
}

/* ---- ragged arguments -------------------------------------------------------------------------------------- */
static int get_view(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *format = view->format ? view->format : "B";
    if (*format == '<' || *format == '=' || *format == '@') format++;
    if (view->itemsize != itemsize || *format == '\0' || !strchr("bhilq", *format)) {
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous int%zd array, got format '%s' of %zd-byte items",
                     what, itemsize * 8, view->format ? view->format : "B", view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
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
    if (!(r->offsets = PyMem_Malloc((r->count + 1) * sizeof(int64_t)))) {
        ragged_release(r);
        PyErr_NoMemory();
        return -1;
    }
    int64_t sum = 0;
    for (Py_ssize_t i = 0; i < r->count; i++) {
        if (r->lengths[i] < 0) {
            ragged_release(r);
            PyErr_Format(PyExc_ValueError, "row %zd has a negative length", i);
            return -1;
        }
        r->offsets[i] = sum;
        sum += r->lengths[i];
    }
    if (sum != r->total) {
        PyErr_Format(PyExc_ValueError, "lengths sum to %lld but there are %zd values", (long long)sum, r->total);
        ragged_release(r);
        return -1;
    }
    return 0;
}

void ragged_release(RaggedIn *r) {
    if (r->vview.obj) PyBuffer_Release(&r->vview);
    if (r->lview.obj) PyBuffer_Release(&r->lview);
    PyMem_Free(r->offsets);
    memset(r, 0, sizeof(*r));
}

/* ---- the kernel drivers ------------------------------------------------------------------------------------ */
int sampler_args(PyObject *seed, Py_ssize_t count, long long lo, long long hi, PyObject *pool, SamplerArgs *a) {
    memset(a, 0, sizeof(*a));
    if (count < 0 || lo < 0 || hi < lo || hi >= (1LL << 31)) {
        PyErr_Format(PyExc_ValueError, "bad sampler arguments: count %zd, length range (%lld, %lld)", count, lo, hi);
        return -1;
    }
    a->count = count;
    a->lo = lo;
    a->hi = hi;
    if (rng_seed(&a->rng, seed) < 0 || get_view(pool, &a->pool_view, 4, "pool") < 0) return -1;
    a->pool = a->pool_view.buf;
    a->pool_size = (uint32_t)(a->pool_view.len / 4);
    if (a->pool_view.len == 0 || a->pool_view.len / 4 >= (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "the token pool must have between 1 and 2^32 - 1 tokens");
        sampler_args_release(a);
        return -1;
    }
    return 0;
}

void sampler_args_release(SamplerArgs *a) {
    if (a->pool_view.obj) PyBuffer_Release(&a->pool_view);
    scratch_free(&a->work);
}

/* Runs a sampler (generator == NULL) or a generator without the GIL, with room for two ragged outputs (`second`
 * 0: one), and returns them as (v1, l1, v2, l2), (None, None) standing for a missing second. Releases `a`. */
static PyObject *run_kernel(SamplerArgs *a, SamplerKernel sampler, GeneratorKernel generator, int mode, int second) {
    RaggedOut one, two;
    PyObject *result = NULL;
    const Py_ssize_t cap = a->count * ((a->lo + a->hi) / 2 + 1);
    if (ragged_out_init(&one, a->count, cap) < 0 || (second && ragged_out_init(&two, a->count, cap) < 0)) {
        ragged_out_clear(&one);
        raise_kernel_error();
    } else {
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = generator ? generator(a, mode, &one, &two) : sampler(a, &one, second ? &two : NULL);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            ragged_out_clear(&one);
            if (second) ragged_out_clear(&two);
            raise_kernel_error();
        } else {
            PyObject *first = ragged_out_finish(&one);
            PyObject *rest = second ? ragged_out_finish(&two) : Py_BuildValue("(OO)", Py_None, Py_None);
            if (first && rest) result = PySequence_Concat(first, rest);
            Py_XDECREF(first);
            Py_XDECREF(rest);
        }
    }
    sampler_args_release(a);
    return result;
}

PyObject *run_sampler(PyObject *args, SamplerKernel kernel, int binary) {
    PyObject *seed, *pool;
    Py_ssize_t count;
    long long lo, hi;
    SamplerArgs a;
    if (!PyArg_ParseTuple(args, "OnLLO", &seed, &count, &lo, &hi, &pool)) return NULL;
    if (sampler_args(seed, count, lo, hi, pool, &a) < 0) return NULL;
    return run_kernel(&a, kernel, NULL, 0, binary);
}

PyObject *run_generator(SamplerArgs *a, GeneratorKernel kernel, int mode) { return run_kernel(a, NULL, kernel, mode, 1); }

PyObject *run_target(PyObject *args, TargetKernel kernel, int binary) {
    PyObject *v1, *l1, *v2, *l2, *result = NULL;
    TargetArgs t = {0};
    if (!PyArg_ParseTuple(args, "OOOOi", &v1, &l1, &v2, &l2, &t.set_order)) return NULL;
    if (t.set_order < SET_ORDER_CPYTHON || t.set_order > SET_ORDER_FIRST_APPEARANCE) {
        return PyErr_Format(PyExc_ValueError, "unknown set order code %d", t.set_order);
    }
    if (ragged_in(v1, l1, &t.a) < 0) return NULL;
    RaggedOut out;
    if (ragged_in(v2, l2, &t.b) < 0) {
        /* the error is set */
    } else if (!t.a.present || (t.b.present && t.b.count != t.a.count)) {
        PyErr_SetString(PyExc_ValueError, "a target needs arg1, and arg2 (when given) with as many rows");
    } else if (binary && !t.b.present) {
        PyErr_SetString(PyExc_ValueError, "this task's target needs two arguments, got arg2 None");
    } else if (ragged_out_init(&out, t.a.count, t.a.total + t.b.total + t.a.count) < 0) {
        raise_kernel_error();
    } else {
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = kernel(&t, &out);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            ragged_out_clear(&out);
            raise_kernel_error();
        } else {
            result = ragged_out_finish(&out);
        }
    }
    ragged_release(&t.a);
    ragged_release(&t.b);
    return result;
}

/* ---- the module -------------------------------------------------------------------------------------------- */
static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "Synthetic-data kernels of synpt (see synpt/synthetic/native/native.h).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *module = PyModule_Create(&native_module);
    if (!module) return NULL;
    format_init();
    PyMethodDef *tables[] = {synpt_format_methods, synpt_cpyset_methods, synpt_unary_methods,
                             synpt_binary_methods, synpt_setops_methods, synpt_lime_methods};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        if (PyModule_AddFunctions(module, tables[i]) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    }
    return module;
}
