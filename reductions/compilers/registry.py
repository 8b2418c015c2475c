"""``to_protocol(model, boundaries)``: one compiler per model family (docs/definitions.md §5).

The registry :data:`COMPILERS` maps a model's ``family`` name to the module
that compiles it (plain dict of module paths, imported on first use, so the
registry has no import cycles and costs nothing until used).  Other families
plug in by adding one line here.

A compiler module defines

- ``compile(model, boundaries) -> protocols.Protocol`` — the (k, R, s) protocol
  with ``k = len(boundaries) - 1`` whose speaker ``i`` gets
  ``tokens[:, b_i:b_{i+1}]`` (see :func:`reductions.compilers.splits.split_tokens`) and
  whose output is the model's output token at the last position;
- ``bits_formula(model) -> int`` — s as docs/definitions.md §5 states it, computed from
  the model's dimensions (never from the compiled protocol);
- ``rounds_formula(model) -> int`` — R as docs/definitions.md §5 states it;
- optionally ``reference(model, tokens, boundaries) -> (outputs, board)``: the
  model's own outputs ``(B, N)`` and, if the family can say it, the board
  ``(B, R, k, s)`` the protocol must write (else ``None``).  Used by
  :func:`reductions.verify.verify` to check transcripts, not only answers.

Examples
--------
>>> {'elman', 'fsm', 'gru', 'kernel', 'sparse', 'cot'} <= set(COMPILERS)
True
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from protocols import Protocol
from reductions.errors import ReductionsError

__all__ = ["COMPILERS", "CompileError", "compiler_for", "to_protocol", "bits_formula", "rounds_formula"]

#: model family -> module that compiles it (see the module docstring for the contract).
COMPILERS: dict[str, str] = {
    "fsm": "reductions.compilers.rnn_to_protocol",
    "elman": "reductions.compilers.rnn_to_protocol",
    "gru": "reductions.compilers.rnn_to_protocol",
    "lstm": "reductions.compilers.rnn_to_protocol",
    "ssm": "reductions.compilers.rnn_to_protocol",
    "kernel": "reductions.compilers.kernelformer_to_protocol",
    "sparse": "reductions.compilers.sparse_attention_to_protocol",
    "cot": "reductions.compilers.cot_to_protocol",
    "transformer": "reductions.compilers.transformer_to_protocol",
}


class CompileError(ReductionsError):
    """No compiler for a model, or a model/boundaries pair a compiler cannot handle."""


def compiler_for(model: Any) -> ModuleType:
    """The compiler module registered for ``model.family``.

    Examples
    --------
    >>> from reductions.models import LSTM
    >>> compiler_for(LSTM.random(vocab=2, layers=1, width=1, seed=0)).__name__
    'reductions.compilers.rnn_to_protocol'
    """
    family = getattr(model, "family", None)
    if family not in COMPILERS:
        raise CompileError(f"no compiler registered for model family {family!r}; known: {sorted(COMPILERS)}")
    return importlib.import_module(COMPILERS[family])


def to_protocol(model: Any, boundaries: Sequence[int]) -> Protocol:
    """Compile ``model`` for the split ``boundaries`` into an ordinary :class:`protocols.Protocol`.

    Examples
    --------
    >>> from reductions.models import GRU
    >>> p = to_protocol(GRU.random(vocab=5, layers=2, width=3, precision=10, seed=0), (0, 4, 9))
    >>> p.k, p.R, p.s
    (2, 2, 30)
    """
    return compiler_for(model).compile(model, boundaries)


def bits_formula(model: Any, boundaries: Sequence[int] | None = None) -> int:
    """Message size s from docs/definitions.md §5 for ``model``'s family and dimensions.

    Families whose s depends on the split (the full transformer: its longest
    chunk) define ``bits_formula(model, boundaries)``; they get ``boundaries``.
    """
    fn = compiler_for(model).bits_formula
    if boundaries is not None and _takes_boundaries(fn):
        return int(fn(model, boundaries))
    return int(fn(model))


def _takes_boundaries(fn: Any) -> bool:
    return len(inspect.signature(fn).parameters) >= 2


def rounds_formula(model: Any) -> int:
    """Number of rounds R from docs/definitions.md §5 for ``model``'s family and dimensions.

    Examples
    --------
    >>> from reductions.models import LSTM
    >>> rounds_formula(LSTM.random(vocab=2, layers=3, width=3, precision=8, seed=0))
    3
    """
    return int(compiler_for(model).rounds_formula(model))
