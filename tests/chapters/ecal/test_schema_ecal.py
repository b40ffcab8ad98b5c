"""The LDMX ECal schema: EcalID packing, the v14 cell map, neighbours and the hex lattice."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.chapters.ecal import schema


def test_constants():
    assert (schema.N_LAYERS, schema.N_MODULES, schema.N_CELLS) == (34, 7, 432)
    assert schema.LAYER_Z.shape == (34,)
    assert np.all(np.diff(schema.LAYER_Z) > 0)
    assert schema.LAYER_Z[0] == pytest.approx(240.0 + 7.932)
    assert schema.CELL_XY.shape == (7, 432, 2)
    assert abs(schema.CELL_SIDE - 4.816) < 1e-3
    assert schema.BEAM_ENERGY == 4000.0
    assert schema.SUBDETECTOR_ECAL == 5
    # module centres: 2·85 + 1.5 mm from the centre, module 1 on +x
    r = np.hypot(*schema.MODULE_XY[1:].T)
    assert np.allclose(r, 171.5)
    assert schema.MODULE_XY[1] == pytest.approx([171.5, 0.0])
    # odd layers shifted by one cell side in x
    assert np.allclose(schema.LAYER_XY[0::2], 0.0)
    assert np.allclose(schema.LAYER_XY[1::2, 0], schema.CELL_SIDE)


def test_id_round_trip_with_subdetector_bits():
    rng = np.random.default_rng(1)
    layer = rng.integers(0, 34, 1000)
    module = rng.integers(0, 7, 1000)
    cell = rng.integers(0, 432, 1000)
    ids = schema.pack_id(layer, module, cell)
    assert ids.max() < 2**31  # fits the int32 id_ of ldmx::EcalHit
    for raw in (ids, ids.astype(np.int32), ids.astype(np.uint32)):
        sub, lay, mod, cel = schema.unpack_id(raw)
        assert np.all(sub == 5)
        assert np.array_equal(lay, layer)
        assert np.array_equal(mod, module)
        assert np.array_equal(cel, cell)
    # the layout of ldmx-sw's EcalID: SD_ECAL << 26 | layer << 17 | module << 12 | cell
    assert int(schema.pack_id(3, 2, 100)) == (5 << 26) | (3 << 17) | (2 << 12) | 100


def test_cell_centres_map_to_themselves():
    module, cell = schema.cell_at(schema.CELL_XY[..., 0], schema.CELL_XY[..., 1])
    assert np.array_equal(module, np.broadcast_to(np.arange(7)[:, None], (7, 432)))
    assert np.array_equal(cell, np.broadcast_to(np.arange(432), (7, 432)))
    # odd layers: positions include the layer shift
    x, y, _ = schema.cell_position(np.full(432, 5), np.full(432, 3), np.arange(432))
    m, c = schema.cell_at(x, y, 5)
    assert np.all(m == 3)
    assert np.array_equal(c, np.arange(432))


def test_432_cells_per_module_in_ldmx_order():
    assert len(np.unique(schema.CELL_XY.reshape(-1, 2), axis=0)) == 7 * 432
    # ldmx-sw numbers cells in TH2Poly grid order: rows of increasing (local) x, within a row
    # of decreasing y; cell 0 is the first full-width row's end
    lx, ly = schema.CELL_LOCAL_XY.T
    row = np.round((lx - lx.min()) / (1.5 * schema.CELL_SIDE)).astype(int)
    assert np.all(np.diff(row) >= 0)
    same = np.diff(row) == 0
    assert np.all(np.diff(ly)[same] < 0)
    # the module's corner between three cells sits at the module centre
    d = np.hypot(lx, ly)
    assert np.sum(np.isclose(d, d.min())) == 3
    assert d.min() == pytest.approx(schema.CELL_SIDE)


def test_points_land_in_the_cell_that_contains_them():
    rng = np.random.default_rng(2)
    x = rng.uniform(-280, 280, 200_000)
    y = rng.uniform(-280, 280, 200_000)
    module, cell = schema.cell_at(x, y)
    inside = cell >= 0
    c = schema.CELL_XY[module[inside], cell[inside]]
    d = np.hypot(x[inside] - c[:, 0], y[inside] - c[:, 1])
    # inside the regular hexagon of the cell (≤ side), and no other centre is nearer within
    # the module: cells do not overlap
    assert d.max() <= schema.CELL_SIDE + 1e-9
    k = 5000
    local = schema.CELL_XY[module[inside][:k]]  # (k, 432, 2)
    xi, yi = x[inside][:k, None], y[inside][:k, None]
    nearest = np.argmin((local[..., 0] - xi) ** 2 + (local[..., 1] - yi) ** 2, axis=1)
    assert np.array_equal(nearest, cell[inside][:k])
    # gaps and the outside are empty
    assert np.all(schema.cell_at(85.75, 0.0)[1] == -1)  # the gap between modules 0 and 1
    assert np.all(schema.cell_at(400.0, 0.0)[0] == -1)
    # the area covered is that of 7 module hexagons (minus the corner slivers)
    area = inside.mean() * 560.0**2
    hexagon = 2 * np.sqrt(3.0) * schema.MODULE_MIN_R**2
    assert area == pytest.approx(7 * hexagon, rel=0.02)


def test_neighbours():
    pitch = np.sqrt(3.0) * schema.CELL_SIDE
    counts = []
    for m in range(7):
        for c in range(432):
            nb = schema.neighbours(m, c)
            counts.append(len(nb))
            d = np.hypot(*(schema.CELL_XY[nb[:, 0], nb[:, 1]] - schema.CELL_XY[m, c]).T)
            assert np.all(d <= 1.5 * pitch + 1e-9)
    counts = np.asarray(counts).reshape(7, 432)
    # interior cells (all 6 lattice neighbours in the module) have exactly 6 at one pitch
    lx, ly = schema.CELL_LOCAL_XY.T
    dist = np.hypot(lx[:, None] - lx, ly[:, None] - ly)
    interior = (np.isclose(dist, pitch)).sum(axis=1) == 6
    assert interior.sum() > 350
    assert np.all(counts[:, interior] == 6)
    nb = schema.neighbours(0, int(np.flatnonzero(interior)[0]))
    d = np.hypot(*(schema.CELL_XY[nb[:, 0], nb[:, 1]] - schema.CELL_XY[0, interior.argmax()]).T)
    assert d == pytest.approx(np.full(6, pitch))
    # symmetric, and edge cells of the central module touch cells of the outer modules
    a = schema.neighbours(0, 0)
    for m, c in a:
        assert any((schema.neighbours(int(m), int(c)) == [0, 0]).all(axis=1))
    across = [np.any(schema.neighbours(0, c)[:, 0] != 0) for c in range(432)]
    assert sum(across) > 30
    with pytest.raises(ValueError, match="module, cell"):
        schema.neighbours(7, 0)


def test_axial_lattice():
    q, r = schema.AXIAL_SHAPE
    ax = schema.CELL_AXIAL
    assert ax.shape == (7, 432, 2)
    assert ax.min() == 0
    assert ax[..., 0].max() == q - 1
    assert ax[..., 1].max() == r - 1
    # within a module, lattice neighbours are neighbouring nodes; collisions between modules
    # (cells displaced by the gaps onto the same node) are few
    flat = ax.reshape(-1, 2)
    collisions = len(flat) - len(np.unique(flat, axis=0))
    assert collisions <= 20
    d = np.diff(ax[0, :2], axis=0)[0]
    assert tuple(np.abs(d)) in {(0, 1), (1, 0), (1, 1)}


def test_branch_names():
    assert schema.branch("EcalRecHits", "energy_") == "EcalRecHits_sim_energy_"
    assert schema.counter("EcalRecHits", "v14") == "nEcalRecHits_v14"
    assert "isNoise_" in schema.ECAL_HIT_FIELDS
    assert schema.TS_N_BARS == 48
