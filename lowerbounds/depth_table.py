"""Depth against k for the log-depth k-hop construction, MEASURED on sampled sequences ([SHT24] Thm 4.2, §4).

:func:`depth_table` answers, by running transformers on sequences from the
paper's experimental distribution (alphabet 4, N = 100, no two equal
neighbours; docs/definitions.md §3):

1. for each k (default 1..32), the least number of layers L at which the
   construction (:func:`~reductions.constructions.hop_construction.hop_construction`
   with ``layers=L``) is exact — zero wrong answers at every position of every
   sampled sequence, ⊥ positions included — found by trying L = 1, 2, ...;
2. for each depth L (default 2..6) and k (default 0..32), the error of the
   L-layer construction asked for ``hop_k``: it computes ``hop_{k'}`` with
   ``k' = min(k, 2^(L-2))`` (the farthest hop it reaches), and the error is
   the **token error over positions whose true answer ``hop_k`` is not ⊥** —
   the quantity in [SHT24]'s released trained-model errors
   (``../shared/data/sht24_trained_errors.csv``), so the two can be plotted
   side by side.  Errors on ⊥ positions are counted separately.

The same sampled sequences serve every cell (common random numbers, so
differences between cells are not sampling noise).  A construction's weights
depend on k only through ``k'``, so each distinct ``(k', L)`` transformer is
run once and its outputs compared with every ``hop_k`` it stands for.

Examples
--------
>>> t = depth_table(ks=range(1, 6), depths=range(2, 5), error_ks=range(0, 6), trials=20, seed=0)
>>> t.least_exact_depth
(2, 3, 4, 4, 5)
>>> t.cell(3, 2).error, t.cell(4, 4).error
(0.0, 0.0)
>>> t.cell(2, 5).error > 0.3
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from protocols.seeding import Seed, as_seed_sequence
from protocols.validation import check_int
from reductions.constructions.hop_construction import construction_depth, construction_reach, hop_construction
from reductions.khop.sequences import random_sequences
from reductions.khop.task import hop

from .errors import LowerBoundsError

__all__ = ["DepthTable", "DepthCell", "DepthTableError", "depth_table"]


class DepthTableError(LowerBoundsError):
    """Bad arguments for :func:`depth_table` (names the value and the rule)."""


@dataclass(frozen=True)
class DepthCell:
    """One (depth, k) measurement.

    Attributes
    ----------
    layers, k : depth L of the construction and the hop count asked for.
    reached : ``min(k, 2^(L-2))``, the hop count the L-layer construction computes.
    positions : positions whose true ``hop_k`` is not ⊥ (the error's denominator).
    errors : wrong answers among them.
    bottom_positions, bottom_errors : the same for positions whose answer is ⊥.

    Examples
    --------
    >>> c = DepthCell(layers=3, k=4, reached=2, positions=50, errors=40, bottom_positions=50, bottom_errors=0)
    >>> c.error, c.exact
    (0.8, False)
    """

    layers: int
    k: int
    reached: int
    positions: int
    errors: int
    bottom_positions: int
    bottom_errors: int

    @property
    def error(self) -> float:
        """Token error over non-⊥ positions (as in [SHT24]'s data); 0.0 if there are none."""
        return self.errors / self.positions if self.positions else 0.0

    @property
    def exact(self) -> bool:
        """No wrong answer at any position, ⊥ positions included."""
        return self.errors == 0 and self.bottom_errors == 0

    def as_dict(self) -> dict:
        return {**asdict(self), "error": self.error, "exact": self.exact}


@dataclass(frozen=True)
class DepthTable:
    """Result of :func:`depth_table`: measured least exact depths and per-depth errors.

    Attributes
    ----------
    ks : hop counts of the least-depth search.
    least_exact_depth : measured least exact depth for each of ``ks`` (``None`` if
        no depth up to ``max_layers`` was exact on the sample).
    formula_depth : ``ceil(log2 k) + 2`` for each of ``ks``, for comparison.
    cells : the error measurements, one per (depth, k) of the error grid.
    n, alphabet, trials, distinct_neighbours, seed, max_layers : the setting.

    Examples
    --------
    >>> t = depth_table(ks=[3], depths=[3], error_ks=[3], n=20, trials=5, seed=0)
    >>> t.depth_rows(), t.cell(3, 3).reached
    ([{'k': 3, 'least_exact_depth': 4, 'formula_depth': 4}], 2)
    """

    ks: tuple[int, ...]
    least_exact_depth: tuple[int | None, ...]
    formula_depth: tuple[int, ...]
    cells: tuple[DepthCell, ...]
    n: int
    alphabet: int
    trials: int
    distinct_neighbours: bool
    seed: int | None
    max_layers: int

    def cell(self, layers: int, k: int) -> DepthCell:
        """The measurement at depth ``layers`` for ``hop_k``."""
        for c in self.cells:
            if c.layers == layers and c.k == k:
                return c
        raise DepthTableError(f"no cell at layers = {layers}, k = {k} in this table")

    def depth_rows(self) -> list[dict]:
        """One row per k: ``k, least_exact_depth, formula_depth`` (for CSVs and plots)."""
        return [{"k": k, "least_exact_depth": d, "formula_depth": f}
                for k, d, f in zip(self.ks, self.least_exact_depth, self.formula_depth, strict=False)]

    def error_rows(self) -> list[dict]:
        """One row per (depth, k) cell, columns as :class:`DepthCell` plus ``error`` and ``exact``."""
        return [c.as_dict() for c in self.cells]

    def setting(self) -> dict:
        """The sampling setting as plain values."""
        return {"n": self.n, "alphabet": self.alphabet, "trials": self.trials,
                "distinct_neighbours": self.distinct_neighbours, "seed": self.seed,
                "max_layers": self.max_layers}


def _ints(name: str, values: Iterable[Any], low: int) -> tuple[int, ...]:
    try:
        entries = tuple(values)
    except TypeError:
        raise DepthTableError(f"{name} = {values!r} is not a sequence of integers") from None
    return tuple(check_int(f"{name} entry", v, low=low, error=DepthTableError) for v in entries)


def depth_table(
    ks: Iterable[int] = range(1, 33),
    depths: Iterable[int] = range(2, 7),
    error_ks: Iterable[int] = range(0, 33),
    n: int = 100,
    alphabet: int = 4,
    trials: int = 1000,
    distinct_neighbours: bool = True,
    seed: Seed = 0,
    max_layers: int | None = None,
) -> DepthTable:
    """Measure the construction's least exact depth per k and its error per (depth, k).

    Parameters
    ----------
    ks : hop counts (>= 1) whose least exact depth is searched (L = 1, 2, ...).
    depths : depths L (>= 1) of the error grid.
    error_ks : hop counts (>= 0) of the error grid.
    n, alphabet : sequence length N and alphabet size ([SHT24]: 100 and 4).
    trials : number of sampled sequences (every cell uses the same ones).
    distinct_neighbours : sample without equal neighbours ([SHT24]'s setting).
    seed : seed of the sample.
    max_layers : deepest L tried in the search (default ``ceil(log2 max k) + 4``).

    Returns
    -------
    DepthTable

    Examples
    --------
    >>> t = depth_table(ks=[1, 2], depths=[2], error_ks=[0, 1, 2], n=30, trials=10, seed=1)
    >>> t.depth_rows()
    [{'k': 1, 'least_exact_depth': 2, 'formula_depth': 2}, {'k': 2, 'least_exact_depth': 3, 'formula_depth': 3}]
    >>> [round(r["error"], 3) for r in t.error_rows()][:2]
    [0.0, 0.0]
    """
    ks_ = _ints("ks", ks, 1)
    depths_ = _ints("depths", depths, 1)
    eks = _ints("error_ks", error_ks, 0)
    for name, v in (("n", n), ("trials", trials), ("alphabet", alphabet)):
        check_int(name, v, low=1, error=DepthTableError)
    if distinct_neighbours and n >= 2 and alphabet < 2:
        raise DepthTableError(f"alphabet = {alphabet}: sequences without equal neighbours need >= 2 symbols")
    top = max((construction_depth(k) for k in ks_), default=1) + 2
    cap = top if max_layers is None else check_int("max_layers", max_layers, low=1, error=DepthTableError)
    seq = as_seed_sequence(seed)
    x = random_sequences(trials, n, alphabet, distinct_neighbours=distinct_neighbours, seed=seq).astype(np.int64)

    truth: dict[int, np.ndarray] = {}
    outputs: dict[tuple[int, int], np.ndarray] = {}

    def answers(k: int) -> np.ndarray:
        if k not in truth:
            truth[k] = hop(x, k)
        return truth[k]

    def run(k: int, L: int) -> np.ndarray:
        reached = min(k, construction_reach(L))
        if (reached, L) not in outputs:
            outputs[(reached, L)] = hop_construction(reached, max_len=n, alphabet=alphabet, layers=L)(x)
        return outputs[(reached, L)]

    def measure(k: int, L: int) -> DepthCell:
        want, got = answers(k), run(k, L)
        wrong, bottom = got != want, want == -1
        return DepthCell(
            layers=L, k=k, reached=min(k, construction_reach(L)),
            positions=int((~bottom).sum()), errors=int((wrong & ~bottom).sum()),
            bottom_positions=int(bottom.sum()), bottom_errors=int((wrong & bottom).sum()),
        )

    least: list[int | None] = []
    for k in ks_:
        found = None
        for L in range(1, cap + 1):
            if measure(k, L).exact:
                found = L
                break
        least.append(found)
    cells = tuple(measure(k, L) for L in depths_ for k in eks)
    return DepthTable(
        ks=ks_, least_exact_depth=tuple(least), formula_depth=tuple(construction_depth(k) for k in ks_),
        cells=cells, n=int(n), alphabet=int(alphabet), trials=int(trials),
        distinct_neighbours=bool(distinct_neighbours), seed=None if seed is None else int(seq.entropy),
        max_layers=cap,
    )
