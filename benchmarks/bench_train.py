"""Train-step throughput: synpt (JAX, jit) vs Hugging Face transformers T5 (PyTorch eager), side by side; and a
device profile (tokens/s and MFU) for a GPU or TPU.

    .venv/bin/python benchmarks/bench_train.py [--steps 5] [--set-model tiny] [--set-batches 4]
    .venv/bin/python benchmarks/bench_train.py --device gpu      # or tpu: the device profile, a few minutes
    .venv/bin/python benchmarks/bench_train.py --device cpu --smoke  # the device profile at a tiny size, any machine

Device profile (`--device gpu|tpu`, no torch needed): t5_small in bfloat16 at batch 128, inputs 512 -> targets 114
(the paper's span-corruption shape, random tokens, no padding), then the Set pre-training profile (t5_small bf16,
batch 128, 512/512 Set examples, bucketed and packed batches). Each line gives real and padded tokens/s, seconds
per step and MFU against `synpt.train.logging.peak_flops_per_second` (model FLOPs of the padded batch shapes,
reference §8.1). Shapes are compiled before timing. `--smoke` shrinks everything (tiny model, batch 8, short
lengths, 2 steps) so that the code path can be checked on a CPU; its figures mean nothing.

Part 1, raw tokens/s (inputs + targets, padding included) on the same model config and the same full-length batch
of random tokens, fp32 on CPU: one synpt train step (forward, backward, Adafactor §4.1, jit) against HF
`T5ForConditionalGeneration` in train mode with `transformers.optimization.Adafactor(scale_parameter=True,
relative_step=False, warmup_init=False)`, the HF equivalent (it factors every 2-D parameter, ours only those with
both sides >= 128, as T5X). Both start from the same weights. Models: t5_small and tiny at batch 16 x (128, 128).

Part 2, real (non-pad) tokens/s on Set pre-training data: synpt with bucketed and with packed batches against
padding every example to 512/512 as the reference did (synpt and HF). Every bucket shape is compiled before
timing (a long run amortises compilation). Ratios are measured in this one run; CPU timings are noisy on a shared
machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from synpt.data.batching import batches
from synpt.model.config import get_config
from synpt.model.t5 import T5, init_params
from synpt.train.optimizer import adafactor
from synpt.train.schedules import make_schedule
from synpt.train.step import make_train_step


class OursTrainer:
    """A synpt train state and its jit'd step for one model config."""

    def __init__(self, config, params):
        schedule = make_schedule("constant", learning_rate=1e-3)
        optimizer = adafactor(schedule)
        self.step = make_train_step(T5(config), optimizer, schedule, z_loss=0.0, use_dropout=False)
        self.state = {
            "params": jax.tree.map(jnp.array, params),
            "opt_state": optimizer.init(params),
            "step": jnp.zeros((), jnp.int32),
            "rng": jax.random.key_data(jax.random.key(0)),
        }

    def run(self, batch_list) -> float:
        """Seconds for one pass over `batch_list` (already compiled shapes)."""
        start = time.perf_counter()
        for batch in batch_list:
            self.state, metrics = self.step(self.state, batch)
        jax.block_until_ready(metrics)
        return time.perf_counter() - start


class HFTrainer:
    """HF T5 in train mode (dropout off, as ours) with HF's Adafactor."""

    def __init__(self, config, params):
        import torch
        from transformers.optimization import Adafactor

        from synpt.model.hf import to_hf_model

        torch.set_num_threads(os.cpu_count() or 1)
        self.torch = torch
        self.model = to_hf_model(jax.device_get(params), config).train()
        self.optimizer = Adafactor(
            self.model.parameters(), lr=1e-3, scale_parameter=True, relative_step=False, warmup_init=False
        )

    def run(self, batch_list) -> float:
        torch = self.torch
        start = time.perf_counter()
        for batch in batch_list:
            inputs = torch.from_numpy(batch["encoder_input_tokens"]).long()
            targets = torch.from_numpy(batch["decoder_target_tokens"]).long()
            loss = self.model(
                input_ids=inputs,
                attention_mask=(inputs != 0).long(),
                decoder_input_ids=torch.from_numpy(batch["decoder_input_tokens"]).long(),
                decoder_attention_mask=(targets != 0).long(),
                labels=targets.masked_fill(targets == 0, -100),
            ).loss
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start


def random_batch(batch_size: int, input_length: int, target_length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    examples = [
        {
            "inputs": rng.integers(2, 32000, input_length).astype(np.int32),
            "targets": rng.integers(2, 32000, target_length).astype(np.int32),
        }
        for _ in range(batch_size)
    ]
    return next(
        batches(
            examples, batch_size=batch_size, input_length=input_length, target_length=target_length, padding="fixed"
        )
    )


def tokens(batch_list, *, real: bool) -> int:
    if real:
        return sum(
            int(np.count_nonzero(b["encoder_input_tokens"]) + np.count_nonzero(b["decoder_target_tokens"]))
            for b in batch_list
        )
    return sum(b["encoder_input_tokens"].size + b["decoder_target_tokens"].size for b in batch_list)


def timed(trainer, batch_list, *, repeats: int) -> float:
    trainer.run(batch_list)  # warm-up: compiles every shape (ours), allocates (HF)
    return min(trainer.run(batch_list) for _ in range(repeats))


def raw_throughput(preset: str, steps: int) -> None:
    config = get_config(preset, dropout_rate=0.0)
    params = init_params(config, 0)
    batch_list = [random_batch(16, 128, 128, seed=i) for i in range(steps)]
    ours = tokens(batch_list, real=False) / timed(OursTrainer(config, params), batch_list, repeats=2)
    hf = tokens(batch_list, real=False) / timed(HFTrainer(config, params), batch_list, repeats=2)
    print(
        f"{preset:>8} batch 16 x (128,128) fp32 CPU: synpt {ours:9.0f} tok/s | HF torch {hf:9.0f} tok/s | "
        f"ratio {ours / hf:.2f}x"
    )


def set_throughput(preset: str, num_batches: int, batch_size: int) -> None:
    from synpt.catalog import get_task

    config = get_config(preset, dropout_rate=0.0)
    params = init_params(config, 0)
    stream = lambda: get_task("set").examples("train", seed=0)
    results = {}
    for padding in ("bucket", "pack", "fixed"):
        made = batches(stream(), batch_size=batch_size, input_length=512, target_length=512, padding=padding)
        batch_list = list(itertools.islice(made, num_batches))
        seconds = timed(OursTrainer(config, params), batch_list, repeats=1)
        results[f"synpt {padding}"] = (tokens(batch_list, real=True) / seconds, len(batch_list))
        if padding == "fixed":
            seconds = timed(HFTrainer(config, params), batch_list, repeats=1)
            results["HF fixed 512/512"] = (tokens(batch_list, real=True) / seconds, len(batch_list))
    reference = results["synpt fixed"][0]
    hf = results["HF fixed 512/512"][0]
    print(f"Set, {preset}, batch {batch_size}, real (non-pad) tokens/s, {num_batches} batches per mode:")
    for name, (rate, _) in results.items():
        print(f"  {name:>18}: {rate:9.0f} tok/s  ({rate / reference:5.2f}x synpt fixed, {rate / hf:5.2f}x HF fixed)")


def profile_line(name: str, config, batch_list, seconds: float) -> str:
    from synpt.model.flops import train_flops_per_example
    from synpt.train.logging import peak_flops_per_second

    flops = sum(
        b["encoder_input_tokens"].shape[0]
        * train_flops_per_example(config, b["encoder_input_tokens"].shape[1], b["decoder_target_tokens"].shape[1])
        for b in batch_list
    )
    peak = peak_flops_per_second(jax.devices()[0].device_kind, config.dtype)
    mfu = f"MFU {flops / seconds / peak:6.1%}" if peak else "MFU n/a (unknown peak)"
    return (
        f"  {name:>34}: {tokens(batch_list, real=True) / seconds:10.0f} real tok/s | "
        f"{tokens(batch_list, real=False) / seconds:10.0f} padded tok/s | "
        f"{seconds / len(batch_list):.3f} s/step | {mfu}"
    )


def device_profile(steps: int, smoke: bool) -> None:
    """tokens/s and MFU of t5_small bf16 at 128 x (512 -> 114), and on Set pre-training batches (bucket, pack)."""
    from synpt.catalog import get_task

    preset, batch_size, lengths, steps = ("tiny", 8, (32, 8), 2) if smoke else ("t5_small", 128, (512, 114), steps)
    config = get_config(preset, dtype="bfloat16", dropout_rate=0.0)
    params = init_params(config, 0)
    print(f"device profile: {preset} bfloat16, batch {batch_size}{' (smoke: figures mean nothing)' * smoke}")
    batch_list = [random_batch(batch_size, *lengths, seed=i) for i in range(steps)]
    seconds = timed(OursTrainer(config, params), batch_list, repeats=2)
    print(profile_line(f"random {lengths[0]} -> {lengths[1]}", config, batch_list, seconds))
    set_length = 32 if smoke else 512
    for padding in ("bucket", "pack"):
        made = batches(
            get_task("set").examples("train", seed=0),
            batch_size=batch_size,
            input_length=set_length,
            target_length=set_length,
            padding=padding,
        )
        batch_list = list(itertools.islice(made, steps))
        seconds = timed(OursTrainer(config, params), batch_list, repeats=1)
        print(profile_line(f"Set pre-training {set_length}/{set_length} {padding}", config, batch_list, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per raw-throughput measurement")
    parser.add_argument("--set-model", default="tiny", help="model preset for the Set comparison")
    parser.add_argument("--set-batch-size", type=int, default=16)
    parser.add_argument("--set-batches", type=int, default=4, help="batches per padding mode in the Set comparison")
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "tpu"),
        help="run the device profile on this backend (refused when JAX runs elsewhere) instead of the CPU comparison",
    )
    parser.add_argument("--smoke", action="store_true", help="device profile at a tiny size (checks the code path)")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, {os.cpu_count()} CPU cores")
    if args.device or args.smoke:
        if args.device and jax.default_backend() != args.device:
            raise SystemExit(f"--device {args.device}, but JAX runs on {jax.default_backend()} ({jax.devices()})")
        device_profile(max(args.steps, 10), args.smoke)
        return
    for preset in ("tiny", "t5_small"):
        raw_throughput(preset, args.steps)
    set_throughput(args.set_model, args.set_batches, args.set_batch_size)


if __name__ == "__main__":
    main()
