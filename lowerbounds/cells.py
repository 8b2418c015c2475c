"""Cell kinds: what one cell of a sweep computes, as a registry of plain functions.

A *cell* is one unit of work of a sweep: a kind name and a dict of parameters.
A *kind* is a plain module-level function ``run(params, seed) -> row`` with a
declared parameter list (names, types, defaults).  ``row`` is a dict whose keys
are columns of :data:`lowerbounds.results.COLUMNS` (``key`` and ``kind`` are
filled in by the sweep); kind-specific data goes in ``row["extra"]`` (a dict,
written as canonical JSON).

Registered here:

``"protocol"``
    A library protocol (``protocols.library.LIBRARY``) on (q, k) pointer
    chasing with R rounds and s bits (``None``: the protocol's natural
    budget), ``trials`` Monte-Carlo trials -> successes, rate and
    Clopper–Pearson interval (:func:`protocols.estimate_success`).
``"threshold"``
    :func:`lowerbounds.threshold.find_threshold` for a library protocol at
    (q, k, R) -> the least s reaching ``target``, its bracket and every step.

Adding a kind (e.g. a compiled model) is one call, at import time of the module
that defines it::

    register_cell_kind("model", run_model_cell, params=(Param("family", str), Param("q", int), ...))

and, so that grids find it without an explicit import, the module's name in
:data:`KIND_MODULES` (``lowerbounds.model_cells`` is listed: "budget", "depth").

``run`` must be a module-level function (worker processes import it by name),
deterministic given ``(params, seed)``, and should only return Python or numpy
scalars, strings, and a JSON-serialisable ``extra``.

Seeds.  A cell's seed is ``child_seed(root, *words)`` where ``words`` are the
first 128 bits of SHA-256 of the cell's canonical key (:attr:`Cell.key`), so it
depends only on the root seed and the cell's parameters — not on the grid, the
executor, the number of workers or the order of completion.

Examples
--------
>>> cell = make_cell("protocol", {"protocol": "one-hop-per-round", "q": 64, "k": 3, "trials": 100})
>>> cell.key
'{"R":null,"confidence":0.95,"k":3,"kind":"protocol","order":"hard","protocol":"one-hop-per-round","q":64,"s":null,"trials":100,"version":"decision"}'
>>> row = cell.run(seed=0)
>>> row["R"], row["s"], row["successes"], row["trials"]
(3, 6, 100, 100)
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protocols import PointerChasing, estimate_success
from protocols.budget import BudgetError, Footprint, footprint, format_bytes, memory_budget, require
from protocols.library import LIBRARY
from protocols.seeding import child_seed
from protocols.validation import check_int

from .errors import GridError
from .threshold import check_search, find_threshold

__all__ = [
    "Param",
    "CellKind",
    "Cell",
    "CELL_KINDS",
    "KIND_MODULES",
    "load_kind_modules",
    "register_cell_kind",
    "make_cell",
    "cell_seed",
    "canonical_key",
    "execute_cell",
    "fits_budget",
    "MAX_TRIALS",
    "protocol_cell",
    "threshold_cell",
]

_REQUIRED = object()

#: Most trials one cell may ask for: 10^9 trials are hours of work even for the cheapest protocol.
MAX_TRIALS = 10**9


@dataclass(frozen=True)
class Param:
    """One parameter of a cell kind.

    ``type`` is ``int``, ``float``, ``str`` or ``bool``; ``default`` is used when a
    grid omits it (no default: required); ``nullable`` allows ``None``;
    ``choices`` restricts the values.
    """

    name: str
    type: type
    default: Any = _REQUIRED
    nullable: bool = False
    choices: tuple | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def normalise(self, value: Any, kind: str) -> Any:
        """``value`` as this parameter's type, or a :class:`GridError` naming the rule."""
        where = f"{kind} cell parameter {self.name!r}"
        if value is None:
            if self.nullable:
                return None
            raise GridError(f"{where} is null; it must be a {self.type.__name__}")
        if self.type is int:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise GridError(f"{where} = {value!r}; it must be an integer")
            value = int(value)
        elif self.type is float:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise GridError(f"{where} = {value!r}; it must be a number")
            value = float(value)
            if not math.isfinite(value):
                raise GridError(f"{where} = {value!r}; it must be finite")
        elif self.type is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise GridError(f"{where} = {value!r}; it must be true or false")
            value = bool(value)
        elif self.type is str:
            if not isinstance(value, str):
                raise GridError(f"{where} = {value!r}; it must be a string")
        else:  # pragma: no cover - declared by code, not users
            raise GridError(f"{where} has unsupported type {self.type!r}")
        if self.choices is not None and value not in self.choices:
            raise GridError(f"{where} = {value!r}; it must be one of {', '.join(map(repr, self.choices))}")
        return value


#: ``run(params, seed) -> row``.
CellFunction = Callable[[Mapping[str, Any], np.random.SeedSequence], Mapping[str, Any]]


@dataclass(frozen=True)
class CellKind:
    """A registered cell kind: its function, parameters and an optional cheap check."""

    name: str
    run: CellFunction
    params: tuple[Param, ...]
    check: Callable[[Mapping[str, Any]], None] | None = None

    def normalise(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared parameter, typed and defaulted; unknown or missing ones raise."""
        known = {p.name for p in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise GridError(
                f"{self.name} cell has unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        out = {}
        for p in self.params:
            if p.name in params:
                out[p.name] = p.normalise(params[p.name], self.name)
            elif p.required:
                raise GridError(f"{self.name} cell is missing required parameter {p.name!r}")
            else:
                out[p.name] = p.default
        if self.check is not None:
            self.check(out)
        return out


#: Kind name -> :class:`CellKind`.
CELL_KINDS: dict[str, CellKind] = {}

#: Modules that register further kinds when imported; loaded on first need of an
#: unknown kind, so a grid can use them without the caller importing them.
KIND_MODULES: list[str] = ["lowerbounds.model_cells", "lowerbounds.trained_cells", "lowerbounds.mpc_cells",
                           "lowerbounds.exponent"]


def load_kind_modules() -> None:
    """Import every module of :data:`KIND_MODULES` that exists (each registers its kinds)."""
    for name in KIND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports is missing: say so
                raise


def register_cell_kind(
    name: str,
    run: CellFunction,
    params: tuple[Param, ...] | list[Param],
    check: Callable[[Mapping[str, Any]], None] | None = None,
    replace: bool = False,
) -> CellKind:
    """Register a cell kind under ``name`` (``replace=True`` to redefine one).

    Examples
    --------
    >>> def square(params, seed):
    ...     return {"name": "square", "q": params["q"], "extra": {"q2": params["q"] ** 2}}
    >>> kind = register_cell_kind("doc-square", square, [Param("q", int)])
    >>> make_cell("doc-square", {"q": 3}).run(0)["extra"]
    {'q2': 9}
    >>> del CELL_KINDS["doc-square"]
    """
    if not isinstance(name, str) or not name or name in ("kind", "key"):
        raise GridError(f"cell kind name {name!r} is invalid; use a non-empty string other than 'kind'/'key'")
    if name in CELL_KINDS and not replace:
        raise GridError(f"cell kind {name!r} is already registered; pass replace=True to redefine it")
    params = tuple(params)
    names = [p.name for p in params]
    if len(set(names)) != len(names) or "kind" in names:
        raise GridError(f"cell kind {name!r} declares parameters {names}; names must be unique and not 'kind'")
    kind = CellKind(name, run, params, check)
    CELL_KINDS[name] = kind
    return kind


def canonical_key(kind: str, params: Mapping[str, Any]) -> str:
    """The canonical key of a cell: compact JSON of ``{"kind": kind, **params}`` with sorted keys.

    Examples
    --------
    >>> canonical_key("protocol", {"q": 8, "k": 2})
    '{"k":2,"kind":"protocol","q":8}'
    """
    return json.dumps({"kind": kind, **params}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def cell_seed(root: int, key: str) -> np.random.SeedSequence:
    """The seed of the cell with canonical ``key`` under root seed ``root``.

    Examples
    --------
    >>> a = cell_seed(0, '{"kind":"x"}').generate_state(1)
    >>> b = cell_seed(0, '{"kind":"x"}').generate_state(1)
    >>> bool((a == b).all()), bool((a == cell_seed(1, '{"kind":"x"}').generate_state(1)).all())
    (True, False)
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4)]
    return child_seed(root, *words)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def execute_cell(run: CellFunction, kind: str, params: Mapping[str, Any], key: str, root: int) -> dict[str, Any]:
    """Run one cell (in whatever process the executor chose) and return its row.

    ``run`` is passed by reference rather than looked up, so a worker process
    does not need the kind registered; pickling imports its module.
    """
    row = {k: _plain(v) for k, v in dict(run(params, cell_seed(root, key))).items()}
    row["key"], row["kind"] = key, kind
    return row


@dataclass(frozen=True)
class Cell:
    """One cell of a sweep: a registered kind and its normalised parameters."""

    kind: str
    params: Mapping[str, Any] = field(compare=False)
    key: str = ""

    def run(self, seed: int = 0) -> dict[str, Any]:
        """Run the cell in this process under root seed ``seed``."""
        return execute_cell(CELL_KINDS[self.kind].run, self.kind, self.params, self.key, seed)


def make_cell(kind: str, params: Mapping[str, Any]) -> Cell:
    """Validate and normalise ``params`` for ``kind`` and return the :class:`Cell`."""
    if kind not in CELL_KINDS:
        load_kind_modules()
    if kind not in CELL_KINDS:
        raise GridError(f"unknown cell kind {kind!r}; registered kinds: {', '.join(sorted(CELL_KINDS))}")
    norm = CELL_KINDS[kind].normalise(params)
    return Cell(kind, norm, canonical_key(kind, norm))


# -- the built-in kinds -------------------------------------------------------------
_VERSION = Param("version", str, "decision", choices=("decision", "search"))
_ORDER = Param("order", str, "hard", choices=("hard", "easy"))


def _problem(params: Mapping[str, Any]) -> PointerChasing:
    return PointerChasing(q=params["q"], k=params["k"], version=params["version"], order=params["order"])


def _build(params: Mapping[str, Any]):
    problem = _problem(params)
    budget = {n: params[n] for n in ("R", "s") if params.get(n) is not None}
    return problem, LIBRARY[params["protocol"]](problem, **budget)


def _check_protocol_name(params: Mapping[str, Any]) -> None:
    if params["protocol"] not in LIBRARY:
        raise GridError(f"unknown protocol {params['protocol']!r}; the library has {', '.join(sorted(LIBRARY))}")


def fits_budget(what: str, nbytes: int) -> None:
    """Refuse (:class:`GridError`) a cell one of whose instances alone exceeds the memory budget.

    The budget is :func:`protocols.budget.memory_budget` (``$KPARTY_MEMORY_BUDGET``,
    default 1 GiB), the same the engine chunks its trials by in the workers.

    Examples
    --------
    >>> fits_budget("one instance", 1024)
    >>> fits_budget("one instance", 2**45)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lowerbounds.errors.GridError: one instance needs 32.0 TiB; the memory budget is ...
    """
    try:
        require(nbytes, what)
    except BudgetError as exc:
        raise GridError(str(exc)) from None


@functools.lru_cache(maxsize=1024)
def _protocol_footprint(protocol: str, q: int, k: int, R: int | None, s: int | None, version: str,
                        order: str) -> Footprint:
    """Build the protocol once per budget (a grid often repeats it with other trials) and size one instance."""
    params = {"protocol": protocol, "q": q, "k": k, "R": R, "s": s, "version": version, "order": order}
    problem, built = _build(params)
    return footprint(built, problem)


def _check_protocol(params: Mapping[str, Any]) -> None:
    _check_protocol_name(params)
    check_int("trials", params["trials"], low=1, high=MAX_TRIALS, error=GridError)
    _check_confidence(params)
    try:
        fp = _protocol_footprint(*(params[n] for n in ("protocol", "q", "k", "R", "s", "version", "order")))
    except ValueError as exc:
        raise GridError(f"protocol cell {canonical_key('protocol', params)}: {exc}") from None
    if fp.total > memory_budget():
        fits_budget(f"protocol cell {canonical_key('protocol', params)}: {fp.describe()}", fp.total)


def _check_confidence(params: Mapping[str, Any]) -> None:
    if not 0 < params["confidence"] < 1:
        raise GridError(f"confidence = {params['confidence']!r}; it must lie strictly between 0 and 1")


def protocol_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """Success of a library protocol (the ``"protocol"`` kind).

    Examples
    --------
    >>> p = CELL_KINDS["protocol"].normalise({"protocol": "guess", "q": 16, "k": 2, "trials": 50})
    >>> row = protocol_cell(p, cell_seed(0, "x"))
    >>> row["name"], row["R"], row["s"], row["trials"], 0 <= row["success"] <= 1
    ('guess', 1, 1, 50, True)
    """
    problem, protocol = _build(params)
    est = estimate_success(protocol, problem, params["trials"], seed=seed, confidence=params["confidence"])
    lo, hi = est.proportion_ci()
    return {
        "name": params["protocol"], "q": params["q"], "k": params["k"], "R": protocol.R, "s": protocol.s,
        "trials": est.trials, "successes": est.successes, "success": est.rate, "ci_low": lo, "ci_high": hi,
        "confidence": est.confidence, "bits_written": est.bits_written, "max_bits_used": est.max_bits_used,
        "extra": {},
    }


register_cell_kind(
    "protocol",
    protocol_cell,
    (
        Param("protocol", str), Param("q", int), Param("k", int),
        Param("R", int, None, nullable=True), Param("s", int, None, nullable=True),
        Param("trials", int, 1000), _VERSION, _ORDER, Param("confidence", float, 0.95),
    ),
    check=_check_protocol,
)


def _check_threshold(params: Mapping[str, Any]) -> None:
    _check_protocol_name(params)
    key = canonical_key("threshold", params)
    try:
        problem = _problem(params)
        s_max = check_search(params["q"], params["k"], params["R"], params["target"], params["confidence"],
                             params["batch"], params["max_trials"], params["s_min"], params["s_max"],
                             params["resolution"], params["growth"])
    except ValueError as exc:
        raise GridError(f"threshold cell {key}: {exc}") from None
    check_int("max_trials", params["max_trials"], high=MAX_TRIALS, error=GridError)
    # The search starts at s_min; one instance there must fit (larger s are tried only if needed).
    board = params["k"] * params["R"] * min(params["s_min"], s_max)
    fits_budget(f"threshold cell {key}: one instance (inputs {format_bytes(problem.instance_bytes())}, "
                f"board {format_bytes(board)})", problem.instance_bytes() + board)


def threshold_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """Threshold search (the ``"threshold"`` kind): row columns refer to the step at the threshold s.

    ``trials`` is the total spent by the search; ``successes``, ``success`` and
    the interval are those of the step at ``s`` (whose own trial count is
    ``extra["trials_at_s"]``); ``extra["steps"]`` lists every step.
    """
    r = find_threshold(
        params["protocol"], params["q"], params["k"], params["R"], params["target"], seed=seed,
        confidence=params["confidence"], batch=params["batch"], max_trials=params["max_trials"],
        s_min=params["s_min"], s_max=params["s_max"], resolution=params["resolution"],
        growth=params["growth"], version=params["version"], order=params["order"],
    )
    at = r.step_at(r.threshold)
    return {
        "name": params["protocol"], "q": r.q, "k": r.k, "R": r.R, "s": r.threshold,
        "trials": r.trials, "successes": at.successes if at else None, "success": at.rate if at else None,
        "ci_low": at.ci_low if at else None, "ci_high": at.ci_high if at else None,
        "confidence": r.confidence, "target": r.target, "s_lo": r.bracket[0], "s_hi": r.bracket[1],
        "extra": {"trials_at_s": at.trials if at else None, "steps": [st.as_dict() for st in r.steps]},
    }


register_cell_kind(
    "threshold",
    threshold_cell,
    (
        Param("protocol", str), Param("q", int), Param("k", int), Param("R", int),
        Param("target", float, 2 / 3), Param("confidence", float, 0.95), Param("batch", int, 64),
        Param("max_trials", int, 4096), Param("s_min", int, 1), Param("s_max", int, None, nullable=True),
        Param("resolution", float, 1.0), Param("growth", float, 2.0), _VERSION, _ORDER,
    ),
    check=_check_threshold,
)
