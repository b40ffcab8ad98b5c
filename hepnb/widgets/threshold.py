"""The threshold explorer: a working point moved along the ROC curves of several classifiers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hepnb import evaluate
from hepnb import plot as hplot
from hepnb._optional import require
from hepnb.widgets.slider import SliderDisplay


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
        w = require("ipywidgets")

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

    def summary(self, state: Mapping[str, Any]) -> pd.DataFrame:
        return self.working_points(state["efficiency"])

    def draw(self, fig: Figure, state: Mapping[str, Any]) -> None:
        efficiency, classifier = state["efficiency"], state["classifier"]
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
