"""What the tracking notebooks call: sample, splits, preprocessing, training, track finding,
evaluation.

The events are small (a BESIII event is a few hundred hits at most), so a split sits in memory
as one :class:`~hepnb.chapters.tracking.hits.Hits` table. Events are split 60/20/20 into
training, validation and test events with the run's seed; everything fitted — the coordinate
transforms, the graph-building cuts, the networks — sees only training events, everything
chosen — the Hough binning, the GNN's edge threshold — is chosen on validation events, and the
test events are only measured.

Cached step folders (see :func:`hepnb.runs.step`): ``sample-<key>`` (the simulated file),
``preprocess-<key>`` (the fitted chain as transform reprs, the cuts, the Hough table),
``tracknet-<key>`` and ``gnn-<key>`` (checkpoints), ``tracks-<key>`` (the tracks every method
found on the test events, with their timing).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.loader import DataLoader

from hepnb import evaluate, io, runs
from hepnb import train as _train
from hepnb.chapters import base
from hepnb.chapters.tracking import display, helix, hough, reader, schema, sim, tracknet, transforms
from hepnb.chapters.tracking import graph as _graph
from hepnb.chapters.tracking.config import TrackingConfig
from hepnb.chapters.tracking.hits import Hits, Tracks
from hepnb.models.interaction_network import InteractionNetwork
from hepnb.models.tracknet import TrackNETv2, tracknet_loss

__all__ = [
    "DATA_FIELDS",
    "FRACTIONS",
    "Evaluation",
    "Found",
    "Preprocessed",
    "Trained",
    "evaluate_all",
    "events",
    "features",
    "find_tracks",
    "geometry",
    "graph",
    "preprocess",
    "reconstructable",
    "sample",
    "splits",
    "station_radii",
    "train",
]

log = logging.getLogger(__name__)

#: Fields the simulated sample depends on.
SAMPLE_FIELDS = ("seed", "n_events", "geometry")
#: Fields of every step downstream of the sample (the file, the split).
DATA_FIELDS = ("data_path", "seed", "n_events", "geometry")
#: Fields of the preprocessing step (chain, cuts, Hough tuning on validation events).
PREP_FIELDS = (*DATA_FIELDS, "transforms", "cut_keep", "hough_n_phi", "hough_n_kappa")
#: Fields of each network besides the preprocessing (epochs resume the same folder).
MODEL_FIELDS = {
    "tracknet": ("train_filters", "tracknet_hidden", "alpha", "track_batch", "lr"),
    "gnn": ("gnn_hidden", "gnn_iterations", "batch_size", "lr"),
}
#: Fractions of events in the training, validation and test splits.
FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
#: Edge thresholds the GNN's track building is scanned over on validation events.
THRESHOLDS = np.round(np.arange(0.1, 0.951, 0.05), 2)


# --- sample, events, splits ----------------------------------------------------------------


def sample(cfg: TrackingConfig) -> list[Path]:
    """The event files: the real ones of ``cfg.data_path`` (ROOT or BESIII text), or the
    simulated ROOT file (made once per (seed, size, geometry) in ``sample-<key>/``)."""
    found = base.ensure_sample(
        cfg,
        lambda folder: sim.write_sample(
            Path(folder) / "tracking.root", cfg.n_events, cfg.geometry, cfg.seed
        ),
        SAMPLE_FIELDS,
    )
    if cfg.data_path:
        return list(found) if isinstance(found, list) else [Path(found)]
    return [Path(found) / "tracking.root"]


#: The sample read last in this process, and its splits by seed: every step asks for them.
_EVENTS: dict[tuple, Hits] = {}
_SPLITS: dict[tuple, dict[str, Hits]] = {}


def _events(cfg: TrackingConfig) -> tuple[tuple, Hits]:
    """The key of the sample's files (paths, modification times) and its events."""
    paths = sample(cfg)
    key = tuple((str(p), os.stat(p).st_mtime_ns) for p in paths)
    if key not in _EVENTS:
        _EVENTS.clear()
        _SPLITS.clear()
        _EVENTS[key] = reader.read(paths if len(paths) > 1 else paths[0])
    return key, _EVENTS[key]


def events(cfg: TrackingConfig) -> Hits:
    """Every event of the sample, read once per process (a changed file is read again)."""
    return _events(cfg)[1]


def splits(cfg: TrackingConfig) -> dict[str, Hits]:
    """Training, validation and test events (60/20/20, drawn with ``cfg.seed``), made once
    per sample and seed in a process."""
    key, hits = _events(cfg)
    if (key, cfg.seed) in _SPLITS:
        return _SPLITS[key, cfg.seed]
    n = hits.n_events
    if n < 5:
        raise ValueError(f"{sample(cfg)}: {n} events; the split needs at least 5")
    order = np.random.default_rng(cfg.seed).permutation(n)
    n_train, n_val = round(FRACTIONS["train"] * n), round(FRACTIONS["val"] * n)
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    _SPLITS[key, cfg.seed] = {k: hits.select_events(np.sort(v)) for k, v in parts.items()}
    return _SPLITS[key, cfg.seed]


def geometry(cfg: TrackingConfig) -> schema.Geometry:
    """The detector of ``cfg.geometry`` (field, reconstructability cut)."""
    return schema.geometry(cfg.geometry)


def station_radii(hits: Hits) -> np.ndarray:
    """``(S,)`` radius of each station (mm): the median hit radius, read from the data so the
    methods run on any detector's events."""
    r = np.hypot(hits["x"], hits["y"])
    st = hits["station"]
    if not len(st):
        raise ValueError("station_radii: no hits")
    n = int(st.max()) + 1
    radii = np.array([np.median(r[st == s]) if (st == s).any() else np.nan for s in range(n)])
    if np.isnan(radii).any():
        raise ValueError(f"stations {np.flatnonzero(np.isnan(radii)).tolist()} have no hit")
    return radii


#: Which particles count for the efficiency (hits on enough stations, pT above the cut).
reconstructable = schema.reconstructable


def reconstructable_only(hits: Hits, geom: schema.Geometry) -> Hits:
    """``hits`` with the hits of particles that are not reconstructable relabelled as noise
    (``track = −1``): what the graph cuts are fitted on, so that a few curling or very soft
    particles — whose segments bend by 100 times more — do not open the cuts for all."""
    part = hits.particle_index()
    rec = reconstructable(hits, geom)
    keep = (part >= 0) & rec[np.maximum(part, 0)] if len(rec) else np.zeros(len(hits), bool)
    return hits.with_columns(track=np.where(keep, hits["track"], -1))


# --- preprocessing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocessed:
    """What the preprocessing step fitted and chose.

    Attributes:
        chain: the coordinate transforms, fitted on the training events.
        cuts: the graph-building cuts, fitted on the training events' true segments.
        hough: the Hough parameters chosen on the validation events, and the scan table.
        radii: ``(S,)`` station radii (mm) of the training events.
        step: the step folder.
    """

    chain: transforms.Transform
    cuts: _graph.GraphCuts
    hough: hough.HoughParams
    hough_scan: pd.DataFrame
    radii: np.ndarray
    step: runs.Step


def _prep_step(cfg: TrackingConfig) -> runs.Step:
    return runs.step(cfg, "preprocess", PREP_FIELDS)


def preprocess(cfg: TrackingConfig) -> Preprocessed:
    """Fit the transforms and the graph cuts on the training events and tune the Hough
    transform on the validation events (cached in ``preprocess-<key>/``)."""
    st = _prep_step(cfg)
    if not st.done:
        parts = splits(cfg)
        chain = transforms.parse(list(cfg.transforms)).fit(parts["train"])
        cuts = _graph.GraphCuts.fit(
            reconstructable_only(parts["train"], geometry(cfg)), keep=cfg.cut_keep
        )
        radii = station_radii(parts["train"])
        params, scan = tune_hough(cfg, parts["val"], radii)
        io.atomic_write_json(
            st / "preprocess.json",
            {
                "transforms": transforms.to_config(chain),
                "cuts": dataclasses.asdict(cuts),
                "hough": params.to_dict(),
                "radii": radii.tolist(),
            },
        )
        with io.atomic_path(st / "hough_scan.csv") as tmp:
            scan.to_csv(tmp, index=False)
        st.finish()
    saved = json.loads((st / "preprocess.json").read_text())
    return Preprocessed(
        chain=transforms.parse(saved["transforms"]),
        cuts=_graph.GraphCuts(**saved["cuts"]),
        hough=hough.HoughParams.from_dict(saved["hough"]),
        hough_scan=pd.read_csv(st / "hough_scan.csv"),
        radii=np.asarray(saved["radii"]),
        step=st,
    )


def features(prep: Preprocessed, hits: Hits) -> np.ndarray:
    """``(H, 3)`` float32 node features: the chain's ``r, phi, z`` columns, one row per hit."""
    out = prep.chain(hits)
    if len(out) != len(hits):
        raise ValueError(
            "transforms: the coordinate chain dropped hits; put drops in train_filters, the "
            "chain must keep every hit"
        )
    return np.stack([out["r"], out["phi"], out["z"]], axis=1).astype(np.float32)


def graph(cfg: TrackingConfig, hits: Hits, prep: Preprocessed | None = None) -> _graph.Graph:
    """The segment graph of ``hits`` with the training events' cuts."""
    prep = prep or preprocess(cfg)
    return _graph.build_graph(hits, prep.cuts)


# --- the classical baseline ---------------------------------------------------------------


def _match(hits: Hits, tracks: Tracks) -> evaluate.TrackMatch:
    return evaluate.match_tracks(
        tracks.offsets, tracks.hits, hits.particle_index(), len(hits.particles["px"])
    )


def _rates(hits: Hits, rec: np.ndarray, tracks: Tracks) -> dict[str, float]:
    """Efficiency (over the particles ``rec`` marks), fake and duplicate rate of ``tracks``
    on ``hits``, and the figure of merit efficiency − fake − duplicate rate (``score``) by
    which the Hough binning and the GNN's edge threshold are chosen."""
    m = _match(hits, tracks)
    eff = float((m.particle_track[rec] >= 0).mean()) if rec.any() else 0.0
    n = max(len(tracks), 1)
    fake, dup = float(m.fake.sum() / n), float(m.duplicate.sum() / n)
    return {
        "efficiency": eff,
        "fake_rate": fake,
        "duplicate_rate": dup,
        "score": eff - fake - dup,
    }


def _score(hits: Hits, rec: np.ndarray, tracks: Tracks) -> float:
    return _rates(hits, rec, tracks)["score"]


def tune_hough(
    cfg: TrackingConfig, val: Hits, radii: np.ndarray
) -> tuple[hough.HoughParams, pd.DataFrame]:
    """The Hough binning (``hough_n_phi`` × ``hough_n_kappa``) with the best efficiency − fake
    rate − duplicate rate on the validation events."""
    geom = geometry(cfg)
    return hough.tune(
        val,
        radii,
        geom.b_field,
        {
            "n_phi": list(cfg.hough_n_phi),
            "n_kappa": list(cfg.hough_n_kappa),
            "pt_min": [geom.pt_min],
            "min_stations": [geom.min_stations],
        },
        partial(_score, val, reconstructable(val, geom)),
    )


# --- networks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trained:
    """A trained network: ``method``, the module (eval mode), its history, size and folder."""

    method: str
    model: torch.nn.Module
    history: _train.History
    n_parameters: int
    path: Path


def _model_step(cfg: TrackingConfig, method: str) -> runs.Step:
    if method not in MODEL_FIELDS:
        raise ValueError(f"method={method!r}: expected one of {sorted(MODEL_FIELDS)}")
    return runs.step(cfg, method, (*PREP_FIELDS, *MODEL_FIELDS[method]))


def build_model(
    cfg: TrackingConfig, method: str, prep: Preprocessed | None = None
) -> torch.nn.Module:
    """A fresh TrackNETv2 (``"tracknet"``) or Interaction Network (``"gnn"``) sized by ``cfg``.

    TrackNETv2 predicts the next hit as an offset from the current one in its (φ_rel, z)
    inputs, with semi-axes in units of 1 mm on the mean station (see :func:`scales`)."""
    if method == "tracknet":
        return TrackNETv2(
            input_features=3,
            hidden=cfg.tracknet_hidden,
            axis_scale=_per_mm(prep or preprocess(cfg)),
            centre_from=(1, 2),
        )
    if method == "gnn":
        return InteractionNetwork(
            node_features=3,
            edge_features=len(_graph.EDGE_FEATURES),
            hidden=cfg.gnn_hidden,
            n_iterations=cfg.gnn_iterations,
        )
    raise ValueError(f"method={method!r}: expected 'tracknet' or 'gnn'")


def n_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def sequences(cfg: TrackingConfig, hits: Hits, prep: Preprocessed) -> tracknet.TrackSequences:
    """TrackNETv2's sequences of ``hits``: the true tracks left by ``cfg.train_filters``, with
    targets from the third hit on (the builder extends two-hit seeds, so a prediction from a
    single hit is never used — and is neither trained nor measured)."""
    filters = transforms.parse(list(cfg.train_filters))
    feats = features(prep, hits)
    kept = filters(hits.with_columns(_row=np.arange(len(hits))))
    seqs = tracknet.sequences(kept.without("_row"), feats[kept["_row"]])
    # track building starts from two-hit seeds: the first prediction used is the third hit's
    seqs.y[:, 0, 2] = 0.0
    return seqs


def scales(prep: Preprocessed) -> dict[str, float]:
    """Physical size of one normalised unit of TrackNETv2's targets: ``phi`` (rad) and ``z``
    (mm), the latter read from the fitted chain (the slope of raw z against its feature)."""
    probe = Hits(
        {
            "event": np.zeros(2, np.int64),
            "x": np.full(2, float(prep.radii[0])),
            "y": np.zeros(2),
            "z": np.array([0.0, 100.0]),
            "station": np.zeros(2, np.int64),
            "track": np.full(2, -1),
        }
    )
    f = features(prep, probe)
    dz = float(f[1, 2] - f[0, 2])
    if not dz > 0:
        raise ValueError("transforms: the chain does not map z monotonically onto its feature")
    return {"phi": float(np.pi), "z": 100.0 / dz}


def _per_mm(prep: Preprocessed) -> tuple[float, float]:
    """One millimetre in TrackNETv2's normalised (φ_rel, z), φ as an arc at the mean station
    radius."""
    s = scales(prep)
    return 1.0 / (s["phi"] * float(np.mean(prep.radii))), 1.0 / s["z"]


def area_scale(prep: Preprocessed) -> float:
    """mm² of one unit² of TrackNETv2's (φ_rel, z) at the mean station radius: the unit of
    the loss's area term, so that α weighs an area in mm² (see
    :func:`hepnb.models.tracknet.tracknet_loss`)."""
    phi, z = _per_mm(prep)
    return 1.0 / (phi * z)


def _loaders(cfg: TrackingConfig, method: str, prep: Preprocessed) -> dict[str, Any]:
    parts = splits(cfg)
    out: dict[str, Any] = {}
    for split in ("train", "val"):
        shuffle = split == "train"
        if method == "tracknet":
            seqs = sequences(cfg, parts[split], prep)
            if not len(seqs):
                raise ValueError(
                    f"{split} events: no track is left by train_filters={cfg.train_filters}"
                )
            out[split] = tracknet.loader(
                seqs, cfg.track_batch, shuffle=shuffle, seed=cfg.seed, pad_to=len(prep.radii)
            )
        else:
            g = graph(cfg, parts[split], prep)
            data = [d for d in _graph.to_pyg(g, parts[split], features(prep, parts[split]))]
            data = [d for d in data if d.edge_index.shape[1] > 0]  # nothing to learn from
            generator = torch.Generator().manual_seed(cfg.seed)
            out[split] = DataLoader(
                data, batch_size=cfg.batch_size, shuffle=shuffle, generator=generator
            )
    return out


def _identity(out: torch.Tensor) -> torch.Tensor:
    return out


def train(cfg: TrackingConfig, method: str, progress: bool = True) -> Trained:
    """Train TrackNETv2 (``method="tracknet"``) or the Interaction Network (``"gnn"``) on the
    training events, keeping the epoch of lowest validation loss (resumes its checkpoint)."""
    prep = preprocess(cfg)
    st = _model_step(cfg, method)
    _train.set_seed(cfg.seed)
    model = build_model(cfg, method, prep)
    if method == "tracknet":
        loss: Any = partial(tracknet_loss, alpha=cfg.alpha, area_scale=area_scale(prep))
        score: Any = _identity
    else:
        loss, score = "bce", None
    history = base.train_step(
        cfg,
        model,
        _loaders(cfg, method, prep),
        st,
        params={"parameters": n_parameters(model)},
        loss=loss,
        score=score,
        progress=progress,
    )
    return Trained(method, model.eval(), history, n_parameters(model), st.path)


@dataclass(frozen=True)
class HitEfficiency:
    """TrackNETv2's ellipses on one split's true tracks: the fraction of true next hits
    inside (``"hit efficiency"``) and the mean ellipse area in mm² on the next station's
    cylinder (``"ellipse area"``), with event-bootstrap intervals, and the per-step table."""

    ratios: evaluate.Ratios
    per_step: pd.DataFrame

    @property
    def value(self) -> float:
        """The hit efficiency (fraction)."""
        return float(self.ratios.value[0])

    @property
    def area_mm2(self) -> float:
        """The mean ellipse area (mm²)."""
        return float(self.ratios.value[1])

    def display(self) -> pd.DataFrame:
        """Efficiency (%) and area (mm²) as ``value [lo, hi]``."""
        eff = self.ratios.display().iloc[:1]
        area = self.ratios.display(scale=1.0, unit="").iloc[1:]
        return pd.DataFrame(
            {f"TrackNETv2, {self.ratios.cl:.0%} CL": [eff.iloc[0, 0], area.iloc[0, 0]]},
            index=["hit efficiency (%)", "mean ellipse area (mm²)"],
        )

    def record(self, out_dir: str | os.PathLike, key: str) -> None:
        """Record ``key`` (the efficiency) and ``<key>_area_mm2`` under method ``tracknet``."""
        self.ratios.record(out_dir, key, {"hit efficiency": "tracknet"})
        self.ratios.record(out_dir, f"{key}_area_mm2", {"ellipse area": "tracknet"})


def hit_efficiency(cfg: TrackingConfig, split: str = "val", n_boot: int = 1000) -> HitEfficiency:
    """TrackNETv2's hit efficiency at its mean ellipse area on ``split``'s true tracks (those
    ``cfg.train_filters`` keep), each step predicted from the true hits before it."""
    prep = preprocess(cfg)
    hits = splits(cfg)[split]
    seqs = sequences(cfg, hits, prep)
    model = train(cfg, "tracknet", progress=False).model
    out = tracknet.hit_efficiency(model, seqs, scales=scales(prep), radii=prep.radii)
    steps = out["steps"]
    ev = steps["event"]
    n = np.bincount(ev, minlength=hits.n_events).astype(np.float64)
    ratios = evaluate.event_ratios(
        {
            "hit efficiency": (
                np.bincount(ev, weights=steps["inside"], minlength=hits.n_events),
                n,
            ),
            "ellipse area": (
                np.bincount(ev, weights=steps["area_mm2"], minlength=hits.n_events),
                n,
            ),
        },
        n_boot=n_boot,
        seed=cfg.seed,
    )
    per = pd.DataFrame(out["per_step"]).rename(
        columns={"step": "predicting station", "area_mm2": "area [mm²]"}
    )
    per["predicting station"] += 1
    return HitEfficiency(ratios, per.drop(columns="area").set_index("predicting station"))


# --- track finding -------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """Tracks one method found in a split's events, and the time it took.

    Attributes:
        tracks: the tracks (hit indices into the split's table).
        seconds: wall time of the finding (graph building and inference included).
        threshold: the GNN's edge threshold (chosen on validation events), else None.
    """

    tracks: Tracks
    seconds: float
    threshold: float | None = None


def _gnn_scores(
    model: torch.nn.Module, g: _graph.Graph, hits: Hits, prep: Preprocessed
) -> np.ndarray:
    """``(E,)`` edge probabilities of the Interaction Network on graph ``g`` of ``hits``."""
    data = _graph.to_pyg(g, hits, features(prep, hits))
    scores = np.zeros(len(g.src), np.float32)
    model.eval()
    with torch.no_grad():
        for batch in DataLoader(data, batch_size=256):
            if batch.edge_index.shape[1]:
                scores[batch.edge_id.numpy()] = torch.sigmoid(model(batch)).numpy()
    return scores


#: Quantile of the validation tracks' ellipse areas above which TrackNETv2 searches no hit.
MAX_AREA_QUANTILE = 0.999


def max_ellipse_area(cfg: TrackingConfig, model: torch.nn.Module, prep: Preprocessed) -> float:
    """The largest ellipse (π·a₀·a₁, normalised units²) TrackNETv2 searches: the
    :data:`MAX_AREA_QUANTILE` quantile of its ellipses on the validation events' true tracks.
    A seed of noise hits is a prefix unlike any training track; its ellipse comes out large
    and would catch a random hit."""
    seqs = sequences(cfg, splits(cfg)["val"], prep)
    areas = tracknet.hit_efficiency(model, seqs)["steps"]["area"]
    return float(np.quantile(areas, MAX_AREA_QUANTILE)) if len(areas) else float("inf")


def _tracknet_tracks(
    model: torch.nn.Module,
    hits: Hits,
    g: _graph.Graph,
    prep: Preprocessed,
    geom: schema.Geometry,
    max_area: float,
) -> Tracks:
    """TrackNETv2's tracks: the graph's first-station segments as seeds, extended station by
    station through the predicted ellipses no larger than ``max_area``."""
    first = hits["station"][g.src] == 0
    seeds = np.stack([g.src[first], g.dst[first]], axis=1)
    tracks, _ = tracknet.build_tracks(
        model,
        hits,
        features(prep, hits),
        seeds,
        n_stations=len(prep.radii),
        min_hits=max(3, min(geom.min_stations, len(prep.radii))),
        max_area=max_area,
    )
    return tracks


def _gnn_tracks(g: _graph.Graph, scores: np.ndarray, thr: float, geom: schema.Geometry) -> Tracks:
    return _graph.tracks_from_edges(g, scores, thr, min_hits=max(2, geom.min_stations))


def threshold_scan(cfg: TrackingConfig) -> pd.DataFrame:
    """Efficiency, fake and duplicate rates of the GNN's tracks on the validation events at
    each edge threshold of :data:`THRESHOLDS`, and their figure of merit
    (efficiency − fake − duplicate rate) by which the threshold is chosen."""
    prep = preprocess(cfg)
    val = splits(cfg)["val"]
    geom = geometry(cfg)
    g = graph(cfg, val, prep)
    scores = _gnn_scores(train(cfg, "gnn", progress=False).model, g, val, prep)
    rec = reconstructable(val, geom)
    return pd.DataFrame(
        [
            {"threshold": float(thr), **_rates(val, rec, _gnn_tracks(g, scores, float(thr), geom))}
            for thr in THRESHOLDS
        ]
    )


def _tracks_step(cfg: TrackingConfig) -> runs.Step:
    fields = sorted({*PREP_FIELDS, *(f for v in MODEL_FIELDS.values() for f in v), "epochs"})
    return runs.step(cfg, "tracks", fields)


def find_tracks(cfg: TrackingConfig) -> tuple[dict[str, Found], pd.DataFrame]:
    """The tracks of the Hough transform, TrackNETv2 and the GNN on the test events, with the
    wall time of each, and the validation scan that chose the GNN's edge threshold (cached in
    ``tracks-<key>/``)."""
    st = _tracks_step(cfg)
    if not st.done:
        prep = preprocess(cfg)
        nets = {m: train(cfg, m, progress=False).model for m in ("tracknet", "gnn")}
        scan = threshold_scan(cfg)
        thr = float(scan.loc[scan["score"].idxmax(), "threshold"])
        max_area = max_ellipse_area(cfg, nets["tracknet"], prep)
        hits = splits(cfg)["test"]
        geom = geometry(cfg)
        found: dict[str, Tracks] = {}
        seconds: dict[str, float] = {}

        start = time.perf_counter()
        found["hough"] = hough.find_tracks(hits, prep.radii, geom.b_field, prep.hough)
        seconds["hough"] = time.perf_counter() - start

        # one segment graph gives TrackNETv2 its seeds and the GNN its edges: its building
        # time counts for both
        start = time.perf_counter()
        g = graph(cfg, hits, prep)
        graph_seconds = time.perf_counter() - start

        start = time.perf_counter()
        found["tracknet"] = _tracknet_tracks(nets["tracknet"], hits, g, prep, geom, max_area)
        seconds["tracknet"] = graph_seconds + time.perf_counter() - start

        start = time.perf_counter()
        found["gnn"] = _gnn_tracks(g, _gnn_scores(nets["gnn"], g, hits, prep), thr, geom)
        seconds["gnn"] = graph_seconds + time.perf_counter() - start

        arrays = {}
        for m, t in found.items():
            arrays[f"{m}/offsets"], arrays[f"{m}/hits"] = t.offsets, t.hits
        io.save_arrays(st / "tracks.npz", **arrays)
        with io.atomic_path(st / "threshold_scan.csv") as tmp:
            scan.to_csv(tmp, index=False)
        st.finish(seconds=seconds, threshold=thr, max_area=max_area)
    info = st.info()
    arrays = io.load_arrays(st / "tracks.npz")
    out = {
        m: Found(
            Tracks(arrays[f"{m}/offsets"], arrays[f"{m}/hits"]),
            float(sec),
            info["threshold"] if m == "gnn" else None,
        )
        for m, sec in info["seconds"].items()
    }
    return out, pd.read_csv(st / "threshold_scan.csv")


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Every figure of the test events.

    Attributes:
        report: efficiency, fake and duplicate rates of every method with event-bootstrap
            intervals (paired between methods).
        found: the tracks of every method.
        matches: their matching to particles.
        hits: the test events.
        reconstructable: ``(P,)`` the reconstructable particles.
        ms_per_event: wall time per event of each method (ms).
        hit_efficiency: TrackNETv2's ellipses on the test tracks.
        threshold_scan: the validation scan of the GNN's edge threshold.
        geometry: the geometry's name; b_field: its field (T).
    """

    report: evaluate.TrackingReport
    found: dict[str, Found]
    matches: dict[str, evaluate.TrackMatch]
    hits: Hits
    reconstructable: np.ndarray
    ms_per_event: dict[str, float]
    hit_efficiency: HitEfficiency
    threshold_scan: pd.DataFrame
    geometry: str
    b_field: float


def evaluate_all(cfg: TrackingConfig, n_boot: int = 1000) -> Evaluation:
    """Match every method's test tracks to the particles and bootstrap the rates over events."""
    hits = splits(cfg)["test"]
    found, scan = find_tracks(cfg)
    geom = geometry(cfg)
    rec = reconstructable(hits, geom)
    matches = {m: _match(hits, f.tracks) for m, f in found.items()}
    report = evaluate.tracking_report(
        matches,
        {m: f.tracks.event(hits) for m, f in found.items()},
        hits.particles["event"],
        rec,
        hits.n_events,
        n_boot=n_boot,
        seed=cfg.seed,
    )
    ms = {m: 1e3 * f.seconds / max(hits.n_events, 1) for m, f in found.items()}
    return Evaluation(
        report,
        found,
        matches,
        hits,
        rec,
        ms,
        hit_efficiency(cfg, "test", n_boot),
        scan,
        cfg.geometry,
        geom.b_field,
    )


# --- tables the notebooks show -------------------------------------------------------------


def geometry_table(geom: schema.Geometry) -> pd.DataFrame:
    """The detector of a geometry, one row per station: radius, half-length (mm)."""
    return pd.DataFrame(
        {"radius [mm]": geom.radii, "half-length [mm]": geom.half_length},
        index=pd.RangeIndex(len(geom.radii), name="station"),
    ).assign(
        **{
            "B [T]": geom.b_field,
            "σ_rφ [mm]": geom.sigma_rphi,
            "σ_z [mm]": geom.sigma_z,
            "efficiency": geom.efficiency,
            "X/X0": geom.x0,
        }
    )


def summary(hits: Hits, geom: schema.Geometry) -> pd.Series:
    """Events, hits, particles, noise and loopers of a sample (per event where it says)."""
    n_st, n_hits = schema.particle_stations(hits)
    rec = reconstructable(hits, geom)
    n = max(hits.n_events, 1)
    return pd.Series(
        {
            "events": hits.n_events,
            "hits / event": len(hits) / n,
            "noise hits / event": float((hits["track"] < 0).sum()) / n,
            "particles / event": len(n_st) / n,
            "reconstructable / event": float(rec.sum()) / n,
            "particles with a repeated station (loopers)": int((n_hits > n_st).sum()),
            f"particles on < {geom.min_stations} stations": int((n_st < geom.min_stations).sum()),
        },
        name="sample",
    ).round(3)


def split_table(parts: Mapping[str, Hits], geom: schema.Geometry) -> pd.DataFrame:
    """:func:`summary` of each split, side by side."""
    return pd.concat({k: summary(v, geom) for k, v in parts.items()}, axis=1)


def truth_tracks(hits: Hits) -> Tracks:
    """Every particle's hits as a track (ordered by station): the perfect track finder."""
    part = hits.particle_index()
    order = np.lexsort((hits["station"], part))
    order = order[part[order] >= 0]
    _, counts = np.unique(part[order], return_counts=True)
    return Tracks(np.concatenate([[0], np.cumsum(counts)]), order)


def truth_display(hits: Hits, geom: schema.Geometry, n_max: int = 200) -> Any:
    """The event display of the first ``n_max`` events with the true tracks."""
    shown = hits.select_events(np.arange(min(n_max, hits.n_events)))
    tracks = truth_tracks(shown)
    return display.TrackingEventDisplay(
        shown, {"truth": tracks}, {"truth": _match(shown, tracks)}, reconstructable(shown, geom)
    )


def helix_check(hits: Hits, geom: schema.Geometry) -> pd.DataFrame:
    """Per particle with hits on 3 or more stations and no repeated station: the true pT
    (GeV), the radius R = pT/(0.3B) it predicts and the radius of the circle fitted to its
    hits and the beam line (mm)."""
    n_st, n_hits = schema.particle_stations(hits)
    tracks = truth_tracks(hits)
    keep = (n_st >= 3) & (n_hits == n_st)
    part = hits.particle_index()
    ids = part[tracks.hits[tracks.offsets[:-1]]] if len(tracks) else np.zeros(0, np.int64)
    sel = keep[ids]
    lengths = tracks.lengths[sel]
    sub = Tracks(np.concatenate([[0], np.cumsum(lengths)]), tracks.hits[sel[tracks.track_of_entry]])
    fit = helix.fit_tracks(
        sub.offsets, sub.hits, hits["x"], hits["y"], hits["z"], geom.b_field, through_origin=True
    )
    p = hits.particles
    pt = np.hypot(p["px"], p["py"])[ids[sel]]
    return pd.DataFrame(
        {
            "pt [GeV]": pt,
            "R predicted [mm]": schema.radius_of_curvature(pt, geom.b_field),
            "R fitted [mm]": fit["radius"],
        }
    ).assign(**{"R fitted / R predicted": lambda d: d["R fitted [mm]"] / d["R predicted [mm]"]})


def compare_hits(a: Hits, b: Hits) -> pd.DataFrame:
    """Events, hits and the largest coordinate difference (mm) of two tables of the same
    events (e.g. a ROOT sample and its text copy read back)."""
    same = len(a) == len(b)
    diff = (
        max(float(np.abs(a[c] - b[c]).max(initial=0.0)) for c in ("x", "y", "z"))
        if same
        else np.nan
    )
    return pd.DataFrame(
        {
            "events": [a.n_events, b.n_events],
            "hits": [len(a), len(b)],
            "max |Δx|, |Δy|, |Δz| [mm]": [0.0, diff],
        },
        index=["original", "read back"],
    )


def filter_table(hits: Hits, cfg: TrackingConfig) -> pd.DataFrame:
    """True tracks left after each of ``cfg.train_filters`` in turn (cumulative)."""
    rows = []

    def n_tracks(h: Hits) -> int:
        t = h["track"] >= 0
        return len(np.unique(np.stack([h["event"][t], h["track"][t]], axis=1), axis=0))

    current = hits
    rows.append({"transform": "(all particles with hits)", "tracks": n_tracks(current)})
    for spec in cfg.train_filters:
        current = transforms.parse(spec)(current)
        rows.append({"transform": spec, "tracks": n_tracks(current)})
    out = pd.DataFrame(rows).set_index("transform")
    out["fraction"] = (out["tracks"] / max(out["tracks"].iloc[0], 1)).round(4)
    return out


@dataclass(frozen=True)
class GraphReport:
    """Edge efficiency and purity of the segment graph on each split, with event-bootstrap
    intervals (figures ``"efficiency/<split>"`` and ``"purity/<split>"``)."""

    ratios: evaluate.Ratios
    splits: tuple[str, ...]

    def display(self) -> pd.DataFrame:
        """One row per split: efficiency and purity as ``value [lo, hi]`` in percent."""
        text = self.ratios.display().iloc[:, 0]
        return pd.DataFrame(
            {
                f"edge {f} (%), {self.ratios.cl:.0%} CL": [text[f"{f}/{s}"] for s in self.splits]
                for f in ("efficiency", "purity")
            },
            index=pd.Index(self.splits, name="split"),
        )

    def record(self, out_dir: str | os.PathLike, prefix: str) -> None:
        """Record ``<prefix>_edge_efficiency`` and ``<prefix>_edge_purity`` (split → value)."""
        for f in ("efficiency", "purity"):
            self.ratios.record(out_dir, f"{prefix}_edge_{f}", {f"{f}/{s}": s for s in self.splits})


def graph_report(cfg: TrackingConfig, n_boot: int = 1000) -> GraphReport:
    """Edge efficiency (true segments of reconstructable particles kept / all of them) and
    purity (such segments / edges) of the segment graph built with the training events'
    cuts, per split. Segments of particles that count for no efficiency (curlers, particles
    below the pT cut) count as neither."""
    prep = preprocess(cfg)
    figures: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    parts = splits(cfg)
    geom = geometry(cfg)
    for name, hits in parts.items():
        rec_only = reconstructable_only(hits, geom)
        c = _graph.graph_counts(graph(cfg, rec_only, prep), hits.n_events)
        figures[f"efficiency/{name}"] = (c["true_kept"], c["true_all"])
        figures[f"purity/{name}"] = (c["true_kept"], c["kept"])
    # splits hold different events: resample each split's events on their own
    ratios = [
        evaluate.event_ratios(
            {k: v for k, v in figures.items() if k.endswith(f"/{name}")},
            n_boot=n_boot,
            seed=cfg.seed,
        )
        for name in parts
    ]
    merged = evaluate.Ratios(
        names=tuple(n for r in ratios for n in r.names),
        value=np.concatenate([r.value for r in ratios]),
        samples=np.concatenate([r.samples for r in ratios]),
    )
    return GraphReport(merged, tuple(parts))


def edge_scores(cfg: TrackingConfig, split: str = "val") -> dict[str, Any]:
    """The Interaction Network's edge scores on ``split``'s segment graph: ``score`` (E,),
    truth ``y`` (E,) and the area under the ROC curve ``auc``."""
    prep = preprocess(cfg)
    hits = splits(cfg)[split]
    g = graph(cfg, hits, prep)
    scores = _gnn_scores(train(cfg, "gnn", progress=False).model, g, hits, prep)
    y = g.y.astype(np.int64)
    auc = evaluate.auc(y, scores) if 0 < y.sum() < len(y) else float("nan")
    return {"score": scores, "y": y, "auc": float(auc)}


def differences(result: Evaluation, reference: str = "hough") -> pd.DataFrame:
    """Every method's rates and its paired difference to ``reference`` (percentage points)."""
    return result.report.display(reference=reference)


def efficiency_vs(
    result: Evaluation, variable: str = "pt", bins: Any = None
) -> dict[str, evaluate.BinnedRate]:
    """Track efficiency of every method in bins of the reconstructable particles' ``pt``
    (GeV) or ``eta``, with binomial 68 % intervals."""
    p = result.hits.particles
    pt = np.hypot(p["px"], p["py"])
    if variable == "pt":
        x = pt
        default = np.quantile(pt[result.reconstructable], np.linspace(0, 1, 9))
    elif variable == "eta":
        x = np.arcsinh(p["pz"] / np.where(pt > 0, pt, np.nan))
        default = np.linspace(-2.5, 2.5, 11) if result.geometry == "silicon" else None
        if default is None:
            lim = float(np.nanmax(np.abs(x[result.reconstructable]), initial=1.0))
            default = np.linspace(-lim, lim, 9)
    else:
        raise ValueError(f"variable={variable!r}: expected 'pt' or 'eta'")
    edges = np.unique(np.asarray(default if bins is None else bins, np.float64))
    if bins is None:  # the largest value sits on the last edge: keep it inside
        edges[-1] = np.nextafter(edges[-1], np.inf)
    rec = result.reconstructable
    return {
        m: evaluate.binned_rate(x[rec], match.particle_track[rec] >= 0, edges)
        for m, match in result.matches.items()
    }


@dataclass(frozen=True)
class HelixTable:
    """The helix fit of every method's matched tracks: ``table`` (per method: tracks fitted,
    pT resolution as the 68 % half-width of (pT_fit − pT_true)/pT_true, its median bias and
    the fraction of correct charges) and ``residuals`` (method → the relative residuals)."""

    table: pd.DataFrame
    residuals: dict[str, np.ndarray]


def helix_table(result: Evaluation) -> HelixTable:
    """Fit a helix to every matched track of every method (beam-line constrained circle in
    x–y, straight line in s–z) and compare its pT and charge with the matched particle's."""
    hits, p = result.hits, result.hits.particles
    rows, residuals = [], {}
    for m, found in result.found.items():
        t, match = found.tracks, result.matches[m]
        fit = helix.fit_tracks(
            t.offsets,
            t.hits,
            hits["x"],
            hits["y"],
            hits["z"],
            result.b_field,
            through_origin=True,
        )
        ok = match.matched & fit["valid"]
        part = match.majority[ok]
        true_pt = np.hypot(p["px"], p["py"])[part]
        res = helix.resolution(fit["pt"][ok], true_pt)
        residuals[m] = res
        q16, q50, q84 = np.quantile(res, [0.16, 0.5, 0.84]) if len(res) else (np.nan,) * 3
        rows.append(
            {
                "method": m,
                "matched tracks fitted": int(ok.sum()),
                "σ(pT)/pT (68 % half-width)": (q84 - q16) / 2,
                "median bias": q50,
                "charge correct": float((fit["charge"][ok] == p["charge"][part]).mean())
                if ok.any()
                else np.nan,
            }
        )
    return HelixTable(pd.DataFrame(rows).set_index("method").round(4), residuals)


def timing_table(result: Evaluation) -> pd.DataFrame:
    """Wall time per test event of each method (ms), and the number of tracks it found."""
    return pd.DataFrame(
        {
            "ms / event": {m: round(v, 3) for m, v in result.ms_per_event.items()},
            "tracks": {m: len(f.tracks) for m, f in result.found.items()},
        }
    ).rename_axis("method")
