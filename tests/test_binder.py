"""Binder: ``binder/requirements.txt`` installs hepnb with a CPU torch, ``binder/postBuild``
prepares the samples, and a notebook then runs on them in that environment.

To stay fast and offline the environment is a fresh virtual environment layered over the one
running the tests (a ``.pth`` file puts its site-packages on the path, so pip finds every
requirement already installed and downloads nothing: ``--no-index``); hepnb itself is installed
from a copy of the repository exactly as Binder does (``-e .[book]``), postBuild runs there with
the ``tiny`` preset, and papermill executes ``explore_trt`` in the new environment's kernel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from hepnb import chapters
from hepnb.cli import notebook_parameters, parse_value

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
PRESET = "tiny"


def test_requirements_pin_a_cpu_torch_and_install_the_book():
    lines = [
        ln.strip()
        for ln in (BINDER / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    torch = [ln for ln in lines if re.match(r"torch\b", ln)]
    assert torch and all(ln.endswith("+cpu") for ln in torch), torch
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "-e .[book]" in lines
    pinned = re.search(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert torch[0] == f"torch=={pinned}+cpu"  # the version the project pins, CPU build


def test_post_build_is_executable():
    assert os.access(BINDER / "postBuild", os.X_OK)


#: Keys that say how long training runs, not which sample or dataset is made: postBuild's
#: samples are the notebooks' whatever these are.
TRAINING_LENGTH = ("epochs", "n_trials", "search_epochs")


@pytest.mark.parametrize("chapter", chapters.names())
def test_reduced_preset_is_what_the_notebooks_run_by_default(chapter):
    """postBuild prepares the reduced preset's sample; the notebooks must ask for that one."""
    ch = chapters.get(chapter)
    first = ch.notebook_paths(ROOT / "book")[0]
    defaults = {k: parse_value(v) for k, v in notebook_parameters(first).items()}
    reduced = ch.preset("reduced").to_dict()
    keys = [k for k in ch.presets["reduced"] if k not in TRAINING_LENGTH]
    assert {k: defaults[k] for k in keys} == {k: reduced[k] for k in keys}


def _layered_venv(path: Path) -> Path:
    """A new virtual environment that also sees this environment's packages."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    python = path / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_hepnb_test_layer.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def _repo_copy(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for name in ("hepnb", "book", "binder"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.slow
def test_post_build_then_a_notebook_in_the_binder_environment(tmp_path):
    repo = _repo_copy(tmp_path / "repo")
    python = _layered_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}
    env |= {
        "PATH": f"{python.parent}{os.pathsep}{env['PATH']}",
        "VIRTUAL_ENV": str(python.parent.parent),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "HEPNB_BINDER_PRESET": PRESET,
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
    }

    def run(*cmd: str | Path, cwd: Path = repo) -> str:
        done = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout + done.stderr

    # 1. what Binder does: pip install -r binder/requirements.txt (offline here)
    run(
        python,
        "-m",
        "pip",
        "install",
        "--no-index",
        "--no-build-isolation",
        "-q",
        "-r",
        "binder/requirements.txt",
    )
    # (outside the repository, so that hepnb is imported from the installation)
    where = run(
        python, "-c", "import hepnb, torch; print(hepnb.__file__, torch.__version__)", cwd=tmp_path
    )
    assert where.split()[0] == str(repo / "hepnb" / "__init__.py")
    assert where.split()[1].endswith("+cpu")

    # 2. postBuild: every chapter's first steps, run folders linked from the notebook folders
    log = run("bash", "binder/postBuild")
    for chapter in chapters.names():
        assert (repo / "book" / chapter / "runs" / chapter / "metrics.json").exists(), log
    n_tracks = chapters.get("trt").presets[PRESET]["n_tracks"]

    def sample_files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in (repo / "runs/trt").glob("sample-*/*")}

    made = sample_files()
    assert made and (repo / "runs/trt/config.yaml").exists(), log
    spec = json.loads((tmp_path / "venv/share/jupyter/kernels/python3/kernel.json").read_text())
    assert spec["argv"][0] == str(python)

    # 3. a notebook as JupyterLab runs it (kernel in the notebook's folder, default out_dir), in
    # this environment's kernel; an extra last cell reports where the kernel ran
    import nbformat

    nb = nbformat.read(repo / "book/trt/explore_trt.ipynb", as_version=4)
    probe = "import sys, hepnb; print(sys.prefix, hepnb.__file__)"
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    nbformat.write(nb, repo / "book/trt/probe.ipynb")
    (repo / "runs/trt/metrics.json").unlink()
    run(
        python,
        "-m",
        "papermill",
        "probe.ipynb",
        "probe.out.ipynb",
        "-k",
        "python3",
        "-p",
        "n_tracks",
        str(n_tracks),
        "--no-progress-bar",
        cwd=repo / "book/trt",
    )
    out = nbformat.read(repo / "book/trt/probe.out.ipynb", as_version=4)
    prefix, module = out.cells[-1].outputs[0]["text"].split()
    assert Path(prefix) == tmp_path / "venv"
    assert Path(module) == repo / "hepnb" / "__init__.py"
    # the notebook used postBuild's sample: no new sample folder, the files untouched
    assert sample_files() == made
    display = next(c for c in out.cells if "TRTEventDisplay(" in c.source)
    assert "image/png" in display.outputs[0]["data"]  # the static picture
    metrics = json.loads((repo / "runs" / "trt" / "metrics.json").read_text())
    assert metrics["explore_hits_barrel"] > 20
