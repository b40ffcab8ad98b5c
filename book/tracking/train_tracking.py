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
# # Finding tracks: training the networks
#
# Two networks, two ways to find tracks:
#
# * **TrackNETv2** (P. Goncharov, G. Ososkov, D. Baranov, AIP Conf. Proc. 2163 (2019) 040003)
#   reads a track candidate's hits station by station with a GRU and, after each hit,
#   predicts an **ellipse** on the next station — its centre in (φ, z) and its two
#   semi-axes — where the next hit should be. Its loss is
#   α · (distance of the true hit from the centre, in units of the semi-axes)
#   + (1 − α) · (the ellipse's area): the first term alone would grow the ellipse until every
#   hit is inside, the second shrinks it. The area is counted in mm² on the next layer: the
#   distance term has no unit, so the best ellipse grows as (α σ / ((1 − α) · unit²))^(1/3)
#   for hits scattering by σ about the prediction, and with coordinates normalised to O(1) —
#   where a hit scatters by 10⁻³ — α = 0.9 would draw ellipses over a tenth of the layer. The
#   network predicts the next hit as an offset from the current one, the semi-axes in units
#   of 1 mm. Tracks are then built by extending seeds (pairs of hits on the first two
#   stations) with the hit nearest the centre inside the ellipse.
#   (φ is taken relative to the track's first hit, so a track crossing φ = ±π is no
#   discontinuity.)
# * An **Interaction Network** (Battaglia et al., NeurIPS 2016; for tracking: DeZoort et al.,
#   Comput. Softw. Big Sci. 5 (2021) 26) in PyTorch Geometric classifies the edges of the
#   segment graph of `preprocess_tracking`: edges and hits exchange messages for
#   `gnn_iterations` rounds, then each edge gets the probability that it joins two
#   consecutive hits of one particle. Tracks are chains of high-probability edges.
#
# Both train with `hepnb.train.fit` on the training events, keeping the epoch of lowest
# validation loss; a rerun with more `epochs` resumes the checkpoints.

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

# %% [markdown]
# ## TrackNETv2

# %%
tracknet = chapter.train(cfg, "tracknet", progress=False)
print(tracknet.model)
print(f"{tracknet.n_parameters:,} parameters")
ax = hepnb.plot.history(tracknet.history, experiment=chapter.display.EXPERIMENT)

# %% [markdown]
# On the validation tracks: the fraction of true next hits inside the predicted ellipse (the
# **hit efficiency**) and the mean ellipse area — on the next station's cylinder, in mm²
# (semi-axes in r·φ and z); an efficiency bought with larger ellipses is no gain, so the two
# are quoted together.

# %%
hit_eff = chapter.hit_efficiency(cfg, "val")
record(cfg.out_dir, "train_hit_efficiency", {"tracknet": hit_eff.value})
hit_eff.display()

# %% [markdown]
# ## The Interaction Network

# %%
gnn = chapter.train(cfg, "gnn", progress=False)
print(gnn.model)
print(f"{gnn.n_parameters:,} parameters")
ax = hepnb.plot.history(gnn.history, experiment=chapter.display.EXPERIMENT)

# %% [markdown]
# Edge classification on the validation events: the ROC curve of the edge scores (true
# segments against the rest) and its area.

# %%
edges = chapter.edge_scores(cfg, "val")
ax = hepnb.plot.roc(
    {"Interaction Network": (edges["y"], edges["score"])}, experiment=chapter.display.EXPERIMENT
)
record(cfg.out_dir, "train_edge_auc", {"gnn": edges["auc"]})
print(f"edge AUC (validation) = {edges['auc']:.4f}")
