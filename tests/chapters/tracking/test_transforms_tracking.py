"""The tracking chapter's transforms, on a hand-built table whose every hit is known."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from hepnb.chapters.tracking import transforms as T
from hepnb.chapters.tracking.hits import Hits

# One row per hit: (event, station, track). Event 1 has no hits; track ids repeat across
# events; within an event the hits are deliberately not ordered by track or station.
ROWS = [
    (0, 0, 0),  # 0   track (0, 0): stations 0 1 2 — a clean 3-hit track
    (0, 0, 2),  # 1   track (0, 2): stations 0 1 1 2 — spinning (two hits on station 1)
    (0, 1, -1),  # 2  noise
    (0, 1, 0),  # 3
    (0, 0, 1),  # 4   track (0, 1): stations 0 1 — short
    (0, 1, 2),  # 5
    (0, 1, 2),  # 6
    (0, 1, 1),  # 7
    (0, 0, 3),  # 8   track (0, 3): stations 0 2 3 — a hole at station 1
    (0, 2, 0),  # 9
    (0, 2, 2),  # 10
    (0, 2, 3),  # 11
    (0, 3, 3),  # 12
    (0, 3, -1),  # 13 noise
    (2, 1, 0),  # 14  track (2, 0): stations 1 2 3 — contiguous, but not from station 0
    (2, 2, 0),  # 15
    (2, 0, -1),  # 16 noise
    (2, 3, 0),  # 17
    (3, 0, 5),  # 18  track (3, 5): one hit
    (3, 2, -1),  # 19 noise
]
RADII = np.array([50.0, 100.0, 150.0, 200.0])  # mm, per station
KEYS = [(0, 0), (0, 1), (0, 2), (0, 3), (2, 0), (3, 5)]  # the particles


def make_hits() -> Hits:
    event, station, track = (np.array(c) for c in zip(*ROWS, strict=True))
    i = np.arange(len(ROWS))
    phi = -3.0 + 0.3 * i  # rad, all distinct, inside (−π, π)
    r = RADII[station]
    particles = {
        "event": np.array([k[0] for k in KEYS]),
        "track": np.array([k[1] for k in KEYS]),
        "px": np.linspace(0.1, 0.6, 6),
        "py": np.zeros(6),
        "pz": np.ones(6),
        "vx": np.zeros(6),
        "vy": np.zeros(6),
        "vz": np.zeros(6),
        "charge": np.array([1, -1, 1, -1, 1, -1]),
    }
    cols = {
        "event": event,
        "x": r * np.cos(phi),
        "y": r * np.sin(phi),
        "z": 10.0 * i - 50.0,
        "station": station,
        "track": track,
        "row": i,  # an extra column: must travel with the hits
    }
    return Hits(cols, particles, n_events=4)


@pytest.fixture
def hits() -> Hits:
    return make_hits()


def rows(h: Hits) -> list[int]:
    return h["row"].tolist()


def assert_same(a: Hits, b: Hits, tol: float = 1e-9) -> None:
    """Every column of ``b`` equal in ``a`` (floats within ``tol``; ``a`` may have more)."""
    assert a.n_events == b.n_events
    for name, v in b.columns.items():
        assert name in a, name
        if np.issubdtype(v.dtype, np.floating):
            np.testing.assert_allclose(a[name], v, rtol=0, atol=tol, err_msg=name)
        else:
            np.testing.assert_array_equal(a[name], v, err_msg=name)


# --- truth filters --------------------------------------------------------------------------


def test_drop_fakes(hits):
    out = T.DropFakes()(hits)
    assert rows(out) == [i for i in range(20) if i not in (2, 13, 16, 19)]
    assert out.n_events == 4
    assert len(out.particles["event"]) == 6


def test_drop_short_removes_or_relabels(hits):
    out = T.DropShort(min_hits=3)(hits)
    assert rows(out) == [i for i in range(20) if i not in (4, 7, 18)]  # (0, 1) and (3, 5)
    assert out.n_events == 4
    # truth is truth: the particles of dropped tracks stay
    assert list(zip(out.particles["event"], out.particles["track"], strict=True)) == KEYS
    assert rows(T.DropShort(min_hits=4)(T.DropFakes()(hits))) == [1, 5, 6, 10]  # hits counted

    kept = T.DropShort(min_hits=3, keep_filtered=True)(hits)
    assert rows(kept) == list(range(20))
    expected = np.array([r[2] for r in ROWS])
    expected[[4, 7, 18]] = -1
    np.testing.assert_array_equal(kept["track"], expected)
    np.testing.assert_array_equal(hits["track"], [r[2] for r in ROWS])  # input untouched


def test_drop_spinning_tracks(hits):
    out = T.DropSpinningTracks()(hits)
    assert rows(out) == [i for i in range(20) if i not in (1, 5, 6, 10)]
    kept = T.DropSpinningTracks(keep_filtered=True)(hits)
    assert len(kept) == 20
    assert (kept["track"][[1, 5, 6, 10]] == -1).all()
    assert (kept["track"][[0, 3, 9]] == 0).all()


def test_drop_tracks_with_holes(hits):
    out = T.DropTracksWithHoles()(hits)
    # (0, 3) skips station 1; the looper (0, 2) on stations 0 1 1 2 has no hole
    assert rows(out) == [i for i in range(20) if i not in (8, 11, 12)]
    first = T.DropTracksWithHoles(from_first=True)(hits)
    # (2, 0) starts at station 1
    assert rows(first) == [i for i in range(20) if i not in (8, 11, 12, 14, 15, 17)]
    kept = T.DropTracksWithHoles(keep_filtered=True, from_first=True)(hits)
    assert (kept["track"][[8, 11, 12, 14, 15, 17]] == -1).all()
    assert (kept["track"][[18]] == 5).all()  # a 1-hit track at station 0 has no hole


def test_drop_empty_renumbers_events_and_particles(hits):
    out = T.DropEmpty()(hits)  # event 1 has no hits
    assert out.n_events == 3
    assert rows(out) == list(range(20))
    np.testing.assert_array_equal(
        out["event"], np.array([r[0] for r in ROWS]) - (hits["event"] > 1)
    )
    # after DropShort event 3 has only noise left: dropped, with its particle
    out = T.DropEmpty(min_tracks=1)(T.DropShort(min_hits=3, keep_filtered=True)(hits))
    assert out.n_events == 2
    assert rows(out) == list(range(18))
    assert out["event"][-4:].tolist() == [1, 1, 1, 1]
    assert list(zip(out.particles["event"], out.particles["track"], strict=True)) == [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 0),
    ]
    assert T.DropEmpty(min_tracks=2)(hits).n_events == 1  # event 0 (4 tracks) only
    assert T.DropEmpty(min_tracks=0)(hits).n_events == 4


# --- buckets --------------------------------------------------------------------------------


def test_to_buckets_and_buckets(hits):
    out = T.ToBuckets()(hits)
    expected = [3, 4, 0, 3, 2, 4, 4, 2, 3, 3, 4, 3, 3, 0, 3, 3, 0, 3, 1, 0]
    assert out["bucket"].tolist() == expected
    assert out["bucket"].dtype == np.int64
    got = T.buckets(hits)
    assert list(got) == [1, 2, 3, 4]
    assert got[1].tolist() == [[3, 5]]
    assert got[2].tolist() == [[0, 1]]
    assert got[3].tolist() == [[0, 0], [0, 3], [2, 0]]
    assert got[4].tolist() == [[0, 2]]
    assert T.buckets(T.DropFakes()(hits).select(np.zeros(16, bool))) == {}


# --- coordinates ----------------------------------------------------------------------------


def test_to_cylindrical_by_hand():
    x = np.array([3.0, 0.0, -1.0, -1.0, 0.0])
    y = np.array([4.0, -2.0, 0.0, -0.0, 0.0])
    h = Hits(
        {"event": np.zeros(5), "x": x, "y": y, "z": np.ones(5), "station": np.zeros(5)}
        | {"track": -np.ones(5)}
    )
    out = T.ToCylindrical()(h)
    np.testing.assert_allclose(out["r"], [5.0, 2.0, 1.0, 1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(
        out["phi"], [math.atan2(4, 3), -math.pi / 2, math.pi, math.pi, 0.0], atol=1e-15
    )  # (−π, π]: y = −0.0 behind the origin gives +π, not −π
    back = T.ToCartesian()(out.with_columns(x=np.zeros(5), y=np.zeros(5)))
    np.testing.assert_allclose(back["x"], x, atol=1e-12)
    np.testing.assert_allclose(back["y"], y, atol=1e-12)


def test_to_cartesian_names_the_missing_column(hits):
    with pytest.raises(KeyError, match=r"ToCartesian.*'r'.*ToCylindrical"):
        T.ToCartesian()(hits)
    with pytest.raises(KeyError, match=r"ToCartesian.*'phi'"):
        T.ToCartesian()(hits.with_columns(r=np.ones(20)))
    with pytest.raises(KeyError, match=r"StandardScale.*'r'"):
        T.StandardScale().fit(hits)


def test_normalize_by_hand():
    h = Hits(
        {
            "event": [0, 0],
            "x": [3.0, 0.0],
            "y": [4.0, 0.0],
            "z": [12.0, 0.0],
            "station": [0, 1],
            "track": [0, 0],
        }
    )
    out = T.Normalize()(h)
    np.testing.assert_allclose(out["x"], [3 / 13, 0.0])
    np.testing.assert_allclose(out["y"], [4 / 13, 0.0])
    np.testing.assert_allclose(out["z"], [12 / 13, 0.0])  # a zero vector stays zero
    with pytest.raises(NotImplementedError, match="Normalize is not invertible"):
        T.Normalize().inverse(out)
    assert not T.Normalize().invertible


def test_constraints_normalize_by_hand():
    r = np.array([0.0, 90.0, 180.0, 270.0])
    h = Hits(
        {
            "event": np.zeros(4),
            "x": r,
            "y": np.zeros(4),
            "z": [-400.0, 0.0, 200.0, 400.0],
            "station": np.arange(4),
            "track": np.zeros(4),
        }
    )
    out = T.ConstraintsNormalize()(T.ToCylindrical()(h))
    np.testing.assert_allclose(out["r"], [-1.0, 0.0, 1.0, 2.0])  # 270 mm: beyond 1, not clipped
    np.testing.assert_allclose(out["z"], [-1.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(out["phi"], 0.0)  # phi = 0 is the middle of [−π, π]
    np.testing.assert_array_equal(out["x"], r)  # columns outside the constraints untouched


def test_constraints_for_geometry():
    geo = SimpleNamespace(radii=(78.0, 117.0, 155.0), half_length=(266.0, 345.0, 423.5))
    t = T.ConstraintsNormalize.for_geometry(geo)
    assert t.constraints == {"r": [0.0, 155.0], "phi": [-math.pi, math.pi], "z": [-423.5, 423.5]}
    with pytest.raises(ValueError, match="half_length"):
        T.ConstraintsNormalize.for_geometry(SimpleNamespace(radii=(1.0,)))
    with pytest.raises(ValueError, match=r"constraints\['r'\].*lo < hi"):
        T.ConstraintsNormalize({"r": [5.0, 1.0]})


def test_standard_and_minmax_scale_fit_on_training_hits():
    def table(r):
        n = len(r)
        return Hits(
            {
                "event": np.zeros(n),
                "x": np.asarray(r, float),
                "y": np.zeros(n),
                "z": np.zeros(n),
                "station": np.zeros(n),
                "track": np.zeros(n),
            }
        )

    train = table([1.0, 2.0, 3.0, 4.0])
    s = T.StandardScale(columns=["x", "z"]).fit(train)
    assert s.offset == [2.5, 0.0]
    assert s.scale == pytest.approx([math.sqrt(1.25), 1.0])  # constant column: scale 1
    np.testing.assert_allclose(s(table([2.5, 5.0]))["x"], [0.0, 2.5 / math.sqrt(1.25)])
    m = T.MinMaxScale(columns=["x"]).fit(train)
    assert (m.offset, m.scale) == ([1.0], [3.0])
    np.testing.assert_allclose(m(table([1.0, 4.0, 7.0]))["x"], [0.0, 1.0, 2.0])  # no clipping
    assert m.scaler.kind == "minmax"
    assert s(table([1.0]))["x"].dtype == np.float64


def test_unfitted_scaler_says_to_fit(hits):
    with pytest.raises(T.NotFittedError, match=r"not fitted.*fit\("):
        T.StandardScale()(T.ToCylindrical()(hits))
    with pytest.raises(ValueError, match="no hits"):
        T.MinMaxScale(columns=["x"]).fit(hits.select(np.zeros(20, bool)))
    with pytest.raises(ValueError, match="give both"):
        T.StandardScale(offset=[0.0, 0.0, 0.0])


# --- inverses -------------------------------------------------------------------------------


def _fitted(hits: Hits) -> list[T.Transform]:
    cyl = T.ToCylindrical()(hits)
    return [
        T.ToCylindrical(),
        T.ToCartesian(),
        T.StandardScale().fit(cyl),
        T.MinMaxScale(columns=["x", "y", "z"]).fit(cyl),
        T.ConstraintsNormalize(),
    ]


def test_inverses_round_trip(hits):
    cyl = T.ToCylindrical()(hits)
    for t in _fitted(hits):
        assert t.invertible
        out = t(cyl)
        if not isinstance(t, T.ToCylindrical | T.ToCartesian):  # those recompute equal values
            assert not np.allclose(out["x"], cyl["x"]) or not np.allclose(out["r"], cyl["r"])
        assert_same(t.inverse(out), cyl)
    chain = T.Compose(
        [T.ToCylindrical(), T.StandardScale(), T.ConstraintsNormalize({"x": [-200.0, 200.0]})]
    ).fit(hits)
    assert chain.invertible
    out = chain(hits)
    assert abs(out["z"]).max() < 3  # scaled
    assert_same(chain.inverse(out), hits)


def test_compose_inverse_skips_drops_and_refuses_normalize(hits):
    chain = T.Compose([T.ToCylindrical(), T.DropFakes(), T.StandardScale(), T.ToBuckets()])
    chain.fit(hits)
    assert chain.invertible
    out = chain(hits)
    assert rows(out) == [i for i in range(20) if i not in (2, 13, 16, 19)]
    assert_same(chain.inverse(out), T.DropFakes()(hits))  # survivors, original coordinates
    bad = T.Compose([T.ToCylindrical(), T.Normalize()])
    assert not bad.invertible
    with pytest.raises(NotImplementedError, match=r"Compose is not invertible: Normalize"):
        bad.inverse(bad(hits))
    with pytest.raises(NotImplementedError, match="DropShort is not invertible"):
        T.DropShort().inverse(hits)


def test_compose_fits_each_on_the_previous_output(hits):
    chain = T.Compose([T.ToCylindrical(), T.DropFakes(), T.StandardScale(columns=["r"])])
    chain.fit(hits)
    r = np.hypot(hits["x"], hits["y"])[hits["track"] >= 0]
    assert chain[2].offset == pytest.approx([r.mean()])  # fitted without the noise hits
    assert chain[2].scale == pytest.approx([r.std()])


# --- repr and parse -------------------------------------------------------------------------


def _every_transform(hits: Hits) -> list[T.Transform]:
    geo = SimpleNamespace(radii=[80.0, 120.0, 160.0], half_length=[300.0, 350.0, 400.5])
    unfitted = [
        T.StandardScale(),
        T.MinMaxScale(columns=["x", "y"]),
        T.Normalize(),
        T.ConstraintsNormalize(),
        T.ConstraintsNormalize.for_geometry(geo),
        T.DropShort(min_hits=4, keep_filtered=True),
        T.DropEmpty(min_tracks=2),
        T.DropSpinningTracks(keep_filtered=True),
        T.DropFakes(),
        T.DropTracksWithHoles(from_first=True),
        T.ToCylindrical(),
        T.ToCartesian(),
        T.ToBuckets(),
    ]
    fitted = _fitted(hits)
    return [*unfitted, *fitted, T.Compose([]), T.Compose([*fitted, T.DropShort()])]


def test_repr_parses_back(hits):
    for t in _every_transform(hits):
        s = repr(t)
        assert "(" in s and "np." not in s and "array" not in s, s
        assert T.parse(s) == t, s
        back = T.parse(yaml.safe_load(yaml.safe_dump({"transforms": T.to_config(t)}))["transforms"])
        assert back == (t if isinstance(t, T.Compose) else T.Compose([t]))
    assert repr(T.DropShort()) == "DropShort(min_hits=3, keep_filtered=False)"
    assert T.StandardScale() != T.StandardScale().fit(T.ToCylindrical()(hits))
    assert T.DropShort() != T.DropShort(min_hits=4)
    assert T.DropFakes() != T.ToBuckets()
    s = T.StandardScale().fit(T.ToCylindrical()(hits))
    assert all(type(v) is float for v in s.offset)
    assert repr(T.Compose([T.DropFakes(), s])).startswith("Compose([DropFakes(), StandardScale(")


def test_parse_config_chains(hits):
    chain = T.parse(["ToCylindrical()", "StandardScale(columns=['r', 'phi', 'z'])"])
    assert chain == T.Compose([T.ToCylindrical(), T.StandardScale()])
    fitted = T.parse(T.to_config(chain.fit(hits)))
    assert_same(fitted(hits), chain(hits))
    assert T.parse("Compose(transforms=[DropFakes()])") == T.Compose([T.DropFakes()])
    assert T.parse(" DropShort( min_hits = 2 ) ") == T.DropShort(min_hits=2)
    assert T.parse("ConstraintsNormalize(constraints={'r': [0, 1]})").constraints == {
        "r": [0.0, 1.0]
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("DropLong(min_hits=3)", r"unknown transform 'DropLong'.*DropShort.*ToCylindrical"),
        ("Compose([Fancy()])", r"unknown transform 'Fancy'"),
        ("DropShort(num_stations=3)", r"DropShort has no argument 'num_stations'.*min_hits"),
        ("DropShort(3)", r"DropShort takes keyword arguments only"),
        ("DropShort(min_hits='3')", r"DropShort: min_hits='3'"),
        ("DropShort(min_hits=0)", r"DropShort: min_hits=0: expected an integer >= 1"),
        ("DropShort(keep_filtered=1)", r"DropShort: keep_filtered=1"),
        ("DropShort(min_hits=__import__('os'))", r"min_hits=__import__\('os'\) is not a literal"),
        ("os.system('true')", r"expected a call"),
        ("DropShort(", r"not a transform repr"),
        ("StandardScale(columns='r')", r"StandardScale: columns='r'"),
        ("StandardScale(columns=['r'], offset=[0.0], scale=[0.0])", r"scale=\[0.0\]"),
        ("Normalize(columns=['x', 'x'])", r"Normalize: columns=.*repeat"),
        ("DropFakes(track_col='t')", r"DropFakes has no argument 'track_col'.*none"),
        ("Compose(DropFakes())", r"one list of transforms"),
    ],
)
def test_parse_errors_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        T.parse(spec)


def test_parse_rejects_non_strings():
    with pytest.raises(ValueError, match=r"transforms\[1\]"):
        T.parse(["DropFakes()", {"DropShort": 3}])
    with pytest.raises(ValueError, match="expected a transform repr"):
        T.parse(3)
    with pytest.raises(TypeError, match="expected a Hits table"):
        T.DropFakes()(np.zeros(3))


# --- a large table --------------------------------------------------------------------------


def _large(n_events: int, seed: int) -> Hits:
    """About 47 hits per event: 0–20 tracks of 5 stations, with random missing hits (holes,
    short tracks), loopers (a second hit on a station) and 20 000 noise hits; some events
    empty."""
    rng = np.random.default_rng(seed)
    n_tracks = rng.integers(0, 21, n_events)
    n_tracks[rng.random(n_events) < 0.01] = 0
    t_event = np.repeat(np.arange(n_events), n_tracks)
    t_id = np.arange(len(t_event)) - np.repeat(np.cumsum(n_tracks) - n_tracks, n_tracks)
    t_id = t_id * 3 + 1  # sparse ids
    event = np.repeat(t_event, 5)
    track = np.repeat(t_id, 5)
    station = np.tile(np.arange(5), len(t_event))
    keep = rng.random(len(event)) > 0.1  # holes and short tracks
    loop = rng.random(len(event)) < 0.02  # a second hit on the same station
    event = np.concatenate([event[keep], event[loop], np.sort(rng.integers(0, n_events, 20000))])
    track = np.concatenate([track[keep], track[loop], -np.ones(20000, np.int64)])
    station = np.concatenate([station[keep], station[loop], rng.integers(0, 5, 20000)])
    order = np.argsort(event, kind="stable")
    n = len(order)
    return Hits(
        {
            "event": event[order],
            "x": rng.normal(0, 100, n),
            "y": rng.normal(0, 100, n),
            "z": rng.normal(0, 300, n),
            "station": station[order],
            "track": track[order],
        },
        n_events=n_events,
    )


def _reference(h: Hits, event: int) -> dict[int, bool]:
    """Per track of ``event``: kept by DropSpinning, DropHoles(from_first), DropShort(4)?"""
    sel = h["event"] == event
    out = {}
    for t in set(h["track"][sel].tolist()) - {-1}:
        st = sorted(h["station"][sel & (h["track"] == t)].tolist())
        spinning = len(set(st)) < len(st)
        holes = set(st) != set(range(max(st) + 1))
        out[t] = not spinning and not holes and len(st) >= 4
    return out


def test_large_table_is_correct_on_a_sample():
    h = _large(22_000, seed=3)
    assert len(h) > 1_000_000
    chain = T.Compose(
        [
            T.DropSpinningTracks(),
            T.DropTracksWithHoles(from_first=True),
            T.DropShort(min_hits=4),
            T.DropFakes(),
            T.ToBuckets(),
            T.ToCylindrical(),
            T.StandardScale(),
        ]
    )
    out = chain.fit(h)(h)
    assert out.n_events == h.n_events
    np.testing.assert_allclose(out["r"].mean(), 0.0, atol=1e-9)
    rng = np.random.default_rng(0)
    for e in rng.choice(h.n_events, 15, replace=False):
        kept = _reference(h, int(e))
        got = out["track"][out["event"] == e]
        assert set(got.tolist()) == {t for t, k in kept.items() if k}
        _, inverse, lengths = np.unique(got, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(out["bucket"][out["event"] == e], lengths[inverse])
    n_left = np.bincount(T._TrackTable.of(out).event, minlength=out.n_events)
    assert T.DropEmpty()(out).n_events == int((n_left > 0).sum())
