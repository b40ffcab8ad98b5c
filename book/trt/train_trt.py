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
# more `epochs` and it continues where it stopped.
#
# The model lives in a folder `lstm-<key>/` of the run folder, `<key>` a hash of what the model
# depends on: the dataset's settings, `hidden`, `lr` and `batch_size` (not `epochs` or
# `device`, which only say how long and where to train). Another hidden size or learning rate
# therefore trains a new model in a new folder beside this one instead of resuming a
# checkpoint it does not fit. Losses and parameters are logged to MLflow in that folder (the
# command to browse them is printed below).

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
import hepnb.plot
from hepnb import evaluate
from hepnb.chapters import trt as chapter
from hepnb.runs import mlflow_uri, record

cfg = chapter.Config.from_namespace(globals())
hepnb.plot.style("ATLAS")
model, history, prepared = chapter.train(cfg)
print("mlflow ui --backend-store-uri", mlflow_uri(chapter.lstm_step(cfg).path))
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
scores = chapter.load_scores(cfg)["test"]
test_auc = {
    name: evaluate.auc(scores["y"], s) for name, s in chapter.scores_mapping(scores).items()
}
record(cfg.out_dir, "train_epochs_run", len(history))
record(cfg.out_dir, "train_best_val_auc", max(history["val_auc"]))
record(cfg.out_dir, "train_test_auc", test_auc)

# %%
ax = hepnb.plot.score_hist(
    scores["y"],
    scores["lstm"],
    signal="electron",
    background="muon",
    xlabel="LSTM electron score",
    experiment="ATLAS",
)
