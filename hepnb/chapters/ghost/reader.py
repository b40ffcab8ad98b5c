"""Reading ghost-track ntuples — Allen's ``kalman_validator/kalman_ip_tree`` or the simulated
ones, which have the same layout (:mod:`~hepnb.chapters.ghost.schema`).

Labels: ``ghost`` (1 = ghost), as in the ntuple; networks output the ghost probability.
Efficiencies follow the LHCb convention: *signal* = real tracks (score = 1 − P(ghost)),
*efficiency* = fraction of real tracks kept and *ghost rejection* = 1 − fraction of ghosts
kept, so :mod:`hepnb.evaluate` is called with ``y = 1 − ghost``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hepnb import io
from hepnb.chapters.ghost.schema import (
    EVENT,
    FEATURES,
    KINEMATICS,
    LABEL,
    TREE,
    feature_names,
)

__all__ = ["Ntuple", "feature_names", "read_ntuple"]

log = logging.getLogger(__name__)


@dataclass
class Ntuple:
    """Features of one ntuple (or several, concatenated) after NaN removal.

    Attributes:
        path: the file(s) read.
        track: the feature set.
        x: features ``(N, F)`` float32 in the order of :func:`feature_names`.
        ghost: labels ``(N,)`` int8, 1 = ghost.
        row: entry of each row ``(N,)`` counted over the files in order.
        event: event id of each row ``(N,)`` int64 (candidates of one event share hits); when
            the file has no ``event`` branch, each row is its own event.
        kin: ``p`` (MeV/c; 1/|qop| when the file has no ``p``), ``pt`` (= best_pt, MeV/c) and
            ``eta`` when present, each ``(N,)``.
        n_read, n_nan: entries read and entries dropped for NaN/inf.
        has_events: whether the event ids came from the file.
    """

    path: Path | list[Path]
    track: str
    x: np.ndarray
    ghost: np.ndarray
    row: np.ndarray
    event: np.ndarray
    kin: dict[str, np.ndarray] = field(default_factory=dict)
    n_read: int = 0
    n_nan: int = 0
    has_events: bool = True

    @property
    def features(self) -> tuple[str, ...]:
        """The feature names, in column order."""
        return FEATURES[self.track]

    def __len__(self) -> int:
        return len(self.ghost)


def _check_branches(path: Path, tree: str, track: str) -> list[str]:
    """The kinematic branches present; a missing feature or label branch is an error naming
    it (and the other track type when the file holds that one)."""
    feats = feature_names(track)
    t = io.open_tree(path, tree)
    missing = [b for b in (*feats, LABEL) if b not in t]
    if missing:
        other = [o for o in FEATURES if o != track and all(b in t for b in FEATURES[o])]
        hint = (
            f"; the file has the {other[0]!r} feature set: use --track {other[0]}" if other else ""
        )
        raise io.SchemaError(
            f"{path}: tree {tree!r} lacks branch(es) {missing} needed for --track {track}{hint}"
        )
    return [k for k in (*KINEMATICS, EVENT) if k in t]


def _read_one(path: Path, track: str, tree: str) -> dict[str, np.ndarray]:
    feats = feature_names(track)
    extra = _check_branches(path, tree, track)
    arr = io.read_tree(path, tree, [*feats, LABEL, *extra], finite=False)
    out = {k: np.asarray(arr[k], dtype=np.float64) for k in (*feats, LABEL, *extra)}
    if EVENT not in out:
        out[EVENT] = np.full(len(out[LABEL]), np.nan)
    return out


def read_ntuple(
    path: str | os.PathLike | Sequence[str | os.PathLike], track: str, tree: str = TREE
) -> Ntuple:
    """Read the ``track`` feature set, the ``ghost`` label, event ids and kinematics of one or
    several files, dropping rows with non-finite features.

    Raises:
        ValueError: unknown ``track``; ``ghost`` holds values other than 0/1.
        hepnb.io.SchemaError: the file, tree or a branch is missing (the message names them).
        FileNotFoundError: a file does not exist.
    """
    feats = feature_names(track)
    paths = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
    if not paths:
        raise ValueError("read_ntuple: no file given")
    parts = [_read_one(p, track, tree) for p in paths]
    name = paths[0] if len(paths) == 1 else paths
    cols = {k for p in parts for k in p}
    data = {
        k: np.concatenate([p.get(k, np.full(len(p[LABEL]), np.nan)) for p in parts]) for k in cols
    }
    # event ids unique over the files; rows without one become their own event
    has_events = all(np.isfinite(p[EVENT]).all() for p in parts)
    file_of = np.repeat(np.arange(len(parts)), [len(p[LABEL]) for p in parts])
    if has_events:
        event = file_of.astype(np.int64) << 32 | data[EVENT].astype(np.int64)
    else:
        event = np.arange(len(file_of), dtype=np.int64)
        log.warning(
            "%s: no %r branch: each candidate is taken as its own event when splitting",
            name,
            EVENT,
        )
    x = np.stack([data[f] for f in feats], 1)
    ghost = data[LABEL]
    good = np.isfinite(x).all(1) & np.isfinite(ghost)
    n_nan = int((~good).sum())
    if n_nan:
        log.warning("%s: dropped %d of %d rows with NaN/inf features", name, n_nan, len(good))
    ghost = ghost[good]
    bad = np.setdiff1d(np.unique(ghost), [0, 1])
    if len(bad):
        raise ValueError(
            f"{name}: branch {LABEL!r} holds {bad[:5].tolist()}; expected 0 (real) or 1 (ghost)"
        )
    kin = {k: data[k][good] for k in KINEMATICS if k in data and np.isfinite(data[k]).any()}
    with np.errstate(divide="ignore"):
        kin.setdefault("p", 1.0 / np.abs(x[good, feats.index("qop")]))
    kin["pt"] = x[good, feats.index("best_pt")]
    return Ntuple(
        path=name,
        track=track,
        x=x[good].astype(np.float32),
        ghost=ghost.astype(np.int8),
        row=np.flatnonzero(good),
        event=event[good],
        kin=kin,
        n_read=len(good),
        n_nan=n_nan,
        has_events=has_events,
    )
