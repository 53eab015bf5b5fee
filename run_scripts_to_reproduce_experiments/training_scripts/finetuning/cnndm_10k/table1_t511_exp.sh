#!/usr/bin/env bash
# Table 1, natural row of cnndm_10k: fine-tune T5v1.1-small, all weights loaded (reference §5.5).
# Edit the variables below or set them in the environment (the environment wins):
#   exp_dir: run directory; empty = runs/finetuning/cnndm_10k/table1_t511/<ckpt name>_all
#   ckpt:    the T5.1.1-small checkpoint: a Hub id (hf:ORG/NAME, fetched into the Hugging Face cache), a Hugging
#            Face folder or a synpt checkpoint
# Optional last argument: echo_exp_logdir, remove_exp_logdir, max_valid_acc_metric (mvam).
exp_dir=${exp_dir:-}
ckpt=${ckpt:-hf:google/t5-v1_1-small}

source "$(dirname "${BASH_SOURCE[0]}")/../../../lib.sh"
finetune_table table1_t511 cnndm_10k "$@"
