"""Seconds this process has spent tracing, lowering and compiling XLA programs, from JAX's own monitoring events.

Why: a run's first log period (and the first of each new bucket shape) includes compilation, which made its
tokens/s meaningless; the trainer subtracts the compile time measured here and reports it apart (`compile_seconds`).
"""

from __future__ import annotations

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_total = [0.0]
_listening = [False]


def _record(event: str, seconds: float, **_kwargs) -> None:
    if event in _COMPILE_EVENTS:
        _total[0] += seconds


def compile_seconds() -> float:
    """Total compile seconds so far (counting starts with the first call; later differences are exact)."""
    if not _listening[0]:
        import jax

        jax.monitoring.register_event_duration_secs_listener(_record)
        _listening[0] = True
    return _total[0]
