"""Communication problems: distributions of k-party instances with right answers."""

from .base import Problem
from .pointer_chasing import PointerChasing, PointerChasingInstances

__all__ = ["Problem", "PointerChasing", "PointerChasingInstances"]
