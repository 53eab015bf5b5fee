"""Generation speed of the two corpus tasks (nonsense_summary, nesting_language), side by side with naive baselines.

Measured in one run, single process, per CPU second of this process:

* nonsense summary: documents/s of synpt's generator vs a reference-style generator (the authors' data flow:
  `np.random.choice` over the 5,000-word Python list per sentence, every transform re-splitting and re-joining
  sentence strings); tokenized examples/s with the byte vocabulary and, when the data dir has it, the T5
  vocabulary, plus the T5 token lengths (how many articles exceed 512 tokens and get trimmed);
* nesting language: sentences/s of the vectorized sampler vs a per-sentence Python stack sampler, and
  span-corrupted train examples/s (512 -> 568 raw tokens) of the task stream;
* `write_dataset` lines/s for both tasks.

Run: .venv/bin/python benchmarks/bench_generate_corpora.py [--docs 2000] [--sentences 100000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time

import numpy as np

from synpt.catalog import get_task
from synpt.errors import SynptError
from synpt.synthetic import nesting, nonsense


def rate(count: int, fn) -> float:
    """Items per CPU second of this process (other processes on a shared machine do not distort it)."""
    start = time.process_time()
    fn()
    return count / (time.process_time() - start)


# -- reference-style baselines -------------------------------------------------------------------------------------


def reference_style_document(words: list[str]) -> tuple[str, str]:
    """The authors' data flow: sentence strings, per-sentence np.random.choice over a list, split/join per step."""
    num_sentences = max(1, 10 + np.random.randint(-3, 4))
    lines = [" ".join(np.random.choice(words, (max(1, 10 + np.random.randint(-5, 6)),), replace=True)) + " ."
             for _ in range(num_sentences)]  # fmt: skip
    chosen = np.random.choice(list(nonsense.TRANSFORMS.values()), size=(3,), replace=False)
    rng = np.random.default_rng(np.random.randint(2**31))
    for transform in chosen:
        doc = nonsense.parse_document(lines)
        try:
            transform.modify(rng, doc)
        except nonsense.NotApplicable:
            return reference_style_document(words)
        lines = [" ".join(s) for s in doc]
    summary = []
    for transform in chosen:
        summary.extend(transform.summarize(rng, nonsense.parse_document(lines)))
    return " ".join(lines), " ".join(summary)


def python_stack_sentence(num_heads: int, cum_weights: list[float]) -> list[int]:
    """One nesting sentence with Python's `random`, one token at a time."""
    length = random.choices(nesting.SENTENCE_LENGTHS.tolist(), weights=nesting.SENTENCE_LENGTH_PROBS.tolist())[0]
    pairs = length // 2 + (length % 2) * random.randint(0, 1)
    heads = random.choices(range(num_heads), cum_weights=cum_weights, k=pairs)
    out, stack, used = [], [], 0
    while used < pairs or stack:
        if used < pairs and (not stack or random.random() < nesting.OPEN_PROBABILITY):
            stack.append(heads[used])
            out.append(2 + heads[used])
            used += 1
        else:
            out.append(2 + num_heads + stack.pop())
    return out


# -- measurements --------------------------------------------------------------------------------------------------


def bench_nonsense(docs: int, data_dir: str | None) -> None:
    print(f"nonsense_summary ({docs} documents)")
    ours = rate(docs, lambda: [nonsense.make_example(nonsense.example_rng(0, 0, i)) for i in range(docs)])
    np.random.seed(0)
    words = nonsense.nonsense_words()
    naive_count = max(docs // 4, 50)
    naive = rate(naive_count, lambda: [reference_style_document(words) for _ in range(naive_count)])
    print(f"  synpt generator           {ours:10.0f} docs/s   ({1e6 / ours:7.0f} us/doc)")
    print(f"  reference-style generator {naive:10.0f} docs/s   ({1e6 / naive:7.0f} us/doc)   ratio {ours / naive:.1f}x")
    task = get_task("nonsense_summary")
    byte_rate = rate(docs, lambda: list(itertools.islice(task.with_options(vocab="bytes").examples("train"), docs)))
    print(f"  tokenized examples, bytes {byte_rate:10.0f} ex/s")
    try:
        examples = []
        t5_rate = rate(docs, lambda: examples.extend(itertools.islice(task.examples("train", data_dir=data_dir), docs)))
    except SynptError as err:
        print(f"  tokenized examples, T5    skipped ({err})")
        return
    inputs = np.array([len(e["inputs"]) for e in examples])
    targets = np.array([len(e["targets"]) for e in examples])
    print(f"  tokenized examples, T5    {t5_rate:10.0f} ex/s")
    print(
        f"  T5 lengths (with EOS): inputs mean {inputs.mean():.0f} max {inputs.max()} "
        f"(> 512: {np.mean(inputs > 512):.1%}); targets mean {targets.mean():.0f} max {targets.max()} "
        f"(> 512: {np.mean(targets > 512):.1%})"
    )


def bench_nesting(sentences: int) -> None:
    print(f"nesting_language ({sentences} sentences)")
    language = nesting.NestingLanguage()
    rng = np.random.default_rng(0)
    ours = rate(sentences, lambda: language.sentences(rng, sentences))
    random.seed(0)
    cum_weights = np.cumsum(language.head_probs).tolist()
    naive_count = max(sentences // 10, 100)
    naive = rate(
        naive_count, lambda: [python_stack_sentence(language.num_heads, cum_weights) for _ in range(naive_count)]
    )
    print(f"  vectorized sampler        {ours:10.0f} sentences/s")
    print(f"  per-sentence Python stack {naive:10.0f} sentences/s   ratio {ours / naive:.1f}x")
    task = get_task("nesting_language")
    chunks = max(sentences // 50, 256)
    train = rate(chunks, lambda: list(itertools.islice(task.examples("train", seed=0), chunks)))
    print(f"  span-corrupted train examples (512/114) {train:10.0f} ex/s   ({train * 568:.0f} raw tokens/s)")


def bench_write(docs: int, sentences: int) -> None:
    print("write_dataset (1 worker)")
    with tempfile.TemporaryDirectory() as root:
        task = get_task("nonsense_summary")
        per_s = rate(docs, lambda: task.write_dataset(root, num_train=docs, num_valid=0, seed=0, progress=False))
        print(f"  nonsense_summary {per_s:10.0f} lines/s")
        task = get_task("nesting_language")
        per_s = rate(
            sentences, lambda: task.write_dataset(root, num_train=sentences, num_valid=0, seed=0, progress=False)
        )
        print(f"  nesting_language {per_s:10.0f} lines/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="nonsense documents per measurement")
    parser.add_argument("--sentences", type=int, default=100_000, help="nesting sentences per measurement")
    parser.add_argument("--data-dir", help="data directory with vocab/t5_spiece.model (default: $SYNPT_DATA_DIR)")
    args = parser.parse_args()
    bench_nonsense(args.docs, args.data_dir)
    bench_nesting(args.sentences)
    bench_write(args.docs, args.sentences)


if __name__ == "__main__":
    main()
