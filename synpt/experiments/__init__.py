"""Experiments: the fine-tuning driver with the paper's selection rule, the tables and plots, and studies.

* `plan.py`: a fine-tuning run planned without JAX (request -> RunSpec: settings, model, init, labels, resume);
* `finetune.py`: the `synpt finetune` recipe (plan -> init -> train, decoding at each eval -> results.json);
* `inference.py`: the decoded evals, the trainer's `on_eval` hook of a fine-tuning run;
* `selection.py`: checkpoint-selection rules over a run's metrics.jsonl;
* `report.py` / `plots.py`: Tables 1-3 with "% of the natural benefit", CSV/JSON, validation-curve and benefit PNGs;
* `profiles.py` / `study_spec.py` / `pretraining.py` / `study.py` / `study_report.py`: `synpt study` (and
  `synpt quickstart`, its smallest profile): named sizes, the validated spec, pre-training to a plateau, the
  resumable grid runner, and its report;
* `stats.py` / `verdicts.py` / `evidence.py`: 95 % intervals, the paired bootstrap % of benefit, verdict rules,
  and their tables for any set of fine-tuning runs (`synpt study` and `synpt report`);
* the CLI arguments of `finetune`, `report`, `study` and `quickstart` are in synpt/cli/experiments.py.
"""
