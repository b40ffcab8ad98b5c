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
    "tail_scales",
]

log = logging.getLogger(__name__)

TRACKS = tuple(FEATURES)
SPLITS = ("train", "valid", "test")
#: Kinematic branches read when present (ghost rate vs p, pT, η).
KINEMATICS = ("p", "eta")
#: Scales s of the signed-log compression sign(x)·ln(1 + |x|/s) applied before the min-max
#: scaling to the long-tailed features (units of the feature; about the core resolution).
TAIL_SCALES: dict[str, float] = {
    "chi2": 1.0,
    "pr_match_chi2": 1.0,
    "pr_seed_chi2": 1.0,
    "pr_forward_quality": 0.01,
    "best_pt": 100.0,
    "qop": 1e-5,
    "first_qop": 1e-5,
    "pr_match_dx": 1.0,
    "pr_match_dy": 1.0,
    "pr_match_dtx": 1e-3,
    "pr_match_dty": 1e-4,
}
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
        hint = (
            f"; the file has the {other[0]!r} feature set: use --track {other[0]}" if other else ""
        )
        raise io.SchemaError(
            f"{path}: tree {tree!r} lacks branch(es) {missing} needed for --track {track}{hint}"
        )
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
        raise ValueError(
            f"{path}: branch 'ghost' holds {bad[:5].tolist()}; expected 0 (real) or 1 (ghost)"
        )
    kin = {k: np.asarray(arr[k], dtype=np.float64)[good] for k in extra}
    qop = x[good, feats.index("qop")]
    with np.errstate(divide="ignore"):
        kin.setdefault("p", 1.0 / np.abs(qop))
    kin["pt"] = x[good, feats.index("best_pt")]
    return Ntuple(
        path,
        track,
        x[good].astype(np.float32),
        ghost.astype(np.int8),
        np.flatnonzero(good),
        kin,
        len(good),
        n_nan,
    )


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
    return np.sort(
        np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)])
    )


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
        raise ValueError(
            f"{path}: branch 'ghost' holds {what} ({n_ghost} ghosts in "
            f"{len(nt.ghost)} tracks): need both ghost and real tracks"
        )
    rng = np.random.default_rng(seed)
    keep = np.arange(len(nt.ghost))
    if fraction < 1.0:
        keep = np.sort(rng.choice(keep, max(round(fraction * len(keep)), 1), replace=False))
    from hepnb.data import split_indices

    y = nt.ghost
    parts = dict(
        zip(
            SPLITS,
            (keep[i] for i in split_indices(len(keep), seed=seed, stratify=y[keep])),
            strict=True,
        )
    )
    if balance == "undersample":
        for s in ("train", "valid"):
            parts[s] = _balance(parts[s], y, rng)
    for s, idx in parts.items():
        if len(np.unique(y[idx])) < 2:
            raise ValueError(
                f"{path}: the {s} split has {len(idx)} tracks and not both classes;"
                " use a larger sample or fraction"
            )
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
        io.atomic_write_json(
            _norm_path(out_dir, prefix, track),
            {
                "features": list(feats),
                "slog_scale": slog.tolist(),
                "offset": offset.tolist(),
                "scale": scale.tolist(),
                "method": "x → sign(x) ln(1 + |x|/slog_scale) where slog_scale > "
                "0, then (x − offset)/scale, min-max on the train split",
            },
        )
    else:
        _norm_path(out_dir, prefix, track).unlink(missing_ok=True)
    for s, idx in parts.items():
        x = nt.x[idx]
        if norm is not None:
            x = norm.apply(x)
        arrays = {
            "x": x,
            "y": y[idx],
            "row": nt.row[idx],
            **{f"kin_{k}": v[idx] for k, v in nt.kin.items()},
        }
        if balance == "weight" and s != "test":
            frac = y[idx].mean()
            arrays["w"] = np.where(y[idx] == 1, 0.5 / frac, 0.5 / (1 - frac)).astype(np.float32)
        with io.atomic_path(_split_path(out_dir, prefix, track, s)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    summary = {
        "source": str(Path(path).resolve()),
        "track": track,
        "features": list(feats),
        "n_read": nt.n_read,
        "n_nan_removed": nt.n_nan,
        "n_used": len(keep),
        "fraction": fraction,
        "ghost_fraction": float(y[keep].mean()),
        "balance": balance,
        "normalize": normalize,
        "tail_scales": dict(tail_scales or {}) if normalize else {},
        "seed": seed,
        "counts": {s: {"n": len(idx), "n_ghost": int(y[idx].sum())} for s, idx in parts.items()},
    }
    info = DatasetInfo(Path(out_dir), track, prefix, summary)
    io.atomic_write_json(info.summary_path, summary)
    if plot:
        import matplotlib.pyplot as plt

        from hepnb.plot import save

        fig = plot_features(nt.x[keep], y[keep], feats)
        save(fig, Path(out_dir) / f"{prefix}_{track}_features.png")
        plt.close(fig)
    log.info(
        "%s: %d tracks (%d NaN rows removed) → %s",
        path,
        len(keep),
        nt.n_nan,
        {s: len(i) for s, i in parts.items()},
    )
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
            raise ValueError(
                f"{path}: {f['x'].shape[1]} features, expected {len(feats)} for --track {track}"
            )
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
        raise ValueError(
            f"{path}: normalisation for features {d['features']}, expected "
            f"{list(feature_names(track))}"
        )
    return Normalization(
        np.asarray(d.get("slog_scale", np.zeros(len(d["offset"])))),
        np.asarray(d["offset"]),
        np.asarray(d["scale"]),
    )


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
            ax.hist(v[ghost == cls], bins=edges, density=True, histtype="step", lw=1.5, label=lab)
        ax.set_xlabel(LABELS.get(name, name), fontsize="small")
        ax.set_ylabel("normalised entries", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if i == 0:
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def tail_scales(track: str) -> dict[str, float]:
    """Signed-log scales of the long-tailed features of ``track``'s feature set."""
    return {k: v for k, v in TAIL_SCALES.items() if k in feature_names(track)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hepnb.features.ghost -f FILE --output DIR --track matching [--fraction F]
    [--normalize] [--plot] [--balance weight]``: the dataset step from the command line."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m hepnb.features.ghost", description="ghost-track dataset step (make_dataset)"
    )
    ap.add_argument("-f", "--file", required=True, help="ROOT file (kalman_ip_tree)")
    ap.add_argument("--output", required=True, help="output folder")
    ap.add_argument("--track", required=True, choices=list(FEATURES), help="feature set")
    ap.add_argument("--fraction", type=float, default=1.0, help="fraction of the data to use")
    ap.add_argument("--normalize", action="store_true", help="min-max scale to [0, 1]")
    ap.add_argument(
        "--log-tails",
        action="store_true",
        help="with --normalize: signed-log compress the long-tailed features",
    )
    ap.add_argument("--balance", default="undersample", choices=["undersample", "weight", "none"])
    ap.add_argument("--plot", action="store_true", help="histogram every feature")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefix", default="ghost", help="file-name prefix")
    a = ap.parse_args(argv)
    info = make_dataset(
        a.file,
        a.output,
        a.track,
        fraction=a.fraction,
        normalize=a.normalize,
        tail_scales=tail_scales(a.track) if a.log_tails else None,
        balance=a.balance,
        seed=a.seed,
        plot=a.plot,
        prefix=a.prefix,
    )
    print(json.dumps(info.summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
