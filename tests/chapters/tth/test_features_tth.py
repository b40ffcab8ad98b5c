"""Derived ttH event features on hand-built events with known answers (GeV, rad)."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from hepnb.chapters.tth import features, schema
from hepnb.chapters.tth.features import MAKERS
from hepnb.io import SchemaError

Jet = tuple[float, float, float, float, int]  # pt, eta, phi, e, tag bin
Lep = tuple[float, float, float, float]  # pt, eta, phi, e


def make_events(jets: list[list[Jet]], leptons: list[tuple[str, Lep] | None]) -> ak.Array:
    """Events from per-event jet lists and (flavour, lepton) or None."""
    cols: dict[str, list] = {b: [] for b in ("jet_pt", "jet_eta", "jet_phi", "jet_e")}
    cols[schema.JET_BRANCHES[4]] = []
    for b in ("pt", "eta", "phi", "e"):
        cols[f"el_{b}"], cols[f"mu_{b}"] = [], []
    for js, lep in zip(jets, leptons, strict=True):
        for k, b in enumerate(("jet_pt", "jet_eta", "jet_phi", "jet_e", schema.JET_BRANCHES[4])):
            cols[b].append([j[k] for j in js])
        for flavour in ("el", "mu"):
            for k, b in enumerate(("pt", "eta", "phi", "e")):
                hit = lep is not None and lep[0] == flavour
                cols[f"{flavour}_{b}"].append([lep[1][k]] if hit else [])  # type: ignore[index]
    out = {k: ak.values_astype(ak.Array(v), np.float32) for k, v in cols.items()}
    out[schema.JET_BRANCHES[4]] = ak.values_astype(ak.Array(cols[schema.JET_BRANCHES[4]]), np.int32)
    return ak.zip(out, depth_limit=1)


def _p(j) -> tuple[float, float, float, float]:
    pt, eta, phi, e = j[:4]
    return pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), e


def _pair(a, b) -> tuple[float, float]:
    """(ΔR, mass) of two objects, by the textbook formulas."""
    dphi = abs(a[2] - b[2])
    dphi = min(dphi, 2 * math.pi - dphi)
    pa, pb = _p(a), _p(b)
    s = [x + y for x, y in zip(pa, pb, strict=True)]
    return math.hypot(a[1] - b[1], dphi), math.sqrt(
        max(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0)
    )


def test_back_to_back_b_jets_mass_and_delta_r():
    # p1 = −p2 (η → −η, φ → φ + π): m = E1 + E2
    ev = make_events([[(40.0, 0.5, 0.0, 100.0, 5), (40.0, -0.5, math.pi, 100.0, 5)]], [None])
    assert MAKERS["Mbb_MindR"](ev)[0] == pytest.approx(200.0, rel=1e-6)
    assert MAKERS["Mbb_Higgs"](ev)[0] == pytest.approx(200.0, rel=1e-6)
    assert MAKERS["dRbb_avg"](ev)[0] == pytest.approx(math.hypot(1.0, math.pi), rel=1e-6)


def test_delta_r_wraps_phi_across_the_pi_boundary():
    a, b = (50.0, 0.2, 3.0, 60.0, 4), (50.0, 0.2, -3.0, 60.0, 4)
    ev = make_events([[a, b]], [None])
    assert MAKERS["dRbb_avg"](ev)[0] == pytest.approx(2 * math.pi - 6.0, rel=1e-5)
    # |p1 + p2| from the hand formulas: px = 100 cos 3, py = 0, pz = 100 sinh 0.2
    m = math.sqrt(120.0**2 - (100 * math.cos(3.0)) ** 2 - (100 * math.sinh(0.2)) ** 2)
    assert MAKERS["Mbb_MindR"](ev)[0] == pytest.approx(m, rel=1e-5)


def test_candidates_are_all_the_70_percent_tagged_jets_in_pt_order():
    light = (300.0, 0.0, 0.1, 300.0, 1)  # hardest, and ΔR = 0.1 from b1: not tagged
    near3 = (180.0, 0.05, 0.05, 180.0, 3)  # bin 3 (77 %, not 70 %), ΔR ≈ 0.07 from b1
    b1 = (200.0, 0.0, 0.0, 200.0, 5)
    b2 = (150.0, 1.0, 2.0, 150.0 * math.cosh(1.0), 4)
    b3 = (100.0, -1.0, -2.0, 100.0 * math.cosh(1.0), 4)
    b4 = (70.0, 2.0, 1.0, 70.0 * math.cosh(2.0), 5)
    b5 = (50.0, 1.8, 0.8, 50.0 * math.cosh(1.8), 4)  # fifth tagged jet, the closest to b4
    tagged = [b1, b2, b3, b4, b5]
    pairs = [_pair(tagged[i], tagged[k]) for i in range(5) for k in range(i + 1, 5)]
    assert min(pairs) == _pair(b4, b5)  # the closest tagged pair needs the fifth tagged jet
    dr_avg = sum(p[0] for p in pairs) / 10
    m_mindr = _pair(b4, b5)[1]
    m_higgs = min(pairs, key=lambda p: abs(p[1] - 125.0))[1]
    order = [light, b1, near3, b2, b3, b4, b5]
    shuffled = [b5, near3, b3, light, b4, b1, b2]  # the makers do not rely on the pT order
    ev = make_events([order, shuffled], [None, None])
    for name, want in (("dRbb_avg", dr_avg), ("Mbb_MindR", m_mindr), ("Mbb_Higgs", m_higgs)):
        np.testing.assert_allclose(MAKERS[name](ev), [want, want], rtol=1e-5, err_msg=name)
    cand = features.b_candidates(ev)
    assert cand.pt.to_list() == [[200.0, 150.0, 100.0, 70.0, 50.0]] * 2
    assert cand.tag.to_list() == [[5, 4, 4, 5, 4]] * 2


def test_three_tagged_jets_average_their_three_pairs_untagged_jets_ignored():
    # massless jets at η = 0: ΔR = |Δφ|, m² = 2 pT1 pT2 (1 − cos Δφ)
    a, b, c = (80.0, 0.0, 0.0, 80.0, 4), (60.0, 0.0, 1.0, 60.0, 5), (40.0, 0.0, 2.5, 40.0, 4)
    untagged = (70.0, 0.0, 0.5, 70.0, 3)  # ΔR = 0.5 from a and b: closer than any tagged pair
    ev = make_events([[a, untagged, b, c]], [None])
    assert MAKERS["dRbb_avg"](ev)[0] == pytest.approx((1.0 + 2.5 + 1.5) / 3, rel=1e-6)
    m_ab = math.sqrt(2 * 80 * 60 * (1 - math.cos(1.0)))  # ΔR = 1.0, the closest tagged pair
    assert MAKERS["Mbb_MindR"](ev)[0] == pytest.approx(m_ab, rel=1e-5)


def test_mbb_higgs_takes_the_pair_closest_to_125_and_mindr_the_closest_pair():
    # massless jets at η = 0: m² = 2 pT1 pT2 (1 − cos Δφ)
    a, b, c = (
        (100.0, 0.0, 0.0, 100.0, 5),
        (100.0, 0.0, 1.2, 100.0, 5),
        (40.0, 0.0, math.pi, 40.0, 5),
    )
    # untagged (bin 3), at exactly m = 125 GeV with a: 1 − cos Δφ = 125² / (2 · 100 · 100)
    d = (100.0, 0.0, -math.acos(1 - 125.0**2 / 2e4), 100.0, 3)
    ev = make_events([[a, b, d, c]], [None])
    m_ab = math.sqrt(2e4 * (1 - math.cos(1.2)))  # 112.9 GeV, ΔR = 1.2 (the closest pair)
    m_ac = math.sqrt(2 * 4000 * 2)  # 126.5 GeV, the tagged pair closest to 125
    assert MAKERS["Mbb_MindR"](ev)[0] == pytest.approx(m_ab, rel=1e-5)
    assert MAKERS["Mbb_Higgs"](ev)[0] == pytest.approx(m_ac, rel=1e-5)


def test_pair_features_are_zero_with_fewer_than_two_tagged_jets():
    one_tag = [
        (120.0, 0.0, 0.0, 120.0, 5),
        (90.0, 0.5, 1.0, 90.0 * math.cosh(0.5), 3),
        (60.0, -0.5, 2.0, 60.0 * math.cosh(0.5), 2),
        (40.0, 1.0, -1.5, 40.0 * math.cosh(1.0), 1),
    ]
    ev = make_events(
        [one_tag, [(50.0, 0.0, 0.0, 50.0, 5)], []],
        [("mu", (30.0, 0.0, 1.0, 30.0)), ("el", (30.0, 0.0, 1.0, 30.0)), None],
    )
    for name in ("dRbb_avg", "Mbb_MindR", "Mbb_Higgs"):
        np.testing.assert_array_equal(MAKERS[name](ev), [0.0, 0.0, 0.0], err_msg=name)
    assert features.b_candidates(ev).pt.to_list() == [[120.0], [50.0], []]
    # no jet nor lepton: aplanarity and centrality are 0 too
    assert MAKERS["aplanarity"](ev)[2] == 0.0 and MAKERS["centrality"](ev)[2] == 0.0


def _from_p3(px: float, py: float, pz: float, tag: int = 5) -> Jet:
    pt = math.hypot(px, py)
    return (pt, math.asinh(pz / pt), math.atan2(py, px), math.sqrt(pt**2 + pz**2), tag)


def test_aplanarity_planar_linear_isotropic_and_an_analytic_case():
    planar = [_from_p3(100 * math.cos(f), 100 * math.sin(f), 0) for f in (0.1, 1.3, 2.9, -2.0)]
    linear = [_from_p3(0, 80, 60), _from_p3(0, -40, -30)]
    # the eight cube diagonals (±1, ±1, ±1): S = 1/3 · identity, A = 1/2
    cube = [
        _from_p3(50 * sx, 50 * sy, 50 * sz) for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)
    ]
    # ±a u1, ±b u2, ±c u3 along three orthogonal axes: eigenvalues a², b², c² / (a² + b² + c²)
    r = 1 / math.sqrt(2)
    a, b, c = 3.0, 2.0, 1.0
    axes = [(a, 0, 0), (-a, 0, 0), (0, b * r, b * r), (0, -b * r, -b * r), (0, c * r, -c * r)]
    last = _from_p3(0, -c * r, c * r)  # the sixth momentum is the lepton (a muon)
    ev = make_events(
        [planar, linear, cube[:7], [_from_p3(*p) for p in axes]],
        [None, None, ("el", cube[7][:4]), ("mu", last[:4])],
    )
    got = MAKERS["aplanarity"](ev)
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 1.5 * c**2 / (a**2 + b**2 + c**2)], atol=1e-6)


def test_centrality_of_central_and_forward_events_counts_the_lepton():
    central = [(100.0, 0.0, 0.0, 100.0, 5), (60.0, 0.0, 2.0, 60.0, 1)]
    forward = [
        (100.0, 2.0, 0.0, 100 * math.cosh(2.0), 5),
        (60.0, -2.0, 2.0, 60 * math.cosh(2.0), 1),
    ]
    ev = make_events(
        [central, forward, central],
        [None, None, ("mu", (50.0, 2.0, 1.0, 50 * math.cosh(2.0)))],
    )
    want = [1.0, 1 / math.cosh(2.0), 210.0 / (160.0 + 50 * math.cosh(2.0))]
    np.testing.assert_allclose(MAKERS["centrality"](ev), want, rtol=1e-6)


def test_lepton_from_muon_or_electron_ht_and_77_percent_tags():
    jets = [(100.0, 0.0, 0.0, 100.0, b) for b in (1, 2, 3, 4, 5)]
    ev = make_events(
        [jets, jets[:2], []],
        [("mu", (25.0, -1.5, 2.5, 60.0)), ("el", (40.0, 0.5, -1.0, 45.0)), None],
    )
    np.testing.assert_array_equal(MAKERS["lep_pt"](ev), [25.0, 40.0, 0.0])
    np.testing.assert_array_equal(MAKERS["lep_eta"](ev), [-1.5, 0.5, 0.0])
    np.testing.assert_array_equal(MAKERS["lep_phi"](ev), [2.5, -1.0, 0.0])
    np.testing.assert_array_equal(MAKERS["lep_e"](ev), [60.0, 45.0, 0.0])
    np.testing.assert_array_equal(MAKERS["HT"](ev), [525.0, 240.0, 0.0])
    np.testing.assert_array_equal(MAKERS["nBTags_77"](ev), [3.0, 0.0, 0.0])
    for m in MAKERS.values():
        out = m(ev)
        assert out.dtype == np.float32 and out.shape == (3,), m.name


def test_makers_match_a_per_event_reference_on_random_events():
    """Vectorised makers against textbook per-event loops, on events with every tag bin."""
    rng = np.random.default_rng(7)
    jets, leptons = [], []
    for n in rng.integers(0, 9, 40):
        js = []
        for _ in range(n):
            pt, eta = float(rng.uniform(25, 300)), float(rng.uniform(-2.5, 2.5))
            m = float(rng.uniform(0, 20))
            e = math.sqrt((pt * math.cosh(eta)) ** 2 + m**2)
            js.append((pt, eta, float(rng.uniform(-math.pi, math.pi)), e, int(rng.integers(1, 6))))
        jets.append(js)
        leptons.append(
            ("el" if rng.random() < 0.5 else "mu", (40.0, 0.3, 1.0, 40 * math.cosh(0.3)))
        )
    ev = make_events(jets, leptons)
    got = {k: MAKERS[k](ev) for k in ("dRbb_avg", "Mbb_MindR", "Mbb_Higgs", "aplanarity")}
    f32 = [[tuple(float(np.float32(x)) for x in j) for j in js] for js in jets]
    for i, js in enumerate(f32):
        cand = [j for j in js if j[4] >= 4]  # b-tagged at 70 %, all of them
        pairs = [_pair(cand[a], cand[b]) for a in range(len(cand)) for b in range(a + 1, len(cand))]
        want_dr = sum(p[0] for p in pairs) / len(pairs) if pairs else 0.0
        want_mindr = min(pairs)[1] if pairs else 0.0
        want_higgs = min(pairs, key=lambda p: abs(p[1] - 125.0))[1] if pairs else 0.0
        p3 = np.array([_p(j)[:3] for j in js] + [_p(leptons[i][1])[:3]])
        s = p3.T @ p3 / (p3**2).sum()
        want_apl = 1.5 * np.linalg.eigvalsh(s)[0]
        assert got["dRbb_avg"][i] == pytest.approx(want_dr, rel=1e-5, abs=1e-6)
        assert got["Mbb_MindR"][i] == pytest.approx(want_mindr, rel=1e-4, abs=1e-4)
        assert got["Mbb_Higgs"][i] == pytest.approx(want_higgs, rel=1e-4, abs=1e-4)
        assert got["aplanarity"][i] == pytest.approx(want_apl, rel=1e-4, abs=1e-6)


def test_maker_without_its_branches_names_them():
    ev = ak.zip({"jet_pt": ak.Array([[1.0]])}, depth_limit=1)
    with pytest.raises(KeyError, match=r"'lep_pt' needs .*el_pt"):
        MAKERS["lep_pt"](ev)


def test_registry_is_documented():
    known = {*schema.JET_BRANCHES, *schema.ELECTRON_BRANCHES, *schema.MUON_BRANCHES}
    for name, m in MAKERS.items():
        assert m.name == name and m.doc and m.unit in ("GeV", "rad", "")
        assert set(m.needs) <= known, name


# --- resolve ------------------------------------------------------------------------------------
FILE = [*schema.JET_BRANCHES, *schema.ELECTRON_BRANCHES, *schema.MUON_BRANCHES, "nJets"]


def test_resolve_returns_features_then_the_makers_needs_once():
    got = features.resolve(["nJets", "jet_pt"], ["HT", "nBTags_77"], FILE, "f.root")
    assert got == [
        "nJets",
        "jet_pt",
        "el_pt",
        "el_eta",
        "el_phi",
        "el_e",
        "mu_pt",
        "mu_eta",
        "mu_phi",
        "mu_e",
        "jet_tagWeightBin_DL1r_Continuous",
    ]


def test_resolve_unknown_maker_lists_the_makers_and_near_matches():
    with pytest.raises(KeyError, match=r"'Mbb_mindR'.*did you mean 'Mbb_MindR'.*'aplanarity'"):
        features.resolve(["jet_pt"], ["Mbb_mindR"], FILE, "f.root")


def test_resolve_missing_branches_name_the_file_and_near_matches():
    with pytest.raises(SchemaError, match=r"f\.root: feature 'jet_ptt'.*did you mean 'jet_pt'"):
        features.resolve(["jet_ptt"], [], FILE, "f.root")
    no_muons = [b for b in FILE if not b.startswith("mu_")]
    with pytest.raises(SchemaError, match=r"f\.root: feature maker 'lep_pt' needs branch 'mu_pt'"):
        features.resolve(["jet_pt"], ["lep_pt"], no_muons, "f.root")


def test_sort4_variants_take_the_four_jets_of_highest_tag_bin():
    """Sort4: the four jets of highest tag bin, tagged or not, ties by pT; the bin-1 jet is
    left out even though it would make the closest pair and the pair nearest m_H."""
    b1 = (120.0, 0.0, 0.0, 120.0, 5)
    b2 = (90.0, 1.2, 2.0, 90.0 * math.cosh(1.2), 4)
    c3 = (80.0, -0.8, -1.5, 80.0 * math.cosh(0.8), 3)  # untagged at 70 %: a Sort4 candidate
    l2a = (60.0, 0.6, 0.9, 60.0 * math.cosh(0.6), 2)  # bin 2, harder: wins the tie with l2b
    l2b = (40.0, 0.1, 0.2, 40.0 * math.cosh(0.1), 2)  # bin 2, softer: not a candidate
    light = (200.0, 0.05, 0.05, 200.0 * math.cosh(0.05), 1)  # ΔR 0.07 from b1
    ev = make_events([[light, b1, b2, c3, l2a, l2b]], [None])
    cands = [b1, b2, c3, l2a]
    pairs = [_pair(cands[i], cands[k]) for i in range(4) for k in range(i + 1, 4)]
    assert MAKERS["dRbb_avg_Sort4"](ev)[0] == pytest.approx(
        np.mean([p[0] for p in pairs]), rel=1e-5
    )
    assert MAKERS["Mbb_MindR_Sort4"](ev)[0] == pytest.approx(min(pairs)[1], rel=1e-5)
    nearest = min(pairs, key=lambda p: abs(p[1] - schema.HIGGS_MASS))[1]
    assert MAKERS["Mbb_Higgs_Sort4"](ev)[0] == pytest.approx(nearest, rel=1e-5)
    # the b-tagged definition sees only b1 and b2
    assert MAKERS["Mbb_MindR"](ev)[0] == pytest.approx(_pair(b1, b2)[1], rel=1e-5)
    assert list(ak.to_list(features.sort4(ev).tag[0])) == [5, 4, 3, 2]
