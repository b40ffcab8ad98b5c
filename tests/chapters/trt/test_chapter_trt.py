"""TRT reader, features, configuration and cached steps on tiny simulated samples."""

from __future__ import annotations

import hashlib
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from hepnb import cli, evaluate, io
from hepnb.chapters import base
from hepnb.chapters import trt as chapter
from hepnb.chapters.trt import reader, schema, sim
from hepnb.runs import ConfigError

N_TRACKS = 1500  # per tree: 3000 MC tracks, 1800 for training


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return sim.generate(
        tmp_path_factory.mktemp("s") / "trt.root", n_tracks=500, seed=5, progress=False
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """One trained run folder (hidden 64, lr 2e-3, 1 epoch), made standalone by load_scores."""
    cfg = chapter.Config(out_dir=str(tmp_path_factory.mktemp("run")), n_tracks=N_TRACKS, epochs=1)
    scores = chapter.load_scores(cfg, progress=False)
    return {"cfg": cfg, "scores": scores}


def _folders(out: Path, name: str) -> list[Path]:
    return sorted(out.glob(f"{name}-*"))


def _digest(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha1(path.read_bytes()).hexdigest()


# --- reader ----------------------------------------------------------------------------------
def test_features_equal_file_values(sample):
    arrays = reader.load(sample, "electron_mc", "muon_mc")
    ref = uproot.open(sample)["muon_mc"].arrays(["hit_tot", "hit_HitR", "p", "nHThits", "nTRThits"])
    assert len(arrays) == 1000 and arrays["y"].to_list() == [1] * 500 + [0] * 500
    items, offsets = reader.hit_features(arrays)
    k = 500 + 7  # the 8th muon
    seq = items[offsets[k] : offsets[k + 1]]
    tot, hit_r = schema.HIT_FEATURES.index("hit_tot"), schema.HIT_FEATURES.index("hit_HitR")
    assert np.array_equal(seq[:, tot], ref["hit_tot"][7].to_numpy())
    assert np.array_equal(seq[:, hit_r], ref["hit_HitR"][7].to_numpy())
    tf = reader.track_features(arrays)
    assert tf[k, 1] == pytest.approx(np.log10(ref["p"][7]), rel=1e-6)
    assert tf[k, 5] == pytest.approx(ref["nHThits"][7] / ref["nTRThits"][7], rel=1e-6)
    assert ((tf[:, 6] >= 0) & (tf[:, 6] <= 1)).all() and tf[:, 6].mean() > 0.5  # PHF


def test_drift_radius_inverts_rt_relation():
    r = np.linspace(0, 2, 11)
    c0, c1, c2 = schema.RT_COEFFICIENTS
    assert np.allclose(reader.drift_radius(c0 + c1 * r + c2 * r**2), r)


def _tree(hits: ak.Array) -> dict:
    """A tree with the feature branches: flat ones all 1, every ``hit_*`` branch ``hits``."""
    return {
        b: hits if b.startswith("hit_") else np.ones(len(hits), dtype=np.float32)
        for b in schema.FEATURE_BRANCHES
    }


def test_tracks_without_hits_are_dropped_and_counted(tmp_path, caplog):
    hits = ak.Array([[1.0] * 6, [], [2.0] * 3, [3.0] * 7])
    path = io.write_root(
        tmp_path / "z.root",
        {"electron_mc": _tree(hits), "muon_mc": _tree(hits)},
        jagged_groups={"hit_": schema.HIT_COUNTER},
    )
    arrays = reader.load(path)
    with caplog.at_level("WARNING"):
        ds = reader.to_dataset(arrays, min_hits=5)
    assert len(ds) == 4 and "dropped 4 of 8 tracks" in caplog.text
    assert (ds.offsets[1:] - ds.offsets[:-1]).tolist() == [6, 7, 6, 7]


def test_hit_branches_of_different_lengths_are_named(tmp_path):
    tree = _tree(ak.Array([[1.0] * 6, [2.0] * 7]))
    tree["hit_tot"] = ak.Array([[1.0] * 6, [2.0] * 5])
    path = tmp_path / "bad_hits.root"
    types = {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in tree.items()}
    with uproot.recreate(path) as f:  # one counter per jagged branch, so the lengths may differ
        for name in ("electron_mc", "muon_mc"):
            f.mktree(name, types)
            f[name].extend(tree)
    with pytest.raises(io.SchemaError, match=r"bad_hits\.root: tree 'electron_mc': hit branch"):
        reader.read_trees(path)


def test_real_ntuple_missing_branch_is_named(tmp_path):
    path = io.write_root(
        tmp_path / "bad.root", {"electron_mc": {"p": np.ones(3)}, "muon_mc": {"p": np.ones(3)}}
    )
    cfg = chapter.Config(out_dir=str(tmp_path / "run"), data_path=str(path))
    with pytest.raises(io.SchemaError, match=r"bad\.root: tree 'electron_mc' lacks branch\(es\)"):
        chapter.prepare(cfg, progress=False)


def test_missing_data_path_is_named(tmp_path):
    cfg = chapter.Config(out_dir=str(tmp_path), data_path="/nope.root")
    with pytest.raises(FileNotFoundError, match=r"data_path='/nope\.root'"):
        chapter.sample(cfg)


def test_real_ntuple_glob_without_probe_trees(tmp_path, caplog):
    """A real sample (``data_path``, here a glob over two files): no simulator, no optimum,
    and without tag-and-probe trees no data set."""
    for i in (1, 2):
        sim.generate(tmp_path / f"real_{i}.root", n_tracks=200, seed=i, data=False, progress=False)
    cfg = chapter.Config(out_dir=str(tmp_path / "run"), data_path=str(tmp_path / "real_*.root"))
    with caplog.at_level("WARNING"):
        p = chapter.load_prepared(cfg, progress=False)
    assert "no 'data' test set" in caplog.text
    assert not p.simulated and p.data is None and p.counts["mc_tracks"] == 1200  # e, μ, π
    assert "data" not in p.baselines and "optimum" not in p.baselines["test"]
    assert {"eProbHT", "region", "occ"} <= set(p.baselines["test"])
    assert p.info["source"] == [str(tmp_path / "real_1.root"), str(tmp_path / "real_2.root")]
    assert not _folders(tmp_path / "run", "sample")  # nothing simulated


# --- configuration and registry ----------------------------------------------------------------
def test_configuration_defaults_and_registry_entry():
    assert chapter.Config is chapter.TRTConfig
    assert chapter.Config.defaults() == {
        "seed": 0,
        "data_path": "",
        "out_dir": "runs/trt",
        "device": "auto",
        "n_tracks": 20_000,
        "min_hits": 5,
        "epochs": 10,
        "batch_size": 256,
        "lr": 2e-3,
        "hidden": 64,
    }
    c = chapter.CHAPTER
    assert (c.name, c.experiment, c.headline) == ("trt", "ATLAS", "roc_mc_rej90")
    assert c.notebooks == ("explore_trt", "preprocess_trt", "train_trt", "roc_trt")
    assert c.preset("reduced").to_dict() == {
        **chapter.Config.defaults(),
        "n_tracks": 20_000,
        "epochs": 4,
    }
    assert c.preset("tiny").n_tracks == 3000 and c.preset("tiny").epochs == 2
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epohcs'\]"):
        chapter.Config.from_dict({"epohcs": 3})
    with pytest.raises(ConfigError, match="lr=0"):
        chapter.Config(lr=0)


def test_generate_through_the_cli(tmp_path, capsys):
    out = tmp_path / "g.root"
    argv = ["generate", "trt", "--n-tracks", "50", "--seed", "2", "--no-data", "--out", str(out)]
    assert cli.main(argv) == 0
    assert str(out) in capsys.readouterr().out
    f = uproot.open(out)
    assert f["pion_mc"].num_entries == 50 and "muon_probes" not in f


# --- cached steps ------------------------------------------------------------------------------
def test_standalone_scores_model_and_training_split_scaling(run):
    cfg, scores = run["cfg"], run["scores"]
    out = Path(cfg.out_dir)
    assert set(scores) == {"val", "test", "data", "pion_val", "pion_test"}
    names = {"eProbHT", "ToT", "combined", "lstm_ht", "lstm", "lstm_pion", "optimum"}
    assert {"y", "w", "region", "occ"} | names <= set(scores["test"])
    assert len(scores["test"]["y"]) == pytest.approx(0.2 * 2 * N_TRACKS, abs=3)
    folders = ("sample", "dataset", "lstm", "lstm_ht", "lstm_pion")
    assert [len(_folders(out, n)) for n in folders] == [1, 1, 1, 1, 1]
    assert (out / "config.yaml").exists()
    p = chapter.load_prepared(cfg, progress=False)
    assert p.step.path == chapter.dataset_step(cfg).path
    c = p.counts
    assert c["train"] + c["val"] + c["test"] == c["mc_tracks"] == 3 * N_TRACKS
    model = chapter.load_model(cfg)
    assert torch.allclose(model.hit_mean, torch.as_tensor(p.hits.mean))  # scaling inside
    train_items = base.load_split_arrays(p.step).arrays["train"]["hits"]  # e, μ and π
    assert np.allclose(p.hits.mean, train_items.mean(0), rtol=1e-4, atol=1e-4)  # train only
    assert p.hits.names == schema.HIT_FEATURES and p.tracks.names == schema.TRACK_FEATURES


def test_same_configuration_reuses_every_step(run):
    cfg = run["cfg"]
    lstm = chapter.lstm_step(cfg)
    before = {p: _digest(p) for p in Path(cfg.out_dir).glob("*-*/*") if p.is_file()}
    again = chapter.load_scores(cfg, progress=False)
    chapter.load_prepared(cfg, progress=False)
    assert np.array_equal(again["test"]["lstm"], run["scores"]["test"]["lstm"])
    after = {p: _digest(p) for p in before}
    assert after == before
    assert lstm.info()["epochs_run"] == 1


def test_changed_seed_makes_a_new_dataset_beside_the_old(run):
    cfg = run["cfg"]
    out = Path(cfg.out_dir)
    old = chapter.dataset_step(cfg)
    old_arrays = _digest(old / "arrays.npz")
    other = chapter.load_prepared(cfg.replace(seed=2), progress=False)
    assert other.step.path != old.path and len(_folders(out, "dataset")) == 2
    assert len(_folders(out, "sample")) == 2  # the sample depends on the seed too
    assert _digest(old / "arrays.npz") == old_arrays
    again = chapter.load_prepared(cfg, progress=False)  # the old one is still there, unchanged
    assert again.step.path == old.path
    test = run["scores"]["test"]
    assert np.array_equal(again.baselines["test"]["eProbHT"], test["eProbHT"])


def test_wider_model_trains_in_a_new_folder_and_never_loads_the_narrow_checkpoint(run, monkeypatch):
    """hidden=128 after hidden=64: a 128-wide model in a new folder beside the 64-wide one.

    (With one folder per run, the 128-wide model would resume the 64-wide checkpoint and fail
    with a size mismatch, or the narrow model's checkpoint would be deleted.)"""
    cfg = run["cfg"]
    narrow = chapter.lstm_step(cfg)
    narrow_files = {p.name: _digest(p) for p in narrow.path.glob("*.pt")}
    loaded: list[Path] = []
    real_load = torch.load

    def spy(f, *args, **kw):
        loaded.append(Path(f))
        return real_load(f, *args, **kw)

    monkeypatch.setattr(torch, "load", spy)
    wide_cfg = cfg.replace(hidden=128)
    model, history, _ = chapter.train(wide_cfg, progress=False)
    wide = chapter.lstm_step(wide_cfg)
    assert wide.path != narrow.path and wide.path.parent == narrow.path.parent
    assert not [p for p in loaded if narrow.path in p.parents]  # the 64 checkpoint never read
    assert model.lstm.hidden_size == 128 and len(history) == 1
    state = real_load(wide / "best_model.pt", weights_only=True)
    assert tuple(state["lstm.weight_hh_l0"].shape) == (4 * 128, 128)
    assert {p.name: _digest(p) for p in narrow.path.glob("*.pt")} == narrow_files
    assert chapter.load_model(cfg).lstm.hidden_size == 64  # both models stay usable
    assert chapter.load_model(wide_cfg).lstm.hidden_size == 128


def test_changed_learning_rate_starts_a_new_optimiser(run):
    cfg = run["cfg"]
    first = chapter.lstm_step(cfg)
    first_ckpt = _digest(first / "checkpoint.pt")
    slow = cfg.replace(lr=1e-3)
    _, history, _ = chapter.train(slow, progress=False)
    st = chapter.lstm_step(slow)
    assert st.path != first.path
    ckpt = torch.load(st / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] == 0 and len(history) == 1  # trained from scratch, not resumed
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3)
    assert _digest(first / "checkpoint.pt") == first_ckpt  # the first model is untouched


def test_more_epochs_resume_the_same_checkpoint(run):
    cfg = run["cfg"]
    st = chapter.lstm_step(cfg)
    first_epoch = torch.load(st / "checkpoint.pt", weights_only=False)["history"].records[0]
    longer = cfg.replace(epochs=2)
    assert chapter.lstm_step(longer).path == st.path  # epochs are not part of the key
    _, history, _ = chapter.train(longer, progress=False)
    assert len(history) == 2 and history.records[0] == first_epoch  # epoch 0 kept, 1 added
    assert st.info()["epochs_run"] == 2
    scores = chapter.load_scores(longer, progress=False)
    assert not np.array_equal(scores["test"]["lstm"], run["scores"]["test"]["lstm"])


# --- classical likelihoods, data, pions ------------------------------------------------------
def test_tot_likelihood_is_calibrated_on_the_training_split(run):
    p = chapter.load_prepared(run["cfg"], progress=False)
    ref = chapter.steps.fit_tot(p)
    test = p.sets["test"]
    test.items[:, schema.HIT_FEATURES.index("hit_tot")] *= 3.0  # spoil the test tracks
    assert np.array_equal(chapter.steps.fit_tot(p).means, ref.means)
    p.sets["train"].items[:, schema.HIT_FEATURES.index("hit_tot")] *= 1.5
    assert not np.allclose(chapter.steps.fit_tot(p).means, ref.means)


def test_combined_likelihood_beats_each_part(run):
    s = run["scores"]["test"]
    auc = {k: evaluate.auc(s["y"], s[k]) for k in ("eProbHT", "ToT", "combined")}
    assert auc["combined"] >= max(auc["eProbHT"], auc["ToT"]) - 0.002
    assert auc["ToT"] > 0.6  # the ToT carries information of its own


def test_data_weights_are_used(run):
    d = run["scores"]["data"]
    assert d["w"].min() < 0  # sWeights: background among the probes
    weighted = evaluate.rejection_at(d["y"], d["eProbHT"], 0.9, d["w"]).rejection
    unweighted = evaluate.rejection_at(d["y"], d["eProbHT"], 0.9).rejection
    assert weighted != pytest.approx(unweighted, rel=0.02)
    assert {"optimum", "optimum_mc"} <= set(d)  # the bound on data, and the MC-calibrated one


def test_pion_rejection_is_reported(run):
    pi = run["scores"]["pion_test"]
    assert set(np.unique(pi["y"])) == {0.0, 1.0}
    for name in ("eProbHT", "combined", "lstm", "lstm_pion", "optimum"):
        assert np.isfinite(evaluate.rejection_at(pi["y"], pi[name], 0.9).rejection)
