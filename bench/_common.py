"""Helpers shared by the benchmark scripts: timing, peak memory, a cached simulated sample."""

from __future__ import annotations

import gc
import os
import resource
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import numpy as np

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


def passfail(ok: bool) -> str:
    """``"PASS"`` or ``"FAIL"`` for a physics target met or not."""
    return "PASS" if ok else "FAIL"


def verdict(ratios, target: float | None, label: str) -> str:
    """The ratio as median of per-cycle ratios, its spread, and PASS / FAIL / UNDECIDED
    (decided on the min–max of the per-cycle ratios; no verdict without a target)."""
    r = np.asarray(ratios)
    q1, q3 = np.percentile(r, [25, 75])
    if target is None:
        word = "(no target)"
    elif r.min() >= target:
        word = f"PASS vs the {target:g}x target"
    elif r.max() < target:
        word = f"FAIL vs the {target:g}x target"
    else:
        word = f"UNDECIDED (spread crosses the {target:g}x target)"
    return (
        f"  {label:30s} {np.median(r):7.2f}x  [min–max {r.min():.2f} – {r.max():.2f}, "
        f"IQR {q1:.2f} – {q3:.2f}, {len(r)} cycles]  {word}"
    )


def timed(fn):
    """(wall time in s, CPU time of this process in s, result) of ``fn()``, after a garbage
    collection outside the clock. CPU time is far less sensitive than wall time to other
    processes competing for the cores."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - w0, time.process_time() - c0, result


def warm_page_cache(paths) -> int:
    """Read the whole files once (untimed) so that no timed run pays for the disk; bytes read."""
    n = 0
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 24):
                n += len(chunk)
    return n


def spread(x) -> str:
    """``median [min–max]`` of a throughput series (tracks or events / s)."""
    x = np.asarray(x)
    return f"{np.median(x):,.0f}  [{x.min():,.0f} – {x.max():,.0f}]"


def current_rss_mb() -> float:
    """Resident memory of this process now (MiB; Linux ``/proc``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssPoller:
    """Highest resident memory seen while the block runs, sampled every ``interval`` s on a
    thread (the process's peak, ``ru_maxrss``, is set by the imports and hides the block's)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval, self.peak = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> Self:
        self.peak = current_rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mb())
