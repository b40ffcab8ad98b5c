"""Optional heavy dependencies, imported where they are used, with an install hint.

optuna (searches), onnxruntime (ONNX inference), mlflow (run tracking), papermill (executing
notebooks) and ipywidgets (live widgets) are imported only by the functions that need them, so
``import hepnb`` stays light; a missing one fails with the extra that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

#: module → the ``pip install 'hepnb[EXTRA]'`` that provides it.
EXTRAS = {
    "optuna": "tune",
    "sqlalchemy": "tune",
    "onnxruntime": "export",
    "onnx": "export",
    "onnxscript": "export",
    "mlflow": "track",
    "papermill": "book",
    "ipywidgets": "book",
}


def require(module: str) -> ModuleType:
    """Import ``module`` (e.g. ``"onnxruntime.quantization"``) or fail naming the extra."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        hint = f"pip install 'hepnb[{extra}]'" if extra else f"pip install {top}"
        raise ModuleNotFoundError(f"{module} is needed here but not installed: {hint}") from exc
