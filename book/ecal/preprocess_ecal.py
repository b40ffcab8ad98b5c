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
# # Counting electrons: streaming the events
#
# A full LDMX sample holds millions of events of a few hundred hits each — more than a
# laptop's memory. Nothing in this chapter therefore loads the sample: events are **read in
# blocks** from the ROOT files and turned into what a network eats batch by batch.
#
# 1. **Blocks and splits.** Each multiplicity's files are cut into blocks of `block`
#    consecutive events; a seeded draw sends 70 % of every class's blocks to training, 15 % to
#    validation and 15 % to the test (`hepnb.stream.plan`). Splitting by block keeps every
#    read contiguous.
# 2. **Streaming.** `hepnb.stream.EventStream` is a PyTorch `IterableDataset`: it reads the
#    blocks with uproot, in a new random order every epoch, interleaving the files of the
#    four multiplicities; a **shuffling buffer** of `buffer_size` events mixes them so that
#    every batch holds all classes. With several DataLoader workers, each reads its own share
#    of the blocks. Memory is bounded by the buffer, whatever the sample size
#    (`bench/bench_ecal_stream.py` measures it).
# 3. **Batches.** Each batch is built vectorised, without a loop over events: the energy
#    image of the CNN, the padded hit sequences of the RNN, the hit graphs of the GNN
#    (`hepnb/chapters/ecal/batches.py`).
# 4. **The scintillator response.** ldmx-sw files hold the electrons' exact crossing points
#    at the scintillator's scoring plane (`TrigScintScoringPlaneHits`, simulation truth). The
#    chapter turns them into fired bars with one documented response — bar width and gap,
#    ≈ 100 photo-electrons per MIP with Poisson fluctuations, a 30 photo-electron threshold
#    and a 98 % efficiency (`hepnb/chapters/ecal/trigscint.py`) — applied identically to
#    simulated and real files, with a generator seeded per block so an event fires the same
#    bars in every epoch. A file with reconstructed bars (`TrigScintRecHits`) uses those.
# 5. **Summaries.** One streamed pass collects a few numbers per event — ΣE, hit count,
#    scintillator clusters, and from the simulation truth the smallest distance between two
#    electrons and whether one missed the ECal — for the baselines and the studies.


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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hepnb.plot
from hepnb import stream
from hepnb.chapters import ecal as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LDMX")
units = chapter.plan(cfg)
counts = {split: stream.class_counts(u) for split, u in units.items()}
pd.DataFrame(
    {
        split: {f"{n} e": c.get(i, 0) for i, n in enumerate(cfg.multiplicities)}
        | {"blocks": len(units[split])}
        for split, c in counts.items()
    }
).T

# %% [markdown]
# ## The summary pass
#
# Events per split and multiplicity, and events without any ECal hit — all of their
# electrons missed the ECal. Such events are kept (as an empty image, an empty sequence, a
# graph without nodes): a real trigger sees them too.

# %%
summary = chapter.summaries(cfg)
counts = summary.counts()
record(
    cfg.out_dir, "preprocess_empty_events", {k: int(v) for k, v in counts["no ECal hit"].items()}
)
counts

# %% [markdown]
# ## What each network sees
#
# One training batch for each model family: its tensors and their shapes. The CNN's image
# puts each cell on the **global hexagonal lattice** (axial coordinates q, r, two cells per
# pixel side): neighbouring pixels are neighbouring cells, also across module boundaries —
# a cell *index* is not a spatial axis, which is why the original study's (layer, module,
# cell-index) grid (`grid = "index"`, kept as an option) is a poor image. Every model also
# gets the event vector: ΣE / 4 GeV and, with `trigscint`, the count of scintillator
# clusters (one-hot) and the 48-bar pattern.

# %%
shapes = {}
for name in chapter.MODELS:
    batch_cfg = cfg.replace(model=name, batch_size=8)
    batch = next(iter(stream.loader(chapter.streams(batch_cfg)["train"])))
    if name == "gnn":  # a PyTorch Geometric Batch of 8 graphs
        shapes[name] = {
            "nodes × features": tuple(batch.x.shape),
            "event vector": tuple(batch.extra.shape),
        }
    else:
        (*inputs, extra), y = batch
        shapes[name] = {f"input {i}": tuple(t.shape) for i, t in enumerate(inputs)}
        shapes[name]["event vector"] = tuple(extra.shape)
pd.DataFrame(shapes).T

# %% [markdown]
# The energy image of one event, summed over the layers: the showers of separate electrons
# are separate blobs; nearby electrons merge.

# %%
x, y = next(iter(stream.loader(chapter.streams(cfg.replace(model="cnn", batch_size=8))["train"])))
image = np.expm1(x[0][:, 0].numpy()).sum(axis=1)  # (B, Q, R), MeV
event = int(np.argmax(y.numpy()))
fig, ax = plt.subplots(figsize=(6, 5))
im = ax.imshow(np.log1p(image[event]).T, origin="lower", cmap="viridis")
fig.colorbar(im, ax=ax, label="log(1 + E / MeV) summed over layers")
ax.set_xlabel("axial q (2 cells per pixel)")
ax.set_ylabel("axial r (2 cells per pixel)")
ax.text(
    0.04,
    0.05,
    f"{cfg.multiplicities[int(y[event])]} electrons",
    color="white",
    transform=ax.transAxes,
)
hepnb.plot.label(ax, "LDMX", "Simulation Internal")

# %% [markdown]
# ## The scintillator count
#
# Clusters of fired bars against the true number of electrons (training split): electrons
# within a bar or two of each other merge, and halo electrons miss the pad's 30 × 80 mm.

# %%
train = summary["train"]
table = pd.crosstab(
    pd.Series(train["n"], name="electrons"),
    pd.Series(np.minimum(train["ts_clusters"], 5), name="TS clusters"),
    normalize="index",
)
record(
    cfg.out_dir,
    "preprocess_ts_count",
    {str(n): float(table.loc[n].get(n, 0.0)) for n in cfg.multiplicities},
)
table.round(3)
