"""Generation speed: `synpt generate`'s path vs a naive reference-style generator, measured side by side.

For every simple task (and LIME) this prints examples/s of
  * fast:   `task.write_dataset` into a temporary directory (C kernels, formatting, dedup, atomic files), with each
            `--workers` value (default 1 and 2 threads: one core, and the two cores of the CI-size machine),
  * naive:  a per-example pure-Python generator written the reference's way (Python `random` + numpy's global RNG,
            one example at a time, the oracle target function, `str(list)` lines, dedup by input string),
and the ratios fast / naive (the naive generator is one process, like the reference's). It then prints the
streaming rates of `identity`: the block-level stream (ragged numpy arrays, what a data loader can consume) and
the per-example `examples()` iterator. With no `--tasks`, it ends with
nonsense_summary and nesting_language against their own naive baselines (benchmarks/bench_generate_corpora.py).

Files go to a temporary folder in /dev/shm when it exists (`--tmp-dir` to change): both generators write the same
bytes, and on a disk the kernel's writeback stalls add seconds of noise that belong to neither.

    .venv/bin/python benchmarks/bench_generate.py
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import bench_generate_corpora
import numpy as np

from synpt.catalog import get_task, task_names
from synpt.synthetic.lime import MODES
from synpt.synthetic.sampling import BLOCK_SIZE
from synpt.synthetic.simple import BINARY_DIVIDER, ORACLES, WORD_DIVIDER

LO, HI = 10, 220
POOL = list(range(2, 32000))


# -- the naive generator, one example at a time (reference style) -------------------------------------------------
def toks(n):
    return [random.choice(POOL) for _ in range(n)]


def partition(n, k):
    return np.random.multinomial(n, [1 / k] * k)


def run_sequence(length, k, symbols, shuffle):
    seq = []
    for run in partition(length - k, k) + 1:
        seq += [random.choice(symbols)] * int(run)
    if shuffle:
        random.shuffle(seq)
    return seq


def naive_sample(generator: str):
    """One sample of the reference's sampler for `generator` (unary: list; binary: (arg1, arg2))."""
    if generator in ("copy", "reverse", "duplicate", "first_char", "last_char", "length"):
        return toks(random.randint(LO, HI))
    if generator in ("deduplicate", "set"):
        length = random.randint(LO, HI)
        return run_sequence(length, random.randint(1, length), POOL, generator == "set")
    if generator == "longest_word":
        w = random.randint(1, HI // 2)
        n = random.randint(max(LO - (w - 1), w), HI - (w - 1))
        out = []
        for i, size in enumerate(partition(n - w, w) + 1):
            out += ([WORD_DIVIDER] if i else []) + toks(int(size))
        return out
    if generator == "count":
        n, q = random.randint(LO - 2, HI - 2), random.choice(POOL)
        c = random.randint(0, n)
        seq = [q] * c + toks(n - c)
        random.shuffle(seq)
        return seq, [q]
    if generator == "replace":
        seq = toks(random.randint(LO - 3, HI - 3))
        return seq, [random.choice(sorted(set(seq))), random.choice(POOL)]
    if generator == "sort":
        m = random.randint(LO // 2, (HI - 1) // 2)
        order = toks(m)
        return run_sequence(random.randint(m, HI - 1 - m), m, order, True), order
    if generator in ("delete", "search"):
        while True:
            if random.random() < (0.75 if generator == "delete" else 0.5):
                q = random.randint(1, (HI - 1) // 3)
                s = random.randint(2 * q, HI - 1 - q)
                query, r = toks(q), random.randint(1, s // q)
                seq = []
                for i, size in enumerate(partition(s - r * q, r + 1)):
                    seq += ([] if i == 0 else query) + toks(int(size))
            elif random.random() < 0.01:
                q = random.randint(LO + 1, HI)
                seq, query = toks(random.randint(0, q - 1)), toks(q)
            else:
                s = random.randint(LO, HI)
                q = random.randint(LO, s)
                seq, query = toks(s), toks(q)
                while str(query)[1:-1] in str(seq):
                    seq, query = toks(s), toks(q)
            if LO <= len(seq) + 1 + len(query) <= HI:
                return seq, query
    total = random.randint(LO - 1, HI - 1)  # union, intersect, set differences
    n1 = random.randint(0, total)
    local = random.sample(POOL, total // 2)
    return [random.choice(local) for _ in range(n1)], [random.choice(local) for _ in range(total - n1)]


def naive_write(task, num: int, path: Path) -> None:
    generator, oracle = task.generator_name, ORACLES[task.generator_name]
    seen = set()
    with open(path, "w") as handle:
        for _ in range(num):
            sample = naive_sample(generator)
            args = sample if not task.binary else sample[0] + [BINARY_DIVIDER] + sample[1]
            line_input = str([*task.prefix, 32099, *args])
            if line_input in seen:
                continue
            seen.add(line_input)
            handle.write(f"{line_input}\t{oracle(sample) or [32096]}\n")


LIME_IDS = {":": 32000, "<sep>": 32001, "<UPPER>": 32002, "[": 32003, "<LOWER>": 32004, "<MATH>": 32005, "]": 32006}


def naive_lime_substitution(variables, lower, math):
    """A string of U{2..8} lower/math symbols per variable, and the text `var : [ ... ] , var : [ ... ]`."""
    substitution, text = {}, []
    for var in variables:
        string = random.choices(lower + math, k=random.randint(2, 8))
        substitution[var] = string
        text += [var, ":", "[", *string, "]", ","]
    return substitution, text[:-1]


def naive_lime_apply(variables, pattern, substitution):
    """The pattern with each variable replaced by its string, one variable at a time (as the reference does)."""
    out = pattern
    for var in variables:
        out = [s for t in out for s in (substitution[var] if t == var else [t])]
    return out


def naive_lime_example(mode: str, lo: int = 0, hi: int = 220) -> tuple[list[int], list[int]]:
    """One LIME example of `mode` the reference's way (§2.9): symbols as text, lengths counted on the text before
    its commas are stripped, whole-example rejection, then the text mapped to ids."""
    while True:
        vocab = list(POOL)  # the reference copies its token list for every example
        symbols = random.sample(vocab, 68)
        upper, lower, math = symbols[:24], symbols[24:48], symbols[48:]
        num_chars = random.randint(3, 5)
        pattern_length = random.choice(range(5, 20))
        pattern_chars = random.choices(upper[:num_chars], k=2 * num_chars)
        used = list(set(pattern_chars))
        pattern = pattern_chars + random.choices(math, k=pattern_length)
        random.shuffle(pattern)
        substitution, subst_text = naive_lime_substitution(used, lower, math)
        result = naive_lime_apply(used, pattern, substitution)
        unused, _ = naive_lime_substitution(used, lower, math)  # drawn and applied by the reference, never written
        naive_lime_apply(used, pattern, unused)
        header = " ".join(str(c) for c in ["<UPPER>", *used, "<LOWER>", *lower, "<MATH>", *math, "<sep>"])
        body, target = {
            "induct": (result + ["<sep>"] + subst_text, pattern),
            "deduct": (pattern + ["<sep>"] + subst_text, result),
            "abduct": (pattern + ["<sep>"] + result, subst_text),
        }[mode]
        source = header + " " + " ".join(str(c) for c in body)
        target = " ".join(str(c) for c in target)
        if lo <= len(source.split(" ")) <= hi and lo <= len(target.split(" ")) <= hi:
            break
    return tuple([LIME_IDS.get(w) or int(w) for w in text.replace(" ,", "").split(" ")] for text in (source, target))


def naive_lime_write(num: int, path: Path) -> None:
    """Reference-style LIME, one example at a time, the modes in turn, dedup by input string."""
    seen = set()
    with open(path, "w") as handle:
        for i in range(num):
            src, tgt = naive_lime_example(MODES[i % 3])
            line_input = str(src)
            if line_input in seen:
                continue
            seen.add(line_input)
            handle.write(f"{line_input}\t{tgt}\n")


# -- measurement --------------------------------------------------------------------------------------------------
REPEATS = 3


def rate(fn, count: int, clean: Path | None = None) -> float:
    """Best examples/s of REPEATS runs (the least disturbed by other processes on a shared machine).

    `clean` (a file or folder) is deleted before every run, untimed, so no run pays for freeing the previous
    run's output."""
    best = float("inf")
    for _ in range(REPEATS):
        if clean is not None and clean.exists():
            shutil.rmtree(clean) if clean.is_dir() else clean.unlink()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return count / best


def _default_tmp_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-examples", type=int, default=200_000, help="examples per task for the fast path")
    parser.add_argument("--naive-examples", type=int, default=2_000, help="examples per task for the naive path")
    parser.add_argument("--tasks", nargs="*", help="task names (default: the 18 simple tasks and lime)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="`generate --workers` values, one column each"
    )
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per measurement; the best is reported")
    parser.add_argument("--docs", type=int, default=2000, help="nonsense_summary documents per measurement")
    parser.add_argument("--sentences", type=int, default=100_000, help="nesting_language sentences per measurement")
    parser.add_argument("--data-dir", help="data directory with vocab/t5_spiece.model (default: $SYNPT_DATA_DIR)")
    parser.add_argument("--tmp-dir", default=_default_tmp_dir(), help="folder for the files (default: %(default)s)")
    args = parser.parse_args()
    globals()["REPEATS"] = args.repeats
    names = args.tasks or task_names("simple") + ["lime"]
    header = "".join(f" {f'fast, {w} thr':>14s} {'ratio':>7s}" for w in args.workers)
    print(f"{'task':18s} {'naive ex/s':>11s}{header}")
    with tempfile.TemporaryDirectory(dir=args.tmp_dir) as tmp:
        path, fast_dir = Path(tmp) / "naive.txt", Path(tmp) / "fast"
        for name in names:
            task = get_task(name)
            num, naive_num = args.num_examples, args.naive_examples
            if task.family == "lime":  # three parts, each `num` examples; the naive LIME is slow
                naive_num = max(naive_num // 10, 200)
            fast = {
                workers: rate(
                    lambda t=task, n=num, w=workers: t.write_dataset(  # 1 % slack: short inputs can repeat
                        fast_dir,
                        num_train=n - n // 100,
                        num_valid=10,
                        num_examples=n,
                        seed=0,
                        workers=w,
                        progress=False,
                    ),
                    num * len(task.parts),
                    fast_dir,
                )
                for workers in args.workers
            }
            if task.family == "lime":
                naive = rate(lambda n=naive_num: naive_lime_write(n, path), naive_num, path)
            else:
                naive = rate(lambda t=task, n=naive_num: naive_write(t, n, path), naive_num, path)
            columns = "".join(f" {f:14,.0f} {f / naive:6.1f}x" for f in fast.values())
            print(f"{name:18s} {naive:11,.0f}{columns}", flush=True)

    identity = get_task("identity")
    blocks = identity.blocks(seed=0)
    next(blocks)
    block_count = max(args.num_examples // BLOCK_SIZE, 50)
    block_rate = rate(lambda: [next(blocks) for _ in range(block_count)], block_count * BLOCK_SIZE)
    stream = identity.examples("train", seed=0)
    example_rate = rate(lambda: [next(stream) for _ in range(args.num_examples)], args.num_examples)
    print(f"identity stream: blocks {block_rate:,.0f} ex/s, examples() {example_rate:,.0f} ex/s (one core)")

    if not args.tasks:  # the two corpus tasks have their own baselines (benchmarks/bench_generate_corpora.py)
        bench_generate_corpora.bench_nonsense(args.docs, args.data_dir)
        bench_generate_corpora.bench_nesting(args.sentences)
        bench_generate_corpora.bench_write(args.docs, args.sentences)


if __name__ == "__main__":
    main()
