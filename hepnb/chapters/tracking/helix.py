"""Helix fit of found tracks in a uniform solenoid field along z: p_T, charge, cot θ, z0.

In a uniform field B along z a charged particle follows a helix: a circle in the x–y plane of
radius R and a straight line in the (s, z) plane, s the arc length along the circle. Each
track's hits are fitted

* in x–y with the algebraic "hyper" circle fit of Al-Sharadqah and Chernov [HYPER]: the
  linear least squares of x² + y² + D·x + E·y + F = 0 of Kåsa [KASA] (on coordinates centred
  on the track's mean hit), corrected by the root of a cubic that removes Kåsa's bias towards
  small circles on short, sagitta-limited arcs (``method="kasa"`` keeps the plain Kåsa fit,
  to show that bias). Both are exact on exact circles. Optionally the beam line (the origin)
  is added as one more point — a vertex constraint that helps tracks of three hits;
* in s–z with the straight line z = z0 + s·cot θ by least squares, s measured from the
  point of closest approach (PCA) of the circle to the beam line in the direction of motion.

Then p_T = c·|B|·R with c = 0.299792458 GeV/(T·m) (p_T = 0.3·B·R of the textbooks; c is the
speed of light, 299 792 458 m/s by the SI definition, [PDG] table of physical constants), and
p_z = p_T·cot θ. A particle moving outwards from the beam line turns clockwise seen from +z
when charge·B > 0 (the Lorentz force q·v × B).

Everything is vectorised over all tracks at once: per-track sums are ``np.bincount`` over
the flat list of the tracks' hits, so there is no Python loop over tracks.

[KASA] I. Kåsa, "A circle fitting procedure and its error analysis", IEEE Trans. Instrum.
Meas. 25 (1976) 8.
[HYPER] A. Al-Sharadqah, N. Chernov, "Error analysis for circle fitting algorithms",
Electron. J. Stat. 3 (2009) 886, arXiv:0907.0421.
[GLUCKSTERN] R. L. Gluckstern, "Uncertainties in track momentum and direction, due to
multiple scattering and measurement errors", Nucl. Instrum. Meth. 24 (1963) 381.
[PDG] Particle Data Group, Review of Particle Physics, Phys. Rev. D 110 (2024) 030001
(physical constants; "Particle detectors at accelerators", momentum measurement in a uniform
field, for the Gluckstern resolution formula).
"""

from __future__ import annotations

import numpy as np

from hepnb.chapters.tracking.schema import C_LIGHT
from hepnb.evaluate import check_csr

__all__ = ["C_LIGHT", "fit_tracks", "gluckstern_resolution", "resolution"]


#: Hits closer to a straight line than this have no measurable curvature: the determinant of
#: the covariance of the hit positions over the square of its trace (≈ the smaller over the
#: larger eigenvalue).
_COLLINEAR = 1e-12
#: Newton iterations of the hyper fit at most (4–6 are usual [HYPER]).
_NEWTON_ITERATIONS = 50
_METHODS = ("hyper", "kasa")


def _check(offsets, track_hits, x, y, z, b_field) -> tuple[np.ndarray, ...]:
    """Validated ``(offsets, hits, x, y, z)`` and the field."""
    off, hits = check_csr(offsets, track_hits, "offsets", "track_hits")
    cols = []
    for name, a in (("x", x), ("y", y), ("z", z)):
        c = np.asarray(a, dtype=np.float64)
        if c.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array of hit coordinates (mm)")
        cols.append(c)
    n_hits = len(cols[0])
    if len(cols[1]) != n_hits or len(cols[2]) != n_hits:
        raise ValueError(f"x, y, z: lengths {[len(c) for c in cols]}, expected one per hit")
    if len(hits) and (hits.min() < 0 or hits.max() >= n_hits):
        bad = hits[(hits < 0) | (hits >= n_hits)]
        raise ValueError(f"track_hits: hit indices {bad[:5].tolist()} outside 0 … {n_hits - 1}")
    used = [c[hits] for c in cols]
    for name, c in zip("xyz", used, strict=True):
        if not np.isfinite(c).all():
            raise ValueError(f"{name}: NaN/inf on {int((~np.isfinite(c)).sum())} track hit(s)")
    if not (isinstance(b_field, int | float | np.number) and np.isfinite(b_field) and b_field):
        raise ValueError(f"b_field={b_field!r}: expected a non-zero field along z in T")
    return off, hits, *used


def fit_tracks(
    offsets,
    track_hits,
    x,
    y,
    z,
    b_field: float,
    *,
    through_origin: bool = False,
    method: str = "hyper",
    pt_max: float = 1000.0,
) -> dict[str, np.ndarray]:
    """Helix parameters of every track (circle in x–y, line in s–z), vectorised.

    Args:
        offsets: ``(T + 1,)`` CSR offsets of the tracks into ``track_hits``.
        track_hits: hit indices of all tracks (``Tracks.hits``).
        x, y, z: ``(H,)`` hit positions in mm.
        b_field: solenoid field along +z in T (negative: along −z).
        through_origin: add the beam line (x = y = 0) to each circle fit as one more point
            (a vertex constraint; useful for 3-hit tracks of particles from the beam line).
        method: ``"hyper"`` (algebraic fit without essential bias [HYPER], the default) or
            ``"kasa"`` [KASA] (biased towards small circles on short arcs: for comparison).
        pt_max: the p_T (GeV) given to tracks without a circle (``valid`` False).

    Returns:
        ``(T,)`` arrays:

        * ``valid``: the circle is defined: ≥ 3 hits, not collinear. Tracks with fewer hits
          or with collinear hits (R → ∞) get ``pt = pt_max``, ``charge = 0``, NaN
          ``radius``/``xc``/``yc``/``d0``/``rms``, and ``cot_theta``/``z0`` from a line in
          z vs the transverse distance from the beam line (right for a straight track from
          it).
        * ``n_hits``; ``radius`` R (mm); ``xc``, ``yc``: the centre (mm);
        * ``d0`` (mm): |centre| − R, the distance of closest approach of the circle to the
          beam line (positive when the beam line lies outside the circle);
        * ``phi0`` (rad): direction of motion at the PCA;
        * ``pt`` (GeV); ``charge`` (±1; 0 where not valid), from the sense of rotation of a
          particle moving outwards;
        * ``cot_theta``, ``z0`` (mm): the line z = z0 + s·cot θ, s the arc length from the
          PCA (NaN for fewer than 2 hits at distinct s);
        * ``px``, ``py``, ``pz`` (GeV) at the PCA;
        * ``rms`` (mm): RMS distance of the hits from the circle.

        Arc lengths cover tracks from a quarter turn before the PCA to three quarters after
        it (curlers up to three quarters of a turn).

    Raises:
        ValueError: offsets not CSR, hit indices outside the hit columns, columns of
            different lengths or NaN on track hits, a zero or non-finite field, pt_max ≤ 0.
    """
    off, _, hx, hy, hz = _check(offsets, track_hits, x, y, z, b_field)
    if not pt_max > 0:
        raise ValueError(f"pt_max={pt_max!r}: expected a positive p_T in GeV")
    if method not in _METHODS:
        raise ValueError(f"method={method!r}: expected one of {_METHODS}")
    n_t = len(off) - 1
    n_hits = np.diff(off)
    track = np.repeat(np.arange(n_t), n_hits)

    def per_track(ids: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.bincount(ids, weights=w, minlength=n_t)

    # circle points: the hits, plus the origin per track when asked
    if through_origin:
        ct = np.concatenate([track, np.arange(n_t)])
        cx, cy = np.concatenate([hx, np.zeros(n_t)]), np.concatenate([hy, np.zeros(n_t)])
    else:
        ct, cx, cy = track, hx, hy
    n_pts = np.maximum(np.bincount(ct, minlength=n_t), 1).astype(np.float64)
    mx, my = per_track(ct, cx) / n_pts, per_track(ct, cy) / n_pts
    u, v = cx - mx[ct], cy - my[ct]
    w = u * u + v * v
    suu, svv, suv = (per_track(ct, a) / n_pts for a in (u * u, v * v, u * v))
    suw, svw, mean_w = (per_track(ct, a) / n_pts for a in (u * w, v * w, w))
    cov = suu * svv - suv * suv
    valid = (n_hits >= 3) & (cov > _COLLINEAR * mean_w * mean_w)
    eta = (
        np.zeros(n_t)
        if method == "kasa"
        else _hyper_root(ct, w, n_pts, valid, mean_w, cov, suu, svv, suv, suw, svw)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        # w = 2a·u + 2b·v + (R² − a² − b²), centre (a, b) in centred coordinates; Kåsa: η = 0
        det = eta * eta - eta * mean_w + cov
        a = np.where(valid, (suw * (svv - eta) - svw * suv) / (2 * det), np.nan)
        b = np.where(valid, (svw * (suu - eta) - suw * suv) / (2 * det), np.nan)
        radius = np.sqrt(a * a + b * b + mean_w - 2 * eta)
    valid &= np.isfinite(radius) & (radius > 0)
    radius = np.where(valid, radius, np.nan)
    xc, yc = np.where(valid, mx + a, np.nan), np.where(valid, my + b, np.nan)

    # sense of rotation of a particle moving outwards: clockwise (seen from +z) when the
    # centre × the hits is positive along z
    sx, sy = per_track(track, hx), per_track(track, hy)
    clockwise = np.where(xc * sy - yc * sx > 0, 1.0, -1.0)
    charge = np.where(valid, clockwise * np.sign(b_field), 0).astype(np.int64)

    # point of closest approach to the beam line and the direction of motion there
    dist = np.hypot(xc, yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(dist > 0, 1 - radius / dist, 1.0)
    ux0, uy0 = xc * scale - xc, yc * scale - yc  # PCA − centre, length R
    vx, vy = clockwise * uy0, -clockwise * ux0
    mean_dir = np.arctan2(sy, sx)  # straight tracks: direction of the mean hit
    phi0 = np.where(valid, np.arctan2(vy, vx), mean_dir)

    # arc length of each hit from the PCA, in the direction of motion
    uxi, uyi = hx - xc[track], hy - yc[track]
    ccw = np.arctan2(ux0[track] * uyi - uy0[track] * uxi, ux0[track] * uxi + uy0[track] * uyi)
    turned = np.mod(-clockwise[track] * ccw + np.pi / 2, 2 * np.pi) - np.pi / 2
    s = np.where(valid[track], radius[track] * turned, np.hypot(hx, hy))
    with np.errstate(invalid="ignore"):
        residual = np.hypot(uxi, uyi) - radius[track]
    nh = np.maximum(n_hits, 1).astype(np.float64)
    rms = np.sqrt(per_track(track, residual * residual) / nh)

    # line z = z0 + s·cot θ, least squares on centred s and z
    ms, mz = per_track(track, s) / nh, per_track(track, hz) / nh
    ds, dz = s - ms[track], hz - mz[track]
    sss, ssz = per_track(track, ds * ds), per_track(track, ds * dz)
    with np.errstate(divide="ignore", invalid="ignore"):
        cot = np.where((n_hits >= 2) & (sss > 0), ssz / sss, np.nan)
    z0 = mz - cot * ms

    with np.errstate(invalid="ignore"):
        pt = np.where(valid, C_LIGHT * abs(float(b_field)) * radius / 1000.0, float(pt_max))
    return {
        "valid": valid,
        "n_hits": n_hits,
        "radius": radius,
        "xc": xc,
        "yc": yc,
        "d0": dist - radius,
        "phi0": phi0,
        "pt": pt,
        "charge": charge,
        "cot_theta": cot,
        "z0": z0,
        "px": pt * np.cos(phi0),
        "py": pt * np.sin(phi0),
        "pz": pt * cot,
        "rms": np.where(valid, rms, np.nan),
    }


def _hyper_root(
    ct: np.ndarray,
    w: np.ndarray,
    n_pts: np.ndarray,
    valid: np.ndarray,
    mz: np.ndarray,
    cov: np.ndarray,
    mxx: np.ndarray,
    myy: np.ndarray,
    mxy: np.ndarray,
    mxz: np.ndarray,
    myz: np.ndarray,
) -> np.ndarray:
    """``(T,)`` the root η of the characteristic polynomial of the "hyper" fit [HYPER]:
    Newton's method from η = 0 (the Kåsa solution), all tracks at once (a loop over
    iterations, each track stopping where Newton stops improving)."""
    mzz = np.bincount(ct, weights=w * w, minlength=len(mz)) / n_pts
    var_z = mzz - mz * mz
    a2 = 4 * cov - 3 * mz * mz - mzz
    a1 = var_z * mz + 4 * cov * mz - mxz * mxz - myz * myz
    a0 = mxz * (mxz * myy - myz * mxy) + myz * (myz * mxx - mxz * mxy) - var_z * cov
    x, y = np.zeros(len(mz)), a0.copy()
    active = valid.copy()
    for _ in range(_NEWTON_ITERATIONS):
        if not active.any():
            break
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x_new = x - y / (a1 + x * (2 * a2 + 16 * x * x))
            y_new = a0 + x_new * (a1 + x_new * (a2 + 4 * x_new * x_new))
        step = active & np.isfinite(x_new) & (x_new != x) & (np.abs(y_new) < np.abs(y))
        x, y = np.where(step, x_new, x), np.where(step, y_new, y)
        active = step
    return x


def resolution(fit_pt, true_pt) -> np.ndarray:
    """Relative p_T residual ``(pt_fit − pt_true) / pt_true``, ``(n,)``.

    Raises:
        ValueError: shapes differ, or a true p_T that is not positive and finite.
    """
    fit, true = np.asarray(fit_pt, np.float64), np.asarray(true_pt, np.float64)
    if fit.shape != true.shape:
        raise ValueError(f"fit_pt has shape {fit.shape} but true_pt {true.shape}")
    if not (np.isfinite(true) & (true > 0)).all():
        raise ValueError("true_pt: expected positive, finite p_T (GeV)")
    return (fit - true) / true


def gluckstern_resolution(
    pt, b_field: float, length: float, n_points: int, sigma: float
) -> np.ndarray:
    """Relative p_T resolution σ(p_T)/p_T from the position errors alone [GLUCKSTERN]:
    σ(κ) = σ / L² · √(720 / (N + 4)) for N equally spaced measurements of error ``sigma``
    across a projected track length L (the form quoted by [PDG]), times R = 1/κ.

    Args:
        pt: p_T in GeV (array or scalar).
        b_field: field in T.
        length: projected (transverse) track length L in mm.
        n_points: number of measurements N.
        sigma: position error perpendicular to the track in mm.
    """
    if not (length > 0 and sigma >= 0 and n_points >= 3 and b_field):
        raise ValueError(
            f"length={length}, sigma={sigma}, n_points={n_points}, b_field={b_field}: "
            "expected L > 0, σ ≥ 0, N ≥ 3 and a non-zero field"
        )
    radius = np.asarray(pt, np.float64) * 1000.0 / (C_LIGHT * abs(b_field))  # mm
    return sigma / length**2 * np.sqrt(720.0 / (n_points + 4)) * radius
