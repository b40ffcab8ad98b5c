"""Electron counting in the LDMX electromagnetic calorimeter.

How many 4 GeV beam electrons (1–4) entered the LDMX Si–W ECal in one bunch, from its cell
energies and the trigger scintillator's bars. A 3D CNN, a masked GRU over hits, a GNN on a kNN
graph of hits and a CNN+RNN over layers are compared with the energy sum, the scintillator
cluster count and their likelihood combination. The notebooks use ``from hepnb.chapters import
ecal as chapter``: ``chapter.Config`` (:class:`ECalConfig`) and the steps of
:mod:`~hepnb.chapters.ecal.steps`; :mod:`~hepnb.chapters.ecal.schema` holds the geometry and
the ldmx-sw schema, :mod:`~hepnb.chapters.ecal.sim` the simulator,
:mod:`~hepnb.chapters.ecal.reader` the reader of ldmx-sw files,
:mod:`~hepnb.chapters.ecal.trigscint` the scintillator response,
:mod:`~hepnb.chapters.ecal.batches` what each model eats and
:mod:`~hepnb.chapters.ecal.display` the event display and figures.
"""

from __future__ import annotations

from pathlib import Path

from hepnb.chapters.base import Chapter, load_presets
from hepnb.chapters.ecal import batches, display, reader, schema, sim, trigscint
from hepnb.chapters.ecal.config import MODELS, ECalConfig
from hepnb.chapters.ecal.steps import (
    BASELINES,
    DATA_FIELDS,
    Evaluation,
    Summaries,
    Trained,
    baselines,
    build_model,
    builder,
    evaluate_all,
    loaders,
    n_parameters,
    plan,
    predictions,
    read_unit,
    sample,
    streams,
    summaries,
    train,
)

__all__ = [
    "BASELINES",
    "CHAPTER",
    "DATA_FIELDS",
    "MODELS",
    "Config",
    "ECalConfig",
    "Evaluation",
    "Summaries",
    "Trained",
    "baselines",
    "batches",
    "build_model",
    "builder",
    "display",
    "evaluate_all",
    "loaders",
    "n_parameters",
    "plan",
    "predictions",
    "read_unit",
    "reader",
    "sample",
    "schema",
    "sim",
    "streams",
    "summaries",
    "train",
    "trigscint",
]

#: The configuration the notebooks build from their parameters.
Config = ECalConfig

CHAPTER = Chapter(
    name="ecal",
    title="Electron counting in a calorimeter (LDMX)",
    experiment="LDMX",
    order=3,
    notebooks=("explore_ecal", "preprocess_ecal", "train_ecal", "roc_ecal"),
    config=ECalConfig,
    presets=load_presets(Path(__file__).with_name("presets.yaml")),
    headline="roc_accuracy",
    generate=(sim.add_args, sim.run),
)
