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
# # Ghost tracks: training the classifier
#
# The ghost classifier is a small **multilayer perceptron** (MLP): the track's features go
# through two fully connected hidden layers with a non-linear activation, and one output
# number, the *logit*, whose sigmoid is the probability that the track is a ghost. Two
# networks come from the original project:
#
# * `network = 0`: the MLP alone, which needs inputs scaled to [0, 1] beforehand (by the
#   scaler the dataset step fitted, applied as the batches are made);
# * `network = 1`: the same MLP behind a *batch normalisation* layer, which learns to
#   standardise its inputs itself (on the same scaled inputs).
#
# Training minimises the class-weighted binary cross-entropy (ghosts and real tracks weigh the
# same, see `preprocess_ghost`) with the loop every chapter uses, `hepnb.train.fit`:
# validation after each epoch, a checkpoint per epoch and MLflow logging. The epoch kept, early
# stopping and the halving of the learning rate all follow the **validation AUC**
# (`monitor="val_auc"`) — the metric the search maximises — rather than the validation loss,
# so the final model is judged as the trials were.
#
# **Hyperparameters** — hidden width, learning rate, optimiser, activation and batch size —
# are chosen by an **Optuna** search: a tree-structured Parzen estimator proposes a
# configuration, a short training measures its validation AUC, and the median pruner stops a
# trial whose validation AUC after an epoch is below the median of earlier trials at the same
# epoch. The study is stored in `optuna.db` in the search's cached folder `search-<key>/` of
# the run folder (keyed by the dataset, `network` and `search_epochs`, not by `n_trials`):
# rerun the notebook with more `n_trials` and it continues; several processes may work on it
# at once. The best configuration is saved as JSON.
#
# The trained model is then exported to **ONNX** — the format LHCb's trigger (and most
# inference engines) read — checked against PyTorch, and quantized to **INT8**; both files
# stay in the training's cached folder, where `roc_ghost` finds them.

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import hepnb.plot
from hepnb import evaluate, export
from hepnb.chapters import ghost as chapter
from hepnb.models.mlp import WithProbabilities
from hepnb.runs import record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("LHCb")
out = cfg.run_dir
ds = chapter.dataset(cfg)
ds.info["counts"]

# %% [markdown]
# ## Hyperparameter search
#
# The search space (`chapter.SEARCH_SPACE`); each trial trains for `search_epochs` epochs
# and scores the best validation AUC it reached.

# %%
chapter.SEARCH_SPACE

# %%
t0 = time.perf_counter()
result = chapter.search(cfg, ds)  # None when n_trials is 0
params = chapter.hyperparameters(cfg, result)
trials = None
if result is not None:
    trials = result.study.trials_dataframe(attrs=("number", "value", "state", "params"))
    search = {"n_complete": result.n_complete, "n_pruned": result.n_pruned}
    search |= {"best_val_auc": result.best_value, "seconds": time.perf_counter() - t0}
    record(out, "train_search", search)
record(out, "train_params", {"network": cfg.network, **params})
trials

# %% [markdown]
# Each point is a trial (pruned trials have no final value): the search concentrates where
# the validation AUC is high.

# %%
fig = chapter.plot_search(trials)

# %% [markdown]
# ## Final training
#
# The best configuration, trained for up to `epochs` epochs. Checkpoints and the MLflow store
# go to the training's cached folder `train-<key>/`, keyed by the dataset, `network` and the
# chosen hyperparameters: rerun with more `epochs` and it continues.

# %%
trained = chapter.train(cfg, ds, params)
trained.model

# %%
history = trained.history
ax = hepnb.plot.history(history, experiment="LHCb", text="Simulation")
best = history.records[trained.selected_epoch]
record(out, "train_val_auc", float(best["val_auc"]))
record(out, "train_selected_epoch", trained.selected_epoch)
lowest_loss = min(range(len(history)), key=lambda i: history["val_loss"][i])
print(
    f"kept epoch {trained.selected_epoch} (best validation AUC {best['val_auc']:.4f}); "
    f"lowest validation loss at epoch {lowest_loss}"
)
record(out, "train_epochs_run", len(history))

# %% [markdown]
# ## Export to ONNX
#
# The exported graph takes the **raw** features (the signed-log and min-max scaling are
# folded in) in an input named `features` of shape (batch, F) with a dynamic batch size, and
# returns `probabilities` of shape (batch,): P(ghost). The feature names are stored in the
# file, so feeding it the other track type's features is refused. ONNX Runtime must agree
# with PyTorch to 10⁻⁵ on every test track.

# %%
onnx_path = chapter.export_onnx(trained, ds)
x_test, ghost_test, _, _ = chapter.held_out(ds)
fp32 = export.OnnxClassifier(onnx_path, ds.features, threads=1)
wrapped = WithProbabilities(trained.model.cpu().eval(), ds.scaler.module())
with torch.no_grad():
    ref = wrapped(torch.as_tensor(x_test)).numpy()
parity = float(np.abs(fp32(x_test) - ref).max())
record(out, "train_onnx_parity", parity)
print(f"{onnx_path}: max |ONNX Runtime − PyTorch| = {parity:.2g}")

# %% [markdown]
# ## INT8 quantization
#
# ONNX Runtime's **dynamic** quantization stores the weights of the matrix products as 8-bit
# integers (per-tensor scale) and quantizes the activations on the fly for each batch; no
# calibration data is needed. (Static QDQ quantization, calibrated on training tracks, is
# also available: `hepnb.export.quantize_int8(..., mode="static")`; on CPU it ran slower here.)
# What it costs in accuracy is the change of the test AUC; what it gains is the file size and
# the throughput, measured below at batch 1 (one track at a time, latency-bound) and 4096
# (throughput-bound), on one thread, against the fp32 ONNX model in the same run.

# %%
int8_path = chapter.quantize(onnx_path)
int8 = export.OnnxClassifier(int8_path, ds.features, threads=1)
y_real = 1 - ghost_test
auc32 = evaluate.auc(y_real, 1 - fp32(x_test))
auc8 = evaluate.auc(y_real, 1 - int8(x_test))
bench_x = np.tile(x_test, (max(1, 8192 // len(x_test) + 1), 1))
speed = {
    b: export.throughput(int8, bench_x, b, 0.5) / export.throughput(fp32, bench_x, b, 0.5)
    for b in (1, 4096)
}
q = record(
    out,
    "train_int8",
    {
        "mode": "dynamic",
        "auc_fp32": auc32,
        "auc_int8": auc8,
        "auc_loss": auc32 - auc8,
        "size_fp32": export.file_size(onnx_path),
        "size_int8": export.file_size(int8_path),
        "size_ratio": export.file_size(onnx_path) / export.file_size(int8_path),
        "weights_ratio": export.weight_bytes(onnx_path) / export.weight_bytes(int8_path),
        "speedup_batch1": speed[1],
        "speedup_batch4096": speed[4096],
    },
)
q

# %% [markdown]
# What to expect, and why: the INT8 model loses almost nothing in AUC. Its weights are 3–4×
# smaller (8 instead of 32 bits; biases and scales stay in float), but the *file* shrinks less
# for a narrow network, whose graph description weighs as much as its weights. The speed-up
# depends on the width the search chose: the arithmetic of a 32-wide MLP is so cheap that
# quantizing and dequantizing the activations costs more than it saves, while from ≈ 64–128
# hidden units up INT8 pays off on large batches (`python bench/bench_onnx.py` sweeps the
# width). At batch 1 the time goes into ONNX Runtime's per-call overhead, not into the
# arithmetic, so INT8 never helps there. The chapter therefore keeps the **fp32 model as the
# default** and recommends the INT8 one only when the measurement above shows an AUC loss
# below 0.002 and at least 1.2× at batch 4096.

# %%
record(out, "train_int8_recommended", bool(q["auc_loss"] < 0.002 and q["speedup_batch4096"] >= 1.2))
plt.close("all")
