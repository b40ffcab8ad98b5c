"""LSTM training throughput (tracks/s) and peak memory, with packed sequences against a
reference measured in the same run: the same LSTM on zero-padded batches (mode="padded").

    python bench/bench_train_trt.py [--n-tracks 20000] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, timer, trt_sample

from hepnb import data, train
from hepnb.chapters.trt import reader
from hepnb.models.lstm import HitLSTM


def one_epoch(model, ds, batch_size: int) -> float:
    loaders = {
        "train": data.batch_loader(ds, batch_size, shuffle=True),
        "val": data.batch_loader(ds.subset(range(min(len(ds), 2048))), 1024),
    }
    r: dict[str, float] = {}
    with timer(r, "t"):
        train.fit(model, loaders, epochs=1, mlflow=False, progress=False, device="cpu")
    return len(ds) / r["t"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-tracks", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=256)
    a = ap.parse_args()
    ds = reader.to_dataset(reader.load(trt_sample(a.n_tracks), "electron_mc", "muon_mc"))
    mem0 = peak_rss_mb()
    train.set_seed(0)
    packed = one_epoch(HitLSTM(), ds, a.batch_size)
    mem1 = peak_rss_mb()
    train.set_seed(0)
    padded = one_epoch(HitLSTM(mode="padded"), ds, a.batch_size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(ds)} tracks")
    print(
        f"packed LSTM : {packed:10,.0f} tracks/s   (peak RSS {mem1:,.0f} MB, data {mem0:,.0f} MB)"
    )
    print(f"padded LSTM : {padded:10,.0f} tracks/s")
    print(f"packed / padded throughput: {packed / padded:.2f}x")


if __name__ == "__main__":
    main()
