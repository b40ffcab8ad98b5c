"""ROOT → packed LSTM tensors: hepnb's vectorised pipeline against two references measured in
the same run — a bare uproot read of the same branches (target: ≥ 0.5× its speed) and a
per-track Python loop like the original published code (target: ≥ 20× faster).

    python bench/bench_ingest_trt.py [--n-tracks 100000] [--loop-tracks 3000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import torch
import uproot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, timer, trt_sample

from hepnb import data
from hepnb.chapters.trt import reader, schema

TREES = ("electron_mc", "muon_mc")


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
    n = 0
    for tree in TREES:
        n += len(uproot.open(path)[tree].arrays(list(schema.FEATURE_BRANCHES)))
    return n


def per_track_loop(path: Path, n_tracks: int, batch_size: int = 256) -> int:
    """Like the original code: read, then build each track's hit matrix in Python."""
    arrays = uproot.open(path)[TREES[0]].arrays(list(schema.FEATURE_BRANCHES), entry_stop=n_tracks)
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
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-tracks", type=int, default=100_000, help="tracks per tree")
    ap.add_argument("--loop-tracks", type=int, default=3_000, help="tracks for the slow loop")
    a = ap.parse_args()
    path = trt_sample(a.n_tracks)
    t: dict[str, float] = {}
    bare_uproot(path)  # warm the page cache
    t["uproot"], n_ref = best_of(lambda: bare_uproot(path))
    t["hepnb"], ds = best_of(lambda: hepnb_store(path))
    n = len(ds)
    t["batches"], _ = best_of(lambda: hepnb_batches(ds))
    with timer(t, "loop"):
        n_loop = per_track_loop(path, a.loop_tracks)
    rate = {
        "uproot": n_ref / t["uproot"],
        "hepnb": n / t["hepnb"],
        "loop": n_loop / t["loop"],
        "hepnb+packing": n / (t["hepnb"] + t["batches"]),
    }
    print(f"sample: {path.name}, {n_ref} tracks, {ak.__name__} {ak.__version__}")
    for k, v in rate.items():
        print(f"  {k:13s} {v:12,.0f} tracks/s")
    print(f"hepnb / bare uproot read : {rate['hepnb'] / rate['uproot']:.2f}x  (target >= 0.5)")
    print(f"hepnb / per-track loop   : {rate['hepnb'] / rate['loop']:.1f}x  (target >= 20)")
    print(
        f"with every batch packed  : {rate['hepnb+packing'] / rate['uproot']:.2f}x uproot, "
        f"{rate['hepnb+packing'] / rate['loop']:.1f}x loop"
    )


if __name__ == "__main__":
    main()
