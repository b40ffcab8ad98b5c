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
# # Finding tracks: comparing the methods
#
# The three track finders on the **test events**, which nothing was fitted or tuned on:
#
# * **Hough transform** — the classical baseline, its binning tuned on validation events;
# * **TrackNETv2** — seeds from the segment graph's first-station edges, extended station by
#   station with the hit nearest the centre of the predicted ellipse; an ellipse larger than
#   99.9 % of those on the validation tracks searches nothing (a seed of noise hits is unlike
#   any track the network learned from, and its wide ellipse would catch a random hit);
# * **GNN** — the Interaction Network's edge scores above a threshold chosen on the
#   validation events, then chains of mutually best edges.
#
# **Definitions.** A particle is *reconstructable* with hits on at least `min_stations`
# stations and $p_T$ above `pt_min` (both per geometry). A track *matches* a particle under
# the double-majority rule: more than half of the track's hits are the particle's, and the
# track holds more than half of the particle's hits. **Efficiency** = matched reconstructable
# particles / reconstructable particles; a **fake** is a track no particle owns more than
# half of; a **duplicate** is a further track whose majority particle another track already
# matches; fake and duplicate rates are per track. Every number has a 68 % bootstrap interval
# over events, all methods on the same resamples, so differences between methods are paired.

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

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style(chapter.display.EXPERIMENT)
result = chapter.evaluate_all(cfg)  # trains the networks first if train_tracking has not
result.report.record(cfg.out_dir, "roc")
result.report.display()

# %% [markdown]
# ## Against the baseline
#
# Each network minus the Hough transform, on the same test events (paired bootstrap): a
# method is *ahead* when the interval excludes zero.

# %%
chapter.differences(result, "hough")

# %% [markdown]
# Published on BESIII CGEM events for comparison (their definitions differ in detail: recall
# and precision of tracks, after their own selections): RDGraphNet 95 % recall / 74 %
# precision and TrackNETv3 95 % / 76 % (arXiv:2210.00599); RDGraphNet 98 % / 86 % and
# TrackNETv2 94 % / 77 % after a classifier (Computer Research and Modeling, 2020).

# %% [markdown]
# ## TrackNETv2's ellipses on the test tracks
#
# The hit efficiency at the mean ellipse area it was bought with:

# %%
result.hit_efficiency.record(cfg.out_dir, "roc_hit_efficiency")
result.hit_efficiency.display()

# %% [markdown]
# ## The GNN's edge threshold
#
# Chosen on the validation events (efficiency − fake rate − duplicate rate of the built
# tracks); the test events never choose:

# %%
ax = chapter.display.plot_threshold_scan(result.threshold_scan, result.found["gnn"].threshold)
result.threshold_scan.round(4)

# %% [markdown]
# ## Where tracks are lost
#
# Efficiency against the particle's transverse momentum and pseudorapidity (binomial 68 %
# intervals): low-$p_T$ particles scatter most and curl most.

# %%
ax = chapter.display.plot_efficiency_vs(
    chapter.efficiency_vs(result, "pt"), xlabel=r"particle $p_T$ [GeV]"
)

# %%
ax = chapter.display.plot_efficiency_vs(
    chapter.efficiency_vs(result, "eta"), xlabel=r"particle $\eta$"
)

# %% [markdown]
# ## Helix fit of the found tracks
#
# A circle fitted to each matched track's hits in x–y gives $p_T = 0.3 B R$ and the charge
# from the sense of rotation: the resolution (68 % half-width of the relative residual)
# and the fraction of charges assigned correctly.

# %%
fits = chapter.helix_table(result)
ax = chapter.display.plot_pt_resolution(fits.residuals)
fits.table

# %% [markdown]
# ## Time
#
# Wall time per event of each finder on this machine (graph building and network inference
# included; CPU):

# %%
chapter.timing_table(result)

# %% [markdown]
# ## Events
#
# The test events with one method's tracks: green matched, orange duplicate, red fake, purple
# split (a particle's hits shared by tracks none of which holds most of them); dashed blue,
# reconstructable particles the method missed. The dropdown picks the method.

# %%
viewer = chapter.display.TrackingEventDisplay(
    result.hits,
    {m: f.tracks for m, f in result.found.items()},
    result.matches,
    result.reconstructable,
    sample="gnn",
)
viewer
