"""End to end with the T5 model: every padding mode gives each example the same loss.

Why this test: the point of bucketing and packing is that they change compute, not the loss. Padding has zero loss
weight and is masked out of attention, and packed segments only attend within themselves, so the per-example
summed token loss must be identical (to float32 round-off) whichever way the examples were batched.
"""

from __future__ import annotations

import numpy as np
import pytest

from synpt.data.batching import batches

jax = pytest.importorskip("jax")
t5 = pytest.importorskip("synpt.model.t5")
config_module = pytest.importorskip("synpt.model.config")

VOCAB = 64


def random_examples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "inputs": np.append(rng.integers(2, VOCAB, rng.integers(1, 14)), 1).astype(np.int32),
            "targets": np.append(rng.integers(2, VOCAB, rng.integers(0, 9)), 1).astype(np.int32),
        }
        for _ in range(count)
    ]


def per_example_losses(apply, batch: dict[str, np.ndarray]) -> list[float]:
    """Summed token cross-entropy of every example in `batch`, in stream order."""
    packing = {name: batch[name] for name in batch if "segment_ids" in name or "positions" in name}
    logits = apply(batch["encoder_input_tokens"], batch["decoder_input_tokens"], **packing)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    token_losses = -np.take_along_axis(np.asarray(log_probs), batch["decoder_target_tokens"][..., None], -1)[..., 0]
    token_losses *= batch["decoder_loss_weights"]
    if "decoder_segment_ids" not in batch:
        return [
            float(row.sum())
            for row, weights in zip(token_losses, batch["decoder_loss_weights"], strict=True)
            if weights.any()
        ]
    segments = batch["decoder_segment_ids"]
    return [
        float(token_losses[row][segments[row] == segment].sum())
        for row in range(len(segments))
        for segment in range(1, segments[row].max() + 1)
    ]


def test_fixed_bucket_and_packed_batches_give_every_example_the_same_loss() -> None:
    config = config_module.get_config("tiny", vocab_size=VOCAB, num_encoder_layers=1, num_decoder_layers=1)
    params = t5.init_params(config, 0)
    apply = jax.jit(lambda *args, **packing: t5.T5(config).apply({"params": params}, *args, **packing))
    examples = random_examples(12, seed=3)
    losses = {}
    for padding in ("fixed", "bucket", "pack"):
        options = {"input_buckets": [4, 8]} if padding == "bucket" else {}
        losses[padding] = [
            loss
            for batch in batches(examples, batch_size=4, input_length=24, target_length=12, padding=padding, **options)
            for loss in per_example_losses(apply, batch)
        ]
    assert len(losses["fixed"]) == len(examples)
    assert min(losses["fixed"]) > 0
    np.testing.assert_allclose(losses["bucket"], losses["fixed"], rtol=1e-5)
    np.testing.assert_allclose(losses["pack"], losses["fixed"], rtol=1e-5)
