"""Derived event features of the ttH(bb) single-lepton analysis, computed from the ntuple.

Each feature is a :class:`FeatureMaker` in the registry :data:`MAKERS`, by name: the branches it
needs, its unit and what it computes. A maker takes an awkward record array of events whose
energies and momenta are already in **GeV** (the conversion divides the MeV branches by 1000
first) and returns ``(N,)`` float32; every maker is vectorised over events with awkward (no
per-event Python loop).

Definitions, as in the ATLAS ttH(bb) analyses [PRD97, TTHBB]:

* the **lepton** is the event's one electron or muon (``el_*`` or ``mu_*``); should an event
  hold several, the one of highest pT is used;
* the **b-jet candidates** are all the jets b-tagged at 70 %, i.e. of DL1r pseudo-continuous
  tag bin ≥ :data:`~.schema.BTAG_BIN_70` [TTHBB], pT-ordered and without a cap on their
  number: ΔR_bb^avg is the mean ΔR over every pair of them and m_bb^{min ΔR} the mass of the
  pair closest in ΔR, the definitions of the classification variables of [PRD97] ("average
  ΔR for all b-tagged jet pairs", "mass of the combination of two b-tagged jets with the
  smallest ΔR"). ``Mbb_Higgs`` is the mass of the tagged pair closest to m_H, a
  reconstruction-free stand-in for the mass of the Higgs-boson candidate that [PRD97] and
  [TTHBB] take from their event reconstruction;
* the later analysis [TTHBB] also builds them from the "Sort4" candidates (:func:`sort4`: the
  four jets of highest tag bin, tagged or not, ties by pT), the makers ``dRbb_avg_Sort4``,
  ``Mbb_MindR_Sort4`` and ``Mbb_Higgs_Sort4``. They are defined in events with fewer than four
  tagged jets too, and carry information there; but on the chapter's simulated events the
  Sort4 m_bb^{min ΔR} of ttH and of tt+bb both peak at ≈ 45 GeV, while that of the closest
  tagged pair peaks near m_H in ttH only;
* ΔR = √(Δη² + Δφ²), with Δφ wrapped into [−π, π);
* the sphericity tensor S^{ab} = Σ_i p_i^a p_i^b / Σ_i |p_i|² over the jets and the lepton
  [SPH]; its eigenvalues λ₁ ≥ λ₂ ≥ λ₃ sum to 1 and the aplanarity is A = 3/2 λ₃ (0 for a
  planar event, 1/2 for an isotropic one).

**Undefined values.** A feature that is undefined for an event is **0**: the pair features
(``dRbb_avg``, ``Mbb_MindR``, ``Mbb_Higgs``) with fewer than two b-tagged jets (their Sort4
variants with fewer than two jets) (never in the
analysis regions, which ask for ≥ 4, nor in the simulator's preselected events, ≥ 2); the
lepton features without a lepton; ``aplanarity`` and ``centrality`` without any jet or
lepton. 0 is outside the range these take where they are defined (two distinct jets have
ΔR > 0 and m > 0), so a model can tell.

Sources:

* [PRD97] ATLAS, *Search for the standard model Higgs boson produced in association with top
  quarks and decaying into a bb̄ pair in pp collisions at √s = 13 TeV with the ATLAS
  detector*, Phys. Rev. D 97 (2018) 072016, arXiv:1712.08895: the classification variables
  ΔR_bb^avg and m_bb^{min ΔR}, defined over the b-tagged jets (its table of input variables).
* [TTHBB] ATLAS, *Measurement of Higgs boson decay into b-quarks in associated production with
  a top-quark pair in pp collisions at √s = 13 TeV*, JHEP 06 (2022) 097, arXiv:2111.06712:
  the DL1r pseudo-continuous tag bins and the 70 % working point, the classification
  variables (ΔR_bb^avg, m_bb^{min ΔR}, m_bb^{Higgs}, aplanarity, centrality, H_T) and the
  "Sort4" b-jet ordering by tag bin.
* [SPH] J. D. Bjorken and S. J. Brodsky, *Statistical model for electron-positron annihilation
  into hadrons*, Phys. Rev. D 1 (1970) 1416: the sphericity tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepnb.chapters.tth import schema
from hepnb.chapters.tth.reader import near
from hepnb.io import SchemaError

__all__ = ["MAKERS", "N_SORT4", "FeatureMaker", "b_candidates", "lepton", "resolve", "sort4"]

#: The Sort4 candidates are this many jets of highest tag bin [TTHBB].
N_SORT4 = 4

_JET = ("jet_pt", "jet_eta", "jet_phi", "jet_e")
_TAG = "jet_tagWeightBin_DL1r_Continuous"
_VARS = ("pt", "eta", "phi", "e")
_LEP = tuple(f"{p}_{v}" for p in ("el", "mu") for v in _VARS)


@dataclass(frozen=True)
class FeatureMaker:
    """A named derived event feature.

    Attributes:
        name: the feature's name (the HDF5 column and the config's ``feature_makers`` entry).
        needs: the ntuple branches it reads.
        unit: ``"GeV"``, ``"rad"`` or ``""``.
        doc: one line saying what it is.
        fn: events (GeV) → ``(N,)`` values.
    """

    name: str
    needs: tuple[str, ...]
    unit: str
    doc: str
    fn: Callable[[ak.Array], ak.Array | np.ndarray]

    def __call__(self, events: ak.Array) -> np.ndarray:
        """``(N,)`` float32 values of the feature for ``events`` (GeV inputs).

        Raises:
            KeyError: ``events`` lacks a branch of :attr:`needs` (named).
        """
        fields = set(ak.fields(events))
        missing = [b for b in self.needs if b not in fields]
        if missing:
            raise KeyError(f"feature {self.name!r} needs branch(es) {missing} not in the events")
        out = self.fn(events)
        return np.asarray(ak.to_numpy(ak.fill_none(out, 0.0)), dtype=np.float32).reshape(-1)


# ---------------------------------------------------------------------------------------------
# four-vector helpers (GeV, rad; vectorised over events and objects)
# ---------------------------------------------------------------------------------------------
def _p3(pt, eta, phi):
    """(px, py, pz) of objects given pT, η, φ."""
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def _dphi(a, b):
    """a − b wrapped into [−π, π)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def _jets(events: ak.Array) -> ak.Array:
    """The events' jets as records (float64 kinematics)."""
    return ak.zip(
        {k.removeprefix("jet_"): ak.values_astype(events[k], np.float64) for k in _JET}
        | {"tag": events[_TAG]}
    )


def lepton(events: ak.Array) -> ak.Array:
    """The lepton of each event: a ``(N,)`` option record (pt, eta, phi, e; None without one).

    The electron and muon vectors are concatenated and the one of highest pT taken.
    """
    leptons = ak.concatenate(
        [
            ak.zip({v: ak.values_astype(events[f"{p}_{v}"], np.float64) for v in _VARS})
            for p in ("el", "mu")
        ],
        axis=1,
    )
    best = ak.argmax(leptons.pt, axis=1, keepdims=True)
    return ak.firsts(leptons[best])


def b_candidates(events: ak.Array) -> ak.Array:
    """The b-jet candidates: per event every jet b-tagged at 70 % (tag bin ≥
    :data:`~.schema.BTAG_BIN_70`), as jagged records (pt, eta, phi, e, tag) in decreasing pT
    [PRD97]; no cap on their number."""
    jets = _jets(events)
    jets = jets[jets.tag >= schema.BTAG_BIN_70]
    return jets[ak.argsort(jets.pt, axis=1, ascending=False, stable=True)]


def sort4(events: ak.Array) -> ak.Array:
    """The "Sort4" b-jet candidates of [TTHBB]: per event the (up to) four jets of highest tag
    bin, tagged or not, ties broken by pT, as jagged records ordered by tag bin then pT."""
    jets = _jets(events)
    jets = jets[ak.argsort(jets.pt, axis=1, ascending=False, stable=True)]
    jets = jets[ak.argsort(jets.tag, axis=1, ascending=False, stable=True)]
    return jets[:, :N_SORT4]


def _pairs(
    events: ak.Array, candidates: Callable[[ak.Array], ak.Array] = b_candidates
) -> tuple[ak.Array, ak.Array]:
    """ΔR and invariant mass (GeV) of every pair of ``candidates`` (the b-tagged jets by
    default), jagged ``(N, pairs)``, in the candidates' order."""
    a, b = ak.unzip(ak.combinations(candidates(events), 2, axis=1))
    dr = np.sqrt((a.eta - b.eta) ** 2 + _dphi(a.phi, b.phi) ** 2)
    pa, pb = _p3(a.pt, a.eta, a.phi), _p3(b.pt, b.eta, b.phi)
    m2 = (a.e + b.e) ** 2 - sum((x + y) ** 2 for x, y in zip(pa, pb, strict=True))
    return dr, np.sqrt(np.maximum(m2, 0.0))


def _pick(values: ak.Array, key: ak.Array) -> ak.Array:
    """``values`` at the argmin of ``key`` per event (None without pairs)."""
    return ak.firsts(values[ak.argmin(key, axis=1, keepdims=True)])


Candidates = Callable[[ak.Array], ak.Array]


def _dr_avg(candidates: Candidates) -> Callable[[ak.Array], np.ndarray]:
    def fn(events: ak.Array) -> np.ndarray:
        dr, _ = _pairs(events, candidates)
        n = ak.to_numpy(ak.num(dr, axis=1))
        total = ak.to_numpy(ak.sum(dr, axis=1))
        return np.divide(total, n, out=np.zeros_like(total), where=n > 0)

    return fn


def _mbb_mindr(candidates: Candidates) -> Callable[[ak.Array], ak.Array]:
    def fn(events: ak.Array) -> ak.Array:
        dr, m = _pairs(events, candidates)
        return _pick(m, dr)

    return fn


def _mbb_higgs(candidates: Candidates) -> Callable[[ak.Array], ak.Array]:
    def fn(events: ak.Array) -> ak.Array:
        _, m = _pairs(events, candidates)
        return _pick(m, abs(m - schema.HIGGS_MASS))

    return fn


def _objects(events: ak.Array) -> ak.Array:
    """Jets and the lepton of each event as jagged records (pt, eta, phi, e)."""
    jets = _jets(events)[["pt", "eta", "phi", "e"]]
    lep = lepton(events)
    lep_list = ak.drop_none(ak.singletons(lep))
    return ak.concatenate([jets, lep_list], axis=1)


def _aplanarity(events: ak.Array) -> np.ndarray:
    obj = _objects(events)
    p = _p3(obj.pt, obj.eta, obj.phi)
    norm = ak.to_numpy(ak.sum(sum(x**2 for x in p), axis=1))
    tensor = np.zeros((len(norm), 3, 3))
    for i in range(3):
        for j in range(i, 3):
            tensor[:, i, j] = tensor[:, j, i] = ak.to_numpy(ak.sum(p[i] * p[j], axis=1))
    ok = norm > 0
    tensor[ok] /= norm[ok, None, None]
    smallest = np.linalg.eigvalsh(tensor)[:, 0]  # ascending eigenvalues
    # a numerically planar event may give a tiny negative eigenvalue: clip to the range [0, 1/3]
    return np.where(ok, 1.5 * np.clip(smallest, 0.0, 1.0 / 3.0), 0.0)


def _centrality(events: ak.Array) -> np.ndarray:
    obj = _objects(events)
    pt = ak.to_numpy(ak.sum(obj.pt, axis=1))
    e = ak.to_numpy(ak.sum(obj.e, axis=1))
    return np.divide(pt, e, out=np.zeros_like(pt), where=e > 0)


def _ht(events: ak.Array) -> ak.Array:
    return ak.sum(ak.values_astype(events["jet_pt"], np.float64), axis=1) + ak.fill_none(
        lepton(events).pt, 0.0
    )


def _nbtags77(events: ak.Array) -> ak.Array:
    return ak.sum(events[_TAG] >= schema.BTAG_BIN_77, axis=1)


def _lep(var: str) -> Callable[[ak.Array], ak.Array]:
    def fn(events: ak.Array) -> ak.Array:
        return lepton(events)[var]

    return fn


_MAKERS = [
    FeatureMaker("lep_pt", _LEP, "GeV", "pT of the lepton (electron or muon)", _lep("pt")),
    FeatureMaker("lep_eta", _LEP, "", "η of the lepton", _lep("eta")),
    FeatureMaker("lep_phi", _LEP, "rad", "φ of the lepton", _lep("phi")),
    FeatureMaker("lep_e", _LEP, "GeV", "energy of the lepton", _lep("e")),
    FeatureMaker(
        "dRbb_avg",
        (*_JET, _TAG),
        "",
        f"mean ΔR over all pairs of jets b-tagged at 70 % (tag bin ≥ {schema.BTAG_BIN_70})",
        _dr_avg(b_candidates),
    ),
    FeatureMaker(
        "Mbb_MindR",
        (*_JET, _TAG),
        "GeV",
        "invariant mass of the pair of jets b-tagged at 70 % closest in ΔR",
        _mbb_mindr(b_candidates),
    ),
    FeatureMaker(
        "Mbb_Higgs",
        (*_JET, _TAG),
        "GeV",
        "invariant mass of the pair of jets b-tagged at 70 % closest to "
        f"m_H = {schema.HIGGS_MASS:g} GeV",
        _mbb_higgs(b_candidates),
    ),
    FeatureMaker(
        "dRbb_avg_Sort4",
        (*_JET, _TAG),
        "",
        "mean ΔR over all pairs of the Sort4 candidates (the four jets of highest tag bin)",
        _dr_avg(sort4),
    ),
    FeatureMaker(
        "Mbb_MindR_Sort4",
        (*_JET, _TAG),
        "GeV",
        "invariant mass of the pair of Sort4 candidates closest in ΔR",
        _mbb_mindr(sort4),
    ),
    FeatureMaker(
        "Mbb_Higgs_Sort4",
        (*_JET, _TAG),
        "GeV",
        f"invariant mass of the pair of Sort4 candidates closest to m_H = {schema.HIGGS_MASS:g} GeV",
        _mbb_higgs(sort4),
    ),
    FeatureMaker(
        "aplanarity",
        (*_JET, _TAG, *_LEP),
        "",
        "3/2 × smallest eigenvalue of the sphericity tensor of the jets and the lepton",
        _aplanarity,
    ),
    FeatureMaker(
        "centrality",
        (*_JET, _TAG, *_LEP),
        "",
        "Σ pT / Σ E over the jets and the lepton",
        _centrality,
    ),
    FeatureMaker("HT", ("jet_pt", *_LEP), "GeV", "Σ jet pT + lepton pT", _ht),
    FeatureMaker(
        "nBTags_77",
        (_TAG,),
        "",
        f"jets b-tagged at 77 % (tag bin ≥ {schema.BTAG_BIN_77})",
        _nbtags77,
    ),
]
#: The registry: name → maker.
MAKERS: dict[str, FeatureMaker] = {m.name: m for m in _MAKERS}


def resolve(
    features: Sequence[str],
    makers: Sequence[str],
    branches_in_file: Collection[str],
    source: str,
    *,
    registry: dict[str, FeatureMaker] | None = None,
) -> list[str]:
    """Check feature and maker names against a file; the branches to read.

    Args:
        features: ntuple branches used as features.
        makers: names of derived features (keys of ``registry``).
        branches_in_file: the branches the file has.
        source: the file's name, for messages.
        registry: the makers (default :data:`MAKERS`).

    Returns:
        ``features`` then the makers' needs, in order, each once.

    Raises:
        KeyError: an unknown maker (listing the makers, with near matches).
        SchemaError: a feature branch, or a branch a maker needs, missing from the file (with
            near matches).
    """
    registry = MAKERS if registry is None else registry
    have = set(branches_in_file)
    for name in makers:
        if name not in registry:
            raise KeyError(
                f"feature maker {name!r}: unknown{near(name, list(registry))}; "
                f"the makers are {sorted(registry)}"
            )
    for b in features:
        if b not in have:
            raise SchemaError(f"{source}: feature {b!r} is not a branch of the file{near(b, have)}")
    out = list(dict.fromkeys(features))
    for name in makers:
        for b in registry[name].needs:
            if b not in have:
                raise SchemaError(
                    f"{source}: feature maker {name!r} needs branch {b!r}, not in the file"
                    f"{near(b, have)}"
                )
            if b not in out:
                out.append(b)
    return out
