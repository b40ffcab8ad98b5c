"""TRT electron identification (ATLAS): electrons vs muons from transition radiation.

An LSTM reads the hits of a track in the Transition Radiation Tracker and is compared with the
classical high-threshold likelihood ``eProbHT`` and, on simulated samples, with the exact
likelihood ratio of the simulator. The notebooks use ``from hepnb.chapters import trt as
chapter``: ``chapter.Config`` (:class:`TRTConfig`) and the steps of
:mod:`hepnb.chapters.trt.steps`; :mod:`~hepnb.chapters.trt.schema` holds the ntuple schema and
detector constants, :mod:`~hepnb.chapters.trt.sim` the simulator,
:mod:`~hepnb.chapters.trt.reader` the reader and features, :mod:`~hepnb.chapters.trt.display`
the event display.
"""

from __future__ import annotations

from pathlib import Path

from hepnb.chapters.base import Chapter, load_presets
from hepnb.chapters.trt import display, likelihood, reader, schema, sim, steps
from hepnb.chapters.trt.config import TRTConfig
from hepnb.chapters.trt.display import TRTEventDisplay
from hepnb.chapters.trt.steps import (
    Prepared,
    build_model,
    dataset_step,
    load_model,
    load_prepared,
    load_scores,
    loaders,
    lstm_step,
    prepare,
    read_mc,
    sample,
    save_scores,
    scores_mapping,
    train,
)

__all__ = [
    "CHAPTER",
    "Config",
    "Prepared",
    "TRTConfig",
    "TRTEventDisplay",
    "build_model",
    "dataset_step",
    "display",
    "likelihood",
    "load_model",
    "load_prepared",
    "load_scores",
    "loaders",
    "lstm_step",
    "prepare",
    "read_mc",
    "reader",
    "sample",
    "save_scores",
    "schema",
    "scores_mapping",
    "sim",
    "steps",
    "train",
]

#: The configuration the notebooks build from their parameters.
Config = TRTConfig

CHAPTER = Chapter(
    name="trt",
    title="TRT electron identification (ATLAS)",
    experiment="ATLAS",
    order=1,
    notebooks=("explore_trt", "preprocess_trt", "train_trt", "roc_trt"),
    config=TRTConfig,
    presets=load_presets(Path(__file__).with_name("presets.yaml")),
    headline="roc_mc_rej90",
    generate=(sim.add_args, sim.run),
)
