"""Throughput of the TRT simulator (:mod:`hepnb.chapters.trt.sim`), with a same-run numpy reference.

Prints tracks/s for generating ``--n`` tracks (default 1M electrons, chunk by chunk, results
discarded), the hits generated, and the ratio of that time to a reference measured in the same
run: one plain numpy pass over the same number of hits that draws an HT flag and a quantised
Moyal ToT per hit (the minimum any hit-level simulator must do). With ``--write N`` it also
times :func:`hepnb.chapters.trt.sim.generate` writing N tracks per MC tree (+ the data trees) to a ROOT
file. No assertions: numbers depend on the machine.

Usage::

    python bench/bench_sim_trt.py [--n 1000000] [--write 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hepnb.chapters.trt import sim as trt


def simulate_hits(n_tracks: int, species: str = "electron", seed: int = 0) -> tuple[float, int]:
    """Seconds to simulate ``n_tracks`` (chunked, discarded) and the number of hits made."""
    t0 = time.perf_counter()
    hits = 0
    for chunk in trt._iter_chunks(n_tracks, species, seed, False):
        hits += int(chunk["counts"].sum())
    return time.perf_counter() - t0, hits


def reference(n_hits: int, seed: int = 0, chunk: int = 4_000_000) -> float:
    """Seconds for a plain numpy pass drawing an HT flag and a quantised Moyal ToT per hit."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for start in range(0, n_hits, chunk):
        m = min(chunk, n_hits - start)
        ht = rng.random(m) < 0.1
        tot = 16.0 + 4.0 * -np.log(rng.standard_normal(m) ** 2) + 10.0 * ht
        np.clip(np.floor(tot / 3.125), 0, 24)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="tracks to simulate")
    parser.add_argument("--write", type=int, default=0, help="also time generate() with N/tree")
    args = parser.parse_args()

    trt.simulate(1000, "electron", seed=1)  # warm-up (imports, caches)
    sim_s, n_hits = simulate_hits(args.n)
    ref_s = reference(n_hits)
    print(
        f"simulate: {args.n:,} tracks, {n_hits:,} hits in {sim_s:.2f} s "
        f"-> {args.n / sim_s:,.0f} tracks/s ({n_hits / args.n:.1f} hits/track)"
    )
    print(f"reference numpy pass over {n_hits:,} hits: {ref_s:.2f} s")
    print(f"ratio simulate / reference: {sim_s / ref_s:.1f}")

    if args.write:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trt.root"
            t0 = time.perf_counter()
            trt.generate(path, n_tracks=args.write, seed=0, progress=False)
            gen_s = time.perf_counter() - t0
            total = 3 * args.write + 2 * max(1, round(0.25 * args.write))
            print(
                f"generate: {total:,} tracks (5 trees) written in {gen_s:.2f} s -> "
                f"{total / gen_s:,.0f} tracks/s, {path.stat().st_size / 1e6:.0f} MB"
            )
            print(f"ratio generate / reference (per hit): {gen_s / total / (ref_s / args.n):.1f}")


if __name__ == "__main__":
    main()
