r"""Residual multilayer perceptron on the flat jet-level input.

:class:`ResidualMLP` is an MLP whose hidden layers are residual blocks (He et al., "Deep
Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385): each block adds
:math:`\mathrm{Linear}(\sigma(\mathrm{LN}(\mathrm{Linear}(h))))` to its input :math:`h`, so
a deeper stack trains as easily as a shallow one. Layer normalisation (Ba et al.,
arXiv:1607.06450) rather than batch normalisation keeps the model independent of the batch and
identical in training and evaluation.

It sees the whole flat vector of a :class:`~hepnb.models.jets.JetLayout` — the jets in their
stored order (usually by decreasing p_T), the mask columns and the event features — like the
plain :class:`~hepnb.models.mlp.MLP`: it can use the ordering but has no built-in symmetry over
the jets. The feature columns of padded jets are set to zero inside the model, so the output
depends on padding only through the mask columns, whatever the padded columns hold.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from hepnb.models.jets import JetLayout
from hepnb.models.mlp import ACTIVATIONS

__all__ = ["ResidualBlock", "ResidualMLP"]


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class ResidualBlock(nn.Module):
    """``h + Linear(Dropout(σ(LayerNorm(Linear(h)))))``.

    Args:
        width: feature width H (input and output).
        activation: a name from :data:`hepnb.models.mlp.ACTIVATIONS`.
        dropout: dropout probability after the activation.

    Shapes:
        ``(..., H)`` → ``(..., H)``.
    """

    def __init__(self, width: int, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        self.lin1 = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)
        self.act = _activation(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.lin2 = nn.Linear(width, width)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch default initialisation; the last layer starts at zero, so that every block
        starts as the identity (Goyal et al., arXiv:1706.02677)."""
        self.lin1.reset_parameters()
        self.norm.reset_parameters()
        nn.init.zeros_(self.lin2.weight)
        nn.init.zeros_(self.lin2.bias)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.lin2(self.drop(self.act(self.norm(self.lin1(h)))))


class ResidualMLP(nn.Module):
    """MLP of residual blocks on the flat input ``(B, F)`` of a :class:`JetLayout`.

    ``Linear(F → H) → n_blocks × ResidualBlock(H) → LayerNorm → σ → Linear(H → 1)``.

    Args:
        layout: the input layout (F = ``layout.n_features``).
        hidden: width H of the residual stream.
        n_blocks: number of residual blocks.
        activation: a name from :data:`hepnb.models.mlp.ACTIVATIONS`.
        dropout: dropout probability inside each block.

    Shapes:
        input ``(B, F)`` → logits ``(B,)``.
    """

    def __init__(
        self,
        layout: JetLayout,
        hidden: int = 64,
        n_blocks: int = 2,
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if hidden < 1 or n_blocks < 0:
            raise ValueError(f"hidden={hidden}, n_blocks={n_blocks}: expected ≥ 1 and ≥ 0")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout}: expected a probability in [0, 1)")
        self.layout, self.hidden, self.n_blocks = layout, hidden, n_blocks
        self.inp = nn.Linear(layout.n_features, hidden)
        self.blocks = nn.Sequential(
            *(ResidualBlock(hidden, activation, dropout) for _ in range(n_blocks))
        )
        self.norm = nn.LayerNorm(hidden)
        self.act = _activation(activation)
        self.head = nn.Linear(hidden, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all layers."""
        self.inp.reset_parameters()
        for block in self.blocks:
            cast(ResidualBlock, block).reset_parameters()
        self.norm.reset_parameters()
        self.head.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` for the flat input ``x (B, F)``."""
        jets, mask, event = self.layout.split(x)
        jets = torch.where(mask.unsqueeze(-1), jets, torch.zeros_like(jets))
        x = torch.cat([jets.flatten(1), mask.to(x.dtype), event], dim=1)
        h = self.blocks(self.inp(x))
        return self.head(self.act(self.norm(h))).squeeze(-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.layout.n_features}, hidden={self.hidden}, "
            f"n_blocks={self.n_blocks})"
        )
