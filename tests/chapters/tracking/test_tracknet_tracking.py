"""TrackNETv2 sequences, hit efficiency and track building (:mod:`hepnb.chapters.tracking.tracknet`).

Hand-made events in a tracker of 4 (or 3) cylinders at R = 100, 200, 300, 400 mm; features are
r / 400 mm, φ / π and z / 500 mm, so the stations sit at normalised r = 0.25, 0.5, 0.75, 1. Tracks
are straight lines from the origin (constant φ, z ∝ r) or, to cross φ = ±π, lines whose φ grows
by a fixed step per station. The stand-in model predicts the straight-line extrapolation of the
last two points in (r, φ_rel, z) with a small fixed ellipse, so the true next hit of such a track
is its centre: no training is involved.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hepnb.chapters.tracking.hits import Hits
from hepnb.chapters.tracking.tracknet import (
    build_tracks,
    hit_efficiency,
    loader,
    sequences,
)

RADII = np.array([100.0, 200.0, 300.0, 400.0])  # mm
R_SCALE, Z_SCALE = 400.0, 500.0  # mm per normalised unit
STEP = 0.25  # normalised r between stations
A_PHI, A_Z = 0.01, 0.02  # semi-axes of the stand-in's ellipse (normalised)


class LineModel(nn.Module):
    """Stand-in with TrackNETv2's signature: the next point on the line through the last two
    points (from the first point alone: the line through the origin, φ constant), the next
    station ``STEP`` further out; ``shift`` moves the centre in z, ``axes`` sets the ellipse."""

    def __init__(self, axes=(A_PHI, A_Z), shift: float = 0.0) -> None:
        super().__init__()
        self.axes = axes
        self.shift = shift

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        assert lengths.dtype == torch.int64 and lengths.device.type == "cpu"
        r, phi, z = x[..., 0], x[..., 1], x[..., 2]
        prev_r = torch.cat([torch.zeros_like(r[:, :1]), r[:, :-1]], 1)
        prev_phi = torch.cat([phi[:, :1], phi[:, :-1]], 1)
        prev_z = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], 1)
        dr = r - prev_r
        k = STEP / torch.where(dr.abs() < 1e-9, torch.ones_like(dr), dr)
        centre_phi = phi + (phi - prev_phi) * k
        centre_z = z + (z - prev_z) * k + self.shift
        a = torch.tensor(self.axes, dtype=x.dtype).expand(*x.shape[:2], 2)
        return torch.cat([centre_phi[..., None], centre_z[..., None], a], -1)


def make_hits(rows, n_events: int, shuffle_seed: int | None = 0) -> Hits:
    """Hits from ``(event, station, phi [rad], z [mm], track)`` rows, shuffled within events."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    order = np.lexsort((np.random.default_rng(shuffle_seed).random(len(a)), a[:, 0]))
    a = a[order]
    st = a[:, 1].astype(int)
    r = RADII[st]
    cols = {
        "event": a[:, 0].astype(int),
        "x": r * np.cos(a[:, 2]),
        "y": r * np.sin(a[:, 2]),
        "z": a[:, 3],
        "station": st,
        "track": a[:, 4].astype(int),
    }
    return Hits(cols, n_events=n_events)


def features(hits: Hits) -> np.ndarray:
    r = np.hypot(hits["x"], hits["y"])
    return np.column_stack(
        [r / R_SCALE, np.arctan2(hits["y"], hits["x"]) / np.pi, hits["z"] / Z_SCALE]
    )


def line(event, track, phi, slope, stations=range(4), dphi=0.0):
    """Rows of a line from the origin: φ = phi + dphi·(station − first), z = slope · R."""
    s0 = min(stations)
    return [(event, s, phi + dphi * (s - s0), slope * RADII[s], track) for s in stations]


def find(hits: Hits, event, track, station) -> int:
    m = (hits["event"] == event) & (hits["track"] == track) & (hits["station"] == station)
    (i,) = np.flatnonzero(m)
    return int(i)


def all_seeds(hits: Hits) -> np.ndarray:
    """Every pair of hits of one event on stations k, k + 1 (what a brute-force seeder gives)."""
    ev, st = hits["event"], hits["station"]
    a, b = np.meshgrid(np.arange(len(hits)), np.arange(len(hits)), indexing="ij")
    ok = (ev[a] == ev[b]) & (st[b] == st[a] + 1)
    return np.column_stack([a[ok], b[ok]])


def as_lists(tracks) -> list[list[int]]:
    return [tracks[i].tolist() for i in range(len(tracks))]


# --------------------------------------------------------------------------------------------
# sequences


@pytest.fixture
def seq_hits() -> Hits:
    rows = (
        line(0, 0, 0.5, 0.3)
        + line(0, 1, np.pi - 0.003, -0.2, dphi=0.002)  # crosses φ = ±π between stations 1 and 2
        + [(0, 1, 2.0, 50.0, -1), (0, 3, -1.0, -100.0, -1)]  # noise
        + line(1, 4, -2.0, 0.1, stations=range(1, 3), dphi=0.1)
        + line(1, 7, 1.2, 0.5, stations=range(3))
        + [(1, 0, 0.0, 10.0, 9)]  # one-hit track: nothing to predict
    )
    return make_hits(rows, n_events=3)


def test_sequences_padding_relative_phi_and_targets(seq_hits):
    seqs = sequences(seq_hits, features(seq_hits))
    assert seqs.event.tolist() == [0, 0, 1, 1]
    assert seqs.track.tolist() == [0, 1, 4, 7]
    assert seqs.lengths.tolist() == [4, 4, 2, 3]
    assert seqs.x.shape == seqs.y.shape == (4, 4, 3) and seqs.x.dtype == np.float32
    assert seqs.station.tolist() == [[0, 1, 2, 3], [0, 1, 2, 3], [1, 2, -1, -1], [0, 1, 2, -1]]
    # r and z from the features, φ relative to the first hit, divided by π
    np.testing.assert_allclose(seqs.x[0, :, 0], [0.25, 0.5, 0.75, 1.0], rtol=1e-6)
    np.testing.assert_allclose(seqs.x[0, :, 2], 0.3 * RADII / Z_SCALE, rtol=1e-6)
    np.testing.assert_allclose(seqs.x[0, :, 1], 0.0, atol=1e-7)
    # the track crossing ±π: raw φ/π jumps from ≈ +1 to ≈ −1, the relative φ stays small
    np.testing.assert_allclose(seqs.x[1, :, 1], np.array([0, 2, 4, 6]) * 1e-3 / np.pi, atol=1e-6)
    np.testing.assert_allclose(seqs.x[2, :2, 1], [0.0, 0.1 / np.pi], atol=1e-6)
    # padding is zero, in inputs and targets
    assert (seqs.x[2, 2:] == 0).all() and (seqs.x[3, 3:] == 0).all()
    assert (seqs.y[2, 1:] == 0).all() and (seqs.y[3, 2:] == 0).all()
    # targets: the next hit's (φ_rel, z), masked on the last hit
    np.testing.assert_array_equal(
        seqs.y[:, :, 2], [[1, 1, 1, 0], [1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]]
    )
    np.testing.assert_array_equal(seqs.y[0, :3, :2], seqs.x[0, 1:, 1:])
    np.testing.assert_allclose(seqs.y[2, 0, :2], [0.1 / np.pi, 0.1 * 300 / Z_SCALE], atol=1e-6)
    # hit indices point back to the table (the table was shuffled within events)
    valid = seqs.hit >= 0
    assert (seq_hits["track"][seqs.hit[valid]] == np.repeat(seqs.track, seqs.lengths)).all()
    assert (seq_hits["station"][seqs.hit[valid]] == seqs.station[valid]).all()


def test_sequences_phi_scale(seq_hits):
    seqs = sequences(seq_hits, features(seq_hits), phi_scale=0.01)
    np.testing.assert_allclose(seqs.x[1, :, 1], [0, 0.2, 0.4, 0.6], atol=1e-4)


def test_sequences_reject_loopers_and_holes(seq_hits):
    looper = make_hits([*line(0, 3, 0.5, 0.3), (0, 1, 0.6, 50.0, 3)], n_events=1)
    with pytest.raises(ValueError, match=r"track 3 of event 0 .*DropSpinningTracks"):
        sequences(looper, features(looper))
    holed = make_hits(line(0, 5, 0.5, 0.3, stations=[0, 1, 3]), n_events=1)
    with pytest.raises(ValueError, match=r"track 5 of event 0 .*DropTracksWithHoles"):
        sequences(holed, features(holed))


def test_sequences_reject_bad_features(seq_hits):
    f = features(seq_hits)
    with pytest.raises(ValueError, match=r"features: shape .*expected \(16, 3\)"):
        sequences(seq_hits, f[:, :2])
    with pytest.raises(ValueError, match="features: shape"):
        sequences(seq_hits, f[1:])
    f[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"non-finite z .* hit 4"):
        sequences(seq_hits, f)


def test_loader_batches(seq_hits):
    seqs = sequences(seq_hits, features(seq_hits))
    batches = list(loader(seqs, batch_size=3))
    assert len(batches) == len(loader(seqs, batch_size=3)) == 2
    (x, lengths), y = batches[1]
    assert x.shape == y.shape == (1, 3, 3)  # cut to the batch's longest sequence
    assert lengths.dtype == torch.int64 and lengths.device.type == "cpu" and lengths.tolist() == [3]
    first = [list(loader(seqs, 2, shuffle=True, seed=5)) for _ in range(2)]
    for ((x1, l1), y1), ((x2, l2), y2) in zip(*first, strict=True):  # same seed, same order
        assert torch.equal(x1, x2) and torch.equal(l1, l2) and torch.equal(y1, y2)
    # a shuffled pass still holds every sequence once (first-hit z identifies a track)
    z0 = sorted(float(v) for (x, _), _ in first[0] for v in x[:, 0, 2])
    np.testing.assert_allclose(z0, np.sort(seqs.x[:, 0, 2]))


# --------------------------------------------------------------------------------------------
# hit efficiency


def test_hit_efficiency_counts_and_areas(seq_hits):
    seqs = sequences(seq_hits, features(seq_hits))
    res = hit_efficiency(
        LineModel(), seqs, batch_size=3, scales={"phi": np.pi, "z": Z_SCALE}, radii=RADII
    )
    # 9 steps; the only miss: step 0 of track 4, whose φ turns by 0.1 rad (0.1/π > a₀)
    assert res["n_steps"] == 9
    assert res["efficiency"] == pytest.approx(8 / 9)
    per = res["per_step"]
    np.testing.assert_array_equal(per["n"], [4, 3, 2])
    np.testing.assert_allclose(per["efficiency"], [3 / 4, 1, 1])
    area = np.pi * A_PHI * A_Z
    assert res["area"] == pytest.approx(area)
    # mm²: π · (a₀ · π rad · R) · (a₁ · 500 mm), R the next station's radius
    mm2 = np.pi * (A_PHI * np.pi) * (A_Z * Z_SCALE)
    np.testing.assert_allclose(per["area_mm2"], mm2 * np.array([225.0, 300.0, 400.0]))
    assert res["area_mm2"] == pytest.approx(mm2 * 2600 / 9)


def test_hit_efficiency_uses_each_semi_axis(seq_hits):
    seqs = sequences(seq_hits, features(seq_hits))
    # centres 0.015 off in z: inside a z semi-axis of 0.02, outside one of 0.01
    assert hit_efficiency(LineModel((0.2, 0.02), shift=0.015), seqs)["efficiency"] == 1.0
    assert hit_efficiency(LineModel((0.2, 0.01), shift=0.015), seqs)["efficiency"] == 0.0
    assert np.isnan(hit_efficiency(LineModel(), seqs)["area_mm2"])


def test_hit_efficiency_bad_scales(seq_hits):
    seqs = sequences(seq_hits, features(seq_hits))
    with pytest.raises(KeyError, match="missing 'z'"):
        hit_efficiency(LineModel(), seqs, scales={"phi": np.pi}, radii=RADII)
    with pytest.raises(ValueError, match="radii: shape"):
        hit_efficiency(LineModel(), seqs, scales={"phi": np.pi, "z": 1.0}, radii=RADII[:2])


# --------------------------------------------------------------------------------------------
# track building


@pytest.fixture
def clean() -> Hits:
    rows = (
        line(0, 0, 0.5, 0.3)
        + line(0, 1, np.pi - 0.003, -0.2, dphi=0.002)  # crosses φ = ±π
        + line(0, 2, -1.5, 0.1)
        + [
            (0, 0, 2.5, 80.0, -1),
            (0, 1, -2.8, -150.0, -1),
            (0, 2, 1.0, 200.0, -1),
            (0, 3, 0.55, 0.3 * 400, -1),  # next to track 0's last hit, outside its ellipse
        ]
        + line(1, 0, 2.0, 0.4)
        + line(1, 1, -0.3, -0.5)
        + [(1, 2, 0.0, 0.0, -1)]
        + [(3, 1, 0.7, 30.0, -1)]  # event 2 has no hits, event 3 one
    )
    return make_hits(rows, n_events=4)


def truth(hits: Hits, event: int, track: int, stations=range(4)) -> list[int]:
    return [find(hits, event, track, s) for s in stations]


def test_builder_recovers_true_tracks(clean):
    seeds = all_seeds(clean)
    tracks, quality = build_tracks(LineModel(), clean, features(clean), seeds, n_stations=4)
    expected = [truth(clean, 0, t) for t in (0, 1, 2)] + [truth(clean, 1, t) for t in (0, 1)]
    found = as_lists(tracks)
    assert sorted(found) == sorted(expected)
    assert tracks.event(clean).tolist() == [0, 0, 0, 1, 1]  # ordered by event
    for t in found:  # inner → outer
        assert clean["station"][t].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(quality["n_hits"], 4)
    np.testing.assert_array_equal(quality["n_holes"], 0)
    np.testing.assert_allclose(quality["distance"], 0.0, atol=1e-3)
    assert [seeds[s].tolist() for s in quality["seed"]] == [t[:2] for t in found]


def test_builder_with_ellipses_wider_than_the_detector(clean):
    # semi-axis in φ of 2 (2π rad): every hit of the station is a choice, the nearest wins
    seeds = all_seeds(clean)
    tracks, _ = build_tracks(LineModel((2.0, 2.0)), clean, features(clean), seeds, n_stations=4)
    expected = [truth(clean, 0, t) for t in (0, 1, 2)] + [truth(clean, 1, t) for t in (0, 1)]
    assert {tuple(t) for t in expected} <= {tuple(t) for t in as_lists(tracks)}
    # one candidate per model call and per hit search: the same result
    one, _ = build_tracks(
        LineModel((2.0, 2.0)), clean, features(clean), seeds, n_stations=4, batch_size=1
    )
    assert as_lists(one) == as_lists(tracks)


def test_builder_noise_seeds_give_nothing():
    rows = [(0, 0, 0.0, 0.0, -1), (0, 1, 1.0, 50.0, -1), (0, 2, 0.5, -50.0, -1)]
    rows += [(0, 3, 2.0, 100.0, -1), (0, 0, 3.0, 20.0, -1), (0, 1, -2.0, -80.0, -1)]
    rows += [(0, 2, -0.7, 120.0, -1), (0, 3, 1.4, -10.0, -1)]
    hits = make_hits(rows, n_events=1)
    seeds = all_seeds(hits)
    assert len(seeds) == 12
    tracks, quality = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=4)
    assert len(tracks) == 0 and all(len(v) == 0 for v in quality.values())


def test_builder_empty_events_and_no_seeds(clean):
    one = make_hits([(0, 2, 0.3, 10.0, -1)], n_events=2)
    for hits, seeds in ((one, np.zeros((0, 2), int)), (clean, np.zeros((0, 2), int))):
        tracks, quality = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=4)
        assert len(tracks) == 0 and len(tracks.hits) == 0 and len(quality["seed"]) == 0
    empty = Hits({c: np.zeros(0) for c in ("event", "x", "y", "z", "station", "track")}, n_events=3)
    tracks, _ = build_tracks(LineModel(), empty, np.zeros((0, 3)), np.zeros(0), n_stations=3)
    assert len(tracks) == 0


def test_builder_resolves_shared_hits():
    # track 0 on 3 stations; a noise hit on station 0, 2.5 mm (0.005 normalised) off in z: the
    # seed (noise, hit 1) extrapolates 0.005 off hit 2 → normalised distance 0.005/0.02 = 0.25
    rows = [*line(0, 0, 0.3, 0.2, stations=range(3)), (0, 0, 0.3, 0.2 * 100 + 2.5, -1)]
    hits = make_hits(rows, n_events=1)
    t = truth(hits, 0, 0, range(3))
    noise = int(np.flatnonzero(hits["track"] < 0)[0])
    seeds = np.array([[noise, t[1]], t[:2]])
    tracks, quality = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=3)
    assert as_lists(tracks) == [t]
    assert quality["seed"].tolist() == [1]
    tracks, quality = build_tracks(
        LineModel(), hits, features(hits), seeds, n_stations=3, max_shared=2
    )
    assert as_lists(tracks) == [t, [noise, *t[1:]]]
    np.testing.assert_allclose(quality["distance"], [0.0, 0.25], atol=1e-4)


def test_builder_keeps_tracks_crossing_at_one_hit():
    # φ 0.1, 0.2, 0.3 and 0.3, 0.2, 0.1: both lines pass through the same station-1 hit
    rows = line(0, 0, 0.1, 0.0, range(3), dphi=0.1) + line(0, 1, 0.3, 0.0, range(3), dphi=-0.1)
    rows = [r for r in rows if not (r[1] == 1 and r[4] == 1)]
    hits = make_hits(rows, n_events=1)
    a = truth(hits, 0, 0, range(3))
    b = [find(hits, 0, 1, 0), a[1], find(hits, 0, 1, 2)]
    seeds = np.array([a[:2], b[:2]])
    tracks, _ = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=3)
    assert as_lists(tracks) == [a, b]
    tracks, _ = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=3, max_shared=0)
    assert as_lists(tracks) == [a]


def test_builder_counts_shared_hits_per_better_track():
    # A: φ = 0.2 flat; B: φ = 0.5, 0.4, 0.3; C: φ = 0.1 then A's station-1 hit and B's
    # station-2 hit (all at z = 0). C shares one hit with A and one with B: kept with
    # max_shared=1 (the count is per better-ranked track, not over all of them).
    rows = line(0, 0, 0.2, 0.0, range(3)) + line(0, 1, 0.5, 0.0, range(3), dphi=-0.1)
    rows += [(0, 0, 0.1, 0.0, 2)]
    hits = make_hits(rows, n_events=1)
    a, b = truth(hits, 0, 0, range(3)), truth(hits, 0, 1, range(3))
    c = [find(hits, 0, 2, 0), a[1], b[2]]
    seeds = np.array([a[:2], b[:2], c[:2]])
    tracks, _ = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=3)
    assert as_lists(tracks) == [a, b, c]
    tracks, _ = build_tracks(LineModel(), hits, features(hits), seeds, n_stations=3, max_shared=0)
    assert as_lists(tracks) == [a, b]


@pytest.mark.parametrize(
    ("u_phi", "u_z", "distance"),
    [(0.0, 0.5, 0.5), (0.6, 0.6, np.sqrt(0.72)), (-0.99, 0.0, 0.99), (0.8, 0.65, None)],
)
def test_builder_ellipse_test_and_distance(u_phi, u_z, distance):
    # the third hit off the line by (u_phi · a₀, u_z · a₁) in normalised (φ_rel, z): inside when
    # u_phi² + u_z² ≤ 1 (an ellipse, not its bounding box), at normalised distance √(u² + v²)
    phi2 = -0.4 + u_phi * A_PHI * np.pi
    rows = [*line(0, 0, -0.4, 0.2, stations=range(2)), (0, 2, phi2, 60.0 + u_z * A_Z * Z_SCALE, 0)]
    hits = make_hits(rows, n_events=1)
    t = truth(hits, 0, 0, range(3))
    tracks, quality = build_tracks(
        LineModel(), hits, features(hits), np.array([t[:2]]), n_stations=3
    )
    if distance is None:
        assert len(tracks) == 0
    else:
        assert as_lists(tracks) == [t]
        np.testing.assert_allclose(quality["distance"], [distance], atol=1e-4)


def test_builder_takes_the_nearest_hit_inside():
    # two hits inside the ellipse on station 2: 2.5 mm and 7.5 mm off in z (0.25, 0.75 of a₁)
    rows = line(0, 0, 0.6, 0.2, stations=range(2))
    rows += [(0, 2, 0.6, 0.2 * 300 + 7.5, -1), (0, 2, 0.6, 0.2 * 300 - 2.5, -1)]
    hits = make_hits(rows, n_events=1)
    t = truth(hits, 0, 0, range(2))
    near = int(np.flatnonzero((hits["station"] == 2) & (hits["z"] < 60))[0])
    tracks, quality = build_tracks(LineModel(), hits, features(hits), np.array([t]), n_stations=3)
    assert as_lists(tracks) == [[*t, near]]
    np.testing.assert_allclose(quality["distance"], [0.25], atol=1e-4)


def test_builder_holes():
    # track 0 misses station 2; a noise hit sits on station 2 far away
    rows = [*line(0, 0, 0.8, 0.25, stations=[0, 1, 3]), (0, 2, -2.0, -100.0, -1)]
    hits = make_hits(rows, n_events=1)
    t = [find(hits, 0, 0, s) for s in (0, 1, 3)]
    seeds = np.array([t[:2]])
    f = features(hits)
    tracks, _ = build_tracks(LineModel(), hits, f, seeds, n_stations=4)
    assert len(tracks) == 0  # ends at station 2 with 2 hits
    tracks, quality = build_tracks(LineModel(), hits, f, seeds, n_stations=4, max_holes=1)
    assert as_lists(tracks) == [t]
    assert quality["n_holes"].tolist() == [1] and quality["n_hits"].tolist() == [3]


def test_builder_track_ending_early_and_min_hits():
    rows = line(0, 0, 0.8, 0.25, stations=range(3))  # no hit on the last station
    hits = make_hits(rows, n_events=1)
    t = truth(hits, 0, 0, range(3))
    f, seeds = features(hits), np.array([t[:2]])
    tracks, quality = build_tracks(LineModel(), hits, f, seeds, n_stations=4, max_holes=1)
    assert as_lists(tracks) == [t] and quality["n_holes"].tolist() == [0]
    tracks, _ = build_tracks(LineModel(), hits, f, seeds, n_stations=4, min_hits=4)
    assert len(tracks) == 0


def test_builder_rejects_bad_input(clean):
    f = features(clean)
    a = truth(clean, 0, 0)
    with pytest.raises(ValueError, match="features: shape"):
        build_tracks(LineModel(), clean, f[:, :2], np.array([a[:2]]), n_stations=4)
    with pytest.raises(ValueError, match=r"seeds: row 1 .*adjacent"):
        build_tracks(LineModel(), clean, f, np.array([a[:2], [a[0], a[2]]]), n_stations=4)
    other = truth(clean, 1, 0)
    with pytest.raises(ValueError, match=r"seeds: row 0 .*event 0.*event 1"):
        build_tracks(LineModel(), clean, f, np.array([[a[0], other[1]]]), n_stations=4)
    with pytest.raises(ValueError, match="seeds: shape"):
        build_tracks(LineModel(), clean, f, np.array(a), n_stations=4)
    with pytest.raises(ValueError, match="outside 0"):
        build_tracks(LineModel(), clean, f, np.array([[a[0], len(clean)]]), n_stations=4)
    with pytest.raises(ValueError, match="column 'station'"):
        build_tracks(LineModel(), clean, f, np.array([a[:2]]), n_stations=3)
    with pytest.raises(ValueError, match="min_hits=2"):
        build_tracks(LineModel(), clean, f, np.array([a[:2]]), n_stations=4, min_hits=2)


def test_builder_rejects_wrong_model_output(clean):
    class Bad(nn.Module):
        def forward(self, x, lengths):
            return x

    a = truth(clean, 0, 0)
    with pytest.raises(ValueError, match="model output"):
        build_tracks(Bad(), clean, features(clean), np.array([a[:2]]), n_stations=4)


def test_with_the_tracknet_model(clean):
    """The chapter's functions run with the library's TrackNETv2 (untrained: no physics)."""
    models = pytest.importorskip("hepnb.models.tracknet")
    torch.manual_seed(0)
    model = models.TrackNETv2(input_features=3, hidden=8, num_layers=1)
    seqs = sequences(clean, features(clean))
    (x, lengths), y = next(iter(loader(seqs, batch_size=4, shuffle=True, seed=0)))
    loss = models.tracknet_loss(model(x, lengths), y)
    loss.backward()
    assert torch.isfinite(loss)
    res = hit_efficiency(model, seqs)
    assert 0.0 <= res["efficiency"] <= 1.0 and res["n_steps"] == 5 * 3
    tracks, quality = build_tracks(model, clean, features(clean), all_seeds(clean), n_stations=4)
    st, ev = clean["station"], clean["event"]
    for i in range(len(tracks)):  # whatever it finds: one event, consecutive stations
        t = tracks[i]
        assert len(set(ev[t])) == 1 and (np.diff(st[t]) == 1).all() and len(t) >= 3
    assert ((quality["distance"] >= 0) & (quality["distance"] <= 1)).all()
