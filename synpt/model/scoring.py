"""Teacher-forced log-probabilities of targets given inputs (what `synpt score` prints).

Why its own module: scoring is the simplest end-to-end check of a checkpoint (and of an export, since Hugging Face
must give the same numbers), and it needs only the model, not the training engine.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from synpt import progress as display
from synpt.model.config import T5Config
from synpt.model.decoding import bucket_length, pad_rows
from synpt.model.t5 import T5, Params


@functools.partial(jax.jit, static_argnames=("config",))
def target_logprobs(
    params: Params, encoder_input_tokens: jax.Array, targets: jax.Array, *, config: T5Config
) -> jax.Array:
    """Sum over non-padding target positions of log p(target | inputs, earlier targets), per row (float32)."""
    decoder_input_tokens = jnp.pad(targets[:, :-1], ((0, 0), (1, 0)))  # shifted right, 0 first
    logits = T5(config).apply({"params": params}, encoder_input_tokens, decoder_input_tokens)
    log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), targets[:, :, None], axis=-1)[:, :, 0]
    return jnp.sum(jnp.where(targets > 0, log_probs, 0.0), axis=-1)


def score_examples(
    config: T5Config,
    params: Params,
    examples: Sequence[dict[str, Any]],
    *,
    batch_size: int = 32,
    progress: bool = False,
) -> list[float]:
    """log P(targets | inputs) for each example (`inputs`/`targets` id lists, EOS already appended), in order.

    Lengths are padded to power-of-two buckets and the last batch to `batch_size` rows, so few shapes compile.
    """
    scores: list[float] = []
    starts = range(0, len(examples), batch_size)
    for start in display.iterate(starts, len(starts), "scoring", "batch", enabled=progress):
        chunk = examples[start : start + batch_size]
        inputs = pad_rows([e["inputs"] for e in chunk], bucket_length(max(len(e["inputs"]) for e in chunk)), batch_size)
        targets = pad_rows(
            [e["targets"] for e in chunk], bucket_length(max(len(e["targets"]) for e in chunk)), batch_size
        )
        logprobs = target_logprobs(params, jnp.asarray(inputs), jnp.asarray(targets), config=config)
        scores.extend(float(x) for x in np.asarray(logprobs)[: len(chunk)])
    return scores
