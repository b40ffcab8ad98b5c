"""Event displays: a dropdown over samples and a slider over events; chapters subclass it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hepnb._optional import require
from hepnb.widgets.slider import SliderDisplay


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
        w = require("ipywidgets")

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

    def draw(self, fig: Figure, state: Mapping[str, Any]) -> None:
        sample = state["sample"]
        self.draw_event(fig, self.events[sample][state["index"]], sample)

    def summary(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        sample, index = state["sample"], state["index"]
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
