"""The published book: every chapter in the table of contents, a strict build from executed
notebooks, and the pages as a reader's browser shows them.

The TRT chapter is executed with small parameters (``hepnb run trt --preset tiny`` with fewer
tracks and one epoch) into a temporary runs folder, the book is built from it with
``hepnb book --strict`` (warnings fail), and headless Chromium opens every page from disk
(network requests are blocked: the test needs none): each page's heading must be its source's
title, the executed chapter's figures must be images that loaded (``naturalWidth > 0``), the
widgets must appear as their static pictures, and launch buttons must point to Binder.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
import yaml

from hepnb import chapters
from hepnb.cli import build_book, run_chapter

ROOT = Path(__file__).resolve().parents[2]
RUN = {"trt": {"n_tracks": 800, "epochs": 1}}  # chapters executed for the test, with overrides
#: The fewest figures each executed notebook draws (its static widget pictures included).
MIN_FIGURES = {"explore_trt": 6, "preprocess_trt": 1, "train_trt": 1, "roc_trt": 4}
WIDGET_CELLS = {"explore_trt": "TRTEventDisplay(", "roc_trt": "ThresholdExplorer("}


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def _title(file: str) -> str:
    """The first heading of a page's source (markdown, or a notebook's first markdown cell)."""
    if (ROOT / f"{file}.md").exists():
        text = (ROOT / f"{file}.md").read_text()
    else:
        cells = jupytext.read(ROOT / f"{file}.ipynb")["cells"]
        text = next(c["source"] for c in cells if c["cell_type"] == "markdown")
    return next(ln[2:].strip() for ln in text.splitlines() if ln.startswith("# "))


def test_toc_lists_every_notebook_and_only_existing_pages():
    files = _toc_files()
    assert len(files) == len(set(files)), "a page is listed twice in _toc.yml"
    for file in files:
        assert (ROOT / f"{file}.md").exists() or (ROOT / f"{file}.ipynb").exists(), file
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.glob("book/*/*.ipynb")}
    assert notebooks <= set(files), f"not in _toc.yml: {sorted(notebooks - set(files))}"
    for chapter in chapters.all_chapters():  # a chapter's notebooks in its execution order
        pages = [f for f in files if f.startswith(f"book/{chapter.name}/")]
        listed = [f.rsplit("/", 1)[1] for f in pages if (ROOT / f"{f}.ipynb").exists()]
        assert listed == list(chapter.notebooks)
        # its other pages (e.g. the ttH model catalogue) are markdown files of its folder
        assert all((ROOT / f"{f}.md").exists() for f in pages if f.rsplit("/", 1)[1] not in listed)
    # the chapters of the book are those of the registry
    in_book = {f.split("/")[1] for f in files if f.startswith("book/") and f.count("/") == 2}
    assert in_book == set(chapters.names())


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The HTML book built strictly from freshly executed notebooks."""
    root = tmp_path_factory.mktemp("book")
    for chapter, overrides in RUN.items():
        run_chapter(chapter, "tiny", overrides, out_dir=root / "runs" / chapter)
    html = build_book(strict=True, runs_root=root / "runs", out_root=root)
    assert (html / "index.html").exists()
    return html


@pytest.mark.browser
@pytest.mark.slow
def test_book_pages_in_a_browser(book, page, artifacts):
    page.route(
        "**/*",
        lambda route: (
            route.abort() if not route.request.url.startswith("file:") else route.continue_()
        ),
    )
    page.goto((book / "index.html").as_uri())
    page.wait_for_url("**/book/intro.html")  # index.html redirects to the root page
    executed = {stem for chapter in RUN for stem in chapters.get(chapter).notebooks}
    for file in _toc_files():
        page.goto((book / f"{file}.html").as_uri(), wait_until="load")
        name = file.rsplit("/", 1)[1]
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        heading = page.locator("article h1").first.inner_text()
        assert heading.rstrip("#¶ \n") == _title(file), file
        if name not in executed:
            continue
        figures = page.locator("article .cell_output img")
        n = figures.count()
        assert n >= MIN_FIGURES[name], f"{file}: {n} figures"
        loaded = figures.evaluate_all("els => els.map(e => e.complete && e.naturalWidth)")
        assert all(w > 0 for w in loaded), f"{file}: images not loaded: {loaded}"
        if name in WIDGET_CELLS:  # the widget's static picture sits under its cell
            cell = page.locator("article div.cell", has_text=WIDGET_CELLS[name]).first
            width = cell.locator(".cell_output img").first.evaluate("e => e.naturalWidth")
            assert width > 400, f"{file}: no static picture of the widget"
        binder = page.locator("a[href*='mybinder.org/v2/gh/']").first
        href = binder.get_attribute("href")
        assert href and f"urlpath=lab/tree/{file}.ipynb" in href, href
