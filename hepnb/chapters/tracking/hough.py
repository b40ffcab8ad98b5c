"""The classical baseline of the tracking chapter: a Hough-transform track finder.

A charged particle from the beam line moves on a helix about the field axis (B along +z). In
the transverse plane its path is a circle through the origin; a hit at radius r and azimuth φ
lies on the circle of signed curvature κ and initial direction φ0 when

    φ0 = φ + asin(κ r / 2),                                          (1)

with the **sign convention** used throughout this module:

    κ = q · c · B / pT   [1/mm],   c = :data:`C_LIGHT` · 10⁻³ GeV / (T · mm),

q the charge (e), B the field along +z (T, negative for a field along −z) and pT in GeV.
κ > 0 is a track that turns **clockwise** seen from +z (φ decreasing along the path): a
positive particle in a field along +z (the Lorentz force q v × B points to the right of its
direction), so for B > 0 the sign of κ is the charge. The charge of a found track is
sign(κ · B) and its pT = c |B| / |κ|.

The Hough transform [Hough] turns every hit into the curve (1) in the (κ, φ0) plane and looks
for the places where the curves of many hits cross — the particles' parameters. As in the
CMS L1 track-trigger Hough transform [CMS-HT] the (κ, φ0) plane is an array of cells and each
hit fills, in each curvature bin, **every φ0 bin its curve crosses** within that bin (plus
``vote_width`` bins each side, absorbing hit smearing, multiple scattering and a transverse
vertex a fraction of a mm off the beam line); a cell counts the *distinct stations* that
voted for it. See [RMP] for the transform among the classical track finders.

:func:`find_tracks` runs on many events at once, all vectorised over events and hits (the loops
are over curvature bins, station words, fine bins, fit iterations and cleaning rounds, and
chunks of events and blocks of candidates that bound the memory):

1. **Transform.** The accumulator of shape ``(events, n_kappa, n_phi)``, filled per curvature
   bin with one flat index (event, φ0 bin) per vote; distinct stations are counted by OR-ing
   a bit per station into each cell (``np.bitwise_or.at``) and counting the bits. A second
   count leaves out the ``vote_width`` margins ("core" votes). Candidates are the cells with
   ≥ ``min_stations`` stations that are local maxima of (stations, core stations) in their
   3 × 3 neighbourhood (``scipy.ndimage.maximum_filter``, wrapping round in φ0); the core
   count shrinks the plateau of equal cells a track leaves, whose cells all stay candidates.
2. **Hits of a candidate.** The hits that voted for its cell are filled into a finer
   transform (4 × 4 fine bins per cell, over the cell widened by half a curvature bin and
   ``vote_width`` + ½ φ0 bins) whose fullest fine cell starts the fit. Per station the voter
   closest in φ to the circle is kept, and (φ0, κ) fitted by linearised least squares
   (weights r²: a constant rφ resolution), twice. Outliers are dropped one per candidate and
   round while one has a *deleted* residual (its distance from the circle fitted to the other
   hits, |e| / (1 − h), h its leverage) above ``rphi_window`` (mm): the deleted residual finds
   a wrong hit at the end of the lever arm, which pulls the fit towards itself.
3. **r–z consistency.** A straight line z = z0 + cot θ · s, s = 2 asin(κ r / 2) / κ the
   transverse arc length from the beam line, is fitted by grouped least squares, and hits are
   dropped the same way while one's residual exceeds ``z_window`` (mm). The circle is then
   refitted to the hits left and takes back, per station, the closest voter within both
   windows (a wrong pair of outer hits can pull the first circle onto itself; the z line
   finds it), and the line is fitted again. Candidates left with fewer than ``min_stations``
   stations are dropped.
4. **Duplicates.** Candidates are ranked by (hits ↓, peak height ↓, rφ residual rms ↑, cell
   order). A candidate sharing more than half of its hits with a *kept* candidate of higher
   rank is dropped — the greedy rule of going down the ranking, computed in rounds with numpy:
   each round drops the undecided candidates that conflict with a kept one and keeps those
   whose higher-ranked conflicts are all dropped (the highest-ranked undecided candidate is
   always decided, so the rounds end). Kept tracks may still share up to half their hits.

The finder assumes tracks from near the beam line, on their outgoing half turn: a looper's
returning hits (r decreasing) and secondaries far from the beam line are not found.

References:

* [Hough] P. V. C. Hough, "Machine analysis of bubble chamber pictures", Proc. Int. Conf. on
  High-Energy Accelerators and Instrumentation, CERN (1959) 554; US patent 3069654 (1962).
* [RMP] A. Strandlie, R. Frühwirth, "Track and vertex reconstruction: From classical to
  adaptive methods", Rev. Mod. Phys. 82 (2010) 1419.
* [CMS-HT] D. Cieri et al., "An FPGA-based track finder for the L1 trigger of the CMS
  experiment at the HL-LHC", PoS(TWEPP-17)131, doi:10.22323/1.313.0131; CMS Collaboration,
  "The Phase-2 Upgrade of the CMS Tracker", CERN-LHCC-2017-009 (CMS-TDR-014).
* [PDG] R. L. Workman et al. (Particle Data Group), PTEP 2022 (2022) 083C01, "Passage of
  particles through matter" / "Particle detectors at accelerators": pT = 0.3 B R (GeV, T, m).
"""

from __future__ import annotations

import itertools
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from hepnb.chapters.tracking.hits import Hits, Tracks
from hepnb.chapters.tracking.schema import C_LIGHT

__all__ = [
    "C_LIGHT",
    "HoughParams",
    "HoughTracks",
    "accumulator",
    "bin_edges",
    "curvature",
    "find_tracks",
    "hough_tracks",
    "tune",
]

#: κ [1/mm] = _KAPPA_UNIT · q · B [T] / pT [GeV].
_KAPPA_UNIT = C_LIGHT * 1e-3
#: Accumulator cells of one chunk of events (bounds the memory to ≈ 12 bytes per cell).
_MAX_CELLS = 1 << 22
#: Fit-and-choose iterations of step 2.
_FIT_ITERATIONS = 2
#: Fine bins per coarse curvature and φ0 bin in the refinement of step 2.
_FINE_KAPPA, _FINE_PHI = 4, 4
#: Voters of a block of candidates fitted together (bounds the memory of steps 2 and 3).
_BLOCK_VOTERS = 1 << 18
#: Largest accumulator :func:`accumulator` returns (cells).
_MAX_RETURNED_CELLS = 1 << 27


@dataclass(frozen=True)
class HoughParams:
    """Settings of the Hough transform (see the module docstring).

    Attributes:
        n_phi: φ0 bins over 2π (rad).
        n_kappa: curvature bins spanning κ ∈ [−κ_max, κ_max], κ_max = c |B| / ``pt_min``.
        pt_min: smallest pT searched for (GeV).
        min_stations: distinct stations a track needs (≥ 2).
        z_window: largest |z residual| (mm) from the candidate's r–z line; ``inf``: no r–z check.
        rphi_window: largest transverse distance (mm) of a hit from the circle fitted to the
            candidate's other hits (its deleted rφ residual); ``inf``: no rφ check.
        vote_width: extra φ0 bins each hit votes for on each side of those its curve crosses.
    """

    n_phi: int = 256
    n_kappa: int = 16
    pt_min: float = 0.2
    min_stations: int = 3
    z_window: float = 20.0
    rphi_window: float = 2.0
    vote_width: int = 1

    def __post_init__(self) -> None:
        for name in ("n_phi", "n_kappa", "min_stations", "vote_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"HoughParams.{name}: expected an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("pt_min", "z_window", "rphi_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"HoughParams.{name}: expected a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.n_phi < 1:
            raise ValueError(f"HoughParams.n_phi: expected ≥ 1 φ0 bin, got {self.n_phi}")
        if self.n_kappa < 1:
            raise ValueError(f"HoughParams.n_kappa: expected ≥ 1 curvature bin, got {self.n_kappa}")
        if not 0 < self.pt_min < math.inf:
            raise ValueError(f"HoughParams.pt_min: expected a finite pT > 0 GeV, got {self.pt_min}")
        if self.min_stations < 2:
            raise ValueError(
                f"HoughParams.min_stations: expected ≥ 2 stations, got {self.min_stations}"
            )
        if not self.z_window > 0:
            raise ValueError(
                f"HoughParams.z_window: expected a window > 0 mm (inf: none), got {self.z_window}"
            )
        if not self.rphi_window > 0:
            raise ValueError(
                f"HoughParams.rphi_window: expected a window > 0 mm (inf: none), got "
                f"{self.rphi_window}"
            )
        if self.vote_width < 0 or 2 * self.vote_width + 1 > self.n_phi:
            raise ValueError(
                f"HoughParams.vote_width: expected 0 ≤ vote_width ≤ (n_phi − 1) / 2 = "
                f"{(self.n_phi - 1) // 2}, got {self.vote_width}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict (the windows may be ``inf``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> HoughParams:
        """Parameters from a mapping (e.g. :meth:`to_dict` read back); unknown keys are errors,
        missing ones take the defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"HoughParams: unknown parameters {unknown}; known: {sorted(known)}")
        return cls(**dict(values))


@dataclass(frozen=True)
class HoughTracks:
    """Found tracks and their fitted helix parameters, one entry per track.

    Attributes:
        tracks: the tracks' hits (each ordered by station).
        event: ``(T,)`` event of each track.
        kappa: ``(T,)`` signed curvature κ (1/mm; > 0 turns clockwise seen from +z).
        phi0: ``(T,)`` direction at the beam line (rad, in [−π, π)).
        pt: ``(T,)`` transverse momentum (GeV; inf for κ = 0).
        charge: ``(T,)`` charge sign(κ · B) (e).
        z0: ``(T,)`` z at the beam line (mm).
        cot_theta: ``(T,)`` dz/ds, s the transverse arc length.
        peak: ``(T,)`` distinct stations that voted for the track's accumulator cell.
        rms_rphi: ``(T,)`` rms transverse residual of the hits from the fitted circle (mm).
    """

    tracks: Tracks
    event: np.ndarray
    kappa: np.ndarray
    phi0: np.ndarray
    pt: np.ndarray
    charge: np.ndarray
    z0: np.ndarray
    cot_theta: np.ndarray
    peak: np.ndarray
    rms_rphi: np.ndarray

    def __len__(self) -> int:
        return len(self.tracks)


def curvature(pt: np.ndarray, charge: np.ndarray, b_field: float) -> np.ndarray:
    """Signed curvature κ = q c B / pT (1/mm) of particles of ``pt`` (GeV) and ``charge`` (e)
    in a field ``b_field`` (T along +z): > 0 for a track turning clockwise seen from +z."""
    pt = np.asarray(pt, np.float64)
    return _KAPPA_UNIT * np.asarray(charge, np.float64) * float(b_field) / pt


def bin_edges(b_field: float, params: HoughParams) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges of the accumulator.

    Returns:
        ``(kappa (n_kappa + 1,) in 1/mm, phi0 (n_phi + 1,) in rad from −π to π)``.
    """
    b = _check_field(b_field)
    kmax = _KAPPA_UNIT * abs(b) / params.pt_min
    return (
        np.linspace(-kmax, kmax, params.n_kappa + 1),
        np.linspace(-np.pi, np.pi, params.n_phi + 1),
    )


def accumulator(hits: Hits, radii: np.ndarray, b_field: float, params: HoughParams) -> np.ndarray:
    """The Hough accumulator of every event: distinct stations voting for each cell.

    Meant for displays (select a few events first with :meth:`Hits.select_events`).

    Returns:
        ``(n_events, n_kappa, n_phi)`` counts; axes binned by :func:`bin_edges`.
    """
    radii, b = _check_inputs(hits, radii, b_field, params)
    cells = hits.n_events * params.n_kappa * params.n_phi
    if cells > _MAX_RETURNED_CELLS:
        raise ValueError(
            f"accumulator: {hits.n_events} events × {params.n_kappa} × {params.n_phi} cells is "
            f"too large to return; select fewer events (Hits.select_events)"
        )
    kedges, _ = bin_edges(b, params)
    r, phi = _polar(hits)
    return _accumulate(
        r, phi, hits["station"], hits["event"], hits.n_events, kedges, params, len(radii)
    )[0]


def find_tracks(hits: Hits, radii: np.ndarray, b_field: float, params: HoughParams) -> Tracks:
    """Tracks of every event of ``hits`` found by the Hough transform (module docstring).

    Args:
        hits: hits of many events (x, y, z in mm; ``station`` 0 = innermost).
        radii: ``(S,)`` station radii (mm), increasing; S is the number of stations.
        b_field: field along +z (T; negative: along −z).
        params: the transform's settings.

    Returns:
        The tracks, ordered by event, each one's hits ordered from the innermost station out.
    """
    return hough_tracks(hits, radii, b_field, params).tracks


def hough_tracks(hits: Hits, radii: np.ndarray, b_field: float, params: HoughParams) -> HoughTracks:
    """As :func:`find_tracks`, with each track's fitted helix parameters."""
    radii, b = _check_inputs(hits, radii, b_field, params)
    n_st = len(radii)
    kedges, _ = bin_edges(b, params)
    r_all, phi_all = _polar(hits)
    z_all = hits["z"].astype(np.float64)
    st_all, ev_all = hits["station"], hits["event"]
    offsets = hits.offsets
    per_chunk = max(1, _MAX_CELLS // (params.n_kappa * params.n_phi))
    parts: list[dict[str, np.ndarray]] = []
    for e0 in range(0, hits.n_events, per_chunk):
        e1 = min(e0 + per_chunk, hits.n_events)
        h0, h1 = int(offsets[e0]), int(offsets[e1])
        if h1 - h0 < params.min_stations:
            continue
        sl = slice(h0, h1)
        found = _find_chunk(
            r_all[sl],
            phi_all[sl],
            z_all[sl],
            st_all[sl],
            ev_all[sl] - e0,
            e1 - e0,
            kedges,
            params,
            n_st,
        )
        found["event"] += e0
        found["hits"] += h0
        parts.append(found)
    return _assemble(parts, b)


def tune(
    hits_val: Hits,
    radii: np.ndarray,
    b_field: float,
    grid: Mapping[str, Sequence],
    score: Callable[[Tracks], float],
    base: HoughParams | None = None,
) -> tuple[HoughParams, pd.DataFrame]:
    """Grid search of the Hough parameters on validation events.

    Args:
        hits_val: validation events (never the test events).
        radii, b_field: as in :func:`find_tracks`.
        grid: values to try per :class:`HoughParams` field, e.g. ``{"n_phi": [128, 256]}``;
            every combination is run, the other fields come from ``base``.
        score: figure of merit of the tracks found on ``hits_val``, higher is better (e.g.
            efficiency − fake rate); must be finite.
        base: parameters not in ``grid`` (default :class:`HoughParams` ()).

    Returns:
        ``(best parameters, table)``: the table has one row per combination in grid order,
        with every parameter, ``score``, ``n_tracks`` and ``seconds`` (wall time of the
        finder); the best is the first row of highest score.
    """
    base = HoughParams() if base is None else base
    if not isinstance(base, HoughParams):
        raise TypeError(f"tune: base must be HoughParams, got {type(base).__name__}")
    known = {f.name for f in fields(HoughParams)}
    unknown = sorted(set(grid) - known)
    if unknown:
        raise ValueError(f"tune: grid has unknown parameters {unknown}; known: {sorted(known)}")
    names = list(grid)
    values = []
    for name in names:
        v = grid[name]
        if isinstance(v, str | bytes) or not isinstance(v, Sequence | np.ndarray) or not len(v):
            raise ValueError(f"tune: grid[{name!r}] must be a non-empty sequence, got {v!r}")
        values.append(np.asarray(v).tolist() if isinstance(v, np.ndarray) else list(v))
    rows, tried = [], []
    for combo in itertools.product(*values):
        point = dict(zip(names, combo, strict=True))
        try:
            params = replace(base, **point)
        except ValueError as err:
            raise ValueError(f"tune: grid point {point}: {err}") from None
        start = time.perf_counter()
        tracks = find_tracks(hits_val, radii, b_field, params)
        seconds = time.perf_counter() - start
        value = float(score(tracks))
        if not math.isfinite(value):
            raise ValueError(f"tune: score of grid point {point} is {value}, expected finite")
        tried.append(params)
        rows.append(
            {**params.to_dict(), "score": value, "n_tracks": len(tracks), "seconds": seconds}
        )
    table = pd.DataFrame(rows)
    return tried[int(np.argmax(table["score"].to_numpy()))], table


# --- input checks ------------------------------------------------------------------------------


def _check_field(b_field: float) -> float:
    try:
        b = float(b_field)
    except (TypeError, ValueError):
        raise ValueError(f"b_field: expected a number (T), got {b_field!r}") from None
    if not math.isfinite(b) or b == 0:
        raise ValueError(
            f"b_field: expected a finite, non-zero field (T), got {b_field!r}; without a field "
            f"tracks are straight and the curvature axis is meaningless"
        )
    return b


def _check_inputs(
    hits: Hits, radii: np.ndarray, b_field: float, params: HoughParams
) -> tuple[np.ndarray, float]:
    if not isinstance(params, HoughParams):
        raise TypeError(f"params must be HoughParams, got {type(params).__name__}")
    if not isinstance(hits, Hits):
        raise TypeError(f"hits must be a Hits table, got {type(hits).__name__}")
    radii = np.asarray(radii, np.float64)
    if radii.ndim != 1 or not len(radii):
        raise ValueError(f"radii: expected a 1-d array of station radii (mm), shape {radii.shape}")
    if not np.isfinite(radii).all() or (radii <= 0).any() or (np.diff(radii) <= 0).any():
        raise ValueError(f"radii: expected finite radii > 0 mm, increasing, got {radii.tolist()}")
    b = _check_field(b_field)
    if params.min_stations > len(radii):
        raise ValueError(
            f"HoughParams.min_stations = {params.min_stations} exceeds the {len(radii)} stations "
            f"of radii"
        )
    st = hits["station"]
    if len(st) and (st.min() < 0 or st.max() >= len(radii)):
        raise ValueError(
            f"hits column 'station': values {int(st.min())} … {int(st.max())} outside "
            f"0 … {len(radii) - 1} (radii has {len(radii)} stations)"
        )
    for name in ("x", "y", "z"):
        bad = ~np.isfinite(hits[name].astype(np.float64))
        if bad.any():
            raise ValueError(f"hits column {name!r}: {int(bad.sum())} non-finite values")
    at_axis = np.hypot(hits["x"], hits["y"]) == 0
    if at_axis.any():
        raise ValueError(
            f"hits columns 'x', 'y': {int(at_axis.sum())} hits on the beam axis (r = 0), where φ "
            f"is undefined"
        )
    return radii, b


def _popcount(mask: np.ndarray) -> np.ndarray:
    """Set bits of each ``uint64`` (``np.bitwise_count`` from NumPy 2.0 on)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(mask)
    return _popcount_table(mask)


def _popcount_table(mask: np.ndarray) -> np.ndarray:
    """Set bits of each ``uint64`` by a byte table (NumPy < 2.0)."""
    table = np.array([i.bit_count() for i in range(256)], np.uint8)
    flat = np.ascontiguousarray(mask, np.uint64)
    return table[flat.view(np.uint8).reshape(-1, 8)].sum(axis=1, dtype=np.uint8).reshape(mask.shape)


def _polar(hits: Hits) -> tuple[np.ndarray, np.ndarray]:
    x, y = hits["x"].astype(np.float64), hits["y"].astype(np.float64)
    return np.hypot(x, y), np.arctan2(y, x)


def _wrap(a: np.ndarray) -> np.ndarray:
    """Angles to [−π, π)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


# --- step 1: the transform -----------------------------------------------------------------------


def _votes(
    r: np.ndarray, phi: np.ndarray, k_lo: float, k_hi: float, params: HoughParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The φ0 bins the hits vote for in the curvature bin [k_lo, k_hi].

    Returns:
        ``(hit (V,), phi0 bin (V,), core (V,))``: V votes, a hit voting each bin at most
        once; ``core`` marks the bins the hit's curve crosses (not the ``vote_width`` margins).
    """
    a_lo, a_hi = k_lo * r / 2, k_hi * r / 2
    reach = np.flatnonzero((a_lo <= 1) & (a_hi >= -1))  # the circle reaches the hit's radius
    if not len(reach):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    step = 2 * np.pi / params.n_phi
    f_lo = phi[reach] + np.arcsin(np.clip(a_lo[reach], -1, 1)) + np.pi
    f_hi = phi[reach] + np.arcsin(np.clip(a_hi[reach], -1, 1)) + np.pi
    b_lo = np.floor(f_lo / step).astype(np.int64) - params.vote_width
    b_hi = np.floor(f_hi / step).astype(np.int64) + params.vote_width
    n = np.minimum(b_hi - b_lo + 1, params.n_phi)
    first = np.cumsum(n) - n
    within = np.arange(int(n.sum())) - np.repeat(first, n)
    core = (within >= params.vote_width) & (within < np.repeat(n, n) - params.vote_width)
    return np.repeat(reach, n), (np.repeat(b_lo, n) + within) % params.n_phi, core


def _accumulate(
    r: np.ndarray,
    phi: np.ndarray,
    station: np.ndarray,
    event: np.ndarray,
    n_events: int,
    kedges: np.ndarray,
    params: HoughParams,
    n_stations: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct stations voting for each cell, with and without the ``vote_width`` margins.

    Returns:
        ``(all votes, core votes)``, each ``(n_events, n_kappa, n_phi)``.
    """
    dtype = np.uint8 if n_stations < 256 else np.uint16
    acc = np.zeros((n_events, params.n_kappa, params.n_phi), dtype)
    core = np.zeros_like(acc)
    cells = n_events * params.n_phi
    word = station // 64  # stations in groups of 64 bits
    bit = np.left_shift(np.uint64(1), (station % 64).astype(np.uint64))
    for k in range(params.n_kappa):
        hit, p, in_core = _votes(r, phi, kedges[k], kedges[k + 1], params)
        flat = event[hit] * params.n_phi + p
        for w in range(int(word.max(initial=-1)) + 1):
            for out, sel in ((acc, word[hit] == w), (core, (word[hit] == w) & in_core)):
                mask = np.zeros(cells, np.uint64)
                np.bitwise_or.at(mask, flat[sel], bit[hit[sel]])
                out[:, k, :] += _popcount(mask).reshape(n_events, params.n_phi).astype(dtype)
    return acc, core


# --- steps 2-4 on one chunk of events --------------------------------------------------------------


def _find_chunk(
    r: np.ndarray,
    phi: np.ndarray,
    z: np.ndarray,
    station: np.ndarray,
    event: np.ndarray,
    n_events: int,
    kedges: np.ndarray,
    params: HoughParams,
    n_stations: int,
) -> dict[str, np.ndarray]:
    """Tracks of a chunk of events (event and hit indices local to the chunk)."""
    acc, core = _accumulate(r, phi, station, event, n_events, kedges, params, n_stations)
    # candidates: the local maxima of (stations, core stations); all of a plateau of equal ones
    key = acc.astype(np.int32) * (n_stations + 1) + core
    top = ndimage.maximum_filter(key, size=(1, 3, 3), mode=("constant", "constant", "wrap"))
    peak = (acc >= params.min_stations) & (key == top)
    cells = np.flatnonzero(peak)
    if not len(cells):
        return _empty()
    c_ev, c_k, c_p = np.unravel_index(cells, acc.shape)
    height = acc.reshape(-1)[cells].astype(np.int64)
    n_cand = len(cells)
    del acc, core, key, top

    # voters of every candidate cell (the votes are made again, one curvature bin at a time)
    flat_peak = peak.reshape(-1)
    ent_c, ent_h = [], []
    for k in np.unique(c_k):
        hit, p, _ = _votes(r, phi, kedges[k], kedges[k + 1], params)
        flat = (event[hit] * params.n_kappa + k) * params.n_phi + p
        on = flat_peak[flat]
        ent_c.append(np.searchsorted(cells, flat[on]))
        ent_h.append(hit[on])
    cand = np.concatenate(ent_c)
    hit = np.concatenate(ent_h)
    order = np.lexsort((station[hit], cand))
    cand, hit = cand[order], hit[order]

    # steps 2 and 3, candidates in blocks of a bounded number of voters
    per_cand = np.bincount(cand, minlength=n_cand)
    first = np.cumsum(per_cand) - per_cand  # each candidate's first entry
    block = first // _BLOCK_VOTERS
    c_start = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    fitted = []
    for c0, c1 in zip(c_start, np.r_[c_start[1:], n_cand], strict=True):
        e0, e1 = first[c0], first[c1 - 1] + per_cand[c1 - 1]
        part = _fit_candidates(
            cand[e0:e1] - c0,
            hit[e0:e1],
            r,
            phi,
            z,
            station,
            c_k[c0:c1],
            c_p[c0:c1],
            kedges,
            params,
        )
        part["cand"] += c0
        fitted.append(part)
    per = {k: np.concatenate([f[k] for f in fitted]) for k in fitted[0]}
    cand, hit = per["cand"], per["hit"]
    phi0, kappa, z0, cot, rms = per["phi0"], per["kappa"], per["z0"], per["cot"], per["rms"]
    n_hits = np.bincount(cand, minlength=n_cand)
    good = n_hits >= params.min_stations  # one hit per station, so hits = stations

    # step 4: duplicates
    rank = np.empty(n_cand, np.int64)
    rank[np.lexsort((np.arange(n_cand), rms, -height, -n_hits))] = np.arange(n_cand)
    on = good[cand]
    kept = good & _resolve_duplicates(cand[on], hit[on], n_hits, rank)

    # the tracks, by event then rank, each one's hits by station
    tracks = np.flatnonzero(kept)
    tracks = tracks[np.lexsort((rank[tracks], c_ev[tracks]))]
    new = np.full(n_cand, -1)
    new[tracks] = np.arange(len(tracks))
    t = new[cand]
    on = t >= 0
    t, h = t[on], hit[on]
    order = np.lexsort((station[h], t))
    return {
        "lengths": np.bincount(t, minlength=len(tracks)),
        "hits": h[order],
        "event": c_ev[tracks].astype(np.int64),
        "kappa": kappa[tracks],
        "phi0": _wrap(phi0[tracks]),
        "z0": z0[tracks],
        "cot_theta": cot[tracks],
        "peak": height[tracks],
        "rms_rphi": rms[tracks],
    }


def _fit_candidates(
    cand: np.ndarray,
    hit: np.ndarray,
    r: np.ndarray,
    phi: np.ndarray,
    z: np.ndarray,
    station: np.ndarray,
    c_k: np.ndarray,
    c_p: np.ndarray,
    kedges: np.ndarray,
    params: HoughParams,
) -> dict[str, np.ndarray]:
    """Steps 2 and 3 (module docstring) for a block of candidates.

    Args:
        cand, hit: ``(N,)`` the (candidate, voter) entries, sorted by candidate then station.
        r, phi, z, station: per hit of the chunk.
        c_k, c_p: ``(C,)`` each candidate's cell.

    Returns:
        ``cand``, ``hit``: the hits kept (one per station at most); ``phi0``, ``kappa``,
        ``z0``, ``cot``, ``rms`` (rφ residual rms, mm): ``(C,)`` the fitted helices.
    """
    n_cand = len(c_k)
    # step 2: a fine transform in each cell, then per station the hit closest to the fitted circle
    rh, ph, sh, zh = r[hit], phi[hit], station[hit], z[hit]
    groups = _group_starts(cand, sh)  # (candidate, station) runs
    kappa, phi0, k_lo, k_hi = _refine(cand, rh, ph, sh, c_k, c_p, kedges, params)
    for _ in range(_FIT_ITERATIONS):
        keep = _closest_per_station(groups, _residual(rh, ph, phi0[cand], kappa[cand]))
        phi0, kappa = _fit_circle(cand[keep], rh[keep], ph[keep], phi0, kappa, n_cand)
        kappa = np.clip(kappa, k_lo, k_hi)
    keep = _closest_per_station(groups, _residual(rh, ph, phi0[cand], kappa[cand]))
    sel = np.flatnonzero(keep)
    active, phi0, kappa = _clean_rphi(
        cand[sel], rh[sel], ph[sel], phi0, kappa, (k_lo, k_hi), params.rphi_window
    )
    sel = sel[active]

    # step 3: r-z line, outliers dropped one per candidate and round
    s = _arc_length(rh[sel], kappa[cand[sel]])
    active, z0, cot = _fit_rz(cand[sel], s, zh[sel], n_cand, params.z_window)
    sel = sel[active]

    # the circle of the hits left takes back, per station, the closest voter within both windows
    # (a wrong pair of outer hits pulls the first circle towards itself; the z line drops it)
    for _ in range(_FIT_ITERATIONS):
        phi0, kappa = _fit_circle(cand[sel], rh[sel], ph[sel], phi0, kappa, n_cand)
        kappa = np.clip(kappa, k_lo, k_hi)
    d = np.abs(_residual(rh, ph, phi0[cand], kappa[cand]) * rh)
    ez = zh - z0[cand] - cot[cand] * _arc_length(rh, kappa[cand])
    fits = (d <= params.rphi_window) & (np.abs(ez) <= params.z_window)
    sel = np.flatnonzero(_closest_per_station(groups, np.where(fits, d, np.inf)) & fits)
    phi0, kappa = _fit_circle(cand[sel], rh[sel], ph[sel], phi0, kappa, n_cand)
    kappa = np.clip(kappa, k_lo, k_hi)
    s = _arc_length(rh[sel], kappa[cand[sel]])
    active, z0, cot = _fit_rz(cand[sel], s, zh[sel], n_cand, params.z_window)
    sel = sel[active]
    phi0, kappa = _fit_circle(cand[sel], rh[sel], ph[sel], phi0, kappa, n_cand)
    kappa = np.clip(kappa, k_lo, k_hi)
    cand, hit = cand[sel], hit[sel]
    n_hits = np.bincount(cand, minlength=n_cand)
    rho = _residual(r[hit], phi[hit], phi0[cand], kappa[cand]) * r[hit]
    rms = np.sqrt(np.bincount(cand, rho**2, n_cand) / np.maximum(n_hits, 1))

    return {
        "cand": cand,
        "hit": hit,
        "phi0": phi0,
        "kappa": kappa,
        "z0": z0,
        "cot": cot,
        "rms": rms,
    }


def _empty() -> dict[str, np.ndarray]:
    f, i = np.zeros(0, np.float64), np.zeros(0, np.int64)
    return {
        "lengths": i,
        "hits": i,
        "event": i,
        "kappa": f,
        "phi0": f,
        "z0": f,
        "cot_theta": f,
        "peak": i,
        "rms_rphi": f,
    }


def _assemble(parts: list[dict[str, np.ndarray]], b_field: float) -> HoughTracks:
    parts = parts or [_empty()]
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    kappa = cat["kappa"]
    with np.errstate(divide="ignore"):
        pt = _KAPPA_UNIT * abs(b_field) / np.abs(kappa)
    return HoughTracks(
        tracks=Tracks(np.concatenate([[0], np.cumsum(cat["lengths"])]), cat["hits"]),
        event=cat["event"],
        kappa=kappa,
        phi0=cat["phi0"],
        pt=pt,
        charge=np.sign(kappa * b_field).astype(np.int64),
        z0=cat["z0"],
        cot_theta=cat["cot_theta"],
        peak=cat["peak"],
        rms_rphi=cat["rms_rphi"],
    )


def _residual(r: np.ndarray, phi: np.ndarray, phi0: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """φ − φ_predicted (rad) of hits from the circles (φ0, κ) through the origin, eq. (1)."""
    return _wrap(phi - phi0 + np.arcsin(np.clip(kappa * r / 2, -1, 1)))


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """First entry of each run of equal ``keys`` (entries sorted by them)."""
    n = len(keys[0])
    change = np.zeros(n, bool)
    change[:1] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change)


def _first_min(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the first smallest value of each group (groups: runs beginning at ``starts``)."""
    if not len(values):
        return np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(values)])
    group = np.repeat(np.arange(len(starts)), sizes)
    at_min = np.flatnonzero(values == np.minimum.reduceat(values, starts)[group])
    return at_min[np.r_[True, group[at_min][1:] != group[at_min][:-1]]]


def _closest_per_station(starts: np.ndarray, resid: np.ndarray) -> np.ndarray:
    """Mask of the entry of smallest |resid| per (candidate, station) group."""
    keep = np.zeros(len(resid), bool)
    keep[_first_min(np.abs(resid), starts)] = True
    return keep


def _circle_sums(
    cand: np.ndarray,
    r: np.ndarray,
    phi: np.ndarray,
    phi0: np.ndarray,
    kappa: np.ndarray,
    n_cand: int,
) -> tuple[np.ndarray, ...]:
    """The linearised circle fit's per-hit terms and per-candidate sums.

    Model φ = φ0 − asin(κ r / 2) about the current (φ0, κ): residual y = φ − φ_pred, slope
    x = ∂φ_pred/∂κ, weight w = r² (a constant rφ resolution).

    Returns:
        ``(x, y, w, Σw, Σwx, Σwxx, Σwy, Σwxy, det)``: three ``(N,)``, six ``(C,)``.
    """
    a = np.clip(kappa[cand] * r / 2, -1 + 1e-12, 1 - 1e-12)
    y = _residual(r, phi, phi0[cand], kappa[cand])
    x = -(r / 2) / np.sqrt(1 - a**2)
    w = r**2
    sw, sx, sxx = (np.bincount(cand, v, n_cand) for v in (w, w * x, w * x * x))
    sy, sxy = np.bincount(cand, w * y, n_cand), np.bincount(cand, w * x * y, n_cand)
    return x, y, w, sw, sx, sxx, sy, sxy, sw * sxx - sx**2


def _fit_circle(
    cand: np.ndarray,
    r: np.ndarray,
    phi: np.ndarray,
    phi0: np.ndarray,
    kappa: np.ndarray,
    n_cand: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One Gauss–Newton step of the weighted least-squares (φ0, κ) fit of each candidate's
    hits (see :func:`_circle_sums`); a candidate whose hits do not fix κ keeps its κ."""
    _, _, _, sw, sx, sxx, sy, sxy, det = _circle_sums(cand, r, phi, phi0, kappa, n_cand)
    ok = (sw > 0) & (det > 1e-9 * np.maximum(sw * sxx, 1e-300))
    dk = np.where(ok, (sw * sxy - sx * sy) / np.where(ok, det, 1), 0.0)
    dp = np.where(sw > 0, (sy - sx * dk) / np.where(sw > 0, sw, 1), 0.0)
    return phi0 + dp, kappa + dk


def _arc_length(r: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Transverse arc length (mm) from the origin to radius r on a circle of curvature κ."""
    a = np.clip(kappa * r / 2, -1, 1)
    small = np.abs(a) < 1e-6
    ratio = np.where(small, 1 + a**2 / 6, np.arcsin(a) / np.where(small, 1, a))
    return r * ratio


def _fit_rz(
    cand: np.ndarray, s: np.ndarray, z: np.ndarray, n_cand: int, window: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares lines z = z0 + cot θ · s per candidate, dropping outliers.

    While a candidate has a hit of |residual| > ``window``, its hit of largest deleted
    residual e / (1 − h) (h: the hit's leverage) goes, and its line is refitted; each round
    handles only the candidates that lost a hit in the previous one.

    Args:
        cand: ``(N,)`` candidate of each hit, sorted.
        s, z: ``(N,)`` arc length and z of each hit (mm).
        window: largest |residual| kept (mm).

    Returns:
        ``(active (N,) hits kept, z0 (n_cand,), cot θ (n_cand,))``.
    """
    active = np.ones(len(cand), bool)
    z0, cot = np.zeros(n_cand), np.zeros(n_cand)
    live = np.ones(n_cand, bool)
    for _ in range(len(cand) + 1):  # each round drops a hit, or ends
        idx = np.flatnonzero(active & live[cand])
        c, si, zi = cand[idx], s[idx], z[idx]
        n = np.maximum(np.bincount(c, minlength=n_cand), 1)
        ss, sz = np.bincount(c, si, n_cand), np.bincount(c, zi, n_cand)
        mean_s = ss / n
        ds = si - mean_s[c]
        sxx, sxz = np.bincount(c, ds**2, n_cand), np.bincount(c, ds * zi, n_cand)
        flat = sxx <= 1e-9 * np.maximum(np.bincount(c, si**2, n_cand), 1e-300)
        cot = np.where(live, np.where(flat, 0.0, sxz / np.where(flat, 1, sxx)), cot)
        z0 = np.where(live, (sz - cot * ss) / n, z0)
        e = np.abs(zi - z0[c] - cot[c] * si)
        bad = e > window
        if not bad.any():
            break
        lever = 1 / n[c] + np.where(flat[c], 0.0, ds**2 / np.where(flat, 1, sxx)[c])
        drop = _worst(c, e / np.maximum(1 - lever, 1e-9), bad)
        active[idx[drop]] = False
        live = np.zeros(n_cand, bool)
        live[c[drop]] = True
    return active, z0, cot


def _worst(cand: np.ndarray, score: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Mask of the entry of largest ``score`` of each candidate that has a ``bad`` entry (one
    per candidate; ``cand`` sorted)."""
    has_bad = np.zeros(int(cand.max(initial=-1)) + 1, bool)
    has_bad[cand[bad]] = True
    score = np.where(has_bad[cand], score, -1.0)
    top = _first_min(-score, _group_starts(cand))
    out = np.zeros(len(cand), bool)
    out[top[score[top] >= 0]] = True
    return out


def _refine(
    cand: np.ndarray,
    r: np.ndarray,
    phi: np.ndarray,
    station: np.ndarray,
    c_k: np.ndarray,
    c_p: np.ndarray,
    kedges: np.ndarray,
    params: HoughParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A finer Hough transform of each candidate's voters about its cell.

    The box of a cell — its curvature bin widened by half a bin each side, its φ0 bin by
    ``vote_width`` + ½ bins each side — is divided into cells :data:`_FINE_KAPPA` times
    finer in κ and :data:`_FINE_PHI` times in φ0, filled like the coarse accumulator
    (distinct stations; one fine bin of width each side). The fullest fine cell (the one
    nearest the box centre among equals) starts the fit: far closer to the track than the
    coarse cell's centre when the bins are wide.

    Args:
        cand, r, phi, station: ``(N,)`` the (candidate, voter) entries, sorted by candidate.
        c_k, c_p: ``(C,)`` curvature and φ0 bin of each candidate.

    Returns:
        ``(kappa (C,), phi0 (C,), kappa_low (C,), kappa_high (C,))``: the start, and the box's
        curvature range the fit is held to.
    """
    kw = kedges[1] - kedges[0]
    step = 2 * np.pi / params.n_phi
    nk, npf = 2 * _FINE_KAPPA, _FINE_PHI * (2 * params.vote_width + 2)
    dk, dp = kw / _FINE_KAPPA, step / _FINE_PHI
    k_box = kedges[c_k] - kw / 2
    p_box = -np.pi + (c_p - params.vote_width - 0.5) * step
    n_cand = len(c_k)
    # φ0 - p_box of every entry at the nk + 1 fine curvature edges
    f = np.stack(
        [
            _wrap(phi + np.arcsin(np.clip((k_box[cand] + j * dk) * r / 2, -1, 1)) - p_box[cand])
            for j in range(nk + 1)
        ]
    )
    word = station // 64
    bit = np.left_shift(np.uint64(1), (station % 64).astype(np.uint64))
    counts = np.zeros(n_cand * nk * npf, np.uint16)
    for w in range(int(word.max(initial=-1)) + 1):
        mask = np.zeros(len(counts), np.uint64)
        for j in range(nk):
            b_lo = np.maximum(np.floor(f[j] / dp).astype(np.int64) - 1, 0)
            b_hi = np.minimum(np.floor(f[j + 1] / dp).astype(np.int64) + 1, npf - 1)
            n = np.where(word == w, np.maximum(b_hi - b_lo + 1, 0), 0)
            e = np.repeat(np.arange(len(cand)), n)
            b = b_lo[e] + np.arange(len(e)) - np.repeat(np.cumsum(n) - n, n)
            np.bitwise_or.at(mask, (cand[e] * nk + j) * npf + b, bit[e])
        counts += _popcount(mask)
        del mask
    # the fullest fine cell; among equals the one nearest the box centre
    jj, bb = np.divmod(np.arange(nk * npf), npf)
    centre = np.abs(jj - (nk - 1) / 2) / nk + np.abs(bb - (npf - 1) / 2) / npf
    nearness = (nk * npf - 1 - np.argsort(np.argsort(centre, kind="stable"))).astype(np.int32)
    key = counts.reshape(n_cand, nk * npf).astype(np.int32) * (nk * npf) + nearness
    best = np.argmax(key, axis=1)
    bj, bb = np.divmod(best, npf)
    return k_box + (bj + 0.5) * dk, p_box + (bb + 0.5) * dp, k_box, k_box + nk * dk


def _clean_rphi(
    cand: np.ndarray,
    r: np.ndarray,
    phi: np.ndarray,
    phi0: np.ndarray,
    kappa: np.ndarray,
    k_range: tuple[np.ndarray, np.ndarray],
    window: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit each candidate's circle, dropping outliers one per candidate and round.

    A hit is an outlier when its *deleted* transverse residual — |y| r / (1 − h), h its
    leverage in the weighted fit, i.e. its distance from the circle fitted to the other hits —
    exceeds ``window`` (mm); the worst goes first. The deleted residual finds a wrong hit on an
    outer station, which pulls the circle towards itself and hides in the plain residuals.
    With two hits or fewer nothing is judged.

    Returns:
        ``(active (N,), phi0 (C,), kappa (C,))``.
    """
    n_cand = len(phi0)
    active = np.ones(len(cand), bool)
    live = np.ones(n_cand, bool)
    for _ in range(len(cand) + 1):  # each round drops a hit, or ends
        idx = np.flatnonzero(active & live[cand])
        c, ri, pi = cand[idx], r[idx], phi[idx]
        new_phi0, new_kappa = _fit_circle(c, ri, pi, phi0, kappa, n_cand)
        phi0 = np.where(live, new_phi0, phi0)
        kappa = np.where(live, np.clip(new_kappa, *k_range), kappa)
        x, y, w, sw, sx, sxx, _, _, det = _circle_sums(c, ri, pi, phi0, kappa, n_cand)
        ok = (np.bincount(c, minlength=n_cand) > 2) & (det > 1e-9 * np.maximum(sw * sxx, 1e-300))
        lever = w * (sxx[c] - 2 * x * sx[c] + x**2 * sw[c]) / np.where(ok, det, 1)[c]
        d = np.where(ok[c], np.abs(y) * ri / np.maximum(1 - lever, 1e-9), 0.0)
        bad = d > window
        if not bad.any():
            break
        drop = _worst(c, d, bad)
        active[idx[drop]] = False
        live = np.zeros(n_cand, bool)
        live[c[drop]] = True
    return active, phi0, kappa


def _resolve_duplicates(
    cand: np.ndarray, hit: np.ndarray, n_hits: np.ndarray, rank: np.ndarray
) -> np.ndarray:
    """Which candidates survive the duplicate removal (step 4 of the module docstring).

    Args:
        cand, hit: ``(N,)`` the (candidate, hit) pairs; a candidate holds a hit at most once.
        n_hits: ``(C,)`` hits of each candidate.
        rank: ``(C,)`` rank of each candidate, 0 the best; all distinct.

    Returns:
        ``(C,)`` bool: kept. A candidate is dropped when it shares more than half of its hits
        with a kept candidate of better rank (greedy down the ranking, decided in rounds).
    """
    n_cand = len(n_hits)
    state = np.zeros(n_cand, np.int8)  # 0 undecided, 1 kept, 2 dropped
    order = np.argsort(hit, kind="stable")
    hs, cs = hit[order], cand[order]
    # all pairs of entries sharing a hit
    new_group = np.r_[True, hs[1:] != hs[:-1]] if len(hs) else np.zeros(0, bool)
    group_end = np.r_[np.flatnonzero(new_group)[1:], len(hs)]
    end = np.repeat(group_end, np.diff(np.r_[np.flatnonzero(new_group), len(hs)]))
    partners = end - np.arange(len(hs)) - 1
    first = np.repeat(np.arange(len(hs)), partners)
    second = first + 1 + np.arange(len(first)) - np.repeat(np.cumsum(partners) - partners, partners)
    a, b = cs[first], cs[second]
    worse = np.where(rank[a] > rank[b], a, b)
    better = np.where(rank[a] > rank[b], b, a)
    key = np.sort(worse * n_cand + better)
    if len(key):
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        shared = np.diff(np.r_[starts, len(key)])
        lo, hi = key[starts] // n_cand, key[starts] % n_cand
        conflict = 2 * shared > n_hits[lo]
        lo, hi = lo[conflict], hi[conflict]
    else:
        lo = hi = np.zeros(0, np.int64)
    while (state == 0).any():
        beaten = np.bincount(lo[state[hi] == 1], minlength=n_cand) > 0
        state[(state == 0) & beaten] = 2
        pending = np.bincount(lo[state[hi] == 0], minlength=n_cand) > 0
        state[(state == 0) & ~pending] = 1
    return state == 1
