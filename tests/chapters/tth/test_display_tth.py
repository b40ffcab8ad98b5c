"""The ttH chapter's displays (:mod:`hepnb.chapters.tth.display`): what each draws and
computes, checked against hand-built events, numpy and the kinematics worked out by hand."""

from __future__ import annotations

import awkward as ak
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Circle

from hepnb.chapters.tth import schema
from hepnb.chapters.tth.display import (
    JET_RADIUS,
    N_B_CANDIDATES,
    TAG_COLOURS,
    TthEventDisplay,
    b_candidates,
    closest_b_pair,
    feature_validation,
    plot_correlations,
    plot_mbb,
    plot_regions,
    region_table,
    weighted_corrcoef,
    weighted_correlations,
)
from hepnb.chapters.tth.events import Events
from hepnb.chapters.tth.features import MAKERS

matplotlib.use("Agg")

JET_FEATURES = ("jet_pt", "jet_e", "jet_eta", "jet_phi", "jet_tagWeightBin_DL1r_Continuous")
TAG = 4
EVENT_FEATURES = ("nJets", "HT_jets", "met_met", "met_phi", "lep_pt", "lep_eta", "lep_phi")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _make(
    pt, eta, phi, tag, mask, event, label, weight=None, njet=None, nbtag=None, e=None, pad=0, **kw
) -> Events:
    """Events from per-jet arrays ``(N, J)``; padded jets hold 0 (``pad=None``: as given)."""
    pt, eta, phi = (np.asarray(a, np.float64) for a in (pt, eta, phi))
    tag, mask = np.asarray(tag, np.float64), np.asarray(mask, bool)
    e = pt * np.cosh(eta) if e is None else np.asarray(e, np.float64)
    jets = np.stack([pt, e, eta, phi, tag], axis=-1)
    if pad is not None:
        jets = np.where(mask[..., None], jets, pad)
    n = len(label)
    return Events(
        jets=jets.astype(np.float32),
        mask=mask,
        event=np.asarray(event, np.float32).reshape(n, -1),
        weight=np.ones(n) if weight is None else np.asarray(weight, np.float64),
        label=np.asarray(label, np.int8),
        event_number=np.arange(100, 100 + n, dtype=np.uint64),
        entry=np.arange(n, dtype=np.int64),
        file_index=np.zeros(n, np.int32),
        njet=mask.sum(1).astype(np.int32) if njet is None else np.asarray(njet, np.int32),
        nbtag=(
            ((tag >= 4) & mask).sum(1).astype(np.int32)
            if nbtag is None
            else np.asarray(nbtag, np.int32)
        ),
        jet_features=kw.pop("jet_features", JET_FEATURES),
        event_features=kw.pop("event_features", EVENT_FEATURES),
        units={"jet_pt": "GeV", "jet_e": "GeV", "jet_phi": "rad", "HT_jets": "GeV"},
        **kw,
    )


def _random(seed: int = 0, n_sig: int = 300, n_bkg: int = 400, J: int = 6) -> Events:
    """Random events: 3…J real pT-ordered jets, tag bins 1–5, signal heavier, some negative
    background weights."""
    rng = np.random.default_rng(seed)
    n = n_sig + n_bkg
    label = np.r_[np.ones(n_sig), np.zeros(n_bkg)].astype(int)
    pt = -np.sort(-rng.exponential(60.0, (n, J)) - 25.0, axis=1) * (1 + 0.3 * label[:, None])
    eta = rng.uniform(-2.5, 2.5, (n, J))
    phi = rng.uniform(-np.pi, np.pi, (n, J))
    tag = rng.integers(1, 6, (n, J))
    njet = rng.integers(3, J + 1, n)
    mask = np.arange(J)[None, :] < njet[:, None]
    ht = (pt * mask).sum(1)
    met = rng.exponential(50.0, n)
    event = np.column_stack(
        [
            njet,
            ht,
            met,
            rng.uniform(-np.pi, np.pi, n),
            rng.exponential(40, n) + 27,
            rng.uniform(-2.5, 2.5, n),
            rng.uniform(-np.pi, np.pi, n),
        ]
    )
    weight = rng.uniform(0.5, 1.5, n) * np.where(label == 1, 0.01, 0.1)
    weight[n_sig::17] *= -1.0
    return _make(pt, eta, phi, tag, mask, event, label, weight)


def _hand() -> Events:
    """Three signal events and one background event, built so the closest pair is known.

    Event 0: five jets, bins 5, 4, 1, 4, 3: the jets b-tagged at 70 % are jets 0, 1, 3 (jet 2,
    untagged, sits right next to jet 0 and must stay out; jet 4, bin 3, is a Sort4 candidate
    but not tagged); jet 0 at φ = 3.0 and jet 3 at φ = −3.0 are 0.30 apart across φ = ±π;
    jet 5 is padding holding a bin-5 jet on top of jet 0 (the mask must keep it out). Event 1:
    three jets, one b-tag at 70 %: no pair. Event 2: one jet, no pair. Event 3 (background):
    five jets all in bin 4, all candidates (no cap at four): the fifth, jet 4, sits next to
    jet 0 and makes the closest pair (Sort4 would leave it out).
    """
    pt = [
        [200, 150, 90, 60, 40, 7],
        [120, 80, 40, 0, 0, 0],
        [80, 0, 0, 0, 0, 0],
        [100, 90, 50, 30, 20, 0],
    ]
    eta = [
        [0.0, 1.0, 0.05, 0.1, -2.0, 0.0],
        [0.5, -1.0, 2.0, 0, 0, 0],
        [0.3, 0, 0, 0, 0, 0],
        [-0.3, 0.4, 1.0, 0.0, -0.3, 0],
    ]
    phi = [
        [3.0, 0.0, 2.9, -3.0, -1.0, 3.0],
        [1.0, -1.0, 0.0, 0, 0, 0],
        [0.5, 0, 0, 0, 0, 0],
        [0.2, 1.7, -2.0, 2.5, 0.3, 0],
    ]
    tag = [[5, 4, 1, 4, 3, 5], [5, 2, 1, 0, 0, 0], [4, 0, 0, 0, 0, 0], [4, 4, 4, 4, 4, 0]]
    mask = [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0],
    ]
    event = [
        [5, 540.0, 80.0, 1.2, 50.0, -1.1, -2.0],
        [3, 240.0, 30.0, -0.4, 35.0, 0.7, 2.2],
        [1, 80.0, 20.0, 0.1, 30.0, 0.2, 1.0],
        [5, 290.0, 60.0, 2.0, 45.0, 0.0, 0.5],
    ]
    return _make(
        pt,
        eta,
        phi,
        tag,
        mask,
        event,
        [1, 1, 1, 0],
        [0.2, 0.3, 0.1, -0.5],
        njet=[7, 3, 1, 5],
        pad=None,
    )


def _mass(pt1, eta1, phi1, pt2, eta2, phi2):
    """Mass of two massless jets: m² = 2 pT₁ pT₂ (cosh Δη − cos Δφ)."""
    return np.sqrt(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)))


def _has_label(ax) -> bool:
    return any(t.get_text() == "ATLAS" for t in ax.texts)


# --- closest b pair -----------------------------------------------------------------------


def test_b_candidates_are_the_jets_tagged_at_70_percent_all_of_them():
    cand = b_candidates(_hand())
    np.testing.assert_array_equal(
        cand,
        [
            [1, 1, 0, 1, 0, 0],
            [1, 0, 0, 0, 0, 0],
            [1, 0, 0, 0, 0, 0],
            [1, 1, 1, 1, 1, 0],
        ],
    )
    # the Sort4 variant: the four jets of highest tag bin, ties by pT, tagged or not
    sort4 = b_candidates(_hand(), n_candidates=N_B_CANDIDATES, min_bin=None)
    np.testing.assert_array_equal(
        sort4,
        [
            [1, 1, 0, 1, 1, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 0, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
        ],
    )
    with pytest.raises(ValueError, match="n_candidates=1"):
        b_candidates(_hand(), n_candidates=1)


def test_closest_b_pair_wraps_phi_ignores_untagged_jets_and_padding_and_gives_the_mass():
    pair = closest_b_pair(_hand())
    np.testing.assert_array_equal(pair.first, [0, -1, -1, 0])
    np.testing.assert_array_equal(pair.second, [3, -1, -1, 4])
    np.testing.assert_allclose(pair.dr[0], np.hypot(0.1, 2 * np.pi - 6.0), rtol=1e-6)
    np.testing.assert_allclose(pair.dr[3], 0.1, rtol=1e-5)
    assert np.isnan(pair.dr[1:3]).all() and np.isnan(pair.mbb[1:3]).all()
    np.testing.assert_allclose(pair.mbb[0], _mass(200, 0.0, 3.0, 60, 0.1, -3.0), rtol=1e-5)
    np.testing.assert_allclose(pair.mbb[3], _mass(100, -0.3, 0.2, 20, -0.3, 0.3), rtol=1e-5)
    # the Sort4 variant: event 1's three jets pair up, event 3 loses its fifth jet
    sort4 = closest_b_pair(_hand(), n_candidates=N_B_CANDIDATES, min_bin=None)
    np.testing.assert_array_equal(sort4.first, [0, 0, -1, 1])
    np.testing.assert_array_equal(sort4.second, [3, 2, -1, 3])
    np.testing.assert_allclose(sort4.mbb[1], _mass(120, 0.5, 1.0, 40, 2.0, 0.0), rtol=1e-5)
    np.testing.assert_allclose(sort4.mbb[3], _mass(90, 0.4, 1.7, 30, 0.0, 2.5), rtol=1e-5)


def _reference_pair(ev: Events, row: int) -> tuple[float, float]:
    """(ΔR, m_bb) of one event, the plain way: keep the real jets of tag bin ≥ 4, try every
    pair."""
    jets = ev.jets[row][ev.mask[row]].astype(float)
    tagged = [k for k in range(len(jets)) if jets[k, 4] >= 4]
    best = (np.nan, np.nan)
    for x, a in enumerate(tagged):
        for b in tagged[x + 1 :]:
            dphi = np.angle(np.exp(1j * (jets[a, 3] - jets[b, 3])))
            dr = float(np.hypot(jets[a, 2] - jets[b, 2], dphi))
            if not dr >= best[0]:  # also the first pair (NaN)
                (pa, ea, fa, qa), (pb, eb, fb, qb) = jets[a, [0, 2, 3, 1]], jets[b, [0, 2, 3, 1]]
                px = pa * np.cos(fa) + pb * np.cos(fb)
                py = pa * np.sin(fa) + pb * np.sin(fb)
                pz = pa * np.sinh(ea) + pb * np.sinh(eb)
                best = (dr, float(np.sqrt(max((qa + qb) ** 2 - px**2 - py**2 - pz**2, 0.0))))
    return best


def test_closest_b_pair_matches_a_plain_per_event_loop_and_chunks_change_nothing():
    ev = _random(1, 60, 60)
    pair = closest_b_pair(ev)
    ref = np.array([_reference_pair(ev, i) for i in range(len(ev))])
    assert np.isnan(ref[:, 0]).any() and (np.sum(ev.jets[..., 4] >= 4, axis=1) > 4).any()
    np.testing.assert_allclose(pair.dr, ref[:, 0], rtol=1e-6)
    np.testing.assert_allclose(pair.mbb, ref[:, 1], rtol=1e-4)
    chunked = closest_b_pair(ev, chunk=7)
    for a, b in zip(pair, chunked, strict=True):
        np.testing.assert_array_equal(a, b)


def test_closest_b_pair_mass_is_the_mbb_mindr_feature():
    """The display's pair and the feature maker agree when every jet is stored (NaN ↔ 0)."""
    ev = _random(2, 100, 100)
    m = np.asarray(ev.mask)
    arrays = {f: ak.unflatten(ev.jets[..., k][m], m.sum(1)) for k, f in enumerate(JET_FEATURES)}
    arrays[JET_FEATURES[4]] = ak.values_astype(arrays[JET_FEATURES[4]], np.int32)
    feature = MAKERS["Mbb_MindR"](ak.zip(arrays, depth_limit=1))
    mbb = closest_b_pair(ev).mbb
    assert np.isnan(mbb).any() and np.isfinite(mbb).any()
    np.testing.assert_array_equal(feature[np.isnan(mbb)], 0.0)
    np.testing.assert_allclose(feature[np.isfinite(mbb)], mbb[np.isfinite(mbb)], rtol=1e-5)


# --- event display ------------------------------------------------------------------------


def test_display_draws_jets_as_r04_circles_coloured_by_tag_bin_with_the_pair_lepton_and_met():
    ev = _hand()
    display = TthEventDisplay(ev)
    assert display.state == {"sample": "signal", "index": 0}
    ax = display.figure.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle) and p.get_gid() == "jet"]
    assert len(circles) == 5  # padding (jet 5, bin 5) not drawn
    centres = np.array([c.center for c in circles])
    np.testing.assert_allclose(centres[:, 0], [0.0, 1.0, 0.05, 0.1, -2.0], atol=1e-6)
    np.testing.assert_allclose(centres[:, 1], [3.0, 0.0, 2.9, -3.0, -1.0], atol=1e-6)
    assert all(c.radius == JET_RADIUS for c in circles)
    expected = [TAG_COLOURS[b] for b in (5, 4, 1, 4, 3)]
    for c, colour in zip(circles, expected, strict=True):
        np.testing.assert_allclose(
            c.get_facecolor()[:3], matplotlib.colors.to_rgb(colour), atol=1e-6
        )
    # jets within R of φ = ±π get a copy on the other side
    wraps = np.array([p.center for p in ax.patches if p.get_gid() == "jet_wrap"])
    np.testing.assert_allclose(
        sorted(wraps[:, 1]), sorted([3.0 - 2 * np.pi, 2.9 - 2 * np.pi, -3.0 + 2 * np.pi]), 1e-6
    )
    # marker area ∝ pT
    (axis,) = [c for c in ax.collections if c.get_gid() == "jet_axis"]
    sizes = axis.get_sizes()
    np.testing.assert_allclose(sizes / sizes[0], np.array([200, 150, 90, 60, 40]) / 200, 1e-5)
    # the pair (jets 0 and 3) joined the short way across φ = ±π
    (line,) = [a for a in ax.lines if a.get_gid() == "bb_pair"]
    short = 2 * np.pi - 6.0
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.1, np.nan, 0.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(
        line.get_ydata(), [3.0, 3.0 + short, np.nan, -3.0, -3.0 - short], atol=1e-5
    )
    (lep,) = [c for c in ax.collections if c.get_gid() == "lepton"]
    np.testing.assert_allclose(lep.get_offsets(), [[-1.1, -2.0]], atol=1e-6)
    (met,) = [a for a in ax.lines if a.get_gid() == "met"]
    np.testing.assert_allclose(met.get_ydata(), [1.2, 1.2], atol=1e-6)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [f"{b}: {schema.TAG_BINS[b]}" for b in range(1, 6)] == legend[:5]
    assert ax.get_xlabel() == r"$\eta$" and ax.get_ylabel() == r"$\phi$ [rad]"
    assert _has_label(ax)
    title = display.figure._suptitle.get_text()
    mbb = _mass(200, 0.0, 3.0, 60, 0.1, -3.0)
    for part in ("weight = 0.2", "nJets = 7", "nbtag = 3", f"{mbb:.1f} GeV"):
        assert part in title
    nums = display.numbers
    assert nums["nJets"] == 7 and nums["nbtag (70%)"] == 3 and nums["jets shown"] == 5
    assert nums["weight"] == pytest.approx(0.2)
    assert nums["m_bb [GeV]"] == pytest.approx(mbb, rel=1e-5)
    assert nums["eventNumber"] == 100
    assert display.png()[:4] == b"\x89PNG"


def test_display_slider_runs_over_the_events_of_the_chosen_process():
    ev = _hand()
    display = TthEventDisplay(ev)
    display.set(index=1)
    assert display.numbers["eventNumber"] == 101
    assert np.isnan(display.numbers["m_bb [GeV]"])  # one jet b-tagged at 70 %: no pair
    assert "no b-jet pair" in display.figure._suptitle.get_text()
    assert not [a for a in display.figure.axes[0].lines if a.get_gid() == "bb_pair"]
    display.set(index=2)
    assert display.numbers["eventNumber"] == 102
    assert np.isnan(display.numbers["m_bb [GeV]"])
    display.set(sample="background")  # one event: the index is clamped
    assert display.state == {"sample": "background", "index": 0}
    assert display.numbers["eventNumber"] == 103
    assert display.numbers["weight"] == pytest.approx(-0.5)
    # all five jets tagged: the pair is jets 0 and 4 (beyond Sort4's four), joined and outlined
    assert display.numbers["m_bb [GeV]"] == pytest.approx(
        _mass(100, -0.3, 0.2, 20, -0.3, 0.3), 1e-5
    )
    ax = display.figure.axes[0]
    (line,) = [a for a in ax.lines if a.get_gid() == "bb_pair"]
    np.testing.assert_allclose(line.get_xdata()[:2], [-0.3, -0.3], atol=1e-6)
    np.testing.assert_allclose(line.get_ydata()[:2], [0.2, 0.3], atol=1e-6)
    outlined = [c.center for c in ax.patches if c.get_gid() == "jet" and c.get_linewidth() > 2]
    np.testing.assert_allclose(sorted(outlined), [(-0.3, 0.2), (-0.3, 0.3)], atol=1e-6)
    with pytest.raises(ValueError, match="index=3"):
        display.set(index=3)


def test_display_skips_what_the_sample_lacks_and_rejects_jets_without_angles():
    ev = _hand()
    no_lep = _make(
        ev.jets[..., 0],
        ev.jets[..., 2],
        ev.jets[..., 3],
        ev.jets[..., 4],
        ev.mask,
        ev.event[:, :3],
        ev.label,
        event_features=("nJets", "HT_jets", "met_met"),
    )
    ax = TthEventDisplay(no_lep).figure.axes[0]
    gids = {a.get_gid() for a in [*ax.collections, *ax.lines]}
    assert "lepton" not in gids and "met" not in gids and "bb_pair" in gids
    bad = _make(
        ev.jets[..., 0],
        ev.jets[..., 2],
        ev.jets[..., 3],
        ev.jets[..., 4],
        ev.mask,
        ev.event,
        ev.label,
        jet_features=("jet_pt", "jet_e", "eta", "jet_phi", "jet_tagWeightBin_DL1r_Continuous"),
    )
    with pytest.raises(ValueError, match="jet_eta"):
        TthEventDisplay(bad)


# --- correlations -------------------------------------------------------------------------


def test_weighted_corrcoef_equals_numpy_cov_with_aweights_and_is_one_for_a_linear_pair():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3))
    x[:, 1] += 0.7 * x[:, 0]
    w = rng.uniform(0.1, 3.0, 200)
    cov = np.cov(x.T, aweights=w)
    expected = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_allclose(weighted_corrcoef(x, w), expected, rtol=1e-12)
    # unweighted-equivalent: integer weights = repeated rows
    k = rng.integers(1, 4, 200)
    np.testing.assert_allclose(
        weighted_corrcoef(x, k.astype(float)), np.corrcoef(np.repeat(x, k, axis=0).T), rtol=1e-10
    )
    pair = np.column_stack([x[:, 0], 3.0 * x[:, 0] - 2.0, -x[:, 0]])
    np.testing.assert_allclose(weighted_corrcoef(pair, w), [[1, 1, -1], [1, 1, -1], [-1, -1, 1]])


def test_weighted_corrcoef_uses_negative_weights_in_the_moments_and_rejects_a_null_sum():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 1.0]])
    w = np.array([1.0, -0.5, 2.0, 1.0])
    mu = (w[:, None] * x).sum(0) / w.sum()
    d = x - mu
    c = (w[:, None, None] * d[:, :, None] * d[:, None, :]).sum(0) / w.sum()
    rho = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])
    np.testing.assert_allclose(weighted_corrcoef(x, w)[0, 1], rho, rtol=1e-12)
    const = np.column_stack([x[:, 0], np.full(4, 2.0)])
    assert np.isnan(weighted_corrcoef(const, np.abs(w))[0, 1])
    with pytest.raises(ValueError, match="sum to"):
        weighted_corrcoef(x, np.array([1.0, -1.0, 0.5, -0.5]))


def test_weighted_correlations_per_process_with_jets_present_in_every_event():
    ev = _random(2)
    corr = weighted_correlations(ev)
    assert list(corr) == ["signal", "background"]
    # every event has ≥ 3 jets (and some exactly 3): the default takes jets 0–2
    jets = [f"jet{i}_{f.removeprefix('jet_')}" for i in range(3) for f in JET_FEATURES]
    assert list(corr["signal"].columns) == [*EVENT_FEATURES, *jets]
    sig = ev.label == 1
    x = np.column_stack([ev.event[sig], ev.jets[sig, :3, :].reshape(sig.sum(), -1)]).astype(float)
    cov = np.cov(x.T, aweights=ev.weight[sig])
    expected = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_allclose(corr["signal"].to_numpy(), expected, rtol=1e-9, atol=1e-12)
    assert corr["signal"].attrs["n_events"] == sig.sum()
    assert corr["background"].attrs["sum_weights"] == pytest.approx(ev.weight[~sig].sum())
    # a jet not in every event: only the events that have it (listwise)
    part = weighted_correlations(ev, ["HT_jets", "jet4_pt"])
    has = ev.mask[:, 4]
    assert part["signal"].attrs["n_events"] == (has & sig).sum()
    x = np.column_stack([ev.event[has & sig, 1], ev.jets[has & sig, 4, 0]]).astype(float)
    cov = np.cov(x.T, aweights=ev.weight[has & sig])
    assert part["signal"].loc["HT_jets", "jet4_pt"] == pytest.approx(
        cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-9
    )
    with pytest.raises(KeyError, match="jet9_pt"):
        weighted_correlations(ev, ["jet9_pt"])


def test_plot_correlations_annotates_every_cell_of_every_process():
    ev = _random(4, 80, 80)
    corr = weighted_correlations(ev, ["HT_jets", "met_met", "jet0_pt"])
    fig = plot_correlations(corr)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2
    for ax, df in zip(panels, corr.values(), strict=True):
        cells = [t.get_text() for t in ax.texts[:9]]
        assert cells == [f"{v:.2f}" for v in df.to_numpy().ravel()]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["HT_jets", "met_met", "jet0_pt"]
        assert _has_label(ax)
        np.testing.assert_allclose(ax.images[0].get_array(), df.to_numpy())


# --- feature validation -------------------------------------------------------------------


def _panel(fig, name):
    (ax,) = [ax for ax in fig.axes if ax.get_gid() == name]
    return ax


def _stairs(ax, process):
    (s,) = [p for p in ax.patches if p.get_gid() == f"hist_{process}"]
    return s.get_data()


def test_feature_validation_panels_are_weighted_normalised_histograms():
    ev = _random(5)
    fig = feature_validation(ev, n_leading=4, bins=25)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(EVENT_FEATURES) + 4 * len(JET_FEATURES)
    ax = _panel(fig, "jet0_pt")
    assert ax.get_xlabel() == "leading jet $p_T$ [GeV]"
    assert ax.get_ylabel() == "normalised events"
    values = ev.jets[:, 0, 0].astype(float)
    lo, hi = np.quantile(values, [0.005, 0.995])
    for process, sel in (("signal", ev.label == 1), ("background", ev.label == 0)):
        h, edges, _ = _stairs(ax, process)
        np.testing.assert_allclose(edges, np.linspace(lo, hi, 26), rtol=1e-6)
        x = np.clip(values[sel], lo, hi)  # the tails in the edge bins
        ref, _ = np.histogram(x, bins=edges, weights=ev.weight[sel], density=True)
        np.testing.assert_allclose(h, ref, rtol=1e-9)
    # jet 3 exists in some events only: its panel holds those (real jets only)
    ax3 = _panel(fig, "jet3_eta")
    assert ax3.get_xlabel() == r"4th jet $\eta$"
    has = ev.mask[:, 3] & (ev.label == 0)
    assert 0 < has.sum() < (ev.label == 0).sum()
    h, edges, _ = _stairs(ax3, "background")
    x = np.clip(ev.jets[has, 3, 2].astype(float), edges[0], edges[-1])
    ref, _ = np.histogram(x, bins=edges, weights=ev.weight[has], density=True)
    np.testing.assert_allclose(h, ref, rtol=1e-9)
    assert _has_label(fig.axes[0])


def test_feature_validation_gives_integers_unit_wide_bins():
    ev = _random(6)
    fig = feature_validation(ev, n_leading=1)
    _, edges, _ = _stairs(_panel(fig, "jet0_tagWeightBin_DL1r_Continuous"), "signal")
    np.testing.assert_allclose(edges, np.arange(0.5, 6.0, 1.0))
    h, edges, _ = _stairs(_panel(fig, "nJets"), "background")
    np.testing.assert_allclose(edges, np.arange(2.5, 7.0, 1.0))
    bkg = ev.label == 0
    w = ev.weight[bkg]
    ref = [w[ev.njet[bkg] == k].sum() / w.sum() for k in range(3, 7)]
    np.testing.assert_allclose(h, ref, rtol=1e-9)


# --- m_bb and regions ---------------------------------------------------------------------


def test_plot_mbb_draws_normalised_weighted_spectra_and_the_higgs_mass():
    ev = _random(7)
    mbb = closest_b_pair(ev).mbb
    with_feature = _make(
        ev.jets[..., 0],
        ev.jets[..., 2],
        ev.jets[..., 3],
        ev.jets[..., 4],
        ev.mask,
        np.column_stack([ev.event, np.nan_to_num(mbb, nan=-1.0)]),
        ev.label,
        ev.weight,
        e=ev.jets[..., 1],
        event_features=(*EVENT_FEATURES, "Mbb_MindR"),
    )
    for ax in (plot_mbb(ev, None), plot_mbb(with_feature)):
        (line,) = [a for a in ax.lines if a.get_gid() == "higgs_mass"]
        np.testing.assert_allclose(line.get_xdata(), [schema.HIGGS_MASS] * 2)
        assert "[GeV]" in ax.get_xlabel() and ax.get_ylabel().startswith("normalised events")
        assert _has_label(ax)
    ax = plot_mbb(ev, None)
    sig = (ev.label == 1) & np.isfinite(mbb)
    h, edges, _ = _stairs(ax, "signal")
    assert edges[0] == 0.0 and edges[-1] >= 2 * schema.HIGGS_MASS
    x = np.clip(mbb[sig], edges[0], edges[-1])
    ref, _ = np.histogram(x, bins=edges, weights=ev.weight[sig], density=True)
    np.testing.assert_allclose(h, ref, rtol=1e-9)
    with pytest.raises(KeyError, match="Mbb_MindR"):
        plot_mbb(ev)


def test_region_table_sums_weights_and_counts_by_hand():
    ev = _hand()  # njet 7, 3, 1, 5; nbtag 3, 1, 1, 5; weights 0.2, 0.3, 0.1, -0.5
    table = region_table(ev, ["4j2b", "3j1b", "6j3b"], scale=2.0)
    assert list(table.index) == ["4j2b", "3j1b", "6j3b"]
    assert table.loc["4j2b", "S"] == pytest.approx(0.4)
    assert table.loc["4j2b", "B"] == pytest.approx(-1.0)
    assert np.isnan(table.loc["4j2b", "S/B"]) and np.isnan(table.loc["4j2b", "S/√B"])
    assert table.loc["3j1b", "S"] == pytest.approx(1.0)
    assert table.loc["6j3b", ["N_S", "N_B"]].tolist() == [1, 0]
    assert table.loc["4j2b", "selection"] == "≥4j, ≥2b@70%"
    ev = _random(8)
    table = region_table(ev, ["5j2b"])
    sel = (ev.njet >= 5) & (ev.nbtag >= 2)
    s, b = ev.weight[sel & (ev.label == 1)].sum(), ev.weight[sel & (ev.label == 0)].sum()
    row = table.loc["5j2b"]
    assert row["S"] == pytest.approx(s) and row["B"] == pytest.approx(b)
    assert row["S/B"] == pytest.approx(s / b) and row["S/√B"] == pytest.approx(s / np.sqrt(b))
    assert row["N_S"] == (sel & (ev.label == 1)).sum()
    with pytest.raises(ValueError, match="6jets"):
        region_table(ev, ["6jets"])
    with pytest.raises(ValueError, match="scale"):
        region_table(ev, ["6j4b"], scale=0)


def test_plot_regions_bars_are_the_table_yields():
    ev = _random(9)
    regions = ["6j3b", "5j2b", "4j1b"]
    ax = plot_regions(ev, regions)
    table = region_table(ev, regions)
    for process, column in (("signal", "S"), ("background", "B")):
        bars = [p for p in ax.patches if p.get_gid() == f"yield_{process}"]
        np.testing.assert_allclose([p.get_height() for p in bars], table[column].to_numpy())
    texts = [t.get_text() for t in ax.texts if t.get_gid() == "region_ratio"]
    assert texts == [f"S/B = {v:.3g}\nS/√B = {u:.2f}" for v, u in table[["S/B", "S/√B"]].values]
    assert ax.get_ylabel() == "expected events" and _has_label(ax)
