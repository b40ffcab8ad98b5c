"""Ghost-track search, training and export as cached steps, on a small fake ntuple."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb import evaluate, export
from hepnb.chapters import ghost as chapter


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, write_ntuple):
    tmp = tmp_path_factory.mktemp("ghost_steps")
    write_ntuple(tmp / "nt.root", n=1500, seed=5)
    return chapter.Config(
        out_dir=str(tmp / "run"),
        data_path=str(tmp / "nt.root"),
        n_trials=2,
        search_epochs=1,
        epochs=2,
        device="cpu",
    )


@pytest.fixture(scope="module")
def exported(cfg):
    return chapter.ensure_onnx(cfg)


def test_onnx_takes_raw_features_and_separates_ghosts(cfg, exported):
    ds = chapter.dataset(cfg)
    x, ghost, kin, event = chapter.held_out(ds)
    assert x.shape == (len(ghost), 13) and len(event) == len(ghost) and "p" in kin
    clf = export.OnnxClassifier(exported, chapter.feature_names(cfg.track))
    assert clf.metadata["track"] == "matching"
    assert evaluate.auc(1 - ghost, 1 - clf(x)) > 0.6  # the fake ghosts have a 5× larger χ²
    base = chapter.baselines(cfg, ds, x)
    assert set(base) == {"BDT", "χ²/ndof cut"} and all(len(s) == len(x) for s in base.values())
    int8 = chapter.quantize(exported)
    assert int8.parent == exported.parent and int8.name == "ghost_matching_int8.onnx"


def test_more_trials_resume_the_search_and_a_rerun_reuses_the_model(cfg, exported):
    mtime = exported.stat().st_mtime_ns
    assert chapter.ensure_onnx(cfg) == exported and exported.stat().st_mtime_ns == mtime
    first = chapter.search(cfg)
    assert first.n_complete + first.n_pruned == 2
    more = chapter.search(cfg.replace(n_trials=3))
    assert more.n_complete + more.n_pruned == 3
    assert more.path.parent == first.path.parent  # the same search step
    # the model follows the study's best trial: the folder of its hyperparameters
    best = chapter.train_folder(cfg, chapter.hyperparameters(cfg, more))
    assert chapter.ensure_onnx(cfg).parent == best.path


def test_training_folder_is_keyed_by_fields_and_hyperparameters(cfg):
    no_search = cfg.replace(n_trials=0)
    params = chapter.hyperparameters(no_search, chapter.search(no_search))
    assert params == {**chapter.DEFAULT_PARAMS, "lr": cfg.lr, "batch_size": cfg.batch_size}
    here = chapter.train_folder(no_search, params)
    assert chapter.train_folder(no_search.replace(epochs=50, device="auto"), params) == here
    assert chapter.train_folder(no_search, {**params, "lr": 1e-2}).path != here.path
    assert chapter.train_folder(no_search.replace(network=0), params).path != here.path
    trained = chapter.train(no_search, params=params)
    assert trained.step.path == here.path and here.done and len(trained.history) == 2
    assert np.isfinite(trained.history["val_auc"]).all()
    # the weights kept are those of the best validation AUC (the search's metric)
    assert trained.selected_epoch == int(np.argmax(trained.history["val_auc"]))
