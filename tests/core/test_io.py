from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepnb import io


@pytest.fixture
def small_root(tmp_path):
    hits = ak.Array([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]])
    path = tmp_path / "small.root"
    io.write_root(
        path,
        {
            "electron_mc": {"p": np.array([10.0, 20.0, 30.0]), "hit_tot": hits, "hit_L": hits * 2},
            "kalman_validator/kalman_ip_tree": {"ghost": np.array([0, 1, 1])},
        },
        jagged_groups={"hit_": "nTRThitsVec"},
    )
    return path


def test_write_then_read_back_values(small_root):
    arr = io.read_tree(small_root, "electron_mc", ["p", "hit_tot", "hit_L"])
    assert arr["p"].tolist() == [10.0, 20.0, 30.0]
    assert arr["hit_tot"].tolist() == [[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]]
    assert arr["hit_L"].tolist() == [[2.0, 4.0], [6.0], [8.0, 10.0, 12.0]]
    t = uproot.open(small_root)["electron_mc"]
    assert t["nTRThitsVec"].array().tolist() == [2, 1, 3]  # shared counter
    assert io.read_tree(small_root, "kalman_validator/kalman_ip_tree", ["ghost"])[
        "ghost"
    ].tolist() == [0, 1, 1]


def test_chunked_iteration_covers_file(small_root):
    chunks = list(io.iterate(small_root, "electron_mc", ["p"], step_size=2))
    assert [len(c) for c in chunks] == [2, 1]
    assert np.concatenate([c["p"].to_numpy() for c in chunks]).tolist() == [10.0, 20.0, 30.0]


def test_entry_range(small_root):
    assert io.read_tree(small_root, "electron_mc", ["p"], entry_start=1)["p"].tolist() == [
        20.0,
        30.0,
    ]


def test_missing_tree_names_file_and_trees(small_root):
    with pytest.raises(io.SchemaError, match=r"small\.root: no tree 'muon_mc'.*electron_mc"):
        io.read_tree(small_root, "muon_mc", ["p"])


def test_missing_branch_names_branch(small_root):
    with pytest.raises(
        io.SchemaError, match=r"tree 'electron_mc' lacks branch\(es\) \['eProbHT'\]"
    ):
        io.read_tree(small_root, "electron_mc", ["p", "eProbHT"])


def test_truncated_file_is_reported(small_root, tmp_path):
    bad = tmp_path / "trunc.root"
    bad.write_bytes(small_root.read_bytes()[:700])
    with pytest.raises(io.SchemaError, match=r"trunc\.root"):
        io.read_tree(bad, "electron_mc", ["p"])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.root"):
        io.read_tree(tmp_path / "nope.root", "t", ["x"])


def test_empty_tree_rejected_unless_allowed(tmp_path):
    path = io.write_root(tmp_path / "e.root", {"t": {"x": np.zeros(0)}})
    with pytest.raises(io.SchemaError, match="empty"):
        io.read_tree(path, "t", ["x"])
    assert len(io.read_tree(path, "t", ["x"], allow_empty=True)) == 0


def test_nan_in_feature_is_reported(tmp_path):
    path = io.write_root(
        tmp_path / "n.root", {"t": {"x": np.array([1.0, np.nan]), "y": np.array([np.inf, 1.0])}}
    )
    with pytest.raises(io.SchemaError, match="branch 'x' holds 1 NaN/inf"):
        io.read_tree(path, "t", ["x"])
    assert len(io.read_tree(path, "t", ["x", "y"], finite=False)) == 2


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.root"
    with pytest.raises(ValueError, match="differ in length"):
        io.write_root(target, {"t": {"a": np.zeros(3), "b": np.zeros(4)}})
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_on_interrupt(tmp_path):
    target = tmp_path / "m.json"
    io.atomic_write_json(target, {"a": 1})
    with pytest.raises(KeyboardInterrupt), io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text().strip() == '{\n  "a": 1\n}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_save_load_arrays_roundtrip(tmp_path):
    a = np.arange(6).reshape(2, 3)
    io.save_arrays(tmp_path / "a.npz", a=a, b=np.ones(2))
    back = io.load_arrays(tmp_path / "a.npz")
    assert np.array_equal(back["a"], a) and back["b"].tolist() == [1.0, 1.0]
