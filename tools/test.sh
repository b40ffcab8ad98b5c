#!/usr/bin/env bash
# Install, then run the whole test suite (lint, unit tests, notebooks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
export MPLBACKEND=Agg PYTHONHASHSEED=0
ruff format --check .
ruff check .
bash tools/browser_deps.sh  # Debian chromium + playwright for tests/browser (idempotent)
python -m pytest -ra "$@"
