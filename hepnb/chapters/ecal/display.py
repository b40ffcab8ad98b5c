"""The ECal chapter's pictures: the event display (ECal cells, energy per layer, trigger
scintillator) and the figures the notebooks show (energy response, confusion matrices,
accuracy against the electrons' separation, hits per event).

Geometry (ldmx-sw v14, :mod:`.schema`): cells are hexagons of side :data:`~.schema.CELL_SIDE`
with flat sides up (corners on the ±x axis; neighbours at (0, ±√3·a)); modules are hexagons
of centre-to-corner radius :data:`~.schema.MODULE_R` with corners up (on the ±y axis); odd
layers are shifted by one cell side in x. The scintillator pad's bar ``b`` (layer ``b mod 2``,
index ``k = b // 2`` in its layer) is centred at y = ``TS_Y0 + (b mod 2)·TS_BAR_WIDTH/2 +
k·TS_BAR_PITCH`` (as :func:`~.trigscint.bars_crossed` inverts it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import awkward as ak
import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Rectangle
from scipy.stats import norm

from hepnb import evaluate
from hepnb import plot as hplot
from hepnb.chapters.ecal import reader, schema, trigscint
from hepnb.widgets import EventDisplay

__all__ = [
    "DEFAULT_DISTANCE_BINS",
    "EXPERIMENT",
    "CountingEvaluation",
    "ECalEventDisplay",
    "energy_resolution_table",
    "plot_accuracy_vs_distance",
    "plot_confusions",
    "plot_energy_response",
    "plot_hits_per_event",
    "ts_bar_y",
    "with_ts_bars",
]

#: Experiment of the chapter's labels.
EXPERIMENT = "LDMX"
#: Status text of the chapter's labels.
TEXT = "Simulation Internal"
#: Default bins of the minimum transverse distance between electrons [mm].
DEFAULT_DISTANCE_BINS = np.array([0.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0])
#: Fraction of events kept by the robust mean and width of :func:`energy_resolution_table`.
CENTRAL = 0.95

_HIT_CMAP = "viridis"
_ELECTRON = "tab:red"
_LAYER_COLOURS = ("tab:blue", "tab:orange")  # scintillator layers (upstream, downstream)


# --- geometry helpers ----------------------------------------------------------------------


def _hexagons(x: np.ndarray, y: np.ndarray, radius: float, angle0: float) -> np.ndarray:
    """``(n, 6, 2)`` corners of regular hexagons centred at (x, y), first corner at
    ``angle0`` (radians) from the +x axis."""
    a = angle0 + np.arange(6) * np.pi / 3.0
    return np.stack(
        [x[:, None] + radius * np.cos(a)[None, :], y[:, None] + radius * np.sin(a)[None, :]],
        axis=-1,
    )


def ts_bar_y(bars: Any) -> np.ndarray:
    """y of the centre of scintillator bars [mm] (bar ``b``: layer ``b mod 2``, shifted by
    half a bar width, index ``b // 2`` in its layer)."""
    b = np.asarray(bars, dtype=np.int64)
    return schema.TS_Y0 + (b % 2) * schema.TS_BAR_WIDTH / 2 + (b // 2) * schema.TS_BAR_PITCH


def _field(event: Any, name: str) -> Any:
    """A field of one event record, or None."""
    fields = getattr(event, "fields", None)
    if fields is None:
        return event.get(name) if isinstance(event, Mapping) else None
    return event[name] if name in fields else None


def _event_electrons(hits: Any) -> dict[str, np.ndarray]:
    """``{"x", "y"}`` [mm] of the beam electrons among one event's scoring-plane hits (empty
    without hits)."""
    if hits is None or len(hits) == 0:
        return {"x": np.zeros(0), "y": np.zeros(0)}
    el = reader.beam_electrons(ak.unflatten(ak.Array(hits), [len(hits)]))[0]
    return {k: np.asarray(ak.to_numpy(el[k]), dtype=np.float64) for k in ("x", "y")}


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles ``q`` of ``values`` weighted by ``weights`` (negatives as 0; empty: none)."""
    if not len(values):
        return np.zeros(0)
    order = np.argsort(values)
    w = np.clip(weights[order], 0, None)
    cum = np.cumsum(w)
    if cum[-1] <= 0:
        return np.quantile(values, q)
    idx = np.searchsorted(cum, np.asarray(q) * cum[-1])
    return values[order][np.clip(idx, 0, len(values) - 1)]


def _label_constrained(fig: Figure, axes: Sequence[Axes], text: str) -> None:
    """The experiment label on ``axes`` of a figure with constrained layout.

    mplhep places the label's second part at a fraction of the axes width measured when it
    is called; a constrained layout that counts the label would then narrow the axes and push
    the two parts together. So the layout is settled first (an empty title reserving the
    room above each axes), and the label is left out of it.
    """
    engine = fig.get_layout_engine()
    if not isinstance(engine, ConstrainedLayoutEngine):
        for ax in axes:
            hplot.label(ax, EXPERIMENT, text)
        return
    for ax in axes:
        if not ax.get_title():
            ax.set_title(" ", fontsize=1.3 * plt.rcParams["font.size"])
    engine.execute(fig)
    for ax in axes:
        # no offset on the y ticks (none of these axes needs one): mplhep would draw the whole
        # figure to measure it
        formatter = ax.yaxis.get_major_formatter()
        if hasattr(formatter, "set_useOffset"):
            formatter.set_useOffset(False)
        before = len(ax.texts)
        hplot.label(ax, EXPERIMENT, text)
        for t in ax.texts[before:]:
            t.set_in_layout(False)


def _labels(name: str, events: ak.Array, n: Any) -> np.ndarray | None:
    """Per-event true multiplicities of one sample from ``n`` (or the field ``n``)."""
    value = n.get(name) if isinstance(n, Mapping) else n
    if value is None:
        return np.asarray(ak.to_numpy(events["n"]), np.int64) if "n" in events.fields else None
    if np.ndim(value) == 0:
        return np.full(len(events), int(value), dtype=np.int64)
    labels = np.asarray(value, dtype=np.int64)
    if labels.shape != (len(events),):
        raise ValueError(
            f"n for sample {name!r}: shape {labels.shape}, expected ({len(events)},) or a number"
        )
    return labels


def with_ts_bars(events: ak.Array, rng: np.random.Generator) -> ak.Array:
    """``events`` with the field ``ts_bars`` (fired scintillator bars): a file's reconstructed
    bars (``ts_rec``) when it has them, else the response of :func:`.trigscint.bar_response`
    to the beam electrons at the scintillator's scoring plane (drawn with ``rng``)."""
    if "ts_bars" in events.fields or not {"ts", "ts_rec"} & set(events.fields):
        return events
    bars = trigscint.fired_bars(events, rng)
    return ak.with_field(events, bars, "ts_bars")


class ECalEventDisplay(EventDisplay):
    """One LDMX event: the ECal hits in x–y, the energy per layer and the trigger pad.

    Left: the hits of all 34 layers projected on x–y, each drawn as its hexagonal cell (flat
    sides up, side :data:`~.schema.CELL_SIDE`) coloured by its energy (log scale, the highest
    on top), over the outlines of the 7 modules (even layers solid, odd layers — shifted by
    one cell side in x — dotted); circles mark the beam electrons (pdg 11, E > 0.4 GeV) at the
    ECal face (truth ``EcalScoringPlaneHits``). Middle: energy per layer. Right: the trigger
    scintillator pad (pad 3) in x–y, its fired bars (``ts_bars``, when the events have them)
    as bands at the bars' y, the beam electrons at its scoring plane as crosses.

    Args:
        events: an awkward array of events as :func:`.reader.read_events` returns them (fields
            ``ecal`` and optionally ``ts``, ``truth``, ``ts_bars`` and ``n``), or
            ``{sample name: array}``.
        n: true number of electrons: a number, one per event, or ``{sample: either}``; None:
            the events' field ``n`` if any, else the number of beam electrons at the ECal face.
        sample, index: the sample and event shown first.
        half_width: half the side of the x–y view [mm]; None: fit the bulk of the energy
            (its 1–99 % quantiles in x and y) and the electrons, at least ±60 mm;
            ``float("inf")``: the whole ECal.
        text: status text of the experiment label.
    """

    def __init__(
        self,
        events: ak.Array | Mapping[str, ak.Array],
        *,
        n: Any = None,
        sample: str | None = None,
        index: int = 0,
        half_width: float | None = None,
        text: str = TEXT,
        **kw: Any,
    ) -> None:
        samples = dict(events) if isinstance(events, Mapping) else {"events": events}
        for name, arr in samples.items():
            if "ecal" not in getattr(arr, "fields", []):
                raise ValueError(
                    f"events[{name!r}]: expected an awkward array of events with a field "
                    "'ecal' (hepnb.chapters.ecal.reader.read_events)"
                )
        self.labels = {name: _labels(name, arr, n) for name, arr in samples.items()}
        self.half_width = half_width
        self.text = text
        kw.setdefault("figsize", (16, 6.2))
        super().__init__(samples, sample=sample, index=index, item="event", **kw)

    @classmethod
    def from_files(
        cls,
        files: Mapping[int, str | os.PathLike | Sequence[str | os.PathLike]],
        *,
        n_max: int = 100,
        pass_name: str = schema.DEFAULT_PASS,
        seed: int = 0,
        **kw: Any,
    ) -> ECalEventDisplay:
        """The first ``n_max`` events of each multiplicity's (first) file, e.g. the mapping
        ``{n: files}`` of :func:`hepnb.chapters.ecal.steps.sample`, one sample ``"<n> e"``
        each. Files without reconstructed bars get the scintillator response drawn with
        ``seed`` (:func:`with_ts_bars`): an illustration, not the draw of the streamed
        events."""
        rng = np.random.default_rng(seed)
        samples, labels = {}, {}
        for mult, paths in files.items():
            path = paths if isinstance(paths, (str, os.PathLike)) else paths[0]
            name = f"{int(mult)} e"
            samples[name] = with_ts_bars(reader.read_events(path, pass_name, entry_stop=n_max), rng)
            labels[name] = int(mult)
        return cls(samples, n=labels, **kw)

    def true_n(self, sample: str, index: int | None, event: Any = None) -> int | None:
        """True number of electrons of an event: its label, else its beam electrons at the
        ECal face (None without either)."""
        labels = self.labels.get(sample)
        if labels is not None and index is not None:
            return int(labels[index])
        if event is None:
            if index is None:
                return None
            event = self.events[sample][index]
        truth = _field(event, "truth")
        return None if truth is None else len(_event_electrons(truth)["x"])

    def draw(self, fig: Figure, state: Mapping[str, Any]) -> None:
        sample, index = state["sample"], state["index"]
        self.draw_event(fig, self.events[sample][index], sample, index=index)

    def draw_event(self, fig: Figure, event: Any, sample: str, index: int | None = None) -> None:
        ecal = event["ecal"]
        x, y, energy = (np.asarray(ak.to_numpy(ecal[k]), np.float64) for k in ("x", "y", "energy"))
        if "layer" in ecal.fields:
            layer = np.asarray(ak.to_numpy(ecal["layer"]), np.int64)
        else:
            layer = schema.unpack_id(ak.to_numpy(ecal["id"]))[1]
        ax_xy, ax_layer, ax_ts = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1.0, 0.45]})
        truth = _field(event, "truth")
        electrons = _event_electrons(truth)
        self._draw_xy(fig, ax_xy, x, y, energy, electrons if truth is not None else None)
        self._draw_layers(ax_layer, layer, energy)
        self._draw_ts(ax_ts, event)
        n = self.true_n(sample, index, event)
        title = f"{sample}, " if len(self.events) > 1 else ""
        title += f"event {index if index is not None else '?'}: true n = "
        title += f"{n if n is not None else '?'}, ΣE = {energy.sum() / 1e3:.2f} GeV, "
        title += f"{len(x)} ECal hits" if len(x) else "no ECal hit"
        fig.suptitle(title, fontsize="medium")
        _label_constrained(fig, [ax_xy, ax_layer], self.text)

    def _draw_xy(
        self,
        fig: Figure,
        ax: Axes,
        x: np.ndarray,
        y: np.ndarray,
        energy: np.ndarray,
        electrons: Mapping[str, np.ndarray] | None,
    ) -> None:
        outlines = []
        for parity, style, colour in ((0, "-", "0.55"), (1, ":", "0.75")):
            centres = schema.MODULE_XY + schema.LAYER_XY[parity]
            verts = _hexagons(centres[:, 0], centres[:, 1], schema.MODULE_R, np.pi / 2)
            outlines.append(
                PolyCollection(
                    list(verts),
                    facecolors="none",
                    edgecolors=colour,
                    linewidths=0.8,
                    linestyles=style,
                    zorder=1,
                    gid="modules",
                )
            )
        for coll in outlines:
            ax.add_collection(coll)
        positive = energy[energy > 0]
        vmin = float(positive.min()) if len(positive) else 0.1
        vmax = float(energy.max()) if len(positive) else 100.0
        vmax = vmax if vmax > vmin else 10.0 * vmin
        order = np.argsort(energy, kind="stable")  # the highest energies on top
        hits = PolyCollection(
            list(_hexagons(x[order], y[order], schema.CELL_SIDE, 0.0)),
            array=np.clip(energy[order], vmin, None),
            cmap=_HIT_CMAP,
            norm=LogNorm(vmin, vmax),
            edgecolors="face",
            linewidths=0.3,
            zorder=2,
            gid="ecal_hits",
        )
        ax.add_collection(hits)
        cbar = fig.colorbar(hits, ax=ax, pad=0.01, fraction=0.06)
        cbar.set_label("hit energy [MeV]", fontsize="small")
        cbar.ax.tick_params(labelsize="x-small")
        if electrons is not None:
            ax.scatter(
                electrons["x"],
                electrons["y"],
                s=160,
                facecolors="none",
                edgecolors=_ELECTRON,
                linewidths=1.8,
                zorder=4,
                label="beam $e^-$ at ECal face (truth)",
                gid="ecal_electrons",
            )
            ax.legend(loc="upper right", fontsize="xx-small", markerscale=0.6)
        if not len(x):
            ax.text(0.5, 0.5, "no ECal hit", transform=ax.transAxes, ha="center", va="center")
        full = 2 * schema.MODULE_MIN_R + schema.MODULE_GAP + schema.MODULE_R + 10.0
        ex = electrons["x"] if electrons is not None else np.zeros(0)
        ey = electrons["y"] if electrons is not None else np.zeros(0)
        if self.half_width is not None:
            cx, cy, half = 0.0, 0.0, min(float(self.half_width), full)
        elif len(x) or len(ex):
            # the bulk of the energy (1–99 % energy quantiles; stray noise hits may fall
            # outside) and the electrons
            bulk = [_weighted_quantiles(v, energy, (0.01, 0.99)) for v in (x, y)]
            px = np.concatenate([bulk[0], ex])
            py = np.concatenate([bulk[1], ey])
            cx, cy = (px.min() + px.max()) / 2, (py.min() + py.max()) / 2
            half = max(px.max() - px.min(), py.max() - py.min()) / 2 + 30.0
            half = min(max(half, 60.0), full)
        else:
            cx, cy, half = 0.0, 0.0, full
        # the square view as data limits, widened by the equal aspect to fill the panel
        ax.set_aspect("equal", adjustable="datalim")
        ax.dataLim.set_points(np.array([[cx - half, cy - half], [cx + half, cy + half]]))
        ax.margins(0)
        ax.set_xlabel("x [mm]", fontsize="small")
        ax.set_ylabel("y [mm]", fontsize="small")
        ax.tick_params(labelsize="x-small")

    def _draw_layers(self, ax: Axes, layer: np.ndarray, energy: np.ndarray) -> None:
        per_layer = np.bincount(layer, weights=energy, minlength=schema.N_LAYERS)
        ax.bar(
            np.arange(len(per_layer)),
            per_layer,
            width=0.8,
            color="tab:blue",
            label="energy per layer",
            gid="layer_energy",
        )
        ax.set_xlim(-1, schema.N_LAYERS)
        ax.set_xlabel("ECal layer", fontsize="small")
        ax.set_ylabel("energy [MeV]", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if not len(energy):
            ax.text(0.5, 0.5, "no ECal hit", transform=ax.transAxes, ha="center", va="center")
            ax.set_ylim(0, 1)

    def _draw_ts(self, ax: Axes, event: Any) -> None:
        length, width = schema.TS_BAR_LENGTH, schema.TS_BAR_WIDTH
        y_lo = float(ts_bar_y(0)) - width / 2
        y_hi = float(ts_bar_y(schema.TS_N_BARS - 1)) + width / 2
        ax.add_patch(
            Rectangle(
                (-length / 2, y_lo),
                length,
                y_hi - y_lo,
                fill=False,
                edgecolor="0.5",
                linewidth=1,
                label="pad 3",
                gid="ts_pad",
            )
        )
        bars = _field(event, "ts_bars")
        if bars is not None:
            bars = np.unique(np.asarray(ak.to_numpy(bars), np.int64))
            seen: set[int] = set()
            for b in bars:
                layer = int(b % 2)
                ax.add_patch(
                    Rectangle(
                        (-length / 2, float(ts_bar_y(b)) - width / 2),
                        length,
                        width,
                        facecolor=_LAYER_COLOURS[layer],
                        edgecolor="none",
                        alpha=0.45,
                        label=("_" if layer in seen else "")
                        + f"fired bar, {('upstream', 'downstream')[layer]}",
                        gid="ts_bar",
                    )
                )
                seen.add(layer)
        ts = _field(event, "ts")
        el = _event_electrons(ts)
        if ts is not None:
            ax.scatter(
                el["x"],
                el["y"],
                marker="x",
                s=50,
                color=_ELECTRON,
                linewidths=1.5,
                zorder=4,
                label="beam $e^-$ (truth)",
                gid="ts_electrons",
            )
        reach = max(25.0, float(np.abs(el["x"]).max()) + 5.0 if len(el["x"]) else 25.0)
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-50, 50)
        ax.set_xlabel("x [mm]", fontsize="small")
        ax.set_ylabel("y [mm]", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if bars is None:
            ax.text(
                0.5,
                0.97,
                "fired bars not given",
                transform=ax.transAxes,
                ha="center",
                va="top",
                fontsize="x-small",
            )
        ax.legend(loc="upper center", fontsize="xx-small", bbox_to_anchor=(0.5, -0.12))
        ax.set_title("trigger pad (truth at its\nscoring plane)", fontsize="x-small")

    def summary(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        sample, index = state["sample"], state["index"]
        n = self.true_n(sample, index)
        return {
            "sample": sample,
            self.item: f"{index} of {len(self.events[sample])}",
            "true n": n if n is not None else "?",
            **self.describe_event(self.events[sample][index], sample),
        }

    def describe_event(self, event: Any, sample: str) -> Mapping[str, Any]:
        ecal = event["ecal"]
        energy = float(np.sum(ak.to_numpy(ecal["energy"])))
        out: dict[str, Any] = {
            "ECal hits": len(ecal),
            "noise hits": int(np.sum(ak.to_numpy(ecal["noise"]))) if "noise" in ecal.fields else 0,
            "ΣE [GeV]": energy / 1e3,
            "ΣE / 4 GeV": energy / schema.BEAM_ENERGY,
        }
        truth = _field(event, "truth")
        if truth is not None:
            el = _event_electrons(truth)
            d = np.hypot(el["x"][:, None] - el["x"][None, :], el["y"][:, None] - el["y"][None, :])
            pairs = d[np.triu_indices(len(el["x"]), 1)]
            out["electrons at ECal face"] = len(el["x"])
            out["min distance [mm]"] = float(pairs.min()) if len(pairs) else float("nan")
        bars = _field(event, "ts_bars")
        if bars is not None:
            b = np.asarray(ak.to_numpy(bars), np.int64)
            out["fired bars"] = len(np.unique(b))
            out["TS clusters"] = int(trigscint.count_clusters(ak.Array([b.tolist()]))[0])
        return out


# --- figures -------------------------------------------------------------------------------


class CountingEvaluation(Protocol):
    """What the figures need of an evaluation (:class:`hepnb.chapters.ecal.steps.Evaluation`)."""

    def confusion(self, method: str) -> pd.DataFrame: ...

    def by_distance(self, method: str, bins: Sequence[float]) -> evaluate.BinnedRate: ...


def _new_ax(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _by_multiplicity(summary_split: Mapping[str, Any], key: str) -> dict[int, np.ndarray]:
    """``{n: values of key}`` per true multiplicity, in increasing n."""
    n = np.asarray(summary_split["n"], np.int64)
    values = np.asarray(summary_split[key], np.float64)
    return {int(m): values[n == m] for m in np.unique(n)}


def _fraction_steps(
    ax: Axes, groups: Mapping[int, np.ndarray], edges: np.ndarray, labels: Mapping[int, str]
) -> None:
    """Step histograms of each group as fractions of its events (overflow in the edge bins)."""
    for m, v in groups.items():
        v = np.clip(v, edges[0], np.nextafter(edges[-1], -np.inf))
        h = np.histogram(v, edges)[0] / max(len(v), 1)
        mplhep.histplot(h, edges, ax=ax, histtype="step", linewidth=1.5, label=labels[m])


def plot_energy_response(
    summary_split: Mapping[str, Any],
    ax: Axes | None = None,
    *,
    bins: int | Sequence[float] | None = None,
    text: str = TEXT,
) -> Axes:
    """ΣE / 4 GeV per true multiplicity (fractions of each multiplicity's events; entries
    beyond the range in the edge bins), with the rounding boundaries n ± 0.5 of the energy-sum
    count (dotted).

    Args:
        summary_split: one split of :class:`hepnb.chapters.ecal.steps.Summaries` (``n``,
            ``energy`` in MeV).
        bins: bin edges or number of bins of ΣE / 4 GeV; None: 0.05 wide, 0 … max n + 1.5.
    """
    ax = _new_ax(ax)
    groups = {
        m: v / schema.BEAM_ENERGY for m, v in _by_multiplicity(summary_split, "energy").items()
    }
    top = max(groups, default=1) + 1.5
    if bins is None:
        edges = np.linspace(0.0, top, round(top / 0.05) + 1)
    elif isinstance(bins, (int, np.integer)):
        edges = np.linspace(0.0, top, int(bins) + 1)
    else:
        edges = np.asarray(bins, np.float64)
    _fraction_steps(ax, groups, edges, {m: f"{m} $e^-$" for m in groups})
    bounds = sorted({m + s for m in groups for s in (-0.5, 0.5)})
    for i, b in enumerate(bounds):
        ax.axvline(
            b,
            color="0.45",
            linestyle=":",
            linewidth=1,
            label="n ± 0.5 (rounding)" if i == 0 else "_",
            gid="rounding",
        )
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.4 * ax.get_ylim()[1])
    ax.set_xlabel("ΣE / 4 GeV")
    ax.set_ylabel(f"fraction of events / {np.diff(edges).mean():.3g}")
    ax.legend(fontsize="small")
    hplot.label(ax, EXPERIMENT, text)
    return ax


def _truncation_factor(central: float) -> float:
    """Standard deviation, in σ, of a Gaussian truncated to its central ``central`` fraction."""
    z = norm.ppf(0.5 + central / 2)
    return float(np.sqrt(1.0 - 2.0 * z * norm.pdf(z) / central))


def energy_resolution_table(
    summary_split: Mapping[str, Any], central: float = CENTRAL
) -> pd.DataFrame:
    """Energy response per true multiplicity.

    Robust estimates: the mean and the sample standard deviation of the events between the
    (1 − ``central``)/2 and (1 + ``central``)/2 quantiles of ΣE (electrons leaking out of the
    ECal make a low tail); the standard deviation is divided by that of a Gaussian truncated
    to the same central fraction (0.88 for 95 %), so a Gaussian core gives back its σ.

    Returns:
        One row per n (index ``n``): ``events``, ``mean ΣE (GeV)``, ``σ (GeV)``, ``σ/E``
        (σ over the mean) and ``within ±2 GeV`` (fraction of all events with
        |ΣE − n · 4 GeV| < 0.5 · 4 GeV: those the energy sum counts right).
    """
    if not 0.0 < central <= 1.0:
        raise ValueError(f"central={central}: expected a fraction in (0, 1]")
    factor = _truncation_factor(central) if central < 1.0 else 1.0
    rows = []
    for m, e in _by_multiplicity(summary_split, "energy").items():
        lo, hi = np.quantile(e, [(1 - central) / 2, (1 + central) / 2])
        core = e[(e >= lo) & (e <= hi)] / 1e3
        mean = float(core.mean())
        sigma = float(core.std(ddof=1)) / factor if len(core) > 1 else float("nan")
        rows.append(
            {
                "n": m,
                "events": len(e),
                "mean ΣE (GeV)": mean,
                "σ (GeV)": sigma,
                "σ/E": sigma / mean if mean else float("nan"),
                "within ±2 GeV": float(
                    np.mean(np.abs(e - m * schema.BEAM_ENERGY) < 0.5 * schema.BEAM_ENERGY)
                ),
            }
        )
    return pd.DataFrame(rows).set_index("n")


def plot_confusions(
    evaluation: CountingEvaluation,
    methods: Sequence[str],
    axes: Sequence[Axes] | np.ndarray | None = None,
    *,
    text: str = TEXT,
) -> Figure:
    """A row of confusion matrices (true n up, predicted n across), normalised per true count,
    annotated in percent, with one colour bar for the row; method names as titles.

    Args:
        evaluation: an :class:`~hepnb.chapters.ecal.steps.Evaluation` (``confusion(method)``).
        methods: the methods, one panel each.
        axes: as many axes as methods; None: a new figure.
    """
    methods = list(methods)
    if not methods:
        raise ValueError("methods: expected at least one method")
    if axes is None:
        fig, grid = plt.subplots(
            1, len(methods), figsize=(4.2 * len(methods) + 1.5, 5.0), layout="constrained"
        )
        axs = list(np.atleast_1d(grid))
    else:
        axs = list(np.atleast_1d(np.asarray(axes, dtype=object)).ravel())
        if len(axs) != len(methods):
            raise ValueError(f"axes: {len(axs)} given for {len(methods)} methods")
        fig = axs[0].figure
    image: Any = None
    for k, (ax, method) in enumerate(zip(axs, methods, strict=True)):
        cm = evaluation.confusion(method)
        values = 100.0 * cm.to_numpy(dtype=np.float64)
        image = ax.imshow(values, vmin=0, vmax=100, cmap="Blues", origin="lower")
        for i, j in np.ndindex(values.shape):
            ax.text(
                j,
                i,
                f"{values[i, j]:.1f}%",
                ha="center",
                va="center",
                fontsize="x-small",
                color="white" if values[i, j] > 55 else "black",
                gid="confusion_cell",
            )
        ax.set_xticks(np.arange(values.shape[1]), [str(c) for c in cm.columns])
        ax.set_yticks(np.arange(values.shape[0]), [str(c) for c in cm.index])
        ax.tick_params(which="minor", bottom=False, left=False, top=False, right=False)
        ax.tick_params(labelsize="small", length=0)
        ax.set_xlabel("predicted n", fontsize="small")
        ax.set_ylabel("true n" if k == 0 else "", fontsize="small")
        ax.set_title(method, pad=8, fontsize="small")
    fig.colorbar(image, ax=axs, label="events of the true count [%]", shrink=0.8)
    # one experiment label for the row, above the titles
    fig.suptitle(rf"$\bf{{{EXPERIMENT}}}$ $\it{{{text.replace(' ', '~')}}}$", x=0.01, ha="left")
    return fig


def plot_accuracy_vs_distance(
    evaluation: CountingEvaluation,
    methods: Sequence[str],
    bins: Sequence[float] | None = None,
    ax: Axes | None = None,
    *,
    text: str = TEXT,
) -> Axes:
    """Accuracy of each method vs the minimum transverse distance between the beam electrons
    at the ECal face (events of more than one electron), with 68 % Wilson intervals
    (``evaluation.by_distance``); the cell pitch is marked.

    Args:
        bins: distance bin edges [mm]; None: :data:`DEFAULT_DISTANCE_BINS`.
    """
    edges = DEFAULT_DISTANCE_BINS if bins is None else np.asarray(bins, np.float64)
    curves = {m: evaluation.by_distance(m, list(edges)) for m in methods}
    ax = hplot.profiles(
        curves,
        _new_ax(ax),
        xlabel="minimum distance between electrons [mm]",
        ylabel="accuracy",
        experiment=EXPERIMENT,
        text=text,
    )
    ax.axvline(
        schema.CELL_PITCH,
        color="0.5",
        linestyle=":",
        linewidth=1,
        label=f"cell pitch ({schema.CELL_PITCH:.1f} mm)",
        gid="cell_pitch",
    )
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_hits_per_event(
    summary_split: Mapping[str, Any],
    ax: Axes | None = None,
    *,
    bins: int | Sequence[float] = 40,
    text: str = TEXT,
) -> Axes:
    """Number of ECal hits per event for each true multiplicity (fractions of each
    multiplicity's events), the mean in the legend.

    Args:
        summary_split: one split of :class:`hepnb.chapters.ecal.steps.Summaries` (``n``,
            ``n_hits``).
        bins: bin edges, or about how many bins of whole numbers of hits from 0 to the
            largest count.
    """
    ax = _new_ax(ax)
    groups = _by_multiplicity(summary_split, "n_hits")
    if isinstance(bins, (int, np.integer)):
        top = max((int(v.max()) for v in groups.values() if len(v)), default=1)
        width = max(1, -(-(top + 1) // int(bins)))
        edges = np.arange(0, top + width + 1, width, dtype=np.float64)  # integer edges
    else:
        edges = np.asarray(bins, np.float64)
    labels = {m: f"{m} $e^-$ (mean {v.mean():.0f})" for m, v in groups.items()}
    _fraction_steps(ax, groups, edges, labels)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.4 * ax.get_ylim()[1])
    ax.set_xlabel("ECal hits per event")
    ax.set_ylabel(f"fraction of events / {np.diff(edges).mean():.3g} hits")
    ax.legend(fontsize="small")
    hplot.label(ax, EXPERIMENT, text)
    return ax
