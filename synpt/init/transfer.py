"""Full weight transfer from a pre-trained checkpoint (reference §6.1 step 3).

Why the mode is explicit and always logged: the released fine-tuning scripts load *all* weights, embedding included,
while the authors' internal main-table runs loaded all but the embedding (reference quirk 9). Which one a result used
changes what it means, so the caller must choose and the choice is recorded with the checkpoint.

* `from_scratch`: nothing is copied (Random Init);
* `all`: every parameter, the token embedding included, comes from the checkpoint ("released-script compatible");
* `all_but_embedding`: every parameter except the token embedding and, for T5 1.1, the untied output layer
  `decoder/logits_dense/kernel`, which keep their fresh random init. In tied T5-small that also resets the output
  projection. Only the copied parameters must match the model, so the vocabulary size may differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synpt.errors import SynptError
from synpt.init.groups import EMBEDDING_ROLES, OUTPUT_LAYER, check_source_matches, parse_role

FROM_SCRATCH = "from_scratch"
TRANSFER_ALL = "all"
TRANSFER_ALL_BUT_EMBEDDING = "all_but_embedding"
TRANSFERS = (FROM_SCRATCH, TRANSFER_ALL, TRANSFER_ALL_BUT_EMBEDDING)


def check_transfer(mode: str, *, has_source: bool) -> None:
    """Reject an unknown mode or a copying mode without a source checkpoint."""
    if mode not in TRANSFERS:
        raise SynptError(f"unknown --transfer {mode!r}; valid: {', '.join(TRANSFERS)}")
    if mode != FROM_SCRATCH and not has_source:
        raise SynptError(f"--transfer {mode} copies weights from a checkpoint: pass --ckpt CKPT")


def transfer_weights(
    fresh: Mapping[str, Any], source: Mapping[str, Any] | None, mode: str
) -> tuple[dict[str, Any], list[str]]:
    """Copy parameters of the flat `source` tree into the flat `fresh` tree according to `mode`.

    Returns the new flat tree and log lines. Copied arrays are the source's objects; kept ones are `fresh`'s.
    """
    check_transfer(mode, has_source=source is not None)
    if mode == FROM_SCRATCH:
        return dict(fresh), [f"transfer={FROM_SCRATCH}: every parameter keeps its fresh random init"]
    kept = [] if mode == TRANSFER_ALL else [name for name in fresh if parse_role(name).role in EMBEDDING_ROLES]
    copied = [name for name in fresh if name not in kept]
    what = f"--transfer {mode}"
    check_source_matches(fresh, source, copied, what=what)
    unused = [
        name
        for name in sorted(set(source) - set(fresh))
        if mode == TRANSFER_ALL or parse_role(name).role not in EMBEDDING_ROLES
    ]
    if unused:
        raise SynptError(
            f"{what}: the source checkpoint has parameter {unused[0]!r} that the model lacks; the checkpoint was "
            "trained with another architecture (use a checkpoint of the same --model preset)"
        )
    params = dict(fresh)
    params.update({name: source[name] for name in copied})
    log = [f"transfer={mode}: copied {len(copied)} arrays from the checkpoint"]
    if kept:
        tied = "" if any(parse_role(name).role == OUTPUT_LAYER for name in kept) else " (tied: output layer too)"
        log.append(f"transfer={mode}: kept the fresh random init of {', '.join(kept)}{tied}")
    return params, log
