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
# # Finding tracks: the events
#
# A charged particle crossing a solenoid's uniform field $B$ (along the beam, $z$) moves on a
# **helix**: a circle in the transverse plane of radius
#
# $$R\,[\mathrm{m}] = \frac{p_T\,[\mathrm{GeV}]}{0.3\,B\,[\mathrm{T}]},$$
#
# and a straight line in $z$ against the arc length. A cylindrical tracker records where the
# helix crosses each of its layers (the *stations*, numbered from the beam outwards). Track
# finding is the combinatorial part of reconstruction: which hits belong together? Noise hits,
# inefficient layers, multiple scattering in the material and low-momentum particles that curl
# up inside the tracker ("spinning" tracks, crossing the same layers again and again) make it
# hard.
#
# The chapter follows **Ariadne** (P. Goncharov et al., AIP Conf. Proc. 2377 (2021) 040004),
# the library that applied TrackNETv2 and graph networks to the **BESIII** experiment's new
# inner tracker: the **cylindrical GEM inner tracker (CGEM-IT)**, three coaxial layers of
# triple-GEM detectors in a 1 T field (Symmetry 14 (2022) 905). That is the default
# `geometry`, so the numbers here compare like for like with Ariadne's published ones; a
# 43-layer drift chamber and a dense 10-layer silicon barrel (2 T) show the methods at low and
# high occupancy. This notebook looks at the events; `preprocess_tracking` prepares them,
# `train_tracking` trains TrackNETv2 and a graph network, and `roc_tracking` compares the
# three track finders with a Hough transform.

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
geom = chapter.geometry(cfg)
hits = chapter.events(cfg)  # simulates the sample first unless data_path names real events
chapter.geometry_table(geom)

# %% [markdown]
# ## The sample
#
# One row per hit: `event x y z station track` (mm; `track` is the particle, −1 for noise)
# and, per particle, its momentum and production vertex — the record of Ariadne's BESIII
# files. A particle counts for the efficiency (*reconstructable*) when it has hits on at least
# `min_stations` distinct stations and $p_T$ above `pt_min` of the geometry.

# %%
chapter.summary(hits, geom)

# %% [markdown]
# Hits per event on each station, from particles and from noise:

# %%
ax = chapter.display.plot_station_occupancy(hits)

# %% [markdown]
# ## One event
#
# The true tracks (each particle's hits joined station by station) in the transverse and
# longitudinal views; grey crosses are noise. The slider in JupyterLab walks through the
# events.

# %%
truth = chapter.truth_display(hits, geom)
truth

# %% [markdown]
# ## The helix
#
# With the simulation's truth: the radius of a circle fitted to each particle's hits against
# the radius $R = p_T / (0.3 B)$ its momentum predicts. The spread is the hit resolution and
# multiple scattering; low-$p_T$ particles scatter most.

# %%
check = chapter.helix_check(hits, geom)
ax = chapter.display.plot_helix_check(check, b_field=geom.b_field)
check.describe().loc[["count", "mean", "std"]].round(4)

# %% [markdown]
# ## Ariadne's text format
#
# BESIII events for Ariadne come as text, one hit per line:
# `event x y z station track px py pz X0 Y0 Z0` (mm, GeV; no header). `data_path` accepts
# such a file as well as a ROOT file; the same events written as text and read back:

# %%
text = chapter.sim.write_text(hits.select_events(range(3)), f"{cfg.out_dir}/three_events.txt")
print("\n".join(text.read_text().splitlines()[:5]))
back = chapter.reader.read(text)
chapter.compare_hits(hits.select_events(range(3)), back)

# %% [markdown]
# ## Transformations
#
# Ariadne prepares events with a chain of small transformations — coordinate changes,
# scalings, and filters that use the truth (dropping noise, short tracks, spinning tracks,
# tracks with holes) to make training samples. Here each is a class whose `repr` is the
# configuration: `transforms` and `train_filters` are lists of them, and
# `hepnb run tracking --config exp.yaml` rebuilds the same chain. Applied to the training
# events, the filters leave:

# %%
chapter.filter_table(hits, cfg)
