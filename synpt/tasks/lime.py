"""LIME (Wu et al. 2021): induct / deduct / abduct over random symbols, and the task `lime` mixing them (§2.9).

Every random number of a block is drawn up front with numpy (68 distinct ids per example, the pattern, the
substitutions); only the assembly of each example runs in Python, because the order of the rule variables is
CPython's set iteration order of `set(pattern_chars)` (quirk 6), which the reference writes into the data.
The task `lime` is the equal-rate mixture of the three modes: global example i is example i // 3 of mode i % 3.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synpt.errors import SynptError
from synpt.tasks.registry import register_task
from synpt.tasks.sampling import Ragged, distinct_tokens, make_pool
from synpt.tasks.synthetic import SyntheticTask

log = logging.getLogger(__name__)

MODES = ("induct", "deduct", "abduct")
COLON, SEP, UPPER, OPEN, LOWER, MATH, CLOSE = range(32000, 32007)
"""The seven structural symbols, `<extra_id_99>`..`<extra_id_93>` (reference §2.1)."""
OLD_SYMBOL_BASE = 31900
NUM_UPPER, NUM_LOWER, NUM_MATH = 24, 24, 20
_MAX_CHARS, _MAX_MATH, _MAX_SUBST = 5, 19, 8


def _draw(rng: np.random.Generator, count: int, pool: np.ndarray) -> dict[str, list]:
    """All random numbers of `count` candidate examples, as Python lists for the assembly loop."""
    symbols = distinct_tokens(rng, pool, np.full(count, NUM_UPPER + NUM_LOWER + NUM_MATH)).values
    return {
        "symbols": symbols.reshape(count, -1).tolist(),
        "num_chars": rng.integers(3, _MAX_CHARS + 1, count).tolist(),
        "num_math": rng.integers(5, _MAX_MATH + 1, count).tolist(),
        "char_pick": rng.random((count, 2 * _MAX_CHARS)).tolist(),
        "math_pick": rng.integers(0, NUM_MATH, (count, _MAX_MATH)).tolist(),
        "shuffle_keys": rng.random((count, 2 * _MAX_CHARS + _MAX_MATH)).tolist(),
        "subst_len": rng.integers(2, _MAX_SUBST + 1, (count, _MAX_CHARS)).tolist(),
        "subst_pick": rng.integers(0, NUM_LOWER + NUM_MATH, (count, _MAX_CHARS, _MAX_SUBST)).tolist(),
    }


def _example(d: dict, i: int, mode: str) -> tuple[list[int], list[int], int]:
    """Assemble example i of a draw in `mode`: (input, target, commas of subst_str that the length check counts)."""
    symbols = d["symbols"][i]
    upper, lower, math = symbols[:NUM_UPPER], symbols[NUM_UPPER:48], symbols[48:]
    num_chars = d["num_chars"][i]
    variables = upper[:num_chars]
    pattern_chars = [variables[int(p * num_chars)] for p in d["char_pick"][i][: 2 * num_chars]]
    used = list(set(pattern_chars))  # CPython set order, as the reference writes it
    unshuffled = pattern_chars + [math[j] for j in d["math_pick"][i][: d["num_math"][i]]]
    keys = d["shuffle_keys"][i]
    pattern = [t for _, t in sorted(zip(keys, unshuffled, strict=False))]
    lower_math = lower + math
    substitution = {
        var: [lower_math[j] for j in d["subst_pick"][i][v][: d["subst_len"][i][v]]] for v, var in enumerate(used)
    }
    result = [s for t in pattern for s in substitution.get(t, [t])]
    header = [UPPER, *used, LOWER, *lower, MATH, *math, SEP]
    subst_str = [s for var in used for s in (var, COLON, OPEN, *substitution[var], CLOSE)]
    if mode == "induct":
        return header + result + [SEP] + subst_str, pattern, len(used) - 1
    if mode == "deduct":
        return header + pattern + [SEP] + subst_str, result, len(used) - 1
    return header + pattern + [SEP] + result, subst_str, len(used) - 1


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
        pool = make_pool(None)
        inputs, targets, rounds = [], [], 0
        while len(inputs) < count:
            want = count - len(inputs)
            draw = _draw(rng, want + want // 8 + 8, pool)
            for i in range(len(draw["num_chars"])):
                src, tgt, commas = _example(draw, i, part)
                # The reference counts symbols before stripping the commas between substitution entries.
                extra_src, extra_tgt = (0, commas) if part == "abduct" else (commas, 0)
                if lo <= len(src) + extra_src <= hi and lo <= len(tgt) + extra_tgt <= hi:
                    inputs.append(src)
                    targets.append(tgt)
                    if len(inputs) == count:
                        break
            rounds += 1
            if rounds >= 50 and not inputs:
                raise SynptError(f"LIME length_range ({lo}, {hi}) admits no example; widen it")
        return Ragged.from_lists(inputs), Ragged.from_lists(targets)

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
