"""Run folders, recorded metrics and MLflow logging.

A chapter writes everything it produces into one run folder (default ``runs/<chapter>/``):
samples, arrays, checkpoints, figures, ``metrics.json`` (headline numbers a notebook records and
tests read back) and, by default, an MLflow sqlite store ``mlflow.db``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hepnb.io import atomic_write_json

__all__ = ["execute_notebook", "load_metrics", "mlflow_uri", "record", "run_dir"]

#: Root of all run folders; override with the ``HEPNB_RUNS`` environment variable.
RUNS_ROOT = Path(os.environ.get("HEPNB_RUNS", "runs"))


def run_dir(chapter: str, out_dir: str | os.PathLike | None = None) -> Path:
    """Return (and create) the run folder of ``chapter``: ``out_dir`` if given, else runs/<chapter>."""
    path = Path(out_dir) if out_dir else RUNS_ROOT / chapter
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_metrics(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Read the ``metrics.json`` of a run folder (empty dict if none yet)."""
    path = Path(out_dir) / "metrics.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def record(out_dir: str | os.PathLike, key: str, value: Any) -> Any:
    """Record a headline number (or small JSON-able object) in ``<out_dir>/metrics.json``.

    Returns ``value`` so a notebook cell can record and display in one line.
    """
    metrics = load_metrics(out_dir)
    metrics[key] = value
    atomic_write_json(Path(out_dir) / "metrics.json", metrics)
    return value


def mlflow_uri(out_dir: str | os.PathLike) -> str:
    """MLflow tracking URI of the sqlite store inside a run folder (``sqlite:///.../mlflow.db``)."""
    path = Path(out_dir).resolve() / "mlflow.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def execute_notebook(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    cwd: str | os.PathLike | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Execute a notebook with papermill into ``out_dir`` and return its recorded metrics.

    ``out_dir`` is passed to the notebook as its run folder (parameter ``out_dir``) and receives
    the executed copy, so a failed run can be inspected there.

    Args:
        path: the ``.ipynb`` to run.
        out_dir: run folder.
        cwd: working directory of the kernel (default: the current one).
        **params: notebook parameters.

    Returns:
        The notebook's ``metrics.json`` (see :func:`record`).
    """
    import papermill as pm

    src, out = Path(path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(src),
        str(out / src.name),
        cwd=str(cwd or Path.cwd()),
        kernel_name="python3",
        parameters={**params, "out_dir": str(out)},
        progress_bar=False,
    )
    return load_metrics(out)
