#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install hepnb into it.
# torch is pinned to 2.13.0: pip resolves the local CPU wheel here and never a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip 2>&1 | grep -v -i "warning" || true
# torch first, alone, so that nothing else can make pip pick another build of it.
python -m pip install -q "torch==2.13.0" 2>&1 | grep -v -i "warning" || true
python -m pip install -q -e ".[dev]" 2>&1 | grep -v -i "warning" || true
python -c "import torch, hepnb; assert torch.__version__.startswith('2.13.0'), torch.__version__"
python -m ipykernel install --sys-prefix --name python3 >/dev/null
