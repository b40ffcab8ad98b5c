"""The ghost-track chapter's figures: the event display and the plots its notebooks share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hepnb import plot as hplot
from hepnb.chapters.ghost.schema import FEATURES, LABELS, Z_MAG
from hepnb.chapters.ghost.sim import SimConfig, event_record
from hepnb.widgets import EventDisplay

__all__ = ["GhostEventDisplay", "plot_features", "plot_ghost_rates", "plot_search"]

#: Label of the chapter's plots.
EXPERIMENT = "LHCb"

_REAL, _GHOST, _NOISE = "tab:blue", "tab:red", "0.8"  # candidates and noise hits


class GhostEventDisplay(EventDisplay):
    """One simulated LHCb event of the ghost-track chapter in the x–z (bending) plane.

    Left: the VELO (z < 0.8 m); right: the whole detector to the last SciFi layer. Hits of
    particles are black (or coloured by particle with ``color_by_particle``), noise clusters
    grey; each reconstructed candidate is a line through its VELO hits, a kink at the magnet
    (the VELO line extrapolated to ``z_mag``) and its SciFi hits — real tracks blue, ghosts
    red dashed. SciFi stereo (u/v) hits are placed at their true x (noise: y taken as 0).

    Args:
        events: ``{track type: records}`` or one list of records, as returned by
            :func:`hepnb.chapters.ghost.sim.event_record`.
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
        if not isinstance(events, Mapping):
            events = {"matching": events}
        for name, recs in events.items():
            for r in recs[:1]:
                missing = [k for k in ("velo", "scifi", "candidates") if k not in r]
                if missing:
                    raise ValueError(
                        f"events[{name!r}]: records lack {missing}; expected "
                        "hepnb.chapters.ghost.sim.event_record() output"
                    )
        self.z_mag = Z_MAG if z_mag is None else float(z_mag)
        self.color_by_particle = bool(color_by_particle)
        super().__init__(events, sample=sample, index=index, item="event", **kw)

    @classmethod
    def from_simulation(
        cls,
        n_events: int = 20,
        seed: int = 0,
        track: str | Sequence[str] = "matching",
        config: SimConfig | None = None,
        **kw: Any,
    ) -> GhostEventDisplay:
        """Simulate ``n_events`` events (:func:`hepnb.chapters.ghost.sim.event_record`) and show them;
        ``track``: ``"matching"``, ``"forward"`` or both (one dropdown entry each).

        Raises:
            ValueError: a bad ``track`` or ``n_events``.
        """
        tracks = [track] if isinstance(track, str) else list(track)
        bad = [t for t in tracks if t not in FEATURES]
        if bad or not tracks:
            raise ValueError(f"track={track!r}: expected 'matching', 'forward' or a list of them")
        cfg = config or SimConfig()
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
        hplot.label(ax_v, EXPERIMENT, "Simulation", rlabel="VELO")
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


def plot_features(
    x: np.ndarray, ghost: np.ndarray, names: Sequence[str], ncols: int = 4, suffix: str = ""
) -> Figure:
    """Grid of normalised histograms of each feature ``x (N, F)`` for ghosts and real tracks.

    Ranges are the 0.5–99.5% quantiles so that long tails do not hide the bulk; ``suffix`` is
    appended to the axis labels (e.g. ``" (scaled)"``).
    """
    nrows = (len(names) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    for ax in list(axes.flat)[: len(names)]:
        # labelled before the histograms: mplhep draws the figure to place the label
        hplot.label(ax, experiment=EXPERIMENT, text="Simulation", loc=0)
    for i, (ax, name) in enumerate(zip(axes.flat, names, strict=False)):
        v = x[:, i]
        lo, hi = np.quantile(v, [0.005, 0.995])
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        integer = np.array_equal(v, np.round(v)) and hi - lo < 60
        edges = np.arange(np.floor(lo), hi + 1.0) - 0.5 if integer else np.linspace(lo, hi, 41)
        for cls, lab in ((0, "real"), (1, "ghost")):
            ax.hist(v[ghost == cls], bins=edges, density=True, histtype="step", lw=1.5, label=lab)
        ax.set_xlabel(LABELS.get(name, name) + suffix, fontsize="small")
        ax.set_ylabel("normalised entries", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if i == 0:
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_ghost_rates(
    rates: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]],
    fmt: str = "o-",
    ylabel: str = "ghost rate",
) -> Figure:
    """One panel per variable of ``rates`` (``{variable: {curve: (centres, rate, errors)}}``,
    errors ``(B,)`` or ``(2, B)``, e.g. from :func:`~hepnb.chapters.ghost.steps.ghost_rates`
    or :func:`~hepnb.chapters.ghost.steps.efficiencies`): a rate vs p, pT (log x), η or a
    feature."""
    fig, axes = plt.subplots(1, len(rates), figsize=(6 * len(rates), 5), squeeze=False)
    for ax, (var, curves) in zip(axes[0], rates.items(), strict=True):
        hplot.profiles(
            curves,
            ax,
            xlabel=LABELS.get(var, var),
            ylabel=ylabel,
            logx=var in ("p", "pt"),
            fmt=fmt,
            experiment=EXPERIMENT,
            text="Simulation",
        )
    fig.tight_layout()
    return fig


def plot_search(trials: pd.DataFrame | None) -> Figure | None:
    """Validation AUC of each complete trial of a search and the best so far (None without
    complete trials)."""
    if trials is None or not trials["value"].notna().any():
        return None
    fig, ax = plt.subplots()
    done = trials[trials["state"] == "COMPLETE"]
    ax.plot(done["number"], done["value"], "o", label="complete trials")
    ax.plot(done["number"], done["value"].cummax(), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation AUC")
    ax.legend()
    hplot.label(ax, experiment=EXPERIMENT, text="Simulation")
    return fig
