"""The base of every explorer: state, controls, figure and numbers, shown live or static."""

from __future__ import annotations

import base64
import contextlib
import html
import io as _io
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hepnb import plot as hplot
from hepnb._optional import require

MODE_ENV = "HEPNB_WIDGETS"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


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
        self._ui: Any = None
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

    def draw(self, fig: Figure, state: Mapping[str, Any]) -> None:
        """Draw the (cleared) figure ``fig`` for ``state``."""
        raise NotImplementedError

    def summary(self, state: Mapping[str, Any]) -> Mapping[str, Any] | pd.DataFrame:
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
            self.draw(self.figure, self._state)
        self.numbers = self.summary(self._state)
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
            w = require("ipywidgets")

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
