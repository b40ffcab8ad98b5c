"""Recurrent classifier over the hits of an event (a variable-length, ordered list of hits).

:class:`HitRNN` reads the hits of each event (zero-padded to a common length, with the true
lengths alongside) with a GRU or LSTM, and classifies the last hidden state, optionally
concatenated with event-level features (late fusion), with an :class:`~hepnb.models.mlp.MLP`
head. The sequences are packed inside the model (``pack_padded_sequence`` with
``enforce_sorted=False``), so whatever lies beyond an event's length never enters: neither the
recurrence nor the ``BatchNorm1d`` that standardises the hit features (it sees real hits only).
By default (``mode="auto"``) a unidirectional cell then runs on the standardised hits unpacked
again (zero padding after each event's last hit, which cannot change its last state): the same
result as running on the packed sequence, several times faster on CPU.

The order of the hits is the caller's choice and matters (e.g. by layer, then by energy).
An event with no hits (length 0) skips the recurrence and is represented by a learned
"empty" state of the same size as the last hidden state, so it still gets a defined output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from hepnb.models.cnn3d import _fuse
from hepnb.models.mlp import MLP

__all__ = ["HitRNN"]

#: Recurrent cell name → module class.
CELLS: dict[str, type[nn.GRU | nn.LSTM]] = {"gru": nn.GRU, "lstm": nn.LSTM}


class HitRNN(nn.Module):
    r"""Sequence classifier: ``BatchNorm`` → GRU/LSTM over hits, last state
    :math:`[\oplus` event features] → MLP.

    Args:
        in_features: features per hit :math:`F_h` (e.g. x, y, z, energy, time...).
        hidden: hidden size of the recurrent cell, and width of the head's hidden layer.
        cell: ``"gru"`` or ``"lstm"``.
        num_layers: stacked recurrent layers.
        bidirectional: also read the hits backwards (the last state is then the forward
            state at the last hit ⊕ the backward state at the first hit).
        extra_features: number of event-level features :math:`F_e` concatenated to the last
            state (0: none; then ``extra`` must not be given).
        n_classes: number of output logits.
        dropout: dropout between recurrent layers and in the head.
        mode: ``"packed"`` runs the cell on the packed sequence; ``"padded"`` (unidirectional
            only) unpacks the standardised hits again (zero padding, up to the longest event)
            and takes each event's output at its last hit — the same result, 2–6× faster on
            CPU for 300 hits of unequal lengths (PyTorch 2.13); ``"auto"``: padded when
            unidirectional, else packed.

    Shapes:
        - hits: ``(B, L, F_h)``, zero-padded (the padding may hold anything)
        - lengths: ``(B,)`` int, number of real hits of each event, ``0 ≤ lengths ≤ L``
        - extra: ``(B, F_e)`` or None
        - output: ``(B, n_classes)`` logits
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 64,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = False,
        extra_features: int = 0,
        n_classes: int = 4,
        dropout: float = 0.1,
        mode: str = "auto",
    ) -> None:
        super().__init__()
        if mode == "auto":
            mode = "packed" if bidirectional else "padded"
        if mode not in ("packed", "padded") or (mode == "padded" and bidirectional):
            raise ValueError(
                f"mode={mode!r}: expected 'auto', 'packed', or 'padded' (unidirectional)"
            )
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r}: expected one of {sorted(CELLS)}")
        if in_features < 1 or hidden < 1 or num_layers < 1:
            raise ValueError(
                f"in_features={in_features}, hidden={hidden}, num_layers={num_layers}: "
                "expected positive integers"
            )
        if extra_features < 0:
            raise ValueError(f"extra_features={extra_features}: expected ≥ 0")
        self.in_features, self.hidden, self.cell, self.mode = in_features, hidden, cell, mode
        self.extra_features, self.n_classes = extra_features, n_classes
        self.norm = nn.BatchNorm1d(in_features)
        self.rnn = CELLS[cell](
            in_features,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        width = hidden * (2 if bidirectional else 1)
        #: Representation of an event without hits, ``(hidden·directions,)``.
        self.empty = nn.Parameter(torch.zeros(width))
        self.head = MLP(
            width + extra_features,
            hidden=hidden,
            n_layers=1,
            batch_norm=True,
            dropout=dropout,
            out_features=n_classes,
        )

    def encode(self, hits: Tensor, lengths: Tensor) -> Tensor:
        """Last hidden state ``(B, hidden·directions)`` of each event (``empty`` if no hits)."""
        if hits.dim() != 3 or hits.shape[2] != self.in_features:
            raise ValueError(
                f"hits: expected shape (B, L, {self.in_features}), got {tuple(hits.shape)}"
            )
        lengths = torch.as_tensor(lengths).to("cpu", torch.int64)
        if lengths.shape != hits.shape[:1]:
            raise ValueError(
                f"lengths: expected shape ({hits.shape[0]},), got {tuple(lengths.shape)}"
            )
        if len(lengths) and (lengths.min() < 0 or lengths.max() > hits.shape[1]):
            raise ValueError(
                f"lengths: expected values in [0, {hits.shape[1]}] (hits.shape[1]), got "
                f"[{int(lengths.min())}, {int(lengths.max())}]"
            )
        out = self.empty.to(hits.dtype).expand(len(hits), -1)
        full = lengths > 0
        if not bool(full.any()):
            return out
        keep = full.nonzero().squeeze(1)
        packed = pack_padded_sequence(
            hits[keep.to(hits.device)], lengths[keep], batch_first=True, enforce_sorted=False
        )
        packed = PackedSequence(
            self.norm(packed.data),
            packed.batch_sizes,
            packed.sorted_indices,
            packed.unsorted_indices,
        )
        if self.mode == "padded":
            clean, lens = pad_packed_sequence(packed, batch_first=True)  # (B', max L, F_h)
            seq, _ = self.rnn(clean)
            last = seq[torch.arange(len(lens), device=seq.device), (lens - 1).to(seq.device)]
        else:
            _, state = self.rnn(packed)
            h_n = state[0] if isinstance(state, tuple) else state  # (layers·dirs, B', hidden)
            last = h_n[-2:].transpose(0, 1).flatten(1) if self.rnn.bidirectional else h_n[-1]
        return out.index_put((keep.to(hits.device),), last)

    def forward(self, hits: Tensor, lengths: Tensor, extra: Tensor | None = None) -> Tensor:
        """Logits ``(B, n_classes)`` for padded hits ``(B, L, F_h)`` of ``lengths`` ``(B,)``."""
        return self.head(_fuse(self.encode(hits, lengths), extra, self.extra_features))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_features}, hidden={self.hidden}, "
            f"cell={self.cell!r}, num_layers={self.rnn.num_layers}, "
            f"bidirectional={self.rnn.bidirectional}, mode={self.mode!r}, "
            f"extra_features={self.extra_features}, "
            f"n_classes={self.n_classes})"
        )
