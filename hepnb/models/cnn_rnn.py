"""Frame-by-frame CNN followed by a recurrent network (calorimeter layers read as time steps).

:class:`FrameCNNRNN` treats an event as a sequence of T 2D images ("frames", e.g. the energy
map of each calorimeter layer, front to back). One small 2D CNN, shared by all frames, turns
each frame into a vector (sum ⊕ max pooling, the sum extensive so that it can count showers);
a GRU or LSTM reads these vectors in order, and its last state, optionally concatenated with
event-level features (late fusion), is classified by an :class:`~hepnb.models.mlp.MLP` head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from hepnb.models.cnn3d import _fuse, _kernel, _per_block
from hepnb.models.mlp import MLP
from hepnb.models.rnn import CELLS

__all__ = ["FrameCNNRNN"]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    t = (value,) * 2 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(t) != 2 or min(t) < 1:
        raise ValueError(f"{name}={value!r}: expected a positive int or two positive ints")
    return t[0], t[1]


class FrameCNNRNN(nn.Module):
    r"""Shared 2D CNN per frame → sum ⊕ max → ``BatchNorm`` → GRU/LSTM over frames, last state
    :math:`[\oplus` event features] → MLP.

    Args:
        in_channels: channels C of each frame.
        channels: output channels of each ``Conv2d → BatchNorm2d → ReLU`` block.
        hidden: hidden size of the recurrent cell, and width of the head's hidden layer.
        cell: ``"gru"`` or ``"lstm"``.
        extra_features: number of event-level features :math:`F_e` concatenated to the last
            state (0: none; then ``extra`` must not be given).
        n_classes: number of output logits.
        dropout: dropout probability in the head.
        stride: stride of every block — an int, an ``(h, w)`` pair (a flat sequence of two
            ints is always read as one), or one of those per block
            (kernels are 3, or ``stride + 1`` (odd) along axes of stride > 2).

    Shapes:
        - frames: ``(B, T, C, H, W)``
        - extra: ``(B, F_e)`` or None
        - output: ``(B, n_classes)`` logits
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (8, 16),
        hidden: int = 64,
        cell: str = "gru",
        extra_features: int = 0,
        n_classes: int = 4,
        dropout: float = 0.1,
        stride: int | Sequence[int] | Sequence[int | Sequence[int]] = 2,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if in_channels < 1 or not channels or min(channels) < 1 or hidden < 1:
            raise ValueError(
                f"in_channels={in_channels}, channels={channels}, hidden={hidden}: expected "
                "positive sizes"
            )
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r}: expected one of {sorted(CELLS)}")
        if extra_features < 0:
            raise ValueError(f"extra_features={extra_features}: expected ≥ 0")
        n = len(channels)
        strides = _per_block(stride, n, 2, _pair)
        self.in_channels, self.channels, self.strides = in_channels, channels, tuple(strides)
        self.hidden, self.cell = hidden, cell
        self.extra_features, self.n_classes = extra_features, n_classes
        blocks: list[nn.Module] = []
        prev = in_channels
        for c, st in zip(channels, strides, strict=True):
            k = _pair([_kernel(s) for s in st], "kernel")
            blocks += [
                nn.Conv2d(prev, c, k, stride=st, padding=(k[0] // 2, k[1] // 2), bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(),
            ]
            prev = c
        self.features = nn.Sequential(*blocks)
        self.frame_norm = nn.BatchNorm1d(2 * prev)
        self.rnn = CELLS[cell](2 * prev, hidden, batch_first=True)
        self.head = MLP(
            hidden + extra_features,
            hidden=hidden,
            n_layers=1,
            batch_norm=True,
            dropout=dropout,
            out_features=n_classes,
        )

    def encode(self, frames: Tensor) -> Tensor:
        """Last recurrent state ``(B, hidden)`` for frames ``(B, T, C, H, W)``."""
        if frames.dim() != 5 or frames.shape[2] != self.in_channels:
            raise ValueError(
                f"frames: expected shape (B, T, {self.in_channels}, H, W), "
                f"got {tuple(frames.shape)}"
            )
        b, t = frames.shape[:2]
        f = self.features(frames.flatten(0, 1)).flatten(2)  # (B·T, C', h·w)
        per_frame = self.frame_norm(torch.cat([f.sum(-1), f.amax(-1)], dim=1))
        _, state = self.rnn(per_frame.reshape(b, t, -1))
        h_n = state[0] if isinstance(state, tuple) else state  # (1, B, hidden)
        return h_n[-1]

    def forward(self, frames: Tensor, extra: Tensor | None = None) -> Tensor:
        """Logits ``(B, n_classes)`` for frames ``(B, T, C, H, W)`` and event features ``extra``."""
        return self.head(_fuse(self.encode(frames), extra, self.extra_features))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, channels={list(self.channels)}, "
            f"hidden={self.hidden}, cell={self.cell!r}, extra_features={self.extra_features}, "
            f"n_classes={self.n_classes})"
        )
