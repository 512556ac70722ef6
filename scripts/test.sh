#!/usr/bin/env bash
# Set up .venv with the test extras, then run the whole test suite (CPU only, offscreen Qt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh test
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -q "$@"
