"""``LIBRARY``: CLI name -> protocol constructor ``(problem, R=None, s=None)`` for every library protocol."""

from .backward_collapse import BackwardCollapse
from .full_dump import FullDump
from .guess import Guess
from .last_layer_table import LastLayerTable
from .one_hop import OneHopPerRound
from .sampling import NWSampling, Sampling

__all__ = ["LIBRARY"]

LIBRARY = {
    "one-hop-per-round": OneHopPerRound,
    "full-dump": FullDump,
    "sampling": Sampling,
    "nw-sampling": NWSampling,
    "last-layer-table": LastLayerTable,
    "backward-collapse": BackwardCollapse,
    "guess": Guess,
}
