"""Performance metrics every chapter reports with: ROC, AUC, rejection at fixed efficiency,
threshold scans and confusion matrices.

Conventions: ``y == 1`` is the signal (electrons, real tracks, ttH...), a higher score is more
signal-like. Signal efficiency ε_s is the fraction of signal above threshold, background
efficiency ε_b the fraction of background above it, rejection = 1/ε_b.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = [
    "Rejection",
    "Roc",
    "auc",
    "binned_mean",
    "choose_threshold",
    "confusion_matrix",
    "rejection_at",
    "roc",
    "summary",
    "threshold_scan",
]


def _check(y, score, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=float).reshape(-1)
    if len(y) != len(score):
        raise ValueError(f"y has {len(y)} entries but score has {len(score)}")
    if not np.isfinite(score).all():
        raise ValueError(f"score holds {int((~np.isfinite(score)).sum())} NaN/inf value(s)")
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"y must hold 0 (background) and 1 (signal); found {sorted(labels)}")
    if labels != {0, 1}:
        raise ValueError(f"y holds only class {labels}: need both signal and background")
    if weight is not None:
        weight = np.asarray(weight, dtype=float).reshape(-1)
        if len(weight) != len(y):
            raise ValueError(f"weight has {len(weight)} entries but y has {len(y)}")
    return y.astype(int), score, weight


@dataclass(frozen=True)
class Roc:
    """A ROC curve: signal efficiency ``eff`` vs background efficiency ``bkg_eff`` per threshold."""

    eff: np.ndarray
    bkg_eff: np.ndarray
    thresholds: np.ndarray
    auc: float

    @property
    def rejection(self) -> np.ndarray:
        """Background rejection 1/ε_b (inf where ε_b = 0)."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.bkg_eff


def roc(y, score, weight=None) -> Roc:
    """ROC curve and area of ``score`` for labels ``y`` (1 = signal), optionally weighted."""
    y, score, weight = _check(y, score, weight)
    fpr, tpr, thr = skm.roc_curve(y, score, sample_weight=weight)
    return Roc(eff=tpr, bkg_eff=fpr, thresholds=thr, auc=float(skm.auc(fpr, tpr)))


def auc(y, score, weight=None) -> float:
    """Area under the ROC curve (probability a random signal scores above a random background)."""
    y, score, weight = _check(y, score, weight)
    return float(skm.roc_auc_score(y, score, sample_weight=weight))


@dataclass(frozen=True)
class Rejection:
    """Background rejection at a fixed signal efficiency, with its binomial uncertainty.

    Attributes:
        eff: the target signal efficiency.
        threshold: score cut giving that efficiency.
        bkg_eff: background efficiency ε_b at that cut.
        rejection: 1/ε_b (inf when no background passes).
        error: binomial uncertainty on the rejection, σ_ε/ε_b² with σ_ε = √(ε_b(1−ε_b)/N_b);
            when no background passes, ``rejection`` is inf and ``lower_limit`` gives the 68% CL
            lower bound N_b/1.14.
        n_bkg: number of background examples.
    """

    eff: float
    threshold: float
    bkg_eff: float
    rejection: float
    error: float
    n_bkg: int

    @property
    def lower_limit(self) -> float:
        """68% CL lower limit on the rejection (useful when ``rejection`` is inf)."""
        if self.bkg_eff > 0:
            return self.rejection - self.error
        return self.n_bkg / 1.14  # -ln(0.32) ≈ 1.14 background events at 68% CL

    def __str__(self) -> str:
        return f"{self.rejection:.3g} ± {self.error:.2g} at ε_s = {self.eff:.0%}"


def rejection_at(y, score, eff: float = 0.9, weight=None) -> Rejection:
    """Background rejection at signal efficiency ``eff`` (cut = the (1−eff) signal quantile)."""
    if not 0 < eff <= 1:
        raise ValueError(f"eff={eff}: expected a signal efficiency in (0, 1]")
    y, score, weight = _check(y, score, weight)
    w = np.ones_like(score) if weight is None else weight
    sig, bkg = score[y == 1], score[y == 0]
    ws, wb = w[y == 1], w[y == 0]
    order = np.argsort(-sig, kind="stable")
    cum = np.cumsum(ws[order]) / ws.sum()
    k = min(int(np.searchsorted(cum, eff - 1e-12)), len(sig) - 1)
    thr = float(sig[order][k])
    eb = float(wb[bkg >= thr].sum() / wb.sum())
    n_eff = float(wb.sum() ** 2 / (wb**2).sum())  # effective number of background examples
    sigma = np.sqrt(eb * (1 - eb) / n_eff)
    rej = np.inf if eb == 0 else 1.0 / eb
    err = np.inf if eb == 0 else sigma / eb**2
    return Rejection(
        eff=eff, threshold=thr, bkg_eff=eb, rejection=float(rej), error=float(err), n_bkg=len(bkg)
    )


def threshold_scan(y, score, thresholds: Sequence[float] | int | None = None) -> pd.DataFrame:
    """Counts and rates for a list of score thresholds (a cut ``score >= threshold`` selects).

    Args:
        y: labels, 1 = signal.
        score: classifier output.
        thresholds: explicit cuts, a number of equally spaced cuts between the score's min and
            max, or None for 101 cuts on the signal-score quantiles.

    Returns:
        DataFrame with columns ``threshold tp fp tn fn efficiency bkg_efficiency rejection
        purity f1 youden_j`` (efficiency = TP/(TP+FN), purity = TP/(TP+FP),
        F1 = 2·purity·eff/(purity+eff), Youden J = efficiency − bkg_efficiency).
    """
    y, score, _ = _check(y, score)
    if thresholds is None:
        thr = np.unique(np.quantile(score[y == 1], np.linspace(0, 1, 101)))
    elif isinstance(thresholds, int):
        thr = np.linspace(score.min(), score.max(), thresholds)
    else:
        thr = np.asarray(thresholds, dtype=float)
    # vectorised counts: number of scores >= each threshold via sorted search
    s_sig, s_bkg = np.sort(score[y == 1]), np.sort(score[y == 0])
    tp = len(s_sig) - np.searchsorted(s_sig, thr, side="left")
    fp = len(s_bkg) - np.searchsorted(s_bkg, thr, side="left")
    fn, tn = len(s_sig) - tp, len(s_bkg) - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = tp / len(s_sig)
        beff = fp / len(s_bkg)
        purity = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        f1 = np.where(purity + eff > 0, 2 * purity * eff / (purity + eff), 0.0)
        rej = np.where(beff > 0, 1 / beff, np.inf)
    return pd.DataFrame(
        {
            "threshold": thr,
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
            "efficiency": eff,
            "bkg_efficiency": beff,
            "rejection": rej,
            "purity": purity,
            "f1": f1,
            "youden_j": eff - beff,
        }
    )


def choose_threshold(scan: pd.DataFrame, by: str | Mapping[str, float] = "youden_j") -> pd.Series:
    """Pick a working point from a :func:`threshold_scan` table.

    Args:
        scan: the table.
        by: ``"youden_j"`` or ``"f1"`` (maximise that column), or ``{"efficiency": 0.99}`` (the
            tightest cut keeping at least that signal efficiency).

    Returns:
        The chosen row, with an added ``criterion`` entry saying why.
    """
    if isinstance(by, Mapping):
        ((col, target),) = by.items()
        if col != "efficiency":
            raise ValueError(f"by={by!r}: only {{'efficiency': value}} is supported")
        ok = scan[scan["efficiency"] >= target]
        if ok.empty:
            raise ValueError(f"no threshold keeps efficiency ≥ {target}")
        row = ok.loc[ok["threshold"].idxmax()].astype(object)
        row["criterion"] = f"tightest cut with efficiency ≥ {target:g}"
        return row
    if by not in ("youden_j", "f1"):
        raise ValueError(f"by={by!r}: expected 'youden_j', 'f1' or {{'efficiency': value}}")
    row = scan.loc[scan[by].idxmax()].astype(object)
    row["criterion"] = f"maximum {by}"
    return row


def confusion_matrix(
    y_true, y_pred, labels: Sequence | None = None, normalize: str | None = "true"
):
    """Confusion matrix as a DataFrame (rows: true class, columns: predicted), normalised per
    true class by default."""
    labels = (
        np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
        if labels is None
        else np.asarray(labels)
    )
    m = skm.confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    return pd.DataFrame(
        m, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted")
    )


def summary(
    y, scores: Mapping[str, np.ndarray], effs: Sequence[float] = (0.9, 0.95)
) -> pd.DataFrame:
    """One row per classifier: AUC and rejection (± error) at each efficiency in ``effs``."""
    rows = []
    for name, s in scores.items():
        row = {"classifier": name, "auc": auc(y, s)}
        for e in effs:
            r = rejection_at(y, s, e)
            row[f"rej@{e:.0%}"] = r.rejection
            row[f"err@{e:.0%}"] = r.error
        rows.append(row)
    return pd.DataFrame(rows).set_index("classifier")


def binned_mean(x, y, bins) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``y`` in bins of ``x`` with its standard error (binomial for 0/1 values).

    Returns:
        ``(centers, mean, error, counts)``, each ``(n_bins,)``; empty bins hold NaN.
    """
    x, y = np.asarray(x, dtype=float).reshape(-1), np.asarray(y, dtype=float).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} entries but y has {len(y)}")
    edges = np.asarray(bins, dtype=float)
    i = np.digitize(x, edges) - 1
    ok = (i >= 0) & (i < len(edges) - 1)
    n = np.bincount(i[ok], minlength=len(edges) - 1).astype(float)
    s1 = np.bincount(i[ok], weights=y[ok], minlength=len(edges) - 1)
    s2 = np.bincount(i[ok], weights=y[ok] ** 2, minlength=len(edges) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        var = np.maximum(s2 / n - mean**2, 0.0)
        err = np.sqrt(var / np.maximum(n - 1, 1))
    mean[n == 0] = np.nan
    err[n == 0] = np.nan
    return 0.5 * (edges[1:] + edges[:-1]), mean, err, n
