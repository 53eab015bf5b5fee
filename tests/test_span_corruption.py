"""T5 span corruption: lengths, noise-mask statistics, sentinel order, reconstruction, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.synthetic import span_corruption as sc


@pytest.mark.parametrize(("inputs_length", "raw", "targets"), [(512, 568, 114), (256, 284, 58)])
def test_chunk_lengths_fill_inputs_exactly(inputs_length, raw, targets):
    lengths = sc.random_spans_lengths(inputs_length)
    assert (lengths.raw_length, lengths.inputs_length, lengths.targets_length) == (raw, inputs_length, targets)
    # one more raw token would overflow the inputs
    assert sc.corrupted_lengths(raw + 1).inputs_length > inputs_length


def test_full_chunks_give_exact_feature_lengths_in_one_batch():
    chunks = np.arange(100, 100 + 4 * 568, dtype=np.int32).reshape(4, 568)
    examples = sc.corrupt_chunks(chunks, sc.noise_rng(3, 0), inputs_length=512, targets_length=114)
    for chunk, example in zip(chunks, examples, strict=True):
        assert example["inputs"].shape == (512,) and example["targets"].shape == (114,)
        assert example["inputs"][-1] == 1 and example["targets"][-1] == 1
        np.testing.assert_array_equal(sc.reconstruct(example["inputs"][:-1], example["targets"][:-1]), chunk)
    sentinel_positions = {np.flatnonzero(e["inputs"] >= 32000).tobytes() for e in examples}
    assert len(sentinel_positions) == 4  # every row has its own mask


def test_batched_masks_have_the_single_mask_distribution():
    """Rows of a batch are independent masks: the position-wise noise rate matches T5's (same counts per row)."""
    masks = sc.random_spans_noise_masks(2000, 568, np.random.default_rng(0))
    assert (masks.sum(axis=1) == 85).all() and not masks[:, 0].any() and masks[:, -1].all()
    assert 0.12 < masks[:, 100:460].mean() < 0.18
    assert len({m.tobytes() for m in masks}) == 2000


def test_batch_with_unequal_masks_is_rejected():
    tokens = np.arange(12).reshape(2, 6)
    masks = np.array([[0, 1, 1, 0, 0, 0], [0, 1, 0, 1, 0, 0]], dtype=bool)
    with pytest.raises(ValueError, match="same numbers"):
        sc.corrupt(tokens, masks)


def _naive_sentinels(tokens, mask, first_sentinel=32099):
    """Per-token reference: every run of masked tokens becomes the next sentinel."""
    out, sentinel, previous = [], first_sentinel, False
    for token, masked in zip(tokens.tolist(), mask.tolist(), strict=True):
        if masked and not previous:
            out.append(sentinel)
            sentinel -= 1
        elif not masked:
            out.append(token)
        previous = masked
    return out


@pytest.mark.parametrize("length", [1, 2, 3, 7, 50, 284, 568, 1000])
def test_corrupt_matches_naive_and_reconstructs(length):
    rng = np.random.default_rng(length)
    tokens = rng.integers(2, 32000, size=length).astype(np.int32)
    mask = sc.random_spans_noise_mask(length, rng)
    inputs, targets = sc.corrupt(tokens, mask)
    assert inputs.tolist() == _naive_sentinels(tokens, mask)
    assert targets.tolist() == _naive_sentinels(tokens, ~mask)
    np.testing.assert_array_equal(sc.reconstruct(inputs, targets), tokens)


def test_sentinels_count_down_in_order_on_both_sides():
    rng = np.random.default_rng(0)
    tokens = rng.integers(2, 32000, size=568).astype(np.int32)
    mask = sc.random_spans_noise_mask(568, rng)
    inputs, targets = sc.corrupt(tokens, mask)
    expected = list(range(32099, 32099 - 28, -1))
    assert [t for t in inputs.tolist() if t >= 32000] == expected
    assert [t for t in targets.tolist() if t >= 32000] == expected
    assert targets[0] == 32099  # the mask starts with non-noise, so targets open with a sentinel
    assert mask[-1] and not mask[0]


def test_noise_density_and_mean_span_length():
    rng = np.random.default_rng(1)
    noise = spans = total = 0
    for length in rng.integers(200, 700, size=300).tolist():
        mask = sc.random_spans_noise_mask(length, rng)
        noise += int(mask.sum())
        spans += int((mask & ~np.concatenate(([False], mask[:-1]))).sum())
        total += length
    assert abs(noise / total - 0.15) < 0.005
    assert abs(noise / spans - 3.0) < 0.1


def _noise_span_lengths(mask: np.ndarray) -> np.ndarray:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(int), [0]))))
    return edges[1::2] - edges[0::2]


def test_span_lengths_are_random_compositions():
    """Every full chunk has round(85 / 3) = 28 noise spans of positive, varying lengths."""
    rng = np.random.default_rng(2)
    lengths = [_noise_span_lengths(sc.random_spans_noise_mask(568, rng)) for _ in range(200)]
    assert {len(x) for x in lengths} == {28} and {int(x.sum()) for x in lengths} == {85}
    pooled = np.concatenate(lengths)
    assert pooled.min() >= 1 and pooled.max() > 6


def test_concatenate_and_split_keeps_group_remainders():
    sequences = [np.arange(1, 11) + 100 * i for i in range(5)]
    chunks = list(sc.concatenate_and_split(sequences, chunk_length=8, group_size=2))
    assert [len(c) for c in chunks] == [8, 8, 4, 8, 8, 4, 8, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), np.concatenate(sequences))


def test_concatenation_drops_pad_and_counts_empty_sequences():
    sequences = [np.array([5, 0, 6]), np.array([], dtype=np.int32), np.array([7, 8])]
    assert [c.tolist() for c in sc.concatenate_and_split(sequences, chunk_length=8, group_size=2)] == [[5, 6], [7, 8]]


def test_half_density_uses_t5_target_length_hack():
    """767 raw tokens would fit 512 inputs but need 513 targets; T5 then takes 766 and 512 targets."""
    lengths = sc.random_spans_lengths(512, noise_density=0.5)
    assert (lengths.raw_length, lengths.inputs_length, lengths.targets_length) == (766, 512, 512)


def test_select_random_chunk_windows_long_sequences():
    rng = np.random.default_rng(0)
    tokens = np.arange(250)
    window = sc.select_random_chunk(tokens, rng, max_length=100)
    assert window[0] in (0, 100, 200) and len(window) == min(100, 250 - window[0])
    short = tokens[:50]
    assert sc.select_random_chunk(short, rng, max_length=100) is short


def _stream(seed=0, **kwargs):
    rng = np.random.default_rng(123)
    sequences = [rng.integers(2, 30000, size=n) for n in rng.integers(5, 60, size=400)]
    return list(sc.span_corruption_examples(sequences, inputs_length=64, seed=seed, **kwargs))


def test_stream_is_deterministic_resumable_and_shardable():
    full = _stream(seed=5)
    again = _stream(seed=5)
    other = _stream(seed=6)
    assert all(np.array_equal(a["inputs"], b["inputs"]) for a, b in zip(full, again, strict=True))
    assert any(not np.array_equal(a["inputs"], b["inputs"]) for a, b in zip(full, other, strict=True))
    resumed = _stream(seed=5, start=7)
    assert all(np.array_equal(a["targets"], b["targets"]) for a, b in zip(full[7:], resumed, strict=True))
    shards = [_stream(seed=5, shard_index=k, shard_count=3) for k in range(3)]
    interleaved = [ex for group in itertools.zip_longest(*shards) for ex in group if ex is not None]
    assert all(np.array_equal(a["inputs"], b["inputs"]) for a, b in zip(full, interleaved, strict=True))


def test_stream_reconstructs_the_concatenated_sequences():
    rng = np.random.default_rng(123)
    sequences = [rng.integers(2, 30000, size=n) for n in rng.integers(5, 60, size=400)]
    examples = sc.span_corruption_examples(sequences, inputs_length=64, seed=0)
    restored = np.concatenate([sc.reconstruct(e["inputs"][:-1], e["targets"][:-1]) for e in examples])
    np.testing.assert_array_equal(restored, np.concatenate(sequences))


def test_bad_parameters_raise_user_errors():
    with pytest.raises(SynptError, match="inputs_length"):
        sc.random_spans_lengths(2)
    with pytest.raises(SynptError, match="noise_density"):
        sc.random_spans_lengths(512, noise_density=1.5)
