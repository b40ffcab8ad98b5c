"""The explorers of hepnb.widgets: state changes by controls, numbers, figure data, modes."""

from __future__ import annotations

import base64
import re

import awkward as ak
import numpy as np
import pytest

from hepnb import evaluate, widgets
from hepnb.widgets import SliderDisplay, ThresholdExplorer, TRTEventDisplay

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _track(rng: np.random.Generator, n_hits: int, n_ht: int, p: float) -> dict:
    ht = np.zeros(n_hits, dtype=np.int32)
    ht[rng.choice(n_hits, n_ht, replace=False)] = 1
    return {
        "p": p,
        "pT": 0.8 * p,
        "eta": 0.3,
        "nTRThits": n_hits,
        "nHThits": n_ht,
        "eProbHT": 0.5,
        "hit_HitR": np.linspace(570.0, 1060.0, n_hits).tolist(),
        "hit_HitZ": np.linspace(10.0, 160.0, n_hits).tolist(),
        "hit_HTMB": ht.tolist(),
        "hit_gasType": (np.arange(n_hits) % 3 == 0).astype(int).tolist(),
        "hit_tot": rng.uniform(5, 40, n_hits).tolist(),
    }


@pytest.fixture(scope="module")
def tracks() -> dict[str, ak.Array]:
    rng = np.random.default_rng(1)
    electrons = [_track(rng, 30 + i, 10 + i % 5, 20_000.0 + 1000 * i) for i in range(6)]
    muons = [_track(rng, 25 + i, i % 2, 5_000.0 * (i + 1)) for i in range(3)]
    return {"electron": ak.Array(electrons), "muon": ak.Array(muons)}


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 6000)
    return y, {"weak": rng.normal(y * 1.0, 1.0), "strong": rng.normal(y * 2.0, 1.0)}


def _ht_points(display: TRTEventDisplay) -> np.ndarray:
    """(z, R) of the points drawn as HT stars in the R–z panel."""
    ax = display.figure.axes[0]
    (stars,) = [c for c in ax.collections if c.get_label() == "high threshold (HT)"]
    return np.asarray(stars.get_offsets())


# --- display mode -------------------------------------------------------------------------


def test_display_mode_static_outside_a_kernel(monkeypatch):
    monkeypatch.delenv(widgets.MODE_ENV, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/some/notebook.ipynb")  # no kernel: still static
    assert widgets.display_mode() == "static"


def test_display_mode_interactive_only_in_a_kernel_started_by_a_jupyter_server(monkeypatch):
    class FakeShell:
        kernel = object()

    monkeypatch.delenv(widgets.MODE_ENV, raising=False)
    monkeypatch.setattr(widgets, "_kernel_shell", lambda: FakeShell())
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert widgets.display_mode() == "static"  # e.g. a papermill kernel
    monkeypatch.setenv("JPY_SESSION_NAME", "/lab/explore.ipynb")
    assert widgets.display_mode() == "interactive"
    monkeypatch.setenv(widgets.MODE_ENV, "static")
    assert widgets.display_mode() == "static"


def test_display_mode_rejects_a_bad_override(monkeypatch):
    monkeypatch.setenv(widgets.MODE_ENV, "sometimes")
    with pytest.raises(ValueError, match="HEPNB_WIDGETS"):
        widgets.display_mode()


def test_static_bundle_is_the_current_figure_without_a_widget(monkeypatch, tracks):
    monkeypatch.setenv(widgets.MODE_ENV, "static")
    display = TRTEventDisplay(tracks)
    bundle = display._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"]) == display.png()
    assert display.png().startswith(PNG_MAGIC)
    assert "track: 0 of 6" in bundle["text/plain"]
    assert display._ui is None  # no widget (and no widget state in executed notebooks)
    first = display.png()
    display.set(index=4)
    bundle = display._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == display.png() != first
    assert "track: 4 of 6" in bundle["text/plain"]


def test_interactive_bundle_adds_the_live_widget_and_keeps_the_picture(monkeypatch, tracks):
    monkeypatch.setenv(widgets.MODE_ENV, "interactive")
    display = TRTEventDisplay(tracks)
    bundle = display._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == display.ui.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)


# --- event display ------------------------------------------------------------------------


def test_event_display_slider_moves_to_another_track(tracks):
    display = TRTEventDisplay(tracks)
    slider = display.widgets["index"]
    before_png, before_ht = display.png(), _ht_points(display)
    slider.value = 3  # what moving the slider does
    event = tracks["electron"][3]
    assert display.state == {"sample": "electron", "index": 3}
    assert display.numbers["track"] == "3 of 6"
    assert display.numbers["p [GeV]"] == pytest.approx(23.0)
    assert display.numbers["HT hits"] == int(event["nHThits"]) == 13
    ht = np.asarray(event["hit_HTMB"]) == 1
    expected = np.stack([np.asarray(event["hit_HitZ"])[ht], np.asarray(event["hit_HitR"])[ht]], 1)
    np.testing.assert_allclose(_ht_points(display), expected)
    assert len(_ht_points(display)) != len(before_ht)
    assert display.png() != before_png
    assert display._image.value == display.png()  # the widget shows the new picture
    assert "3 of 6" in display._table.value


def test_event_display_dropdown_switches_sample_and_keeps_slider_in_range(tracks):
    display = TRTEventDisplay(tracks, index=5)
    controls = display.widgets
    controls["sample"].value = "muon"  # 3 muons: index 5 does not exist there
    assert display.state == {"sample": "muon", "index": 2}
    assert controls["index"].max == 2 and controls["index"].value == 2
    assert display.numbers["sample"] == "muon"
    assert display.numbers["HT hits"] == int(tracks["muon"][2]["nHThits"])
    controls["sample"].value = "electron"
    assert controls["index"].max == 5 and display.state["index"] == 2


def test_event_display_set_from_code_updates_the_controls(tracks):
    display = TRTEventDisplay(tracks)
    controls = display.widgets
    display.set(sample="muon", index=1)
    assert (controls["sample"].value, controls["index"].value) == ("muon", 1)


def test_event_display_from_simulated_file(tmp_path):
    from hepnb.sim import trt as sim

    path = sim.generate(tmp_path / "trt_sim.root", n_tracks=40, seed=3)
    display = TRTEventDisplay.from_file(path, samples=("electron", "pion"), n_max=10)
    assert list(display.events) == ["electron", "pion"]
    assert display.numbers["track"] == "0 of 10"
    n_ht = int(display.event["nHThits"])
    assert len(_ht_points(display)) == n_ht == display.numbers["HT hits"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"index": 6}, "index=6"),
        ({"index": -1}, "index=-1"),
        ({"index": 1.5}, "index=1.5"),
        ({"sample": "tau"}, "sample='tau'"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_event_display_bad_state_names_the_parameter(tracks, kwargs, match):
    display = TRTEventDisplay(tracks)
    with pytest.raises(ValueError, match=match):
        display.set(**kwargs)
    assert display.state == {"sample": "electron", "index": 0}


def test_event_display_bad_input_names_the_parameter(tracks):
    with pytest.raises(ValueError, match="index=9"):
        TRTEventDisplay(tracks, index=9)
    with pytest.raises(ValueError, match=r"tracks\['muon'\] lacks branch\(es\) \['hit_HitZ'\]"):
        TRTEventDisplay(
            {"muon": tracks["muon"][[f for f in tracks["muon"].fields if f != "hit_HitZ"]]}
        )
    with pytest.raises(ValueError, match="events"):
        TRTEventDisplay({})
    with pytest.raises(ValueError, match=r"\['muon'\] hold no events"):
        TRTEventDisplay({"electron": tracks["electron"], "muon": tracks["muon"][:0]})


def test_displays_leave_no_pyplot_figure_for_the_inline_backend(tracks, toy):
    import matplotlib.pyplot as plt

    plt.close("all")
    TRTEventDisplay(tracks).set(index=1)
    ThresholdExplorer(*toy).set(efficiency=0.8)
    assert plt.get_fignums() == []


def test_save_writes_the_current_figure(tmp_path, tracks):
    display = TRTEventDisplay(tracks).set(index=2)
    path = display.save(tmp_path / "track.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["track.png"]  # no temporary left behind


# --- threshold explorer -------------------------------------------------------------------


def test_threshold_explorer_numbers_agree_with_evaluate(toy):
    y, scores = toy
    explorer = ThresholdExplorer(y, scores, efficiency=0.8)
    for name, s in scores.items():
        r = evaluate.rejection_at(y, s, 0.8)
        row = evaluate.threshold_scan(y, s, [r.threshold]).iloc[0]
        got = explorer.numbers.loc[name]
        assert got["threshold"] == r.threshold
        assert got["rejection"] == pytest.approx(r.rejection)
        assert got["rejection_error"] == pytest.approx(r.error)
        assert got["bkg_efficiency"] == pytest.approx(r.bkg_eff)
        assert got["efficiency"] == pytest.approx(row["efficiency"])
        assert got["efficiency"] >= 0.8
        assert got["purity"] == pytest.approx(row["purity"])
        # purity by hand: signal over everything above the cut
        above = s >= r.threshold
        assert got["purity"] == pytest.approx(y[above].mean())
    assert explorer.numbers.loc["strong", "rejection"] > explorer.numbers.loc["weak", "rejection"]


def test_threshold_explorer_slider_moves_the_working_point(toy):
    y, scores = toy
    explorer = ThresholdExplorer(y, scores, efficiency=0.9, classifier="strong")
    rej_90 = explorer.numbers["rejection"].copy()
    explorer.widgets["efficiency"].value = 0.7  # what moving the slider does
    assert explorer.state["efficiency"] == pytest.approx(0.7)
    rej_70 = explorer.numbers["rejection"]
    assert (rej_70 > rej_90).all()  # a looser efficiency buys more rejection
    assert rej_70["strong"] == pytest.approx(
        evaluate.rejection_at(y, scores["strong"], 0.7).rejection
    )
    # the figure: the working-point markers sit on (efficiency, rejection), the cut line at the
    # strong classifier's threshold
    ax_roc, ax_hist = explorer.figure.axes[:2]
    for name in scores:
        (marker,) = [ln for ln in ax_roc.get_lines() if ln.get_gid() == f"working-point:{name}"]
        assert marker.get_xdata()[0] == pytest.approx(explorer.numbers.loc[name, "efficiency"])
        assert marker.get_ydata()[0] == pytest.approx(explorer.numbers.loc[name, "rejection"])
    cut = [ln for ln in ax_hist.get_lines() if ln.get_label().startswith("cut")]
    assert cut[0].get_xdata()[0] == pytest.approx(explorer.numbers.loc["strong", "threshold"])
    assert widgets._format(rej_70["strong"]) in explorer._table.value


def test_threshold_explorer_dropdown_changes_the_histogram(toy):
    y, scores = toy
    explorer = ThresholdExplorer(y, scores)
    explorer.widgets["classifier"].value = "strong"
    ax_hist = explorer.figure.axes[1]
    assert ax_hist.get_xlabel() == "strong score"
    cut = [ln for ln in ax_hist.get_lines() if ln.get_label().startswith("cut")]
    assert cut[0].get_xdata()[0] == pytest.approx(explorer.numbers.loc["strong", "threshold"])


def test_threshold_explorer_value_outside_slider_range_is_kept(toy):
    y, scores = toy
    explorer = ThresholdExplorer(y, scores)
    slider = explorer.widgets["efficiency"]
    explorer.set(efficiency=0.3)
    assert explorer.state["efficiency"] == pytest.approx(0.3)
    assert slider.value == pytest.approx(0.3) and slider.min <= 0.3


def test_threshold_explorer_single_score_array(toy):
    y, scores = toy
    explorer = ThresholdExplorer(y, scores["weak"], efficiency=0.95)
    assert list(explorer.numbers.index) == ["score"]
    assert explorer.numbers.loc["score", "rejection"] == pytest.approx(
        evaluate.rejection_at(y, scores["weak"], 0.95).rejection
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"efficiency": 0.0}, "efficiency=0.0"),
        ({"efficiency": 1.2}, "efficiency=1.2"),
        ({"classifier": "bdt"}, "classifier='bdt'"),
    ],
)
def test_threshold_explorer_bad_state_names_the_parameter(toy, kwargs, match):
    y, scores = toy
    explorer = ThresholdExplorer(y, scores)
    with pytest.raises(ValueError, match=match):
        explorer.set(**kwargs)


def test_threshold_explorer_bad_input_names_the_parameter(toy):
    y, scores = toy
    with pytest.raises(ValueError, match=r"scores\['short'\] has 10 entries but y has 6000"):
        ThresholdExplorer(y, {"short": scores["weak"][:10]})
    bad = scores["weak"].copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"scores\['bad'\].*NaN"):
        ThresholdExplorer(y, {"bad": bad})
    with pytest.raises(ValueError, match=r"scores\['weak'\].*y holds only class"):
        ThresholdExplorer(np.ones_like(y), {"weak": scores["weak"]})
    with pytest.raises(ValueError, match="at least one classifier"):
        ThresholdExplorer(y, {})
    with pytest.raises(ValueError, match="eff_range"):
        ThresholdExplorer(y, scores, eff_range=(0.9, 0.5))


# --- the base helper, as a later chapter would use it --------------------------------------


class _Counter(SliderDisplay):
    """A minimal subclass: one slider, a line whose slope is the slider value."""

    def __init__(self) -> None:
        super().__init__({"slope": 1}, figsize=(3, 2))

    def controls(self):
        import ipywidgets as w

        return {"slope": w.IntSlider(min=0, max=5)}

    def draw(self, fig, *, slope):
        fig.subplots().plot([0, 1], [0, slope])

    def summary(self, *, slope):
        return {"slope": slope}


def test_slider_display_subclass_gets_the_slider_mechanics():
    display = _Counter()
    display.widgets["slope"].value = 4
    assert display.numbers == {"slope": 4}
    (line,) = display.figure.axes[0].get_lines()
    assert list(line.get_ydata()) == [0, 4]
    assert re.search(r"<th[^>]*>slope</th>.*<td[^>]*>4</td>", display._table.value)


# --- GhostEventDisplay -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ghost_display():
    return widgets.GhostEventDisplay.from_simulation(n_events=4, seed=0, track="matching")


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
    from hepnb.sim import ghost

    d = ghost_display
    labels = ghost.simulate(4, seed=0, tracks=("matching",))["matching"]
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
        widgets.GhostEventDisplay.from_simulation(n_events=2, track=track)


def test_ghost_event_record_bad_track_raises():
    from hepnb.sim import ghost

    with pytest.raises(ValueError, match="track='long'"):
        ghost.event_record(2, track="long")
