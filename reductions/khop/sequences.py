"""Random sequences for the k-hop task, and multi-task batches in [SHT24]'s format (docs/definitions.md §3).

Two distributions over ``alphabet`` symbols ``0..A-1``:

- ``uniform``: every token independent and uniform;
- ``distinct_neighbours=True``: uniform over sequences with no two equal
  neighbours — the first token uniform, each next one uniform over the other
  A-1 symbols.  This is the distribution of the paper's experiments
  (alphabet 4, k = 0..16) and keeps ``hop_k`` free of the fixed points that
  equal neighbours create.

:func:`hop_task_batch` builds training batches for users who train models
elsewhere, in the paper's multi-task format: one token that says how many hops
to make, then the sequence; the target at every position is ``hop_k`` there.
Token conventions (:class:`HopVocab`), for alphabet A and hop counts
``min_hops..max_hops``:

=========================  ==========================================
token                      meaning
=========================  ==========================================
``0 .. A-1``               the sequence's symbols (unchanged)
``A``                      ``none``: the target where ``hop_k`` is ⊥
``A + 1``                  ``blank``: the target under the hop-count token
``A + 2 + (k - min_hops)`` ``hop_token(k)``: "make k hops" (first input)
=========================  ==========================================

``inputs[b] = [hop_token(k_b), x_0, ..., x_{N-1}]`` and
``targets[b] = [blank, hop_k(x)_0, ..., hop_k(x)_{N-1}]`` with ⊥ written as
``none``; the target at input position ``t >= 1`` is ``hop_k(x)[t-1]``, a
function of ``inputs[b, :t+1]`` only, so a causal model predicts it at the
same index (no shift).
The paper's released code uses the same format with the hop tokens placed
first in its vocabulary and sequences of 100 symbols trimmed by two (so
N = 98); the layout here keeps symbols equal to themselves.

Examples
--------
>>> x = random_sequences(2, 6, 3, distinct_neighbours=True, seed=0)
>>> x.shape, bool((x[:, 1:] != x[:, :-1]).all())
((2, 6), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from protocols.seeding import Seed, as_generator
from protocols.validation import check_int
from reductions.errors import ReductionsError
from reductions.khop.task import hop

__all__ = ["random_sequences", "hop_task_batch", "HopVocab", "HopTaskBatch", "SequenceError", "token_dtype"]


class SequenceError(ReductionsError):
    """Bad arguments for a sequence sampler or batch builder (names the value and the rule)."""


def token_dtype(alphabet: int) -> np.dtype:
    """The narrowest unsigned dtype that holds tokens ``0..alphabet-1`` (every k-hop builder uses it).

    Examples
    --------
    >>> token_dtype(256), token_dtype(257)
    (dtype('uint8'), dtype('uint16'))
    """
    for dt in (np.uint8, np.uint16, np.uint32):
        if alphabet - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def random_sequences(
    batch: int,
    length: int,
    alphabet: int,
    *,
    distinct_neighbours: bool = False,
    seed: Seed = None,
    dtype: Any = None,
) -> np.ndarray:
    """``(batch, length)`` random sequences over ``0..alphabet-1`` (docs/definitions.md §3).

    Parameters
    ----------
    batch, length : number of sequences (>= 0) and their length N (>= 0).
    alphabet : number of symbols A (>= 1; >= 2 with ``distinct_neighbours`` and N >= 2).
    distinct_neighbours : if True, uniform over sequences with no two equal
        neighbours (the paper's experimental distribution); else i.i.d. uniform.
    seed : int, SeedSequence, Generator or None.
    dtype : integer dtype of the result; default the narrowest unsigned one.

    Examples
    --------
    >>> random_sequences(2, 8, 4, seed=1).tolist() == random_sequences(2, 8, 4, seed=1).tolist()
    True
    >>> random_sequences(1, 5, 1).tolist()
    [[0, 0, 0, 0, 0]]
    """
    batch = check_int("batch", batch, low=0, error=SequenceError)
    length = check_int("length", length, low=0, error=SequenceError)
    alphabet = check_int("alphabet", alphabet, low=1, error=SequenceError)
    dt = token_dtype(alphabet) if dtype is None else np.dtype(dtype)
    if dt.kind not in "iu" or alphabet - 1 > np.iinfo(dt).max:
        raise SequenceError(f"dtype {dt} cannot hold the symbols 0..{alphabet - 1}")
    rng = as_generator(seed)
    if not distinct_neighbours or length < 2:
        return rng.integers(0, alphabet, (batch, length), dtype=dt)
    if alphabet < 2:
        raise SequenceError(
            f"alphabet = {alphabet}: no sequence of length {length} >= 2 has distinct neighbours"
        )
    # x_t = x_0 + (d_1 + ... + d_t) mod A with d uniform in 1..A-1: each next
    # symbol is uniform over the A-1 symbols that differ from the previous one.
    out = np.empty((batch, length), dtype=dt)
    cur = rng.integers(0, alphabet, (batch, 1), dtype=np.int64)
    steps = rng.integers(1, alphabet, (batch, length - 1), dtype=np.int64)
    out[:, :1] = cur
    block = max(1, (2**62) // alphabet)  # partial sums stay below 2^63
    for s in range(0, length - 1, block):
        part = np.cumsum(steps[:, s : s + block], axis=1)
        part += cur
        part %= alphabet
        out[:, 1 + s : 1 + s + part.shape[1]] = part
        cur = part[:, -1:]
    return out


@dataclass(frozen=True)
class HopVocab:
    """Token layout of :func:`hop_task_batch` (see the module docstring).

    Examples
    --------
    >>> v = HopVocab(alphabet=4, min_hops=0, max_hops=16)
    >>> v.none, v.blank, v.hop_token(0), v.hop_token(16), v.size
    (4, 5, 6, 22, 23)
    >>> v.hops_of(22)
    16
    """

    alphabet: int
    min_hops: int = 0
    max_hops: int = 16

    def __post_init__(self) -> None:
        check_int("alphabet", self.alphabet, low=1, error=SequenceError)
        check_int("min_hops", self.min_hops, low=0, error=SequenceError)
        check_int("max_hops", self.max_hops, low=0, error=SequenceError)
        if self.max_hops < self.min_hops:
            raise SequenceError(f"max_hops = {self.max_hops} < min_hops = {self.min_hops}")

    @property
    def none(self) -> int:
        """Target token where ``hop_k`` is ⊥."""
        return self.alphabet

    @property
    def blank(self) -> int:
        """Target token under the hop-count token."""
        return self.alphabet + 1

    def hop_token(self, k: Any) -> Any:
        """The input token that asks for ``k`` hops (int or array)."""
        kk = np.asarray(k)
        if kk.size and (kk.min() < self.min_hops or kk.max() > self.max_hops):
            bad = kk[(kk < self.min_hops) | (kk > self.max_hops)].flat[0]
            raise SequenceError(f"hop count {bad} outside {self.min_hops}..{self.max_hops}")
        out = self.alphabet + 2 + (kk - self.min_hops)
        return int(out) if out.ndim == 0 else out

    def hops_of(self, token: Any) -> Any:
        """Inverse of :meth:`hop_token`."""
        t = np.asarray(token)
        k = t - (self.alphabet + 2) + self.min_hops
        if t.size and (k.min() < self.min_hops or k.max() > self.max_hops):
            raise SequenceError(f"token {t.flat[0]} is not a hop-count token of this vocabulary")
        return int(k) if k.ndim == 0 else k

    @property
    def size(self) -> int:
        """Vocabulary size: A symbols, none, blank and one token per hop count."""
        return self.alphabet + 2 + (self.max_hops - self.min_hops + 1)


@dataclass(frozen=True, eq=False)
class HopTaskBatch:
    """A multi-task k-hop batch in the paper's format (see the module docstring).

    Attributes
    ----------
    inputs : ``(B, N+1)`` int64 — hop-count token, then the sequence.
    targets : ``(B, N+1)`` int64 — blank, then ``hop_k`` (``none`` for ⊥).
    hops : ``(B,)`` int64 — k per row.
    sequences : ``(B, N)`` — the raw sequences.
    vocab : :class:`HopVocab`.
    """

    inputs: np.ndarray
    targets: np.ndarray
    hops: np.ndarray
    sequences: np.ndarray
    vocab: HopVocab


def hop_task_batch(
    batch: int,
    length: int,
    alphabet: int = 4,
    *,
    min_hops: int = 0,
    max_hops: int = 16,
    hops: Any = None,
    distinct_neighbours: bool = True,
    seed: Seed = None,
) -> HopTaskBatch:
    """A multi-task k-hop batch: ``[hop_token(k), x]`` -> ``[blank, hop_k(x)]`` (docs/definitions.md §3).

    Parameters
    ----------
    batch, length, alphabet : B sequences of length N over A symbols
        (defaults follow the paper: A = 4, hops 0..16, distinct neighbours).
    min_hops, max_hops : range of hop counts the vocabulary covers.
    hops : None (k uniform in ``min_hops..max_hops`` per row), an int, or ``(B,)`` ints.
    distinct_neighbours : sampling distribution of the sequences.
    seed : seed; same seed, same batch.

    Examples
    --------
    >>> tb = hop_task_batch(3, 10, hops=2, seed=0)
    >>> tb.inputs.shape, tb.targets.shape, tb.hops.tolist()
    ((3, 11), (3, 11), [2, 2, 2])
    >>> int(tb.inputs[0, 0]) == tb.vocab.hop_token(2), int(tb.targets[0, 0]) == tb.vocab.blank
    (True, True)
    """
    vocab = HopVocab(alphabet, min_hops, max_hops)
    batch = check_int("batch", batch, low=0, error=SequenceError)
    rng = as_generator(seed)
    x = random_sequences(batch, length, alphabet, distinct_neighbours=distinct_neighbours, seed=rng)
    if hops is None:
        ks = rng.integers(min_hops, max_hops + 1, batch)
    else:
        h = np.asarray(hops)
        if h.dtype.kind not in "iu" or h.ndim > 1 or (h.ndim == 1 and h.shape != (batch,)):
            raise SequenceError(f"hops must be an int or {batch} ints; got {hops!r}")
        ks = np.broadcast_to(h, (batch,)).astype(np.int64)
    token = np.asarray(vocab.hop_token(ks), dtype=np.int64).reshape(batch)
    inputs = np.empty((batch, length + 1), dtype=np.int64)
    inputs[:, 0] = token
    inputs[:, 1:] = x
    targets = np.empty_like(inputs)
    targets[:, 0] = vocab.blank
    for k in np.unique(ks).tolist():  # one vectorised hop per distinct k (at most 17 by default)
        rows = np.flatnonzero(ks == k)
        h = hop(x[rows], k)
        targets[rows, 1:] = np.where(h < 0, vocab.none, h)
    return HopTaskBatch(inputs, targets, np.asarray(ks, dtype=np.int64), x, vocab)
