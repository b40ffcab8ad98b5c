"""Write a small track-finding event file with CERN ROOT itself, as ROOT's TTree writes vectors.

Run with a Python that has CERN ROOT (not the project's venv, not part of the test suite)::

    /tmp/rootvenv/bin/python tests/chapters/tracking/data/make_tracking_fixture.py

It writes ``tracking_root_vectors.root`` next to this script with two trees, each branch a
``std::vector`` created by ``TTree::Branch(name, &vector)`` (ROOT's default buffer size and
split level), one entry per event:

* ``events``: the schema of ``hepnb.chapters.tracking.schema`` — hits ``x y z`` as
  ``std::vector<float>``, ``station track`` as ``std::vector<int>``; particles ``px py pz vx vy
  vz`` as ``std::vector<double>`` and ``charge`` as ``std::vector<int>``; no counter branches.
  The values are the formulas of :func:`hit` and :func:`particle` (exact in float32), so a test
  can recompute them.
* ``events_badtrack``: the same, except that hit 1 of entry 2 has ``track`` = 7, outside the
  entry's particles.
"""

from __future__ import annotations

import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=UserWarning, module="ROOT")
import ROOT  # noqa: E402  (after the filter: the PyPI build of ROOT warns on import)

HERE = Path(__file__).resolve().parent
OUT = HERE / "tracking_root_vectors.root"
N_ENTRIES = 6
FLOATS = ("x", "y", "z")
INTS = ("station", "track")
DOUBLES = ("px", "py", "pz", "vx", "vy", "vz")


def n_particles(entry: int) -> int:
    """Particles of an entry: 1, 2, 3, 1, 2, 3."""
    return 1 + entry % 3


def n_hits(entry: int) -> int:
    """Hits of an entry: 2, 4, 6, ..."""
    return 2 + 2 * entry


def hit(entry: int, i: int) -> dict[str, float | int]:
    """Hit ``i`` of ``entry``: every fourth hit is noise (track −1)."""
    return {
        "x": 10.0 * entry + 0.5 * i,
        "y": -3.25 * i + entry,
        "z": 0.125 * (i - entry),
        "station": i % 3,
        "track": -1 if i % 4 == 3 else i % n_particles(entry),
    }


def particle(entry: int, j: int) -> dict[str, float | int]:
    """Particle ``j`` of ``entry``."""
    return {
        "px": 0.25 * (j + 1) + 0.5 * entry,
        "py": -0.125 * j,
        "pz": 1.5 - 0.75 * entry,
        "vx": 0.1 * j,
        "vy": -0.2 * entry,
        "vz": -2.5 * entry,
        "charge": 1 if (entry + j) % 2 == 0 else -1,
    }


def write_tree(name: str, bad_track: bool) -> None:
    tree = ROOT.TTree(name, "hepnb tracking fixture")
    vecs = {b: ROOT.std.vector("float")() for b in FLOATS}
    vecs |= {b: ROOT.std.vector("int")() for b in (*INTS, "charge")}
    vecs |= {b: ROOT.std.vector("double")() for b in DOUBLES}
    for b in ("x", "y", "z", "station", "track", *DOUBLES, "charge"):
        tree.Branch(b, vecs[b])
    for entry in range(N_ENTRIES):
        for v in vecs.values():
            v.clear()
        for i in range(n_hits(entry)):
            values = hit(entry, i)
            if bad_track and entry == 2 and i == 1:
                values["track"] = 7
            for b in (*FLOATS, *INTS):
                vecs[b].push_back(values[b])
        for j in range(n_particles(entry)):
            for b, v in particle(entry, j).items():
                vecs[b].push_back(v)
        tree.Fill()
    tree.Write()


def main() -> None:
    f = ROOT.TFile(str(OUT), "RECREATE")
    write_tree("events", bad_track=False)
    write_tree("events_badtrack", bad_track=True)
    f.Close()
    check = ROOT.TFile(str(OUT))
    tree = check.Get("events")
    print(f"{OUT.name}: ROOT {ROOT.gROOT.GetVersion()}, {tree.GetEntries()} entries")
    for br in tree.GetListOfBranches():
        print(f"  {br.GetName()}: {br.GetClassName()}")
    check.Close()


if __name__ == "__main__":
    main()
