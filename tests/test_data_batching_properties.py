"""Property tests: every mode reproduces the trimmed examples exactly, in order, with consistent masks and shapes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from synpt.data.batching import PADDING_MODES, batches, count_examples

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def sequence(draw) -> np.ndarray:
    """Non-pad token ids ending with EOS, like a task example side."""
    body = draw(st.lists(st.integers(2, 50), max_size=20))
    return np.array([*body, 1], np.int32)


examples_strategy = st.lists(st.builds(lambda x, y: {"inputs": x, "targets": y}, sequence(), sequence()), max_size=25)
lengths_strategy = st.integers(1, 24)


def trimmed(examples, input_length: int, target_length: int) -> list[tuple[list[int], list[int]]]:
    return [(ex["inputs"][:input_length].tolist(), ex["targets"][:target_length].tolist()) for ex in examples]


def unpack(batch: dict[str, np.ndarray]) -> list[tuple[list[int], list[int]]]:
    """The examples of a packed batch, in order, read back through the segment ids alone."""
    found = []
    for row in range(batch["encoder_input_tokens"].shape[0]):
        for segment in range(1, batch["encoder_segment_ids"][row].max() + 1):
            inputs = batch["encoder_input_tokens"][row][batch["encoder_segment_ids"][row] == segment]
            targets = batch["decoder_target_tokens"][row][batch["decoder_segment_ids"][row] == segment]
            found.append((inputs.tolist(), targets.tolist()))
    return found


def assert_segments_are_laid_out_correctly(segment_ids: np.ndarray, positions: np.ndarray, length: int) -> None:
    """Segments are contiguous runs 1, 2, ..., k from column 0, then padding (0); positions restart per segment."""
    assert segment_ids.shape[1] == positions.shape[1] == length
    for segments, row_positions in zip(segment_ids, positions, strict=True):
        used = int(np.count_nonzero(segments))
        assert not segments[used:].any() and not row_positions[used:].any()
        steps = np.diff(segments[:used])
        assert ((steps == 0) | (steps == 1)).all() and (used == 0 or segments[0] == 1)
        starts = np.flatnonzero(np.diff(segments[:used], prepend=0))
        expected = np.arange(used) - np.repeat(starts, np.diff(np.append(starts, used)))
        assert (row_positions[:used] == expected).all()


@SETTINGS
@given(examples_strategy, st.integers(1, 4), lengths_strategy, lengths_strategy)
def test_packing_preserves_every_example_and_never_mixes_segments(examples, batch_size, input_length, target_length):
    packed = list(
        batches(examples, batch_size=batch_size, input_length=input_length, target_length=target_length, padding="pack")
    )
    assert [example for batch in packed for example in unpack(batch)] == trimmed(examples, input_length, target_length)
    assert sum(count_examples(batch) for batch in packed) == len(examples)
    for batch in packed:
        assert batch["encoder_input_tokens"].shape == (batch_size, input_length)
        assert batch["decoder_target_tokens"].shape == (batch_size, target_length)
        assert_segments_are_laid_out_correctly(batch["encoder_segment_ids"], batch["encoder_positions"], input_length)
        assert_segments_are_laid_out_correctly(batch["decoder_segment_ids"], batch["decoder_positions"], target_length)
        # Every example is a segment on both sides, and tokens, loss weights and segments agree on what is padding.
        assert (batch["encoder_segment_ids"].max(axis=1) == batch["decoder_segment_ids"].max(axis=1)).all()
        assert ((batch["encoder_input_tokens"] != 0) == (batch["encoder_segment_ids"] != 0)).all()
        assert (batch["decoder_loss_weights"] == (batch["decoder_segment_ids"] != 0)).all()
        # The decoder input is the target shifted right inside each segment: 0 at a segment start, no leakage.
        targets, decoder_inputs, segments = (
            batch[name] for name in ("decoder_target_tokens", "decoder_input_tokens", "decoder_segment_ids")
        )
        same_segment = segments[:, 1:] == segments[:, :-1]
        assert (decoder_inputs[:, 0] == 0).all()
        assert (decoder_inputs[:, 1:] == np.where(same_segment, targets[:, :-1], 0)).all()


@SETTINGS
@given(examples_strategy, st.integers(1, 4), lengths_strategy, lengths_strategy)
def test_packing_is_greedy_next_fit(examples, batch_size, input_length, target_length):
    """A row is closed only when the next example does not fit in it, and only full batches are emitted early."""
    packed = list(
        batches(examples, batch_size=batch_size, input_length=input_length, target_length=target_length, padding="pack")
    )
    for index, batch in enumerate(packed):
        used_inputs = (batch["encoder_segment_ids"] != 0).sum(axis=1)
        used_targets = (batch["decoder_segment_ids"] != 0).sum(axis=1)
        rows = int(np.count_nonzero(used_inputs))
        assert rows == batch_size or index == len(packed) - 1
        first_inputs = (batch["encoder_segment_ids"] == 1).sum(axis=1)
        first_targets = (batch["decoder_segment_ids"] == 1).sum(axis=1)
        for row in range(rows - 1):
            fits = (
                used_inputs[row] + first_inputs[row + 1] <= input_length
                and used_targets[row] + first_targets[row + 1] <= target_length
            )
            assert not fits


@SETTINGS
@given(examples_strategy, st.integers(1, 4), lengths_strategy, lengths_strategy, st.sampled_from(["fixed", "bucket"]))
def test_padded_modes_keep_order_and_choose_the_smallest_fitting_shape(
    examples, batch_size, input_length, target_length, padding
):
    result = list(
        batches(
            examples,
            batch_size=batch_size,
            input_length=input_length,
            target_length=target_length,
            padding=padding,
            input_buckets=[b for b in (4, 8, 16) if b <= input_length] if padding == "bucket" else None,
        )
    )
    expected = trimmed(examples, input_length, target_length)
    found = []
    for batch in result:
        real = count_examples(batch)
        inputs, targets = batch["encoder_input_tokens"], batch["decoder_target_tokens"]
        found += [
            (row[row != 0].tolist(), target[target != 0].tolist())
            for row, target in zip(inputs[:real], targets[:real], strict=True)
        ]
        assert inputs.shape[0] == targets.shape[0] == batch_size
        assert not inputs[real:].any() and not targets[real:].any()
        assert (batch["decoder_loss_weights"] == (targets != 0)).all()
        assert (batch["decoder_input_tokens"][:, 1:] == targets[:, :-1]).all()
        assert not batch["decoder_input_tokens"][:, 0].any()
        longest_input = int((inputs != 0).sum(axis=1).max())
        if padding == "fixed":
            assert inputs.shape[1] == input_length and targets.shape[1] == target_length
        else:
            buckets = [b for b in (4, 8, 16) if b <= input_length] + [input_length]
            assert inputs.shape[1] == min(b for b in buckets if b >= longest_input)
    assert found == expected


@SETTINGS
@given(examples_strategy, st.integers(1, 3), st.integers(1, 4), st.sampled_from(["fixed", "bucket", "pack"]))
def test_batches_depend_only_on_the_examples(examples, batch_size, sort_window, padding):
    window = {"sort_window": sort_window} if padding == "bucket" else {}

    def run(stream):
        return list(
            batches(stream, batch_size=batch_size, input_length=12, target_length=12, padding=padding, **window)
        )

    first, second = run(examples), run(iter(list(examples)))
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[name], b[name]) for name in a)


@SETTINGS
@given(examples_strategy, st.integers(1, 3), st.integers(2, 4))
def test_sort_window_only_reorders_within_a_window(examples, batch_size, sort_window):
    result = list(batches(examples, batch_size=batch_size, input_length=12, target_length=12, sort_window=sort_window))
    found = []
    for batch in result:
        real = count_examples(batch)
        found += [
            (row[row != 0].tolist(), target[target != 0].tolist())
            for row, target in zip(
                batch["encoder_input_tokens"][:real], batch["decoder_target_tokens"][:real], strict=True
            )
        ]
    expected = trimmed(examples, 12, 12)
    window = batch_size * sort_window
    for start in range(0, len(expected), window):
        got, want = found[start : start + window], expected[start : start + window]
        assert sorted(got) == sorted(want)
        sizes = [len(x) + len(y) for x, y in got]
        assert sizes == sorted(sizes)


@SETTINGS
@given(examples_strategy, st.integers(1, 4), lengths_strategy, lengths_strategy)
def test_bucket_batches_are_fixed_batches_without_trailing_padding(examples, batch_size, input_length, target_length):
    """Same examples in the same rows; the columns bucketing drops are pure padding with zero loss weight."""
    options = {"batch_size": batch_size, "input_length": input_length, "target_length": target_length}
    fixed = list(batches(examples, padding="fixed", **options))
    bucket = list(batches(examples, padding="bucket", **options))
    assert len(fixed) == len(bucket)
    for full, trimmed_batch in zip(fixed, bucket, strict=True):
        assert full.keys() == trimmed_batch.keys()
        for name, array in trimmed_batch.items():
            width = array.shape[1]
            assert np.array_equal(full[name][:, :width], array)
            assert not full[name][:, width:].any() or name == "decoder_input_tokens"
        # The decoder input beyond the bucket can only be the shifted last target (EOS), which carries no weight.
        target_width = trimmed_batch["decoder_target_tokens"].shape[1]
        assert not full["decoder_input_tokens"][:, target_width + 1 :].any()
        assert not full["decoder_loss_weights"][:, target_width:].any()


@SETTINGS
@given(examples_strategy, st.integers(1, 4), lengths_strategy, lengths_strategy, st.sampled_from(["bucket", "pack"]))
def test_restarting_the_stream_after_k_batches_reproduces_the_rest(
    examples, batch_size, input_length, target_length, padding
):
    """What a trainer relies on to resume: restart at the number of examples already consumed (count_examples)."""
    options = {"batch_size": batch_size, "input_length": input_length, "target_length": target_length}
    full = list(batches(examples, padding=padding, **options))
    for k in range(len(full)):
        consumed = sum(count_examples(batch) for batch in full[:k])
        resumed = list(batches(examples[consumed:], padding=padding, **options))
        assert len(resumed) == len(full) - k
        for a, b in zip(full[k:], resumed, strict=True):
            assert all(np.array_equal(a[name], b[name]) for name in a)


@SETTINGS
@given(examples_strategy, st.integers(1, 4), lengths_strategy, lengths_strategy, st.sampled_from(PADDING_MODES))
def test_loss_weights_count_every_trimmed_target_token(examples, batch_size, input_length, target_length, padding):
    result = batches(
        examples, batch_size=batch_size, input_length=input_length, target_length=target_length, padding=padding
    )
    expected = sum(min(len(ex["targets"]), target_length) for ex in examples)
    assert sum(int(batch["decoder_loss_weights"].sum()) for batch in result) == expected
