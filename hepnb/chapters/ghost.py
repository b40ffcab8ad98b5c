"""The ghost-track chapter's steps (sample → prepare → train/search → ONNX → evaluation),
each callable on its own so every notebook runs standalone."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.features.ghost import LABELS as LABELS  # re-exported for the notebooks
from hepnb.features.ghost import (
    SPLITS,
    DatasetInfo,
    feature_names,
    load_normalization,
    make_dataset,
    read_ntuple,
    tail_scales,
)
from hepnb.features.ghost import TREE as TREE
from hepnb.features.ghost import plot_features as plot_features

log = logging.getLogger(__name__)


def _run_dir(out_dir) -> Path:
    from hepnb.runs import run_dir

    return run_dir("ghost", out_dir)


def sample(
    out_dir: str | os.PathLike | None = None,
    n_tracks: int = 20_000,
    seed: int = 0,
    data_path: str | os.PathLike | None = None,
    track: str = "matching",
) -> Path:
    """The ntuple to analyse: ``data_path`` if given, else the simulated
    ``ghost_<track>.root`` in the run folder (generated on first use; the forward and matching
    files of one seed come from the same simulated events)."""
    feature_names(track)
    if data_path:
        path = Path(data_path)
        if not path.exists():
            raise FileNotFoundError(f"data_path={str(path)!r}: no such file")
        return path
    from hepnb.sim import ghost as sim

    folder = _run_dir(out_dir) / f"sim_n{n_tracks}_seed{seed}"
    path = folder / f"ghost_{track}.root"
    if not path.exists():
        sim.generate(folder, n_tracks=n_tracks, seed=seed, tracks=(track,))
    return path


def prepare(
    out_dir: str | os.PathLike | None = None,
    track: str = "matching",
    n_tracks: int = 20_000,
    seed: int = 0,
    data_path: str | os.PathLike | None = None,
    fraction: float = 1.0,
    plot: bool = False,
    balance: str = "weight",
) -> DatasetInfo:
    """Normalised (signed-log tails + min-max), balanced dataset in the run folder (reused
    when already made with the same source and settings; simulates the sample when needed)."""
    src = sample(out_dir, n_tracks, seed, data_path, track)
    out = _run_dir(out_dir)
    info = DatasetInfo(out, track, "ghost")
    if info.summary_path.exists() and all(info.path(s).exists() for s in SPLITS):
        summary = json.loads(info.summary_path.read_text())
        if (
            summary.get("source") == str(src.resolve())
            and summary.get("seed") == seed
            and summary.get("fraction") == fraction
            and summary.get("normalize")
            and summary.get("balance") == balance
            and summary.get("tail_scales") == tail_scales(track)
        ):
            info.summary = summary
            if plot and not (out / f"ghost_{track}_features.png").exists():
                return _make(src, out, track, fraction, seed, True, balance)
            return info
    return _make(src, out, track, fraction, seed, plot, balance)


def _make(src, out, track, fraction, seed, plot, balance) -> DatasetInfo:
    return make_dataset(
        src,
        out,
        track,
        fraction=fraction,
        normalize=True,
        tail_scales=tail_scales(track),
        seed=seed,
        plot=plot,
        balance=balance,
    )


def loaders(info: DatasetInfo, batch_size: int = 256) -> dict[str, Any]:
    """``{"train", "val"}`` loaders of ``(x (B, F), y (B,)[, w (B,)])`` batches (y = ghost;
    w = class-balancing weights when the dataset has them)."""
    import torch
    from torch.utils.data import TensorDataset

    from hepnb.data import batch_loader

    out = {}
    for key, split, shuffle in (("train", "train", True), ("val", "valid", False)):
        s = info.load(split)
        tensors = [torch.as_tensor(s.x), torch.as_tensor(s.y, dtype=torch.float32)]
        if s.w is not None:
            tensors.append(torch.as_tensor(s.w))
        ds = TensorDataset(*tensors)
        out[key] = batch_loader(ds, batch_size=batch_size, shuffle=shuffle)
    return out


#: Default search space of the chapter's hyperparameter search.
SEARCH_SPACE: dict[str, Any] = {
    "hidden": ("categorical", [16, 32, 64, 128, 256]),
    "lr": ("float", 3e-4, 3e-2, {"log": True}),
    "optimizer": ("categorical", ["adam", "adamw", "sgd", "rmsprop"]),
    "activation": ("categorical", ["relu", "leaky_relu", "elu", "tanh", "silu"]),
    "batch_size": ("categorical", [128, 256, 512, 1024]),
}


def train(
    info: DatasetInfo,
    *,
    network: int = 0,
    hidden: int = 64,
    n_layers: int = 2,
    activation: str = "relu",
    optimizer: str = "adam",
    lr: float = 1e-3,
    batch_size: int = 256,
    epochs: int = 10,
    seed: int = 0,
    device: str = "auto",
    fit_dir: str | os.PathLike | None = None,
    on_epoch_end: Sequence = (),
    early_stopping: int | None = 5,
    progress: bool = False,
    threads: int | None = 1,
):
    """Train one ghost MLP on a prepared dataset with :func:`hepnb.train.fit`.

    ``threads``: torch CPU threads during the training (restored afterwards); a network of a
    few thousand weights trains fastest on one. None leaves torch's setting alone.

    Returns:
        ``(model, history)``; the model holds the weights of the best validation epoch.
    """
    import torch

    if threads is None:
        return _train_mlp(
            info,
            network,
            hidden,
            n_layers,
            activation,
            optimizer,
            lr,
            batch_size,
            epochs,
            seed,
            device,
            fit_dir,
            on_epoch_end,
            early_stopping,
            progress,
        )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train_mlp(
            info,
            network,
            hidden,
            n_layers,
            activation,
            optimizer,
            lr,
            batch_size,
            epochs,
            seed,
            device,
            fit_dir,
            on_epoch_end,
            early_stopping,
            progress,
        )
    finally:
        torch.set_num_threads(before)


def _train_mlp(
    info,
    network,
    hidden,
    n_layers,
    activation,
    optimizer,
    lr,
    batch_size,
    epochs,
    seed,
    device,
    fit_dir,
    on_epoch_end,
    early_stopping,
    progress,
):
    from hepnb import train as _train
    from hepnb.models.mlp import ghost_mlp

    _train.set_seed(seed)
    model = ghost_mlp(
        network,
        len(feature_names(info.track)),
        hidden=hidden,
        n_layers=n_layers,
        activation=activation,
    )
    hist = _train.fit(
        model,
        loaders(info, batch_size),
        epochs=epochs,
        lr=lr,
        optimizer=optimizer,
        device=device,
        out_dir=fit_dir,
        seed=seed,
        early_stopping=early_stopping,
        mlflow=fit_dir is not None,
        experiment="ghost",
        on_epoch_end=on_epoch_end,
        progress=progress,
        params={
            "network": network,
            "hidden": hidden,
            "n_layers": n_layers,
            "activation": activation,
            "batch_size": batch_size,
            "track": info.track,
        },
    )
    return model, hist


def search(
    info: DatasetInfo,
    *,
    n_trials: int = 20,
    epochs: int = 6,
    network: int = 0,
    seed: int = 0,
    device: str = "auto",
    space: dict[str, Any] | None = None,
    study_name: str | None = None,
):
    """Optuna search of the MLP hyperparameters maximising the validation AUC, with median
    pruning; the study is stored in the run folder and resumes (see :mod:`hepnb.tune`)."""
    from hepnb import tune

    def objective(params, trial):
        _, hist = train(
            info,
            network=network,
            epochs=epochs,
            seed=seed,
            device=device,
            on_epoch_end=[tune.pruning_callback(trial)],
            early_stopping=3,
            **params,
        )
        return float(np.nanmax(hist["val_auc"]))

    return tune.run_study(
        objective,
        space or SEARCH_SPACE,
        out_dir=info.out_dir,
        study_name=study_name or f"ghost_{info.track}_net{network}",
        n_trials=n_trials,
        seed=seed,
    )


def fit_best(
    info: DatasetInfo,
    *,
    n_trials: int = 20,
    search_epochs: int = 6,
    epochs: int = 20,
    network: int = 1,
    lr: float = 3e-3,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "auto",
    fit_dir: str | os.PathLike | None = None,
):
    """Search the hyperparameters (``n_trials`` > 0; the search resumes from the run folder's
    study) and train the best configuration for ``epochs``; with ``n_trials = 0`` train with
    ``lr`` and ``batch_size`` and the default architecture.

    Returns:
        ``(model, history, params, study result or None)``.
    """
    params: dict[str, Any] = {"lr": lr, "batch_size": batch_size}
    result = None
    if n_trials > 0:
        result = search(
            info, n_trials=n_trials, epochs=search_epochs, network=network, seed=seed, device=device
        )
        params = dict(result.best_params)
    model, hist = train(
        info, network=network, epochs=epochs, seed=seed, device=device, fit_dir=fit_dir, **params
    )
    return model, hist, {"network": network, **params}, result


def checkpoint_dir(out_dir: str | os.PathLike, track: str, params: dict[str, Any]) -> Path:
    """Folder for the checkpoints of one configuration (``mlp_<track>_<hash of params>``), so
    that a rerun with the same configuration resumes and another one starts afresh."""
    import hashlib

    key = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
    return Path(out_dir) / f"mlp_{track}_{key[:8]}"


def ensure_onnx(
    out_dir: str | os.PathLike | None = None,
    track: str = "matching",
    n_tracks: int = 20_000,
    seed: int = 0,
    data_path: str | os.PathLike | None = None,
    device: str = "auto",
    **fit_kw,
) -> Path:
    """The chapter's exported model ``ghost_<track>.onnx``, trained (via :func:`fit_best`)
    and exported first if the run folder has none."""
    info = prepare(out_dir, track, n_tracks, seed, data_path)
    path = info.out_dir / f"ghost_{track}.onnx"
    if not path.exists():
        model, _, params, _ = fit_best(info, seed=seed, device=device, **fit_kw)
        export_onnx(model, info, path, metadata={"params": params})
    return path


def export_onnx(
    model, info: DatasetInfo, path: str | os.PathLike | None = None, metadata: dict | None = None
) -> Path:
    """Export ``model`` to ONNX taking *raw* features (the min-max normalisation is folded in)
    and returning P(ghost); checks ONNX Runtime against PyTorch to 1e-5 on the test split."""
    from hepnb import export
    from hepnb.models.mlp import WithProbabilities

    norm = load_normalization(info.out_dir, info.track, info.prefix)
    scaler = norm.module() if norm is not None else None
    wrapped = WithProbabilities(model.cpu().eval(), scaler)
    feats = feature_names(info.track)
    path = Path(path or info.out_dir / f"ghost_{info.track}.onnx")
    export.to_onnx(
        wrapped,
        path,
        len(feats),
        feature_names=feats,
        metadata={
            "track": info.track,
            "output": "probability of being a ghost",
            **(metadata or {}),
        },
    )
    export.check_parity(wrapped, path, raw_features(info, "test"), atol=1e-5)
    return path


def raw_features(info: DatasetInfo, split: str) -> np.ndarray:
    """Un-normalised features ``(N, F)`` of a split (inverting the saved scaling; use
    :func:`held_out_sample` for the exact values from the ntuple)."""
    s = info.load(split)
    norm = load_normalization(info.out_dir, info.track, info.prefix)
    return s.x if norm is None else norm.invert(s.x)


def held_out_sample(info: DatasetInfo) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Raw features ``(N, F)``, ghost labels ``(N,)`` and kinematics of the test split, read
    back from the source ntuple (no PyTorch, no normalisation file needed)."""
    s = info.load("test")
    nt = read_ntuple(info.summary["source"], info.track)
    pos = np.searchsorted(nt.row, s.row)
    if not np.array_equal(nt.row[pos], s.row) or not np.array_equal(nt.ghost[pos], s.y):
        raise ValueError(
            f"{info.summary['source']}: does not match the saved test split "
            f"{info.path('test')}; rerun the preprocessing"
        )
    return nt.x[pos], nt.ghost[pos], {k: v[pos] for k, v in nt.kin.items()}


def baselines(info: DatasetInfo, x_test: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Real-track scores (higher = more real) of the baselines on raw test features:

    * ``BDT``: sklearn ``HistGradientBoostingClassifier`` trained on the (raw) training split
      with the same class balancing as the MLP;
    * ``χ²/ndof cut``: −χ²/ndof of the track fit.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    feats = feature_names(info.track)
    tr = info.load("train")
    bdt = HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.1,
        early_stopping=True,
        validation_fraction=0.15,
        random_state=seed,
    )
    bdt.fit(raw_features(info, "train"), tr.y, sample_weight=tr.w)
    chi2 = x_test[:, feats.index("chi2")] / np.maximum(x_test[:, feats.index("ndof")], 1)
    return {"BDT": 1.0 - bdt.predict_proba(x_test)[:, 1], "χ²/ndof cut": -chi2}


def ghost_rate(values: np.ndarray, ghost: np.ndarray, keep: np.ndarray | None, bins):
    """Ghost rate (fraction of ghosts among candidates) in bins of ``values``, for all
    candidates or those kept by a cut.

    Returns:
        ``(bin centres, ghost rate, binomial error)``, each ``(n_bins,)``.
    """
    from hepnb.evaluate import binned_mean

    sel = np.ones(len(ghost), bool) if keep is None else np.asarray(keep, bool)
    c, m, e, _ = binned_mean(values[sel], ghost[sel], bins)
    return c, m, e
