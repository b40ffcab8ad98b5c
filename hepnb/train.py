"""The one training loop every chapter uses.

``fit`` trains any ``torch.nn.Module`` on loaders of batches. A batch is ``(x, y)`` or
``(x, y, w)`` where ``x`` is a tensor, a tuple of inputs (called as ``model(*x)``) or a dict
(``model(**x)``), ``y`` the targets and ``w`` per-example weights; a PyTorch Geometric
``Batch`` (anything with a ``.y``) is passed whole as ``model(batch)``.

Each epoch writes a checkpoint atomically (model, optimiser, scheduler, history, early-stopping
state); ``resume=True`` continues from it with nothing lost, and on CPU the resumed run is
bitwise identical to an uninterrupted one because every epoch reseeds the RNGs from
``seed + epoch``. Metrics go to MLflow (a sqlite store inside the run folder by default).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm.auto import tqdm

from hepnb._optional import require
from hepnb.io import atomic_path
from hepnb.runs import mlflow_uri

__all__ = ["History", "fit", "predict", "resolve_device", "set_seed", "torch_threads"]

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
BEST = "best_model.pt"


def set_seed(seed: int) -> None:
    """Seed Python, numpy's legacy global RNG (used by some libraries) and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding third-party users of the global RNG
    torch.manual_seed(seed)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous number: a network
    of a few thousand weights trains fastest on one thread (more only add synchronisation)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r}: expected 'auto', 'cpu' or 'cuda[:N]'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available here")
    return dev


@dataclass
class History:
    """Per-epoch training record: one dict per epoch with ``epoch train_loss val_loss val_auc
    train_acc val_acc lr seconds`` (``val_auc`` and the accuracies, weighted like the loss, for
    binary tasks only; NaN otherwise)."""

    records: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def to_frame(self):
        """The records as a pandas DataFrame indexed by epoch."""

        return pd.DataFrame(self.records).set_index("epoch") if self.records else pd.DataFrame()

    def __getitem__(self, key: str) -> list[float]:
        return [r.get(key, math.nan) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)


def _to(obj: Any, device: torch.device) -> Any:
    if hasattr(obj, "to") and not isinstance(obj, nn.Module):
        return obj.to(device)
    if isinstance(obj, tuple | list):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, Mapping):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def _unpack(batch: Any) -> tuple[Any, torch.Tensor, torch.Tensor | None]:
    if hasattr(batch, "y") and not isinstance(batch, tuple | list):
        return batch, batch.y, getattr(batch, "w", None)
    if isinstance(batch, tuple | list) and len(batch) in (2, 3):
        return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)
    raise TypeError(
        f"a batch must be (x, y), (x, y, w) or an object with .y; got {type(batch).__name__}"
    )


def _forward(model: nn.Module, x: Any) -> torch.Tensor:
    if isinstance(x, tuple | list):
        return model(*x)
    if isinstance(x, Mapping):
        return model(**x)
    return model(x)


LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def _loss(
    out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, kind: str | LossFn
) -> torch.Tensor:
    if callable(kind):
        return kind(out, y, w)
    if kind == "auto":
        kind = "bce" if out.dim() == 1 or out.shape[-1] == 1 else "ce"
    if kind == "bce":
        per = nn.functional.binary_cross_entropy_with_logits(
            out.reshape(-1), y.reshape(-1).float(), reduction="none"
        )
    elif kind == "ce":
        per = nn.functional.cross_entropy(out, y.long().reshape(-1), reduction="none")
    elif kind == "mse":
        per = ((out.reshape(y.shape) - y.float()) ** 2).reshape(len(y), -1).mean(1)
    else:
        raise ValueError(f"loss={kind!r}: expected 'auto', 'bce', 'ce' or 'mse'")
    if w is None:
        return per.mean()
    w = w.reshape(-1).to(per.dtype)
    return (per * w).sum() / w.sum().clamp_min(1e-12)


def _scores(out: torch.Tensor) -> torch.Tensor:
    if out.dim() == 1 or out.shape[-1] == 1:
        return torch.sigmoid(out.reshape(-1))
    return torch.softmax(out, dim=-1)


def _make_optimizer(name: str, params: Iterable, lr: float, weight_decay: float):
    table = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
        "rmsprop": torch.optim.RMSprop,
    }
    if name not in table:
        raise ValueError(f"optimizer={name!r}: expected one of {sorted(table)}")
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    return table[name](params, lr=lr, weight_decay=weight_decay, **kwargs)


def _make_scheduler(name: str | None, opt, epochs: int, mode: Literal["min", "max"] = "min"):
    if name in (None, "none"):
        return None
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=2)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    raise ValueError(f"scheduler={name!r}: expected None, 'plateau' or 'cosine'")


def _run_epoch(model, loader, device, loss_kind, opt=None, desc="", progress=True, score=None):
    """One pass over ``loader``; trains when ``opt`` is given.

    Returns:
        ``(mean loss, scores, y, accuracy)``: scores and y of a validation pass (None when
        training); accuracy (weighted like the loss) of the cut logit > 0 for one output per
        example and 0/1 targets, else NaN.
    """
    train = opt is not None
    model.train(train)
    total, count, scores, ys = 0.0, 0, [], []
    right, weight_sum, binary = 0.0, 0.0, True
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, unit="batch")
    with torch.set_grad_enabled(train):
        for batch in bar:
            x, y, w = _unpack(_to(batch, device))
            out = _forward(model, x)
            loss = _loss(out, y, w, loss_kind)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{desc}: loss is {loss.item()} — check the inputs for NaN/inf or lower lr"
                )
            if train:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            n = len(y)
            total += loss.item() * n
            count += n
            if binary:
                logit, target = out.detach().reshape(-1), y.detach().reshape(-1).float()
                binary = logit.shape == target.shape and bool(((target == 0) | (target == 1)).all())
                if binary:
                    bw = torch.ones_like(target) if w is None else w.detach().reshape(-1).float()
                    right += float((((logit > 0).float() == target).float() * bw).sum())
                    weight_sum += float(bw.sum())
            if not train:
                scores.append((score or _scores)(out.detach()).cpu())
                ys.append(y.detach().cpu())
            bar.set_postfix(loss=f"{total / max(count, 1):.4f}", refresh=False)
    if count == 0:
        raise ValueError(f"{desc}: the loader yielded no examples")
    acc = right / weight_sum if binary and weight_sum > 0 else math.nan
    if train:
        return total / count, None, None, acc
    return total / count, torch.cat(scores).numpy(), torch.cat(ys).numpy(), acc


def _binary_auc(scores: np.ndarray, y: np.ndarray) -> float:
    if scores.ndim != 1 or len(np.unique(y)) != 2:
        return math.nan

    return float(roc_auc_score(y, scores))


def _seed_epoch(seed: int, epoch: int) -> None:
    set_seed(seed * 1000 + epoch)


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def fit(
    model: nn.Module,
    loaders: Mapping[str, Iterable],
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    loss: str | LossFn = "auto",
    score: ScoreFn | None = None,
    scheduler: str | None = "plateau",
    early_stopping: int | None = 5,
    monitor: str = "val_loss",
    device: str | torch.device = "auto",
    out_dir: str | os.PathLike | None = None,
    resume: bool = True,
    seed: int = 0,
    mlflow: bool | str = True,
    experiment: str = "hepnb",
    params: Mapping[str, Any] | None = None,
    on_epoch_end: Sequence[Callable[[dict[str, float]], None]] = (),
    progress: bool = True,
) -> History:
    """Train ``model`` and return its :class:`History`; the weights of the best epoch (by
    ``monitor``: lowest validation loss by default) are loaded into ``model`` at the end.

    Args:
        model: any module; binary classifiers return logits ``(B,)`` or ``(B, 1)``.
        loaders: ``{"train": ..., "val": ...}`` iterables of batches (see module docstring).
        epochs: maximum number of epochs (a resumed run counts the epochs already done).
        lr, optimizer, weight_decay: optimiser settings (``adam``, ``adamw``, ``sgd``, ``rmsprop``).
        loss: ``auto`` (BCE-with-logits for one output, cross-entropy for several), ``bce``,
            ``ce``, ``mse``, or a callable ``loss(out, y, w) → scalar tensor`` (``w`` the batch
            weights or None), e.g. an ellipse loss or BCE with ``pos_weight``.
        score: ``score(out) → scores`` for the validation metrics and :func:`predict`
            (default: sigmoid of one output, softmax of several). ``val_auc`` is computed
            when the scores are one number per example and the targets binary.
        scheduler: ``plateau`` (halve lr when the monitored value stalls 2 epochs), ``cosine``
            or None.
        early_stopping: stop after this many epochs without improvement of the monitored value
            (None: never).
        monitor: the validation figure that selects the best epoch and drives early stopping
            and the plateau scheduler: ``"val_loss"`` (minimised) or ``"val_auc"`` (maximised;
            binary targets only) — select on the metric a search optimised.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``.
        out_dir: run folder for ``checkpoint.pt``, ``best_model.pt`` and ``mlflow.db``;
            None keeps everything in memory (no checkpoint, no MLflow).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        seed: fixes initial state of the loop (shuffling, dropout) per epoch.
        mlflow: True → sqlite store in ``out_dir``; a string → that tracking URI; False → off.
        experiment: MLflow experiment name.
        params: extra parameters to log (model sizes, sample sizes...).
        on_epoch_end: callbacks receiving each epoch's record (may raise to stop, e.g.
            ``optuna.TrialPruned``).
        progress: show tqdm bars (epochs and batches).
    """
    if "train" not in loaders or "val" not in loaders:
        raise ValueError(f"loaders: expected keys 'train' and 'val', got {sorted(loaders)}")
    if epochs < 1:
        raise ValueError(f"epochs={epochs}: expected a positive integer")
    if lr <= 0:
        raise ValueError(f"lr={lr}: expected a positive learning rate")
    if monitor not in ("val_loss", "val_auc"):
        raise ValueError(f"monitor={monitor!r}: expected 'val_loss' or 'val_auc'")
    sign = 1.0 if monitor == "val_loss" else -1.0  # the loop minimises sign × monitored value
    dev = resolve_device(device)
    set_seed(seed)
    model.to(dev)
    opt = _make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    sched = _make_scheduler(scheduler, opt, epochs, "min" if sign > 0 else "max")
    history = History()
    best_value, best_state, stale, start, run_id = math.inf, None, 0, 0, None
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / CHECKPOINT if out else None

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and ckpt_path is not None and ckpt_path.exists():
            state = torch.load(ckpt_path, map_location=dev, weights_only=False)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None and state.get("scheduler") is not None:
                sched.load_state_dict(state["scheduler"])
            history = state["history"]
            best_value = state.get("best_value", state.get("best_loss"))
            best_state, stale = state["best_state"], state["stale"]
            start, run_id = state["epoch"] + 1, state.get("mlflow_run_id")
            log.info("resumed from %s at epoch %d", ckpt_path, start)

    logger = _MlflowLogger(mlflow, out, experiment, run_id)
    logger.start(
        {
            "epochs": epochs,
            "lr": lr,
            "optimizer": optimizer,
            "weight_decay": weight_decay,
            "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", repr(loss)),
            "scheduler": scheduler,
            "early_stopping": early_stopping,
            "monitor": monitor,
            "seed": seed,
            "device": str(dev),
            "model": type(model).__name__,
            "n_parameters": sum(p.numel() for p in model.parameters()),
            **dict(params or {}),
        },
        resumed=start > 0,
    )
    try:
        bar = tqdm(
            range(start, epochs),
            desc="epochs",
            disable=not progress,
            unit="epoch",
            initial=start,
            total=epochs,
        )
        for epoch in bar:
            if history.stopped_early:
                break
            _seed_epoch(seed, epoch)
            t0 = time.perf_counter()
            train_loss, _, _, train_acc = _run_epoch(
                model, loaders["train"], dev, loss, opt, f"epoch {epoch} train", progress
            )
            val_loss, val_scores, val_y, val_acc = _run_epoch(
                model, loaders["val"], dev, loss, None, f"epoch {epoch} val", progress, score
            )
            rec = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_auc": _binary_auc(val_scores, val_y),
                "train_acc": train_acc,
                "val_acc": val_acc,
                "lr": opt.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t0,
            }
            history.records.append(rec)
            value = rec[monitor]
            if not math.isfinite(value):
                raise ValueError(
                    f"monitor={monitor!r} is {value} at epoch {epoch}: val_auc needs one score "
                    "per example and binary targets"
                )
            if sched is not None:
                sched.step(value) if scheduler == "plateau" else sched.step()
            if sign * value < best_value:
                best_value, stale, history.best_epoch = sign * value, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
            if early_stopping is not None and stale >= early_stopping:
                history.stopped_early = True
            bar.set_postfix(
                train=f"{train_loss:.4f}", val=f"{val_loss:.4f}", auc=f"{rec['val_auc']:.4f}"
            )
            logger.epoch(rec)
            if ckpt_path is not None:
                _save_checkpoint(
                    ckpt_path,
                    {
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict() if sched is not None else None,
                        "history": history,
                        "best_value": best_value,
                        "best_state": best_state,
                        "stale": stale,
                        "epoch": epoch,
                        "mlflow_run_id": logger.run_id,
                    },
                )
            for cb in on_epoch_end:
                cb(rec)
        if best_state is not None:
            model.load_state_dict(best_state)
        if out is not None and best_state is not None:
            _save_checkpoint(out / BEST, best_state)
        logger.finish(model, out / BEST if out is not None else None, history)
    except BaseException:
        logger.abort()
        raise
    return history


class _MlflowLogger:
    """Thin wrapper so that ``fit`` works with MLflow switched off or missing a run folder."""

    def __init__(self, mlflow: bool | str, out: Path | None, experiment: str, run_id: str | None):
        self.enabled = bool(mlflow) and (out is not None or isinstance(mlflow, str))
        self.uri = mlflow if isinstance(mlflow, str) else (mlflow_uri(out) if out else None)
        self.experiment, self.run_id, self.out = experiment, run_id, out
        self._ml: ModuleType | None = None

    def start(self, params: Mapping[str, Any], resumed: bool) -> None:
        if not self.enabled or self.uri is None:
            return
        mlflow = require("mlflow")

        for name in ("alembic", "mlflow"):  # keep notebooks free of database chatter
            logging.getLogger(name).setLevel(logging.WARNING)
        self._ml = mlflow
        mlflow.set_tracking_uri(self.uri)
        # artifacts beside the store, not in ./mlruns of whatever the working directory is
        if mlflow.get_experiment_by_name(self.experiment) is None and self.out is not None:
            mlflow.create_experiment(
                self.experiment, artifact_location=(self.out / "mlartifacts").resolve().as_uri()
            )
        mlflow.set_experiment(self.experiment)
        run = mlflow.start_run(run_id=self.run_id) if self.run_id else mlflow.start_run()
        self.run_id = run.info.run_id
        if not resumed:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})

    def epoch(self, rec: Mapping[str, float]) -> None:
        if self._ml is None:
            return
        metrics = {k: float(v) for k, v in rec.items() if k != "epoch" and np.isfinite(v)}
        self._ml.log_metrics(metrics, step=int(rec["epoch"]))

    def finish(self, model: nn.Module, best: Path | None, history: History) -> None:
        if self._ml is None:
            return
        self._ml.log_metric("best_epoch", float(history.best_epoch or 0))
        if best is not None and best.exists():
            self._ml.log_artifact(str(best))
        self._ml.end_run()

    def abort(self) -> None:
        if self._ml is not None:
            self._ml.end_run(status="KILLED")


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: Iterable,
    device: str | torch.device = "auto",
    progress: bool = False,
    score: ScoreFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (``score(out)``; default sigmoid for one output, softmax for several) and targets
    over ``loader``.

    Returns:
        ``(scores, y)``: scores ``(N,)`` or ``(N, C)``, targets ``(N,)``.
    """
    dev = resolve_device(device)
    model.to(dev).eval()
    scores, ys = [], []
    for batch in tqdm(loader, desc="predict", leave=False, disable=not progress):
        x, y, _ = _unpack(_to(batch, dev))
        scores.append((score or _scores)(_forward(model, x)).cpu())
        ys.append(y.cpu())
    return torch.cat(scores).numpy(), torch.cat(ys).numpy()
