"""Hyperparameter searches with Optuna, for any chapter.

A search is a *search space* (a dict of parameter specifications) and an *objective*
``objective(params, trial) -> float`` that trains and scores one configuration; it may call
``trial.report`` (or pass :func:`pruning_callback` to :func:`hepnb.train.fit`) so that
unpromising trials are pruned early.

The study lives in an sqlite file in the run folder (``<out_dir>/optuna.db``), opened with
``load_if_exists=True``: a search that was interrupted resumes where it stopped, and several
processes may run the same study at once — ``n_trials`` is the total over all of them. The
best configuration is written as JSON (never pickle) to ``<out_dir>/<study>_best.json``.

Search-space specifications::

    {"hidden": ("int", 16, 256, {"log": True}),
     "lr": ("float", 1e-4, 1e-1, {"log": True}),
     "optimizer": ("categorical", ["adam", "adamw", "sgd"]),
     "epochs": 10}                       # a constant is passed through unchanged
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hepnb._optional import require
from hepnb.io import atomic_write_json

__all__ = ["StudyResult", "load_best", "pruning_callback", "run_study", "storage_url", "suggest"]

log = logging.getLogger(__name__)

DB = "optuna.db"
#: the two optimisation directions Optuna knows.
Direction = Literal["maximize", "minimize"]


def suggest(trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """Draw one configuration from ``space`` (see module docstring) with ``trial``."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if not (isinstance(spec, tuple) and spec and spec[0] in ("int", "float", "categorical")):
            params[name] = spec
            continue
        kind, *args = spec
        opts = args.pop() if args and isinstance(args[-1], Mapping) else {}
        if kind == "categorical":
            if len(args) != 1 or not list(args[0]):
                raise ValueError(f"search space {name!r}: expected ('categorical', [choices])")
            params[name] = trial.suggest_categorical(name, list(args[0]))
        else:
            if len(args) != 2 or not args[0] < args[1]:
                raise ValueError(
                    f"search space {name!r}: expected ({kind!r}, low, high) with "
                    f"low < high, got {spec!r}"
                )
            fn = trial.suggest_int if kind == "int" else trial.suggest_float
            params[name] = fn(name, args[0], args[1], **opts)
    return params


def storage_url(out_dir: str | os.PathLike) -> str:
    """sqlite URL of the study store inside ``out_dir``."""
    path = Path(out_dir).resolve() / DB
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def pruning_callback(trial, key: str = "val_auc") -> Callable[[Mapping[str, float]], None]:
    """An ``on_epoch_end`` callback for :func:`hepnb.train.fit`: reports ``record[key]`` at
    each epoch and raises ``optuna.TrialPruned`` when the pruner says so."""
    optuna = require("optuna")

    def cb(record: Mapping[str, float]) -> None:
        value = float(record[key])
        if math.isfinite(value):
            trial.report(value, int(record["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {record['epoch']} ({key} = {value:.4g})")

    return cb


@dataclass
class StudyResult:
    """Outcome of :func:`run_study`.

    Attributes:
        best_params: best configuration (search-space names; constants included).
        best_value: its objective value.
        best_trial: its trial number.
        n_complete, n_pruned, n_failed: trial counts over the whole stored study.
        path: the JSON file holding all of this.
        study: the ``optuna.Study`` (for plots and trial tables).
    """

    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    n_complete: int
    n_pruned: int
    n_failed: int
    path: Path
    study: Any


def _make_pruner(pruner: Any):
    optuna = require("optuna")

    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if isinstance(pruner, str):
        raise ValueError(f"pruner={pruner!r}: expected 'median', None or an optuna pruner")
    return pruner


def _open_study(url: str, name: str, direction: Direction, seed: int, pruner, attempts: int = 8):
    """Create or load a study; several processes starting at once race to create the sqlite
    schema or the study row, so the loser retries."""
    optuna = require("optuna")
    SQLAlchemyError = require("sqlalchemy.exc").SQLAlchemyError

    for attempt in range(attempts):
        try:
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": {"timeout": 60}}
            )
            return optuna.create_study(
                study_name=name,
                storage=storage,
                load_if_exists=True,
                direction=direction,
                sampler=optuna.samplers.TPESampler(seed=seed),
                pruner=pruner,
            )
        except (SQLAlchemyError, optuna.exceptions.DuplicatedStudyError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def run_study(
    objective: Callable[[dict[str, Any], Any], float],
    space: Mapping[str, Any],
    *,
    out_dir: str | os.PathLike,
    study_name: str = "study",
    n_trials: int = 20,
    direction: Direction = "maximize",
    seed: int = 0,
    pruner: Any = "median",
    timeout: float | None = None,
    catch: tuple[type[BaseException], ...] = (),
) -> StudyResult:
    """Run (or resume) an Optuna study until it holds ``n_trials`` finished trials.

    Args:
        objective: ``objective(params, trial) -> value``; ``params`` come from ``space``.
        space: search space (see module docstring).
        out_dir: run folder holding ``optuna.db`` and ``<study_name>_best.json``.
        study_name: name of the study in the store.
        n_trials: total number of complete + pruned trials wanted, counting those already in
            the store (from earlier runs or from other processes).
        direction: ``maximize`` or ``minimize``.
        seed: TPE sampler seed.
        pruner: ``"median"`` (default), None, or an ``optuna.pruners`` instance.
        timeout: stop launching trials after this many seconds.
        catch: exception types recorded as failed trials instead of stopping the study.

    Returns:
        A :class:`StudyResult`; the same content is in ``<out_dir>/<study_name>_best.json``.
    """
    optuna = require("optuna")
    TrialState = require("optuna.trial").TrialState

    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction={direction!r}: expected 'maximize' or 'minimize'")
    if n_trials < 1:
        raise ValueError(f"n_trials={n_trials}: expected a positive number of trials")
    space = dict(space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(storage_url(out_dir), study_name, direction, seed, _make_pruner(pruner))
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    n_done = len(study.get_trials(deepcopy=False, states=done))
    if n_done:
        log.info("study %r: resuming with %d finished trials", study_name, n_done)

    def wrapped(trial):
        return objective(suggest(trial, space), trial)

    if n_done < n_trials:
        study.optimize(
            wrapped,
            n_trials=n_trials - n_done,
            timeout=timeout,
            catch=catch,
            callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=done)],
        )
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    if count[TrialState.COMPLETE] == 0:
        raise RuntimeError(
            f"study {study_name!r} in {storage_url(out_dir)} has no complete "
            f"trial ({count[TrialState.PRUNED]} pruned, "
            f"{count[TrialState.FAIL]} failed)"
        )
    best = study.best_trial
    constants = {k: v for k, v in space.items() if k not in best.params}
    result = {
        "study_name": study_name,
        "direction": direction,
        "best_params": {**constants, **best.params},
        "best_value": best.value,
        "best_trial": best.number,
        "n_complete": count[TrialState.COMPLETE],
        "n_pruned": count[TrialState.PRUNED],
        "n_failed": count[TrialState.FAIL],
    }
    path = atomic_write_json(Path(out_dir) / f"{study_name}_best.json", result)
    return StudyResult(
        result["best_params"],
        best.value,
        best.number,
        result["n_complete"],
        result["n_pruned"],
        result["n_failed"],
        path,
        study,
    )


def load_best(out_dir: str | os.PathLike, study_name: str = "study") -> dict[str, Any]:
    """The best configuration saved by :func:`run_study` (the ``best_params`` dict).

    Raises:
        FileNotFoundError: no search was run in ``out_dir`` under that name.
    """
    path = Path(out_dir) / f"{study_name}_best.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no saved search result; run run_study first")
    return json.loads(path.read_text())["best_params"]
