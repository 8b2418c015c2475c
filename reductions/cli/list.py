"""List the model families, their compilers and message sizes (docs/definitions.md §5).

``python -m reductions list [--json]``: one row per family in
:data:`reductions.models.MODELS` — family, class, the compiler module from
:data:`reductions.compilers.registry.COMPILERS`, the message size s in words, the
family's extra ``verify`` options and the first line of its docstring.
JSON: a list of objects with keys family, class, compiler, bits, options, summary.
"""

from __future__ import annotations

import argparse

from protocols.cli_support import emit_json
from reductions.compilers.registry import COMPILERS
from reductions.models import MODELS

__all__ = ["add_arguments", "run", "rows"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def rows() -> list[dict]:
    """One record per registered model family.

    Examples
    --------
    >>> r = {row["family"]: row for row in rows()}
    >>> r["gru"]["bits"], r["gru"]["compiler"]
    ('m·p', 'reductions.compilers.rnn_to_protocol')
    """
    out = []
    for name, cls in MODELS.items():
        doc = (cls.__doc__ or "").strip().splitlines()
        out.append({
            "family": name, "class": cls.__name__, "compiler": COMPILERS.get(name),
            "bits": getattr(cls, "bits_text", "") or None,
            "options": ["--" + k.replace("_", "-") for k in getattr(cls, "cli_options", {})],
            "summary": doc[0] if doc else "",
        })
    return out


def run(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        emit_json(table)
        return 0
    wf = max(len(r["family"]) for r in table)
    wc = max(len(r["class"]) for r in table)
    wb = max(len(r["bits"] or "?") for r in table)
    print(f"{'family':<{wf}}  {'class':<{wc}}  {'s':<{wb}}  compiler / options / summary")
    for r in table:
        extra = f" [{' '.join(r['options'])}]" if r["options"] else ""
        print(f"{r['family']:<{wf}}  {r['class']:<{wc}}  {r['bits'] or '?':<{wb}}  "
              f"{r['compiler'] or '(no compiler)'}{extra} — {r['summary']}")
    return 0
