"""Adafactor against a direct numpy transcription of the reference §4.1 pseudo-code, and the schedules (§4.2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from synpt.errors import SynptError
from synpt.train.optimizer import adafactor, factored_dims
from synpt.train.schedules import make_schedule


def reference_adafactor(params, grads_per_step, lr):
    """The §4.1 pseudo-code, line by line, in float64 numpy."""
    params = {k: v.astype(np.float64) for k, v in params.items()}
    state = {k: {} for k in params}
    for t, grads in enumerate(grads_per_step):
        for name, p in params.items():
            g = grads[name].astype(np.float64)
            rho = 1 - (t + 1) ** -0.8
            scale = lr(t) * max(np.sqrt(np.mean(p**2)), 1e-3)
            g2 = g * g + 1e-30
            s = state[name]
            if p.ndim == 2 and min(p.shape) >= 128:
                small = 0 if p.shape[0] <= p.shape[1] else 1
                large = 1 - small
                r = np.mean(g2, axis=large)  # over the larger dim: a vector along the smaller one
                c = np.mean(g2, axis=small)
                s["r"] = rho * s.get("r", 0) + (1 - rho) * r
                s["c"] = rho * s.get("c", 0) + (1 - rho) * c
                v_hat = np.outer(s["r"], s["c"]) / np.mean(s["r"])
                if small == 1:
                    v_hat = v_hat.T
            else:
                s["v"] = rho * s.get("v", 0) + (1 - rho) * g2
                v_hat = s["v"]
            u = g / np.sqrt(v_hat)
            u = u / max(1.0, np.sqrt(np.mean(u**2)) / 1.0)
            params[name] = p - scale * u
    return params


def make_params(rng):
    return {
        "wide": rng.normal(size=(128, 300)).astype(np.float32),  # factored, smaller dim first
        "tall": rng.normal(size=(260, 130)).astype(np.float32) * 0.05,  # factored, smaller dim second
        "narrow": rng.normal(size=(8, 32)).astype(np.float32),  # 2-D but not factored (relpos-like)
        "scale": np.ones((64,), np.float32),  # 1-D layer-norm scale
        "tiny": np.full((5,), 1e-5, np.float32),  # RMS below 1e-3: parameter scale floors at 1e-3
    }


@pytest.mark.parametrize("num_steps", [1, 5])
def test_adafactor_matches_reference_pseudocode(num_steps):
    rng = np.random.default_rng(0)
    params = make_params(rng)
    grads = [
        {k: (rng.normal(size=v.shape) * 10.0 ** rng.integers(-3, 3)).astype(np.float32) for k, v in params.items()}
        for _ in range(num_steps)
    ]
    lr = make_schedule("rsqrt", warmup_steps=3)  # decays within the test, so lr(t) must use the right t
    expected = reference_adafactor(params, grads, lambda t: 1 / np.sqrt(max(t, 3)))

    optimizer = adafactor(lr)
    current = jax.tree.map(jnp.asarray, params)
    state = optimizer.init(current)
    update = jax.jit(optimizer.update)
    for g in grads:
        updates, state = update(jax.tree.map(jnp.asarray, g), state, current)
        current = optax.apply_updates(current, updates)
    assert int(state.count) == num_steps
    for name, p0 in params.items():
        # Compare the total change; float32 storage of p adds rounding of a few ulps of |p| per step.
        atol = 4 * num_steps * np.finfo(np.float32).eps * np.abs(p0).max()
        actual = np.asarray(current[name], np.float64) - p0
        np.testing.assert_allclose(actual, expected[name] - p0, rtol=1e-4, atol=atol, err_msg=name)


def test_factoring_rule_and_state_shapes():
    assert factored_dims((128, 300)) == (0, 1)
    assert factored_dims((260, 130)) == (1, 0)
    assert factored_dims((8, 32)) is None and factored_dims((512,)) is None and factored_dims((2, 128, 128)) is None
    state = adafactor(make_schedule("constant", learning_rate=1e-3)).init(make_params(np.random.default_rng(1)))
    assert state.row["wide"].shape == (128,) and state.col["wide"].shape == (300,)
    assert state.row["tall"].shape == (130,) and state.col["tall"].shape == (260,)
    assert state.v["narrow"].shape == (8, 32) and state.v["wide"].shape == (1,)


def test_update_is_invariant_to_gradient_scale():
    """Why the summed (unnormalised) loss is harmless (reference §4.1 / quirk 22)."""
    params = make_params(np.random.default_rng(2))
    grads = jax.tree.map(lambda p: jnp.asarray(np.random.default_rng(3).normal(size=p.shape), jnp.float32), params)
    optimizer = adafactor(make_schedule("constant", learning_rate=1e-2))
    state = optimizer.init(params)
    a, _ = optimizer.update(grads, state, params)
    b, _ = optimizer.update(jax.tree.map(lambda g: g * 1000.0, grads), state, params)
    for name in params:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-12)


def test_schedules():
    rsqrt = make_schedule("rsqrt")
    assert float(rsqrt(0)) == pytest.approx(0.01) and float(rsqrt(10_000)) == pytest.approx(0.01)
    assert float(rsqrt(80_000)) == pytest.approx(1 / np.sqrt(80_000))
    assert float(make_schedule("constant", learning_rate=3e-3)(12345)) == pytest.approx(3e-3)
    with pytest.raises(SynptError, match="valid schedules: rsqrt, constant"):
        make_schedule("cosine")
    with pytest.raises(SynptError, match="positive learning_rate"):
        make_schedule("constant")
