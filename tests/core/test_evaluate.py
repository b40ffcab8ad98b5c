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


# --- working points: chosen on validation, measured on test --------------------------------


def _split(seed: int, n: int, mu: float = 1.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    return y, rng.normal(mu * y, 1.0)


def _optimal(y, s, by):
    """The working point a selection on (y, s) itself would pick."""
    return evaluate.choose_threshold(evaluate.threshold_scan(y, s, thresholds=np.unique(s)), by)


@pytest.mark.parametrize("by", ["youden_j", "f1"])
def test_working_point_is_chosen_on_validation_not_on_test(by):
    # small splits: the validation-optimal and test-optimal cuts differ by fluctuations
    yv, sv = _split(11, 300)
    yt, st = _split(12, 300)
    wp = evaluate.working_points(yv, sv, yt, st, criteria=(by,), n_boot=200)
    val_best, test_best = _optimal(yv, sv, by), _optimal(yt, st, by)
    assert wp.loc[by, "threshold"] == val_best.threshold
    assert wp.loc[by, "threshold"] != pytest.approx(test_best.threshold, abs=1e-3)
    # the fixed cut is applied to test: its figures are those of that cut, below the test optimum
    cut = st >= wp.loc[by, "threshold"]
    assert wp.loc[by, "efficiency"] == pytest.approx(cut[yt == 1].mean())
    assert wp.loc[by, "bkg_efficiency"] == pytest.approx(cut[yt == 0].mean())
    assert wp.loc[by, by] < test_best[by]
    assert wp.loc[by, "val_efficiency"] == pytest.approx(val_best.efficiency)


def test_fixed_efficiency_cut_comes_from_validation():
    yv, sv = _split(21, 400)
    yt, st = _split(22, 400)
    wp = evaluate.working_points(yv, sv, yt, st, criteria=(("efficiency", 0.9),), n_boot=200)
    row = wp.loc["efficiency=0.90"]
    assert row.threshold == evaluate.rejection_at(yv, sv, 0.9).threshold
    assert row.val_efficiency >= 0.9
    assert row.efficiency == pytest.approx((st[yt == 1] >= row.threshold).mean())
    assert row.efficiency != pytest.approx(0.9, abs=1e-3)  # test shifts; nothing re-tuned
    assert row.rejection == pytest.approx(1 / row.bkg_efficiency)
    assert row.bkg_rejection == pytest.approx(1 - row.bkg_efficiency)


def test_purity_at_a_physical_signal_fraction():
    yv, sv = _split(31, 20_000, mu=2.0)
    yt, st = _split(32, 20_000, mu=2.0)
    kw = {"criteria": (("efficiency", 0.9),), "n_boot": 200}
    rare = evaluate.working_points(yv, sv, yt, st, signal_fraction=0.02, **kw).iloc[0]
    even = evaluate.working_points(yv, sv, yt, st, signal_fraction=0.5, **kw).iloc[0]
    own = evaluate.working_points(yv, sv, yt, st, **kw).iloc[0]
    es, eb = rare.efficiency, rare.bkg_efficiency
    assert rare.threshold == even.threshold  # same cut, only the mix differs
    assert rare.purity == pytest.approx(0.02 * es / (0.02 * es + 0.98 * eb))
    assert rare.f1 == pytest.approx(2 * rare.purity * es / (rare.purity + es))
    assert rare.purity < 0.2 * even.purity and even.purity > 0.75
    assert rare.purity_lo < rare.purity < rare.purity_hi
    # None: the test sample's own (balanced) mix, purity = TP / (TP + FP)
    cut = st >= own.threshold
    assert own.purity == pytest.approx(yt[cut].mean())
    assert own.purity == pytest.approx(even.purity, abs=0.01)


def test_working_point_interval_is_binomial_and_events_stay_whole():
    yv, sv = _split(41, 20_000)
    yt, st = _split(42, 20_000)
    kw = {"criteria": (("efficiency", 0.8),), "n_boot": 400}
    row = evaluate.working_points(yv, sv, yt, st, **kw).iloc[0]
    n_sig = (yt == 1).sum()
    sigma = np.sqrt(row.efficiency * (1 - row.efficiency) / n_sig)
    assert (row.efficiency_hi - row.efficiency_lo) / 2 == pytest.approx(sigma, rel=0.2)
    # every test example twice: as independent examples the interval shrinks by √2, as
    # two candidates of one event (groups_test) it does not
    y2, s2 = np.repeat(yt, 2), np.repeat(st, 2)
    indep = evaluate.working_points(yv, sv, y2, s2, **kw).iloc[0]
    whole = evaluate.working_points(
        yv, sv, y2, s2, groups_test=np.repeat(np.arange(len(yt)), 2), **kw
    ).iloc[0]
    w_row, w_indep, w_whole = (r.efficiency_hi - r.efficiency_lo for r in (row, indep, whole))
    assert w_indep == pytest.approx(w_row / np.sqrt(2), rel=0.2)
    assert w_whole == pytest.approx(w_row, rel=0.2)


def test_working_points_weights_unit_and_negative():
    yv, sv = _split(51, 2000)
    yt, st = _split(52, 2000)
    kw = {"n_boot": 100}
    plain = evaluate.working_points(yv, sv, yt, st, **kw)
    unit = evaluate.working_points(
        yv, sv, yt, st, weight_val=np.ones(2000), weight_test=np.ones(2000), **kw
    )
    pd.testing.assert_frame_equal(plain, unit)
    w = np.where(np.random.default_rng(0).random(2000) < 0.1, -0.5, 1.2)  # sWeight-like
    neg = evaluate.working_points(yv, sv, yt, st, weight_val=w, weight_test=w, **kw)
    assert np.isfinite(neg.drop(columns=["rejection_hi"]).to_numpy()).all()
    cut = st >= neg.loc["youden_j", "threshold"]
    expected = (w * cut)[yt == 1].sum() / w[yt == 1].sum()
    assert neg.loc["youden_j", "efficiency"] == pytest.approx(expected)
    assert list(neg.index) == ["efficiency=0.90", "youden_j", "f1"]


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"criteria": ("accuracy",)}, "criteria"),
        ({"criteria": (("efficiency", 1.5),)}, "criteria"),
        ({"criteria": ("f1", "f1")}, "criteria"),
        ({"signal_fraction": 1.0}, "signal_fraction="),
        ({"y_test": np.ones(6)}, "y_test"),
        ({"s_val": np.r_[np.nan, np.ones(5)]}, "s_val holds 1 NaN"),
        ({"s_test": np.ones(5)}, "s_test has 5"),
        ({"weight_test": np.ones(5)}, "weight_test has 5"),
        ({"weight_val": -np.ones(6)}, "weight_val"),
        ({"groups_test": np.ones(2)}, "groups_test has 2"),
        ({"n_boot": 1}, "n_boot="),
        ({"cl": 95}, "cl="),
    ],
)
def test_working_points_bad_input_names_the_parameter(kwargs, msg):
    y, s = np.array([0, 1, 0, 1, 0, 1]), np.arange(6.0)
    args = {"y_val": y, "s_val": s, "y_test": y, "s_test": s, "n_boot": 10} | kwargs
    with pytest.raises(ValueError, match=msg):
        evaluate.working_points(
            args.pop("y_val"), args.pop("s_val"), args.pop("y_test"), args.pop("s_test"), **args
        )


# --- binned rates with honest intervals ----------------------------------------------------


def _toy_rates(p: np.ndarray, n: int, seed: int):
    """One bin per toy: ``n`` Bernoulli(p_i) entries in bin i. Returns (x, passed, bins)."""
    passed = np.random.default_rng(seed).random((len(p), n)) < p[:, None]
    return np.repeat(np.arange(len(p)), n), passed.ravel(), np.arange(len(p) + 1) - 0.5


def test_wilson_interval_covers_on_toys():
    # averaged over the true rate, Wilson covers at its nominal level (Brown, Cai, DasGupta)
    p = np.random.default_rng(4).uniform(0.02, 0.98, 20_000)
    x, passed, bins = _toy_rates(p, 30, seed=5)
    for cl in (0.68, 0.95):
        r = evaluate.binned_rate(x, passed, bins, cl=cl)
        assert ((r.lo <= p) & (p <= r.hi)).mean() == pytest.approx(cl, abs=0.015)
        cp = evaluate.binned_rate(x, passed, bins, cl=cl, method="clopper-pearson")
        assert ((cp.lo <= p) & (p <= cp.hi)).mean() > cl + 0.01  # exact: conservative
        assert (cp.hi - cp.lo).mean() > (r.hi - r.lo).mean()


@pytest.mark.parametrize(("p", "n"), [(0.3, 40), (0.05, 60), (0.9, 25)])
def test_wilson_toy_coverage_matches_the_exact_binomial_coverage(p, n):
    from scipy.stats import binom

    x, passed, bins = _toy_rates(np.full(4000, p), n, seed=6)
    r = evaluate.binned_rate(x, passed, bins)
    k = np.arange(n + 1)  # every possible count, and whether its interval holds p
    table = evaluate.binned_rate(
        np.repeat(k, n), (np.arange(n)[None, :] < k[:, None]).ravel(), np.r_[k, n + 1] - 0.5
    )
    exact = binom.pmf(k, n, p)[(table.lo <= p) & (p <= table.hi)].sum()
    assert ((r.lo <= p) & (p <= r.hi)).mean() == pytest.approx(exact, abs=0.025)


def test_rate_at_zero_or_one_has_a_nonzero_interval_and_empty_bin_is_nan():
    x = np.r_[np.full(10, 0.5), np.full(10, 1.5)]
    passed = np.r_[np.zeros(10), np.ones(10)].astype(bool)
    r = evaluate.binned_rate(x, passed, [0, 1, 2, 3])
    z = NormalDist().inv_cdf(0.84)
    assert r.rate[:2].tolist() == [0.0, 1.0] and r.n[:2].tolist() == [10, 10]
    assert r.lo[0] == 0 and r.hi[0] == pytest.approx(z**2 / (10 + z**2))
    assert r.hi[1] == 1 and r.lo[1] == pytest.approx(10 / (10 + z**2))
    cp = evaluate.binned_rate(x, passed, [0, 1, 2, 3], method="clopper-pearson")
    assert cp.hi[0] == pytest.approx(1 - 0.16 ** (1 / 10)) and cp.lo[1] == pytest.approx(
        0.16 ** (1 / 10)
    )
    assert np.isnan([r.rate[2], r.lo[2], r.hi[2], cp.lo[2]]).all() and r.n[2] == 0
    assert r.yerr.shape == (2, 3) and (r.yerr[:, :2] >= 0).all() and r.yerr[1, 0] > 0
    assert r.centres.tolist() == [0.5, 1.5, 2.5]
    _, _, err, _ = evaluate.binned_mean(x, passed, [0, 1, 2, 3])
    assert err[0] > 0 and err[1] > 0  # binned_mean: Wilson half-width, not √(p(1−p)/n) = 0


def test_weighted_rate_uses_the_kish_effective_entries():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 400)
    passed = rng.random(400) < 0.3
    plain = evaluate.binned_rate(x, passed, [0, 1])
    doubled = evaluate.binned_rate(x, passed, [0, 1], weight=np.full(400, 2.0))
    for a in ("rate", "lo", "hi", "n"):
        np.testing.assert_allclose(getattr(doubled, a), getattr(plain, a))
    w = rng.exponential(1.0, 400)
    r = evaluate.binned_rate(x, passed, [0, 1], weight=w)
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert r.n[0] == pytest.approx(n_eff) and n_eff < 300
    assert r.rate[0] == pytest.approx((w * passed).sum() / w.sum())
    lo, hi = evaluate._wilson(r.rate, np.array([n_eff]), NormalDist().inv_cdf(0.84))
    assert (r.lo[0], r.hi[0]) == (pytest.approx(lo[0]), pytest.approx(hi[0]))
    assert r.hi[0] - r.lo[0] > plain.hi[0] - plain.lo[0]


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"passed": np.full(4, 2)}, "passed"),
        ({"passed": np.ones(3)}, "passed has 3"),
        ({"weight": np.ones(3)}, "weight has 3"),
        ({"bins": [1, 0]}, "bins"),
        ({"method": "normal"}, "method="),
        ({"cl": 0}, "cl="),
    ],
)
def test_binned_rate_bad_input(kwargs, msg):
    args = {"x": np.arange(4.0), "passed": np.array([0, 1, 1, 0]), "bins": [0, 2, 4]} | kwargs
    with pytest.raises(ValueError, match=msg):
        evaluate.binned_rate(args.pop("x"), args.pop("passed"), args.pop("bins"), **args)


# --- bands from a report ---------------------------------------------------------------------


def test_report_bands_resample_on_demand_and_match_bootstrap(gauss):
    y, s = gauss
    scores = {"g": s, "h": 0.5 * s + np.random.default_rng(2).normal(0, 1, len(s))}
    rep = evaluate.report(y, scores, n_boot=50, seed=3)
    assert rep._cache == {}  # report() itself computes no bands
    effs = np.linspace(0.6, 0.95, 8)
    bands = rep.bands(effs)
    assert set(bands) == {"g", "h"}
    direct = evaluate.bootstrap(y, scores, effs, n_boot=50, seed=3)
    for m in scores:
        eff, lo, hi = bands[m]
        np.testing.assert_allclose(eff, effs)
        np.testing.assert_allclose((lo, hi), direct.band(m)[1:])
    assert rep.resample(effs, "factor") is rep.resample(effs, "factor")  # cached
    assert rep.resample((0.9,)) is rep.bootstrap
    assert len(rep.bands()["g"][0]) == 50


def test_accuracy_bootstrap_matches_the_binomial_error_and_pairs_methods():
    rng = np.random.default_rng(7)
    n = 4000
    y = rng.integers(0, 4, n)
    good = np.where(rng.random(n) < 0.9, y, (y + 1) % 4)
    worse = np.where(rng.random(n) < 0.97, good, (good + 2) % 4)  # good, with extra mistakes
    acc = evaluate.accuracy(y, {"good": good, "worse": worse}, reference="worse", n_boot=2000)
    p = (good == y).mean()
    assert acc.value[0] == pytest.approx(p)
    lo, hi = acc.interval("good")
    assert (hi - lo) / 2 == pytest.approx(np.sqrt(p * (1 - p) / n), rel=0.15)
    # paired: the difference is far better known than either accuracy alone
    dlo, dhi = acc.interval("good", reference="worse")
    assert 0 < dlo < dhi and dhi - dlo < 0.7 * (hi - lo)
    assert acc.table.loc["worse", "delta"] == 0.0
    # weights: the accuracy of a reweighted mix
    w = np.where(y == 0, 3.0, 1.0)
    weighted = evaluate.accuracy(y, {"good": good}, weight=w, n_boot=10)
    assert weighted.value[0] == pytest.approx(((good == y) * w).sum() / w.sum())
    with pytest.raises(ValueError, match=r"predictions\['bad'\]: shape"):
        evaluate.accuracy(y, {"bad": good[:-1]})
    with pytest.raises(ValueError, match="reference='nope'"):
        evaluate.accuracy(y, {"good": good}, reference="nope")
