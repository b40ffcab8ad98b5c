"""Shared helpers of the ghost-track tests: a fake Allen ntuple."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb import io
from hepnb.chapters.ghost import schema

FEATS = schema.feature_names("matching")


def write_ntuple(
    path, n=2000, ghost_fraction=0.2, n_nan=7, seed=0, drop=(), ghost=None, events=True
) -> dict:
    """A fake Allen ntuple: lognormal features, ghosts with a worse χ², ~5 candidates/event."""
    rng = np.random.default_rng(seed)
    data = {f: rng.lognormal(0.0, 1.0, n).astype(np.float32) for f in FEATS if f not in drop}
    data["ghost"] = (
        (rng.random(n) < ghost_fraction).astype(np.int32)
        if ghost is None
        else np.full(n, ghost, np.int32)
    )
    if "chi2" in data:
        data["chi2"][data["ghost"] == 1] *= 5  # ghosts fit worse
        data["chi2"][rng.choice(n, n_nan, replace=False)] = np.nan
    data["p"] = rng.uniform(2e3, 1e5, n).astype(np.float32)
    if events:
        data["event"] = np.sort(rng.integers(0, n // 5, n)).astype(np.int32)
    io.write_root(path, {schema.TREE: data})
    return data


@pytest.fixture(name="write_ntuple", scope="session")
def write_ntuple_fixture():
    """:func:`write_ntuple`, as a fixture."""
    return write_ntuple
