"""Torch datasets and loaders: seeded splits, normalisation, and variable-length sequences
packed for RNNs without any per-example Python loop.

Sequences (hits along a track, cells of an event...) are stored flat: one ``(N_hits, F)``
array plus ``offsets`` of length ``N_seq + 1``. A batch is gathered with vectorised index
arithmetic into a padded ``(B, L_max, F)`` tensor and packed with
:func:`torch.nn.utils.rnn.pack_padded_sequence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

__all__ = [
    "SequenceDataset",
    "Standardizer",
    "batch_loader",
    "gather_padded",
    "split_indices",
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


@dataclass
class Standardizer:
    """Per-feature ``(x − mean)/std``, fitted on the training split only.

    ``std`` of constant features is set to 1 so they pass through centred.
    """

    mean: np.ndarray
    std: np.ndarray
    names: tuple[str, ...] = ()

    @classmethod
    def fit(cls, x: np.ndarray, names: Sequence[str] = ()) -> Standardizer:
        """Fit on ``x`` of shape ``(N, F)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"Standardizer.fit: expected a non-empty (N, F) array, got {x.shape}")
        std = x.std(axis=0)
        std[std == 0] = 1.0
        return cls(x.mean(axis=0).astype(np.float32), std.astype(np.float32), tuple(names))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise ``x`` of shape ``(N, F)``."""
        return ((np.asarray(x, dtype=np.float32) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-able form (saved next to the model)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "names": list(self.names)}

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(d["mean"], np.float32),
            np.asarray(d["std"], np.float32),
            tuple(d.get("names", ())),
        )


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

    def subset(self, idx: np.ndarray) -> SequenceDataset:
        """A new dataset holding sequences ``idx`` (copies the items)."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.int64)
        padded_idx = torch.repeat_interleave(idx, self.offsets[idx + 1] - self.offsets[idx])
        lengths = self.offsets[idx + 1] - self.offsets[idx]
        first = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
        src = self.offsets[padded_idx] + torch.arange(len(padded_idx)) - first
        offsets = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(lengths, 0)])
        return SequenceDataset(
            self.items[src].numpy(),
            offsets.numpy(),
            self.features[idx].numpy(),
            self.y[idx].numpy(),
            self.w[idx].numpy(),
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
