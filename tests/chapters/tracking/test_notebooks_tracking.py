"""The four tracking notebooks executed with papermill at the ``tiny`` preset (400 BESIII-CGEM
events): roc first, in an empty run folder (it simulates, preprocesses and trains both networks
by itself), then explore, preprocess and train reusing its cached steps."""

from __future__ import annotations

import pytest

from hepnb.chapters import tracking as chapter

pytestmark = pytest.mark.notebook
TINY = {"seed": 1, **chapter.CHAPTER.presets["tiny"]}
METHODS = set(chapter.METHODS)


@pytest.fixture(scope="module")
def chapter_run(tmp_path_factory, notebook_runner):
    out = tmp_path_factory.mktemp("tracking")
    roc = notebook_runner("book/tracking/roc_tracking.ipynb", out, **TINY)
    for nb in ("explore_tracking", "preprocess_tracking", "train_tracking"):
        metrics = notebook_runner(f"book/tracking/{nb}.ipynb", out, **TINY)
    return out, roc, metrics


def test_notebooks_share_the_cached_steps(chapter_run):
    out, _, _ = chapter_run
    counts = [len(list(out.glob(f"{s}-*"))) for s in ("sample", "preprocess", "tracknet", "gnn")]
    assert counts == [1, 1, 1, 1]


def test_every_finder_finds_tracks_with_intervals(chapter_run):
    _, m, _ = chapter_run
    for key in ("track_efficiency", "fake_rate", "duplicate_rate"):
        values, ci = m[f"roc_{key}"], m[f"roc_{key}_ci"]
        assert set(values) == set(ci) == METHODS, key
        for method, (lo, hi) in ci.items():
            assert lo <= values[method] <= hi, (key, method)
    eff, fake = m["roc_track_efficiency"], m["roc_fake_rate"]
    # a few hundred events, a dozen epochs: every finder is well above chance
    assert eff["hough"] > 0.9 and eff["gnn"] > 0.9 and eff["tracknet"] > 0.75
    assert max(fake.values()) < 0.1


def test_tracknet_hit_efficiency_is_quoted_with_its_ellipse_area(chapter_run):
    _, m, last = chapter_run
    eff = m["roc_hit_efficiency"]["tracknet"]
    lo, hi = m["roc_hit_efficiency_ci"]["tracknet"]
    area = m["roc_hit_efficiency_area_mm2"]["tracknet"]
    assert lo <= eff <= hi and eff > 0.8
    # a few mm² on the next GEM layer: the ellipse did not grow to cover the layer
    assert 0.1 < area < 60
    assert last["train_hit_efficiency"]["tracknet"] > 0.8
    assert last["train_edge_auc"]["gnn"] > 0.95


def test_graph_and_hough_recorded_by_preprocess(chapter_run):
    _, _, last = chapter_run
    eff = last["preprocess_graph_edge_efficiency"]
    assert set(eff) == {"train", "val", "test"}
    # the cuts were fitted to keep 99.9 % of the training events' reconstructable particles'
    # true segments, per cut
    assert eff["train"] > 0.98 and min(eff.values()) > 0.95
    # cuts fitted on the reconstructable particles' segments: few noise edges are left
    assert 0.5 < last["preprocess_graph_edge_purity"]["test"] <= 1
    hough = last["preprocess_hough"]
    assert hough["n_phi"] in TINY.get("hough_n_phi", chapter.Config().hough_n_phi)
