# Shared library of the table scripts: each script sets its variables and calls one function below.
#
# Why one library: the paper's repo had one utils/*.sh per (task, table) with the per-task numbers copied into
# each; here the numbers live in synpt (synpt/downstream/settings.py), and the scripts differ only in their variables.
#
# Conventions (docs/experiments.md):
#   * every script cds to the repository root, so relative paths (exp_dir, ckpt) are relative to the repo root;
#   * a variable set in the environment wins over the script's default (exp_dir=runs/x bash script.sh);
#   * SCALE=paper (default) uses the paper's settings; SCALE=tiny runs the same pipeline in minutes on a CPU;
#   * SEED (default 0) seeds init, data order and dropout;
#   * data comes from $data_dir if set, else $SYNPT_DATA_DIR, else ./data;
#   * SYNPT_DRY_RUN=1 prints the synpt command instead of running it;
#   * the synpt of ./.venv is used when present, else the one on PATH.
# Re-running a script resumes an unfinished run and skips a finished one (synpt does both).

set -euo pipefail

SYNPT_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$SYNPT_REPO_ROOT"

SCALE="${SCALE:-paper}"
SEED="${SEED:-0}"
data_dir="${data_dir:-}"

case "$SCALE" in
  paper | tiny) ;;
  *) echo "SCALE=$SCALE: use SCALE=paper (the paper's settings) or SCALE=tiny (a CPU-sized check)" >&2; exit 2 ;;
esac

# The 21 pre-training task_ids of the paper's pretrain.sh (reference §7.2).
PRETRAIN_TASK_IDS="lime nonsense_summary nesting_language set identity delete sort union replace duplicate intersect
reverse deduplicate search longest_word length count first_token last_token set1_minus_set2 set2_minus_set1"

# Where runs go by default: runs/ for paper runs, runs/tiny/ for SCALE=tiny.
experiments_root() {
  if [[ "$SCALE" == tiny ]]; then echo "runs/tiny"; else echo "runs"; fi
}

# Run synpt with the given arguments (or print them with SYNPT_DRY_RUN=1).
synpt_run() {
  local bin=synpt
  if [[ -x .venv/bin/synpt ]]; then bin=.venv/bin/synpt; fi
  local -a data_args=()
  if [[ -n "$data_dir" ]]; then data_args=(--data-dir "$data_dir"); fi
  if [[ "${SYNPT_DRY_RUN:-0}" == 1 ]]; then
    printf '%q ' "$bin" "$@" "${data_args[@]+"${data_args[@]}"}"
    echo
    return 0
  fi
  "$bin" "$@" "${data_args[@]+"${data_args[@]}"}"
}

# The reference's optional trailing argument of the fine-tuning scripts. Returns 0 when it handled the request.
#   echo_exp_logdir | remove_exp_logdir | max_valid_acc_metric (or mvam): print the selected result
finetune_option() {
  local exp_dir="$1" option="${2:-}"
  case "$option" in
    "") return 1 ;;
    echo_exp_logdir) echo "$exp_dir" ;;
    remove_exp_logdir) echo "removing $exp_dir"; rm -rf -- "$exp_dir" ;;
    max_valid_acc_metric | mvam) synpt_run report "$exp_dir" --no-plots || exit $? ;;
    *)
      echo "unknown option '$option'; use echo_exp_logdir, remove_exp_logdir or max_valid_acc_metric (mvam)" >&2
      exit 2
      ;;
  esac
  return 0
}

# Default run directory name of a checkpoint: its folder name, with the step for a checkpoint_<step> folder.
ckpt_name() {
  local base parent
  base="$(basename "$1")"
  if [[ "$base" == checkpoint_* ]]; then
    parent="$(basename "$(dirname "$1")")"
    echo "${parent}@${base#checkpoint_}"
  else
    echo "$base"
  fi
}

seed_suffix() {
  if [[ "$SEED" != 0 ]]; then echo "_seed${SEED}"; fi
}

# finetune_table TABLE TASK [option]: one fine-tuning run of the paper's TABLE (table1 | table1_t511 | table2 |
# table3) on TASK, configured by the calling script's variables:
#   table1:      exp_dir, ckpt (a checkpoint or from_scratch), transfer (all_but_embedding | all), natural (0 | 1)
#   table1_t511: exp_dir, ckpt (a T5.1.1-small checkpoint; full transfer, the natural row)
#   table2:      exp_dir, ckpt (statistics source), init_id (one of the nine scheme ids)
#   table3:      exp_dir, init_pre_attn_ln_value
finetune_table() {
  local table="$1" task="$2" option="${3:-}" row
  local -a args=(finetune --task "$task" --scale "$SCALE" --seed "$SEED")
  case "$table" in
    table1)
      if [[ "${ckpt:-from_scratch}" == from_scratch ]]; then
        row=from_scratch
        args+=(--init from_scratch)
      else
        row="$(ckpt_name "$ckpt")_${transfer:-all_but_embedding}"
        args+=(--init "${transfer:-all_but_embedding}" --ckpt "$ckpt")
      fi
      if [[ "${natural:-0}" == 1 ]]; then args+=(--natural); fi
      ;;
    table1_t511)
      row="$(ckpt_name "$ckpt")_all"
      args+=(--init all --ckpt "$ckpt" --natural)
      ;;
    table2)
      row="${init_id}_$(ckpt_name "$ckpt")"
      args+=(--init "$init_id" --ckpt "$ckpt")
      ;;
    table3)
      row="pre_attn_ln_${init_pre_attn_ln_value}"
      args+=(--init from_scratch "--pre-attn-ln-value=$init_pre_attn_ln_value" --paper-table table3)
      ;;
    *) echo "finetune_table: unknown table '$table'" >&2; exit 2 ;;
  esac
  exp_dir="${exp_dir:-$(experiments_root)/finetuning/$task/${table}/${row}$(seed_suffix)}"
  if finetune_option "$exp_dir" "$option"; then return 0; fi
  synpt_run "${args[@]}" --out "$exp_dir"
}

# pretrain TASK_ID [option]: the paper's pre-training run (reference §4.5, §7.2), configured by exp_dir.
#   option: mas (step of max validation accuracy) | 99 (first step with accuracy >= 0.99) | remove | exp_dir
pretrain() {
  local task_id="$1" option="${2:-}"
  if [[ " $(echo $PRETRAIN_TASK_IDS) " != *" $task_id "* ]]; then
    echo "task_id=$task_id is not one of the paper's 21 pre-training tasks: $(echo $PRETRAIN_TASK_IDS)" >&2
    exit 2
  fi
  exp_dir="${exp_dir:-$(experiments_root)/pretraining/${task_id}$(seed_suffix)}"
  case "$option" in
    mas) synpt_run report "$exp_dir" --pretrain-step max; return ;;
    99) synpt_run report "$exp_dir" --pretrain-step 99; return ;;
    remove) echo "removing $exp_dir"; rm -rf -- "$exp_dir"; return ;;
    exp_dir) echo "$exp_dir"; return ;;
    "") ;;
    *) echo "unknown option '$option'; use mas, 99, remove or exp_dir" >&2; exit 2 ;;
  esac
  local -a args=(pretrain --task "$task_id" --out "$exp_dir" --seed "$SEED")
  if [[ "$SCALE" == tiny ]]; then
    # A CPU-sized check of the same pipeline: tiny model, short examples, few steps, small eval.
    args+=(--model tiny --steps 30 --batch-size 8 --eval-every 10 --checkpoint-every 10 --padding fixed
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 64, 'targets': 64}" --gin.EVAL_STEPS=2 --gin.LOG_EVERY=10)
  fi
  synpt_run "${args[@]}"
}
