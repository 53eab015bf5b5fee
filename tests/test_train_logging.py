"""Run logging: metrics.jsonl events, TensorBoard event-file framing, MFU peaks, loss/accuracy sums."""

from __future__ import annotations

import json
import struct

import jax.numpy as jnp
import numpy as np
import pytest

from synpt.train.logging import RunLogger, _masked_crc32c, peak_flops_per_second
from synpt.train.losses import cross_entropy_sums, summarize


def read_records(path):
    """Parse TFRecord framing, checking both masked CRCs of every record."""
    data, records, offset = path.read_bytes(), [], 0
    while offset < len(data):
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[offset + 8 : offset + 12])[0] == _masked_crc32c(header)
        record = data[offset + 12 : offset + 12 + length]
        assert struct.unpack("<I", data[offset + 12 + length : offset + 16 + length])[0] == _masked_crc32c(record)
        records.append(record)
        offset += 16 + length
    return records


def test_crc32c_known_value():
    # CRC32C("123456789") = 0xE3069283 (RFC 3720); masked as TFRecord does.
    crc = 0xE3069283
    assert _masked_crc32c(b"123456789") == ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def test_run_logger_writes_jsonl_and_tensorboard(tmp_path):
    lines = []
    logger = RunLogger(tmp_path, echo=lines.append)
    logger.log("train", 10, {"loss": 1.5, "accuracy": 0.25})
    logger.log("eval", 10, {"loss": 1.25, "accuracy": 0.5})
    logger.close()
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert events == [
        {"event": "train", "step": 10, "loss": 1.5, "accuracy": 0.25},
        {"event": "eval", "step": 10, "loss": 1.25, "accuracy": 0.5},
    ]
    assert lines[0] == "train step 10 | loss 1.5 | accuracy 0.25"
    (event_file,) = (tmp_path / "tensorboard" / "eval").iterdir()
    records = read_records(event_file)
    assert b"brain.Event:2" in records[0]
    assert b"accuracy" in records[1] and struct.pack("<f", 0.5) in records[1]


def test_peak_flops_table():
    assert peak_flops_per_second("NVIDIA H100 80GB HBM3", "bfloat16") == 989e12
    assert peak_flops_per_second("NVIDIA H100 PCIe", "bfloat16") == 756e12
    assert peak_flops_per_second("NVIDIA A100-SXM4-80GB", "float32") == 156e12
    assert peak_flops_per_second("TPU v4", "float32") == 275e12
    assert peak_flops_per_second("cpu", "float32") is None


def test_loss_sums_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 7)).astype(np.float32)
    targets = np.array([[1, 4, 0], [2, 2, 6]])
    weights = (targets != 0).astype(np.float32)
    sums = {k: float(v) for k, v in cross_entropy_sums(jnp.asarray(logits), targets, weights, z_loss=1e-2).items()}
    log_z = np.log(np.exp(logits.astype(np.float64)).sum(-1))
    picked = np.take_along_axis(logits, targets[..., None], -1)[..., 0]
    z = 1e-2 * log_z**2
    assert sums["weight"] == 5
    assert sums["loss"] == pytest.approx(float(((log_z - picked + z) * weights).sum()), rel=1e-5)
    assert sums["z_loss"] == pytest.approx(float((z * weights).sum()), rel=1e-5)
    assert sums["correct"] == float(((logits.argmax(-1) == targets) * weights).sum())
    assert summarize(sums)["accuracy"] == sums["correct"] / 5
