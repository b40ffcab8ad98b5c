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
# # Ghost tracks: from the ntuple to training arrays
#
# The classifier sees one track at a time, described by the features the trigger computes
# for it (`track = "forward"`: 8 features, `"matching"`: 13). This notebook runs the dataset
# step, `chapter.dataset` (in `hepnb/chapters/ghost/steps.py`), which does what the original
# project's `make_dataset.py` did, with three changes said below:
#
# 1. read the feature set and the `ghost` label from the `kalman_validator/kalman_ip_tree`
#    tree (a missing branch is an error naming it);
# 2. drop rows with NaN or infinite features (real ntuples have a few: failed fits) and
#    report how many;
# 3. apply the original's preselection, best_pt < 10 GeV/c and track χ² < 400
#    (`chapter.schema.PRESELECTION`), and optionally keep only a random `fraction` of the rest;
# 4. split 60 / 20 / 20 into training, validation and test sets, at random with the seed,
#    keeping the ghost fraction about equal in the three — and, unlike the original, **by
#    event**: the candidates of one event share hits (a ghost is often made of a real track's
#    VELO hits), so all candidates of an event go to the same set and the test set never
#    holds the other half of a training candidate;
# 5. balance ghosts and real tracks in the training and validation sets — the original
#    dropped real tracks at random until both classes were equal; with a few per cent of
#    ghosts in the matching sample that throws away over 90 % of the tracks, so here each
#    track instead gets a weight that makes both classes weigh the same
#    (`balance = "weight"`; `"undersample"` does what the original did). The **test set
#    keeps the natural ghost fraction**, so the efficiencies and ghost rates measured on it
#    are the physical ones;
# 6. min-max normalise the features to [0, 1] with the training set's minimum and maximum.
#    χ²-like features have very long tails — a χ² of 10⁴ when the bulk is at 30 — which would
#    squeeze the bulk into the first percent of [0, 1]; here such features are first
#    compressed with sign(x)·ln(1 + |x|/s), with s about each feature's core resolution
#    (`chapter.schema.TAIL_SCALES`). The scaler is saved as JSON beside the (unscaled)
#    arrays; the exported model folds it in, so it takes the raw features.
#
# The step is cached: its folder `dataset-<key>/` in the run folder is keyed by the settings
# it depends on (sample size, seed, `data_path`, `track`, `fraction`, `balance`), so every
# later notebook reuses it, and changing one of them makes a new one beside it.

# %% tags=["parameters"]
seed = 0  # seed of the simulation, the split, the search and the initial weights
data_path = ""  # a real Allen kalman_ip_tree ntuple (file or glob) of `track`; "": simulate
out_dir = "runs/ghost"  # run folder shared by the chapter's notebooks
device = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
n_tracks = 50_000  # reconstructed candidates per track type in the simulated sample
track = "matching"  # feature set: "forward" or "matching"
fraction = 1.0  # fraction of the ntuple used
balance = "weight"  # class balancing of train/val: "weight" or "undersample"
network = 1  # 0: MLP on the scaled features, 1: the same behind a BatchNorm layer
epochs = 30  # maximum epochs of the final training (early stopping after 5 without gain)
batch_size = 256  # tracks per batch when n_trials is 0 (otherwise the search chooses it)
lr = 3e-3  # learning rate when n_trials is 0 (otherwise the search chooses it)
n_trials = 20  # Optuna trials (0: no search); more trials resume the stored study
search_epochs = 6  # epochs per search trial
efficiency = 0.99  # real-track efficiency of the working point

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hepnb.plot
from hepnb.chapters import ghost as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LHCb")
out = cfg.run_dir
ds = chapter.dataset(cfg)
info = ds.info
{
    k: info[k]
    for k in (
        "source",
        "track",
        "n_read",
        "n_nan_removed",
        "preselection",
        "n_preselected",
        "n_used",
        "n_events",
        "ghost_fraction_before_preselection",
        "ghost_fraction",
        "balance",
    )
}

# %% [markdown]
# The three splits, with their numbers of real tracks (0) and ghosts (1):

# %%
pd.DataFrame(info["class_counts"]).T.assign(total=pd.Series(info["counts"]))

# %%
record(
    out,
    "preprocess_counts",
    {
        **info["counts"],
        "n_used": info["n_used"],
        "n_nan_removed": info["n_nan_removed"],
        "n_preselected": info["n_preselected"],
    },
)
train, test = ds.arrays["train"], ds.arrays["test"]
w = train.get("w", np.ones(len(train["y"])))
record(out, "preprocess_train_ghost_weight_fraction", float(w[train["y"] == 1].sum() / w.sum()))
record(out, "preprocess_test_ghost_fraction", float(test["y"].mean()))
shared = set(train["event"]) & set(test["event"])
record(out, "preprocess_events_shared_by_train_and_test", len(shared))

# %% [markdown]
# After weighting, ghosts carry half of the training set's weight, although they are only a
# small fraction of its tracks; no event has candidates in both the training and the test
# set.
#
# ## The normalisation
#
# Signed-log scales, offsets and scales fitted on the training split, per feature:

# %%
scaler = ds.scaler
pd.DataFrame(
    {"log_scale": scaler.log_scale, "offset": scaler.offset, "scale": scaler.scale},
    index=pd.Index(scaler.names, name="feature"),
).round(4)

# %% [markdown]
# The network's inputs, ghosts against real tracks, after the scaling: every feature now
# spans [0, 1] (the validation and test sets may stray slightly outside).

# %%
x = ds.scaled("train")
fig = chapter.plot_features(x, train["y"], ds.features, suffix=" (scaled)")

# %%
record(out, "preprocess_train_range", [float(x.min()), float(x.max())])

# %% [markdown]
# ## As the original did it
#
# The same step with the original's balancing — undersampling — for comparison (another
# cached step, since `balance` is one of its keys); it keeps only as many real tracks as
# there are ghosts in the training and validation sets.

# %%
orig = chapter.dataset(cfg.replace(balance="undersample"))
pd.DataFrame(orig.info["class_counts"]).T

# %% [markdown]
# Next, `train_ghost` trains the classifier.

# %%
plt.close("all")
