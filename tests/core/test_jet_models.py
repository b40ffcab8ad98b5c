"""Jet-level models: shapes, padding and permutation symmetries, ONNX parity, a toy task.

The toy task: events of 4–8 massless jets (px, py, pz, E) in random order; label 1 when some
pair of real jets has an invariant mass within 2 % of M = 1. Half the events contain the two
decay products of a particle of mass M (boosted with a random momentum), the rest only
random jets (some of which pass by accident). The label is a property of pairs of jets
regardless of their order — what the permutation-invariant models are built for.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest
import torch

from hepnb import evaluate, export
from hepnb.data import Scaler
from hepnb.models.deepsets import DeepSets
from hepnb.models.jet_gnn import JetGNN, jet_adjacency
from hepnb.models.jet_transformer import JetTransformer, MaskedSelfAttention
from hepnb.models.jets import JetLayout
from hepnb.models.mlp import MLP, WithProbabilities
from hepnb.models.resmlp import ResidualMLP

LAYOUT = JetLayout(6, ("jet_pt", "jet_eta", "jet_phi", "jet_e", "jet_btag"), ("met", "ht", "njet"))

#: name → constructor for LAYOUT-like layouts (the plain MLP takes the flat width).
MODELS = {
    "mlp": lambda lay: MLP(lay.n_features, hidden=32, n_layers=2),
    "resmlp": lambda lay: ResidualMLP(lay, hidden=32),
    "deepsets": lambda lay: DeepSets(lay, hidden=32),
    "transformer": lambda lay: JetTransformer(lay, hidden=32),
    "transformer_cls": lambda lay: JetTransformer(lay, hidden=32, pooling="cls"),
    "transformer_mean": lambda lay: JetTransformer(lay, hidden=32, pooling="mean"),
    "gnn": lambda lay: JetGNN(lay, hidden=32),
    "gnn_full": lambda lay: JetGNN(lay, hidden=32, edges="full"),
}
INVARIANT = ["deepsets", "transformer", "transformer_cls", "transformer_mean", "gnn", "gnn_full"]


def _batch(layout: JetLayout, n: int, seed: int, n_min: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random flat inputs ``(n, F)`` with multiplicities ``n_min … J`` (real jets first) and
    their multiplicities ``(n,)``."""
    rng = np.random.default_rng(seed)
    j = layout.n_jets
    nj = rng.integers(n_min, j + 1, n)
    nj[:2] = [n_min, j]  # both extremes present
    mask = np.arange(j)[None] < nj[:, None]
    jets = rng.normal(0, 1, (n, j, layout.n_jet_features))
    event = rng.normal(0, 1, (n, layout.n_event_features))
    return layout.flatten(jets, mask, event), nj


def _model(name: str, layout: JetLayout = LAYOUT, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return MODELS[name](layout).eval()


def _out(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(x)).numpy()


def _jet_view(x: np.ndarray, layout: JetLayout = LAYOUT) -> np.ndarray:
    """The jet columns of a flat input as a writable view ``(n, J, Fj)``."""
    return x[:, : layout.n_jets * layout.n_jet_features].reshape(
        len(x), layout.n_jets, layout.n_jet_features
    )


# --------------------------------------------------------------------------- shapes, options


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_shape_and_finite_for_empty_events(name):
    x, nj = _batch(LAYOUT, 17, seed=1)
    out = _out(_model(name), x)
    assert out.shape == (17,)
    assert nj[0] == 0 and np.isfinite(out).all()  # an event without any real jet included


def test_event_feature_free_layout():
    lay = JetLayout(4, ("a", "b"), ())
    x, _ = _batch(lay, 5, seed=2)
    for name in ["resmlp", "deepsets", "transformer", "gnn"]:
        assert _out(_model(name, lay), x).shape == (5,)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: DeepSets(LAYOUT, pooling="max"), "pooling='max'"),
        (lambda: JetTransformer(LAYOUT, hidden=30, n_heads=4), "divisible"),
        (lambda: JetTransformer(LAYOUT, pooling="sum"), "pooling='sum'"),
        (lambda: JetGNN(LAYOUT, edges="knn"), "edges='knn'"),
        (lambda: ResidualMLP(LAYOUT, activation="swish"), "activation='swish'"),
        (lambda: ResidualMLP(LAYOUT, dropout=1.0), "dropout"),
    ],
)
def test_bad_options_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_input_width_names_the_layout():
    with pytest.raises(ValueError, match=r"\(B, 39\)"):
        _model("deepsets")(torch.zeros(3, 38))


def test_parameter_counts_in_the_documented_range():
    """≈ 10–60 k parameters at hidden = 64 for 10 jets × 5 features and 12 event features."""
    lay = JetLayout(10, tuple(f"f{i}" for i in range(5)), tuple(f"e{i}" for i in range(12)))
    counts = {
        name: sum(p.numel() for p in cls(lay).parameters())
        for name, cls in [
            ("resmlp", ResidualMLP),
            ("deepsets", DeepSets),
            ("transformer", JetTransformer),
            ("gnn", JetGNN),
        ]
    }
    # ResidualMLP by hand: input 72·64+64, 2 blocks of 2·(64·64+64)+2·64, LayerNorm, head.
    assert counts["resmlp"] == (72 * 64 + 64) + 2 * (2 * (64 * 64 + 64) + 128) + 128 + 65
    assert all(10_000 <= c <= 65_000 for c in counts.values()), counts


# --------------------------------------------------------------------------- symmetries


@pytest.mark.parametrize("name", ["resmlp", *INVARIANT])
def test_padded_jets_are_ignored(name):
    model = _model(name)
    x, nj = _batch(LAYOUT, 32, seed=3)
    ref = _out(model, x)
    y = x.copy()
    jets = _jet_view(y)
    pad = np.arange(LAYOUT.n_jets)[None] >= nj[:, None]
    jets[pad] = np.random.default_rng(4).normal(0, 50, (pad.sum(), LAYOUT.n_jet_features))
    assert not np.allclose(x, y)
    np.testing.assert_allclose(_out(model, y), ref, atol=1e-5)


@pytest.mark.parametrize("name", INVARIANT)
def test_permuting_real_jets_leaves_output_unchanged(name):
    model = _model(name)
    x, nj = _batch(LAYOUT, 32, seed=5, n_min=2)
    ref = _out(model, x)
    # random order of the real jets, padding kept behind them
    rng = np.random.default_rng(6)
    key = np.where(
        np.arange(LAYOUT.n_jets)[None] < nj[:, None], rng.random((len(x), LAYOUT.n_jets)), 2
    )
    order = np.argsort(key, axis=1)
    y = x.copy()
    _jet_view(y)[:] = np.take_along_axis(_jet_view(x), order[..., None], axis=1)
    assert not np.allclose(x, y)
    np.testing.assert_allclose(_out(model, y), ref, atol=1e-5)
    # the mask need not be contiguous: reverse the whole jet axis (padding first)
    z = x.copy()
    j, fj = LAYOUT.n_jets, LAYOUT.n_jet_features
    _jet_view(z)[:] = _jet_view(x)[:, ::-1]
    z[:, j * fj : j * fj + j] = x[:, j * fj : j * fj + j][:, ::-1]
    np.testing.assert_allclose(_out(model, z), ref, atol=1e-5)


def test_residual_mlp_sees_the_jet_order():
    model = _model("resmlp")
    x, _ = _batch(LAYOUT, 8, seed=7, n_min=3)
    y = x.copy()
    _jet_view(y)[:, [0, 1]] = _jet_view(x)[:, [1, 0]]
    assert np.abs(_out(model, y) - _out(model, x)).max() > 1e-4


def test_deepsets_pool_is_the_mean_and_scaled_sum_over_real_jets():
    model = _model("deepsets")
    x, nj = _batch(LAYOUT, 4, seed=8, n_min=1)
    with torch.no_grad():
        pooled = model.pool(torch.as_tensor(x)).numpy()
        jets = torch.as_tensor(_jet_view(x).copy())
        for b in range(4):
            phi = model.phi(jets[b, : nj[b]]).numpy()  # only the real jets
            np.testing.assert_allclose(pooled[b, :32], phi.sum(0) / LAYOUT.n_jets, atol=1e-6)
            np.testing.assert_allclose(pooled[b, 32:64], phi.mean(0), atol=1e-6)


def test_jet_adjacency_by_hand():
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    adj = jet_adjacency(mask)
    expected = torch.zeros(2, 4, 4)
    expected[0, :3, :3] = (1 - torch.eye(3)) / 2  # 3 real jets: 2 neighbours each
    torch.testing.assert_close(adj, expected)  # a lone jet has no neighbour


def test_masked_attention_matches_torch_multihead_attention():
    """The explicit masked softmax equals ``nn.MultiheadAttention`` with a key padding mask
    (for the real jets' outputs)."""
    torch.manual_seed(9)
    ours = MaskedSelfAttention(16, n_heads=4)
    ref = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(torch.randn(48))
        ours.qkv.bias.copy_(ref.in_proj_bias)
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
        h = torch.randn(3, 5, 16)
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
        got = ours(h, mask)
        want = ref(h, h, h, key_padding_mask=~mask, need_weights=False)[0]
    torch.testing.assert_close(got[mask], want[mask], atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------- ONNX export


def _scaler(x: np.ndarray, layout: JetLayout) -> Scaler:
    """Standard scaling of the jet and event columns; the mask columns stay 0/1 (the models
    threshold them at 0.5, so they must not be standardised)."""
    s = Scaler.standard(x, layout.names)
    j = layout.n_jets * layout.n_jet_features
    s.offset[j : j + layout.n_jets], s.scale[j : j + layout.n_jets] = 0.0, 1.0
    return s


@pytest.mark.parametrize("name", ["mlp", "resmlp", "deepsets", "transformer", "gnn"])
def test_onnx_export_matches_pytorch(name, tmp_path):
    model = _model(name)
    x, nj = _batch(LAYOUT, 200, seed=10)
    raw = x * np.r_[np.full(LAYOUT.n_features - 3, 40.0), 100.0, 500.0, 1.0].astype(np.float32)
    raw[:, 30:36] = x[:, 30:36]  # mask columns stay 0 / 1
    wrapped = WithProbabilities(model, _scaler(raw, LAYOUT).module()).eval()
    path = export.to_onnx(
        wrapped, tmp_path / f"{name}.onnx", LAYOUT.n_features, feature_names=LAYOUT.names
    )
    clf = export.OnnxClassifier(path, expected_features=LAYOUT.names)
    with torch.no_grad():
        ref = wrapped(torch.as_tensor(raw)).numpy()
    got = clf(raw)
    assert len(set(nj)) == LAYOUT.n_jets + 1  # every multiplicity 0 … J in the batch
    assert got.shape == (200,) and ref.std() > 1e-3  # a non-constant output is compared
    np.testing.assert_allclose(got, ref, atol=1e-4)


# --------------------------------------------------------------------------- toy task

TOY = JetLayout(8, ("px", "py", "pz", "e"), ("noise",))
MASS, WINDOW = 1.0, 0.02


def _boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz boost of four-vectors ``(n, 4)`` (px, py, pz, E) by velocities ``(n, 3)``."""
    b2 = (beta**2).sum(-1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = (beta * p4[:, :3]).sum(-1, keepdims=True)
    e = gamma * (p4[:, 3:] + bp)
    p = p4[:, :3] + ((gamma - 1.0) * bp / np.where(b2 > 0, b2, 1.0) + gamma * p4[:, 3:]) * beta
    return np.concatenate([p, e], axis=-1)


def pair_masses(jets: np.ndarray) -> np.ndarray:
    """Invariant masses ``(n, J, J)`` of all jet pairs from four-vectors ``(n, J, 4)``."""
    s = jets[:, :, None, :] + jets[:, None, :, :]
    return np.sqrt(np.clip(s[..., 3] ** 2 - (s[..., :3] ** 2).sum(-1), 0.0, None))


def toy_events(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat inputs ``(n, F)`` of :data:`TOY` and labels ``(n,)`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    j = TOY.n_jets
    nj = rng.integers(4, j + 1, n)
    p = rng.normal(0, 1, (n, j, 3))
    jets = np.concatenate([p, np.linalg.norm(p, axis=-1, keepdims=True)], axis=-1)
    plant = rng.random(n) < 0.5
    u = rng.normal(0, 1, (n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    half = np.full((n, 1), MASS / 2)
    q = rng.normal(0, 1, (n, 3))  # parent momentum
    beta = q / np.sqrt((q**2).sum(1, keepdims=True) + MASS**2)
    jets[plant, 0] = _boost(np.concatenate([u * MASS / 2, half], 1), beta)[plant]
    jets[plant, 1] = _boost(np.concatenate([-u * MASS / 2, half], 1), beta)[plant]
    mask = np.arange(j)[None] < nj[:, None]
    order = np.argsort(np.where(mask, rng.random((n, j)), 2.0), axis=1)  # shuffle real jets
    jets = np.take_along_axis(jets, order[..., None], axis=1)
    pairs = mask[:, :, None] & mask[:, None, :] & ~np.eye(j, dtype=bool)
    label = (pairs & (np.abs(pair_masses(jets) - MASS) < WINDOW * MASS)).any((1, 2))
    return TOY.flatten(jets, mask, rng.normal(0, 1, (n, 1))), np.asarray(label, dtype=np.float32)


def test_toy_generator_physics():
    x, y = toy_events(2000, seed=0)
    jets = _jet_view(x, TOY).astype(np.float64)
    mask = x[:, 32:40] > 0.5
    # massless jets, E = |p|
    np.testing.assert_allclose(jets[..., 3], np.linalg.norm(jets[..., :3], axis=-1), rtol=1e-5)
    # every event with a planted pair is labelled 1, so ≥ ~half are signal, and not all
    assert 0.5 < y.mean() < 0.75
    # the label is not the multiplicity in disguise
    assert evaluate.auc(y, mask.sum(1)) < 0.6


@functools.cache
def _toy_auc(name: str) -> tuple[float, float]:
    """Test AUC and training seconds of a model trained on the shuffled toy (seeded)."""
    x, y = toy_events(20_000, seed=0)
    xt, yt = toy_events(4_000, seed=1)
    steps, batch = (300, 128) if name in ("transformer", "gnn") else (400, 256)
    torch.manual_seed(0)
    model = {
        "resmlp": ResidualMLP,
        "deepsets": DeepSets,
        "transformer": JetTransformer,
        "gnn": JetGNN,
    }[name](TOY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xs, ys = torch.as_tensor(x), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(xs), (batch,), generator=gen)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xs[i]), ys[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    return evaluate.auc(yt, _out(model.eval(), xt)), seconds


#: AUC floors on the shuffled toy (chance 0.5, multiplicity alone ≈ 0.53).
FLOORS = {"resmlp": 0.68, "deepsets": 0.75, "transformer": 0.74, "gnn": 0.74}


@pytest.mark.parametrize(
    "name",
    [
        "resmlp",
        "deepsets",
        pytest.param("transformer", marks=pytest.mark.slow),
        "gnn",
    ],
)
def test_toy_training_reaches_auc_floor(name):
    auc, seconds = _toy_auc(name)
    print(f"{name}: toy AUC {auc:.3f} after {seconds:.1f} s")
    assert auc > FLOORS[name]


def test_deepsets_beats_residual_mlp_on_shuffled_jets():
    """Weight sharing over the jets pays off when the jet order carries no information."""
    assert _toy_auc("deepsets")[0] > _toy_auc("resmlp")[0] + 0.02


def test_transformer_default_pooling_sees_the_jet_multiplicity():
    """Identical jets, more of them: the mean of the tokens cannot tell 2 from 5 (every token
    is the same), the default pooling's scaled sum can."""
    torch.manual_seed(0)
    lay = JetLayout(6, ("a", "b"), ())
    jets = np.tile(np.array([[0.3, -1.2]], np.float32), (2, 6, 1))
    mask = np.zeros((2, 6), bool)
    mask[0, :2], mask[1, :5] = True, True
    x = torch.as_tensor(lay.flatten(jets, mask, np.zeros((2, 0), np.float32)))
    for pooling, differs in (("mean", False), ("both", True)):
        model = JetTransformer(lay, hidden=16, pooling=pooling).eval()
        with torch.no_grad():
            out = model(x)
        assert bool(torch.abs(out[0] - out[1]) > 1e-4) is differs, pooling
