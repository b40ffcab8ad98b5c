"""LHCb-like forward spectrometer with real pattern recognition, to make ghost tracks.

Ghost tracks are not drawn from hand-made distributions: they are what two pattern
recognition algorithms produce when they combine hits of different particles or noise.

* :mod:`.detector` — the settings (:class:`SimConfig`), the magnet and material model;
* :mod:`.generation` — particles, their decays and interactions, and their VELO and SciFi
  hits (:func:`propagate`);
* :mod:`.patrec` — VELO tracking, SciFi seeding, matching and forward (:func:`reconstruct`);
* :mod:`.fit` — the track fit, which gives χ², ndof and q/p;
* :mod:`.truth` — the LHCb ghost label (:func:`ghost_labels`): a candidate is real when one
  particle contributes ≥ 70% of its VELO hits *and* ≥ 70% of its SciFi hits;
* :mod:`.output` — samples (:func:`simulate`), ROOT files (:func:`generate`) with the Allen
  validator's tree of :mod:`~hepnb.chapters.ghost.schema`, and event records for displays
  (:func:`event_record`).
"""

from __future__ import annotations

from hepnb.chapters.ghost.sim.detector import SciFiHits, SimConfig, VeloHits
from hepnb.chapters.ghost.sim.fit import track_fit
from hepnb.chapters.ghost.sim.generation import Particles, generate_particles, propagate
from hepnb.chapters.ghost.sim.output import add_args, event_record, generate, run, simulate
from hepnb.chapters.ghost.sim.patrec import reconstruct
from hepnb.chapters.ghost.sim.truth import ghost_labels

__all__ = [
    "Particles",
    "SciFiHits",
    "SimConfig",
    "VeloHits",
    "add_args",
    "event_record",
    "generate",
    "generate_particles",
    "ghost_labels",
    "propagate",
    "reconstruct",
    "run",
    "simulate",
    "track_fit",
]
