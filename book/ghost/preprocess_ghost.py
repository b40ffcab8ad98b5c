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
# for it (`--track forward`: 8 features, `--track matching`: 13). This notebook runs the
# dataset step, `hepnb.features.ghost.make_dataset`, which does what the original project's
# `make_dataset.py` did, with two changes said below:
#
# 1. read the feature set and the `ghost` label from the `kalman_validator/kalman_ip_tree`
#    tree (a missing branch is an error naming it);
# 2. drop rows with NaN or infinite features (real ntuples have a few: failed fits) and
#    report how many;
# 3. optionally keep only a random `fraction` of the rows;
# 4. split 60 / 20 / 20 into training, validation and test sets, at random with the seed,
#    keeping the ghost fraction equal in the three;
# 5. balance ghosts and real tracks in the training and validation sets — the original
#    dropped real tracks at random until both classes were equal; with a few per cent of
#    ghosts in the matching sample that throws away over 90 % of the tracks, so here each
#    track instead gets
#    a weight that makes both classes weigh the same (`balance="weight"`; `"undersample"`
#    does what the original did). The **test set keeps the natural ghost fraction**, so the
#    efficiencies and ghost rates measured on it are the physical ones;
# 6. min-max normalise the features to [0, 1] with the training set's minimum and maximum
#    (saved as JSON next to the arrays). χ²-like features have very long tails — a χ² of
#    10⁴ when the bulk is at 30 — which would squeeze the bulk into the first percent of
#    [0, 1]; here such features are first compressed with sign(x)·ln(1 + |x|/s), with s
#    about each feature's core resolution (the JSON holds s too). The exported model folds
#    both steps in, so it takes the raw features.

# %% tags=["parameters"]
seed = 0  # seed of the simulation, the fraction, the split and the balancing
n_tracks = 50_000  # reconstructed candidates in the simulated sample
data_path = ""  # a real Allen kalman_ip_tree ntuple; empty: simulate
out_dir = "runs/ghost"  # run folder shared by the chapter's notebooks
device = "auto"  # unused here; every notebook takes it
track = "matching"  # feature set: "forward" or "matching"
fraction = 1.0  # fraction of the ntuple to use

# %%
import json

import matplotlib.pyplot as plt

import hepnb.plot
from hepnb.chapters import ghost as chapter
from hepnb.runs import record, run_dir

hepnb.plot.style("LHCb")
out = run_dir("ghost", out_dir)
info = chapter.prepare(out, track, n_tracks, seed, data_path, fraction=fraction, plot=True)
summary = info.summary
{
    k: summary[k]
    for k in ("source", "track", "n_read", "n_nan_removed", "n_used", "ghost_fraction", "balance")
}

# %% [markdown]
# The three splits, with their number of ghosts:

# %%
counts = summary["counts"]
counts

# %%
record(
    out,
    "preprocess_counts",
    {
        **{s: c["n"] for s, c in counts.items()},
        "n_used": summary["n_used"],
        "n_nan_removed": summary["n_nan_removed"],
    },
)
train = info.load("train")
ghost_weight = float(train.w[train.y == 1].sum() / train.w.sum())
record(out, "preprocess_train_ghost_weight_fraction", ghost_weight)
record(out, "preprocess_test_ghost_fraction", float(info.load("test").y.mean()))

# %% [markdown]
# After weighting, ghosts carry half of the training set's weight, although they are only a
# small fraction of its tracks.
#
# ## The normalisation
#
# Offsets and scales fitted on the training split, per feature:

# %%
norm = json.loads(info.normalization_path.read_text())
{
    f: {"slog_scale": s, "offset": round(o, 4), "scale": round(c, 4)}
    for f, s, o, c in zip(
        norm["features"], norm["slog_scale"], norm["offset"], norm["scale"], strict=True
    )
}

# %% [markdown]
# The network's inputs, ghosts against real tracks, after the scaling: every feature now
# spans [0, 1] (the validation and test sets may stray slightly outside).

# %%
fig = chapter.plot_features(train.x, train.y, train.features)
for ax in fig.axes:
    if ax.get_visible():
        ax.set_xlabel(ax.get_xlabel() + " (scaled)", fontsize="x-small")

# %%
x = train.x
record(out, "preprocess_train_range", [float(x.min()), float(x.max())])

# %% [markdown]
# ## As the original did it
#
# The same step with the original's settings — undersampling and plain min-max — for
# comparison; it keeps only as many real tracks as there are ghosts.

# %%
orig = chapter.make_dataset(
    chapter.sample(out, n_tracks, seed, data_path, track),
    out / "original_style",
    track,
    fraction=fraction,
    normalize=True,
    balance="undersample",
    seed=seed,
)
{s: c for s, c in orig.summary["counts"].items()}

# %% [markdown]
# The raw feature histograms written by the dataset step with `plot=True` are in the run
# folder (`ghost_<track>_features.png`). Next, `train_ghost` trains the classifier.

# %%
plt.close("all")
