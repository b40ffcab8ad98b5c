"""The converted sample: what the HDF5 file holds, loaded for the steps, plots and models.

:class:`Events` is the one container the steps, the displays and the evaluation share: padded
jets with their mask, event features, weights and the alignment keys back to the ntuples, for
both processes concatenated (signal first). :func:`hepnb.chapters.tth.convert.load` fills it
from the HDF5 file; tests build it by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from hepnb.chapters.tth.schema import PROCESSES
from hepnb.models.jets import JetLayout

__all__ = ["Events"]

_ROWS = ("jets", "mask", "event", "weight", "event_number", "entry", "file_index", "njet", "nbtag")


@dataclass(frozen=True)
class Events:
    """Events of both processes, one row per ntuple entry.

    Attributes:
        jets: ``(N, J, Fj)`` float32 per-jet features (GeV, rad), pT-ordered, padded jets 0.
        mask: ``(N, J)`` bool, True for a real jet.
        event: ``(N, Fe)`` float32 event features (scalar branches, then derived features).
        weight: ``(N,)`` float64 event weight (expected events at the configured luminosity).
        label: ``(N,)`` int8, 1 = signal (ttH), 0 = background (tt+bb).
        event_number: ``(N,)`` uint64 ``eventNumber`` of the entry.
        entry: ``(N,)`` int64 entry index in the concatenation of its process's files.
        file_index: ``(N,)`` int32 index of its file in ``files[process]``.
        njet: ``(N,)`` int32 jets in the event (all of them, before truncation to J).
        nbtag: ``(N,)`` int32 jets b-tagged at 70 % (tag bin ≥ 4), all jets of the event.
        jet_features: the Fj jet feature names (``jet_pt``...).
        event_features: the Fe event feature names.
        units: feature name → unit (``"GeV"``, ``"rad"``, ``""``).
        files: process → the ntuple files converted, in order.
    """

    jets: np.ndarray
    mask: np.ndarray
    event: np.ndarray
    weight: np.ndarray
    label: np.ndarray
    event_number: np.ndarray
    entry: np.ndarray
    file_index: np.ndarray
    njet: np.ndarray
    nbtag: np.ndarray
    jet_features: tuple[str, ...]
    event_features: tuple[str, ...]
    units: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.label)
        for name in _ROWS:
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Events: {name} has {len(getattr(self, name))} rows, label has {n}"
                )
        if self.jets.shape[:2] != self.mask.shape or self.jets.shape[2] != len(self.jet_features):
            raise ValueError(
                f"Events: jets {self.jets.shape}, mask {self.mask.shape} and "
                f"{len(self.jet_features)} jet features do not agree"
            )
        if self.event.shape[1] != len(self.event_features):
            raise ValueError(
                f"Events: event {self.event.shape} for {len(self.event_features)} event features"
            )

    def __len__(self) -> int:
        return len(self.label)

    @property
    def n_jets(self) -> int:
        """J, the padded jet multiplicity."""
        return self.mask.shape[1]

    @property
    def layout(self) -> JetLayout:
        """The flat model-input layout of these features."""
        return JetLayout(self.n_jets, self.jet_features, self.event_features)

    def flat(self) -> np.ndarray:
        """Model inputs ``(N, F)`` float32 in :attr:`layout` (unscaled)."""
        return self.layout.flatten(self.jets, self.mask, self.event)

    def column(self, name: str) -> np.ndarray:
        """An event feature ``(N,)`` or a jet feature ``(N, J)`` by name.

        Raises:
            KeyError: a name that is neither, listing the names.
        """
        if name in self.event_features:
            return self.event[:, self.event_features.index(name)]
        if name in self.jet_features:
            return self.jets[:, :, self.jet_features.index(name)]
        raise KeyError(
            f"{name!r}: not a feature of this sample; event features {list(self.event_features)}, "
            f"jet features {list(self.jet_features)}"
        )

    def select(self, rows: np.ndarray) -> Events:
        """The events at ``rows`` (a boolean mask ``(N,)`` or indices)."""
        return replace(self, label=self.label[rows], **{k: getattr(self, k)[rows] for k in _ROWS})

    def process(self, name: str) -> Events:
        """The events of one process (``"signal"`` or ``"background"``)."""
        if name not in PROCESSES:
            raise KeyError(f"process {name!r}: expected one of {list(PROCESSES)}")
        return self.select(self.label == (1 if name == "signal" else 0))

    def in_region(self, n_jets: int, n_b: int) -> np.ndarray:
        """``(N,)`` bool: at least ``n_jets`` jets and ``n_b`` of them b-tagged at 70 %."""
        return (self.njet >= n_jets) & (self.nbtag >= n_b)
