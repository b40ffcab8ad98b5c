r"""Deep Sets over the jets of an event, with the event features on the side.

:class:`DeepSets` (Zaheer et al., "Deep Sets", NeurIPS 2017, arXiv:1703.06114) maps every jet
through the same network :math:`\phi`, pools the jets with a symmetric function and classifies
the pooled summary with a second network :math:`\rho`:

.. math::

    f(\{x_1, \dots, x_n\}, e) = \rho\Big(\tfrac{1}{J}\sum_{i} \phi(x_i) \oplus
    \tfrac{1}{n}\sum_{i} \phi(x_i) \oplus \psi(e)\Big),

the sums running over the :math:`n` real jets only (:math:`J` = ``layout.n_jets``, a constant
that keeps the sum of order one) and :math:`\psi` an MLP of the event features :math:`e`. For
jets this is the Energy Flow Network of Komiske, Metodiev and Thaler ("Energy Flow Networks:
Deep Sets for Particle Jets", JHEP 01 (2019) 121, arXiv:1810.05165), here over the jets of an
event rather than the particles of a jet and without energy weighting. The sum is extensive
(it grows with the number of jets), the mean intensive; ``pooling`` picks one or both.

The output is invariant under any permutation of the real jets and does not depend on what
the padded jets' columns hold; what it cannot see directly is a property of a *pair* of jets
(an invariant mass), which it must approximate through the pooled per-jet features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hepnb.models.jets import JetLayout, masked_mean
from hepnb.models.mlp import ACTIVATIONS, MLP

__all__ = ["POOLINGS", "DeepSets"]

#: Pooling name → the pooled summaries it concatenates.
POOLINGS: dict[str, tuple[str, ...]] = {
    "sum": ("sum",),
    "mean": ("mean",),
    "both": ("sum", "mean"),
}


class DeepSets(nn.Module):
    """Deep Sets / Energy Flow Network on the flat input ``(B, F)`` of a :class:`JetLayout`.

    Args:
        layout: the input layout (jets ``(J, Fj)``, mask, event features ``Fe``).
        hidden: width H of the per-jet latent space and of the hidden layers.
        phi_layers: hidden layers of the per-jet network φ (``Fj → H``).
        rho_layers: hidden layers of the classifier ρ on the pooled summary.
        pooling: ``"sum"``, ``"mean"`` or ``"both"`` (see :data:`POOLINGS`).
        activation: a name from :data:`hepnb.models.mlp.ACTIVATIONS`.
        dropout: dropout probability in ρ.

    Shapes:
        input ``(B, F)`` → logits ``(B,)``; per-jet latents ``(B, J, H)``; pooled summary
        ``(B, P·H + H)`` (``P`` pooled summaries, ``+ H`` when there are event features).
    """

    def __init__(
        self,
        layout: JetLayout,
        hidden: int = 64,
        phi_layers: int = 1,
        rho_layers: int = 2,
        pooling: str = "both",
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r}: expected one of {sorted(POOLINGS)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: expected one of {sorted(ACTIVATIONS)}")
        if hidden < 1 or phi_layers < 1 or rho_layers < 1:
            raise ValueError(
                f"hidden={hidden}, phi_layers={phi_layers}, rho_layers={rho_layers}: "
                f"expected positive integers"
            )
        self.layout, self.hidden, self.pooling = layout, hidden, pooling
        act = ACTIVATIONS[activation]
        self.phi = nn.Sequential(
            MLP(
                layout.n_jet_features,
                [hidden] * phi_layers,
                activation=activation,
                out_features=hidden,
            ),
            act(),
        )
        n_event = layout.n_event_features
        self.psi: nn.Module | None = (
            nn.Sequential(nn.Linear(n_event, hidden), act()) if n_event else None
        )
        width = hidden * (len(POOLINGS[pooling]) + (1 if n_event else 0))
        self.rho = MLP(width, [hidden] * rho_layers, activation=activation, dropout=dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all layers (PyTorch defaults)."""
        for m in self.modules():
            reset = getattr(m, "reset_parameters", None)
            if m is not self and callable(reset):
                reset()

    def pool(self, x: Tensor) -> Tensor:
        """The permutation-invariant summary ``(B, P·H [+ H])`` of the flat input ``(B, F)``."""
        jets, mask, event = self.layout.split(x)
        jets = torch.where(mask.unsqueeze(-1), jets, torch.zeros_like(jets))
        h = self.phi(jets) * mask.unsqueeze(-1).to(jets.dtype)  # (B, J, H), 0 for padding
        parts = []
        for kind in POOLINGS[self.pooling]:
            if kind == "sum":
                parts.append(h.sum(1) / self.layout.n_jets)
            else:
                parts.append(masked_mean(h, mask))
        if self.psi is not None:
            parts.append(self.psi(event))
        return torch.cat(parts, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` for the flat input ``x (B, F)``."""
        return self.rho(self.pool(x)).reshape(x.shape[0])

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(jets={self.layout.n_jets}×"
            f"{self.layout.n_jet_features}, event={self.layout.n_event_features}, "
            f"hidden={self.hidden}, pooling={self.pooling!r})"
        )
