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
# # Counting electrons in the LDMX calorimeter: the detector and the events
#
# The Light Dark Matter eXperiment (LDMX) sends a 4 GeV electron beam onto a thin tungsten
# target and looks for events in which an electron loses most of its energy to an invisible
# particle: the calorimeters downstream then see much less than the beam energy. To collect
# enough electrons the beam delivers several per bunch — a Poisson number with mean μ of
# order one — so the trigger must know **how many electrons arrived** in each bunch: only
# then does "missing energy" mean something. With n electrons, n × 4 GeV are expected.
#
# This chapter counts the electrons (1–4) of an event from the hits of the silicon–tungsten
# **electromagnetic calorimeter** (ECal) and from the **trigger scintillator** (TS) pad in
# front of the target. Four networks — a 3D CNN, a recurrent network over hits, a graph
# network and a CNN+RNN over layers — are compared with the classical counts: the total
# energy divided by 4 GeV, the number of clusters of fired scintillator bars, and their
# likelihood combination.
#
# **The ECal** (ldmx-sw's v14 geometry) has 34 sensitive silicon layers between tungsten
# absorbers, ≈ 40 radiation lengths X₀ deep. Each layer is tiled by 7 hexagonal modules
# (one central, six around it, 1.5 mm apart, 85 mm from centre to flat), each of 432
# hexagonal cells of 4.8 mm side. A hit is one cell above the readout threshold, with its
# reconstructed energy in MeV (the silicon deposit scaled by the layer's sampling weight) and
# its cell's position in mm; its 32-bit `EcalID` packs the ECal subdetector number (5, bits
# 26–31), the layer (bits 17–22), the module (bits 12–16) and the cell (bits 0–11).
#
# **The trigger scintillator pad** just upstream of the target has 48 bars of 3.05 mm width
# in two staggered layers measuring y. An electron crossing a bar leaves ≈ 100
# photo-electrons; two electrons within a bar or two of each other fire one cluster.
#
# **The sample.** Real LDMX files are written by ldmx-sw, one file (or set) per electron
# multiplicity; `data_path` points at them (a pattern with `{n}` or a mapping n → file). Here
# they are simulated (`hepnb generate ecal`): electrons over the beam spot with a beam halo
# reaching the outer modules, gaps and edges (or missing the ECal), radiation in the material
# upstream, electromagnetic showers with a Γ-function longitudinal profile and a core + tail
# lateral profile scaled by the Molière radius, sampling fluctuations, cell noise and the
# readout threshold — see `hepnb/chapters/ecal/sim.py` for each ingredient and its source.


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

import hepnb.plot
from hepnb.chapters import ecal as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LDMX")
files = chapter.sample(cfg)  # simulates the sample the first time (one file per multiplicity)
{n: [str(f) for f in paths] for n, paths in files.items()}

# %% [markdown]
# ## Events
#
# A few events of each multiplicity, read with the chapter's reader (the same code reads
# ldmx-sw's files). Left: the hits of all layers seen from the beam, each cell coloured by
# its energy, over the outlines of the seven modules; crosses mark where the electrons
# entered the ECal (simulation truth). Middle: energy per layer — the shower maximum sits
# about 6 X₀ deep. Right: the scintillator bars the electrons fired. Move the slider to step
# through the events.

# %%
viewer = chapter.display.ECalEventDisplay.from_files(
    files, n_max=20, pass_name=cfg.pass_name, seed=cfg.seed
)
viewer

# %% [markdown]
# ## Energy response
#
# The total energy ΣE of an event, in units of the beam energy, should be the number of
# electrons. Its spread comes from the sampling fluctuations (≈ 15 %/√E) and the beam energy
# spread, its tails from energy that never reaches the cells: electrons that radiated a hard
# photon in the material upstream (the tagger tracker, beam-line windows: the Bethe–Heitler
# spectrum) arrive with less energy, showers near a module gap or the ECal's edge leak, and
# halo electrons may miss the ECal altogether. The dashed lines are the boundaries of
# "ΣE / 4 GeV rounded", the energy-sum count: an electron that lost more than half of its
# energy is counted as none, though its shower is there to see.

# %%
summary = chapter.summaries(cfg)
train = summary["train"]
ax = chapter.display.plot_energy_response(train)

# %%
resolution = chapter.display.energy_resolution_table(train)
record(
    cfg.out_dir,
    "explore_energy_resolution",
    {str(k): float(v) for k, v in resolution["σ/E"].items()},
)
resolution

# %% [markdown]
# Hits per event grow with the number of electrons (≈ 90 per electron, plus a few noise
# hits); this sets the sequence length of the recurrent network and the graph size.

# %%
ax = chapter.display.plot_hits_per_event(train)

# %% [markdown]
# How often the two classical counts are right, per multiplicity, on the training split (the
# test split is kept for the final comparison):

# %%
n = train["n"]
energy_count = np.clip(np.rint(train["energy"] / chapter.schema.BEAM_ENERGY), 1, None)
ts_count = np.maximum(train["ts_clusters"], 1)
rates = {
    int(k): {
        "energy sum": float((energy_count[n == k] == k).mean()),
        "TS clusters": float((ts_count[n == k] == k).mean()),
        "events": int((n == k).sum()),
    }
    for k in cfg.multiplicities
}
record(cfg.out_dir, "explore_energy_count", {str(k): v["energy sum"] for k, v in rates.items()})
rates
