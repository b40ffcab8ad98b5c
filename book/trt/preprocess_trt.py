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
# # TRT electron identification: from ntuple to sequences
#
# The network reads a track as a **sequence of hits**, in the order the particle crossed the
# straws, plus a handful of track-level numbers. Tracks have different numbers of hits, so the
# sequences have different lengths. Instead of padding every track to the longest one, the hits
# of all tracks are stored one after the other in a flat `(N_hits, 7)` array with an `offsets`
# array marking where each track starts; a batch is gathered with index arithmetic and handed
# to the LSTM as a PyTorch *packed sequence*, which skips the padding entirely.
#
# Hit features (those of the published ATLAS study): `hit_HTMB` (HT middle bit, 0/1),
# `hit_gasType` (0 Xe, 1 Ar), `hit_tot` (ns), `hit_L` (path length in the straw, mm),
# `hit_rTrkWire` (track-to-wire distance, mm), `hit_HitZ` and `hit_HitR` (hit position, mm).
# Track features: `trkOcc` (local occupancy), log₁₀ p and log₁₀ pT (MeV), `nXehits`, the
# argon-hit fraction fAr, the HT fraction fHTMB and the precision-hit fraction PHF (hits whose
# drift radius agrees with the track's distance from the wire).

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
import numpy as np

import hepnb.plot
from hepnb.chapters import trt as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
summary = chapter.prepare(cfg)
summary["counts"]

# %% [markdown]
# `prepare` read electrons (label 1) and muons (label 0) from the simulation trees, dropped the
# tracks with fewer than `min_hits` hits, split the rest 60/20/20 into training, validation and
# test sets (the split keeps the electron fraction equal in each, and depends on `seed` only),
# and did the same for the tag-and-probe "data" trees, kept whole as a second test set.
#
# The features are standardised, (x − mean)/std, with the mean and standard deviation of the
# **training split only** — fitting them on all tracks would let the test set leak into
# training. The two scalers (hits and tracks) are saved as `scalers.json` next to the arrays and
# stored inside the model, so they travel with its weights.
#
# Everything lands in a folder `dataset-<key>/` of the run folder, where `<key>` is a hash of
# the settings the dataset depends on (`n_tracks`, `seed`, `data_path`, `min_hits`): rerunning
# with the same settings reuses it, other settings make a new folder beside it.

# %%
p = chapter.load_prepared(cfg)
record(cfg.out_dir, "preprocess_counts", p.counts)
record(cfg.out_dir, "preprocess_train_electron_fraction", float(p.train.y.mean()))
print(p.step.path)
{
    "hit features": dict(zip(p.hits.names, p.hits.mean.round(3).tolist(), strict=True)),
    "track features": dict(zip(p.tracks.names, p.tracks.mean.round(3).tolist(), strict=True)),
}

# %% [markdown]
# ## Track features, electrons vs muons
#
# The HT fraction is the strongest single variable; momentum and occupancy carry no class
# information by construction of the sample (electrons and muons share the same spectra), but
# the network needs them to interpret the hits: the HT probability depends on γ and rises with
# occupancy.

# %%
fig = chapter.display.plot_track_features(p.train)

# %% [markdown]
# ## One batch, as the network sees it
#
# A batch of 4 tracks gathered from the flat store: `batch_sizes` tells the LSTM how many
# sequences are still running at each step (the longest track first).

# %%
(packed, track_features), labels, weights = p.train[np.arange(4)]
print("hits per track:", (p.train.offsets[1:5] - p.train.offsets[:4]).tolist())
print(
    "packed data:",
    tuple(packed.data.shape),
    "batch sizes per step:",
    packed.batch_sizes[:8].tolist(),
    "...",
)
print("track features:", tuple(track_features.shape), "labels:", labels.tolist())
