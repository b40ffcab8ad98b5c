"""TrackNETv2: a recurrent network that predicts, hit by hit, where a track goes next.

After Ariadne's TrackNETv2 (P. Goncharov, G. Ososkov, D. Baranov, "Particle track
reconstruction with deep neural networks", AIP Conf. Proc. 2163 (2019) 040003; "Ariadne:
PyTorch library for particle track reconstruction using deep learning", AIP Conf. Proc. 2377
(2021) 040004; code: github.com/t3hseus/ariadne, ``ariadne/tracknet_v2/model.py``).

A track candidate is the ordered list of its hits, one per station, innermost first. After
reading hits ``0 … t`` the network predicts an **ellipse** on station ``t + 1``: its centre
(two coordinates of that station, e.g. the normalised φ and z of a barrel layer) and its two
semi-axes (along those coordinates, axis-aligned). A track finder prolongs the candidate with
the hits that fall inside the ellipse, so small ellipses that still contain the true next hit
mean few fake continuations.

* :class:`TrackNETv2` — a GRU (as in Ariadne; ``cell="lstm"`` for an LSTM) over packed
  sequences and two linear heads: the centre, and the semi-axes through softplus.
* :func:`tracknet_loss` — Ariadne's ``TrackNetLoss`` (``ariadne/tracknet_v2/loss.py``):
  α · (normalised distance of the true hit from the centre, ``PointInEllipseLoss``)
  + (1 − α) · (product of the semi-axes, ``EllipseSquareLoss``), averaged over the steps
  that have a next hit.
* :func:`in_ellipse`, :func:`ellipse_area` — the metrics: hit efficiency (fraction of true
  next hits inside their ellipse) at a mean ellipse area (π · a₀ · a₁).
* :func:`next_hit_targets` — the targets ``(B, T, 3)`` of a batch of padded tracks.

Units: the centre and semi-axes are in the units of the target coordinates. The two loss
terms do not share units (the distance term is dimensionless, the area term is in
coordinate²), so the scale of the coordinates sets the trade-off: for Gaussian scatter σ about
the centre and equal semi-axes a, the expected loss α·σ√(π/2)/a + (1 − α)·a² is smallest at
a = (α σ √(π/2) / (2 (1 − α)))^(1/3), which grows only as σ^(1/3). Scale the coordinates so that
the scatter of the next hit about its prediction is of order 0.1–1 (not 10⁻³) for the ellipses
to shrink to a few σ.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = [
    "TrackNETv2",
    "ellipse_area",
    "in_ellipse",
    "next_hit_targets",
    "tracknet_loss",
]

#: Recurrent cell name → module class.
CELLS: dict[str, type[nn.GRU | nn.LSTM]] = {"gru": nn.GRU, "lstm": nn.LSTM}

#: Added inside the square root of the normalised distance so that its gradient stays finite
#: when a target sits exactly on the centre (changes the distance by at most 1e-6).
_DIST_EPS = 1e-12


class TrackNETv2(nn.Module):
    r"""GRU over the hits of track candidates → next-hit ellipse after every hit.

    Args:
        input_features: features per hit :math:`F` (e.g. normalised φ, z, r of the hit).
        hidden: hidden size of the recurrent cell (Ariadne: 32).
        num_layers: stacked recurrent layers (Ariadne: 2).
        dropout: dropout between the recurrent layers (ignored for one layer).
        cell: ``"gru"`` (Ariadne's choice) or ``"lstm"``.
        min_axis: added to the softplus of the semi-axes, so that they stay ``≥ min_axis``
            (in units of ``axis_scale``).
        axis_scale: the unit of the semi-axes in the centre's coordinates, one number or one
            per axis: semi-axes = ``axis_scale · (softplus(·) + min_axis)``. With normalised
            coordinates whose hits scatter by ~10⁻³ about the prediction, an ``axis_scale`` of
            one millimetre (in normalised units) starts the ellipses at the right size instead
            of a thousand times too large.
        centre_from: two input columns (the hit's own coordinates in the centre's frame, e.g.
            ``(1, 2)`` for φ and z of ``(r, φ, z)`` inputs): the centre is predicted as an offset
            from the current hit, which the network then learns to the precision of the offset
            (a curvature's bend) instead of the absolute position. None: absolute centre.

    Shapes:
        - x: ``(B, T, F)`` hits of B candidates, station by station, zero-padded after each
          candidate's last hit (the padding may hold anything, NaN included: it never enters
          the recurrence).
        - lengths: ``(B,)`` integer number of hits of each candidate, ``1 ≤ lengths ≤ T``;
          a CPU tensor, a list, or a tensor on the device of ``x`` (copied to the CPU, as
          ``pack_padded_sequence`` requires).
        - output: ``(B, T, 4)``: ``[..., :2]`` the centre of the ellipse on the station after
          hit ``t``, ``[..., 2:]`` its semi-axes (> 0). Steps ``t ≥ lengths`` hold finite
          values of no meaning.
    """

    def __init__(
        self,
        input_features: int = 3,
        hidden: int = 32,
        num_layers: int = 2,
        dropout: float = 0.0,
        cell: str = "gru",
        min_axis: float = 1e-4,
        axis_scale: float | tuple[float, float] = 1.0,
        centre_from: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if input_features < 1 or hidden < 1 or num_layers < 1:
            raise ValueError(
                f"input_features={input_features}, hidden={hidden}, num_layers={num_layers}: "
                "expected positive integers"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout}: expected a probability in [0, 1)")
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r}: expected one of {sorted(CELLS)}")
        if not min_axis > 0:
            raise ValueError(f"min_axis={min_axis}: expected a positive number")
        self.input_features, self.hidden, self.cell = input_features, hidden, cell
        self.min_axis = float(min_axis)
        scale = torch.as_tensor(axis_scale, dtype=torch.float32).reshape(-1).expand(2).clone()
        if not bool((scale > 0).all()):
            raise ValueError(f"axis_scale={axis_scale}: expected positive unit(s)")
        self.register_buffer("axis_scale", scale)
        if centre_from is not None and (
            len(centre_from) != 2 or not all(0 <= int(c) < input_features for c in centre_from)
        ):
            raise ValueError(
                f"centre_from={centre_from!r}: expected two input columns in [0, {input_features})"
            )
        self.centre_from = None if centre_from is None else tuple(int(c) for c in centre_from)
        self.rnn = CELLS[cell](
            input_features,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        #: Head for the centre of the ellipse, ``(…, hidden)`` → ``(…, 2)``.
        self.centre = nn.Linear(hidden, 2)
        #: Head for the semi-axes before the softplus, ``(…, hidden)`` → ``(…, 2)``.
        self.axes = nn.Linear(hidden, 2)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Ellipses ``(B, T, 4)`` = centre ⊕ semi-axes after every hit (see the class docstring)."""
        if x.dim() != 3 or x.shape[2] != self.input_features:
            raise ValueError(
                f"x: expected shape (B, T, {self.input_features}), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"x: expected a floating-point tensor, got {x.dtype}")
        lengths = torch.as_tensor(lengths).to("cpu", torch.int64)
        b, t = x.shape[0], x.shape[1]
        if lengths.shape != (b,):
            raise ValueError(f"lengths: expected shape ({b},), got {tuple(lengths.shape)}")
        if b == 0:
            return x.new_zeros(0, t, 4)
        if int(lengths.min()) < 1 or int(lengths.max()) > t:
            raise ValueError(
                f"lengths: expected values in [1, {t}] (x.shape[1]), got "
                f"[{int(lengths.min())}, {int(lengths.max())}]"
            )
        x = x.to(self.centre.weight.dtype)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        seq, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(seq, batch_first=True, total_length=t)  # zeros at padding
        unit: Tensor = self.axis_scale  # type: ignore[assignment]  # a registered buffer
        axes = (nn.functional.softplus(self.axes(h)) + self.min_axis) * unit.to(h.dtype)
        centre = self.centre(h)
        if self.centre_from is not None:
            centre = centre + x[..., list(self.centre_from)].nan_to_num(0.0)
        return torch.cat([centre, axes], dim=-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.input_features}, hidden={self.hidden}, "
            f"num_layers={self.rnn.num_layers}, cell={self.cell!r}, min_axis={self.min_axis})"
        )


def _check_ellipses(out: Tensor, name: str = "out") -> None:
    if out.dim() < 1 or out.shape[-1] != 4:
        raise ValueError(
            f"{name}: expected ellipses of shape (..., 4) = centre ⊕ semi-axes, "
            f"got {tuple(out.shape)}"
        )


def _normalised_sq_distance(centre_axes: Tensor, point: Tensor) -> Tensor:
    """``((p₀ − c₀)/a₀)² + ((p₁ − c₁)/a₁)²`` for ellipses ``(..., 4)`` and points ``(..., 2)``."""
    u = (point - centre_axes[..., :2]) / centre_axes[..., 2:]
    return (u * u).sum(-1)


def tracknet_loss(
    out: Tensor,
    y: Tensor,
    w: Tensor | None = None,
    *,
    alpha: float = 0.9,
    area_scale: float = 1.0,
) -> Tensor:
    r"""TrackNETv2 loss, averaged over the steps that have a next hit.

    For an ellipse (centre :math:`c`, semi-axes :math:`a`) and the true next hit :math:`p`,
    per step

    .. math::

        L = \alpha \sqrt{\left(\frac{p_0 - c_0}{a_0}\right)^2
            + \left(\frac{p_1 - c_1}{a_1}\right)^2} + (1 - \alpha)\, s\, a_0 a_1,

    Ariadne's ``TrackNetLoss`` = ``PointInEllipseLoss`` + ``EllipseSquareLoss`` (π left out),
    ``ariadne/tracknet_v2/loss.py`` in github.com/t3hseus/ariadne. The first term pulls the
    centre onto the hit and widens the ellipse, the second shrinks it. The mean runs over the
    valid steps only (Ariadne's masked mean); invalid steps (and whatever their targets hold)
    do not reach the value or the gradient.

    Usable as ``hepnb.train.fit(..., loss=functools.partial(tracknet_loss, alpha=0.9))``.

    Args:
        out: model output ``(B, T, 4)`` (centre ⊕ semi-axes > 0).
        y: targets ``(B, T, 3)``: ``[..., :2]`` the coordinates of the true next hit (units of
            the centre), ``[..., 2]`` 1 where step ``t`` has a next hit, else 0 (see
            :func:`next_hit_targets`).
        w: optional weights, per candidate ``(B,)`` or per step ``(B, T)``, ≥ 0: a weighted
            mean over the valid steps.
        alpha: weight α ∈ [0, 1] of the distance term (Ariadne: 0.9).
        area_scale: ``s``, the area of one unit² of the coordinates in physical units (e.g.
            mm² per normalised unit²; Ariadne: 1). The distance term has no unit, the area term
            has: the ellipse that minimises the loss has semi-axes ∝ (α σ / ((1 − α) s))^(1/3)
            for a scatter σ of the hits about the centre, so the same α gives tight ellipses
            only when the area is counted in units comparable to the scatter — in mm for hits
            of sub-millimetre resolution, whatever the coordinates' normalisation.

    Returns:
        Scalar loss. With no valid step in the batch: 0 (connected to ``out``, zero gradient).
    """
    _check_ellipses(out)
    if out.dim() != 3:
        raise ValueError(f"out: expected shape (B, T, 4), got {tuple(out.shape)}")
    if y.shape != (*out.shape[:2], 3):
        raise ValueError(
            f"y: expected shape {(*out.shape[:2], 3)} = next-hit coordinates ⊕ mask, "
            f"got {tuple(y.shape)}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha}: expected a weight in [0, 1]")
    flag = y[..., 2]
    if not bool(((flag == 0) | (flag == 1)).all()):
        raise ValueError("y[..., 2]: expected a 0/1 mask of the steps that have a next hit")
    valid = flag == 1
    if not bool(valid.any()):
        return (out * 0.0).sum()
    ell = out[valid]  # (V, 4)
    target = y[..., :2][valid].to(ell.dtype)  # (V, 2)
    dist = torch.sqrt(_normalised_sq_distance(ell, target) + _DIST_EPS)
    if not area_scale > 0:
        raise ValueError(f"area_scale={area_scale}: expected a positive area per unit²")
    area = area_scale * ell[:, 2] * ell[:, 3]
    per_step = alpha * dist + (1.0 - alpha) * area
    if w is None:
        return per_step.mean()
    if w.shape == out.shape[:1]:
        w = w[:, None].expand(out.shape[:2])
    elif w.shape != out.shape[:2]:
        raise ValueError(
            f"w: expected weights per candidate {tuple(out.shape[:1])} or per step "
            f"{tuple(out.shape[:2])}, got {tuple(w.shape)}"
        )
    wv = w[valid].to(per_step.dtype)
    if bool((wv < 0).any()):
        raise ValueError("w: expected non-negative weights")
    return (per_step * wv).sum() / wv.sum().clamp_min(1e-12)


def in_ellipse(out: Tensor, target: Tensor) -> Tensor:
    """Whether each target point lies inside (or on) its predicted ellipse.

    ``((p₀ − c₀)/a₀)² + ((p₁ − c₁)/a₁)² ≤ 1``. (Ariadne's ``point_in_ellipse`` in
    ``ariadne/tracknet_v2/metrics.py`` divides the unsquared distance by a²; this is the
    ellipse equation proper.)

    Args:
        out: ellipses ``(..., 4)``, e.g. ``(B, T, 4)`` from :class:`TrackNETv2`.
        target: points ``(..., 2)``, or ``(..., 3)`` targets of :func:`tracknet_loss` (only
            ``[..., :2]`` is used: mask the steps without a next hit yourself).

    Returns:
        Boolean tensor ``out.shape[:-1]``, e.g. ``(B, T)``. The hit efficiency is
        ``in_ellipse(out, y)[y[..., 2] == 1].float().mean()``.
    """
    _check_ellipses(out)
    if target.shape[:-1] != out.shape[:-1] or target.shape[-1] not in (2, 3):
        raise ValueError(
            f"target: expected shape {(*out.shape[:-1], 2)} (or with a mask column, 3), "
            f"got {tuple(target.shape)}"
        )
    return _normalised_sq_distance(out, target[..., :2].to(out.dtype)) <= 1.0


def ellipse_area(out: Tensor) -> Tensor:
    """Area π · a₀ · a₁ of each predicted ellipse (units of the centre coordinates squared).

    The true area, as Ariadne's ``ellipse_area`` metric (``ariadne/tracknet_v2/metrics.py``);
    the loss's area term leaves out the π.

    Args:
        out: ellipses ``(..., 4)``.

    Returns:
        ``out.shape[:-1]``, e.g. ``(B, T)``.
    """
    _check_ellipses(out)
    return math.pi * out[..., 2] * out[..., 3]


def next_hit_targets(x: Tensor, lengths: Tensor, columns: tuple[int, int] = (0, 1)) -> Tensor:
    """Targets of :func:`tracknet_loss` for padded hit sequences: each step's next hit.

    Args:
        x: hits ``(B, T, F)`` as given to :class:`TrackNETv2` (padding may hold anything).
        lengths: ``(B,)`` number of real hits per candidate, ``0 ≤ lengths ≤ T``.
        columns: the two feature columns of ``x`` that the ellipse centre predicts.

    Returns:
        ``(B, T, 3)``: ``[:, t, :2] = x[:, t + 1, columns]`` and ``[:, t, 2] = 1`` where
        ``t + 1 < lengths``; 0 everywhere else (last real hit, padding).
    """
    if x.dim() != 3:
        raise ValueError(f"x: expected shape (B, T, F), got {tuple(x.shape)}")
    b, t, f = x.shape
    cols = [int(c) for c in columns]
    if len(cols) != 2 or not all(0 <= c < f for c in cols):
        raise ValueError(f"columns={columns!r}: expected two feature columns in [0, {f})")
    lengths = torch.as_tensor(lengths, device=x.device).long()
    if lengths.shape != (b,):
        raise ValueError(f"lengths: expected shape ({b},), got {tuple(lengths.shape)}")
    if b and (int(lengths.min()) < 0 or int(lengths.max()) > t):
        raise ValueError(f"lengths: expected values in [0, {t}] (x.shape[1])")
    steps = torch.arange(t, device=x.device)
    valid = steps[None, :] + 1 < lengths[:, None]  # (B, T)
    nxt = torch.zeros(b, t, 2, dtype=x.dtype, device=x.device)
    nxt[:, : max(t - 1, 0)] = x[:, 1:, cols]
    nxt = torch.where(valid[..., None], nxt, torch.zeros_like(nxt))
    return torch.cat([nxt, valid[..., None].to(x.dtype)], dim=-1)
