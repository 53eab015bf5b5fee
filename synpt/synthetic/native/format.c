/* Writing examples: `assemble` (prefix + arguments -> model inputs) and `format_pairs` (the reference's
 * `str(list)<TAB>str(list)<LF>` lines plus a 64-bit dedup digest of every input), one pass over the ids each.
 *
 * Why in C: formatting is the largest cost of writing a data file (about 1.5 KB of text per example); building
 * each id's text in a register and storing it with one 8-byte write is several times faster than any numpy
 * formulation (which has to pad every id to a fixed width and squeeze the padding out afterwards). */
#include "native.h"

/* For ids 0..65535 (every T5 id): the text of the id followed by ", " in the low bytes of a 64-bit word and that
 * text's length in the top byte (at most 7 bytes of text, so they never overlap). */
#define TABLE_SIZE 65536
static uint64_t item_table[TABLE_SIZE];

void format_init(void) {
    for (int v = 0; v < TABLE_SIZE; v++) {
        char text[16] = {0};
        const int n = snprintf(text, sizeof(text), "%d, ", v);
        uint64_t word = 0;
        memcpy(&word, text, 7);
        item_table[v] = word | ((uint64_t)n << 56);
    }
}

/* Write `v` followed by ", "; returns the new end. Needs 16 writable bytes at p. A table id is one load and one
 * 8-byte store (the store's stray top byte is overwritten by the next item or cut off at the end). */
static inline char *put_item(char *p, int32_t v) {
    if ((uint32_t)v < TABLE_SIZE) {
        const uint64_t word = item_table[v];
        memcpy(p, &word, 8);
        return p + (word >> 56);
    }
    char digits[12];
    int n = 0;
    uint32_t magnitude = v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (v < 0) *p++ = '-';
    while (n) *p++ = digits[--n];
    *p++ = ',';
    *p++ = ' ';
    return p;
}

/* put_item for every id of a list; the ids are read through a restrict pointer so the compiler keeps them and the
 * count in registers across the byte stores. */
char *put_ids(char *p, const int32_t *restrict ids, const int64_t n) {
    for (int64_t j = 0; j < n; j++) p = put_item(p, ids[j]);
    return p;
}

static inline uint64_t fmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

/* 64-bit digest of one id sequence: two independent multiply-rotate lanes over pairs of ids, the length mixed in,
 * then a final avalanche. Not cryptographic; two different inputs collide with probability about 2^-64, which is
 * what dedup by input needs (reference §2.12 keeps the first of equal inputs). */
static uint64_t digest_ids(const int32_t *v, Py_ssize_t n) {
    const uint64_t k1 = 0x9E3779B97F4A7C15ULL, k2 = 0xC2B2AE3D27D4EB4FULL;
    uint64_t h1 = 0x243F6A8885A308D3ULL ^ ((uint64_t)n * k2), h2 = 0x13198A2E03707344ULL;
    Py_ssize_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t w1 = (uint64_t)(uint32_t)v[i] | ((uint64_t)(uint32_t)v[i + 1] << 32);
        uint64_t w2 = (uint64_t)(uint32_t)v[i + 2] | ((uint64_t)(uint32_t)v[i + 3] << 32);
        h1 = rotl64((h1 ^ w1) * k1, 31);
        h2 = rotl64((h2 ^ w2) * k2, 29);
    }
    for (; i < n; i++) h1 = rotl64((h1 ^ (uint32_t)v[i]) * k1, 31);
    return fmix64(h1 ^ rotl64(fmix64(h2), 17));
}

/* format_pairs(buffer, iv, il, tv, tl) -> (nbytes, line_lengths: int64 buffer, digests: uint64 buffer)
 * The text goes into `buffer`, a bytearray grown as needed and never shrunk. Why a caller-owned buffer: a fresh
 * multi-megabyte object per block is fresh memory from the OS each time, and its page faults cost more than the
 * formatting itself; a reused buffer is faulted in once. */
static PyObject *format_pairs(PyObject *self, PyObject *args) {
    PyObject *buffer, *iv, *il, *tv, *tl;
    if (!PyArg_ParseTuple(args, "YOOOO", &buffer, &iv, &il, &tv, &tl)) return NULL;
    RaggedIn in, tg;
    if (ragged_in(iv, il, &in) < 0) return NULL;
    if (ragged_in(tv, tl, &tg) < 0) {
        ragged_release(&in);
        return NULL;
    }
    PyObject *result = NULL;
    Vec line_lengths = {0}, digests = {0};
    if (!in.present || !tg.present || in.count != tg.count) {
        PyErr_SetString(PyExc_ValueError, "format_pairs needs inputs and targets with as many rows");
        goto done;
    }
    for (Py_ssize_t r = 0; r < in.count; r++) {
        if (in.lengths[r] == 0 || tg.lengths[r] == 0) {
            PyErr_Format(PyExc_ValueError, "format_pairs needs non-empty inputs and targets (row %zd)", r);
            goto done;
        }
    }
    Py_ssize_t bound = 13 * (in.total + tg.total) + 4 * in.count + 16; /* 11 chars + ", " per id */
    if (PyByteArray_GET_SIZE(buffer) < bound && PyByteArray_Resize(buffer, bound) < 0) goto done;
    if (vec_init(&line_lengths, 8, in.count) < 0 || vec_init(&digests, 8, in.count) < 0) {
        raise_kernel_error();
        goto done;
    }
    char *base = PyByteArray_AS_STRING(buffer), *p = base;
    Py_BEGIN_ALLOW_THREADS /* nothing below touches Python until the loop ends */
    for (Py_ssize_t r = 0; r < in.count; r++) {
        char *start = p;
        const int32_t *row = in.values + in.offsets[r];
        const int64_t n = in.lengths[r];
        *p++ = '[';
        p = put_ids(p, row, n);
        memcpy(p - 2, "]\t[", 3);
        p = put_ids(p + 1, tg.values + tg.offsets[r], tg.lengths[r]);
        memcpy(p - 2, "]\n", 2);
        VEC_I64(&line_lengths)[line_lengths.len++] = p - start;
        VEC_I64(&digests)[digests.len++] = (int64_t)digest_ids(row, n);
    }
    Py_END_ALLOW_THREADS
    PyObject *lengths_array = vec_finish(&line_lengths);
    PyObject *digests_array = lengths_array ? vec_finish(&digests) : NULL;
    if (digests_array) result = Py_BuildValue("(nNN)", (Py_ssize_t)(p - base), lengths_array, digests_array);
    else Py_XDECREF(lengths_array);
done:
    vec_clear(&line_lengths);
    vec_clear(&digests);
    ragged_release(&in);
    ragged_release(&tg);
    return result;
}

/* assemble(head, v1, l1, v2, l2, divider) -> (values, lengths): row r = head + arg1[r] (+ [divider] + arg2[r]).
 * `head` is an int32 array (the task-name prefix and the 32099 divider). */
static PyObject *assemble(PyObject *self, PyObject *args) {
    PyObject *v1, *l1, *v2, *l2;
    Py_buffer head;
    int divider;
    if (!PyArg_ParseTuple(args, "y*OOOOi", &head, &v1, &l1, &v2, &l2, &divider)) return NULL;
    const int32_t *head_ids = head.buf;
    const Py_ssize_t head_len = head.len / 4;
    PyObject *result = NULL;
    RaggedIn a, b;
    if (ragged_in(v1, l1, &a) < 0) goto release_head;
    if (ragged_in(v2, l2, &b) < 0) goto release_a;
    RaggedOut out;
    if (!a.present || (b.present && b.count != a.count)) {
        PyErr_SetString(PyExc_ValueError, "assemble needs arg1, and arg2 (when given) with as many rows");
    } else if (ragged_out_init(&out, a.count, a.total + b.total + (head_len + 1) * a.count) < 0) {
        raise_kernel_error();
    } else {
        int32_t *dst = VEC_I32(&out.values);
        for (Py_ssize_t r = 0; r < a.count; r++) {
            int32_t *start = dst;
            memcpy(dst, head_ids, head_len * 4);
            dst += head_len;
            memcpy(dst, a.values + a.offsets[r], a.lengths[r] * 4);
            dst += a.lengths[r];
            if (b.present) {
                *dst++ = divider;
                memcpy(dst, b.values + b.offsets[r], b.lengths[r] * 4);
                dst += b.lengths[r];
            }
            VEC_I64(&out.lengths)[out.lengths.len++] = dst - start;
        }
        out.values.len = dst - VEC_I32(&out.values);
        result = ragged_out_finish(&out);
    }
    ragged_release(&b);
release_a:
    ragged_release(&a);
release_head:
    PyBuffer_Release(&head);
    return result;
}

PyMethodDef synpt_format_methods[] = {
    {"format_pairs", format_pairs, METH_VARARGS,
     "format_pairs(buffer, iv, il, tv, tl) -> (nbytes, line_lengths, digests); the text goes into the bytearray"},
    {"assemble", assemble, METH_VARARGS, "assemble(head, v1, l1, v2, l2, divider) -> (values, lengths)"},
    {NULL, NULL, 0, NULL},
};
