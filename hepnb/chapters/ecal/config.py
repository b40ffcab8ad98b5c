"""The ECal electron-counting chapter's configuration: every notebook parameter, one default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from hepnb.runs import Config, ConfigError

__all__ = ["MODELS", "ECalConfig"]

#: The model families a ``model`` parameter can pick (one file each in :mod:`hepnb.models`).
MODELS = ("cnn", "rnn", "gnn", "cnn_rnn")


@dataclass(kw_only=True)
class ECalConfig(Config):
    """Parameters of the ECal notebooks (see :class:`hepnb.runs.Config` for the shared ones).

    Attributes:
        data_path: real ldmx-sw event files, one file or glob per electron multiplicity: a
            pattern holding ``{n}`` (``"/data/ecal_{n}e.root"``, globs allowed) or a mapping
            ``{1: "...", 2: "..."}``. Empty: simulate.
        pass_name: the ldmx-sw pass of the collections (``EcalRecHits_<pass>``...).
        n_events: simulated events per multiplicity.
        multiplicities: the electron counts (classes) to read or simulate.
        max_events: events used per multiplicity (0: all) — a cap for quick looks at real files.
        model: ``cnn`` (3D CNN on the layer × hexagonal-cell image), ``rnn`` (masked GRU over
            hits), ``gnn`` (EdgeConv on a kNN graph of hits) or ``cnn_rnn`` (2D CNN per layer,
            GRU over layers).
        grid: the CNN's image: ``hex`` (34 layers × the global hexagonal lattice, 2 × 2 cells
            per pixel: spatial axes) or ``index`` (34 layers × 7 modules × 432 cell indices).
        trigscint: give the models the trigger-scintillator bar pattern as a second input.
        max_hits: hits per event given to the RNN and the GNN (the most energetic ones).
        epochs: maximum training epochs (more epochs resume the same checkpoint).
        batch_size: events per batch; lr: Adam learning rate.
        block: events per streamed unit (splits are drawn in blocks; memory scales with it).
        buffer_size: events in the shuffling buffer of the training stream.
        num_workers: DataLoader worker processes reading the training stream.
        poisson_mu: mean electrons per bunch of the beam mix the accuracy is also quoted for.
    """

    CHAPTER: ClassVar[str] = "ecal"
    #: 2: upstream radiation in the simulator (Bethe–Heitler), a narrower beam halo.
    VERSION: ClassVar[str] = "2"

    data_path: str | dict[int, str] = ""
    out_dir: str = "runs/ecal"
    pass_name: str = "sim"
    n_events: int = 800
    multiplicities: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    max_events: int = 0
    model: Literal["cnn", "rnn", "gnn", "cnn_rnn"] = "cnn"
    grid: Literal["hex", "index"] = "hex"
    trigscint: bool = True
    max_hits: int = 128
    epochs: int = 12
    batch_size: int = 32
    lr: float = 5e-3
    block: int = 100
    buffer_size: int = 1000
    num_workers: int = 0
    poisson_mu: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.data_path, dict):  # JSON / papermill give the keys as strings
            self.data_path = {_int_key(k): v for k, v in self.data_path.items()}
        super().__post_init__()

    def validate(self) -> None:
        """Positive sizes, known multiplicities, a usable data path."""
        for name in ("n_events", "epochs", "batch_size", "max_hits", "block", "buffer_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        for name in ("max_events", "num_workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected an integer >= 0")
        if not self.multiplicities or any(n < 1 for n in self.multiplicities):
            raise ConfigError(
                f"multiplicities={self.multiplicities!r}: expected electron counts >= 1"
            )
        if len(set(self.multiplicities)) != len(self.multiplicities):
            raise ConfigError(f"multiplicities={self.multiplicities!r}: repeated count")
        if self.buffer_size < self.batch_size:
            raise ConfigError(
                f"buffer_size={self.buffer_size} < batch_size={self.batch_size}: the shuffling "
                "buffer must hold at least one batch"
            )
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: expected a positive learning rate")
        if not self.poisson_mu > 0:
            raise ConfigError(f"poisson_mu={self.poisson_mu!r}: expected a positive mean")
        if not self.pass_name.isidentifier():
            raise ConfigError(f"pass_name={self.pass_name!r}: expected a name such as 'sim'")
        if isinstance(self.data_path, str) and self.data_path and "{n}" not in self.data_path:
            raise ConfigError(
                f"data_path={self.data_path!r}: real samples come one file per multiplicity; "
                "give a pattern holding {n} (e.g. '/data/ecal_{n}e.root') or a mapping "
                "{1: '...', 2: '...'}"
            )
        if isinstance(self.data_path, dict):
            missing = sorted(set(self.multiplicities) - set(self.data_path))
            if missing:
                raise ConfigError(
                    f"data_path: no file for multiplicities {missing}; it maps "
                    f"{sorted(self.data_path)} (or set multiplicities)"
                )


def _int_key(key: Any) -> Any:
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return key
