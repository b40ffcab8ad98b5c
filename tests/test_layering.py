"""The shape of the library, read from its imports with ``ast``.

* the core (everything but ``hepnb/chapters`` and the CLI that iterates them) never imports
  ``hepnb.chapters``;
* no chapter imports another chapter (only its own package, ``base`` and the registry);
* a chapter's ``schema`` and ``reader`` import neither its simulator nor ``hepnb.plot`` nor
  ``hepnb.models`` (a reader must work on real ntuples without the simulator);
* imports sit at module top, except the optional heavy extras, which are imported inside the
  function that needs them (through :func:`hepnb._optional.require` or a plain import).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hepnb._optional import require

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hepnb"
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: Heavy optional extras, imported with ``hepnb._optional.require`` inside the functions that use
#: them (and their own dependencies).
OPTIONAL = (
    "optuna",
    "sqlalchemy",  # optuna's storage layer
    "onnxruntime",
    "onnx",
    "onnxscript",
    "mlflow",
    "papermill",
    "ipywidgets",
)


def _imports(tree: ast.AST) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return mods


def _rel(path: Path) -> tuple[str, ...]:
    return path.relative_to(PACKAGE).parts


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_chapters_and_core_modules():
    chapters = {p.parent.name for p in PACKAGE.glob("chapters/*/__init__.py")}
    assert {"trt", "ghost"} <= chapters
    assert len([p for p in SOURCES if _rel(p)[0] != "chapters"]) >= 10


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if _rel(p)[0] not in ("chapters", "cli.py")], ids=_id
)
def test_core_knows_no_chapter(path):
    mods = _imports(ast.parse(path.read_text()))
    assert not [m for m in mods if m.startswith("hepnb.chapters")], f"{path} imports a chapter"


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if len(_rel(p)) > 2 and _rel(p)[0] == "chapters"], ids=_id
)
def test_chapters_import_no_other_chapter(path):
    own = _rel(path)[1]
    for m in _imports(ast.parse(path.read_text())):
        parts = m.split(".")
        if m.startswith("hepnb.chapters.") and len(parts) > 2:
            assert parts[2] in (own, "base"), f"{path} imports another chapter: {m}"


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if _rel(p)[0] == "chapters" and p.name in ("schema.py", "reader.py")],
    ids=_id,
)
def test_schema_and_reader_stand_without_simulator_plot_or_models(path):
    chapter = _rel(path)[1]
    banned = (f"hepnb.chapters.{chapter}.sim", "hepnb.plot", "hepnb.models")
    mods = _imports(ast.parse(path.read_text()))
    assert not [m for m in mods if m.startswith(banned)], f"{path}: {sorted(mods)}"


@pytest.mark.parametrize("path", SOURCES, ids=_id)
def test_imports_at_module_top_and_optional_extras_through_require(path):
    tree = ast.parse(path.read_text())
    late = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            late |= _imports(node)
    assert not late, f"{path}: imports inside functions or classes: {sorted(late)}"
    if path.name != "_optional.py":
        heavy = [m for m in _imports(tree) if m.split(".")[0] in OPTIONAL]
        assert not heavy, f"{path}: import {heavy} with hepnb._optional.require(...) where used"


def test_a_missing_extra_names_what_to_install():
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'hepnb\[tune\]'"):
        require("optuna.no_such_module")
    assert require("optuna").__name__ == "optuna"


def test_the_import_reader_sees_imports_inside_functions():
    """The checks above can fail: nested and relative-free imports are all found."""
    tree = ast.parse("def f():\n    from hepnb.chapters.trt.sim import generate\n")
    fn = tree.body[0]
    assert "hepnb.chapters.trt.sim.generate" in _imports(fn)
