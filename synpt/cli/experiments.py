"""CLI of the experiments stage: `synpt finetune`, `synpt report`, `synpt quickstart`.

Only argument parsing lives here; the work is in finetune.py, report.py / plots.py and quickstart.py, imported when
the command runs so that `synpt report` never loads JAX.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synpt.cli.run_options import add_progress_option, add_run_options
from synpt.errors import SynptError


def finetune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fine-tune a T5 on a downstream task with the paper's settings and selection rule: the eval step with the "
        "best teacher-forced validation accuracy (earliest on ties), and the decoded metrics at that step, are "
        "written to OUT/results.json, and the operative config to OUT/config.gin. Re-running resumes an unfinished "
        "run and skips a finished one. The gin macros of synpt train work here too (--gin_file, "
        "--gin_search_paths, --gin.KEY=VALUE): MODEL_DIR, MIXTURE_OR_TASK_NAME, SEED, MODEL, "
        "INITIAL_CHECKPOINT_PATH (= --out, --task, --seed, --model, --ckpt; a flag wins), TRAIN_STEPS, "
        "BATCH_SIZE, LEARNING_RATE, EVAL_PERIOD (or PERIOD), TASK_FEATURE_LENGTHS (or INPUT_LEN / TARGET_LEN), "
        "EVALUATOR_NUM_EXAMPLES, MAX_DECODE_LENGTH, EVAL_STEPS, TRAIN_EXAMPLES, DROPOUT_RATE, Z_LOSS, BEAM_SIZE, "
        "PACK, PADDING, KEEP_CHECKPOINTS, LOG_EVERY, GRAD_ACCUM, TRACKERS."
    )
    parser.add_argument("--task", help="downstream task, e.g. code_translation, squad, g2p (or MIXTURE_OR_TASK_NAME)")
    parser.add_argument(
        "--init",
        default="from_scratch",
        help="from_scratch (Random Init), all / all_but_embedding (transfer the weights of --ckpt), or a statistics "
        "scheme id or alias (e.g. per_param_grouping___init_mean_std; statistics from --ckpt). Default from_scratch",
    )
    parser.add_argument("--ckpt", help="pre-trained run directory, checkpoint_<step> directory or params directory")
    parser.add_argument(
        "--transfer",
        choices=("all", "all_but_embedding"),
        help="copy the weights of --ckpt before a statistics scheme (rarely wanted); --init all|all_but_embedding "
        "is the usual way to transfer",
    )
    parser.add_argument(
        "--pre-attn-ln-value",
        type=float,
        help="set every pre-attention layer-norm scale to this constant after the init (Table 3; paper default 0.4)",
    )
    parser.add_argument(
        "--model", help="model preset for runs without --ckpt (default t5_small; tiny with --scale tiny)"
    )
    parser.add_argument(
        "--vocab", help="tokenize with t5, bytes or a SentencePiece .model file (default: the task's vocabulary)"
    )
    parser.add_argument("--steps", type=int, help="training steps (default: the task's paper setting)")
    parser.add_argument("--out", type=Path, help="run directory: checkpoints, metrics, results.json (or MODEL_DIR)")
    parser.add_argument("--seed", type=int, help="seed of the init, data order and dropout (default 0, or SEED)")
    parser.add_argument("--data-dir", help="data directory (default $SYNPT_DATA_DIR, else ./data)")
    parser.add_argument(
        "--scale",
        choices=("paper", "tiny"),
        default="paper",
        help="paper: the paper's per-task settings; tiny: the same pipeline shrunk to run in minutes on a CPU",
    )
    parser.add_argument(
        "--paper-table",
        choices=("table1", "table2", "table3"),
        help="which table's per-task settings to use (they differ for code translation's evaluator size and SQuAD "
        "packing); default: table2 for a statistics scheme, table3 for --pre-attn-ln-value, else table1",
    )
    parser.add_argument("--natural", action="store_true", help="mark this run as the natural pre-training reference")
    parser.add_argument("--row", help="row label for synpt report (default: derived from the init and checkpoint)")
    parser.add_argument(
        "--ckpt-label", help="name of the checkpoint in row labels (default: its pre-training task, else dir name)"
    )
    add_run_options(parser)


def finetune_main(args: argparse.Namespace) -> int:
    from synpt.experiments.finetune import run_finetune
    from synpt.experiments.plan import request_from_args

    request = request_from_args(args)
    run_finetune(request, progress=not args.no_progress)
    return 0


def report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Build the paper's Tables 1-3 from the results.json of fine-tuning runs (searched recursively under each "
        "RUN_DIR): scores (mean ± SD over seeds), averages, and the % of the natural pre-training benefit, "
        "100 * (score - Random Init) / (natural - Random Init), per task and averaged; then the statistics of "
        "synpt study (mean ± 95 % CI, % of benefit with a paired bootstrap CI, verdicts; runs paired by seed) for "
        "the teacher-forced validation accuracy and the shown metric. Random Init is every run "
        "with --init from_scratch and no other change; natural rows are runs fine-tuned with --natural or rows "
        "named with --natural-row. With --pretrain-step, print the selected step of pre-training run(s) instead."
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="directories holding fine-tuning runs")
    parser.add_argument(
        "--natural-row",
        action="append",
        default=[],
        metavar="NAME",
        help="row label to use as the natural pre-training reference (repeatable; for each task the first listed "
        "row that has it wins, e.g. a T5v1.1 row for cnndm_10k before a T5-small row)",
    )
    parser.add_argument(
        "--metric",
        help="show this decoded metric (at each run's selected step) instead of the paper metric, e.g. f1",
    )
    parser.add_argument(
        "--out", type=Path, help="also write tables.md, tables.csv, tables.json, runs.csv and plots here"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the validation-curve PNGs")
    parser.add_argument(
        "--pretrain-step",
        choices=("max", "99"),
        help="print the step of max validation accuracy (max) or the first with accuracy >= --threshold (99) of "
        "each pre-training RUN_DIR (its metrics.jsonl)",
    )
    parser.add_argument("--threshold", type=float, default=0.99, help="accuracy threshold of --pretrain-step 99")


def report_main(args: argparse.Namespace) -> int:
    if args.pretrain_step:
        return _print_pretrain_steps(args)
    from synpt.experiments import report

    results = report.find_results(args.run_dirs)
    if not results:
        raise SynptError(
            f"no results.json under {', '.join(map(str, args.run_dirs))}; runs write it when synpt finetune finishes"
        )
    from synpt.experiments import evidence

    tables = report.build_tables(results, args.natural_row, metric=args.metric)
    names = report.metric_names(results, args.metric)
    analysis = evidence.analyse(
        results, {task: [*evidence.accuracy_if_recorded(results, task), metric] for task, metric in names.items()},
        natural_rows=args.natural_row,
    )  # fmt: skip
    markdown = report.to_markdown(tables, names) + "\n## Statistics (95 % CIs, paired by seed)\n\n"
    markdown += evidence.to_markdown(analysis)
    print(markdown)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "tables.md").write_text(markdown + "\n", encoding="utf-8")
        record = report.to_json(tables) | {"statistics": evidence.to_json(analysis)}
        (args.out / "tables.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        report.write_csv(tables, args.out / "tables.csv")
        evidence.write_runs_csv(results, args.out / "runs.csv", args.natural_row)
        written = [args.out / name for name in ("tables.md", "tables.csv", "tables.json", "runs.csv")]
        if not args.no_plots:
            from synpt.experiments.plots import plot_benefit, plot_validation_curves

            written += plot_validation_curves(results, args.out, args.metric)
            written += [path for path in [plot_benefit(analysis, args.out)] if path is not None]
        print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _print_pretrain_steps(args: argparse.Namespace) -> int:
    from synpt.experiments.selection import first_step_reaching, max_accuracy_step
    from synpt.train.logging import read_metrics

    status = 0
    for run_dir in args.run_dirs:
        records = read_metrics(run_dir)
        if args.pretrain_step == "max":
            print(max_accuracy_step(records))
            continue
        step = first_step_reaching(records, args.threshold)
        if step is None:
            print(f"{run_dir}: validation accuracy never reached {args.threshold}")
            status = 1
        else:
            print(step)
    return status


def _study_options(parser: argparse.ArgumentParser, *, out_default: Path | None) -> None:
    parser.add_argument("--seeds", type=int, help="fine-tuning seeds 0..N-1 per row (default: the profile's)")
    parser.add_argument("--tasks", help="downstream tasks, comma-separated (default: the profile's)")
    parser.add_argument(
        "--rows",
        help="table rows, comma-separated: random, ln=0.4, a pre-training task id (transfer all_but_embedding), "
        "SCHEME<-TASK (default: the profile's)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="cells run at once, one thread each (default 1)")
    parser.add_argument("--out", type=Path, default=out_default, required=out_default is None, help="study directory")
    parser.add_argument("--data-dir", help="data directory (default $SYNPT_DATA_DIR, else ./data)")
    add_progress_option(parser)


def study_arguments(parser: argparse.ArgumentParser) -> None:
    from synpt.experiments.profiles import PROFILES

    parser.description = (
        "Run a study: pre-training rows (each once, until its plateau) x init rows x downstream tasks x paired "
        "seeds, one ordinary run directory per cell, resumable (finished cells are skipped), then print each "
        "row's mean ± 95 % CI, its % of the natural benefit with a paired bootstrap CI, and the verdicts on the "
        "paper's findings; writes tables.md, tables.json, runs.csv and benefit.png into --out. Profiles: "
        + "; ".join(f"{name}: {profile.description}" for name, profile in PROFILES.items())
    )
    parser.add_argument("--profile", default="cpu", help="named sizes and rows (default cpu)")
    parser.add_argument("--spec", type=Path, help="TOML file changing the profile (see docs/experiments.md)")
    _study_options(parser, out_default=None)


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _run_study(args: argparse.Namespace, profile: str, spec_file: Path | None) -> float:
    """Resolve, run and report a study; returns its wall time in seconds."""
    import time

    from synpt.experiments.study import run_study
    from synpt.experiments.study_report import write_study_report
    from synpt.experiments.study_spec import resolve_spec

    spec = resolve_spec(
        profile, spec_file=spec_file, seeds=args.seeds, tasks=_split(args.tasks), rows=_split(args.rows),
        data_dir=args.data_dir,
    )  # fmt: skip
    started = time.perf_counter()
    run_study(spec, args.out, jobs=args.jobs, progress=not args.no_progress)
    markdown = write_study_report(spec, args.out)
    print("\n" + markdown)
    print(f"[study] wrote {args.out / 'tables.md'}, tables.json, runs.csv and benefit.png")
    return time.perf_counter() - started


def study_main(args: argparse.Namespace) -> int:
    _run_study(args, args.profile, args.spec)
    return 0


def quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The study in miniature, offline on a CPU (`synpt study --profile quickstart`; meant to take at most 15 "
        "minutes on 2 cores): pre-train a tiny T5 on natural text and on Set until their plateaus, fine-tune on g2p "
        "from Random Init, natural, Set, Per Param Scale <- Set and pre-attention LN = 0.4 over 3 paired seeds, "
        "and print mean ± 95 % CI, the % of natural benefit and the verdicts."
    )
    _study_options(parser, out_default=Path("quickstart_out"))


def quickstart_main(args: argparse.Namespace) -> int:
    seconds = _run_study(args, "quickstart", None)
    print(
        f"[quickstart] done in {seconds / 60:.1f} min. The full CPU study (2 tasks, 5 seeds): "
        "synpt study --profile cpu --out study_cpu --jobs 2"
    )
    return 0
