"""Configurations and cached steps (hepnb.runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from hepnb.runs import Config, ConfigError, config_key, load_metrics, record_with_interval, step


@dataclass(kw_only=True)
class ToyConfig(Config):
    CHAPTER = "toy"

    n_events: int = 100
    lr: float = 1e-3
    hidden: int = 64
    epochs: int = 3
    track: Literal["forward", "matching"] = "matching"
    features: list[str] | None = None
    data_path: str | dict[str, str] = ""


def test_defaults_and_run_folder(tmp_path):
    cfg = ToyConfig(out_dir=str(tmp_path / "run"))
    assert cfg.names()[:4] == ["seed", "data_path", "out_dir", "device"]
    assert ToyConfig().out_dir == "runs/toy"
    assert cfg.run_dir == tmp_path / "run" and cfg.run_dir.is_dir()
    assert ToyConfig.defaults()["lr"] == 1e-3


def test_unknown_key_is_rejected_naming_it_and_the_accepted_keys():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['hiden'\].*accepts \[.*'hidden'"):
        ToyConfig.from_dict({"hiden": 128})


@pytest.mark.parametrize(
    "values,match",
    [
        ({"n_events": "many"}, "n_events='many': expected int"),
        ({"n_events": True}, "n_events=True: expected int"),
        ({"track": "downstream"}, r"track='downstream': expected one of \['forward', 'matching'\]"),
        ({"features": "pt"}, "features='pt'"),
        ({"data_path": 3}, "data_path=3"),
    ],
)
def test_values_are_type_checked(values, match):
    with pytest.raises(ConfigError, match=match):
        ToyConfig.from_dict(values)


def test_int_widens_to_float_and_mappings_are_accepted():
    cfg = ToyConfig.from_dict({"lr": 1, "data_path": {"signal": "s.root", "background": "b.root"}})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.data_path == {"signal": "s.root", "background": "b.root"}


def test_yaml_round_trip_and_errors_name_the_file(tmp_path):
    cfg = ToyConfig(hidden=128, features=["pt", "eta"], out_dir=str(tmp_path))
    path = tmp_path / "cfg.yaml"
    path.write_text(cfg.to_yaml())
    assert ToyConfig.from_yaml(path) == cfg
    path.write_text("hidden: 128\n")
    assert ToyConfig.yaml_values(path) == {"hidden": 128}  # only the keys the file sets
    path.write_text("hidden: 128\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml.*learning_rate"):
        ToyConfig.from_yaml(path)
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        ToyConfig.from_yaml(tmp_path / "nope.yaml")


def test_from_namespace_picks_the_configuration_keys():
    namespace = {"hidden": 32, "epochs": 7, "unrelated": object(), "np": None}
    cfg = ToyConfig.from_namespace(namespace)
    assert (cfg.hidden, cfg.epochs) == (32, 7)


def test_save_writes_the_config_the_run_used(tmp_path):
    cfg = ToyConfig(out_dir=str(tmp_path), hidden=16)
    path = cfg.save()
    assert path == tmp_path / "config.yaml"
    assert ToyConfig.from_yaml(path) == cfg


def test_step_folders_are_keyed_by_their_fields(tmp_path):
    cfg = ToyConfig(out_dir=str(tmp_path))
    fields = ("n_events", "seed", "hidden", "lr")
    a = step(cfg, "train", fields)
    assert a.path.parent == tmp_path and a.path.name == f"train-{a.key}"
    assert step(cfg.replace(epochs=50, device="cpu"), "train", fields).path == a.path
    assert step(cfg.replace(hidden=128), "train", fields).path != a.path
    assert step(cfg.replace(lr=3e-3), "train", fields).path != a.path
    assert step(cfg, "other", fields).path != a.path  # the step's name is part of the key
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    with pytest.raises(ConfigError, match="widht"):
        step(cfg, "train", ("widht",))
    # values chosen elsewhere (a search's best hyperparameters) key the folder too
    b = step(cfg, "train", fields, extra={"params": {"hidden": 32}})
    assert b.path != a.path and b.config["params"] == {"hidden": 32}
    assert step(cfg, "train", fields, extra={"params": {"hidden": 32}}).path == b.path
    with pytest.raises(ConfigError, match="shadow"):
        step(cfg, "train", fields, extra={"lr": 1.0})


def test_a_new_code_version_makes_new_step_folders(tmp_path, monkeypatch):
    cfg = ToyConfig(out_dir=str(tmp_path))
    before = step(cfg, "sample", ("n_events", "seed")).path
    monkeypatch.setattr(ToyConfig, "VERSION", "2")
    assert step(cfg, "sample", ("n_events", "seed")).path != before


def test_a_step_is_done_only_after_finish(tmp_path):
    cfg = ToyConfig(out_dir=str(tmp_path))
    calls = []

    def make(folder):
        calls.append(folder)
        (folder / "out.txt").write_text("x")

    st = step(cfg, "sample", ("n_events", "seed"))
    assert not st.done
    st.run(make, n=3)
    assert st.done and st.info() == {"config": {"n_events": 100, "seed": 0}, "n": 3}
    step(cfg, "sample", ("n_events", "seed")).run(make)
    assert len(calls) == 1  # reused

    def crash(folder):
        (folder / "half.txt").write_text("x")
        raise KeyboardInterrupt

    st2 = step(cfg.replace(seed=1), "sample", ("n_events", "seed"))
    with pytest.raises(KeyboardInterrupt):
        st2.run(crash)
    assert not st2.done  # an interrupted step is redone next time
    st2.run(make)
    assert st2.done and len(calls) == 2


def test_record_with_interval_layout(tmp_path):
    record_with_interval(
        tmp_path,
        "roc_rej90",
        {"lstm": 6.7, "eProbHT": 4.7},
        {"lstm": (6.4, 7.0), "eProbHT": (4.6, 4.8)},
    )
    m = load_metrics(tmp_path)
    assert m["roc_rej90"] == {"lstm": 6.7, "eProbHT": 4.7}
    assert m["roc_rej90_ci"] == {"lstm": [6.4, 7.0], "eProbHT": [4.6, 4.8]}
