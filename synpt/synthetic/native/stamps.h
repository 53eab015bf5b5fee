/* Per-row membership stamps: which of a row's arguments ("sides", x = 1 and y = 2) hold each id, for ids below
 * STAMP_IDS (every T5 id the tasks sample). A stamp is (row tag << 2) | side bits, and a stamp with an older tag
 * reads "held by none", so starting a row costs one increment, not a clear. Rows with other ids take their
 * caller's general path (`stamped` tells which). Used by the `set` target (unary.c) and the set operations
 * (setops.c), where it turns "is this token new?" into one load and one store. */
#ifndef SYNPT_STAMPS_H
#define SYNPT_STAMPS_H

#include "native.h"

#define STAMP_IDS 65536

typedef struct {
    uint32_t *stamp; /* STAMP_IDS entries */
    uint32_t tag;    /* of the current row */
} RowStamps;

/* 0, or -1 after kernel_no_memory; stamps_free is safe either way. */
static inline int stamps_init(RowStamps *s) {
    s->tag = 0;
    s->stamp = PyMem_RawCalloc(STAMP_IDS, sizeof(uint32_t));
    return s->stamp ? 0 : kernel_no_memory();
}

static inline void stamps_free(RowStamps *s) {
    PyMem_RawFree(s->stamp);
    s->stamp = NULL;
}

/* A new row: every id reads "held by none". */
static inline void stamps_next_row(RowStamps *s) {
    if (++s->tag >= (1u << 30)) { /* tags wrapped: forget every stamp */
        memset(s->stamp, 0, STAMP_IDS * sizeof(uint32_t));
        s->tag = 1;
    }
}

/* Whether every id of v has a stamp. */
static inline int stamped(const int32_t *v, int64_t n) {
    uint32_t outside = 0;
    for (int64_t j = 0; j < n; j++) outside |= (uint32_t)v[j] >= STAMP_IDS;
    return !outside;
}

static inline uint32_t stamp_sides(const RowStamps *s, int32_t key) {
    const uint32_t stamp = s->stamp[key];
    return (stamp >> 2) == s->tag ? stamp & 3 : 0;
}

static inline void stamp_set(RowStamps *s, int32_t key, uint32_t sides) { s->stamp[key] = (s->tag << 2) | sides; }

/* The ids of v in order of first occurrence on `side`, into dst (branch-free: repeats are unpredictable); marks
 * them as held by `side`. Returns how many. Side 1 must be a row's first pass (side 2 its second), so its stamps
 * hold nothing else: a side-1 id is new exactly when its stamp is not this row's side-1 stamp, and the value
 * stored does not wait for the value loaded (a repeated id would otherwise chain stores through memory). */
static inline Py_ssize_t first_occurrences(RowStamps *s, const int32_t *v, int64_t n, uint32_t side, int32_t *dst) {
    Py_ssize_t k = 0;
    if (side == 1) {
        const uint32_t mark = (s->tag << 2) | 1;
        for (int64_t j = 0; j < n; j++) {
            const int32_t key = v[j];
            dst[k] = key;
            k += s->stamp[key] != mark;
            s->stamp[key] = mark;
        }
        return k;
    }
    for (int64_t j = 0; j < n; j++) {
        const int32_t key = v[j];
        const uint32_t held = stamp_sides(s, key);
        dst[k] = key;
        k += !(held & side);
        stamp_set(s, key, held | side);
    }
    return k;
}

#endif
