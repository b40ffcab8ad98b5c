"""Performance metrics every chapter reports with: ROC, AUC, rejection at fixed efficiency,
threshold scans and confusion matrices.

Conventions: ``y == 1`` is the signal (electrons, real tracks, ttH...), a higher score is more
signal-like. Signal efficiency ε_s is the fraction of signal above threshold, background
efficiency ε_b the fraction of background above it, rejection = 1/ε_b (or 1 − ε_b, LHCb's
"ghost rejection", where :func:`report` says ``kind="fraction"``).

:func:`report` gives the headline table of a ROC figure with bootstrap intervals (paired
differences against a reference method included) and records it in ``metrics.json``;
:func:`bootstrap` holds the resamples behind it (:meth:`Report.bands` for ROC bands).
:func:`working_points` chooses cuts on the validation split and measures them on the test
split, with bootstrap intervals and purity at a chosen signal fraction; :func:`binned_rate`
gives rates in bins with Wilson or Clopper–Pearson intervals.

Track finding: :func:`match_tracks` matches found tracks to particles by the double majority
rule, :func:`tracking_counts` counts per event and :func:`tracking_report` gives efficiency,
fake and duplicate rates of several methods with paired event-bootstrap intervals
(:func:`event_ratios`, the generic ratio-of-sums bootstrap :func:`accuracy` also uses);
:func:`edge_rates` and :func:`edge_counts` give the edge efficiency and purity of a graph.

Signal vs background analyses (weighted events, yields S and B in expected events):
:func:`significance` (S/√(B + δB²)) and :func:`asimov` (the Asimov discovery significance),
their threshold scan :func:`significance_scan`, the cut chosen on validation and measured on
test by :func:`significance_working_point`, the binned Asimov significance of a score
distribution (:func:`binned_asimov`, bins from :func:`equal_signal_bins`), the
train/test Kolmogorov–Smirnov check :func:`overtraining`, the background-shape check
:func:`sculpting` and :func:`permutation_importance`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta, kstwo
from scipy.stats import chi2 as chi2_dist
from sklearn import metrics as skm

from hepnb import runs

__all__ = [
    "Accuracy",
    "BinnedRate",
    "Bootstrap",
    "Ratios",
    "Rejection",
    "Report",
    "Roc",
    "TrackMatch",
    "TrackingReport",
    "accuracy",
    "asimov",
    "auc",
    "binned_asimov",
    "binned_asimov_interval",
    "binned_asimov_table",
    "binned_mean",
    "binned_rate",
    "bootstrap",
    "check_csr",
    "choose_threshold",
    "confusion_matrix",
    "edge_counts",
    "edge_rates",
    "equal_signal_bins",
    "event_ratios",
    "figure_name",
    "match_tracks",
    "overtraining",
    "permutation_importance",
    "rejection_at",
    "report",
    "roc",
    "sculpting",
    "significance",
    "significance_scan",
    "significance_working_point",
    "summary",
    "threshold_scan",
    "tracking_counts",
    "tracking_report",
    "working_points",
]


def _check_labels(y) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"y must hold 0 (background) and 1 (signal); found {sorted(labels)}")
    if labels != {0, 1}:
        raise ValueError(f"y holds only class {labels}: need both signal and background")
    return y.astype(int)


def _check(y, score, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=float).reshape(-1)
    if len(y) != len(score):
        raise ValueError(f"y has {len(y)} entries but score has {len(score)}")
    if not np.isfinite(score).all():
        raise ValueError(f"score holds {int((~np.isfinite(score)).sum())} NaN/inf value(s)")
    y = _check_labels(y)
    if weight is not None:
        weight = np.asarray(weight, dtype=float).reshape(-1)
        if len(weight) != len(y):
            raise ValueError(f"weight has {len(weight)} entries but y has {len(y)}")
    return y, score, weight


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
    if weight is not None and (weight < 0).any():  # non-monotone curve: skm.auc refuses it
        return Roc(eff=tpr, bkg_eff=fpr, thresholds=thr, auc=_rank_auc(y, score, weight))
    return Roc(eff=tpr, bkg_eff=fpr, thresholds=thr, auc=float(skm.auc(fpr, tpr)))


def auc(y, score, weight=None) -> float:
    """Area under the ROC curve (probability a random signal scores above a random background,
    ties counting one half). Negative weights (sWeights) are accepted."""
    y, score, weight = _check(y, score, weight)
    if weight is not None and (weight < 0).any():
        return _rank_auc(y, score, weight)
    return float(skm.roc_auc_score(y, score, sample_weight=weight))


def _rank_auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """Weighted AUC as the weighted Mann-Whitney sum (sklearn rejects a non-monotone ROC)."""
    sig, bkg = score[y == 1], score[y == 0]
    ws, wb = weight[y == 1], weight[y == 0]
    order = np.argsort(bkg, kind="stable")
    below = np.r_[0.0, np.cumsum(wb[order])]  # background weight under each sorted position
    lt = np.searchsorted(bkg[order], sig, side="left")
    le = np.searchsorted(bkg[order], sig, side="right")
    return float(ws @ (0.5 * (below[lt] + below[le])) / (ws.sum() * wb.sum()))


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
            lower bound N_b/1.14. It leaves out the spread of the cut itself (from the finite
            signal sample), which :func:`report`'s bootstrap interval includes.
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
    hit = cum >= eff - 1e-12  # first crossing: also defined for negative weights
    k = int(np.argmax(hit)) if hit.any() else len(sig) - 1
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
    classes = (
        np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
        if labels is None
        else np.asarray(labels)
    )
    m = skm.confusion_matrix(y_true, y_pred, labels=classes, normalize=normalize)
    return pd.DataFrame(
        m, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted")
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
    """Mean of ``y`` in bins of ``x`` with its standard error.

    For 0/1 values (a rate) the error is the half-width of the 1σ Wilson score interval, which
    is never zero at a rate of 0 or 1 (:func:`binned_rate` gives the asymmetric interval itself
    and should be preferred for rates); otherwise it is the standard error of the mean.

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
        if np.isin(y, (0.0, 1.0)).all():  # a rate: Wilson, never zero at 0 or 1
            lo, hi = _wilson(mean, n, 1.0)
            err = 0.5 * (hi - lo)
        else:
            var = np.maximum(s2 / n - mean**2, 0.0)
            err = np.sqrt(var / np.maximum(n - 1, 1))
    mean[n == 0] = np.nan
    err[n == 0] = np.nan
    return 0.5 * (edges[1:] + edges[:-1]), mean, err, n


_RATE_METHODS = ("wilson", "clopper-pearson")


def _z(cl: float) -> float:
    """Two-sided normal quantile of confidence level ``cl`` (0.68 → 0.994, 0.95 → 1.96)."""
    return NormalDist().inv_cdf(0.5 + cl / 2)


def _wilson(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of a rate ``p`` measured on ``n`` entries."""
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2n = z**2 / n
        centre = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _clopper_pearson(p: np.ndarray, n: np.ndarray, cl: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson (exact binomial) interval of a rate ``p`` on ``n`` entries (k = p·n, not
    necessarily an integer with weights)."""
    k = np.clip(p, 0.0, 1.0) * n
    a = (1 - cl) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - a, k + 1, n - k), 1.0)
    bad = ~(n > 0)
    lo[bad], hi[bad] = np.nan, np.nan
    return lo, hi


@dataclass(frozen=True)
class BinnedRate:
    """A rate (efficiency, ghost fraction...) in bins, with its confidence interval.

    Attributes:
        centres: ``(n_bins,)`` bin centres.
        rate: ``(n_bins,)`` (weighted) fraction passing; NaN for an empty bin.
        lo, hi: ``(n_bins,)`` interval at ``cl`` (Wilson or Clopper–Pearson); NaN when empty.
        n: ``(n_bins,)`` entries per bin; with weights the effective (Kish) number
            (Σw)²/Σw².
        edges: ``(n_bins + 1,)`` bin edges.
        cl: confidence level of ``lo``/``hi``.
        method: ``"wilson"`` or ``"clopper-pearson"``.
    """

    centres: np.ndarray
    rate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray
    edges: np.ndarray
    cl: float = 0.68
    method: str = "wilson"

    @property
    def yerr(self) -> np.ndarray:
        """``(2, n_bins)`` asymmetric errors ``[rate − lo, hi − rate]`` for ``ax.errorbar``."""
        return np.maximum(np.stack([self.rate - self.lo, self.hi - self.rate]), 0.0)

    def to_frame(self) -> pd.DataFrame:
        """Columns ``centre rate lo hi n``, one row per bin."""
        return pd.DataFrame(
            {"centre": self.centres, "rate": self.rate, "lo": self.lo, "hi": self.hi, "n": self.n}
        )


def binned_rate(
    x, passed, bins, *, weight=None, cl: float = 0.68, method: str = "wilson"
) -> BinnedRate:
    """Fraction of entries that pass, in bins of ``x``, with a binomial confidence interval.

    A bin at a rate of 0 or 1 gets a non-zero interval (unlike √(p(1−p)/n)), an empty bin NaN.
    With weights the rate is Σw·passed/Σw and the interval that of the effective (Kish) number
    of entries n_eff = (Σw)²/Σw² (n_eff = n for unit weights); a bin whose Σw ≤ 0 is NaN.

    Args:
        x: ``(n,)`` the binned variable (e.g. p_T in GeV).
        passed: ``(n,)`` bool or 0/1, whether each entry passes.
        bins: ``(n_bins + 1,)`` bin edges; entries outside are dropped.
        weight: ``(n,)`` per-entry weights, or None.
        cl: confidence level, 0.68 ≈ ±1σ.
        method: ``"wilson"`` (score interval) or ``"clopper-pearson"`` (exact, conservative).
    """
    cl = _check_cl(cl)
    if method not in _RATE_METHODS:
        raise ValueError(f"method={method!r}: expected one of {_RATE_METHODS}")
    x = np.asarray(x, dtype=float).reshape(-1)
    passed = np.asarray(passed).reshape(-1)
    if len(passed) != len(x):
        raise ValueError(f"passed has {len(passed)} entries but x has {len(x)}")
    if not np.isin(passed, (0, 1)).all():
        raise ValueError("passed: expected bool or 0/1 values")
    edges = np.asarray(bins, dtype=float).reshape(-1)
    if len(edges) < 2 or not (np.diff(edges) > 0).all():
        raise ValueError(f"bins: expected at least 2 increasing edges, got {edges.tolist()}")
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float).reshape(-1)
    if len(w) != len(x):
        raise ValueError(f"weight has {len(w)} entries but x has {len(x)}")
    nb = len(edges) - 1
    i = np.digitize(x, edges) - 1
    ok = (i >= 0) & (i < nb) & np.isfinite(x)
    i, w, k = i[ok], w[ok], passed[ok].astype(float)
    sw = np.bincount(i, weights=w, minlength=nb)
    sw2 = np.bincount(i, weights=w**2, minlength=nb)
    swk = np.bincount(i, weights=w * k, minlength=nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(sw > 0, swk / sw, np.nan)
        n = np.where(sw2 > 0, sw**2 / sw2, 0.0)
    if method == "wilson":
        lo, hi = _wilson(rate, n, _z(cl))
    else:
        lo, hi = _clopper_pearson(rate, n, cl)
    empty = ~(sw > 0)
    lo[empty], hi[empty] = np.nan, np.nan
    return BinnedRate(
        centres=0.5 * (edges[1:] + edges[:-1]),
        rate=rate,
        lo=lo,
        hi=hi,
        n=n,
        edges=edges,
        cl=cl,
        method=method,
    )


# --- bootstrap intervals --------------------------------------------------------------------

#: Resampled examples held in memory at once (resamples per chunk × examples).
_CHUNK_ELEMENTS = 2_000_000
_KINDS = ("factor", "fraction")


def figure_name(eff: float) -> str:
    """Column name of the rejection at signal efficiency ``eff``: ``rej<NN>``, NN = round(100·eff)."""
    return f"rej{round(100 * eff)}"


def _check_inputs(
    y, scores, weight, groups
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None, np.ndarray, int]:
    """Validated ``(y, scores, weight, unit, n_units)``; ``unit`` maps each example to the
    resampled unit (its event when ``groups`` is given, else itself)."""
    y = _check_labels(y)
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(f"scores: expected a non-empty mapping name → score array, got {scores!r}")
    checked = {}
    for name, s in scores.items():
        s = np.asarray(s, dtype=float).reshape(-1)
        if len(s) != len(y):
            raise ValueError(f"scores[{name!r}] has {len(s)} entries but y has {len(y)}")
        if not np.isfinite(s).all():
            raise ValueError(
                f"scores[{name!r}] holds {int((~np.isfinite(s)).sum())} NaN/inf value(s)"
            )
        checked[str(name)] = s
    if weight is not None:
        weight = np.asarray(weight, dtype=float).reshape(-1)
        if len(weight) != len(y):
            raise ValueError(f"weight has {len(weight)} entries but y has {len(y)}")
        if not np.isfinite(weight).all():
            raise ValueError(f"weight holds {int((~np.isfinite(weight)).sum())} NaN/inf value(s)")
    if groups is None:
        return y, checked, weight, np.arange(len(y)), len(y)
    groups = np.asarray(groups).reshape(-1)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries but y has {len(y)}")
    _, unit = np.unique(groups, return_inverse=True)
    return y, checked, weight, unit.reshape(-1), int(unit.max()) + 1


def _check_options(effs, kind: str, n_boot: int) -> np.ndarray:
    effs = np.atleast_1d(np.asarray(effs, dtype=float))
    if effs.ndim != 1 or len(effs) == 0 or not ((effs > 0) & (effs < 1)).all():
        raise ValueError(f"effs={effs.tolist()}: expected signal efficiencies in (0, 1)")
    if kind not in _KINDS:
        raise ValueError(f"kind={kind!r}: expected 'factor' (1/ε_b) or 'fraction' (1 − ε_b)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 2:
        raise ValueError(f"n_boot={n_boot!r}: expected an integer number of resamples ≥ 2")
    return effs


def _check_cl(cl: float) -> float:
    if not 0 < cl < 1:
        raise ValueError(f"cl={cl}: expected a confidence level in (0, 1), e.g. 0.68 or 0.95")
    return float(cl)


@dataclass(frozen=True, eq=False)
class _Sorted:
    """One method's examples ordered by decreasing score, split into signal and background.

    ``sig``/``bkg`` are the resampled units of the examples in that order, ``w_sig``/``w_bkg``
    their weights, ``ge``/``gt`` the number of background examples scoring ≥ / > each signal
    example (``gt`` is None when no background ties a signal score).
    """

    sig: np.ndarray
    bkg: np.ndarray
    w_sig: np.ndarray | None
    w_bkg: np.ndarray | None
    ge: np.ndarray
    gt: np.ndarray | None

    @classmethod
    def of(cls, y, score, weight, unit) -> _Sorted:
        isig, ibkg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        isig = isig[np.argsort(-score[isig], kind="stable")]  # the order of rejection_at
        ibkg = ibkg[np.argsort(-score[ibkg], kind="stable")]
        neg_bkg = -score[ibkg]  # ascending
        ge = np.searchsorted(neg_bkg, -score[isig], side="right")
        gt = np.searchsorted(neg_bkg, -score[isig], side="left")
        return cls(
            sig=unit[isig],
            bkg=unit[ibkg],
            w_sig=None if weight is None else weight[isig],
            w_bkg=None if weight is None else weight[ibkg],
            ge=ge,
            gt=gt if (gt != ge).any() else None,
        )

    def resampled(self, m: np.ndarray, effs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AUC ``(c,)`` and background efficiency ``(c, n_effs)`` of ``c`` resamples.

        Args:
            m: ``(c, n_units)`` multiplicity of each unit in each resample.
            effs: signal efficiencies; the cut is re-chosen on each resampled signal set.
        """
        # unweighted: integer sums (int32 while multiplicity × cumulative sum cannot overflow)
        fits = int(m.max()) ** 2 * (len(self.sig) + len(self.bkg)) < 2**31
        acc: type[np.number] = np.int32 if fits else np.int64
        ms, mb = np.take(m, self.sig, axis=1), np.take(m, self.bkg, axis=1)
        if self.w_sig is not None:
            ms, mb, acc = ms * self.w_sig, mb * self.w_bkg, np.float64
        cs = np.cumsum(ms, axis=1, dtype=acc)  # signal weight above each signal example
        cb = np.zeros((len(m), mb.shape[1] + 1), dtype=acc)  # cb[:, j]: first j background
        np.cumsum(mb, axis=1, dtype=acc, out=cb[:, 1:])
        s_tot, b_tot = cs[:, -1].astype(float), cb[:, -1].astype(float)
        # AUC = Σ_sig w (B − background above, ties counted one half) / (S B)
        above = np.take(cb, self.ge, axis=1)
        if self.gt is not None:
            above = 0.5 * (above + np.take(cb, self.gt, axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            area = (s_tot * b_tot - (ms * above).sum(axis=1, dtype=float)) / (s_tot * b_tot)
        # cut: first signal example where the cumulative signal weight reaches eff·S
        target = (effs - 1e-12)[None, :] * s_tot[:, None]
        if np.issubdtype(acc, np.integer):
            target = np.ceil(target).astype(acc)
        if self.w_sig is None or (self.w_sig >= 0).all():  # non-decreasing: binary search
            k = np.stack([np.searchsorted(row, t) for row, t in zip(cs, target, strict=True)])
        else:
            k = np.stack([np.argmax(cs >= t[:, None], axis=1) for t in target.T], axis=1)
        k = np.minimum(k, cs.shape[1] - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            bkg_eff = np.take_along_axis(cb, self.ge[k], axis=1) / b_tot[:, None]
        bad = (s_tot <= 0) | (b_tot <= 0)
        area[bad], bkg_eff[bad] = np.nan, np.nan
        return area, bkg_eff


def _multiplicities(rng: np.random.Generator, n_units: int, c: int) -> np.ndarray:
    """``(c, n_units)`` counts of each unit in ``c`` resamples of ``n_units`` uniform draws with
    replacement (multinomial), as uint8 when they fit."""
    draws = rng.integers(
        0, n_units, size=(c, n_units), dtype=np.int32 if n_units < 2**31 else np.int64
    )
    flat = draws + (np.arange(c, dtype=np.int64) * n_units)[:, None]  # bin of unit j, resample r
    counts = np.bincount(flat.ravel(), minlength=c * n_units).reshape(c, n_units)
    return counts.astype(np.uint8) if counts.max() < 256 else counts


def _to_rejection(bkg_eff, kind: str):
    if kind == "fraction":
        return 1.0 - bkg_eff
    with np.errstate(divide="ignore"):
        return 1.0 / bkg_eff


def _interval(samples: np.ndarray, cl: float) -> np.ndarray:
    """Central percentile interval ``[low, high]`` along the last axis (NaN resamples dropped;
    inf values, e.g. an infinite rejection, are kept by taking order statistics)."""
    q = [(1 - cl) / 2, (1 + cl) / 2]
    method: Any = "linear" if np.isfinite(samples[~np.isnan(samples)]).all() else "inverted_cdf"
    with np.errstate(invalid="ignore"):
        return np.moveaxis(np.nanquantile(samples, q, axis=-1, method=method), 0, -1)


@dataclass(frozen=True, eq=False)
class Bootstrap:
    """AUC and rejections of several methods on the full sample and on the same resamples.

    Attributes:
        methods: method names, in the order of ``scores``.
        effs: signal efficiencies of the rejections.
        kind: ``"factor"`` (rejection 1/ε_b) or ``"fraction"`` (1 − ε_b).
        auc: ``(n_methods,)`` AUC on the full sample (:func:`auc`).
        rejection: ``(n_methods, n_effs)`` rejection on the full sample (:func:`rejection_at`).
        auc_samples: ``(n_methods, n_boot)`` AUC of each resample.
        rejection_samples: ``(n_methods, n_effs, n_boot)`` rejection of each resample.
    """

    methods: tuple[str, ...]
    effs: np.ndarray
    kind: str
    auc: np.ndarray
    rejection: np.ndarray
    auc_samples: np.ndarray
    rejection_samples: np.ndarray

    def _rows(self, figure: str | float) -> tuple[np.ndarray, np.ndarray]:
        """Full-sample values ``(n_methods,)`` and resamples ``(n_methods, n_boot)``."""
        if isinstance(figure, str) and figure == "auc":
            return self.auc, self.auc_samples
        names = [figure_name(e) for e in self.effs]
        if isinstance(figure, str) and figure in names:
            i = names.index(figure)
        elif not isinstance(figure, str) and np.isclose(self.effs, figure).any():
            i = int(np.argmax(np.isclose(self.effs, figure)))
        else:
            raise ValueError(f"figure={figure!r}: expected 'auc', one of {names} or an eff")
        return self.rejection[:, i], self.rejection_samples[:, i]

    def _method(self, method: str) -> int:
        if method not in self.methods:
            raise ValueError(f"method={method!r}: not among {list(self.methods)}")
        return self.methods.index(method)

    def samples(self, figure: str | float, method: str, reference: str | None = None):
        """Resampled values of ``figure`` (``"auc"``, ``"rej90"`` or an efficiency) for
        ``method``, or the paired differences method − ``reference`` on the same resamples."""
        _, rows = self._rows(figure)
        out = rows[self._method(method)]
        return out if reference is None else out - rows[self._method(reference)]

    def interval(
        self, figure: str | float, method: str, *, reference: str | None = None, cl: float = 0.68
    ) -> tuple[float, float]:
        """Central percentile interval at ``cl`` of :meth:`samples`."""
        lo, hi = _interval(self.samples(figure, method, reference), _check_cl(cl))
        return float(lo), float(hi)

    def band(self, method: str, cl: float = 0.68) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(effs, low, high)``: the rejection interval at each efficiency, for a ROC band
        (:func:`hepnb.plot.roc` ``bands=``)."""
        lohi = _interval(self.rejection_samples[self._method(method)], _check_cl(cl))
        return self.effs, lohi[:, 0], lohi[:, 1]


def bootstrap(
    y,
    scores: Mapping[str, np.ndarray],
    effs: Sequence[float] | np.ndarray = (0.9,),
    *,
    kind: str = "factor",
    weight=None,
    groups=None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Bootstrap:
    """Bootstrap the AUC and the rejections at ``effs`` of every method on the same resamples.

    A resample draws as many units as there are, uniformly with replacement (exact multinomial
    multiplicities from a bincount of integer draws, not Poisson(1) weights); a unit is an
    example, or with ``groups`` a whole event (all its candidates together). Examples carry
    their weight times their multiplicity, so negative weights (sWeights) work. On each
    resample the cut giving ``eff`` is re-chosen on the resampled signal (as
    :func:`rejection_at` does on the full sample). Every method sees the same resamples, so
    differences between methods are paired (:meth:`Bootstrap.interval` ``reference=``).

    Each score is sorted once; a resample is a vector of multiplicities whose cumulative sums
    along that order give the efficiency curves, processed in chunks of resamples to bound
    memory (1,000 resamples of 100k examples take a few seconds per method on one core).

    Args:
        y: labels, 1 = signal.
        scores: ``{method: score}``, each like ``y``.
        effs: signal efficiencies in (0, 1) of the rejections.
        kind: ``"factor"``: rejection 1/ε_b; ``"fraction"``: 1 − ε_b (LHCb ghost rejection).
        weight: per-example weights (may be negative), or None.
        groups: per-example event id; candidates of one event are resampled together.
        n_boot: number of resamples.
        seed: seed of the resampling (same seed, same resamples).
    """
    y, scores, weight, unit, n_units = _check_inputs(y, scores, weight, groups)
    effs = _check_options(effs, kind, n_boot)
    sorted_ = [_Sorted.of(y, s, weight, unit) for s in scores.values()]
    auc_samples = np.empty((len(scores), n_boot))
    bkg_eff = np.empty((len(scores), len(effs), n_boot))
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // max(n_units, len(y)))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        m = _multiplicities(rng, n_units, stop - start)
        for i, s in enumerate(sorted_):
            auc_samples[i, start:stop], e = s.resampled(m, effs)
            bkg_eff[i, :, start:stop] = e.T
    full_auc = np.array([auc(y, s, weight) for s in scores.values()])
    full_eff = np.array(
        [[rejection_at(y, s, e, weight).bkg_eff for e in effs] for s in scores.values()]
    )
    return Bootstrap(
        methods=tuple(scores),
        effs=effs,
        kind=kind,
        auc=full_auc,
        rejection=_to_rejection(full_eff, kind),
        auc_samples=auc_samples,
        rejection_samples=_to_rejection(bkg_eff, kind),
    )


def _format(value: float, lo: float, hi: float) -> str:
    """``"6.69 [6.41, 6.98]"``: two significant digits on the interval's half-width."""
    half = (hi - lo) / 2 if np.isfinite([lo, hi]).all() else np.nan
    if not half > 0:
        return f"{value:.3g} [{lo:.3g}, {hi:.3g}]"
    d = int(np.clip(1 - np.floor(np.log10(half)), 0, 8))
    return f"{value:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


@dataclass(frozen=True, eq=False)
class Report:
    """Headline ROC figures with bootstrap intervals (see :func:`report`).

    Attributes:
        table: index = method; columns ``auc``, ``rej<NN>`` per efficiency, each followed by
            ``<figure>_lo`` and ``<figure>_hi``.
        paired: with a ``reference``, index = the other methods; columns ``delta_<figure>``
            (method − reference on the full sample) with ``_lo``/``_hi`` paired intervals;
            else None.
        figures: ``("auc", "rej90", ...)``.
        reference: the reference method, or None.
        cl: confidence level of the intervals.
        bootstrap: the resamples behind the intervals.
    """

    table: pd.DataFrame
    paired: pd.DataFrame | None
    figures: tuple[str, ...]
    reference: str | None
    cl: float
    bootstrap: Bootstrap
    #: the inputs of :func:`report` (for :meth:`resample`); not part of the public layout
    _inputs: dict[str, Any] | None = field(default=None, repr=False)
    _cache: dict[Any, Bootstrap] = field(default_factory=dict, repr=False)

    def resample(self, effs: Sequence[float] | np.ndarray, kind: str | None = None) -> Bootstrap:
        """The report's bootstrap (same inputs, seed and number of resamples) at other
        efficiencies ``effs``, computed on demand and cached.

        Args:
            effs: signal efficiencies in (0, 1).
            kind: ``"factor"`` or ``"fraction"``; None = the report's.
        """
        kind = self.bootstrap.kind if kind is None else kind
        effs = _check_options(effs, kind, 2)
        if np.array_equal(effs, self.bootstrap.effs) and kind == self.bootstrap.kind:
            return self.bootstrap
        if self._inputs is None:
            raise ValueError("this Report was not made by report(): it cannot be resampled")
        key = (tuple(effs.tolist()), kind)
        if key not in self._cache:
            self._cache[key] = bootstrap(effs=effs, kind=kind, **self._inputs)
        return self._cache[key]

    def bands(
        self,
        effs: Sequence[float] | np.ndarray | None = None,
        *,
        cl: float | None = None,
        kind: str = "factor",
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Rejection intervals of every method on a grid of efficiencies, for a ROC band:
        ``hepnb.plot.roc(curves, bands=report.bands())``.

        Runs the report's bootstrap at ``effs`` when first asked (a few seconds per method for
        1,000 resamples of 100k examples), so :func:`report` itself stays fast.

        Args:
            effs: signal efficiencies in (0, 1); None = 50 points from 0.5 to 0.99.
            cl: confidence level; None = the report's.
            kind: ``"factor"`` (1/ε_b, what :func:`hepnb.plot.roc` draws) or ``"fraction"``.

        Returns:
            ``{method: (effs, low, high)}``, each ``(n_effs,)``.
        """
        grid = np.round(np.linspace(0.5, 0.99, 50), 4) if effs is None else effs
        bs = self.resample(grid, kind)
        level = self.cl if cl is None else cl
        return {m: bs.band(m, level) for m in bs.methods}

    def display(self) -> pd.DataFrame:
        """The table as strings ``"value [low, high]"`` rounded to the interval's precision,
        plus ``Δ<figure>`` columns (method − reference) when there is a reference."""
        t = self.table
        out = pd.DataFrame(index=t.index)
        for f in self.figures:
            out[f] = [_format(*r) for r in t[[f, f"{f}_lo", f"{f}_hi"]].to_numpy()]
        if self.paired is not None:
            p = self.paired
            for f in self.figures:
                cols = [f"delta_{f}", f"delta_{f}_lo", f"delta_{f}_hi"]
                text = {m: _format(*r) for m, r in zip(p.index, p[cols].to_numpy(), strict=True)}
                out[f"Δ{f}"] = [text.get(m, "reference") for m in t.index]
        return out

    def record(self, out_dir, prefix: str) -> dict[str, dict]:
        """Write the figures into ``<out_dir>/metrics.json`` (:func:`hepnb.runs.record`).

        Keys: ``<prefix>_<figure>`` → method → value and ``<prefix>_<figure>_ci`` → method →
        ``[low, high]`` for ``auc`` and each ``rej<NN>``; with a reference also
        ``<prefix>_delta_<figure>`` and ``..._ci`` (method → method − reference). At a level
        other than 68% the interval key says so: ``_ci95``.

        Returns:
            The entries written, key → method → value.
        """
        suffix = "_ci" if np.isclose(self.cl, 0.68) else f"_ci{round(100 * self.cl)}"
        tables = [(self.table, "")]
        if self.paired is not None:
            tables.append((self.paired, "delta_"))
        written: dict[str, dict] = {}
        for table, pre in tables:
            for f in self.figures:
                key, col = f"{prefix}_{pre}{f}", f"{pre}{f}"
                values = {str(m): float(v) for m, v in table[col].items()}
                ci = {
                    str(m): [float(lo), float(hi)]
                    for m, lo, hi in zip(
                        table.index, table[f"{col}_lo"], table[f"{col}_hi"], strict=True
                    )
                }
                if suffix == "_ci":
                    runs.record_with_interval(out_dir, key, values, ci)
                else:
                    runs.record(out_dir, key + suffix, ci)
                    runs.record(out_dir, key, values)
                written[key], written[key + suffix] = values, ci
        return written


def report(
    y,
    scores: Mapping[str, np.ndarray],
    *,
    effs: Sequence[float] = (0.9,),
    weight=None,
    groups=None,
    kind: str = "factor",
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
    reference: str | None = None,
) -> Report:
    """AUC and rejection at each of ``effs`` per method, with bootstrap intervals.

    Values are those of :func:`auc` and :func:`rejection_at` on the full sample; intervals are
    central percentile intervals at ``cl`` (0.68 ≈ ±1σ, or 0.95) of :func:`bootstrap`.

    Args:
        y: labels, 1 = signal.
        scores: ``{method: score}``.
        effs: signal efficiencies in (0, 1); column ``rej<NN>``, NN = round(100·eff).
        weight: per-example weights (may be negative, e.g. sWeights).
        groups: per-example event id: candidates of one event are resampled together.
        kind: ``"factor"``: rejection = 1/ε_b (ATLAS); ``"fraction"``: 1 − ε_b (LHCb ghost
            rejection).
        n_boot: number of resamples.
        seed: resampling seed.
        cl: confidence level of the intervals.
        reference: a method of ``scores``; every other method then gets paired differences
            (method − reference, same resamples) in :attr:`Report.paired`.
    """
    cl = _check_cl(cl)
    if isinstance(scores, Mapping) and reference is not None and reference not in scores:
        raise ValueError(f"reference={reference!r}: not among scores {list(scores)}")
    names = [figure_name(e) for e in np.atleast_1d(np.asarray(effs, dtype=float))]
    if len(set(names)) != len(names):
        raise ValueError(f"effs={list(effs)}: several give the same column name {names}")
    bs = bootstrap(
        y, scores, effs, kind=kind, weight=weight, groups=groups, n_boot=n_boot, seed=seed
    )
    figures = ("auc", *names)

    def columns(value: np.ndarray, samples: np.ndarray, name: str) -> dict[str, np.ndarray]:
        lohi = _interval(samples, cl)
        return {name: value, f"{name}_lo": lohi[:, 0], f"{name}_hi": lohi[:, 1]}

    table: dict[str, np.ndarray] = {}
    paired: dict[str, np.ndarray] = {}
    others = [i for i, m in enumerate(bs.methods) if m != reference]
    ref = bs.methods.index(reference) if reference is not None else None
    for f in figures:
        value, samples = bs._rows(f)
        table |= columns(value, samples, f)
        if ref is not None:
            delta = value[others] - value[ref]
            paired |= columns(delta, samples[others] - samples[ref], f"delta_{f}")
    index = pd.Index(bs.methods, name="method")
    return Report(
        table=pd.DataFrame(table, index=index),
        paired=None
        if ref is None
        else pd.DataFrame(paired, index=pd.Index([bs.methods[i] for i in others], name="method")),
        figures=figures,
        reference=reference,
        cl=cl,
        bootstrap=bs,
        _inputs={
            "y": y,
            "scores": scores,
            "weight": weight,
            "groups": groups,
            "n_boot": n_boot,
            "seed": seed,
        },
    )


# --- working points: chosen on validation, measured on test ---------------------------------

_FIGURES = (
    "efficiency",
    "bkg_efficiency",
    "rejection",
    "bkg_rejection",
    "purity",
    "f1",
    "youden_j",
)


def _split(y, s, w, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``(y, score, weight)`` of one split; messages name ``y_<split>`` etc."""
    y, s, w = _weighted(y, s, w, (f"y_{split}", f"s_{split}", f"weight_{split}"))
    for cls, what in ((1, "signal"), (0, "background")):
        if not w[y == cls].sum() > 0:
            raise ValueError(f"weight_{split}: the total {what} weight must be positive")
    return y, s, w


def _criteria(criteria) -> list[tuple[str, str, float | None]]:
    """``[(label, kind, efficiency or None)]`` from the ``criteria`` argument."""
    if isinstance(criteria, str | Mapping) or (
        isinstance(criteria, tuple) and len(criteria) == 2 and criteria[0] == "efficiency"
    ):
        criteria = (criteria,)
    out: list[tuple[str, str, float | None]] = []
    for c in criteria:
        if isinstance(c, Mapping) and len(c) == 1:
            c = next(iter(c.items()))
        if c in ("youden_j", "f1"):
            out.append((str(c), str(c), None))
            continue
        if (
            isinstance(c, tuple | list)
            and len(c) == 2
            and c[0] == "efficiency"
            and isinstance(c[1], int | float | np.number)
            and 0 < c[1] <= 1
        ):
            e = float(c[1])
            out.append(
                (
                    f"efficiency={e:.2f}" if round(e, 2) == e else f"efficiency={e:g}",
                    "efficiency",
                    e,
                )
            )
            continue
        raise ValueError(
            f"criteria: {c!r} is not ('efficiency', value in (0, 1]), 'youden_j' or 'f1'"
        )
    labels = [c[0] for c in out]
    if not out or len(set(labels)) != len(labels):
        raise ValueError(f"criteria: expected distinct criteria, got {labels}")
    return out


def _figures(sums: np.ndarray, signal_fraction: float | None) -> dict[str, np.ndarray]:
    """Test figures from weighted sums ``[..., S, B, S_pass(K), B_pass(K)]``: each ``(..., K)``."""
    k = (sums.shape[-1] - 2) // 2
    s_tot, b_tot = sums[..., :1], sums[..., 1:2]
    s_pass, b_pass = sums[..., 2 : 2 + k], sums[..., 2 + k :]
    with np.errstate(divide="ignore", invalid="ignore"):
        es = np.where(s_tot > 0, s_pass / s_tot, np.nan)
        eb = np.where(b_tot > 0, b_pass / b_tot, np.nan)
        if signal_fraction is None:  # the sample's own mix: TP / (TP + FP), weighted
            purity = s_pass / (s_pass + b_pass)
        else:
            f = signal_fraction
            purity = f * es / (f * es + (1 - f) * eb)
        purity = np.where(np.isnan(es) | np.isnan(eb), np.nan, purity)
        f1 = np.where(purity + es > 0, 2 * purity * es / (purity + es), 0.0)
        f1 = np.where(np.isnan(es), np.nan, f1)
        rejection = np.where(eb != 0, 1.0 / eb, np.inf)
        rejection = np.where(np.isnan(eb), np.nan, rejection)
    return {
        "efficiency": es,
        "bkg_efficiency": eb,
        "rejection": rejection,
        "bkg_rejection": 1.0 - eb,
        "purity": purity,
        "f1": f1,
        "youden_j": es - eb,
    }


def _validation_cuts(
    y: np.ndarray,
    s: np.ndarray,
    w: np.ndarray,
    crit: list[tuple[str, str, float | None]],
    signal_fraction: float | None,
) -> np.ndarray:
    """One threshold per criterion, chosen on the validation split alone."""
    u = np.unique(s)  # every distinct cut ``s >= t``, ascending

    def above(cls: int) -> np.ndarray:
        sc, wc = s[y == cls], w[y == cls]
        order = np.argsort(sc, kind="stable")
        cw = np.r_[0.0, np.cumsum(wc[order])]
        return cw[-1] - cw[np.searchsorted(sc[order], u, side="left")]

    sums = np.concatenate([[w[y == 1].sum(), w[y == 0].sum()], above(1), above(0)])
    fig = _figures(sums, signal_fraction)
    out = []
    for _, kind, e in crit:
        if e is not None:  # ("efficiency", e)
            out.append(rejection_at(y, s, e, w).threshold)  # tightest cut keeping ≥ e
        else:
            v = np.nan_to_num(fig[kind], nan=-np.inf)
            out.append(float(u[int(np.argmax(v))]))  # first maximum: the loosest, as idxmax
    return np.asarray(out, dtype=float)


def working_points(
    y_val,
    s_val,
    y_test,
    s_test,
    *,
    criteria: Sequence = (("efficiency", 0.9), "youden_j", "f1"),
    weight_val=None,
    weight_test=None,
    signal_fraction: float | None = None,
    groups_test=None,
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
) -> pd.DataFrame:
    """Working points chosen on the validation split, then measured on the test split.

    Each criterion picks one threshold (a cut ``score >= threshold``) from the validation
    scores alone: ``("efficiency", e)`` the tightest cut keeping at least ``e`` of the
    validation signal (as :func:`rejection_at`), ``"youden_j"`` the maximum of ε_s − ε_b,
    ``"f1"`` the maximum F1 at the ``signal_fraction`` mix. The threshold is then fixed and
    applied to the test split, which selects nothing: its figures carry the honest
    uncertainty of a fixed cut, from bootstrap resamples of the test split (events resampled
    whole with ``groups_test``, weights carried, as :func:`bootstrap`).

    Purity and F1 depend on the class mix. At a prior signal fraction f,
    purity = f·ε_s / (f·ε_s + (1 − f)·ε_b), and F1 = 2·purity·ε_s / (purity + ε_s): pass the
    physical mix (e.g. the ghost fraction, the real electron/muon ratio) when the sample was
    balanced for training. None uses each split's own weighted mix (the validation mix for the
    F1 choice, the test mix for the test figures), i.e. purity = TP / (TP + FP).

    Args:
        y_val, s_val: validation labels (1 = signal) and scores, ``(n_val,)``.
        y_test, s_test: test labels and scores, ``(n_test,)``.
        criteria: sequence of ``("efficiency", e)``, ``"youden_j"``, ``"f1"``.
        weight_val, weight_test: per-example weights (may be negative), or None.
        signal_fraction: prior signal fraction in (0, 1) for purity and F1, or None.
        groups_test: per-example event id of the test split, resampled whole.
        n_boot: number of test resamples.
        seed: resampling seed.
        cl: confidence level of the ``_lo``/``_hi`` intervals (central percentiles).

    Returns:
        DataFrame indexed by ``criterion`` (``"efficiency=0.90"``, ``"youden_j"``, ``"f1"``)
        with ``threshold``; on test ``efficiency``, ``bkg_efficiency``, ``rejection`` (1/ε_b),
        ``bkg_rejection`` (1 − ε_b), ``purity``, ``f1``, ``youden_j``, each followed by
        ``<name>_lo`` and ``<name>_hi``; and ``val_efficiency``, ``val_bkg_efficiency`` (what
        validation said at the same cut). ``attrs`` hold ``signal_fraction``, ``cl``, ``n_boot``.
    """
    cl = _check_cl(cl)
    if signal_fraction is not None and not (
        isinstance(signal_fraction, int | float | np.number) and 0 < signal_fraction < 1
    ):
        raise ValueError(
            f"signal_fraction={signal_fraction!r}: expected a fraction in (0, 1) or None"
        )
    _check_options((0.5,), "factor", n_boot)
    f = None if signal_fraction is None else float(signal_fraction)
    crit = _criteria(criteria)
    yv, sv, wv = _split(y_val, s_val, weight_val, "val")
    yt, st, wt = _split(y_test, s_test, weight_test, "test")
    if groups_test is None:
        unit, n_units = np.arange(len(yt)), len(yt)
    else:
        g = np.asarray(groups_test).reshape(-1)
        if len(g) != len(yt):
            raise ValueError(f"groups_test has {len(g)} entries but y_test has {len(yt)}")
        _, unit = np.unique(g, return_inverse=True)
        unit = unit.reshape(-1)
        n_units = int(unit.max()) + 1

    thr = _validation_cuts(yv, sv, wv, crit, f)
    val = _figures(_pass_sums(yv, sv, wv, thr), f)

    # per-unit weighted sums [S, B, S_pass(K), B_pass(K)], then resamples as matrix products
    per_example = _pass_columns(yt, st, wt, thr)
    per_unit = np.stack(
        [np.bincount(unit, weights=c, minlength=n_units) for c in per_example.T], axis=1
    )
    full = _figures(per_unit.sum(axis=0), f)
    rng = np.random.default_rng(seed)
    sums = np.empty((n_boot, per_unit.shape[1]))
    chunk = max(1, _CHUNK_ELEMENTS // n_units)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        m = _multiplicities(rng, n_units, stop - start)
        sums[start:stop] = m.astype(np.float64) @ per_unit
    boot = _figures(sums, f)  # each (n_boot, K)

    table: dict[str, np.ndarray] = {"threshold": thr}
    for name in _FIGURES:
        lohi = _interval(boot[name].T, cl)
        table |= {name: full[name], f"{name}_lo": lohi[:, 0], f"{name}_hi": lohi[:, 1]}
    table |= {"val_efficiency": val["efficiency"], "val_bkg_efficiency": val["bkg_efficiency"]}
    out = pd.DataFrame(table, index=pd.Index([c[0] for c in crit], name="criterion"))
    out.attrs.update(signal_fraction=f, cl=cl, n_boot=n_boot)
    return out


def _pass_columns(y: np.ndarray, s: np.ndarray, w: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """``(n, 2 + 2K)`` per-example weights ``[w·sig, w·bkg, w·sig·pass_k, w·bkg·pass_k]``."""
    ws, wb = w * (y == 1), w * (y == 0)
    passed = s[:, None] >= thr[None, :]
    return np.column_stack([ws, wb, ws[:, None] * passed, wb[:, None] * passed])


def _pass_sums(y: np.ndarray, s: np.ndarray, w: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """``(2 + 2K,)`` weighted sums of :func:`_pass_columns`."""
    return _pass_columns(y, s, w, thr).sum(axis=0)


@dataclass(frozen=True, eq=False)
class Accuracy:
    """Accuracy of several classifiers of the same events, with bootstrap intervals.

    Attributes:
        methods: method names, in the order given.
        value: ``(n_methods,)`` (weighted) accuracy on the full sample.
        samples: ``(n_methods, n_boot)`` accuracy on each resample (the same resamples for
            every method, so differences are paired).
        cl: confidence level of :meth:`interval` and :attr:`table`.
        reference: the method differences are quoted against, or None.
    """

    methods: tuple[str, ...]
    value: np.ndarray
    samples: np.ndarray
    cl: float = 0.68
    reference: str | None = None

    def interval(
        self, method: str, *, reference: str | None = None, cl: float | None = None
    ) -> tuple[float, float]:
        """Central interval of ``method``'s accuracy, or of its paired difference from
        ``reference`` (method − reference on the same resamples)."""
        for m in (method, reference):
            if m is not None and m not in self.methods:
                raise ValueError(f"method={m!r}: not among {list(self.methods)}")
        ratios = Ratios(self.methods, self.value, self.samples, self.cl)
        return ratios.interval(method, reference=reference, cl=cl)

    @property
    def table(self) -> pd.DataFrame:
        """One row per method: ``accuracy``, ``lo``, ``hi`` and, with a reference, the paired
        difference ``delta`` with ``delta_lo``, ``delta_hi``."""
        rows = []
        ref = None if self.reference is None else self.value[self.methods.index(self.reference)]
        for i, m in enumerate(self.methods):
            lo, hi = self.interval(m)
            row = {"method": m, "accuracy": self.value[i], "lo": lo, "hi": hi}
            if ref is not None:
                dlo, dhi = self.interval(m, reference=self.reference)
                row |= {"delta": self.value[i] - ref, "delta_lo": dlo, "delta_hi": dhi}
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def display(self) -> pd.DataFrame:
        """The table as text ``value [lo, hi]`` (percent), for a notebook."""
        t = self.table * 100
        out = pd.DataFrame(index=t.index)
        out[f"accuracy (%), {self.cl:.0%} CL"] = [
            _format(v, lo, hi) for v, lo, hi in t[["accuracy", "lo", "hi"]].to_numpy()
        ]
        if "delta" in t:
            out[f"− {self.reference} (%)"] = [
                _format(v, lo, hi) for v, lo, hi in t[["delta", "delta_lo", "delta_hi"]].to_numpy()
            ]
        return out

    def record(self, out_dir, key: str) -> dict[str, float]:
        """Record ``key`` → method → accuracy and ``key_ci`` → method → [low, high]."""
        return runs.record_with_interval(
            out_dir,
            key,
            dict(zip(self.methods, self.value.tolist(), strict=True)),
            {m: self.interval(m) for m in self.methods},
        )


def accuracy(
    y,
    predictions: Mapping[str, Any],
    *,
    weight=None,
    reference: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
) -> Accuracy:
    """Accuracy of each method's predicted class with bootstrap intervals (events resampled
    with replacement, every method on the same resamples).

    Args:
        y: true classes ``(N,)``.
        predictions: ``{method: predicted classes (N,)}``.
        weight: per-event weights ``(N,)`` (e.g. reweighting the class mix to a Poisson
            beam), or None.
        reference: the method the others are compared with (paired differences).
        n_boot: number of resamples.
        seed: seed of the resampling.
        cl: confidence level of the intervals.
    """
    y = np.asarray(y)
    if y.ndim != 1 or not len(y):
        raise ValueError(f"y: expected a non-empty 1-D array of classes, got shape {y.shape}")
    if not predictions:
        raise ValueError("predictions: expected at least one method")
    correct = []
    for name, p in predictions.items():
        p = np.asarray(p)
        if p.shape != y.shape:
            raise ValueError(f"predictions[{name!r}]: shape {p.shape}, expected {y.shape}")
        correct.append(p == y)
    if reference is not None and reference not in predictions:
        raise ValueError(f"reference={reference!r}: not among {list(predictions)}")
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    if w.shape != y.shape or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weight: expected finite non-negative weights like y, not all zero")
    if n_boot < 2:
        raise ValueError(f"n_boot={n_boot}: expected >= 2")
    c = np.asarray(correct, np.float64) * w  # (n_methods, N)
    # accuracy = Σ w·correct / Σ w: a ratio of sums over events, every method paired
    r = event_ratios(
        {name: (ci, w) for name, ci in zip(predictions, c, strict=True)},
        n_boot=n_boot,
        seed=seed,
        cl=cl,
    )
    return Accuracy(tuple(predictions), r.value, r.samples, r.cl, reference)


# --- track finding: matching, rates and the event bootstrap ---------------------------------


@dataclass(frozen=True, eq=False)
class Ratios:
    """Ratios of sums over events, on the full sample and on the same event resamples.

    Each figure is Σ numerator / Σ denominator over events (efficiency = found particles /
    particles, fake rate = fakes / tracks...). Every figure was resampled with the same events
    (see :func:`event_ratios`), so the difference of two figures is paired.

    Attributes:
        names: figure names, in the order given.
        value: ``(n_figures,)`` ratio of sums on the full sample (NaN where Σ denominator = 0).
        samples: ``(n_figures, n_boot)`` the ratio on each resample (NaN where a resample's
            denominator is 0; such resamples are left out of the intervals).
        cl: default confidence level of :meth:`interval` and :attr:`table`.
        numerator: ``(n_figures,)`` Σ numerator on the full sample, or None.
        denominator: ``(n_figures,)`` Σ denominator on the full sample, or None.
    """

    names: tuple[str, ...]
    value: np.ndarray
    samples: np.ndarray
    cl: float = 0.68
    numerator: np.ndarray | None = None
    denominator: np.ndarray | None = None

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"{name!r}: not among the figures {list(self.names)}")
        return self.names.index(name)

    def interval(
        self, name: str, *, reference: str | None = None, cl: float | None = None
    ) -> tuple[float, float]:
        """Central percentile interval of figure ``name``, or of the paired difference
        ``name − reference`` (both on the same resamples) when ``reference`` is given."""
        s = self.samples[self._index(name)]
        if reference is not None:
            s = s - self.samples[self._index(reference)]
        lo, hi = _interval(s, _check_cl(self.cl if cl is None else cl))
        return float(lo), float(hi)

    @property
    def table(self) -> pd.DataFrame:
        """One row per figure: ``value``, ``lo``, ``hi`` (at :attr:`cl`)."""
        lohi = _interval(self.samples, _check_cl(self.cl)).reshape(len(self.names), 2)
        return pd.DataFrame(
            {"value": self.value, "lo": lohi[:, 0], "hi": lohi[:, 1]},
            index=pd.Index(self.names, name="figure"),
        )

    def display(self, scale: float = 100.0, unit: str = "%") -> pd.DataFrame:
        """The table as text ``value [lo, hi]`` (× ``scale``, percent by default), for a
        notebook."""
        t = self.table * scale
        col = f"value ({unit}), {self.cl:.0%} CL" if unit else f"value, {self.cl:.0%} CL"
        return pd.DataFrame(
            {col: [_format(*r) for r in t[["value", "lo", "hi"]].to_numpy()]}, index=t.index
        )

    def record(
        self, out_dir, key: str, names: Sequence[str] | Mapping[str, str] | None = None
    ) -> dict[str, float]:
        """Record ``key`` → label → value and ``key_ci`` → label → ``[low, high]`` in
        ``<out_dir>/metrics.json`` (:func:`hepnb.runs.record_with_interval`).

        Args:
            out_dir: the run folder.
            key: the metrics key.
            names: the figures to write (all when None), or a mapping figure → label under
                which to write it (e.g. ``{"efficiency/gnn": "gnn"}``).

        At a confidence level other than 68% the interval key says so (``key_ci95``), as
        :meth:`Report.record` does.

        Returns:
            label → value, as written.
        """
        labels = (
            dict(names)
            if isinstance(names, Mapping)
            else {n: n for n in (self.names if names is None else names)}
        )
        for n in labels:
            self._index(n)
        values = {str(lab): float(self.value[self._index(n)]) for n, lab in labels.items()}
        ci = {str(lab): self.interval(n) for n, lab in labels.items()}
        if np.isclose(self.cl, 0.68):
            return runs.record_with_interval(out_dir, key, values, ci)
        runs.record(out_dir, f"{key}_ci{round(100 * self.cl)}", {k: list(v) for k, v in ci.items()})
        return runs.record(out_dir, key, values)


def event_ratios(
    figures: Mapping[str, tuple[Any, Any]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
) -> Ratios:
    """Ratios of sums over events with bootstrap intervals, every figure on the same resamples.

    A resample draws N events uniformly with replacement (exact multinomial multiplicities,
    as :func:`bootstrap`); each figure is then Σ_events m·numerator / Σ_events m·denominator.
    Resampling whole events keeps the correlations inside an event (tracks sharing hits, a
    busy event with both misses and fakes), and using the same resamples for every figure
    makes differences between methods paired (:meth:`Ratios.interval` ``reference=``).

    Args:
        figures: ``{name: (numerator, denominator)}``, each a ``(N,)`` array of per-event
            counts (or weights) over the same N events, e.g. from :func:`tracking_counts`.
        n_boot: number of resamples (≥ 2).
        seed: resampling seed (same seed, same resamples).
        cl: default confidence level of the intervals.

    Raises:
        ValueError: no figures, a figure that is not a pair of 1-D arrays of one common length
            N ≥ 1, non-finite entries, or a bad ``n_boot``/``cl``.
    """
    cl = _check_cl(cl)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 2:
        raise ValueError(f"n_boot={n_boot!r}: expected an integer number of resamples ≥ 2")
    if not isinstance(figures, Mapping) or not figures:
        raise ValueError("figures: expected a non-empty mapping name → (numerator, denominator)")
    num: list[np.ndarray] = []
    den: list[np.ndarray] = []
    n_events: int | None = None
    for name, pair in figures.items():
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"figures[{name!r}]: expected a (numerator, denominator) pair")
        for what, a in zip(("numerator", "denominator"), pair, strict=True):
            arr = np.asarray(a, dtype=np.float64)
            if arr.ndim != 1 or not len(arr):
                raise ValueError(
                    f"figures[{name!r}] {what}: expected a non-empty 1-D per-event array, "
                    f"got shape {arr.shape}"
                )
            if n_events is None:
                n_events = len(arr)
            if len(arr) != n_events:
                raise ValueError(
                    f"figures[{name!r}] {what}: {len(arr)} events, the first figure has {n_events}"
                )
            if not np.isfinite(arr).all():
                raise ValueError(f"figures[{name!r}] {what}: holds NaN/inf")
            (num if what == "numerator" else den).append(arr)
    assert n_events is not None
    a, b = np.stack(num), np.stack(den)  # (n_figures, N)
    tot_a, tot_b = a.sum(1), b.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(tot_b != 0, tot_a / np.where(tot_b != 0, tot_b, 1), np.nan)
    samples = np.empty((len(a), n_boot))
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // n_events)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        m = _multiplicities(rng, n_events, stop - start).astype(np.float64)  # (c, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            samples[:, start:stop] = (a @ m.T) / np.stack([m @ d for d in b])
    return Ratios(tuple(figures), value, samples, cl, tot_a, tot_b)


@dataclass(frozen=True, eq=False)
class TrackMatch:
    """Found tracks matched to particles by the double majority rule (see :func:`match_tracks`).

    T tracks, P particles. Every track is in exactly one of the categories ``matched``,
    ``duplicate``, ``split`` and ``fake``.

    Attributes:
        majority: ``(T,)`` the track's majority particle (row of the particle table), −1 if
            none.
        matched: ``(T,)`` the track is THE match of its majority particle.
        fake: ``(T,)`` the track has no majority particle.
        duplicate: ``(T,)`` another track is the match of its majority particle.
        split: ``(T,)`` it has a majority particle, but no track matches that particle.
        particle_track: ``(P,)`` the track matching each particle, −1 if none.
        purity: ``(T,)`` fraction of the track's hits from its majority particle (0 for fakes).
        common: ``(T,)`` hits of the majority particle on the track (0 for fakes).
        particle_hits: ``(P,)`` hits of each particle in its event, found or not.
    """

    majority: np.ndarray
    matched: np.ndarray
    fake: np.ndarray
    duplicate: np.ndarray
    split: np.ndarray
    particle_track: np.ndarray
    purity: np.ndarray
    common: np.ndarray
    particle_hits: np.ndarray

    @property
    def n_tracks(self) -> int:
        """Number of tracks T."""
        return len(self.majority)

    @property
    def n_particles(self) -> int:
        """Number of particles P."""
        return len(self.particle_track)

    @property
    def found(self) -> np.ndarray:
        """``(P,)`` bool: the particle is matched by a track (for efficiency vs p_T, η with
        :func:`binned_rate`)."""
        return self.particle_track >= 0

    def summary(self) -> dict[str, int]:
        """Totals: ``tracks``, ``matched``, ``duplicate``, ``split``, ``fake``, ``found``."""
        return {
            "tracks": self.n_tracks,
            "matched": int(self.matched.sum()),
            "duplicate": int(self.duplicate.sum()),
            "split": int(self.split.sum()),
            "fake": int(self.fake.sum()),
            "found": int(self.found.sum()),
        }


def _int_array(a, name: str, ndim: int = 1) -> np.ndarray:
    """``a`` as an int64 array of ``ndim`` dimensions, or a ValueError naming ``name``."""
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if arr.size and not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.array_equal(arr, np.round(arr)))
    ):
        raise ValueError(f"{name}: expected integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def check_csr(offsets, entries, name: str, entries_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated int64 ``(offsets, entries)`` of compressed rows (CSR: row ``i`` is
    ``entries[offsets[i]:offsets[i + 1]]``); errors name ``name`` and ``entries_name``."""
    off = _int_array(offsets, name)
    idx = _int_array(entries, entries_name)
    if not len(off) or off[0] != 0 or off[-1] != len(idx) or (np.diff(off) < 0).any():
        raise ValueError(
            f"{name}: expected CSR offsets (start at 0, non-decreasing, end at "
            f"len({entries_name}) = {len(idx)}), got {off[:3].tolist()}…{off[-2:].tolist()}"
        )
    return off, idx


def match_tracks(track_offsets, track_hits, hit_particle, n_particles: int) -> TrackMatch:
    """Match found tracks to particles by the double majority rule.

    Definitions (those of the TrackML challenge, S. Amrouche et al., arXiv:1904.06778):

    * A track's *majority particle* is the particle owning more than half of the track's hits;
      noise hits count in the track's length and belong to no particle.
    * The track is *matched* to it when it also holds more than half of that particle's hits
      (all its hits in the event, including those no track found).
    * A *fake* track has no majority particle (an empty track too).
    * Among the tracks sharing a majority particle, when at least one is matched, the best one
      (most of the particle's hits; ties: the lowest track index) is THE match and every other
      track with that majority particle is a *duplicate*.
    * Tracks whose majority particle is matched by none (a 6-hit particle found as two tracks
      of 3 hits) are *split*: neither matched, fake nor duplicate, and the particle is missed.

    Efficiency = matched reconstructable particles / reconstructable particles, fake rate =
    fakes / tracks, duplicate rate = duplicates / tracks (:func:`tracking_counts`).

    Vectorised: one ``np.unique`` over the (track, particle) pairs of all hits on tracks.

    Args:
        track_offsets: ``(T + 1,)`` CSR offsets of the tracks into ``track_hits``.
        track_hits: ``(n_entries,)`` hit indices (rows of ``hit_particle``) of all tracks.
        hit_particle: ``(H,)`` particle row of each hit (``Hits.particle_index()``), −1 for
            noise.
        n_particles: P, the number of particles (rows of the particle table).

    Raises:
        ValueError: offsets that are not CSR, hit indices outside ``hit_particle``, a hit
            listed twice on one track, particle rows outside −1 … P − 1.
    """
    if isinstance(n_particles, bool) or not isinstance(n_particles, int | np.integer):
        raise ValueError(f"n_particles={n_particles!r}: expected an integer ≥ 0")
    n_p = int(n_particles)
    if n_p < 0:
        raise ValueError(f"n_particles={n_p}: expected an integer ≥ 0")
    off, hits = check_csr(track_offsets, track_hits, "track_offsets", "track_hits")
    hp = _int_array(hit_particle, "hit_particle")
    n_h = len(hp)
    if len(hits) and (hits.min() < 0 or hits.max() >= n_h):
        bad = hits[(hits < 0) | (hits >= n_h)]
        raise ValueError(
            f"track_hits: hit indices {bad[:5].tolist()} outside 0 … {n_h - 1} (the rows of "
            "hit_particle)"
        )
    if len(hp) and (hp.min() < -1 or hp.max() >= n_p):
        bad = hp[(hp < -1) | (hp >= n_p)]
        raise ValueError(
            f"hit_particle: particle rows {bad[:5].tolist()} outside −1 (noise) … {n_p - 1} "
            f"(n_particles = {n_p})"
        )
    n_t = len(off) - 1
    length = np.diff(off)
    track = np.repeat(np.arange(n_t, dtype=np.int64), length)
    key = np.sort(track * max(n_h, 1) + hits)
    twice = key[1:][key[1:] == key[:-1]]
    if len(twice):
        raise ValueError(
            f"track_hits: track {int(twice[0] // max(n_h, 1))} lists hit "
            f"{int(twice[0] % max(n_h, 1))} twice"
        )

    particle_hits = np.bincount(hp[hp >= 0], minlength=n_p)
    p = hp[hits]
    on = p >= 0
    width = max(n_p, 1)
    pairs, count = np.unique(track[on] * width + p[on], return_counts=True)
    pair_track, pair_particle = pairs // width, pairs % width
    major = 2 * count > length[pair_track]  # at most one particle per track
    majority = np.full(n_t, -1, np.int64)
    common = np.zeros(n_t, np.int64)
    majority[pair_track[major]] = pair_particle[major]
    common[pair_track[major]] = count[major]

    # the best track of each majority particle: most common hits, then the lowest index
    cand = np.flatnonzero(majority >= 0)
    cand = cand[np.lexsort((cand, -common[cand], majority[cand]))]
    first = np.r_[True, majority[cand][1:] != majority[cand][:-1]] if len(cand) else cand > 0
    best = cand[first]
    best = best[2 * common[best] > particle_hits[majority[best]]]
    matched = np.zeros(n_t, bool)
    matched[best] = True
    particle_track = np.full(n_p, -1, np.int64)
    particle_track[majority[best]] = best

    fake = majority < 0
    particle_found = np.zeros(n_t, bool)
    particle_found[~fake] = particle_track[majority[~fake]] >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        purity = np.where(length > 0, common / np.maximum(length, 1), 0.0)
    return TrackMatch(
        majority=majority,
        matched=matched,
        fake=fake,
        duplicate=particle_found & ~matched,
        split=~fake & ~particle_found,
        particle_track=particle_track,
        purity=purity,
        common=common,
        particle_hits=particle_hits,
    )


def _event_array(a, name: str, n: int, n_events: int) -> np.ndarray:
    """Validated ``(n,)`` event indices in 0 … n_events − 1."""
    e = _int_array(a, name)
    if len(e) != n:
        raise ValueError(f"{name}: {len(e)} entries, expected {n}")
    if len(e) and (e.min() < 0 or e.max() >= n_events):
        bad = e[(e < 0) | (e >= n_events)]
        hint = (
            " (−1 is what Tracks.event gives an empty track: drop those first)"
            if (bad < 0).any()
            else ""
        )
        raise ValueError(f"{name}: events {bad[:5].tolist()} outside 0 … {n_events - 1}{hint}")
    return e


def _check_n_events(n_events) -> int:
    if isinstance(n_events, bool) or not isinstance(n_events, int | np.integer) or n_events < 1:
        raise ValueError(f"n_events={n_events!r}: expected an integer ≥ 1")
    return int(n_events)


def tracking_counts(
    match: TrackMatch, track_event, particle_event, reconstructable, n_events: int
) -> dict[str, np.ndarray]:
    """Per-event counts behind the efficiency, fake and duplicate rates.

    Args:
        match: the :func:`match_tracks` result of T tracks and P particles.
        track_event: ``(T,)`` event of each track (``Tracks.event``; drop empty tracks).
        particle_event: ``(P,)`` event of each particle.
        reconstructable: ``(P,)`` bool, the particles the efficiency counts (e.g. ≥ 3 hits on
            different stations, p_T above a cut).
        n_events: number of events (events without tracks or particles count).

    Returns:
        ``(n_events,)`` int64 arrays: ``particles`` (reconstructable), ``found``
        (reconstructable and matched), ``tracks``, ``fakes``, ``duplicates``. Efficiency =
        Σ found / Σ particles, fake rate = Σ fakes / Σ tracks, duplicate rate = Σ duplicates /
        Σ tracks.

    Raises:
        ValueError: arrays of the wrong length, events outside 0 … n_events − 1, a track
            whose majority particle lies in another event (mixed-up indices).
    """
    n = _check_n_events(n_events)
    te = _event_array(track_event, "track_event", match.n_tracks, n)
    pe = _event_array(particle_event, "particle_event", match.n_particles, n)
    rec = np.asarray(reconstructable)
    if rec.shape != (match.n_particles,) or not np.isin(rec, (0, 1)).all():
        raise ValueError(
            f"reconstructable: expected ({match.n_particles},) bool, got shape {rec.shape} "
            f"dtype {rec.dtype}"
        )
    rec = rec.astype(bool)
    has = match.majority >= 0
    wrong = np.flatnonzero(has)[pe[match.majority[has]] != te[has]]
    if len(wrong):
        t = int(wrong[0])
        raise ValueError(
            f"track_event: track {t} lies in event {te[t]} but its majority particle "
            f"{match.majority[t]} in event {pe[match.majority[t]]} (particle_event); "
            f"{len(wrong)} such track(s)"
        )
    return {
        "particles": np.bincount(pe[rec], minlength=n),
        "found": np.bincount(pe[rec & match.found], minlength=n),
        "tracks": np.bincount(te, minlength=n),
        "fakes": np.bincount(te[match.fake], minlength=n),
        "duplicates": np.bincount(te[match.duplicate], minlength=n),
    }


#: figure → (numerator, denominator) of :func:`tracking_counts`, and its metrics key.
_TRACKING_FIGURES = {
    "efficiency": ("found", "particles", "track_efficiency"),
    "fake_rate": ("fakes", "tracks", "fake_rate"),
    "duplicate_rate": ("duplicates", "tracks", "duplicate_rate"),
}
_TRACKING_LABELS = {
    "efficiency": "efficiency",
    "fake_rate": "fake rate",
    "duplicate_rate": "duplicate rate",
}
#: +1: higher is better; −1: lower is better.
_TRACKING_BETTER = {"efficiency": 1, "fake_rate": -1, "duplicate_rate": -1}


@dataclass(frozen=True, eq=False)
class TrackingReport:
    """Track efficiency, fake rate and duplicate rate of several methods on the same events,
    with paired event-bootstrap intervals (see :func:`tracking_report`).

    Attributes:
        methods: method names, in the order given.
        ratios: the figures ``"efficiency/<method>"``, ``"fake_rate/<method>"``,
            ``"duplicate_rate/<method>"`` on the same resamples.
        counts: method → the per-event counts of :func:`tracking_counts`.
    """

    methods: tuple[str, ...]
    ratios: Ratios
    counts: dict[str, dict[str, np.ndarray]]

    figures = tuple(_TRACKING_FIGURES)

    def _name(self, figure: str, method: str) -> str:
        if figure not in _TRACKING_FIGURES:
            raise ValueError(f"figure={figure!r}: expected one of {list(_TRACKING_FIGURES)}")
        if method not in self.methods:
            raise ValueError(f"method={method!r}: not among {list(self.methods)}")
        return f"{figure}/{method}"

    def value(self, figure: str, method: str) -> float:
        """``figure`` (``"efficiency"``, ``"fake_rate"``, ``"duplicate_rate"``) of ``method``
        on the full sample (a fraction)."""
        return float(self.ratios.value[self.ratios.names.index(self._name(figure, method))])

    def interval(
        self, figure: str, method: str, reference: str | None = None, *, cl: float | None = None
    ) -> tuple[float, float]:
        """Interval of ``figure`` for ``method``, or of the paired difference method −
        ``reference`` (same event resamples)."""
        ref = None if reference is None else self._name(figure, reference)
        return self.ratios.interval(self._name(figure, method), reference=ref, cl=cl)

    def ahead(self, figure: str, method: str, reference: str, *, cl: float | None = None) -> bool:
        """Whether ``method`` is ahead of ``reference`` on ``figure``: the paired interval of
        the difference excludes zero on the better side (higher efficiency, lower rates)."""
        lo, hi = self.interval(figure, method, reference, cl=cl)
        return lo > 0 if _TRACKING_BETTER[figure] > 0 else hi < 0

    @property
    def table(self) -> pd.DataFrame:
        """One row per method: ``<figure>``, ``<figure>_lo``, ``<figure>_hi`` (fractions)."""
        rows = []
        for m in self.methods:
            row: dict[str, float] = {}
            for f in self.figures:
                lo, hi = self.interval(f, m)
                row |= {f: self.value(f, m), f"{f}_lo": lo, f"{f}_hi": hi}
            rows.append(row)
        return pd.DataFrame(rows, index=pd.Index(self.methods, name="method"))

    def display(self, reference: str | None = None) -> pd.DataFrame:
        """The table as text ``value [lo, hi]`` in percent; with ``reference`` also the paired
        differences ``Δ <figure>`` (method − reference, percentage points)."""
        if reference is not None:
            self._name("efficiency", reference)
        t = self.table * 100
        out = pd.DataFrame(index=t.index)
        cl = f"{self.ratios.cl:.0%} CL"
        for f in self.figures:
            out[f"{_TRACKING_LABELS[f]} (%), {cl}"] = [
                _format(*r) for r in t[[f, f"{f}_lo", f"{f}_hi"]].to_numpy()
            ]
        if reference is not None:
            for f in self.figures:
                text = []
                for m in self.methods:
                    if m == reference:
                        text.append("reference")
                        continue
                    lo, hi = self.interval(f, m, reference)
                    d = self.value(f, m) - self.value(f, reference)
                    text.append(_format(100 * d, 100 * lo, 100 * hi))
                out[f"Δ {_TRACKING_LABELS[f]} (%)"] = text
        return out

    def record(self, out_dir, prefix: str) -> dict[str, dict[str, float]]:
        """Record ``<prefix>_track_efficiency``, ``<prefix>_fake_rate`` and
        ``<prefix>_duplicate_rate`` (method → fraction) with their ``_ci`` keys (method →
        ``[low, high]``) in ``<out_dir>/metrics.json``.

        Returns:
            key → method → value, as written.
        """
        written = {}
        for f, (_, _, key) in _TRACKING_FIGURES.items():
            names = {self._name(f, m): m for m in self.methods}
            written[f"{prefix}_{key}"] = self.ratios.record(out_dir, f"{prefix}_{key}", names)
        return written


def tracking_report(
    matches: Mapping[str, TrackMatch],
    track_events: Mapping[str, Any],
    particle_event,
    reconstructable,
    n_events: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
) -> TrackingReport:
    """Efficiency, fake rate and duplicate rate of several track finders on the same events,
    with event-bootstrap intervals paired between methods (:func:`event_ratios`).

    Args:
        matches: method → :func:`match_tracks` of its tracks (all on the same particles).
        track_events: method → ``(T_method,)`` event of each of its tracks.
        particle_event: ``(P,)`` event of each particle.
        reconstructable: ``(P,)`` bool, the particles the efficiency counts.
        n_events: number of events.
        n_boot: number of event resamples.
        seed: resampling seed.
        cl: confidence level of the intervals.

    Raises:
        ValueError: no methods, ``track_events`` not keyed like ``matches``, matches of a
            different number of particles, or what :func:`tracking_counts` refuses.
    """
    if not isinstance(matches, Mapping) or not matches:
        raise ValueError("matches: expected a non-empty mapping method → TrackMatch")
    if not isinstance(track_events, Mapping) or set(track_events) != set(matches):
        got = list(track_events) if isinstance(track_events, Mapping) else track_events
        raise ValueError(f"track_events: expected the methods {list(matches)}, got {got}")
    counts: dict[str, dict[str, np.ndarray]] = {}
    figures: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for m, match in matches.items():
        if not isinstance(match, TrackMatch):
            raise ValueError(f"matches[{m!r}]: expected a TrackMatch, got {type(match).__name__}")
        try:
            counts[m] = tracking_counts(
                match, track_events[m], particle_event, reconstructable, n_events
            )
        except ValueError as err:
            raise ValueError(f"method {m!r}: {err}") from None
        for f, (num, den, _) in _TRACKING_FIGURES.items():
            figures[f"{f}/{m}"] = (counts[m][num], counts[m][den])
    ratios = event_ratios(figures, n_boot=n_boot, seed=seed, cl=cl)
    return TrackingReport(tuple(matches), ratios, counts)


def _binary(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or not np.isin(arr, (0, 1)).all():
        raise ValueError(
            f"{name}: expected a 1-D bool (or 0/1) array, got shape {arr.shape} dtype "
            f"{arr.dtype} (threshold scores first)"
        )
    return arr.astype(bool)


def edge_rates(y_true, kept, n_true_total: int | None = None) -> dict[str, float]:
    """Edge (segment) efficiency and purity of a graph or of an edge classifier.

    Efficiency = true edges kept / all true segments, purity = true edges kept / edges kept
    (the definitions of graph-based tracking, e.g. X. Ju et al., Exa.TrkX,
    arXiv:2103.06995). For the graph construction itself, ``kept`` is all ones and
    ``n_true_total`` the number of true segments (consecutive hits of a particle) the graph
    should contain, some of which it may have lost.

    Args:
        y_true: ``(E,)`` bool, the edge joins consecutive hits of one particle.
        kept: ``(E,)`` bool, the edge is kept (classifier above its cut, or in the graph).
        n_true_total: all true segments, ≥ Σ y_true; None = Σ y_true.

    Returns:
        ``efficiency``, ``purity`` (NaN when nothing is kept / no true segment),
        ``n_true``, ``n_kept``, ``n_true_kept``.
    """
    yt, k = _binary(y_true, "y_true"), _binary(kept, "kept")
    if len(yt) != len(k):
        raise ValueError(f"kept has {len(k)} entries but y_true has {len(yt)}")
    n_true = int(yt.sum()) if n_true_total is None else int(n_true_total)
    if n_true < yt.sum():
        raise ValueError(
            f"n_true_total={n_true_total}: fewer than the {int(yt.sum())} true edges of y_true"
        )
    n_kept, n_tk = int(k.sum()), int((yt & k).sum())
    return {
        "efficiency": n_tk / n_true if n_true else float("nan"),
        "purity": n_tk / n_kept if n_kept else float("nan"),
        "n_true": n_true,
        "n_kept": n_kept,
        "n_true_kept": n_tk,
    }


def edge_counts(
    y_true, kept, edge_event, n_events: int, n_true_total=None
) -> dict[str, np.ndarray]:
    """Per-event edge counts for the event bootstrap of :func:`edge_rates`.

    ``event_ratios({"edge_efficiency": (c["true_kept"], c["true"]), "edge_purity":
    (c["true_kept"], c["kept"])})`` gives both rates with paired intervals.

    Args:
        y_true: ``(E,)`` bool, true edges.
        kept: ``(E,)`` bool, kept edges.
        edge_event: ``(E,)`` event of each edge.
        n_events: number of events.
        n_true_total: ``(n_events,)`` true segments per event (≥ the true edges there), or
            None to count the true edges.

    Returns:
        ``(n_events,)`` int64 arrays ``true``, ``kept``, ``true_kept``.
    """
    n = _check_n_events(n_events)
    yt, k = _binary(y_true, "y_true"), _binary(kept, "kept")
    if len(yt) != len(k):
        raise ValueError(f"kept has {len(k)} entries but y_true has {len(yt)}")
    ev = _event_array(edge_event, "edge_event", len(yt), n)
    true = np.bincount(ev[yt], minlength=n)
    if n_true_total is not None:
        total = _int_array(n_true_total, "n_true_total")
        if total.shape != (n,) or (total < true).any():
            raise ValueError(
                f"n_true_total: expected ({n},) per-event counts ≥ the true edges of each "
                f"event, got shape {total.shape}"
            )
        true = total
    return {
        "true": true,
        "kept": np.bincount(ev[k], minlength=n),
        "true_kept": np.bincount(ev[yt & k], minlength=n),
    }


# --- signal vs background: significance, overtraining, sculpting, importance ----------------


def _yields(s, b, rel_bkg_unc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, b, rel)`` as float arrays broadcast together; rel must be finite and ≥ 0."""
    s, b = np.asarray(s, dtype=float), np.asarray(b, dtype=float)
    r = np.asarray(rel_bkg_unc, dtype=float)
    if not (np.isfinite(r) & (r >= 0)).all():
        raise ValueError(f"rel_bkg_unc={rel_bkg_unc!r}: expected a relative uncertainty δB/B ≥ 0")
    try:
        s, b, r = np.broadcast_arrays(s, b, r)
    except ValueError:
        raise ValueError(
            f"s {s.shape}, b {b.shape} and rel_bkg_unc {r.shape} do not broadcast together"
        ) from None
    return s, b, r


def significance(s, b, rel_bkg_unc=0.0) -> float | np.ndarray:
    """Simple significance S/√(B + δB²) of a counting experiment, δB = ``rel_bkg_unc``·B.

    The large-sample approximation of the Asimov significance for S ≪ B (compare
    :func:`asimov`); it overestimates at small B.

    Args:
        s: expected signal yield(s) (weighted events at the analysis luminosity).
        b: expected background yield(s), broadcastable with ``s``.
        rel_bkg_unc: relative background uncertainty δB/B ≥ 0 (scalar or broadcastable).

    Returns:
        A float for scalar inputs, else the broadcast array. NaN where B ≤ 0 (no background
        estimate: the figure is undefined, not infinite). A negative S (negative event weights)
        gives a negative value.
    """
    s, b, r = _yields(s, b, rel_bkg_unc)
    ok = b > 0
    bb = np.where(ok, b, 1.0)
    z = np.where(ok, s / np.sqrt(bb + (r * bb) ** 2), np.nan)
    return z if z.ndim else float(z)


def asimov(s, b, rel_bkg_unc=0.0) -> float | np.ndarray:
    """Median discovery significance Z_A of a counting experiment on Asimov data.

    With σ_b = ``rel_bkg_unc``·B the uncertainty of the background (constrained by an
    auxiliary measurement, B known to ±σ_b),

        Z_A = √(2 [(s+b) ln((s+b)(b+σ_b²) / (b² + (s+b)σ_b²)) − (b²/σ_b²) ln(1 + σ_b² s / (b(b+σ_b²)))]),

    which reduces to √(2((s+b) ln(1+s/b) − s)) at σ_b = 0 (G. Cowan, K. Cranmer, E. Gross,
    O. Vitells, Eur. Phys. J. C 71 (2011) 1554, arXiv:1007.1727; with σ_b: G. Cowan,
    "Discovery sensitivity for a counting experiment with background uncertainty", RHUL note
    2012). For s ≪ b it tends to s/√(b + σ_b²), and it falls towards 0 as σ_b grows. Below
    |s| < 10⁻⁸·b that limit is returned (the logarithms lose precision there).

    Args:
        s: expected signal yield(s).
        b: expected background yield(s), broadcastable with ``s``.
        rel_bkg_unc: relative background uncertainty σ_b/B ≥ 0.

    Returns:
        A float for scalar inputs, else the broadcast array. NaN where B ≤ 0 or s + b ≤ 0;
        −√q₀ (negative) for a deficit −b < s < 0, e.g. from negative event weights.
    """
    s, b, r = _yields(s, b, rel_bkg_unc)
    ok = (b > 0) & (s + b > 0)
    bb, ss = np.where(ok, b, 1.0), np.where(ok, s, 0.0)
    var = (r * bb) ** 2  # σ_b²
    v = np.where(var > 0, var, 1.0)
    x = ss / bb
    q_plain = 2 * bb * ((1 + x) * np.log1p(x) - x)
    q_unc = 2 * (
        (ss + bb) * np.log1p(ss * bb / (bb**2 + (ss + bb) * v))
        - bb**2 / v * np.log1p(v * ss / (bb * (bb + v)))
    )
    q0 = np.where(var > 0, q_unc, q_plain)
    q0 = np.where(np.abs(ss) < 1e-8 * bb, ss**2 / (bb + var), q0)
    z = np.where(ok, np.sign(ss) * np.sqrt(np.maximum(q0, 0.0)), np.nan)
    return z if z.ndim else float(z)


def _weighted(
    y, score, weight, names: tuple[str, str, str] = ("y", "score", "weight")
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``(y, score, weight)``; unit weights when ``weight`` is None. Messages use
    ``names``."""
    ny, ns, nw = names
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=float).reshape(-1)
    if len(score) != len(y):
        raise ValueError(f"{ns} has {len(score)} entries but {ny} has {len(y)}")
    if not np.isfinite(score).all():
        raise ValueError(f"{ns} holds {int((~np.isfinite(score)).sum())} NaN/inf value(s)")
    try:
        y = _check_labels(y)
    except ValueError as err:
        raise ValueError(f"{ny}: {err}") from None
    if weight is None:
        return y, score, np.ones_like(score)
    w = np.asarray(weight, dtype=float).reshape(-1)
    if len(w) != len(y):
        raise ValueError(f"{nw} has {len(w)} entries but {ny} has {len(y)}")
    if not np.isfinite(w).all():
        raise ValueError(f"{nw} holds {int((~np.isfinite(w)).sum())} NaN/inf value(s)")
    return y, score, w


def _check_scale(scale, name: str = "scale") -> float:
    if not (isinstance(scale, int | float | np.number) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"{name}={scale!r}: expected a positive factor (split weight → yield)")
    return float(scale)


def _above(y: np.ndarray, score: np.ndarray, w: np.ndarray, thr: np.ndarray) -> dict:
    """Per threshold t (a cut ``score >= t``): weighted sums ``S``, ``B``, sums of squared
    weights ``S_w2``, ``B_w2`` and raw counts ``n_sig``, ``n_bkg`` of the passing events.
    Each class is sorted once; suffix sums give every cut at once."""
    out = {}
    for cls, tag in ((1, "sig"), (0, "bkg")):
        sc, wc = score[y == cls], w[y == cls]
        order = np.argsort(sc, kind="stable")
        i = np.searchsorted(sc[order], thr, side="left")
        wo = wc[order]
        for v, key in ((wo, "w"), (wo**2, "w2")):
            suffix = np.r_[np.cumsum(v[::-1])[::-1], 0.0]  # suffix[k] = Σ_{j ≥ k} v_j
            out[f"{tag}_{key}"] = suffix[i]
        out[f"n_{tag}"] = len(sc) - i
    return {
        "S": out["sig_w"],
        "B": out["bkg_w"],
        "S_w2": out["sig_w2"],
        "B_w2": out["bkg_w2"],
        "n_sig": out["n_sig"],
        "n_bkg": out["n_bkg"],
    }


def significance_scan(
    y,
    score,
    weight=None,
    *,
    thresholds: Sequence[float] | np.ndarray | int | None = None,
    rel_bkg_unc: float = 0.0,
    scale: float = 1.0,
) -> pd.DataFrame:
    """Signal and background yields and significances for cuts ``score >= threshold``.

    Args:
        y: ``(N,)`` labels, 1 = signal.
        score: ``(N,)`` classifier output (higher = more signal-like).
        weight: ``(N,)`` event weights (may be negative), or None for unit weights.
        thresholds: explicit cuts, a number of equally spaced cuts between the score's min
            and max, or None for every distinct score value (the exact optimum).
        rel_bkg_unc: relative background uncertainty δB/B of ``Z`` and ``Z_A``.
        scale: factor turning the weights into expected yields (e.g. 1/fraction when the
            events are a fraction of the sample).

    Returns:
        DataFrame with columns ``threshold``, ``S``, ``B`` (Σ scale·weight of passing signal /
        background), ``S_err``, ``B_err`` (√Σ(scale·w)², the MC statistical error),
        ``n_sig``, ``n_bkg`` (raw passing events), ``Z`` (:func:`significance`) and ``Z_A``
        (:func:`asimov`); ``attrs`` hold ``rel_bkg_unc`` and ``scale``.
    """
    y, score, w = _weighted(y, score, weight)
    f = _check_scale(scale)
    _yields(0.0, 1.0, rel_bkg_unc)
    if thresholds is None:
        thr = np.unique(score)
    elif isinstance(thresholds, int | np.integer) and not isinstance(thresholds, bool):
        if thresholds < 2:
            raise ValueError(f"thresholds={thresholds}: expected at least 2 cuts")
        thr = np.linspace(score.min(), score.max(), int(thresholds))
    else:
        thr = np.asarray(thresholds, dtype=float).reshape(-1)
        if not np.isfinite(thr).all():
            raise ValueError("thresholds: expected finite cut values")
    a = _above(y, score, w * f, thr)
    out = pd.DataFrame(
        {
            "threshold": thr,
            "S": a["S"],
            "B": a["B"],
            "S_err": np.sqrt(a["S_w2"]),
            "B_err": np.sqrt(a["B_w2"]),
            "n_sig": a["n_sig"],
            "n_bkg": a["n_bkg"],
            "Z": significance(a["S"], a["B"], rel_bkg_unc),
            "Z_A": asimov(a["S"], a["B"], rel_bkg_unc),
        }
    )
    out.attrs.update(rel_bkg_unc=float(rel_bkg_unc), scale=f)
    return out


def significance_working_point(
    y_val,
    s_val,
    w_val,
    y_test,
    s_test,
    w_test,
    *,
    rel_bkg_unc: float = 0.0,
    min_bkg_events: int = 10,
    scale_val: float = 1.0,
    scale_test: float = 1.0,
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
) -> pd.Series:
    """The cut maximising S/√(B + δB²) chosen on the validation split, measured on test.

    Every distinct validation score is a candidate cut ``score >= t``; only cuts that leave at
    least ``min_bkg_events`` raw background events (and a positive background yield) are
    allowed, so a cut leaving a handful of simulated events with 0.1 weighted background, whose
    significance is a fluctuation, is not chosen. The cut is then fixed and applied to the
    test split, where S, B, Z and Z_A carry bootstrap intervals: test events resampled with
    replacement (as :func:`working_points`), weights carried.

    Yields: weights are multiplied by ``scale_val`` / ``scale_test``, so that the caller turns
    split weights into expected events of the full sample (a split holding a fraction f of the
    events: scale = 1/f). With δB > 0 the optimum depends on the yields, so scale the
    validation split too. Weights already scaled need no factor (the default 1).

    Args:
        y_val, s_val, w_val: validation labels (1 = signal), scores and weights (or None).
        y_test, s_test, w_test: test labels, scores and weights (or None).
        rel_bkg_unc: relative background uncertainty δB/B.
        min_bkg_events: the least raw background events a chosen cut must keep (validation).
        scale_val, scale_test: factors turning each split's weights into yields.
        n_boot: number of test resamples.
        seed: resampling seed.
        cl: confidence level of the ``_lo``/``_hi`` intervals (central percentiles).

    Returns:
        Series with ``threshold``; validation ``val_S``, ``val_B``, ``val_Z``, ``val_n_bkg``;
        test ``S``, ``B``, ``Z``, ``Z_A`` each followed by ``_lo`` and ``_hi``, and raw test
        counts ``n_sig``, ``n_bkg``. ``attrs`` hold the options.

    Raises:
        ValueError: bad inputs, or no validation cut keeps ``min_bkg_events`` background events.
    """
    cl = _check_cl(cl)
    _check_options((0.5,), "factor", n_boot)
    _yields(0.0, 1.0, rel_bkg_unc)
    fv, ft = _check_scale(scale_val, "scale_val"), _check_scale(scale_test, "scale_test")
    if isinstance(min_bkg_events, bool) or not isinstance(min_bkg_events, int | np.integer):
        raise ValueError(f"min_bkg_events={min_bkg_events!r}: expected an integer ≥ 0")
    yv, sv, wv = _weighted(y_val, s_val, w_val, ("y_val", "s_val", "w_val"))
    yt, st, wt = _weighted(y_test, s_test, w_test, ("y_test", "s_test", "w_test"))

    cuts = np.unique(sv)
    a = _above(yv, sv, wv * fv, cuts)
    z = np.asarray(significance(a["S"], a["B"], rel_bkg_unc), dtype=float)
    ok = (a["n_bkg"] >= min_bkg_events) & (a["B"] > 0) & np.isfinite(z)
    if not ok.any():
        raise ValueError(
            f"min_bkg_events={min_bkg_events}: no validation cut keeps that many background "
            f"events with a positive yield (the validation split has {int((yv == 0).sum())} "
            "background events)"
        )
    k = int(np.argmax(np.where(ok, z, -np.inf)))  # first maximum: the loosest such cut
    thr = float(cuts[k])

    passed = st >= thr
    cols = np.column_stack([wt * ft * (passed & (yt == 1)), wt * ft * (passed & (yt == 0))])
    rng = np.random.default_rng(seed)
    sums = np.empty((n_boot, 2))
    chunk = max(1, _CHUNK_ELEMENTS // max(len(yt), 1))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        sums[start:stop] = _multiplicities(rng, len(yt), stop - start).astype(float) @ cols
    S, B = cols.sum(axis=0)
    boot = {
        "S": sums[:, 0],
        "B": sums[:, 1],
        "Z": significance(sums[:, 0], sums[:, 1], rel_bkg_unc),
        "Z_A": asimov(sums[:, 0], sums[:, 1], rel_bkg_unc),
    }
    full = {
        "S": S,
        "B": B,
        "Z": significance(S, B, rel_bkg_unc),
        "Z_A": asimov(S, B, rel_bkg_unc),
    }
    out: dict[str, float] = {
        "threshold": thr,
        "val_S": float(a["S"][k]),
        "val_B": float(a["B"][k]),
        "val_Z": float(z[k]),
        "val_n_bkg": int(a["n_bkg"][k]),
    }
    for name, value in full.items():
        lo, hi = _interval(np.asarray(boot[name], dtype=float), cl)
        out |= {name: float(value), f"{name}_lo": float(lo), f"{name}_hi": float(hi)}
    out |= {"n_sig": int((passed & (yt == 1)).sum()), "n_bkg": int((passed & (yt == 0)).sum())}
    series = pd.Series(out, dtype=object, name="significance working point")
    series.attrs.update(
        rel_bkg_unc=float(rel_bkg_unc),
        min_bkg_events=int(min_bkg_events),
        scale_val=fv,
        scale_test=ft,
        n_boot=int(n_boot),
        cl=cl,
    )
    return series


def _check_edges(bins) -> np.ndarray:
    edges = np.asarray(bins, dtype=float).reshape(-1)
    if len(edges) < 2 or not np.isfinite(edges).all() or not (np.diff(edges) > 0).all():
        raise ValueError(f"bins: expected at least 2 finite increasing edges, got {edges.tolist()}")
    return edges


def _bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value, the last bin closed on the right (as numpy's histogram); −1 outside
    the edges (NaN included)."""
    i = np.searchsorted(edges, x, side="right") - 1
    i[x == edges[-1]] = len(edges) - 2
    i[(i < 0) | (i >= len(edges) - 1) | ~np.isfinite(x)] = -1
    return i


def equal_signal_bins(
    y_val,
    s_val,
    w_val,
    n_bins: int,
    *,
    score_range: tuple[float, float] | None = None,
    min_bkg_events: int = 0,
) -> np.ndarray:
    """Score bin edges holding equal signal weight on the validation split.

    Inner edges sit at the weighted quantiles k/n_bins of the signal scores (first crossing of
    the cumulative weight, also defined for negative weights), halfway between the two signal
    scores around each crossing; the outer edges are ``score_range`` (default: the lowest and
    highest validation score of either class). Pass ``score_range=(0, 1)`` for probabilities,
    so that test scores beyond the validation ones stay inside the bins.

    Args:
        y_val, s_val, w_val: validation labels (1 = signal), scores and weights (or None).
        n_bins: number of bins ≥ 1.
        score_range: ``(low, high)`` outer edges, or None.
        min_bkg_events: merge bins, from the highest score down, until each holds at least this
            many raw validation background events: a bin with almost no background gives an
            Asimov significance that says more about the sample size than about the model.

    Returns:
        ``(n_bins + 1,)`` increasing edges (fewer after merging).

    Raises:
        ValueError: bad inputs, a non-positive signal weight, or tied signal scores that leave
            two edges equal (ask for fewer bins).
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins={n_bins!r}: expected an integer ≥ 1")
    y, s, w = _weighted(y_val, s_val, w_val, ("y_val", "s_val", "w_val"))
    sig, ws = s[y == 1], w[y == 1]
    if not ws.sum() > 0:
        raise ValueError("w_val: the total signal weight must be positive")
    order = np.argsort(sig, kind="stable")
    ss = sig[order]
    frac = np.maximum.accumulate(np.cumsum(ws[order]) / ws.sum())
    k = np.searchsorted(frac, np.arange(1, n_bins) / n_bins - 1e-12, side="left")
    k = np.minimum(k, len(ss) - 1)
    inner = 0.5 * (ss[k] + ss[np.minimum(k + 1, len(ss) - 1)])
    lo, hi = (float(s.min()), float(s.max())) if score_range is None else score_range
    edges = np.r_[lo, inner, hi].astype(float)
    if not (np.diff(edges) > 0).all():
        raise ValueError(
            f"n_bins={n_bins}: equal-signal edges {edges.tolist()} are not increasing (tied "
            "signal scores, or score_range inside the scores): use fewer bins"
        )
    if min_bkg_events > 0:
        bkg = np.sort(s[y == 0])
        # raw background events per bin; walk down from the top bin, dropping the lower edge of
        # a bin that holds too few (it merges with the bin below); the lowest bin merges upward
        kept = [len(edges) - 1]
        for i in range(len(edges) - 2, 0, -1):
            n = np.searchsorted(bkg, edges[kept[-1]]) - np.searchsorted(bkg, edges[i])
            if n >= min_bkg_events:
                kept.append(i)
        if len(kept) > 1 and np.searchsorted(bkg, edges[kept[-1]]) < min_bkg_events:
            kept.pop()
        edges = np.r_[edges[0], edges[sorted(kept)]]
    return edges


def binned_asimov_table(
    y, score, weight=None, *, bins, rel_bkg_unc: float = 0.0, scale: float = 1.0
) -> pd.DataFrame:
    """Per score bin: yields and the Asimov significance :func:`asimov` of that bin alone.

    Args:
        y, score, weight: ``(N,)`` labels (1 = signal), scores and weights (or None).
        bins: ``(n_bins + 1,)`` score edges (e.g. :func:`equal_signal_bins`); events outside
            are left out (the last bin includes its upper edge).
        rel_bkg_unc: relative background uncertainty σ_b/B of each bin, taken independent
            between bins.
        scale: factor turning weights into expected yields.

    Returns:
        DataFrame indexed by bin with ``low``, ``high``, ``S``, ``B``, ``n_sig``, ``n_bkg``,
        ``Z_A`` (NaN where B ≤ 0); ``attrs`` hold ``z`` (the combination, see
        :func:`binned_asimov`) and ``n_outside`` (events outside the edges).
    """
    y, s, w = _weighted(y, score, weight)
    edges = _check_edges(bins)
    f = _check_scale(scale)
    _yields(0.0, 1.0, rel_bkg_unc)
    nb = len(edges) - 1
    i = _bin_index(s, edges)
    inside = i >= 0
    sums = {}
    for cls, tag in ((1, "S"), (0, "B")):
        m = inside & (y == cls)
        sums[tag] = np.bincount(i[m], weights=w[m] * f, minlength=nb)
        sums[f"n_{tag}"] = np.bincount(i[m], minlength=nb)
    za = np.asarray(asimov(sums["S"], sums["B"], rel_bkg_unc), dtype=float)
    out = pd.DataFrame(
        {
            "low": edges[:-1],
            "high": edges[1:],
            "S": sums["S"],
            "B": sums["B"],
            "n_sig": sums["n_S"],
            "n_bkg": sums["n_B"],
            "Z_A": za,
        },
        index=pd.RangeIndex(nb, name="bin"),
    )
    out.attrs.update(z=float(np.sqrt(np.nansum(za**2))), n_outside=int((~inside).sum()))
    return out


def binned_asimov(
    y, score, weight=None, *, bins, rel_bkg_unc: float = 0.0, scale: float = 1.0
) -> float:
    """Combined Asimov significance of a binned score distribution, Z = √(Σ_i Z_A,i²).

    On Asimov data every bin is fitted exactly at signal strength 1, so the discovery test
    statistic q₀ is the sum of the bins' (Cowan et al., Eur. Phys. J. C 71 (2011) 1554,
    arXiv:1007.1727): the combination is exact for independent bins, each with its own
    background uncertainty σ_b,i = ``rel_bkg_unc``·B_i (a correlated normalisation
    uncertainty needs a fit). Bins without background (B ≤ 0) are left out.

    Args: as :func:`binned_asimov_table`.
    """
    table = binned_asimov_table(y, score, weight, bins=bins, rel_bkg_unc=rel_bkg_unc, scale=scale)
    return float(table.attrs["z"])


def binned_asimov_interval(
    y,
    score,
    weight=None,
    *,
    bins,
    rel_bkg_unc: float = 0.0,
    scale: float = 1.0,
    n_boot: int = 1000,
    seed: int = 0,
    cl: float = 0.68,
) -> tuple[float, float]:
    """Bootstrap interval of :func:`binned_asimov`: events resampled with replacement (exact
    multinomial multiplicities, as :func:`bootstrap`), the central percentile interval at
    ``cl``.

    Args: as :func:`binned_asimov_table`, and ``n_boot`` resamples, ``seed``, ``cl``.
    """
    cl = _check_cl(cl)
    _check_options((0.5,), "factor", n_boot)
    y, s, w = _weighted(y, score, weight)
    edges = _check_edges(bins)
    f = _check_scale(scale)
    _yields(0.0, 1.0, rel_bkg_unc)
    nb = len(edges) - 1
    i = _bin_index(s, edges)
    key = np.where(i >= 0, 2 * i + y, 2 * nb)  # group: 2·bin + class, 2·nb = outside
    order = np.argsort(key, kind="stable")
    starts = np.searchsorted(key[order], np.arange(2 * nb + 1), side="left")
    wo = (w * f)[order]
    rng = np.random.default_rng(seed)
    z = np.empty(n_boot)
    chunk = max(1, _CHUNK_ELEMENTS // max(len(y), 1))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        m = _multiplicities(rng, len(y), stop - start)[:, order]
        cum = np.zeros((stop - start, len(y) + 1))
        np.cumsum(m * wo, axis=1, out=cum[:, 1:])
        group = np.diff(cum[:, starts], axis=1)  # (c, 2·nb): per bin, background then signal
        za = np.asarray(asimov(group[:, 1::2], group[:, 0::2], rel_bkg_unc), dtype=float)
        z[start:stop] = np.sqrt(np.nansum(za**2, axis=1))
    lo, hi = _interval(z, cl)
    return float(lo), float(hi)


def _ks_weighted(
    a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray
) -> tuple[float, float, float, float]:
    """Two-sample Kolmogorov–Smirnov test with weights: ``(D, p, n_eff_a, n_eff_b)``.

    D = max |F_a − F_b| of the weighted empirical CDFs; p from the asymptotic two-sample
    distribution (scipy's ``kstwo`` at n = n_a·n_b/(n_a + n_b), as ``ks_2samp(method="asymp")``)
    with the effective (Kish) sizes n_eff = (Σw)²/Σw², equal to the counts for unit weights.
    """
    ta, tb = wa.sum(), wb.sum()
    oa, ob = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    sa, sb = a[oa], b[ob]
    ca = np.r_[0.0, np.cumsum(wa[oa])] / ta
    cb = np.r_[0.0, np.cumsum(wb[ob])] / tb
    x = np.concatenate([sa, sb])
    fa = ca[np.searchsorted(sa, x, side="right")]
    fb = cb[np.searchsorted(sb, x, side="right")]
    d = float(np.max(np.abs(fa - fb)))
    na, nb = ta**2 / (wa**2).sum(), tb**2 / (wb**2).sum()
    en = na * nb / (na + nb)
    p = float(np.clip(kstwo.sf(d, max(1, round(en))), 0.0, 1.0))
    return d, p, float(na), float(nb)


def overtraining(s_train, y_train, w_train, s_test, y_test, w_test) -> pd.DataFrame:
    """Kolmogorov–Smirnov comparison of the training and test score distributions per class.

    A classifier that learnt its training events by heart scores them differently from unseen
    ones: a p-value below 0.05 flags overtraining (TMVA's check, A. Hoecker et al.,
    arXiv:physics/0703039). With large samples, tiny harmless differences also give small
    p-values: look at the distributions (:func:`hepnb.plot.overtraining`) too. The test is
    weighted (weighted empirical CDFs, effective sample sizes (Σw)²/Σw² in the asymptotic
    p-value; with unit weights it equals ``scipy.stats.ks_2samp(..., method="asymp")``); with
    negative weights the CDFs are not monotone and the p-value is only indicative.

    Args:
        s_train, y_train, w_train: training scores, labels (1 = signal), weights (or None).
        s_test, y_test, w_test: the same for the test split.

    Returns:
        DataFrame indexed by class (``"signal"``, ``"background"``) with ``ks_statistic``,
        ``p_value``, ``n_train``, ``n_test``, ``n_eff_train``, ``n_eff_test`` and
        ``overtrained`` (p < 0.05).
    """
    ya, sa, wa = _weighted(y_train, s_train, w_train, ("y_train", "s_train", "w_train"))
    yb, sb, wb = _weighted(y_test, s_test, w_test, ("y_test", "s_test", "w_test"))
    rows = []
    for cls, name in ((1, "signal"), (0, "background")):
        ma, mb = ya == cls, yb == cls
        for split, ww, m in (("w_train", wa, ma), ("w_test", wb, mb)):
            if not ww[m].sum() > 0:
                raise ValueError(f"{split}: the total {name} weight must be positive")
        d, p, na, nb = _ks_weighted(sa[ma], wa[ma], sb[mb], wb[mb])
        rows.append(
            {
                "class": name,
                "ks_statistic": d,
                "p_value": p,
                "n_train": int(ma.sum()),
                "n_test": int(mb.sum()),
                "n_eff_train": na,
                "n_eff_test": nb,
                "overtrained": p < 0.05,
            }
        )
    return pd.DataFrame(rows).set_index("class")


def sculpting(x, score, weight, threshold: float, bins) -> dict[str, Any]:
    """Does a cut ``score >= threshold`` sculpt the background's distribution of ``x``?

    Pass the background events only (e.g. ``x[y == 0]``), with ``x`` a variable the score
    should not shape (e.g. m_bb in GeV). The normalised distributions before and after the cut
    are returned for plotting; the tests compare the events that pass with those that fail,
    two independent samples (before = pass + fail, so after = before ⇔ pass = fail):

    * χ² between the normalised pass and fail histograms, χ² = Σ (p_i − f_i)² / (σ²_p,i +
      σ²_f,i) with σ_i = √Σw² / Σw, over bins where either is filled, ndf = bins − 1 (the
      usual approximation for weighted histograms; N. D. Gagunashvili, Nucl. Instrum. Meth. A
      614 (2010) 287, arXiv:0905.4221 treats it exactly);
    * the weighted Kolmogorov–Smirnov test of :func:`overtraining` on the unbinned values.

    A score independent of ``x`` gives χ²/ndf ≈ 1 and p-values that are not small.

    Args:
        x: ``(N,)`` the variable, background events only (non-finite values are left out).
        score: ``(N,)`` their scores.
        weight: ``(N,)`` weights, or None.
        threshold: the cut.
        bins: edges ``(n_bins + 1,)`` or a number of bins over the finite ``x`` range; events
            outside are left out of the histograms (the last bin includes its upper edge).

    Returns:
        ``edges``, ``before``, ``after`` (normalised densities per unit of ``x``),
        ``before_err``, ``after_err``, ``ratio`` (after/before, NaN where before is 0),
        ``chi2``, ``ndf``, ``chi2_ndf``, ``chi2_p``, ``ks_statistic``, ``ks_p_value``,
        ``efficiency`` (weighted fraction passing), ``n_pass``, ``n_fail``, ``n_outside``.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    s = np.asarray(score, dtype=float).reshape(-1)
    if len(s) != len(x):
        raise ValueError(f"score has {len(s)} entries but x has {len(x)}")
    if not np.isfinite(s).all():
        raise ValueError(f"score holds {int((~np.isfinite(s)).sum())} NaN/inf value(s)")
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float).reshape(-1)
    if len(w) != len(x) or not np.isfinite(w).all():
        raise ValueError(f"weight: expected {len(x)} finite values, got {len(w)}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold={threshold!r}: expected a finite cut")
    finite = np.isfinite(x)
    if isinstance(bins, int | np.integer) and not isinstance(bins, bool):
        if not finite.any():
            raise ValueError("x: no finite value to bin")
        edges = np.histogram_bin_edges(x[finite], bins=int(bins))
    else:
        edges = _check_edges(bins)
    nb = len(edges) - 1
    passed = s >= threshold
    if not passed.any() or passed.all():
        raise ValueError(
            f"threshold={threshold:g}: {'no' if not passed.any() else 'every'} event passes; "
            "the comparison needs events on both sides of the cut"
        )
    i = _bin_index(x, edges)
    inside = i >= 0

    def hist(m: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Normalised histogram and its √Σw² error of the events ``m``."""
        h = np.bincount(i[m & inside], weights=w[m & inside], minlength=nb)
        h2 = np.bincount(i[m & inside], weights=w[m & inside] ** 2, minlength=nb)
        total = h.sum()
        if not total > 0:
            raise ValueError(f"weight: no positive weight inside the bins {what} the cut")
        return h / total, np.sqrt(h2) / total

    width = np.diff(edges)
    before, before_err = hist(np.ones_like(passed), "before")
    after, after_err = hist(passed, "passing")
    fail, fail_err = hist(~passed, "failing")
    var = after_err**2 + fail_err**2
    used = var > 0
    chi2 = float(((after - fail)[used] ** 2 / var[used]).sum())
    ndf = int(used.sum()) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before != 0, after / before, np.nan)
    d, p, _, _ = _ks_weighted(
        x[finite & passed], w[finite & passed], x[finite & ~passed], w[finite & ~passed]
    )
    return {
        "edges": edges,
        "before": before / width,
        "after": after / width,
        "before_err": before_err / width,
        "after_err": after_err / width,
        "ratio": ratio,
        "chi2": chi2,
        "ndf": ndf,
        "chi2_ndf": chi2 / ndf if ndf > 0 else float("nan"),
        "chi2_p": float(chi2_dist.sf(chi2, ndf)) if ndf > 0 else float("nan"),
        "ks_statistic": d,
        "ks_p_value": p,
        "efficiency": float(w[passed].sum() / w.sum()),
        "n_pass": int(passed.sum()),
        "n_fail": int((~passed).sum()),
        "n_outside": int((~inside).sum()),
    }


def permutation_importance(
    predict: Callable[[np.ndarray], Any],
    x,
    y,
    weight,
    columns: Mapping[str, Sequence[int]],
    *,
    n_repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Permutation importance: the drop of the weighted AUC when a group of input columns is
    shuffled across events (L. Breiman, Machine Learning 45 (2001) 5).

    The columns of a group share one permutation, so a jet feature (its J columns) moves as a
    whole, from one event to another; the other inputs stay. Correlated features share their
    importance: shuffling one leaves the information in the other.

    Args:
        predict: ``(N, F)`` inputs → ``(N,)`` scores (probabilities or logits: the AUC only
            ranks them).
        x: ``(N, F)`` inputs (a copy is shuffled; ``x`` is not modified).
        y: ``(N,)`` labels, 1 = signal.
        weight: ``(N,)`` weights (may be negative), or None.
        columns: group name → column indices, e.g. ``{"jet_pt": [0, 4, 8, ...]}``.
        n_repeats: permutations per group.
        seed: seed of the permutations.

    Returns:
        DataFrame indexed by ``group``, most important first, with ``auc_drop`` (mean over
        repeats of AUC(original) − AUC(shuffled)), ``auc_drop_std`` and ``n_columns``;
        ``attrs["auc"]`` holds the unshuffled AUC.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x: expected a (N, F) array, got shape {x.shape}")
    y, _, w = _weighted(y, np.zeros(len(np.asarray(y).reshape(-1))), weight)
    if len(y) != len(x):
        raise ValueError(f"y has {len(y)} entries but x has {len(x)}")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r}: expected an integer ≥ 1")
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError("columns: expected a non-empty mapping group name → column indices")
    groups = {}
    for name, cols in columns.items():
        c = np.asarray(cols).reshape(-1)
        if (
            not len(c)
            or not np.issubdtype(c.dtype, np.integer)
            or (c < 0).any()
            or (c >= x.shape[1]).any()
        ):
            raise ValueError(
                f"columns[{name!r}]: expected column indices in 0 … {x.shape[1] - 1}, got "
                f"{c.tolist()[:10]}"
            )
        groups[str(name)] = c

    def score(inputs: np.ndarray) -> float:
        out = np.asarray(predict(inputs), dtype=float).reshape(-1)
        if len(out) != len(y):
            raise ValueError(f"predict returned {len(out)} scores for {len(y)} events")
        return auc(y, out, w)

    base = score(x)
    rng = np.random.default_rng(seed)
    work = x.copy()
    rows = []
    for name, c in groups.items():
        drops = np.empty(n_repeats)
        for r in range(n_repeats):
            work[:, c] = x[rng.permutation(len(x))[:, None], c[None, :]]
            drops[r] = base - score(work)
        work[:, c] = x[:, c]
        rows.append(
            {
                "group": name,
                "auc_drop": float(drops.mean()),
                "auc_drop_std": float(drops.std(ddof=1)) if n_repeats > 1 else float("nan"),
                "n_columns": len(c),
            }
        )
    out = pd.DataFrame(rows).set_index("group").sort_values("auc_drop", ascending=False)
    out.attrs["auc"] = base
    return out
