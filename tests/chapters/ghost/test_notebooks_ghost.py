"""The four ghost-track notebooks executed with papermill at the ``tiny`` preset."""

from __future__ import annotations

import pytest

from hepnb.chapters import ghost as chapter

pytestmark = pytest.mark.notebook
# the tiny preset: the forward set (≈ 5% ghosts, LHCb-like; 15k candidates)
TINY = {"seed": 2, **chapter.CHAPTER.presets["tiny"]}


@pytest.fixture(scope="module")
def chapter_run(tmp_path_factory, notebook_runner):
    """roc standalone in an empty run folder (it simulates, prepares, searches, trains and
    exports by itself), then train (search resumed from sqlite, INT8), explore, preprocess."""
    out = tmp_path_factory.mktemp("ghost")
    roc = notebook_runner("book/ghost/roc_ghost.ipynb", out, **{**TINY, "n_trials": 3})
    metrics = notebook_runner("book/ghost/train_ghost.ipynb", out, **TINY)
    for nb in ("explore_ghost", "preprocess_ghost"):
        metrics = notebook_runner(f"book/ghost/{nb}.ipynb", out, **TINY)
    return out, roc, metrics


def test_roc_mlp_beats_chi2_cut(chapter_run):
    _, m, _ = chapter_run
    auc, rej, ci = m["roc_auc"], m["roc_rej99"], m["roc_rej99_ci"]
    # LHCb-like forward ghosts: the χ² cut alone is already strong (AUC ≈ 0.95)
    assert auc["MLP (ONNX)"] > auc["χ²/ndof cut"]
    assert auc["MLP (ONNX)"] > auc["BDT"] - 0.02  # as good as gradient-boosted trees
    for method, (lo, hi) in ci.items():
        assert lo <= rej[method] <= hi and hi - lo < 0.35, method
    width = ci["MLP (ONNX)"][1] - ci["MLP (ONNX)"][0]
    assert rej["MLP (ONNX)"] > 0.4 and rej["MLP (ONNX)"] + 3 * width > rej["BDT"]
    assert set(m["roc_delta_rej99"]) == {"MLP (ONNX)", "χ²/ndof cut"}  # paired with the BDT
    wp = m["roc_working_point"]  # fixed on validation, measured on test
    assert wp["val_efficiency"] >= 0.99 and wp["efficiency"] > 0.97
    assert wp["efficiency_lo"] <= wp["efficiency"] <= wp["efficiency_hi"]
    assert wp["bkg_rejection_lo"] <= wp["bkg_rejection"] <= wp["bkg_rejection_hi"]
    assert set(m["roc_working_points"]["MLP (ONNX)"]) == {"efficiency=0.99", "youden_j", "f1"}
    rates = m["roc_ghost_rate_after_cut"]
    assert rates["MLP"] < 0.6 * rates["no cut"]


def test_train_search_resumes_and_exports(chapter_run):
    out, _, m = chapter_run
    s = m["train_search"]
    assert s["n_complete"] + s["n_pruned"] == 4  # 3 trials from the roc run + 1 new
    assert len(list(out.glob("search-*/optuna.db"))) == 1  # one study, resumed
    assert list(out.glob("train-*/ghost_forward_int8.onnx"))
    assert m["train_val_auc"] > 0.85
    assert m["train_selected_epoch"] >= 0  # the epoch of best validation AUC
    assert m["train_onnx_parity"] < 1e-5
    q = m["train_int8"]
    assert q["mode"] == "dynamic" and abs(q["auc_loss"]) < 0.002
    assert q["size_ratio"] > 1.5
    assert q["speedup_batch1"] > 0 and q["speedup_batch4096"] > 0  # measured, no timing asserts


def test_explore_physics(chapter_run):
    _, _, m = chapter_run
    f = m["explore_ghost_fraction"]
    assert 0.005 < f["matching"] < f["forward"] < 0.12  # LHCb: a few per cent
    comp = m["explore_ghost_composition"]
    for key in ("forward/all", "forward/preselected", "matching/preselected"):
        assert sum(v for k, v in comp[key].items() if k not in ("candidates", "ghost rate")) == (
            pytest.approx(1.0)
        )
    assert 0.02 < comp["forward/preselected"]["ghost rate"] < 0.10
    med = m["explore_median_chi2ndf"]
    assert 0.7 < med["real"] < 1.5 and med["ghost"] > 2 * med["real"]
    rate = m["explore_ghost_rate_vs_p"]["forward"]
    assert rate["p>20GeV"] > rate["p<5GeV"]  # a ghost's q/p is random: fake stiff tracks


def test_preprocess_split_by_event_and_weights(chapter_run):
    _, _, m = chapter_run
    c = m["preprocess_counts"]
    assert c["train"] + c["val"] + c["test"] == c["n_used"] == c["n_preselected"]
    assert c["n_used"] <= 15000 - c["n_nan_removed"]  # the preselection removed some
    assert c["train"] == pytest.approx(0.6 * c["n_used"], rel=0.05)  # whole events
    assert m["preprocess_events_shared_by_train_and_test"] == 0
    assert m["preprocess_train_ghost_weight_fraction"] == pytest.approx(0.5, abs=1e-6)
    assert 0.02 < m["preprocess_test_ghost_fraction"] < 0.10  # natural, not balanced
    assert m["preprocess_train_range"] == pytest.approx([0.0, 1.0])
