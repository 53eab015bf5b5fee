/* LIME (reference §2.9; quirks 6 and 8): induct / deduct / abduct examples, one at a time, with the length check
 * and whole-example rejection done here too, so a block costs one call.
 *
 * Why the whole example in C: the rule variables are written in CPython's iteration order of
 * `set(pattern_chars)` (quirk 6), a per-example set that numpy cannot build; with the set emulation of cpyset.c
 * the example needs no Python objects at all. */
#include "cpyset.h"

/* The seven structural symbols, `<extra_id_99>`..`<extra_id_93>` (reference §2.1, the current mapping). */
enum { COLON = 32000, SEP, UPPER, OPEN, LOWER, MATH, CLOSE };
enum { NUM_UPPER = 24, NUM_LOWER = 24, NUM_MATH = 20, NUM_SYMBOLS = NUM_UPPER + NUM_LOWER + NUM_MATH };
enum { MIN_CHARS = 3, MAX_CHARS = 5, MIN_MATH = 5, MAX_MATH = 19, MIN_SUBST = 2, MAX_SUBST = 8 };
enum { INDUCT, DEDUCT, ABDUCT };

/* Room for any piece of an example; the longest is the result, 2 * MAX_CHARS * MAX_SUBST + MAX_MATH ids. */
#define PIECE_MAX 128
_Static_assert(2 * MAX_CHARS * MAX_SUBST + MAX_MATH <= PIECE_MAX, "a Piece holds every piece");

/* How many candidates may all be rejected before the length range is declared empty: the bound the former
 * Python loop had (50 rounds of count + count / 8 + 8 candidates, none kept). */
#define REJECTION_ROUNDS 50

typedef struct {
    int32_t n;
    int32_t ids[PIECE_MAX];
} Piece;

/* One example's parts before the mode assembles them. */
typedef struct {
    int32_t symbols[NUM_SYMBOLS]; /* upper | lower | math; lower and math adjacent, as lower + math */
    int32_t used[32];             /* the used variables, in CPython set order (room for cset_list: the 32-slot
                                   * table of at most MAX_CHARS keys) */
    int32_t num_used;
    Piece header, pattern, result, subst_str;
} Example;

/* NUM_SYMBOLS distinct pool entries, uniformly ordered (like random.sample): pool indices, a repeat drawn again. */
static void draw_symbols(SamplerArgs *a, int32_t *symbols) {
    uint32_t drawn[NUM_SYMBOLS];
    for (int k = 0; k < NUM_SYMBOLS;) {
        const uint32_t index = rng_below(&a->rng, a->pool_size);
        int j = 0;
        while (j < k && drawn[j] != index) j++;
        if (j < k) continue;
        drawn[k] = index;
        symbols[k++] = a->pool[index];
    }
}

static void push(Piece *p, int32_t id) { p->ids[p->n++] = id; }

static void append(Piece *p, const int32_t *ids, int32_t n) {
    memcpy(p->ids + p->n, ids, n * sizeof(int32_t));
    p->n += n;
}

/* Draw one example (reference §2.9 steps 1-7). -1 (after kernel_no_memory) on a memory error of the set emulation. */
static int draw_example(SamplerArgs *a, Example *e) {
    Rng *rng = &a->rng;
    draw_symbols(a, e->symbols);
    const int32_t *upper = e->symbols, *lower_math = e->symbols + NUM_UPPER, *math = lower_math + NUM_LOWER;
    const int num_chars = (int)rng_between(rng, MIN_CHARS, MAX_CHARS);
    const int num_math = (int)rng_between(rng, MIN_MATH, MAX_MATH);

    /* pattern = pattern_chars + math picks, then shuffled; the used variables come from pattern_chars. */
    Piece *pattern = &e->pattern;
    pattern->n = 0;
    for (int j = 0; j < 2 * num_chars; j++) push(pattern, upper[rng_below(rng, num_chars)]);
    CSet set;
    cset_init(&set);
    int rc = cset_from_list(&set, pattern->ids, pattern->n);
    if (rc == 0) e->num_used = (int32_t)cset_list(&set, e->used);
    cset_free(&set);
    if (rc < 0) return -1;
    for (int j = 0; j < num_math; j++) push(pattern, math[rng_below(rng, NUM_MATH)]);
    shuffle_ids(rng, pattern->ids, pattern->n);

    /* Substitutions in used-variable order, written straight into subst_str; `at`/`len` locate each string.
     * The reference draws a second substitution that it never writes; skipping it changes no distribution. */
    Piece *subst_str = &e->subst_str;
    int at[MAX_CHARS], len[MAX_CHARS];
    subst_str->n = 0;
    for (int v = 0; v < e->num_used; v++) {
        push(subst_str, e->used[v]);
        push(subst_str, COLON);
        push(subst_str, OPEN);
        at[v] = subst_str->n;
        len[v] = (int)rng_between(rng, MIN_SUBST, MAX_SUBST);
        for (int j = 0; j < len[v]; j++) push(subst_str, lower_math[rng_below(rng, NUM_LOWER + NUM_MATH)]);
        push(subst_str, CLOSE);
    }

    /* result: the pattern with every variable replaced by its string (math symbols are never variables). */
    Piece *result = &e->result;
    result->n = 0;
    for (int j = 0; j < pattern->n; j++) {
        int v = 0;
        while (v < e->num_used && e->used[v] != pattern->ids[j]) v++;
        if (v == e->num_used) push(result, pattern->ids[j]);
        else append(result, subst_str->ids + at[v], len[v]);
    }

    /* header = <UPPER> used <LOWER> lower <MATH> math <sep> */
    Piece *header = &e->header;
    header->n = 0;
    push(header, UPPER);
    append(header, e->used, e->num_used);
    push(header, LOWER);
    append(header, lower_math, NUM_LOWER);
    push(header, MATH);
    append(header, math, NUM_MATH);
    push(header, SEP);
    return 0;
}

/* `count` examples of mode `variant` whose input and target lengths are within [lo, hi]; none (zero rows) when
 * REJECTION_ROUNDS * (count + count / 8 + 8) candidates in a row were all rejected before the first one kept. */
int lime_kernel(SamplerArgs *a, RaggedOut *inputs, RaggedOut *targets) {
    const Py_ssize_t give_up = REJECTION_ROUNDS * (a->count + a->count / 8 + 8);
    const int mode = a->variant;
    Py_ssize_t kept = 0, tried = 0;
    Example e;
    if (a->pool_size < NUM_SYMBOLS)
        return kernel_fail(PyExc_ValueError, "LIME needs a pool of at least %d distinct tokens, got %u", NUM_SYMBOLS,
                           a->pool_size);
    while (kept < a->count) {
        if (kept == 0 && tried++ >= give_up) return 0;
        if (draw_example(a, &e) < 0) return -1;
        /* input = header + first + <sep> + second; the reference counts the commas between subst_str entries */
        const Piece *first = mode == INDUCT ? &e.result : &e.pattern;
        const Piece *second = mode == ABDUCT ? &e.result : &e.subst_str;
        const Piece *target = mode == INDUCT ? &e.pattern : mode == DEDUCT ? &e.result : &e.subst_str;
        const int64_t commas = e.num_used - 1;
        const int64_t in_len = e.header.n + first->n + 1 + second->n;
        const int64_t in_count = in_len + (mode == ABDUCT ? 0 : commas);
        const int64_t tgt_count = target->n + (mode == ABDUCT ? commas : 0);
        if (in_count < a->lo || in_count > a->hi || tgt_count < a->lo || tgt_count > a->hi) continue;

        int32_t *in = row_room(inputs, in_len), *tgt = in ? row_room(targets, target->n) : NULL;
        if (!tgt) return -1;
        memcpy(in, e.header.ids, e.header.n * sizeof(int32_t));
        memcpy(in + e.header.n, first->ids, first->n * sizeof(int32_t));
        in[e.header.n + first->n] = SEP;
        memcpy(in + e.header.n + first->n + 1, second->ids, second->n * sizeof(int32_t));
        end_row(inputs, in_len);
        memcpy(tgt, target->ids, target->n * sizeof(int32_t));
        end_row(targets, target->n);
        kept++;
    }
    return 0;
}
