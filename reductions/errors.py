"""The one exception base of :mod:`reductions`.

Every error the package raises derives from :class:`ReductionsError`, a
:class:`ValueError` (like ``protocols.ProtocolError`` and
``lowerbounds.LowerBoundsError``), so a caller can catch the whole package at
once and the CLIs report any of them as one line on stderr with exit code 2.
The specific classes stay in the modules whose rules they enforce (a
``CompileError`` lives beside the compiler registry, a ``FixedPointError``
beside the arithmetic) and name the offending value and the rule.

Examples
--------
>>> from reductions.compilers.registry import CompileError
>>> from reductions.arithmetic.fixed_point import FixedPointOverflow
>>> issubclass(CompileError, ReductionsError), issubclass(FixedPointOverflow, ReductionsError)
(True, True)
"""

from __future__ import annotations

__all__ = ["ReductionsError"]


class ReductionsError(ValueError):
    """Base class of every error raised by :mod:`reductions` (a bad model, split, encoding, format or check)."""
