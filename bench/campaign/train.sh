#!/usr/bin/env bash
# Start or continue the default model's training campaign in the background, on one thread.
#   bash bench/campaign/train.sh            # first time: makes the split, the targets, then trains
#   bash bench/campaign/train.sh --resume   # every later session (the run folder is kept between sessions)
# Log: <run>/train.log (JSON lines); samples in <run>/samples; the run folder is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
data_dir=$(.venv/bin/python -c 'from core.model_registry import user_data_dir; print(user_data_dir())')
split="$data_dir/campaign/split"
run="${CAMPAIGN_RUN:-$data_dir/campaign/runs/default-v1}"
[ -d "$split" ] || .venv/bin/python bench/campaign/make_split.py --out "$split"
mkdir -p "$run"
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nohup .venv/bin/cartoonize-train train --config bench/campaign/cpu.toml "$@" \
  photos_dir="$split/train/photos" cartoons_dir="$split/train/cartoons" run_dir="$run" \
  >>"$run/train.log" 2>>"$run/train.err" &
echo "campaign run in $run (pid $!)"
