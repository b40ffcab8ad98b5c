"""The TRT chapter's steps, each callable on its own so every notebook runs standalone.

``sample`` → ``prepare`` → ``train`` → ``evaluate``: each step checks whether its input exists
in the run folder and runs the previous step when it does not. A real TRTFrame ntuple given as
``data_path`` replaces the simulated sample.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from tqdm.auto import tqdm

from hepnb import data, io
from hepnb import train as _train
from hepnb.data import SequenceDataset, Standardizer
from hepnb.features import trt as feat
from hepnb.models.lstm import HitLSTM
from hepnb.runs import run_dir

log = logging.getLogger(__name__)

DATASET = "trt_dataset.npz"
NORMALIZATION = "normalization.json"
MODEL_DIR = "lstm"
SCORES = "trt_scores.npz"
SIGNAL, BACKGROUND = "electron", "muon"


def sample(
    out_dir: str | os.PathLike | None = None,
    n_tracks: int = 20_000,
    seed: int = 0,
    data_path: str | os.PathLike | None = None,
) -> Path:
    """The ROOT file to analyse: ``data_path`` if given, else the simulated sample in the run
    folder (generated on first use, ``n_tracks`` per tree)."""
    if data_path:
        path = Path(data_path)
        if not path.exists():
            raise FileNotFoundError(f"data_path={str(path)!r}: no such file")
        return path
    from hepnb.sim import trt as sim

    path = run_dir("trt", out_dir) / f"trt_sim_n{n_tracks}_seed{seed}.root"
    if not path.exists():
        sim.generate(path, n_tracks=n_tracks, seed=seed)
    return path


def _is_simulated(path: Path) -> bool:
    return path.name.startswith("trt_sim_")


def _baselines(arrays: ak.Array, simulated: bool) -> dict[str, np.ndarray]:
    out = {"eProbHT": ak.to_numpy(arrays["eProbHT"]).astype(np.float64)}
    if simulated:
        from hepnb.sim import trt as sim

        out["optimum"] = sim.log_likelihood_ratio(arrays, background=BACKGROUND)
    return out


def prepare(
    out_dir: str | os.PathLike | None = None,
    n_tracks: int = 20_000,
    seed: int = 0,
    data_path: str | os.PathLike | None = None,
    min_hits: int = 5,
) -> dict[str, Any]:
    """Read the ntuple, build packed-sequence datasets, split 60/20/20 (stratified, seeded),
    fit the normalisation on the training split only, and save everything in the run folder.

    Saves ``trt_dataset.npz`` (hits, offsets, track features, labels, weights, split, the
    baselines eProbHT and — for simulated samples — the exact log-likelihood ratio, for the MC
    trees and the "data" trees) and ``normalization.json``.

    Returns:
        Counts per split and sample, and the paths written.
    """
    out = run_dir("trt", out_dir)
    config = _config(n_tracks, seed, data_path, min_hits)
    path = sample(out, n_tracks, seed, data_path)
    simulated = _is_simulated(path)
    arrays: dict[str, Any] = {}
    counts: dict[str, int] = {}
    samples = {"mc": ("electron_mc", "muon_mc"), "data": ("electron_probes", "muon_probes")}
    for key, (sig, bkg) in tqdm(samples.items(), desc="TRT ntuple → sequences", unit="sample"):
        try:
            branches = (
                (*feat.TRACK_BRANCHES, *feat.HIT_BRANCHES) if simulated else feat.FEATURE_BRANCHES
            )
            raw = feat.read_trees(path, sig, bkg, branches=branches)
        except io.SchemaError as exc:
            if key == "data" and "no tree" in str(exc):
                log.warning("%s has no tag-and-probe trees: no 'data' test set", path)
                continue
            raise
        n_before = sum(len(a) for a in raw)
        raw = [feat.drop_short(a, min_hits) for a in raw]
        counts[f"{key}_dropped_short"] = n_before - sum(len(a) for a in raw)
        ds = feat.to_dataset(raw, min_hits)
        baselines = [_baselines(a, simulated) for a in raw]
        for name in baselines[0]:
            arrays[f"{key}_{name}"] = np.concatenate([b[name] for b in baselines])
        arrays |= {
            f"{key}_items": ds.items.numpy(),
            f"{key}_offsets": ds.offsets.numpy(),
            f"{key}_features": ds.features.numpy(),
            f"{key}_y": ds.y.numpy(),
            f"{key}_w": ds.w.numpy(),
        }
        counts[f"{key}_tracks"] = len(ds)
    tr, va, te = data.split_indices(counts["mc_tracks"], (0.6, 0.2, 0.2), seed, arrays["mc_y"])
    arrays |= {"train": tr, "val": va, "test": te}
    counts |= {"train": len(tr), "val": len(va), "test": len(te)}
    # normalisation: training split only
    train_hits = SequenceDataset(
        arrays["mc_items"], arrays["mc_offsets"], arrays["mc_features"], arrays["mc_y"]
    ).subset(tr)
    norm = {
        "hits": Standardizer.fit(train_hits.items.numpy(), feat.HIT_FEATURES).to_dict(),
        "tracks": Standardizer.fit(train_hits.features.numpy(), feat.TRACK_FEATURES).to_dict(),
        "source": str(path),
        "simulated": simulated,
        "config": config,
    }
    if _stored_config(out) != config:  # products of an earlier configuration are stale now
        (out / SCORES).unlink(missing_ok=True)
        # the model and its checkpoint go; the MLflow store keeps the record of the old runs
        for name in (_train.CHECKPOINT, _train.BEST):
            (out / MODEL_DIR / name).unlink(missing_ok=True)
    io.save_arrays(out / DATASET, **arrays)
    io.atomic_write_json(out / NORMALIZATION, norm)
    return {"sample": str(path), "dataset": str(out / DATASET), **counts}


@dataclass
class Prepared:
    """Datasets of a prepared run folder."""

    train: SequenceDataset
    val: SequenceDataset
    test: SequenceDataset
    data: SequenceDataset | None
    baselines: dict[str, dict[str, np.ndarray]]  # {"test"|"data": {name: score}}
    hits: Standardizer
    tracks: Standardizer
    simulated: bool


def _config(n_tracks: int, seed: int, data_path, min_hits: int) -> dict[str, Any]:
    return {
        "n_tracks": int(n_tracks),
        "seed": int(seed),
        "data_path": str(data_path or ""),
        "min_hits": int(min_hits),
    }


def _stored_config(out: Path) -> dict[str, Any] | None:
    path = out / NORMALIZATION
    return json.loads(path.read_text()).get("config") if path.exists() else None


def load_prepared(
    out_dir: str | os.PathLike | None = None,
    n_tracks: int = 20_000,
    seed: int = 0,
    data_path: str | os.PathLike | None = None,
    min_hits: int = 5,
) -> Prepared:
    """Load ``prepare``'s output, running ``prepare`` first if it is missing or was made with
    another configuration (sample size, seed, input file, hit cut)."""
    out = run_dir("trt", out_dir)
    config = _config(n_tracks, seed, data_path, min_hits)
    if not (out / DATASET).exists() or _stored_config(out) != config:
        prepare(out, n_tracks, seed, data_path, min_hits)
    a = io.load_arrays(out / DATASET)
    norm = json.loads((out / NORMALIZATION).read_text())

    def ds(key: str) -> SequenceDataset:
        return SequenceDataset(
            a[f"{key}_items"],
            a[f"{key}_offsets"],
            a[f"{key}_features"],
            a[f"{key}_y"],
            a[f"{key}_w"],
        )

    mc = ds("mc")
    has_data = "data_items" in a
    names = [k[len("mc_") :] for k in a if k.startswith("mc_") and k[3:] in ("eProbHT", "optimum")]
    baselines = {"test": {n: a[f"mc_{n}"][a["test"]] for n in names}}
    if has_data:
        baselines["data"] = {n: a[f"data_{n}"] for n in names if f"data_{n}" in a}
    return Prepared(
        train=mc.subset(a["train"]),
        val=mc.subset(a["val"]),
        test=mc.subset(a["test"]),
        data=ds("data") if has_data else None,
        baselines=baselines,
        hits=Standardizer.from_dict(norm["hits"]),
        tracks=Standardizer.from_dict(norm["tracks"]),
        simulated=bool(norm["simulated"]),
    )


def build_model(p: Prepared, hidden: int = 64, head: tuple[int, ...] = (128,)) -> HitLSTM:
    """The published LSTM with the training-split normalisation stored inside it."""
    model = HitLSTM(len(feat.HIT_FEATURES), len(feat.TRACK_FEATURES), hidden=hidden, head=head)
    return model.set_normalization(p.hits, p.tracks)


def loaders(p: Prepared, batch_size: int = 256) -> dict[str, Any]:
    """Batch loaders for train (shuffled), val and test (and data, if present)."""
    out = {
        "train": data.batch_loader(p.train, batch_size, shuffle=True),
        "val": data.batch_loader(p.val, 1024),
        "test": data.batch_loader(p.test, 1024),
    }
    if p.data is not None:
        out["data"] = data.batch_loader(p.data, 1024)
    return out


def train(
    out_dir: str | os.PathLike | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    hidden: int = 64,
    seed: int = 0,
    device: str = "auto",
    resume: bool = True,
    progress: bool = True,
    **prepare_kw,
) -> tuple[HitLSTM, _train.History, Prepared]:
    """Train the LSTM on a prepared run folder (preparing it first if needed).

    Checkpoints, the best model and the MLflow store go to ``<out_dir>/lstm``; test-set scores
    to ``<out_dir>/trt_scores.npz``.
    """
    out = run_dir("trt", out_dir)
    p = load_prepared(out, seed=seed, **prepare_kw)
    _train.set_seed(seed)
    model = build_model(p, hidden=hidden)
    ld = loaders(p, batch_size)
    history = _train.fit(
        model,
        {"train": ld["train"], "val": ld["val"]},
        epochs=epochs,
        lr=lr,
        seed=seed,
        device=device,
        out_dir=out / MODEL_DIR,
        resume=resume,
        experiment="trt",
        progress=progress,
        params={
            "hidden": hidden,
            "batch_size": batch_size,
            "n_train": len(p.train),
            "simulated": p.simulated,
        },
    )
    save_scores(model, p, out, device)
    return model, history, p


def save_scores(
    model: HitLSTM, p: Prepared, out_dir: str | os.PathLike, device: str = "auto"
) -> Path:
    """Score the test set (and the data set) and save them with labels and baselines."""
    ld = loaders(p)
    arrays: dict[str, np.ndarray] = {}
    for key in ("test", "data"):
        if key not in ld:
            continue
        s, y = _train.predict(model, ld[key], device, progress=True)
        arrays |= {
            f"{key}_lstm": s,
            f"{key}_y": y,
            f"{key}_w": (p.test if key == "test" else p.data).w.numpy(),
        }
        arrays |= {f"{key}_{n}": v for n, v in p.baselines.get(key, {}).items()}
    return io.save_arrays(Path(out_dir) / SCORES, **arrays)


def load_scores(out_dir: str | os.PathLike | None = None, **train_kw) -> dict[str, dict[str, Any]]:
    """Test-set scores per sample: ``{"test"|"data": {"y": ..., "lstm": ..., "eProbHT": ...,
    "optimum": ...}}``; trains the model first if no scores exist, or if the configuration
    given (``n_tracks``, ``seed``, ``data_path``, ``min_hits``; those not given are not checked)
    differs from the one the scores were made with."""
    out = run_dir("trt", out_dir)
    given = {k: train_kw[k] for k in ("n_tracks", "seed", "data_path", "min_hits") if k in train_kw}
    wanted = _config(**{"n_tracks": 0, "seed": 0, "data_path": "", "min_hits": 0, **given})
    stored = _stored_config(out) or {}
    if not (out / SCORES).exists() or any(stored.get(k) != wanted[k] for k in given):
        train(out, **train_kw)
    a = io.load_arrays(out / SCORES)
    result: dict[str, dict[str, Any]] = {}
    for k, v in a.items():
        sample_key, name = k.split("_", 1)
        result.setdefault(sample_key, {})[name] = v
    return result


def load_model(out_dir: str | os.PathLike | None = None, hidden: int = 64) -> HitLSTM:
    """The best trained model of a run folder (normalisation included)."""
    out = run_dir("trt", out_dir)
    state = torch.load(out / MODEL_DIR / _train.BEST, map_location="cpu", weights_only=True)
    model = HitLSTM(len(feat.HIT_FEATURES), len(feat.TRACK_FEATURES), hidden=hidden)
    model.load_state_dict(state)
    return model.eval()


def scores_mapping(scores: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The classifier scores of one sample (everything but labels and weights)."""
    return {k: v for k, v in scores.items() if k not in ("y", "w")}
