"""The track-finding event schema, units and the three detector geometries.

The one place the simulator (:mod:`.sim`), the reader (:mod:`.reader`) and every later step take
tree, branch and column names, units and detector constants from. Units: lengths in mm, momenta
in GeV, the magnetic field in T, angles in rad, material in radiation lengths X₀, charge in e.

**Files.** A ROOT file holds tree :data:`TREE`, one entry per event, with jagged branches: the
hits (:data:`HIT_BRANCHES`) and the particles (:data:`PARTICLE_BRANCHES`); a hit's ``track`` is
the index of its particle in the entry's particle vectors (−1: noise). The text format is the
one of Ariadne's BESIII studies (:data:`TEXT_COLUMNS`): one hit per line, with the momentum and
production vertex of its particle on the same line.

Sources:

* [BES] M. Ablikim et al. (BESIII), "Design and construction of the BESIII detector",
  Nucl. Instrum. Meth. A 614 (2010) 345, arXiv:0911.4960: 1 T solenoid, main drift chamber
  (MDC) of 43 layers between 59 and 810 mm, σ_rφ = 130 µm per wire, charged-particle
  acceptance 93 % of 4π (|cos θ| < 0.93).
* [BEPC] BESIII Collaboration, "The construction of the BESIII experiment",
  arXiv:hep-ex/0701010: BEPCII bunch length 1.5 cm.
* [MDCGEO] The BOSS MDC wire table as exported by pybes3 (github.com/mrzimu/pybes3,
  ``src/pybes3/data/mdc_geom.npz``): end-point coordinates of the 6796 sense wires; the layer
  radius below is the wires' mean radius at z = 0 (stereo layers are hyperboloids, narrowest
  there), the half-length the |z| of the wire ends.
* [CGEM] G. Mezzadri et al., "The CGEM-IT: an upgrade for the BESIII experiment", Symmetry 14
  (2022) 905, doi:10.3390/sym14050905, and S. Gramigna, "Operation of the new CGEM inner
  tracker for the upgrade of the BESIII experiment", PoS(EPS-HEP2021)766,
  doi:10.22323/1.398.0766: three coaxial cylindrical triple-GEM layers in 1 T, design
  resolution 130 µm in rφ and better than 350 µm in z, material below 1.5 % X₀ in all.
* [ARIADNE] Ariadne (github.com/t3hseus/ariadne): the BESIII CGEM sample
  ``resources/test_data/cgem_50_events.txt`` puts the hits of the three layers at
  r = 81.555, 126.055 and 166.555 mm, with |z| up to 264.6, 344.8 and 422.7 mm (active lengths
  532, 690 and 847 mm); 78.5 % of its hits are noise (≈ 15 per layer per event) and events
  carry 1–8 tracks. ``experiments/graph/gin/prepare/rdgraphnet_prepare_bes3.cfg`` normalises
  r to [80, 167] mm and z to [−423.5, 423.5] mm; the column order of the 12-column files is
  that of its ``parse.csv_params``.
* [TML] S. Amrouche et al., "The Tracking Machine Learning challenge: Accuracy phase",
  arXiv:1904.06778: barrel radii 32, 72, 116, 172, 260, 360, 500, 660, 820, 1020 mm of the
  generic detector, 2 T solenoid, |η| < 2.5 coverage.
* [PDG] R.L. Workman et al. (Particle Data Group), Review of Particle Physics, PTEP 2022
  083C01 and S. Navas et al., Phys. Rev. D 110 (2024) 030001: the pion mass
  139.57039 MeV, the electron mass 0.51099895 MeV, and c = 0.299792458 GeV/(T·m·e) in
  R = p_T / (c B).

Values marked *illustrative* are the model's own choices, not measured detector properties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from hepnb.chapters.tracking.hits import Hits

__all__ = [
    "BRANCH_DTYPES",
    "C_LIGHT",
    "ELECTRON_MASS",
    "GEOMETRIES",
    "HIT_BRANCHES",
    "HIT_COUNTER",
    "PARTICLE_BRANCHES",
    "PARTICLE_COUNTER",
    "PION_MASS",
    "TEXT_COLUMNS",
    "TREE",
    "Geometry",
    "geometry",
    "particle_stations",
    "radius_of_curvature",
    "reconstructable",
]

# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
#: The event tree: one entry per event.
TREE = "events"
#: Jagged per-hit branches: ``x y z`` (float32, mm), ``station`` (int32, 0 = innermost layer),
#: ``track`` (int32, index of the hit's particle in the entry's particle vectors, −1: noise).
HIT_BRANCHES: tuple[str, ...] = ("x", "y", "z", "station", "track")
#: Jagged per-particle branches: momentum ``px py pz`` (float32, GeV), production vertex
#: ``vx vy vz`` (float32, mm) and ``charge`` (int32, e).
PARTICLE_BRANCHES: tuple[str, ...] = ("px", "py", "pz", "vx", "vy", "vz", "charge")
#: Counter branches the simulator writes beside the jagged ones (readers do not need them).
HIT_COUNTER = "nhits"
PARTICLE_COUNTER = "nparticles"
#: Type of each branch as written.
BRANCH_DTYPES: dict[str, np.dtype] = {
    **dict.fromkeys(("x", "y", "z", "px", "py", "pz", "vx", "vy", "vz"), np.dtype(np.float32)),
    **dict.fromkeys(("station", "track", "charge"), np.dtype(np.int32)),
}
#: Ariadne's BESIII text format [ARIADNE]: one hit per line, whitespace separated, no header;
#: mm and GeV; ``X0 Y0 Z0`` is the production vertex of the hit's particle (noise: track −1 and
#: zeros for the particle columns).
TEXT_COLUMNS: tuple[str, ...] = (
    "event",
    "x",
    "y",
    "z",
    "station",
    "track",
    "px",
    "py",
    "pz",
    "X0",
    "Y0",
    "Z0",
)

# ---------------------------------------------------------------------------------------------
# Constants [PDG]
# ---------------------------------------------------------------------------------------------
#: Speed of light in GeV per (T · m) per unit charge: R[m] = p_T[GeV] / (C_LIGHT · B[T]).
C_LIGHT = 0.299792458
#: Charged-pion mass [GeV] (the simulator's tracks).
PION_MASS = 0.13957039
#: Electron mass [GeV] (the simulator's low-p_T loopers).
ELECTRON_MASS = 0.00051099895


def radius_of_curvature(pt: float | np.ndarray, b_field: float) -> np.ndarray:
    """Transverse radius of curvature [mm] of a unit-charge particle in a solenoid field.

    R[m] = p_T[GeV] / (0.3 B[T]) (exactly, 0.299792458 [PDG]).

    Args:
        pt: transverse momentum [GeV], any shape.
        b_field: field along the solenoid axis [T], > 0.

    Returns:
        R [mm], the shape of ``pt``.
    """
    if not np.isfinite(b_field) or b_field <= 0:
        raise ValueError(f"radius_of_curvature: b_field={b_field!r} T, expected a field > 0")
    pt = np.asarray(pt, dtype=np.float64)
    if (pt < 0).any():
        raise ValueError("radius_of_curvature: pt must be ≥ 0 GeV")
    return 1000.0 * pt / (C_LIGHT * b_field)


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """A barrel of coaxial cylindrical layers in a uniform solenoid field, and what flies in it.

    Attributes:
        name: key in :data:`GEOMETRIES`.
        radii: layer radii [mm], increasing (station ``i`` is layer ``i``).
        half_length: half-length of each layer along z [mm].
        b_field: field along +z [T].
        sigma_rphi: hit resolution along the layer's circumference [mm].
        sigma_z: hit resolution along z [mm].
        efficiency: probability that a crossing gives a hit.
        x0: material of one layer at normal incidence [X₀].
        noise: mean number of noise hits per layer per event (Poisson).
        tracks: (min, max) particles per event, uniform.
        pt_range: (min, max) transverse momentum of the particles [GeV].
        eta_max: acceptance |η| < eta_max of the particles' direction.
        vertex_sigma: Gaussian spread of the event's vertex (transverse, longitudinal) [mm].
        curler_fraction: fraction of the particles drawn as low-p_T loopers.
        curler_pt: (min, max) p_T of the loopers [GeV]: their diameter 2R is below the outer
            radius, so they spiral and cross the inner layers again and again.
        min_stations: a particle is *reconstructable* with hits on at least this many distinct
            stations ...
        pt_min: ... and p_T ≥ pt_min [GeV].
        pt_power: p_T spectrum dN/dp_T ∝ p_T^−pt_power within ``pt_range`` (0: flat).
        isotropic: polar angle flat in cos θ (an e⁺e⁻ collider at rest) rather than flat in η.
        max_crossings: layer crossings followed per particle (0: 4 × the number of layers).
    """

    name: str
    radii: tuple[float, ...]
    half_length: tuple[float, ...]
    b_field: float
    sigma_rphi: float
    sigma_z: float
    efficiency: float
    x0: float
    noise: float
    tracks: tuple[int, int]
    pt_range: tuple[float, float]
    eta_max: float
    vertex_sigma: tuple[float, float]
    curler_fraction: float
    curler_pt: tuple[float, float]
    min_stations: int
    pt_min: float
    pt_power: float = 0.0
    isotropic: bool = False
    max_crossings: int = 0

    def __post_init__(self) -> None:
        where = f"Geometry {self.name!r}"
        for f in fields(self):
            if f.name in ("name", "isotropic"):
                continue
            value = getattr(self, f.name)
            vals = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, bool) or not np.isfinite(v) or v < 0 for v in vals):
                raise ValueError(f"{where}: {f.name}={value!r}, expected finite values ≥ 0")
        radii = np.asarray(self.radii, dtype=float)
        if radii.ndim != 1 or not len(radii) or (radii <= 0).any() or (np.diff(radii) <= 0).any():
            raise ValueError(f"{where}: radii={self.radii!r}, expected increasing radii > 0 mm")
        if len(self.half_length) != len(self.radii) or min(self.half_length) <= 0:
            raise ValueError(
                f"{where}: half_length={self.half_length!r}, expected one length > 0 mm per "
                f"layer ({len(self.radii)} layers)"
            )
        for name in ("tracks", "pt_range", "curler_pt", "vertex_sigma"):
            if len(getattr(self, name)) != 2:
                raise ValueError(f"{where}: {name}={getattr(self, name)!r}, expected two values")
        if self.tracks[0] > self.tracks[1] or any(int(t) != t for t in self.tracks):
            raise ValueError(f"{where}: tracks={self.tracks!r}, expected integers min ≤ max")
        for name in ("pt_range", "curler_pt"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{where}: {name}={(lo, hi)!r}, expected 0 < min ≤ max GeV")
        if self.b_field <= 0:
            raise ValueError(f"{where}: b_field={self.b_field!r}, expected a field > 0 T")
        for name in ("efficiency", "curler_fraction"):
            if getattr(self, name) > 1:
                raise ValueError(f"{where}: {name}={getattr(self, name)!r}, expected 0 … 1")
        if not 1 <= self.min_stations <= len(self.radii) or int(self.min_stations) != (
            self.min_stations
        ):
            raise ValueError(
                f"{where}: min_stations={self.min_stations!r}, expected an integer 1 … "
                f"{len(self.radii)}"
            )
        if int(self.max_crossings) != self.max_crossings:
            raise ValueError(f"{where}: max_crossings={self.max_crossings!r}, expected an int")

    @property
    def n_stations(self) -> int:
        """Number of layers (stations)."""
        return len(self.radii)

    @property
    def crossings(self) -> int:
        """Layer crossings followed per particle."""
        return int(self.max_crossings) or 4 * self.n_stations


#: |cos θ| < 0.93 [BES] as a pseudorapidity: atanh(0.93).
_BES_ETA = math.atanh(0.93)

#: BESIII's cylindrical-GEM inner tracker [CGEM, ARIADNE] — the default.
CGEM = Geometry(
    name="cgem",
    # hit radii of BESIII's CGEM simulation as in Ariadne's sample [ARIADNE]
    radii=(81.555, 126.055, 166.555),
    # active lengths 532, 690, 847 mm [ARIADNE]; the outer layer covers |cos θ| < 0.93 exactly
    half_length=(266.0, 345.0, 423.5),
    b_field=1.0,  # [BES]
    sigma_rphi=0.130,  # design [CGEM]
    sigma_z=0.350,  # design [CGEM]
    efficiency=0.98,  # illustrative
    x0=0.005,  # < 1.5 % X₀ for the three layers [CGEM], shared equally
    # 45 noise hits per event against ≈ 15 from the tracks: ≈ 75 % of the hits are noise, as
    # in Ariadne's BESIII sample (78.5 %) [ARIADNE]
    noise=15.0,
    tracks=(2, 8),  # J/ψ-region multiplicities; Ariadne's sample has 1–8 [ARIADNE]
    pt_range=(0.1, 1.5),  # illustrative, BESIII J/ψ-region tracks
    eta_max=_BES_ETA,  # |cos θ| < 0.93 [BES]
    # transverse: illustrative (the order of BEPCII's horizontal beam size);
    # longitudinal: the 1.5 cm bunch length [BEPC] over √2 for the luminous region
    vertex_sigma=(0.3, 10.0),
    curler_fraction=0.1,  # illustrative
    # 2R between the inner layer and the outer radius: 2R < 166.555 mm ⇔ p_T < 25 MeV
    curler_pt=(0.013, 0.024),
    min_stations=3,  # all three layers
    pt_min=0.1,
    isotropic=True,
)

#: The 43 MDC layers [MDCGEO]: layer, radius of the sense wires at z = 0 [mm], half-length
#: (|z| of the wire ends) [mm].
_MDC_TABLE = """
 0   75.89   390.0
 1   87.88   396.0
 2  100.21   402.0
 3  113.04   408.0
 4  124.11   414.0
 5  136.08   420.0
 6  147.76   426.0
 7  159.08   432.0
 8  197.00   546.0
 9  213.00   546.0
10  229.55   636.0
11  245.55   636.0
12  262.15   721.0
13  278.20   721.0
14  294.65   806.0
15  310.60   806.0
16  326.90   891.0
17  342.65   891.0
18  358.75   976.0
19  374.55   976.0
20  396.98  1087.0
21  412.32  1090.0
22  428.21  1093.0
23  444.50  1096.0
24  461.03  1099.0
25  476.97  1102.0
26  493.51  1105.0
27  510.25  1108.0
28  526.95  1111.0
29  542.45  1114.0
30  558.55  1117.0
31  574.84  1120.0
32  591.07  1123.0
33  606.18  1126.0
34  621.78  1129.0
35  637.68  1132.0
36  666.80  1138.0
37  682.85  1141.0
38  699.15  1144.0
39  715.70  1147.0
40  732.10  1150.0
41  747.60  1153.0
42  763.45  1153.0
"""
_MDC = np.array(_MDC_TABLE.split(), dtype=float).reshape(-1, 3)
_MDC_RADII = tuple(float(v) for v in _MDC[:, 1])
_MDC_HALF_LENGTH = tuple(float(v) for v in _MDC[:, 2])

#: BESIII's main drift chamber as 43 cylinders [BES, MDCGEO].
DRIFT = Geometry(
    name="drift",
    radii=_MDC_RADII,
    half_length=_MDC_HALF_LENGTH,
    b_field=1.0,  # [BES]
    sigma_rphi=0.130,  # [BES]
    sigma_z=2.0,  # from the stereo layers: a few mm (illustrative)
    efficiency=0.98,  # illustrative
    x0=1.5e-4,  # helium-based gas and wires, ≈ 0.6 % X₀ in all (illustrative)
    noise=1.0,  # illustrative
    tracks=(2, 8),
    pt_range=(0.1, 1.5),
    eta_max=_BES_ETA,  # [BES]
    vertex_sigma=(0.3, 10.0),
    curler_fraction=0.1,
    # 2R < 763.45 mm ⇔ p_T < 114 MeV in 1 T
    curler_pt=(0.04, 0.11),
    min_stations=10,
    pt_min=0.1,
    isotropic=True,
)

_TML_RADII = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
_TML_ETA = 2.5
_TML_VERTEX = (0.015, 50.0)

#: A dense silicon barrel at the TrackML radii [TML]: many tracks, fine resolution.
SILICON = Geometry(
    name="silicon",
    radii=_TML_RADII,
    # long enough that |η| < 2.5 from a vertex within 3σ in z stays in the barrel (the real
    # detector closes it with end-cap disks, not modelled here); rounded up to 10 mm
    half_length=tuple(
        float(math.ceil((r * math.sinh(_TML_ETA) + 3 * _TML_VERTEX[1]) / 10.0) * 10.0)
        for r in _TML_RADII
    ),
    b_field=2.0,  # [TML]
    sigma_rphi=0.015,  # ≈ 50 µm pixel pitch / √12 (illustrative)
    sigma_z=0.050,  # illustrative
    efficiency=0.99,  # illustrative
    x0=0.01,  # illustrative
    noise=10.0,  # illustrative
    tracks=(50, 200),
    pt_range=(0.5, 10.0),
    eta_max=_TML_ETA,  # [TML]
    vertex_sigma=_TML_VERTEX,  # illustrative LHC-like luminous region
    curler_fraction=0.05,
    # 2R < 1020 mm ⇔ p_T < 306 MeV in 2 T
    curler_pt=(0.1, 0.3),
    min_stations=5,
    pt_min=0.5,
    pt_power=3.0,  # falling spectrum dN/dp_T ∝ p_T^−3 (illustrative)
    isotropic=False,
)

#: The geometries by name; ``"cgem"`` is the default.
GEOMETRIES: dict[str, Geometry] = {g.name: g for g in (CGEM, DRIFT, SILICON)}


def geometry(name: str | Geometry) -> Geometry:
    """The geometry called ``name`` (a :class:`Geometry` is returned as it is).

    Raises:
        KeyError: an unknown name; the message lists the known ones.
    """
    if isinstance(name, Geometry):
        return name
    try:
        return GEOMETRIES[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown geometry {name!r}; geometries: {sorted(GEOMETRIES)}") from None


def reconstructable(hits: Hits, geom: str | Geometry) -> np.ndarray:
    """Which particles are reconstructable: hits on ≥ ``min_stations`` distinct stations and
    p_T ≥ ``pt_min``.

    Args:
        hits: the hit table with its particles.
        geom: the geometry (or its name) giving ``min_stations`` and ``pt_min``.

    Returns:
        ``(n_particles,)`` bool, one per row of ``hits.particles``.
    """
    g = geometry(geom)
    stations, _ = particle_stations(hits)
    pt = np.hypot(hits.particles["px"], hits.particles["py"])
    return (stations >= g.min_stations) & (pt >= g.pt_min)


def particle_stations(hits: Hits) -> tuple[np.ndarray, np.ndarray]:
    """Distinct stations and hits of every particle, ``(n_particles,)`` each, one per row of
    ``hits.particles`` (a looper has more hits than stations)."""
    n = len(hits.particles["event"])
    row = hits.particle_index()
    ok = row >= 0
    width = int(hits["station"].max(initial=0)) + 1
    pairs = np.unique(row[ok] * width + hits["station"][ok])
    return np.bincount(pairs // width, minlength=n), np.bincount(row[ok], minlength=n)
