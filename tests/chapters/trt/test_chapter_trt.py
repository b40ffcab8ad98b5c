"""TRT reader, features and chapter steps on tiny simulated samples."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from hepnb import cli, io
from hepnb.chapters import trt as chapter
from hepnb.features import trt as feat
from hepnb.sim import trt as sim


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sim.generate(
        tmp_path_factory.mktemp("s") / "trt.root", n_tracks=500, seed=5, progress=False
    )


def test_features_equal_file_values(sample):
    arrays = feat.load(sample, "electron_mc", "muon_mc")
    ref = uproot.open(sample)["muon_mc"].arrays(["hit_tot", "hit_HitR", "p", "nHThits", "nTRThits"])
    assert len(arrays) == 1000 and arrays["y"].to_list() == [1] * 500 + [0] * 500
    items, offsets = feat.hit_features(arrays)
    k = 500 + 7  # the 8th muon
    seq = items[offsets[k] : offsets[k + 1]]
    assert np.array_equal(seq[:, feat.HIT_FEATURES.index("hit_tot")], ref["hit_tot"][7].to_numpy())
    assert np.array_equal(
        seq[:, feat.HIT_FEATURES.index("hit_HitR")], ref["hit_HitR"][7].to_numpy()
    )
    tf = feat.track_features(arrays)
    assert tf[k, 1] == pytest.approx(np.log10(ref["p"][7]), rel=1e-6)
    assert tf[k, 5] == pytest.approx(ref["nHThits"][7] / ref["nTRThits"][7], rel=1e-6)
    assert ((tf[:, 6] >= 0) & (tf[:, 6] <= 1)).all() and tf[:, 6].mean() > 0.5  # PHF


def test_drift_radius_inverts_rt_relation():
    r = np.linspace(0, 2, 11)
    c0, c1, c2 = feat.RT_COEFFICIENTS
    assert np.allclose(feat.drift_radius(c0 + c1 * r + c2 * r**2), r)


def test_tracks_without_hits_are_dropped_and_counted(tmp_path, caplog):
    hits = ak.Array([[1.0] * 6, [], [2.0] * 3, [3.0] * 7])
    tracks = {
        b: np.ones(4, dtype=np.float32) for b in feat.FEATURE_BRANCHES if not b.startswith("hit_")
    }
    tree = {**tracks, **{b: hits for b in feat.FEATURE_BRANCHES if b.startswith("hit_")}}
    path = io.write_root(
        tmp_path / "z.root",
        {"electron_mc": tree, "muon_mc": tree},
        jagged_groups={"hit_": "nTRThitsVec"},
    )
    arrays = feat.load(path)
    with caplog.at_level("WARNING"):
        ds = feat.to_dataset(arrays, min_hits=5)
    assert len(ds) == 4 and "dropped 4 of 8 tracks" in caplog.text
    assert (ds.offsets[1:] - ds.offsets[:-1]).tolist() == [6, 7, 6, 7]


def test_real_ntuple_missing_branch_is_named(tmp_path):
    path = io.write_root(
        tmp_path / "bad.root", {"electron_mc": {"p": np.ones(3)}, "muon_mc": {"p": np.ones(3)}}
    )
    with pytest.raises(io.SchemaError, match=r"bad\.root: tree 'electron_mc' lacks branch\(es\)"):
        chapter.prepare(tmp_path / "run", data_path=path)


def test_missing_data_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_path='/nope\.root'"):
        chapter.sample(tmp_path, data_path="/nope.root")


def test_standalone_scores_then_config_change_reprepares(tmp_path):
    scores = chapter.load_scores(tmp_path, n_tracks=300, seed=1, epochs=1, progress=False)
    assert set(scores) == {"test", "data"}
    assert {"y", "w", "lstm", "eProbHT", "optimum"} <= set(scores["test"])
    assert len(scores["test"]["y"]) == pytest.approx(0.2 * 600, abs=2)
    model = chapter.load_model(tmp_path)
    p = chapter.load_prepared(tmp_path, n_tracks=300, seed=1)
    assert torch.allclose(model.hit_mean, torch.as_tensor(p.hits.mean))  # normalisation inside
    train_items = p.train.items.numpy()
    assert np.allclose(p.hits.mean, train_items.mean(0), rtol=1e-4, atol=1e-4)  # train split only
    assert (tmp_path / "lstm" / "best_model.pt").exists()
    chapter.load_prepared(tmp_path, n_tracks=300, seed=2)  # new seed: stale model removed
    assert not (tmp_path / "lstm" / "best_model.pt").exists()
    assert not (tmp_path / "lstm" / "checkpoint.pt").exists()
    assert not (tmp_path / "trt_scores.npz").exists()
    chapter.load_scores(tmp_path, n_tracks=300, seed=2, epochs=1, progress=False)
    # scores of seed 2 exist now; asking for seed 1 remakes them instead of returning seed 2's
    again = chapter.load_scores(tmp_path, n_tracks=300, seed=1, epochs=1, progress=False)
    assert json.loads((tmp_path / "normalization.json").read_text())["config"]["seed"] == 1
    assert np.array_equal(again["test"]["eProbHT"], scores["test"]["eProbHT"])


def test_cli_generate_and_unknown_parameter(tmp_path, capsys):
    out = tmp_path / "g.root"
    assert (
        cli.main(
            ["generate", "trt", "--n-tracks", "50", "--seed", "2", "--no-data", "--out", str(out)]
        )
        == 0
    )
    assert uproot.open(out)["pion_mc"].num_entries == 50 and "muon_probes" not in uproot.open(out)
    with pytest.raises(SystemExit, match=r"unknown parameter\(s\) \['epohcs'\]"):
        cli.run_chapter("trt", "tiny", {"epohcs": 3}, tmp_path / "run")
    assert cli.parse_value("3e-3") == 3e-3 and cli.parse_value("abc") == "abc"
