"""Fault injection: tiny pre-training and fine-tuning runs killed with SIGKILL at random moments, then re-run.

Why: "kill -9 at any moment and rerun the same command" is the promise of every run directory (docs/training.md).
This script breaks it on purpose, many times: each victim run is killed once or twice, at a random moment, while a
checkpoint is being written (an orbax temporary directory exists) or while an eval runs (the train line of an eval
step is logged, its eval is not), and re-run until it finishes. It then compares every victim with an uninterrupted
run of the same command and prints counts (never timings, so a loaded machine does not matter):

    kills, resumes                 how often a run was killed, and re-run after a kill
    duplicate log lines            (event, step) pairs logged twice in metrics.jsonl or TensorBoard: must be 0
    missing / differing log lines  records the uninterrupted run has and the victim lacks, or holds other values
    corrupt states                 re-runs that failed, found a damaged checkpoint, or left a temporary dir: must be 0
    bit-identical final params     victims whose final parameters equal the uninterrupted run's, bit for bit

Usage: `python benchmarks/fault_injection.py --runs 20 [--finetune-runs 6] [--seed 0] [--work DIR]`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

TIMING_KEYS = {"seconds_per_step", "tokens_per_second", "padded_tokens_per_second", "mfu", "compile_seconds"}
MOMENTS = ("random", "checkpoint", "eval")


def pretrain_command(out: Path) -> list[str]:
    """24 steps of a tiny T5 on short identity examples; LOG_EVERY 5 is not a multiple of the checkpoint period."""
    return [
        sys.executable, "-m", "synpt", "pretrain", "--task", "identity", "--model", "tiny", "--steps", "24",
        "--batch-size", "8", "--seed", "3", "--out", str(out), "--checkpoint-every", "6", "--eval-every", "6",
        "--gin.TASK_FEATURE_LENGTHS={'inputs': 12, 'targets': 12}", "--gin.TASK_OPTIONS={'length_range': (1, 8)}",
        "--gin.LOG_EVERY=5", "--gin.EVAL_STEPS=1",
    ]  # fmt: skip


def finetune_command(out: Path) -> list[str]:
    """12 steps of tiny g2p fine-tuning with a decoded eval (greedy, 4 examples) and a checkpoint every 4 steps."""
    return [
        sys.executable, "-m", "synpt", "finetune", "--task", "g2p", "--scale", "tiny", "--out", str(out),
        "--gin.TRAIN_STEPS=12", "--gin.EVAL_PERIOD=4", "--gin.EVALUATOR_NUM_EXAMPLES=4", "--gin.BEAM_SIZE=1",
        "--gin.EVAL_STEPS=1", "--gin.KEEP_CHECKPOINTS=None",
    ]  # fmt: skip


COMMANDS = {"pretrain": (pretrain_command, 6), "finetune": (finetune_command, 4)}  # kind -> (command, eval period)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT), JAX_PLATFORMS="cpu", TQDM_DISABLE="1")


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a half-written last line of a killed run
            records.append(json.loads(line))
    return records


def _in_eval(run_dir: Path, eval_period: int, last_eval_event: str) -> bool:
    """Whether the run is evaluating: the last record is the train line (or a first eval line) of an eval step."""
    records = _records(run_dir)
    if not records:
        return False
    last = records[-1]
    return last["step"] % eval_period == 0 and last["event"] in {"train", "eval"} - {last_eval_event}


def _moment_reached(run_dir: Path, moment: str, kind: str, deadline: float) -> bool:
    if moment == "checkpoint":
        return any(run_dir.glob("checkpoint_*.orbax-checkpoint-tmp*"))
    if moment == "eval":
        return _in_eval(run_dir, COMMANDS[kind][1], "inference" if kind == "finetune" else "eval")
    return time.time() >= deadline


def run_killed(command: list[str], run_dir: Path, moment: str, kind: str, delay: float) -> bool:
    """Start `command`, SIGKILL it when `moment` comes; True if it was killed (False: it finished first)."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + delay
    while process.poll() is None:
        if _moment_reached(run_dir, moment, kind, deadline):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    return False


def run_to_end(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=900)


def duplicate_lines(run_dir: Path) -> int:
    """(event, step) pairs logged more than once, in metrics.jsonl plus TensorBoard (resume marks excepted)."""
    from synpt.train.logging import event_step, read_tfrecords

    counts = collections.Counter((r["event"], r["step"]) for r in _records(run_dir) if r["event"] != "resume")
    duplicates = sum(n - 1 for n in counts.values())
    for folder in (run_dir / "tensorboard").glob("*"):
        steps = collections.Counter(
            event_step(r) for f in folder.glob("events.out.tfevents.*") for r in read_tfrecords(f.read_bytes())[1:]
        )
        duplicates += sum(n - 1 for n in steps.values())
    return duplicates


def differing_lines(victim: Path, reference: Path) -> int:
    """Records of the reference that the victim lacks or holds with other values (timings aside), and extras."""
    strip = lambda rs: {
        (r["event"], r["step"]): {k: v for k, v in r.items() if k not in TIMING_KEYS}
        for r in rs
        if r["event"] != "resume"
    }
    want, got = strip(_records(reference)), strip(_records(victim))
    return sum(got.get(key) != value for key, value in want.items()) + len(set(got) - set(want))


def same_params(victim: Path, reference: Path) -> bool:
    import jax
    import numpy as np

    from synpt.train.checkpoints import load_params

    a, b = load_params(victim)[0], load_params(reference)[0]
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)


def corrupt_state(run_dir: Path, outputs: list[str], finished: subprocess.CompletedProcess) -> str | None:
    if finished.returncode != 0:
        return f"exit {finished.returncode}: {finished.stderr.strip().splitlines()[-1:]}"
    if any("is damaged" in text for text in outputs):
        return "a damaged checkpoint was found"
    if (run_dir / "damaged").exists() or any(run_dir.glob("*.orbax-checkpoint-tmp*")):
        return "a damaged or temporary checkpoint directory is left"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="victim runs in all (default 20)")
    parser.add_argument("--finetune-runs", type=int, default=6, help="how many of them fine-tune (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="synpt_faults_"))
    kinds = ["finetune"] * args.finetune_runs + ["pretrain"] * (args.runs - args.finetune_runs)
    rng.shuffle(kinds)

    references, durations = {}, {}
    for kind in sorted(set(kinds)):
        make, _ = COMMANDS[kind]
        references[kind] = work / f"reference_{kind}"
        start = time.time()
        done = run_to_end(make(references[kind]))
        assert done.returncode == 0, done.stderr[-3000:]
        durations[kind] = time.time() - start

    totals = collections.Counter()
    problems = []
    for index, kind in enumerate(kinds):
        make, _ = COMMANDS[kind]
        run_dir = work / f"victim_{index:02d}_{kind}"
        command = make(run_dir)
        outputs = []
        for _ in range(rng.choice((1, 2))):
            moment = MOMENTS[totals["kill attempts"] % len(MOMENTS)]
            totals["kill attempts"] += 1
            if run_killed(command, run_dir, moment, kind, rng.uniform(0.1, 1.0) * durations[kind]):
                totals["kills"] += 1
                totals[f"kills during {moment}"] += 1
        finished = run_to_end(command)
        outputs.append(finished.stderr)
        totals["resumes"] += 1
        corrupt = corrupt_state(run_dir, outputs, finished)
        if corrupt:
            totals["corrupt states"] += 1
            problems.append(f"{run_dir.name}: {corrupt}")
            continue
        totals["duplicate log lines"] += duplicate_lines(run_dir)
        totals["missing or differing log lines"] += differing_lines(run_dir, references[kind])
        totals["bit-identical final params"] += same_params(run_dir, references[kind])
        totals[f"{kind} runs"] += 1
        print(f"[{index + 1}/{len(kinds)}] {run_dir.name}: {dict(totals)}", flush=True)

    print(f"fault injection: {len(kinds)} victim runs ({totals['pretrain runs']} pretrain, {totals['finetune runs']} "
          f"finetune completed), work dir {work}")  # fmt: skip
    keys = ["kills", *(f"kills during {m}" for m in MOMENTS), "resumes", "duplicate log lines"]
    keys += ["missing or differing log lines", "corrupt states", "bit-identical final params"]
    for key in keys:
        suffix = f" / {len(kinds)}" if key == "bit-identical final params" else ""
        print(f"  {key:32s} {totals[key]}{suffix}")
    for problem in problems:
        print(f"  problem: {problem}")
    healthy = not problems and totals["duplicate log lines"] == 0 and totals["missing or differing log lines"] == 0
    return 0 if healthy and totals["bit-identical final params"] == len(kinds) else 1


if __name__ == "__main__":
    sys.exit(main())
