/* Unary tasks (reference §2.6.1): the samplers `uniform` (copy, reverse, duplicate, first/last token, length),
 * `runs` (deduplicate), `shuffled_runs` (set) and `words` (longest_word), and the targets set and longest_word
 * (the others are whole-array numpy in simple.py). One example at a time, in the order the reference draws it. */
#include "cpyset.h"

/* L ~ U{lo..hi} uniform pool tokens. */
static int uniform_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
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

/* run_sequence(n, k, symbols, shuffle) into dst[0..n): run lengths partition_no_zeros(n, k) (in `parts`, room for
 * k), one symbol per run drawn with replacement from symbols[0..nsymbols), the runs concatenated, then the whole
 * row shuffled when `shuffle`. Neighbouring runs may draw the same symbol and merge, as in the reference. */
static void run_sequence(Rng *rng, int64_t n, int64_t k, const int32_t *symbols, uint32_t nsymbols, int shuffle,
                         int32_t *parts, int32_t *dst) {
    partition_no_zeros(rng, n, k, parts);
    int32_t *p = dst;
    for (int64_t j = 0; j < k; j++) {
        int32_t symbol = symbols[rng_below(rng, nsymbols)];
        for (int32_t i = 0; i < parts[j]; i++) *p++ = symbol;
    }
    if (shuffle) shuffle_ids(rng, dst, n);
}

/* run_sequence(L, k, pool, shuffle) with L ~ U{lo..hi}, k ~ U{1..L}: `deduplicate` (shuffle 0), `set` (1). */
static int runs(SamplerArgs *a, RaggedOut *arg1, int shuffle) {
    if (a->lo < 1) {
        kernel_fail(PyExc_ValueError, "run sampling needs lengths >= 1, got the range (%lld, %lld)",
                     (long long)a->lo, (long long)a->hi);
        return -1;
    }
    for (Py_ssize_t r = 0; r < a->count; r++) {
        int64_t n = rng_between(&a->rng, a->lo, a->hi);
        int64_t k = rng_between(&a->rng, 1, n);
        int32_t *parts = scratch_get(&a->work, (size_t)k * sizeof(int32_t));
        int32_t *dst = parts ? row_room(arg1, n) : NULL;
        if (!dst) return -1;
        run_sequence(&a->rng, n, k, a->pool, a->pool_size, shuffle, parts, dst);
        end_row(arg1, n);
    }
    return 0;
}

static int runs_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) { return runs(a, arg1, 0); }
static int shuffled_runs_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) { return runs(a, arg1, 1); }

#define WORD_DIVIDER 32098 /* <extra_id_1>, between the words of longest_word */

/* longest_word: W ~ U{1..max(1, hi//2)} words, N ~ U{max(lo-(W-1), W) .. hi-(W-1)} word tokens split into W
 * positive word lengths, the words joined by WORD_DIVIDER: N + W - 1 ids, always within [lo, hi] for hi >= 1. */
static int words_kernel(SamplerArgs *a, RaggedOut *arg1, RaggedOut *arg2) {
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

#define SAMPLER(name) SAMPLER_FUNCTION(name, name##_kernel, 0)
SAMPLER(uniform)
SAMPLER(runs)
SAMPLER(shuffled_runs)
SAMPLER(words)

/* set: the first occurrence of every token, in order (the reference's explicit loop, not a Python set). */
static int set_kernel(const TargetArgs *t, RaggedOut *out) {
    for (Py_ssize_t r = 0; r < t->a.count; r++) {
        const int64_t n = t->a.lengths[r];
        int32_t *dst = row_room(out, n);
        CSet seen;
        cset_init(&seen);
        const Py_ssize_t k = dst ? cset_add_new(&seen, RAGGED_ROW(&t->a, r), n, NULL, dst) : -1;
        cset_free(&seen);
        if (k < 0) return -1;
        end_row(out, k);
    }
    return 0;
}

/* longest_word: the row split at WORD_DIVIDER (empty words allowed, an empty row is one empty word); the first
 * word of maximal length, i.e. a later word wins only when strictly longer. */
static int longest_word_kernel(const TargetArgs *t, RaggedOut *out) {
    const RaggedIn *a = &t->a;
    for (Py_ssize_t r = 0; r < a->count; r++) {
        const int32_t *row = RAGGED_ROW(a, r);
        int64_t n = a->lengths[r], start = 0, best = 0, best_len = -1;
        for (int64_t j = 0; j <= n; j++) {
            if (j < n && row[j] != WORD_DIVIDER) continue;
            if (j - start > best_len) {
                best = start;
                best_len = j - start;
            }
            start = j + 1;
        }
        int32_t *dst = row_room(out, best_len);
        if (!dst) return -1;
        memcpy(dst, row + best, (size_t)best_len * 4);
        end_row(out, best_len);
    }
    return 0;
}

#define TARGET(name) TARGET_FUNCTION(name, name##_kernel, 0)
TARGET(set)
TARGET(longest_word)

PyMethodDef synpt_unary_methods[] = {
    {"sample_uniform", sample_uniform, METH_VARARGS, "copy & co: L ~ U{lo..hi} uniform pool tokens"},
    {"sample_runs", sample_runs, METH_VARARGS, "deduplicate: run_sequence(L, k ~ U{1..L}) of pool tokens"},
    {"sample_shuffled_runs", sample_shuffled_runs, METH_VARARGS, "set: the runs of sample_runs, shuffled"},
    {"sample_words", sample_words, METH_VARARGS, "longest_word: words of pool tokens joined by 32098"},
    {"target_set", target_set, METH_VARARGS, "the distinct tokens in order of first appearance"},
    {"target_longest_word", target_longest_word, METH_VARARGS, "the first longest word between 32098 dividers"},
    {NULL, NULL, 0, NULL},
};
