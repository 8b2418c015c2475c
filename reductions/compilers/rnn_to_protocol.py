"""Compile an L-layer recurrent model into a (k, L, s) blackboard protocol (docs/definitions.md §5, [SHT24] Cor. 5.2).

Works for every :class:`~reductions.models.RecurrentModel` (FSM, Elman, GRU,
LSTM, selective SSM).  For a split ``boundaries = (b_0, ..., b_k)``:

- speaker ``i`` holds its chunk ``tokens[:, b_i:b_{i+1}]`` (any length >= 1);
- round ``l`` = layer ``l`` (R = L).  In round ``l`` speaker ``i`` reads, for
  every layer ``j <= l``, the state of layer ``j`` at the end of the previous
  chunk — speaker ``i-1``'s message of round ``j`` (speaker 0 starts every
  layer from the model's initial state) — recomputes layers ``< l`` on its own
  chunk from those states, runs layer ``l`` over its chunk and writes layer
  ``l``'s state at its chunk's end;
- s = ``model.state_bits()``; every message is the state in the model's
  :class:`protocols.bits.Record` layout, exactly s bits;
- the last message (last speaker, last round) instead carries the model's
  output token at the last position: ``Record(token: UInt(ceil(log2 V)),
  zero fill)``, exactly s bits, and :meth:`RecurrentProtocol.output` decodes it.
  If s < ceil(log2 V) the token does not fit; then the last message is the
  final-layer state as usual and ``output`` applies the model's (public)
  readout to it — possible for FSM/Elman/GRU/LSTM, whose output token is a
  function of the last layer's state; the SSM's is not (it also depends on
  the current input), so compiling such an SSM raises :class:`CompileError`.

Because speakers run exactly the integer operations the model runs, the
protocol's output and its whole transcript (the states at the chunk
boundaries) equal the model's, bit for bit, for every split — which
:func:`reference` predicts and :func:`reductions.verify.verify` checks.

Examples
--------
>>> import numpy as np
>>> from protocols import run
>>> from reductions.models import GRU
>>> from reductions.compilers.splits import split_tokens
>>> model = GRU.random(vocab=4, layers=2, width=3, precision=10, seed=0)
>>> x = np.array([[0, 1, 2, 3, 2, 1], [3, 3, 0, 1, 2, 2]])
>>> p = compile(model, (0, 2, 3, 6))
>>> (p.k, p.R, p.s), run(p, split_tokens(x, (0, 2, 3, 6))).outputs.tolist(), model.forward(x)[:, -1].tolist()
((3, 2, 30), [0, 0], [0, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from protocols import Protocol
from protocols.bits import bits_for
from reductions.compilers.common import (
    check_chunk,
    check_model,
    expected_board,
    is_answer,
    read_token,
    token_message,
    token_record,
)
from reductions.compilers.registry import CompileError
from reductions.compilers.splits import check_boundaries
from reductions.models.base import RecurrentModel

__all__ = ["RecurrentProtocol", "compile", "bits_formula", "rounds_formula", "reference"]


def _readout_from_state(model: RecurrentModel) -> bool:
    return model.family in ("fsm", "elman", "gru", "lstm")


class RecurrentProtocol(Protocol):
    """The protocol of a recurrent model for one split (see the module docstring).

    Examples
    --------
    >>> from reductions.models import FiniteStateRNN
    >>> p = RecurrentProtocol(FiniteStateRNN.random(vocab=3, layers=3, width=2, seed=0), (0, 1, 2))
    >>> p
    fsm-protocol(k=2, R=3, s=2)
    """

    def __init__(self, model: RecurrentModel, boundaries: Sequence[int]) -> None:
        check_model(model, RecurrentModel, "rnn_to_protocol")
        b = check_boundaries(boundaries)
        super().__init__(k=len(b) - 1, R=model.layers, s=model.state_bits(), name=f"{model.family}-protocol")
        self.model, self.boundaries = model, b
        self.tokens = token_record(model.vocab, self.s)
        if self.tokens is None and not _readout_from_state(model):
            raise CompileError(
                f"s = {self.s} bits cannot hold a token of vocabulary {model.vocab} ({bits_for(model.vocab)} bits), "
                f"and a {model.family} model's output is not a function of its state alone"
            )

    def _states(self, layers: int, speaker: int, board, batch: int) -> list[dict]:
        if speaker == 0:
            return [self.model.initial_state(j, batch) for j in range(layers)]
        return [self.model.decode_state(j, board.message(j, speaker - 1)) for j in range(layers)]

    def message(self, round, speaker, board, own, coins):
        check_chunk(own, speaker, self.boundaries)
        last = is_answer(round, speaker, self.R, self.k)
        states = self._states(round + 1, speaker, board, own.shape[0])
        res = self.model.run(own, states, n_layers=round + 1, readout=last and self.tokens is not None)
        if last and self.tokens is not None:
            return token_message(self.tokens, res.outputs[:, -1])
        return self.model.encode_state(round, res.states[round])

    def output(self, last):
        if self.tokens is not None:
            return read_token(self.tokens, last)
        state = self.model.decode_state(self.R - 1, last)
        return self.model._readout(state["h"], False)


def compile(model: RecurrentModel, boundaries: Sequence[int]) -> RecurrentProtocol:
    """``model`` + split -> :class:`RecurrentProtocol` with k = len(boundaries) - 1, R = L, s = state_bits()."""
    return RecurrentProtocol(model, boundaries)


def bits_formula(model: RecurrentModel) -> int:
    """s of docs/definitions.md §5 from the model's dimensions: m (FSM), m·p (Elman, GRU), 2·m·p (LSTM), m·n·p (SSM).

    Examples
    --------
    >>> from reductions.models import LSTM
    >>> bits_formula(LSTM.random(vocab=2, layers=1, width=5, precision=12, seed=0))
    120
    """
    m, fam = model.width, model.family
    if fam == "fsm":
        return m
    p = model.fmt.p
    if fam in ("elman", "gru"):
        return m * p
    if fam == "lstm":
        return 2 * m * p
    if fam == "ssm":
        return m * model.state_size * p
    raise CompileError(f"no docs/definitions.md §5 state-size formula for family {fam!r}")


def rounds_formula(model: RecurrentModel) -> int:
    """R = L (one round per layer)."""
    return model.layers


def reference(model: RecurrentModel, tokens: Any, boundaries: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs ``(B, N)`` and the board ``(B, L, k, s)`` its protocol must write.

    One direct run of the model that records every layer's state at each
    chunk end: message (round l, speaker i) is layer l's state after
    ``b_{i+1}`` positions; the last message is the output token (see module doc).
    """
    protocol = RecurrentProtocol(model, boundaries)
    tokens = model.check_tokens(tokens)
    b = check_boundaries(boundaries, tokens.shape[1])
    res = model.run(tokens, cuts=b[1:])
    k, R = protocol.k, protocol.R

    def state(li: int, i: int) -> np.ndarray:
        return model.encode_state(li, res.cut_states[i][li])

    answer = state(R - 1, k - 1) if protocol.tokens is None else token_message(protocol.tokens, res.outputs[:, -1])
    return res.outputs, expected_board(tokens.shape[0], R, k, protocol.s, state, answer)
