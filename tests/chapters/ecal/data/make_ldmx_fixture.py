"""Write tiny LDMX-like event files with ROOT itself, as ldmx-sw's framework writes them.

Run with a Python that has CERN ROOT (not the project's venv, not part of the test suite)::

    /tmp/rootvenv/bin/python tests/chapters/ecal/data/make_ldmx_fixture.py

It declares minimal copies of the ldmx-sw v4.1.4 event classes (same namespace, class names,
base classes, member names, member types, member order and ClassDef versions; the accessors are
left out because they do not change what ROOT streams), compiles their dictionaries with ACLiC,
and writes tree ``LDMX_Events`` with one ``std::vector<ldmx::...>`` branch per collection,
named ``<collection>_<pass>`` and created as ldmx-sw's Framework/include/Framework/Bus.h does:
``tree->Branch(name, object, 100000, 3)`` (bufsize 100000, splitlevel 3).

Sources (github LDMX-Software/ldmx-sw, tag v4.1.4):
Recon/include/Recon/Event/CalorimeterHit.h, Ecal/include/Ecal/Event/EcalHit.h,
SimCore/include/SimCore/Event/SimTrackerHit.h, Hcal/include/Hcal/Event/HcalHit.h,
TrigScint/include/TrigScint/Event/TrigScintHit.h, DetDescr/include/DetDescr/{DetectorID,
EcalAbstractID,EcalID,TrigScintID,SimSpecialID}.h, DetDescr/python/EcalGeometry.py (v14),
DetDescr/src/DetDescr/EcalGeometry.cxx, Ecal/python/digi.py (v14 layer weights),
Detectors/data/ldmx-det-v14/{constants,target,scoring_planes}.gdml.

Outputs, next to this script: ``ldmx_split_2e.root`` (5 events, 2 electrons each, event 2 has no
ECal hit), ``ldmx_split_3e.root`` (3 events, 3 electrons each), ``ldmx_badid_1e.root`` (2 events,
1 electron each, one ECal hit of event 1 has layer 40), ``expected.json`` (values read back with
ROOT) and ``ldmx_v14_cells.json`` (the v14 cell table made with ROOT's TH2Poly::Honeycomb exactly as
EcalGeometry::buildCellMap does).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", category=UserWarning, module="ROOT")
import ROOT  # noqa: E402  (after the filter: the PyPI build of ROOT warns on import)

HERE = Path(__file__).resolve().parent
PASS = "sim"

CLASSES_H = r"""
#ifndef HEPNB_LDMX_FIXTURE_CLASSES_H
#define HEPNB_LDMX_FIXTURE_CLASSES_H
#include <vector>
#include "Rtypes.h"

namespace ldmx {

class CalorimeterHit {
 public:
  CalorimeterHit() = default;
  virtual ~CalorimeterHit() = default;
  int id_{0};
  float amplitude_{0};
  float energy_{0};
  float time_{0};
  float xpos_{-9999.};
  float ypos_{-9999.};
  float zpos_{-9999.};
  bool isNoise_{false};
  ClassDef(CalorimeterHit, 2);
};

class EcalHit : public ldmx::CalorimeterHit {
 public:
  EcalHit() = default;
  virtual ~EcalHit() = default;
  ClassDef(EcalHit, 3);
};

class HcalHit : public ldmx::CalorimeterHit {
 public:
  HcalHit() = default;
  virtual ~HcalHit() = default;
  float pe_{0.0};
  float minpe_{-99.0};
  int section_{-99};
  int layer_{-99};
  int strip_{-99};
  int end_{-99};
  int isADC_{-99};
  double timeDiff_{-9999.};
  double position_{-9999.};
  double isX_{-9999.};
  double toaPos_{-9999.};
  double toaNeg_{-9999.};
  double amplitudePos_{-9999.};
  double amplitudeNeg_{-9999.};
  ClassDef(HcalHit, 4);
};

class TrigScintHit : public ldmx::HcalHit {
 public:
  TrigScintHit() = default;
  virtual ~TrigScintHit() = default;
  int barID_{-1};
  int moduleID_{-1};
  float beamEfrac_{0};
  float pe_{0};
  ClassDef(TrigScintHit, 3);
};

class SimTrackerHit {
 public:
  SimTrackerHit() = default;
  virtual ~SimTrackerHit() = default;
  int id_{0};
  int layerID_{0};
  int moduleID_{0};
  float edep_{0};
  float time_{0};
  float px_{0};
  float py_{0};
  float pz_{0};
  float energy_{0};
  float x_{0};
  float y_{0};
  float z_{0};
  float pathLength_{0};
  int trackID_{0};
  int pdgID_{0};
  ClassDef(SimTrackerHit, 3);
};

}  // namespace ldmx

#ifdef __ROOTCLING__
#pragma link C++ class ldmx::CalorimeterHit+;
#pragma link C++ class ldmx::EcalHit+;
#pragma link C++ class ldmx::HcalHit+;
#pragma link C++ class ldmx::TrigScintHit+;
#pragma link C++ class ldmx::SimTrackerHit+;
#pragma link C++ class std::vector<ldmx::EcalHit>+;
#pragma link C++ class std::vector<ldmx::TrigScintHit>+;
#pragma link C++ class std::vector<ldmx::SimTrackerHit>+;
#endif
#endif
"""

# --- ids (DetDescr/include/DetDescr/*.h) ---------------------------------------------------------
SUBDET_SHIFT = 26  # DetectorID::SUBDETECTORID_SHIFT
SD_TRIGGER_SCINT, SD_ECAL, SD_SIM_SPECIAL = 2, 5, 7  # DetectorID.h SubdetectorIDTypeEnum
ECAL_LAYER_SHIFT, ECAL_MODULE_SHIFT = 17, 12  # EcalID.h (cell type PrecisionGlobal = 0)
TS_MODULE_SHIFT = 8  # TrigScintID.h
SIM_SUBTYPE_SHIFT, SCORING_PLANE = 22, 1  # SimSpecialID.h


def ecal_id(layer: int, module: int, cell: int) -> int:
    """EcalID(layer, module, cell).raw() of ldmx-sw; the masks are not applied (layer 40 allowed)."""
    return (
        (SD_ECAL << SUBDET_SHIFT)
        | (layer << ECAL_LAYER_SHIFT)
        | (module << ECAL_MODULE_SHIFT)
        | cell
    )


def ts_id(module: int, bar: int) -> int:
    """TrigScintID(module, bar).raw()."""
    return (SD_TRIGGER_SCINT << SUBDET_SHIFT) | (module << TS_MODULE_SHIFT) | bar


def scoring_plane_id(copy_number: int) -> int:
    """SimSpecialID::ScoringPlaneID(copy_number).raw()."""
    return (SD_SIM_SPECIAL << SUBDET_SHIFT) | (SCORING_PLANE << SIM_SUBTYPE_SHIFT) | copy_number


# --- v14 geometry (DetDescr/python/EcalGeometry.py v14, EcalGeometry.cxx) -----------------------
LAYER_Z = 240.0 + np.array(
    [
        7.932,
        14.532,
        32.146,
        40.746,
        58.110,
        67.710,
        86.574,
        96.774,
        115.638,
        125.838,
        144.702,
        154.902,
        173.766,
        183.966,
        202.830,
        213.030,
        231.894,
        242.094,
        260.958,
        271.158,
        290.022,
        300.222,
        319.086,
        329.286,
        351.650,
        365.250,
        387.614,
        401.214,
        423.578,
        437.178,
        459.542,
        473.142,
        495.506,
        509.106,
    ]
)
MODULE_MIN_R, N_CELL_R_HEIGHT, GAP = 85.0, 35.3, 1.5
LAYER_WEIGHTS = np.array(
    [2.312, 4.312, 6.522, 7.490, 8.595, 10.253] + [10.915] * 17 + [14.783] + [18.539] * 9 + [9.938]
)  # Ecal/python/digi.py EcalRecProducer.v14, MeV per MIP
SECOND_ORDER = 4000.0 / 3940.5
MIP_SI = 0.130  # MeV, Ecal/python/digi.py mip_si_energy
ECAL_SP_Z = 240.0 - 0.0005 - 0.001  # scoring_planes.gdml sp_ecal_front_z
TS3_SP_Z = (-6.6777, 1.8253)  # scoring_planes.gdml sp_trigger_pad3_l1_z / l2_z (copy 9, 10)
TS3_BAR_Z = (-3.5762, -1.2762)  # target.gdml trigger_pad3 bar layers
TS3_MODULE = 3  # SimCore/python/sensitive_detectors.py TrigScintSD.pad3()


def build_cells() -> dict:
    """Cell centres of one v14 module as ldmx-sw's EcalGeometry::buildCellMap makes them."""
    moduler = MODULE_MIN_R
    module_r = moduler * 2 / math.sqrt(3)
    cell_r = 2 * moduler / N_CELL_R_HEIGHT
    cell_rr = math.sqrt(3) / 2 * cell_r

    def inside(nx: float, ny: float) -> bool:
        nx, ny = abs(nx), abs(ny)
        if nx > 1 or ny > math.sqrt(3) / 2:
            return False
        return -(nx - 0.5) - (ny - math.sqrt(3) / 2) / math.sqrt(3) > 0

    min_p, min_q, n_p, n_q = -cell_rr, 0.0, 1, 0
    while min_p > -module_r:
        min_p -= 2 * cell_rr
        n_p += 1
    while min_q > -moduler:
        min_q -= cell_r if n_q % 2 == 0 else 2 * cell_r
        n_q += 1
    grid = ROOT.TH2Poly()
    grid.Honeycomb(min_p, min_q, cell_r, 2 * n_p, 2 * n_q)
    pq = []
    for b in grid.GetBins():
        poly = b.GetPolygon()
        n_in = sum(
            inside(poly.GetPointX(i) / module_r, poly.GetPointY(i) / module_r) for i in range(6)
        )
        if n_in > 1:
            pq.append(((b.GetXMax() + b.GetXMin()) / 2, (b.GetYMax() + b.GetYMin()) / 2))
    modules = [(0.0, 0.0)] + [
        (
            (2 * moduler + GAP) * math.cos(k * math.pi / 3),
            -(2 * moduler + GAP) * math.sin(k * math.pi / 3),
        )
        for k in range(6)
    ]
    return {
        "source": "ldmx-sw v4.1.4 DetDescr/src/DetDescr/EcalGeometry.cxx buildCellMap/buildModuleMap, "
        "EcalGeometry.v14(); computed with ROOT " + ROOT.gROOT.GetVersion(),
        "note": "cell (p,q) in the module frame, in cell-id order; (x,y) = module_xy + (q, -p) "
        "(unrotate, cornersSideUp); odd layers add layer_shift_x to x",
        "moduleMinR": moduler,
        "moduleR": module_r,
        "cellR": cell_r,
        "cellr": cell_rr,
        "gap": GAP,
        "layer_shift_x": 2 * moduler / N_CELL_R_HEIGHT,
        "layer_z": [round(float(z), 4) for z in LAYER_Z],
        "module_xy": [[round(x, 6), round(y, 6)] for x, y in modules],
        "cell_pq_in_module": [[round(p, 6), round(q, 6)] for p, q in pq],
    }


def cell_xy(cells: dict) -> np.ndarray:
    """Global (x, y) of every cell of an even layer, shape (7, 432, 2) [mm]."""
    pq = np.asarray(cells["cell_pq_in_module"])
    mod = np.asarray(cells["module_xy"])
    local = np.stack([pq[:, 1], -pq[:, 0]], axis=1)
    return mod[:, None, :] + local[None, :, :]


def nearest_cell(xy: np.ndarray, layer: int, x: float, y: float, shift: float) -> tuple[int, int]:
    """(module, cell) whose centre is nearest to (x, y) in `layer`."""
    dx = xy[..., 0] + (shift if layer % 2 == 1 else 0.0) - x
    d2 = dx**2 + (xy[..., 1] - y) ** 2
    m, c = np.unravel_index(int(np.argmin(d2)), d2.shape)
    return int(m), int(c)


def ts3_bar(y: float) -> list[int]:
    """Bars of pad 3 whose y range contains `y` (target.gdml bar placement)."""
    off = (100.0 - (24 * 3.05 + 23 * 0.3)) / 2
    bars = []
    for k in range(24):
        for layer, centre in (
            (0, -50 + 3.05 * (k + 0.5) + 0.3 * k + off),
            (1, -50 + 3.05 * (k + 1) + 0.3 * k + off),
        ):
            if abs(y - centre) <= 3.05 / 2:
                bars.append(2 * k + layer)
    return bars


def make_event(
    rng: np.random.Generator,
    n_e: int,
    xy: np.ndarray,
    shift: float,
    with_ecal: bool = True,
    bad_layer: bool = False,
) -> dict:
    """Hits of one event as plain dicts (field -> value) per collection."""
    ecal, ts_sp, ecal_sp, ts_rec = [], [], [], []
    used = set()
    for i_e in range(n_e):
        x0, y0 = rng.normal(0.0, 4.0), rng.normal(0.0, 12.0)
        e_beam = 4000.0 * (1 + 0.01 * rng.normal())
        track = i_e + 1
        for copy, z in zip((9, 10), TS3_SP_Z, strict=True):
            ts_sp.append(
                dict(
                    id_=scoring_plane_id(copy),
                    edep_=0.0,
                    time_=0.02 * (z + 880) / 300,
                    px_=0.0,
                    py_=0.0,
                    pz_=e_beam,
                    energy_=e_beam,
                    x_=x0,
                    y_=y0,
                    z_=z,
                    pathLength_=0.001,
                    trackID_=track,
                    pdgID_=11,
                )
            )
        for bar in ts3_bar(y0):
            pe = float(rng.poisson(0.4 / 0.4 * 100.0))
            ts_rec.append(
                dict(
                    id_=ts_id(TS3_MODULE, bar),
                    amplitude_=pe,
                    energy_=0.4,
                    time_=2.9,
                    xpos_=x0,
                    ypos_=y0,
                    zpos_=TS3_BAR_Z[bar % 2],
                    barID_=bar,
                    moduleID_=TS3_MODULE,
                    beamEfrac_=1.0,
                    pe_=pe,
                )
            )
        x_ecal, y_ecal = x0 + rng.normal(0, 1.0), y0 + rng.normal(0, 1.0)
        ecal_sp.append(
            dict(
                id_=scoring_plane_id(31),
                edep_=0.0,
                time_=(ECAL_SP_Z + 880) / 300,
                px_=0.0,
                py_=0.0,
                pz_=e_beam - 2.0,
                energy_=e_beam - 2.0,
                x_=x_ecal,
                y_=y_ecal,
                z_=ECAL_SP_Z,
                pathLength_=0.001,
                trackID_=track,
                pdgID_=11,
            )
        )
        if not with_ecal:
            continue
        for layer in range(0, 34, 3):  # a sparse shower: every third layer, core + one side cell
            t = (layer + 0.5) / 8.0
            layer_e = e_beam * 0.23 * t**2 * math.exp(-t) + 5.0
            for k, frac in enumerate((0.8, 0.2)):
                x = x_ecal + (0.0 if k == 0 else 8.3 * (1 if rng.random() < 0.5 else -1))
                module, cell = nearest_cell(xy, layer, x, y_ecal, shift)
                if (layer, module, cell) in used:
                    continue
                used.add((layer, module, cell))
                e_si = layer_e * frac / (LAYER_WEIGHTS[layer] / MIP_SI + 1) * rng.uniform(0.8, 1.2)
                n_mip = e_si / MIP_SI
                cx = xy[module, cell, 0] + (shift if layer % 2 else 0.0)
                ecal.append(
                    dict(
                        id_=ecal_id(layer, module, cell),
                        amplitude_=e_si,
                        energy_=(n_mip * LAYER_WEIGHTS[layer] + e_si) * SECOND_ORDER,
                        time_=(LAYER_Z[layer] + 880) / 300 + rng.normal(0, 0.1),
                        xpos_=cx,
                        ypos_=xy[module, cell, 1],
                        zpos_=LAYER_Z[layer],
                        isNoise_=False,
                    )
                )
    # a bremsstrahlung photon and a soft electron at the downstream pad-3 plane in some events
    if rng.random() < 0.6:
        ts_sp.append(
            dict(
                id_=scoring_plane_id(10),
                edep_=0.0,
                time_=2.94,
                px_=0.5,
                py_=-0.2,
                pz_=55.0,
                energy_=55.0,
                x_=1.5,
                y_=-2.0,
                z_=TS3_SP_Z[1],
                pathLength_=0.001,
                trackID_=50,
                pdgID_=22,
            )
        )
        ts_sp.append(
            dict(
                id_=scoring_plane_id(10),
                edep_=0.0,
                time_=2.95,
                px_=0.3,
                py_=0.1,
                pz_=2.1,
                energy_=2.6,
                x_=-3.0,
                y_=4.0,
                z_=TS3_SP_Z[1],
                pathLength_=0.001,
                trackID_=51,
                pdgID_=11,
            )
        )
    if with_ecal:  # one noise hit
        layer = int(rng.integers(0, 34))
        module, cell = int(rng.integers(0, 7)), int(rng.integers(0, 432))
        if (layer, module, cell) not in used:
            e_si = 0.3 * MIP_SI
            ecal.append(
                dict(
                    id_=ecal_id(layer, module, cell),
                    amplitude_=e_si,
                    energy_=(0.3 * LAYER_WEIGHTS[layer] + e_si) * SECOND_ORDER,
                    time_=rng.uniform(0, 25),
                    xpos_=xy[module, cell, 0] + (shift if layer % 2 else 0.0),
                    ypos_=xy[module, cell, 1],
                    zpos_=LAYER_Z[layer],
                    isNoise_=True,
                )
            )
    if bad_layer and ecal:  # layer 40 is outside the 34-layer geometry
        hit = ecal[len(ecal) // 2]
        hit["id_"] = ecal_id(40, 0, 0)
        hit["zpos_"] = 999.0
    return {
        "EcalRecHits": ecal,
        "TrigScintScoringPlaneHits": ts_sp,
        "EcalScoringPlaneHits": ecal_sp,
        "TrigScintRecHits": ts_rec,
    }


BRANCHES = {
    "EcalRecHits": "ldmx::EcalHit",
    "TrigScintScoringPlaneHits": "ldmx::SimTrackerHit",
    "EcalScoringPlaneHits": "ldmx::SimTrackerHit",
    "TrigScintRecHits": "ldmx::TrigScintHit",
}


def write_file(path: Path, events: list[dict]) -> None:
    """Write `events` to `path` as tree LDMX_Events with ldmx-sw's branch settings."""
    tmp = path.with_suffix(".tmp.root")
    f = ROOT.TFile(str(tmp), "RECREATE")
    tree = ROOT.TTree("LDMX_Events", "LDMX Events")  # Framework/src/Framework/Event.cxx
    vectors = {}
    for coll, cls in BRANCHES.items():
        vectors[coll] = getattr(ROOT, "std::vector<" + cls + ">")()
        # Framework/include/Framework/Bus.h: tree->Branch(branch_name.c_str(), baggage_, 100000, 3)
        tree.Branch(f"{coll}_{PASS}", vectors[coll], 100000, 3)
    for event in events:
        for coll, cls in BRANCHES.items():
            vec = vectors[coll]
            vec.clear()
            for fields in event[coll]:
                obj = getattr(ROOT, cls)()
                for name, value in fields.items():
                    setattr(obj, name, value)
                vec.push_back(obj)
        tree.Fill()
    f.Write()
    f.Close()
    os.replace(tmp, path)


def read_back(path: Path) -> dict:
    """Numbers a test compares against, read with ROOT from the written file."""
    f = ROOT.TFile.Open(str(path))
    tree = f.Get("LDMX_Events")
    out = {"tree": "LDMX_Events", "n_events": int(tree.GetEntries()), "events": []}
    for i in range(tree.GetEntries()):
        tree.GetEntry(i)
        ecal = getattr(tree, f"EcalRecHits_{PASS}")
        ts = getattr(tree, f"TrigScintScoringPlaneHits_{PASS}")
        esp = getattr(tree, f"EcalScoringPlaneHits_{PASS}")
        trec = getattr(tree, f"TrigScintRecHits_{PASS}")
        first = [ecal[j] for j in range(min(3, ecal.size()))]
        first_ts = [ts[j] for j in range(min(3, ts.size()))]
        out["events"].append(
            {
                "n_EcalRecHits": int(ecal.size()),
                "n_TrigScintScoringPlaneHits": int(ts.size()),
                "n_EcalScoringPlaneHits": int(esp.size()),
                "n_TrigScintRecHits": int(trec.size()),
                "EcalRecHits_sum_energy": float(np.float32(sum(float(h.energy_) for h in ecal))),
                "EcalRecHits_id_": [int(h.id_) for h in first],
                "EcalRecHits_energy_": [float(h.energy_) for h in first],
                "EcalRecHits_xpos_": [float(h.xpos_) for h in first],
                "TrigScintScoringPlaneHits_x_": [float(h.x_) for h in first_ts],
                "TrigScintScoringPlaneHits_y_": [float(h.y_) for h in first_ts],
                "TrigScintScoringPlaneHits_pdgID_": [int(h.pdgID_) for h in first_ts],
                "TrigScintRecHits_barID_": [int(trec[j].barID_) for j in range(trec.size())],
            }
        )
    f.Close()
    return out


def main() -> None:
    """Compile the classes, write the three files, expected.json and the cell table."""
    with tempfile.TemporaryDirectory() as build:
        header = Path(build) / "ldmx_fixture_classes.h"
        header.write_text(CLASSES_H)
        ROOT.gSystem.SetBuildDir(build, True)
        if ROOT.gSystem.CompileMacro(str(header), "kO") != 1:
            raise RuntimeError("ACLiC failed to compile the ldmx classes")
        cells = build_cells()
        xy = cell_xy(cells)
        shift = cells["layer_shift_x"]
        rng = np.random.default_rng(20241017)
        samples = {
            "ldmx_split_2e.root": [
                make_event(rng, 2, xy, shift, with_ecal=(i != 2)) for i in range(5)
            ],
            "ldmx_split_3e.root": [make_event(rng, 3, xy, shift) for _ in range(3)],
            "ldmx_badid_1e.root": [
                make_event(rng, 1, xy, shift, bad_layer=(i == 1)) for i in range(2)
            ],
        }
        expected = {"root_version": ROOT.gROOT.GetVersion(), "pass": PASS, "files": {}}
        for name, events in samples.items():
            write_file(HERE / name, events)
            expected["files"][name] = read_back(HERE / name)
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    (HERE / "ldmx_v14_cells.json").write_text(json.dumps(cells, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
