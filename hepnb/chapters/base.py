"""What every chapter shares: its registry entry and the steps all chapters run.

A chapter package ``hepnb/chapters/<name>/`` declares ``CHAPTER = Chapter(...)`` in its
``__init__.py``; :mod:`hepnb.chapters` finds it there. The shared steps:

* :func:`ensure_sample` — the real ntuple(s) of ``data_path``, or the simulated sample made once
  per (size, seed) in a cached step folder;
* :func:`split_normalise_save` — seeded ``train/val/test`` split (stratified, whole events
  together where candidates share an event), optional class balancing of the training and
  validation splits, scalers fitted on the training split only, arrays and scalers saved
  atomically in a cached step folder;
* :func:`train_step` — :func:`hepnb.train.fit` in the training step's folder, keyed by the
  configuration, so a changed model or learning rate never resumes another's checkpoint.
"""

from __future__ import annotations

import argparse
import glob
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hepnb import data, io
from hepnb import train as _train
from hepnb.runs import Config, ConfigError, Step, step

__all__ = [
    "Chapter",
    "Prepared",
    "ensure_sample",
    "load_presets",
    "load_split_arrays",
    "resolve_data_path",
    "split_normalise_save",
    "train_step",
]


def load_presets(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """A chapter's ``presets.yaml``: preset name → configuration overrides."""
    presets = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(presets, dict) or not all(
        isinstance(v, dict | None) for v in presets.values()
    ):
        raise ConfigError(f"{path}: expected a mapping of preset name → mapping of keys")
    return {k: dict(v or {}) for k, v in presets.items()}


@dataclass(frozen=True)
class Chapter:
    """A chapter's entry in the registry.

    Attributes:
        name: package and ``book/`` folder name.
        title: one line for the CLI and the book.
        experiment: label of its plots (``"ATLAS"``, ``"LHCb"``...).
        order: position in the book.
        notebooks: notebook stems in execution order.
        config: its :class:`~hepnb.runs.Config` subclass (the only source of defaults).
        presets: preset → configuration overrides (``reduced`` runs in the book).
        headline: the ``metrics.json`` key of its headline figure.
        generate: ``hepnb generate <name>``: ``(add_arguments(parser), run(args) → path)``.
    """

    name: str
    title: str
    experiment: str
    order: int
    notebooks: tuple[str, ...]
    config: type[Config]
    presets: Mapping[str, Mapping[str, Any]]
    headline: str
    generate: tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], Any]]
    extras: Mapping[str, Any] = field(default_factory=dict)

    def preset(self, name: str = "default", **overrides: Any) -> Config:
        """The configuration of a preset, with overrides (validated)."""
        if name not in self.presets:
            raise ConfigError(
                f"{self.name}: unknown preset {name!r}; presets: {sorted(self.presets)}"
            )
        return self.config.from_dict(
            {**self.presets[name], **overrides}, source=f"{self.name} preset {name!r}"
        )

    def notebook_paths(self, book: str | os.PathLike) -> list[Path]:
        """The chapter's ``.ipynb`` files under ``book``, in execution order."""
        return [Path(book) / self.name / f"{stem}.ipynb" for stem in self.notebooks]


def resolve_data_path(data_path: str | Mapping[Any, str], what: str = "data_path") -> Any:
    """Check that a real-sample path exists: a file or glob (→ sorted list of files when a glob),
    or a mapping class → file/glob (→ class → list of files). Errors name the parameter."""
    if isinstance(data_path, Mapping):
        return {k: resolve_data_path(v, f"{what}[{k!r}]") for k, v in data_path.items()}
    text = os.fspath(data_path)
    if glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text))
        if not files:
            raise FileNotFoundError(f"{what}={text!r}: the glob matches no file")
        return files
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"{what}={text!r}: no such file")
    return path


def ensure_sample(
    config: Config,
    simulate: Callable[[Path], Any],
    fields: Sequence[str] = ("seed",),
) -> Any:
    """The sample to analyse.

    With ``config.data_path`` set: the real file(s), checked (see :func:`resolve_data_path`).
    Otherwise the simulated sample: ``simulate(folder)`` writes it into the cached step folder
    ``sample-<key>`` (keyed by ``fields``, e.g. ``("n_tracks", "seed")``) the first time; later
    calls with the same values reuse it. Also stores the run's ``config.yaml``.

    Returns:
        ``resolve_data_path(data_path)`` for real data, else the step folder.
    """
    config.save()
    if config.data_path:
        return resolve_data_path(config.data_path)
    st = step(config, "sample", fields)
    st.run(simulate)
    return st.path


@dataclass
class Prepared:
    """What :func:`split_normalise_save` saved, loaded back.

    ``arrays[split][name]`` are the arrays of each split (``train``/``val``/``test``, plus any
    extra samples such as ``data``), ``scalers[name]`` the fitted scalers, ``info`` what the
    step recorded (counts, source...).
    """

    step: Step
    arrays: dict[str, dict[str, np.ndarray]]
    scalers: dict[str, data.Scaler]
    info: dict[str, Any]


SPLITS = ("train", "val", "test")


def split_normalise_save(
    st: Step,
    arrays: Mapping[str, np.ndarray],
    *,
    seed: int,
    stratify: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    scalers: Mapping[str, Callable[[np.ndarray], data.Scaler]] | None = None,
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    info: Mapping[str, Any] | None = None,
    balance: str | None = None,
    balance_splits: Sequence[str] = ("train", "val"),
    sequences: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Prepared:
    """Split → balance → fit scalers on train → save, into the cached step folder ``st``.

    Args:
        st: the dataset step (its folder receives ``arrays.npz``, ``scalers.json``).
        arrays: name → array with the examples along axis 0 (all the same length N).
        seed: fixes the split.
        stratify: ``(N,)`` labels: each class split in the same fractions.
        groups: ``(N,)`` event ids: examples of one event stay in one split.
        fractions: train/val/test fractions.
        scalers: name of an array → function fitting a :class:`~hepnb.data.Scaler` on its
            training rows (e.g. ``data.Scaler.standard``); arrays are saved unscaled.
        extra: further samples saved beside the splits (e.g. ``{"data": {...}}``), not split.
        info: JSON-able facts to store (source file...; its ``counts`` are merged with the
            split sizes).
        balance: with ``stratify``, make the classes weigh the same in ``balance_splits``:
            ``"weight"`` adds an array ``w`` (float32, mean 1) giving each class the same total
            weight; ``"undersample"`` keeps a seeded random subset of each class as large as
            the smallest class. None: leave the natural class fractions.
        balance_splits: the splits balanced (the test split keeps its natural fractions).
        sequences: name → ``(items (N_items, F), offsets (N + 1,))``: variable-length
            sequences of the N examples (hits of a track), split with their examples and saved
            as ``<split>/<name>`` and ``<split>/<name>_offsets``; a scaler named after a
            sequence is fitted on the items of the training examples.

    Raises:
        ValueError: arrays of different lengths; with ``stratify``, a split left without one
            of the classes (the sample is too small); an unknown ``balance``.
    """
    n = {len(v) for v in arrays.values()} | {len(o) - 1 for _, o in (sequences or {}).values()}
    if len(n) != 1:
        raise ValueError(f"split_normalise_save: arrays of different lengths {sorted(n)}")
    if balance not in (None, "weight", "undersample"):
        raise ValueError(f"balance={balance!r}: expected None, 'weight' or 'undersample'")
    if balance is not None and stratify is None:
        raise ValueError(f"balance={balance!r} needs the class labels (stratify=)")
    parts = data.split(n.pop(), fractions, seed, stratify=stratify, groups=groups)
    weights: dict[str, np.ndarray] = {}
    class_counts: dict[str, dict[str, int]] = {}
    if stratify is not None:
        labels = np.asarray(stratify)
        classes = np.unique(labels)
        for split, idx in parts.items():
            present = np.unique(labels[idx])
            if len(present) < len(classes):
                raise ValueError(
                    f"the {split} split has {len(idx)} examples and lacks class(es) "
                    f"{np.setdiff1d(classes, present).tolist()}; use a larger sample"
                )
        rng = np.random.default_rng([seed, 1])
        for split in balance_splits if balance else ():
            idx = parts[split]
            if balance == "undersample":
                size = min(int((labels[idx] == c).sum()) for c in classes)
                keep = [rng.choice(idx[labels[idx] == c], size, replace=False) for c in classes]
                parts[split] = np.sort(np.concatenate(keep))
            else:
                _, inv, cnt = np.unique(labels[idx], return_inverse=True, return_counts=True)
                weights[split] = (len(idx) / (len(cnt) * cnt[inv])).astype(np.float32)
        class_counts = {
            split: {str(c): int((labels[idx] == c).sum()) for c in classes}
            for split, idx in parts.items()
        }
    flat: dict[str, np.ndarray] = {}
    for split, idx in parts.items():
        flat[f"{split}/index"] = idx
        for name, a in arrays.items():
            flat[f"{split}/{name}"] = np.asarray(a)[idx]
        for name, (items, offsets) in (sequences or {}).items():
            flat[f"{split}/{name}"], flat[f"{split}/{name}_offsets"] = data.take_sequences(
                items, offsets, idx
            )
        if split in weights:
            flat[f"{split}/w"] = weights[split]
    for sample, sample_arrays in (extra or {}).items():
        for name, a in sample_arrays.items():
            flat[f"{sample}/{name}"] = np.asarray(a)
    fitted = {name: fit(flat[f"train/{name}"]) for name, fit in (scalers or {}).items()}
    facts = dict(info or {})
    counts = {**facts.pop("counts", {}), **{split: len(idx) for split, idx in parts.items()}}
    facts |= {"counts": counts, **({"class_counts": class_counts} if class_counts else {})}
    io.save_arrays(st / "arrays.npz", **flat)
    io.atomic_write_json(st / "scalers.json", {k: s.to_dict() for k, s in fitted.items()})
    st.finish(**facts)
    return load_split_arrays(st)


def load_split_arrays(st: Step, names: Mapping[str, Sequence[str]] | None = None) -> Prepared:
    """Load what :func:`split_normalise_save` saved in ``st``.

    Args:
        st: the dataset step.
        names: scaler name → the feature names the caller expects it to be fitted on; a
            scaler fitted on other features is an error naming the file.
    """
    flat = io.load_arrays(st / "arrays.npz")
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for key, a in flat.items():
        sample, name = key.split("/", 1)
        arrays.setdefault(sample, {})[name] = a
    path = st / "scalers.json"
    try:
        scalers = {
            k: data.Scaler.from_dict(v, (names or {}).get(k)) for k, v in io.read_json(path).items()
        }
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return Prepared(step=st, arrays=arrays, scalers=scalers, info=st.info())


def train_step(
    config: Config,
    model: Any,
    loaders: Mapping[str, Iterable],
    st: Step,
    *,
    params: Mapping[str, Any] | None = None,
    **fit_kw: Any,
) -> _train.History:
    """:func:`hepnb.train.fit` with the chapter's conventions: checkpoints and MLflow store in
    the training step's folder ``st`` (keyed by the configuration), experiment = chapter name,
    ``epochs``/``lr``/``seed``/``device`` from the configuration unless given in ``fit_kw``."""
    defaults = {
        k: getattr(config, k) for k in ("epochs", "lr", "seed", "device") if hasattr(config, k)
    }
    history = _train.fit(
        model,
        loaders,
        out_dir=st.path,
        experiment=config.CHAPTER,
        params={**config.to_dict(), **dict(params or {})},
        **{**defaults, **fit_kw},
    )
    st.finish(epochs_run=len(history), best_epoch=history.best_epoch)
    return history
