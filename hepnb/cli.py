"""The ``hepnb`` command: generate samples, run a chapter's notebooks, build the book.

Examples::

    hepnb generate trt --n-tracks 20000 --seed 1 --out runs/trt/trt_sim.root
    hepnb run trt --preset reduced            # execute the four TRT notebooks with papermill
    hepnb run trt -p epochs 20                # override one notebook parameter
    hepnb book                                # build the Jupyter Book from the executed notebooks
    hepnb all                                 # reduced TRT sample + TRT chapter + book
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

#: Chapters: notebook stems in execution order and parameter presets.
CHAPTERS: dict[str, dict] = {
    "trt": {
        "notebooks": ["explore_trt", "preprocess_trt", "train_trt", "roc_trt"],
        "presets": {
            "reduced": {"n_tracks": 20_000, "epochs": 4},
            "tiny": {"n_tracks": 3_000, "epochs": 2},
            "default": {},
        },
    },
}

#: ``hepnb generate <chapter>`` handlers: name → (add_arguments, run).
GENERATORS: dict[str, tuple[Callable, Callable]] = {}


def _trt_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-tracks", type=int, default=100_000, help="tracks per MC tree")
    p.add_argument(
        "--data-fraction",
        type=float,
        default=0.25,
        help="size of the 'data' trees relative to the MC trees",
    )
    p.add_argument("--no-data", action="store_true", help="skip the 'data' trees")


def _trt_run(a: argparse.Namespace) -> Path:
    from hepnb.sim import trt

    return trt.generate(
        a.out, n_tracks=a.n_tracks, seed=a.seed, data=not a.no_data, data_fraction=a.data_fraction
    )


GENERATORS["trt"] = (_trt_args, _trt_run)


# --- ghost tracks (LHCb) ---------------------------------------------------------------------
# hepnb generate ghost --out runs/ghost/sim --n-tracks 50000 [--track matching]
#   writes <out>/ghost_forward.root and/or <out>/ghost_matching.root (--out is a folder)
# hepnb run ghost --preset reduced


def _ghost_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--n-tracks",
        type=int,
        default=50_000,
        help="candidates per track type (ghost: --out is a folder)",
    )
    p.add_argument(
        "--track",
        choices=["forward", "matching", "both"],
        default="both",
        help="which pattern recognition's candidates to write",
    )


def _ghost_run(a: argparse.Namespace) -> Path:
    from hepnb.sim import ghost

    tracks = ("forward", "matching") if a.track == "both" else (a.track,)
    paths = ghost.generate(a.out, n_tracks=a.n_tracks, seed=a.seed, tracks=tracks)
    return paths[tracks[0]] if len(tracks) == 1 else Path(a.out)


GENERATORS["ghost"] = (_ghost_args, _ghost_run)
CHAPTERS["ghost"] = {
    "notebooks": ["explore_ghost", "preprocess_ghost", "train_ghost", "roc_ghost"],
    "presets": {
        "reduced": {"n_tracks": 50_000},
        "tiny": {
            "n_tracks": 8_000,
            "track": "forward",
            "epochs": 12,
            "n_trials": 4,
            "search_epochs": 3,
        },
        "default": {},
    },
}
# --- end ghost tracks ------------------------------------------------------------------------


def parse_value(text: str):
    """Parse a ``-p key value`` value as a Python literal where possible (else a string)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def notebook_parameters(path: Path) -> dict:
    """The parameters a notebook declares in its ``parameters`` cell (name → default)."""
    import papermill as pm

    return {k: v["default"] for k, v in pm.inspect_notebook(str(path)).items()}


def run_chapter(
    chapter: str,
    preset: str = "reduced",
    overrides: dict | None = None,
    out_dir: Path | None = None,
    notebooks: Sequence[str] | None = None,
) -> Path:
    """Execute a chapter's notebooks in order with papermill.

    Executed copies go to ``<out_dir>/notebooks/``; ``out_dir`` (default ``runs/<chapter>``) is
    passed to every notebook so they share one run folder. Unknown parameters are rejected
    before anything runs.

    Returns:
        The folder of executed notebooks.
    """
    import papermill as pm

    if chapter not in CHAPTERS:
        raise SystemExit(f"unknown chapter {chapter!r}; chapters: {sorted(CHAPTERS)}")
    spec = CHAPTERS[chapter]
    if preset not in spec["presets"]:
        raise SystemExit(f"unknown preset {preset!r}; presets: {sorted(spec['presets'])}")
    out_dir = Path(out_dir or ROOT / "runs" / chapter)
    executed = out_dir / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    params = {**spec["presets"][preset], **(overrides or {}), "out_dir": str(out_dir.resolve())}
    # a parameter must be declared by some notebook of the chapter (presets hold the training
    # ones too, also when only the first notebooks run); each notebook gets those it declares
    declared = {
        stem: set(notebook_parameters(BOOK / chapter / f"{stem}.ipynb"))
        for stem in spec["notebooks"]
    }
    for stem in notebooks or ():
        if stem not in declared:
            raise SystemExit(f"{chapter}: unknown notebook {stem!r}; it has {spec['notebooks']}")
    unknown = sorted(set(params) - set().union(*declared.values()))
    if unknown:
        takes = sorted(set().union(*declared.values()))
        raise SystemExit(f"{chapter}: unknown parameter(s) {unknown}; its notebooks take {takes}")
    # the kernels inherit this environment: MPLBACKEND=Agg (tests, CI) would leave the executed
    # notebooks, and so the book, without figures; they get the notebook (inline) backend
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        for stem in notebooks or spec["notebooks"]:
            src = BOOK / chapter / f"{stem}.ipynb"
            mine = {k: v for k, v in params.items() if k in declared[stem]}
            print(f"[hepnb] executing {src.relative_to(ROOT)} with {mine}", flush=True)
            pm.execute_notebook(
                str(src),
                str(executed / src.name),
                parameters=mine,
                cwd=str(ROOT),
                progress_bar=True,
                kernel_name="python3",
            )
    finally:
        if backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = backend
    return executed


def build_book(
    strict: bool = False, runs_root: Path | None = None, out_root: Path | None = None
) -> Path:
    """Build the Jupyter Book to ``<out_root>/_build/html`` (default: the repository's).

    Pages whose chapter was run (``<runs_root>/<chapter>/notebooks/``, default ``runs/``) show
    the executed notebooks; the others show the committed notebooks without outputs. The book
    is staged in ``<out_root>/_build/src``.
    """
    runs_root = Path(runs_root or ROOT / "runs")
    build_dir = Path(out_root or ROOT) / "_build"  # jupyter-book writes to <path-output>/_build
    stage = build_dir / "src"
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(BOOK, stage / "book")
    for name in ("_config.yml", "_toc.yml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, stage / name)
    for chapter in CHAPTERS:
        for nb in sorted((runs_root / chapter / "notebooks").glob("*.ipynb")):
            shutil.copy2(nb, stage / "book" / chapter / nb.name)
    # jupyter-book 1 has no `python -m jupyter_book`: call its click entry point in this Python
    cmd = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(stage),
        "--path-output",
        str(build_dir.parent),
        "--builder",
        "html",
    ]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)
    return build_dir / "html"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hepnb", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)

    gen = sub.add_parser("generate", help="simulate a sample and write a ROOT file")
    gsub = gen.add_subparsers(dest="chapter", required=True)
    for name, (add_args, _) in GENERATORS.items():
        g = gsub.add_parser(name)
        g.add_argument("--seed", type=int, default=0)
        g.add_argument("--out", type=Path, required=True, help="output .root file")
        add_args(g)

    run = sub.add_parser("run", help="execute a chapter's notebooks with papermill")
    run.add_argument("chapter", choices=sorted(CHAPTERS))
    run.add_argument("--preset", default="reduced")
    run.add_argument("--out-dir", type=Path, default=None)
    run.add_argument(
        "-p",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a notebook parameter",
    )

    book = sub.add_parser("book", help="build the Jupyter Book (HTML)")
    book.add_argument("--strict", action="store_true", help="fail on warnings")
    book.add_argument(
        "--runs-root",
        type=Path,
        default=None,
        help="folder holding <chapter>/notebooks (default: runs)",
    )
    book.add_argument(
        "--out-root",
        type=Path,
        default=None,
        help="build in <OUT_ROOT>/_build (default: the repository)",
    )

    sub.add_parser("all", help="reduced TRT sample, execute the TRT chapter, build the book")

    a = parser.parse_args(argv)
    if a.cmd == "generate":
        path = GENERATORS[a.chapter][1](a)
        print(path)
    elif a.cmd == "run":
        run_chapter(a.chapter, a.preset, {k: parse_value(v) for k, v in a.p}, a.out_dir)
    elif a.cmd == "book":
        print(build_book(a.strict, a.runs_root, a.out_root) / "index.html")
    elif a.cmd == "all":
        run_chapter("trt", "reduced")
        print(build_book() / "index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
