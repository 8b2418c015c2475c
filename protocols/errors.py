"""Exceptions raised by the protocol engine, codecs and problems.

Every error names the offending value and the rule it breaks, so a failing
experiment says what went wrong without a debugger.  All subclass
:class:`ProtocolError`, which is a :class:`ValueError`.
"""

from __future__ import annotations

__all__ = [
    "ProtocolError",
    "MessageTooLong",
    "NonBinaryMessage",
    "BatchShapeError",
    "InputCountError",
    "VisibilityError",
    "InvalidInstance",
    "CodecError",
    "ReplayMismatch",
    "TranscriptError",
]


class ProtocolError(ValueError):
    """Base class: a protocol, input or instance broke a rule of docs/definitions.md §1–2."""


class MessageTooLong(ProtocolError):
    """A speaker wrote more than s bits."""


class NonBinaryMessage(ProtocolError):
    """A message contained a value other than 0 or 1."""


class BatchShapeError(ProtocolError):
    """An array does not have the batch shape the engine expects."""


class InputCountError(ProtocolError):
    """The number of per-speaker inputs differs from k."""


class VisibilityError(ProtocolError):
    """A speaker tried to read a message that is not on the board yet."""


class InvalidInstance(ProtocolError):
    """A problem instance violates its definition (e.g. a layer is not a matching)."""


class CodecError(ProtocolError):
    """A value does not fit the codec it is encoded with."""


class ReplayMismatch(ProtocolError):
    """A replayed run differs from the recorded transcript."""


class TranscriptError(ProtocolError):
    """A saved transcript is malformed (missing key, wrong type, sizes that disagree)."""
