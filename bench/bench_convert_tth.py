"""ttH ROOT → HDF5 conversion: its memory stays bounded by the chunk, against reading every
branch of the same file at once (the reference, measured in the same run).

A random ttH-like ntuple of ``--n-events`` entries per process is written once into
``bench/out`` with uproot (counted arrays; 4–12 jets, one lepton, every branch of the schema;
random values, not physics). Two fresh child processes then each do one thing:

* ``convert``: ``convert.convert`` of both processes (the chapter's default features and
  feature makers, 10 jets) with ``--chunk-events`` entries per chunk;
* ``read-all``: every branch of both files read at once into awkward arrays
  (``TTree.arrays()``), nothing else — what a reader without chunks holds.

Reported is the highest resident memory during the work (sampled every 5 ms on a thread) above
the child's resident memory after its imports. Targets: the conversion's addition ≤
``TARGET`` × the all-at-once read's, and (bounded by the chunk, not the sample) ≤
1.25 × + 20 MiB its addition on a sample 4 times smaller (PASS / FAIL each). The conversion's throughput is printed for
scale (one run, wall clock).

    python bench/bench_convert_tth.py [--n-events 400000] [--chunk-events 20000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import uproot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, RssPoller, current_rss_mb, passfail

from hepnb.chapters.tth import convert, schema
from hepnb.chapters.tth.config import TthConfig

TARGET = 0.25  # conversion's added memory / all-at-once read's, at most
TARGET_GROWTH, SLACK_MB = 1.25, 20.0  # conversion's added memory, 4x sample / 1x, at most (+slack)
WRITE_BLOCK = 50_000  # entries per uproot extend (the writer's memory stays small too)


def _jagged(counts: np.ndarray, values: np.ndarray) -> ak.Array:
    return ak.unflatten(values, counts)


def write_sample(path: Path, n_events: int, seed: int) -> Path:
    """A random ntuple with every branch of the schema (MeV, rad), written block by block."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    tmp = path.with_suffix(".part")
    with uproot.recreate(tmp) as f:
        first = True
        for start in range(0, n_events, WRITE_BLOCK):
            n = min(WRITE_BLOCK, n_events - start)
            nj = rng.integers(4, 13, n)
            total = int(nj.sum())
            pt = np.sort(rng.exponential(60e3, total) + 25e3)[::-1].astype(f32)
            eta = rng.uniform(-2.5, 2.5, total).astype(f32)
            jets = {
                "pt": _jagged(nj, pt),
                "e": _jagged(nj, (pt * np.cosh(eta) * 1.02).astype(f32)),
                "eta": _jagged(nj, eta),
                "phi": _jagged(nj, rng.uniform(-np.pi, np.pi, total).astype(f32)),
                "tagWeightBin_DL1r_Continuous": _jagged(
                    nj, rng.integers(1, 6, total).astype(np.int32)
                ),
            }
            is_el = rng.random(n) < 0.5
            lep = {
                "pt": rng.exponential(40e3, n) + 27e3,
                "eta": rng.uniform(-2.5, 2.5, n),
                "phi": rng.uniform(-np.pi, np.pi, n),
                "charge": rng.choice([-1.0, 1.0], n),
            }
            lep["e"] = lep["pt"] * np.cosh(lep["eta"])
            branches: dict[str, object] = {"jet": ak.zip(jets)}
            for flavour, sel in (("el", is_el), ("mu", ~is_el)):
                counts = sel.astype(np.int64)
                branches[flavour] = ak.zip(
                    {k: _jagged(counts, v[sel].astype(f32)) for k, v in lep.items()}
                )
            ht = ak.to_numpy(ak.sum(jets["pt"], axis=1)).astype(f32)
            met = rng.exponential(50e3, n).astype(f32)
            branches |= {
                "nJets": nj.astype(np.int32),
                "nBTags_DL1r_70": ak.to_numpy(
                    ak.sum(jets["tagWeightBin_DL1r_Continuous"] >= 4, axis=1)
                ).astype(np.int32),
                "HT_jets": ht,
                "HT_all": (ht + lep["pt"] + met).astype(f32),
                "met_met": met,
                "met_phi": rng.uniform(-np.pi, np.pi, n).astype(f32),
                "eventNumber": np.arange(start, start + n, dtype=np.uint64),
                "runNumber": np.full(n, 410000, np.uint32),
            }
            for w in schema.WEIGHT_BRANCHES:
                branches[w] = rng.uniform(0.9, 1.1, n).astype(f32)
            if first:
                f.mktree(
                    schema.TREE,
                    {
                        k: (v.type if isinstance(v, ak.Array) else v.dtype)
                        for k, v in branches.items()
                    },
                    counter_name=lambda key: f"n_{key}",
                )
                first = False
            f[schema.TREE].extend(branches)
    os.replace(tmp, path)
    return path


def sample(n_events: int) -> dict[str, list[Path]]:
    """Signal and background files in bench/out, written once per size."""
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}
    for seed, p in enumerate(schema.PROCESSES):
        path = OUT / f"tth_bench_{p}_n{n_events}.root"
        if not path.exists():
            write_sample(path, n_events, seed)
        files[p] = [path]
    return files


def read_all(files: dict[str, list[Path]]) -> int:
    """Every branch of every file in memory at once; returns the entries held."""
    held = []
    for paths in files.values():
        for path in paths:
            with uproot.open(path) as f:
                held.append(f[schema.TREE].arrays())
    return sum(len(a) for a in held)


def child(mode: str, n_events: int, chunk_events: int) -> None:
    """One task in this (fresh) process; prints its memory and time as JSON."""
    files = sample(n_events)
    out = OUT / f"tth_bench_n{n_events}.h5"
    cfg = TthConfig(chunk_events=chunk_events)
    gc.collect()
    setup = current_rss_mb()
    t0 = time.perf_counter()
    with RssPoller() as poll:
        if mode == "convert":
            convert.convert_config(cfg, files, out)
            with h5py.File(out) as h5:
                n = sum(h5[p]["weight"].shape[0] for p in schema.PROCESSES)
        else:
            n = read_all(files)
    seconds = time.perf_counter() - t0
    print(json.dumps({"events": n, "setup_mb": setup, "peak_mb": poll.peak, "s": seconds}))


def run_child(mode: str, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--n-events", str(a.n_events)]
    cmd += ["--chunk-events", str(a.chunk_events)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"child {mode} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n-events", type=int, default=400_000, help="entries per process")
    ap.add_argument("--chunk-events", type=int, default=20_000, help="conversion chunk")
    ap.add_argument("--child", choices=("convert", "read-all"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.n_events, a.chunk_events)
        return
    if a.n_events < 1 or a.chunk_events < 1:
        ap.error("--n-events and --chunk-events must be >= 1")

    files = sample(a.n_events)
    size = sum(p.stat().st_size for ps in files.values() for p in ps)
    results = {mode: run_child(mode, a) for mode in ("read-all", "convert")}
    quarter = argparse.Namespace(n_events=max(a.n_events // 4, 1), chunk_events=a.chunk_events)
    sample(quarter.n_events)  # written outside the children
    results["convert/4"] = run_child("convert", quarter)
    added = {m: max(r["peak_mb"] - r["setup_mb"], 0.0) for m, r in results.items()}

    print("command :", shlex.join([Path(sys.executable).name, *sys.argv]))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine : {platform.machine()}, nproc {cpus}, load avg "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; python {platform.python_version()}, "
        f"uproot {uproot.__version__}, awkward {ak.__version__}, h5py {h5py.__version__}, "
        f"numpy {np.__version__}"
    )
    print(
        f"sample  : {a.n_events:,} random entries per process, 2 processes "
        f"({size / 2**20:.1f} MiB of ROOT files); conversion chunk {a.chunk_events:,} entries"
    )
    print("memory  : highest RSS during the task above the child's RSS after imports (MiB)")
    for mode, r in results.items():
        rate = r["events"] / r["s"]
        print(
            f"  {mode:9s} {r['events']:>9,} events  +{added[mode]:8.1f} MiB  "
            f"(peak {r['peak_mb']:.0f} MiB, {r['s']:.1f} s, {rate:,.0f} events/s)"
        )
    ratio = added["convert"] / added["read-all"] if added["read-all"] else float("inf")
    print(f"  convert / read-all: {ratio:.3f} (target <= {TARGET:g}): {passfail(ratio <= TARGET)}")
    limit = TARGET_GROWTH * added["convert/4"] + SLACK_MB
    print(
        f"  convert at 4x the sample: +{added['convert/4']:.1f} → +{added['convert']:.1f} MiB "
        f"(limit {TARGET_GROWTH:g} x + {SLACK_MB:g} MiB = {limit:.1f}): "
        f"{passfail(added['convert'] <= limit)}"
    )


if __name__ == "__main__":
    main()
