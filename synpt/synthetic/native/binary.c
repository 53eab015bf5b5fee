/* Binary tasks (reference §2.6.2) but the set operations: the samplers of count, replace, sort and delete/search
 * (plain and `balanced`), and the target of sort (the others are numpy, in simple.py). */
#define _GNU_SOURCE /* memmem */
#include "native.h"

/* A U{lo..hi} bound pair that the length_range cannot satisfy would make rng_between undefined; numpy raised. */
static int check_range(const char *what, int64_t lo, int64_t hi) {
    if (lo <= hi && hi - lo < (int64_t)UINT32_MAX) return 0;
    return kernel_fail(PyExc_ValueError, "%s: the length range gives the empty or too wide draw U{%lld..%lld}",
                       what, (long long)lo, (long long)hi);
}

static inline int64_t max64(int64_t x, int64_t y) { return x > y ? x : y; }

/* n ~ U{lo-2..hi-2}; query q; c ~ U{0..n} copies of q among n - c pool fillers (which may equal q), shuffled. */
int count_kernel(SamplerArgs *a, RaggedOut *seqs, RaggedOut *queries) {
    const int64_t lo = max64(a->lo - 2, 1), hi = a->hi - 2;
    if (check_range("count", lo, hi) < 0) return -1;
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const int64_t n = rng_between(&a->rng, lo, hi);
        const int32_t q = draw_token(a);
        const int64_t copies = rng_between(&a->rng, 0, n);
        int32_t *place = scratch_get(&a->work, n * sizeof(int32_t));
        int32_t *dst = place ? row_room(seqs, n) : NULL, *qdst;
        if (!dst) return -1;
        /* As the fillers are i.i.d., "c copies plus fillers, shuffled" only needs the copies on a uniform c-subset
         * of the positions. A partial Fisher-Yates over the positions picks the smaller kind's places (k random
         * numbers, k = min(c, n - c)) instead of shuffling all n. */
        const int64_t k = copies < n - copies ? copies : n - copies;
        for (int64_t j = 0; j < n; j++) place[j] = (int32_t)j;
        partial_shuffle(&a->rng, place, n, k);
        const int copies_first = copies == k; /* the copies go to place[0..k), else to place[k..n) */
        for (int64_t j = 0; j < n; j++) dst[place[j]] = (j < k) == copies_first ? q : draw_token(a);
        end_row(seqs, n);
        if (!(qdst = row_room(queries, 1))) return -1;
        qdst[0] = q;
        end_row(queries, 1);
    }
    return 0;
}

/* A token chosen uniformly among the distinct tokens of row (like random.choice(sorted(set(row)))), n >= 1.
 * Rejection: a uniform position whose token occurs m times is kept with probability 1/m, so every distinct token
 * is equally likely; with a big pool the first try almost always succeeds. After a few failures (a small pool)
 * the exact sort-and-pick fallback takes over; a mixture of uniform choices is still uniform. */
static int32_t pick_distinct(Rng *r, const int32_t *row, int64_t n, Vec *work, int *error) {
    for (int attempt = 0; attempt < 8; attempt++) {
        const int32_t t = row[rng_below(r, (uint32_t)n)];
        uint32_t m = 0;
        for (int64_t j = 0; j < n; j++) m += row[j] == t;
        if (rng_below(r, m) == 0) return t;
    }
    int32_t *sorted = scratch_get(work, n * sizeof(int32_t));
    if (!sorted) {
        *error = 1;
        return 0;
    }
    memcpy(sorted, row, n * sizeof(int32_t));
    qsort(sorted, (size_t)n, sizeof(int32_t), compare_i32);
    int64_t distinct = 1;
    for (int64_t j = 1; j < n; j++) distinct += sorted[j] != sorted[j - 1];
    int64_t k = rng_below(r, (uint32_t)distinct), j = 0;
    while (k > 0) {
        j++;
        k -= sorted[j] != sorted[j - 1];
    }
    return sorted[j];
}

/* n ~ U{lo-3..hi-3} tokens; key uniform among their distinct tokens; value a fresh pool token (may equal key). */
int replace_kernel(SamplerArgs *a, RaggedOut *seqs, RaggedOut *pairs) {
    const int64_t lo = max64(a->lo - 3, 1), hi = a->hi - 3;
    if (check_range("replace", lo, hi) < 0) return -1;
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const int64_t n = rng_between(&a->rng, lo, hi);
        int32_t *dst = row_room(seqs, n), *pair;
        if (!dst) return -1;
        draw_tokens(a, dst, n);
        int error = 0;
        const int32_t key = pick_distinct(&a->rng, dst, n, &a->work, &error);
        if (error) return -1;
        end_row(seqs, n);
        if (!(pair = row_room(pairs, 2))) return -1;
        pair[0] = key;
        pair[1] = draw_token(a);
        end_row(pairs, 2);
    }
    return 0;
}

/* m ~ U{lo/2..(hi-1)/2} order tokens (with replacement); s ~ U{m..hi-1-m};
 * seq = run_sequence(s, m runs, symbols drawn from the order, shuffled). */
int sort_kernel(SamplerArgs *a, RaggedOut *seqs, RaggedOut *orders) {
    const int64_t lo = max64(1, a->lo / 2), hi = max64(1, (a->hi - 1) / 2);
    if (check_range("sort", lo, hi) < 0) return -1;
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const int64_t m = rng_between(&a->rng, lo, hi);
        int32_t *order = row_room(orders, m);
        if (!order) return -1;
        draw_tokens(a, order, m);
        end_row(orders, m); /* `order` stays valid: only `seqs` grows below */
        const int64_t s = rng_between(&a->rng, m, max64(a->hi - 1 - m, m));
        int32_t *seq = row_room(seqs, s);
        if (!seq) return -1;
        /* Run lengths are partition_no_zeros(s, m): one item per run plus s - m items each in a uniform run. As
         * the row is shuffled afterwards only the multiset matters: every run's symbol once (a uniform draw from
         * the order), then for every further item the symbol of a uniform run. */
        for (int64_t j = 0; j < m; j++) seq[j] = order[rng_below(&a->rng, (uint32_t)m)];
        for (int64_t j = m; j < s; j++) seq[j] = seq[rng_below(&a->rng, (uint32_t)m)];
        shuffle_ids(&a->rng, seq, s);
        end_row(seqs, s);
    }
    return 0;
}

/* One example: q ~ U{1..(hi-1)/3}; s ~ U{2q..hi-1-q}; r ~ U{1..s/q} copies; the s - r*q fillers split by
 * partition(., r+1) (zeros allowed) into the gaps: filler_0 Q filler_1 Q ... Q filler_r. */
static int present_one(SamplerArgs *a, RaggedOut *seqs, RaggedOut *queries) {
    const int64_t q = rng_between(&a->rng, 1, max64(1, (a->hi - 1) / 3));
    const int64_t s = rng_between(&a->rng, 2 * q, max64(a->hi - 1 - q, 2 * q));
    int32_t *query = row_room(queries, q);
    if (!query) return -1;
    draw_tokens(a, query, q);
    end_row(queries, q); /* `query` stays valid: only `seqs` grows below */
    const int64_t r = rng_between(&a->rng, 1, s / q), fillers = s - r * q;
    int64_t *gap = scratch_get(&a->work, (r + 1) * sizeof(int64_t));
    int32_t *seq = gap ? row_room(seqs, s) : NULL;
    if (!seq) return -1;
    /* partition: every filler item picks one of the r + 1 gaps uniformly (the equal-probability multinomial) */
    memset(gap, 0, (r + 1) * sizeof(int64_t));
    for (int64_t j = 0; j < fillers; j++) gap[rng_below(&a->rng, (uint32_t)(r + 1))]++;
    int32_t *p = seq;
    for (int64_t k = 0; k <= r; k++) {
        draw_tokens(a, p, gap[k]);
        p += gap[k];
        if (k < r) {
            memcpy(p, query, q * sizeof(int32_t));
            p += q;
        }
    }
    end_row(seqs, s);
    return 0;
}

#define MAX_ITEM_TEXT 13 /* 11 chars of an int32 and the ", " separator */

/* str(list)[1:-1]: "x1, x2, ..., xn" (dst needs n * MAX_ITEM_TEXT + 8 chars); returns its length. */
static size_t format_list(char *dst, const int32_t *v, int64_t n) {
    return n ? (size_t)(put_ids(dst, v, n) - dst) - 2 : 0; /* without the last ", " */
}

/* Whether str(query)[1:-1] is a substring of str(seq) (the brackets of str(seq) can never be part of a match, so
 * the seq is formatted without them). 1, 0, or -1 after kernel_no_memory. */
static int text_contains(const int32_t *seq, int64_t s, const int32_t *query, int64_t q, Vec *text) {
    char *buf = scratch_get(text, (size_t)(s + q) * MAX_ITEM_TEXT + 16);
    if (!buf) return -1;
    const size_t h = format_list(buf, seq, s), n = format_list(buf + h, query, q);
    return n == 0 || memmem(buf, h, buf + h, n) != NULL;
}

#define MAX_ABSENT_REDRAWS (1 << 20) /* more: the pool practically cannot give an absent query (e.g. one token) */

/* One example: with probability 0.01 a query longer than the seq (q ~ U{min(lo+1,hi)..hi}, s ~ U{0..q-1}, no
 * test); else s ~ U{lo..hi}, q ~ U{lo..s}, and both are redrawn (same lengths) while the text test hits. */
static int absent_one(SamplerArgs *a, RaggedOut *seqs, RaggedOut *queries) {
    const int tiny = rng_uniform(&a->rng) < 0.01;
    int64_t s, q;
    if (tiny) {
        q = rng_between(&a->rng, a->lo + 1 < a->hi ? a->lo + 1 : a->hi, a->hi);
        s = rng_between(&a->rng, 0, q - 1);
    } else {
        s = rng_between(&a->rng, a->lo, a->hi);
        q = rng_between(&a->rng, a->lo, s);
    }
    int32_t *seq = row_room(seqs, s), *query = seq ? row_room(queries, q) : NULL;
    if (!query) return -1;
    for (long redraws = 0;; redraws++) {
        draw_tokens(a, seq, s);
        draw_tokens(a, query, q);
        if (tiny) break;
        int hit = text_contains(seq, s, query, q, &a->work);
        if (hit < 0) return -1;
        if (!hit) break;
        if (redraws == MAX_ABSENT_REDRAWS)
            return kernel_fail(PyExc_ValueError, "delete/search: no query absent from its sequence after %d redraws; "
                                                 "the token pool is too small for these tasks", MAX_ABSENT_REDRAWS);
    }
    end_row(seqs, s);
    end_row(queries, q);
    return 0;
}

enum { ABSENT, PRESENT };

/* Each example: branch A with probability p_present, else B, then the reference's whole-example length rejection
 * (§2.4): an arg part outside [lo, hi] is dropped and the example redrawn, the branch choice included, or, with
 * `balanced`, the branch kept (Python's per-branch `accepted`). Per-example rejection is the distribution of
 * `accepted`, so every row already fits and `accepted` keeps the block without copying it. */
#define MAX_LENGTH_REDRAWS 100000

static void drop_last_row(RaggedOut *o) {
    o->lengths.len--;
    o->values.len -= VEC_I64(&o->lengths)[o->lengths.len];
}

int query_kernel(SamplerArgs *a, RaggedOut *seqs, RaggedOut *queries) {
    const double p_present = a->variant / 100.0; /* the table's percent: 75 (delete) or 50 (search) */
    /* an empty query is in every seq: the absent branch's redraws would never end */
    int rc = a->lo < 1 ? kernel_fail(PyExc_ValueError, "delete/search: the length range must start at 1 or more") : 0;
    for (Py_ssize_t i = 0; rc == 0 && i < a->count; i++) {
        int branch = rng_uniform(&a->rng) < p_present ? PRESENT : ABSENT;
        for (long redraws = 0;; redraws++) {
            rc = branch == PRESENT ? present_one(a, seqs, queries) : absent_one(a, seqs, queries);
            if (rc < 0) break;
            const int64_t *l1 = VEC_I64(&seqs->lengths), *l2 = VEC_I64(&queries->lengths);
            const int64_t length = l1[seqs->lengths.len - 1] + 1 + l2[queries->lengths.len - 1];
            if (a->lo <= length && length <= a->hi) break;
            drop_last_row(seqs);
            drop_last_row(queries);
            if (redraws == MAX_LENGTH_REDRAWS) {
                rc = kernel_fail(PyExc_ValueError, "length_range (%lld, %lld) is too narrow: no sample fits; widen it",
                                 (long long)a->lo, (long long)a->hi);
                break;
            }
            if (!a->balanced) branch = rng_uniform(&a->rng) < p_present ? PRESENT : ABSENT;
        }
    }
    return rc;
}

/* sort: arg1 stably sorted by each token's LAST index in the order arg2. Equal tokens are indistinguishable, so
 * the result is, for every order position whose token does not occur again later, that token as often as arg1
 * holds it. Rows are short (an order of m <= ~110 tokens), so the O(m * (m + n)) scans are cheap. */
int sort_row(int variant, int set_order, const RaggedIn *a, const RaggedIn *b, Py_ssize_t r, RaggedOut *out) {
    const int32_t *seq = RAGGED_ROW(a, r), *order = RAGGED_ROW(b, r);
    const int64_t n = a->lengths[r], m = b->lengths[r];
    int32_t *dst = row_room(out, n);
    if (!dst) return -1;
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        int later = 0;
        for (int64_t j = i + 1; j < m; j++) later |= order[j] == order[i];
        if (later) continue;
        for (int64_t j = 0; j < n; j++) {
            if (seq[j] == order[i]) dst[k++] = order[i];
        }
    }
    if (k < n) return kernel_fail(PyExc_ValueError, "sort: row %zd holds a token which is not in its order", r);
    end_row(out, n);
    return 0;
}
