"""A batch of k-hop sequences split into the k speakers' contiguous chunks (docs/definitions.md §4–5).

:class:`HopInstance` is what :func:`reductions.encode` returns and what any
token-reading protocol runs on: ``tokens`` ``(B, N)`` and chunk
``boundaries`` ``(k+1,)``, speaker ``i`` (0-based, speaking order) holding
``tokens[:, b[i]:b[i+1]]``.  In the canonical split of the encoding speaker
``i`` holds the block of layer ``k-i``, the last speaker also the final token,
and speaker 0 also any left padding (so the chunks cover the sequence and a
left-to-right model can be simulated chunk by chunk, §5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protocols.errors import InvalidInstance
from protocols.validation import check_int
from reductions.errors import ReductionsError
from reductions.khop.task import hop

__all__ = [
    "HopInstance", "EncodingError", "canonical_boundaries", "sequence_length", "class_token", "pad_token",
    "encoding_alphabet", "answer_from_hop",
]


class EncodingError(ReductionsError, InvalidInstance):
    """A pointer-chasing instance, k-hop sequence or chunking that breaks docs/definitions.md §4."""


def _sizes(q, k, pad) -> tuple[int, int, int]:
    return (check_int("q", q, low=2, error=EncodingError), check_int("k", k, low=1, error=EncodingError),
            check_int("pad", pad, low=0, error=EncodingError))


# -- the encoding's derived quantities: the one place each is computed --------
def sequence_length(q: int, k: int, pad: int = 0) -> int:
    """``N = pad + 2kq + 1`` (docs/definitions.md §4).

    Examples
    --------
    >>> sequence_length(4, 3), sequence_length(4, 3, pad=5)
    (25, 30)
    """
    q, k, pad = _sizes(q, k, pad)
    return pad + 2 * k * q + 1


def class_token(q: int, c: int) -> int:
    """The token of class ``c`` (0 or 1): ``2q + c`` (docs/definitions.md §4).

    Examples
    --------
    >>> class_token(4, 0), class_token(4, 1)
    (8, 9)
    """
    return 2 * check_int("q", q, low=2, error=EncodingError) + check_int("c", c, low=0, high=1, error=EncodingError)


def pad_token(q: int) -> int:
    """The dedicated left-padding token ``2q + 2`` (docs/definitions.md §4).

    Examples
    --------
    >>> pad_token(4)
    10
    """
    return 2 * check_int("q", q, low=2, error=EncodingError) + 2


def encoding_alphabet(q: int, pad: int = 0) -> int:
    """Symbols of the encoding: ``2q`` vertex labels and 2 class tokens, plus the pad token if ``pad > 0``.

    Examples
    --------
    >>> encoding_alphabet(4), encoding_alphabet(4, pad=3)
    (10, 11)
    """
    return pad_token(q) + (1 if check_int("pad", pad, low=0, error=EncodingError) else 0)


def canonical_boundaries(q: int, k: int, pad: int = 0) -> np.ndarray:
    """Chunk boundaries ``(k+1,)`` of the encoding: ``[0, pad+2q, pad+4q, ..., N]``.

    Speaker 0 holds the padding and the block of layer k; speaker i (0 < i <
    k-1) the block of layer k-i; the last speaker the block of layer 1 and the
    final token.

    Examples
    --------
    >>> canonical_boundaries(4, 3).tolist()
    [0, 8, 16, 25]
    >>> canonical_boundaries(4, 3, pad=2).tolist()
    [0, 10, 18, 27]
    """
    q, k, pad = _sizes(q, k, pad)
    b = pad + 2 * q * np.arange(k + 1, dtype=np.int64)
    b[0] = 0
    b[-1] = sequence_length(q, k, pad)
    return b


def answer_from_hop(last, q: int) -> np.ndarray:
    """The pointer-chasing answer (class of ``v_{k+1}``) from ``hop_k(x)[N-1]``: ``value - 2q``.

    Parameters
    ----------
    last : ints, any shape — ``hop_k`` at the last position of encoded sequences.
    q : layer size.

    Raises
    ------
    EncodingError
        A value that is not a class token (``2q`` or ``2q + 1``), e.g. ⊥ (-1).

    Examples
    --------
    >>> answer_from_hop([8, 9, 8], q=4).tolist()
    [0, 1, 0]
    """
    q = check_int("q", q, low=2, error=EncodingError)
    v = np.asarray(last)
    if v.dtype.kind not in "iu":
        raise EncodingError(f"hop values have dtype {v.dtype}; expected integers")
    v = v.astype(np.int64)
    bad = (v != class_token(q, 0)) & (v != class_token(q, 1))
    if bad.any():
        raise EncodingError(
            f"hop_k at the last position is {v[bad].flat[0]}; an encoded sequence gives "
            f"a class token {class_token(q, 0)} or {class_token(q, 1)}"
        )
    return v - class_token(q, 0)


@dataclass(frozen=True, eq=False)
class HopInstance:
    """A batch of encoded k-hop sequences and the speakers' chunks (docs/definitions.md §4).

    Attributes
    ----------
    tokens : ``(B, N)`` non-negative ints, ``N = pad + 2kq + 1``.
    boundaries : ``(k+1,)`` ints, ``0 = b[0] <= ... <= b[k] = N``; speaker i's
        chunk is ``tokens[:, b[i]:b[i+1]]``.
    q, k : layer size and number of edge layers of the encoded pointer chasing.
    pad : number of pad tokens (value ``2q+2``) at the start.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from reductions.khop.pointer_chasing_to_hop import encode
    >>> h = encode(PointerChasing(q=2, k=2).instances([[[1, 0]], [[0, 1]]], start=[0]))
    >>> h.tokens.tolist(), h.boundaries.tolist()
    ([[2, 4, 3, 5, 0, 3, 1, 2, 0]], [0, 4, 9])
    >>> [c.tolist() for c in h.chunks()]
    [[[2, 4, 3, 5]], [[0, 3, 1, 2, 0]]]
    >>> h.hop_answer().tolist(), h.alphabet, h.length
    ([1], 6, 9)
    """

    tokens: np.ndarray
    boundaries: np.ndarray
    q: int
    k: int
    pad: int = 0

    def __post_init__(self) -> None:
        q, k, pad = _sizes(self.q, self.k, self.pad)
        t = np.asarray(self.tokens)
        if t.ndim != 2 or t.dtype.kind not in "iu":
            raise EncodingError(
                f"tokens have shape {t.shape} and dtype {t.dtype}; expected (B, N) integers"
            )
        N = sequence_length(q, k, pad)
        if t.shape[1] != N:
            raise EncodingError(
                f"tokens have length {t.shape[1]}; q = {q}, k = {k}, pad = {pad} give N = {N}"
            )
        b = np.asarray(self.boundaries)
        if b.shape != (k + 1,) or b.dtype.kind not in "iu":
            raise EncodingError(f"boundaries have shape {b.shape}; expected k+1 = {k + 1} integers")
        if b[0] != 0 or b[-1] != N or (np.diff(b) < 0).any():
            raise EncodingError(f"boundaries {b.tolist()} must rise from 0 to N = {N}")
        object.__setattr__(self, "tokens", t)
        object.__setattr__(self, "boundaries", b.astype(np.int64))
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "pad", pad)

    # -- sizes -----------------------------------------------------------
    @property
    def batch(self) -> int:
        return self.tokens.shape[0]

    @property
    def length(self) -> int:
        """N, the sequence length."""
        return self.tokens.shape[1]

    @property
    def pad_token(self) -> int:
        """The dedicated pad token ``2q + 2``."""
        return pad_token(self.q)

    @property
    def alphabet(self) -> int:
        """``2q + 2`` symbols, ``2q + 3`` with padding."""
        return encoding_alphabet(self.q, self.pad)

    @property
    def canonical(self) -> bool:
        """Whether the chunks are the encoding's own (speaker i holds the block of layer k-i)."""
        return bool((self.boundaries == canonical_boundaries(self.q, self.k, self.pad)).all())

    # -- the engine's view -----------------------------------------------
    def chunks(self) -> list[np.ndarray]:
        """Per-speaker token chunks in speaking order, each ``(B, b[i+1] - b[i])`` (own copies)."""
        b = self.boundaries
        return [np.array(self.tokens[:, b[i] : b[i + 1]]) for i in range(self.k)]

    def inputs(self) -> list[np.ndarray]:
        """The engine's per-speaker inputs: :meth:`chunks`."""
        return self.chunks()

    def owners(self) -> np.ndarray:
        """``(N,)`` the speaker who holds each position."""
        return np.repeat(np.arange(self.k), np.diff(self.boundaries))

    def layer_of(self, speaker: int) -> int:
        """The layer whose block ``speaker`` holds in the canonical split: ``k - speaker``."""
        if not 0 <= speaker < self.k:
            raise EncodingError(f"speaker {speaker} outside 0..{self.k - 1}")
        return self.k - speaker

    def block(self, layer: int) -> np.ndarray:
        """``(B, 2q)`` the tokens of the block of edge layer ``layer`` (1..k)."""
        if not 1 <= layer <= self.k:
            raise EncodingError(f"layer {layer} outside 1..{self.k}")
        start = self.pad + 2 * self.q * (self.k - layer)
        return self.tokens[:, start : start + 2 * self.q]

    # -- the task's view -------------------------------------------------
    def hop_answer(self) -> np.ndarray:
        """``(B,)`` the pointer-chasing answer read off ``hop_k(tokens)[N-1]`` (a class token)."""
        return answer_from_hop(hop(self.tokens, self.k)[:, -1], self.q)

    def with_boundaries(self, boundaries) -> HopInstance:
        """The same sequences with another split into k contiguous chunks (docs/definitions.md §5)."""
        return HopInstance(self.tokens, np.asarray(boundaries), self.q, self.k, self.pad)

    def __getitem__(self, idx) -> HopInstance:
        """Select sequences along the batch axis (a copy)."""
        sel = np.atleast_1d(np.arange(self.batch)[idx])
        return HopInstance(self.tokens[sel].copy(), self.boundaries, self.q, self.k, self.pad)
