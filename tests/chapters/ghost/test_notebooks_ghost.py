"""The four ghost-track notebooks executed with papermill at the ``tiny`` preset."""

from __future__ import annotations

import pytest

from hepnb.chapters import ghost as chapter

pytestmark = pytest.mark.notebook
# the tiny preset: the forward set (≈ 20% ghosts give enough of them in a small sample)
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
    assert auc["MLP (ONNX)"] > auc["χ²/ndof cut"] + 0.01
    assert auc["MLP (ONNX)"] > auc["BDT"] - 0.02  # as good as gradient-boosted trees
    for method, (lo, hi) in ci.items():
        assert lo <= rej[method] <= hi and hi - lo < 0.2, method
    width = ci["MLP (ONNX)"][1] - ci["MLP (ONNX)"][0]
    assert rej["MLP (ONNX)"] > 0.4 and rej["MLP (ONNX)"] + 3 * width > rej["BDT"]
    assert set(m["roc_delta_rej99"]) == {"MLP (ONNX)", "χ²/ndof cut"}  # paired with the BDT
    wp = m["roc_working_point"]
    assert wp["efficiency"] >= 0.99 and wp["criterion"].startswith("tightest cut")
    rates = m["roc_ghost_rate_after_cut"]
    assert rates["MLP"] < 0.6 * rates["no cut"]


def test_train_search_resumes_and_exports(chapter_run):
    out, _, m = chapter_run
    s = m["train_search"]
    assert s["n_complete"] + s["n_pruned"] == 4  # 3 trials from the roc run + 1 new
    assert len(list(out.glob("search-*/optuna.db"))) == 1  # one study, resumed
    assert list(out.glob("train-*/ghost_forward_int8.onnx"))
    assert m["train_val_auc"] > 0.85
    assert m["train_onnx_parity"] < 1e-5
    q = m["train_int8"]
    assert q["mode"] == "dynamic" and abs(q["auc_loss"]) < 0.002
    assert q["size_ratio"] > 1.5
    assert q["speedup_batch1"] > 0 and q["speedup_batch4096"] > 0  # measured, no timing asserts


def test_explore_physics(chapter_run):
    _, _, m = chapter_run
    f = m["explore_ghost_fraction"]
    assert 0.01 < f["matching"] < f["forward"] / 2 < 0.25
    med = m["explore_median_chi2ndf"]
    assert 0.7 < med["real"] < 1.5 and med["ghost"] > 2 * med["real"]
    rate = m["explore_ghost_rate_vs_p"]["forward"]
    assert rate["p>20GeV"] > rate["p<5GeV"]  # a ghost's q/p is random: fake stiff tracks


def test_preprocess_split_by_event_and_weights(chapter_run):
    _, _, m = chapter_run
    c = m["preprocess_counts"]
    assert c["train"] + c["val"] + c["test"] == c["n_used"] == 8000 - c["n_nan_removed"]
    assert c["train"] == pytest.approx(0.6 * c["n_used"], rel=0.05)  # whole events
    assert m["preprocess_events_shared_by_train_and_test"] == 0
    assert m["preprocess_train_ghost_weight_fraction"] == pytest.approx(0.5, abs=1e-6)
    assert 0.1 < m["preprocess_test_ghost_fraction"] < 0.3  # natural, not balanced
    assert m["preprocess_train_range"] == pytest.approx([0.0, 1.0])
