"""Ghost-track simulator: truth labelling, pattern recognition on hand-built events, physics,
same events for the same seed."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import uproot

from hepnb.chapters.ghost import schema
from hepnb.chapters.ghost import sim as g

CLEAN = g.SimConfig(noise_per_layer=0.0, n_secondary=0.0, p_interaction=0.0, decays_in_flight=False)


# --------------------------------------------------------------------------------------------
# the labelling rule on hand-made hit lists


def _hits(*cands):
    """Flatten candidates given as (velo pids, scifi pids) into (cand, det, pid) arrays."""
    cand, det, pid = [], [], []
    for i, (velo, scifi) in enumerate(cands):
        for d, pids in ((0, velo), (1, scifi)):
            cand += [i] * len(pids)
            det += [d] * len(pids)
            pid += list(pids)
    return np.array(cand), np.array(det), np.array(pid)


def test_ghost_labels_lhcb_rule():
    cands = [
        ([1] * 10, [1] * 12),  # all hits of particle 1: real
        ([1] * 10, [2] * 12),  # VELO of 1 + SciFi of 2: ghost, whatever the overall fraction
        ([1] * 10, [1] * 7 + [0] * 3),  # 70% of SciFi hits from 1, rest noise: real (≥ 70%)
        ([1] * 10, [1] * 6 + [0] * 4),  # 60%: ghost
        ([1] * 10, [0] * 10),  # SciFi hits all noise: ghost
        ([1] * 7 + [3] * 3, [1] * 9 + [2]),  # 70% / 90% of particle 1: real
        ([1] * 20, [1] * 6 + [2] * 4),  # 26 of 30 hits (87%) from 1 but SciFi only 60%: ghost
        ([], [4] * 12),  # SciFi only (one sub-detector), one particle: real
    ]
    ghost = g.ghost_labels(*_hits(*cands), n_cand=len(cands))
    np.testing.assert_array_equal(ghost, [0, 1, 0, 1, 1, 0, 1, 0])


def test_ghost_labels_threshold_and_empty_candidate():
    cand, det, pid = _hits(([1] * 10, [1] * 8 + [2] * 2))
    assert not g.ghost_labels(cand, det, pid, 2)[0]
    assert g.ghost_labels(cand, det, pid, 2, threshold=0.9)[0]
    assert g.ghost_labels(cand, det, pid, 2)[1]  # candidate 1 has no hits at all


# --------------------------------------------------------------------------------------------
# a hand-built event whose ghosts are known


def _event():
    """A: 0.8 GeV, bent out of the SciFi (VELO track only). B: 10 GeV, born at z = 1 m
    exactly on A's line (a daughter-like particle: SciFi hits, no VELO). C: isolated 20 GeV
    track, seen everywhere."""
    eta, phi = np.array([3.0, 3.0, 3.5]), np.array([0.3, 0.3, 2.0])
    tx, ty = np.cos(phi) / np.sinh(eta), np.sin(phi) / np.sinh(eta)
    z0 = np.array([0.0, 1000.0, 0.0])
    parts = g.Particles.from_kinematics(
        0, [800.0, 10_000.0, 20_000.0], eta, phi, [1, -1, 1], x0=tx * z0, y0=ty * z0, z0=z0
    )
    parts.parent = np.array([0, 1, 0])  # B is A's decay product
    return parts


@pytest.fixture(scope="module")
def hand_built():
    rng = np.random.default_rng(7)
    parts, velo, scifi = g.propagate(_event(), CLEAN, rng, n_events=1)
    return parts, velo, scifi, g.reconstruct(parts, velo, scifi, CLEAN)


def test_hand_built_event_hits(hand_built):
    parts, velo, scifi, _ = hand_built
    assert set(np.unique(velo.pid)) == {1, 3}  # B starts downstream of the VELO
    assert set(np.unique(scifi.pid)) == {2, 3}  # A is swept out by the magnet
    assert len(parts) == 3  # no decays or interactions in the clean configuration


@pytest.mark.parametrize("track", ["matching", "forward"])
def test_hand_built_event_ghosts(hand_built, track):
    _, _, _, out = hand_built
    c = out[track]
    # each VELO track gives one candidate; A's VELO track picks up B's SciFi hits
    assert len(c["ghost"]) == 2
    by_true_p = dict(zip(np.round(c["true_p"]), c["ghost"], strict=True))
    assert by_true_p == {10_000.0: 1, 20_000.0: 0}  # A⊕B is a ghost, C is real
    origin = dict(zip(np.round(c["true_p"]), c["ghost_origin"], strict=True))
    assert origin == {10_000.0: 1, 20_000.0: 0}  # the ghost is a decay-in-flight track
    real = c["ghost"] == 0
    assert c["p"][real][0] == pytest.approx(20_000.0, rel=0.02)
    assert c["n_scifi"][real][0] >= 11 and c["n_velo"][real][0] >= 8


# --------------------------------------------------------------------------------------------
# physics of the full simulation


@pytest.fixture(scope="module")
def clean_sample():
    cfg = g.SimConfig(
        n_primary=15.0,
        noise_per_layer=0.0,
        n_secondary=0.0,
        p_interaction=0.0,
        decays_in_flight=False,
    )
    return g.simulate(40, seed=3, config=cfg)


def test_clean_events_make_almost_no_ghosts(clean_sample):
    for track, c in clean_sample.items():
        assert len(c["ghost"]) > 150, track
        assert c["ghost"].mean() < 0.02, track


def test_track_fit_resolution_and_chi2(clean_sample):
    c = clean_sample["matching"]
    real = (c["ghost"] == 0) & (c["true_p"] > 0)
    dp = c["p"][real] / c["true_p"][real] - 1
    assert np.median(np.abs(dp)) < 0.01  # LHCb long tracks: δp/p ≈ 0.5%
    chi2ndf = c["chi2"][real] / c["ndof"][real]
    assert 0.7 < np.median(chi2ndf) < 1.3  # the fit's errors describe the simulation
    # PR momentum (from the slope change) is close to the fitted one
    assert np.median(np.abs(c["first_qop"][real] / c["qop"][real] - 1)) < 0.05


@pytest.fixture(scope="module")
def default_sample():
    return g.simulate(50, seed=2)


def test_forward_makes_more_ghosts_than_matching(default_sample):
    # the forward tries every VELO track, also those whose particle never reaches the SciFi
    assert (
        default_sample["forward"]["ghost"].mean() > 2 * default_sample["matching"]["ghost"].mean()
    )


def test_ghost_fraction_grows_with_occupancy():
    # decays in flight make ghosts at any occupancy; combinatorics add more with occupancy
    low = g.simulate(
        100, seed=5, config=g.SimConfig(n_primary=20.0, n_secondary=5.0, noise_per_layer=50.0)
    )
    high = g.simulate(
        25, seed=5, config=g.SimConfig(n_primary=120.0, n_secondary=30.0, noise_per_layer=400.0)
    )
    rate = {t: (low[t]["ghost"].mean(), high[t]["ghost"].mean()) for t in low}
    assert rate["forward"][1] > rate["forward"][0] + 0.3, rate
    assert rate["matching"][1] > rate["matching"][0] + 0.01, rate


@pytest.mark.parametrize("track", ["matching", "forward"])
def test_ghosts_fit_worse_than_real_tracks(default_sample, track):
    c = default_sample[track]
    chi2ndf = c["chi2"] / c["ndof"]
    ghost = c["ghost"] == 1
    assert 0.01 < ghost.mean() < 0.4
    # matching ghosts passed tight χ² windows at the magnet, yet fit worse than real tracks
    factor = {"matching": 1.3, "forward": 2.0}[track]
    assert np.median(chi2ndf[ghost]) > factor * np.median(chi2ndf[~ghost])
    assert 0.8 < np.median(chi2ndf[~ghost]) < 1.3


def test_generate_writes_allen_schema_reproducibly(tmp_path):
    paths = g.generate(tmp_path / "a", n_tracks=300, seed=11)
    again = g.generate(tmp_path / "b", n_tracks=300, seed=11, tracks=("matching",))
    other = g.generate(tmp_path / "c", n_tracks=300, seed=12, tracks=("matching",))
    for track, path in paths.items():
        t = uproot.open(path)[schema.TREE]
        assert t.num_entries == 300
        assert list(t.keys()) == [*schema.FEATURES[track], "ghost", *schema.EXTRA_BRANCHES]
    read = {
        k: uproot.open(v)[schema.TREE].arrays(library="np")
        for k, v in (("a", paths["matching"]), ("b", again["matching"]), ("c", other["matching"]))
    }
    np.testing.assert_array_equal(read["a"]["chi2"], read["b"]["chi2"])
    assert not np.array_equal(read["a"]["chi2"][:50], read["c"]["chi2"][:50])


def test_same_seed_same_events():
    """Pinned numbers of the default simulation: a change of a random draw or an algorithm
    shows here. Re-pinned when the defaults were tuned to LHCb's forward ghost rate (SciFi
    noise 150 → 30 clusters per layer, forward ≥ 10 hits with ≥ 5 x hits): an intended
    change of the output."""
    d = g.simulate(20, seed=1)
    expect = {
        "forward": (392, 30, 19700.183642864227, 4299),
        "matching": (744, 17, 16633.612541794777, 8321),
    }
    for track, (n, n_ghost, chi2, n_scifi) in expect.items():
        c = d[track]
        assert (len(c["ghost"]), int(c["ghost"].sum()), int(c["n_scifi"].sum())) == (
            n,
            n_ghost,
            n_scifi,
        )
        assert c["chi2"].astype(np.float64).sum() == pytest.approx(chi2, rel=1e-9)


def test_generate_cli_arguments(tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    g.add_args(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--n-tracks", "50", "--track", "forward"])
    path = g.run(args)
    assert path == tmp_path / "ghost_forward.root"
    assert uproot.open(path)[schema.TREE].num_entries == 50


def test_bad_arguments():
    with pytest.raises(ValueError, match="track="):
        g.simulate(2, tracks=("downstream",))
    with pytest.raises(ValueError, match="n_tracks"):
        g.generate("unused", n_tracks=0)
    with pytest.raises(ValueError, match="n_events"):
        g.simulate(0)
