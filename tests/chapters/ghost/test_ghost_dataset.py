"""Ghost-track dataset step: NaN removal, split, balancing, normalisation, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hepnb import io
from hepnb.chapters import ghost as ghost_chapter
from hepnb.features import ghost as gf

FEATS = gf.feature_names("matching")


def _ntuple(path, n=2000, ghost_fraction=0.2, n_nan=7, seed=0, drop=(), ghost=None):
    rng = np.random.default_rng(seed)
    data = {f: rng.lognormal(0.0, 1.0, n).astype(np.float32) for f in FEATS if f not in drop}
    data["ghost"] = (
        (rng.random(n) < ghost_fraction).astype(np.int32)
        if ghost is None
        else np.full(n, ghost, np.int32)
    )
    data["chi2"][data["ghost"] == 1] *= 5  # ghosts fit worse
    data["chi2"][rng.choice(n, n_nan, replace=False)] = np.nan
    data["p"] = rng.uniform(2e3, 1e5, n).astype(np.float32)
    io.write_root(path, {gf.TREE: data})
    return data


@pytest.fixture
def ntuple(tmp_path):
    path = tmp_path / "ghost_matching.root"
    return path, _ntuple(path)


def test_nan_rows_removed_and_counted(ntuple, tmp_path):
    path, data = ntuple
    nt = gf.read_ntuple(path, "matching")
    assert nt.n_nan == 7 and len(nt.x) == 2000 - 7
    assert np.isfinite(nt.x).all()
    np.testing.assert_array_equal(nt.ghost, data["ghost"][nt.row])
    info = gf.make_dataset(path, tmp_path / "out", "matching")
    assert info.summary["n_nan_removed"] == 7 and info.summary["n_used"] == 1993


def test_split_balance_and_reproducibility(ntuple, tmp_path):
    path, data = ntuple
    a = gf.make_dataset(path, tmp_path / "a", "matching", seed=3)
    b = gf.make_dataset(path, tmp_path / "b", "matching", seed=3)
    c = gf.make_dataset(path, tmp_path / "c", "matching", seed=4)
    splits = {s: a.load(s) for s in gf.SPLITS}
    rows = [set(splits[s].row) for s in gf.SPLITS]
    assert not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])  # disjoint
    n_ghost = int(np.nansum(data["ghost"][np.isfinite(data["chi2"])]))
    # stratified 60/20/20 of the ghosts; real tracks undersampled to the same number
    assert splits["train"].y.sum() == pytest.approx(0.6 * n_ghost, abs=2)
    for s in ("train", "valid"):
        assert splits[s].y.mean() == 0.5
    test = splits["test"]
    assert len(test) == pytest.approx(0.2 * 1993, abs=2)
    assert test.y.mean() == pytest.approx(data["ghost"].mean(), abs=0.03)  # natural fraction
    np.testing.assert_array_equal(splits["train"].x, b.load("train").x)
    assert not np.array_equal(splits["train"].row, c.load("train").row)
    np.testing.assert_array_equal(test.kin["p"], data["p"][test.row].astype(np.float64))


def test_weight_balancing_keeps_all_tracks(ntuple, tmp_path):
    path, _ = ntuple
    info = gf.make_dataset(path, tmp_path, "matching", balance="weight")
    tr = info.load("train")
    assert len(tr) == pytest.approx(0.6 * 1993, abs=2)
    assert tr.w[tr.y == 1].sum() == pytest.approx(tr.w[tr.y == 0].sum(), rel=1e-5)
    assert tr.w.mean() == pytest.approx(1.0, rel=1e-5)
    assert info.load("test").w is None


def test_minmax_normalisation_json(ntuple, tmp_path):
    path, _ = ntuple
    info = gf.make_dataset(path, tmp_path, "matching", normalize=True, fraction=0.5)
    tr = info.load("train")
    assert tr.x.min() == 0.0 and tr.x.max() == pytest.approx(1.0)
    assert np.allclose(tr.x.min(0), 0) and np.allclose(tr.x.max(0), 1)
    d = json.loads(info.normalization_path.read_text())
    assert d["features"] == list(FEATS)
    raw = gf.read_ntuple(path, "matching")
    pos = np.searchsorted(raw.row, tr.row)
    expect = (raw.x[pos] - np.array(d["offset"])) / np.array(d["scale"])
    np.testing.assert_allclose(tr.x, expect, atol=1e-6)
    assert info.summary["n_used"] == round(0.5 * 1993)


def test_tail_compression_and_its_torch_module(ntuple, tmp_path):
    path, _ = ntuple
    info = gf.make_dataset(
        path, tmp_path, "matching", normalize=True, tail_scales={"chi2": 1.0, "pr_match_dx": 0.1}
    )
    norm = gf.load_normalization(tmp_path, "matching")
    raw = ghost_chapter.raw_features(info, "valid")
    x = info.load("valid").x
    np.testing.assert_allclose(norm.apply(raw), x, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(norm.module()(torch.as_tensor(raw)).numpy(), x, atol=1e-5)
    # the compressed chi2 is spread over [0, 1] instead of crowding near 0
    i = FEATS.index("chi2")
    assert np.median(info.load("train").x[:, i]) > 0.2


def test_feature_plot(ntuple, tmp_path):
    path, _ = ntuple
    gf.make_dataset(path, tmp_path, "matching", plot=True)
    assert (tmp_path / "ghost_matching_features.png").stat().st_size > 10_000


# --------------------------------------------------------------------------------------------
# bad input


def test_wrong_track_value(ntuple, tmp_path):
    path, _ = ntuple
    with pytest.raises(ValueError, match=r"track='downstream' \(--track\).*forward.*matching"):
        gf.make_dataset(path, tmp_path, "downstream")


def test_missing_branch_names_branch_and_suggests_track(ntuple, tmp_path):
    path, _ = ntuple
    with pytest.raises(io.SchemaError, match=r"pr_forward_quality.*--track matching"):
        gf.make_dataset(path, tmp_path, "forward")
    other = tmp_path / "broken.root"
    _ntuple(other, drop=("pr_seed_chi2",))
    with pytest.raises(io.SchemaError, match=r"broken.root.*\['pr_seed_chi2'\]"):
        gf.make_dataset(other, tmp_path, "matching")


@pytest.mark.parametrize(("value", "what"), [(1, "only ghosts"), (0, "no ghost")])
def test_single_class_sample(tmp_path, value, what):
    path = tmp_path / "one_class.root"
    _ntuple(path, ghost=value)
    with pytest.raises(ValueError, match=rf"one_class.root.*{what}.*need both"):
        gf.make_dataset(path, tmp_path, "matching")


def test_bad_options(ntuple, tmp_path):
    path, _ = ntuple
    with pytest.raises(ValueError, match="fraction=0"):
        gf.make_dataset(path, tmp_path, "matching", fraction=0)
    with pytest.raises(ValueError, match="balance='yes'"):
        gf.make_dataset(path, tmp_path, "matching", balance="yes")
    with pytest.raises(ValueError, match=r"tail_scales.*pr_forward_quality"):
        gf.make_dataset(
            path, tmp_path, "matching", normalize=True, tail_scales={"pr_forward_quality": 1.0}
        )
    with pytest.raises(FileNotFoundError, match="no such ROOT file"):
        gf.make_dataset(tmp_path / "nope.root", tmp_path, "matching")
