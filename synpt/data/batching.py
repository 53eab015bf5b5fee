"""Turn a stream of examples into model batches: fixed padding, length buckets, or packing.

Why three modes: the reference pads every feature to the task's fixed length (512/512 for pre-training) although
synthetic inputs are at most 229 ids and targets at most 441 (reference quirk 18), so most of the compute goes to
padding. Padding carries zero loss weight and is masked out of attention, so padding each batch only up to a small
set of bucket lengths ("bucket"), or filling rows with several examples whose attention is confined to their own
segment ("pack"), leaves the loss unchanged while jit still sees only a few static shapes. "fixed" keeps the
reference's behaviour.

Batches are built with vectorised numpy per batch (trimming included); the only per-example Python is collecting the
arrays and, for packing, the sequential next-fit row assignment.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from synpt.errors import SynptError
from synpt.tasks import Example

Batch = dict[str, np.ndarray]
"""int32 arrays with T5X feature names; see `batches`."""

PADDING_MODES = ("bucket", "pack", "fixed")


def default_bucket_lengths(feature_length: int, *, minimum: int = 16) -> tuple[int, ...]:
    """Powers of two and their 1.5x midpoints (16, 24, 32, 48, 64, 96, ...) below `feature_length`, then it.

    Why this set: two shapes per doubling keep jit compilations few (11 per feature for 512) while a batch is never
    padded beyond 1.5x its longest example (or `minimum`, for very short examples).
    """
    lengths = []
    power = minimum
    while power < feature_length:
        lengths += [length for length in (power, power * 3 // 2) if length < feature_length]
        power *= 2
    return (*lengths, feature_length)


def batches(
    examples: Iterable[Example],
    *,
    batch_size: int,
    input_length: int,
    target_length: int,
    padding: str = "bucket",
    input_buckets: Sequence[int] | None = None,
    target_buckets: Sequence[int] | None = None,
    sort_window: int = 1,
) -> Iterator[Batch]:
    """Batches of `examples`, each trimmed to `input_length` / `target_length` (an over-long example loses its EOS,
    reference quirk 17).

    Every batch has `encoder_input_tokens` [B, I], `decoder_target_tokens` [B, T], `decoder_input_tokens` (targets
    shifted right, 0 first) and `decoder_loss_weights` (1 where the target is not padding), all int32, B =
    `batch_size`. The last batch of a finite stream is completed with all-zero rows (zero loss weight); use
    `count_examples` to know how many examples a batch holds.

    padding:
        "fixed"  -- I = input_length, T = target_length for every batch (the reference's behaviour).
        "bucket" -- I and T are the smallest of `input_buckets` / `target_buckets` (default:
                    `default_bucket_lengths`) that fit the batch's longest trimmed example; the feature length is
                    always a bucket. `batch_size` consecutive examples per batch, in stream order unless
                    `sort_window` > 1: then each run of `sort_window` batches' worth of examples is stably sorted
                    by trimmed length (inputs + targets) before being cut into batches, which lowers padding but
                    makes each batch's examples similar in length.
        "pack"   -- consecutive examples are packed greedily (next fit) into B rows of exactly (input_length,
                    target_length); each example is one segment of its row, numbered 1..k (0 = padding), with
                    positions restarting at 0, and the decoder input restarting with 0 at every segment. Adds
                    `encoder_segment_ids`, `decoder_segment_ids`, `encoder_positions`, `decoder_positions`, which
                    the model uses to keep attention inside a segment.

    The output depends only on the sequence of examples (no randomness). Arguments are checked when called, not
    when the first batch is drawn.
    """
    for name, value in (("batch_size", batch_size), ("input_length", input_length), ("target_length", target_length)):
        _check_positive(name, value)
    _check_positive("sort_window", sort_window)
    if padding not in PADDING_MODES:
        raise SynptError(f"padding={padding!r} is not a batching mode; use one of {', '.join(PADDING_MODES)}")
    if padding != "bucket" and (input_buckets is not None or target_buckets is not None or sort_window != 1):
        raise SynptError(
            f"input_buckets, target_buckets and sort_window only apply to padding='bucket', got padding={padding!r}; "
            "drop them or switch to bucket padding"
        )
    if padding == "pack":
        return _packed_batches(iter(examples), batch_size, input_length, target_length)
    if padding == "fixed":
        buckets = (np.array([input_length]), np.array([target_length]))
    else:
        buckets = (
            _bucket_array("input_buckets", input_buckets, input_length),
            _bucket_array("target_buckets", target_buckets, target_length),
        )
    return _padded_batches(iter(examples), batch_size, (input_length, target_length), buckets, sort_window)


def count_examples(batch: Batch) -> int:
    """How many examples `batch` holds.

    Unpacked batches hold one example per row and put the all-zero filler rows of a final partial batch last, so
    the real rows are the first `count_examples(batch)` rows (every real example has at least one target token).
    Packed rows hold one example per segment, numbered 1..k.
    """
    if "decoder_segment_ids" in batch:
        return int(batch["decoder_segment_ids"].max(axis=1).sum())
    return int(np.count_nonzero(batch["decoder_target_tokens"].any(axis=1)))


def shift_right(targets: np.ndarray, segment_ids: np.ndarray | None = None) -> np.ndarray:
    """Decoder inputs for teacher forcing: `targets` [B, T] shifted one step right with 0 as the start token.

    With `segment_ids`, every segment (and the padding after it) starts again with 0, as seqio's
    `autoregressive_inputs` does, so a packed example never sees the previous example's last token.
    """
    shifted = np.zeros_like(targets)
    shifted[:, 1:] = targets[:, :-1]
    if segment_ids is not None:
        shifted[:, 1:] *= segment_ids[:, 1:] == segment_ids[:, :-1]
    return shifted


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SynptError(f"{name} must be a positive integer, got {value!r}")


def _bucket_array(name: str, buckets: Sequence[int] | None, feature_length: int) -> np.ndarray:
    """Validated ascending bucket lengths ending with `feature_length`, so that every trimmed example fits."""
    if buckets is None:
        return np.array(default_bucket_lengths(feature_length))
    values = list(buckets)
    for value in values:
        _check_positive(f"each of {name}", value)
    if any(b <= a for a, b in itertools.pairwise(values)) or (values and values[-1] > feature_length):
        raise SynptError(
            f"{name}={values} must be strictly ascending and at most the feature length {feature_length}; "
            f"for example {list(default_bucket_lengths(feature_length))}"
        )
    if not values or values[-1] < feature_length:
        values.append(feature_length)
    return np.array(values)


def _padded_batches(
    examples: Iterator[Example],
    batch_size: int,
    feature_lengths: tuple[int, int],
    buckets: tuple[np.ndarray, np.ndarray],
    sort_window: int,
) -> Iterator[Batch]:
    input_length, target_length = feature_lengths
    while window := list(itertools.islice(examples, batch_size * sort_window)):
        if sort_window > 1:
            key = [min(len(ex["inputs"]), input_length) + min(len(ex["targets"]), target_length) for ex in window]
            window = [window[i] for i in np.argsort(key, kind="stable")]
        for start in range(0, len(window), batch_size):
            chunk = window[start : start + batch_size]
            one_per_row = np.arange(len(chunk))
            encoder = _Rows([ex["inputs"] for ex in chunk], input_length, one_per_row, batch_size)
            decoder = _Rows([ex["targets"] for ex in chunk], target_length, one_per_row, batch_size)
            decoder_tokens = decoder.tokens(_fitting_bucket(buckets[1], decoder.lengths))
            yield {
                "encoder_input_tokens": encoder.tokens(_fitting_bucket(buckets[0], encoder.lengths)),
                "decoder_input_tokens": shift_right(decoder_tokens),
                "decoder_target_tokens": decoder_tokens,
                "decoder_loss_weights": (decoder_tokens != 0).astype(np.int32),
            }


def _fitting_bucket(buckets: np.ndarray, lengths: np.ndarray) -> int:
    return int(buckets[np.searchsorted(buckets, lengths.max())])


def _packed_batches(
    examples: Iterator[Example], batch_size: int, input_length: int, target_length: int
) -> Iterator[Batch]:
    """Next-fit packing: an example goes into the current row if both its trimmed sides fit, else it opens the next.

    Why next fit: it keeps the stream order (segments are consecutive examples), needs no look-ahead, and a batch
    boundary resets all state, so restarting the stream at the first example of a batch reproduces that batch.
    """
    pending: list[tuple[np.ndarray, np.ndarray, int]] = []  # (inputs, targets, row) of the current batch's examples
    row = used_inputs = used_targets = 0
    for example in examples:
        inputs, targets = example["inputs"], example["targets"]
        num_inputs, num_targets = min(len(inputs), input_length), min(len(targets), target_length)
        if used_inputs + num_inputs > input_length or used_targets + num_targets > target_length:
            row, used_inputs, used_targets = row + 1, 0, 0
            if row == batch_size:
                yield _packed_batch(pending, batch_size, input_length, target_length)
                pending, row = [], 0
        pending.append((inputs, targets, row))
        used_inputs += num_inputs
        used_targets += num_targets
    if pending:
        yield _packed_batch(pending, batch_size, input_length, target_length)


def _packed_batch(
    pending: list[tuple[np.ndarray, np.ndarray, int]], batch_size: int, input_length: int, target_length: int
) -> Batch:
    inputs, targets, rows = zip(*pending, strict=True)
    row_of = np.array(rows)
    # Examples of a row are consecutive, so an example's segment id is its index minus its row's first index, + 1.
    segment_of = np.arange(len(row_of)) - np.searchsorted(row_of, row_of) + 1
    encoder = _Rows(inputs, input_length, row_of, batch_size)
    decoder = _Rows(targets, target_length, row_of, batch_size)
    decoder_tokens = decoder.tokens(target_length)
    decoder_segments = decoder.per_token(segment_of, target_length)
    return {
        "encoder_input_tokens": encoder.tokens(input_length),
        "decoder_input_tokens": shift_right(decoder_tokens, decoder_segments),
        "decoder_target_tokens": decoder_tokens,
        "decoder_loss_weights": (decoder_tokens != 0).astype(np.int32),
        "encoder_segment_ids": encoder.per_token(segment_of, input_length),
        "decoder_segment_ids": decoder_segments,
        "encoder_positions": encoder.positions(input_length),
        "decoder_positions": decoder.positions(target_length),
    }


def _offsets_within(lengths: np.ndarray) -> np.ndarray:
    """For sequences of `lengths` concatenated: each token's index inside its own sequence."""
    starts = np.cumsum(lengths, dtype=np.int32) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int32) - np.repeat(starts, lengths)


class _Rows:
    """Sequences trimmed to `limit` and written left-aligned, back to back, into the rows of a [num_rows, width]
    int32 array: sequence i goes to row `row_of[i]` (non-decreasing), after the earlier sequences of that row.

    Why a mask: the filled prefixes of the rows, read in row-major order, hold exactly the concatenated trimmed
    sequences, so one boolean-mask assignment writes a whole batch.
    """

    def __init__(self, sequences: Sequence[np.ndarray], limit: int, row_of: np.ndarray, num_rows: int) -> None:
        lengths = np.fromiter(map(len, sequences), dtype=np.int32, count=len(sequences))
        if not lengths.all():
            raise SynptError(
                "an example has empty inputs or targets; every example must end with EOS (id 1), "
                "see docs/architecture.md (tasks -> data)"
            )
        flat = np.concatenate(sequences)
        if lengths.max() > limit:  # trim the over-long ones; they lose their EOS (reference quirk 17)
            flat = flat[_offsets_within(lengths) < limit]
            lengths = np.minimum(lengths, limit)
        self.lengths, self.flat = lengths, flat
        self.row_lengths = np.bincount(row_of, weights=lengths, minlength=num_rows).astype(np.int32)
        self._masks: dict[int, np.ndarray] = {}

    def _fill(self, values: np.ndarray, width: int) -> np.ndarray:
        if width not in self._masks:
            self._masks[width] = np.arange(width) < self.row_lengths[:, None]
        out = np.zeros((len(self.row_lengths), width), dtype=np.int32)
        out[self._masks[width]] = values
        return out

    def tokens(self, width: int) -> np.ndarray:
        return self._fill(self.flat, width)

    def positions(self, width: int) -> np.ndarray:
        return self._fill(_offsets_within(self.lengths), width)

    def per_token(self, per_sequence: np.ndarray, width: int) -> np.ndarray:
        """Broadcast one value per sequence to all of its tokens (e.g. segment ids)."""
        return self._fill(np.repeat(per_sequence, self.lengths), width)
