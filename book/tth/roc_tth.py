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
# # ttH(H→bb): how well the models separate, and what it buys
#
# Every figure here is measured on the **test split** (events no model trained on, and no
# choice was made on) with the physics weights; every cut and binning is chosen on the
# validation split first. Intervals are 68 % from bootstrap resamples of the test events;
# differences between two models come from the same resamples (paired), so they are much
# sharper than the intervals of each figure.
#
# * **ROC and AUC**: ttH efficiency against the background rejection 1/ε(tt+bb).
# * **Confusion matrix** at the cut maximising Youden's J on validation.
# * **Overtraining**: training and test score distributions per process, with a
#   Kolmogorov–Smirnov test.
# * **Significance**: in each analysis region, the cut on the score maximising
#   S/√(B + δB²), where δB = `bkg_uncertainty` × B is the background's normalisation
#   uncertainty (36 %: the total uncertainty of CMS's tt+bb cross section at 13 TeV, Phys.
#   Lett. B 776 (2018) 355); and the **binned Asimov significance** of the whole score
#   distribution, as a shape fit would use it (Cowan et al., Eur. Phys. J. C 71 (2011) 1554).
# * **Sculpting**: whether the cut on the network reshapes the background's m_bb, which would
#   make a background peak where the signal is.
# * **Feature importance**: how much the AUC drops when one input is shuffled across events.
# * **Scores back into the ntuples**: the chosen model's score as a friend tree.

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
import numpy as np

import hepnb.plot
from hepnb import evaluate
from hepnb.chapters import tth as chapter
from hepnb.runs import record, record_with_interval

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
out = cfg.run_dir
ds = chapter.dataset(cfg)
trained = chapter.train_all(cfg, ds)  # cached: loads what train_tth trained
trees = chapter.bdt(cfg, ds) if "bdt" in cfg.models else None
sc = chapter.scores(cfg, ds, trained, trees)
y, w = ds.y("test"), ds.weight("test")
print(f"test split: {int(y.sum())} ttH and {int((y == 0).sum())} tt+bb events")

# %% [markdown]
# ## ROC curves and AUC
#
# AUC and the tt+bb rejection at 50 % and 70 % ttH efficiency; Δ columns are each model minus
# the BDT on the same resamples.

# %%
report = chapter.report(cfg, ds, sc["test"])
report.record(out, "roc")
report.display()

# %%
ax = hepnb.plot.roc(
    {k: (y, s, w) for k, s in sc["test"].items()},
    bands=report.bands(),
    signal="ttH",
    background="tt+bb",
    experiment="ATLAS",
    text="Simulation",
)

# %% [markdown]
# ## Confusion matrix
#
# For the model chosen in `train_tth`, at the cut maximising Youden's J = ε(ttH) − ε(tt+bb) on
# validation events; weighted, normalised per true process.

# %%
chosen = chapter.choose(cfg, ds, sc["val"])
name = chapter.NAMES[chosen]
cm, cut = chapter.confusion(ds, sc["val"][name], sc["test"][name])
record(out, "roc_confusion", {"model": name, "threshold": cut, "matrix": cm.to_numpy().tolist()})
ax = hepnb.plot.confusion(cm.to_numpy(), list(cm.index), experiment="ATLAS", text="Simulation")

# %% [markdown]
# ## Overtraining
#
# Training (filled) and test (points) score distributions of each process. If the network had
# memorised its training events, their scores would be more extreme than the test events': the
# Kolmogorov–Smirnov p-value would be tiny. With thousands of events per split, though, the
# test also flags differences too small to matter; the AUC on the training and the test
# events says how much: a gap of a few thousandths is harmless, one of several hundredths is
# memorisation.

# %%
ks, arrays = chapter.overtraining(
    ds, lambda split: chapter.model_scores(ds, trained[chosen], split)
)
record(out, "roc_overtraining_ks", ks.to_dict(orient="index"))
ax = hepnb.plot.overtraining(**arrays, bins=np.linspace(0, 1, 21))
gap = {
    split: evaluate.auc(arrays[f"y_{split}"], arrays[f"s_{split}"], arrays[f"w_{split}"])
    for split in ("train", "test")
}
record(out, "roc_overtraining_auc", gap)
print(f"AUC on training events {gap['train']:.4f}, on test events {gap['test']:.4f}")
ks

# %% [markdown]
# ## Significance in the analysis regions
#
# In each region and for each model, the cut is chosen on validation events (it needs at
# least ten raw background events passing), then S and B are the **test** events passing it,
# scaled to the full sample's expected yields at `luminosity`. The region without any cut is
# the reference; the binned Asimov significance uses `asimov_bins` score bins of equal
# validation signal.

# %%
sig = chapter.significance(cfg, ds, sc["val"], sc["test"])
region = chapter.schema.region_label(cfg.regions[0])
z = sig.loc[region]
record_with_interval(
    out,
    "roc_significance",
    z["significance"].to_dict(),
    {k: [r["significance_lo"], r["significance_hi"]] for k, r in z.iterrows()},
)
record(out, "roc_binned_asimov", z["binned_asimov"].to_dict())
sig.round(3)

# %%
scan = chapter.significance_scan(cfg, ds, sc["test"][name], cfg.regions[0])
ax = hepnb.plot.significance_scan(scan, chosen=float(z.loc[name, "threshold"]))

# %% [markdown]
# ## Does the cut sculpt the background's m_bb?
#
# A network that learned to find 125 GeV b pairs could, when cut on, turn the falling tt+bb
# m_bb spectrum into a peak at 125 GeV — a background that looks like signal in the very
# variable one would fit. The test background's normalised m_bb (closest b-tagged pair in ΔR)
# before and after the signal-region cut, compared as passing against failing events (χ² per
# degree of freedom and a Kolmogorov–Smirnov p-value). Here the networks see the b-pair masses
# among their inputs, so a tight cut does select background pairs near m_H: χ²/ndf well
# above 1 says the background m_bb is sculpted, and a fit of m_bb after this cut would need a
# background model taken after the cut too, or a network trained without the masses (or
# decorrelated from them) instead.

# %%
sculpt = chapter.sculpting(ds, sc["test"][name], float(z.loc[name, "threshold"]))
record(out, "roc_sculpting", {k: v for k, v in sculpt.items() if np.isscalar(v)})
fig = chapter.display.plot_sculpting(sculpt)
{k: v for k, v in sculpt.items() if np.isscalar(v)}

# %% [markdown]
# ## Feature importance
#
# Permutation importance of the chosen model on the test split: one input (a jet feature: all
# its jet slots together) is shuffled across events and the drop of the AUC measured.

# %%
imp = chapter.importance(ds, chapter.onnx_scorer(cfg, ds, trained[chosen]), seed=cfg.seed)
record(out, "roc_importance", imp.iloc[:, 0].to_dict())
imp.round(4)

# %% [markdown]
# ## Scores back into the ntuples
#
# The chosen model's score, computed by its ONNX file for **every** entry of every input
# ntuple, is written as a friend tree: a new file per input file, tree `nominal_Loose`, one
# entry per input entry in the same order, with `eventNumber` and `split` (0 training,
# 1 validation, 2 test — only test entries give unbiased figures). The ntuples themselves are
# never rewritten. In ROOT: `tree->AddFriend("nominal_Loose", "friend.root")`; with uproot the
# two trees are read side by side and checked entry by entry on `eventNumber`:

# %%
friends = chapter.inject(cfg, chosen, chapter.export_onnx(trained[chosen], ds), ds)
source, friend = friends["signal"][0]
both = chapter.read_with_friend(source, friend, ["nJets"])
record(out, "roc_injected", {p: [str(f) for _, f in v] for p, v in friends.items()})
print(f"{friend.name}: {len(both)} entries aligned with {source.name}")
both[:5].to_list()

# %%
plt.close("all")
