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

    # The architecture: no defaults, so that each one is stated once, in PRESETS (or a checkpoint's config.json).
    vocab_size: int
    d_model: int
    num_heads: int
    head_dim: int
    num_encoder_layers: int
    num_decoder_layers: int
    d_ff: int
    feed_forward: str
    tie_embeddings: bool
    # Settings every architecture shares unless told otherwise.
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
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise SynptError(f"T5Config lacks {missing}: a config needs the whole architecture ({', '.join(required)})")
        return cls(**values)


# T5-small (T5 1.0, reference §3.1), the model of every paper experiment; the other presets are changes to it.
_T5_SMALL = T5Config(
    vocab_size=32128,
    d_model=512,
    num_heads=8,
    head_dim=64,
    num_encoder_layers=6,
    num_decoder_layers=6,
    d_ff=2048,
    feed_forward="relu",
    tie_embeddings=True,
)
_TINY = dict(d_model=128, num_heads=4, head_dim=32, num_encoder_layers=2, num_decoder_layers=2, d_ff=512)
_T5_1_1 = dict(feed_forward="gated-gelu", tie_embeddings=False)  # T5 1.1: gated-GELU MLP, untied output layer

PRESETS: dict[str, T5Config] = {
    "tiny": dataclasses.replace(_T5_SMALL, **_TINY),
    "tiny_1_1": dataclasses.replace(_T5_SMALL, **_TINY, **_T5_1_1),
    "t5_small": _T5_SMALL,
    "t5_1_1_small": dataclasses.replace(
        _T5_SMALL, **_T5_1_1, num_heads=6, num_encoder_layers=8, num_decoder_layers=8, d_ff=1024, dtype="bfloat16"
    ),
    "t5_base": dataclasses.replace(
        _T5_SMALL, d_model=768, num_heads=12, head_dim=64, num_encoder_layers=12, num_decoder_layers=12, d_ff=3072
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
