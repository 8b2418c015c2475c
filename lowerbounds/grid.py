"""Sweep grids: a JSON file that expands to a list of cells.

Format
------
A grid is a JSON object::

    {
      "description": "free text (optional)",
      "seed": 0,
      "cells": [
        {"kind": "protocol", "protocol": "sampling", "q": 1024, "k": [3, 4, 8],
         "R": "k - 1", "s": {"geom": [16, 4096, 9]}, "trials": 2000},
        {"kind": "threshold", "protocol": "sampling", "q": [256, 1024], "k": [3, 4],
         "R": "k - 1", "resolution": 1.25}
      ]
    }

- ``seed`` (optional, default 0): the root seed; ``sweep(seed=...)`` and the
  CLI's ``--seed`` override it.  Each cell's own seed derives from the root
  seed and the cell's parameters only (:func:`lowerbounds.cells.cell_seed`).
- ``cells``: a list of *blocks*.  ``kind`` names a registered cell kind
  (:data:`lowerbounds.cells.CELL_KINDS`: ``protocol``, ``threshold``, ...); every
  other key is a parameter of that kind.  A block expands to the cartesian
  product of its parameter values, parameters taken in the order written.
- A parameter value is one of

  * a scalar (number, string, ``null``, ``true``/``false``): one value;
  * a list: one value per element (elements may themselves be expressions);
  * for a numeric parameter, a string: an arithmetic **expression** over
    integers and the parameters written *before* it in the block, with
    ``+ - * / // % **`` and parentheses (e.g. ``"k - 1"``, ``"2*k*q + 1"``);
  * ``{"range": [start, stop]}`` or ``{"range": [start, stop, step]}``: the
    integers of Python's ``range`` (stop excluded; bounds may be expressions);
  * ``{"geom": [start, stop, num]}``: ``num`` integers geometrically spaced
    from start to stop inclusive, rounded, duplicates dropped.

- After expansion each cell is validated and completed with its kind's
  defaults (every parameter's type and range, and an estimate of one
  instance's memory against the budget); cells that coincide (same canonical
  key) are kept once, at their first position.
- Everything is bounded before it is computed, so a hostile grid is refused
  in well under a second: an expression has at most :data:`MAX_EXPRESSION`
  characters and every intermediate value magnitude at most
  :data:`MAX_MAGNITUDE` (``2**64``); a grid expands to at most
  :data:`MAX_CELLS` cells (ranges, geoms and products are sized first); a grid
  file is at most :data:`MAX_FILE_BYTES`.
- Instead of an object, a plain list of blocks is accepted (seed 0).

Examples
--------
>>> g = Grid.from_spec({"seed": 3, "cells": [
...     {"kind": "protocol", "protocol": "one-hop-per-round", "q": 64, "k": [2, 3],
...      "R": {"range": [1, "k + 1"]}, "trials": 100}]})
>>> g.seed, [(c.params["k"], c.params["R"]) for c in g.cells]
(3, [(2, 1), (2, 2), (3, 1), (3, 2), (3, 3)])
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.validation import check_int

from .cells import CELL_KINDS, Cell, load_kind_modules, make_cell
from .errors import GridError

__all__ = ["Grid", "expand_block", "evaluate", "MAX_CELLS", "MAX_MAGNITUDE", "MAX_EXPRESSION", "MAX_FILE_BYTES"]

#: Most cells one grid may expand to (each is validated up front, ~0.1 ms, and takes ~1 kB in the driver).
MAX_CELLS = 50_000
#: Largest magnitude of any value an expression computes (integers beyond it are no size anyone sweeps).
MAX_MAGNITUDE = 2**64
#: Longest expression accepted (characters).
MAX_EXPRESSION = 200
#: Largest grid file read.
MAX_FILE_BYTES = 16 * 2**20

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def evaluate(expr: str, names: Mapping[str, Any]) -> int | float:
    """Evaluate an arithmetic grid expression over numeric ``names``.

    Only numbers, the given names, ``+ - * / // % **`` and parentheses are
    allowed; anything else raises :class:`GridError`.

    Examples
    --------
    >>> evaluate("2*k*q + 1", {"k": 3, "q": 8})
    49
    >>> evaluate("k - 1", {"k": 4})
    3
    """
    if len(expr) > MAX_EXPRESSION:
        raise GridError(f"expression {expr[:40]!r}... has {len(expr)} characters; at most {MAX_EXPRESSION}")
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise GridError(f"expression {expr!r} is not valid arithmetic") from None

    def bounded(v: int | float) -> int | float:
        if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
            raise GridError(f"expression {expr!r} reaches {_short(v)}; values must stay within 2**64 in magnitude")
        return v

    def power(a: int | float, b: int | float) -> int | float:
        # Size the result before computing it: nested powers would otherwise run for ever.
        if abs(b) > 64 or (abs(a) > 1 and b > 0 and b * math.log2(abs(a)) > 64):
            raise GridError(f"expression {expr!r}: {_short(a)} ** {_short(b)} exceeds 2**64")
        if a == 0 and b < 0:
            raise GridError(f"expression {expr!r} divides by zero")
        r = a**b
        if isinstance(r, complex):
            raise GridError(f"expression {expr!r}: {_short(a)} ** {_short(b)} is not a real number")
        return r

    def ev(node: ast.AST) -> int | float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return bounded(node.value)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise GridError(
                    f"expression {expr!r} uses {node.id!r}, which is not a parameter written before it "
                    f"(known: {', '.join(sorted(names)) or 'none'})"
                )
            v = names[node.id]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise GridError(f"expression {expr!r} uses {node.id!r} = {v!r}, which is not a number")
            return bounded(v)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = ev(node.left), ev(node.right)
            try:
                return bounded(power(a, b) if isinstance(node.op, ast.Pow) else _BINOPS[type(node.op)](a, b))
            except ZeroDivisionError:
                raise GridError(f"expression {expr!r} divides by zero") from None
            except OverflowError:
                raise GridError(f"expression {expr!r} overflows; values must stay within 2**64") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        raise GridError(f"expression {expr!r} contains {type(node).__name__}; only arithmetic is allowed")

    try:
        return ev(tree)
    except RecursionError:
        raise GridError(f"expression {expr!r} is nested too deeply") from None


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"


def _as_int(v: Any, what: str) -> int:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise GridError(f"{what} = {v!r} is not an integer")
    return v


def _real(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise GridError(f"{what} = {v!r} is not a finite number")
    return float(v)


def _scalar(value: Any, ptype: type | None, name: str, partial: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and ptype in (int, float):
        v = evaluate(value, partial)
        if ptype is int:
            if isinstance(v, float) and not v.is_integer():
                raise GridError(f"parameter {name!r}: expression {value!r} = {v!r} is not an integer")
            return int(v)
        return v
    return value


def _values(name: str, spec: Any, ptype: type | None, partial: Mapping[str, Any]) -> list[Any]:
    if isinstance(spec, list):
        return [_scalar(v, ptype, name, partial) for v in spec]
    if isinstance(spec, dict):
        if set(spec) == {"range"}:
            args = spec["range"]
            if not isinstance(args, list) or not 2 <= len(args) <= 3:
                raise GridError(f"parameter {name!r}: range needs [start, stop] or [start, stop, step]; got {args!r}")
            nums = [_as_int(_scalar(a, int, name, partial), f"{name} range bound") for a in args]
            if len(nums) == 3 and nums[2] == 0:
                raise GridError(f"parameter {name!r}: range step must not be 0")
            r = range(*nums)
            if len(r) > MAX_CELLS:
                raise GridError(f"parameter {name!r}: range {args!r} has {len(r)} values; a grid has at most "
                                f"{MAX_CELLS} cells")
            return list(r)
        if set(spec) == {"geom"}:
            args = spec["geom"]
            if not isinstance(args, list) or len(args) != 3:
                raise GridError(f"parameter {name!r}: geom needs [start, stop, num]; got {args!r}")
            start, stop = (_real(_scalar(a, float, name, partial), f"{name} geom bound") for a in args[:2])
            num = _as_int(_scalar(args[2], int, name, partial), f"{name} geom count")
            if start <= 0 or stop < start or num < 1:
                raise GridError(f"parameter {name!r}: geom needs 0 < start <= stop and num >= 1; got {args!r}")
            if num > MAX_CELLS or stop > MAX_MAGNITUDE:
                raise GridError(f"parameter {name!r}: geom {args!r} asks for {num} values up to {stop:g}; a grid "
                                f"has at most {MAX_CELLS} cells and values at most 2**64")
            if num == 1:
                pts = [start]
            else:
                ratio = (stop / start) ** (1 / (num - 1))
                if not math.isfinite(ratio):
                    raise GridError(f"parameter {name!r}: geom {args!r} spans too many orders of magnitude")
                pts = [start * ratio**i for i in range(num - 1)] + [stop]
            return list(dict.fromkeys(int(round(p)) for p in pts))  # drop duplicates in linear time
        raise GridError(
            f"parameter {name!r}: an object value must be {{'range': [...]}} or {{'geom': [...]}}; got {spec!r}"
        )
    return [_scalar(spec, ptype, name, partial)]


def expand_block(block: Mapping[str, Any]) -> Iterator[Cell]:
    """The cells of one grid block, in product order (parameters in the order written).

    Examples
    --------
    >>> [c.params["s"] for c in expand_block({"kind": "protocol", "protocol": "sampling", "q": 64,
    ...                                        "k": 3, "s": {"geom": [16, 64, 3]}})]
    [16, 32, 64]
    """
    if not isinstance(block, Mapping):
        raise GridError(f"a grid block must be an object; got {block!r}")
    if "kind" not in block:
        raise GridError(f"grid block {json.dumps(block)[:80]} has no 'kind'; kinds: {', '.join(sorted(CELL_KINDS))}")
    kind = block["kind"]
    if kind not in CELL_KINDS:
        load_kind_modules()
    if kind not in CELL_KINDS:
        raise GridError(f"unknown cell kind {kind!r}; registered kinds: {', '.join(sorted(CELL_KINDS))}")
    types = {p.name: p.type for p in CELL_KINDS[kind].params}
    partials: list[dict[str, Any]] = [{}]
    for name, spec in block.items():
        if name == "kind":
            continue
        grown: list[dict[str, Any]] = []
        for p in partials:
            values = _values(name, spec, types.get(name), p)
            if len(grown) + len(values) > MAX_CELLS:
                raise GridError(f"grid block of kind {kind!r} expands to more than {MAX_CELLS} cells "
                                f"(at parameter {name!r}); split the sweep")
            grown += [{**p, name: v} for v in values]
        partials = grown
    for p in partials:
        yield make_cell(kind, p)


@dataclass(frozen=True)
class Grid:
    """An expanded grid: cells (unique, in order), the root seed and the source spec."""

    cells: tuple[Cell, ...]
    seed: int = 0
    spec: Any = field(default=None, compare=False)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Grid:
        """Expand a grid given as a parsed JSON object (or a list of blocks)."""
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"cells", "seed", "description"})
            if unknown:
                raise GridError(
                    f"grid has unknown top-level key(s) {', '.join(unknown)}; allowed: cells, seed, description"
                )
            if "cells" not in spec:
                raise GridError("grid has no 'cells' list")
            blocks, seed = spec["cells"], spec.get("seed", 0)
        elif isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
            blocks, seed = spec, 0
        else:
            raise GridError(f"a grid must be a JSON object or a list of blocks; got {type(spec).__name__}")
        if not isinstance(blocks, Sequence) or isinstance(blocks, (str, bytes)):
            raise GridError(f"grid 'cells' must be a list of blocks; got {blocks!r}")
        check_int("grid seed", seed, low=0, error=GridError)
        cells: dict[str, Cell] = {}
        for block in blocks:
            for cell in expand_block(block):
                cells.setdefault(cell.key, cell)
                if len(cells) > MAX_CELLS:
                    raise GridError(f"grid expands to more than {MAX_CELLS} cells; split the sweep")
        if not cells:
            raise GridError("grid has no cells")
        return cls(tuple(cells.values()), seed, spec)

    @classmethod
    def load(cls, path: str | Path) -> Grid:
        """Read and expand a grid JSON file."""
        p = Path(path)
        try:
            with open(p, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise GridError(f"cannot read grid file {str(p)!r}: {exc.strerror or exc}") from None
        if len(data) > MAX_FILE_BYTES:
            raise GridError(f"grid file {str(p)!r} is over {MAX_FILE_BYTES // 2**20} MiB; no grid needs that much")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise GridError(f"grid file {str(p)!r} line {line}: invalid UTF-8 byte(s)") from None
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GridError(f"grid file {str(p)!r} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        except RecursionError:
            raise GridError(f"grid file {str(p)!r} nests JSON too deeply") from None
        return cls.from_spec(spec)

    @classmethod
    def of(cls, grid: Grid | Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | Path) -> Grid:
        """Accept a Grid, a spec or a path."""
        if isinstance(grid, Grid):
            return grid
        if isinstance(grid, (str, Path)):
            return cls.load(grid)
        return cls.from_spec(grid)

    def __len__(self) -> int:
        return len(self.cells)

    def to_spec(self) -> Any:
        """The spec to record (the source if known, else the explicit cells)."""
        if self.spec is not None:
            return self.spec
        return {"seed": self.seed, "cells": [{"kind": c.kind, **c.params} for c in self.cells]}

