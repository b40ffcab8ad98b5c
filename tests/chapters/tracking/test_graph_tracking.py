"""Hit graphs and track building (:mod:`hepnb.chapters.tracking.graph`), on hand-built events
whose segments, features and tracks are worked out by hand, and on analytic helices."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from torch_geometric.data import Batch

from hepnb.chapters.tracking import graph as G
from hepnb.chapters.tracking.hits import Hits

RADII = (100.0, 200.0, 300.0, 400.0)  # mm, station 0 … 3

# (event, station, φ [rad], z [mm], track); r = RADII[station]. Hits of an event are listed
# out of station order on purpose. Event 0: particles 0 and 1 cross in φ between stations 1
# and 2 (p0: z = r / 2, z0 = 0; p1: z = −r / 5 + 10, z0 = 10) plus a noise hit. Event 1:
# particle 0 crosses φ = ±π; particle 1 loops, with two hits on station 1; one noise hit.
HAND = [
    (0, 2, 0.14, 150.0, 0),  # 0  p0 s2
    (0, 0, 0.10, 50.0, 0),  # 1  p0 s0
    (0, 1, 0.14, -30.0, 1),  # 2  p1 s1
    (0, 3, 0.16, 200.0, 0),  # 3  p0 s3
    (0, 0, 0.16, -10.0, 1),  # 4  p1 s0
    (0, 2, -2.00, 0.0, -1),  # 5  noise s2
    (0, 1, 0.12, 100.0, 0),  # 6  p0 s1
    (0, 3, 0.10, -70.0, 1),  # 7  p1 s3
    (0, 2, 0.12, -50.0, 1),  # 8  p1 s2
    (1, 1, -3.13, 20.0, 0),  # 9  q0 s1
    (1, 0, 3.10, 10.0, 0),  # 10 q0 s0
    (1, 1, 1.05, 40.0, 1),  # 11 looper s1 (a)
    (1, 2, -3.10, 30.0, 0),  # 12 q0 s2
    (1, 0, 1.00, 20.0, 1),  # 13 looper s0
    (1, 1, 1.06, 41.0, 1),  # 14 looper s1 (b)
    (1, 2, 1.10, 60.0, 1),  # 15 looper s2
    (1, 0, -1.50, 0.0, -1),  # 16 noise s0
]
#: The true segments of HAND, by hand: consecutive stations of one particle; the looper's two
#: station-1 hits each pair with its station-0 and station-2 hits.
HAND_TRUE = {
    (1, 6),
    (6, 0),
    (0, 3),
    (4, 2),
    (2, 8),
    (8, 7),
    (10, 9),
    (9, 12),
    (13, 11),
    (13, 14),
    (11, 15),
    (14, 15),
}


def _hits(rows, n_events: int = 0) -> Hits:
    """A table from ``(event, station, φ, z, track)`` rows, r = RADII[station]."""
    table = np.asarray(rows, np.float64).reshape(-1, 5)
    ev, st, tr = (table[:, i].astype(np.int64) for i in (0, 1, 4))
    phi, z = table[:, 2], table[:, 3]
    r = np.asarray(RADII)[st]
    cols = {"event": ev, "x": r * np.cos(phi), "y": r * np.sin(phi), "z": z}
    return Hits({**cols, "station": st, "track": tr}, n_events=n_events)


@pytest.fixture
def hand() -> Hits:
    return _hits(HAND)


def _pairs(graph: G.Graph) -> set[tuple[int, int]]:
    return set(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))


def _random_hits(seed: int, n_events: int = 6, n_tracks: int = 8, noise: int = 10) -> Hits:
    """Helices from near the origin (1 T) on 4 layers, φ all around (±π crossings), noise."""
    rng = np.random.default_rng(seed)
    n = n_events * n_tracks
    s = len(RADII)
    pt = rng.uniform(0.3, 3.0, n)
    q = rng.choice([-1, 1], n)
    big_r = np.repeat(pt / G.PT_PER_TESLA_MM, s)
    r = np.tile(RADII, n)
    phi = np.repeat(rng.uniform(-np.pi, np.pi, n), s) - np.repeat(q, s) * np.arcsin(r / (2 * big_r))
    z = np.repeat(rng.normal(0, 20, n), s) + np.repeat(rng.uniform(-1, 1, n), s) * r
    ev = np.repeat(np.arange(n_events), n_tracks * s)
    st = np.tile(np.arange(s), n)
    tr = np.tile(np.repeat(np.arange(n_tracks), s), n_events)
    # noise: uniform in φ and z on random stations
    ne = n_events * noise
    nst = rng.integers(0, s, ne)
    nr = np.asarray(RADII)[nst]
    nphi = rng.uniform(-np.pi, np.pi, ne)
    cols = {
        "event": np.concatenate([ev, np.repeat(np.arange(n_events), noise)]),
        "x": np.concatenate([r * np.cos(phi), nr * np.cos(nphi)]),
        "y": np.concatenate([r * np.sin(phi), nr * np.sin(nphi)]),
        "z": np.concatenate([z, rng.uniform(-300, 300, ne)]),
        "station": np.concatenate([st, nst]),
        "track": np.concatenate([tr, np.full(ne, -1)]),
    }
    order = np.argsort(cols["event"], kind="stable")
    return Hits({k: v[order] for k, v in cols.items()})


def _brute_force(hits: Hits, cuts: G.GraphCuts) -> set[tuple[int, int]]:
    """Every pair of hits of one event on adjacent stations that passes the cuts."""
    n = len(hits)
    i, j = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    ok = (hits["event"][i] == hits["event"][j]) & (hits["station"][j] == hits["station"][i] + 1)
    i, j = i[ok], j[ok]
    keep = cuts.passes(G.segment_features(hits, i, j))
    return set(zip(i[keep].tolist(), j[keep].tolist(), strict=True))


# --- segment features ---------------------------------------------------------------------


def test_segment_features_by_hand(hand):
    f = G.segment_features(hand, [1, 4, 10], [6, 2, 9])
    # p0, s0 → s1: r 100 → 200, φ 0.10 → 0.12, z 50 → 100 (z = r/2 through the origin)
    assert f["dr"][0] == pytest.approx(100.0)
    assert f["dphi"][0] == pytest.approx(0.02)
    assert f["dz"][0] == pytest.approx(50.0)
    assert f["phi_slope"][0] == pytest.approx(2e-4)
    assert f["z0"][0] == pytest.approx(0.0, abs=1e-9)
    assert f["deta"][0] == pytest.approx(0.0, abs=1e-12)  # same z/r, same η
    assert f["dR"][0] == pytest.approx(0.02)
    # p1: z = −r/5 + 10 → z0 = 10 mm; η = asinh(z / r)
    assert f["z0"][1] == pytest.approx(10.0)
    assert f["dphi"][1] == pytest.approx(-0.02)
    assert f["deta"][1] == pytest.approx(math.asinh(-30 / 200) - math.asinh(-10 / 100))
    # across φ = ±π: 3.10 → −3.13 is a turn of 2π − 6.23, not −6.23
    assert f["dphi"][2] == pytest.approx(2 * math.pi - 6.23)
    assert f["phi_slope"][2] == pytest.approx((2 * math.pi - 6.23) / 100)


def test_dphi_wraps_to_minus_pi_exclusive_pi_inclusive():
    rows = [(0, 0, 0.0, 0.0, -1), (0, 1, math.pi, 0.0, -1)]
    f = G.segment_features(_hits(rows), [0, 1], [1, 0])
    assert f["dphi"] == pytest.approx([math.pi, math.pi])


# --- truth --------------------------------------------------------------------------------


def test_true_segments_by_hand(hand):
    src, dst = G.true_segments(hand)
    assert set(zip(src.tolist(), dst.tolist(), strict=True)) == HAND_TRUE
    assert len(src) == len(HAND_TRUE)  # no duplicates
    g = G.build_graph(hand, G.GraphCuts())
    assert g.n_true_segments.tolist() == [6, 6]
    truth = {(s, d) for s, d, y in zip(g.src, g.dst, g.y, strict=True) if y == 1}
    assert truth == HAND_TRUE  # without cuts every true segment is an edge, labelled 1


def test_graph_without_cuts_is_the_adjacent_station_product(hand):
    g = G.build_graph(hand, G.GraphCuts())
    # event 0: 2, 2, 3, 2 hits on stations 0–3 → 2·2 + 2·3 + 3·2 = 16; event 1: 3, 3, 2 → 15
    assert len(g) == 31
    assert np.bincount(g.event).tolist() == [16, 15]
    ev, st = hand["event"], hand["station"]
    assert (ev[g.src] == ev[g.dst]).all() and (ev[g.src] == g.event).all()
    assert (st[g.dst] == st[g.src] + 1).all()
    assert _pairs(g) == _brute_force(hand, G.GraphCuts())
    assert (np.diff(g.event) >= 0).all()


def test_pairs_never_cross_events():
    # Two events with the same hits at the same places: only pairs within an event.
    rows = [(e, s, 0.1, 0.0, 0) for e in (0, 1) for s in (0, 1, 2)]
    hits = _hits(rows)
    g = G.build_graph(hits, G.GraphCuts(phi_slope_max=1e-3))
    assert _pairs(g) == {(0, 1), (1, 2), (3, 4), (4, 5)}
    assert g.event.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "cuts",
    [
        G.GraphCuts(phi_slope_max=2e-3),
        G.GraphCuts(phi_slope_max=5e-4, z0_max=60.0),
        G.GraphCuts(z0_max=40.0, deta_max=0.2),
        G.GraphCuts.for_pt(1.0, 0.5, z0_max=80.0),
    ],
    ids=["phi_slope", "phi_slope+z0", "z0+deta", "pt"],
)
def test_window_search_finds_every_pair_the_cuts_keep(cuts):
    hits = _random_hits(3)
    expected = _brute_force(hits, cuts)
    assert expected  # the comparison is not empty
    for chunk in (G.CHUNK_PAIRS, 7, 1):  # chunking changes nothing
        assert _pairs(G.build_graph(hits, cuts, chunk=chunk)) == expected


def test_a_segment_across_phi_pi_is_kept_by_the_window(hand):
    g = G.build_graph(hand, G.GraphCuts(phi_slope_max=1e-3))
    assert {(10, 9), (9, 12)} <= _pairs(g)


# --- cuts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.9, 0.98])
def test_fitted_cuts_keep_the_requested_fraction(keep):
    hits = _random_hits(1, n_events=20, n_tracks=20)
    cuts = G.GraphCuts.fit(hits, keep=keep, features=("phi_slope", "z0", "deta"))
    src, dst = G.true_segments(hits)
    f = G.segment_features(hits, src, dst)
    for name, cut in (
        ("phi_slope", cuts.phi_slope_max),
        ("z0", cuts.z0_max),
        ("deta", cuts.deta_max),
    ):
        value = np.abs(f[name])
        assert np.mean(value <= cut) >= keep  # each cut alone keeps ≥ keep …
        assert np.mean(value <= np.nextafter(cut, 0)) < keep  # … and is the smallest that does
    # the graph keeps at least 1 − 3 (1 − keep) of the true segments (union bound)
    rates = G.graph_rates(G.build_graph(hits, cuts))
    assert rates["efficiency"] >= 1 - 3 * (1 - keep)
    assert rates["true_all"] == len(src)


def test_fit_uses_true_segments_only():
    hits = _random_hits(2, noise=0)
    noisy = _random_hits(2, noise=30)  # same particles (drawn first), plus noise hits
    assert G.GraphCuts.fit(hits) == G.GraphCuts.fit(noisy)
    default = G.GraphCuts.fit(hits)
    assert math.isinf(default.deta_max) and default.pt_min == 0


def _helix(pt: float, q: int, phi0: float, b_field: float = 1.0) -> tuple[np.ndarray, ...]:
    """Hits at RADII of a unit-charge helix of transverse momentum pt [GeV] from the origin:
    on a circle of radius R = pT / (0.2998 B) through the origin, φ(r) = φ₀ − q·asin(r/2R)."""
    big_r = pt / (0.299792458 * b_field) * 1000.0
    r = np.asarray(RADII)
    phi = phi0 - q * np.arcsin(r / (2 * big_r))
    return r * np.cos(phi), r * np.sin(phi), 0.3 * r


def test_pt_cut_keeps_a_helix_above_pt_min_and_rejects_one_below():
    pt_min, b_field = 0.2, 1.0
    cuts = G.GraphCuts.for_pt(b_field, pt_min, z0_max=50.0)
    # the cut between two radii, by hand: R_min = 0.2 / 0.2998 m = 667.1 mm
    r_min = pt_min / 0.299792458 * 1000.0
    limit = math.asin(200 / (2 * r_min)) - math.asin(100 / (2 * r_min))
    assert cuts.dphi_limit(np.array([100.0]), np.array([200.0]))[0] == pytest.approx(limit)
    tracks = [  # (pT factor, charge, φ0) — φ0 near π to cross ±π too
        (1.01, 1, 0.5),
        (1.01, -1, 3.1),
        (0.99, 1, -1.0),
        (0.5, -1, 2.0),
        (0.5, 1, -3.1),
    ]
    cols: dict[str, list] = {k: [] for k in ("event", "x", "y", "z", "station", "track")}
    for e, (f, q, phi0) in enumerate(tracks):
        x, y, z = _helix(f * pt_min, q, phi0, b_field)
        for k, v in zip(("x", "y", "z"), (x, y, z), strict=True):
            cols[k].extend(v)
        cols["event"].extend([e] * 4)
        cols["station"].extend(range(4))
        cols["track"].extend([0] * 4)
    hits = Hits({k: np.asarray(v) for k, v in cols.items()})
    g = G.build_graph(hits, cuts)
    kept = G.graph_counts(g)["true_kept"]
    assert kept.tolist() == [3, 3, 0, 0, 0]  # slightly above: all 3 segments; below: none


# --- counts and rates ---------------------------------------------------------------------


def test_counts_and_rates_by_hand(hand):
    # z0 ≤ 5 mm drops particle 0 of event 0 (z0 = 10 mm) and keeps all others (z0 = 0,
    # −1 and 3 mm for the looper's segments, 0 for the ±π track).
    g = G.build_graph(hand, G.GraphCuts(z0_max=5.0))
    c = G.graph_counts(g, n_events=2)
    assert c["true_all"].tolist() == [6, 6]
    assert c["true_kept"].tolist() == [3, 6]
    assert c["kept"].tolist() == np.bincount(g.event, minlength=2).tolist()
    rates = G.graph_rates(g)
    assert rates["efficiency"] == pytest.approx(9 / 12)
    assert rates["purity"] == pytest.approx(9 / len(g))
    with pytest.raises(ValueError, match="n_events"):
        G.graph_counts(g, n_events=3)


# --- PyG ----------------------------------------------------------------------------------


def _with_sparse_events() -> Hits:
    """HAND plus an empty event 2 and a one-hit event 3."""
    return _hits([*HAND, (3, 1, 0.5, 0.0, 0)], n_events=4)


def test_to_pyg_graphs(hand):
    hits = _with_sparse_events()
    g = G.build_graph(hits, G.GraphCuts())
    feats = np.arange(len(hits) * 3, dtype=np.float64).reshape(-1, 3)
    data = G.to_pyg(g, hits, feats)
    assert [d.num_nodes for d in data] == [9, 8, 0, 1]
    assert [d.edge_index.shape[1] for d in data] == [16, 15, 0, 0]
    d0 = data[0]
    assert d0.x.dtype == torch.float32 and torch.equal(d0.x, torch.tensor(feats[:9]).float())
    assert d0.edge_attr.shape == (16, 4) and d0.edge_attr.dtype == torch.float32
    assert d0.y.dtype == torch.float32 and d0.edge_index.dtype == torch.int64
    # edge (1 → 6): dr 100 mm, dφ 0.02 rad, dz 50 mm, ΔR 0.02 / (100, 0.1, 100, 0.1)
    e = int(np.flatnonzero((g.src == 1) & (g.dst == 6))[0])
    local = d0.edge_id.tolist().index(e)
    assert d0.edge_index[:, local].tolist() == [1, 6]
    assert d0.edge_attr[local].tolist() == pytest.approx([1.0, 0.2, 0.5, 0.2], rel=1e-6)
    assert d0.y[local] == 1.0
    d1 = data[1]
    assert d1.hit_id.tolist() == list(range(9, 17))
    assert (d1.edge_index.min() >= 0) and (d1.edge_index.max() < 8)
    assert data[3].hit_id.tolist() == [17] and data[3].edge_attr.shape == (0, 4)
    # a batch maps back to the global graph through hit_id and edge_id
    batch = Batch.from_data_list(data)
    gid = batch.edge_id.numpy()
    assert (batch.hit_id[batch.edge_index[0]].numpy() == g.src[gid]).all()
    assert (batch.hit_id[batch.edge_index[1]].numpy() == g.dst[gid]).all()
    assert (batch.y.numpy() == g.y[gid]).all()


def test_empty_and_one_hit_events_give_no_edges_and_no_crash():
    hits = _hits([(1, 0, 0.3, 0.0, 0)], n_events=3)  # events 0 and 2 empty, event 1: one hit
    g = G.build_graph(hits, G.GraphCuts())
    assert len(g) == 0 and g.n_true_segments.tolist() == [0, 0, 0]
    data = G.to_pyg(g, hits, np.zeros((1, 3)))
    assert [d.num_nodes for d in data] == [0, 1, 0]
    assert all(d.edge_index.shape == (2, 0) for d in data)
    assert len(G.tracks_from_edges(g, np.zeros(0), 0.5)) == 0
    rates = G.graph_rates(g)
    assert math.isnan(rates["efficiency"]) and math.isnan(rates["purity"])
    none = _hits([], n_events=2)
    g = G.build_graph(none, G.GraphCuts.for_pt(1.0, 0.2))
    assert len(g) == 0 and len(G.to_pyg(g, none, np.zeros((0, 3)))) == 2


# --- track building -----------------------------------------------------------------------


def _tracks(t) -> list[list[int]]:
    return [t[i].tolist() for i in range(len(t))]


def test_perfect_scores_give_the_particles(hand):
    g = G.build_graph(hand, G.GraphCuts())
    t = G.tracks_from_edges(g, g.y.astype(float), 0.5, len(hand))
    # event 0: the two particles, hits by station; event 1: the ±π track, and the looper
    # with one of its two station-1 hits (ties go to the edge listed first: 13 → 11 → 15).
    assert _tracks(t) == [[1, 6, 0, 3], [4, 2, 8, 7], [10, 9, 12], [13, 11, 15]]
    assert t.event(hand).tolist() == [0, 0, 1, 1]
    assert len(G.tracks_from_edges(g, g.y.astype(float), 0.5, min_hits=4)) == 2


def _event0_scores(g: G.Graph, wrong: dict[tuple[int, int], float]) -> np.ndarray:
    scores = 0.9 * g.y.astype(float)
    for (s, d), v in wrong.items():
        scores[np.flatnonzero((g.src == s) & (g.dst == d))] = v
    return scores


def test_mutual_best_prevents_a_merged_track(hand):
    g = G.build_graph(hand.select_events([0]), G.GraphCuts())
    # A wrong edge 6 → 8 (p0 s1 → p1 s2) outscoring both true edges at its ends (0.95 > 0.9):
    # it is the best out of 6 and the best into 8, so it survives, and 6 → 0 and 2 → 8 go.
    t = G.tracks_from_edges(g, _event0_scores(g, {(6, 8): 0.95}), 0.5)
    assert _tracks(t) == [[0, 3], [1, 6, 8, 7], [4, 2]]
    # Without the rule the kept edges (score > 0.5) join all eight hits into one component.
    keep = _event0_scores(g, {(6, 8): 0.95}) > 0.5
    n = g.n_hits
    adjacency = sparse.coo_array((np.ones(keep.sum()), (g.src[keep], g.dst[keep])), (n, n))
    labels = connected_components(adjacency, directed=False)[1]
    assert np.bincount(labels).max() == 8
    # A wrong edge below the true ones loses at both ends: the particles come out exactly.
    t = G.tracks_from_edges(g, _event0_scores(g, {(6, 8): 0.6}), 0.5)
    assert _tracks(t) == [[1, 6, 0, 3], [4, 2, 8, 7]]
    # Best out of 6 but not into 8 (2 → 8 scores 0.97): the wrong edge goes, and so does
    # 6 → 0, which lost at 6 — particle 0 splits in two rather than merging with particle 1.
    t = G.tracks_from_edges(g, _event0_scores(g, {(6, 8): 0.95, (2, 8): 0.97}), 0.5)
    assert _tracks(t) == [[0, 3], [1, 6], [4, 2, 8, 7]]
    # An edge exactly at the threshold is not kept (score > threshold).
    t = G.tracks_from_edges(g, 0.5 * g.y.astype(float), 0.5)
    assert len(t) == 0


# --- errors -------------------------------------------------------------------------------


def test_hits_lacking_a_column(hand):
    hand.columns.pop("z")
    with pytest.raises(KeyError, match="'z'"):
        G.build_graph(hand, G.GraphCuts())
    with pytest.raises(KeyError, match="'z'"):
        G.segment_features(hand, [0], [1])
    with pytest.raises(KeyError, match="'z'"):
        G.GraphCuts.fit(hand)


def test_bad_inputs(hand):
    g = G.build_graph(hand, G.GraphCuts())
    ok = np.full(len(g), 0.5)
    for threshold in (-0.1, 1.5, math.nan, True):
        with pytest.raises(ValueError, match="threshold"):
            G.tracks_from_edges(g, ok, threshold)
    with pytest.raises(ValueError, match=r"scores of shape \(30,\), expected \(31,\)"):
        G.tracks_from_edges(g, ok[1:], 0.5)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        G.tracks_from_edges(g, np.linspace(-2, 2, len(g)), 0.5)  # logits, not probabilities
    with pytest.raises(ValueError, match="n_hits"):
        G.tracks_from_edges(g, ok, 0.5, 5)
    with pytest.raises(ValueError, match="min_hits"):
        G.tracks_from_edges(g, ok, 0.5, min_hits=0)
    with pytest.raises(ValueError, match="node_features"):
        G.to_pyg(g, hand, np.zeros((len(hand) - 1, 3)))
    with pytest.raises(ValueError, match="edge_scale"):
        G.to_pyg(g, hand, np.zeros((len(hand), 3)), edge_scale=(1.0, 0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="built on"):
        G.to_pyg(g, hand.select_events([0]), np.zeros((9, 3)))
    with pytest.raises(ValueError, match="keep"):
        G.GraphCuts.fit(hand, keep=0.0)
    with pytest.raises(ValueError, match="features"):
        G.GraphCuts.fit(hand, features=("dz",))
    with pytest.raises(ValueError, match="z0_max"):
        G.GraphCuts(z0_max=-1.0)
    with pytest.raises(ValueError, match="pt_min"):
        G.GraphCuts(pt_min=0.2)  # without a field
    with pytest.raises(ValueError, match="b_field"):
        G.GraphCuts.for_pt(0.0, 0.2)
    with pytest.raises(ValueError, match="outside 0"):
        G.segment_features(hand, [0], [len(hand)])
    bad = hand.with_columns(x=np.where(np.arange(len(hand)) == 3, np.nan, hand["x"]))
    with pytest.raises(ValueError, match=r"'x' has 1 non-finite values \(first at hit 3\)"):
        G.build_graph(bad, G.GraphCuts())
    with pytest.raises(ValueError, match="no true segment"):
        G.GraphCuts.fit(hand.with_columns(track=np.full(len(hand), -1)))


@pytest.mark.slow
def test_dense_events_fit_in_memory():
    """100 events × 200 particles × 10 layers, with a cut that does not bound dφ (so every
    same-event adjacent pair is examined, 36 M of them): numpy's peak stays far below 1 GB."""
    rng = np.random.default_rng(0)
    n_ev, n_tr, s = 100, 200, 10
    n = n_ev * n_tr
    r = np.tile(np.linspace(60.0, 800.0, s), n)
    phi = np.repeat(rng.uniform(-np.pi, np.pi, n), s)
    z = np.repeat(rng.uniform(-1, 1, n), s) * r + np.repeat(rng.normal(0, 10, n), s)
    hits = Hits(
        {
            "event": np.repeat(np.arange(n_ev), n_tr * s),
            "x": r * np.cos(phi),
            "y": r * np.sin(phi),
            "z": z,
            "station": np.tile(np.arange(s), n),
            "track": np.tile(np.repeat(np.arange(n_tr), s), n_ev),
        }
    )
    tracemalloc.start()
    try:
        g = G.build_graph(hits, G.GraphCuts(z0_max=20.0, deta_max=0.02))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**29  # 512 MiB
    assert G.graph_rates(g)["true_all"] == n_ev * n_tr * (s - 1)
