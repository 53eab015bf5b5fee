"""Hugging Face `T5ForConditionalGeneration` <-> synpt (T5X-named) parameters, both ways, T5 1.0 and 1.1.

Layout differences handled here: HF `nn.Linear` weights are `(out, in)` (ours are `(in, out)` kernels), HF keeps the
relative-attention table `(buckets, heads)` in layer 0 of each stack only, the layer norms are `layer.N.layer_norm`,
and `lm_head` is tied to `shared` (and the decoder output scaled by d_model**-0.5) exactly when the model is T5 1.0.
The configs are mapped in hf_config.py (no JAX there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from synpt.errors import SynptError
from synpt.model.config import T5Config
from synpt.model.hf_config import config_from_hf, hf_config, hf_config_dict
from synpt.model.t5 import Params, flatten_names, unflatten_names

_ATTENTION_NAMES = {"query": "q", "key": "k", "value": "v", "out": "o"}


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


def write_hf_model(params: Params, config: T5Config, out_dir: str | Path) -> Path:
    """Write `out_dir/config.json` + `out_dir/model.safetensors`, loadable by
    `T5ForConditionalGeneration.from_pretrained(out_dir)`, with numpy and safetensors only (no torch, no transformers).

    The token embedding is stored once (`shared.weight`, plus `lm_head.weight` when untied), as `save_pretrained`
    does for tied weights; the `{"format": "pt"}` metadata is what transformers checks before loading.
    """
    from safetensors.numpy import save_file

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SynptError(f"{out} exists and is not a directory; pass a new or empty folder as OUT_DIR")
    out.mkdir(parents=True, exist_ok=True)
    aliases = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    if config.tie_embeddings:
        aliases.add("lm_head.weight")
    state = {name: value for name, value in to_hf_state_dict(params, config).items() if name not in aliases}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(hf_config_dict(config), indent=2) + "\n")
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
