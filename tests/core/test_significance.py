"""Significance, binned Asimov, overtraining, sculpting and permutation importance
(hepnb.evaluate), checked against hand values, analytic limits and brute-force loops."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from hepnb import evaluate


def _onoff_z(s: float, b: float, sigma_b: float) -> float:
    """Asimov Z from the profile likelihood ratio of the on/off problem, written out here:
    n ~ Pois(s + b), m ~ Pois(τb) with τ = b/σ_b²; Asimov data n = s + b, m = τb; under s = 0
    the background fit is b̂̂ = (n + m)/(1 + τ), and q₀ = 2[n ln(n/b̂̂) + m ln(m/(τ b̂̂))]."""
    tau = b / sigma_b**2
    n, m = s + b, tau * b
    bhh = (n + m) / (1 + tau)
    return math.sqrt(2 * (n * math.log(n / bhh) + m * math.log(m / (tau * bhh))))


def _toy(n: int = 6000, seed: int = 0, neg: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.normal(1.5 * y, 1.0)
    w = rng.uniform(0.5, 1.5, n)
    if neg:  # a few negative weights, as from NLO generators
        w[rng.random(n) < 0.05] *= -1
    return y, s, w


# --- significance and asimov --------------------------------------------------------------------


def test_significance_hand_values_and_vectorised():
    assert evaluate.significance(10, 100) == pytest.approx(1.0)
    # δB = 0.1·100 = 10: 10/√(100 + 100)
    assert evaluate.significance(10, 100, 0.1) == pytest.approx(10 / math.sqrt(200))
    z = evaluate.significance(np.array([10.0, 20.0, 5.0]), np.array([100.0, 0.0, -1.0]), 0.1)
    assert z[0] == pytest.approx(10 / math.sqrt(200))
    assert np.isnan(z[1:]).all()  # no background estimate: undefined
    with pytest.raises(ValueError, match="rel_bkg_unc"):
        evaluate.significance(1, 1, -0.1)


def test_asimov_hand_value_without_uncertainty():
    # √(2((s+b) ln(1+s/b) − s)) at s = 10, b = 100: √(2(110·0.0953102 − 10)) = 0.98399
    assert evaluate.asimov(10, 100) == pytest.approx(0.98399, abs=1e-5)
    assert evaluate.asimov(10, 100) < evaluate.significance(10, 100)  # s/√b overestimates
    # s ≫ b: far below s/√b
    assert evaluate.asimov(100, 1) == pytest.approx(
        math.sqrt(2 * (101 * math.log(101) - 100)), rel=1e-12
    )


@pytest.mark.parametrize(("s", "b", "rel"), [(10, 100, 0.1), (5, 20, 0.5), (50, 10, 0.3)])
def test_asimov_with_uncertainty_is_the_on_off_likelihood_ratio(s, b, rel):
    assert evaluate.asimov(s, b, rel) == pytest.approx(_onoff_z(s, b, rel * b), rel=1e-9)


def test_asimov_limits():
    # s ≪ b: s/√b, and s/√(b + σ_b²) with an uncertainty
    assert evaluate.asimov(0.1, 1e4) == pytest.approx(0.1 / 100, rel=1e-4)
    assert evaluate.asimov(0.1, 1e4, 0.01) == pytest.approx(0.1 / math.sqrt(1e4 + 100**2), rel=1e-4)
    tiny = evaluate.asimov(np.array([1e-6, 1e-10, 1e-13]), 100.0, 0.3)
    np.testing.assert_allclose(tiny, np.array([1e-6, 1e-10, 1e-13]) / math.sqrt(100 + 900), 1e-5)
    # growing σ_b: smaller, towards 0
    z = evaluate.asimov(10, 100, np.array([0.0, 0.01, 0.1, 1.0, 10.0, 100.0]))
    assert (np.diff(z) < 0).all() and z[-1] < 1e-2
    # continuous at σ_b → 0
    assert evaluate.asimov(10, 100, 1e-9) == pytest.approx(evaluate.asimov(10, 100), rel=1e-9)
    # s = 0, a deficit, and undefined cases
    assert evaluate.asimov(0, 100) == 0.0
    assert evaluate.asimov(-5, 100) < 0
    assert np.isnan(evaluate.asimov(1, np.array([0.0, -1.0]))).all()


# --- scan and working point ---------------------------------------------------------------------


def test_significance_scan_matches_a_loop_over_cuts():
    y, s, w = _toy(800, neg=True)
    thr = np.array([-1.0, 0.0, 0.7, 1.5, 2.5, 9.0])
    scan = evaluate.significance_scan(y, s, w, thresholds=thr, rel_bkg_unc=0.2, scale=2.0)
    for t, (_, row) in zip(thr, scan.iterrows(), strict=True):
        cut = s >= t
        sig, bkg = 2 * w[cut & (y == 1)].sum(), 2 * w[cut & (y == 0)].sum()
        assert (row["S"], row["B"]) == pytest.approx((sig, bkg))
        assert row["n_sig"] == (cut & (y == 1)).sum() and row["n_bkg"] == (cut & (y == 0)).sum()
        assert row["B_err"] == pytest.approx(2 * math.sqrt((w[cut & (y == 0)] ** 2).sum()))
        if bkg > 0:
            assert row["Z"] == pytest.approx(sig / math.sqrt(bkg + (0.2 * bkg) ** 2))
        else:
            assert np.isnan(row["Z"])
    # default: every distinct score is a cut, the first keeps everything
    full = evaluate.significance_scan(y, s, w)
    assert len(full) == len(np.unique(s))
    assert full["S"].iloc[0] == pytest.approx(w[y == 1].sum())
    assert len(evaluate.significance_scan(y, s, w, thresholds=7)) == 7


def test_working_point_is_chosen_on_validation_and_measured_on_test():
    y, s, w = _toy(8000, seed=1)
    yv, sv, wv, yt, st, wt = y[:4000], s[:4000], w[:4000], y[4000:], s[4000:], w[4000:]
    wp = evaluate.significance_working_point(
        yv, sv, wv, yt, st, wt, rel_bkg_unc=0.1, min_bkg_events=25, scale_test=2.0, n_boot=400
    )
    # brute force on validation: the best allowed cut
    best, best_z = None, -np.inf
    for t in np.unique(sv):
        cut = sv >= t
        S, B = wv[cut & (yv == 1)].sum(), wv[cut & (yv == 0)].sum()
        if (cut & (yv == 0)).sum() >= 25 and B > 0 and S / math.sqrt(B + (0.1 * B) ** 2) > best_z:
            best, best_z = t, S / math.sqrt(B + (0.1 * B) ** 2)
    assert wp["threshold"] == best and wp["val_Z"] == pytest.approx(best_z)
    assert wp["val_n_bkg"] >= 25
    # test figures at that fixed cut, weights × scale_test
    cut = st >= best
    S, B = 2 * wt[cut & (yt == 1)].sum(), 2 * wt[cut & (yt == 0)].sum()
    assert wp["S"] == pytest.approx(S) and wp["B"] == pytest.approx(B)
    assert wp["Z"] == pytest.approx(evaluate.significance(S, B, 0.1))
    assert wp["Z_A"] == pytest.approx(evaluate.asimov(S, B, 0.1))
    for f in ("S", "B", "Z", "Z_A"):
        assert wp[f"{f}_lo"] < wp[f] < wp[f"{f}_hi"]
    # a fixed cut: the bootstrap spread of S is the Poisson-like √Σw² (68 % ≈ ±1σ)
    sigma_s = 2 * math.sqrt((wt[cut & (yt == 1)] ** 2).sum())
    assert (wp["S_hi"] - wp["S_lo"]) / 2 == pytest.approx(sigma_s, rel=0.2)


def test_working_point_refuses_cuts_on_a_handful_of_background_events():
    # a tight cut leaves one background event of weight 0.001: S/√B would be huge there
    y = np.r_[np.ones(50, int), np.zeros(200, int)]
    s = np.r_[np.full(20, 0.99), np.linspace(0.3, 0.8, 30), np.r_[0.995, np.linspace(0, 0.6, 199)]]
    w = np.r_[np.ones(50), 0.001, np.ones(199)]
    loose = evaluate.significance_working_point(y, s, w, y, s, w, min_bkg_events=0, n_boot=20)
    # without a minimum: the loosest cut above all but that event (B = 0.001)
    assert loose["n_bkg"] == 1 and loose["val_B"] == pytest.approx(0.001)
    assert loose["threshold"] == s[:50][s[:50] > 0.6].min()
    wp = evaluate.significance_working_point(y, s, w, y, s, w, min_bkg_events=10, n_boot=20)
    assert wp["val_n_bkg"] == 10 and wp["val_B"] == pytest.approx(9.001)
    with pytest.raises(ValueError, match="min_bkg_events=500"):
        evaluate.significance_working_point(y, s, w, y, s, w, min_bkg_events=500, n_boot=20)
    with pytest.raises(ValueError, match="s_test has 3 entries"):
        evaluate.significance_working_point(y, s, w, y, s[:3], w, n_boot=20)


# --- binned Asimov ------------------------------------------------------------------------------


def test_equal_signal_bins_hold_equal_signal_weight():
    y, s, w = _toy(20000, seed=2)
    edges = evaluate.equal_signal_bins(y, s, w, 5)
    assert edges[0] == s.min() and edges[-1] == s.max() and (np.diff(edges) > 0).all()
    per_bin, _ = np.histogram(s[y == 1], edges, weights=w[y == 1])
    np.testing.assert_allclose(per_bin / w[y == 1].sum(), 0.2, atol=2 * w.max() / w[y == 1].sum())
    e01 = evaluate.equal_signal_bins(y, s, w, 4, score_range=(-10, 10))
    assert e01[0] == -10 and e01[-1] == 10
    ties = np.r_[np.zeros(100), 1.0]
    with pytest.raises(ValueError, match="fewer bins"):
        evaluate.equal_signal_bins(np.r_[np.ones(100, int), 0], ties, None, 4)


def test_binned_asimov_combines_bins_in_quadrature():
    y, s, w = _toy(6000, seed=3)
    edges = np.array([-5.0, 0.5, 1.5, 6.0])
    z = evaluate.binned_asimov(y, s, w, bins=edges, rel_bkg_unc=0.2, scale=3.0)
    per = []
    for lo, hi in itertools.pairwise(edges):
        m = (s >= lo) & (s < hi)
        per.append(evaluate.asimov(3 * w[m & (y == 1)].sum(), 3 * w[m & (y == 0)].sum(), 0.2))
    assert z == pytest.approx(math.sqrt(sum(v**2 for v in per)))
    table = evaluate.binned_asimov_table(y, s, w, bins=edges, rel_bkg_unc=0.2, scale=3.0)
    np.testing.assert_allclose(table["Z_A"], per)
    # one bin: the counting experiment; splitting by s/b only adds significance
    one = evaluate.binned_asimov(y, s, w, bins=[-5.0, 6.0])
    m = (s >= -5) & (s <= 6)
    assert one == pytest.approx(evaluate.asimov(w[m & (y == 1)].sum(), w[m & (y == 0)].sum()))
    assert evaluate.binned_asimov(y, s, w, bins=edges) > one
    lo, hi = evaluate.binned_asimov_interval(
        y, s, w, bins=edges, rel_bkg_unc=0.2, scale=3.0, n_boot=300
    )
    assert lo < z < hi


# --- overtraining -------------------------------------------------------------------------------


def test_overtraining_unit_weights_equal_scipy_ks():
    rng = np.random.default_rng(4)
    y_tr, y_te = (rng.random(3000) < 0.4).astype(int), (rng.random(2000) < 0.4).astype(int)
    s_tr, s_te = rng.normal(y_tr, 1.0), rng.normal(y_te, 1.0)
    t = evaluate.overtraining(s_tr, y_tr, None, s_te, y_te, None)
    for cls, name in ((1, "signal"), (0, "background")):
        ref = ks_2samp(s_tr[y_tr == cls], s_te[y_te == cls], method="asymp")
        assert t.loc[name, "ks_statistic"] == pytest.approx(ref.statistic)
        assert t.loc[name, "p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert t.loc[name, "p_value"] > 0.05 and not t.loc[name, "overtrained"]
    # a classifier that pushed its training signal up
    shifted = evaluate.overtraining(s_tr + 0.3 * y_tr, y_tr, None, s_te, y_te, None)
    assert shifted.loc["signal", "p_value"] < 1e-6 and shifted.loc["signal", "overtrained"]
    assert shifted.loc["background", "p_value"] > 0.05


def test_overtraining_uses_the_weights():
    # training: uniform scores weighted by 2x (density 2x); test: drawn from density 2x
    rng = np.random.default_rng(5)
    n = 4000
    y = np.r_[np.ones(n, int), np.zeros(n, int)]
    s_tr = np.r_[rng.random(n), rng.random(n)]
    w_tr = np.r_[2 * s_tr[:n], np.ones(n)]
    s_te = np.r_[np.sqrt(rng.random(n)), rng.random(n)]
    weighted = evaluate.overtraining(s_tr, y, w_tr, s_te, y, None)
    unweighted = evaluate.overtraining(s_tr, y, None, s_te, y, None)
    assert weighted.loc["signal", "p_value"] > 0.05
    assert unweighted.loc["signal", "p_value"] < 1e-10
    n_eff = w_tr[:n].sum() ** 2 / (w_tr[:n] ** 2).sum()  # ≈ 3n/4 for weights 2x
    assert weighted.loc["signal", "n_eff_train"] == pytest.approx(n_eff)


# --- sculpting ----------------------------------------------------------------------------------


def _background(seed: int, n: int = 6000, coupling: float = 0.0):
    rng = np.random.default_rng(seed)
    mass = rng.exponential(80.0, n) + 20.0  # GeV
    score = rng.random(n) + coupling * mass / 100.0
    return mass, score, rng.uniform(0.5, 1.5, n)


def test_sculpting_independent_score_does_not_sculpt():
    bins = np.linspace(20, 320, 21)
    mass, score, w = _background(1)
    r = evaluate.sculpting(mass, score, w, 0.7, bins)
    h, _ = np.histogram(mass, bins, weights=w, density=True)
    np.testing.assert_allclose(r["before"], h)
    assert r["ndf"] == 19 and r["chi2_ndf"] < 2 and r["chi2_p"] > 0.01 and r["ks_p_value"] > 0.01
    assert r["efficiency"] == pytest.approx(w[score >= 0.7].sum() / w.sum())
    filled = r["before"] > 0
    pull = (r["after"] - r["before"])[filled] / r["after_err"][filled]
    assert np.abs(pull).max() < 4
    # the χ² is calibrated: over independent toys its mean is the ndf
    chi2 = [evaluate.sculpting(*_background(100 + k), 0.5, bins)["chi2"] for k in range(40)]
    assert np.mean(chi2) / 19 == pytest.approx(1.0, abs=0.15)


def test_sculpting_correlated_score_sculpts():
    mass, score, w = _background(7, coupling=1.0)
    r = evaluate.sculpting(mass, score, w, 1.2, np.linspace(20, 320, 21))
    assert r["chi2_p"] < 1e-6 and r["ks_p_value"] < 1e-6 and r["chi2_ndf"] > 5
    ratio = r["ratio"][np.isfinite(r["ratio"])]
    assert ratio[0] < 1 < ratio[-1]  # the cut favours high masses
    with pytest.raises(ValueError, match="no event passes"):
        evaluate.sculpting(mass, score, w, 99.0, 10)


# --- permutation importance ---------------------------------------------------------------------


def test_permutation_importance_finds_the_only_useful_feature():
    rng = np.random.default_rng(8)
    n = 4000
    y = (rng.random(n) < 0.5).astype(int)
    x = rng.normal(size=(n, 5))
    x[:, 0] += 1.5 * y  # only column 0 separates
    x[:, 2] = x[:, 1]  # columns 1 and 2 form one group, always equal

    def predict(a: np.ndarray) -> np.ndarray:
        # fails if a group's columns were shuffled with different permutations
        assert np.array_equal(a[:, 1], a[:, 2])
        return a[:, 0] + 1e-3 * (a[:, 1] + a[:, 3] + a[:, 4])

    x0 = x.copy()
    w = rng.uniform(0.5, 1.5, n)
    t = evaluate.permutation_importance(
        predict, x, y, w, {"useful": [0], "pair": [1, 2], "noise": [3], "more": [4]}, n_repeats=3
    )
    np.testing.assert_array_equal(x, x0)  # the caller's inputs are untouched
    assert t.index[0] == "useful"
    base = evaluate.auc(y, predict(x), w)
    assert t.attrs["auc"] == pytest.approx(base)
    assert t.loc["useful", "auc_drop"] == pytest.approx(base - 0.5, abs=0.03)
    assert np.abs(t.loc[["pair", "noise", "more"], "auc_drop"]).max() < 0.01
    assert t.loc["pair", "n_columns"] == 2
    with pytest.raises(ValueError, match="columns\\['bad'\\]"):
        evaluate.permutation_importance(predict, x, y, w, {"bad": [7]})


def test_equal_signal_bins_merge_until_each_bin_has_enough_background():
    """Bins are merged from the highest score down until each holds ≥ min_bkg_events raw
    validation background events; without the option they hold equal signal, however little
    background."""
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(2000), np.zeros(2000)].astype(int)
    s = np.r_[rng.beta(6, 2, 2000), rng.beta(2, 6, 2000)]
    plain = evaluate.equal_signal_bins(y, s, None, 10, score_range=(0.0, 1.0))
    merged = evaluate.equal_signal_bins(y, s, None, 10, score_range=(0.0, 1.0), min_bkg_events=25)
    bkg = np.sort(s[y == 0])

    def counts(edges):
        return np.diff(np.searchsorted(bkg, edges))

    assert counts(plain).min() < 25  # the top equal-signal bins are nearly background-free
    assert counts(merged).min() >= 25 and len(merged) < len(plain)
    assert set(merged) <= set(plain) and merged[0] == 0.0 and merged[-1] == 1.0
    # merging keeps every background event in exactly one bin
    assert counts(merged).sum() == len(bkg)
