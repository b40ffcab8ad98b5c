"""Track matching (double majority), tracking rates and the event bootstrap of hepnb.evaluate,
on hand-built events whose every category is worked out by hand below."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepnb import evaluate

# One hand-built event: hits are numbered in blocks per particle (−1: noise).
#   P0: hits 0–4      T0 = all 5                     → matched, purity 1
#   P1: hits 5–10     T1 = 4 of 6, T2 = the other 2  → T1 matched, T2 duplicate
#   P2: hits 11–16    T3 = 3 of 6, T4 = other 3      → both split, P2 missed
#   P3: hits 17–20, P4: hits 21–24
#                     T5 = 2 of P3 + 2 of P4         → no majority: fake; P3, P4 missed
#   P5: hits 25–27 + noise hit 28
#                     T6 = 3 of P5 + the noise hit   → 3/4 > 1/2 and 3/3 > 1/2: matched,
#                                                      purity 0.75
#   P6: hits 29–32    no track                       → missed (not reconstructable below)
#   P7: hits 33–37    T7 = 3 of 5, T8 = 4 of 5       → both > 1/2: T8 (more hits) the match,
#                                                      T7 duplicate
#   P8: hits 38–42    T9 = 3 of 5, T10 = 3 of 5      → tie: T9 (lower index) the match,
#                                                      T10 duplicate
# A second event: noise hits 43–45, P9: hits 46–48.
#                     T11 = the 3 noise hits         → fake
#                     T12 = P9's 3 hits              → matched
HIT_PARTICLE = np.array(
    [0] * 5
    + [1] * 6
    + [2] * 6
    + [3] * 4
    + [4] * 4
    + [5] * 3
    + [-1]
    + [6] * 4
    + [7] * 5
    + [8] * 5
    + [-1] * 3
    + [9] * 3
)
TRACKS = [
    [0, 1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10],
    [11, 12, 13],
    [14, 15, 16],
    [17, 18, 21, 22],
    [25, 26, 27, 28],
    [34, 35, 36],
    [33, 34, 35, 36],
    [38, 39, 40],
    [40, 41, 42],
    [43, 44, 45],
    [46, 47, 48],
]
N_PARTICLES = 10
TRACK_EVENT = np.array([0] * 11 + [1] * 2)
PARTICLE_EVENT = np.array([0] * 9 + [1])
RECONSTRUCTABLE = np.array([True] * 6 + [False] + [True] * 3)  # P6 is not


def csr(tracks: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and hits of a list of tracks."""
    lengths = [len(t) for t in tracks]
    return np.r_[0, np.cumsum(lengths)], np.concatenate([np.asarray(t, int) for t in tracks])


def tiled(k: int, tracks: list[list[int]] = TRACKS):
    """``k`` copies of the two hand-built events (events 0 … 2k − 1, hits and particles
    renumbered): (offsets, hits, hit_particle, n_particles, track_event, particle_event,
    reconstructable)."""
    n_hits = len(HIT_PARTICLE)
    all_tracks, hp, te, pe = [], [], [], []
    event_of_track = np.array([0] * 11 + [1] * 2) if tracks is TRACKS else None
    for c in range(k):
        all_tracks += [[h + c * n_hits for h in t] for t in tracks]
        hp.append(np.where(HIT_PARTICLE >= 0, HIT_PARTICLE + c * N_PARTICLES, -1))
        pe.append(PARTICLE_EVENT + 2 * c)
        if event_of_track is not None:
            te.append(event_of_track + 2 * c)
    off, hits = csr(all_tracks)
    hp_all = np.concatenate(hp)
    if event_of_track is None:  # tracks of one particle each: the particle's event
        te.append(np.concatenate(pe)[hp_all[hits[off[:-1]]]])
    return (
        off,
        hits,
        hp_all,
        k * N_PARTICLES,
        np.concatenate(te),
        np.concatenate(pe),
        np.tile(RECONSTRUCTABLE, k),
    )


def perfect_tracks() -> list[list[int]]:
    """One track per particle holding all its hits."""
    return [np.flatnonzero(p == HIT_PARTICLE).tolist() for p in range(N_PARTICLES)]


@pytest.fixture
def match() -> evaluate.TrackMatch:
    off, hits = csr(TRACKS)
    return evaluate.match_tracks(off, hits, HIT_PARTICLE, N_PARTICLES)


def test_each_track_category_as_worked_out_by_hand(match):
    m = match
    np.testing.assert_array_equal(m.majority, [0, 1, 1, 2, 2, -1, 5, 7, 7, 8, 8, -1, 9])
    assert np.flatnonzero(m.matched).tolist() == [0, 1, 6, 8, 9, 12]
    assert np.flatnonzero(m.duplicate).tolist() == [2, 7, 10]
    assert np.flatnonzero(m.split).tolist() == [3, 4]
    assert np.flatnonzero(m.fake).tolist() == [5, 11]
    # every track in exactly one category
    cats = np.stack([m.matched, m.duplicate, m.split, m.fake]).astype(int)
    np.testing.assert_array_equal(cats.sum(0), 1)
    np.testing.assert_array_equal(m.particle_track, [0, 1, -1, -1, -1, 6, -1, 8, 9, 12])
    np.testing.assert_array_equal(m.found, m.particle_track >= 0)
    np.testing.assert_allclose(
        m.purity, [1, 1, 1, 1, 1, 0, 0.75, 1, 1, 1, 1, 0, 1], rtol=0, atol=1e-15
    )
    np.testing.assert_array_equal(m.common, [5, 4, 2, 3, 3, 0, 3, 3, 4, 3, 3, 0, 3])
    np.testing.assert_array_equal(m.particle_hits, [5, 6, 6, 4, 4, 3, 4, 5, 5, 3])
    assert m.summary() == {
        "tracks": 13,
        "matched": 6,
        "duplicate": 3,
        "split": 2,
        "fake": 2,
        "found": 6,
    }


def test_order_of_tracks_decides_only_ties():
    # the same P7 tracks, the better one first: still the better one is the match
    off, hits = csr([[33, 34, 35, 36], [34, 35, 36]])
    m = evaluate.match_tracks(off, hits, HIT_PARTICLE, N_PARTICLES)
    assert m.matched.tolist() == [True, False] and m.duplicate.tolist() == [False, True]
    # a tie: the lower index wins whichever hits it holds
    off, hits = csr([[40, 41, 42], [38, 39, 40]])
    m = evaluate.match_tracks(off, hits, HIT_PARTICLE, N_PARTICLES)
    assert m.matched.tolist() == [True, False] and m.particle_track[8] == 0


def test_majority_needs_more_than_half_of_the_track_including_noise():
    # 2 of P5 + 2 noise: exactly half is no majority → fake
    hp = np.array([0, 0, 0, -1, -1])
    m = evaluate.match_tracks([0, 4], [0, 1, 3, 4], hp, 1)
    assert m.fake.tolist() == [True] and m.particle_track.tolist() == [-1]
    # 2 of 4 hits of the particle on a 2-hit track: majority but not > half of the particle
    hp = np.array([0, 0, 0, 0])
    m = evaluate.match_tracks([0, 2], [0, 1], hp, 1)
    assert m.split.tolist() == [True] and m.majority.tolist() == [0]


def test_empty_and_no_tracks():
    m = evaluate.match_tracks([0, 0], [], np.array([0, 0, 0]), 1)
    assert m.fake.tolist() == [True] and m.purity.tolist() == [0.0]
    m = evaluate.match_tracks([0], [], np.array([0, -1]), 2)
    assert m.n_tracks == 0 and m.particle_track.tolist() == [-1, -1]


def test_tracking_counts_per_event(match):
    c = evaluate.tracking_counts(match, TRACK_EVENT, PARTICLE_EVENT, RECONSTRUCTABLE, 3)
    # event 0: reconstructable P0–P5, P7, P8 (8); found P0, P1, P5, P7, P8 (5); 11 tracks,
    # fake T5, duplicates T2, T7, T10. Event 1: P9 found; T11 fake. Event 2: empty.
    assert c["particles"].tolist() == [8, 1, 0]
    assert c["found"].tolist() == [5, 1, 0]
    assert c["tracks"].tolist() == [11, 2, 0]
    assert c["fakes"].tolist() == [1, 1, 0]
    assert c["duplicates"].tolist() == [3, 0, 0]


def test_efficiency_vs_pt_with_binned_rate(match):
    # found particles in two p_T bins: P0–P4 at 0.5 GeV (found P0, P1), P5–P9 at 1.5 GeV
    # (found P5, P7, P8, P9; P6 not reconstructable)
    pt = np.r_[np.full(5, 0.5), np.full(5, 1.5)]
    rate = evaluate.binned_rate(pt[RECONSTRUCTABLE], match.found[RECONSTRUCTABLE], [0, 1, 2])
    np.testing.assert_allclose(rate.rate, [2 / 5, 4 / 4])


def test_report_values_are_the_hand_counted_ratios(tmp_path):
    k = 20  # 40 events
    off, hits, hp, n_p, te, pe, rec = tiled(k)
    found = evaluate.match_tracks(off, hits, hp, n_p)
    off_p, hits_p, hp_p, _, te_p, _, _ = tiled(k, perfect_tracks())
    perfect = evaluate.match_tracks(off_p, hits_p, hp_p, n_p)
    rep = evaluate.tracking_report(
        {"finder": found, "perfect": perfect},
        {"finder": te, "perfect": te_p},
        pe,
        rec,
        2 * k,
        n_boot=400,
        seed=1,
    )
    # efficiency 6/9 (P0, P1, P5, P7, P8, P9 of the 9 reconstructable), fakes 2/13,
    # duplicates 3/13; the perfect finder: 9/9, 0, 0 (P6's track is a track, not a fake)
    assert rep.value("efficiency", "finder") == pytest.approx(6 / 9)
    assert rep.value("fake_rate", "finder") == pytest.approx(2 / 13)
    assert rep.value("duplicate_rate", "finder") == pytest.approx(3 / 13)
    assert rep.value("efficiency", "perfect") == 1.0
    assert rep.value("fake_rate", "perfect") == rep.value("duplicate_rate", "perfect") == 0.0
    # identical copies of two events: only the event-1 : event-0 mix fluctuates, and the
    # intervals contain the value
    for f in rep.figures:
        lo, hi = rep.interval(f, "finder")
        assert lo <= rep.value(f, "finder") <= hi
    assert rep.interval("efficiency", "perfect") == (1.0, 1.0)
    # a method against itself: exactly zero on every resample
    assert rep.ratios.interval("efficiency/finder", reference="efficiency/finder") == (0.0, 0.0)
    # the perfect finder is clearly ahead on every figure
    for f in rep.figures:
        assert rep.ahead(f, "perfect", "finder") and not rep.ahead(f, "finder", "perfect")
    lo, hi = rep.interval("efficiency", "perfect", "finder")
    assert 0 < lo <= 1 - 6 / 9 <= hi
    table = rep.display(reference="finder")
    assert table.loc["finder", "Δ efficiency (%)"] == "reference"
    assert table.loc["perfect", "efficiency (%), 68% CL"].startswith("100")
    written = rep.record(tmp_path, "tracking")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["tracking_track_efficiency"] == pytest.approx({"finder": 6 / 9, "perfect": 1})
    assert metrics["tracking_fake_rate"]["finder"] == pytest.approx(2 / 13)
    assert metrics["tracking_duplicate_rate_ci"]["perfect"] == [0.0, 0.0]
    assert set(written) == {
        "tracking_track_efficiency",
        "tracking_fake_rate",
        "tracking_duplicate_rate",
    }


def test_event_bootstrap_matches_the_binomial_error_and_resamples_whole_events():
    rng = np.random.default_rng(3)
    n_events, per_event, p = 400, 10, 0.9
    found = rng.binomial(per_event, p, n_events)
    total = np.full(n_events, per_event)
    worse = found - rng.binomial(found, 0.1)  # the same events, 10% fewer found
    r = evaluate.event_ratios(
        {"good": (found, total), "worse": (worse, total), "flat": (total - 1, total)},
        n_boot=2000,
        seed=5,
    )
    assert r.value[0] == found.sum() / total.sum()
    lo, hi = r.interval("good")
    assert lo < r.value[0] < hi
    # independent particles: the binomial error √(p(1−p)/N) over N = 4000 particles
    sigma = np.sqrt(r.value[0] * (1 - r.value[0]) / total.sum())
    assert (hi - lo) / 2 == pytest.approx(sigma, rel=0.15)
    # 9 of 10 in every event: every resample of whole events gives exactly 0.9
    assert r.interval("flat") == (pytest.approx(0.9), pytest.approx(0.9))
    # paired: identical to itself, and 'good' clearly ahead of 'worse'
    assert r.interval("good", reference="good") == (0.0, 0.0)
    dlo, dhi = r.interval("good", reference="worse")
    assert 0 < dlo < dhi
    assert dhi - dlo < hi - lo  # the paired difference is known better than either value
    # reproducible with the seed, different with another
    again = evaluate.event_ratios({"good": (found, total)}, n_boot=2000, seed=5)
    np.testing.assert_array_equal(again.samples[0], r.samples[0])
    other = evaluate.event_ratios({"good": (found, total)}, n_boot=2000, seed=6)
    assert not np.array_equal(other.samples[0], r.samples[0])
    assert r.table.loc["flat", "value"] == pytest.approx(0.9)
    assert r.interval("good", cl=0.95)[1] - r.interval("good", cl=0.95)[0] > hi - lo


def test_ratios_record(tmp_path):
    r = evaluate.event_ratios({"a/x": ([1, 2], [2, 2]), "b": ([0, 1], [1, 1])}, n_boot=50)
    out = r.record(tmp_path, "eff", {"a/x": "x"})
    assert out == {"x": 0.75}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["eff"] == {"x": 0.75} and len(metrics["eff_ci"]["x"]) == 2
    r95 = evaluate.event_ratios({"b": ([0, 1], [1, 1])}, n_boot=50, cl=0.95)
    r95.record(tmp_path, "b")
    assert "b_ci95" in json.loads((tmp_path / "metrics.json").read_text())


def test_edge_rates_and_counts():
    y = np.array([1, 1, 1, 0, 0, 1])
    kept = np.array([1, 1, 0, 1, 0, 0], bool)
    # 2 true kept; 4 true edges in the graph of 5 true segments; 3 kept
    r = evaluate.edge_rates(y, kept, n_true_total=5)
    assert r["efficiency"] == pytest.approx(2 / 5) and r["purity"] == pytest.approx(2 / 3)
    assert evaluate.edge_rates(y, kept)["efficiency"] == pytest.approx(2 / 4)
    c = evaluate.edge_counts(y, kept, [0, 0, 1, 1, 1, 2], 3, n_true_total=[2, 1, 2])
    assert c["true"].tolist() == [2, 1, 2]
    assert c["kept"].tolist() == [2, 1, 0]
    assert c["true_kept"].tolist() == [2, 0, 0]
    rr = evaluate.event_ratios(
        {"eff": (c["true_kept"], c["true"]), "pur": (c["true_kept"], c["kept"])}, n_boot=20
    )
    np.testing.assert_allclose(rr.value, [2 / 5, 2 / 3])
    with pytest.raises(ValueError, match=r"kept: expected a 1-D bool.*threshold scores"):
        evaluate.edge_rates(y, np.array([0.2, 0.9, 0.1, 0.5, 0.3, 0.7]))
    with pytest.raises(ValueError, match="n_true_total=3: fewer than the 4 true edges"):
        evaluate.edge_rates(y, kept, n_true_total=3)
    with pytest.raises(ValueError, match="n_true_total: expected \\(3,\\)"):
        evaluate.edge_counts(y, kept, [0, 0, 1, 1, 1, 2], 3, n_true_total=[1, 1, 1])


@pytest.mark.parametrize(
    ("offsets", "hits", "hp", "n", "message"),
    [
        ([1, 2], [0, 1], [0, 0], 1, "track_offsets: expected CSR offsets"),
        ([0, 2, 1, 2], [0, 1], [0, 0], 1, "track_offsets: expected CSR offsets"),
        ([0, 3], [0, 1], [0, 0], 1, "track_offsets: expected CSR offsets"),
        ([0, 2], [0, 5], [0, 0], 1, r"track_hits: hit indices \[5\] outside 0 … 1"),
        ([0, 2], [0, 1], [0, 3], 2, r"hit_particle: particle rows \[3\] outside"),
        ([0, 2], [0, 1], [0, -2], 2, r"hit_particle: particle rows \[-2\]"),
        ([0, 2], [1, 1], [0, 0], 1, "track_hits: track 0 lists hit 1 twice"),
        ([0, 2], [0.5, 1], [0, 0], 1, "track_hits: expected integers"),
        ([0, 2], [0, 1], [0, 0], -1, "n_particles=-1"),
    ],
)
def test_match_tracks_refuses_malformed_input(offsets, hits, hp, n, message):
    with pytest.raises(ValueError, match=message):
        evaluate.match_tracks(offsets, hits, np.asarray(hp), n)


def test_counts_and_report_refuse_malformed_input(match):
    with pytest.raises(ValueError, match=r"track_event: events \[-1\] outside 0 … 1.*empty"):
        evaluate.tracking_counts(
            match, np.r_[TRACK_EVENT[:-1], -1], PARTICLE_EVENT, RECONSTRUCTABLE, 2
        )
    with pytest.raises(ValueError, match="particle_event: 9 entries, expected 10"):
        evaluate.tracking_counts(match, TRACK_EVENT, PARTICLE_EVENT[:-1], RECONSTRUCTABLE, 2)
    with pytest.raises(ValueError, match="track 12 lies in event 0 but its majority particle"):
        evaluate.tracking_counts(
            match, np.r_[TRACK_EVENT[:-1], 0], PARTICLE_EVENT, RECONSTRUCTABLE, 2
        )
    with pytest.raises(ValueError, match=r"reconstructable: expected \(10,\) bool"):
        evaluate.tracking_counts(match, TRACK_EVENT, PARTICLE_EVENT, RECONSTRUCTABLE[:3], 2)
    with pytest.raises(ValueError, match="track_events: expected the methods"):
        evaluate.tracking_report(
            {"a": match}, {"b": TRACK_EVENT}, PARTICLE_EVENT, RECONSTRUCTABLE, 2
        )
    with pytest.raises(ValueError, match="method 'a': track_event: 12 entries"):
        evaluate.tracking_report(
            {"a": match}, {"a": TRACK_EVENT[:-1]}, PARTICLE_EVENT, RECONSTRUCTABLE, 2
        )
    with pytest.raises(ValueError, match="figures\\['x'\\] denominator: 3 events"):
        evaluate.event_ratios({"x": ([1, 2], [1, 2, 3])})
    with pytest.raises(ValueError, match="figures\\['x'\\] numerator: holds NaN"):
        evaluate.event_ratios({"x": ([np.nan, 2], [1, 2])})
    with pytest.raises(ValueError, match="n_boot=1"):
        evaluate.event_ratios({"x": ([1, 2], [1, 2])}, n_boot=1)
    with pytest.raises(ValueError, match="figures: expected a non-empty mapping"):
        evaluate.event_ratios({})
    r = evaluate.event_ratios({"x": ([1, 2], [1, 2])}, n_boot=5)
    with pytest.raises(ValueError, match="'y': not among the figures"):
        r.interval("y")
