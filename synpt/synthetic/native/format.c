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

/* format_pairs(buffer, iv, il, tv, tl) -> (nbytes, line_lengths: int64, digests: uint64)
 * The text goes into `buffer`, a bytearray grown as needed and never shrunk. Why a caller-owned buffer: a fresh
 * multi-megabyte object per block is fresh memory from the OS each time, whose page faults cost more than the
 * formatting; a reused buffer is faulted in once. */
PyObject *format_pairs(PyObject *self, PyObject *args) {
    PyObject *buffer, *iv, *il, *tv, *tl, *result = NULL;
    RaggedIn in = {0}, tg = {0};
    if (!PyArg_ParseTuple(args, "YOOOO", &buffer, &iv, &il, &tv, &tl)) return NULL;
    if (two_ragged(iv, il, tv, tl, &in, &tg, 0) < 0) return NULL;
    Vec line_lengths = {.itemsize = 8}, digests = {.itemsize = 8};
    for (Py_ssize_t r = 0; r < in.count && !PyErr_Occurred(); r++) {
        if (in.lengths[r] == 0 || tg.lengths[r] == 0)
            PyErr_Format(PyExc_ValueError, "format_pairs needs non-empty inputs and targets (row %zd)", r);
    }
    const Py_ssize_t bound = 13 * (in.total + tg.total) + 4 * in.count + 16; /* 11 chars + ", " per id */
    if (PyErr_Occurred() || (PyByteArray_GET_SIZE(buffer) < bound && PyByteArray_Resize(buffer, bound) < 0)) {
        /* the error is set */
    } else if (vec_reserve(&line_lengths, in.count) < 0 || vec_reserve(&digests, in.count) < 0) {
        raise_kernel_error();
    } else {
        char *base = PyByteArray_AS_STRING(buffer), *p = base;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < in.count; r++) {
            char *start = p;
            *p++ = '[';
            p = put_ids(p, RAGGED_ROW(&in, r), in.lengths[r]);
            memcpy(p - 2, "]\t[", 3);
            p = put_ids(p + 1, RAGGED_ROW(&tg, r), tg.lengths[r]);
            memcpy(p - 2, "]\n", 2);
            VEC_I64(&line_lengths)[r] = p - start;
            VEC_I64(&digests)[r] = (int64_t)digest_ids(RAGGED_ROW(&in, r), in.lengths[r]);
        }
        Py_END_ALLOW_THREADS
        line_lengths.len = digests.len = in.count;
        result = Py_BuildValue("(nNN)", (Py_ssize_t)(p - base), vec_finish(&line_lengths), vec_finish(&digests));
    }
    vec_clear(&line_lengths);
    vec_clear(&digests);
    ragged_release(&in);
    ragged_release(&tg);
    return result;
}

/* assemble(head, v1, l1, v2, l2, divider) -> (values, lengths): row r = head + arg1[r] (+ [divider] + arg2[r]).
 * `head` is an int32 array (the task-name prefix and the 32099 divider). */
PyObject *assemble(PyObject *self, PyObject *args) {
    PyObject *v1, *l1, *v2, *l2, *result = NULL;
    Py_buffer head;
    int divider;
    RaggedIn a = {0}, b = {0};
    if (!PyArg_ParseTuple(args, "y*OOOOi", &head, &v1, &l1, &v2, &l2, &divider)) return NULL;
    const Py_ssize_t head_len = head.len / 4;
    RaggedOut out = RAGGED_OUT;
    if (two_ragged(v1, l1, v2, l2, &a, &b, 1) < 0) {
        /* the error is set */
    } else if (vec_reserve(&out.values, a.total + b.total + (head_len + 1) * a.count) < 0 ||
               vec_reserve(&out.lengths, a.count) < 0) {
        raise_kernel_error();
    } else {
        for (Py_ssize_t r = 0; r < a.count; r++) {
            int32_t *row = VEC_I32(&out.values) + out.values.len, *p = row + head_len;
            memcpy(row, head.buf, head_len * 4);
            memcpy(p, RAGGED_ROW(&a, r), a.lengths[r] * 4);
            p += a.lengths[r];
            if (b.present) {
                *p++ = divider;
                memcpy(p, RAGGED_ROW(&b, r), b.lengths[r] * 4);
                p += b.lengths[r];
            }
            end_row(&out, p - row);
        }
        result = ragged_out_finish(&out);
    }
    ragged_out_clear(&out);
    ragged_release(&a);
    ragged_release(&b);
    PyBuffer_Release(&head);
    return result;
}
