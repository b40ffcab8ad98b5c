"""Reading TRT ntuples (real TRTFrame-like files or the simulator's) and building features.

Never imports the simulator: everything here works on real ntuples. Tree and branch names come
from :mod:`hepnb.chapters.trt.schema`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import awkward as ak
import numpy as np

from hepnb import io
from hepnb.chapters.trt.schema import (
    FEATURE_BRANCHES,
    GAS,
    HIT_FEATURES,
    MIN_HITS_PID,
    PRECISION_TOLERANCE_MM,
    REGION,
    RT_COEFFICIENTS,
)
from hepnb.data import SequenceDataset
from hepnb.evaluate import binned_mean

__all__ = [
    "drift_radius",
    "drop_short",
    "hit_features",
    "ht_onset",
    "load",
    "precision_hit_fraction",
    "read_trees",
    "to_dataset",
    "track_features",
]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
Paths = PathLike | Sequence[PathLike]


def read_trees(
    path: Paths,
    signal: str | Sequence[str] = "electron_mc",
    background: str | Sequence[str] = "muon_mc",
    *,
    branches: Sequence[str] = FEATURE_BRANCHES,
    n_max: int | None = None,
) -> list[ak.Array]:
    """Read signal and background trees of a TRT ntuple, one labelled array per tree.

    The schema is checked: every branch must exist in every tree (:class:`~hepnb.io.SchemaError`
    naming file, tree and branch), hold finite values, and the ``hit_*`` branches must have the
    same number of hits per track.

    Args:
        path: a ROOT file or several (their trees are concatenated): a real ntuple or the output
            of :func:`hepnb.chapters.trt.sim.generate`.
        signal, background: tree name(s) labelled 1 and 0.
        branches: branches to read.
        n_max: read at most this many tracks per tree (and file).

    Returns:
        One record array per tree with the branches plus ``y`` (1 = signal) and ``tree``
        (tree index).
    """
    files = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not files:
        raise FileNotFoundError("read_trees: no input file")
    parts = []
    names = [(t, 1) for t in _as_list(signal)] + [(t, 0) for t in _as_list(background)]
    for i, (tree, label) in enumerate(names):
        chunks = [io.read_tree(f, tree, branches, entry_stop=n_max) for f in files]
        for f, chunk in zip(files, chunks, strict=True):
            _check_hit_counts(f, tree, chunk)
        arr = chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)
        arr = ak.with_field(arr, np.full(len(arr), label, dtype=np.int8), "y")
        parts.append(ak.with_field(arr, np.full(len(arr), i, dtype=np.int8), "tree"))
    return parts


def _check_hit_counts(path: PathLike, tree: str, arrays: ak.Array) -> None:
    hit = [f for f in arrays.fields if f.startswith("hit_")]
    if len(hit) < 2:
        return
    counts = ak.to_numpy(ak.num(arrays[hit[0]]))
    for f in hit[1:]:
        if not np.array_equal(ak.to_numpy(ak.num(arrays[f])), counts):
            raise io.SchemaError(
                f"{path}: tree {tree!r}: hit branch {f!r} has a different number of hits per "
                f"track than {hit[0]!r}"
            )


def load(
    path: Paths,
    signal: str | Sequence[str] = "electron_mc",
    background: str | Sequence[str] = "muon_mc",
    *,
    branches: Sequence[str] = FEATURE_BRANCHES,
    n_max: int | None = None,
) -> ak.Array:
    """:func:`read_trees` concatenated into one array (convenient for exploring)."""
    return ak.concatenate(read_trees(path, signal, background, branches=branches, n_max=n_max))


def _as_list(x: str | Sequence[str]) -> list[str]:
    return [x] if isinstance(x, str) else list(x)


def drop_short(arrays: ak.Array, min_hits: int = MIN_HITS_PID) -> ak.Array:
    """Drop tracks with fewer than ``min_hits`` TRT hits (PID needs ≥ 5; zero-hit tracks cannot
    be fed to an RNN). The number dropped is logged."""
    n_hits = ak.num(arrays["hit_HTMB"])
    keep = ak.to_numpy(n_hits >= min_hits)
    if (~keep).any():
        log.warning(
            "dropped %d of %d tracks with fewer than %d hits", (~keep).sum(), len(keep), min_hits
        )
        return arrays[keep]
    return arrays


def precision_hit_fraction(arrays: ak.Array) -> np.ndarray:
    """PHF: fraction of hits whose drift radius matches the track-to-wire distance."""
    counts = ak.to_numpy(ak.num(arrays["hit_drifttime"]))
    t = ak.to_numpy(ak.flatten(arrays["hit_drifttime"])).astype(np.float32, copy=False)
    r_trk = ak.to_numpy(ak.flatten(arrays["hit_rTrkWire"])).astype(np.float32, copy=False)
    precise = np.abs(drift_radius(t) - r_trk) < PRECISION_TOLERANCE_MM
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_precise = np.add.reduceat(precise, starts) if len(precise) else np.zeros(len(counts))
    n_precise[counts == 0] = 0  # reduceat returns the next element for empty segments
    return n_precise / np.maximum(counts, 1)


def drift_radius(t: np.ndarray) -> np.ndarray:
    """Drift radius (mm, clipped to [0, 2]) from the T0-subtracted drift time ``t`` (ns) by
    inverting :data:`~hepnb.chapters.trt.schema.RT_COEFFICIENTS`."""
    c0, c1, c2 = RT_COEFFICIENTS
    t = np.asarray(t)
    disc = np.maximum(c1**2 - 4 * c2 * (c0 - t), 0.0)
    return np.clip((np.sqrt(disc) - c1) / (2 * c2), 0.0, 2.0)


def track_features(arrays: ak.Array) -> np.ndarray:
    """Per-track features ``(N, 7)`` in the order of :data:`TRACK_FEATURES`.

    ``p`` and ``pT`` enter as log10(MeV); fAr = Ar hits / TRT hits, fHTMB = HT (middle bit)
    hits / TRT hits, PHF = precision-hit fraction.
    """
    n = np.maximum(ak.to_numpy(arrays["nTRThits"]).astype(np.float64), 1.0)
    cols = [
        ak.to_numpy(arrays["trkOcc"]),
        np.log10(np.maximum(ak.to_numpy(arrays["p"]), 1.0)),
        np.log10(np.maximum(ak.to_numpy(arrays["pT"]), 1.0)),
        ak.to_numpy(arrays["nXehits"]),
        ak.to_numpy(arrays["nArhits"]) / n,
        ak.to_numpy(arrays["nHThits"]) / n,
        precision_hit_fraction(arrays),
    ]
    return np.stack(cols, axis=1).astype(np.float32)


def hit_features(
    arrays: ak.Array | Sequence[ak.Array], features: Sequence[str] = HIT_FEATURES
) -> tuple[np.ndarray, np.ndarray]:
    """Flat hit features ``(N_hits, F_h)`` float32 and sequence ``offsets (N + 1,)``.

    Accepts one array or a list of arrays (e.g. one per tree); the hits are copied once,
    straight into the preallocated output.
    """
    parts = [arrays] if isinstance(arrays, ak.Array) else list(arrays)
    counts = []
    for a in parts:
        c = ak.to_numpy(ak.num(a[features[0]]))
        for f in features[1:]:
            if not np.array_equal(ak.to_numpy(ak.num(a[f])), c):
                raise io.SchemaError(
                    f"hit branch {f!r} has a different number of hits per "
                    f"track than {features[0]!r}"
                )
        counts.append(c)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    items = np.empty((offsets[-1], len(features)), dtype=np.float32)
    start = 0
    for a, c in zip(parts, counts, strict=True):
        stop = start + int(c.sum())
        for j, f in enumerate(features):
            items[start:stop, j] = ak.to_numpy(ak.flatten(a[f]))
        start = stop
    return items, offsets


def to_dataset(
    arrays: ak.Array | Sequence[ak.Array], min_hits: int = MIN_HITS_PID
) -> SequenceDataset:
    """Build the LSTM dataset (packed hit sequences + track features + labels + weights) from
    one array or a list of arrays (one per tree, as :func:`read_trees` returns)."""
    parts = [arrays] if isinstance(arrays, ak.Array) else list(arrays)
    parts = [drop_short(a, min_hits) for a in parts]
    if sum(len(a) for a in parts) == 0:
        raise ValueError(f"no track has at least {min_hits} hits")
    items, offsets = hit_features(parts)
    cat = np.concatenate
    return SequenceDataset(
        items,
        offsets,
        cat([track_features(a) for a in parts]),
        cat([ak.to_numpy(a["y"]) for a in parts]),
        cat([ak.to_numpy(a["weight"]) for a in parts]),
    )


def ht_onset(
    arrays: ak.Array, gas: str = "Xe", region: str = "barrel", bins: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Measured high-threshold (HT, middle bit) hit probability vs log10 of the Lorentz factor.

    γ = p / truthMass per track, broadcast to its hits; hits are selected by gas (Xe: gasType 0,
    Ar: 1) and region (barrel: |bec| = 1, end-cap: |bec| = 2).

    Args:
        arrays: tracks with ``p``, ``truthMass``, ``hit_HTMB``, ``hit_gasType``, ``hit_bec``.
        gas: ``"Xe"`` or ``"Ar"``.
        region: ``"barrel"``, ``"endcap"`` (both wheel types), ``"endcapA"`` or ``"endcapB"``
            (needs ``hit_layer``).
        bins: log10 γ bin edges (default 25 bins over [0.5, 5.5]).

    Returns:
        ``(log10γ bin centres, HT fraction, binomial error, hits per bin)``.
    """
    if gas not in GAS or (region not in REGION and region != "endcap"):
        raise ValueError(
            f"gas={gas!r}, region={region!r}: expected Xe|Ar and barrel|endcap|endcapA|endcapB"
        )
    gas_code = GAS[gas]
    gamma = arrays["p"] / arrays["truthMass"]
    gamma_hit, _ = ak.broadcast_arrays(gamma, arrays["hit_HTMB"])
    sel = (arrays["hit_gasType"] == gas_code) & (
        abs(arrays["hit_bec"]) == min(REGION.get(region, 1), 1) + 1
    )
    if region in ("endcapA", "endcapB"):  # B wheels: hit_layer 6-13
        sel = sel & ((arrays["hit_layer"] >= 6) == (region == "endcapB"))
    x = np.log10(ak.to_numpy(ak.flatten(gamma_hit[sel])))
    y = ak.to_numpy(ak.flatten(arrays["hit_HTMB"][sel]))
    return binned_mean(x, y, np.linspace(0.5, 5.5, 26) if bins is None else bins)
