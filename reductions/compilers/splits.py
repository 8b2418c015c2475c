"""Chunk boundaries: how a token sequence is split among k speakers (docs/definitions.md §5).

A split of a length-``n`` sequence into ``k`` contiguous chunks is a tuple
``boundaries = (b_0, ..., b_k)`` with ``0 = b_0 < b_1 < ... < b_k = n``;
speaker ``i`` (speaking order) holds ``tokens[:, b_i:b_{i+1}]``.  Every chunk
has length >= 1.

Examples
--------
>>> even_boundaries(10, 3)
(0, 3, 6, 10)
>>> [c.tolist() for c in split_tokens(np.arange(5)[None], (0, 1, 5))]
[[[0]], [[1, 2, 3, 4]]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protocols.seeding import Seed, as_generator
from reductions.errors import ReductionsError

__all__ = ["SplitError", "check_boundaries", "split_tokens", "even_boundaries", "random_boundaries"]


class SplitError(ReductionsError):
    """Chunk boundaries do not describe k >= 1 contiguous non-empty chunks of the sequence."""


def check_boundaries(boundaries: Sequence[int], n: int | None = None) -> tuple[int, ...]:
    """Validate ``boundaries`` (and that ``b_k == n`` when ``n`` is given); return them as ints.

    Examples
    --------
    >>> check_boundaries([0, 2, 5], 5)
    (0, 2, 5)
    >>> check_boundaries([0, 2, 2, 5])
    Traceback (most recent call last):
    ...
    reductions.compilers.splits.SplitError: boundaries (0, 2, 2, 5) give chunk 1 length 0; every chunk needs length >= 1
    """
    try:
        b = tuple(int(x) for x in boundaries)
    except (TypeError, ValueError):
        raise SplitError(f"boundaries {boundaries!r} are not a sequence of integers") from None
    if len(b) < 2:
        raise SplitError(f"boundaries {b} name no chunk; need (0, b_1, ..., n) with at least 2 entries")
    if b[0] != 0:
        raise SplitError(f"boundaries {b} start at {b[0]}; the first chunk starts at position 0")
    for i in range(len(b) - 1):
        if b[i + 1] - b[i] < 1:
            raise SplitError(f"boundaries {b} give chunk {i} length {b[i + 1] - b[i]}; every chunk needs length >= 1")
    if n is not None and b[-1] != n:
        raise SplitError(f"boundaries {b} end at {b[-1]}; the sequence has length {n}")
    return b


def split_tokens(tokens: np.ndarray, boundaries: Sequence[int]) -> list[np.ndarray]:
    """The k speakers' inputs: ``tokens[:, b_i:b_{i+1}]`` as separate contiguous arrays.

    Examples
    --------
    >>> [c.shape for c in split_tokens(np.zeros((3, 6), int), (0, 2, 3, 6))]
    [(3, 2), (3, 1), (3, 3)]
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise SplitError(f"tokens have shape {tokens.shape}; expected (batch, positions)")
    b = check_boundaries(boundaries, tokens.shape[1])
    return [np.ascontiguousarray(tokens[:, b[i]: b[i + 1]]) for i in range(len(b) - 1)]


def even_boundaries(n: int, k: int) -> tuple[int, ...]:
    """Split ``n`` positions into ``k`` chunks as evenly as possible (earlier chunks shorter).

    Examples
    --------
    >>> even_boundaries(7, 7)
    (0, 1, 2, 3, 4, 5, 6, 7)
    """
    if not 1 <= k <= n:
        raise SplitError(f"cannot split {n} positions into k = {k} non-empty chunks; need 1 <= k <= n")
    return tuple(int(x) for x in (np.arange(k + 1) * n) // k)


def random_boundaries(n: int, k: int, seed: Seed = None) -> tuple[int, ...]:
    """A uniformly random split of ``n`` positions into ``k`` non-empty chunks.

    Each of the ``C(n-1, k-1)`` splits is equally likely (the k-1 inner cuts
    are a uniform subset of ``1..n-1``), so chunks of length 1 occur.

    Examples
    --------
    >>> b = random_boundaries(20, 4, seed=3)
    >>> len(b), b[0], b[-1], all(y > x for x, y in zip(b, b[1:]))
    (5, 0, 20, True)
    """
    if not 1 <= k <= n:
        raise SplitError(f"cannot split {n} positions into k = {k} non-empty chunks; need 1 <= k <= n")
    cuts = np.sort(as_generator(seed).choice(np.arange(1, n), size=k - 1, replace=False))
    return (0, *(int(c) for c in cuts), n)
