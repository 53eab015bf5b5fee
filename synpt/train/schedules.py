"""Learning-rate schedules of the paper (reference §4.2), as functions of the number of updates already applied.

Why only two: pre-training uses the inverse square root 1/√max(t, warmup) with no base-LR factor (the release
script's dummy LR 1231237198 is ignored; reference quirk 24), fine-tuning a constant LR with no warmup or decay.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from synpt.errors import SynptError

Schedule = Callable[[jnp.ndarray], jnp.ndarray]
SCHEDULES = ("rsqrt", "constant")


def rsqrt(warmup_steps: int = 10_000, scale: float = 1.0) -> Schedule:
    """lr(t) = scale / √max(t, warmup_steps): flat at 1/√warmup, then inverse-square-root decay."""
    return lambda step: scale * jnp.reciprocal(jnp.sqrt(jnp.maximum(jnp.asarray(step, jnp.float32), warmup_steps)))


def constant(learning_rate: float) -> Schedule:
    """lr(t) = learning_rate for every t."""
    return lambda step: jnp.full((), learning_rate, jnp.float32)


def make_schedule(name: str, *, learning_rate: float | None = None, warmup_steps: int = 10_000) -> Schedule:
    """The schedule called `name`; for "rsqrt" `learning_rate` is an optional multiplier (default 1, the paper's)."""
    if name == "rsqrt":
        if warmup_steps <= 0:
            raise SynptError(f"warmup_steps must be positive for the rsqrt schedule, got {warmup_steps}")
        return rsqrt(warmup_steps, 1.0 if learning_rate is None else learning_rate)
    if name == "constant":
        if learning_rate is None or learning_rate <= 0:
            raise SynptError(f"the constant schedule needs a positive learning_rate, got {learning_rate}")
        return constant(learning_rate)
    raise SynptError(f"unknown learning-rate schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}")
