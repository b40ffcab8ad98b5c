"""Simulator of ATLAS TRT tracks for electron identification, writing TRTFrame-like ntuples.

Tree and branch names, geometry, read-out and calibration constants come from
:mod:`hepnb.chapters.trt.schema`, which cites their sources. Physics model (units: MeV, mm, ns,
rad):

* **Geometry.** Straight tracks (plus the 2 T bending in φ) from a vertex smeared in z cross
  73 barrel straw layers (module rings of 19 + 24 + 30 layers between R = 563 and 1066 mm,
  |z| < 712 mm, straws along z) and 160 end-cap layers per side (6 A-wheels × 16 layers at
  848 < |z| < 1705 mm, 8 B-wheels × 8 layers at 1740 < |z| < 2710 mm, radial straws between
  r = 644 and 1004 mm, 768 straws in φ). A crossed layer gives a hit with the geometric
  probability that a straw is hit (straw diameter 4 mm over the straw pitch in rφ) times an
  efficiency; the track-to-wire distance ``rTrkWire`` is uniform in [0, 2) mm and the path length
  in the straw is ``L = 2√(4 − r²)`` mm. This gives ≈34 hits per barrel track, ≈20 at the
  barrel/end-cap transition (|η| ≈ 0.7–1.0), ≈32 in the end-caps, falling towards |η| = 2.
  Ar fills 20 of the 32 φ-modules of the innermost barrel module ring and a few end-cap
  wheels (≈21 % of the hits), as leaking modules were switched to Ar in Run 2 (illustrative map).
* **High threshold (HT).** The probability of an HT hit rises with the Lorentz factor
  γ = p/m through the transition-radiation onset, modelled per gas × region by a Gompertz
  curve ``p₀ = a + b·exp(−exp(−(log10γ − c)/d))`` fitted to ATLAS's default (Run 1 Z→ee/μμ)
  calibration at occupancy 0 (Athena's ``HTcalculator`` defaults, tabulated in
  :data:`~hepnb.chapters.trt.schema.ONSET_CALIBRATION`; flat dE/dx plateau below γ ≈ 100; a symmetric logistic cannot be
  flat there and also reach the γ = 10³–10⁵ points). ``a`` is the ionisation (δ-ray) part and
  ``p₀ − a`` the TR part. The barrel, the end-cap A wheels and the end-cap B wheels (global
  end-cap layer ≥ 96) each have their own curve, as in the calibration (B-wheel Xe ≈ 0.25 at
  γ = 10⁴, ≈ 0.30 at 10⁵; B-wheel Ar = A-wheel Ar, as Athena does). Occupancy adds an independent pile-up HT chance
  ``q = 1 − exp(−κ·occ)``, κ = 0.107: ``p = 1 − (1 − a·C_ion − (p₀ − a)·C_TR)(1 − q)``, the
  form of that calibration's occupancy term (``p₀ + (1 − p₀)·ΔOcc``); it reproduces its
  Xe-barrel values at occupancy 0.2 (0.047 at γ = 10, 0.190 at γ = 10⁴). The
  per-straw corrections ``C`` (averaging to 1) are products of a straw-layer term (first layers
  after a module/wheel boundary see less radiator), a ZR term (signal attenuation along the
  wire: |z| in the barrel, r in the end-caps) and a track-to-wire term that falls towards the
  straw wall: ∝ 0.6 + L/4 for ionisation, ∝ 0.5 + 1 − exp(−L/3 mm) for TR (the TR X-rays are
  collinear with the electron and cross the straw along the same chord). Overall ≈0.45–1.45.
* **Time over threshold (ToT).** ``ToT = s·(k_gas·L·R(βγ)·(1 + w·M) + Δ)`` with ``M`` a
  standard Moyal (closed-form Landau approximation) variable and ``R`` the relativistic rise of
  the (effective, ToT-compressed) ionisation, +15 % (Xe) / +12 % (Ar) from minimum ionisation
  to the Fermi plateau, half-way at βγ ≈ 160 (electrons sit on the plateau). ``Δ`` is the extra
  charge of HT hits: 10 ns (Xe) where a TR photon was absorbed, 6 ns for HT hits from δ-rays or
  pile-up, 0 otherwise. ToT is quantised in 3.125 ns bins, 0–75 ns (saturating).
* **Kinematics.** A mixture of Z-like (Jacobian peak at ≈ 40 GeV) and J/ψ-like (soft,
  pT ≥ 1 GeV) spectra, |η| < 2, uniform φ; γ spans ≈ 10 (muons) to ≈ 10⁵ (electrons).
  Electrons, muons and pions get the **same** kinematic and occupancy distributions, so track
  kinematics carry no class information: everything that separates them is in the hits.
* **"Data".** The probe trees differ from MC in shapes, not only scales: higher pile-up
  (occupancy ×1.25), HT probability ×1.05, ToT ×0.97, a TR onset 0.1 later in log10 γ, a ±6 %
  gain pattern over the straw layers (ToT and HT), and 8 % pion background among the probes
  with sWeight-like signal weights from a Z-mass fit (:func:`sweights`; negative for
  background-like masses) (see :data:`DATA_PARAMS`).

``eProbHT`` is the classical ATLAS likelihood ∏pHT(e)/(∏pHT(e) + ∏pHT(π)) with γ, gas,
detector part, occupancy and the per-hit corrections (straw layer × ZR × rTrkWire), no ToT,
MC calibration (also on data). :func:`log_likelihood_ratio` is the simulator's exact ratio
(HT and ToT, every correction, the response given), the bound for any classifier.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from scipy import special
from tqdm.auto import tqdm

from hepnb import io
from hepnb.chapters.trt.schema import (
    BARREL_HALF_Z,
    BARREL_PITCH,
    BARREL_RINGS,
    DATA_TREES,
    EC_RMAX,
    EC_RMIN,
    EC_STRAWS_PHI,
    EC_WHEELS,
    FIRST_B_LAYER,
    GAS,
    HIT_BRANCHES,
    HIT_COUNTER,
    MASS,
    MC_TREES,
    MIN_HITS_PID,
    N_BARREL_LAYERS,
    N_BARREL_MODULES,
    N_ENDCAP_LAYERS,
    PDG_ID,
    REGION,
    RT_COEFFICIENTS,
    STRAW_RADIUS,
    TOT_BIN,
    TOT_NBINS,
    TRACK_BRANCHES,
    TREES,
)

__all__ = [
    "DATA_PARAMS",
    "MASS",
    "MC_PARAMS",
    "PDG_ID",
    "TRTParams",
    "add_args",
    "eprob_ht",
    "generate",
    "log_likelihood_ratio",
    "onset_curve",
    "p_ht",
    "run",
    "simulate",
    "straw_layer_index",
    "sweights",
]

_TREE_ID = {name: i for i, name in enumerate(TREES)}
CHUNK = 100_000  # tracks generated at once; fixed so results do not depend on memory settings

# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
#: Ar-filled straws: barrel module rings × φ-modules, and end-cap wheels per side (+1 A, −1 C).
_AR_BARREL_RINGS = (0,)
_AR_BARREL_MODULES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25)
_AR_EC_WHEELS = {1: (4, 5), -1: (4, 5, 12)}
_HIT_EFFICIENCY = 0.8  # hit efficiency given a straw crossing (dead straws, thresholds)


def _barrel_layers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    radius, ring, sl = [], [], []
    for i, (n, r0, r1) in enumerate(BARREL_RINGS):
        radius += list(r0 + (np.arange(n) + 0.5) * (r1 - r0) / n)
        ring += [i] * n
        sl += list(range(n))
    return np.array(radius), np.array(ring), np.array(sl)


def _endcap_layers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, wheel, sl = [], [], []
    w0 = 0
    for z0, pitch, n, spacing, n_wheels in EC_WHEELS:
        for w in range(n_wheels):
            z += list(z0 + w * pitch + spacing / 2 + spacing * np.arange(n))
            wheel += [w0 + w] * n
            sl += list(range(n))
        w0 += n_wheels
    return np.array(z), np.array(wheel), np.array(sl)


_BL_R, _BL_RING, _BL_SL = _barrel_layers()  # 73 barrel layers
_EC_Z, _EC_WHEEL, _EC_SL = _endcap_layers()  # 160 end-cap layers per side
_BL_NSTRAW = np.round(2 * np.pi * _BL_R / N_BARREL_MODULES / BARREL_PITCH).astype(np.int64)
_BL_FIRST = np.concatenate([[0], np.cumsum([n for n, _, _ in BARREL_RINGS])[:-1]])
_EC_FIRST = np.concatenate([[0], np.cumsum([16] * 6 + [8] * 7)])  # first global layer per wheel


def straw_layer_index(bec: Any, layer: Any, strawlayer: Any) -> np.ndarray:
    """Global straw-layer index within a region: barrel 0–72, end-cap 0–159.

    Args:
        bec: barrel/end-cap code (±1 barrel, ±2 end-cap).
        layer: module ring (barrel, 0–2) or wheel (end-cap, 0–13).
        strawlayer: straw layer within the module ring or wheel.
    """
    bec, layer, sl = (np.asarray(a, dtype=np.int64) for a in (bec, layer, strawlayer))
    barrel = np.abs(bec) == 1
    return np.where(barrel, _BL_FIRST[np.clip(layer, 0, 2)], _EC_FIRST[np.clip(layer, 0, 13)]) + sl


# ---------------------------------------------------------------------------------------------
# Model parameters
# ---------------------------------------------------------------------------------------------
#: Gompertz onset parameters (a, b, c, d) per (gas, detector part: barrel, end-cap A, end-cap
#: B), fitted to the ATLAS default calibration at occupancy 0
#: (:data:`~hepnb.chapters.trt.schema.ONSET_CALIBRATION`; ≤1.4 % off for Xe, ≤3.9 % for Ar).
_ONSET = np.array(
    [
        [
            [0.02572, 0.17772, 3.00479, 0.57734],
            [0.04700, 0.18398, 3.14343, 0.48564],
            [0.04277, 0.27023, 3.21882, 0.62225],
        ],  # Xe
        [
            [0.03729, 0.06416, 3.13901, 0.89766],
            [0.03835, 0.07446, 3.24063, 0.92649],
            [0.03835, 0.07446, 3.24063, 0.92649],  # as [HTCALC]: EB argon = EA argon
        ],  # Ar
    ]
)
N_PARTS = 3
#: Pile-up HT chance q = 1 − exp(−κ·occ): matches the default calibration's occupancy term
#: ΔOcc = 0.0918·occ + 0.0744·occ² (Xe barrel) at occ = 0.2 (see the schema's [HTCALC]).
_OCC_KAPPA = 0.107


@dataclass(frozen=True)
class TRTParams:
    """Parameters of the detector response that differ between MC and "data".

    Attributes:
        ht_scale: factor on the HT probability (data/MC).
        tot_scale: factor on the ToT (data/MC).
        pileup_mean: mean number of pile-up interactions ⟨μ⟩ driving the occupancy.
        occ_per_pileup: track occupancy per pile-up interaction.
        tp_weights: draw tag-and-probe-like weights instead of 1.
        tot_k: ToT per mm of path at minimum ionisation, (Xe, Ar), ns/mm.
        tot_width: relative Landau (Moyal) width of the deposit, (Xe, Ar).
        tot_tr: extra ToT on HT hits from absorbed TR photons, (Xe, Ar), ns.
        tot_ion_ht: extra ToT on HT hits without TR (δ-rays, pile-up), (Xe, Ar), ns.
        rise: relativistic rise of the ToT from minimum ionisation to the Fermi plateau, (Xe, Ar).
        rise_center: log10 βγ at half the rise.
        rise_width: width of the rise in log10 βγ.
        onset_shift: shift of the TR onset towards higher log10 γ (a different radiator or
            gas mixture than simulated).
        layer_gain: amplitude of a per-straw-layer gas-gain pattern multiplying ToT and HT
            probability (``1 + layer_gain·sin(…)`` per layer).
        bkg_fraction: fraction of background (pion) tracks among the probes; the tracks then
            carry sWeight-like signal weights from a mass fit (may be negative).
    """

    ht_scale: float = 1.0
    tot_scale: float = 1.0
    pileup_mean: float = 32.0
    occ_per_pileup: float = 0.0052
    tp_weights: bool = False
    tot_k: tuple[float, float] = (4.0, 3.4)
    tot_width: tuple[float, float] = (0.22, 0.25)
    tot_tr: tuple[float, float] = (10.0, 7.0)
    tot_ion_ht: tuple[float, float] = (6.0, 5.0)
    rise: tuple[float, float] = (0.15, 0.12)
    rise_center: float = 2.2
    rise_width: float = 0.4
    onset_shift: float = 0.0
    layer_gain: float = 0.0
    bkg_fraction: float = 0.0


#: Nominal simulation.
MC_PARAMS = TRTParams()
#: "Data": more pile-up, HT probability ×1.05, ToT ×0.97, the TR onset 0.1 later in log10 γ,
#: a ±6 % gain pattern over the straw layers, 8 % background (pions) among the probes and
#: sWeight-like weights.
DATA_PARAMS = TRTParams(
    ht_scale=1.05,
    tot_scale=0.97,
    pileup_mean=40.0,
    tp_weights=True,
    onset_shift=0.1,
    layer_gain=0.06,
    bkg_fraction=0.08,
)


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------
def _check_species(species: str, name: str = "species") -> str:
    if species not in MASS:
        raise ValueError(f"{name} must be one of {sorted(MASS)}, got {species!r}")
    return species


def _check_count(n_tracks: object) -> None:
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int | np.integer) or n_tracks < 1:
        raise ValueError(f"n_tracks must be an integer >= 1, got {n_tracks!r}")


def _check_occupancy(occupancy: Any) -> np.ndarray:
    occ = np.asarray(occupancy, dtype=np.float64)
    if np.any(occ < 0) or not np.all(np.isfinite(occ)):
        raise ValueError(f"occupancy must be finite and >= 0, got min {np.min(occ)!r}")
    return occ


def _gas_code(gas: Any) -> np.ndarray:
    if isinstance(gas, str):
        if gas not in GAS:
            raise ValueError(f"gas must be one of {sorted(GAS)} or 0/1, got {gas!r}")
        return np.asarray(GAS[gas])
    g = np.asarray(gas, dtype=np.int64)
    if np.any((g != 0) & (g != 1)):
        raise ValueError("gas must be 0 (Xe) or 1 (Ar)")
    return g


# ---------------------------------------------------------------------------------------------
# HT probability
# ---------------------------------------------------------------------------------------------
_ONSET_FLAT = _ONSET.reshape(2 * N_PARTS, 4)  # row = 3·gas + part; columns a, b, c, d


def _part(endcap: np.ndarray, sl: np.ndarray) -> np.ndarray:
    """Detector part of a hit: 0 barrel, 1 end-cap A, 2 end-cap B (global layer index ``sl``)."""
    sl = np.asarray(sl, dtype=np.int64)
    return np.where(endcap, np.where(sl >= FIRST_B_LAYER, 2, 1), 0)


def _onset(log10_gamma: np.ndarray, gas: np.ndarray, part: np.ndarray) -> np.ndarray:
    a, b, c, d = _ONSET_FLAT[N_PARTS * np.asarray(gas, dtype=np.int64) + part].T
    return a + b * np.exp(-np.exp(-(log10_gamma - c) / d))


def _onset_tracks(log10_gamma: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """Onset per track for the six (gas, part) combinations, shape (n, 6)."""
    a, b, c, d = _ONSET_FLAT.T
    return a + b * np.exp(-np.exp(-(log10_gamma[:, None] - shift - c) / d))


def _layer_gain(endcap: np.ndarray, sl: np.ndarray, amplitude: float) -> np.ndarray | None:
    """Per-straw-layer gain factor of the "data" response (None when the amplitude is 0)."""
    if amplitude == 0:
        return None
    idx = np.asarray(sl, dtype=np.float64) + N_BARREL_LAYERS * np.asarray(endcap)
    return 1.0 + amplitude * np.sin(2.399 * idx + 0.7)


def _straw_layer_table() -> np.ndarray:
    # First straw layers behind a module/wheel boundary see less radiator in front of them.
    barrel = (1.05 - 0.12 * np.exp(-_BL_SL / 3.0)) / 1.0345
    endcap = (1.05 - 0.12 * np.exp(-_EC_SL / 2.0)) / 1.0285
    return np.concatenate([barrel, endcap])


_SL_CORR = _straw_layer_table()  # 73 barrel then 160 end-cap layers


def _corr_straw_layer(endcap: np.ndarray, sl: np.ndarray) -> np.ndarray:
    return np.take(_SL_CORR, sl + N_BARREL_LAYERS * endcap, mode="clip")


def _corr_zr(endcap: np.ndarray, zr: np.ndarray) -> np.ndarray:
    # Signal attenuation along the wire: hits far from the read-out end have less amplitude.
    u_b = np.clip(np.abs(zr) / BARREL_HALF_Z, 0.0, 1.0)
    u_e = np.clip((zr - EC_RMIN) / (EC_RMAX - EC_RMIN), 0.0, 1.0)
    return np.where(endcap, (0.85 + 0.32 * u_e) / 1.0036, (0.85 + 0.35 * u_b**2) / 0.9367)


def _corr_r_ion(r: np.ndarray) -> np.ndarray:
    # HT from ionisation (δ-rays, Landau tail) grows with the path length L in the gas, so it
    # falls steeply towards the straw wall; normalised to 1 for r uniform in [0, 2) mm.
    r = np.clip(r, 0.0, STRAW_RADIUS)
    return (0.6 + 0.5 * np.sqrt(STRAW_RADIUS**2 - r * r)) / (0.6 + np.pi / 4)


_TR_ABS_LENGTH = 3.0  # mm, effective absorption length of TR X-rays (~10 keV) in the gas


def _corr_r_tr_raw(r: np.ndarray) -> np.ndarray:
    # TR photons are collinear with the electron, so they cross the straw along the track's
    # chord L: the absorption probability 1 − exp(−L/λ) falls towards the wall.
    r = np.clip(r, 0.0, STRAW_RADIUS)
    return 0.5 - np.expm1(-2.0 * np.sqrt(STRAW_RADIUS**2 - r * r) / _TR_ABS_LENGTH)


_CORR_R_TR_NORM = float(np.mean(_corr_r_tr_raw(np.linspace(0.0, STRAW_RADIUS, 200_001))))


def _corr_r_tr(r: np.ndarray) -> np.ndarray:
    return _corr_r_tr_raw(r) / _CORR_R_TR_NORM


def _corrections(
    endcap: np.ndarray, sl: np.ndarray, zr: np.ndarray | None, r: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-straw corrections of the (ionisation, TR) parts of pHT: straw layer always, ZR and
    rTrkWire if given."""
    corr = _corr_straw_layer(endcap, sl)
    if zr is not None:
        corr = corr * _corr_zr(endcap, zr)
    if r is None:
        return corr, corr
    return corr * _corr_r_ion(r), corr * _corr_r_tr(r)


def _p_from_parts(
    ion: np.ndarray,
    tr: np.ndarray,
    corr: tuple[np.ndarray, np.ndarray],
    q: np.ndarray,
    ht_scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """HT probability and the fraction of HT hits due to absorbed TR.

    pHT = 1 − (1 − ion·C_ion − tr·C_TR)(1 − q), times ``ht_scale``, clipped to (0, 1); an HT
    hit comes from TR with probability tr·C_TR / pHT (before ``ht_scale``).
    """
    p_tr = tr * corr[1]
    p = 1.0 - (1.0 - ion * corr[0] - p_tr) * (1.0 - q)
    frac_tr = np.clip(p_tr / np.maximum(p, 1e-12), 0.0, 1.0)
    if ht_scale != 1.0:
        p *= ht_scale
    return np.clip(p, 1e-6, 1.0 - 1e-6), frac_tr


def _pileup_ht(occ: np.ndarray) -> np.ndarray:
    return -np.expm1(-_OCC_KAPPA * occ)


def _p_ht(
    log10_gamma: np.ndarray,
    gas: np.ndarray,
    endcap: np.ndarray,
    sl: np.ndarray,
    occ: np.ndarray,
    zr: np.ndarray | None,
    r: np.ndarray | None,
    ht_scale: float = 1.0,
) -> np.ndarray:
    """Elementwise HT probability (all inputs broadcast)."""
    part = _part(endcap, sl)
    combo = N_PARTS * np.asarray(gas, dtype=np.int64) + part
    ion = _ONSET_FLAT[combo, 0]
    tr = _onset(log10_gamma, gas, part) - ion
    return _p_from_parts(ion, tr, _corrections(endcap, sl, zr, r), _pileup_ht(occ), ht_scale)[0]


def _p_ht_hits(
    log10_gamma_trk: np.ndarray,
    occ_trk: np.ndarray,
    trk: np.ndarray,
    combo: np.ndarray,
    corr: tuple[np.ndarray, np.ndarray],
    ht_scale: float = 1.0,
    shift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """HT probability (and TR fraction of HT hits) of flat hits (fast path): γ and occupancy
    per track, ``combo`` = 3·gas + part and the per-straw corrections ``corr`` = (C_ion, C_TR)
    per hit; ``shift`` moves the onset (log10 γ)."""
    ion = _ONSET_FLAT[combo, 0]
    tr = _onset_tracks(log10_gamma_trk, shift).ravel()[2 * N_PARTS * trk + combo] - ion
    return _p_from_parts(ion, tr, corr, _pileup_ht(occ_trk)[trk], ht_scale)


def p_ht(
    gamma: Any,
    gas: Any,
    bec: Any,
    straw_layer: Any,
    occupancy: Any,
    zr: Any = None,
    r_trk_wire: Any = None,
) -> np.ndarray:
    """HT probability of one straw hit (the simulator's MC input), vectorised.

    Args:
        gamma: Lorentz factor γ = p/m.
        gas: 0/``"Xe"`` or 1/``"Ar"``.
        bec: ±1 barrel, ±2 end-cap.
        straw_layer: global straw-layer index in the region (see :func:`straw_layer_index`).
        occupancy: track occupancy (≥ 0).
        zr: position along the straw (mm): |z| in the barrel, r in the end-caps; ``None`` → no
            ZR correction.
        r_trk_wire: track-to-wire distance (mm); ``None`` → no rTrkWire correction.

    Returns:
        HT probability, broadcast over the inputs.
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    if np.any(gamma < 1):
        raise ValueError("gamma must be >= 1")
    occ = _check_occupancy(occupancy)
    endcap = np.abs(np.asarray(bec)) == 2
    sl = np.asarray(straw_layer, dtype=np.int64)
    zr = None if zr is None else np.asarray(zr, dtype=np.float64)
    r = None if r_trk_wire is None else np.asarray(r_trk_wire, dtype=np.float64)
    return _p_ht(np.log10(gamma), _gas_code(gas), endcap, sl, occ, zr, r)


def onset_curve(
    log10_gamma: Any, gas: str = "Xe", region: str = "barrel", occupancy: float = 0.0
) -> np.ndarray:
    """Input HT-onset curve for an average straw (no per-straw corrections).

    Args:
        log10_gamma: log10 of the Lorentz factor.
        gas: ``"Xe"`` or ``"Ar"``.
        region: ``"barrel"``, ``"endcapA"`` (or ``"endcap"``) or ``"endcapB"``.
        occupancy: track occupancy (≥ 0).

    Returns:
        HT probability at each ``log10_gamma``.
    """
    region = "endcapA" if region == "endcap" else region
    if region not in REGION:
        raise ValueError(f"region must be one of {sorted(REGION)}, got {region!r}")
    x = np.asarray(log10_gamma, dtype=np.float64)
    occ = _check_occupancy(occupancy)
    g, e = _gas_code(gas), np.asarray(REGION[region], dtype=np.int64)
    p0 = _onset(x, g, e)
    q = -np.expm1(-_OCC_KAPPA * occ)
    return 1.0 - (1.0 - p0) * (1.0 - q)


# ---------------------------------------------------------------------------------------------
# ToT model
# ---------------------------------------------------------------------------------------------
def _rise_tracks(log10_bg: np.ndarray, prm: TRTParams) -> np.ndarray:
    """Relativistic rise R(βγ) per track for (Xe, Ar), shape (n, 2)."""
    s = special.expit((log10_bg[:, None] - prm.rise_center) / prm.rise_width)
    return 1.0 + np.asarray(prm.rise) * s


def _tot_loc_scale(
    length: np.ndarray,
    log10_bg_trk: np.ndarray,
    trk: np.ndarray,
    gas: np.ndarray,
    prm: TRTParams,
    gain: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Continuous ToT = loc + scale·M (M standard Moyal) of flat hits, before any HT extra."""
    rise = _rise_tracks(log10_bg_trk, prm).ravel()[2 * trk + gas]
    base = prm.tot_scale * np.asarray(prm.tot_k)[gas] * length * rise
    if gain is not None:
        base = base * gain
    return base, np.maximum(base * np.asarray(prm.tot_width)[gas], 1e-9)


def _log_moyal_cdf(u: np.ndarray) -> np.ndarray:
    # F(x) = erfc(e^{-x/2}/√2) = 2Φ(−u), u = e^{-x/2}
    return np.log(2.0) + special.log_ndtr(-u)


def _log_moyal_sf(u: np.ndarray) -> np.ndarray:
    # S(x) = erf(u/√2)
    return np.where(
        u < 1.0, np.log(special.erf(u / np.sqrt(2.0))), np.log1p(-special.erfc(u / np.sqrt(2.0)))
    )


def _log_bin_prob(k: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log P(ToT in bin k) for ToT = loc + scale·Moyal, bins of 3.125 ns, last one open."""
    lo = np.where(k > 0, k * TOT_BIN, -np.inf)
    hi = np.where(k < TOT_NBINS, (k + 1) * TOT_BIN, np.inf)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        u_lo = np.exp(-0.5 * (lo - loc) / scale)  # +inf for lo = −inf
        u_hi = np.exp(-0.5 * (hi - loc) / scale)  # 0 for hi = +inf
        left = u_lo >= 0.6744897501960817  # F(lo) <= 1/2: work with the cdf, else with the sf
        lf_hi, lf_lo = _log_moyal_cdf(u_hi), _log_moyal_cdf(u_lo)
        ls_lo, ls_hi = _log_moyal_sf(u_lo), _log_moyal_sf(u_hi)
        via_cdf = lf_hi + np.log1p(-np.exp(lf_lo - lf_hi))
        via_sf = ls_lo + np.log1p(-np.exp(ls_hi - ls_lo))
    return np.where(left, via_cdf, via_sf)


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def _kinematics(n: int, rng: np.random.Generator, prm: TRTParams) -> dict[str, np.ndarray]:
    """Track kinematics and occupancy (identical for every species)."""
    z_like = rng.random(n) < 0.45
    # Z-like: lepton from Z decay, 1+cos²θ* angular distribution, Z recoil.
    m = np.clip(91.1876 + 1.2475 * np.tan(np.pi * (rng.random(n) - 0.5)), 75.0, 105.0)
    qc = 4.0 - 8.0 * rng.random(n)  # solve c³ + 3c + qc = 0 (inverse cdf of 1 + c²)
    disc = np.sqrt(qc**2 / 4.0 + 1.0)
    cos_t = np.cbrt(-qc / 2 + disc) + np.cbrt(-qc / 2 - disc)
    pt_recoil = rng.gamma(1.3, 6.0, n) * np.cos(2 * np.pi * rng.random(n))
    pt_z = np.maximum(0.5 * m * np.sqrt(np.clip(1 - cos_t**2, 0, 1)) + 0.5 * pt_recoil, 5.0)
    # J/ψ-like: soft, steeply falling, pT ≥ 1 GeV.
    pt_j = 1.0 + rng.gamma(1.2, 3.5, n)
    pt = 1e3 * np.where(z_like, pt_z, pt_j)  # MeV
    eta = rng.uniform(-2.0, 2.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    charge = np.where(rng.random(n) < 0.5, -1, 1)
    z0 = rng.normal(0.0, 45.0, n)
    pileup = rng.gamma(9.0, prm.pileup_mean / 9.0, n)
    occ = prm.occ_per_pileup * pileup * (0.85 + 0.15 * np.abs(eta))
    occ = np.clip(occ * np.exp(rng.normal(-0.011, 0.15, n)), 0.005, 0.6)
    # tag-and-probe: background-subtraction-like purity weights, lower at low pT
    weight = 1.0 - 0.12 * np.exp(-pt / 8e3) * rng.random(n) if prm.tp_weights else np.ones(n)
    return {
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "charge": charge,
        "z0": z0,
        "occ": occ,
        "weight": weight,
    }


def _crossings(
    kin: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hits from geometry: (track index, is end-cap, layer index, counts per track)."""
    n = len(kin["eta"])
    sh = np.sinh(kin["eta"])
    side = np.where(kin["eta"] >= 0, 1.0, -1.0)
    ash = np.maximum(np.abs(sh), 1e-9)
    z0 = kin["z0"]
    r_max = (BARREL_HALF_Z - side * z0) / ash  # barrel layers crossed: R < r_max
    k_b = np.searchsorted(_BL_R, r_max)
    k_lo = np.searchsorted(_EC_Z, EC_RMIN * ash + side * z0)
    k_hi = np.searchsorted(_EC_Z, EC_RMAX * ash + side * z0, side="right")
    k_e = np.maximum(k_hi - k_lo, 0)
    n_cross = k_b + k_e
    trk = np.repeat(np.arange(n), n_cross)
    start = np.cumsum(n_cross) - n_cross
    j = np.arange(len(trk)) - start[trk]
    endcap = j >= k_b[trk]
    layer = np.where(endcap, k_lo[trk] + j - k_b[trk], j)
    # probability that a straw is crossed (4 mm straw over the rφ pitch) times efficiency
    p_geo = np.full(len(trk), 2 * STRAW_RADIUS / BARREL_PITCH)
    te, le = trk[endcap], layer[endcap]
    r_ec = (_EC_Z[le] - side[te] * z0[te]) / ash[te]
    p_geo[endcap] = np.minimum(1.0, 2 * STRAW_RADIUS * EC_STRAWS_PHI / (2 * np.pi * r_ec))
    hit = rng.random(len(trk)) < _HIT_EFFICIENCY * p_geo
    trk, endcap, layer = trk[hit], endcap[hit], layer[hit]
    return trk, endcap, layer, np.bincount(trk, minlength=n)


def _chunk(n: int, species: str, rng: np.random.Generator, prm: TRTParams) -> dict[str, Any]:
    """Generate ``n`` tracks with ≥ 5 hits; return flat hit arrays, counts and track arrays."""
    kin_parts, hit_parts, have = [], [], 0
    while have < n:
        m = int((n - have) * 1.03) + 16
        kin = _kinematics(m, rng, prm)
        trk, endcap, layer, counts = _crossings(kin, rng)
        good = counts >= MIN_HITS_PID
        keep = np.flatnonzero(good)[: n - have]
        sel = np.zeros(m, dtype=bool)
        sel[keep] = True
        new_index = np.cumsum(sel) - 1
        hsel = sel[trk]
        kin_parts.append({k: v[keep] for k, v in kin.items()})
        hit_parts.append((new_index[trk[hsel]] + have, endcap[hsel], layer[hsel]))
        have += len(keep)
    kin = {k: np.concatenate([p[k] for p in kin_parts]) for k in kin_parts[0]}
    trk = np.concatenate([h[0] for h in hit_parts])
    endcap = np.concatenate([h[1] for h in hit_parts])
    layer = np.concatenate([h[2] for h in hit_parts])
    return _fill(kin, trk, endcap, layer, species, rng, prm)


def _fill(
    kin: dict[str, np.ndarray],
    trk: np.ndarray,
    endcap: np.ndarray,
    layer: np.ndarray,
    species: str,
    rng: np.random.Generator,
    prm: TRTParams,
) -> dict[str, Any]:
    n, nh = len(kin["eta"]), len(trk)
    f32 = np.float32
    eta, phi0, q = kin["eta"], kin["phi"], kin["charge"]
    pt32 = kin["pt"].astype(f32)
    p32 = (kin["pt"] * np.cosh(eta)).astype(f32)
    occ32 = kin["occ"].astype(f32)
    sh = np.sinh(eta)
    side = np.where(eta >= 0, 1.0, -1.0)
    # --- hit positions
    z0 = kin["z0"][trk]
    lay_b = np.minimum(layer, N_BARREL_LAYERS - 1)
    lay_e = np.minimum(layer, N_ENDCAP_LAYERS - 1)
    r_b = _BL_R[lay_b]
    z_b = z0 + r_b * sh[trk]
    z_e = side[trk] * _EC_Z[lay_e]
    r_e = (_EC_Z[lay_e] - side[trk] * z0) / np.maximum(np.abs(sh[trk]), 1e-9)
    hit_r = np.where(endcap, r_e, r_b)
    hit_z = np.where(endcap, z_e, z_b)
    rho = kin["pt"][trk] / 0.6  # mm, 2 T
    bend = np.arcsin(np.minimum(hit_r / (2 * rho), 1.0))
    phi_h = np.mod(phi0[trk] - q[trk] * bend, 2 * np.pi)
    phi_dir = phi0[trk] - 2 * q[trk] * bend
    # --- straw identifiers
    ring = _BL_RING[lay_b]
    wheel = _EC_WHEEL[lay_e]
    hit_layer = np.where(endcap, wheel, ring)
    hit_sl = np.where(endcap, _EC_SL[lay_e], _BL_SL[lay_b])
    mod_width = 2 * np.pi / N_BARREL_MODULES
    straw_b = np.floor(np.mod(phi_h, mod_width) / mod_width * _BL_NSTRAW[lay_b])
    straw_e = np.floor(phi_h / (2 * np.pi) * EC_STRAWS_PHI)
    strawnumber = np.where(endcap, straw_e, straw_b).astype(np.int32)
    bec = np.where(endcap, 2 * side[trk], np.where(z_b >= 0, 1, -1)).astype(np.int32)
    ar = np.zeros(nh, dtype=bool)
    module = np.floor(phi_h / mod_width).astype(np.int64)
    ar |= ~endcap & np.isin(ring, _AR_BARREL_RINGS) & np.isin(module, _AR_BARREL_MODULES)
    for s, wheels in _AR_EC_WHEELS.items():
        ar |= endcap & (side[trk] == s) & np.isin(wheel, wheels)
    gas = ar.astype(np.int32)
    # --- drift circle: r uniform, L from the stored (float32) r
    r32 = (STRAW_RADIUS * (1 - 1e-4) * rng.random(nh)).astype(f32)
    r = r32.astype(np.float64)
    l32 = (2.0 * np.sqrt(STRAW_RADIUS**2 - r**2)).astype(f32)
    hit_r32, hit_z32 = hit_r.astype(f32), hit_z.astype(f32)
    c0, c1, c2 = RT_COEFFICIENTS
    t_r = c0 + c1 * r + c2 * r**2  # ns, r-t relation
    tube = rng.random(nh) < 0.05 + 0.3 * kin["occ"][trk]  # leading edge from a pile-up hit
    drift = np.where(tube, t_r * rng.random(nh), t_r + rng.normal(0.0, 2.5, nh))
    gl = np.where(endcap, lay_e, lay_b)
    t0 = 11.0 + 2.5 * np.sin(0.731 * strawnumber + 1.37 * gl + 0.5 * bec)
    cos_lt = np.where(
        endcap,
        np.sin(2 * np.arctan(np.exp(-eta[trk]))) * np.cos(phi_dir - phi_h),
        np.cos(2 * np.arctan(np.exp(-eta[trk]))),
    )
    local_theta = np.arccos(np.clip(cos_lt, -1, 1))
    local_phi = np.mod(phi_dir - phi_h + np.pi, 2 * np.pi) - np.pi
    # --- HT and ToT from the stored values
    zr = np.where(endcap, hit_r32, np.abs(hit_z32)).astype(np.float64)
    log_g = np.log10(p32.astype(np.float64) / MASS[species])  # per track
    occ64 = occ32.astype(np.float64)
    combo = N_PARTS * gas + _part(endcap, gl)
    corr_mc = _corrections(endcap, gl, zr, r)
    gain = _layer_gain(endcap, gl, prm.layer_gain)
    corr = corr_mc if gain is None else (corr_mc[0] * gain, corr_mc[1] * gain)
    ph, frac_tr = _p_ht_hits(log_g, occ64, trk, combo, corr, prm.ht_scale, prm.onset_shift)
    u = rng.random(nh)
    ht = (u < ph).astype(np.int32)
    is_tr = u < ph * frac_tr  # the HT hits where a TR photon was absorbed
    loc, scale = _tot_loc_scale(l32.astype(np.float64), log_g, trk, gas, prm, gain)
    extra = np.where(is_tr, np.asarray(prm.tot_tr)[gas], np.asarray(prm.tot_ion_ht)[gas] * ht)
    loc = loc + prm.tot_scale * extra
    moyal = -np.log(np.maximum(rng.standard_normal(nh) ** 2, 1e-300))
    tot_bin = np.clip(np.floor((loc + scale * moyal) / TOT_BIN), 0, TOT_NBINS)
    tot = (tot_bin * TOT_BIN).astype(f32)
    hits = {
        "hit_HTMB": ht,
        "hit_gasType": gas,
        "hit_bec": bec,
        "hit_layer": hit_layer.astype(np.int32),
        "hit_strawlayer": hit_sl.astype(np.int32),
        "hit_strawnumber": strawnumber,
        "hit_drifttime": drift.astype(f32),
        "hit_tot": tot,
        "hit_T0": t0.astype(f32),
        "hit_localTheta": local_theta.astype(f32),
        "hit_localPhi": local_phi.astype(f32),
        "hit_HitZ": hit_z32,
        "hit_HitR": hit_r32,
        "hit_rTrkWire": r32,
        "hit_L": l32,
    }
    counts = np.bincount(trk, minlength=n)
    n_ar = np.bincount(trk[ar], minlength=n).astype(np.int32)
    theta = 2 * np.arctan(np.exp(-eta))
    pdg = PDG_ID[species] * (q if species == "pion" else -q)
    track = {
        "weight": kin["weight"].astype(f32),
        "pdgId": pdg.astype(np.int32),
        "trkOcc": occ32,
        "truthMass": np.full(n, MASS[species], dtype=f32),
        "p": p32,
        "pT": pt32,
        "eta": eta.astype(f32),
        "phi": phi0.astype(f32),
        "theta": theta.astype(f32),
        "nTRThits": counts.astype(np.int32),
        "nArhits": n_ar,
        "nXehits": (counts - n_ar).astype(np.int32),
        "nHThits": np.bincount(trk, weights=ht, minlength=n).astype(np.int32),
        "sumToT": np.bincount(trk, weights=tot, minlength=n).astype(f32),
        "sumL": np.bincount(trk, weights=l32, minlength=n).astype(f32),
    }
    # ATLAS's eProbHT: MC calibration, all per-hit corrections (straw layer × ZR × rTrkWire)
    track["eProbHT"] = _eprob_flat(p32, occ32, counts, ht, combo, corr_mc)
    return {"track": track, "hits": hits, "counts": counts}


#: Tag-and-probe mass fit of the "data" probes: window (GeV), Z peak (Gaussian resolution) and
#: the slope of the exponential background (1/GeV).
_MASS_WINDOW = (71.0, 111.0)
_M_Z, _SIGMA_M, _BKG_SLOPE = 91.19, 3.0, 0.04


def _mass_pdfs(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = _MASS_WINDOW
    norm_s = special.ndtr((hi - _M_Z) / _SIGMA_M) - special.ndtr((lo - _M_Z) / _SIGMA_M)
    f_s = np.exp(-0.5 * ((m - _M_Z) / _SIGMA_M) ** 2) / (np.sqrt(2 * np.pi) * _SIGMA_M * norm_s)
    f_b = _BKG_SLOPE * np.exp(-_BKG_SLOPE * (m - lo)) / -np.expm1(-_BKG_SLOPE * (hi - lo))
    return f_s, f_b


def _draw_mass(n_s: int, n_b: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = _MASS_WINDOW
    a, b = special.ndtr((lo - _M_Z) / _SIGMA_M), special.ndtr((hi - _M_Z) / _SIGMA_M)
    m_s = _M_Z + _SIGMA_M * special.ndtri(a + (b - a) * rng.random(n_s))
    u = rng.random(n_b)
    m_b = lo - np.log1p(u * np.expm1(-_BKG_SLOPE * (hi - lo))) / _BKG_SLOPE
    return np.concatenate([m_s, m_b])


def sweights(mass: np.ndarray, n_signal: float, n_background: float) -> np.ndarray:
    """Signal sWeights of a two-component (Z peak + exponential) mass fit with the yields given.

    w_s(m) = (V_ss f_s(m) + V_sb f_b(m)) / (N_s f_s(m) + N_b f_b(m)), V⁻¹ = Σ f_i f_j / (N_s f_s +
    N_b f_b)² over the events (Pivk & Le Diberder, NIM A 555 (2005) 356): weighted
    distributions of variables independent of the mass are those of the signal; background-like
    masses get negative weights.
    """
    f_s, f_b = _mass_pdfs(np.asarray(mass, dtype=np.float64))
    den = n_signal * f_s + n_background * f_b
    f = np.stack([f_s, f_b])
    v = np.linalg.inv((f[:, None, :] * f[None, :, :] / den**2).sum(-1))
    return (v[0, 0] * f_s + v[0, 1] * f_b) / den


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "track": {k: np.concatenate([a["track"][k], b["track"][k]]) for k in a["track"]},
        "hits": {k: np.concatenate([a["hits"][k], b["hits"][k]]) for k in a["hits"]},
        "counts": np.concatenate([a["counts"], b["counts"]]),
    }


def _probe_chunk(m: int, species: str, gen: np.random.Generator, prm: TRTParams) -> dict:
    """Probes with a ``bkg_fraction`` of pions, weighted by their signal sWeights."""
    n_b = int(gen.binomial(m, prm.bkg_fraction))
    if n_b == 0 or n_b == m:
        return _chunk(m, species, gen, prm)
    out = _merge(_chunk(m - n_b, species, gen, prm), _chunk(n_b, "pion", gen, prm))
    mass = _draw_mass(m - n_b, n_b, gen)
    out["track"]["weight"] = sweights(mass, m - n_b, n_b).astype(np.float32)
    return out


def _to_branches(chunk: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {b: chunk["track"][b] for b in TRACK_BRANCHES}
    for b in HIT_BRANCHES:
        out[b] = ak.unflatten(chunk["hits"][b], chunk["counts"])
    return out


def _seed_sequence(seed: int, tree: str, chunk: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy=seed, spawn_key=(_TREE_ID[tree], chunk))


def _iter_chunks(
    n_tracks: int,
    species: str,
    seed: int,
    data: bool,
    rng: np.random.Generator | None = None,
    params: TRTParams | None = None,
) -> Iterator[dict[str, Any]]:
    _check_species(species)
    _check_count(n_tracks)
    prm = params if params is not None else (DATA_PARAMS if data else MC_PARAMS)
    if prm.ht_scale <= 0 or prm.tot_scale <= 0 or prm.pileup_mean < 0:
        raise ValueError("params: ht_scale and tot_scale must be > 0 and pileup_mean >= 0")
    # seeds follow the tree names; there is no pion data tree, so pions always seed as pion_mc
    tree = "pion_mc" if species == "pion" else f"{species}_{'probes' if data else 'mc'}"
    for i, start in enumerate(range(0, n_tracks, CHUNK)):
        m = min(CHUNK, n_tracks - start)
        if rng is not None:
            gen = np.random.default_rng(rng.integers(0, 2**63))
        else:
            gen = np.random.default_rng(_seed_sequence(seed, tree, i))
        if prm.bkg_fraction > 0 and species != "pion":
            yield _probe_chunk(m, species, gen, prm)
        else:
            yield _chunk(m, species, gen, prm)


def simulate(
    n_tracks: int,
    species: str = "electron",
    seed: int = 0,
    *,
    data: bool = False,
    rng: np.random.Generator | None = None,
    params: TRTParams | None = None,
) -> dict[str, np.ndarray | ak.Array]:
    """Simulate one tree's worth of tracks.

    Args:
        n_tracks: number of tracks (≥ 1).
        species: ``"electron"``, ``"muon"`` or ``"pion"``.
        seed: random seed (the same seed gives the same tracks as the tree in :func:`generate`).
        data: use the "data" response (:data:`DATA_PARAMS`) instead of MC.
        rng: optional generator to draw chunk seeds from (overrides ``seed``).
        params: explicit response parameters (override ``data``).

    Returns:
        ``{branch: array}`` with all TRACK_BRANCHES (numpy) and HIT_BRANCHES (awkward, jagged).
    """
    chunks = [_to_branches(c) for c in _iter_chunks(n_tracks, species, seed, data, rng, params)]
    if len(chunks) == 1:
        return chunks[0]
    return {
        b: (
            ak.concatenate([c[b] for c in chunks])
            if b.startswith("hit_")
            else np.concatenate([c[b] for c in chunks])
        )
        for b in chunks[0]
    }


def generate(
    path: str | Path,
    n_tracks: int = 100_000,
    seed: int = 0,
    *,
    data: bool = True,
    data_fraction: float = 0.25,
    progress: bool = True,
    params: TRTParams | None = None,
    data_params: TRTParams | None = None,
) -> Path:
    """Write a TRTFrame-like ROOT file with the MC trees (and the "data" probe trees).

    Trees are written chunk by chunk (counted jagged ``hit_*`` branches with counter
    ``nTRThitsVec`` (:data:`~hepnb.chapters.trt.schema.HIT_COUNTER`), the same layout as :func:`hepnb.io.write_root`, LZ4-compressed),
    atomically, so memory stays bounded whatever ``n_tracks``.

    Args:
        path: output ``.root`` file.
        n_tracks: tracks per MC tree (≥ 1).
        seed: random seed.
        data: also write ``electron_probes`` and ``muon_probes``.
        data_fraction: data trees hold ``round(data_fraction × n_tracks)`` tracks (≥ 1).
        progress: show a tqdm progress bar over trees and chunks.
        params: MC response parameters (default :data:`MC_PARAMS`).
        data_params: data response parameters (default :data:`DATA_PARAMS`).

    Returns:
        The path written.
    """
    _check_count(n_tracks)
    if not (0 < data_fraction <= 10):
        raise ValueError(f"data_fraction must be in (0, 10], got {data_fraction!r}")
    n_data = max(1, round(data_fraction * n_tracks))
    plan = [(t, n_tracks) for t in MC_TREES] + ([(t, n_data) for t in DATA_TREES] if data else [])
    total = sum(-(-n // CHUNK) for _, n in plan)
    bar = tqdm(total=total, disable=not progress, desc="TRT simulation", unit="chunk")
    path = Path(path)
    # LZ4: ~8x faster to write than uproot's default ZLIB(1) for ~25 % more disk; ROOT reads it.
    with io.atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.LZ4(1)) as f:
        for tree, n in plan:
            species, is_data = TREES[tree]
            prm = (data_params or DATA_PARAMS) if is_data else (params or MC_PARAMS)
            bar.set_postfix_str(tree)
            for i, chunk in enumerate(_iter_chunks(n, species, seed, is_data, None, prm)):
                br = _to_branches(chunk)
                flat: dict[str, Any] = {b: br[b] for b in TRACK_BRANCHES}
                flat["hit"] = ak.zip({b[len("hit_") :]: br[b] for b in HIT_BRANCHES})
                if i == 0:
                    f.mktree(
                        tree,
                        {
                            k: (v.type if isinstance(v, ak.Array) else v.dtype)
                            for k, v in flat.items()
                        },
                        counter_name=lambda key: HIT_COUNTER if key == "hit" else "n" + key,
                    )
                f[tree].extend(flat)
                bar.update(1)
    bar.close()
    return path


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``hepnb generate trt`` (the CLI adds ``--seed`` and ``--out``)."""
    parser.add_argument("--n-tracks", type=int, default=100_000, help="tracks per MC tree")
    parser.add_argument(
        "--data-fraction",
        type=float,
        default=0.25,
        help="size of the 'data' trees relative to the MC trees",
    )
    parser.add_argument("--no-data", action="store_true", help="skip the 'data' trees")


def run(args: argparse.Namespace) -> Path:
    """``hepnb generate trt``: write the ROOT file ``args.out`` and return its path."""
    return generate(
        args.out,
        n_tracks=args.n_tracks,
        seed=args.seed,
        data=not args.no_data,
        data_fraction=args.data_fraction,
    )


# ---------------------------------------------------------------------------------------------
# Classifiers from the stored branches
# ---------------------------------------------------------------------------------------------
_HIT_FIELDS_LLR = (
    "hit_HTMB",
    "hit_gasType",
    "hit_bec",
    "hit_layer",
    "hit_strawlayer",
    "hit_HitZ",
    "hit_HitR",
    "hit_rTrkWire",
    "hit_L",
    "hit_tot",
)


def _flat_hits(arrays: Any, fields: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        counts = np.asarray(ak.num(arrays[fields[0]], axis=1), dtype=np.int64)
        hits = {f: ak.to_numpy(ak.flatten(arrays[f], axis=1)) for f in fields}
    except (KeyError, ValueError, ak.errors.FieldNotFoundError) as exc:
        raise ValueError(f"arrays must hold the TRT branches {list(fields)}: {exc}") from exc
    return counts, hits


def _track(arrays: Any, name: str) -> np.ndarray:
    try:
        return (
            ak.to_numpy(arrays[name])
            if isinstance(arrays[name], ak.Array)
            else np.asarray(arrays[name])
        )
    except (KeyError, ak.errors.FieldNotFoundError) as exc:
        raise ValueError(f"arrays must hold the track branch {name!r}") from exc


def _hit_geometry(hits: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    endcap = np.abs(np.asarray(hits["hit_bec"])) == 2
    gas = np.asarray(hits["hit_gasType"], dtype=np.int64)
    sl = straw_layer_index(hits["hit_bec"], hits["hit_layer"], hits["hit_strawlayer"])
    return endcap, gas, sl


def _eprob_flat(
    p: np.ndarray,
    occ: np.ndarray,
    counts: np.ndarray,
    ht: np.ndarray,
    combo: np.ndarray,
    corr: tuple[np.ndarray, np.ndarray],
    llr: bool = False,
) -> np.ndarray:
    n = len(counts)
    trk = np.repeat(np.arange(n), counts)
    p64, occ64 = np.asarray(p, dtype=np.float64), np.asarray(occ, dtype=np.float64)
    is_ht = np.asarray(ht) > 0
    ll = []
    for mass in (MASS["electron"], MASS["pion"]):
        ph = _p_ht_hits(np.log10(p64 / mass), occ64, trk, combo, corr)[0]
        ll.append(np.bincount(trk, weights=np.where(is_ht, np.log(ph), np.log1p(-ph)), minlength=n))
    return ll[0] - ll[1] if llr else special.expit(ll[0] - ll[1])


def eprob_ht(arrays: Any, *, per_hit: bool = True, llr: bool = False) -> np.ndarray:
    """Classical ATLAS eProbHT of each track, recomputed from its hits.

    ∏pHT(e) / (∏pHT(e) + ∏pHT(π)) over the hits (pHT for HT hits, 1 − pHT for the others) with
    the electron and the pion mass hypotheses and the MC calibration, no ToT. pHT depends on
    γ, gas, detector part (barrel, end-cap A, end-cap B) and occupancy, times ATLAS's per-hit
    corrections [HTCALC ``getProbHT``]: straw layer × position along the straw (ZR: |z| in the
    barrel, r in the end-caps) × track-to-wire distance, calibrated separately for electrons
    (Z→ee) and non-electrons (Z→μμ) there. Here they are the simulator's corrections of the
    ionisation and TR parts, so the effective correction differs between the two hypotheses
    as ATLAS's Zee and Zmm tables do. Equals the stored ``eProbHT`` branch.

    Args:
        arrays: awkward record array (or dict) with ``p``, ``trkOcc`` and the hit branches.
        per_hit: all three per-hit corrections; False: the straw-layer term only (the
            simpler table, for comparison).
        llr: return log L(e)/L(π) instead (its logit: no saturation at 1 for clear electrons).

    Returns:
        eProbHT per track (float64; 0.5 for a track without hits).
    """
    fields: tuple[str, ...] = ("hit_HTMB", "hit_gasType", "hit_bec", "hit_layer", "hit_strawlayer")
    if per_hit:
        fields += ("hit_HitZ", "hit_HitR", "hit_rTrkWire")
    counts, hits = _flat_hits(arrays, fields)
    endcap, gas, sl = _hit_geometry(hits)
    p, occ = _track(arrays, "p"), _track(arrays, "trkOcc")
    if per_hit:
        zr = np.where(endcap, hits["hit_HitR"], np.abs(hits["hit_HitZ"])).astype(np.float64)
        corr = _corrections(endcap, sl, zr, hits["hit_rTrkWire"].astype(np.float64))
    else:
        c_sl = _corr_straw_layer(endcap, sl)
        corr = (c_sl, c_sl)
    combo = N_PARTS * gas + _part(endcap, sl)
    return _eprob_flat(p, occ, counts, hits["hit_HTMB"], combo, corr, llr)


def log_likelihood_ratio(
    arrays: Any,
    background: str = "muon",
    *,
    data: bool = False,
    params: TRTParams | None = None,
) -> np.ndarray:
    """Exact log-likelihood ratio log L(electron)/L(background) of the simulator's model.

    Per hit: the HT probability with all corrections (straw layer, ZR, rTrkWire, occupancy) and
    the probability of the observed ToT bin (Moyal deposit, TR extra charge on HT hits). The
    kinematics, occupancy and hit pattern have the same distributions for every species, so
    they cancel: this is the Neyman–Pearson optimal classifier for the simulated samples.

    Args:
        arrays: awkward record array (or dict) with ``p``, ``trkOcc`` and the hit branches.
        background: ``"muon"`` or ``"pion"``.
        data: evaluate with the "data" response (:data:`DATA_PARAMS`).
        params: explicit response parameters (override ``data``).

    Returns:
        LLR per track (float64; larger = more electron-like).
    """
    if background not in ("muon", "pion"):
        raise ValueError(f"background must be 'muon' or 'pion', got {background!r}")
    prm = params if params is not None else (DATA_PARAMS if data else MC_PARAMS)
    counts, hits = _flat_hits(arrays, _HIT_FIELDS_LLR)
    n = len(counts)
    trk = np.repeat(np.arange(n), counts)
    p64 = _track(arrays, "p").astype(np.float64)
    occ64 = _track(arrays, "trkOcc").astype(np.float64)
    endcap, gas, sl = _hit_geometry(hits)
    zr = np.where(endcap, hits["hit_HitR"], np.abs(hits["hit_HitZ"])).astype(np.float64)
    r = hits["hit_rTrkWire"].astype(np.float64)
    length = hits["hit_L"].astype(np.float64)
    ht = np.asarray(hits["hit_HTMB"]) > 0
    combo = N_PARTS * gas + _part(endcap, sl)
    corr = _corrections(endcap, sl, zr, r)
    gain = _layer_gain(endcap, sl, prm.layer_gain)
    if gain is not None:
        corr = (corr[0] * gain, corr[1] * gain)
    k = np.clip(np.rint(hits["hit_tot"].astype(np.float64) / TOT_BIN), 0, TOT_NBINS)
    out = np.zeros(n)
    for sign, species in ((1.0, "electron"), (-1.0, background)):
        log_g = np.log10(p64 / MASS[species])
        ph, frac_tr = _p_ht_hits(log_g, occ64, trk, combo, corr, prm.ht_scale, prm.onset_shift)
        loc, scale = _tot_loc_scale(length, log_g, trk, gas, prm, gain)
        ll = np.where(ht, np.log(ph), np.log1p(-ph))
        ll[~ht] += _log_bin_prob(k[~ht], loc[~ht], scale[~ht])
        g, lo, sc, f = gas[ht], loc[ht], scale[ht], frac_tr[ht]
        lp_tr = _log_bin_prob(k[ht], lo + prm.tot_scale * np.asarray(prm.tot_tr)[g], sc)
        lp_ion = _log_bin_prob(k[ht], lo + prm.tot_scale * np.asarray(prm.tot_ion_ht)[g], sc)
        with np.errstate(divide="ignore"):
            ll[ht] += np.logaddexp(np.log(f) + lp_tr, np.log1p(-f) + lp_ion)
        out += sign * np.bincount(trk, weights=ll, minlength=n)
    return out
