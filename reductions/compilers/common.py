"""What every model-to-protocol compiler needs (docs/definitions.md §5), in one place.

- :func:`check_model` / :func:`check_split`: the model is of the family the compiler handles and
  the split fits it (valid boundaries within ``max_len``);
- :func:`check_chunk`: a speaker got exactly its chunk of the split;
- :func:`token_record` / :func:`token_message` / :func:`read_token`: the answer message — the
  output token in ``ceil(log2 V)`` bits, zero fill to s — that ends every compiled protocol;
- :func:`is_answer`: whether (round, speaker) is that last message;
- :func:`expected_board`: the board ``(B, R, k, s)`` a compiled protocol must write, from the
  family's own per-message prediction (what :func:`reductions.verify.verify` compares with).

No compiler imports another; the shared pieces live here.

Examples
--------
>>> import numpy as np
>>> rec = token_record(vocab=10, s=6)
>>> bits = token_message(rec, np.array([3, 9]))
>>> bits.tolist(), read_token(rec, bits).tolist()
([[0, 0, 1, 1, 0, 0], [1, 0, 0, 1, 0, 0]], [3, 9])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from protocols.bits import Record, UInt, bits_for
from reductions.compilers.registry import CompileError
from reductions.compilers.splits import check_boundaries

__all__ = [
    "check_model", "check_split", "check_chunk", "is_answer", "token_record", "token_message", "read_token",
    "expected_board",
]


def check_model(model: Any, cls: type, compiler: str) -> Any:
    """``model`` if it is a ``cls``; else :class:`CompileError` naming the compiler.

    Examples
    --------
    >>> check_model(3, int, "int_to_protocol")
    3
    >>> check_model("gru", int, "int_to_protocol")
    Traceback (most recent call last):
    ...
    reductions.compilers.registry.CompileError: 'gru' is not a int; int_to_protocol compiles int models only
    """
    if not isinstance(model, cls):
        raise CompileError(f"{model!r} is not a {cls.__name__}; {compiler} compiles {cls.__name__} models only")
    return model


def check_split(model: Any, boundaries: Sequence[int]) -> tuple[int, ...]:
    """Valid ``boundaries`` that cover at most ``model.max_len`` positions (models without one take any).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> check_split(SimpleNamespace(max_len=8), (0, 3, 8))
    (0, 3, 8)
    >>> check_split(SimpleNamespace(max_len=8), (0, 3, 9))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reductions.compilers.registry.CompileError: the split (0, 3, 9) covers 9 positions; ... has max_len = 8
    """
    b = check_boundaries(boundaries)
    limit = getattr(model, "max_len", None)
    if limit is not None and b[-1] > limit:
        raise CompileError(f"the split {b} covers {b[-1]} positions; {model!r} has max_len = {limit}")
    return b


def check_chunk(own: np.ndarray, speaker: int, boundaries: Sequence[int]) -> int:
    """The length of ``speaker``'s chunk, after checking ``own`` is ``(B, that length)``.

    Examples
    --------
    >>> check_chunk(np.zeros((2, 3)), 1, (0, 2, 5))
    3
    >>> check_chunk(np.zeros((2, 2)), 1, (0, 2, 5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reductions.compilers.registry.CompileError: speaker 1 got a chunk of shape (2, 2); ... gives it 3 tokens
    """
    n = boundaries[speaker + 1] - boundaries[speaker]
    if own.ndim != 2 or own.shape[1] != n:
        raise CompileError(f"speaker {speaker} got a chunk of shape {own.shape}; "
                           f"the split {tuple(boundaries)} gives it {n} tokens")
    return n


def is_answer(round: int, speaker: int, R: int, k: int) -> bool:
    """Whether (round, speaker) is the last message, the one that carries the output token.

    Examples
    --------
    >>> is_answer(1, 2, R=2, k=3), is_answer(1, 1, R=2, k=3)
    (True, False)
    """
    return round == R - 1 and speaker == k - 1


def token_record(vocab: int, s: int, required: bool = False) -> Record | None:
    """The answer message's layout: the token in ``ceil(log2 V)`` bits then zeros to s bits.

    If the token does not fit in s bits: None, or :class:`CompileError` when ``required``.

    Examples
    --------
    >>> token_record(10, 6).width, token_record(10, 3)
    (6, None)
    >>> token_record(10, 3, required=True)
    Traceback (most recent call last):
    ...
    reductions.compilers.registry.CompileError: s = 3 bits cannot hold a token of vocabulary 10 (4 bits)
    """
    w = bits_for(vocab)
    if w > s:
        if required:
            raise CompileError(f"s = {s} bits cannot hold a token of vocabulary {vocab} ({w} bits)")
        return None
    fields: tuple = (("token", UInt(w)),)
    if s > w:
        fields += (("zero", UInt(1), (s - w,)),)
    return Record(fields)


def token_message(record: Record, tokens: np.ndarray) -> np.ndarray:
    """``(B, s)`` bits of the answer message for the output ``tokens`` ``(B,)``."""
    tokens = np.asarray(tokens)
    fields = {"token": tokens}
    if len(record.fields) > 1:
        fields["zero"] = np.zeros((len(tokens), record.fields[1][2][0]), dtype=np.int64)
    return record.encode(fields)


def read_token(record: Record, last: np.ndarray) -> np.ndarray:
    """The output tokens ``(B,)`` an answer message carries (what ``Protocol.output`` returns)."""
    return record.decode(last)["token"]


def expected_board(batch: int, R: int, k: int, s: int, message: Callable[[int, int], np.ndarray],
                   answer: np.ndarray) -> np.ndarray:
    """The board ``(B, R, k, s)``: ``message(round, speaker)`` everywhere but the last message, ``answer`` there.

    A message narrower than s is zero-padded on the right, as the engine pads it.

    Examples
    --------
    >>> board = expected_board(1, 2, 2, 3, lambda r, i: np.array([[1, r, i]]), np.array([[0, 1]]))
    >>> board[0].tolist()
    [[[1, 0, 0], [1, 0, 1]], [[1, 1, 0], [0, 1, 0]]]
    """
    board = np.zeros((batch, R, k, s), dtype=np.uint8)
    for r in range(R):
        for i in range(k):
            bits = answer if is_answer(r, i, R, k) else message(r, i)
            board[:, r, i, : bits.shape[1]] = bits
    return board
