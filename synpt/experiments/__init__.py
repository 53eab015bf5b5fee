"""Experiments: the fine-tuning driver with the paper's selection rule, the tables and plots, and the quickstart.

* `finetune.py`: `synpt finetune` (init -> train -> decode at each eval -> results.json);
* `selection.py`: checkpoint-selection rules over a run's metrics.jsonl;
* `report.py` / `plots.py`: Tables 1-3 with "% of the natural benefit", CSV/JSON, validation-curve PNGs;
* `quickstart.py`: the offline CPU demo (pre-train on Set, fine-tune on g2p from four inits);
* `commands.py`: the CLI arguments of `finetune`, `report` and `quickstart`.
"""
