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
# # Counting electrons: training a network
#
# `model` picks one of four ways to read an event, each a file of `hepnb/models/`:
#
# * **`cnn`** — a 3D convolutional network (`CNN3d`) on the energy image of 34 layers × the
#   hexagonal lattice. Strided convolutions (4 layers deep at first: the layers are thin)
#   reduce the image; the last feature map is pooled as a **sum** (which grows with the
#   number of showers: counting is extensive) and a **max**.
# * **`rnn`** — a GRU (`HitRNN`) reading the `max_hits` most energetic hits of the event,
#   front to back, each as (x, y, layer, log E, time after the time of flight). Events
#   have different numbers of hits; padding never enters the recurrence (the sequences are
#   packed), and a test proves that appending padding changes nothing.
# * **`gnn`** — a graph network in PyTorch Geometric (`EdgeConvNet`): every hit is a node
#   joined to its 8 nearest neighbours in (x, y, depth); EdgeConv layers learn from the
#   differences between neighbours (the second layer rebuilds the graph in the learned
#   feature space), then sum, mean and max pooling over the nodes.
# * **`cnn_rnn`** — a 2D CNN on each layer's image, then a GRU over the 34 layers as frames
#   of a film (`FrameCNNRNN`): the shower's development in depth.
#
# Each also gets the event vector — ΣE / 4 GeV and the scintillator's cluster count and bar
# pattern (`trigscint`) — joined after pooling, and ends in a small MLP with one output per
# multiplicity (the logits). Training minimises the cross-entropy with `hepnb.train.fit`,
# keeping the epoch of lowest validation loss, on batches streamed from the files
# (`preprocess_ecal`). The trained network and its class probabilities on the validation and
# test splits are stored in the cached folder `<model>-<key>/` of the run folder, which
# `roc_ecal` reads.


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
import numpy as np
import pandas as pd

import hepnb.plot
from hepnb.chapters import ecal as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LDMX")
model = chapter.build_model(cfg)
print(model)
print(f"{chapter.n_parameters(model):,} parameters")

# %% [markdown]
# ## Training
#
# Loss per epoch on the training and validation splits; a rerun with more `epochs` resumes
# the checkpoint.

# %%
trained = chapter.train(cfg)
ax = hepnb.plot.history(trained.history, experiment="LDMX")
trained.history.to_frame().round(4)

# %% [markdown]
# ## Validation accuracy
#
# The fraction of validation events whose most probable count is the true one, beside the
# energy-sum count on the same events (the test split is kept for `roc_ecal`).

# %%
pred = chapter.predictions(cfg)["val"]
summary = chapter.summaries(cfg)["val"]
mults = np.asarray(cfg.multiplicities)
accuracy = {
    cfg.model: float((mults[pred["prob"].argmax(1)] == summary["n"]).mean()),
    "energy sum": float(
        (mults[chapter.baselines(cfg)["val"]["energy sum"].argmax(1)] == summary["n"]).mean()
    ),
}
record(cfg.out_dir, "train_val_accuracy", accuracy)
pd.Series(accuracy, name="validation accuracy").round(4)
