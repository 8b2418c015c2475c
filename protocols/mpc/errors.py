"""Named errors of the MPC engine (docs/definitions.md §9): every limit of Def. 2.3, refused by name.

Each error that a round can raise names the round and the machine, and the
number that broke the rule, so a failing protocol says where it failed.  All
subclass :class:`MPCError`, itself a :class:`~protocols.errors.ProtocolError`
(so a ``ValueError``: the CLIs print one line and exit 2).
"""

from __future__ import annotations

from ..errors import ProtocolError

__all__ = [
    "MPCError",
    "MPCConfigError",
    "MachineLimitError",
    "MemoryLimitExceeded",
    "SendLimitExceeded",
    "ReceiveLimitExceeded",
    "AddressError",
    "WordError",
    "IsolationError",
    "OutputPlacementError",
    "RoundLimitExceeded",
]


class MPCError(ProtocolError):
    """Base class: an MPC protocol or configuration broke a rule of docs/definitions.md §9."""


class MPCConfigError(MPCError):
    """A bad machine count, memory size, word size or round limit (before any round runs)."""


class MachineLimitError(MPCError):
    """A machine broke a per-round limit; ``round`` and ``machine`` say where."""

    def __init__(self, message: str, round: int, machine: int, words: int, limit: int) -> None:
        super().__init__(message)
        self.round, self.machine, self.words, self.limit = round, machine, words, limit


class MemoryLimitExceeded(MachineLimitError):
    """A machine would hold more than s words (what it keeps plus what it receives, or its input)."""


class SendLimitExceeded(MachineLimitError):
    """A machine sent more than s words in one round."""


class ReceiveLimitExceeded(MachineLimitError):
    """A machine was sent more than s words in one round."""


class AddressError(MPCError):
    """A message names a sender or receiver that is not a machine, or a machine forged another's name."""


class WordError(MPCError):
    """A value that is not a p-bit integer word (a float, or out of range)."""


class IsolationError(MPCError):
    """A machine's computation depended on memory it does not hold (another machine's words)."""


class OutputPlacementError(MPCError):
    """The output is not on the first ceil(n_out / s) machines, or is incomplete."""


class RoundLimitExceeded(MPCError):
    """A protocol did not halt within the round limit."""
