#!/usr/bin/env bash
# The main job: install, run every chapter of the registry at the `reduced` preset (samples
# simulated, models trained, every notebook executed), then build the book from those runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
hepnb all
echo "book: $(pwd)/_build/html/index.html"
