"""Compile a one-layer chain-of-thought transformer into a (k, T+1, s) protocol (docs/definitions.md §5).

Source: [SHT24] Cor. 5.6.

At generation step t the model's only attention layer reads, per head,
``Σ_j e_j v_j`` and ``Σ_j e_j`` over every position ``j <= N + t``, where
``e_j = exp(s_j − c)`` depends on position j, the current query and its public
offset c only (:mod:`reductions.models.cot`).  Those sums split over chunks,
and the query is public (the separator, then tokens everyone has derived), so
for a split ``boundaries = (b_0, ..., b_k)``:

- round t = step t (R = T + 1).  In round t every speaker first derives the
  tokens ``y_0..y_{t-1}``: for each earlier round r it adds up the k partial
  sums of round r and the terms of the public positions ``N..N+r`` (the
  separator and ``y_0..y_{r-1}``), divides, and applies the MLP and readout —
  exactly the model's step.  Then it writes, per head, its chunk's partial
  numerator ``Σ e_j v_j`` (m values) and denominator ``Σ e_j`` for the query of
  step t, each an ``acc_bits``-bit integer:
  ``s = H·(m + 1)·acc_bits`` (:func:`~reductions.models.cot.cot_message_bits`).
- The last speaker in round T has the partial sums of speakers ``0..k-2`` from
  this round, adds its own and the public terms, and writes the answer
  ``y_T`` (``ceil(log2 V)`` bits, zero fill to s), which :meth:`CoTProtocol.output` decodes.

Integer sums are exact, so every derived token and the answer equal the
model's bit for bit for every split; :meth:`CoTProtocol.chain_of_thought`
recovers the chain of thought from a board the way any speaker does.

Examples
--------
>>> import numpy as np
>>> from protocols import run
>>> from reductions.models.cot import ChainOfThought
>>> from reductions.compilers.splits import split_tokens
>>> model = ChainOfThought.random(vocab=4, width=3, heads=2, cot_steps=2, precision=12, max_len=16, seed=0)
>>> x = np.array([[0, 1, 2, 3, 2, 1], [3, 3, 0, 1, 2, 2]])
>>> b = (0, 2, 3, 6)
>>> p = compile(model, b)
>>> r = run(p, split_tokens(x, b))
>>> (p.k, p.R), r.outputs.tolist() == model.forward(x)[:, -1].tolist()
((3, 3), True)
>>> bool((p.chain_of_thought(r.board) == model.forward(x)[:, :-1]).all())
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from protocols import Protocol
from protocols.bits import Record, SInt
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
from reductions.models.cot import ChainOfThought, cot_acc_bits, cot_message_bits

__all__ = ["CoTProtocol", "compile", "bits_formula", "rounds_formula", "reference", "message_record"]


def message_record(model: ChainOfThought) -> Record:
    """Layout of one message: ``num (H, m)`` then ``den (H,)``, each an ``acc_bits``-bit integer.

    Examples
    --------
    >>> m = ChainOfThought.random(vocab=3, width=2, heads=2, precision=8, max_len=10, seed=0)
    >>> message_record(m).width == cot_message_bits(2, 2, cot_acc_bits(8, 4, 10))
    True
    """
    a, H, m = model.acc_bits, model.heads, model.width
    return Record((("num", SInt(a), (H, m)), ("den", SInt(a), (H,))))


class CoTProtocol(Protocol):
    """The protocol of a :class:`ChainOfThought` model for one split (see the module docstring).

    Examples
    --------
    >>> m = ChainOfThought.random(vocab=3, width=2, cot_steps=3, precision=8, max_len=10, seed=0)
    >>> CoTProtocol(m, (0, 2, 5))
    cot-protocol(k=2, R=4, s=48)
    """

    def __init__(self, model: ChainOfThought, boundaries: Sequence[int]) -> None:
        check_model(model, ChainOfThought, "cot_to_protocol")
        b = check_boundaries(boundaries)
        need = b[-1] + model.cot_steps + 1
        if need > model.max_len:
            raise CompileError(f"the split {b} with T = {model.cot_steps} needs {need} positions "
                               f"(N + T + 1); {model!r} has max_len = {model.max_len}")
        self.record = message_record(model)
        super().__init__(k=len(b) - 1, R=model.rounds, s=self.record.width, name="cot-protocol")
        self.model, self.boundaries, self.n = model, b, b[-1]
        self.tokens = token_record(model.vocab, self.s, required=True)

    def _sum(self, read: Callable[[int, int], np.ndarray], round: int,
             speakers: range) -> tuple[np.ndarray, np.ndarray]:
        num = den = 0
        for j in speakers:
            d = self.record.decode(read(round, j))
            num, den = num + d["num"], den + d["den"]
        return num, den

    def _derive(self, read: Callable[[int, int], np.ndarray], rounds: int, batch: int) -> np.ndarray:
        """``(B, 1 + rounds)``: the separator, then the tokens of steps ``0..rounds-1`` derived from the board."""
        m = self.model
        gen = np.full((batch, 1), m.sep, dtype=np.int64)
        for r in range(rounds):
            st = m.step(gen[:, -1], self.n + r)
            num, den = self._sum(read, r, range(self.k))
            kg, vg = m.keys_values(gen, self.n)
            pn, pd = m.partial_sums(st, kg, vg)
            y = m.finish(st, gen[:, -1], num + pn, den + pd)
            gen = np.concatenate([gen, y[:, None]], axis=1)
        return gen

    def message(self, round, speaker, board, own, coins):
        m, b = self.model, self.boundaries
        a = b[speaker]
        check_chunk(own, speaker, b)
        tokens = m.check_tokens(own)
        gen = self._derive(board.message, round, tokens.shape[0])
        st = m.step(gen[:, -1], self.n + round)
        k, v = m.keys_values(tokens, a)
        num, den = m.partial_sums(st, k, v)
        if is_answer(round, speaker, self.R, self.k):
            on, od = self._sum(board.message, round, range(self.k - 1))
            kg, vg = m.keys_values(gen, self.n)
            pn, pd = m.partial_sums(st, kg, vg)
            answer = m.finish(st, gen[:, -1], num + on + pn, den + od + pd)
            return token_message(self.tokens, answer)
        return self.record.encode({"num": num, "den": den})

    def output(self, last):
        return read_token(self.tokens, last)

    def chain_of_thought(self, board: np.ndarray) -> np.ndarray:
        """The T chain-of-thought tokens ``(B, T)`` a speaker derives from a run's board ``(B, R, k, s)``."""
        board = np.asarray(board)
        return self._derive(lambda r, j: board[:, r, j], self.R - 1, board.shape[0])[:, 1:]


def compile(model: ChainOfThought, boundaries: Sequence[int]) -> CoTProtocol:
    """``model`` + split -> :class:`CoTProtocol` (k = len(boundaries) - 1, R = T + 1, s = H·(m+1)·acc_bits).

    Examples
    --------
    >>> m = ChainOfThought.random(vocab=3, width=2, cot_steps=2, precision=8, max_len=12, seed=0)
    >>> p = compile(m, (0, 2, 6))
    >>> p.k, p.R, p.s == m.state_bits()
    (2, 3, True)
    """
    return CoTProtocol(model, boundaries)


def bits_formula(model: ChainOfThought) -> int:
    """s of docs/definitions.md §5 from the dimensions: ``H · (m + 1) · (f + p + ⌈log2(max_len + 1)⌉)``.

    Examples
    --------
    >>> bits_formula(ChainOfThought.random(vocab=2, width=8, heads=2, precision=16, max_len=100, seed=0))
    630
    """
    return cot_message_bits(model.width, model.heads, cot_acc_bits(model.fmt.p, model.fmt.f, model.max_len))


def rounds_formula(model: ChainOfThought) -> int:
    """R = T + 1 (one round per generated token: T chain-of-thought tokens and the answer).

    Examples
    --------
    >>> rounds_formula(ChainOfThought.random(vocab=2, width=2, cot_steps=4, precision=8, seed=0))
    5
    """
    return model.cot_steps + 1


def reference(model: ChainOfThought, tokens: Any, boundaries: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The model's generated tokens ``(B, T+1)`` (answer last) and the board ``(B, T+1, k, s)`` of its protocol.

    One generation that also sums each chunk's terms at every step: message
    (round t, speaker i) is chunk i's partial sums for step t's query; the last
    message is the answer.

    Examples
    --------
    >>> m = ChainOfThought.random(vocab=3, width=2, cot_steps=2, precision=8, max_len=12, seed=0)
    >>> outs, board = reference(m, np.array([[0, 1, 2, 1, 0]]), (0, 2, 5))
    >>> outs.shape, board.shape == (1, 3, 2, m.state_bits())
    ((1, 3), True)
    """
    protocol = CoTProtocol(model, boundaries)
    tokens = model.check_tokens(tokens)
    b = check_boundaries(boundaries, tokens.shape[1])
    outputs, sums = model.generate(tokens, b)

    def partial_sums(t: int, i: int) -> np.ndarray:
        num, den = sums[t][i]
        return protocol.record.encode({"num": num, "den": den})

    answer = token_message(protocol.tokens, outputs[:, -1])
    return outputs, expected_board(tokens.shape[0], protocol.R, protocol.k, protocol.s, partial_sums, answer)
