"""Every notebook: .py:percent source and paired .ipynb in sync, no outputs, one parameters cell
that declares exactly its chapter's configuration with the configuration's defaults."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jupytext
import pytest

from hepnb import chapters

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "book").glob("*/*.py"))
REQUIRED = {"seed", "data_path", "out_dir", "device"}


def test_there_are_notebooks():
    assert len(SOURCES) >= 4


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_paired_ipynb_in_sync_and_stripped(src):
    nb_path = src.with_suffix(".ipynb")
    assert nb_path.exists(), f"{src} has no paired {nb_path.name}"
    raw = json.loads(nb_path.read_text())
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{nb_path} is committed with outputs"
            )
    py_cells = jupytext.read(src)["cells"]
    nb_cells = jupytext.read(nb_path)["cells"]
    assert [(c["cell_type"], c["source"]) for c in py_cells] == [
        (c["cell_type"], c["source"]) for c in nb_cells
    ], f"{nb_path.name} is out of sync with {src.name}: run `jupytext --sync {src}`"


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_one_parameters_cell_near_top_with_required_names(src):
    cells = jupytext.read(src)["cells"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"{src}: expected exactly one cell tagged parameters, found {tagged}"
    assert tagged[0] <= 2, f"{src}: the parameters cell should be near the top"
    source = cells[tagged[0]]["source"]
    names = {line.split("=")[0].strip() for line in source.splitlines() if "=" in line}
    assert names >= REQUIRED, f"{src}: parameters cell lacks {REQUIRED - names}"
    for line in source.splitlines():
        if "=" in line:
            assert "#" in line, f"{src}: parameter without a comment: {line!r}"


def _parameters(src: Path) -> dict:
    cells = jupytext.read(src)["cells"]
    cell = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse(cell["source"]).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            f"{src}: the parameters cell should hold only `name = literal` lines"
        )
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_every_chapter_folder_is_registered():
    folders = {p.name for p in (ROOT / "book").iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert folders == set(chapters.names())


@pytest.mark.parametrize(
    "chapter,stem",
    [(c.name, stem) for c in chapters.all_chapters() for stem in c.notebooks],
)
def test_parameters_cell_equals_the_chapter_configuration(chapter, stem):
    """The configuration is the only source of defaults: each notebook's parameters cell
    declares every key, in the same order, with the same default."""
    config = chapters.get(chapter).config
    params = _parameters(ROOT / "book" / chapter / f"{stem}.py")
    assert list(params) == config.names(), f"{stem}: keys differ from {config.__name__}"
    assert config.from_dict(params).to_dict() == config.defaults(), (
        f"{stem}: a default differs from {config.__name__}'s"
    )
