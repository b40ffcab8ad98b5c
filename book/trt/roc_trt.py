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
# many muons it takes for one to pass. The classifiers, on the same test tracks:
#
# - **eProbHT**: ATLAS's HT likelihood (electron vs pion hypothesis, MC calibration) with its
#   per-hit corrections: straw layer × position along the straw × track-to-wire distance
#   (shown as its log-ratio, the logit of eProbHT: same ROC, no saturation at 1);
# - **ToT**: ATLAS's ToT (dE/dx) likelihood: a truncated mean of ToT/L whose electron and muon
#   pdfs are calibrated on the training split;
# - **combined**: the product of the two likelihoods, as ATLAS's combined electron probability;
# - **lstm_ht**: the LSTM without the ToT (HT information only), and **lstm**, the LSTM;
# - **optimum**: the exact likelihood ratio of the simulator's model. By the Neyman–Pearson
#   lemma nothing beats it on these inputs; it exists only for simulated samples.
#
# Every number carries a 68 % bootstrap interval (the test tracks resampled a thousand times);
# differences are paired (same resamples). Working points are chosen on the **validation**
# split and applied unchanged to the test split.

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

import hepnb.plot
from hepnb import evaluate
from hepnb.chapters import trt as chapter
from hepnb.runs import record
from hepnb.widgets import ThresholdExplorer

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
scores = chapter.load_scores(cfg)  # trains the models first if this configuration has none
val, mc = scores["val"], scores["test"]
classifiers = {k: v for k, v in chapter.scores_mapping(mc).items() if k != "lstm_pion"}
list(classifiers)

# %% [markdown]
# ## ROC curves on the simulated test set
#
# The table gives, per classifier, the AUC and the muon rejection at 90 % and 95 % electron
# efficiency as value [68 % interval]; the Δ columns are the difference to the combined
# likelihood, the fair classical baseline, with its paired interval. The shaded bands of the
# ROC curves are the bootstrap intervals.

# %%
report = evaluate.report(mc["y"], classifiers, effs=(0.90, 0.95), reference="combined")
report.record(cfg.out_dir, "roc_mc")
ax = hepnb.plot.roc(
    {name: (mc["y"], s) for name, s in classifiers.items()},
    bands=report.bands(),
    signal="electron",
    background="muon",
    experiment="ATLAS",
    rlabel="MC test set",
)
report.display()

# %% [markdown]
# The muon rejection at a few electron efficiencies with its bootstrap error bars:

# %%
ax = hepnb.plot.rejection_vs_efficiency(
    report, effs=(0.80, 0.85, 0.90, 0.95), signal="electron", background="muon", experiment="ATLAS"
)

# %% [markdown]
# Where the LSTM's gain comes from: `lstm_ht` against `eProbHT` is what learning does with
# the HT hits alone; `combined` against `eProbHT` is what the ToT adds to a classical
# likelihood; `lstm` against `combined` is what is left for the network.

# %%
rej = report.table["rej90"]
for a, b in (
    ("lstm_ht", "eProbHT"),
    ("combined", "eProbHT"),
    ("lstm", "combined"),
    ("lstm", "optimum"),
):
    print(f"{a} / {b} rejection at 90% electron efficiency: {rej[a] / rej[b]:.2f}")

# %% [markdown]
# ## Working points chosen on validation
#
# The cut keeping 90 % of the *validation* electrons is applied to the test tracks: the test
# efficiency is then a measurement, not 90 % by construction. Purity and F1 are quoted at an
# electron fraction of 50 % (`chapter.steps.SIGNAL_FRACTION`: BR(Z→ee) = BR(Z→μμ), the mix
# of a Z tag-and-probe sample).

# %%
wp = chapter.display.working_point_table(
    val, mc, list(classifiers), signal_fraction=chapter.steps.SIGNAL_FRACTION
)
record(
    cfg.out_dir,
    "roc_working_point",
    wp.loc["lstm", ["threshold", "efficiency", "rejection"]].to_dict(),
)
wp[
    [
        "threshold",
        "efficiency",
        "efficiency_lo",
        "efficiency_hi",
        "rejection",
        "rejection_lo",
        "rejection_hi",
        "purity",
        "f1",
    ]
].round(4)

# %% [markdown]
# ### Moving the working point
#
# The threshold explorer moves the working point along the ROC curves of all the classifiers
# at once, on the **validation** split, where working points are chosen: the slider sets the
# electron efficiency, and the table gives for each classifier the cut, the efficiency
# reached, the muon efficiency, the rejection with a quick binomial error, the purity and F1.
# What a chosen cut then does on the test tracks is the table above. The dropdown picks whose
# score distribution is shown with its cut. Without a live kernel (the published book) it
# shows the 90 % working point.

# %%
val_classifiers = {k: v for k, v in chapter.scores_mapping(val).items() if k in classifiers}
explorer = ThresholdExplorer(
    val["y"],
    val_classifiers,
    efficiency=0.90,
    classifier="lstm",
    signal="electron",
    background="muon",
)
explorer

# %% [markdown]
# ## Per detector region and vs occupancy
#
# Rejection at the same validation cut in the barrel and the end-cap A and B wheels (their HT
# onsets differ), and in bins of track occupancy, with Wilson intervals.

# %%
names = ["eProbHT", "combined", "lstm", "optimum"]
by_region = chapter.display.rejection_by(val, mc, names, "region")
by_occ = chapter.display.rejection_by(val, mc, names, "occ", [0.0, 0.1, 0.15, 0.2, 0.3, 0.6])
record(
    cfg.out_dir,
    "roc_region_rej90",
    {f"{r.classifier}/{r.label}": float(r.rejection) for r in by_region.itertuples()},
)
fig, axes = plt.subplots(1, 2, figsize=(14, 5))
chapter.display.plot_rejection_by(by_region, axes[0], "detector region")
chapter.display.plot_rejection_by(by_occ, axes[1], "track occupancy")
by_region.pivot(index="label", columns="classifier", values="rejection").round(1)

# %% [markdown]
# ## Data vs simulation
#
# The tag-and-probe "data" sample differs from the simulation in shapes, not only scales: a
# later HT onset, a gain pattern over the straw layers, more pile-up, and 8 % background
# (pions) among the probes, which the tag-and-probe fit removes statistically with sWeights
# (some negative). Every data figure uses these weights. On data, `optimum` is the likelihood
# ratio with the *data* response — the bound there — and `optimum_mc` the same ratio with the
# MC response, what a simulation-calibrated likelihood gives.

# %%
if "data" in scores:
    d = scores["data"]
    fig = chapter.display.plot_data_vs_mc(mc, d)
    data_cls = {k: v for k, v in chapter.scores_mapping(d).items() if k != "lstm_pion"}
    data_report = evaluate.report(
        d["y"], data_cls, effs=(0.90, 0.95), weight=d["w"], reference="combined"
    )
    data_report.record(cfg.out_dir, "roc_data")
    unweighted = evaluate.report(d["y"], data_cls, effs=(0.90,), n_boot=50)
    record(cfg.out_dir, "roc_data_unweighted_rej90", unweighted.table["rej90"].to_dict())
    cut = float(wp.loc["lstm", "threshold"])
    signal = d["y"] == 1
    eff_data = float((d["w"][signal] * (d["lstm"][signal] >= cut)).sum() / d["w"][signal].sum())
    record(cfg.out_dir, "roc_data_eff_at_mc_working_point", eff_data)
    print(f"electron efficiency of the MC 90% working point on data (sWeighted): {eff_data:.3f}")
    display(data_report.display())  # noqa: F821 - display is an IPython builtin

# %% [markdown]
# ## Pions
#
# eProbHT is built against the pion hypothesis. Electrons against pions of the same test
# split: the classical likelihoods (calibrated against pions), the electron/muon LSTM applied
# unchanged (how it generalises) and an LSTM trained on electrons and pions.

# %%
if "pion_test" in scores:
    pi = scores["pion_test"]
    pion_report = evaluate.report(
        pi["y"], chapter.scores_mapping(pi), effs=(0.90,), reference="combined"
    )
    pion_report.record(cfg.out_dir, "roc_pion")
    display(pion_report.display())  # noqa: F821 - display is an IPython builtin
