"""Name-based sharding rules of the optional model axis (data parallelism itself is tested with 8 fake devices)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from jax.sharding import PartitionSpec as P

from synpt.errors import SynptError
from synpt.train.partitioning import leaf_spec, make_mesh


@pytest.mark.parametrize(
    "name, shape, spec",
    [
        ("encoder/layers_0/attention/query/kernel", (512, 512), P(None, "model")),
        ("decoder/layers_1/encoder_decoder_attention/out/kernel", (512, 512), P("model", None)),
        ("encoder/layers_0/mlp/wi_1/kernel", (512, 1024), P(None, "model")),
        ("decoder/layers_0/mlp/wo/kernel", (2048, 512), P("model", None)),
        ("token_embedder/embedding", (32128, 512), P("model", None)),
        ("v/encoder/layers_0/mlp/wi/kernel", (512, 2048), P(None, "model")),  # Adafactor stats follow their param
        ("row/encoder/layers_0/mlp/wi/kernel", (512,), P()),  # factored vectors are replicated
        ("encoder/relpos_bias/rel_embedding", (8, 32), P()),
        ("encoder/layers_0/attention/query/kernel", (512, 6), P()),  # not divisible: replicated
    ],
)
def test_model_axis_rules(name, shape, spec):
    mesh = SimpleNamespace(shape={"data": 2, "model": 4})
    assert leaf_spec(name, shape, mesh) == spec
    assert leaf_spec(name, shape, SimpleNamespace(shape={"data": 8, "model": 1})) == P()


def test_mesh_needs_a_dividing_model_axis():
    assert make_mesh(1).axis_names == ("data", "model")
    with pytest.raises(SynptError, match="must divide the number of devices"):
        make_mesh(3)
