"""The ghost-track event display: events, candidate lines, counts, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.chapters.ghost import ghost_rates, plot_ghost_rates, sim
from hepnb.chapters.ghost.display import GhostEventDisplay

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ghost_display():
    return GhostEventDisplay.from_simulation(n_events=4, seed=0, track="matching")


def _drawn(display):
    """Candidate lines (gid real/ghost) drawn on the full-detector axes, as (x, y) arrays."""
    ax = display.figure.axes[1]
    return [line.get_xydata() for line in ax.get_lines() if line.get_gid() in ("real", "ghost")]


def test_ghost_display_slider_changes_event_and_drawn_data(ghost_display):
    d = ghost_display
    d.set(index=0)
    before, n_before = _drawn(d), d.numbers["candidates"]
    assert d.numbers["event"] == "0 of 4" and len(before) == n_before
    d.set(index=1)
    after = _drawn(d)
    assert d.event["event"] == 1 and d.numbers["event"] == "1 of 4"
    assert len(after) == d.numbers["candidates"] == len(d.event["candidates"]["ghost"])
    assert len(before) != len(after) or any(
        a.shape != b.shape or not np.allclose(a, b) for a, b in zip(before, after, strict=True)
    )
    assert d.png().startswith(PNG_MAGIC)


def test_ghost_display_summary_counts_the_labels_of_the_event(ghost_display):
    d = ghost_display
    labels = sim.simulate(4, seed=0, tracks=("matching",))["matching"]
    for i in range(4):
        d.set(index=i)
        mine = labels["ghost"][labels["event"] == i]
        assert d.numbers["candidates"] == len(mine)
        assert d.numbers["ghosts"] == int(mine.sum())
        n_ghost_lines = sum(line.get_gid() == "ghost" for line in d.figure.axes[1].get_lines())
        assert n_ghost_lines == int(mine.sum())
        if len(mine):
            assert d.numbers["ghost fraction"] == pytest.approx(mine.mean())


def test_ghost_display_candidate_lines_pass_through_their_hits(ghost_display):
    d = ghost_display
    ev = d.set(index=1).event
    cand = ev["candidates"]
    for k, (z, x) in enumerate(d.candidate_lines(ev)):
        vh = cand["velo_hits"][k][cand["velo_hits"][k] >= 0]
        assert np.isin(ev["velo"]["x"][vh], x).all() and np.isin(ev["velo"]["z"][vh], z).all()
        assert len(z) == cand["n_velo"][k] + cand["n_scifi"][k] + 1  # + the magnet kink


@pytest.mark.parametrize("track", ["long", ["matching", "velo"], []])
def test_ghost_display_bad_track_raises(track):
    with pytest.raises(ValueError, match="track="):
        GhostEventDisplay.from_simulation(n_events=2, track=track)


def test_ghost_event_record_bad_track_raises():
    with pytest.raises(ValueError, match="track='long'"):
        sim.event_record(2, track="long")


def test_ghost_rate_panels_one_per_variable_present():
    rng = np.random.default_rng(0)
    kin = {"p": rng.uniform(2e3, 2e5, 500), "eta": rng.uniform(2, 5, 500)}
    ghost = (rng.random(500) < 0.2).astype(int)
    bins = {"p": np.geomspace(2e3, 2e5, 6), "pt": np.geomspace(1e2, 1e4, 6), "eta": [2, 3, 4, 5]}
    rates = ghost_rates(kin, ghost, {"all": None, "kept": kin["eta"] > 3}, bins)
    assert list(rates) == ["p", "eta"]  # no pt in kin: no panel
    np.testing.assert_allclose(rates["eta"]["all"][1][0], ghost[kin["eta"] < 3].mean())
    fig = plot_ghost_rates(rates)
    assert len(fig.axes) == 2 and all(len(ax.containers) == 2 for ax in fig.axes)
