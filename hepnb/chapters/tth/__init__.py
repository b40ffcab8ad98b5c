"""ttH(H→bb) against tt+bb (ATLAS): a YAML-configured catalogue of classifiers.

ROOT ntuples of ATLAS's ttH(bb) analysis (tree ``nominal_Loose``, one file per process) are
converted to HDF5 by the configuration's feature list and named feature makers, validated,
and classified by an MLP, a residual MLP, Deep Sets, a transformer, a GNN and boosted trees;
the chosen network's score goes back into the ntuples as a friend tree. The notebooks use
``from hepnb.chapters import tth as chapter``: ``chapter.Config`` (:class:`TthConfig`) and
the steps of :mod:`~hepnb.chapters.tth.steps`; :mod:`~hepnb.chapters.tth.schema` holds the
ntuple schema and physics constants, :mod:`~hepnb.chapters.tth.sim` the simulator,
:mod:`~hepnb.chapters.tth.reader` the reader, :mod:`~hepnb.chapters.tth.features` the feature
makers, :mod:`~hepnb.chapters.tth.convert` the conversion and
:mod:`~hepnb.chapters.tth.display` the event display and figures.
"""

from __future__ import annotations

from pathlib import Path

from hepnb.chapters.base import Chapter, load_presets
from hepnb.chapters.tth import convert, display, features, reader, schema, sim
from hepnb.chapters.tth.config import MODELS, NEURAL_MODELS, TthConfig
from hepnb.chapters.tth.display import TthEventDisplay
from hepnb.chapters.tth.events import Events
from hepnb.chapters.tth.steps import (
    CONVERT_FIELDS,
    DATASET_FIELDS,
    NAMES,
    PROCESS_NAMES,
    TRAIN_FIELDS,
    Dataset,
    Trained,
    Trees,
    bdt,
    branch_table,
    build_model,
    choose,
    confusion,
    converted,
    dataset,
    events,
    export_onnx,
    importance,
    inject,
    jet_level,
    loaders,
    mbb_peak,
    model_scores,
    onnx_scorer,
    overtraining,
    read_with_friend,
    regions,
    report,
    samples,
    scores,
    sculpting,
    significance,
    significance_scan,
    split_table,
    train,
    train_all,
    training_table,
    validation_aucs,
)

#: The configuration the notebooks build from their parameters.
Config = TthConfig


def _convert(cfg: TthConfig, out: Path | None = None) -> Path:
    """``hepnb convert tth``: the configuration's conversion, to ``out`` or the run folder."""
    if out is None:
        return converted(cfg)
    return convert.convert_config(cfg, samples(cfg), Path(out))


__all__ = [
    "CHAPTER",
    "CONVERT_FIELDS",
    "DATASET_FIELDS",
    "MODELS",
    "NAMES",
    "NEURAL_MODELS",
    "PROCESS_NAMES",
    "TRAIN_FIELDS",
    "Config",
    "Dataset",
    "Events",
    "Trained",
    "Trees",
    "TthConfig",
    "TthEventDisplay",
    "bdt",
    "branch_table",
    "build_model",
    "choose",
    "confusion",
    "convert",
    "converted",
    "dataset",
    "display",
    "events",
    "export_onnx",
    "features",
    "importance",
    "inject",
    "jet_level",
    "loaders",
    "mbb_peak",
    "model_scores",
    "onnx_scorer",
    "overtraining",
    "read_with_friend",
    "reader",
    "regions",
    "report",
    "samples",
    "schema",
    "scores",
    "sculpting",
    "significance",
    "significance_scan",
    "sim",
    "split_table",
    "train",
    "train_all",
    "training_table",
    "validation_aucs",
]

CHAPTER = Chapter(
    name="tth",
    title="ttH(H→bb) against tt+bb (ATLAS)",
    experiment="ATLAS",
    order=5,
    notebooks=("explore_tth", "preprocess_tth", "train_tth", "roc_tth"),
    config=TthConfig,
    presets=load_presets(Path(__file__).with_name("presets.yaml")),
    headline="roc_auc",
    generate=(sim.add_args, sim.run),
    extras={"convert": _convert, "inspect": convert.inspect},
)
