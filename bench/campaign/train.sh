#!/usr/bin/env bash
# Start or continue the default model's training campaign in the background, on one thread:
#   bash bench/campaign/train.sh [KEY=VALUE …]
# It continues the run folder's latest checkpoint when there is one (--resume), else starts the run (making the
# held-out split and the cartoon targets first). On a new machine, where the folder is gone, that means a fresh
# start from the config's base_model: point it at the last committed campaign model with fresh discriminators,
# e.g. `bash bench/campaign/train.sh base_model=cartoon-v1 warm_start_steps=0` (see the card in bench/campaign).
# CAMPAIGN_CONFIG and CAMPAIGN_RUN choose another branch's config and run folder (default: cpu.toml, default-v1).
# Log: <run>/train.log (JSON lines) and train.err; samples in <run>/samples.
set -euo pipefail
cd "$(dirname "$0")/../.."
data_dir=$(.venv/bin/python -c 'from core.model_registry import user_data_dir; print(user_data_dir())')
split="$data_dir/campaign/split"
run="${CAMPAIGN_RUN:-$data_dir/campaign/runs/default-v1}"
[ -d "$split" ] || .venv/bin/python bench/campaign/make_split.py --out "$split"
mkdir -p "$run"
resume=()
compgen -G "$run/checkpoints/step_*.pt" >/dev/null && resume=(--resume)
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nohup .venv/bin/cartoonize-train train --config "${CAMPAIGN_CONFIG:-bench/campaign/cpu.toml}" \
  "${resume[@]}" photos_dir="$split/train/photos" cartoons_dir="$split/train/cartoons" run_dir="$run" "$@" \
  >>"$run/train.log" 2>>"$run/train.err" &
echo $! >"$run/train.pid"
echo "campaign run in $run (pid $!, ${resume[*]:-fresh start}); stop it with: kill -TERM \$(cat $run/train.pid)"
# (only that pid: its DataLoader worker shares its command line, and killing the worker loses the step's checkpoint)
