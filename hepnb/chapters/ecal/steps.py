"""What the ECal notebooks call: sample, streams, summaries, models, training, evaluation.

The events never sit in memory together: :func:`plan` cuts every multiplicity's files into
blocks of ``cfg.block`` events and draws train/validation/test blocks (seeded, per class);
:func:`loaders` streams them through :class:`hepnb.stream.EventStream` (training blocks of all
classes interleaved in a shuffling buffer) into the batch builders of
:mod:`~hepnb.chapters.ecal.batches`. The small per-event numbers the baselines and the studies
need (energy sum, scintillator clusters, truth separation and acceptance) are collected in one
streamed pass, :func:`summaries`.

Every event's trigger-scintillator response is drawn once, with a generator seeded by the run
seed, the file and the block, so an event has the same fired bars in every epoch, stream and
summary — and the same response model applies to simulated and real files
(:mod:`~hepnb.chapters.ecal.trigscint`; a file with ``TrigScintRecHits`` uses its own bars).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree
from scipy.stats import poisson
from torch import nn

from hepnb import evaluate, io, runs, stream
from hepnb import train as _train
from hepnb.chapters import base
from hepnb.chapters.ecal import batches, reader, schema, sim, trigscint
from hepnb.chapters.ecal.config import MODELS, ECalConfig
from hepnb.models.cnn3d import CNN3d
from hepnb.models.cnn_rnn import FrameCNNRNN
from hepnb.models.gnn import EdgeConvNet
from hepnb.models.rnn import HitRNN

__all__ = [
    "BASELINES",
    "DATA_FIELDS",
    "Evaluation",
    "Trained",
    "baselines",
    "build_model",
    "evaluate_all",
    "loaders",
    "plan",
    "predictions",
    "read_unit",
    "sample",
    "summaries",
    "train",
]

log = logging.getLogger(__name__)

#: Fields the sample depends on.
SAMPLE_FIELDS = ("seed", "n_events", "multiplicities", "pass_name")
#: Fields of every step downstream of the sample (the real files or the simulation, the
#: blocks, the split and the scintillator response).
DATA_FIELDS = (
    "data_path",
    "seed",
    "n_events",
    "multiplicities",
    "pass_name",
    "max_events",
    "block",
)
#: Fields a trained model depends on besides the data (epochs resume the same folder).
MODEL_FIELDS = ("model", "grid", "trigscint", "max_hits", "batch_size", "lr", "buffer_size")
#: The classical counting methods every model stands beside.
BASELINES = ("energy sum", "TS clusters", "energy + TS likelihood")
PREDICTIONS = "predictions.npz"


# --- sample and streams --------------------------------------------------------------------


def sample(cfg: ECalConfig) -> dict[int, list[Path]]:
    """Files of each electron multiplicity: the real ones of ``cfg.data_path``, or the
    simulated sample (one file per multiplicity, generated once into ``sample-<key>/``)."""
    cfg.save()
    if cfg.data_path:
        return reader.resolve_sources(cfg.data_path, cfg.multiplicities)
    folder = base.ensure_sample(
        cfg,
        lambda path: sim.write_sample(
            path, cfg.n_events, cfg.seed, tuple(cfg.multiplicities), pass_name=cfg.pass_name
        ),
        SAMPLE_FIELDS,
    )
    return {n: [Path(folder) / f"ecal_{n}e.root"] for n in cfg.multiplicities}


def plan(cfg: ECalConfig) -> dict[str, list[stream.Unit]]:
    """Train / validation / test blocks of events (labels = class index of
    ``cfg.multiplicities``), drawn per class with ``cfg.seed``."""
    files = sample(cfg)
    return stream.plan(
        {i: files[n] for i, n in enumerate(cfg.multiplicities)},
        schema.TREE,
        block=cfg.block,
        seed=cfg.seed,
        max_entries=cfg.max_events or None,
    )


def read_unit(
    unit: stream.Unit,
    *,
    pass_name: str = schema.DEFAULT_PASS,
    seed: int = 0,
    truth: bool = True,
) -> Iterator[ak.Array]:
    """The events of a block, with their fired scintillator bars ``ts_bars`` (drawn with a
    generator seeded by ``seed``, the file name and the block start); ``truth=False`` skips
    the ECal scoring-plane truth (what the models never see)."""
    rng = np.random.default_rng([seed, zlib.crc32(Path(unit.path).name.encode()), unit.start])
    for chunk in reader.read_chunks(
        unit.path,
        pass_name,
        entry_start=unit.start,
        entry_stop=unit.stop,
        step_size=unit.stop - unit.start,
        collections=None if truth else ("ecal", "ts", "ts_rec"),
    ):
        yield ak.with_field(chunk, trigscint.fired_bars(chunk, rng), "ts_bars")


def builder(cfg: ECalConfig) -> batches.Builder:
    """The batch transform of ``cfg.model``."""
    return batches.Builder(cfg.model, cfg.grid, cfg.trigscint, cfg.max_hits)


def streams(cfg: ECalConfig, *, shuffle_train: bool = True) -> dict[str, stream.EventStream]:
    """``train``/``val``/``test`` streams of ``cfg.model``'s batches (training shuffled)."""
    units = plan(cfg)
    read = partial(read_unit, pass_name=cfg.pass_name, seed=cfg.seed, truth=False)
    make = builder(cfg)
    return {
        split: stream.EventStream(
            units[split],
            read,
            make,
            batch_size=cfg.batch_size,
            shuffle=shuffle_train and split == "train",
            buffer_size=cfg.buffer_size,
            seed=cfg.seed,
        )
        for split in ("train", "val", "test")
    }


def loaders(cfg: ECalConfig) -> dict[str, Any]:
    """DataLoaders of :func:`streams` (``cfg.num_workers`` workers read the training one)."""
    s = streams(cfg)
    return {
        split: stream.loader(st, num_workers=cfg.num_workers if split == "train" else 0)
        for split, st in s.items()
    }


# --- per-event summaries -------------------------------------------------------------------

_CELLS = cKDTree(schema.CELL_XY.reshape(-1, 2))
#: Cell pitch (flat-to-flat distance) [mm].
PITCH = float(np.sqrt(3.0) * schema.CELL_SIDE)


def in_acceptance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether points of the ECal front face (mm) lie within one cell pitch of a cell centre:
    on the sensors or in a gap between modules, not outside the ECal."""
    d, _ = _CELLS.query(np.column_stack([x, y]))
    return d <= PITCH


def _summary(events: ak.Array, labels: np.ndarray, mults: np.ndarray) -> dict[str, np.ndarray]:
    """The per-event numbers of :class:`Summaries` for a batch of events."""
    e = events.ecal
    labels = np.asarray(labels, np.int64)
    n = mults[labels]
    out = {
        "label": labels,
        "n": n,
        "energy": ak.to_numpy(ak.sum(e.energy, axis=1)).astype(np.float64),
        "n_hits": ak.to_numpy(ak.num(e)).astype(np.int64),
        "n_noise": ak.to_numpy(ak.sum(e.noise != 0, axis=1)).astype(np.int64),
        "ts_clusters": trigscint.count_clusters(events.ts_bars).astype(np.int64),
        "ts_bars": ak.to_numpy(ak.num(events.ts_bars)).astype(np.int64),
        "min_dist": np.full(len(n), np.nan),
        "outside": np.zeros(len(n), bool),
        "n_true": np.full(len(n), -1, np.int64),
    }
    if "truth" in events.fields:
        el = reader.beam_electrons(events.truth)
        n_true = ak.to_numpy(ak.num(el)).astype(np.int64)
        pairs = ak.combinations(el[["x", "y"]], 2)
        d = np.hypot(pairs["0"].x - pairs["1"].x, pairs["0"].y - pairs["1"].y)
        inside = in_acceptance(ak.to_numpy(ak.flatten(el.x)), ak.to_numpy(ak.flatten(el.y)))
        missed = ak.to_numpy(ak.any(ak.unflatten(~inside, ak.num(el)), axis=1))
        out |= {
            "min_dist": ak.to_numpy(ak.fill_none(ak.min(d, axis=1), np.nan)).astype(np.float64),
            # an electron off the ECal face, or one that never reached it
            "outside": missed | (n_true < n),
            "n_true": n_true,
        }
    return out


@dataclass
class Summaries:
    """Per-event numbers of each split: ``label`` (class index), ``n`` (electrons), ``energy``
    (ΣE, MeV), ``n_hits``, ``n_noise``, ``ts_clusters``, ``ts_bars``, ``min_dist`` (minimum
    transverse distance between beam electrons at the ECal face, mm; NaN for one electron or
    without truth), ``outside`` (an electron misses the ECal), ``n_true`` (beam electrons at
    the ECal face, −1 without truth), in stream order."""

    splits: dict[str, dict[str, np.ndarray]]
    multiplicities: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, split: str) -> dict[str, np.ndarray]:
        return self.splits[split]

    @property
    def has_truth(self) -> bool:
        """Whether the files carry ``EcalScoringPlaneHits`` (truth positions)."""
        return bool((self.splits["test"]["n_true"] >= 0).any())

    def counts(self) -> pd.DataFrame:
        """Events per split and multiplicity, and events with no ECal hit (kept as empty)."""
        rows = {}
        for split, s in self.splits.items():
            row = {f"{n} e": int((s["n"] == n).sum()) for n in self.multiplicities}
            row["no ECal hit"] = int((s["n_hits"] == 0).sum())
            rows[split] = row
        return pd.DataFrame(rows).T


def summaries(cfg: ECalConfig, progress: bool = True) -> Summaries:
    """The per-event numbers of every split (one streamed pass, cached in ``summary-<key>/``)."""
    st = runs.step(cfg, "summary", DATA_FIELDS)
    mults = np.asarray(cfg.multiplicities, np.int64)
    if not st.done:
        units = plan(cfg)
        read = partial(read_unit, pass_name=cfg.pass_name, seed=cfg.seed)

        fn = partial(_summary, mults=mults)
        arrays = {}
        for split in ("train", "val", "test"):
            for k, v in stream.scan(units[split], read, fn).items():
                arrays[f"{split}/{k}"] = v
        io.save_arrays(st / "summary.npz", **arrays)
        empty = {s: int((arrays[f"{s}/n_hits"] == 0).sum()) for s in ("train", "val", "test")}
        if any(empty.values()):
            log.warning("events with no ECal hit (kept as empty grids): %s", empty)
        st.finish(empty=empty)
    loaded = io.load_arrays(st / "summary.npz")
    splits: dict[str, dict[str, np.ndarray]] = {}
    for k, v in loaded.items():
        split, name = k.split("/", 1)
        splits.setdefault(split, {})[name] = v
    return Summaries(splits, tuple(cfg.multiplicities), st.info())


# --- models and training -------------------------------------------------------------------


def build_model(cfg: ECalConfig) -> nn.Module:
    """The network of ``cfg.model`` with ``len(cfg.multiplicities)`` outputs (logits), sized
    to train in minutes on a laptop CPU (see the chapter's README section for the timings)."""
    extra = builder(cfg).extra_features
    classes = len(cfg.multiplicities)
    if cfg.model == "cnn":
        if cfg.grid == "hex":  # (34, 36, 36): stride 4 in depth first, the layers being thin
            stride: Any = [(4, 2, 2), (2, 2, 2), (2, 2, 2)]
            return CNN3d(1, extra_features=extra, n_classes=classes, stride=stride)
        shape = (schema.N_LAYERS, schema.N_MODULES, schema.N_CELLS)
        return CNN3d(1, extra_features=extra, n_classes=classes, input_shape=shape)
    if cfg.model == "rnn":
        return HitRNN(len(batches.HIT_FEATURES), extra_features=extra, n_classes=classes)
    if cfg.model == "gnn":
        return EdgeConvNet(
            len(batches.HIT_FEATURES),
            hidden=32,
            layers=2,
            k=8,
            extra_features=extra,
            n_classes=classes,
        )
    if cfg.model == "cnn_rnn":
        return FrameCNNRNN(1, stride=(3, 2), extra_features=extra, n_classes=classes)
    raise ValueError(f"model={cfg.model!r}: expected one of {list(MODELS)}")


def n_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_step(cfg: ECalConfig) -> runs.Step:
    """The training folder of ``cfg.model`` (``<model>-<key>/``)."""
    return runs.step(cfg, cfg.model, DATA_FIELDS + MODEL_FIELDS)


@dataclass
class Trained:
    """A trained model: the network (best epoch), its history, size and training time."""

    name: str
    model: nn.Module
    history: _train.History
    parameters: int
    seconds: float
    path: Path


def train(cfg: ECalConfig, progress: bool = True) -> Trained:
    """Train ``cfg.model`` (resuming its checkpoint) on the streamed training split, selecting
    the epoch on the validation loss, and store its class probabilities on the validation and
    test splits (``predictions.npz``)."""
    st = model_step(cfg)
    epochs_before = st.info().get("epochs_run")
    _train.set_seed(cfg.seed)
    model = build_model(cfg)
    ld = loaders(cfg)
    history = base.train_step(
        cfg,
        model,
        {"train": ld["train"], "val": ld["val"]},
        st,
        params={"parameters": n_parameters(model)},
        loss="ce",
        progress=progress,
    )
    if epochs_before != len(history) or not (st / PREDICTIONS).exists():
        arrays = {}
        for split in ("val", "test"):
            start = time.perf_counter()
            p, y = _train.predict(model, ld[split], cfg.device)
            arrays[f"{split}/prob"] = p.astype(np.float32)
            arrays[f"{split}/y"] = y.astype(np.int64)
            arrays[f"{split}/seconds"] = np.array(time.perf_counter() - start)
        io.save_arrays(st / PREDICTIONS, **arrays)
    seconds = float(sum(r.get("seconds", 0.0) for r in history.records))
    return Trained(cfg.model, model.eval(), history, n_parameters(model), seconds, st.path)


def predictions(cfg: ECalConfig, progress: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """``{split: {"prob": (N, C), "y": (N,)}}`` of ``cfg.model`` (trained first if needed)."""
    st = model_step(cfg)
    if not (st.done and (st / PREDICTIONS).exists()):
        train(cfg, progress)
    out: dict[str, dict[str, np.ndarray]] = {}
    for k, v in io.load_arrays(st / PREDICTIONS).items():
        split, name = k.split("/", 1)
        out.setdefault(split, {})[name] = v
    return out


# --- baselines -----------------------------------------------------------------------------


def _nearest(values: np.ndarray, mults: Sequence[int]) -> np.ndarray:
    """Class index of the multiplicity nearest to ``values`` (electron counts)."""
    m = np.asarray(mults, np.float64)
    return np.argmin(np.abs(np.asarray(values, np.float64)[:, None] - m[None, :]), axis=1)


@dataclass(frozen=True)
class Likelihood:
    """The classical combination: P(n | ΣE, k) ∝ p(ΣE | n) · P(k | n) · π(n), with p(ΣE | n) a
    histogram of 100 MeV bins smoothed by a Gaussian of 250 MeV (about one electron's energy
    resolution) and P(k | n) the distribution of scintillator clusters k (0–6+), both counted
    on the training split (with a floor of 10⁻⁴ of the class's mass per bin, so that a value
    never seen in training does not veto a class)."""

    edges: np.ndarray
    log_energy: np.ndarray  # (C, bins)
    log_clusters: np.ndarray  # (C, 7)
    log_prior: np.ndarray  # (C,)

    @classmethod
    def fit(cls, s: Mapping[str, np.ndarray], n_classes: int, e_max: float) -> Likelihood:
        edges = np.arange(0.0, e_max + 100.0, 100.0)
        log_e: list[np.ndarray] = []
        log_k: list[np.ndarray] = []
        counts: list[int] = []
        for c in range(n_classes):
            sel = s["label"] == c
            h = np.histogram(np.clip(s["energy"][sel], 0, edges[-1] - 1), edges)[0]
            h = gaussian_filter1d(h.astype(np.float64), 2.5, mode="constant")
            k = np.bincount(np.clip(s["ts_clusters"][sel], 0, 6), minlength=7).astype(float)
            for arr, out in ((h, log_e), (k, log_k)):
                p = arr / max(arr.sum(), 1e-12)
                out.append(np.log(p + 1e-4 / len(p)))
            counts.append(int(sel.sum()))
        prior = np.asarray(counts, np.float64) / max(sum(counts), 1)
        return cls(edges, np.array(log_e), np.array(log_k), np.log(np.maximum(prior, 1e-12)))

    def log_posterior(self, s: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(N, C)`` unnormalised log posterior with the training prior."""
        b = np.clip(np.digitize(s["energy"], self.edges) - 1, 0, len(self.edges) - 2)
        k = np.clip(s["ts_clusters"], 0, 6)
        return self.log_energy[:, b].T + self.log_clusters[:, k].T + self.log_prior


def baselines(
    cfg: ECalConfig, summary: Summaries | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Log-posteriors ``(N, C)`` of the classical methods per split (``val``, ``test``):
    ``energy sum`` (ΣE / 4 GeV rounded), ``TS clusters`` (clusters of fired bars) — one-hot —
    and ``energy + TS likelihood`` (:class:`Likelihood`, fitted on the training split)."""
    s = summary or summaries(cfg)
    mults = cfg.multiplicities
    c = len(mults)
    lik = Likelihood.fit(s["train"], c, (max(mults) + 1.5) * schema.BEAM_ENERGY)
    out: dict[str, dict[str, np.ndarray]] = {}
    for split in ("val", "test"):
        d = s[split]
        eye = np.log(np.eye(c) + 1e-9)
        out[split] = {
            "energy sum": eye[_nearest(d["energy"] / schema.BEAM_ENERGY, mults)],
            "TS clusters": eye[_nearest(d["ts_clusters"], mults)],
            "energy + TS likelihood": lik.log_posterior(d),
        }
    return out


# --- evaluation ----------------------------------------------------------------------------


def poisson_prior(mults: Sequence[int] | np.ndarray, mu: float) -> np.ndarray:
    """P(n; μ) of a Poisson beam restricted to the multiplicities ``mults`` (normalised)."""
    target = poisson.pmf(np.asarray(mults), mu)
    return target / target.sum()


def poisson_weights(n: np.ndarray, mults: Sequence[int], mu: float) -> np.ndarray:
    """Per-event weights turning the sample's mix of multiplicities into a Poisson(μ) beam
    restricted to ``mults`` (events of a multiplicity share P(n; μ) / (its events))."""
    m = np.asarray(mults)
    target = poisson_prior(m, mu)
    count = np.array([(n == k).sum() for k in m], np.float64)
    per = np.divide(target, count, out=np.zeros_like(target), where=count > 0)
    order = np.argsort(m)
    return per[order[np.searchsorted(m[order], n)]]


@dataclass
class Evaluation:
    """Every method's counting on the test split (see :func:`evaluate_all`).

    Attributes:
        multiplicities: the electron counts of the classes.
        n: true count of each test event ``(N,)``.
        log_post: method → ``(N, C)`` log-probabilities on the test split (training prior).
        summary: the test split's per-event numbers (:class:`Summaries`).
        accuracy: accuracy of every method with bootstrap intervals, paired against the best
            baseline (:func:`hepnb.evaluate.accuracy`).
        poisson: the same on the Poisson(μ) mix, each method's decision re-weighted to that
            prior.
        undercount: rate of reading n electrons as n − 1 (events with n > min count).
        overcount: rate of reading n electrons as n + 1 (events with n < max count).
        inside / outside: accuracy on events whose electrons all hit the ECal / not (when the
            files carry the ECal scoring-plane truth).
        models: parameters, training time and accuracy of each trained model.
        reference: the strongest baseline on validation (the paired reference).
    """

    multiplicities: tuple[int, ...]
    n: np.ndarray
    log_post: dict[str, np.ndarray]
    summary: dict[str, np.ndarray]
    accuracy: evaluate.Accuracy
    poisson: evaluate.Accuracy
    undercount: evaluate.Accuracy
    overcount: evaluate.Accuracy
    inside: evaluate.Accuracy | None
    outside: evaluate.Accuracy | None
    models: pd.DataFrame
    reference: str
    mu: float

    def predicted(self, method: str, prior: np.ndarray | None = None) -> np.ndarray:
        """Predicted electron count of ``method`` (argmax, optionally under another prior)."""
        lp = self.log_post[method]
        if prior is not None:
            lp = lp + np.log(np.maximum(prior, 1e-300))
        return np.asarray(self.multiplicities)[np.argmax(lp, axis=1)]

    def confusion(self, method: str) -> pd.DataFrame:
        """Confusion matrix of ``method`` normalised per true count."""
        return evaluate.confusion_matrix(
            self.n, self.predicted(method), labels=list(self.multiplicities)
        )

    def by_distance(self, method: str, bins: Sequence[float]) -> evaluate.BinnedRate:
        """Accuracy in bins of the minimum transverse distance between electrons (mm), with
        Wilson intervals (events of more than one electron, truth needed)."""
        sel = np.isfinite(self.summary["min_dist"])
        correct = self.predicted(method) == self.n
        return evaluate.binned_rate(self.summary["min_dist"][sel], correct[sel], bins)


def _log_softmax(lp: np.ndarray) -> np.ndarray:
    lp = lp - lp.max(axis=1, keepdims=True)
    return lp - np.log(np.exp(lp).sum(axis=1, keepdims=True))


def evaluate_all(
    cfg: ECalConfig,
    models: Sequence[str] = MODELS,
    *,
    n_boot: int = 1000,
    progress: bool = True,
    record: bool = True,
) -> Evaluation:
    """Train (or load) each model of ``models`` and compare them with the baselines on the test
    split; the reference baseline is the most accurate one on the validation split. Records
    ``roc_accuracy``, ``roc_accuracy_poisson``, ``roc_undercount``, ``roc_overcount`` (and ``roc_accuracy_inside``
    / ``roc_accuracy_outside`` with truth), each with its ``_ci``, in ``metrics.json``."""
    s = summaries(cfg, progress)
    mults = tuple(cfg.multiplicities)
    m = np.asarray(mults)
    base_lp = baselines(cfg, s)
    val_lp = dict(base_lp["val"])
    test_lp = {k: _log_softmax(v) for k, v in base_lp["test"].items()}
    rows = []
    for name in models:
        mcfg = cfg.replace(model=name)
        t = train(mcfg, progress)
        probs = predictions(mcfg, progress)
        for split, lp in (("val", val_lp), ("test", test_lp)):
            if not np.array_equal(probs[split]["y"], s[split]["label"]):
                raise RuntimeError(
                    f"{name}: the {split} stream's labels differ from the summary's; "
                    "remove the run folder's summary and model steps and rerun"
                )
            lp[name] = np.log(np.maximum(probs[split]["prob"].astype(np.float64), 1e-12))
        rows.append(
            {
                "model": name,
                "parameters": t.parameters,
                "epochs": len(t.history),
                "training time (s)": t.seconds,
                "test inference (ms / event)": 1e3
                * float(probs["test"]["seconds"])
                / max(len(s["test"]["n"]), 1),
            }
        )
    n_val, n = s["val"]["n"], s["test"]["n"]
    val_acc = {b: float((m[np.argmax(val_lp[b], 1)] == n_val).mean()) for b in BASELINES}
    reference = max(val_acc, key=val_acc.__getitem__)
    methods = list(BASELINES) + list(models)
    pred = {k: m[np.argmax(test_lp[k], 1)] for k in methods}

    def score(
        truth: np.ndarray, sel: Any = slice(None), by: Mapping[str, np.ndarray] = pred, weight=None
    ) -> evaluate.Accuracy:
        """Every method's rate of predicting ``truth`` on the events ``sel``, paired."""
        return evaluate.accuracy(
            truth[sel],
            {k: v[sel] for k, v in by.items()},
            weight=weight,
            reference=reference,
            n_boot=n_boot,
            seed=cfg.seed,
        )

    acc = score(n)
    # the Poisson beam: reweight the events and move each decision to that prior
    train_prior = np.array([(s["train"]["n"] == k).mean() for k in mults])
    shift = np.log(poisson_prior(m, cfg.poisson_mu)) - np.log(np.maximum(train_prior, 1e-12))
    pois_pred = {k: m[np.argmax(test_lp[k] + shift, 1)] for k in methods}
    pois = score(n, by=pois_pred, weight=poisson_weights(n, mults, cfg.poisson_mu))
    under = score(n - 1, n > m.min())  # n read as n − 1
    over = score(n + 1, n < m.max())  # n read as n + 1
    inside = outside = None
    t_sum = s["test"]
    if s.has_truth:
        on_face = ~t_sum["outside"]
        inside = score(n, on_face) if on_face.sum() >= 2 else None
        outside = score(n, ~on_face) if (~on_face).sum() >= 2 else None
    table = pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()
    if rows:
        table["accuracy (%)"] = [100 * acc.value[methods.index(k)] for k in table.index]
    ev = Evaluation(
        mults,
        n,
        test_lp,
        t_sum,
        acc,
        pois,
        under,
        over,
        inside,
        outside,
        table,
        reference,
        cfg.poisson_mu,
    )
    if record:
        acc.record(cfg.run_dir, "roc_accuracy")
        pois.record(cfg.run_dir, "roc_accuracy_poisson")
        under.record(cfg.run_dir, "roc_undercount")
        over.record(cfg.run_dir, "roc_overcount")
        for key, part in (("roc_accuracy_inside", inside), ("roc_accuracy_outside", outside)):
            if part is not None:
                part.record(cfg.run_dir, key)
    return ev
