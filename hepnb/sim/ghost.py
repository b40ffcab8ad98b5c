"""LHCb-like forward spectrometer with real pattern recognition, to make ghost tracks.

Ghost tracks are not drawn from hand-made distributions: they are what two pattern
recognition algorithms produce when they combine hits of different particles or noise.

Detector (lengths in mm, momenta in MeV, the z axis along the beam):

* **VELO**: 26 pixel stations between z = −275 and 750 mm, active 5.1 mm < r and |x|, |y| <
  42 mm, 12 μm resolution in x and y, 99% hit efficiency. VELO pattern recognition is taken
  as perfect: every particle with ≥ 3 VELO hits gives one VELO track made of its own hits
  (LHCb's VELO tracking has ≈1% ghosts, negligible here).
* **Material**: one effective thin scatterer at z = 1.8 m (RF foil, RICH1 and UT, 15% X₀,
  Highland multiple scattering), where hadrons also interact (8% λ_I) into 1 + Poisson(1)
  charged fragments.
* **Dipole**: an equivalent point kick Δtx = q·(1.2 GeV)/p (∫B dl ≈ 4 T m) whose position
  depends on the track, z = 5287.6 − 8.0 |Δtx| + 317.7 Δtx² − 1418 ty² mm, and a vertical
  fringe-field bending of ty — LHCb's own parametrisation (the zMag and bendY parameters of
  its matching).
* **SciFi**: three stations T1–T3 of four layers (x, u, v, x; stereo ±5°) at z = 7.8–9.4 m,
  |x| < 3186 mm, |y| < 2417 mm, a 60 mm beam hole, 80 μm resolution on the measured
  coordinate ``m = x cos α − y sin α``, 98.5% efficiency, plus uniformly spread noise and
  spill-over clusters in every layer.

Events (defaults: about two visible pp collisions per crossing): primaries (75% π, 15% K,
10% p) from a luminous region σ_z = 45 mm with a Tsallis pT spectrum (T = 150 MeV, n = 7) and
η uniform in [1.5, 5.5]; π and K decay in flight (π → μν, K → μν or ππ⁰, two-body
kinematics) between the VELO and the last SciFi layer; secondaries (K_S⁰/Λ daughters) born
between the VELO and the magnet, which leave SciFi hits but no VELO track.

Reconstruction, vectorised over all events of a chunk (no per-event Python loop):

* **Seeding** (SciFi standalone, ~Hybrid seeding): pairs of x hits in the first and last
  x layers whose line points back to the interaction region within a minimum-momentum
  window, confirmed by the nearest hit in the other x layers, then stereo hits clustered in
  ty = y/z (Hough), a 4-parameter straight-line fit and hit-sharing clone removal.
* **Matching** (VELO track × seed, as LHCb's Allen HLT1 matching): x compared at the
  parametrised kick plane, y at z = 10 m; χ² = 1.5 dx²/tol_x² + 0.2 dy²/tol_y² + 937.5 Δty²
  + 2 Δtx² with Allen's tolerances tol_x² = 10.12² + (101 Δtx)² mm², tol_y² = 1.59² +
  212.1² (tx² + ty²) mm², preselection |dx| < 20 mm, |dy| < 150 mm, |Δty| < 0.02 and
  χ² < 2 (Allen's TrackMatchingConsts and configured weights); then a one-to-one
  assignment by χ² (Allen adds a small NN here; the classifier of this chapter plays that
  role).
* **Forward** (VELO track + SciFi hits): hits in a window set by a minimum p and pT around
  the straight-line extrapolation; each hit's slope change Δtx given the VELO track is
  computed with the kick parametrisation (stereo hits use the VELO y); the densest Hough
  cluster in Δtx with ≥ 9 layers (≥ 4 x layers) is the track.
* **Track fit**: a weighted least-squares fit of all hits with 7 parameters (x, tx, y, ty at
  z = 0, q/p, and the two scattering kinks with a Highland prior), iterated around the
  reference trajectory for the non-linear magnet terms — for this model equivalent to a
  Kalman filter–smoother — with up to two outlier hits removed. It gives χ², ndof and q/p.

Each candidate is labelled ghost with the LHCb rule: it is real when one particle
contributes ≥ 70% of its VELO hits *and* ≥ 70% of its SciFi hits (noise belongs to no
particle); see :func:`ghost_labels`.

The output ROOT files have the Allen validator's tree ``kalman_validator/kalman_ip_tree``
with the forward or matching feature branches, ``ghost`` and extra branches documented in
:data:`EXTRA_BRANCHES`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hepnb import io

__all__ = [
    "EXTRA_BRANCHES",
    "FEATURES",
    "TREE",
    "GhostConfig",
    "Particles",
    "event_record",
    "generate",
    "generate_particles",
    "ghost_labels",
    "propagate",
    "reconstruct",
    "simulate",
]

log = logging.getLogger(__name__)

#: The Allen validator tree.
TREE = "kalman_validator/kalman_ip_tree"
#: Feature branches per track type (the design's feature sets).
FEATURES: dict[str, tuple[str, ...]] = {
    "forward": (
        "best_pt",
        "chi2",
        "first_qop",
        "n_scifi",
        "n_velo",
        "ndof",
        "pr_forward_quality",
        "qop",
    ),
    "matching": (
        "best_pt",
        "chi2",
        "first_qop",
        "n_scifi",
        "n_velo",
        "ndof",
        "pr_match_chi2",
        "pr_match_dtx",
        "pr_match_dty",
        "pr_match_dx",
        "pr_match_dy",
        "pr_seed_chi2",
        "qop",
    ),
}
#: Branches the simulator writes beyond the Allen ones (not features; for plots and checks).
EXTRA_BRANCHES: dict[str, str] = {
    "p": "reconstructed momentum 1/|qop| (MeV)",
    "eta": "pseudorapidity from the fitted VELO slopes",
    "phi": "azimuth from the fitted VELO slopes (rad)",
    "event": "event number",
    "true_p": "momentum of the particle contributing most SciFi hits (MeV; 0 if only noise)",
    "ghost_origin": "truth, for studies: 0 real; a ghost whose SciFi hits are mostly 1 the "
    "decay product of the VELO track's particle, 2 a fragment of its interaction in the "
    "material, 3 another particle; 4 noise or no majority",
}

#: VELO station z positions (mm).
VELO_Z = np.r_[np.arange(-275.0, 276.0, 25.0), [450.0, 600.0, 750.0]]
#: SciFi layer z positions (mm): T1, T2, T3 with layers x, u, v, x.
SCIFI_Z = np.array(
    [7826.0, 7896.0, 7966.0, 8036.0, 8508.0, 8578.0, 8648.0, 8718.0, 9193.0, 9263.0, 9333.0, 9403.0]
)
#: SciFi stereo angles (rad): 0 for x layers, ±5° for u/v.
SCIFI_ALPHA = np.deg2rad(np.tile([0.0, 5.0, -5.0, 0.0], 3))
X_LAYERS = np.flatnonzero(SCIFI_ALPHA == 0)
UV_LAYERS = np.flatnonzero(SCIFI_ALPHA != 0)
#: Reference plane for SciFi states (mm).
Z_REF = 8520.0
#: Plane where the matching compares y (mm), as LHCb's matching.
Z_MATCH_Y = 10_000.0
_SPAN, _OFF = 20_000.0, 10_000.0  # event key spacing for sorted searches (mm)


@dataclass(frozen=True)
class GhostConfig:
    """Event, detector and pattern-recognition settings (mm, MeV, rad).

    The defaults describe the detector above at about two visible pp collisions per crossing;
    the ghost fraction and the feature shapes follow from them and from the algorithms (none
    of the settings was tuned to reach a ghost fraction).
    """

    # events
    n_primary: float = 70.0  #: mean charged primaries per event with η in eta_range
    n_secondary: float = 15.0  #: mean charged secondaries born between VELO and magnet
    noise_per_layer: float = 150.0  #: mean noise/spill-over clusters per SciFi layer
    eta_range: tuple[float, float] = (1.5, 5.5)
    tsallis_t: float = 150.0  #: Tsallis temperature (MeV)
    tsallis_n: float = 7.0
    pv_sigma_z: float = 45.0
    secondary_z: tuple[float, float] = (800.0, 4000.0)
    # detector
    velo_sigma: float = 0.012
    velo_eff: float = 0.99
    velo_rmin: float = 5.1
    velo_half: float = 42.0
    scifi_sigma: float = 0.08
    scifi_eff: float = 0.985
    scifi_half_x: float = 3186.0
    scifi_half_y: float = 2417.0
    beam_hole: float = 60.0
    z_scatter: float = 1800.0
    x_over_x0: float = 0.15
    p_interaction: float = 0.08  #: hadronic interaction probability at z_scatter (≈ 8% λ_I)
    decays_in_flight: bool = True  #: π and K decay in flight
    pt_kick: float = 1200.0  #: Δtx · p (MeV)
    #: kick position z = c0 + c1 |Δtx| + c2 Δtx² + c3 ty² (LHCb's zMag parameters)
    z_mag_params: tuple[float, float, float, float] = (5287.6, -7.98878, 317.683, -1418.42)
    #: vertical fringe-field bending: y at z = 10 m shifts by ty · b Δtx² (LHCb's bendY)
    bend_y: float = -347.801
    # seeding
    seed_pmin: float = 1500.0
    seed_tol_x: float = 0.8
    seed_tol_ty: float = 2e-3
    seed_min_x: int = 5
    seed_min_uv: int = 4
    seed_max_chi2: float = 4.0  #: per degree of freedom
    # matching (LHCb Allen's HLT1 VELO–SciFi matching, TrackMatchingConsts)
    match_pmin: float = 1500.0
    match_dx_tol: float = 10.12
    match_dx_tol_slope: float = 101.0
    match_dy_tol: float = 1.59
    match_dy_tol_slope: float = 212.1
    match_max_chi2: float = 2.0
    match_max_dx: float = 20.0
    match_max_dy: float = 150.0
    match_max_dty: float = 0.02
    #: weights of the χ² terms dx²/tol_x², dy²/tol_y², Δty², Δtx² (Allen's configuration)
    match_chi2_factors: tuple[float, float, float, float] = (1.5, 0.2, 937.5, 2.0)
    # forward
    fwd_pmin: float = 3000.0
    fwd_ptmin: float = 500.0
    fwd_tol: float = 3.0  #: Hough cluster width, as a distance at the reference plane (mm)
    fwd_min_hits: int = 9
    fwd_min_x: int = 4
    # track fit
    fit_outlier_chi2: float = 16.0
    fit_max_outliers: int = 2
    # truth matching
    ghost_threshold: float = 0.7

    def to_dict(self) -> dict:
        """JSON-able form."""
        return asdict(self)

    @property
    def z_mag(self) -> float:
        """Nominal kick position (mm)."""
        return self.z_mag_params[0]

    def z_kick(self, dtx: np.ndarray, ty: np.ndarray) -> np.ndarray:
        """Position of the equivalent point kick (mm) for slope change ``dtx`` and VELO ``ty``."""
        c0, c1, c2, c3 = self.z_mag_params
        return c0 + c1 * np.abs(dtx) + c2 * dtx**2 + c3 * ty**2

    def ty_after(self, ty: np.ndarray, dtx: np.ndarray) -> np.ndarray:
        """y slope behind the magnet (vertical fringe-field focusing)."""
        return ty * (1.0 + self.bend_y * dtx**2 / (Z_MATCH_Y - self.z_mag))


# ---------------------------------------------------------------------------------------------
# generation and propagation


@dataclass
class Particles:
    """Charged particles at their production point; all arrays ``(N,)``.

    ``pid`` is unique and ≥ 1 (0 marks noise hits); ``qop`` = charge/p (1/MeV); ``species``
    indexes :data:`SPECIES` (π, K, p may decay or interact; "stable" never does); ``parent``
    is the pid of the particle that decayed or interacted into this one (0: none).
    """

    event: np.ndarray
    pid: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    z0: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    qop: np.ndarray
    species: np.ndarray | None = None
    parent: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.species is None:
            self.species = np.full(len(self.pid), STABLE, np.int64)
        if self.parent is None:
            self.parent = np.zeros(len(self.pid), np.int64)

    def take(self, idx: np.ndarray) -> Particles:
        """The particles at ``idx``."""
        return Particles(*(getattr(self, f)[idx] for f in _PARTICLE_FIELDS))

    @staticmethod
    def concat(parts: Sequence[Particles]) -> Particles:
        """All particles of ``parts`` in one set."""
        return Particles(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _PARTICLE_FIELDS)
        )

    def __len__(self) -> int:
        return len(self.pid)

    @property
    def p(self) -> np.ndarray:
        """Momentum (MeV)."""
        return 1.0 / np.abs(self.qop)

    @classmethod
    def from_kinematics(
        cls, event, p, eta, phi, charge, x0=0.0, y0=0.0, z0=0.0, pid=None, species=None
    ):
        """Build from momentum (MeV), η, φ (rad) and charge (±1); arrays broadcast.

        ``species`` defaults to "stable" (no decay, no interaction).
        """
        event, p, eta, phi, charge, x0, y0, z0 = np.broadcast_arrays(
            *(np.asarray(a, dtype=float) for a in (event, p, eta, phi, charge, x0, y0, z0))
        )
        tan_theta = 1.0 / np.sinh(eta)
        pid = np.arange(1, len(p) + 1) if pid is None else np.asarray(pid)
        sp = None if species is None else np.broadcast_to(species, p.shape).astype(np.int64)
        return cls(
            event.astype(np.int64),
            pid.astype(np.int64),
            x0.copy(),
            y0.copy(),
            z0.copy(),
            tan_theta * np.cos(phi),
            tan_theta * np.sin(phi),
            charge / p,
            sp,
        )


#: Particle species: name, mass (MeV), cτ (mm; inf = stable), abundance among primaries.
SPECIES: tuple[tuple[str, float, float, float], ...] = (
    ("pion", 139.57, 7804.5, 0.75),
    ("kaon", 493.68, 3711.0, 0.15),
    ("proton", 938.27, math.inf, 0.10),
    ("stable", 0.511, math.inf, 0.0),
)
PION, KAON, PROTON, STABLE = range(4)
_PARTICLE_FIELDS = ("event", "pid", "x0", "y0", "z0", "tx", "ty", "qop", "species", "parent")


def _tsallis_pt(rng: np.random.Generator, n: int, t: float, nn: float) -> np.ndarray:
    """pT (MeV) from dN/dpT ∝ pT (1 + pT/(n T))^−n by inverse-CDF sampling."""
    grid = np.linspace(0.0, 40_000.0, 40_001)
    pdf = grid * (1.0 + grid / (nn * t)) ** (-nn)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]))])
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


def generate_particles(
    rng: np.random.Generator, n_events: int, cfg: GhostConfig, event_offset: int = 0
) -> Particles:
    """Primaries (π, K, p) from the luminous region and secondaries (K_S⁰, Λ daughters,
    "stable") born between the VELO and the magnet."""
    n_prim = rng.poisson(cfg.n_primary, n_events)
    n_sec = rng.poisson(cfg.n_secondary, n_events)
    ev_p = np.repeat(np.arange(n_events), n_prim)
    ev_s = np.repeat(np.arange(n_events), n_sec)
    pv_z = rng.normal(0.0, cfg.pv_sigma_z, n_events)
    pv_xy = rng.normal(0.0, 0.02, (2, n_events))

    def kin(n):
        pt = np.maximum(_tsallis_pt(rng, n, cfg.tsallis_t, cfg.tsallis_n), 50.0)
        eta = rng.uniform(*cfg.eta_range, n)
        return pt * np.cosh(eta), eta, rng.uniform(-np.pi, np.pi, n), rng.choice([-1.0, 1.0], n)

    p, eta, phi, q = kin(len(ev_p))
    abundance = np.array([sp[3] for sp in SPECIES])
    species = rng.choice(len(SPECIES), len(ev_p), p=abundance / abundance.sum())
    prim = Particles.from_kinematics(
        ev_p, p, eta, phi, q, pv_xy[0][ev_p], pv_xy[1][ev_p], pv_z[ev_p], species=species
    )
    # secondaries: born at z_s on a parent direction, opening angle ~ 30 mrad
    p, eta, phi, q = kin(len(ev_s))
    parent = Particles.from_kinematics(ev_s, p, eta, phi, q)
    zs = rng.uniform(*cfg.secondary_z, len(ev_s))
    sec = Particles(
        ev_s,
        ev_s * 0,
        parent.tx * zs,
        parent.ty * zs,
        zs,
        parent.tx + rng.normal(0, 0.03, len(ev_s)),
        parent.ty + rng.normal(0, 0.03, len(ev_s)),
        parent.qop * 0.5,
    )
    out = Particles.concat([prim, sec])
    out = out.take(np.argsort(out.event, kind="stable"))
    out.event += event_offset
    out.pid = np.arange(1, len(out) + 1, dtype=np.int64)
    return out


def highland(p: np.ndarray, x_over_x0: float) -> np.ndarray:
    """RMS plane scattering angle (rad) for momentum ``p`` (MeV), β = 1."""
    return 13.6 / p * math.sqrt(x_over_x0) * (1.0 + 0.038 * math.log(x_over_x0))


@dataclass
class VeloHits:
    """VELO hits, arrays ``(H,)``: event, particle id, station, z, measured x and y (mm)."""

    event: np.ndarray
    pid: np.ndarray
    station: np.ndarray
    z: np.ndarray
    x: np.ndarray
    y: np.ndarray


@dataclass
class SciFiHits:
    """SciFi clusters, arrays ``(H,)``: event, particle id (0 = noise), layer, z and the
    measured coordinate ``m = x cos α − y sin α`` (mm)."""

    event: np.ndarray
    pid: np.ndarray
    layer: np.ndarray
    z: np.ndarray
    m: np.ndarray


@dataclass
class _Trajectory:
    """Piecewise straight path: origin → scatterer (kink) → kick (bend) → beyond."""

    z0: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    tx0: np.ndarray
    ty0: np.ndarray
    zs: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    tx1: np.ndarray
    ty1: np.ndarray
    zk: np.ndarray
    xk: np.ndarray
    yk: np.ndarray
    tx2: np.ndarray
    ty2: np.ndarray

    def at(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x, y, tx, ty at ``z`` (broadcast against the particle axis, first dimension)."""
        z = np.asarray(z, dtype=float)
        col = (slice(None),) + (None,) * (z.ndim - 1) if z.ndim > 1 else (slice(None),)

        def c(a):
            return a[col]

        s0, s1 = z < c(self.zs), z < c(self.zk)
        x = np.where(
            s0,
            c(self.x0) + c(self.tx0) * (z - c(self.z0)),
            np.where(
                s1,
                c(self.xs) + c(self.tx1) * (z - c(self.zs)),
                c(self.xk) + c(self.tx2) * (z - c(self.zk)),
            ),
        )
        y = np.where(
            s0,
            c(self.y0) + c(self.ty0) * (z - c(self.z0)),
            np.where(
                s1,
                c(self.ys) + c(self.ty1) * (z - c(self.zs)),
                c(self.yk) + c(self.ty2) * (z - c(self.zk)),
            ),
        )
        tx = np.where(s0, c(self.tx0), np.where(s1, c(self.tx1), c(self.tx2)))
        ty = np.where(s0, c(self.ty0), np.where(s1, c(self.ty1), c(self.ty2)))
        return x, y, tx, ty


def _trajectory(parts: Particles, cfg: GhostConfig, rng: np.random.Generator) -> _Trajectory:
    """Multiple scattering at ``z_scatter`` (if born before it) and the magnet kick."""
    before = parts.z0 < cfg.z_scatter
    zs = np.where(before, cfg.z_scatter, parts.z0)
    xs = parts.x0 + parts.tx * (zs - parts.z0)
    ys = parts.y0 + parts.ty * (zs - parts.z0)
    th = highland(parts.p, cfg.x_over_x0) * before
    tx1 = parts.tx + th * rng.standard_normal(len(parts))
    ty1 = parts.ty + th * rng.standard_normal(len(parts))
    dtx = parts.qop * cfg.pt_kick
    zk = cfg.z_kick(dtx, ty1)
    kicked = parts.z0 < zk
    zk = np.where(kicked, zk, zs)
    xk, yk = xs + tx1 * (zk - zs), ys + ty1 * (zk - zs)
    tx2 = np.where(kicked, tx1 + dtx, tx1)
    ty2 = np.where(kicked, cfg.ty_after(ty1, dtx), ty1)
    return _Trajectory(
        parts.z0, parts.x0, parts.y0, parts.tx, parts.ty, zs, xs, ys, tx1, ty1, zk, xk, yk, tx2, ty2
    )


def _two_body(rng, n, m_parent, m_d, m_other):
    """Rest-frame momentum and energy of a two-body decay daughter; random cos θ*."""
    p_star = math.sqrt(
        (m_parent**2 - (m_d + m_other) ** 2) * (m_parent**2 - (m_d - m_other) ** 2)
    ) / (2 * m_parent)
    e_star = math.sqrt(p_star**2 + m_d**2)
    return np.full(n, p_star), np.full(n, e_star), rng.uniform(-1, 1, n)


def decays_and_interactions(
    parts: Particles, traj: _Trajectory, cfg: GhostConfig, rng: np.random.Generator
) -> tuple[np.ndarray, Particles]:
    """Where each particle ends, and the charged particles it turns into.

    Pions and kaons decay in flight (π → μν; K → μν 64%, K → ππ⁰ otherwise, two-body
    kinematics) between the VELO exit (800 mm) and the last SciFi layer; hadrons (π, K, p)
    interact in the material at ``z_scatter`` with probability ``p_interaction`` and give
    1 + Poisson(1) charged daughters sharing 30–90% of the momentum, with an exponential
    transverse momentum of mean 350 MeV. Daughters are "stable".

    Returns:
        ``(z_end (N,), daughters)``; z_end is inf for particles that survive.
    """
    n = len(parts)
    p = parts.p
    mass = np.array([sp[1] for sp in SPECIES])[parts.species]
    ctau = np.array([sp[2] for sp in SPECIES])[parts.species]
    with np.errstate(invalid="ignore"):
        z_dec = parts.z0 + rng.exponential(1.0, n) * p / mass * ctau
    z_dec = np.where((z_dec > 800.0) & (z_dec < SCIFI_Z[-1]) & cfg.decays_in_flight, z_dec, np.inf)
    hadron = parts.species != STABLE
    z_int = np.where(
        hadron & (parts.z0 < cfg.z_scatter) & (rng.random(n) < cfg.p_interaction),
        cfg.z_scatter,
        np.inf,
    )
    z_end = np.minimum(z_dec, z_int)
    # decays in flight: one charged daughter
    dec = np.flatnonzero(np.isfinite(z_dec) & (z_dec < z_int))
    sp = parts.species[dec]
    kaon_to_pi = (sp == KAON) & (rng.random(len(dec)) >= 0.64)
    m_par = mass[dec]
    p_star, e_star, cos_star = np.zeros(len(dec)), np.zeros(len(dec)), np.zeros(len(dec))
    for sel, (mp, md, mo) in (
        (sp == PION, (SPECIES[PION][1], 105.66, 0.0)),
        ((sp == KAON) & ~kaon_to_pi, (SPECIES[KAON][1], 105.66, 0.0)),
        (kaon_to_pi, (SPECIES[KAON][1], 139.57, 134.98)),
    ):
        p_star[sel], e_star[sel], cos_star[sel] = _two_body(rng, int(sel.sum()), mp, md, mo)
    gamma = np.sqrt(p[dec] ** 2 + m_par**2) / m_par
    beta = p[dec] / np.sqrt(p[dec] ** 2 + m_par**2)
    p_long = gamma * (p_star * cos_star + beta * e_star)
    p_tran = p_star * np.sqrt(1 - cos_star**2)
    d_p = np.hypot(p_long, p_tran)
    d_angle = np.arctan2(p_tran, p_long)
    d_parent, d_z, d_q = dec, z_dec[dec], np.sign(parts.qop[dec])
    # hadronic interactions: 1 + Poisson(1) charged daughters
    hit = np.flatnonzero(np.isfinite(z_int) & (z_int <= z_dec))
    n_d = 1 + rng.poisson(1.0, len(hit))
    ip = np.repeat(hit, n_d)
    frac = rng.uniform(0.3, 0.9, len(hit))
    share = rng.exponential(1.0, len(ip))
    share = (
        share
        / np.bincount(np.repeat(np.arange(len(hit)), n_d), share)[
            np.repeat(np.arange(len(hit)), n_d)
        ]
    )
    i_p = np.maximum(np.repeat(frac, n_d) * share * p[ip], 50.0)
    i_angle = rng.exponential(350.0, len(ip)) / i_p
    d_parent = np.concatenate([d_parent, ip])
    d_z = np.concatenate([d_z, z_int[ip]])
    d_q = np.concatenate([d_q, rng.choice([-1.0, 1.0], len(ip))])
    d_p = np.concatenate([d_p, i_p])
    d_angle = np.concatenate([d_angle, i_angle])
    # daughters start at the parent's position and direction at its end point
    sub = Particles.take(parts, d_parent)
    tr = _Trajectory(*(getattr(traj, f)[d_parent] for f in _Trajectory.__dataclass_fields__))
    x, y, tx, ty = tr.at(d_z)
    psi = rng.uniform(-np.pi, np.pi, len(d_z))
    daughters = Particles(
        sub.event,
        np.zeros(len(d_z), np.int64),
        x,
        y,
        d_z,
        tx + np.tan(d_angle) * np.cos(psi),
        ty + np.tan(d_angle) * np.sin(psi),
        d_q / d_p,
        np.full(len(d_z), STABLE),
        sub.pid,
    )
    return z_end, daughters


def propagate(
    parts: Particles,
    cfg: GhostConfig,
    rng: np.random.Generator,
    n_events: int | None = None,
    event_offset: int = 0,
) -> tuple[Particles, VeloHits, SciFiHits]:
    """Hits of ``parts`` (and of the daughters of their decays and interactions) in the VELO
    and SciFi, plus SciFi noise for ``n_events`` events from ``event_offset`` (default: the
    events of ``parts``).

    Returns:
        ``(all particles, VELO hits, SciFi hits)``; daughters get new pids after the last.
    """
    return _propagate(parts, cfg, rng, n_events, event_offset)[:3]


def _propagate(
    parts: Particles,
    cfg: GhostConfig,
    rng: np.random.Generator,
    n_events: int | None,
    event_offset: int,
) -> tuple[Particles, VeloHits, SciFiHits, tuple[np.ndarray, np.ndarray]]:
    """:func:`propagate`, plus the true (x, y) of every SciFi hit (NaN for noise)."""
    traj = _trajectory(parts, cfg, rng)
    z_end, daughters = decays_and_interactions(parts, traj, cfg, rng)
    if len(daughters):
        daughters.pid = int(parts.pid.max()) + 1 + np.arange(len(daughters))
        d_traj = _trajectory(daughters, cfg, rng)
        traj = _Trajectory(
            *(
                np.concatenate([getattr(traj, f), getattr(d_traj, f)])
                for f in _Trajectory.__dataclass_fields__
            )
        )
        parts = Particles.concat([parts, daughters])
        z_end = np.concatenate([z_end, np.full(len(daughters), np.inf)])
    # VELO: stations downstream of the origin and upstream of the end point
    x, y, _, _ = traj.at(np.broadcast_to(VELO_Z, (len(parts), len(VELO_Z))))
    ok = (
        (parts.z0[:, None] < VELO_Z)
        & (z_end[:, None] > VELO_Z)
        & (np.hypot(x, y) > cfg.velo_rmin)
        & (np.abs(x) < cfg.velo_half)
        & (np.abs(y) < cfg.velo_half)
        & (rng.random(x.shape) < cfg.velo_eff)
    )
    i, s = np.nonzero(ok)
    velo = VeloHits(
        parts.event[i],
        parts.pid[i],
        s,
        VELO_Z[s],
        x[i, s] + rng.normal(0, cfg.velo_sigma, len(i)),
        y[i, s] + rng.normal(0, cfg.velo_sigma, len(i)),
    )
    # SciFi layers
    x, y, _, _ = traj.at(np.broadcast_to(SCIFI_Z, (len(parts), len(SCIFI_Z))))
    ok = (
        (parts.z0[:, None] < SCIFI_Z)
        & (z_end[:, None] > SCIFI_Z)
        & (np.abs(x) < cfg.scifi_half_x)
        & (np.abs(y) < cfg.scifi_half_y)
        & ~((np.abs(x) < cfg.beam_hole) & (np.abs(y) < cfg.beam_hole))
        & (rng.random(x.shape) < cfg.scifi_eff)
    )
    i, lay = np.nonzero(ok)
    x_true, y_true = x[i, lay], y[i, lay]
    m = x[i, lay] * np.cos(SCIFI_ALPHA[lay]) - y[i, lay] * np.sin(SCIFI_ALPHA[lay])
    m = m + rng.normal(0, cfg.scifi_sigma, len(i))
    # noise: Poisson per event and layer, uniform in the measured coordinate
    if n_events is None:
        event_offset = int(parts.event.min()) if len(parts) else 0
        n_events = int(parts.event.max()) - event_offset + 1 if len(parts) else 0
    n_noise = rng.poisson(cfg.noise_per_layer, (n_events, len(SCIFI_Z)))
    ev_n, lay_n = np.nonzero(n_noise >= 0)
    ev_n, lay_n = np.repeat(ev_n, n_noise.ravel()), np.repeat(lay_n, n_noise.ravel())
    m_n = rng.uniform(-cfg.scifi_half_x, cfg.scifi_half_x, len(ev_n))
    scifi = SciFiHits(
        np.concatenate([parts.event[i], ev_n + event_offset]),
        np.concatenate([parts.pid[i], np.zeros(len(ev_n), np.int64)]),
        np.concatenate([lay, lay_n]),
        SCIFI_Z[np.concatenate([lay, lay_n])],
        np.concatenate([m, m_n]),
    )
    nan = np.full(len(ev_n), np.nan)
    return parts, velo, scifi, (np.r_[x_true, nan], np.r_[y_true, nan])


# ---------------------------------------------------------------------------------------------
# vectorised building blocks


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

    def layer_hits(self, layer: int) -> np.ndarray:
        return self.order[self.bounds[layer] : self.bounds[layer + 1]]

    def window(self, layer: int, event: np.ndarray, lo: np.ndarray, hi: np.ndarray):
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

    def nearest(self, layer: int, event: np.ndarray, m: np.ndarray, tol: float) -> np.ndarray:
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


def _lsq(
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
    (px, _), (py, _) = (_lsq(h, v[hits], 1.0, mask) for v in (velo.x, velo.y))
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
    par, chi2 = _lsq(h, hits.m[np.maximum(hm, 0)], sigma, mask)
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


def seeding(hits: SciFiHits, index: _LayerIndex, cfg: GhostConfig) -> Seeds:
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
        for lay in X_LAYERS:
            if lay in (la, lb):
                continue
            hm[:, lay] = index.nearest(
                lay, hits.event[a], hits.m[a] + tx * (SCIFI_Z[lay] - za), cfg.seed_tol_x
            )
        cands.append(hm[(hm[:, X_LAYERS] >= 0).sum(1) >= cfg.seed_min_x])
    hm = np.concatenate(cands)
    # x-line fit of the x hits
    zx = SCIFI_Z[X_LAYERS] - Z_REF
    mx = hm[:, X_LAYERS] >= 0
    h = np.stack([np.ones(len(zx)), zx / 1000.0], 1)
    px, _ = _lsq(h, hits.m[np.maximum(hm[:, X_LAYERS], 0)], cfg.scifi_sigma, mx)
    ev = hits.event[hm[np.arange(len(hm)), np.argmax(hm >= 0, 1)]]
    # stereo hits: all in the |y| < half window, clustered in ty = y/z
    qs, hs, ls, tys = [], [], [], []
    for lay in UV_LAYERS:
        al = SCIFI_ALPHA[lay]
        xc = px[:, 0] + px[:, 1] * (SCIFI_Z[lay] - Z_REF) / 1000.0
        half = cfg.scifi_half_y * abs(math.sin(al))
        q, hh = index.window(lay, ev, xc * math.cos(al) - half, xc * math.cos(al) + half)
        y = (xc[q] * math.cos(al) - hits.m[hh]) / math.sin(al)
        qs.append(q), hs.append(hh), ls.append(np.full(len(q), lay)), tys.append(y / SCIFI_Z[lay])
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


def matching(vt: VeloTracks, seeds: Seeds, cfg: GhostConfig) -> dict[str, np.ndarray]:
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
    cfg: GhostConfig,
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


def forward(vt: VeloTracks, hits: SciFiHits, index: _LayerIndex, cfg: GhostConfig):
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
    for lay in range(len(SCIFI_Z)):
        z, al = SCIFI_Z[lay], SCIFI_ALPHA[lay]
        xs, ys = vt.at(z)
        half = cfg.pt_kick / pmin * (z - cfg.z_mag) * math.cos(al) + 20.0
        centre = xs * math.cos(al) - ys * math.sin(al)
        q, hh = index.window(lay, vt.event, centre - half, centre + half)
        qs.append(q), hs.append(hh), ls.append(np.full(len(q), lay))
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
# truth matching and track fit


def ghost_labels(
    cand: np.ndarray, det: np.ndarray, pid: np.ndarray, n_cand: int, threshold: float = 0.7
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


def track_fit(
    velo: VeloHits,
    scifi: SciFiHits,
    vhm: np.ndarray,
    shm: np.ndarray,
    qop0: np.ndarray,
    cfg: GhostConfig,
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
        par, chi2 = _lsq(h, m, sigma, mask, prior)
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


def _candidates(
    parts: Particles,
    velo: VeloHits,
    scifi: SciFiHits,
    vt: VeloTracks,
    vidx: np.ndarray,
    shm: np.ndarray,
    qop0: np.ndarray,
    cfg: GhostConfig,
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
    cfg: GhostConfig,
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


# ---------------------------------------------------------------------------------------------
# sample generation


def _ordered(d: dict[str, np.ndarray], track: str) -> dict[str, np.ndarray]:
    names = (*FEATURES[track], "ghost", *EXTRA_BRANCHES)
    out = {}
    for n in names:
        v = d[n]
        out[n] = (
            v.astype(np.int32)
            if n in ("n_scifi", "n_velo", "ndof", "ghost", "event", "ghost_origin")
            else v.astype(np.float32)
        )
    return out


def simulate(
    n_events: int,
    *,
    seed: int = 0,
    config: GhostConfig | None = None,
    tracks: Sequence[str] = ("forward", "matching"),
    chunk_events: int = 100,
    event_offset: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Simulate and reconstruct ``n_events`` events, in chunks of ``chunk_events`` (memory).

    Returns ``{track type: {branch: (C,) array}}`` in the output tree's branch order.
    """
    cfg = config or GhostConfig()
    _check_tracks(tracks)
    if n_events < 1:
        raise ValueError(f"n_events={n_events}: expected a positive number of events")
    chunks = []
    seqs = np.random.SeedSequence(seed).spawn((n_events + chunk_events - 1) // chunk_events)
    for c, ss in enumerate(seqs):
        rng = np.random.default_rng(ss)
        e0 = event_offset + c * chunk_events
        ne = min(chunk_events, n_events - c * chunk_events)
        parts = generate_particles(rng, ne, cfg, e0)
        parts, velo, scifi = propagate(parts, cfg, rng, ne, e0)
        chunks.append(reconstruct(parts, velo, scifi, cfg, tracks))
    return {
        t: _ordered({k: np.concatenate([ch[t][k] for ch in chunks]) for k in chunks[0][t]}, t)
        for t in tracks
    }


def _check_tracks(tracks: Sequence[str]) -> None:
    bad = [t for t in tracks if t not in FEATURES]
    if bad or not tracks:
        raise ValueError(f"track={list(tracks)!r}: expected 'forward' and/or 'matching'")


def generate(
    out_dir: str | os.PathLike,
    *,
    n_tracks: int | None = 20_000,
    n_events: int | None = None,
    seed: int = 0,
    config: GhostConfig | None = None,
    tracks: Sequence[str] = ("forward", "matching"),
    chunk_events: int = 100,
) -> dict[str, Path]:
    """Write ``ghost_<track>.root`` files (tree :data:`TREE`) into ``out_dir``.

    Args:
        out_dir: folder for the files.
        n_tracks: simulate whole chunks of events until every track type has at least this
            many candidates, then keep the first ``n_tracks`` (ignored when ``n_events`` given).
        n_events: simulate exactly this many events instead.
        seed: random seed; the output depends on it (and ``chunk_events``) only.
        config: detector and algorithm settings.
        tracks: which track types to write.

    Returns:
        ``{track type: path}``.
    """
    cfg = config or GhostConfig()
    _check_tracks(tracks)
    if n_events is None:
        if n_tracks is None or n_tracks < 1:
            raise ValueError(f"n_tracks={n_tracks}: expected a positive number of tracks")
        parts, done = [], 0
        ss = np.random.SeedSequence(seed)
        bar = tqdm(total=n_tracks, desc="ghost simulation", unit="candidate")
        while True:
            sub = int(ss.spawn(1)[0].generate_state(1)[0])
            parts.append(
                simulate(
                    chunk_events,
                    seed=sub,
                    config=cfg,
                    tracks=tracks,
                    chunk_events=chunk_events,
                    event_offset=done,
                )
            )
            done += chunk_events
            fewest = min(sum(len(p[t]["ghost"]) for p in parts) for t in tracks)
            bar.update(min(fewest, n_tracks) - bar.n)
            if fewest >= n_tracks:
                break
        bar.close()
        data = {
            t: {k: np.concatenate([p[t][k] for p in parts])[:n_tracks] for k in parts[0][t]}
            for t in tracks
        }
    else:
        data = simulate(n_events, seed=seed, config=cfg, tracks=tracks, chunk_events=chunk_events)
    out = {}
    for t in tracks:
        path = Path(out_dir) / f"ghost_{t}.root"
        io.write_root(path, {TREE: data[t]})
        g = data[t]["ghost"]
        log.info("%s: %d %s candidates, ghost fraction %.3f", path, len(g), t, g.mean())
        out[t] = path
    return out


def event_record(
    n_events: int = 20,
    *,
    seed: int = 0,
    config: GhostConfig | None = None,
    track: str = "matching",
    chunk_events: int = 100,
) -> list[dict]:
    """Hits and reconstructed candidates of ``n_events`` events, one dict per event (for event
    displays).

    The events are those of :func:`simulate` with the same ``seed``, ``config`` and
    ``chunk_events``: the candidates (and their order) are the ``track`` candidates that
    ``simulate`` writes for these events.

    Each dict holds

    * ``event``: the event number;
    * ``velo``: ``{x, y, z, pid, noise}`` arrays of the VELO hits (mm; pid of the particle);
    * ``scifi``: ``{x, y, z, m, layer, pid, noise}`` arrays of the SciFi clusters: ``m`` the
      measured coordinate, ``x``/``y`` the true position of a particle's hit (NaN for
      noise, whose x is ``m / cos α``, i.e. y taken as 0, and y unknown); ``noise`` = pid 0;
    * ``candidates``: ``{velo_hits (C, 26), scifi_hits (C, 12)}`` hit indices into the
      event's ``velo``/``scifi`` arrays (−1: none), the fitted ``x0 tx y0 ty`` (straight
      line before the scatterer, at z = 0), ``ghost``, ``ghost_origin``, ``p``, ``true_p``,
      ``chi2``, ``ndof``, ``n_velo``, ``n_scifi``.

    Raises:
        ValueError: ``track`` is not ``"forward"`` or ``"matching"``, or ``n_events < 1``.
    """
    if track not in FEATURES:
        raise ValueError(f"track={track!r}: expected 'forward' or 'matching'")
    if n_events < 1:
        raise ValueError(f"n_events={n_events}: expected a positive number of events")
    cfg = config or GhostConfig()
    keys = (
        "ghost",
        "ghost_origin",
        "p",
        "true_p",
        "chi2",
        "ndof",
        "n_velo",
        "n_scifi",
        "x0",
        "tx",
        "y0",
        "ty",
    )
    out = []
    seqs = np.random.SeedSequence(seed).spawn((n_events + chunk_events - 1) // chunk_events)
    for c, ss in enumerate(seqs):
        rng = np.random.default_rng(ss)
        e0 = c * chunk_events
        ne = min(chunk_events, n_events - c * chunk_events)
        parts = generate_particles(rng, ne, cfg, e0)
        parts, velo, scifi, (xt, yt) = _propagate(parts, cfg, rng, ne, e0)
        cand = reconstruct(parts, velo, scifi, cfg, (track,), keep_hits=True)[track]
        ca = np.cos(SCIFI_ALPHA[scifi.layer])
        sx = np.where(np.isnan(xt), scifi.m / ca, xt)
        for ev in range(e0, e0 + ne):
            iv, js = np.flatnonzero(velo.event == ev), np.flatnonzero(scifi.event == ev)
            local_v = np.full(len(velo.event) + 1, -1, np.int64)  # index −1 stays −1
            local_v[iv] = np.arange(len(iv))
            local_s = np.full(len(scifi.event) + 1, -1, np.int64)
            local_s[js] = np.arange(len(js))
            k = np.flatnonzero(cand["event"] == ev)
            out.append(
                {
                    "event": ev,
                    "velo": {
                        "x": velo.x[iv],
                        "y": velo.y[iv],
                        "z": velo.z[iv],
                        "pid": velo.pid[iv],
                        "noise": velo.pid[iv] <= 0,
                    },
                    "scifi": {
                        "x": sx[js],
                        "y": yt[js],
                        "z": scifi.z[js],
                        "m": scifi.m[js],
                        "layer": scifi.layer[js],
                        "pid": scifi.pid[js],
                        "noise": scifi.pid[js] <= 0,
                    },
                    "candidates": {
                        "velo_hits": local_v[cand["velo_hits"][k]],
                        "scifi_hits": local_s[cand["scifi_hits"][k]],
                        **{n: cand[n][k] for n in keys},
                    },
                }
            )
    return out
