"""The track-finding reader: ROOT files written by ROOT itself and by the simulator (uproot),
Ariadne's BESIII text format, and the errors on bad input.

``data/tracking_root_vectors.root`` holds ``std::vector<float/int/double>`` branches written by
CERN ROOT's TTree; ``data/README.md`` says how it was made (``data/make_tracking_fixture.py``,
run once with PyPI's ROOT) and gives the formulas of its values, recomputed here.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepnb.chapters.tracking import reader, sim

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "tracking_root_vectors.root"


# --- the fixture's formulas (tests/chapters/tracking/data/README.md) -------------------------
def _n_particles(e: int) -> int:
    return 1 + e % 3


def _hit(e: int, i: int) -> tuple[float, float, float, int, int]:
    track = -1 if i % 4 == 3 else i % _n_particles(e)
    return 10.0 * e + 0.5 * i, -3.25 * i + e, 0.125 * (i - e), i % 3, track


def _particle(e: int, j: int) -> tuple[float, ...]:
    charge = 1 if (e + j) % 2 == 0 else -1
    return 0.25 * (j + 1) + 0.5 * e, -0.125 * j, 1.5 - 0.75 * e, 0.1 * j, -0.2 * e, -2.5 * e, charge


def test_root_file_written_by_root_reads_as_written():
    hits = reader.read(FIXTURE)
    assert hits.n_events == 6
    for e in range(6):
        written = [_hit(e, i) for i in range(2 + 2 * e)]
        written.sort(key=lambda h: h[3])  # the reader orders an event's hits by station (stable)
        sel = hits["event"] == e
        got = np.stack([hits[k][sel] for k in ("x", "y", "z", "station", "track")], axis=1)
        np.testing.assert_array_equal(got, np.array(written, dtype=np.float64))
        psel = hits.particles["event"] == e
        assert hits.particles["track"][psel].tolist() == list(range(_n_particles(e)))
        parts = np.stack(
            [hits.particles[k][psel] for k in ("px", "py", "pz", "vx", "vy", "vz", "charge")],
            axis=1,
        )
        np.testing.assert_array_equal(parts, [_particle(e, j) for j in range(_n_particles(e))])
    # a hit's track is the index of its particle: particle_index finds every signal hit
    row = hits.particle_index()
    assert np.all((row >= 0) == (hits["track"] >= 0))


def test_root_written_track_outside_the_particles_names_the_entry():
    with pytest.raises(ValueError, match=r"events_badtrack.*entry 2: track = 7 .*3 particle"):
        reader.read_root(FIXTURE, "events_badtrack")


def test_unknown_tree_lists_the_trees():
    with pytest.raises(ValueError, match=r"no tree 'hits'.*\['events', 'events_badtrack'\]"):
        reader.read(FIXTURE, tree="hits")


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.root"):
        reader.read(tmp_path / "nope.root")
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        reader.read(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="no paths"):
        reader.read([])


def test_root_round_trip(tmp_path):
    hits = sim.simulate(100, "cgem", seed=2)
    back = reader.read(sim.write_root(hits, tmp_path / "s.root"))
    assert back.n_events == hits.n_events
    for k in hits.columns:
        assert np.array_equal(back[k], hits[k]), k  # float32 values survive exactly
    for k in hits.particles:
        assert np.array_equal(back.particles[k], hits.particles[k]), k


def test_text_round_trip_and_charge_inference(tmp_path):
    hits = sim.simulate(200, "cgem", seed=3)
    path = sim.write_text(hits, tmp_path / "s.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == len(hits) and all(len(line.split()) == 12 for line in lines)
    back = reader.read(path)
    assert back.n_events == hits.n_events
    for k in ("event", "station", "track"):
        assert np.array_equal(back[k], hits[k]), k
    for k in ("x", "y", "z"):
        np.testing.assert_allclose(back[k], hits[k], rtol=1e-8, atol=1e-4)
    # particles with hits come back (the text format has no hitless particles), with the
    # charge inferred from the bending
    row = hits.particle_index()
    with_hits = np.unique(row[row >= 0])
    for k in ("event", "track"):
        assert np.array_equal(back.particles[k], hits.particles[k][with_hits]), k
    for k in ("px", "py", "pz", "vx", "vy", "vz"):
        np.testing.assert_allclose(back.particles[k], hits.particles[k][with_hits], atol=1e-6)
    assert np.array_equal(back.particles["charge"], hits.particles["charge"][with_hits])


@pytest.mark.parametrize("name", ["drift", "silicon"])
def test_charge_inference_on_other_geometries(tmp_path, name):
    hits = sim.simulate(3 if name == "silicon" else 50, name, seed=4)
    back = reader.read(sim.write_text(hits, tmp_path / "s.txt"))
    row = hits.particle_index()
    with_hits = np.unique(row[row >= 0])
    assert np.array_equal(back.particles["charge"], hits.particles["charge"][with_hits])


def _line(event, x, y, z, station, track, p=(0.0, 0.0, 0.0), v=(0.0, 0.0, 0.0)) -> str:
    return " ".join(str(a) for a in (event, x, y, z, station, track, *p, *v))


def test_text_events_any_ids_any_order_comments_and_blank_lines(tmp_path):
    path = tmp_path / "ariadne.txt"
    path.write_text(
        "\n".join(
            [
                "# event x y z station track px py pz X0 Y0 Z0",
                _line(42, 80.0, -1.0, 5.0, 1, 3, (1.0, 0.0, 0.5), (0.0, 0.0, 1.0)),
                "",
                _line(7, 0.0, 80.0, 0.0, 0, -1),
                _line(42, 60.0, -0.5, 2.0, 0, 3, (1.0, 0.0, 0.5), (0.0, 0.0, 1.0)) + "  # hit",
                _line(7, 0.0, 120.0, 0.0, 1, 5, (0.0, 1.0, 0.0), (0.0, 0.0, 0.0)),
                _line(42, -80.0, 0.0, 1.0, 1, -1),
                _line(7, 5.0, 100.0, 3.0, 0, 5, (0.0, 1.0, 0.0), (0.0, 0.0, 0.0)),
            ]
        )
        + "\n"
    )
    hits = reader.read(path)
    assert hits.n_events == 2
    # event 42 came first: it is event 0; hits grouped by event, then by station (stable)
    assert hits["event"].tolist() == [0, 0, 0, 1, 1, 1]
    assert hits["x"].tolist() == [60.0, 80.0, -80.0, 0.0, 5.0, 0.0]
    assert hits["station"].tolist() == [0, 1, 1, 0, 0, 1]
    assert hits["track"].tolist() == [3, 3, -1, -1, 5, 5]
    p = hits.particles
    assert p["event"].tolist() == [0, 1] and p["track"].tolist() == [3, 5]
    assert p["px"].tolist() == [1.0, 0.0] and p["vz"].tolist() == [1.0, 0.0]
    # particle 3 flies along +x and its hits lie at y < 0 (to its right): clockwise, positive;
    # particle 5 flies along +y and its hits lie at x > 0 (to its right): positive as well
    assert p["charge"].tolist() == [1, 1]


def test_text_charge_sign_follows_the_bending_side(tmp_path):
    path = tmp_path / "bend.txt"
    path.write_text(
        "\n".join(
            [
                _line(0, 80.0, 2.0, 0.0, 0, 0, (1.0, 0.0, 0.0)),  # to the left of +x
                _line(0, 120.0, 4.5, 0.0, 1, 0, (1.0, 0.0, 0.0)),
                _line(0, -80.0, 0.0, 0.0, 0, 1, (0.0, -1.0, 0.0)),  # left of −y is +x...
                _line(0, -120.0, -1.0, 0.0, 1, 1, (0.0, -1.0, 0.0)),  # ... so x < 0 is right
            ]
        )
        + "\n"
    )
    assert reader.read(path).particles["charge"].tolist() == [-1, 1]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("0 1.0 2.0 3.0 0 -1 0 0 0 0 0", r"line 3: expected 12 .*found 11: '0 1.0 2.0"),
        ("0 1.0 abc 3.0 0 -1 0 0 0 0 0 0", r"line 3: y = 'abc' is not a number: '0 1.0 abc"),
        ("0 1.0 2.0 3.0 1.5 -1 0 0 0 0 0 0", r"line 3: station = 1.5, expected an integer ≥ 0"),
        ("0 1.0 2.0 3.0 -1 -1 0 0 0 0 0 0", r"line 3: station = -1, expected an integer ≥ 0"),
        ("0 1.0 2.0 nan 0 -1 0 0 0 0 0 0", r"line 3: expected finite numbers"),
        ("0 1.0 2.0 3.0 0 -2 0 0 0 0 0 0", r"line 3: track = -2, expected an integer ≥ -1"),
    ],
)
def test_text_malformed_line_names_the_line(tmp_path, bad, message):
    path = tmp_path / "bad.txt"
    good = _line(0, 1.0, 2.0, 3.0, 1, -1)
    path.write_text(f"# header\n{good}\n{bad}\n{good}\n")
    with pytest.raises(ValueError, match=message) as info:
        reader.read(path)
    assert str(path) in str(info.value)


def test_text_particle_with_two_momenta_is_an_error(tmp_path):
    path = tmp_path / "clash.txt"
    path.write_text(
        _line(0, 80.0, 0.0, 0.0, 0, 2, (1.0, 0.0, 0.0))
        + "\n"
        + _line(0, 120.0, 0.0, 0.0, 1, 2, (2.0, 0.0, 0.0))
        + "\n"
    )
    with pytest.raises(ValueError, match=r"line 2: track 2 .*another momentum"):
        reader.read(path)


def test_empty_text_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="no hits"):
        reader.read(path)


def test_one_hit_event_is_an_error_or_dropped(tmp_path):
    path = tmp_path / "small.txt"
    lines = [_line(5, 1.0, 0.0, 0.0, 0, -1), _line(5, 2.0, 0.0, 0.0, 1, -1)]
    lines += [_line(9, 3.0, 0.0, 0.0, 0, 0, (1.0, 0.0, 0.0))]  # one hit only
    lines += [_line(11, 4.0, 0.0, 0.0, 0, -1), _line(11, 5.0, 0.0, 0.0, 1, -1)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"small.txt: event 9 has 1 hit.*skip_small_events=True"):
        reader.read(path)
    hits = reader.read(path, skip_small_events=True)
    assert hits.n_events == 2
    assert hits["event"].tolist() == [0, 0, 1, 1]
    assert hits["x"].tolist() == [1.0, 2.0, 4.0, 5.0]
    assert len(hits.particles["event"]) == 0  # the dropped event's particle goes with it


def _write_tree(path: Path, hits: dict, parts: dict, **flat) -> Path:
    """An uproot file with jagged branches ``hits``/``parts`` (lists per entry)."""
    data = {k: ak.Array(v) for k, v in {**hits, **parts}.items()} | flat
    with uproot.recreate(path) as f:
        f.mktree(
            "events", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
        )
        f["events"].extend(data)
    return path


def _entries(n_hits=(2, 3), n_parts=(1, 1)) -> tuple[dict, dict]:
    hits = {
        "x": [[1.0 * i for i in range(n)] for n in n_hits],
        "y": [[0.5] * n for n in n_hits],
        "z": [[0.0] * n for n in n_hits],
        "station": [list(range(n)) for n in n_hits],
        "track": [[0] * n for n in n_hits],
    }
    parts = {k: [[1.0] * n for n in n_parts] for k in ("px", "py", "pz", "vx", "vy", "vz")}
    parts["charge"] = [[1] * n for n in n_parts]
    return hits, parts


def test_uproot_file_reads(tmp_path):
    hits, parts = _entries()
    read = reader.read(_write_tree(tmp_path / "ok.root", hits, parts))
    assert read.n_events == 2 and len(read) == 5
    assert read["x"].tolist() == [0.0, 1.0, 0.0, 1.0, 2.0]


def test_missing_station_branch(tmp_path):
    hits, parts = _entries()
    del hits["station"]
    path = _write_tree(tmp_path / "nostation.root", hits, parts)
    with pytest.raises(ValueError, match=r"no branch 'station'.*hits without a station.*'track'"):
        reader.read(path)


def test_missing_branch_named(tmp_path):
    hits, parts = _entries()
    del parts["pz"]
    with pytest.raises(ValueError, match=r"lacks branch\(es\) \['pz'\]; it has \["):
        reader.read(_write_tree(tmp_path / "nopz.root", hits, parts))


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, r"entry 1: station = -1"), (float("nan"), r"entry 1: station = nan")],
)
def test_bad_station_names_the_entry(tmp_path, value, message):
    hits, parts = _entries()
    hits["station"] = [[0.0, 1.0], [0.0, value, 2.0]]
    with pytest.raises(ValueError, match=message):
        reader.read(_write_tree(tmp_path / "badstation.root", hits, parts))


def test_mismatched_branch_lengths_name_entry_and_branches(tmp_path):
    hits, parts = _entries()
    hits["y"] = [[0.5, 0.5], [0.5, 0.5]]
    path = _write_tree(tmp_path / "lengths.root", hits, parts)
    with pytest.raises(ValueError, match=r"entry 1: branches of different lengths \(x: 3, y: 2"):
        reader.read(path)


def test_flat_branch_is_not_a_hit_branch(tmp_path):
    hits, parts = _entries()
    del hits["z"]
    path = _write_tree(tmp_path / "flat.root", hits, parts, z=np.zeros(2))
    with pytest.raises(ValueError, match=r"branch 'z' .*expected a jagged list"):
        reader.read(path)


def test_root_one_hit_entry(tmp_path):
    hits, parts = _entries(n_hits=(2, 1, 3), n_parts=(1, 1, 1))
    path = _write_tree(tmp_path / "small.root", hits, parts)
    with pytest.raises(ValueError, match=r"small.root: tree 'events', entry 1 has 1 hit"):
        reader.read(path)
    read = reader.read(path, skip_small_events=True)
    assert read.n_events == 2 and np.bincount(read["event"]).tolist() == [2, 3]
    assert read.particles["event"].tolist() == [0, 1]


def test_list_of_files_concatenates_events(tmp_path):
    a = sim.simulate(4, "cgem", seed=5)
    b = sim.simulate(3, "cgem", seed=6)
    pa = sim.write_root(a, tmp_path / "a.root")
    pb = sim.write_text(b, tmp_path / "b.txt")
    both = reader.read([pa, pb])
    assert both.n_events == 7
    assert np.array_equal(both.counts, np.concatenate([a.counts, b.counts]))
    assert np.array_equal(both["x"][: len(a)], a["x"])
    second = both.particles["event"] >= 4
    assert np.array_equal(np.unique(both.particles["event"][second]) - 4, np.unique(b["event"]))
    assert np.array_equal(both.particle_index() >= 0, both["track"] >= 0)
