"""mplhep-styled figures shared by every chapter.

Each function draws on an ``ax`` (a new figure when None), labels its axes with units and puts
an experiment-style label on it, e.g. "ATLAS Simulation Internal", and returns the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd

from hepnb import evaluate
from hepnb.io import atomic_path

__all__ = [
    "hist1d",
    "history",
    "label",
    "profiles",
    "rejection_vs_efficiency",
    "roc",
    "save",
    "score_hist",
    "style",
    "threshold_scan",
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
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
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
        curves: ``{name: (y, score)}``; the legend shows each AUC.
        signal, background: class names for the axis labels.
        bands: ``{name: (eff, low, high)}`` rejection intervals drawn as a shaded band around
            that curve, e.g. ``report.bands()`` (:meth:`hepnb.evaluate.Report.bands`) or
            ``bootstrap(y, scores, effs=np.linspace(0.5, 0.99, 50)).band(name)``.
    """
    ax = _ax(ax)
    bands = bands or {}
    for name, (y, s) in curves.items():
        r = evaluate.roc(y, s)
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
