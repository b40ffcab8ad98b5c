#!/usr/bin/env bash
# The main job: install, generate the reduced TRT sample, execute the TRT chapter, build the book.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
hepnb all
echo "book: $(pwd)/_build/html/index.html"
