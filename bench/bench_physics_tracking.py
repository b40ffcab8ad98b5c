"""Physics targets of the tracking chapter: track efficiency, fake and duplicate rates of the
Hough transform, TrackNETv2 and the GNN on the test events of a preset, with 68 % event-bootstrap
intervals and paired differences to the Hough baseline; TrackNETv2's hit efficiency at its mean
ellipse area; the segment graph's edge efficiency and purity; time per event.

Targets on the ``default`` preset (BESIII CGEM, 5,000 events): GNN track efficiency >= 97 % with
fake rate <= 5 %; TrackNETv2 hit efficiency >= 95 %; both ahead of the Hough transform (paired
interval of the efficiency difference above 0). ``--geometry drift`` / ``silicon`` report where
each method lands at low and high occupancy (no target).

    python bench/bench_physics_tracking.py [--preset default] [--geometry cgem] [--n-events N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, passfail, peak_rss_mb, timer

from hepnb.chapters import tracking as chapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--geometry", default=None, choices=["cgem", "drift", "silicon"])
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--n-events", type=int, default=None, help="simulated events")
    a = ap.parse_args()
    over: dict[str, object] = {}
    for key, value in (("geometry", a.geometry), ("epochs", a.epochs), ("n_events", a.n_events)):
        if value is not None:
            over[key] = value
    tag = "_".join(f"{k}{v}" for k, v in over.items())
    over["out_dir"] = str(OUT / f"physics_tracking_{a.preset}{'_' + tag if tag else ''}")
    cfg = chapter.CHAPTER.preset(a.preset, **over)
    t: dict[str, float] = {}
    with timer(t, "all"):
        ev = chapter.evaluate_all(cfg)
    print(
        f"preset {a.preset}, geometry {cfg.geometry}: {cfg.n_events} events, {cfg.epochs} epochs "
        f"max, {t['all']:.0f} s, peak RSS {peak_rss_mb():,.0f} MB; {ev.hits.n_events} test events"
    )
    print("\n[tracks] value [68% event-bootstrap interval], percent")
    print(ev.report.display().to_string())
    print("\n[difference to the Hough transform, paired]")
    print(chapter.differences(ev, "hough").to_string())
    print("\n[TrackNETv2 ellipses, test tracks]")
    print(ev.hit_efficiency.display().to_string())
    print("\n[segment graph, test events]")
    print(chapter.graph_report(cfg).display().to_string())
    print("\n[time per event, ms]")
    print(chapter.timing_table(ev).to_string())
    if cfg.geometry == "cgem":
        eff = ev.report.value("efficiency", "gnn")
        fake = ev.report.value("fake_rate", "gnn")
        hit = ev.hit_efficiency.value
        print(f"\nGNN efficiency {eff:.4f} (target >= 0.97): {passfail(eff >= 0.97)}")
        print(f"GNN fake rate {fake:.4f} (target <= 0.05): {passfail(fake <= 0.05)}")
        print(f"TrackNETv2 hit efficiency {hit:.4f} (target >= 0.95): {passfail(hit >= 0.95)}")
        for m in ("gnn", "tracknet"):
            for fig, better in (("efficiency", "> 0"), ("fake_rate", "< 0")):
                lo, hi = ev.report.interval(fig, m, reference="hough")
                ok = ev.report.ahead(fig, m, "hough")
                print(
                    f"  {m} - hough {fig}: [{lo:+.4f}, {hi:+.4f}] (ahead: {better}): {passfail(ok)}"
                )


if __name__ == "__main__":
    main()
