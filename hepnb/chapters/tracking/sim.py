"""Simulator of charged tracks in a cylindrical tracker in a solenoid field (``hepnb generate
tracking``).

Everything is vectorised over all particles of all events at once; the only loop runs over the
crossing index (the first, second ... layer crossing of every particle). Units: mm, GeV, T, rad.
Geometries and constants come from :mod:`~hepnb.chapters.tracking.schema`.

Physics model:

* **Events.** Each event has a number of particles uniform in ``geometry.tracks`` and one
  production vertex, Gaussian around the origin with ``vertex_sigma`` (transverse,
  longitudinal).
* **Particles.** Azimuth φ uniform; polar angle flat in cos θ (``isotropic``: an e⁺e⁻ collider
  at rest) or flat in η, within |η| < ``eta_max``; p_T in ``pt_range``, flat or falling as
  p_T^−``pt_power``; charge ±1 with equal odds. A fraction ``curler_fraction`` has p_T in
  ``curler_pt`` instead, so low that its diameter 2R is below the outer radius: it loops and
  crosses the inner layers again and again ("spinning" tracks, several hits on a station).
  Tracks are pions; loopers are electrons (low-p_T loopers are mostly e± from photon
  conversions and δ rays — pions of a few tens of MeV range out in the first layers).
* **Propagation.** A helix in the uniform field along +z, of transverse radius
  R = p_T / (0.3 B) (:func:`~hepnb.chapters.tracking.schema.radius_of_curvature`): a positive
  particle turns clockwise seen from +z. From a point and a transverse direction the next
  crossing of *any* layer cylinder is the smallest positive turning angle t solving
  |p(t)| = r_layer, a circle–circle intersection in closed form, vectorised over particles ×
  layers; z advances by R · t · p_z / p_T. Energy loss is neglected (|p| is conserved).
* **At each crossing** with |z| ≤ the layer's half-length: a hit is recorded (station = layer
  index) if the layer's ``efficiency`` passes, and the particle scatters in the layer's
  material, x / X₀ = ``x0`` / cos(incidence angle), with two independent Gaussian kicks of width
  θ₀ (:func:`highland`) in the two planes containing its direction. A particle stops when it
  crosses the outermost layer outwards, when |z| exceeds every half-length, when its circle
  meets no layer, or after ``geometry.crossings`` crossings.
* **Read-out.** Each recorded hit is smeared by ``sigma_rphi`` along the layer's circumference
  and ``sigma_z`` along z (it stays on the cylinder). Noise hits: Poisson(``noise``) per layer
  per event, uniform in φ and in z over the layer's length, read out the same way.
  Coordinates and momenta are rounded to float32, the precision the ROOT files store.

[PDG] S. Navas et al. (Particle Data Group), Phys. Rev. D 110 (2024) 030001, "Passage of
particles through matter", eq. 34.16 (the Highland formula with the Lynch–Dahl log term).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepnb import io
from hepnb.chapters.tracking import schema
from hepnb.chapters.tracking.hits import Hits

__all__ = ["add_args", "highland", "run", "simulate", "write_root", "write_sample", "write_text"]

_TWO_PI = 2.0 * np.pi
#: Smallest turning angle taken for a new crossing [rad]: the root at the layer a particle
#: sits on (t = 0, up to rounding) is not a new crossing.
_T_EPS = 1e-9
#: Smallest cosine of the incidence angle used in x / X₀ = x0 / cos (grazing crossings).
_MIN_COS = 0.02
#: Largest projected scattering angle drawn [rad] (keeps tan finite).
_MAX_KICK = 1.5
#: Particles per block of the crossing search (its arrays are particles × layers).
_BLOCK = 1 << 16
#: Text-file number format: 9 significant digits round-trip float32 exactly.
_TEXT_FLOAT = "%.9g"


def highland(p: np.ndarray, mass: np.ndarray | float, x_over_x0: np.ndarray) -> np.ndarray:
    """Width θ₀ [rad] of the projected multiple-scattering angle of a unit-charge particle.

    θ₀ = 13.6 MeV / (β c p) · √(x/X₀) · (1 + 0.038 ln(x / (X₀ β²))) [PDG eq. 34.16]; for
    β → 1 this is the classic 1 + 0.038 ln(x/X₀). Accurate to 11 % for 10⁻³ < x/X₀ < 100.

    Args:
        p: momentum [GeV].
        mass: particle mass [GeV].
        x_over_x0: material traversed [X₀] (0: no scattering).

    Returns:
        θ₀ [rad], broadcast shape of the inputs (≥ 0).
    """
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(x_over_x0, dtype=np.float64)
    beta = p / np.sqrt(p**2 + np.asarray(mass, dtype=np.float64) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = 0.0136 / (beta * p) * np.sqrt(t) * (1.0 + 0.038 * np.log(t / beta**2))
    return np.where(t > 0, np.maximum(theta, 0.0), 0.0)


def _power_law(lo: float, hi: float, power: float, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of dN/dx ∝ x^−power on [lo, hi] at uniform ``u``."""
    if lo == hi:
        return np.full_like(u, lo)
    if abs(power - 1.0) < 1e-12:
        return lo * (hi / lo) ** u
    a, b = lo ** (1.0 - power), hi ** (1.0 - power)
    return (a + u * (b - a)) ** (1.0 / (1.0 - power))


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _particles(n_events: int, g: schema.Geometry, rng: np.random.Generator) -> dict:
    """The particle table (``schema`` columns plus ``mass``), float32-rounded kinematics."""
    n_per = rng.integers(g.tracks[0], g.tracks[1] + 1, n_events)
    n = int(n_per.sum())
    event = np.repeat(np.arange(n_events), n_per)
    first = np.cumsum(n_per) - n_per
    track = np.arange(n) - np.repeat(first, n_per)
    vt = rng.normal(0.0, 1.0, (2, n_events)) * g.vertex_sigma[0]
    vz = rng.normal(0.0, 1.0, n_events) * g.vertex_sigma[1]
    curler = rng.random(n) < g.curler_fraction
    u = rng.random(n)
    pt = np.where(
        curler,
        g.curler_pt[0] + u * (g.curler_pt[1] - g.curler_pt[0]),
        _power_law(g.pt_range[0], g.pt_range[1], g.pt_power, u),
    )
    phi = rng.uniform(-np.pi, np.pi, n)
    w = rng.uniform(-1.0, 1.0, n)
    if g.isotropic:
        cos_theta = w * np.tanh(g.eta_max)
        pz = pt * cos_theta / np.sqrt(1.0 - cos_theta**2)
    else:
        pz = pt * np.sinh(w * g.eta_max)
    charge = np.where(rng.random(n) < 0.5, -1, 1)
    return {
        "event": event,
        "track": track,
        "px": _f32(pt * np.cos(phi)),
        "py": _f32(pt * np.sin(phi)),
        "pz": _f32(pz),
        "vx": _f32(vt[0][event]),
        "vy": _f32(vt[1][event]),
        "vz": _f32(vz[event]),
        "charge": charge,
        "mass": np.where(curler, schema.ELECTRON_MASS, schema.PION_MASS),
    }


def _next_crossing(
    x: np.ndarray,
    y: np.ndarray,
    ux: np.ndarray,
    uy: np.ndarray,
    radius: np.ndarray,
    h: np.ndarray,
    r2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Next layer crossing of circles through (x, y) with direction (ux, uy).

    Args:
        x, y, ux, uy: ``(n,)`` position [mm] and unit transverse direction.
        radius: ``(n,)`` radius of curvature R [mm].
        h: ``(n,)`` turning sense, +1 counter-clockwise (negative charge), −1 clockwise.
        r2: ``(n_layers,)`` squared layer radii [mm²].

    Returns:
        ``layer`` (n,) index of the layer crossed next, ``t`` (n,) turning angle to it [rad]
        (``inf``: no crossing), and the circle centre ``cx, cy`` (n,) [mm].
    """
    if len(x) > _BLOCK:  # bounded memory: the arrays below are particles × layers
        blocks = [
            _next_crossing(x[i:j], y[i:j], ux[i:j], uy[i:j], radius[i:j], h[i:j], r2)
            for i, j in ((i, i + _BLOCK) for i in range(0, len(x), _BLOCK))
        ]
        layer, t, cx, cy = (np.concatenate([b[k] for b in blocks]) for k in range(4))
        return layer, t, cx, cy
    cx = x - h * radius * uy
    cy = y + h * radius * ux
    c2 = cx**2 + cy**2
    cm = np.sqrt(c2)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (r2[None, :] - c2[:, None] - radius[:, None] ** 2) / (2.0 * radius * cm)[:, None]
    ok = np.abs(k) <= 1.0  # NaN (a circle centred on the axis) is no crossing
    half = np.arccos(np.clip(k, -1.0, 1.0))
    base = (np.arctan2(cy, cx) - np.arctan2(y - cy, x - cx))[:, None]
    hh = h[:, None]
    t1 = np.mod(hh * (base + half), _TWO_PI)
    t2 = np.mod(hh * (base - half), _TWO_PI)
    t1 = np.where(t1 < _T_EPS, t1 + _TWO_PI, t1)
    t2 = np.where(t2 < _T_EPS, t2 + _TWO_PI, t2)
    t = np.where(ok, np.minimum(t1, t2), np.inf)
    layer = np.argmin(t, axis=1) if t.size else np.zeros(len(x), np.int64)
    return layer, t[np.arange(len(x)), layer], cx, cy


def _scatter(
    sel: np.ndarray,
    state: dict[str, np.ndarray],
    radius_layer: np.ndarray,
    x0: float,
    rng: np.random.Generator,
) -> None:
    """Multiple scattering of particles ``sel`` in a layer (in place on ``state``)."""
    ux, uy, pt, pz = (state[k][sel] for k in ("ux", "uy", "pt", "pz"))
    x, y = state["x"][sel], state["y"][sel]
    p = np.hypot(pt, pz)
    s, dz = pt / p, pz / p
    cos_inc = np.abs(s * (ux * x + uy * y) / radius_layer)
    theta0 = highland(p, state["mass"][sel], x0 / np.maximum(cos_inc, _MIN_COS))
    k1, k2 = np.tan(np.clip(rng.normal(0.0, 1.0, (2, len(p))) * theta0, -_MAX_KICK, _MAX_KICK))
    # d = (s ux, s uy, dz); e1 = ẑ × d / |ẑ × d| = (−uy, ux, 0); e2 = d × e1 = (−dz ux, −dz uy, s)
    nx = s * ux - k1 * uy - k2 * dz * ux
    ny = s * uy + k1 * ux - k2 * dz * uy
    nz = dz + k2 * s
    norm = np.sqrt(nx**2 + ny**2 + nz**2)
    nt = np.hypot(nx, ny)
    state["ux"][sel] = nx / nt
    state["uy"][sel] = ny / nt
    state["pt"][sel] = p * nt / norm
    state["pz"][sel] = p * nz / norm


def _propagate(parts: dict, g: schema.Geometry, rng: np.random.Generator) -> dict:
    """True crossings that give hits: ``event x y z station track`` (unsmeared)."""
    radii = np.asarray(g.radii, dtype=np.float64)
    half = np.asarray(g.half_length, dtype=np.float64)
    r2, zmax, outer = radii**2, half.max(), len(radii) - 1
    pt = np.hypot(parts["px"], parts["py"])
    state = {
        "x": parts["vx"].copy(),
        "y": parts["vy"].copy(),
        "z": parts["vz"].copy(),
        "ux": parts["px"] / pt,
        "uy": parts["py"] / pt,
        "pt": pt,
        "pz": parts["pz"].astype(np.float64),
        "mass": parts["mass"],
    }
    h = -parts["charge"].astype(np.float64)
    alive = np.flatnonzero(pt > 0)
    found: dict[str, list[np.ndarray]] = {k: [] for k in ("index", "layer", "x", "y", "z")}
    for _ in range(g.crossings):
        if not len(alive):
            break
        a = alive
        radius = schema.radius_of_curvature(state["pt"][a], g.b_field)
        layer, t, cx, cy = _next_crossing(
            state["x"][a], state["y"][a], state["ux"][a], state["uy"][a], radius, h[a], r2
        )
        hit = np.isfinite(t)
        a, layer, t, cx, cy, radius = a[hit], layer[hit], t[hit], cx[hit], cy[hit], radius[hit]
        ht = h[a] * t
        angle = np.arctan2(state["y"][a] - cy, state["x"][a] - cx) + ht
        x, y = cx + radius * np.cos(angle), cy + radius * np.sin(angle)
        snap = radii[layer] / np.hypot(x, y)  # onto the cylinder (rounding only)
        state["x"][a], state["y"][a] = x * snap, y * snap
        c, s = np.cos(ht), np.sin(ht)
        ux, uy = state["ux"][a], state["uy"][a]
        state["ux"][a], state["uy"][a] = ux * c - uy * s, ux * s + uy * c
        state["z"][a] += radius * t * state["pz"][a] / state["pt"][a]
        z = state["z"][a]
        inside = np.abs(z) <= half[layer]
        record = inside & (rng.random(len(a)) < g.efficiency)
        for key, val in (("index", a), ("layer", layer)):
            found[key].append(val[record])
        for key in ("x", "y", "z"):
            found[key].append(state[key][a][record])
        outward = (layer == outer) & (
            state["x"][a] * state["ux"][a] + state["y"][a] * state["uy"][a] > 0
        )
        if g.x0 > 0 and inside.any():
            _scatter(a[inside], state, radii[layer[inside]], g.x0, rng)
        alive = a[~outward & (np.abs(z) <= zmax)]
    index = np.concatenate(found["index"]) if found["index"] else np.zeros(0, np.int64)
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in found.items()}
    return {
        "event": parts["event"][index],
        "x": cat["x"],
        "y": cat["y"],
        "z": cat["z"],
        "station": cat["layer"].astype(np.int64),
        "track": parts["track"][index],
    }


def _noise(n_events: int, g: schema.Geometry, rng: np.random.Generator) -> dict:
    """Noise hits: Poisson(noise) per layer per event, uniform in φ and z."""
    n_layers = g.n_stations
    counts = rng.poisson(g.noise, n_events * n_layers)
    n = int(counts.sum())
    station = np.repeat(np.tile(np.arange(n_layers), n_events), counts)
    event = np.repeat(np.repeat(np.arange(n_events), n_layers), counts)
    phi = rng.uniform(-np.pi, np.pi, n)
    z = rng.uniform(-1.0, 1.0, n) * np.asarray(g.half_length)[station]
    r = np.asarray(g.radii)[station]
    return {
        "event": event,
        "x": r * np.cos(phi),
        "y": r * np.sin(phi),
        "z": z,
        "station": station,
        "track": np.full(n, -1, np.int64),
    }


def simulate(n_events: int, geometry: str | schema.Geometry = "cgem", seed: int = 0) -> Hits:
    """Simulate ``n_events`` events of charged tracks and noise in a cylindrical tracker.

    Args:
        n_events: number of events (≥ 0).
        geometry: a name of :data:`~hepnb.chapters.tracking.schema.GEOMETRIES` or a
            :class:`~hepnb.chapters.tracking.schema.Geometry`.
        seed: fixes everything random.

    Returns:
        :class:`Hits` sorted by event then station (noise hits mixed in at random within a
        station), with the particle table: one row per particle, hits or not; ``track`` is the
        particle's index within its event. Positions in mm, momenta in GeV (float32 values).
    """
    if isinstance(n_events, bool) or int(n_events) != n_events or n_events < 0:
        raise ValueError(f"simulate: n_events={n_events!r}, expected an integer ≥ 0")
    n_events = int(n_events)
    g = schema.geometry(geometry)
    rng = np.random.default_rng(seed)
    parts = _particles(n_events, g, rng)
    signal = _propagate(parts, g, rng)
    noise = _noise(n_events, g, rng)
    cols = {k: np.concatenate([signal[k], noise[k]]) for k in signal}
    order = np.lexsort((rng.random(len(cols["event"])), cols["station"], cols["event"]))
    cols = {k: v[order] for k, v in cols.items()}
    # read-out: smear along the circumference and along z; the hit stays on its cylinder
    radius = np.asarray(g.radii)[cols["station"]]
    d_rphi, d_z = rng.normal(0.0, 1.0, (2, len(radius)))
    phi = np.arctan2(cols["y"], cols["x"]) + d_rphi * g.sigma_rphi / radius
    cols["x"], cols["y"] = _f32(radius * np.cos(phi)), _f32(radius * np.sin(phi))
    cols["z"] = _f32(cols["z"] + d_z * g.sigma_z)
    particles = {k: parts[k] for k in ("event", "track", *schema.PARTICLE_BRANCHES)}
    return Hits(cols, particles, n_events)


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------
def _track_index(hits: Hits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Particles ordered by (event, track), their index within the event, and each hit's
    particle as that index (−1: noise).

    Raises:
        ValueError: a hit's track has no row in the particle table (names event and track).
    """
    parts = hits.particles
    order = np.lexsort((parts["track"], parts["event"]))
    pcounts = np.bincount(parts["event"][order], minlength=hits.n_events)
    starts = np.repeat(np.cumsum(pcounts) - pcounts, pcounts)
    local = np.arange(len(order)) - starts
    index_of_row = np.empty(len(order), np.int64)
    index_of_row[order] = local
    row = hits.particle_index()
    orphan = (hits["track"] >= 0) & (row < 0)
    if orphan.any():
        i = int(np.argmax(orphan))
        raise ValueError(
            f"hits: event {int(hits['event'][i])}, track {int(hits['track'][i])} has no row "
            f"in the particle table"
        )
    return order, pcounts, np.where(row >= 0, index_of_row[np.maximum(row, 0)], -1)


def write_root(hits: Hits, path: str | os.PathLike) -> Path:
    """Write ``hits`` to a ROOT file as tree ``schema.TREE``, atomically.

    One entry per event; jagged branches :data:`~hepnb.chapters.tracking.schema.HIT_BRANCHES`
    (counter ``nhits``) and :data:`~hepnb.chapters.tracking.schema.PARTICLE_BRANCHES` (counter
    ``nparticles``) with the types of ``schema.BRANCH_DTYPES``. Particles are written in order of
    their track id; hits' ``track`` becomes the particle's index in its entry.

    Returns:
        The path written.
    """
    order, pcounts, track = _track_index(hits)
    counts = hits.counts
    cols = {**hits.columns, "track": track}
    parts = {k: v[order] for k, v in hits.particles.items()}

    def jagged(values: dict, names: tuple[str, ...], n: np.ndarray) -> ak.Array:
        return ak.zip(
            {b: ak.unflatten(values[b].astype(schema.BRANCH_DTYPES[b]), n) for b in names}
        )

    data = {
        "hit": jagged(cols, schema.HIT_BRANCHES, counts),
        "particle": jagged(parts, schema.PARTICLE_BRANCHES, pcounts),
    }
    counters = {"hit": schema.HIT_COUNTER, "particle": schema.PARTICLE_COUNTER}
    with io.atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        f.mktree(
            schema.TREE,
            {k: v.type for k, v in data.items()},
            counter_name=counters.__getitem__,
            field_name=lambda outer, inner: inner,
        )
        if hits.n_events:
            f[schema.TREE].extend(data)
    return Path(path)


def write_text(hits: Hits, path: str | os.PathLike) -> Path:
    """Write ``hits`` in Ariadne's BESIII text format, atomically.

    One line per hit, columns :data:`~hepnb.chapters.tracking.schema.TEXT_COLUMNS`
    (mm, GeV; 9 significant digits); a noise hit carries track −1 and zeros for the particle
    columns. The format has no charge and no particles without hits.

    Returns:
        The path written.
    """
    row = hits.particle_index()
    parts = hits.particles
    signal = row >= 0
    cols: list[np.ndarray] = [hits["event"], hits["x"], hits["y"], hits["z"]]
    cols += [hits["station"], np.where(signal, hits["track"], -1)]
    for name in ("px", "py", "pz", "vx", "vy", "vz"):
        values = parts[name][np.maximum(row, 0)] if len(parts[name]) else np.zeros(len(row))
        cols.append(np.where(signal, values, 0.0))
    table = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])
    fmt = ["%d", *[_TEXT_FLOAT] * 3, "%d", "%d", *[_TEXT_FLOAT] * 6]
    with io.atomic_path(path) as tmp:
        np.savetxt(tmp, table.reshape(-1, len(schema.TEXT_COLUMNS)), fmt=fmt, delimiter=" ")
    return Path(path)


def write_sample(
    path: str | os.PathLike,
    n_events: int,
    geometry: str | schema.Geometry = "cgem",
    seed: int = 0,
    fmt: str = "root",
) -> Path:
    """Simulate ``n_events`` events and write them to ``path``.

    Args:
        path: output file; ``.root`` for ``fmt="root"``, any other suffix for ``fmt="text"``
            (the reader dispatches on the suffix).
        n_events: number of events.
        geometry: geometry name or object.
        seed: random seed.
        fmt: ``"root"`` or ``"text"``.

    Returns:
        The path written.
    """
    path = Path(path)
    if fmt not in ("root", "text"):
        raise ValueError(f"write_sample: fmt={fmt!r}, expected 'root' or 'text'")
    is_root = path.suffix.lower() == ".root"
    if is_root != (fmt == "root"):
        raise ValueError(
            f"write_sample: {path} with fmt={fmt!r}: ROOT files need the suffix .root and text "
            f"files another one (the reader dispatches on the suffix)"
        )
    hits = simulate(n_events, geometry, seed)
    return write_root(hits, path) if fmt == "root" else write_text(hits, path)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``hepnb generate tracking`` (the CLI adds ``--seed`` and ``--out``: a file)."""
    parser.add_argument("--n-events", type=int, default=1000, help="number of events")
    parser.add_argument(
        "--geometry", choices=sorted(schema.GEOMETRIES), default="cgem", help="detector"
    )
    parser.add_argument(
        "--format",
        choices=("root", "text"),
        default=None,
        help="file format (default: root for a .root file, else text)",
    )


def run(args: argparse.Namespace) -> Path:
    """``hepnb generate tracking``: write the sample to the file ``args.out``."""
    out = Path(args.out)
    fmt = getattr(args, "format", None) or ("root" if out.suffix.lower() == ".root" else "text")
    return write_sample(
        out,
        getattr(args, "n_events", 1000),
        getattr(args, "geometry", "cgem"),
        args.seed,
        fmt=fmt,
    )
