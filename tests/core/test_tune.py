"""Optuna searches: resume from sqlite, several processes, pruning, JSON best configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import optuna
import pytest

from hepnb import tune

SPACE = {
    "x": ("float", -4.0, 4.0),
    "n": ("int", 1, 8, {"log": True}),
    "kind": ("categorical", ["a", "b"]),
    "fixed": 3,
}


def _objective(params, trial):
    return -((params["x"] - 1.0) ** 2) - (params["kind"] == "b") + 0.01 * params["n"]


def test_study_resumes_from_sqlite(tmp_path):
    r1 = tune.run_study(_objective, SPACE, out_dir=tmp_path, study_name="toy", n_trials=5)
    assert (tmp_path / "optuna.db").exists()
    assert r1.n_complete == 5
    r2 = tune.run_study(_objective, SPACE, out_dir=tmp_path, study_name="toy", n_trials=8)
    numbers = [t.number for t in r2.study.trials]
    assert numbers == list(range(8))  # 3 new trials appended to the stored 5
    r3 = tune.run_study(_objective, SPACE, out_dir=tmp_path, study_name="toy", n_trials=8)
    assert len(r3.study.trials) == 8  # already complete: nothing new
    best = json.loads((tmp_path / "toy_best.json").read_text())
    assert best["best_params"] == r3.best_params == tune.load_best(tmp_path, "toy")
    assert best["best_params"]["fixed"] == 3 and best["n_complete"] == 8
    assert best["best_value"] == max(t.value for t in r3.study.trials)


def test_two_processes_share_one_study(tmp_path):
    code = textwrap.dedent(f"""
        from hepnb import tune
        def obj(p, trial):
            return -(p["x"] - 1.0) ** 2
        tune.run_study(obj, {{"x": ("float", -4.0, 4.0)}}, out_dir={str(tmp_path)!r},
                       study_name="shared", n_trials=10, seed=int(__import__("sys").argv[1]))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(s)]) for s in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=tune.storage_url(tmp_path))
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 10 <= len(finished) <= 11  # the total is shared; one in flight may finish late


def test_pruning_stops_bad_trials(tmp_path):
    def objective(params, trial):
        cb = tune.pruning_callback(trial, key="val_auc")
        for epoch in range(6):  # a "training" whose curve is set by x
            cb({"epoch": epoch, "val_auc": 1 - abs(params["x"]) * (1 + epoch) / 10})
        return 1 - abs(params["x"])

    r = tune.run_study(
        objective,
        {"x": ("float", -1.0, 1.0)},
        out_dir=tmp_path,
        n_trials=15,
        study_name="prune",
        seed=1,
    )
    assert r.n_pruned > 0 and r.n_complete + r.n_pruned == 15
    assert abs(r.best_params["x"]) < 0.3


def test_bad_search_space_and_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"search space 'lr'.*low < high"):
        tune.run_study(_objective, {"lr": ("float", 1.0, 0.1)}, out_dir=tmp_path, n_trials=1)
    with pytest.raises(ValueError, match=r"search space 'a'.*categorical"):
        tune.run_study(_objective, {"a": ("categorical", [])}, out_dir=tmp_path, n_trials=1)
    with pytest.raises(ValueError, match="direction='up'"):
        tune.run_study(_objective, SPACE, out_dir=tmp_path, direction="up")
    with pytest.raises(FileNotFoundError, match="no saved search"):
        tune.load_best(tmp_path, "never")
