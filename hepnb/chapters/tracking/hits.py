"""The two tables every tracking step passes around: hits of many events, and found tracks.

:class:`Hits` is a flat, column-oriented hit table of many events, sorted by event (a "long"
table, like Ariadne's pandas frames but numpy): every column has one entry per hit. Events are
numbered ``0 … n_events − 1``; an event may have no hits and still counts. Particle truth sits
in a second table with one row per particle. :class:`Tracks` holds reconstructed tracks as
compressed rows of hit indices (CSR).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hepnb.evaluate import check_csr

__all__ = ["HIT_COLUMNS", "PARTICLE_COLUMNS", "Hits", "Tracks"]

#: Columns every hit table has: event index, position (mm), station (0 = innermost) and the
#: particle (``track``, −1 for noise) — the Ariadne/BESIII hit record.
HIT_COLUMNS = ("event", "x", "y", "z", "station", "track")
#: Columns of the particle table: event, track id, momentum (GeV), production vertex (mm), charge (e).
PARTICLE_COLUMNS = ("event", "track", "px", "py", "pz", "vx", "vy", "vz", "charge")


def _columns(cols: Mapping[str, np.ndarray], what: str, required: tuple[str, ...]) -> dict:
    out = {k: np.asarray(v) for k, v in cols.items()}
    missing = [c for c in required if c not in out]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; it has {sorted(out)}")
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{what}: columns of different lengths {lengths}")
    return out


@dataclass(frozen=True)
class Hits:
    """Hits of ``n_events`` events, one entry per hit in every column, sorted by ``event``.

    Attributes:
        columns: ``event`` (int64), ``x y z`` (float64, mm), ``station`` (int64), ``track``
            (int64, −1: noise) and any derived columns (``r``, ``phi``...).
        particles: one row per particle: ``event track px py pz vx vy vz charge``.
        n_events: number of events (events without hits included).
    """

    columns: dict[str, np.ndarray]
    particles: dict[str, np.ndarray] = field(default_factory=dict)
    n_events: int = 0

    def __post_init__(self) -> None:
        cols = _columns(self.columns, "hits", HIT_COLUMNS)
        parts = _columns(
            self.particles or {c: np.zeros(0) for c in PARTICLE_COLUMNS},
            "particles",
            PARTICLE_COLUMNS,
        )
        for name in ("event", "station", "track"):
            cols[name] = cols[name].astype(np.int64)
        for name in ("event", "track", "charge"):
            parts[name] = parts[name].astype(np.int64)
        event = cols["event"]
        if len(event) and (np.diff(event) < 0).any():
            raise ValueError("hits: expected the table sorted by event")
        n = int(self.n_events) if self.n_events else int(event.max() + 1 if len(event) else 0)
        if len(event) and (event.min() < 0 or event.max() >= n):
            raise ValueError(f"hits: event indices outside 0 … {n - 1}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "particles", parts)
        object.__setattr__(self, "n_events", n)

    def __len__(self) -> int:
        return len(self.columns["event"])

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"hits: no column {name!r}; columns: {sorted(self.columns)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    @property
    def counts(self) -> np.ndarray:
        """``(n_events,)`` hits per event."""
        return np.bincount(self.columns["event"], minlength=self.n_events)

    @property
    def offsets(self) -> np.ndarray:
        """``(n_events + 1,)`` first hit of each event (CSR offsets)."""
        return np.concatenate([[0], np.cumsum(self.counts)])

    def with_columns(self, **columns: np.ndarray) -> Hits:
        """A copy with columns added or replaced (each one entry per hit)."""
        return Hits({**self.columns, **columns}, self.particles, self.n_events)

    def without(self, *names: str) -> Hits:
        """A copy without the named derived columns."""
        return Hits(
            {k: v for k, v in self.columns.items() if k not in names}, self.particles, self.n_events
        )

    def select(self, mask: np.ndarray) -> Hits:
        """The hits where ``mask`` (bool per hit) is true; events and particles are kept."""
        mask = np.asarray(mask, bool)
        if mask.shape != (len(self),):
            raise ValueError(f"hits.select: mask of shape {mask.shape}, expected ({len(self)},)")
        return Hits({k: v[mask] for k, v in self.columns.items()}, self.particles, self.n_events)

    def select_events(self, events: np.ndarray) -> Hits:
        """Events ``events`` (indices, or a bool mask over events), renumbered ``0 … k − 1``
        in the given order, with their particles."""
        events = np.asarray(events)
        if events.dtype == bool:
            events = np.flatnonzero(events)
        events = events.astype(np.int64)
        if len(events) and (events.min() < 0 or events.max() >= self.n_events):
            raise IndexError(f"hits.select_events: events outside 0 … {self.n_events - 1}")
        off = self.offsets
        starts, stops = off[events], off[events + 1]
        n = stops - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(n)[:-1]]), n) + np.arange(n.sum())
        cols = {k: v[idx] for k, v in self.columns.items()}
        cols["event"] = np.repeat(np.arange(len(events)), n)
        new = np.full(self.n_events, -1)
        new[events] = np.arange(len(events))
        pe = new[self.particles["event"]]
        keep = pe >= 0
        parts = {k: v[keep] for k, v in self.particles.items()}
        parts["event"] = pe[keep]
        order = np.argsort(parts["event"], kind="stable")
        parts = {k: v[order] for k, v in parts.items()}
        return Hits(cols, parts, len(events))

    def particle_index(self) -> np.ndarray:
        """``(n_hits,)`` row of each hit's particle in :attr:`particles` (−1: noise, or a
        track id without a particle row)."""
        pe, pt = self.particles["event"], self.particles["track"]
        width = int(max(pt.max(initial=0), self.columns["track"].max(initial=0))) + 1
        pkey = pe * width + pt
        order = np.argsort(pkey, kind="stable")
        hkey = self.columns["event"] * width + self.columns["track"]
        pos = np.searchsorted(pkey[order], hkey)
        pos = np.minimum(pos, max(len(order) - 1, 0))
        found = (
            (self.columns["track"] >= 0) & (len(order) > 0) & (pkey[order][pos] == hkey)
            if len(order)
            else np.zeros(len(hkey), bool)
        )
        return np.where(found, order[pos] if len(order) else -1, -1)


@dataclass(frozen=True)
class Tracks:
    """Reconstructed tracks as rows of hit indices (CSR).

    Attributes:
        offsets: ``(n_tracks + 1,)`` start of each track in ``hits``.
        hits: indices into the :class:`Hits` table the tracks were found in, each track's hits
            ordered from the innermost station outwards.
    """

    offsets: np.ndarray
    hits: np.ndarray

    def __post_init__(self) -> None:
        off, hit = check_csr(self.offsets, self.hits, "tracks: offsets", "hits")
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "hits", hit)

    @classmethod
    def from_lists(cls, tracks: list[list[int]] | list[np.ndarray]) -> Tracks:
        """Tracks from lists of hit indices (tests, hand-built cases)."""
        lengths = [len(t) for t in tracks]
        hits = (
            np.concatenate([np.asarray(t, np.int64) for t in tracks])
            if tracks
            else np.zeros(0, np.int64)
        )
        return cls(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]), hits)

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> Tracks:
        """Tracks from a label per hit (−1: on no track): hits sharing a label form a track,
        in hit order (tables are sorted by event and station)."""
        labels = np.asarray(labels, np.int64)
        idx = np.flatnonzero(labels >= 0)
        order = idx[np.argsort(labels[idx], kind="stable")]
        _, counts = np.unique(labels[order], return_counts=True)
        return cls(np.concatenate([[0], np.cumsum(counts)]), order)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """``(n_tracks,)`` hits per track."""
        return np.diff(self.offsets)

    @property
    def track_of_entry(self) -> np.ndarray:
        """``(len(hits),)`` the track each entry of :attr:`hits` belongs to."""
        return np.repeat(np.arange(len(self)), self.lengths)

    def event(self, hits: Hits) -> np.ndarray:
        """``(n_tracks,)`` event of each track (of its first hit; −1 for an empty track)."""
        first = self.offsets[:-1]
        ok = self.lengths > 0
        out = np.full(len(self), -1, np.int64)
        out[ok] = hits["event"][self.hits[first[ok]]]
        return out

    def __getitem__(self, i: int) -> np.ndarray:
        return self.hits[self.offsets[i] : self.offsets[i + 1]]
