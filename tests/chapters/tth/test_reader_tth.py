"""The ttH ntuple reader: schema checks before reading, branch kinds, chunked reads in order.

``data/tth_*_root.root`` were written by CERN ROOT's TTree (``std::vector`` and scalar leaves);
``data/README.md`` says how (``data/make_tth_fixture.py``) and gives the formulas of their
values, recomputed here. Files with uproot's counted arrays are written by the tests.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepnb.chapters.tth import reader, schema
from hepnb.io import SchemaError, write_root

DATA = Path(__file__).parent / "data"
SIG = DATA / "tth_signal_root.root"
BKG = DATA / "tth_background_root.root"
EMPTY = DATA / "tth_empty_root.root"
DOUBLE = DATA / "tth_double_root.root"
BRANCHES = [
    *schema.JET_BRANCHES,
    *schema.ELECTRON_BRANCHES,
    *schema.MUON_BRANCHES,
    *schema.SCALAR_BRANCHES,
    *schema.WEIGHT_BRANCHES,
    schema.EVENT_NUMBER,
    schema.RUN_NUMBER,
]


# --- the fixture's formulas (data/README.md) --------------------------------------------------
def _n_jets(p: int, e: int) -> int:
    return 4 + (e + p) % 4


def _jet_pt(p: int, e: int, i: int) -> float:
    return 1000.0 * (200 - 20 * i + e + 10 * p)


def write_uproot_sample(path: Path, p: int, entries: int, tree: str = schema.TREE) -> Path:
    """The fixture's formulas for process ``p``, written by uproot as counted arrays."""
    jets = [[_jet_pt(p, e, i) for i in range(_n_jets(p, e))] for e in range(entries)]
    lep = [[1000.0 * (50 + e + 5 * p)] for e in range(entries)]
    f32 = np.float32
    none = ak.unflatten(np.zeros(0, f32), np.zeros(entries, np.int64))
    branches = {
        "jet_pt": ak.values_astype(ak.Array(jets), f32),
        "jet_e": ak.values_astype(1.5 * ak.Array(jets), f32),
        "jet_eta": ak.values_astype(0 * ak.Array(jets), f32),
        "jet_phi": ak.values_astype(0 * ak.Array(jets), f32),
        "jet_tagWeightBin_DL1r_Continuous": ak.values_astype(0 * ak.Array(jets) + 4, np.int32),
    }
    for v in ("pt", "eta", "phi", "e", "charge"):
        branches[f"el_{v}"] = ak.values_astype(ak.Array(lep), f32)
        branches[f"mu_{v}"] = none
    for b in schema.SCALAR_BRANCHES:
        branches[b] = np.ones(entries, np.int32 if b in schema.INT_BRANCHES else f32)
    for b in schema.WEIGHT_BRANCHES:
        branches[b] = np.ones(entries, f32)
    branches[schema.EVENT_NUMBER] = np.arange(entries, dtype=np.uint64) + 2**33
    branches[schema.RUN_NUMBER] = np.full(entries, 410000 + p, np.uint32)
    groups = {"jet_": "njet_vector", "el_": "nel", "mu_": "nmu"}
    return write_root(path, {tree: branches}, jagged_groups=groups)


# --- check_sources ------------------------------------------------------------------------------
def test_root_written_ntuples_pass_and_report_kinds_from_interpretations():
    info = reader.check_sources({"signal": [SIG], "background": [BKG]}, BRANCHES)
    assert info["entries"] == {"signal": [7], "background": [5]}
    assert info["files"] == {"signal": [SIG], "background": [BKG]}
    t = info["types"]
    assert (t["jet_pt"].kind, t["jet_pt"].dtype, t["jet_pt"].typename) == (
        "jagged",
        np.dtype(np.float32),
        "std::vector<float>",
    )
    assert (t["jet_tagWeightBin_DL1r_Continuous"].kind, t["el_pt"].kind) == ("jagged", "jagged")
    assert t["jet_tagWeightBin_DL1r_Continuous"].dtype == np.int32
    assert (t["nJets"].kind, t["nJets"].dtype) == ("scalar", np.dtype(np.int32))
    assert (t["eventNumber"].kind, t["eventNumber"].dtype) == ("scalar", np.dtype(np.uint64))
    assert t["runNumber"].dtype == np.uint32
    assert (t["weight_mc"].kind, t["weight_mc"].dtype) == ("scalar", np.dtype(np.float32))


def test_counted_arrays_and_std_vectors_are_the_same_schema(tmp_path):
    counted = write_uproot_sample(tmp_path / "bkg_uproot.root", 1, 4)
    t = reader.branch_types(counted, ["jet_pt", "nJets"])
    assert t["jet_pt"].typename != "std::vector<float>"  # uproot spells it as a counted array
    assert t["jet_pt"].same(reader.branch_types(SIG, ["jet_pt"])["jet_pt"])
    info = reader.check_sources({"signal": [SIG], "background": [counted]}, BRANCHES)
    assert info["entries"]["background"] == [4]


def test_vector_double_against_vector_float_names_both_files():
    with pytest.raises(SchemaError, match=r"jet_pt.*tth_signal_root\.root.*tth_double_root\.root"):
        reader.check_sources({"signal": [SIG], "background": [DOUBLE]}, ["jet_pt"])
    # a mismatch inside one process is caught too
    with pytest.raises(
        SchemaError, match=r"tth_background_root.*float32.*tth_double_root.*float64"
    ):
        reader.check_sources({"signal": [BKG, DOUBLE]}, ["jet_pt", "nJets"])
    # branches that agree in both files pass
    reader.check_sources({"signal": [SIG], "background": [DOUBLE]}, ["jet_e", "nJets"])


def test_misspelt_branch_names_it_the_file_and_the_near_match():
    with pytest.raises(
        SchemaError,
        match=r"tth_signal_root\.root.*'jet_tagWeightBin_DL1r_Continous'.*did you mean "
        r"'jet_tagWeightBin_DL1r_Continuous'",
    ):
        reader.check_sources({"signal": [SIG]}, ["jet_pt", "jet_tagWeightBin_DL1r_Continous"])


def test_missing_tree_lists_the_trees_found(tmp_path):
    other = write_uproot_sample(tmp_path / "other.root", 0, 3, tree="nominal")
    with pytest.raises(SchemaError, match=r"other\.root: no tree 'nominal_Loose'.*\['nominal'\]"):
        reader.check_sources({"signal": [other]}, ["jet_pt"])


def test_process_without_entries_names_its_files_but_an_empty_file_among_others_is_fine():
    with pytest.raises(SchemaError, match=r"'background'.*0 entries.*tth_empty_root\.root"):
        reader.check_sources({"signal": [SIG], "background": [EMPTY]}, ["jet_pt"])
    info = reader.check_sources({"signal": [SIG], "background": [EMPTY, BKG]}, ["jet_pt"])
    assert info["entries"]["background"] == [0, 5]


def test_missing_file_and_no_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.root"):
        reader.check_sources({"signal": [tmp_path / "nope.root"]}, ["jet_pt"])
    with pytest.raises(SchemaError, match=r"'background': no input files"):
        reader.check_sources({"signal": [SIG], "background": []}, ["jet_pt"])
    not_root = tmp_path / "text.root"
    not_root.write_text("not a ROOT file")
    with pytest.raises(SchemaError, match=r"text\.root: not a readable ROOT file"):
        reader.check_sources({"signal": [not_root]}, ["jet_pt"])


def test_expand_sources(tmp_path):
    for name in ("b.root", "a.root"):
        (tmp_path / name).write_bytes(b"")
    got = reader.expand_sources({"signal": str(tmp_path / "*.root")})
    assert got == {"signal": [tmp_path / "a.root", tmp_path / "b.root"]}
    with pytest.raises(FileNotFoundError, match=r"data_path\['background'\].*none\*\.root"):
        reader.expand_sources({"background": str(tmp_path / "none*.root")})


# --- iterate ------------------------------------------------------------------------------------
def test_iterate_reads_entries_in_order_across_files_with_file_index_and_entries(tmp_path):
    counted = write_uproot_sample(tmp_path / "more.root", 2, 5)
    chunks = list(reader.iterate([SIG, EMPTY, counted], ["jet_pt", "eventNumber"], step_size=3))
    assert [(c.file_index, c.entry_start, c.global_start, len(c.arrays)) for c in chunks] == [
        (0, 0, 0, 3),
        (0, 3, 3, 3),
        (0, 6, 6, 1),
        (2, 0, 7, 3),
        (2, 3, 10, 2),
    ]
    pt = ak.concatenate([c.arrays["jet_pt"] for c in chunks])
    expect = [[_jet_pt(0, e, i) for i in range(_n_jets(0, e))] for e in range(7)]
    expect += [[_jet_pt(2, e, i) for i in range(_n_jets(2, e))] for e in range(5)]
    assert pt.to_list() == expect
    numbers = np.concatenate([ak.to_numpy(c.arrays["eventNumber"]) for c in chunks])
    np.testing.assert_array_equal(numbers[:7], 2**33 + 17 * np.arange(7))
    np.testing.assert_array_equal(numbers[7:], 2**33 + np.arange(5))


def test_iterate_rejects_a_bad_step_size():
    with pytest.raises(ValueError, match="step_size=0"):
        next(reader.iterate([SIG], ["jet_pt"], step_size=0))
