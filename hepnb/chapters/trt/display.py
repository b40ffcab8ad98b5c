"""The TRT chapter's pictures: the event display (one track's hits in the R–z view and its
ToT) and the multi-panel figures the notebooks show."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import awkward as ak
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hepnb import evaluate
from hepnb import plot as hplot
from hepnb.chapters.trt import reader, sim
from hepnb.chapters.trt.schema import (
    DISPLAY_BRANCHES,
    DISPLAY_REGIONS,
    REGION_LABELS,
    TRACK_FEATURES,
)
from hepnb.data import SequenceDataset
from hepnb.io import read_tree
from hepnb.widgets import EventDisplay

__all__ = [
    "TRTEventDisplay",
    "plot_data_vs_mc",
    "plot_onset",
    "plot_rejection_by",
    "plot_track_features",
    "rejection_by",
    "working_point_table",
]

_LT, _HT = "tab:blue", "tab:red"  # low- and high-threshold hits


class TRTEventDisplay(EventDisplay):
    """The TRT hits of one track: R–z view of the detector and ToT along the track.

    Left: the hits in the R–z plane (``hit_HitZ``, ``hit_HitR``) over the outline of the
    barrel and end-cap wheels; low-threshold hits as dots (filled: xenon, open: argon), high-
    threshold (HT) hits as red stars. Right: the time over threshold of each hit along the
    track, HT hits in red.

    Args:
        tracks: ``{sample: awkward array of tracks}`` with the branches
            :data:`~hepnb.chapters.trt.schema.DISPLAY_BRANCHES`, e.g. the ``samples`` read in
            ``explore_trt``.
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
                missing = [b for b in DISPLAY_BRANCHES if b not in fields]
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
        """Read the ``<sample>_mc`` trees of a TRT ntuple (at most ``n_max`` tracks each)."""
        tracks = {
            s: read_tree(path, f"{s}_mc", DISPLAY_BRANCHES, entry_stop=n_max) for s in samples
        }
        return cls(tracks, **kw)

    def draw_event(self, fig: Figure, event: Any, sample: str) -> None:
        hits = {
            k: np.asarray(event[k], dtype=float)
            for k in ("hit_HitR", "hit_HitZ", "hit_HTMB", "hit_gasType", "hit_tot")
        }
        ht, xe = hits["hit_HTMB"] > 0, hits["hit_gasType"] == 0
        ax_rz, ax_tot = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
        for z0, z1, r0, r1 in DISPLAY_REGIONS.values():
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


def plot_onset(
    tracks: ak.Array, min_hits_per_bin: int = 50
) -> tuple[Figure, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Measured HT probability vs log10 γ (points) over the simulator's input curve (lines), per
    gas, barrel and end-cap, at the sample's mean occupancy.

    Args:
        tracks: tracks with ``p``, ``truthMass``, ``trkOcc`` and the hit branches.
        min_hits_per_bin: bins with fewer hits are not drawn.

    Returns:
        The figure and ``{"<gas>_<region>": (log10 γ bin centres, HT fraction)}`` of the bins
        drawn.
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    occ = float(np.mean(ak.to_numpy(tracks["trkOcc"])))
    lg = np.linspace(0.5, 5.5, 200)
    onset = {}
    for ax, region in zip(axes, ("barrel", "endcap"), strict=True):
        for gas, colour in (("Xe", "C0"), ("Ar", "C1")):
            x, frac, err, n = reader.ht_onset(tracks, gas, region)
            ok = n > min_hits_per_bin
            ax.errorbar(x[ok], frac[ok], err[ok], fmt="o", color=colour, label=f"{gas}, sample")
            curve = sim.onset_curve(lg, gas=gas, region=region, occupancy=occ)
            ax.plot(lg, curve, color=colour, label=f"{gas}, simulator input")
            onset[f"{gas}_{region}"] = (x[ok], frac[ok])
        ax.set_xlabel(r"$\log_{10}\gamma$ of the track")
        ax.set_title(region)
        ax.legend(loc="upper left", fontsize="small")
        hplot.label(ax, "ATLAS", "Simulation Internal", rlabel=f"mean occupancy {occ:.2f}")
    axes[0].set_ylabel("P(HT) per hit")
    axes[0].set_ylim(0, 0.35)
    return fig, onset


def plot_track_features(ds: SequenceDataset) -> Figure:
    """Histograms of the track features (:data:`~hepnb.chapters.trt.schema.TRACK_FEATURES`),
    electrons (``y = 1``) against muons."""
    tf, y = ds.features.numpy(), ds.y.numpy()
    units = {"p": "log10(p / MeV)", "pT": "log10(pT / MeV)"}
    fig, axes = plt.subplots(2, 4, figsize=(17, 8))
    for i, (name, ax) in enumerate(zip(TRACK_FEATURES, axes.flat, strict=False)):
        hplot.hist1d(
            {"electron": tf[y == 1, i], "muon": tf[y == 0, i]},
            ax=ax,
            bins=40,
            xlabel=units.get(name, name),
            experiment="ATLAS",
        )
    for ax in axes.flat[len(TRACK_FEATURES) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_data_vs_mc(mc: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves on "data" (solid) and MC (dashed), and the LSTM score of both.

    Args:
        mc, data: scores of one sample each, ``{"y": labels, "w": weights, <method>: score}``
            as :func:`hepnb.chapters.trt.steps.load_scores` returns them.
    """
    methods = [k for k in ("eProbHT", "combined", "lstm", "optimum") if k in data and k in mc]
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    hplot.roc(
        {f"{m} (MC)": (mc["y"], mc[m]) for m in methods},
        axes[0],
        signal="electron",
        background="muon",
        experiment="ATLAS",
        text="Internal",
        rlabel="data: tag-and-probe, sWeighted",
    )
    for line in axes[0].get_lines():
        line.set_linestyle("--")
    for m, line in zip(methods, list(axes[0].get_lines()), strict=True):
        r = evaluate.roc(data["y"], data[m], data["w"])  # the data curves use the sWeights
        keep = r.eff > 0.5
        axes[0].plot(r.eff[keep], r.rejection[keep], color=line.get_color(), label=f"{m} (data)")
    axes[0].legend(fontsize="x-small")
    hplot.hist1d(
        {
            "electron MC": mc["lstm"][mc["y"] == 1],
            "electron data": data["lstm"][data["y"] == 1],
            "muon MC": mc["lstm"][mc["y"] == 0],
            "muon data": data["lstm"][data["y"] == 0],
        },
        ax=axes[1],
        bins=40,
        xlabel="LSTM electron score",
        log=True,
        experiment="ATLAS",
        text="Internal",
    )
    return fig


def working_point_table(
    val: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    names: Sequence[str],
    *,
    eff: float = 0.9,
    signal_fraction: float | None = 0.5,
    weighted: bool = False,
    n_boot: int = 500,
) -> pd.DataFrame:
    """Per classifier: the cut keeping ``eff`` of the validation electrons, applied to ``test``
    (:func:`hepnb.evaluate.working_points`), with bootstrap intervals; purity and F1 at the
    electron fraction ``signal_fraction``. ``weighted``: use both sets' ``w``."""
    rows = []
    for name in names:
        wp = evaluate.working_points(
            val["y"],
            val[name],
            test["y"],
            test[name],
            criteria=(("efficiency", eff),),
            weight_val=val["w"] if weighted else None,
            weight_test=test["w"] if weighted else None,
            signal_fraction=signal_fraction,
            n_boot=n_boot,
        )
        rows.append(wp.iloc[0].rename(name))
    return pd.DataFrame(rows).rename_axis("classifier")


def rejection_by(
    val: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    names: Sequence[str],
    by: str = "region",
    bins: Sequence[float] | None = None,
    *,
    eff: float = 0.9,
) -> pd.DataFrame:
    """Muon rejection and electron efficiency in bins of ``by`` (``"region"``: barrel, end-cap
    A, end-cap B; or a column such as ``"occ"``) at the cut keeping ``eff`` of all validation
    electrons, with Wilson intervals (:func:`hepnb.evaluate.binned_rate`).

    Returns:
        Long table: ``classifier``, ``bin`` (centre), ``label``, ``efficiency`` (+ ``_lo``/
        ``_hi``), ``rejection`` (+ ``_lo``/``_hi``), ``n_bkg``.
    """
    x = np.asarray(test[by], dtype=float)
    edges = np.arange(-0.5, len(REGION_LABELS)) if by == "region" else np.asarray(bins, float)
    sig, bkg = test["y"] > 0.5, test["y"] < 0.5
    out = []
    for name in names:
        cut = evaluate.rejection_at(val["y"], val[name], eff).threshold
        passed = np.asarray(test[name]) >= cut
        e = evaluate.binned_rate(x[sig], passed[sig], edges)
        b = evaluate.binned_rate(x[bkg], passed[bkg], edges)
        with np.errstate(divide="ignore", invalid="ignore"):
            rej, lo, hi = 1 / b.rate, 1 / b.hi, 1 / b.lo
        for i, c in enumerate(e.centres):
            label = REGION_LABELS[i] if by == "region" else f"{edges[i]:.3g}–{edges[i + 1]:.3g}"
            out.append(
                {
                    "classifier": name,
                    "bin": c,
                    "label": label,
                    "efficiency": e.rate[i],
                    "efficiency_lo": e.lo[i],
                    "efficiency_hi": e.hi[i],
                    "rejection": rej[i],
                    "rejection_lo": lo[i],
                    "rejection_hi": hi[i],
                    "n_bkg": b.n[i],
                }
            )
    return pd.DataFrame(out)


def plot_rejection_by(table: pd.DataFrame, ax=None, xlabel: str = "", experiment: str = "ATLAS"):
    """Rejection with its interval per bin of a :func:`rejection_by` table, one marker series
    per classifier (log scale)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    names = list(dict.fromkeys(table["classifier"]))
    for k, name in enumerate(names):
        t = table[table["classifier"] == name]
        pos = np.arange(len(t)) + (k - (len(names) - 1) / 2) * 0.08
        err = np.abs(t[["rejection_lo", "rejection_hi"]].to_numpy().T - t["rejection"].to_numpy())
        ax.errorbar(pos, t["rejection"], yerr=err, fmt="o", label=name, capsize=2)
    t0 = table[table["classifier"] == names[0]]
    ax.set_xticks(np.arange(len(t0)), t0["label"])
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("muon rejection at 90% electron efficiency")
    ax.legend(fontsize="small")
    hplot.label(ax, experiment)
    return ax
