"""The flat input layout shared by the jet-level models (one event = a set of jets + event features).

Every jet-level model in ``hepnb.models`` takes **one flat tensor** ``x`` of shape ``(B, F)``
and returns logits ``(B,)``, so the training loop, the scalers and the ONNX export (one input
named ``features``) treat them all alike. :class:`JetLayout` says how the F columns are laid
out and splits them back:

* ``n_jets × n_jet_features`` jet columns, jet-major (jet 0's features, then jet 1's...);
* ``n_jets`` mask columns, 1.0 for a real jet and 0.0 for padding;
* ``n_event_features`` event columns.

Padded jets hold zeros in their feature columns; a model must give the same output whatever
they hold (the mask decides), and a permutation-invariant model the same output for any order
of the real jets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

__all__ = ["JetLayout", "masked_mean"]


@dataclass(frozen=True)
class JetLayout:
    """Column layout of the flat input ``(B, F)`` of a jet-level model.

    Attributes:
        n_jets: jets per event J (padded / truncated).
        jet_features: names of the Fj per-jet features.
        event_features: names of the Fe event features.
    """

    n_jets: int
    jet_features: tuple[str, ...]
    event_features: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "jet_features", tuple(self.jet_features))
        object.__setattr__(self, "event_features", tuple(self.event_features))
        if self.n_jets < 1 or not self.jet_features:
            raise ValueError(
                f"JetLayout: expected n_jets >= 1 and at least one jet feature, got "
                f"n_jets={self.n_jets}, jet_features={self.jet_features}"
            )

    @property
    def n_jet_features(self) -> int:
        """Fj."""
        return len(self.jet_features)

    @property
    def n_event_features(self) -> int:
        """Fe."""
        return len(self.event_features)

    @property
    def n_features(self) -> int:
        """F = J·Fj + J + Fe."""
        return self.n_jets * (self.n_jet_features + 1) + self.n_event_features

    @property
    def names(self) -> list[str]:
        """The F column names: ``jet<i>_<feature>``, ``jet<i>_mask``, then event features."""
        jets = [
            f"jet{i}_{f.removeprefix('jet_')}"
            for i in range(self.n_jets)
            for f in self.jet_features
        ]
        return [*jets, *(f"jet{i}_mask" for i in range(self.n_jets)), *self.event_features]

    def split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``x (B, F)`` → jets ``(B, J, Fj)``, mask ``(B, J)`` bool, event ``(B, Fe)``."""
        if x.dim() != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected inputs of shape (B, {self.n_features}) for {self.n_jets} jets × "
                f"{self.n_jet_features} features + mask + {self.n_event_features} event "
                f"features, got {tuple(x.shape)}"
            )
        j = self.n_jets * self.n_jet_features
        jets = x[:, :j].reshape(x.shape[0], self.n_jets, self.n_jet_features)
        mask = x[:, j : j + self.n_jets] > 0.5
        return jets, mask, x[:, j + self.n_jets :]

    def flatten(self, jets: np.ndarray, mask: np.ndarray, event: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`split` on numpy arrays: ``(N, J, Fj)``, ``(N, J)``,
        ``(N, Fe)`` → ``(N, F)`` float32 (padded jets' features set to 0)."""
        jets = np.where(np.asarray(mask, bool)[..., None], jets, 0.0)
        n = len(jets)
        return np.concatenate(
            [jets.reshape(n, -1), np.asarray(mask, np.float32), np.asarray(event).reshape(n, -1)],
            axis=1,
        ).astype(np.float32)

    def jet_columns(self, feature: str) -> Sequence[int]:
        """Column indices of one jet feature, one per jet."""
        k = self.jet_features.index(feature)
        return [i * self.n_jet_features + k for i in range(self.n_jets)]


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``h (B, J, H)`` over the real jets of ``mask (B, J)`` → ``(B, H)`` (0 if none)."""
    m = mask.to(h.dtype).unsqueeze(-1)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)
