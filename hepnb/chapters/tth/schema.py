"""The ttH(H→bb) single-lepton ntuple schema, the physics constants and the analysis regions.

The one place the simulator (:mod:`.sim`), the reader (:mod:`.reader`), the feature makers
(:mod:`.features`), the conversion (:mod:`.convert`) and the displays take names, units and
constants from. The ntuples are those of ATLAS's ttH(H→bb) analyses (the TTHbbAnalysis
offline ntuples built on AnalysisTop): one tree ``nominal_Loose`` per file, one file (or set)
per process, one entry per selected event; energies and momenta in MeV, angles in rad.

Sources:

* [TTHBB] ATLAS, *Measurement of Higgs boson decay into b-quarks in associated production with
  a top-quark pair in pp collisions at √s = 13 TeV*, JHEP 06 (2022) 097, arXiv:2111.06712: the
  single-lepton channel, its preselection (one lepton, ≥ 5 jets in the resolved regions), its
  regions (≥ 6 jets, ≥ 4 b-tags at 70 %) and the pseudo-continuous b-tag bins of DL1r
  (bins 1–5: failing 85 %, 85–77 %, 77–70 %, 70–60 %, passing 60 %).
* [DL1R] ATLAS, *ATLAS flavour-tagging algorithms for the LHC Run 2 pp collision dataset*,
  Eur. Phys. J. C 83 (2023) 681, arXiv:2211.16345: DL1r efficiencies and rejections.
* [YR4] LHC Higgs Cross Section Working Group, *Handbook of LHC Higgs Cross Sections: 4*,
  CERN-2017-002, arXiv:1610.07922: σ(ttH) = 0.5071 pb at 13 TeV, m_H = 125 GeV;
  BR(H→bb) = 0.5809.
* [TTBB] CMS, *Measurements of tt̄ cross sections in association with b jets and inclusive jets
  and their ratio using dilepton final states in pp collisions at √s = 13 TeV*, Phys. Lett. B
  776 (2018) 355, arXiv:1705.10141: σ(ttbb) = 4.0 ± 0.6 (stat) ± 1.3 (syst) pb in the full
  phase space, i.e. 36 % total uncertainty.
* [PDG] Particle Data Group, R. L. Workman et al., PTEP 2022 (2022) 083C01: masses, widths and
  the W branching fractions.
"""

from __future__ import annotations

import re

__all__ = [
    "BR_HBB",
    "BR_SINGLE_LEPTON",
    "BTAG_BIN_70",
    "BTAG_BIN_77",
    "ELECTRON_BRANCHES",
    "EVENT_NUMBER",
    "HIGGS_MASS",
    "INT_BRANCHES",
    "JET_BRANCHES",
    "LUMINOSITY",
    "MEV_BRANCHES",
    "MUON_BRANCHES",
    "PROCESSES",
    "PROCESS_LABELS",
    "RUN_NUMBER",
    "SCALAR_BRANCHES",
    "SIGMA_TTBB",
    "SIGMA_TTH",
    "TAG_BINS",
    "TOP_MASS",
    "TOP_WIDTH",
    "TREE",
    "TTBB_REL_UNCERTAINTY",
    "UNITS",
    "WEIGHT_BRANCHES",
    "W_MASS",
    "W_WIDTH",
    "parse_region",
    "region_label",
]

#: The tree of every file.
TREE = "nominal_Loose"

#: The processes, in label order: ``signal`` (label 1) is ttH(H→bb), ``background`` (label 0)
#: is tt+bb. ``data_path`` maps each to a file or glob.
PROCESSES = ("signal", "background")
PROCESS_LABELS = {"signal": "$t\\bar{t}H(b\\bar{b})$", "background": "$t\\bar{t}+b\\bar{b}$"}

#: Jet branches, ``std::vector`` per event, pT-ordered (leading jet first).
JET_BRANCHES = (
    "jet_pt",
    "jet_e",
    "jet_eta",
    "jet_phi",
    "jet_tagWeightBin_DL1r_Continuous",
)
#: Lepton branches (``std::vector<float>``; one entry in the electron or the muon vectors).
ELECTRON_BRANCHES = ("el_pt", "el_eta", "el_phi", "el_e", "el_charge")
MUON_BRANCHES = ("mu_pt", "mu_eta", "mu_phi", "mu_e", "mu_charge")
#: Scalar event branches (``nJets`` and ``nBTags_DL1r_70`` are int, the rest float).
SCALAR_BRANCHES = ("nJets", "nBTags_DL1r_70", "HT_jets", "HT_all", "met_met", "met_phi")
#: Event number (``ULong64_t``) and run number (``UInt_t``): the friend tree's alignment key.
EVENT_NUMBER = "eventNumber"
RUN_NUMBER = "runNumber"
#: Per-event weights; the event weight is luminosity (pb⁻¹) × their product. ``weight_normalise``
#: is σ × BR / Σ weight_mc of the generated sample (pb), the others are per-event factors.
WEIGHT_BRANCHES = (
    "weight_normalise",
    "weight_mc",
    "weight_pileup",
    "weight_jvt",
    "weight_leptonSF",
    "weight_bTagSF_DL1r_Continuous",
)
#: Branches in MeV (the conversion writes them in GeV).
MEV_BRANCHES = frozenset(
    {"jet_pt", "jet_e", "el_pt", "el_e", "mu_pt", "mu_e", "HT_jets", "HT_all", "met_met"}
)
#: Integer branches (everything else is float, except the event and run numbers).
INT_BRANCHES = frozenset({"jet_tagWeightBin_DL1r_Continuous", "nJets", "nBTags_DL1r_70"})
#: Unit of each branch and derived feature after conversion (GeV, rad; "" = none).
UNITS: dict[str, str] = {
    "jet_pt": "GeV",
    "jet_e": "GeV",
    "jet_eta": "",
    "jet_phi": "rad",
    "jet_tagWeightBin_DL1r_Continuous": "",
    "nJets": "",
    "nBTags_DL1r_70": "",
    "HT_jets": "GeV",
    "HT_all": "GeV",
    "met_met": "GeV",
    "met_phi": "rad",
}

#: DL1r pseudo-continuous bins [TTHBB]: bin → the tightest working point the jet passes.
TAG_BINS = {1: "fails 85%", 2: "85%", 3: "77%", 4: "70%", 5: "60%"}
#: A jet is b-tagged at the 70 % (77 %) working point when its bin is ≥ this.
BTAG_BIN_70 = 4
BTAG_BIN_77 = 3

#: Masses and widths, GeV [PDG]; m_H as in ATLAS's ttH samples.
TOP_MASS, TOP_WIDTH = 172.5, 1.42
W_MASS, W_WIDTH = 80.377, 2.085
HIGGS_MASS = 125.0
#: BR(H→bb) at m_H = 125 GeV [YR4].
BR_HBB = 0.5809
#: Exactly one W → eν or μν and the other → hadrons: 2 × (0.1071 + 0.1063) × 0.6741 [PDG]
#: (τ decays are not simulated).
BR_SINGLE_LEPTON = 2 * (0.1071 + 0.1063) * 0.6741
#: Cross sections at √s = 13 TeV, pb: ttH [YR4] and tt+bb in the full phase space [TTBB].
SIGMA_TTH = 0.5071
SIGMA_TTBB = 4.0
#: Total relative uncertainty of the measured tt+bb cross section [TTBB]: √(0.6² + 1.3²)/4.0.
TTBB_REL_UNCERTAINTY = 0.36
#: ATLAS's Run 2 luminosity, fb⁻¹ (the default of ``luminosity``).
LUMINOSITY = 139.0

_REGION = re.compile(r"^(\d+)j(\d+)b$")


def parse_region(name: str) -> tuple[int, int]:
    """``"6j4b"`` → ``(6, 4)``: at least 6 jets, at least 4 of them b-tagged at 70 %.

    Raises:
        ValueError: a name not of the form ``<N>j<M>b``.
    """
    m = _REGION.match(str(name))
    if m is None:
        raise ValueError(
            f"region {name!r}: expected '<N>j<M>b' (≥ N jets, ≥ M b-tagged at 70%), e.g. '6j4b'"
        )
    return int(m.group(1)), int(m.group(2))


def region_label(name: str) -> str:
    """``"6j4b"`` → ``"≥6j, ≥4b@70%"`` for tables and plots."""
    n_jets, n_b = parse_region(name)
    return f"≥{n_jets}j, ≥{n_b}b@70%"
