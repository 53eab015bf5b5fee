"""Parameter roles by T5X name: the vocabulary that every init scheme is written in.

Why roles and not counts: the reference groups parameters with hard-coded counts (6 layers, "all parameters but
one") and so only works on tied 6+6-layer T5-small (reference quirk 10). Here every parameter name is parsed into
its role (token embedding, untied output layer, attention or MLP kernel, one of three kinds of layer norm, relpos
table) plus its stack and layer, and schemes select by role. That works for any depth, for T5 1.1 (`wi_0`/`wi_1`,
untied `decoder/logits_dense`) and gives exactly the reference membership on T5-small.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from synpt.errors import SynptError

TOKEN_EMBEDDING = "token_embedding"
OUTPUT_LAYER = "output_layer"
RELPOS = "relpos"
ATTENTION_KERNEL = "attention_kernel"
MLP_KERNEL = "mlp_kernel"
PRE_ATTENTION_NORM = "pre_attention_norm"
PRE_MLP_NORM = "pre_mlp_norm"
FINAL_NORM = "final_norm"

NORM_ROLES = frozenset({PRE_ATTENTION_NORM, PRE_MLP_NORM, FINAL_NORM})
EMBEDDING_ROLES = frozenset({TOKEN_EMBEDDING, OUTPUT_LAYER})
KERNEL_ROLES = frozenset({ATTENTION_KERNEL, MLP_KERNEL})

_LAYER = r"(?P<stack>encoder|decoder)/layers_(?P<layer>\d+)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern))
    for role, pattern in (
        (TOKEN_EMBEDDING, r"token_embedder/embedding"),
        (OUTPUT_LAYER, r"(?P<stack>decoder)/logits_dense/kernel"),
        (RELPOS, r"(?P<stack>encoder|decoder)/relpos_bias/rel_embedding"),
        (
            ATTENTION_KERNEL,
            _LAYER + r"/(?P<module>attention|self_attention|encoder_decoder_attention)"
            r"/(?P<kind>query|key|value|out)/kernel",
        ),
        (MLP_KERNEL, _LAYER + r"/(?P<module>mlp)/(?P<kind>wi|wi_0|wi_1|wo)/kernel"),
        (
            PRE_ATTENTION_NORM,
            _LAYER + r"/(?P<module>pre_attention_layer_norm|pre_self_attention_layer_norm"
            r"|pre_cross_attention_layer_norm)/scale",
        ),
        (PRE_MLP_NORM, _LAYER + r"/(?P<module>pre_mlp_layer_norm)/scale"),
        (FINAL_NORM, r"(?P<stack>encoder|decoder)/(?P<module>encoder_norm|decoder_norm)/scale"),
    )
)


_STACK_ORDER = {None: 0, "encoder": 1, "decoder": 2}


@dataclass(frozen=True)
class ParamRole:
    """What one parameter is, parsed from its T5X name.

    `module` is the sub-block (`attention`, `self_attention`, `encoder_decoder_attention`, `mlp` or the layer-norm
    name); `kind` is the projection (`query`/`key`/`value`/`out`, `wi`/`wi_0`/`wi_1`/`wo`).
    """

    name: str
    role: str
    stack: str | None = None
    layer: int | None = None
    module: str | None = None
    kind: str | None = None

    @property
    def is_norm(self) -> bool:
        return self.role in NORM_ROLES

    @property
    def is_cross_attention(self) -> bool:
        """Decoder cross-attention kernels and the layer norm in front of them."""
        return self.module in ("encoder_decoder_attention", "pre_cross_attention_layer_norm")


def parse_role(name: str) -> ParamRole:
    """The role of the parameter called `name` ("a/b/c"); unknown names are an error, never silently skipped."""
    for role, pattern in _PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            fields = match.groupdict()
            layer = fields.get("layer")
            return ParamRole(
                name=name,
                role=role,
                stack=fields.get("stack"),
                layer=None if layer is None else int(layer),
                module=fields.get("module"),
                kind=fields.get("kind"),
            )
    raise SynptError(
        f"parameter {name!r} is not a T5X T5 parameter name (reference §3.3), so no init scheme knows its role; "
        "expected e.g. 'encoder/layers_0/attention/query/kernel'. Load checkpoints with synpt (load_params / "
        "import_hf) so that names follow the T5X layout"
    )


def parse_roles(names: Iterable[str]) -> list[ParamRole]:
    """Roles of all `names` in model order (embedding, encoder, decoder; by layer, then name) so logs read naturally."""
    roles = [parse_role(name) for name in names]
    return sorted(roles, key=lambda r: (_STACK_ORDER[r.stack], -1 if r.layer is None else r.layer, r.name))


def check_source_matches(
    model: Mapping[str, Any], source: Mapping[str, Any], names: Iterable[str], *, what: str
) -> None:
    """Raise a SynptError naming the first parameter of `names` that the source lacks or has with another shape.

    `model` and `source` are flat name -> array maps; `what` says what the source is used for (for the message).
    """
    for name in names:
        if name not in source:
            raise SynptError(
                f"{what}: the source checkpoint has no parameter {name!r}, which the model has; the checkpoint was "
                "trained with another architecture (use a checkpoint of the same --model preset)"
            )
        model_shape, source_shape = tuple(np.shape(model[name])), tuple(np.shape(source[name]))
        if model_shape != source_shape:
            raise SynptError(
                f"{what}: parameter {name!r} has shape {source_shape} in the source checkpoint but {model_shape} in "
                "the model; use a checkpoint of the same --model preset"
            )
