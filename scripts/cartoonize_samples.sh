#!/usr/bin/env bash
# The main job, headless: set up .venv, then cartoonize the bundled sample photos into out/samples/.
# Extra arguments go to `cartoonize` (for example --model NAME or --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
.venv/bin/cartoonize resources/samples -o out/samples "$@"
echo "Cartoons are in $(pwd)/out/samples/"
