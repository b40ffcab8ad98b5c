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


def test_standardizer_fit_transform_and_json():
    x = np.random.default_rng(0).normal(5, 2, size=(1000, 2))
    x[:, 1] = 7.0  # constant feature passes through centred
    st = data.Standardizer.fit(x, names=("a", "b"))
    z = st.transform(x)
    assert abs(z[:, 0].mean()) < 1e-5 and z[:, 0].std() == pytest.approx(1, rel=1e-4)
    assert np.allclose(z[:, 1], 0)
    back = data.Standardizer.from_dict(st.to_dict())
    assert np.allclose(back.transform(x), z) and back.names == ("a", "b")


def test_batch_loader_covers_all_once():
    ds, _, _ = make_ds([2] * 10)
    torch.manual_seed(0)
    seen = torch.cat([b[1] for b in data.batch_loader(ds, 3, shuffle=True)])
    assert len(seen) == 10
    with pytest.raises(ValueError, match="batch_size"):
        data.batch_loader(ds, 0)
