"""ECal event streaming (``hepnb.stream``): what it adds to the cost of reading the events, and
that its memory stays flat as the sample grows, against an in-memory pipeline measured in the
same run.

Measured on simulated ECal samples (one file per multiplicity, generated once into
``bench/out``), over the training blocks of ``stream.plan`` (throughput = events / s):

* ``read``: the chapter's ``steps.read_unit`` over the training blocks and nothing else (uproot,
  ID checks, scintillator response) — the floor every pipeline pays;
* ``stream``: the shuffled training ``EventStream`` (blocks permuted, shuffling buffer, random
  batches) with a transform that returns the labels only: the read plus what ``hepnb.stream``
  adds (target: ≥ 0.9 × the ``read`` throughput);
* ``stream+cnn``: the same with the CNN batch builder (one training epoch's data work);
* ``in-memory``: the alternative the stream replaces: every training event read into one array
  first, then the same random batches (labels only) — no target, for scale.

Memory: ``read``, ``stream`` and ``in-memory`` each run one epoch in a fresh child process, on
the sample of ``--n-events`` per multiplicity and on one ``--scale`` times larger; reported is
the highest resident memory during the epoch (sampled every 5 ms) above the child's resident
memory after imports and planning. What the stream holds is its addition minus that of the
bare read of the same blocks (a reader may leave garbage that only Python's full, rare,
collections free — opened files in reference cycles). Target: that difference on the large
sample ≤ 1.25 × the one on the small sample + 20 MiB (allocator noise), while the in-memory
pipeline grows with the sample.

Method (as in bench_ingest_trt.py): the files are read once untimed (page cache) and each
pipeline run once untimed; then ``--repeats`` cycles run the four pipelines with their order
rotating per cycle, timed by wall clock and by this process's CPU time. A ratio is the median
of the per-cycle ratios with their min–max; PASS / FAIL only when the min–max lies on one side
of the target, else UNDECIDED.

    python bench/bench_ecal_stream.py [--n-events 1000] [--scale 4] [--repeats 3]
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
from functools import partial
from pathlib import Path

import awkward as ak
import numpy as np
import torch
import uproot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, RssPoller, current_rss_mb, spread, timed, verdict, warm_page_cache

from hepnb import stream
from hepnb.chapters.ecal import batches, schema, sim, steps

MULTIPLICITIES = (1, 2, 3, 4)
SEED = 0
TARGET_STREAM = 0.9  # stream throughput / read throughput, at least
TARGET_GROWTH = 1.25  # streamed epoch's added memory, large / small sample, at most
SLACK_MB = 20.0


def sample(n_events: int, seed: int = SEED) -> dict[int, Path]:
    """A simulated sample in bench/out (one file per multiplicity), generated once."""
    folder = OUT / f"ecal_sim_n{n_events}_seed{seed}"
    files = {n: folder / f"ecal_{n}e.root" for n in MULTIPLICITIES}
    if not all(p.exists() for p in files.values()):
        files = sim.write_sample(folder, n_events, seed, MULTIPLICITIES)
    return files


def train_units(files: dict[int, Path], block: int) -> list[stream.Unit]:
    """The training blocks, labels = class index (as the chapter plans them)."""
    sources = {i: [files[n]] for i, n in enumerate(MULTIPLICITIES)}
    return stream.plan(sources, schema.TREE, block=block, seed=SEED)["train"]


READ = partial(steps.read_unit, pass_name=schema.DEFAULT_PASS, seed=SEED)


def labels_only(events: ak.Array, labels: np.ndarray) -> torch.Tensor:
    """The cheapest transform: the batch's labels as a tensor."""
    return torch.from_numpy(labels)


def read_only(units: list[stream.Unit]) -> int:
    """Every event of ``units`` read, nothing else."""
    return sum(len(chunk) for u in units for chunk in READ(u))


def streamed(units, transform, batch_size: int, buffer_size: int, seed: int = 0) -> int:
    """One shuffled epoch of the training stream; returns the events batched."""
    torch.manual_seed(seed)
    s = stream.EventStream(
        units, READ, transform, batch_size=batch_size, shuffle=True, buffer_size=buffer_size
    )
    n = 0
    for batch in s:
        n += len(batch[1] if isinstance(batch, tuple) else batch)
    return n


def in_memory(units, transform, batch_size: int, seed: int = 0) -> int:
    """All events read into one array, then random batches: the pipeline streaming replaces."""
    chunks = [(c, u.label) for u in units for c in READ(u)]
    events = ak.concatenate([c for c, _ in chunks])
    labels = np.concatenate([np.full(len(c), lab, np.int64) for c, lab in chunks])
    del chunks
    perm = np.random.default_rng(seed).permutation(len(events))
    n = 0
    for i in range(0, len(events), batch_size):
        idx = perm[i : i + batch_size]
        n += len(transform(events[idx], labels[idx]))
    return n


def child(mode: str, n_events: int, block: int, batch_size: int, buffer_size: int) -> None:
    """One epoch of ``mode`` in this (fresh) process; prints its memory as JSON."""
    units = train_units(sample(n_events), block)
    gc.collect()
    setup = current_rss_mb()
    t0 = time.perf_counter()
    with RssPoller() as poll:
        if mode == "read":
            n = read_only(units)
        elif mode == "stream":
            n = streamed(units, labels_only, batch_size, buffer_size)
        else:
            n = in_memory(units, labels_only, batch_size)
    seconds = time.perf_counter() - t0
    print(json.dumps({"events": n, "setup_mb": setup, "peak_mb": poll.peak, "s": seconds}))


def run_child(mode: str, n_events: int, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--n-events", str(n_events)]
    cmd += ["--block", str(a.block), "--batch-size", str(a.batch_size)]
    cmd += ["--buffer-size", str(a.buffer_size)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n-events", type=int, default=1000, help="events per multiplicity")
    ap.add_argument("--scale", type=int, default=10, help="large sample / small sample")
    ap.add_argument("--repeats", type=int, default=3, help="timed cycles")
    ap.add_argument("--block", type=int, default=250, help="events per unit (the chapter's)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--buffer-size", type=int, default=2000)
    ap.add_argument("--no-memory", action="store_true", help="skip the child-process runs")
    ap.add_argument("--child", choices=("read", "stream", "memory"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.n_events, a.block, a.batch_size, a.buffer_size)
        return
    if a.repeats < 1 or a.scale < 2:
        ap.error("--repeats must be >= 1 and --scale >= 2")

    files = sample(a.n_events)
    size = warm_page_cache(files.values())
    units = train_units(files, a.block)
    cnn = batches.Builder("cnn")
    pipelines = {
        "read": lambda: read_only(units),
        "stream": lambda: streamed(units, labels_only, a.batch_size, a.buffer_size),
        "stream+cnn": lambda: streamed(units, cnn, a.batch_size, a.buffer_size),
        "in-memory": lambda: in_memory(units, labels_only, a.batch_size),
    }
    n = {k: fn() for k, fn in pipelines.items()}  # untimed: page cache, imports, allocator
    if len(set(n.values())) != 1:
        raise RuntimeError(f"the pipelines saw different numbers of events: {n}")
    n_events = n["read"]

    wall: dict[str, list[float]] = {k: [] for k in pipelines}
    cpu: dict[str, list[float]] = {k: [] for k in pipelines}
    names = list(pipelines)
    for i in range(a.repeats):
        for k in names[i % len(names) :] + names[: i % len(names)]:
            w, c, _ = timed(pipelines[k])
            wall[k].append(w)
            cpu[k].append(c)

    print("command :", shlex.join([Path(sys.executable).name, *sys.argv]))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine : {platform.machine()}, nproc {cpus}, load avg "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; python {platform.python_version()}, "
        f"uproot {uproot.__version__}, awkward {ak.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__}"
    )
    print(
        f"sample  : {a.n_events:,} simulated events per multiplicity {MULTIPLICITIES} "
        f"({size / 2**20:.1f} MiB, page cache warmed); {len(units)} training blocks of <= "
        f"{a.block}, {n_events:,} events; batch {a.batch_size}, buffer {a.buffer_size}"
    )
    print(f"timing  : {a.repeats} cycles, order rotating; events / s, median [min – max]")
    print(f"  {'':12s} {'wall clock':>30s}   {'CPU time of this process':>30s}")
    w = {k: np.asarray(v) for k, v in wall.items()}
    c = {k: np.asarray(v) for k, v in cpu.items()}
    for k in pipelines:
        print(f"  {k:12s} {spread(n_events / w[k]):>30s}   {spread(n_events / c[k]):>30s}")
    print("ratios of throughput (median of the per-cycle ratios):")
    for clock, t in (("wall", w), ("CPU", c)):
        print(verdict(t["read"] / t["stream"], TARGET_STREAM, f"stream / read ({clock})"))
        print(verdict(t["read"] / t["stream+cnn"], None, f"stream+cnn / read ({clock})"))
        print(verdict(t["in-memory"] / t["stream"], None, f"stream / in-memory ({clock})"))

    if a.no_memory:
        return
    large = a.n_events * a.scale
    sample(large)  # generate outside the children
    print(
        f"memory  : one epoch per fresh child process; highest RSS during the epoch above the "
        f"RSS after imports and planning (MiB), at {a.n_events:,} and {large:,} events per multiplicity"
    )
    added = {}
    for mode in ("read", "stream", "memory"):
        for ne in (a.n_events, large):
            r = run_child(mode, ne, a)
            added[mode, ne] = max(r["peak_mb"] - r["setup_mb"], 0.0)
            print(
                f"  {mode:8s} {ne:>8,} / multiplicity: {r['events']:>8,} events, "
                f"+{added[mode, ne]:8.1f} MiB (peak {r['peak_mb']:.0f} MiB, {r['s']:.1f} s)"
            )
    # what the stream holds beyond what reading the same blocks leaves behind
    own = {ne: added["stream", ne] - added["read", ne] for ne in (a.n_events, large)}
    limit = TARGET_GROWTH * max(own[a.n_events], 0.0) + SLACK_MB
    word = "PASS" if own[large] <= limit else "FAIL"
    print(
        f"  stream − read: {own[a.n_events]:+.1f} MiB → {own[large]:+.1f} MiB at {a.scale}x the "
        f"sample (limit {TARGET_GROWTH:g} x + {SLACK_MB:g} MiB = {limit:.1f}): {word}"
    )
    print(
        f"  read alone: +{added['read', a.n_events]:.1f} → +{added['read', large]:.1f} MiB "
        f"(the reader's garbage awaiting a full GC); in-memory: "
        f"+{added['memory', a.n_events]:.1f} → +{added['memory', large]:.1f} MiB"
    )


if __name__ == "__main__":
    main()
