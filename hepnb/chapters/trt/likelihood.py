"""The classical track-level likelihoods of the TRT: the ToT (dE/dx) likelihood and its
combination with the HT likelihood ``eProbHT``, built the way ATLAS builds them.

ToT likelihood, after Athena ``InnerDetector/InDetRecTools/TRT_ElectronPidTools/src/
TRT_ToT_dEdx.cxx`` (``isGoodHit``, ``dEdx``, ``getProb``, ``getTest``):

* **good hits**: ToT > 0, path length in the straw L ≥ 1.7 mm, optionally no HT hits
  (``useHitsHT``; excluded here by default, so that ToT and HT are nearly independent and the
  product of the two likelihoods is a fair combination);
* **estimator**: the truncated mean of ToT/L over the good hits, the largest value removed
  (``m_nTrunkateHits`` = 1), argon hits scaled to the xenon response by a factor calibrated
  on the training tracks (ATLAS calibrates each gas);
* **pdfs**: a Gaussian around the predicted dE/dx of each mass hypothesis, with a relative
  resolution depending on the number of hits used (``getProb``: σ = res(n)·dEdx_pred, one
  resolution for electrons and one for other particles); the prediction is a function of βγ
  only (``predictdEdx``), here a binned mean of the estimator vs log10 βγ, interpolated;
* **test**: P(e) / (P(e) + P(hypothesis)) — used here as the log ratio.

Everything is calibrated on the training split (:func:`fit`), never on the tracks it scores.
The combined probability multiplies the HT and ToT likelihoods as ATLAS's
``eProbabilityComb`` does: log-ratio(HT) + log-ratio(ToT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepnb.chapters.trt.schema import HIT_FEATURES, MASS

__all__ = ["ToTLikelihood", "dedx", "fit", "hit_columns"]

_COL = {name: i for i, name in enumerate(HIT_FEATURES)}
MIN_LENGTH_MM = 1.7  # TRT_ToT_dEdx::isGoodHit, with m_divideByL
N_TRUNCATE = 1  # highest ToT/L value removed


def hit_columns(items: np.ndarray) -> dict[str, np.ndarray]:
    """The hit features of packed items by name (``HIT_FEATURES`` order)."""
    return {name: np.asarray(items[:, i], dtype=np.float64) for name, i in _COL.items()}


def dedx(
    items: np.ndarray,
    offsets: np.ndarray,
    *,
    ar_scale: float = 1.0,
    use_ht: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Truncated-mean ToT/L estimator of each track and the number of hits it uses.

    Args:
        items, offsets: packed hit features (:data:`~hepnb.chapters.trt.schema.HIT_FEATURES`)
            of N tracks, unscaled.
        ar_scale: factor on the ToT/L of argon hits (calibrated by :func:`fit`).
        use_ht: keep HT hits.

    Returns:
        ``(estimator (N,), hits used (N,))``; the estimator is NaN for a track with < 2 good
        hits (nothing left after the truncation).
    """
    h = hit_columns(np.asarray(items))
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    trk = np.repeat(np.arange(n), np.diff(offsets))
    good = (h["hit_tot"] > 0) & (h["hit_L"] >= MIN_LENGTH_MM)
    if not use_ht:
        good &= h["hit_HTMB"] < 0.5
    v = h["hit_tot"] / np.maximum(h["hit_L"], 1e-6)
    v = np.where(h["hit_gasType"] > 0.5, v * ar_scale, v)
    v, t = v[good], trk[good]
    order = np.lexsort((v, t))
    v, t = v[order], t[order]
    cnt = np.bincount(t, minlength=n)
    last = np.cumsum(cnt) - 1  # index of each track's largest value (if any)
    keep = np.ones(len(v), dtype=bool)
    has = cnt >= N_TRUNCATE
    keep[last[has]] = False
    used = np.maximum(cnt - N_TRUNCATE, 0)
    total = np.bincount(t[keep], weights=v[keep], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(used > 0, total / np.maximum(used, 1), np.nan)
    return est, used


@dataclass(frozen=True)
class ToTLikelihood:
    """A calibrated ToT likelihood (see the module docstring).

    Attributes:
        ar_scale: factor bringing argon ToT/L to the xenon response.
        centres: log10 βγ bin centres of the predicted dE/dx.
        means: predicted estimator at ``centres`` (interpolated, flat outside).
        res_electron, res_other: relative resolution ``(r0, r1)``: σ/μ = r0 + r1/√n.
    """

    ar_scale: float
    centres: np.ndarray
    means: np.ndarray
    res_electron: tuple[float, float]
    res_other: tuple[float, float]

    def predict(self, log10_p: np.ndarray, mass: float) -> np.ndarray:
        """Predicted estimator of a particle of mass ``mass`` (MeV) and momentum 10^log10_p."""
        log_bg = np.asarray(log10_p, dtype=np.float64) - np.log10(mass)
        return np.interp(log_bg, self.centres, self.means)

    def log_prob(
        self, est: np.ndarray, n: np.ndarray, log10_p: np.ndarray, species: str
    ) -> np.ndarray:
        """log of the Gaussian pdf of the estimator under a species hypothesis."""
        mu = self.predict(log10_p, MASS[species])
        r0, r1 = self.res_electron if species == "electron" else self.res_other
        sigma = mu * (r0 + r1 / np.sqrt(np.maximum(n, 1)))
        return -0.5 * ((est - mu) / sigma) ** 2 - np.log(sigma)

    def llr(
        self,
        items: np.ndarray,
        offsets: np.ndarray,
        log10_p: np.ndarray,
        background: str = "muon",
    ) -> np.ndarray:
        """log L(electron)/L(background) of each track (0 where no estimator exists)."""
        est, n = dedx(items, offsets, ar_scale=self.ar_scale)
        out = self.log_prob(est, n, log10_p, "electron") - self.log_prob(
            est, n, log10_p, background
        )
        return np.nan_to_num(out, nan=0.0)


def _resolution(rel: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Least-squares σ/μ = r0 + r1/√n from the spread of the relative residuals per n."""
    ns = np.unique(n)
    x, y, w = [], [], []
    for k in ns:
        r = rel[n == k]
        if len(r) >= 20:
            q16, q84 = np.percentile(r, [16, 84])
            x.append(1 / np.sqrt(k))
            y.append((q84 - q16) / 2)
            w.append(len(r))
    if len(x) < 2:
        return float(np.std(rel)), 0.0
    r1, r0 = np.polyfit(np.asarray(x), np.asarray(y), 1, w=np.sqrt(w))
    return float(r0), float(r1)


def fit(
    items: np.ndarray,
    offsets: np.ndarray,
    log10_p: np.ndarray,
    species: np.ndarray,
    *,
    bin_width: float = 0.25,
) -> ToTLikelihood:
    """Calibrate the ToT likelihood on training tracks.

    Args:
        items, offsets: packed unscaled hit features of the training tracks.
        log10_p: log10(p / MeV) per track.
        species: species name per track (``"electron"``, ``"muon"``, ``"pion"``).
        bin_width: bin width in log10 βγ of the predicted dE/dx.
    """
    species = np.asarray(species)
    h = hit_columns(np.asarray(items))
    good = (h["hit_tot"] > 0) & (h["hit_L"] >= MIN_LENGTH_MM) & (h["hit_HTMB"] < 0.5)
    v = h["hit_tot"] / np.maximum(h["hit_L"], 1e-6)
    xe, ar = good & (h["hit_gasType"] < 0.5), good & (h["hit_gasType"] > 0.5)
    ar_scale = float(np.median(v[xe]) / np.median(v[ar])) if ar.any() and xe.any() else 1.0
    est, n = dedx(items, offsets, ar_scale=ar_scale)
    mass = np.array([MASS[s] for s in species])
    log_bg = np.asarray(log10_p, dtype=np.float64) - np.log10(mass)
    ok = np.isfinite(est)
    edges = np.arange(
        np.floor(log_bg[ok].min() / bin_width) * bin_width, log_bg[ok].max() + bin_width, bin_width
    )
    idx = np.digitize(log_bg[ok], edges) - 1
    cnt = np.bincount(idx, minlength=len(edges))
    sums = np.bincount(idx, weights=est[ok], minlength=len(edges))
    filled = cnt >= 20
    centres = (edges[:-1] + bin_width / 2)[filled[: len(edges) - 1]]
    means = (sums / np.maximum(cnt, 1))[: len(edges) - 1][filled[: len(edges) - 1]]
    model = ToTLikelihood(ar_scale, centres, means, (0.1, 0.0), (0.1, 0.0))
    is_e = species[ok] == "electron"
    mu = np.interp(log_bg[ok], centres, means)
    rel = est[ok] / mu - 1
    return (
        ToTLikelihood(
            ar_scale,
            centres,
            means,
            _resolution(rel[is_e], n[ok][is_e]),
            _resolution(rel[~is_e], n[ok][~is_e]),
        )
        if len(centres)
        else model
    )
