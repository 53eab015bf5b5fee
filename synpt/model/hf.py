"""Hugging Face `T5ForConditionalGeneration` <-> synpt (T5X-named) parameters, both ways, T5 1.0 and 1.1.

Layout differences handled here: HF `nn.Linear` weights are `(out, in)` (ours are `(in, out)` kernels), HF keeps the
relative-attention table `(buckets, heads)` in layer 0 of each stack only, the layer norms are `layer.N.layer_norm`,
and `lm_head` is tied to `shared` (and the decoder output scaled by d_model**-0.5) exactly when the model is T5 1.0.

transformers 5 forces `T5Config.tie_word_embeddings=True` in its constructor and keeps the "untied" meaning only in
`scale_decoder_outputs`; an untied (T5 1.1) model is therefore built by setting `tie_word_embeddings=False` after
construction (`hf_config`), which also makes `save_pretrained` write `lm_head` separately.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from synpt.errors import SynptError
from synpt.model.config import T5Config
from synpt.model.t5 import Params, flatten_names, unflatten_names

_ATTENTION_NAMES = {"query": "q", "key": "k", "value": "v", "out": "o"}


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


def _name_pairs(config: T5Config) -> list[tuple[str, str, bool]]:
    """(our name, HF name, transpose?) for every array except the relpos tables and the output embedding."""
    mlp = ["wi", "wo"] if config.feed_forward == "relu" else ["wi_0", "wi_1", "wo"]
    pairs = [("token_embedder/embedding", "shared.weight", False)]

    def attention(ours: str, hf: str) -> None:
        pairs.extend((f"{ours}/{o}/kernel", f"{hf}.{h}.weight", True) for o, h in _ATTENTION_NAMES.items())

    def block(ours: str, hf: str, sublayers: list[tuple[str, str, str]]) -> None:
        for index, (norm, attn, hf_attn) in enumerate(sublayers):
            pairs.append((f"{ours}/{norm}/scale", f"{hf}.layer.{index}.layer_norm.weight", False))
            if attn:
                attention(f"{ours}/{attn}", f"{hf}.layer.{index}.{hf_attn}")
            else:
                pairs.extend(
                    (f"{ours}/mlp/{m}/kernel", f"{hf}.layer.{index}.DenseReluDense.{m}.weight", True) for m in mlp
                )

    for i in range(config.num_encoder_layers):
        block(
            f"encoder/layers_{i}",
            f"encoder.block.{i}",
            [("pre_attention_layer_norm", "attention", "SelfAttention"), ("pre_mlp_layer_norm", "", "")],
        )
    for i in range(config.num_decoder_layers):
        block(
            f"decoder/layers_{i}",
            f"decoder.block.{i}",
            [
                ("pre_self_attention_layer_norm", "self_attention", "SelfAttention"),
                ("pre_cross_attention_layer_norm", "encoder_decoder_attention", "EncDecAttention"),
                ("pre_mlp_layer_norm", "", ""),
            ],
        )
    pairs.append(("encoder/encoder_norm/scale", "encoder.final_layer_norm.weight", False))
    pairs.append(("decoder/decoder_norm/scale", "decoder.final_layer_norm.weight", False))
    pairs.append(
        (
            "encoder/relpos_bias/rel_embedding",
            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            True,
        )
    )
    pairs.append(
        (
            "decoder/relpos_bias/rel_embedding",
            "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            True,
        )
    )
    if not config.tie_embeddings:
        pairs.append(("decoder/logits_dense/kernel", "lm_head.weight", True))
    return pairs


def to_hf_state_dict(params: Params, config: T5Config) -> dict[str, np.ndarray]:
    """HF state dict (numpy float32) of our params; the embedding is also written to both `embed_tokens`."""
    flat = flatten_names(params)
    state = {
        hf: np.ascontiguousarray(np.asarray(flat[ours], np.float32).T if t else flat[ours])
        for ours, hf, t in _name_pairs(config)
    }
    embedding = state["shared.weight"]
    state["encoder.embed_tokens.weight"] = embedding
    state["decoder.embed_tokens.weight"] = embedding
    if config.tie_embeddings:
        state["lm_head.weight"] = embedding
    return {name: np.asarray(value, np.float32) for name, value in state.items()}


def from_hf_state_dict(state: dict[str, Any], config: T5Config) -> Params:
    """Our params from an HF state dict (torch tensors or numpy arrays)."""
    arrays = {name: _to_numpy(value) for name, value in state.items()}
    shared = arrays.get("shared.weight")
    for alias in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight") + (
        ("lm_head.weight",) if config.tie_embeddings else ()
    ):
        if shared is not None and alias in arrays and not np.array_equal(arrays[alias], shared):
            raise SynptError(
                f"Hugging Face weight {alias} differs from shared.weight; synpt's T5 uses one token embedding "
                "(tie them, e.g. copy shared.weight into it, before converting)"
            )
    flat = {}
    for ours, hf, transpose in _name_pairs(config):
        if hf not in arrays:
            raise SynptError(
                f"Hugging Face state dict lacks {hf!r} (needed for {ours}); is it a T5ForConditionalGeneration?"
            )
        flat[ours] = np.ascontiguousarray(arrays[hf].T if transpose else arrays[hf]).astype(np.float32)
    return unflatten_names(flat)


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().to("cpu").float().numpy()
    return np.asarray(value, np.float32)


def to_hf_model(params: Params, config: T5Config) -> Any:
    """A `transformers.T5ForConditionalGeneration` (eval mode) holding our params."""
    import torch
    import transformers

    model = transformers.T5ForConditionalGeneration(hf_config(config))
    state = {name: torch.from_numpy(value.copy()) for name, value in to_hf_state_dict(params, config).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise AssertionError(f"HF T5 layout mismatch: missing {missing}, unexpected {unexpected}")
    return model.eval()


def export_hf(params: Params, config: T5Config, out_dir: str | Path) -> Path:
    """Write `out_dir/config.json` + `out_dir/model.safetensors` loadable by
    `T5ForConditionalGeneration.from_pretrained(out_dir)`."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SynptError(f"{out} exists and is not a directory; pass a new or empty folder as OUT_DIR")
    out.mkdir(parents=True, exist_ok=True)
    to_hf_model(params, config).save_pretrained(out)
    return out


def import_hf(path_or_model: str | Path | Any) -> tuple[Params, T5Config]:
    """Our (params, config) from a `T5ForConditionalGeneration` or a folder with config.json + safetensors/bin."""
    if not isinstance(path_or_model, (str, Path)):
        config = config_from_hf(path_or_model.config)
        return from_hf_state_dict(path_or_model.state_dict(), config), config
    folder = Path(path_or_model)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise SynptError(f"{config_path} not found; pass a folder written by save_pretrained / synpt export-hf")
    config = config_from_hf(json.loads(config_path.read_text()))
    weights = folder / "model.safetensors"
    if weights.is_file():
        from safetensors.numpy import load_file

        state = load_file(str(weights))
    else:
        import transformers

        state = transformers.T5ForConditionalGeneration.from_pretrained(folder).state_dict()
    return from_hf_state_dict(state, config), config
