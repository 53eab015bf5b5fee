"""Multi-process start-up: join a `jax.distributed` cluster before any device is touched.

Why one module: every command that trains, evaluates or decodes must call `jax.distributed.initialize` before its
first device query (the device list of a multi-process run is the union over processes), with the same precedence of
sources everywhere: the flags `--coordinator-address/--num-processes/--process-id`, else the environment variables
`JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`, else JAX's own auto-detection when the environment
is a cluster it knows (a SLURM job step with several tasks, Open MPI, a multi-host Cloud TPU slice), else a plain
single-process run. The CLI calls `initialize_from_args` for the commands in `DISTRIBUTED_COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

from synpt.errors import SynptError

# CLI commands that can run as several processes (train, evaluate, decode) and so take the multi-process flags.
# `score` and `quickstart` stay single-process: every process would do (and print) the whole job.
DISTRIBUTED_COMMANDS = frozenset({"train", "pretrain", "finetune", "info"})

DEFAULT_HEARTBEAT_SECONDS = 100  # JAX's default: a process that stops answering for this long ends the others


@dataclass(frozen=True)
class ClusterSpec:
    """How to join: explicit coordinates, or `auto` (JAX detects them), or neither (single process)."""

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    auto: str | None = None  # the cluster environment JAX will read, e.g. "SLURM"
    heartbeat_seconds: int = DEFAULT_HEARTBEAT_SECONDS

    @property
    def is_multi_process(self) -> bool:
        return self.auto is not None or self.coordinator_address is not None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("multi-process (jax.distributed; omit on one machine)")
    group.add_argument("--coordinator-address", help="HOST:PORT of process 0 ($JAX_COORDINATOR_ADDRESS)")
    group.add_argument("--num-processes", type=int, help="number of processes ($JAX_NUM_PROCESSES)")
    group.add_argument("--process-id", type=int, help="this process's id, 0..N-1 ($JAX_PROCESS_ID)")
    group.add_argument(
        "--heartbeat-timeout",
        type=int,
        default=DEFAULT_HEARTBEAT_SECONDS,
        help=f"seconds after which a silent process ends the whole run (default {DEFAULT_HEARTBEAT_SECONDS})",
    )


def detected_cluster(environ: Mapping[str, str]) -> str | None:
    """The multi-process cluster environment JAX's auto-detection would read, or None on a single machine."""

    def count(name: str) -> int:
        value = environ.get(name, "1")
        return int(value) if value.isdigit() else 1

    if "SLURM_JOB_ID" in environ and count("SLURM_STEP_NUM_TASKS") * count("SLURM_NTASKS") > 1:
        return "SLURM"
    if count("OMPI_COMM_WORLD_SIZE") > 1:
        return "Open MPI"
    if "," in environ.get("TPU_WORKER_HOSTNAMES", ""):
        return "Cloud TPU"
    return None


def resolve(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    heartbeat_seconds: int = DEFAULT_HEARTBEAT_SECONDS,
    environ: Mapping[str, str] = os.environ,
) -> ClusterSpec:
    """The cluster to join from flags (first), then `JAX_*` environment variables, then auto-detection."""

    def from_env(value, name: str, kind=str):
        if value is not None or name not in environ:
            return value
        try:
            return kind(environ[name])
        except ValueError:
            raise SynptError(f"${name}={environ[name]!r} is not a valid {kind.__name__}") from None

    address = from_env(coordinator_address, "JAX_COORDINATOR_ADDRESS")
    count = from_env(num_processes, "JAX_NUM_PROCESSES", int)
    index = from_env(process_id, "JAX_PROCESS_ID", int)
    if heartbeat_seconds < 1:
        raise SynptError(f"--heartbeat-timeout must be >= 1 second, got {heartbeat_seconds}")
    if address is None and count is None and index is None:
        return ClusterSpec(auto=detected_cluster(environ), heartbeat_seconds=heartbeat_seconds)
    if address is None or count is None or index is None:
        raise SynptError(
            "a multi-process run needs --coordinator-address, --num-processes and --process-id together "
            f"(or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, $JAX_PROCESS_ID); got address={address}, "
            f"processes={count}, id={index}"
        )
    if count < 1 or not 0 <= index < count:
        raise SynptError(f"--process-id must be in [0, --num-processes), got {index} of {count}")
    return ClusterSpec(address, count, index, heartbeat_seconds=heartbeat_seconds)


def initialize(spec: ClusterSpec) -> None:
    """Join the cluster `spec` describes (no-op for a single process); must run before any device is touched."""
    if not spec.is_multi_process:
        return
    import jax

    try:
        jax.distributed.initialize(
            spec.coordinator_address,
            spec.num_processes,
            spec.process_id,
            heartbeat_timeout_seconds=spec.heartbeat_seconds,
        )
    except Exception as err:  # jaxlib raises plain RuntimeErrors/XlaRuntimeErrors here
        where = spec.coordinator_address or f"the {spec.auto} environment"
        raise SynptError(f"could not join the multi-process run at {where}: {str(err).splitlines()[0]}") from None
    print(
        f"[distributed] process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local "
        f"of {jax.device_count()} devices ({spec.coordinator_address or spec.auto})",
        flush=True,
    )


def initialize_from_args(args: argparse.Namespace) -> None:
    """`initialize` from the flags `add_arguments` defined (and the environment)."""
    initialize(
        resolve(
            args.coordinator_address,
            args.num_processes,
            args.process_id,
            heartbeat_seconds=args.heartbeat_timeout,
        )
    )


def is_main_process() -> bool:
    """True on process 0, the one process that writes logs, metrics, results and plots."""
    import jax

    return jax.process_index() == 0
