"""Torch datasets and loaders: seeded splits, normalisation, and variable-length sequences
packed for RNNs without any per-example Python loop.

Sequences (hits along a track, cells of an event...) are stored flat: one ``(N_hits, F)``
array plus ``offsets`` of length ``N_seq + 1``. A batch is gathered with vectorised index
arithmetic into a padded ``(B, L_max, F)`` tensor and packed with
:func:`torch.nn.utils.rnn.pack_padded_sequence`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from hepnb.io import atomic_write_json

__all__ = [
    "Scaler",
    "ScalerModule",
    "SequenceDataset",
    "batch_loader",
    "gather_padded",
    "split",
    "split_indices",
    "take_sequences",
]


def split_indices(
    n: int, fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0, stratify=None
) -> list[np.ndarray]:
    """Random disjoint index sets covering ``range(n)`` in the given fractions.

    Args:
        n: number of examples.
        fractions: fractions summing to 1 (e.g. train/val/test).
        seed: the split depends on it only.
        stratify: optional labels ``(n,)``: each class is split in the same fractions.

    Returns:
        One sorted index array per fraction.
    """
    fr = np.asarray(fractions, dtype=float)
    if (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"fractions={tuple(fractions)}: expected non-negative values summing to 1")
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n)]
        if stratify is None
        else [np.flatnonzero(np.asarray(stratify) == c) for c in np.unique(stratify)]
    )
    parts: list[list[np.ndarray]] = [[] for _ in fr]
    for g in groups:
        g = rng.permutation(g)
        cuts = np.round(np.cumsum(fr)[:-1] * len(g)).astype(int)
        for i, chunk in enumerate(np.split(g, cuts)):
            parts[i].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def split(
    n: int,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    stratify=None,
    groups=None,
    names: Sequence[str] = ("train", "val", "test"),
) -> dict[str, np.ndarray]:
    """Named disjoint index sets covering ``range(n)`` (``train``/``val``/``test``).

    Args:
        n: number of examples.
        fractions: one fraction per name, summing to 1.
        seed: the split depends on it only.
        stratify: optional labels ``(n,)``: each class is split in the same fractions
            (per group when ``groups`` is given: a group's class is its first example's).
        groups: optional ``(n,)`` event ids: all examples of one event land in the same split
            (candidates that share hits must not straddle train and test).
        names: split names.

    Returns:
        name → sorted index array.
    """
    if len(names) != len(fractions):
        raise ValueError(f"names={tuple(names)} and fractions={tuple(fractions)} differ in length")
    if groups is None:
        return dict(zip(names, split_indices(n, fractions, seed, stratify), strict=True))
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups: expected shape ({n},), got {groups.shape}")
    uniq, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    strat = None if stratify is None else np.asarray(stratify)[first]
    parts = split_indices(len(uniq), fractions, seed, strat)
    which = np.empty(len(uniq), dtype=np.int64)
    for i, p in enumerate(parts):
        which[p] = i
    ex = which[inverse]
    return {name: np.flatnonzero(ex == i) for i, name in enumerate(names)}


def _signed_log(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.sign(x) * np.log1p(np.abs(x) / np.where(s > 0, s, 1.0))
    return np.where(s > 0, y, x)


@dataclass
class Scaler:
    """Per-feature input scaling: an optional signed-log compression, then an affine map.

    ``transform(x) = (slog(x) − offset) / scale`` with ``slog(x) = sign(x)·ln(1 + |x|/s)`` for
    features whose ``log_scale`` s > 0 (long tails) and the identity for the others. Standard
    scaling (offset = mean, scale = std) and min-max scaling (offset = min, scale = max − min)
    are the two ways to fit it; always on the training split only. Saved as JSON
    (:meth:`to_dict`), applied in numpy (:meth:`transform`, :meth:`inverse`) or inside a model
    (:meth:`module`, so exported models take raw features).

    Attributes:
        offset, scale: ``(F,)`` arrays; a constant feature gets scale 1.
        log_scale: ``(F,)`` signed-log scales (0: no compression), in the feature's units.
        names: feature names (checked when loading against what a reader expects).
        kind: ``"standard"`` or ``"minmax"`` (how it was fitted).
    """

    offset: np.ndarray
    scale: np.ndarray
    log_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    names: tuple[str, ...] = ()
    kind: str = "standard"

    def __post_init__(self) -> None:
        self.offset = np.asarray(self.offset, dtype=np.float64)
        self.scale = np.asarray(self.scale, dtype=np.float64)
        ls = np.asarray(self.log_scale, dtype=np.float64)
        self.log_scale = ls if ls.size else np.zeros_like(self.offset)
        self.names = tuple(self.names)
        if not (self.offset.shape == self.scale.shape == self.log_scale.shape):
            raise ValueError(
                f"Scaler: offset {self.offset.shape}, scale {self.scale.shape} and log_scale "
                f"{self.log_scale.shape} must have the same shape (F,)"
            )

    @staticmethod
    def _prepare(x, names, log_scales) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"Scaler: expected a non-empty (N, F) array to fit, got {x.shape}")
        if names and len(names) != x.shape[1]:
            raise ValueError(f"Scaler: {len(names)} names for {x.shape[1]} features")
        ls = np.zeros(x.shape[1])
        for name, s in (log_scales or {}).items():
            if name not in names:
                raise ValueError(f"Scaler: log_scales names {name!r}, not one of {list(names)}")
            ls[list(names).index(name)] = s
        return _signed_log(x, ls), ls

    @classmethod
    def standard(cls, x, names: Sequence[str] = (), log_scales=None) -> Scaler:
        """Fit ``(x − mean)/std`` on ``x`` ``(N, F)`` (after the optional signed-log)."""
        y, ls = cls._prepare(x, tuple(names), log_scales)
        std = y.std(axis=0)
        return cls(y.mean(axis=0), np.where(std > 0, std, 1.0), ls, tuple(names), "standard")

    @classmethod
    def minmax(cls, x, names: Sequence[str] = (), log_scales=None) -> Scaler:
        """Fit ``(x − min)/(max − min)`` on ``x`` ``(N, F)`` (after the optional signed-log)."""
        y, ls = cls._prepare(x, tuple(names), log_scales)
        lo, hi = y.min(axis=0), y.max(axis=0)
        return cls(lo, np.where(hi > lo, hi - lo, 1.0), ls, tuple(names), "minmax")

    @property
    def mean(self) -> np.ndarray:
        """Offset as float32 (``mean`` of a standard scaler)."""
        return self.offset.astype(np.float32)

    @property
    def std(self) -> np.ndarray:
        """Scale as float32 (``std`` of a standard scaler)."""
        return self.scale.astype(np.float32)

    def transform(self, x, dtype: Any = np.float32) -> np.ndarray:
        """Scaled ``(N, F)`` from raw ``x``, as ``dtype`` (float32 for networks; float64 where
        a round trip must be exact, e.g. hit coordinates in mm)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != len(self.offset):
            raise ValueError(f"Scaler: {x.shape[-1]} features, fitted on {len(self.offset)}")
        return ((_signed_log(x, self.log_scale) - self.offset) / self.scale).astype(dtype)

    def inverse(self, x, dtype: Any = np.float32) -> np.ndarray:
        """Raw features from scaled ``x`` (inverse of :meth:`transform`), as ``dtype``."""
        y = np.asarray(x, dtype=np.float64) * self.scale + self.offset
        s = self.log_scale
        raw = np.sign(y) * np.expm1(np.abs(y)) * np.where(s > 0, s, 1.0)
        return np.where(s > 0, raw, y).astype(dtype)

    def module(self) -> ScalerModule:
        """The same scaling as a torch module (folded into trained and exported models)."""
        return ScalerModule(self)

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {
            "kind": self.kind,
            "names": list(self.names),
            "offset": self.offset.tolist(),
            "scale": self.scale.tolist(),
            "log_scale": self.log_scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict, names: Sequence[str] | None = None) -> Scaler:
        """Inverse of :meth:`to_dict`; ``names`` (if given) must match the stored names."""
        if names is not None and list(d.get("names", [])) != list(names):
            raise ValueError(f"Scaler: fitted on features {d.get('names')}, expected {list(names)}")
        return cls(
            d["offset"],
            d["scale"],
            np.asarray(d.get("log_scale") or [], dtype=np.float64),
            tuple(d.get("names", ())),
            d.get("kind", "standard"),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike, names: Sequence[str] | None = None) -> Scaler:
        """Read a scaler saved by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such scaler file")
        try:
            return cls.from_dict(json.loads(path.read_text()), names)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


class ScalerModule(nn.Module):
    """A :class:`Scaler` inside a model: ``(x (…, F)) → scaled (…, F)``, constants as buffers."""

    log_scale: torch.Tensor
    offset: torch.Tensor
    scale: torch.Tensor
    use_log: torch.Tensor

    def __init__(self, scaler: Scaler) -> None:
        super().__init__()
        f32 = torch.float32
        self.register_buffer("log_scale", torch.as_tensor(scaler.log_scale, dtype=f32))
        self.register_buffer("offset", torch.as_tensor(scaler.offset, dtype=f32))
        self.register_buffer("scale", torch.as_tensor(scaler.scale, dtype=f32))
        self.register_buffer("use_log", torch.as_tensor(scaler.log_scale > 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.where(self.use_log, self.log_scale, torch.ones_like(self.log_scale))
        y = torch.where(self.use_log, torch.sign(x) * torch.log1p(torch.abs(x) / s), x)
        return (y - self.offset) / self.scale


def take_sequences(
    items: np.ndarray, offsets: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences ``idx`` of a flat store, as a new flat store (vectorised, no Python loop).

    Args:
        items: ``(N_items, F)`` items of all sequences, concatenated.
        offsets: ``(N + 1,)`` start of each sequence in ``items``.
        idx: ``(B,)`` sequence indices.

    Returns:
        ``(items (M, F), offsets (B + 1,))`` of the selected sequences, in the order of ``idx``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    idx = np.asarray(idx, dtype=np.int64)
    lengths = offsets[idx + 1] - offsets[idx]
    new_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    src = np.repeat(offsets[idx] - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
    return np.asarray(items)[src], new_offsets


def gather_padded(
    flat: torch.Tensor, offsets: torch.Tensor, idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather sequences ``idx`` from a flat store into a zero-padded batch, vectorised.

    Args:
        flat: ``(N_items, F)`` items of all sequences, concatenated.
        offsets: ``(N_seq + 1,)`` start of each sequence in ``flat``.
        idx: ``(B,)`` sequence indices.

    Returns:
        ``(padded, lengths)``: ``(B, L_max, F)`` and ``(B,)``.
    """
    starts, lengths = offsets[idx], offsets[idx + 1] - offsets[idx]
    b = len(idx)
    l_max = int(lengths.max()) if b else 0
    row = torch.repeat_interleave(torch.arange(b), lengths)
    first = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    pos = torch.arange(len(row)) - first
    padded = flat.new_zeros((b, l_max, flat.shape[1]))
    padded[row, pos] = flat[starts[row] + pos]
    return padded, lengths


class SequenceDataset:
    """Variable-length sequences plus per-sequence features and labels, indexed by batches.

    ``dataset[idx]`` with an index array returns a whole batch
    ``((packed, features), y, w)``: ``packed`` a :class:`PackedSequence` of ``(B, L, F_seq)``,
    ``features`` ``(B, F)``, ``y`` ``(B,)``, ``w`` ``(B,)`` weights.

    Args:
        items: ``(N_items, F_seq)`` float array of all sequence items, concatenated.
        offsets: ``(N + 1,)`` sequence boundaries in ``items``; every sequence non-empty.
        features: ``(N, F)`` per-sequence features.
        y: ``(N,)`` labels.
        w: ``(N,)`` weights (default 1).
    """

    def __init__(self, items, offsets, features, y, w=None):
        self.items = torch.as_tensor(np.asarray(items, dtype=np.float32))
        self.offsets = torch.as_tensor(np.asarray(offsets, dtype=np.int64))
        self.features = torch.as_tensor(np.asarray(features, dtype=np.float32))
        self.y = torch.as_tensor(np.asarray(y, dtype=np.float32))
        n = len(self.offsets) - 1
        self.w = torch.ones(n) if w is None else torch.as_tensor(np.asarray(w, dtype=np.float32))
        lengths = self.offsets[1:] - self.offsets[:-1]
        if (lengths <= 0).any():
            raise ValueError(
                f"SequenceDataset: {int((lengths <= 0).sum())} sequence(s) are empty; "
                "drop them before building the dataset (an RNN cannot pack a zero-length sequence)"
            )
        if not (len(self.features) == len(self.y) == len(self.w) == n):
            raise ValueError(
                f"SequenceDataset: {n} sequences but {len(self.features)} feature rows, "
                f"{len(self.y)} labels and {len(self.w)} weights"
            )
        if int(self.offsets[-1]) != len(self.items):
            raise ValueError(f"offsets end at {int(self.offsets[-1])}, items has {len(self.items)}")

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(
        self, idx
    ) -> tuple[tuple[PackedSequence, torch.Tensor], torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(idx, dtype=torch.int64).reshape(-1)
        padded, lengths = gather_padded(self.items, self.offsets, idx)
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        return (packed, self.features[idx]), self.y[idx], self.w[idx]

    def subset(self, rows: np.ndarray) -> SequenceDataset:
        """A new dataset holding sequences ``rows`` (copies the items)."""
        idx = np.asarray(rows, dtype=np.int64)
        items, offsets = take_sequences(self.items.numpy(), self.offsets.numpy(), idx)
        return SequenceDataset(
            items, offsets, self.features[idx].numpy(), self.y[idx].numpy(), self.w[idx].numpy()
        )


def batch_loader(dataset, batch_size: int = 256, shuffle: bool = False) -> DataLoader:
    """A DataLoader that asks ``dataset`` for whole batches by index list (no per-item calls).

    Shuffling uses torch's global RNG, which :func:`hepnb.train.fit` reseeds every epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected a positive integer")
    sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    return DataLoader(
        dataset,
        sampler=BatchSampler(sampler, batch_size, drop_last=False),
        batch_size=None,
        collate_fn=_identity,
    )


def _identity(batch):
    return batch
