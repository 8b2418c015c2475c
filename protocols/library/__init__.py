"""Protocols for pointer chasing.  ``LIBRARY`` maps CLI names to constructors.

Every constructor takes ``(problem, R=None, s=None)``; ``None`` picks the
protocol's natural budget.  :func:`best` picks the protocol with the highest
exact success at a given budget (docs/definitions.md §10).
"""

from .backward_collapse import BackwardCollapse
from .best import PREDICTIONS, Best, best, predict_success
from .full_dump import FullDump
from .guess import Guess
from .last_layer_table import LastLayerTable
from .one_hop import OneHopPerRound
from .registry import LIBRARY
from .sampling import NWSampling, Sampling

__all__ = [
    "OneHopPerRound", "FullDump", "Sampling", "NWSampling", "LastLayerTable", "BackwardCollapse", "Guess",
    "LIBRARY", "PREDICTIONS", "Best", "best", "predict_success",
]
