"""Compile a KernelFormer into a (k, L, s) blackboard protocol (docs/definitions.md §5, [SHT24] Cor. 5.3).

Kernel attention is a sum over positions: layer ℓ, head h reads
``S = Σ_j φ(k_j) v_jᵀ`` (m′ × m) and ``z = Σ_j φ(k_j)`` (m′) — over ``j <= n``
when causally masked, over all j when not.  Sums split over chunks, so for a
split ``boundaries = (b_0, ..., b_k)``:

- round ℓ = layer ℓ (R = L).  In round ℓ speaker i writes, per head, its
  chunk's ``(S_i, z_i)`` of layer ℓ: exact integers in ``acc_bits`` bits each
  (:func:`~reductions.models.kernelformer.kernel_message_bits`:
  ``s = H·(m′·m + m′)·acc_bits``).
- To get its chunk's layer-ℓ keys and values, speaker i recomputes layers
  ``< ℓ`` on its own chunk.  Layer ``j < ℓ`` at a position of chunk i needs:
  *causal* — the sums over all earlier positions: ``Σ_{i' < i} (S_{i'}, z_{i'})``
  from round j plus the in-chunk prefix it computes itself; *unmasked* — the
  sums over the whole sequence: ``Σ_{i'} (S_{i'}, z_{i'})`` of round j, all on
  the board because round j is over.
- The last speaker in the last round writes the output token instead (same
  layout as the RNN compiler: ``ceil(log2 V)`` bits, zero fill to s).  At the
  last position N-1 both variants read the same sums: every chunk's layer-(L-1)
  sums — speakers ``0..k-2`` wrote theirs earlier in this round and the last
  speaker adds its own — so it computes ``φ(q_{N-1})ᵀS / φ(q_{N-1})·z``, the
  residual MLP and the readout at that position.

Every speaker only uses the board and its own chunk, and runs exactly the
model's integer operations (all sums exact), so the protocol's transcript and
output equal the model's bit for bit for every split (:func:`reference`
predicts the whole board; :func:`reductions.verify.verify` checks it).

Examples
--------
>>> import numpy as np
>>> from protocols import run
>>> from reductions.models.kernelformer import KernelFormer
>>> from reductions.compilers.splits import split_tokens
>>> model = KernelFormer.random(vocab=4, layers=2, width=3, precision=12, seed=0, features=4, max_len=8)
>>> x = np.array([[0, 1, 2, 3, 2, 1], [3, 3, 0, 1, 2, 2]])
>>> p = compile(model, (0, 2, 3, 6))
>>> r = run(p, split_tokens(x, (0, 2, 3, 6)))
>>> (p.k, p.R, p.s == bits_formula(model)), r.outputs.tolist() == model.forward(x)[:, -1].tolist()
((3, 2, True), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from protocols import Protocol
from protocols.bits import Record, SInt
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
from reductions.compilers.splits import check_boundaries
from reductions.models.attention_base import batch_slices
from reductions.models.kernelformer import (
    KernelFormer,
    global_kernel_attention,
    kernel_acc_bits,
    kernel_message_bits,
    kernel_sums,
)

__all__ = ["KernelProtocol", "compile", "bits_formula", "rounds_formula", "reference", "message_record"]


def message_record(model: KernelFormer) -> Record:
    """Layout of one message: ``kv (H, m′, m)`` then ``z (H, m′)``, each an ``acc_bits``-bit integer.

    Examples
    --------
    >>> m = KernelFormer.random(vocab=3, layers=1, width=2, heads=2, features=3, precision=8, seed=0, max_len=15)
    >>> message_record(m).width == kernel_message_bits(2, 3, 2, kernel_acc_bits(8, 15))
    True
    """
    a, H, mf, m = model.acc_bits, model.heads, model.feature_dim, model.width
    return Record((("kv", SInt(a), (H, mf, m)), ("z", SInt(a), (H, mf))))


class KernelProtocol(Protocol):
    """The protocol of a :class:`KernelFormer` for one split (see the module docstring).

    Examples
    --------
    >>> m = KernelFormer.random(vocab=3, layers=2, width=2, features=2, precision=8, seed=0, max_len=4, causal=False)
    >>> KernelProtocol(m, (0, 1, 3))
    kernel-unmasked-protocol(k=2, R=2, s=108)
    """

    def __init__(self, model: KernelFormer, boundaries: Sequence[int]) -> None:
        b = check_split(check_model(model, KernelFormer, "kernelformer_to_protocol"), boundaries)
        self.record = message_record(model)
        kind = "causal" if model.causal else "unmasked"
        super().__init__(k=len(b) - 1, R=model.layers, s=self.record.width, name=f"kernel-{kind}-protocol")
        self.model, self.boundaries = model, b
        # s >= acc_bits >= 2p - 1 always holds a small vocabulary; be explicit anyway
        self.tokens = token_record(model.vocab, self.s, required=True)

    def _sums(self, board, layer: int, speakers: range, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact sums of the (S, z) that ``speakers`` wrote in round ``layer`` (zeros if none)."""
        m = self.model
        S = np.zeros((batch, m.heads, m.feature_dim, m.width), dtype=np.int64)
        z = np.zeros((batch, m.heads, m.feature_dim), dtype=np.int64)
        for i in speakers:
            d = self.record.decode(board.message(layer, i))
            S += d["kv"]
            z += d["z"]
        return S, z

    def message(self, round, speaker, board, own, coins):
        m, b = self.model, self.boundaries
        n = check_chunk(own, speaker, b)
        tokens = m.check_tokens(own)
        batch = tokens.shape[0]
        last = is_answer(round, speaker, self.R, self.k)
        # Board sums of every earlier layer: before this chunk (causal) or over the whole sequence.
        readers = range(speaker) if m.causal else range(self.k)
        states = [self._sums(board, j, readers, batch) for j in range(round)]
        final = self._sums(board, round, range(self.k - 1), batch) if last else None
        S_out = np.empty((batch, m.heads, m.feature_dim, m.width), dtype=np.int64)
        z_out = np.empty((batch, m.heads, m.feature_dim), dtype=np.int64)
        out = np.empty(batch, dtype=np.int64)
        for sl in batch_slices(batch, m._per_instance(n)):
            x = m._embed(tokens[sl], b[speaker], False)
            for j in range(round):
                x = m.layer(j, x, (states[j][0][sl], states[j][1][sl]))
            fq, fk, v = m.qkv_features(round, x)
            S, z = kernel_sums(fk, v)
            if last:
                S_all, z_all = final[0][sl] + S, final[1][sl] + z
                a = m.fmt.check(global_kernel_attention(fq[..., -1:, :], S_all, z_all), "kernel attention output")
                y = m._finish_layer(round, x[:, -1:], np.moveaxis(a, -3, -2), False)
                out[sl] = m._readout(y, False)[:, 0]
            else:
                S_out[sl], z_out[sl] = S, z
        if last:
            return token_message(self.tokens, out)
        return self.record.encode({"kv": S_out, "z": z_out})

    def output(self, last):
        return read_token(self.tokens, last)


def compile(model: KernelFormer, boundaries: Sequence[int]) -> KernelProtocol:
    """``model`` + split -> :class:`KernelProtocol` (k = len(boundaries) - 1, R = L, s = H(m′m + m′)·acc_bits).

    Examples
    --------
    >>> m = KernelFormer.random(vocab=3, layers=3, width=2, features=2, precision=8, max_len=6, seed=0)
    >>> p = compile(m, (0, 2, 6))
    >>> p.k, p.R, p.s == m.state_bits()
    (2, 3, True)
    """
    return KernelProtocol(model, boundaries)


def bits_formula(model: KernelFormer) -> int:
    """s of docs/definitions.md §5 from the dimensions: ``H · (m′·m + m′) · (2p − 1 + ⌈log2(max_len + 1)⌉)``.

    Examples
    --------
    >>> bits_formula(KernelFormer.random(vocab=2, layers=1, width=32, heads=2, features=64, precision=16,
    ...                                  max_len=4096, seed=0))
    185856
    """
    return kernel_message_bits(model.width, model.feature_dim, model.heads, kernel_acc_bits(model.fmt.p, model.max_len))


def rounds_formula(model: KernelFormer) -> int:
    """R = L (one round per layer).

    Examples
    --------
    >>> rounds_formula(KernelFormer.random(vocab=2, layers=3, width=2, precision=8, max_len=4, seed=0))
    3
    """
    return model.layers


def reference(model: KernelFormer, tokens: Any, boundaries: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs ``(B, N)`` and the board ``(B, L, k, s)`` its protocol must write.

    One direct run that also sums each chunk's ``φ(k)vᵀ`` and ``φ(k)`` per
    layer: message (round l, speaker i) is chunk i's sums at layer l; the last
    message is the output token at the last position.

    Examples
    --------
    >>> m = KernelFormer.random(vocab=3, layers=2, width=2, features=2, precision=8, max_len=6, seed=0)
    >>> outs, board = reference(m, np.array([[0, 1, 2, 1, 0]]), (0, 2, 5))
    >>> outs.shape, board.shape == (1, 2, 2, m.state_bits())
    ((1, 5), True)
    """
    protocol = KernelProtocol(model, boundaries)
    tokens = model.check_tokens(tokens)
    b = check_boundaries(boundaries, tokens.shape[1])
    outputs, sums = model.run(tokens, b)

    def chunk_sums(l: int, i: int) -> np.ndarray:
        S, z = sums[l][i]
        return protocol.record.encode({"kv": S, "z": z})

    answer = token_message(protocol.tokens, outputs[:, -1])
    return outputs, expected_board(tokens.shape[0], protocol.R, protocol.k, protocol.s, chunk_sums, answer)
