"""Hit graphs for edge-classifying GNNs, and tracks built back from a classified graph.

The GNN approach to track finding (HEP.TrkX / Exa.TrkX [JU]; the interaction network of
[DZ]; Ariadne's graph networks for BESIII [ARI]) turns each event into a graph whose nodes are
hits and whose edges are candidate *segments* between hits on ADJACENT stations (``k → k+1``,
the source always on the inner station) that pass geometric cuts; a network scores each edge,
and the tracks are the chains of edges it keeps. This module holds every step around the
network, vectorised over all events at once (a loop over stations and over memory chunks, never
over events or hits):

* :func:`segment_features` — the per-segment geometry (``dφ``, ``dr``, ``dz``, ``dφ/dr``,
  ``z0``, ``dη``, ``ΔR``), from ``x, y, z`` [mm];
* :class:`GraphCuts` — the cuts, fitted on the true segments of TRAINING events
  (:meth:`GraphCuts.fit`) or derived from a minimum transverse momentum (:meth:`GraphCuts.for_pt`);
* :func:`true_segments`, :func:`build_graph` → :class:`Graph` (edges, truth, true-segment
  counts) and :func:`graph_rates` / :func:`graph_counts` (edge efficiency and purity);
* :func:`to_pyg` — one :class:`torch_geometric.data.Data` per event for the network;
* :func:`tracks_from_edges` — tracks from edge scores (mutual-best edges, then connected
  components).

**True segments.** A segment is true when both hits belong to the same particle
(``track ≥ 0``) and lie on adjacent stations. A particle that leaves several hits on one
station (a low-pT looper) has every pair of its hits on adjacent stations counted true; a
particle that skips a station has no true segment across the gap (edges join adjacent
stations only).

[JU] X. Ju et al., "Performance of a geometric deep learning pipeline for HL-LHC particle
tracking", Eur. Phys. J. C 81 (2021) 876, arXiv:2103.06995.
[DZ] G. DeZoort et al., "Charged particle tracking via edge-classifying interaction networks",
Comput. Softw. Big Sci. 5 (2021) 26, arXiv:2103.16701; graph construction in
github.com/GageDeZoort/interaction_network_paper, ``graph_construction/build_heptrkx_plus_pyg.py``.
[ARI] Ariadne, github.com/t3hseus/ariadne, ``ariadne/graph_net/graph_utils/graph_prepare_utils.py``
(adjacent-station cartesian product per event, truth = same track ≠ −1).
[PDG] Particle Data Group, Review of Particle Physics, Phys. Rev. D 110 (2024) 030001, table
"Physical constants" (c = 299 792 458 m/s exactly, e = 1.602 176 634 × 10⁻¹⁹ C exactly).
[BES] M. Ablikim et al. (BESIII), "Design and construction of the BESIII detector",
Nucl. Instrum. Meth. A 614 (2010) 345, arXiv:0911.4960.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from numbers import Real

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from torch_geometric.data import Data

from hepnb import evaluate
from hepnb.chapters.tracking.hits import Hits, Tracks
from hepnb.chapters.tracking.schema import C_LIGHT

__all__ = [
    "CHUNK_PAIRS",
    "EDGE_FEATURES",
    "EDGE_SCALE",
    "PT_PER_TESLA_MM",
    "Graph",
    "GraphCuts",
    "build_graph",
    "graph_counts",
    "graph_rates",
    "segment_features",
    "to_pyg",
    "tracks_from_edges",
    "true_segments",
]

#: Transverse momentum [GeV] per tesla and per mm of radius of curvature of a unit-charge
#: particle: pT = c·B·R with c = :data:`~hepnb.chapters.tracking.schema.C_LIGHT` GeV/(T·m).
PT_PER_TESLA_MM = C_LIGHT * 1e-3

#: The four edge features :func:`to_pyg` gives the network (the choice of [DZ]).
EDGE_FEATURES = ("dr", "dphi", "dz", "dR")
#: Default divisors of :data:`EDGE_FEATURES` in :func:`to_pyg`, to make them O(1): ``dr`` and
#: ``dz`` in units of 100 mm (the order of the distance between adjacent layers of a
#: cylindrical tracker: BESIII's drift chamber spans radii 59–810 mm [BES], so 10 layers
#: over it are ≈ 75 mm apart), ``dφ`` and ``ΔR = √(dφ² + dη²)`` in units of 0.1 rad (the
#: order of the turn of a 0.2 GeV track over 75 mm in 1 T: dφ ≈ Δr · 0.3 B / (2 pT) ≈ 0.06
#: rad). [DZ] divides by its node scales instead (1000 mm, π); pass ``edge_scale`` to change.
EDGE_SCALE: tuple[float, float, float, float] = (100.0, 0.1, 100.0, 0.1)

#: Candidate pairs examined at once by :func:`build_graph` (memory: ≈ 100 bytes per pair).
CHUNK_PAIRS = 1 << 21

_CUT_FEATURES = ("phi_slope", "z0", "deta")


# --- geometry -----------------------------------------------------------------------------


def _wrap(dphi: np.ndarray) -> np.ndarray:
    """Angles wrapped to (−π, π]."""
    return np.pi - np.mod(np.pi - dphi, 2 * np.pi)


def _check_hits(hits: Hits, where: str) -> None:
    if not isinstance(hits, Hits):
        raise TypeError(f"{where}: expected a Hits table, got {type(hits).__name__}")


def _column(hits: Hits, name: str, where: str) -> np.ndarray:
    try:
        return hits.columns[name]
    except KeyError:
        raise KeyError(
            f"{where}: the hits lack column {name!r} (columns: {sorted(hits.columns)})"
        ) from None


@dataclass(frozen=True)
class _Geometry:
    """Per-hit cylindrical coordinates: ``r`` [mm], ``phi`` [rad] ∈ (−π, π], ``eta``."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    r: np.ndarray
    phi: np.ndarray
    eta: np.ndarray

    @classmethod
    def of(cls, hits: Hits, where: str) -> _Geometry:
        _check_hits(hits, where)
        x, y, z = (_column(hits, c, where).astype(np.float64) for c in ("x", "y", "z"))
        for name, v in (("x", x), ("y", y), ("z", z)):
            bad = np.flatnonzero(~np.isfinite(v))
            if len(bad):
                raise ValueError(
                    f"{where}: column {name!r} has {len(bad)} non-finite values "
                    f"(first at hit {bad[0]}); expected finite positions in mm"
                )
        r = np.hypot(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.arcsinh(z / r)
        return cls(x, y, z, r, np.arctan2(y, x), eta)


def _features(g: _Geometry, src: np.ndarray, dst: np.ndarray) -> dict[str, np.ndarray]:
    r1, r2 = g.r[src], g.r[dst]
    z1 = g.z[src]
    dr = r2 - r1
    dz = g.z[dst] - z1
    dphi = _wrap(g.phi[dst] - g.phi[src])
    deta = g.eta[dst] - g.eta[src]
    with np.errstate(divide="ignore", invalid="ignore"):
        phi_slope = dphi / dr
        z0 = z1 - r1 * dz / dr
    return {
        "dphi": dphi,
        "dr": dr,
        "dz": dz,
        "phi_slope": phi_slope,
        "z0": z0,
        "deta": deta,
        "dR": np.hypot(dphi, deta),
        "r_src": r1,
        "r_dst": r2,
    }


def _indices(a: np.ndarray | Sequence[int], name: str, n: int, where: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or (len(arr) and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(
            f"{where}: {name} must be a 1-d integer array, got {arr.dtype} {arr.shape}"
        )
    arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{where}: {name} holds hit indices outside 0 … {n - 1}")
    return arr


def segment_features(
    hits: Hits, src: np.ndarray | Sequence[int], dst: np.ndarray | Sequence[int]
) -> dict[str, np.ndarray]:
    """Geometric quantities of the segments ``src[i] → dst[i]`` (hit indices into ``hits``).

    ``r = √(x² + y²)`` [mm] and ``φ = atan2(y, x)`` [rad] are computed from ``x, y`` (derived
    columns of ``hits`` are not used: they may be normalised), ``η = asinh(z / r)``.

    Args:
        hits: the hit table (``x, y, z`` in mm).
        src: ``(E,)`` index of each segment's first (inner) hit.
        dst: ``(E,)`` index of its second hit.

    Returns:
        ``(E,)`` float64 arrays: ``dphi`` = φ_dst − φ_src wrapped to (−π, π] [rad], ``dr``,
        ``dz`` [mm], ``phi_slope`` = dφ/dr [rad/mm], ``z0`` = z intercept at r = 0 of the
        straight r–z line through the two hits [mm], ``deta``, ``dR`` = √(dφ² + dη²), and the
        radii ``r_src``, ``r_dst`` [mm]. A pair at equal radius has an infinite or NaN
        ``phi_slope`` and ``z0``.

    Raises:
        KeyError: ``hits`` lacks ``x``, ``y`` or ``z``.
        ValueError: indices not 1-d integers of equal length inside the table, or
            non-finite positions.
    """
    where = "segment_features"
    g = _Geometry.of(hits, where)
    src = _indices(src, "src", len(g.r), where)
    dst = _indices(dst, "dst", len(g.r), where)
    if src.shape != dst.shape:
        raise ValueError(f"{where}: src and dst of different lengths {len(src)} and {len(dst)}")
    return _features(g, src, dst)


# --- cuts ---------------------------------------------------------------------------------


def _number(value: object) -> float:
    """``value`` as a float, NaN when it is not a real number (or is a bool)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return math.nan
    return float(value)


def _positive(value: object, name: str, where: str) -> float:
    number = _number(value)
    if not number > 0:
        raise ValueError(f"{where}: {name}={value!r}, expected a number > 0 (inf: no cut)")
    return number


@dataclass(frozen=True)
class GraphCuts:
    """Geometric cuts on candidate segments; a cut at ``inf`` is not applied.

    A segment passes when ``|dφ/dr| ≤ phi_slope_max``, ``|z0| ≤ z0_max``,
    ``|dη| ≤ deta_max`` and, with ``pt_min`` set, ``|dφ| ≤`` :meth:`dphi_limit` of its radii.
    Comparisons are inclusive.

    Attributes:
        phi_slope_max: largest ``|dφ/dr|`` [rad/mm].
        z0_max: largest ``|z0|`` [mm] (the r–z line's intercept on the beam line).
        deta_max: largest ``|dη|``.
        pt_min: minimum transverse momentum [GeV] of the analytic per-pair azimuth cut (0: none).
        b_field: solenoid field [T] of that cut.
    """

    phi_slope_max: float = math.inf
    z0_max: float = math.inf
    deta_max: float = math.inf
    pt_min: float = 0.0
    b_field: float = 0.0

    def __post_init__(self) -> None:
        for name in ("phi_slope_max", "z0_max", "deta_max"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, "GraphCuts"))
        for name in ("pt_min", "b_field"):
            value = getattr(self, name)
            if not _number(value) >= 0:
                raise ValueError(f"GraphCuts: {name}={value!r}, expected a number ≥ 0")
            object.__setattr__(self, name, _number(value))
        if (self.pt_min > 0) != (self.b_field > 0):
            raise ValueError(
                f"GraphCuts: pt_min={self.pt_min} and b_field={self.b_field}: the pT cut "
                "needs both > 0 (or both 0: no pT cut)"
            )
        if math.isinf(self.pt_min):
            raise ValueError("GraphCuts: pt_min=inf, expected a finite momentum in GeV")

    @classmethod
    def fit(
        cls,
        hits: Hits,
        keep: float = 0.995,
        features: Sequence[str] = ("phi_slope", "z0"),
    ) -> GraphCuts:
        """Cuts that each keep a fraction ``keep`` of the true segments of ``hits``.

        Each cut is the ``keep`` quantile of the true segments' ``|feature|``, taken as the
        smallest observed value at or below which at least ``keep`` of them lie (the inverse
        of the empirical distribution), so each cut ALONE keeps ≥ ``keep`` of them (cuts are
        inclusive); together they keep a little less (their losses overlap only in part). Fit on TRAINING events only, and
        measure the edge efficiency on other events (a cut fitted on the events it is
        evaluated on flatters them).

        Args:
            hits: training events with particle truth (``track``).
            keep: fraction of true segments each cut keeps, in (0, 1].
            features: which cuts to fit, among ``phi_slope`` (→ ``phi_slope_max``), ``z0``,
                ``deta``; the others stay at ``inf``.

        Raises:
            ValueError: ``keep`` outside (0, 1], an unknown feature, or no true segment.
        """
        where = "GraphCuts.fit"
        if not 0 < _number(keep) <= 1:
            raise ValueError(f"{where}: keep={keep!r}, expected a fraction in (0, 1]")
        unknown = [f for f in features if f not in _CUT_FEATURES]
        if unknown or not features:
            raise ValueError(
                f"{where}: features={list(features)}, expected some of {_CUT_FEATURES}"
            )
        g = _Geometry.of(hits, where)
        src, dst = _true_pairs(hits, where)
        if not len(src):
            raise ValueError(f"{where}: the {len(hits)} hits hold no true segment to fit on")
        feats = _features(g, src, dst)
        cuts: dict[str, float] = {}
        n_keep = max(1, math.ceil(round(float(keep) * len(src), 9)))
        for name in features:
            value = np.abs(feats[name])
            value[np.isnan(value)] = np.inf
            q = float(np.partition(value, n_keep - 1)[n_keep - 1])
            # A zero spread (all values 0) still needs a cut > 0; the next float keeps them.
            cuts[{"phi_slope": "phi_slope_max", "z0": "z0_max", "deta": "deta_max"}[name]] = (
                q if q > 0 else float(np.nextafter(0.0, 1.0))
            )
        return cls(**cuts)

    @classmethod
    def for_pt(
        cls,
        b_field: float,
        pt_min: float,
        z0_max: float = math.inf,
        deta_max: float = math.inf,
    ) -> GraphCuts:
        """The analytic cut for tracks of ``pT ≥ pt_min`` from the beam line (origin).

        A particle of transverse momentum pT and unit charge from the origin moves on a circle
        of radius R = pT / (0.2998 B) [GeV, T, m] through the origin; at radius r its azimuth
        is φ(r) = φ₀ ∓ asin(r / 2R) (the chord from the origin subtends 2·asin(r / 2R) at the
        centre). Between radii r₁ < r₂ it therefore turns
        ``|dφ| = asin(r₂/2R) − asin(r₁/2R)``, which grows as R shrinks; the largest turn for
        ``pT ≥ pt_min`` is at ``R_min = pt_min / (0.2998 B)``, so the cut is per pair of
        radii (:meth:`dphi_limit`) rather than one ``dφ/dr`` bound. A particle with
        ``2R < r₂`` loops back before ``r₂``; the arcsines are capped at π/2 there. Tracks
        from a displaced vertex (``d₀ ≠ 0``) turn differently; widen the cut (lower
        ``pt_min``) when they matter.

        Args:
            b_field: solenoid field [T], > 0.
            pt_min: minimum transverse momentum [GeV], > 0.
            z0_max: largest ``|z0|`` [mm] (the luminous region), ``inf``: none.
            deta_max: largest ``|dη|``, ``inf``: none.
        """
        where = "GraphCuts.for_pt"
        return cls(
            z0_max=z0_max,
            deta_max=deta_max,
            pt_min=_positive(pt_min, "pt_min", where),
            b_field=_positive(b_field, "b_field", where),
        )

    @property
    def half_curvature(self) -> float:
        """``1 / (2 R_min)`` [1/mm] of the pT cut (0 without one)."""
        if self.pt_min <= 0:
            return 0.0
        return PT_PER_TESLA_MM * self.b_field / (2 * self.pt_min)

    def dphi_limit(self, r_src: np.ndarray, r_dst: np.ndarray) -> np.ndarray:
        """``(E,)`` largest ``|dφ|`` [rad] of the pT cut between radii ``r_src``, ``r_dst``
        [mm]: ``|asin(min(1, r_dst/2R_min)) − asin(min(1, r_src/2R_min))|`` (``inf`` without
        a pT cut)."""
        r_src, r_dst = np.asarray(r_src, np.float64), np.asarray(r_dst, np.float64)
        k = self.half_curvature
        if k == 0:
            return np.full(np.broadcast(r_src, r_dst).shape, np.inf)
        return np.abs(np.arcsin(np.minimum(1.0, r_dst * k)) - np.arcsin(np.minimum(1.0, r_src * k)))

    def passes(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(E,)`` bool: which segments (:func:`segment_features`) pass every cut."""
        n = len(features["dphi"])
        ok = np.ones(n, bool)
        for name, cut in (
            ("phi_slope", self.phi_slope_max),
            ("z0", self.z0_max),
            ("deta", self.deta_max),
        ):
            if not math.isinf(cut):
                ok &= np.abs(features[name]) <= cut
        if self.pt_min > 0:
            ok &= np.abs(features["dphi"]) <= self.dphi_limit(features["r_src"], features["r_dst"])
        return ok

    def dphi_window(self, r_in: tuple[float, float], r_out: tuple[float, float]) -> float:
        """Largest ``|dφ|`` [rad] any pair between radius ranges ``r_in`` and ``r_out``
        (``(min, max)`` [mm]) can have and pass (π when the cuts do not bound it)."""
        lo_a, hi_a = r_in
        lo_b, hi_b = r_out
        window = math.pi
        if not math.isinf(self.phi_slope_max):
            window = min(window, self.phi_slope_max * max(hi_b - lo_a, hi_a - lo_b, 0.0))
        if self.pt_min > 0:
            lim = self.dphi_limit(np.array([lo_a, hi_a]), np.array([hi_b, lo_b]))
            window = min(window, float(lim.max()))
        return window


# --- pairs --------------------------------------------------------------------------------


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + c)`` of every (start, count), vectorised."""
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


def _true_pairs(hits: Hits, where: str) -> tuple[np.ndarray, np.ndarray]:
    event = _column(hits, "event", where)
    station = _column(hits, "station", where)
    track = _column(hits, "track", where)
    idx = np.flatnonzero(track >= 0)
    order = idx[np.lexsort((idx, station[idx], track[idx], event[idx]))]
    e, t, s = event[order], track[order], station[order]
    # Groups of hits of one (event, track, station), in station order within a particle.
    new = np.ones(len(order), bool)
    new[1:] = (e[1:] != e[:-1]) | (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(order)))
    ge, gt, gs = e[starts], t[starts], s[starts]
    nxt = np.zeros(len(starts), bool)
    nxt[:-1] = (ge[1:] == ge[:-1]) & (gt[1:] == gt[:-1]) & (gs[1:] == gs[:-1] + 1)
    a = np.flatnonzero(nxt)
    na, nb = counts[a], counts[a + 1]
    npair = na * nb
    block = np.repeat(np.arange(len(a)), npair)
    q = np.arange(int(npair.sum()), dtype=np.int64) - np.repeat(np.cumsum(npair) - npair, npair)
    src = order[starts[a][block] + q // nb[block]]
    dst = order[starts[a + 1][block] + q % nb[block]]
    keep = np.lexsort((dst, src))
    return src[keep], dst[keep]


def true_segments(hits: Hits) -> tuple[np.ndarray, np.ndarray]:
    """All true segments of ``hits``: ``(src, dst)``, ``(T,)`` hit indices sorted by
    ``(src, dst)``, ``src`` on station k and ``dst`` on station k + 1 of the same particle
    (every pair of its hits there, for a particle with several hits on a station)."""
    _check_hits(hits, "true_segments")
    return _true_pairs(hits, "true_segments")


def _candidates(
    hits: Hits, g: _Geometry, cuts: GraphCuts, chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of candidate ``(src, dst)`` on adjacent stations of one event, pre-selected
    by the azimuth window of the cuts (the exact cuts are applied by the caller)."""
    event = hits["event"]
    station = hits["station"]
    n_st = int(station.max()) + 1
    block = event * n_st + station
    order = np.lexsort((g.phi, block))
    sblock = block[order]
    # Sort key: block, then φ + π ∈ [0, 2π] — blocks occupy disjoint intervals [8b, 8b + 2π].
    key = sblock * 8.0 + (g.phi[order] + np.pi)
    by_station = np.argsort(station[order], kind="stable")
    st_off = np.concatenate([[0], np.cumsum(np.bincount(station, minlength=n_st))])
    for k in range(n_st - 1):
        pos_a = by_station[st_off[k] : st_off[k + 1]]
        if not len(pos_a) or st_off[k + 2] == st_off[k + 1]:
            continue
        r_a = g.r[order[pos_a]]
        r_b = g.r[order[by_station[st_off[k + 1] : st_off[k + 2]]]]
        w = cuts.dphi_window((r_a.min(), r_a.max()), (r_b.min(), r_b.max()))
        base = (sblock[pos_a] + 1) * 8.0  # the next station's block, same event
        if w >= np.pi:
            lo1, hi1 = base - 0.5, base + 7.5
            lo2 = hi2 = base - 0.5
        else:
            w = w * (1 + 1e-9) + 1e-9  # rounding margin; the exact cuts follow
            u = g.phi[order[pos_a]] + np.pi
            lo, hi = u - w, u + w
            lo1, hi1 = base + np.maximum(lo, 0.0), base + np.minimum(hi, 2 * np.pi)
            wrap_lo, wrap_hi = lo < 0, hi > 2 * np.pi
            lo2 = base + np.where(wrap_lo, lo + 2 * np.pi, 0.0)
            hi2 = base + np.where(wrap_lo, 2 * np.pi, np.where(wrap_hi, hi - 2 * np.pi, -0.5))
        s1 = np.searchsorted(key, lo1, "left")
        c1 = np.searchsorted(key, hi1, "right") - s1
        s2 = np.searchsorted(key, lo2, "left")
        c2 = np.maximum(np.searchsorted(key, hi2, "right") - s2, 0)
        per_a = c1 + c2
        cum = np.cumsum(per_a)
        if not len(cum) or cum[-1] == 0:
            continue
        cuts_at = np.searchsorted(cum, np.arange(chunk, cum[-1], chunk), "left") + 1
        bounds = np.unique(np.concatenate([[0], cuts_at, [len(pos_a)]]))
        for i0, i1 in pairwise(bounds):
            sl = slice(i0, i1)
            starts = np.stack([s1[sl], s2[sl]], 1).ravel()
            counts = np.stack([c1[sl], c2[sl]], 1).ravel()
            src = order[np.repeat(pos_a[sl], per_a[sl])]
            dst = order[_ranges(starts, counts)]
            yield src, dst


# --- the graph ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Graph:
    """Candidate segments of many events, sorted by ``(src, dst)`` (hence by event).

    Attributes:
        src: ``(E,)`` inner hit of each edge (index into the :class:`Hits` table).
        dst: ``(E,)`` outer hit, on the next station of the same event.
        event: ``(E,)`` event of each edge.
        y: ``(E,)`` int8 truth: 1 when both hits belong to the same particle (``track ≥ 0``).
        n_true_segments: ``(n_events,)`` true segments of each event, kept by the cuts or not.
        station: ``(n_hits,)`` station of every hit of the table (orders the tracks).
        cuts: the cuts the graph was built with.
    """

    src: np.ndarray
    dst: np.ndarray
    event: np.ndarray
    y: np.ndarray
    n_true_segments: np.ndarray
    station: np.ndarray
    cuts: GraphCuts = field(default_factory=GraphCuts)

    def __post_init__(self) -> None:
        n = len(self.src)
        for name in ("dst", "event", "y"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Graph: {name} has {len(getattr(self, name))} entries, src {n}")
        if n and (np.diff(self.event) < 0).any():
            raise ValueError("Graph: edges must be sorted by event")

    def __len__(self) -> int:
        return len(self.src)

    @property
    def n_hits(self) -> int:
        """Hits in the table the graph was built on."""
        return len(self.station)

    @property
    def n_events(self) -> int:
        """Events of the table (events without edges included)."""
        return len(self.n_true_segments)


def build_graph(hits: Hits, cuts: GraphCuts, chunk: int = CHUNK_PAIRS) -> Graph:
    """The candidate-segment graph of every event of ``hits``.

    Edges join hits of the same event on adjacent stations (``k → k+1``) that pass ``cuts``.
    All events are handled at once: hits are sorted by (event, station, φ); for each hit of
    station k, the hits of the next station of its event within the azimuth window the cuts
    allow (:meth:`GraphCuts.dphi_window`, wrapped around ±π) are a contiguous range found by
    ``searchsorted`` — the full cartesian product when the cuts do not bound ``dφ`` — then the
    exact cuts are applied. Candidates are processed ``chunk`` pairs at a time, so memory does
    not grow with the number of events.

    Args:
        hits: the events (``event x y z station track``; ``x y z`` in mm, ``r > 0``).
        cuts: the segment cuts.
        chunk: candidate pairs per chunk.

    Returns:
        The :class:`Graph`, with truth labels and the true-segment count of every event.

    Raises:
        KeyError: a column is missing.
        ValueError: non-finite positions, hits on the beam line, negative stations.
    """
    where = "build_graph"
    if not isinstance(cuts, GraphCuts):
        raise TypeError(f"{where}: cuts must be a GraphCuts, got {type(cuts).__name__}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"{where}: chunk={chunk!r}, expected an integer ≥ 1")
    g = _Geometry.of(hits, where)
    station = _column(hits, "station", where)
    track = _column(hits, "track", where)
    event = _column(hits, "event", where)
    if len(station) and station.min() < 0:
        raise ValueError(f"{where}: column 'station' has negative values; expected 0 … S−1")
    on_axis = np.flatnonzero(g.r == 0)
    if len(on_axis):
        raise ValueError(
            f"{where}: {len(on_axis)} hits at r = 0 (first: hit {on_axis[0]}); expected hits "
            "on cylindrical layers"
        )
    true_src, _ = _true_pairs(hits, where)
    n_true = np.bincount(event[true_src], minlength=hits.n_events)
    srcs, dsts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if len(hits):
        for src, dst in _candidates(hits, g, cuts, chunk):
            ok = cuts.passes(_features(g, src, dst))
            srcs.append(src[ok])
            dsts.append(dst[ok])
    src, dst = np.concatenate(srcs), np.concatenate(dsts)
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    y = ((track[src] == track[dst]) & (track[src] >= 0)).astype(np.int8)
    return Graph(src, dst, event[src], y, n_true, station.copy(), cuts)


def graph_counts(graph: Graph, n_events: int | None = None) -> dict[str, np.ndarray]:
    """Per-event edge counts, for efficiencies with bootstrap intervals.

    Args:
        graph: the graph.
        n_events: the number of events, if given checked against ``graph.n_events``.

    Returns:
        ``(n_events,)`` int64 arrays: ``true_kept`` (true edges in the graph), ``true_all``
        (all true segments, kept or not) and ``kept`` (edges in the graph).
    """
    n = graph.n_events
    if n_events is not None and n_events != n:
        raise ValueError(f"graph_counts: n_events={n_events}, but the graph has {n} events")
    c = evaluate.edge_counts(
        graph.y == 1, np.ones(len(graph.y), bool), graph.event, n, graph.n_true_segments
    )
    return {"true_kept": c["true_kept"], "true_all": c["true"], "kept": c["kept"]}


def graph_rates(graph: Graph) -> dict[str, float]:
    """Edge efficiency ``kept true / all true`` and purity ``kept true / kept`` of the graph
    (NaN where the denominator is 0), with the three totals."""
    c = {k: int(v.sum()) for k, v in graph_counts(graph).items()}
    r = evaluate.edge_rates(graph.y == 1, np.ones(len(graph.y), bool), c["true_all"])
    return {"efficiency": r["efficiency"], "purity": r["purity"], **c}


# --- PyG ----------------------------------------------------------------------------------


def to_pyg(
    graph: Graph,
    hits: Hits,
    node_features: np.ndarray,
    edge_scale: Sequence[float] = EDGE_SCALE,
) -> list[Data]:
    """One PyTorch Geometric graph per event (events without hits or edges included).

    Each :class:`~torch_geometric.data.Data` has ``x`` = ``node_features`` of the event's hits
    (float32 ``(N, F)``, in table order), ``edge_index`` ``(2, E)`` int64 local node indices
    (source = inner hit), ``edge_attr`` ``(E, 4)`` float32 = (dr, dφ, dz, ΔR) divided by
    ``edge_scale`` (:data:`EDGE_SCALE`: mm / 100 mm, rad / 0.1 rad), ``y`` ``(E,)`` float32
    truth, ``hit_id`` ``(N,)`` and ``edge_id`` ``(E,)`` int64: the nodes' rows in ``hits``
    and the edges' rows in ``graph`` (not shifted when batched), so that
    ``scores[batch.edge_id] = sigmoid(logits)`` maps a batch's predictions back.

    Args:
        graph: the graph built on ``hits``.
        hits: the hit table.
        node_features: ``(n_hits, F)`` features of every hit (e.g. normalised r, φ, z).
        edge_scale: the four divisors of the edge features.

    Raises:
        ValueError: features of the wrong shape or non-finite, a graph of another table.
    """
    where = "to_pyg"
    _check_hits(hits, where)
    feats = np.asarray(node_features)
    if feats.ndim != 2 or len(feats) != len(hits):
        raise ValueError(
            f"{where}: node_features of shape {feats.shape}, expected ({len(hits)}, F)"
        )
    if not np.isfinite(feats).all():
        raise ValueError(f"{where}: node_features has non-finite values")
    if graph.n_hits != len(hits) or graph.n_events != hits.n_events:
        raise ValueError(
            f"{where}: the graph was built on {graph.n_hits} hits in {graph.n_events} events, "
            f"the table has {len(hits)} hits in {hits.n_events}"
        )
    scale = np.asarray(edge_scale, np.float64)
    if scale.shape != (4,) or not (np.isfinite(scale) & (scale > 0)).all():
        raise ValueError(f"{where}: edge_scale={list(edge_scale)}, expected 4 numbers > 0")
    event = hits["event"]
    if len(graph) and (
        (event[graph.src] != graph.event).any() or (event[graph.dst] != graph.event).any()
    ):
        raise ValueError(f"{where}: the graph's edges do not match the events of these hits")
    f = segment_features(hits, graph.src, graph.dst)
    attr = np.stack([f[name] for name in EDGE_FEATURES], 1) / scale
    bad = np.flatnonzero(~np.isfinite(attr).all(1))
    if len(bad):
        raise ValueError(f"{where}: edge {bad[0]} has non-finite features (hits at equal r?)")
    hit_off = hits.offsets
    edge_off = np.concatenate([[0], np.cumsum(np.bincount(graph.event, minlength=hits.n_events))])
    x = torch.from_numpy(feats.astype(np.float32))
    edge_index = torch.from_numpy(np.stack([graph.src, graph.dst]) - hit_off[graph.event])
    edge_attr = torch.from_numpy(attr.astype(np.float32))
    y = torch.from_numpy(graph.y.astype(np.float32))
    hit_id = torch.arange(len(hits), dtype=torch.int64)
    edge_id = torch.arange(len(graph), dtype=torch.int64)
    out = []
    for e in range(hits.n_events):  # one object per event: the list is the output
        h = slice(int(hit_off[e]), int(hit_off[e + 1]))
        s = slice(int(edge_off[e]), int(edge_off[e + 1]))
        out.append(
            Data(  # copies, not views: a saved or pickled graph holds its own event only
                x=x[h].clone(),
                edge_index=edge_index[:, s].clone(),
                edge_attr=edge_attr[s].clone(),
                y=y[s].clone(),
                hit_id=hit_id[h].clone(),
                edge_id=edge_id[s].clone(),
                num_nodes=h.stop - h.start,
            )
        )
    return out


# --- track building -----------------------------------------------------------------------


def _best_of_group(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``(K,)`` bool: the highest-scoring entry of each group (ties: the first entry)."""
    order = np.lexsort((np.arange(len(group)), -score, group))
    first = np.ones(len(order), bool)
    first[1:] = group[order][1:] != group[order][:-1]
    best = np.zeros(len(group), bool)
    best[order[first]] = True
    return best


def tracks_from_edges(
    graph: Graph,
    scores: np.ndarray,
    threshold: float = 0.5,
    n_hits: int | None = None,
    *,
    min_hits: int = 2,
) -> Tracks:
    """Tracks from the edge scores of a classified graph.

    1. Edges with ``score > threshold`` are kept.
    2. To avoid branching, a kept edge survives only when it is the best-scoring kept
       outgoing edge of its source AND the best-scoring kept incoming edge of its target
       (mutual best; ties go to the edge listed first). Every hit then has at most one edge in
       and one out, and since edges run from station k to k + 1 the survivors form chains.
    3. The connected components of the surviving edges (one sparse graph of all events, block
       diagonal by event) are the tracks, each with its hits ordered by station; components
       of fewer than ``min_hits`` hits (isolated hits included) are dropped.

    A wrong edge that outscores both true edges it competes with still joins two track pieces,
    but it removes those true edges, so two particles are never merged into one component.

    Args:
        graph: the graph.
        scores: ``(E,)`` edge probabilities in [0, 1].
        threshold: edge threshold in [0, 1] (chosen on validation events).
        n_hits: hits of the table, if given checked against ``graph.n_hits``.
        min_hits: smallest track kept, ≥ 1.

    Returns:
        :class:`Tracks` (indices into the hit table), ordered by their first hit.

    Raises:
        ValueError: scores of the wrong length or outside [0, 1], threshold outside [0, 1],
            ``min_hits`` < 1, ``n_hits`` different from the graph's.
    """
    where = "tracks_from_edges"
    if not 0 <= _number(threshold) <= 1:
        raise ValueError(f"{where}: threshold={threshold!r}, expected a number in [0, 1]")
    if isinstance(min_hits, bool) or not isinstance(min_hits, int | np.integer) or min_hits < 1:
        raise ValueError(f"{where}: min_hits={min_hits!r}, expected an integer ≥ 1")
    n = graph.n_hits
    if n_hits is not None and n_hits != n:
        raise ValueError(f"{where}: n_hits={n_hits}, but the graph was built on {n} hits")
    s = np.asarray(scores, np.float64)
    if s.shape != (len(graph),):
        raise ValueError(
            f"{where}: scores of shape {s.shape}, expected ({len(graph)},), one per edge"
        )
    if not ((s >= 0) & (s <= 1)).all():  # NaN fails too
        raise ValueError(f"{where}: scores outside [0, 1] (or NaN); expected probabilities")
    kept = np.flatnonzero(s > threshold)
    src, dst, sk = graph.src[kept], graph.dst[kept], s[kept]
    mutual = _best_of_group(src, sk) & _best_of_group(dst, sk)
    src, dst = src[mutual], dst[mutual]
    adjacency = sparse.coo_array((np.ones(len(src), np.int8), (src, dst)), shape=(n, n)).tocsr()
    _, labels = connected_components(adjacency, directed=False)
    size = np.bincount(labels)
    hit = np.flatnonzero(size[labels] >= min_hits)
    comp = labels[hit]
    # Tracks in the order of their first hit, each with its hits by station.
    kept_comp, first = np.unique(comp, return_index=True)  # hit ascends: first = lowest hit
    rank = np.zeros(len(size), np.int64)
    rank[kept_comp[np.argsort(hit[first], kind="stable")]] = np.arange(len(kept_comp))
    order = hit[np.lexsort((hit, graph.station[hit], rank[comp]))]
    lengths = np.bincount(rank[comp], minlength=len(kept_comp))
    return Tracks(np.concatenate([[0], np.cumsum(lengths)]), order)
