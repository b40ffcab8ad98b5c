"""Track fit: a weighted least-squares fit of all hits of a long track with the magnet and
the scatterer, iterated around a reference trajectory (for this model equivalent to a Kalman
filter–smoother), with outlier removal."""

from __future__ import annotations

import numpy as np

from hepnb.chapters.ghost.schema import SCIFI_ALPHA, SCIFI_Z, VELO_Z
from hepnb.chapters.ghost.sim.detector import SciFiHits, SimConfig, VeloHits, highland

__all__ = ["lsq", "track_fit"]


def lsq(
    h: np.ndarray,
    meas: np.ndarray,
    sigma: np.ndarray | float,
    mask: np.ndarray,
    prior_prec: np.ndarray | None = None,
):
    """Batched weighted linear least squares with one design matrix shared by all tracks.

    Args:
        h: design matrix ``(R, P)`` (row r: derivative of measurement r w.r.t. the parameters).
        meas: measurements ``(N, R)``.
        sigma: measurement errors ``(R,)`` or a scalar.
        mask: which measurements exist ``(N, R)``.
        prior_prec: optional Gaussian prior precision (mean 0) per parameter ``(N, P)``.

    Returns:
        ``(params (N, P), chi2 (N,))``; NaN where the system is singular.
    """
    n_par = h.shape[1]
    w = mask / np.broadcast_to(np.asarray(sigma, dtype=float), mask.shape[1:]) ** 2
    meas = np.where(mask, meas, 0.0)
    a = (w @ np.einsum("rp,rq->rpq", h, h).reshape(len(h), -1)).reshape(-1, n_par, n_par)
    b = (w * meas) @ h
    if prior_prec is not None:
        a = a + prior_prec[:, :, None] * np.eye(n_par)[None]
    par = np.full(b.shape, np.nan)
    ok = np.abs(np.linalg.det(a)) > 1e-300
    if ok.any():
        par[ok] = np.linalg.solve(a[ok], b[ok][..., None])[..., 0]
    res = meas - par @ h.T
    chi2 = (w * res**2).sum(1)
    if prior_prec is not None:
        chi2 = chi2 + (prior_prec * par**2).sum(1)
    return par, chi2


def track_fit(
    velo: VeloHits,
    scifi: SciFiHits,
    vhm: np.ndarray,
    shm: np.ndarray,
    qop0: np.ndarray,
    cfg: SimConfig,
    n_iter: int = 3,
) -> dict[str, np.ndarray]:
    """Least-squares fit of long tracks (VELO hits ``vhm (C, 26)``, SciFi hits ``shm (C, 12)``,
    −1 = none) with parameters x, tx, y, ty at z = 0, q/p and two scattering kinks at
    ``z_scatter`` constrained by the Highland angle at the PR momentum ``|1/qop0|``.

    The magnet's kick position and vertical bending depend on the track; they are linearised
    around the current estimate and the fit iterated (``n_iter`` times, as a Kalman fit with a
    reference trajectory). Then up to ``cfg.fit_max_outliers`` SciFi hits whose χ²
    contribution exceeds ``cfg.fit_outlier_chi2`` are removed one by one, refitting each time.

    Returns dict of ``(C,)`` arrays ``x0 tx y0 ty qop chi2 ndof`` and ``scifi_hits`` (the SciFi
    hit matrix after outlier removal).
    """
    c = len(vhm)
    nv, ns = vhm.shape[1], shm.shape[1]
    zv, zs = VELO_Z / 1000.0, SCIFI_Z / 1000.0
    zsc, zmag = cfg.z_scatter / 1000.0, cfg.z_mag / 1000.0
    ca, sa = np.cos(SCIFI_ALPHA), np.sin(SCIFI_ALPHA)
    k = cfg.pt_kick * 1e-4  # q/p parameter in units of 1e-4/MeV → slope change
    hv_x = np.zeros((nv, 7))
    hv_x[:, 0], hv_x[:, 1] = 1.0, zv
    hv_y = np.zeros((nv, 7))
    hv_y[:, 2], hv_y[:, 3] = 1.0, zv
    hs = np.stack(
        [
            ca,
            zs * ca,
            -sa,
            -zs * sa,
            k * (zs - zmag) * 1000.0 * ca,
            (zs - zsc) * 1000.0 * ca,
            -(zs - zsc) * 1000.0 * sa,
        ],
        1,
    )
    h = np.concatenate([hv_x, hv_y, hs])
    vi, si = np.maximum(vhm, 0), np.maximum(shm, 0)
    meas = np.concatenate([velo.x[vi], velo.y[vi], scifi.m[si]], 1)
    mask = np.concatenate([vhm >= 0, vhm >= 0, shm >= 0], 1)
    sigma = np.r_[np.full(2 * nv, cfg.velo_sigma), np.full(ns, cfg.scifi_sigma)]
    th = highland(1.0 / np.maximum(np.abs(qop0), 1e-7), cfg.x_over_x0)
    prior = np.zeros((c, 7))
    prior[:, 5] = prior[:, 6] = 1.0 / th**2
    shm = shm.copy()
    # reference trajectory: VELO straight-line slopes and the PR q/p
    vz = np.where(vhm >= 0, VELO_Z, np.nan)
    with np.errstate(invalid="ignore"):
        ty_ref = np.nanmean(
            np.where(vhm >= 0, velo.y[vi], np.nan) / np.where(np.abs(vz) > 1, vz, np.nan), 1
        )
    ty_ref = np.nan_to_num(ty_ref)
    dtx_ref = qop0 * cfg.pt_kick
    for it in range(n_iter + cfg.fit_max_outliers):
        # non-linear magnet terms: x gains −Δtx (z_kick − z_mag), y gains ty b Δtx² (z − z_kick)
        zk = cfg.z_kick(dtx_ref, ty_ref)
        cx = -dtx_ref * (zk - cfg.z_mag)
        cy = (cfg.ty_after(ty_ref, dtx_ref) - ty_ref)[:, None] * (SCIFI_Z - zk[:, None])
        corr = cx[:, None] * ca - cy * sa
        m = meas.copy()
        m[:, 2 * nv :] -= corr
        par, chi2 = lsq(h, m, sigma, mask, prior)
        good = np.isfinite(par).all(1)
        dtx_ref = np.where(good, par[:, 4] * 1e-4 * cfg.pt_kick, dtx_ref)
        ty_ref = np.where(good, par[:, 3] / 1000.0, ty_ref)
        if it < n_iter - 1:
            continue
        if it == n_iter + cfg.fit_max_outliers - 1:
            break
        # outlier removal: drop the SciFi hit with the largest χ² contribution above the cut
        res = (m[:, 2 * nv :] - np.nan_to_num(par) @ hs.T) / cfg.scifi_sigma
        r2 = np.where(mask[:, 2 * nv :], res**2, -1.0)
        worst = np.argmax(r2, 1)
        drop = (r2[np.arange(c), worst] > cfg.fit_outlier_chi2) & (mask[:, 2 * nv :].sum(1) > 6)
        if not drop.any():
            break
        mask[np.flatnonzero(drop), 2 * nv + worst[drop]] = False
        shm[np.flatnonzero(drop), worst[drop]] = -1
    return {
        "x0": par[:, 0],
        "tx": par[:, 1] / 1000.0,
        "y0": par[:, 2],
        "ty": par[:, 3] / 1000.0,
        "qop": par[:, 4] * 1e-4,
        "chi2": chi2,
        "ndof": mask.sum(1) - 5,
        "scifi_hits": shm,
    }
