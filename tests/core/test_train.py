from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader, TensorDataset

from hepnb import data, train
from hepnb.models.lstm import HitLSTM


def gaussian_loaders(n=2000, seed=0, batch=128):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.5).float()
    x = torch.randn(n, 4, generator=g) + y[:, None] * torch.tensor([1.5, 0.0, -1.0, 0.0])
    ds_tr, ds_va = TensorDataset(x[: n // 2], y[: n // 2]), TensorDataset(x[n // 2 :], y[n // 2 :])
    return {
        "train": DataLoader(ds_tr, batch_size=batch, shuffle=True),
        "val": DataLoader(ds_va, batch_size=512),
    }


def mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 1)
    )


def test_fit_learns_separable_problem():
    train.set_seed(0)
    h = train.fit(mlp(), gaussian_loaders(), epochs=5, lr=1e-2, mlflow=False, progress=False)
    assert len(h) == 5 and h["val_loss"][-1] < h["val_loss"][0]
    # Bayes-optimal AUC for a 1.8σ separation is Φ(1.8/√2) ≈ 0.90
    assert h.records[-1]["val_auc"] > 0.85


def test_accuracy_per_epoch_is_the_weighted_fraction_of_right_cuts():
    """val_acc is the (weighted) fraction of validation examples on the right side of logit 0:
    recomputed from the returned model's predictions after an epoch that kept it."""
    train.set_seed(1)
    loaders = gaussian_loaders(seed=1)
    model = mlp()
    h = train.fit(model, loaders, epochs=3, lr=1e-2, mlflow=False, progress=False)
    assert all(0.5 < r["train_acc"] <= 1 and 0.5 < r["val_acc"] <= 1 for r in h.records)
    x, y = loaders["val"].dataset.tensors
    with torch.no_grad():
        right = ((model.eval()(x).reshape(-1) > 0).float() == y).float().mean().item()
    assert h.records[h.best_epoch]["val_acc"] == pytest.approx(right, abs=1e-6)
    # weights count: weighting one class ten times moves the accuracy towards that class's
    w = torch.where(y == 1, 10.0, 1.0)
    weighted = {"train": loaders["train"], "val": DataLoader(TensorDataset(x, y, w), 512)}
    h2 = train.fit(model, weighted, epochs=1, lr=1e-9, mlflow=False, progress=False)
    with torch.no_grad():
        ok = ((model.eval()(x).reshape(-1) > 0).float() == y).float()
    assert h2.records[0]["val_acc"] == pytest.approx(float((ok * w).sum() / w.sum()), abs=1e-4)


def test_fit_takes_a_custom_loss_and_score_function():
    """A callable loss (here BCE with a pos_weight, as an edge classifier needs) and a score
    function replace the named ones; the loss is really the one used."""
    calls = []

    def weighted_bce(out, y, w):
        calls.append(len(y))
        pos = torch.tensor(3.0)
        return torch.nn.functional.binary_cross_entropy_with_logits(
            out.reshape(-1), y, pos_weight=pos
        )

    def score(out):
        return torch.sigmoid(out.reshape(-1))

    train.set_seed(0)
    model = mlp()
    h = train.fit(
        model,
        gaussian_loaders(),
        epochs=3,
        lr=1e-2,
        loss=weighted_bce,
        score=score,
        mlflow=False,
        progress=False,
    )
    assert calls and h.records[-1]["val_auc"] > 0.85
    # the pos_weight moves the scores up: more than half of the validation sample above 0.5
    s, _ = train.predict(model, gaussian_loaders()["val"], score=score)
    assert (s > 0.5).mean() > 0.55
    train.set_seed(0)
    plain = mlp()
    train.fit(plain, gaussian_loaders(), epochs=3, lr=1e-2, mlflow=False, progress=False)
    s_plain, _ = train.predict(plain, gaussian_loaders()["val"])
    assert (s > 0.5).mean() > (s_plain > 0.5).mean()


def test_monitor_val_auc_keeps_the_best_auc_epoch_and_drives_early_stopping():
    """Selecting on the metric a search optimised: the kept epoch is the best-AUC one."""
    train.set_seed(0)
    model = mlp()
    h = train.fit(
        model,
        gaussian_loaders(n=600),
        epochs=8,
        lr=3e-2,
        monitor="val_auc",
        early_stopping=3,
        mlflow=False,
        progress=False,
    )
    aucs = h["val_auc"]
    assert h.best_epoch == int(np.argmax(aucs))
    s, y = train.predict(model, gaussian_loaders(n=600)["val"])
    assert roc_auc_score(y, s) == pytest.approx(max(aucs), abs=1e-6)  # the kept weights
    best_after = len(aucs) - 1 - int(np.argmax(aucs))
    assert not h.stopped_early or best_after >= 3
    with pytest.raises(ValueError, match="monitor='val_acc'"):
        train.fit(mlp(), gaussian_loaders(), monitor="val_acc", mlflow=False, progress=False)


def test_seeded_training_is_deterministic_on_cpu():
    def run():
        train.set_seed(1)
        m = mlp()
        train.fit(
            m,
            gaussian_loaders(),
            epochs=2,
            mlflow=False,
            progress=False,
            seed=1,
            scheduler=None,
            early_stopping=None,
        )
        return torch.cat([p.flatten() for p in m.parameters()])

    assert torch.equal(run(), run())


def test_resume_is_identical_to_uninterrupted(tmp_path):
    kw = dict(lr=1e-2, seed=2, mlflow=False, progress=False, early_stopping=None)

    train.set_seed(2)
    full = mlp()
    h_full = train.fit(full, gaussian_loaders(), epochs=4, out_dir=tmp_path / "a", **kw)

    train.set_seed(2)
    part = mlp()
    train.fit(part, gaussian_loaders(), epochs=2, out_dir=tmp_path / "b", **kw)
    train.set_seed(99)  # a new process: fresh model, different global RNG
    resumed = mlp()
    h_res = train.fit(resumed, gaussian_loaders(), epochs=4, out_dir=tmp_path / "b", **kw)

    assert [r["val_loss"] for r in h_res.records] == [r["val_loss"] for r in h_full.records]
    for a, b in zip(full.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not list((tmp_path / "b").glob("*.part"))


def test_early_stopping_and_best_weights(tmp_path):
    # labels independent of x: val loss cannot improve for long
    loaders = gaussian_loaders()
    rng = torch.Generator().manual_seed(0)
    for split in loaders.values():
        ds = split.dataset
        ds.tensors = (ds.tensors[0], (torch.rand(len(ds), generator=rng) < 0.5).float())
    train.set_seed(0)
    h = train.fit(
        mlp(),
        loaders,
        epochs=40,
        lr=3e-2,
        early_stopping=2,
        mlflow=False,
        progress=False,
        scheduler=None,
    )
    assert h.stopped_early and len(h) < 40
    assert h.records[h.best_epoch]["val_loss"] == min(h["val_loss"])


def test_mlflow_sqlite_store_in_run_folder(tmp_path):
    import mlflow

    train.set_seed(0)
    train.fit(
        mlp(),
        gaussian_loaders(),
        epochs=2,
        out_dir=tmp_path,
        progress=False,
        params={"sample": "gauss"},
    )
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "best_model.pt").exists()
    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("hepnb")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.params["sample"] == "gauss" and run.data.params["epochs"] == "2"
    hist = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in hist] == [0, 1]
    assert run.info.status == "FINISHED"
    # the best model is logged as an artifact inside the run folder
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    assert tmp_path in artifacts.parents and (artifacts / "best_model.pt").exists()


def test_bad_arguments_are_named():
    loaders = gaussian_loaders(200)
    with pytest.raises(ValueError, match="loaders"):
        train.fit(mlp(), {"train": loaders["train"]}, mlflow=False)
    with pytest.raises(ValueError, match="lr=-1"):
        train.fit(mlp(), loaders, lr=-1, mlflow=False)
    with pytest.raises(ValueError, match="optimizer='adamx'"):
        train.fit(mlp(), loaders, optimizer="adamx", mlflow=False, progress=False)
    with pytest.raises(ValueError, match="device='tpu'"):
        train.resolve_device("tpu")


def test_nan_input_stops_with_message():
    loaders = gaussian_loaders(200)
    loaders["train"].dataset.tensors[0][3, 0] = math.nan
    with pytest.raises(FloatingPointError, match="NaN/inf"):
        train.fit(mlp(), loaders, mlflow=False, progress=False)


def test_lstm_trains_on_packed_sequences():
    """The hit-sequence LSTM learns a signal hidden in the sequence only (not in track features)."""
    rng = np.random.default_rng(0)
    n = 1200
    lengths = rng.integers(5, 15, n)
    y = rng.integers(0, 2, n)
    items = rng.normal(size=(lengths.sum(), 3)).astype(np.float32)
    items[:, 0] += np.repeat(y, lengths) * 0.8  # per-hit shift for signal
    offsets = np.r_[0, np.cumsum(lengths)]
    ds = data.SequenceDataset(items, offsets, rng.normal(size=(n, 2)), y)
    tr, va = data.split_indices(n, (0.7, 0.3), seed=0)
    loaders = {
        "train": data.batch_loader(ds.subset(tr), 64, shuffle=True),
        "val": data.batch_loader(ds.subset(va), 256),
    }
    train.set_seed(0)
    model = HitLSTM(hit_features=3, track_features=2, hidden=16, head=(16,))
    h = train.fit(model, loaders, epochs=6, lr=1e-2, mlflow=False, progress=False)
    assert h.records[-1]["val_auc"] > 0.9
    scores, _yv = train.predict(model, loaders["val"])
    assert scores.shape == (len(va),) and ((scores >= 0) & (scores <= 1)).all()


def test_lstm_packed_and_padded_modes_agree():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 12, 40)
    ds = data.SequenceDataset(
        rng.normal(size=(lengths.sum(), 3)),
        np.r_[0, np.cumsum(lengths)],
        rng.normal(size=(40, 2)),
        np.zeros(40),
    )
    (packed, tracks), _, _ = ds[np.arange(40)]
    torch.manual_seed(0)
    a = HitLSTM(3, 2, hidden=8, head=(8,))
    b = HitLSTM(3, 2, hidden=8, head=(8,), mode="padded")
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a(packed, tracks), b(packed, tracks), atol=1e-6)
    with pytest.raises(ValueError, match="mode='padded'"):
        HitLSTM(mode="padded", bidirectional=True)


def test_torch_threads_sets_and_restores_the_thread_count():
    before = torch.get_num_threads()
    with train.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), train.torch_threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
