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
# # Finding tracks: preparing the events
#
# The events are split 60/20/20 into **training**, **validation** and **test** events with the
# run's seed. Everything fitted here sees only the training events; everything chosen (the
# Hough binning, later the GNN's edge threshold) is chosen on the validation events; the
# test events are only measured, in `roc_tracking`.
#
# Three preparations, all cached in the run folder (`preprocess-<key>/`):
#
# 1. the **coordinate chain** `transforms` (cylindrical coordinates r, φ, z, then a scaling)
#    fitted on the training events — its fitted form is a list of transform `repr`s, stored
#    and reloaded, so an experiment's preprocessing is part of its configuration;
# 2. the **segment graph** of the GNN: hits are nodes, and candidate segments join hits on
#    adjacent stations when they pass geometric cuts fitted on the training events' true
#    segments — its edge efficiency and purity bound what any edge classifier can do;
# 3. the **Hough transform** baseline, its binning tuned on the validation events.

# %% tags=["parameters"]
seed = 0  # seed of the simulation, the split and the training
data_path = ""  # real events: a ROOT file (tree "events") or a BESIII text file; globs allowed
out_dir = "runs/tracking"  # run folder shared by the chapter's notebooks
device = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
geometry = "cgem"  # "cgem" (BESIII CGEM, 3 layers), "drift" (43 layers) or "silicon" (10 layers)
n_events = 1500  # simulated events
transforms = ["ToCylindrical()", "StandardScale()"]  # coordinate chain, fitted on training events
train_filters = ["DropSpinningTracks()", "DropTracksWithHoles()", "DropShort()"]  # truth filters
cut_keep = 0.999  # fraction of true segments each graph cut keeps (training events)
tracknet_hidden = 32  # GRU width of TrackNETv2
alpha = 0.9  # TrackNETv2 loss: weight of the distance term (1 - alpha: the ellipse area)
gnn_hidden = 40  # width of the Interaction Network
gnn_iterations = 3  # message-passing steps of the Interaction Network
epochs = 30  # maximum training epochs of each network (more epochs resume the checkpoint)
batch_size = 32  # events per GNN batch
track_batch = 8  # tracks per TrackNETv2 batch
lr = 3e-3  # Adam learning rate
hough_n_phi = [128, 256, 512]  # Hough phi0 binnings tried on the validation events
hough_n_kappa = [8, 16, 32]  # Hough curvature binnings tried on the validation events

# %%
import hepnb.plot
from hepnb.chapters import tracking as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style(chapter.display.EXPERIMENT)
prep = chapter.preprocess(cfg)
parts = chapter.splits(cfg)
chapter.split_table(parts, chapter.geometry(cfg))

# %% [markdown]
# ## The coordinate chain
#
# As configured and as fitted on the training events (the fitted offsets and scales are part
# of each `repr`; `transforms.parse` of this list rebuilds exactly this chain):

# %%
chapter.transforms.to_config(prep.chain)

# %% [markdown]
# The network inputs before and after it, on the training events:

# %%
fig = chapter.display.plot_features(parts["train"], chapter.features(prep, parts["train"]))

# %% [markdown]
# ## The segment graph
#
# A segment joins two hits on adjacent stations. Its cuts, each chosen to keep a fraction
# `cut_keep` of the true segments (consecutive hits of one particle) of the training events'
# reconstructable particles — a few curling electrons bend a hundred times more and would
# otherwise open the cuts for everyone:
# the azimuthal bend per unit radius |Δφ/Δr| (a particle of lower $p_T$ bends more) and the
# $z$ intercept $z_0$ of the straight line through the two hits at $r = 0$ (it must point back
# to the beam spot).

# %%
prep.cuts

# %% [markdown]
# Edge efficiency (true segments of reconstructable particles the graph keeps, of all of
# them) and purity (such segments among the edges), per split, with 68 % bootstrap intervals
# over events. The edge efficiency is a ceiling for the GNN: a segment the graph lost cannot
# be found.

# %%
graph_rates = chapter.graph_report(cfg)
graph_rates.record(cfg.out_dir, "preprocess_graph")
graph_rates.display()

# %% [markdown]
# ## TrackNETv2's training tracks
#
# TrackNETv2 learns from true tracks read station by station; `train_filters` keep the
# tracks it can learn from (no loopers, no holes, at least three hits):

# %%
chapter.filter_table(parts["train"], cfg)

# %% [markdown]
# ## The Hough transform
#
# A track from the beam line is a circle through the origin: a hit at radius $r$ and azimuth
# φ lies on the circle of signed curvature κ = q·0.3B/p_T and initial direction φ₀ when
# φ₀ = φ + asin(κr/2). Each hit votes, for every κ bin, for the φ₀ bin it implies; a track
# is a peak with hits on enough stations, cleaned in r–z. The binning trades efficiency
# (coarse bins collect a scattered track's hits) against fakes (coarse bins collect noise):
# it is chosen here on the validation events by efficiency − fake rate − duplicate rate.

# %%
ax = chapter.display.plot_hough_scan(prep.hough_scan)
record(cfg.out_dir, "preprocess_hough", prep.hough.to_dict())
prep.hough
