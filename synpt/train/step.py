"""The jit-compiled train and eval steps.

Why this shape: the whole update (forward, backward, optional gradient accumulation, Adafactor) is one XLA program
over a sharded train state, so data parallelism is just a batch sharded along "data" and replicated parameters; XLA
inserts the gradient all-reduce. Dropout keys are `fold_in(key(seed), step)` (then `fold_in(., micro_batch)`), so a
run is deterministic given its seed and a resumed run draws exactly the masks the uninterrupted run would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from synpt.train.losses import cross_entropy_sums

# {"params", "opt_state", "step": int32[], "rng": uint32 key data, optional "first_bad_step": int32[]}
TrainState = dict[str, Any]

_PACKING_FEATURES = ("encoder_segment_ids", "decoder_segment_ids", "encoder_positions", "decoder_positions")


def forward(model, params, batch: dict[str, jax.Array], *, dropout_rng=None) -> jax.Array:
    """Logits of `model` on a T5X-named batch (packing features passed when present)."""
    packing = {name: batch[name] for name in _PACKING_FEATURES if name in batch}
    return model.apply(
        {"params": params},
        batch["encoder_input_tokens"],
        batch["decoder_input_tokens"],
        **packing,
        enable_dropout=dropout_rng is not None,
        rngs={"dropout": dropout_rng} if dropout_rng is not None else None,
    )


def batch_sums(model, params, batch, *, z_loss: float, dropout_rng=None) -> dict[str, jax.Array]:
    logits = forward(model, params, batch, dropout_rng=dropout_rng)
    return cross_entropy_sums(logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"], z_loss=z_loss)


def make_train_step(
    model,
    optimizer: optax.GradientTransformation,
    schedule: Callable,
    *,
    z_loss: float,
    grad_accum: int = 1,
    use_dropout: bool = True,
    state_shardings=None,
) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    """A jit'd `step(state, batch) -> (state, metrics)`; metrics are batch sums plus `grad_norm`, `learning_rate`.

    With `grad_accum > 1` the batch is split into that many micro-batches (rows i, i+k, i+2k, ...: each device keeps
    its own rows) whose summed gradients equal the full-batch gradient of the summed loss.
    """

    def loss_fn(params, batch, rng):
        sums = batch_sums(model, params, batch, z_loss=z_loss, dropout_rng=rng if use_dropout else None)
        return sums["loss"], sums

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        params = state["params"]
        key = jax.random.fold_in(jax.random.wrap_key_data(state["rng"]), state["step"])
        if grad_accum == 1:
            (_, sums), grads = grad_fn(params, batch, key)
        else:
            micro = jax.tree.map(lambda x: x.reshape(-1, grad_accum, *x.shape[1:]).swapaxes(0, 1), batch)

            def body(carry, xs):
                index, micro_batch = xs
                (_, sums), grads = grad_fn(params, micro_batch, jax.random.fold_in(key, index))
                return jax.tree.map(jnp.add, carry, (grads, sums)), None

            zeros = jax.tree.map(
                jnp.zeros_like, jax.eval_shape(grad_fn, params, jax.tree.map(lambda x: x[0], micro), key)
            )
            (grads, sums), _ = jax.lax.scan(body, (zeros[1], zeros[0][1]), (jnp.arange(grad_accum), micro))
        updates, opt_state = optimizer.update(grads, state["opt_state"], params)
        new_state = {
            "params": optax.apply_updates(params, updates),
            "opt_state": opt_state,
            "step": state["step"] + 1,
            "rng": state["rng"],
        }
        metrics = dict(sums, grad_norm=optax.tree.norm(grads), learning_rate=schedule(state["step"]))
        if "first_bad_step" in state:  # the trainer's NaN/Inf watch: read at log time, no per-step host sync
            new_state["first_bad_step"] = first_bad_step(state, metrics)
        return new_state, metrics

    out_shardings = (state_shardings, None) if state_shardings is not None else None
    return jax.jit(step, donate_argnums=(0,), out_shardings=out_shardings)


def first_bad_step(state: TrainState, metrics: dict) -> jax.Array:
    """The (1-based) step whose loss or gradient norm first became non-finite, or -1 while all were finite."""
    bad = ~(jnp.isfinite(metrics["loss"]) & jnp.isfinite(metrics["grad_norm"]))
    seen = state["first_bad_step"]
    return jnp.where((seen < 0) & bad, state["step"] + 1, seen)


def make_eval_step(model, *, z_loss: float) -> Callable[[Any, dict], dict]:
    """A jit'd teacher-forced `eval_step(params, batch) -> batch sums` (dropout off)."""
    return jax.jit(lambda params, batch: batch_sums(model, params, batch, z_loss=z_loss))
