"""The ttH chapter's pictures: the event display in the η–φ plane, the validation of the input
features, their weighted correlations, the m_bb spectra and the yields of the analysis regions.

Every function takes the converted sample, :class:`~hepnb.chapters.tth.events.Events` (both
processes, signal first, label 1 = signal), draws with mplhep, labels its axes with units and
carries the experiment label. Events are weighted by their expected-event weights
(``Events.weight``; negative weights, as NLO generators produce, are used as they are).

Sources:

* [TTHBB] ATLAS, JHEP 06 (2022) 097, arXiv:2111.06712: the single-lepton ttH(H→bb) selection,
  the regions (≥ N jets, ≥ M b-tags at 70 %), the DL1r pseudo-continuous tag bins and the
  "Sort4" b-jet candidates (the four jets of highest tag bin), available here as a variant.
* [PRD97] ATLAS, Phys. Rev. D 97 (2018) 072016, arXiv:1712.08895: m_bb^{min ΔR}, the mass of
  the two b-tagged jets closest in ΔR (``Mbb_MindR``), the pair the event display joins.
* [ANTIKT] M. Cacciari, G. P. Salam, G. Soyez, *The anti-kt jet clustering algorithm*,
  JHEP 04 (2008) 063, arXiv:0802.1189: jets of radius parameter R = 0.4 in ATLAS.
* [WCORR] G. R. Price, *Extension of covariance selection mathematics*, Ann. Hum. Genet. 35
  (1972) 485: the weighted (frequency-weight) covariance, whose normalisation cancels in the
  correlation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import hist
import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Circle, Patch, StepPatch
from matplotlib.ticker import ScalarFormatter

from hepnb import plot as hplot
from hepnb.chapters.tth import schema
from hepnb.chapters.tth.events import Events
from hepnb.widgets.event import EventDisplay

__all__ = [
    "COLOURS",
    "EXPERIMENT",
    "JET_RADIUS",
    "N_B_CANDIDATES",
    "TAG_COLOURS",
    "TEXT",
    "BbPair",
    "TthEventDisplay",
    "b_candidates",
    "closest_b_pair",
    "feature_label",
    "feature_validation",
    "leading_jet_names",
    "plot_correlations",
    "plot_histories",
    "plot_mbb",
    "plot_regions",
    "plot_sculpting",
    "region_table",
    "weighted_corrcoef",
    "weighted_correlations",
]

#: Experiment and status text of the chapter's labels.
EXPERIMENT = "ATLAS"
TEXT = "Simulation"
#: Right-hand label: the centre-of-mass energy of the samples [TTHBB].
RLABEL = "√s = 13 TeV"
#: Anti-kt radius parameter of the jets [ANTIKT]: the circles of the event display.
JET_RADIUS = 0.4
#: Colour of each process: the colour cycle's first two, in the order
#: :func:`hepnb.plot.weighted_hist_compare` draws them (signal first).
COLOURS = {"signal": "C0", "background": "C1"}
#: Colour of each DL1r tag bin (1: fails 85 % … 5: passes 60 %); b-tagged at 70 % (≥ 4) in reds.
TAG_COLOURS = {1: "0.72", 2: "#9ecae1", 3: "#fdae6b", 4: "#e6550d", 5: "#7f0000"}
#: Marker area per GeV of jet pT in the event display [points² / GeV].
SIZE_PER_GEV = 2.0

_TAG = "jet_tagWeightBin_DL1r_Continuous"
_JET_NAME = re.compile(r"^jet(\d+)_(.+)$")
_QUANTILES = (0.005, 0.995)
_PRETTY_JET = {
    "pt": "$p_T$",
    "e": "$E$",
    "eta": r"$\eta$",
    "phi": r"$\phi$",
    "tagWeightBin_DL1r_Continuous": "DL1r tag bin",
}
_PRETTY_EVENT = {
    "nJets": "number of jets",
    "nBTags_DL1r_70": "number of b-tags (70% WP)",
    "HT_jets": r"$H_T^\mathrm{jets}$",
    "HT_all": r"$H_T^\mathrm{all}$",
    "met_met": r"$E_T^\mathrm{miss}$",
    "met_phi": r"$\phi(E_T^\mathrm{miss})$",
    "lep_pt": "lepton $p_T$",
    "lep_eta": r"lepton $\eta$",
    "lep_phi": r"lepton $\phi$",
    "lep_e": "lepton $E$",
    "dRbb_avg": r"average $\Delta R_{bb}$",
    "Mbb_MindR": r"$m_{bb}$ of the min-$\Delta R$ b-tagged pair",
    "Mbb_Higgs": r"$m_{bb}$ closest to $m_H$",
    "dRbb_avg_Sort4": r"average $\Delta R$, Sort4 jets",
    "Mbb_MindR_Sort4": r"$m_{jj}$ of the min-$\Delta R$ Sort4 pair",
    "Mbb_Higgs_Sort4": r"Sort4 $m_{jj}$ closest to $m_H$",
    "aplanarity": "aplanarity",
    "centrality": "centrality",
    "HT": "$H_T$ (jets + lepton)",
    "nBTags_77": "number of b-tags (77% WP)",
}
_SHORT = {"tagWeightBin_DL1r_Continuous": "tagbin", "nBTags_DL1r_70": "nBTags70"}


# --- labels --------------------------------------------------------------------------------


def _label(ax: Axes, experiment: str, text: str, rlabel: str | None = None) -> None:
    """The experiment label on ``ax`` (:func:`hepnb.plot.label`), also right under a
    constrained layout.

    mplhep places the label's second part at a fraction of the axes width measured when it is
    called; a constrained layout that counted the label would then narrow the axes and push
    the two parts together. So the layout is settled first and then frozen (the figure's
    layout engine set to none), and the label added to the settled axes; it stays part of the
    figure's tight bounding box, so inline and saved figures show it whole.
    """
    fig = ax.get_figure(root=True)
    engine = fig.get_layout_engine() if isinstance(fig, Figure) else None
    if isinstance(fig, Figure) and isinstance(engine, ConstrainedLayoutEngine):
        if not ax.get_title():  # room above the axes for the label
            ax.set_title(" ", fontsize=1.3 * plt.rcParams["font.size"])
        engine.execute(fig)
        fig.set_layout_engine("none")
    if isinstance(ax.yaxis.get_major_formatter(), ScalarFormatter):
        # no "×10⁻³" above the axes, where the label goes
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    hplot.label(ax, experiment, text, rlabel=rlabel)


# --- feature columns ------------------------------------------------------------------------


def _jet_name(i: int, feature: str) -> str:
    """Column name of jet ``i``'s ``feature``, as :attr:`hepnb.models.jets.JetLayout.names`."""
    return f"jet{i}_{feature.removeprefix('jet_')}"


def _ordinal(i: int) -> str:
    """0 → "leading", 1 → "2nd", 2 → "3rd", 3 → "4th"..."""
    if i == 0:
        return "leading"
    n = i + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _resolve(events: Events, name: str) -> tuple[int | None, str]:
    """``name`` → (jet index or None for an event feature, the feature name).

    Raises:
        KeyError: neither an event feature nor ``jet<i>_<feature>`` of a stored jet.
    """
    if name in events.event_features:
        return None, name
    m = _JET_NAME.match(name)
    if m is not None:
        i, suffix = int(m.group(1)), m.group(2)
        feature = next((f for f in events.jet_features if f.removeprefix("jet_") == suffix), None)
        if feature is not None and i < events.n_jets:
            return i, feature
    raise KeyError(
        f"{name!r}: not a feature of this sample; expected an event feature "
        f"{list(events.event_features)} or 'jet<i>_<feature>' with i < {events.n_jets} and "
        f"<feature> one of {[f.removeprefix('jet_') for f in events.jet_features]}"
    )


def _column(events: Events, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Values ``(N,)`` float64 of a feature and ``(N,)`` bool where they are valid (a real jet
    for a jet column, finite)."""
    i, feature = _resolve(events, name)
    if i is None:
        values = np.asarray(events.column(feature), dtype=np.float64)
        valid = np.ones(len(events), dtype=bool)
    else:
        values = np.asarray(events.jets[:, i, events.jet_features.index(feature)], np.float64)
        valid = np.asarray(events.mask[:, i], dtype=bool)
    return values, valid & np.isfinite(values)


def _unit(events: Events, feature: str) -> str:
    return str(events.units.get(feature, schema.UNITS.get(feature, "")))


def feature_label(events: Events, name: str) -> str:
    """Axis label of a feature with its unit, e.g. ``"leading jet $p_T$ [GeV]"`` for
    ``jet0_pt`` or ``"$E_T^\\mathrm{miss}$ [GeV]"`` for ``met_met``.

    Raises:
        KeyError: ``name`` is not a feature of ``events``.
    """
    i, feature = _resolve(events, name)
    if i is None:
        text = _PRETTY_EVENT.get(feature, feature)
    else:
        suffix = feature.removeprefix("jet_")
        text = f"{_ordinal(i)} jet {_PRETTY_JET.get(suffix, suffix)}"
    unit = _unit(events, feature)
    return f"{text} [{unit}]" if unit else text


def _short(name: str) -> str:
    for long, short in _SHORT.items():
        name = name.replace(long, short)
    return name


def leading_jet_names(events: Events, n_leading: int = 4, *, always: bool = False) -> list[str]:
    """Column names ``jet<i>_<feature>`` of the ``n_leading`` leading jets (``jet0_pt``...).

    Args:
        n_leading: leading jets wanted (at most the J stored).
        always: keep only the leading jets that are real in every event.
    """
    if n_leading < 0:
        raise ValueError(f"n_leading={n_leading}: expected a number of jets >= 0")
    n = min(int(n_leading), events.n_jets)
    if always and len(events):
        present = np.asarray(events.mask, dtype=bool).all(axis=0)
        n = min(n, int(np.argmin(present)) if not present.all() else events.n_jets)
    return [_jet_name(i, f) for i in range(n) for f in events.jet_features]


# --- the b-jet pair closest in ΔR ------------------------------------------------------------

#: The "Sort4" variant of the b-jet candidates [TTHBB] keeps this many jets of highest tag bin,
#: tagged or not. Not the default: ``n_candidates=N_B_CANDIDATES, min_bin=None`` gives it.
N_B_CANDIDATES = 4


class BbPair(NamedTuple):
    """The b-jet-candidate pair closest in ΔR of each event.

    Attributes:
        first, second: ``(N,)`` int64 indices of the two jets (first < second, i.e. the harder
            one first), -1 where the event has fewer than two candidates.
        dr: ``(N,)`` float64 their ΔR = √(Δη² + Δφ²) (NaN without a pair).
        mbb: ``(N,)`` float64 their invariant mass [GeV] (NaN without a pair or without the
            jet features ``jet_pt`` and ``jet_e``).
    """

    first: np.ndarray
    second: np.ndarray
    dr: np.ndarray
    mbb: np.ndarray


def _delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a − b wrapped to [−π, π)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def b_candidates(
    events: Events,
    *,
    min_bin: int | None = schema.BTAG_BIN_70,
    n_candidates: int | None = None,
) -> np.ndarray:
    """``(N, J)`` bool: the b-jet candidates among the stored real jets.

    By default every stored jet b-tagged at 70 % (DL1r tag bin ≥
    :data:`~.schema.BTAG_BIN_70`), with no cap on their number: the candidates of the feature
    makers (:func:`hepnb.chapters.tth.features.b_candidates`) [PRD97].

    Args:
        min_bin: keep only jets of tag bin ≥ this; None: any tag bin.
        n_candidates: keep at most this many, those of highest tag bin, ties broken by pT (the
            stored jets are pT-ordered, so by position); None: no cap.
            ``n_candidates=N_B_CANDIDATES, min_bin=None`` is the Sort4 variant [TTHBB].

    Raises:
        KeyError: the jets lack the tag bin.
        ValueError: ``n_candidates`` < 2.
    """
    if _TAG not in events.jet_features:
        raise KeyError(
            f"b_candidates: jet feature {_TAG!r} missing; the sample has "
            f"{list(events.jet_features)}"
        )
    if n_candidates is not None and n_candidates < 2:
        raise ValueError(
            f"b_candidates: n_candidates={n_candidates}: expected None (no cap) or >= 2"
        )
    mask = np.asarray(events.mask, dtype=bool)
    tag = np.asarray(events.jets[:, :, events.jet_features.index(_TAG)], dtype=np.float64)
    chosen = mask.copy()
    if min_bin is not None:
        chosen &= tag >= min_bin
    if n_candidates is not None:
        n, J = mask.shape
        # rank by (tag bin descending, position ascending); padding last
        key = np.where(mask, tag * (J + 1) - np.arange(J), -np.inf)
        order = np.argsort(-key, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(J), (n, J)), axis=1)
        chosen &= rank < n_candidates
    return chosen


def closest_b_pair(
    events: Events,
    *,
    min_bin: int | None = schema.BTAG_BIN_70,
    n_candidates: int | None = None,
    chunk: int = 65_536,
) -> BbPair:
    """The b-jet-candidate pair closest in ΔR in every event and its mass, m_bb [PRD97].

    The candidates are those of :func:`b_candidates` (by default the jets b-tagged at 70 %,
    all of them: ``Mbb_MindR`` of :mod:`~hepnb.chapters.tth.features`, here among the stored,
    at most J, jets, so the two agree whenever no tagged jet was cut by the truncation to J);
    exact ties in ΔR go to the pair of harder jets. The mass uses E, pT, η and φ (GeV, rad):
    m² = (E₁ + E₂)² − |p⃗₁ + p⃗₂|², p⃗ = (pT cos φ, pT sin φ, pT sinh η). Vectorised over events
    (in chunks of ``chunk`` events to bound memory).

    Raises:
        KeyError: the jets lack ``jet_eta``, ``jet_phi`` or the tag bin.
    """
    need = ("jet_eta", "jet_phi", _TAG)
    missing = [f for f in need if f not in events.jet_features]
    if missing:
        raise KeyError(
            f"closest_b_pair: jet features {missing} missing; the sample has "
            f"{list(events.jet_features)}"
        )
    n, J = len(events), events.n_jets
    first = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    dr = np.full(n, np.nan)
    mbb = np.full(n, np.nan)
    if J < 2 or n == 0:
        return BbPair(first, second, dr, mbb)
    ii, jj = np.triu_indices(J, 1)  # pairs in (harder, softer) order
    col = {f: events.jet_features.index(f) for f in events.jet_features}
    has_mass = all(f in col for f in ("jet_pt", "jet_e"))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        part = events.select(np.arange(start, min(start + chunk, n)))
        b = b_candidates(part, min_bin=min_bin, n_candidates=n_candidates)
        jets = np.asarray(part.jets, dtype=np.float64)
        eta, phi = jets[:, :, col["jet_eta"]], jets[:, :, col["jet_phi"]]
        d = np.hypot(eta[:, ii] - eta[:, jj], _delta_phi(phi[:, ii], phi[:, jj]))
        d = np.where(b[:, ii] & b[:, jj], d, np.inf)
        k = np.argmin(d, axis=1)
        rows = np.arange(len(k))
        ok = np.isfinite(d[rows, k])
        first[sl] = np.where(ok, ii[k], -1)
        second[sl] = np.where(ok, jj[k], -1)
        dr[sl] = np.where(ok, d[rows, k], np.nan)
        if has_mass:
            a, c = ii[k], jj[k]
            pt, e = jets[:, :, col["jet_pt"]], jets[:, :, col["jet_e"]]
            p4 = [e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)]
            s = [q[rows, a] + q[rows, c] for q in p4]
            m2 = s[0] ** 2 - s[1] ** 2 - s[2] ** 2 - s[3] ** 2
            mbb[sl] = np.where(ok, np.sqrt(np.clip(m2, 0.0, None)), np.nan)
    return BbPair(first, second, dr, mbb)


# --- event display ---------------------------------------------------------------------------


class TthEventDisplay(EventDisplay):
    """One event at a time in the η–φ plane, signal or background chosen in the dropdown.

    Each stored real jet is a circle of radius :data:`JET_RADIUS` (the anti-kt R; copies
    across φ = ±π where it wraps) coloured by its DL1r tag bin (:data:`TAG_COLOURS`; legend
    with the working points of :data:`~.schema.TAG_BINS`), with a marker of area ∝ pT at its
    axis and its pT written next to it; the pair of jets b-tagged at 70 % closest in ΔR
    (:func:`closest_b_pair`, the pair of ``Mbb_MindR``) is joined by a line and outlined. The
    lepton (when ``lep_eta`` and ``lep_phi`` are event features) is a star; the direction of
    the missing transverse momentum (``met_phi``) a dashed horizontal line with an arrow at the
    right edge. The title gives process, weight, nJets, nbtag (all jets of the event, 70 % WP)
    and the pair's m_bb.

    Args:
        events: the sample; the slider runs over the events of the chosen process.
        sample: the process shown first (``"signal"`` or ``"background"``).
        index: the event (within its process) shown first.
        experiment, text: the experiment label.

    Raises:
        ValueError: no events, or jets without ``jet_pt``, ``jet_eta`` and ``jet_phi``.
    """

    def __init__(
        self,
        events: Events,
        *,
        sample: str | None = None,
        index: int = 0,
        experiment: str = EXPERIMENT,
        text: str = TEXT,
        **kw: Any,
    ) -> None:
        missing = [f for f in ("jet_pt", "jet_eta", "jet_phi") if f not in events.jet_features]
        if missing:
            raise ValueError(
                f"TthEventDisplay: jet features {missing} missing; the sample has "
                f"{list(events.jet_features)}"
            )
        rows = {
            p: np.flatnonzero(np.asarray(events.label) == (1 if p == "signal" else 0)).tolist()
            for p in schema.PROCESSES
        }
        rows = {p: r for p, r in rows.items() if len(r)}
        if not rows:
            raise ValueError("TthEventDisplay: the sample holds no events")
        self.data = events
        self.experiment, self.text = experiment, text
        self._has_tag = _TAG in events.jet_features
        kw.setdefault("figsize", (11, 6.2))
        super().__init__(rows, sample=sample, index=index, item="event", **kw)

    def _pair(self, row: int) -> BbPair | None:
        if not self._has_tag:
            return None
        return closest_b_pair(self.data.select(np.array([row])))

    def _event_value(self, row: int, name: str) -> float | None:
        if name not in self.data.event_features:
            return None
        return float(self.data.event[row, self.data.event_features.index(name)])

    def describe_event(self, event: Any, sample: str) -> Mapping[str, Any]:
        row = int(event)
        pair = self._pair(row)
        return {
            "eventNumber": int(self.data.event_number[row]),
            "weight": float(self.data.weight[row]),
            "nJets": int(self.data.njet[row]),
            "nbtag (70%)": int(self.data.nbtag[row]),
            "jets shown": int(np.sum(self.data.mask[row])),
            "ΔR_bb": float(pair.dr[0]) if pair is not None else float("nan"),
            "m_bb [GeV]": float(pair.mbb[0]) if pair is not None else float("nan"),
        }

    def draw_event(self, fig: Figure, event: Any, sample: str) -> None:
        row = int(event)
        ev = self.data
        ax = fig.subplots()
        real = np.asarray(ev.mask[row], dtype=bool)
        jets = np.asarray(ev.jets[row], dtype=np.float64)[real]
        col = {f: ev.jet_features.index(f) for f in ev.jet_features}
        pt, eta, phi = (jets[:, col[f]] for f in ("jet_pt", "jet_eta", "jet_phi"))
        tags = jets[:, col[_TAG]].astype(int) if self._has_tag else np.zeros(len(pt), int)
        colours = [TAG_COLOURS.get(int(t), "0.5") for t in tags]
        pair = self._pair(row)
        ab = (int(pair.first[0]), int(pair.second[0])) if pair is not None else (-1, -1)
        in_pair = set(ab) if ab[0] >= 0 else set()
        for k in range(len(pt)):
            outline = dict(
                edgecolor="k" if k in in_pair else colours[k], lw=2.4 if k in in_pair else 1.2
            )
            centres = [(eta[k], phi[k], "jet")]
            if phi[k] + JET_RADIUS > np.pi:
                centres.append((eta[k], phi[k] - 2 * np.pi, "jet_wrap"))
            if phi[k] - JET_RADIUS < -np.pi:
                centres.append((eta[k], phi[k] + 2 * np.pi, "jet_wrap"))
            for x, y, gid in centres:
                ax.add_patch(
                    Circle(
                        (x, y),
                        JET_RADIUS,
                        facecolor=colours[k],
                        alpha=0.45,
                        zorder=2,
                        gid=gid,
                        **outline,
                    )
                )
            ax.annotate(
                f"{pt[k]:.0f}",
                (eta[k], phi[k]),
                xytext=(0, 10 if phi[k] < 0.8 - np.pi else -10),  # inside the frame
                textcoords="offset points",
                ha="center",
                va="bottom" if phi[k] < 0.8 - np.pi else "top",
                fontsize="x-small",
                gid="jet_pt",
                zorder=5,
            )
        ax.scatter(
            eta, phi, s=SIZE_PER_GEV * pt, c=colours, edgecolors="k", zorder=4, gid="jet_axis"
        )
        handles: list[Any] = []
        if self._has_tag:
            handles += [
                Patch(facecolor=c, edgecolor="k", alpha=0.7, label=f"{b}: {schema.TAG_BINS[b]}")
                for b, c in TAG_COLOURS.items()
            ]
        if pair is not None and in_pair:
            a, c = ab
            dphi = _delta_phi(phi[c], phi[a])
            # from each jet towards the other the short way (two halves across φ = ±π)
            (line,) = ax.plot(
                [eta[a], eta[c], np.nan, eta[c], eta[a]],
                [phi[a], phi[a] + dphi, np.nan, phi[c], phi[c] - dphi],
                "k-",
                lw=1.8,
                zorder=3,
                gid="bb_pair",
                label=rf"closest b-tagged pair ($\Delta R$ = {pair.dr[0]:.2f})",
            )
            handles.append(line)
        lep = self._event_value(row, "lep_eta"), self._event_value(row, "lep_phi")
        if lep[0] is not None and lep[1] is not None:
            lep_pt = self._event_value(row, "lep_pt")
            what = "lepton" + (f" ($p_T$ = {lep_pt:.0f} GeV)" if lep_pt is not None else "")
            handles.append(
                ax.scatter(
                    [lep[0]],
                    [lep[1]],
                    marker="*",
                    s=260,
                    c="tab:green",
                    edgecolors="k",
                    zorder=6,
                    gid="lepton",
                    label=what,
                )
            )
        met_phi = self._event_value(row, "met_phi")
        if met_phi is not None:
            met = self._event_value(row, "met_met")
            what = r"$\phi(E_T^\mathrm{miss})$" + (
                f" ($E_T^\\mathrm{{miss}}$ = {met:.0f} GeV)" if met is not None else ""
            )
            handles.append(
                ax.axhline(met_phi, color="0.25", ls="--", lw=1.2, zorder=1, gid="met", label=what)
            )
            ax.annotate(
                "",
                xy=(1.0, met_phi),
                xycoords=("axes fraction", "data"),
                xytext=(0.9, met_phi),
                textcoords=("axes fraction", "data"),
                arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1.8},
                gid="met_arrow",
            )
        reach = float(np.max(np.abs(eta), initial=0.0)) + JET_RADIUS + 0.2
        half = max(2.5 + JET_RADIUS + 0.2, reach)
        ax.set(xlim=(-half, half), ylim=(-np.pi, np.pi), aspect="equal")
        ax.set_xlabel(r"$\eta$")
        ax.set_ylabel(r"$\phi$ [rad]")
        ax.legend(
            handles=handles,
            title="DL1r tag bin (WP)" if self._has_tag else None,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="x-small",
            title_fontsize="x-small",
        )
        info = self.describe_event(event, sample)
        mbb = info["m_bb [GeV]"]
        fig.suptitle(
            f"{schema.PROCESS_LABELS.get(sample, sample)}, eventNumber {info['eventNumber']}: "
            f"weight = {info['weight']:.3g}, nJets = {info['nJets']}, "
            f"nbtag = {info['nbtag (70%)']}, "
            + (f"$m_{{bb}}$ = {mbb:.1f} GeV" if np.isfinite(mbb) else "no b-jet pair"),
            fontsize="medium",
        )
        _label(ax, self.experiment, self.text, RLABEL)


# --- weighted correlations -------------------------------------------------------------------


def weighted_corrcoef(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlation matrix ``(K, K)`` of ``x`` ``(N, K)`` with weights ``w``
    ``(N,)`` [WCORR].

    μ = Σ w x / Σ w, C = Σ w (x − μ)(x − μ)ᵀ / Σ w, ρ = C / √(diag C diag Cᵀ); equal to
    ``np.corrcoef`` of ``np.cov(x.T, aweights=w)`` for positive weights. Negative weights are
    used as they are; a column whose weighted variance is ≤ 0 (constant) gets NaN.

    Raises:
        ValueError: shapes that do not match, or Σ w ≤ 0.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if x.ndim != 2 or w.shape != (x.shape[0],):
        raise ValueError(f"weighted_corrcoef: x {x.shape} must be (N, K) and w {w.shape} (N,)")
    total = w.sum()
    if not total > 0:
        raise ValueError(f"weighted_corrcoef: the weights sum to {total}; expected > 0")
    d = x - (w @ x) / total
    cov = (d * w[:, None]).T @ d / total
    var = np.diag(cov).copy()
    sd = np.where(var > 0, np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    corr = cov / np.outer(sd, sd)
    return np.clip(corr, -1.0, 1.0)


def weighted_correlations(
    events: Events, names: Sequence[str] | None = None, *, n_leading: int = 4
) -> dict[str, pd.DataFrame]:
    """The weighted Pearson correlation matrix of the inputs, per process.

    Args:
        events: the sample.
        names: features: event features and leading-jet columns ``jet<i>_<feature>``
            (``jet0_pt``...). None: every event feature and the features of the ``n_leading``
            leading jets that are real in *every* event (so no event is left out).
        n_leading: leading jets of the default ``names``.

    Returns:
        ``{process: DataFrame (K, K)}`` for the processes with events (``signal``,
        ``background``); ``attrs`` hold ``n_events`` (events used) and ``sum_weights``. Events
        where a requested jet is padding or a value is not finite are left out (listwise);
        weights enter the moments as they are, negative ones included
        (:func:`weighted_corrcoef`).

    Raises:
        KeyError: an unknown name. ValueError: no name, or a process whose used events have
            Σ w ≤ 0.
    """
    names = (
        [*events.event_features, *leading_jet_names(events, n_leading, always=True)]
        if names is None
        else list(names)
    )
    if not names:
        raise ValueError("weighted_correlations: no feature to correlate")
    cols = [_column(events, n) for n in names]
    x = np.column_stack([c[0] for c in cols])
    valid = np.logical_and.reduce([c[1] for c in cols])
    out: dict[str, pd.DataFrame] = {}
    for code, process in ((1, "signal"), (0, "background")):
        rows = valid & (np.asarray(events.label) == code)
        if not np.any(np.asarray(events.label) == code):
            continue
        w = np.asarray(events.weight, dtype=np.float64)[rows]
        if not w.sum() > 0:
            raise ValueError(
                f"weighted_correlations: {process}: {int(rows.sum())} events with all of "
                f"{names} valid, weights summing to {w.sum()}; expected > 0"
            )
        df = pd.DataFrame(weighted_corrcoef(x[rows], w), index=names, columns=names)
        df.attrs.update(n_events=int(rows.sum()), sum_weights=float(w.sum()))
        out[process] = df
    return out


# --- histograms ------------------------------------------------------------------------------


def _edges(x: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges robust to tails: integers spanning at most ``bins`` values get unit-wide
    bins centred on them; anything else ``bins`` equal bins over the 0.5–99.5 % quantiles."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.array([0.0, 1.0])
    if np.all(x == np.round(x)):
        lo, hi = float(x.min()), float(x.max())
        if hi - lo + 1 > bins:
            lo, hi = (float(v) for v in np.round(np.quantile(x, _QUANTILES)))
        if hi - lo + 1 <= bins:
            return np.arange(lo - 0.5, hi + 1.0, 1.0)
    lo, hi = (float(v) for v in np.quantile(x, _QUANTILES))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, int(bins) + 1)


def _samples(
    events: Events, values: np.ndarray, valid: np.ndarray, edges: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{process: (values clipped into the edges, weights)}`` of the processes with valid
    values, signal first: entries beyond the edges count in the first and last bins."""
    label = np.asarray(events.label)
    weight = np.asarray(events.weight, dtype=np.float64)
    out = {}
    for process in schema.PROCESSES:
        rows = valid & (label == (1 if process == "signal" else 0))
        if rows.any():
            out[process] = (np.clip(values[rows], edges[0], edges[-1]), weight[rows])
    return out


def _set_gids(ax: Axes, first_patch: int, processes: Sequence[str]) -> None:
    """Gids ``hist_<process>`` on the stairs drawn since patch ``first_patch``."""
    stairs = [p for p in ax.patches[first_patch:] if isinstance(p, StepPatch)]
    for patch, process in zip(stairs, processes, strict=True):
        patch.set_gid(f"hist_{process}")


def _hist_panel(
    ax: Axes, samples: Mapping[str, tuple[np.ndarray, np.ndarray]], edges: np.ndarray, what: str
) -> None:
    """Step histograms normalised to unit area with √(Σw²) errors, drawn as
    :func:`hepnb.plot.weighted_hist_compare` draws them but without its experiment label
    (mplhep draws the whole figure to place a label: one per panel of a grid costs
    O(panels²))."""
    first = len(ax.patches)
    widths = np.diff(edges)
    for process, (x, w) in samples.items():
        h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
        h.fill(np.minimum(x, np.nextafter(edges[-1], edges[0])), weight=w)
        total = float(h.values().sum())
        if not total > 0:
            raise ValueError(
                f"{what}: the {process} weights sum to {total}; cannot normalise to unit area"
            )
        mplhep.histplot(
            h.values() / (total * widths),
            edges,
            yerr=np.sqrt(np.clip(h.variances(), 0, None)) / (total * widths),
            ax=ax,
            histtype="step",
            linewidth=1.5,
            color=COLOURS[process],
            label=schema.PROCESS_LABELS[process],
        )
    _set_gids(ax, first, list(samples))


def feature_validation(
    events: Events,
    *,
    n_leading: int = 4,
    bins: int = 40,
    experiment: str = EXPERIMENT,
    text: str = TEXT,
    ncols: int = 4,
) -> Figure:
    """Signal vs background distribution of every input, weighted and normalised to unit area.

    One panel per event feature, then per jet feature of each of the ``n_leading`` leading
    jets (real jets only: an event without that jet does not enter its panel). Binning
    (shared by both processes) is robust to tails: unit-wide bins centred on the values of
    integer features spanning at most ``bins`` values (tag bins, multiplicities), else ``bins``
    equal bins over the 0.5–99.5 % quantiles, with the entries beyond the range in the edge
    bins. Error bars: √(Σw²). Drawn as :func:`hepnb.plot.weighted_hist_compare` draws one
    panel, with one experiment label for the figure instead of one per panel.

    Returns:
        The figure; the experiment label sits above the first panel, which holds the legend.
    """
    if bins < 1 or ncols < 1:
        raise ValueError(f"bins={bins}, ncols={ncols}: expected integers >= 1")
    names = [*events.event_features, *leading_jet_names(events, n_leading)]
    if not names:
        raise ValueError("feature_validation: the sample has no feature")
    nrows = -(-len(names) // ncols)
    fig, grid = plt.subplots(
        nrows, ncols, figsize=(4.0 * ncols, 3.3 * nrows), layout="constrained", squeeze=False
    )
    axes = list(grid.ravel())
    for ax, name in zip(axes, names, strict=False):
        values, valid = _column(events, name)
        edges = _edges(values[valid], bins)
        _hist_panel(ax, _samples(events, values, valid, edges), edges, name)
        ax.set_xlabel(feature_label(events, name), fontsize="small")
        ax.set_ylabel("normalised events", fontsize="small")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0, 1.3 * ax.get_ylim()[1])
        ax.tick_params(labelsize="x-small")
        ax.set_gid(name)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize="x-small")
    _label(axes[0], experiment, text)
    return fig


# --- correlation matrices --------------------------------------------------------------------


def plot_correlations(
    corr: Mapping[str, pd.DataFrame], *, experiment: str = EXPERIMENT, text: str = TEXT
) -> Figure:
    """Side-by-side annotated correlation matrices (e.g. :func:`weighted_correlations`), one
    per process (:func:`hepnb.plot.correlation_matrix`, colours over −1 … 1).

    Raises:
        ValueError: an empty mapping, or a matrix that is not square with matching labels.
    """
    if not corr:
        raise ValueError("plot_correlations: expected {process: correlation DataFrame}")
    for name, df in corr.items():
        if df.shape[0] != df.shape[1] or list(df.index) != list(df.columns):
            raise ValueError(
                f"plot_correlations: {name!r} is {df.shape} with rows {list(df.index)[:3]}… "
                f"and columns {list(df.columns)[:3]}…; expected a square correlation matrix"
            )
    k = max(len(df) for df in corr.values())
    side = max(5.0, 0.4 * k + 2.5)
    fig, grid = plt.subplots(
        1, len(corr), figsize=((side + 1.2) * len(corr), side), layout="constrained"
    )
    axes = list(np.atleast_1d(grid))
    titles = []
    for ax, (name, df) in zip(axes, corr.items(), strict=True):
        title = schema.PROCESS_LABELS.get(name, name)
        if "n_events" in df.attrs:
            title += f" ({df.attrs['n_events']} events)"
        titles.append(title)
        before = len(ax.texts)
        hplot.correlation_matrix(
            df.to_numpy(dtype=np.float64),
            [_short(str(c)) for c in df.columns],
            ax=ax,
            title=title,
            experiment=experiment,
            text=text,
        )
        for t in list(ax.texts[before + k * k :]):  # the label: redrawn once laid out
            t.remove()
    for ax, title in zip(axes, titles, strict=True):
        _label(ax, experiment, text, title)
    return fig


# --- m_bb and the regions --------------------------------------------------------------------


def plot_mbb(
    events: Events,
    name: str | None = "Mbb_MindR",
    *,
    bins: int = 40,
    ax: Axes | None = None,
    experiment: str = EXPERIMENT,
    text: str = TEXT,
) -> Axes:
    """The m_bb distributions of signal and background, weighted and normalised to unit area,
    with m_H = :data:`~.schema.HIGGS_MASS` marked.

    Args:
        name: the event feature holding m_bb [GeV]; None: the mass of the b-jet-candidate pair
            closest in ΔR computed from the stored jets (:func:`closest_b_pair`). Events
            without a (finite) value are left out.
        bins: number of bins from 0 up to at least the larger of 2 m_H and the 99.5 %
            quantile, their width a multiple of 5 GeV; entries beyond in the last bin.

    Raises:
        KeyError: ``name`` is not an event feature.
    """
    if name is None:
        values = closest_b_pair(events).mbb
        xlabel = r"$m_{bb}$ of the min-$\Delta R$ b-jet pair [GeV]"
    else:
        if name not in events.event_features:
            raise KeyError(
                f"plot_mbb: {name!r} is not an event feature of this sample "
                f"{list(events.event_features)}; name=None computes m_bb from the jets"
            )
        values = np.asarray(events.column(name), dtype=np.float64)
        unit = _unit(events, name) or "GeV"
        xlabel = f"{_PRETTY_EVENT.get(name, name)} [{unit}]"
    valid = np.isfinite(values)
    if not valid.any():
        raise ValueError(f"plot_mbb: no event has a finite m_bb ({name or 'from the jets'})")
    if bins < 1:
        raise ValueError(f"plot_mbb: bins={bins}: expected an integer >= 1")
    top = max(2 * schema.HIGGS_MASS, float(np.quantile(values[valid], _QUANTILES[1])))
    width = 5.0 * np.ceil(top / bins / 5.0)  # a round bin width, GeV
    edges = np.linspace(0.0, width * bins, int(bins) + 1)
    if ax is None:
        _, ax = plt.subplots()
    samples = _samples(events, values, valid, edges)
    first = len(ax.patches)
    before = len(ax.texts)
    hplot.weighted_hist_compare(
        {schema.PROCESS_LABELS[p]: xw for p, xw in samples.items()},
        edges,
        xlabel,
        density=True,
        ax=ax,
        ylabel=f"normalised events / {width:g} GeV",
        experiment=experiment,
        text=text,
    )
    for t in list(ax.texts[before:]):  # the label: redrawn once the axes are final
        t.remove()
    _set_gids(ax, first, list(samples))
    ax.axvline(
        schema.HIGGS_MASS,
        color="k",
        ls="--",
        lw=1.2,
        gid="higgs_mass",
        label=f"$m_H$ = {schema.HIGGS_MASS:g} GeV",
    )
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.3 * ax.get_ylim()[1])
    ax.legend(fontsize="small")
    _label(ax, experiment, text, RLABEL)
    return ax


def region_table(events: Events, regions: Sequence[str], scale: float = 1.0) -> pd.DataFrame:
    """Expected yields per analysis region (``"6j4b"`` = ≥ 6 jets, ≥ 4 b-tags at 70 %).

    Args:
        regions: region names (:func:`~.schema.parse_region`).
        scale: factor on the weights, e.g. 1 / (fraction of the events used) for a test split.

    Returns:
        One row per region (index ``region``): ``selection`` (its label), ``S`` and ``B`` (the
        scaled sums of weights), ``S/B``, ``S/√B`` (NaN when B ≤ 0), ``N_S`` and ``N_B`` (raw
        event counts).

    Raises:
        ValueError: no region, a malformed region name, or ``scale`` ≤ 0.
    """
    if not regions:
        raise ValueError("region_table: expected at least one region, e.g. ['6j4b']")
    if not scale > 0:
        raise ValueError(f"region_table: scale={scale}: expected a positive factor")
    weight = scale * np.asarray(events.weight, dtype=np.float64)
    sig = np.asarray(events.label) == 1
    rows = []
    for region in regions:
        n_jets, n_b = schema.parse_region(region)
        sel = np.asarray(events.in_region(n_jets, n_b), dtype=bool)
        s, b = float(weight[sel & sig].sum()), float(weight[sel & ~sig].sum())
        rows.append(
            {
                "region": region,
                "selection": schema.region_label(region),
                "S": s,
                "B": b,
                "S/B": s / b if b > 0 else float("nan"),
                "S/√B": s / np.sqrt(b) if b > 0 else float("nan"),
                "N_S": int(np.sum(sel & sig)),
                "N_B": int(np.sum(sel & ~sig)),
            }
        )
    return pd.DataFrame(rows).set_index("region")


def plot_regions(
    events: Events,
    regions: Sequence[str],
    ax: Axes | None = None,
    *,
    scale: float = 1.0,
    experiment: str = EXPERIMENT,
    text: str = TEXT,
    rlabel: str | None = RLABEL,
) -> Axes:
    """Expected signal and background yields per region (bars, log scale) with S/B and S/√B
    written above each region (:func:`region_table`)."""
    table = region_table(events, regions, scale)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(table) + 2.5), 5.5))
    x = np.arange(len(table))
    width = 0.38
    for shift, process, column in ((-0.5, "signal", "S"), (0.5, "background", "B")):
        bars = ax.bar(
            x + shift * width,
            table[column].to_numpy(),
            width,
            color=COLOURS[process],
            alpha=0.8,
            label=schema.PROCESS_LABELS[process],
        )
        for p in bars.patches:
            p.set_gid(f"yield_{process}")
    positive = table[["S", "B"]].to_numpy()
    positive = positive[positive > 0]
    log = positive.size > 0
    if log:
        ax.set_yscale("log")
        ax.set_ylim(0.3 * positive.min(), 30 * positive.max())
    for xi, (_, r) in zip(x, table.iterrows(), strict=True):
        top = max(r["S"], r["B"], positive.min() if log else 0.0)
        ax.text(
            float(xi),
            top * (1.6 if log else 1.05),
            f"S/B = {r['S/B']:.3g}\nS/√B = {r['S/√B']:.2f}",
            ha="center",
            va="bottom",
            fontsize="x-small",
            gid="region_ratio",
        )
    ax.set_xticks(x, list(table["selection"]))
    ax.tick_params(axis="x", which="minor", bottom=False, top=False)
    ax.set_xlabel("analysis region")
    ax.set_ylabel("expected events" + (f" (× {scale:.3g})" if scale != 1 else ""))
    ax.legend(fontsize="small", loc="upper right")
    _label(ax, experiment, text, rlabel)
    return ax


# --- training and checks ----------------------------------------------------------------------


def plot_histories(
    histories: Mapping[str, Any], *, experiment: str = EXPERIMENT, text: str = TEXT
) -> Figure:
    """Loss and accuracy against the epoch for several trainings
    (:class:`hepnb.train.History` by model name): training solid, validation dashed, the epoch
    kept marked."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for i, (name, h) in enumerate(histories.items()):
        df = h.to_frame()
        c = f"C{i}"
        ax_loss.plot(df.index, df["train_loss"], "-", color=c, label=f"{name} (training)")
        ax_loss.plot(df.index, df["val_loss"], "--", color=c, label=f"{name} (validation)")
        ax_acc.plot(df.index, df["train_acc"], "-", color=c)
        ax_acc.plot(df.index, df["val_acc"], "--", color=c)
        if h.best_epoch is not None:
            ax_acc.plot([h.best_epoch], [df["val_acc"].loc[h.best_epoch]], "o", color=c)
            ax_loss.plot([h.best_epoch], [df["val_loss"].loc[h.best_epoch]], "o", color=c)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("weighted binary cross-entropy")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("weighted accuracy (score ≥ 0.5)")
    ax_loss.legend(fontsize="x-small", ncols=2)
    for ax in (ax_loss, ax_acc):
        _label(ax, experiment, text)
    return fig


def plot_sculpting(
    result: Mapping[str, Any], *, experiment: str = EXPERIMENT, text: str = TEXT
) -> Figure:
    """The background's normalised distribution of a variable before and after the cut on the
    score (:func:`hepnb.evaluate.sculpting`, as returned by the chapter's ``sculpting`` step),
    and their ratio; χ²/ndf and the KS p-value of passing against failing events in the
    legend."""
    fig, (ax, rax) = plt.subplots(
        2, 1, figsize=(7, 6), sharex=True, height_ratios=(3, 1), layout="constrained"
    )
    edges = np.asarray(result["edges"], dtype=float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    name = result.get("variable", "Mbb_MindR")
    ax.stairs(result["before"], edges, label="tt+bb, all events", color="C1")
    ax.stairs(
        result["after"],
        edges,
        label=f"tt+bb, score ≥ {result['threshold']:.3f}",
        color="C0",
        linestyle="--",
    )
    for key, c in (("before", "C1"), ("after", "C0")):
        if f"{key}_err" in result:
            ax.errorbar(centres, result[key], result[f"{key}_err"], fmt="none", color=c)
    ax.axvline(schema.HIGGS_MASS, color="0.4", lw=1)
    ax.set_ylabel("normalised events / GeV")
    ax.legend(
        title=f"χ²/ndf = {result['chi2_ndf']:.2f}, KS p = {result['ks_p_value']:.2g}",
        fontsize="small",
    )
    rax.plot(centres, result["ratio"], "o", color="k")
    rax.axhline(1.0, color="0.4", lw=1)
    rax.set_ylabel("after / before")
    unit = result.get("unit", "")
    pretty = _PRETTY_EVENT.get(name, name)
    rax.set_xlabel(f"{pretty} [{unit}]" if unit else pretty)
    _label(ax, experiment, text)
    return fig
