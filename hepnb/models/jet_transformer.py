r"""Transformer over the jets of an event: masked self-attention, no positional encoding.

:class:`JetTransformer` embeds every jet, lets the jets exchange information through a few
pre-norm self-attention blocks (Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
arXiv:1706.03762; pre-norm as in Xiong et al., arXiv:2002.04745), pools them and classifies
the pooled jets together with the event features. Without a positional encoding the blocks
are permutation equivariant and the pooled output permutation invariant, as in the Set
Transformer (Lee et al., ICML 2019, arXiv:1810.00825) and the Particle Transformer (Qu, Li and
Qian, ICML 2022, arXiv:2202.03772), here over the jets of an event rather than the particles
of a jet and without ParT's pairwise interaction features.

Attention is written out (:class:`MaskedSelfAttention`) with an explicit masked softmax: the
scores of padded keys are set to the lowest float before the softmax, so no real jet ever
attends to padding, and the graph exports to ONNX with a dynamic batch (no data-dependent
shapes, no fused kernel). Each attention weight looks at a *pair* of jets, so pairwise
quantities such as an invariant mass are within easy reach.

Pooling is the masked mean and the masked sum (divided by J) of the real jets
(``pooling="both"``, the default: the mean alone, with layer-normalised tokens and softmax
attention, cannot count the jets, a strong discriminant on jet inputs), the mean alone
(``"mean"``), or a learned class token that attends to the jets in every block
(``pooling="cls"``, as in ParT's class-attention).
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor, nn

from hepnb.models.jets import JetLayout, masked_mean
from hepnb.models.mlp import ACTIVATIONS, MLP

__all__ = ["JetTransformer", "MaskedSelfAttention", "TransformerBlock"]


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask, written out for export.

    Args:
        width: model width H (divisible by ``n_heads``).
        n_heads: number of heads.

    Shapes:
        ``h (B, N, H)``, ``mask (B, N)`` bool (True = real) → ``(B, N, H)``.
    """

    def __init__(self, width: int, n_heads: int = 4):
        super().__init__()
        if width % n_heads:
            raise ValueError(f"width={width} is not divisible by n_heads={n_heads}")
        self.width, self.n_heads = width, n_heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (as ``nn.MultiheadAttention``)."""
        nn.init.xavier_uniform_(self.qkv.weight)
        nn.init.zeros_(self.qkv.bias)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        b, n, _ = h.shape
        d = self.width // self.n_heads
        q, k, v = (
            self.qkv(h).reshape(b, n, 3, self.n_heads, d).permute(2, 0, 3, 1, 4).unbind(0)
        )  # each (B, heads, N, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, heads, N_query, N_key)
        scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        attn = torch.softmax(scores, dim=-1)
        return self.out((attn @ v).transpose(1, 2).reshape(b, n, self.width))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``h + Attn(LN(h))``, then ``h + FFN(LN(h))``.

    Args:
        width: model width H.
        n_heads: attention heads.
        ffn_ratio: hidden width of the feed-forward network, in units of H.
        activation: a name from :data:`hepnb.models.mlp.ACTIVATIONS`.
        dropout: dropout probability on both residual branches.

    Shapes:
        ``h (B, N, H)``, ``mask (B, N)`` → ``(B, N, H)``.
    """

    def __init__(
        self,
        width: int,
        n_heads: int = 4,
        ffn_ratio: int = 1,
        activation: str = "gelu",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = MaskedSelfAttention(width, n_heads)
        self.norm2 = nn.LayerNorm(width)
        self.ffn = MLP(width, [ffn_ratio * width], activation=activation, out_features=width)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def reset_parameters(self) -> None:
        """Re-initialise the norms, the attention and the feed-forward network."""
        self.norm1.reset_parameters()
        self.attn.reset_parameters()
        self.norm2.reset_parameters()
        self.ffn.reset_parameters()

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        h = h + self.drop(self.attn(self.norm1(h), mask))
        return h + self.drop(self.ffn(self.norm2(h)))


class JetTransformer(nn.Module):
    """Permutation-invariant transformer on the flat input ``(B, F)`` of a :class:`JetLayout`.

    ``Linear(Fj → H)`` per jet → ``n_blocks`` × :class:`TransformerBlock` (padding masked) →
    LayerNorm → masked mean ⊕ masked sum / J ``(B, 2H)``, or mean or class token ``(B, H)`` ⊕ ``σ(Linear(Fe → H))`` →
    ``MLP(→ H → 1)``.

    Args:
        layout: the input layout.
        hidden: model width H.
        n_blocks: number of attention blocks.
        n_heads: attention heads (H must be divisible by it).
        ffn_ratio: feed-forward width in units of H.
        pooling: ``"both"`` (masked mean and masked sum / J of the jets: intensive and
            extensive, so the jet multiplicity is seen, as in Deep Sets), ``"mean"`` or
            ``"cls"`` (class token).
        activation: a name from :data:`hepnb.models.mlp.ACTIVATIONS`.
        dropout: dropout probability in the blocks and the head.

    Shapes:
        input ``(B, F)`` → logits ``(B,)``; jet tokens ``(B, J, H)`` (``J + 1`` with the class
        token).
    """

    def __init__(
        self,
        layout: JetLayout,
        hidden: int = 64,
        n_blocks: int = 2,
        n_heads: int = 4,
        ffn_ratio: int = 1,
        pooling: str = "both",
        activation: str = "gelu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if pooling not in ("both", "mean", "cls"):
            raise ValueError(f"pooling={pooling!r}: expected 'both', 'mean' or 'cls'")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: expected one of {sorted(ACTIVATIONS)}")
        if hidden < 1 or n_blocks < 1 or ffn_ratio < 1:
            raise ValueError(
                f"hidden={hidden}, n_blocks={n_blocks}, ffn_ratio={ffn_ratio}: expected "
                f"positive integers"
            )
        self.layout, self.hidden, self.n_blocks, self.pooling = layout, hidden, n_blocks, pooling
        self.embed = nn.Linear(layout.n_jet_features, hidden)
        self.cls = nn.Parameter(torch.zeros(1, 1, hidden)) if pooling == "cls" else None
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden, n_heads, ffn_ratio, activation, dropout)
            for _ in range(n_blocks)
        )
        self.norm = nn.LayerNorm(hidden)
        n_event = layout.n_event_features
        self.psi = nn.Linear(n_event, hidden) if n_event else None
        self.psi_act = ACTIVATIONS[activation]()
        width = hidden * ((2 if pooling == "both" else 1) + (1 if n_event else 0))
        self.head = MLP(width, [hidden], activation=activation, dropout=dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all layers; the class token from N(0, 0.02²)."""
        self.embed.reset_parameters()
        for block in self.blocks:
            cast(TransformerBlock, block).reset_parameters()
        self.norm.reset_parameters()
        if self.psi is not None:
            self.psi.reset_parameters()
        self.head.reset_parameters()
        if self.cls is not None:
            nn.init.normal_(self.cls, std=0.02)

    def encode(self, x: Tensor) -> Tensor:
        """The pooled jets ``(B, H)`` (``(B, 2H)`` with ``pooling="both"``) of the flat input
        ``x (B, F)``."""
        jets, mask, _ = self.layout.split(x)
        jets = torch.where(mask.unsqueeze(-1), jets, torch.zeros_like(jets))
        h = self.embed(jets)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        for block in self.blocks:
            h = block(h, mask)
        h = self.norm(h)
        if self.cls is not None:
            return h[:, 0]
        mean = masked_mean(h, mask)
        if self.pooling == "mean":
            return mean
        # the sum (over J, to stay of order one) is extensive: it counts the jets, which the
        # normalised tokens and the softmax-weighted attention cannot
        total = (h * mask.unsqueeze(-1).to(h.dtype)).sum(1) / self.layout.n_jets
        return torch.cat([mean, total], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` for the flat input ``x (B, F)``."""
        pooled = self.encode(x)
        if self.psi is not None:
            pooled = torch.cat([pooled, self.psi_act(self.psi(self.layout.split(x)[2]))], dim=-1)
        return self.head(pooled).reshape(x.shape[0])

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(jets={self.layout.n_jets}×"
            f"{self.layout.n_jet_features}, event={self.layout.n_event_features}, "
            f"hidden={self.hidden}, n_blocks={self.n_blocks}, pooling={self.pooling!r})"
        )
