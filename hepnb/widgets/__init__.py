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

from hepnb.widgets.event import EventDisplay
from hepnb.widgets.slider import MODE_ENV, SliderDisplay, display_mode
from hepnb.widgets.threshold import ThresholdExplorer

__all__ = [
    "MODE_ENV",
    "EventDisplay",
    "SliderDisplay",
    "ThresholdExplorer",
    "display_mode",
]
