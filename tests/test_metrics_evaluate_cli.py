"""`synpt evaluate --task T --predictions F --references F` prints one JSON object of the task's metrics."""

from __future__ import annotations

import json

import pytest

from synpt.cli import main


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_evaluate_semantic_parsing(tmp_path, capsys):
    predictions = _write(tmp_path / "p.txt", ["a b c", "x", ""])
    references = _write(tmp_path / "r.txt", ["a b d", "x", "y"])
    assert main(["evaluate", "--task", "mtop", "--predictions", predictions, "--references", references]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == pytest.approx({"em": 100 / 3, "f1": 100 * (2 / 3 + 1 + 0) / 3})


def test_evaluate_squad_reads_answer_lists(tmp_path, capsys):
    predictions = _write(tmp_path / "p.txt", ["The Broncos", "Carolina"])
    references = _write(tmp_path / "r.txt", [json.dumps(["Denver Broncos", "Broncos"]), json.dumps(["Panthers"])])
    assert main(["evaluate", "--task", "squad", "--predictions", predictions, "--references", references]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx({"em": 50.0, "f1": 50.0})


def test_evaluate_rouge_and_g2p(tmp_path, capsys):
    same = _write(tmp_path / "s.txt", ["police arrested two men . they were released ."])
    assert main(["evaluate", "--task", "cnndm_10k", "--predictions", same, "--references", same]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx({"rouge1": 100.0, "rouge2": 100.0, "rougeLsum": 100.0})
    predictions = _write(tmp_path / "p.txt", ["K AE1 T"])
    references = _write(tmp_path / "r.txt", ["K AE1 T S"])
    assert main(["evaluate", "--task", "g2p", "--predictions", predictions, "--references", references]) == 0
    assert json.loads(capsys.readouterr().out)["per"] == pytest.approx(25.0)


def test_evaluate_user_errors(tmp_path, capsys):
    predictions = _write(tmp_path / "p.txt", ["a", "b"])
    references = _write(tmp_path / "r.txt", ["a"])
    assert main(["evaluate", "--task", "mtop", "--predictions", predictions, "--references", references]) == 2
    assert "has 2 lines" in capsys.readouterr().err
    assert main(["evaluate", "--task", "squad", "--predictions", references, "--references", references]) == 2
    assert "r.txt:1: expected a JSON list" in capsys.readouterr().err
    assert main(["evaluate", "--task", "nope", "--predictions", references, "--references", references]) == 2
    assert "unknown downstream task 'nope'" in capsys.readouterr().err
