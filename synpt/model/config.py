"""T5 model configurations: one frozen dataclass, the paper's presets, and a validated lookup.

Why a frozen dataclass: it is hashable, so jit-compiled functions can be cached per configuration, and it round-trips
through JSON (`to_dict` / `from_dict`) into checkpoints and run directories.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from synpt.errors import SynptError

FEED_FORWARD_KINDS = ("relu", "gated-gelu")
DTYPES = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class T5Config:
    """Hyper-parameters of a T5 encoder-decoder (reference §3.1).

    `feed_forward="relu"` with `tie_embeddings=True` is T5 1.0 (logits = h·Eᵀ/√d_model); `"gated-gelu"` with
    `tie_embeddings=False` is T5 1.1 (separate `decoder/logits_dense`, no scaling). `dtype` is the activation dtype;
    parameters, layer norms and logits always stay float32.
    """

    vocab_size: int = 32128
    d_model: int = 512
    num_heads: int = 8
    head_dim: int = 64
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    d_ff: int = 2048
    feed_forward: str = "relu"
    tie_embeddings: bool = True
    dropout_rate: float = 0.1
    shared_dropout: bool = True
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.feed_forward not in FEED_FORWARD_KINDS:
            raise SynptError(f"T5Config.feed_forward={self.feed_forward!r}: use one of {', '.join(FEED_FORWARD_KINDS)}")
        if self.dtype in ("float16", "fp16", "half"):
            raise SynptError(
                f"T5Config.dtype={self.dtype!r}: T5 activations overflow in float16 (the feed-forward outputs exceed "
                "65504 and become inf/NaN); use dtype='bfloat16' (same range as float32) or 'float32'"
            )
        if self.dtype not in DTYPES:
            raise SynptError(f"T5Config.dtype={self.dtype!r}: use one of {', '.join(DTYPES)}")
        for name in (
            "vocab_size",
            "d_model",
            "num_heads",
            "head_dim",
            "num_encoder_layers",
            "num_decoder_layers",
            "d_ff",
        ):
            if int(getattr(self, name)) < 1:
                raise SynptError(f"T5Config.{name}={getattr(self, name)!r} must be a positive integer")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise SynptError(f"T5Config.dropout_rate={self.dropout_rate!r} must be in [0, 1)")

    @property
    def inner_dim(self) -> int:
        """Width of the flattened attention heads (num_heads × head_dim)."""
        return self.num_heads * self.head_dim

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> T5Config:
        """Build from a dict (e.g. a checkpoint's config.json); unknown keys are a user error."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SynptError(f"unknown T5Config keys {unknown}; valid keys: {', '.join(sorted(known))}")
        return cls(**values)


_TINY = dict(d_model=128, num_heads=4, head_dim=32, num_encoder_layers=2, num_decoder_layers=2, d_ff=512)

PRESETS: dict[str, T5Config] = {
    "tiny": T5Config(**_TINY),
    "tiny_1_1": T5Config(**_TINY, feed_forward="gated-gelu", tie_embeddings=False),
    "t5_small": T5Config(),
    "t5_1_1_small": T5Config(
        num_heads=6,
        num_encoder_layers=8,
        num_decoder_layers=8,
        d_ff=1024,
        feed_forward="gated-gelu",
        tie_embeddings=False,
        dtype="bfloat16",
    ),
    "t5_base": T5Config(
        d_model=768, num_heads=12, head_dim=64, num_encoder_layers=12, num_decoder_layers=12, d_ff=3072
    ),
}


def get_config(name_or_config: str | T5Config, **overrides: Any) -> T5Config:
    """A preset by name (or a given config) with field overrides, e.g. `get_config("t5_small", dropout_rate=0.0)`."""
    if isinstance(name_or_config, T5Config):
        base = name_or_config
    elif name_or_config in PRESETS:
        base = PRESETS[name_or_config]
    else:
        raise SynptError(f"unknown model preset {name_or_config!r}; valid presets: {', '.join(PRESETS)}")
    known = {field.name for field in dataclasses.fields(T5Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SynptError(f"unknown T5Config override(s) {unknown}; valid keys: {', '.join(sorted(known))}")
    return dataclasses.replace(base, **overrides)
