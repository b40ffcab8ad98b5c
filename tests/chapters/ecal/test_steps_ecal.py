"""The ECal chapter's configuration, batch builders, streamed summaries and baselines."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from hepnb import stream
from hepnb.chapters.ecal import ECalConfig, batches, reader, schema, steps, trigscint
from hepnb.runs import ConfigError


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    """A small simulated run: 120 events of 1–4 electrons, blocks of 20."""
    out = tmp_path_factory.mktemp("ecal")
    return ECalConfig(n_events=120, block=20, batch_size=16, buffer_size=64, out_dir=str(out))


@pytest.fixture(scope="module")
def events(cfg):
    files = steps.sample(cfg)
    ev = reader.read_events(files[3][0], entry_stop=16)
    bars = trigscint.fired_bars(
        ev[[f for f in ev.fields if f != "ts_rec"]], np.random.default_rng(0)
    )
    return ak.with_field(ev, bars, "ts_bars")


def test_config_errors_name_the_parameter():
    with pytest.raises(ConfigError, match=r"model='bdt'.*'cnn', 'rnn', 'gnn', 'cnn_rnn'"):
        ECalConfig(model="bdt")
    with pytest.raises(ConfigError, match=r"holding \{n\}"):
        ECalConfig(data_path="/data/ecal.root")
    with pytest.raises(ConfigError, match=r"no file for multiplicities \[4\]"):
        ECalConfig(data_path={1: "a", 2: "b", 3: "c"})
    with pytest.raises(ConfigError, match="pass_name"):
        ECalConfig(pass_name="sim reco")
    assert ECalConfig(data_path={"1": "a"}, multiplicities=[1]).data_path == {1: "a"}


@pytest.mark.parametrize("grid", ["hex", "index"])
def test_image_holds_every_hit_energy(events, grid):
    img = batches.image(events, grid)
    shape = (34, *batches.hex_shape()) if grid == "hex" else (34, 7, 432)
    assert img.shape == (len(events), 1, *shape)
    per_event = np.expm1(img.astype(np.float64)).reshape(len(events), -1).sum(1)
    energy = ak.to_numpy(ak.sum(np.maximum(events.ecal.energy, 0), axis=1))
    np.testing.assert_allclose(per_event, energy, rtol=1e-4)
    # each layer's energy lands in that layer's slice
    layer_e = np.expm1(img[0, 0].astype(np.float64)).reshape(34, -1).sum(1)
    hits = events.ecal[0]
    expected = np.bincount(hits.layer.to_numpy(), weights=hits.energy.to_numpy(), minlength=34)
    np.testing.assert_allclose(layer_e, expected, rtol=1e-4, atol=1e-3)


def test_sequences_keep_the_most_energetic_hits_front_to_back(events):
    hits, lengths = batches.sequences(events, max_hits=40)
    n = ak.to_numpy(ak.num(events.ecal))
    assert (lengths == np.minimum(n, 40)).all() and hits.shape[1] == lengths.max()
    i = int(np.argmax(n))
    seq = hits[i, : lengths[i]]
    layer = np.rint(seq[:, 2] * 33)
    assert (np.diff(layer) >= 0).all()  # ordered by layer
    kept = np.sort(np.expm1(seq[:, 3] * 5))
    top = np.sort(events.ecal[i].energy.to_numpy())[-40:]
    np.testing.assert_allclose(kept, top, rtol=1e-4)  # the 40 most energetic
    assert (hits[i, lengths[i] :] == 0).all()  # zero padding


def test_graph_batch_has_one_graph_per_event_even_without_hits(events):
    empty = ak.with_field(events, events.ecal[:, :0], "ecal")
    ev = ak.concatenate([events[:3], empty[:2], events[3:5]])
    b = batches.Builder("gnn", max_hits=50)
    data = b(ev, np.arange(len(ev)) % 4)
    assert data.num_graphs == len(ev)
    counts = np.minimum(ak.to_numpy(ak.num(ev.ecal)), 50)
    assert torch.equal(torch.bincount(data.batch, minlength=len(ev)), torch.as_tensor(counts))
    assert data.extra.shape == (len(ev), b.extra_features)


def test_event_vector_holds_the_energy_count_and_the_scintillator(events):
    b = batches.Builder("cnn")
    extra = b.extra(events)
    assert extra.shape == (len(events), b.extra_features)
    units = ak.to_numpy(ak.sum(events.ecal.energy, axis=1)) / schema.BEAM_ENERGY
    np.testing.assert_allclose(extra[:, 0], units, rtol=1e-5)
    assert (extra[:, 1:7].argmax(1) == np.clip(np.rint(units), 0, 5)).all()
    clusters = trigscint.count_clusters(events.ts_bars)
    assert (extra[:, 8:14].argmax(1) == np.clip(clusters, 0, 5)).all()
    assert (extra[:, 14:].sum(1) == ak.to_numpy(ak.num(events.ts_bars))).all()
    assert batches.Builder("cnn", use_ts=False).extra(events).shape[1] == batches.N_ENERGY


def test_summaries_match_the_files_and_the_stream_order(cfg):
    s = steps.summaries(cfg, progress=False)
    units = steps.plan(cfg)
    total = sum(len(s[k]["n"]) for k in ("train", "val", "test"))
    assert total == 4 * cfg.n_events
    # the test split's energies, recomputed from the files block by block
    e = []
    for u in units["test"]:
        ev = reader.read_events(u.path, entry_start=u.start, entry_stop=u.stop)
        e.append(ak.to_numpy(ak.sum(ev.ecal.energy, axis=1)))
    np.testing.assert_allclose(s["test"]["energy"], np.concatenate(e), rtol=1e-6)
    # and the unshuffled stream yields the events in the same order
    labels = torch.cat([y for _, y in stream.loader(steps.streams(cfg)["test"])])
    assert labels.tolist() == s["test"]["label"].tolist()
    # truth: one-electron events have no pair distance, others a positive one
    n, d = s["test"]["n"], s["test"]["min_dist"]
    assert np.isnan(d[n == 1]).all() and (d[(n > 1) & (s["test"]["n_true"] == n)] > 0).all()


def test_scintillator_response_is_the_same_in_every_pass(cfg):
    units = steps.plan(cfg)["val"][:2]
    first = [c.ts_bars for u in units for c in steps.read_unit(u, seed=cfg.seed)]
    again = [c.ts_bars for u in units for c in steps.read_unit(u, seed=cfg.seed)]
    other = [c.ts_bars for u in units for c in steps.read_unit(u, seed=cfg.seed + 1)]
    assert all(ak.all(a == b) for a, b in zip(first, again, strict=True))
    assert not all(ak.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_baselines_count_from_energy_and_clusters(cfg):
    s = steps.summaries(cfg, progress=False)
    b = steps.baselines(cfg, s)["test"]
    d = s["test"]
    mults = np.asarray(cfg.multiplicities)
    energy_count = np.clip(np.rint(d["energy"] / schema.BEAM_ENERGY), 1, 4)
    assert (mults[b["energy sum"].argmax(1)] == energy_count).all()
    assert (mults[b["TS clusters"].argmax(1)] == np.clip(d["ts_clusters"], 1, 4)).all()
    acc = {k: (mults[v.argmax(1)] == d["n"]).mean() for k, v in b.items()}
    assert acc["energy sum"] > 0.85 and acc["TS clusters"] < acc["energy sum"]
    assert acc["energy + TS likelihood"] >= acc["energy sum"] - 0.05


def test_poisson_weights_reproduce_the_beam_mix():
    n = np.repeat([1, 2, 3, 4], [50, 100, 25, 25])
    w = steps.poisson_weights(n, [1, 2, 3, 4], 1.0)
    share = np.array([w[n == k].sum() for k in (1, 2, 3, 4)])
    p = np.array([1.0, 0.5, 1 / 6, 1 / 24])  # Poisson(1) ∝ 1/n!
    np.testing.assert_allclose(share, p / p.sum())


def test_unknown_model_name_is_an_error():
    with pytest.raises(ValueError, match="model='mlp'"):
        batches.Builder("mlp")


def test_simulated_sample_is_one_file_per_multiplicity(cfg):
    files = steps.sample(cfg)
    assert sorted(files) == [1, 2, 3, 4]
    assert all(f[0].name == f"ecal_{n}e.root" for n, f in files.items())
    assert all(uproot.open(f[0])[schema.TREE].num_entries == cfg.n_events for f in files.values())
