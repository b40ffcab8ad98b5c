"""The ldmx-sw reader on files written by ROOT itself and by the simulator (through uproot).

The ``data/ldmx_*.root`` fixtures hold split ``std::vector<ldmx::EcalHit>`` (and
``SimTrackerHit``, ``TrigScintHit``) branches written by CERN ROOT the way ldmx-sw's framework
writes them; ``data/README.md`` says how they were made (``data/make_ldmx_fixture.py``, run once
with PyPI's ROOT) and ``data/expected.json`` holds the values ROOT wrote.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepnb.chapters.ecal import ECalConfig, reader, schema, sim, steps
from hepnb.io import SchemaError

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", ["ldmx_split_2e.root", "ldmx_split_3e.root"])
def test_split_objects_written_by_root_read_as_written(name):
    exp = EXPECTED["files"][name]
    ev = reader.read_events(DATA / name)
    assert len(ev) == exp["n_events"]
    assert set(ev.fields) == {"ecal", "ts", "ts_rec", "truth"}
    for i, e in enumerate(exp["events"]):
        hits = ev.ecal[i]
        assert len(hits) == e["n_EcalRecHits"]
        assert len(ev.ts[i]) == e["n_TrigScintScoringPlaneHits"]
        assert len(ev.truth[i]) == e["n_EcalScoringPlaneHits"]
        k = len(e["EcalRecHits_id_"])
        assert hits.id[:k].tolist() == e["EcalRecHits_id_"]
        np.testing.assert_allclose(hits.energy[:k].to_numpy(), e["EcalRecHits_energy_"], rtol=1e-7)
        np.testing.assert_allclose(hits.x[:k].to_numpy(), e["EcalRecHits_xpos_"], rtol=1e-7)
        np.testing.assert_allclose(
            float(ak.sum(hits.energy)), e["EcalRecHits_sum_energy"], rtol=1e-5
        )
        k = len(e["TrigScintScoringPlaneHits_x_"])
        np.testing.assert_allclose(ev.ts[i].x[:k].to_numpy(), e["TrigScintScoringPlaneHits_x_"])
        np.testing.assert_allclose(ev.ts[i].y[:k].to_numpy(), e["TrigScintScoringPlaneHits_y_"])
        assert ev.ts[i].pdg[:k].tolist() == e["TrigScintScoringPlaneHits_pdgID_"]
        assert ev.ts_rec[i].bar.tolist() == e["TrigScintRecHits_barID_"]


def test_ids_decode_to_the_cells_root_placed_the_hits_in():
    """layer/module/cell decoded with the EcalID masks give back the cell centres (x, y, z)
    the fixture wrote: the ID layout and the v14 geometry agree with ldmx-sw's."""
    ev = reader.read_events(DATA / "ldmx_split_3e.root")
    h = ak.flatten(ev.ecal)
    x, y, z = schema.cell_position(h.layer.to_numpy(), h.module.to_numpy(), h.cell.to_numpy())
    np.testing.assert_allclose(x, h.x.to_numpy(), atol=1e-3)
    np.testing.assert_allclose(y, h.y.to_numpy(), atol=1e-3)
    np.testing.assert_allclose(z, h.z.to_numpy(), atol=1e-3)
    packed = schema.pack_id(h.layer.to_numpy(), h.module.to_numpy(), h.cell.to_numpy())
    assert (packed == h.id.to_numpy()).all()


def test_event_without_hits_is_kept_empty():
    ev = reader.read_events(DATA / "ldmx_split_2e.root")
    counts = ak.num(ev.ecal).tolist()
    assert counts[2] == 0 and min(counts[:2] + counts[3:]) > 0


def test_missing_pass_lists_the_passes_found():
    with pytest.raises(
        SchemaError, match=r"EcalRecHits_reco.*passes of EcalRecHits in the file: \['sim'\]"
    ):
        reader.read_events(DATA / "ldmx_split_2e.root", "reco")


def test_id_outside_the_geometry_names_entry_and_value():
    with pytest.raises(SchemaError, match=r"entry 1: EcalRecHits id_ 340787200 .* layer 40"):
        reader.read_events(DATA / "ldmx_badid_1e.root")


def test_sources_by_pattern_glob_and_mapping(tmp_path):
    by_pattern = reader.resolve_sources(str(DATA / "ldmx_split_{n}e.root"), [2, 3])
    assert by_pattern == {n: [DATA / f"ldmx_split_{n}e.root"] for n in (2, 3)}
    for n in (2, 3):
        for part in ("a", "b"):
            shutil.copy(DATA / f"ldmx_split_{n}e.root", tmp_path / f"run_{part}_{n}e.root")
    by_glob = reader.resolve_sources(str(tmp_path / "run_*_{n}e.root"), [2, 3])
    assert [p.name for p in by_glob[3]] == ["run_a_3e.root", "run_b_3e.root"]
    mapping = ECalConfig(
        data_path={"2": str(DATA / "ldmx_split_2e.root"), "3": str(DATA / "ldmx_split_3e.root")},
        multiplicities=[2, 3],
    ).data_path
    assert reader.resolve_sources(mapping, [2, 3]) == by_pattern
    with pytest.raises(FileNotFoundError, match="4 electron"):
        reader.resolve_sources(str(DATA / "ldmx_split_{n}e.root"), [2, 4])


def test_simulated_flat_branches_read_through_the_same_mapping(tmp_path):
    files = sim.write_sample(tmp_path, 30, seed=3, multiplicities=(2,))
    t = uproot.open(files[2])[schema.TREE]
    assert "EcalRecHits_sim_energy_" in t.keys(recursive=False)  # flat names, not split objects
    ev = reader.read_events(files[2])
    raw = t["EcalRecHits_sim_energy_"].array()
    assert ak.all(ev.ecal.energy == raw)
    assert ak.all(ev.ts.x == t["TrigScintScoringPlaneHits_sim_x_"].array())
    chunks = list(reader.read_chunks(files[2], entry_start=5, entry_stop=27, step_size=10))
    assert [len(c) for c in chunks] == [10, 10, 2]
    assert ak.all(ak.concatenate(chunks).ecal.energy == raw[5:27])


def test_pipeline_on_root_written_files(tmp_path):
    """The chapter's streamed summaries run unchanged on the ROOT fixtures: the label is the
    file's multiplicity, the scintillator bars are the file's reconstructed ones."""
    cfg = ECalConfig(
        data_path=str(DATA / "ldmx_split_{n}e.root"),
        multiplicities=[2, 3],
        block=1,
        out_dir=str(tmp_path),
    )
    s = steps.summaries(cfg, progress=False)
    n = np.concatenate([s[k]["n"] for k in ("train", "val", "test")])
    hits = np.concatenate([s[k]["n_hits"] for k in ("train", "val", "test")])
    assert sorted(n.tolist()) == [2] * 5 + [3] * 3
    expected = [
        e["n_EcalRecHits"]
        for f in ("2e", "3e")
        for e in EXPECTED["files"][f"ldmx_split_{f}.root"]["events"]
    ]
    assert sorted(hits.tolist()) == sorted(expected)
    assert s.info["empty"] == {
        k: int((s[k]["n_hits"] == 0).sum()) for k in ("train", "val", "test")
    }
    assert sum(s.info["empty"].values()) == 1
    bars = np.concatenate([s[k]["ts_bars"] for k in ("train", "val", "test")])
    expected_bars = [
        len(e["TrigScintRecHits_barID_"])
        for f in ("2e", "3e")
        for e in EXPECTED["files"][f"ldmx_split_{f}.root"]["events"]
    ]
    assert sorted(bars.tolist()) == sorted(expected_bars)
