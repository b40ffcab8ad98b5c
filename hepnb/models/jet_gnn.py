r"""Graph network over the jets of an event, with PyTorch Geometric's dense layers.

The jets of an event are the nodes of a fully connected graph (every real jet linked to every
other real jet, padding linked to nothing). With at most ~10–20 jets per event the dense form
— node features ``(B, N, H)``, adjacency ``(B, N, N)``, node mask ``(B, N)`` — is both the
fastest and the one that exports to ONNX with a dynamic batch (no edge lists of
data-dependent length). The message passing is
:class:`torch_geometric.nn.DenseGraphConv` (Fey and Lenssen, "Fast Graph Representation
Learning with PyTorch Geometric", arXiv:1903.02428; the GraphConv operator of Morris et al.,
AAAI 2019, arXiv:1810.02244):

.. math::

    h_i' = W_1 h_i + W_2 \sum_j A_{ij} h_j + b,

with a residual connection around each layer, then a masked mean over the real jets ⊕ an MLP
of the event features → classifier. As in ParticleNet (Qu and Gouskos, Phys. Rev. D 101 (2020)
056019, arXiv:1902.08570) the edges carry information about the *pair* of jets: with
``edges="learned"`` (the default) the adjacency is

.. math::

    A_{ij} = \frac{m_i m_j (1 - \delta_{ij})}{\max(n - 1, 1)}\,
             \sigma\big(g(x_i + x_j,\; x_i \odot x_j)\big),

a gate computed by a small MLP :math:`g` from the two jets' *input* features (symmetric in
:math:`i, j`, so the graph stays undirected), divided by the number of neighbours. Because
the sum :math:`x_i + x_j` is (up to the input scaling) the pair's four-momentum when the jet
features are momentum components, the gate can learn pair properties such as an invariant
mass or an angular distance. ``edges="full"`` sets the gate to 1 (a plain mean over the other
jets). We do not build edge weights from η, φ columns: the inputs are standardised, so a
ΔR computed from them would be distorted and φ's periodicity lost; the learned gate subsumes
it. The output is invariant under permutations of the real jets and ignores the padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import DenseGraphConv

from hepnb.models.jets import JetLayout, masked_mean
from hepnb.models.mlp import ACTIVATIONS, MLP

__all__ = ["EDGES", "JetGNN", "jet_adjacency"]

#: Edge modes of :class:`JetGNN`.
EDGES = ("learned", "full")


def jet_adjacency(mask: Tensor) -> Tensor:
    """Fully connected adjacency of the real jets, no self-loops, normalised per node.

    Args:
        mask: ``(B, N)`` bool, True for real jets.

    Returns:
        ``(B, N, N)`` float: ``m_i m_j (1 − δ_ij) / max(n − 1, 1)`` with ``n`` the number of
        real jets of the event (row sums 1 for real jets when n ≥ 2, rows and columns 0 for
        padding).
    """
    m = mask.to(torch.float32)
    eye = torch.eye(mask.shape[1], dtype=m.dtype, device=m.device)
    adj = m.unsqueeze(2) * m.unsqueeze(1) * (1.0 - eye)
    return adj / (m.sum(1) - 1.0).clamp_min(1.0)[:, None, None]


class JetGNN(nn.Module):
    """Dense graph network on the flat input ``(B, F)`` of a :class:`JetLayout`.

    ``σ(Linear(Fj → H))`` per jet → ``n_layers`` × ``h + σ(DenseGraphConv(h, A, mask))`` →
    masked mean ``(B, H)`` ⊕ ``σ(Linear(Fe → H))`` → ``MLP(→ H → 1)``.

    Args:
        layout: the input layout.
        hidden: node feature width H.
        n_layers: number of graph convolutions.
        edges: ``"learned"`` (gated by a pairwise MLP of the input features) or ``"full"``
            (uniform weights); see the module docstring.
        edge_hidden: hidden width of the edge gate MLP.
        activation: a name from :data:`hepnb.models.mlp.ACTIVATIONS`.
        dropout: dropout probability in the head.

    Shapes:
        input ``(B, F)`` → logits ``(B,)``; node features ``(B, J, H)``; adjacency
        ``(B, J, J)``.
    """

    def __init__(
        self,
        layout: JetLayout,
        hidden: int = 64,
        n_layers: int = 3,
        edges: str = "learned",
        edge_hidden: int = 16,
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if edges not in EDGES:
            raise ValueError(f"edges={edges!r}: expected one of {EDGES}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: expected one of {sorted(ACTIVATIONS)}")
        if hidden < 1 or n_layers < 1 or edge_hidden < 1:
            raise ValueError(
                f"hidden={hidden}, n_layers={n_layers}, edge_hidden={edge_hidden}: expected "
                f"positive integers"
            )
        self.layout, self.hidden, self.n_layers, self.edges = layout, hidden, n_layers, edges
        fj, n_event = layout.n_jet_features, layout.n_event_features
        self.act = ACTIVATIONS[activation]()
        self.embed = nn.Linear(fj, hidden)
        self.gate = (
            MLP(2 * fj, [edge_hidden], activation=activation) if edges == "learned" else None
        )
        self.convs = nn.ModuleList(
            DenseGraphConv(hidden, hidden, aggr="add") for _ in range(n_layers)
        )
        self.psi = nn.Linear(n_event, hidden) if n_event else None
        self.head = MLP(
            hidden * (2 if n_event else 1), [hidden], activation=activation, dropout=dropout
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all layers (PyTorch / PyG defaults)."""
        for m in (self.embed, self.gate, *self.convs, self.psi, self.head):
            if m is not None:
                m.reset_parameters()

    def adjacency(self, jets: Tensor, mask: Tensor) -> Tensor:
        """Edge weights ``(B, J, J)`` from the jets ``(B, J, Fj)`` (padding zeroed) and
        ``mask (B, J)``."""
        adj = jet_adjacency(mask).to(jets.dtype)
        if self.gate is None:
            return adj
        xi, xj = jets.unsqueeze(2), jets.unsqueeze(1)  # (B, J, 1, Fj), (B, 1, J, Fj)
        pair = torch.cat(torch.broadcast_tensors(xi + xj, xi * xj), dim=-1)  # (B, J, J, 2Fj)
        return adj * torch.sigmoid(self.gate(pair))

    def encode(self, x: Tensor) -> Tensor:
        """The pooled node features ``(B, H)`` of the flat input ``x (B, F)``."""
        jets, mask, _ = self.layout.split(x)
        jets = torch.where(mask.unsqueeze(-1), jets, torch.zeros_like(jets))
        adj = self.adjacency(jets, mask)
        h = self.act(self.embed(jets))
        for conv in self.convs:
            h = h + self.act(conv(h, adj, mask))
        return masked_mean(h, mask)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` for the flat input ``x (B, F)``."""
        pooled = self.encode(x)
        if self.psi is not None:
            pooled = torch.cat([pooled, self.act(self.psi(self.layout.split(x)[2]))], dim=-1)
        return self.head(pooled).reshape(x.shape[0])

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(jets={self.layout.n_jets}×"
            f"{self.layout.n_jet_features}, event={self.layout.n_event_features}, "
            f"hidden={self.hidden}, n_layers={self.n_layers}, edges={self.edges!r})"
        )
