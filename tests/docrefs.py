"""Find document references in text and check that each names a file and section that exist.

Accepted forms (anything else that starts with ``docs/`` is checked as a bare file):

- ``docs/<file>.md`` — the file must exist;
- ``docs/<file>.md §<id>`` — ``<id>`` is a section number (``5``, ``2.1``) or a figure stem
  (``tradeoff_map``); the file must have a heading ``## <id>.``/``### <id> `` (numbers) or
  ``## <id>`` (stems);
- ``docs/<file>.md §<a>–<b>`` (en dash or hyphen) — every section a..b (numbers) exists;
- continuations ``, §<id>`` / ``, §<a>–<b>`` right after a reference name more sections of the
  same file (``docs/definitions.md §2, §4``; ``docs/figures.md §tradeoff_map, §model_budgets``).

Used by tests/test_doc_references.py (code, CLI help) and tests/test_figures.py (summary.md).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_ID = r"[0-9]+(?:\.[0-9]+)?|[a-z][a-z0-9_]*"
_SECTION = rf"§\s*(?P<a>{_ID})(?:\s*[–-]\s*(?P<b>[0-9]+))?"
_MORE = rf"\s*,\s*§\s*(?:{_ID})(?:\s*[–-]\s*[0-9]+)?"
REFERENCE = re.compile(rf"(?P<file>docs/[A-Za-z0-9_./-]+?\.md)(?P<sections>\s+{_SECTION}(?:{_MORE})*)?")
ONE_SECTION = re.compile(_SECTION)


@cache
def headings(path: Path) -> frozenset[str]:
    """Section ids of a Markdown file: ``## 5. Title`` -> 5, ``### 2.1 Title`` -> 2.1, ``## stem`` -> stem."""
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#{2,4}\s+(?:([0-9]+(?:\.[0-9]+)?)\.?\s|([a-z][a-z0-9_]*)\s*$)", line)
        if m:
            ids.add(m.group(1) or m.group(2))
    return frozenset(ids)


def references(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every reference in ``text`` as ``(file, section ids)`` (ranges expanded)."""
    out = []
    for m in REFERENCE.finditer(text):
        ids: list[str] = []
        for s in ONE_SECTION.finditer(m.group("sections") or ""):
            a, b = s.group("a"), s.group("b")
            ids += [str(i) for i in range(int(a), int(b) + 1)] if b else [a]
        out.append((m.group("file"), tuple(ids)))
    return out


def broken(text: str, where: str) -> list[str]:
    """One line per reference in ``text`` whose file or section does not exist."""
    bad = []
    for file, ids in references(text):
        path = ROOT / file
        if not path.is_file():
            bad.append(f"{where}: {file} does not exist")
            continue
        bad += [f"{where}: {file} has no section §{i}" for i in ids if i not in headings(path)]
    return bad
