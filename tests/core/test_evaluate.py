from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hepnb import evaluate


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
