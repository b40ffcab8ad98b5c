"""hepnb: helper library behind the hepnb analysis book (machine learning in particle physics)."""

from __future__ import annotations

__version__ = "0.1.0"
