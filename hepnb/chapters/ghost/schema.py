"""What a ghost-track ntuple holds, and the LHCb detector the simulator models.

The one place the simulator (:mod:`.sim`), the reader (:mod:`.reader`) and the event display
(:mod:`.display`) take names, units and constants from.

Ntuple: the layout of the ``kalman_validator/kalman_ip_tree`` tree that LHCb's GPU trigger
Allen writes (one entry per reconstructed long-track candidate): the forward or matching
feature set, the truth label ``ghost`` (1 = ghost), and, in simulated files, the extra
branches of :data:`EXTRA_BRANCHES`. Units: lengths in mm, momenta in MeV/c, q/p in c/MeV,
angles in rad.

Detector constants, with their sources:

* VELO: 26 pixel stations from z = −275 to 750 mm around the interaction point, active from
  5.1 mm off the beam — LHCb VELO Upgrade Technical Design Report, CERN-LHCC-2013-021.
* SciFi: three stations T1–T3 of four layers (x, u, v, x; stereo ±5°) at z ≈ 7.8–9.4 m,
  ≈ 6.4 m × 4.8 m, hit resolution below 100 μm — LHCb Tracker Upgrade Technical Design
  Report, CERN-LHCC-2014-001.
* Dipole: integrated field ≈ 4 T m, i.e. a transverse kick of ≈ 1.2 GeV/c — The LHCb
  Detector at the LHC, JINST 3 (2008) S08005. The kick position and the vertical bending are
  LHCb's parametrisation used by Allen's VELO–SciFi matching (``zMagnetParamsMatch``,
  ``bendYParams`` in Allen, ``device/track_matching/match/include/TrackMatchingConstants.cuh``).
* Matching tolerances and cuts: Allen, same file (``dxTol``, ``dxTolSlope``, ``dyTol``,
  ``dyTolSlope``, ``maxChi2``, ``zMatchY``) and the preselection of ``getChi2Match`` in
  ``device/track_matching/match/src/TrackMatchingVELOSciFi.cu`` (|Δty| < 0.02,
  |dx| < 20 mm, |dy| < 150 mm).
* Truth matching: a track is real when ≥ 70 % of its hits in each sub-detector come from one
  particle — LHCb's ``PrTrackAssociator`` (Rec, ``Pr/PrMCTools``), fraction 0.7.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BEAM_HOLE",
    "BEND_Y",
    "EVENT",
    "EXTRA_BRANCHES",
    "FEATURES",
    "GHOST_ORIGINS",
    "GHOST_THRESHOLD",
    "INT_BRANCHES",
    "KINEMATICS",
    "LABEL",
    "LABELS",
    "MATCH",
    "MATCH_CHI2_FACTORS",
    "PRESELECTION",
    "PT_KICK",
    "SCIFI_ALPHA",
    "SCIFI_EFF",
    "SCIFI_HALF_X",
    "SCIFI_HALF_Y",
    "SCIFI_SIGMA",
    "SCIFI_Z",
    "TAIL_SCALES",
    "TRACKS",
    "TREE",
    "UNITS",
    "UV_LAYERS",
    "VELO_EFF",
    "VELO_HALF",
    "VELO_R_MIN",
    "VELO_SIGMA",
    "VELO_Z",
    "X_LAYERS",
    "Z_MAG",
    "Z_MAG_PARAMS",
    "Z_MATCH_Y",
    "Z_REF",
    "feature_names",
    "tail_scales",
]

# --- the ntuple ------------------------------------------------------------------------------

#: The Allen validator tree.
TREE = "kalman_validator/kalman_ip_tree"
#: Truth label branch: 1 = ghost, 0 = real track.
LABEL = "ghost"
#: Event number branch (simulated files): candidates of one event share hits.
EVENT = "event"
#: Feature branches per track type: ``forward`` (VELO track + SciFi hits) and ``matching``
#: (VELO track × SciFi seed).
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
#: The track types.
TRACKS: tuple[str, ...] = tuple(FEATURES)
#: Branches the simulator writes beyond Allen's (not features; for plots and checks).
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
#: Preselection of the candidates before any study (upper limits, exclusive): the cuts of the
#: original ghost-probability training this chapter reproduces — best_pt < 10 GeV/c (the
#: stiffest "tracks" are mostly fake straight combinations, and real ones are rare) and track
#: fit χ² < 400.
PRESELECTION: dict[str, float] = {"best_pt": 10_000.0, "chi2": 400.0}
#: Values of ``ghost_origin`` for ghosts: what their SciFi hits mostly come from.
GHOST_ORIGINS: dict[int, str] = {
    1: "decay product of the VELO particle",
    2: "fragment of its interaction",
    3: "another particle",
    4: "noise / no majority",
}
#: Branches stored as int32 (all others float32).
INT_BRANCHES: tuple[str, ...] = ("n_scifi", "n_velo", "ndof", "ghost", "event", "ghost_origin")
#: Kinematic branches read when present (ghost rate vs p, pT, η); ``pt`` is ``best_pt``.
KINEMATICS: tuple[str, ...] = ("p", "eta")
#: Units of the features and kinematics ("" = dimensionless).
UNITS: dict[str, str] = {
    "best_pt": "MeV/c",
    "chi2": "",
    "first_qop": "c/MeV",
    "n_scifi": "",
    "n_velo": "",
    "ndof": "",
    "pr_forward_quality": "mm²",
    "qop": "c/MeV",
    "pr_match_chi2": "",
    "pr_match_dtx": "",
    "pr_match_dty": "",
    "pr_match_dx": "mm",
    "pr_match_dy": "mm",
    "pr_seed_chi2": "",
    "p": "MeV/c",
    "pt": "MeV/c",
    "eta": "",
}
#: Axis labels (with units) of the features and kinematics.
LABELS: dict[str, str] = {
    "best_pt": r"$p_\mathrm{T}$ [MeV/$c$]",
    "chi2": r"track fit $\chi^2$",
    "first_qop": r"pattern-recognition $q/p$ [$c$/MeV]",
    "n_scifi": "SciFi hits",
    "n_velo": "VELO hits",
    "ndof": "degrees of freedom",
    "pr_forward_quality": r"forward quality [mm$^2$]",
    "qop": r"fitted $q/p$ [$c$/MeV]",
    "pr_match_chi2": r"matching $\chi^2$",
    "pr_match_dtx": r"$\Delta t_x$ (seed − VELO)",
    "pr_match_dty": r"$\Delta t_y$ (seed − VELO)",
    "pr_match_dx": r"$\Delta x$ at the kick plane [mm]",
    "pr_match_dy": r"$\Delta y$ at $z$ = 10 m [mm]",
    "pr_seed_chi2": r"seed $\chi^2$/ndof",
    "p": r"$p$ [MeV/$c$]",
    "pt": r"$p_\mathrm{T}$ [MeV/$c$]",
    "eta": r"$\eta$",
}
#: Scales s of the signed-log compression sign(x)·ln(1 + |x|/s) applied to the long-tailed
#: features before the min-max scaling (in the feature's units; about its core resolution).
TAIL_SCALES: dict[str, float] = {
    "chi2": 1.0,
    "pr_match_chi2": 1.0,
    "pr_seed_chi2": 1.0,
    "pr_forward_quality": 0.01,
    "best_pt": 100.0,
    "qop": 1e-5,
    "first_qop": 1e-5,
    "pr_match_dx": 1.0,
    "pr_match_dy": 1.0,
    "pr_match_dtx": 1e-3,
    "pr_match_dty": 1e-4,
}


def feature_names(track: str) -> tuple[str, ...]:
    """The feature branches of ``track`` (``forward`` or ``matching``)."""
    if track not in FEATURES:
        raise ValueError(f"track={track!r} (--track): expected one of {list(FEATURES)}")
    return FEATURES[track]


def tail_scales(track: str) -> dict[str, float]:
    """Signed-log scales of the long-tailed features of ``track``'s feature set."""
    return {k: v for k, v in TAIL_SCALES.items() if k in feature_names(track)}


# --- the detector (mm, MeV, rad) -------------------------------------------------------------

#: VELO station z positions (mm): 26 stations (VELO Upgrade TDR, CERN-LHCC-2013-021).
VELO_Z = np.r_[np.arange(-275.0, 276.0, 25.0), [450.0, 600.0, 750.0]]
#: Inner radius of the VELO's active area (mm) and half-size of its sensors (mm).
VELO_R_MIN, VELO_HALF = 5.1, 42.0
#: VELO hit resolution in x and y (mm) and hit efficiency (VELO Upgrade TDR: ≈ 12 μm, > 99 %).
VELO_SIGMA, VELO_EFF = 0.012, 0.99
#: SciFi layer z positions (mm): T1, T2, T3 with layers x, u, v, x (Tracker Upgrade TDR,
#: CERN-LHCC-2014-001).
SCIFI_Z = np.array(
    [7826.0, 7896.0, 7966.0, 8036.0, 8508.0, 8578.0, 8648.0, 8718.0, 9193.0, 9263.0, 9333.0, 9403.0]
)
#: SciFi stereo angles (rad): 0 for x layers, ±5° for u/v (same TDR).
SCIFI_ALPHA = np.deg2rad(np.tile([0.0, 5.0, -5.0, 0.0], 3))
X_LAYERS = np.flatnonzero(SCIFI_ALPHA == 0)
UV_LAYERS = np.flatnonzero(SCIFI_ALPHA != 0)
#: SciFi acceptance: half-widths in x and y and the beam hole half-size (mm; same TDR).
SCIFI_HALF_X, SCIFI_HALF_Y, BEAM_HOLE = 3186.0, 2417.0, 60.0
#: SciFi resolution on the measured coordinate (mm) and hit efficiency (same TDR: < 100 μm,
#: ≈ 99 %).
SCIFI_SIGMA, SCIFI_EFF = 0.08, 0.985
#: Reference plane of SciFi states (mm), between T1 and T3.
Z_REF = 8520.0
#: Transverse momentum kick of the dipole, Δtx · p (MeV): ∫B dl ≈ 4 T m (JINST 3 S08005).
PT_KICK = 1200.0
#: Kick position z = c0 + c1 |Δtx| + c2 Δtx² + c3 ty² (mm): Allen's ``zMagnetParamsMatch``
#: (its |x| term, 0.012, dropped).
Z_MAG_PARAMS: tuple[float, float, float, float] = (5287.6, -7.98878, 317.683, -1418.42)
#: Nominal kick position (mm).
Z_MAG = Z_MAG_PARAMS[0]
#: Vertical fringe-field bending: y at z = 10 m shifts by ty · b Δtx² (Allen's first
#: ``bendYParams``).
BEND_Y = -347.801
#: Plane where the matching compares y (mm): Allen's ``zMatchY``.
Z_MATCH_Y = 10_000.0
#: Allen's VELO–SciFi matching: tolerances (mm) tol_x² = dx_tol² + (dx_tol_slope Δtx)²,
#: tol_y² = dy_tol² + dy_tol_slope² (tx² + ty²), the χ² cut and the preselection windows.
MATCH: dict[str, float] = {
    "dx_tol": 10.12,
    "dx_tol_slope": 101.0,
    "dy_tol": 1.59,
    "dy_tol_slope": 212.1,
    "max_chi2": 2.0,
    "max_dx": 20.0,
    "max_dy": 150.0,
    "max_dty": 0.02,
}
#: Weights of the matching χ² terms dx²/tol_x², dy²/tol_y², Δty², Δtx². The form is Allen's
#: ``getChi2Match``; its dy weight 0.2 and Δty weight 1.5 · 10⁴/16 = 937.5 are taken as they
#: are, the dx and Δtx weights (1.5, 2) are this simulation's (Allen's versions differ, e.g.
#: 0.8 and 10).
MATCH_CHI2_FACTORS: tuple[float, float, float, float] = (1.5, 0.2, 937.5, 2.0)
#: LHCb truth matching: minimum fraction of a track's hits per sub-detector from one particle.
GHOST_THRESHOLD = 0.7
