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
            that curve, e.g. ``bootstrap(y, scores, effs=np.linspace(0.5, 0.99, 50)).band(name)``
            (:class:`hepnb.evaluate.Bootstrap`).
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
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    ax=None,
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    fmt: str = "o-",
    experiment: str = "ATLAS",
    text: str = "Simulation Internal",
):
    """Binned means with error bars, e.g. a rate vs momentum, one curve per sample.

    Args:
        curves: ``{name: (bin centres, values, errors)}`` as :func:`hepnb.evaluate.binned_mean`
            returns (its first three outputs).
    """
    ax = _ax(ax)
    for name, (x, v, e) in curves.items():
        ax.errorbar(x, v, e, fmt=fmt, ms=4, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, None)
    ax.legend()
    label(ax, experiment, text)
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
