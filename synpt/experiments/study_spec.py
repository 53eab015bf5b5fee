"""A study's spec: profile + optional TOML file + command-line overrides -> a validated, resolved `StudySpec`.

Why resolve and validate everything first: a study runs for an hour; a typo in a row, a scheme or a task must end
it in the first second, with the valid names, not after the pre-training. The resolved spec is written to
OUT/study.json and a re-run must match it (more seeds excepted), so one OUT never mixes two designs.

TOML keys (all optional): `profile`, `seeds`, `tasks` (names), `rows` (row syntax of profiles.py), `model`,
`[pretrain.<task>]` (fields of PretrainRow to change, e.g. `steps = 3000`), `[finetune.<task>]` with `gin` (extra
KEY=VALUE overrides, appended), `vocab` and `metrics`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synpt.errors import SynptError
from synpt.experiments.plan import FROM_SCRATCH, parse_gin_bindings
from synpt.experiments.profiles import DownstreamTask, PretrainRow, Profile, get_profile
from synpt.experiments.report import RANDOM_ROW

STUDY_FILE = "study.json"
SPEC_KEYS = ("profile", "seeds", "tasks", "rows", "model", "pretrain", "finetune")


@dataclass(frozen=True)
class TableRow:
    """One row of the study's tables: how its fine-tuning runs are initialised."""

    label: str
    init: str  # from_scratch, all, all_but_embedding or a statistics scheme id
    pretrain: str | None = None  # the pre-training row (canonical task name) whose checkpoint it uses
    pre_attn_ln_value: float | None = None
    natural: bool = False

    @property
    def directory(self) -> str:
        """A file-system-safe name of the row."""
        return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in self.label.replace(" ← ", "_from_"))


@dataclass(frozen=True)
class StudySpec:
    profile: str
    model: str
    pretrain: tuple[PretrainRow, ...]  # only the rows some table row uses
    rows: tuple[TableRow, ...]
    tasks: tuple[DownstreamTask, ...]
    seeds: int
    data_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples -> lists, as read back from study.json

    def design(self) -> dict[str, Any]:
        """What must match for a re-run to continue the same study: everything but the seeds and the data dir."""
        return {k: v for k, v in self.to_json().items() if k not in ("seeds", "data_dir")}


def _canonical_pretrain_task(name: str, data_dir) -> str:
    from synpt.catalog import get_task, task_aliases, task_names

    downstream = set(task_names("downstream"))
    canonical = task_aliases().get(name, name)
    if canonical in task_names() and canonical not in downstream:
        return get_task(canonical, data_dir).name
    pretraining = [n for n in task_names() if n not in downstream]
    raise SynptError(
        f"unknown pre-training row {name!r}; valid rows: random, ln=VALUE, a pre-training task "
        f"({', '.join(pretraining)}) or SCHEME<-TASK"
    )


def parse_row(text: str, profile: Profile, data_dir=None) -> tuple[TableRow, PretrainRow | None]:
    """A table row from the row syntax (profiles.py), and the pre-training row it needs."""
    from synpt.init.schemes import get_scheme, scheme_names

    text = text.strip()
    if text == "random":
        return TableRow(RANDOM_ROW, FROM_SCRATCH), None
    if text.startswith("ln="):
        try:
            value = float(text[3:])
        except ValueError:
            raise SynptError(f"row {text!r}: ln= takes a number, e.g. ln=0.4") from None
        return TableRow(f"pre-attn LN = {value:g}", FROM_SCRATCH, pre_attn_ln_value=value), None
    scheme = None
    if "<-" in text:
        scheme_name, text = (part.strip() for part in text.split("<-", 1))
        try:
            scheme = get_scheme(scheme_name)
        except SynptError:
            schemes = [name for name in scheme_names() if name != "mimetic"]
            raise SynptError(
                f"unknown statistics scheme {scheme_name!r} in a row; valid: {', '.join(schemes)}"
            ) from None
    pretrain = profile.pretrain_row(_canonical_pretrain_task(text, data_dir))
    if scheme is not None:
        return TableRow(f"{scheme.paper_name} ← {pretrain.label}", scheme.init_id, pretrain.task), pretrain
    return TableRow(pretrain.label, pretrain.transfer, pretrain.task, natural=pretrain.natural), pretrain


def _downstream_task(name: str, profile: Profile, data_dir) -> DownstreamTask:
    from synpt.catalog import get_task, task_names

    known = {task.name: task for task in profile.tasks}
    if name in known:
        return known[name]
    try:
        task = get_task(name, data_dir)
    except SynptError:
        task = None
    if task is None or task.family != "downstream":
        raise SynptError(
            f"unknown downstream task {name!r}; valid: {', '.join(task_names('downstream'))} or a folder "
            "DATA_DIR/finetuning_data/<name>/"
        )
    template = profile.tasks[0]
    return DownstreamTask(task.name, template.gin_bindings, (task.settings.paper_metric,), template.vocab)


def _with_pretrain_overrides(profile: Profile, overrides: dict[str, dict], data_dir) -> Profile:
    """The profile with the TOML file's `[pretrain.<task>]` changes applied to its pre-training rows."""
    fields = {f.name for f in dataclasses.fields(PretrainRow)} - {"task"}
    changed = {row.task: row for row in profile.pretrain}
    for name, changes in overrides.items():
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise SynptError(
                f"[pretrain.{name}]: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}"
            )
        row = profile.pretrain_row(_canonical_pretrain_task(name, data_dir))
        if "options" in changes:
            changes = {**changes, "options": option_tuples(changes["options"])}
        changed[row.task] = dataclasses.replace(row, **changes)
    return dataclasses.replace(profile, pretrain=tuple(changed.values()))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python >= 3.11; the package supports 3.10, where only spec files are unavailable
    except ImportError:
        raise SynptError("study spec files need Python >= 3.11 (tomllib); use --rows/--tasks/--seeds") from None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SynptError(f"study spec {path}: {err}") from None


def option_tuples(options: dict[str, Any]) -> dict[str, Any]:
    """TOML/JSON lists back to the tuples task options use (e.g. length_range)."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in options.items()}


def resolve_spec(
    profile: str = "quickstart",
    *,
    spec_file: str | Path | None = None,
    seeds: int | None = None,
    tasks: list[str] | None = None,
    rows: list[str] | None = None,
    data_dir: str | None = None,
) -> StudySpec:
    """The validated study: the profile, changed by the TOML file, changed by the command-line overrides."""
    file: dict[str, Any] = {}
    if spec_file is not None:
        file = _read_toml(Path(spec_file))
        unknown = sorted(set(file) - set(SPEC_KEYS))
        if unknown:
            raise SynptError(
                f"study spec {spec_file}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(SPEC_KEYS)}"
            )
    base = get_profile(file.get("profile", profile))
    seeds = seeds if seeds is not None else file.get("seeds", base.seeds)
    if not isinstance(seeds, int) or seeds < 1:
        raise SynptError(f"seeds must be a positive integer, got {seeds!r}")
    base = _with_pretrain_overrides(base, file.get("pretrain", {}), data_dir)
    table_rows, pretrain_rows = [], {}
    for text in rows or file.get("rows") or base.rows:
        row, pretrain = parse_row(text, base, data_dir)
        if pretrain is not None:
            pretrain_rows[pretrain.task] = pretrain
        if row.label in {r.label for r in table_rows}:
            raise SynptError(f"row {text!r} repeats the row {row.label!r}")
        table_rows.append(row)
    if not any(r.label == RANDOM_ROW for r in table_rows):
        raise SynptError("a study needs the row random (Random Init): every % of benefit is measured from it")
    task_list = []
    finetune = file.get("finetune", {})
    for name in tasks or file.get("tasks") or [t.name for t in base.tasks]:
        task = _downstream_task(name, base, data_dir)
        extra = finetune.get(task.name, {})
        unknown = sorted(set(extra) - {"gin", "vocab", "metrics"})
        if unknown:
            raise SynptError(f"[finetune.{task.name}]: unknown key(s) {', '.join(unknown)}; valid: gin, vocab, metrics")
        task = dataclasses.replace(
            task,
            gin_bindings=(*task.gin_bindings, *extra.get("gin", ())),
            vocab=extra.get("vocab", task.vocab),
            metrics=tuple(extra.get("metrics", task.metrics)),
        )
        parse_gin_bindings(task.gin_bindings)  # refuse a bad override now, not after the pre-training
        task_list.append(task)
    return StudySpec(
        profile=base.name,
        model=file.get("model", base.model),
        pretrain=tuple(pretrain_rows.values()),
        rows=tuple(table_rows),
        tasks=tuple(task_list),
        seeds=seeds,
        data_dir=data_dir,
    )


def check_same_study(out: Path, spec: StudySpec) -> None:
    """Refuse an OUT that holds another study; more seeds than before is the one change allowed."""
    path = out / STUDY_FILE
    if not path.is_file():
        return
    previous = json.loads(path.read_text())
    design = spec.design()
    differences = [key for key in design if previous.get(key) != design[key]]
    if differences:
        raise SynptError(
            f"{out} holds another study (its {', '.join(differences)} differ from this spec; see {path}); only "
            "--seeds may grow. Choose another --out, or delete that directory to start over"
        )
    if spec.seeds < previous.get("seeds", 0):
        raise SynptError(f"{out} was run with {previous['seeds']} seeds; --seeds may grow, not shrink")
