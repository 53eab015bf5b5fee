#!/usr/bin/env bash
# Table 2 on cnndm_10k: random init whose parameter groups are re-drawn with the statistics of a pre-trained checkpoint.
# Edit the variables below or set them in the environment (the environment wins):
#   exp_dir: run directory; empty = runs/finetuning/cnndm_10k/table2/<init_id>_<ckpt name>
#   ckpt:    pre-trained run directory (statistics source; the released default is the Identity checkpoint)
#   init_id: per_param_grouping___init_mean_std (Per Param Mean/SD), per_param_grouping___init_scale,
#            across_ALL_layer_AND_per_layer_grouping___init_scale, preattnln_per_param_grouping___init_scale,
#            across_ALL_layer_grouping___init_scale, per_layer_grouping___init_scale,
#            premlpln_per_param_grouping___init_scale, qkvo_per_param_grouping___init_scale,
#            mlp_per_param_grouping___init_scale
# Optional last argument: echo_exp_logdir, remove_exp_logdir, max_valid_acc_metric (mvam).
exp_dir=${exp_dir:-}
ckpt=${ckpt:-runs/pretraining/identity}
init_id=${init_id:-per_param_grouping___init_mean_std}

source "$(dirname "${BASH_SOURCE[0]}")/../../../lib.sh"
finetune_table table2 cnndm_10k "$@"
