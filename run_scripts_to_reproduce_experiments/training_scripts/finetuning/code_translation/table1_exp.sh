#!/usr/bin/env bash
# Table 1 on code_translation: fine-tune from a pre-trained checkpoint (weight transfer) or from a random init.
# Edit the variables below or set them in the environment (the environment wins):
#   exp_dir:  run directory; empty = runs/finetuning/code_translation/table1/<ckpt name>_<transfer>
#   ckpt:     pre-trained run directory or checkpoint_<step> directory, a Hugging Face folder or Hub id, or
#             from_scratch (the Random Init row); the natural row: ckpt=hf:google-t5/t5-small transfer=all natural=1
#   transfer: all_but_embedding (the authors' main-table runs) or all (the released scripts; quirk 9)
#   natural:  1 marks this run as the natural pre-training reference row of synpt report
# Optional last argument: echo_exp_logdir, remove_exp_logdir, max_valid_acc_metric (mvam).
exp_dir=${exp_dir:-}
ckpt=${ckpt:-from_scratch}
transfer=${transfer:-all_but_embedding}
natural=${natural:-0}

source "$(dirname "${BASH_SOURCE[0]}")/../../../lib.sh"
finetune_table table1 code_translation "$@"
