"""A real SCALE=tiny table-script run on the real code translation data: Ctrl-C, re-run resumes, then skips."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synpt.train.logging import read_metrics

SCRIPT = (
    Path(__file__).resolve().parents[1]
    / "run_scripts_to_reproduce_experiments/training_scripts/finetuning/code_translation/table3_pre_attn_ln_exp.sh"
)


DEFAULT_SIGINT_THEN_BASH = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp('bash', ['bash', sys.argv[1]])"
)


def _logged(path: Path, event: str, step: int) -> bool:
    if not path.is_file():
        return False
    lines = [line for line in path.read_text().splitlines() if line.endswith("}")]
    return any(json.loads(line).get("event") == event and json.loads(line).get("step") == step for line in lines)


@pytest.mark.slow
def test_tiny_table_script_resumes_after_ctrl_c_and_skips_when_finished(tmp_path, shared_data_dir):
    data = tmp_path / "data"
    (data / "finetuning_data").mkdir(parents=True)
    (data / "finetuning_data" / "code_translation").symlink_to(shared_data_dir / "finetuning_data" / "code_translation")
    (data / "vocab").symlink_to(shared_data_dir / "vocab")
    run_dir = tmp_path / "run"
    env = dict(os.environ, SCALE="tiny", SYNPT_DATA_DIR=str(data), exp_dir=str(run_dir), init_pre_attn_ln_value="0.2")
    # A CI job started in the background inherits an ignored SIGINT, which bash and Python would keep ignoring:
    # a small launcher restores the default and then becomes bash, so the Ctrl-C below is a real Ctrl-C.
    first = subprocess.Popen(
        [sys.executable, "-c", DEFAULT_SIGINT_THEN_BASH, str(SCRIPT)], env=env, cwd=tmp_path, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 400
    # Ctrl-C right after the teacher-forced eval of step 10, while its decoding, its checkpoint (saved after the
    # eval) and 20 more steps are still to come: the re-run rewinds the logs, redoes step 10 and logs it once.
    while not _logged(run_dir / "metrics.jsonl", "eval", 10):
        assert first.poll() is None, first.stderr.read()
        assert time.monotonic() < deadline, "the first eval never came"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    first.wait(timeout=120)
    assert first.returncode != 0 and not (run_dir / "results.json").exists()

    again = subprocess.run(["bash", str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == "code_translation" and results["pre_attn_ln_value"] == 0.2
    assert results["paper_table"] == "table3" and results["scale"] == "tiny"
    eval_steps = [r["step"] for r in read_metrics(run_dir) if r["event"] == "eval"]
    assert sorted(set(eval_steps)) == [10, 20, 30]
    assert eval_steps.count(10) == 1, "the logs were not rewound to the restored step"
    inference_steps = [r["step"] for r in read_metrics(run_dir) if r["event"] == "inference"]
    assert sorted(inference_steps) == [10, 20, 30], "an eval was lost or logged twice"

    done = subprocess.run(["bash", str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "skip" in done.stdout
