"""ROOT → HDF5 conversion of ttH ntuples, loading it back, ``inspect``, and the errors.

The ROOT files in ``data/`` were written by CERN ROOT (``data/README.md``, formulas restated
below); the tests add files written by uproot (counted arrays) from the same formulas.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest

from hepnb.chapters.tth import convert, features, schema
from hepnb.chapters.tth.config import TthConfig
from hepnb.io import SchemaError, write_root

DATA = Path(__file__).parent / "data"
SIG = DATA / "tth_signal_root.root"
BKG = DATA / "tth_background_root.root"
EMPTY = DATA / "tth_empty_root.root"
DOUBLE = DATA / "tth_double_root.root"
NANW = DATA / "tth_nanweight_root.root"
TAG = "jet_tagWeightBin_DL1r_Continuous"
FEATURES = [*schema.JET_BRANCHES, "nJets", "HT_jets", "met_met", "met_phi"]
MAKERS = ["lep_pt", "lep_phi", "HT", "nBTags_77"]
J = 6  # jets kept: the fixture has 4 to 7, so some are padded and some truncated
LUMI = 139.0


# --- the fixture's formulas (data/README.md), MeV ------------------------------------------------
def n_jets(p: int, e: int) -> int:
    return 4 + (e + p) % 4


def jet(p: int, e: int, i: int) -> list[float]:
    pt = 1000.0 * (200 - 20 * i + e + 10 * p)
    return [
        pt,
        1.5 * pt,
        0.125 * (i - 3) + 0.0625 * e,
        -3.0 + 0.75 * i + 0.0625 * e,
        1 + (3 * i + e + p) % 5,
    ]  # pt, e, eta, phi, tag bin


def lepton(p: int, e: int) -> list[float]:
    return [
        1000.0 * (50 + e + 5 * p),
        0.5 - 0.125 * e,
        0.25 * e - 1.0,
        2000.0 * (50 + e + 5 * p),
        1.0 if e % 3 else -1.0,
    ]  # pt, eta, phi, e, charge


def weights(p: int, e: int) -> list[float]:
    mc = -1.0 if e == 5 else 1.0 + 0.5 * (e % 3)
    return [0.25 * (1 + p), mc, 1.0 - 0.125 * (e % 2), 1.0, 0.96875, 1.0 + 0.0625 * e]


def write_uproot_sample(path: Path, p: int, entries: int, bad: dict | None = None) -> Path:
    """The fixture's formulas for process ``p``, written by uproot as counted arrays; ``bad``
    maps (branch, entry) → a value replacing the first value of the entry."""
    f32 = np.float32
    cols: dict[str, list] = {b: [] for b in (*schema.JET_BRANCHES, *schema.ELECTRON_BRANCHES)}
    cols |= {b: [] for b in schema.MUON_BRANCHES}
    for e in range(entries):
        js = [jet(p, e, i) for i in range(n_jets(p, e))]
        for k, b in enumerate(schema.JET_BRANCHES):
            cols[b].append([j[k] for j in js])
        flavour = "el" if (e + p) % 2 == 0 else "mu"
        for k, v in enumerate(("pt", "eta", "phi", "e", "charge")):
            cols[f"el_{v}"].append(lepton(p, e)[k : k + 1] if flavour == "el" else [])
            cols[f"mu_{v}"].append(lepton(p, e)[k : k + 1] if flavour == "mu" else [])
    for (b, e), value in (bad or {}).items():
        cols[b][e][0] = value
    branches = {
        b: ak.values_astype(ak.Array(v), np.int32 if b == TAG else f32) for b, v in cols.items()
    }
    js_pt = [sum(jet(p, e, i)[0] for i in range(n_jets(p, e))) for e in range(entries)]
    branches["nJets"] = np.array([n_jets(p, e) for e in range(entries)], np.int32)
    branches["nBTags_DL1r_70"] = np.zeros(entries, np.int32)
    branches["HT_jets"] = np.array(js_pt, f32)
    branches["HT_all"] = np.array(js_pt, f32)
    branches["met_met"] = np.array([1000.0 * (30 + 2 * e) for e in range(entries)], f32)
    branches["met_phi"] = np.array([0.5 - 0.25 * e for e in range(entries)], f32)
    for k, b in enumerate(schema.WEIGHT_BRANCHES):
        branches[b] = np.array([weights(p, e)[k] for e in range(entries)], f32)
    branches["eventNumber"] = np.array(
        [2**33 + 1000 * p + 17 * e for e in range(entries)], np.uint64
    )
    branches["runNumber"] = np.full(entries, 410000 + p, np.uint32)
    groups = {"jet_": "njet_vector", "el_": "nel", "mu_": "nmu"}
    return write_root(path, {schema.TREE: branches}, jagged_groups=groups)


def expected(p: int, entries: int, file_index: int = 0, offset: int = 0) -> dict[str, np.ndarray]:
    """The converted rows of ``entries`` entries of process ``p`` (GeV), by the formulas."""
    rows: dict[str, list] = {k: [] for k in ("jets", "mask", "event", "weight", "number", "njet")}
    rows["nbtag"] = []
    for e in range(entries):
        js = [jet(p, e, i) for i in range(n_jets(p, e))]
        gev = [[j[0] / 1000, j[1] / 1000, j[2], j[3], j[4]] for j in js]
        rows["jets"].append((gev + [[0.0] * 5] * J)[:J])
        rows["mask"].append([i < len(js) for i in range(J)])
        lep_pt = lepton(p, e)[0] / 1000
        ht_jets = sum(j[0] for j in gev)
        rows["event"].append(
            [
                len(js),
                ht_jets,
                30 + 2 * e,
                0.5 - 0.25 * e,  # nJets HT_jets met_met met_phi
                lep_pt,
                lepton(p, e)[2],
                ht_jets + lep_pt,
                sum(j[4] >= 3 for j in js),
            ]
        )
        rows["weight"].append(LUMI * 1000 * math.prod(weights(p, e)))
        rows["number"].append(2**33 + 1000 * p + 17 * e)
        rows["njet"].append(len(js))
        rows["nbtag"].append(sum(j[4] >= 4 for j in js))
    out = {k: np.array(v) for k, v in rows.items()}
    out["entry"] = offset + np.arange(entries)
    out["file_index"] = np.full(entries, file_index)
    return out


def run(sources, out, **kw) -> Path:
    args = dict(features=FEATURES, feature_makers=MAKERS, luminosity=LUMI, n_jets=J)
    return convert.convert(sources, out, **(args | kw))


def test_conversion_reproduces_the_root_written_ntuples(tmp_path):
    more = write_uproot_sample(tmp_path / "bkg_more.root", 2, 4)
    out = run({"signal": [SIG], "background": [BKG, EMPTY, more]}, tmp_path / "s.h5")
    ev = convert.load(out)
    assert ev.jet_features == schema.JET_BRANCHES
    assert ev.event_features == ("nJets", "HT_jets", "met_met", "met_phi", *MAKERS)
    want = {"signal": expected(0, 7)}
    bkg = [expected(1, 5), expected(2, 4, file_index=2, offset=5)]
    want["background"] = {k: np.concatenate([b[k] for b in bkg]) for k in bkg[0]}
    np.testing.assert_array_equal(ev.label, [1] * 7 + [0] * 9)
    for process, w in want.items():
        got = ev.process(process)
        np.testing.assert_allclose(got.jets, w["jets"], rtol=1e-6)
        np.testing.assert_array_equal(got.mask, w["mask"])
        np.testing.assert_allclose(got.event, w["event"], rtol=1e-6)
        np.testing.assert_allclose(got.weight, w["weight"], rtol=1e-12)
        np.testing.assert_array_equal(got.event_number, w["number"].astype(np.uint64))
        np.testing.assert_array_equal(got.entry, w["entry"])
        np.testing.assert_array_equal(got.file_index, w["file_index"])
        np.testing.assert_array_equal(got.njet, w["njet"])
        np.testing.assert_array_equal(got.nbtag, w["nbtag"])
    assert ev.njet.max() == 7 and ev.mask.sum(axis=1).max() == J  # truncated to J
    assert ev.units["jet_pt"] == "GeV" and ev.units["met_phi"] == "rad"
    assert ev.units["lep_pt"] == "GeV" and ev.units["nBTags_77"] == ""
    assert ev.files["background"] == [str(BKG), str(EMPTY), str(more)]
    with h5py.File(out) as h5:
        assert h5.attrs["n_jets"] == J and h5.attrs["tree"] == schema.TREE
        assert h5.attrs["version"] == convert.FORMAT_VERSION
        assert json.loads(h5.attrs["units"])["HT"] == "GeV"
        assert list(h5["background"].attrs["entries"]) == [5, 0, 4]
        dtypes = {k: h5["signal"][k].dtype for k in h5["signal"]}
    assert dtypes == {
        "jets": np.float32,
        "jet_mask": np.bool_,
        "event": np.float32,
        "weight": np.float64,
        "eventNumber": np.uint64,
        "entry": np.int64,
        "file_index": np.int32,
        "njet": np.int32,
        "nbtag": np.int32,
    }


def test_chunked_conversion_equals_one_chunk(tmp_path):
    sources = {"signal": [SIG, SIG], "background": [BKG]}
    small = run(sources, tmp_path / "small.h5", chunk_events=2)
    big = run(sources, tmp_path / "big.h5", chunk_events=1000)
    with h5py.File(small) as a, h5py.File(big) as b:
        for p in schema.PROCESSES:
            assert set(a[p]) == set(b[p])
            for k in a[p]:
                np.testing.assert_array_equal(a[p][k][...], b[p][k][...], err_msg=f"{p}/{k}")
    ev = convert.load(small)
    np.testing.assert_array_equal(ev.process("signal").entry, np.arange(14))
    np.testing.assert_array_equal(ev.process("signal").file_index, [0] * 7 + [1] * 7)


def test_jet_inputs_only_convert_with_an_empty_event_block(tmp_path):
    """No scalar features and no makers (a jet-level study): the event block is (N, 0) and
    the jets are those of the full conversion."""
    sources = {"signal": [SIG], "background": [BKG]}
    jets_only = convert.load(
        run(sources, tmp_path / "jets.h5", features=list(schema.JET_BRANCHES), feature_makers=[])
    )
    full = convert.load(run(sources, tmp_path / "full.h5"))
    assert jets_only.event.shape == (len(full), 0) and jets_only.event_features == ()
    np.testing.assert_array_equal(jets_only.jets, full.jets)
    np.testing.assert_array_equal(jets_only.mask, full.mask)


def test_convert_config_takes_the_config_keys_and_globs(tmp_path):
    cfg = TthConfig(
        data_path={"signal": str(SIG), "background": str(DATA / "tth_back*_root.root")},
        n_jets=4,
        features=["jet_pt", "met_met"],
        feature_makers=["lep_pt"],
        weights=["weight_mc"],
        luminosity=2.0,
        chunk_events=3,
    )
    ev = convert.load(convert.convert_config(cfg, None, tmp_path / "c.h5"))
    assert ev.jets.shape == (12, 4, 1) and ev.event_features == ("met_met", "lep_pt")
    sig = ev.process("signal")
    np.testing.assert_allclose(sig.weight, [2000 * weights(0, e)[1] for e in range(7)])
    with pytest.raises(ValueError, match="no ntuples to convert"):
        convert.convert_config(TthConfig(), None, tmp_path / "d.h5")


def _nothing_left(folder: Path) -> None:
    assert [p.name for p in folder.iterdir()] == []


def test_missing_feature_names_it_and_the_near_match(tmp_path):
    out = tmp_path / "out" / "x.h5"
    with pytest.raises(
        SchemaError, match=r"tth_signal_root\.root.*'met_pht'.*did you mean 'met_phi'"
    ):
        run({"signal": [SIG], "background": [BKG]}, out, features=["jet_pt", "met_pht"])
    with pytest.raises(KeyError, match=r"'aplanarit'.*did you mean 'aplanarity'"):
        run({"signal": [SIG], "background": [BKG]}, out, feature_makers=["aplanarit"])
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_process_with_zero_events_and_mismatched_schemas(tmp_path):
    with pytest.raises(SchemaError, match=r"'background'.*0 entries.*tth_empty_root\.root"):
        run({"signal": [SIG], "background": [EMPTY]}, tmp_path / "x.h5")
    with pytest.raises(
        SchemaError, match=r"'jet_pt'.*tth_signal_root\.root.*tth_double_root\.root"
    ):
        run({"signal": [SIG], "background": [DOUBLE]}, tmp_path / "x.h5")
    _nothing_left(tmp_path)


def test_non_finite_weight_names_the_file_entry_and_branch(tmp_path):
    with pytest.raises(SchemaError, match=r"tth_nanweight_root\.root.*entry 3: branch 'weight_mc'"):
        run({"signal": [NANW], "background": [BKG]}, tmp_path / "x.h5", chunk_events=2)
    _nothing_left(tmp_path)


def test_non_finite_feature_or_maker_output_names_the_entry(tmp_path):
    src = tmp_path / "src"
    bad_eta = write_uproot_sample(src / "eta.root", 1, 5, {("jet_eta", 2): np.inf})
    bad_lep = write_uproot_sample(src / "lep.root", 1, 5, {("el_phi", 3): np.nan})
    out = tmp_path / "out" / "x.h5"
    with pytest.raises(SchemaError, match=r"eta\.root.*entry 2: branch 'jet_eta'"):
        run({"signal": [SIG], "background": [bad_eta]}, out, chunk_events=2)
    with pytest.raises(SchemaError, match=r"lep\.root.*entry 3: feature 'lep_phi'"):
        run({"signal": [SIG], "background": [bad_lep]}, out, chunk_events=2)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_jagged_feature_not_per_jet_is_an_error(tmp_path):
    with pytest.raises(SchemaError, match=r"entry 0: branch 'el_pt' has 1 values.*jet_pt's 4"):
        run({"signal": [SIG], "background": [BKG]}, tmp_path / "x.h5", features=["jet_pt", "el_pt"])


def test_interrupted_conversion_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    calls = []

    def fail_on_second_chunk(events):
        calls.append(len(events))
        if len(calls) == 2:
            raise RuntimeError("interrupted")
        return np.zeros(len(events))

    boom = features.FeatureMaker("HT", ("jet_pt",), "GeV", "fails", fail_on_second_chunk)
    monkeypatch.setitem(features.MAKERS, "HT", boom)
    out = tmp_path / "x.h5"
    with pytest.raises(RuntimeError, match="interrupted"):
        run({"signal": [SIG], "background": [BKG]}, out, chunk_events=3)
    assert len(calls) == 2
    _nothing_left(tmp_path)
    out.write_bytes(b"the previous conversion")
    with pytest.raises(RuntimeError, match="interrupted"):
        calls.clear()
        run({"signal": [SIG], "background": [BKG]}, out, chunk_events=3)
    assert out.read_bytes() == b"the previous conversion"
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5"]


def test_bad_arguments(tmp_path):
    both = {"signal": [SIG], "background": [BKG]}
    with pytest.raises(ValueError, match=r"expected exactly \['signal', 'background'\]"):
        run({"signal": [SIG]}, tmp_path / "x.h5")
    with pytest.raises(ValueError, match="n_jets=0"):
        run(both, tmp_path / "x.h5", n_jets=0)
    with pytest.raises(ValueError, match="luminosity"):
        run(both, tmp_path / "x.h5", luminosity=-1.0)
    with pytest.raises(ValueError, match="none is a jagged per-jet branch"):
        run(both, tmp_path / "x.h5", features=["met_met"])
    with pytest.raises(ValueError, match=r"\['lep_pt'\] twice"):
        run(both, tmp_path / "x.h5", feature_makers=["lep_pt", "lep_pt"])


def test_load_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.h5"):
        convert.load(tmp_path / "nope.h5")
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(SchemaError, match=r"text\.h5: not a readable HDF5 file"):
        convert.load(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["x"] = np.arange(3)
    with pytest.raises(SchemaError, match=r"foreign\.h5: not a ttH conversion.*'jet_features'"):
        convert.load(foreign)
    with pytest.raises(SchemaError, match=r"foreign\.h5"):
        convert.inspect(foreign)


def test_inspect_reports_layout_and_per_process_statistics(tmp_path):
    out = run({"signal": [SIG], "background": [BKG]}, tmp_path / "s.h5")
    text = convert.inspect(out, block=3)
    assert "/signal" in text and "/background" in text
    assert "(7, 6, 5)" in text and "(5, 6, 5)" in text and "float32" in text and "uint64" in text
    assert "n_jets = 6" in text and "tree = nominal_Loose" in text
    for p, n in ((0, 7), (1, 5)):
        w = expected(p, n)
        name = schema.PROCESSES[p]
        assert f"{name}: {n} events, Σ weights = {w['weight'].sum():.6g}" in text
        assert f"mean real jets = {w['mask'].sum() / n:.3f}" in text
        pt = w["jets"][:, :, 0][w["mask"]]  # real jets only
        row = f"{'jet_pt [per jet]':40s} GeV  {pt.mean():11.4g} {pt.std():11.4g} "
        row += f"{pt.min():11.4g} {pt.max():11.4g}"
        assert row in text
