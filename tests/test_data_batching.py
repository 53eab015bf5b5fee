"""Batching: shift right, loss weights, trimming, bucket choice, packing layout, eval padding, argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from synpt.data.batching import batches, count_examples, default_bucket_lengths, shift_right
from synpt.errors import SynptError


def example(inputs: list[int], targets: list[int]) -> dict[str, np.ndarray]:
    return {"inputs": np.array(inputs, np.int32), "targets": np.array(targets, np.int32)}


def as_lists(batch: dict[str, np.ndarray]) -> dict[str, list]:
    return {name: array.tolist() for name, array in batch.items()}


EXAMPLES = [
    example([5, 6, 7, 1], [8, 9, 1]),
    example([3, 1], [4, 1]),
    example(list(range(2, 12)) + [1], [7, 1]),  # 11 input ids: over-long for input_length 8
]


def test_fixed_padding_shifts_right_and_weights_real_targets() -> None:
    first, second = batches(EXAMPLES, batch_size=2, input_length=8, target_length=6, padding="fixed")
    assert as_lists(first) == {
        "encoder_input_tokens": [[5, 6, 7, 1, 0, 0, 0, 0], [3, 1, 0, 0, 0, 0, 0, 0]],
        "decoder_input_tokens": [[0, 8, 9, 1, 0, 0], [0, 4, 1, 0, 0, 0]],
        "decoder_target_tokens": [[8, 9, 1, 0, 0, 0], [4, 1, 0, 0, 0, 0]],
        "decoder_loss_weights": [[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]],
    }
    # The over-long example is trimmed and loses its EOS (reference quirk 17); the filler row is all zeros.
    assert second["encoder_input_tokens"].tolist() == [list(range(2, 10)), [0] * 8]
    assert second["decoder_loss_weights"].tolist() == [[1, 1, 0, 0, 0, 0], [0] * 6]
    assert all(array.dtype == np.int32 for batch in (first, second) for array in batch.values())


def test_trimmed_target_keeps_loss_on_every_position_and_no_eos() -> None:
    (batch,) = batches(
        [example([4, 1], [9, 8, 7, 6, 1])], batch_size=1, input_length=4, target_length=3, padding="fixed"
    )
    assert batch["decoder_target_tokens"].tolist() == [[9, 8, 7]]
    assert batch["decoder_input_tokens"].tolist() == [[0, 9, 8]]
    assert batch["decoder_loss_weights"].tolist() == [[1, 1, 1]]


def test_packing_lays_out_segments_positions_and_per_segment_shift() -> None:
    (batch,) = batches(EXAMPLES, batch_size=2, input_length=8, target_length=6, padding="pack")
    assert as_lists(batch) == {
        "encoder_input_tokens": [[5, 6, 7, 1, 3, 1, 0, 0], list(range(2, 10))],
        "decoder_input_tokens": [[0, 8, 9, 0, 4, 0], [0, 7, 0, 0, 0, 0]],
        "decoder_target_tokens": [[8, 9, 1, 4, 1, 0], [7, 1, 0, 0, 0, 0]],
        "decoder_loss_weights": [[1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0]],
        "encoder_segment_ids": [[1, 1, 1, 1, 2, 2, 0, 0], [1] * 8],
        "decoder_segment_ids": [[1, 1, 1, 2, 2, 0], [1, 1, 0, 0, 0, 0]],
        "encoder_positions": [[0, 1, 2, 3, 0, 1, 0, 0], list(range(8))],
        "decoder_positions": [[0, 1, 2, 0, 1, 0], [0, 1, 0, 0, 0, 0]],
    }
    assert count_examples(batch) == 3


def test_packing_opens_a_new_row_when_either_side_overflows() -> None:
    # Inputs fit together (2 + 2 <= 8) but targets do not (3 + 3 > 5): the second example opens row 1.
    pair = [example([3, 1], [4, 5, 1]), example([6, 1], [7, 8, 1])]
    (batch,) = batches(pair, batch_size=2, input_length=8, target_length=5, padding="pack")
    assert batch["encoder_segment_ids"].tolist() == [[1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]]
    assert batch["decoder_target_tokens"].tolist() == [[4, 5, 1, 0, 0], [7, 8, 1, 0, 0]]


def test_packing_starts_a_new_batch_after_batch_size_rows() -> None:
    stream = [example([2, 1], [3, 1])] * 5
    packed = list(batches(stream, batch_size=2, input_length=4, target_length=4, padding="pack"))
    assert [count_examples(batch) for batch in packed] == [4, 1]
    assert packed[1]["encoder_segment_ids"].tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]


def test_shift_right_restarts_every_segment() -> None:
    targets = np.array([[8, 9, 1, 4, 1, 0, 0]], np.int32)
    segments = np.array([[1, 1, 1, 2, 2, 0, 0]], np.int32)
    assert shift_right(targets).tolist() == [[0, 8, 9, 1, 4, 1, 0]]
    assert shift_right(targets, segments).tolist() == [[0, 8, 9, 0, 4, 0, 0]]


def test_default_bucket_lengths() -> None:
    assert default_bucket_lengths(512) == (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
    assert default_bucket_lengths(300) == (16, 24, 32, 48, 64, 96, 128, 192, 256, 300)
    assert default_bucket_lengths(20) == (16, 20)
    assert default_bucket_lengths(8) == (8,)


@pytest.mark.parametrize(
    ("longest_input", "longest_target", "expected_shape"),
    [(1, 1, (16, 16)), (16, 17, (16, 24)), (97, 129, (128, 192)), (229, 441, (256, 512)), (600, 600, (512, 512))],
)
def test_bucket_is_the_smallest_default_length_that_fits(longest_input, longest_target, expected_shape) -> None:
    stream = [example([2] * longest_input, [3] * longest_target), example([4, 1], [5, 1])]
    (batch,) = batches(stream, batch_size=2, input_length=512, target_length=512)
    assert (batch["encoder_input_tokens"].shape[1], batch["decoder_target_tokens"].shape[1]) == expected_shape
    assert batch["decoder_input_tokens"].shape == batch["decoder_target_tokens"].shape


def test_custom_buckets_always_include_the_feature_length() -> None:
    stream = [example([2] * 70, [3] * 5)]
    (batch,) = batches(
        stream, batch_size=1, input_length=100, target_length=10, input_buckets=[32, 64], target_buckets=[4, 8]
    )
    assert batch["encoder_input_tokens"].shape == (1, 100)
    assert batch["decoder_target_tokens"].shape == (1, 8)


def test_eval_batches_pad_the_last_batch_with_weightless_rows() -> None:
    stream = [example([2 + i, 1], [3 + i, 1]) for i in range(10)]
    for padding in ("fixed", "bucket"):
        result = list(batches(stream, batch_size=4, input_length=8, target_length=8, padding=padding))
        assert [count_examples(batch) for batch in result] == [4, 4, 2]
        last = result[-1]
        assert last["encoder_input_tokens"].shape[0] == 4
        assert last["encoder_input_tokens"][:2, 0].tolist() == [10, 11]
        assert not last["encoder_input_tokens"][2:].any() and not last["decoder_loss_weights"][2:].any()
        assert not last["decoder_input_tokens"][2:].any()


def test_sort_window_groups_similar_lengths_without_losing_examples() -> None:
    lengths = [9, 1, 8, 2, 7, 3, 6, 4]
    stream = [example([5] * n + [1], [6, 1]) for n in lengths]
    result = list(
        batches(stream, batch_size=2, input_length=64, target_length=8, input_buckets=[2, 4, 8, 16], sort_window=4)
    )
    inputs_per_batch = [[int((row != 0).sum()) - 1 for row in batch["encoder_input_tokens"]] for batch in result]
    assert inputs_per_batch == [[1, 2], [3, 4], [6, 7], [8, 9]]
    assert [batch["encoder_input_tokens"].shape[1] for batch in result] == [4, 8, 8, 16]


def test_empty_stream_gives_no_batches() -> None:
    for padding in ("fixed", "bucket", "pack"):
        assert list(batches([], batch_size=2, input_length=4, target_length=4, padding=padding)) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"padding": "dynamic"}, "padding='dynamic'"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"target_length": 2.5}, "target_length must be a positive integer"),
        ({"padding": "pack", "sort_window": 4}, "only apply to padding='bucket'"),
        ({"padding": "fixed", "input_buckets": [4]}, "only apply to padding='bucket'"),
        ({"input_buckets": [8, 4]}, "strictly ascending"),
        ({"target_buckets": [4, 16]}, "at most the feature length 8"),
        ({"target_buckets": [0, 4]}, "each of target_buckets must be a positive integer"),
    ],
)
def test_bad_arguments_raise_at_call_time(overrides, message) -> None:
    arguments = {"batch_size": 2, "input_length": 8, "target_length": 8, **overrides}
    with pytest.raises(SynptError, match=message):
        batches(iter(()), **arguments)


@pytest.mark.parametrize("padding", ["fixed", "bucket", "pack"])
def test_example_without_targets_is_rejected(padding) -> None:
    with pytest.raises(SynptError, match="must end with EOS"):
        list(batches([example([2, 1], [])], batch_size=1, input_length=4, target_length=4, padding=padding))
