#!/usr/bin/env bash
# Table 3 on code_translation: random init with every pre-attention layer-norm scale set to a constant.
# Edit the variables below or set them in the environment (the environment wins):
#   exp_dir: run directory; empty = runs/finetuning/code_translation/table3/pre_attn_ln_<value>
#   init_pre_attn_ln_value: the constant (release default 0.4; the authors swept 0.05 0.1 0.2 0.4 0.6 0.8)
# Optional last argument: echo_exp_logdir, remove_exp_logdir, max_valid_acc_metric (mvam).
exp_dir=${exp_dir:-}
init_pre_attn_ln_value=${init_pre_attn_ln_value:-0.4}

source "$(dirname "${BASH_SOURCE[0]}")/../../../lib.sh"
finetune_table table3 code_translation "$@"
