"""The four ttH notebooks executed with papermill at the ``tiny`` preset: roc first, in an
empty run folder (it simulates, converts and trains the catalogue by itself), then explore,
preprocess and train reusing its cached steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from hepnb.chapters import tth as chapter

pytestmark = pytest.mark.notebook
TINY = {"seed": 1, **chapter.CHAPTER.presets["tiny"]}


@pytest.fixture(scope="module")
def chapter_run(tmp_path_factory, notebook_runner):
    out = tmp_path_factory.mktemp("tth")
    roc = notebook_runner("book/tth/roc_tth.ipynb", out, **TINY)
    for nb in ("explore_tth", "preprocess_tth", "train_tth"):
        metrics = notebook_runner(f"book/tth/{nb}.ipynb", out, **TINY)
    return out, roc, metrics


def test_notebooks_share_the_cached_steps(chapter_run):
    out, _, _ = chapter_run
    counts = [len(list(out.glob(f"{s}-*"))) for s in ("sample", "convert", "dataset", "bdt")]
    assert counts == [1, 1, 1, 1]
    assert len(list(out.glob("train-*"))) == len(chapter.NEURAL_MODELS)


def test_every_model_has_an_auc_with_its_interval(chapter_run):
    _, m, _ = chapter_run
    auc, ci = m["roc_auc"], m["roc_auc_ci"]
    assert set(auc) == set(ci) == {chapter.NAMES[k] for k in chapter.MODELS}
    for name, (lo, hi) in ci.items():
        assert lo <= auc[name] <= hi, name
        # 600 test events per process (AUC ± 0.02): every model above chance, the best clearly
        # (the physics floor is tested on a larger sample in test_steps_tth)
        assert lo > 0.5, name
    assert max(auc.values()) > 0.58


def test_significance_and_checks_are_recorded(chapter_run):
    _, m, _ = chapter_run
    z, ci = m["roc_significance"], m["roc_significance_ci"]
    for name, (lo, hi) in ci.items():
        assert lo <= z[name] <= hi
    assert all(v > 0 for v in m["roc_binned_asimov"].values())
    assert set(m["roc_overtraining_ks"]) == {"signal", "background"}
    assert "chi2_ndf" in m["roc_sculpting"]
    assert m["roc_importance"]


def test_friend_trees_exist_for_every_input(chapter_run):
    _, m, _ = chapter_run
    friends = m["roc_injected"]
    assert set(friends) == {"signal", "background"}
    assert all(Path(f).exists() for files in friends.values() for f in files)


def test_train_chooses_on_validation(chapter_run):
    _, _, last = chapter_run
    val = last["train_val_auc"]
    nets = [chapter.NAMES[k] for k in chapter.NEURAL_MODELS]
    assert chapter.NAMES[last["train_chosen"]] == max(nets, key=val.__getitem__)
    counts = last["preprocess_counts"]
    assert set(counts) == {"train", "val", "test"}
