"""Interaction Network edge classifier: which candidate segments of a hit graph are true.

The hits of an event are the nodes of a graph; candidate segments between hits on consecutive
stations (inner → outer) are its edges. An Interaction Network (P. W. Battaglia et al.,
"Interaction networks for learning about objects, relations and physics", NeurIPS 2016,
arXiv:1612.00222) alternates two learned functions: a *relational* model that updates each
edge from the two hits it joins, and an *object* model that updates each hit from the edges
that meet there. After a few such rounds a final MLP scores each edge: the logit that both its
hits belong to the same particle. This is the edge classifier of Exa.TrkX (G. DeZoort et al.,
"Charged particle tracking via edge-classifying interaction networks", Comput. Softw. Big Sci.
5 (2021) 26, arXiv:2103.16701), written for PyTorch Geometric.

:class:`InteractionNetwork`:

1. encoders: node features ``(N, F_n)`` → ``(N, H)``, edge features ``(E, F_e)`` → ``(E, H)``
   (small MLPs);
2. ``n_iterations`` × :class:`InteractionLayer`, each with its own weights:
   edge state e ← e + R([h_src, h_dst, e]); node state h ← h + O([h, Σ_in e, Σ_out e]), with
   the edge states summed separately over the edges arriving at a node (from the inner
   station) and leaving it (to the outer one);
3. edge head: logit = MLP([h_src, h_dst, e]) ``(E,)``.

The MLPs use ``LayerNorm`` (per row, so results do not depend on the batch, and empty graphs
work); the inputs should be scaled to order one beforehand (e.g. r / 1000 mm, φ / π,
z / 1000 mm as in Exa.TrkX).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

__all__ = ["InteractionLayer", "InteractionNetwork"]


def _mlp(in_features: int, hidden: int, out_features: int, layer_norm: bool) -> nn.Sequential:
    """Linear → [LayerNorm] → ReLU → Linear: ``(…, in_features)`` → ``(…, out_features)``."""
    layers: list[nn.Module] = [nn.Linear(in_features, hidden)]
    if layer_norm:
        layers.append(nn.LayerNorm(hidden))
    layers += [nn.ReLU(), nn.Linear(hidden, out_features)]
    return nn.Sequential(*layers)


class InteractionLayer(MessagePassing):
    """One round of an Interaction Network: relational model on edges, object model on nodes.

    Args:
        hidden: width H of the node and edge states (and of the MLPs' hidden layer).
        layer_norm: ``LayerNorm`` in the MLPs' hidden layer.

    Shapes:
        - x: ``(N, H)`` node states; edge_index: ``(2, E)`` int64, row 0 the source (inner
          hit), row 1 the target (outer hit); e: ``(E, H)`` edge states.
        - output: ``(x', e')`` of the same shapes (residual updates).
    """

    def __init__(self, hidden: int, layer_norm: bool = True) -> None:
        super().__init__(aggr="add", flow="source_to_target")
        self.hidden = hidden
        #: Relational model R: ``[h_src, h_dst, e]`` ``(E, 3H)`` → ``(E, H)``.
        self.relational = _mlp(3 * hidden, hidden, hidden, layer_norm)
        #: Object model O: ``[h, Σ_in e, Σ_out e]`` ``(N, 3H)`` → ``(N, H)``.
        self.object = _mlp(3 * hidden, hidden, hidden, layer_norm)

    def forward(self, x: Tensor, edge_index: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        """Updated ``(node states (N, H), edge states (E, H))``."""
        n = x.shape[0]
        e = self.edge_updater(edge_index, x=x, e=e, size=(n, n))
        incoming = self.propagate(edge_index, e=e, size=(n, n))  # Σ over edges into a node
        outgoing = self.propagate(edge_index.flip(0), e=e, size=(n, n))  # … out of a node
        x = x + self.object(torch.cat([x, incoming, outgoing], dim=1))
        return x, e

    def edge_update(self, x_i: Tensor, x_j: Tensor, e: Tensor) -> Tensor:
        """e + R([x_src, x_dst, e]) (``x_j`` the source, ``x_i`` the target of each edge)."""
        return e + self.relational(torch.cat([x_j, x_i, e], dim=1))

    def message(self, e: Tensor) -> Tensor:
        """The message along an edge is its state."""
        return e

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(hidden={self.hidden})"


class InteractionNetwork(nn.Module):
    r"""Edge classifier: encoders → ``n_iterations`` × :class:`InteractionLayer` → edge MLP.

    Args:
        node_features: features per hit :math:`F_n` (``data.x``, e.g. r, φ, z scaled).
        edge_features: features per edge :math:`F_e` (``data.edge_attr``, e.g. Δr, Δφ, Δz,
            ΔR = √(Δη² + Δφ²)).
        hidden: width H of the node and edge states (Exa.TrkX's IN: 40 for its small model).
        n_iterations: rounds of message passing (each with its own weights).
        layer_norm: ``LayerNorm`` in the hidden layer of every MLP.

    Shapes:
        ``data`` is a :class:`torch_geometric.data.Data` or ``Batch`` with
        - x: ``(N, F_n)`` float
        - edge_index: ``(2, E)`` int64, source → target (inner → outer station), node
          indices in ``[0, N)``
        - edge_attr: ``(E, F_e)`` float (may be absent when ``E = 0``)
        - output: ``(E,)`` edge logits, in the order of ``edge_index`` (empty for ``E = 0``).

    The outputs are equivariant under a relabelling of the nodes and a reordering of the
    edges; graphs of a batch do not interact (edges never join two graphs).
    """

    def __init__(
        self,
        node_features: int = 3,
        edge_features: int = 4,
        hidden: int = 40,
        n_iterations: int = 3,
        layer_norm: bool = True,
    ) -> None:
        super().__init__()
        if min(node_features, edge_features, hidden) < 1 or n_iterations < 0:
            raise ValueError(
                f"node_features={node_features}, edge_features={edge_features}, "
                f"hidden={hidden}: expected positive integers; n_iterations={n_iterations}: "
                "expected ≥ 0"
            )
        self.node_features, self.edge_features = node_features, edge_features
        self.hidden, self.n_iterations = hidden, n_iterations
        self.node_encoder = _mlp(node_features, hidden, hidden, layer_norm)
        self.edge_encoder = _mlp(edge_features, hidden, hidden, layer_norm)
        self.layers = nn.ModuleList(
            InteractionLayer(hidden, layer_norm) for _ in range(n_iterations)
        )
        self.edge_head = _mlp(3 * hidden, hidden, 1, layer_norm)

    def _inputs(self, data: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        x = getattr(data, "x", None)
        if x is None or x.dim() != 2 or x.shape[1] != self.node_features:
            got = None if x is None else tuple(x.shape)
            raise ValueError(f"data.x: expected shape (N, {self.node_features}), got {got}")
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None or edge_index.dim() != 2 or edge_index.shape[0] != 2:
            got = None if edge_index is None else tuple(edge_index.shape)
            raise ValueError(f"data.edge_index: expected shape (2, E), got {got}")
        if edge_index.dtype != torch.long:
            raise ValueError(
                f"data.edge_index: expected int64 node indices, got {edge_index.dtype}"
            )
        n, e = x.shape[0], edge_index.shape[1]
        if e and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
            raise ValueError(
                f"data.edge_index: node indices in [{int(edge_index.min())}, "
                f"{int(edge_index.max())}], expected [0, {n}) (N = len(data.x))"
            )
        attr = getattr(data, "edge_attr", None)
        if (attr is None and e) or (
            attr is not None and (attr.dim() != 2 or attr.shape != (e, self.edge_features))
        ):
            got = None if attr is None else tuple(attr.shape)
            raise ValueError(
                f"data.edge_attr: expected shape ({e}, {self.edge_features}), got {got}"
            )
        return x, edge_index, attr

    def forward(self, data: Any) -> Tensor:
        """Edge logits ``(E,)`` for a graph or batch of graphs (see the class docstring)."""
        x, edge_index, attr = self._inputs(data)
        dtype = next(self.parameters()).dtype
        if attr is None:  # only for a graph without edges
            attr = x.new_zeros(0, self.edge_features)
        h = self.node_encoder(x.to(dtype))
        e = self.edge_encoder(attr.to(dtype))
        for layer in self.layers:
            h, e = layer(h, edge_index, e)
        src, dst = edge_index
        return self.edge_head(torch.cat([h[src], h[dst], e], dim=1)).squeeze(-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(node_features={self.node_features}, "
            f"edge_features={self.edge_features}, hidden={self.hidden}, "
            f"n_iterations={self.n_iterations})"
        )
