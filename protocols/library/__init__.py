"""Protocols for pointer chasing.  ``LIBRARY`` maps CLI names to constructors.

Every constructor takes ``(problem, R=None, s=None)``; ``None`` picks the
protocol's natural budget.
"""

from .full_dump import FullDump
from .guess import Guess
from .one_hop import OneHopPerRound
from .sampling import Sampling

__all__ = ["OneHopPerRound", "FullDump", "Sampling", "Guess", "LIBRARY"]

LIBRARY = {
    "one-hop-per-round": OneHopPerRound,
    "full-dump": FullDump,
    "sampling": Sampling,
    "guess": Guess,
}
