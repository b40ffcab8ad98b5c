"""The counting models of hepnb.models: shapes, padding and empty events, k-NN graphs, gradients,
and that each one learns to count blobs (1–4) on a tiny toy whose total intensity says nothing
about the count (the event total is drawn independently of it)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader as GraphLoader

from hepnb import train
from hepnb.models.cnn3d import CNN3d, auto_strides
from hepnb.models.cnn_rnn import FrameCNNRNN
from hepnb.models.gnn import EdgeConvNet, knn_graph
from hepnb.models.rnn import HitRNN

N_CLASSES = 4


# --------------------------------------------------------------------------- toy events


def _centres_x(rng: np.random.Generator, k: int, lo: float, hi: float, gap: float) -> np.ndarray:
    """``k`` sorted coordinates in ``[lo, hi]`` at least ``gap`` apart (uniform spacings)."""
    return lo + np.sort(rng.uniform(0, hi - lo - gap * (k - 1), k)) + gap * np.arange(k)


def _amplitudes(rng: np.random.Generator, k: int) -> np.ndarray:
    """Blob amplitudes summing to an event total drawn independently of ``k``."""
    w = rng.uniform(0.4, 1.0, k)
    return w / w.sum() * rng.uniform(1.0, 3.0)


def toy_grids(n: int, seed: int, depth: int = 4, size: int = 12) -> tuple[torch.Tensor, ...]:
    """Grids ``(n, 1, depth, size, size)`` of 1–4 Gaussian showers, labels ``n - 1``, extra
    ``(n, 1)`` = the (uninformative) event total.

    Showers are ≥ 3 cells apart in x, σ = 0.7 cell, each starting at a random depth.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    cells = np.arange(size) + 0.5
    grids = np.zeros((n, 1, depth, size, size), np.float32)
    totals = np.zeros((n, 1), np.float32)
    for i, label in enumerate(y):
        k = int(label) + 1
        cx = _centres_x(rng, k, 1.5, size - 1.5, 3.0)
        cy = rng.uniform(1.5, size - 1.5, k)
        start = rng.integers(0, depth - 1, k)
        for a, x0, y0, s in zip(_amplitudes(rng, k), cx, cy, start, strict=True):
            prof = np.exp(-0.5 * (np.arange(depth) - s - 0.5) ** 2)
            img = np.exp(-0.5 * ((cells[:, None] - y0) ** 2 + (cells[None, :] - x0) ** 2) / 0.49)
            grids[i, 0] += a * (prof / prof.sum())[:, None, None] * img / img.sum()
        totals[i] = grids[i].sum()
    grids += rng.normal(0, 1e-3, grids.shape).clip(0).astype(np.float32)
    return torch.from_numpy(grids * 10), torch.from_numpy(y), torch.from_numpy(totals)


def toy_points(n: int, seed: int) -> list[tuple[np.ndarray, int]]:
    """Events of 1–4 blobs of 5–12 points in the unit square (≥ 0.15 apart in x, σ = 0.02):
    ``(points (N, 3) = x, y, amplitude sorted by x, label = blobs - 1)``."""
    rng = np.random.default_rng(seed)
    events = []
    for label in rng.integers(0, N_CLASSES, n):
        k = int(label) + 1
        cx = _centres_x(rng, k, 0.05, 0.95, 0.15)
        cy = rng.uniform(0.1, 0.9, k)
        amp = _amplitudes(rng, k)
        parts = []
        for x0, y0, a in zip(cx, cy, amp, strict=True):
            m = int(rng.integers(5, 13))
            xy = rng.normal((x0, y0), 0.02, (m, 2))
            parts.append(np.column_stack([xy, a * rng.dirichlet(np.ones(m)) * m]))
        pts = np.concatenate(parts)
        events.append((pts[np.argsort(pts[:, 0])].astype(np.float32), int(label)))
    return events


def padded(events: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, ...]:
    """``(hits (n, L, 3) zero-padded, lengths (n,), labels (n,))``."""
    lengths = np.array([len(p) for p, _ in events])
    hits = np.zeros((len(events), lengths.max(), 3), np.float32)
    for i, (p, _) in enumerate(events):
        hits[i, : len(p)] = p
    y = np.array([label for _, label in events])
    return torch.from_numpy(hits), torch.from_numpy(lengths), torch.from_numpy(y)


def graphs(events: list[tuple[np.ndarray, int]]) -> list[Data]:
    return [
        Data(
            x=torch.from_numpy(p),
            pos=torch.from_numpy(p[:, :2]),
            extra=torch.tensor([[float(p[:, 2].sum())]]),
            y=torch.tensor([label]),
        )
        for p, label in events
    ]


class _Pairs(torch.utils.data.Dataset):
    """Items ``((inputs...), label)``: collated into ``([inputs...], labels)`` for ``fit``."""

    def __init__(self, *inputs: torch.Tensor, y: torch.Tensor) -> None:
        self.inputs, self.y = inputs, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return tuple(t[i] for t in self.inputs), self.y[i]


def _accuracy(model: torch.nn.Module, loader) -> float:
    scores, y = train.predict(model, loader, device="cpu")
    return float((scores.argmax(1) == y).mean())


def _fit(model, train_loader, val_loader, epochs: int, lr: float = 3e-3) -> None:
    train.fit(
        model,
        {"train": train_loader, "val": val_loader},
        epochs=epochs,
        lr=lr,
        loss="ce",
        scheduler=None,
        early_stopping=None,
        device="cpu",
        out_dir=None,
        mlflow=False,
        progress=False,
        seed=0,
    )


# --------------------------------------------------------------------------- the toys


def test_toy_total_intensity_is_uninformative():
    """The best cuts on the event total classify the toys near chance (0.25), so a model that
    counts must look at the shapes."""
    for total, y in (
        (toy_grids(2000, 1)[2][:, 0].numpy(), toy_grids(2000, 1)[1].numpy()),
        (
            np.array([p[:, 2].sum() for p, _ in toy_points(2000, 1)]),
            np.array([label for _, label in toy_points(2000, 1)]),
        ),
    ):
        bins = np.quantile(total, np.linspace(0, 1, 9))
        idx = np.clip(np.digitize(total, bins[1:-1]), 0, 7)
        best = sum(np.bincount(y[idx == b], minlength=4).max() for b in range(8))
        assert best / len(y) < 0.35


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("extra", [0, 3])
def test_output_shapes(extra):
    torch.manual_seed(0)
    e = torch.randn(5, extra) if extra else None
    for shape in ((6, 8, 8), (6, 3, 40)):
        cnn = CNN3d(extra_features=extra, channels=(4, 8), input_shape=shape)
        assert cnn(torch.rand(5, 1, *shape), e).shape == (5, N_CLASSES)
    rnn = HitRNN(3, hidden=8, extra_features=extra, cell="lstm", bidirectional=True)
    lengths = torch.tensor([3, 0, 7, 1, 7])
    assert rnn(torch.randn(5, 7, 3), lengths, e).shape == (5, N_CLASSES)
    frames = FrameCNNRNN(2, channels=(4,), hidden=8, extra_features=extra, n_classes=3)
    assert frames(torch.rand(5, 6, 2, 9, 11), e).shape == (5, 3)
    data = [Data(x=torch.randn(n, 4), pos=torch.randn(n, 3)) for n in (5, 0, 12, 1, 30)]
    for d in data:
        d.extra = torch.randn(1, extra)
    gnn = EdgeConvNet(4, hidden=8, k=4, extra_features=extra)
    assert gnn(Batch.from_data_list(data)).shape == (5, N_CLASSES)


def test_auto_strides_and_bad_arguments():
    assert auto_strides((34, 32, 32), 3) == [(2, 2, 2)] * 3
    assert auto_strides((34, 7, 432), 3) == [(2, 2, 4), (2, 2, 4), (2, 1, 2)]
    assert CNN3d(stride=(1, 2, 2), channels=(4, 8)).strides == ((1, 2, 2), (1, 2, 2))
    with pytest.raises(ValueError, match="extra"):
        CNN3d(extra_features=2)(torch.rand(2, 1, 4, 4, 4))
    with pytest.raises(ValueError, match="extra_features=0"):
        CNN3d()(torch.rand(2, 1, 4, 4, 4), torch.rand(2, 2))
    with pytest.raises(ValueError, match="lengths"):
        HitRNN(3)(torch.rand(2, 4, 3), torch.tensor([5, 1]))
    with pytest.raises(ValueError, match="cell"):
        HitRNN(3, cell="rnn")
    with pytest.raises(ValueError, match="stride"):
        CNN3d(stride=[2, 2], channels=(4, 8, 16))


# --------------------------------------------------------------------------- RNN padding


@pytest.mark.parametrize(
    ("cell", "bidirectional", "mode"),
    [
        ("gru", False, "packed"),
        ("gru", True, "packed"),
        ("lstm", True, "packed"),
        ("gru", False, "padded"),
        ("lstm", False, "padded"),
    ],
)
def test_rnn_ignores_padding_and_handles_empty_events(cell, bidirectional, mode):
    torch.manual_seed(0)
    model = HitRNN(3, hidden=16, cell=cell, bidirectional=bidirectional, dropout=0.0, mode=mode)
    lengths = torch.tensor([4, 0, 9, 1, 0, 6])
    hits = torch.randn(6, 9, 3)
    mask = torch.arange(9)[None, :] < lengths[:, None]
    hits = hits * mask[..., None]
    garbage = hits.clone()
    garbage[~mask] = torch.randn(int((~mask).sum()), 3) * 1e3
    garbage = torch.cat([garbage, torch.randn(6, 5, 3) * 1e3], dim=1)  # more padding rows
    for training in (False, True):
        model.train(training)
        out, out2 = model(hits, lengths), model(garbage, lengths)
        torch.testing.assert_close(out2, out, rtol=0, atol=1e-6)
    assert model.mode == mode and torch.isfinite(out).all()
    torch.testing.assert_close(out[1], out[4])  # both empty: the learned empty state
    model.eval()
    assert torch.isfinite(model(torch.zeros(3, 2, 3), torch.zeros(3, dtype=torch.long))).all()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_rnn_padded_mode_equals_packed_mode(cell):
    torch.manual_seed(0)
    packed = HitRNN(3, hidden=16, cell=cell, num_layers=2, dropout=0.0, mode="packed").eval()
    padded_ = HitRNN(3, hidden=16, cell=cell, num_layers=2, dropout=0.0, mode="padded").eval()
    padded_.load_state_dict(packed.state_dict())
    hits, lengths = torch.randn(7, 12, 3), torch.tensor([12, 3, 0, 1, 7, 12, 5])
    torch.testing.assert_close(padded_(hits, lengths), packed(hits, lengths))
    assert HitRNN(3).mode == "padded" and HitRNN(3, bidirectional=True).mode == "packed"
    with pytest.raises(ValueError, match="mode"):
        HitRNN(3, bidirectional=True, mode="padded")


# --------------------------------------------------------------------------- k-NN graphs


def _brute_knn(pos: torch.Tensor, k: int, batch: torch.Tensor, loop: bool) -> set[tuple[int, int]]:
    edges = set()
    for i in range(len(pos)):
        same = [j for j in range(len(pos)) if batch[j] == batch[i] and (loop or j != i)]
        d = [float(((pos[i] - pos[j]) ** 2).sum()) for j in same]
        edges |= {(same[j], i) for j in np.argsort(d)[:k]}
    return edges


@pytest.mark.parametrize("seed", range(4))
def test_knn_graph_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    # empty graphs, graphs with fewer than k + 1 nodes, the largest not last
    sizes = [0, 1, 3, 9, 0, 17, 5, 25, 2, 0]
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    batch = batch[torch.randperm(len(batch), generator=g)]  # any node order
    for d, k, loop in itertools.product((2, 3, 16), (1, 4, 8), (False, True)):
        pos = torch.randn(len(batch), d, generator=g, dtype=torch.float64)
        ei = knn_graph(pos, k, batch, num_graphs=len(sizes), loop=loop)
        assert ei.dtype == torch.long and ei.shape[0] == 2
        edges = list(map(tuple, ei.T.tolist()))
        assert len(edges) == len(set(edges))
        assert set(edges) == _brute_knn(pos, k, batch, loop), (d, k, loop)
        assert (batch[ei[0]] == batch[ei[1]]).all()  # no edges across graphs
        per_node = torch.bincount(ei[1], minlength=len(batch))
        expect = (torch.tensor(sizes)[batch] - (0 if loop else 1)).clamp(max=k)
        assert torch.equal(per_node, expect)


def test_knn_graph_edge_cases():
    assert knn_graph(torch.zeros(0, 3), 4, torch.zeros(0, dtype=torch.long)).shape == (2, 0)
    assert knn_graph(torch.zeros(1, 3), 4).shape == (2, 0)
    assert knn_graph(torch.randn(5, 3), 0).shape == (2, 0)
    ei = knn_graph(torch.randn(3, 2), 8)  # one graph of 3 nodes: complete, no self-loops
    assert set(map(tuple, ei.T.tolist())) == {(j, i) for i in range(3) for j in range(3) if i != j}
    with pytest.raises(ValueError, match="batch"):
        knn_graph(torch.randn(3, 2), 2, torch.tensor([0, 1, 2]), num_graphs=2)


def test_gnn_empty_graphs_get_a_row():
    torch.manual_seed(0)
    gnn = EdgeConvNet(4, hidden=8, k=3).eval()
    data = [Data(x=torch.randn(n, 4), pos=torch.randn(n, 3)) for n in (0, 6, 0)]
    out = gnn(Batch.from_data_list(data))
    assert out.shape == (3, N_CLASSES) and torch.isfinite(out).all()
    torch.testing.assert_close(out[0], out[2])


def test_pooling_is_extensive():
    """Two showers too far apart to share a receptive field (CNN) or a neighbourhood (GNN):
    the summed features of the pair are those of each alone (minus the empty background), so
    the pooled vector can count."""
    torch.manual_seed(0)
    cnn = CNN3d(channels=(4, 8, 8)).eval()  # receptive field 15 voxels
    grids = torch.zeros(4, 1, 2, 8, 40)
    grids[1, 0, :, 3:5, 2:4] = torch.rand(2, 2, 2)
    grids[2, 0, :, 2:6, 34:37] = torch.rand(2, 4, 3)
    grids[3] = grids[1] + grids[2]
    with torch.no_grad():
        summed = cnn.pool(grids)[:, :8]
    torch.testing.assert_close(summed[3], summed[1] + summed[2] - summed[0])

    gnn = EdgeConvNet(3, hidden=8, k=3, dynamic=False).eval()
    a, b = torch.randn(6, 3), torch.randn(7, 3)
    pa, pb = torch.randn(6, 2), torch.randn(7, 2) + 100.0  # far apart: no shared neighbours
    data = [
        Data(x=a, pos=pa),
        Data(x=b, pos=pb),
        Data(x=torch.cat([a, b]), pos=torch.cat([pa, pb])),
    ]
    with torch.no_grad():
        summed = gnn.pool(Batch.from_data_list(data))[:, :16]
    torch.testing.assert_close(summed[2], summed[0] + summed[1])


# --------------------------------------------------------------------------- gradients


def _assert_all_grads(model: torch.nn.Module, out: torch.Tensor) -> None:
    y = torch.arange(len(out)) % out.shape[1]
    torch.nn.functional.cross_entropy(out, y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    e = torch.randn(6, 2)
    cnn = CNN3d(channels=(4, 8), extra_features=2)
    _assert_all_grads(cnn, cnn(torch.rand(6, 1, 6, 8, 8), e))
    rnn = HitRNN(3, hidden=8, num_layers=2, extra_features=2)
    lengths = torch.tensor([3, 0, 5, 1, 5, 2])
    _assert_all_grads(rnn, rnn(torch.randn(6, 5, 3), lengths, e))
    frames = FrameCNNRNN(1, channels=(4, 8), hidden=8, cell="lstm", extra_features=2)
    _assert_all_grads(frames, frames(torch.rand(6, 4, 1, 8, 8), e))
    data = [
        Data(x=torch.randn(n, 4), pos=torch.randn(n, 3), extra=e[i : i + 1])
        for i, n in enumerate((5, 0, 12, 9, 30, 7))
    ]
    gnn = EdgeConvNet(4, hidden=8, k=4, extra_features=2)
    _assert_all_grads(gnn, gnn(Batch.from_data_list(data)))


# --------------------------------------------------------------------------- learning to count


MIN_ACCURACY = 0.7  # chance is 0.25; the total intensity alone gives < 0.35


def test_cnn3d_learns_to_count():
    train.set_seed(0)
    grids, y, total = toy_grids(1800, seed=10)
    tr, va, te = slice(0, 1200), slice(1200, 1500), slice(1500, 1800)
    model = CNN3d(channels=(8, 16), extra_features=1, hidden=32, stride=(1, 2, 2))
    loader = DataLoader(_Pairs(grids[tr], total[tr], y=y[tr]), batch_size=64, shuffle=True)
    _fit(model, loader, DataLoader(_Pairs(grids[va], total[va], y=y[va]), batch_size=300), 8)
    test = DataLoader(_Pairs(grids[te], total[te], y=y[te]), batch_size=300)
    assert _accuracy(model, test) >= MIN_ACCURACY


def test_frame_cnn_rnn_learns_to_count():
    train.set_seed(0)
    grids, y, _ = toy_grids(1800, seed=11)
    frames = grids.transpose(1, 2)  # (n, depth, 1, size, size): one frame per layer
    tr, va, te = slice(0, 1200), slice(1200, 1500), slice(1500, 1800)
    model = FrameCNNRNN(1, channels=(8, 16), hidden=32)
    loader = DataLoader(TensorDataset(frames[tr], y[tr]), batch_size=64, shuffle=True)
    _fit(model, loader, DataLoader(TensorDataset(frames[va], y[va]), batch_size=300), 8)
    assert _accuracy(model, DataLoader(TensorDataset(frames[te], y[te]), batch_size=300)) >= (
        MIN_ACCURACY
    )


def test_hit_rnn_learns_to_count():
    train.set_seed(0)
    hits, lengths, y = padded(toy_points(2400, seed=12))
    tr, va, te = slice(0, 1800), slice(1800, 2100), slice(2100, 2400)
    model = HitRNN(3, hidden=32)
    loader = DataLoader(_Pairs(hits[tr], lengths[tr], y=y[tr]), batch_size=64, shuffle=True)
    _fit(model, loader, DataLoader(_Pairs(hits[va], lengths[va], y=y[va]), batch_size=300), 8)
    test = DataLoader(_Pairs(hits[te], lengths[te], y=y[te]), batch_size=300)
    assert _accuracy(model, test) >= MIN_ACCURACY


def test_edgeconv_learns_to_count():
    train.set_seed(0)
    data = graphs(toy_points(1500, seed=13))
    model = EdgeConvNet(3, hidden=16, k=4, layers=2, extra_features=1, add_scale=20.0)
    loader = GraphLoader(data[:1000], batch_size=64, shuffle=True)
    _fit(model, loader, GraphLoader(data[1000:1250], batch_size=250), 8)
    assert _accuracy(model, GraphLoader(data[1250:], batch_size=250)) >= MIN_ACCURACY
