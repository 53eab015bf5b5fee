"""FLOPs per token and per example against the numbers of reference §8.1 / §8.3 / §8.4."""

from __future__ import annotations

import pytest

from synpt.model.config import get_config
from synpt.model.flops import flops_per_token, train_flops_per_example, weights_per_token


def test_t5_small_per_token_weights_and_flops():
    encoder, decoder = weights_per_token(get_config("t5_small"))
    assert encoder == 6 * (4 * 512 * 512 + 2 * 512 * 2048) + 6 * 2 * 512 * 512  # 22.0 M
    assert decoder == 6 * (6 * 512 * 512 + 2 * 512 * 2048) + 32128 * 512  # 38.5 M
    enc_flops, dec_flops = flops_per_token(get_config("t5_small"))
    assert enc_flops / 1e6 == pytest.approx(132, abs=0.5) and dec_flops / 1e6 == pytest.approx(231, abs=0.5)


def test_t5_1_1_small_has_the_same_per_token_weights():
    assert weights_per_token(get_config("t5_1_1_small")) == weights_per_token(get_config("t5_small"))


@pytest.mark.parametrize(
    ("preset", "lengths", "gflop"),
    [("t5_small", (512, 512), 215), ("t5_small", (256, 256), 100), ("t5_1_1_small", (512, 128), 110)],
)
def test_train_flops_per_example_match_the_reference_tables(preset, lengths, gflop):
    assert train_flops_per_example(get_config(preset), *lengths) / 1e9 == pytest.approx(gflop, rel=0.01)
