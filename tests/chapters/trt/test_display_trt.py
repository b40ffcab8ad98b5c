"""The TRT event display (:class:`hepnb.chapters.trt.TRTEventDisplay`): state changes by its
controls, the numbers and figure data it shows, its static and interactive bundles."""

from __future__ import annotations

import base64

import awkward as ak
import numpy as np
import pytest

from hepnb import widgets
from hepnb.chapters.trt import sim
from hepnb.chapters.trt.display import TRTEventDisplay

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


def _ht_points(display: TRTEventDisplay) -> np.ndarray:
    """(z, R) of the points drawn as HT stars in the R–z panel."""
    ax = display.figure.axes[0]
    (stars,) = [c for c in ax.collections if c.get_label() == "high threshold (HT)"]
    return np.asarray(stars.get_offsets())


# --- bundles ------------------------------------------------------------------------------


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
    path = sim.generate(tmp_path / "trt_sim.root", n_tracks=40, seed=3, progress=False)
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


def test_display_leaves_no_pyplot_figure_for_the_inline_backend(tracks):
    import matplotlib.pyplot as plt

    plt.close("all")
    TRTEventDisplay(tracks).set(index=1)
    assert plt.get_fignums() == []


def test_save_writes_the_current_figure(tmp_path, tracks):
    display = TRTEventDisplay(tracks).set(index=2)
    path = display.save(tmp_path / "track.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["track.png"]  # no temporary left behind
