"""Multi-process start-up choices (flags, then JAX_* variables, then cluster auto-detection) and `synpt info`.

Joining a real cluster is tested in test_train_multiprocess.py; here only the decisions, on fake environments.
"""

from __future__ import annotations

import jax
import pytest

from synpt import cli
from synpt.errors import SynptError
from synpt.train.distributed import ClusterSpec, detected_cluster, resolve


def test_single_machine_joins_nothing():
    spec = resolve(environ={})
    assert spec == ClusterSpec() and not spec.is_multi_process


def test_flags_win_over_the_environment():
    environ = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}
    assert resolve(environ=environ) == ClusterSpec("10.0.0.1:1234", 4, 3)
    assert resolve("h:1", 2, 1, environ=environ) == ClusterSpec("h:1", 2, 1)
    assert resolve(process_id=0, environ=environ).process_id == 0


@pytest.mark.parametrize(
    "environ, cluster",
    [
        ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2"}, "SLURM"),
        ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1"}, None),  # a one-task job is one machine
        ({"OMPI_COMM_WORLD_SIZE": "8"}, "Open MPI"),
        ({"TPU_WORKER_HOSTNAMES": "t1,t2,t3,t4"}, "Cloud TPU"),
        ({"TPU_WORKER_HOSTNAMES": "localhost"}, None),
        ({}, None),
    ],
)
def test_cluster_auto_detection(environ, cluster):
    assert detected_cluster(environ) == cluster
    assert resolve(environ=environ).auto == cluster


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(coordinator_address="h:1"), "needs --coordinator-address, --num-processes and --process-id together"),
        (dict(coordinator_address="h:1", num_processes=2, process_id=2), r"must be in \[0, --num-processes\)"),
        (dict(environ={"JAX_NUM_PROCESSES": "two"}), r"\$JAX_NUM_PROCESSES='two' is not a valid int"),
        (dict(heartbeat_seconds=0), "must be >= 1 second"),
    ],
)
def test_incomplete_or_bad_cluster_settings_are_user_errors(kwargs, message):
    with pytest.raises(SynptError, match=message):
        resolve(**{"environ": {}, **kwargs})


def test_info_prints_jax_devices_mesh_and_peak(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"jax {jax.__version__}, backend cpu" in out
    assert "process 0 of 1" in out
    assert f"mesh (--model-parallel 1): {jax.device_count()} devices as data {jax.device_count()} x model 1" in out
    assert "bfloat16 unknown (no MFU logged)" in out  # CPU: no peak, so no MFU


def test_info_refuses_a_mesh_that_does_not_fit_and_half_given_cluster_flags(capsys):
    assert cli.main(["info", "--model-parallel", str(jax.device_count() + 1)]) == 2
    assert "must divide the number of devices" in capsys.readouterr().err
    assert cli.main(["info", "--num-processes", "2"]) == 2
    assert "together" in capsys.readouterr().err
