"""The four ECal notebooks executed with papermill at the ``tiny`` preset (400 events per
multiplicity): roc first, in an empty run folder (it simulates, summarises and trains all four
model families by itself), then train, explore and preprocess reusing its cached steps."""

from __future__ import annotations

import pytest

from hepnb.chapters import ecal as chapter

pytestmark = pytest.mark.notebook
TINY = {"seed": 1, **chapter.CHAPTER.presets["tiny"]}
MODELS = list(chapter.MODELS)


@pytest.fixture(scope="module")
def chapter_run(tmp_path_factory, notebook_runner):
    out = tmp_path_factory.mktemp("ecal")
    roc = notebook_runner("book/ecal/roc_ecal.ipynb", out, **TINY)
    for nb in ("train_ecal", "explore_ecal", "preprocess_ecal"):
        metrics = notebook_runner(f"book/ecal/{nb}.ipynb", out, **TINY)
    return out, roc, metrics


def test_notebooks_share_the_cached_steps(chapter_run):
    out, _, _ = chapter_run
    counts = [len(list(out.glob(f"{s}-*"))) for s in ("sample", "summary", *MODELS)]
    assert counts == [1] * (2 + len(MODELS))


def test_every_family_counts_as_well_as_the_energy_sum(chapter_run):
    _, m, _ = chapter_run
    acc, ci = m["roc_accuracy"], m["roc_accuracy_ci"]
    assert set(acc) == set(ci) == {*chapter.BASELINES, *MODELS}
    for method, (lo, hi) in ci.items():
        assert lo <= acc[method] <= hi and hi - lo < 0.1, method
    # the scintillator alone merges nearby electrons: far below the calorimeter
    assert acc["TS clusters"] < acc["energy sum"] - 0.2
    assert acc["energy + TS likelihood"] >= acc["energy sum"] - 0.02
    for model in MODELS:  # every network learned at least the energy-sum count
        assert acc[model] >= acc["energy sum"] - 0.03, model
        assert acc[model] > acc["TS clusters"] + 0.3, model


def test_electrons_off_the_ecal_are_reported_apart(chapter_run):
    _, m, _ = chapter_run
    inside, outside = m["roc_accuracy_inside"], m["roc_accuracy_outside"]
    # an electron off the ECal: its energy is missing, whatever the method
    assert outside["energy sum"] < 0.5 < inside["energy sum"] - 0.3
    under, over = m["roc_undercount"], m["roc_overcount"]
    assert under["energy sum"] > over["energy sum"]  # lost energy reads as fewer electrons
    poisson = m["roc_accuracy_poisson"]  # mostly one or two electrons: easier
    assert poisson["energy sum"] >= m["roc_accuracy"]["energy sum"] - 0.01


def test_models_table_and_training(chapter_run):
    _, m, last = chapter_run
    table = {row["model"]: row for row in m["roc_models"]}
    assert set(table) == set(MODELS)
    for row in table.values():
        assert row["parameters"] > 1000 and row["epochs"] == TINY["epochs"]
        assert row["training time (s)"] > 0
    val = last["train_val_accuracy"]
    assert val["cnn"] > 0.8 and val["energy sum"] > 0.8


def test_explore_and_preprocess_figures(chapter_run):
    _, _, m = chapter_run
    resolution = m["explore_energy_resolution"]
    assert 0.03 < resolution["1"] < 0.15  # ≈ 15 %/√4 ⊕ beam spread for one electron
    count = m["explore_energy_count"]
    assert count["1"] > 0.97 and count["4"] < count["1"]
    ts = m["preprocess_ts_count"]
    assert ts["1"] > ts["4"]  # nearby electrons merge in the bars
    assert set(m["preprocess_empty_events"]) == {"train", "val", "test"}
