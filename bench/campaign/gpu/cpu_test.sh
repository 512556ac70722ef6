#!/usr/bin/env bash
# run_on_device.sh's CPU test here, as close to the device as this machine allows: the venv's Python with the
# packages the device image lacks hidden (device_imitation/sitecustomize.py), so the carried wheels must install and
# be found, and nothing else missing there may be imported. First it checks that the hiding works.
#   bash bench/campaign/gpu/cpu_test.sh      (from the repository root; under nice, one thread)
set -euo pipefail
cd "$(dirname "$0")/../../.."
imitation="$PWD/bench/campaign/gpu/device_imitation"
if PYTHONPATH="$imitation" .venv/bin/python -c 'import platformdirs' 2>/dev/null; then
  echo "cpu test: the imitation does not hide platformdirs" >&2; exit 1
fi
# expected: "No module named 'av'" (why stretch.py calls the trainer's functions, not its CLI)
PYTHONPATH="$imitation" .venv/bin/python -c 'import trainer.cli' 2>&1 | tail -1 || true
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export GPU_RUN_WORK="${GPU_RUN_WORK:-/tmp/cartoonizer-gpu-cpu-test}"
PYTHONPATH="$imitation" PYTHON="$PWD/.venv/bin/python" GPU_RUN_CPU_TEST=1 \
  nice -n 15 bash bench/campaign/gpu/run_on_device.sh "$@"
