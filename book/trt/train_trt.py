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
# # TRT electron identification: training the LSTM
#
# A **long short-term memory** (LSTM) network reads the hits of a track one by one, updating a
# 64-number internal state at each hit. After the last hit, the state summarises the whole
# sequence: how many hits passed the high threshold, where, in which gas, with how much
# ionisation. It is concatenated with the track features and passed through a small fully
# connected network (128 hidden units) that outputs one number, the electron *logit*; the
# sigmoid of it is the electron score in [0, 1].
#
# Training minimises the binary cross-entropy between the score and the label (electron 1,
# muon 0) with the Adam optimiser. Each epoch the loss on the validation split is checked; the
# learning rate is halved when it stalls, training stops early when it no longer improves, and
# the best model is kept. A checkpoint is written after every epoch: rerun this notebook with
# more `epochs` and it continues where it stopped. Losses and parameters are logged to MLflow
# (`mlflow ui --backend-store-uri sqlite:///runs/trt/lstm/mlflow.db`).

# %% tags=["parameters"]
seed = 0  # seed of sample, split, initial weights and batch order
n_tracks = 20_000  # tracks per simulated tree
data_path = ""  # a real TRTFrame ntuple; empty: simulate
out_dir = "runs/trt"  # run folder shared by the chapter's notebooks
device = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
epochs = 10  # maximum number of epochs
batch_size = 256  # tracks per batch
lr = 2e-3  # Adam learning rate
hidden = 64  # LSTM hidden size (64 in the published model)

# %%
import hepnb.plot
from hepnb import evaluate
from hepnb.chapters import trt as chapter
from hepnb.runs import record

hepnb.plot.style("ATLAS")
model, history, prepared = chapter.train(
    out_dir,
    epochs=epochs,
    batch_size=batch_size,
    lr=lr,
    hidden=hidden,
    seed=seed,
    device=device,
    n_tracks=n_tracks,
    data_path=data_path,
)
model

# %%
ax = hepnb.plot.history(history, experiment="ATLAS")
history.to_frame().round(4)

# %% [markdown]
# ## A first look at the test set
#
# The test split was never used for training nor for choosing the epoch. The area under the
# ROC curve (AUC) is the probability that a random electron scores higher than a random muon;
# the full comparison with the classical likelihood is in the next notebook.

# %%
scores = chapter.load_scores(out_dir)["test"]
test_auc = {
    name: evaluate.auc(scores["y"], s) for name, s in chapter.scores_mapping(scores).items()
}
record(out_dir, "train_epochs_run", len(history))
record(out_dir, "train_best_val_auc", max(history["val_auc"]))
record(out_dir, "train_test_auc", test_auc)

# %%
ax = hepnb.plot.score_hist(
    scores["y"],
    scores["lstm"],
    signal="electron",
    background="muon",
    xlabel="LSTM electron score",
    experiment="ATLAS",
)
