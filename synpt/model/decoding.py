"""Beam search and greedy decoding (reference §4.8), batched and jit-compiled with the T5 KV cache.

`beam_search` and `greedy_decode` are model-agnostic: they only call `tokens_to_logits(ids [n, 1], cache) ->
(logits [n, vocab], cache)`, so tests can check them against brute force on a toy model. `decode_examples` wires them
to `synpt.model.t5.T5`. The beam search follows T5X: keep 2×beam candidates per step so that `beam` of them are
not EOS, score a finished hypothesis of L tokens (EOS included) as log P / ((5 + L) / 6)^α, stop when every beam
is at max length or when no live beam can beat the worst finished one, and fall back to the live beams for a batch
element that finished none.

`scoring="hf"` is Hugging Face `generate`'s beam search instead (with `early_stopping="never"`), for outputs that
equal an exported model's: a finished hypothesis scores log P / L^α, only EOS candidates among the top `beam` of
the 2×beam are finished, and at the length limit the top `beam` candidates are finished whether or not they end in
EOS. The two differ only in those three rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from synpt import progress as display
from synpt.errors import SynptError
from synpt.model.config import T5Config
from synpt.model.t5 import T5, Params
from synpt.vocab import EOS_ID

NEG_INF = -1.0e7
START_ID = 0
SCORINGS = ("t5x", "hf")
_CROSS_ATTENTION = "encoder_decoder_attention"  # the T5 module name of cross-attention layers (their cache entries)

TokensToLogits = Callable[[jax.Array, Any], tuple[jax.Array, Any]]


def brevity_penalty(alpha: float, length: jax.Array | int) -> jax.Array:
    """((5 + L) / 6)^α: dividing a (negative) log-probability by it favours longer hypotheses."""
    return jnp.power((5.0 + jnp.asarray(length, jnp.float32)) / 6.0, alpha)


def length_penalty(scoring: str, alpha: float, length: jax.Array | int) -> jax.Array:
    """The divisor of a finished hypothesis's log-probability: T5X's `brevity_penalty`, or Hugging Face's L^α."""
    if scoring == "hf":
        return jnp.power(jnp.asarray(length, jnp.float32), alpha)
    return brevity_penalty(alpha, length)


def _map_batched(fn: Callable[[jax.Array], jax.Array], cache: Any) -> Any:
    """Apply `fn` to the per-example cache arrays; scalars (the cache index) are shared by all rows (T5X rule)."""
    return jax.tree_util.tree_map(lambda x: fn(x) if x.ndim > 0 else x, cache)


def _gather_beams(tree: Any, indices: jax.Array) -> Any:
    """Select beams: leaves [b, k, ...] and indices [b, n] -> leaves [b, n, ...]."""
    rows = jnp.arange(indices.shape[0])[:, None]
    return jax.tree_util.tree_map(lambda x: x[rows, indices], tree)


def _gather_flat_cache(cache: Any, indices: jax.Array, beam_size: int) -> Any:
    """Reorder a flattened [b*k, ...] cache so that row (b, j) holds old beam indices[b, j]."""

    def gather(x: jax.Array) -> jax.Array:
        beams = x.reshape(-1, beam_size, *x.shape[1:])
        return _gather_beams(beams, indices).reshape(x.shape)

    return _map_batched(gather, cache)


def top_k(x: jax.Array, k: int, block: int = 128) -> tuple[jax.Array, jax.Array]:
    """`jax.lax.top_k` over the last axis of a 2-D array, the same values and indices (ties: lower index first),
    found through blocks.

    XLA's CPU top-k scans every element of a row with a partial sort: over beam search's k×32k candidates it took
    as long as the step's logits matmul. Whatever k elements are largest lie in the k blocks with the largest
    maxima, so a max per block of `block` elements, a top-k over those maxima, and a top-k over the k chosen blocks
    (in index order, which keeps the tie rule) give the same answer at a fraction of the cost.
    """
    rows, width = x.shape
    if width <= 2 * k * block:
        return jax.lax.top_k(x, k)
    padding = (-width) % block
    blocks = jnp.pad(x, ((0, 0), (0, padding)), constant_values=-jnp.inf).reshape(rows, -1, block)
    chosen = jnp.sort(jax.lax.top_k(blocks.max(axis=-1), k)[1], axis=-1)
    values, where = jax.lax.top_k(jnp.take_along_axis(blocks, chosen[:, :, None], axis=1).reshape(rows, k * block), k)
    return values, jnp.take_along_axis(chosen, where // block, axis=1) * block + where % block


def beam_search(
    tokens_to_logits: TokensToLogits,
    cache: Any,
    *,
    batch_size: int,
    beam_size: int,
    max_decode_length: int,
    alpha: float = 0.6,
    eos_id: int = EOS_ID,
    start_id: int = START_ID,
    scoring: str = "t5x",
) -> tuple[jax.Array, jax.Array]:
    """Beam search; returns (sequences int32 [batch, beam, max_decode_length], scores [batch, beam]), best first.

    `scoring` is "t5x" (the paper's) or "hf" (Hugging Face `generate`'s rules; see the module docstring).

    `cache` has per-example leaves [batch, ...] (scalar leaves are shared); it is expanded to `batch*beam` rows,
    row `b*beam + j` being beam j of example b, which is the layout `tokens_to_logits` receives. Positions after a
    sequence's EOS are 0.
    """
    b, k, length = batch_size, beam_size, max_decode_length
    state = {
        "step": jnp.array(0, jnp.int32),
        "live_logprobs": jnp.tile(jnp.array([0.0] + [NEG_INF] * (k - 1), jnp.float32), (b, 1)),
        "live_seqs": jnp.zeros((b, k, length), jnp.int32),
        "finished_scores": jnp.full((b, k), NEG_INF, jnp.float32),
        "finished_seqs": jnp.zeros((b, k, length), jnp.int32),
        "finished_flags": jnp.zeros((b, k), bool),
        "cache": _map_batched(lambda x: jnp.repeat(x, k, axis=0), cache),
    }
    if scoring not in SCORINGS:
        raise SynptError(f"beam search scoring {scoring!r}: use one of {', '.join(SCORINGS)}")
    best_possible_penalty = length_penalty(scoring, alpha, length)
    top_ranks = jnp.arange(2 * k) < k

    def not_done(state: dict[str, Any]) -> jax.Array:
        best_live = state["live_logprobs"][:, 0] / best_possible_penalty
        all_finished = jnp.all(state["finished_flags"], axis=1)
        worst_finished = jnp.where(all_finished, jnp.min(state["finished_scores"], axis=1), NEG_INF)
        return (state["step"] < length) & ~jnp.all(worst_finished > best_live)

    def step(state: dict[str, Any]) -> dict[str, Any]:
        t = state["step"]
        previous = jax.lax.dynamic_index_in_dim(state["live_seqs"], jnp.maximum(t - 1, 0), axis=2, keepdims=False)
        ids = jnp.where(t == 0, start_id, previous).reshape(b * k, 1)
        logits, new_cache = tokens_to_logits(ids, state["cache"])
        log_probs = jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(b, k, -1)
        vocab = log_probs.shape[-1]
        candidates = (log_probs + state["live_logprobs"][:, :, None]).reshape(b, k * vocab)
        top_logprobs, top_indices = top_k(candidates, 2 * k)
        top_beams, top_tokens = top_indices // vocab, top_indices % vocab
        top_seqs = _gather_beams(state["live_seqs"], top_beams)
        top_seqs = jax.lax.dynamic_update_index_in_dim(top_seqs, top_tokens[:, :, None], t, axis=2)
        is_eos = top_tokens == eos_id

        live_logprobs, live_pick = jax.lax.top_k(top_logprobs + jnp.where(is_eos, NEG_INF, 0.0), k)
        live_seqs = _gather_beams(top_seqs, live_pick)
        cache = _gather_flat_cache(new_cache, _gather_beams(top_beams, live_pick), k)

        finishing = is_eos
        if scoring == "hf":
            finishing = (is_eos | (t == length - 1)) & top_ranks
        new_scores = top_logprobs / length_penalty(scoring, alpha, t + 1) + jnp.where(finishing, 0.0, NEG_INF)
        scores = jnp.concatenate([state["finished_scores"], new_scores], axis=1)
        finished_scores, finished_pick = jax.lax.top_k(scores, k)
        finished_seqs = _gather_beams(jnp.concatenate([state["finished_seqs"], top_seqs], axis=1), finished_pick)
        flags = _gather_beams(jnp.concatenate([state["finished_flags"], finishing], axis=1), finished_pick)
        return {
            "step": t + 1,
            "live_logprobs": live_logprobs,
            "live_seqs": live_seqs,
            "finished_scores": finished_scores,
            "finished_seqs": finished_seqs,
            "finished_flags": flags,
            "cache": cache,
        }

    state = jax.lax.while_loop(not_done, step, state)
    none_finished = ~jnp.any(state["finished_flags"], axis=1)
    seqs = jnp.where(none_finished[:, None, None], state["live_seqs"], state["finished_seqs"])
    scores = jnp.where(none_finished[:, None], state["live_logprobs"], state["finished_scores"])
    return seqs, scores


def greedy_decode(
    tokens_to_logits: TokensToLogits,
    cache: Any,
    *,
    batch_size: int,
    max_decode_length: int,
    eos_id: int = EOS_ID,
    start_id: int = START_ID,
) -> tuple[jax.Array, jax.Array]:
    """Argmax decoding; returns (sequences int32 [batch, max_decode_length], log-probabilities [batch])."""
    state = {
        "step": jnp.array(0, jnp.int32),
        "ids": jnp.full((batch_size, 1), start_id, jnp.int32),
        "seqs": jnp.zeros((batch_size, max_decode_length), jnp.int32),
        "logprobs": jnp.zeros((batch_size,), jnp.float32),
        "done": jnp.zeros((batch_size,), bool),
        "cache": cache,
    }

    def not_done(state: dict[str, Any]) -> jax.Array:
        return (state["step"] < max_decode_length) & ~jnp.all(state["done"])

    def step(state: dict[str, Any]) -> dict[str, Any]:
        logits, cache = tokens_to_logits(state["ids"], state["cache"])
        log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
        token = jnp.argmax(log_probs, axis=-1).astype(jnp.int32)
        live = ~state["done"]
        logprob = jnp.take_along_axis(log_probs, token[:, None], axis=-1)[:, 0]
        return {
            "step": state["step"] + 1,
            "ids": token[:, None],
            "seqs": state["seqs"].at[:, state["step"]].set(jnp.where(live, token, 0)),
            "logprobs": state["logprobs"] + jnp.where(live, logprob, 0.0),
            "done": state["done"] | (token == eos_id),
            "cache": cache,
        }

    state = jax.lax.while_loop(not_done, step, state)
    return state["seqs"], state["logprobs"]


@functools.partial(jax.jit, static_argnames=("config", "beam_size", "max_decode_length", "alpha", "scoring"))
def predict_batch(
    params: Params,
    encoder_input_tokens: jax.Array,
    *,
    config: T5Config,
    beam_size: int,
    max_decode_length: int,
    alpha: float = 0.6,
    scoring: str = "t5x",
) -> tuple[jax.Array, jax.Array]:
    """Decode one padded batch with the T5 KV cache: (sequences [batch, beam, length], scores [batch, beam]).

    `beam_size=1` is greedy decoding (scores are then total log-probabilities).
    """
    model = T5(config)
    batch = encoder_input_tokens.shape[0]
    encoded = model.apply({"params": params}, encoder_input_tokens, method=T5.encode)

    def init_cache() -> Any:
        _, variables = model.apply(
            {"params": params},
            encoded,
            encoder_input_tokens,
            jnp.zeros((batch, max_decode_length), jnp.int32),
            decode=True,
            mutable=["cache"],
            method=T5.decode,
        )
        return variables["cache"]

    cache = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(init_cache))
    encoded = jnp.repeat(encoded, beam_size, axis=0)
    encoder_tokens = jnp.repeat(encoder_input_tokens, beam_size, axis=0)

    def decoder_step(ids: jax.Array, cache: Any) -> tuple[jax.Array, Any]:
        logits, variables = model.apply(
            {"params": params, "cache": cache},
            encoded,
            encoder_tokens,
            ids,
            decode=True,
            mutable=["cache"],
            method=T5.decode,
        )
        return logits[:, -1], variables["cache"]

    # Every beam of an example attends to the same encoder output, so the cross-attention keys/values are projected
    # once, by a first step out here, and closed over: the loop carries, and the beam search reorders at every step,
    # only the self-attention cache (reordering both made beam search ~1.5x slower).
    start = jnp.full((encoded.shape[0], 1), START_ID, jnp.int32)
    _, filled = decoder_step(start, _map_batched(lambda x: jnp.repeat(x, beam_size, axis=0), cache))
    cross = {path: x for path, x in flatten_dict(filled).items() if _CROSS_ATTENTION in path}

    def tokens_to_logits(ids: jax.Array, own_cache: Any) -> tuple[jax.Array, Any]:
        logits, new_cache = decoder_step(ids, unflatten_dict({**flatten_dict(own_cache), **cross}))
        return logits, _without_cross_attention(new_cache)

    cache = _without_cross_attention(cache)

    if beam_size == 1:
        seqs, logprobs = greedy_decode(tokens_to_logits, cache, batch_size=batch, max_decode_length=max_decode_length)
        return seqs[:, None], logprobs[:, None]
    return beam_search(
        tokens_to_logits,
        cache,
        batch_size=batch,
        beam_size=beam_size,
        max_decode_length=max_decode_length,
        alpha=alpha,
        scoring=scoring,
    )


def _without_cross_attention(cache: Any) -> Any:
    """The cache minus its cross-attention keys/values (see `predict_batch`)."""
    return unflatten_dict({path: x for path, x in flatten_dict(cache).items() if _CROSS_ATTENTION not in path})


def pad_rows(rows: Sequence[Sequence[int]], length: int, num_rows: int | None = None) -> np.ndarray:
    """int32 [num_rows, length] with each row's ids left-aligned, trimmed to `length`, zero padded."""
    out = np.zeros((num_rows or len(rows), length), np.int32)
    for i, row in enumerate(rows):
        row = np.asarray(row, np.int32)[:length]
        out[i, : len(row)] = row
    return out


def bucket_length(length: int, minimum: int = 8) -> int:
    """The next power of two ≥ `length` (≥ `minimum`), so that few distinct shapes are compiled."""
    return max(minimum, 1 << max(0, int(length) - 1).bit_length())


def strip_eos(ids: Iterable[int], eos_id: int = EOS_ID) -> list[int]:
    """Tokens before the first EOS (padding after it dropped)."""
    out = []
    for token in ids:
        if token == eos_id:
            break
        out.append(int(token))
    return out


def decode_examples(
    model_config: T5Config,
    params: Params,
    examples: Sequence[dict[str, Any]],
    *,
    batch_size: int,
    max_decode_length: int,
    beam_size: int = 4,
    alpha: float = 0.6,
    input_length: int | None = None,
    progress: bool = False,
    scoring: str = "t5x",
) -> list[list[int]]:
    """Top-beam predictions (token ids without EOS) for each example's `inputs`, in order.

    Inputs are padded to `input_length` when given (trimmed beyond it), else to a power-of-two bucket of each
    batch's longest input; the last batch is padded with empty rows so every call has the same batch size.
    """
    for name, value in (("batch_size", batch_size), ("max_decode_length", max_decode_length), ("beam_size", beam_size)):
        if int(value) < 1:
            raise SynptError(f"decoding: {name}={value!r} must be a positive integer")
    predictions: list[list[int]] = []
    starts = range(0, len(examples), batch_size)
    for start in display.iterate(starts, len(starts), "decoding", "batch", enabled=progress):
        inputs = [example["inputs"] for example in examples[start : start + batch_size]]
        length = input_length or bucket_length(max(len(row) for row in inputs))
        tokens = pad_rows(inputs, length, num_rows=batch_size)
        seqs, _ = predict_batch(
            params,
            jnp.asarray(tokens),
            config=model_config,
            beam_size=beam_size,
            max_decode_length=max_decode_length,
            alpha=alpha,
            scoring=scoring,
        )
        best = np.asarray(seqs[:, 0])
        predictions.extend(strip_eos(row) for row in best[: len(inputs)])
    return predictions
