"""The LDMX ECal / trigger-scintillator event schema and detector constants.

The one place the simulator (:mod:`.sim`), the scintillator response (:mod:`.trigscint`), the
reader and the event display take names, units and constants from. Units: energies in MeV,
lengths in mm, times in ns.

Sources (ldmx-sw, github.com/LDMX-Software/ldmx-sw at v4.1.4, commit 96f6980):

* [GEOPY] ``DetDescr/python/EcalGeometry.py``, ``EcalGeometry.v14()``: layer z positions,
  ``ecalFrontZ`` = 240 mm, module gap 1.5 mm, ``moduleMinR`` = 85 mm (module centre to flat),
  ``nCellRHeight`` = 35.3 (cell sides spanning the module height), corners up, odd layers
  shifted in x by one cell side.
* [GEOCXX] ``DetDescr/src/DetDescr/EcalGeometry.cxx``: module centres (``buildModuleMap``),
  the cell map of a module (``buildCellMap``: a ROOT ``TH2Poly::Honeycomb`` grid, cells kept
  when more than one corner lies inside the module hexagon, numbered in grid order, cell
  position = centre of the *whole* hexagon, so edge cells' centres may lie just outside their
  module), the (x, y) ↔ (p, q) rotation, the nearest-neighbour annulus (``buildNeighborMaps``:
  centres within (r, 3r], r the cell centre-to-flat radius).
* [ECALID] ``DetDescr/include/DetDescr/EcalID.h``, ``EcalAbstractID.h``, ``DetectorID.h``: the
  32-bit id layout (subdetector ``SD_ECAL`` = 5 in bits 26–31, cell type 0 =
  ``PrecisionGlobal`` in bits 23–25, layer bits 17–22, module bits 12–16, cell bits 0–11).
* [DIGI] ``Ecal/python/digi.py``: MIP energy in Si, ``EcalRecProducer.v14()`` layer weights and
  second-order correction (``Ecal/src/Ecal/EcalRecProducer.cxx``: ``energy_`` =
  N_MIP · (w_layer + E_MIP) · c, ``amplitude_`` = N_MIP · E_MIP), HGCROC noise and readout
  threshold.
* [EVT] ``Recon/include/Recon/Event/CalorimeterHit.h`` (``ldmx::EcalHit``),
  ``SimCore/include/SimCore/Event/SimTrackerHit.h``,
  ``TrigScint/include/TrigScint/Event/TrigScintHit.h``: member names and types.
* [DET] ``Detectors/data/ldmx-det-v14/constants.gdml``, ``target.gdml``,
  ``scoring_planes.gdml``: trigger-scintillator pad 3 (just upstream of the target): 2 layers ×
  24 bars of 3.05 mm (y) × 30 mm (x) × 2 mm (z), 0.3 mm gaps, the second layer shifted by
  half a bar; target at z = 0 (0.1 X₀ W, 40 × 100 mm); scoring planes.
* [TSCFG] ``TrigScint/python/trigScint.py``: PE yield (``pe_per_mip`` = 100,
  ``mev_per_mip`` = 0.4), cluster seed threshold 30 PE, ``max_cluster_width`` = 2.
* [BEAM] ``SimCore/python/simulator.py`` / ``Biasing/python/target.py``: ``beamSpotSmear`` =
  [20, 80, 0] mm, a *uniform* smear of the primary vertex
  (``SimCore/src/SimCore/G4User/PrimaryGeneratorAction.cxx``).
* [LDMX] T. Åkesson et al. (LDMX), *Light Dark Matter eXperiment (LDMX)*, arXiv:1808.05219
  (4 GeV electron beam, Si–W ECal of ≈ 40 X₀, 7 hexagonal modules per layer).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "AXIAL_SHAPE",
    "BEAM_ENERGY",
    "BEAM_SPOT",
    "CELL_AXIAL",
    "CELL_LOCAL_XY",
    "CELL_PITCH",
    "CELL_R",
    "CELL_SIDE",
    "CELL_XY",
    "COLLECTIONS",
    "DEFAULT_PASS",
    "ECAL_FRONT_Z",
    "ECAL_HIT_FIELDS",
    "ECAL_REC_HITS",
    "ECAL_SP_HITS",
    "ECAL_SP_Z",
    "FIELD_DTYPES",
    "LAYER_SHIFT",
    "LAYER_WEIGHTS",
    "LAYER_XY",
    "LAYER_Z",
    "MIP_SI_ENERGY",
    "MODULE_GAP",
    "MODULE_MIN_R",
    "MODULE_R",
    "MODULE_XY",
    "N_CELLS",
    "N_LAYERS",
    "N_MODULES",
    "SECOND_ORDER_CORRECTION",
    "SIM_TRACKER_HIT_FIELDS",
    "SUBDETECTOR_ECAL",
    "SUBDETECTOR_SHIFT",
    "TREE",
    "TS_BAR_GAP",
    "TS_BAR_LENGTH",
    "TS_BAR_PITCH",
    "TS_BAR_THICKNESS",
    "TS_BAR_WIDTH",
    "TS_EFFICIENCY",
    "TS_HIT_FIELDS",
    "TS_MEV_PER_MIP",
    "TS_N_BARS",
    "TS_N_BARS_PER_LAYER",
    "TS_PE_PER_MIP",
    "TS_PE_THRESHOLD",
    "TS_REC_HITS",
    "TS_SP_HITS",
    "TS_SP_Z",
    "TS_Y0",
    "TS_Z",
    "UNITS",
    "branch",
    "cell_at",
    "cell_position",
    "counter",
    "neighbours",
    "pack_id",
    "unpack_id",
]

# ---------------------------------------------------------------------------------------------
# Tree, collections and fields
# ---------------------------------------------------------------------------------------------
#: The event tree of ldmx-sw files.
TREE = "LDMX_Events"
#: Pass name of the simulator's collections (ldmx-sw files carry their own, e.g. ``"v14"``).
DEFAULT_PASS = "sim"

#: ECal reconstructed hits (``ldmx::EcalHit``) [EVT].
ECAL_REC_HITS = "EcalRecHits"
#: Truth hits (``ldmx::SimTrackerHit``) at the trigger-scintillator scoring planes [EVT].
TS_SP_HITS = "TrigScintScoringPlaneHits"
#: Truth hits (``ldmx::SimTrackerHit``) at the ECal scoring planes (front face) [EVT].
ECAL_SP_HITS = "EcalScoringPlaneHits"
#: Reconstructed scintillator bars (``ldmx::TrigScintHit``; optional in files) [EVT].
TS_REC_HITS = "TrigScintRecHits"

#: ``ldmx::EcalHit`` members (``CalorimeterHit``) [EVT].
ECAL_HIT_FIELDS: tuple[str, ...] = (
    "id_",
    "amplitude_",
    "energy_",
    "time_",
    "xpos_",
    "ypos_",
    "zpos_",
    "isNoise_",
)
#: ``ldmx::SimTrackerHit`` members [EVT].
SIM_TRACKER_HIT_FIELDS: tuple[str, ...] = (
    "id_",
    "layerID_",
    "moduleID_",
    "edep_",
    "time_",
    "px_",
    "py_",
    "pz_",
    "energy_",
    "x_",
    "y_",
    "z_",
    "pathLength_",
    "trackID_",
    "pdgID_",
)
#: ``ldmx::TrigScintHit`` members (``CalorimeterHit`` + its own) [EVT].
TS_HIT_FIELDS: tuple[str, ...] = (*ECAL_HIT_FIELDS, "barID_", "moduleID_", "beamEfrac_", "pe_")
#: Collection → its fields.
COLLECTIONS: dict[str, tuple[str, ...]] = {
    ECAL_REC_HITS: ECAL_HIT_FIELDS,
    TS_SP_HITS: SIM_TRACKER_HIT_FIELDS,
    ECAL_SP_HITS: SIM_TRACKER_HIT_FIELDS,
    TS_REC_HITS: TS_HIT_FIELDS,
}
#: C++ member types [EVT] (``int`` → int32, ``float`` → float32, ``bool``).
FIELD_DTYPES: dict[str, Any] = {
    **dict.fromkeys(
        ("id_", "layerID_", "moduleID_", "trackID_", "pdgID_", "barID_"), np.dtype(np.int32)
    ),
    "isNoise_": np.dtype(np.bool_),
}
#: Unit of each field ("" for ids, codes and flags).
UNITS: dict[str, str] = {
    "amplitude_": "MeV",
    "energy_": "MeV",
    "edep_": "MeV",
    "time_": "ns",
    "xpos_": "mm",
    "ypos_": "mm",
    "zpos_": "mm",
    "x_": "mm",
    "y_": "mm",
    "z_": "mm",
    "px_": "MeV",
    "py_": "MeV",
    "pz_": "MeV",
    "pathLength_": "mm",
    "pe_": "PE",
}


def branch(collection: str, field: str, pass_name: str = DEFAULT_PASS) -> str:
    """Flat branch name the simulator writes: ``EcalRecHits_sim_energy_``.

    (ldmx-sw's own files show the same member as ``EcalRecHits_sim/EcalRecHits_sim.energy_``.)
    """
    return f"{collection}_{pass_name}_{field}"


def counter(collection: str, pass_name: str = DEFAULT_PASS) -> str:
    """Counter branch of a collection in simulator files: ``nEcalRecHits_sim``."""
    return f"n{collection}_{pass_name}"


# ---------------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------------
#: Beam energy [MeV] [LDMX].
BEAM_ENERGY = 4000.0
#: Full widths (x, y) of the uniform beam-spot smear at the target [mm] [BEAM].
BEAM_SPOT: tuple[float, float] = (20.0, 80.0)

# ---------------------------------------------------------------------------------------------
# ECal geometry (v14) [GEOPY, GEOCXX]
# ---------------------------------------------------------------------------------------------
N_LAYERS = 34
N_MODULES = 7
N_CELLS = 432

#: Module hexagon centre-to-flat radius [mm] (CMS HGCAL high-density wafer).
MODULE_MIN_R = 85.0
#: Module hexagon centre-to-corner radius [mm].
MODULE_R = MODULE_MIN_R * 2.0 / np.sqrt(3.0)
#: Distance between the edges of neighbouring modules [mm].
MODULE_GAP = 1.5
_N_CELL_R_HEIGHT = 35.3
#: Cell side = centre-to-corner radius [mm] (≈ 4.816 mm).
CELL_SIDE = 2.0 * MODULE_MIN_R / _N_CELL_R_HEIGHT
#: Cell centre-to-flat radius [mm] (≈ 4.171 mm; ``cellr_`` in [GEOCXX]).
CELL_R = np.sqrt(3.0) / 2.0 * CELL_SIDE
#: Distance between neighbouring cell centres in a module [mm] (= √3 · side ≈ 8.34 mm).
CELL_PITCH = 2.0 * CELL_R

#: z of the ECal front face [mm] (distance from the target) [GEOPY].
ECAL_FRONT_Z = 240.0
_LAYER_Z_REL = (
    7.932,
    14.532,
    32.146,
    40.746,
    58.110,
    67.710,
    86.574,
    96.774,
    115.638,
    125.838,
    144.702,
    154.902,
    173.766,
    183.966,
    202.830,
    213.030,
    231.894,
    242.094,
    260.958,
    271.158,
    290.022,
    300.222,
    319.086,
    329.286,
    351.650,
    365.250,
    387.614,
    401.214,
    423.578,
    437.178,
    459.542,
    473.142,
    495.506,
    509.106,
)
#: z of each sensitive (Si) layer [mm].
LAYER_Z: np.ndarray = ECAL_FRONT_Z + np.asarray(_LAYER_Z_REL, dtype=np.float64)
#: x shift of the odd layers [mm]: one cell side (``layer_shift_odd``) [GEOPY].
LAYER_SHIFT = CELL_SIDE
#: (x, y) of each layer's centre [mm], shape ``(N_LAYERS, 2)``: odd layers shifted in x.
LAYER_XY: np.ndarray = np.zeros((N_LAYERS, 2))
LAYER_XY[1::2, 0] = LAYER_SHIFT

#: Centres (x, y) of the modules within a layer [mm], shape ``(N_MODULES, 2)``: module 0 in the
#: centre, modules 1–6 at 2·85 + 1.5 mm, module 1 on +x, then at −60° steps
#: (``buildModuleMap``, corners-up branch) [GEOCXX].
MODULE_XY: np.ndarray = np.zeros((N_MODULES, 2))
_ANG = np.arange(6) * np.pi / 3.0
MODULE_XY[1:, 0] = (2.0 * MODULE_MIN_R + MODULE_GAP) * np.cos(_ANG)
MODULE_XY[1:, 1] = -(2.0 * MODULE_MIN_R + MODULE_GAP) * np.sin(_ANG)

#: Energy a MIP deposits in the Si [MeV] (``mip_si_energy``) [DIGI].
MIP_SI_ENERGY = 0.130
#: v14 layer weights [MeV per MIP]: energy lost in the absorber per MIP seen (EcalRecProducer.v14).
LAYER_WEIGHTS: np.ndarray = np.asarray(
    (
        2.312,
        4.312,
        6.522,
        7.490,
        8.595,
        10.253,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        10.915,
        14.783,
        18.539,
        18.539,
        18.539,
        18.539,
        18.539,
        18.539,
        18.539,
        18.539,
        18.539,
        9.938,
    ),
    dtype=np.float64,
)
#: Second-order energy correction of the v14 reconstruction (4000 / 3940.5) [DIGI].
SECOND_ORDER_CORRECTION = 4000.0 / 3940.5

# ---------------------------------------------------------------------------------------------
# EcalID [ECALID]
# ---------------------------------------------------------------------------------------------
#: ``SD_ECAL`` of ``ldmx::SubdetectorIDType``.
SUBDETECTOR_ECAL = 5
SUBDETECTOR_SHIFT = 26
_SUBDET_MASK = 0x3F
_LAYER_SHIFT, _LAYER_MASK = 17, 0x3F
_MODULE_SHIFT, _MODULE_MASK = 12, 0x1F
_CELL_MASK = 0xFFF


def pack_id(layer: Any, module: Any, cell: Any) -> np.ndarray:
    """Raw ``EcalID`` of cells (``PrecisionGlobal`` cell type, subdetector bits set).

    Args:
        layer, module, cell: integer arrays (broadcast).

    Returns:
        int64 array of raw ids (all < 2³¹, so they fit the int32 ``id_`` of ``EcalHit``).
    """
    layer = np.asarray(layer, dtype=np.int64)
    module = np.asarray(module, dtype=np.int64)
    cell = np.asarray(cell, dtype=np.int64)
    return (
        (SUBDETECTOR_ECAL << SUBDETECTOR_SHIFT)
        | ((layer & _LAYER_MASK) << _LAYER_SHIFT)
        | ((module & _MODULE_MASK) << _MODULE_SHIFT)
        | (cell & _CELL_MASK)
    )


def unpack_id(ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(subdetector, layer, module, cell) int64 arrays of raw ids (no validation)."""
    ids = np.asarray(ids).astype(np.int64) & 0xFFFFFFFF  # int32 ids read back as signed
    return (
        (ids >> SUBDETECTOR_SHIFT) & _SUBDET_MASK,
        (ids >> _LAYER_SHIFT) & _LAYER_MASK,
        (ids >> _MODULE_SHIFT) & _MODULE_MASK,
        ids & _CELL_MASK,
    )


# ---------------------------------------------------------------------------------------------
# Cells of a module [GEOCXX buildCellMap]
# ---------------------------------------------------------------------------------------------
# In the module frame (p, q) = (−y, x) (``rotate``; the module's corners lie on the p axis)
# the cells are the hexagons of ROOT's TH2Poly::Honeycomb(gridMinP, gridMinQ, a = CELL_SIDE,
# k = 26, s = 24): corner-up hexagons in rows of constant q; row s has centres
# q = gridMinQ + a + 1.5·a·s and p = gridMinP + r·(1 + 2j + s mod 2), j < k − (s mod 2).
def _inside_module(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``EcalGeometry::isInside`` of module-frame points (strict: the boundary is outside)."""
    nx, ny = np.abs(p / MODULE_R), np.abs(q / MODULE_R)
    xref, yref = 0.5, np.sqrt(3.0) / 2.0
    dot = -(nx - xref) - (ny - yref) / np.sqrt(3.0)
    return (nx <= 1.0) & (ny <= yref) & (dot > 0.0)


def _grid() -> tuple[float, float, int, int]:
    """(gridMinP, gridMinQ, numPCells, numQCells) exactly as ``buildCellMap`` computes them."""
    min_p, min_q, n_p, n_q = -CELL_R, 0.0, 1, 0
    while min_p > -MODULE_R:
        min_p -= 2 * CELL_R
        n_p += 1
    while min_q > -MODULE_MIN_R:
        min_q -= CELL_SIDE if n_q % 2 == 0 else 2 * CELL_SIDE
        n_q += 1
    return min_p, min_q, 2 * n_p, 2 * n_q


_GRID_P, _GRID_Q, _GRID_K, _GRID_S = _grid()


def _build_cells() -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (p, q) in grid order and the (row, column) → cell id table (−1: no cell)."""
    a, r = CELL_SIDE, CELL_R
    rows = np.repeat(np.arange(_GRID_S), _GRID_K)
    cols = np.tile(np.arange(_GRID_K), _GRID_S)
    keep = cols < _GRID_K - rows % 2  # odd rows have one hexagon fewer
    rows, cols = rows[keep], cols[keep]
    x0 = _GRID_P + r * (rows % 2) + 2 * r * cols  # left edge of the hexagon
    y0 = _GRID_Q + a / 2 + 1.5 * a * rows  # lower end of its left side
    # the six corners in Honeycomb's order
    vx = np.stack([x0, x0, x0 + r, x0 + 2 * r, x0 + 2 * r, x0 + r], axis=1)
    vy = np.stack([y0, y0 + a, y0 + 1.5 * a, y0 + a, y0, y0 - a / 2], axis=1)
    keep = _inside_module(vx, vy).sum(axis=1) > 1
    centres = np.stack([x0 + r, y0 + a / 2], axis=1)[keep]
    table = np.full((_GRID_S, _GRID_K), -1, dtype=np.int64)
    table[rows[keep], cols[keep]] = np.arange(int(keep.sum()))
    return centres, table


_CELL_PQ, _CELL_TABLE = _build_cells()
if len(_CELL_PQ) != N_CELLS:  # pragma: no cover - guards the port of buildCellMap
    raise RuntimeError(f"ECal cell map has {len(_CELL_PQ)} cells, expected {N_CELLS}")

#: Cell centres (x, y) relative to their module centre [mm], shape ``(N_CELLS, 2)``
#: (unrotated: x = q, y = −p). Cell ids follow ldmx-sw's numbering (grid order: rows of
#: increasing x, within a row decreasing y).
CELL_LOCAL_XY: np.ndarray = np.stack([_CELL_PQ[:, 1], -_CELL_PQ[:, 0]], axis=1)
#: Cell centres (x, y) in the layer frame [mm], shape ``(N_MODULES, N_CELLS, 2)``: the global
#: position of even layers; odd layers add :data:`LAYER_XY` (a shift of +:data:`CELL_SIDE`
#: in x). Edge cells' centres are the centres of the whole hexagon, as in ldmx-sw.
CELL_XY: np.ndarray = MODULE_XY[:, None, :] + CELL_LOCAL_XY[None, :, :]


def cell_position(layer: Any, module: Any, cell: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global (x, y, z) of cells [mm], the ``xpos_``/``ypos_``/``zpos_`` of ldmx-sw rec hits."""
    layer = np.asarray(layer, dtype=np.int64)
    xy = CELL_XY[np.asarray(module, dtype=np.int64), np.asarray(cell, dtype=np.int64)]
    return (
        xy[..., 0] + LAYER_XY[layer, 0],
        xy[..., 1] + LAYER_XY[layer, 1],
        LAYER_Z[layer],
    )


def _nearest_hex_pq(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the grid hexagon containing module-frame points (cube rounding)."""
    rf = (q - _GRID_Q - CELL_SIDE) / (1.5 * CELL_SIDE)  # row, fractional
    qf = ((p - _GRID_P) / CELL_R - 1.0 - rf) / 2.0  # axial column, fractional
    qi, row = _cube_round(qf, rf)
    col = (qi * 2 + row - row % 2) // 2  # p index: 2·col + row mod 2 = 2q + row
    return row, col


def _cube_round(qf: np.ndarray, rf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axial hexagonal-lattice node nearest to fractional axial coordinates (qf, rf)."""
    qi, ri = np.rint(qf), np.rint(rf)
    sf = qf + rf  # minus the third cube coordinate
    si = np.rint(sf)
    dq, dr, ds = np.abs(qi - qf), np.abs(ri - rf), np.abs(si - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = (dr > ds) & ~fix_q
    qi = np.where(fix_q, si - ri, qi)
    ri = np.where(fix_r, si - qi, ri)
    return qi.astype(np.int64), ri.astype(np.int64)


_MODULE_PITCH = 2.0 * MODULE_MIN_R + MODULE_GAP
# module centres as nodes of the lattice e1 = (D, 0), e2 = (D/2, −D√3/2) (module 2 direction)
_NODE_R = np.rint(-MODULE_XY[:, 1] / (_MODULE_PITCH * np.sqrt(3.0) / 2)).astype(np.int64)
_NODE_Q = np.rint((MODULE_XY[:, 0] - _NODE_R * _MODULE_PITCH / 2) / _MODULE_PITCH).astype(np.int64)
_MODULE_OF_NODE = np.zeros((5, 5), dtype=np.int64)  # (q + 2, r + 2) → module
_MODULE_OF_NODE[_NODE_Q + 2, _NODE_R + 2] = np.arange(N_MODULES)


def _nearest_module(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Module whose centre is nearest (the Voronoi cell of the module lattice); points beyond
    the outer ring get some module whose hexagon does not contain them."""
    rf = -y / (_MODULE_PITCH * np.sqrt(3.0) / 2)
    qf = (x - rf * _MODULE_PITCH / 2) / _MODULE_PITCH
    qi, ri = _cube_round(qf, rf)
    ring = np.maximum(np.maximum(np.abs(qi), np.abs(ri)), np.abs(qi + ri))
    return np.where(ring <= 1, _MODULE_OF_NODE[np.clip(qi, -2, 2) + 2, np.clip(ri, -2, 2) + 2], 0)


def cell_at(x: Any, y: Any, layer: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The (module, cell) containing points of a layer.

    Args:
        x, y: positions [mm] (arrays, broadcast).
        layer: layer index (array or int) to undo the odd-layer shift; ``None``: positions
            in the layer frame of :data:`CELL_XY` (that of the even layers).

    Returns:
        (module, cell) int64 arrays; −1 where the point is outside every cell (module gaps,
        outside the ECal, and the corner slivers ldmx-sw leaves out of its edge cells).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if layer is not None:
        shift = LAYER_XY[np.asarray(layer, dtype=np.int64)]
        x = x - shift[..., 0]
        y = y - shift[..., 1]
    x, y = np.broadcast_arrays(x, y)
    module = _nearest_module(x, y)
    lx = x - MODULE_XY[module, 0]
    ly = y - MODULE_XY[module, 1]
    p, q = -ly, lx
    row, col = _nearest_hex_pq(p, q)
    ok = _inside_module(p, q) & (row >= 0) & (row < _GRID_S) & (col >= 0) & (col < _GRID_K)
    cell = np.where(ok, _CELL_TABLE[np.clip(row, 0, _GRID_S - 1), np.clip(col, 0, _GRID_K - 1)], -1)
    module = np.where(cell >= 0, module, -1)
    return module.astype(np.int64), cell.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# One global hexagonal lattice for images
# ---------------------------------------------------------------------------------------------
def _axial() -> tuple[np.ndarray, tuple[int, int]]:
    """Nearest node of module 0's cell lattice (extended over the layer) of every cell."""
    xy = CELL_XY.reshape(-1, 2) - CELL_XY[0, 0]
    # flat-side-up cells in (x, y): neighbours at (±1.5 a, ±r) and (0, ±2r); axial basis
    # e1 = (1.5 a, r), e2 = (0, 2r)
    qf = xy[:, 0] / (1.5 * CELL_SIDE)
    rf = (xy[:, 1] - qf * CELL_R) / (2.0 * CELL_R)
    qr = np.stack(_cube_round(qf, rf), axis=1)
    qr -= qr.min(axis=0)
    shape = tuple(int(v) + 1 for v in qr.max(axis=0))
    return qr.reshape(N_MODULES, N_CELLS, 2), (shape[0], shape[1])


#: Axial (q, r) node of every cell on one hexagonal lattice of cell pitch spanning the layer,
#: shape ``(N_MODULES, N_CELLS, 2)``, min 0: module 0's lattice, extended; cells of the outer
#: modules (displaced by the 1.5 mm gaps, off the lattice) take the nearest node, so a few edge
#: cells share a node (counted in the tests). Nodes: x = 1.5·a·q, y = r·(q + 2r_) + const.
CELL_AXIAL: np.ndarray
#: Extent (Q, R) of :data:`CELL_AXIAL`.
AXIAL_SHAPE: tuple[int, int]
CELL_AXIAL, AXIAL_SHAPE = _axial()


# ---------------------------------------------------------------------------------------------
# Neighbours [GEOCXX buildNeighborMaps]
# ---------------------------------------------------------------------------------------------
@functools.cache
def _neighbour_table() -> tuple[np.ndarray, np.ndarray]:
    """CSR table (offsets, flat (module·N_CELLS + cell)) of the nearest neighbours."""
    xy = CELL_XY.reshape(-1, 2)
    tree = cKDTree(xy)
    pairs = tree.query_pairs(3.0 * CELL_R + 1e-9, output_type="ndarray")
    d = np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)
    pairs = pairs[d > CELL_R]
    both = np.concatenate([pairs, pairs[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    offsets = np.searchsorted(both[:, 0], np.arange(len(xy) + 1))
    return offsets, both[:, 1]


def neighbours(module: int, cell: int) -> np.ndarray:
    """The cells touching a cell, across module boundaries too.

    ldmx-sw's nearest-neighbour rule: centres (in the layer frame) within (r, 3r] of the
    cell's centre, r = :data:`CELL_R` (interior cells: the 6 at one pitch √3·a).

    Returns:
        int64 array ``(k, 2)`` of (module, cell).
    """
    if not (0 <= module < N_MODULES and 0 <= cell < N_CELLS):
        raise ValueError(f"(module, cell) = ({module}, {cell}) outside 0–6, 0–431")
    offsets, flat = _neighbour_table()
    i = module * N_CELLS + cell
    nb = flat[offsets[i] : offsets[i + 1]]
    return np.stack([nb // N_CELLS, nb % N_CELLS], axis=1)


# ---------------------------------------------------------------------------------------------
# Trigger scintillator, pad 3 (upstream of the target) [DET, TSCFG]
# ---------------------------------------------------------------------------------------------
#: Bars per layer; the pad has two layers, so bar ids 0 … 47 (even: upstream layer, odd:
#: downstream layer, half a bar higher in y — the GDML copy numbers 2x−2, 2x−1).
TS_N_BARS_PER_LAYER = 24
TS_N_BARS = 2 * TS_N_BARS_PER_LAYER
#: Bar width in y [mm] (``trigger_bar_dy``).
TS_BAR_WIDTH = 3.05
#: Gap between bars of a layer [mm] (``trigger_pad_bar_gap``).
TS_BAR_GAP = 0.3
#: Bar pitch within a layer [mm].
TS_BAR_PITCH = TS_BAR_WIDTH + TS_BAR_GAP
#: Bar length in x [mm] (``trigger_bar_dx``); pad 3 is centred at x = 0.
TS_BAR_LENGTH = 30.0
#: Bar thickness in z [mm] (``trigger_pad_bar_thickness``).
TS_BAR_THICKNESS = 2.0
#: y of the centre of bar 0 (upstream layer) [mm]: −target_dim_y/2 + dy/2 + trigger_pad_offset.
TS_Y0 = -50.0 + TS_BAR_WIDTH / 2 + (100.0 - (24 * TS_BAR_WIDTH + 23 * TS_BAR_GAP)) / 2
#: z of pad 3's centre [mm] (``trigger_pad3_z``: −target_thickness/2 − pad_thickness/2).
TS_Z = -(0.3504 / 2) - 4.5 / 2 - 0.001
#: z of pad 3's upstream scoring plane [mm] (``sp_trigger_pad3_l1_z``).
TS_SP_Z = TS_Z - (4.5 / 2 + 0.001 / 2 + 0.001 + TS_BAR_THICKNESS)
#: z of the ECal front scoring plane [mm] (``sp_ecal_front_z``).
ECAL_SP_Z = ECAL_FRONT_Z - 0.001 / 2 - 0.001
#: Energy a MIP deposits in a bar [MeV] (``mev_per_mip``) [TSCFG].
TS_MEV_PER_MIP = 0.4
#: Mean photo-electrons per MIP (``pe_per_mip``) [TSCFG].
TS_PE_PER_MIP = 100.0
#: A bar fires at ≥ this many PE (the cluster seed threshold ``seed_threshold``) [TSCFG].
TS_PE_THRESHOLD = 30.0
#: Efficiency of a bar crossed by a MIP above threshold (dead channels, light-collection
#: non-uniformity): illustrative, not an ldmx-sw parameter.
TS_EFFICIENCY = 0.98
