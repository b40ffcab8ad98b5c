"""Simulator of LDMX multi-electron events: ECal rec hits and trigger-scintillator truth hits.

Writes one ROOT file per electron multiplicity with the ldmx-sw collections of
:mod:`~hepnb.chapters.ecal.schema` (``EcalRecHits``, ``TrigScintScoringPlaneHits``,
``EcalScoringPlaneHits``) as flat jagged branches (:func:`hepnb.io.write_root`). Units: MeV,
mm, ns, rad. Everything is vectorised over all electrons of a chunk of events; showers are
sampled as *energy spots* (≈ 270 per 4 GeV shower, drawn from the longitudinal and lateral
profiles) which are binned into the v14 cells with :func:`~hepnb.chapters.ecal.schema.cell_at`.

Physics model (defaults in :class:`ECalParams`):

* **Beam.** ``n`` electrons of 4 GeV per event with a Gaussian energy spread (1 %,
  illustrative). The core of the beam is spread uniformly over 20 × 80 mm (x × y) at the
  target, ldmx-sw's ``beamSpotSmear`` [schema: BEAM], with a small angular spread (2 mrad:
  beam divergence plus multiple scattering in the 0.1 X₀ target, Highland formula [PDG]).
  A fraction ``halo_fraction`` of the electrons belongs to a broad beam halo (Gaussian,
  σ = 100 mm, 20 mrad): they reach the ECal's outer modules, its module gaps and edges, or
  miss it. The halo is *illustrative* — it is the model's knob for acceptance losses (≈ 2 %
  of the events have an electron off the ECal); the
  20 × 80 mm core alone lies inside the central module, where the count is nearly always
  right.
* **Upstream radiation.** Beam electrons cross ``upstream_x0`` = 3 % X₀ of material before
  the trigger pad (tagger tracker, beam-line windows; illustrative thickness) and may radiate
  a photon with the Bethe–Heitler spectrum [PDG]; the electron then reaches the ECal with the
  rest of its energy (its photon, unbent by the field, leaves its path and is not simulated).
  An electron that radiated more than half its energy still showers where it lands — the
  hits show it — but ΣE / 4 GeV miscounts it: about 2 % of the electrons. Electrons fly in straight lines from the scintillator scoring plane to the ECal.
* **Longitudinal profile** [PDG, "Passage of particles through matter", section on
  electromagnetic cascades]:
  dE/dt ∝ (bt)^(a−1) e^(−bt), b = 0.5, t_max = (a − 1)/b = ln(E/E_c) − 0.5 (electron), E_c
  = 7.97 MeV (W); shower-to-shower fluctuation of t_max (σ = 0.5 X₀). Depth t (in X₀) maps
  to the layer sampling it: the ≈ 40 X₀ [LDMX] are shared among the 34 layers in
  proportion to ldmx-sw's v14 layer weights (energy lost per MIP in the absorber in front
  of each layer, ``EcalRecProducer.v14``). Spots beyond the last layer leak out the back.
* **Lateral profile**: Grindhammer–Peters [GP] core + tail, f(r) = p f_C + (1 − p) f_T,
  f_i = 2 r R_i² / (r² + R_i²)², with R_C, R_T, p functions of τ = t / t_max and of E, Z = 74
  (their parametrisation for homogeneous media), in units of an effective Molière radius of
  the Si–W stack, 15 mm (W alone: 9.3 mm [PDG]; the LDMX stack with its Si, PCB and air
  is wider, of order 1–2 cm).
* **Sampling fluctuations.** The number of spots is Poisson with mean E / ε and each spot's
  weight is Gamma-distributed (shape k), a Landau-like spread: σ/E = √(ε (1 + 1/k)) / √E
  ≈ 15 %/√E (ε = 15 MeV, k = 2), the size of Si–W stochastic terms (CALICE Si–W ECal:
  16.6 %/√E, NIM A 608 (2009) 372, arXiv:0811.2354).
* **Read-out** (ldmx-sw ``Ecal/python/digi.py`` and ``EcalRecProducer.cxx``). Per cell the
  energy becomes MIPs N = E / ((w_layer + E_MIP) · c) with the v14 layer weights w, E_MIP =
  0.13 MeV, c = 4000/3940.5; Gaussian noise is added (0.75 ADC counts; ldmx-sw uses 0.6,
  calling it optimistic) and cells below the readout threshold (3 ADC counts above pedestal,
  1 MIP = 19 ADC counts: 0.158 MIP) are dropped. ``amplitude_`` = N · E_MIP,
  ``energy_`` = N · (w + E_MIP) · c. Channels without signal fire on noise alone with the
  Gaussian tail probability above threshold (≈ 3 noise hits per event, ``isNoise_`` = 1), as
  ldmx-sw's noise generator does. A global calibration makes the mean ΣE of a contained
  4 GeV electron ≈ 4000 MeV.
* **Leakage.** Spots in the 1.5 mm module gaps, outside the seven modules, in the corner
  slivers that belong to no cell, or beyond the last layer are lost — this is where the
  energy of electrons near gaps and edges goes.
* **Truth.** ``EcalScoringPlaneHits``: every beam electron at the ECal front plane (also
  when it misses the ECal). ``TrigScintScoringPlaneHits``: each beam electron at the two
  scoring planes around scintillator pad 3 (when within the plane's 425 × 345 mm), plus
  a few soft secondaries (photons, δ-electrons of a few MeV) the reader must reject.

[PDG] Particle Data Group, Review of Particle Physics, Phys. Rev. D 110 (2024) 030001.
[GP] G. Grindhammer, S. Peters, "The parameterized simulation of electromagnetic showers in
homogeneous and sampling calorimeters", arXiv:hep-ex/0001020 (NIM A 290 (1990) 469).
[LDMX] T. Åkesson et al., arXiv:1808.05219.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from scipy import special

from hepnb import io
from hepnb.chapters.ecal import schema

__all__ = [
    "CHUNK",
    "WRITTEN",
    "ECalParams",
    "add_args",
    "energy_fraction",
    "gp_profile",
    "run",
    "simulate",
    "write_sample",
]

#: Collections the simulator writes.
WRITTEN: tuple[str, ...] = (schema.ECAL_REC_HITS, schema.TS_SP_HITS, schema.ECAL_SP_HITS)

#: Events simulated per chunk (each chunk has its own seed, so a sample does not depend on
#: memory limits; memory stays proportional to the chunk).
CHUNK = 2000

_C_MM_PER_NS = 299.792458
_ELECTRON_MASS = 0.51099895
_X0_TOTAL = 40.0
_CUM_X0 = _X0_TOTAL * np.cumsum(schema.LAYER_WEIGHTS) / schema.LAYER_WEIGHTS.sum()
#: Upper depth edge of the range each layer samples [X₀].
LAYER_DEPTH_EDGES = _CUM_X0


@dataclass(frozen=True)
class ECalParams:
    """Physics parameters of the simulator (units: MeV, mm, rad, X₀).

    Attributes:
        beam_energy: electron energy.
        energy_spread: relative Gaussian spread of the beam energy.
        spot_size: full widths (x, y) of the uniform beam spot.
        divergence: Gaussian angular spread per axis of the beam core.
        halo_fraction: fraction of electrons in the beam halo.
        halo_sigma: Gaussian width of the halo's position at the scintillator plane.
        halo_divergence: Gaussian angular spread per axis of the halo.
        upstream_x0: material upstream of the trigger pad in which beam electrons radiate
            (tagger tracker, beam-line windows), in radiation lengths.
        critical_energy: E_c of the longitudinal profile.
        b: Γ-profile slope parameter.
        tmax_sigma: shower-to-shower Gaussian spread of t_max.
        moliere_radius: effective Molière radius of the Si–W stack.
        spot_energy: mean energy per spot (sets the sampling term).
        spot_shape: Gamma shape of the spot weights (Landau-like fluctuation).
        noise_adc: cell noise in ADC counts (1 MIP = 19 ADC counts).
        threshold_adc: readout threshold above pedestal in ADC counts.
        calibration: global energy scale (so that a contained electron gives ≈ 4 GeV).
        secondaries: mean number of soft secondary scintillator scoring-plane hits per event.
    """

    beam_energy: float = schema.BEAM_ENERGY
    energy_spread: float = 0.01
    spot_size: tuple[float, float] = schema.BEAM_SPOT
    divergence: float = 0.002
    halo_fraction: float = 0.15
    halo_sigma: float = 100.0
    halo_divergence: float = 0.02
    upstream_x0: float = 0.03
    critical_energy: float = 7.97
    b: float = 0.5
    tmax_sigma: float = 0.5
    moliere_radius: float = 15.0
    spot_energy: float = 15.0
    spot_shape: float = 2.0
    noise_adc: float = 0.75
    threshold_adc: float = 3.0
    calibration: float = 1.0
    secondaries: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            if any(not np.isfinite(x) or x < 0 for x in vals):
                raise ValueError(f"ECalParams.{f.name} must be finite and ≥ 0, got {v!r}")
        if not 0.0 <= self.halo_fraction <= 1.0:
            raise ValueError(f"halo_fraction must be in [0, 1], got {self.halo_fraction}")
        for name in ("beam_energy", "spot_energy", "spot_shape", "b", "moliere_radius"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ECalParams.{name} must be positive")


#: ADC counts per MIP: 37 k e-h pairs = 5.93 fC, gain 0.3125 fC per count (ldmx-sw digi.py).
ADC_PER_MIP = 37.0 * 0.1602 / 0.3125


# ---------------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------------
def _beam(n_el: int, rng: np.random.Generator, prm: ECalParams) -> dict[str, np.ndarray]:
    """Electrons at the scintillator scoring plane: position, slopes, energy, halo flag."""
    halo = rng.random(n_el) < prm.halo_fraction
    x = (rng.random(n_el) - 0.5) * prm.spot_size[0]
    y = (rng.random(n_el) - 0.5) * prm.spot_size[1]
    g = rng.standard_normal((4, n_el))
    x = np.where(halo, prm.halo_sigma * g[0], x)
    y = np.where(halo, prm.halo_sigma * g[1], y)
    div = np.where(halo, prm.halo_divergence, prm.divergence)
    tx = div * g[2]
    ty = div * g[3]
    energy = prm.beam_energy * (1.0 + prm.energy_spread * rng.standard_normal(n_el))
    energy = energy * (1.0 - radiated_fraction(n_el, prm.upstream_x0, rng))
    return {"x": x, "y": y, "tx": tx, "ty": ty, "energy": np.maximum(energy, 1.0), "halo": halo}


#: Smallest radiated energy fraction drawn (softer photons change nothing here).
_Y_MIN = 0.01
_Y_GRID = np.geomspace(_Y_MIN, 1.0, 2001)


def _brem_integral(y: np.ndarray) -> np.ndarray:
    """∫_y^1 (4/3 − 4/3 u + u²) / u du: photons per radiation length with fraction > y."""
    return 4.0 / 3.0 * np.log(1.0 / y) - 4.0 / 3.0 * (1.0 - y) + (1.0 - y**2) / 2.0


def radiated_fraction(n: int, x0: float, rng: np.random.Generator) -> np.ndarray:
    """Fraction of its energy each of ``n`` electrons radiates in ``x0`` radiation lengths:
    at most one photon (thin material), with the complete-screening Bethe–Heitler spectrum
    dN/dy = x0 (4/3 − 4/3 y + y²) / y for y = E_γ / E > 1 % [PDG, eq. 34.29]; 0 otherwise."""
    if x0 <= 0:
        return np.zeros(n)
    total = _brem_integral(np.array(_Y_MIN))
    emits = rng.random(n) < min(x0 * float(total), 1.0)
    # inverse CDF: the share of photons above y, falling from 1 at y = 1 % to 0 at y = 1
    above = _brem_integral(_Y_GRID) / total
    y = np.interp(rng.random(n), above[::-1], _Y_GRID[::-1])
    return np.where(emits, y, 0.0)


# ---------------------------------------------------------------------------------------------
# Showers
# ---------------------------------------------------------------------------------------------
def gp_profile(tau: np.ndarray, energy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grindhammer–Peters lateral parameters at τ = t / t_max for homogeneous media [GP].

    Args:
        tau: depth over the depth of the shower maximum.
        energy: particle energy [MeV].

    Returns:
        (R_C, R_T, p): core and tail radii in Molière radii, core probability.
    """
    z = 74.0  # tungsten
    log_e = np.log(energy / 1000.0)  # E in GeV
    z1 = 0.0251 + 0.00319 * log_e
    z2 = 0.1162 - 0.000381 * z
    k1 = 0.659 - 0.00309 * z
    k2 = 0.645
    k3 = -2.59
    k4 = 0.3585 + 0.0421 * log_e
    p1 = 2.632 - 0.00094 * z
    p2 = 0.401 + 0.00187 * z
    p3 = 1.313 - 0.0686 * log_e
    r_core = z1 + z2 * tau
    r_tail = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    arg = (p2 - tau) / p3
    p_core = np.clip(p1 * np.exp(arg - np.exp(arg)), 0.0, 1.0)
    return r_core, r_tail, p_core


_TAU_STEP = 0.01
_TAU_GRID = np.arange(0.0, 45.0 + _TAU_STEP, _TAU_STEP)


def _gp_lateral(tau: np.ndarray, rng: np.random.Generator, prm: ECalParams) -> np.ndarray:
    """Radii [mm] from the Grindhammer–Peters core + tail profile at τ = t / t_max (tabulated
    in steps of 0.01 in τ at the nominal beam energy)."""
    r_core, r_tail, p_core = gp_profile(_TAU_GRID, prm.beam_energy)
    i = np.minimum((tau * (1.0 / _TAU_STEP) + 0.5).astype(np.int64), len(_TAU_GRID) - 1)
    u = rng.random((2, len(tau)))
    radius = np.where(u[0] < p_core[i], r_core[i], r_tail[i])
    v = u[1] * 0.999
    return radius * (prm.moliere_radius * np.sqrt(v / (1.0 - v)))  # inverse CDF of 2rR²/(r²+R²)²


def _spots(
    beam: Mapping[str, np.ndarray],
    x_front: np.ndarray,
    y_front: np.ndarray,
    rng: np.random.Generator,
    prm: ECalParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Energy spots of all showers: (electron, layer, module, cell, energy), lost spots dropped."""
    energy = beam["energy"]
    n_spots = rng.poisson(energy / prm.spot_energy)
    el = np.repeat(np.arange(len(energy)), n_spots)
    tmax = np.log(energy / prm.critical_energy) - 0.5
    tmax = np.maximum(tmax + prm.tmax_sigma * rng.standard_normal(len(energy)), 1.0)
    a = 1.0 + prm.b * tmax
    t = rng.gamma(a[el], 1.0 / prm.b)
    layer = np.searchsorted(LAYER_DEPTH_EDGES, t)
    keep = layer < schema.N_LAYERS  # beyond the last layer: leaks out the back
    el, t, layer = el[keep], t[keep], layer[keep]
    r = _gp_lateral(t / tmax[el], rng, prm)
    phi = rng.random(len(r)) * (2.0 * np.pi)
    dz = schema.LAYER_Z[layer] - schema.ECAL_SP_Z
    x = x_front[el] + beam["tx"][el] * dz + r * np.cos(phi)
    y = y_front[el] + beam["ty"][el] * dz + r * np.sin(phi)
    module, cell = schema.cell_at(x, y, layer)
    ok = cell >= 0
    weight = rng.gamma(prm.spot_shape, prm.spot_energy / prm.spot_shape, size=int(ok.sum()))
    return el[ok], layer[ok], module[ok], cell[ok], weight


def _ecal_hits(
    n_events: int,
    event_of_el: np.ndarray,
    beam: Mapping[str, np.ndarray],
    x_front: np.ndarray,
    y_front: np.ndarray,
    rng: np.random.Generator,
    prm: ECalParams,
) -> dict[str, ak.Array]:
    """Rec hits (fields of ``ldmx::EcalHit``) per event, signal and noise."""
    el, layer, module, cell, e = _spots(beam, x_front, y_front, rng, prm)
    n_chan = schema.N_LAYERS * schema.N_MODULES * schema.N_CELLS
    chan = (layer * schema.N_MODULES + module) * schema.N_CELLS + cell
    key = event_of_el[el] * n_chan + chan
    order = np.argsort(key)
    key = key[order]
    first = np.flatnonzero(np.diff(key, prepend=-1))
    ukey = key[first]
    e_cell = np.add.reduceat(e[order], first) * prm.calibration if len(key) else np.zeros(0)
    ev, ch = ukey // n_chan, ukey % n_chan
    lay = ch // (schema.N_MODULES * schema.N_CELLS)
    per_mip = (schema.LAYER_WEIGHTS[lay] + schema.MIP_SI_ENERGY) * schema.SECOND_ORDER_CORRECTION
    noise = prm.noise_adc / ADC_PER_MIP
    thr = prm.threshold_adc / ADC_PER_MIP
    mips = e_cell / per_mip + noise * rng.standard_normal(len(e_cell))
    sel = mips >= thr
    ev, ch, mips = ev[sel], ch[sel], mips[sel]
    is_noise = np.zeros(len(ev), dtype=bool)
    # noise-only channels: Poisson count per event, amplitude from the tail above threshold
    if noise > 0:
        tail = special.ndtr(-thr / noise)
        n_noise = rng.poisson(n_chan * tail, size=n_events)
        nev = np.repeat(np.arange(n_events), n_noise)
        nch = rng.integers(0, n_chan, size=len(nev))
        u = rng.random(len(nev))
        nmip = -noise * special.ndtri(tail * (1.0 - u))  # Gaussian beyond thr
        taken_key = ev * n_chan + ch  # sorted
        probe = nev * n_chan + nch
        pos = np.minimum(np.searchsorted(taken_key, probe), max(len(taken_key) - 1, 0))
        taken = taken_key[pos] == probe if len(taken_key) else np.zeros(len(probe), bool)
        nev, nch, nmip = nev[~taken], nch[~taken], nmip[~taken]
        ev = np.concatenate([ev, nev])
        ch = np.concatenate([ch, nch])
        mips = np.concatenate([mips, nmip])
        is_noise = np.concatenate([is_noise, np.ones(len(nev), dtype=bool)])
    order = np.lexsort((ch, ev))
    ev, ch, mips, is_noise = ev[order], ch[order], mips[order], is_noise[order]
    lay = ch // (schema.N_MODULES * schema.N_CELLS)
    mod = (ch // schema.N_CELLS) % schema.N_MODULES
    cel = ch % schema.N_CELLS
    x, y, z = schema.cell_position(lay, mod, cel)
    time = z / _C_MM_PER_NS + 0.3 * rng.standard_normal(len(z))
    time = np.where(is_noise, rng.uniform(-12.5, 12.5, len(z)), time)
    per_mip = (schema.LAYER_WEIGHTS[lay] + schema.MIP_SI_ENERGY) * schema.SECOND_ORDER_CORRECTION
    cols = {
        "id_": schema.pack_id(lay, mod, cel).astype(np.int32),
        "amplitude_": (mips * schema.MIP_SI_ENERGY).astype(np.float32),
        "energy_": (mips * per_mip).astype(np.float32),
        "time_": time.astype(np.float32),
        "xpos_": x.astype(np.float32),
        "ypos_": y.astype(np.float32),
        "zpos_": z.astype(np.float32),
        "isNoise_": is_noise,
    }
    counts = np.bincount(ev, minlength=n_events)
    return {k: ak.unflatten(v, counts) for k, v in cols.items()}


# ---------------------------------------------------------------------------------------------
# Truth scoring-plane hits
# ---------------------------------------------------------------------------------------------
def _sp_hits(cols: Mapping[str, np.ndarray], event: np.ndarray, n_events: int) -> dict[str, Any]:
    """Jagged ``SimTrackerHit`` fields from flat columns (sorted by event here)."""
    order = np.argsort(event, kind="stable")
    counts = np.bincount(event, minlength=n_events)
    out = {}
    for name in schema.SIM_TRACKER_HIT_FIELDS:
        dtype = schema.FIELD_DTYPES.get(name, np.dtype(np.float32))
        out[name] = ak.unflatten(np.asarray(cols[name])[order].astype(dtype), counts)
    return out


def _momentum(energy: np.ndarray, tx: np.ndarray, ty: np.ndarray, mass: float) -> tuple:
    p = np.sqrt(np.maximum(energy**2 - mass**2, 0.0))
    norm = np.sqrt(1.0 + tx**2 + ty**2)
    return p * tx / norm, p * ty / norm, p / norm


def _plane_cols(
    x: np.ndarray,
    y: np.ndarray,
    z: float,
    beam: Mapping[str, np.ndarray],
    track: np.ndarray,
    pdg: np.ndarray,
    layer_id: int,
    mass: float,
) -> dict[str, np.ndarray]:
    px, py, pz = _momentum(beam["energy"], beam["tx"], beam["ty"], mass)
    n = len(x)
    zeros = np.zeros(n)
    return {
        "id_": np.full(n, layer_id),
        "layerID_": np.full(n, layer_id),
        "moduleID_": zeros,
        "edep_": zeros,
        "time_": (z - schema.TS_SP_Z) / _C_MM_PER_NS + zeros,
        "px_": px,
        "py_": py,
        "pz_": pz,
        "energy_": beam["energy"],
        "x_": x,
        "y_": y,
        "z_": np.full(n, z),
        "pathLength_": zeros,
        "trackID_": track,
        "pdgID_": pdg,
    }


def _concat(parts: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = list(parts)
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


_TS_PLANE_HALF = (425.0 / 2, 345.0 / 2)  # trigger-scintillator envelope (magnet gap − 5 mm)
_TS_SP_Z2 = schema.TS_Z + (4.5 / 2 + 0.001 / 2 + 0.001 + schema.TS_BAR_THICKNESS)


def _ts_hits(
    n_events: int,
    event: np.ndarray,
    track: np.ndarray,
    beam: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    prm: ECalParams,
) -> dict[str, Any]:
    """Scintillator scoring-plane hits: beam electrons at both planes of pad 3, secondaries."""
    parts, evs = [], []
    for layer_id, z in ((1, schema.TS_SP_Z), (2, _TS_SP_Z2)):
        dz = z - schema.TS_SP_Z
        x = beam["x"] + beam["tx"] * dz
        y = beam["y"] + beam["ty"] * dz
        inside = (np.abs(x) < _TS_PLANE_HALF[0]) & (np.abs(y) < _TS_PLANE_HALF[1])
        cols = _plane_cols(x, y, z, beam, track, np.full(len(x), 11), layer_id, _ELECTRON_MASS)
        parts.append({k: v[inside] for k, v in cols.items()})
        evs.append(event[inside])
    # soft secondaries: photons (60 %) and δ-electrons near a beam electron
    n_sec = rng.poisson(prm.secondaries, size=n_events)
    sev = np.repeat(np.arange(n_events), n_sec)
    m = len(sev) if len(event) else 0
    if m:
        photon = rng.random(m) < 0.6
        e_sec = np.where(photon, rng.exponential(30.0, m) + 0.1, rng.uniform(1.0, 20.0, m))
        first = np.searchsorted(event, sev)  # first beam electron of the event
        first = np.minimum(first, len(event) - 1)
        sbeam = {
            "energy": e_sec,
            "tx": rng.normal(0.0, 0.05, m),
            "ty": rng.normal(0.0, 0.05, m),
        }
        x = beam["x"][first] + rng.normal(0.0, 5.0, m)
        y = beam["y"][first] + rng.normal(0.0, 5.0, m)
        pdg = np.where(photon, 22, 11)
        mass = np.where(photon, 0.0, _ELECTRON_MASS)
        cols = _plane_cols(x, y, float(_TS_SP_Z2), sbeam, 1000 + np.arange(m), pdg, 2, 0.0)
        cols["px_"], cols["py_"], cols["pz_"] = _momentum(e_sec, sbeam["tx"], sbeam["ty"], 0.0)
        cols["energy_"] = np.sqrt(e_sec**2 + mass**2)
        cols["edep_"] = np.where(photon, 0.0, rng.uniform(0.0, 0.05, m))
        parts.append(cols)
        evs.append(sev)
    return _sp_hits(_concat(parts), np.concatenate(evs), n_events)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def _params(physics: Mapping[str, Any]) -> ECalParams:
    names = {f.name for f in fields(ECalParams)}
    unknown = sorted(set(physics) - names)
    if unknown:
        raise ValueError(f"unknown physics parameter(s) {unknown}; known: {sorted(names)}")
    return replace(ECalParams(), **physics)


def _chunk(
    n_events: int, n_electrons: int, rng: np.random.Generator, prm: ECalParams
) -> dict[str, dict[str, Any]]:
    event = np.repeat(np.arange(n_events), n_electrons)
    beam = _beam(len(event), rng, prm)
    dz = schema.ECAL_SP_Z - schema.TS_SP_Z
    x_front = beam["x"] + beam["tx"] * dz
    y_front = beam["y"] + beam["ty"] * dz
    ecal = _ecal_hits(n_events, event, beam, x_front, y_front, rng, prm)
    track = np.arange(len(event)) % max(n_electrons, 1) + 1
    pdg = np.full(len(event), 11)
    sp = _plane_cols(x_front, y_front, schema.ECAL_SP_Z, beam, track, pdg, 1, _ELECTRON_MASS)
    return {
        schema.ECAL_REC_HITS: ecal,
        schema.TS_SP_HITS: _ts_hits(n_events, event, track, beam, rng, prm),
        schema.ECAL_SP_HITS: _sp_hits(sp, event, n_events),
    }


def simulate(
    n_events: int, n_electrons: int, seed: int, pass_name: str = schema.DEFAULT_PASS, **physics: Any
) -> dict[str, ak.Array]:
    """Simulate events with ``n_electrons`` beam electrons each.

    Args:
        n_events: number of events.
        n_electrons: beam electrons per event (≥ 1).
        seed: random seed; chunk ``i`` of multiplicity ``n`` uses
            ``default_rng(SeedSequence([seed, n, i]))``.
        pass_name: pass name of the collections.
        **physics: overrides of :class:`ECalParams` fields.

    Returns:
        ``{flat branch name: jagged awkward array}`` (``EcalRecHits_<pass>_energy_`` …), one
        entry per event, in the schema :func:`write_sample` writes.
    """
    if int(n_events) != n_events or n_events < 0:
        raise ValueError(f"n_events must be a non-negative integer, got {n_events!r}")
    if int(n_electrons) != n_electrons or n_electrons < 1:
        raise ValueError(f"n_electrons must be a positive integer, got {n_electrons!r}")
    prm = _params(physics)
    chunks = []
    for i, start in enumerate(range(0, max(int(n_events), 1), CHUNK)):
        m = min(CHUNK, int(n_events) - start)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(n_electrons), i]))
        chunks.append(_chunk(m, int(n_electrons), rng, prm))
    out: dict[str, ak.Array] = {}
    for coll in chunks[0]:
        for name in chunks[0][coll]:
            arr = ak.concatenate([c[coll][name] for c in chunks]) if len(chunks) > 1 else None
            out[schema.branch(coll, name, pass_name)] = (
                arr if arr is not None else chunks[0][coll][name]
            )
    return out


def write_sample(
    folder: str | Path,
    n_events: int,
    seed: int,
    multiplicities: Iterable[int] = (1, 2, 3, 4),
    pass_name: str = schema.DEFAULT_PASS,
    **physics: Any,
) -> dict[int, Path]:
    """Write ``folder/ecal_{n}e.root`` for every multiplicity ``n`` (atomic writes).

    Args:
        folder: output folder (created).
        n_events: events per multiplicity.
        seed: random seed (see :func:`simulate`).
        multiplicities: electron multiplicities.
        pass_name: pass name of the collections.
        **physics: overrides of :class:`ECalParams` fields.

    Returns:
        ``{n: path}``.
    """
    folder = Path(folder)
    groups = {f"{coll}_{pass_name}_": schema.counter(coll, pass_name) for coll in WRITTEN}
    out = {}
    for n in multiplicities:
        arrays = simulate(n_events, int(n), seed, pass_name, **physics)
        out[int(n)] = io.write_root(
            folder / f"ecal_{int(n)}e.root", {schema.TREE: arrays}, jagged_groups=groups
        )
    return out


def energy_fraction(x: Any, y: Any, *, n: int = 4000, seed: int = 0, **physics: Any) -> np.ndarray:
    """Mean fraction of a 4 GeV electron's energy the ECal reads out vs front-face position.

    Args:
        x, y: ECal-front positions [mm] (1D arrays of equal length).
        n: electrons per position (in one batch; noise excluded).
        seed: random seed.

    Returns:
        float64 array: mean ΣE / beam energy at each position.
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    prm = replace(_params(physics), noise_adc=0.0, energy_spread=0.0)
    rng = np.random.default_rng(seed)
    k = len(x)
    m = k * n
    beam = {
        "x": np.repeat(x, n),
        "y": np.repeat(y, n),
        "tx": np.zeros(m),
        "ty": np.zeros(m),
        "energy": np.full(m, prm.beam_energy),
    }
    hits = _ecal_hits(m, np.arange(m), beam, beam["x"], beam["y"], rng, prm)
    total = ak.to_numpy(ak.sum(hits["energy_"], axis=1)).astype(np.float64)
    return total.reshape(k, n).mean(axis=1) / prm.beam_energy


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``hepnb generate ecal`` (the CLI adds ``--seed`` and ``--out``: a folder)."""
    parser.add_argument(
        "--n-events", type=int, default=2000, help="events per electron multiplicity"
    )
    parser.add_argument(
        "--multiplicities",
        type=int,
        nargs="+",
        default=[1, 2, 3, 4],
        help="electron multiplicities (one file each)",
    )
    parser.add_argument("--pass-name", default=schema.DEFAULT_PASS, help="collection pass name")


def run(args: argparse.Namespace) -> Path:
    """``hepnb generate ecal``: write ``ecal_{n}e.root`` into the folder ``args.out``."""
    write_sample(
        args.out,
        args.n_events,
        args.seed,
        tuple(getattr(args, "multiplicities", (1, 2, 3, 4))),
        pass_name=getattr(args, "pass_name", schema.DEFAULT_PASS),
    )
    return Path(args.out)
