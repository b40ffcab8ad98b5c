"""The four TRT notebooks executed with papermill on a small fixed-seed sample."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook
#: 8000 MC tracks, 4800 for training; every notebook gets the same configuration
SMALL = {"seed": 3, "n_tracks": 4000, "epochs": 8, "lr": 3e-3}


@pytest.fixture(scope="module")
def chapter_run(tmp_path_factory, notebook_runner):
    """Train standalone in an empty run folder, then the other notebooks in the same folder."""
    out = tmp_path_factory.mktemp("trt")
    metrics = notebook_runner("book/trt/train_trt.ipynb", out, **SMALL)
    for nb in ("roc_trt", "explore_trt", "preprocess_trt"):
        metrics = notebook_runner(f"book/trt/{nb}.ipynb", out, **SMALL)
    return out, metrics


def test_notebooks_share_the_cached_steps(chapter_run):
    out, _ = chapter_run
    # one sample, one dataset, one model: roc, explore and preprocess reused train's steps
    assert [len(list(out.glob(f"{s}-*"))) for s in ("sample", "dataset", "lstm")] == [1, 1, 1]


def test_train_notebook_standalone_beats_baseline(chapter_run):
    _, m = chapter_run
    auc = m["train_test_auc"]
    assert m["train_epochs_run"] == 8
    assert auc["lstm"] > 0.9
    assert auc["optimum"] >= auc["lstm"] - 0.01  # nothing beats the likelihood ratio


def test_roc_notebook_rejections(chapter_run):
    _, m = chapter_run
    rej, ci = m["roc_mc_rej90"], m["roc_mc_rej90_ci"]
    names = {"eProbHT", "ToT", "combined", "lstm_ht", "lstm", "optimum"}
    assert set(m["roc_mc_auc_ci"]) == set(m["roc_mc_auc"]) == names
    for name in names:
        assert ci[name][0] <= rej[name] <= ci[name][1]  # 68% bootstrap interval around the value
    assert rej["lstm"] < ci["optimum"][1]  # nothing beats the likelihood ratio
    assert m["roc_mc_auc"]["combined"] >= m["roc_mc_auc"]["eProbHT"] - 0.005
    wp = m["roc_working_point"]  # chosen on validation, measured on test
    assert 0.8 < wp["efficiency"] < 1.0 and wp["rejection"] > 1
    # data differ from MC: the MC working point does not keep exactly 90% of data electrons
    assert 0.6 < m["roc_data_eff_at_mc_working_point"] < 1.0
    assert m["roc_data_auc"]["lstm"] > 0.8
    assert {"optimum", "optimum_mc"} <= set(m["roc_data_rej90"])
    assert m["roc_data_rej90"] != m["roc_data_unweighted_rej90"]  # the sWeights matter
    assert {"eProbHT", "combined", "lstm", "lstm_pion"} <= set(m["roc_pion_rej90"])
    assert len(m["roc_region_rej90"]) == 4 * 3  # 4 classifiers × barrel, end-cap A, end-cap B


def test_explore_notebook_physics(chapter_run):
    _, m = chapter_run
    assert m["explore_ht_plateau_xe_barrel"] > 3 * m["explore_ht_low_xe_barrel"]
    assert 30 <= m["explore_hits_barrel"] <= 38
    assert m["explore_hits_transition"] < m["explore_hits_barrel"] - 5
    tot = m["explore_mean_tot_per_l"]
    assert tot["electron"] > tot["muon"]


def test_preprocess_notebook_split(chapter_run):
    _, m = chapter_run
    c = m["preprocess_counts"]
    assert c["train"] + c["val"] + c["test"] == c["mc_tracks"]
    assert c["train"] == pytest.approx(0.6 * c["mc_tracks"], abs=2)
    assert m["preprocess_train_electron_fraction"] == pytest.approx(0.5, abs=0.02)
