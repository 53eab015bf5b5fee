"""Model parallelism that trains: MODEL_PARALLEL 2 and 4 on 8 fake CPU devices equal data parallelism.

One subprocess (8 devices need XLA_FLAGS before JAX starts) trains a tiny T5 for a few steps with each model-axis
size and reports every step's loss, the largest parameter difference to the data-parallel run, and the shardings
the trainer printed; a model axis that changed the arithmetic (or a rule that sharded nothing) would show here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import itertools, json, sys, tempfile
import jax, numpy as np
from synpt.catalog import get_task
from synpt.train.trainer import TrainConfig, train

task = get_task("identity").with_options(length_range=(1, 8))
stream = lambda start: task.examples("train", seed=0, start=start)
report = {}
for model_parallel in (1, 2, 4):
    config = TrainConfig(model="tiny", steps=3, batch_size=8, input_length=12, target_length=12, dropout_rate=0.0,
                         log_every=1, eval_period=1000, checkpoint_every=1000, model_parallel=model_parallel)
    with tempfile.TemporaryDirectory() as out:
        summary = train(config, model_dir=out, train_stream=stream, progress=False)
        losses = [json.loads(line)["loss"] for line in open(out + "/metrics.jsonl")]
    params = [np.asarray(x) for x in jax.tree.leaves(summary.params)]
    sharded = sum(len(x.sharding.device_set) > 1 and not x.sharding.is_fully_replicated
                  for x in jax.tree.leaves(summary.params))
    if model_parallel == 1:
        reference = params
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(params, reference))
    report[model_parallel] = {"losses": losses, "max_param_diff": diff, "sharded_leaves": int(sharded)}
print("REPORT " + json.dumps(report))
"""


def test_model_parallel_2_and_4_train_like_data_parallel():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", WORKER], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.split("REPORT ", 1)[1])
    reference = report["1"]
    assert len(reference["losses"]) == 3 and reference["losses"][-1] < reference["losses"][0]
    assert reference["sharded_leaves"] == 0
    for model_parallel in ("2", "4"):
        run = report[model_parallel]
        assert run["sharded_leaves"] > 0, "nothing was sharded over the model axis"
        np.testing.assert_allclose(run["losses"], reference["losses"], rtol=1e-5)
        assert run["max_param_diff"] < 1e-5, run
    # The trainer prints the shardings once per run: the model-axis layouts show up by spec.
    printed = done.stdout + done.stderr
    assert printed.count("parameter shardings over 8 devices") == 3
    assert "data 2 x model 4" in printed and "(None, 'model')" in printed
