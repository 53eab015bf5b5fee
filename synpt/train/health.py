"""Warnings about a run that is going nowhere, read from the values of each train log line (no extra device work).

Why: a learning rate far too high (say 1e6) leaves the loss at its initial value (about ln(vocab), a uniform guess)
while the weights blow up; nothing is NaN, so the run would waste its budget silently. Two simple rules, each
warned about once per session:

* stuck loss: at least `STUCK_AFTER_STEPS` (20) steps and two log periods after the session's first log line, the
  loss is not `STUCK_TOLERANCE` (2%) below that line's, or it is within 1% of ln(vocab size), the loss of a uniform
  guess (a model that learns anything at all gets below both within a few steps);
* exploding gradients: the gradient norm is above `EXPLODING_FACTOR` (100) times the session's first logged one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

STUCK_TOLERANCE = 0.02
STUCK_AFTER_STEPS = 20
EXPLODING_FACTOR = 100.0


class TrainingHealth:
    """Watches the train log lines of one session and warns (through `warn`) when a rule above fires."""

    def __init__(self, warn: Callable[[str], None], vocab_size: int):
        self.warn = warn
        self.uniform_loss = math.log(vocab_size)
        self.first: tuple[int, float, float] | None = None  # step, loss, grad_norm of the first log line
        self.periods = 0
        self.warned: set[str] = set()

    def _once(self, rule: str, message: str) -> None:
        if rule not in self.warned:
            self.warned.add(rule)
            self.warn(f"[train] warning: {message}")

    def observe(self, step: int, values: dict[str, float]) -> None:
        loss, grad_norm = values["loss"], values["grad_norm"]
        if self.first is None:
            self.first = (step, loss, grad_norm)
            return
        self.periods += 1
        first_step, first_loss, first_norm = self.first
        not_learning = loss >= (1 - STUCK_TOLERANCE) * first_loss or abs(loss / self.uniform_loss - 1) <= 0.01
        if self.periods >= 2 and step - first_step >= STUCK_AFTER_STEPS and not_learning:
            self._once(
                "stuck",
                f"the loss is {loss:.4g} at step {step} ({first_loss:.4g} at step {first_step}; a uniform guess "
                f"scores {self.uniform_loss:.4g}): the model is not learning (a learning rate far too high or too "
                "low, or targets that do not depend on the inputs?)",
            )
        if math.isfinite(first_norm) and first_norm > 0 and grad_norm > EXPLODING_FACTOR * first_norm:
            self._once(
                "exploding",
                f"the gradient norm is {grad_norm:.3g} at step {step}, over {EXPLODING_FACTOR:g}x its {first_norm:.3g} "
                f"at step {first_step}: training is diverging (lower the learning rate?)",
            )
