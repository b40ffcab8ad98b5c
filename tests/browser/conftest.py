"""Browser tests: headless Debian Chromium driven by Playwright (``tools/browser_deps.sh``
installs both). Screenshots go to ``tests/browser/artifacts/`` (git-ignored)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: Every Playwright wait in these tests is bounded by this (ms).
TIMEOUT_MS = 90_000


def chromium_path() -> str | None:
    """The Chromium to drive: ``$HEPNB_CHROMIUM``, else Debian's ``chromium`` on PATH."""
    return (
        os.environ.get("HEPNB_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """A headless Chromium (skips with the fix when chromium or playwright is missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: run `bash tools/browser_deps.sh`")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no chromium on PATH: run `bash tools/browser_deps.sh`")
    with sync_playwright() as pw:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start
        b = pw.chromium.launch(
            executable_path=exe, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page (1400×1000) with bounded default timeouts."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def artifacts(request) -> Path:
    """Folder for this test's screenshots (kept after the run; its path is printed)."""
    path = ARTIFACTS / request.node.name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    print(f"\n[artifacts] {path}")
    return path
