# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %%

# %% [markdown]
# # ttH(H→bb): the events
#
# The Higgs boson couples to each fermion in proportion to its mass, so its largest coupling
# is the one to the top quark, $y_t \approx 1$. Producing the Higgs boson **with a top-quark
# pair**, $pp \to t\bar{t}H$, measures $y_t$ directly, at tree level. About 58 % of Higgs
# bosons of 125 GeV decay to a $b\bar{b}$ pair (LHC Higgs Cross Section Working Group,
# CERN-2017-002), the largest branching fraction, but the final state is crowded: two top
# quarks each decay to a W boson and a b quark, so $t\bar{t}H(b\bar{b})$ has **four b quarks**
# plus the W decays. In the **single-lepton channel** one W decays to an electron or muon and
# a neutrino (missing transverse momentum), the other to two quarks: one lepton, ≥ 6 jets of
# which 4 are b jets.
#
# The **irreducible background** is $t\bar{t}+b\bar{b}$: the same top pair with an extra
# $b\bar{b}$ pair from a gluon splitting, $g \to b\bar{b}$. It has the same particles in the
# final state; what differs is the origin of the extra pair. From the Higgs boson the pair's
# mass peaks at 125 GeV and its two b quarks are well separated (the Higgs is heavy); from a
# gluon the mass falls steeply and the two b quarks tend to be close (a collinear splitting).
# ATLAS measured this process in 139 fb⁻¹ of 13 TeV collisions (JHEP 06 (2022) 097) with
# machine-learned classifiers on exactly the quantities of this chapter: jets with their
# **pseudo-continuous b-tagging bins** (which working point of the DL1r tagger each jet
# passes), and event-level variables such as the average angular distance between b-tagged
# jets or the mass of their closest pair.
#
# The ntuples are those of ATLAS's ttH(bb) analysis: a tree `nominal_Loose`, one entry per
# selected event, jet branches `jet_pt jet_e jet_eta jet_phi
# jet_tagWeightBin_DL1r_Continuous` (`std::vector`, MeV), lepton vectors `el_*`/`mu_*`,
# scalars `nJets nBTags_DL1r_70 HT_jets HT_all met_met met_phi`, the event number and the
# weights. Samples come **one file per process**: `data_path` maps `signal` and `background`
# to files or globs. Without it the chapter's simulator writes both, from sequential decays
# with physical masses and widths (t, W, H), boosted, jets smeared and merged at ΔR < 0.4, the
# acceptance pT > 25 GeV, |η| < 2.5, radiation jets, b-tag bins drawn per flavour, lepton and
# missing momentum; each event carries the weights that turn it into expected events at
# `luminosity`.
#
# This notebook looks at the events; `preprocess_tth` converts them to HDF5 and validates the
# inputs, `train_tth` trains the model catalogue and `roc_tth` compares the models, scans the
# significance in the analysis regions and writes the chosen model's score back as a friend
# tree.

# %% tags=["parameters"]
seed = 0  # seed of the simulation, the split and the training
data_path = ""  # {"signal": file/glob, "background": file/glob} of ntuples; "": simulate
out_dir = "runs/tth"  # run folder shared by the chapter's notebooks
device = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
models = ["mlp", "resmlp", "deepsets", "transformer", "gnn", "bdt"]  # catalogue entries compared
inject = "best"  # model whose score goes into the friend trees ("best": highest validation AUC)
n_events = 10_000  # simulated events per process (after the preselection)
weights = [  # weight branches multiplied into the event weight
    "weight_normalise",
    "weight_mc",
    "weight_pileup",
    "weight_jvt",
    "weight_leptonSF",
    "weight_bTagSF_DL1r_Continuous",
]
luminosity = 139.0  # integrated luminosity, fb⁻¹
fractions = [0.6, 0.2, 0.2]  # train / validation / test fractions of each process
balance = "weight"  # "weight": both processes weigh the same in training; "none": physics weights
normalisation = "standard"  # input scaling fitted on training events: "standard" or "minmax"
n_jets = 10  # jets kept per event (pT-ordered; padded with a mask, the rest truncated)
features = [  # ntuple branches: jagged jet_* branches per jet, scalars per event
    "jet_pt",
    "jet_e",
    "jet_eta",
    "jet_phi",
    "jet_tagWeightBin_DL1r_Continuous",
    "nJets",
    "nBTags_DL1r_70",
    "HT_jets",
    "met_met",
    "met_phi",
]
feature_makers = [  # derived event features, by name (hepnb.chapters.tth.features.MAKERS)
    "lep_pt",
    "lep_eta",
    "dRbb_avg",
    "Mbb_MindR",
    "Mbb_Higgs",
    "dRbb_avg_Sort4",
    "Mbb_MindR_Sort4",
    "Mbb_Higgs_Sort4",
    "aplanarity",
    "centrality",
]
chunk_events = 50_000  # entries per chunk of the conversion (bounds its memory)
hidden = 64  # width of every network's hidden layers
epochs = 30  # maximum training epochs of each network (more epochs resume the checkpoint)
batch_size = 256  # events per batch
lr = 1e-3  # Adam learning rate
patience = 6  # early stopping after this many epochs without a better validation AUC
scheduler = "plateau"  # learning-rate schedule: "plateau", "cosine" or "none"
regions = ["6j4b", "5j3b", "4j2b"]  # regions ≥Nj ≥Mb (b-tagged at 70 %), tightest first
bkg_uncertainty = 0.36  # δB/B in S/√(B + δB²): the measured tt+bb cross section's uncertainty
asimov_bins = 10  # score bins of the binned Asimov significance

# %%
import hepnb.plot
from hepnb.chapters import tth as chapter

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
files = chapter.samples(cfg)  # simulates both processes first unless data_path names ntuples
chapter.branch_table(files["signal"][0])

# %% [markdown]
# The branches of the signal file as ROOT stores them (uproot's type names). A real ntuple has
# `std::vector<float>` jet branches; the simulator writes ROOT counted arrays (`float[]` with
# the counter `nJets`), which read back as the same jagged arrays.
#
# ## Yields in the analysis regions
#
# Weighted yields are expected events at `luminosity` (weight = σ × BR × L / Σ generator
# weights × the per-event corrections). The regions require at least N jets, M of them
# b-tagged at the 70 % working point (tag bin ≥ 4); the tightest is the signal region of the
# single-lepton analysis. Signal over background stays at the per-cent level even there: the
# classifier has to do the rest.

# %%
ev = chapter.events(cfg)  # the converted sample (runs the conversion if needed)
chapter.display.region_table(ev, cfg.regions).round(3)

# %%
ax = chapter.display.plot_regions(ev, cfg.regions)

# %% [markdown]
# ## The b-jet pair
#
# Of the jets b-tagged at the 70 % working point (tag bin ≥ 4), the pair **closest in ΔR**
# gives `Mbb_MindR`, the b-tagged pair mass of ATLAS's ttH(bb) classifiers (Phys. Rev. D 97
# (2018) 072016). In ttH it peaks near 125 GeV: the two b quarks of the Higgs boson are often
# the closest tagged pair. The peak sits ≈ 5 % low and has a low tail (in ≈ 38 % of b jets a
# semileptonic b or c decay gives a neutrino, which carries away ≈ 1/6 of the jet's energy on
# average) and stands on a broad shoulder of wrong pairings with the b quarks of the tops. In tt+bb the closest pair is usually the
# gluon-splitting pair, whose mass falls steeply: no peak. The table gives where each
# distribution peaks and the weighted fraction of events within 15 GeV of 125 GeV.

# %%
ax = chapter.display.plot_mbb(ev, "Mbb_MindR")
chapter.mbb_peak(ev, "Mbb_MindR")

# %% [markdown]
# ## One event at a time
#
# Jets in the (η, φ) plane, circles of radius 0.4 (the anti-kt R), coloured by their b-tag bin;
# the lepton and the direction of the missing transverse momentum; the b-tagged pair closest
# in ΔR is highlighted and its mass given. Move the slider (live in JupyterLab).

# %%
chapter.TthEventDisplay(ev)
