"""Physics targets of the ttH chapter on the test events of a preset, with 68 % bootstrap
intervals and paired differences (every model scored on the same events):

* the best network's AUC ≥ the boosted trees' (paired interval of the difference);
* on jet-level inputs only (the jet branches, no event features) the permutation-invariant
  models (Deep Sets, transformer, GNN) ahead of the plain MLP;
* the m_bb of the b-tagged pair closest in ΔR peaks near 125 GeV in ttH and not in tt+bb.

    python bench/bench_physics_tth.py [--preset default] [--n-events N] [--epochs E]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, passfail, peak_rss_mb, timer

from hepnb.chapters import tth as chapter


def _report(cfg, reference: str):
    ds = chapter.dataset(cfg)
    trained = chapter.train_all(cfg, ds)
    trees = chapter.bdt(cfg, ds) if "bdt" in cfg.models else None
    sc = chapter.scores(cfg, ds, trained, trees)
    return ds, sc, chapter.report(cfg, ds, sc["test"], reference)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--n-events", type=int, default=None, help="simulated events per process")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    a = ap.parse_args()
    over: dict[str, object] = {}
    for key, value in (("n_events", a.n_events), ("epochs", a.epochs)):
        if value is not None:
            over[key] = value
    tag = "_".join(f"{k}{v}" for k, v in over.items())
    over["out_dir"] = str(OUT / f"physics_tth_{a.preset}{'_' + tag if tag else ''}")
    cfg = chapter.CHAPTER.preset(a.preset, **over)
    t: dict[str, float] = {}
    with timer(t, "all"):
        ds, _, rep = _report(cfg, chapter.NAMES["bdt"])
    n_test = len(ds.index["test"])
    print(
        f"preset {a.preset}: {cfg.n_events} events per process, {cfg.epochs} epochs max, "
        f"{t['all']:.0f} s, peak RSS {peak_rss_mb():,.0f} MB; {n_test} test events"
    )
    print("\n[all inputs] AUC and rejection, 68% bootstrap intervals; Δ = model − BDT (paired)")
    print(rep.display().to_string())
    nets = [chapter.NAMES[m] for m in chapter.NEURAL_MODELS if m in cfg.models]
    best = max(nets, key=lambda k: rep.table.loc[k, "auc"])
    d = rep.paired.loc[best]
    ok = d["delta_auc_hi"] >= 0
    print(
        f"\nbest network {best}: AUC − BDT = {d['delta_auc']:+.4f} "
        f"[{d['delta_auc_lo']:+.4f}, {d['delta_auc_hi']:+.4f}] (target: ≥ 0, interval reaching "
        f"0 or above): {passfail(bool(ok))}"
    )

    jet_cfg = chapter.jet_level(cfg).replace(models=[m for m in cfg.models if m != "bdt"])
    _, _, jet = _report(jet_cfg, chapter.NAMES["mlp"])
    print("\n[jet-level inputs only] AUC, 68% bootstrap intervals; Δ = model − MLP (paired)")
    print(jet.display().to_string())
    for m in ("deepsets", "transformer", "gnn"):
        name = chapter.NAMES[m]
        if name in jet.paired.index:
            d = jet.paired.loc[name]
            print(
                f"  {name} − MLP: {d['delta_auc']:+.4f} [{d['delta_auc_lo']:+.4f}, "
                f"{d['delta_auc_hi']:+.4f}] (target > 0): {passfail(d['delta_auc_lo'] > 0)}"
            )

    print("\n[m_bb of the b-tagged pair closest in ΔR (Mbb_MindR)]")
    peak = chapter.mbb_peak(ds.events, "Mbb_MindR")
    print(peak.to_string())
    sig_mode = peak.iloc[0, 0]
    bkg_mode = peak.iloc[1, 0]
    print(
        f"ttH mode {sig_mode:.0f} GeV within 100–135 GeV: {passfail(100 <= sig_mode <= 135)}; "
        f"tt+bb mode {bkg_mode:.0f} GeV below 100 GeV: {passfail(bkg_mode < 100)}"
    )


if __name__ == "__main__":
    main()
