"""The ttH steps on a small fixed-seed sample: the split and scaler see the right events, every
model learns above the strongest single physics variable, choices are made on validation
events, the injected friend tree holds the model's scores aligned with the ntuple, and the
YAML configuration fails clearly on bad keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from hepnb import evaluate, io
from hepnb.chapters import tth as chapter
from hepnb.cli import main
from hepnb.runs import ConfigError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    out = tmp_path_factory.mktemp("tth_steps")
    # tiny, with enough events and epochs for every network to pass the physics floor
    return chapter.CHAPTER.preset("tiny", out_dir=str(out), seed=5, n_events=5000, epochs=20)


@pytest.fixture(scope="module")
def ds(cfg):
    return chapter.dataset(cfg)


@pytest.fixture(scope="module")
def trained(cfg, ds):
    return chapter.train_all(cfg, ds)


@pytest.fixture(scope="module")
def sc(cfg, ds, trained):
    return chapter.scores(cfg, ds, trained, chapter.bdt(cfg, ds))


def test_split_is_stratified_disjoint_and_reproducible(cfg, ds):
    idx = np.concatenate([ds.index[s] for s in ("train", "val", "test")])
    assert np.array_equal(np.sort(idx), np.arange(len(ds.events)))
    for split, frac in zip(("train", "val", "test"), cfg.fractions, strict=True):
        for label in (0, 1):
            n_class = int((ds.events.label == label).sum())
            assert (ds.y(split) == label).sum() == pytest.approx(frac * n_class, abs=1)
    again = chapter.dataset(cfg)
    assert all(np.array_equal(again.index[s], ds.index[s]) for s in ds.index)


def test_scaler_is_fitted_on_the_real_training_jets(ds):
    train = ds.split("train")
    k = train.jet_features.index("jet_pt")
    real_pt = train.jets[..., k][train.mask]
    col = ds.layout.jet_columns("jet_pt")
    assert np.allclose(ds.scaler.offset[col], real_pt.mean(), rtol=1e-6)
    assert np.allclose(ds.scaler.scale[col], real_pt.std(), rtol=1e-6)
    mask_cols = slice(ds.layout.n_jets * ds.layout.n_jet_features, -ds.layout.n_event_features)
    assert np.all(ds.scaler.offset[mask_cols] == 0) and np.all(ds.scaler.scale[mask_cols] == 1)


def test_training_weights_balance_the_processes_but_keep_relative_weights(ds):
    w, y = ds.train_weight("train", "weight"), ds.y("train")
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum(), rel=1e-5)
    phys = ds.weight("train")
    sig = y == 1
    assert np.allclose(w[sig] / phys[sig], (w[sig] / phys[sig])[0], rtol=1e-4)


def test_yield_scale_turns_a_split_into_the_full_sample(ds):
    ev = ds.events
    for split in ("val", "test"):
        for label in (0, 1):
            part = ds.weight(split)[ds.y(split) == label].sum() * ds.yield_scale(split)
            total = ev.weight[ev.label == label].sum()
            assert part == pytest.approx(total, rel=0.1)


def _best_single_variable_auc(ds):
    """The strongest classical discriminant: the best single event feature, either sign."""
    test = ds.split("test")
    aucs = [
        evaluate.auc(test.label, test.event[:, i], test.weight) for i in range(test.event.shape[1])
    ]
    return max(max(a, 1 - a) for a in aucs)


def test_every_model_beats_the_best_single_physics_variable(ds, sc):
    floor = _best_single_variable_auc(ds)
    y, w = ds.y("test"), ds.weight("test")
    aucs = {name: evaluate.auc(y, s, w) for name, s in sc["test"].items()}
    assert set(aucs) == {chapter.NAMES[m] for m in chapter.MODELS}
    for name, a in aucs.items():
        assert a > floor, (name, a, floor)


def test_the_chosen_model_is_the_best_network_on_validation(cfg, ds, sc):
    chosen = chapter.choose(cfg, ds, sc["val"])
    val = chapter.validation_aucs(ds, sc["val"])
    nets = [chapter.NAMES[m] for m in chapter.NEURAL_MODELS]
    assert chapter.NAMES[chosen] == max(nets, key=val.__getitem__)
    assert chapter.choose(cfg.replace(inject="deepsets"), ds, sc["val"]) == "deepsets"


def test_significance_cut_is_chosen_on_validation_and_beats_no_cut(cfg, ds, sc):
    sig = chapter.significance(cfg, ds, sc["val"], sc["test"], n_boot=100)
    region = chapter.schema.region_label(cfg.regions[-1])
    for name in sc["test"]:
        row = sig.loc[(region, name)]
        assert row["significance_lo"] <= row["significance"] <= row["significance_hi"]
        assert row["binned_asimov"] > 0
    # in the loosest region a cut on any model helps: S/√(B + δB²) grows
    no_cut = sig.loc[region, "significance_no_cut"].iloc[0]
    assert (sig.loc[region, "significance"] > no_cut).all()


def test_injected_friend_tree_holds_the_scores_aligned(cfg, ds, trained):
    name = "mlp"
    path = chapter.export_onnx(trained[name], ds)
    friends = chapter.inject(cfg, name, path, ds)
    ev = ds.events
    with torch.no_grad():
        x = torch.as_tensor(ds.scaler.transform(ev.flat()))
        expected = torch.sigmoid(trained[name].model.eval()(x)).numpy()
    for label, process in ((1, "signal"), (0, "background")):
        ((source, friend),) = friends[process]
        both = chapter.read_with_friend(source, friend, ["nJets"])
        rows = np.flatnonzero(ev.label == label)
        rows = rows[np.argsort(ev.entry[rows])]
        assert len(both) == len(rows)
        assert np.array_equal(both["eventNumber"].to_numpy(), ev.event_number[rows])
        assert np.allclose(both[f"score_{name}"].to_numpy(), expected[rows], atol=1e-5)
        split = both["split"].to_numpy()
        assert set(np.unique(split)) == {0, 1, 2}


def test_a_misaligned_friend_is_refused(cfg, ds, trained, tmp_path):
    import uproot

    friends = chapter.inject(cfg, "mlp", chapter.export_onnx(trained["mlp"], ds), ds)
    ((source, friend),) = friends["signal"]
    t = uproot.open(friend)[chapter.schema.TREE].arrays(library="np")
    bad = tmp_path / "bad.root"
    io.write_root(bad, {chapter.schema.TREE: {k: v[::-1].copy() for k, v in t.items()}})
    with pytest.raises(ValueError, match="not aligned"):
        chapter.read_with_friend(source, bad)


def test_yaml_config_errors_name_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"n_jet": 8}))
    with pytest.raises(ConfigError, match="n_jet"):
        chapter.Config.from_yaml(bad)
    bad.write_text(yaml.safe_dump({"data_path": {"signal": "a.root"}}))
    with pytest.raises(ConfigError, match="background"):
        chapter.Config.from_yaml(bad)
    bad.write_text(yaml.safe_dump({"models": ["mlp", "xgboost"]}))
    with pytest.raises(ConfigError, match="models"):
        chapter.Config.from_yaml(bad)
    bad.write_text(yaml.safe_dump({"regions": ["6jets4b"]}))
    with pytest.raises(ConfigError, match="6jets4b"):
        chapter.Config.from_yaml(bad)


def test_convert_command_reports_a_feature_missing_from_the_file(cfg, tmp_path):
    yml = tmp_path / "cfg.yaml"
    features = [*cfg.features, "jet_tagWeightBin_DL1r_Continous"]
    yml.write_text(yaml.safe_dump({**cfg.to_dict(), "features": features}))
    with pytest.raises(SystemExit, match="jet_tagWeightBin_DL1r_Continuous"):
        main(["convert", "tth", "--config", str(yml), "--out", str(tmp_path / "x.h5")])
    assert not (tmp_path / "x.h5").exists()


def test_convert_and_inspect_commands(cfg, tmp_path, capsys):
    """`hepnb convert tth` writes the configuration's HDF5 file, equal to the step's;
    `hepnb inspect` hands it to the chapter, which lists both processes' contents."""
    yml = tmp_path / "cfg.yaml"
    yml.write_text(yaml.safe_dump(cfg.to_dict()))
    out = tmp_path / "tth.h5"
    assert main(["convert", "tth", "--config", str(yml), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    mine, steps = chapter.convert.load(out), chapter.events(cfg)
    assert np.array_equal(mine.jets, steps.jets) and np.array_equal(mine.weight, steps.weight)
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "signal" in text and "background" in text and "Mbb_MindR" in text
