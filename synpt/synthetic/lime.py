"""LIME (Wu et al. 2021): induct / deduct / abduct over random symbols, and the task `lime` mixing them (§2.9).

A block is one call of the C kernel `lime_kernel` (synpt/synthetic/native/lime.c; the samplers `lime_<mode>` of
`native.sample`): it draws and assembles every example, writes the rule variables in CPython's iteration order of
`set(pattern_chars)` (quirk 6) through its emulation of CPython 3.11's set, and applies the length check with
whole-example rejection.
The task `lime` is the equal-rate mixture of the three modes: global example i is example i // 3 of mode i % 3.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synpt.errors import SynptError
from synpt.synthetic import native
from synpt.synthetic.sampling import Ragged, make_pool
from synpt.synthetic.task import SyntheticTask
from synpt.tasks.registry import register_task

log = logging.getLogger(__name__)
_POOL = make_pool(None)  # LIME always draws its symbols from the whole pool

MODES = ("induct", "deduct", "abduct")
COLON, SEP, UPPER, OPEN, LOWER, MATH, CLOSE = range(32000, 32007)
"""The seven structural symbols, `<extra_id_99>`..`<extra_id_93>` (reference §2.1)."""
OLD_SYMBOL_BASE = 31900


class LimeTask(SyntheticTask):
    """The `lime` mixture; its parts are the three modes, in `pretraining_data/lime/<mode>_{train,valid}.txt`."""

    family = "lime"
    common_options = {"source": "stream", "length_range": (0, 220)}

    @property
    def parts(self) -> tuple[str, ...]:
        return MODES

    def _part_files(self, data_root: Path, part: str) -> tuple[Path, Path]:
        folder = Path(data_root) / "pretraining_data" / "lime"
        return folder / f"{part}_train.txt", folder / f"{part}_valid.txt"

    def _check_option(self, key, value):
        if key == "length_range":
            try:
                lo, hi = (int(x) for x in (value.split(",") if isinstance(value, str) else value))
            except (TypeError, ValueError):
                raise SynptError(f"length_range must be two integers 'lo,hi', got {value!r}") from None
            if not 0 <= lo <= 68 < hi:
                raise SynptError(f"LIME length_range ({lo}, {hi}) must satisfy 0 <= lo <= 68 < hi")
            return lo, hi
        return super()._check_option(key, value)

    def _generate(self, rng, count, part, seed):
        lo, hi = self.options["length_range"]
        inputs, targets = native.sample(f"lime_{part}", rng.bytes(32), count, lo, hi, _POOL)
        if count and not len(inputs):  # none of the first 50 * (count + count // 8 + 8) candidates fitted
            raise SynptError(f"LIME length_range ({lo}, {hi}) admits no {part} example; widen it")
        return inputs, targets

    def _on_load(self, inputs: Ragged, targets: Ragged, path: Path) -> None:
        """Detect which symbol ids a LIME file uses (quirk 8) and log it."""
        values = np.concatenate([inputs.values, targets.values])
        if np.any((values >= COLON) & (values <= CLOSE)):
            log.info("%s: LIME structural symbols use ids 32000..32006 (current reference code)", path)
        elif np.any(values[inputs.offsets] == OLD_SYMBOL_BASE + (UPPER - COLON)):
            log.warning(
                "%s: LIME structural symbols use ids 31900..31906 (older reference revision); these ids are also "
                "ordinary pieces, so symbols and content may collide",
                path,
            )
        else:
            log.warning("%s: no LIME structural symbols found (neither 32000..32006 nor 31900..31906)", path)


register_task(LimeTask("lime"))
