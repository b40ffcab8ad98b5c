"""Physics targets of the TRT chapter on the ``default`` preset (the configuration defaults):
muon rejection at 90% electron efficiency of the LSTM against the simulator's exact likelihood
ratio (target >= 0.9x), the LSTM's gain over the combined HT+ToT likelihood (paired bootstrap
interval) and the share of the gap between that likelihood and the optimum that the LSTM closes;
then the same table on the "data" sample (sWeighted) and for electrons vs pions.

    python bench/bench_physics_trt.py [--preset default] [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, peak_rss_mb, timer

from hepnb import evaluate
from hepnb.chapters import trt as chapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    a = ap.parse_args()
    over = {"out_dir": str(OUT / f"physics_trt_{a.preset}")}
    if a.epochs is not None:
        over["epochs"] = a.epochs
    cfg = chapter.CHAPTER.preset(a.preset, **over)
    t: dict[str, float] = {}
    with timer(t, "train"):
        scores = chapter.load_scores(cfg, progress=False)
    print(
        f"preset {a.preset}: {cfg.n_tracks} tracks per tree, {cfg.epochs} epochs max, "
        f"{t['train']:.0f} s, peak RSS {peak_rss_mb():,.0f} MB"
    )
    for sample in ("test", "data", "pion_test"):
        if sample not in scores:
            continue
        s = scores[sample]
        weight = s["w"] if sample == "data" else None
        ref = "combined"
        report = evaluate.report(
            s["y"], chapter.scores_mapping(s), effs=(0.90, 0.95), weight=weight, reference=ref
        )
        print(f"\n[{sample}] {len(s['y'])} tracks (value [68% bootstrap interval])")
        print(report.display().to_string())
        rej = report.table["rej90"]
        if "optimum" in rej and "lstm" in rej:
            print(f"  LSTM / optimum at 90%: {rej['lstm'] / rej['optimum']:.3f} (target >= 0.9)")
        d = report.paired.loc["lstm"] if report.paired is not None else None
        if d is not None:
            print(
                f"  LSTM - combined at 90%: {d['delta_rej90']:.2f} "
                f"[{d['delta_rej90_lo']:.2f}, {d['delta_rej90_hi']:.2f}] (paired)"
            )
        if "optimum" in rej:
            bs = report.bootstrap
            gap = bs.samples("rej90", "optimum", "combined")
            closed = bs.samples("rej90", "lstm", "combined")
            share = closed / np.where(gap != 0, gap, np.nan)
            lo, hi = np.nanpercentile(share, [16, 84])
            value = (rej["lstm"] - rej["combined"]) / (rej["optimum"] - rej["combined"])
            print(
                f"  share of the combined -> optimum gap closed by the LSTM: {value:.2f} [{lo:.2f}, {hi:.2f}]"
            )
        if "lstm_ht" in rej:
            print(
                f"  LSTM HT-only / eProbHT: {rej['lstm_ht'] / rej['eProbHT']:.2f}; "
                f"LSTM / eProbHT: {rej['lstm'] / rej['eProbHT']:.2f}; "
                f"combined / eProbHT: {rej['combined'] / rej['eProbHT']:.2f}"
            )


if __name__ == "__main__":
    main()
