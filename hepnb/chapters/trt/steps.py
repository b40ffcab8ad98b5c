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
from hepnb.chapters.trt import likelihood, reader, sim
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
    "CLASSIFIERS",
    "DATASET_FIELDS",
    "LSTM_FIELDS",
    "SAMPLE_FIELDS",
    "SIGNAL_FRACTION",
    "VARIANTS",
    "Prepared",
    "build_model",
    "classical_scores",
    "dataset_step",
    "fit_tot",
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
#: Sample → (signal tree, background trees): "mc" is split, "data" is a second test set.
SAMPLES = {
    "mc": ("electron_mc", ("muon_mc", "pion_mc")),
    "data": ("electron_probes", ("muon_probes",)),
}
#: Species code of the ``species`` column (tree index in ``SAMPLES["mc"]``).
SPECIES_CODE = {"electron": 0, "muon": 1, "pion": 2}
FRACTIONS = (0.6, 0.2, 0.2)
_SEQUENCE = ("hits", "hits_offsets", "features", "y", "w")
#: The classifiers of the comparison, in table order (present ones only): ATLAS's HT
#: likelihood (as its log-ratio, the logit of eProbHT), the ToT likelihood, their product, the
#: LSTM without ToT, the LSTM, the LSTM trained against pions, the simulator's likelihood ratio
#: (on data: with the data response) and on data the ratio with the MC response.
CLASSIFIERS = (
    "eProbHT",
    "ToT",
    "combined",
    "lstm_ht",
    "lstm",
    "lstm_pion",
    "optimum",
    "optimum_mc",
)
#: The LSTM variants: name → (training set, validation set, ToT hidden).
VARIANTS = {
    "lstm": ("train", "val", False),
    "lstm_ht": ("train", "val", True),
    "lstm_pion": ("pion_train", "pion_val", False),
}
#: Electron fraction used for purity and F1: BR(Z→ee) = BR(Z→μμ) (lepton universality), the
#: mix of a Z tag-and-probe sample of electrons and muons.
SIGNAL_FRACTION = 0.5
#: The evaluated samples: e/μ validation and test, the "data" probes, and electrons vs pions.
SCORED = ("val", "test", "data", "pion_val", "pion_test")


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
        sets: ``train``, ``val``, ``test`` (electrons and muons of each split), ``pion_train``,
            ``pion_val``, ``pion_test`` (electrons and pions of each split, when the sample has
            pions) and ``data`` (the tag-and-probe sample, when present).
        baselines: per set, per-track columns: ``eProbHT`` (its log-ratio), ``region`` (0
            barrel, 1 end-cap A, 2 end-cap B: where most hits are), ``occ``, ``species`` and,
            for simulated samples, ``eProbHT_sl`` (straw-layer correction only), ``optimum``
            (the simulator's log-likelihood ratio against the set's background; on data with
            the data response) and on data ``optimum_mc`` (with the MC response).
        hits, tracks: standard scalers of the hit and track features, fitted on ``train``.
        info: what the step recorded: ``counts``, ``source``, ``simulated``.
        step: the step folder.
    """

    sets: dict[str, SequenceDataset]
    baselines: dict[str, dict[str, np.ndarray]]
    hits: Scaler
    tracks: Scaler
    info: dict[str, Any]
    step: Step

    @property
    def train(self) -> SequenceDataset:
        """Electrons and muons of the training split."""
        return self.sets["train"]

    @property
    def val(self) -> SequenceDataset:
        """Electrons and muons of the validation split."""
        return self.sets["val"]

    @property
    def test(self) -> SequenceDataset:
        """Electrons and muons of the test split."""
        return self.sets["test"]

    @property
    def data(self) -> SequenceDataset | None:
        """The tag-and-probe "data" sample, if any."""
        return self.sets.get("data")

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


def _region(arrays: ak.Array) -> np.ndarray:
    """Detector part where most of a track's hits are (0 barrel, 1 end-cap A, 2 end-cap B)."""
    z = abs(arrays["hit_HitZ"])
    n = [ak.to_numpy(ak.sum(c, axis=1)) for c in (z < 800, (z >= 800) & (z < 1720), z >= 1720)]
    return np.argmax(np.stack(n, axis=1), axis=1).astype(np.int8)


def _baselines(arrays: ak.Array, simulated: bool, key: str) -> dict[str, np.ndarray]:
    out = {
        "region": _region(arrays),
        "occ": ak.to_numpy(arrays["trkOcc"]).astype(np.float64),
    }
    if not simulated:
        e = np.clip(ak.to_numpy(arrays["eProbHT"]).astype(np.float64), 1e-12, 1 - 1e-12)
        out["eProbHT"] = np.log(e / (1 - e))
        return out
    out["eProbHT"] = sim.eprob_ht(arrays, llr=True)
    out["eProbHT_sl"] = sim.eprob_ht(arrays, per_hit=False, llr=True)
    if key == "data":  # the bound on data uses the data response; the MC one is shown beside
        out["optimum"] = sim.log_likelihood_ratio(arrays, background=BACKGROUND, data=True)
        out["optimum_mc"] = sim.log_likelihood_ratio(arrays, background=BACKGROUND)
    else:
        out["optimum"] = sim.log_likelihood_ratio(arrays, background=BACKGROUND)
        out["optimum_pion"] = sim.log_likelihood_ratio(arrays, background="pion")
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
            if key == "mc" and "no tree" in str(exc) and "pion_mc" in str(exc):
                log.warning("%s has no pion_mc tree: no electron/pion comparison", path)
                raw = reader.read_trees(path, sig, bkg[:1], branches=branches)
            else:
                raise
        n_before = sum(len(a) for a in raw)
        raw = [reader.drop_short(a, cfg.min_hits) for a in raw]
        counts[f"{key}_dropped_short"] = n_before - sum(len(a) for a in raw)
        datasets[key] = reader.to_dataset(raw, cfg.min_hits)
        parts = [_baselines(a, simulated, key) for a in raw]
        baselines[key] = {n: np.concatenate([b[n] for b in parts]) for n in parts[0]}
        baselines[key]["species"] = np.concatenate(
            [np.full(len(a), i, dtype=np.int8) for i, a in enumerate(raw)]
        )
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
        stratify=baselines["mc"]["species"],
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


def _subset(a: Mapping[str, np.ndarray], idx: np.ndarray | None) -> dict[str, np.ndarray]:
    """The tracks ``idx`` of a saved sample (all when None), hit sequences included."""
    if idx is None:
        return dict(a)
    n = len(a["y"])
    out = {k: v[idx] for k, v in a.items() if k not in ("hits", "hits_offsets") and len(v) == n}
    out["hits"], out["hits_offsets"] = data.take_sequences(a["hits"], a["hits_offsets"], idx)
    return out


def load_prepared(cfg: TRTConfig, progress: bool = True) -> Prepared:
    """The datasets of ``cfg`` (made first by :func:`prepare` when missing)."""
    prepare(cfg, progress)
    loaded = base.load_split_arrays(
        dataset_step(cfg), {"hits": HIT_FEATURES, "features": TRACK_FEATURES}
    )
    arrays = loaded.arrays
    sets: dict[str, SequenceDataset] = {}
    baselines: dict[str, dict[str, np.ndarray]] = {}

    def add(name: str, a: Mapping[str, np.ndarray], idx: np.ndarray | None = None) -> None:
        a = _subset(a, idx)
        sets[name] = SequenceDataset(*(a[k] for k in _SEQUENCE))
        baselines[name] = {k: v for k, v in a.items() if k not in (*_SEQUENCE, "index")}

    for split in ("train", "val", "test"):
        a = arrays[split]
        species = a.get("species", np.where(a["y"] > 0.5, 0, 1))
        add(split, a, np.flatnonzero(species != SPECIES_CODE["pion"]))
        baselines[split].pop("optimum_pion", None)
        if (species == SPECIES_CODE["pion"]).any():
            add(f"pion_{split}", a, np.flatnonzero(species != SPECIES_CODE["muon"]))
            b = baselines[f"pion_{split}"]
            if "optimum_pion" in b:
                b["optimum"] = b.pop("optimum_pion")
    if "data" in arrays:
        add("data", arrays["data"])
    return Prepared(
        sets=sets,
        baselines=baselines,
        hits=loaded.scalers["hits"],
        tracks=loaded.scalers["features"],
        info=loaded.info,
        step=loaded.step,
    )


def fit_tot(p: Prepared) -> likelihood.ToTLikelihood:
    """The ToT likelihood calibrated on the training split's electrons and muons only."""
    ds = p.train
    species = np.where(ds.y.numpy() > 0.5, "electron", "muon")
    return likelihood.fit(ds.items.numpy(), ds.offsets.numpy(), ds.features.numpy()[:, 1], species)


def classical_scores(p: Prepared) -> dict[str, dict[str, np.ndarray]]:
    """ToT likelihood and combined HT+ToT likelihood of every evaluated set.

    The ToT likelihood (:mod:`~hepnb.chapters.trt.likelihood`) is calibrated on the training
    split (:func:`fit_tot`) and tests the electron hypothesis against the set's background
    (muon, or pion for the ``pion_*`` sets); ``combined`` adds the HT log-ratio of ``eProbHT``
    (ATLAS's ``eProbabilityComb``: the product of the two likelihoods).
    """
    tot = fit_tot(p)
    out = {}
    for name in SCORED:
        if name not in p.sets:
            continue
        ds = p.sets[name]
        bkg = "pion" if name.startswith("pion") else "muon"
        llr = tot.llr(ds.items.numpy(), ds.offsets.numpy(), ds.features.numpy()[:, 1], bkg)
        out[name] = {"ToT": llr, "combined": p.baselines[name]["eProbHT"] + llr}
    return out


# --- model ------------------------------------------------------------------------------------
def build_model(p: Prepared, hidden: int = 64, head: tuple[int, ...] = (128,)) -> HitLSTM:
    """The published LSTM with the training-split scaling stored inside it."""
    model = HitLSTM(len(HIT_FEATURES), len(TRACK_FEATURES), hidden=hidden, head=head)
    return model.set_normalization(p.hits, p.tracks)


def _input(p: Prepared, name: str, hide_tot: bool = False) -> SequenceDataset:
    """The set ``name``; with ``hide_tot`` its ToT column set to the training mean (0 after
    scaling), so that a model sees no ToT."""
    ds = p.sets[name]
    if not hide_tot:
        return ds
    col = HIT_FEATURES.index("hit_tot")
    items = ds.items.numpy().copy()
    items[:, col] = p.hits.offset[col]
    return SequenceDataset(
        items, ds.offsets.numpy(), ds.features.numpy(), ds.y.numpy(), ds.w.numpy()
    )


def loaders(p: Prepared, batch_size: int = 256, variant: str = "lstm") -> dict[str, Any]:
    """Batch loaders of a model variant: train (shuffled), val, and every scored set."""
    train_set, val_set, hide = VARIANTS[variant]
    out = {
        "train": data.batch_loader(_input(p, train_set, hide), batch_size, shuffle=True),
        "val": data.batch_loader(_input(p, val_set, hide), 1024),
    }
    for name in SCORED:
        if name in p.sets:
            out[f"score_{name}"] = data.batch_loader(_input(p, name, hide), 1024)
    return out


def lstm_step(cfg: TRTConfig, variant: str = "lstm") -> Step:
    """The training step folder of a model variant (``<variant>-<key>/``)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: expected one of {list(VARIANTS)}")
    return step(cfg, variant, LSTM_FIELDS)


def train(
    cfg: TRTConfig, progress: bool = True, variant: str = "lstm"
) -> tuple[HitLSTM, _train.History, Prepared]:
    """Train a model variant (resuming its checkpoint) and score every evaluated set.

    Variants (:data:`VARIANTS`): ``lstm`` (electrons vs muons, all features), ``lstm_ht`` (the
    same without ToT), ``lstm_pion`` (electrons vs pions). Up to ``cfg.epochs`` epochs of
    :func:`hepnb.train.fit` in the ``<variant>-<key>/`` folder
    (:func:`hepnb.chapters.base.train_step`): checkpoints, best model and MLflow store go there,
    and the scores to ``scores.npz`` beside them.

    Returns:
        ``(model with the best weights, history, datasets)``.
    """
    p = load_prepared(cfg, progress)
    if VARIANTS[variant][0] not in p.sets:
        raise ValueError(f"variant {variant!r} needs the set {VARIANTS[variant][0]!r}")
    st = lstm_step(cfg, variant)
    epochs_before = st.info().get("epochs_run")
    _train.set_seed(cfg.seed)
    model = build_model(p, hidden=cfg.hidden)
    ld = loaders(p, cfg.batch_size, variant)
    history = base.train_step(
        cfg,
        model,
        {"train": ld["train"], "val": ld["val"]},
        st,
        params={"n_train": len(ld["train"].dataset), "simulated": p.simulated, "variant": variant},
        progress=progress,
    )
    if epochs_before != len(history) or not (st / SCORES).exists():
        save_scores(model, p, st / SCORES, cfg.device, progress, variant)
    return model, history, p


def save_scores(
    model: HitLSTM,
    p: Prepared,
    path: str | Path,
    device: str = "auto",
    progress: bool = True,
    variant: str = "lstm",
) -> Path:
    """Score every evaluated set (:data:`SCORED`) with the model, saved as ``<set>/score``."""
    ld = loaders(p, variant=variant)
    arrays: dict[str, np.ndarray] = {}
    for name in SCORED:
        if f"score_{name}" in ld:
            s, _ = _train.predict(model, ld[f"score_{name}"], device, progress=progress)
            arrays[f"{name}/score"] = s
    return io.save_arrays(path, **arrays)


def load_scores(
    cfg: TRTConfig, progress: bool = True, variants: tuple[str, ...] = tuple(VARIANTS)
) -> dict[str, dict[str, np.ndarray]]:
    """Labels, weights, per-track columns and every classifier's score per evaluated set.

    ``{"val"|"test"|"data"|"pion_val"|"pion_test": {"y", "w", "region", "occ", "eProbHT",
    "ToT", "combined", "lstm_ht", "lstm", "lstm_pion", "optimum"[, "optimum_mc"], ...}}``; each
    model variant is trained first (:func:`train`) if it has no scores yet.
    """
    p = load_prepared(cfg, progress)
    result = {
        name: {"y": ds.y.numpy(), "w": ds.w.numpy(), **p.baselines[name]}
        for name, ds in p.sets.items()
        if name in SCORED
    }
    for name, cols in classical_scores(p).items():
        result[name] |= cols
    for variant in variants:
        if VARIANTS[variant][0] not in p.sets:
            continue
        st = lstm_step(cfg, variant)
        if not (st.done and (st / SCORES).exists()):
            train(cfg, progress, variant)
        for k, v in io.load_arrays(st / SCORES).items():
            result[k.split("/", 1)[0]][variant] = v
    return result


def load_model(cfg: TRTConfig, variant: str = "lstm") -> HitLSTM:
    """The best model of a variant of ``cfg`` (scaling included), trained first if needed."""
    st = lstm_step(cfg, variant)
    if not (st.done and (st / _train.BEST).exists()):
        train(cfg, variant=variant)
    state = torch.load(st / _train.BEST, map_location="cpu", weights_only=True)
    model = HitLSTM(len(HIT_FEATURES), len(TRACK_FEATURES), hidden=cfg.hidden)
    model.load_state_dict(state)
    return model.eval()


def scores_mapping(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The classifier scores of one set, in :data:`CLASSIFIERS` order."""
    return {k: scores[k] for k in CLASSIFIERS if k in scores}
