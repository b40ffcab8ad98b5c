"""Ghost tracks (LHCb): telling real long tracks from fake combinations of hits.

A small MLP scores each track candidate of LHCb's forward or matching pattern recognition
with the features the trigger computes for it, and is compared with a BDT and a χ²/ndof cut
at 99 % real-track efficiency. The notebooks use ``from hepnb.chapters import ghost as
chapter``: ``chapter.Config`` (:class:`GhostConfig`) and the steps of
:mod:`~hepnb.chapters.ghost.steps`; :mod:`~hepnb.chapters.ghost.schema` holds the ntuple
schema and detector constants, :mod:`~hepnb.chapters.ghost.sim` the simulator (real
pattern recognition on simulated events), :mod:`~hepnb.chapters.ghost.reader` the reader and
:mod:`~hepnb.chapters.ghost.display` the event display and figures.
"""

from __future__ import annotations

from pathlib import Path

from hepnb.chapters.base import Chapter, load_presets
from hepnb.chapters.ghost import schema, sim
from hepnb.chapters.ghost.config import GhostConfig
from hepnb.chapters.ghost.display import (
    GhostEventDisplay,
    plot_features,
    plot_ghost_rates,
    plot_search,
)
from hepnb.chapters.ghost.reader import Ntuple, feature_names, read_ntuple
from hepnb.chapters.ghost.schema import LABELS, TREE
from hepnb.chapters.ghost.steps import (
    DATASET_FIELDS,
    DEFAULT_PARAMS,
    SEARCH_SPACE,
    Dataset,
    Trained,
    baseline_models,
    baselines,
    build_model,
    compare_with_lhcb,
    dataset,
    efficiencies,
    ensure_onnx,
    export_onnx,
    ghost_composition,
    ghost_origins,
    ghost_rate,
    ghost_rates,
    held_out,
    hyperparameters,
    int8_path,
    loaders,
    preselected,
    quantize,
    sample,
    samples,
    search,
    train,
    train_folder,
    working_points,
    working_points_record,
)

__all__ = [
    "CHAPTER",
    "DATASET_FIELDS",
    "DEFAULT_PARAMS",
    "LABELS",
    "SEARCH_SPACE",
    "TREE",
    "Config",
    "Dataset",
    "GhostConfig",
    "GhostEventDisplay",
    "Ntuple",
    "Trained",
    "baseline_models",
    "baselines",
    "build_model",
    "compare_with_lhcb",
    "dataset",
    "efficiencies",
    "ensure_onnx",
    "export_onnx",
    "feature_names",
    "ghost_composition",
    "ghost_origins",
    "ghost_rate",
    "ghost_rates",
    "held_out",
    "hyperparameters",
    "int8_path",
    "loaders",
    "plot_features",
    "plot_ghost_rates",
    "plot_search",
    "preselected",
    "quantize",
    "read_ntuple",
    "sample",
    "samples",
    "schema",
    "search",
    "sim",
    "train",
    "train_folder",
    "working_points",
    "working_points_record",
]

#: The configuration the notebooks build from their parameters.
Config = GhostConfig

CHAPTER = Chapter(
    name="ghost",
    title="Ghost tracks (LHCb)",
    experiment="LHCb",
    order=2,
    notebooks=("explore_ghost", "preprocess_ghost", "train_ghost", "roc_ghost"),
    config=GhostConfig,
    presets=load_presets(Path(__file__).with_name("presets.yaml")),
    headline="roc_rej99",
    generate=(sim.add_args, sim.run),
)
