"""The ttH chapter's steps: sample → conversion → dataset → models → evaluation → friend trees.

Every step takes the chapter's configuration (:class:`~hepnb.chapters.tth.config.TthConfig`)
and keeps its outputs in a cached step folder of the run folder, keyed by the configuration
fields it depends on (:func:`hepnb.runs.step`):

* ``sample-<key>/`` (``n_events``, ``seed``): ``tth_signal.root`` and ``tth_background.root``
  (skipped with ``data_path``);
* ``convert-<key>/`` (:data:`CONVERT_FIELDS`): ``tth.h5``, the YAML-driven conversion;
* ``dataset-<key>/`` (:data:`DATASET_FIELDS`): the split (indices into the converted events,
  stratified by process) and the input scaler fitted on the training events;
* ``train-<key>/`` (:data:`TRAIN_FIELDS` and the model's name): checkpoints, MLflow store and
  the ONNX export of each network; ``bdt-<key>/`` the boosted trees;
* ``inject-<key>/``: the friend trees holding the chosen model's score for every ntuple entry.

Honest evaluation: every threshold, binning and model choice is made on the validation split
and applied to the test split; yields of a split are scaled to the full sample by the inverse
of its fraction.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from sklearn.ensemble import HistGradientBoostingClassifier
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hepnb import evaluate, export, io
from hepnb import train as _train
from hepnb.chapters.base import ensure_sample, train_step
from hepnb.chapters.tth import convert, sim
from hepnb.chapters.tth.config import NEURAL_MODELS, TthConfig
from hepnb.chapters.tth.events import Events
from hepnb.chapters.tth.schema import (
    EVENT_NUMBER,
    HIGGS_MASS,
    PROCESSES,
    TREE,
    parse_region,
    region_label,
)
from hepnb.data import Scaler, batch_loader
from hepnb.data import split as split_indices
from hepnb.models.deepsets import DeepSets
from hepnb.models.jet_gnn import JetGNN
from hepnb.models.jet_transformer import JetTransformer
from hepnb.models.jets import JetLayout
from hepnb.models.mlp import MLP, WithProbabilities
from hepnb.models.resmlp import ResidualMLP
from hepnb.runs import Step, step

__all__ = [
    "CONVERT_FIELDS",
    "DATASET_FIELDS",
    "NAMES",
    "TRAIN_FIELDS",
    "Dataset",
    "Trained",
    "bdt",
    "build_model",
    "choose",
    "confusion",
    "converted",
    "dataset",
    "events",
    "export_onnx",
    "importance",
    "inject",
    "jet_level",
    "loaders",
    "overtraining",
    "read_with_friend",
    "regions",
    "report",
    "samples",
    "scores",
    "sculpting",
    "significance",
    "train",
    "train_all",
]

log = logging.getLogger(__name__)

#: Configuration fields the converted HDF5 file depends on.
CONVERT_FIELDS: tuple[str, ...] = (
    "data_path",
    "n_events",
    "seed",
    "weights",
    "luminosity",
    "n_jets",
    "features",
    "feature_makers",
)
#: ... the split and the scaler.
DATASET_FIELDS: tuple[str, ...] = (*CONVERT_FIELDS, "fractions", "normalisation")
#: ... a training, with the model's name (``epochs`` left out: more epochs resume).
TRAIN_FIELDS: tuple[str, ...] = (
    *DATASET_FIELDS,
    "balance",
    "hidden",
    "batch_size",
    "lr",
    "scheduler",
    "patience",
)
#: Raw validation background events a significance cut must keep, and a score bin of the binned
#: Asimov significance must hold: fewer make the figure a statement about the sample size.
MIN_BKG_EVENTS = 10
#: Process → its name in tables.
PROCESS_NAMES = {"signal": "ttH(H→bb)", "background": "tt+bb"}
#: Model name → the name shown in tables and plots.
NAMES = {
    "mlp": "MLP",
    "resmlp": "Residual MLP",
    "deepsets": "Deep Sets",
    "transformer": "Transformer",
    "gnn": "GNN",
    "bdt": "BDT",
}


# --- sample and conversion --------------------------------------------------------------------


def samples(cfg: TthConfig) -> dict[str, list[Path]]:
    """The ntuples of each process: ``data_path``'s files (globs expanded, in order), or the
    simulated ``tth_signal.root`` and ``tth_background.root`` made once per (``n_events``,
    ``seed``) in the ``sample`` step."""

    def simulate(folder: Path) -> None:
        sim.write_sample(folder, cfg.n_events, cfg.seed)

    src = ensure_sample(cfg, simulate, fields=("n_events", "seed"))
    if cfg.data_path:
        return {p: [Path(f) for f in np.atleast_1d(src[p])] for p in PROCESSES}
    return {p: [Path(src) / f"tth_{p}.root"] for p in PROCESSES}


def converted(cfg: TthConfig) -> Path:
    """The HDF5 file of the conversion (cached step ``convert``), driven by the
    configuration's ``features``, ``feature_makers``, ``weights``, ``luminosity`` and
    ``n_jets``: the same YAML file drives ``hepnb convert tth`` and the notebooks."""
    sources = samples(cfg)
    st = step(cfg, "convert", CONVERT_FIELDS)
    path = st / "tth.h5"
    if not (st.done and path.exists()):
        convert.convert_config(cfg, sources, path)
        st.finish(sources={k: [str(p) for p in v] for k, v in sources.items()})
    return path


@cache
def _load(path: Path, mtime: float) -> Events:
    return convert.load(path)


def events(cfg: TthConfig) -> Events:
    """The converted events of both processes (signal first), loaded once per process."""
    path = converted(cfg)
    return _load(path, path.stat().st_mtime)


def branch_table(path: str | Path) -> pd.DataFrame:
    """The branches of a file's ``nominal_Loose``: ROOT type name and uproot interpretation."""
    t = io.open_tree(Path(path), TREE)
    rows = {k: {"type": b.typename, "interpretation": str(b.interpretation)} for k, b in t.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"{Path(path).name}: branch")


def mbb_peak(ev: Events, name: str = "Mbb_MindR", window: float = 15.0) -> pd.DataFrame:
    """Where a b-pair mass peaks in each process: the mode of its weighted 5 GeV histogram
    (30–300 GeV), and the weighted fraction of events within ``window`` GeV of m_H."""
    bins = np.arange(30.0, 305.0, 5.0)
    rows = {}
    for p in PROCESSES:
        sub = ev.process(p)
        m = sub.column(name)
        h, _ = np.histogram(m, bins, weights=sub.weight)
        near = np.abs(m - HIGGS_MASS) < window
        rows[PROCESS_NAMES[p]] = {
            "mode (GeV)": float(bins[np.argmax(h)] + 2.5),
            f"fraction within ±{window:g} GeV of {HIGGS_MASS:g}": float(
                sub.weight[near].sum() / sub.weight.sum()
            ),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(name)


# --- dataset ----------------------------------------------------------------------------------


def _fit_scaler(ev: Events, kind: str) -> Scaler:
    """One scaler of the flat layout: each jet feature fitted over all real training jets and
    shared by the J jet slots, the mask columns untouched, each event feature on its own."""
    fit = Scaler.standard if kind == "standard" else Scaler.minmax
    layout = ev.layout
    sj = fit(ev.jets[ev.mask], ev.jet_features)
    n_ev = layout.n_event_features
    se = fit(ev.event, ev.event_features) if n_ev else None
    J = layout.n_jets
    offset = [np.tile(sj.offset, J), np.zeros(J)] + ([se.offset] if se else [])
    scale = [np.tile(sj.scale, J), np.ones(J)] + ([se.scale] if se else [])
    return Scaler(
        np.concatenate(offset), np.concatenate(scale), names=tuple(layout.names), kind=kind
    )


@dataclass
class Dataset:
    """The converted events with their split and scaler.

    Attributes:
        events: every converted event (:class:`~hepnb.chapters.tth.events.Events`).
        index: split (``train``/``val``/``test``) → row indices into ``events``.
        scaler: the flat input scaler (:meth:`scaled`), fitted on the training events.
        info: what the step recorded (counts, yields...).
        step: the cached step.
    """

    events: Events
    index: dict[str, np.ndarray]
    scaler: Scaler
    info: dict[str, Any]
    step: Step

    @property
    def layout(self) -> JetLayout:
        """The flat input layout of the models."""
        return self.events.layout

    def split(self, name: str) -> Events:
        """The events of one split."""
        return self.events.select(self.index[name])

    def raw(self, name: str) -> np.ndarray:
        """Unscaled model inputs ``(N, F)`` of a split (what the ONNX file takes)."""
        return self.split(name).flat()

    def scaled(self, name: str) -> np.ndarray:
        """Scaled model inputs ``(N, F)`` float32 of a split."""
        return self.scaler.transform(self.raw(name))

    def y(self, name: str) -> np.ndarray:
        """Labels ``(N,)`` (1 = ttH)."""
        return self.events.label[self.index[name]].astype(np.int64)

    def weight(self, name: str) -> np.ndarray:
        """Physics weights ``(N,)`` of a split (expected events in the full sample, once
        multiplied by :meth:`yield_scale`)."""
        return self.events.weight[self.index[name]]

    def yield_scale(self, name: str) -> float:
        """Σ weights of all events / Σ weights of the split's, per process averaged: what turns a
        split's weighted yield into that of the full sample (≈ 1 / fraction)."""
        return float(self.info["yield_scale"][name])

    def train_weight(self, name: str, balance: str) -> np.ndarray:
        """Training weights ``(N,)``: the physics weights, normalised to a mean of 1 (``"none"``)
        or so that each process has the same total (``"weight"``)."""
        w, y = self.weight(name), self.y(name)
        out = np.empty(len(w))
        if balance == "weight":
            for c in (0, 1):
                sel = y == c
                out[sel] = w[sel] / w[sel].sum() * len(w) / 2
        else:
            out = w / w.mean()
        return out.astype(np.float32)


def dataset(cfg: TthConfig) -> Dataset:
    """Split the converted events (cached step ``dataset``): train / validation / test in
    ``cfg.fractions``, stratified by process, seeded; the scaler fitted on the training events.

    Raises:
        ValueError: a split left without events of one process (the sample is too small).
    """
    ev = events(cfg)
    st = step(cfg, "dataset", DATASET_FIELDS)
    if st.done:
        stored = io.load_arrays(st / "split.npz")
        index = {k: stored[k] for k in ("train", "val", "test")}
        scaler = Scaler.load(st / "scaler.json", ev.layout.names)
        return Dataset(ev, index, scaler, st.info(), st)
    parts = split_indices(len(ev), cfg.fractions, cfg.seed, stratify=ev.label)
    counts: dict[str, dict[str, int]] = {}
    yields: dict[str, dict[str, float]] = {}
    scale: dict[str, float] = {}
    for name, idx in parts.items():
        lab, w = ev.label[idx], ev.weight[idx]
        counts[name] = {p: int((lab == c).sum()) for p, c in (("signal", 1), ("background", 0))}
        if min(counts[name].values()) == 0:
            raise ValueError(
                f"the {name} split has {counts[name]} events: a process is missing; use more "
                f"events (n_events) or other fractions ({cfg.fractions})"
            )
        yields[name] = {p: float(w[lab == c].sum()) for p, c in (("signal", 1), ("background", 0))}
        scale[name] = float(
            np.mean([ev.weight[ev.label == c].sum() / w[lab == c].sum() for c in (0, 1)])
        )
    scaler = _fit_scaler(ev.select(parts["train"]), cfg.normalisation)
    io.save_arrays(st / "split.npz", **parts)
    scaler.save(st / "scaler.json")
    st.finish(counts=counts, yields=yields, yield_scale=scale, n_events=len(ev))
    return Dataset(ev, parts, scaler, st.info(), st)


def split_table(ds: Dataset) -> pd.DataFrame:
    """Events and expected yields (full sample, at the configured luminosity) per split and
    process."""
    rows = {}
    for split in ("train", "val", "test"):
        for p in PROCESSES:
            rows[(split, PROCESS_NAMES[p])] = {
                "events": ds.info["counts"][split][p],
                "Σ weights": ds.info["yields"][split][p],
                "expected events (full sample)": ds.info["yields"][split][p]
                * ds.yield_scale(split),
            }
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(list(rows), names=["split", "process"])
    return df


# --- models and training ----------------------------------------------------------------------


def build_model(name: str, layout: JetLayout, hidden: int = 64) -> nn.Module:
    """A network of the catalogue (``book/tth/catalogue.md``) for the flat ``layout``."""
    if name == "mlp":
        return MLP(layout.n_features, hidden=hidden, n_layers=3)
    makers: dict[str, Callable[..., nn.Module]] = {
        "resmlp": ResidualMLP,
        "deepsets": DeepSets,
        "transformer": JetTransformer,
        "gnn": JetGNN,
    }
    if name not in makers:
        raise ValueError(f"model {name!r}: expected one of {list(NEURAL_MODELS)}")
    return makers[name](layout, hidden=hidden)


def loaders(ds: Dataset, batch_size: int, balance: str) -> dict[str, DataLoader]:
    """``{"train", "val"}`` loaders of ``(x (B, F) scaled, y (B,), w (B,))`` batches, ``w`` the
    training weights (:meth:`Dataset.train_weight`)."""
    out = {}
    for split, shuffle in (("train", True), ("val", False)):
        tensors = TensorDataset(
            torch.as_tensor(ds.scaled(split)),
            torch.as_tensor(ds.y(split), dtype=torch.float32),
            torch.as_tensor(ds.train_weight(split, balance)),
        )
        out[split] = batch_loader(tensors, batch_size=batch_size, shuffle=shuffle)
    return out


@dataclass
class Trained:
    """A trained network (the epoch of best validation AUC), its history and folder."""

    name: str
    model: nn.Module
    history: _train.History
    step: Step

    @property
    def onnx_path(self) -> Path:
        """Where :func:`export_onnx` writes it."""
        return self.step / f"tth_{self.name}.onnx"

    @property
    def n_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def train(cfg: TthConfig, name: str, ds: Dataset | None = None, progress: bool = False) -> Trained:
    """Train the network ``name`` for up to ``cfg.epochs`` epochs (cached step ``train``; a
    rerun resumes). Weighted binary cross-entropy with the training weights; the epoch kept,
    early stopping (``cfg.patience``) and the learning-rate schedule follow the validation AUC.
    """
    ds = ds or dataset(cfg)
    st = step(cfg, "train", TRAIN_FIELDS, extra={"model": name})
    _train.set_seed(cfg.seed)
    model = build_model(name, ds.layout, cfg.hidden)
    with _train.torch_threads(1):
        history = train_step(
            cfg,
            model,
            loaders(ds, cfg.batch_size, cfg.balance),
            st,
            params={"model": name, "n_train": len(ds.index["train"])},
            scheduler=None if cfg.scheduler == "none" else cfg.scheduler,
            early_stopping=cfg.patience,
            monitor="val_auc",
            progress=progress,
        )
    return Trained(name, model, history, st)


def train_all(cfg: TthConfig, ds: Dataset | None = None) -> dict[str, Trained]:
    """:func:`train` for every network of ``cfg.models``."""
    ds = ds or dataset(cfg)
    return {m: train(cfg, m, ds) for m in cfg.models if m in NEURAL_MODELS}


def _nan_padded(ds: Dataset, split: str) -> np.ndarray:
    """Raw inputs with the padded jets' features as NaN: missing values for the trees."""
    x = ds.raw(split)
    layout = ds.layout
    J, Fj = layout.n_jets, layout.n_jet_features
    mask = ds.split(split).mask
    jets = x[:, : J * Fj].reshape(len(x), J, Fj)
    jets[~mask] = np.nan
    return x


@dataclass
class Trees:
    """The boosted-tree baseline and its folder."""

    model: HistGradientBoostingClassifier
    step: Step
    columns: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """P(ttH) ``(N,)`` of NaN-padded raw inputs ``(N, F)``."""
        return self.model.predict_proba(x[:, self.columns])[:, 1]


def bdt(cfg: TthConfig, ds: Dataset | None = None) -> Trees:
    """scikit-learn's histogram gradient-boosted trees on the same inputs (raw, padded jets as
    missing values), the same training weights, early stopping on the validation split
    (cached step ``bdt``)."""
    ds = ds or dataset(cfg)
    st = step(cfg, "bdt", (*DATASET_FIELDS, "balance"))
    path = st / "bdt.pkl"
    if st.done and path.exists():
        with path.open("rb") as f:
            return Trees(pickle.load(f), st, np.asarray(st.info()["columns"]))
    x_train = _nan_padded(ds, "train")
    # a jet slot no training event fills (the tenth jet of a small sample) has nothing to cut
    finite = np.isfinite(x_train)
    varied = np.nanmax(np.where(finite, x_train, -np.inf), 0) > np.nanmin(
        np.where(finite, x_train, np.inf), 0
    )
    columns = np.flatnonzero(varied)
    model = HistGradientBoostingClassifier(
        max_iter=500,
        learning_rate=0.1,
        max_leaf_nodes=31,
        early_stopping=True,
        n_iter_no_change=20,
        random_state=cfg.seed,
    )
    model.fit(
        x_train[:, columns],
        ds.y("train"),
        sample_weight=ds.train_weight("train", cfg.balance),
        X_val=_nan_padded(ds, "val")[:, columns],
        y_val=ds.y("val"),
        sample_weight_val=ds.train_weight("val", cfg.balance),
    )
    with io.atomic_path(path) as tmp, tmp.open("wb") as f:
        pickle.dump(model, f)
    st.finish(n_iter=int(model.n_iter_), columns=columns.tolist())
    return Trees(model, st, columns)


def scores(
    cfg: TthConfig,
    ds: Dataset,
    trained: Mapping[str, Trained],
    trees: Trees | None = None,
    splits: Sequence[str] = ("val", "test"),
) -> dict[str, dict[str, np.ndarray]]:
    """P(ttH) of every model on each split: ``{split: {display name: (N,)}}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for split in splits:
        out[split] = {}
        for name, t in trained.items():
            out[split][NAMES[name]] = model_scores(ds, t, split)
        if trees is not None:
            out[split][NAMES["bdt"]] = trees(_nan_padded(ds, split))
    return out


def choose(cfg: TthConfig, ds: Dataset, scores_val: Mapping[str, np.ndarray]) -> str:
    """The model whose score is injected: ``cfg.inject``, or with ``"best"`` the network of
    highest weighted AUC on the **validation** split (the test split never chooses)."""
    if cfg.inject != "best":
        return cfg.inject
    nets = {NAMES[m]: m for m in cfg.models if m in NEURAL_MODELS}
    val = validation_aucs(ds, {k: v for k, v in scores_val.items() if k in nets})
    aucs = {nets[k]: a for k, a in val.items()}
    if not aucs:
        raise ValueError(f"inject='best': models={cfg.models} has no network to choose from")
    return max(aucs, key=aucs.__getitem__)


def validation_aucs(ds: Dataset, scores_val: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Weighted AUC of every model on the validation split."""
    return {k: evaluate.auc(ds.y("val"), s, ds.weight("val")) for k, s in scores_val.items()}


def training_table(trained: Mapping[str, Trained], trees: Trees | None = None) -> pd.DataFrame:
    """Per model: trainable parameters, epochs run, the epoch kept and its validation AUC (for
    the BDT: its boosting iterations, chosen by early stopping on the validation split)."""
    rows = {}
    for name, t in trained.items():
        h = t.history
        best = h.best_epoch if h.best_epoch is not None else len(h) - 1
        rows[NAMES[name]] = {
            "parameters": t.n_parameters,
            "epochs run": len(h),
            "epoch kept": best,
            "validation AUC": h.records[best]["val_auc"],
            "seconds per epoch": float(np.mean(h["seconds"])),
        }
    if trees is not None:
        n_iter = int(trees.model.n_iter_)
        rows[NAMES["bdt"]] = {"parameters": np.nan, "epochs run": n_iter, "epoch kept": n_iter}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def model_scores(ds: Dataset, trained: Trained, split: str) -> np.ndarray:
    """P(ttH) ``(N,)`` of one network on one split."""
    with torch.no_grad(), _train.torch_threads(1):
        logits = trained.model.cpu().eval()(torch.as_tensor(ds.scaled(split)))
    return torch.sigmoid(logits).numpy().astype(np.float64)


def onnx_scorer(
    cfg: TthConfig, ds: Dataset, trained: Trained
) -> Callable[[np.ndarray], np.ndarray]:
    """The network's ONNX file (exported if missing) as a function of raw inputs ``(N, F)``."""
    path = trained.onnx_path if trained.onnx_path.exists() else export_onnx(trained, ds)
    clf = export.OnnxClassifier(path, ds.layout.names)
    return lambda x: clf(x).astype(np.float64)


def export_onnx(trained: Trained, ds: Dataset) -> Path:
    """Export a network to ONNX in its training folder: raw flat inputs (``layout.names``; the
    scaling folded in) → P(ttH); ONNX Runtime checked against PyTorch on the test split."""
    wrapped = WithProbabilities(trained.model.cpu().eval(), ds.scaler.module())
    path = trained.onnx_path
    layout = ds.layout
    export.to_onnx(
        wrapped,
        path,
        layout.n_features,
        feature_names=layout.names,
        metadata={
            "model": trained.name,
            "output": "probability of ttH(H→bb) against tt+bb",
            "n_jets": layout.n_jets,
            "jet_features": list(layout.jet_features),
            "event_features": list(layout.event_features),
            "config": trained.step.config,
        },
    )
    export.check_parity(wrapped, path, ds.raw("test"), atol=1e-4)
    return path


# --- evaluation -------------------------------------------------------------------------------


def report(
    cfg: TthConfig, ds: Dataset, scores_test: Mapping[str, np.ndarray], reference: str = "BDT"
) -> evaluate.Report:
    """Weighted AUC and background rejection at 50 % and 70 % signal efficiency on the test
    split, with bootstrap intervals and paired differences to ``reference`` (the BDT; none if
    it was not trained)."""
    return evaluate.report(
        ds.y("test"),
        dict(scores_test),
        effs=(0.5, 0.7),
        weight=ds.weight("test"),
        seed=cfg.seed,
        reference=reference if reference in scores_test else None,
    )


def jet_level(cfg: TthConfig) -> TthConfig:
    """The same configuration on jet-level inputs only: the jet branches, no event features —
    what tells models that see the jets as a set from one that sees a list."""
    return cfg.replace(
        features=[f for f in cfg.features if f.startswith("jet_")], feature_makers=[]
    )


def regions(cfg: TthConfig, ev: Events) -> dict[str, np.ndarray]:
    """``{region: (N,) bool}`` for ``cfg.regions`` (``"6j4b"``: ≥ 6 jets, ≥ 4 b-tags at 70 %)."""
    return {r: ev.in_region(*parse_region(r)) for r in cfg.regions}


def significance(
    cfg: TthConfig,
    ds: Dataset,
    scores_val: Mapping[str, np.ndarray],
    scores_test: Mapping[str, np.ndarray],
    n_boot: int = 500,
) -> pd.DataFrame:
    """Per region and model: the cut maximising S/√(B + δB²) (δB = ``cfg.bkg_uncertainty``·B)
    chosen on the validation events of the region (at least ten raw background events
    passing), its test S, B, significance and Asimov significance with 68 % intervals, the
    region's significance without a cut, and the binned Asimov significance of the score
    distribution in ``cfg.asimov_bins`` bins of equal validation signal (merged from the top
    until each holds :data:`MIN_BKG_EVENTS` raw validation background events). Yields are expected
    events at ``cfg.luminosity`` (split weights × :meth:`Dataset.yield_scale`).

    Returns:
        Index ``(region, model)``; columns ``threshold``, ``S``, ``B``, ``significance``,
        ``asimov`` (each but the threshold with ``_lo``/``_hi``), ``significance_no_cut``,
        ``binned_asimov`` (no interval: resampling small bins biases it upwards, so its
        bootstrap percentiles need not contain it).
    """
    val, test = ds.split("val"), ds.split("test")
    reg_val, reg_test = regions(cfg, val), regions(cfg, test)
    sv, st_ = ds.yield_scale("val"), ds.yield_scale("test")
    rel = cfg.bkg_uncertainty
    rows = []
    for r in cfg.regions:
        mv, mt = reg_val[r], reg_test[r]
        y_t, w_t = test.label[mt], test.weight[mt] * st_
        no_cut = float(evaluate.significance(w_t[y_t == 1].sum(), w_t[y_t == 0].sum(), rel))
        for name in scores_test:
            wp = evaluate.significance_working_point(
                val.label[mv],
                scores_val[name][mv],
                val.weight[mv],
                y_t,
                scores_test[name][mt],
                test.weight[mt],
                rel_bkg_unc=rel,
                min_bkg_events=MIN_BKG_EVENTS,
                scale_val=sv,
                scale_test=st_,
                n_boot=n_boot,
                seed=cfg.seed,
            )
            edges = evaluate.equal_signal_bins(
                val.label[mv],
                scores_val[name][mv],
                val.weight[mv],
                cfg.asimov_bins,
                score_range=(0.0, 1.0),
                min_bkg_events=MIN_BKG_EVENTS,
            )
            za = evaluate.binned_asimov(
                y_t, scores_test[name][mt], w_t, bins=edges, rel_bkg_unc=rel
            )
            row = {"region": region_label(r), "model": name, "threshold": wp["threshold"]}
            for key, col in (("S", "S"), ("B", "B"), ("Z", "significance"), ("Z_A", "asimov")):
                row |= {col: wp[key], f"{col}_lo": wp[f"{key}_lo"], f"{col}_hi": wp[f"{key}_hi"]}
            row |= {"significance_no_cut": no_cut, "binned_asimov": za}
            rows.append(row)
    return pd.DataFrame(rows).set_index(["region", "model"])


def significance_scan(
    cfg: TthConfig, ds: Dataset, scores_val: np.ndarray, region: str
) -> pd.DataFrame:
    """S/√(B + δB²) and the Asimov significance against the cut, on the **validation** events
    of ``region`` (where :func:`significance` chooses the cut), yields scaled to the full
    sample."""
    val = ds.split("val")
    m = regions(cfg, val)[region]
    return evaluate.significance_scan(
        val.label[m],
        scores_val[m],
        val.weight[m] * ds.yield_scale("val"),
        rel_bkg_unc=cfg.bkg_uncertainty,
    )


def confusion(
    ds: Dataset, scores_val: np.ndarray, scores_test: np.ndarray
) -> tuple[pd.DataFrame, float]:
    """The weighted confusion matrix of the test split (normalised per true process) at the cut
    maximising Youden's J on the validation split; returns it and the cut."""
    wp = evaluate.working_points(
        ds.y("val"),
        scores_val,
        ds.y("test"),
        scores_test,
        criteria=("youden_j",),
        weight_val=ds.weight("val"),
        weight_test=ds.weight("test"),
        n_boot=10,
    )
    cut = float(wp["threshold"].iloc[0])
    labels = ["tt+bb", "ttH"]
    m = skm.confusion_matrix(
        ds.y("test"),
        (scores_test >= cut).astype(int),
        labels=[0, 1],
        sample_weight=ds.weight("test"),
        normalize="true",
    )
    idx = pd.Index(labels, name="true")
    return pd.DataFrame(m, index=idx, columns=pd.Index(labels, name="predicted")), cut


def overtraining(
    ds: Dataset, model: Callable[[str], np.ndarray]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Kolmogorov–Smirnov comparison of the training and test score distributions per process
    (:func:`hepnb.evaluate.overtraining`) for ``model(split) → scores``; also returns the
    arrays the plot needs."""
    arrays = {
        "s_train": model("train"),
        "y_train": ds.y("train"),
        "w_train": ds.weight("train"),
        "s_test": model("test"),
        "y_test": ds.y("test"),
        "w_test": ds.weight("test"),
    }
    return evaluate.overtraining(**arrays), arrays


def sculpting(
    ds: Dataset,
    scores_test: np.ndarray,
    threshold: float,
    variable: str = "Mbb_MindR",
    bins: Sequence[float] = tuple(np.linspace(0, 300, 16)),
) -> dict[str, Any]:
    """Does the cut ``score >= threshold`` shape the background's ``variable`` (m_bb)? Pass the
    signal-region cut :func:`significance` chose on validation events; the test background's
    normalised distribution before and after it is compared (:func:`hepnb.evaluate.sculpting`)."""
    test = ds.split("test")
    bkg = test.label == 0
    x = test.column(variable)[bkg]
    return {
        "threshold": float(threshold),
        "variable": variable,
        "unit": test.units.get(variable, ""),
        **evaluate.sculpting(
            x, scores_test[bkg], test.weight[bkg], float(threshold), np.asarray(bins)
        ),
    }


def importance(
    ds: Dataset, predict: Callable[[np.ndarray], np.ndarray], n_repeats: int = 3, seed: int = 0
) -> pd.DataFrame:
    """Permutation importance on the test split: each jet feature (its J columns together) and
    each event feature shuffled across events; the drop of the weighted AUC. ``predict`` takes
    raw flat inputs ``(N, F)``."""
    layout = ds.layout
    J, Fj = layout.n_jets, layout.n_jet_features
    groups: dict[str, list[int]] = {f: list(layout.jet_columns(f)) for f in layout.jet_features}
    first = J * Fj + J
    groups |= {f: [first + i] for i, f in enumerate(layout.event_features)}
    return evaluate.permutation_importance(
        predict,
        ds.raw("test"),
        ds.y("test"),
        ds.weight("test"),
        groups,
        n_repeats=n_repeats,
        seed=seed,
    )


# --- scores back into the ntuples --------------------------------------------------------------


def _split_code(ds: Dataset) -> np.ndarray:
    code = np.full(len(ds.events), -1, np.int8)
    for i, name in enumerate(("train", "val", "test")):
        code[ds.index[name]] = i
    return code


def inject(cfg: TthConfig, model: str, onnx_path: Path, ds: Dataset | None = None) -> dict:
    """Write the score of ``model`` (through its ONNX file) for every entry of every input
    ntuple as a friend tree: one new ROOT file per input file (the input is never rewritten),
    tree ``nominal_Loose`` with ``eventNumber``, ``score_<model>`` (float32 P(ttH)) and
    ``split`` (0 train, 1 validation, 2 test: only test entries give unbiased figures), one
    entry per input entry, in the same order.

    Returns:
        ``{process: [(input file, friend file), ...]}``.
    """
    ds = ds or dataset(cfg)
    st = step(cfg, "inject", TRAIN_FIELDS, extra={"model": model, "onnx": str(onnx_path)})
    ev = ds.events
    clf = export.OnnxClassifier(onnx_path, ds.layout.names)
    score = clf(ev.flat()).astype(np.float32)
    split = _split_code(ds)
    out: dict[str, list[tuple[Path, Path]]] = {}
    for label, process in ((1, "signal"), (0, "background")):
        files = [Path(f) for f in ev.files[process]]
        rows = np.flatnonzero(ev.label == label)
        out[process] = []
        for i, src in enumerate(files):
            sel = rows[ev.file_index[rows] == i]
            sel = sel[np.argsort(ev.entry[sel], kind="stable")]
            n_entries = io.open_tree(src, TREE).num_entries
            if len(sel) != n_entries:
                raise ValueError(
                    f"{src}: {n_entries} entries in {TREE} but {len(sel)} converted; the friend "
                    "tree must have one entry per input entry"
                )
            dest = st / f"{process}_{i:03d}_{src.stem}_scores.root"
            branches = {
                EVENT_NUMBER: ev.event_number[sel].astype(np.uint64),
                f"score_{model}": score[sel],
                "split": split[sel],
            }
            io.write_root(dest, {TREE: branches})
            out[process].append((src, dest))
    st.finish(model=model, friends={p: [str(d) for _, d in v] for p, v in out.items()})
    return out


def read_with_friend(source: Path, friend: Path, branches: Sequence[str] = ()) -> ak.Array:
    """Entries of ``source``'s ``nominal_Loose`` with the friend tree's branches beside them
    (uproot's equivalent of ROOT's ``TTree::AddFriend``), checked entry by entry on
    ``eventNumber``.

    Raises:
        ValueError: different numbers of entries, or an entry whose event numbers differ.
    """
    main = io.open_tree(source, TREE)
    fr = io.open_tree(friend, TREE)
    if main.num_entries != fr.num_entries:
        raise ValueError(
            f"{friend}: {fr.num_entries} entries, {source} has {main.num_entries}: not its friend"
        )
    a = main.arrays([EVENT_NUMBER, *branches])
    b = fr.arrays()
    bad = np.flatnonzero(a[EVENT_NUMBER].to_numpy() != b[EVENT_NUMBER].to_numpy())
    if len(bad):
        raise ValueError(
            f"{friend}: entry {bad[0]} has eventNumber {b[EVENT_NUMBER][bad[0]]}, {source} has "
            f"{a[EVENT_NUMBER][bad[0]]}: the trees are not aligned"
        )
    fields = {k: a[k] for k in a.fields} | {k: b[k] for k in b.fields if k != EVENT_NUMBER}
    return ak.zip(fields, depth_limit=1)
