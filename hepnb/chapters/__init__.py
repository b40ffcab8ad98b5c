"""The chapter registry: every package ``hepnb/chapters/<name>/`` that declares ``CHAPTER``.

A chapter is one folder: ``schema.py`` (tree and branch names, units, geometry), ``sim.py`` or
``sim/`` (the simulator, writing that schema), ``reader.py`` (real ntuples, never importing the
simulator), ``config.py`` (its :class:`~hepnb.runs.Config`, the only source of defaults),
``steps.py`` (what the notebooks call), ``display.py`` (its event display) and
``presets.yaml``. Its ``__init__.py`` re-exports the steps (``from hepnb.chapters import trt as
chapter``) and declares ``CHAPTER`` (:class:`~hepnb.chapters.base.Chapter`). The CLI, Binder's
postBuild, the book tests and ``bench/`` iterate :func:`all_chapters`: adding a chapter edits
nothing here.
"""

from __future__ import annotations

import importlib
import pkgutil

from hepnb.chapters.base import Chapter

__all__ = ["Chapter", "all_chapters", "get", "names"]


def names() -> list[str]:
    """Names of the chapter packages, in book order."""
    return [c.name for c in all_chapters()]


def all_chapters() -> list[Chapter]:
    """Every registered chapter, in book order."""
    found = []
    for mod in pkgutil.iter_modules(__path__):
        if mod.ispkg:
            chapter = getattr(importlib.import_module(f"{__name__}.{mod.name}"), "CHAPTER", None)
            if isinstance(chapter, Chapter):
                found.append(chapter)
    return sorted(found, key=lambda c: (c.order, c.name))


def get(name: str) -> Chapter:
    """The chapter called ``name`` (an unknown name lists the chapters)."""
    for chapter in all_chapters():
        if chapter.name == name:
            return chapter
    raise KeyError(f"unknown chapter {name!r}; chapters: {names()}")
