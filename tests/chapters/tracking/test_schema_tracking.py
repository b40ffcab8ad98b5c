"""The track-finding schema: names, the curvature radius, the three geometries, reconstructability."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from hepnb.chapters.tracking import schema
from hepnb.chapters.tracking.hits import Hits


def test_tree_branches_and_text_columns():
    assert schema.TREE == "events"
    assert schema.HIT_BRANCHES == ("x", "y", "z", "station", "track")
    assert schema.PARTICLE_BRANCHES == ("px", "py", "pz", "vx", "vy", "vz", "charge")
    assert set(schema.BRANCH_DTYPES) == {*schema.HIT_BRANCHES, *schema.PARTICLE_BRANCHES}
    assert schema.BRANCH_DTYPES["x"] == np.float32
    assert schema.BRANCH_DTYPES["station"] == np.int32
    assert schema.BRANCH_DTYPES["charge"] == np.int32
    # Ariadne's 12 columns, in its order
    columns = ("event", "x", "y", "z", "station", "track", "px", "py", "pz", "X0", "Y0", "Z0")
    assert columns == schema.TEXT_COLUMNS


def test_radius_of_curvature():
    # R[m] = pT / (0.2998 B): 1 GeV in 1 T bends on 3.3356 m; 0.3 GeV in 2 T on 0.5004 m
    assert schema.radius_of_curvature(1.0, 1.0) == pytest.approx(1000.0 / 0.299792458)
    assert schema.radius_of_curvature(1.0, 1.0) == pytest.approx(3335.64, abs=0.01)
    r = schema.radius_of_curvature(np.array([[0.3], [0.6]]), 2.0)
    assert r.shape == (2, 1)
    np.testing.assert_allclose(r[:, 0], [500.346, 1000.692], atol=1e-3)
    with pytest.raises(ValueError, match="b_field"):
        schema.radius_of_curvature(1.0, 0.0)
    with pytest.raises(ValueError, match="pt"):
        schema.radius_of_curvature(-1.0, 1.0)


def test_geometries_and_lookup():
    assert set(schema.GEOMETRIES) == {"cgem", "drift", "silicon"}
    assert schema.geometry("cgem") is schema.GEOMETRIES["cgem"]
    g = schema.GEOMETRIES["silicon"]
    assert schema.geometry(g) is g
    with pytest.raises(KeyError, match=r"unknown geometry 'tpc'.*cgem.*drift.*silicon"):
        schema.geometry("tpc")
    for g in schema.GEOMETRIES.values():
        assert len(g.half_length) == g.n_stations
        assert np.all(np.diff(g.radii) > 0)
        assert g.min_stations <= g.n_stations
        assert g.crossings == 4 * g.n_stations


def test_cgem_geometry():
    g = schema.geometry("cgem")
    assert g.n_stations == 3 and g.b_field == 1.0 and g.min_stations == 3
    assert (g.sigma_rphi, g.sigma_z) == (0.130, 0.350)
    assert 3 * g.x0 <= 0.015  # below 1.5 % X0 for the three layers
    # the outer layer's length covers |cos θ| < 0.93 from the origin: z = r cot θ
    assert g.half_length[2] >= g.radii[2] * 0.93 / math.sqrt(1 - 0.93**2)
    assert math.tanh(g.eta_max) == pytest.approx(0.93)
    assert g.isotropic


def test_drift_and_silicon_geometries():
    drift = schema.geometry("drift")
    assert drift.n_stations == 43
    assert drift.radii[0] > 59.0 and drift.radii[-1] < 810.0  # inside the MDC walls
    assert drift.b_field == 1.0 and drift.sigma_rphi == 0.130
    si = schema.geometry("silicon")
    assert si.radii == (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
    assert si.b_field == 2.0 and si.eta_max == 2.5 and si.pt_power > 0
    # |η| < 2.5 from a vertex within 3σ_z reaches every layer inside its length
    reach = np.asarray(si.radii) * math.sinh(2.5) + 3 * si.vertex_sigma[1]
    assert np.all(np.asarray(si.half_length) >= reach)


@pytest.mark.parametrize("name", ["cgem", "drift", "silicon"])
def test_loopers_fit_inside_and_reach_the_first_layer(name):
    g = schema.geometry(name)
    lo, hi = schema.radius_of_curvature(np.array(g.curler_pt), g.b_field)
    assert 2 * hi < g.radii[-1]  # diameter below the outer radius: they loop
    assert 2 * lo > g.radii[0]  # from the beam line they still reach the first layer
    # a particle at pt_min reaches min_stations layers
    assert 2 * schema.radius_of_curvature(g.pt_min, g.b_field) > g.radii[g.min_stations - 1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"radii": (100.0, 50.0, 200.0)}, "radii"),
        ({"half_length": (10.0, 20.0)}, "half_length"),
        ({"efficiency": 1.5}, "efficiency"),
        ({"min_stations": 4}, "min_stations"),
        ({"tracks": (5, 2)}, "tracks"),
        ({"pt_range": (0.0, 1.0)}, "pt_range"),
        ({"noise": -1.0}, "noise"),
        ({"b_field": 0.0}, "b_field"),
    ],
)
def test_geometry_rejects_bad_values(change, field):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(schema.geometry("cgem"), **change)


def test_reconstructable_counts_distinct_stations_and_pt():
    # particle 0: stations 0 1 2, pT 0.5; 1: stations 0 0 1 (a looper), pT 0.5;
    # 2: stations 0 1 2, pT 0.05; 3: no hits; event 1, particle 0: stations 0 1 2, pT 1
    event = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
    station = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 0, 0, 1, 2])
    track = np.array([0, 1, 1, 2, 0, 1, 2, 0, 2, -1, 0, 0, 0])
    zeros = np.zeros(len(event))
    particles = {
        "event": np.array([0, 0, 0, 0, 1]),
        "track": np.array([0, 1, 2, 3, 0]),
        "px": np.array([0.3, 0.5, 0.03, 1.0, 0.0]),
        "py": np.array([0.4, 0.0, 0.04, 0.0, 1.0]),
        **{k: np.zeros(5) for k in ("pz", "vx", "vy", "vz")},
        "charge": np.ones(5),
    }
    hits = Hits(
        {"event": event, "x": zeros, "y": zeros, "z": zeros, "station": station, "track": track},
        particles,
        2,
    )
    rec = schema.reconstructable(hits, "cgem")  # 3 stations, pT ≥ 0.1 GeV
    assert rec.tolist() == [True, False, False, False, True]
    loose = dataclasses.replace(schema.geometry("cgem"), min_stations=2, pt_min=0.01)
    assert schema.reconstructable(hits, loose).tolist() == [True, True, True, False, True]
