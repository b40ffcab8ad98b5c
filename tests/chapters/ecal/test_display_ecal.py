"""The ECal event display and figures (:mod:`hepnb.chapters.ecal.display`): what each draws,
checked against the events, the geometry and numpy on the same inputs."""

from __future__ import annotations

import awkward as ak
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.patches import StepPatch
from scipy.stats import norm

from hepnb import evaluate
from hepnb.chapters.ecal import display as ecal_display
from hepnb.chapters.ecal import reader, schema, sim, trigscint
from hepnb.chapters.ecal.display import (
    ECalEventDisplay,
    energy_resolution_table,
    plot_accuracy_vs_distance,
    plot_confusions,
    plot_energy_response,
    plot_hits_per_event,
    ts_bar_y,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return sim.write_sample(tmp_path_factory.mktemp("ecal"), 20, seed=0, multiplicities=(1, 3))


@pytest.fixture(scope="module")
def events3(files):
    return reader.read_events(files[3])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- helpers ------------------------------------------------------------------------------


def _axes(display: ECalEventDisplay):
    """The (x–y, energy per layer, scintillator) axes of the display (colour bar left out)."""
    return [ax for ax in display.figure.axes if ax.get_label() != "<colorbar>"]


def _by_gid(ax, gid: str, kind: str = "collections"):
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


def _hits(display: ECalEventDisplay):
    (coll,) = _by_gid(_axes(display)[0], "ecal_hits")
    return coll


def _layer_bars(display: ECalEventDisplay) -> np.ndarray:
    (bars,) = [c for c in _axes(display)[1].containers if isinstance(c, BarContainer)]
    return np.array([p.get_height() for p in bars])


def _beam(hits) -> np.ndarray:
    """(x, y) of the beam electrons of one event, computed independently: electrons above
    2 GeV, the most upstream hit of each track."""
    h = {k: np.asarray(ak.to_numpy(hits[k]), float) for k in ("x", "y", "z", "energy", "pdg")}
    h["track"] = np.asarray(ak.to_numpy(hits["track"]))
    out = {}
    for i in np.flatnonzero((h["pdg"] == 11) & (h["energy"] > 2000.0)):
        t = h["track"][i]
        if t not in out or h["z"][i] < out[t][2]:
            out[t] = (h["x"][i], h["y"][i], h["z"][i])
    return np.array(sorted((v[0], v[1]) for v in out.values())).reshape(-1, 2)


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, float).reshape(-1, 2)
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def _has_label(ax) -> bool:
    return any(t.get_text() == "LDMX" for t in ax.texts)


# --- event display ------------------------------------------------------------------------


def test_one_hexagonal_cell_per_hit_at_the_hit_with_the_geometry_orientation(events3):
    display = ECalEventDisplay(events3, n=3)
    for index in (0, 7):
        display.set(index=index)
        ecal = events3[index].ecal
        coll = _hits(display)
        paths = coll.get_paths()
        assert len(paths) == len(ecal) > 0
        corners = np.array([p.vertices[:6] for p in paths])  # (hits, 6, 2)
        centres = corners.mean(axis=1)
        xy = np.column_stack([ak.to_numpy(ecal.x), ak.to_numpy(ecal.y)]).astype(float)
        np.testing.assert_allclose(_sorted_rows(centres), _sorted_rows(xy), atol=1e-3)
        # side = CELL_SIDE, corners on ±x and flat sides up (neighbours at (0, ±CELL_PITCH))
        r = np.linalg.norm(corners - centres[:, None, :], axis=2)
        np.testing.assert_allclose(r, schema.CELL_SIDE, rtol=1e-9)
        np.testing.assert_allclose(corners[..., 1].max(1) - centres[:, 1], schema.CELL_R, rtol=1e-9)
        np.testing.assert_allclose(
            corners[..., 0].max(1) - centres[:, 0], schema.CELL_SIDE, rtol=1e-9
        )
        # coloured by energy on a log scale
        np.testing.assert_allclose(
            np.sort(coll.get_array()), np.sort(ak.to_numpy(ecal.energy)), rtol=1e-6
        )
        assert type(coll.norm).__name__ == "LogNorm"
        # module outlines: even and odd layers, 7 hexagons of MODULE_R with corners up
        even, odd = _by_gid(_axes(display)[0], "modules")
        v = np.array([p.vertices[:6] for p in even.get_paths()])
        np.testing.assert_allclose(v.mean(1), schema.MODULE_XY, atol=1e-9)
        np.testing.assert_allclose(v[..., 1].max(1) - schema.MODULE_XY[:, 1], schema.MODULE_R)
        w = np.array([p.vertices[:6] for p in odd.get_paths()])
        np.testing.assert_allclose(w.mean(1) - v.mean(1), [[schema.CELL_SIDE, 0.0]] * 7)


def test_truth_electrons_at_the_ecal_face_are_marked(events3):
    display = ECalEventDisplay(events3)
    seen = 0
    for index in range(8):
        display.set(index=index)
        (marks,) = _by_gid(_axes(display)[0], "ecal_electrons")
        expected = _beam(events3[index].truth)
        np.testing.assert_allclose(_sorted_rows(marks.get_offsets()), expected, atol=1e-4)
        seen += len(expected)
        # without labels the true n is the number of beam electrons at the face
        assert display.numbers["true n"] == len(expected)
        assert display.numbers["electrons at ECal face"] == len(expected)
    assert seen > 2 * 8


def test_energy_per_layer_sums_to_the_event_energy(events3):
    display = ECalEventDisplay(events3, n=3)
    for index in (0, 3, 11):
        display.set(index=index)
        ecal = events3[index].ecal
        heights = _layer_bars(display)
        assert len(heights) == schema.N_LAYERS
        total = float(ak.sum(ecal.energy))
        assert heights.sum() == pytest.approx(total, rel=1e-5)
        expected = np.bincount(
            ak.to_numpy(ecal.layer), ak.to_numpy(ecal.energy), minlength=schema.N_LAYERS
        )
        np.testing.assert_allclose(heights, expected, rtol=1e-5)
        title = display.figure.get_suptitle()
        assert f"event {index}" in title
        assert "true n = 3" in title
        assert f"ΣE = {total / 1e3:.2f} GeV" in title
        assert display.numbers["ΣE [GeV]"] == pytest.approx(total / 1e3, rel=1e-6)


def test_an_event_without_ecal_hits_draws_empty_panels(events3):
    emptied = ak.concatenate([events3.ecal[:1, :0], events3.ecal[1:]])
    events = ak.with_field(events3, emptied, "ecal")
    assert ak.num(events.ecal)[0] == 0
    display = ECalEventDisplay(events, n=3)
    assert len(_hits(display).get_paths()) == 0
    assert _layer_bars(display).sum() == 0
    ax_xy, ax_layer, _ = _axes(display)
    for ax in (ax_xy, ax_layer):
        assert "no ECal hit" in [t.get_text() for t in ax.texts]
    assert "no ECal hit" in display.figure.get_suptitle()
    assert display.numbers["ECal hits"] == 0
    assert display.numbers["ΣE [GeV]"] == 0
    assert display.png().startswith(b"\x89PNG")  # it renders
    display.set(index=1)  # and the next event is drawn as usual
    assert len(_hits(display).get_paths()) == len(events3[1].ecal)


def test_the_slider_changes_the_drawn_event(events3):
    pytest.importorskip("ipywidgets")
    display = ECalEventDisplay(events3, n=3)
    first = display.png()
    display.set(index=5)
    assert len(_hits(display).get_paths()) == len(events3[5].ecal)
    assert "event 5" in display.figure.get_suptitle()
    assert display.numbers["event"] == f"5 of {len(events3)}"
    assert display.png() != first
    display.widgets["index"].value = 6  # moving the slider
    assert display.state["index"] == 6
    assert len(_hits(display).get_paths()) == len(events3[6].ecal)
    assert "event 6" in display.figure.get_suptitle()
    with pytest.raises(ValueError, match="20 events"):
        display.set(index=len(events3))


def test_scintillator_bars_and_electrons(events3):
    events = ecal_display.with_ts_bars(events3, np.random.default_rng(3))
    display = ECalEventDisplay(events, n=3)
    n_bars = 0
    for index in range(6):
        display.set(index=index)
        ax = _axes(display)[2]
        bars = np.unique(ak.to_numpy(events[index].ts_bars))
        rects = _by_gid(ax, "ts_bar", "patches")
        assert len(rects) == len(bars)
        centres = np.sort([r.get_y() + r.get_height() / 2 for r in rects])
        np.testing.assert_allclose(centres, np.sort(ts_bar_y(bars)), atol=1e-9)
        for r in rects:
            assert r.get_height() == pytest.approx(schema.TS_BAR_WIDTH)
            assert r.get_width() == pytest.approx(schema.TS_BAR_LENGTH)
        (marks,) = _by_gid(ax, "ts_electrons")
        expected = _beam(events[index].ts)
        np.testing.assert_allclose(_sorted_rows(marks.get_offsets()), expected, atol=1e-4)
        # every fired bar is one an electron crosses, at the y of its band
        b0, b1 = trigscint.bars_crossed(expected[:, 0], expected[:, 1])
        crossed = set(b0[b0 >= 0]) | set(b1[b1 >= 0])
        assert set(bars) <= crossed
        for b in crossed:
            y = expected[(b0 == b) | (b1 == b), 1]
            assert np.all(np.abs(y - ts_bar_y(b)) <= schema.TS_BAR_WIDTH / 2 + 1e-9)
        assert display.numbers["fired bars"] == len(bars)
        assert display.numbers["TS clusters"] == trigscint.count_clusters([bars.tolist()])[0]
        n_bars += len(bars)
    assert n_bars > 0
    # without ts_bars: no band, and the panel says so
    plain = ECalEventDisplay(events3, n=3)
    ax = _axes(plain)[2]
    assert not _by_gid(ax, "ts_bar", "patches")
    assert "fired bars not given" in [t.get_text() for t in ax.texts]


def test_from_files_labels_each_multiplicity(files):
    display = ECalEventDisplay.from_files(files, n_max=5)
    assert list(display.events) == ["1 e", "3 e"]
    assert all(len(v) == 5 for v in display.events.values())
    assert display.numbers["true n"] == 1
    display.set(sample="3 e", index=2)
    assert display.numbers["true n"] == 3
    assert "true n = 3" in display.figure.get_suptitle()
    assert "ts_bars" in display.events["3 e"].fields
    ax_xy, ax_layer, ax_ts = _axes(display)
    assert (ax_xy.get_xlabel(), ax_xy.get_ylabel()) == ("x [mm]", "y [mm]")
    assert ax_layer.get_ylabel() == "energy [MeV]"
    assert ax_ts.get_xlabel() == "x [mm]"
    assert _has_label(ax_xy) and _has_label(ax_layer)


def test_bad_inputs_are_refused(events3):
    with pytest.raises(ValueError, match="shape"):
        ECalEventDisplay(events3, n=[3, 3])
    with pytest.raises(ValueError, match="'ecal'"):
        ECalEventDisplay(ak.Array([{"x": 1}]))


# --- figures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def summary() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = np.repeat([1, 2, 3], [400, 300, 300])
    energy = rng.normal(n * schema.BEAM_ENERGY, 250.0 * np.sqrt(n))
    energy[::50] *= 0.5  # a leakage tail
    return {"n": n, "energy": energy, "n_hits": rng.poisson(90 * n)}


def test_energy_response_histograms_and_rounding_boundaries(summary):
    ax = plot_energy_response(summary)
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 3
    for m, step in zip((1, 2, 3), steps, strict=True):
        values, edges, _ = step.get_data()
        e = summary["energy"][summary["n"] == m] / schema.BEAM_ENERGY
        expected = np.histogram(np.clip(e, edges[0], edges[-1] - 1e-9), edges)[0] / len(e)
        np.testing.assert_allclose(values, expected)
        assert values.sum() == pytest.approx(1.0)
    bounds = sorted(line.get_xdata()[0] for line in ax.lines if line.get_gid() == "rounding")
    assert bounds == [0.5, 1.5, 2.5, 3.5]
    assert ax.get_xlabel() == "ΣE / 4 GeV"
    assert ax.get_ylabel().startswith("fraction of events")
    assert _has_label(ax)


def test_energy_resolution_table_against_numpy(summary):
    table = energy_resolution_table(summary)
    assert list(table.index) == [1, 2, 3]
    z = norm.ppf(0.975)
    factor = np.sqrt(1 - 2 * z * norm.pdf(z) / 0.95)
    for m in (1, 2, 3):
        e = summary["energy"][summary["n"] == m]
        lo, hi = np.quantile(e, [0.025, 0.975])
        core = e[(e >= lo) & (e <= hi)] / 1e3
        row = table.loc[m]
        assert row["events"] == len(e)
        assert row["mean ΣE (GeV)"] == pytest.approx(core.mean())
        assert row["σ (GeV)"] == pytest.approx(core.std(ddof=1) / factor)
        assert row["σ/E"] == pytest.approx(row["σ (GeV)"] / row["mean ΣE (GeV)"])
        assert row["within ±2 GeV"] == pytest.approx(np.mean(np.abs(e - 4000.0 * m) < 2000.0))
    # the truncated width of a Gaussian gives back its σ
    g = np.random.default_rng(1).normal(8000.0, 400.0, 40_000)
    t = energy_resolution_table({"n": np.full(len(g), 2), "energy": g})
    assert t.loc[2, "σ (GeV)"] == pytest.approx(0.4, rel=0.02)
    assert t.loc[2, "mean ΣE (GeV)"] == pytest.approx(8.0, abs=0.01)


class _Evaluation:
    """The part of steps.Evaluation the figures use, on made-up predictions."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n = np.repeat([1, 2, 3], 200)
        self.min_dist = np.where(self.n > 1, rng.uniform(0, 80, len(self.n)), np.nan)
        self.pred = {}
        for k, m in enumerate(("energy sum", "cnn")):
            wrong = rng.random(len(self.n)) < 0.3 - 0.15 * k
            shift = rng.choice([-1, 1], len(self.n))
            self.pred[m] = np.where(wrong, np.clip(self.n + shift, 1, 3), self.n)

    def confusion(self, method: str) -> pd.DataFrame:
        return evaluate.confusion_matrix(self.n, self.pred[method], labels=[1, 2, 3])

    def by_distance(self, method: str, bins) -> evaluate.BinnedRate:
        sel = np.isfinite(self.min_dist)
        ok = self.pred[method] == self.n
        return evaluate.binned_rate(self.min_dist[sel], ok[sel], bins)


def test_confusion_annotations_are_the_matrix_values():
    ev = _Evaluation()
    methods = ["energy sum", "cnn"]
    fig = plot_confusions(ev, methods)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2
    assert len(fig.axes) == 3  # one colour bar for the row
    for ax, m in zip(panels, methods, strict=True):
        cm = ev.confusion(m).to_numpy()
        np.testing.assert_allclose(cm.sum(axis=1), 1.0)
        assert ax.get_title() == m
        (image,) = ax.images
        np.testing.assert_allclose(image.get_array(), 100 * cm)
        cells = [t for t in ax.texts if t.get_gid() == "confusion_cell"]
        assert len(cells) == cm.size
        for t in cells:
            j, i = (round(v) for v in t.get_position())
            assert t.get_text() == f"{100 * cm[i, j]:.1f}%"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
        assert ax.get_xlabel() == "predicted n"
    assert panels[0].get_ylabel() == "true n"
    assert "LDMX" in panels[0].figure.get_suptitle()  # one experiment label for the row
    # on given axes
    _, axes = plt.subplots(1, 2)
    assert plot_confusions(ev, methods, axes) is axes[0].figure
    with pytest.raises(ValueError, match="axes"):
        plot_confusions(ev, methods, axes[:1])


def test_accuracy_points_are_the_binned_rates():
    ev = _Evaluation()
    bins = [0.0, 10.0, 20.0, 40.0, 80.0]
    ax = plot_accuracy_vs_distance(ev, ["energy sum", "cnn"], bins=bins)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert [c.get_label() for c in bars] == ["energy sum", "cnn"]
    for c, m in zip(bars, ["energy sum", "cnn"], strict=True):
        r = ev.by_distance(m, bins)
        line = c.lines[0]
        np.testing.assert_allclose(line.get_xdata(), r.centres)
        np.testing.assert_allclose(line.get_ydata(), r.rate)
    assert ax.get_xlabel() == "minimum distance between electrons [mm]"
    assert ax.get_ylabel() == "accuracy"
    assert any(line.get_gid() == "cell_pitch" for line in ax.lines)
    assert _has_label(ax)
    # default bins
    ax = plot_accuracy_vs_distance(ev, ["cnn"], ax=plt.subplots()[1])
    (c,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    d = ecal_display.DEFAULT_DISTANCE_BINS
    np.testing.assert_allclose(c.lines[0].get_xdata(), (d[1:] + d[:-1]) / 2)


def test_hits_per_event_per_multiplicity(summary):
    ax = plot_hits_per_event(summary)
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for m, step, text in zip((1, 2, 3), steps, labels, strict=True):
        values, edges, _ = step.get_data()
        h = summary["n_hits"][summary["n"] == m]
        np.testing.assert_allclose(values, np.histogram(h, edges)[0] / len(h))
        assert np.allclose(edges, np.round(edges))  # whole numbers of hits
        assert f"(mean {h.mean():.0f})" in text
    assert ax.get_xlabel() == "ECal hits per event"
    assert _has_label(ax)
