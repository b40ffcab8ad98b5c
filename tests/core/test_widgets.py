"""The explorers of hepnb.widgets: state changes by controls, numbers, figure data, modes."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from hepnb import evaluate, widgets
from hepnb.widgets import SliderDisplay, ThresholdExplorer, slider

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 6000)
    return y, {"weak": rng.normal(y * 1.0, 1.0), "strong": rng.normal(y * 2.0, 1.0)}


# --- display mode -------------------------------------------------------------------------


def test_display_mode_static_outside_a_kernel(monkeypatch):
    monkeypatch.delenv(widgets.MODE_ENV, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/some/notebook.ipynb")  # no kernel: still static
    assert widgets.display_mode() == "static"


def test_display_mode_interactive_only_in_a_kernel_started_by_a_jupyter_server(monkeypatch):
    class FakeShell:
        kernel = object()

    monkeypatch.delenv(widgets.MODE_ENV, raising=False)
    monkeypatch.setattr(slider, "_kernel_shell", lambda: FakeShell())
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


def test_static_bundle_is_the_current_figure_without_a_widget(monkeypatch, toy):
    monkeypatch.setenv(widgets.MODE_ENV, "static")
    explorer = ThresholdExplorer(*toy)
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"]) == explorer.png()
    assert explorer.png().startswith(PNG_MAGIC)
    assert explorer._ui is None  # no widget (and no widget state in executed notebooks)
    first = explorer.png()
    explorer.set(efficiency=0.7)
    bundle = explorer._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == explorer.png() != first


def test_interactive_bundle_adds_the_live_widget_and_keeps_the_picture(monkeypatch, toy):
    monkeypatch.setenv(widgets.MODE_ENV, "interactive")
    explorer = ThresholdExplorer(*toy)
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.ui.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)


def test_save_writes_the_current_figure(tmp_path, toy):
    path = ThresholdExplorer(*toy).set(efficiency=0.8).save(tmp_path / "working_point.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["working_point.png"]  # no temporary left


def test_displays_leave_no_pyplot_figure_for_the_inline_backend(toy):
    import matplotlib.pyplot as plt

    plt.close("all")
    ThresholdExplorer(*toy).set(efficiency=0.8)
    assert plt.get_fignums() == []


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
    assert slider._format(rej_70["strong"]) in explorer._table.value


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

    def draw(self, fig, state):
        fig.subplots().plot([0, 1], [0, state["slope"]])

    def summary(self, state):
        return {"slope": state["slope"]}


def test_slider_display_subclass_gets_the_slider_mechanics():
    display = _Counter()
    display.widgets["slope"].value = 4
    assert display.numbers == {"slope": 4}
    (line,) = display.figure.axes[0].get_lines()
    assert list(line.get_ydata()) == [0, 4]
    assert re.search(r"<th[^>]*>slope</th>.*<td[^>]*>4</td>", display._table.value)
