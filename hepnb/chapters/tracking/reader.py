"""Readers of track-finding samples: ROOT trees and Ariadne's BESIII text files.

:func:`read` dispatches on the suffix: ``.root`` → :func:`read_root`, anything else →
:func:`read_text`; a list of paths is read file by file and the events concatenated. Both give a
:class:`~hepnb.chapters.tracking.hits.Hits` table sorted by event then station (stable: file
order within a station), events numbered ``0 …`` in file order.

**ROOT.** Tree ``schema.TREE`` with the jagged branches of ``schema.HIT_BRANCHES`` and
``schema.PARTICLE_BRANCHES``, as ``std::vector<float>``/``<double>``/``<int>`` written by ROOT's
TTree or as counted arrays written by uproot (the simulator); counter branches are not needed.
Every entry is checked: the hit branches (and the particle branches) have the same length, a
station is an integer ≥ 0, a track is −1 or the index of a particle of the entry, and numbers are
finite; errors name the file, the entry and the branch.

**Text** (``schema.TEXT_COLUMNS``, Ariadne's BESIII format): 12 whitespace-separated numbers per
line, ``#`` comments and blank lines allowed; errors name the file and the 1-based line. Event
ids may be any integers in any order: hits are grouped by event, events renumbered in order of
first appearance. Particles are one per (event, track ≥ 0), their momentum and vertex read from
their hits (track ids kept as in the file). The format has no charge: it is inferred from the
bending of the particle's hits, assuming the solenoid field along +z. A circle lies on the side
of its tangent line where its centre is, and a positive particle turns clockwise seen from +z,
so its hits lie to the right of its initial direction p̂ from its vertex v:
charge = −sign Σ_hits (p̂ × (hit − v))_z (0 where this is 0). Summing over hits, rather than
using the first hit only, keeps stiff tracks right: their first hit bends away from the tangent
by r²/2R, a few σ of the resolution at best.

An event with fewer than 2 hits is an error (``skip_small_events=True`` drops such events).
This module never imports the simulator.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from hepnb.chapters.tracking import schema
from hepnb.chapters.tracking.hits import PARTICLE_COLUMNS, Hits
from hepnb.io import SchemaError, open_tree

__all__ = ["read", "read_root", "read_text"]

_MIN_HITS = 2
_SMALL_HINT = "; pass skip_small_events=True to drop them"


def read(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    tree: str = schema.TREE,
    skip_small_events: bool = False,
) -> Hits:
    """Read one file, or several concatenated (events renumbered), by suffix.

    Args:
        path: a ``.root`` file (:func:`read_root`), any other file (:func:`read_text`), or a
            list of such paths.
        tree: tree name of ROOT files.
        skip_small_events: drop events with fewer than 2 hits instead of raising.

    Returns:
        The hit table of all events, with particles.
    """
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not paths:
        raise ValueError("read: no paths given")
    tables = [
        read_root(p, tree, skip_small_events=skip_small_events)
        if Path(p).suffix.lower() == ".root"
        else read_text(p, skip_small_events=skip_small_events)
        for p in paths
    ]
    return tables[0] if len(tables) == 1 else _concat(tables)


def _concat(tables: list[Hits]) -> Hits:
    """Events of ``tables`` one after the other, renumbered."""
    shift = np.cumsum([0] + [t.n_events for t in tables[:-1]])
    cols = {
        k: np.concatenate(
            [t[k] + s if k == "event" else t[k] for t, s in zip(tables, shift, strict=True)]
        )
        for k in tables[0].columns
    }
    parts = {
        k: np.concatenate(
            [
                t.particles[k] + s if k == "event" else t.particles[k]
                for t, s in zip(tables, shift, strict=True)
            ]
        )
        for k in PARTICLE_COLUMNS
    }
    return Hits(cols, parts, int(sum(t.n_events for t in tables)))


def _build(
    cols: dict[str, np.ndarray],
    parts: dict[str, np.ndarray],
    n_events: int,
    small_error: str,
    ids: np.ndarray,
    skip_small_events: bool,
) -> Hits:
    """Drop or reject small events, sort by (event, station), renumber; ``ids`` names events."""
    counts = np.bincount(cols["event"], minlength=n_events)
    small = counts < _MIN_HITS
    if small.any() and not skip_small_events:
        e = int(np.argmax(small))
        raise ValueError(
            small_error.format(event=ids[e], n=int(counts[e]))
            + f": an event needs at least {_MIN_HITS} hits{_SMALL_HINT}"
        )
    if small.any():
        new = np.cumsum(~small) - 1
        keep = ~small[cols["event"]]
        cols = {k: v[keep] for k, v in cols.items()}
        cols["event"] = new[cols["event"]]
        pkeep = ~small[parts["event"]]
        parts = {k: v[pkeep] for k, v in parts.items()}
        parts["event"] = new[parts["event"]]
        n_events = int((~small).sum())
    order = np.lexsort((cols["station"], cols["event"]))
    return Hits({k: v[order] for k, v in cols.items()}, parts, n_events)


# ---------------------------------------------------------------------------------------------
# ROOT
# ---------------------------------------------------------------------------------------------
def _entry(flat_index: int, counts: np.ndarray) -> int:
    """Entry holding element ``flat_index`` of a jagged branch with ``counts`` per entry."""
    return int(np.searchsorted(np.cumsum(counts), flat_index, side="right"))


def _jagged(path: Path, tree: str, name: str, array: ak.Array, what: str) -> ak.Array:
    inner = getattr(ak.type(array).content, "content", None)
    if array.ndim != 2 or not isinstance(inner, ak.types.NumpyType):
        raise SchemaError(
            f"{path}: branch {name!r} of tree {tree!r} has type {ak.type(array).content}, "
            f"expected a jagged list of numbers per entry ({what}: std::vector<float/double/int> "
            f"or a counted array)"
        )
    return array


def _same_lengths(path: Path, tree: str, arrays: dict[str, ak.Array]) -> np.ndarray:
    """Counts per entry shared by ``arrays``; else an error naming the entry and branches."""
    names = list(arrays)
    counts = {b: ak.to_numpy(ak.num(arrays[b], axis=1)) for b in names}
    ref = counts[names[0]]
    for b in names[1:]:
        bad = counts[b] != ref
        if bad.any():
            e = int(np.argmax(bad))
            lengths = ", ".join(f"{n}: {int(counts[n][e])}" for n in names)
            raise SchemaError(
                f"{path}: tree {tree!r}, entry {e}: branches of different lengths ({lengths}); "
                f"{names[0]!r} and {b!r} must have one value per "
                f"{'hit' if names[0] in schema.HIT_BRANCHES else 'particle'}"
            )
    return ref


def _flat(arrays: dict[str, ak.Array], name: str) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(arrays[name], axis=1)), dtype=np.float64)


def _check_int(
    path: Path, tree: str, name: str, values: np.ndarray, counts: np.ndarray, low: int
) -> np.ndarray:
    """Integer values ≥ ``low`` (NaN, fractions and smaller values name the entry)."""
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < low)
    if bad.any():
        i = int(np.argmax(bad))
        raise SchemaError(
            f"{path}: tree {tree!r}, entry {_entry(i, counts)}: {name} = {values[i]:g}, "
            f"expected an integer ≥ {low}"
            + ("; a hit needs a station (0 = innermost layer)" if name == "station" else "")
        )
    return values.astype(np.int64)


def _check_finite(
    path: Path, tree: str, name: str, values: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise SchemaError(
            f"{path}: tree {tree!r}, entry {_entry(i, counts)}: {name} = {values[i]:g}, "
            f"expected a finite number"
        )
    return values


def read_root(
    path: str | os.PathLike, tree: str = schema.TREE, *, skip_small_events: bool = False
) -> Hits:
    """Read a ROOT file of tree ``tree`` (one entry per event).

    Args:
        path: the ``.root`` file.
        tree: tree name.
        skip_small_events: drop events with fewer than 2 hits instead of raising.

    Returns:
        The hits (float64 positions, int64 station/track) and particles of all entries, events
        numbered by entry; ``track`` is the index of the particle in its entry.

    Raises:
        FileNotFoundError: no such file.
        SchemaError: (a ValueError) the file is unreadable, the tree is missing (the message
            lists the trees found), a branch is missing (named, with the branches the tree has)
            or not jagged, an entry's branches differ in length, a station is missing, NaN or
            negative, a track points outside its entry's particles, a value is not finite.
        ValueError: an event with fewer than 2 hits (unless ``skip_small_events``).
    """
    path = Path(path)
    t = open_tree(path, tree)
    wanted = (*schema.HIT_BRANCHES, *schema.PARTICLE_BRANCHES)
    try:
        have = set(t.keys())
        if "station" not in have:
            raise SchemaError(
                f"{path}: tree {tree!r} has no branch 'station': hits without a station (layer "
                f"index, 0 = innermost) cannot be used; the tree has {sorted(have)}"
            )
        missing = [b for b in wanted if b not in have]
        if missing:
            raise SchemaError(
                f"{path}: tree {tree!r} lacks branch(es) {missing}; it has {sorted(have)}"
            )
        arrays = t.arrays(list(wanted), library="ak", how=dict)
    except SchemaError:
        raise
    except Exception as exc:  # uproot raises many types for corrupt or exotic input
        raise SchemaError(
            f"{path}: cannot read the branches of tree {tree!r} ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        t.file.close()
    for b in wanted:
        _jagged(path, tree, b, arrays[b], "hits" if b in schema.HIT_BRANCHES else "particles")
    counts = _same_lengths(path, tree, {b: arrays[b] for b in schema.HIT_BRANCHES})
    pcounts = _same_lengths(path, tree, {b: arrays[b] for b in schema.PARTICLE_BRANCHES})
    n_events = len(counts)
    event = np.repeat(np.arange(n_events), counts)
    cols = {"event": event}
    for b in ("x", "y", "z"):
        cols[b] = _check_finite(path, tree, b, _flat(arrays, b), counts)
    cols["station"] = _check_int(path, tree, "station", _flat(arrays, "station"), counts, 0)
    track = _check_int(path, tree, "track", _flat(arrays, "track"), counts, -1)
    n_part = pcounts[event]
    bad = track >= n_part
    if bad.any():
        i = int(np.argmax(bad))
        raise SchemaError(
            f"{path}: tree {tree!r}, entry {int(event[i])}: track = {int(track[i])} points "
            f"outside the entry's {int(n_part[i])} particle(s); expected −1 (noise) or "
            f"0 … {int(n_part[i]) - 1}"
        )
    cols["track"] = track
    pevent = np.repeat(np.arange(n_events), pcounts)
    parts = {
        "event": pevent,
        "track": np.arange(len(pevent)) - np.repeat(np.cumsum(pcounts) - pcounts, pcounts),
    }
    for b in ("px", "py", "pz", "vx", "vy", "vz"):
        parts[b] = _check_finite(path, tree, b, _flat(arrays, b), pcounts)
    parts["charge"] = _check_int(path, tree, "charge", _flat(arrays, "charge"), pcounts, -(2**31))
    return _build(
        cols,
        parts,
        n_events,
        f"{path}: tree {tree!r}, entry {{event}} has {{n}} hit(s)",
        np.arange(n_events),
        skip_small_events,
    )


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------
def _data_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, text) of every data line (error path only)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return [
            (i, line.rstrip("\n")) for i, line in enumerate(f, 1) if line.split("#", 1)[0].strip()
        ]


def _malformed(path: Path) -> ValueError:
    """The error for the first line that is not 12 numbers."""
    n = len(schema.TEXT_COLUMNS)
    for i, line in _data_lines(path):
        fields = line.split("#", 1)[0].split()
        if len(fields) != n:
            return ValueError(
                f"{path}, line {i}: expected {n} whitespace-separated numbers "
                f"({' '.join(schema.TEXT_COLUMNS)}), found {len(fields)}: {line!r}"
            )
        for name, field in zip(schema.TEXT_COLUMNS, fields, strict=True):
            try:
                float(field)
            except ValueError:
                return ValueError(f"{path}, line {i}: {name} = {field!r} is not a number: {line!r}")
    return ValueError(f"{path}: cannot parse as {n} whitespace-separated numbers per line")


def _row_error(path: Path, row: int, message: str) -> ValueError:
    i, line = _data_lines(path)[row]
    return ValueError(f"{path}, line {i}: {message}: {line!r}")


def read_text(path: str | os.PathLike, *, skip_small_events: bool = False) -> Hits:
    """Read Ariadne's BESIII text format (one hit per line, ``schema.TEXT_COLUMNS``).

    Args:
        path: the text file.
        skip_small_events: drop events with fewer than 2 hits instead of raising.

    Returns:
        The hits and particles, events renumbered ``0 …`` in order of first appearance; the
        particles' charge inferred from the bending of their hits (field along +z).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a malformed line (wrong number of fields, not a number, non-integer event,
            station or track, negative station, track < −1, non-finite value, hits of one
            particle disagreeing on its momentum or vertex) — naming the file and the 1-based
            line and showing it; an empty file; an event with fewer than 2 hits (naming its id).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such text file")
    n = len(schema.TEXT_COLUMNS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(path, comments="#", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise _malformed(path) from exc
    if not data.size:
        raise ValueError(f"{path}: no hits (expected lines of {n} numbers)")
    if data.shape[1] != n:
        raise _malformed(path)
    bad = ~np.isfinite(data).all(axis=1)
    if bad.any():
        raise _row_error(path, int(np.argmax(bad)), "expected finite numbers")
    col = {name: data[:, i] for i, name in enumerate(schema.TEXT_COLUMNS)}
    for name, low in (("event", None), ("station", 0), ("track", -1)):
        v = col[name]
        wrong = v != np.round(v)
        if low is not None:
            wrong |= v < low
        if wrong.any():
            expect = f"an integer ≥ {low}" if low is not None else "an integer"
            raise _row_error(
                path, int(np.argmax(wrong)), f"{name} = {v[wrong][0]:g}, expected {expect}"
            )
    ids, first, inverse = np.unique(
        col["event"].astype(np.int64), return_index=True, return_inverse=True
    )
    rank = np.empty(len(ids), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(ids))
    event = rank[inverse]
    station = col["station"].astype(np.int64)
    track = col["track"].astype(np.int64)
    cols = {"event": event, "x": col["x"], "y": col["y"], "z": col["z"]}
    cols |= {"station": station, "track": track}
    parts = _text_particles(path, data, event, track)
    ids_in_order = ids[np.argsort(first, kind="stable")]
    return _build(
        cols,
        parts,
        len(ids),
        f"{path}: event {{event}} has {{n}} hit(s)",
        ids_in_order,
        skip_small_events,
    )


def _text_particles(
    path: Path, data: np.ndarray, event: np.ndarray, track: np.ndarray
) -> dict[str, np.ndarray]:
    """One particle per (event, track ≥ 0), values from its first line, charge from bending."""
    sig = np.flatnonzero(track >= 0)
    width = int(track.max(initial=0)) + 1
    key = event[sig] * width + track[sig]
    uk, first, inv = np.unique(key, return_index=True, return_inverse=True)
    rows = sig[first]
    kin = data[:, 6:12]  # px py pz X0 Y0 Z0
    differ = ~np.isclose(kin[sig], kin[rows][inv], rtol=1e-6, atol=1e-9).all(axis=1)
    if differ.any():
        j = int(np.argmax(differ))
        raise _row_error(
            path,
            int(sig[j]),
            f"track {int(track[sig[j]])} of this event has another momentum or vertex on "
            f"line(s) before (px py pz X0 Y0 Z0 must be the same on all hits of a particle)",
        )
    px, py = kin[rows, 0], kin[rows, 1]
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        ux, uy = np.where(pt > 0, px / pt, 0.0), np.where(pt > 0, py / pt, 0.0)
    dx = data[sig, 1] - kin[rows, 3][inv]
    dy = data[sig, 2] - kin[rows, 4][inv]
    bend = np.bincount(inv, weights=ux[inv] * dy - uy[inv] * dx, minlength=len(uk))
    return {
        "event": uk // width,
        "track": uk % width,
        "px": px,
        "py": py,
        "pz": kin[rows, 2],
        "vx": kin[rows, 3],
        "vy": kin[rows, 4],
        "vz": kin[rows, 5],
        "charge": -np.sign(bend).astype(np.int64),
    }
