"""3D convolutional classifier for voxelised calorimeter images (one event at a time).

:class:`CNN3d` reads an event as a grid ``(C, D, H, W)`` (e.g. energy per layer × cell row ×
cell column), halves it a few times with strided ``Conv3d → BatchNorm → ReLU`` blocks, pools the
last feature map into one vector per event and classifies it with an :class:`~hepnb.models.mlp.MLP`
head, optionally after concatenating event-level features (late fusion).

Counting objects (how many showers?) needs an *extensive* summary, one that grows with the
number of objects: the pooling keeps the **sum** over all voxels (a shower detector summed over
the image counts showers) next to the **max** (the strongest response, intensive). A plain mean
over a fixed-size grid is the same sum up to a constant; a max alone cannot count.

Anisotropic grids (34 layers × 7 modules × 432 cells) get per-axis strides and kernels:
:func:`auto_strides` halves every axis that is still long enough and quarters the ones much
longer than the others, so the cost stays close to that of a cube of the same volume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from hepnb.models.mlp import MLP

__all__ = ["CNN3d", "auto_strides"]

Triple = tuple[int, int, int]
_T = TypeVar("_T")


def _triple(value: int | Sequence[int], name: str) -> Triple:
    t = (value,) * 3 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(t) != 3 or min(t) < 1:
        raise ValueError(f"{name}={value!r}: expected a positive int or three positive ints")
    return t[0], t[1], t[2]


def _per_block(stride: Any, n: int, ndim: int, convert: Callable[[Any, str], _T]) -> list[_T]:
    """One stride per block from an int, an ``ndim``-tuple (both: the same for every block) or
    a sequence of ``n`` of those."""
    if isinstance(stride, int) or (len(stride) == ndim and all(isinstance(s, int) for s in stride)):
        return [convert(stride, "stride")] * n
    if len(stride) != n:
        raise ValueError(f"stride={stride!r}: expected an int, {ndim} ints or {n} such entries")
    return [convert(s, "stride") for s in stride]


def _kernel(stride: int) -> int:
    """Odd kernel that covers every input voxel for this stride (3 for strides 1 and 2)."""
    return 3 if stride <= 2 else stride + 1 + stride % 2


def auto_strides(
    shape: Sequence[int], n_blocks: int, min_size: int = 4, long_ratio: float = 4.0
) -> list[Triple]:
    """Per-block strides for a grid of spatial shape ``(D, H, W)``.

    In each block an axis is halved while it is at least ``min_size`` long, and quartered
    while it is more than ``long_ratio`` times longer than the median axis (so an elongated
    grid becomes rounder block after block).

    Args:
        shape: spatial shape ``(D, H, W)`` of the input grid.
        n_blocks: number of convolution blocks.
        min_size: shortest axis length that is still strided.
        long_ratio: an axis longer than ``long_ratio`` × the median axis gets stride 4.

    Returns:
        ``n_blocks`` triples of strides; e.g. ``(34, 32, 32)`` → three times ``(2, 2, 2)``,
        ``(34, 7, 432)`` → ``(2, 2, 4), (2, 2, 4), (2, 1, 2)``.
    """
    size = [int(s) for s in _triple(tuple(shape), "shape")]
    out: list[Triple] = []
    for _ in range(n_blocks):
        median = sorted(size)[1]
        stride = [(4 if s > long_ratio * median else 2) if s >= min_size else 1 for s in size]
        out.append((stride[0], stride[1], stride[2]))
        size = [(s - 1) // st + 1 for s, st in zip(size, stride, strict=True)]
    return out


class CNN3d(nn.Module):
    r"""Strided 3D CNN → sum ⊕ max pooling :math:`[\oplus` event features] → MLP.

    Args:
        in_channels: input channels C (e.g. 1 for energy, 2 for energy and time).
        channels: output channels of each ``Conv3d → BatchNorm3d → ReLU`` block.
        extra_features: number of event-level features :math:`F_e` concatenated after pooling
            (0: none; then ``extra`` must not be given).
        n_classes: number of output logits.
        hidden: width of the hidden layer of the head.
        dropout: dropout probability in the head.
        stride: stride of every block — an int, a ``(d, h, w)`` triple (a flat sequence of
            three ints is always read as one), or one of those per block; None picks :func:`auto_strides` of ``input_shape`` (stride 2 everywhere
            without it). Kernels are 3 along axes of stride ≤ 2, ``stride + 1`` (odd) beyond.
        input_shape: spatial shape ``(D, H, W)`` used to pick strides when ``stride`` is None.

    Shapes:
        - grid: ``(B, C, D, H, W)``
        - extra: ``(B, F_e)`` or None
        - output: ``(B, n_classes)`` logits

    The head starts with a ``BatchNorm1d`` over the pooled vector and the event features, so
    neither needs scaling beforehand; training needs batches of more than one event.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (8, 16, 32),
        extra_features: int = 0,
        n_classes: int = 4,
        hidden: int = 64,
        dropout: float = 0.1,
        stride: int | Sequence[int] | Sequence[int | Sequence[int]] | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if in_channels < 1 or not channels or min(channels) < 1:
            raise ValueError(
                f"in_channels={in_channels}, channels={channels}: expected positive channel counts"
            )
        if extra_features < 0:
            raise ValueError(f"extra_features={extra_features}: expected ≥ 0")
        n = len(channels)
        if stride is not None:
            strides = _per_block(stride, n, 3, _triple)
        elif input_shape is not None:
            strides = auto_strides(input_shape, n)
        else:
            strides = [(2, 2, 2)] * n
        self.in_channels, self.channels, self.strides = in_channels, channels, tuple(strides)
        self.extra_features, self.n_classes = extra_features, n_classes
        blocks: list[nn.Module] = []
        prev = in_channels
        for c, st in zip(channels, strides, strict=True):
            k = _triple([_kernel(s) for s in st], "kernel")
            pad = (k[0] // 2, k[1] // 2, k[2] // 2)
            blocks += [
                nn.Conv3d(prev, c, k, stride=st, padding=pad, bias=False),
                nn.BatchNorm3d(c),
                nn.ReLU(),
            ]
            prev = c
        self.features = nn.Sequential(*blocks)
        self.head = MLP(
            2 * prev + extra_features,
            hidden=hidden,
            n_layers=1,
            batch_norm=True,
            dropout=dropout,
            out_features=n_classes,
        )

    def pool(self, grid: Tensor) -> Tensor:
        """Pooled event vector ``(B, 2·channels[-1])``: sum ⊕ max of the last feature map."""
        f = self.features(grid).flatten(2)  # (B, C', d·h·w)
        return torch.cat([f.sum(-1), f.amax(-1)], dim=1)

    def forward(self, grid: Tensor, extra: Tensor | None = None) -> Tensor:
        """Logits ``(B, n_classes)`` for grids ``(B, C, D, H, W)`` and event features ``extra``."""
        if grid.dim() != 5 or grid.shape[1] != self.in_channels:
            raise ValueError(
                f"grid: expected shape (B, {self.in_channels}, D, H, W), got {tuple(grid.shape)}"
            )
        return self.head(_fuse(self.pool(grid), extra, self.extra_features))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, channels={list(self.channels)}, "
            f"strides={list(self.strides)}, extra_features={self.extra_features}, "
            f"n_classes={self.n_classes})"
        )


def _fuse(pooled: Tensor, extra: Tensor | None, extra_features: int) -> Tensor:
    """``pooled ⊕ extra`` (late fusion), checking ``extra`` against ``extra_features``."""
    if extra_features == 0:
        if extra is not None:
            raise ValueError("extra: given, but the model was built with extra_features=0")
        return pooled
    if extra is None or extra.shape != (pooled.shape[0], extra_features):
        got = None if extra is None else tuple(extra.shape)
        raise ValueError(f"extra: expected shape ({pooled.shape[0]}, {extra_features}), got {got}")
    return torch.cat([pooled, extra.to(pooled.dtype)], dim=1)
