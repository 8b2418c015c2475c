"""The house rules of the three packages, checked on the source itself.

- imports (module level *and* inside functions, so a lazy import that dodges a cycle is still
  seen) form no cycle and never point upward: ``protocols`` imports neither ``reductions`` nor
  ``lowerbounds``; ``reductions`` does not import ``lowerbounds``;
- every exception class of :mod:`reductions` derives from ``ReductionsError``;
- ``reductions/`` keeps only its entry points and the harness at its root; the rest lives in rooms;
- one integer validator: sizes that are bools are refused by every model family.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocols", "reductions", "lowerbounds")  # bottom to top


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the three packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[tuple[str, int]]:
    """``(module, line)`` for every import of a project module in ``path``, wherever it stands.

    ``from a.b import c`` counts as an import of ``a.b.c`` when that is a module, else of ``a.b``;
    ``importlib.import_module("x.y")`` with a literal name counts too (the compiler registry).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {(a.name, node.lineno) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            found |= {(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base, node.lineno) for a in node.names}
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add((node.args[0].value, node.lineno))
    return {(m, line) for m, line in found if m in known}


def import_graph() -> dict[str, set[tuple[str, int]]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w, _ in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or any(w == v for w, _ in graph[v]):
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "protocols"
    pkg.mkdir()
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from protocols.a import y\n    import reductions.c\n")
    known = {"protocols.a", "protocols.b", "reductions.c"}
    graph = {m: imports_of(m, pkg / f"{m.split('.')[1]}.py", known) for m in ("protocols.a", "protocols.b")}
    graph["reductions.c"] = set()
    assert graph["protocols.b"] == {("protocols.a", 2), ("reductions.c", 3)}
    assert cycles(graph) == [["protocols.a", "protocols.b"]]


def test_no_import_cycles_anywhere():
    graph = import_graph()
    found = cycles(graph)
    detail = [f"{m} -> {t} (line {line})" for comp in found for m in comp for t, line in graph[m] if t in comp]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_no_upward_imports():
    rank = {p: i for i, p in enumerate(PACKAGES)}
    upward = [f"{m} -> {t} (line {line})" for m, edges in import_graph().items() for t, line in edges
              if rank[t.split(".")[0]] > rank[m.split(".")[0]]]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_every_reductions_exception_derives_from_reductions_error():
    import reductions
    from reductions.errors import ReductionsError

    classes = []
    for info in pkgutil.walk_packages(reductions.__path__, "reductions."):
        module = importlib.import_module(info.name)
        classes += [c for c in vars(module).values()
                    if inspect.isclass(c) and issubclass(c, BaseException) and c.__module__ == info.name]
    assert len(classes) >= 14
    assert [c for c in classes if not issubclass(c, ReductionsError)] == []
    assert issubclass(ReductionsError, ValueError)


def test_reductions_root_holds_only_entry_points_and_the_harness():
    root = ROOT / "reductions"
    modules = sorted(p.name for p in root.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "errors.py", "verify.py"]
    rooms = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert rooms == ["arithmetic", "cli", "compilers", "constructions", "khop", "models", "training"]


def test_no_compiler_imports_a_sibling_compiler():
    graph = import_graph()
    compilers = {m for m in graph if m.startswith("reductions.compilers.") and m.endswith("_to_protocol")}
    assert len(compilers) >= 5
    assert [(m, t) for m in compilers for t, _ in graph[m] if t in compilers] == []


@pytest.mark.parametrize("size", ["layers", "width", "vocab"])
@pytest.mark.parametrize("family", ["gru", "lstm", "elman", "fsm", "ssm", "kernel", "sparse", "transformer"])
def test_bool_sizes_are_refused_by_every_family(family, size):
    from reductions.models import MODELS, ModelError

    kwargs = dict(vocab=3, layers=1, width=2, seed=0)
    kwargs[size] = True
    with pytest.raises(ModelError, match=f"{size} = True; {size} must be an integer, not a bool"):
        MODELS[family].random(**kwargs)


def test_gru_with_layers_true_is_refused_like_kernelformer():
    from reductions.models import GRU, KernelFormer, ModelError

    for cls in (GRU, KernelFormer):
        with pytest.raises(ModelError, match="layers = True"):
            cls.random(vocab=3, layers=True, width=2, seed=0)
    assert GRU.random(vocab=3, layers=2, width=2, seed=0).layers == 2


def test_fixed_point_formats_refuse_bools_and_out_of_range_widths():
    from reductions.arithmetic.fixed_point import FixedPoint, FixedPointError

    with pytest.raises(FixedPointError, match="p = True; p must be an integer, not a bool"):
        FixedPoint(True, 0)
    with pytest.raises(FixedPointError, match=r"f = 8; f must be an integer in \[0, 7\]"):
        FixedPoint(8, 8)
