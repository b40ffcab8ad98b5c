from __future__ import annotations

import numpy as np
import pytest
import torch

from hepnb import data


def make_ds(lengths, f=3, seed=0):
    rng = np.random.default_rng(seed)
    offsets = np.r_[0, np.cumsum(lengths)]
    items = rng.normal(size=(offsets[-1], f)).astype(np.float32)
    n = len(lengths)
    return (
        data.SequenceDataset(items, offsets, rng.normal(size=(n, 2)), rng.integers(0, 2, n)),
        items,
        offsets,
    )


def test_split_indices_disjoint_complete_and_seeded():
    a = data.split_indices(1000, (0.6, 0.2, 0.2), seed=3)
    assert [len(x) for x in a] == [600, 200, 200]
    assert np.array_equal(np.sort(np.concatenate(a)), np.arange(1000))
    b = data.split_indices(1000, (0.6, 0.2, 0.2), seed=3)
    c = data.split_indices(1000, (0.6, 0.2, 0.2), seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_split_stratified_keeps_class_fractions():
    y = np.r_[np.ones(300), np.zeros(700)]
    train, _val, test = data.split_indices(1000, (0.5, 0.25, 0.25), seed=0, stratify=y)
    assert y[train].mean() == pytest.approx(0.3) and y[test].mean() == pytest.approx(0.3)


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        data.split_indices(10, (0.5, 0.6))


def test_gather_padded_matches_python_loop():
    lengths = [3, 1, 5, 2]
    ds, items, offsets = make_ds(lengths)
    idx = torch.tensor([2, 0, 3])
    padded, lens = data.gather_padded(ds.items, ds.offsets, idx)
    assert padded.shape == (3, 5, 3) and lens.tolist() == [5, 3, 2]
    for b, i in enumerate(idx.tolist()):  # reference: explicit slicing
        seq = items[offsets[i] : offsets[i + 1]]
        assert np.allclose(padded[b, : len(seq)].numpy(), seq)
        assert (padded[b, len(seq) :] == 0).all()


def test_packed_batch_roundtrip_and_order():
    ds, items, offsets = make_ds([4, 2, 6])
    (packed, feats), _y, w = ds[[1, 2]]
    unpacked, lens = torch.nn.utils.rnn.pad_packed_sequence(packed, batch_first=True)
    assert lens.tolist() == [2, 6]  # input order restored
    assert np.allclose(unpacked[1, :6].numpy(), items[offsets[2] : offsets[3]])
    assert torch.equal(feats, ds.features[[1, 2]]) and w.tolist() == [1.0, 1.0]


def test_empty_sequence_rejected():
    with pytest.raises(ValueError, match="1 sequence\\(s\\) are empty"):
        data.SequenceDataset(np.zeros((3, 2)), [0, 2, 2, 3], np.zeros((3, 1)), np.zeros(3))


def test_subset_equals_indexing():
    ds, _, _ = make_ds([3, 1, 5, 2, 4])
    sub = ds.subset(np.array([4, 1]))
    (p1, f1), y1, _ = sub[[0, 1]]
    (p2, f2), y2, _ = ds[[4, 1]]
    a, _ = torch.nn.utils.rnn.pad_packed_sequence(p1, batch_first=True)
    b, _ = torch.nn.utils.rnn.pad_packed_sequence(p2, batch_first=True)
    assert torch.equal(a, b) and torch.equal(f1, f2) and torch.equal(y1, y2)


def test_standard_scaler_fit_transform_and_json(tmp_path):
    x = np.random.default_rng(0).normal(5, 2, size=(1000, 2))
    x[:, 1] = 7.0  # constant feature passes through centred
    st = data.Scaler.standard(x, names=("a", "b"))
    z = st.transform(x)
    assert abs(z[:, 0].mean()) < 1e-5 and z[:, 0].std() == pytest.approx(1, rel=1e-4)
    assert np.allclose(z[:, 1], 0)
    back = data.Scaler.load(st.save(tmp_path / "s.json"), names=("a", "b"))
    assert np.allclose(back.transform(x), z) and back.names == ("a", "b")
    assert np.allclose(back.inverse(z), x, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"s\.json.*fitted on features \['a', 'b'\]"):
        data.Scaler.load(tmp_path / "s.json", names=("a", "c"))
    with pytest.raises(ValueError, match="3 features, fitted on 2"):
        st.transform(np.zeros((4, 3)))


def test_minmax_scaler_with_signed_log_tails_inverts_and_matches_its_module():
    rng = np.random.default_rng(1)
    x = np.c_[rng.exponential(100.0, 500) * rng.choice([-1, 1], 500), rng.uniform(2, 4, 500)]
    sc = data.Scaler.minmax(x, names=("chi2", "pt"), log_scales={"chi2": 1.0})
    z = sc.transform(x)
    assert z.min(axis=0) == pytest.approx([0, 0], abs=1e-6)
    assert z.max(axis=0) == pytest.approx([1, 1], abs=1e-6)
    # the tail is compressed: the median of |chi2| sits well above the linear min-max position
    assert np.median(z[:, 0]) > 0.3
    assert np.allclose(sc.inverse(z), x, rtol=1e-4, atol=1e-3)
    with torch.no_grad():
        zt = sc.module()(torch.as_tensor(x, dtype=torch.float32)).numpy()
    assert np.allclose(zt, z, atol=1e-5)
    with pytest.raises(ValueError, match="log_scales names 'eta'"):
        data.Scaler.minmax(x, names=("chi2", "pt"), log_scales={"eta": 1.0})


def test_split_names_and_events_kept_whole():
    n = 3000
    events = np.repeat(np.arange(600), 5)
    y = (np.arange(n) % 7 == 0).astype(int)
    parts = data.split(n, (0.6, 0.2, 0.2), seed=2, stratify=y, groups=events)
    assert list(parts) == ["train", "val", "test"]
    assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(n))
    owners = {name: set(events[idx]) for name, idx in parts.items()}
    assert not owners["train"] & owners["test"] and not owners["train"] & owners["val"]
    assert abs(len(parts["train"]) / n - 0.6) < 0.03
    ungrouped = data.split(n, (0.6, 0.2, 0.2), seed=2, stratify=y)
    shared = set(events[ungrouped["train"]]) & set(events[ungrouped["test"]])
    assert shared  # without groups, events straddle the splits (what the option prevents)
    with pytest.raises(ValueError, match="groups"):
        data.split(n, groups=events[:10])


def test_batch_loader_covers_all_once():
    ds, _, _ = make_ds([2] * 10)
    torch.manual_seed(0)
    seen = torch.cat([b[1] for b in data.batch_loader(ds, 3, shuffle=True)])
    assert len(seen) == 10
    with pytest.raises(ValueError, match="batch_size"):
        data.batch_loader(ds, 0)
