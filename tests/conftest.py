"""Shared fixtures: a headless matplotlib backend and a papermill notebook runner."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

from hepnb.runs import execute_notebook

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(path: str | os.PathLike, out_dir: str | os.PathLike, **params) -> dict:
    """Execute ``path`` (relative to the repo root) with papermill; return its metrics."""
    return execute_notebook(ROOT / path, out_dir, cwd=ROOT, **params)


@pytest.fixture(scope="session")
def notebook_runner():
    """The :func:`run_notebook` helper, as a fixture."""
    return run_notebook
