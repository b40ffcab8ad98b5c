"""JupyterLab as a person uses it: open a chapter notebook, run it, move the event display's
slider and pick another sample, and see the display change.

A JupyterLab server is started on 127.0.0.1 (free port, random token, isolated settings) in a
temporary folder holding a copy of ``explore_trt`` with small parameters; headless Chromium
opens it, runs all cells from the Run menu, drags the slider, and checks that the numbers and
the picture of the widget changed. Screenshots are kept under ``tests/browser/artifacts/``.
The server (and its kernels: its own process group) is always stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "explore_small.ipynb"
N_TRACKS = 300

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The status bar's kernel item: "<kernel name> | <status>" ("No Kernel | …" before it starts).
KERNEL_IDLE = """() => {
    const item = document.querySelector(".jp-StatusBar-TextItem[title^='Change kernel']");
    const text = item ? item.textContent.trim() : "";
    return !text.startsWith("No Kernel") && /\\| Idle$/.test(text);
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _small_notebook(folder: Path) -> Path:
    """``explore_trt`` with papermill's injected parameters: a small sample in ``folder/run``."""
    import papermill as pm

    out = folder / NOTEBOOK
    pm.execute_notebook(
        str(ROOT / "book/trt/explore_trt.ipynb"),
        str(out),
        prepare_only=True,
        parameters={"n_tracks": N_TRACKS, "out_dir": str(folder / "run")},
        progress_bar=False,
    )
    return out


def _lab_settings(settings: Path) -> None:
    """No news/update pop-ups over the notebook; every cell rendered (JupyterLab 4 detaches
    the outputs of cells scrolled out of view by default, which a locator cannot wait for)."""
    for plugin, values in {
        "apputils-extension/notification": {
            "fetchNews": "false",
            "checkForUpdates": False,
            "doNotDisturbMode": True,
        },
        "notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def jupyterlab(tmp_path: Path) -> Iterator[dict]:
    """A running JupyterLab serving ``tmp_path/work``; stopped (with its kernels) afterwards."""
    work = tmp_path / "work"
    work.mkdir()
    _small_notebook(work)
    _lab_settings(tmp_path / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "HEPNB_WIDGETS")}
    env |= {
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    log = (tmp_path / "lab.log").open("w")
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        "--allow-root",
        "--LabApp.news_url=None",
    ]
    proc = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {proc.returncode}:\n"
                    f"{(tmp_path / 'lab.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer on {base} within 60 s:\n"
                        f"{(tmp_path / 'lab.log').read_text()}"
                    )
                time.sleep(0.5)
        yield {"url": base, "token": token, "work": work, "log": tmp_path / "lab.log"}
    finally:
        # the server and the kernels it started share its process group
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # kernels left behind, if any
        log.close()


@pytest.fixture
def lab(tmp_path) -> Iterator[dict]:
    """A running JupyterLab (see :func:`jupyterlab`)."""
    with jupyterlab(tmp_path) as server:
        yield server


def _display_state(page) -> dict:
    box = page.locator(".hepnb-display")
    return {
        "numbers": box.locator(".widget-html-content").inner_text(),
        "src": box.locator("img").get_attribute("src"),
    }


def _track_number(numbers: str) -> int:
    """The track index in the display's numbers ("… 12 of 300 …")."""
    found = re.search(rf"(\d+) of {N_TRACKS}", numbers)
    assert found, numbers
    return int(found.group(1))


def test_event_display_in_jupyterlab(lab, page, artifacts):
    try:
        _use_event_display(lab, page, artifacts)
    except BaseException:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        print(f"[jupyterlab log]\n{lab['log'].read_text()[-4000:]}")
        raise


def _use_event_display(lab: dict, page, artifacts: Path) -> None:
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    # wait for the kernel to be started and idle (the status bar reads "Python 3 … | Idle"; a
    # run before that asks which kernel to start), then Run ▸ Run All Cells
    page.wait_for_function(KERNEL_IDLE)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    display = page.locator(".hepnb-display")
    display.wait_for(state="attached", timeout=180_000)
    # all cells done: every code cell has an execution count, and the kernel is idle
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
            return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
        }""",
        timeout=180_000,
    )
    page.wait_for_function(KERNEL_IDLE)
    display.scroll_into_view_if_needed()
    display.locator("img").wait_for()
    page.wait_for_function("() => document.querySelector('.hepnb-display img').naturalWidth > 0")
    # the widget replaces the static picture: no second (image) output under it
    outputs = page.locator(".jp-CodeCell", has=display).locator(".jp-OutputArea-output")
    assert outputs.count() == 1
    page.screenshot(path=str(artifacts / "1-run.png"), full_page=False)
    before = _display_state(page)
    assert "electron" in before["numbers"]
    assert f"of {N_TRACKS}" in before["numbers"], before["numbers"]
    first_track = _track_number(before["numbers"])

    # drag the slider's handle to the right, as a person would
    handle = display.locator(".widget-slider .noUi-handle").first
    box = handle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "before => document.querySelector('.hepnb-display .widget-html-content')"
        ".innerText !== before",
        arg=before["numbers"],
        timeout=60_000,
    )
    page.wait_for_function(
        "before => document.querySelector('.hepnb-display img').src !== before",
        arg=before["src"],
        timeout=60_000,
    )
    after = _display_state(page)
    page.screenshot(path=str(artifacts / "2-slider-moved.png"))
    moved_track = _track_number(after["numbers"])
    assert moved_track > first_track, (before["numbers"], after["numbers"])
    readout = display.locator(".widget-readout").first.inner_text().strip()
    assert int(readout) == moved_track  # the slider's readout and the kernel's numbers agree

    # pick another sample in the dropdown
    display.locator("select").first.select_option("muon")
    page.wait_for_function(
        "() => /muon/.test(document.querySelector('.hepnb-display .widget-html-content')"
        ".innerText)",
        timeout=60_000,
    )
    page.screenshot(path=str(artifacts / "3-muon.png"))
    assert _display_state(page)["src"] != after["src"]
    # the kernel ran with the small sample the test asked for
    config = yaml.safe_load((lab["work"] / "run" / "config.yaml").read_text())
    assert config["n_tracks"] == N_TRACKS and len(list((lab["work"] / "run").glob("sample-*"))) == 1
