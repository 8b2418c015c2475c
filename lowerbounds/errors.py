"""Exceptions of the science layer.

Every error names the offending value and the rule it breaks.  All subclass
:class:`LowerBoundsError`, a :class:`ValueError`, so the CLIs report them as one
line on stderr with exit code 2.
"""

from __future__ import annotations

__all__ = [
    "LowerBoundsError", "BoundArgumentError", "ThresholdError", "GridError", "ResultsError", "CellError",
    "ExecutorError",
]


class LowerBoundsError(ValueError):
    """Base class of every error raised by :mod:`lowerbounds`."""


class BoundArgumentError(LowerBoundsError):
    """A bound formula got a value outside its domain (e.g. q < 2, k < 1, c <= 0)."""


class ThresholdError(LowerBoundsError):
    """A threshold search got an impossible range, target or trial budget."""


class GridError(LowerBoundsError):
    """A sweep grid is malformed: unknown cell kind, parameter, type or expression."""


class ResultsError(LowerBoundsError):
    """A results file cannot be created or resumed (exists, corrupt, other grid or seed)."""


class CellError(LowerBoundsError):
    """A cell of a sweep failed while running; the message names the cell."""


class ExecutorError(LowerBoundsError):
    """Executor options conflict or a cluster cannot be reached."""
