"""Run folders, configurations, cached steps, recorded metrics and MLflow logging.

A chapter writes everything it produces into one run folder (default ``runs/<chapter>/``):

* ``config.yaml`` — the configuration it last ran with (:class:`Config`);
* one folder per cached step, ``<step>-<key>/``, whose ``key`` is a hash of the configuration
  fields the step depends on (:func:`step`): the same configuration reuses it, another one
  makes a new folder beside it, so a checkpoint is only ever resumed by the configuration that
  wrote it;
* ``metrics.json`` — headline numbers the notebooks record (:func:`record`): a key
  ``<notebook>_<figure>`` maps method → value, and its interval sits under
  ``<notebook>_<figure>_ci`` as method → ``[low, high]`` (68% unless the key says otherwise);
* the MLflow sqlite store of each training step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml

from hepnb._optional import require
from hepnb.io import atomic_path, atomic_write_json

__all__ = [
    "Config",
    "ConfigError",
    "Step",
    "config_key",
    "execute_notebook",
    "load_metrics",
    "mlflow_uri",
    "record",
    "record_with_interval",
    "run_dir",
    "step",
]

#: Root of all run folders; override with the ``HEPNB_RUNS`` environment variable.
RUNS_ROOT = Path(os.environ.get("HEPNB_RUNS", "runs"))


def run_dir(chapter: str, out_dir: str | os.PathLike | None = None) -> Path:
    """Return (and create) the run folder of ``chapter``: ``out_dir`` if given, else runs/<chapter>."""
    path = Path(out_dir) if out_dir else RUNS_ROOT / chapter
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_metrics(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Read the ``metrics.json`` of a run folder (empty dict if none yet)."""
    path = Path(out_dir) / "metrics.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def record(out_dir: str | os.PathLike, key: str, value: Any) -> Any:
    """Record a headline number (or small JSON-able object) in ``<out_dir>/metrics.json``.

    Returns ``value`` so a notebook cell can record and display in one line.
    """
    metrics = load_metrics(out_dir)
    metrics[key] = value
    atomic_write_json(Path(out_dir) / "metrics.json", metrics)
    return value


def mlflow_uri(out_dir: str | os.PathLike) -> str:
    """MLflow tracking URI of the sqlite store inside a run folder (``sqlite:///.../mlflow.db``)."""
    path = Path(out_dir).resolve() / "mlflow.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def execute_notebook(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    cwd: str | os.PathLike | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Execute a notebook with papermill into ``out_dir`` and return its recorded metrics.

    ``out_dir`` is passed to the notebook as its run folder (parameter ``out_dir``) and receives
    the executed copy, so a failed run can be inspected there.

    Args:
        path: the ``.ipynb`` to run.
        out_dir: run folder.
        cwd: working directory of the kernel (default: the current one).
        **params: notebook parameters.

    Returns:
        The notebook's ``metrics.json`` (see :func:`record`).
    """
    pm = require("papermill")
    src, out = Path(path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(src),
        str(out / src.name),
        cwd=str(cwd or Path.cwd()),
        kernel_name="python3",
        parameters={**params, "out_dir": str(out)},
        progress_bar=False,
    )
    return load_metrics(out)


class ConfigError(ValueError):
    """A configuration key or value that a chapter does not accept."""


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check_value(name: str, value: Any, hint: Any, source: str) -> Any:
    """``value`` checked (and int → float widened) against the field's type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{source}: {name}={value!r}: expected one of {list(args)}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _check_value(name, value, option, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(
            f"{source}: {name}={value!r}: expected {' or '.join(_type_name(a) for a in args)}"
        )
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {name}={value!r}: expected a list")
        item = args[0] if args else Any
        return [_check_value(f"{name}[{i}]", v, item, source) for i, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {name}={value!r}: expected a mapping")
        kt, vt = args or (Any, Any)
        return {
            _check_value(f"{name} key", k, kt, source): _check_value(
                f"{name}[{k!r}]", v, vt, source
            )
            for k, v in value.items()
        }
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{source}: {name}={value!r}: expected int")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(
            f"{source}: {name}={value!r}: expected {hint.__name__}, got {type(value).__name__}"
        )
    return value


@dataclass(kw_only=True)
class Config:
    """Base of every chapter's configuration: one flat field per notebook parameter.

    A chapter subclasses it, adds its own fields with their defaults (the only place defaults
    are written) and sets ``CHAPTER``. Every notebook's ``parameters`` cell declares exactly
    these fields with these defaults; ``hepnb run <chapter> --config my.yaml`` reads one from
    YAML; ``hepnb config <chapter>`` prints it.

    Attributes:
        seed: fixes data generation, splits and training.
        data_path: real ntuple(s) replacing the simulator: a path/glob, or for chapters whose
            samples come one file per class a mapping class → path/glob. Empty: simulate.
        out_dir: run folder shared by the chapter's notebooks.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """

    CHAPTER: ClassVar[str] = ""
    #: Version of what the chapter's steps compute (simulator, selection, feature code): part
    #: of every step key, so raising it after such a change makes fresh step folders instead
    #: of reusing outputs of the old code.
    VERSION: ClassVar[str] = ""

    seed: int = 0
    data_path: str | dict[str, str] | dict[int, str] = ""
    out_dir: str = ""
    device: str = "auto"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _check_value(f.name, getattr(self, f.name), hints[f.name], type(self).__name__)
            object.__setattr__(self, f.name, value)
        if not self.out_dir:
            self.out_dir = f"runs/{self.CHAPTER}" if self.CHAPTER else "runs"
        self.validate()

    def validate(self) -> None:
        """Checks across fields (a subclass raises :class:`ConfigError` naming the key)."""

    @classmethod
    def names(cls) -> list[str]:
        """The field names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Field → default value."""
        return cls().to_dict()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> Self:
        """A configuration from a mapping; an unknown key is rejected with the accepted list."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: expected a mapping of keys to values, got {values!r}")
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {unknown} for the {cls.CHAPTER or cls.__name__} "
                f"configuration; it accepts {cls.names()}"
            )
        try:
            return cls(**dict(values))
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def yaml_values(cls, path: str | os.PathLike) -> dict[str, Any]:
        """The keys a YAML file sets (``yaml.safe_load``), checked: an unknown key or a value
        of the wrong type fails naming the file and the key."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"config file {str(path)!r}: no such file")
        values = yaml.safe_load(path.read_text()) or {}
        cls.from_dict(values, source=str(path))
        return dict(values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Self:
        """A configuration from a YAML file holding some or all of the keys."""
        return cls.from_dict(cls.yaml_values(path), source=str(path))

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> Self:
        """The configuration held by a notebook's variables (``Config.from_namespace(globals())``)."""
        return cls.from_dict({k: namespace[k] for k in cls.names() if k in namespace})

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated like a new one)."""
        return self.from_dict({**self.to_dict(), **changes}, source="replace")

    def to_dict(self) -> dict[str, Any]:
        """Field → value (JSON/YAML-able)."""
        return {k: getattr(self, k) for k in self.names()}

    def to_yaml(self) -> str:
        """The configuration as YAML text, keys in declaration order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @property
    def run_dir(self) -> Path:
        """The run folder (created)."""
        return run_dir(self.CHAPTER, self.out_dir)

    def save(self) -> Path:
        """Write ``config.yaml`` into the run folder (atomically) and return its path."""
        path = self.run_dir / "config.yaml"
        with atomic_path(path) as tmp:
            tmp.write_text(self.to_yaml())
        return path


def config_key(values: Mapping[str, Any]) -> str:
    """A short stable hash (10 hex digits) of configuration values."""
    text = json.dumps(dict(values), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


STEP_FILE = "step.json"


@dataclass(frozen=True)
class Step:
    """The output folder of one cached step, ``<run folder>/<name>-<key>/``.

    ``key`` hashes the configuration fields the step depends on (its own and its inputs'), so
    two configurations that differ in any of them never share a folder. A step is *done* once
    :meth:`finish` wrote ``step.json``, after its outputs: an interrupted step is redone.
    """

    path: Path
    name: str
    key: str
    config: dict[str, Any]

    @property
    def done(self) -> bool:
        """Whether the step finished (``step.json`` exists)."""
        return (self.path / STEP_FILE).exists()

    def finish(self, **info: Any) -> None:
        """Mark the step done, storing its configuration and ``info`` in ``step.json``."""
        atomic_write_json(self.path / STEP_FILE, {"config": self.config, **info})

    def info(self) -> dict[str, Any]:
        """What :meth:`finish` stored (empty if not done)."""
        path = self.path / STEP_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def reset(self) -> None:
        """Forget that the step finished (its files stay, to be overwritten)."""
        (self.path / STEP_FILE).unlink(missing_ok=True)

    def run(self, make: Callable[[Path], Any], **info: Any) -> Self:
        """Run ``make(folder)`` unless the step is done, then mark it done."""
        if not self.done:
            make(self.path)
            self.finish(**info)
        return self

    def __truediv__(self, name: str) -> Path:
        return self.path / name


def step(
    config: Config, name: str, fields: Sequence[str], extra: Mapping[str, Any] | None = None
) -> Step:
    """The cached step ``name`` of ``config``'s run folder, keyed by ``fields``.

    Args:
        config: the chapter's configuration.
        name: the step's name (folder prefix), e.g. ``"sample"``, ``"dataset"``, ``"lstm"``.
        fields: the configuration fields its outputs depend on — include those of the steps
            it reads from. Fields that only say how long or where to run (``epochs``,
            ``device``, ``out_dir``) stay out, so a longer run resumes the same checkpoint.
        extra: further JSON-able values the outputs depend on that are not configuration
            fields (e.g. hyperparameters chosen by a search step).
    """
    unknown = sorted(set(fields) - set(config.names()))
    if unknown:
        raise ConfigError(f"step {name!r}: {unknown} are not {config.CHAPTER} configuration keys")
    values = {f: getattr(config, f) for f in fields}
    clash = sorted(set(values) & set(extra or {}))
    if clash:
        raise ConfigError(f"step {name!r}: extra values {clash} shadow configuration keys")
    values |= dict(extra or {})
    key = config_key({"step": name, "version": config.VERSION, **values})
    path = config.run_dir / f"{name}-{key}"
    path.mkdir(parents=True, exist_ok=True)
    return Step(path=path, name=name, key=key, config=values)


def record_with_interval(
    out_dir: str | os.PathLike,
    key: str,
    values: Mapping[str, float],
    intervals: Mapping[str, Sequence[float]],
) -> dict[str, float]:
    """Record ``key`` → method → value and ``key_ci`` → method → ``[low, high]`` together."""
    record(out_dir, f"{key}_ci", {k: [float(v[0]), float(v[1])] for k, v in intervals.items()})
    return record(out_dir, key, {k: float(v) for k, v in values.items()})
