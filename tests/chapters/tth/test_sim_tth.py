"""Physics and format tests of the ttH(H→bb) / tt+bb simulator (hepnb.chapters.tth.sim)."""

from __future__ import annotations

import argparse

import awkward as ak
import numpy as np
import pytest
import uproot
from scipy import stats

from hepnb.chapters.tth import schema, sim

N = 5000


@pytest.fixture(scope="module")
def signal() -> dict:
    return sim.generate("signal", N, 11)


@pytest.fixture(scope="module")
def background() -> dict:
    return sim.generate("background", N, 11)


def _np(a: ak.Array) -> np.ndarray:
    return ak.to_numpy(a)


def _gev(a):
    return a / 1000.0


# --- kinematics helpers ---------------------------------------------------------------------


def test_two_body_momentum_analytic() -> None:
    # t → W b with a massless b: p* = (m_t² − m_W²) / 2 m_t
    p = sim.two_body_momentum(172.5, 80.377, 0.0)
    assert p == pytest.approx((172.5**2 - 80.377**2) / (2 * 172.5), rel=1e-12)
    # H → bb̄: p* = √(m_H²/4 − m_b²)
    p = sim.two_body_momentum(125.0, sim.B_MASS, sim.B_MASS)
    assert p == pytest.approx(np.sqrt(125.0**2 / 4 - sim.B_MASS**2), rel=1e-12)
    assert sim.two_body_momentum(9.0, sim.B_MASS, sim.B_MASS) == 0.0  # below threshold


def test_boost_preserves_mass_and_inverts() -> None:
    rng = np.random.default_rng(0)
    m = rng.uniform(1, 100, 1000)
    p3 = rng.normal(0, 50, (1000, 3))
    p = np.concatenate([np.sqrt(m**2 + np.sum(p3**2, 1))[:, None], p3], axis=1)
    beta = rng.normal(0, 1, (1000, 3))
    beta *= (rng.uniform(0, 0.99, 1000) / np.linalg.norm(beta, axis=1))[:, None]
    q = sim.boost(p, beta)
    assert np.allclose(q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, 1), m**2, rtol=1e-6)
    assert np.allclose(sim.boost(q, -beta), p, atol=1e-8 * np.abs(p).max())
    # a particle at rest gets velocity β and energy γ m
    rest = np.stack([m, 0 * m, 0 * m, 0 * m], axis=1)
    moved = sim.boost(rest, beta)
    assert np.allclose(moved[:, 1:] / moved[:, :1], beta)
    assert np.allclose(moved[:, 0], m / np.sqrt(1 - np.sum(beta**2, 1)))


def test_jet_resolution_formula() -> None:
    # σ/E = N/E ⊕ S/√E ⊕ C by hand, N = 3.5 GeV, S = 0.70 √GeV, C = 0.04
    assert sim.jet_resolution(np.array([100.0]))[0] == pytest.approx(
        np.sqrt(0.035**2 + 0.070**2 + 0.04**2)
    )
    assert sim.jet_resolution(np.array([25.0]))[0] == pytest.approx(
        np.sqrt(0.14**2 + 0.14**2 + 0.04**2)
    )
    assert sim.jet_resolution(np.array([1e6]))[0] == pytest.approx(0.04, rel=1e-3)
    # the resolution ATLAS measures for central jets: (24 ± 1.5) % at 20 GeV, (6 ± 0.5) % at
    # 300 GeV (Eur. Phys. J. C 81 (2021) 689, abstract)
    r20, r300 = sim.jet_resolution(np.array([20.0, 300.0]))
    assert abs(r20 - 0.24) < 0.015 and abs(r300 - 0.06) < 0.005


def test_semileptonic_probabilities_from_branching_fractions() -> None:
    # b: direct e, μ (10.7 % each) or τ (2.4 %); independently the charm cascade, e or μ
    # (8.0 % + 1.6 % each): 1 − (1 − 0.238)(1 − 0.192)
    assert sim.P_SEMILEPTONIC["b"] == pytest.approx(1 - (1 - 0.238) * (1 - 0.192), abs=1e-6)
    assert 0.3 < sim.P_SEMILEPTONIC["b"] < 0.4
    assert sim.P_SEMILEPTONIC["c"] == pytest.approx(2 * 0.097)
    assert sim.P_SEMILEPTONIC["light"] == 0.0
    a, b = sim.NU_FRACTION_SHAPE
    assert 0.1 <= a / (a + b) <= 0.2  # mean energy fraction of the neutrinos
    assert abs(sim.B_JET_RESPONSE - (1 - 0.3843 / 6)) < 1e-4  # 1 − p_SL ⟨f⟩


def test_neutrino_fraction_distribution() -> None:
    n = 100_000
    flavour = np.repeat([5, 4, 0], n)
    f = sim.neutrino_fraction(np.random.default_rng(3), flavour)
    assert f.shape == flavour.shape and np.all((f >= 0) & (f < 1))
    assert np.all(f[flavour == 0] == 0)
    for label, name in ((5, "b"), (4, "c")):
        lossy = f[flavour == label] > 0
        p = sim.P_SEMILEPTONIC[name]
        assert abs(lossy.mean() - p) < 4 * np.sqrt(p * (1 - p) / n), name
    # the loss of the jets that hold neutrinos: Beta(a, b), checked by its mean and KS
    loss = f[f > 0]
    a, b = sim.NU_FRACTION_SHAPE
    mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    assert abs(loss.mean() - mean) < 4 * np.sqrt(var / loss.size)
    assert stats.kstest(loss, stats.beta(a, b).cdf).pvalue > 1e-3


def test_simulated_b_jets_lose_energy_at_p_sl() -> None:
    """All clustered jets of one chunk, before the acceptance (which prefers jets that lost
    little): the fraction of b (c) jets holding neutrinos is p_SL within statistics."""
    out = sim._simulate_chunk("background", sim.CHUNK, np.random.default_rng(21))
    valid, flav, f = out["jet_valid"], out["jet_flavour"], out["jet_nu_fraction"]
    for label, name in ((5, "b"), (4, "c")):
        sel = valid & (flav == label)
        n, p = sel.sum(), sim.P_SEMILEPTONIC[name]
        assert n > 2000, name
        assert abs(np.mean(f[sel] > 0) - p) < 4 * np.sqrt(p * (1 - p) / n), name
    assert np.all(f[flav == 0] == 0)


def test_breit_wigner_quartiles_analytic() -> None:
    rng = np.random.default_rng(1)
    m = sim.breit_wigner(rng, 80.0, 2.0, 200_000, 70.0, 90.0)
    assert m.min() >= 70.0 and m.max() <= 90.0
    # truncated Cauchy at ±5Γ: quartiles at M ± Γ/2 · tan(arctan(10) / 2)
    half_iqr = 1.0 * np.tan(np.arctan(10.0) / 2)
    q1, q3 = np.percentile(m, [25, 75])
    assert q3 - q1 == pytest.approx(2 * half_iqr, rel=0.02)
    assert np.median(m) == pytest.approx(80.0, abs=0.02)


# --- truth physics ----------------------------------------------------------------------------


def test_truth_mbb_peaks_at_higgs_only_in_signal(signal, background) -> None:
    ms, mb = _gev(signal["truth_mbb"]), _gev(background["truth_mbb"])
    assert abs(np.median(ms) - schema.HIGGS_MASS) < 2.0
    q1, q3 = np.percentile(ms, [25, 75])
    assert q3 - q1 < 1.0  # on-shell Higgs: the bb pair has its mass
    # g* → bb̄: a falling, broad spectrum, not a peak at 125 GeV
    assert np.mean(np.abs(mb - schema.HIGGS_MASS) < 10) < 0.12
    q1, q3 = np.percentile(mb, [25, 75])
    assert q3 - q1 > 50.0
    assert np.median(mb) < 100.0
    assert mb.min() >= sim.GSTAR_MASS_RANGE[0] - 1e-3
    # gluon splitting prefers collinear pairs
    assert np.median(background["truth_dRbb"]) < np.median(signal["truth_dRbb"])


@pytest.mark.parametrize(
    ("branch", "mass", "width"),
    [
        ("truth_mtop_had", schema.TOP_MASS, schema.TOP_WIDTH),
        ("truth_mtop_lep", schema.TOP_MASS, schema.TOP_WIDTH),
        ("truth_mW_had", schema.W_MASS, schema.W_WIDTH),
        ("truth_mW_lep", schema.W_MASS, schema.W_WIDTH),
    ],
)
def test_truth_masses_follow_breit_wigner(signal, background, branch, mass, width) -> None:
    # invariant masses of the lab-frame daughters: checks the decay chain and the boosts
    m = np.concatenate([_gev(signal[branch]), _gev(background[branch])]).astype(float)
    expected_iqr = width * np.tan(np.arctan(2 * sim.BW_WINDOW) / 2)
    q1, q3 = np.percentile(m, [25, 75])
    assert q3 - q1 == pytest.approx(expected_iqr, rel=0.08)
    assert np.median(m) == pytest.approx(mass, abs=0.06 * width)


def test_reco_higgs_mass_from_matched_jets(signal) -> None:
    """The two jets holding exactly one Higgs b quark each: m_jj peaks below m_H (neutrinos
    of semileptonic decays), with the median, width and low tail of an independent toy
    Monte Carlo of the response model."""
    bits = ak.Array(signal["truth_jet_partons"])
    b1, b2 = bits == sim.PARTON_BITS["b1_X"], bits == sim.PARTON_BITS["b2_X"]
    ok = _np((ak.sum(b1, axis=1) == 1) & (ak.sum(b2, axis=1) == 1))
    assert ok.mean() > 0.4

    def vec(sel):
        pt = _np(ak.sum(_gev(signal["jet_pt"]) * sel, axis=1))[ok].astype(float)
        eta = _np(ak.sum(signal["jet_eta"] * sel, axis=1))[ok].astype(float)
        phi = _np(ak.sum(signal["jet_phi"] * sel, axis=1))[ok].astype(float)
        e = _np(ak.sum(_gev(signal["jet_e"]) * sel, axis=1))[ok].astype(float)
        return e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)

    (e1, x1, y1, z1), (e2, x2, y2, z2) = vec(b1), vec(b2)
    m = np.sqrt((e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2)

    # Toy: scaling the two jets by responses r1, r2 (directions exact) scales m by √(r1 r2);
    # r = (1 − f)(1 + σ(E_vis) z), f = 0 or Beta(a, b) with probability p_SL. The true jet
    # energies and pT are estimated as the measured ones over the mean response, and the
    # toy keeps the pT > 25 GeV acceptance (which removes the largest losses).
    rng = np.random.default_rng(5)
    k = 20
    a, b = sim.NU_FRACTION_SHAPE
    mean_response = 1 - sim.P_SEMILEPTONIC["b"] * a / (a + b)

    def toy_response(e):
        e_true = np.repeat(e / mean_response, k)
        lossy = rng.random(e_true.size) < sim.P_SEMILEPTONIC["b"]
        f = np.where(lossy, rng.beta(a, b, e_true.size), 0.0)
        z = rng.standard_normal(e_true.size)
        return (1 - f) * np.maximum(1 + sim.jet_resolution(e_true * (1 - f)) * z, 0.05)

    r1, r2 = toy_response(e1), toy_response(e2)
    pt1 = np.repeat(np.hypot(x1, y1) / mean_response, k) * r1
    pt2 = np.repeat(np.hypot(x2, y2) / mean_response, k) * r2
    keep = (pt1 > sim.JET_PT_MIN) & (pt2 > sim.JET_PT_MIN)
    toy = schema.HIGGS_MASS * np.sqrt(r1 * r2)[keep]

    def summary(x):
        q16, q50, q84 = np.percentile(x, [16, 50, 84])
        return q50, (q84 - q16) / 2

    median, sigma = summary(m)
    toy_median, toy_sigma = summary(toy)
    assert toy_median < 0.96 * schema.HIGGS_MASS
    assert median < 0.97 * schema.HIGGS_MASS  # peaks below m_H
    assert median == pytest.approx(toy_median, rel=0.01)
    # relative width (half the 16–84 % range, σ for a Gaussian): ATLAS-like, and the toy's
    assert 0.08 < sigma / median < 0.20
    assert sigma == pytest.approx(toy_sigma, rel=0.1)
    # the neutrino losses give a low tail
    low, high = np.sum(m < median - 2 * sigma), np.sum(m > median + 2 * sigma)
    assert low > 2 * high


def test_met_measures_the_neutrino(signal) -> None:
    ratio = signal["met_met"] / signal["truth_met"]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.06)
    assert np.median(np.abs(_gev(signal["met_met"] - signal["truth_met"]))) < 15.0


# --- selection and branch consistency -----------------------------------------------------------


@pytest.mark.parametrize("process", ["signal", "background"])
def test_acceptance_and_preselection(signal, background, process) -> None:
    ev = signal if process == "signal" else background
    pt, eta = _gev(ak.flatten(ev["jet_pt"])), ak.flatten(ev["jet_eta"])
    assert ak.all(pt > sim.JET_PT_MIN) and ak.all(np.abs(eta) < sim.JET_ETA_MAX)
    n_el, n_mu = _np(ak.num(ev["el_pt"])), _np(ak.num(ev["mu_pt"]))
    assert np.all(n_el + n_mu == 1)
    assert 0.45 < n_el.mean() < 0.55  # e and μ at equal rates
    lep_pt = _gev(_np(ak.flatten(ak.concatenate([ev["el_pt"], ev["mu_pt"]], axis=1))))
    lep_eta = _np(ak.flatten(ak.concatenate([ev["el_eta"], ev["mu_eta"]], axis=1)))
    lep_phi = _np(ak.flatten(ak.concatenate([ev["el_phi"], ev["mu_phi"]], axis=1)))
    assert np.all(lep_pt > sim.LEPTON_PT_MIN) and np.all(np.abs(lep_eta) < sim.LEPTON_ETA_MAX)
    charge = _np(ak.flatten(ak.concatenate([ev["el_charge"], ev["mu_charge"]], axis=1)))
    assert set(np.unique(charge)) == {-1.0, 1.0}
    # isolation: no jet within ΔR 0.4 of the lepton
    dphi = (ev["jet_phi"] - lep_phi + np.pi) % (2 * np.pi) - np.pi
    dr = np.sqrt((ev["jet_eta"] - lep_eta) ** 2 + dphi**2)
    assert ak.all(dr > sim.JET_RADIUS - 1e-5)
    assert np.all(ev["nJets"] >= 4) and np.all(ev["nBTags_DL1r_70"] >= 2)


def test_branches_consistent(signal) -> None:
    ev = signal
    f = ev["truth_jet_nu_fraction"]
    assert ak.all(ak.num(f) == ev["nJets"]) and ak.all((f >= 0) & (f < 1))
    assert ak.all((ev["truth_jet_flavour"] != 0) | (f == 0))  # light jets lose nothing
    assert np.array_equal(ev["nJets"], _np(ak.num(ev["jet_pt"])))
    bins = ev["jet_tagWeightBin_DL1r_Continuous"]
    assert ak.all((bins >= 1) & (bins <= 5))
    assert np.array_equal(ev["nBTags_DL1r_70"], _np(ak.sum(bins >= schema.BTAG_BIN_70, axis=1)))
    assert np.allclose(ev["HT_jets"], _np(ak.sum(ev["jet_pt"], axis=1)), rtol=1e-5)
    lep_pt = _np(ak.sum(ev["el_pt"], axis=1) + ak.sum(ev["mu_pt"], axis=1))
    assert np.allclose(ev["HT_all"], ev["HT_jets"] + lep_pt + ev["met_met"], rtol=1e-5)
    assert ak.all(ev["jet_pt"][:, :-1] >= ev["jet_pt"][:, 1:])  # pT-ordered
    # E ≥ |p| and consistent lepton energies
    p = ev["jet_pt"] * np.cosh(ev["jet_eta"])
    assert ak.all(ev["jet_e"] >= p * (1 - 1e-5))
    assert np.all(np.abs(ev["met_phi"]) <= np.pi + 1e-6)
    for name in (*schema.WEIGHT_BRANCHES, "HT_jets", "met_met"):
        assert np.all(np.isfinite(ev[name])), name
    assert ev["nJets"].dtype == np.int32 and ev["nBTags_DL1r_70"].dtype == np.int32
    assert ev["eventNumber"].dtype == np.uint64 and ev["runNumber"].dtype == np.uint32
    assert np.unique(ev["eventNumber"]).size == N
    assert np.all(np.diff(ev["eventNumber"].astype(np.int64)) > 0)


# --- b-tagging ------------------------------------------------------------------------------


def test_btag_tables() -> None:
    for flavour, probs in sim.BTAG_BIN_PROBABILITIES.items():
        assert np.all(probs >= 0) and probs.sum() == pytest.approx(1.0)
        # P(bin ≥ k) reproduces the efficiencies at 85, 77, 70, 60 %
        tail = probs[::-1].cumsum()[::-1][1:]
        assert np.allclose(tail, sim.BTAG_EFFICIENCY[flavour])
    assert sim.BTAG_EFFICIENCY["b"][2] == 0.70
    assert 1 / sim.BTAG_EFFICIENCY["light"][1] == pytest.approx(170)  # [DL1R] at 77 %
    assert 1 / sim.BTAG_EFFICIENCY["c"][1] == pytest.approx(5)


def test_btag_bins_match_efficiencies(signal, background) -> None:
    """Per-jet bin fractions, free of the ≥ 2-tag preselection's bias: only jets whose event
    has ≥ 2 other tagged jets (such events pass whatever this jet's bin)."""
    all_bins, all_flav, all_other = [], [], []
    for ev in (signal, background):
        b = ev["jet_tagWeightBin_DL1r_Continuous"]
        tagged = b >= schema.BTAG_BIN_70
        other = ak.sum(tagged, axis=1) - tagged
        all_bins.append(_np(ak.flatten(b)))
        all_flav.append(_np(ak.flatten(ev["truth_jet_flavour"])))
        all_other.append(_np(ak.flatten(other)))
    bins, flav, other = map(np.concatenate, (all_bins, all_flav, all_other))
    unbiased = other >= sim.MIN_BTAGS_70
    for name, label in sim.FLAVOUR_LABEL.items():
        sel = unbiased & (flav == label)
        n = sel.sum()
        assert n > 1000, name
        observed = np.bincount(bins[sel], minlength=6)[1:] / n
        expected = sim.BTAG_BIN_PROBABILITIES[name]
        sigma = np.sqrt(expected * (1 - expected) / n)
        assert np.all(np.abs(observed - expected) < 5 * sigma + 1e-4), (name, observed, expected)
    b = unbiased & (flav == 5)
    assert np.mean(bins[b] >= 4) == pytest.approx(0.70, abs=0.02)


# --- weights and normalisation ------------------------------------------------------------------


@pytest.mark.parametrize("process", ["signal", "background"])
def test_weight_normalisation(signal, background, process) -> None:
    ev = signal if process == "signal" else background
    sigma_br = (
        schema.SIGMA_TTH * schema.BR_HBB * schema.BR_SINGLE_LEPTON
        if process == "signal"
        else schema.SIGMA_TTBB * schema.BR_SINGLE_LEPTON
    )
    wn = ev["weight_normalise"].astype(float)
    assert np.all(wn == wn[0]) and wn[0] > 0
    w_mc = ev["weight_mc"].astype(float)
    assert np.all(w_mc > 0) and w_mc.std() / w_mc.mean() > 0.05
    for name in schema.WEIGHT_BRANCHES[2:]:
        assert abs(ev[name].mean() - 1) < 0.05 and ev[name].std() < 0.2, name
    # eventNumber counts the generated events: n_generated = the last event's number
    n_generated = int(ev["eventNumber"][-1])
    efficiency = N / n_generated
    assert 0.2 < efficiency < 0.8
    # Σ w_normalise w_mc = σ·BR × (selected Σ w_mc / generated Σ w_mc); weight_mc does not
    # depend on the kinematics, so the weighted efficiency is the counted one within statistics
    expected = sigma_br * efficiency
    spread = w_mc.std() / w_mc.mean()
    assert np.sum(wn * w_mc) == pytest.approx(expected, rel=5 * spread / np.sqrt(N) + 1e-3)
    # luminosity × Π weights: expected events at 139 fb⁻¹
    lumi_pb = schema.LUMINOSITY * 1000
    weight = lumi_pb * np.prod([ev[k].astype(float) for k in schema.WEIGHT_BRANCHES], axis=0)
    assert weight.sum() == pytest.approx(lumi_pb * expected, rel=0.05)


def test_weight_normalise_counts_generated_weights() -> None:
    """weight_normalise × Σ weight_mc of the generated events = σ·BR, with the generated
    weights re-simulated from the same chunk streams."""
    ev = sim.generate("signal", 50, 4)
    n_generated = int(ev["eventNumber"][-1])
    rng = np.random.default_rng([4, 0, 0])
    chunk = sim._simulate_chunk("signal", sim.CHUNK, rng)
    total = np.sum(chunk["weight_mc"][:n_generated], dtype=np.float64)
    sigma_br = schema.SIGMA_TTH * schema.BR_HBB * schema.BR_SINGLE_LEPTON
    assert ev["weight_normalise"][0] * total == pytest.approx(sigma_br, rel=1e-6)


# --- reproducibility, I/O, CLI --------------------------------------------------------------


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        bool(ak.all(a[k] == b[k])) if isinstance(a[k], ak.Array) else np.array_equal(a[k], b[k])
        for k in a
    )


def test_seeds_reproducible_and_distinct() -> None:
    a, b = sim.generate("signal", 200, 5), sim.generate("signal", 200, 5)
    assert _equal(a, b)
    assert not np.array_equal(a["HT_jets"], sim.generate("signal", 200, 6)["HT_jets"])
    bkg = sim.generate("background", 200, 5)
    assert not np.array_equal(a["HT_jets"], bkg["HT_jets"])
    # the first events do not depend on how many were asked for
    more = sim.generate("signal", 300, 5)
    assert np.array_equal(more["HT_jets"][:200], a["HT_jets"])


def test_written_root_equals_generate(tmp_path) -> None:
    paths = sim.write_sample(tmp_path, 300, 8)
    assert set(paths) == {"signal", "background"}
    assert paths["signal"].name == "tth_signal.root"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tth_background.root", "tth_signal.root"]
    for process, path in paths.items():
        expected = sim.generate(process, 300, 8)
        with uproot.open(path) as f:
            assert f.keys(cycle=False) == [schema.TREE]
            tree = f[schema.TREE]
            assert tree.num_entries == 300
            assert tree["nJets"].interpretation.from_dtype == np.dtype(">i4")
            arrays = tree.arrays(list(expected))
        for name, value in expected.items():
            got = arrays[name]
            if isinstance(value, ak.Array):
                assert ak.all(ak.num(got) == ak.num(value)), name
                assert ak.all(got == value), name
            else:
                got = _np(got)
                assert got.dtype == value.dtype, name
                assert np.array_equal(got, value), name
        assert np.array_equal(_np(arrays["nJets"]), _np(ak.num(arrays["jet_pt"])))


def test_bad_input(tmp_path) -> None:
    with pytest.raises(ValueError, match="ttbar"):
        sim.generate("ttbar", 10, 0)
    with pytest.raises(ValueError, match="n_events"):
        sim.generate("signal", 0, 0)
    with pytest.raises(ValueError, match="seed"):
        sim.generate("signal", 10, -1)
    ev = sim.generate("signal", 20, 0)
    broken = {k: v for k, v in ev.items() if k != "met_phi"}
    with pytest.raises(KeyError, match="met_phi"):
        sim.write_root(tmp_path / "x.root", broken)
    bad = dict(ev, nJets=ev["nJets"] + 1)
    with pytest.raises(ValueError, match="nJets"):
        sim.write_root(tmp_path / "x.root", bad)
    assert not list(tmp_path.iterdir())


def test_cli_run(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    sim.add_args(parser)
    assert parser.parse_args(["--out", "x"]).n_events == 20_000
    args = parser.parse_args(["--seed", "2", "--out", str(tmp_path / "s"), "--n-events", "40"])
    out = sim.run(args)
    assert out == tmp_path / "s"
    with uproot.open(out / "tth_background.root") as f:
        assert f[schema.TREE].num_entries == 40
