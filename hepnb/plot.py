"""mplhep-styled figures shared by every chapter.

Each function draws on an ``ax`` (a new figure when None), labels its axes with units and puts
an experiment-style label on it, e.g. "ATLAS Simulation Internal", and returns the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import hist
import matplotlib as mpl
import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd

from hepnb import evaluate
from hepnb.io import atomic_path

__all__ = [
    "confusion",
    "correlation_matrix",
    "hist1d",
    "history",
    "label",
    "overtraining",
    "profiles",
    "rejection_vs_efficiency",
    "roc",
    "save",
    "score_hist",
    "significance_scan",
    "style",
    "threshold_scan",
    "weighted_hist_compare",
]

_STYLES = {"ATLAS": "ATLAS", "LHCb": "LHCb2", "CMS": "CMS"}


def style(experiment: str = "ATLAS") -> None:
    """Use the mplhep style of ``experiment`` (a neutral ROOT-like style for others)."""
    mplhep.style.use(_STYLES.get(experiment, "ROOT"))
    mpl.rcParams["figure.figsize"] = (7, 5.5)
    mpl.rcParams["figure.dpi"] = 90


def label(
    ax=None,
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
    loc: int = 0,
):
    """Experiment-style label on ``ax``: bold experiment name + italic status, optional right
    label (e.g. "√s = 13 TeV, 100k tracks")."""
    ax = ax if ax is not None else plt.gca()
    # data=True: mplhep would otherwise prepend its own "Simulation" to ``text``
    mplhep.label.exp_label(
        exp=experiment, text=text, data=True, rlabel=rlabel or "", loc=loc, ax=ax
    )
    return ax


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def roc(
    curves: Mapping[str, tuple[np.ndarray, ...]],
    ax=None,
    *,
    signal: str = "signal",
    background: str = "background",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
    eff_range: tuple[float, float] = (0.5, 1.0),
    bands: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
):
    """Background rejection (log scale) vs signal efficiency for several classifiers.

    Args:
        curves: ``{name: (y, score)}`` or ``{name: (y, score, weight)}`` (per-example
            weights, e.g. cross-section weights); the legend shows each AUC.
        signal, background: class names for the axis labels.
        bands: ``{name: (eff, low, high)}`` rejection intervals drawn as a shaded band around
            that curve, e.g. ``report.bands()`` (:meth:`hepnb.evaluate.Report.bands`) or
            ``bootstrap(y, scores, effs=np.linspace(0.5, 0.99, 50)).band(name)``.
    """
    ax = _ax(ax)
    bands = bands or {}
    for name, curve in curves.items():
        r = evaluate.roc(*curve)
        keep = (r.eff >= eff_range[0]) & (r.bkg_eff > 0)
        (line,) = ax.plot(r.eff[keep], r.rejection[keep], label=f"{name} (AUC = {r.auc:.4f})")
        if name in bands:
            eff, lo, hi = (np.asarray(a, dtype=float) for a in bands[name])
            ok = np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
            ax.fill_between(eff[ok], lo[ok], hi[ok], color=line.get_color(), alpha=0.3, lw=0)
    ax.set_yscale("log")
    ax.set_xlim(*eff_range)
    ax.set_xlabel(f"{signal} efficiency")
    ax.set_ylabel(f"{background} rejection (1/ε)")
    ax.legend(loc="upper right")
    label(ax, experiment, text, rlabel)
    return ax


def score_hist(
    y: np.ndarray,
    score: np.ndarray,
    ax=None,
    *,
    signal: str = "signal",
    background: str = "background",
    bins: int | np.ndarray = 50,
    xlabel: str = "classifier score",
    threshold: float | None = None,
    log: bool = True,
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
):
    """Normalised score distributions of signal and background, with an optional cut line."""
    ax = _ax(ax)
    y, score = np.asarray(y).reshape(-1), np.asarray(score).reshape(-1)
    edges = np.histogram_bin_edges(score, bins=bins)
    for cls, name in ((1, signal), (0, background)):
        h, _ = np.histogram(score[y == cls], bins=edges, density=True)
        mplhep.histplot(h, edges, ax=ax, label=name, histtype="step", linewidth=1.5)
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label=f"cut = {threshold:.3g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("normalised entries")
    ax.legend()
    label(ax, experiment, text)
    return ax


def hist1d(
    samples: Mapping[str, np.ndarray],
    ax=None,
    *,
    bins: int | np.ndarray = 50,
    xlabel: str,
    ylabel: str = "normalised entries",
    density: bool = True,
    log: bool = False,
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
):
    """Step histograms of one variable for several samples (``{name: values}``)."""
    ax = _ax(ax)
    allv = np.concatenate([np.asarray(v, dtype=float).reshape(-1) for v in samples.values()])
    edges = np.histogram_bin_edges(allv[np.isfinite(allv)], bins=bins)
    for name, v in samples.items():
        h, _ = np.histogram(np.asarray(v).reshape(-1), bins=edges, density=density)
        mplhep.histplot(h, edges, ax=ax, label=name, histtype="step", linewidth=1.5)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    label(ax, experiment, text)
    return ax


def profiles(
    curves: Mapping[str, evaluate.BinnedRate | Sequence[np.ndarray]],
    ax=None,
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    fmt: str = "o-",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
):
    """Binned rates or means with error bars, e.g. an efficiency vs momentum, one per sample.

    Args:
        curves: ``{name: curve}``, a curve being a :class:`hepnb.evaluate.BinnedRate` (drawn
            with its asymmetric interval) or a tuple ``(bin centres, values, errors, ...)`` as
            :func:`hepnb.evaluate.binned_mean` returns; ``errors`` may be ``(n_bins,)``
            symmetric or ``(2, n_bins)`` asymmetric (below, above).
    """
    ax = _ax(ax)
    for name, curve in curves.items():
        if isinstance(curve, evaluate.BinnedRate):
            x, v, e = curve.centres, curve.rate, curve.yerr
        else:
            x, v, e = curve[0], curve[1], curve[2]
        ax.errorbar(x, v, e, fmt=fmt, ms=4, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, None)
    ax.legend()
    label(ax, experiment, text)
    return ax


def rejection_vs_efficiency(
    result: evaluate.Report | evaluate.Bootstrap,
    ax=None,
    *,
    effs: Sequence[float] | np.ndarray | None = None,
    kind: str | None = None,
    cl: float | None = None,
    signal: str = "signal",
    background: str = "background",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
):
    """Rejection at a few signal efficiencies per method, with bootstrap error bars.

    Points are the full-sample rejections (:func:`hepnb.evaluate.rejection_at`), bars the
    central bootstrap interval at ``cl``; methods are shifted slightly sideways so their bars
    do not overlap.

    Args:
        result: a :class:`hepnb.evaluate.Report` (its bootstrap is rerun at ``effs`` when they
            differ from the report's) or a :class:`hepnb.evaluate.Bootstrap` (``effs`` must be
            among its efficiencies).
        effs: signal efficiencies; None = those of ``result``.
        kind: ``"factor"`` (1/ε_b, log axis) or ``"fraction"`` (1 − ε_b); None = the result's.
        cl: confidence level; None = the report's (0.68 for a Bootstrap).
    """
    ax = _ax(ax)
    if isinstance(result, evaluate.Report):
        level = result.cl if cl is None else cl
        bs = result.bootstrap if effs is None else result.resample(effs, kind)
    elif isinstance(result, evaluate.Bootstrap):
        level, bs = 0.68 if cl is None else cl, result
    else:
        raise ValueError(f"result: expected an evaluate.Report or Bootstrap, got {type(result)}")
    kind = bs.kind if kind is None else kind
    if kind not in ("factor", "fraction"):
        raise ValueError(f"kind={kind!r}: expected 'factor' (1/ε_b) or 'fraction' (1 − ε_b)")
    grid = bs.effs if effs is None else np.atleast_1d(np.asarray(effs, dtype=float))
    idx = [int(np.argmax(np.isclose(bs.effs, e))) for e in grid]
    if not all(np.isclose(bs.effs[i], e) for i, e in zip(idx, grid, strict=True)):
        raise ValueError(f"effs={grid.tolist()}: not all among the bootstrap's {bs.effs.tolist()}")

    def convert(r: np.ndarray) -> np.ndarray:  # bootstrap's kind → ``kind`` (both increasing)
        if kind == bs.kind:
            return r
        with np.errstate(divide="ignore"):
            return 1.0 - 1.0 / r if bs.kind == "factor" else 1.0 / (1.0 - r)

    values = convert(bs.rejection[:, idx])
    lohi = evaluate._interval(convert(bs.rejection_samples[:, idx]), evaluate._check_cl(level))
    spacing = np.min(np.diff(np.sort(grid))) if len(grid) > 1 else 0.05
    shift = 0.15 * spacing * (np.arange(len(bs.methods)) - (len(bs.methods) - 1) / 2)
    for i, name in enumerate(bs.methods):
        v, lo, hi = values[i], lohi[i, :, 0], lohi[i, :, 1]
        ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
        err = np.maximum(np.stack([v - lo, hi - v]), 0.0)[:, ok]
        ax.errorbar(grid[ok] + shift[i], v[ok], err, fmt="o", ms=5, capsize=3, label=name)
    if kind == "factor":
        ax.set_yscale("log")
        ax.set_ylabel(f"{background} rejection (1/ε)")
    else:
        ax.set_ylabel(f"{background} rejection (1 − ε)")
    ax.set_xlabel(f"{signal} efficiency")
    ax.legend(title=f"{round(100 * level)}% CL bootstrap")
    label(ax, experiment, text, rlabel)
    return ax


def history(hist, ax=None, *, experiment: str = "ATLAS", text: str = "Simulation Internal"):
    """Training and validation loss per epoch (and validation AUC on a twin axis)."""
    ax = _ax(ax)
    df = hist.to_frame() if hasattr(hist, "to_frame") else pd.DataFrame(hist)
    ax.plot(df.index, df["train_loss"], "o-", label="training loss")
    ax.plot(df.index, df["val_loss"], "s-", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(loc="upper left")
    if "val_auc" in df and df["val_auc"].notna().any():
        ax2 = ax.twinx()
        ax2.plot(df.index, df["val_auc"], "^--", color="C2", label="validation AUC")
        ax2.set_ylabel("validation AUC")
        ax2.legend(loc="upper right")
    label(ax, experiment, text)
    return ax


def threshold_scan(
    scan: pd.DataFrame,
    ax=None,
    *,
    chosen: float | None = None,
    columns: Sequence[str] = ("efficiency", "bkg_efficiency", "purity", "f1", "youden_j"),
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
):
    """Rates of a :func:`hepnb.evaluate.threshold_scan` table vs threshold."""
    ax = _ax(ax)
    for c in columns:
        ax.plot(scan["threshold"], scan[c], label=c.replace("_", " "))
    if chosen is not None:
        ax.axvline(chosen, color="k", linestyle="--", label=f"chosen = {chosen:.3g}")
    ax.set_xlabel("threshold on classifier score")
    ax.set_ylabel("rate")
    ax.set_ylim(0, 1.15)
    ax.legend(ncol=2, fontsize="small")
    label(ax, experiment, text)
    return ax


def save(fig_or_ax, path) -> None:
    """Save a figure atomically (PNG/PDF by extension)."""

    fig = fig_or_ax.figure if hasattr(fig_or_ax, "figure") and fig_or_ax.figure else fig_or_ax
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1], bbox_inches="tight")


# --- signal vs background analyses ------------------------------------------------------------


def _heatmap(
    ax,
    values: np.ndarray,
    names_x: Sequence[str],
    names_y: Sequence[str],
    *,
    cmap: str,
    vmin: float,
    vmax: float,
    fmt: str,
    cbar_label: str,
):
    """Annotated heat map: cell (i, j) at x = j, y = i holds ``values[i, j]`` as text."""
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    n_y, n_x = values.shape
    size = "small" if max(n_x, n_y) <= 8 else "xx-small"
    norm = im.norm
    for i in range(n_y):  # one text artist per cell: a figure's worth, not a hot path
        for j in range(n_x):
            v = values[i, j]
            dark = abs(norm(v) - 0.5) > 0.3 if vmin < 0 else norm(v) > 0.6
            ax.text(
                j,
                i,
                format(v, fmt),
                ha="center",
                va="center",
                fontsize=size,
                color="white" if dark else "black",
            )
    ax.set_xticks(np.arange(n_x), labels=list(names_x), rotation=60, ha="right")
    ax.set_yticks(np.arange(n_y), labels=list(names_y))
    ax.minorticks_off()
    ax.tick_params(which="both", length=0)  # no tick marks running into the cells
    ax.figure.colorbar(im, ax=ax, label=cbar_label)
    return ax


def correlation_matrix(
    corr,
    names: Sequence[str],
    ax=None,
    title: str | None = None,
    *,
    xlabel: str = "feature",
    ylabel: str = "feature",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
):
    """Annotated heat map of a ``(F, F)`` correlation matrix (diverging colours over −1 … 1).

    Args:
        corr: ``(F, F)`` correlation coefficients (e.g. ``np.corrcoef(x, rowvar=False)`` or a
            DataFrame's ``.corr()``), written in each cell with two decimals.
        names: the F feature names, in order (with units where useful).
        title: shown at the right of the experiment label (e.g. the process).
    """
    c = np.asarray(corr, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] != len(names):
        raise ValueError(f"corr: expected ({len(names)}, {len(names)}) for names, got {c.shape}")
    if ax is None:
        side = max(5.5, 0.45 * len(names) + 2.5)
        _, ax = plt.subplots(figsize=(side + 1.2, side))
    _heatmap(
        ax, c, names, names, cmap="RdBu_r", vmin=-1, vmax=1, fmt=".2f", cbar_label="correlation"
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    label(ax, experiment, text, rlabel=title)
    return ax


def confusion(
    cm,
    labels: Sequence[str] | None = None,
    ax=None,
    *,
    xlabel: str = "predicted class",
    ylabel: str = "true class",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
):
    """Annotated confusion matrix, normalised per true class (rows: true, columns: predicted).

    Args:
        cm: ``(K, K)`` array or the DataFrame of :func:`hepnb.evaluate.confusion_matrix`
            (whose index gives the labels).
        labels: the K class names; None = the DataFrame's index.
    """
    if labels is None:
        if not isinstance(cm, pd.DataFrame):
            raise ValueError("labels: required unless cm is a DataFrame with class names")
        labels = [str(v) for v in cm.index]
    m = np.asarray(cm, dtype=float)
    if m.ndim != 2 or m.shape != (len(labels), len(labels)):
        raise ValueError(f"cm: expected ({len(labels)}, {len(labels)}) for labels, got {m.shape}")
    ax = _ax(ax)
    _heatmap(ax, m, labels, labels, cmap="Blues", vmin=0, vmax=1, fmt=".3f", cbar_label="fraction")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    label(ax, experiment, text, rlabel)
    return ax


def _norm_hist(x, w, edges: np.ndarray, density: bool, name: str):
    """Weighted histogram ``(values, errors)`` on ``edges`` (``hist``, weighted storage): the
    last bin includes its upper edge (as numpy's); with ``density`` divided by the in-range
    Σw and the bin widths (numpy's ``density=True``)."""
    x = np.asarray(x, dtype=float).reshape(-1)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float).reshape(-1)
    if len(w) != len(x):
        raise ValueError(f"{name}: {len(x)} values but {len(w)} weights")
    x = np.where(x == edges[-1], np.nextafter(edges[-1], -np.inf), x)
    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
    h.fill(x, weight=w)
    values, variances = h.values(), h.variances()
    err = np.sqrt(variances if variances is not None else values)
    if not density:
        return values, err
    total = values.sum()
    if not total > 0:
        raise ValueError(f"{name}: the weight inside the bins must be positive to normalise")
    scale = 1.0 / (total * np.diff(edges))
    return values * scale, err * scale


def _edges(bins, *arrays) -> np.ndarray:
    if isinstance(bins, int | np.integer) and not isinstance(bins, bool):
        v = np.concatenate([np.asarray(a, dtype=float).reshape(-1) for a in arrays])
        return np.histogram_bin_edges(v[np.isfinite(v)], bins=int(bins))
    edges = np.asarray(bins, dtype=float).reshape(-1)
    if len(edges) < 2 or not (np.diff(edges) > 0).all():
        raise ValueError(f"bins: expected a number of bins or increasing edges, got {bins!r}")
    return edges


def weighted_hist_compare(
    values: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    bins: int | np.ndarray | Sequence[float],
    xlabel: str,
    density: bool = True,
    ax=None,
    *,
    ylabel: str | None = None,
    log: bool = False,
    errors: bool = True,
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
):
    """Weighted distributions of one variable for several samples (signal vs background), as
    step histograms with √Σw² error bars: the feature-validation plot.

    Args:
        values: ``{name: (x, w)}``, ``w`` the event weights or None.
        bins: edges, or a number of bins over all samples' finite values.
        xlabel: the variable with its unit, e.g. ``"m_bb [GeV]"``.
        density: normalise each sample to unit area (per unit of x), else weighted events.
        ylabel: None = "normalised entries" or "weighted events".
    """
    if not values:
        raise ValueError("values: expected at least one sample {name: (x, w)}")
    ax = _ax(ax)
    edges = _edges(bins, *(v[0] for v in values.values()))
    for name, (x, w) in values.items():
        h, err = _norm_hist(x, w, edges, density, f"values[{name!r}]")
        mplhep.histplot(
            h,
            edges,
            yerr=err if errors else None,
            ax=ax,
            label=name,
            histtype="step",
            linewidth=1.5,
        )
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ("normalised entries" if density else "weighted events"))
    ax.legend()
    label(ax, experiment, text, rlabel)
    return ax


def overtraining(
    s_train,
    y_train,
    w_train,
    s_test,
    y_test,
    w_test,
    bins: int | np.ndarray | Sequence[float] = 40,
    labels: tuple[str, str] = ("signal", "background"),
    ax=None,
    *,
    xlabel: str = "classifier score",
    log: bool = False,
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
):
    """Overtraining check: normalised score distributions of each class, training events as
    filled histograms, test events as points with √Σw² errors; the legend gives each class's
    Kolmogorov–Smirnov p-value (:func:`hepnb.evaluate.overtraining`).

    Args:
        s_train, y_train, w_train: training scores, labels (1 = signal), weights (or None).
        s_test, y_test, w_test: the same for the test split.
        bins: edges, or a number of bins over all scores.
        labels: names of the signal and the background class.
    """
    ks = evaluate.overtraining(s_train, y_train, w_train, s_test, y_test, w_test)
    ax = _ax(ax)
    st, s = np.asarray(s_train, dtype=float).reshape(-1), np.asarray(s_test, dtype=float)
    s = s.reshape(-1)
    yt, y = np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)
    wt = np.ones_like(st) if w_train is None else np.asarray(w_train, dtype=float).reshape(-1)
    w = np.ones_like(s) if w_test is None else np.asarray(w_test, dtype=float).reshape(-1)
    edges = _edges(bins, st, s)
    for cls, name, row, colour in (
        (1, labels[0], "signal", "C0"),
        (0, labels[1], "background", "C3"),
    ):
        h, _ = _norm_hist(st[yt == cls], wt[yt == cls], edges, True, f"{name} (train)")
        mplhep.histplot(
            h, edges, ax=ax, histtype="fill", alpha=0.35, color=colour, label=f"{name} (train)"
        )
        h, err = _norm_hist(s[y == cls], w[y == cls], edges, True, f"{name} (test)")
        p = float(ks.loc[row, "p_value"])
        mplhep.histplot(
            h,
            edges,
            yerr=err,
            ax=ax,
            histtype="errorbar",
            color=colour,
            markersize=4,
            label=f"{name} (test), KS p = {p:.3g}",
        )
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1.35 * ax.get_ylim()[1])  # room for the legend
    ax.set_xlabel(xlabel)
    ax.set_ylabel("normalised entries")
    ax.legend(fontsize="small")
    label(ax, experiment, text, rlabel)
    return ax


def significance_scan(
    scan: pd.DataFrame,
    chosen: float | Mapping | pd.Series | None = None,
    ax=None,
    *,
    xlabel: str = "threshold on classifier score",
    ylabel: str = "significance",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
    rlabel: str | None = None,
):
    """S/√(B + δB²) and the Asimov significance Z_A vs threshold of a
    :func:`hepnb.evaluate.significance_scan` table, the chosen cut as a vertical line.

    Args:
        scan: the table (columns ``threshold``, ``Z``, ``Z_A``).
        chosen: the chosen threshold, or the Series of
            :func:`hepnb.evaluate.significance_working_point` (its ``threshold``).
    """
    missing = [c for c in ("threshold", "Z", "Z_A") if c not in scan]
    if missing:
        raise ValueError(f"scan: missing columns {missing} (expected a significance_scan table)")
    ax = _ax(ax)
    rel = scan.attrs.get("rel_bkg_unc")
    unc = f", δB/B = {rel:.0%}" if rel else ""
    ax.plot(scan["threshold"], scan["Z"], label=f"S/√(B + δB²){unc}")
    ax.plot(scan["threshold"], scan["Z_A"], "--", label=f"Asimov $Z_A${unc}")
    if chosen is not None:
        t = float(chosen["threshold"]) if isinstance(chosen, Mapping | pd.Series) else chosen
        ax.axvline(t, color="k", linestyle=":", label=f"chosen = {t:.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, None)
    ax.legend(fontsize="small")
    label(ax, experiment, text, rlabel)
    return ax
