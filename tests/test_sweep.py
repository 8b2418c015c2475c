"""Sweeps (lowerbounds.sweep, cells, grid, executors): known answers, executor independence, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from hashlib import sha256
from pathlib import Path

import pytest
from process_watch import kill_session, wait_until_gone

from lowerbounds.cells import CELL_KINDS, Param, make_cell, register_cell_kind
from lowerbounds.errors import CellError, ExecutorError, GridError, ResultsError
from lowerbounds.executors import SerialExecutor, open_executor
from lowerbounds.grid import Grid, evaluate
from lowerbounds.results import canonical_table, read_results
from lowerbounds.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent

SMALL_GRID = {
    "seed": 5,
    "cells": [
        {"kind": "protocol", "protocol": ["one-hop-per-round", "guess", "sampling"], "q": 64, "k": [2, 3],
         "trials": 300},
        {"kind": "protocol", "protocol": "sampling", "q": 128, "k": 3, "R": "k - 1", "s": [16, 48], "trials": 300},
        {"kind": "threshold", "protocol": "sampling", "q": 128, "k": 3, "R": "k - 1", "resolution": 1.25,
         "max_trials": 512},
    ],
}


# -- known answers ------------------------------------------------------------------
@pytest.mark.parametrize("q, k", [(16, 1), (64, 3), (1024, 4), (1000, 8)])
def test_one_hop_at_R_equal_k_measures_exactly_one(q, k):
    row = make_cell("protocol", {"protocol": "one-hop-per-round", "q": q, "k": k, "R": k, "trials": 500}).run(seed=3)
    assert row["successes"] == row["trials"] == 500 and row["success"] == 1.0 and row["ci_high"] == 1.0


def test_guess_intervals_cover_one_half():
    """Calibration: over 200 seeds the 95% Clopper–Pearson interval contains 1/2 at least 90% of the time."""
    cell = make_cell("protocol", {"protocol": "guess", "q": 16, "k": 2, "trials": 200})
    rows = [cell.run(seed=s) for s in range(200)]
    covered = sum(r["ci_low"] <= 0.5 <= r["ci_high"] for r in rows)
    assert covered >= 180, covered
    rates = [r["success"] for r in rows]
    assert len(set(rates)) > 10 and abs(sum(rates) / len(rates) - 0.5) < 0.01  # seeds really differ


# -- reproducibility --------------------------------------------------------------------
def test_same_table_from_serial_process_pool_and_dask(tmp_path):
    tables = []
    for name, opts in (("serial", dict(workers=1)), ("pool", dict(workers=2)),
                       ("dask", dict(dask_local=2, dask_processes=False))):
        out = tmp_path / f"{name}.csv"
        with open_executor(**opts) as ex:
            res = sweep(SMALL_GRID, out=out, executor=ex)
        assert res.ran == len(res.rows) == 9 and res.skipped == 0
        assert res.executor["executor"] == name.replace("pool", "process") and res.executor["workers"] == (
            1 if name == "serial" else 2)
        tables.append(canonical_table(out))
    assert tables[0] == tables[1] == tables[2]
    assert tables[0].count("\n") == 11  # identity line, header, 9 rows
    from distributed.client import _get_global_client

    assert _get_global_client() is None  # the Dask client and cluster were closed


def _threads_setting(_: int) -> str | None:
    return os.environ.get("KPARTY_THREADS")


def test_pool_workers_run_hop_on_one_thread_unless_the_driver_says_otherwise(monkeypatch):
    """N workers on N cores: each worker's hop stays on one thread; an explicit setting is passed on."""
    monkeypatch.delenv("KPARTY_THREADS", raising=False)
    for opts in (dict(workers=2), dict(dask_local=2)):
        with open_executor(**opts) as ex:
            assert set(ex.map(_threads_setting, range(4))) == {"1"}, opts
    monkeypatch.setenv("KPARTY_THREADS", "3")
    with open_executor(workers=2) as ex:
        assert set(ex.map(_threads_setting, range(4))) == {"3"}
    monkeypatch.setenv("KPARTY_THREADS", "many")
    with pytest.raises(ValueError, match="KPARTY_THREADS='many'"), open_executor(workers=2):
        pass


def test_figures_cli_refuses_a_bad_threads_setting_in_one_line(tmp_path):
    env = {**os.environ, "KPARTY_THREADS": "0"}
    proc = subprocess.run([sys.executable, "-m", "lowerbounds", "figures", "--quick", "--out", str(tmp_path / "f")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "KPARTY_THREADS='0'" in proc.stderr
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())


def test_cell_results_do_not_depend_on_the_rest_of_the_grid():
    one = {"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "trials": 400}
    alone = sweep({"seed": 9, "cells": [one]}, executor=SerialExecutor()).rows[0]
    crowd = sweep({"seed": 9, "cells": [{**one, "trials": [100, 200]}, one]}, executor=SerialExecutor()).rows
    assert crowd[-1] == alone
    other_seed = sweep({"seed": 10, "cells": [one]}, executor=SerialExecutor()).rows[0]
    assert other_seed["successes"] != alone["successes"] and other_seed["key"] == alone["key"]


def test_seed_argument_overrides_grid_seed():
    g = {"seed": 1, "cells": [{"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "trials": 400}]}
    a = sweep(g, executor=SerialExecutor(), seed=2).rows
    b = sweep({**g, "seed": 2}, executor=SerialExecutor()).rows
    assert a == b


def test_resume_in_process_matches_an_uninterrupted_run(tmp_path):
    full = tmp_path / "full.csv"
    sweep(SMALL_GRID, out=full, executor=SerialExecutor())
    part = tmp_path / "part.csv"
    r1 = sweep(SMALL_GRID, out=part, executor=SerialExecutor())
    lines = part.read_bytes().splitlines(keepends=True)
    part.write_bytes(b"".join(lines[:8]))  # as if killed after six rows
    with pytest.raises(ResultsError, match="already exists"):
        sweep(SMALL_GRID, out=part, executor=SerialExecutor())
    first = {**SMALL_GRID, "cells": SMALL_GRID["cells"][:1]}
    with pytest.raises(ResultsError, match="written for another grid"):
        sweep(first, out=part, executor=SerialExecutor(), resume=True)
    r2 = sweep(SMALL_GRID, out=part, executor=SerialExecutor(), resume=True)
    assert (r1.ran, r2.skipped, r2.ran) == (9, 6, 3)
    assert canonical_table(part) == canonical_table(full)
    r3 = sweep(SMALL_GRID, out=part, executor=SerialExecutor(), resume=True)
    assert r3.ran == 0 and r3.rows == r2.rows  # resumed rows read back identical to fresh ones
    meta = json.loads((tmp_path / "part.csv.json").read_text())
    assert [run["ran"] for run in meta["runs"]] == [9, 3, 0] and meta["seed"] == 5


KILL_GRID = {
    "seed": 3,
    "cells": [{"kind": "protocol", "protocol": "sampling", "q": 256, "k": 4, "R": 3,
               "s": {"range": [20, 220, 20]}, "trials": 1200}],  # ten cells of ~0.2 s
}


def _rows_in(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 2)
    except FileNotFoundError:
        return 0


def _kill_midway(cmd: list[str], out: Path, sig: int, rows: int = 3) -> subprocess.Popen:
    """Start ``cmd`` in a new session, send ``sig`` to the driver once ``rows`` rows are saved."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _rows_in(out) < rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    return proc


@pytest.mark.parametrize("sig, executor", [(signal.SIGKILL, ["--workers", "2"]), (signal.SIGTERM, ["--workers", "2"]),
                                           (signal.SIGKILL, ["--dask-local", "2"])],
                         ids=["sigkill-pool", "sigterm-pool", "sigkill-dask"])
def test_kill_midway_then_resume_at_once_gives_every_cell_once(tmp_path, sig, executor):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(KILL_GRID))
    out = tmp_path / "killed.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "lowerbounds", "sweep", "--grid", str(grid), "--out", str(out), *executor]
    proc = _kill_midway(cmd, out, sig)
    try:
        survivors = wait_until_gone(proc.pid, timeout=5.0)  # the lifelines poll every 0.5 s
        assert survivors == [], f"processes of the killed run survive it: {survivors}"
    finally:
        kill_session(proc.pid)
        stderr = proc.stderr.read()
        proc.stderr.close()
    if sig == signal.SIGTERM:  # handled: the driver shut its pool down and said how to go on
        assert proc.returncode == 143, stderr
        assert stderr.strip().splitlines()[-1].startswith("terminated: finished cells are saved")
    else:
        assert proc.returncode == -signal.SIGKILL
    done_before = _rows_in(out)
    assert 3 <= done_before < 10, done_before  # killed midway

    res = subprocess.run(cmd + ["--resume", "--json", "--no-progress"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)  # at once, no manual clean-up
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["skipped"] == done_before and summary["ran"] + summary["skipped"] == 10

    keys = [r["key"] for r in read_results(out)]
    assert len(keys) == len(set(keys)) == 10  # every cell exactly once
    ref = tmp_path / "ref.csv"
    sweep(KILL_GRID, out=ref, executor=SerialExecutor())
    assert canonical_table(out) == canonical_table(ref)


# -- extension: a new cell kind -----------------------------------------------------------
def toy_model_cell(params, seed):
    """A stand-in for a compiled-model cell: message size of a width-m RNN at p bits, plus a coin."""
    import numpy as np

    coin = int(np.random.default_rng(seed).integers(0, 2**31))
    return {"name": f"rnn-{params['m']}", "q": params["q"], "k": params["k"], "N": 2 * params["k"] * params["q"] + 1,
            "R": params["L"], "s": params["m"] * params["p"], "extra": {"coin": coin}}


@pytest.fixture
def toy_kind():
    register_cell_kind("toy-model", toy_model_cell,
                       [Param("q", int), Param("k", int), Param("m", int), Param("p", int, 8), Param("L", int, 1)])
    yield
    del CELL_KINDS["toy-model"]


def test_a_registered_kind_runs_on_a_process_pool(toy_kind, tmp_path):
    grid = {"cells": [{"kind": "toy-model", "q": 64, "k": 3, "m": [4, 8], "L": "k - 1"}]}
    serial = sweep(grid, executor=SerialExecutor()).rows
    with open_executor(workers=2) as ex:
        pooled = sweep(grid, executor=ex, out=tmp_path / "m.csv").rows
    assert serial == pooled
    assert [(r["N"], r["R"], r["s"]) for r in serial] == [(385, 2, 32), (385, 2, 64)]


def failing_cell(params, seed):
    if params["x"] == 2:
        raise RuntimeError("boom")
    return {"name": "ok", "q": params["x"]}


def test_a_failing_cell_names_itself_and_keeps_finished_rows(tmp_path):
    register_cell_kind("toy-fail", failing_cell, [Param("x", int)])
    grid = {"cells": [{"kind": "toy-fail", "x": [0, 1, 2, 3, 4, 5]}]}
    try:
        out = tmp_path / "f.csv"
        with pytest.raises(CellError, match=r'cell \{"kind":"toy-fail","x":2\} failed: RuntimeError: boom'):
            sweep(grid, out=out, executor=SerialExecutor())
        # cells run in a fixed order unrelated to the grid's: every row before the failure was kept
        cells = sorted(Grid.from_spec(grid).cells, key=lambda c: sha256(c.key.encode()).digest())
        order = [c.params["x"] for c in cells]
        assert [r["q"] for r in read_results(out)] == order[: order.index(2)]
        meta = json.loads((tmp_path / "f.csv.json").read_text())
        assert meta["runs"][-1]["completed"] is False
    finally:
        del CELL_KINDS["toy-fail"]


# -- grids -------------------------------------------------------------------------------
def test_grid_expansion_forms():
    g = Grid.from_spec([
        {"kind": "protocol", "protocol": "sampling", "q": 256, "k": [3, 4], "R": "k - 1",
         "s": {"geom": [16, 256, 5]}, "trials": "10 * k"},
        {"kind": "protocol", "protocol": "sampling", "q": 256, "k": 3, "R": 2, "s": 16, "trials": 30},  # duplicate
    ])
    assert len(g) == 10 and g.seed == 0
    assert [(c.params["k"], c.params["R"], c.params["s"], c.params["trials"]) for c in g.cells[:5]] == [
        (3, 2, 16, 30), (3, 2, 32, 30), (3, 2, 64, 30), (3, 2, 128, 30), (3, 2, 256, 30)]
    assert Grid.load(ROOT / "examples" / "grid_sampling.json").cells  # the shipped example is valid


@pytest.mark.parametrize(
    "block, needle",
    [
        ({"kind": "nope"}, "unknown cell kind 'nope'"),
        ({"protocol": "guess"}, "has no 'kind'"),
        ({"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "colour": 1}, "unknown parameter"),
        ({"kind": "protocol", "protocol": "guess", "q": 16}, "missing required parameter 'k'"),
        ({"kind": "protocol", "protocol": "nope", "q": 16, "k": 2}, "unknown protocol 'nope'"),
        ({"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "trials": 0}, "trials = 0"),
        ({"kind": "protocol", "protocol": "guess", "q": 1, "k": 2}, "q = 1"),
        ({"kind": "protocol", "protocol": "one-hop-per-round", "q": 16, "k": 2, "s": 2}, "needs s >= "),
        ({"kind": "protocol", "protocol": "guess", "R": "k", "q": 16, "k": 2}, "not a parameter written before"),
        ({"kind": "protocol", "protocol": "guess", "q": 16, "k": "__import__('os')"}, "only arithmetic"),
        ({"kind": "protocol", "protocol": "guess", "q": 16.5, "k": 2}, "must be an integer"),
        ({"kind": "protocol", "protocol": "guess", "q": "17 / 2", "k": 2}, "not an integer"),
        ({"kind": "protocol", "protocol": "guess", "q": 16, "k": {"range": [1, 3, 0]}}, "step must not be 0"),
        ({"kind": "protocol", "protocol": "guess", "q": 16, "k": {"lin": [1, 3]}}, "range"),
        ({"kind": "threshold", "protocol": "guess", "q": 16, "k": 2, "R": 0}, "R = 0"),
        ({"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "version": "maybe"}, "must be one of"),
    ],
)
def test_bad_grids_fail_before_anything_runs(block, needle):
    with pytest.raises(GridError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        Grid.from_spec({"cells": [block]})


def test_bad_grid_files_and_top_level(tmp_path):
    with pytest.raises(GridError, match="cannot read grid file"):
        Grid.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(GridError, match="not valid JSON"):
        Grid.load(tmp_path / "bad.json")
    with pytest.raises(GridError, match="unknown top-level key"):
        Grid.from_spec({"cells": [], "colour": 1})
    with pytest.raises(GridError, match="seed = -1"):
        Grid.from_spec({"cells": [{"kind": "protocol", "protocol": "guess", "q": 16, "k": 2}], "seed": -1})
    with pytest.raises(GridError, match="no cells"):
        Grid.from_spec({"cells": []})
    assert evaluate("2 ** 3 + 7 // 2 - (1 % 1)", {}) == 11


def test_executor_options_conflict():
    with pytest.raises(ExecutorError, match="choose one executor"):
        with open_executor(workers=2, dask_local=2):
            pass
    with pytest.raises(ExecutorError, match="workers = 0"):
        with open_executor(workers=0):
            pass
