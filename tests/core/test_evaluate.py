from __future__ import annotations

import re
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from hepnb import evaluate, runs


@pytest.fixture
def gauss():
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(20000), np.zeros(20000)].astype(int)
    score = np.r_[rng.normal(1.0, 1, 20000), rng.normal(0.0, 1, 20000)]
    return y, score


def test_auc_matches_gaussian_theory(gauss):
    y, s = gauss
    # two unit Gaussians separated by 1: AUC = Φ(1/√2) = 0.7602
    assert evaluate.auc(y, s) == pytest.approx(0.7602, abs=0.006)
    assert evaluate.roc(y, s).auc == pytest.approx(roc_auc_score(y, s), abs=1e-9)


def test_rejection_at_matches_gaussian_theory(gauss):
    y, s = gauss
    r = evaluate.rejection_at(y, s, 0.9)
    # cut at the 10% signal quantile: 1 − 1.2816 = −0.2816; ε_b = 1 − Φ(−0.2816) = 0.6109
    assert r.bkg_eff == pytest.approx(0.6109, abs=0.01)
    assert r.rejection == pytest.approx(1 / 0.6109, rel=0.02)
    assert (s[y == 1] >= r.threshold).mean() == pytest.approx(0.9, abs=1e-3)
    expected_err = np.sqrt(r.bkg_eff * (1 - r.bkg_eff) / 20000) / r.bkg_eff**2
    assert r.error == pytest.approx(expected_err, rel=1e-6)


def test_rejection_infinite_when_separated():
    y = np.r_[np.ones(10), np.zeros(10)]
    s = np.r_[np.full(10, 2.0), np.zeros(10)]
    r = evaluate.rejection_at(y, s, 0.95)
    assert r.rejection == np.inf and r.lower_limit == pytest.approx(10 / 1.14)


def test_weighted_rejection_uses_weights():
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.85, 0.1])
    r_unw = evaluate.rejection_at(y, s, 1.0)
    r_w = evaluate.rejection_at(y, s, 1.0, weight=np.array([1, 1, 3, 1]))
    assert r_unw.bkg_eff == pytest.approx(0.5) and r_w.bkg_eff == pytest.approx(0.75)


def test_threshold_scan_counts_and_rates():
    y = np.array([1, 1, 1, 0, 0])
    s = np.array([0.9, 0.6, 0.3, 0.5, 0.1])
    scan = evaluate.threshold_scan(y, s, thresholds=[0.5])
    row = scan.iloc[0]
    assert (row.tp, row.fp, row.tn, row.fn) == (2, 1, 1, 1)
    assert row.efficiency == pytest.approx(2 / 3) and row.purity == pytest.approx(2 / 3)
    assert row.bkg_efficiency == pytest.approx(0.5) and row.rejection == pytest.approx(2)
    assert row.youden_j == pytest.approx(2 / 3 - 0.5)
    assert row.f1 == pytest.approx(2 / 3)


def test_choose_threshold_by_criteria(gauss):
    y, s = gauss
    scan = evaluate.threshold_scan(y, s, thresholds=np.linspace(-2, 3, 501))
    j = evaluate.choose_threshold(scan, "youden_j")
    assert j.threshold == pytest.approx(0.5, abs=0.1)  # equal-variance Gaussians: midpoint
    e = evaluate.choose_threshold(scan, {"efficiency": 0.99})
    assert e.efficiency >= 0.99 and "0.99" in e.criterion
    with pytest.raises(ValueError, match="by="):
        evaluate.choose_threshold(scan, "accuracy")


def test_confusion_matrix_normalised_per_true_class():
    cm = evaluate.confusion_matrix([0, 0, 1, 1, 2], [0, 1, 1, 1, 0])
    assert cm.loc[0].tolist() == [0.5, 0.5, 0.0] and cm.loc[2].tolist() == [1.0, 0.0, 0.0]


def test_summary_table(gauss):
    y, s = gauss
    table = evaluate.summary(y, {"good": s, "random": np.random.default_rng(0).random(len(y))})
    assert table.loc["good", "auc"] > 0.75 > table.loc["random", "auc"]
    assert table.loc["good", "rej@90%"] > table.loc["random", "rej@90%"]


@pytest.mark.parametrize(
    ("y", "s", "msg"),
    [
        ([1, 0], [0.5, np.nan], "NaN"),
        ([1, 1], [0.5, 0.2], "only class"),
        ([1, 2], [0.1, 0.2], "0 \\(background\\) and 1"),
        ([1, 0, 1], [0.1, 0.2], "3 entries"),
    ],
)
def test_bad_input_is_explained(y, s, msg):
    with pytest.raises(ValueError, match=msg):
        evaluate.auc(y, s)


def test_binned_mean_binomial_fraction():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2, 100_000)
    y = rng.random(100_000) < np.where(x < 1, 0.1, 0.3)
    c, m, e, n = evaluate.binned_mean(x, y, [0, 1, 2, 3])
    assert c.tolist() == [0.5, 1.5, 2.5]
    assert m[0] == pytest.approx(0.1, abs=0.005) and m[1] == pytest.approx(0.3, abs=0.007)
    assert e[0] == pytest.approx(np.sqrt(0.09 / n[0]), rel=0.05)
    assert np.isnan(m[2]) and n[2] == 0


# --- bootstrap intervals --------------------------------------------------------------------

_ND = NormalDist()


def _toy(rng, n, mu=1.0):
    y = (rng.random(n) < 0.5).astype(int)
    return y, rng.normal(mu * y, 1.0)


def _width(bs, figure, method, **kw):
    lo, hi = bs.interval(figure, method, **kw)
    return hi - lo


def test_bootstrap_kernel_matches_explicit_resamples():
    # the vectorised multiplicity kernel against rejection_at/auc on explicitly resampled
    # arrays, with ties between classes, positive and negative weights
    rng = np.random.default_rng(3)
    n = 1500
    y = (rng.random(n) < 0.4).astype(int)
    s = np.round(rng.normal(y * 1.0, 1), 1)
    effs = np.array([0.5, 0.9, 0.97])
    m = evaluate._multiplicities(np.random.default_rng(1), n, 4)
    for weight in (None, rng.uniform(0.2, 2, n), np.where(rng.random(n) < 0.2, -0.5, 1.0)):
        area, bkg_eff = evaluate._Sorted.of(y, s, weight, np.arange(n)).resampled(m, effs)
        for r in range(len(m)):
            idx = np.repeat(np.arange(n), m[r])
            w = None if weight is None else weight[idx]
            expected = [evaluate.rejection_at(y[idx], s[idx], e, w).bkg_eff for e in effs]
            assert bkg_eff[r] == pytest.approx(expected, rel=1e-10)
            assert area[r] == pytest.approx(evaluate.auc(y[idx], s[idx], w), rel=1e-10)


def test_report_points_are_the_full_sample_figures(gauss):
    y, s = gauss
    rep = evaluate.report(y, {"g": s}, effs=(0.9, 0.95), n_boot=200)
    row = rep.table.loc["g"]
    assert row["auc"] == evaluate.auc(y, s)
    assert row["rej90"] == evaluate.rejection_at(y, s, 0.9).rejection
    assert row["rej95"] == evaluate.rejection_at(y, s, 0.95).rejection
    assert row["auc_lo"] < row["auc"] < row["auc_hi"]
    assert row["rej90_lo"] < row["rej90"] < row["rej90_hi"]
    # the spread is the binomial error of rejection_at plus that of the cut, which moves with
    # the signal sample: σ_cut = √(ε(1−ε)/N_s)/f_s(cut), giving ε_b a further f_b(cut)·σ_cut
    r = evaluate.rejection_at(y, s, 0.9)
    cut = 1 - _ND.inv_cdf(0.9)
    sigma_cut = np.sqrt(0.9 * 0.1 / 20000) / _ND.pdf(cut - 1)
    sigma = np.hypot(r.error, _ND.pdf(cut) * sigma_cut / r.bkg_eff**2)
    assert (row["rej90_hi"] - row["rej90_lo"]) / 2 == pytest.approx(sigma, rel=0.2)
    frac = evaluate.report(y, {"g": s}, kind="fraction", n_boot=50).table.loc["g"]
    assert frac["rej90"] == pytest.approx(1 - evaluate.rejection_at(y, s, 0.9).bkg_eff)
    assert frac["rej90_lo"] < frac["rej90"] < frac["rej90_hi"] < 1


def test_bootstrap_is_seeded(gauss):
    y, s = gauss
    a = evaluate.bootstrap(y, {"g": s}, n_boot=20, seed=5)
    b = evaluate.bootstrap(y, {"g": s}, n_boot=20, seed=5)
    c = evaluate.bootstrap(y, {"g": s}, n_boot=20, seed=6)
    assert np.array_equal(a.rejection_samples, b.rejection_samples)
    assert not np.array_equal(a.auc_samples, c.auc_samples)


def test_intervals_cover_the_true_gaussian_figures():
    # 200 toys of 2k events: two unit Gaussians 1 apart, AUC = Φ(1/√2) and, at ε_s = 90%,
    # rejection = 1/(1 − Φ(1 − z_0.9))
    mu, eff = 1.0, 0.9
    truth = {"auc": _ND.cdf(mu / np.sqrt(2)), "rej90": 1 / (1 - _ND.cdf(mu - _ND.inv_cdf(eff)))}
    hits = {(f, cl): 0 for f in truth for cl in (0.68, 0.95)}
    n_toys = 200
    for toy in range(n_toys):
        y, s = _toy(np.random.default_rng(toy), 2000, mu)
        bs = evaluate.bootstrap(y, {"g": s}, (eff,), n_boot=200, seed=toy)
        for f, cl in hits:
            lo, hi = bs.interval(f, "g", cl=cl)
            hits[f, cl] += lo <= truth[f] <= hi
    for f in truth:
        assert 0.61 <= hits[f, 0.68] / n_toys <= 0.75, (f, hits)
        assert hits[f, 0.95] / n_toys >= 0.90, (f, hits)


def test_paired_difference_is_narrower_than_unpaired():
    rng = np.random.default_rng(0)
    y, s = _toy(rng, 5000)
    scores = {"a": s + rng.normal(0, 0.2, len(y)), "b": s + rng.normal(0, 0.2, len(y))}
    rep = evaluate.report(y, scores, reference="b", n_boot=300)
    bs = rep.bootstrap
    for f in rep.figures:
        unpaired = np.hypot(_width(bs, f, "a"), _width(bs, f, "b"))
        paired = rep.paired.loc["a", f"delta_{f}_hi"] - rep.paired.loc["a", f"delta_{f}_lo"]
        assert paired < 0.5 * unpaired, f
        assert paired == pytest.approx(_width(bs, f, "a", reference="b"))
        delta = rep.table.loc["a", f] - rep.table.loc["b", f]
        assert rep.paired.loc["a", f"delta_{f}"] == pytest.approx(delta)
    assert list(rep.paired.index) == ["a"]


def test_grouped_resampling_keeps_events_whole():
    rng = np.random.default_rng(1)
    y, s = _toy(rng, 2000)
    single = evaluate.bootstrap(y, {"g": s}, n_boot=300)
    # every event holds 3 identical candidates: ignoring that shrinks the interval by ~√3
    y3, s3, event = np.repeat(y, 3), np.repeat(s, 3), np.repeat(np.arange(len(y)), 3)
    naive = evaluate.bootstrap(y3, {"g": s3}, n_boot=300)
    grouped = evaluate.bootstrap(y3, {"g": s3}, groups=event, n_boot=300)
    for f in ("auc", "rej90"):
        assert _width(grouped, f, "g") > 1.4 * _width(naive, f, "g")
        assert _width(grouped, f, "g") == pytest.approx(_width(single, f, "g"), rel=0.25)


def test_unit_weights_match_unweighted_and_negative_weights_work():
    rng = np.random.default_rng(2)
    y, s = _toy(rng, 3000)
    plain = evaluate.report(y, {"g": s}, n_boot=200).table
    ones = evaluate.report(y, {"g": s}, weight=np.ones(len(y)), n_boot=200).table
    pd.testing.assert_frame_equal(plain, ones, rtol=1e-9)
    # sWeight-like: signal plus a background-shaped contamination (+1) and an independent
    # sideband copy of it (−1) that subtracts it on average
    k = 1000
    y_w = np.r_[y, np.ones(2 * k, dtype=int)]
    s_w = np.r_[s, rng.normal(0, 1, 2 * k)]
    w = np.r_[np.ones(len(y)), np.ones(k), -np.ones(k)]
    rep = evaluate.report(y_w, {"g": s_w}, weight=w, n_boot=200, cl=0.95).table.loc["g"]
    assert rep["rej90"] == evaluate.rejection_at(y_w, s_w, 0.9, weight=w).rejection
    truth = 1 / (1 - _ND.cdf(1 - _ND.inv_cdf(0.9)))
    assert rep["rej90_lo"] <= truth <= rep["rej90_hi"]
    assert rep["auc_lo"] <= _ND.cdf(1 / np.sqrt(2)) <= rep["auc_hi"]
    clean = evaluate.report(y, {"g": s}, n_boot=200, cl=0.95).table.loc["g"]
    assert rep["rej90_hi"] - rep["rej90_lo"] > clean["rej90_hi"] - clean["rej90_lo"]


def test_report_record_writes_the_metrics_layout(tmp_path):
    rng = np.random.default_rng(4)
    y, s = _toy(rng, 2000)
    scores = {"nn": s, "cut": s + rng.normal(0, 1, len(y))}
    rep = evaluate.report(y, scores, effs=(0.9, 0.99), reference="cut", n_boot=100)
    written = rep.record(tmp_path, "roc")
    metrics = runs.load_metrics(tmp_path)
    assert metrics == written
    figures = ["auc", "rej90", "rej99", "delta_auc", "delta_rej90", "delta_rej99"]
    assert set(metrics) == {f"roc_{f}{ci}" for f in figures for ci in ("", "_ci")}
    assert metrics["roc_rej90"] == {m: rep.table.loc[m, "rej90"] for m in scores}
    lo, hi = metrics["roc_auc_ci"]["nn"]
    assert lo == rep.table.loc["nn", "auc_lo"] and hi == rep.table.loc["nn", "auc_hi"]
    assert set(metrics["roc_delta_auc"]) == {"nn"} and metrics["roc_delta_auc"]["nn"] > 0
    assert len(metrics["roc_delta_rej90_ci"]["nn"]) == 2
    # another confidence level says so in its key
    wide = evaluate.report(y, scores, n_boot=100, cl=0.95).record(tmp_path / "95", "roc")
    assert set(wide) == {"roc_auc", "roc_auc_ci95", "roc_rej90", "roc_rej90_ci95"}
    text = rep.display()
    assert list(text.columns) == ["auc", "rej90", "rej99", "Δauc", "Δrej90", "Δrej99"]
    assert text.loc["cut", "Δauc"] == "reference"
    assert re.fullmatch(r"0\.\d{4} \[0\.\d{4}, 0\.\d{4}\]", text.loc["nn", "auc"])


def test_display_rounds_to_the_interval():
    assert evaluate._format(6.6912, 6.4133, 6.9811) == "6.69 [6.41, 6.98]"
    assert evaluate._format(0.76021, 0.7555, 0.7650) == "0.7602 [0.7555, 0.7650]"
    assert evaluate._format(251.3, 231.0, 270.2) == "251 [231, 270]"


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"scores": {"a": np.zeros(3)}}, r"scores\['a'\] has 3 entries"),
        ({"scores": {"a": np.r_[np.nan, np.zeros(5)]}}, r"scores\['a'\] holds 1 NaN"),
        ({"y": np.ones(6)}, "y holds only class"),
        ({"effs": (0.9, 1.0)}, "effs="),
        ({"effs": (0.0,)}, "effs="),
        ({"kind": "ratio"}, "kind="),
        ({"reference": "b"}, "reference="),
        ({"weight": np.ones(5)}, "weight has 5"),
        ({"groups": np.ones(2)}, "groups has 2"),
        ({"cl": 68}, "cl="),
        ({"n_boot": 0}, "n_boot="),
        ({"effs": (0.901, 0.899)}, "same column name"),
    ],
)
def test_report_bad_input_names_the_parameter(kwargs, msg):
    args = {"y": np.array([0, 1, 0, 1, 0, 1]), "scores": {"a": np.arange(6.0)}, "n_boot": 10}
    args |= kwargs
    with pytest.raises(ValueError, match=msg):
        evaluate.report(args.pop("y"), args.pop("scores"), **args)


def test_roc_band_brackets_the_curve_and_is_drawn(gauss):
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from hepnb import plot

    y, s = gauss
    effs = np.linspace(0.5, 0.98, 25)
    bs = evaluate.bootstrap(y, {"g": s}, effs, n_boot=100)
    eff, lo, hi = bs.band("g")
    assert np.array_equal(eff, effs)
    assert (lo < bs.rejection[0]).all() and (bs.rejection[0] < hi).all()
    assert (np.diff(lo) < 0).all()  # rejection falls with efficiency
    ax = plot.roc({"g": (y, s)}, bands={"g": bs.band("g")})
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    plt.close(ax.figure)
