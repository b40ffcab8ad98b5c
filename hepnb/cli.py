"""The ``hepnb`` command: generate samples, print and run configurations, build the book.

Every subcommand iterates the chapter registry (:mod:`hepnb.chapters`)::

    hepnb generate trt --n-tracks 20000 --seed 1 --out trt_sim.root
    hepnb config trt --preset reduced          # the configuration, as YAML
    hepnb run trt --preset reduced             # execute the chapter's notebooks with papermill
    hepnb run trt --config my.yaml -p epochs 20
    hepnb convert tth --config cfg.yaml        # a chapter's conversion (ROOT → HDF5)
    hepnb inspect file.h5                      # what a converted file holds, with statistics
    hepnb book                                 # build the Jupyter Book from the executed notebooks
    hepnb all                                  # every chapter at `reduced`, then the book
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hepnb import chapters
from hepnb._optional import require
from hepnb.runs import Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def parse_value(text: str) -> Any:
    """Parse a ``-p key value`` value as a Python literal where possible (else a string)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell (name → default)."""
    pm = require("papermill")
    return {k: v["default"] for k, v in pm.inspect_notebook(str(path)).items()}


def make_config(
    chapter: str,
    preset: str = "reduced",
    config_file: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | os.PathLike | None = None,
) -> Config:
    """A chapter's configuration: preset, then the YAML file, then ``-p`` overrides, then
    ``--out-dir``; any unknown key fails here, before anything runs, naming the key."""
    ch = chapters.get(chapter)
    values: dict[str, Any] = dict(ch.preset(preset).to_dict())
    if config_file is not None:
        values |= ch.config.yaml_values(config_file)
    if overrides:
        ch.config.from_dict(overrides, source="-p")  # names an unknown key
        values |= dict(overrides)
    if out_dir is not None:
        values["out_dir"] = str(Path(out_dir).resolve())
    return ch.config.from_dict(values, source=f"{chapter} configuration")


def run_chapter(
    chapter: str,
    preset: str = "reduced",
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | os.PathLike | None = None,
    notebooks: Sequence[str] | None = None,
    config_file: str | os.PathLike | None = None,
) -> Path:
    """Execute a chapter's notebooks in order with papermill, all with one configuration.

    Executed copies go to ``<run folder>/notebooks/``; the configuration is saved as
    ``<run folder>/config.yaml``. Every notebook declares every configuration key (a test
    checks it), so each receives the whole configuration.

    Returns:
        The folder of executed notebooks.
    """
    pm = require("papermill")
    try:
        ch = chapters.get(chapter)
        cfg = make_config(chapter, preset, config_file, overrides, out_dir)
    except (KeyError, ConfigError, FileNotFoundError) as exc:
        raise SystemExit(str(exc).strip('"')) from None
    for stem in notebooks or ():
        if stem not in ch.notebooks:
            raise SystemExit(f"{chapter}: unknown notebook {stem!r}; it has {list(ch.notebooks)}")
    paths = [BOOK / chapter / f"{stem}.ipynb" for stem in notebooks or ch.notebooks]
    for path in paths:
        declared = set(notebook_parameters(path))
        if declared != set(cfg.names()):
            raise SystemExit(
                f"{path}: its parameters cell declares {sorted(declared)}, the {chapter} "
                f"configuration has {cfg.names()}"
            )
    run = Path(cfg.out_dir) if Path(cfg.out_dir).is_absolute() else ROOT / cfg.out_dir
    executed = run / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    cfg.replace(out_dir=str(run)).save()
    params = cfg.to_dict()
    # the kernels inherit this environment: MPLBACKEND=Agg (tests, CI) would leave the executed
    # notebooks, and so the book, without figures; they get the notebook (inline) backend
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        for src in paths:
            print(f"[hepnb] executing {src.relative_to(ROOT)} with {params}", flush=True)
            pm.execute_notebook(
                str(src),
                str(executed / src.name),
                parameters=params,
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
    for name in chapters.names():
        for nb in sorted((runs_root / name / "notebooks").glob("*.ipynb")):
            shutil.copy2(nb, stage / "book" / name / nb.name)
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


def inspect_file(path: str | os.PathLike) -> str:
    """What ``hepnb inspect`` prints for a converted file: the chapter that wrote it (its root
    attribute ``chapter``) describes it; any other HDF5 file gets its groups, datasets and
    attributes listed."""
    h5py = require("h5py")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            owner = f.attrs.get("chapter")
            lines = [f"{path}: HDF5"]
            f.visititems(
                lambda name, obj: lines.append(
                    f"  {name}: {obj.shape} {obj.dtype}"
                    if isinstance(obj, h5py.Dataset)
                    else f"  {name}/"
                )
            )
    except OSError as exc:
        raise ValueError(f"{path}: not an HDF5 file ({exc})") from None
    for ch in chapters.all_chapters():
        if ch.name == owner and "inspect" in ch.extras:
            return ch.extras["inspect"](path)
    return "\n".join(lines)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="reduced", help="preset of the chapter (presets.yaml)")
    p.add_argument("--config", type=Path, default=None, help="YAML file of configuration keys")
    p.add_argument(
        "-p",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override one configuration key (a notebook parameter)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hepnb`` command."""
    parser = argparse.ArgumentParser(
        prog="hepnb", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    registry = chapters.all_chapters()
    names = [c.name for c in registry]

    gen = sub.add_parser("generate", help="simulate a chapter's sample (real ntuple schema)")
    gsub = gen.add_subparsers(dest="chapter", required=True)
    for ch in registry:
        g = gsub.add_parser(ch.name, help=ch.title)
        g.add_argument("--seed", type=int, default=0)
        g.add_argument("--out", type=Path, required=True, help="output file or folder")
        ch.generate[0](g)

    run = sub.add_parser("run", help="execute a chapter's notebooks with papermill")
    run.add_argument("chapter", choices=names)
    _add_config_args(run)
    run.add_argument("--out-dir", type=Path, default=None, help="run folder (overrides out_dir)")

    cfg = sub.add_parser("config", help="print a chapter's configuration as YAML")
    cfg.add_argument("chapter", choices=names)
    _add_config_args(cfg)

    converters = [c.name for c in registry if "convert" in c.extras]
    conv = sub.add_parser("convert", help="a chapter's conversion of its ntuples (e.g. → HDF5)")
    conv.add_argument("chapter", choices=converters)
    _add_config_args(conv)
    conv.add_argument(
        "--out", type=Path, default=None, help="output file (default: the run folder's step)"
    )

    insp = sub.add_parser("inspect", help="print what a converted HDF5 file holds")
    insp.add_argument("path", type=Path)

    book = sub.add_parser("book", help="build the Jupyter Book (HTML)")
    book.add_argument("--strict", action="store_true", help="fail on warnings")
    book.add_argument(
        "--runs-root", type=Path, default=None, help="folder holding <chapter>/notebooks"
    )
    book.add_argument(
        "--out-root", type=Path, default=None, help="build in <OUT_ROOT>/_build (default: here)"
    )

    sub.add_parser("all", help="run every chapter at the reduced preset, then build the book")

    a = parser.parse_args(argv)
    if a.cmd == "generate":
        print(chapters.get(a.chapter).generate[1](a))
    elif a.cmd in ("run", "config"):
        overrides = {k: parse_value(v) for k, v in a.p}
        if a.cmd == "config":
            try:
                print(make_config(a.chapter, a.preset, a.config, overrides).to_yaml(), end="")
            except (KeyError, ConfigError, FileNotFoundError) as exc:
                raise SystemExit(str(exc)) from None
        else:
            run_chapter(a.chapter, a.preset, overrides, a.out_dir, config_file=a.config)
    elif a.cmd == "convert":
        overrides = {k: parse_value(v) for k, v in a.p}
        try:
            config = make_config(a.chapter, a.preset, a.config, overrides)
            print(chapters.get(a.chapter).extras["convert"](config, a.out))
        except (KeyError, ConfigError, FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"hepnb convert {a.chapter}: {str(exc).strip(chr(34))}") from None
    elif a.cmd == "inspect":
        try:
            print(inspect_file(a.path))
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"hepnb inspect: {exc}") from None
    elif a.cmd == "book":
        print(build_book(a.strict, a.runs_root, a.out_root) / "index.html")
    elif a.cmd == "all":
        for name in names:
            run_chapter(name, "reduced")
        print(build_book() / "index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
