"""Padding waste and host throughput of fixed / bucket / pack batching on Set-like pre-training data.

Measured side by side in one run on the same examples: the fraction of real (non-pad) tokens, the padded tokens
and T5-small training FLOPs spent per example (reference §8.1 formula applied to the measured batch shapes; packed
rows pay attention over the whole row), the number of distinct batch shapes jit would compile, and batches/s and
examples/s of the host-side batching alone per CPU second of this process (examples are generated before timing).

Run: .venv/bin/python benchmarks/bench_batching.py [--examples 25600] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from synpt.data.batching import batches, count_examples


def set_examples(count: int, seed: int) -> tuple[list[dict[str, np.ndarray]], str]:
    """The real Set task stream when synpt.synthetic.simple exists, else a stand-in with its length distribution."""
    try:
        from synpt.catalog import get_task

        stream = get_task("set").examples("train", seed=seed)
        return [next(stream) for _ in range(count)], "synpt.tasks get_task('set') train stream"
    except Exception as error:  # any failure (task missing, data absent) falls back to the documented stand-in
        reason = f"{type(error).__name__}: {error}"
    # Reference §2.6.1 / §2.8: input = prefix [356] + 32099 + L tokens (L ~ U{10..220}) + EOS; the target is the
    # k distinct run symbols (k ~ U{1..L}) + EOS.
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        length = int(rng.integers(10, 221))
        runs = int(rng.integers(1, length + 1))
        body = rng.integers(2, 32000, size=length, dtype=np.int32)
        inputs = np.concatenate([np.array([356, 32099], np.int32), body, np.array([1], np.int32)])
        targets = np.append(rng.integers(2, 32000, size=runs, dtype=np.int32), np.int32(1))
        examples.append({"inputs": inputs, "targets": targets})
    return examples, f"stand-in with the Set length distribution (real task unavailable: {reason})"


def t5_small_train_flops(input_width: int, target_width: int) -> float:
    """Reference §8.1: matmul FLOPs of one T5-small training row of the given padded widths."""
    n_enc, n_dec, d_inner, layers = 22.0e6, 38.5e6, 512, 6
    dense = 6 * (n_enc * input_width + n_dec * target_width)
    attention = 12 * d_inner * layers * (input_width**2 + target_width**2 + input_width * target_width)
    return dense + attention


def padding_statistics(examples, **options) -> dict[str, float]:
    """Real-token share, padded tokens and FLOPs per example, and distinct shapes of one batching configuration."""
    result = list(batches(examples, **options))
    counted = sum(count_examples(batch) for batch in result)
    assert counted == len(examples), (counted, len(examples))
    real = padded = 0
    flops = 0.0
    shapes = set()
    for batch in result:
        encoder, decoder = batch["encoder_input_tokens"], batch["decoder_target_tokens"]
        real += np.count_nonzero(encoder) + np.count_nonzero(decoder)
        padded += encoder.size + decoder.size
        flops += encoder.shape[0] * t5_small_train_flops(encoder.shape[1], decoder.shape[1])
        shapes.add((encoder.shape[1], decoder.shape[1]))
    return {
        "batches": len(result),
        "real_fraction": real / padded,
        "tokens_per_example": padded / len(examples),
        "gflop_per_example": flops / len(examples) / 1e9,
        "shapes": len(shapes),
    }


def cpu_seconds(examples, **options) -> float:
    """CPU time of this process to batch all examples (robust to other processes sharing the cores)."""
    start = time.process_time()
    for _ in batches(examples, **options):
        pass
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=128 * 200, help="Set examples to batch (default 25600)")
    parser.add_argument("--batch-size", type=int, default=128, help="rows per batch (default 128)")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats; the best is reported (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    examples, source = set_examples(args.examples, args.seed)
    inputs = np.array([len(ex["inputs"]) for ex in examples])
    targets = np.array([len(ex["targets"]) for ex in examples])
    print(f"data: {len(examples)} examples from {source}")
    print(
        f"input length min/mean/max {inputs.min()}/{inputs.mean():.1f}/{inputs.max()}, "
        f"target {targets.min()}/{targets.mean():.1f}/{targets.max()} (EOS included)"
    )
    print(f"batch size {args.batch_size}; best of {args.repeats} interleaved timings of the host-side batching\n")

    configurations = [
        ("fixed 512/512 (reference)", {"padding": "fixed"}, (512, 512)),
        ("bucket 512/512", {"padding": "bucket"}, (512, 512)),
        ("bucket 512/512 sort_window=16", {"padding": "bucket", "sort_window": 16}, (512, 512)),
        ("pack 512/512", {"padding": "pack"}, (512, 512)),
        ("fixed 256/256", {"padding": "fixed"}, (256, 256)),
        ("bucket 256/256", {"padding": "bucket"}, (256, 256)),
        ("pack 256/256", {"padding": "pack"}, (256, 256)),
        ("pack 512/256", {"padding": "pack"}, (512, 256)),
    ]
    options = [
        {"batch_size": args.batch_size, "input_length": lengths[0], "target_length": lengths[1], **mode}
        for _, mode, lengths in configurations
    ]
    # Timings are interleaved round-robin and the best of `repeats` is kept, so load changes hit every mode alike.
    timings: list[list[float]] = [[] for _ in options]
    for _ in range(args.repeats):
        for option, times in zip(options, timings, strict=True):
            times.append(cpu_seconds(examples, **option))
    seconds = [min(times) for times in timings]
    header = (
        f"{'mode':32s} {'real tok':>8s} {'tok/ex':>7s} {'GFLOP/ex':>8s} {'vs ref':>6s} {'shapes':>6s} "
        f"{'batches':>7s} {'batch/s':>8s} {'ex/s':>9s}"
    )
    print(header)
    print("-" * len(header))
    reference_flops = None
    for (name, _, _), option, best in zip(configurations, options, seconds, strict=True):
        row = padding_statistics(examples, **option)
        reference_flops = reference_flops or row["gflop_per_example"]
        print(
            f"{name:32s} {row['real_fraction']:8.1%} {row['tokens_per_example']:7.1f} "
            f"{row['gflop_per_example']:8.1f} {reference_flops / row['gflop_per_example']:5.2f}x {row['shapes']:6d} "
            f"{row['batches']:7d} {row['batches'] / best:8.1f} {len(examples) / best:9.0f}"
        )
    print(
        "\nreal tok = non-pad share of encoder+decoder tokens; tok/ex and GFLOP/ex = padded tokens and T5-small "
        "training FLOPs (reference §8.1) per example; vs ref = FLOP saving over fixed 512/512; "
        "batch/s and ex/s = host batching throughput per CPU second (process time, best of the repeats)."
    )


if __name__ == "__main__":
    main()
