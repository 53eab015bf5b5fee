"""`synpt study`: run a grid of pre-training rows x init rows x downstream tasks x seeds, resumably, then report.

Cells and their run directories (each an ordinary run directory of `synpt pretrain` / `synpt finetune`):

* OUT/pretrain/<task>/: one per pre-training row, pre-trained once (seed 0) until its plateau (pretraining.py);
* OUT/finetune/<task>/<row>/seed_<s>/: one fine-tuning run per (downstream task, table row, seed).

Seeds are paired: fine-tuning seed s of every row has FinetuneRequest.seed = s, which fixes the training data order
(the epoch shuffle), the dropout stream, and the fresh random init that every scheme starts from (the transfer
and statistics schemes then overwrite what they overwrite; Random Init and pre-attn LN rows differ only in the LN
scales). Resume: a cell with results.json (plateau.json for pre-training) is skipped, an unfinished one continues
from its checkpoint. `--jobs N` runs N cells at once, each in a subprocess limited to one XLA/BLAS thread;
pre-training cells run first because fine-tuning needs their checkpoints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from synpt.atomic import write_json_atomic
from synpt.errors import SynptError
from synpt.experiments.pretraining import PLATEAU_FILE
from synpt.experiments.report import RESULTS_FILE
from synpt.experiments.study_spec import STUDY_FILE, StudySpec, TableRow, check_same_study, option_tuples

PRETRAIN_SEED = 0
SINGLE_THREAD_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TQDM_DISABLE": "1",
}


@dataclass(frozen=True)
class Cell:
    """One run of the study: a pre-training row, or a (task, row, seed) fine-tuning run."""

    kind: str  # "pretrain" or "finetune"
    name: str  # e.g. "pretrain/set" or "finetune/g2p/Set/seed_1"
    task: str
    row: TableRow | None = None
    seed: int = PRETRAIN_SEED

    def directory(self, out: Path) -> Path:
        return out / self.name

    def finished(self, out: Path) -> bool:
        return (self.directory(out) / (PLATEAU_FILE if self.kind == "pretrain" else RESULTS_FILE)).is_file()


def cells(spec: StudySpec) -> list[Cell]:
    """Every cell of the study, pre-training first."""
    out = [Cell("pretrain", f"pretrain/{row.task}", row.task) for row in spec.pretrain]
    for task in spec.tasks:
        for seed in range(spec.seeds):
            for row in spec.rows:
                out.append(Cell("finetune", f"finetune/{task.name}/{row.directory}/seed_{seed}", task.name, row, seed))
    return out


def finetune_request(spec: StudySpec, cell: Cell, out: Path):
    """The `synpt finetune` request of a fine-tuning cell."""
    from synpt.experiments.plan import FinetuneRequest

    task = next(t for t in spec.tasks if t.name == cell.task)
    row = cell.row
    ckpt = str(out / "pretrain" / row.pretrain) if row.pretrain else None
    return FinetuneRequest(
        task=task.name,
        out=cell.directory(out),
        init=row.init,
        ckpt=ckpt,
        pre_attn_ln_value=row.pre_attn_ln_value,
        model=None if ckpt else spec.model,
        vocab=task.vocab,
        seed=cell.seed,
        data_dir=spec.data_dir,
        natural=row.natural,
        row=row.label,
        ckpt_label=next((p.label for p in spec.pretrain if p.task == row.pretrain), None),
        gin_bindings=task.gin_bindings,
    )


def run_cell(spec: StudySpec, cell: Cell, out: Path, *, progress: bool = True) -> None:
    """Run (or resume) one cell in this process."""
    if cell.kind == "pretrain":
        from synpt.experiments.pretraining import pretrain_until_plateau

        row = next(p for p in spec.pretrain if p.task == cell.task)
        pretrain_until_plateau(
            row, spec.model, cell.directory(out), seed=PRETRAIN_SEED, data_dir=spec.data_dir, progress=progress
        )
    else:
        from synpt.experiments.finetune import run_finetune

        run_finetune(finetune_request(spec, cell, out), progress=progress)


def _run_cell_subprocess(cell: Cell, out: Path) -> None:
    """Run one cell in a child process limited to one thread; its output goes to OUT/logs/<cell>.log."""
    log = out / "logs" / (cell.name.replace("/", "__") + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "synpt.experiments.study", str(out), cell.name]
    with log.open("a", encoding="utf-8") as handle:
        status = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=_single_thread_env())
    if status.returncode:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise SynptError(f"study cell {cell.name} failed (exit {status.returncode}): {tail[0]}; full log: {log}")


def _single_thread_env() -> dict[str, str]:
    env = {**os.environ, **SINGLE_THREAD_ENV}
    env["XLA_FLAGS"] = " ".join(filter(None, (os.environ.get("XLA_FLAGS"), SINGLE_THREAD_ENV["XLA_FLAGS"])))
    return env


def load_spec(out: Path) -> StudySpec:
    """The StudySpec recorded in OUT/study.json."""
    from synpt.experiments.profiles import DownstreamTask, PretrainRow

    data = json.loads((out / STUDY_FILE).read_text())
    return StudySpec(
        profile=data["profile"],
        model=data["model"],
        pretrain=tuple(PretrainRow(**{**p, "options": option_tuples(p["options"])}) for p in data["pretrain"]),
        rows=tuple(TableRow(**r) for r in data["rows"]),
        tasks=tuple(
            DownstreamTask(**{**t, "gin_bindings": tuple(t["gin_bindings"]), "metrics": tuple(t["metrics"])})
            for t in data["tasks"]
        ),
        seeds=data["seeds"],
        data_dir=data["data_dir"],
    )


class _Progress:
    """One line per cell: done/total, the cell, its time, the study's elapsed time and an ETA."""

    def __init__(self, total: int, jobs: int, echo: Callable[[str], None]):
        self.total, self.jobs, self.echo = total, jobs, echo
        self.done = self.trained = 0
        self.trained_seconds = 0.0
        self.started = time.perf_counter()
        self.lock = threading.Lock()  # --jobs N reports from N threads

    def report(self, cell: Cell, seconds: float | None) -> None:
        with self.lock:
            self._report(cell, seconds)

    def _report(self, cell: Cell, seconds: float | None) -> None:
        self.done += 1
        if seconds is None:
            what = "skipped (finished already)"
        else:
            self.trained += 1
            self.trained_seconds += seconds
            what = f"done in {seconds:.0f} s"
        elapsed = time.perf_counter() - self.started
        eta = ""
        if self.trained:
            remaining = self.trained_seconds / self.trained * (self.total - self.done) / self.jobs
            eta = f", ETA {remaining / 60:.1f} min"
        self.echo(f"[study] {self.done}/{self.total} {cell.name}: {what} (elapsed {elapsed / 60:.1f} min{eta})")


def run_study(
    spec: StudySpec, out: str | Path, *, jobs: int = 1, progress: bool = True, echo: Callable[[str], None] = print
) -> list[Cell]:
    """Run every unfinished cell of `spec` under `out`; returns the cells that were trained in this call."""
    out = Path(out)
    if jobs < 1:
        raise SynptError(f"--jobs must be at least 1, got {jobs}")
    check_same_study(out, spec)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / STUDY_FILE, spec.to_json())
    all_cells = cells(spec)
    lines = _Progress(len(all_cells), jobs, echo)
    echo(
        f"[study] {spec.profile}: {len(spec.pretrain)} pre-training row(s) (seed {PRETRAIN_SEED}, until the plateau) "
        f"and {len(all_cells) - len(spec.pretrain)} fine-tuning runs ({len(spec.tasks)} task(s) x {len(spec.rows)} "
        f"rows x {spec.seeds} seeds) -> {out}"
    )
    trained: list[Cell] = []

    def one(cell: Cell) -> None:
        if cell.finished(out):
            lines.report(cell, None)
            return
        started = time.perf_counter()
        if jobs == 1:
            run_cell(spec, cell, out, progress=progress)
        else:
            _run_cell_subprocess(cell, out)
        trained.append(cell)
        lines.report(cell, time.perf_counter() - started)

    if jobs == 1:
        for cell in all_cells:  # pre-training first
            one(cell)
        return trained
    # Cells start in submission order: pre-training, then the rows that need no checkpoint (Random Init, LN), then
    # the rest, each of which waits for its own pre-training only. So a free worker fine-tunes Random Init while the
    # long natural pre-training still runs, and a waiting cell never holds back a pre-training cell (those never wait).
    needs = lambda cell: cell.row is not None and cell.row.pretrain is not None  # noqa: E731
    ordered = sorted(all_cells, key=lambda cell: (cell.kind != "pretrain", needs(cell)))
    with ThreadPoolExecutor(jobs) as pool:
        pretrained = {cell.task: pool.submit(one, cell) for cell in ordered if cell.kind == "pretrain"}

        def after_pretraining(cell: Cell) -> None:
            if needs(cell):
                pretrained[cell.row.pretrain].result()
            one(cell)

        for future in [pool.submit(after_pretraining, cell) for cell in ordered if cell.kind == "finetune"]:
            future.result()
        for future in pretrained.values():
            future.result()
    return trained


def pretrain_summaries(spec: StudySpec, out: Path) -> list[dict]:
    """Each pre-training row's plateau.json (where and why it stopped)."""
    return [json.loads((out / "pretrain" / row.task / PLATEAU_FILE).read_text()) for row in spec.pretrain]


def _main(argv: list[str]) -> int:
    """Child-process entry of `--jobs N`: run one cell of the study recorded in OUT/study.json."""
    out, name = Path(argv[0]), argv[1]
    spec = load_spec(out)
    cell = next(c for c in cells(spec) if c.name == name)
    run_cell(spec, cell, out, progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
