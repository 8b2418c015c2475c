"""Progress of long lowerbounds commands (issue 12): lines when stderr is not a terminal, an honest estimate."""

from __future__ import annotations

import contextlib
import functools
import importlib
import time

import pytest

from lowerbounds.cells import CELL_KINDS, Param, register_cell_kind
from lowerbounds.executors import SerialExecutor
from protocols import progress as progress_module

sweep_module = importlib.import_module("lowerbounds.sweep")  # the package's `sweep` is the function
GRID = {"cells": [{"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "trials": [10, 20, 30, 40]}]}


def test_lines_on_a_pipe_and_silence_with_no_progress(monkeypatch, capsys):
    monkeypatch.setattr(sweep_module, "progress_report", functools.partial(progress_module.progress, interval=0.0))
    sweep_module.sweep(GRID, executor=SerialExecutor(), progress=None, desc="demo")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"demo: {n}/4 cell" for n in (1, 2, 3, 4, 4)]
    assert all(", elapsed " in line and ", eta " in line for line in lines)
    sweep_module.sweep(GRID, executor=SerialExecutor(), progress=False)
    assert capsys.readouterr().err == ""


def test_a_resumed_sweep_counts_from_the_finished_cells(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.csv"
    sweep_module.sweep(GRID, out=out, executor=SerialExecutor(), progress=False)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:4]))  # two of four rows left
    monkeypatch.setattr(sweep_module, "progress_report", functools.partial(progress_module.progress, interval=0.0))
    sweep_module.sweep(GRID, out=out, executor=SerialExecutor(), resume=True, desc="again")
    assert [line.split(",")[0] for line in capsys.readouterr().err.splitlines()] == [
        "again: 3/4 cell", "again: 4/4 cell", "again: 4/4 cell"]


def slow_cell(params, seed):
    time.sleep(params["seconds"])
    return {"name": "slow", "q": params["i"]}


@pytest.fixture
def slow_kind():
    register_cell_kind("toy-slow", slow_cell, [Param("i", int), Param("seconds", float)])
    yield
    del CELL_KINDS["toy-slow"]


def test_the_estimate_is_not_wildly_off_when_the_costly_cells_come_last(slow_kind, monkeypatch):
    """The grid lists 12 instant cells, then 12 that take 0.1 s: in grid order the estimate at half-way
    would be ~0 s with 1.2 s to go.  Cells run in an order unrelated to cost, so it is close."""
    grid = {"cells": [{"kind": "toy-slow", "i": list(range(12)), "seconds": 0.0},
                      {"kind": "toy-slow", "i": list(range(12, 24)), "seconds": 0.1}]}
    seen: list[tuple[float, float | None]] = []  # (time, eta) after each cell

    class Recorder(progress_module.Progress):
        def update(self, n: int = 1) -> None:
            super().update(n)
            seen.append((time.monotonic(), self.eta()))

    def recording(total, desc, enabled=None, **kw):
        return contextlib.closing(Recorder(total, desc, "off", **{k: kw[k] for k in ("initial", "unit")}))

    monkeypatch.setattr(sweep_module, "progress_report", recording)
    sweep_module.sweep(grid, executor=SerialExecutor())
    end = seen[-1][0]
    t_half, eta_half = seen[11]
    actual = end - t_half
    assert actual > 0.5 and eta_half is not None
    assert actual / 3 <= eta_half <= actual * 3, (eta_half, actual)
