"""The Hough-transform track finder on analytic helices.

Events are built here, independently of the finder: each particle's path is the helix of the
Lorentz force (checked against a numerical integration of q v × B below), intersected with the
cylinders by bisection, so that a transverse vertex off the beam line is exact too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hepnb.chapters.tracking import hough
from hepnb.chapters.tracking.hits import PARTICLE_COLUMNS, Hits, Tracks
from hepnb.chapters.tracking.hough import HoughParams, find_tracks, hough_tracks

#: pT [GeV] = 0.299792458 · B [T] · R [m] for a unit charge.
C = 0.299792458
CGEM = np.array([78.0, 115.0, 150.0])  # mm, 1 T: a BESIII-CGEM-like inner tracker
SILICON = np.linspace(30.0, 500.0, 10)  # mm, 2 T: a silicon barrel


def _radius_mm(pt, b):
    return np.asarray(pt, float) / (C * abs(b)) * 1000.0


def helix_xy(sigma, pt, phi0, q, b, vx=0.0, vy=0.0):
    """Transverse position after a path length ``sigma`` (mm) on the circle of a particle of
    ``pt`` (GeV), charge ``q`` starting at (vx, vy) in direction ``phi0`` in a field ``b`` (T
    along +z). The direction turns by −sign(q b) σ / R: v × B points to the right of the
    direction for q b > 0, so a positive particle in +z field turns clockwise."""
    big_r = _radius_mm(pt, b)
    turn = np.sign(q * b)
    x = vx - (big_r / turn) * (np.sin(phi0 - turn * sigma / big_r) - np.sin(phi0))
    y = vy + (big_r / turn) * (np.cos(phi0 - turn * sigma / big_r) - np.cos(phi0))
    return x, y


def crossings(radii, b, pt, phi0, q, cot, z0, vx=0.0, vy=0.0):
    """``(P, S)`` x, y, z (mm) of P particles on S cylinders, and which exist (the outgoing
    half turn reaches the radius)."""
    radii = np.asarray(radii, float)[None, :]
    cols = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(a, float)) for a in (pt, phi0, q, cot, z0, vx, vy))
    )
    pt, phi0, q, cot, z0, vx, vy = (c[:, None] for c in cols)
    lo = np.zeros(np.broadcast_shapes(pt.shape, radii.shape))
    hi = np.broadcast_to(np.pi * _radius_mm(pt, b), lo.shape).copy()
    for _ in range(80):  # |position| grows along the outgoing half turn
        mid = (lo + hi) / 2
        outside = np.hypot(*helix_xy(mid, pt, phi0, q, b, vx, vy)) > radii
        lo, hi = np.where(outside, lo, mid), np.where(outside, mid, hi)
    sigma = (lo + hi) / 2
    x, y = helix_xy(sigma, pt, phi0, q, b, vx, vy)
    ok = np.abs(np.hypot(x, y) - radii) < 1e-6
    return x, y, z0 + cot * sigma, ok


def make_hits(radii, b, events, *, noise=0, sigma_rphi=0.0, sigma_z=0.0, seed=0):
    """A :class:`Hits` table of ``events`` (dicts of per-particle arrays ``pt phi0 q cot z0``,
    optionally ``vx vy``), with ``noise`` uniform hits per station and Gaussian smearing."""
    rng = np.random.default_rng(seed)
    radii = np.asarray(radii, float)
    cols: dict[str, list] = {k: [] for k in ("event", "x", "y", "z", "station", "track")}
    parts: dict[str, list] = {k: [] for k in PARTICLE_COLUMNS}
    for e, ev in enumerate(events):
        n = len(ev["pt"])
        vx, vy = ev.get("vx", np.zeros(n)), ev.get("vy", np.zeros(n))
        x, y, z, ok = crossings(
            radii, b, ev["pt"], ev["phi0"], ev["q"], ev["cot"], ev["z0"], vx, vy
        )
        st = np.broadcast_to(np.arange(len(radii)), x.shape)[ok]
        tr = np.broadcast_to(np.arange(n)[:, None], x.shape)[ok]
        x, y, z = x[ok], y[ok], z[ok]
        r = np.hypot(x, y)
        phi = np.arctan2(y, x) + rng.normal(0, 1, len(r)) * sigma_rphi / r
        x, y, z = r * np.cos(phi), r * np.sin(phi), z + rng.normal(0, 1, len(z)) * sigma_z
        ns = np.repeat(np.arange(len(radii)), noise)
        nphi = rng.uniform(-np.pi, np.pi, len(ns))
        x = np.r_[x, radii[ns] * np.cos(nphi)]
        y = np.r_[y, radii[ns] * np.sin(nphi)]
        z = np.r_[z, rng.uniform(-300, 300, len(ns))]
        st, tr = np.r_[st, ns], np.r_[tr, np.full(len(ns), -1)]
        order = np.lexsort((tr, st))
        for k, v in zip(("x", "y", "z", "station", "track"), (x, y, z, st, tr), strict=True):
            cols[k].append(v[order])
        cols["event"].append(np.full(len(order), e))
        parts["event"].append(np.full(n, e))
        parts["track"].append(np.arange(n))
        parts["px"].append(ev["pt"] * np.cos(ev["phi0"]))
        parts["py"].append(ev["pt"] * np.sin(ev["phi0"]))
        parts["pz"].append(ev["pt"] * ev["cot"])
        parts["vx"].append(vx)
        parts["vy"].append(vy)
        parts["vz"].append(ev["z0"])
        parts["charge"].append(ev["q"])
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    return Hits(cat, {k: np.concatenate(v) for k, v in parts.items()}, len(events))


def random_events(n_events, n_part, *, seed, spaced=True, vertex=0.0):
    """Particles of pT 0.2–2 GeV (log-uniform), both charges, |cot θ| < 1, z0 ~ N(0, 30 mm);
    ``spaced``: φ0 one per sector of 2π / n_part; ``vertex``: transverse spread (mm)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_events):
        sector = (np.arange(n_part) + rng.uniform(0.2, 0.8, n_part)) * 2 * np.pi / n_part
        ev = {
            "pt": np.exp(rng.uniform(np.log(0.2), np.log(2.0), n_part)),
            "phi0": sector - np.pi if spaced else rng.uniform(-np.pi, np.pi, n_part),
            "q": rng.choice([-1.0, 1.0], n_part),
            "cot": rng.uniform(-1, 1, n_part),
            "z0": rng.normal(0, 30, n_part),
        }
        if vertex:  # Gaussian, cut at 1 mm from the beam line
            v = rng.normal(0, vertex, (2, n_part))
            ev["vx"], ev["vy"] = v / np.maximum(np.hypot(*v), 1.0)
        out.append(ev)
    return out


def true_tracks(hits: Hits) -> dict[tuple[int, int], frozenset[int]]:
    """(event, particle) → its hit indices."""
    out: dict[tuple[int, int], set[int]] = {}
    for i in np.flatnonzero(hits["track"] >= 0):
        out.setdefault((int(hits["event"][i]), int(hits["track"][i])), set()).add(int(i))
    return {k: frozenset(v) for k, v in out.items()}


def assert_exact(hits: Hits, tracks: Tracks) -> None:
    """Every particle found exactly once with exactly its hits, and nothing else."""
    found = sorted(tuple(sorted(tracks[i].tolist())) for i in range(len(tracks)))
    truth = sorted(tuple(sorted(t)) for t in true_tracks(hits).values())
    assert len(found) == len(truth)
    assert found == truth


def matching(hits: Hits, tracks: Tracks, frac: float = 0.8) -> tuple[float, int, int, float]:
    """(efficiency, fakes, duplicates, noise fraction of the tracks' hits): a track matches a
    particle when ≥ ``frac`` of its hits are the particle's and it has ≥ ``frac`` of them."""
    truth = true_tracks(hits)
    matched: dict[tuple[int, int], int] = {}
    fakes = 0
    for i in range(len(tracks)):
        t = tracks[i]
        owners = hits["event"][t] * 100_000 + hits["track"][t]
        ids, counts = np.unique(owners[hits["track"][t] >= 0], return_counts=True)
        if not len(ids):
            fakes += 1
            continue
        best = int(ids[counts.argmax()])
        key = (best // 100_000, best % 100_000)
        if counts.max() >= frac * len(t) and counts.max() >= frac * len(truth[key]):
            matched[key] = matched.get(key, 0) + 1
        else:
            fakes += 1
    eff = len(matched) / len(truth)
    noise = float((hits["track"][tracks.hits] < 0).mean()) if len(tracks.hits) else 0.0
    return eff, fakes, sum(v - 1 for v in matched.values()), noise


# --- the test events themselves ------------------------------------------------------------------


def test_helper_helix_follows_the_lorentz_force():
    # RK4 of du/dσ = (q c B / pT) · u × ẑ (the direction of v × B) for a positive and a negative
    # particle in +1 T; the closed form must agree, and the positive one must turn clockwise.
    pt, b = np.array([0.5, 0.5]), 1.0
    q = np.array([1.0, -1.0])
    k = q * C * 1e-3 * b / pt  # (1/mm)

    def deriv(state):
        _, _, ux, uy = state
        return np.array([ux, uy, k * uy, -k * ux])

    state = np.array([np.zeros(2), np.zeros(2), np.ones(2), np.zeros(2)])
    h, n = 0.5, 300  # mm
    for _ in range(n):
        k1 = deriv(state)
        k2 = deriv(state + h / 2 * k1)
        k3 = deriv(state + h / 2 * k2)
        k4 = deriv(state + h * k3)
        state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    x, y = helix_xy(h * n, pt, 0.0, q, b)
    np.testing.assert_allclose(state[:2], [x, y], atol=1e-6)
    assert y[0] < 0 < y[1]  # φ0 = 0: the positive particle bends to −y (clockwise)


# --- physics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("b", [1.0, -1.0])
def test_helix_parameters_and_charge_convention(b):
    ev = {
        "pt": np.array([0.3, 1.5, 0.8]),
        "phi0": np.array([-2.0, 0.5, 2.5]),
        "q": np.array([1.0, -1.0, 1.0]),
        "cot": np.array([0.4, -0.7, 0.0]),
        "z0": np.array([12.0, -40.0, 3.0]),
    }
    hits = make_hits(CGEM, b, [ev])
    found = hough_tracks(hits, CGEM, b, HoughParams())
    assert_exact(hits, found.tracks)
    order = np.argsort([hits["track"][found.tracks[i][0]] for i in range(len(found))])
    # exact hits: the fitted helix is the true one
    np.testing.assert_array_equal(found.charge[order], ev["q"])
    np.testing.assert_allclose(found.pt[order], ev["pt"], rtol=1e-6)
    np.testing.assert_allclose(found.phi0[order], ev["phi0"], atol=1e-7)
    np.testing.assert_allclose(found.z0[order], ev["z0"], atol=1e-5)
    np.testing.assert_allclose(found.cot_theta[order], ev["cot"], atol=1e-7)
    np.testing.assert_allclose(found.kappa[order], hough.curvature(ev["pt"], ev["q"], b))
    # κ > 0 ⇔ clockwise seen from +z ⇔ q·B > 0
    assert np.array_equal(np.sign(found.kappa[order]), np.sign(ev["q"] * b))
    np.testing.assert_array_equal(found.peak, 3)
    assert (found.rms_rphi < 1e-6).all()


def test_three_layers_every_particle_found_once_with_exactly_its_hits():
    hits = make_hits(CGEM, 1.0, random_events(12, 6, seed=1))
    assert_exact(hits, find_tracks(hits, CGEM, 1.0, HoughParams(n_phi=256, n_kappa=16)))


@pytest.mark.parametrize("n_kappa", [8, 32])
def test_ten_silicon_layers_every_particle_found_once_with_exactly_its_hits(n_kappa):
    hits = make_hits(SILICON, 2.0, random_events(8, 15, seed=2))
    params = HoughParams(n_phi=512, n_kappa=n_kappa, min_stations=7)
    tracks = find_tracks(hits, SILICON, 2.0, params)
    assert_exact(hits, tracks)
    # each track's hits go from the innermost station out
    for i in range(len(tracks)):
        assert np.array_equal(hits["station"][tracks[i]], np.arange(10))


@pytest.mark.parametrize(
    ("radii", "b", "min_stations", "noise"), [(CGEM, 1.0, 3, 5), (SILICON, 2.0, 7, 30)]
)
def test_noise_hits_are_rarely_attached(radii, b, min_stations, noise):
    hits = make_hits(radii, b, random_events(10, 8, seed=3), noise=noise, seed=3)
    assert (hits["track"] < 0).sum() == 10 * noise * len(radii)
    tracks = find_tracks(
        hits, radii, b, HoughParams(n_phi=512, n_kappa=16, min_stations=min_stations)
    )
    eff, fakes, dups, noise_frac = matching(hits, tracks)
    assert eff >= 0.95
    assert dups == 0
    assert fakes <= 0.05 * len(tracks)
    assert noise_frac < 0.02


@pytest.mark.parametrize("crossing", [False, True])
def test_close_particles_of_opposite_charge_are_separated(crossing):
    # 0.02 rad apart at the beam line; the positive one turns clockwise (φ decreasing): placed
    # below the negative one they diverge, above it they cross before the first layer.
    phi_pos, phi_neg = (1.02, 1.00) if crossing else (1.00, 1.02)
    events = [
        {
            "pt": np.array([0.6, 0.6]),
            "phi0": np.array([phi_pos, phi_neg]),
            "q": np.array([1.0, -1.0]),
            "cot": np.array([0.3, 0.2]),
            "z0": np.array([-5.0, 5.0]),
        }
    ]
    hits = make_hits(CGEM, 1.0, events)
    found = hough_tracks(hits, CGEM, 1.0, HoughParams(n_phi=256, n_kappa=16))
    assert_exact(hits, found.tracks)
    assert sorted(found.charge.tolist()) == [-1, 1]


@pytest.mark.parametrize(
    ("radii", "b", "min_stations", "sigma_z", "fake_rate", "pt_spread"),
    [
        # sagitta of a 1 GeV track over the 72 mm lever arm at 1 T: 0.2 mm, of the order of
        # the smearing and of the vertex offset: pT to tens of %
        (CGEM, 1.0, 3, 1.0, 0.06, 0.25),
        # over 470 mm at 2 T: 16 mm, pT to about 1 %
        (SILICON, 2.0, 7, 0.5, 0.03, 0.02),
    ],
)
def test_smeared_hits_and_displaced_vertices_keep_the_efficiency_high(
    radii, b, min_stations, sigma_z, fake_rate, pt_spread
):
    # σ_rφ = 0.1 mm, transverse vertex spread 0.5 mm (|v| ≤ 1 mm), 5 noise hits per station
    hits = make_hits(
        radii,
        b,
        random_events(10, 12, seed=4, spaced=False, vertex=0.5),
        noise=5,
        sigma_rphi=0.1,
        sigma_z=sigma_z,
        seed=4,
    )
    params = HoughParams(n_phi=256, n_kappa=16, min_stations=min_stations)
    found = hough_tracks(hits, radii, b, params)
    eff, fakes, dups, _ = matching(hits, found.tracks)
    assert eff >= 0.93
    assert dups == 0
    assert fakes <= fake_rate * len(found)
    # pT from the fitted curvature, for the tracks whose first hit is a particle's
    first = found.tracks.hits[found.tracks.offsets[:-1]]
    pid = hits.particle_index()[first]
    ok = pid >= 0
    pt_true = np.hypot(hits.particles["px"], hits.particles["py"])[pid[ok]]
    assert np.median(np.abs(found.pt[ok] / pt_true - 1)) < pt_spread


def test_z_and_rphi_windows_drop_outliers():
    ev = {
        "pt": np.array([0.7]),
        "phi0": np.array([0.3]),
        "q": np.array([-1.0]),
        "cot": np.array([0.5]),
        "z0": np.array([8.0]),
    }
    hits = make_hits(SILICON, 2.0, [ev])
    z = hits["z"].copy()
    z[4] += 40.0  # station 4 off the r–z line
    x, y = hits["x"].copy(), hits["y"].copy()
    r, phi = np.hypot(x[9], y[9]), np.arctan2(y[9], x[9]) + 3.0 / 500.0  # 3 mm off at 500 mm
    x[9], y[9] = r * np.cos(phi), r * np.sin(phi)
    bent = hits.with_columns(x=x, y=y, z=z)
    base = HoughParams(n_phi=512, n_kappa=16, min_stations=7)
    tight = find_tracks(bent, SILICON, 2.0, base)  # z_window 20 mm, rphi_window 2 mm
    assert len(tight) == 1
    assert tight[0].tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    loose = find_tracks(
        bent,
        SILICON,
        2.0,
        HoughParams(**{**base.to_dict(), "z_window": math.inf, "rphi_window": math.inf}),
    )
    assert loose[0].tolist() == list(range(10))


def test_accumulator_counts_distinct_stations_and_peaks_at_the_truth():
    ev = {
        "pt": np.array([0.9]),
        "phi0": np.array([-1.2]),
        "q": np.array([1.0]),
        "cot": np.array([0.0]),
        "z0": np.array([0.0]),
    }
    hits = make_hits(CGEM, 1.0, [ev])
    doubled = Hits(
        {k: np.r_[v, v[1:2]] if k != "event" else np.r_[v, 0] for k, v in hits.columns.items()},
        hits.particles,
        1,
    )  # a second, identical hit on station 1 must not count twice
    params = HoughParams(n_phi=128, n_kappa=8, vote_width=0)
    acc = hough.accumulator(doubled, CGEM, 1.0, params)
    assert acc.shape == (1, 8, 128)
    assert acc.max() == 3
    kedges, pedges = hough.bin_edges(1.0, params)
    k_true, p_true = hough.curvature(0.9, 1.0, 1.0), -1.2
    kb = np.searchsorted(kedges, k_true) - 1
    pb = np.searchsorted(pedges, p_true) - 1
    assert acc[0, kb, pb] == 3


def test_rz_fit_finds_the_outlier_at_the_end_of_the_lever_arm():
    # z = 2 + 0.5 s, the last hit 8 mm off. Its own weight pulls the least-squares line: its
    # plain residual is 0.64 mm, below a 1 mm window, while the s = 120 mm hit is 1.6 mm off;
    # its deleted residual (from the line through the other four) is the full 8 mm.
    s = np.array([30.0, 60.0, 90.0, 120.0, 300.0])
    z = 2 + 0.5 * s
    z[-1] += 8.0
    active, z0, cot = hough._fit_rz(np.zeros(5, np.int64), s, z, 1, 1.0)
    assert active.tolist() == [True, True, True, True, False]
    np.testing.assert_allclose([z0[0], cot[0]], [2.0, 0.5])
    active, z0, cot = hough._fit_rz(np.zeros(5, np.int64), s, z, 1, math.inf)
    assert active.all()
    # without a window the line is pulled: Δcot = 8 (300 − 120) / Σ(s − s̄)² = 8 · 180 / 45000,
    # Δz0 = 8 / 5 − 120 Δcot
    np.testing.assert_allclose([z0[0], cot[0]], [2 + 1.6 - 120 * 0.032, 0.5 + 0.032])


def test_fine_transform_starts_within_a_fine_bin_of_the_truth():
    ev = {
        "pt": np.array([0.35]),
        "phi0": np.array([2.2]),
        "q": np.array([-1.0]),
        "cot": np.array([0.1]),
        "z0": np.array([0.0]),
    }
    hits = make_hits(SILICON, 2.0, [ev])
    params = HoughParams(n_phi=128, n_kappa=8, min_stations=7)
    acc = hough.accumulator(hits, SILICON, 2.0, params)
    kedges, pedges = hough.bin_edges(2.0, params)
    k_true, p_true = hough.curvature(0.35, -1.0, 2.0), 2.2
    c_k = np.array([np.searchsorted(kedges, k_true) - 1])
    c_p = np.array([np.searchsorted(pedges, p_true) - 1])
    assert acc[0, c_k[0], c_p[0]] == 10
    r, phi = np.hypot(hits["x"], hits["y"]), np.arctan2(hits["y"], hits["x"])
    kappa, phi0, k_lo, k_hi = hough._refine(
        np.zeros(10, np.int64), r, phi, hits["station"], c_k, c_p, kedges, params
    )
    # coarse cells: 1.5e-3 / mm and 49 mrad; fine ones a quarter of that
    dk, dp = (kedges[1] - kedges[0]) / 4, (pedges[1] - pedges[0]) / 4
    assert abs(kappa[0] - k_true) <= 1.5 * dk
    assert abs(phi0[0] - p_true) <= 1.5 * dp
    assert k_lo[0] < k_true < k_hi[0]


def test_bit_counts_without_numpy_2():
    mask = np.array([0, 1, 3, 2**63, 2**64 - 1, 0b1011_0000_0001], np.uint64)
    expected = [0, 1, 2, 1, 64, 4]
    assert hough._popcount_table(mask).tolist() == expected
    assert hough._popcount(mask).tolist() == expected


# --- duplicates ------------------------------------------------------------------------------------


def test_duplicate_removal_goes_greedily_down_the_ranking():
    # ranks 0..4 = A..E. B shares 3 of its 4 hits with A: dropped. C shares 2 of 4 with A
    # (exactly half: allowed) and 3 of 4 with B, which is dropped: kept. D shares 1 of 3 with A:
    # kept. E shares 2 of 3 with D: dropped.
    tracks = {
        0: [1, 2, 3, 4],
        1: [1, 2, 3, 9],
        2: [2, 3, 9, 20],
        3: [1, 30, 31],
        4: [30, 31, 40],
    }
    cand = np.concatenate([[c] * len(h) for c, h in tracks.items()])
    hit = np.concatenate(list(tracks.values()))
    n_hits = np.array([len(h) for h in tracks.values()])
    kept = hough._resolve_duplicates(cand, hit, n_hits, np.arange(5))
    assert kept.tolist() == [True, False, True, True, False]
    # the rank decides, not the order of the entries
    kept = hough._resolve_duplicates(cand, hit, n_hits, np.array([1, 0, 2, 3, 4]))
    assert kept.tolist() == [False, True, False, True, False]


# --- edge cases and errors -----------------------------------------------------------------------


def _one_hit_table(n_events):
    cols = {"event": [1], "x": [78.0], "y": [0.0], "z": [1.0], "station": [0], "track": [0]}
    return Hits({k: np.asarray(v) for k, v in cols.items()}, n_events=n_events)


def test_empty_and_one_hit_events_give_no_track():
    for hits in (
        _one_hit_table(3),
        Hits({k: np.zeros(0) for k in ("event", "x", "y", "z", "station", "track")}, n_events=2),
    ):
        found = hough_tracks(hits, CGEM, 1.0, HoughParams())
        assert len(found) == 0
        assert found.tracks.offsets.tolist() == [0]
        assert len(found.pt) == len(found.event) == 0


def test_events_are_independent_of_their_batch(monkeypatch):
    hits = make_hits(SILICON, 2.0, random_events(5, 10, seed=5), noise=10, seed=5)
    params = HoughParams(n_phi=256, n_kappa=16, min_stations=7)
    together = find_tracks(hits, SILICON, 2.0, params)
    monkeypatch.setattr(hough, "_MAX_CELLS", 1)  # one event per chunk
    monkeypatch.setattr(hough, "_BLOCK_VOTERS", 50)  # a few candidates per block
    apart = find_tracks(hits, SILICON, 2.0, params)
    assert np.array_equal(together.offsets, apart.offsets)
    assert np.array_equal(together.hits, apart.hits)
    one = find_tracks(hits.select_events([3]), SILICON, 2.0, params)
    mine = together.event(hits) == 3
    start = hits.offsets[3]
    assert sorted(tuple(together[i] - start) for i in np.flatnonzero(mine)) == sorted(
        tuple(one[i]) for i in range(len(one))
    )


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"n_phi": 0}, "n_phi"),
        ({"n_phi": 2.5}, "n_phi"),
        ({"n_kappa": 0}, "n_kappa"),
        ({"n_kappa": True}, "n_kappa"),
        ({"pt_min": 0.0}, "pt_min"),
        ({"pt_min": math.inf}, "pt_min"),
        ({"min_stations": 1}, "min_stations"),
        ({"z_window": 0.0}, "z_window"),
        ({"rphi_window": -1.0}, "rphi_window"),
        ({"vote_width": -1}, "vote_width"),
        ({"n_phi": 4, "vote_width": 2}, "vote_width"),
    ],
)
def test_bad_parameters_are_named(change, name):
    with pytest.raises(ValueError, match=name):
        HoughParams(**change)


def test_bad_inputs_are_named():
    hits = make_hits(CGEM, 1.0, random_events(1, 2, seed=6))
    with pytest.raises(ValueError, match="min_stations"):
        find_tracks(hits, CGEM, 1.0, HoughParams(min_stations=4))
    with pytest.raises(ValueError, match="radii"):
        find_tracks(hits, CGEM[::-1], 1.0, HoughParams())
    with pytest.raises(ValueError, match="b_field"):
        find_tracks(hits, CGEM, 0.0, HoughParams())
    with pytest.raises(ValueError, match="station"):
        find_tracks(hits, CGEM[:2], 1.0, HoughParams(min_stations=2))
    x = hits["x"].copy()
    x[0] = np.nan
    with pytest.raises(ValueError, match="'x'"):
        find_tracks(hits.with_columns(x=x), CGEM, 1.0, HoughParams())
    with pytest.raises(TypeError, match="HoughParams"):
        find_tracks(hits, CGEM, 1.0, {"n_phi": 64})


def test_params_round_trip_and_unknown_keys():
    p = HoughParams(n_phi=128, z_window=math.inf)
    assert HoughParams.from_dict(p.to_dict()) == p
    assert "n_phi=128" in repr(p)
    with pytest.raises(ValueError, match="n_fi"):
        HoughParams.from_dict({"n_fi": 3})


# --- tuning ------------------------------------------------------------------------------------------


def test_tune_picks_the_best_grid_point_on_validation_events():
    val = make_hits(CGEM, 1.0, random_events(6, 6, seed=7), noise=2, seed=7)

    def score(tracks: Tracks) -> float:
        eff, fakes, dups, _ = matching(val, tracks)
        return eff - (fakes + dups) / max(len(tracks), 1)

    grid = {"n_phi": [16, 256], "vote_width": [0, 1]}
    best, table = hough.tune(val, CGEM, 1.0, grid, score)
    assert isinstance(table, pd.DataFrame)
    assert len(table) == 4
    assert {"n_phi", "n_kappa", "vote_width", "score", "n_tracks", "seconds"} <= set(table)
    assert table[["n_phi", "vote_width"]].to_numpy().tolist() == [
        [16, 0],
        [16, 1],
        [256, 0],
        [256, 1],
    ]
    top = table.iloc[int(table["score"].to_numpy().argmax())]
    assert (best.n_phi, best.vote_width) == (top["n_phi"], top["vote_width"])
    assert best.n_kappa == HoughParams().n_kappa  # the rest from the base
    # the table's scores are those of the finder with each grid point's parameters
    again = find_tracks(val, CGEM, 1.0, best)
    assert score(again) == pytest.approx(table["score"].max())
    assert table["score"].max() >= 0.9  # 256 bins find these events


@pytest.mark.parametrize(
    ("grid", "score", "match"),
    [
        ({"n_fi": [1]}, lambda t: 1.0, "n_fi"),
        ({"n_phi": []}, lambda t: 1.0, "n_phi"),
        ({"n_phi": 64}, lambda t: 1.0, "n_phi"),
        ({"n_phi": [0]}, lambda t: 1.0, "n_phi"),
        ({"n_phi": [64]}, lambda t: float("nan"), "score"),
    ],
)
def test_tune_rejects_bad_grids_and_scores(grid, score, match):
    val = make_hits(CGEM, 1.0, random_events(1, 2, seed=8))
    with pytest.raises(ValueError, match=match):
        hough.tune(val, CGEM, 1.0, grid, score)
