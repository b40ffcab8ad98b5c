"""The track-finding simulator: helix geometry against the analytic circle, loopers, multiple
scattering against the Highland formula, efficiency, resolution, noise, the writers and the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import math
import time

import numpy as np
import pytest
import uproot

from hepnb.chapters.tracking import reader, schema, sim

C = 0.299792458  # GeV / (T m)


def _ideal(**change) -> schema.Geometry:
    """CGEM without material, smearing, inefficiency, noise, beam spot or loopers."""
    base = {
        "name": "ideal",
        "x0": 0.0,
        "sigma_rphi": 0.0,
        "sigma_z": 0.0,
        "efficiency": 1.0,
        "noise": 0.0,
        "vertex_sigma": (0.0, 0.0),
        "curler_fraction": 0.0,
    }
    return dataclasses.replace(schema.geometry("cgem"), **{**base, **change})


def _row(hits):
    row = hits.particle_index()
    assert (row[hits["track"] >= 0] >= 0).all()
    return row


@pytest.fixture(scope="module")
def cgem():
    return sim.simulate(300, "cgem", seed=1)


def test_table_sorted_with_one_particle_row_each(cgem):
    g = schema.geometry("cgem")
    assert cgem.n_events == 300
    ev, st = cgem["event"], cgem["station"]
    assert np.all(np.diff(ev) >= 0)
    assert np.all((np.diff(st) >= 0) | (np.diff(ev) > 0))  # station order within an event
    assert set(np.unique(st)) == {0, 1, 2}
    p = cgem.particles
    per_event = np.bincount(p["event"], minlength=300)
    assert per_event.min() >= g.tracks[0] and per_event.max() <= g.tracks[1]
    # track = index within the event
    first = np.concatenate([[0], np.cumsum(per_event)[:-1]])
    assert np.array_equal(p["track"], np.arange(len(p["event"])) - np.repeat(first, per_event))
    assert set(np.unique(p["charge"])) == {-1, 1}
    # one vertex per event
    for name in ("vx", "vy", "vz"):
        assert np.all(p[name] == p[name][first][p["event"]])
    # noise hits are mixed in at random within a station, not appended after the particles'
    # hits: a particle's hit sits on average half-way through its (event, station) group
    group = ev * 3 + st
    start = np.searchsorted(group, group)
    size = np.bincount(group)[group]
    rel = (np.arange(len(group)) - start) / np.maximum(size - 1, 1)
    assert 0.4 < rel[cgem["track"] >= 0].mean() < 0.6


def test_particles_without_hits_keep_their_rows():
    hits = sim.simulate(50, _ideal(efficiency=0.0), seed=12)
    assert len(hits) == 0 and hits.n_events == 50
    assert len(hits.particles["event"]) >= 50 * schema.geometry("cgem").tracks[0]


def test_same_seed_same_sample(cgem):
    again = sim.simulate(300, "cgem", seed=1)
    for k in cgem.columns:
        assert np.array_equal(cgem[k], again[k]), k
    for k in cgem.particles:
        assert np.array_equal(cgem.particles[k], again.particles[k]), k
    other = sim.simulate(300, "cgem", seed=2)
    assert len(other) != len(cgem) or not np.array_equal(other["x"], cgem["x"])


def test_hits_lie_on_their_cylinders(cgem):
    g = schema.geometry("cgem")
    r = np.hypot(cgem["x"], cgem["y"])
    np.testing.assert_allclose(r, np.asarray(g.radii)[cgem["station"]], rtol=1e-6)
    half = np.asarray(g.half_length)[cgem["station"]]
    assert np.all(np.abs(cgem["z"]) <= half + 6 * g.sigma_z)


def test_kinematics_within_acceptance(cgem):
    g = schema.geometry("cgem")
    p = cgem.particles
    pt = np.hypot(p["px"], p["py"])
    cos_theta = p["pz"] / np.sqrt(pt**2 + p["pz"] ** 2)
    assert np.all(np.abs(cos_theta) <= 0.93 + 1e-6)
    looper = pt < g.pt_range[0]
    assert np.all((pt[looper] >= g.curler_pt[0] - 1e-6) & (pt[looper] <= g.curler_pt[1] + 1e-6))
    assert np.all((pt[~looper] >= g.pt_range[0] - 1e-6) & (pt[~looper] <= g.pt_range[1] + 1e-6))
    assert looper.mean() == pytest.approx(g.curler_fraction, abs=0.03)
    # one vertex per event, Gaussian with the beam spot's widths
    first = np.unique(p["event"], return_index=True)[1]
    assert p["vz"][first].std() == pytest.approx(g.vertex_sigma[1], rel=0.15)
    assert p["vx"][first].std() == pytest.approx(g.vertex_sigma[0], rel=0.15)


def test_helix_follows_the_analytic_circle():
    """No material, no smearing, vertex at the origin: each hit lies on the circle of radius
    R = pT / (0.3 B) through the origin, reached after the turning angle t = 2 asin(r / 2R);
    its azimuth lags the momentum by asin(r / 2R) for a positive particle (clockwise)."""
    g = _ideal()
    hits = sim.simulate(400, g, seed=3)
    p = hits.particles
    row = _row(hits)
    sig = row >= 0
    pt = np.hypot(p["px"], p["py"])[row[sig]]
    radius = 1000.0 * pt / (C * g.b_field)
    q = p["charge"][row[sig]]
    x, y, z = hits["x"][sig], hits["y"][sig], hits["z"][sig]
    r = np.hypot(x, y)
    half_turn = np.arcsin(r / (2 * radius))
    lag = np.angle(np.exp(1j * (np.arctan2(y, x) - np.arctan2(p["py"], p["px"])[row[sig]])))
    np.testing.assert_allclose(lag, -q * half_turn, atol=1e-6)
    np.testing.assert_allclose(z, p["pz"][row[sig]] / pt * radius * 2 * half_turn, atol=1e-3)
    # the circle through the three hits of each particle (ordered by station) has radius R
    assert np.all(np.bincount(row[sig]) == 3)
    order = np.lexsort((hits["station"][sig], row[sig]))
    a, b, c = (np.stack([x[order][k::3], y[order][k::3]], axis=1) for k in range(3))
    ab, bc, ca = (np.linalg.norm(u - v, axis=1) for u, v in ((a, b), (b, c), (c, a)))
    area = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    fitted = ab * bc * ca / (4 * area)
    np.testing.assert_allclose(fitted, radius[order][::3], rtol=2e-3)


def test_positive_particles_turn_clockwise():
    hits = sim.simulate(200, _ideal(), seed=4)
    p = hits.particles
    row = _row(hits)
    inner = (hits["station"] == 0) & (row >= 0)
    k = row[inner]
    # z component of p × hit: negative when the hit lies to the right of the momentum
    cross = p["px"][k] * hits["y"][inner] - p["py"][k] * hits["x"][inner]
    assert np.all(np.sign(cross) == -p["charge"][k])


@pytest.mark.parametrize("name", ["cgem", "silicon"])
def test_loopers_cross_inner_layers_again_and_again(name):
    g = dataclasses.replace(
        schema.geometry(name), name="loopers", curler_fraction=1.0, noise=0.0, tracks=(5, 5)
    )
    hits = sim.simulate(40 if name == "cgem" else 4, g, seed=5)
    row = _row(hits)
    n_part = len(hits.particles["event"])
    n_hits = np.bincount(row, minlength=n_part)
    pairs = np.unique(row * 100 + hits["station"])
    n_stations = np.bincount(pairs // 100, minlength=n_part)
    assert (n_hits > n_stations).mean() > 0.5  # most have several hits on one station
    assert n_hits.max() <= g.crossings
    # a diameter below the outer radius keeps them off the outer layer (up to scattering)
    assert (hits["station"] == g.n_stations - 1).mean() < 0.02


def test_highland_formula():
    # β = 1 (massless), x = X0: θ0 = 13.6 mrad / p; x = 0.01 X0: 1.36 mrad · (1 + 0.038 ln 0.01)
    assert sim.highland(1.0, 0.0, 1.0) == pytest.approx(0.0136)
    assert sim.highland(2.0, 0.0, 1.0) == pytest.approx(0.0068)
    assert sim.highland(1.0, 0.0, 0.01) == pytest.approx(1.12201e-3, rel=1e-5)
    assert sim.highland(1.0, 0.0, 0.0) == 0.0
    # a slow particle: β = 0.6 for p = 0.75 m (1/(βp) and ln(x/β²))
    m = 1.0
    expected = 0.0136 / (0.6 * 0.75) * 0.1 * (1 + 0.038 * math.log(0.01 / 0.36))
    assert sim.highland(0.75, m, 0.01) == pytest.approx(expected, rel=1e-9)


def test_multiple_scattering_kinks_have_the_highland_width():
    """Two layers at r = 100, 200 mm, 1 % X0 each, no smearing, 1 GeV pions at η = 0: the kink
    at the first layer (chord directions corrected for the helix bending) has the width θ0 in
    both the transverse and the longitudinal plane."""
    g = schema.Geometry(
        name="ms",
        radii=(100.0, 200.0),
        half_length=(1000.0, 1000.0),
        b_field=1.0,
        sigma_rphi=0.0,
        sigma_z=0.0,
        efficiency=1.0,
        x0=0.01,
        noise=0.0,
        tracks=(1, 1),
        pt_range=(1.0, 1.0),
        eta_max=1e-9,
        vertex_sigma=(0.0, 0.0),
        curler_fraction=0.0,
        curler_pt=(0.01, 0.01),
        min_stations=2,
        pt_min=0.0,
    )
    hits = sim.simulate(8000, g, seed=6)
    assert np.array_equal(np.bincount(hits["event"]), np.full(8000, 2))
    first, second = hits["station"] == 0, hits["station"] == 1
    x0, y0, z0 = hits["x"][first], hits["y"][first], hits["z"][first]
    x1, y1, z1 = hits["x"][second], hits["y"][second], hits["z"][second]
    q = hits.particles["charge"]
    radius = 1000.0 / C
    d0, d1 = np.hypot(x0, y0), np.hypot(x1 - x0, y1 - y0)
    bend = -q * (np.arcsin(d0 / (2 * radius)) + np.arcsin(d1 / (2 * radius)))
    kink = np.angle(np.exp(1j * (np.arctan2(y1 - y0, x1 - x0) - np.arctan2(y0, x0) - bend)))
    beta = 1.0 / math.sqrt(1.0 + schema.PION_MASS**2)
    theta0 = 0.0136 / beta * 0.1 * (1 + 0.038 * math.log(0.01 / beta**2))
    assert kink.std() == pytest.approx(theta0, rel=0.05)
    assert abs(kink.mean()) < 0.1 * theta0
    kink_z = np.arctan((z1 - z0) / d1) - np.arctan(z0 / d0)
    assert kink_z.std() == pytest.approx(theta0, rel=0.05)


def test_efficiency_thins_hits():
    g = _ideal(efficiency=0.5, eta_max=0.1, tracks=(4, 4))
    hits = sim.simulate(500, g, seed=7)  # 2000 particles, one crossing per layer each
    assert len(hits) / (2000 * 3) == pytest.approx(0.5, abs=0.03)


def test_smearing_moves_hits_along_the_layer():
    exact = sim.simulate(300, _ideal(), seed=8)
    smeared = sim.simulate(300, _ideal(sigma_rphi=0.1, sigma_z=0.5), seed=8)
    for k in ("event", "station", "track"):
        assert np.array_equal(exact[k], smeared[k])
    r = np.hypot(smeared["x"], smeared["y"])
    np.testing.assert_allclose(r, np.hypot(exact["x"], exact["y"]), rtol=1e-6)
    dphi = np.angle(
        np.exp(1j * (np.arctan2(smeared["y"], smeared["x"]) - np.arctan2(exact["y"], exact["x"])))
    )
    assert (r * dphi).std() == pytest.approx(0.1, rel=0.05)
    assert (smeared["z"] - exact["z"]).std() == pytest.approx(0.5, rel=0.05)


def test_noise_is_poisson_uniform_on_each_layer():
    g = _ideal(noise=20.0, tracks=(0, 0))
    hits = sim.simulate(500, g, seed=9)
    assert len(hits.particles["event"]) == 0
    assert np.all(hits["track"] == -1)
    per = np.bincount(hits["event"] * 3 + hits["station"], minlength=1500)
    assert per.mean() == pytest.approx(20.0, rel=0.02)
    assert per.var() == pytest.approx(20.0, rel=0.15)  # Poisson: variance = mean
    phi = np.arctan2(hits["y"], hits["x"])
    assert abs(np.cos(phi).mean()) < 0.02 and abs(np.sin(phi).mean()) < 0.02
    u = hits["z"] / np.asarray(g.half_length)[hits["station"]]
    assert np.all(np.abs(u) <= 1.0)
    assert u.var() == pytest.approx(1.0 / 3.0, rel=0.05)


def test_cgem_noise_level(cgem):
    noise = (cgem["track"] < 0).sum() / cgem.n_events
    assert noise == pytest.approx(3 * schema.geometry("cgem").noise, rel=0.05)


def test_silicon_falling_spectrum():
    g = dataclasses.replace(schema.geometry("silicon"), tracks=(100, 100), noise=0.0)
    hits = sim.simulate(30, g, seed=10)
    p = hits.particles
    pt = np.hypot(p["px"], p["py"])
    track = pt >= g.pt_range[0]
    # dN/dpT ∝ pT^-3 on [0.5, 10]: mean = (1/0.5 − 1/10) / ((1/0.25 − 1/100) / 2)
    assert pt[track].mean() == pytest.approx(1.9 / 1.995, abs=0.05)
    eta = np.arcsinh(p["pz"] / pt)
    assert np.abs(eta).max() <= 2.5 + 1e-6


def test_crossing_search_in_blocks_changes_nothing(monkeypatch):
    whole = sim.simulate(40, "drift", seed=13)
    monkeypatch.setattr(sim, "_BLOCK", 37)
    blocks = sim.simulate(40, "drift", seed=13)
    for k in whole.columns:
        assert np.array_equal(whole[k], blocks[k]), k


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_events"):
        sim.simulate(-1)
    with pytest.raises(KeyError, match="unknown geometry"):
        sim.simulate(1, "tpc")


def test_write_root_branches(cgem, tmp_path):
    path = sim.write_root(cgem, tmp_path / "s.root")
    tree = uproot.open(path)[schema.TREE]
    assert tree.num_entries == 300
    assert set(tree.keys()) == {
        *schema.HIT_BRANCHES,
        *schema.PARTICLE_BRANCHES,
        schema.HIT_COUNTER,
        schema.PARTICLE_COUNTER,
    }
    assert tree["x"].typename == "float[]"
    assert tree["station"].typename == "int32_t[]"
    assert tree["charge"].typename == "int32_t[]"
    n = tree["nhits"].array(library="np")
    assert np.array_equal(n, cgem.counts)
    assert not list(tmp_path.glob("*.part"))


def test_write_sample_and_cli(tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    sim.add_args(parser)
    args = parser.parse_args(["--out", str(tmp_path / "a.root"), "--n-events", "20", "--seed", "3"])
    assert (args.n_events, args.geometry) == (20, "cgem")
    path = sim.run(args)
    hits = reader.read(path)
    expected = sim.simulate(20, "cgem", seed=3)
    assert np.array_equal(hits["x"], expected["x"])
    args = parser.parse_args(
        ["--out", str(tmp_path / "b.txt"), "--n-events", "5", "--geometry", "drift"]
    )
    text = reader.read(sim.run(args))
    assert text.n_events == 5 and text["station"].max() > 10
    with pytest.raises(ValueError, match="suffix"):
        sim.write_sample(tmp_path / "c.txt", 5, fmt="root")
    with pytest.raises(ValueError, match="fmt"):
        sim.write_sample(tmp_path / "c.root", 5, fmt="csv")


@pytest.mark.slow
def test_speed():
    start = time.perf_counter()
    cgem = sim.simulate(10_000, "cgem", seed=11)
    t_cgem = time.perf_counter() - start
    start = time.perf_counter()
    silicon = sim.simulate(100, "silicon", seed=11)
    t_silicon = time.perf_counter() - start
    assert cgem.n_events == 10_000 and silicon.n_events == 100
    assert t_cgem < 10.0, t_cgem
    assert t_silicon < 30.0, t_silicon
