"""Composable transformations of hit tables: coordinates, scalings and truth filters.

Every step of the tracking chapter preprocesses its events with a chain of small transforms,
in the style of Ariadne's ``ariadne/transformations.py`` (github.com/t3hseus/ariadne;
P. Goncharov et al., "Ariadne: PyTorch library for particle track reconstruction using deep
learning", AIP Conf. Proc. 2377 (2021) 040004, arXiv:2109.08982), which act on pandas frames
one event at a time. Ours act on a whole multi-event :class:`~hepnb.chapters.tracking.hits.Hits`
table at once, vectorised with numpy (a track is the group of hits sharing ``(event, track)``;
groups come from one sort, never from a loop over events or hits).

Three families:

* **coordinates and scalings** (change column values, keep every hit): :class:`ToCylindrical`,
  :class:`ToCartesian`, :class:`StandardScale`, :class:`MinMaxScale` (fitted on the training
  events), :class:`ConstraintsNormalize` (fixed detector ranges), :class:`Normalize`;
* **truth filters** (drop hits, tracks or events; use the ``track`` labels, so they are for
  training samples and studies, never for the hits a finder is run on): :class:`DropFakes`,
  :class:`DropShort`, :class:`DropSpinningTracks`, :class:`DropTracksWithHoles`,
  :class:`DropEmpty`;
* **bookkeeping**: :class:`ToBuckets` (a ``bucket`` column, the length of the hit's track)
  and :func:`buckets`.

:class:`Compose` chains them. Every transform's ``repr`` is a call with keyword literals
(``DropShort(min_hits=3, keep_filtered=False)``) that :func:`parse` reads back (with
:mod:`ast`, never ``eval``), fitted parameters included, so a fitted chain is stored in a
configuration or a JSON file as the list of strings :func:`to_config` gives::

    chain = parse(["ToCylindrical()", "StandardScale(columns=['r', 'phi', 'z'])"])
    chain.fit(train_hits)
    to_config(chain)  # ["ToCylindrical()", "StandardScale(columns=[...], offset=[...], ...)"]

Truth filters leave the particle table alone (a dropped track's particle is still a particle
of the event); only :class:`DropEmpty`, which removes whole events, removes particles.
"""

from __future__ import annotations

import ast
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from hepnb.chapters.tracking.hits import Hits
from hepnb.data import Scaler

__all__ = [
    "DEFAULT_CONSTRAINTS",
    "TRANSFORMS",
    "Compose",
    "ConstraintsNormalize",
    "DropEmpty",
    "DropFakes",
    "DropShort",
    "DropSpinningTracks",
    "DropTracksWithHoles",
    "MinMaxScale",
    "Normalize",
    "NotFittedError",
    "StandardScale",
    "ToBuckets",
    "ToCartesian",
    "ToCylindrical",
    "Transform",
    "buckets",
    "parse",
    "to_config",
]


class NotFittedError(ValueError):
    """A transform that needs :meth:`Transform.fit` was applied before being fitted."""


class _Geometry(Protocol):
    """What :meth:`ConstraintsNormalize.for_geometry` reads from a detector description."""

    @property
    def radii(self) -> Sequence[float]:
        """Station radii (mm)."""

    @property
    def half_length(self) -> Sequence[float] | float:
        """Half lengths along z (mm), per station or one for all."""


# --- literals: what a repr may hold ---------------------------------------------------------


def _literal(value: Any) -> str:
    """``value`` (None, bool, int, float, str, list, dict of them) as a Python literal that
    :func:`ast.literal_eval` reads back exactly (floats by ``repr``, lists not tuples)."""
    if value is None or isinstance(value, bool | str):
        return repr(value)
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no literal for {type(value).__name__} {value!r}")


def _names(who: str, param: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{who}: {param}={value!r}: expected a non-empty list of column names")
    if not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{who}: {param}={value!r}: every column name must be a non-empty string")
    if len(set(value)) != len(value):
        raise ValueError(f"{who}: {param}={value!r}: column names repeat")
    return list(value)


def _int(who: str, param: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{who}: {param}={value!r}: expected an integer >= {minimum}")
    return int(value)


def _bool(who: str, param: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{who}: {param}={value!r}: expected True or False")
    return bool(value)


def _floats(who: str, param: str, value: Any, n: int) -> list[float]:
    ok = isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) and len(value) == n
    if ok:
        ok = all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in value
        )
    if not ok or not all(math.isfinite(v) for v in value):
        raise ValueError(f"{who}: {param}={value!r}: expected a list of {n} finite numbers")
    return [float(v) for v in value]


def _column(hits: Hits, name: str, who: str) -> np.ndarray:
    if name not in hits:
        hint = " (add r and phi with ToCylindrical() first)" if name in ("r", "phi") else ""
        raise KeyError(
            f"{who}: hits have no column {name!r}{hint}; columns: {sorted(hits.columns)}"
        )
    return hits[name]


def _matrix(hits: Hits, columns: Sequence[str], who: str) -> np.ndarray:
    """``(N, F)`` float64 columns of ``hits``."""
    return np.stack([_column(hits, c, who).astype(np.float64) for c in columns], axis=1).reshape(
        len(hits), len(columns)
    )


def _check_hits(hits: Any, who: str) -> Hits:
    if not isinstance(hits, Hits):
        raise TypeError(f"{who}: expected a Hits table, got {type(hits).__name__}")
    return hits


# --- the base class -------------------------------------------------------------------------


class Transform(ABC):
    """A transformation of a :class:`~hepnb.chapters.tracking.hits.Hits` table.

    Subclasses set :meth:`params` (the constructor's keywords, literal values), ``__call__``
    and, when invertible, :meth:`inverse`. The ``repr`` lists every parameter as a keyword
    literal, so ``parse(repr(t)) == t``.
    """

    #: Whether :meth:`inverse` undoes ``__call__`` (on the columns it changed).
    _INVERTIBLE: ClassVar[bool] = False

    def fit(self, hits: Hits) -> Transform:
        """Fit on the training events' hits (no-op for transforms without parameters).

        Returns:
            ``self``.
        """
        _check_hits(hits, type(self).__name__)
        return self

    @abstractmethod
    def __call__(self, hits: Hits) -> Hits:
        """The transformed table (a new :class:`Hits`; the input is not modified)."""

    def inverse(self, hits: Hits) -> Hits:
        """Undo ``__call__`` on the columns it changed (raises where that is not meaningful)."""
        raise NotImplementedError(f"{type(self).__name__} is not invertible: {self._why_not()}")

    def _why_not(self) -> str:
        return "it drops or relabels hits, or loses information"

    @property
    def invertible(self) -> bool:
        """Whether :meth:`inverse` is defined."""
        return self._INVERTIBLE

    @property
    def rewrites(self) -> tuple[str, ...]:
        """Existing columns whose values a non-invertible transform replaces irreversibly
        (truth relabelling of ``track`` aside); :class:`Compose` refuses to invert across them."""
        return ()

    def params(self) -> dict[str, Any]:
        """The constructor's keyword arguments, as literals (what the repr shows)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_literal(v)}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transform):
            return NotImplemented
        return type(self) is type(other) and self.params() == other.params()

    __hash__ = None  # type: ignore[assignment]  # fitting mutates a transform


# --- coordinates ----------------------------------------------------------------------------


class ToCylindrical(Transform):
    """Add (or overwrite) ``r = hypot(x, y)`` (mm) and ``phi = arctan2(y, x)`` (rad, in
    (−π, π]: the −π that ``arctan2`` gives for ``y = −0.0, x < 0`` becomes +π). ``z`` is kept.

    Ariadne's ``ToCylindrical`` swaps the arguments (``arctan2(x, y)``, phi measured from +y);
    here phi is the usual azimuth from +x. The inverse is :class:`ToCartesian`.
    """

    _INVERTIBLE = True

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, "ToCylindrical")
        x = _column(hits, "x", "ToCylindrical").astype(np.float64)
        y = _column(hits, "y", "ToCylindrical").astype(np.float64)
        phi = np.arctan2(y, x)
        return hits.with_columns(r=np.hypot(x, y), phi=np.where(phi == -np.pi, np.pi, phi))

    def inverse(self, hits: Hits) -> Hits:
        """``x, y`` recomputed from ``r, phi`` (:class:`ToCartesian`); ``r, phi`` stay."""
        return ToCartesian()(hits)


class ToCartesian(Transform):
    """Overwrite ``x = r cos(phi)``, ``y = r sin(phi)`` (mm) from the ``r`` (mm) and ``phi``
    (rad) columns, which stay. The inverse is :class:`ToCylindrical`."""

    _INVERTIBLE = True

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, "ToCartesian")
        r = _column(hits, "r", "ToCartesian").astype(np.float64)
        phi = _column(hits, "phi", "ToCartesian").astype(np.float64)
        return hits.with_columns(x=r * np.cos(phi), y=r * np.sin(phi))

    def inverse(self, hits: Hits) -> Hits:
        """``r, phi`` recomputed from ``x, y`` (:class:`ToCylindrical`)."""
        return ToCylindrical()(hits)


# --- scalings -------------------------------------------------------------------------------


class _FittedScale(Transform):
    """Per-column affine scaling ``(v − offset) / scale`` fitted with :class:`hepnb.data.Scaler`."""

    _INVERTIBLE = True
    _KIND: ClassVar[str]

    def __init__(
        self,
        columns: Sequence[str] = ("r", "phi", "z"),
        offset: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
    ) -> None:
        who = type(self).__name__
        self.columns = _names(who, "columns", columns)
        if (offset is None) != (scale is None):
            raise ValueError(
                f"{who}: offset={offset!r}, scale={scale!r}: give both (a fitted scaling) or "
                "neither (fit it on the training events)"
            )
        n = len(self.columns)
        self.offset = None if offset is None else _floats(who, "offset", offset, n)
        self.scale = None if scale is None else _floats(who, "scale", scale, n)
        if self.scale is not None and min(self.scale) <= 0:
            raise ValueError(f"{who}: scale={scale!r}: expected positive scales")

    @staticmethod
    def _fit_scaler(x: np.ndarray, names: Sequence[str]) -> Scaler:
        raise NotImplementedError

    def fit(self, hits: Hits) -> _FittedScale:
        """Fit offset and scale of every column on ``hits`` (all of them, noise included).

        Returns:
            ``self``, fitted.
        """
        who = type(self).__name__
        hits = _check_hits(hits, who)
        if not len(hits):
            raise ValueError(f"{who}.fit: no hits to fit on")
        scaler = self._fit_scaler(_matrix(hits, self.columns, who), self.columns)
        self.offset = [float(v) for v in scaler.offset]
        self.scale = [float(v) for v in scaler.scale]
        return self

    @property
    def fitted(self) -> bool:
        """Whether offset and scale are known."""
        return self.offset is not None

    @property
    def scaler(self) -> Scaler:
        """The fitted :class:`hepnb.data.Scaler` (to fold into a model, or save as JSON)."""
        if self.offset is None or self.scale is None:
            raise NotFittedError(
                f"{type(self).__name__}(columns={self.columns!r}) is not fitted: call "
                ".fit(train_hits) first, or give offset= and scale="
            )
        return Scaler(
            np.asarray(self.offset),
            np.asarray(self.scale),
            names=tuple(self.columns),
            kind=self._KIND,
        )

    def __call__(self, hits: Hits) -> Hits:
        # float64: coordinates must round-trip through the inverse (float32 loses ~1e-7)
        x = _matrix(_check_hits(hits, type(self).__name__), self.columns, type(self).__name__)
        y = self.scaler.transform(x, dtype=np.float64)
        return hits.with_columns(**{c: y[:, i] for i, c in enumerate(self.columns)})

    def inverse(self, hits: Hits) -> Hits:
        """Raw columns ``v · scale + offset`` from scaled ones."""
        y = _matrix(_check_hits(hits, type(self).__name__), self.columns, type(self).__name__)
        x = self.scaler.inverse(y, dtype=np.float64)
        return hits.with_columns(**{c: x[:, i] for i, c in enumerate(self.columns)})

    def params(self) -> dict[str, Any]:
        return {"columns": self.columns, "offset": self.offset, "scale": self.scale}


class StandardScale(_FittedScale):
    """Standardise columns: ``(v − mean) / std`` with mean and std of the hits given to
    :meth:`fit` (the training events; a constant column gets std 1), from
    :meth:`hepnb.data.Scaler.standard` — Ariadne's ``StandardScale`` (sklearn's
    ``StandardScaler``), but fitted once on the training events instead of on every event.

    Args:
        columns: the columns scaled (default cylindrical ``r, phi, z``).
        offset, scale: ``(F,)`` fitted means and stds (set by :meth:`fit`; given when parsed
            from a stored, fitted repr).
    """

    _KIND = "standard"

    @staticmethod
    def _fit_scaler(x: np.ndarray, names: Sequence[str]) -> Scaler:
        return Scaler.standard(x, names)


class MinMaxScale(_FittedScale):
    """Scale columns to [0, 1]: ``(v − min) / (max − min)`` with min and max of the hits
    given to :meth:`fit` (a constant column gets scale 1), from
    :meth:`hepnb.data.Scaler.minmax` — Ariadne's ``MinMaxScale`` with its default range.
    Hits of other events may fall outside [0, 1].

    Args:
        columns: the columns scaled.
        offset, scale: ``(F,)`` fitted minima and ranges (set by :meth:`fit`).
    """

    _KIND = "minmax"

    @staticmethod
    def _fit_scaler(x: np.ndarray, names: Sequence[str]) -> Scaler:
        return Scaler.minmax(x, names)


class Normalize(Transform):
    """Divide each hit's vector of ``columns`` by its L2 norm (unit vectors), as sklearn's
    ``Normalizer(norm="l2")`` that Ariadne's ``Normalize`` wraps (F. Pedregosa et al., JMLR 12
    (2011) 2825); a zero vector stays zero, as there. Not invertible: the norm is lost.

    Args:
        columns: the columns forming the vector (default ``x, y, z``).
    """

    def __init__(self, columns: Sequence[str] = ("x", "y", "z")) -> None:
        self.columns = _names("Normalize", "columns", columns)

    def __call__(self, hits: Hits) -> Hits:
        x = _matrix(_check_hits(hits, "Normalize"), self.columns, "Normalize")
        norm = np.sqrt(np.einsum("ij,ij->i", x, x))
        y = x / np.where(norm > 0, norm, 1.0)[:, None]
        return hits.with_columns(**{c: y[:, i] for i, c in enumerate(self.columns)})

    def _why_not(self) -> str:
        return f"the L2 norm of {self.columns} is discarded"

    @property
    def rewrites(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def params(self) -> dict[str, Any]:
        return {"columns": self.columns}


#: Default ranges of :class:`ConstraintsNormalize`: r ∈ [0, 180] mm and z ∈ [−400, 400] mm, a
#: box around the BESIII cylindrical-GEM inner tracker (Ariadne's BESIII configuration,
#: ``resources/gin/prepare/tracknet_v2_prepare.cfg`` of github.com/t3hseus/ariadne, uses
#: r ∈ [80, 167] mm, z ∈ [−423.5, 423.5] mm); phi ∈ [−π, π] rad. Prefer
#: :meth:`ConstraintsNormalize.for_geometry` for the simulated detector.
DEFAULT_CONSTRAINTS: dict[str, list[float]] = {
    "r": [0.0, 180.0],
    "phi": [-math.pi, math.pi],
    "z": [-400.0, 400.0],
}


class ConstraintsNormalize(Transform):
    """Map each column linearly from a fixed range ``[lo, hi]`` to [−1, 1]:
    ``2 (v − lo) / (hi − lo) − 1`` (Ariadne's ``ConstraintsNormalize`` with global
    constraints). Nothing is fitted: the ranges come from the detector's geometry. Values
    outside ``[lo, hi]`` are mapped by the same line (beyond ±1), not clipped, so the map stays
    invertible.

    Args:
        constraints: ``{column: [lo, hi]}`` in the column's units (mm, rad); default
            :data:`DEFAULT_CONSTRAINTS`.
    """

    _INVERTIBLE = True

    def __init__(self, constraints: Mapping[str, Sequence[float]] | None = None) -> None:
        if constraints is None:
            constraints = DEFAULT_CONSTRAINTS
        if not isinstance(constraints, Mapping) or not constraints:
            raise ValueError(
                f"ConstraintsNormalize: constraints={constraints!r}: expected a non-empty "
                "mapping {column: [lo, hi]}"
            )
        out: dict[str, list[float]] = {}
        for col, rng in constraints.items():
            if not isinstance(col, str) or not col:
                raise ValueError(
                    f"ConstraintsNormalize: constraints key {col!r}: expected a column name"
                )
            lo, hi = _floats("ConstraintsNormalize", f"constraints[{col!r}]", rng, 2)
            if not lo < hi:
                raise ValueError(
                    f"ConstraintsNormalize: constraints[{col!r}]={list(rng)!r}: expected lo < hi"
                )
            out[col] = [lo, hi]
        self.constraints = out

    @classmethod
    def for_geometry(cls, geometry: _Geometry) -> ConstraintsNormalize:
        """The ranges of a cylindrical detector: r ∈ [0, max radius], phi ∈ [−π, π],
        z ∈ [−max half length, +max half length].

        Args:
            geometry: any object with ``radii`` (mm, one per station) and ``half_length``
                (mm, one per station, or one number).
        """
        for name in ("radii", "half_length"):
            if not hasattr(geometry, name):
                raise ValueError(
                    f"ConstraintsNormalize.for_geometry: {type(geometry).__name__} has no "
                    f"attribute {name!r} (expected radii and half_length in mm)"
                )
        r = np.asarray(geometry.radii, np.float64)
        h = np.asarray(geometry.half_length, np.float64)
        if not r.size or not h.size or not np.isfinite(r).all() or not np.isfinite(h).all():
            raise ValueError(
                "ConstraintsNormalize.for_geometry: expected finite, non-empty radii and "
                f"half_length, got {geometry.radii!r} and {geometry.half_length!r}"
            )
        r_max, z_max = float(np.abs(r).max()), float(np.abs(h).max())
        return cls({"r": [0.0, r_max], "phi": [-math.pi, math.pi], "z": [-z_max, z_max]})

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lohi = np.array(list(self.constraints.values()), np.float64)
        return lohi[:, 0], lohi[:, 1]

    def __call__(self, hits: Hits) -> Hits:
        cols = list(self.constraints)
        x = _matrix(_check_hits(hits, "ConstraintsNormalize"), cols, "ConstraintsNormalize")
        lo, hi = self._bounds()
        y = 2.0 * (x - lo) / (hi - lo) - 1.0
        return hits.with_columns(**{c: y[:, i] for i, c in enumerate(cols)})

    def inverse(self, hits: Hits) -> Hits:
        """Columns back in their units: ``lo + (v + 1)(hi − lo) / 2``."""
        cols = list(self.constraints)
        y = _matrix(_check_hits(hits, "ConstraintsNormalize"), cols, "ConstraintsNormalize")
        lo, hi = self._bounds()
        x = lo + (y + 1.0) * (hi - lo) / 2.0
        return hits.with_columns(**{c: x[:, i] for i, c in enumerate(cols)})

    def params(self) -> dict[str, Any]:
        return {"constraints": self.constraints}


# --- truth filters --------------------------------------------------------------------------


@dataclass(frozen=True)
class _TrackTable:
    """The true tracks of a hit table, from one sort by ``(event, track, station)``.

    Attributes:
        group: ``(n_hits,)`` track of each hit, ``0 … G − 1`` (−1: noise).
        event, track: ``(G,)`` key of each track (sorted by event, then track).
        n_hits: ``(G,)`` hits of each track.
        n_stations: ``(G,)`` distinct stations of each track.
        first, last: ``(G,)`` innermost and outermost station of each track.
    """

    group: np.ndarray
    event: np.ndarray
    track: np.ndarray
    n_hits: np.ndarray
    n_stations: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, hits: Hits) -> _TrackTable:
        event, track, station = hits["event"], hits["track"], hits["station"]
        real = np.flatnonzero(track >= 0)
        order = real[np.lexsort((station[real], track[real], event[real]))]
        e, t, s = event[order], track[order], station[order]
        new_track = np.ones(len(order), bool)
        new_track[1:] = (e[1:] != e[:-1]) | (t[1:] != t[:-1])
        new_station = new_track.copy()
        new_station[1:] |= s[1:] != s[:-1]
        sorted_group = np.cumsum(new_track) - 1
        n = int(new_track.sum())
        group = np.full(len(hits), -1, np.int64)
        group[order] = sorted_group
        n_hits = np.bincount(sorted_group, minlength=n)
        starts = np.flatnonzero(new_track)
        return cls(
            group=group,
            event=e[starts],
            track=t[starts],
            n_hits=n_hits,
            n_stations=np.bincount(sorted_group[new_station], minlength=n),
            first=s[starts],
            last=s[starts + n_hits - 1],
        )


class _TrackFilter(Transform):
    """Drops the tracks :meth:`_drop` flags, or relabels their hits as noise."""

    def __init__(self, keep_filtered: bool = False) -> None:
        self.keep_filtered = _bool(type(self).__name__, "keep_filtered", keep_filtered)

    @abstractmethod
    def _drop(self, tracks: _TrackTable) -> np.ndarray:
        """``(G,)`` bool: the tracks to drop."""

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, type(self).__name__)
        tracks = _TrackTable.of(hits)
        drop = np.append(self._drop(tracks), False)[tracks.group]  # group −1: noise, kept
        if self.keep_filtered:
            return hits.with_columns(track=np.where(drop, -1, hits["track"]))
        return hits.select(~drop)


class DropShort(_TrackFilter):
    """Drop tracks with fewer than ``min_hits`` hits (Ariadne's ``DropShort``).

    Hits are counted, not distinct stations: a looper with two hits on one station counts
    both (apply :class:`DropSpinningTracks` first to count stations).

    Args:
        min_hits: the fewest hits a kept track has.
        keep_filtered: keep the hits of dropped tracks as noise (``track = −1``) instead of
            removing them (Ariadne's ``keep_filtered``).
    """

    def __init__(self, min_hits: int = 3, keep_filtered: bool = False) -> None:
        self.min_hits = _int("DropShort", "min_hits", min_hits, 1)
        super().__init__(keep_filtered)

    def _drop(self, tracks: _TrackTable) -> np.ndarray:
        return tracks.n_hits < self.min_hits

    def params(self) -> dict[str, Any]:
        return {"min_hits": self.min_hits, "keep_filtered": self.keep_filtered}


class DropSpinningTracks(_TrackFilter):
    """Drop tracks with more than one hit on some station: low-momentum loopers that curl
    back through a station (Ariadne's ``DropSpinningTracks``).

    Args:
        keep_filtered: keep their hits as noise instead of removing them.
    """

    def _drop(self, tracks: _TrackTable) -> np.ndarray:
        return tracks.n_stations < tracks.n_hits

    def params(self) -> dict[str, Any]:
        return {"keep_filtered": self.keep_filtered}


class DropTracksWithHoles(_TrackFilter):
    """Drop tracks whose stations are not contiguous: some station between the track's first
    and last one has none of its hits (an inefficiency, or a track leaving and re-entering).

    The test is on distinct stations (``{first … last}`` all hit), so a looper's repeated
    station is not a hole. Ariadne's ``DropTracksWithHoles`` also requires the track to start
    at station 0 (``min_station_num=0``): that is ``from_first=True``.

    Args:
        keep_filtered: keep their hits as noise instead of removing them.
        from_first: also drop tracks that do not start at station 0.
    """

    def __init__(self, keep_filtered: bool = False, from_first: bool = False) -> None:
        super().__init__(keep_filtered)
        self.from_first = _bool("DropTracksWithHoles", "from_first", from_first)

    def _drop(self, tracks: _TrackTable) -> np.ndarray:
        holes = tracks.n_stations != tracks.last - tracks.first + 1
        return holes | (tracks.first != 0) if self.from_first else holes

    def params(self) -> dict[str, Any]:
        return {"keep_filtered": self.keep_filtered, "from_first": self.from_first}


class DropFakes(Transform):
    """Drop noise hits (``track == −1``; Ariadne's ``DropFakes``)."""

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, "DropFakes")
        return hits.select(hits["track"] >= 0)


class DropEmpty(Transform):
    """Drop events with fewer than ``min_tracks`` tracks (distinct ``track ≥ 0`` labels) left;
    the kept events are renumbered ``0 … k − 1`` (:meth:`Hits.select_events`) and the dropped
    events' particles go with them (Ariadne's ``DropEmpty`` is ``min_tracks=1``).

    Args:
        min_tracks: the fewest tracks a kept event has (0 keeps every event).
    """

    def __init__(self, min_tracks: int = 1) -> None:
        self.min_tracks = _int("DropEmpty", "min_tracks", min_tracks, 0)

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, "DropEmpty")
        tracks = _TrackTable.of(hits)
        n_tracks = np.bincount(tracks.event, minlength=hits.n_events)
        return hits.select_events(n_tracks >= self.min_tracks)

    def params(self) -> dict[str, Any]:
        return {"min_tracks": self.min_tracks}


# --- buckets --------------------------------------------------------------------------------


class ToBuckets(Transform):
    """Add an int64 column ``bucket``: the number of hits of the hit's track (0 for noise), so
    that tracks of equal length can be batched without padding (Ariadne's ``ToBuckets``, which
    also rebalances bucket sizes; here the bucket is just the length). The column describes
    the table it was computed on: filter first, then bucket. Not invertible.
    """

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, "ToBuckets")
        tracks = _TrackTable.of(hits)
        return hits.with_columns(bucket=np.append(tracks.n_hits, 0)[tracks.group])

    def _why_not(self) -> str:
        return "it only adds the bookkeeping column 'bucket'"


def buckets(hits: Hits) -> dict[int, np.ndarray]:
    """The true tracks grouped by length.

    Args:
        hits: any hit table (noise ignored).

    Returns:
        ``{length: keys}``, lengths ascending, ``keys`` ``(n, 2)`` int64 ``(event, track)`` of
        the tracks with ``length`` hits, sorted by event then track.
    """
    tracks = _TrackTable.of(_check_hits(hits, "buckets"))
    if not len(tracks.event):
        return {}
    keys = np.stack([tracks.event, tracks.track], axis=1).astype(np.int64)
    order = np.argsort(tracks.n_hits, kind="stable")
    lengths, starts = np.unique(tracks.n_hits[order], return_index=True)
    parts = np.split(keys[order], starts[1:])
    return {int(n): p for n, p in zip(lengths, parts, strict=True)}


# --- chains ---------------------------------------------------------------------------------


class Compose(Transform):
    """Transforms applied in order.

    :meth:`fit` fits each on the output of the ones before it. :meth:`inverse` applies the
    inverses of the invertible members in reverse order and skips the others, provided they
    leave existing coordinates alone (the truth filters and :class:`ToBuckets`): it gives the
    hits that survived, in their original coordinates, with their (possibly relabelled)
    tracks. A member that rewrites coordinates without an inverse (:class:`Normalize`) makes
    the chain not invertible.

    Args:
        transforms: :class:`Transform` objects, or repr strings (parsed).
    """

    def __init__(self, transforms: Sequence[Transform | str] = ()) -> None:
        if isinstance(transforms, str | Transform) or not isinstance(transforms, Sequence):
            raise ValueError(
                f"Compose: transforms={transforms!r}: expected a list of transforms or reprs"
            )
        items: list[Transform] = []
        for i, t in enumerate(transforms):
            if isinstance(t, str):
                t = parse(t)
            if not isinstance(t, Transform):
                raise ValueError(
                    f"Compose: transforms[{i}]={t!r}: expected a Transform or a repr string"
                )
            items.append(t)
        self.transforms = items

    def fit(self, hits: Hits) -> Compose:
        """Fit each transform on the training hits as the ones before it left them.

        Returns:
            ``self``.
        """
        hits = _check_hits(hits, "Compose")
        for i, t in enumerate(self.transforms):
            t.fit(hits)
            if i + 1 < len(self.transforms):
                hits = t(hits)
        return self

    def __call__(self, hits: Hits) -> Hits:
        hits = _check_hits(hits, "Compose")
        for t in self.transforms:
            hits = t(hits)
        return hits

    @property
    def invertible(self) -> bool:
        return all(t.invertible or not t.rewrites for t in self.transforms)

    @property
    def rewrites(self) -> tuple[str, ...]:
        return tuple(c for t in self.transforms if not t.invertible for c in t.rewrites)

    def inverse(self, hits: Hits) -> Hits:
        """The invertible members' inverses in reverse order (truth filters skipped)."""
        blocking = [t for t in self.transforms if not t.invertible and t.rewrites]
        if blocking:
            raise NotImplementedError(
                f"Compose is not invertible: {blocking[0]!r} rewrites columns "
                f"{list(blocking[0].rewrites)} and has no inverse"
            )
        hits = _check_hits(hits, "Compose")
        for t in reversed(self.transforms):
            if t.invertible:
                hits = t.inverse(hits)
        return hits

    def params(self) -> dict[str, Any]:
        return {"transforms": list(self.transforms)}

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transform):
            return NotImplemented
        return isinstance(other, Compose) and self.transforms == other.transforms

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, i: int) -> Transform:
        return self.transforms[i]


# --- parsing --------------------------------------------------------------------------------

#: The transforms :func:`parse` knows, by name.
TRANSFORMS: dict[str, type[Transform]] = {
    cls.__name__: cls
    for cls in (
        Compose,
        ConstraintsNormalize,
        DropEmpty,
        DropFakes,
        DropShort,
        DropSpinningTracks,
        DropTracksWithHoles,
        MinMaxScale,
        Normalize,
        StandardScale,
        ToBuckets,
        ToCartesian,
        ToCylindrical,
    )
}


def _from_node(node: ast.expr, source: str) -> Transform:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError(
            f"transform {source!r}: expected a call like DropShort(min_hits=3), got "
            f"{ast.unparse(node)!r}"
        )
    name = node.func.id
    cls = TRANSFORMS.get(name)
    if cls is None:
        raise ValueError(
            f"transform {source!r}: unknown transform {name!r}; known: {', '.join(TRANSFORMS)}"
        )
    if cls is Compose:
        lists = [*node.args, *(k.value for k in node.keywords if k.arg == "transforms")]
        extra = [k.arg for k in node.keywords if k.arg != "transforms"]
        if len(lists) != 1 or extra or not isinstance(lists[0], ast.List):
            raise ValueError(
                f"transform {source!r}: expected Compose([Transform(...), ...]) with one list "
                "of transforms"
            )
        return Compose([_from_node(e, source) for e in lists[0].elts])
    if node.args:
        raise ValueError(
            f"transform {source!r}: {name} takes keyword arguments only "
            f"(e.g. {name}({next(iter(inspect.signature(cls).parameters), 'x')}=...))"
        )
    allowed = list(inspect.signature(cls).parameters)
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None or kw.arg not in allowed:
            raise ValueError(
                f"transform {source!r}: {name} has no argument {kw.arg!r}; its arguments: "
                f"{allowed or 'none'}"
            )
        try:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(
                f"transform {source!r}: {name} argument {kw.arg}={ast.unparse(kw.value)} is "
                "not a literal (numbers, strings, True/False/None, lists, dicts)"
            ) from None
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f"transform {source!r}: {exc}") from None
    except TypeError as exc:  # a constructor's own type check; named like the ValueErrors
        raise ValueError(f"transform {source!r}: {name}: {exc}") from None


def parse(spec: str | Sequence[str]) -> Transform:
    """A transform from its repr, or a :class:`Compose` from a list of reprs.

    Parsed with :mod:`ast` (never ``eval``): only calls of the names in :data:`TRANSFORMS`
    with keyword literal arguments (``Compose`` takes one list of such calls).

    Args:
        spec: ``"DropShort(min_hits=3, keep_filtered=False)"``, ``"Compose([...])"``, or a
            list of repr strings (what :func:`to_config` gives and a config stores).

    Raises:
        ValueError: an unknown transform (the known ones listed), an unknown or non-literal
            argument, a bad value (naming the transform and the argument), or not a string.
    """
    if isinstance(spec, str):
        try:
            tree = ast.parse(spec.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"transform {spec!r}: not a transform repr ({exc.msg})") from None
        return _from_node(tree.body, spec)
    if isinstance(spec, Sequence | np.ndarray):
        bad = [i for i, s in enumerate(spec) if not isinstance(s, str)]
        if bad:
            raise ValueError(
                f"transforms[{bad[0]}]={spec[bad[0]]!r}: expected a repr string such as "
                "'DropShort(min_hits=3)'"
            )
        return Compose([parse(s) for s in spec])
    raise ValueError(
        f"transforms={spec!r}: expected a transform repr string or a list of them, "
        f"got {type(spec).__name__}"
    )


def to_config(transform: Transform) -> list[str]:
    """The list of repr strings a configuration stores (``transforms: [...]``); a
    :class:`Compose` gives one string per member, any other transform a one-item list.
    :func:`parse` of it gives the chain back (a :class:`Compose`), fitted parameters included."""
    if isinstance(transform, Compose):
        return [repr(t) for t in transform.transforms]
    if not isinstance(transform, Transform):
        raise ValueError(f"to_config: expected a Transform, got {type(transform).__name__}")
    return [repr(transform)]
