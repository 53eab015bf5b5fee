#!/usr/bin/env bash
# Pre-train T5-small on one synthetic task (the paper's pretrain.sh, reference §4.5 and §7.2).
# Edit the variables below or set them in the environment (the environment wins):
#   exp_dir: run directory (checkpoints, metrics.jsonl); empty = runs/pretraining/<task_id>
#   task_id: one of lime nonsense_summary nesting_language set identity delete sort union replace duplicate
#            intersect reverse deduplicate search longest_word length count first_token last_token
#            set1_minus_set2 set2_minus_set1
# Optional first argument: mas (print the step of max validation accuracy), 99 (the first step with accuracy
# >= 0.99), remove (delete exp_dir), exp_dir (print it). SCALE=tiny runs a CPU-sized check.
exp_dir=${exp_dir:-}
task_id=${task_id:-set}

source "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"
pretrain "$task_id" "$@"
