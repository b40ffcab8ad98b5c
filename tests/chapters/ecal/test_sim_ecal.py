"""The LDMX ECal simulator and the trigger-scintillator response."""

from __future__ import annotations

import argparse

import awkward as ak
import numpy as np
import pytest
import uproot

from hepnb import io
from hepnb.chapters.ecal import schema, sim, trigscint

ENERGY = schema.branch(schema.ECAL_REC_HITS, "energy_")


def _sum_energy(arrays) -> np.ndarray:
    return ak.to_numpy(ak.sum(arrays[ENERGY], axis=1)).astype(np.float64)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ecal")
    return sim.write_sample(folder, 400, seed=3)


def test_files_and_flat_branch_names(sample):
    assert sorted(sample) == [1, 2, 3, 4]
    assert all(p.name == f"ecal_{n}e.root" for n, p in sample.items())
    tree = uproot.open(sample[2])[schema.TREE]
    assert tree.num_entries == 400
    expected = {
        schema.branch(coll, field) for coll in sim.WRITTEN for field in schema.COLLECTIONS[coll]
    } | {schema.counter(coll) for coll in sim.WRITTEN}
    assert set(tree.keys()) == expected
    assert "EcalRecHits_sim_energy_" in expected
    assert "nEcalRecHits_sim" in expected
    assert tree["EcalRecHits_sim_id_"].typename == "int32_t[]"
    assert tree["EcalRecHits_sim_isNoise_"].typename == "bool[]"


def test_same_seed_same_content(sample, tmp_path):
    again = sim.write_sample(tmp_path, 400, seed=3, multiplicities=(3,))
    a = uproot.open(sample[3])[schema.TREE].arrays()
    b = uproot.open(again[3])[schema.TREE].arrays()
    assert a.fields == b.fields
    for f in a.fields:
        assert ak.all(a[f] == b[f]), f
    other = sim.simulate(50, 3, seed=4)
    assert not ak.all(ak.num(other[ENERGY]) == ak.num(a[ENERGY][:50]))


def test_hits_are_consistent(sample):
    arrays = uproot.open(sample[2])[schema.TREE].arrays()
    ids = ak.to_numpy(ak.flatten(arrays["EcalRecHits_sim_id_"]))
    sub, layer, module, cell = schema.unpack_id(ids)
    assert np.all(sub == schema.SUBDETECTOR_ECAL)
    x, y, z = schema.cell_position(layer, module, cell)
    assert np.allclose(ak.to_numpy(ak.flatten(arrays["EcalRecHits_sim_xpos_"])), x, atol=1e-3)
    assert np.allclose(ak.to_numpy(ak.flatten(arrays["EcalRecHits_sim_ypos_"])), y, atol=1e-3)
    assert np.allclose(ak.to_numpy(ak.flatten(arrays["EcalRecHits_sim_zpos_"])), z, atol=1e-3)
    # one hit per cell and event
    ev = np.repeat(np.arange(len(arrays)), ak.to_numpy(ak.num(arrays["EcalRecHits_sim_id_"])))
    assert len(np.unique(ev * 2**32 + ids)) == len(ids)
    # energy and amplitude: the v14 reconstruction, energy = N_MIP (w + E_MIP) c
    amp = ak.to_numpy(ak.flatten(arrays["EcalRecHits_sim_amplitude_"]))
    e = ak.to_numpy(ak.flatten(arrays[ENERGY]))
    w = (schema.LAYER_WEIGHTS[layer] + schema.MIP_SI_ENERGY) * schema.SECOND_ORDER_CORRECTION
    assert np.allclose(e, amp / schema.MIP_SI_ENERGY * w, rtol=1e-4)
    assert amp.min() >= 3.0 / sim.ADC_PER_MIP * schema.MIP_SI_ENERGY * (1 - 1e-5)  # threshold
    noise = ak.to_numpy(ak.flatten(arrays["EcalRecHits_sim_isNoise_"]))
    assert 0 < noise.mean() < 0.05
    # a few hundred hits at most
    n_hits = ak.to_numpy(ak.num(arrays[ENERGY]))
    assert 100 < np.median(n_hits) < 300


def test_truth_scoring_plane_hits(sample):
    arrays = uproot.open(sample[4])[schema.TREE].arrays()
    ecal_sp = schema.branch(schema.ECAL_SP_HITS, "pdgID_")
    assert np.all(ak.to_numpy(ak.num(arrays[ecal_sp])) == 4)
    pdg = arrays[schema.branch(schema.TS_SP_HITS, "pdgID_")]
    energy = arrays[schema.branch(schema.TS_SP_HITS, "energy_")]
    beam = (pdg == 11) & (energy > 0.5 * schema.BEAM_ENERGY)
    track = arrays[schema.branch(schema.TS_SP_HITS, "trackID_")]
    z = arrays[schema.branch(schema.TS_SP_HITS, "z_")]
    upstream = beam & (np.abs(z - schema.TS_SP_Z) < 1e-3)
    # one upstream hit per beam electron (halo electrons may miss the scoring plane)
    n_up = ak.to_numpy(ak.sum(upstream, axis=1))
    assert n_up.max() == 4
    assert np.mean(n_up == 4) > 0.8
    assert ak.all(ak.num(ak.run_lengths(ak.sort(track[upstream]))) == n_up)
    # secondaries to reject: photons and soft electrons
    assert ak.sum(pdg == 22) > 50
    assert ak.sum((pdg == 11) & (energy < 100)) > 20


def test_energy_response_of_contained_electrons():
    arrays = sim.simulate(3000, 1, seed=5, halo_fraction=0.0, upstream_x0=0.0)
    e = _sum_energy(arrays)
    assert e.mean() == pytest.approx(schema.BEAM_ENERGY, rel=0.02)
    # σ/E = 15 %/√E ⊕ 1 % beam spread at 4 GeV ≈ 7.6 %
    expected = np.hypot(0.15 / np.sqrt(4.0), 0.01)
    assert e.std() / e.mean() == pytest.approx(expected, rel=0.15)
    # and the sum scales with the multiplicity
    for n in (2, 4):
        en = _sum_energy(sim.simulate(500, n, seed=5, halo_fraction=0.0, upstream_x0=0.0))
        assert en.mean() / n == pytest.approx(e.mean(), rel=0.02)


def test_energy_sum_baseline_is_imperfect():
    hits, truth = [], []
    for n in (1, 2, 3, 4):
        e = _sum_energy(sim.simulate(600, n, seed=0))
        hits.append(np.clip(np.rint(e / schema.BEAM_ENERGY), 1, 4))
        truth.append(np.full(len(e), n))
    accuracy = np.mean(np.concatenate(hits) == np.concatenate(truth))
    assert 0.90 <= accuracy <= 0.985
    # ... because of acceptance: gaps and edges lose energy
    frac = sim.energy_fraction([0.0, 85.75, 270.0], [0.0, 0.0, 0.0], n=300)
    assert frac[0] == pytest.approx(1.0, abs=0.02)
    assert frac[1] < 0.95
    assert frac[2] < 0.5


def test_zero_hit_events_survive_write_and_read(tmp_path):
    # every electron far outside the ECal, no noise: events without ECal hits
    out = sim.write_sample(
        tmp_path,
        20,
        seed=1,
        multiplicities=(1,),
        halo_fraction=1.0,
        halo_sigma=1e5,
        noise_adc=0.0,
    )
    arrays = io.read_tree(
        out[1], schema.TREE, [ENERGY, schema.counter(schema.ECAL_REC_HITS)], allow_empty=True
    )
    assert len(arrays) == 20
    assert ak.all(ak.num(arrays[ENERGY]) == 0)
    assert np.all(ak.to_numpy(arrays[schema.counter(schema.ECAL_REC_HITS)]) == 0)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="n_electrons"):
        sim.simulate(10, 0, seed=1)
    with pytest.raises(ValueError, match="unknown physics"):
        sim.simulate(10, 1, seed=1, halo=0.1)
    with pytest.raises(ValueError, match="halo_fraction"):
        sim.simulate(10, 1, seed=1, halo_fraction=2.0)


def test_cli(tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    sim.add_args(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--n-events", "5", "--pass-name", "v14"])
    sim.run(args)
    assert sorted(p.name for p in tmp_path.glob("*.root")) == [
        f"ecal_{n}e.root" for n in (1, 2, 3, 4)
    ]
    assert "nEcalRecHits_v14" in uproot.open(tmp_path / "ecal_2e.root")[schema.TREE]


# --- trigger scintillator ---------------------------------------------------------------------
def test_ts_bars_and_efficiency():
    rng = np.random.default_rng(0)
    y = rng.uniform(-38, 38, 20_000)
    x = rng.uniform(-14, 14, 20_000)
    jag = ak.unflatten(x, np.ones(len(x), int)), ak.unflatten(y, np.ones(len(y), int))
    bars = trigscint.bar_response(*jag, rng, efficiency=1.0)
    n = ak.to_numpy(ak.num(bars))
    # both layers where the other layer has no gap; every electron fires ≥ 1 bar
    assert n.min() == 1
    assert n.max() == 2
    assert 0.8 < np.mean(n == 2) < 0.95
    assert ak.all(ak.max(bars, axis=1) - ak.min(bars, axis=1) <= 1)
    assert ak.min(bars) >= 0
    assert ak.max(bars) < schema.TS_N_BARS
    # bar ids increase with y
    assert np.corrcoef(ak.to_numpy(ak.min(bars, axis=1)), y)[0, 1] > 0.99
    # per-bar efficiency
    half = trigscint.bar_response(*jag, rng, efficiency=0.5)
    assert ak.sum(ak.num(half)) / ak.sum(n) == pytest.approx(0.5, abs=0.02)
    # below threshold: no light
    assert ak.sum(ak.num(trigscint.bar_response(*jag, rng, pe_per_mip=5.0))) == 0
    # outside the pad (|x| > 15 mm or |y| > 40 mm): nothing
    out = trigscint.bar_response([[20.0, 0.0], []], [[0.0, 45.0], []], rng)
    assert ak.num(out).tolist() == [0, 0]


def test_ts_clusters_merge_close_electrons():
    rng = np.random.default_rng(1)
    y0 = rng.uniform(-35, 25, 2000)
    for dy, clusters in ((1.0, 1), (2.5, 1), (12.0, 2)):
        y = ak.Array(np.stack([y0, y0 + dy], axis=1).tolist())
        x = ak.zeros_like(y)
        bars = trigscint.bar_response(x, y, rng, efficiency=1.0)
        assert np.all(trigscint.count_clusters(bars) == clusters), dy
    assert trigscint.count_clusters(ak.Array([[], [3], [3, 4, 5, 9], [9, 3, 4]])).tolist() == [
        0,
        1,
        2,
        2,
    ]
    assert trigscint.count_clusters(ak.Array([[1, 2, 3, 4, 5]]), max_width=2).tolist() == [3]


def test_upstream_radiation_follows_bethe_heitler():
    """Thin-radiator bremsstrahlung: photons above y per X0 = 4/3 ln(1/y) − 4/3 (1 − y) +
    (1 − y²)/2; the electron keeps 1 − y of its energy."""
    rng = np.random.default_rng(11)
    x0 = 0.03
    y = sim.radiated_fraction(400_000, x0, rng)
    assert y.min() == 0.0 and y.max() < 1.0
    for cut in (0.05, 0.25, 0.5, 0.9):
        expected = x0 * (4 / 3 * np.log(1 / cut) - 4 / 3 * (1 - cut) + (1 - cut**2) / 2)
        assert (y > cut).mean() == pytest.approx(expected, rel=0.05), cut
    assert not sim.radiated_fraction(1000, 0.0, rng).any()
    # in the ECal: a single electron that radiated more than half reads below 2 GeV
    low = _sum_energy(sim.simulate(3000, 1, seed=8, halo_fraction=0.0)) < 2000.0
    assert 0.5 * x0 * 0.63 < low.mean() < 2.0 * x0 * 0.63
