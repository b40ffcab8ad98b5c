"""The TRT ntuple schema and detector constants: the one place sim, reader and display read them.

Units: momenta and masses in MeV, lengths in mm, times in ns, angles in rad.

Sources (cited per constant below):

* [ATLAS08] ATLAS Collaboration, *The ATLAS Experiment at the CERN Large Hadron Collider*,
  JINST 3 (2008) S08003, section 4.3 (TRT layout: straws, layers, barrel and end-cap extent).
* [TRT17] ATLAS Collaboration, *Performance of the ATLAS Transition Radiation Tracker in Run 1
  of the LHC: tracker properties*, JINST 12 (2017) P05002, arXiv:1702.06473 (drift-circle
  resolution, time over threshold, high-threshold middle bit).
* [HTCALC] Athena, ``InnerDetector/InDetConditions/TRT_ConditionsData/src/HTcalculator.cxx``,
  ``HTcalculator::setDefaultCalibrationConstants`` and ``pHTvsPGOG`` ("derived from Run 1 data
  Z→ee and Z→μμ"; earlier in ``TRT_ElectronPidTools/src/TRT_ElectronPidToolRun2_HTcalculation.cxx``):
  the default HT-probability calibration per gas and detector part.
* [PIDTOOL] Athena, ``InnerDetector/InDetRecTools/TRT_ElectronPidTools/src/
  TRT_ElectronPidToolRun2.cxx``: the inputs of the TRT PID neural network (``storeNNVariable``),
  the middle-HT-bit definition and ``MinimumTRThitsForIDpid`` = 5.
* [XTRT] xTRTFrame (github.com/douglasdavis/xTRTFrame), ``xTRTFrame/Root/TruthLoop.cxx``: the
  per-track and per-hit branch names of TRT PID ntuples.
* [PDG] Particle Data Group, *Review of Particle Physics*, Phys. Rev. D 110 (2024) 030001
  (masses; Monte Carlo particle numbering scheme).
"""

from __future__ import annotations

__all__ = [
    "BARREL_HALF_Z",
    "BARREL_PITCH",
    "BARREL_RINGS",
    "DATA_TREES",
    "DISPLAY_BRANCHES",
    "DISPLAY_REGIONS",
    "EC_RMAX",
    "EC_RMIN",
    "EC_STRAWS_PHI",
    "EC_WHEELS",
    "FEATURE_BRANCHES",
    "FIRST_B_LAYER",
    "GAS",
    "HIT_BRANCHES",
    "HIT_COUNTER",
    "HIT_FEATURES",
    "MASS",
    "MC_TREES",
    "MIN_HITS_PID",
    "N_BARREL_LAYERS",
    "N_BARREL_MODULES",
    "N_ENDCAP_LAYERS",
    "ONSET_CALIBRATION",
    "ONSET_GAMMAS",
    "PDG_ID",
    "PRECISION_TOLERANCE_MM",
    "REGION",
    "REGION_LABELS",
    "RT_COEFFICIENTS",
    "SPECIES",
    "STRAW_RADIUS",
    "TOT_BIN",
    "TOT_NBINS",
    "TRACK_BRANCHES",
    "TRACK_FEATURES",
    "TREES",
    "UNITS",
]

# ---------------------------------------------------------------------------------------------
# Trees and branches
# ---------------------------------------------------------------------------------------------
#: Simulated trees, one per particle type.
MC_TREES: tuple[str, ...] = ("electron_mc", "muon_mc", "pion_mc")
#: Tag-and-probe "data" trees.
DATA_TREES: tuple[str, ...] = ("electron_probes", "muon_probes")
#: Tree name → (species, is data).
TREES: dict[str, tuple[str, bool]] = {
    "electron_mc": ("electron", False),
    "muon_mc": ("muon", False),
    "pion_mc": ("pion", False),
    "electron_probes": ("electron", True),
    "muon_probes": ("muon", True),
}

#: Per-track branches [XTRT] (``nHThits`` is xTRTFrame's ``nHThitsMan``, the HT-middle-bit count).
TRACK_BRANCHES: tuple[str, ...] = (
    "weight",
    "pdgId",
    "trkOcc",
    "truthMass",
    "p",
    "pT",
    "eta",
    "phi",
    "theta",
    "eProbHT",
    "nTRThits",
    "nArhits",
    "nXehits",
    "nHThits",
    "sumToT",
    "sumL",
)
#: Per-hit branches (``std::vector`` in real ntuples) [XTRT].
HIT_BRANCHES: tuple[str, ...] = (
    "hit_HTMB",
    "hit_gasType",
    "hit_bec",
    "hit_layer",
    "hit_strawlayer",
    "hit_strawnumber",
    "hit_drifttime",
    "hit_tot",
    "hit_T0",
    "hit_localTheta",
    "hit_localPhi",
    "hit_HitZ",
    "hit_HitR",
    "hit_rTrkWire",
    "hit_L",
)
#: Counter branch of the jagged ``hit_*`` branches in files the simulator writes.
HIT_COUNTER = "nTRThitsVec"

#: Unit of each branch ("" for counts, codes and ratios).
UNITS: dict[str, str] = {
    **dict.fromkeys(TRACK_BRANCHES + HIT_BRANCHES, ""),
    "truthMass": "MeV",
    "p": "MeV",
    "pT": "MeV",
    "phi": "rad",
    "theta": "rad",
    "sumToT": "ns",
    "sumL": "mm",
    "hit_drifttime": "ns",
    "hit_tot": "ns",
    "hit_T0": "ns",
    "hit_localTheta": "rad",
    "hit_localPhi": "rad",
    "hit_HitZ": "mm",
    "hit_HitR": "mm",
    "hit_rTrkWire": "mm",
    "hit_L": "mm",
}

#: Hit features of the TRT PID network, in sequence order along the track [PIDTOOL].
HIT_FEATURES: tuple[str, ...] = (
    "hit_HTMB",
    "hit_gasType",
    "hit_tot",
    "hit_L",
    "hit_rTrkWire",
    "hit_HitZ",
    "hit_HitR",
)
#: Track features of the TRT PID network [PIDTOOL]: p and pT enter as log10(p / MeV); fAr =
#: argon hits / TRT hits, fHTMB = HT hits / TRT hits, PHF = precision-hit fraction.
TRACK_FEATURES: tuple[str, ...] = ("trkOcc", "p", "pT", "nXehits", "fAr", "fHTMB", "PHF")
#: Branches needed to build :data:`HIT_FEATURES` and :data:`TRACK_FEATURES` (and the baseline).
FEATURE_BRANCHES: tuple[str, ...] = (
    "trkOcc",
    "p",
    "pT",
    "eta",
    "nTRThits",
    "nArhits",
    "nXehits",
    "nHThits",
    "eProbHT",
    "weight",
    "hit_drifttime",
    *HIT_FEATURES,
)
#: Branches the event display draws.
DISPLAY_BRANCHES: tuple[str, ...] = (
    "p",
    "pT",
    "eta",
    "nTRThits",
    "nHThits",
    "eProbHT",
    "hit_HitR",
    "hit_HitZ",
    "hit_HTMB",
    "hit_gasType",
    "hit_tot",
)

# ---------------------------------------------------------------------------------------------
# Particles
# ---------------------------------------------------------------------------------------------
#: Particle masses (MeV) [PDG].
MASS: dict[str, float] = {"electron": 0.511, "muon": 105.66, "pion": 139.57}
#: |pdgId| per species [PDG numbering scheme]; sign: −charge for leptons, +charge for pions.
PDG_ID: dict[str, int] = {"electron": 11, "muon": 13, "pion": 211}
SPECIES: tuple[str, ...] = ("electron", "muon", "pion")

# ---------------------------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------------------------
#: ``hit_gasType`` codes [PIDTOOL] (Athena also has 2 = krypton, treated as argon there).
GAS: dict[str, int] = {"Xe": 0, "Ar": 1}
#: Detector part of the HT calibration ("TrtPart" in [HTCALC]): barrel (|``hit_bec``| = 1),
#: end-cap A wheels (|``hit_bec``| = 2, ``hit_layer`` 0–5) and end-cap B wheels (``hit_layer``
#: 6–13). ``"endcap"`` is accepted as the end-cap A part where one region is asked for.
REGION: dict[str, int] = {"barrel": 0, "endcapA": 1, "endcapB": 2}
#: Display names of the :data:`REGION` parts.
REGION_LABELS: tuple[str, ...] = ("barrel", "end-cap A", "end-cap B")
#: First global end-cap straw layer of the B wheels (6 A-wheels × 16 layers).
FIRST_B_LAYER = 96
#: Tracks need at least this many TRT hits for particle identification [PIDTOOL].
MIN_HITS_PID = 5

# ---------------------------------------------------------------------------------------------
# Geometry [ATLAS08]
# ---------------------------------------------------------------------------------------------
#: Straw radius (mm): 4 mm diameter straws.
STRAW_RADIUS = 2.0
#: Barrel module rings: (straw layers, inner R, outer R in mm); 19 + 24 + 30 = 73 layers
#: between R = 563 and 1066 mm.
BARREL_RINGS: tuple[tuple[int, float, float], ...] = (
    (19, 563.0, 694.0),
    (24, 697.0, 860.0),
    (30, 863.0, 1066.0),
)
N_BARREL_LAYERS = 73
#: Half-length of the barrel (mm); straws run along z.
BARREL_HALF_Z = 712.0
#: Straw pitch in rφ in the barrel (mm; ≈ 6.8 mm centre to centre).
BARREL_PITCH = 6.8
#: φ-modules per barrel module ring.
N_BARREL_MODULES = 32
#: End-cap radial extent of the (radial) straws (mm).
EC_RMIN, EC_RMAX = 644.0, 1004.0
#: Straws per end-cap layer in φ.
EC_STRAWS_PHI = 768
#: End-cap wheel types: (first wheel z, wheel pitch, layers per wheel, layer spacing, wheels),
#: mm: 6 A-wheels of 16 layers (848 < |z| < 1705 mm) and 8 B-wheels of 8 layers
#: (1740 < |z| < 2710 mm): 160 layers per side. Wheels are numbered as ``hit_layer`` does in
#: Athena (``layer_or_wheel`` 0–5 type A, 6–13 type B [PIDTOOL]).
EC_WHEELS: tuple[tuple[float, float, int, float, int], ...] = (
    (848.0, 142.83, 16, 8.0, 6),
    (1740.0, 121.25, 8, 15.0, 8),
)
N_ENDCAP_LAYERS = 160
#: Outline in the R–z plane for the event display (mm): (z_min, z_max, r_min, r_max) of the
#: barrel and of the end-cap A- and B-wheels (one side; mirrored for z < 0).
DISPLAY_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "barrel": (0.0, BARREL_HALF_Z, 563.0, 1066.0),
    "end-cap A": (848.0, 1705.0, EC_RMIN, EC_RMAX),
    "end-cap B": (1740.0, 2710.0, EC_RMIN, EC_RMAX),
}

# ---------------------------------------------------------------------------------------------
# Read-out [TRT17]
# ---------------------------------------------------------------------------------------------
#: Time-over-threshold bin (ns): the low threshold is sampled in 3.125 ns bins ...
TOT_BIN = 3.125
#: ... over a 75 ns window, so ToT saturates at 24 bins.
TOT_NBINS = 24
#: A hit is a *precision hit* when its drift radius agrees with the track-to-wire distance
#: within this tolerance (mm): ≈ 2.5 σ of the ≈ 120–130 μm drift-circle resolution [TRT17].
#: (Athena's PID tool uses the drift-circle error < 1 mm instead; real ntuples lack it.)
PRECISION_TOLERANCE_MM = 0.3
#: r–t relation t(r) = c0 + c1·r + c2·r² (ns, r in mm) of the T0-subtracted drift time,
#: ≈ 2 ns at the wire to ≈ 42 ns at the straw wall, the shape of the TRT r–t relation [TRT17].
#: Illustrative: on real data use the calibrated r–t relation.
RT_COEFFICIENTS: tuple[float, float, float] = (2.0, 15.0, 2.5)

# ---------------------------------------------------------------------------------------------
# High-threshold (HT) probability [HTCALC]
# ---------------------------------------------------------------------------------------------
#: Lorentz factors γ of :data:`ONSET_CALIBRATION`.
ONSET_GAMMAS: tuple[float, ...] = (1e2, 1e3, 1e4, 1e5)
#: HT (middle bit) probability at occupancy 0 of the default calibration [HTCALC], evaluated at
#: :data:`ONSET_GAMMAS` from its ``pHTvsPGOG`` parameters (``par2`` of
#: ``setDefaultCalibrationConstants``, flat below γ ≈ 100), per (gas, detector part). The
#: end-cap B wheels have their own Xe constants (0.0433, 0.1824, 3.0730, 0.1244 for the
#: offset, TR size, onset position and width: ≈ 0.25 at γ = 10⁴, ≈ 0.30 at 10⁵); for Ar in
#: the B wheels [HTCALC] uses the end-cap A Ar curve. The simulator's onset curves are fitted
#: to these.
ONSET_CALIBRATION: dict[tuple[str, str], tuple[float, ...]] = {
    ("Xe", "barrel"): (0.026, 0.091, 0.172, 0.200),
    ("Xe", "endcapA"): (0.047, 0.095, 0.202, 0.227),
    ("Xe", "endcapB"): (0.043, 0.108, 0.246, 0.298),
    ("Ar", "barrel"): (0.038, 0.059, 0.078, 0.096),
    ("Ar", "endcapA"): (0.039, 0.060, 0.084, 0.104),
    ("Ar", "endcapB"): (0.039, 0.060, 0.084, 0.104),
}
