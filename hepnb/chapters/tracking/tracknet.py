"""TrackNETv2: training sequences of true tracks, and track building from seeds.

TrackNETv2 (Goncharov, Ososkov, Baranov, AIP Conf. Proc. 2163 (2019) 040003; for BESIII in the
Ariadne library, AIP Conf. Proc. 2377 (2021) 040004, github.com/t3hseus/ariadne,
``ariadne/tracknet_v2``) reads the hits of a track station by station and predicts, after each
hit, an ellipse on the next station where the next hit should lie: its centre ``(φ, z)`` and its
two semi-axes. Track building starts from seeds (hit pairs on adjacent stations) and extends
each one station by station with the hit inside the predicted ellipse.

Coordinates. Every hit enters the model as ``(r, φ_rel, z)``, normalised to O(1):

* ``r`` and ``z`` are columns 0 and 2 of the chapter's normalised ``features`` (one row per hit);
* ``φ_rel`` is the hit's azimuth ``atan2(y, x)`` (rad) *relative to the first hit of its sequence*
  (a true track, or a seed's first hit), the difference wrapped to (−π, π] and divided by
  ``phi_scale`` (π maps it to (−1, 1]). Column 1 of ``features`` (the absolute normalised φ) is
  not used: an absolute φ jumps by 2π where a track crosses φ = ±π, which breaks a regression
  there, while a relative φ is small and continuous along every track.

The targets, the ellipses and the track builder all use this convention, so an ellipse centre is
``(φ_rel, z)`` in the same normalised units and the ellipse test is Ariadne's
``(Δφ_rel/a₀)² + (Δz/a₁)² ≤ 1`` (``ariadne/tracknet_v2/inference.py``,
``check_hits_in_ellipse``). The square root of its left side, in [0, 1] inside the ellipse, is
the *normalised distance* used to choose between hits and to rank candidates.

Functions:

* :func:`sequences` — one padded sequence per true track with next-hit targets and a mask;
  :func:`loader` batches it for :func:`hepnb.train.fit`;
* :func:`hit_efficiency` — fraction of true next hits inside the predicted ellipses and the mean
  ellipse area (normalised units and mm²), overall and per step;
* :func:`build_tracks` — seeds extended by the model, conflicts resolved, as
  :class:`~hepnb.chapters.tracking.hits.Tracks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hepnb.chapters.tracking.hits import Hits, Tracks
from hepnb.train import resolve_device

__all__ = [
    "FEATURES",
    "MIN_HITS",
    "SequenceLoader",
    "TrackSequences",
    "build_tracks",
    "hit_efficiency",
    "loader",
    "sequences",
]

#: The model's per-hit inputs, in order (all normalised, O(1)).
FEATURES = ("r", "phi_rel", "z")
#: Default fewest hits of a built track: the two seed hits plus at least one hit found by the
#: model. On the three cylindrical GEM layers of the BESIII inner tracker upgrade (CGEM-IT), the
#: detector of Ariadne's TrackNETv2 study (AIP Conf. Proc. 2377 (2021) 040004), this is a hit on
#: every station; on more stations it is the minimum, and ``min_hits`` can ask for more.
MIN_HITS = 3
_TINY = 1e-12  # floor on the predicted semi-axes (the model's contract is a₀, a₁ > 0)


# --------------------------------------------------------------------------------------------
# helpers


def _wrap(dphi: np.ndarray) -> np.ndarray:
    """Angles (rad) wrapped to (−π, π]."""
    return np.pi - np.mod(np.pi - dphi, 2 * np.pi)


def _check_features(hits: Hits, features: np.ndarray) -> np.ndarray:
    """``features`` as float64 ``(H, 3)``, checked against ``hits``."""
    f = np.asarray(features)
    if f.shape != (len(hits), 3):
        raise ValueError(
            f"features: shape {f.shape}, expected ({len(hits)}, 3) — normalised (r, phi, z), "
            "one row per hit of the table, in its order"
        )
    if not np.issubdtype(f.dtype, np.number):
        raise ValueError(f"features: dtype {f.dtype}, expected a float array")
    f = f.astype(np.float64)
    bad = ~np.isfinite(f[:, [0, 2]])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"features: non-finite {('r', 'z')[col]} (column {(0, 2)[col]}) at hit {row}; "
            "expected finite normalised coordinates"
        )
    return f


def _phi(hits: Hits) -> np.ndarray:
    """``(H,)`` azimuth ``atan2(y, x)`` (rad) of every hit, checked finite."""
    x, y = np.asarray(hits["x"], np.float64), np.asarray(hits["y"], np.float64)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise ValueError(f"hits: non-finite x or y (mm) at hit {int(np.flatnonzero(bad)[0])}")
    return np.arctan2(y, x)


def _check_positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}={value!r}: expected a finite positive number")
    return v


def _check_int(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name}={value!r}: expected an integer ≥ {low}")
    return int(value)


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients for the block; the model's mode is restored afterwards."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was)


def _predict(
    model: nn.Module,
    x: np.ndarray,
    lengths: np.ndarray,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Model outputs ``(B, T, 4)`` (float64) for padded inputs ``x (B, T, 3)``, in batches.

    Each batch is cut to its longest sequence; outputs beyond a sequence's length are zero.
    """
    n, t = x.shape[:2]
    out = np.zeros((n, t, 4))
    for start in range(0, n, batch_size):
        lb = np.asarray(lengths[start : start + batch_size], np.int64)
        width = int(lb.max())
        xb = torch.from_numpy(
            np.ascontiguousarray(x[start : start + batch_size, :width], np.float32)
        )
        ob = model(xb.to(device), torch.from_numpy(lb))
        if not isinstance(ob, torch.Tensor) or tuple(ob.shape) != (len(lb), width, 4):
            shape = tuple(ob.shape) if isinstance(ob, torch.Tensor) else type(ob).__name__
            raise ValueError(
                f"model output: {shape}, expected ({len(lb)}, {width}, 4) — per step the "
                "ellipse centre (phi_rel, z) on the next station and its two semi-axes"
            )
        ob_np = ob.detach().cpu().numpy().astype(np.float64)
        valid = np.arange(width) < lb[:, None]
        if not np.isfinite(ob_np[valid]).all():
            raise ValueError("model output: non-finite ellipse (NaN/inf); check the model")
        out[start : start + batch_size, :width] = np.where(valid[..., None], ob_np, 0.0)
    return out


# --------------------------------------------------------------------------------------------
# training sequences


@dataclass(frozen=True)
class TrackSequences:
    """One sequence per true track: its hits station by station, zero-padded.

    Attributes:
        x: ``(N, T, 3)`` float32 inputs ``(r, φ_rel, z)`` (see the module docstring), zero after
            each sequence's length.
        lengths: ``(N,)`` int64 hits per sequence (≥ 2).
        y: ``(N, T, 3)`` float32 targets: ``y[:, t, :2]`` the ``(φ_rel, z)`` of hit ``t + 1``,
            ``y[:, t, 2]`` 1 where that hit exists (steps ``0 … length − 2``), else 0.
        event: ``(N,)`` event of each track.
        track: ``(N,)`` track id of each track.
        station: ``(N, T)`` station of each hit, −1 as padding.
        hit: ``(N, T)`` index of each hit in the hit table, −1 as padding.
        phi_scale: rad per normalised unit of ``φ_rel``.
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    event: np.ndarray
    track: np.ndarray
    station: np.ndarray
    hit: np.ndarray
    phi_scale: float

    def __len__(self) -> int:
        return len(self.lengths)

    def subset(self, rows: np.ndarray) -> TrackSequences:
        """The sequences ``rows`` (indices or a bool mask), padding cut to the longest kept."""
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        t = int(self.lengths[rows].max(initial=0))
        return TrackSequences(
            self.x[rows, :t],
            self.lengths[rows],
            self.y[rows, :t],
            self.event[rows],
            self.track[rows],
            self.station[rows, :t],
            self.hit[rows, :t],
            self.phi_scale,
        )


def sequences(hits: Hits, features: np.ndarray, *, phi_scale: float = np.pi) -> TrackSequences:
    """Training sequences of TrackNETv2: the hits of every true track, station by station.

    Meant for tables the chapter's chain has already cleaned: every track (``track ≥ 0``) must
    have at most one hit per station and no missing station between its first and last hit.
    Tracks with a single hit (nothing to predict) are left out; noise (``track = −1``) is not
    used.

    Args:
        hits: the hit table (``event x y z station track``; ``x, y`` in mm give φ).
        features: ``(H, 3)`` normalised ``(r, φ, z)`` of every hit, in table order; columns 0
            and 2 are used, φ is recomputed relative to each track's first hit.
        phi_scale: rad per normalised unit of ``φ_rel`` (π: ``φ_rel`` in (−1, 1]).

    Returns:
        :class:`TrackSequences`, ordered by (event, track).

    Raises:
        ValueError: wrong ``features`` shape or non-finite values; a track with two hits on one
            station (apply ``DropSpinningTracks``) or with a hole (apply ``DropTracksWithHoles``).
    """
    feats = _check_features(hits, features)
    phi_scale = _check_positive("phi_scale", phi_scale)
    phi = _phi(hits)
    ev, st, tr = hits["event"], hits["station"], hits["track"]
    idx = np.flatnonzero(tr >= 0)
    idx = idx[np.lexsort((st[idx], tr[idx], ev[idx]))]
    e, t, s = ev[idx], tr[idx], st[idx]
    same = (e[1:] == e[:-1]) & (t[1:] == t[:-1])
    ds = np.diff(s)
    for bad, what in ((same & (ds == 0), "two hits on one station"), (same & (ds > 1), "a hole")):
        if bad.any():
            j = int(np.flatnonzero(bad)[0]) + 1
            fix = "DropSpinningTracks" if what.startswith("two") else "DropTracksWithHoles"
            raise ValueError(
                f"hits: track {int(t[j])} of event {int(e[j])} has {what} (stations "
                f"{int(s[j - 1])} → {int(s[j])}); TrackNETv2 sequences need one hit per "
                f"consecutive station — apply {fix} to the table first"
            )
    new = np.concatenate([[True], ~same]) if len(idx) else np.zeros(0, bool)
    group = np.cumsum(new) - 1
    counts = np.bincount(group, minlength=int(new.sum()))
    keep = counts[group] >= 2
    idx, new = idx[keep], new[keep]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    n = len(starts)
    lengths = np.diff(np.append(starts, len(idx))).astype(np.int64)
    t_max = int(lengths.max(initial=0))
    pos = np.arange(len(idx)) - starts[group]
    rel = _wrap(phi[idx] - phi[idx[starts]][group]) / phi_scale
    point = np.column_stack([feats[idx, 0], rel, feats[idx, 2]])
    x = np.zeros((n, t_max, 3), np.float32)
    x[group, pos] = point
    y = np.zeros((n, t_max, 3), np.float32)
    nxt = pos >= 1
    y[group[nxt], pos[nxt] - 1, :2] = point[nxt][:, 1:]
    y[group[nxt], pos[nxt] - 1, 2] = 1.0
    station = np.full((n, t_max), -1, np.int64)
    station[group, pos] = st[idx]
    hit = np.full((n, t_max), -1, np.int64)
    hit[group, pos] = idx
    return TrackSequences(x, lengths, y, ev[idx[starts]], tr[idx[starts]], station, hit, phi_scale)


class SequenceLoader:
    """Batches ``((x, lengths), y)`` of :class:`TrackSequences` for :func:`hepnb.train.fit`.

    ``x (B, L, 3)`` float32, ``lengths (B,)`` int64 on the CPU and ``y (B, L, 3)`` float32, with
    ``L`` the longest sequence of the batch, or ``pad_to`` when given (every batch as wide: the
    training loop concatenates the validation batches). With ``shuffle`` the order is drawn anew at every
    pass: from ``np.random.default_rng(seed)`` created once (a fixed series of orders) when
    ``seed`` is given, else from torch's global RNG, which :func:`hepnb.train.fit` reseeds every
    epoch (so a resumed run sees the same orders).
    """

    def __init__(
        self,
        seqs: TrackSequences,
        batch_size: int = 256,
        shuffle: bool = False,
        seed: int | None = None,
        pad_to: int | None = None,
    ) -> None:
        self.seqs = seqs
        self.batch_size = _check_int("batch_size", batch_size, 1)
        longest = int(seqs.lengths.max(initial=1))
        if pad_to is not None and pad_to < longest:
            raise ValueError(f"pad_to={pad_to}: the longest sequence has {longest} hits")
        self.pad_to = pad_to
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        return -(-len(self.seqs) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        n = len(self.seqs)
        if not self.shuffle:
            order = np.arange(n)
        elif self._rng is not None:
            order = self._rng.permutation(n)
        else:
            order = torch.randperm(n).numpy()
        s = self.seqs
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            lengths = s.lengths[rows]
            width = int(lengths.max()) if self.pad_to is None else self.pad_to
            x = np.zeros((len(rows), width, s.x.shape[2]), np.float32)
            y = np.zeros((len(rows), width, s.y.shape[2]), np.float32)
            w = min(width, s.x.shape[1])
            x[:, :w], y[:, :w] = s.x[rows, :w], s.y[rows, :w]
            yield (
                (torch.from_numpy(x), torch.from_numpy(lengths.astype(np.int64))),
                torch.from_numpy(y),
            )


def loader(
    seqs: TrackSequences,
    batch_size: int = 256,
    shuffle: bool = False,
    seed: int | None = None,
    pad_to: int | None = None,
) -> SequenceLoader:
    """A :class:`SequenceLoader` over ``seqs`` (see there for the batches and the shuffling)."""
    return SequenceLoader(seqs, batch_size, shuffle, seed, pad_to)


# --------------------------------------------------------------------------------------------
# hit efficiency


def hit_efficiency(
    model: nn.Module,
    seqs: TrackSequences,
    batch_size: int = 4096,
    *,
    scales: Mapping[str, float] | None = None,
    radii: np.ndarray | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """How often the true next hit lies inside the predicted ellipse, and how large those are.

    Every valid step (a hit with a next hit on its track, teacher-forced on the true prefix)
    counts once. The physical area of an ellipse is ``π · (a₀ · s_φ · R) · (a₁ · s_z)`` in mm²:
    the φ semi-axis as an arc on the cylinder of the next hit's station (radius ``R``, mm).

    Args:
        model: maps ``(x (B, T, 3), lengths (B,))`` to ``(B, T, 4)`` ellipses
            ``(φ_rel, z, a₀, a₁)`` on the next station; moved to ``device``.
        seqs: the sequences (:func:`sequences`).
        batch_size: sequences per model call.
        scales: ``{"phi": rad, "z": mm}`` per normalised unit (``phi`` normally
            ``seqs.phi_scale``); with ``radii`` gives the areas in mm², else those are NaN.
        radii: ``(n_stations,)`` radius of each station (mm).
        device: where the model runs.

    Returns:
        ``efficiency`` (fraction inside), ``area`` (mean π·a₀·a₁, normalised units²),
        ``area_mm2`` (mean, mm²), ``n_steps``, and ``per_step``: a dict of arrays over the step
        ``t`` (prediction of hit ``t + 1`` from hits ``0 … t``): ``step``, ``efficiency``,
        ``area``, ``area_mm2``, ``n`` (NaN where a step has no entries); and ``steps``: one
        entry per valid step, ``event``, ``inside`` and ``area_mm2`` (for a bootstrap over
        events).
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    phys = _physical_scales(scales, radii, seqs)
    dev = resolve_device(device)
    model.to(dev)
    with _evaluating(model):
        out = _predict(model, seqs.x, seqs.lengths, batch_size, dev)
    rows, step = np.nonzero(seqs.y[..., 2] > 0)
    o = out[rows, step]
    target = seqs.y[rows, step, :2].astype(np.float64)
    a = np.maximum(o[:, 2:], _TINY)
    inside = (((target - o[:, :2]) / a) ** 2).sum(1) <= 1.0
    area = np.pi * a[:, 0] * a[:, 1]
    if phys is None:
        area_mm2 = np.full(len(area), np.nan)
    else:
        s_phi, s_z, r_mm = phys
        area_mm2 = area * s_phi * s_z * r_mm[seqs.station[rows, step + 1]]
    n_steps = max(seqs.y.shape[1] - 1, 0)
    n = np.bincount(step, minlength=n_steps)[:n_steps]

    def per_step(v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(step, weights=v, minlength=n_steps)[:n_steps] / n

    def mean(v: np.ndarray) -> float:
        return float(v.mean()) if len(v) else math.nan

    return {
        "efficiency": mean(inside.astype(np.float64)),
        "area": mean(area),
        "area_mm2": mean(area_mm2),
        "n_steps": len(step),
        "per_step": {
            "step": np.arange(n_steps),
            "efficiency": per_step(inside.astype(np.float64)),
            "area": per_step(area),
            "area_mm2": per_step(area_mm2),
            "n": n,
        },
        "steps": {
            "event": seqs.event[rows],
            "inside": inside,
            "area": area,
            "area_mm2": area_mm2,
        },
    }


def _physical_scales(
    scales: Mapping[str, float] | None, radii: np.ndarray | None, seqs: TrackSequences
) -> tuple[float, float, np.ndarray] | None:
    """``(rad, mm per unit, radii (mm))`` checked, or None when neither is given."""
    if scales is None and radii is None:
        return None
    if scales is None or radii is None:
        raise ValueError("hit_efficiency: give both scales and radii for areas in mm², or neither")
    for key in ("phi", "z"):
        if key not in scales:
            raise KeyError(
                f"scales: missing {key!r}; expected {{'phi': rad, 'z': mm}} per normalised unit"
            )
    s_phi = _check_positive("scales['phi']", scales["phi"])
    s_z = _check_positive("scales['z']", scales["z"])
    r = np.asarray(radii, np.float64)
    top = int(seqs.station.max(initial=-1))
    if r.ndim != 1 or len(r) <= top:
        raise ValueError(
            f"radii: shape {r.shape}, expected (n_stations,) with n_stations > {top} "
            "(the largest station in the sequences)"
        )
    if not (np.isfinite(r) & (r > 0)).all():
        raise ValueError("radii: expected finite positive station radii (mm)")
    return s_phi, s_z, r


# --------------------------------------------------------------------------------------------
# track building


def _check_seeds(seeds: np.ndarray, hits: Hits) -> np.ndarray:
    """``(S, 2)`` int64 seeds, checked: valid hit indices of one event on stations k, k + 1."""
    s = np.asarray(seeds)
    if s.size == 0 and s.shape in ((0,), (0, 2)):
        return np.zeros((0, 2), np.int64)
    if s.ndim != 2 or s.shape[1] != 2:
        raise ValueError(f"seeds: shape {s.shape}, expected (S, 2) hit indices")
    if not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"seeds: dtype {s.dtype}, expected integer hit indices")
    s = s.astype(np.int64)
    out = (s < 0) | (s >= len(hits))
    if out.any():
        row = int(np.flatnonzero(out.any(1))[0])
        raise ValueError(
            f"seeds: row {row} = {s[row].tolist()} has hit indices outside 0 … {len(hits) - 1}"
        )
    ev, st = hits["event"], hits["station"]
    bad = (ev[s[:, 0]] != ev[s[:, 1]]) | (st[s[:, 1]] != st[s[:, 0]] + 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        h0, h1 = s[row]
        raise ValueError(
            f"seeds: row {row} pairs hit {h0} (event {ev[h0]}, station {st[h0]}) with hit {h1} "
            f"(event {ev[h1]}, station {st[h1]}); expected two hits of one event on adjacent "
            "stations k → k + 1"
        )
    return s


def _station_radius(r: np.ndarray, station: np.ndarray, n_stations: int) -> np.ndarray:
    """``(n_stations,)`` mean normalised r of each station's hits; stations without hits are
    interpolated linearly between (or held flat beyond) stations with hits."""
    cnt = np.bincount(station, minlength=n_stations)
    known = np.flatnonzero(cnt)
    if not len(known):
        return np.zeros(n_stations)
    mean = np.bincount(station, weights=r, minlength=n_stations)[known] / cnt[known]
    return np.interp(np.arange(n_stations), known, mean)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + count)`` of every row."""
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return shift + np.arange(int(counts.sum()))


class _PhiIndex:
    """Hits sorted by (bin, φ) — a bin is an (event, station) — to find the hits of a bin in a
    φ window by binary search (what Ariadne does with a faiss index per station).

    Args:
        key: ``(H,)`` int bin of each hit, ≥ 0.
        phi: ``(H,)`` azimuth (rad) in [−π, π].
    """

    _SPAN = 8.0  # > 2π: bins never overlap in the sorted values

    def __init__(self, key: np.ndarray, phi: np.ndarray) -> None:
        value = key * self._SPAN + (phi + np.pi)
        self.order = np.argsort(value, kind="stable")
        self.value = value[self.order]

    def window(
        self, key: np.ndarray, low: np.ndarray, width: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (query row, hit index) of the hits of bin ``key[i]`` with φ in
        ``[low[i], low[i] + width[i]]`` (rad, any ``low``; the window wraps at ±π).

        Args:
            key: ``(n,)`` bin of each query.
            low: ``(n,)`` lower edge of the window (rad).
            width: ``(n,)`` width of the window (rad, ≥ 0).

        Returns:
            ``(rows, hits)``: two ``(P,)`` int arrays.
        """
        margin = 1e-9  # rad: the exact ellipse test follows, the window only has to cover it
        full = width + 2 * margin >= 2 * np.pi
        lo = np.where(full, -np.pi, -_wrap(-(low - margin)))  # in [−π, π)
        hi = np.where(full, np.pi, lo + width + 2 * margin)
        base = key * self._SPAN + np.pi
        v = self.value
        a1 = np.searchsorted(v, base + lo, "left")
        b1 = np.searchsorted(v, base + np.minimum(hi, np.pi), "right")
        wraps = hi > np.pi  # the rest of the window starts again at −π
        a2 = np.searchsorted(v, base - np.pi, "left")
        b2 = np.searchsorted(v, base + np.where(wraps, hi - 2 * np.pi, -np.pi), "right")
        c1, c2 = b1 - a1, np.where(wraps, b2 - a2, 0)
        rows = np.arange(len(key))
        pos = np.concatenate([_ranges(a1, c1), _ranges(a2, c2)])
        return np.concatenate([np.repeat(rows, c1), np.repeat(rows, c2)]), self.order[pos]


def build_tracks(
    model: nn.Module,
    hits: Hits,
    features: np.ndarray,
    seeds: np.ndarray,
    *,
    n_stations: int,
    max_holes: int = 0,
    min_hits: int = MIN_HITS,
    max_shared: int = 1,
    phi_scale: float = np.pi,
    batch_size: int = 4096,
    device: str | torch.device = "cpu",
    max_area: float | None = None,
) -> tuple[Tracks, dict[str, np.ndarray]]:
    """Extend seeds station by station with TrackNETv2, then keep the best non-conflicting ones.

    All seeds of all events are extended together, one station per iteration. For a seed
    ``(h₀, h₁)`` on stations ``k, k + 1`` the candidate is the sequence of its hits as
    ``(r, φ_rel, z)`` (φ relative to ``h₀``, as in :func:`sequences`). At each next station the
    model reads the whole prefix and predicts an ellipse; the hits of that event on that station
    inside it (``(Δφ_rel/a₀)² + (Δz/a₁)² ≤ 1``) are the choices, and the nearest one (smallest
    normalised distance, the square root of that sum) is appended. Without a hit inside, the
    candidate skips the station if it has skipped fewer than ``max_holes`` stations so far —
    the ellipse centre, at the station's mean normalised radius, stands in for the missing hit
    in later model inputs but is not part of the track — or else it ends there. The hits of an
    (event, station) are sorted by φ, so the ellipse's φ range is found by binary search and only
    the hits in it are tested. The model has no state to carry between calls, so it re-reads the
    whole prefix at every station (cost ∝ seeds × stations²: small for a few stations).

    Candidates with at least ``min_hits`` hits are ranked per event by (hits, descending; mean
    normalised distance of the hits the model added, ascending; seed row). Conflicts are resolved
    greedily in rounds: each round accepts the best remaining candidate of every event and drops
    the remaining candidates that share more than ``max_shared`` hits with it. So a candidate is
    dropped if it shares more than ``max_shared`` hits with any better-ranked accepted track;
    with the default 1, two tracks may cross at one hit (or start from one hit) but a candidate
    repeating two hits of a better one is a duplicate or a fake.

    Args:
        model: maps ``(x (B, T, 3), lengths (B,))`` to ``(B, T, 4)`` ellipses
            ``(φ_rel, z, a₀, a₁)`` on the next station; moved to ``device``.
        hits: the hit table; ``station`` must lie in ``0 … n_stations − 1``.
        features: ``(H, 3)`` normalised ``(r, φ, z)`` per hit (columns 0 and 2 used).
        seeds: ``(S, 2)`` hit indices, each pair of one event on stations ``k → k + 1``.
        n_stations: stations of the tracker.
        max_holes: stations a candidate may skip.
        min_hits: fewest hits of a kept track, in 3 … ``n_stations`` (:data:`MIN_HITS`).
        max_shared: most hits a kept track may share with each better-ranked one.
        phi_scale: rad per normalised unit of ``φ_rel`` (the one of the training sequences).
        batch_size: candidates per model call and per hit search (bounds the memory).
        device: where the model runs.
        max_area: largest ellipse area π·a₀·a₁ (normalised units²) searched; a larger one
            (a prefix unlike any training track, e.g. a seed of noise hits) finds no hit. Choose
            it on validation tracks (e.g. a high quantile of their ellipse areas). None: no
            limit.

    Returns:
        ``(tracks, quality)``: :class:`~hepnb.chapters.tracking.hits.Tracks` ordered by event and
        rank, each track's hit indices from the inner station out, and per track ``quality``
        arrays: ``distance`` (mean normalised distance of the added hits, 0 … 1), ``n_hits``,
        ``n_holes`` (skipped stations between its first and last hit) and ``seed`` (row in
        ``seeds``).

    Raises:
        ValueError: wrong ``features`` shape, seeds not pairs of one event on adjacent
            stations, stations outside ``0 … n_stations − 1``, or bad parameters.
    """
    n_stations = _check_int("n_stations", n_stations, 3)
    max_holes = _check_int("max_holes", max_holes, 0)
    max_shared = _check_int("max_shared", max_shared, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    phi_scale = _check_positive("phi_scale", phi_scale)
    if isinstance(min_hits, bool) or not isinstance(min_hits, int | np.integer):
        raise ValueError(f"min_hits={min_hits!r}: expected an integer in 3 … {n_stations}")
    if not 3 <= min_hits <= n_stations:
        raise ValueError(f"min_hits={min_hits}: expected 3 … n_stations = {n_stations}")
    feats = _check_features(hits, features)
    ev, st = hits["event"], hits["station"]
    if len(st) and (st.min() < 0 or st.max() >= n_stations):
        raise ValueError(
            f"hits: column 'station' spans {st.min()} … {st.max()}, expected 0 … "
            f"{n_stations - 1} (n_stations={n_stations})"
        )
    seeds = _check_seeds(seeds, hits)
    phi = _phi(hits)
    r, z = feats[:, 0], feats[:, 2]

    # hits sorted by (event, station, φ): one sorted value per hit for windows in φ
    index = _PhiIndex(ev * n_stations + st, phi)
    station_r = _station_radius(r, st, n_stations)

    n_seeds = len(seeds)
    h0, h1 = seeds[:, 0], seeds[:, 1]
    phi0, sev, first = phi[h0], ev[h0], st[h0]
    path_hit = np.full((n_seeds, n_stations), -1, np.int64)
    path_hit[:, :2] = seeds
    path_x = np.zeros((n_seeds, n_stations, 3), np.float32)
    path_x[:, 0] = np.column_stack([r[h0], np.zeros(n_seeds), z[h0]])
    path_x[:, 1] = np.column_stack([r[h1], _wrap(phi[h1] - phi0) / phi_scale, z[h1]])
    holes = np.zeros(n_seeds, np.int64)
    dist = np.zeros(n_seeds)
    active = first + 2 < n_stations

    dev = resolve_device(device)
    model.to(dev)
    with _evaluating(model):
        for length in range(2, n_stations):  # prefix length = position of the next hit
            live = np.flatnonzero(active)
            if not len(live):
                break
            for start_row in range(0, len(live), batch_size):  # memory bounded by the batch
                idx = live[start_row : start_row + batch_size]
                lengths = np.full(len(idx), length, np.int64)
                out = _predict(model, path_x[idx, :length], lengths, batch_size, dev)[:, -1]
                centre, axes = out[:, :2], np.maximum(out[:, 2:], _TINY)
                if max_area is not None:  # an ellipse larger than any true track's: no hit
                    axes[np.pi * axes[:, 0] * axes[:, 1] > max_area] = _TINY
                nxt = first[idx] + length
                half = axes[:, 0] * phi_scale
                cand, h = index.window(
                    sev[idx] * n_stations + nxt,
                    phi0[idx] + centre[:, 0] * phi_scale - half,
                    2 * half,
                )
                dphi = _wrap(phi[h] - phi0[idx][cand]) / phi_scale
                d2 = ((dphi - centre[cand, 0]) / axes[cand, 0]) ** 2 + (
                    (z[h] - centre[cand, 1]) / axes[cand, 1]
                ) ** 2
                inside = np.flatnonzero(d2 <= 1.0)
                ranked = inside[np.lexsort((d2[inside], cand[inside]))]
                best = ranked[np.concatenate([[True], np.diff(cand[ranked]) != 0])[: len(ranked)]]
                found = np.zeros(len(idx), bool)
                found[cand[best]] = True
                rows, hb = idx[cand[best]], h[best]
                path_hit[rows, length] = hb
                path_x[rows, length] = np.column_stack([r[hb], dphi[best], z[hb]])
                dist[rows] += np.sqrt(d2[best])
                miss = np.flatnonzero(~found)
                holes[idx[miss]] += 1
                skip = miss[holes[idx[miss]] <= max_holes]
                path_x[idx[skip], length] = np.column_stack([station_r[nxt[skip]], centre[skip]])
                active[idx[miss[holes[idx[miss]] > max_holes]]] = False
            active &= first + length + 1 < n_stations

    real = path_hit >= 0
    n_hits = real.sum(1)
    last = n_stations - 1 - np.argmax(real[:, ::-1], axis=1)
    n_holes = last + 1 - n_hits
    distance = dist / np.maximum(n_hits - 2, 1)
    cands = np.flatnonzero(n_hits >= min_hits)
    ranked_c = cands[np.lexsort((cands, distance[cands], -n_hits[cands], sev[cands]))]
    keep = ranked_c[_resolve(sev[ranked_c], path_hit[ranked_c], len(hits), max_shared)]
    lengths_out = n_hits[keep]
    tracks = Tracks(
        np.concatenate([[0], np.cumsum(lengths_out)]).astype(np.int64),
        path_hit[keep][real[keep]],
    )
    quality = {
        "distance": distance[keep],
        "n_hits": lengths_out,
        "n_holes": n_holes[keep],
        "seed": keep,
    }
    return tracks, quality


def _resolve(event: np.ndarray, path_hit: np.ndarray, n_hits: int, max_shared: int) -> np.ndarray:
    """Greedy conflict resolution over candidates sorted by (event, rank).

    Args:
        event: ``(C,)`` event of each candidate (sorted).
        path_hit: ``(C, n_stations)`` hit indices, −1 where none.
        n_hits: size of the hit table.
        max_shared: most hits a candidate may share with a better accepted one.

    Returns:
        ``(C,)`` bool: accepted. Each round accepts the best undecided candidate of every event
        and drops the undecided ones sharing more than ``max_shared`` hits with it; rounds ≤ the
        most tracks accepted in one event.
    """
    n = len(event)
    status = np.zeros(n, np.int8)  # 0 undecided, 1 accepted, -1 dropped
    real = path_hit >= 0
    ent_c = np.repeat(np.arange(n), real.sum(1))
    ent_h = path_hit[real]
    owner = np.full(n_hits, -1, np.int64)
    while True:
        live = status[ent_c] == 0
        ent_c, ent_h = ent_c[live], ent_h[live]
        und = np.flatnonzero(status == 0)
        if not len(und):
            break
        e = event[und]
        best = und[np.concatenate([[True], e[1:] != e[:-1]])]
        status[best] = 1
        newest = np.zeros(n, bool)
        newest[best] = True
        mine = newest[ent_c]
        owner[ent_h[mine]] = ent_c[mine]
        shared = ~mine & (owner[ent_h] >= 0)
        count = np.bincount(ent_c[shared], minlength=n)
        status[(status == 0) & (count > max_shared)] = -1
        owner[ent_h[mine]] = -1
    return status == 1
