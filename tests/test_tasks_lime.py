"""LIME: structure of the three modes, sizes (reference §2.9), the equal-rate mixture, files and symbol mapping."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from synpt.tasks import get_task
from synpt.tasks.lime import CLOSE, COLON, LOWER, MATH, MODES, OPEN, SEP, UPPER
from synpt.tasks.sampling import Ragged

# mode: ((input min, mean, max), (target min, mean, max)) of the reference's 20k samples
REFERENCE_SIZES = {
    "induct": ((74, 137, 206), (11, 20, 29)),
    "deduct": ((68, 105, 139), (17, 52, 98)),
    "abduct": ((79, 124, 179), (6, 32, 58)),
}


def _parse_header(ids: list[int]):
    assert ids[0] == UPPER
    lower_at, math_at = ids.index(LOWER), ids.index(MATH)
    used = ids[1:lower_at]
    lowers, maths = ids[lower_at + 1 : math_at], ids[math_at + 1 : math_at + 21]
    assert ids[math_at + 21] == SEP
    return used, lowers, maths, ids[math_at + 22 :]


def _parse_substitution(ids: list[int]) -> dict[int, list[int]]:
    out, i = {}, 0
    while i < len(ids):
        var = ids[i]
        assert ids[i + 1 : i + 3] == [COLON, OPEN]
        end = ids.index(CLOSE, i)
        out[var] = ids[i + 3 : end]
        i = end + 1
    return out


def _apply(pattern, substitution):
    return [s for t in pattern for s in substitution.get(t, [t])]


@pytest.mark.parametrize("mode", MODES)
def test_modes_are_consistent_substitutions(mode):
    inputs, targets = get_task("lime").generate_block(0, seed=1, part=mode)
    for ids, target in list(zip(inputs.tolists(), targets.tolists(), strict=True))[:300]:
        used, lowers, maths, body = _parse_header(ids)
        assert len(lowers) == 24 and len(set(used)) == len(used) and 1 <= len(used) <= 5
        assert len(set(lowers + maths + used)) == len(lowers) + len(maths) + len(used)
        first, second = body[: body.index(SEP)], body[body.index(SEP) + 1 :]
        if mode == "induct":
            substitution, pattern, result = _parse_substitution(second), target, first
        elif mode == "deduct":
            substitution, pattern, result = _parse_substitution(second), first, target
        else:
            substitution, pattern, result = _parse_substitution(target), first, second
        assert list(substitution) == used  # entries in the header's variable order
        assert set(used) == {t for t in pattern if t not in maths}
        assert _apply(pattern, substitution) == result
        assert all(2 <= len(v) <= 8 and set(v) <= set(lowers + maths) for v in substitution.values())


@pytest.mark.parametrize("mode", MODES)
def test_sizes_match_reference(mode):
    blocks = [get_task("lime").generate_block(b, seed=2, part=mode) for b in range(3)]
    inputs, targets = Ragged.stack([b[0] for b in blocks]), Ragged.stack([b[1] for b in blocks])
    (in_min, in_mean, in_max), (tg_min, tg_mean, tg_max) = REFERENCE_SIZES[mode]
    assert abs(inputs.lengths.mean() - in_mean) < 2.5 and abs(targets.lengths.mean() - tg_mean) < 1.5
    assert in_min - 5 <= inputs.lengths.min() and inputs.lengths.max() <= in_max + 10
    assert tg_min <= targets.lengths.min() and targets.lengths.max() <= tg_max + 5


def test_mixture_is_round_robin_over_modes():
    task = get_task("lime")
    stream = task.examples("train", seed=4)
    examples = [next(stream) for _ in range(9)]
    for i, example in enumerate(examples):
        inputs, targets = task.generate_block(0, seed=4, part=MODES[i % 3])
        assert example["inputs"].tolist() == [*inputs.row(i // 3).tolist(), 1]
        assert example["targets"].tolist() == [*targets.row(i // 3).tolist(), 1]
    assert task.family == "lime" and task.parts == MODES


def test_length_range_option_rejects_long_examples():
    inputs, targets = get_task("lime").with_options(length_range=(0, 120)).generate_block(0, part="induct")
    assert inputs.lengths.max() <= 120


def test_write_dataset_and_symbol_mapping_detection(tmp_path, caplog):
    task = get_task("lime")
    manifest = task.write_dataset(tmp_path, num_train=30, num_valid=6, seed=0, progress=False)
    assert set(manifest["counts"]) == set(MODES)
    folder = tmp_path / "pretraining_data" / "lime"
    with caplog.at_level(logging.INFO, logger="synpt.tasks.lime"):
        stream = task.with_options(source="files").examples("train", data_dir=tmp_path)
        first = next(stream)
    assert "32000..32006" in caplog.text and first["inputs"][0] == UPPER
    # An older reference revision used 31900..31906: detected and logged, ids left as they are.
    for mode in MODES:
        for split in ("train", "valid"):
            path = folder / f"{mode}_{split}.txt"
            text = path.read_text()
            for new in range(COLON, CLOSE + 1):
                text = text.replace(f"{new}", f"{new - 100}")
            path.write_text(text)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="synpt.tasks.lime"):
        valid = list(task.examples("validation", data_dir=tmp_path))
    assert "31900..31906" in caplog.text
    assert len(valid) == 18 and valid[0]["inputs"][0] == UPPER - 100
    assert not np.any(valid[0]["inputs"] >= 32000)
