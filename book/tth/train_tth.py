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
# # ttH(H→bb): training the model catalogue
#
# The same inputs — `n_jets` jets with their features and mask, plus the event features —
# go to six models that differ in what they assume about them (their *inductive bias*; the
# [model catalogue](catalogue.md) lists them):
#
# * **MLP** and **residual MLP**: the flattened inputs, jet slots in pT order. They can learn
#   anything in principle, but must learn the same function again for each slot a b jet can
#   occupy.
# * **Deep Sets**: the same small network on every jet, summed: permutation invariant, it
#   sees the jets as a set, but pairs only through the sum.
# * **Transformer**: self-attention between the jets (padding masked), then a mean over
#   them: every pair of jets interacts, still permutation invariant.
# * **GNN**: message passing on the graph of the event's jets (PyTorch Geometric's dense
#   layers), also pairwise and permutation invariant.
# * **BDT**: gradient-boosted decision trees (scikit-learn's histogram GBDT), the workhorse of
#   LHC analyses and the baseline every network must beat; padded jets are missing values.
#
# Each network minimises the weighted binary cross-entropy with Adam; the epoch kept, early
# stopping (`patience`) and the learning-rate schedule follow the **validation AUC**.
# Checkpoints and an MLflow store go to a cached folder per model, keyed by the configuration:
# rerun with more `epochs` and training continues.

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
import pandas as pd

import hepnb.plot
from hepnb.chapters import tth as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
out = cfg.run_dir
ds = chapter.dataset(cfg)
trained = chapter.train_all(cfg, ds)
trees = chapter.bdt(cfg, ds) if "bdt" in cfg.models else None
chapter.training_table(trained, trees)

# %% [markdown]
# ## Loss and accuracy against the epoch
#
# Training and validation loss (weighted cross-entropy) and accuracy (weighted, at a score of
# 0.5) per epoch; the marked epoch is the one kept (best validation AUC). A validation curve
# that turns up while the training curve keeps falling is overtraining, which early stopping
# cuts short.

# %%
fig = chapter.display.plot_histories({chapter.NAMES[k]: t.history for k, t in trained.items()})

# %% [markdown]
# ## Validation AUC and the chosen model
#
# The model whose score goes back into the ntuples (`inject`) is, by default, the network with
# the highest validation AUC: chosen on validation events, so the test split still measures it
# without bias.

# %%
sc = chapter.scores(cfg, ds, trained, trees, splits=("val",))
val_auc = chapter.validation_aucs(ds, sc["val"])
chosen = chapter.choose(cfg, ds, sc["val"])
record(out, "train_val_auc", val_auc)
record(out, "train_chosen", chosen)
pd.Series(val_auc, name="validation AUC").round(4).to_frame()

# %% [markdown]
# ## Export to ONNX
#
# The chosen network is exported with its input scaling folded in: it takes the **raw** flat
# inputs (jet features in GeV, the mask, event features; the names are stored in the file) and
# returns P(ttH). ONNX Runtime must agree with PyTorch on every test event.

# %%
onnx_path = chapter.export_onnx(trained[chosen], ds)
record(out, "train_onnx", str(onnx_path))
print(f"{chosen}: {onnx_path}")
plt.close("all")
