"""Nonsense summary (reference §2.10): the 16 transforms on hand-made documents, the generator, the task."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

from synpt.catalog import get_task, task_names
from synpt.errors import SynptError
from synpt.synthetic import corpora, nonsense
from synpt.synthetic.nonsense import TRANSFORMS

BASE = [
    "aaa baa caa daa eaa .",
    "faa gaa haa iaa jaa .",
    "kaa laa maa naa oaa .",
    "paa qaa raa saa taa .",
]


def doc_with(**edits: str):
    """BASE with some sentences replaced: doc_with(s1="faa __d3__keyword_4__ haa iaa jaa .")."""
    lines = list(BASE)
    for key, text in edits.items():
        lines[int(key[1:])] = text
    return nonsense.parse_document(lines)


def summary(name: str, doc, seed: int = 0) -> list[str]:
    return TRANSFORMS[name].summarize(np.random.default_rng(seed), doc)


def test_sixteen_transforms_in_authors_order():
    assert list(TRANSFORMS) == [
        "CopyKeywordOneSentence", "CopyKeywordMultipleSentences", "CopyKeywordMultipleSentencesShuffled",
        "CopyKeywordMultipleSentencesSorted", "CopyQuoted", "CopyBulleted", "ClassifyKeyword", "ReplaceClassKeyword",
        "MajorityKeyword", "TopicSegregation", "ThresholdNumber", "LargestNumber", "ParaphraseWords", "JoinClauses",
        "BreakClauses", "TruncateSentence",
    ]  # fmt: skip


def test_copy_keyword_one_sentence():
    doc = doc_with(s1="faa gaa __d3__keyword_4__ iaa jaa .")
    assert summary("CopyKeywordOneSentence", doc) == ["faa gaa __d3__keyword_4__ iaa jaa ."]


def test_copy_keyword_multiple_sentences_in_document_order():
    doc = doc_with(s0="aaa __d4__keyword_9__ caa daa eaa .", s2="__d4__keyword_1__ laa maa naa oaa .",
                   s3="paa qaa raa __d4__keyword_1__ taa .")  # fmt: skip
    assert summary("CopyKeywordMultipleSentences", doc) == [
        "aaa __d4__keyword_9__ caa daa eaa .",
        "__d4__keyword_1__ laa maa naa oaa .",
        "paa qaa raa __d4__keyword_1__ taa ."
    ]  # fmt: skip


def test_copy_keyword_multiple_sentences_shuffled():
    lines = ["aaa __d5__keyword_0__ caa daa eaa .", "faa __d5__keyword_1__ haa iaa jaa .",
             "kaa __d5__keyword_2__ maa naa oaa ."]  # fmt: skip
    doc = doc_with(s0=lines[0], s1=lines[1], s2=lines[2])
    orders = {tuple(summary("CopyKeywordMultipleSentencesShuffled", doc, seed)) for seed in range(40)}
    assert all(sorted(order) == sorted(lines) for order in orders)
    assert len(orders) == 6  # every permutation occurs


def test_copy_keyword_multiple_sentences_sorted_by_keyword():
    doc = doc_with(s0="aaa __d6__keyword_7__ caa daa eaa .", s1="faa gaa __d6__keyword_2__ iaa jaa .",
                   s3="paa qaa raa saa __d6__keyword_5__ .")  # fmt: skip
    assert summary("CopyKeywordMultipleSentencesSorted", doc) == [
        "faa gaa __d6__keyword_2__ iaa jaa .",
        "paa qaa raa saa __d6__keyword_5__ .",
        "aaa __d6__keyword_7__ caa daa eaa ."
    ]  # fmt: skip


def test_copy_quoted_adds_a_period_only_when_missing():
    inner = doc_with(s2="kaa __d7__begin_quote__ laa maa __d7__end_quote__ naa oaa .")
    assert summary("CopyQuoted", inner) == ["laa maa ."]
    to_end = doc_with(s2="kaa laa __d7__begin_quote__ maa naa oaa . __d7__end_quote__")
    assert summary("CopyQuoted", to_end) == ["maa naa oaa ."]


def test_copy_bulleted_drops_the_marker():
    doc = doc_with(s3="__d8__bullet__ paa qaa raa saa taa .")
    assert summary("CopyBulleted", doc) == ["paa qaa raa saa taa ."]


@pytest.mark.parametrize(("k", "polarity"), [(0, "positive"), (4, "positive"), (5, "negative"), (9, "negative")])
def test_classify_keyword(k, polarity):
    doc = doc_with(s2=f"kaa laa __d10__keyword_{k}__ naa oaa .")
    assert summary("ClassifyKeyword", doc) == [f"the keyword was {polarity} ."]


def test_replace_class_keyword():
    doc = doc_with(s0="aaa baa __d11__class_1_kw_2__ daa eaa .")
    assert summary("ReplaceClassKeyword", doc) == ["aaa baa __d11__class_1__ daa eaa ."]


def test_majority_keyword():
    doc = doc_with(s0="aaa __d12__keyword_1__ caa daa eaa .", s1="faa gaa __d12__keyword_2__ iaa jaa .",
                   s2="kaa laa maa __d12__keyword_2__ oaa .")  # fmt: skip
    assert summary("MajorityKeyword", doc) == ["The keyword 2 occurred more number of times ."]


def test_topic_segregation_lists_every_class_heading():
    doc = doc_with(s0="aaa __d13__class_2_kw_0__ caa daa eaa .", s2="kaa __d13__class_0_kw_1__ maa naa oaa .",
                   s3="paa qaa __d13__class_0_kw_2__ saa taa .")  # fmt: skip
    assert summary("TopicSegregation", doc) == [
        "section __d13__class_0__",
        "kaa __d13__class_0_kw_1__ maa naa oaa .",
        "paa qaa __d13__class_0_kw_2__ saa taa .",
        "section __d13__class_1__",
        "section __d13__class_2__", "aaa __d13__class_2_kw_0__ caa daa eaa .",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("n", "text"), [(49, "the number was below threshold ."), (50, "the number was above or equal to threshold .")]
)
def test_threshold_number(n, text):
    assert summary("ThresholdNumber", doc_with(s1=f"faa __d14__{n}__ haa iaa jaa .")) == [text]


def test_largest_number():
    doc = doc_with(
        s0="aaa __d16__7__ caa daa eaa .", s1="faa gaa __d16__42__ iaa jaa .", s3="__d16__13__ qaa raa saa taa ."
    )
    assert summary("LargestNumber", doc) == ["The largest number is 42 ."]


def test_paraphrase_words_uses_one_of_three_targets():
    doc = doc_with(s1="faa gaa __d18__src_3__ iaa jaa .")
    outputs = {summary("ParaphraseWords", doc, seed)[0] for seed in range(30)}
    assert outputs == {f"faa gaa __d18__target_3_{j}__ iaa jaa ." for j in range(3)}


def test_join_clauses():
    doc = doc_with(s0="aaa __d19__join_1__ caa daa eaa .", s2="kaa laa maa __d19__join_4__ oaa .")
    assert summary("JoinClauses", doc) == ["The combined sentence is __d19__join_1__ caa daa eaa __d19__join_4__ oaa ."]


def test_break_clauses_shares_the_prefix():
    doc = doc_with(s1="faa __d20__join_3__ haa __d20__join_0__ jaa .")
    assert summary("BreakClauses", doc) == ["faa __d20__join_3__ haa .", "faa __d20__join_0__ jaa ."]


def test_truncate_sentence():
    doc = doc_with(s3="paa qaa __d21__keyword_0__ saa taa .")
    assert summary("TruncateSentence", doc) == ["paa qaa ."]


def test_nonsense_words_are_base26_little_endian():
    words = nonsense.nonsense_words()
    assert words[:3] == ["aaa", "baa", "caa"] and words[26] == "aba" and words[676] == "aab"
    assert len(set(words)) == 5000 and words[-1] == "hkh"  # 4999 = 7 + 10 * 26 + 7 * 676


# Keyword-bearing sentences each transform must still find after all three modifications of a document.
EXPECTED_LINES = {
    "CopyKeywordOneSentence": {1}, "CopyKeywordMultipleSentences": {3}, "CopyKeywordMultipleSentencesShuffled": {3},
    "CopyKeywordMultipleSentencesSorted": {3}, "CopyQuoted": {1}, "CopyBulleted": {1}, "ClassifyKeyword": {1},
    "ReplaceClassKeyword": {1}, "MajorityKeyword": {3, 5}, "TopicSegregation": {2, 3, 4, 5}, "ThresholdNumber": {1},
    "LargestNumber": {1, 2, 3, 4}, "ParaphraseWords": {1}, "JoinClauses": {3}, "BreakClauses": {1},
    "TruncateSentence": {1},
}  # fmt: skip


def test_modifications_never_overwrite_each_other():
    names = list(TRANSFORMS)
    for seed in range(150):
        rng = np.random.default_rng(seed)
        doc = nonsense.random_document(rng)
        chosen = [names[i] for i in rng.choice(16, 3, replace=False)]
        nonsense.apply_transforms(rng, doc, [TRANSFORMS[n] for n in chosen])
        for name in chosen:
            hits = TRANSFORMS[name].found(doc)
            assert len(hits) in EXPECTED_LINES[name], (seed, name, hits)
            assert all(sentence[-1] == "." or "_" in sentence[-1] for sentence in doc)
        if "BreakClauses" in chosen:
            assert len(TRANSFORMS["BreakClauses"].found(doc)[0][1]) == 2


def test_transform_without_enough_suitable_sentences_asks_for_a_redraw():
    short = nonsense.parse_document(["aaa baa .", "__d4__keyword_0__ ."])  # the 2nd sentence has no free slot
    with pytest.raises(nonsense.NotApplicable):
        TRANSFORMS["CopyKeywordMultipleSentences"].modify(np.random.default_rng(0), short)
    TRANSFORMS["CopyKeywordOneSentence"].modify(np.random.default_rng(0), short)
    planted = [w for w in short[0][:2] if w.startswith("__d3__keyword_")]
    assert len(planted) == 1 and short[1] == ["__d4__keyword_0__", "."]  # never on '.' or a keyword


def test_documents_follow_the_size_rules():
    rng = np.random.default_rng(0)
    docs = [nonsense.random_document(rng) for _ in range(300)]
    assert {len(d) for d in docs} == set(range(7, 14))
    assert {len(s) - 1 for d in docs for s in d} == set(range(5, 16))
    assert all(s[-1] == "." for d in docs for s in d)


def test_examples_are_deterministic_by_seed_and_index():
    a = nonsense.make_example(nonsense.example_rng(1, 0, 5))
    assert a == nonsense.make_example(nonsense.example_rng(1, 0, 5))
    assert a != nonsense.make_example(nonsense.example_rng(2, 0, 5))
    assert a != nonsense.make_example(nonsense.example_rng(1, 1, 5))  # validation stream differs
    article, summary_text = a
    assert "\t" not in article + summary_text and article.endswith(".") and summary_text


# -- task ------------------------------------------------------------------------------------------------------------


def _take(task, split="train", n=6, **kwargs):
    return list(itertools.islice(task.examples(split, **kwargs), n))


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x["inputs"], y["inputs"]) and np.array_equal(x["targets"], y["targets"])
        for x, y in zip(a, b, strict=True)
    )


def test_registered_under_paper_name():
    assert "nonsense_summary" in task_names("corpus")
    assert get_task("nonsense_summary").family == "corpus"


def test_byte_vocab_examples_decode_to_text_with_eos(tmp_path):
    task = get_task("nonsense_summary").with_options(vocab="bytes")
    examples = _take(task, seed=3, data_dir=tmp_path)
    article, summary_text = nonsense.make_example(nonsense.example_rng(3, 0, 0))
    vocab = task.vocabulary()
    assert examples[0]["inputs"][-1] == 1 and examples[0]["targets"][-1] == 1
    assert vocab.decode(examples[0]["inputs"]) == article and vocab.decode(examples[0]["targets"]) == summary_text


def test_t5_vocab_tokenizes_at_load_time(shared_data_dir):
    task = get_task("nonsense_summary")
    (example,) = _take(task, n=1, seed=0, data_dir=shared_data_dir)
    article, _ = nonsense.make_example(nonsense.example_rng(0, 0, 0))
    assert task.vocabulary(shared_data_dir).decode(example["inputs"]) == article
    assert example["inputs"].dtype == np.int32 and example["inputs"].max() < 32000


def test_missing_t5_vocab_says_how_to_get_it(tmp_path):
    with pytest.raises(SynptError, match="synpt data download"):
        _take(get_task("nonsense_summary"), data_dir=tmp_path)


def test_resume_and_shards(tmp_path):
    task = get_task("nonsense_summary").with_options(vocab="bytes")
    full = _take(task, n=8, seed=1, data_dir=tmp_path)
    assert _same(full[5:], _take(task, n=3, seed=1, start=5, data_dir=tmp_path))
    assert _same(full[1::2], _take(task, n=4, seed=1, shard_index=1, shard_count=2, data_dir=tmp_path))


def test_write_dataset_then_files_match_the_stream(tmp_path):
    task = get_task("nonsense_summary").with_options(vocab="bytes")
    manifest = task.write_dataset(tmp_path, num_train=12, num_valid=4, seed=7, progress=False)
    folder = tmp_path / "pretraining_data" / "nonsense_summary"
    lines = (folder / "train.txt").read_text().splitlines()
    assert len(lines) == 12 and all(line.count("\t") == 1 for line in lines)
    assert manifest["counts"]["valid.txt"]["lines"] == 4
    assert json.loads((folder / "manifest.json").read_text())["seed"] == 7
    files = task.with_options(source="files")
    assert _same(_take(files, n=12, seed=7, data_dir=tmp_path), _take(task, n=12, seed=7))
    assert _same(list(files.examples("validation", data_dir=tmp_path)), _take(task, "validation", n=4, seed=7))
    # training from files cycles through the file
    assert _same(_take(files, n=14, seed=7, data_dir=tmp_path)[12:], _take(task, n=2, seed=7))


def test_parallel_write_is_identical(tmp_path, monkeypatch):
    monkeypatch.setattr(corpora, "_WRITE_BATCH", 2)  # several batches, made by two processes
    task = get_task("nonsense_summary").with_options(vocab="bytes")
    task.write_dataset(tmp_path / "a", num_train=5, num_valid=2, seed=1, progress=False)
    task.write_dataset(tmp_path / "b", num_train=5, num_valid=2, seed=1, workers=2, progress=False)
    relative = "pretraining_data/nonsense_summary/train.txt"
    assert (tmp_path / "a" / relative).read_text() == (tmp_path / "b" / relative).read_text()


def test_option_errors(tmp_path):
    with pytest.raises(SynptError, match="valid options: source, vocab"):
        get_task("nonsense_summary").with_options(length_range=(1, 2))
    with pytest.raises(SynptError, match="vocab"):
        get_task("nonsense_summary").with_options(vocab="gpt2")
    with pytest.raises(SynptError, match="synpt generate --task nonsense_summary"):
        _take(get_task("nonsense_summary").with_options(source="files", vocab="bytes"), data_dir=tmp_path)


def test_summary_sentences_end_with_period():
    for i in range(50):
        _, text = nonsense.make_example(nonsense.example_rng(0, 0, i))
        assert re.search(r"\.$", text)
