"""Physics targets of the ECal chapter on a preset (``default``: the configuration defaults):
the counting accuracy of every model family and classical count on the test split, with 68 %
bootstrap intervals and paired differences to the energy sum; targets: best model ≥ 98 %,
every family above the energy sum (paired interval above 0), the GNN within 2 points of the
CNN. Also the Poisson-mix accuracy, the under/overcount rates, the accuracy on events whose
electrons all hit the ECal and the table of parameters and training times.

    python bench/bench_physics_ecal.py [--preset default] [--epochs N] [--n-events N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, passfail, peak_rss_mb, timer

from hepnb.chapters import ecal as chapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--n-events", type=int, default=None, help="events per multiplicity")
    a = ap.parse_args()
    over: dict[str, object] = {"out_dir": str(OUT / f"physics_ecal_{a.preset}")}
    if a.epochs is not None:
        over["epochs"] = a.epochs
    if a.n_events is not None:
        over["n_events"] = a.n_events
    cfg = chapter.CHAPTER.preset(a.preset, **over)
    t: dict[str, float] = {}
    with timer(t, "all"):
        ev = chapter.evaluate_all(cfg, progress=False, record=False)
    print(
        f"preset {a.preset}: {cfg.n_events} events per multiplicity, {cfg.epochs} epochs max, "
        f"{t['all']:.0f} s, peak RSS {peak_rss_mb():,.0f} MB; {len(ev.n)} test events"
    )
    print("\n[accuracy, equal mix] value [68% bootstrap interval], paired difference")
    acc = ev.accuracy.table
    print(ev.accuracy.display().to_string())
    models = list(chapter.MODELS)
    best = max(models, key=lambda m: acc.loc[m, "accuracy"])
    print(
        f"\nbest model {best}: {acc.loc[best, 'accuracy']:.4f} (target >= 0.98): "
        f"{passfail(acc.loc[best, 'accuracy'] >= 0.98)}"
    )
    for m in models:
        lo, hi = ev.accuracy.interval(m, reference="energy sum")
        print(f"  {m} - energy sum: [{lo:+.4f}, {hi:+.4f}] (target > 0): {passfail(lo > 0)}")
    gap = acc.loc["cnn", "accuracy"] - acc.loc["gnn", "accuracy"]
    print(f"  cnn - gnn: {gap:+.4f} (target <= 0.02): {passfail(gap <= 0.02)}")
    print(f"\n[Poisson mix, mu = {cfg.poisson_mu}]")
    print(ev.poisson.display().to_string())
    print("\n[undercount rate: n read as n - 1]")
    print(ev.undercount.display().to_string())
    print("\n[overcount rate: n read as n + 1]")
    print(ev.overcount.display().to_string())
    if ev.inside is not None:
        print("\n[events whose electrons all hit the ECal]")
        print(ev.inside.display().to_string())
    print("\n" + ev.models.round(3).to_string())


if __name__ == "__main__":
    main()
