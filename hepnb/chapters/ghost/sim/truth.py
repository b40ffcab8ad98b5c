"""Truth matching: which reconstructed candidates are ghosts (LHCb's 70 % rule)."""

from __future__ import annotations

import numpy as np

from hepnb.chapters.ghost.schema import GHOST_THRESHOLD

__all__ = ["ghost_labels"]


def ghost_labels(
    cand: np.ndarray,
    det: np.ndarray,
    pid: np.ndarray,
    n_cand: int,
    threshold: float = GHOST_THRESHOLD,
) -> np.ndarray:
    """LHCb truth matching: a candidate is real when one particle contributes at least
    ``threshold`` of its hits in *every* sub-detector it has hits in; otherwise ghost.

    Args:
        cand: candidate index of each hit ``(H,)``.
        det: sub-detector of each hit (e.g. 0 = VELO, 1 = SciFi) ``(H,)``.
        pid: particle of each hit; ≤ 0 = noise, which belongs to no particle ``(H,)``.
        n_cand: number of candidates.
        threshold: minimum fraction per sub-detector (LHCb: 0.7).

    Returns:
        ``ghost (n_cand,)`` boolean; a candidate without hits is a ghost.
    """
    cand, det, pid = (np.asarray(a, dtype=np.int64) for a in (cand, det, pid))
    n_det = int(det.max()) + 1 if len(det) else 1
    cd = cand * n_det + det
    n_cd = np.bincount(cd, minlength=n_cand * n_det)
    dets_used = (n_cd.reshape(n_cand, n_det) > 0).sum(1)
    real = pid > 0
    # hits per (candidate, detector, particle)
    key = np.stack([cand[real], pid[real], det[real]], 1)
    if len(key) == 0:
        return np.ones(n_cand, bool)
    uniq, cnt = np.unique(key, axis=0, return_counts=True)
    frac = cnt / n_cd[uniq[:, 0] * n_det + uniq[:, 2]]
    passing = frac >= threshold - 1e-12
    # per (candidate, particle): number of detectors where it passes
    cp, inv = np.unique(uniq[:, :2], axis=0, return_inverse=True)
    n_pass = np.bincount(inv.ravel(), weights=passing, minlength=len(cp))
    good = n_pass >= dets_used[cp[:, 0]]
    ghost = np.ones(n_cand, bool)
    ghost[cp[good, 0]] = False
    return ghost
