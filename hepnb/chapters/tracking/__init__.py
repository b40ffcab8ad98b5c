"""Track finding in a cylindrical tracker (Ariadne on BESIII).

Which hits of an event belong to which charged particle? A Hough transform (the classical
baseline, its binning tuned on validation events), TrackNETv2 (a recurrent network predicting
an ellipse on the next station, extending seeds station by station) and an Interaction Network
classifying the segments of a hit graph are compared by track efficiency, fake and duplicate
rates. The notebooks use ``from hepnb.chapters import tracking as chapter``: ``chapter.Config``
(:class:`TrackingConfig`) and the steps of :mod:`~hepnb.chapters.tracking.steps`;
:mod:`~hepnb.chapters.tracking.schema` holds the geometries and the file schemas,
:mod:`~hepnb.chapters.tracking.sim` the simulator, :mod:`~hepnb.chapters.tracking.reader` the
ROOT and BESIII-text readers, :mod:`~hepnb.chapters.tracking.hits` the hit and track tables,
:mod:`~hepnb.chapters.tracking.transforms` Ariadne's composable transformations,
:mod:`~hepnb.chapters.tracking.graph` the segment graph and track building from it,
:mod:`~hepnb.chapters.tracking.tracknet` TrackNETv2's sequences and track builder,
:mod:`~hepnb.chapters.tracking.hough` the Hough transform, :mod:`~hepnb.chapters.tracking.helix`
the helix fit and :mod:`~hepnb.chapters.tracking.display` the event display and figures.
"""

from __future__ import annotations

from pathlib import Path

from hepnb.chapters.base import Chapter, load_presets
from hepnb.chapters.tracking import (
    display,
    graph,
    helix,
    hits,
    hough,
    reader,
    schema,
    sim,
    tracknet,
    transforms,
)
from hepnb.chapters.tracking.config import METHODS, TrackingConfig
from hepnb.chapters.tracking.steps import (
    DATA_FIELDS,
    FRACTIONS,
    Evaluation,
    Found,
    HitEfficiency,
    Preprocessed,
    Trained,
    area_scale,
    build_model,
    compare_hits,
    differences,
    edge_scores,
    efficiency_vs,
    evaluate_all,
    events,
    features,
    filter_table,
    find_tracks,
    geometry,
    geometry_table,
    graph_report,
    helix_check,
    helix_table,
    hit_efficiency,
    n_parameters,
    preprocess,
    reconstructable,
    reconstructable_only,
    sample,
    scales,
    sequences,
    split_table,
    splits,
    station_radii,
    summary,
    threshold_scan,
    timing_table,
    train,
    truth_display,
    truth_tracks,
)

__all__ = [
    "CHAPTER",
    "DATA_FIELDS",
    "FRACTIONS",
    "METHODS",
    "Config",
    "Evaluation",
    "Found",
    "HitEfficiency",
    "Preprocessed",
    "TrackingConfig",
    "Trained",
    "area_scale",
    "build_model",
    "compare_hits",
    "differences",
    "display",
    "edge_scores",
    "efficiency_vs",
    "evaluate_all",
    "events",
    "features",
    "filter_table",
    "find_tracks",
    "geometry",
    "geometry_table",
    "graph",
    "graph_report",
    "helix",
    "helix_check",
    "helix_table",
    "hit_efficiency",
    "hits",
    "hough",
    "n_parameters",
    "preprocess",
    "reader",
    "reconstructable",
    "reconstructable_only",
    "sample",
    "scales",
    "schema",
    "sequences",
    "sim",
    "split_table",
    "splits",
    "station_radii",
    "summary",
    "threshold_scan",
    "timing_table",
    "tracknet",
    "train",
    "transforms",
    "truth_display",
    "truth_tracks",
]

#: The configuration the notebooks build from their parameters.
Config = TrackingConfig

CHAPTER = Chapter(
    name="tracking",
    title="Track finding (Ariadne, BESIII)",
    experiment="BESIII",
    order=4,
    notebooks=("explore_tracking", "preprocess_tracking", "train_tracking", "roc_tracking"),
    config=TrackingConfig,
    presets=load_presets(Path(__file__).with_name("presets.yaml")),
    headline="roc_track_efficiency",
    generate=(sim.add_args, sim.run),
)
