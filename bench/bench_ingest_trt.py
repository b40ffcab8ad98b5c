"""ROOT → packed LSTM tensors: hepnb's vectorised pipeline against two references measured in
the same run, with a verdict only when the numbers decide it.

Measured (throughput = tracks read per second, both trees of a simulated TRT sample):

* ``hepnb``: ``reader.to_dataset(reader.read_trees(...))``, ROOT → the flat packed store (hits
  + offsets + track features + labels), schema checks included;
* ``hepnb+packing``: the same plus every batch built as a PackedSequence (one training epoch's
  data work, ``data.batch_loader``);
* ``uproot``: a bare uproot read of the same branches into awkward arrays (target: hepnb ≥ 0.5×
  its speed);
* ``loop``: a per-track Python loop like the original published code (read, one hit matrix per
  track, pack each batch), on a subsample of ``--loop-tracks`` tracks because it is slow; its
  throughput is per track, so it scales to the full sample (target: hepnb ≥ 20× faster).

Method: the file is read once untimed (OS page cache) and every candidate run once untimed
(imports, allocator). Then ``--repeats`` cycles each time the hepnb store (+ batches) and the
bare uproot read back to back, the order alternating per cycle (A B, B A, ...) so a drift in
machine load hits both alike; the first ``--loop-repeats`` cycles also run the loop. Each
run is timed by wall clock and by this process's CPU time (much less sensitive to other
processes competing for the cores of a shared machine). Each throughput is given as median
[min–max]; each ratio as the median of the per-cycle ratios with their min–max and
interquartile range. PASS / FAIL against a target only when the min–max of the per-cycle
ratios lies entirely on one side of it, else UNDECIDED.

    python bench/bench_ingest_trt.py [--n-tracks 100000] [--repeats 7] [--loop-tracks 3000]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import torch
import uproot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import spread, timed, trt_sample, verdict, warm_page_cache

from hepnb import data
from hepnb.chapters.trt import reader, schema

TREES = ("electron_mc", "muon_mc")
TARGET_UPROOT = 0.5  # hepnb throughput / bare uproot read, at least
TARGET_LOOP = 20.0  # hepnb throughput / per-track loop, at least


def hepnb_store(path: Path) -> data.SequenceDataset:
    """ROOT → the flat packed store (hits + offsets + track features + labels), as tensors."""
    return reader.to_dataset(reader.read_trees(path, *TREES))


def hepnb_batches(ds: data.SequenceDataset, batch_size: int = 256) -> int:
    """Store → every batch as a PackedSequence (what one training epoch does)."""
    n = 0
    for _, y, _ in data.batch_loader(ds, batch_size):
        n += len(y)
    return n


def bare_uproot(path: Path) -> int:
    """The same branches of both trees read into awkward arrays, nothing else."""
    n = 0
    with uproot.open(path) as f:
        for tree in TREES:
            n += len(f[tree].arrays(list(schema.FEATURE_BRANCHES)))
    return n


def per_track_loop(path: Path, n_tracks: int, batch_size: int = 256) -> int:
    """Like the original code: read, then build each track's hit matrix in Python."""
    with uproot.open(path) as f:
        arrays = f[TREES[0]].arrays(list(schema.FEATURE_BRANCHES), entry_stop=n_tracks)
    seqs = []
    for i in range(len(arrays)):
        track = arrays[i]
        hits = np.stack([np.asarray(track[f], dtype=np.float32) for f in schema.HIT_FEATURES], 1)
        if len(hits) >= 5:
            seqs.append(torch.from_numpy(hits))
    for b in range(0, len(seqs), batch_size):
        batch = sorted(seqs[b : b + batch_size], key=len, reverse=True)
        torch.nn.utils.rnn.pack_sequence(batch)
    return len(arrays)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n-tracks", type=int, default=100_000, help="tracks per tree")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved hepnb / uproot cycles")
    ap.add_argument("--loop-tracks", type=int, default=3_000, help="subsample for the slow loop")
    ap.add_argument("--loop-repeats", type=int, default=3, help="cycles that also run the loop")
    a = ap.parse_args()
    if a.repeats < 1 or a.loop_repeats < 1:
        ap.error("--repeats and --loop-repeats must be >= 1")
    loop_repeats = min(a.loop_repeats, a.repeats)

    path = trt_sample(a.n_tracks)
    size = warm_page_cache([path])
    # one untimed run of each: page cache, imports, allocator pools
    n_read = bare_uproot(path)
    ds = hepnb_store(path)
    hepnb_batches(ds)
    n_loop = per_track_loop(path, a.loop_tracks)

    # wall and CPU seconds per step and cycle
    wall: dict[str, list[float]] = {k: [] for k in ("hepnb", "batches", "uproot", "loop")}
    cpu: dict[str, list[float]] = {k: [] for k in wall}

    def record(key: str, fn):
        w, c, result = timed(fn)
        wall[key].append(w)
        cpu[key].append(c)
        return result

    for i in range(a.repeats):
        for step in ("hepnb", "uproot") if i % 2 == 0 else ("uproot", "hepnb"):
            if step == "hepnb":
                store = record("hepnb", lambda: hepnb_store(path))
                record("batches", lambda s=store: hepnb_batches(s))
            elif record("uproot", lambda: bare_uproot(path)) != n_read:
                raise RuntimeError("bare uproot read a different number of tracks")
        if i < loop_repeats:
            record("loop", lambda: per_track_loop(path, a.loop_tracks))

    w = {k: np.asarray(v) for k, v in wall.items()}
    c = {k: np.asarray(v) for k, v in cpu.items()}
    n_loop_pairs = len(w["loop"])  # each loop run pairs with the hepnb run of its cycle

    print("command :", shlex.join([Path(sys.executable).name, *sys.argv]))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine : {platform.machine()}, nproc {cpus}, load avg "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; python {platform.python_version()}, "
        f"uproot {uproot.__version__}, awkward {ak.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__}"
    )
    print(
        f"sample  : {path.name} ({size / 2**20:.1f} MiB, page cache warmed), {n_read:,} tracks "
        f"read ({len(ds):,} kept with >= {schema.MIN_HITS_PID} hits); loop on a subsample of "
        f"{n_loop:,} tracks, scaled per track"
    )
    print(
        f"timing  : {a.repeats} interleaved cycles (order alternating), loop in {n_loop_pairs}; "
        "throughput = tracks read / s, median [min – max]"
    )
    print(f"  {'':14s} {'wall clock':>34s}   {'CPU time of this process':>34s}")
    for name, key, n in (
        ("hepnb", "hepnb", n_read),
        ("hepnb+packing", None, n_read),
        ("uproot", "uproot", n_read),
        ("loop", "loop", n_loop),
    ):
        tw = w["hepnb"] + w["batches"] if key is None else w[key]
        tc = c["hepnb"] + c["batches"] if key is None else c[key]
        print(f"  {name:14s} {spread(n / tw):>34s}   {spread(n / tc):>34s}")
    print(
        f"  (medians, wall: hepnb {np.median(w['hepnb']):.2f} s, +batches "
        f"{np.median(w['batches']):.2f} s, uproot {np.median(w['uproot']):.2f} s; loop "
        f"extrapolated to the full sample {np.median(w['loop']) * n_read / n_loop:,.0f} s)"
    )
    print("ratios of throughput (median of the per-cycle ratios):")
    for clock, t in (("wall", w), ("CPU", c)):
        print(verdict(t["uproot"] / t["hepnb"], TARGET_UPROOT, f"hepnb / uproot ({clock})"))
        per_loop = (n_read / t["hepnb"][:n_loop_pairs]) / (n_loop / t["loop"])
        print(verdict(per_loop, TARGET_LOOP, f"hepnb / loop ({clock})"))
        ratio = t["uproot"] / (t["hepnb"] + t["batches"])
        print(verdict(ratio, None, f"hepnb+packing / uproot ({clock})"))


if __name__ == "__main__":
    main()
