"""Beam search against brute force on a toy model, greedy vs beam, and T5 decoding with the KV cache."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.model.config import get_config
from synpt.model.decoding import beam_search, brevity_penalty, decode_examples, greedy_decode, predict_batch, top_k
from synpt.model.t5 import T5, init_params

EOS = 1
ALPHA = 0.6


def _toy(seed: int, batch: int, length: int, vocab: int, eos_bias: float = 0.0):
    """A toy 'model': logits depend on the example, the step and the previous token (tables [b, L, V, V]).

    The cache holds the step (a shared scalar) and the example index of each row (expanded with the beams).
    """
    table = jax.random.normal(jax.random.PRNGKey(seed), (batch, length, vocab, vocab)) * 2.0
    table = table.at[..., EOS].add(eos_bias)
    log_probs = np.asarray(jax.nn.log_softmax(table, axis=-1))

    def tokens_to_logits(ids, cache):
        logits = table[cache["example"], cache["step"], ids[:, 0]]
        return logits, {"step": cache["step"] + 1, "example": cache["example"]}

    cache = {"step": jnp.array(0), "example": jnp.arange(batch)}
    return tokens_to_logits, cache, log_probs


def _brute_force_best(log_probs: np.ndarray, length: int, vocab: int) -> tuple[float, list[int]]:
    """Highest log P / ((5 + L) / 6)^α over all sequences that end at their first EOS within `length` tokens."""
    best = (-np.inf, [])
    for size in range(1, length + 1):
        for prefix in itertools.product([t for t in range(vocab) if t != EOS], repeat=size - 1):
            seq, previous, total = [*prefix, EOS], 0, 0.0
            for step, token in enumerate(seq):
                total += log_probs[step, previous, token]
                previous = token
            score = total / float(brevity_penalty(ALPHA, size))
            best = max(best, (score, seq))
    return best


def _score(log_probs: np.ndarray, seq: np.ndarray) -> float:
    """Beam-search score of a decoded row (finished: penalised; without EOS: plain log-probability)."""
    total, previous = 0.0, 0
    for step, token in enumerate(seq):
        total += log_probs[step, previous, token]
        previous = token
        if token == EOS:
            return total / float(brevity_penalty(ALPHA, step + 1))
    return total


def test_large_beam_finds_the_brute_force_optimum():
    batch, length, vocab = 3, 4, 4
    tokens_to_logits, cache, log_probs = _toy(0, batch, length, vocab)
    # 64 beams keep every live prefix (at most 3^3) and all of their 2 x 64 >= 27 x 4 candidates.
    search = jax.jit(
        lambda c: beam_search(tokens_to_logits, c, batch_size=batch, beam_size=64, max_decode_length=length)
    )
    seqs, scores = search(cache)
    for b in range(batch):
        best_score, best_seq = _brute_force_best(log_probs[b], length, vocab)
        assert float(scores[b, 0]) == pytest.approx(best_score, abs=1e-4)
        assert np.asarray(seqs[b, 0, : len(best_seq)]).tolist() == best_seq
        assert np.all(np.asarray(seqs[b, 0, len(best_seq) :]) == 0)
        assert np.all(np.diff(np.asarray(scores[b])) <= 1e-6)  # best first


def test_beam_4_scores_at_least_greedy():
    batch, length, vocab = 16, 6, 7
    tokens_to_logits, cache, log_probs = _toy(1, batch, length, vocab, eos_bias=1.0)
    beam_seqs, beam_scores = jax.jit(
        lambda c: beam_search(tokens_to_logits, c, batch_size=batch, beam_size=4, max_decode_length=length)
    )(cache)
    greedy_seqs, greedy_logprobs = jax.jit(
        lambda c: greedy_decode(tokens_to_logits, c, batch_size=batch, max_decode_length=length)
    )(cache)
    strictly_better = compared = 0
    for b in range(batch):
        beam_best = _score(log_probs[b], np.asarray(beam_seqs[b, 0]))
        assert beam_best == pytest.approx(float(beam_scores[b, 0]), abs=1e-4)
        greedy = np.asarray(greedy_seqs[b])
        finished = EOS in greedy.tolist()
        if finished:  # an unfinished greedy row has an unpenalised score, not comparable
            compared += 1
            assert beam_best >= _score(log_probs[b], greedy) - 1e-5
            strictly_better += beam_best > _score(log_probs[b], greedy) + 1e-5
        used = greedy[: greedy.tolist().index(EOS) + 1] if finished else greedy
        assert float(greedy_logprobs[b]) == pytest.approx(
            sum(log_probs[b, i, p, t] for i, (p, t) in enumerate(zip([0, *used[:-1]], used, strict=True))), abs=1e-4
        )
    assert compared >= batch // 2 and strictly_better > 0  # the search matters on this toy


@pytest.fixture(scope="module")
def tiny_t5():
    config = get_config(
        "tiny_1_1", vocab_size=32, d_model=32, num_heads=2, head_dim=16, d_ff=64, dropout_rate=0.0,
        num_encoder_layers=1, num_decoder_layers=2,
    )  # fmt: skip
    return config, init_params(config, 5)


def test_cached_decoding_matches_teacher_forced_forward(tiny_t5):
    config, params = tiny_t5
    rng = np.random.default_rng(0)
    enc = rng.integers(2, config.vocab_size, (2, 16)).astype(np.int32)  # shapes shared with the next test's compile
    enc[1, 5:] = 0
    seqs, logprobs = predict_batch(params, jnp.asarray(enc), config=config, beam_size=1, max_decode_length=5)
    seqs = np.asarray(seqs[:, 0])
    assert len(set(map(tuple, seqs.tolist()))) > 1  # not a degenerate constant output
    dec = np.pad(seqs[:, :-1], ((0, 0), (1, 0)))
    logits = jax.jit(T5(config).apply)({"params": params}, enc, dec)
    logits = np.asarray(logits)
    for b in range(2):
        row = seqs[b].tolist()
        used = row[: row.index(EOS) + 1] if EOS in row else row
        assert np.argmax(logits[b, : len(used)], axis=-1).tolist() == used
        expected = np.asarray(jax.nn.log_softmax(logits[b]))[np.arange(len(used)), used].sum()
        assert float(logprobs[b, 0]) == pytest.approx(float(expected), abs=1e-4)


def test_decode_examples_batches_and_strips_eos(tiny_t5):
    config, params = tiny_t5
    rng = np.random.default_rng(1)
    examples = [{"inputs": [*rng.integers(2, config.vocab_size, n).tolist(), EOS], "targets": [EOS]} for n in (3, 9, 5)]
    options = dict(batch_size=2, max_decode_length=5, input_length=16)
    beam = decode_examples(config, params, examples, **options, beam_size=4)
    greedy = decode_examples(config, params, examples, **options, beam_size=1)
    assert len(beam) == len(greedy) == 3
    for predictions in (beam, greedy):
        assert all(EOS not in p and len(p) <= 5 for p in predictions)
    alone = decode_examples(config, params, examples[2:], **options, beam_size=4)
    assert alone == beam[2:]  # batch composition and padding rows do not change a prediction
    tokens = np.zeros((2, 16), np.int32)
    tokens[1, : len(examples[0]["inputs"])] = examples[0]["inputs"]
    seqs, _ = predict_batch(params, jnp.asarray(tokens), config=config, beam_size=4, max_decode_length=5)
    row = np.asarray(seqs[1, 0]).tolist()
    assert beam[0] == (row[: row.index(EOS)] if EOS in row else row)
    assert decode_examples(config, params, [], **options) == []
    with pytest.raises(SynptError, match="beam_size"):
        decode_examples(config, params, examples, **options, beam_size=0)


def test_search_stops_early_once_no_live_beam_can_win():
    batch, length, vocab = 2, 10, 5
    tokens_to_logits, cache, _ = _toy(2, batch, length, vocab, eos_bias=30.0)  # EOS is almost certain at every step
    steps = []

    def counting(ids, cache):
        jax.debug.callback(lambda: steps.append(1))
        return tokens_to_logits(ids, cache)

    seqs, _ = jax.jit(lambda c: beam_search(counting, c, batch_size=batch, beam_size=4, max_decode_length=length))(
        cache
    )
    jax.effects_barrier()
    assert np.asarray(seqs[:, 0, 0]).tolist() == [EOS, EOS]
    assert 1 < len(steps) < length, steps


def test_hf_scoring_with_a_large_beam_finds_the_optimum_of_hugging_face_rules():
    """scoring="hf": log P / L^α, and sequences that reach the length limit without EOS are finished too."""
    batch, length, vocab = 3, 3, 4
    tokens_to_logits, cache, log_probs = _toy(3, batch, length, vocab)
    # 64 beams keep every live prefix (at most 3^2) and rank all of their 9 x 4 candidates in the top 64.
    seqs, scores = jax.jit(
        lambda c: beam_search(
            tokens_to_logits, c, batch_size=batch, beam_size=64, max_decode_length=length, scoring="hf"
        )
    )(cache)
    for b in range(batch):
        best = (-np.inf, [])
        for size in range(1, length + 1):
            for seq in itertools.product(range(vocab), repeat=size):
                if EOS in seq[:-1] or (size < length and seq[-1] != EOS):
                    continue  # EOS only last; shorter than the limit only when ended by EOS
                total = sum(log_probs[b, i, p, t] for i, (p, t) in enumerate(zip([0, *seq[:-1]], seq, strict=True)))
                best = max(best, (total / size**ALPHA, list(seq)))
        assert float(scores[b, 0]) == pytest.approx(best[0], abs=1e-4)
        assert np.asarray(seqs[b, 0, : len(best[1])]).tolist() == best[1]


@pytest.mark.parametrize("width", [37, 2048, 2049, 5000, 4 * 32128])
def test_blocked_top_k_equals_lax_top_k_ties_included(width):
    rng = np.random.default_rng(width)
    for values in (rng.standard_normal((6, width)), rng.integers(0, 20, (6, width))):  # integers: many ties
        x = jnp.asarray(values, jnp.float32)
        expected_values, expected_ids = jax.lax.top_k(x, 8)
        got_values, got_ids = top_k(x, 8)
        np.testing.assert_array_equal(np.asarray(got_values), np.asarray(expected_values))
        np.testing.assert_array_equal(np.asarray(got_ids), np.asarray(expected_ids))
