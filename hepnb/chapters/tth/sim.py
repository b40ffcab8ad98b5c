"""Simulator of single-lepton ttH(H→bb) and tt+bb events (``hepnb generate tth``).

Writes genuine ROOT files with the schema of the ATLAS ttH(H→bb) offline ntuples
(:mod:`~hepnb.chapters.tth.schema`: tree ``nominal_Loose``, MeV, rad), so that the reader and
the conversion cannot tell them from real ones. Everything is vectorised over the events of a
chunk (numpy); the only Python loops run over chunks, over the rejection rounds of the
phase-space sampler and over the merge rounds of the jet clustering, never over events.
Units inside: GeV, rad; the branches are written in MeV.

Physics model:

* **Processes.** Signal pp → tt̄H with H → bb̄; background pp → tt̄ + bb̄ where the extra bb̄
  pair comes from gluon splitting g* → bb̄. The Higgs boson is on shell at m_H = 125 GeV (its
  4 MeV width is negligible [YR4]); the virtual gluon's mass follows the collinear splitting
  spectrum dN/dm² ∝ 1/m² (dN/dm ∝ 1/m, log-uniform) from :data:`GSTAR_MASS_RANGE`, just above
  2 m_b, upwards [AP]: low masses and small ΔR_bb dominate and nothing peaks at 125 GeV.
  In the g* rest frame the b quark's polar angle about the g* flight direction follows
  1 + cos²θ, the z² + (1 − z)² of the g → qq̄ splitting function [AP].
* **Production.** The partonic √ŝ is drawn above the threshold m_t + m_t̄ + m_X from a
  falling spectrum, √ŝ = threshold × (1 + ξ) with ξ ~ Gamma(:data:`SQRT_S_SHAPE`,
  :data:`SQRT_S_SCALE`) (a phenomenological stand-in for the parton luminosities); t, t̄ and
  X = H or g* share √ŝ by flat three-body phase space (sequential two-body decays
  √ŝ → t + (t̄X), (t̄X) → t̄ + X, the intermediate mass accepted with weight p* q*, the
  three-body phase-space density [PDG, kinematics review]; no matrix element, no spin
  correlations). The system is boosted along z with rapidity ~ N(0, :data:`RAPIDITY_SIGMA`)
  and given the transverse recoil of the initial-state radiation (below).
* **Decays.** Breit–Wigner (Cauchy) masses truncated at ±:data:`BW_WINDOW` widths for
  t (172.5 ± Γ 1.42 GeV) and W (80.377 ± Γ 2.085 GeV) [PDG], with m_W < m_t − m_b;
  t → W b; one W → ℓν (ℓ = e or μ, equal rates), the other W → qq̄' with W → cs̄ in half of
  the hadronic decays (|V_cs|² ≈ |V_ud|² [PDG]; c jets are the b-tagger's main mistags);
  H → bb̄, g* → bb̄. Every two-body decay is isotropic in the parent's rest frame (except the
  g* above) and boosted to the lab with exact Lorentz boosts; m_b = 4.78 GeV,
  m_c = 1.67 GeV (pole masses [PDG]), light quarks massless.
* **Extra radiation.** A Poisson number (mean :data:`RAD_MEAN`, at most :data:`RAD_MAX`) of
  gluon/light partons with p_T ∝ p_T^−:data:`RAD_PT_POWER` above :data:`RAD_PT_MIN`, η
  uniform in ±:data:`RAD_ETA_MAX`, φ uniform; the tt̄X system recoils against their summed
  p_T plus a soft Gaussian k_T (:data:`SOFT_KT_SIGMA` per component), the unclustered
  soft term of the missing transverse momentum.
* **Jets.** The coloured partons are merged pairwise, closest first, while ΔR < 0.4 (the
  softer one into the harder: anti-k_t with R = 0.4 merges partons closer than R
  [ANTIKT]); a jet's truth flavour is b if it holds a b quark, else c if a c quark, else
  light (ATLAS's hadron-cone labelling [DL1R]); jets are kept with p_T > 25 GeV and
  |η| < 2.5 [TTHBB].
* **Jet energy response.** (1) *Semileptonic decays* (:func:`neutrino_fraction`): the
  neutrinos of semileptonic b- and c-hadron decays escape the calorimeter [BJES]. A b jet
  holds at least one with probability p_SL = :data:`P_SEMILEPTONIC` ≈ 0.38, from the
  branching fractions of b hadrons [PDG, ZPOLE]: B(b → ℓνX) ≈ 10.7 % for each of ℓ = e, μ
  and B(b → τνX) ≈ 2.4 % (the direct decay, 23.8 %), and, independently, the decay of the
  charm hadron it produces, B(b → c → ℓνX) + B(b → c̄ → ℓνX) ≈ 8.0 % + 1.6 % for each of
  e, μ (19.2 %): p_SL = 1 − (1 − 0.238)(1 − 0.192). A c jet (from W → cs̄) holds one with
  p_SL = 2 × B(c → ℓνX) = 2 × 9.7 % [ZPOLE]; light jets none. Such a jet loses the fraction
  f ~ Beta(2, 10) (:data:`NU_FRACTION_SHAPE`; mean 1/6, mode 0.1, a tail to ≈ 0.5) of its
  energy. The shape is an illustrative model, not a fit: the weakly decaying b hadron
  carries ⟨x_E⟩ ≈ 0.71 of the b quark's energy (at the Z [OPAL]), and the neutrino of a
  semileptonic decay about a quarter of the decaying hadron's, less in the cascade; one draw
  per jet, whatever the number of heavy quarks or neutrinos in it, both of the same flavour
  model, and the muons of b → μνX (which also leave little energy in the calorimeter) are
  not removed. The mean response, 1 − p_SL ⟨f⟩, is :data:`B_JET_RESPONSE` ≈ 0.936
  (:data:`C_JET_RESPONSE` ≈ 0.968). (2) *Resolution*: the visible energy E_vis = (1 − f) E
  is smeared by a Gaussian of relative width σ/E = N/E ⊕ S/√E ⊕ C (:func:`jet_resolution`)
  with a noise term N = :data:`JER_NOISE` = 3.5 GeV (pile-up and electronic noise),
  S = :data:`JER_STOCHASTIC` = 0.70 √GeV and C = :data:`JER_CONSTANT` = 0.04 [JER],
  evaluated at E_vis. The reconstructed m_bb of the two Higgs b jets thus peaks ≈ 5 %
  below m_H with a relative width (half the 16–84 % range) of ≈ 10 % and a low tail.
  The jet directions are exact.
* **Lepton.** p_T smeared by :data:`LEPTON_RESOLUTION` [EGAMMA, MUON]; kept with
  p_T > 27 GeV (above the single-lepton trigger thresholds) and |η| < 2.5 [TTHBB], and only
  when isolated, ΔR > 0.4 from every kept jet (the overlap removal of [TTHBB] drops a lepton
  inside a jet).
* **Missing p_T.** MET = −(Σ kept jets + lepton + soft term) [MET]; the soft term (soft k_T,
  the visible part of partons in no kept jet) is smeared by :data:`MET_SOFT_SIGMA` per
  component. The neutrinos of semileptonic decays thus add to the MET.
* **b-tagging.** Pseudo-continuous DL1r bins 1–5 per jet, drawn from the per-flavour
  efficiencies at the 85/77/70/60 % working points (:data:`BTAG_EFFICIENCY`,
  :data:`BTAG_BIN_PROBABILITIES`) [DL1R].
* **Preselection** (what the ntuple keeps): exactly one lepton, ≥ 4 jets and ≥ 2 jets
  b-tagged at 70 % (bin ≥ 4) [TTHBB]. Chunks of :data:`CHUNK` generated events are
  simulated until ``n_events`` pass.
* **Weights.** ``weight_mc`` is positive with a log-normal spread (:data:`WEIGHT_MC_SPREAD`),
  independent of the kinematics; the scale factors are per-event factors near 1;
  ``weight_normalise`` = σ × BR / Σ weight_mc over every generated event up to the last one
  kept (before the preselection), in pb, with σ(ttH) × BR(H→bb) × BR(single lepton) and
  σ(tt+bb) × BR(single lepton) from the schema [YR4, TTBB, PDG]: luminosity [pb⁻¹] × the
  product of all weights is the expected number of events.
* **Event numbers.** ``eventNumber`` is the 1-based index of the event among those
  generated (as in MC, where events failing the preselection leave gaps): unique in a file,
  increasing. ``runNumber`` = :data:`RUN_NUMBER`.

Branches: all of the schema (``nJets`` is the jet branches' counter, int32),
``HT_jets`` = Σ jet p_T, ``HT_all`` = HT_jets + lepton p_T + MET, plus simulation-only
``truth_*`` branches (absent from real ntuples; the reader ignores them): ``truth_mbb``,
``truth_dRbb`` (the bb̄ pair from H or g*), ``truth_mtop_had``, ``truth_mtop_lep``,
``truth_mW_had``, ``truth_mW_lep`` (from the lab-frame daughters' four-momenta),
``truth_met`` (the W neutrino's p_T) and, per jet, ``truth_jet_flavour`` (5 b, 4 c,
0 light), ``truth_jet_partons`` (bit mask of the partons in the jet, :data:`PARTON_BITS`)
and ``truth_jet_nu_fraction`` (the fraction f of the jet's energy carried away by
neutrinos of semileptonic decays; 0 without).

Sources:

* [PDG] Particle Data Group, R. L. Workman et al., PTEP 2022 (2022) 083C01: t and W masses
  and widths, W branching fractions, |V_CKM|, quark pole masses, the kinematics review
  (two-body decays, Lorentz boosts, phase space), the semileptonic branching fractions of
  the b-hadron admixture (ℓνX ≈ 10.7 % per ℓ = e, μ; τνX ≈ 2.4 %).
* [ZPOLE] ALEPH, DELPHI, L3, OPAL, SLD Collaborations, the LEP Electroweak Working Group,
  the SLD Electroweak and Heavy Flavour Groups, *Precision electroweak measurements on the
  Z resonance*, Phys. Rept. 427 (2006) 257, arXiv:hep-ex/0509008: the heavy-flavour fit's
  semileptonic branching fractions per lepton flavour, B(b → ℓ) ≈ 10.7 %,
  B(b → c → ℓ) ≈ 8.0 %, B(b → c̄ → ℓ) ≈ 1.6 % and B(c → ℓ) ≈ 9.7 % (rounded here; the
  single measurements agree, e.g. ALEPH, Eur. Phys. J. C 22 (2002) 613,
  arXiv:hep-ex/0108007: 10.70 % and 8.18 %).
* [OPAL] OPAL, *Measurements of inclusive semileptonic branching fractions of b hadrons in
  Z⁰ decays*, Eur. Phys. J. C 13 (2000) 225, arXiv:hep-ex/9906041: the mean energy
  fraction of the weakly decaying b hadron, ⟨x_E⟩ = 0.709 ± 0.014.
* [YR4], [TTBB]: the cross sections, see :mod:`~hepnb.chapters.tth.schema`.
* [TTHBB] ATLAS, JHEP 06 (2022) 097, arXiv:2111.06712: object and event selection.
* [DL1R] ATLAS, Eur. Phys. J. C 83 (2023) 681, arXiv:2211.16345: DL1r at the 77 % working
  point rejects light jets by 170 and c jets by 5 in tt̄ events (quoted in the abstract);
  the other working points' rejections are round values read off its performance curves.
* [JER] ATLAS, *Jet energy scale and resolution measured in proton–proton collisions at
  √s = 13 TeV with the ATLAS detector*, Eur. Phys. J. C 81 (2021) 689, arXiv:2007.02645:
  the resolution of anti-k_t R = 0.4 jets parametrised as N/p_T ⊕ S/√p_T ⊕ C, measured
  in situ as (24 ± 1.5) % at p_T = 20 GeV and (6 ± 0.5) % at 300 GeV (its abstract). Its
  fitted N, S, C are shown as curves, not quoted as numbers we could use: the round values
  here (3.5 GeV, 0.70 √GeV, 0.04) give 23.8 % and 5.8 % at those two points. ATLAS
  parametrises σ(p_T)/p_T for central jets, where E ≈ p_T; applied here to E, the
  resolution of forward jets (E ≫ p_T) is somewhat optimistic.
* [BJES] ATLAS, Eur. Phys. J. C 75 (2015) 17, arXiv:1406.0076: the b-jet energy scale; the
  neutrinos (and muons) of semileptonic b-hadron decays escape the calorimeter, lowering the
  response of b jets with such a decay.
* [ANTIKT] M. Cacciari, G. P. Salam, G. Soyez, JHEP 04 (2008) 063, arXiv:0802.1189.
* [AP] G. Altarelli, G. Parisi, Nucl. Phys. B 126 (1977) 298: P_qg(z) ∝ z² + (1 − z)², the
  dk²/k² collinear splitting.
* [EGAMMA] ATLAS, JINST 14 (2019) P12006, arXiv:1908.00005; [MUON] ATLAS, Eur. Phys. J. C 81
  (2021) 578, arXiv:2012.00578: lepton momentum resolutions of 1–2 % at tens of GeV.
* [MET] ATLAS, Eur. Phys. J. C 78 (2018) 903, arXiv:1802.08168: E_T^miss with a track-based
  soft term.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepnb import io
from hepnb.chapters.tth import schema

__all__ = [
    "BR_B_TO_C_TO_LNU",
    "BR_B_TO_LNU",
    "BR_B_TO_TAUNU",
    "BR_C_TO_LNU",
    "BTAG_BIN_PROBABILITIES",
    "BTAG_EFFICIENCY",
    "BTAG_WORKING_POINTS",
    "B_JET_RESPONSE",
    "B_MASS",
    "CHUNK",
    "C_JET_RESPONSE",
    "C_MASS",
    "FLAVOUR_LABEL",
    "JER_CONSTANT",
    "JER_NOISE",
    "JER_STOCHASTIC",
    "JET_ETA_MAX",
    "JET_PT_MIN",
    "JET_RADIUS",
    "LEPTON_ETA_MAX",
    "LEPTON_PT_MIN",
    "NU_FRACTION_SHAPE",
    "PARTON_BITS",
    "P_SEMILEPTONIC",
    "RUN_NUMBER",
    "add_args",
    "boost",
    "breit_wigner",
    "generate",
    "jet_resolution",
    "neutrino_fraction",
    "run",
    "two_body_momentum",
    "write_root",
    "write_sample",
]

# --- constants (GeV, rad) -----------------------------------------------------------------------

#: b and c quark pole masses [PDG]; light quarks and gluons are massless.
B_MASS = 4.78
C_MASS = 1.67
#: Electron and muon masses [PDG].
ELECTRON_MASS = 0.000511
MUON_MASS = 0.105658
#: Breit–Wigner masses are drawn within ±BW_WINDOW widths of the pole.
BW_WINDOW = 15.0
#: Fraction of hadronic W decays to cs̄ (|V_cs|² / (|V_ud|² + |V_us|² + |V_cd|² + |V_cs|²)
#: ≈ 0.5 [PDG]).
W_TO_CS = 0.5
#: Mass range of the virtual gluon g* → bb̄ (dN/dm ∝ 1/m), GeV: from just above 2 m_b.
GSTAR_MASS_RANGE = (10.0, 300.0)
#: √ŝ = threshold × (1 + ξ), ξ ~ Gamma(shape, scale): a falling spectrum above threshold.
SQRT_S_SHAPE = 1.5
SQRT_S_SCALE = 0.3
#: Collision energy, GeV (bounds the system's rapidity: |y| < ln(√s / √ŝ)).
SQRT_S = 13_000.0
#: Width of the Gaussian rapidity of the tt̄X system.
RAPIDITY_SIGMA = 1.0
#: Extra radiation: Poisson mean, cap, p_T threshold (GeV) and power, |η| range.
RAD_MEAN = 1.2
RAD_MAX = 8
RAD_PT_MIN = 20.0
RAD_PT_POWER = 3.5
RAD_ETA_MAX = 4.0
#: Soft (unclustered) transverse recoil of the system, GeV per component.
SOFT_KT_SIGMA = 6.0
#: Jet algorithm radius and acceptance [TTHBB].
JET_RADIUS = 0.4
JET_PT_MIN = 25.0
JET_ETA_MAX = 2.5
#: Jet energy resolution σ/E = N/E ⊕ S/√E ⊕ C (E in GeV) [JER]: noise term N [GeV] (pile-up
#: and electronics), stochastic term S [√GeV], constant term C. Round values that reproduce
#: the resolution [JER] quotes for central jets, (24 ± 1.5) % at 20 GeV and (6 ± 0.5) % at
#: 300 GeV (23.8 % and 5.8 % here); [JER] shows its N, S, C fits only as curves.
JER_NOISE = 3.5
JER_STOCHASTIC = 0.70
JER_CONSTANT = 0.04
#: Semileptonic branching fractions of b hadrons (the b-hadron admixture of high-energy
#: b quarks) [PDG, ZPOLE]: b → ℓνX per light lepton ℓ = e or μ; b → τνX; the cascade
#: b → c → ℓνX per ℓ, right sign (8.0 %) plus wrong sign (b → c̄ → ℓνX, 1.6 %).
BR_B_TO_LNU = 0.107
BR_B_TO_TAUNU = 0.024
BR_B_TO_C_TO_LNU = 0.080 + 0.016
#: Semileptonic branching fraction of charm hadrons, c → ℓνX per ℓ = e or μ [ZPOLE].
BR_C_TO_LNU = 0.097
#: Probability that a jet holds at least one neutrino from a semileptonic heavy-hadron decay,
#: per truth flavour: for b, the direct decay (e, μ or τ; exclusive) or, independently, the
#: cascade decay of the charm hadron (e or μ), 1 − (1 − 0.238)(1 − 0.192) ≈ 0.384; for c,
#: 2 × 9.7 % ≈ 0.194; none for light jets.
P_SEMILEPTONIC: dict[str, float] = {
    "b": 1.0 - (1.0 - 2 * BR_B_TO_LNU - BR_B_TO_TAUNU) * (1.0 - 2 * BR_B_TO_C_TO_LNU),
    "c": 2 * BR_C_TO_LNU,
    "light": 0.0,
}
#: The fraction f of a semileptonic jet's energy carried away by its neutrino(s) follows
#: Beta(a, b) with these (a, b): mean a / (a + b) = 1/6, mode 0.1, standard deviation 0.10,
#: a tail to f ≈ 0.5 (illustrative, see the module docstring).
NU_FRACTION_SHAPE = (2.0, 10.0)
#: Mean energy response of b and c jets before the resolution smearing, 1 − p_SL ⟨f⟩
#: (≈ 0.936 and 0.968; derived, not used by the simulation; light jets: 1).
B_JET_RESPONSE = 1.0 - P_SEMILEPTONIC["b"] * NU_FRACTION_SHAPE[0] / sum(NU_FRACTION_SHAPE)
C_JET_RESPONSE = 1.0 - P_SEMILEPTONIC["c"] * NU_FRACTION_SHAPE[0] / sum(NU_FRACTION_SHAPE)
#: Lepton p_T resolution [EGAMMA, MUON] and acceptance [TTHBB].
LEPTON_RESOLUTION = 0.015
LEPTON_PT_MIN = 27.0
LEPTON_ETA_MAX = 2.5
#: Resolution of the MET soft term, GeV per component [MET].
MET_SOFT_SIGMA = 5.0
#: Preselection [TTHBB].
MIN_JETS = 4
MIN_BTAGS_70 = 2
#: Log-normal spread of weight_mc per process (mean 1).
WEIGHT_MC_SPREAD = {"signal": 0.10, "background": 0.30}
#: Run number written (the MC16e campaign's).
RUN_NUMBER = 310_000
#: Events generated per chunk (each chunk has its own seeded stream: the first k events of a
#: sample do not depend on how many were asked for).
CHUNK = 8192

#: DL1r working points, % b-jet efficiency, loosest first [DL1R].
BTAG_WORKING_POINTS = (85, 77, 70, 60)
#: Tagging efficiency of each flavour at each working point (order of BTAG_WORKING_POINTS):
#: b = the working point; c and light = 1 / rejection, with rejections c: 2.6, 5, 9, 27 and
#: light: 30, 170, 400, 1300 (77 %: as published; others: rounded) [DL1R].
BTAG_EFFICIENCY: dict[str, tuple[float, float, float, float]] = {
    "b": (0.85, 0.77, 0.70, 0.60),
    "c": (1 / 2.6, 1 / 5.0, 1 / 9.0, 1 / 27.0),
    "light": (1 / 30.0, 1 / 170.0, 1 / 400.0, 1 / 1300.0),
}
#: P(bin = 1..5 | flavour): bin 1 fails 85 %, bin 5 passes 60 % (schema.TAG_BINS).
BTAG_BIN_PROBABILITIES: dict[str, np.ndarray] = {
    f: -np.diff(np.array([1.0, *eff, 0.0])) for f, eff in BTAG_EFFICIENCY.items()
}
#: Truth flavour labels (ATLAS HadronConeExclTruthLabelID convention).
FLAVOUR_LABEL = {"b": 5, "c": 4, "light": 0}
#: Bits of ``truth_jet_partons``: which partons a jet holds.
PARTON_BITS = {
    "b_top_lep": 1,
    "b_top_had": 2,
    "q1_W_had": 4,
    "q2_W_had": 8,
    "b1_X": 16,
    "b2_X": 32,
    "radiation": 64,
}
_N_HARD = 6  # b(t_lep), b(t_had), q1, q2 (W_had), b1, b2 (X)

#: Jagged groups of the written tree: prefix → counter branch.
_JAGGED = {"jet_": "nJets", "el_": "nElectrons", "mu_": "nMuons", "truth_jet_": "truth_nJets"}
_MEV = 1000.0
#: Truth branches in MeV.
_TRUTH_MEV = (
    "truth_mbb",
    "truth_mtop_had",
    "truth_mtop_lep",
    "truth_mW_had",
    "truth_mW_lep",
    "truth_met",
)


# --- four-vectors: arrays (..., 4) = (E, px, py, pz) ---------------------------------------------


def two_body_momentum(
    m: np.ndarray | float, m1: np.ndarray | float, m2: np.ndarray | float
) -> np.ndarray:
    """Momentum [GeV] of either daughter of a two-body decay m → m1 m2 in the parent's rest
    frame, p* = √λ(m², m1², m2²) / 2m [PDG kinematics]; 0 below threshold."""
    m, m1, m2 = np.asarray(m, float), np.asarray(m1, float), np.asarray(m2, float)
    lam = (m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)
    return np.sqrt(np.maximum(lam, 0.0)) / (2.0 * m)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1), 0.0))


def _pt(p: np.ndarray) -> np.ndarray:
    return np.hypot(p[..., 1], p[..., 2])


def _eta(p: np.ndarray) -> np.ndarray:
    return np.arcsinh(p[..., 3] / np.maximum(_pt(p), 1e-12))


def _phi(p: np.ndarray) -> np.ndarray:
    return np.arctan2(p[..., 2], p[..., 1])


def _wrap(dphi: np.ndarray) -> np.ndarray:
    return (dphi + np.pi) % (2.0 * np.pi) - np.pi


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    return np.hypot(eta1 - eta2, _wrap(phi1 - phi2))


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors by velocity ``beta``.

    A particle at rest in the frame moving with ``beta`` ends up with velocity ``beta``.

    Args:
        p: ``(..., 4)`` four-momenta (E, px, py, pz) [GeV].
        beta: ``(..., 3)`` boost velocities (|β| < 1), broadcast against ``p``.

    Returns:
        ``(..., 4)`` boosted four-momenta [GeV].
    """
    b2 = np.sum(beta**2, axis=-1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[..., 1:], axis=-1)
    k = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    p3 = p[..., 1:] + (k * bp + gamma * p[..., 0])[..., None] * beta
    return np.concatenate([(gamma * (p[..., 0] + bp))[..., None], p3], axis=-1)


def _velocity(p: np.ndarray) -> np.ndarray:
    return p[..., 1:] / p[..., :1]


def breit_wigner(
    rng: np.random.Generator,
    mass: float,
    width: float,
    size: int,
    low: np.ndarray | float,
    high: np.ndarray | float,
) -> np.ndarray:
    """Masses [GeV] from a Breit–Wigner (Cauchy) of pole ``mass`` and full width ``width``,
    truncated to [``low``, ``high``] by inverse transform (no rejection).

    Args:
        rng: random generator.
        mass, width: pole mass and full width Γ [GeV]; half the density lies within ±Γ/2
            of the pole (before truncation).
        size: number of masses.
        low, high: truncation window [GeV], scalars or ``(size,)`` arrays.

    Returns:
        ``(size,)`` masses [GeV].
    """
    a = np.arctan(2.0 * (np.asarray(low) - mass) / width)
    b = np.arctan(2.0 * (np.asarray(high) - mass) / width)
    return mass + 0.5 * width * np.tan(a + rng.random(size) * (b - a))


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal (e1, e2, e3) with e3 along ``axis`` (``(n, 3)``; z where it is zero)."""
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    e3 = np.where(norm > 0, axis / np.where(norm > 0, norm, 1.0), np.array([0.0, 0.0, 1.0]))
    ref = np.where(np.abs(e3[:, :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    e1 = ref - np.sum(ref * e3, axis=-1, keepdims=True) * e3
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    return e1, np.cross(e3, e1), e3


def _two_body_decay(
    rng: np.random.Generator,
    parent: np.ndarray,
    m_parent: np.ndarray,
    m1: np.ndarray | float,
    m2: np.ndarray | float,
    cos_theta: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decay ``parent`` ``(n, 4)`` of mass ``m_parent`` into daughters of masses m1, m2.

    The first daughter's polar angle about the parent's flight direction has cosine
    ``cos_theta`` in the parent rest frame (uniform, i.e. isotropic, if None); its azimuth is
    uniform. Returns the daughters' four-momenta in the frame of ``parent``.
    """
    n = len(parent)
    p = two_body_momentum(m_parent, m1, m2)
    c = rng.uniform(-1.0, 1.0, n) if cos_theta is None else cos_theta
    s = np.sqrt(np.maximum(1.0 - c**2, 0.0))
    ph = rng.uniform(-np.pi, np.pi, n)
    e1, e2, e3 = _frame(parent[:, 1:])
    direction = c[:, None] * e3 + (s * np.cos(ph))[:, None] * e1 + (s * np.sin(ph))[:, None] * e2
    p3 = p[:, None] * direction
    d1 = np.concatenate([np.sqrt(p**2 + np.asarray(m1) ** 2)[:, None], p3], axis=-1)
    d2 = np.concatenate([np.sqrt(p**2 + np.asarray(m2) ** 2)[:, None], -p3], axis=-1)
    beta = _velocity(parent)
    return boost(d1, beta), boost(d2, beta)


def _cos_one_plus_cos2(rng: np.random.Generator, n: int) -> np.ndarray:
    """cos θ with density ∝ 1 + cos²θ on [−1, 1], by solving the cubic CDF (Cardano)."""
    # F(c) = (c + c³/3 + 4/3) / (8/3) = u  ⇔  c³ + 3c − q = 0 with q = 8u − 4.
    q = 8.0 * rng.random(n) - 4.0
    r = np.sqrt(q**2 / 4.0 + 1.0)
    return np.cbrt(q / 2.0 + r) + np.cbrt(q / 2.0 - r)


def jet_resolution(energy: np.ndarray) -> np.ndarray:
    """Relative jet energy resolution σ/E = N/E ⊕ S/√E ⊕ C [JER] (:data:`JER_NOISE`,
    :data:`JER_STOCHASTIC`, :data:`JER_CONSTANT`), the terms added in quadrature.

    Args:
        energy: jet energies [GeV], any shape.

    Returns:
        σ/E (dimensionless), same shape.
    """
    e = np.maximum(np.asarray(energy, float), 1e-3)
    return np.sqrt((JER_NOISE / e) ** 2 + JER_STOCHASTIC**2 / e + JER_CONSTANT**2)


def neutrino_fraction(rng: np.random.Generator, flavour: np.ndarray) -> np.ndarray:
    """Fraction of each jet's energy carried away by neutrinos of semileptonic b- and
    c-hadron decays.

    A jet of truth flavour b (c) holds neutrinos with probability :data:`P_SEMILEPTONIC`
    ``["b"]`` (``["c"]``), independently of its kinematics; it then loses a fraction
    f ~ Beta(:data:`NU_FRACTION_SHAPE`) of its energy; light jets lose nothing.

    Args:
        rng: random generator.
        flavour: truth flavours (5 b, 4 c, 0 light; :data:`FLAVOUR_LABEL`), any shape.

    Returns:
        f in [0, 1), same shape as ``flavour``; exactly 0 for jets without neutrinos.
    """
    flavour = np.asarray(flavour)
    p = np.zeros(flavour.shape)
    for name, label in FLAVOUR_LABEL.items():
        p[flavour == label] = P_SEMILEPTONIC[name]
    has_nu = rng.random(flavour.shape) < p
    f = rng.beta(*NU_FRACTION_SHAPE, size=flavour.shape)
    return np.where(has_nu, f, 0.0)


# --- event generation ---------------------------------------------------------------------------


def _three_body_masses(
    rng: np.random.Generator, rs: np.ndarray, m1: np.ndarray, m2: np.ndarray, m3: np.ndarray
) -> np.ndarray:
    """Invariant mass m23 of flat three-body phase space rs → m1 + (m2 m3): density ∝ p* q*."""
    out = np.empty_like(rs)
    pending = np.arange(len(rs))
    for _ in range(10_000):
        if pending.size == 0:
            return out
        r, a, b, c = rs[pending], m1[pending], m2[pending], m3[pending]
        lo, hi = b + c, r - a
        x = rng.uniform(lo, hi)
        w = two_body_momentum(r, a, x) * two_body_momentum(x, b, c)
        w_max = two_body_momentum(r, a, lo) * two_body_momentum(hi, b, c)
        ok = rng.random(pending.size) * w_max <= w
        out[pending[ok]] = x[ok]
        pending = pending[~ok]
    raise RuntimeError("three-body phase-space sampling did not converge")


def _cluster(p4: np.ndarray, valid: np.ndarray, flavour: np.ndarray, partons: np.ndarray) -> None:
    """Merge partons (in place) pairwise, closest first, while ΔR < :data:`JET_RADIUS`.

    Args:
        p4: ``(n, P, 4)`` four-momenta [GeV]; the softer of a pair is added to the harder.
        valid: ``(n, P)`` bool, False for padding and for partons merged away.
        flavour: ``(n, P)`` int truth flavour (5 > 4 > 0: a merged jet keeps the heaviest).
        partons: ``(n, P)`` int bit masks, OR-ed on merging.
    """
    i_idx, j_idx = np.triu_indices(p4.shape[1], 1)
    active = np.arange(len(p4))
    r2 = JET_RADIUS**2
    while active.size:
        q, v = p4[active], valid[active]
        eta, phi = _eta(q), _phi(q)
        d2 = (eta[:, i_idx] - eta[:, j_idx]) ** 2 + _wrap(phi[:, i_idx] - phi[:, j_idx]) ** 2
        d2[~(v[:, i_idx] & v[:, j_idx])] = np.inf
        k = np.argmin(d2, axis=1)
        merge = d2[np.arange(active.size), k] < r2
        active, k = active[merge], k[merge]
        if active.size == 0:
            return
        i, j = i_idx[k], j_idx[k]
        harder = _pt(p4[active, i]) >= _pt(p4[active, j])
        hard, soft = np.where(harder, i, j), np.where(harder, j, i)
        p4[active, hard] += p4[active, soft]
        flavour[active, hard] = np.maximum(flavour[active, hard], flavour[active, soft])
        partons[active, hard] |= partons[active, soft]
        valid[active, soft] = False
        p4[active, soft] = 0.0


def _lognormal(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    """Positive factors of mean 1 and relative spread ≈ sigma."""
    return np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma**2)


def _btag_bins(rng: np.random.Generator, flavour: np.ndarray) -> np.ndarray:
    """DL1r bins 1–5 for jets of truth ``flavour`` (5, 4, 0): 1 + number of working points
    passed, P(bin ≥ k + 2) = efficiency at the k-th working point (:data:`BTAG_EFFICIENCY`)."""
    eff = np.zeros((*flavour.shape, len(BTAG_WORKING_POINTS)))
    for name, label in FLAVOUR_LABEL.items():
        eff[flavour == label] = BTAG_EFFICIENCY[name]
    u = rng.random(flavour.shape)
    return (1 + np.sum(u[..., None] < eff, axis=-1)).astype(np.int32)


def _simulate_chunk(process: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` events (before preselection): padded per-jet arrays and per-event
    arrays, GeV; ``selected`` marks the events passing the preselection."""
    # --- masses -----------------------------------------------------------------------------
    dt, dw = BW_WINDOW * schema.TOP_WIDTH, BW_WINDOW * schema.W_WIDTH
    m_t_lep = breit_wigner(
        rng, schema.TOP_MASS, schema.TOP_WIDTH, n, schema.TOP_MASS - dt, schema.TOP_MASS + dt
    )
    m_t_had = breit_wigner(
        rng, schema.TOP_MASS, schema.TOP_WIDTH, n, schema.TOP_MASS - dt, schema.TOP_MASS + dt
    )
    w_lo, w_hi = schema.W_MASS - dw, schema.W_MASS + dw
    m_w_lep = breit_wigner(
        rng, schema.W_MASS, schema.W_WIDTH, n, w_lo, np.minimum(w_hi, m_t_lep - B_MASS)
    )
    m_w_had = breit_wigner(
        rng, schema.W_MASS, schema.W_WIDTH, n, w_lo, np.minimum(w_hi, m_t_had - B_MASS)
    )
    if process == "signal":
        m_x = np.full(n, schema.HIGGS_MASS)
        cos_x = None
    else:
        lo, hi = GSTAR_MASS_RANGE
        m_x = lo * (hi / lo) ** rng.random(n)  # dN/dm ∝ 1/m
        cos_x = _cos_one_plus_cos2(rng, n)

    # --- partonic system in its rest frame --------------------------------------------------
    threshold = m_t_lep + m_t_had + m_x
    rs = threshold * (1.0 + rng.gamma(SQRT_S_SHAPE, SQRT_S_SCALE, n))
    m23 = _three_body_masses(rng, rs, m_t_lep, m_t_had, m_x)
    cm = np.zeros((n, 4))
    cm[:, 0] = rs
    t_lep, y23 = _two_body_decay(rng, cm, rs, m_t_lep, m23)
    t_had, x = _two_body_decay(rng, y23, m23, m_t_had, m_x)
    w_lep, b_lep = _two_body_decay(rng, t_lep, m_t_lep, m_w_lep, B_MASS)
    w_had, b_had = _two_body_decay(rng, t_had, m_t_had, m_w_had, B_MASS)
    is_e = rng.random(n) < 0.5
    m_lep = np.where(is_e, ELECTRON_MASS, MUON_MASS)
    lep, nu = _two_body_decay(rng, w_lep, m_w_lep, m_lep, 0.0)
    is_cs = rng.random(n) < W_TO_CS
    q1, q2 = _two_body_decay(rng, w_had, m_w_had, np.where(is_cs, C_MASS, 0.0), 0.0)
    xb1, xb2 = _two_body_decay(rng, x, m_x, B_MASS, B_MASS, cos_x)
    charge = np.where(rng.random(n) < 0.5, 1.0, -1.0)  # +1: the top (not t̄) decays leptonically

    # --- extra radiation and the system's recoil --------------------------------------------
    n_rad = np.minimum(rng.poisson(RAD_MEAN, n), RAD_MAX)
    rad_valid = np.arange(RAD_MAX)[None, :] < n_rad[:, None]
    u = rng.random((n, RAD_MAX))
    rad_pt = RAD_PT_MIN * (1.0 - u) ** (-1.0 / (RAD_PT_POWER - 1.0))
    rad_eta = rng.uniform(-RAD_ETA_MAX, RAD_ETA_MAX, (n, RAD_MAX))
    rad_phi = rng.uniform(-np.pi, np.pi, (n, RAD_MAX))
    rad = (
        np.stack(
            [
                rad_pt * np.cosh(rad_eta),
                rad_pt * np.cos(rad_phi),
                rad_pt * np.sin(rad_phi),
                rad_pt * np.sinh(rad_eta),
            ],
            axis=-1,
        )
        * rad_valid[..., None]
    )
    soft = SOFT_KT_SIGMA * rng.standard_normal((n, 2))
    q_t = -(rad[:, :, 1:3].sum(axis=1) + soft)
    y_max = np.log(SQRT_S / rs)
    y = np.clip(RAPIDITY_SIGMA * rng.standard_normal(n), -y_max, y_max)
    m_t = np.sqrt(rs**2 + np.sum(q_t**2, axis=-1))
    system = np.stack([m_t * np.cosh(y), q_t[:, 0], q_t[:, 1], m_t * np.sinh(y)], axis=-1)
    beta = _velocity(system)[:, None, :]
    hard = boost(np.stack([b_lep, b_had, q1, q2, xb1, xb2], axis=1), beta)
    lep, nu = boost(lep, beta[:, 0]), boost(nu, beta[:, 0])

    # --- truth ----------------------------------------------------------------------------
    truth = {
        "truth_mbb": _mass(hard[:, 4] + hard[:, 5]),
        "truth_dRbb": _delta_r(
            _eta(hard[:, 4]), _phi(hard[:, 4]), _eta(hard[:, 5]), _phi(hard[:, 5])
        ),
        "truth_mtop_had": _mass(hard[:, 1] + hard[:, 2] + hard[:, 3]),
        "truth_mtop_lep": _mass(hard[:, 0] + lep + nu),
        "truth_mW_had": _mass(hard[:, 2] + hard[:, 3]),
        "truth_mW_lep": _mass(lep + nu),
        "truth_met": _pt(nu),
    }

    # --- jets -------------------------------------------------------------------------------
    p4 = np.concatenate([hard, rad], axis=1)
    valid = np.concatenate([np.ones((n, _N_HARD), bool), rad_valid], axis=1)
    flavour = np.zeros(p4.shape[:2], np.int32)
    flavour[:, [0, 1, 4, 5]] = FLAVOUR_LABEL["b"]
    flavour[:, 2] = np.where(is_cs, FLAVOUR_LABEL["c"], FLAVOUR_LABEL["light"])
    partons = np.zeros(p4.shape[:2], np.int32)
    partons[:, :_N_HARD] = 1 << np.arange(_N_HARD)
    partons[:, _N_HARD:] = PARTON_BITS["radiation"]
    _cluster(p4, valid, flavour, partons)
    # neutrinos escape: the calorimeter sees the visible (1 − f) part, smeared at its energy
    nu_fraction = neutrino_fraction(rng, flavour)
    visible = p4 * (1.0 - nu_fraction)[..., None]
    smear = 1.0 + jet_resolution(visible[..., 0]) * rng.standard_normal(valid.shape)
    p4 = visible * np.maximum(smear, 0.05)[..., None]
    jet_pt, jet_eta = _pt(p4), _eta(p4)
    kept = valid & (jet_pt > JET_PT_MIN) & (np.abs(jet_eta) < JET_ETA_MAX)
    tag_bin = _btag_bins(rng, flavour)

    # --- lepton, MET --------------------------------------------------------------------------
    lep = lep * (1.0 + LEPTON_RESOLUTION * rng.standard_normal(n))[:, None]
    lep_pt, lep_eta, lep_phi = _pt(lep), _eta(lep), _phi(lep)
    dr = _delta_r(lep_eta[:, None], lep_phi[:, None], jet_eta, _phi(p4))
    isolated = np.all(~kept | (dr > JET_RADIUS), axis=1)
    has_lep = (lep_pt > LEPTON_PT_MIN) & (np.abs(lep_eta) < LEPTON_ETA_MAX) & isolated
    soft_term = soft + np.sum(visible[..., 1:3] * (valid & ~kept)[..., None], axis=1)
    soft_term = soft_term + MET_SOFT_SIGMA * rng.standard_normal((n, 2))
    met = -(np.sum(p4[..., 1:3] * kept[..., None], axis=1) + lep[:, 1:3] + soft_term)

    n_jets = kept.sum(axis=1)
    n_b70 = (kept & (tag_bin >= schema.BTAG_BIN_70)).sum(axis=1)
    selected = has_lep & (n_jets >= MIN_JETS) & (n_b70 >= MIN_BTAGS_70)
    return {
        "selected": selected,
        "jet_p4": p4,
        "jet_kept": kept,
        "jet_valid": valid,
        "jet_flavour": flavour,
        "jet_partons": partons,
        "jet_nu_fraction": nu_fraction,
        "jet_bin": tag_bin,
        "lep_p4": lep,
        "lep_is_e": is_e,
        "lep_charge": charge,
        "met": met,
        "weight_mc": _lognormal(rng, WEIGHT_MC_SPREAD[process], n).astype(np.float32),
        "weight_pileup": _lognormal(rng, 0.10, n),
        "weight_jvt": 0.99 * _lognormal(rng, 0.01, n),
        "weight_leptonSF": 0.98 * _lognormal(rng, 0.015, n),
        "weight_bTagSF_DL1r_Continuous": _lognormal(rng, 0.04, n),
        **truth,
    }


def _check_args(process: str, n_events: int, seed: int) -> int:
    if process not in schema.PROCESSES:
        raise ValueError(f"process {process!r}: expected one of {list(schema.PROCESSES)}")
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events={n_events!r}: expected an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected an integer >= 0")
    return schema.PROCESSES.index(process)


def _jagged(values: np.ndarray, keep: np.ndarray, counts: np.ndarray, dtype: Any) -> ak.Array:
    return ak.unflatten(values[keep].astype(dtype), counts)


def generate(process: str, n_events: int, seed: int) -> dict[str, np.ndarray | ak.Array]:
    """Simulate ``n_events`` preselected events of ``process`` (see the module docstring).

    Args:
        process: ``"signal"`` (ttH, H→bb) or ``"background"`` (tt+bb).
        n_events: events kept (passing the preselection).
        seed: random seed (≥ 0); each process has its own stream for a given seed.

    Returns:
        Branch name → array of length ``n_events``: jagged (awkward) ``jet_*``, ``el_*``,
        ``mu_*`` and ``truth_jet_*`` branches (jets pT-ordered), flat numpy arrays for the
        rest; energies and momenta in MeV, angles in rad.

    Raises:
        ValueError: an unknown process, ``n_events`` < 1 or a negative seed.
    """
    index = _check_args(process, n_events, seed)
    parts: list[dict[str, np.ndarray]] = []
    numbers: list[np.ndarray] = []
    n_kept = n_generated = 0
    sum_w_generated = 0.0
    chunk = 0
    while n_kept < n_events:
        rng = np.random.default_rng([int(seed), index, chunk])
        sim = _simulate_chunk(process, CHUNK, rng)
        passed = np.flatnonzero(sim["selected"])[: n_events - n_kept]
        n_used = CHUNK if n_kept + passed.size < n_events else int(passed[-1]) + 1
        sum_w_generated += float(np.sum(sim["weight_mc"][:n_used], dtype=np.float64))
        parts.append({k: v[passed] for k, v in sim.items()})
        numbers.append(n_generated + passed + 1)
        n_kept += passed.size
        n_generated += n_used
        chunk += 1
        if chunk >= 10 and n_kept < 1e-3 * n_generated:
            raise RuntimeError(f"{process}: the preselection keeps < 0.1 % of the events")
    ev = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return _branches(process, ev, np.concatenate(numbers), sum_w_generated)


def _branches(
    process: str, ev: dict[str, np.ndarray], numbers: np.ndarray, sum_w_generated: float
) -> dict[str, np.ndarray | ak.Array]:
    """Ntuple branches (MeV) of the kept events ``ev`` (GeV, padded jets)."""
    kept = ev["jet_kept"]
    p4 = ev["jet_p4"]
    key = np.where(kept, _pt(p4), -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")

    def take(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, order, axis=1)

    kept, p4 = take(kept), np.take_along_axis(p4, order[..., None], axis=1)
    counts = kept.sum(axis=1)
    jet_pt = _pt(p4)
    tag_bin = take(ev["jet_bin"])
    out: dict[str, np.ndarray | ak.Array] = {
        "jet_pt": _jagged(jet_pt * _MEV, kept, counts, np.float32),
        "jet_e": _jagged(p4[..., 0] * _MEV, kept, counts, np.float32),
        "jet_eta": _jagged(_eta(p4), kept, counts, np.float32),
        "jet_phi": _jagged(_phi(p4), kept, counts, np.float32),
        "jet_tagWeightBin_DL1r_Continuous": _jagged(tag_bin, kept, counts, np.int32),
    }
    lep = ev["lep_p4"]
    lep_vars = {
        "pt": _pt(lep) * _MEV,
        "eta": _eta(lep),
        "phi": _phi(lep),
        "e": lep[:, 0] * _MEV,
        "charge": ev["lep_charge"],
    }
    for prefix, mask in (("el_", ev["lep_is_e"]), ("mu_", ~ev["lep_is_e"])):
        for name, values in lep_vars.items():
            out[prefix + name] = _jagged(values, mask, mask.astype(np.int64), np.float32)
    met = ev["met"]
    met_met = np.hypot(met[:, 0], met[:, 1])
    ht_jets = np.sum(np.where(kept, jet_pt, 0.0), axis=1)
    out["nJets"] = counts.astype(np.int32)
    out["nBTags_DL1r_70"] = np.sum(kept & (tag_bin >= schema.BTAG_BIN_70), axis=1).astype(np.int32)
    out["HT_jets"] = (ht_jets * _MEV).astype(np.float32)
    out["HT_all"] = ((ht_jets + _pt(lep) + met_met) * _MEV).astype(np.float32)
    out["met_met"] = (met_met * _MEV).astype(np.float32)
    out["met_phi"] = np.arctan2(met[:, 1], met[:, 0]).astype(np.float32)
    out[schema.EVENT_NUMBER] = numbers.astype(np.uint64)
    out[schema.RUN_NUMBER] = np.full(len(numbers), RUN_NUMBER, np.uint32)
    sigma_br = (
        schema.SIGMA_TTH * schema.BR_HBB * schema.BR_SINGLE_LEPTON
        if process == "signal"
        else schema.SIGMA_TTBB * schema.BR_SINGLE_LEPTON
    )
    out["weight_normalise"] = np.full(len(numbers), sigma_br / sum_w_generated, np.float32)
    for name in schema.WEIGHT_BRANCHES[1:]:
        out[name] = ev[name].astype(np.float32)
    for name in _TRUTH_MEV:
        out[name] = (ev[name] * _MEV).astype(np.float32)
    out["truth_dRbb"] = ev["truth_dRbb"].astype(np.float32)
    out["truth_jet_flavour"] = _jagged(take(ev["jet_flavour"]), kept, counts, np.int32)
    out["truth_jet_partons"] = _jagged(take(ev["jet_partons"]), kept, counts, np.int32)
    out["truth_jet_nu_fraction"] = _jagged(take(ev["jet_nu_fraction"]), kept, counts, np.float32)
    return out


# --- writing ------------------------------------------------------------------------------------

_REQUIRED = (
    *schema.JET_BRANCHES,
    *schema.ELECTRON_BRANCHES,
    *schema.MUON_BRANCHES,
    *schema.SCALAR_BRANCHES,
    schema.EVENT_NUMBER,
    schema.RUN_NUMBER,
    *schema.WEIGHT_BRANCHES,
)


def write_root(path: str | Path, events: dict[str, np.ndarray | ak.Array]) -> Path:
    """Write ``events`` (as from :func:`generate`) to the tree ``nominal_Loose`` of ``path``.

    The jet branches are counted arrays whose counter is ``nJets`` itself (int32); the
    electron, muon and per-jet truth branches get the counters ``nElectrons``, ``nMuons`` and
    ``truth_nJets``. The write is atomic (:func:`hepnb.io.write_root`).

    Raises:
        KeyError: a branch of the schema is missing.
        ValueError: ``nJets`` differs from the number of entries of ``jet_pt``.
    """
    missing = [b for b in _REQUIRED if b not in events]
    if missing:
        raise KeyError(f"{path}: events lack the branch(es) {missing} of tree {schema.TREE!r}")
    counts = ak.to_numpy(ak.num(events["jet_pt"], axis=1))
    if not np.array_equal(counts, np.asarray(events["nJets"])):
        raise ValueError(f"{path}: branch 'nJets' differs from the number of jets in 'jet_pt'")
    branches = {k: v for k, v in events.items() if k != "nJets"}
    return io.write_root(path, {schema.TREE: branches}, jagged_groups=_JAGGED)


def write_sample(folder: str | Path, n_events: int, seed: int) -> dict[str, Path]:
    """Write ``folder/tth_signal.root`` and ``folder/tth_background.root`` (atomic writes).

    Args:
        folder: output folder (created).
        n_events: preselected events per process.
        seed: random seed; signal and background come from independent streams.

    Returns:
        ``{"signal": path, "background": path}``.
    """
    folder = Path(folder)
    return {
        p: write_root(folder / f"tth_{p}.root", generate(p, n_events, seed))
        for p in schema.PROCESSES
    }


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``hepnb generate tth`` (the CLI adds ``--seed`` and ``--out``: a folder)."""
    parser.add_argument(
        "--n-events", type=int, default=20_000, help="preselected events per process"
    )


def run(args: argparse.Namespace) -> Path:
    """``hepnb generate tth``: write ``tth_signal.root`` and ``tth_background.root`` into the
    folder ``args.out``."""
    write_sample(args.out, getattr(args, "n_events", 20_000), args.seed)
    return Path(args.out)
