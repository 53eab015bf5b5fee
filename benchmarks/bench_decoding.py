"""synpt decoding vs Hugging Face `generate` (same model, same batch, measured in one run), and the KV cache's gain.

Run: .venv/bin/python benchmarks/bench_decoding.py [--preset tiny] [--batch 8] [--input-length 128] [--decode 64]
Prints ms per batch (after compilation) of synpt greedy and beam 4, of HF `generate` (torch CPU, the model converted
with `to_hf_model`, greedy and beam 4, at most `--decode` new tokens: a random init of a 32k vocabulary almost never
emits EOS, so both run every step) and their ratios; and greedy decoding with the KV cache vs recomputing the decoder
every step.
The issue's goal: beam 4 at least 2x HF `generate`.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from synpt.model.config import get_config
from synpt.model.decoding import predict_batch
from synpt.model.t5 import T5, init_params


def naive_greedy(params, config, encoder_tokens, length: int) -> jax.Array:
    """Greedy decoding that reruns the full teacher-forced forward pass for every new token (no cache)."""
    model = T5(config)

    def step(t, decoded):
        decoder_input = jnp.pad(decoded[:, :-1], ((0, 0), (1, 0)))
        logits = model.apply({"params": params}, encoder_tokens, decoder_input)
        return decoded.at[:, t].set(jnp.argmax(logits[:, t], axis=-1).astype(jnp.int32))

    return jax.lax.fori_loop(0, length, step, jnp.zeros((encoder_tokens.shape[0], length), jnp.int32))


def hf_generate_seconds(params, config, tokens: np.ndarray, decode: int, beam: int, repeats: int) -> float:
    """Seconds per `generate` call of the same model in Hugging Face (torch CPU), up to `decode` new tokens."""
    import torch

    from synpt.model.hf import to_hf_model

    model = to_hf_model(params, config)
    input_ids = torch.tensor(tokens, dtype=torch.long)
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    options = dict(num_beams=beam, max_new_tokens=decode, do_sample=False)
    if beam > 1:
        options["early_stopping"] = "never"
    with torch.no_grad():
        model.generate(**inputs, **options)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model.generate(**inputs, **options)
    return (time.perf_counter() - start) / repeats


def timed(fn, repeats: int) -> tuple[float, jax.Array]:
    out = jax.block_until_ready(fn())  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        out = jax.block_until_ready(fn())
    return (time.perf_counter() - start) / repeats, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--input-length", type=int, default=128)
    parser.add_argument("--decode", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = get_config(args.preset, dropout_rate=0.0)
    params = init_params(config, 0)
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(2, config.vocab_size, (args.batch, args.input_length)), jnp.int32)

    def cached():
        return predict_batch(params, tokens, config=config, beam_size=1, max_decode_length=args.decode)[0][:, 0]

    def beam():
        return predict_batch(params, tokens, config=config, beam_size=4, max_decode_length=args.decode)[0]

    naive = jax.jit(lambda p, x: naive_greedy(p, config, x, args.decode))
    cached_s, cached_out = timed(cached, args.repeats)
    naive_s, naive_out = timed(lambda: naive(params, tokens), args.repeats)
    beam_s, _ = timed(beam, args.repeats)
    hf_greedy_s = hf_generate_seconds(params, config, np.asarray(tokens), args.decode, 1, args.repeats)
    hf_beam_s = hf_generate_seconds(params, config, np.asarray(tokens), args.decode, 4, args.repeats)
    cached_out, naive_out = np.asarray(cached_out), np.asarray(naive_out)
    same = all(
        (row_c[: list(row_c).index(1) + 1] if 1 in row_c else row_c).tolist()
        == (row_n[: list(row_n).index(1) + 1] if 1 in row_n else row_n).tolist()
        for row_c, row_n in zip(cached_out, naive_out, strict=True)
    )
    print(f"{args.preset}, batch {args.batch}, input {args.input_length}, decode {args.decode}, {jax.devices()[0]}")
    print(f"greedy with KV cache : {cached_s * 1e3:9.1f} ms/batch")
    print(f"greedy, no cache     : {naive_s * 1e3:9.1f} ms/batch  (same tokens: {same})")
    print(f"beam 4 with KV cache : {beam_s * 1e3:9.1f} ms/batch")
    print(f"HF generate, greedy  : {hf_greedy_s * 1e3:9.1f} ms/batch  (synpt {hf_greedy_s / cached_s:.2f}x faster)")
    print(f"HF generate, beam 4  : {hf_beam_s * 1e3:9.1f} ms/batch  (synpt {hf_beam_s / beam_s:.2f}x faster; goal 2x)")
    ended = int((cached_out == 1).any(axis=1).sum())
    print(f"speed-up of the cache: {naive_s / cached_s:.1f}x  (rows that emitted EOS: {ended} of {args.batch})")


if __name__ == "__main__":
    main()
