"""The ghost-track chapter's configuration: every notebook parameter, with its one default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from hepnb.runs import Config, ConfigError

__all__ = ["GhostConfig"]


@dataclass(kw_only=True)
class GhostConfig(Config):
    """Parameters of the ghost-track notebooks (see :class:`hepnb.runs.Config` for the shared
    ones).

    Attributes:
        data_path: a real Allen ``kalman_ip_tree`` ntuple (a file or a glob) of the ``track``
            type replacing the simulation. Empty: simulate.
        n_tracks: reconstructed candidates per track type in the simulated sample.
        track: feature set, ``"forward"`` (8 features) or ``"matching"`` (13).
        fraction: seeded fraction of the ntuple used, in (0, 1].
        balance: class balancing of the training and validation splits: ``"weight"`` (keep
            every track, weigh both classes equally) or ``"undersample"`` (drop real tracks at
            random down to the number of ghosts). The test split is never balanced.
        network: 0 = MLP on the scaled features, 1 = the same behind a BatchNorm layer.
        epochs: maximum epochs of the final training (more epochs resume its checkpoint).
        batch_size, lr: used when ``n_trials`` is 0; otherwise the search chooses them.
        n_trials: Optuna trials of the hyperparameter search (0: no search); more trials
            resume the stored study.
        search_epochs: epochs per search trial.
        efficiency: real-track efficiency of the working point.
    """

    CHAPTER: ClassVar[str] = "ghost"
    #: 2: forward tuned to documented ghost rates (SciFi noise, Allen's hit requirements) and the
    #: training preselection applied in the dataset step.
    VERSION: ClassVar[str] = "2"

    data_path: str = ""
    out_dir: str = "runs/ghost"
    n_tracks: int = 50_000
    track: Literal["forward", "matching"] = "matching"
    fraction: float = 1.0
    balance: Literal["weight", "undersample"] = "weight"
    network: int = 1
    epochs: int = 30
    batch_size: int = 256
    lr: float = 3e-3
    n_trials: int = 20
    search_epochs: int = 6
    efficiency: float = 0.99

    def validate(self) -> None:
        """Positive sizes and learning rate, fractions in (0, 1], a known network."""
        for name in ("n_tracks", "epochs", "batch_size", "search_epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if self.n_trials < 0:
            raise ConfigError(f"n_trials={self.n_trials!r}: expected 0 (no search) or more")
        if self.network not in (0, 1):
            raise ConfigError(
                f"network={self.network!r}: expected 0 (plain MLP) or 1 (BatchNorm front)"
            )
        for name in ("fraction", "efficiency"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected a value in (0, 1]")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: expected a positive learning rate")
