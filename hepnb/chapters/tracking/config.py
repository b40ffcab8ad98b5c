"""The track-finding chapter's configuration: every notebook parameter, one default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from hepnb.chapters.tracking import transforms
from hepnb.runs import Config, ConfigError

__all__ = ["METHODS", "TrackingConfig"]

#: The track finders compared on the same test events (the first is the classical baseline).
METHODS = ("hough", "tracknet", "gnn")


@dataclass(kw_only=True)
class TrackingConfig(Config):
    """Parameters of the tracking notebooks (see :class:`hepnb.runs.Config` for the shared ones).

    Attributes:
        data_path: real events replacing the simulator: a ROOT file (tree ``events``) or a
            BESIII text file of Ariadne's format (one hit per line), or a glob of either.
        geometry: the detector simulated, and whose radii, field and reconstructability cut the
            methods use: ``cgem`` (BESIII cylindrical-GEM inner tracker, 3 layers, 1 T),
            ``drift`` (a drift chamber, 43 layers to 0.8 m, 1 T) or ``silicon`` (a dense
            10-layer silicon barrel, 2 T).
        n_events: simulated events.
        transforms: the coordinate preprocessing every event goes through, as transform reprs
            (:mod:`~hepnb.chapters.tracking.transforms`); fitted on the training events.
        train_filters: truth filters giving TrackNETv2 its training tracks (training events
            only: the finders always see every hit).
        cut_keep: fraction of true segments each graph-building cut keeps on training events.
        tracknet_hidden: GRU width of TrackNETv2; alpha: weight of its distance term (1 − α
            weighs the ellipse area).
        gnn_hidden, gnn_iterations: width and message-passing steps of the Interaction Network.
        epochs: maximum training epochs of each network (more epochs resume).
        batch_size: events per GNN batch; track_batch: tracks per TrackNETv2 batch.
        lr: Adam learning rate.
        hough_n_phi, hough_n_kappa: the grid of Hough binnings tuned on the validation events.
    """

    CHAPTER: ClassVar[str] = "tracking"
    VERSION: ClassVar[str] = "1"

    data_path: str = ""
    out_dir: str = "runs/tracking"
    geometry: Literal["cgem", "drift", "silicon"] = "cgem"
    n_events: int = 1500
    transforms: list[str] = field(default_factory=lambda: ["ToCylindrical()", "StandardScale()"])
    train_filters: list[str] = field(
        default_factory=lambda: ["DropSpinningTracks()", "DropTracksWithHoles()", "DropShort()"]
    )
    cut_keep: float = 0.999
    tracknet_hidden: int = 32
    alpha: float = 0.9
    gnn_hidden: int = 40
    gnn_iterations: int = 3
    epochs: int = 30
    batch_size: int = 32
    track_batch: int = 8
    lr: float = 3e-3
    hough_n_phi: list[int] = field(default_factory=lambda: [128, 256, 512])
    hough_n_kappa: list[int] = field(default_factory=lambda: [8, 16, 32])

    def validate(self) -> None:
        """Positive sizes, fractions in range, parseable transform chains."""
        for name in (
            "n_events",
            "epochs",
            "batch_size",
            "track_batch",
            "tracknet_hidden",
            "gnn_hidden",
            "gnn_iterations",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if not 0 < self.cut_keep <= 1:
            raise ConfigError(f"cut_keep={self.cut_keep!r}: expected a fraction in (0, 1]")
        if not 0 <= self.alpha <= 1:
            raise ConfigError(f"alpha={self.alpha!r}: expected a weight in [0, 1]")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: expected a positive learning rate")
        for name in ("hough_n_phi", "hough_n_kappa"):
            values = getattr(self, name)
            if not values or any(v < 1 for v in values):
                raise ConfigError(f"{name}={values!r}: expected a non-empty list of bins >= 1")
        for name in ("transforms", "train_filters"):
            try:
                transforms.parse(list(getattr(self, name)))
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None
