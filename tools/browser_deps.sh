#!/usr/bin/env bash
# Browser-test dependencies, installed only where missing (safe to run again and again):
# - Debian's `chromium` (apt). Playwright drives it through `executable_path`: its own
#   `playwright install` downloads browsers from a CDN, which this project does not rely on.
# - the `playwright` Python package, into the active virtual environment.
set -euo pipefail

find_chromium() {
  command -v chromium || command -v chromium-browser || true
}

if [ -z "$(find_chromium)" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  install() { $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }
  # slim images ship without package lists, and stale lists 404: update first when needed
  if ! install >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    install >/dev/null
  fi
fi
CHROMIUM=$(find_chromium)
echo "browser_deps: ${CHROMIUM} ($("${CHROMIUM}" --version 2>/dev/null | head -n 1))"

if ! python -c "import playwright" 2>/dev/null; then
  python -m pip install -q playwright 2>&1 | grep -v -i "warning" || true
fi
python -c "import importlib.metadata as m; print('browser_deps: playwright', m.version('playwright'))"
