"""Training loss and token accuracy (reference §4.3).

Why a sum: T5X sums the token cross-entropy over every non-padding target token (EOS included) with no
normaliser and no label smoothing; under Adafactor the scale does not change the updates (reference quirk 22), and
a sum makes gradient accumulation exact (the sum over micro-batches is the full-batch loss).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cross_entropy_sums(
    logits: jnp.ndarray, targets: jnp.ndarray, weights: jnp.ndarray, *, z_loss: float = 0.0
) -> dict[str, jnp.ndarray]:
    """Summed statistics of one batch: float32 logits [B, T, V], int targets [B, T], loss weights [B, T].

    Returns sums over weighted tokens: `loss` (cross-entropy + z-loss, what is differentiated), `z_loss`
    (z·(log Z)², included in `loss`), `correct` (weighted argmax hits), `weight` (the weight sum, i.e. the number
    of non-padding target tokens for 0/1 weights).
    """
    logits = logits.astype(jnp.float32)
    weights = weights.astype(jnp.float32)
    log_z = jax.nn.logsumexp(logits, axis=-1)
    target_logit = jnp.take_along_axis(logits, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
    token_z_loss = z_loss * jnp.square(log_z)
    token_loss = log_z - target_logit + token_z_loss
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return {
        "loss": jnp.sum(token_loss * weights),
        "z_loss": jnp.sum(token_z_loss * weights),
        "correct": jnp.sum(correct * weights),
        "weight": jnp.sum(weights),
    }


def summarize(sums: dict[str, float]) -> dict[str, float]:
    """Per-token figures from pooled sums: `loss` (mean cross-entropy incl. z-loss), `z_loss`, `accuracy`."""
    tokens = max(float(sums["weight"]), 1.0)
    return {
        "loss": float(sums["loss"]) / tokens,
        "z_loss": float(sums["z_loss"]) / tokens,
        "accuracy": float(sums["correct"]) / tokens,
    }
