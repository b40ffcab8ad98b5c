"""What each model eats, built per batch of events, vectorised (no loop over events or hits).

Every builder takes a batch of events as :func:`~hepnb.chapters.ecal.reader.read_chunks`
yields them, plus the fired trigger-scintillator bars (``ts_bars``, added by the chapter's
stream), and the class indices; it returns ``(x, y)`` for :func:`hepnb.train.fit`:

- ``cnn``, ``grid="hex"``: ``(B, 1, 34, Q, R)`` — energy per layer on the global hexagonal
  lattice (axial q, r; 2 × 2 cells per pixel), a spatial image in which neighbouring pixels are
  neighbouring cells, also across module boundaries;
- ``cnn``, ``grid="index"``: ``(B, 1, 34, 7, 432)`` — energy per (layer, module, cell index), the
  layout of the original study (which padded 432 cells to 450; nothing is padded here);
- ``rnn``: hits ``(B, L, 5)`` zero-padded with their lengths ``(B,)``;
- ``gnn``: a PyTorch Geometric ``Batch`` of hit graphs (``x``, ``pos``, ``batch``, ``extra``);
- ``cnn_rnn``: frames ``(B, 34, 1, Q, R)``, one per layer.

Cell energies enter as ``log1p(E / 1 MeV)`` (0 where there is no hit); positions in units of
100 mm. Every model also gets an event vector ``extra``, joined after pooling (late fusion):
the energy-sum count (ΣE / 4 GeV, its rounding one-hot and the remainder — the baseline's own
answer, so that a network learns what the hits add to it) and, with ``trigscint``, the scintillator's ``6 + N_bars`` numbers
(one-hot count of bar clusters 0–5+, and the fired-bar pattern). The original study instead
grew its grid by one layer and one module to hold the scintillator; the bars are neither
cells nor layers of the ECal, so here they enter as event features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch_geometric.data import Batch

from hepnb.chapters.ecal import schema, trigscint

__all__ = [
    "HIT_FEATURES",
    "Builder",
    "hex_shape",
    "hit_features",
    "image",
    "sequences",
    "ts_features",
]

#: Per-hit features of the RNN and the GNN.
HIT_FEATURES = ("x / 100 mm", "y / 100 mm", "layer / 33", "log1p(E / MeV) / 5", "(t - z/c) / 10 ns")
#: Speed of light [mm/ns].
C_MM_PER_NS = 299.792458
#: Cells per pixel side of the hexagonal image.
POOL = 2


def hex_shape(pool: int = POOL) -> tuple[int, int]:
    """``(Q, R)`` of the hexagonal image for ``pool`` × ``pool`` cells per pixel."""
    q, r = schema.AXIAL_SHAPE
    return -(-q // pool), -(-r // pool)


def _flat(events: ak.Array, field: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(events.ecal[field]))


def image(events: ak.Array, grid: str = "hex", pool: int = POOL) -> np.ndarray:
    """Energy images ``(B, 1, 34, Q, R)`` (``hex``) or ``(B, 1, 34, 7, 432)`` (``index``),
    ``log1p(E / MeV)``, summed over the cells of a pixel."""
    b = len(events)
    counts = ak.to_numpy(ak.num(events.ecal))
    event = np.repeat(np.arange(b), counts)
    layer, module, cell = (_flat(events, f) for f in ("layer", "module", "cell"))
    energy = np.clip(_flat(events, "energy"), 0.0, None)
    if grid == "hex":
        h, w = hex_shape(pool)
        qr = schema.CELL_AXIAL[module, cell] // pool
        index = ((event * schema.N_LAYERS + layer) * h + qr[:, 0]) * w + qr[:, 1]
    elif grid == "index":
        h, w = schema.N_MODULES, schema.N_CELLS
        index = ((event * schema.N_LAYERS + layer) * h + module) * w + cell
    else:
        raise ValueError(f"grid={grid!r}: expected 'hex' or 'index'")
    size = b * schema.N_LAYERS * h * w
    out = np.bincount(index, weights=energy, minlength=size).astype(np.float32)
    return np.log1p(out).reshape(b, 1, schema.N_LAYERS, h, w)


def hit_features(events: ak.Array, max_hits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-hit features of the ``max_hits`` most energetic hits of each event, ordered by layer
    (front to back) and by energy within a layer: x, y, layer, log energy and the hit time less
    the time of flight from the target (noise hits come at random times). The simulation's
    ``isNoise_`` flag is truth and is never a feature.

    Returns:
        ``(features (N, 5) float32, hits per event (B,) int64)``, events one after the other.
    """
    hits = events.ecal
    keep = ak.argsort(hits.energy, ascending=False, axis=1)[:, :max_hits]
    hits = hits[keep]
    hits = hits[ak.argsort(hits.layer * 1e7 - ak.values_astype(hits.energy, np.float64), axis=1)]
    x, y, z, t, e = (
        ak.to_numpy(ak.flatten(hits[f])).astype(np.float32)
        for f in ("x", "y", "z", "time", "energy")
    )
    layer = ak.to_numpy(ak.flatten(hits.layer)).astype(np.float32)
    cols = [
        x / 100.0,
        y / 100.0,
        layer / (schema.N_LAYERS - 1),
        np.log1p(np.maximum(e, 0.0)) / 5.0,
        np.clip((t - z / C_MM_PER_NS) / 10.0, -3.0, 3.0),
    ]
    flat = np.stack(cols, axis=1).astype(np.float32)
    return flat, ak.to_numpy(ak.num(hits.x, axis=1)).astype(np.int64)


def sequences(events: ak.Array, max_hits: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded hit sequences ``(B, L, 5)`` (L the longest in the batch, ≥ 1) and lengths."""
    flat, lengths = hit_features(events, max_hits)
    width = max(int(lengths.max(initial=0)), 1)
    out = np.zeros((len(lengths), width, flat.shape[1]), np.float32)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(len(flat)) - np.repeat(starts, lengths)
    out[np.repeat(np.arange(len(lengths)), lengths), pos] = flat
    return out, lengths


#: Width of :func:`energy_features`.
N_ENERGY = 8


def energy_features(events: ak.Array) -> np.ndarray:
    """The energy-sum count of each event as features ``(B, 8)``: ΣE / 4 GeV, its rounding
    (one-hot 0–5+) and the remainder ΣE / 4 GeV − rounding — the baseline's own answer, so a
    network starts from it and learns what the hits add."""
    units = ak.to_numpy(ak.sum(events.ecal.energy, axis=1)).astype(np.float32)
    units = units / np.float32(schema.BEAM_ENERGY)
    count = np.rint(units)
    out = np.zeros((len(units), N_ENERGY), np.float32)
    out[:, 0] = units
    out[np.arange(len(units)), 1 + np.clip(count, 0, 5).astype(np.int64)] = 1.0
    out[:, 7] = units - count
    return out


def ts_features(bars: ak.Array) -> np.ndarray:
    """The scintillator vector ``(B, 6 + N_bars)``: one-hot cluster count (0–5+) and the
    fired-bar pattern (0/1) of each event."""
    b = len(bars)
    clusters = np.clip(trigscint.count_clusters(bars), 0, 5)
    out = np.zeros((b, 6 + schema.TS_N_BARS), np.float32)
    out[np.arange(b), clusters] = 1.0
    counts = ak.to_numpy(ak.num(bars))
    flat = ak.to_numpy(ak.flatten(bars)).astype(np.int64)
    out[np.repeat(np.arange(b), counts), 6 + flat] = 1.0
    return out


@dataclass(frozen=True)
class Builder:
    """The batch transform of a model: ``builder(events, labels) → (x, y)``.

    Attributes:
        model: ``cnn``, ``rnn``, ``gnn`` or ``cnn_rnn``.
        grid: the CNN image, ``hex`` or ``index``.
        use_ts: pass the scintillator vector as the model's ``extra`` input.
        max_hits: hits per event of the RNN and GNN.
    """

    model: str
    grid: str = "hex"
    use_ts: bool = True
    max_hits: int = 256

    def __post_init__(self) -> None:
        if self.model not in ("cnn", "rnn", "gnn", "cnn_rnn"):
            raise ValueError(
                f"model={self.model!r}: expected one of 'cnn', 'rnn', 'gnn', 'cnn_rnn'"
            )

    @property
    def extra_features(self) -> int:
        """Width of the event vector: the energy-sum count's 8, the scintillator's 6 + N_bars."""
        return N_ENERGY + (6 + schema.TS_N_BARS if self.use_ts else 0)

    def extra(self, events: ak.Array) -> np.ndarray:
        """The event vector ``(B, extra_features)``."""
        parts = [energy_features(events)]
        if self.use_ts:
            parts.append(ts_features(events.ts_bars))
        return np.concatenate(parts, axis=1)

    def __call__(self, events: ak.Array, labels: np.ndarray) -> Any:
        y = torch.as_tensor(np.asarray(labels, np.int64))
        extra = torch.from_numpy(self.extra(events))
        if self.model in ("cnn", "cnn_rnn"):
            grid = torch.from_numpy(image(events, self.grid if self.model == "cnn" else "hex"))
            if self.model == "cnn_rnn":
                grid = grid.permute(0, 2, 1, 3, 4).contiguous()  # (B, 34, 1, Q, R)
            return (grid, extra), y
        if self.model == "rnn":
            hits, lengths = sequences(events, self.max_hits)
            return (torch.from_numpy(hits), torch.from_numpy(lengths), extra), y
        return self.graph(events, y, extra)

    def graph(self, events: ak.Array, y: torch.Tensor, extra: torch.Tensor) -> Batch:
        """A PyG ``Batch`` of the events' hit graphs (edges are built by the model)."""
        flat, counts = hit_features(events, self.max_hits)
        x = torch.from_numpy(flat)
        pos = x[:, :3].clone()  # x, y (100 mm) and layer / 33 (depth)
        batch = torch.repeat_interleave(torch.arange(len(events)), torch.from_numpy(counts))
        ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]))
        return Batch(x=x, pos=pos, batch=batch, ptr=ptr, y=y, extra=extra)
