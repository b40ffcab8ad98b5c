"""Time to execute the whole book on the reduced sample, against the 15-minute target of the
five-chapter book.

Runs ``hepnb run <chapter> --preset reduced`` for every chapter of the registry (``hepnb.chapters``) (into
a fresh run folder, so every sample is generated and every model trained), then prints each
notebook's time (papermill's own record), the total against the target, the peak memory of
any process involved (Binder gives ≈ 2 GB), and the ratio of each time to a reference measured
in the same run: a bare ``python -c "import hepnb.train"``, roughly what starting a kernel that
imports the library costs on this machine.

    python bench/bench_book_time.py [--preset reduced] [--chapters trt ghost] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hepnb import chapters

TARGET_S = 900.0


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def _children_peak_mb() -> float:
    """Largest resident memory of any finished child process (and its waited-for children)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="reduced")
    names = chapters.names()
    ap.add_argument("--chapters", nargs="*", default=names, choices=names)
    ap.add_argument("--keep", action="store_true", help="keep the run folders (path printed)")
    a = ap.parse_args(argv)

    hepnb = [sys.executable, "-m", "hepnb.cli"]
    reference = min(_run([sys.executable, "-c", "import hepnb.train"]) for _ in range(3))
    root = Path(tempfile.mkdtemp(prefix="hepnb-book-time-"))
    rows: list[tuple[str, float]] = []
    wall: dict[str, float] = {}
    try:
        for chapter in a.chapters:
            out = root / chapter
            print(f"[bench] hepnb run {chapter} --preset {a.preset} --out-dir {out}", flush=True)
            wall[chapter] = _run(
                [*hepnb, "run", chapter, "--preset", a.preset, "--out-dir", str(out)]
            )
            for stem in chapters.get(chapter).notebooks:
                nb = json.loads((out / "notebooks" / f"{stem}.ipynb").read_text())
                rows.append((f"{chapter}/{stem}", float(nb["metadata"]["papermill"]["duration"])))
    finally:
        if a.keep:
            print(f"[bench] run folders kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\nreference: bare `python -c 'import hepnb.train'` = {reference:.2f} s (best of 3)")
    print(f"{'notebook':<32}{'time [s]':>10}{'× reference':>14}")
    for name, t in rows:
        print(f"{name:<32}{t:>10.1f}{t / reference:>14.1f}")
    total = sum(wall.values())
    for chapter, t in wall.items():
        print(f"chapter {chapter}: {t:.1f} s wall (kernel starts included)")
    print(f"peak memory of one process (a kernel): {_children_peak_mb():.0f} MB (Binder: ≈ 2 GB)")
    print(
        f"total: {total:.1f} s = {total / 60:.1f} min for {len(rows)} notebooks; target "
        f"{TARGET_S / 60:.0f} min: {'within' if total <= TARGET_S else 'OVER'} "
        f"({total / TARGET_S:.0%} of it); {total / reference:.0f} × reference"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
