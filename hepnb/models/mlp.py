"""Multilayer perceptrons for per-object classification (one track, one jet... at a time).

:class:`MLP` is a plain feed-forward network, optionally behind a ``BatchNorm1d`` on its
inputs (``batch_norm=True``), which learns to standardise them itself. Its inputs are usually
scaled beforehand with a :class:`hepnb.data.Scaler`, whose :meth:`~hepnb.data.Scaler.module`
folds that scaling into the exported model.

Models return logits ``(B,)``; :class:`WithProbabilities` turns any such model, with an
optional input scaling module in front, into one that returns probabilities (what is exported
to ONNX).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "MLP", "WithProbabilities"]

#: Activation name → module class.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class MLP(nn.Module):
    r"""Feed-forward classifier :math:`[\mathrm{BN}] \to (\mathrm{Linear}\to\sigma)^L \to
    \mathrm{Linear}`.

    Args:
        in_features: number of input features F.
        hidden: width of each hidden layer, or a sequence of widths (one per layer).
        n_layers: number of hidden layers when ``hidden`` is an int.
        activation: a name from :data:`ACTIVATIONS`.
        batch_norm: put a ``BatchNorm1d(F)`` in front (learns the input scaling).
        dropout: dropout probability after each hidden activation.
        out_features: number of outputs; 1 gives logits of shape ``(B,)``.

    Shapes:
        input ``(B, F)`` → output ``(B,)`` (or ``(B, out_features)`` if > 1).
    """

    def __init__(
        self,
        in_features: int,
        hidden: int | Sequence[int] = 64,
        n_layers: int = 2,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        out_features: int = 1,
    ):
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features={in_features}: expected a positive integer")
        widths = [hidden] * n_layers if isinstance(hidden, int) else list(hidden)
        if not widths or min(widths) < 1:
            raise ValueError(f"hidden={hidden!r}, n_layers={n_layers}: need ≥ 1 positive width")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout}: expected a probability in [0, 1)")
        self.in_features, self.out_features = in_features, out_features
        self.activation, self.batch_norm = activation, batch_norm
        self.widths = tuple(int(w) for w in widths)
        self.norm = nn.BatchNorm1d(in_features) if batch_norm else nn.Identity()
        layers: list[nn.Module] = []
        prev = in_features
        for w in self.widths:
            layers += [nn.Linear(prev, w), _activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, out_features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all layers (PyTorch defaults)."""
        for m in self.modules():
            reset = getattr(m, "reset_parameters", None)
            if m is not self and callable(reset):
                reset()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` (or ``(B, out_features)``) for features ``x`` of shape ``(B, F)``."""
        out = self.head(self.body(self.norm(x)))
        return out.squeeze(-1) if self.out_features == 1 else out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_features}, hidden={list(self.widths)}, "
            f"activation={self.activation!r}, batch_norm={self.batch_norm})"
        )


class WithProbabilities(nn.Module):
    """Wrap a binary classifier returning logits: optional input scaling (e.g.
    :class:`hepnb.data.ScalerModule`), then sigmoid.

    Shapes: ``(B, F)`` → probabilities ``(B,)``.
    """

    def __init__(self, model: nn.Module, scaler: nn.Module | None = None):
        super().__init__()
        self.scaler = scaler if scaler is not None else nn.Identity()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.model(self.scaler(x)).reshape(x.shape[0]))
