"""ONNX fp32 vs INT8 vs PyTorch: throughput at batch 1 and 4096, and model sizes.

Every ratio is against the fp32 ONNX model measured in the same run, on the same inputs and
the same number of threads — no absolute timing is compared across machines.

    python bench/bench_onnx.py                           # MLPs of several widths
    python bench/bench_onnx.py --onnx runs/ghost/train-<key>/ghost_matching.onnx  # a trained one
    python bench/bench_onnx.py --threads 2 --static      # also static QDQ INT8

For a width sweep the MLPs have random weights (the speed does not depend on their values);
the INT8 accuracy cost is measured on trained models in ``book/ghost/train_ghost``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from hepnb import export
from hepnb.data import Scaler
from hepnb.models.mlp import MLP, WithProbabilities

BATCHES = (1, 4096)


def measure(name: str, fn, x: np.ndarray, seconds: float) -> dict[int, float]:
    rates = {b: export.throughput(fn, x, b, seconds) for b in BATCHES}
    print(f"  {name:12s}" + "".join(f"{rates[b]:>16,.0f}" for b in BATCHES), flush=True)
    return rates


def bench_model(onnx_path: Path, torch_model, n_features: int, args, tmp: Path) -> dict:
    x = np.random.default_rng(0).lognormal(0, 1, (8192, n_features)).astype(np.float32)
    paths = {"onnx fp32": onnx_path}
    paths["onnx int8"] = export.quantize_int8(onnx_path, tmp / "int8_dynamic.onnx")
    if args.static:
        paths["onnx int8 qdq"] = export.quantize_int8(
            onnx_path, tmp / "int8_static.onnx", mode="static", calibration=x[:2048]
        )
    print(f"  {'rows/s':12s}" + "".join(f"{'batch ' + str(b):>16s}" for b in BATCHES))
    rates = {}
    for name, p in paths.items():
        rates[name] = measure(name, export.OnnxClassifier(p, threads=args.threads), x, args.seconds)
    if torch_model is not None:
        torch.set_num_threads(args.threads)
        torch_model.eval()

        @torch.no_grad()
        def run_torch(b):
            return torch_model(torch.from_numpy(b)).numpy()

        rates["pytorch"] = measure("pytorch", run_torch, x, args.seconds)
    ref = rates["onnx fp32"]
    print("  ratio to onnx fp32:")
    for name, r in rates.items():
        print(f"  {name:12s}" + "".join(f"{r[b] / ref[b]:>16.2f}" for b in BATCHES))
    f32, w32 = export.file_size(onnx_path), export.weight_bytes(onnx_path)
    for name, p in paths.items():
        if name != "onnx fp32":
            print(
                f"  size {name}: file {export.file_size(p):,} B (fp32 {f32:,} B, "
                f"{f32 / export.file_size(p):.2f}× smaller); weights {export.weight_bytes(p):,} B "
                f"(fp32 {w32:,} B, {w32 / export.weight_bytes(p):.2f}× smaller)"
            )
    return rates


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--onnx", type=Path, help="an exported classifier (input 'features')")
    ap.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[32, 64, 128, 256],
        help="MLP widths for the sweep (ignored with --onnx)",
    )
    ap.add_argument("--features", type=int, default=13, help="input width of the sweep MLPs")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (all runtimes)")
    ap.add_argument("--seconds", type=float, default=1.0, help="measuring time per point")
    ap.add_argument("--static", action="store_true", help="also static QDQ INT8")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.onnx is not None:
            clf = export.OnnxClassifier(args.onnx)
            print(f"{args.onnx}: {clf.n_features} features, {args.threads} thread(s)")
            bench_model(args.onnx, None, clf.n_features, args, tmp)
            return 0
        for h in args.hidden:
            torch.manual_seed(0)
            mlp = MLP(args.features, hidden=h, batch_norm=True).eval()
            names = [f"f{i}" for i in range(args.features)]
            scaler = Scaler.minmax(  # signed-log + min-max folded in, as the chapter's models
                np.random.default_rng(0).lognormal(0, 1, (1000, args.features)),
                names,
                log_scales=dict.fromkeys(names, 1.0),
            )
            model = WithProbabilities(mlp, scaler.module()).eval()
            path = export.to_onnx(model, tmp / f"mlp{h}.onnx", args.features)
            n_par = sum(p.numel() for p in mlp.parameters())
            print(
                f"\nMLP {args.features}→{h}→{h}→1 with BatchNorm front ({n_par:,} parameters), "
                f"{args.threads} thread(s)"
            )
            bench_model(path, model, args.features, args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
