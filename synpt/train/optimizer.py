"""Adafactor exactly as the paper's T5X runs used it (reference §4.1).

Why our own transformation instead of `optax.adafactor`: the reference semantics (decay 1 - (t+1)^-0.8, ε1 added to
g², factoring only 2-D parameters whose smaller dimension is >= 128, v̂ = outer(r, c) / mean(r), update clipping at
RMS 1, parameter scale max(RMS(p), 1e-3), no momentum, no weight decay) are short enough to state directly, and a
unit test checks them line by line against a numpy transcription of the pseudo-code.

State per parameter: factored parameters keep `row` (statistics over the smaller dimension) and `col` (over the
larger one) and a placeholder `v` of shape (1,); the others keep `v` and placeholders for `row` / `col`. All state
leaves are float32 so a checkpoint restores them exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from synpt.train.schedules import Schedule

DECAY_RATE = 0.8
MIN_DIM_SIZE_TO_FACTOR = 128
CLIPPING_THRESHOLD = 1.0
EPSILON1 = 1e-30
EPSILON2 = 1e-3


class AdafactorState(NamedTuple):
    count: jnp.ndarray  # number of updates already applied (t)
    row: optax.Params
    col: optax.Params
    v: optax.Params


def factored_dims(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(smaller_dim_axis, larger_dim_axis) when a parameter of `shape` gets factored second moments, else None."""
    if len(shape) != 2 or min(shape) < MIN_DIM_SIZE_TO_FACTOR:
        return None
    small = 0 if shape[0] <= shape[1] else 1
    return small, 1 - small


def _rms(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.sqrt(jnp.mean(jnp.square(x)))


def _placeholder() -> jnp.ndarray:
    return jnp.zeros((1,), jnp.float32)


def adafactor(learning_rate: Schedule) -> optax.GradientTransformation:
    """The §4.1 Adafactor as an optax transformation; `update` needs `params` and returns the full delta."""

    def init(params: optax.Params) -> AdafactorState:
        def stats(p, which):
            dims = factored_dims(p.shape)
            if which == "v":
                return _placeholder() if dims else jnp.zeros(p.shape, jnp.float32)
            if dims is None:
                return _placeholder()
            small, large = dims
            return jnp.zeros((p.shape[small] if which == "row" else p.shape[large],), jnp.float32)

        return AdafactorState(
            count=jnp.zeros((), jnp.int32),
            row=jax.tree.map(lambda p: stats(p, "row"), params),
            col=jax.tree.map(lambda p: stats(p, "col"), params),
            v=jax.tree.map(lambda p: stats(p, "v"), params),
        )

    def update(grads: optax.Updates, state: AdafactorState, params: optax.Params | None = None):
        if params is None:
            raise ValueError("adafactor needs params for its parameter-scale factor")
        t = state.count
        rho = 1.0 - jnp.power(t.astype(jnp.float32) + 1.0, -DECAY_RATE)
        lr = learning_rate(t)

        def one(g, p, row, col, v):
            g = g.astype(jnp.float32)
            g2 = jnp.square(g) + EPSILON1
            dims = factored_dims(p.shape)
            if dims is None:
                v = rho * v + (1.0 - rho) * g2
                v_hat = v
            else:
                small, large = dims
                row = rho * row + (1.0 - rho) * jnp.mean(g2, axis=large)
                col = rho * col + (1.0 - rho) * jnp.mean(g2, axis=small)
                v_hat = jnp.expand_dims(row, large) * jnp.expand_dims(col, small) / jnp.mean(row)
            u = g * jax.lax.rsqrt(v_hat)
            u = u / jnp.maximum(1.0, _rms(u) / CLIPPING_THRESHOLD)
            scale = lr * jnp.maximum(_rms(p.astype(jnp.float32)), EPSILON2)
            return (-scale * u).astype(p.dtype), row, col, v

        treedef = jax.tree.structure(params)
        results = [
            one(*leaves)
            for leaves in zip(
                *(treedef.flatten_up_to(x) for x in (grads, params, state.row, state.col, state.v)), strict=True
            )
        ]
        updates, row, col, v = (treedef.unflatten(list(part)) for part in zip(*results, strict=True))
        return updates, AdafactorState(count=t + 1, row=row, col=col, v=v)

    return optax.GradientTransformation(init, update)
