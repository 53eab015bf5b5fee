"""Run logging: one console line per log period, `metrics.jsonl`, the trackers (TensorBoard scalars), and MFU.

Why our own TensorBoard writer: scalar summaries need only the TFRecord framing (length + masked CRC32C) around a
tiny hand-encoded `Event` protobuf, so the run does not depend on TensorFlow, tensorboard or tensorboardX.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

from synpt.errors import SynptError
from synpt.train.tb_summaries import _field, _varint, hparams_value, text_value

# Dense peak FLOP/s per chip by precision (reference §8.2); matched by substring of `jax.Device.device_kind`.
# NVIDIA float32 matmuls run as TF32 on tensor cores (half the bf16 peak); TPUs run float32 matmuls in bf16 passes.
_PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("A100", 312e12),
    ("TPU v3", 123e12),
    ("TPU v4", 275e12),
)


def peak_flops_per_second(device_kind: str, dtype: str) -> float | None:
    """The device's peak FLOP/s at `dtype` ("bfloat16" or "float32"), or None when unknown (e.g. any CPU)."""
    for name, bf16 in _PEAK_BF16:
        if name.lower() in device_kind.lower():
            return bf16 if dtype == "bfloat16" or name.startswith("TPU") else bf16 / 2
    return None


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def _masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _event(wall_time: float, step: int, *, file_version: str | None = None, scalars: dict | None = None) -> bytes:
    """Encode a tensorflow.Event: wall_time=1 (double), step=2 (int64), file_version=3, summary=5."""
    out = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        out += _field(3, 2, file_version.encode())
    if scalars:
        values = b"".join(
            _field(1, 2, _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", float(v))))
            for tag, v in scalars.items()
        )
        out += _field(5, 2, values)
    return out


def tfrecord_frame(record: bytes) -> bytes:
    """One TFRecord: length, its masked CRC32C, the record, the record's masked CRC32C."""
    header = struct.pack("<Q", len(record))
    return header + struct.pack("<I", _masked_crc32c(header)) + record + struct.pack("<I", _masked_crc32c(record))


def read_tfrecords(data: bytes) -> list[bytes]:
    """The records of a TFRecord file's bytes, up to the first truncated or damaged one (a run killed mid-write)."""
    records, offset = [], 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        end = offset + 12 + length + 4
        if end > len(data):
            break
        record = data[offset + 12 : end - 4]
        if tfrecord_frame(record) != data[offset:end]:
            break
        records.append(record)
        offset = end
    return records


def event_step(record: bytes) -> int:
    """The step (field 2) of an encoded tensorflow.Event, as `_event` writes it (wall_time first, then step)."""
    value, shift, offset = 0, 0, 10  # 1 key byte + 8 bytes of wall_time, then the step's key byte
    while True:
        byte = record[offset]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift, offset = shift + 7, offset + 1


class TensorBoardWriter:
    """Append scalar summaries to `logdir/events.out.tfevents.<time>.<host>` (readable by TensorBoard)."""

    def __init__(self, logdir: Path):
        logdir.mkdir(parents=True, exist_ok=True)
        self.path = logdir / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        self._file = open(self.path, "ab")  # noqa: SIM115 (kept open for the run)
        self._write(_event(time.time(), 0, file_version="brain.Event:2"))

    def _write(self, record: bytes) -> None:
        self._file.write(tfrecord_frame(record))
        self._file.flush()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self._write(_event(time.time(), step, scalars=values))

    def summary(self, step: int, values: list[bytes]) -> None:
        """Append an Event of encoded Summary.Value messages (text, hparams: see tb_summaries.py)."""
        self._write(_event(time.time(), step) + _field(5, 2, b"".join(_field(1, 2, value) for value in values)))

    def close(self) -> None:
        self._file.close()


class TensorBoardTracker:
    """`RUN_DIR/tensorboard/<event>/` event files (one TensorBoard run per event: train, eval, inference) and the
    hparams in `RUN_DIR/tensorboard/` itself, which TensorBoard's HParams tab joins with the events below it."""

    def __init__(self, run_dir: Path):
        self.root = Path(run_dir) / "tensorboard"
        self._writers: dict[str, TensorBoardWriter] = {}

    def _writer(self, event: str) -> TensorBoardWriter:
        if event not in self._writers:
            self._writers[event] = TensorBoardWriter(self.root / event if event else self.root)
        return self._writers[event]

    def scalars(self, event: str, step: int, values: Mapping[str, float]) -> None:
        self._writer(event).scalars(step, dict(values))

    def text(self, event: str, step: int, name: str, markdown: str) -> None:
        self._writer(event).summary(step, [text_value(name, markdown)])

    def hparams(self, values: Mapping[str, Any]) -> None:
        self._writer("").summary(0, [hparams_value(values, time.time())])

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def format_line(event: str, step: int, values: dict[str, float]) -> str:
    """`step 100 | loss 1.234 | accuracy 0.512 | ...` with compact number formatting."""
    parts = [f"{event} step {step}"]
    for key, value in values.items():
        text = str(value)
        if isinstance(value, float):
            text = f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
        parts.append(f"{key} {text}")
    return " | ".join(parts)


METRICS_FILE = "metrics.jsonl"


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a `metrics.jsonl` (a file, or a run directory holding one), in file order.

    A truncated last line (a run killed mid-write) is ignored; any other malformed line is an error naming it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise SynptError(f"{path}: no metrics file; is this a run directory written by synpt pretrain/finetune?")
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                break
            raise SynptError(f"{path}:{number}: not a JSON line ({err}); the metrics file is corrupted") from None
    return records


class RunLogger:
    """Writes every event to `RUN_DIR/metrics.jsonl` and the run's trackers (trackers.py; default: TensorBoard in
    `RUN_DIR/tensorboard/<event>/`), and prints it. Only process 0 writes, so a multi-host run logs once.
    """

    def __init__(self, run_dir: Path, *, echo=print, trackers=None):
        self.enabled = jax.process_index() == 0
        self.echo = echo
        self.run_dir = Path(run_dir)
        self.trackers = trackers if trackers is not None else TensorBoardTracker(self.run_dir)
        if self.enabled:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(self.run_dir / METRICS_FILE, "a")  # noqa: SIM115

    def log(self, event: str, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps({"event": event, "step": step, **values}) + "\n")
        self._jsonl.flush()
        numeric = {k: v for k, v in values.items() if isinstance(v, int | float)}
        self.trackers.scalars(event, step, numeric)
        self.echo(format_line(event, step, values))

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
        self.trackers.close()
