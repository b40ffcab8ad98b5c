"""Graph network over the hits of an event: k-nearest-neighbour graphs and EdgeConv (DGCNN).

:func:`knn_graph` builds, in plain torch (no ``torch-cluster`` or ``pyg-lib``), the graph
linking each node to its ``k`` nearest neighbours within its own graph of a batch.

:class:`EdgeConvNet` is a dynamic graph CNN (Wang et al., "Dynamic Graph CNN for Learning on
Point Clouds", ACM TOG 38 (2019) 146, arXiv:1801.07829): a stack of
:class:`torch_geometric.nn.EdgeConv` layers, each updating a node from an MLP of
:math:`[x_i, x_j - x_i]` over its neighbours :math:`j` (max aggregation). The first graph links
the hits nearest in space; with ``dynamic=True`` every later layer rebuilds it in the current
feature space. The outputs of all layers are concatenated per node and pooled per event.

Counting objects needs an extensive summary: the pooling is the **sum** over nodes (scaled by
``1 / add_scale``), which grows with the number of hits and of showers, ⊕ the **mean** and the
**max** (intensive). An event without hits still gets a row (zeros from the pooling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import (
    EdgeConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)

from hepnb.models.cnn3d import _fuse
from hepnb.models.mlp import MLP

__all__ = ["EdgeConvNet", "knn_graph"]

#: Up to this many dimensions the distances are computed exactly (no matrix-product shortcut).
EXACT_DIMS = 8


def knn_graph(
    pos: Tensor,
    k: int,
    batch: Tensor | None = None,
    num_graphs: int | None = None,
    loop: bool = False,
) -> Tensor:
    """Edges from each node's ``k`` nearest neighbours (Euclidean) within its own graph.

    Vectorised over graphs: the nodes are padded into ``(G, N_max, d)``, all distances within a
    graph computed at once (``torch.cdist``; memory ``G · N_max²``) and the ``k`` smallest kept,
    padding and (without ``loop``) the node itself masked out. A graph with fewer than ``k + 1``
    nodes links every node to all the others; a graph without nodes adds nothing. Ties are
    broken by ``torch.topk``. Up to :data:`EXACT_DIMS` dimensions distances are computed
    exactly; beyond, with the faster matrix-product form (rounding may swap near-ties).

    Args:
        pos: node coordinates ``(N, d)`` (positions, or features for a dynamic graph).
        k: number of neighbours per node.
        batch: graph index ``(N,)`` of each node (any order; None: one graph).
        num_graphs: number of graphs G (default ``batch.max() + 1``).
        loop: count each node as its own neighbour (at distance 0).

    Returns:
        ``edge_index`` ``(2, E)`` int64 in the PyTorch Geometric convention
        (``flow="source_to_target"``): row 0 the neighbour ``j``, row 1 the centre ``i``, so
        messages flow from the ``k`` neighbours into each node. ``E ≤ N · k``.
    """
    if pos.dim() != 2:
        raise ValueError(f"pos: expected shape (N, d), got {tuple(pos.shape)}")
    if k < 0:
        raise ValueError(f"k={k}: expected a non-negative integer")
    n, dev = pos.shape[0], pos.device
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=dev)
    if batch.shape != (n,):
        raise ValueError(f"batch: expected shape ({n},), got {tuple(batch.shape)}")
    empty = torch.empty(2, 0, dtype=torch.long, device=dev)
    if n == 0 or k == 0:
        return empty
    batch = batch.long()
    g = int(batch.max()) + 1 if num_graphs is None else int(num_graphs)
    if int(batch.min()) < 0 or int(batch.max()) >= g:
        raise ValueError(f"batch: expected graph indices in [0, {g}) (num_graphs={num_graphs})")
    order = torch.argsort(batch, stable=True)  # nodes grouped by graph
    b = batch[order]
    counts = torch.bincount(b, minlength=g)
    ptr = torch.cumsum(counts, 0) - counts  # first node of each graph (in `order`)
    local = torch.arange(n, device=dev) - ptr[b]  # position of each node within its graph
    n_max = int(counts.max())
    padded = pos.new_zeros(g, n_max, pos.shape[1])
    padded[b, local] = pos[order].detach()
    exact = pos.shape[1] <= EXACT_DIMS
    mode = "donot_use_mm_for_euclid_dist" if exact else "use_mm_for_euclid_dist"
    dist = torch.cdist(padded, padded, compute_mode=mode)
    slots = torch.arange(n_max, device=dev)
    dist.masked_fill_((slots[None, :] >= counts[:, None])[:, None, :], torch.inf)
    if not loop:
        dist.diagonal(dim1=1, dim2=2).fill_(torch.inf)
    kk = min(k, n_max if loop else n_max - 1)
    if kk <= 0:
        return empty
    d_k, j_k = dist.topk(kk, dim=2, largest=False)  # (G, N_max, kk)
    d_k, j_k = d_k[b, local], j_k[b, local]  # (N, kk), nodes in `order`
    ok = torch.isfinite(d_k)  # False for padding slots (graphs with fewer than k + 1 nodes)
    source = order[ptr[b][:, None] + j_k.masked_fill(~ok, 0)]
    target = order[:, None].expand(-1, kk)
    return torch.stack([source[ok], target[ok]])


def _edge_mlp(in_features: int, hidden: int, n_layers: int) -> nn.Sequential:
    """MLP on ``[x_i, x_j − x_i]``: ``(E, 2F)`` → ``(E, hidden)``, ``n_layers`` × Linear → ReLU."""
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [nn.Linear(2 * in_features if i == 0 else hidden, hidden), nn.ReLU()]
    return nn.Sequential(*layers)


class EdgeConvNet(nn.Module):
    r"""Dynamic EdgeConv network: ``BatchNorm`` → L × EdgeConv → concat → sum ⊕ mean ⊕ max
    pooling :math:`[\oplus` event features] → MLP.

    Args:
        in_features: features per node :math:`F` (``data.x``).
        hidden: width of each EdgeConv MLP and of the head's hidden layer.
        k: neighbours per node.
        layers: number of EdgeConv layers L.
        dynamic: rebuild the graph in feature space before every layer after the first
            (DGCNN); False keeps the spatial graph throughout.
        extra_features: number of event-level features :math:`F_e` (``data.extra``)
            concatenated after pooling (0: none; ``data.extra`` is then ignored).
        n_classes: number of output logits.
        pos_features: columns of ``data.x`` to build the first graph on; None uses
            ``data.pos`` (``(N, d)``, e.g. x, y, z in mm; not scaled — k-NN only ranks).
        dropout: dropout probability in the head.
        add_scale: the summed node features are divided by this (a typical number of nodes),
            to keep them of order one.
        mlp_layers: Linear → ReLU layers in each EdgeConv MLP (1 as in the DGCNN paper; the
            MLP runs once per edge, N·k times, and dominates the cost).

    Shapes:
        ``data`` is a :class:`torch_geometric.data.Batch` with
        - x: ``(N, F)`` node features; pos: ``(N, d)`` (unless ``pos_features``)
        - batch: ``(N,)`` graph index of each node (absent for a single graph)
        - extra: ``(G, F_e)`` (store it as ``(1, F_e)`` in each ``Data``) when
          ``extra_features > 0``
        - output: ``(G, n_classes)`` logits, G = ``data.num_graphs`` (graphs without nodes
          included).

    The node features pass a ``BatchNorm1d`` first, so they need no scaling beforehand, and
    the head starts with one over the pooled vector and the event features.
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 64,
        k: int = 8,
        layers: int = 3,
        dynamic: bool = True,
        extra_features: int = 0,
        n_classes: int = 4,
        pos_features: Sequence[int] | None = None,
        dropout: float = 0.1,
        add_scale: float = 100.0,
        mlp_layers: int = 1,
    ) -> None:
        super().__init__()
        if min(in_features, hidden, k, layers, mlp_layers) < 1:
            raise ValueError(
                f"in_features={in_features}, hidden={hidden}, k={k}, layers={layers}, "
                f"mlp_layers={mlp_layers}: "
                "expected positive integers"
            )
        if extra_features < 0:
            raise ValueError(f"extra_features={extra_features}: expected ≥ 0")
        if add_scale <= 0:
            raise ValueError(f"add_scale={add_scale}: expected a positive number")
        self.pos_features = None if pos_features is None else [int(i) for i in pos_features]
        if self.pos_features is not None and not all(
            0 <= i < in_features for i in self.pos_features
        ):
            raise ValueError(
                f"pos_features={pos_features!r}: expected columns of x in [0, {in_features})"
            )
        self.in_features, self.hidden, self.k, self.dynamic = in_features, hidden, k, dynamic
        self.extra_features, self.n_classes, self.add_scale = extra_features, n_classes, add_scale
        self.norm = nn.BatchNorm1d(in_features)
        self.convs = nn.ModuleList(
            EdgeConv(_edge_mlp(in_features if i == 0 else hidden, hidden, mlp_layers), aggr="max")
            for i in range(layers)
        )
        self.head = MLP(
            3 * hidden * layers + extra_features,
            hidden=hidden,
            n_layers=1,
            batch_norm=True,
            dropout=dropout,
            out_features=n_classes,
        )

    def pool(self, data: Any) -> Tensor:
        """Pooled event vector ``(G, 3·hidden·layers)``: sum/add_scale ⊕ mean ⊕ max."""
        x = data.x
        if x is None or x.dim() != 2 or x.shape[1] != self.in_features:
            got = None if x is None else tuple(x.shape)
            raise ValueError(f"data.x: expected shape (N, {self.in_features}), got {got}")
        n, g = x.shape[0], int(getattr(data, "num_graphs", 1))
        batch = data.batch if getattr(data, "batch", None) is not None else x.new_zeros(n).long()
        if self.pos_features is not None:
            pos = x[:, self.pos_features]
        elif getattr(data, "pos", None) is not None and len(data.pos) == n:
            pos = data.pos
        else:
            raise ValueError("data.pos: expected (N, d) node positions (or set pos_features)")
        h = self.norm(x)
        edge_index = knn_graph(pos, self.k, batch, g)
        outs = []
        for i, conv in enumerate(self.convs):
            if i > 0 and self.dynamic:
                edge_index = knn_graph(h, self.k, batch, g)
            h = conv(h, edge_index)
            outs.append(h)
        h = torch.cat(outs, dim=1)
        return torch.cat(
            [
                global_add_pool(h, batch, size=g) / self.add_scale,
                global_mean_pool(h, batch, size=g),
                global_max_pool(h, batch, size=g),
            ],
            dim=1,
        )

    def forward(self, data: Any) -> Tensor:
        """Logits ``(G, n_classes)`` for a batch of graphs (see the class docstring)."""
        extra = getattr(data, "extra", None) if self.extra_features else None
        return self.head(_fuse(self.pool(data), extra, self.extra_features))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_features}, hidden={self.hidden}, k={self.k}, "
            f"layers={len(self.convs)}, dynamic={self.dynamic}, "
            f"extra_features={self.extra_features}, n_classes={self.n_classes})"
        )
