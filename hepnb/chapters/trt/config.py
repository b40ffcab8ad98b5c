"""The TRT chapter's configuration: every notebook parameter, with its one default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hepnb.runs import Config, ConfigError

__all__ = ["TRTConfig"]


@dataclass(kw_only=True)
class TRTConfig(Config):
    """Parameters of the TRT notebooks (see :class:`hepnb.runs.Config` for the shared ones).

    Attributes:
        data_path: a real TRT ntuple (a file or a glob) replacing the simulated sample; its
            trees ``electron_mc``/``muon_mc`` train and test, ``electron_probes``/``muon_probes``
            (if present) are the "data" test set. Empty: simulate.
        n_tracks: tracks per simulated tree (``electron_mc``, ``muon_mc``, ``pion_mc``; the
            tag-and-probe trees get a quarter of it).
        min_hits: tracks with fewer TRT hits are dropped (particle identification needs ≥ 5).
        epochs: maximum number of training epochs (more epochs resume the same checkpoint).
        batch_size: tracks per training batch.
        lr: Adam learning rate.
        hidden: LSTM hidden size (64 in the published model).
    """

    CHAPTER: ClassVar[str] = "trt"
    #: 2: end-cap B HT constants, per-hit eProbHT corrections, a data sample that differs in
    #: shape (onset, straw-layer gain, pion background with sWeights), pions split too.
    VERSION: ClassVar[str] = "2"

    data_path: str = ""
    out_dir: str = "runs/trt"
    n_tracks: int = 20_000
    min_hits: int = 5
    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-3
    hidden: int = 64

    def validate(self) -> None:
        """Positive sizes, counts and learning rate."""
        for name in ("n_tracks", "min_hits", "epochs", "batch_size", "hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: expected a positive learning rate")
