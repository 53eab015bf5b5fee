"""Trackers: the TensorBoard text summaries (decoded examples) and hparams decode as TensorBoard's protobufs say;
W&B (optional) logs offline; an unknown or missing tracker is a one-line error."""

from __future__ import annotations

import struct
import sys

import pytest
from test_train_logging import read_records

from synpt.errors import SynptError
from synpt.train.gin_config import tracker_names
from synpt.train.tb_summaries import HPARAMS_TAG
from synpt.train.trackers import Trackers, markdown_table, open_trackers


def fields(message: bytes) -> dict[int, list]:
    """A protobuf message's fields by number: varints as int, fixed64/32 and length-delimited as bytes."""
    out: dict[int, list] = {}
    offset = 0

    def varint() -> int:
        nonlocal offset
        value = shift = 0
        while True:
            byte = message[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while offset < len(message):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        else:
            size = {1: 8, 5: 4}.get(wire) or varint()
            value, offset = message[offset : offset + size], offset + size
        out.setdefault(number, []).append(value)
    return out


def summary_values(event_file) -> list[tuple[int, dict]]:
    """(step, Summary.Value fields) of every summary value in an event file."""
    found = []
    for record in read_records(event_file)[1:]:
        event = fields(record)
        for value in fields(event[5][0])[1]:
            found.append((event[2][0], fields(value)))
    return found


def test_tensorboard_text_summary_and_hparams(tmp_path):
    rows = [{"input": "a | b", "prediction": "x\ny", "reference": "z"}]
    trackers = open_trackers("tensorboard", tmp_path, hparams={"TRAIN_STEPS": 5, "MODEL": "tiny", "PACK": False})
    trackers.text("inference", 10, "predictions", markdown_table(rows))
    trackers.close()

    ((step, value),) = summary_values(next((tmp_path / "tensorboard" / "inference").glob("events.*")))
    assert step == 10 and value[1] == [b"predictions"]
    plugin = fields(fields(value[9][0])[1][0])
    assert plugin[1] == [b"text"]
    tensor = fields(value[8][0])
    assert tensor[1] == [7]  # DT_STRING
    text = tensor[8][0].decode()
    assert text.splitlines() == ["| input | prediction | reference |", "|---|---|---|", "| a \\| b | x y | z |"]

    ((_, hparams),) = summary_values(next((tmp_path / "tensorboard").glob("events.*")))
    assert hparams[1] == [HPARAMS_TAG.encode()] and 8 not in hparams
    plugin = fields(fields(hparams[9][0])[1][0])
    assert plugin[1] == [b"hparams"]
    session = fields(fields(plugin[2][0])[3][0])
    entries = {fields(entry)[1][0].decode(): fields(fields(entry)[2][0]) for entry in session[1]}
    assert struct.unpack("<d", entries["TRAIN_STEPS"][2][0]) == (5.0,)
    assert entries["MODEL"][3] == [b"tiny"] and entries["PACK"][4] == [0]


def test_trackers_close_when_training_raises():
    closed = []

    class Recording:
        def close(self):
            closed.append(True)

    with pytest.raises(RuntimeError), Trackers([Recording()]) as trackers:
        raise RuntimeError("training failed")
    trackers.close()  # the logger may close again: harmless
    assert closed == [True]


def test_tracker_selection_is_checked():
    assert tracker_names("tensorboard, wandb,tensorboard") == ["tensorboard", "wandb"]
    assert tracker_names("none") == [] and tracker_names("") == []
    with pytest.raises(SynptError, match="tracker 'mlflow' is not known; choose from tensorboard, wandb"):
        tracker_names("tensorboard,mlflow")
    trackers = open_trackers("none", "unused")
    trackers.scalars("train", 1, {"loss": 1.0})  # no tracker: nothing written, nothing fails
    trackers.close()


def test_wandb_missing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    with pytest.raises(SynptError, match=r"pip install 'synpt\[wandb\]'"):
        open_trackers("wandb", tmp_path)


def test_wandb_offline_run_records_scalars_text_and_hparams(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_dir"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "wandb_dir").mkdir()
    trackers = open_trackers("wandb", tmp_path / "my_run", hparams={"TRAIN_STEPS": 5, "MODEL": "tiny_model"})
    trackers.scalars("train", 1, {"loss_value": 2.5})
    trackers.text("inference", 2, "predictions", markdown_table([{"input": "in", "prediction": "out"}]))
    trackers.close()
    wandb.teardown()  # W&B's service process writes the run file; stopping it flushes every record
    (run_dir,) = (tmp_path / "wandb_dir" / "wandb").glob("offline-run-*-my_run-*")
    (records,) = run_dir.glob("*.wandb")
    data = records.read_bytes()
    for token in (b"loss_value", b"predictions", b"TRAIN_STEPS", b"tiny_model"):
        assert token in data, token
