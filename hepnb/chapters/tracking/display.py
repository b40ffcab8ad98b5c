"""The tracking chapter's event display and figures.

:class:`TrackingEventDisplay` shows one event in the transverse (x–y) and longitudinal (r–z)
views with the tracks one method found coloured by what they are — matched to a particle,
duplicate, fake, split — and the reconstructable particles it missed as dashed truth lines. The
figure functions draw efficiencies against pT and η with their intervals, the pT resolution of
the helix fit and the Hough binning scan; each labels its axes with units and carries the
experiment label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hepnb import evaluate
from hepnb import plot as hplot
from hepnb.chapters.tracking.hits import Hits, Tracks
from hepnb.widgets.event import EventDisplay

__all__ = [
    "COLOURS",
    "TrackingEventDisplay",
    "plot_efficiency_vs",
    "plot_features",
    "plot_helix_check",
    "plot_hough_scan",
    "plot_pt_resolution",
    "plot_station_occupancy",
    "plot_threshold_scan",
]

EXPERIMENT = "BESIII"
TEXT = "Simulation Internal"
#: Colour of each track category in the displays.
COLOURS = {
    "matched": "tab:green",
    "duplicate": "tab:orange",
    "fake": "tab:red",
    "split": "tab:purple",
    "missed": "tab:blue",
}


def _category(match: evaluate.TrackMatch) -> np.ndarray:
    """``(T,)`` category name of every track."""
    cat = np.full(len(match.matched), "split", dtype=object)
    cat[match.matched] = "matched"
    cat[match.duplicate] = "duplicate"
    cat[match.fake] = "fake"
    return cat


def _rz(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.hypot(x, y)


class TrackingEventDisplay(EventDisplay):
    """One event at a time, x–y and r–z, with the tracks of the method chosen in the dropdown.

    Args:
        hits: the events (e.g. the test split).
        found: ``{method: Tracks}`` found in ``hits``.
        matches: ``{method: TrackMatch}`` of those tracks.
        reconstructable: ``(P,)`` whether each particle of ``hits.particles`` counts for the
            efficiency (missed ones are drawn dashed).
        experiment, text: the experiment label.
    """

    def __init__(
        self,
        hits: Hits,
        found: Mapping[str, Tracks],
        matches: Mapping[str, evaluate.TrackMatch],
        reconstructable: np.ndarray,
        *,
        experiment: str = EXPERIMENT,
        text: str = TEXT,
        **kw: Any,
    ) -> None:
        if set(found) != set(matches):
            raise ValueError(f"found {sorted(found)} and matches {sorted(matches)} differ")
        if hits.n_events < 1:
            raise ValueError("hits: no event to display")
        self.hits = hits
        self.found = dict(found)
        self.matches = dict(matches)
        self.reconstructable = np.asarray(reconstructable, bool)
        self.experiment, self.text = experiment, text
        self._particle = hits.particle_index()
        self._events = {m: t.event(hits) for m, t in self.found.items()}
        kw.setdefault("figsize", (14, 6.2))
        super().__init__({m: range(hits.n_events) for m in self.found}, **kw)

    def draw_event(self, fig: Figure, event: Any, sample: str) -> None:
        h, method = self.hits, sample
        off = h.offsets
        rows = np.arange(off[event], off[event + 1])
        ax_xy, ax_rz = fig.subplots(1, 2, width_ratios=[1, 1.25])
        x, y, z = h["x"][rows], h["y"][rows], h["z"][rows]
        noise = h["track"][rows] < 0
        for ax, (u, v) in ((ax_xy, (x, y)), (ax_rz, (z, _rz(x, y)))):
            ax.scatter(u[~noise], v[~noise], s=14, c="0.35", zorder=3, label="hits")
            ax.scatter(u[noise], v[noise], s=14, c="0.75", marker="x", zorder=3, label="noise")
        tracks, match = self.found[method], self.matches[method]
        cat = _category(match)
        seen: set[str] = set()
        for t in np.flatnonzero(self._events[method] == event):
            idx = tracks[int(t)]
            c = str(cat[t])
            ax_xy.plot(h["x"][idx], h["y"][idx], "-", color=COLOURS[c], lw=1.8, zorder=2)
            r = _rz(h["x"][idx], h["y"][idx])
            lab = None if c in seen else c
            seen.add(c)
            ax_rz.plot(h["z"][idx], r, "-", color=COLOURS[c], lw=1.8, zorder=2, label=lab)
        # reconstructable particles of this event that no track of the method matched
        parts = np.flatnonzero(
            (h.particles["event"] == event) & self.reconstructable & (match.particle_track < 0)
        )
        for i, p in enumerate(parts):
            idx = rows[self._particle[rows] == p]
            idx = idx[np.argsort(h["station"][idx], kind="stable")]
            ax_xy.plot(h["x"][idx], h["y"][idx], "--", color=COLOURS["missed"], lw=1.5, zorder=1)
            ax_rz.plot(
                h["z"][idx],
                _rz(h["x"][idx], h["y"][idx]),
                "--",
                color=COLOURS["missed"],
                lw=1.5,
                zorder=1,
                label="missed" if i == 0 else None,
            )
        r_max = 1.1 * float(np.max(_rz(h["x"], h["y"]), initial=1.0))
        ax_xy.set(xlim=(-r_max, r_max), ylim=(-r_max, r_max), aspect="equal")
        ax_xy.set_xlabel("x [mm]")
        ax_xy.set_ylabel("y [mm]")
        ax_rz.set_xlabel("z [mm]")
        ax_rz.set_ylabel("r [mm]")
        ax_rz.set_ylim(0, r_max)
        ax_rz.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        for ax in (ax_xy, ax_rz):
            hplot.label(ax, self.experiment, self.text)
        ax_rz.text(
            1.02, 0.02, f"{method}\nevent {event}", transform=ax_rz.transAxes, fontsize="small"
        )

    def describe_event(self, event: Any, sample: str) -> Mapping[str, Any]:
        h, match = self.hits, self.matches[sample]
        in_event = self._events[sample] == event
        parts = h.particles["event"] == event
        rec = parts & self.reconstructable
        return {
            "hits": int(h.counts[event]),
            "particles": int(parts.sum()),
            "reconstructable": int(rec.sum()),
            "found": int((rec & (match.particle_track >= 0)).sum()),
            "tracks": int(in_event.sum()),
            "fakes": int((in_event & match.fake).sum()),
            "duplicates": int((in_event & match.duplicate).sum()),
        }


def _new_ax(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    return ax


def plot_efficiency_vs(
    rates: Mapping[str, evaluate.BinnedRate],
    *,
    xlabel: str,
    ax: Axes | None = None,
    experiment: str = EXPERIMENT,
    rlabel: str | None = None,
) -> Axes:
    """Track efficiency per bin of a particle variable (e.g. pT in GeV), one marker series per
    method with its binomial interval."""
    ax = _new_ax(ax)
    for i, (method, r) in enumerate(rates.items()):
        shift = (i - (len(rates) - 1) / 2) * 0.12 * np.diff(r.edges).min()
        ax.errorbar(r.centres + shift, r.rate, yerr=r.yerr, fmt="o", ms=4, capsize=2, label=method)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("track efficiency")
    ax.set_ylim(0, 1.12)
    ax.legend(loc="lower right")
    hplot.label(ax, experiment, TEXT, rlabel=rlabel)
    return ax


def plot_pt_resolution(
    residuals: Mapping[str, np.ndarray],
    *,
    ax: Axes | None = None,
    bins: Sequence[float] | None = None,
    experiment: str = EXPERIMENT,
) -> Axes:
    """Histogram of (pT_fit − pT_true)/pT_true of the matched tracks of each method."""
    ax = _new_ax(ax)
    edges = list(np.linspace(-0.2, 0.2, 41) if bins is None else bins)
    for method, res in residuals.items():
        res = np.asarray(res)
        ax.hist(
            np.clip(res, edges[0], edges[-1]), bins=edges, histtype="step", lw=1.6, label=method
        )
    ax.set_xlabel(r"$(p_T^{fit} - p_T^{true}) / p_T^{true}$")
    ax.set_ylabel("matched tracks / bin")
    ax.legend()
    hplot.label(ax, experiment, TEXT)
    return ax


def plot_hough_scan(
    scan: pd.DataFrame, *, ax: Axes | None = None, experiment: str = EXPERIMENT
) -> Axes:
    """The validation figure of merit of every Hough binning (φ0 bins × curvature bins)."""
    ax = _new_ax(ax)
    table = scan.pivot_table(index="n_kappa", columns="n_phi", values="score")
    im = ax.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(c) for c in table.index])
    for (i, j), v in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{v:.3f}", ha="center", va="center", color="w", fontsize="small")
    ax.set_xlabel(r"$\varphi_0$ bins")
    ax.set_ylabel("curvature bins")
    ax.figure.colorbar(im, ax=ax, label="efficiency − fake − duplicate (validation)")
    hplot.label(ax, experiment, TEXT)
    return ax


def plot_station_occupancy(
    hits: Hits, *, ax: Axes | None = None, experiment: str = EXPERIMENT
) -> Axes:
    """Mean hits per event on each station, from particles and from noise."""
    ax = _new_ax(ax)
    st = hits["station"]
    n = int(st.max(initial=0)) + 1
    noise = hits["track"] < 0
    per = max(hits.n_events, 1)
    s = np.arange(n)
    ax.bar(s, np.bincount(st[~noise], minlength=n) / per, label="particles", color="tab:blue")
    ax.bar(
        s,
        np.bincount(st[noise], minlength=n) / per,
        bottom=np.bincount(st[~noise], minlength=n) / per,
        label="noise",
        color="0.7",
    )
    ax.set_xlabel("station (0 = innermost)")
    ax.set_ylabel("hits / event")
    ax.legend()
    hplot.label(ax, experiment, TEXT, rlabel=f"{hits.n_events} events")
    return ax


def plot_helix_check(
    check: pd.DataFrame,
    *,
    b_field: float,
    ax: Axes | None = None,
    experiment: str = EXPERIMENT,
) -> Axes:
    """Fitted circle radius against the radius R = pT/(0.3 B) the momentum predicts, one
    point per particle (:func:`hepnb.chapters.tracking.steps.helix_check`)."""
    ax = _new_ax(ax)
    pred, fit = check["R predicted [mm]"].to_numpy(), check["R fitted [mm]"].to_numpy()
    ax.loglog(pred, fit, ".", ms=3, alpha=0.5, label="particles")
    lim = np.array([max(np.nanmin(pred), 1.0), np.nanmax(pred)])
    ax.loglog(lim, lim, "k--", lw=1, label=r"$R = p_T / (0.3 B)$")
    ax.set_xlabel(rf"$R = p_T / (0.3 \cdot {b_field:g}\,\mathrm{{T}})$ [mm]")
    ax.set_ylabel("radius of the circle fitted to the hits [mm]")
    ax.legend(loc="upper left")
    hplot.label(ax, experiment, TEXT)
    return ax


def plot_features(hits: Hits, features: np.ndarray, *, experiment: str = EXPERIMENT) -> Figure:
    """The hits' r, φ, z (mm, rad) and the same after the coordinate chain (the network
    inputs), one column each."""
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), layout="constrained")
    raw = {
        "r [mm]": np.hypot(hits["x"], hits["y"]),
        r"$\varphi$ [rad]": np.arctan2(hits["y"], hits["x"]),
        "z [mm]": hits["z"],
    }
    for i, (name, values) in enumerate(raw.items()):
        axes[0, i].hist(values, bins=60, histtype="stepfilled", alpha=0.7)
        axes[0, i].set_xlabel(name)
        axes[0, i].set_ylabel("hits / bin")
        axes[1, i].hist(
            features[:, i], bins=60, histtype="stepfilled", alpha=0.7, color="tab:orange"
        )
        axes[1, i].set_xlabel(f"{name.split(' ')[0]} after the chain")
        axes[1, i].set_ylabel("hits / bin")
    hplot.label(axes[0, 0], experiment, TEXT)
    return fig


def plot_threshold_scan(
    scan: pd.DataFrame,
    chosen: float | None = None,
    *,
    ax: Axes | None = None,
    experiment: str = EXPERIMENT,
) -> Axes:
    """Efficiency, fake and duplicate rates of the GNN's tracks on the validation events
    against the edge threshold, with the chosen threshold marked."""
    ax = _new_ax(ax)
    for col, lab in (
        ("efficiency", "efficiency"),
        ("fake_rate", "fake rate"),
        ("duplicate_rate", "duplicate rate"),
    ):
        ax.plot(scan["threshold"], scan[col], "o-", ms=3, label=lab)
    if chosen is not None:
        ax.axvline(chosen, color="k", ls="--", lw=1, label=f"chosen: {chosen:g}")
    ax.set_xlabel("edge score threshold")
    ax.set_ylabel("fraction (validation events)")
    ax.set_ylim(0, 1.1)
    ax.legend(loc="center left")
    hplot.label(ax, experiment, TEXT)
    return ax
