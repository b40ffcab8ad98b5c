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
# # ttH(H→bb): from ROOT to HDF5, and what goes into the networks
#
# Networks train on fixed-size arrays, ntuples hold jagged ones: the **conversion** turns each
# process's `nominal_Loose` entries into one HDF5 file (h5py), driven by the configuration —
# the same YAML file that drives the training:
#
# * `features`: ntuple branches. A jagged `jet_*` branch becomes a per-jet input, **padded or
#   truncated to `n_jets`** jets (pT order) with a mask saying which slots hold a real jet;
#   a scalar branch becomes an event input. Energies and momenta are converted from MeV to GeV.
# * `feature_makers`: derived event features computed by **named feature makers** — the
#   lepton's kinematics, ΔR_bb averaged over the b-tagged jets, the mass of the b-tagged
#   pair closest in ΔR and of the pair closest to 125 GeV, aplanarity, centrality, H_T.
# * `weights`: the weight branches whose product, times `luminosity`, is the event weight.
#
# The file is written **chunk by chunk** (`chunk_events` entries at a time), so an ntuple
# larger than memory converts, and atomically (a temporary file renamed at the end: an
# interrupted conversion leaves nothing that looks complete). Each row keeps its
# `eventNumber` and its entry in the input files, the keys that bring the scores back into
# the ntuples (`roc_tth`). The same conversion runs from a shell:
#
# ```bash
# hepnb config tth > tth.yaml              # the whole configuration, to edit
# hepnb convert tth --config tth.yaml --out tth.h5
# hepnb inspect tth.h5
# ```

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
import matplotlib.pyplot as plt

import hepnb.plot
from hepnb.chapters import tth as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
out = cfg.run_dir
path = chapter.converted(cfg)
print(chapter.convert.inspect(path))

# %% [markdown]
# What `hepnb inspect` prints: the datasets of each process with their shapes, and per feature
# its mean, spread and range (jet features over real jets only).
#
# ## Feature validation
#
# Every input, signal against background, weighted and normalised to unit area: the event
# features, and each jet feature for the four leading jets. Where the two shapes differ a
# classifier can learn something; the b-tag bins and multiplicities (four b quarks against
# two plus a gluon splitting) and the b-pair variables differ most.

# %%
ev = chapter.events(cfg)
fig = chapter.display.feature_validation(ev)

# %% [markdown]
# ## Correlations
#
# The weighted correlation matrices of each process, over the event features and the leading
# jet's (the other jets follow the same pattern). Strongly correlated inputs bring little
# new information each; a correlation present in one process and not in the other is itself
# something a network can use (here: the b-pair masses and ΔR).

# %%
corr = chapter.display.weighted_correlations(ev, n_leading=1)  # event features, leading jet
fig = chapter.display.plot_correlations(corr)

# %% [markdown]
# ## The split
#
# Events of each process are split at random (seeded) into training, validation and test
# sets in `fractions`. The training weights keep each event's physics weight but, with
# `balance = "weight"`, give both processes the same total, so the network does not learn the
# (tiny) prior signal fraction. Inputs are standardised with constants fitted on the training
# events only — each jet feature over all real jets, shared by the jet slots — and the
# scaling is folded into the exported model. The validation split chooses every cut, binning
# and model; the test split only measures.

# %%
ds = chapter.dataset(cfg)
split_table = chapter.split_table(ds)
record(out, "preprocess_counts", ds.info["counts"])
split_table

# %%
plt.close("all")
