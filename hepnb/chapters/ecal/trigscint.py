"""Response of LDMX's trigger scintillator (pad 3, upstream of the target) to beam electrons.

The same function serves simulated and real files: it takes the positions of the beam
electrons at the scintillator's scoring plane (truth ``TrigScintScoringPlaneHits``) and
returns the bars that fire. Geometry and constants are in :mod:`.schema` (ldmx-sw v14 GDML
and ``TrigScint/python/trigScint.py``):

* two layers of 24 horizontal bars (3.05 mm in y, 30 mm long in x around x = 0, 2 mm thick,
  0.3 mm gaps), the downstream layer shifted by half a bar in y; bar id = 2·k + layer, so ids
  increase with y in steps of half a bar and a normally incident electron fires one bar in
  each layer (two adjacent ids), or one where it crosses a gap of the other layer;
* a crossed bar collects Poisson(``pe_per_mip``) photo-electrons (100 PE per MIP,
  ``TrigScintDigiProducer``) and fires at ≥ ``threshold`` PE (30, the cluster seed threshold of
  ``TrigScintClusterProducer``), with a per-bar efficiency (illustrative, 98 %);
* several electrons in one bar fire it once; :func:`count_clusters` merges adjacent fired
  ids, so two electrons closer than about a bar width (≈ 3–5 mm in y) count as one.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepnb.chapters.ecal.reader import beam_electrons
from hepnb.chapters.ecal.schema import (
    TS_BAR_LENGTH,
    TS_BAR_PITCH,
    TS_BAR_WIDTH,
    TS_EFFICIENCY,
    TS_N_BARS,
    TS_N_BARS_PER_LAYER,
    TS_PE_PER_MIP,
    TS_PE_THRESHOLD,
    TS_Y0,
)

__all__ = ["PE_PER_MIP", "PE_THRESHOLD", "bar_response", "bars_crossed", "count_clusters"]

#: Mean photo-electrons per MIP crossing a bar.
PE_PER_MIP = TS_PE_PER_MIP
#: A bar fires at ≥ this many photo-electrons (also the cut on ``pe_`` of real rec hits).
PE_THRESHOLD = TS_PE_THRESHOLD


def bars_crossed(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bar ids crossed by straight, normally incident tracks in each of the two layers.

    Args:
        x, y: flat arrays of positions at the pad [mm].

    Returns:
        (upstream-layer id, downstream-layer id), int64 arrays; −1 where the track passes a
        gap between bars or outside the pad.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    inside_x = np.abs(x) <= TS_BAR_LENGTH / 2
    out = []
    for layer in (0, 1):
        u = (y - TS_Y0 - layer * TS_BAR_WIDTH / 2) / TS_BAR_PITCH
        k = np.rint(u).astype(np.int64)
        on_bar = np.abs(u - k) * TS_BAR_PITCH <= TS_BAR_WIDTH / 2
        ok = inside_x & on_bar & (k >= 0) & (k < TS_N_BARS_PER_LAYER)
        out.append(np.where(ok, 2 * k + layer, -1))
    return out[0], out[1]


def bar_response(
    x: Any,
    y: Any,
    rng: np.random.Generator,
    *,
    pe_per_mip: float = PE_PER_MIP,
    threshold: float = PE_THRESHOLD,
    efficiency: float = TS_EFFICIENCY,
) -> ak.Array:
    """Fired bars of each event from the positions of its beam electrons at the pad.

    Args:
        x, y: jagged (events × electrons) positions [mm] (awkward or lists of lists).
        rng: random generator (PE counts and efficiency).
        pe_per_mip: mean photo-electrons per crossing.
        threshold: a bar fires at ≥ this many photo-electrons.
        efficiency: probability that a crossed bar above threshold is read out.

    Returns:
        Jagged int64 array (events × fired bars) of sorted, unique bar ids (0 … 47).
    """
    if not 0.0 <= efficiency <= 1.0:
        raise ValueError(f"efficiency must be in [0, 1], got {efficiency}")
    if pe_per_mip <= 0:
        raise ValueError(f"pe_per_mip must be positive, got {pe_per_mip}")
    x, y = ak.Array(x), ak.Array(y)
    counts = np.asarray(ak.num(x, axis=1), dtype=np.int64)
    if not np.array_equal(counts, np.asarray(ak.num(y, axis=1))):
        raise ValueError("x and y must have the same number of hits in every event")
    n = len(counts)
    event = np.repeat(np.arange(n, dtype=np.int64), counts)
    fx = np.asarray(ak.to_numpy(ak.flatten(x, axis=1)), dtype=np.float64)
    fy = np.asarray(ak.to_numpy(ak.flatten(y, axis=1)), dtype=np.float64)
    b0, b1 = bars_crossed(fx, fy)
    bar = np.concatenate([b0, b1])
    ev = np.concatenate([event, event])
    pe = rng.poisson(pe_per_mip, size=len(bar))
    live = rng.random(len(bar)) < efficiency
    fired = (bar >= 0) & (pe >= threshold) & live
    key = np.unique(ev[fired] * TS_N_BARS + bar[fired])  # sorted: by event, then bar
    per_event = np.bincount(key // TS_N_BARS, minlength=n)
    return ak.unflatten(key % TS_N_BARS, per_event)


def count_clusters(bars: Any, max_width: int | None = None) -> np.ndarray:
    """Number of clusters of adjacent fired bar ids per event.

    Args:
        bars: jagged (events × bars) fired bar ids, any order, duplicates allowed.
        max_width: split runs of adjacent bars longer than this into ⌈length / max_width⌉
            clusters, as ldmx-sw's ``TrigScintClusterProducer`` does (``max_cluster_width``
            = 2); ``None`` (default): one cluster per run.

    Returns:
        int64 array ``(n_events,)``.
    """
    bars = ak.Array(bars)
    n = len(bars)
    counts = np.asarray(ak.num(bars, axis=1), dtype=np.int64)
    flat = np.asarray(ak.to_numpy(ak.flatten(bars, axis=1)), dtype=np.int64)
    event = np.repeat(np.arange(n, dtype=np.int64), counts)
    key = np.unique(event * (TS_N_BARS + 2) + flat)  # sorted, no duplicates
    ev, b = key // (TS_N_BARS + 2), key % (TS_N_BARS + 2)
    start = np.ones(len(key), dtype=bool)
    start[1:] = (ev[1:] != ev[:-1]) | (b[1:] != b[:-1] + 1)
    if max_width is None:
        return np.bincount(ev[start], minlength=n).astype(np.int64)
    if max_width < 1:
        raise ValueError(f"max_width must be ≥ 1, got {max_width}")
    run = np.cumsum(start) - 1
    length = np.bincount(run)
    run_event = ev[start]
    return np.bincount(run_event, weights=-(-length // max_width), minlength=n).astype(np.int64)


def fired_bars(events: ak.Array, rng: np.random.Generator) -> ak.Array:
    """Fired bars of each event (jagged int64): the file's reconstructed bars (``ts_rec``) when
    it has them, else :func:`bar_response` to the beam electrons at the scintillator's scoring
    plane (``ts``, truth) drawn with ``rng`` — the same response for simulated and real files.
    """
    if "ts_rec" in events.fields:
        return ak.values_astype(events.ts_rec.bar, np.int64)
    if "ts" not in events.fields:
        raise ValueError(
            "events: no scintillator collection (expected field 'ts' or 'ts_rec', as "
            "hepnb.chapters.ecal.reader.read_chunks returns them)"
        )
    electrons = beam_electrons(events.ts)
    return bar_response(electrons.x, electrons.y, rng)
