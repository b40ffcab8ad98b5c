# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # TRT electron identification: how well does it work?
#
# An electron identification cut keeps a chosen fraction of electrons — the **electron
# efficiency** ε_e — and lets through a fraction ε_μ of muons; the **rejection** 1/ε_μ says how
# many muons it takes for one to pass. The ROC curve traces rejection against efficiency for
# every possible cut. Three classifiers are compared on the same test tracks:
#
# - **eProbHT**, the classical HT likelihood ATLAS uses;
# - the **LSTM** trained in the previous notebook;
# - the **optimum**: the exact likelihood ratio of the simulator's own model, which uses every
#   effect the simulation contains. By the Neyman–Pearson lemma no classifier of the same
#   inputs can have a better ROC curve; it exists only for simulated samples.
#
# The rejection at fixed efficiency carries a binomial uncertainty, σ(ε_μ) = √(ε_μ(1 − ε_μ)/N_μ).

# %% tags=["parameters"]
seed = 0  # seed of sample, split and training
n_tracks = 20_000  # tracks per simulated tree
data_path = ""  # a real TRTFrame ntuple; empty: simulate
out_dir = "runs/trt"  # run folder shared by the chapter's notebooks
device = "auto"  # used if the model has to be trained first
epochs = 10  # used if the model has to be trained first
batch_size = 256  # used if the model has to be trained first
lr = 2e-3  # used if the model has to be trained first

# %%
import matplotlib.pyplot as plt

import hepnb.plot
from hepnb import evaluate
from hepnb.chapters import trt as chapter
from hepnb.runs import record

hepnb.plot.style("ATLAS")
scores = chapter.load_scores(
    out_dir,
    epochs=epochs,
    batch_size=batch_size,
    lr=lr,
    seed=seed,
    device=device,
    n_tracks=n_tracks,
    data_path=data_path,
)
mc = scores["test"]
classifiers = chapter.scores_mapping(mc)
sorted(classifiers)

# %% [markdown]
# ## ROC curves on the simulated test set

# %%
ax = hepnb.plot.roc(
    {name: (mc["y"], s) for name, s in classifiers.items()},
    signal="electron",
    background="muon",
    experiment="ATLAS",
    rlabel="MC test set",
)

# %%
table = evaluate.summary(mc["y"], classifiers, effs=(0.90, 0.95))
table.round(4)

# %%
rej = {name: evaluate.rejection_at(mc["y"], s, 0.90) for name, s in classifiers.items()}
record(out_dir, "roc_mc_auc", table["auc"].to_dict())
record(out_dir, "roc_mc_rej90", {k: r.rejection for k, r in rej.items()})
record(out_dir, "roc_mc_rej90_err", {k: r.error for k, r in rej.items()})
ratio = rej["lstm"].rejection / rej["eProbHT"].rejection
print(f"LSTM / eProbHT rejection at 90% electron efficiency: {ratio:.2f}")
if "optimum" in rej:
    print(f"LSTM / optimum: {rej['lstm'].rejection / rej['optimum'].rejection:.2f}")

# %% [markdown]
# The LSTM beats the HT likelihood because it also uses the ToT (dE/dx and the extra charge of
# absorbed TR photons) and learns the per-straw dependences — the HT probability is lower for
# tracks passing near the straw wall and varies along the straw — that the classical lookup
# table ignores. The gap to the optimum is what a finite training sample and a small network
# leave on the table; it shrinks with more tracks and epochs.

# %% [markdown]
# ## Choosing a working point
#
# A threshold scan lists, for cuts on the LSTM score, the counts and rates of the confusion
# matrix: efficiency = TP/(TP+FN), purity = TP/(TP+FP), F1 (harmonic mean of the two) and
# Youden's J = ε_e − ε_μ. ATLAS analyses use fixed-efficiency working points, so we choose the
# tightest cut that keeps at least 90 % of electrons.

# %%
scan = evaluate.threshold_scan(mc["y"], mc["lstm"])
chosen = evaluate.choose_threshold(scan, {"efficiency": 0.90})
record(
    out_dir,
    "roc_working_point",
    {
        "threshold": float(chosen["threshold"]),
        "efficiency": float(chosen["efficiency"]),
        "rejection": float(chosen["rejection"]),
    },
)
scan.iloc[::10].round(4)

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
hepnb.plot.threshold_scan(scan, axes[0], chosen=float(chosen["threshold"]), experiment="ATLAS")
hepnb.plot.score_hist(
    mc["y"],
    mc["lstm"],
    axes[1],
    signal="electron",
    background="muon",
    xlabel="LSTM electron score",
    threshold=float(chosen["threshold"]),
    experiment="ATLAS",
)
chosen

# %% [markdown]
# ### Moving the working point
#
# The threshold explorer moves the working point along the ROC curves of all the classifiers
# at once: the slider sets the electron efficiency, and the table gives for each
# classifier the cut, the efficiency reached, the muon efficiency, the rejection with its
# binomial uncertainty, the purity and F1 — the same `hepnb.evaluate` functions as above, so at
# 90 % it repeats the numbers of the table. The dropdown picks whose score distribution is shown
# with its cut. Without a live kernel (the published book) it shows the 90 % working point.

# %%
from hepnb.widgets import ThresholdExplorer

explorer = ThresholdExplorer(
    mc["y"], classifiers, efficiency=0.90, classifier="lstm", signal="electron", background="muon"
)
assert explorer.numbers.loc["lstm", "rejection"] == rej["lstm"].rejection
explorer

# %% [markdown]
# ## Data vs simulation
#
# The tag-and-probe "data" sample is where a method meets reality: occupancy is higher than in
# the simulation, the HT probability and the ToT scale differ slightly. A classifier trained on
# simulation is applied unchanged. The electron efficiency of the working point chosen above
# shifts, and so does the rejection; a real analysis measures both on data and calibrates
# (scale factors), which is exactly what this comparison shows is needed.

# %%
if "data" in scores:
    d = scores["data"]
    data_classifiers = chapter.scores_mapping(d)
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    hepnb.plot.roc(
        {f"{n} (data)": (d["y"], s) for n, s in data_classifiers.items()},
        axes[0],
        signal="electron",
        background="muon",
        experiment="ATLAS",
        text="Internal",
        rlabel="tag-and-probe",
    )
    hepnb.plot.roc(
        {f"{n} (MC)": (mc["y"], s) for n, s in classifiers.items()},
        axes[0],
        signal="electron",
        background="muon",
        experiment="ATLAS",
        text="Internal",
    )
    for line in axes[0].get_lines()[len(data_classifiers) :]:
        line.set_linestyle("--")
    axes[0].legend(fontsize="x-small")
    hepnb.plot.hist1d(
        {
            "electron MC": mc["lstm"][mc["y"] == 1],
            "electron data": d["lstm"][d["y"] == 1],
            "muon MC": mc["lstm"][mc["y"] == 0],
            "muon data": d["lstm"][d["y"] == 0],
        },
        ax=axes[1],
        bins=40,
        xlabel="LSTM electron score",
        log=True,
        experiment="ATLAS",
        text="Internal",
    )
    data_table = evaluate.summary(d["y"], data_classifiers, effs=(0.90, 0.95))
    thr = float(chosen["threshold"])
    eff_data = float((d["lstm"][d["y"] == 1] >= thr).mean())
    record(out_dir, "roc_data_auc", data_table["auc"].to_dict())
    record(out_dir, "roc_data_eff_at_mc_working_point", eff_data)
    print(f"electron efficiency of the MC 90% working point on data: {eff_data:.3f}")
    display(data_table.round(4))  # noqa: F821 - display is an IPython builtin
