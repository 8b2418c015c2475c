"""Every document reference in code, CLI help and docs names a file and section that exist.

The accepted forms are defined in tests/docrefs.py (``docs/definitions.md §5``,
``docs/definitions.md §1–2``, ``docs/definitions.md §2, §4``, ``docs/figures.md §model_budgets``).
The generated ``summary.md`` is checked in tests/test_figures.py, on the run that test
already makes.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest
from docrefs import ROOT, broken, headings, references

SOURCES = sorted(
    p for d in ("protocols", "reductions", "lowerbounds", "examples", "tests") for p in (ROOT / d).rglob("*.py")
) + [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*.md"))]


def test_the_checker_accepts_the_forms_and_rejects_missing_files_and_sections():
    assert references("see docs/definitions.md §2, §4 and docs/definitions.md §1–2.") == [
        ("docs/definitions.md", ("2", "4")), ("docs/definitions.md", ("1", "2"))]
    assert references("(docs/figures.md §tradeoff_map, §model_budgets)") == [
        ("docs/figures.md", ("tradeoff_map", "model_budgets"))]
    assert references("docs/definitions.md §2.1 and [`docs/README.md`](docs/README.md)") == [
        ("docs/definitions.md", ("2.1",)), ("docs/README.md", ()), ("docs/README.md", ())]
    assert broken("docs/definitions.md §5", "x") == []
    assert broken("docs/definitions.md §11", "x") == ["x: docs/definitions.md has no section §11"]
    assert broken("docs/definitions.md §4–12", "x") == [f"x: docs/definitions.md has no section §{i}" for i in (11, 12)]
    assert broken("docs/figures.md §no_such_figure", "x") == ["x: docs/figures.md has no section §no_such_figure"]
    assert broken("docs/nowhere.md §1", "x") == ["x: docs/nowhere.md does not exist"]


def test_the_documents_have_their_sections():
    assert {str(i) for i in range(1, 11)} | {"1.1", "2.1"} <= headings(ROOT / "docs/definitions.md")
    from lowerbounds.figures import RECIPES

    assert {r.NAME for r in RECIPES} <= headings(ROOT / "docs/figures.md")


def test_every_reference_in_code_and_docs_exists():
    bad = [line for path in SOURCES if path.name != "docrefs.py" and path.name != Path(__file__).name
           for line in broken(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert bad == []
    assert sum(len(references(p.read_text(encoding="utf-8"))) for p in SOURCES) > 100


@pytest.mark.parametrize("package", ["protocols", "reductions", "lowerbounds"])
def test_every_reference_in_cli_help_exists(package):
    commands = importlib.import_module(f"{package}.__main__").COMMANDS
    texts = []
    for name, module in commands.items():
        mod = importlib.import_module(f"{package}.cli.{module}")
        parser = argparse.ArgumentParser(prog=f"python -m {package} {name}", description=mod.__doc__)
        mod.add_arguments(parser)
        texts.append((name, parser.format_help()))
    assert [line for name, text in texts for line in broken(text, f"python -m {package} {name} --help")] == []


def test_license_and_citation_match_the_package():
    import tomllib

    yaml = pytest.importorskip("yaml")  # installed with the dist extra (dask)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert project["license"]["text"] == "MIT" and license_text.startswith("MIT License")
    assert "Copyright (c) 2026 the kparty authors" in license_text
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    # the keys CFF 1.2.0 requires, for the file and for every reference
    assert cff["cff-version"] == "1.2.0" and {"message", "title", "authors"} <= set(cff)
    assert cff["version"] == project["version"] and cff["license"] == "MIT"
    assert all({"type", "title", "authors"} <= set(ref) for ref in cff["references"])
    cited = {ref["title"] for ref in cff["references"]}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "CITATION.cff" in readme and all(title in readme for title in cited)
