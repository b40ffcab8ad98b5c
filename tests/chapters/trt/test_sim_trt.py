"""Physics and behaviour of the TRT simulator (:mod:`hepnb.chapters.trt.sim`)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import special, stats
from sklearn.metrics import roc_curve

from hepnb import evaluate, io
from hepnb.chapters.trt import sim as trt
from hepnb.chapters.trt.schema import (
    DATA_TREES,
    HIT_BRANCHES,
    MC_TREES,
    ONSET_CALIBRATION,
    ONSET_GAMMAS,
    TRACK_BRANCHES,
)


def flat(arrays, name: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(arrays[name], axis=1))


def per_hit(arrays, name: str) -> np.ndarray:
    """Track-level branch broadcast to the hits."""
    return np.repeat(np.asarray(arrays[name]), np.asarray(arrays["nTRThits"]))


def rejection(sig: np.ndarray, bkg: np.ndarray, eff: float) -> float:
    y = np.r_[np.ones(len(sig)), np.zeros(len(bkg))]
    fpr, tpr, _ = roc_curve(y, np.r_[sig, bkg])
    return 1.0 / np.interp(eff, tpr, fpr)


@pytest.fixture(scope="module")
def samples() -> dict[str, dict]:
    n = 12_000
    return {
        "electron": trt.simulate(n, "electron", seed=11),
        "muon": trt.simulate(n, "muon", seed=12),
        "pion": trt.simulate(n, "pion", seed=13),
    }


@pytest.fixture(scope="module")
def root_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("trt") / "trt.root"
    trt.generate(path, n_tracks=3000, seed=5, data_fraction=0.5, progress=False)
    return str(path)


# --- HT onset -------------------------------------------------------------------------------
@pytest.mark.parametrize(("gas", "region"), list(ONSET_CALIBRATION))
def test_onset_curve_reproduces_the_default_calibration(gas, region):
    got = trt.onset_curve(np.log10(ONSET_GAMMAS), gas, region)
    tol = 0.02 if gas == "Xe" else 0.045  # Xe fitted to ≤1.4 %, Ar (near-linear in log γ) ≤3.9 %
    np.testing.assert_allclose(got, ONSET_CALIBRATION[gas, region], rtol=tol)
    # flat dE/dx plateau below γ = 100, saturation above 1e5
    low = trt.onset_curve(np.array([1.0, 1.5, 2.0]), gas, region)
    assert np.ptp(low) < 0.05 * low[-1]
    assert np.all(np.diff(trt.onset_curve(np.linspace(0.5, 6, 50), gas, region)) >= 0)


def test_onset_occupancy_dependence():
    got = trt.onset_curve(np.array([1.0, 4.0]), "Xe", "barrel", occupancy=0.2)
    np.testing.assert_allclose(got, [0.047, 0.190], rtol=0.03)
    # a 20 GeV pion at a typical occupancy has ≈4.9 % HT probability (test beam)
    pion = trt.onset_curve(np.log10(20e3 / trt.MASS["pion"]), "Xe", "barrel", occupancy=0.2)
    assert 0.04 < pion < 0.06


def test_per_straw_corrections_span_and_wall_dependence():
    r = np.linspace(0.0, 1.999, 200)
    base = trt.p_ht(1e4, 0, 1, 30, 0.0)
    near_wire = trt.p_ht(1e4, 0, 1, 30, 0.0, zr=300.0, r_trk_wire=0.3)
    near_wall = trt.p_ht(1e4, 0, 1, 30, 0.0, zr=300.0, r_trk_wire=1.98)
    assert near_wall < 0.7 * near_wire
    grid = trt.p_ht(
        1e4,
        0,
        np.r_[np.ones(200), 2 * np.ones(200)],
        np.r_[np.zeros(200), np.zeros(200)] + 5,
        0.0,
        zr=np.r_[np.linspace(0, 712, 200), np.linspace(644, 1004, 200)],
        r_trk_wire=np.r_[r, r[::-1]],
    )
    ratio = grid / np.r_[np.full(200, base), np.full(200, trt.p_ht(1e4, 0, 2, 5, 0.0))]
    assert 0.4 < ratio.min() < 0.6 and 1.1 < ratio.max() < 1.5


def test_measured_ht_fraction_follows_input_curve(samples):
    # all species together span γ ≈ 10 … 1e5
    ht, pred_full, pred_avg, lg, sel = [], [], [], [], []
    for species, a in samples.items():
        bec, gas = flat(a, "hit_bec"), flat(a, "hit_gasType")
        sl = trt.straw_layer_index(bec, flat(a, "hit_layer"), flat(a, "hit_strawlayer"))
        gamma = per_hit(a, "p") / trt.MASS[species]
        occ = per_hit(a, "trkOcc")
        zr = np.where(np.abs(bec) == 2, flat(a, "hit_HitR"), np.abs(flat(a, "hit_HitZ")))
        ht.append(flat(a, "hit_HTMB"))
        pred_full.append(trt.p_ht(gamma, gas, bec, sl, occ, zr, flat(a, "hit_rTrkWire")))
        pred_avg.append(trt.p_ht(gamma, gas, bec, sl, occ))
        lg.append(np.log10(gamma))
        sel.append((gas == 0) & (np.abs(bec) == 1))
    ht, pred_full, pred_avg, lg, sel = map(np.concatenate, (ht, pred_full, pred_avg, lg, sel))
    edges = [1.0, 1.7, 2.3, 2.7, 3.7, 4.1, 4.5, 5.2]
    idx = np.digitize(lg, edges)
    checked = 0
    for b in range(1, len(edges)):
        m = sel & (idx == b)
        if m.sum() < 2000:
            continue
        measured = ht[m].mean()
        err = np.sqrt(pred_full[m].mean() * (1 - pred_full[m].mean()) / m.sum())
        assert abs(measured - pred_full[m].mean()) < 4 * err + 1e-3  # the exact model
        assert abs(measured / pred_avg[m].mean() - 1) < 0.06  # corrections average out
        checked += 1
    assert checked >= 4
    # electrons (γ ≳ 2000) on the TR plateau, muons/pions mostly below the onset
    fractions = {s: a["nHThits"].sum() / a["nTRThits"].sum() for s, a in samples.items()}
    assert fractions["electron"] > 2 * fractions["muon"] > 2 * 0.02
    assert fractions["muon"] > fractions["pion"]


# --- geometry -------------------------------------------------------------------------------
def test_hits_per_track_and_transition_dip(samples):
    a = samples["muon"]
    eta, n = np.abs(np.asarray(a["eta"])), np.asarray(a["nTRThits"])
    barrel = n[eta < 0.5].mean()
    transition = n[(eta > 0.75) & (eta < 0.95)].mean()
    endcap = n[(eta > 1.2) & (eta < 1.7)].mean()
    assert 30 <= barrel <= 36 and 28 <= endcap <= 36
    assert transition < barrel - 8 and transition < endcap - 8
    assert eta.max() < 2.0 and n.min() >= 5
    assert np.array_equal(np.asarray(ak.num(a["hit_HTMB"])), n)
    bec = flat(a, "hit_bec")
    assert set(np.unique(bec)) == {-2, -1, 1, 2}
    # end-cap side follows the sign of η; barrel hits at |z| < 712 mm, end-cap at 644–1004 mm
    eta_hit = per_hit(a, "eta")
    assert np.all(np.sign(bec[np.abs(bec) == 2]) == np.sign(eta_hit[np.abs(bec) == 2]))
    assert np.abs(flat(a, "hit_HitZ")[np.abs(bec) == 1]).max() < 712
    r_ec = flat(a, "hit_HitR")[np.abs(bec) == 2]
    assert r_ec.min() >= 643.9 and r_ec.max() <= 1004.1
    # some straws are Ar-filled
    assert 0.1 < a["nArhits"].sum() / n.sum() < 0.35


def test_path_length_in_straw(samples):
    a = samples["electron"]
    r, length = flat(a, "hit_rTrkWire"), flat(a, "hit_L")
    assert r.min() >= 0 and r.max() < 2.0
    np.testing.assert_allclose(length, 2 * np.sqrt(4 - r.astype(np.float64) ** 2), rtol=1e-5)
    # r uniform in the straw
    assert abs(r.mean() - 1.0) < 0.02


# --- ToT ------------------------------------------------------------------------------------
def test_electrons_deposit_more_per_length_at_equal_momentum(samples):
    means = {}
    for species in ("electron", "muon"):
        a = samples[species]
        p = per_hit(a, "p")
        m = (p > 2e3) & (p < 15e3) & (flat(a, "hit_HTMB") == 0) & (flat(a, "hit_gasType") == 0)
        means[species] = (flat(a, "hit_tot")[m] / flat(a, "hit_L")[m]).mean()
    assert means["electron"] > 1.05 * means["muon"]
    tot = flat(samples["electron"], "hit_tot")
    np.testing.assert_array_equal(tot % 3.125, 0)  # quantised in TRT bins
    assert tot.min() >= 0 and tot.max() <= 75
    # HT hits carry extra charge from absorbed TR
    ht = flat(samples["electron"], "hit_HTMB") == 1
    assert tot[ht].mean() > tot[~ht].mean() + 5


# --- ROOT file ------------------------------------------------------------------------------
def test_root_file_schema_and_consistency(root_file):
    for tree in MC_TREES + DATA_TREES:
        a = io.read_tree(root_file, tree, TRACK_BRANCHES + HIT_BRANCHES)
        n = 3000 if tree in MC_TREES else 1500
        assert len(a) == n
        tn = {b: ak.to_numpy(a[b]) for b in TRACK_BRANCHES}
        assert np.array_equal(tn["nTRThits"], ak.to_numpy(ak.num(a["hit_HTMB"])))
        assert np.array_equal(tn["nHThits"], ak.to_numpy(ak.sum(a["hit_HTMB"], axis=1)))
        assert np.array_equal(tn["nArhits"], ak.to_numpy(ak.sum(a["hit_gasType"] == 1, axis=1)))
        assert np.array_equal(tn["nXehits"] + tn["nArhits"], tn["nTRThits"])
        np.testing.assert_allclose(tn["sumL"], ak.to_numpy(ak.sum(a["hit_L"], axis=1)), rtol=1e-5)
        np.testing.assert_allclose(
            tn["sumToT"], ak.to_numpy(ak.sum(a["hit_tot"], axis=1)), rtol=1e-5
        )
        np.testing.assert_allclose(tn["p"], tn["pT"] * np.cosh(tn["eta"]), rtol=1e-5)
        np.testing.assert_allclose(tn["theta"], 2 * np.arctan(np.exp(-tn["eta"])), rtol=1e-5)
        species = tree.split("_")[0]
        pdg = np.abs(tn["pdgId"])
        if tree in MC_TREES:
            assert set(np.unique(pdg)) == {trt.PDG_ID[species]}
            np.testing.assert_allclose(tn["truthMass"], trt.MASS[species], rtol=1e-6)
            assert np.all(tn["weight"] == 1)
        else:  # probes: some pion background, sWeights (negative for background-like masses)
            assert set(np.unique(pdg)) <= {trt.PDG_ID[species], trt.PDG_ID["pion"]}
            sig = pdg == trt.PDG_ID[species]
            np.testing.assert_allclose(tn["truthMass"][sig], trt.MASS[species], rtol=1e-6)
            assert tn["weight"].max() < 2
        # the stored eProbHT is the classical one recomputed from the hits
        np.testing.assert_array_equal(tn["eProbHT"], trt.eprob_ht(a))


def test_same_seed_same_content_different_seed_different(tmp_path, root_file):
    again = trt.generate(
        tmp_path / "a.root", n_tracks=3000, seed=5, data_fraction=0.5, progress=False
    )
    other = trt.generate(
        tmp_path / "b.root", n_tracks=3000, seed=6, data_fraction=0.5, progress=False
    )
    branches = list(TRACK_BRANCHES + HIT_BRANCHES)
    for tree in MC_TREES + DATA_TREES:
        ref = io.read_tree(root_file, tree, branches)
        same = io.read_tree(again, tree, branches)
        diff = io.read_tree(other, tree, branches)
        for b in branches:
            assert ak.array_equal(ref[b], same[b]), (tree, b)
        assert not np.array_equal(ak.to_numpy(ref["p"]), ak.to_numpy(diff["p"]))
        assert not ak.array_equal(ref["hit_tot"], diff["hit_tot"])
    # simulate() gives the same tracks as the corresponding tree of generate()
    sim = trt.simulate(3000, "muon", seed=5)
    ref = io.read_tree(root_file, "muon_mc", branches)
    assert np.array_equal(sim["p"], ak.to_numpy(ref["p"])) and ak.array_equal(
        sim["hit_tot"], ref["hit_tot"]
    )
    rng_a = trt.simulate(50, "pion", rng=np.random.default_rng(3))
    rng_b = trt.simulate(50, "pion", rng=np.random.default_rng(3))
    assert np.array_equal(rng_a["p"], rng_b["p"])


def test_data_differs_from_mc_as_documented():
    mc = trt.simulate(8000, "electron", seed=21)
    data = trt.simulate(8000, "electron", seed=21, data=True)
    assert data["trkOcc"].mean() > 1.15 * mc["trkOcc"].mean()
    # below the TR onset (muons) the HT scale and pile-up raise the HT fraction ...
    mu_mc, mu_data = trt.simulate(8000, "muon", seed=21), trt.simulate(8000, "muon", data=True)
    ht = {
        k: a["nHThits"].sum() / a["nTRThits"].sum() for k, a in (("mc", mu_mc), ("data", mu_data))
    }
    assert ht["data"] > 1.04 * ht["mc"]
    # ... while for electrons the later onset takes part of it back: a shape, not a scale
    sig = np.abs(data["pdgId"]) == 11
    ht_e_data = data["nHThits"][sig].sum() / data["nTRThits"][sig].sum()
    ht_e_mc = mc["nHThits"].sum() / mc["nTRThits"].sum()
    assert ht_e_data / ht_e_mc < ht["data"] / ht["mc"]
    # ToT scale ×0.97 (non-HT hits, same kinematics)
    tot_l = {
        k: (flat(a, "hit_tot") / flat(a, "hit_L"))[flat(a, "hit_HTMB") == 0].mean()
        for k, a in (("mc", mc), ("data", data))
    }
    assert 0.9 < tot_l["data"] / tot_l["mc"] < 0.995
    assert np.all(mc["weight"] == 1) and data["weight"].mean() < 1
    assert data["weight"].min() < 0  # sWeights of background-like probes
    assert trt.DATA_PARAMS.ht_scale == 1.05 and trt.DATA_PARAMS.tot_scale == 0.97


def test_kinematics_identical_for_electrons_and_muons(samples):
    e, m = samples["electron"], samples["muon"]
    for b in ("p", "pT", "eta", "trkOcc", "nTRThits"):
        assert stats.ks_2samp(e[b], m[b]).pvalue > 1e-3, b
    gamma_e = np.asarray(e["p"]) / trt.MASS["electron"]
    gamma_m = np.asarray(m["p"]) / trt.MASS["muon"]
    assert gamma_m.min() < 20 and gamma_e.max() > 1e5


# --- classifiers ----------------------------------------------------------------------------
@pytest.mark.parametrize("background", ["muon", "pion"])
def test_exact_llr_beats_eprobht_and_both_beat_random(samples, background):
    e, b = samples["electron"], samples[background]
    r_eprob = rejection(e["eProbHT"], b["eProbHT"], 0.9)
    llr_e = trt.log_likelihood_ratio(e, background)
    llr_b = trt.log_likelihood_ratio(b, background)
    r_llr = rejection(llr_e, llr_b, 0.9)
    assert r_eprob > 2.5  # random guessing gives 1/0.9
    assert r_llr > 1.5 * r_eprob
    np.testing.assert_allclose(trt.eprob_ht(e), e["eProbHT"])


def test_llr_is_calibrated_and_not_beaten_by_perturbed_models(samples):
    e, m = samples["electron"], samples["muon"]
    llr = np.r_[trt.log_likelihood_ratio(e), trt.log_likelihood_ratio(m)]
    y = np.r_[np.ones(len(e["p"])), np.zeros(len(m["p"]))]
    # with equal priors P(electron | LLR) = sigmoid(LLR): the ratio is the true one
    edges = np.linspace(-3, 3, 7)
    idx = np.digitize(llr, edges)
    for b in range(1, len(edges)):
        sel = idx == b
        expected = special.expit(llr[sel]).mean()
        assert abs(y[sel].mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / sel.sum())
    best = rejection(llr[y == 1], llr[y == 0], 0.9)
    base = trt.MC_PARAMS
    for prm in (
        trt.TRTParams(rise=(0.1, 0.1)),
        trt.TRTParams(rise=(0.4, 0.3)),
        trt.TRTParams(tot_width=(0.35, 0.35)),
        trt.TRTParams(tot_tr=(0.0, 0.0)),
        trt.TRTParams(tot_ion_ht=base.tot_tr),
        trt.TRTParams(ht_scale=1.3),
        trt.TRTParams(rise_center=base.rise_center + 0.4),
    ):
        alt = np.r_[
            trt.log_likelihood_ratio(e, params=prm), trt.log_likelihood_ratio(m, params=prm)
        ]
        assert rejection(alt[y == 1], alt[y == 0], 0.9) <= best * 1.02, prm


def test_llr_on_data_uses_data_response():
    e = trt.simulate(6000, "electron", seed=31, data=True)
    m = trt.simulate(6000, "muon", seed=32, data=True)
    r_data = rejection(
        trt.log_likelihood_ratio(e, data=True), trt.log_likelihood_ratio(m, data=True), 0.9
    )
    assert r_data > 1.5 * rejection(e["eProbHT"], m["eProbHT"], 0.9)


# --- validation -----------------------------------------------------------------------------
def test_bad_parameters_raise(tmp_path):
    with pytest.raises(ValueError, match="n_tracks"):
        trt.simulate(0, "electron")
    with pytest.raises(ValueError, match="n_tracks"):
        trt.generate(tmp_path / "x.root", n_tracks=0, progress=False)
    with pytest.raises(ValueError, match="species"):
        trt.simulate(10, "kaon")
    with pytest.raises(ValueError, match="occupancy"):
        trt.p_ht(1e3, 0, 1, 3, -0.1)
    with pytest.raises(ValueError, match="occupancy"):
        trt.onset_curve(3.0, occupancy=-1.0)
    with pytest.raises(ValueError, match="gas"):
        trt.onset_curve(3.0, gas="Kr")
    with pytest.raises(ValueError, match="region"):
        trt.onset_curve(3.0, region="forward")
    with pytest.raises(ValueError, match="background"):
        trt.log_likelihood_ratio(trt.simulate(5, "muon"), background="kaon")
    with pytest.raises(ValueError, match="data_fraction"):
        trt.generate(tmp_path / "x.root", n_tracks=10, data_fraction=-0.5, progress=False)
    assert not (tmp_path / "x.root").exists()


def test_endcap_b_has_its_own_onset():
    """End-cap B Xe straws follow their own calibration, ≈ 0.25 at γ = 10⁴ and ≈ 0.30 at 10⁵."""
    b = trt.onset_curve(np.array([4.0, 5.0]), "Xe", "endcapB")
    a = trt.onset_curve(np.array([4.0, 5.0]), "Xe", "endcapA")
    np.testing.assert_allclose(b, [0.246, 0.298], atol=0.002)
    assert np.all(b > 1.15 * a)
    # a hit in a B wheel (global end-cap layer >= 96) uses it
    p = trt.p_ht(1e5, "Xe", 2, [50, 120], 0.0)
    assert p[1] > 1.1 * p[0]


def test_eprob_ht_per_hit_corrections_help():
    e, m = trt.simulate(3000, "electron", seed=8), trt.simulate(3000, "muon", seed=9)
    y = np.r_[np.ones(3000), np.zeros(3000)]
    full = np.r_[trt.eprob_ht(e, llr=True), trt.eprob_ht(m, llr=True)]
    sl = np.r_[trt.eprob_ht(e, per_hit=False, llr=True), trt.eprob_ht(m, per_hit=False, llr=True)]
    assert evaluate.auc(y, full) >= evaluate.auc(y, sl) - 1e-4


def test_data_optimum_uses_the_data_response():
    """On data, the ratio with the data response beats the one with the MC response."""
    e = trt.simulate(4000, "electron", seed=31, data=True)
    m = trt.simulate(4000, "muon", seed=32, data=True)
    true = np.r_[np.abs(e["pdgId"]) == 11, np.abs(m["pdgId"]) == 13]
    y = np.r_[np.ones(4000), np.zeros(4000)][true]
    data_llr = np.r_[trt.log_likelihood_ratio(e, data=True), trt.log_likelihood_ratio(m, data=True)]
    mc_llr = np.r_[trt.log_likelihood_ratio(e), trt.log_likelihood_ratio(m)]
    assert evaluate.auc(y, data_llr[true]) > evaluate.auc(y, mc_llr[true])
    assert (
        evaluate.rejection_at(y, data_llr[true], 0.9).rejection
        > evaluate.rejection_at(y, mc_llr[true], 0.9).rejection
    )


def test_sweights_subtract_the_background():
    rng = np.random.default_rng(0)
    from hepnb.chapters.trt.sim import _draw_mass

    m = _draw_mass(9000, 1000, rng)
    w = trt.sweights(m, 9000, 1000)
    assert w.sum() == pytest.approx(9000, rel=0.02)
    assert w[9000:].sum() == pytest.approx(0, abs=150) and w.min() < 0
