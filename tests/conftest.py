"""Shared fixtures: a headless matplotlib backend and a papermill notebook runner."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(path: str | os.PathLike, out_dir: str | os.PathLike, **params) -> dict:
    """Execute ``path`` (relative to the repo root) with papermill and return its metrics.

    The executed copy is written to ``<out_dir>/<name>`` so a failing run can be inspected;
    ``out_dir`` is passed to the notebook as its run folder.
    """
    import papermill as pm

    from hepnb.runs import load_metrics

    src = ROOT / path
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(src), str(out_dir / src.name), cwd=str(ROOT), kernel_name="python3",
                        parameters={**params, "out_dir": str(out_dir)}, progress_bar=False)  # fmt: skip
    return load_metrics(out_dir)


@pytest.fixture
def notebook_runner():
    """The :func:`run_notebook` helper, as a fixture."""
    return run_notebook
