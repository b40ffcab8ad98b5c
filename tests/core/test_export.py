"""MLPs, ONNX export (parity with PyTorch to 1e-5), INT8 quantization and mismatched files."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from hepnb import evaluate, export
from hepnb.data import Scaler
from hepnb.models.mlp import MLP, WithProbabilities

F = 6
NAMES = [f"f{i}" for i in range(F)]


def _data(n, seed=0):
    """Two Gaussian classes in F dimensions with raw (unscaled) features."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 1, (n, F)) + 0.8 * y[:, None] * np.linspace(1, 0.2, F)
    return (x * np.geomspace(1, 300, F)).astype(np.float32), y


@pytest.fixture(scope="module")
def trained():
    """A small BatchNorm-front MLP trained briefly on the toy problem, wrapped to output
    probabilities from raw features."""
    torch.manual_seed(0)
    x, y = _data(4000)
    model = MLP(F, hidden=128, batch_norm=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.float32)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(xt), yt).backward()
        opt.step()
    return WithProbabilities(model.eval())


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export.to_onnx(trained, path, F, feature_names=NAMES, metadata={"track": "toy"})
    return path


@pytest.mark.parametrize("batch_norm", [False, True])
def test_mlp_shapes_and_options(batch_norm):
    m = MLP(F, hidden=[32, 16], activation="elu", batch_norm=batch_norm)
    assert m(torch.zeros(5, F)).shape == (5,)
    assert isinstance(m.norm, torch.nn.BatchNorm1d) == batch_norm
    assert MLP(F, out_features=3)(torch.zeros(4, F)).shape == (4, 3)
    with pytest.raises(ValueError, match="activation='swish'"):
        MLP(F, activation="swish")
    with pytest.raises(ValueError, match="hidden"):
        MLP(F, hidden=[])


def test_scaler_module_folds_preprocessing():
    x = np.array([[-200.0, 0.5], [1e4, 2.0], [3.0, 1.0]])
    scaler = Scaler.minmax(x, ["a", "b"], log_scales={"a": 1.0})  # signed-log on "a" only
    mlp = MLP(2, hidden=8).eval()
    wrapped = WithProbabilities(mlp, scaler.module())
    with torch.no_grad():
        inner = scaler.module()(torch.as_tensor(x, dtype=torch.float32)).numpy()
        probs = wrapped(torch.as_tensor(x, dtype=torch.float32)).numpy()
        expect = torch.sigmoid(mlp(torch.as_tensor(scaler.transform(x)))).numpy()
    np.testing.assert_allclose(inner, scaler.transform(x), atol=1e-6)
    assert inner[:, 1] == pytest.approx([0.0, 1.0, 1 / 3])  # b: plain min-max
    np.testing.assert_allclose(probs, expect, atol=1e-6)


def test_onnx_names_dynamic_batch_and_parity(trained, exported):
    model = onnx.load(str(exported))
    assert [i.name for i in model.graph.input] == ["features"]
    assert [o.name for o in model.graph.output] == ["probabilities"]
    clf = export.OnnxClassifier(exported, NAMES)
    assert clf.metadata["track"] == "toy" and clf.feature_names == NAMES
    for n in (1, 7, 3000):
        x, _ = _data(n, seed=n)
        assert clf(x).shape == (n,)
        assert export.check_parity(trained, exported, x, atol=1e-5) <= 1e-5


def test_parity_check_detects_a_different_model(trained, exported):
    other = WithProbabilities(MLP(F, hidden=128, batch_norm=True).eval())
    with pytest.raises(AssertionError, match="differs from PyTorch"):
        export.check_parity(other, exported, _data(100)[0])


def test_int8_dynamic_accuracy_and_size(trained, exported, tmp_path):
    q = export.quantize_int8(exported, tmp_path / "int8.onnx")
    x, y = _data(5000, seed=1)
    p32 = export.OnnxClassifier(exported, NAMES)(x)
    p8 = export.OnnxClassifier(q, NAMES)(x)
    # stated tolerance: per-track |Δp| < 0.05, mean < 0.005, AUC loss < 0.002
    assert np.abs(p8 - p32).max() < 0.05 and np.abs(p8 - p32).mean() < 0.005
    assert evaluate.auc(y, p32) - evaluate.auc(y, p8) < 0.002
    assert export.file_size(exported) / export.file_size(q) > 2.5  # 128-wide: weights 4× smaller
    assert export.OnnxClassifier(q).metadata["quantization"] == "dynamic"
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert "MatMulInteger" in ops and "Gemm" not in ops


def test_int8_static_needs_calibration(exported, tmp_path):
    with pytest.raises(ValueError, match="calibration"):
        export.quantize_int8(exported, tmp_path / "s.onnx", mode="static")
    with pytest.raises(ValueError, match="mode='int4'"):
        export.quantize_int8(exported, tmp_path / "s.onnx", mode="int4")
    x, y = _data(3000, seed=2)
    q = export.quantize_int8(exported, tmp_path / "s.onnx", mode="static", calibration=x[:1000])
    p = export.OnnxClassifier(q, NAMES)(x)
    assert evaluate.auc(y, p) > evaluate.auc(y, export.OnnxClassifier(exported)(x)) - 0.01


def test_onnx_file_of_another_model(exported, tmp_path):
    with pytest.raises(
        export.OnnxModelMismatch,
        match=r"another model.*takes 6 features, "
        r"expected 13",
    ):
        export.OnnxClassifier(exported, 13)
    with pytest.raises(export.OnnxModelMismatch, match=r"trained on features \['f0'"):
        export.OnnxClassifier(exported, [f"g{i}" for i in range(F)])
    # a model with another input name
    graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["input"], ["probabilities"])],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", F])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", F])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(
        export.OnnxModelMismatch,
        match=r"other.onnx.*another model.*'input'.*"
        r"expected one input 'features'",
    ):
        export.OnnxClassifier(path)
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(export.OnnxModelMismatch, match=r"garbage\.onnx: not a loadable"):
        export.OnnxClassifier(bad)
    with pytest.raises(ValueError, match=r"input of shape \(3, 5\)"):
        export.OnnxClassifier(exported)(np.zeros((3, 5), np.float32))


def test_throughput_measures_rows_per_second():
    x = np.zeros((64, 3), np.float32)
    rate = export.throughput(lambda b: b.sum(), x, 16, min_seconds=0.05)
    assert rate > 0
    with pytest.raises(ValueError, match="fewer than batch_size"):
        export.throughput(lambda b: b, x, 100)
