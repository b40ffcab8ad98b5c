"""Ghost tracks (LHCb): the dataset step and the chapter's steps.

Dataset step (as the original ``make_dataset``): read the forward or matching feature set of
an Allen ``kalman_validator/kalman_ip_tree`` ntuple, drop rows with NaN/inf (counted), take a
seeded ``fraction``, split 60/20/20 (seeded, stratified), balance ghosts and real tracks in the
training and validation splits (by undersampling the majority class, as the original, or by
per-class weights that keep every track), optionally min-max normalise (offsets/scales fitted
on the training split, saved as JSON) and save the arrays atomically as ``.npz``. The test
split keeps the natural ghost fraction, so the rates measured on it are the physical ones.

Labels: ``y = ghost`` (1 = ghost), as in the ntuple; networks output the ghost probability.
Efficiencies follow the LHCb convention: *signal* = real tracks (score = 1 − P(ghost)),
*efficiency* = fraction of real tracks kept and *ghost rejection* = 1 − fraction of ghosts
kept (in %), so :mod:`hepnb.evaluate` is called with ``y = 1 − ghost``.

Chapter steps, each runnable on its own (it runs the previous one when its input is missing):
:func:`sample` → :func:`prepare` → :func:`search` / :func:`train` → :func:`export_onnx` →
:func:`held_out_sample`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepnb import io
from hepnb.sim.ghost import FEATURES, TREE

__all__ = [
    "FEATURES",
    "SPLITS",
    "TRACKS",
    "TREE",
    "DatasetInfo",
    "Ntuple",
    "Split",
    "feature_names",
    "load_normalization",
    "load_split",
    "make_dataset",
    "plot_features",
    "read_ntuple",
]

log = logging.getLogger(__name__)

TRACKS = tuple(FEATURES)
SPLITS = ("train", "valid", "test")
#: Kinematic branches read when present (ghost rate vs p, pT, η).
KINEMATICS = ("p", "eta")
#: Scales s of the signed-log compression sign(x)·ln(1 + |x|/s) applied before the min-max
#: scaling to the long-tailed features (units of the feature; about the core resolution).
TAIL_SCALES: dict[str, float] = {
    "chi2": 1.0, "pr_match_chi2": 1.0, "pr_seed_chi2": 1.0, "pr_forward_quality": 0.01,
    "best_pt": 100.0, "qop": 1e-5, "first_qop": 1e-5, "pr_match_dx": 1.0, "pr_match_dy": 1.0,
    "pr_match_dtx": 1e-3, "pr_match_dty": 1e-4,
}  # fmt: skip
#: Axis labels (with units) of the features and kinematics.
LABELS: dict[str, str] = {
    "best_pt": r"$p_\mathrm{T}$ [MeV/$c$]",
    "chi2": r"track fit $\chi^2$",
    "first_qop": r"pattern-recognition $q/p$ [$c$/MeV]",
    "n_scifi": "SciFi hits",
    "n_velo": "VELO hits",
    "ndof": "degrees of freedom",
    "pr_forward_quality": r"forward quality [mm$^2$]",
    "qop": r"fitted $q/p$ [$c$/MeV]",
    "pr_match_chi2": r"matching $\chi^2$",
    "pr_match_dtx": r"$\Delta t_x$ (seed − VELO)",
    "pr_match_dty": r"$\Delta t_y$ (seed − VELO)",
    "pr_match_dx": r"$\Delta x$ at the kick plane [mm]",
    "pr_match_dy": r"$\Delta y$ at $z$ = 10 m [mm]",
    "pr_seed_chi2": r"seed $\chi^2$/ndof",
    "p": r"$p$ [MeV/$c$]",
    "pt": r"$p_\mathrm{T}$ [MeV/$c$]",
    "eta": r"$\eta$",
}


def feature_names(track: str) -> tuple[str, ...]:
    """The feature branches of ``track`` (``forward`` or ``matching``)."""
    if track not in FEATURES:
        raise ValueError(f"track={track!r} (--track): expected one of {list(FEATURES)}")
    return FEATURES[track]


@dataclass
class Ntuple:
    """Features of one ntuple after NaN removal.

    Attributes:
        x: features ``(N, F)`` float32 in the order of :func:`feature_names`.
        ghost: labels ``(N,)`` int8, 1 = ghost.
        row: entry number in the file of each row ``(N,)``.
        kin: ``p`` (MeV; 1/|qop| when the file has no ``p``), ``pt`` (= best_pt, MeV) and
            ``eta`` when present, each ``(N,)``.
        n_read, n_nan: entries read and entries dropped for NaN/inf.
    """

    path: Path
    track: str
    x: np.ndarray
    ghost: np.ndarray
    row: np.ndarray
    kin: dict[str, np.ndarray]
    n_read: int
    n_nan: int

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES[self.track]


def read_ntuple(path: str | os.PathLike, track: str, tree: str = TREE) -> Ntuple:
    """Read the ``track`` feature set and ``ghost`` from ``path``, dropping non-finite rows.

    Raises:
        ValueError: unknown ``track``; ``ghost`` holds values other than 0/1.
        hepnb.io.SchemaError: the file, tree or a branch is missing (message names them).
    """
    feats = feature_names(track)
    path = Path(path)
    t = io.open_tree(path, tree)
    missing = [b for b in (*feats, "ghost") if b not in t]
    if missing:
        other = [o for o in FEATURES if o != track and all(b in t for b in FEATURES[o])]
        hint = f"; the file has the {other[0]!r} feature set: use --track {other[0]}" if other \
            else ""  # fmt: skip
        raise io.SchemaError(f"{path}: tree {tree!r} lacks branch(es) {missing} needed for "
                             f"--track {track}{hint}")  # fmt: skip
    extra = [k for k in KINEMATICS if k in t]
    arr = io.read_tree(path, tree, [*feats, "ghost", *extra], finite=False)
    x = np.stack([np.asarray(arr[f], dtype=np.float64) for f in feats], 1)
    ghost = np.asarray(arr["ghost"], dtype=np.float64)
    good = np.isfinite(x).all(1) & np.isfinite(ghost)
    n_nan = int((~good).sum())
    if n_nan:
        log.warning("%s: dropped %d of %d rows with NaN/inf features", path, n_nan, len(good))
    ghost = ghost[good]
    bad = np.setdiff1d(np.unique(ghost), [0, 1])
    if len(bad):
        raise ValueError(f"{path}: branch 'ghost' holds {bad[:5].tolist()}; expected 0 (real) "
                         "or 1 (ghost)")  # fmt: skip
    kin = {k: np.asarray(arr[k], dtype=np.float64)[good] for k in extra}
    qop = x[good, feats.index("qop")]
    with np.errstate(divide="ignore"):
        kin.setdefault("p", 1.0 / np.abs(qop))
    kin["pt"] = x[good, feats.index("best_pt")]
    return Ntuple(path, track, x[good].astype(np.float32), ghost.astype(np.int8),
                  np.flatnonzero(good), kin, len(good), n_nan)  # fmt: skip


@dataclass
class Split:
    """One saved split: ``x (N, F)`` float32 (normalised if the dataset was), ``y (N,)``
    (1 = ghost), ``row (N,)`` entries in the source ntuple, ``kin`` kinematics ``(N,)`` and
    class-balancing weights ``w (N,)`` (None unless ``balance="weight"``)."""

    x: np.ndarray
    y: np.ndarray
    row: np.ndarray
    kin: dict[str, np.ndarray]
    features: tuple[str, ...]
    w: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class DatasetInfo:
    """What :func:`make_dataset` wrote: split files, normalisation JSON and a summary."""

    out_dir: Path
    track: str
    prefix: str
    summary: dict[str, Any] = field(default_factory=dict)

    def path(self, split: str) -> Path:
        return _split_path(self.out_dir, self.prefix, self.track, split)

    @property
    def normalization_path(self) -> Path:
        return _norm_path(self.out_dir, self.prefix, self.track)

    @property
    def summary_path(self) -> Path:
        return _summary_path(self.out_dir, self.prefix, self.track)

    def load(self, split: str) -> Split:
        return load_split(self.out_dir, self.track, split, self.prefix)


def _split_path(out_dir, prefix, track, split) -> Path:
    return Path(out_dir) / f"{prefix}_{track}_{split}.npz"


def _norm_path(out_dir, prefix, track) -> Path:
    return Path(out_dir) / f"{prefix}_{track}_normalization.json"


def _summary_path(out_dir, prefix, track) -> Path:
    return Path(out_dir) / f"{prefix}_{track}_summary.json"


def _balance(idx: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Undersample the majority class of ``y[idx]`` to the size of the minority class."""
    pos, neg = idx[y[idx] == 1], idx[y[idx] == 0]
    n = min(len(pos), len(neg))
    return np.sort(np.concatenate([rng.choice(pos, n, replace=False),
                                   rng.choice(neg, n, replace=False)]))  # fmt: skip


def make_dataset(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    track: str,
    *,
    fraction: float = 1.0,
    normalize: bool = False,
    tail_scales: dict[str, float] | None = None,
    balance: str = "undersample",
    seed: int = 0,
    plot: bool = False,
    prefix: str = "ghost",
) -> DatasetInfo:
    """Build train/valid/test arrays from an ntuple (see module docstring).

    Args:
        path: ROOT file with tree ``kalman_validator/kalman_ip_tree``.
        out_dir: where ``<prefix>_<track>_{train,valid,test}.npz`` (keys ``x y row`` and the
            kinematics), ``..._normalization.json`` and ``..._summary.json`` go.
        track: ``forward`` or ``matching`` feature set.
        fraction: use this seeded random fraction of the rows, in (0, 1].
        normalize: min-max scale every feature to [0, 1] on the training split.
        tail_scales: with ``normalize``, first compress the listed features with
            sign(x)·ln(1 + |x|/s) (e.g. :data:`TAIL_SCALES`); None: plain min-max, as the
            original.
        balance: how train and valid are balanced: ``undersample`` (drop majority-class
            tracks at random), ``weight`` (keep all; a weight ``w`` per track makes both classes
            weigh the same, mean 1) or ``none``. The test split is never balanced.
        seed: fixes the fraction, the split and the balancing.
        plot: also save ghost-vs-real histograms of every feature (``..._features.png``).
        prefix: file-name prefix.

    Raises:
        ValueError: bad ``track``/``fraction``/``balance``; a sample holding only ghosts or
            only real tracks; a split left without one class.
    """
    feats = feature_names(track)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction={fraction}: expected a value in (0, 1]")
    if balance not in ("undersample", "weight", "none"):
        raise ValueError(f"balance={balance!r}: expected 'undersample', 'weight' or 'none'")
    nt = read_ntuple(path, track)
    n_ghost = int(nt.ghost.sum())
    if n_ghost in (0, len(nt.ghost)):
        what = "no ghost" if n_ghost == 0 else "only ghosts"
        raise ValueError(f"{path}: branch 'ghost' holds {what} ({n_ghost} ghosts in "
                         f"{len(nt.ghost)} tracks): need both ghost and real tracks")  # fmt: skip
    rng = np.random.default_rng(seed)
    keep = np.arange(len(nt.ghost))
    if fraction < 1.0:
        keep = np.sort(rng.choice(keep, max(round(fraction * len(keep)), 1), replace=False))
    from hepnb.data import split_indices

    y = nt.ghost
    parts = dict(zip(SPLITS, (keep[i] for i in split_indices(len(keep), seed=seed,
                                                             stratify=y[keep])), strict=True))  # fmt: skip
    if balance == "undersample":
        for s in ("train", "valid"):
            parts[s] = _balance(parts[s], y, rng)
    for s, idx in parts.items():
        if len(np.unique(y[idx])) < 2:
            raise ValueError(f"{path}: the {s} split has {len(idx)} tracks and not both classes;"
                             " use a larger sample or fraction")  # fmt: skip
    norm = None
    if normalize:
        unknown = sorted(set(tail_scales or {}) - set(feats))
        if unknown:
            raise ValueError(f"tail_scales: {unknown} are not features of --track {track}")
        slog = np.array([(tail_scales or {}).get(f, 0.0) for f in feats])
        xt = _slog(nt.x[parts["train"]], slog)
        offset, scale = xt.min(0), xt.max(0) - xt.min(0)
        scale[scale <= 0] = 1.0
        norm = Normalization(slog, offset, scale)
        io.atomic_write_json(_norm_path(out_dir, prefix, track),
                             {"features": list(feats), "slog_scale": slog.tolist(),
                              "offset": offset.tolist(), "scale": scale.tolist(),
                              "method": "x → sign(x) ln(1 + |x|/slog_scale) where slog_scale > "
                                        "0, then (x − offset)/scale, min-max on the train split"})  # fmt: skip
    else:
        _norm_path(out_dir, prefix, track).unlink(missing_ok=True)
    for s, idx in parts.items():
        x = nt.x[idx]
        if norm is not None:
            x = norm.apply(x)
        arrays = {"x": x, "y": y[idx], "row": nt.row[idx],
                  **{f"kin_{k}": v[idx] for k, v in nt.kin.items()}}  # fmt: skip
        if balance == "weight" and s != "test":
            frac = y[idx].mean()
            arrays["w"] = np.where(y[idx] == 1, 0.5 / frac, 0.5 / (1 - frac)).astype(np.float32)
        with io.atomic_path(_split_path(out_dir, prefix, track, s)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    summary = {
        "source": str(Path(path).resolve()), "track": track, "features": list(feats),
        "n_read": nt.n_read, "n_nan_removed": nt.n_nan, "n_used": len(keep),
        "fraction": fraction, "ghost_fraction": float(y[keep].mean()), "balance": balance,
        "normalize": normalize, "tail_scales": dict(tail_scales or {}) if normalize else {},
        "seed": seed,
        "counts": {s: {"n": len(idx), "n_ghost": int(y[idx].sum())} for s, idx in parts.items()},
    }  # fmt: skip
    info = DatasetInfo(Path(out_dir), track, prefix, summary)
    io.atomic_write_json(info.summary_path, summary)
    if plot:
        import matplotlib.pyplot as plt

        from hepnb.plot import save

        fig = plot_features(nt.x[keep], y[keep], feats)
        save(fig, Path(out_dir) / f"{prefix}_{track}_features.png")
        plt.close(fig)
    log.info("%s: %d tracks (%d NaN rows removed) → %s", path, len(keep), nt.n_nan,
             {s: len(i) for s, i in parts.items()})  # fmt: skip
    return info


def load_split(out_dir: str | os.PathLike, track: str, split: str, prefix: str = "ghost") -> Split:
    """Load one split written by :func:`make_dataset`."""
    feats = feature_names(track)
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    path = _split_path(out_dir, prefix, track, split)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such dataset file; run make_dataset first")
    with np.load(path) as f:
        if f["x"].shape[1] != len(feats):
            raise ValueError(f"{path}: {f['x'].shape[1]} features, expected {len(feats)} for "
                             f"--track {track}")  # fmt: skip
        kin = {k[4:]: f[k] for k in f.files if k.startswith("kin_")}
        return Split(f["x"], f["y"], f["row"], kin, feats, f["w"] if "w" in f.files else None)


def _slog(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.sign(x) * np.log1p(np.abs(x) / np.where(s > 0, s, 1.0))
    return np.where(s > 0, y, x)


@dataclass
class Normalization:
    """Input scaling of a dataset: signed-log compression (``slog_scale`` > 0) then min-max;
    arrays ``(F,)``."""

    slog_scale: np.ndarray
    offset: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Scaled features ``(N, F)`` float32 from raw ``x``."""
        return ((_slog(x, self.slog_scale) - self.offset) / self.scale).astype(np.float32)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Raw features from scaled ``x`` (inverse of :meth:`apply`)."""
        y = np.asarray(x, dtype=np.float64) * self.scale + self.offset
        s = self.slog_scale
        raw = np.sign(y) * np.expm1(np.abs(y)) * np.where(s > 0, s, 1.0)
        return np.where(s > 0, raw, y).astype(np.float32)

    def module(self):
        """The same scaling as a torch module (folded into exported models)."""
        from torch import nn

        from hepnb.models.mlp import MinMaxScaler, SignedLog

        return nn.Sequential(SignedLog(self.slog_scale), MinMaxScaler(self.offset, self.scale))


def load_normalization(
    out_dir: str | os.PathLike, track: str, prefix: str = "ghost"
) -> Normalization | None:
    """The :class:`Normalization` of a normalised dataset, or None if not normalised."""
    path = _norm_path(out_dir, prefix, track)
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    if d["features"] != list(feature_names(track)):
        raise ValueError(f"{path}: normalisation for features {d['features']}, expected "
                         f"{list(feature_names(track))}")  # fmt: skip
    return Normalization(np.asarray(d.get("slog_scale", np.zeros(len(d["offset"])))),
                         np.asarray(d["offset"]), np.asarray(d["scale"]))  # fmt: skip


def plot_features(x: np.ndarray, ghost: np.ndarray, names: Sequence[str], ncols: int = 4):
    """Grid of normalised histograms of each feature for ghosts and real tracks.

    Ranges are the 0.5–99.5% quantiles so that long tails do not hide the bulk.
    """
    import matplotlib.pyplot as plt

    from hepnb.plot import label

    nrows = (len(names) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    for ax in list(axes.flat)[: len(names)]:
        # labelled before the histograms: mplhep draws the figure to place the label
        label(ax, experiment="LHCb", text="Simulation", loc=0)
    for i, (ax, name) in enumerate(zip(axes.flat, names, strict=False)):
        v = x[:, i]
        lo, hi = np.quantile(v, [0.005, 0.995])
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        integer = np.array_equal(v, np.round(v)) and hi - lo < 60
        edges = np.arange(np.floor(lo), hi + 1.0) - 0.5 if integer else np.linspace(lo, hi, 41)
        for cls, lab in ((0, "real"), (1, "ghost")):
            ax.hist(v[ghost == cls], bins=edges, density=True, histtype="step", lw=1.5,
                    label=lab)  # fmt: skip
        ax.set_xlabel(LABELS.get(name, name), fontsize="small")
        ax.set_ylabel("normalised entries", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if i == 0:
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# chapter steps


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
        if (summary.get("source") == str(src.resolve()) and summary.get("seed") == seed
                and summary.get("fraction") == fraction and summary.get("normalize")
                and summary.get("balance") == balance
                and summary.get("tail_scales") == _tails(track)):  # fmt: skip
            info.summary = summary
            if plot and not (out / f"ghost_{track}_features.png").exists():
                return _make(src, out, track, fraction, seed, True, balance)
            return info
    return _make(src, out, track, fraction, seed, plot, balance)


def _tails(track: str) -> dict[str, float]:
    return {k: v for k, v in TAIL_SCALES.items() if k in feature_names(track)}


def _make(src, out, track, fraction, seed, plot, balance) -> DatasetInfo:
    return make_dataset(src, out, track, fraction=fraction, normalize=True,
                        tail_scales=_tails(track),
                        seed=seed, plot=plot, balance=balance)  # fmt: skip


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
        return _train_mlp(info, network, hidden, n_layers, activation, optimizer, lr,
                          batch_size, epochs, seed, device, fit_dir, on_epoch_end,
                          early_stopping, progress)  # fmt: skip
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train_mlp(info, network, hidden, n_layers, activation, optimizer, lr,
                          batch_size, epochs, seed, device, fit_dir, on_epoch_end,
                          early_stopping, progress)  # fmt: skip
    finally:
        torch.set_num_threads(before)


def _train_mlp(info, network, hidden, n_layers, activation, optimizer, lr, batch_size, epochs,
               seed, device, fit_dir, on_epoch_end, early_stopping, progress):  # fmt: skip
    from hepnb import train as _train
    from hepnb.models.mlp import ghost_mlp

    _train.set_seed(seed)
    model = ghost_mlp(network, len(feature_names(info.track)), hidden=hidden, n_layers=n_layers,
                      activation=activation)  # fmt: skip
    hist = _train.fit(
        model, loaders(info, batch_size), epochs=epochs, lr=lr, optimizer=optimizer,
        device=device, out_dir=fit_dir, seed=seed, early_stopping=early_stopping,
        mlflow=fit_dir is not None, experiment="ghost", on_epoch_end=on_epoch_end,
        progress=progress, params={"network": network, "hidden": hidden, "n_layers": n_layers,
                                   "activation": activation, "batch_size": batch_size,
                                   "track": info.track},
    )  # fmt: skip
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
        _, hist = train(info, network=network, epochs=epochs, seed=seed, device=device,
                        on_epoch_end=[tune.pruning_callback(trial)], early_stopping=3,
                        **params)  # fmt: skip
        return float(np.nanmax(hist["val_auc"]))

    return tune.run_study(objective, space or SEARCH_SPACE, out_dir=info.out_dir,
                          study_name=study_name or f"ghost_{info.track}_net{network}",
                          n_trials=n_trials, seed=seed)  # fmt: skip


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
        result = search(info, n_trials=n_trials, epochs=search_epochs, network=network,
                        seed=seed, device=device)  # fmt: skip
        params = dict(result.best_params)
    model, hist = train(info, network=network, epochs=epochs, seed=seed, device=device,
                        fit_dir=fit_dir, **params)  # fmt: skip
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


def export_onnx(model, info: DatasetInfo, path: str | os.PathLike | None = None,
                metadata: dict | None = None) -> Path:  # fmt: skip
    """Export ``model`` to ONNX taking *raw* features (the min-max normalisation is folded in)
    and returning P(ghost); checks ONNX Runtime against PyTorch to 1e-5 on the test split."""
    from hepnb import export
    from hepnb.models.mlp import WithProbabilities

    norm = load_normalization(info.out_dir, info.track, info.prefix)
    scaler = norm.module() if norm is not None else None
    wrapped = WithProbabilities(model.cpu().eval(), scaler)
    feats = feature_names(info.track)
    path = Path(path or info.out_dir / f"ghost_{info.track}.onnx")
    export.to_onnx(wrapped, path, len(feats), feature_names=feats,
                   metadata={"track": info.track, "output": "probability of being a ghost",
                             **(metadata or {})})  # fmt: skip
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
        raise ValueError(f"{info.summary['source']}: does not match the saved test split "
                         f"{info.path('test')}; rerun the preprocessing")  # fmt: skip
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
    bdt = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, early_stopping=True,
                                         validation_fraction=0.15, random_state=seed)  # fmt: skip
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hepnb.features.ghost -f FILE --output DIR --track matching [--fraction F]
    [--normalize] [--plot] [--balance weight]``: the dataset step from the command line."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hepnb.features.ghost",
                                 description="ghost-track dataset step (make_dataset)")  # fmt: skip
    ap.add_argument("-f", "--file", required=True, help="ROOT file (kalman_ip_tree)")
    ap.add_argument("--output", required=True, help="output folder")
    ap.add_argument("--track", required=True, choices=list(FEATURES), help="feature set")
    ap.add_argument("--fraction", type=float, default=1.0, help="fraction of the data to use")
    ap.add_argument("--normalize", action="store_true", help="min-max scale to [0, 1]")
    ap.add_argument("--log-tails", action="store_true",
                    help="with --normalize: signed-log compress the long-tailed features")  # fmt: skip
    ap.add_argument("--balance", default="undersample", choices=["undersample", "weight", "none"])
    ap.add_argument("--plot", action="store_true", help="histogram every feature")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefix", default="ghost", help="file-name prefix")
    a = ap.parse_args(argv)
    info = make_dataset(a.file, a.output, a.track, fraction=a.fraction, normalize=a.normalize,
                        tail_scales=_tails(a.track) if a.log_tails else None, balance=a.balance,
                        seed=a.seed, plot=a.plot, prefix=a.prefix)  # fmt: skip
    print(json.dumps(info.summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
