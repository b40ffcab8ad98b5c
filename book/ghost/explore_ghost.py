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
# # Ghost tracks at LHCb: what they are and where they come from
#
# A charged particle crossing LHCb leaves *hits*: first in the **VELO**, the silicon pixel
# detector around the collision point (26 stations within a metre), then, after the
# **dipole magnet** (≈ 4 T m) has bent it in the horizontal plane, in the **SciFi** tracker
# seven to nine metres downstream (three stations of four scintillating-fibre layers, two of
# them tilted by ±5° to measure the vertical position). Track reconstruction has to decide
# which hits belong together. In LHCb's first software trigger two algorithms build the
# *long tracks* that cross the whole detector:
#
# * **forward**: start from a VELO track, look for SciFi hits in a window whose width is set
#   by the lowest momentum accepted (a 3 GeV/c particle bends by up to a metre), and keep the
#   hits that line up with the VELO track behind the magnet;
# * **matching**: build SciFi track segments on their own (*seeds*), extrapolate VELO tracks
#   and seeds to the magnet's bending plane and pair those that meet.
#
# Both sometimes combine hits of different particles, or of a particle and noise, into a
# track that no particle made: a **ghost**. LHCb calls a track real when at least 70 % of its
# VELO hits *and* 70 % of its SciFi hits come from one simulated particle, and a ghost
# otherwise. Ghosts waste trigger bandwidth and fake signals, so every track gets a *ghost
# probability* from a classifier, which this chapter trains.
#
# This notebook looks at the simulated ghosts. The simulator (`hepnb.chapters.ghost.sim`) does not
# draw ghosts from invented distributions: it simulates particles (Run-3-like spectra, pions,
# kaons and protons that may decay in flight or interact in the material, secondaries born
# behind the VELO, noise clusters), propagates them through the VELO, a scatterer, the magnet
# and the SciFi, and runs real seeding, matching, forward and track-fit algorithms; the ghost
# label is the 70 % rule applied to the hits each track ends up with.

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

import hepnb.plot
from hepnb.chapters import ghost as chapter
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LHCb")
out = cfg.run_dir
paths = chapter.samples(cfg)  # both track types of the same simulated events, or data_path
paths

# %% [markdown]
# ## The ntuples
#
# The files have the layout of LHCb's Allen validator (`chapter.schema`): a tree
# `kalman_validator/kalman_ip_tree` with one entry per reconstructed track candidate, the
# features the trigger knows about the track, and the truth label `ghost`. The simulator adds
# a few branches that the features do not include: the reconstructed momentum `p` and
# pseudorapidity `eta` (for the plots below), the event number and the true momentum of the
# particle behind most SciFi hits. Momenta are in MeV/c, q/p in c/MeV, lengths in mm.

# %%
ntuples = {t: chapter.read_ntuple(p, t) for t, p in paths.items()}
for t, nt in ntuples.items():
    print(
        f"{t:9s}: {len(nt.ghost):6d} candidates in {len(np.unique(nt.event))} events, "
        f"ghost fraction {nt.ghost.mean():.3f}, {nt.n_nan} rows with NaN dropped"
    )
record(out, "explore_ghost_fraction", {t: float(nt.ghost.mean()) for t, nt in ntuples.items()})
record(out, "explore_n_candidates", {t: len(nt.ghost) for t, nt in ntuples.items()})

# %% [markdown]
# **Conditions.** The simulated detector is LHCb's upgraded one (Run 3: pixel VELO, SciFi, no
# UT in these algorithms) at a *reduced* occupancy: 70 charged primaries in 1.5 < η < 5.5 per
# crossing, about three pp collisions, where Run 3 runs at ν ≈ 7.6 (LHCb Upgrade trigger
# TDR, CERN-LHCC-2014-016). At the nominal pile-up this simplified forward tracking (no UT,
# no momentum estimate to narrow its window) makes ≈ 30 % ghosts, far from LHCb's; at this
# occupancy, with the SciFi noise of the TDR and the forward's hit requirements of Allen
# (≥ 10 hits, ≥ 5 in x layers; see `chapter.sim.SimConfig`), its ghost rate is LHCb's
# published order of magnitude:
#
# | LHCb forward / long tracking | ghost rate |
# |---|---|
# | Allen HLT1 forward with the UT, B_s → φφ (Allen merge request !1525) | ≈ 3.6 % |
# | Allen HLT1 forward without the UT, high-pT tracks (Allen merge request !1385) | ≈ 3 % |
# | SciFi seeding, Hybrid seeding (Rec merge request !1969) | ≈ 6.5 % |
#
# **Preselection.** As in the original ghost-probability training, candidates with
# best_pt ≥ 10 GeV/c or track χ² ≥ 400 are dropped before anything is learned
# (`chapter.schema.PRESELECTION`; the dataset step applies it).
#
# What the ghosts are made of, from the simulation's truth (branch `ghost_origin`): which
# particle left most of the SciFi hits, compared with the particle of the VELO track — for
# all candidates and for the preselected ones, with the ghost rate of each.

# %%
composition = chapter.ghost_composition(paths) if not cfg.data_path else None
if composition is not None:
    record(
        out,
        "explore_ghost_composition",
        {f"{t}/{sel}": row.to_dict() for (t, sel), row in composition.iterrows()},
    )
composition.round(3) if composition is not None else None

# %% [markdown]
# The event display shows what the algorithms saw in a few simulated events, in the bending
# (x–z) plane: VELO and SciFi hits (noise clusters grey) and each reconstructed candidate as a
# line through its hits, kinked at the magnet — real tracks blue, ghosts red dashed; the table
# counts the candidates and ghosts of the event. In JupyterLab, move the slider to step through
# the events and pick the algorithm in the dropdown; elsewhere it shows the event chosen here.

# %%
event_display = chapter.GhostEventDisplay.from_simulation(
    n_events=10, seed=cfg.seed, track=["forward", "matching"], sample=cfg.track
)
# start on the first event with a ghost
n_ghosts = np.array([e["candidates"]["ghost"].sum() for e in event_display.events[cfg.track]])
event_display.set(index=int(np.argmax(n_ghosts > 0)))

# %% [markdown]
# The forward algorithm makes more ghosts than the matching: it tries every VELO track,
# including the many low-momentum ones that never reach the SciFi, and for those the best
# cluster of hits in its wide search window is made of other particles' hits (and, less
# often, noise). The
# matching (with the tolerances of LHCb's HLT1 matching) only pairs objects that both exist
# and meet in the magnet; its ghosts are pairs of a VELO track and a seed from *different*
# particles — a pion or kaon and the muon it decayed into, a hadron and a fragment of its
# interaction in the material, or two unrelated tracks that pass the windows by chance. The
# decays in flight are the hardest to recognise: the muon carries most of the momentum and
# leaves at a small angle, so the pair looks like one particle with a slightly worse fit.
#
# ## The features
#
# Each histogram compares ghosts and real tracks, normalised to unit area. The strongest
# handles are the track-fit χ² (a ghost's hits do not lie on one trajectory through the
# magnet), the number of hits, and for the matching the distances between the VELO track and
# the seed at the magnet.

# %%
nt = ntuples[cfg.track]
fig = chapter.plot_features(nt.x, nt.ghost, nt.features)

# %%
chi2ndf = nt.x[:, nt.features.index("chi2")] / nt.x[:, nt.features.index("ndof")]
med = {
    "ghost": float(np.median(chi2ndf[nt.ghost == 1])),
    "real": float(np.median(chi2ndf[nt.ghost == 0])),
}
record(out, "explore_median_chi2ndf", med)

# %% [markdown]
# The median χ²/ndof of real tracks is close to 1 — the fit's error model matches the
# simulated resolutions and multiple scattering — and that of ghosts is larger: several times
# for forward candidates, less (≈ 1.7 at the reduced preset) for matching ones, which already
# passed the matching's χ² windows at the magnet.
#
# ## Where the ghosts are
#
# The ghost rate (fraction of candidates that are ghosts) as a function of the reconstructed
# momentum, transverse momentum and pseudorapidity. A ghost has no true momentum: its q/p is
# whatever slope change the wrong combination of hits implies, roughly uniform in q/p and so
# often close to q/p = 0 — a fake *stiff* track — while the spectrum of real particles falls
# steeply. So the ghost rate rises at high p and pT, most for the forward tracking, whose
# search window lets any cluster of hits through. For the matching it also rises at low p,
# where multiple scattering forces the loosest matching tolerances, and at large η, where
# tracks crowd near the beam pipe.

# %%
bins = {
    "p": np.geomspace(2e3, 2e5, 16),
    "pt": np.geomspace(1e2, 1e4, 16),
    "eta": np.linspace(1.5, 5.5, 17),
}
# one curve per track type, for every variable the ntuples have
rates = {
    var: {t: chapter.ghost_rate(n.kin[var], n.ghost, None, b) for t, n in ntuples.items()}
    for var, b in bins.items()
    if all(var in n.kin for n in ntuples.values())
}
fig = chapter.plot_ghost_rates(rates, fmt="o")

# %%
rate = {}
for t, n in ntuples.items():
    low, high = n.kin["p"] < 5e3, n.kin["p"] > 2e4
    rate[t] = {"p<5GeV": float(n.ghost[low].mean()), "p>20GeV": float(n.ghost[high].mean())}
record(out, "explore_ghost_rate_vs_p", rate)

# %% [markdown]
# ## Hits on the track
#
# Real tracks keep almost all of their 12 SciFi hits; a ghost collects what lies in its search
# window, and the track fit removes the hits that do not fit (up to two outliers), so ghosts
# end with fewer hits. The VELO hit count mostly follows the geometry (a track at small angle
# crosses more stations).

# %%
n_scifi = {t: n.x[:, n.features.index("n_scifi")] for t, n in ntuples.items()}
rates = {
    "n_scifi": {
        t: chapter.ghost_rate(n_scifi[t], n.ghost, None, np.arange(5.5, 13.5))
        for t, n in ntuples.items()
    }
}
fig = chapter.plot_ghost_rates(rates)

# %% [markdown]
# Next, `preprocess_ghost` turns the ntuple into training arrays.

# %%
plt.close("all")
