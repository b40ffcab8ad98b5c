"""hepnb.stream: planning blocks of ROOT files into splits and streaming them as batches."""

from __future__ import annotations

from collections import Counter

import awkward as ak
import numpy as np
import pytest
import torch
from torch import nn

from hepnb import io, stream
from hepnb.stream import EventStream, RootReader, Unit
from hepnb.train import fit, predict

TREE = "events"
#: entries of each file, per class: sizes that are not multiples of the block
SIZES = {0: (400, 237), 1: (300, 311), 2: (523,)}
BRANCHES = ("eid", "e", "hit_e")
STEP = 40  # entries per chunk of the reader


def _eid(label: int, file: int, entry) -> np.ndarray:
    """Event id written into the files: class, file and entry in one number."""
    return label * 100_000 + file * 10_000 + np.asarray(entry)


def _write(folder, sizes, seed=0) -> dict[int, list]:
    rng = np.random.default_rng(seed)
    sources: dict[int, list] = {}
    for label, per_file in sizes.items():
        for f, n in enumerate(per_file):
            counts = rng.integers(0, 6, n)
            hits = ak.unflatten(label * 10 + rng.random(counts.sum()), counts)
            path = folder / f"class{label}_{f}.root"
            io.write_root(
                path,
                {
                    TREE: {
                        "eid": _eid(label, f, np.arange(n)),
                        "e": label + 0.3 * rng.standard_normal(n),
                        "hit_e": hits,
                    }
                },
                jagged_groups={"hit_": "nhit"},
            )
            sources.setdefault(label, []).append(path)
    return sources


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("stream"), SIZES)


@pytest.fixture(scope="module")
def read():
    return RootReader(TREE, BRANCHES, step_size=STEP)


def ids_labels(events: ak.Array, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transform: the events' ids and labels (module level: picklable for workers)."""
    return np.asarray(events["eid"]), labels


def _all_ids() -> np.ndarray:
    return np.sort(
        np.concatenate(
            [_eid(c, f, np.arange(n)) for c, per in SIZES.items() for f, n in enumerate(per)]
        )
    )


def _epoch(batches) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    batches = [(np.asarray(i), np.asarray(y)) for i, y in batches]
    return (
        np.concatenate([i for i, _ in batches]),
        np.concatenate([y for _, y in batches]),
        [y for _, y in batches],
    )


# ------------------------------------------------------------------------------------ plan


def test_plan_fractions_disjoint_and_covering(sources):
    splits = stream.plan(sources, TREE, block=50, fractions=(0.6, 0.2, 0.2), seed=3)
    assert list(splits) == ["train", "val", "test"]
    seen = Counter()
    for units in splits.values():
        for u in units:
            assert u.size <= 50
            seen.update((str(u.path), e) for e in range(u.start, u.stop))
    total = {label: sum(per) for label, per in SIZES.items()}
    assert sum(seen.values()) == sum(total.values()) == len(seen)  # each entry exactly once
    for name, frac in zip(stream.SPLITS, (0.6, 0.2, 0.2), strict=True):
        counts = stream.class_counts(splits[name])
        for label, n in total.items():  # each split holds its fraction of every class
            assert abs(counts[label] - frac * n) <= 50, (name, label, counts)
    # ordered by class, then file, then entry
    for units in splits.values():
        keys = [(u.label, str(u.path), u.start) for u in units]
        assert keys == sorted(keys)


def test_plan_reproducible_and_seeded(sources):
    a = stream.plan(sources, TREE, block=50, seed=1)
    assert a == stream.plan(sources, TREE, block=50, seed=1)
    assert a != stream.plan(sources, TREE, block=50, seed=2)
    # a class's split does not depend on the other classes
    b = stream.plan({1: sources[1]}, TREE, block=50, seed=1)
    assert b["val"] == [u for u in a["val"] if u.label == 1]


def test_plan_max_entries_and_single_file(sources):
    splits = stream.plan(
        {0: sources[0], 2: sources[2][0]}, TREE, block=100, max_entries=450, seed=0
    )
    units = [u for s in splits.values() for u in s]
    counts = Counter()
    for s in splits.values():
        counts.update(stream.class_counts(s))
    assert counts == {0: 450, 2: 450}  # capped per class
    # the first entries, files in the given order: all 400 of the first file, 50 of the second
    assert max(u.stop for u in units if u.path == sources[0][0]) == 400
    assert max(u.stop for u in units if u.path == sources[0][1]) == 50


def test_plan_small_class_gets_one_block_per_split(tmp_path):
    src = _write(tmp_path, {0: (45,), 1: (25,)})
    splits = stream.plan(src, TREE, block=10, fractions=(0.8, 0.1, 0.1))
    for name in stream.SPLITS:
        assert {u.label for u in splits[name]} == {0, 1}, name
    with pytest.raises(ValueError, match=r"class 1: 25 entries .*class1_0\.root.* 2 block"):
        stream.plan(src, TREE, block=15)
    # no test fraction: two blocks suffice
    two = stream.plan(src, TREE, block=15, fractions=(0.5, 0.5, 0.0))
    assert two["test"] == [] and stream.class_counts(two["val"])[1] > 0


def test_plan_errors(sources, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.root"):
        stream.plan({0: [tmp_path / "nope.root"]}, TREE)
    with pytest.raises(io.SchemaError, match=r"class0_0\.root: no tree 'other'"):
        stream.plan(sources, "other")
    with pytest.raises(ValueError, match=r"fractions=\(0\.5, 0\.5, 0\.5\)"):
        stream.plan(sources, TREE, fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="block=0"):
        stream.plan(sources, TREE, block=0)
    with pytest.raises(ValueError, match="max_entries=0"):
        stream.plan(sources, TREE, max_entries=0)
    with pytest.raises(ValueError, match=r"sources\[1\]: no files"):
        stream.plan({1: []}, TREE)
    with pytest.raises(ValueError, match="listed twice"):
        stream.plan({0: sources[0], 1: sources[0][:1]}, TREE)
    with pytest.raises(ValueError, match="class label -1"):
        stream.plan({-1: sources[0]}, TREE)
    with pytest.raises(ValueError, match="start < stop"):
        Unit(0, "x.root", 5, 5)


# ------------------------------------------------------------------------------- streaming


def test_shuffle_every_event_once_mixed_and_bounded(sources):
    splits = stream.plan(sources, TREE, block=50, fractions=(1.0, 0.0, 0.0))
    units = splits["train"]
    log = {"read": 0, "used": 0, "alive": 0, "nbytes": 0}

    def counting_read(unit):
        for chunk in RootReader(TREE, BRANCHES, step_size=STEP)(unit):
            log["read"] += len(chunk)
            log["alive"] = max(log["alive"], log["read"] - log["used"])
            yield chunk

    def counting_transform(events, labels):
        log["used"] += len(events)
        log["nbytes"] = max(log["nbytes"], events.layout.nbytes)
        return ids_labels(events, labels)

    buffer = 256
    s = EventStream(units, counting_read, counting_transform, batch_size=32, shuffle=True,
                    buffer_size=buffer)  # fmt: skip
    torch.manual_seed(0)
    ids, y, per_batch = _epoch(s)
    assert np.array_equal(np.sort(ids), _all_ids())  # every event exactly once
    assert np.array_equal(y, ids // 100_000)  # labels match the file each event came from
    assert len(per_batch) == len(s) == -(-s.n_events // 32)
    mixed = np.mean([len(np.unique(b)) >= 2 for b in per_batch])
    assert mixed > 0.8, mixed
    assert not np.array_equal(ids, np.sort(ids))
    # at most buffer_size + one chunk of events held; batches never drag old chunks along
    assert log["alive"] <= buffer + STEP, log
    whole = ak.concatenate([c for u in units for c in RootReader(TREE, BRANCHES)(u)])
    per_event = whole.layout.nbytes / len(whole)
    assert log["nbytes"] <= 3 * (buffer + STEP) * per_event, (log, per_event)


def test_shuffle_reproducible_per_torch_seed_and_new_each_epoch(sources, read):
    units = stream.plan(sources, TREE, block=50)["train"]
    s = EventStream(units, read, ids_labels, batch_size=16, shuffle=True, buffer_size=128)
    torch.manual_seed(7)
    first, _, _ = _epoch(s)
    second, _, _ = _epoch(s)  # torch's RNG moved on: a new epoch order
    torch.manual_seed(7)
    again, _, _ = _epoch(s)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, second)
    assert np.array_equal(np.sort(first), np.sort(second))
    torch.manual_seed(7)
    other_seed = EventStream(units, read, ids_labels, batch_size=16, shuffle=True,
                             buffer_size=128, seed=1)  # fmt: skip
    assert not np.array_equal(first, _epoch(other_seed)[0])


def test_ordered_stream_matches_scan_and_file_order(sources, read):
    units = stream.plan(sources, TREE, block=50)["val"]
    s = EventStream(units, read, ids_labels, batch_size=24)
    ids, y, per_batch = _epoch(s)
    summary = stream.scan(units, read, lambda ev, lab: {"eid": ev["eid"], "label": lab})
    assert np.array_equal(ids, summary["eid"])
    assert np.array_equal(y, summary["label"])
    assert np.array_equal(y, ids // 100_000)
    expected = np.concatenate(
        [_eid(u.label, int(u.path.stem[-1]), np.arange(u.start, u.stop)) for u in units]
    )
    assert np.array_equal(ids, expected)  # units as given, entries in file order
    assert [len(b) for b in per_batch[:-1]] == [24] * (len(per_batch) - 1)  # across units
    assert len(per_batch) == len(s)
    dropped = EventStream(units, read, ids_labels, batch_size=24, drop_last=True)
    ids_d, _, batches_d = _epoch(dropped)
    assert len(batches_d) == len(dropped) == s.n_events // 24
    assert np.array_equal(ids_d, ids[: len(ids_d)])


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_two_workers_shard_the_epoch(sources, read, shuffle, drop_last):
    units = stream.plan(sources, TREE, block=50)["train"]
    # read only ever sees the plan's units, whole (per-unit seeded randomness stays valid)
    s = EventStream(units, StrictRead(units), ids_labels, batch_size=32, shuffle=shuffle,
                    buffer_size=128, drop_last=drop_last)  # fmt: skip
    torch.manual_seed(3)
    ids, y, per_batch = _epoch(stream.loader(s, num_workers=2))
    assert len(per_batch) == len(s)
    assert np.array_equal(y, ids // 100_000)
    assert len(np.unique(ids)) == len(ids)  # no event twice
    if not drop_last:
        assert np.array_equal(np.sort(ids), np.sort(stream.scan(units, read, _ids)["eid"]))
    else:
        assert len(ids) == s.n_events // 32 * 32
        assert all(len(b) == 32 for b in per_batch)
    if not shuffle:  # same order as without workers
        assert np.array_equal(ids, _epoch(s)[0])
    else:
        torch.manual_seed(3)
        again, _, _ = _epoch(stream.loader(s, num_workers=2))
        assert np.array_equal(ids, again)


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")  # > CPU count
def test_three_workers_in_order_with_batches_larger_than_blocks(sources):
    units = stream.plan(sources, TREE, block=50)["train"]
    s = EventStream(units, StrictRead(units), ids_labels, batch_size=120)  # > block: some
    ids, _, per_batch = _epoch(stream.loader(s, num_workers=3))  # units hold no batch of a worker
    assert len(per_batch) == len(s)
    assert np.array_equal(ids, _epoch(s)[0])


def test_worker_turns():
    for nw in (1, 2, 3, 5):
        for wid in range(nw):
            for first in range(8):
                for last in range(first - 1, 12):
                    brute = any(k % nw == wid for k in range(first, last + 1))
                    assert stream._has_turn(first, last, wid, nw) == brute


class StrictRead:
    """A reader that refuses any unit but the stream's own (module level: picklable)."""

    def __init__(self, units):
        self.units, self.read = set(units), RootReader(TREE, BRANCHES, step_size=STEP)

    def __call__(self, unit):
        if unit not in self.units:
            raise ValueError(f"read called with a unit not in the stream: {unit}")
        return self.read(unit)


def _ids(events, labels):
    return {"eid": events["eid"]}


def test_errors(sources, read, tmp_path):
    units = stream.plan(sources, TREE, block=50)["val"]
    with pytest.raises(ValueError, match="units: empty"):
        EventStream([], read, ids_labels)
    with pytest.raises(ValueError, match="batch_size=0"):
        EventStream(units, read, ids_labels, batch_size=0)
    with pytest.raises(ValueError, match="buffer_size=16 < batch_size=32"):
        EventStream(units, read, ids_labels, batch_size=32, shuffle=True, buffer_size=16)
    with pytest.raises(ValueError, match="units: empty"):
        stream.scan([], read, _ids)
    with pytest.raises(ValueError, match="num_workers=-1"):
        stream.loader(EventStream(units, read, ids_labels), num_workers=-1)

    def short_read(unit):  # ignores the unit's stop: one entry too few
        yield from read(Unit(unit.label, unit.path, unit.start, unit.stop - 1))

    def long_read(unit):  # the whole file
        yield from read(Unit(unit.label, unit.path, 0, 600))

    u = units[0]
    for bad, got in ((short_read, f"got {u.size - 1}"), (long_read, "got .* or more")):
        with pytest.raises(
            ValueError, match=rf"class\d_\d\.root entries .*expected {u.size}.*{got}"
        ):
            list(EventStream([u], bad, ids_labels))
        with pytest.raises(ValueError, match=rf"expected {u.size} events, {got}"):
            stream.scan([u], bad, _ids)
    with pytest.raises(ValueError, match="one value per event"):
        stream.scan(units, read, lambda ev, lab: {"n": len(ev)})
    with pytest.raises(io.SchemaError, match="lacks branch"):
        list(EventStream(units, RootReader(TREE, ("missing",)), ids_labels))


# --------------------------------------------------------------------------- with fit


def features(events, labels):
    """Transform for a logistic regression on the ``e`` branch: ``(x (B, 1), y (B,))``."""
    x = torch.as_tensor(np.asarray(events["e"], dtype=np.float32)).reshape(-1, 1)
    return x, torch.as_tensor(labels, dtype=torch.float32)


def test_fit_and_predict_from_streams(sources, read):
    splits = stream.plan({0: sources[0], 1: sources[1]}, TREE, block=50, seed=0)
    train = EventStream(splits["train"], read, features, batch_size=32, shuffle=True,
                        buffer_size=256)  # fmt: skip
    val = EventStream(splits["val"], read, features, batch_size=64)
    model = nn.Sequential(nn.Linear(1, 1), nn.Flatten(0))
    hist = fit(model, {"train": stream.loader(train), "val": stream.loader(val)}, epochs=4,
               lr=0.05, mlflow=False, progress=False, seed=0)  # fmt: skip
    assert len(hist) == 4
    assert hist["val_auc"][-1] > 0.95
    test = EventStream(splits["test"], read, features, batch_size=50)
    scores, y = predict(model, stream.loader(test), device="cpu")
    summary = stream.scan(splits["test"], read, lambda ev, lab: {"e": ev["e"], "y": lab})
    assert np.array_equal(y, summary["y"])
    with torch.no_grad():
        expect = torch.sigmoid(model(torch.as_tensor(summary["e"], dtype=torch.float32)[:, None]))
    np.testing.assert_allclose(scores, expect.numpy(), rtol=1e-5, atol=1e-6)
