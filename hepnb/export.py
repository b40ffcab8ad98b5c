"""ONNX export, ONNX Runtime inference and INT8 quantization, for any chapter's classifier.

The exported graph has one input named ``features`` of shape ``(batch, F)`` and one output
named ``probabilities`` of shape ``(batch,)``, with a dynamic batch dimension. The feature
names (and anything else passed as ``metadata``) are stored in the file's metadata, so
:class:`OnnxClassifier` can refuse a file made for another model with a clear message.

Quantization uses ONNX Runtime: ``mode="dynamic"`` stores weights as INT8 and quantizes
activations on the fly per batch (no calibration data); ``mode="static"`` writes a QDQ model
whose activation ranges are calibrated on sample inputs.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hepnb._optional import require
from hepnb.io import atomic_path

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "OnnxClassifier",
    "OnnxModelMismatch",
    "check_parity",
    "file_size",
    "quantize_int8",
    "throughput",
    "to_onnx",
    "weight_bytes",
]

log = logging.getLogger(__name__)

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
_FEATURES_KEY = "feature_names"


class OnnxModelMismatch(ValueError):
    """An ONNX file does not take the inputs expected (an ONNX file of another model)."""


def to_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    n_features: int,
    *,
    feature_names: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    opset: int = 18,
) -> Path:
    """Export ``model`` (``(B, F)`` → probabilities ``(B,)``) to ONNX, atomically.

    Args:
        model: a module returning probabilities, e.g.
            :class:`hepnb.models.mlp.WithProbabilities`; exported in eval mode on CPU.
        path: destination ``.onnx`` file.
        n_features: input width F.
        feature_names: names of the F inputs, stored as metadata ``feature_names`` (JSON).
        metadata: other key → value metadata (values stored as JSON strings).
        opset: ONNX opset.

    Returns:
        The path written.
    """
    onnx = require("onnx")

    if feature_names is not None and len(feature_names) != n_features:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for n_features={n_features}"
        )
    model = model.to("cpu").eval()
    example = torch.zeros(2, n_features)
    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings(), atomic_path(path) as tmp:
        warnings.simplefilter("ignore")
        onnx_program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            opset_version=opset,
            verbose=False,
        )
        assert onnx_program is not None  # dynamo=True always returns an ONNXProgram
        proto = onnx_program.model_proto
        _strip(proto)
        props = dict(metadata or {})
        if feature_names is not None:
            props[_FEATURES_KEY] = list(feature_names)
        for k, v in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = str(k), json.dumps(v)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    return Path(path)


def _strip(proto) -> None:
    """Drop debug information (source locations, intermediate shape annotations) that ONNX
    Runtime does not need; it would dominate the size of a small model."""
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del proto.graph.value_info[:]


def _session(path: Path, threads: int | None):
    ort = require("onnxruntime")

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class OnnxClassifier:
    """Run an exported classifier with ONNX Runtime (no PyTorch needed).

    Args:
        path: ``.onnx`` file.
        expected_features: the feature names (or just their number) the caller will feed; a
            file with another input name, width or feature list raises
            :class:`OnnxModelMismatch`.
        threads: ONNX Runtime intra-op threads (None: its default).

    Attributes:
        feature_names: names stored in the file (None if it has none).
        metadata: all metadata, JSON-decoded.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        expected_features: Sequence[str] | int | None = None,
        threads: int | None = None,
    ):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such ONNX file")
        try:
            self.session = _session(self.path, threads)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise OnnxModelMismatch(f"{self.path}: not a loadable ONNX model ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {k: _json_or_str(v) for k, v in meta.items()}
        self.feature_names = self.metadata.get(_FEATURES_KEY)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        width = inputs[0].shape[-1] if inputs and len(inputs[0].shape) == 2 else None
        self.n_features = width if isinstance(width, int) else None
        self._check(inputs, outputs, expected_features)

    def _check(self, inputs, outputs, expected) -> None:
        got = [(i.name, list(i.shape)) for i in inputs]
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or self.n_features is None:
            raise OnnxModelMismatch(
                f"{self.path}: ONNX file of another model: inputs {got}, expected one input "
                f"{INPUT_NAME!r} of shape [batch, F]"
            )
        if len(outputs) != 1 or outputs[0].name != OUTPUT_NAME:
            raise OnnxModelMismatch(
                f"{self.path}: ONNX file of another model: outputs "
                f"{[o.name for o in outputs]}, expected one output {OUTPUT_NAME!r}"
            )
        if expected is None:
            return
        n = expected if isinstance(expected, int) else len(expected)
        if n != self.n_features:
            names = "" if isinstance(expected, int) else f" ({', '.join(expected)})"
            raise OnnxModelMismatch(
                f"{self.path}: ONNX file of another model: input {INPUT_NAME!r} takes "
                f"{self.n_features} features, expected {n}{names}"
            )
        if (
            not isinstance(expected, int)
            and self.feature_names is not None
            and list(self.feature_names) != list(expected)
        ):
            raise OnnxModelMismatch(
                f"{self.path}: ONNX file of another model: trained on features "
                f"{self.feature_names}, expected {list(expected)}"
            )

    def __call__(self, x: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
        """Probabilities ``(N,)`` for features ``x`` of shape ``(N, F)``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"{self.path}: input of shape {x.shape}, expected (N, {self.n_features})"
            )
        out = [
            self.session.run([OUTPUT_NAME], {INPUT_NAME: x[i : i + batch_size]})[0]
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(out).reshape(-1) if out else np.zeros(0, np.float32)


def _json_or_str(v: str) -> Any:
    try:
        return json.loads(v)
    except (json.JSONDecodeError, TypeError):
        return v


@torch.no_grad()
def check_parity(
    model: nn.Module, onnx_path: str | os.PathLike, x: np.ndarray, atol: float = 1e-5
) -> float:
    """Largest |PyTorch − ONNX Runtime| output difference on ``x`` ``(N, F)``.

    Raises:
        AssertionError: the difference exceeds ``atol``.
    """
    model = model.to("cpu").eval()
    ref = model(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy().reshape(-1)
    got = OnnxClassifier(onnx_path, expected_features=x.shape[1])(x)
    diff = float(np.max(np.abs(ref - got))) if len(ref) else 0.0
    if not diff <= atol:
        raise AssertionError(
            f"{onnx_path}: ONNX Runtime differs from PyTorch by {diff:.3g} > {atol:g}"
        )
    return diff


#: Only the matrix products are quantized: input preprocessing (log, min-max) and the output
#: sigmoid stay in float, where INT8 would lose the features' dynamic range.
_QUANT_OPS = ["MatMul", "Gemm"]


class _Calibration:
    """ONNX Runtime calibration reader over an array, in batches."""

    def __init__(self, x: np.ndarray, batch_size: int = 256):
        batches = [
            {INPUT_NAME: np.ascontiguousarray(x[i : i + batch_size], dtype=np.float32)}
            for i in range(0, len(x), batch_size)
        ]
        self._batches = iter(batches)

    def get_next(self):
        return next(self._batches, None)


def quantize_int8(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    mode: str = "dynamic",
    calibration: np.ndarray | None = None,
    per_channel: bool = False,
) -> Path:
    """Quantize an ONNX model to INT8 with ONNX Runtime, atomically.

    Args:
        src, dst: input and output ``.onnx`` files.
        mode: ``"dynamic"`` (INT8 weights, activations quantized per batch at run time; no
            calibration) or ``"static"`` (QDQ format, activation ranges calibrated on
            ``calibration`` with the MinMax method).
        calibration: sample inputs ``(N, F)`` for ``static`` (a few thousand rows suffice).
        per_channel: per-output-channel weight scales.

    Only MatMul/Gemm nodes are quantized (weights INT8; bias and preprocessing in float).

    Returns:
        The path written. The metadata (feature names...) is carried over, plus
        ``quantization`` = the mode.
    """
    onnx = require("onnx")
    q = require("onnxruntime.quantization")

    if mode not in ("dynamic", "static"):
        raise ValueError(f"mode={mode!r}: expected 'dynamic' or 'static'")
    if mode == "static" and (calibration is None or len(calibration) == 0):
        raise ValueError("mode='static' needs calibration inputs (N, F)")
    src, dst = Path(src), Path(dst)
    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    with atomic_path(dst) as tmp, atomic_path(dst.with_suffix(".pre.onnx")) as pre:
        q.quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        if mode == "dynamic":
            q.quantize_dynamic(
                str(pre),
                str(tmp),
                weight_type=q.QuantType.QInt8,
                per_channel=per_channel,
                op_types_to_quantize=_QUANT_OPS,
            )
        else:
            assert calibration is not None  # checked above for mode='static'
            q.quantize_static(
                str(pre),
                str(tmp),
                _Calibration(calibration),
                quant_format=q.QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=q.QuantType.QInt8,
                weight_type=q.QuantType.QInt8,
                calibrate_method=q.CalibrationMethod.MinMax,
                op_types_to_quantize=_QUANT_OPS,
            )
        model = onnx.load(str(tmp))
        _strip(model)
        del model.metadata_props[:]
        for k, v in {**meta, "quantization": json.dumps(mode)}.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(model, str(tmp))
    dst.with_suffix(".pre.onnx").unlink(missing_ok=True)
    return dst


def file_size(path: str | os.PathLike) -> int:
    """Size of a file in bytes."""
    return Path(path).stat().st_size


def weight_bytes(path: str | os.PathLike) -> int:
    """Bytes held by the initializers (weights, biases, quantization scales) of an ONNX file;
    unlike :func:`file_size` it leaves out the graph description."""
    onnx = require("onnx")
    numpy_helper = require("onnx.numpy_helper")

    model = onnx.load(str(path))
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def throughput(
    predict: Callable[[np.ndarray], Any], x: np.ndarray, batch_size: int, min_seconds: float = 0.5
) -> float:
    """Rows per second of ``predict`` called on consecutive batches of ``x`` of ``batch_size``.

    Runs whole passes over ``x`` (after one warm-up batch) until ``min_seconds`` have elapsed.
    """
    batches = [x[i : i + batch_size] for i in range(0, len(x) - batch_size + 1, batch_size)]
    if not batches:
        raise ValueError(f"x has {len(x)} rows, fewer than batch_size={batch_size}")
    predict(batches[0])
    rows, t0 = 0, time.perf_counter()
    while True:
        for b in batches:
            predict(b)
            rows += len(b)
            if time.perf_counter() - t0 >= min_seconds:
                return rows / (time.perf_counter() - t0)
