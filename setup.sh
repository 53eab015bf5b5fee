#!/usr/bin/env bash
# Create .venv and install synpt with its test extras.
#   ./setup.sh        CPU (default)
#   ./setup.sh gpu    NVIDIA GPU (CUDA 12 jax wheels)
#   ./setup.sh tpu    Cloud TPU VM
set -euo pipefail
cd "$(dirname "$0")"
target="${1:-cpu}"
case "$target" in
  cpu) extras="test" ;;
  gpu) extras="test,gpu" ;;
  tpu) extras="test,tpu" ;;
  *) echo "setup.sh: unknown target '$target' (use: cpu, gpu or tpu)" >&2; exit 2 ;;
esac
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
echo "synpt installed in .venv ($target). Try: .venv/bin/synpt --help"
