"""The library type-checks: ``python -m mypy`` with the ``[tool.mypy]`` settings of pyproject.toml.

mypy checks ``hepnb/`` (``files`` in the config), not strictly: annotated code is checked,
unannotated function bodies are not. A cold run takes about 40 s on two CPU cores, a run with
the ``.mypy_cache`` of an earlier one a few seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (it is in the dev extra and the dev dependency group)",
)
def test_mypy_is_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = (proc.stdout + proc.stderr).strip()
    print(report)
    assert proc.returncode == 0, f"mypy found errors (exit {proc.returncode}):\n{report}"
