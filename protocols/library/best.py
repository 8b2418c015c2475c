"""The pointwise best protocol kparty knows at (q, k, R, s), by exact closed-form success (docs/definitions.md §10)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..bits import bits_for
from ..problems.pointer_chasing import PointerChasing
from .backward_collapse import BackwardCollapse
from .last_layer_table import LastLayerTable
from .registry import LIBRARY
from .sampling import NWSampling, Sampling

__all__ = ["PREDICTIONS", "Best", "best", "predict_success"]


def _one_hop(q: int, k: int, R: int, s: int, version: str = "decision") -> float:
    if s < bits_for(q):
        return float("nan")
    return 1.0 if R >= k else (1.0 / q if version == "search" else max(q // 2, q - q // 2) / q)


def _guess(q: int, k: int, R: int, s: int, version: str = "decision") -> float:
    return 1.0 / q if version == "search" else max(q // 2, q - q // 2) / q


def _full_dump(q: int, k: int, R: int, s: int, version: str = "decision") -> float:
    return 1.0 if s >= q * bits_for(q) else float("nan")


#: Library name -> exact success ``(q, k, R, s, version) -> float`` under the hard distribution
#: (uniform matchings, classes ``2u >= q``, hard order); NaN where the protocol cannot be built.
PREDICTIONS: dict[str, Callable[..., float]] = {
    "sampling": Sampling.predict_success,
    "nw-sampling": NWSampling.predict_success,
    "last-layer-table": LastLayerTable.predict_success,
    "backward-collapse": BackwardCollapse.predict_success,
    "one-hop-per-round": _one_hop,
    "full-dump": _full_dump,
    "guess": _guess,
}


@dataclass(frozen=True)
class Best:
    """The protocol with the highest exact success at one budget, and that success."""

    name: str
    predicted: float
    q: int
    k: int
    R: int
    s: int

    def build(self, problem: PointerChasing):
        """The protocol itself for ``problem`` at this budget."""
        return LIBRARY[self.name](problem, R=self.R, s=self.s)


def predict_success(name: str, q: int, k: int, R: int, s: int, version: str = "decision") -> float:
    """Exact success of library protocol ``name`` at (q, k, R, s), NaN if it cannot be built there.

    Examples
    --------
    >>> predict_success("last-layer-table", 1024, 8, 7, 147)
    1.0
    """
    if name not in PREDICTIONS:
        raise ValueError(f"no closed form for {name!r}; known: {', '.join(sorted(PREDICTIONS))}")
    try:  # the constructor is the source of truth for which budgets are valid
        LIBRARY[name](PointerChasing(q=q, k=k, version=version), R=R, s=s)
    except ValueError:
        return float("nan")
    return float(PREDICTIONS[name](q, k, R, s, version))


def best(q: int, k: int, R: int, s: int, version: str = "decision") -> Best:
    """The library protocol with the highest exact success at (q, k, R, s) under the hard distribution.

    Ties go to ``sampling``, then to the first in :data:`PREDICTIONS`.

    Examples
    --------
    >>> b = best(4096, 16, 15, 60)
    >>> b.name, round(b.predicted, 3)
    ('sampling', 0.658)
    >>> best(4096, 16, 1, 4096).name  # one round: only the collapsed tables reach certainty
    'backward-collapse'
    """
    scores = {name: predict_success(name, q, k, R, s, version) for name in PREDICTIONS}
    name = max((n for n in scores if scores[n] == scores[n]), key=lambda n: (scores[n], n == "sampling"))
    return Best(name, scores[name], q, k, R, s)
