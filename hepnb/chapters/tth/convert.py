"""ROOT ntuples → one HDF5 file of padded jets, event features and weights; loading; ``inspect``.

:func:`convert` (``hepnb convert tth --config cfg.yaml`` through :func:`convert_config`) reads
the signal and background ntuples chunk by chunk (:func:`.reader.iterate`) and appends each
chunk to resizable HDF5 datasets, so a sample larger than memory converts with memory bounded
by ``chunk_events``. The output is written to a temporary file renamed over ``out`` only when
complete (:func:`hepnb.io.atomic_path`): an interrupted conversion leaves no file.

Layout (one group per process, ``signal`` and ``background``; N events each):

* ``jets`` float32 ``(N, n_jets, Fj)``: the jagged ``features`` (one value per jet), the first
  ``n_jets`` jets of the event in file order (pT-ordered ntuples: the leading ones), padded
  jets 0; ``jet_mask`` bool ``(N, n_jets)``, True for a real jet;
* ``event`` float32 ``(N, Fe)``: the scalar ``features`` in config order, then the
  ``feature_makers`` outputs (:data:`.features.MAKERS`) in config order;
* ``weight`` float64 ``(N,)``: luminosity (fb⁻¹ × 1000 = pb⁻¹) × Π ``weights`` branches —
  expected events, as ``weight_normalise`` is σ × BR / Σ weight_mc in pb;
* ``eventNumber`` uint64, ``entry`` int64 (entry in the process's files concatenated in
  order), ``file_index`` int32, ``njet`` int32 (all jets of the event) and ``nbtag`` int32
  (jets with tag bin ≥ :data:`~.schema.BTAG_BIN_70`, all jets);
* group attributes ``files`` (list of str) and ``entries`` (per file); root attributes
  ``jet_features``, ``event_features``, ``n_jets``, ``units`` (JSON feature → unit), ``tree``,
  ``version``, ``luminosity`` (fb⁻¹) and ``weights``.

Energies and momenta (:data:`~.schema.MEV_BRANCHES`) are divided by 1000 (MeV → GeV) before
anything else, so the feature makers see GeV. A non-finite feature, weight or maker output is
an error naming the file, the entry and the branch or feature.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

from hepnb.chapters.tth import features as feature_makers_mod
from hepnb.chapters.tth import reader, schema
from hepnb.chapters.tth.config import TthConfig
from hepnb.chapters.tth.events import Events
from hepnb.io import SchemaError, atomic_path, open_tree

__all__ = ["FORMAT_VERSION", "convert", "convert_config", "inspect", "load"]

#: Version of the HDF5 layout; :func:`load` refuses any other.
FORMAT_VERSION = 1
_TAG = "jet_tagWeightBin_DL1r_Continuous"
_PB_PER_FB = 1000.0  # 1 fb⁻¹ = 1000 pb⁻¹
_DATASETS = (
    "jets",
    "jet_mask",
    "event",
    "weight",
    "eventNumber",
    "entry",
    "file_index",
    "njet",
    "nbtag",
)
_ROOT_ATTRS = ("jet_features", "event_features", "n_jets", "units", "tree", "version")


def _unit(name: str) -> str:
    if name in feature_makers_mod.MAKERS:
        return feature_makers_mod.MAKERS[name].unit
    if name in schema.UNITS:
        return schema.UNITS[name]
    if name in schema.MEV_BRANCHES:
        return "GeV"
    return "rad" if name.endswith("_phi") else ""


def _check_args(
    sources: Mapping[str, Sequence[Any]],
    features: Sequence[str],
    makers: Sequence[str],
    luminosity: float,
    n_jets: int,
    chunk_events: int,
) -> None:
    if set(sources) != set(schema.PROCESSES):
        raise ValueError(
            f"sources has processes {sorted(sources)}: expected exactly {list(schema.PROCESSES)}"
        )
    for name, v in (("n_jets", n_jets), ("chunk_events", chunk_events)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name}={v!r}: expected an integer >= 1")
    if not np.isfinite(luminosity) or luminosity <= 0:
        raise ValueError(f"luminosity={luminosity!r}: expected a positive value, fb⁻¹")
    if not features:
        raise ValueError("features=[]: expected at least one jagged jet branch")
    names = [*features, *makers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(
            f"features {list(features)} and feature_makers {list(makers)}: {dup} twice"
        )


def _first_entry(bad: np.ndarray) -> int:
    return int(np.argmax(bad))


class _Chunker:
    """Turns one :class:`.reader.Chunk` into the rows of the HDF5 datasets, with checks."""

    def __init__(
        self,
        files: Sequence[Path],
        tree: str,
        jet_features: Sequence[str],
        event_features: Sequence[str],
        makers: Sequence[str],
        weights: Sequence[str],
        luminosity: float,
        n_jets: int,
    ) -> None:
        self.files, self.tree = files, tree
        self.jet_features, self.event_features = list(jet_features), list(event_features)
        self.makers = [feature_makers_mod.MAKERS[m] for m in makers]
        self.weights, self.n_jets = list(weights), n_jets
        self.scale = luminosity * _PB_PER_FB

    def _fail(self, chunk: reader.Chunk, i: int, what: str, value: Any, expected: str) -> None:
        raise SchemaError(
            f"{self.files[chunk.file_index]}: tree {self.tree!r}, entry {chunk.entry_start + i}: "
            f"{what} = {value}, expected {expected}"
        )

    def _finite(self, chunk: reader.Chunk, name: str, values: ak.Array, kind: str) -> None:
        """Error at the first entry holding a non-finite value of ``values``."""
        flat = ak.to_numpy(ak.flatten(values, axis=None))
        if flat.dtype.kind != "f" or np.isfinite(flat.sum()):
            return  # a finite sum proves every value finite
        if values.ndim == 1:
            bad = ~np.isfinite(ak.to_numpy(values))
        else:
            bad = ak.to_numpy(ak.any(~np.isfinite(values), axis=1))
        if bad.any():
            i = _first_entry(bad)
            self._fail(chunk, i, f"{kind} {name!r}", values[i], "finite values")

    def rows(self, chunk: reader.Chunk) -> dict[str, np.ndarray]:
        """The dataset rows of ``chunk`` (n events)."""
        a = chunk.arrays
        n = len(a)
        counts = ak.to_numpy(ak.num(a["jet_pt"], axis=1))
        for f in self.jet_features:
            c = ak.to_numpy(ak.num(a[f], axis=1))
            if (c != counts).any():
                i = _first_entry(c != counts)
                self._fail(
                    chunk,
                    i,
                    f"branch {f!r} has {c[i]} values",
                    f"jet_pt's {counts[i]}",
                    "one value per jet",
                )
        for f in (*self.jet_features, *self.event_features, *self.weights):
            self._finite(chunk, f, a[f], "branch")
        gev = {b: (a[b] / 1000.0 if b in schema.MEV_BRANCHES else a[b]) for b in ak.fields(a)}
        events = ak.zip(gev, depth_limit=1)

        jets = np.zeros((n, self.n_jets, len(self.jet_features)), np.float32)
        for k, f in enumerate(self.jet_features):
            padded = ak.fill_none(ak.pad_none(gev[f], self.n_jets, axis=1, clip=True), 0)
            jets[:, :, k] = ak.to_numpy(padded)
        mask = np.arange(self.n_jets)[None, :] < counts[:, None]

        event = np.zeros((n, len(self.event_features) + len(self.makers)), np.float32)
        for k, f in enumerate(self.event_features):
            event[:, k] = ak.to_numpy(gev[f])
        for k, m in enumerate(self.makers, start=len(self.event_features)):
            values = m(events)
            bad = ~np.isfinite(values)
            if bad.any():
                i = _first_entry(bad)
                self._fail(chunk, i, f"feature {m.name!r}", values[i], "a finite value")
            event[:, k] = values

        weight = np.full(n, self.scale, np.float64)
        for w in self.weights:
            weight *= ak.to_numpy(a[w]).astype(np.float64)
        bad = ~np.isfinite(weight)
        if bad.any():
            i = _first_entry(bad)
            self._fail(chunk, i, "the weight product", weight[i], "a finite value")

        return {
            "jets": jets,
            "jet_mask": mask,
            "event": event,
            "weight": weight,
            "eventNumber": ak.to_numpy(a[schema.EVENT_NUMBER]).astype(np.uint64),
            "entry": np.arange(chunk.global_start, chunk.global_start + n, dtype=np.int64),
            "file_index": np.full(n, chunk.file_index, np.int32),
            "njet": counts.astype(np.int32),
            "nbtag": ak.to_numpy(ak.sum(a[_TAG] >= schema.BTAG_BIN_70, axis=1)).astype(np.int32),
        }


def _create(group: h5py.Group, n_jets: int, fj: int, fe: int, chunk_events: int) -> None:
    shapes: dict[str, tuple[tuple[int, ...], Any]] = {
        "jets": ((n_jets, fj), np.float32),
        "jet_mask": ((n_jets,), np.bool_),
        "event": ((fe,), np.float32),
        "weight": ((), np.float64),
        "eventNumber": ((), np.uint64),
        "entry": ((), np.int64),
        "file_index": ((), np.int32),
        "njet": ((), np.int32),
        "nbtag": ((), np.int32),
    }
    for name, (shape, dtype) in shapes.items():
        row = max(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize, 1)
        rows = int(max(1, min(chunk_events, (1 << 20) // row)))  # HDF5 chunks of <= 1 MiB
        # an empty axis (no event features: jet inputs only) needs a positive chunk size
        group.create_dataset(
            name,
            shape=(0, *shape),
            maxshape=(None, *(d or None for d in shape)),
            dtype=dtype,
            chunks=(rows, *(max(d, 1) for d in shape)),
        )


def _append(group: h5py.Group, rows: Mapping[str, np.ndarray]) -> None:
    for name, values in rows.items():
        ds = group[name]
        n = ds.shape[0]
        ds.resize(n + len(values), axis=0)
        ds[n:] = values


def convert(
    sources: Mapping[str, Sequence[str | os.PathLike]],
    out: str | os.PathLike,
    *,
    features: Sequence[str],
    feature_makers: Sequence[str] = (),
    weights: Sequence[str] = schema.WEIGHT_BRANCHES,
    luminosity: float = schema.LUMINOSITY,
    n_jets: int = 10,
    chunk_events: int = 50_000,
    tree: str = schema.TREE,
) -> Path:
    """Convert the ntuples of both processes into one HDF5 file (layout in the module doc).

    Args:
        sources: ``{"signal": [files], "background": [files]}``, files in order.
        out: the ``.h5`` file written.
        features: ntuple branches: jagged ones (one value per jet) become jet features,
            scalar ones event features, both in this order.
        feature_makers: derived event features by name (:data:`.features.MAKERS`).
        weights: weight branches multiplied into the event weight.
        luminosity: integrated luminosity, fb⁻¹.
        n_jets: jets kept per event (padded with a mask, the rest truncated).
        chunk_events: entries read and written at a time (bounds the memory).
        tree: the tree of every file.

    Returns:
        ``out``.

    Raises:
        ValueError: bad arguments (processes, ``n_jets``, ``chunk_events``, ``luminosity``, no
            jagged feature, a name listed twice).
        KeyError: an unknown feature maker (with near matches).
        FileNotFoundError, SchemaError: from :func:`.reader.check_sources` (a missing file,
            tree or branch with near matches, a process without entries, signal and
            background schemas that differ); a jet feature without one value per jet, a
            weight branch that is not scalar, a non-finite feature, weight or maker output
            (naming the file, the entry and the branch or feature).
    """
    features, feature_makers, weights = list(features), list(feature_makers), list(weights)
    _check_args(sources, features, feature_makers, luminosity, n_jets, chunk_events)
    if not sources["signal"]:
        raise SchemaError("process 'signal': no input files")
    first = Path(sources["signal"][0])
    t = open_tree(first, tree)
    try:
        have = set(t.keys(recursive=False))
    finally:
        t.file.close()
    to_read = feature_makers_mod.resolve(features, feature_makers, have, str(first))
    extra = [*weights, schema.EVENT_NUMBER, "jet_pt", _TAG]
    to_read += [b for b in extra if b not in to_read]
    info = reader.check_sources(sources, to_read, tree=tree)
    types = info["types"]
    for b in (*weights, schema.EVENT_NUMBER):
        if types[b].kind != "scalar":
            raise SchemaError(f"{first}: branch {b!r} is {types[b]}, expected one number per entry")
    for b in ("jet_pt", _TAG):
        if types[b].kind != "jagged":
            raise SchemaError(f"{first}: branch {b!r} is {types[b]}, expected one value per jet")
    jet_features = [f for f in features if types[f].kind == "jagged"]
    event_features = [f for f in features if types[f].kind == "scalar"]
    if not jet_features:
        raise ValueError(
            f"features={features}: none is a jagged per-jet branch (e.g. jet_pt); a jet-level "
            f"model needs at least one"
        )
    all_event = [*event_features, *feature_makers]
    units = {f: _unit(f) for f in (*jet_features, *all_event)}

    out = Path(out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["jet_features"] = np.array(jet_features, dtype=h5py.string_dtype())
        h5.attrs["event_features"] = np.array(all_event, dtype=h5py.string_dtype())
        h5.attrs["n_jets"] = int(n_jets)
        h5.attrs["units"] = json.dumps(units)
        h5.attrs["tree"] = tree
        h5.attrs["chapter"] = "tth"  # `hepnb inspect` hands the file to this chapter
        h5.attrs["version"] = FORMAT_VERSION
        h5.attrs["luminosity"] = float(luminosity)
        h5.attrs["weights"] = np.array(weights, dtype=h5py.string_dtype())
        for process in schema.PROCESSES:
            files = info["files"][process]
            group = h5.create_group(process)
            group.attrs["files"] = np.array([str(f) for f in files], dtype=h5py.string_dtype())
            group.attrs["entries"] = np.array(info["entries"][process], dtype=np.int64)
            _create(group, n_jets, len(jet_features), len(all_event), chunk_events)
            rows = _Chunker(
                files,
                tree,
                jet_features,
                event_features,
                feature_makers,
                weights,
                luminosity,
                n_jets,
            )
            for chunk in reader.iterate(files, to_read, chunk_events, tree=tree):
                _append(group, rows.rows(chunk))
    return out


def convert_config(
    cfg: TthConfig,
    sources: Mapping[str, Sequence[str | os.PathLike]] | None,
    out: str | os.PathLike,
) -> Path:
    """:func:`convert` with the keys of a :class:`~.config.TthConfig`.

    Args:
        cfg: the configuration (``features``, ``feature_makers``, ``weights``, ``luminosity``,
            ``n_jets``, ``chunk_events``).
        sources: process → files; None: the files matching ``cfg.data_path``
            (:func:`.reader.expand_sources`).
        out: the ``.h5`` file written.
    """
    if sources is None:
        if not isinstance(cfg.data_path, Mapping):
            raise ValueError(
                f"data_path={cfg.data_path!r}: no ntuples to convert; expected "
                f"{{'signal': path/glob, 'background': path/glob}} or explicit sources"
            )
        sources = reader.expand_sources(cfg.data_path)
    return convert(
        sources,
        out,
        features=cfg.features,
        feature_makers=cfg.feature_makers,
        weights=cfg.weights,
        luminosity=cfg.luminosity,
        n_jets=cfg.n_jets,
        chunk_events=cfg.chunk_events,
    )


# ---------------------------------------------------------------------------------------------
# reading back
# ---------------------------------------------------------------------------------------------
def _strings(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def _open(path: str | os.PathLike) -> h5py.File:
    """Open a conversion output, checking its layout (naming what is missing)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such HDF5 file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise SchemaError(f"{path}: not a readable HDF5 file ({exc})") from exc
    try:
        missing = [a for a in _ROOT_ATTRS if a not in h5.attrs]
        missing += [f"/{p}" for p in schema.PROCESSES if p not in h5]
        missing += [
            f"/{p}/{d}" for p in schema.PROCESSES if p in h5 for d in _DATASETS if d not in h5[p]
        ]
        if missing:
            raise SchemaError(
                f"{path}: not a ttH conversion output (hepnb.chapters.tth.convert): it lacks "
                f"{missing}"
            )
        if int(h5.attrs["version"]) != FORMAT_VERSION:
            raise SchemaError(
                f"{path}: layout version {h5.attrs['version']}, expected {FORMAT_VERSION}; "
                f"convert the ntuples again"
            )
    except BaseException:
        h5.close()
        raise
    return h5


def load(path: str | os.PathLike) -> Events:
    """The converted sample, both processes concatenated (signal first, label 1).

    Raises:
        FileNotFoundError: no such file.
        SchemaError: not an HDF5 file, or not one written by :func:`convert` (naming the
            missing attributes, groups or datasets), or another layout version.
    """
    with _open(path) as h5:
        parts = {p: {d: h5[p][d][...] for d in _DATASETS} for p in schema.PROCESSES}
        labels = [np.full(len(parts[p]["weight"]), p == "signal", np.int8) for p in parts]

        def cat(name: str) -> np.ndarray:
            return np.concatenate([parts[p][name] for p in schema.PROCESSES])

        return Events(
            jets=cat("jets"),
            mask=cat("jet_mask"),
            event=cat("event"),
            weight=cat("weight"),
            label=np.concatenate(labels),
            event_number=cat("eventNumber"),
            entry=cat("entry"),
            file_index=cat("file_index"),
            njet=cat("njet"),
            nbtag=cat("nbtag"),
            jet_features=tuple(_strings(h5.attrs["jet_features"])),
            event_features=tuple(_strings(h5.attrs["event_features"])),
            units=json.loads(h5.attrs["units"]),
            files={p: _strings(h5[p].attrs["files"]) for p in schema.PROCESSES},
        )


class _Moments:
    """Count, mean, M2, min and max merged block by block (Chan et al.'s parallel update)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.lo, self.hi = np.inf, -np.inf

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        if not len(x):
            return
        n, mean = len(x), float(x.mean())
        m2 = float(((x - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.n * n / total
        self.n = total
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))

    def row(self) -> str:
        if not self.n:
            return f"{'—':>11} {'—':>11} {'—':>11} {'—':>11}"
        std = (self.m2 / self.n) ** 0.5
        return f"{self.mean:11.4g} {std:11.4g} {self.lo:11.4g} {self.hi:11.4g}"


def inspect(path: str | os.PathLike, block: int = 100_000) -> str:
    """What ``hepnb inspect file.h5`` prints for a conversion output.

    The groups and datasets (shapes, dtypes), the attributes, and per process the number of
    events, Σ weights, the mean number of real jets and per feature mean / std / min / max
    (jet features over real jets only), read ``block`` rows at a time.

    Raises:
        FileNotFoundError, SchemaError: as :func:`load`.
    """
    path = Path(path)
    lines = [f"{path}"]
    with _open(path) as h5:
        jet_f = _strings(h5.attrs["jet_features"])
        event_f = _strings(h5.attrs["event_features"])
        units = json.loads(h5.attrs["units"])
        lines.append("attributes:")
        for k, v in h5.attrs.items():
            shown = _strings(v) if isinstance(v, np.ndarray) and v.dtype.kind == "O" else v
            lines.append(f"  {k} = {shown}")
        for p in schema.PROCESSES:
            g = h5[p]
            lines.append(f"/{p}")
            for k, v in g.attrs.items():
                shown = _strings(v) if v.dtype.kind == "O" else list(np.asarray(v).tolist())
                lines.append(f"  @{k} = {shown}")
            for name, ds in g.items():
                lines.append(f"  {name:12s} {ds.shape!s:22s} {ds.dtype}")
        for p in schema.PROCESSES:
            g = h5[p]
            n = g["weight"].shape[0]
            stats = {f: _Moments() for f in (*jet_f, *event_f)}
            sum_w, n_real = 0.0, 0
            for s in range(0, n, block):
                sl = slice(s, min(s + block, n))
                mask = g["jet_mask"][sl]
                jets, event = g["jets"][sl], g["event"][sl]
                sum_w += float(g["weight"][sl].sum())
                n_real += int(mask.sum())
                for k, f in enumerate(jet_f):
                    stats[f].add(jets[:, :, k][mask])
                for k, f in enumerate(event_f):
                    stats[f].add(event[:, k])
            mean_jets = n_real / n if n else 0.0
            lines.append(
                f"{p}: {n} events, Σ weights = {sum_w:.6g}, mean real jets = {mean_jets:.3f} "
                f"(of {int(h5.attrs['n_jets'])} kept)"
            )
            lines.append(
                f"  {'feature':40s} {'unit':4s} {'mean':>11} {'std':>11} {'min':>11} {'max':>11}"
            )
            for f, m in stats.items():
                label = f"{f} [per jet]" if f in jet_f else f
                lines.append(f"  {label:40s} {units.get(f, ''):4s} {m.row()}")
    return "\n".join(lines) + "\n"
