"""The steps every chapter shares (hepnb.chapters.base), on toy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hepnb import data
from hepnb.chapters import base
from hepnb.runs import Config, step


@dataclass(kw_only=True)
class ToyConfig(Config):
    CHAPTER = "toy"

    n: int = 400


def test_split_save_and_load_check_the_scalers_features(tmp_path):
    cfg = ToyConfig(out_dir=str(tmp_path))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(cfg.n, 2)), (np.arange(cfg.n) % 2).astype(np.int64)
    st = step(cfg, "dataset", ("n", "seed"))
    made = base.split_normalise_save(
        st,
        {"x": x, "y": y},
        seed=cfg.seed,
        stratify=y,
        scalers={"x": lambda a: data.Scaler.standard(a, ("pt", "eta"))},
    )
    train = made.arrays["train"]["x"]
    assert np.allclose(made.scalers["x"].offset, train.mean(axis=0))  # fitted on train only
    loaded = base.load_split_arrays(st, {"x": ("pt", "eta")})
    assert np.array_equal(loaded.arrays["test"]["x"], made.arrays["test"]["x"])
    with pytest.raises(ValueError, match=r"scalers\.json.*fitted on features \['pt', 'eta'\]"):
        base.load_split_arrays(st, {"x": ("pt", "phi")})
