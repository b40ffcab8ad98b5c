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
# # TRT electron identification: exploring the sample
#
# The ATLAS **Transition Radiation Tracker** (TRT) is the outermost part of the inner detector:
# about 300 000 drift tubes ("straws") of 4 mm diameter, 73 layers of them in the barrel and
# 160 in each end-cap, interleaved with polypropylene radiator foils or fibres. A charged
# particle crossing a straw ionises the gas (mostly xenon, in some modules argon) and leaves a
# signal whose duration above the low threshold — the *time over threshold*, ToT, in ns — grows
# with the path length in the straw and with the energy lost, dE/dx.
#
# **Transition radiation** (TR) is emitted when a highly relativistic particle crosses the
# boundaries between materials of different dielectric constant: soft X-rays (5–30 keV) whose
# yield switches on above a Lorentz factor γ = E/m ≈ 10³ and saturates near 10⁴. Xenon absorbs
# these X-rays efficiently, and the energy deposit then passes a second, **high threshold** (HT).
# At the momenta of interest (a few to a hundred GeV) electrons have γ ≈ 10⁴–10⁵ while muons and
# pions, 200–270 times heavier, stay below γ ≈ 10³: the fraction of HT hits on a track
# separates them. Argon absorbs TR far less well, so Ar straws (used where gas leaks made xenon
# too costly) carry less information.
#
# This notebook looks at a sample of tracks: the HT probability as a function of γ (the "onset
# curve"), the ToT distributions and the number of TRT hits per track.

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
import awkward as ak
import numpy as np

import hepnb.plot
from hepnb.chapters import trt as chapter
from hepnb.evaluate import binned_mean
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
path = chapter.sample(cfg)
path

# %% [markdown]
# ## The ntuple
#
# The file follows the layout of the TRT particle-identification ntuples: one tree per particle
# type (`electron_mc`, `muon_mc`, `pion_mc` for simulation, `electron_probes`, `muon_probes` for
# the tag-and-probe "data"). Each entry is a track with its kinematics (MeV, rad) and counts,
# and per-hit vectors (`hit_*`) along the track; `chapter.schema` lists the branches and their
# units.

# %%
samples = chapter.read_mc(cfg)  # {"electron": tracks, "muon": tracks, "pion": tracks}
{name: len(a) for name, a in samples.items()}

# %%
samples["electron"][0].to_list()["hit_tot"][:10]  # ToT (ns) of the first hits of one track

# %% [markdown]
# ### One track at a time
#
# The event display draws the hits of one track where they sit in the detector: the R–z view
# (`hit_HitZ`, `hit_HitR`) over the barrel (straws along z) and the end-cap wheels (radial
# straws), with the high-threshold hits as red stars, and next to it the ToT of each hit along
# the track. In JupyterLab, move the slider to step through the tracks and pick a sample in the
# dropdown: electrons collect many HT hits, muons and pions few. Where no live kernel is
# attached (the published book, a papermill run) it shows a picture of the track chosen here.

# %%
# start on the first electron with at least 5 HT hits
first = int(np.argmax(ak.to_numpy(samples["electron"]["nHThits"]) >= 5))
chapter.TRTEventDisplay(samples, sample="electron", index=first)

# %% [markdown]
# ## The HT onset curve
#
# For every hit we know the Lorentz factor of its track, γ = p / m (true mass), and whether it
# passed the high threshold (`hit_HTMB`). The fraction of HT hits in bins of log₁₀ γ measures
# the probability P(HT | γ). Below γ ≈ 10³ it is a flat ≈ 3–5 % from ionisation alone (δ-rays);
# above, transition radiation switches on and the probability climbs to ≈ 20 % in xenon. The
# line is the curve the simulator was given (at the sample's mean occupancy); the per-straw
# corrections (position along the straw, distance of the track from the wire) average out.

# %%
fig, onset = chapter.display.plot_onset(ak.concatenate(list(samples.values())))

# %%
# A number the tests check: HT probability at the plateau (log10 γ > 4) vs below onset (< 2.5)
x, frac = onset["Xe_barrel"]
record(cfg.out_dir, "explore_ht_plateau_xe_barrel", float(np.nanmean(frac[x > 4])))
record(cfg.out_dir, "explore_ht_low_xe_barrel", float(np.nanmean(frac[x < 2.5])))

# %% [markdown]
# ## Time over threshold
#
# ToT grows with the path length L in the straw (L = 2√(r₀² − d²) for a track passing at
# distance d from the wire in a straw of radius r₀ = 2 mm) and with dE/dx, which fluctuates
# with a long Landau tail. Dividing by L removes the geometry: what remains is dE/dx, higher
# for electrons (on the Fermi plateau of the relativistic rise) than for muons and pions at the
# same momentum, and raised further when a TR photon is absorbed.
#
# **Limits of the ToT model.** The simulator's dE/dx rises by 15 % (Xe) from minimum
# ionisation to the Fermi plateau, half-way at βγ ≈ 160, so muons from Z decays (βγ ≈ 400)
# sit half-way up the rise. These parameters are *not* fitted to a published ATLAS
# measurement: the TRT's ToT-based dE/dx (ATLAS Collaboration, JINST 12 (2017) P05002,
# arXiv:1702.06473, section on particle identification with ToT) separates electrons from
# pions mostly below a few GeV, and the size and position of the rise in the compressed ToT
# scale are illustrative here. How much the ToT helps — the ToT likelihood, and the gap
# between the LSTM with and without ToT in the next notebooks — depends on them, so read those
# gains as properties of this model, not of the detector.

# %%
tot_per_l = {
    name: ak.to_numpy(ak.flatten(a["hit_tot"] / a["hit_L"])) for name, a in samples.items()
}
ax = hepnb.plot.hist1d(
    tot_per_l, bins=np.linspace(0, 40, 81), xlabel="ToT / L [ns/mm]", experiment="ATLAS"
)
record(cfg.out_dir, "explore_mean_tot_per_l", {k: float(np.mean(v)) for k, v in tot_per_l.items()})

# %%
ax = hepnb.plot.hist1d(
    {name: ak.to_numpy(a["sumToT"] / a["sumL"]) for name, a in samples.items()},
    bins=np.linspace(0, 25, 51),
    xlabel="track ΣToT / ΣL [ns/mm]",
    experiment="ATLAS",
)

# %% [markdown]
# ## Hits per track
#
# A track crosses ≈ 30–36 straws in the barrel (73 layers, but straws are packed so a track
# passes roughly every other one) and a similar number in the end-caps. In the transition
# region, |η| ≈ 0.7–1.0, tracks leave the barrel before reaching the end-cap wheels and collect
# fewer hits. Particle identification needs at least 5 hits.

# %%
eta_bins = np.linspace(-2.0, 2.0, 41)
hits_vs_eta = {
    name: binned_mean(ak.to_numpy(a["eta"]), ak.to_numpy(a["nTRThits"]), eta_bins)[:3]
    for name, a in samples.items()
}
ax = hepnb.plot.profiles(hits_vs_eta, xlabel=r"track $\eta$", ylabel="mean number of TRT hits")
n_hits = ak.to_numpy(samples["muon"]["nTRThits"])
eta = np.abs(ak.to_numpy(samples["muon"]["eta"]))
record(cfg.out_dir, "explore_hits_barrel", float(n_hits[eta < 0.5].mean()))
record(cfg.out_dir, "explore_hits_transition", float(n_hits[(eta > 0.75) & (eta < 0.95)].mean()))

# %% [markdown]
# ## The classical method: an HT likelihood
#
# ATLAS combines the hits of a track in a likelihood: for each hit it looks up the HT
# probability p_HT(γ, gas, detector part, occupancy) — barrel, end-cap A and end-cap B wheels
# have their own onset curves — times per-hit corrections for the straw layer, the position
# along the straw and the track-to-wire distance (Athena `HTcalculator`), under the electron
# hypothesis (γ = p/mₑ)
# and the pion hypothesis (γ = p/m_π), multiplies the hit probabilities (p_HT for an HT hit,
# 1 − p_HT otherwise) along the track and forms
#
# $$\texttt{eProbHT} = \frac{\prod_i p_i(e)}{\prod_i p_i(e) + \prod_i p_i(\pi)} .$$
#
# It ignores the ToT, which ATLAS uses in a separate ToT likelihood (next notebooks). Here is
# how `eProbHT` separates the three samples.

# %%
ax = hepnb.plot.hist1d(
    {name: ak.to_numpy(a["eProbHT"]) for name, a in samples.items()},
    bins=np.linspace(0, 1, 51),
    xlabel="eProbHT",
    log=True,
    experiment="ATLAS",
)
