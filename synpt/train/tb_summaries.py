"""Protobuf wire encoding for TensorBoard events (logging.py's writer): fields, and the summaries beyond scalars,
text (decoded examples) and hparams.

Why hand-encoded: as for scalars, a text summary (a string tensor tagged for the "text" plugin) and the hparams
plugin's session-start record are a few protobuf fields, so TensorFlow and tensorboard stay out of the run's
dependencies. Field numbers follow tensorflow/core/framework/summary.proto, tensor.proto and the hparams plugin's
plugin_data.proto / api.proto.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    key = _varint((number << 3) | wire_type)
    return key + (_varint(len(payload)) + payload if wire_type == 2 else payload)


_DT_STRING = 7
HPARAMS_TAG = "_hparams_/session_start_info"


def _plugin_metadata(plugin_name: str, content: bytes = b"") -> bytes:
    """SummaryMetadata{plugin_data=1: PluginData{plugin_name=1, content=2}}."""
    return _field(1, 2, _field(1, 2, plugin_name.encode()) + _field(2, 2, content))


def text_value(tag: str, text: str) -> bytes:
    """One Summary.Value{tag=1, tensor=8 (a scalar string), metadata=9 (plugin "text")}; TensorBoard renders the
    string as markdown."""
    tensor = _field(1, 0, _varint(_DT_STRING)) + _field(2, 2, b"") + _field(8, 2, text.encode())
    return _field(1, 2, tag.encode()) + _field(8, 2, tensor) + _field(9, 2, _plugin_metadata("text"))


def _protobuf_value(value: Any) -> bytes:
    """google.protobuf.Value: number_value=2, string_value=3, bool_value=4 (anything else as its repr)."""
    if isinstance(value, bool):
        return _field(4, 0, _varint(int(value)))
    if isinstance(value, int | float):
        return _field(2, 1, struct.pack("<d", float(value)))
    return _field(3, 2, (value if isinstance(value, str) else repr(value)).encode())


def hparams_value(hparams: Mapping[str, Any], start_time: float) -> bytes:
    """The hparams plugin's session start: Summary.Value{tag, metadata: HParamsPluginData{session_start_info=3:
    SessionStartInfo{hparams=1 (map<string, Value>), start_time_secs=5}}}, with no tensor (as the plugin writes it).
    """
    entries = b"".join(
        _field(1, 2, _field(1, 2, key.encode()) + _field(2, 2, _protobuf_value(value)))
        for key, value in hparams.items()
    )
    session = entries + _field(5, 1, struct.pack("<d", start_time))
    return _field(1, 2, HPARAMS_TAG.encode()) + _field(9, 2, _plugin_metadata("hparams", _field(3, 2, session)))
