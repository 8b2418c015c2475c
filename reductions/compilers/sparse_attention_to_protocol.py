"""Compile a sparse-attention transformer into a (k, L, s) protocol (docs/definitions.md §5, [SHT24] Cor. 5.4).

Position n of layer ℓ reads the keys and values of layer ℓ at its window
``|j − n| <= w`` and at the global tokens ``j ≡ 0 (mod g)``.  For a split
``boundaries = (b_0, ..., b_k)``, from outside its chunk ``[a, b)`` a speaker
needs positions ``a−w .. a−1`` and ``b .. b+w−1`` — each lies among the last
(resp. first) w positions of some other chunk, however short the chunks — and
the global tokens.  So:

- round ℓ = layer ℓ (R = L).  In round ℓ speaker i writes, per head, the key
  and value (m values, p bits each) of layer ℓ at its **slots**: the first w
  positions of its chunk, the last w positions, and its global tokens — a
  fixed layout of ``2w + G`` slots (G = the most global tokens in any chunk;
  slots a short chunk does not fill are zero; positions are public, so
  readers know which slot is which).  ``s = (2w + G)·2·H·m·p``
  (:func:`~reductions.models.sparse_attention.sparse_message_bits`).
- To compute its chunk at layer ℓ, speaker i recomputes layers ``< ℓ`` on its
  chunk: layer ``j < ℓ`` takes its own chunk's keys and values and everyone
  else's slots from round j (complete: every speaker spoke in round j).
- The last speaker in the last round writes the output token instead (the
  RNN compiler's layout): the last position's window and the global tokens
  are covered by its own chunk and the slots speakers ``0..k-2`` wrote earlier
  in this round.

Each query's numbers are exact per-query integer computations, so the
protocol's transcript and output equal the model's bit for bit for every
split (:func:`reference` predicts the whole board).

Examples
--------
>>> import numpy as np
>>> from protocols import run
>>> from reductions.models.sparse_attention import SparseAttention
>>> from reductions.compilers.splits import split_tokens
>>> model = SparseAttention.random(vocab=4, layers=2, width=3, window=1, global_every=3, precision=12, seed=0)
>>> x = np.array([[0, 1, 2, 3, 2, 1, 0], [3, 3, 0, 1, 2, 2, 1]])
>>> b = (0, 2, 3, 7)
>>> p = compile(model, b)
>>> r = run(p, split_tokens(x, b))
>>> (p.k, p.R, p.s == bits_formula(model, b)), r.outputs.tolist() == model.forward(x)[:, -1].tolist()
((3, 2, True), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from protocols import Protocol
from protocols.bits import Record, SInt, bits_for
from reductions.compilers.common import (
    check_chunk,
    check_model,
    check_split,
    expected_board,
    is_answer,
    read_token,
    token_message,
    token_record,
)
from reductions.compilers.registry import CompileError
from reductions.compilers.splits import check_boundaries
from reductions.models.attention_base import batch_slices
from reductions.models.sparse_attention import SparseAttention, global_positions, globals_per_chunk, sparse_message_bits

__all__ = ["SparseProtocol", "compile", "bits_formula", "rounds_formula", "reference", "slot_positions"]


def slot_positions(boundaries: Sequence[int], window: int, every: int) -> np.ndarray:
    """``(k, 2w + G)`` positions each speaker writes: first w, last w, then its global tokens; -1 = empty slot.

    Examples
    --------
    >>> slot_positions((0, 1, 6), window=2, every=4).tolist()
    [[0, -1, 0, -1, 0], [1, 2, 4, 5, 4]]
    """
    b = check_boundaries(boundaries)
    w, g = int(window), int(every)
    G = max(globals_per_chunk(b, g))
    out = np.full((len(b) - 1, 2 * w + G), -1, dtype=np.int64)
    for i, (a, e) in enumerate(zip(b[:-1], b[1:], strict=True)):
        first = np.arange(a, min(a + w, e))
        last = np.arange(max(e - w, a), e)
        glob = np.arange(-(-a // g) * g, e, g)
        out[i, : len(first)] = first
        out[i, w: w + len(last)] = last
        out[i, 2 * w: 2 * w + len(glob)] = glob
    return out


class SparseProtocol(Protocol):
    """The protocol of a :class:`SparseAttention` model for one split (see the module docstring).

    Examples
    --------
    >>> m = SparseAttention.random(vocab=3, layers=2, width=2, window=1, global_every=2, precision=8, seed=0)
    >>> SparseProtocol(m, (0, 1, 5))
    sparse-protocol(k=2, R=2, s=128)
    """

    def __init__(self, model: SparseAttention, boundaries: Sequence[int]) -> None:
        b = check_split(check_model(model, SparseAttention, "sparse_attention_to_protocol"), boundaries)
        self.slots = slot_positions(b, model.window, model.global_every)
        H, S, m, p = model.heads, self.slots.shape[1], model.width, model.fmt.p
        self.record = Record((("k", SInt(p), (H, S, m)), ("v", SInt(p), (H, S, m))))
        s = self.record.width
        if s < max(1, bits_for(model.vocab)):
            raise CompileError(
                f"window {model.window} and global_every {model.global_every} give s = {s} bits on the split {b}: "
                f"too few to carry the output token ({bits_for(model.vocab)} bits)"
            )
        super().__init__(k=len(b) - 1, R=model.layers, s=s, name="sparse-protocol")
        self.model, self.boundaries, self.n = model, b, b[-1]
        self.tokens = token_record(model.vocab, s)

    def _assemble(self, board, layer: int, speaker: int, own_k, own_v, lo: int, hi: int):
        """Keys and values of layer ``layer`` at positions ``lo..hi-1`` and at the global tokens."""
        m, b = self.model, self.boundaries
        batch, H, _, width = own_k.shape
        gpos = global_positions(self.n, m.global_every)
        kr = np.zeros((batch, H, hi - lo, width), dtype=np.int64)
        vr = np.zeros_like(kr)
        kg = np.zeros((batch, H, len(gpos), width), dtype=np.int64)
        vg = np.zeros_like(kg)
        a, e = b[speaker], b[speaker + 1]
        own = np.arange(a, e)
        for dst_k, dst_v, idx, pos in ((kr, vr, own - lo, (own >= lo) & (own < hi)),
                                       (kg, vg, own // m.global_every, own % m.global_every == 0)):
            dst_k[..., idx[pos], :] = own_k[..., pos, :]
            dst_v[..., idx[pos], :] = own_v[..., pos, :]
        for j in range(self.k):
            if j == speaker:
                continue
            sl = self.slots[j]
            in_region = (sl >= lo) & (sl < hi)
            is_global = (sl >= 0) & (sl % m.global_every == 0)
            if not (in_region.any() or is_global.any()):
                continue
            d = self.record.decode(board.message(layer, j))
            kr[..., sl[in_region] - lo, :] = d["k"][..., in_region, :]
            vr[..., sl[in_region] - lo, :] = d["v"][..., in_region, :]
            kg[..., sl[is_global] // m.global_every, :] = d["k"][..., is_global, :]
            vg[..., sl[is_global] // m.global_every, :] = d["v"][..., is_global, :]
        return kr, vr, kg, vg

    def message(self, round, speaker, board, own, coins):
        m, b, n = self.model, self.boundaries, self.n
        a, e = b[speaker], b[speaker + 1]
        check_chunk(own, speaker, b)
        tokens = m.check_tokens(own)
        batch = tokens.shape[0]
        last = is_answer(round, speaker, self.R, self.k)
        w = m.window
        lo, hi = max(0, a - w), min(n, e + w)
        slots = self.slots[speaker]
        mine = slots >= 0
        out_k = np.zeros((batch, m.heads, len(slots), m.width), dtype=np.int64)
        out_v = np.zeros_like(out_k)
        out = np.empty(batch, dtype=np.int64)
        for sl in batch_slices(batch, m._per_instance(e - a + 2 * w)):
            x = m._embed(tokens[sl], a, False)
            for j in range(round):
                k, v = m.keys_values(j, x)
                kr, vr, kg, vg = self._assemble(_Rows(board, sl), j, speaker, k, v, lo, hi)
                x = m.layer(j, x, a, n, kr, vr, lo, kg, vg)
            k, v = m.keys_values(round, x)
            if last:
                kr, vr, kg, vg = self._assemble(_Rows(board, sl), round, speaker, k, v, max(0, n - 1 - w), n)
                y = m.layer(round, x[:, -1:], n - 1, n, kr, vr, max(0, n - 1 - w), kg, vg)
                out[sl] = m._readout(y, False)[:, 0]
            else:
                out_k[sl][..., mine, :] = k[..., slots[mine] - a, :]
                out_v[sl][..., mine, :] = v[..., slots[mine] - a, :]
        if last:
            return token_message(self.tokens, out)
        return self.record.encode({"k": out_k, "v": out_v})

    def output(self, last):
        return read_token(self.tokens, last)


class _Rows:
    """The board restricted to a slice of the batch (what one batch slice of a speaker reads)."""

    def __init__(self, board, rows: slice) -> None:
        self._board, self._rows = board, rows

    def message(self, round: int, speaker: int) -> np.ndarray:
        return self._board.message(round, speaker)[self._rows]


def compile(model: SparseAttention, boundaries: Sequence[int]) -> SparseProtocol:
    """``model`` + split -> :class:`SparseProtocol` (k = len(boundaries) - 1, R = L, s = (2w + G)·2·H·m·p).

    Examples
    --------
    >>> m = SparseAttention.random(vocab=3, layers=3, width=2, window=1, global_every=2, precision=8, seed=0)
    >>> p = compile(m, (0, 2, 6))
    >>> p.k, p.R, p.s == bits_formula(m, (0, 2, 6))
    (2, 3, True)
    """
    return SparseProtocol(model, boundaries)


def bits_formula(model: SparseAttention, boundaries: Sequence[int] | None = None) -> int:
    """s of docs/definitions.md §5: ``(2w + G)·2·H·m·p`` with G the most global tokens in a chunk of the split.

    Examples
    --------
    >>> m = SparseAttention.random(vocab=2, layers=1, width=4, heads=2, window=3, global_every=5, precision=8, seed=0)
    >>> bits_formula(m, (0, 10, 12, 30))   # chunks hold 2, 1 and 3 global tokens: (2·3 + 3)·2·2·4·8
    1152
    """
    if boundaries is None:
        raise CompileError("sparse attention's message size depends on the split (global tokens per chunk); "
                           "pass boundaries")
    b = check_boundaries(boundaries)
    G = max(globals_per_chunk(b, model.global_every))
    return sparse_message_bits(model.window, G, model.heads, model.width, model.fmt.p)


def rounds_formula(model: SparseAttention) -> int:
    """R = L (one round per layer).

    Examples
    --------
    >>> rounds_formula(SparseAttention.random(vocab=2, layers=3, width=2, precision=8, seed=0))
    3
    """
    return model.layers


def reference(model: SparseAttention, tokens: Any, boundaries: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs ``(B, N)`` and the board ``(B, L, k, s)`` its protocol must write.

    One direct run that records each layer's keys and values; message (round l,
    speaker i) holds them at speaker i's slots; the last message is the output token.

    Examples
    --------
    >>> m = SparseAttention.random(vocab=3, layers=2, width=2, window=1, global_every=2, precision=8, seed=0)
    >>> outs, board = reference(m, np.array([[0, 1, 2, 1, 0]]), (0, 2, 5))
    >>> outs.shape, board.shape == (1, 2, 2, bits_formula(m, (0, 2, 5)))
    ((1, 5), True)
    """
    protocol = SparseProtocol(model, boundaries)
    tokens = model.check_tokens(tokens)
    check_boundaries(boundaries, tokens.shape[1])
    outputs, kvs = model.run(tokens, record=True)
    batch = tokens.shape[0]

    def slots(l: int, i: int) -> np.ndarray:
        keys, values = kvs[l]
        sl = protocol.slots[i]
        ok = sl >= 0
        kk = np.zeros((batch, model.heads, len(sl), model.width), dtype=np.int64)
        vv = np.zeros_like(kk)
        kk[..., ok, :] = keys[..., sl[ok], :]
        vv[..., ok, :] = values[..., sl[ok], :]
        return protocol.record.encode({"k": kk, "v": vv})

    answer = token_message(protocol.tokens, outputs[:, -1])
    return outputs, expected_board(batch, protocol.R, protocol.k, protocol.s, slots, answer)
