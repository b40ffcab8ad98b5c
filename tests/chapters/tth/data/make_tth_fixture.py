"""Write small ttH(bb) ntuples with CERN ROOT itself, as ROOT's TTree writes vectors and scalars.

Run with a Python that has CERN ROOT (not the project's venv, not part of the test suite)::

    /tmp/rootvenv/bin/python tests/chapters/tth/data/make_tth_fixture.py

It writes next to this script, each file with one tree ``nominal_Loose`` (one entry per event,
branches made with ``TTree::Branch``: ROOT's default buffer size and split level):

* ``tth_signal_root.root`` (process 0, 7 entries) and ``tth_background_root.root`` (process 1,
  5 entries): the schema of ``hepnb.chapters.tth.schema`` — ``jet_pt jet_e jet_eta jet_phi``
  as ``std::vector<float>`` (MeV, rad), ``jet_tagWeightBin_DL1r_Continuous`` as
  ``std::vector<int>``, ``el_* mu_*`` as ``std::vector<float>`` (one lepton per event: an
  electron when entry + process is even, else a muon), ``nJets nBTags_DL1r_70`` as ``Int_t``,
  ``HT_jets HT_all met_met met_phi`` as ``Float_t``, ``eventNumber`` as ``ULong64_t``,
  ``runNumber`` as ``UInt_t`` and the six weight branches as ``Float_t``;
* ``tth_nanweight_root.root``: process 0's 7 entries, except ``weight_mc`` = NaN in entry 3;
* ``tth_empty_root.root``: the same branches, 0 entries;
* ``tth_double_root.root``: process 1's first 3 entries, with ``jet_pt`` as
  ``std::vector<double>``.

The values are formulas of the process, the entry and the jet index (:func:`jet`,
:func:`lepton`, :func:`scalars`; exact in float32), so a test can recompute them.
"""

from __future__ import annotations

import array
import math
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=UserWarning, module="ROOT")
import ROOT  # noqa: E402  (after the filter: the PyPI build of ROOT warns on import)

HERE = Path(__file__).resolve().parent
TREE = "nominal_Loose"
JET_FLOATS = ("jet_pt", "jet_e", "jet_eta", "jet_phi")
JET_INTS = ("jet_tagWeightBin_DL1r_Continuous",)
LEPTON = ("pt", "eta", "phi", "e", "charge")
INTS = ("nJets", "nBTags_DL1r_70")
FLOATS = ("HT_jets", "HT_all", "met_met", "met_phi")
WEIGHTS = (
    "weight_normalise",
    "weight_mc",
    "weight_pileup",
    "weight_jvt",
    "weight_leptonSF",
    "weight_bTagSF_DL1r_Continuous",
)


def n_jets(p: int, e: int) -> int:
    """Jets of entry ``e`` of process ``p``: 4 to 7."""
    return 4 + (e + p) % 4


def jet(p: int, e: int, i: int) -> dict[str, float | int]:
    """Jet ``i`` of entry ``e`` (MeV, rad); pT decreases with ``i``."""
    pt = 1000.0 * (200 - 20 * i + e + 10 * p)
    return {
        "jet_pt": pt,
        "jet_e": 1.5 * pt,
        "jet_eta": 0.125 * (i - 3) + 0.0625 * e,
        "jet_phi": -3.0 + 0.75 * i + 0.0625 * e,
        "jet_tagWeightBin_DL1r_Continuous": 1 + (3 * i + e + p) % 5,
    }


def is_electron(p: int, e: int) -> bool:
    return (e + p) % 2 == 0


def lepton(p: int, e: int) -> dict[str, float]:
    """The entry's lepton (MeV, rad), an electron or a muon."""
    return {
        "pt": 1000.0 * (50 + e + 5 * p),
        "eta": 0.5 - 0.125 * e,
        "phi": 0.25 * e - 1.0,
        "e": 2000.0 * (50 + e + 5 * p),
        "charge": 1.0 if e % 3 else -1.0,
    }


def scalars(p: int, e: int) -> dict[str, float | int]:
    """Scalar branches and weights of entry ``e`` of process ``p``."""
    jets = [jet(p, e, i) for i in range(n_jets(p, e))]
    ht_jets = sum(j["jet_pt"] for j in jets)
    met = 1000.0 * (30 + 2 * e)
    return {
        "nJets": len(jets),
        "nBTags_DL1r_70": sum(j["jet_tagWeightBin_DL1r_Continuous"] >= 4 for j in jets),
        "HT_jets": ht_jets,
        "HT_all": ht_jets + lepton(p, e)["pt"] + met,
        "met_met": met,
        "met_phi": 0.5 - 0.25 * e,
        "eventNumber": 2**33 + 1000 * p + 17 * e,
        "runNumber": 410000 + p,
        "weight_normalise": 0.25 * (1 + p),
        "weight_mc": -1.0 if e == 5 else 1.0 + 0.5 * (e % 3),
        "weight_pileup": 1.0 - 0.125 * (e % 2),
        "weight_jvt": 1.0,
        "weight_leptonSF": 0.96875,
        "weight_bTagSF_DL1r_Continuous": 1.0 + 0.0625 * e,
    }


def write(
    name: str, p: int, entries: int, *, nan_weight_entry: int = -1, double_pt: bool = False
) -> None:
    out = HERE / name
    f = ROOT.TFile(str(out), "RECREATE")
    tree = ROOT.TTree(TREE, "hepnb ttH fixture")
    vecs = {
        b: ROOT.std.vector("double" if double_pt and b == "jet_pt" else "float")()
        for b in JET_FLOATS
    }
    vecs |= {b: ROOT.std.vector("int")() for b in JET_INTS}
    vecs |= {f"{k}_{v}": ROOT.std.vector("float")() for k in ("el", "mu") for v in LEPTON}
    for b, v in vecs.items():
        tree.Branch(b, v)
    # scalar branches: one-element buffers with ROOT's leaf type codes
    codes = {b: ("i", "I") for b in INTS} | {b: ("f", "F") for b in (*FLOATS, *WEIGHTS)}
    codes |= {"eventNumber": ("Q", "l"), "runNumber": ("I", "i")}
    buf = {b: array.array(c, [0]) for b, (c, _) in codes.items()}
    for b, (_, leaf) in codes.items():
        tree.Branch(b, buf[b], f"{b}/{leaf}")
    for e in range(entries):
        for v in vecs.values():
            v.clear()
        for i in range(n_jets(p, e)):
            for b, x in jet(p, e, i).items():
                vecs[b].push_back(x)
        flavour = "el" if is_electron(p, e) else "mu"
        for k, x in lepton(p, e).items():
            vecs[f"{flavour}_{k}"].push_back(x)
        for b, x in scalars(p, e).items():
            buf[b][0] = x
        if e == nan_weight_entry:
            buf["weight_mc"][0] = math.nan
        tree.Fill()
    tree.Write()
    f.Close()
    check = ROOT.TFile(str(out))
    t = check.Get(TREE)
    print(f"{out.name}: ROOT {ROOT.gROOT.GetVersion()}, {t.GetEntries()} entries")
    check.Close()


def main() -> None:
    write("tth_signal_root.root", 0, 7)
    write("tth_background_root.root", 1, 5)
    write("tth_nanweight_root.root", 0, 7, nan_weight_entry=3)
    write("tth_empty_root.root", 0, 0)
    write("tth_double_root.root", 1, 3, double_pt=True)
    check = ROOT.TFile(str(HERE / "tth_signal_root.root"))
    for br in check.Get(TREE).GetListOfBranches():
        leaf = br.GetListOfLeaves()[0]
        print(f"  {br.GetName()}: {br.GetClassName() or leaf.GetTypeName()}")
    check.Close()


if __name__ == "__main__":
    main()
