"""The ghost-track chapter's steps: sample → dataset → search → training → ONNX → evaluation.

Every step takes the chapter's configuration (:class:`~hepnb.chapters.ghost.config.GhostConfig`)
and keeps its outputs in a cached step folder of the run folder, keyed by the configuration
fields it depends on (:func:`hepnb.runs.step`), so every notebook runs standalone and a
changed setting never reuses another's outputs:

* ``sample-<key>/`` (``n_tracks``, ``seed``): ``ghost_forward.root`` and
  ``ghost_matching.root`` simulated from the same events (skipped with ``data_path``);
* ``dataset-<key>/`` (:data:`DATASET_FIELDS`): the train/val/test arrays, split by event and
  stratified by label, balanced, with the fitted input scaler;
* ``search-<key>/`` (:data:`SEARCH_FIELDS`): the Optuna study; ``n_trials`` is not in the
  key, so asking for more trials resumes it;
* ``train-<key>/`` (:data:`TRAIN_FIELDS` and the chosen hyperparameters): checkpoints, MLflow
  store, the ONNX model and its INT8 version.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from torch.utils.data import DataLoader, TensorDataset

from hepnb import evaluate, export, io, tune
from hepnb import train as _train
from hepnb.chapters.base import (
    Prepared,
    ensure_sample,
    load_split_arrays,
    split_normalise_save,
    train_step,
)
from hepnb.chapters.ghost import sim
from hepnb.chapters.ghost.config import GhostConfig
from hepnb.chapters.ghost.reader import read_ntuple
from hepnb.chapters.ghost.schema import (
    GHOST_ORIGINS,
    PRESELECTION,
    TRACKS,
    TREE,
    feature_names,
    tail_scales,
)
from hepnb.data import Scaler, batch_loader
from hepnb.models.mlp import MLP, WithProbabilities
from hepnb.runs import Step, step

__all__ = [
    "DATASET_FIELDS",
    "DEFAULT_PARAMS",
    "LHCB_REFERENCE",
    "SEARCH_FIELDS",
    "SEARCH_SPACE",
    "TRAIN_FIELDS",
    "Dataset",
    "Trained",
    "baseline_models",
    "baselines",
    "build_model",
    "compare_with_lhcb",
    "dataset",
    "efficiencies",
    "ensure_onnx",
    "export_onnx",
    "ghost_composition",
    "ghost_origins",
    "ghost_rate",
    "ghost_rates",
    "held_out",
    "hyperparameters",
    "int8_path",
    "loaders",
    "preselected",
    "quantize",
    "sample",
    "samples",
    "search",
    "train",
    "train_folder",
    "working_points",
    "working_points_record",
]

log = logging.getLogger(__name__)

#: Configuration fields the dataset depends on.
DATASET_FIELDS: tuple[str, ...] = ("n_tracks", "seed", "data_path", "track", "fraction", "balance")
#: ... the search (``n_trials`` left out: more trials resume the study).
SEARCH_FIELDS: tuple[str, ...] = (*DATASET_FIELDS, "network", "search_epochs")
#: ... the training, together with the chosen hyperparameters (``epochs`` left out: more
#: epochs resume the checkpoint).
TRAIN_FIELDS: tuple[str, ...] = (*DATASET_FIELDS, "network")

#: Search space of the hyperparameter search (see :mod:`hepnb.tune`).
SEARCH_SPACE: dict[str, Any] = {
    "hidden": ("categorical", [16, 32, 64, 128, 256]),
    "lr": ("float", 3e-4, 3e-2, {"log": True}),
    "optimizer": ("categorical", ["adam", "adamw", "sgd", "rmsprop"]),
    "activation": ("categorical", ["relu", "leaky_relu", "elu", "tanh", "silu"]),
    "batch_size": ("categorical", [128, 256, 512, 1024]),
}
#: Hyperparameters used without a search (``lr`` and ``batch_size`` come from the config).
DEFAULT_PARAMS: dict[str, Any] = {
    "hidden": 64,
    "n_layers": 2,
    "activation": "relu",
    "optimizer": "adam",
}


# --- sample ----------------------------------------------------------------------------------


def samples(cfg: GhostConfig) -> dict[str, Path | list[Path]]:
    """The ntuples to analyse, by track type: ``{cfg.track: data_path}`` for a real ntuple
    (a glob gives a list of files), else both simulated files (made from the same events in the
    ``sample`` step the first time)."""
    feature_names(cfg.track)

    def simulate(folder: Path) -> None:
        sim.generate(folder, n_tracks=cfg.n_tracks, seed=cfg.seed, tracks=TRACKS)

    src = ensure_sample(cfg, simulate, fields=("n_tracks", "seed"))
    if cfg.data_path:
        return {cfg.track: src}
    return {t: Path(src) / f"ghost_{t}.root" for t in TRACKS}


def sample(cfg: GhostConfig) -> Path | list[Path]:
    """The ntuple of ``cfg.track`` (see :func:`samples`)."""
    return samples(cfg)[cfg.track]


def ghost_origins(path: str | Path) -> dict[str, float] | None:
    """What the ghosts of a simulated ntuple are made of: fraction of ghosts per value of the
    truth branch ``ghost_origin`` (None for a real ntuple, which has no such truth)."""
    t = io.open_tree(Path(path), TREE)
    if "ghost_origin" not in t:
        return None
    o = io.read_tree(Path(path), TREE, ["ghost_origin"])["ghost_origin"].to_numpy()
    ghosts = o[o > 0]
    return {name: float((ghosts == k).mean()) for k, name in GHOST_ORIGINS.items()}


def preselected(x: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Which candidates of ``x (N, F)`` (columns named by ``features``) pass the chapter's
    preselection :data:`~hepnb.chapters.ghost.schema.PRESELECTION` (best_pt < 10 GeV/c,
    χ² < 400): boolean ``(N,)``."""
    names = list(features)
    keep = np.ones(len(x), bool)
    for name, upper in PRESELECTION.items():
        keep &= x[:, names.index(name)] < upper
    return keep


def ghost_composition(paths: Mapping[str, str | Path]) -> pd.DataFrame | None:
    """Candidates, ghost rate and what the ghosts are made of (fraction per
    :data:`~hepnb.chapters.ghost.schema.GHOST_ORIGINS`) of simulated ntuples, before and after
    :func:`preselected`: one row per ``(track type, "all" | "preselected")``. None when a file
    has no ``ghost_origin`` truth (real data)."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for track, path in paths.items():
        if "ghost_origin" not in io.open_tree(Path(path), TREE):
            return None
        t = io.read_tree(Path(path), TREE, ["ghost", "ghost_origin", *PRESELECTION])
        ghost = t["ghost"].to_numpy() == 1
        origin = t["ghost_origin"].to_numpy()
        pre = np.ones(len(ghost), bool)
        for name, upper in PRESELECTION.items():
            pre &= t[name].to_numpy() < upper
        for sel_name, sel in (("all", np.ones(len(ghost), bool)), ("preselected", pre)):
            o = origin[sel & ghost]
            rows[(track, sel_name)] = {
                "candidates": float(sel.sum()),
                "ghost rate": float(ghost[sel].mean()) if sel.any() else math.nan,
                **{
                    name: float((o == k).mean()) if len(o) else math.nan
                    for k, name in GHOST_ORIGINS.items()
                },
            }
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(list(rows), names=["track", "selection"])
    return df


# --- dataset ---------------------------------------------------------------------------------


@dataclass
class Dataset:
    """The dataset step's arrays, loaded back.

    ``arrays[split]`` (``train``/``val``/``test``) hold ``x`` raw features ``(N, F)``, ``y``
    ghost labels ``(N,)``, ``row`` and ``event`` (entry and event in the source), the
    kinematics ``p``, ``pt`` (MeV/c) and ``eta`` when present, and ``w`` class-balancing
    weights in ``train`` and ``val`` with ``balance="weight"``.
    """

    prepared: Prepared
    track: str

    @property
    def arrays(self) -> dict[str, dict[str, np.ndarray]]:
        return self.prepared.arrays

    @property
    def info(self) -> dict[str, Any]:
        """What the step recorded: counts per split and class, source, NaN rows..."""
        return self.prepared.info

    @property
    def step(self) -> Step:
        return self.prepared.step

    @property
    def features(self) -> tuple[str, ...]:
        return feature_names(self.track)

    @property
    def scaler(self) -> Scaler:
        """Signed-log + min-max scaling of ``x``, fitted on the training split."""
        return self.prepared.scalers["x"]

    def scaled(self, split: str) -> np.ndarray:
        """The network's inputs ``(N, F)`` float32 of ``split``."""
        return self.scaler.transform(self.arrays[split]["x"])


def dataset(cfg: GhostConfig) -> Dataset:
    """Training arrays from the ntuple of ``cfg.track`` (cached step ``dataset``).

    Rows with NaN/inf features are dropped (counted); the candidates failing the preselection
    (:func:`preselected`: best_pt < 10 GeV/c, χ² < 400) are dropped; a seeded ``fraction`` of
    the rest is kept; the split
    is 60/20/20 by **event** (the candidates of one event share hits, so they never straddle
    two splits), stratified by label; the training and validation splits are balanced
    (``cfg.balance``), the test split keeps the natural ghost fraction; the scaler
    (sign(x)·ln(1 + |x|/s) on the long tails of :data:`~hepnb.chapters.ghost.schema.TAIL_SCALES`,
    then min-max) is fitted on the training split. Arrays are stored unscaled.

    Raises:
        ValueError: a sample holding only ghosts or only real tracks, or a split left without
            one class.
    """
    st = step(cfg, "dataset", DATASET_FIELDS)
    if st.done:
        return Dataset(load_split_arrays(st, {"x": feature_names(cfg.track)}), cfg.track)
    src = sample(cfg)
    nt = read_ntuple(src, cfg.track)
    feats = feature_names(cfg.track)
    keep = np.flatnonzero(preselected(nt.x, feats))
    n_ghost = int(nt.ghost[keep].sum())
    if n_ghost in (0, len(keep)):
        what = "no ghost" if n_ghost == 0 else "only ghosts"
        raise ValueError(
            f"{nt.path}: branch 'ghost' holds {what} ({n_ghost} ghosts in {len(keep)} "
            "preselected tracks): need both ghost and real tracks"
        )
    if cfg.fraction < 1.0:
        rng = np.random.default_rng(cfg.seed)
        keep = np.sort(rng.choice(keep, max(round(cfg.fraction * len(keep)), 1), replace=False))
    scales = tail_scales(cfg.track)
    arrays = {
        "x": nt.x[keep],
        "y": nt.ghost[keep],
        "row": nt.row[keep],
        "event": nt.event[keep],
        **{k: v[keep] for k, v in nt.kin.items()},
    }
    prepared = split_normalise_save(
        st,
        arrays,
        seed=cfg.seed,
        stratify=nt.ghost[keep],
        groups=nt.event[keep],
        scalers={"x": lambda x: Scaler.minmax(x, feats, log_scales=scales)},
        balance=cfg.balance,
        info={
            "source": [str(p) for p in src] if isinstance(src, list) else str(src),
            "track": cfg.track,
            "features": list(feats),
            "n_read": nt.n_read,
            "n_nan_removed": nt.n_nan,
            "preselection": dict(PRESELECTION),
            "n_preselected": int(preselected(nt.x, feats).sum()),
            "ghost_fraction_before_preselection": float(nt.ghost.mean()),
            "n_used": len(keep),
            "n_events": len(np.unique(nt.event[keep])),
            "split_by_event": nt.has_events,
            "ghost_fraction": float(nt.ghost[keep].mean()),
            "balance": cfg.balance,
            "tail_scales": scales,
        },
    )
    log.info("%s: %d tracks → %s", nt.path, len(keep), prepared.info["counts"])
    return Dataset(prepared, cfg.track)


def held_out(ds: Dataset) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The test split: raw features ``(N, F)``, ghost labels ``(N,)``, kinematics (``p``,
    ``pt``, ``eta`` where present, each ``(N,)``) and event ids ``(N,)``."""
    a = ds.arrays["test"]
    kin: dict[str, np.ndarray] = {k: a[k] for k in ("p", "pt", "eta") if k in a}
    return a["x"], a["y"], kin, a["event"]


# --- models, search, training ----------------------------------------------------------------


def build_model(
    cfg: GhostConfig,
    n_features: int,
    hidden: int = 64,
    n_layers: int = 2,
    activation: str = "relu",
) -> MLP:
    """The chapter's network: an MLP, behind a BatchNorm layer when ``cfg.network`` is 1."""
    return MLP(
        n_features,
        hidden=hidden,
        n_layers=n_layers,
        activation=activation,
        batch_norm=cfg.network == 1,
    )


def loaders(ds: Dataset, batch_size: int = 256) -> dict[str, DataLoader]:
    """``{"train", "val"}`` loaders of ``(x (B, F) scaled, y (B,)[, w (B,)])`` batches
    (y = ghost; w = class-balancing weights when the dataset has them)."""
    out = {}
    for split, shuffle in (("train", True), ("val", False)):
        a = ds.arrays[split]
        tensors = [torch.as_tensor(ds.scaled(split)), torch.as_tensor(a["y"], dtype=torch.float32)]
        if "w" in a:
            tensors.append(torch.as_tensor(a["w"]))
        out[split] = batch_loader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle)
    return out


def _model_kw(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in ("hidden", "n_layers", "activation") if k in params}


def search(cfg: GhostConfig, ds: Dataset | None = None) -> tune.StudyResult | None:
    """Optuna search of the hyperparameters (:data:`SEARCH_SPACE`) maximising the best
    validation AUC of a ``cfg.search_epochs``-epoch training, with median pruning, in the
    cached step ``search``; it runs until the study holds ``cfg.n_trials`` finished trials
    (resuming a stored one). None when ``cfg.n_trials`` is 0."""
    if cfg.n_trials == 0:
        return None
    ds = ds or dataset(cfg)
    st = step(cfg, "search", SEARCH_FIELDS)

    def objective(params: dict[str, Any], trial: Any) -> float:
        p = {**DEFAULT_PARAMS, **params}
        model = build_model(cfg, len(ds.features), **_model_kw(p))
        with _train.torch_threads(1):
            hist = _train.fit(
                model,
                loaders(ds, p["batch_size"]),
                epochs=cfg.search_epochs,
                lr=p["lr"],
                optimizer=p["optimizer"],
                device=cfg.device,
                seed=cfg.seed,
                early_stopping=3,
                mlflow=False,
                on_epoch_end=[tune.pruning_callback(trial)],
                progress=False,
            )
        return float(np.nanmax(hist["val_auc"]))

    result = tune.run_study(
        objective,
        SEARCH_SPACE,
        out_dir=st.path,
        study_name="search",
        n_trials=cfg.n_trials,
        seed=cfg.seed,
    )
    st.finish(n_trials=cfg.n_trials, best_params=result.best_params, best_value=result.best_value)
    return result


def hyperparameters(cfg: GhostConfig, result: tune.StudyResult | None) -> dict[str, Any]:
    """The hyperparameters to train with: the search's best, or without a search
    :data:`DEFAULT_PARAMS` with ``cfg.lr`` and ``cfg.batch_size``."""
    if result is None:
        return {**DEFAULT_PARAMS, "lr": cfg.lr, "batch_size": cfg.batch_size}
    return {**DEFAULT_PARAMS, **result.best_params}


def train_folder(cfg: GhostConfig, params: Mapping[str, Any]) -> Step:
    """The cached step ``train-<key>/``, keyed by :data:`TRAIN_FIELDS` and ``params``."""
    return step(cfg, "train", TRAIN_FIELDS, extra={"params": dict(params)})


@dataclass
class Trained:
    """A trained network (weights of the epoch of best validation AUC, ``selected_epoch``),
    its history, hyperparameters and folder."""

    model: MLP
    history: _train.History
    params: dict[str, Any]
    step: Step
    track: str
    selected_epoch: int | None = None

    @property
    def onnx_path(self) -> Path:
        """Where :func:`export_onnx` writes the model."""
        return _onnx_path(self.step, self.track)


def train(
    cfg: GhostConfig, ds: Dataset | None = None, params: Mapping[str, Any] | None = None
) -> Trained:
    """Train the network for up to ``cfg.epochs`` epochs with
    :func:`hepnb.chapters.base.train_step`, in the cached step ``train``; a rerun resumes its
    checkpoint. The epoch kept, early stopping (after 5 epochs without gain) and the learning
    rate schedule follow the **validation AUC** (``monitor="val_auc"``), the metric the search
    maximises, not the validation loss. ``params`` default to :func:`hyperparameters` of
    :func:`search`."""
    ds = ds or dataset(cfg)
    params = dict(params) if params is not None else hyperparameters(cfg, search(cfg, ds))
    st = train_folder(cfg, params)
    _train.set_seed(cfg.seed)
    model = build_model(cfg, len(ds.features), **_model_kw(params))
    with _train.torch_threads(1):
        history = train_step(
            cfg,
            model,
            loaders(ds, params["batch_size"]),
            st,
            params={"params": params, "n_train": len(ds.arrays["train"]["y"])},
            lr=params["lr"],
            optimizer=params["optimizer"],
            early_stopping=5,
            monitor="val_auc",
            progress=False,
        )
    return Trained(model, history, params, st, cfg.track, history.best_epoch)


# --- export ----------------------------------------------------------------------------------


def _onnx_path(st: Step, track: str) -> Path:
    return st / f"ghost_{track}.onnx"


def export_onnx(trained: Trained, ds: Dataset) -> Path:
    """Export the network to ONNX in its training folder, taking *raw* features (the scaling is
    folded in) and returning P(ghost); checks ONNX Runtime against PyTorch to 1e-5 on the
    test split."""
    wrapped = WithProbabilities(trained.model.cpu().eval(), ds.scaler.module())
    path = trained.onnx_path
    export.to_onnx(
        wrapped,
        path,
        len(ds.features),
        feature_names=ds.features,
        metadata={
            "track": ds.track,
            "output": "probability of being a ghost",
            "params": trained.params,
            "config": trained.step.config,
        },
    )
    export.check_parity(wrapped, path, ds.arrays["test"]["x"], atol=1e-5)
    return path


def int8_path(onnx_path: Path) -> Path:
    """Where :func:`quantize` writes the INT8 version of ``onnx_path``: beside it."""
    return onnx_path.with_name(f"{onnx_path.stem}_int8.onnx")


def quantize(onnx_path: Path) -> Path:
    """Dynamic INT8 version (:func:`int8_path`) of an exported model."""
    return export.quantize_int8(onnx_path, int8_path(onnx_path), mode="dynamic")


def ensure_onnx(cfg: GhostConfig) -> Path:
    """The exported model of ``cfg``: made by :func:`dataset` → :func:`search` →
    :func:`train` → :func:`export_onnx` unless its training folder already holds it."""
    ds = dataset(cfg)
    params = hyperparameters(cfg, search(cfg, ds))
    st = train_folder(cfg, params)
    path = _onnx_path(st, cfg.track)
    if not (st.done and path.exists()):
        export_onnx(train(cfg, ds, params), ds)
    return path


# --- evaluation ------------------------------------------------------------------------------


#: Published ghost-killing working points: (real tracks kept, ghosts removed), as quoted.
LHCB_REFERENCE: dict[str, tuple[str, str]] = {
    "LHCb Run 2 offline ghost probability (LHCb-PUB-2017-011)": ("> 99 %", "≈ 60 %"),
    "Allen HLT1 ghost-killer NN, Run 3": ("≈ 99 %", "≳ 40 %"),
}


def compare_with_lhcb(wp: Mapping[str, float], label: str = "this chapter") -> pd.DataFrame:
    """:data:`LHCB_REFERENCE` with this chapter's working point ``wp`` (a row of
    :func:`working_points`: test efficiency and ghost rejection with their 68 % intervals)
    beside it."""
    rows = {k: {"real tracks kept": a, "ghosts removed": b} for k, (a, b) in LHCB_REFERENCE.items()}

    def fmt(k: str) -> str:
        return f"{wp[k]:.1%} [{wp[k + '_lo']:.1%}, {wp[k + '_hi']:.1%}]"

    rows[label] = {"real tracks kept": fmt("efficiency"), "ghosts removed": fmt("bkg_rejection")}
    return pd.DataFrame.from_dict(rows, orient="index")


def working_points_record(wps: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """:func:`working_points` as JSON-able ``{classifier: {criterion: {column: value}}}``
    (numeric columns only) for :func:`hepnb.runs.record`."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    num = wps.select_dtypes("number")
    for (clf, crit), row in num.iterrows():
        out.setdefault(str(clf), {})[str(crit)] = {k: float(v) for k, v in row.items()}
    return out


def baseline_models(cfg: GhostConfig, ds: Dataset) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The baselines, as functions of raw features ``x (N, F)`` returning real-track scores
    (higher = more real):

    * ``BDT``: sklearn ``HistGradientBoostingClassifier`` trained on the raw training split
      with the same class balancing as the network, its early stopping on the validation
      split (whole events, as the network's);
    * ``χ²/ndof cut``: −χ²/ndof of the track fit.
    """
    feats = ds.features
    tr, va = ds.arrays["train"], ds.arrays["val"]
    bdt = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.1, early_stopping=True, random_state=cfg.seed
    )
    bdt.fit(
        tr["x"],
        tr["y"],
        sample_weight=tr.get("w"),
        X_val=va["x"],
        y_val=va["y"],
        sample_weight_val=va.get("w"),
    )
    i_chi2, i_ndof = feats.index("chi2"), feats.index("ndof")

    def bdt_score(x: np.ndarray) -> np.ndarray:
        return 1.0 - bdt.predict_proba(x)[:, 1]

    def chi2_score(x: np.ndarray) -> np.ndarray:
        return -x[:, i_chi2] / np.maximum(x[:, i_ndof], 1)

    return {"BDT": bdt_score, "χ²/ndof cut": chi2_score}


def baselines(cfg: GhostConfig, ds: Dataset, x_test: np.ndarray) -> dict[str, np.ndarray]:
    """Real-track scores of :func:`baseline_models` on raw features ``x_test (N, F)``."""
    return {name: f(x_test) for name, f in baseline_models(cfg, ds).items()}


def working_points(
    cfg: GhostConfig,
    ds: Dataset,
    scores_val: Mapping[str, np.ndarray],
    scores_test: Mapping[str, np.ndarray],
    *,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Working points of every classifier, **chosen on the validation split and applied to the
    test split** (:func:`hepnb.evaluate.working_points`): the tightest cut keeping
    ``cfg.efficiency`` of the real validation tracks, and the cuts maximising Youden's J and F1.

    Purity and F1 are those at the physical ghost fraction of the preselected sample (the
    validation split may be balanced; the test split keeps the natural fraction); intervals
    come from bootstrap resamples of whole test events.

    Args:
        scores_val, scores_test: ``{classifier: real-track score}`` on the validation ``(V,)``
            and test ``(T,)`` splits of ``ds``.

    Returns:
        One row per ``(classifier, criterion)``; columns of ``evaluate.working_points``.
    """
    y_val = 1 - ds.arrays["val"]["y"]
    y_test = 1 - ds.arrays["test"]["y"]
    event = ds.arrays["test"]["event"]
    frames = {
        name: evaluate.working_points(
            y_val,
            scores_val[name],
            y_test,
            scores_test[name],
            criteria=(("efficiency", cfg.efficiency), "youden_j", "f1"),
            signal_fraction=1.0 - float(ds.info["ghost_fraction"]),
            groups_test=event,
            n_boot=n_boot,
            seed=cfg.seed,
        )
        for name in scores_test
    }
    return pd.concat(frames, names=["classifier"])


def ghost_rate(
    values: np.ndarray, ghost: np.ndarray, keep: np.ndarray | None, bins: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ghost rate (fraction of ghosts among candidates) in bins of ``values``, for all
    candidates or those kept by a cut (``keep``, boolean ``(N,)``).

    Returns:
        ``(bin centres (B,), ghost rate (B,), 68 % Wilson interval as errors (2, B))``
        (:func:`hepnb.evaluate.binned_rate`).
    """
    sel = np.ones(len(ghost), bool) if keep is None else np.asarray(keep, bool)
    r = evaluate.binned_rate(values[sel], np.asarray(ghost)[sel] == 1, bins)
    return r.centres, r.rate, r.yerr


def ghost_rates(
    kin: Mapping[str, np.ndarray],
    ghost: np.ndarray,
    keep: Mapping[str, np.ndarray | None],
    bins: Mapping[str, Sequence[float]],
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """:func:`ghost_rate` for every variable of ``bins`` present in ``kin`` and every
    selection of ``keep``: ``{variable: {selection: (centres, rate, errors (2, B))}}``."""
    return {
        var: {name: ghost_rate(kin[var], ghost, k, bins[var]) for name, k in keep.items()}
        for var in bins
        if var in kin
    }


def efficiencies(
    kin: Mapping[str, np.ndarray],
    ghost: np.ndarray,
    keep: Mapping[str, np.ndarray],
    bins: Mapping[str, Sequence[float]],
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Real-track efficiency of each cut of ``keep`` (boolean ``(N,)`` per cut) in bins of
    every variable of ``bins`` present in ``kin``, with 68 % Wilson intervals:
    ``{variable: {cut: (centres (B,), efficiency (B,), errors (2, B))}}``."""
    real = np.asarray(ghost) == 0
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for var in bins:
        if var not in kin:
            continue
        out[var] = {}
        for name, k in keep.items():
            r = evaluate.binned_rate(kin[var][real], np.asarray(k, bool)[real], bins[var])
            out[var][name] = (r.centres, r.rate, r.yerr)
    return out
