from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hepnb import evaluate, plot


def test_plot_label_text_is_exactly_experiment_and_status():
    fig, ax = plt.subplots()
    plot.label(ax, "ATLAS", "Simulation Internal")
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    plt.close(fig)
    assert texts[:2] == ["ATLAS", "Simulation Internal"]


def _toy(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    return y, {"good": rng.normal(2.0 * y, 1.0), "weak": rng.normal(0.7 * y, 1.0)}


def test_profiles_draws_asymmetric_rate_errors_and_old_tuples():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 3, 300)
    passed = x > 1.0  # bins at a rate of exactly 0 and 1
    rate = evaluate.binned_rate(x, passed, [0, 1, 2, 3])
    old = evaluate.binned_mean(x, passed, [0, 1, 2, 3])
    ax = plot.profiles({"rate": rate, "old": old[:3], "old4": old}, xlabel="x", ylabel="rate")
    bars = ax.containers
    assert len(bars) == 3
    segs = bars[0].lines[2][0].get_segments()  # vertical error segments of the BinnedRate
    lows = [s[0][1] for s in segs]
    highs = [s[1][1] for s in segs]
    np.testing.assert_allclose(lows, rate.lo)
    np.testing.assert_allclose(highs, rate.hi)
    assert highs[0] > 0 and lows[1] < 1  # never a zero-size bar at 0 or 1
    plt.close(ax.figure)


def test_rejection_vs_efficiency_from_report_and_bootstrap():
    y, scores = _toy()
    rep = evaluate.report(y, scores, effs=(0.8, 0.9), n_boot=60)
    ax = plot.rejection_vs_efficiency(rep)
    assert len(ax.containers) == 2 and ax.get_yscale() == "log"
    pts = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(pts, rep.table.loc["good", ["rej80", "rej90"]].to_numpy(float))
    segs = ax.containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose(
        [s[0][1] for s in segs], rep.table.loc["good", ["rej80_lo", "rej90_lo"]].to_numpy(float)
    )
    plt.close(ax.figure)
    # other efficiencies: the report's bootstrap is rerun there; fraction kind converts
    ax = plot.rejection_vs_efficiency(rep, effs=(0.7, 0.95), kind="fraction")
    assert ax.get_yscale() == "linear"
    direct = evaluate.bootstrap(y, scores, (0.7, 0.95), kind="fraction", n_boot=60)
    np.testing.assert_allclose(ax.containers[1].lines[0].get_ydata(), direct.rejection[1])
    plt.close(ax.figure)
    ax = plot.rejection_vs_efficiency(rep.bootstrap, effs=(0.9,))
    assert len(ax.containers[0].lines[0].get_ydata()) == 1
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="effs="):
        plot.rejection_vs_efficiency(rep.bootstrap, effs=(0.5,))


def test_roc_with_report_bands_in_one_line():
    from matplotlib.collections import PolyCollection

    y, scores = _toy()
    rep = evaluate.report(y, scores, n_boot=40)
    ax = plot.roc({m: (y, s) for m, s in scores.items()}, bands=rep.bands())
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    plt.close(ax.figure)


def test_roc_curves_take_weights():
    """A weighted curve is the ROC of the weighted sample: doubling the weight of the
    background events above a score moves its rejection, and the legend's AUC is weighted."""
    y, scores = _toy()
    s = next(iter(scores.values()))
    w = np.where((y == 0) & (s > np.median(s)), 3.0, 1.0)
    ax = plot.roc({"plain": (y, s), "weighted": (y, s, w)})
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"{evaluate.auc(y, s, w):.4f}" in texts[1]
    assert f"{evaluate.auc(y, s):.4f}" in texts[0]
    assert evaluate.auc(y, s, w) != pytest.approx(evaluate.auc(y, s), abs=1e-3)
    plt.close(ax.figure)
