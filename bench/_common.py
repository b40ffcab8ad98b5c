"""Helpers shared by the benchmark scripts: timing, peak memory, a cached simulated sample."""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from hepnb.chapters.trt import sim as trt_sim

OUT = Path(__file__).resolve().parent / "out"


@contextmanager
def timer(result: dict, key: str):
    """Store the wall time (s) of the block in ``result[key]``."""
    t0 = time.perf_counter()
    yield
    result[key] = time.perf_counter() - t0


def best_of(fn, repeat: int = 3):
    """Run ``fn`` ``repeat`` times; return (shortest wall time in s, last result). The minimum
    is the least noisy estimate on a shared machine."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024**2


def trt_sample(n_tracks: int, seed: int = 0) -> Path:
    """A simulated TRT sample in bench/out, generated once per size and seed."""
    path = OUT / f"trt_sim_n{n_tracks}_seed{seed}.root"
    if not path.exists():
        trt_sim.generate(path, n_tracks=n_tracks, seed=seed, data=False)
    return path
