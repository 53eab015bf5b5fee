#!/usr/bin/env bash
# Download all of the paper's public data (pre-training and fine-tuning files, SQuAD v1.1, the T5 vocabulary)
# into DATA_DIR (default: $SYNPT_DATA_DIR, else data/ at the repository root), over HTTPS, resumably. Runnable from any directory.
# Equivalent of the reference's get_all_pretraining_and_finetuning_data_from_gcs.sh, without gsutil.
#
#   bash run_scripts_to_reproduce_experiments/data_scripts/get_all_pretraining_and_finetuning_data.sh [DATA_DIR]
#
# The pre-training files are about 25 GB. Rerun the same command to resume an interrupted download.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-${SYNPT_DATA_DIR:-$repo_root/data}}"
[[ "$dest" = /* ]] || dest="$PWD/$dest"  # relative paths are relative to where the script was called from
cd "$repo_root"
synpt_bin="$repo_root/.venv/bin/synpt"
[ -x "$synpt_bin" ] || synpt_bin="synpt"
"$synpt_bin" data download all --dest "$dest"
"$synpt_bin" data check "$dest"
