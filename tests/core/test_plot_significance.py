"""Figures of signal vs background analyses (hepnb.plot): what they draw is read back from the
artists and compared with numpy. Headless: tests/conftest.py selects the Agg backend
(MPLBACKEND=Agg)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import StepPatch

from hepnb import evaluate, plot


def _labelled(ax) -> None:
    assert ax.get_xlabel() and ax.get_ylabel()
    texts = [t.get_text() for t in ax.texts]
    assert "ATLAS" in texts  # the experiment label


def _cells(ax) -> dict[tuple[int, int], float]:
    """Annotations of a heat map: (row, column) → the number written there."""
    out = {}
    for t in ax.texts:
        try:
            v = float(t.get_text())
        except ValueError:
            continue
        x, y = t.get_position()
        out[(round(y), round(x))] = v
    return out


def _steps(ax) -> list[StepPatch]:
    return [p for p in ax.patches if isinstance(p, StepPatch)]


def _toy(n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    return y, rng.normal(y, 1.0), rng.uniform(0.2, 2.0, n)


def test_correlation_matrix_annotations_are_the_input_values():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 4))
    x[:, 1] += x[:, 0]
    x[:, 3] -= 0.5 * x[:, 2]
    corr = np.corrcoef(x, rowvar=False)
    names = ["p_T [GeV]", "E [GeV]", "η", "φ [rad]"]
    ax = plot.correlation_matrix(corr, names, title="background")
    _labelled(ax)
    cells = _cells(ax)
    assert len(cells) == 16
    for (i, j), v in cells.items():
        assert v == pytest.approx(corr[i, j], abs=0.005)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    im = ax.images[0]
    assert im.get_clim() == (-1, 1)
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="corr"):
        plot.correlation_matrix(corr, names[:3])


def test_confusion_annotations_from_evaluate_table():
    rng = np.random.default_rng(2)
    y = (rng.random(400) < 0.5).astype(int)
    pred = np.where(rng.random(400) < 0.8, y, 1 - y)
    cm = evaluate.confusion_matrix(y, pred)
    ax = plot.confusion(cm)
    _labelled(ax)
    cells = _cells(ax)
    m = cm.to_numpy()
    assert len(cells) == 4
    for (i, j), v in cells.items():
        assert v == pytest.approx(m[i, j], abs=5e-4)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)  # normalised per true class
    plt.close(ax.figure)
    ax = plot.confusion(m, ["tt+bb", "ttH"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tt+bb", "ttH"]
    plt.close(ax.figure)


def test_weighted_hist_compare_heights_are_normalised_weighted_histograms():
    y, s, w = _toy()
    s[0] = 3.0  # exactly on the last edge: in the last bin, as numpy
    edges = np.linspace(-3, 3, 13)
    values = {"signal": (s[y == 1], w[y == 1]), "background": (s[y == 0], w[y == 0])}
    ax = plot.weighted_hist_compare(values, edges, "m_bb [GeV]")
    _labelled(ax)
    assert ax.get_xlabel() == "m_bb [GeV]"
    steps = _steps(ax)
    assert len(steps) == 2
    for patch, (x, wx) in zip(steps, values.values(), strict=True):
        h, _ = np.histogram(x, edges, weights=wx, density=True)
        np.testing.assert_allclose(patch.get_data().values, h)
        np.testing.assert_allclose(patch.get_data().edges, edges)
    # the error bars: √Σw² on the same normalisation
    seg = ax.containers[0].lines[2][0].get_segments()
    x, wx = values["signal"]
    h2, _ = np.histogram(x, edges, weights=wx**2)
    inside = (x >= edges[0]) & (x <= edges[-1])
    err = np.sqrt(h2) / (wx[inside].sum() * np.diff(edges))
    np.testing.assert_allclose([sg[1][1] - sg[0][1] for sg in seg], 2 * err, rtol=1e-9)
    plt.close(ax.figure)
    # not normalised: weighted events per bin
    ax = plot.weighted_hist_compare({"signal": (x, wx)}, edges, "x", density=False)
    h, _ = np.histogram(x, edges, weights=wx)
    np.testing.assert_allclose(_steps(ax)[0].get_data().values, h)
    assert ax.get_ylabel() == "weighted events"
    plt.close(ax.figure)


def test_overtraining_plot_train_fills_test_points_and_ks_legend():
    y_tr, s_tr, w_tr = _toy(3000, 3)
    y_te, s_te, w_te = _toy(2000, 4)
    edges = np.linspace(-4, 5, 19)
    ax = plot.overtraining(s_tr, y_tr, w_tr, s_te, y_te, w_te, edges, labels=("ttH", "tt+bb"))
    _labelled(ax)
    fills = _steps(ax)
    assert len(fills) == 2 and all(p.get_fill() for p in fills)
    points = [c for c in ax.containers if hasattr(c, "lines")]
    assert len(points) == 2
    for k, cls in enumerate((1, 0)):
        h, _ = np.histogram(s_tr[y_tr == cls], edges, weights=w_tr[y_tr == cls], density=True)
        np.testing.assert_allclose(fills[k].get_data().values, h)
        h, _ = np.histogram(s_te[y_te == cls], edges, weights=w_te[y_te == cls], density=True)
        np.testing.assert_allclose(points[k].lines[0].get_ydata(), h)
    ks = evaluate.overtraining(s_tr, y_tr, w_tr, s_te, y_te, w_te)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"ttH (test), KS p = {ks.loc['signal', 'p_value']:.3g}" in legend
    assert f"tt+bb (test), KS p = {ks.loc['background', 'p_value']:.3g}" in legend
    plt.close(ax.figure)


def test_significance_scan_plot_draws_both_significances_and_the_cut():
    y, s, w = _toy()
    scan = evaluate.significance_scan(y, s, w, thresholds=50, rel_bkg_unc=0.3)
    wp = evaluate.significance_working_point(y, s, w, y, s, w, rel_bkg_unc=0.3, n_boot=20)
    ax = plot.significance_scan(scan, wp)
    _labelled(ax)
    z, za, cut = ax.lines[:3]
    np.testing.assert_allclose(z.get_xdata(), scan["threshold"])
    np.testing.assert_allclose(z.get_ydata(), scan["Z"])
    np.testing.assert_allclose(za.get_ydata(), scan["Z_A"])
    assert cut.get_xdata()[0] == wp["threshold"]
    assert "30%" in z.get_label()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="Z_A"):
        plot.significance_scan(scan.drop(columns="Z_A"))
