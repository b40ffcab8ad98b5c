"""Interactive explorers for the book: event displays and a threshold explorer (ipywidgets).

Every explorer is a :class:`SliderDisplay`: a small *state* (e.g. ``{"sample": "electron",
"index": 3}``), controls that change it (sliders, dropdowns), and a matplotlib figure plus a
table of numbers drawn from it. Moving a control calls :meth:`SliderDisplay.set`, which redraws
the figure and the numbers; code (and the tests) call ``set`` directly.

How a display shows itself — interactive or static
--------------------------------------------------
A display is shown by returning it as the last expression of a cell. Its
``_repr_mimebundle_`` returns

- always ``image/png`` (the figure of the current state) and ``text/plain`` (the numbers);
- in *interactive* mode also ``application/vnd.jupyter.widget-view+json``, the live widget.

A frontend that renders widgets (JupyterLab, Notebook 7, Binder) shows the widget, which it
ranks above images; anything else (the published book, nbconvert, a notebook opened without
its kernel) shows the static figure. The widgets themselves are created only in interactive
mode, so papermill runs do not store widget state (PNG bytes) in the executed notebooks.

:func:`display_mode` decides the mode:

1. ``HEPNB_WIDGETS=interactive`` or ``static`` in the environment forces it (e.g. for VS Code,
   whose kernels the rule below does not recognise: set ``HEPNB_WIDGETS=interactive``).
2. Otherwise it is *interactive* only inside an IPython kernel (an ``ipykernel`` shell) that a
   Jupyter server started — jupyter_server puts ``JPY_SESSION_NAME`` (the notebook's path) into
   the environment of every kernel it starts for a notebook session — or inside Google Colab.
3. Everything else is *static*: plain Python (no kernel: scripts, pytest) and kernels started
   without a server (papermill, nbclient, ``jupyter nbconvert --execute``, ``hepnb run``), whose
   outputs are read later by the book builder or a person.

Later chapters add their own event display by subclassing :class:`EventDisplay` (a dropdown
over samples and a slider over events) and implementing :meth:`EventDisplay.draw_event`, or
:class:`SliderDisplay` for other controls (implement ``controls``, ``draw`` and ``summary``).
"""

from __future__ import annotations

import base64
import contextlib
import html
import io as _io
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hepnb import evaluate
from hepnb import plot as hplot

__all__ = [
    "MODE_ENV",
    "EventDisplay",
    "GhostEventDisplay",
    "SliderDisplay",
    "TRTEventDisplay",
    "ThresholdExplorer",
    "display_mode",
]

#: Environment variable forcing the display mode: ``auto`` (default), ``interactive``, ``static``.
MODE_ENV = "HEPNB_WIDGETS"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_LT, _HT = "tab:blue", "tab:red"  # low- and high-threshold hits


def _kernel_shell() -> Any:
    """The running IPython kernel shell, or None outside a kernel (plain Python, terminal IPython)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def display_mode() -> str:
    """``"interactive"`` when a frontend will render widgets, else ``"static"``.

    See the module docstring for the rules; ``HEPNB_WIDGETS`` overrides them.

    Raises:
        ValueError: ``HEPNB_WIDGETS`` holds something other than auto/interactive/static.
    """
    forced = os.environ.get(MODE_ENV, "auto").strip().lower()
    if forced in ("interactive", "static"):
        return forced
    if forced not in ("", "auto"):
        raise ValueError(f"{MODE_ENV}={forced!r}: expected 'auto', 'interactive' or 'static'")
    if _kernel_shell() is None:
        return "static"
    if os.environ.get("JPY_SESSION_NAME") or "google.colab" in sys.modules:
        return "interactive"
    return "static"


@contextlib.contextmanager
def _no_pyplot_figures() -> Iterator[None]:
    """Close pyplot figures opened inside the block.

    The displays draw on a bare :class:`~matplotlib.figure.Figure`, which the notebook's inline
    backend never shows on its own; but ``mplhep.label`` calls ``plt.gca()``, which opens an
    empty pyplot figure that the inline backend would show under the display.
    """
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        yield
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "inf" if np.isinf(value) else f"{value:.4g}"
    return str(value)


class SliderDisplay:
    """Base of every explorer: a state, controls that change it, a figure and numbers.

    Subclasses implement :meth:`controls` (the ipywidgets, one per state key, created only when
    :attr:`ui` is first used), :meth:`draw` (the figure for a state) and :meth:`summary` (the
    numbers for a state), and may override :meth:`validate` to check or clamp a new state.

    Attributes:
        figure: the matplotlib figure of the current state (redrawn by :meth:`set`).
        numbers: the numbers of the current state (a dict or a DataFrame).
    """

    def __init__(
        self, state: Mapping[str, Any], *, figsize: tuple[float, float] = (13, 5.5), dpi: int = 72
    ) -> None:
        self._state: dict[str, Any] = {}
        self._ui = None
        self._controls: dict[str, Any] = {}
        self._png: bytes | None = None
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        self.numbers: Mapping[str, Any] | pd.DataFrame = {}
        self._state = self.validate(dict(state))
        self.refresh()

    # --- to implement --------------------------------------------------------------------
    def controls(self) -> dict[str, Any]:
        """The ipywidgets controlling the state, ``{state key: ValueWidget}``."""
        raise NotImplementedError

    def draw(self, fig: Figure, **state: Any) -> None:
        """Draw the (cleared) figure ``fig`` for ``state``."""
        raise NotImplementedError

    def summary(self, **state: Any) -> Mapping[str, Any] | pd.DataFrame:
        """The numbers shown next to the figure for ``state``."""
        return {}

    def validate(self, state: dict[str, Any]) -> dict[str, Any]:
        """Check a new state and return it (possibly adjusted); raise ValueError if invalid."""
        return state

    def _sync_controls(self) -> None:
        """Update control options that depend on the state (e.g. a slider's range)."""

    # --- machinery ---------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        """A copy of the current state."""
        return dict(self._state)

    def set(self, **values: Any) -> SliderDisplay:
        """Change the state (what moving a control does), redraw, and return self.

        Raises:
            ValueError: a name is not part of the state, or a value is invalid.
        """
        unknown = sorted(set(values) - set(self._state))
        if unknown:
            raise ValueError(
                f"unknown control(s) {unknown}; this display has {sorted(self._state)}"
            )
        new = self.validate({**self._state, **values})
        if new == self._state:
            return self
        self._state = new
        self._sync_controls()
        for name, control in self._controls.items():
            if control.value != new[name]:
                control.value = new[name]  # fires _on_change, which finds nothing changed
        self.refresh()
        return self

    def refresh(self) -> None:
        """Redraw figure and numbers for the current state (and update the widget if shown)."""
        self.figure.clear()
        with _no_pyplot_figures():
            self.draw(self.figure, **self._state)
        self.numbers = self.summary(**self._state)
        self._png = None
        if self._ui is not None:
            self._image.value = self.png()
            self._table.value = self.numbers_html()

    def png(self) -> bytes:
        """The current figure as PNG bytes."""
        if self._png is None:
            buf = _io.BytesIO()
            self.figure.savefig(buf, format="png")
            self._png = buf.getvalue()
        return self._png

    def save(self, path: str | os.PathLike) -> Path:
        """Save the current figure atomically (PNG/PDF by extension) and return its path."""
        hplot.save(self.figure, path)
        return Path(path)

    def numbers_html(self) -> str:
        """The numbers as an HTML table."""
        if isinstance(self.numbers, pd.DataFrame):
            return self.numbers.to_html(float_format=_format, border=0)
        pad = ' style="padding: 0 0.7em"'
        head = "".join(f"<th{pad}>{html.escape(str(k))}</th>" for k in self.numbers)
        cells = "".join(f"<td{pad}>{html.escape(_format(v))}</td>" for v in self.numbers.values())
        return f"<table><tr>{head}</tr><tr>{cells}</tr></table>"

    def numbers_text(self) -> str:
        """The numbers as plain text."""
        if isinstance(self.numbers, pd.DataFrame):
            return self.numbers.to_string(float_format=_format)
        return "\n".join(f"{k}: {_format(v)}" for k, v in self.numbers.items())

    @property
    def ui(self):
        """The interactive widget (controls, numbers, figure), created on first use."""
        if self._ui is None:
            import ipywidgets as w

            self._controls = self.controls()
            missing = set(self._state) - set(self._controls)
            if missing:
                raise TypeError(f"{type(self).__name__}.controls() lacks {sorted(missing)}")
            self._sync_controls()
            for name, control in self._controls.items():
                control.value = self._state[name]
                control.observe(self._on_change, names="value")
            self._image = w.Image(value=self.png(), format="png")
            self._table = w.HTML(value=self.numbers_html())
            self._ui = w.VBox([w.HBox(list(self._controls.values())), self._table, self._image])
            self._ui.add_class("hepnb-display")
        return self._ui

    @property
    def widgets(self) -> dict[str, Any]:
        """The controls by state key (creates the widget if needed)."""
        _ = self.ui
        return dict(self._controls)

    def _on_change(self, change: Mapping[str, Any]) -> None:
        name = next(k for k, c in self._controls.items() if c is change["owner"])
        self.set(**{name: change["new"]})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._state.items())
        return f"{type(self).__name__}({args})\n{self.numbers_text()}"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "text/plain": repr(self),
            "image/png": base64.b64encode(self.png()).decode("ascii"),
        }
        if display_mode() == "interactive":
            bundle[_WIDGET_MIME] = self.ui._repr_mimebundle_()[_WIDGET_MIME]
        return bundle


class EventDisplay(SliderDisplay):
    """A dropdown over samples and a slider over the events of the chosen sample.

    Subclasses implement :meth:`draw_event` (and optionally :meth:`describe_event`); the
    base handles the controls, index range and validation.

    Args:
        events: ``{sample name: events}``; each value supports ``len`` and integer indexing
            (an awkward array of records, a list...).
        sample: the sample shown first (default: the first).
        index: the event shown first.
        item: what one event is called on the slider ("track", "event").
    """

    def __init__(
        self,
        events: Mapping[str, Sequence[Any]],
        *,
        sample: str | None = None,
        index: int = 0,
        item: str = "event",
        **kw: Any,
    ) -> None:
        if not isinstance(events, Mapping) or not events:
            raise ValueError("events must be a non-empty mapping {sample name: events}")
        empty = [name for name, ev in events.items() if len(ev) == 0]
        if empty:
            raise ValueError(f"events: sample(s) {empty} hold no events")
        self.events = dict(events)
        self.item = item
        first = next(iter(self.events)) if sample is None else sample
        super().__init__({"sample": first, "index": index}, **kw)

    def validate(self, state: dict[str, Any]) -> dict[str, Any]:
        if state["sample"] not in self.events:
            raise ValueError(f"sample={state['sample']!r}: expected one of {list(self.events)}")
        n = len(self.events[state["sample"]])
        index = state["index"]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"index={index!r}: expected an integer")
        if not 0 <= index < n:
            # switching to a smaller sample keeps the slider in range; a bad index is an error
            switched = bool(self._state) and state["sample"] != self._state["sample"]
            if switched and index >= n:
                index = n - 1
            else:
                raise ValueError(
                    f"index={index}: sample {state['sample']!r} has {n} {self.item}s (0 … {n - 1})"
                )
        return {"sample": state["sample"], "index": int(index)}

    def controls(self) -> dict[str, Any]:
        import ipywidgets as w

        return {
            "sample": w.Dropdown(options=list(self.events), description="sample"),
            "index": w.IntSlider(
                min=0,
                max=len(self.events[self._state["sample"]]) - 1,
                description=self.item,
                continuous_update=False,
                layout=w.Layout(width="480px"),
            ),
        }

    def _sync_controls(self) -> None:
        slider = self._controls.get("index")
        if slider is not None:
            top = len(self.events[self._state["sample"]]) - 1
            if slider.value > top:  # lower the value first: ipywidgets clamps it to max
                slider.value = self._state["index"]
            slider.max = top

    @property
    def event(self) -> Any:
        """The event shown now."""
        return self.events[self._state["sample"]][self._state["index"]]

    def draw(self, fig: Figure, *, sample: str, index: int) -> None:
        self.draw_event(fig, self.events[sample][index], sample)

    def summary(self, *, sample: str, index: int) -> Mapping[str, Any]:
        n = len(self.events[sample])
        return {
            "sample": sample,
            self.item: f"{index} of {n}",
            **self.describe_event(self.events[sample][index], sample),
        }

    def draw_event(self, fig: Figure, event: Any, sample: str) -> None:
        """Draw one event on the (cleared) figure."""
        raise NotImplementedError

    def describe_event(self, event: Any, sample: str) -> Mapping[str, Any]:
        """Numbers describing one event (shown next to the figure)."""
        return {}


#: ATLAS TRT outline in the R–z plane (mm): (z_min, z_max, r_min, r_max) of the barrel and of
#: the end-cap A- and B-wheels (one side; mirrored for z < 0).
TRT_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "barrel": (0.0, 712.0, 563.0, 1066.0),
    "end-cap A": (848.0, 1705.0, 644.0, 1004.0),
    "end-cap B": (1740.0, 2710.0, 644.0, 1004.0),
}

#: Branches :class:`TRTEventDisplay` needs per track.
TRT_DISPLAY_BRANCHES: tuple[str, ...] = (
    "p",
    "pT",
    "eta",
    "nTRThits",
    "nHThits",
    "eProbHT",
    "hit_HitR",
    "hit_HitZ",
    "hit_HTMB",
    "hit_gasType",
    "hit_tot",
)


class TRTEventDisplay(EventDisplay):
    """The TRT hits of one track: R–z view of the detector and ToT along the track.

    Left: the hits in the R–z plane (``hit_HitZ``, ``hit_HitR``) over the outline of the
    barrel and end-cap wheels; low-threshold hits as dots (filled: xenon, open: argon), high-
    threshold (HT) hits as red stars. Right: the time over threshold of each hit along the
    track, HT hits in red.

    Args:
        tracks: ``{sample: awkward array of tracks}`` with :data:`TRT_DISPLAY_BRANCHES`, e.g.
            the ``samples`` read in ``explore_trt``.
        sample, index: the track shown first.
    """

    def __init__(
        self,
        tracks: Mapping[str, ak.Array],
        *,
        sample: str | None = None,
        index: int = 0,
        **kw: Any,
    ) -> None:
        if isinstance(tracks, Mapping):
            for name, arr in tracks.items():
                fields = set(getattr(arr, "fields", []))
                missing = [b for b in TRT_DISPLAY_BRANCHES if b not in fields]
                if missing:
                    raise ValueError(f"tracks[{name!r}] lacks branch(es) {missing}")
        super().__init__(tracks, sample=sample, index=index, item="track", **kw)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        samples: Sequence[str] = ("electron", "muon", "pion"),
        n_max: int | None = 1000,
        **kw: Any,
    ) -> TRTEventDisplay:
        """Read the ``<sample>_mc`` trees of a TRTFrame ntuple (at most ``n_max`` tracks each)."""
        from hepnb.io import read_tree

        tracks = {
            s: read_tree(path, f"{s}_mc", TRT_DISPLAY_BRANCHES, entry_stop=n_max) for s in samples
        }
        return cls(tracks, **kw)

    def draw_event(self, fig: Figure, event: Any, sample: str) -> None:
        hits = {
            k: np.asarray(event[k], dtype=float)
            for k in ("hit_HitR", "hit_HitZ", "hit_HTMB", "hit_gasType", "hit_tot")
        }
        ht, xe = hits["hit_HTMB"] > 0, hits["hit_gasType"] == 0
        ax_rz, ax_tot = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
        for z0, z1, r0, r1 in TRT_REGIONS.values():
            for sign in (1, -1):
                lo, hi = sorted((sign * z0, sign * z1))
                ax_rz.fill_between([lo, hi], r0, r1, color="0.92", zorder=0, linewidth=0)
        z, r = hits["hit_HitZ"], hits["hit_HitR"]
        ax_rz.scatter(z[~ht & xe], r[~ht & xe], s=14, color=_LT, label="low threshold, Xe")
        ax_rz.scatter(
            z[~ht & ~xe],
            r[~ht & ~xe],
            s=14,
            facecolors="none",
            edgecolors=_LT,
            label="low threshold, Ar",
        )
        ax_rz.scatter(z[ht], r[ht], s=70, marker="*", color=_HT, label="high threshold (HT)")
        eta = float(event["eta"])
        theta = 2 * np.arctan(np.exp(-eta))
        rr = np.array([0.0, 1150.0])
        ax_rz.plot(
            rr / np.tan(theta),
            rr,
            color="0.5",
            linestyle=":",
            linewidth=1,
            label=f"straight line at η = {eta:.2f}",
        )
        ax_rz.set_xlim(-2800, 2800)
        ax_rz.set_ylim(0, 1250)
        ax_rz.set_xlabel("z [mm]")
        ax_rz.set_ylabel("R [mm]")
        ax_rz.legend(loc="lower left", fontsize="x-small", ncol=2)
        hplot.label(ax_rz, "ATLAS", "Simulation Internal")
        idx = np.arange(len(r))
        ax_tot.bar(idx[~ht], hits["hit_tot"][~ht], color=_LT, label="low threshold")
        ax_tot.bar(idx[ht], hits["hit_tot"][ht], color=_HT, label="HT")
        ax_tot.set_xlabel("hit number along the track")
        ax_tot.set_ylabel("time over threshold [ns]")
        ax_tot.legend(loc="upper right", fontsize="small")
        ax_tot.set_xlim(-1, max(len(r), 1))
        fig.suptitle(
            f"{sample} track: p = {float(event['p']) / 1e3:.1f} GeV, η = {eta:.2f}, "
            f"{len(r)} TRT hits of which {int(ht.sum())} HT, eProbHT = "
            f"{float(event['eProbHT']):.3f}",
            fontsize="medium",
        )

    def describe_event(self, event: Any, sample: str) -> Mapping[str, Any]:
        n = int(event["nTRThits"])
        n_ht = int(event["nHThits"])
        return {
            "p [GeV]": float(event["p"]) / 1e3,
            "pT [GeV]": float(event["pT"]) / 1e3,
            "eta": float(event["eta"]),
            "TRT hits": n,
            "HT hits": n_ht,
            "HT fraction": n_ht / n if n else float("nan"),
            "eProbHT": float(event["eProbHT"]),
        }


_REAL, _GHOST, _NOISE = "tab:blue", "tab:red", "0.8"  # candidates and noise hits (ghost display)


class GhostEventDisplay(EventDisplay):
    """One simulated LHCb event of the ghost-track chapter in the x–z (bending) plane.

    Left: the VELO (z < 0.8 m); right: the whole detector to the last SciFi layer. Hits of
    particles are black (or coloured by particle with ``color_by_particle``), noise clusters
    grey; each reconstructed candidate is a line through its VELO hits, a kink at the magnet
    (the VELO line extrapolated to ``z_mag``) and its SciFi hits — real tracks blue, ghosts
    red dashed. SciFi stereo (u/v) hits are placed at their true x (noise: y taken as 0).

    Args:
        events: ``{track type: records}`` or one list of records, as returned by
            :func:`hepnb.sim.ghost.event_record`.
        sample, index: the track type and event shown first.
        z_mag: z of the magnet kick used to draw the kink (mm; default: the simulation's).
        color_by_particle: colour particle hits by the true particle.
    """

    def __init__(
        self,
        events: Mapping[str, Sequence[Mapping[str, Any]]] | Sequence[Mapping[str, Any]],
        *,
        sample: str | None = None,
        index: int = 0,
        z_mag: float | None = None,
        color_by_particle: bool = False,
        **kw: Any,
    ) -> None:
        from hepnb.sim.ghost import GhostConfig

        if not isinstance(events, Mapping):
            events = {"matching": events}
        for name, recs in events.items():
            for r in recs[:1]:
                missing = [k for k in ("velo", "scifi", "candidates") if k not in r]
                if missing:
                    raise ValueError(
                        f"events[{name!r}]: records lack {missing}; expected "
                        "hepnb.sim.ghost.event_record() output"
                    )
        self.z_mag = GhostConfig().z_mag if z_mag is None else float(z_mag)
        self.color_by_particle = bool(color_by_particle)
        super().__init__(events, sample=sample, index=index, item="event", **kw)

    @classmethod
    def from_simulation(
        cls,
        n_events: int = 20,
        seed: int = 0,
        track: str | Sequence[str] = "matching",
        config: Any = None,
        **kw: Any,
    ) -> GhostEventDisplay:
        """Simulate ``n_events`` events (:func:`hepnb.sim.ghost.event_record`) and show them;
        ``track``: ``"matching"``, ``"forward"`` or both (one dropdown entry each).

        Raises:
            ValueError: a bad ``track`` or ``n_events``.
        """
        from hepnb.sim.ghost import FEATURES, GhostConfig, event_record

        tracks = [track] if isinstance(track, str) else list(track)
        bad = [t for t in tracks if t not in FEATURES]
        if bad or not tracks:
            raise ValueError(f"track={track!r}: expected 'matching', 'forward' or a list of them")
        cfg = config or GhostConfig()
        events = {t: event_record(n_events, seed=seed, config=cfg, track=t) for t in tracks}
        return cls(events, z_mag=kw.pop("z_mag", cfg.z_mag), **kw)

    def candidate_lines(self, event: Mapping[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(z, x) of the line drawn for each candidate of ``event`` (mm)."""
        velo, scifi, cand = event["velo"], event["scifi"], event["candidates"]
        lines = []
        for k in range(len(cand["ghost"])):
            vh = cand["velo_hits"][k][cand["velo_hits"][k] >= 0]
            sh = cand["scifi_hits"][k][cand["scifi_hits"][k] >= 0]
            vh, sh = vh[np.argsort(velo["z"][vh])], sh[np.argsort(scifi["z"][sh])]
            xk = cand["x0"][k] + cand["tx"][k] * self.z_mag
            z = np.r_[velo["z"][vh], self.z_mag, scifi["z"][sh]]
            x = np.r_[velo["x"][vh], xk, scifi["x"][sh]]
            lines.append((z, x))
        return lines

    def draw_event(self, fig: Figure, event: Any, sample: str) -> None:
        velo, scifi, cand = event["velo"], event["scifi"], event["candidates"]
        ghost = np.asarray(cand["ghost"]).astype(bool)
        ax_v, ax_all = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.8]})
        lines = self.candidate_lines(event)
        for ax in (ax_v, ax_all):
            for det, size in ((velo, 6), (scifi, 4)):
                noise = np.asarray(det["noise"], bool)
                ax.scatter(
                    det["z"][noise],
                    det["x"][noise],
                    s=size,
                    color=_NOISE,
                    linewidths=0,
                    zorder=1,
                    label="noise hit",
                )
                if self.color_by_particle:
                    c = np.asarray(det["pid"])[~noise] % 20
                    ax.scatter(
                        det["z"][~noise],
                        det["x"][~noise],
                        s=size,
                        c=c,
                        cmap="tab20",
                        vmin=0,
                        vmax=19,
                        linewidths=0,
                        zorder=2,
                        label="particle hit",
                    )
                else:
                    ax.scatter(
                        det["z"][~noise],
                        det["x"][~noise],
                        s=size,
                        color="k",
                        linewidths=0,
                        zorder=2,
                        label="particle hit",
                    )
            for (z, x), g in zip(lines, ghost, strict=True):
                ax.plot(
                    z,
                    x,
                    color=_GHOST if g else _REAL,
                    linestyle="--" if g else "-",
                    linewidth=1.2 if g else 0.8,
                    zorder=4 if g else 3,
                    label="ghost candidate" if g else "real candidate",
                    gid="ghost" if g else "real",
                )
            ax.set_xlabel("z [mm]")
            ax.set_ylabel("x [mm]")
        ax_v.set_xlim(-320, 800)
        ax_v.set_ylim(-45, 45)
        hplot.label(ax_v, "LHCb", "Simulation", rlabel="VELO")
        ax_all.set_xlim(-500, 9600)
        ax_all.set_ylim(-3300, 3300)
        ax_all.axvline(self.z_mag, color="0.6", linestyle=":", linewidth=1, label="magnet kick")
        ax_all.set_title("VELO → magnet → SciFi (x–z, bending plane)", fontsize="medium")
        handles, labels = ax_all.get_legend_handles_labels()
        seen = dict(zip(labels, handles, strict=True))  # one entry per label
        ax_all.legend(
            seen.values(), seen.keys(), loc="upper left", fontsize="x-small", markerscale=2
        )
        d = self.describe_event(event, sample)
        fig.suptitle(
            f"{sample} candidates, event {event['event']}: {d['candidates']} "
            f"candidates, {d['ghosts']} ghosts",
            fontsize="medium",
        )

    def describe_event(self, event: Any, sample: str) -> Mapping[str, Any]:
        ghost = np.asarray(event["candidates"]["ghost"]).astype(bool)
        n = len(ghost)
        return {
            "candidates": n,
            "ghosts": int(ghost.sum()),
            "ghost fraction": float(ghost.mean()) if n else float("nan"),
            "VELO hits": len(event["velo"]["z"]),
            "SciFi hits": len(event["scifi"]["z"]),
            "SciFi noise": int(np.sum(event["scifi"]["noise"])),
        }


class ThresholdExplorer(SliderDisplay):
    """Move a working point along the ROC curves of one or several classifiers.

    The slider sets the target signal efficiency; for each classifier the working point is the
    cut keeping that fraction of signal (:func:`hepnb.evaluate.rejection_at`), and the table
    shows its threshold, efficiency, background efficiency, rejection (± binomial error),
    purity and F1 (:func:`hepnb.evaluate.threshold_scan` at that cut). The figure shows the
    ROC curves with the working points marked and the score distributions of the classifier
    picked in the dropdown with its cut.

    Args:
        y: labels, 1 = signal.
        scores: ``{classifier name: scores}``, or one score array.
        efficiency: the starting signal efficiency, in (0, 1].
        classifier: the classifier whose scores are histogrammed (default: the first).
        signal, background: class names for labels.
        eff_range: efficiency range of the slider and of the ROC plot.
    """

    def __init__(
        self,
        y: Any,
        scores: Mapping[str, Any] | Any,
        *,
        efficiency: float = 0.9,
        classifier: str | None = None,
        signal: str = "signal",
        background: str = "background",
        eff_range: tuple[float, float] = (0.5, 1.0),
        **kw: Any,
    ) -> None:
        if not isinstance(scores, Mapping):
            scores = {"score": scores}
        if not scores:
            raise ValueError("scores must hold at least one classifier")
        self.y = np.asarray(y).reshape(-1)
        self.scores = {}
        for name, s in scores.items():
            s = np.asarray(s, dtype=float).reshape(-1)
            if len(s) != len(self.y):
                raise ValueError(f"scores[{name!r}] has {len(s)} entries but y has {len(self.y)}")
            try:
                evaluate.auc(self.y, s)  # checks labels and finiteness
            except ValueError as exc:
                raise ValueError(f"scores[{name!r}] with y: {exc}") from None
            self.scores[name] = s
        lo, hi = eff_range
        if not 0 < lo < hi <= 1:
            raise ValueError(f"eff_range={eff_range}: expected 0 < low < high <= 1")
        self.eff_range = (float(lo), float(hi))
        self.signal, self.background = signal, background
        self._curves = {name: (self.y, s) for name, s in self.scores.items()}
        first = next(iter(self.scores)) if classifier is None else classifier
        super().__init__({"efficiency": efficiency, "classifier": first}, **kw)

    def validate(self, state: dict[str, Any]) -> dict[str, Any]:
        eff = state["efficiency"]
        if (
            isinstance(eff, bool)
            or not isinstance(eff, (int, float, np.floating, np.integer))
            or not 0 < float(eff) <= 1
        ):
            raise ValueError(f"efficiency={eff!r}: expected a signal efficiency in (0, 1]")
        if state["classifier"] not in self.scores:
            raise ValueError(
                f"classifier={state['classifier']!r}: expected one of {list(self.scores)}"
            )
        return {"efficiency": round(float(eff), 6), "classifier": state["classifier"]}

    def controls(self) -> dict[str, Any]:
        import ipywidgets as w

        lo, hi = self.eff_range
        return {
            "efficiency": w.FloatSlider(
                min=lo,
                max=min(hi, 0.999),
                step=0.005,
                readout_format=".3f",
                description=f"ε({self.signal})",
                continuous_update=False,
                layout=w.Layout(width="480px"),
            ),
            "classifier": w.Dropdown(options=list(self.scores), description="histogram"),
        }

    def _sync_controls(self) -> None:
        slider = self._controls.get("efficiency")
        if slider is not None:  # a value set from code may lie outside the slider's range
            eff = self._state["efficiency"]
            slider.min, slider.max = min(slider.min, eff), max(slider.max, eff)

    def working_points(self, efficiency: float | None = None) -> pd.DataFrame:
        """One row per classifier at signal efficiency ``efficiency`` (default: the state's)."""
        eff = self._state["efficiency"] if efficiency is None else efficiency
        rows = []
        for name, s in self.scores.items():
            r = evaluate.rejection_at(self.y, s, eff)
            row = evaluate.threshold_scan(self.y, s, [r.threshold]).iloc[0]
            rows.append(
                {
                    "classifier": name,
                    "threshold": r.threshold,
                    "efficiency": float(row["efficiency"]),
                    "bkg_efficiency": r.bkg_eff,
                    "rejection": r.rejection,
                    "rejection_error": r.error,
                    "purity": float(row["purity"]),
                    "f1": float(row["f1"]),
                }
            )
        return pd.DataFrame(rows).set_index("classifier")

    def summary(self, *, efficiency: float, classifier: str) -> pd.DataFrame:
        return self.working_points(efficiency)

    def draw(self, fig: Figure, *, efficiency: float, classifier: str) -> None:
        wp = self.working_points(efficiency)
        ax_roc, ax_hist = fig.subplots(1, 2)
        lo = min(self.eff_range[0], efficiency - 0.02)
        hplot.roc(
            self._curves,
            ax_roc,
            signal=self.signal,
            background=self.background,
            eff_range=(lo, self.eff_range[1]),
        )
        for (name, row), line in zip(wp.iterrows(), ax_roc.get_lines(), strict=True):
            if np.isfinite(row["rejection"]):
                ax_roc.plot(
                    [row["efficiency"]],
                    [row["rejection"]],
                    "o",
                    ms=9,
                    color=line.get_color(),
                    gid=f"working-point:{name}",
                )
        ax_roc.axvline(efficiency, color="k", linestyle="--", linewidth=1)
        thr = float(wp.loc[classifier, "threshold"])
        hplot.score_hist(
            self.y,
            self.scores[classifier],
            ax_hist,
            signal=self.signal,
            background=self.background,
            xlabel=f"{classifier} score",
            threshold=thr,
        )
        r = wp.loc[classifier]
        fig.suptitle(
            f"working point ε({self.signal}) = {efficiency:.1%}: {classifier} cut at "
            f"{thr:.4g}, {self.background} rejection {r['rejection']:.3g} ± "
            f"{r['rejection_error']:.2g}, purity {r['purity']:.3f}",
            fontsize="medium",
        )
