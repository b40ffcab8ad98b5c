"""The ``hepnb`` command over the registry: configurations are checked before anything runs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hepnb import chapters, cli


def test_every_registered_chapter_has_a_generator_and_a_valid_reduced_preset(capsys):
    for chapter in chapters.all_chapters():
        with pytest.raises(SystemExit) as exc:
            cli.main(["generate", chapter.name, "--help"])
        assert exc.value.code == 0
        assert "--out" in capsys.readouterr().out
        chapter.preset("reduced")  # validated against the chapter's configuration


@pytest.mark.parametrize("chapter", chapters.names())
def test_config_prints_the_preset_as_yaml(chapter, capsys):
    cli.main(["config", chapter, "--preset", "reduced", "-p", "seed", "7"])
    printed = yaml.safe_load(capsys.readouterr().out)
    ch = chapters.get(chapter)
    assert list(printed) == ch.config.names()
    assert printed == ch.preset("reduced", seed=7).to_dict()


def test_yaml_config_overrides_the_preset_and_p_overrides_the_yaml(tmp_path, capsys):
    path = tmp_path / "exp.yaml"
    path.write_text("hidden: 128\nepochs: 3\n")
    cli.main(["config", "trt", "--config", str(path), "-p", "epochs", "5"])
    printed = yaml.safe_load(capsys.readouterr().out)
    reduced = chapters.get("trt").preset("reduced")
    assert (printed["hidden"], printed["epochs"], printed["n_tracks"]) == (128, 5, reduced.n_tracks)


def test_a_misspelt_key_fails_before_anything_runs(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("hiden: 128\n")
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match=r"exp\.yaml.*unknown key\(s\) \['hiden'\].*'hidden'"):
        cli.main(["run", "trt", "--config", str(path), "--out-dir", str(out)])
    with pytest.raises(SystemExit, match=r"unknown key\(s\) \['epoch'\]"):
        cli.main(["run", "trt", "-p", "epoch", "3", "--out-dir", str(out)])
    with pytest.raises(SystemExit, match="unknown preset 'huge'"):
        cli.main(["run", "trt", "--preset", "huge", "--out-dir", str(out)])
    with pytest.raises(SystemExit, match=r"lr='fast': expected float"):
        cli.main(["run", "trt", "-p", "lr", "fast", "--out-dir", str(out)])
    assert not out.exists()  # nothing ran, nothing was written


def test_parse_value():
    assert cli.parse_value("3e-3") == 3e-3 and cli.parse_value("abc") == "abc"
    assert cli.parse_value("{1: 'a.root'}") == {1: "a.root"}


def test_inspect_lists_a_foreign_hdf5_file_and_refuses_other_files(tmp_path, capsys):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("group/x", data=np.zeros((3, 2)))
    assert cli.main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "group/x: (3, 2) float64" in out
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5")
    with pytest.raises(SystemExit, match="not an HDF5 file"):
        cli.main(["inspect", str(text)])
    with pytest.raises(SystemExit, match="no such file"):
        cli.main(["inspect", str(tmp_path / "missing.h5")])
