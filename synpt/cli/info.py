"""`synpt info`: what this machine (or this process of a multi-process run) offers a training run.

Why: before launching a long or multi-host job, one command shows the JAX version and backend, the devices every
process sees, the ("data", "model") mesh a run with `--model-parallel N` would build, and the peak FLOP/s that the
MFU figures of the training logs are relative to (none on CPU).
"""

from __future__ import annotations

import argparse


def info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-parallel", type=int, default=1, help="devices per model replica of the mesh to show (default 1)"
    )


def info_main(args: argparse.Namespace) -> int:
    import jax

    from synpt.train.logging import peak_flops_per_second
    from synpt.train.partitioning import describe_mesh, make_mesh

    devices = jax.devices()
    kind = devices[0].device_kind
    peaks = {dtype: peak_flops_per_second(kind, dtype) for dtype in ("bfloat16", "float32")}
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    print(f"process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local devices")
    print(f"devices: {len(devices)} x {kind} ({', '.join(str(d) for d in devices[:8])}{' ...' * (len(devices) > 8)})")
    print(f"mesh (--model-parallel {args.model_parallel}): {describe_mesh(make_mesh(args.model_parallel))}")
    described = [f"{dtype} {peak:.3g}" if peak else f"{dtype} unknown (no MFU logged)" for dtype, peak in peaks.items()]
    print(f"assumed peak FLOP/s per device: {', '.join(described)}")
    return 0
