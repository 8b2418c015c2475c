"""The README's tour runs as written: its Python snippets are extracted from README.md and executed.

So the README cannot rot: change an API and this fails until the README follows.
The CLI lines and the Dask section are checked against the real command tables and options.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TOUR = "## A tour of the three packages"


def section(title: str) -> str:
    """The README text from the heading ``title`` to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(title + "\n")
    end = text.find("\n## ", start + len(title))
    return text[start : end if end >= 0 else len(text)]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def subsections() -> dict[str, str]:
    """``### name: ...`` heading -> its text, inside the tour."""
    parts = re.split(r"^### ", section(TOUR), flags=re.MULTILINE)[1:]
    return {p.split(":", 1)[0]: p for p in parts}


def test_tour_has_one_runnable_snippet_per_package():
    subs = subsections()
    assert list(subs) == ["protocols", "reductions", "lowerbounds"]
    for name, text in subs.items():
        blocks = python_blocks(text)
        assert len(blocks) == 1, f"the {name} subsection needs exactly one python snippet"
        assert len(blocks[0].strip().splitlines()) <= 20, f"the {name} snippet is no longer a short example"


def _exec(code: str, capsys) -> str:
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})  # noqa: S102 - the point of the test
    return capsys.readouterr().out


def test_protocols_snippet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _exec(python_blocks(subsections()["protocols"])[0], capsys)
    m = re.search(r"^sampling\(k=4, R=3, s=64\): success (0\.\d+), 95% CI \[(0\.\d+), (0\.\d+)\]$", out, re.MULTILINE)
    assert m and float(m[2]) <= float(m[1]) <= float(m[3])
    assert float(m[1]) > 2 / 3  # at s = 64 the sampling protocol beats the target with R = k - 1
    assert re.search(r"^round 0 speaker 3 \[ *\d+ bits\] [01]+$", out, re.MULTILINE)
    assert re.search(r"^output: [01]$", out, re.MULTILINE)


def test_reductions_snippet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _exec(python_blocks(subsections()["reductions"])[0], capsys)
    assert "gru-protocol(k=3, R=2, s=128)" in out  # the comment's "R = L = 2, s = m·p = 128" is true


def test_lowerbounds_snippet_writes_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = python_blocks(subsections()["lowerbounds"])[0]
    _exec(code, capsys)
    first = (tmp_path / "sampling.csv").read_text()
    assert len(first.splitlines()) == 2 + 6  # identity line, header and the six values of s
    _exec(code, capsys)  # "a rerun reuses finished cells": nothing is appended
    assert (tmp_path / "sampling.csv").read_text() == first
    assert (tmp_path / "sampling.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("package", ["protocols", "reductions", "lowerbounds"])
def test_cli_lines_name_exactly_the_real_commands(package):
    text = subsections()[package]
    m = re.search(rf"CLI: `python -m {package} ([a-z-]+(?: \| [a-z-]+)*)`", text)
    assert m, f"the {package} subsection needs a CLI line"
    listed = m[1].split(" | ")
    commands = importlib.import_module(f"{package}.__main__").COMMANDS
    assert sorted(listed) == sorted(commands)


def _options(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    importlib.import_module(module).add_arguments(parser)
    return {opt for action in parser._actions for opt in action.option_strings}


def test_dask_section_uses_real_options():
    text = section("## Running on a Dask cluster")
    assert "dask scheduler" in text and "dask worker tcp://" in text
    for command, module in (("figures", "lowerbounds.cli.figures"), ("sweep", "lowerbounds.cli.sweep")):
        lines = [ln for ln in text.splitlines() if ln.startswith(f"python -m lowerbounds {command} ")]
        assert lines, f"the Dask section shows no `{command}` command"
        used = set(re.findall(r"(?<!\S)(--[a-z-]+)", " ".join(lines)))
        assert "--scheduler" in used and used <= _options(module), used - _options(module)
    assert "--dask-local" in text and {"--dask-local", "--resume"} <= _options("lowerbounds.cli.sweep")
    assert "--dask-local" in _options("lowerbounds.cli.figures")
