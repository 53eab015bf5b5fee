#!/usr/bin/env bash
# Byte-identity check for generation: writes every task's files for seeds 0 and 1 (all 18 simple tasks and LIME,
# the three set orders, balanced search, a restricted pool, nonsense summaries, the nesting language, 2 workers)
# and prints the SHA-256 of each file. A refactor of the generators must leave the list unchanged:
#   benchmarks/hash_generated_files.sh | diff benchmarks/generated_files.sha256 -
# usage: hash_generated_files.sh [SYNPT_COMMAND]   (default: .venv/bin/synpt of this checkout)
set -euo pipefail
synpt="${1:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/synpt}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=(--train 20000 --valid 2000 --num-examples 40000 --no-progress)
for seed in 0 1; do
  d="$work/s$seed"
  "$synpt" generate --task all "${sizes[@]}" --seed $seed --out "$d/default" >/dev/null
  "$synpt" generate --task union "${sizes[@]}" --seed $seed --out "$d/sorted" --set-order sorted >/dev/null
  "$synpt" generate --task intersect "${sizes[@]}" --seed $seed --out "$d/first" --set-order first_appearance >/dev/null
  "$synpt" generate --task search "${sizes[@]}" --seed $seed --out "$d/balanced" --balanced >/dev/null
  "$synpt" generate --task set "${sizes[@]}" --seed $seed --out "$d/pool" --pool-size 500 --length-range 5,40 >/dev/null
  "$synpt" generate --task nonsense_summary --train 2000 --valid 200 --no-progress --seed $seed --out "$d/default" >/dev/null
  "$synpt" generate --task nesting_language --train 2000 --valid 200 --no-progress --seed $seed --out "$d/default" >/dev/null
  "$synpt" generate --task union "${sizes[@]}" --seed $seed --out "$d/w2" --workers 2 >/dev/null
done
cd "$work" && find . -type f ! -name 'manifest*.json' | sort | xargs sha256sum
