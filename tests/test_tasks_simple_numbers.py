"""synpt/synthetic/number_ids.json holds the T5 SentencePiece ids of str(n), n = 0..4095 (reference §2.3).

The length/count tasks write a number as those ids; the table was generated once from the real T5 vocabulary, so
this test re-derives it from the vocabulary in ../shared (skipped when absent).
"""

from __future__ import annotations

import json
from importlib import resources

import sentencepiece as spm


def test_number_ids_table_matches_the_t5_vocabulary(t5_vocab_path):
    table = json.loads(resources.files("synpt.synthetic").joinpath("number_ids.json").read_text())["ids"]
    processor = spm.SentencePieceProcessor(model_file=str(t5_vocab_path))
    expected = []
    for n in range(4096):
        ids = processor.encode(str(n))
        expected.append(ids[1:] if ids[0] == 3 else ids)  # the bare "▁" piece (id 3) is dropped, as the reference does
    assert len(table) == 4096
    assert table == expected
