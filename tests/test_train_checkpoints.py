"""Params-only checkpoints (`save_params` / `load_params`) and the three kinds of path `load_params` accepts."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.model.config import get_config
from synpt.model.t5 import init_params
from synpt.train.checkpoints import load_params, save_params
from synpt.train.run_dir import checkpoint_steps
from synpt.train.trainer import TrainConfig, train
from tests.test_train_trainer import TINY, copy_stream


def assert_same_params(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_save_and_load_params_roundtrip(tmp_path):
    config = get_config("tiny_1_1", dropout_rate=0.0)
    params = init_params(config, 3)
    save_params(tmp_path / "init", params, config, metadata={"scheme": "test"})
    loaded, loaded_config = load_params(tmp_path / "init")
    assert loaded_config == config
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    assert_same_params(loaded, params)
    with pytest.raises(SynptError, match="already holds a params checkpoint"):
        save_params(tmp_path / "init", params, config)


def test_load_params_from_run_dir_and_checkpoint_dir(tmp_path):
    config = TrainConfig(**{**TINY, "steps": 4, "checkpoint_every": 2, "keep_checkpoints": 1})
    summary = train(config, model_dir=tmp_path, train_stream=copy_stream, progress=False)
    assert checkpoint_steps(tmp_path) == [4]  # keep 1
    from_run, run_config = load_params(tmp_path)
    from_checkpoint, _ = load_params(tmp_path / "checkpoint_4")
    assert run_config == config.model_config()
    assert_same_params(from_run, summary.params)
    assert_same_params(from_checkpoint, summary.params)


def test_load_params_errors(tmp_path):
    with pytest.raises(SynptError, match="does not exist"):
        load_params(tmp_path / "missing")
    with pytest.raises(SynptError, match="holds no checkpoint"):
        load_params(tmp_path)
