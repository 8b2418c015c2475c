"""A full softmax transformer as a (k, L, s) blackboard protocol (docs/definitions.md §5, last bullet; [SHT24] §5).

Split the sequence into k contiguous chunks; speaker i holds chunk i.  In
round l (one round per layer) every speaker, in order, publishes the layer-l
keys and values of every position of its chunk.  Why that suffices: a causal
layer at position t needs only the keys and values of positions <= t, so
speaker i can compute layers 0..l on its own chunk from

* its tokens and absolute positions (the split is public),
* for each layer l' < l, the keys/values that speakers 0..i-1 wrote in
  round l' (all on the board), and
* for layer l itself, what speakers 0..i-1 wrote earlier in THIS round.

Because the model's arithmetic is exact fixed point with integer accumulation
(:mod:`reductions.models.transformer`), the speaker's numbers are the model's,
bit for bit, for every split.  In the last round the last speaker, instead of
keys and values nobody needs, writes the model's output token at the last
position (its class index, ``ceil(log2 C)`` bits); that message is the output.

Message size (the ONE place it is computed, :func:`message_bits`): a position
contributes its keys and values in every head, ``2·H·d`` numbers of p bits, so

    s = max(c_max · 2·H·d·p,  ceil(log2 C)),   c_max = the longest chunk.

For the even split of N positions this is ``ceil(N/k)·2·m·H·p`` in [SHT24]'s
convention d = m (each head's keys and values are m-dimensional): the
``(N/k)·2·m·H·p`` of docs/definitions.md §5.  With a narrower head (the k-hop construction uses
d = 4 < m = 16) the keys and values a speaker publishes are d-dimensional and
the formula uses d.  R = L.  Either way s grows linearly in N/k — far above the
``c·N/k^6`` that rounds R < k would otherwise force — which is why the log-depth
construction does not contradict the lower bound: it lives in few rounds only
because its messages are enormous.

Examples
--------
>>> import numpy as np
>>> from protocols import run
>>> from reductions.models.transformer import SoftmaxTransformer
>>> from reductions.compilers.splits import split_tokens
>>> m = SoftmaxTransformer.random(vocab=4, layers=2, width=4, precision=12, seed=0)
>>> x = np.random.default_rng(1).integers(0, 4, (6, 10))
>>> p = compile(m, (0, 3, 7, 10))
>>> (p.k, p.R, p.s) == (3, 2, 4 * 2 * 1 * 4 * 12)
True
>>> bool((run(p, split_tokens(x, (0, 3, 7, 10))).outputs == m.forward(x)[:, -1]).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protocols import Protocol
from protocols.bits import UInt, bits_for
from reductions.compilers.common import check_model, check_split, expected_board, is_answer
from reductions.compilers.registry import CompileError
from reductions.compilers.splits import check_boundaries
from reductions.models.transformer import SoftmaxTransformer

__all__ = [
    "TransformerProtocol",
    "compile",
    "message_bits",
    "bits_formula",
    "rounds_formula",
    "reference",
]


def _model(model: object) -> SoftmaxTransformer:
    return check_model(model, SoftmaxTransformer, "transformer_to_protocol")


def message_bits(model: SoftmaxTransformer, boundaries: Sequence[int]) -> int:
    """s = max(c_max · 2·H·d·p, ceil(log2 C)) for the split ``boundaries`` (see the module docstring).

    Examples
    --------
    >>> from reductions.models.transformer import SoftmaxTransformer
    >>> m = SoftmaxTransformer.random(vocab=3, layers=2, width=8, precision=16, heads=2, seed=0)
    >>> message_bits(m, (0, 25, 50, 75, 100)) == 25 * 2 * 8 * 2 * 16   # ceil(N/k)·2·m·H·p
    True
    """
    m = _model(model)
    b = check_boundaries(boundaries)
    longest = max(b[i + 1] - b[i] for i in range(len(b) - 1))
    return max(longest * m.kv_bits_per_position(), bits_for(m.classes))


def bits_formula(model: SoftmaxTransformer, boundaries: Sequence[int] | None = None) -> int:
    """docs/definitions.md §5's message size for ``model`` under the split ``boundaries`` (:func:`message_bits`).

    The full transformer's s depends on the split (its longest chunk), so the
    boundaries are required.

    Examples
    --------
    >>> from reductions.models.transformer import SoftmaxTransformer
    >>> bits_formula(SoftmaxTransformer.random(vocab=3, layers=1, width=2, precision=8, seed=0), (0, 3, 5))
    96
    """
    if boundaries is None:
        raise CompileError(
            "the full transformer's message size depends on the split (its longest chunk); "
            "pass the boundaries: bits_formula(model, boundaries)"
        )
    return message_bits(model, boundaries)


def rounds_formula(model: SoftmaxTransformer) -> int:
    """R = L: one round per layer.

    Examples
    --------
    >>> from reductions.models.transformer import SoftmaxTransformer
    >>> rounds_formula(SoftmaxTransformer.random(vocab=3, layers=3, width=2, precision=8, seed=0))
    3
    """
    return _model(model).layers


class TransformerProtocol(Protocol):
    """The compiled protocol: round l = layer l; a message is a chunk's keys and values.

    Layout of a message (before zero padding to s): for each position of the
    chunk in order, for each head, the d key entries then the d value
    entries, each p bits (two's complement, MSB first; the model's
    :class:`~reductions.arithmetic.fixed_point.FixedPoint` codec).  The last message of the
    last speaker is the output class index in ``ceil(log2 C)`` bits.

    Examples
    --------
    >>> from reductions.models.transformer import SoftmaxTransformer
    >>> TransformerProtocol(SoftmaxTransformer.random(vocab=3, layers=2, width=2, precision=8, seed=0), (0, 2, 4))
    transformer(L=2, split=(0, 2, 4))(k=2, R=2, s=64)
    """

    def __init__(self, model: SoftmaxTransformer, boundaries: Sequence[int]) -> None:
        m = _model(model)
        b = check_split(m, boundaries)
        super().__init__(k=len(b) - 1, R=m.layers, s=message_bits(m, b), name=f"transformer(L={m.layers}, split={b})")
        self.model, self.boundaries = m, b
        self.output_codec = UInt(bits_for(m.classes))

    def _chunk_len(self, speaker: int) -> int:
        return self.boundaries[speaker + 1] - self.boundaries[speaker]

    def encode_kv(self, K: np.ndarray, V: np.ndarray) -> np.ndarray:
        """``(B, H, c, d)`` keys and values -> ``(B, c·2·H·d·p)`` bits."""
        B, H, c, d = K.shape
        kv = np.stack([K, V], axis=2).transpose(0, 3, 1, 2, 4)  # (B, c, H, 2, d)
        return self.model.fmt.encode(kv).reshape(B, -1)

    def decode_kv(self, bits: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`encode_kv` for a chunk of ``c`` positions (padding ignored)."""
        m = self.model
        B = bits.shape[0]
        n = c * m.kv_bits_per_position()
        kv = m.fmt.decode(np.asarray(bits)[:, :n].reshape(B, c, m.heads, 2, m.head_dim, m.fmt.p))
        kv = kv.transpose(0, 2, 3, 1, 4)  # (B, H, 2, c, d)
        return np.ascontiguousarray(kv[:, :, 0]), np.ascontiguousarray(kv[:, :, 1])

    def message(self, round, speaker, board, own, coins):
        m, b = self.model, self.boundaries
        prefix = []
        if speaker > 0:
            for layer in range(round + 1):
                parts = [self.decode_kv(board.message(layer, j), self._chunk_len(j)) for j in range(speaker)]
                prefix.append((np.concatenate([p[0] for p in parts], axis=2),
                               np.concatenate([p[1] for p in parts], axis=2)))
        last = is_answer(round, speaker, self.R, self.k)
        r = m.run_chunk(own, start=b[speaker], prefix=prefix, n_layers=round + 1, readout=last)
        if last:
            return self.output_codec.encode(np.searchsorted(m.output_tokens, r.outputs[:, -1]))
        K, V = r.kv[round]
        return self.encode_kv(K, V)

    def output(self, last: np.ndarray) -> np.ndarray:
        idx = self.output_codec.decode(np.asarray(last)[:, : self.output_codec.width])
        return self.model.output_tokens[np.minimum(idx, self.model.classes - 1)]


def compile(model: SoftmaxTransformer, boundaries: Sequence[int]) -> TransformerProtocol:
    """Compile ``model`` for the split ``boundaries`` (speaker i holds ``tokens[:, b_i:b_{i+1}]``).

    Examples
    --------
    >>> from reductions.constructions.hop_construction import hop_construction
    >>> p = compile(hop_construction(4, max_len=40, alphabet=4).model, (0, 10, 20, 30, 40))
    >>> p.R, p.s == 10 * 2 * 1 * 4 * 18
    (4, True)
    """
    return TransformerProtocol(model, boundaries)


def reference(
    model: SoftmaxTransformer, tokens: np.ndarray, boundaries: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs ``(B, N)`` and the board ``(B, L, k, s)`` its protocol must write.

    Computed from ONE run of the model over the whole sequence: every
    message is the chunk's slice of that run's keys and values (the last one
    the output token), so comparing it with the protocol's transcript checks
    every message, not only the answer.

    Examples
    --------
    >>> import numpy as np
    >>> from reductions.models.transformer import SoftmaxTransformer
    >>> m = SoftmaxTransformer.random(vocab=3, layers=2, width=4, precision=10, seed=0)
    >>> out, board = reference(m, np.zeros((2, 5), int), (0, 2, 5))
    >>> out.shape, board.shape
    ((2, 5), (2, 2, 2, 240))
    """
    p = TransformerProtocol(model, boundaries)
    m, b = p.model, p.boundaries
    r = m.run_chunk(tokens)

    def chunk_kv(layer: int, i: int) -> np.ndarray:
        K, V = r.kv[layer]
        return p.encode_kv(K[:, :, b[i]:b[i + 1]], V[:, :, b[i]:b[i + 1]])

    answer = p.output_codec.encode(np.searchsorted(m.output_tokens, r.outputs[:, -1]))
    return r.outputs, expected_board(r.outputs.shape[0], p.R, p.k, p.s, chunk_kv, answer)
