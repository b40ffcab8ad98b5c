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
# Every number comes with a 68 % interval (≈ ±1σ) from the **bootstrap**: the test tracks are
# resampled with replacement a thousand times, each figure is recomputed on every resample
# (the cut re-derived each time) and the interval spans the central 68 % of the values. It is
# the statistical uncertainty of a finite test set. The classifiers are scored on the same
# resamples, so the gain of each over `eProbHT` gets its own, paired interval, narrower than
# the two intervals side by side suggest.

# %% tags=["parameters"]
seed = 0  # seed of the simulated sample, the split and the training
data_path = ""  # a real TRT ntuple (file or glob); empty: simulate
out_dir = "runs/trt"  # run folder shared by the chapter's notebooks
device = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
n_tracks = 20_000  # tracks per simulated tree (electron_mc, muon_mc, pion_mc)
min_hits = 5  # tracks with fewer TRT hits are dropped (PID needs at least 5)
epochs = 10  # maximum number of training epochs
batch_size = 256  # tracks per training batch
lr = 2e-3  # Adam learning rate
hidden = 64  # LSTM hidden size (64 in the published model)

# %%
import matplotlib.pyplot as plt
import numpy as np

import hepnb.plot
from hepnb import evaluate
from hepnb.chapters import trt as chapter
from hepnb.runs import record
from hepnb.widgets import ThresholdExplorer

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
scores = chapter.load_scores(cfg)  # trains the model first if this configuration has none
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

# %% [markdown]
# The table gives, per classifier, the AUC and the muon rejection at 90 % and 95 % electron
# efficiency, each as value [68 % interval]; the Δ columns are the difference to `eProbHT`
# with its paired interval.

# %%
report = evaluate.report(mc["y"], classifiers, effs=(0.90, 0.95), reference="eProbHT")
report.record(cfg.out_dir, "roc_mc")
report.display()

# %%
rej = report.table["rej90"]
print(f"LSTM / eProbHT rejection at 90% electron efficiency: {rej['lstm'] / rej['eProbHT']:.2f}")
if "optimum" in rej:
    print(f"LSTM / optimum: {rej['lstm'] / rej['optimum']:.2f}")

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
    cfg.out_dir,
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
# classifier the cut, the efficiency reached, the muon efficiency, the rejection with a quick
# binomial error (the bootstrap intervals above are the ones to quote), the purity and F1 — the
# same `hepnb.evaluate` functions as above, so at 90 % it repeats the rejections of the table.
# The dropdown picks whose score distribution is shown with its cut. Without a live kernel (the
# published book) it shows the 90 % working point.

# %%
explorer = ThresholdExplorer(
    mc["y"], classifiers, efficiency=0.90, classifier="lstm", signal="electron", background="muon"
)
assert np.isclose(explorer.numbers.loc["lstm", "rejection"], rej["lstm"])
explorer

# %% [markdown]
# ## Data vs simulation
#
# The tag-and-probe "data" sample is where a method meets reality: occupancy is higher than in
# the simulation, the HT probability and the ToT scale differ slightly. A classifier trained on
# simulation is applied unchanged. The electron efficiency of the working point chosen above
# shifts, and so does the rejection; a real analysis measures both on data and calibrates
# (scale factors), which is exactly what this comparison shows is needed. Data tracks count with
# their tag-and-probe weights.

# %%
if "data" in scores:
    d = scores["data"]
    fig = chapter.display.plot_data_vs_mc(mc, d)
    data_report = evaluate.report(
        d["y"], chapter.scores_mapping(d), effs=(0.90, 0.95), weight=d["w"], reference="eProbHT"
    )
    data_report.record(cfg.out_dir, "roc_data")
    signal = d["y"] == 1
    eff_data = np.average(d["lstm"][signal] >= float(chosen["threshold"]), weights=d["w"][signal])
    record(cfg.out_dir, "roc_data_eff_at_mc_working_point", float(eff_data))
    print(f"electron efficiency of the MC 90% working point on data: {eff_data:.3f}")
    display(data_report.display())  # noqa: F821 - display is an IPython builtin
