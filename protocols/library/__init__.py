"""Protocols for pointer chasing.  ``LIBRARY`` maps CLI names to constructors.

Every constructor takes ``(problem, R=None, s=None)``; ``None`` picks the
protocol's natural budget.
"""

from .full_dump import FullDump
from .guess import Guess
from .one_hop import OneHopPerRound

__all__ = ["OneHopPerRound", "FullDump", "Guess", "LIBRARY"]

LIBRARY = {
    "one-hop-per-round": OneHopPerRound,
    "full-dump": FullDump,
    "guess": Guess,
}
