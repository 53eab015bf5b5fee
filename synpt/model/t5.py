"""Flax T5 1.0 / 1.1 encoder-decoder with T5X parameter names (reference §3).

Why Flax linen (not nnx): linen keeps parameters as plain nested dicts outside the module, which is exactly the
T5X checkpoint layout (`encoder/layers_0/attention/query/kernel`, ...). Plain dict pytrees go straight into `jax.jit`,
`jax.sharding` annotations, orbax and the weight-transfer/statistics code of `synpt.init` without any conversion, and
the decode-time KV cache is just another collection (`"cache"`), as in T5X.

Semantics follow T5X: RMS layer norm in float32 (eps 1e-6), pre-LN residual blocks, final norms, no 1/√d scaling of
attention logits at run time (it is folded into the query initialisation), one relative-position table per stack
added in every self-attention layer (none in cross-attention), masks as a large negative bias, and position-shared
dropout masks by default (reference §3.4, quirk 19).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from synpt.model.config import T5Config

Params = dict[str, Any]
NEG_INF = -1e10

# Default initialisers of reference §3.3.
_embedding_init = nn.initializers.normal(stddev=1.0)
_mlp_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")
_relpos_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


def _attention_init(scale: float) -> nn.initializers.Initializer:
    return nn.initializers.variance_scaling(scale, "fan_in", "normal")


def relative_position_bucket(
    relative_position: jax.Array, *, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
) -> jax.Array:
    """Bucket of `n = query_position - key_position` (reference §3.2), elementwise."""
    n = relative_position
    bucket = jnp.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + (n < 0).astype(n.dtype) * num_buckets
        n = jnp.abs(n)
    else:
        n = jnp.maximum(n, 0)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    scaled = jnp.log(n.astype(jnp.float32) / max_exact + np.finfo(np.float32).eps) / np.log(max_distance / max_exact)
    large = max_exact + (scaled * (num_buckets - max_exact)).astype(n.dtype)
    large = jnp.minimum(large, num_buckets - 1)
    return bucket + jnp.where(is_small, n, large)


class LayerNorm(nn.Module):
    """RMS norm with a scale only, computed in float32: y = x / sqrt(mean(x²) + eps) * scale."""

    dtype: Any = jnp.float32
    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(jnp.float32)
        scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), jnp.float32)
        y = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + self.epsilon)
        return (y * scale).astype(self.dtype)


class Dense(nn.Module):
    """Bias-free projection with a 2-D `(in, out)` float32 kernel, computed in the activation dtype."""

    features: int
    kernel_init: nn.initializers.Initializer
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), jnp.float32)
        return jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype))


class Embed(nn.Module):
    """Token embedding (no √d scaling); `attend` is the tied output projection h·Eᵀ."""

    num_embeddings: int
    features: int
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.embedding = self.param("embedding", _embedding_init, (self.num_embeddings, self.features), jnp.float32)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        return jnp.take(self.embedding, tokens, axis=0).astype(self.dtype)

    def attend(self, x: jax.Array) -> jax.Array:
        return jnp.dot(x.astype(self.dtype), self.embedding.T.astype(self.dtype))


class RelativePositionBias(nn.Module):
    """One `(heads, buckets)` table per stack; returns the bias [batch or 1, heads, q_len, k_len]."""

    config: T5Config
    bidirectional: bool

    @nn.compact
    def __call__(self, query_positions: jax.Array, key_positions: jax.Array) -> jax.Array:
        cfg = self.config
        table = self.param(
            "rel_embedding", _relpos_init, (cfg.num_heads, cfg.relative_attention_num_buckets), jnp.float32
        )
        buckets = relative_position_bucket(
            query_positions[:, :, None] - key_positions[:, None, :],
            bidirectional=self.bidirectional,
            num_buckets=cfg.relative_attention_num_buckets,
            max_distance=cfg.relative_attention_max_distance,
        )
        bias = jnp.take(table, buckets, axis=1)  # [heads, b, q, k]
        return jnp.transpose(bias, (1, 0, 2, 3))


def _dropout(config: T5Config, broadcast_dims: tuple[int, ...] = (-2,), shared: bool | None = None) -> nn.Dropout:
    """Dropout whose mask is shared along `broadcast_dims` (sequence positions) unless element-wise is configured."""
    shared = config.shared_dropout if shared is None else shared
    return nn.Dropout(rate=config.dropout_rate, broadcast_dims=broadcast_dims if shared else ())


class MultiHeadAttention(nn.Module):
    """T5 attention: q/k/v/out kernels flattened over heads, additive bias, optional single-step decoding cache.

    In decoding, self-attention appends each step's key/value to a cache sized by the decode length;
    cross-attention (`is_cross_attention`) projects the encoding once, at step 0, and reuses it afterwards
    (recomputing it every step would cost as much as re-running the encoder's attention projections per token).
    """

    config: T5Config
    is_cross_attention: bool = False

    def _heads(self, x: jax.Array) -> jax.Array:
        return x.reshape(*x.shape[:2], self.config.num_heads, self.config.head_dim)

    @nn.compact
    def __call__(
        self,
        inputs_q: jax.Array,
        inputs_kv: jax.Array,
        bias: jax.Array | Callable[[int], jax.Array],
        *,
        deterministic: bool,
        decode: bool = False,
        cache_index: jax.Array | None = None,
    ) -> jax.Array:
        """`bias` is [b, heads, q, k], or (in a decoding step) a function of the cache length returning it."""
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        query = self._heads(Dense(cfg.inner_dim, _attention_init(1.0 / cfg.head_dim), dtype, name="query")(inputs_q))
        is_step = decode and self.has_variable("cache", "cached_key")
        if is_step and self.is_cross_attention:
            cached_key, cached_value = self.variable("cache", "cached_key"), self.variable("cache", "cached_value")
            params = self.variables["params"]

            def project() -> tuple[jax.Array, jax.Array]:
                return tuple(
                    self._heads(jnp.dot(inputs_kv.astype(dtype), params[name]["kernel"].astype(dtype)))
                    for name in ("key", "value")
                )

            key, value = jax.lax.cond(cache_index == 0, project, lambda: (cached_key.value, cached_value.value))
            cached_key.value, cached_value.value = key, value
        else:
            key = self._heads(Dense(cfg.inner_dim, _attention_init(1.0), dtype, name="key")(inputs_kv))
            value = self._heads(Dense(cfg.inner_dim, _attention_init(1.0), dtype, name="value")(inputs_kv))
            if decode:
                cached_key = self.variable("cache", "cached_key", jnp.zeros, key.shape, key.dtype)
                cached_value = self.variable("cache", "cached_value", jnp.zeros, value.shape, value.dtype)
                if is_step:  # write this position's key/value, attend over the whole cache
                    start = (0, cache_index, 0, 0)
                    cached_key.value = jax.lax.dynamic_update_slice(cached_key.value, key, start)
                    cached_value.value = jax.lax.dynamic_update_slice(cached_value.value, value, start)
                    key, value = cached_key.value, cached_value.value
        if callable(bias):
            bias = bias(key.shape[1])

        logits = jnp.einsum("bqhd,bkhd->bhqk", query, key, preferred_element_type=jnp.float32)
        weights = jax.nn.softmax(logits + bias.astype(jnp.float32), axis=-1).astype(dtype)
        weights = _dropout(cfg, (-2,))(weights, deterministic=deterministic)  # shared across query positions
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, value).reshape(*inputs_q.shape[:2], cfg.inner_dim)
        return Dense(cfg.d_model, _attention_init(1.0), dtype, name="out")(out)


class MlpBlock(nn.Module):
    """ReLU (`wi`, `wo`) for T5 1.0; gated GELU (`wi_0` GELU × `wi_1` linear, `wo`) for T5 1.1."""

    config: T5Config

    @nn.compact
    def __call__(self, x: jax.Array, *, deterministic: bool) -> jax.Array:
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        if cfg.feed_forward == "relu":
            hidden = jax.nn.relu(Dense(cfg.d_ff, _mlp_init, dtype, name="wi")(x))
        else:
            gate = jax.nn.gelu(Dense(cfg.d_ff, _mlp_init, dtype, name="wi_0")(x), approximate=True)
            hidden = gate * Dense(cfg.d_ff, _mlp_init, dtype, name="wi_1")(x)
        hidden = _dropout(cfg)(hidden, deterministic=deterministic)
        return Dense(cfg.d_model, _mlp_init, dtype, name="wo")(hidden)


class EncoderLayer(nn.Module):
    config: T5Config

    @nn.compact
    def __call__(self, x: jax.Array, bias: jax.Array, *, deterministic: bool) -> jax.Array:
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        y = LayerNorm(dtype, name="pre_attention_layer_norm")(x)
        y = MultiHeadAttention(cfg, name="attention")(y, y, bias, deterministic=deterministic)
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = LayerNorm(dtype, name="pre_mlp_layer_norm")(x)
        y = MlpBlock(cfg, name="mlp")(y, deterministic=deterministic)
        return x + _dropout(cfg)(y, deterministic=deterministic)


class DecoderLayer(nn.Module):
    config: T5Config

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        encoded: jax.Array,
        self_bias: jax.Array | Callable[[int], jax.Array],
        cross_bias: jax.Array,
        *,
        deterministic: bool,
        decode: bool,
        cache_index: jax.Array | None,
    ) -> jax.Array:
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        y = LayerNorm(dtype, name="pre_self_attention_layer_norm")(x)
        y = MultiHeadAttention(cfg, name="self_attention")(
            y, y, self_bias, deterministic=deterministic, decode=decode, cache_index=cache_index
        )
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = LayerNorm(dtype, name="pre_cross_attention_layer_norm")(x)
        y = MultiHeadAttention(cfg, is_cross_attention=True, name="encoder_decoder_attention")(
            y, encoded, cross_bias, deterministic=deterministic, decode=decode, cache_index=cache_index
        )
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = LayerNorm(dtype, name="pre_mlp_layer_norm")(x)
        y = MlpBlock(cfg, name="mlp")(y, deterministic=deterministic)
        return x + _dropout(cfg)(y, deterministic=deterministic)


def _mask_to_bias(mask: jax.Array) -> jax.Array:
    return jnp.where(mask, 0.0, NEG_INF).astype(jnp.float32)


def _segment_mask(query_segments: jax.Array | None, key_segments: jax.Array | None) -> jax.Array | bool:
    """[b, 1, q, k] mask keeping packed examples apart (True when no segment ids are given)."""
    if query_segments is None or key_segments is None:
        return True
    return (query_segments[:, :, None] == key_segments[:, None, :])[:, None]


def _positions(tokens: jax.Array, positions: jax.Array | None) -> jax.Array:
    if positions is not None:
        return positions
    return jnp.broadcast_to(jnp.arange(tokens.shape[1], dtype=jnp.int32), tokens.shape)


class Encoder(nn.Module):
    config: T5Config
    embedder: Embed

    @nn.compact
    def __call__(
        self,
        tokens: jax.Array,
        *,
        segment_ids: jax.Array | None = None,
        positions: jax.Array | None = None,
        deterministic: bool = True,
    ) -> jax.Array:
        cfg = self.config
        valid = tokens > 0
        mask = valid[:, None, :, None] & valid[:, None, None, :] & _segment_mask(segment_ids, segment_ids)
        pos = _positions(tokens, positions)
        bias = RelativePositionBias(cfg, bidirectional=True, name="relpos_bias")(pos, pos) + _mask_to_bias(mask)
        x = _dropout(cfg)(self.embedder(tokens), deterministic=deterministic)
        for i in range(cfg.num_encoder_layers):
            x = EncoderLayer(cfg, name=f"layers_{i}")(x, bias, deterministic=deterministic)
        x = LayerNorm(jnp.dtype(cfg.dtype), name="encoder_norm")(x)
        return _dropout(cfg, shared=False)(x, deterministic=deterministic)  # element-wise in T5X too


class Decoder(nn.Module):
    config: T5Config
    embedder: Embed

    @nn.compact
    def __call__(
        self,
        encoded: jax.Array,
        encoder_tokens: jax.Array,
        tokens: jax.Array,
        *,
        encoder_segment_ids: jax.Array | None = None,
        segment_ids: jax.Array | None = None,
        positions: jax.Array | None = None,
        deterministic: bool = True,
        decode: bool = False,
    ) -> jax.Array:
        cfg = self.config
        cross_mask = (encoder_tokens > 0)[:, None, None, :] & _segment_mask(segment_ids, encoder_segment_ids)
        relpos = RelativePositionBias(cfg, bidirectional=False, name="relpos_bias")
        cache_index = None
        if decode and self.has_variable("cache", "cache_index"):
            # One decoding step: the query is position `cache_index`; the key length is the attention cache's.
            index_var = self.variable("cache", "cache_index", jnp.zeros, (), jnp.int32)
            cache_index = index_var.value
            index_var.value = cache_index + 1

            def self_bias(length: int) -> jax.Array:
                key_positions = jnp.arange(length, dtype=jnp.int32)[None]
                causal = (key_positions <= cache_index)[:, None, None, :]
                return relpos(jnp.reshape(cache_index, (1, 1)), key_positions) + _mask_to_bias(causal)

        else:
            if decode:  # the cache initialisation pass
                self.variable("cache", "cache_index", jnp.zeros, (), jnp.int32)
            pos = _positions(tokens, positions)
            length = tokens.shape[1]
            causal = jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
            self_bias = relpos(pos, pos) + _mask_to_bias(causal & _segment_mask(segment_ids, segment_ids))
        cross_bias = _mask_to_bias(cross_mask)

        x = _dropout(cfg)(self.embedder(tokens), deterministic=deterministic)
        for i in range(cfg.num_decoder_layers):
            x = DecoderLayer(cfg, name=f"layers_{i}")(
                x, encoded, self_bias, cross_bias, deterministic=deterministic, decode=decode, cache_index=cache_index
            )
        x = LayerNorm(jnp.dtype(cfg.dtype), name="decoder_norm")(x)
        x = _dropout(cfg)(x, deterministic=deterministic)
        if cfg.tie_embeddings:
            logits = self.embedder.attend(x) / np.sqrt(cfg.d_model).astype(np.float32)
        else:
            logits = Dense(cfg.vocab_size, _mlp_init, jnp.dtype(cfg.dtype), name="logits_dense")(x)
        return logits.astype(jnp.float32)


class T5(nn.Module):
    """The encoder-decoder. `__call__` is the training/teacher-forcing forward pass; `encode` and `decode` serve
    decoding (`decode(..., decode=True)` runs one step against the `"cache"` collection)."""

    config: T5Config

    def setup(self) -> None:
        cfg = self.config
        self.token_embedder = Embed(cfg.vocab_size, cfg.d_model, jnp.dtype(cfg.dtype))
        self.encoder = Encoder(cfg, self.token_embedder)
        self.decoder = Decoder(cfg, self.token_embedder)

    def encode(
        self,
        encoder_input_tokens: jax.Array,
        *,
        encoder_segment_ids: jax.Array | None = None,
        encoder_positions: jax.Array | None = None,
        enable_dropout: bool = False,
    ) -> jax.Array:
        return self.encoder(
            encoder_input_tokens,
            segment_ids=encoder_segment_ids,
            positions=encoder_positions,
            deterministic=not enable_dropout,
        )

    def decode(
        self,
        encoded: jax.Array,
        encoder_input_tokens: jax.Array,
        decoder_input_tokens: jax.Array,
        *,
        encoder_segment_ids: jax.Array | None = None,
        decoder_segment_ids: jax.Array | None = None,
        decoder_positions: jax.Array | None = None,
        enable_dropout: bool = False,
        decode: bool = False,
    ) -> jax.Array:
        return self.decoder(
            encoded,
            encoder_input_tokens,
            decoder_input_tokens,
            encoder_segment_ids=encoder_segment_ids,
            segment_ids=decoder_segment_ids,
            positions=decoder_positions,
            deterministic=not enable_dropout,
            decode=decode,
        )

    def __call__(
        self,
        encoder_input_tokens: jax.Array,
        decoder_input_tokens: jax.Array,
        *,
        encoder_segment_ids: jax.Array | None = None,
        decoder_segment_ids: jax.Array | None = None,
        encoder_positions: jax.Array | None = None,
        decoder_positions: jax.Array | None = None,
        enable_dropout: bool = False,
    ) -> jax.Array:
        """Float32 logits [batch, target_length, vocab] for teacher-forced `decoder_input_tokens`."""
        encoded = self.encode(
            encoder_input_tokens,
            encoder_segment_ids=encoder_segment_ids,
            encoder_positions=encoder_positions,
            enable_dropout=enable_dropout,
        )
        return self.decode(
            encoded,
            encoder_input_tokens,
            decoder_input_tokens,
            encoder_segment_ids=encoder_segment_ids,
            decoder_segment_ids=decoder_segment_ids,
            decoder_positions=decoder_positions,
            enable_dropout=enable_dropout,
        )


def init_params(config: T5Config, rng: jax.Array | int) -> Params:
    """Freshly initialised float32 parameters (reference §3.3 inits) as plain nested dicts with T5X names."""
    if isinstance(rng, int):
        rng = jax.random.PRNGKey(rng)
    return _to_dict(_init_params(config, rng))


@functools.partial(jax.jit, static_argnums=0)
def _init_params(config: T5Config, rng: jax.Array) -> Params:
    """Compiled once per configuration (the config is hashable)."""
    dummy = jnp.ones((1, 1), jnp.int32)
    return T5(config).init(rng, dummy, dummy)["params"]


def _to_dict(tree: Any) -> Any:
    """Plain `dict`s all the way down (flax may hand back FrozenDicts)."""
    if hasattr(tree, "items"):
        return {key: _to_dict(value) for key, value in tree.items()}
    return tree


def flatten_names(params: Params) -> dict[str, Any]:
    """{"encoder/layers_0/attention/query/kernel": array, ...} in sorted order."""
    flat: dict[str, Any] = {}

    def visit(prefix: str, tree: Any) -> None:
        if hasattr(tree, "items"):
            for key in sorted(tree):
                visit(f"{prefix}/{key}" if prefix else str(key), tree[key])
        else:
            flat[prefix] = tree

    visit("", params)
    return flat


def unflatten_names(flat: dict[str, Any]) -> Params:
    """Inverse of `flatten_names`."""
    params: Params = {}
    for name, value in flat.items():
        node = params
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return params
