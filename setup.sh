#!/usr/bin/env bash
# Create .venv and install synpt with its test tools.
#   ./setup.sh        CPU (default), with torch + transformers for the Hugging Face comparisons
#   ./setup.sh gpu    NVIDIA GPU (CUDA 12 jax wheels); no torch: its CUDA build would clash with jax's CUDA wheels
#   ./setup.sh tpu    Cloud TPU VM; no torch either (the Hugging Face tests skip)
set -euo pipefail
cd "$(dirname "$0")"
target="${1:-cpu}"
case "$target" in
  cpu) extras="test,hf,hub,wandb" ;;
  gpu) extras="test,gpu,hub" ;;
  tpu) extras="test,tpu,hub" ;;
  *) echo "setup.sh: unknown target '$target' (use: cpu, gpu or tpu)" >&2; exit 2 ;;
esac
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
echo "synpt installed in .venv ($target). Try: .venv/bin/synpt --help"
