"""Multilayer perceptrons for per-object classification (ghost tracks and the like).

Two networks, as in the original ghost-track project:

* ``network=0`` — a plain MLP; its inputs must be scaled beforehand (min-max to [0, 1]),
  and :class:`MinMaxScaler` folds that scaling into the exported model;
* ``network=1`` — the same MLP behind a ``BatchNorm1d`` on the raw features, which learns the
  scaling itself.

Models return logits ``(B,)``; :class:`WithProbabilities` turns any such model into one that
returns probabilities (what is exported to ONNX).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "MLP", "MinMaxScaler", "SignedLog", "WithProbabilities", "ghost_mlp"]

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
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` (or ``(B, out_features)``) for features ``x`` of shape ``(B, F)``."""
        out = self.head(self.body(self.norm(x)))
        return out.squeeze(-1) if self.out_features == 1 else out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_features}, hidden={list(self.widths)}, "
            f"activation={self.activation!r}, batch_norm={self.batch_norm})"
        )


class MinMaxScaler(nn.Module):
    """``(x − offset) / scale`` with fixed buffers, so a min-max normalisation fitted on the
    training set travels inside the model (and its ONNX export).

    Shapes: ``(B, F)`` → ``(B, F)``.
    """

    def __init__(self, offset: Sequence[float] | np.ndarray, scale: Sequence[float] | np.ndarray):
        super().__init__()
        offset = torch.as_tensor(np.asarray(offset, dtype=np.float32))
        scale = torch.as_tensor(np.asarray(scale, dtype=np.float32))
        if offset.shape != scale.shape or offset.ndim != 1:
            raise ValueError(
                f"offset {tuple(offset.shape)} and scale {tuple(scale.shape)} must "
                "be 1D of the same length"
            )
        if not torch.all(scale > 0):
            raise ValueError("scale must be positive for every feature")
        self.register_buffer("offset", offset)
        self.register_buffer("scale", scale)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.offset) / self.scale


class SignedLog(nn.Module):
    """Compress long tails: ``sign(x)·ln(1 + |x|/s)`` per feature; features with ``s = 0``
    pass unchanged. Used before :class:`MinMaxScaler`, whose range is otherwise set by a few
    extreme values (χ² of 10⁴ when the bulk is at 30).

    Shapes: ``(B, F)`` → ``(B, F)``.
    """

    def __init__(self, scale: Sequence[float] | np.ndarray):
        super().__init__()
        scale = np.asarray(scale, dtype=np.float32)
        if scale.ndim != 1 or (scale < 0).any():
            raise ValueError("scale must be a 1D array of non-negative values")
        self.register_buffer(
            "inv_scale",
            torch.as_tensor(
                np.where(scale > 0, 1 / np.where(scale > 0, scale, 1), 0).astype(np.float32)
            ),
        )
        self.register_buffer("active", torch.as_tensor(scale > 0))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.sign(x) * torch.log1p(torch.abs(x) * self.inv_scale)
        return torch.where(self.active, y, x)


class WithProbabilities(nn.Module):
    """Wrap a binary classifier returning logits: optional input scaling, then sigmoid.

    Shapes: ``(B, F)`` → probabilities ``(B,)``.
    """

    def __init__(self, model: nn.Module, scaler: nn.Module | None = None):
        super().__init__()
        self.scaler = scaler if scaler is not None else nn.Identity()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.model(self.scaler(x)).reshape(x.shape[0]))


def ghost_mlp(network: int, in_features: int, **kwargs) -> MLP:
    """The ghost-track networks: ``0`` = MLP without normalisation, ``1`` = BatchNorm front.

    ``kwargs`` go to :class:`MLP` (``hidden``, ``n_layers``, ``activation``, ``dropout``).
    """
    if network not in (0, 1):
        raise ValueError(
            f"network={network!r}: expected 0 (no normalisation layer) or 1 (BatchNorm front)"
        )
    return MLP(in_features, batch_norm=network == 1, **kwargs)
