"""Pattern recognition, vectorised over all events of a chunk (no per-event Python loop).

* **VELO tracking** is taken as perfect: every particle with ≥ 3 VELO hits gives one VELO
  track made of its own hits (LHCb's VELO tracking has ≈ 1 % ghosts, negligible here).
* **Seeding** (SciFi standalone, ~Hybrid seeding): pairs of x hits in the first and last
  x layers whose line points back to the interaction region within a minimum-momentum
  window, confirmed by the nearest hit in the other x layers, then stereo hits clustered in
  ty = y/z (Hough), a 4-parameter straight-line fit and hit-sharing clone removal.
* **Matching** (VELO track × seed, as LHCb's Allen HLT1 matching): x compared at the
  parametrised kick plane, y at z = 10 m; χ² = 1.5 dx²/tol_x² + 0.2 dy²/tol_y² + 937.5 Δty²
  + 2 Δtx² with Allen's tolerances tol_x² = 10.12² + (101 Δtx)² mm², tol_y² = 1.59² +
  212.1² (tx² + ty²) mm², preselection |dx| < 20 mm, |dy| < 150 mm, |Δty| < 0.02 and
  χ² < 2 (see :mod:`~hepnb.chapters.ghost.schema`); then a one-to-one assignment by χ²
  (Allen adds a small NN here; the classifier of this chapter plays that role).
* **Forward** (VELO track + SciFi hits): hits in a window set by a minimum p and pT around
  the straight-line extrapolation; each hit's slope change Δtx given the VELO track is
  computed with the kick parametrisation (stereo hits use the VELO y); the densest Hough
  cluster in Δtx with ≥ 9 layers (≥ 4 x layers) is the track.

:func:`reconstruct` runs them, fits the candidates (:mod:`.fit`), labels them
(:mod:`.truth`) and describes them with the branches of the output tree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hepnb.chapters.ghost.schema import (
    SCIFI_ALPHA,
    SCIFI_Z,
    UV_LAYERS,
    VELO_Z,
    X_LAYERS,
    Z_MATCH_Y,
    Z_REF,
)
from hepnb.chapters.ghost.sim.detector import SciFiHits, SimConfig, VeloHits
from hepnb.chapters.ghost.sim.fit import lsq, track_fit
from hepnb.chapters.ghost.sim.generation import Particles
from hepnb.chapters.ghost.sim.truth import ghost_labels

__all__ = [
    "Seeds",
    "VeloTracks",
    "forward",
    "matching",
    "reconstruct",
    "seeding",
    "velo_tracks",
]

_SPAN, _OFF = 20_000.0, 10_000.0  # event key spacing for sorted searches (mm)


def _expand(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(query, position)`` pairs with ``start[q] <= position < stop[q]``."""
    n = np.maximum(stop - start, 0)
    q = np.repeat(np.arange(len(n)), n)
    off = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return q, start[q] + off


def _first_of_groups(*keys: np.ndarray) -> np.ndarray:
    """Indices of the first element of each run of equal keys (keys already sorted)."""
    if len(keys[0]) == 0:
        return np.zeros(0, np.int64)
    new = np.zeros(len(keys[0]), bool)
    new[0] = True
    for k in keys:
        new[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(new)


class _LayerIndex:
    """SciFi hits sorted per layer by ``event·SPAN + m`` for window and nearest-hit searches."""

    def __init__(self, hits: SciFiHits):
        self.hits = hits
        key = hits.event * _SPAN + hits.m + _OFF
        self.order = np.lexsort((key, hits.layer))
        self.key = key[self.order]
        self.bounds = np.searchsorted(hits.layer[self.order], np.arange(len(SCIFI_Z) + 1))

    def layer_hits(self, layer: int | np.integer) -> np.ndarray:
        return self.order[self.bounds[layer] : self.bounds[layer + 1]]

    def window(self, layer: int | np.integer, event: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        """Hits of ``layer`` in the same event with lo ≤ m ≤ hi → ``(query, hit)`` pairs."""
        b0, b1 = self.bounds[layer], self.bounds[layer + 1]
        k = self.key[b0:b1]
        base = event * _SPAN + _OFF
        lo = np.clip(lo, -_OFF + 1.0, _OFF - 1.0)
        hi = np.clip(hi, -_OFF + 1.0, _OFF - 1.0)
        q, j = _expand(
            np.searchsorted(k, base + lo, "left"), np.searchsorted(k, base + hi, "right")
        )
        return q, self.order[b0 + j]

    def nearest(
        self, layer: int | np.integer, event: np.ndarray, m: np.ndarray, tol: float
    ) -> np.ndarray:
        """Index of the hit of ``layer`` nearest to ``m`` in the same event, −1 beyond ``tol``."""
        b0, b1 = self.bounds[layer], self.bounds[layer + 1]
        k = self.key[b0:b1]
        if len(k) == 0:
            return np.full(len(m), -1)
        target = event * _SPAN + np.clip(m, -_OFF + 1.0, _OFF - 1.0) + _OFF
        j = (
            np.clip(np.searchsorted(k, target), 1, len(k) - 1)
            if len(k) > 1
            else np.zeros(len(m), np.int64)
        )
        jl = np.maximum(j - 1, 0)
        dl, dr = np.abs(k[jl] - target), np.abs(k[j] - target)
        best = np.where(dl <= dr, jl, j)
        d = np.minimum(dl, dr)
        return np.where(d <= tol, self.order[b0 + best], -1)


# ---------------------------------------------------------------------------------------------
# VELO tracks


@dataclass
class VeloTracks:
    """VELO tracks: ``hits (T, 26)`` VELO hit indices per station (−1: none) and the straight
    line ``x = x0 + tx z``, ``y = y0 + ty z`` (mm, at z = 0), arrays ``(T,)``."""

    event: np.ndarray
    hits: np.ndarray
    x0: np.ndarray
    tx: np.ndarray
    y0: np.ndarray
    ty: np.ndarray

    def __len__(self) -> int:
        return len(self.event)

    def at(self, z: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.x0 + self.tx * z, self.y0 + self.ty * z


def velo_tracks(velo: VeloHits, min_hits: int = 3) -> VeloTracks:
    """One VELO track per particle with ≥ ``min_hits`` hits, fitted with straight lines."""
    _pids, inv, counts = np.unique(velo.pid, return_inverse=True, return_counts=True)
    keep = counts >= min_hits
    tid = np.cumsum(keep) - 1
    sel = keep[inv]
    hits = np.full((int(keep.sum()), len(VELO_Z)), -1, np.int64)
    hits[tid[inv[sel]], velo.station[sel]] = np.flatnonzero(sel)
    event = np.zeros(len(hits), np.int64)
    event[tid[inv[sel]]] = velo.event[sel]
    mask = hits >= 0
    h = np.stack([np.ones(len(VELO_Z)), VELO_Z / 1000.0], 1)  # z in metres for conditioning
    (px, _), (py, _) = (lsq(h, v[hits], 1.0, mask) for v in (velo.x, velo.y))
    return VeloTracks(event, hits, px[:, 0], px[:, 1] / 1000.0, py[:, 0], py[:, 1] / 1000.0)


# ---------------------------------------------------------------------------------------------
# SciFi seeding


@dataclass
class Seeds:
    """SciFi seeds: ``hits (S, 12)`` hit indices per layer (−1: none), the straight line at
    the reference plane ``x = x_ref + tx (z − Z_REF)`` (same for y), and χ²/ndof."""

    event: np.ndarray
    hits: np.ndarray
    x_ref: np.ndarray
    tx: np.ndarray
    y_ref: np.ndarray
    ty: np.ndarray
    chi2ndf: np.ndarray

    def __len__(self) -> int:
        return len(self.event)


def _seed_fit(hits: SciFiHits, hm: np.ndarray, sigma: float):
    """Four-parameter line fit of dense SciFi hit matrices ``(S, 12)`` → params, χ², n."""
    mask = hm >= 0
    z = (SCIFI_Z - Z_REF) / 1000.0
    c, s = np.cos(SCIFI_ALPHA), np.sin(SCIFI_ALPHA)
    h = np.stack([c, z * c, -s, -z * s], 1)
    par, chi2 = lsq(h, hits.m[np.maximum(hm, 0)], sigma, mask)
    return par, chi2, mask.sum(1)


def _clone_kill(
    hm: np.ndarray, rank: np.ndarray, n_hits_total: int, rounds: int = 3, min_own: float = 0.7
) -> np.ndarray:
    """Keep candidates owning ≥ ``min_own`` of their hits; a hit belongs to the best-ranked
    (lowest ``rank``) surviving candidate using it. Returns the kept mask ``(S,)``."""
    alive = np.ones(len(hm), bool)
    c, lay = np.nonzero(hm >= 0)
    hit = hm[c, lay]
    n = (hm >= 0).sum(1)
    for _ in range(rounds):
        owner = np.full(n_hits_total, np.iinfo(np.int64).max)
        a = alive[c]
        np.minimum.at(owner, hit[a], rank[c[a]])
        own = np.bincount(c, weights=(owner[hit] == rank[c]).astype(float), minlength=len(hm))
        new = alive & (own >= min_own * n)
        if np.array_equal(new, alive):
            break
        alive = new
    return alive


def seeding(hits: SciFiHits, index: _LayerIndex, cfg: SimConfig) -> Seeds:
    """SciFi standalone tracks (see module docstring)."""
    x0_max = cfg.pt_kick / cfg.seed_pmin * cfg.z_mag + 100.0  # |x| at z = 0 of the T line
    cands = []
    for la, lb in ((X_LAYERS[0], X_LAYERS[-1]), (X_LAYERS[1], X_LAYERS[-2])):
        ha = index.layer_hits(la)
        xa, ea = hits.m[ha], hits.event[ha]
        za, zb = SCIFI_Z[la], SCIFI_Z[lb]
        r = (zb - za) / za
        q, hb = index.window(lb, ea, xa + r * (xa - x0_max), xa + r * (xa + x0_max))
        a = ha[q]
        tx = (hits.m[hb] - hits.m[a]) / (zb - za)
        hm = np.full((len(a), len(SCIFI_Z)), -1, np.int64)
        hm[:, la], hm[:, lb] = a, hb
        for other in X_LAYERS:
            if other in (la, lb):
                continue
            hm[:, other] = index.nearest(
                other, hits.event[a], hits.m[a] + tx * (SCIFI_Z[other] - za), cfg.seed_tol_x
            )
        cands.append(hm[(hm[:, X_LAYERS] >= 0).sum(1) >= cfg.seed_min_x])
    hm = np.concatenate(cands)
    # x-line fit of the x hits
    zx = SCIFI_Z[X_LAYERS] - Z_REF
    mx = hm[:, X_LAYERS] >= 0
    h = np.stack([np.ones(len(zx)), zx / 1000.0], 1)
    px, _ = lsq(h, hits.m[np.maximum(hm[:, X_LAYERS], 0)], cfg.scifi_sigma, mx)
    ev = hits.event[hm[np.arange(len(hm)), np.argmax(hm >= 0, 1)]]
    # stereo hits: all in the |y| < half window, clustered in ty = y/z
    qs, hs, ls, tys = [], [], [], []
    for layer in UV_LAYERS:
        al = SCIFI_ALPHA[layer]
        xc = px[:, 0] + px[:, 1] * (SCIFI_Z[layer] - Z_REF) / 1000.0
        half = cfg.scifi_half_y * abs(math.sin(al))
        q, hh = index.window(layer, ev, xc * math.cos(al) - half, xc * math.cos(al) + half)
        y = (xc[q] * math.cos(al) - hits.m[hh]) / math.sin(al)
        qs.append(q)
        hs.append(hh)
        ls.append(np.full(len(q), layer))
        tys.append(y / SCIFI_Z[layer])
    q, hh, lay, ty = (np.concatenate(v) for v in (qs, hs, ls, tys))
    best_ty, _n_in = _densest(q, ty, cfg.seed_tol_ty, len(hm))
    sel = np.abs(ty - best_ty[q]) <= cfg.seed_tol_ty / 2
    _fill_one_per_layer(hm, q[sel], lay[sel], hh[sel], np.abs(ty - best_ty[q])[sel])
    n_uv = (hm[:, UV_LAYERS] >= 0).sum(1)
    par, chi2, n = _seed_fit(hits, hm, cfg.scifi_sigma)
    chi2ndf = chi2 / np.maximum(n - 4, 1)
    good = (n_uv >= cfg.seed_min_uv) & np.isfinite(chi2ndf) & (chi2ndf < cfg.seed_max_chi2)
    hm, par, chi2ndf, ev, n = hm[good], par[good], chi2ndf[good], ev[good], n[good]
    rank = np.empty(len(hm), np.int64)
    rank[np.lexsort((chi2ndf, -n))] = np.arange(len(hm))
    keep = _clone_kill(hm, rank, len(hits.m))
    par = par[keep]
    return Seeds(
        ev[keep],
        hm[keep],
        par[:, 0],
        par[:, 1] / 1000.0,
        par[:, 2],
        par[:, 3] / 1000.0,
        chi2ndf[keep],
    )


def _densest(group: np.ndarray, value: np.ndarray, width: float, n_groups: int):
    """Per group, the centre of the ``width`` window holding most values (Hough cluster).

    Returns ``(centre (G,), count (G,))``; centre NaN for empty groups.
    """
    key = group * 100.0 + value  # |value| < 50 (slopes, metres); groups 100 apart
    order = np.argsort(key, kind="stable")
    key, g, v = key[order], group[order], value[order]
    count = np.searchsorted(key, key + width, "right") - np.arange(len(key))
    centre = np.full(n_groups, np.nan)
    n = np.zeros(n_groups, np.int64)
    if len(key) == 0:
        return centre, n
    starts = _first_of_groups(g)
    is_start = np.zeros(len(g), bool)
    is_start[starts] = True
    seg = np.cumsum(is_start) - 1
    top = np.maximum.reduceat(count, starts)
    at_top = np.flatnonzero(count == top[seg])
    first = at_top[_first_of_groups(g[at_top])]
    centre[g[first]] = v[first] + width / 2
    n[g[first]] = count[first]
    return centre, n


def _fill_one_per_layer(hm, cand, layer, hit, dist) -> None:
    """Write into ``hm[cand, layer]`` the hit with the smallest ``dist`` per (cand, layer)."""
    order = np.lexsort((dist, layer, cand))
    first = order[_first_of_groups(cand[order], layer[order])]
    hm[cand[first], layer[first]] = hit[first]


# ---------------------------------------------------------------------------------------------
# matching and forward


def _pairs_same_event(ev_a: np.ndarray, ev_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(i, j)`` with ``ev_a[i] == ev_b[j]``."""
    order = np.argsort(ev_b, kind="stable")
    eb = ev_b[order]
    i, j = _expand(np.searchsorted(eb, ev_a, "left"), np.searchsorted(eb, ev_a, "right"))
    return i, order[j]


def _one_to_one(a: np.ndarray, b: np.ndarray, cost: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Greedy one-to-one assignment of pairs by ``cost``: a pair is taken when it is the best
    of both its members among pairs still open. Returns indices of the chosen pairs."""
    chosen = []
    open_ = np.ones(len(a), bool)
    for _ in range(rounds):
        idx = np.flatnonzero(open_)
        if len(idx) == 0:
            break
        o = idx[np.lexsort((cost[idx], a[idx]))]
        best_a = o[_first_of_groups(a[o])]
        o = idx[np.lexsort((cost[idx], b[idx]))]
        best_b = o[_first_of_groups(b[o])]
        take = np.intersect1d(best_a, best_b)
        chosen.append(take)
        open_ &= ~np.isin(a, a[take]) & ~np.isin(b, b[take])
    return np.concatenate(chosen) if chosen else np.zeros(0, np.int64)


def matching(vt: VeloTracks, seeds: Seeds, cfg: SimConfig) -> dict[str, np.ndarray]:
    """Match VELO tracks and seeds as LHCb's Allen (HLT1) matching: x compared at the kick
    plane (parametrised in Δtx and ty), y at z = 10 m (no bending correction, as Allen);
    χ² = f₁ dx²/tol_x² + f₂ dy²/tol_y² + f₃ Δty² + f₄ Δtx² with tol_x² = dx_tol² +
    (dx_tol_slope Δtx)² and tol_y² = dy_tol² + dy_tol_slope² (tx² + ty²), preselection
    |dx| < 20 mm, |dy| < 150 mm, |Δty| < 0.02, and χ² < 2; then a one-to-one assignment by χ² (Allen runs a small ghost-
    killer NN before its clone killing; the classifier of this chapter plays that role)."""
    iv, js = _pairs_same_event(vt.event, seeds.event)
    tx_v, ty_v = vt.tx[iv], vt.ty[iv]
    dtx = seeds.tx[js] - tx_v
    dty = seeds.ty[js] - ty_v
    zx = cfg.z_kick(dtx, ty_v)
    dx = seeds.x_ref[js] + seeds.tx[js] * (zx - Z_REF) - (vt.x0[iv] + tx_v * zx)
    dy = seeds.y_ref[js] + seeds.ty[js] * (Z_MATCH_Y - Z_REF) - (vt.y0[iv] + ty_v * Z_MATCH_Y)
    tol_x2 = cfg.match_dx_tol**2 + (cfg.match_dx_tol_slope * dtx) ** 2
    tol_y2 = cfg.match_dy_tol**2 + cfg.match_dy_tol_slope**2 * (tx_v**2 + ty_v**2)
    f = cfg.match_chi2_factors
    chi2 = f[0] * dx**2 / tol_x2 + f[1] * dy**2 / tol_y2 + f[2] * dty**2 + f[3] * dtx**2
    ok = (
        (np.abs(dtx) < cfg.pt_kick / cfg.match_pmin)
        & (np.abs(dx) < cfg.match_max_dx)
        & (np.abs(dy) < cfg.match_max_dy)
        & (np.abs(dty) < cfg.match_max_dty)
        & (chi2 < cfg.match_max_chi2)
    )
    k = np.flatnonzero(ok)
    k = k[_one_to_one(iv[k], js[k], chi2[k])]
    return {
        "velo": iv[k],
        "seed": js[k],
        "dx": dx[k],
        "dy": dy[k],
        "dtx": dtx[k],
        "dty": dty[k],
        "chi2": chi2[k],
        "qop": dtx[k] / cfg.pt_kick,
    }


def _slope_change(
    vt: VeloTracks,
    i: np.ndarray,
    z: np.ndarray,
    m: np.ndarray,
    alpha: np.ndarray,
    cfg: SimConfig,
    n_iter: int = 2,
) -> np.ndarray:
    """Slope change Δtx implied by SciFi hit (z, m, α) for VELO track ``i``: a first estimate
    with the nominal kick, then ``n_iter − 1`` refinements of the kick position and vertical
    bending parametrisation."""
    ca, sa = np.cos(alpha), np.sin(alpha)
    tx, ty, x0, y0 = vt.tx[i], vt.ty[i], vt.x0[i], vt.y0[i]
    c0, c1, c2, c3 = cfg.z_mag_params
    zk = c0 + c3 * ty * ty
    y = y0 + ty * z
    dtx = ((m + y * sa) / ca - x0 - tx * zk) / (z - zk) - tx
    for _ in range(n_iter - 1):
        zk = zk + (c1 * np.abs(dtx) + c2 * dtx * dtx)
        bend = cfg.ty_after(ty, dtx) - ty
        y = y0 + ty * z + bend * (z - zk)
        dtx = ((m + y * sa) / ca - x0 - tx * zk) / (z - zk) - tx
        zk = c0 + c3 * ty * ty
    return dtx


def forward(vt: VeloTracks, hits: SciFiHits, index: _LayerIndex, cfg: SimConfig):
    """Forward tracking: SciFi hits for each VELO track (see module docstring).

    Returns ``(velo index (C,), scifi hit matrix (C, 12), PR q/p (C,), quality (C,))``; the
    quality is the mean squared spread of the hits' Δtx, expressed as a distance at the
    reference plane (mm²).
    """
    t2 = vt.tx**2 + vt.ty**2
    sin_theta = np.sqrt(t2 / (1 + t2))
    pmin = np.maximum(cfg.fwd_pmin, cfg.fwd_ptmin / np.maximum(sin_theta, 1e-6))
    lever = Z_REF - cfg.z_mag
    qs, hs, ls = [], [], []
    for layer in range(len(SCIFI_Z)):
        z, al = SCIFI_Z[layer], SCIFI_ALPHA[layer]
        xs, ys = vt.at(z)
        half = cfg.pt_kick / pmin * (z - cfg.z_mag) * math.cos(al) + 20.0
        centre = xs * math.cos(al) - ys * math.sin(al)
        q, hh = index.window(layer, vt.event, centre - half, centre + half)
        qs.append(q)
        hs.append(hh)
        ls.append(np.full(len(q), layer))
    q, hh, lay = (np.concatenate(v) for v in (qs, hs, ls))
    dtx = _slope_change(vt, q, SCIFI_Z[lay], hits.m[hh], SCIFI_ALPHA[lay], cfg)
    tol = cfg.fwd_tol / lever
    centre, _ = _densest(q, dtx, tol, len(vt))
    dist = np.abs(dtx - centre[q])
    sel = dist <= tol / 2
    hm = np.full((len(vt), len(SCIFI_Z)), -1, np.int64)
    _fill_one_per_layer(hm, q[sel], lay[sel], hh[sel], dist[sel])
    n = (hm >= 0).sum(1)
    nx = (hm[:, X_LAYERS] >= 0).sum(1)
    cand = np.flatnonzero((n >= cfg.fwd_min_hits) & (nx >= cfg.fwd_min_x))
    hm = hm[cand]
    mask = hm >= 0
    rows, cols = np.nonzero(mask)
    d = np.zeros(hm.shape)
    d[rows, cols] = _slope_change(
        vt, cand[rows], SCIFI_Z[cols], hits.m[hm[rows, cols]], SCIFI_ALPHA[cols], cfg
    )
    n = mask.sum(1)
    mean = d.sum(1) / n
    quality = (np.where(mask, d - mean[:, None], 0.0) ** 2).sum(1) / np.maximum(n - 1, 1)
    return cand, hm, mean / cfg.pt_kick, quality * lever**2


# ---------------------------------------------------------------------------------------------
# candidates: fit, truth label, branches


def _candidates(
    parts: Particles,
    velo: VeloHits,
    scifi: SciFiHits,
    vt: VeloTracks,
    vidx: np.ndarray,
    shm: np.ndarray,
    qop0: np.ndarray,
    cfg: SimConfig,
    extra: dict[str, np.ndarray],
    keep_hits: bool = False,
) -> dict[str, np.ndarray]:
    """Fit, truth-label and describe long-track candidates (VELO track + SciFi hits); with
    ``keep_hits`` also their hit matrices ``velo_hits (C, 26)`` and ``scifi_hits (C, 12)``
    and fitted ``x0 tx y0 ty`` (at z = 0, before the scatterer)."""
    vhm = vt.hits[vidx]
    c = len(vidx)
    fit = track_fit(velo, scifi, vhm, shm, qop0, cfg)
    shm = fit["scifi_hits"]
    vc, _ = np.nonzero(vhm >= 0)
    sc, _ = np.nonzero(shm >= 0)
    ghost = ghost_labels(
        np.concatenate([vc, sc]),
        np.concatenate([np.zeros(len(vc), np.int64), np.ones(len(sc), np.int64)]),
        np.concatenate([velo.pid[vhm[vhm >= 0]], scifi.pid[shm[shm >= 0]]]),
        c,
        cfg.ghost_threshold,
    )
    t2 = fit["tx"] ** 2 + fit["ty"] ** 2
    theta = np.arctan(np.sqrt(t2))
    p = 1.0 / np.abs(fit["qop"])
    # truth: the particle contributing most SciFi hits, its momentum and its relation to the
    # VELO track's particle
    row, col = np.nonzero(shm >= 0)
    spid = scifi.pid[shm[row, col]]
    true_p = np.zeros(c)
    main_pid, main_frac = np.zeros(c, np.int64), np.zeros(c)
    if (spid > 0).any():
        uniq, cnt = np.unique(
            np.stack([row[spid > 0], spid[spid > 0]], 1), axis=0, return_counts=True
        )
        o = np.lexsort((-cnt, uniq[:, 0]))
        first = o[_first_of_groups(uniq[o, 0])]
        main_pid[uniq[first, 0]] = uniq[first, 1]
        main_frac[uniq[first, 0]] = cnt[first] / np.maximum((shm >= 0).sum(1)[uniq[first, 0]], 1)
        true_p[uniq[first, 0]] = parts.p[np.searchsorted(parts.pid, uniq[first, 1])]
    velo_pid = velo.pid[vhm[np.arange(c), np.argmax(vhm >= 0, 1)]] if c else np.zeros(0, int)
    at = np.searchsorted(parts.pid, np.maximum(main_pid, 1))
    assert parts.parent is not None  # set by Particles.__post_init__
    daughter = (main_pid > 0) & (parts.parent[np.minimum(at, len(parts) - 1)] == velo_pid)
    fragment = daughter & (parts.z0[np.minimum(at, len(parts) - 1)] == cfg.z_scatter)
    origin = np.select(
        [~ghost, (main_pid == 0) | (main_frac < cfg.ghost_threshold), fragment, daughter],
        [0, 4, 2, 1],
        3,
    )
    return {
        "best_pt": p * np.sin(theta),
        "chi2": fit["chi2"],
        "first_qop": qop0,
        "n_scifi": (shm >= 0).sum(1),
        "n_velo": (vhm >= 0).sum(1),
        "ndof": fit["ndof"],
        "qop": fit["qop"],
        **extra,
        "ghost": ghost.astype(np.int32),
        "p": p,
        "eta": -np.log(np.tan(theta / 2)),
        "phi": np.arctan2(fit["ty"], fit["tx"]),
        "event": vt.event[vidx],
        "true_p": true_p,
        "ghost_origin": origin,
        **(
            {"velo_hits": vhm, "scifi_hits": shm, **{k: fit[k] for k in ("x0", "tx", "y0", "ty")}}
            if keep_hits
            else {}
        ),
    }


def reconstruct(
    parts: Particles,
    velo: VeloHits,
    scifi: SciFiHits,
    cfg: SimConfig,
    tracks: Sequence[str] = ("forward", "matching"),
    keep_hits: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Run VELO tracking, seeding, matching and forward on the hits of any number of events.

    Returns ``{track type: {branch: (C,) array}}`` with the branches of the output tree; with
    ``keep_hits`` also each candidate's hit indices ``velo_hits (C, 26)`` into ``velo`` and
    ``scifi_hits (C, 12)`` into ``scifi`` (−1: none) and its fitted ``x0 tx y0 ty``.
    """
    out = {}
    vt = velo_tracks(velo)
    index = _LayerIndex(scifi)
    if "matching" in tracks:
        seeds = seeding(scifi, index, cfg)
        m = matching(vt, seeds, cfg)
        out["matching"] = _candidates(
            parts,
            velo,
            scifi,
            vt,
            m["velo"],
            seeds.hits[m["seed"]],
            m["qop"],
            cfg,
            {
                "pr_match_chi2": m["chi2"],
                "pr_match_dtx": m["dtx"],
                "pr_match_dty": m["dty"],
                "pr_match_dx": m["dx"],
                "pr_match_dy": m["dy"],
                "pr_seed_chi2": seeds.chi2ndf[m["seed"]],
            },
            keep_hits,
        )
    if "forward" in tracks:
        cand, hm, qop, quality = forward(vt, scifi, index, cfg)
        out["forward"] = _candidates(
            parts, velo, scifi, vt, cand, hm, qop, cfg, {"pr_forward_quality": quality}, keep_hits
        )
    return out
