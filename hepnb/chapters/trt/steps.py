"""The TRT chapter's steps: what the notebooks call, each taking the configuration ``cfg``.

``sample`` → ``prepare`` → ``train`` → ``load_scores``. Each step writes into a cached step folder
of the run folder (:func:`hepnb.runs.step`) named after a hash of the configuration fields it
depends on, and runs the steps before it when their folder is missing, so every notebook runs
standalone:

* ``sample-<key>/trt_sim.root`` — the simulated ntuple (``n_tracks``, ``seed``); a real
  ``data_path`` replaces it;
* ``dataset-<key>/`` — packed hit sequences, track features, labels, weights and baselines,
  split 60/20/20 (stratified, seeded), scalers fitted on the training split only
  (``n_tracks``, ``seed``, ``data_path``, ``min_hits``);
* ``lstm-<key>/`` — checkpoints, best model, MLflow store and test-set scores (the dataset's
  fields and ``hidden``, ``lr``, ``batch_size``). More ``epochs`` resume the same checkpoint;
  another hidden size or learning rate trains a new model in a new folder beside it.
"""

from __future__ import annotations

import logging
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
from hepnb.chapters import base
from hepnb.chapters.trt import reader, sim
from hepnb.chapters.trt.config import TRTConfig
from hepnb.chapters.trt.schema import (
    FEATURE_BRANCHES,
    HIT_BRANCHES,
    HIT_FEATURES,
    TRACK_BRANCHES,
    TRACK_FEATURES,
)
from hepnb.data import Scaler, SequenceDataset
from hepnb.models.lstm import HitLSTM
from hepnb.runs import Step, step

__all__ = [
    "DATASET_FIELDS",
    "LSTM_FIELDS",
    "SAMPLE_FIELDS",
    "Prepared",
    "build_model",
    "dataset_step",
    "load_model",
    "load_prepared",
    "load_scores",
    "loaders",
    "lstm_step",
    "prepare",
    "read_mc",
    "sample",
    "save_scores",
    "scores_mapping",
    "train",
]

log = logging.getLogger(__name__)

#: Configuration fields each step depends on (its own and its inputs').
SAMPLE_FIELDS = ("n_tracks", "seed")
DATASET_FIELDS = ("n_tracks", "seed", "data_path", "min_hits")
LSTM_FIELDS = (*DATASET_FIELDS, "hidden", "lr", "batch_size")

SAMPLE_FILE = "trt_sim.root"
SCORES = "scores.npz"
SIGNAL, BACKGROUND = "electron", "muon"
#: Sample → (signal tree, background tree): "mc" is split, "data" is a second test set.
SAMPLES = {"mc": ("electron_mc", "muon_mc"), "data": ("electron_probes", "muon_probes")}
FRACTIONS = (0.6, 0.2, 0.2)
_SEQUENCE = ("hits", "hits_offsets", "features", "y", "w")


# --- sample -----------------------------------------------------------------------------------
def sample(cfg: TRTConfig) -> Path | list[Path]:
    """The ntuple to analyse: ``cfg.data_path`` (checked; a glob gives a sorted list of files),
    else the simulated sample, made once per (``n_tracks``, ``seed``) in ``sample-<key>/``."""

    def simulate(folder: Path) -> None:
        sim.generate(folder / SAMPLE_FILE, n_tracks=cfg.n_tracks, seed=cfg.seed)

    found = base.ensure_sample(cfg, simulate, SAMPLE_FIELDS)
    return found if cfg.data_path else Path(found) / SAMPLE_FILE


def read_mc(
    cfg: TRTConfig,
    species: tuple[str, ...] = ("electron", "muon", "pion"),
    branches: tuple[str, ...] = (*TRACK_BRANCHES, *HIT_BRANCHES),
) -> dict[str, ak.Array]:
    """The ``<species>_mc`` trees of the sample, one awkward array of tracks per species."""
    path = sample(cfg)
    return {s: reader.load(path, f"{s}_mc", (), branches=branches) for s in species}


# --- dataset ----------------------------------------------------------------------------------
@dataclass
class Prepared:
    """The datasets of the dataset step.

    Attributes:
        train, val, test: splits of the simulated ("mc") electrons and muons.
        data: the tag-and-probe "data" sample (None if the ntuple has no probe trees).
        baselines: ``{"test"|"data": {name: score (N,)}}`` — ``eProbHT`` and, for simulated
            samples, ``optimum`` (the simulator's exact log-likelihood ratio).
        hits, tracks: standard scalers of the hit and track features, fitted on ``train``.
        info: what the step recorded: ``counts``, ``source``, ``simulated``.
        step: the step folder.
    """

    train: SequenceDataset
    val: SequenceDataset
    test: SequenceDataset
    data: SequenceDataset | None
    baselines: dict[str, dict[str, np.ndarray]]
    hits: Scaler
    tracks: Scaler
    info: dict[str, Any]
    step: Step

    @property
    def simulated(self) -> bool:
        """Whether the sample is the simulator's (then the ``optimum`` baseline exists)."""
        return bool(self.info.get("simulated"))

    @property
    def counts(self) -> dict[str, int]:
        """Tracks per split and sample, and those dropped for too few hits."""
        return dict(self.info.get("counts", {}))


def dataset_step(cfg: TRTConfig) -> Step:
    """The dataset step folder of ``cfg`` (``dataset-<key>/``)."""
    return step(cfg, "dataset", DATASET_FIELDS)


def _baselines(arrays: ak.Array, simulated: bool) -> dict[str, np.ndarray]:
    out = {"eProbHT": ak.to_numpy(arrays["eProbHT"]).astype(np.float64)}
    if simulated:
        out["optimum"] = sim.log_likelihood_ratio(arrays, background=BACKGROUND)
    return out


def _columns(ds: SequenceDataset, baselines: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-track arrays of a sample (hits go separately, as a sequence)."""
    return {"features": ds.features.numpy(), "y": ds.y.numpy(), "w": ds.w.numpy(), **baselines}


def _make_dataset(cfg: TRTConfig, st: Step, progress: bool) -> None:
    path = sample(cfg)
    simulated = not cfg.data_path
    branches = (*TRACK_BRANCHES, *HIT_BRANCHES) if simulated else FEATURE_BRANCHES
    datasets: dict[str, SequenceDataset] = {}
    baselines: dict[str, dict[str, np.ndarray]] = {}
    counts: dict[str, int] = {}
    for key, (sig, bkg) in tqdm(
        SAMPLES.items(), desc="TRT ntuple → sequences", unit="sample", disable=not progress
    ):
        try:
            raw = reader.read_trees(path, sig, bkg, branches=branches)
        except io.SchemaError as exc:
            if key == "data" and "no tree" in str(exc):
                log.warning("%s has no tag-and-probe trees: no 'data' test set", path)
                continue
            raise
        n_before = sum(len(a) for a in raw)
        raw = [reader.drop_short(a, cfg.min_hits) for a in raw]
        counts[f"{key}_dropped_short"] = n_before - sum(len(a) for a in raw)
        datasets[key] = reader.to_dataset(raw, cfg.min_hits)
        parts = [_baselines(a, simulated) for a in raw]
        baselines[key] = {n: np.concatenate([b[n] for b in parts]) for n in parts[0]}
        counts[f"{key}_tracks"] = len(datasets[key])
    mc = datasets["mc"]
    extra = {}
    if "data" in datasets:
        d = datasets["data"]
        extra["data"] = {
            "hits": d.items.numpy(),
            "hits_offsets": d.offsets.numpy(),
            **_columns(d, baselines["data"]),
        }
    source = [str(p) for p in path] if isinstance(path, list) else str(path)
    base.split_normalise_save(
        st,
        _columns(mc, baselines["mc"]),
        sequences={"hits": (mc.items.numpy(), mc.offsets.numpy())},
        seed=cfg.seed,
        stratify=mc.y.numpy(),
        fractions=FRACTIONS,
        scalers={
            "hits": lambda a: Scaler.standard(a, HIT_FEATURES),
            "features": lambda a: Scaler.standard(a, TRACK_FEATURES),
        },
        extra=extra,
        info={"counts": counts, "source": source, "simulated": simulated},
    )


def prepare(cfg: TRTConfig, progress: bool = True) -> dict[str, Any]:
    """Make the dataset step unless it is done; return what it recorded.

    Reads electrons (label 1) and muons (label 0) from the MC trees, drops tracks with fewer
    than ``cfg.min_hits`` hits, builds packed hit sequences (:data:`HIT_FEATURES`) and track
    features (:data:`TRACK_FEATURES`), splits them 60/20/20 (``data.split``, stratified by
    label, seeded by ``cfg.seed``), fits standard scalers on the training split and saves
    ``arrays.npz`` (``<split>/<array>``, the layout of
    :func:`hepnb.chapters.base.load_split_arrays`) and ``scalers.json``. The tag-and-probe trees,
    when present, become the whole ``data`` sample.

    Returns:
        ``{"counts": {...}, "source": ..., "simulated": bool, "config": {...}}``.
    """
    st = dataset_step(cfg)
    if not st.done:
        _make_dataset(cfg, st, progress)
    return st.info()


def load_prepared(cfg: TRTConfig, progress: bool = True) -> Prepared:
    """The datasets of ``cfg`` (made first by :func:`prepare` when missing)."""
    prepare(cfg, progress)
    loaded = base.load_split_arrays(dataset_step(cfg))
    arrays = loaded.arrays

    def seq(name: str) -> SequenceDataset:
        a = arrays[name]
        return SequenceDataset(*(a[k] for k in _SEQUENCE))

    def extra(name: str) -> dict[str, np.ndarray]:
        return {k: v for k, v in arrays[name].items() if k not in (*_SEQUENCE, "index")}

    has_data = "data" in arrays
    baselines = {"test": extra("test")} | ({"data": extra("data")} if has_data else {})
    return Prepared(
        train=seq("train"),
        val=seq("val"),
        test=seq("test"),
        data=seq("data") if has_data else None,
        baselines=baselines,
        hits=_checked(loaded.scalers["hits"], HIT_FEATURES),
        tracks=_checked(loaded.scalers["features"], TRACK_FEATURES),
        info=loaded.info,
        step=loaded.step,
    )


def _checked(scaler: Scaler, names: tuple[str, ...]) -> Scaler:
    if scaler.names != tuple(names):
        raise ValueError(f"scaler fitted on features {list(scaler.names)}, expected {list(names)}")
    return scaler


# --- model ------------------------------------------------------------------------------------
def build_model(p: Prepared, hidden: int = 64, head: tuple[int, ...] = (128,)) -> HitLSTM:
    """The published LSTM with the training-split scaling stored inside it."""
    model = HitLSTM(len(HIT_FEATURES), len(TRACK_FEATURES), hidden=hidden, head=head)
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


def lstm_step(cfg: TRTConfig) -> Step:
    """The training step folder of ``cfg`` (``lstm-<key>/``)."""
    return step(cfg, "lstm", LSTM_FIELDS)


def train(cfg: TRTConfig, progress: bool = True) -> tuple[HitLSTM, _train.History, Prepared]:
    """Train the LSTM (resuming its checkpoint) and score the test and data samples.

    Up to ``cfg.epochs`` epochs of :func:`hepnb.train.fit` in the ``lstm-<key>/`` folder
    (:func:`hepnb.chapters.base.train_step`): checkpoints, best model and MLflow store go there,
    and the scores to ``scores.npz`` beside them.

    Returns:
        ``(model with the best weights, history, datasets)``.
    """
    p = load_prepared(cfg, progress)
    st = lstm_step(cfg)
    epochs_before = st.info().get("epochs_run")
    _train.set_seed(cfg.seed)
    model = build_model(p, hidden=cfg.hidden)
    ld = loaders(p, cfg.batch_size)
    history = base.train_step(
        cfg,
        model,
        {"train": ld["train"], "val": ld["val"]},
        st,
        params={"n_train": len(p.train), "simulated": p.simulated},
        progress=progress,
    )
    if epochs_before != len(history) or not (st / SCORES).exists():
        save_scores(model, p, st / SCORES, cfg.device, progress)
    return model, history, p


def save_scores(
    model: HitLSTM,
    p: Prepared,
    path: str | Path,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Score the test set (and the data set) and save them with labels, weights and baselines
    as ``<sample>/<name>`` arrays (``sample``: ``test`` or ``data``)."""
    ld = loaders(p)
    arrays: dict[str, np.ndarray] = {}
    for key, ds in (("test", p.test), ("data", p.data)):
        if ds is None:
            continue
        s, y = _train.predict(model, ld[key], device, progress=progress)
        arrays |= {f"{key}/lstm": s, f"{key}/y": y, f"{key}/w": ds.w.numpy()}
        arrays |= {f"{key}/{n}": v for n, v in p.baselines.get(key, {}).items()}
    return io.save_arrays(path, **arrays)


def load_scores(cfg: TRTConfig, progress: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Scores per sample, ``{"test"|"data": {"y", "w", "lstm", "eProbHT"[, "optimum"]}}``, of
    the model ``cfg`` describes; trained first (:func:`train`) if it has none yet."""
    st = lstm_step(cfg)
    if not (st.done and (st / SCORES).exists()):
        train(cfg, progress)
    result: dict[str, dict[str, np.ndarray]] = {}
    for k, v in io.load_arrays(st / SCORES).items():
        sample_name, name = k.split("/", 1)
        result.setdefault(sample_name, {})[name] = v
    return result


def load_model(cfg: TRTConfig) -> HitLSTM:
    """The best model of ``cfg`` (scaling included), trained first if there is none."""
    st = lstm_step(cfg)
    if not (st.done and (st / _train.BEST).exists()):
        train(cfg)
    state = torch.load(st / _train.BEST, map_location="cpu", weights_only=True)
    model = HitLSTM(len(HIT_FEATURES), len(TRACK_FEATURES), hidden=cfg.hidden)
    model.load_state_dict(state)
    return model.eval()


def scores_mapping(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The classifier scores of one sample (everything but labels and weights)."""
    return {k: v for k, v in scores.items() if k not in ("y", "w")}
