"""The simulated detector: its settings (:class:`SimConfig`), the magnet and material
model of a particle's path (:class:`Trajectory`) and the hits it leaves.

Detector (lengths in mm, momenta in MeV, the z axis along the beam; constants and their
sources in :mod:`hepnb.chapters.ghost.schema`):

* **VELO**: 26 pixel stations between z = −275 and 750 mm, active 5.1 mm < r and |x|, |y| <
  42 mm, 12 μm resolution in x and y, 99% hit efficiency.
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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from hepnb.chapters.ghost import schema
from hepnb.chapters.ghost.schema import Z_MATCH_Y

__all__ = ["SciFiHits", "SimConfig", "Trajectory", "VeloHits", "highland"]


@dataclass(frozen=True)
class SimConfig:
    """Event, detector and pattern-recognition settings of the simulator (mm, MeV, rad).

    The defaults describe the upgraded (Run 3) detector of :mod:`~hepnb.chapters.ghost.schema`
    at a reduced occupancy of about three pp collisions per crossing (70 charged primaries in
    1.5 < η < 5.5; Run 3 nominal is ν ≈ 7.6), with the SciFi noise level and the forward
    tracking's hit requirements of the sources quoted at each field. With them the forward
    ghost rate is ≈ 5–6 % (≈ 5 % after the preselection), in the range LHCb publishes for its
    forward tracking (≈ 3–4 % in Allen's HLT1, 6.5 % for SciFi seeding; see the
    ``explore_ghost`` notebook), the matching's ≈ 2.4 %.
    """

    # events
    n_primary: float = 70.0  #: mean charged primaries per event with η in eta_range
    n_secondary: float = 15.0  #: mean charged secondaries born between VELO and magnet
    #: mean noise/spill-over clusters per SciFi layer and crossing: the SciFi TDR
    #: (CERN-LHCC-2014-001) keeps the dark-count noise-cluster rate at the few-MHz level per
    #: 128-channel SiPM array; ≈ 340 arrays per layer × 25 ns gives ≈ 20–40 clusters
    noise_per_layer: float = 30.0
    eta_range: tuple[float, float] = (1.5, 5.5)
    tsallis_t: float = 150.0  #: Tsallis temperature (MeV)
    tsallis_n: float = 7.0
    pv_sigma_z: float = 45.0
    secondary_z: tuple[float, float] = (800.0, 4000.0)
    # detector
    velo_sigma: float = schema.VELO_SIGMA
    velo_eff: float = schema.VELO_EFF
    velo_rmin: float = schema.VELO_R_MIN
    velo_half: float = schema.VELO_HALF
    scifi_sigma: float = schema.SCIFI_SIGMA
    scifi_eff: float = schema.SCIFI_EFF
    scifi_half_x: float = schema.SCIFI_HALF_X
    scifi_half_y: float = schema.SCIFI_HALF_Y
    beam_hole: float = schema.BEAM_HOLE
    z_scatter: float = 1800.0  #: the effective scatterer (mm)
    x_over_x0: float = 0.15  #: its thickness in radiation lengths
    p_interaction: float = 0.08  #: hadronic interaction probability at z_scatter (≈ 8% λ_I)
    decays_in_flight: bool = True  #: π and K decay in flight
    pt_kick: float = schema.PT_KICK  #: Δtx · p (MeV)
    #: kick position z = c0 + c1 |Δtx| + c2 Δtx² + c3 ty²
    z_mag_params: tuple[float, float, float, float] = schema.Z_MAG_PARAMS
    #: vertical fringe-field bending: y at z = 10 m shifts by ty · b Δtx²
    bend_y: float = schema.BEND_Y
    # seeding
    seed_pmin: float = 1500.0
    seed_tol_x: float = 0.8
    seed_tol_ty: float = 2e-3
    seed_min_x: int = 5
    seed_min_uv: int = 4
    seed_max_chi2: float = 4.0  #: per degree of freedom
    # matching (LHCb Allen's HLT1 VELO–SciFi matching)
    match_pmin: float = 1500.0
    match_dx_tol: float = schema.MATCH["dx_tol"]
    match_dx_tol_slope: float = schema.MATCH["dx_tol_slope"]
    match_dy_tol: float = schema.MATCH["dy_tol"]
    match_dy_tol_slope: float = schema.MATCH["dy_tol_slope"]
    match_max_chi2: float = schema.MATCH["max_chi2"]
    match_max_dx: float = schema.MATCH["max_dx"]
    match_max_dy: float = schema.MATCH["max_dy"]
    match_max_dty: float = schema.MATCH["max_dty"]
    #: weights of the χ² terms dx²/tol_x², dy²/tol_y², Δty², Δtx²
    match_chi2_factors: tuple[float, float, float, float] = schema.MATCH_CHI2_FACTORS
    # forward
    fwd_pmin: float = 3000.0
    fwd_ptmin: float = 500.0
    fwd_tol: float = 3.0  #: Hough cluster width, as a distance at the reference plane (mm)
    #: ≥ 10 SciFi hits of which ≥ 5 in x layers, as LHCb's HLT1 forward tracking (Allen,
    #: ``cuda/SciFi/PrForward/include/PrForwardConstants.cuh``: ``minTotalHits = 10``,
    #: ``minXHits = 5``, from Rec's upgrade HLT1 configuration)
    fwd_min_hits: int = 10
    fwd_min_x: int = 5
    # track fit
    fit_outlier_chi2: float = 16.0
    fit_max_outliers: int = 2
    # truth matching
    ghost_threshold: float = schema.GHOST_THRESHOLD

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
class Trajectory:
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
