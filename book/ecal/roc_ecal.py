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

# %% [markdown]
# # Counting electrons: comparing the methods
#
# All four networks (trained here if `train_ecal` has not trained them with these settings)
# and the three classical counts, on the **test split**, which nothing was tuned on:
#
# * **energy sum**: ΣE / 4 GeV rounded to the nearest multiplicity;
# * **TS clusters**: the number of clusters of fired scintillator bars;
# * **energy + TS likelihood**: the most probable count given both, P(n | ΣE, k) ∝
#   p(ΣE | n) P(k | n), with both distributions counted on the training split — the strongest
#   classical method here, and the reference of the paired differences whenever it is the
#   best classical count on validation.
#
# Every number comes with a 68 % bootstrap interval (events resampled with replacement; all
# methods on the same resamples, so the differences to the reference are paired).


# %% tags=["parameters"]
seed = 0  # seed of the simulation, the split, the scintillator response and the training
data_path = ""  # real ldmx-sw files: "/data/ecal_{n}e.root" (globs allowed) or {1: "...", ...}
out_dir = "runs/ecal"  # run folder shared by the chapter's notebooks
device = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
pass_name = "sim"  # ldmx-sw pass of the collections (EcalRecHits_<pass>, ...)
n_events = 800  # simulated events per electron multiplicity
multiplicities = [1, 2, 3, 4]  # electron counts (one file each)
max_events = 0  # events used per multiplicity (0: all)
model = "cnn"  # "cnn", "rnn", "gnn" or "cnn_rnn"
grid = "hex"  # CNN image: "hex" (spatial hexagonal lattice) or "index" (module × cell index)
trigscint = True  # give the models the trigger-scintillator bars
max_hits = 128  # most energetic hits per event given to the RNN and the GNN
epochs = 12  # maximum training epochs (more epochs resume the checkpoint)
batch_size = 32  # events per batch
lr = 5e-3  # Adam learning rate
block = 100  # events per streamed block (the split is drawn in blocks)
buffer_size = 1000  # events in the training stream's shuffling buffer
num_workers = 0  # DataLoader processes reading the training stream
poisson_mu = 1.0  # mean electrons per bunch of the beam mix also quoted

# %%

import hepnb.plot
from hepnb.chapters import ecal as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LDMX")
result = chapter.evaluate_all(cfg)  # trains every model family not yet trained
methods = list(chapter.BASELINES) + list(chapter.MODELS)
print(f"reference (best classical count on validation): {result.reference}")

# %% [markdown]
# ## Accuracy
#
# Over the four multiplicities in equal numbers, as simulated:

# %%
result.accuracy.display()

# %% [markdown]
# The beam delivers a Poisson number of electrons per bunch; restricted to 1–4 electrons with
# mean μ = `poisson_mu`, most bunches hold one or two. Each method's decision is moved to
# that prior (its probabilities multiplied by the Poisson weights over the training mix) and
# the test events are weighted to the Poisson mix:

# %%
result.poisson.display()

# %% [markdown]
# ## Where the counts go wrong
#
# Confusion matrices normalised per true count (each row sums to 1):

# %%
fig = chapter.display.plot_confusions(
    result, ["energy sum", "energy + TS likelihood", "cnn", "gnn"]
)

# %% [markdown]
# **Undercounting** — reading n electrons as n − 1 — is what hides a dark-matter signal from
# the missing-energy trigger: with one electron's energy invisible, an event of n electrons
# looks like a complete event of n − 1. **Overcounting** (n as n + 1) makes ordinary events
# look as if one electron's energy were missing: trigger rate. Both rates, on the test
# events that can be miscounted that way:

# %%
rates = result.undercount.table[["accuracy", "lo", "hi"]].rename(columns={"accuracy": "undercount"})
rates["overcount"] = result.overcount.table["accuracy"]
rates.round(4)

# %% [markdown]
# Accuracy against the smallest transverse distance between two electrons at the ECal face
# (simulation truth; events of two or more electrons): showers closer than about a Molière
# radius (≈ 1.5 cm) merge, and the energy sum stays the only handle.

# %%
ax = chapter.display.plot_accuracy_vs_distance(
    result, ["energy sum", "energy + TS likelihood", "cnn", "gnn"]
)

# %% [markdown]
# Events in which an electron missed the ECal or hit it at the edge (simulation truth) are
# reported apart: no calorimeter count can be right for an electron the ECal never saw,
# though the scintillator may have.

# %%
if result.inside is not None and result.outside is not None:
    print(
        f"{int(result.summary['outside'].sum())} of {len(result.n)} test events have an electron off the ECal"
    )
    table = result.inside.table[["accuracy", "lo", "hi"]].join(
        result.outside.table[["accuracy", "lo", "hi"]],
        lsuffix=" (all on ECal)",
        rsuffix=" (one off)",
    )
else:
    table = "the files have no EcalScoringPlaneHits truth"
table

# %% [markdown]
# ## The models side by side
#
# Parameters, training time on this machine (all epochs run), inference time per event and
# test accuracy:

# %%
record(cfg.out_dir, "roc_models", result.models.reset_index().to_dict(orient="records"))
result.models.round(3)
