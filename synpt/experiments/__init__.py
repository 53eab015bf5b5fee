"""Experiments: the fine-tuning driver with the paper's selection rule, the tables and plots, and the quickstart.

* `plan.py`: a fine-tuning run planned without JAX (request -> RunSpec: settings, model, init, labels, resume);
* `finetune.py`: the `synpt finetune` recipe (plan -> init -> train, decoding at each eval -> results.json);
* `inference.py`: the decoded evals, the trainer's `on_eval` hook of a fine-tuning run;
* `selection.py`: checkpoint-selection rules over a run's metrics.jsonl;
* `report.py` / `plots.py`: Tables 1-3 with "% of the natural benefit", CSV/JSON, validation-curve PNGs;
* `quickstart.py`: the offline CPU demo (pre-train on Set, fine-tune on g2p from four inits);
* the CLI arguments of `finetune`, `report` and `quickstart` are in synpt/cli/experiments.py.
"""
