"""Stream events from ROOT files into torch, one class per set of files, without holding the
sample in memory.

A sample made of one or more files per class (label) is cut by :func:`plan` into
:class:`Unit` s — blocks of consecutive entries of one file, of one class — and the blocks of
every class are dealt to ``train`` / ``val`` / ``test`` by a seeded permutation, so each split
holds its fraction of every class. An :class:`EventStream` reads units through a ``read(unit)``
callable (chunks of events as awkward arrays, e.g. :class:`RootReader`) and turns each batch of
events into model inputs with a vectorised ``transform(events, labels)``:

* ``shuffle=True`` (training): each epoch a new seeded permutation of the units, read into a
  shuffling buffer of about ``buffer_size`` events holding chunks of several units (classes
  mixed); batches are random draws from the buffer (concatenate, permute, slice), and the buffer
  is refilled as it empties. The epoch's randomness is taken from torch's RNG when the epoch
  starts (:func:`hepnb.train.fit` reseeds torch every epoch, so runs are reproducible).
* ``shuffle=False`` (validation, test, prediction): units in the given order, events in file
  order, batches of ``batch_size`` — the order of :func:`scan`, which collects small per-event
  summaries (energy sums, labels...) in one sequential pass.

With a ``DataLoader`` of several workers (:func:`loader`) every event is still in exactly one
batch per epoch: the workers share the epoch's permutation and each takes a disjoint share of
it. At most about ``buffer_size`` + one chunk of events are held per worker; nothing
accumulates across batches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from hepnb.io import SchemaError, open_tree

__all__ = [
    "SPLITS",
    "EventStream",
    "RootReader",
    "Unit",
    "class_counts",
    "loader",
    "plan",
    "scan",
]

#: Names of the splits :func:`plan` returns, in the order of its ``fractions``.
SPLITS = ("train", "val", "test")

Read = Callable[["Unit"], Iterable[ak.Array]]
Transform = Callable[[ak.Array, np.ndarray], Any]


@dataclass(frozen=True)
class Unit:
    """A block of consecutive entries ``start:stop`` of one file, all of class ``label``.

    Attributes:
        label: class of every event in the block (a non-negative integer).
        path: the ROOT file.
        start, stop: entry range, ``0 <= start < stop``.
    """

    label: int
    path: Path
    start: int
    stop: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", int(self.label))
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "start", int(self.start))
        object.__setattr__(self, "stop", int(self.stop))
        if not 0 <= self.start < self.stop:
            raise ValueError(
                f"Unit({self.path}): entries {self.start}:{self.stop}; expected 0 <= start < stop"
            )

    @property
    def size(self) -> int:
        """Number of entries (events) in the block."""
        return self.stop - self.start

    def __str__(self) -> str:
        return f"{self.path} entries {self.start}:{self.stop} (class {self.label})"


def class_counts(units: Iterable[Unit]) -> dict[int, int]:
    """Events per class in ``units``, ``{label: n_events}`` sorted by label."""
    counts: dict[int, int] = {}
    for u in units:
        counts[u.label] = counts.get(u.label, 0) + u.size
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------------- planning


def _files_of(label: int, value: Any) -> list[Path]:
    if isinstance(value, str | os.PathLike):
        return [Path(value)]  # one file (a str is a Sequence too: do not split it into chars)
    files = [Path(p) for p in value]
    if not files:
        raise ValueError(f"sources[{label!r}]: no files given for class {label}")
    return files


def _num_entries(path: Path, tree: str) -> int:
    t = open_tree(path, tree)  # FileNotFoundError / SchemaError naming file and tree
    try:
        return int(t.num_entries)
    finally:
        t.file.close()


def _split_counts(sizes: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Blocks per split: consecutive runs of ``sizes`` (already permuted) whose entry totals are
    nearest ``fractions``; every split with a positive fraction gets at least one block."""
    cum = np.concatenate([[0], np.cumsum(sizes)])
    targets = np.cumsum(fractions)[:-1] * cum[-1]
    cuts = np.maximum.accumulate(np.abs(cum[None, :] - targets[:, None]).argmin(axis=1))
    counts = np.diff(np.concatenate([[0], cuts, [len(sizes)]]))
    need = (fractions > 0).astype(int)
    while (short := np.flatnonzero(counts < need)).size:  # the caller ensures enough blocks
        donor = int(np.argmax(counts - need))
        counts[donor] -= 1
        counts[short[0]] += 1
    return counts


def plan(
    sources: Mapping[int, Sequence[str | os.PathLike] | str | os.PathLike],
    tree: str,
    *,
    block: int = 500,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    max_entries: int | None = None,
) -> dict[str, list[Unit]]:
    """Cut the files of every class into blocks and deal them to train / val / test.

    Each file's entries are cut into blocks of ``block`` consecutive entries (the last block of
    a file may be shorter). The blocks of each class are permuted with a generator seeded by
    ``(seed, label)`` — adding or removing a class leaves the others' splits unchanged — and
    consecutive runs of the permutation, with entry totals nearest the ``fractions``, go to the
    splits. Every split with a positive fraction gets at least one block of every class.

    Args:
        sources: class label (non-negative int) → its ROOT files (or one file).
        tree: the tree holding one entry per event, in every file.
        block: entries per block; smaller blocks split more evenly and shuffle better (more
            units to permute), larger ones read faster.
        fractions: train, val, test fractions of each class's entries, summing to 1.
        seed: the split depends on it (and on the files' entry counts) only.
        max_entries: use at most this many entries per class: the first ones, files taken in
            the given order (files past the cap are not opened).

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``: units of each split, ordered by
        class, then file (in the given order), then entry.

    Raises:
        FileNotFoundError: a file does not exist.
        SchemaError: a file is unreadable or lacks ``tree``.
        ValueError: bad arguments; a file listed twice; a class with fewer blocks than splits
            to fill (the message names the class and its files).
    """
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (len(SPLITS),) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(
            f"fractions={tuple(fractions)}: expected {len(SPLITS)} non-negative values "
            f"({'/'.join(SPLITS)}) summing to 1"
        )
    if int(block) != block or block < 1:
        raise ValueError(f"block={block!r}: expected a positive number of entries")
    if max_entries is not None and (int(max_entries) != max_entries or max_entries < 1):
        raise ValueError(f"max_entries={max_entries!r}: expected None or a positive integer")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    if not sources:
        raise ValueError("sources: empty; expected {label: [files...]} with at least one class")
    for label in sources:
        if isinstance(label, bool) or not isinstance(label, int | np.integer) or label < 0:
            raise ValueError(f"sources: class label {label!r}: expected a non-negative integer")

    classes = {int(label): _files_of(int(label), sources[label]) for label in sorted(sources)}
    owner: dict[Path, int] = {}
    for label, files in classes.items():
        for path in files:
            key = path.resolve()
            if key in owner:
                raise ValueError(
                    f"{path}: listed twice in sources (class {owner[key]} and class {label}); "
                    "each file must belong to one class, once"
                )
            owner[key] = label

    n_need = int((fr > 0).sum())
    out: dict[str, list[Unit]] = {name: [] for name in SPLITS}
    for label, files in classes.items():
        blocks: list[Unit] = []
        left = max_entries
        for path in files:
            if left == 0:
                break
            n = _num_entries(path, tree)
            if left is not None:
                n = min(n, left)
                left -= n
            blocks += [
                Unit(label, path, a, min(a + int(block), n)) for a in range(0, n, int(block))
            ]
        if len(blocks) < n_need:
            n = sum(u.size for u in blocks)
            raise ValueError(
                f"class {label}: {n} entries of tree {tree!r} in {[str(p) for p in files]} make "
                f"{len(blocks)} block(s) of at most {block} entries, fewer than the {n_need} "
                f"splits to fill (fractions={tuple(fractions)}); use a smaller block or more "
                "events"
            )
        rng = np.random.default_rng([int(seed), label])
        order = rng.permutation(len(blocks))
        counts = _split_counts(np.array([blocks[i].size for i in order]), fr)
        for name, idx in zip(SPLITS, np.split(order, np.cumsum(counts)[:-1]), strict=True):
            out[name] += [blocks[i] for i in np.sort(idx)]
    return out


# ---------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RootReader:
    """A ``read(unit)`` for :class:`EventStream` and :func:`scan`: ``branches`` of ``tree`` over
    the unit's entries, in chunks of ``step_size`` entries (awkward record arrays, one field per
    branch). Picklable, so it works in ``DataLoader`` workers.

    Raises:
        FileNotFoundError, SchemaError: the file, the tree or a branch is missing, or reading
            fails (truncated file); the message names the file, tree and entries.
    """

    tree: str
    branches: tuple[str, ...]
    step_size: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "branches", tuple(self.branches))
        if self.step_size < 1:
            raise ValueError(f"step_size={self.step_size}: expected a positive number of entries")

    def __call__(self, unit: Unit) -> Iterator[ak.Array]:
        t = open_tree(unit.path, self.tree, self.branches)
        try:
            yield from t.iterate(
                list(self.branches),
                entry_start=unit.start,
                entry_stop=unit.stop,
                step_size=self.step_size,
            )
        except SchemaError:
            raise
        except Exception as exc:  # uproot raises many types for corrupt input
            raise SchemaError(
                f"{unit.path}: tree {self.tree!r}: failed reading entries {unit.start}:"
                f"{unit.stop}; the file may be truncated ({type(exc).__name__}: {exc})"
            ) from exc
        finally:
            t.file.close()


def _chunks(read: Read, unit: Unit) -> Iterator[ak.Array]:
    """``read(unit)``'s non-empty chunks, checking that they add up to the unit's entries."""
    got = 0
    for chunk in read(unit):
        n = len(chunk)
        got += n
        if got > unit.size:
            raise ValueError(
                f"read: {unit}: expected {unit.size} events, got {got} or more "
                f"(a chunk of {n}); read(unit) must yield exactly entries {unit.start}:{unit.stop}"
            )
        if n:
            yield chunk
    if got != unit.size:
        raise ValueError(
            f"read: {unit}: expected {unit.size} events, got {got}; read(unit) must yield "
            f"exactly entries {unit.start}:{unit.stop}"
        )


def _concat(parts: list[ak.Array]) -> ak.Array:
    return parts[0] if len(parts) == 1 else ak.concatenate(parts)


#: A part of a unit: ``(unit, lo, hi)``, its events ``lo:hi`` counted from the unit's start.
Piece = tuple[Unit, int, int]


def _share(units: Sequence[Unit], cum: np.ndarray, lo: int, hi: int) -> list[Piece]:
    """Events ``lo:hi`` of the concatenation of ``units`` (``cum``: cumulative sizes with a
    leading 0), as pieces of units (only the first and the last may be partial)."""
    out = []
    i = int(np.searchsorted(cum, lo, side="right")) - 1
    while i < len(units) and cum[i] < hi:
        a, b = max(lo, int(cum[i])), min(hi, int(cum[i + 1]))
        if a < b:
            out.append((units[i], a - int(cum[i]), b - int(cum[i])))
        i += 1
    return out


def _read_pieces(read: Read, pieces: Sequence[Piece]) -> Iterator[tuple[ak.Array, int]]:
    """``(chunk, label)`` of the events of ``pieces``; ``read`` is given whole units (the rest
    of a partial unit is read and dropped), so it may key per-unit randomness on the unit."""
    for u, lo, hi in pieces:
        pos = 0
        for chunk in _chunks(read, u):
            n = len(chunk)
            a, b = max(lo - pos, 0), min(hi - pos, n)
            if a < b:
                yield (chunk if (a, b) == (0, n) else chunk[a:b]), u.label
            pos += n
            if hi < u.size and pos >= hi:
                break  # (a whole unit is read to its end, where _chunks checks its length)


def _has_turn(first: int, last: int, wid: int, nw: int) -> bool:
    """Whether a batch index in ``first..last`` is worker ``wid``'s (index % nw == wid)."""
    return last >= first and (last - first + 1 >= nw or (wid - first) % nw <= last - first)


def _cumsizes(units: Sequence[Unit]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([u.size for u in units], dtype=np.int64)])


# ---------------------------------------------------------------------------------- streaming


class EventStream(IterableDataset):
    """Batches of events streamed from ``units``, as an iterable torch dataset.

    Every batch is ``transform(events, labels)``: ``events`` an awkward array of at most
    ``batch_size`` events, ``labels`` their int64 class labels ``(B,)``. Use it through
    :func:`loader` (``batch_size=None``: the stream makes the batches).

    Args:
        units: the blocks to read, e.g. one split of :func:`plan`.
        read: ``read(unit)`` yields the unit's entries ``start:stop``, in order, as awkward
            arrays of events (any chunking), e.g. :class:`RootReader`. It is only ever called
            with units of ``units``, whole (a worker may drop the events of a unit that other
            workers handle), so it may draw per-event randomness from a generator seeded by
            the unit: every epoch, stream and :func:`scan` then see the same events.
        transform: ``(events, labels) → batch``, vectorised over the batch, e.g.
            ``((grid, extra), y)`` tensors for :func:`hepnb.train.fit`. Numpy arrays in what
            it returns become tensors in the DataLoader.
        batch_size: events per batch; only the last batch of an epoch may be smaller.
        shuffle: True for training (random unit order and buffer-shuffled events, new every
            epoch); False for a fixed order (units as given, events in file order).
        buffer_size: events in the shuffling buffer (shuffle=True only; ignored otherwise).
            Larger → better mixing of classes and files, more memory: about ``buffer_size`` +
            one chunk of events per worker. Make it span several units (a few × ``block`` of
            :func:`plan`) so that every batch mixes classes.
        seed: combined with torch's RNG at the start of each epoch (shuffle=True).
        drop_last: drop the last, partial batch of the epoch.

    Raises:
        ValueError: ``units`` empty, ``batch_size`` < 1, ``buffer_size`` < ``batch_size`` with
            shuffle, a negative seed; while iterating, a ``read`` that yields more or fewer
            events than the unit holds (the message names the file and entries).
    """

    def __init__(
        self,
        units: Sequence[Unit],
        read: Read,
        transform: Transform,
        *,
        batch_size: int = 64,
        shuffle: bool = False,
        buffer_size: int = 2048,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        self.units = tuple(units)
        if not self.units:
            raise ValueError("units: empty; expected at least one Unit (a split of plan())")
        bad = [u for u in self.units if not isinstance(u, Unit)]
        if bad:
            raise ValueError(f"units: expected Unit objects, got {type(bad[0]).__name__}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r}: expected a positive integer")
        if shuffle and buffer_size < batch_size:
            raise ValueError(
                f"buffer_size={buffer_size} < batch_size={batch_size}: the shuffling buffer must "
                "hold at least one batch (expected buffer_size >= batch_size, ideally several)"
            )
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed={seed!r}: expected a non-negative integer")
        self.read, self.transform = read, transform
        self.batch_size, self.shuffle = int(batch_size), bool(shuffle)
        self.buffer_size, self.seed, self.drop_last = int(buffer_size), int(seed), bool(drop_last)
        self._cum = _cumsizes(self.units)
        self._worker_epochs = 0  # epochs seen by this copy inside a (persistent) worker

    @property
    def n_events(self) -> int:
        """Events in all units (one epoch with ``drop_last=False``)."""
        return int(self._cum[-1])

    def __len__(self) -> int:
        """Batches per epoch: ``ceil(n_events / batch_size)``, or ``floor`` with ``drop_last``.

        Exact with any number of workers and either shuffle mode: workers split the epoch at
        multiples of ``batch_size`` (shuffle) or take whole batches in turn (no shuffle), so
        only the epoch's last batch can be partial.
        """
        n, b = self.n_events, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __repr__(self) -> str:
        return (
            f"EventStream({len(self.units)} units, {self.n_events} events, classes "
            f"{class_counts(self.units)}, batch_size={self.batch_size}, shuffle={self.shuffle}"
            + (f", buffer_size={self.buffer_size}" if self.shuffle else "")
            + ")"
        )

    def __iter__(self) -> Iterator[Any]:
        """One epoch of batches. The epoch's random state is drawn here, eagerly."""
        info = get_worker_info()
        wid, nw = (0, 1) if info is None else (info.id, info.num_workers)
        if not self.shuffle:
            return self._ordered(wid, nw)
        if info is None:
            # one draw from torch's global RNG, which fit() reseeds every epoch
            base, count = int(torch.randint(2**62, ()).item()), 0
        else:
            # the DataLoader seeds worker i with base + i, base drawn from torch's RNG
            # (or the loader's generator) in the main process: the same for all workers.
            # A persistent worker keeps its seed across epochs, hence the epoch count.
            base, count = info.seed - info.id, self._worker_epochs
            self._worker_epochs += 1
        key = [self.seed, base, count]
        order = np.random.default_rng([*key, 0]).permutation(len(self.units))
        units = [self.units[i] for i in order]
        pieces: list[Piece] = [(u, 0, u.size) for u in units]
        if nw > 1:
            # contiguous shares of the permuted events, cut at multiples of batch_size, so that
            # only the last worker's last batch can be partial
            n_batches = -(-self.n_events // self.batch_size)
            per = -(-n_batches // nw) * self.batch_size
            pieces = _share(units, _cumsizes(units), wid * per, (wid + 1) * per)
        return self._shuffled(pieces, np.random.default_rng([*key, 1 + wid]))

    def _ordered(self, wid: int, nw: int) -> Iterator[Any]:
        """Batches of consecutive events, units in order. With ``nw`` workers, worker ``wid``
        builds the batches ``wid, wid + nw, ...`` (it reads the units that hold any of their
        events and drops the others' events); the DataLoader takes one batch from each worker
        in turn, so the epoch comes out in the same order as with no workers."""
        b = self.batch_size
        limit = len(self) * b  # events of the epoch's batches (drop_last drops the tail)
        parts: list[ak.Array] = []
        labels: list[np.ndarray] = []
        held = 0
        for i, u in enumerate(self.units):
            start, stop = int(self._cum[i]), min(int(self._cum[i + 1]), limit)
            if nw > 1 and not _has_turn(start // b, (stop - 1) // b, wid, nw):
                continue  # none of this unit's events is in one of this worker's batches
            at = start
            for chunk in _chunks(self.read, u):
                lab = np.full(len(chunk), u.label, dtype=np.int64)
                if nw > 1:
                    pos = at + np.arange(len(chunk))
                    mine = ((pos // b) % nw == wid) & (pos < limit)
                    at += len(chunk)
                    if not mine.all():
                        chunk, lab = chunk[mine], lab[mine]
                if not len(chunk):
                    continue
                parts.append(chunk)
                labels.append(lab)
                held += len(chunk)
                if held < b:
                    continue
                events, lab = _concat(parts), np.concatenate(labels)
                k = held // b * b
                for j in range(0, k, b):
                    yield self.transform(events[j : j + b], lab[j : j + b])
                # pack the remainder: a slice would keep the whole chunk (and, concatenated
                # again, every earlier one) alive
                parts = [ak.to_packed(events[k:])] if k < held else []
                labels = [lab[k:]] if k < held else []
                held -= k
                del events, lab
        if held and not self.drop_last:
            yield self.transform(_concat(parts), np.concatenate(labels))

    def _shuffled(self, pieces: Sequence[Piece], rng: np.random.Generator) -> Iterator[Any]:
        """Random batches from a buffer of about ``buffer_size`` events, refilled from
        ``pieces`` in order; each draw takes about half the buffer, so events mix across
        several fills."""
        b, size, keep = self.batch_size, self.buffer_size, self.buffer_size // 2
        parts: list[ak.Array] = []
        labels: list[np.ndarray] = []
        held = 0
        for chunk, label in _read_pieces(self.read, pieces):
            parts.append(chunk)
            labels.append(np.full(len(chunk), label, dtype=np.int64))
            held += len(chunk)
            while held >= size:
                events, lab = ak.to_packed(_concat(parts)), np.concatenate(labels)
                perm = rng.permutation(held)
                k = max(1, (held - keep) // b) * b
                for i in range(0, k, b):
                    idx = perm[i : i + b]
                    yield self.transform(events[idx], lab[idx])
                rest = perm[k:]
                parts, labels = [ak.to_packed(events[rest])], [lab[rest]]
                held -= k
                del events, lab
        if held:
            events, lab = _concat(parts), np.concatenate(labels)
            perm = rng.permutation(held)
            k = held // b * b if self.drop_last else held
            for i in range(0, k, b):
                idx = perm[i : i + b]
                yield self.transform(events[idx], lab[idx])


def loader(stream: EventStream, num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``stream``'s batches (``batch_size=None``: the stream batches).

    With ``num_workers`` > 0 every event is still in exactly one batch per epoch:

    * shuffled stream: the workers share the epoch's unit permutation, each takes a contiguous
      share of it (cut at multiples of ``batch_size``) and holds its own shuffling buffer
      (memory ≈ ``num_workers`` × (``buffer_size`` + one chunk));
    * unshuffled stream: worker ``w`` builds batches ``w, w + num_workers, ...`` and the
      DataLoader takes them in turn, so the order is the same as with no workers (and as
      :func:`scan`). Each worker reads every unit holding an event of its batches (every unit
      when ``batch_size`` is below the block size): the reading is repeated, the transform is
      shared — worth it when the transform dominates.

    ``read`` and ``transform`` must be picklable where workers are spawned rather than forked
    (macOS, Windows). ``persistent_workers`` is not set: a persistent worker would still get a
    new permutation every epoch, but a resumed run could not reproduce it.
    """
    if not isinstance(stream, EventStream):
        raise ValueError(f"stream: expected an EventStream, got {type(stream).__name__}")
    if int(num_workers) != num_workers or num_workers < 0:
        raise ValueError(f"num_workers={num_workers!r}: expected a non-negative integer")
    return DataLoader(stream, batch_size=None, num_workers=num_workers, pin_memory=pin_memory)


def scan(
    units: Sequence[Unit],
    read: Read,
    fn: Callable[[ak.Array, np.ndarray], Mapping[str, Any]],
) -> dict[str, np.ndarray]:
    """One sequential pass over ``units`` collecting small per-event summaries.

    The events come in the order of an unshuffled :class:`EventStream` over the same units, so
    the summaries line up with its batches (and with :func:`hepnb.train.predict` over it).

    Args:
        units: the blocks to read, in order.
        read: as for :class:`EventStream`.
        fn: ``(events, labels) → {name: array (n,)...}`` for each chunk of ``n`` events
            (labels int64 ``(n,)``); the same names every time. Keep it to a few numbers per
            event: everything returned is kept.

    Returns:
        name → concatenated array over all events ``(n_events, ...)``.
    """
    units = list(units)
    if not units:
        raise ValueError("units: empty; expected at least one Unit (a split of plan())")
    out: dict[str, list[np.ndarray]] | None = None
    for u in units:
        for chunk in _chunks(read, u):
            res = fn(chunk, np.full(len(chunk), u.label, dtype=np.int64))
            if not isinstance(res, Mapping):
                raise ValueError(f"fn: expected a mapping name → array, got {type(res).__name__}")
            if out is None:
                out = {k: [] for k in res}
            if set(res) != set(out):
                raise ValueError(f"fn: returned names {sorted(res)} after {sorted(out)} ({u})")
            for k, v in res.items():
                arr = np.asarray(v)
                if arr.ndim == 0 or len(arr) != len(chunk):
                    raise ValueError(
                        f"fn: {k!r} has shape {arr.shape} for a chunk of {len(chunk)} events "
                        f"({u}); expected one value per event"
                    )
                out[k].append(arr)
    assert out is not None  # every unit holds at least one event
    return {k: np.concatenate(v) for k, v in out.items()}
