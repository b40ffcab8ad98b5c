"""Ghost-track reader and dataset step: NaN removal, split by event, balancing, scaling,
cached steps, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from hepnb import io
from hepnb.chapters import ghost as chapter
from hepnb.chapters.ghost import schema
from hepnb.runs import ConfigError

FEATS = schema.feature_names("matching")


@pytest.fixture
def ntuple(write_ntuple, tmp_path):
    path = tmp_path / "ghost_matching.root"
    return path, write_ntuple(path)


def _cfg(tmp_path, path, **kw) -> chapter.Config:
    return chapter.Config(out_dir=str(tmp_path / "run"), data_path=str(path), **kw)


def test_nan_rows_removed_and_counted(ntuple, tmp_path):
    path, data = ntuple
    nt = chapter.read_ntuple(path, "matching")
    assert nt.n_nan == 7 and len(nt.x) == 2000 - 7
    assert np.isfinite(nt.x).all() and nt.has_events
    np.testing.assert_array_equal(nt.ghost, data["ghost"][nt.row])
    np.testing.assert_array_equal(nt.event, data["event"][nt.row])
    ds = chapter.dataset(_cfg(tmp_path, path))
    assert ds.info["n_nan_removed"] == 7 and ds.info["n_used"] == 1993
    assert sum(ds.info["counts"].values()) == 1993


def test_candidates_of_one_event_never_straddle_splits(ntuple, tmp_path):
    path, _ = ntuple
    ds = chapter.dataset(_cfg(tmp_path, path, seed=3))
    events = {s: set(ds.arrays[s]["event"].tolist()) for s in ("train", "val", "test")}
    assert not (events["train"] & events["val"])
    assert not (events["train"] & events["test"])
    assert not (events["val"] & events["test"])
    rows = [set(ds.arrays[s]["row"].tolist()) for s in ("train", "val", "test")]
    assert sum(len(r) for r in rows) == len(set().union(*rows)) == 1993  # disjoint, complete
    # whole events, so the fractions are 60/20/20 only roughly
    assert ds.info["counts"]["train"] == pytest.approx(0.6 * 1993, rel=0.1)


def test_split_reproducible_and_seeded(ntuple, tmp_path):
    path, data = ntuple
    a = chapter.dataset(_cfg(tmp_path / "a", path, seed=3))
    b = chapter.dataset(_cfg(tmp_path / "b", path, seed=3))
    c = chapter.dataset(_cfg(tmp_path / "c", path, seed=4))
    np.testing.assert_array_equal(a.arrays["train"]["x"], b.arrays["train"]["x"])
    assert not np.array_equal(a.arrays["train"]["row"], c.arrays["train"]["row"])
    test = a.arrays["test"]
    np.testing.assert_array_equal(test["p"], data["p"][test["row"]].astype(np.float64))
    assert test["y"].mean() == pytest.approx(data["ghost"].mean(), abs=0.05)  # natural


def test_weight_balancing_keeps_all_tracks(ntuple, tmp_path):
    path, _ = ntuple
    ds = chapter.dataset(_cfg(tmp_path, path, balance="weight"))
    for split in ("train", "val"):
        a = ds.arrays[split]
        assert a["w"][a["y"] == 1].sum() == pytest.approx(a["w"][a["y"] == 0].sum(), rel=1e-5)
        assert a["w"].mean() == pytest.approx(1.0, rel=1e-5)
    assert "w" not in ds.arrays["test"]
    assert sum(ds.info["counts"].values()) == 1993


def test_undersampling_balances_train_and_val_only(ntuple, tmp_path):
    path, _ = ntuple
    ds = chapter.dataset(_cfg(tmp_path, path, balance="undersample"))
    for split in ("train", "val"):
        assert ds.arrays[split]["y"].mean() == 0.5 and "w" not in ds.arrays[split]
        cc = ds.info["class_counts"][split]
        assert cc["0"] == cc["1"]
    assert 0.1 < ds.arrays["test"]["y"].mean() < 0.3


def test_scaler_minmax_with_tail_compression_and_its_module(ntuple, tmp_path):
    path, _ = ntuple
    ds = chapter.dataset(_cfg(tmp_path, path, fraction=0.5))
    assert ds.info["n_used"] == round(0.5 * 1993)
    x = ds.scaled("train")
    assert np.allclose(x.min(0), 0) and np.allclose(x.max(0), 1, atol=1e-6)
    assert ds.scaler.names == FEATS and ds.scaler.kind == "minmax"
    i = FEATS.index("chi2")
    assert ds.scaler.log_scale[i] == schema.TAIL_SCALES["chi2"]
    chi2 = ds.arrays["train"]["x"][:, i]
    plain = (chi2 - chi2.min()) / (chi2.max() - chi2.min())
    assert np.median(x[:, i]) > 2 * np.median(plain)  # the bulk is no longer squeezed near 0
    raw = ds.arrays["val"]["x"]
    with torch.no_grad():
        folded = ds.scaler.module()(torch.as_tensor(raw)).numpy()
    np.testing.assert_allclose(folded, ds.scaled("val"), atol=1e-5)


def test_dataset_step_is_cached_by_its_fields(ntuple, tmp_path):
    path, _ = ntuple
    cfg = _cfg(tmp_path, path)
    first = chapter.dataset(cfg)
    again = chapter.dataset(cfg.replace(epochs=3, lr=1e-2, n_trials=0))  # not dataset fields
    assert again.step.path == first.step.path and again.step.done
    other = chapter.dataset(cfg.replace(balance="undersample"))
    assert other.step.path != first.step.path


def test_no_event_branch_splits_candidates_one_by_one(write_ntuple, tmp_path, caplog):
    path = tmp_path / "no_events.root"
    write_ntuple(path, events=False)
    with caplog.at_level(logging.WARNING):
        nt = chapter.read_ntuple(path, "matching")
    assert not nt.has_events and "no 'event' branch" in caplog.text
    assert len(np.unique(nt.event)) == len(nt)


def test_several_files_keep_their_events_apart(write_ntuple, tmp_path):
    for i in range(2):
        write_ntuple(tmp_path / f"part{i}.root", n=500, seed=i)
    nt = chapter.read_ntuple(sorted(tmp_path.glob("part*.root")), "matching")
    assert nt.n_read == 1000
    first = nt.row < 500
    assert not set(nt.event[first]) & set(nt.event[~first])  # same numbers, other files
    ds = chapter.dataset(_cfg(tmp_path, tmp_path / "part*.root"))
    assert len(ds.info["source"]) == 2


def test_feature_plot(ntuple):
    path, _ = ntuple
    nt = chapter.read_ntuple(path, "matching")
    fig = chapter.plot_features(nt.x, nt.ghost, nt.features)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == len(FEATS)


# --------------------------------------------------------------------------------------------
# bad input


def test_wrong_track_value(ntuple, tmp_path):
    path, _ = ntuple
    with pytest.raises(ValueError, match=r"track='downstream' \(--track\).*forward.*matching"):
        chapter.read_ntuple(path, "downstream")
    with pytest.raises(ConfigError, match=r"track='downstream'.*forward.*matching"):
        _cfg(tmp_path, path, track="downstream")


def test_missing_branch_names_branch_and_suggests_track(write_ntuple, ntuple, tmp_path):
    path, _ = ntuple
    with pytest.raises(io.SchemaError, match=r"pr_forward_quality.*--track matching"):
        chapter.dataset(_cfg(tmp_path, path, track="forward"))
    other = tmp_path / "broken.root"
    write_ntuple(other, drop=("pr_seed_chi2",))
    with pytest.raises(io.SchemaError, match=r"broken.root.*\['pr_seed_chi2'\]"):
        chapter.read_ntuple(other, "matching")


@pytest.mark.parametrize(("value", "what"), [(1, "only ghosts"), (0, "no ghost")])
def test_single_class_sample(write_ntuple, tmp_path, value, what):
    path = tmp_path / "one_class.root"
    write_ntuple(path, ghost=value)
    with pytest.raises(ValueError, match=rf"one_class.root.*{what}.*need both"):
        chapter.dataset(_cfg(tmp_path, path))


def test_bad_options(write_ntuple, ntuple, tmp_path):
    path, _ = ntuple
    with pytest.raises(ConfigError, match="fraction=0"):
        _cfg(tmp_path, path, fraction=0)
    with pytest.raises(ConfigError, match="balance='yes'"):
        _cfg(tmp_path, path, balance="yes")
    with pytest.raises(ConfigError, match="network=2"):
        _cfg(tmp_path, path, network=2)
    with pytest.raises(FileNotFoundError, match=r"data_path=.*nope\.root.*no such file"):
        chapter.dataset(_cfg(tmp_path, tmp_path / "nope.root"))
    with pytest.raises(ValueError, match=r"the (train|val|test) split .* lacks class"):
        tiny = tmp_path / "tiny.root"
        write_ntuple(tiny, n=40, ghost_fraction=0.05, n_nan=0, seed=1)
        chapter.dataset(_cfg(tmp_path, tiny))
