"""Hugging Face `T5Config` <-> synpt `T5Config`, without JAX (planning a run reads a folder's config.json).

transformers 5 forces `T5Config.tie_word_embeddings=True` in its constructor and keeps the "untied" meaning only in
`scale_decoder_outputs`; an untied (T5 1.1) model is therefore built by setting `tie_word_embeddings=False` after
construction (`hf_config`), and the config.json written without transformers (`hf_config_dict`) carries both keys.
"""

from __future__ import annotations

from typing import Any

from synpt.errors import SynptError
from synpt.model.config import T5Config


def hf_config(config: T5Config) -> Any:
    """The `transformers.T5Config` equivalent to `config`."""
    import transformers

    hf = transformers.T5Config(
        vocab_size=config.vocab_size,
        d_model=config.d_model,
        d_kv=config.head_dim,
        d_ff=config.d_ff,
        num_layers=config.num_encoder_layers,
        num_decoder_layers=config.num_decoder_layers,
        num_heads=config.num_heads,
        relative_attention_num_buckets=config.relative_attention_num_buckets,
        relative_attention_max_distance=config.relative_attention_max_distance,
        dropout_rate=config.dropout_rate,
        layer_norm_epsilon=1e-6,
        feed_forward_proj=config.feed_forward,
        tie_word_embeddings=config.tie_embeddings,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    hf.tie_word_embeddings = config.tie_embeddings  # see the module docstring
    return hf


def config_from_hf(hf: Any) -> T5Config:
    """Our `T5Config` for a `transformers.T5Config` (or its config.json dict)."""
    values = hf if isinstance(hf, dict) else hf.to_dict()
    projection = values.get("feed_forward_proj", "relu")
    if projection not in ("relu", "gated-gelu"):
        raise SynptError(f"Hugging Face feed_forward_proj={projection!r} is not supported; use 'relu' or 'gated-gelu'")
    if "scale_decoder_outputs" in values:
        tied = bool(values["scale_decoder_outputs"])
    else:
        tied = bool(values.get("tie_word_embeddings", True))
    return T5Config(
        vocab_size=values["vocab_size"],
        d_model=values["d_model"],
        num_heads=values["num_heads"],
        head_dim=values["d_kv"],
        num_encoder_layers=values["num_layers"],
        num_decoder_layers=values.get("num_decoder_layers") or values["num_layers"],
        d_ff=values["d_ff"],
        feed_forward=projection,
        tie_embeddings=tied,
        dropout_rate=float(values.get("dropout_rate", 0.1)),
        relative_attention_num_buckets=values.get("relative_attention_num_buckets", 32),
        relative_attention_max_distance=values.get("relative_attention_max_distance", 128),
    )


def hf_config_dict(config: T5Config) -> dict[str, Any]:
    """The config.json of `config` as `transformers.T5Config.save_pretrained` writes it, built without transformers.

    Both `tie_word_embeddings` and transformers 5's `scale_decoder_outputs` are written (see the module docstring),
    so old and new transformers versions read the same architecture.
    """
    gated = config.feed_forward == "gated-gelu"
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "vocab_size": config.vocab_size,
        "d_model": config.d_model,
        "d_kv": config.head_dim,
        "d_ff": config.d_ff,
        "num_layers": config.num_encoder_layers,
        "num_decoder_layers": config.num_decoder_layers,
        "num_heads": config.num_heads,
        "relative_attention_num_buckets": config.relative_attention_num_buckets,
        "relative_attention_max_distance": config.relative_attention_max_distance,
        "dropout_rate": config.dropout_rate,
        "layer_norm_epsilon": 1e-6,
        "initializer_factor": 1.0,
        "feed_forward_proj": config.feed_forward,
        "dense_act_fn": "gelu_new" if gated else "relu",
        "is_gated_act": gated,
        "tie_word_embeddings": config.tie_embeddings,
        "scale_decoder_outputs": config.tie_embeddings,
        "is_encoder_decoder": True,
        "use_cache": True,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
        "eos_token_id": 1,
    }
