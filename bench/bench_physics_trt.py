"""Physics targets of the TRT chapter on the full-size sample: muon rejection at 90% electron
efficiency of the LSTM against eProbHT (target ≥ 1.5×) and against the simulator's exact
likelihood ratio (target ≥ 0.85×), on the MC test set and the "data" test set.

    python bench/bench_physics_trt.py [--n-tracks 100000] [--epochs 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, peak_rss_mb, timer

from hepnb import evaluate
from hepnb.chapters import trt as chapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-tracks", type=int, default=100_000, help="tracks per simulated tree")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = chapter.Config(
        out_dir=str(OUT / "physics_trt"),
        n_tracks=a.n_tracks,
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        seed=a.seed,
    )
    t: dict[str, float] = {}
    with timer(t, "train"):
        chapter.train(cfg, progress=False)
    scores = chapter.load_scores(cfg, progress=False)
    print(
        f"{a.n_tracks} tracks per tree, {a.epochs} epochs max, {t['train']:.0f} s, "
        f"peak RSS {peak_rss_mb():,.0f} MB"
    )
    for sample, s in scores.items():
        weight = s["w"] if sample == "data" else None
        report = evaluate.report(
            s["y"], chapter.scores_mapping(s), effs=(0.90, 0.95), weight=weight
        )
        print(f"[{sample}] {len(s['y'])} tracks (value [68% bootstrap interval])")
        print(report.display().to_string())
        rej = report.table["rej90"]
        print(f"  LSTM / eProbHT at 90%: {rej['lstm'] / rej['eProbHT']:.2f}x (target >= 1.5)")
        if "optimum" in rej:
            print(f"  LSTM / optimum at 90%: {rej['lstm'] / rej['optimum']:.2f}x (target >= 0.85)")


if __name__ == "__main__":
    main()
