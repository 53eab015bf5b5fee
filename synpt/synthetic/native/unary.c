/* Unary tasks (reference §2.6.1): the samplers `uniform` (copy, reverse, duplicate, first/last token, length),
 * `runs` (deduplicate), `shuffled_runs` (set) and `words` (longest_word); the targets are numpy, in simple.py.
 * One example at a time, in the order the reference draws it. */
#include "native.h"

/* L ~ U{lo..hi} uniform pool tokens. */
int uniform_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const int64_t n = rng_between(&a->rng, a->lo, a->hi);
        int32_t *dst = row_room(arg1, n);
        if (!dst) return -1;
        draw_tokens(a, dst, n);
        end_row(arg1, n);
    }
    return 0;
}

/* partition_no_zeros(n, k): k positive parts summing to n (1 <= k <= n) into parts[0..k). The reference draws a
 * multinomial of n - k items into k equally likely bins and adds 1 to every bin; letting every item pick a bin
 * uniformly is exactly that multinomial. */
static void partition_no_zeros(Rng *rng, int64_t n, int64_t k, int32_t *parts) {
    for (int64_t j = 0; j < k; j++) parts[j] = 1;
    for (int64_t i = k; i < n; i++) parts[rng_below(rng, (uint32_t)k)]++;
}

/* run_sequence(L, k, pool, shuffle) with L ~ U{lo..hi}, k ~ U{1..L}: run lengths partition_no_zeros(L, k), one
 * symbol per run drawn with replacement from the pool, the runs concatenated, then the whole row shuffled for `set`
 * (variant 1; `deduplicate` is variant 0). Neighbouring runs may draw the same symbol and merge, as in the
 * reference. */
int runs_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    if (a->lo < 1)
        return kernel_fail(PyExc_ValueError, "run sampling needs lengths >= 1, got the range (%lld, %lld)",
                           (long long)a->lo, (long long)a->hi);
    for (Py_ssize_t r = 0; r < a->count; r++) {
        int64_t n = rng_between(&a->rng, a->lo, a->hi);
        int64_t k = rng_between(&a->rng, 1, n);
        int32_t *parts = scratch_get(&a->work, (size_t)k * sizeof(int32_t));
        int32_t *dst = parts ? row_room(arg1, n) : NULL, *p = dst;
        if (!dst) return -1;
        partition_no_zeros(&a->rng, n, k, parts);
        for (int64_t j = 0; j < k; j++) {
            const int32_t symbol = draw_token(a);
            for (int32_t i = 0; i < parts[j]; i++) *p++ = symbol;
        }
        if (a->variant) shuffle_ids(&a->rng, dst, n);
        end_row(arg1, n);
    }
    return 0;
}

#define WORD_DIVIDER 32098 /* <extra_id_1>, between the words of longest_word */

/* longest_word: W ~ U{1..max(1, hi//2)} words, N ~ U{max(lo-(W-1), W) .. hi-(W-1)} word tokens split into W
 * positive word lengths, the words joined by WORD_DIVIDER: N + W - 1 ids, always within [lo, hi] for hi >= 1. */
int words_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
    if (a->hi < 1) {
        kernel_fail(PyExc_ValueError, "word sampling needs hi >= 1, got the range (%lld, %lld)", (long long)a->lo,
                     (long long)a->hi);
        return -1;
    }
    for (Py_ssize_t r = 0; r < a->count; r++) {
        int64_t w = rng_between(&a->rng, 1, a->hi / 2 > 1 ? a->hi / 2 : 1);
        int64_t least = a->lo - (w - 1) > w ? a->lo - (w - 1) : w;
        int64_t n = rng_between(&a->rng, least, a->hi - (w - 1));
        int64_t len = n + w - 1;
        int32_t *word_lengths = scratch_get(&a->work, (size_t)w * sizeof(int32_t));
        int32_t *dst = word_lengths ? row_room(arg1, len) : NULL;
        if (!dst) return -1;
        partition_no_zeros(&a->rng, n, w, word_lengths);
        for (int64_t j = 0; j < w; j++) {
            if (j > 0) *dst++ = WORD_DIVIDER;
            draw_tokens(a, dst, word_lengths[j]);
            dst += word_lengths[j];
        }
        end_row(arg1, len);
    }
    return 0;
}
