#!/usr/bin/env bash
# Regenerate the 18 simple synthetic pre-training tasks in the reference layout (reference §7.1, quirk 2 fixed):
#   $DATA/pretraining_data/simpler_tasks/<generator name>/{train,valid}.txt + manifest.json
# Paper settings: length range 10..220, 1,020,000 examples per task (the public reference script used 1,050,000),
# dedup by input, train = first 1,000,000 lines, valid = last 10,000 lines.
#
# Usage (from anywhere):
#   run_scripts_to_reproduce_experiments/data_scripts/generate_simpler_tasks_data.sh [--num-examples 1050000]
# Environment: SEED (default 0), WORKERS (default 1; the files are identical for any value),
#              SYNPT_DATA_DIR (default ./data under the repository root), TASKS (default: all 18),
#              TRAIN / VALID (default 1000000 / 10000; smaller values for a smoke test).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
NUM_EXAMPLES=1020000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --num-examples) NUM_EXAMPLES="$2"; shift 2 ;;
    --num-examples=*) NUM_EXAMPLES="${1#*=}"; shift ;;
    *) echo "unknown argument: $1 (only --num-examples N, e.g. 1050000)" >&2; exit 2 ;;
  esac
done
SEED="${SEED:-0}"
WORKERS="${WORKERS:-1}"
DATA_DIR="${SYNPT_DATA_DIR:-data}"
TASKS="${TASKS:-set copy delete sort union set_1_minus_2 set_2_minus_1 replace duplicate intersect reverse deduplicate last_char first_char search longest_word length count}"
SYNPT=".venv/bin/synpt"
if [[ ! -x "$SYNPT" ]]; then
  echo "synpt not found at $SYNPT; run ./setup.sh first" >&2
  exit 1
fi

for task in $TASKS; do
  "$SYNPT" generate --task "$task" --num-examples "$NUM_EXAMPLES" --train "${TRAIN:-1000000}" --valid "${VALID:-10000}" \
    --length-range 10,220 --seed "$SEED" --workers "$WORKERS" --out "$DATA_DIR"
done
echo "done: $DATA_DIR/pretraining_data/simpler_tasks"
