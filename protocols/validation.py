"""One validator per rule, shared by every package (sizes, counts, probabilities).

Each raises the caller's error class with a message naming the value and the rule, and
none accepts a ``bool`` where a size is meant (``True`` is an ``int`` to Python, not to a
user who typed ``--bits True``).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

__all__ = ["check_int", "check_real"]


def check_int(
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    error: type[Exception] = ValueError,
) -> int:
    """``value`` as a Python int, if it is an integer (not a bool) in ``[low, high]``.

    Examples
    --------
    >>> check_int("k", 3, low=1)
    3
    >>> check_int("k", True, low=1)
    Traceback (most recent call last):
    ...
    ValueError: k = True; k must be an integer, not a bool
    >>> check_int("q", 0, low=1)
    Traceback (most recent call last):
    ...
    ValueError: q = 0; q must be an integer >= 1
    """
    if isinstance(value, bool):
        raise error(f"{name} = {value!r}; {name} must be an integer, not a bool")
    if not isinstance(value, Integral):
        raise error(f"{name} = {value!r}; {name} must be an integer")
    v = int(value)
    if low is not None and v < low:
        rule = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise error(f"{name} = {v}; {name} must be an integer {rule}")
    if high is not None and v > high:
        rule = f"<= {high}" if low is None else f"in [{low}, {high}]"
        raise error(f"{name} = {v}; {name} must be an integer {rule}")
    return v


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    error: type[Exception] = ValueError,
) -> float:
    """``value`` as a finite float (not a bool) in ``[low, high]``.

    Examples
    --------
    >>> check_real("target", 0.9, low=0.0, high=1.0)
    0.9
    >>> check_real("target", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: target = nan; target must be a finite number
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise error(f"{name} = {value!r}; {name} must be a number")
    v = float(value)
    if not math.isfinite(v):
        raise error(f"{name} = {v}; {name} must be a finite number")
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise error(f"{name} = {v}; {name} must be in [{lo}, {hi}]")
    return v
